// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include "common.h"

bool qlb_json;
bool qlb_pretty;
int qlb_verbose;

static void json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void qlb_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (qlb_json) {
		fputs("{\"error\":", stdout);
		json_escape(stdout, msg);
		fputs("}\n", stdout);
		fflush(stdout);
	} else {
		fprintf(stderr, "qlbctl: %s\n", msg);
	}
}

void qlb_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("qlbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void qlb_vlog(FILE *f, const char *datefmt, const char *tag, const char *fmt,
	      va_list ap)
{
	struct timespec t;
	struct tm tm;
	char ts[32];

	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	strftime(ts, sizeof(ts), datefmt, &tm);
	fprintf(f, "%s.%03ld%s", ts, t.tv_nsec / 1000000, tag);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
}

int qlb_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int qlb_parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n % 2 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = qlb_hexval(s[2 * i]), lo = qlb_hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

char *qlb_hex(const uint8_t *b, size_t len, char *buf)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		buf[2 * i] = d[b[i] >> 4];
		buf[2 * i + 1] = d[b[i] & 15];
	}
	buf[2 * len] = '\0';
	return buf;
}

void jw_init(struct qlb_json_w *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->first[0] = true;
	w->pretty = qlb_pretty;
}

static void jw_sep(struct qlb_json_w *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	w->first[w->depth] = false;
	if (w->pretty && w->depth > 0)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	if (key) {
		json_escape(w->f, key);
		fputs(w->pretty ? ": " : ":", w->f);
	}
}

static void jw_open(struct qlb_json_w *w, const char *key, char c)
{
	jw_sep(w, key);
	fputc(c, w->f);
	if (w->depth < 15)
		w->depth++;
	w->first[w->depth] = true;
}

static void jw_close(struct qlb_json_w *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth > 0)
		w->depth--;
	if (w->pretty && !empty)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	fputc(c, w->f);
}

void jw_obj_open(struct qlb_json_w *w, const char *key)
{
	jw_open(w, key, '{');
}
void jw_obj_close(struct qlb_json_w *w)
{
	jw_close(w, '}');
}
void jw_arr_open(struct qlb_json_w *w, const char *key)
{
	jw_open(w, key, '[');
}
void jw_arr_close(struct qlb_json_w *w)
{
	jw_close(w, ']');
}

void jw_str(struct qlb_json_w *w, const char *key, const char *val)
{
	jw_sep(w, key);
	if (val)
		json_escape(w->f, val);
	else
		fputs("null", w->f);
}

void jw_int(struct qlb_json_w *w, const char *key, long long val)
{
	jw_sep(w, key);
	fprintf(w->f, "%lld", val);
}

void jw_uint(struct qlb_json_w *w, const char *key, unsigned long long val)
{
	jw_sep(w, key);
	fprintf(w->f, "%llu", val);
}

void jw_bool(struct qlb_json_w *w, const char *key, bool val)
{
	jw_sep(w, key);
	fputs(val ? "true" : "false", w->f);
}

void jw_null(struct qlb_json_w *w, const char *key)
{
	jw_sep(w, key);
	fputs("null", w->f);
}

void jw_double(struct qlb_json_w *w, const char *key, double val)
{
	jw_sep(w, key);
	fprintf(w->f, "%.6g", val);
}

void jw_end(struct qlb_json_w *w)
{
	fputc('\n', w->f);
	fflush(w->f);
}

volatile sig_atomic_t qlb_stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	qlb_stop_requested = 1;
}

void qlb_catch_stop(void)
{
	struct sigaction sa = {.sa_handler = on_stop};

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int qlb_signalfd(void)
{
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* ---- CLI skeleton ------------------------------------------------------- */

bool qlb_is_prefix(const char *pfx, const char *word)
{
	size_t n = strlen(pfx);

	return n && !strncmp(pfx, word, n);
}

void qlb_cmd_list(FILE *f, const struct qlb_cmd *cmds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
}

int qlb_usage_err(void (*usage)(FILE *f), const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	qlb_err("%s", msg);
	if (!qlb_json && usage)
		usage(stderr);
	return QLB_EXIT_USAGE;
}

int qlb_cmd_select(const struct qlb_cmd *cmds, size_t n, int argc, char **argv,
		   const char *what, void (*usage)(FILE *f))
{
	const struct qlb_cmd *found = NULL;
	size_t i;

	if (argc < 1 || !argv[0])
		return qlb_usage_err(usage, "missing %s", what);
	if (!strcmp(argv[0], "help") || !strcmp(argv[0], "-h") ||
	    !strcmp(argv[0], "--help")) {
		if (usage)
			usage(stdout);
		return QLB_EXIT_OK;
	}
	for (i = 0; i < n; i++) {
		if (!strcmp(argv[0], cmds[i].name)) {
			found = &cmds[i];
			break;
		}
		if (!qlb_is_prefix(argv[0], cmds[i].name))
			continue;
		if (found)
			return qlb_usage_err(usage, "%s '%s' is ambiguous",
					     what, argv[0]);
		found = &cmds[i];
	}
	if (!found)
		return qlb_usage_err(usage, "unknown %s '%s'", what, argv[0]);
	return found->fn(argc, argv);
}

static int parse_err(const char *opt, const char *s, const char *why)
{
	qlb_err("%s: '%s' %s", opt, s, why);
	return -1;
}

int qlb_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
		  uint64_t *out)
{
	unsigned long long v;
	char *end;
	int base = 10;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return parse_err(opt, s ? s : "", "is not a number");
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]))
			return parse_err(opt, s, "is not a number");
		base = 16;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end)
		return parse_err(opt, s, "is not a number");
	if (errno == ERANGE || v < min || v > max) {
		qlb_err("%s: '%s' is out of range (%llu to %llu)", opt, s,
			(unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int qlb_parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max,
		  uint32_t *out)
{
	uint64_t v;

	if (qlb_parse_u64(opt, s, min, max, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int qlb_parse_double(const char *opt, const char *s, double min, double max,
		     double *out)
{
	double v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s))
		return parse_err(opt, s ? s : "", "is not a number");
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno == ERANGE || v != v)
		return parse_err(opt, s, "is not a number");
	if (v < min || v > max) {
		qlb_err("%s: '%s' is out of range (%g to %g)", opt, s, min,
			max);
		return -1;
	}
	*out = v;
	return 0;
}
