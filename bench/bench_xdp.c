// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * ns per packet of the LB node's XDP program, by path, beside the empty
 * XDP program measured the same way. Every run is one BPF_PROG_TEST_RUN
 * with repeat=1 on a fresh copy of the original frame (with repeat>1 the
 * kernel would feed the program its own encapsulated output), and the
 * kernel's own duration of that run is taken: median and mean of many,
 * the paths interleaved.
 * Prints figures; never fails on a time.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "xdp_fixture.h"
#include "qlb_bench_empty.skel.h"
#include "qlb_bench_push.skel.h"

#define RUNS 20000

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double median, mean, trim; /* trim: mean of the 10th..90th percentile */
	int verdict;
};

/* One path to measure: a program and the frame it is fed. */
struct bcase {
	const char *name;
	int prog_fd;
	const struct pkt *k;
	__u32 *d; /* RUNS durations */
	struct result r;
};

#define ROUNDS 100 /* RUNS = ROUNDS * BATCH */
#define BATCH  (RUNS / ROUNDS)

static int run_once(const struct bcase *c, __u32 *dur, int *verdict)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = c->k->b,
		    .data_size_in = (__u32)c->k->len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(c->prog_fd, &o))
		return -1;
	*verdict = (int)o.retval;
	*dur = o.duration;
	return 0;
}

/*
 * Every case in turn, BATCH runs each, ROUNDS times: the VM's speed drifts
 * (other guests, frequency) by a factor of two between minutes, so cases
 * measured one after the other are not comparable; interleaved, every case
 * sees the same drift and the differences to the floor hold.
 */
static int measure_all(struct bcase *c, int n)
{
	int i, j, r;
	__u32 dummy;

	for (i = 0; i < n; i++) /* warm caches first */
		for (j = 0; j < 1000; j++)
			if (run_once(&c[i], &dummy, &c[i].r.verdict))
				return -1;
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < n; i++)
			for (j = 0; j < BATCH; j++)
				if (run_once(&c[i], &c[i].d[r * BATCH + j],
					     &c[i].r.verdict))
					return -1;
	for (i = 0; i < n; i++) {
		struct result *res = &c[i].r;
		__u32 *d = c[i].d;
		double sum = 0;

		qsort(d, RUNS, sizeof(d[0]), cmp_u32);
		for (j = 0; j < RUNS; j++)
			sum += d[j];
		res->median = d[RUNS / 2];
		res->mean = sum / RUNS;
		/* the clock steps by about 10 ns and other processes add
		 * a long tail: the trimmed mean tells apart changes of a
		 * few ns */
		sum = 0;
		for (j = RUNS / 10; j < RUNS - RUNS / 10; j++)
			sum += d[j];
		res->trim = sum / (RUNS - 2 * (RUNS / 10));
	}
	return 0;
}

/*
 * The decoded-CID cache under a flood, on one CPU (a test run executes on
 * the caller's): 10 000 live four-pass CIDs of web1 (config 1) are sent
 * once, then again, then again each after ten CIDs never seen (random
 * bytes under config 1's codepoint, which decode to no host). Before a
 * live CID is sent again its cache entry is read: there (same CID) is a
 * hit.
 */
static void flood(struct fx *f)
{
	enum { NLIVE = 10000, NRAND = 100000 };
	static uint8_t live[NLIVE][QLB_CID_MAX_LEN];
	const struct qlb_conf_host *h = &f->hosts[0];
	int ncpu = libbpf_num_possible_cpus(), i, j, hits[3] = {0};
	struct qlb_lb_cache_ent *ents;
	struct qlb_cid_cfg cc;
	uint8_t q[256], sid[QLB_SID_MAX_LEN], nonce[QLB_NONCE_MAX_LEN];
	struct pkt k;
	cpu_set_t cpus;
	__u32 dummy;
	int verdict;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	ents = calloc((size_t)ncpu, sizeof(*ents));
	if (!ents || sched_setaffinity(0, sizeof(cpus), &cpus) ||
	    qlb_config_cid_cfg(&f->cfg, 1, &cc))
		goto out;
	for (i = 0; i < NLIVE; i++) {
		memset(sid, 0, sizeof(sid));
		memcpy(sid, h->sid[1], cc.sid_len);
		sid[cc.sid_len - 1] |= (uint8_t)(i & 15); /* worker bits */
		if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
			goto out;
		memset(live[i], 0, sizeof(live[i]));
		qlb_cid_encode(&cc, sid, nonce, 0, live[i]);
	}
	/* pass 0 caches every live CID; pass 1 sends them again alone,
	 * pass 2 again, each after ten never-seen ones */
	for (j = 0; j < 3; j++) {
		int n = j == 2 ? NLIVE * 11 : NLIVE;

		for (i = 0; i < n; i++) {
			const uint8_t *cid;
			uint8_t rc[QLB_CID_MAX_LEN];
			struct bcase c = {"flood", f->prog_fd, &k};

			if (j < 2 || i % 11 == 10) {
				__u64 w[3] = {0};
				__u32 idx;

				cid = live[j == 2 ? i / 11 : i];
				memcpy(w, cid, qlb_cid_len(&cc));
				idx = qlb_lb_cid_hash(w) &
				      (QLB_LB_CACHE_SIZE - 1);
				if (j &&
				    !bpf_map_lookup_elem(f->m.cid_cache, &idx,
							 ents) &&
				    !memcmp(ents[0].cid, w, sizeof(w)))
					hits[j]++;
			} else {
				if (getrandom(rc, sizeof(rc), 0) != sizeof(rc))
					goto out;
				rc[0] = (uint8_t)(1 << 5) | (rc[0] & 0x1f);
				cid = rc;
			}
			fx_frame(&k, -1, "198.18.5.7", "198.18.1.1",
				 IPPROTO_UDP, 50000, 443, q,
				 fx_short(q, cid, qlb_cid_len(&cc), 40), 0, 0);
			if (run_once(&c, &dummy, &verdict))
				goto out;
		}
	}
	printf("decoded-CID cache (%u entries per CPU, direct-mapped), 10 000 "
	       "live four-pass CIDs sent round robin: %.1f%% hits; among "
	       "100 000 never-seen CIDs: %.1f%% hits\n",
	       QLB_LB_CACHE_SIZE, hits[1] / 100.0, hits[2] / 100.0);
out:
	free(ents);
}

static void setup(struct fx *f)
{
	struct qlb_conf_host *h;

	fx_base(f);
	fx_vector_configs(&f->cfg);
	h = fx_host(f, "web1", "198.18.0.21", QLB_ENCAP_GUE, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 0, "c46050");
	fx_sid(h, 1, "ed793a51d49b8f5fab60");
	fx_sid(h, 2, "ed793a51d49b8f50");
	fx_host(f, "web2", "198.18.0.22", QLB_ENCAP_GUE, QLB_HOST_ACTIVE, 100);
	fx_host(f, "web3", "2001:db8::23", QLB_ENCAP_GUE, QLB_HOST_ACTIVE, 100);
}

static const char *vname(int v)
{
	return v == XDP_TX     ? "tx"
	       : v == XDP_PASS ? "pass"
	       : v == XDP_DROP ? "drop"
			       : "?";
}

int main(void)
{
	struct fx live = {0}, nocache = {0};
	struct qlb_bench_empty *empty;
	struct qlb_bench_push *push;
	uint8_t cid[32], q[1400];
	struct pkt k[8];
	size_t n, cl;
	int i;

	libbpf_set_print(NULL);
	setup(&live);
	setup(&nocache);
	live.skel = qlb_xdp__open();
	nocache.skel = qlb_xdp__open();
	if (!live.skel || !nocache.skel)
		return 1;
	nocache.skel->rodata->qlb_cache_off = 1;
	if (qlb_xdp__load(live.skel) || qlb_xdp__load(nocache.skel)) {
		fprintf(stderr, "cannot load the XDP program (root?)\n");
		return 1;
	}
	/* fx_load() without its open/load: fill the two copies' map fds */
	{
		struct fx *fs[2] = {&live, &nocache};

		for (i = 0; i < 2; i++) {
			struct qlb_xdp *s = fs[i]->skel;

			qlb_lb_maps_from_skel(&fs[i]->m, s);
			fs[i]->prog_fd =
				bpf_program__fd(s->progs.qlb_xdp_ingress);
			if (fx_fill(fs[i]))
				return 1;
		}
	}
	empty = qlb_bench_empty__open_and_load();
	push = qlb_bench_push__open_and_load();
	if (!empty || !push) {
		fprintf(stderr, "cannot load the empty XDP program\n");
		return 1;
	}

	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 1200 - 28 - 1 - cl);
	fx_frame(&k[0], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	cl = fx_unhex("2fcc381bc74cb4fbad2823a3d1f8fed2", cid);
	n = fx_short(q, cid, cl, 1200 - 28 - 1 - cl);
	fx_frame(&k[1], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	cl = fx_unhex("504dd2d05a7b0de9b2b9907afb5ecf8cc3", cid);
	n = fx_short(q, cid, cl, 1200 - 28 - 1 - cl);
	fx_frame(&k[2], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	cl = fx_unhex("1c2d3e4f50617283", cid);
	n = fx_long(q, 0, 1, cid, cl, 1200);
	fx_frame(&k[3], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 1200 - 48 - 1 - cl);
	fx_frame(&k[4], -1, "2001:db8:5::7", "2001:db8:1::1", IPPROTO_UDP,
		 50000, 443, q, n, 0, 0);
	/* a Handshake: long header, the server's plaintext CID */
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_long(q, 2, 1, cid, cl, 1200 - 28);
	fx_frame(&k[6], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	fx_frame(&k[5], -1, "198.18.5.7", "198.18.9.9", IPPROTO_UDP, 50000, 443,
		 q, 100, 0, 0);

	{
		struct bcase c[] = {
			{"empty XDP program (floor)",
			 bpf_program__fd(empty->progs.qlb_bench_empty), &k[0]},
			{"only bpf_xdp_adjust_head(-28) + XDP_TX",
			 bpf_program__fd(push->progs.qlb_bench_push), &k[0]},
			{"short header, plaintext CID, routed (IPv4, GUE)",
			 live.prog_fd, &k[0]},
			{"short header, four-pass CID, routed", live.prog_fd,
			 &k[1]},
			{"  the same, decoded every packet (no cache)",
			 nocache.prog_fd, &k[1]},
			{"short header, single-pass CID, routed", live.prog_fd,
			 &k[2]},
			{"  the same, decoded every packet (no cache)",
			 nocache.prog_fd, &k[2]},
			{"long header Initial, Maglev fallback", live.prog_fd,
			 &k[3]},
			{"long header Handshake, plaintext CID, routed",
			 live.prog_fd, &k[6]},
			{"short header, plaintext CID, routed (IPv6 VIP)",
			 live.prog_fd, &k[4]},
			{"not for a VIP (passed)", live.prog_fd, &k[5]},
		};
		int nc = (int)(sizeof(c) / sizeof(c[0]));

		for (i = 0; i < nc; i++) {
			c[i].d = calloc(RUNS, sizeof(*c[i].d));
			if (!c[i].d)
				return 1;
		}
		if (measure_all(c, nc)) {
			perror("test run");
			return 1;
		}
		printf("XDP ns/packet, BPF_PROG_TEST_RUN repeat=1 on a fresh "
		       "copy each run, %d runs per path, interleaved in %d "
		       "rounds:\n",
		       RUNS, ROUNDS);
		printf("  %-52s %8s %8s %8s %10s  %s\n", "path", "median",
		       "mean", "trimmed", "over empty", "verdict");
		for (i = 0; i < nc; i++) {
			char over[16] = "-";

			if (i)
				snprintf(over, sizeof(over), "%+.1f",
					 c[i].r.trim - c[0].r.trim);
			printf("  %-52s %8.0f %8.1f %8.1f %10s  %s\n",
			       c[i].name, c[i].r.median, c[i].r.mean,
			       c[i].r.trim, over, vname(c[i].r.verdict));
			free(c[i].d);
		}
	}
	printf("(over empty: trimmed mean minus the floor's; figures include "
	       "the test-run harness: compare with the floor, not "
	       "absolutely)\n");
	flood(&live);
	qlb_bench_empty__destroy(empty);
	qlb_bench_push__destroy(push);
	qlb_xdp__destroy(live.skel);
	qlb_xdp__destroy(nocache.skel);
	return 0;
}
