// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* qlb-rpsteer bench: see qlb-rpsteer.c. */
#include <sched.h>

#include "rpsteer.h"
#include "qlb_bench_rp_empty.skel.h"
#include "qlb_bench_rp_nginx.skel.h"

/* ---- bench -------------------------------------------------------------- */

#define BATCH 64

/* the baseline's own group (a socket in a REUSEPORT_SOCKARRAY cannot
 * join a SOCKHASH): same address, next port */
static int ng_socks[NGEN1], ng_client = -1;

static void blast_to(int cl, const struct dgram *d, int nd, int count)
{
	struct mmsghdr mm[BATCH];
	struct iovec io[BATCH];
	int sent = 0, i, k;
	char buf[256];

	while (sent < count) {
		int b = count - sent < BATCH ? count - sent : BATCH;

		for (i = 0; i < b; i++) {
			const struct dgram *x = &d[(sent + i) % nd];

			io[i].iov_base = (void *)x->b;
			io[i].iov_len = x->len;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &io[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		k = sendmmsg(cl, mm, (unsigned int)b, 0);
		if (k <= 0)
			rps_die("sendmmsg");
		sent += k;
		/* keep the receive queues short: drain every socket */
		for (i = 0; i < NSOCK; i++)
			while (rps_socks[i] >= 0 &&
			       recv(rps_socks[i], buf, sizeof(buf),
				    MSG_DONTWAIT) > 0)
				;
		for (i = 0; cl == ng_client && i < NGEN1; i++)
			while (recv(ng_socks[i], buf, sizeof(buf),
				    MSG_DONTWAIT) > 0)
				;
	}
}

static void blast(const struct dgram *d, int nd, int count)
{
	blast_to(rps_client, d, nd, count);
}

static void prog_stat(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		rps_die("bpf_obj_get_info_by_fd");
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
}

#define NCASE 32
#define MAXR  32
struct bcase {
	const char *name, *what;
	int prog;
	struct dgram *d;
	int nd;
	int warm;  /* send the set once before measuring */
	int multi; /* measured as a host serving 64 services */
	double r[MAXR];
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double t[MAXR];

	memcpy(t, v, sizeof(double) * (size_t)n);
	qsort(t, (size_t)n, sizeof(double), cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static struct dgram *set_of(int n)
{
	struct dgram *d = calloc((size_t)n, sizeof(*d));

	if (!d)
		rps_die("calloc");
	return d;
}

int rps_cmd_bench(int rounds, int count)
{
	struct prog_set ps = {0};
	struct qlb_bench_rp_empty *em;
	struct qlb_bench_rp_nginx *ng;
	struct bcase c[NCASE];
	__u64 ng_cookies[NGEN1];
	int nc = 0, r, i, k, stats_fd, p_rp, p_ref, p_em, p_ng, pool = 256;
	int miss_n = count;
	struct dgram *dn, *dcfg[NCFG], *dmiss[NCFG], *dinit, *dinit1, *dmiss64;
	double base, empty;
	cpu_set_t cpus;

	/* one CPU: its per-CPU cache and its softirq */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	rps_setup(&ps, 1);
	em = qlb_bench_rp_empty__open_and_load();
	ng = qlb_bench_rp_nginx__open_and_load();
	if (!em || !ng)
		rps_die("load the bench programs");
	p_rp = bpf_program__fd(ps.rp->progs.qlb_reuseport_select);
	p_ref = bpf_program__fd(ps.ref->progs.qlb_reuseport_select);
	p_em = bpf_program__fd(em->progs.qlb_bench_rp_empty);
	p_ng = bpf_program__fd(ng->progs.qlb_bench_rp_nginx);
	for (i = 0; i < NGEN1; i++) {
		socklen_t l = sizeof(__u64);
		__u64 key, v;

		ng_socks[i] = rps_group_socket_on(PORT + 1);
		getsockopt(ng_socks[i], SOL_SOCKET, SO_COOKIE, &key, &l);
		v = (__u64)ng_socks[i];
		ng_cookies[i] = key;
		if (bpf_map_update_elem(bpf_map__fd(ng->maps.qlb_bench_sockmap),
					&key, &v, BPF_ANY))
			rps_die("sockhash update");
	}
	if (setsockopt(ng_socks[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &p_ng,
		       sizeof(p_ng)))
		rps_die("attach the baseline");
	ng_client = socket(AF_INET, SOCK_DGRAM, 0);
	rps_dst.sin_port = htons(PORT + 1);
	if (ng_client < 0 ||
	    connect(ng_client, (struct sockaddr *)&rps_dst, sizeof(rps_dst)))
		rps_die("baseline client");
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		rps_die("BPF_ENABLE_STATS");

	/* nginx's CIDs: the cookie in clear, 20 bytes */
	dn = set_of(pool);
	for (i = 0; i < pool; i++) {
		uint8_t cid[QLB_CID_MAX_LEN];
		__u64 ck = ng_cookies[i % NGEN1];

		rnd(cid, sizeof(cid));
		for (k = 0; k < 8; k++)
			cid[k] = (uint8_t)(ck >> (56 - 8 * k));
		rps_short_dgram(&dn[i], cid);
	}
	for (k = 0; k < NCFG; k++) {
		dcfg[k] = set_of(pool);
		dmiss[k] = set_of(miss_n);
		for (i = 0; i < pool; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			rps_mint((unsigned int)k, (unsigned int)i % NGEN1, 1,
				 cid);
			rps_short_dgram(&dcfg[k][i], cid);
		}
	}
	dinit = set_of(pool);
	dinit1 = set_of(miss_n);
	for (i = 0; i < pool; i++) {
		uint8_t cid[QLB_CID_MAX_LEN];

		rnd(cid, sizeof(cid));
		cid[0] &= 0x7f;
		rps_long_dgram(&dinit[i], cid, 8);
	}

	c[nc++] = (struct bcase){"empty program", "", p_em, dcfg[0], pool};
	c[nc++] = (struct bcase){"nginx-like baseline", "", p_ng, dn, pool};
	c[nc++] = (struct bcase){rps_cfg_name[0], "", p_rp, dcfg[0], pool};
	for (k = 1; k < NCFG; k++)
		c[nc++] = (struct bcase){rps_cfg_name[k],
					 "seen before, 8 CIDs",
					 p_rp,
					 dcfg[k],
					 8,
					 1};
	for (k = 1; k < NCFG; k++)
		c[nc++] = (struct bcase){rps_cfg_name[k],
					 "seen before, 256 CIDs",
					 p_rp,
					 dcfg[k],
					 pool,
					 1};
	for (k = 1; k < NCFG; k++)
		c[nc++] =
			(struct bcase){rps_cfg_name[k], "first datagram (miss)",
				       p_rp, dmiss[k], miss_n};
	for (k = 0; k < NCFG; k++)
		c[nc++] = (struct bcase){rps_cfg_name[k],
					 "reference (codec only)", p_ref,
					 dcfg[k], pool};
	c[nc++] = (struct bcase){
		"Initial", "DCID seen (flow followed)", p_rp, dinit, pool, 1};
	c[nc++] = (struct bcase){"Initial", "first datagram (recorded)", p_rp,
				 dinit1, miss_n};
	/* --svc64-rows: the same group as a host serving 64 services, the
	 * group the last one's: row 0 by_group, the configs in row 64
	 * (rps_multi_layout()). Opt-in, so the default table stays the one
	 * docs/host.md compares across versions */
	dmiss64 = set_of(miss_n);
	if (!rps_row && rps_svc64_rows) {
		rps_multi_layout(&ps, QLB_HOST_MAX_SERVICES);
		c[nc++] = (struct bcase){"64 svc: plaintext (2+6)",
					 "",
					 p_rp,
					 dcfg[0],
					 pool,
					 0,
					 1};
		c[nc++] = (struct bcase){"64 svc: four-pass (3+6)",
					 "seen before, 8 CIDs",
					 p_rp,
					 dcfg[1],
					 8,
					 1,
					 1};
		c[nc++] = (struct bcase){"64 svc: four-pass (3+6)",
					 "seen before, 256 CIDs",
					 p_rp,
					 dcfg[1],
					 pool,
					 1,
					 1};
		c[nc++] = (struct bcase){"64 svc: four-pass (3+6)",
					 "first datagram (miss)",
					 p_rp,
					 dmiss64,
					 miss_n,
					 0,
					 1};
		c[nc++] = (struct bcase){"64 svc: Initial",
					 "DCID seen (flow followed)",
					 p_rp,
					 dinit,
					 pool,
					 1,
					 1};
	}
	if (rounds > MAXR)
		rounds = MAXR;

	for (r = 0; r < rounds; r++) {
		/* fresh never-seen CIDs for the miss rows every round */
		for (k = 1; k < NCFG; k++)
			for (i = 0; i < miss_n; i++) {
				uint8_t cid[QLB_CID_MAX_LEN];

				rps_mint((unsigned int)k,
					 (unsigned int)i % NGEN1, 1, cid);
				rps_short_dgram(&dmiss[k][i], cid);
			}
		/* the 64-service miss row's own: never seen by the others */
		for (i = 0; i < miss_n; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			rps_mint(1, (unsigned int)i % NGEN1, 1, cid);
			rps_short_dgram(&dmiss64[i], cid);
		}
		for (i = 0; i < miss_n; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			rnd(cid, sizeof(cid));
			cid[0] &= 0x7f;
			rps_long_dgram(&dinit1[i], cid, 8);
		}
		for (i = 0; i < nc; i++) {
			__u64 t0, n0, t1, n1, h0, m0;

			int cl = c[i].prog == p_ng ? ng_client : rps_client;

			if (cl == rps_client)
				rps_attach(c[i].prog);
			if (c[i].multi)
				rps_set_row0(&ps, 1);
			if (c[i].warm)
				blast_to(cl, c[i].d, c[i].nd, c[i].nd);
			prog_stat(c[i].prog, &t0, &n0);
			h0 = rps_stat_sum(&ps, QLB_RP_CACHE_HIT);
			m0 = rps_stat_sum(&ps, QLB_RP_CACHE_MISS);
			blast_to(cl, c[i].d, c[i].nd, count);
			prog_stat(c[i].prog, &t1, &n1);
			if (getenv("QLB_RPSTEER_DEBUG"))
				printf("row %d: hits %llu misses %llu\n", i,
				       (unsigned long long)(rps_stat_sum(
								    &ps,
								    QLB_RP_CACHE_HIT) -
							    h0),
				       (unsigned long long)(rps_stat_sum(
								    &ps,
								    QLB_RP_CACHE_MISS) -
							    m0));
			c[i].r[r] =
				n1 > n0 ? (double)(t1 - t0) / (double)(n1 - n0)
					: 0;
			if (c[i].multi)
				rps_set_row0(&ps, 0);
		}
		/* the first-datagram rows start from an empty table */
		rps_flows_clear(&ps);
	}
	empty = median(c[0].r, rounds);
	base = median(c[1].r, rounds) - empty;
	printf("SK_REUSEPORT, %d sockets, %d rounds interleaved, %d datagrams "
	       "per row and round; median ns per datagram\n",
	       NGEN1, rounds, count);
	if (rps_row)
		printf("host serving %u services: the group's service is the "
		       "last (qlb_hcfg_v2 row %u, row 0 by_group)\n",
		       rps_row, rps_row);
	printf("%-48s %8s %10s %8s\n", "program, CIDs", "ns", "above empty",
	       "x base");
	for (i = 0; i < nc; i++) {
		double m = median(c[i].r, rounds);
		char label[96];

		snprintf(label, sizeof(label), "%s%s%s", c[i].name,
			 *c[i].what ? ", " : "", c[i].what);
		printf("%-48s %8.1f %10.1f %8.2f\n", label, m, m - empty,
		       i ? (m - empty) / base : 0.0);
	}

	/* flood: 10 000 live CIDs of the three encrypted configs, then the
	 * same again among 100 000 random CIDs of those configs (each takes
	 * the decode and is refused admission: not this host's) */
	{
		int nl = 10000, nf = 100000, j;
		struct dgram *live = set_of(nl), *mix = set_of(nl + nf);
		__u64 h0, m0, h, m;

		for (i = 0; i < nl; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			rps_mint(1 + (unsigned int)i % 3,
				 (unsigned int)i % NGEN1, 1, cid);
			rps_short_dgram(&live[i], cid);
		}
		for (i = 0, j = 0; i < nl + nf; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			if (i % 11 == 10 && j < nl) {
				mix[i] = live[j++];
				continue;
			}
			rps_mint(1 + (unsigned int)random() % 3, 0, 1, cid);
			rnd(cid + 1, QLB_CID_MAX_LEN - 1);
			rps_short_dgram(&mix[i], cid);
		}
		rps_attach(p_rp);
		blast(live, nl, nl);
		h0 = rps_stat_sum(&ps, QLB_RP_CACHE_HIT);
		m0 = rps_stat_sum(&ps, QLB_RP_CACHE_MISS);
		blast(live, nl, nl);
		h = rps_stat_sum(&ps, QLB_RP_CACHE_HIT) - h0;
		m = rps_stat_sum(&ps, QLB_RP_CACHE_MISS) - m0;
		printf("cache: 10 000 live CIDs (configs 1-3) sent again: "
		       "%.1f%% hits (%llu of %llu)\n",
		       h + m ? (double)h / (double)(h + m) * 100 : 0.0,
		       (unsigned long long)h, (unsigned long long)(h + m));
		h0 = rps_stat_sum(&ps, QLB_RP_CACHE_HIT);
		m0 = rps_stat_sum(&ps, QLB_RP_CACHE_MISS);
		blast(mix, nl + nf, nl + nf);
		h = rps_stat_sum(&ps, QLB_RP_CACHE_HIT) - h0;
		m = rps_stat_sum(&ps, QLB_RP_CACHE_MISS) - m0;
		/* random CIDs never hit: the hits are live ones */
		printf("cache: the same 10 000 among 100 000 random CIDs: "
		       "%.1f%% hits (%llu of %d; %llu decodes)\n",
		       (double)h / j * 100, (unsigned long long)h, j,
		       (unsigned long long)m);
		free(live);
		free(mix);
	}
	close(stats_fd);
	return 0;
}
