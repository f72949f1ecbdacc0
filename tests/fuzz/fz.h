/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What every libFuzzer harness here shares. */
#ifndef QLB_FZ_H
#define QLB_FZ_H

#include <stdio.h>
#include <stdlib.h>

/* An invariant of the code under test: a failure aborts, which libFuzzer
 * reports as a crash and saves the input. */
#define FZ_ASSERT(c)                                                           \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

#endif /* QLB_FZ_H */
