/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A tiny test harness: CHECK() records a failure with file:line and goes
 * on; t_done() prints the count and returns the exit code.
 */
#ifndef QLB_TESTS_T_H
#define QLB_TESTS_T_H

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int t_fail, t_pass;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			t_pass++;                                              \
		} else {                                                       \
			t_fail++;                                              \
			fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__,         \
				__LINE__, #cond);                              \
			fprintf(stderr, "" __VA_ARGS__);                       \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

#define CHECK_MEM(a, b, n, what)                                               \
	CHECK(memcmp((a), (b), (n)) == 0, "%s differs", (what))

/*
 * t_popen() - run the shell command @cmd; its standard output goes into
 * @out (NUL-terminated, at most @size - 1 bytes; the rest is read and
 * dropped so the command never blocks on a full pipe).
 * Return: the command's exit code, or -1.
 */
static inline int t_popen(const char *cmd, char *out, size_t size)
{
	char sink[4096];
	size_t n = 0, r;
	FILE *p = popen(cmd, "r");
	int st;

	if (!p)
		return -1;
	while (n < size - 1 && (r = fread(out + n, 1, size - 1 - n, p)) > 0)
		n += r;
	out[n] = 0;
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int t_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, t_pass + t_fail, t_fail);
	return t_fail ? 1 : 0;
}

#endif
