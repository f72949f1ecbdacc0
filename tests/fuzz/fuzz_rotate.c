// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libFuzzer harness of `qlbctl rotate` (ctl/rotate.c), which edits the
 * fleet YAML in place at byte spans the parser recorded: arbitrary bytes
 * are the file, then `rotate new`, `promote` of the new config and
 * `retire --force` of the one it replaced run through cmd_rotate(), as
 * the command line would.
 *
 * Checked on every input:
 *  - a step that fails leaves the file byte-identical ("any failure leaves
 *    the file untouched");
 *  - a step that succeeds leaves a file qlb_config_load() accepts, with
 *    exactly the intended change: new adds one routable config with a key
 *    in a fresh 0600 key file and changes no other config; promote makes
 *    it active and the former active one retiring; retire removes only the
 *    retired one;
 *  - no memory error, leak or UB.
 * Files live in a private directory under /dev/shm (rotate fsyncs).
 */
#include <dirent.h>
#include <getopt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fz_tmp.h"
#include "common.h"
#include "config.h"
#include "fz.h"

static char fz_dir[64], fz_path[128];
static FILE *fz_null;

static void fz_empty_dir(void)
{
	DIR *d = opendir(fz_dir);
	struct dirent *e;
	char p[400];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", fz_dir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

static void fz_cleanup(void)
{
	fz_empty_dir();
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_tmpdir("/dev/shm/qlb-fuzz-rotate", fz_dir, sizeof(fz_dir));
	snprintf(fz_path, sizeof(fz_path), "%s/qlb.yaml", fz_dir);
	fz_null = fopen("/dev/null", "w");
	atexit(fz_cleanup);
	return 0;
}

static char *slurp(size_t *len)
{
	FILE *f = fopen(fz_path, "rb");
	char *buf;
	long n;

	if (!f)
		abort();
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Run `qlbctl rotate ARGS...` quietly; the file before and after. */
static int rotate(char **before, size_t *blen, const char *a1, const char *a2,
		  const char *a3)
{
	char *argv[8] = {"rotate",   (char *)a1, "-f", fz_path,
			 (char *)a2, (char *)a3, NULL};
	int argc = 4 + (a2 != NULL) + (a3 != NULL), rc, out, err;

	*before = slurp(blen);
	fflush(stdout);
	fflush(stderr);
	out = dup(1);
	err = dup(2);
	dup2(fileno(fz_null), 1);
	dup2(fileno(fz_null), 2);
	/* a fresh process: glibc's getopt keeps the ordering mode ('+') of
	 * its first call until optind is set to 0, and rotate sets it to 1 */
	{
		char *dummy[] = {"x", NULL};

		optind = 0;
		getopt(1, dummy, "");
	}
	rc = cmd_rotate(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	return rc;
}

static void unchanged(char *before, size_t blen)
{
	size_t alen;
	char *after = slurp(&alen);

	FZ_ASSERT(alen == blen && !memcmp(before, after, blen));
	free(after);
}

static int load(struct qlb_config *c)
{
	return qlb_config_load(fz_path, c, fz_null);
}

static int same_cfg(const struct qlb_conf_cid *a, const struct qlb_conf_cid *b)
{
	return a->present == b->present && a->sid_len == b->sid_len &&
	       a->nonce_len == b->nonce_len &&
	       a->worker_bits == b->worker_bits && a->has_key == b->has_key &&
	       !memcmp(a->key, b->key, 16) &&
	       a->encode_length == b->encode_length;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qlb_config c0, c1, c2;
	char *before, idbuf[8], oldbuf[8];
	int rc, id, old = -1, i;
	size_t blen;
	FILE *f;

	fz_empty_dir();
	f = fopen(fz_path, "wb");
	if (!f || fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	chmod(fz_path, 0600);
	if (load(&c0)) {
		/* rotate refuses a file the loader refuses, and leaves it */
		rc = rotate(&before, &blen, "new", NULL, NULL);
		FZ_ASSERT(rc != 0);
		unchanged(before, blen);
		free(before);
		return 0;
	}
	for (i = 0; i < QLB_CONFIG_MAX; i++)
		if (c0.configs[i].present &&
		    c0.configs[i].state == QLB_CONF_ACTIVE)
			old = i;

	/* new */
	rc = rotate(&before, &blen, "new", NULL, NULL);
	if (rc) {
		unchanged(before, blen);
		free(before);
		goto out0;
	}
	free(before);
	FZ_ASSERT(load(&c1) == 0);
	for (id = -1, i = 0; i < QLB_CONFIG_MAX; i++) {
		if (c0.configs[i].present) {
			FZ_ASSERT(same_cfg(&c0.configs[i], &c1.configs[i]));
			FZ_ASSERT(c0.configs[i].state == c1.configs[i].state);
		} else if (c1.configs[i].present) {
			FZ_ASSERT(id < 0);
			id = i;
		}
	}
	FZ_ASSERT(id >= 0 && c1.configs[id].state == QLB_CONF_ROUTABLE);
	if (c1.configs[id].has_key) {
		struct stat st;

		FZ_ASSERT(c1.configs[id].key_file[0]);
		FZ_ASSERT(stat(c1.configs[id].key_file, &st) == 0 &&
			  (st.st_mode & 0777) == 0600);
	}

	/* promote the new one */
	snprintf(idbuf, sizeof(idbuf), "%d", id);
	rc = rotate(&before, &blen, "promote", idbuf, NULL);
	if (rc) {
		unchanged(before, blen);
		free(before);
		goto out1;
	}
	free(before);
	FZ_ASSERT(load(&c2) == 0);
	FZ_ASSERT(c2.configs[id].state == QLB_CONF_ACTIVE);
	if (old >= 0)
		FZ_ASSERT(c2.configs[old].present &&
			  c2.configs[old].state == QLB_CONF_RETIRING);
	for (i = 0; i < QLB_CONFIG_MAX; i++)
		FZ_ASSERT(same_cfg(&c1.configs[i], &c2.configs[i]));
	qlb_config_free(&c2);

	/* retire the former active one at once */
	if (old >= 0) {
		snprintf(oldbuf, sizeof(oldbuf), "%d", old);
		rc = rotate(&before, &blen, "retire", oldbuf, "--force");
		if (rc) {
			unchanged(before, blen);
		} else {
			FZ_ASSERT(load(&c2) == 0);
			FZ_ASSERT(!c2.configs[old].present &&
				  c2.configs[id].state == QLB_CONF_ACTIVE);
			for (i = 0; i < QLB_CONFIG_MAX; i++)
				if (i != old)
					FZ_ASSERT(same_cfg(&c1.configs[i],
							   &c2.configs[i]));
			qlb_config_free(&c2);
		}
		free(before);
	}
out1:
	qlb_config_free(&c1);
out0:
	qlb_config_free(&c0);
	return 0;
}
