// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* qlb-rpsteer check: see qlb-rpsteer.c. */
#include "rpsteer.h"

/* ---- check -------------------------------------------------------------- */

#define MAXD 4096
static struct dgram ds[MAXD];
static int first[MAXD];
static int failures;

/* random datagrams of every kind into ds[]; returns how many */
static int fill_random(int count, int *nroutable)
{
	int n = 0, k;

	*nroutable = 0;
	/* routable short headers first: [0, *nroutable) */
	for (k = 0; k < count && n < MAXD; k++) {
		uint8_t cid[QLB_CID_MAX_LEN];
		unsigned int id = (unsigned int)random() % NCFG;
		unsigned int w = (unsigned int)random() % NSOCK;

		rps_mint(id, w, 1, cid);
		memset(&ds[n], 0, sizeof(ds[n]));
		rps_short_dgram(&ds[n++], cid);
	}
	*nroutable = n;
	for (k = 0; k < count && n < MAXD; k++) {
		uint8_t cid[QLB_CID_MAX_LEN];
		unsigned int kind = (unsigned int)random() % 9;
		unsigned int id = (unsigned int)random() % NCFG;

		memset(&ds[n], 0, sizeof(ds[n]));
		rnd(cid, sizeof(cid));
		switch (kind) {
		case 0: /* worker without a socket: fallback */
			rps_mint(id, NO_SOCK, 1, cid);
			rps_short_dgram(&ds[n], cid);
			break;
		case 1: /* foreign server ID */
			rps_mint(id, (unsigned int)random() % NSOCK, 0, cid);
			rps_short_dgram(&ds[n], cid);
			break;
		case 2: /* unknown config */
			cid[0] = (uint8_t)((4 + random() % 3) << 5) |
				 (cid[0] & 0x1f);
			rps_short_dgram(&ds[n], cid);
			break;
		case 3: /* 0b111 */
			cid[0] |= 0xe0;
			rps_short_dgram(&ds[n], cid);
			break;
		case 4: /* short datagram, any length 1..40 */
			rps_short_dgram(&ds[n], cid);
			ds[n].len = 1 + (size_t)(random() % 40);
			break;
		case 5: /* long header with a routable CID (Handshake) */
			rps_mint(id, (unsigned int)random() % NSOCK, 1, cid);
			rps_long_dgram(&ds[n], cid,
				       qlb_cid_len(&rps_hcfg[id].cid));
			break;
		case 6: /* long header, client-chosen DCID of any length */
			rps_long_dgram(&ds[n], cid,
				       (unsigned int)(random() % 21));
			break;
		case 7: /* long header, 0b111 DCID */
			cid[0] |= 0xe0;
			rps_long_dgram(&ds[n], cid,
				       8 + (unsigned int)(random() % 13));
			break;
		default: /* random bytes */
			rnd(ds[n].b, sizeof(ds[n].b));
			ds[n].len = 1 + (size_t)(random() % sizeof(ds[n].b));
			break;
		}
		n++;
	}
	return n;
}

/*
 * Every datagram of ds[0..n) through the real program twice and through
 * the reference once: all three choices must agree.
 */
static void compare(struct prog_set *ps, int n, const char *phase)
{
	int rp = bpf_program__fd(ps->rp->progs.qlb_reuseport_select);
	int ref = bpf_program__fd(ps->ref->progs.qlb_reuseport_select);
	int i, bad = 0, a, b;

	rps_attach(rp);
	for (i = 0; i < n; i++)
		first[i] = rps_deliver(&ds[i]);
	for (i = 0; i < n; i++) {
		a = rps_deliver(&ds[i]);
		if (a != first[i] && bad++ < 5)
			fprintf(stderr, "%s: datagram %d: socket %d, then %d\n",
				phase, i, first[i], a);
		if (a != first[i])
			failures++;
	}
	rps_attach(ref);
	for (i = 0; i < n; i++) {
		b = rps_deliver(&ds[i]);
		if (b != first[i] || b < 0) {
			if (bad++ < 5)
				fprintf(stderr,
					"%s: datagram %d (len %zu, first "
					"octet %02x %02x): real %d, reference "
					"%d\n",
					phase, i, ds[i].len, ds[i].b[0],
					ds[i].b[1], first[i], b);
			failures++;
		}
	}
	rps_attach(rp);
	printf("%-34s %5d datagrams, %d differences\n", phase, n, bad);
}

static void close_sock(struct prog_set *ps, int i)
{
	close(rps_socks[i]);
	rps_socks[i] = -1;
	(void)ps;
}

/* A long-header DCID through @prog: which socket. */
static int send_initial(const uint8_t *dcid, unsigned int len)
{
	struct dgram d;

	memset(&d, 0, sizeof(d));
	rps_long_dgram(&d, dcid, len);
	return rps_deliver(&d);
}

static void flow_checks(struct prog_set *ps)
{
	struct qlb_rp_flow_cfg fc = {0};
	uint8_t dc[32][QLB_CID_MAX_LEN];
	int where[32], i, moved = 0, gen2 = 0, back = 0, victim;
	__u64 rec0, fol0, exp0, full0;
	__u32 zero = 0;

	/* generation 1 answers 32 client DCIDs, generation 2 takes over */
	rps_set_working(ps, 1);
	for (i = 0; i < 32; i++) {
		rnd(dc[i], sizeof(dc[i]));
		dc[i][0] &= 0x7f; /* config bits 0..3: not 0b111 */
		where[i] = send_initial(dc[i], 8 + (unsigned int)i % 13);
		if (where[i] < 0 || where[i] >= NGEN1) {
			fprintf(stderr,
				"flows: DCID %d reached socket %d, not "
				"generation 1\n",
				i, where[i]);
			failures++;
		}
	}
	rps_set_working(ps, 2);
	fol0 = rps_stat_sum(ps, QLB_RP_FLOW_FOLLOWED);
	for (i = 0; i < 32; i++)
		if (send_initial(dc[i], 8 + (unsigned int)i % 13) != where[i])
			moved++;
	for (i = 0; i < 32; i++) {
		uint8_t x[QLB_CID_MAX_LEN];

		rnd(x, sizeof(x));
		x[0] &= 0x7f;
		if (send_initial(x, 8) >= NGEN1)
			gen2++;
	}
	printf("flows: after the takeover %d of 32 recorded DCIDs moved "
	       "(followed %llu), %d of 32 new DCIDs reached generation 2\n",
	       moved,
	       (unsigned long long)(rps_stat_sum(ps, QLB_RP_FLOW_FOLLOWED) -
				    fol0),
	       gen2);
	if (moved || gen2 != 32)
		failures++;

	/* a closed socket's records fall back to the working generation
	 * (not socket 0: the program is attached through it) */
	for (i = 0; i < 32 && where[i] <= 0; i++)
		;
	victim = i < 32 ? where[i] : 1;
	close_sock(ps, victim);
	for (i = 0; i < 32; i++) {
		int s;

		if (where[i] != victim)
			continue;
		s = send_initial(dc[i], 8 + (unsigned int)i % 13);
		if (s < NGEN1) {
			fprintf(stderr,
				"flows: DCID %d of a closed socket "
				"reached %d\n",
				i, s);
			failures++;
		}
		back++;
	}
	printf("flows: %d DCIDs of a closed socket fell back to generation "
	       "2\n",
	       back);

	/* expiry: 200 ms; the records are older now */
	fc.timeout_ns = 200000000ull;
	bpf_map_update_elem(ps->m_fcfg, &zero, &fc, BPF_ANY);
	usleep(300000);
	exp0 = rps_stat_sum(ps, QLB_RP_FLOW_EXPIRED);
	moved = 0;
	for (i = 0; i < 32; i++)
		if (where[i] != victim &&
		    send_initial(dc[i], 8 + (unsigned int)i % 13) < NGEN1)
			moved++;
	printf("flows: after expiry %d DCIDs still reached generation 1, "
	       "%llu records expired\n",
	       moved,
	       (unsigned long long)(rps_stat_sum(ps, QLB_RP_FLOW_EXPIRED) -
				    exp0));
	if (moved || rps_stat_sum(ps, QLB_RP_FLOW_EXPIRED) == exp0)
		failures++;

	/* a table of 64: the 65th DCID is not recorded (counted) and still
	 * reaches the working generation; once the records expire, a sweep
	 * makes room */
	fc.timeout_ns = 2000000000ull;
	bpf_map_update_elem(ps->m_fcfg, &zero, &fc, BPF_ANY);
	rps_attach(bpf_program__fd(ps->small->progs.qlb_reuseport_select));
	rec0 = rps_stat_sum(ps, QLB_RP_FLOW_RECORDED);
	full0 = rps_stat_sum(ps, QLB_RP_FLOW_FULL);
	for (i = 0; i < 80; i++) {
		uint8_t x[QLB_CID_MAX_LEN];

		rnd(x, sizeof(x));
		x[0] &= 0x7f;
		if (send_initial(x, 8) < NGEN1)
			failures++;
	}
	rec0 = rps_stat_sum(ps, QLB_RP_FLOW_RECORDED) - rec0;
	full0 = rps_stat_sum(ps, QLB_RP_FLOW_FULL) - full0;
	printf("flows: table of 64, 80 new DCIDs: %llu recorded, %llu not "
	       "(table full)\n",
	       (unsigned long long)rec0, (unsigned long long)full0);
	if (rec0 != 64 || full0 != 16)
		failures++;
	usleep(2200000);
	exp0 = rps_stat_sum(ps, QLB_RP_FLOW_EXPIRED);
	rec0 = rps_stat_sum(ps, QLB_RP_FLOW_RECORDED);
	{
		uint8_t x[QLB_CID_MAX_LEN];

		rnd(x, sizeof(x));
		x[0] &= 0x7f;
		send_initial(x, 9);
	}
	printf("flows: after the timeout, a new DCID swept %llu records and "
	       "was recorded (%llu)\n",
	       (unsigned long long)(rps_stat_sum(ps, QLB_RP_FLOW_EXPIRED) -
				    exp0),
	       (unsigned long long)(rps_stat_sum(ps, QLB_RP_FLOW_RECORDED) -
				    rec0));
	if (rps_stat_sum(ps, QLB_RP_FLOW_EXPIRED) - exp0 != 64 ||
	    rps_stat_sum(ps, QLB_RP_FLOW_RECORDED) - rec0 != 1)
		failures++;
	fc.timeout_ns = 0;
	bpf_map_update_elem(ps->m_fcfg, &zero, &fc, BPF_ANY);
	rps_attach(bpf_program__fd(ps->rp->progs.qlb_reuseport_select));
}

int rps_cmd_check(int count)
{
	struct prog_set ps = {0};
	__u64 h0, h1, m0;
	int n, nr, i;
	uint8_t key[16];

	rps_setup(&ps, 1);
	srandom((unsigned int)time(NULL));
	n = fill_random(count, &nr);
	h0 = rps_stat_sum(&ps, QLB_RP_CACHE_HIT);
	m0 = rps_stat_sum(&ps, QLB_RP_CACHE_MISS);
	compare(&ps, n, "random DCIDs");
	h1 = rps_stat_sum(&ps, QLB_RP_CACHE_HIT);
	printf("cache: %llu hits, %llu misses\n", (unsigned long long)(h1 - h0),
	       (unsigned long long)(rps_stat_sum(&ps, QLB_RP_CACHE_MISS) - m0));
	/* the second pass of the routable encrypted CIDs must have hit */
	if (h1 - h0 < (__u64)nr / 2) {
		fprintf(stderr, "cache: too few hits (%llu for %d routable)\n",
			(unsigned long long)(h1 - h0), nr);
		failures++;
	}

	/* key rotation of configs 1 and 2, a new host ID under 3: the
	 * cached decisions of the old entries must not be used */
	for (i = 1; i < NCFG; i++) {
		rnd(key, sizeof(key));
		if (i < 3)
			qlb_cid_cfg_init(&rps_hcfg[i].cid, (unsigned int)i,
					 rps_cfg_sl[i], rps_cfg_nl[i], key,
					 false, rps_cfg_wb[i]);
		else
			rps_hcfg[i].host_sid[0] ^= 0x40;
		rps_hcfg[i].epoch++;
		rps_write_hcfg(&ps, (unsigned int)i);
	}
	compare(&ps, n, "same DCIDs after a rotation");
	n = fill_random(count, &nr);
	compare(&ps, n, "new DCIDs after a rotation");

	/* a closed worker: its cached CIDs fall back like uncached ones */
	close_sock(&ps, 2);
	compare(&ps, n, "after worker 2 closed");
	/* the working set changes: the flow table's records (of long-header
	 * DCIDs) rightly keep their sockets, the reference rehashes; start
	 * from an empty table so both see the same set */
	rps_set_working(&ps, 1);
	rps_flows_clear(&ps);
	compare(&ps, n, "... and left the working set");

	flow_checks(&ps);
	printf("%s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
