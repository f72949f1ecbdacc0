/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A tiny test harness: CHECK() records a failure with file:line and goes
 * on; t_done() prints the count and returns the exit code.
 */
#ifndef QLB_TESTS_T_H
#define QLB_TESTS_T_H

#include <stdio.h>
#include <string.h>

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

static inline int t_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, t_pass + t_fail, t_fail);
	return t_fail ? 1 : 0;
}

#endif
