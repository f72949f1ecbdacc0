/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What the parts of VIP announcement share (announce.c: the kernel table;
 * announce_bird.c: the routing daemon; announce_drain.c: maintenance
 * drain; announce_status.c: status and metrics). Not an interface of its
 * own: the public one is announce.h.
 */
#ifndef QLB_CTL_ANNOUNCE_INT_H
#define QLB_CTL_ANNOUNCE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "announce.h"

static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen || err[0]) /* keep the first problem */
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static inline bool addr_eq(const struct qlb_addr *a, const struct qlb_addr *b)
{
	if (a->family != b->family)
		return false;
	return !memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

#endif /* QLB_CTL_ANNOUNCE_INT_H */
