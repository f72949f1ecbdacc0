/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Tests' view of the LB node's decoded-CID cache (include/qlb/abi/lb_abi.h). */
#ifndef QLB_TEST_CID_CACHE_H
#define QLB_TEST_CID_CACHE_H

#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "qlb/abi/lb_abi.h"

/*
 * The decoded-CID cache (one table per CPU): calls @visit, when not NULL,
 * on every used entry of every CPU. Return: the number of used entries, or
 * -1 when the map cannot be read.
 */
static inline int
fx_cache_walk(int fd, void (*visit)(const struct qlb_lb_cache_ent *, void *),
	      void *arg)
{
	int ncpu = libbpf_num_possible_cpus(), n = 0, c;
	struct qlb_lb_cache_ent *v;
	__u32 k;

	if (ncpu <= 0)
		return -1;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -1;
	for (k = 0; k < QLB_LB_CACHE_SIZE; k++) {
		if (bpf_map_lookup_elem(fd, &k, v)) {
			n = -1;
			break;
		}
		for (c = 0; c < ncpu; c++) {
			if (!v[c].gen)
				continue;
			n++;
			if (visit)
				visit(&v[c], arg);
		}
	}
	free(v);
	return n;
}

/* Empty the decoded-CID cache of every CPU. Return: 0 or -1. */
static inline int fx_cache_clear(int fd)
{
	int ncpu = libbpf_num_possible_cpus();
	struct qlb_lb_cache_ent *v;
	__u32 k;
	int r = 0;

	if (ncpu <= 0)
		return -1;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -1;
	for (k = 0; k < QLB_LB_CACHE_SIZE && !r; k++)
		r = bpf_map_update_elem(fd, &k, v, BPF_ANY);
	free(v);
	return r ? -1 : 0;
}

#endif /* QLB_TEST_CID_CACHE_H */
