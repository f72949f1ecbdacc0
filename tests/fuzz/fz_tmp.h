/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A private directory per fuzzer process, PREFIX-PID. libFuzzer ends with
 * _Exit() (atexit handlers do not run) and a crash ends it anywhere, so
 * each start first removes the directories of processes that are gone.
 */
#ifndef QLB_FZ_TMP_H
#define QLB_FZ_TMP_H

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fz_rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Make PREFIX-PID (PREFIX is an absolute path) into @out; abort on error. */
static void fz_tmpdir(const char *prefix, char *out, size_t len)
{
	char parent[256], base[128], p[512];
	size_t bl;
	DIR *d;
	struct dirent *e;

	snprintf(parent, sizeof(parent), "%s", prefix);
	snprintf(base, sizeof(base), "%s-", basename(parent));
	snprintf(parent, sizeof(parent), "%s", prefix);
	bl = strlen(base);
	d = opendir(dirname(parent));
	while (d && (e = readdir(d))) {
		long pid;
		char *end;

		if (strncmp(e->d_name, base, bl))
			continue;
		pid = strtol(e->d_name + bl, &end, 10);
		if (*end || pid <= 0 ||
		    (kill((pid_t)pid, 0) && errno == ESRCH)) {
			snprintf(p, sizeof(p), "%s/%s", parent, e->d_name);
			fz_rm_tree(p);
		}
	}
	if (d)
		closedir(d);
	snprintf(out, len, "%s-%d", prefix, (int)getpid());
	fz_rm_tree(out);
	if (mkdir(out, 0700))
		abort();
}

#endif
