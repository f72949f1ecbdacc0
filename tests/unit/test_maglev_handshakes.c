// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Handshakes in flight on the LB node while the host set changes. Until
 * the client has the server's first Initial it sends with a DCID it chose
 * itself (Initial retransmits, a second Initial, 0-RTT): the LB routes those
 * by the Maglev fallback, by the 4-tuple, which stays the same for the whole
 * handshake. A handshake moves when its 4-tuple's table entry names another
 * host after the change. Measured here with the real table builder and the
 * XDP program's flow hash, for N = 3, 10 and 32 equal hosts, on random
 * 4-tuples, when one host is
 *  - added: every host survives; at least 1/(N+1) of the flows must move
 *    (the new host's share), so the bound is twice that;
 *  - drained: the new-flow table (qlb_maglev) gives only the draining
 *    host's entries away (ctl/lb_fill.c, fill_maglev(), derived the same
 *    way below): no surviving host's handshake may move, and every one of
 *    the draining host's moves (long headers read the new-flow table);
 *  - found unhealthy (down, removed from the table): the removed host's
 *    handshakes are lost whatever the LB does; of the survivors' the
 *    minimum is none, the bound is the removed host's own share (moved
 *    overall below twice the minimum).
 * Prints the figures (docs/lb.md, "Handshakes in flight").
 */
#include <stdio.h>
#include <stdlib.h>

#include "t.h"
#include "maglev.h"
#include "qlb/abi/lb_abi.h"

#define M     65537 /* lb.maglev_table_size default */
#define FLOWS 200000
#define NMAX  33

static uint32_t before[M], after[M], active[M];
static uint32_t flows[FLOWS];
static char names[NMAX][16];

/* xorshift32: fixed seed, the same 4-tuples every run */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void build(const uint32_t *ids, unsigned int n, uint32_t *table)
{
	struct qlb_maglev_backend b[NMAX];
	unsigned int i;

	for (i = 0; i < n; i++)
		b[i] = (struct qlb_maglev_backend){names[ids[i]], 100, ids[i]};
	CHECK(qlb_maglev_build(b, n, M, table) == 0, "build of %u hosts", n);
}

/* @n hosts web1..webn, @skip (or NMAX = none) left out */
static unsigned int hosts(unsigned int n, unsigned int skip, uint32_t *ids)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		if (i != skip)
			ids[k++] = i;
	return k;
}

/*
 * Flows whose Initial went to a host that survives (stays in the table
 * after, @gone excepted): how many of them, how many moved; and how many
 * flows the change had to move at least (@need: on @gone, or now on it).
 */
static void count(uint32_t gone, bool to_gone, unsigned int *surv,
		  unsigned int *moved, unsigned int *need)
{
	unsigned int i;

	*surv = *moved = *need = 0;
	for (i = 0; i < FLOWS; i++) {
		uint32_t a = before[flows[i]], c = after[flows[i]];

		if (to_gone ? c == gone : a == gone)
			(*need)++;
		if (a == gone)
			continue;
		(*surv)++;
		if (a != c)
			(*moved)++;
	}
}

static void one_n(unsigned int n)
{
	uint32_t ids[NMAX];
	unsigned int k, e, surv, moved, need, dmoved = 0, drained = 0;
	unsigned int victim = n / 2; /* any host: Maglev has no order */
	double sh, lo;

	/* add web(n+1) */
	build(ids, hosts(n, NMAX, ids), before);
	build(ids, hosts(n + 1, NMAX, ids), after);
	count(n, true, &surv, &moved, &need);
	sh = (double)moved / surv;
	lo = 1.0 / (n + 1);
	printf("N=%-2u add:   %.4f of in-flight handshakes move (minimum "
	       "1/(N+1) = %.4f, needed here %.4f)\n",
	       n, sh, lo, (double)need / FLOWS);
	CHECK(moved >= need, "N=%u add: fewer moved than the new host took", n);
	CHECK(sh < 2 * lo, "N=%u add: moved %.4f, not below 2 x %.4f", n, sh,
	      lo);

	/* drain web(victim+1): new-flow table as lb_fill.c derives it */
	build(ids, hosts(n, NMAX, ids), before);
	k = hosts(n, victim, ids);
	build(ids, k, active);
	for (e = 0; e < M; e++)
		after[e] = before[e] == victim ? active[e] : before[e];
	count(victim, false, &surv, &moved, &need);
	for (e = 0; e < FLOWS; e++) {
		if (before[flows[e]] != victim)
			continue;
		drained++;
		dmoved += after[flows[e]] != victim;
	}
	printf("N=%-2u drain: %.4f of the surviving hosts' handshakes move "
	       "(minimum 0); the draining host's %.4f of all: %u of %u "
	       "move\n",
	       n, (double)moved / surv, (double)drained / FLOWS, dmoved,
	       drained);
	CHECK(moved == 0, "N=%u drain: %u surviving handshakes moved", n,
	      moved);
	CHECK(dmoved == drained, "N=%u drain: a draining host's Initial stayed",
	      n);

	/* web(victim+1) down: removed from the table */
	build(ids, k, after);
	count(victim, false, &surv, &moved, &need);
	sh = (double)moved / surv;
	lo = (double)need / FLOWS; /* the removed host's own share */
	printf("N=%-2u down:  %.4f of the surviving hosts' handshakes move "
	       "(minimum 0); with the removed host's %.4f, %.4f of all "
	       "(minimum %.4f)\n",
	       n, sh, lo, (double)(moved + need) / FLOWS, lo);
	CHECK((double)(moved + need) / FLOWS < 2 * lo,
	      "N=%u down: moved %.4f overall, not below 2 x %.4f", n,
	      (double)(moved + need) / FLOWS, lo);
}

int main(void)
{
	uint32_t s = 0x9e3779b9u, d = 0xc6120101u; /* VIP 198.18.1.1 */
	unsigned int i;

	for (i = 0; i < NMAX; i++)
		snprintf(names[i], sizeof(names[i]), "web%u", i + 1);
	/* random clients: any IPv4 source, any source port, to :443 */
	for (i = 0; i < FLOWS; i++) {
		uint32_t src = rnd(&s), ports = (rnd(&s) & 0xffff) | 443u << 16;

		flows[i] = qlb_lb_maglev_index(
			qlb_lb_flow_hash(4, &src, &d, ports), M);
	}
	one_n(3);
	one_n(10);
	one_n(32);
	return t_done("test_maglev_handshakes");
}
