// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

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

static int hexval(int c)
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
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

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
