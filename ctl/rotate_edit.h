/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * In-place editing of a qlb YAML file for qlbctl rotate. libyaml cannot
 * write a document back with its comments, so the text is edited at the
 * byte spans the parser recorded (struct qlb_conf_marks in config.h); the
 * result is validated whole before it atomically replaces the original.
 */
#ifndef QLB_CTL_ROTATE_EDIT_H
#define QLB_CTL_ROTATE_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "config.h"

#define QLB_MAX_EDITS 8

struct qlb_edit {
	size_t start, end; /* replace text[start, end) */
	char text[512];
};

/* Initialise with {.path = FILE, .lock_fd = -1} (and .service). */
struct qlb_doc {
	const char *path;
	const char *service; /* NULL: the top-level quic_lb */
	char *text;
	size_t len;
	struct stat st;
	struct qlb_config cfg;
	/* the quic_lb block rotated: the top-level one or @service's own */
	const struct qlb_conf_cid *configs;
	const struct qlb_conf_marks *marks;
	bool loaded;
	bool crlf;   /* the file ends its lines with CR LF */
	int lock_fd; /* the file, flock()ed while we edit it */
	struct qlb_edit edits[QLB_MAX_EDITS];
	int nedits;
};

/*
 * qlb_doc_read() - lock @d->path (one rotate at a time), read its text and
 * load it; the file must be valid. Errors go through qlb_err().
 * Return: 0 or -1.
 */
int qlb_doc_read(struct qlb_doc *d);
/*
 * qlb_doc_block() - the configs and marks of @cfg's quic_lb block that
 * rotate edits: the top-level one (@service NULL) or the own block of
 * service @service. Errors (no such service, or one that uses the
 * top-level block) go through qlb_err().
 * Return: 0 or -1.
 */
int qlb_doc_block(const struct qlb_config *cfg, const char *file,
		  const char *service, const struct qlb_conf_cid **configs,
		  const struct qlb_conf_marks **marks);
/* Release the lock and free what qlb_doc_read() allocated. */
void qlb_doc_free(struct qlb_doc *d);

/* Queue replacing text [@start, @end) (fill ->text). NULL when full. */
struct qlb_edit *qlb_doc_add_edit(struct qlb_doc *d, size_t start, size_t end);

/*
 * qlb_doc_commit() - apply the edits into a file beside the original, validate
 * it whole and rename it over the original. Nothing changes on failure.
 * Return: 0 or -1 (reason given through qlb_err()).
 */
int qlb_doc_commit(struct qlb_doc *d);

/* Config @id can be edited (block style); says why not otherwise. */
bool qlb_doc_editable(const struct qlb_doc *d, unsigned int id);

/* Set key @key of config @id to @val: replace its value at @span, or add a
 * line at the end of the item. Return: 0 or -1. */
int qlb_doc_set_key(struct qlb_doc *d, unsigned int id, const char *key,
		    const struct qlb_span *span, const char *val);

/* write() all of @p, retrying on EINTR. Return: 0 or -1 (errno set). */
int qlb_doc_write_all(int fd, const char *p, size_t len);

#endif /* QLB_CTL_ROTATE_EDIT_H */
