// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The qlb YAML configuration: parse with libyaml's document API (every node
 * keeps its line and column), validate the whole file, report every problem
 * as "file:line:col: field: what is wrong", and only then fill the caller's
 * struct. See docs/config.md for the schema.
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

#include <yaml.h>

#include "config.h"
#include "common.h"
#include "qlb/libqlb.h"

#define MAX_FILE_SIZE  (4u << 20) /* a fleet config is never this big */
#define MAX_MAGLEV     1000003u
#define MIN_MTU	       576u  /* IPv4 minimum reassembly size */
#define MAX_MTU	       9216u /* common jumbo frame limit */
#define MAX_DRAIN_TIME (10u * 365 * 86400)

struct ctx {
	const char *file;
	char dir[PATH_MAX]; /* key_file paths are relative to it */
	const char *text;   /* the file, for byte offsets of marks */
	size_t len;
	size_t bom; /* bytes of a UTF-8 BOM libyaml skipped */
	yaml_document_t doc;
	struct qlb_diags d;
	unsigned int cap;
	struct qlb_config *cfg;
	bool src_given[2]; /* lb.encap_source_v4/v6 written (valid
			      or not: one message per mistake) */
};

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

static void vdiag(struct ctx *c, int line, int col, const char *path,
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
	if (c->d.n == c->cap) {
		unsigned int cap = c->cap ? 2 * c->cap : 16;

		v = realloc(c->d.v, cap * sizeof(*v));
		if (!v)
			return; /* out of memory: the count still says invalid
				 */
		c->d.v = v;
		c->cap = cap;
	}
	v = &c->d.v[c->d.n++];
	v->line = line;
	v->col = col;
	v->msg = strdup(full);
}

/* A problem at node @n (NULL = the top of the file). */
static void __attribute__((format(printf, 4, 5)))
ndiag(struct ctx *c, const yaml_node_t *n, const char *path, const char *fmt,
      ...)
{
	va_list ap;
	int line = 1, col = 1;

	if (n) {
		line = (int)n->start_mark.line + 1;
		col = (int)n->start_mark.column + 1;
	}
	va_start(ap, fmt);
	vdiag(c, line, col, path, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
ndiag_at(struct ctx *c, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(c, line, col, "", fmt, ap);
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

static yaml_node_t *node(struct ctx *c, int i)
{
	return yaml_document_get_node(&c->doc, i);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = sval(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return is_null(n) ? "nothing" : "a scalar";
	}
}

/* Byte offset of libyaml's character index @idx (libyaml counts characters). */
static size_t boff(const struct ctx *c, size_t idx)
{
	size_t i = c->bom, n = 0;

	while (i < c->len && n < idx) {
		unsigned char b = (unsigned char)c->text[i];

		i++;
		while (i < c->len && ((unsigned char)c->text[i] & 0xc0) == 0x80)
			i++;
		(void)b;
		n++;
	}
	return i;
}

static void span_of(const struct ctx *c, const yaml_node_t *n,
		    struct qlb_span *s)
{
	s->start = boff(c, n->start_mark.index);
	s->end = boff(c, n->end_mark.index);
	s->line = (int)n->start_mark.line + 1;
	s->col = (int)n->start_mark.column + 1;
}

/* ---- scalars -------------------------------------------------------- */

/* @n must be a scalar with a value; @what names what was expected. */
static bool want_scalar(struct ctx *c, const yaml_node_t *n, const char *path,
			const char *what)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		ndiag(c, n, path, "expected %s, got %s", what, kind(n));
		return false;
	}
	return true;
}

static bool get_int(struct ctx *c, const yaml_node_t *n, const char *path,
		    long long min, long long max, long long *out)
{
	const char *s;
	char *end;
	long long v;

	if (!want_scalar(c, n, path, "an integer"))
		return false;
	s = sval(n);
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		ndiag(c, n, path, "expected an integer, got the string \"%s\"",
		      s);
		return false;
	}
	errno = 0;
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		v = strtoll(s + 2, &end, 16);
	else
		v = strtoll(s, &end, 10);
	if (end == s || *end ||
	    (!isdigit((unsigned char)*s) && *s != '-' && *s != '+')) {
		ndiag(c, n, path, "expected an integer, got \"%s\"", s);
		return false;
	}
	if (errno == ERANGE || v > max) {
		ndiag(c, n, path, "%s is above the maximum %lld", s, max);
		return false;
	}
	if (v < min) {
		ndiag(c, n, path, "%lld is below the minimum %lld", v, min);
		return false;
	}
	*out = v;
	return true;
}

static bool get_uint(struct ctx *c, const yaml_node_t *n, const char *path,
		     unsigned int min, unsigned int max, unsigned int *out)
{
	long long v;

	if (!get_int(c, n, path, min, max, &v))
		return false;
	*out = (unsigned int)v;
	return true;
}

static bool get_bool(struct ctx *c, const yaml_node_t *n, const char *path,
		     bool *out)
{
	static const char *const t[] = {"true", "yes", "on"};
	static const char *const f[] = {"false", "no", "off"};
	size_t i;

	if (!want_scalar(c, n, path, "true or false"))
		return false;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (i = 0; i < 3; i++) {
			if (!strcasecmp(sval(n), t[i])) {
				*out = true;
				return true;
			}
			if (!strcasecmp(sval(n), f[i])) {
				*out = false;
				return true;
			}
		}
	}
	ndiag(c, n, path, "expected true or false, got \"%s\"", sval(n));
	return false;
}

static bool get_str(struct ctx *c, const yaml_node_t *n, const char *path,
		    char *buf, size_t size)
{
	size_t len;

	if (!want_scalar(c, n, path, "a string"))
		return false;
	len = n->data.scalar.length;
	if (len >= size) {
		ndiag(c, n, path, "\"%.40s%s\" is too long (at most %zu bytes)",
		      sval(n), len > 40 ? "..." : "", size - 1);
		return false;
	}
	if (strlen(sval(n)) != len) {
		ndiag(c, n, path, "contains a NUL character");
		return false;
	}
	memcpy(buf, sval(n), len + 1);
	return true;
}

static bool get_enum(struct ctx *c, const yaml_node_t *n, const char *path,
		     const char *const *names, unsigned int nnames,
		     unsigned int *out)
{
	char list[256] = "";
	unsigned int i;

	if (!want_scalar(c, n, path, "a name"))
		return false;
	for (i = 0; i < nnames; i++) {
		if (!strcmp(sval(n), names[i])) {
			*out = i;
			return true;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? " | " : "", names[i]);
	}
	ndiag(c, n, path, "\"%s\" is not one of %s", sval(n), list);
	return false;
}

/* @family 0 = either. */
static bool get_addr(struct ctx *c, const yaml_node_t *n, const char *path,
		     int family, struct qlb_addr *out)
{
	struct qlb_addr a = {0};

	if (!want_scalar(c, n, path, "an IP address"))
		return false;
	if (inet_pton(AF_INET, sval(n), &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, sval(n), &a.v6) == 1)
		a.family = AF_INET6;
	if (!a.family) {
		ndiag(c, n, path, "\"%s\" is not an IP%s address", sval(n),
		      family == AF_INET	   ? "v4"
		      : family == AF_INET6 ? "v6"
					   : "v4 or IPv6");
		return false;
	}
	if (family && a.family != family) {
		ndiag(c, n, path, "\"%s\" is not an IPv%d address", sval(n),
		      family == AF_INET ? 4 : 6);
		return false;
	}
	*out = a;
	return true;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Hex of 1..@max bytes; returns the byte count or -1. */
/* Hex digits into @out (at most @max bytes). @secret: a mistyped key is
 * still mostly the key, so messages name it "the key", never echo it. */
static int get_hex(struct ctx *c, const yaml_node_t *n, const char *path,
		   uint8_t *out, size_t max, bool secret)
{
	const char *s, *shown, *q = "\"";
	size_t len, i;

	if (!want_scalar(c, n, path, "hex digits"))
		return -1;
	s = shown = sval(n);
	len = strlen(s);
	if (secret) {
		shown = "the key";
		q = "";
	}
	for (i = 0; i < len; i++) {
		if (hexval(s[i]) < 0) {
			ndiag(c, n, path, "%s%s%s is not hex", q, shown, q);
			return -1;
		}
	}
	if (len % 2) {
		ndiag(c, n, path, "%s%s%s has an odd number of hex digits", q,
		      shown, q);
		return -1;
	}
	if (len / 2 > max) {
		ndiag(c, n, path,
		      "%s%s%s is %zu bytes, more than the maximum %zu", q,
		      shown, q, len / 2, max);
		return -1;
	}
	for (i = 0; i < len / 2; i++)
		out[i] =
			(uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
	return (int)(len / 2);
}

static bool get_mac(struct ctx *c, const yaml_node_t *n, const char *path,
		    uint8_t mac[6])
{
	const char *s;
	int i;

	if (!want_scalar(c, n, path, "a MAC address"))
		return false;
	s = sval(n);
	if (strlen(s) != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1) {
		ndiag(c, n, path, "\"%s\" is a multicast address", s);
		return false;
	}
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
		ndiag(c, n, path, "\"%s\" is the zero address", s);
		return false;
	}
	return true;
bad:
	ndiag(c, n, path,
	      "\"%s\" is not a MAC address (like 02:00:00:00:00:01)", s);
	return false;
}

/* ---- mappings ------------------------------------------------------- */

/*
 * check_map() - @n must be a mapping whose keys are all in @known (NULL
 * terminated) and appear once. Reports every other key.
 */
static bool check_map(struct ctx *c, const yaml_node_t *n, const char *path,
		      const char *const *known)
{
	yaml_node_pair_t *p, *q;
	char list[512], kpath[256];
	bool ok = true;
	size_t i;

	if (n->type != YAML_MAPPING_NODE) {
		ndiag(c, n, path, "expected a mapping, got %s", kind(n));
		return false;
	}
	list[0] = 0;
	for (i = 0; known[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", known[i]);
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(c, p->key);

		if (k->type != YAML_SCALAR_NODE) {
			ndiag(c, k, path, "a key must be a plain name, got %s",
			      kind(k));
			ok = false;
			continue;
		}
		snprintf(kpath, sizeof(kpath), "%s%s%s", path, *path ? "." : "",
			 sval(k));
		for (i = 0; known[i]; i++)
			if (!strcmp(known[i], sval(k)))
				break;
		if (!known[i]) {
			ndiag(c, k, kpath, "unknown key (expected one of: %s)",
			      list);
			ok = false;
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node(c, q->key);

			if (k2->type == YAML_SCALAR_NODE &&
			    !strcmp(sval(k2), sval(k))) {
				ndiag(c, k, kpath,
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
static yaml_node_t *get(struct ctx *c, const yaml_node_t *m, const char *name,
			yaml_node_t **keyp)
{
	yaml_node_pair_t *p;

	if (m->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(c, p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp(sval(k), name)) {
			if (keyp)
				*keyp = k;
			return node(c, p->value);
		}
	}
	return NULL;
}

static yaml_node_t *need(struct ctx *c, const yaml_node_t *m, const char *path,
			 const char *name)
{
	yaml_node_t *v = get(c, m, name, NULL);

	if (!v)
		ndiag(c, m, path, "missing required key '%s'", name);
	return v;
}

static int seq_len(const yaml_node_t *n)
{
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct ctx *c, const yaml_node_t *n, int i)
{
	return node(c, n->data.sequence.items.start[i]);
}

static bool want_seq(struct ctx *c, const yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		ndiag(c, n, path, "expected a list, got %s", kind(n));
		return false;
	}
	return true;
}

/* ---- quic_lb.configs ------------------------------------------------ */

static const char *const conf_state_names[] = {"routable", "active",
					       "retiring"};
static const char *const host_state_names[] = {"active", "draining", "down"};
static const char *const encap_names[] = {"gue", "ipip"};
static const char *const xdp_mode_names[] = {"native", "generic"};

/* What validating one config left for the cross-checks. */
struct conf_seen {
	bool ok;       /* present and every field valid */
	bool state_ok; /* state: absent or valid */
	int idx;       /* in quic_lb.configs */
	const yaml_node_t *item, *id, *state;
};

static bool read_key_file(struct ctx *c, const yaml_node_t *n, const char *path,
			  struct qlb_conf_cid *q)
{
	char buf[256], *s, *e;
	struct stat st;
	ssize_t r;
	int fd, len;
	bool ok = false;

	if (sval(n)[0] == '/')
		snprintf(q->key_file, sizeof(q->key_file), "%s", sval(n));
	else if (snprintf(q->key_file, sizeof(q->key_file), "%s/%s", c->dir,
			  sval(n)) >= (int)sizeof(q->key_file)) {
		ndiag(c, n, path, "path too long");
		return false;
	}
	/* O_NONBLOCK: a FIFO must not hang the loader before the type check */
	fd = open(q->key_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ndiag(c, n, path, "cannot read key file %s: %s", q->key_file,
		      strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ndiag(c, n, path, "key file %s is not a regular file",
		      q->key_file);
		goto out;
	}
	if (st.st_mode & 077) {
		ndiag(c, n, path,
		      "key file %s has mode %04o: it must not be accessible by "
		      "group or others (chmod 600)",
		      q->key_file, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	r = read(fd, buf, sizeof(buf) - 1);
	if (r < 0) {
		ndiag(c, n, path, "cannot read key file %s: %s", q->key_file,
		      strerror(errno));
		goto out;
	}
	buf[r] = 0;
	for (s = buf; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = 0;
	len = qlb_parse_hex(s, q->key, sizeof(q->key));
	if (e - s != 32 || len != 16) {
		ndiag(c, n, path,
		      "key file %s must hold the key as 32 hex digits (16 "
		      "bytes)",
		      q->key_file);
		explicit_bzero(q->key, sizeof(q->key));
		goto out;
	}
	q->has_key = true;
	ok = true;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ok;
}

static const char *const conf_keys[] = {"id",	     "server_id_len", "sid_len",
					"nonce_len", "worker_bits",   "key",
					"key_file",  "encode_length", "state",
					"since",     "drain_time",    NULL};

/* Dash and key columns, and the byte span of a block item, for rotate. */
static void mark_item(struct ctx *c, const yaml_node_t *m, unsigned int id)
{
	struct qlb_conf_marks *mk = &c->cfg->marks;
	size_t start = boff(c, m->start_mark.index), i, end = 0, ls;
	yaml_node_pair_t *p;

	mk->key_col[id] = (int)m->start_mark.column;
	mk->item_block[id] = m->data.mapping.style == YAML_BLOCK_MAPPING_STYLE;
	/* the '-' precedes the first key, usually on the same line */
	for (i = start; i > c->bom; i--) {
		char ch = c->text[i - 1];

		if (ch == '-')
			break;
		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
			mk->item_block[id] = false;
			return;
		}
	}
	if (i == c->bom) {
		mk->item_block[id] = false;
		return;
	}
	i--;
	for (ls = i; ls > c->bom && c->text[ls - 1] != '\n'; ls--)
		;
	mk->dash_col[id] = (int)(i - ls);
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		size_t e = boff(c, node(c, p->value)->end_mark.index);

		if (e > end)
			end = e;
	}
	while (end < c->len && c->text[end] != '\n')
		end++;
	if (end < c->len)
		end++;
	/* comment lines indented under the item belong to it */
	for (;;) {
		size_t j = end;

		while (j < c->len && (c->text[j] == ' ' || c->text[j] == '\t'))
			j++;
		if (j >= c->len || c->text[j] != '#' ||
		    (int)(j - end) <= mk->dash_col[id])
			break;
		while (j < c->len && c->text[j] != '\n')
			j++;
		end = j < c->len ? j + 1 : j;
	}
	mk->item[id].start = ls;
	mk->item[id].end = end;
	mk->item[id].line = (int)m->start_mark.line + 1;
	mk->item[id].col = mk->dash_col[id] + 1;
}

static void parse_config(struct ctx *c, const yaml_node_t *m, int idx,
			 struct conf_seen *seen)
{
	struct qlb_conf_cid q = {0};
	yaml_node_t *v, *sidn, *keyn, *kfn, *kfk = NULL, *nonce;
	char path[64], fp[96];
	unsigned int id = 0, u;
	bool ok, len_ok = true, store = true, state_ok = true;
	long long ll;

	snprintf(path, sizeof(path), "quic_lb.configs[%d]", idx);
#define FP(name) (snprintf(fp, sizeof(fp), "%s.%s", path, name), fp)
	ok = check_map(c, m, path, conf_keys);
	if (m->type != YAML_MAPPING_NODE)
		return;
	q.encode_length = true;
	q.state = QLB_CONF_ACTIVE;
	q.drain_time = QLB_DEFAULT_DRAIN_TIME;
	q.pos.line = (int)m->start_mark.line + 1;
	q.pos.col = (int)m->start_mark.column + 1;

	/* a bad or duplicate id still gets the rest of the item checked */
	v = need(c, m, path, "id");
	if (v && v->type == YAML_SCALAR_NODE && !strcmp(sval(v), "7")) {
		ndiag(c, v, FP("id"),
		      "7 is above the maximum 6 (0b111 marks unroutable CIDs)");
		store = false;
	} else if (!v ||
		   !get_uint(c, v, FP("id"), 0, QLB_CONFIG_MAX - 1, &id)) {
		store = false;
	} else if (seen[id].item) {
		ndiag(c, v, FP("id"), "config %u is already defined at %d:%d",
		      id, (int)seen[id].id->start_mark.line + 1,
		      (int)seen[id].id->start_mark.column + 1);
		store = false;
	} else {
		seen[id].item = m;
		seen[id].id = v;
		seen[id].idx = idx;
	}
	q.id = store ? id : 0;

	sidn = get(c, m, "server_id_len", NULL);
	if (sidn && get(c, m, "sid_len", NULL)) {
		ndiag(c, get(c, m, "sid_len", NULL), FP("sid_len"),
		      "give server_id_len or sid_len, not both");
		ok = false;
	}
	if (!sidn)
		sidn = get(c, m, "sid_len", NULL);
	if (!sidn) {
		ndiag(c, m, path, "missing required key 'server_id_len'");
		ok = len_ok = false;
	} else if (!get_uint(c, sidn, FP("server_id_len"), QLB_SID_MIN_LEN,
			     QLB_SID_MAX_LEN, &u)) {
		ok = len_ok = false;
	} else {
		q.sid_len = u;
	}
	nonce = need(c, m, path, "nonce_len");
	if (!nonce || !get_uint(c, nonce, FP("nonce_len"), QLB_NONCE_MIN_LEN,
				QLB_NONCE_MAX_LEN, &u)) {
		ok = len_ok = false;
	} else {
		q.nonce_len = u;
	}
	if (len_ok && q.sid_len + q.nonce_len > QLB_PT_MAX_LEN) {
		ndiag(c, nonce, FP("nonce_len"),
		      "server_id_len %u + nonce_len %u = %u is above the "
		      "maximum %d",
		      q.sid_len, q.nonce_len, q.sid_len + q.nonce_len,
		      QLB_PT_MAX_LEN);
		ok = false;
	}
	v = get(c, m, "worker_bits", NULL);
	if (v) {
		if (!get_uint(c, v, FP("worker_bits"), 0, 16, &u)) {
			ok = false;
		} else if (len_ok && u >= 8 * q.sid_len) {
			ndiag(c, v, FP("worker_bits"),
			      "%u leaves no host bits in a %u-byte server ID "
			      "(must be below %u)",
			      u, q.sid_len, 8 * q.sid_len);
			ok = false;
		} else {
			q.worker_bits = u;
		}
	}
	keyn = get(c, m, "key", NULL);
	kfn = get(c, m, "key_file", &kfk);
	if (keyn && kfn) {
		ndiag(c, kfk, FP("key_file"),
		      "give key or key_file, not both (key at %d:%d)",
		      (int)keyn->start_mark.line + 1,
		      (int)keyn->start_mark.column + 1);
		ok = false;
	} else if (keyn) {
		uint8_t k[QLB_SID_MAX_LEN + 16];
		int n = want_scalar(c, keyn, FP("key"), "32 hex digits")
				? get_hex(c, keyn, FP("key"), k, sizeof(k),
					  true)
				: -1;

		if (n >= 0 && n != 16)
			ndiag(c, keyn, FP("key"),
			      "must be 32 hex digits (16 bytes), got %d bytes",
			      n);
		if (n == 16) {
			memcpy(q.key, k, 16);
			q.has_key = true;
		} else {
			ok = false;
		}
		explicit_bzero(k, sizeof(k));
	} else if (kfn) {
		if (!want_scalar(c, kfn, FP("key_file"), "a path") ||
		    !read_key_file(c, kfn, FP("key_file"), &q))
			ok = false;
	}
	v = get(c, m, "encode_length", NULL);
	if (v && !get_bool(c, v, FP("encode_length"), &q.encode_length))
		ok = false;
	v = get(c, m, "state", NULL);
	if (v) {
		if (get_enum(c, v, FP("state"), conf_state_names, 3, &u))
			q.state = (enum qlb_conf_state)u;
		else
			ok = state_ok = false;
		if (store) {
			seen[id].state = v;
			span_of(c, v, &c->cfg->marks.state[id]);
		}
	}
	v = get(c, m, "since", NULL);
	if (v) {
		if (get_int(c, v, FP("since"), 0, INT64_MAX, &ll))
			q.since = ll;
		else
			ok = false;
		if (store)
			span_of(c, v, &c->cfg->marks.since[id]);
	}
	v = get(c, m, "drain_time", NULL);
	if (v &&
	    !get_uint(c, v, FP("drain_time"), 0, MAX_DRAIN_TIME, &q.drain_time))
		ok = false;
#undef FP
	if (store) {
		q.present = true;
		mark_item(c, m, id);
		c->cfg->configs[id] = q;
		seen[id].ok = ok;
		seen[id].state_ok = state_ok;
	}
	explicit_bzero(&q, sizeof(q));
}

static void parse_quic_lb(struct ctx *c, const yaml_node_t *n,
			  struct conf_seen *seen)
{
	static const char *const keys[] = {"configs", NULL};
	const yaml_node_t *active = NULL;
	yaml_node_t *cs;
	int i;

	check_map(c, n, "quic_lb", keys);
	if (n->type != YAML_MAPPING_NODE)
		return;
	cs = need(c, n, "quic_lb", "configs");
	if (!cs || !want_seq(c, cs, "quic_lb.configs"))
		return;
	c->cfg->marks.configs_block =
		cs->data.sequence.style == YAML_BLOCK_SEQUENCE_STYLE;
	if (!seq_len(cs))
		ndiag(c, cs, "quic_lb.configs",
		      "at least one config is needed");
	for (i = 0; i < seq_len(cs); i++)
		parse_config(c, seq_item(c, cs, i), i, seen);
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		const struct qlb_conf_cid *q = &c->cfg->configs[i];
		char path[64];

		if (!q->present || !seen[i].state_ok ||
		    q->state != QLB_CONF_ACTIVE)
			continue;
		if (!active) {
			active = seen[i].state ? seen[i].state : seen[i].item;
			continue;
		}
		snprintf(path, sizeof(path), "quic_lb.configs[%d]%s",
			 seen[i].idx, seen[i].state ? ".state" : "");
		ndiag(c, seen[i].state ? seen[i].state : seen[i].item, path,
		      "config %d is active, and so is the config at %d:%d: at "
		      "most one config may be active (the others routable or "
		      "retiring)",
		      i, (int)active->start_mark.line + 1,
		      (int)active->start_mark.column + 1);
	}
}

/* ---- lb ------------------------------------------------------------- */

static bool valid_ifname(struct ctx *c, const yaml_node_t *n, const char *path,
			 char *buf)
{
	size_t i;

	if (!get_str(c, n, path, buf, 16))
		return false;
	for (i = 0; buf[i]; i++) {
		if (buf[i] == '/' || isspace((unsigned char)buf[i]) ||
		    buf[i] == ':') {
			ndiag(c, n, path, "\"%s\" is not an interface name",
			      buf);
			return false;
		}
	}
	return true;
}

static bool get_abs_path(struct ctx *c, const yaml_node_t *n, const char *path,
			 char *buf, size_t size)
{
	if (!get_str(c, n, path, buf, size))
		return false;
	if (buf[0] != '/') {
		ndiag(c, n, path, "\"%s\" is not an absolute path", buf);
		return false;
	}
	return true;
}

static void parse_lb(struct ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {"interface",
					   "xdp_mode",
					   "gateway_mac",
					   "encap_source_v4",
					   "encap_source_v6",
					   "pin_dir",
					   "maglev_table_size",
					   "mtu",
					   "gue_port",
					   "vips",
					   NULL};
	static const char *const vip_keys[] = {"address", "port", NULL};
	struct qlb_conf_lb *lb = &c->cfg->lb;
	yaml_node_t *v;
	unsigned int u;
	char p[64];
	int i, j;

	lb->present = true;
	check_map(c, n, "lb", keys);
	if (n->type != YAML_MAPPING_NODE)
		return;
	v = need(c, n, "lb", "interface");
	if (v)
		valid_ifname(c, v, "lb.interface", lb->interface);
	v = get(c, n, "xdp_mode", NULL);
	if (v && get_enum(c, v, "lb.xdp_mode", xdp_mode_names, 2, &u))
		lb->xdp_mode = (enum qlb_xdp_mode)u;
	v = need(c, n, "lb", "gateway_mac");
	if (v)
		get_mac(c, v, "lb.gateway_mac", lb->gateway_mac);
	v = get(c, n, "encap_source_v4", NULL);
	c->src_given[0] = v != NULL;
	if (v)
		get_addr(c, v, "lb.encap_source_v4", AF_INET,
			 &lb->encap_source_v4);
	v = get(c, n, "encap_source_v6", NULL);
	c->src_given[1] = v != NULL;
	if (v)
		get_addr(c, v, "lb.encap_source_v6", AF_INET6,
			 &lb->encap_source_v6);
	v = get(c, n, "pin_dir", NULL);
	if (v)
		get_abs_path(c, v, "lb.pin_dir", lb->pin_dir,
			     sizeof(lb->pin_dir));
	v = get(c, n, "maglev_table_size", NULL);
	if (v && get_uint(c, v, "lb.maglev_table_size", 3, MAX_MAGLEV, &u)) {
		unsigned int d;

		for (d = 2; d * d <= u; d++)
			if (u % d == 0)
				break;
		if (d * d <= u)
			ndiag(c, v, "lb.maglev_table_size",
			      "%u is not prime (%u divides it); Maglev needs a "
			      "prime such as 65537",
			      u, d);
		else
			lb->maglev_table_size = u;
	}
	v = get(c, n, "mtu", NULL);
	if (v)
		get_uint(c, v, "lb.mtu", MIN_MTU, MAX_MTU, &lb->mtu);
	v = get(c, n, "gue_port", NULL);
	if (v && get_uint(c, v, "lb.gue_port", 1, 65535, &u))
		lb->gue_port = (uint16_t)u;
	v = need(c, n, "lb", "vips");
	if (!v || !want_seq(c, v, "lb.vips"))
		return;
	if (!seq_len(v))
		ndiag(c, v, "lb.vips", "at least one VIP is needed");
	if (seq_len(v) > QLB_MAX_VIPS) {
		ndiag(c, v, "lb.vips", "%d VIPs, more than the maximum %d",
		      seq_len(v), QLB_MAX_VIPS);
		return;
	}
	for (i = 0; i < seq_len(v); i++) {
		yaml_node_t *m = seq_item(c, v, i), *a, *pt;
		struct qlb_conf_vip *vip = &lb->vips[lb->nvips];
		bool ok = true;

		snprintf(p, sizeof(p), "lb.vips[%d]", i);
		if (!check_map(c, m, p, vip_keys) &&
		    m->type != YAML_MAPPING_NODE)
			continue;
		vip->pos.line = (int)m->start_mark.line + 1;
		vip->pos.col = (int)m->start_mark.column + 1;
		a = need(c, m, p, "address");
		snprintf(p, sizeof(p), "lb.vips[%d].address", i);
		if (!a || !get_addr(c, a, p, 0, &vip->addr))
			ok = false;
		snprintf(p, sizeof(p), "lb.vips[%d]", i);
		pt = need(c, m, p, "port");
		snprintf(p, sizeof(p), "lb.vips[%d].port", i);
		if (!pt || !get_uint(c, pt, p, 1, 65535, &u))
			ok = false;
		else
			vip->port = (uint16_t)u;
		if (!ok)
			continue;
		for (j = 0; j < (int)lb->nvips; j++) {
			if (lb->vips[j].port == vip->port &&
			    !memcmp(&lb->vips[j].addr, &vip->addr,
				    sizeof(vip->addr))) {
				ndiag(c, m, "lb.vips",
				      "VIP %s port %u is already given at "
				      "%d:%d",
				      sval(a), vip->port, lb->vips[j].pos.line,
				      lb->vips[j].pos.col);
				ok = false;
				break;
			}
		}
		if (ok)
			lb->nvips++;
	}
}

/* ---- hosts ---------------------------------------------------------- */

struct host_seen {
	const yaml_node_t *item, *name, *address, *server_id;
	const yaml_node_t *sid_node[QLB_CONFIG_MAX]; /* from server_ids */
	const yaml_node_t *sid_key[QLB_CONFIG_MAX];
	bool sid_ok; /* server_id parsed */
	int sid_len;
	uint8_t sid[QLB_SID_MAX_LEN];
	int ids_len[QLB_CONFIG_MAX];
	uint8_t ids[QLB_CONFIG_MAX][QLB_SID_MAX_LEN];
};

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static void parse_host(struct ctx *c, const yaml_node_t *m, int idx,
		       struct qlb_conf_host *h, struct host_seen *hs)
{
	static const char *const keys[] = {"name",	 "address", "server_id",
					   "server_ids", "encap",   "weight",
					   "state",	 NULL};
	yaml_node_t *v;
	char path[64], fp[96];
	unsigned int u;

	snprintf(path, sizeof(path), "hosts[%d]", idx);
#define FP(name) (snprintf(fp, sizeof(fp), "%s.%s", path, name), fp)
	h->weight = 100;
	hs->item = m;
	check_map(c, m, path, keys);
	if (m->type != YAML_MAPPING_NODE)
		return;
	h->pos.line = (int)m->start_mark.line + 1;
	h->pos.col = (int)m->start_mark.column + 1;
	v = need(c, m, path, "name");
	if (v && get_str(c, v, FP("name"), h->name, sizeof(h->name))) {
		if (valid_name(h->name))
			hs->name = v;
		else
			ndiag(c, v, fp,
			      "\"%s\" is not a host name (letters, digits, "
			      "'.', '_', '-')",
			      h->name);
	}
	v = need(c, m, path, "address");
	if (v && get_addr(c, v, FP("address"), 0, &h->address))
		hs->address = v;
	v = get(c, m, "server_id", NULL);
	if (v) {
		hs->server_id = v;
		hs->sid_len = get_hex(c, v, FP("server_id"), hs->sid,
				      QLB_SID_MAX_LEN, false);
		hs->sid_ok = hs->sid_len > 0;
		if (!hs->sid_len)
			ndiag(c, v, fp, "is empty");
	}
	v = get(c, m, "server_ids", NULL);
	if (v && v->type != YAML_MAPPING_NODE) {
		ndiag(c, v, FP("server_ids"),
		      "expected a mapping {config id: hex server ID}, got %s",
		      kind(v));
	} else if (v) {
		yaml_node_pair_t *p;

		for (p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node(c, p->key),
				    *x = node(c, p->value);
			unsigned int id;
			char ip[128];

			if (!get_uint(c, k, FP("server_ids"), 0,
				      QLB_CONFIG_MAX - 1, &id))
				continue;
			snprintf(ip, sizeof(ip), "%s.server_ids[%u]", path, id);
			if (hs->sid_node[id]) {
				ndiag(c, k, ip,
				      "duplicate key (first given at %d:%d)",
				      (int)hs->sid_key[id]->start_mark.line + 1,
				      (int)hs->sid_key[id]->start_mark.column +
					      1);
				continue;
			}
			hs->ids_len[id] = get_hex(c, x, ip, hs->ids[id],
						  QLB_SID_MAX_LEN, false);
			if (!hs->ids_len[id]) {
				ndiag(c, x, ip, "is empty");
				hs->ids_len[id] = -1;
			}
			hs->sid_node[id] = x;
			hs->sid_key[id] = k;
		}
	}
	if (!get(c, m, "server_id", NULL) && !v)
		ndiag(c, m, path,
		      "missing required key 'server_id' (or server_ids)");
	v = get(c, m, "encap", NULL);
	if (v && get_enum(c, v, FP("encap"), encap_names, 2, &u))
		h->encap = (enum qlb_encap)u;
	v = get(c, m, "weight", NULL);
	if (v)
		get_uint(c, v, FP("weight"), 0, 65535, &h->weight);
	v = get(c, m, "state", NULL);
	if (v && get_enum(c, v, FP("state"), host_state_names, 3, &u))
		h->state = (enum qlb_host_state)u;
#undef FP
}

/* Server IDs of every host under every valid config: lengths, worker bits,
 * duplicates. */
static void check_sids(struct ctx *c, const struct conf_seen *seen,
		       struct host_seen *hs)
{
	struct qlb_config *cfg = c->cfg;
	unsigned int id, i, j;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *q = &cfg->configs[id];

		if (!q->present || !seen[id].ok)
			continue;
		for (i = 0; i < cfg->nhosts; i++) {
			struct qlb_conf_host *h = &cfg->hosts[i];
			const yaml_node_t *n;
			const uint8_t *sid;
			char path[96];
			unsigned int wb = q->worker_bits, b;
			int len;

			if (hs[i].sid_node[id]) {
				n = hs[i].sid_node[id];
				len = hs[i].ids_len[id];
				sid = hs[i].ids[id];
				snprintf(path, sizeof(path),
					 "hosts[%u].server_ids[%u]", i, id);
			} else if (hs[i].server_id) {
				n = hs[i].server_id;
				len = hs[i].sid_ok ? hs[i].sid_len : -1;
				sid = hs[i].sid;
				snprintf(path, sizeof(path),
					 "hosts[%u].server_id", i);
			} else {
				continue;
			}
			if (len <= 0)
				continue;
			if ((unsigned int)len != q->sid_len) {
				ndiag(c, n, path,
				      "\"%s\" is %d byte%s but config %u has "
				      "server_id_len %u%s",
				      sval(n), len, len == 1 ? "" : "s", id,
				      q->sid_len,
				      hs[i].sid_node[id]
					      ? ""
					      : " (give server_ids: {ID: HEX} "
						"per config)");
				continue;
			}
			for (b = 0; b < wb; b++)
				if (sid[len - 1 - b / 8] & (1u << (b % 8)))
					break;
			if (b < wb) {
				ndiag(c, n, path,
				      "\"%s\" has worker bits set: config %u "
				      "has worker_bits %u, so its low %u bits "
				      "must be zero",
				      sval(n), id, wb, wb);
				continue;
			}
			for (j = 0; j < i; j++) {
				if (!cfg->hosts[j].has_sid[id] ||
				    memcmp(cfg->hosts[j].sid[id], sid, len))
					continue;
				ndiag(c, n, path,
				      "server ID %s under config %u is already "
				      "hosts[%u]'s (%s)",
				      sval(n), id, j, cfg->hosts[j].name);
				break;
			}
			if (j < i)
				continue;
			memcpy(h->sid[id], sid, len);
			h->has_sid[id] = true;
		}
	}
}

static void parse_hosts(struct ctx *c, const yaml_node_t *n,
			const struct conf_seen *seen)
{
	struct qlb_config *cfg = c->cfg;
	struct host_seen *hs;
	int i, j, cnt;

	if (!want_seq(c, n, "hosts"))
		return;
	cnt = seq_len(n);
	if (!cnt) {
		ndiag(c, n, "hosts", "at least one host is needed");
		return;
	}
	if (cnt > QLB_MAX_HOSTS) {
		ndiag(c, n, "hosts", "%d hosts, more than the maximum %d", cnt,
		      QLB_MAX_HOSTS);
		return;
	}
	cfg->hosts = calloc(cnt, sizeof(*cfg->hosts));
	hs = calloc(cnt, sizeof(*hs));
	if (!cfg->hosts || !hs) {
		ndiag(c, n, "hosts", "out of memory");
		free(hs);
		return;
	}
	cfg->nhosts = cnt;
	for (i = 0; i < cnt; i++)
		parse_host(c, seq_item(c, n, i), i, &cfg->hosts[i], &hs[i]);
	for (i = 0; i < cnt; i++) {
		char path[64];

		if (!hs[i].name)
			continue;
		for (j = 0; j < i; j++) {
			if (!hs[j].name ||
			    strcmp(cfg->hosts[i].name, cfg->hosts[j].name))
				continue;
			snprintf(path, sizeof(path), "hosts[%d].name", i);
			ndiag(c, hs[i].name, path,
			      "host \"%s\" is already defined at %d:%d",
			      cfg->hosts[i].name,
			      (int)hs[j].name->start_mark.line + 1,
			      (int)hs[j].name->start_mark.column + 1);
			break;
		}
	}
	check_sids(c, seen, hs);
	/* the outer header takes the host's family: its source must exist */
	if (cfg->lb.present) {
		for (i = 0; i < cnt; i++) {
			const struct qlb_addr *a = &cfg->hosts[i].address;
			char path[64];

			snprintf(path, sizeof(path), "hosts[%d].address", i);
			if (a->family == AF_INET && !c->src_given[0])
				ndiag(c, hs[i].address, path,
				      "an IPv4 host needs lb.encap_source_v4 "
				      "(the outer source address)");
			if (a->family == AF_INET6 && !c->src_given[1])
				ndiag(c, hs[i].address, path,
				      "an IPv6 host needs lb.encap_source_v6 "
				      "(the outer source address)");
		}
	}
	free(hs);
}

/* ---- host (agent) --------------------------------------------------- */

static void get_ids(struct ctx *c, const yaml_node_t *n, const char *path,
		    uint32_t *out, unsigned int *cnt)
{
	char p[64];
	long long v;
	int i;

	if (!want_seq(c, n, path))
		return;
	if (seq_len(n) > QLB_MAX_ALLOW) {
		ndiag(c, n, path, "%d entries, more than the maximum %d",
		      seq_len(n), QLB_MAX_ALLOW);
		return;
	}
	for (i = 0; i < seq_len(n); i++) {
		snprintf(p, sizeof(p), "%s[%d]", path, i);
		/* (uint32_t)-1 means "no change" to the kernel: never an id */
		if (get_int(c, seq_item(c, n, i), p, 0, UINT32_MAX - 1, &v))
			out[(*cnt)++] = (uint32_t)v;
	}
}

static void parse_agent(struct ctx *c, const yaml_node_t *n,
			const struct conf_seen *seen)
{
	static const char *const keys[] = {
		"name",	   "interface",	 "agent_socket", "pin_dir", "gue_port",
		"workers", "allow_uids", "allow_gids",	 NULL};
	struct qlb_conf_agent *a = &c->cfg->host;
	yaml_node_t *v;
	unsigned int u, id;

	a->present = true;
	check_map(c, n, "host", keys);
	if (n->type != YAML_MAPPING_NODE)
		return;
	v = need(c, n, "host", "name");
	if (v && get_str(c, v, "host.name", a->name, sizeof(a->name)) &&
	    c->cfg->hosts && !qlb_config_host(c->cfg, a->name))
		ndiag(c, v, "host.name", "\"%s\" is not a name in hosts",
		      a->name);
	v = need(c, n, "host", "interface");
	if (v)
		valid_ifname(c, v, "host.interface", a->interface);
	v = get(c, n, "agent_socket", NULL);
	if (v &&
	    get_abs_path(c, v, "host.agent_socket", a->agent_socket,
			 sizeof(a->agent_socket)) &&
	    strlen(a->agent_socket) >= 108)
		ndiag(c, v, "host.agent_socket",
		      "too long for a Unix socket path (at most 107 bytes)");
	v = get(c, n, "pin_dir", NULL);
	if (v)
		get_abs_path(c, v, "host.pin_dir", a->pin_dir,
			     sizeof(a->pin_dir));
	v = get(c, n, "gue_port", NULL);
	if (v && get_uint(c, v, "host.gue_port", 1, 65535, &u))
		a->gue_port = (uint16_t)u;
	v = get(c, n, "workers", NULL);
	if (v && get_uint(c, v, "host.workers", 0, 65536, &a->workers)) {
		for (id = 0; id < QLB_CONFIG_MAX; id++) {
			const struct qlb_conf_cid *q = &c->cfg->configs[id];

			if (!q->present || !seen[id].ok ||
			    a->workers <= (1u << q->worker_bits))
				continue;
			ndiag(c, v, "host.workers",
			      "%u workers do not fit in worker_bits %u of "
			      "config %u (at most %u)",
			      a->workers, q->worker_bits, id,
			      1u << q->worker_bits);
			break;
		}
	}
	v = get(c, n, "allow_uids", NULL);
	if (v)
		get_ids(c, v, "host.allow_uids", a->allow_uids,
			&a->nallow_uids);
	v = get(c, n, "allow_gids", NULL);
	if (v)
		get_ids(c, v, "host.allow_gids", a->allow_gids,
			&a->nallow_gids);
}

/* ---- the file ------------------------------------------------------- */

static void set_defaults(struct qlb_config *cfg)
{
	cfg->lb.xdp_mode = QLB_XDP_NATIVE;
	snprintf(cfg->lb.pin_dir, sizeof(cfg->lb.pin_dir),
		 "/sys/fs/bpf/qlb/lb");
	cfg->lb.maglev_table_size = QLB_DEFAULT_MAGLEV_SIZE;
	cfg->lb.mtu = QLB_DEFAULT_MTU;
	cfg->lb.gue_port = QLB_DEFAULT_GUE_PORT;
	snprintf(cfg->host.agent_socket, sizeof(cfg->host.agent_socket),
		 "/run/qlb/agent.sock");
	snprintf(cfg->host.pin_dir, sizeof(cfg->host.pin_dir),
		 "/sys/fs/bpf/qlb/host");
	cfg->host.gue_port = QLB_DEFAULT_GUE_PORT;
}

static void parse_root(struct ctx *c, yaml_node_t *root)
{
	static const char *const keys[] = {"quic_lb", "lb", "hosts", "host",
					   NULL};
	struct conf_seen seen[QLB_CONFIG_MAX] = {0};
	struct qlb_config *cfg = c->cfg;
	yaml_node_t *v, *lb, *host;

	if (!root) {
		ndiag(c, NULL, "", "the file is empty: quic_lb is required");
		return;
	}
	check_map(c, root, "", keys);
	if (root->type != YAML_MAPPING_NODE)
		return;
	v = get(c, root, "quic_lb", NULL);
	if (v)
		parse_quic_lb(c, v, seen);
	else
		ndiag(c, root, "", "missing required section 'quic_lb'");
	lb = get(c, root, "lb", NULL);
	host = get(c, root, "host", NULL);
	/* lb first: hosts need lb's encap sources */
	/* neither lb nor host is fine too: the shared part of a fleet file
	 * that operators rotate and each node's file extends */
	if (lb)
		parse_lb(c, lb);
	v = get(c, root, "hosts", NULL);
	if (v)
		parse_hosts(c, v, seen);
	else
		ndiag(c, root, "", "missing required section 'hosts'");
	if (host)
		parse_agent(c, host, seen);
	if (lb && host && cfg->lb.gue_port != cfg->host.gue_port) {
		yaml_node_t *g = get(c, host, "gue_port", NULL);

		if (!g)
			g = get(c, lb, "gue_port", NULL);
		ndiag(c, g,
		      g && g == get(c, host, "gue_port", NULL) ? "host.gue_port"
							       : "lb.gue_port",
		      "lb.gue_port %u and host.gue_port %u differ: LB nodes "
		      "would send GUE where hosts do not listen",
		      cfg->lb.gue_port, cfg->host.gue_port);
	}
	if (lb && lb->type == YAML_MAPPING_NODE &&
	    cfg->lb.maglev_table_size <= cfg->nhosts) {
		yaml_node_t *m = get(c, lb, "maglev_table_size", NULL);

		ndiag(c, m ? m : lb, "lb.maglev_table_size",
		      "%u is not above the number of hosts (%u)",
		      cfg->lb.maglev_table_size, cfg->nhosts);
	}
}

static int read_file(const char *path, char **out, size_t *len, char *err,
		     size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
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

int qlb_config_load_diag(const char *path, struct qlb_config *cfg, FILE *errf,
			 struct qlb_diags *diags)
{
	struct ctx c = {.file = path, .cfg = cfg};
	yaml_parser_t parser;
	yaml_document_t extra;
	char err[256], *text = NULL, *slash;
	bool parsed = false;
	unsigned int i;
	int n;

	memset(cfg, 0, sizeof(*cfg));
	if (diags)
		memset(diags, 0, sizeof(*diags));
	set_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(c.dir, sizeof(c.dir), "%s", path);
	slash = strrchr(c.dir, '/');
	if (slash)
		*(slash == c.dir ? slash + 1 : slash) = 0;
	else
		snprintf(c.dir, sizeof(c.dir), ".");

	if (read_file(path, &text, &c.len, err, sizeof(err)) < 0) {
		ndiag_at(&c, 0, 0, "%s", err);
		goto report;
	}
	c.text = text;
	if (c.len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		c.bom = 3;
	if (!yaml_parser_initialize(&parser)) {
		ndiag(&c, NULL, "", "out of memory");
		goto report;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
				     c.len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		yaml_mark_t m = parser.problem_mark;

		if (parser.context)
			ndiag_at(&c, (int)m.line + 1, (int)m.column + 1,
				 "YAML syntax error: %s (%s at %d:%d)",
				 parser.problem, parser.context,
				 (int)parser.context_mark.line + 1,
				 (int)parser.context_mark.column + 1);
		else
			ndiag_at(&c, (int)m.line + 1, (int)m.column + 1,
				 "YAML syntax error: %s",
				 parser.problem ? parser.problem : "unknown");
	} else {
		parsed = true;
		parse_root(&c, yaml_document_get_root_node(&c.doc));
		if (yaml_parser_load(&parser, &extra)) {
			yaml_node_t *r = yaml_document_get_root_node(&extra);

			if (r)
				ndiag(&c, r, "",
				      "a second YAML document: the file must "
				      "hold one");
			yaml_document_delete(&extra);
		}
	}
	yaml_parser_delete(&parser);
	if (parsed) {
		yaml_node_t *nd;

		/* inline keys live in the scalars: wipe them before freeing */
		for (nd = c.doc.nodes.start; nd < c.doc.nodes.top; nd++)
			if (nd->type == YAML_SCALAR_NODE)
				explicit_bzero(nd->data.scalar.value,
					       nd->data.scalar.length);
		yaml_document_delete(&c.doc);
	}
report:
	n = (int)c.d.n;
	if (c.d.n > 1)
		qsort(c.d.v, c.d.n, sizeof(*c.d.v), diag_cmp);
	if (!errf && !diags)
		errf = stderr;
	for (i = 0; errf && i < c.d.n; i++) {
		if (c.d.v[i].line)
			fprintf(errf, "%s:%d:%d: %s\n", path, c.d.v[i].line,
				c.d.v[i].col,
				c.d.v[i].msg ? c.d.v[i].msg : "?");
		else
			fprintf(errf, "%s: %s\n", path,
				c.d.v[i].msg ? c.d.v[i].msg : "?");
	}
	if (diags)
		*diags = c.d;
	else
		qlb_diags_free(&c.d);
	if (text) {
		explicit_bzero(text, c.len);
		free(text);
	}
	if (n) {
		qlb_config_free(cfg);
		memset(cfg, 0, sizeof(*cfg));
	}
	return n;
}

void qlb_config_free(struct qlb_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->hosts);
	cfg->hosts = NULL;
	cfg->nhosts = 0;
	explicit_bzero(cfg->configs, sizeof(cfg->configs));
}

int qlb_config_load(const char *path, struct qlb_config *cfg, FILE *errf)
{
	return qlb_config_load_diag(path, cfg, errf ? errf : stderr, NULL);
}

int qlb_config_cid_cfg(const struct qlb_config *cfg, unsigned int id,
		       struct qlb_cid_cfg *out)
{
	const struct qlb_conf_cid *q;

	if (id >= QLB_CONFIG_MAX || !cfg->configs[id].present)
		return -EINVAL;
	q = &cfg->configs[id];
	return qlb_cid_cfg_init(out, id, q->sid_len, q->nonce_len,
				q->has_key ? q->key : NULL, q->encode_length,
				q->worker_bits);
}

const struct qlb_conf_host *qlb_config_host(const struct qlb_config *cfg,
					    const char *name)
{
	unsigned int i;

	for (i = 0; i < cfg->nhosts; i++)
		if (!strcmp(cfg->hosts[i].name, name))
			return &cfg->hosts[i];
	return NULL;
}

const char *qlb_conf_state_name(enum qlb_conf_state s)
{
	return (unsigned int)s < 3 ? conf_state_names[s] : "?";
}

const char *qlb_host_state_name(enum qlb_host_state s)
{
	return (unsigned int)s < 3 ? host_state_names[s] : "?";
}

const char *qlb_encap_name(enum qlb_encap e)
{
	return (unsigned int)e < 2 ? encap_names[e] : "?";
}

const char *qlb_xdp_mode_name(enum qlb_xdp_mode m)
{
	return (unsigned int)m < 2 ? xdp_mode_names[m] : "?";
}

const char *qlb_addr_str(const struct qlb_addr *a, char *buf, size_t len)
{
	if (!a->family || !inet_ntop(a->family, a->bytes, buf, len))
		snprintf(buf, len, "-");
	return buf;
}
