// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl rotate's text editor: read and lock the file, queue byte-span
 * edits, write the result beside the file, validate it whole, rename it
 * over the original. See rotate_edit.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common.h"
#include "config.h"
#include "rotate_edit.h"

int qlb_doc_read(struct qlb_doc *d)
{
	struct stat st2;
	ssize_t r;
	size_t got = 0;
	int fd, n, tries;

	/* one rotate at a time: a run that waited for the lock finds the file
	 * replaced by the one before it and starts over on the new file */
	for (tries = 0;; tries++) {
		/* O_NONBLOCK: a FIFO must not hang us before the type check */
		fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			qlb_err("cannot open %s: %s", d->path, strerror(errno));
			return -1;
		}
		d->lock_fd = fd;
		if (fstat(fd, &d->st) < 0 || !S_ISREG(d->st.st_mode)) {
			qlb_err("%s is not a regular file", d->path);
			return -1;
		}
		if (flock(fd, LOCK_EX) < 0) {
			qlb_err("cannot lock %s: %s", d->path, strerror(errno));
			return -1;
		}
		if (stat(d->path, &st2) == 0 && st2.st_ino == d->st.st_ino)
			break;
		close(fd);
		d->lock_fd = -1;
		if (tries == 20) {
			qlb_err("%s keeps being replaced; try again", d->path);
			return -1;
		}
	}
	d->text = malloc(d->st.st_size + 1);
	if (!d->text) {
		qlb_err("out of memory");
		return -1;
	}
	while (got < (size_t)d->st.st_size) {
		r = read(fd, d->text + got, d->st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			qlb_err("cannot read %s: %s", d->path,
				r < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		got += r;
	}
	d->text[got] = 0;
	d->len = got;
	{
		const char *nl = memchr(d->text, '\n', got);

		d->crlf = nl && nl > d->text && nl[-1] == '\r';
	}
	if (got >= 2 &&
	    ((unsigned char)d->text[0] == 0xfe ||
	     (unsigned char)d->text[0] == 0xff || !d->text[0] || !d->text[1])) {
		qlb_err("%s is not UTF-8: rotate edits UTF-8 files only",
			d->path);
		return -1;
	}
	n = qlb_config_load(d->path, &d->cfg, stderr);
	if (n) {
		qlb_err("%s has %d problem%s: fix them before rotating",
			d->path, n, n == 1 ? "" : "s");
		return -1;
	}
	d->loaded = true;
	/* the marks must describe the very text we edit */
	if (stat(d->path, &st2) < 0 || st2.st_ino != d->st.st_ino ||
	    st2.st_size != d->st.st_size ||
	    st2.st_mtim.tv_sec != d->st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != d->st.st_mtim.tv_nsec) {
		qlb_err("%s changed while it was read; try again", d->path);
		return -1;
	}
	return qlb_doc_block(&d->cfg, d->path, d->service, &d->configs,
			     &d->marks);
}

int qlb_doc_block(const struct qlb_config *cfg, const char *file,
		  const char *service, const struct qlb_conf_cid **configs,
		  const struct qlb_conf_marks **marks)
{
	unsigned int i;

	*configs = cfg->configs;
	*marks = &cfg->marks;
	if (!service)
		return 0;
	for (i = 0; i < cfg->nservices; i++) {
		const struct qlb_conf_service *s = &cfg->services[i];

		if (s->implicit || strcmp(s->name, service))
			continue;
		/* its configs are a copy of the top-level ones: editing them
		 * means editing those, for every service that shares them */
		if (!s->own_quic_lb) {
			qlb_err("service \"%s\" of %s uses the top-level "
				"quic_lb: rotate that one (no --service)",
				service, file);
			return -1;
		}
		*configs = s->configs;
		*marks = &s->marks;
		return 0;
	}
	qlb_err("%s has no service \"%s\"", file, service);
	return -1;
}

void qlb_doc_free(struct qlb_doc *d)
{
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* releases the lock */
	if (d->loaded)
		qlb_config_free(&d->cfg);
	free(d->text);
}

struct qlb_edit *qlb_doc_add_edit(struct qlb_doc *d, size_t start, size_t end)
{
	struct qlb_edit *e;

	if (d->nedits == QLB_MAX_EDITS)
		return NULL;
	e = &d->edits[d->nedits++];
	e->start = start;
	e->end = end;
	e->text[0] = 0;
	return e;
}

static int edit_cmp(const void *a, const void *b)
{
	const struct qlb_edit *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x < y ? -1 : 1; /* insertions at one place keep their order */
}

/* Apply the edits (non-overlapping) into a new buffer. */
static char *apply_edits(struct qlb_doc *d, size_t *len)
{
	size_t cap = d->len + 1, pos = 0, o = 0;
	char *out;
	int i;

	for (i = 0; i < d->nedits; i++)
		cap += 2 * strlen(d->edits[i].text);
	out = malloc(cap);
	if (!out)
		return NULL;
	qsort(d->edits, d->nedits, sizeof(d->edits[0]), edit_cmp);
	for (i = 0; i < d->nedits; i++) {
		const struct qlb_edit *e = &d->edits[i];
		const char *t;

		if (e->start < pos || e->end < e->start || e->end > d->len) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		memcpy(out + o, d->text + pos, e->start - pos);
		o += e->start - pos;
		/* inserted lines end as the file's own lines do */
		for (t = e->text; *t; t++) {
			if (*t == '\n' && d->crlf)
				out[o++] = '\r';
			out[o++] = *t;
		}
		pos = e->end;
	}
	memcpy(out + o, d->text + pos, d->len - pos);
	o += d->len - pos;
	out[o] = 0;
	*len = o;
	return out;
}

int qlb_doc_write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= w;
	}
	return 0;
}

static void fsync_dir(const char *path)
{
	char buf[PATH_MAX];
	int fd;

	snprintf(buf, sizeof(buf), "%s", path);
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/*
 * qlb_doc_commit() - write the edited text beside the original, validate it
 * whole, and rename it over the original. Nothing changes on any failure.
 */
int qlb_doc_commit(struct qlb_doc *d)
{
	char tmp[PATH_MAX], dir[PATH_MAX], base[PATH_MAX], *text;
	struct qlb_diags diags;
	struct qlb_config cfg;
	struct stat st2;
	size_t len;
	unsigned int i;
	int fd, n;

	text = apply_edits(d, &len);
	if (!text) {
		qlb_err("cannot edit %s: %s", d->path, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", d->path);
	snprintf(base, sizeof(base), "%s", d->path);
	/* same directory: rename stays atomic and key_file paths still
	 * resolve */
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.qlbctl-XXXXXX", dirname(dir),
		     basename(base)) >= (int)sizeof(tmp)) {
		qlb_err("path too long: %s", d->path);
		free(text);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		qlb_err("cannot create a file beside %s: %s", d->path,
			strerror(errno));
		free(text);
		return -1;
	}
	if (qlb_doc_write_all(fd, text, len) < 0 ||
	    fchmod(fd, d->st.st_mode & 07777) < 0 || fsync(fd) < 0) {
		qlb_err("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* keep the owner when we may (root editing another user's file) */
	if (fchown(fd, d->st.st_uid, d->st.st_gid) < 0 && qlb_verbose)
		qlb_warn("cannot keep the owner of %s: %s", d->path,
			 strerror(errno));
	close(fd);
	fd = -1;
	free(text);
	text = NULL;

	n = qlb_config_load_diag(tmp, &cfg, NULL, &diags);
	if (n) {
		for (i = 0; i < diags.n; i++)
			fprintf(stderr, "%s (as edited):%d:%d: %s\n", d->path,
				diags.v[i].line, diags.v[i].col,
				diags.v[i].msg);
		qlb_diags_free(&diags);
		qlb_err("the edited %s would be invalid (%d problem%s); left "
			"it unchanged",
			d->path, n, n == 1 ? "" : "s");
		goto fail;
	}
	qlb_diags_free(&diags);
	qlb_config_free(&cfg);
	if (stat(d->path, &st2) < 0 || st2.st_ino != d->st.st_ino ||
	    st2.st_mtim.tv_sec != d->st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != d->st.st_mtim.tv_nsec) {
		qlb_err("%s changed while it was edited; left it alone, try "
			"again",
			d->path);
		goto fail;
	}
	if (rename(tmp, d->path) < 0) {
		qlb_err("cannot replace %s: %s", d->path, strerror(errno));
		goto fail;
	}
	fsync_dir(d->path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(text);
	unlink(tmp);
	return -1;
}

bool qlb_doc_editable(const struct qlb_doc *d, unsigned int id)
{
	if (!d->marks->configs_block || !d->marks->item_block[id]) {
		qlb_err("%s: config %u is written in flow style ({...} or "
			"[...]); rotate edits block-style lists only",
			d->path, id);
		return false;
	}
	return true;
}

/* Set key @key of config @id to @val: replace its value, or add a line. */
int qlb_doc_set_key(struct qlb_doc *d, unsigned int id, const char *key,
		    const struct qlb_span *span, const char *val)
{
	const struct qlb_conf_marks *mk = d->marks;
	struct qlb_edit *e;

	if (span->end > span->start) {
		e = qlb_doc_add_edit(d, span->start, span->end);
		if (!e)
			return -1;
		snprintf(e->text, sizeof(e->text), "%s", val);
		return 0;
	}
	e = qlb_doc_add_edit(d, mk->item[id].end, mk->item[id].end);
	if (!e)
		return -1;
	/* the item may end the file without a newline */
	snprintf(e->text, sizeof(e->text), "%s%*s%s: %s\n",
		 mk->item[id].end && d->text[mk->item[id].end - 1] != '\n'
			 ? "\n"
			 : "",
		 mk->key_col[id], "", key, val);
	return 0;
}
