// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * YAML diagnostics and typed getters (see yaml_diag.h): parse with
 * libyaml's document API, where every node keeps its line and column, and
 * report each problem as "file:line:col: field: what is wrong".
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "common.h"
#include "yaml_diag.h"

#define MAX_FILE_SIZE (4u << 20) /* a fleet config is never this big */

/* ---- diagnostics ---------------------------------------------------- */

/*
 * A message may quote text that holds a key in ways no parser rule sees
 * (a key glued to its name, a quote left open above it). Hide every run of
 * 31 or more hex digits: a key is 32, the longest server ID 30.
 */
static void mask_key_runs(char *m)
{
	static const char hide[] = "<key withheld>";
	size_t i = 0, j;

	while (m[i]) {
		for (j = i; isxdigit((unsigned char)m[j]); j++)
			;
		if (j - i >= 31) {
			memmove(m + i + sizeof(hide) - 1, m + j,
				strlen(m + j) + 1);
			memcpy(m + i, hide, sizeof(hide) - 1);
			i += sizeof(hide) - 1;
		} else {
			i = j > i ? j : i + 1;
		}
	}
}

static void vdiag(struct qlb_ydoc *y, int line, int col, const char *path,
		  const char *fmt, va_list ap)
{
	char msg[768], full[1024];
	struct qlb_diag *v;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (path && *path)
		snprintf(full, sizeof(full), "%s: %s", path, msg);
	else
		snprintf(full, sizeof(full), "%s", msg);
	mask_key_runs(full);
	if (y->d.n == y->cap) {
		unsigned int cap = y->cap ? 2 * y->cap : 16;

		v = realloc(y->d.v, cap * sizeof(*v));
		if (!v)
			return; /* out of memory: the count still says invalid
				 */
		y->d.v = v;
		y->cap = cap;
	}
	v = &y->d.v[y->d.n++];
	v->line = line;
	v->col = col;
	v->msg = strdup(full);
}

/* A problem at node @n (NULL = the top of the file). */
void qlb_y_diag(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		const char *fmt, ...)
{
	va_list ap;
	int line = 1, col = 1;

	if (n) {
		line = (int)n->start_mark.line + 1;
		col = (int)n->start_mark.column + 1;
	}
	va_start(ap, fmt);
	vdiag(y, line, col, path, fmt, ap);
	va_end(ap);
}

void qlb_y_diag_at(struct qlb_ydoc *y, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(y, line, col, "", fmt, ap);
	va_end(ap);
}

static int diag_cmp(const void *a, const void *b)
{
	const struct qlb_diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x < y ? -1 : 1; /* keep the order found */
}

void qlb_diags_free(struct qlb_diags *d)
{
	unsigned int i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* ---- nodes ---------------------------------------------------------- */

yaml_node_t *qlb_y_node(struct qlb_ydoc *y, int i)
{
	return yaml_document_get_node(&y->doc, i);
}

const char *qlb_y_sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

bool qlb_y_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = qlb_y_sval(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *qlb_y_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return qlb_y_is_null(n) ? "nothing" : "a scalar";
	}
}

/* Byte offset of libyaml's character index @idx (libyaml counts characters). */
size_t qlb_y_boff(const struct qlb_ydoc *y, size_t idx)
{
	size_t i = y->bom, n = 0;

	while (i < y->len && n < idx) {
		unsigned char b = (unsigned char)y->text[i];

		i++;
		while (i < y->len && ((unsigned char)y->text[i] & 0xc0) == 0x80)
			i++;
		(void)b;
		n++;
	}
	return i;
}

void qlb_y_span(const struct qlb_ydoc *y, const yaml_node_t *n,
		struct qlb_span *s)
{
	s->start = qlb_y_boff(y, n->start_mark.index);
	s->end = qlb_y_boff(y, n->end_mark.index);
	s->line = (int)n->start_mark.line + 1;
	s->col = (int)n->start_mark.column + 1;
}

/* ---- scalars -------------------------------------------------------- */

/* @n must be a scalar with a value; @what names what was expected. */
bool qlb_y_want_scalar(struct qlb_ydoc *y, const yaml_node_t *n,
		       const char *path, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || qlb_y_is_null(n)) {
		qlb_y_diag(y, n, path, "expected %s, got %s", what,
			   qlb_y_kind(n));
		return false;
	}
	return true;
}

bool qlb_y_int(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       long long min, long long max, long long *out)
{
	const char *s;
	char *end;
	long long v;

	if (!qlb_y_want_scalar(y, n, path, "an integer"))
		return false;
	s = qlb_y_sval(n);
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		qlb_y_diag(y, n, path,
			   "expected an integer, got the string \"%s\"", s);
		return false;
	}
	errno = 0;
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2)) {
		/* strtoll would take "0x" as 0, and skip blanks and a sign */
		v = strtoll(s + 2, &end, 16);
		if (!isxdigit((unsigned char)s[2]))
			end = (char *)s;
	} else {
		v = strtoll(s, &end, 10);
	}
	if (end == s || *end ||
	    (!isdigit((unsigned char)*s) && *s != '-' && *s != '+')) {
		qlb_y_diag(y, n, path, "expected an integer, got \"%s\"", s);
		return false;
	}
	if (errno == ERANGE || v > max) {
		qlb_y_diag(y, n, path, "%s is above the maximum %lld", s, max);
		return false;
	}
	if (v < min) {
		qlb_y_diag(y, n, path, "%lld is below the minimum %lld", v,
			   min);
		return false;
	}
	*out = v;
	return true;
}

bool qlb_y_uint(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		unsigned int min, unsigned int max, unsigned int *out)
{
	long long v;

	if (!qlb_y_int(y, n, path, min, max, &v))
		return false;
	*out = (unsigned int)v;
	return true;
}

bool qlb_y_bool(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		bool *out)
{
	static const char *const t[] = {"true", "yes", "on"};
	static const char *const f[] = {"false", "no", "off"};
	size_t i;

	if (!qlb_y_want_scalar(y, n, path, "true or false"))
		return false;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (i = 0; i < 3; i++) {
			if (!strcasecmp(qlb_y_sval(n), t[i])) {
				*out = true;
				return true;
			}
			if (!strcasecmp(qlb_y_sval(n), f[i])) {
				*out = false;
				return true;
			}
		}
	}
	qlb_y_diag(y, n, path, "expected true or false, got \"%s\"",
		   qlb_y_sval(n));
	return false;
}

bool qlb_y_str(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       char *buf, size_t size)
{
	size_t len;

	if (!qlb_y_want_scalar(y, n, path, "a string"))
		return false;
	len = n->data.scalar.length;
	if (len >= size) {
		qlb_y_diag(y, n, path,
			   "\"%.40s%s\" is too long (at most %zu bytes)",
			   qlb_y_sval(n), len > 40 ? "..." : "", size - 1);
		return false;
	}
	if (strlen(qlb_y_sval(n)) != len) {
		qlb_y_diag(y, n, path, "contains a NUL character");
		return false;
	}
	memcpy(buf, qlb_y_sval(n), len + 1);
	return true;
}

bool qlb_y_enum(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		const char *const *names, unsigned int nnames,
		unsigned int *out)
{
	char list[256] = "";
	unsigned int i;

	if (!qlb_y_want_scalar(y, n, path, "a name"))
		return false;
	for (i = 0; i < nnames; i++) {
		if (!strcmp(qlb_y_sval(n), names[i])) {
			*out = i;
			return true;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? " | " : "", names[i]);
	}
	qlb_y_diag(y, n, path, "\"%s\" is not one of %s", qlb_y_sval(n), list);
	return false;
}

/* @family 0 = either. */
bool qlb_y_addr(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		int family, struct qlb_addr *out)
{
	struct qlb_addr a = {0};

	if (!qlb_y_want_scalar(y, n, path, "an IP address"))
		return false;
	if (inet_pton(AF_INET, qlb_y_sval(n), &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, qlb_y_sval(n), &a.v6) == 1)
		a.family = AF_INET6;
	if (!a.family) {
		qlb_y_diag(y, n, path, "\"%s\" is not an IP%s address",
			   qlb_y_sval(n),
			   family == AF_INET	? "v4"
			   : family == AF_INET6 ? "v6"
						: "v4 or IPv6");
		return false;
	}
	if (family && a.family != family) {
		qlb_y_diag(y, n, path, "\"%s\" is not an IPv%d address",
			   qlb_y_sval(n), family == AF_INET ? 4 : 6);
		return false;
	}
	*out = a;
	return true;
}

/* Hex digits into @out (at most @max bytes). @secret: a mistyped key is
 * still mostly the key, so messages name it "the key", never echo it. */
int qlb_y_hex(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	      uint8_t *out, size_t max, bool secret)
{
	const char *s, *shown, *q = "\"";
	size_t len, i;

	if (!qlb_y_want_scalar(y, n, path, "hex digits"))
		return -1;
	s = shown = qlb_y_sval(n);
	len = strlen(s);
	if (secret) {
		shown = "the key";
		q = "";
	}
	for (i = 0; i < len; i++) {
		if (qlb_hexval(s[i]) < 0) {
			qlb_y_diag(y, n, path, "%s%s%s is not hex", q, shown,
				   q);
			return -1;
		}
	}
	if (len % 2) {
		qlb_y_diag(y, n, path, "%s%s%s has an odd number of hex digits",
			   q, shown, q);
		return -1;
	}
	if (len / 2 > max) {
		qlb_y_diag(y, n, path,
			   "%s%s%s is %zu bytes, more than the maximum %zu", q,
			   shown, q, len / 2, max);
		return -1;
	}
	for (i = 0; i < len / 2; i++)
		out[i] = (uint8_t)(qlb_hexval(s[2 * i]) << 4 |
				   qlb_hexval(s[2 * i + 1]));
	return (int)(len / 2);
}

bool qlb_y_mac(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       uint8_t mac[6])
{
	const char *s;
	int i;

	if (!qlb_y_want_scalar(y, n, path, "a MAC address"))
		return false;
	s = qlb_y_sval(n);
	if (strlen(s) != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		int hi = qlb_hexval(s[3 * i]), lo = qlb_hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1) {
		qlb_y_diag(y, n, path, "\"%s\" is a multicast address", s);
		return false;
	}
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
		qlb_y_diag(y, n, path, "\"%s\" is the zero address", s);
		return false;
	}
	return true;
bad:
	qlb_y_diag(y, n, path,
		   "\"%s\" is not a MAC address (like 02:00:00:00:00:01)", s);
	return false;
}

/* ---- mappings ------------------------------------------------------- */

/*
 * qlb_y_map() - @n must be a mapping whose keys are all in @known (NULL
 * terminated) and appear once. Reports every other key.
 */
bool qlb_y_map(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       const char *const *known)
{
	yaml_node_pair_t *p, *q;
	char list[512], kpath[256];
	bool ok = true;
	size_t i;

	if (n->type != YAML_MAPPING_NODE) {
		qlb_y_diag(y, n, path, "expected a mapping, got %s",
			   qlb_y_kind(n));
		return false;
	}
	list[0] = 0;
	for (i = 0; known[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", known[i]);
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = qlb_y_node(y, p->key);

		if (k->type != YAML_SCALAR_NODE) {
			qlb_y_diag(y, k, path,
				   "a key must be a plain name, got %s",
				   qlb_y_kind(k));
			ok = false;
			continue;
		}
		snprintf(kpath, sizeof(kpath), "%s%s%s", path, *path ? "." : "",
			 qlb_y_sval(k));
		for (i = 0; known[i]; i++)
			if (!strcmp(known[i], qlb_y_sval(k)))
				break;
		if (!known[i]) {
			qlb_y_diag(y, k, kpath,
				   "unknown key (expected one of: %s)", list);
			ok = false;
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = qlb_y_node(y, q->key);

			if (k2->type == YAML_SCALAR_NODE &&
			    !strcmp(qlb_y_sval(k2), qlb_y_sval(k))) {
				qlb_y_diag(
					y, k, kpath,
					"duplicate key (first given at %d:%d)",
					(int)k2->start_mark.line + 1,
					(int)k2->start_mark.column + 1);
				ok = false;
				break;
			}
		}
	}
	return ok;
}

/* The value of key @name in mapping @m (first one), or NULL. */
yaml_node_t *qlb_y_get(struct qlb_ydoc *y, const yaml_node_t *m,
		       const char *name, yaml_node_t **keyp)
{
	yaml_node_pair_t *p;

	if (m->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = qlb_y_node(y, p->key);

		if (k->type == YAML_SCALAR_NODE &&
		    !strcmp(qlb_y_sval(k), name)) {
			if (keyp)
				*keyp = k;
			return qlb_y_node(y, p->value);
		}
	}
	return NULL;
}

yaml_node_t *qlb_y_need(struct qlb_ydoc *y, const yaml_node_t *m,
			const char *path, const char *name)
{
	yaml_node_t *v = qlb_y_get(y, m, name, NULL);

	if (!v)
		qlb_y_diag(y, m, path, "missing required key '%s'", name);
	return v;
}

int qlb_y_seq_len(const yaml_node_t *n)
{
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *qlb_y_seq_item(struct qlb_ydoc *y, const yaml_node_t *n, int i)
{
	return qlb_y_node(y, n->data.sequence.items.start[i]);
}

bool qlb_y_want_seq(struct qlb_ydoc *y, const yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		qlb_y_diag(y, n, path, "expected a list, got %s",
			   qlb_y_kind(n));
		return false;
	}
	return true;
}

/* ---- the file ------------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *len, char *err,
		     size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t got = 0;
	int fd;

	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer
	 * (a reload hung on it); the type check below refuses it */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return -1;
	}
	if ((size_t)st.st_size > MAX_FILE_SIZE) {
		snprintf(err, errlen, "larger than %u bytes", MAX_FILE_SIZE);
		close(fd);
		return -1;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "cannot read: %s",
				 r < 0 ? strerror(errno) : "file shrank");
			free(buf);
			close(fd);
			return -1;
		}
		got += r;
	}
	buf[got] = 0;
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

yaml_node_t *qlb_y_open(struct qlb_ydoc *y, const char *path)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	char err[256];

	y->file = path;
	if (read_file(path, &y->text, &y->len, err, sizeof(err)) < 0) {
		qlb_y_diag_at(y, 0, 0, "%s", err);
		return NULL;
	}
	if (y->len >= 3 && !memcmp(y->text, "\xef\xbb\xbf", 3))
		y->bom = 3;
	if (!yaml_parser_initialize(&parser)) {
		qlb_y_diag(y, NULL, "", "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)y->text,
				     y->len);
	if (!yaml_parser_load(&parser, &y->doc)) {
		yaml_mark_t m = parser.problem_mark;

		if (parser.context)
			qlb_y_diag_at(y, (int)m.line + 1, (int)m.column + 1,
				      "YAML syntax error: %s (%s at %d:%d)",
				      parser.problem, parser.context,
				      (int)parser.context_mark.line + 1,
				      (int)parser.context_mark.column + 1);
		else
			qlb_y_diag_at(y, (int)m.line + 1, (int)m.column + 1,
				      "YAML syntax error: %s",
				      parser.problem ? parser.problem
						     : "unknown");
	} else {
		y->parsed = true;
		if (yaml_parser_load(&parser, &extra)) {
			yaml_node_t *r = yaml_document_get_root_node(&extra);

			if (r)
				qlb_y_diag(y, r, "",
					   "a second YAML document: the file "
					   "must hold one");
			yaml_document_delete(&extra);
		}
	}
	yaml_parser_delete(&parser);
	return y->parsed ? yaml_document_get_root_node(&y->doc) : NULL;
}

int qlb_y_close(struct qlb_ydoc *y, FILE *errf, struct qlb_diags *diags)
{
	int n = (int)y->d.n;
	unsigned int i;

	if (y->parsed) {
		yaml_node_t *nd;

		/* inline keys live in the scalars: wipe them before freeing */
		for (nd = y->doc.nodes.start; nd < y->doc.nodes.top; nd++)
			if (nd->type == YAML_SCALAR_NODE)
				explicit_bzero(nd->data.scalar.value,
					       nd->data.scalar.length);
		yaml_document_delete(&y->doc);
		y->parsed = false;
	}
	if (y->text) {
		explicit_bzero(y->text, y->len);
		free(y->text);
		y->text = NULL;
	}
	if (y->d.n > 1)
		qsort(y->d.v, y->d.n, sizeof(*y->d.v), diag_cmp);
	for (i = 0; errf && i < y->d.n; i++) {
		const struct qlb_diag *v = &y->d.v[i];

		if (v->line)
			fprintf(errf, "%s:%d:%d: %s\n", y->file, v->line,
				v->col, v->msg ? v->msg : "?");
		else
			fprintf(errf, "%s: %s\n", y->file,
				v->msg ? v->msg : "?");
	}
	if (diags)
		*diags = y->d;
	else
		qlb_diags_free(&y->d);
	memset(&y->d, 0, sizeof(y->d));
	y->cap = 0;
	return n;
}
