// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

int qlb_maglev_is_prime(uint32_t n)
{
	uint32_t d;

	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

/* FNV-1a 64 with a seed folded in first: fixed forever (part of what makes
 * two LB nodes agree), not a security boundary. */
static uint64_t name_hash(const char *s, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

struct mg_state {
	uint32_t offset, skip, next, weight, id;
	const char *name;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct mg_state *)a)->name,
		      ((const struct mg_state *)b)->name);
}

int qlb_maglev_build(const struct qlb_maglev_backend *b, size_t n,
		     uint32_t size, uint32_t *table)
{
	struct mg_state *st;
	uint32_t wmax = 0, filled = 0, i;
	uint64_t round;
	size_t k, m = 0;

	if (!qlb_maglev_is_prime(size))
		return -EINVAL;
	for (i = 0; i < size; i++)
		table[i] = QLB_MAGLEV_EMPTY;
	st = calloc(n ? n : 1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		if (!b[k].weight)
			continue;
		st[m].name = b[k].name;
		st[m].weight = b[k].weight;
		st[m].id = b[k].id;
		st[m].offset = name_hash(b[k].name, 0x716c62) % size;
		st[m].skip = name_hash(b[k].name, 0x6d61676c) % (size - 1) + 1;
		if (b[k].weight > wmax)
			wmax = b[k].weight;
		m++;
	}
	/* the order in the file must not matter: fill in name order */
	qsort(st, m, sizeof(*st), by_name);
	for (k = 1; k < m; k++) {
		if (!strcmp(st[k - 1].name, st[k].name)) {
			free(st);
			return -EINVAL;
		}
	}
	/*
	 * Weighted turns: in round r a backend of weight w places
	 * floor((r+1)w/wmax) - floor(rw/wmax) entries (0 or 1), so over the
	 * table its share is w / sum(w).
	 */
	for (round = 0; m && filled < size; round++) {
		for (k = 0; k < m && filled < size; k++) {
			struct mg_state *s = &st[k];
			uint32_t c;

			if ((round + 1) * s->weight / wmax ==
			    round * s->weight / wmax)
				continue;
			/* next free entry of this backend's permutation */
			do {
				c = (uint32_t)(((uint64_t)s->skip * s->next +
						s->offset) %
					       size);
				s->next++;
			} while (table[c] != QLB_MAGLEV_EMPTY);
			table[c] = s->id;
			filled++;
		}
	}
	free(st);
	return 0;
}
