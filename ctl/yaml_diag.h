/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A YAML file read whole with libyaml's document API, every problem kept as
 * "line:col: path: message", and typed getters that check a node and report
 * what is wrong with it. Knows nothing of qlb's schema (config.c has that).
 */
#ifndef QLB_CTL_YAML_DIAG_H
#define QLB_CTL_YAML_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <yaml.h>

#include "config.h" /* struct qlb_diags, qlb_addr, qlb_span */

struct qlb_ydoc {
	const char *file;
	char *text; /* the file, for byte offsets of marks */
	size_t len;
	size_t bom; /* bytes of a UTF-8 BOM libyaml skipped */
	yaml_document_t doc;
	bool parsed; /* doc holds a document */
	struct qlb_diags d;
	unsigned int cap;
};

/*
 * qlb_y_open() - read @path and parse its one YAML document into @y (zero
 * it first). Problems (unreadable, syntax error, a second document) are
 * recorded in y->d.
 * Return: the root node; NULL when the file is empty or could not be read
 * or parsed (y->parsed says which).
 */
yaml_node_t *qlb_y_open(struct qlb_ydoc *y, const char *path);

/*
 * qlb_y_close() - wipe and free the document and the text, sort the
 * problems by place, print them to @errf as "file:line:col: message" (if
 * not NULL) and hand them to @diags (if not NULL; else free them).
 * Return: the number of problems.
 */
int qlb_y_close(struct qlb_ydoc *y, FILE *errf, struct qlb_diags *diags);

/* A problem at node @n (NULL = the top of the file), "@path: message". */
void qlb_y_diag(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A problem at @line:@col (0:0 = the file as a whole), no path. */
void qlb_y_diag_at(struct qlb_ydoc *y, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- nodes ---- */
yaml_node_t *qlb_y_node(struct qlb_ydoc *y, int i);
const char *qlb_y_sval(const yaml_node_t *n);
bool qlb_y_is_null(const yaml_node_t *n);
const char *qlb_y_kind(const yaml_node_t *n); /* "a mapping", "a list".. */
/* Where @n is in the text, as byte offsets. */
void qlb_y_span(const struct qlb_ydoc *y, const yaml_node_t *n,
		struct qlb_span *s);
/* Byte offset of libyaml's character index @idx. */
size_t qlb_y_boff(const struct qlb_ydoc *y, size_t idx);
/* "line:col" of a node, 1-based. */
#define QLB_Y_LINE(n) ((int)(n)->start_mark.line + 1)
#define QLB_Y_COL(n)  ((int)(n)->start_mark.column + 1)

/* ---- mappings and lists ---- */
/*
 * qlb_y_map() - @n must be a mapping whose keys are all in @known (NULL
 * terminated) and appear once. Reports every other key.
 * Return: true when all keys are known and unique.
 */
bool qlb_y_map(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       const char *const *known);
/* The value of key @name in mapping @m (first one), or NULL. */
yaml_node_t *qlb_y_get(struct qlb_ydoc *y, const yaml_node_t *m,
		       const char *name, yaml_node_t **keyp);
/* qlb_y_get() that reports "missing required key" when absent. */
yaml_node_t *qlb_y_need(struct qlb_ydoc *y, const yaml_node_t *m,
			const char *path, const char *name);
bool qlb_y_want_seq(struct qlb_ydoc *y, const yaml_node_t *n, const char *path);
int qlb_y_seq_len(const yaml_node_t *n);
yaml_node_t *qlb_y_seq_item(struct qlb_ydoc *y, const yaml_node_t *n, int i);

/* ---- typed scalars: each reports its own problem and returns false (or
 * -1); @out is written only on success ---- */
bool qlb_y_want_scalar(struct qlb_ydoc *y, const yaml_node_t *n,
		       const char *path, const char *what);
/* Decimal or 0x hex, plain style (a quoted "443" is a string). */
bool qlb_y_int(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       long long min, long long max, long long *out);
bool qlb_y_uint(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		unsigned int min, unsigned int max, unsigned int *out);
bool qlb_y_bool(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		bool *out);
bool qlb_y_str(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       char *buf, size_t size);
bool qlb_y_enum(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		const char *const *names, unsigned int nnames,
		unsigned int *out);
/* @family: AF_INET, AF_INET6, or 0 for either. */
bool qlb_y_addr(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
		int family, struct qlb_addr *out);
/*
 * qlb_y_hex() - hex digits into @out (at most @max bytes). @secret: a
 * mistyped key is still mostly the key, so messages call it "the key" and
 * never echo it.
 * Return: the byte count (0 for an empty string), or -1.
 */
int qlb_y_hex(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	      uint8_t *out, size_t max, bool secret);
bool qlb_y_mac(struct qlb_ydoc *y, const yaml_node_t *n, const char *path,
	       uint8_t mac[6]);

#endif /* QLB_CTL_YAML_DIAG_H */
