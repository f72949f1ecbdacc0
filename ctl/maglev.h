/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016), computed
 * in user space for the LB node's fallback. The table depends only on the
 * backends' names, weights and the table size: every LB node given the same
 * file builds the same table, whatever the order of the hosts in it.
 */
#ifndef QLB_CTL_MAGLEV_H
#define QLB_CTL_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

#define QLB_MAGLEV_EMPTY 0xffffffffu /* entry when there is no backend */

struct qlb_maglev_backend {
	const char *name; /* identity: decides the backend's permutation */
	uint32_t weight; /* share of entries relative to the others; 0 = none */
	uint32_t id;	 /* what the table entries hold */
};

/* Whether @n is prime (Maglev needs a prime table size). */
int qlb_maglev_is_prime(uint32_t n);

/*
 * qlb_maglev_build() - fill @table (@size entries, @size prime) so that
 * each backend owns a share of entries proportional to its weight.
 * Backends with weight 0 get none; with no backend of positive weight every
 * entry is QLB_MAGLEV_EMPTY. Names must be distinct.
 * Return: 0, -EINVAL (size not prime, or names repeat) or -ENOMEM.
 */
int qlb_maglev_build(const struct qlb_maglev_backend *b, size_t n,
		     uint32_t size, uint32_t *table);

#endif /* QLB_CTL_MAGLEV_H */
