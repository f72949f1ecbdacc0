// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Weighted Maglev: identical input gives identical tables (in any order),
 * removing one of N hosts moves close to 1/N of the flows, weights shape
 * the shares. Flows are hashed exactly as the XDP program hashes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "t.h"
#include "maglev.h"
#include "qlb/abi/lb_abi.h"

#define M     65537
#define FLOWS 200000

static uint32_t t1[M], t2[M];

static uint32_t flow_host(const uint32_t *t, uint32_t f)
{
	uint32_t s = 0xc6120000u + f, d = 0xc6120101u; /* 198.18.x.x */
	uint32_t ports = (f * 2654435761u) | 443u << 16;

	return t[qlb_lb_maglev_index(qlb_lb_flow_hash(4, &s, &d, ports), M)];
}

int main(void)
{
	char names[16][16];
	struct qlb_maglev_backend b[16], r[16];
	uint32_t cnt[16] = {0};
	unsigned int i, n = 10, moved = 0, lost = 0, stay = 0;
	double share;

	for (i = 0; i < 16; i++) {
		snprintf(names[i], sizeof(names[i]), "web%u", i + 1);
		b[i] = (struct qlb_maglev_backend){names[i], 100, i};
	}
	CHECK(qlb_maglev_is_prime(65537) && qlb_maglev_is_prime(251) &&
		      !qlb_maglev_is_prime(65536) && !qlb_maglev_is_prime(1),
	      "primes");
	CHECK(qlb_maglev_build(b, n, 65536, t1) == -EINVAL, "non-prime size");

	/* identical input, and the same hosts in reverse order */
	CHECK(qlb_maglev_build(b, n, M, t1) == 0, "build");
	for (i = 0; i < n; i++)
		r[i] = b[n - 1 - i];
	CHECK(qlb_maglev_build(r, n, M, t2) == 0, "build");
	CHECK_MEM(t1, t2, sizeof(t1),
		  "tables of the same hosts in another order");
	for (i = 0; i < M; i++)
		cnt[t1[i]]++;
	for (i = 0; i < n; i++)
		CHECK(cnt[i] >= M / n - M / n / 20 &&
			      cnt[i] <= M / n + M / n / 20,
		      "equal weights: host %u has %u of %u entries", i, cnt[i],
		      M);

	/* remove web4 (index 3): flows of other hosts should mostly stay */
	for (i = 0; i < n - 1; i++)
		r[i] = b[i < 3 ? i : i + 1];
	CHECK(qlb_maglev_build(r, n - 1, M, t2) == 0, "build");
	for (i = 0; i < FLOWS; i++) {
		uint32_t a = flow_host(t1, i), c = flow_host(t2, i);

		if (a != c)
			moved++;
		if (a == 3)
			lost++;
		if (c == 3)
			stay++;
	}
	CHECK(stay == 0, "%u flows still on the removed host", stay);
	share = (double)moved / FLOWS;
	printf("removing 1 of %u hosts moved %.4f of %u flows (minimum %.4f, "
	       "1/N = %.4f)\n",
	       n, share, FLOWS, (double)lost / FLOWS, 1.0 / n);
	CHECK(share >= (double)lost / FLOWS,
	      "at least the removed host's flows move");
	CHECK(share <= 1.3 / n, "moved share %.4f above 1.3/N", share);

	/* weights shape the shares: 100, 200, 300 -> 1/6, 2/6, 3/6 */
	b[0].weight = 100;
	b[1].weight = 200;
	b[2].weight = 300;
	b[3].weight = 0; /* weight 0: no fallback share at all */
	CHECK(qlb_maglev_build(b, 4, M, t1) == 0, "build");
	for (i = 0; i < 4; i++)
		cnt[i] = 0;
	for (i = 0; i < FLOWS; i++)
		cnt[flow_host(t1, i)]++;
	for (i = 0; i < 3; i++) {
		double want = (i + 1) / 6.0, got = (double)cnt[i] / FLOWS;

		printf("weight %u: %.4f of flows (want %.4f)\n", (i + 1) * 100,
		       got, want);
		CHECK(got > want - 0.02 && got < want + 0.02,
		      "weight %u share %.4f", (i + 1) * 100, got);
	}
	CHECK(cnt[3] == 0, "weight 0 host got %u flows", cnt[3]);

	/* no host of positive weight: every entry empty */
	CHECK(qlb_maglev_build(b + 3, 1, 251, t1) == 0, "build");
	for (i = 0; i < 251; i++)
		if (t1[i] != QLB_MAGLEV_EMPTY)
			break;
	CHECK(i == 251, "entry %u not empty", i);

	/* duplicate names are refused */
	b[1].name = b[0].name;
	CHECK(qlb_maglev_build(b, 3, 251, t1) == -EINVAL, "duplicate names");
	return t_done("test_maglev");
}
