// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's XDP program under generated and mutated frames, through
 * BPF_PROG_TEST_RUN. A private copy of build/bpf/qlb_xdp.bpf.o is loaded
 * (as `qlbctl trace` does) and filled from a test config by qlb_lb_fill(),
 * the code `qlbctl lb apply` uses.
 *
 * Frames: Ethernet with or without an 802.1Q/802.1ad tag, IPv4 (with
 * options, fragments) or IPv6, UDP/TCP/other, to VIPs and to other
 * addresses and ports, carrying QUIC long and short headers with CIDs
 * minted for the test config's hosts, random CIDs, unroutable CIDs and
 * version negotiation; then random byte flips, truncations, extensions and
 * broken length fields on a share of them.
 *
 * Invariants on every frame:
 *  - the verdict is XDP_TX, XDP_PASS or XDP_DROP;
 *  - a passed frame is byte-identical to the input;
 *  - a frame not addressed to a VIP (address and port) is passed;
 *  - a transmitted frame is Ethernet (gateway MAC, interface MAC, the VLAN
 *    tag kept) | outer IPv4 (length, checksum, DF, TTL 64) or IPv6 (payload
 *    length, hop limit 64) from the encap source toward a configured host
 *    that is not down, with the host's encapsulation (GUE: UDP to gue_port
 *    from 49152..65535, or IPIP proto 4/41) | exactly the original IP
 *    packet; its outer length is within lb.mtu; its destination is never the
 *    packet's own source (no reflection, no amplification toward a client);
 *  - the same frame run again gives the same verdict and the same bytes;
 *  - well-formed generated frames get the verdict the contract promises: a
 *    CID minted for host H goes to H (unless H is down or it does not fit
 *    the MTU), other QUIC and TCP to a VIP go to some live host, version 0
 *    and first fragments are dropped.
 * Every untagged transmitted frame then goes through the hosts' own
 * decapsulation program (reuseport/qlb_decap.bpf.c, configured as the agent
 * does for the target host): it must come out as Ethernet | exactly the
 * original IP packet, so the LB and the hosts agree on the wire format;
 * a copy with bytes flipped or cut must be passed untouched, passed minus
 * exactly one outer header, or dropped.
 * The copy `qlbctl trace` loads (qlb_trace_on = 1) must answer every frame
 * as the live program does, and its record must name the same action,
 * host and VIP.
 * Then a flood of Initials and random short headers: the decoded-CID cache
 * (the only map the program writes besides counters) does not grow at all
 * on Initials; of short headers it holds only keyed CIDs that decode to a
 * known host (one per cache slot at least), none of the unroutable ones.
 *
 * Usage: test_xdp_fuzz [--frames N] [--seed S]. `make test` runs 200000
 * frames; `make fuzz` runs 10 million. Prints frames/s and verdict counts.
 * A failing frame is printed in hex and saved to $BUILD/fuzz/crashes/.
 *
 * The generator is in xdp_fuzz_gen.h, the invariant checks in
 * xdp_fuzz_check.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "xdp_fuzz_check.h"

static void one_frame(struct gen *g)
{
	static uint8_t out[OUT_MAX], out2[OUT_MAX];
	uint32_t olen, olen2;
	const char *why = NULL;
	struct view v;
	int ret, ret2, host = -1;

	n_frames++;
	n_exp[g->exp]++;
	parse(g->f, g->len, &v);
	ret = run(g->f, g->len, out, &olen);
	if (ret < 0) {
		report(g, "BPF_PROG_TEST_RUN failed", ret);
		return;
	}
	verdicts[ret & 7]++;
	if (ret != XDP_TX && ret != XDP_PASS && ret != XDP_DROP) {
		why = "verdict is not tx, pass or drop";
	} else if (ret == XDP_PASS) {
		if (olen != g->len || memcmp(out, g->f, g->len))
			why = "passed frame changed";
	} else if (ret == XDP_TX) {
		why = check_tx(g, &v, out, olen, &host);
		if (!why && !v.tagged && host >= 0)
			why = check_decap(g, &v, out, olen, host);
		if (!why && !v.tagged && host >= 0)
			check_decap_mutated(out, olen, host);
	}
	if (!why && ret != XDP_PASS && !is_vip(&v))
		why = "frame not addressed to a VIP was not passed";
	if (!why) {
		unsigned int worst = v.ip_len + 48; /* GUE over IPv6 */

		switch (g->exp) {
		case EXP_NONE:
			break;
		case EXP_PASS:
			if (ret != XDP_PASS)
				why = "expected pass";
			break;
		case EXP_DROP:
			if (ret != XDP_DROP)
				why = "expected drop";
			break;
		case EXP_HOST:
			if (ret == XDP_TX && host >= 0 && host != g->host)
				why = "routable CID went to another host";
			else if (ret != XDP_TX &&
				 v.ip_len + overhead(&cfg.hosts[g->host]) <=
					 cfg.lb.mtu)
				why = "routable CID that fits the MTU not "
				      "transmitted";
			break;
		case EXP_LIVE:
			if (ret != XDP_TX && worst <= cfg.lb.mtu)
				why = "QUIC/TCP to a VIP that fits the MTU not "
				      "transmitted";
			break;
		}
	}
	/* `qlbctl trace`'s copy: the same answer, and a record that says it */
	if (!why)
		why = check_trace(g, &v, ret, out, olen, host);
	/* the same frame again: same verdict, same bytes */
	if (!why) {
		ret2 = run(g->f, g->len, out2, &olen2);
		if (ret2 != ret || (ret != XDP_DROP &&
				    (olen2 != olen || memcmp(out, out2, olen))))
			why = "second run of the same frame differs";
	}
	if (why)
		report(g, why, ret);
}

/*
 * For docs/security.md: a host must not decapsulate a GUE packet whose
 * outer source is no LB node (tests/netns/host_decap_trust.sh has more).
 */
static void spoof_probe(void)
{
	static uint8_t f[128], out[OUT_MAX];
	uint8_t *ip = f + 14, *u = ip + 20, *in = u + 8;
	uint32_t olen;
	unsigned int c;
	int ret;

	memset(f, 0, sizeof(f));
	memcpy(f, if_mac, 6);
	memcpy(f + 6, gw_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 28;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, "\xc6\x13\x00\x63", 4); /* 198.19.0.99: no LB */
	memcpy(ip + 16, &cfg.hosts[0].address.v4, 4);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	u[2] = (uint8_t)(cfg.lb.gue_port >> 8);
	u[3] = (uint8_t)cfg.lb.gue_port;
	u[5] = 8 + 28;
	in[0] = 0x45; /* inner: a spoofed client 198.19.7.7 to the VIP */
	in[3] = 28;
	in[8] = 64;
	in[9] = IPPROTO_UDP;
	memcpy(in + 12, "\xc6\x13\x07\x07", 4);
	memcpy(in + 16, &cfg.lb.vips[0].addr.v4, 4);
	if (decap_for(0))
		return;
	ret = run_prog(dc_prog_fd, f, 14 + 20 + 8 + 28, out, &olen);
	printf("GUE from a non-LB source (198.19.0.99) to host %s: %s\n",
	       cfg.hosts[0].name,
	       ret == XDP_PASS && olen == 14 + 28 ? "decapsulated"
						  : "not decapsulated");
	/* only LB nodes' sources are trusted (qlb/abi/decap_trust.h) */
	CHECK(ret == XDP_DROP, "GUE from a non-LB source: verdict %d", ret);
}

/* ---- the flood: no state for Initials and unroutable packets ------------- */
static unsigned int cache_entries(void)
{
	int n = fx_cache_walk(cache_fd, NULL, NULL);

	CHECK(n >= 0, "cannot read the decoded-CID cache");
	return n < 0 ? 0 : (unsigned int)n;
}

/*
 * Would the program route @cid20 by its server ID under a keyed config
 * (and so cache it)? @dlen: a long header's DCID length, 0 for a short
 * header. Computed from the config, not from the maps.
 * Return: the CID length the cache keys on, or 0.
 */
static unsigned int keyed_known(const uint8_t *cid20, unsigned int dlen)
{
	unsigned int id = qlb_cid_config_id(cid20[0]), i;
	const struct qlb_cid_cfg *c;
	uint8_t sid[QLB_SID_MAX_LEN];

	if (id >= QLB_CONFIG_MAX || !cfg.configs[id].present)
		return 0;
	c = &ccfg[id];
	if (!(c->flags & QLB_CID_F_KEY))
		return 0;
	if (dlen && dlen < qlb_cid_len(c))
		return 0;
	if (!dlen)
		dlen = qlb_cid_len(c);
	if ((c->flags & QLB_CID_F_ENCODE_LEN) && (cid20[0] & 0x1f) + 1u != dlen)
		return 0;
	qlb_cid_decode_sid(c, cid20, sid);
	qlb_sid_host_part(c, sid);
	for (i = 0; i < cfg.nhosts; i++)
		if (cfg.hosts[i].has_sid[id] &&
		    !memcmp(cfg.hosts[i].sid[id], sid, c->sid_len))
			return qlb_cid_len(c);
	return 0;
}

struct cidkey {
	uint8_t b[20];
};

static int cmp_cid(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct cidkey));
}

/* A frame to an IPv4 VIP, UDP, no options, not a fragment: its QUIC
 * payload starts at byte 42 and holds at least 41 bytes. */
static void gen_flood_frame(struct gen *g)
{
	do
		gen_frame(g);
	while (g->f[12] != 0x08 || g->f[13] != 0x00 || g->f[14] != 0x45 ||
	       g->f[23] != IPPROTO_UDP || g->exp == EXP_PASS ||
	       (g->f[20] & 0x3f) || g->f[21] || g->len - 42 < 41);
}

struct cached_set {
	struct cidkey *k;
	unsigned long n, max;
};

static void cached_visit(const struct qlb_lb_cache_ent *e, void *arg)
{
	struct cached_set *cs = arg;

	if (cs->k && cs->n < cs->max)
		memcpy(cs->k[cs->n++].b, e->cid, sizeof(cs->k[0].b));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void flood(unsigned long count)
{
	static uint8_t out[OUT_MAX];
	struct cidkey *known = calloc(count, sizeof(*known));
	unsigned long i, nknown = 0, distinct = 0, tx = 0;
	unsigned int before, after, before_init;
	struct gen g;
	uint32_t olen;

	if (!known) {
		CHECK(0, "out of memory");
		return;
	}
	/* start from an empty cache: what the flood adds is then countable */
	CHECK(!fx_cache_clear(cache_fd), "cannot clear the decoded-CID cache");
	/* Initials: long header, version 1, client-chosen random DCIDs */
	before_init = cache_entries();
	for (i = 0; i < count; i++) {
		uint8_t *q;

		gen_frame(&g);
		gen_flood_frame(&g);
		q = g.f + 14 + 20 + 8;
		q[0] = 0xc0 | (uint8_t)rn(16); /* Initial */
		q[1] = q[2] = q[3] = 0;
		q[4] = 1;
		q[5] = (uint8_t)(8 + rn(13));
		rbytes(q + 6, q[5]);
		if (run(g.f, g.len, out, &olen) == XDP_TX)
			tx++;
		/* a random DCID may still decode to a host: count those */
		{
			struct cidkey k = {0};
			unsigned int kl;

			memcpy(k.b, q + 6, q[5]);
			kl = keyed_known(k.b, q[5]);
			if (kl) {
				memset(k.b + kl, 0, sizeof(k.b) - kl);
				known[nknown++] = k;
			}
		}
	}
	after = cache_entries();
	qsort(known, nknown, sizeof(*known), cmp_cid);
	for (i = 0; i < nknown; i++)
		distinct += !i || cmp_cid(&known[i], &known[i - 1]);
	printf("Initial flood: %lu packets (%lu tx), decoded-CID cache %u -> "
	       "%u entries (%lu DCIDs decode to a host; long headers never "
	       "enter)\n",
	       count, tx, before_init, after, distinct);
	/* the program caches short headers only: Initials cost no state,
	 * even those whose random DCID decodes to a host */
	CHECK(after == before_init,
	      "Initials with random DCIDs created %u cache entries (%lu could "
	      "decode)",
	      after - before_init, distinct);

	/* short headers: unroutable (0b111) and random CIDs */
	before = cache_entries();
	nknown = distinct = 0;
	for (i = 0; i < count; i++) {
		uint8_t *q;
		struct cidkey k = {0};
		unsigned int clen;

		gen_frame(&g);
		gen_flood_frame(&g);
		q = g.f + 14 + 20 + 8;
		q[0] = 0x40;
		rbytes(q + 1, 20);
		if (i & 1) {
			q[1] |= 0xe0; /* unroutable */
		} else {
			/* random CID of a keyed config, length bits right */
			unsigned int id = chance(50) ? 0 : 2;

			clen = qlb_cid_len(&ccfg[id]);
			q[1] = (uint8_t)(id << 5) |
			       (uint8_t)(id ? rn(32) : clen - 1);
			memcpy(k.b, q + 1, clen);
			if (keyed_known(k.b, 0))
				known[nknown++] = k;
		}
		run(g.f, g.len, out, &olen);
	}
	qsort(known, nknown, sizeof(*known), cmp_cid);
	for (i = 0; i < nknown; i++)
		if (!i || cmp_cid(&known[i], &known[i - 1]))
			known[distinct++] = known[i];
	{
		struct cached_set cs = {
			calloc(QLB_LB_CACHE_SIZE * 4UL, sizeof(struct cidkey)),
			0, QLB_LB_CACHE_SIZE * 4UL};
		unsigned long slots = 0, present = 0, stray = 0;
		uint32_t *sl = calloc(distinct + 1, sizeof(*sl));

		CHECK(cs.k && sl, "out of memory");
		after = (unsigned int)fx_cache_walk(cache_fd, cached_visit,
						    &cs);
		/* a cache slot holds one CID: distinct known CIDs that share
		 * a slot leave one behind */
		for (i = 0; sl && i < distinct; i++) {
			__u64 w[3] = {0};

			memcpy(w, known[i].b, sizeof(known[i].b));
			sl[i] = qlb_lb_cid_hash(w) & (QLB_LB_CACHE_SIZE - 1);
		}
		if (sl) {
			qsort(sl, distinct, sizeof(*sl), cmp_u32);
			for (i = 0; i < distinct; i++)
				slots += !i || sl[i] != sl[i - 1];
		}
		qsort(cs.k, cs.n, sizeof(*cs.k), cmp_cid);
		for (i = 0; i < cs.n; i++) {
			if (i && !cmp_cid(&cs.k[i], &cs.k[i - 1]))
				continue; /* the same CID on another CPU */
			if (bsearch(&cs.k[i], known, distinct, sizeof(*known),
				    cmp_cid))
				present++;
			else
				stray++;
		}
		printf("short-header flood: %lu packets (half unroutable), "
		       "cache %u -> %u entries: %lu distinct CIDs, all of the "
		       "%lu random CIDs that decode to a host (%lu cache "
		       "slots)\n",
		       count, before, after, present + stray, distinct, slots);
		CHECK(!stray, "%lu cached CIDs do not decode to a host", stray);
		CHECK(present >= slots && present <= distinct,
		      "cache holds %lu of the %lu CIDs that decode to a host, "
		      "want at least one per slot (%lu)",
		      present, distinct, slots);
		free(cs.k);
		free(sl);
	}
	free(known);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"frames", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 's'},
		{0}};
	unsigned long frames = 200000, seed = 0;
	struct timespec t0, t1;
	struct gen g;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "n:s:", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			frames = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [--frames N] [--seed S]\n",
				argv[0]);
			return 2;
		}
	}
	if (!seed)
		seed = (unsigned long)time(NULL);
	rs = seed * 0x9e3779b97f4a7c15ull | 1;
	printf("seed %lu, %lu frames\n", seed, frames);
	{
		static char dir[256];
		const char *b = getenv("BUILD");

		snprintf(dir, sizeof(dir), "%s/fuzz", b ? b : "build");
		mkdir(dir, 0755);
		snprintf(dir, sizeof(dir), "%s/fuzz/crashes", b ? b : "build");
		if (!mkdir(dir, 0755) || errno == EEXIST)
			crash_dir = dir;
	}
	if (setup()) {
		CHECK(0, "setup failed");
		return t_done("test_xdp_fuzz");
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n_frames < frames && n_fail < MAX_FAILS) {
		gen_frame(&g);
		if (chance(30))
			mutate(&g);
		one_frame(&g);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%lu frames (%lu test runs) in %.1f s: %.0f frames/s, %.0f "
	       "runs/s\n",
	       n_frames, n_runs, secs, (double)n_frames / secs,
	       (double)n_runs / secs);
	printf("verdicts: tx %lu, pass %lu, drop %lu, other %lu\n",
	       verdicts[XDP_TX], verdicts[XDP_PASS], verdicts[XDP_DROP],
	       n_frames - verdicts[XDP_TX] - verdicts[XDP_PASS] -
		       verdicts[XDP_DROP]);
	printf("frames by expectation: mutated %lu, pass %lu, drop %lu, "
	       "to its CID's host %lu, to a live host %lu\n",
	       n_exp[EXP_NONE], n_exp[EXP_PASS], n_exp[EXP_DROP],
	       n_exp[EXP_HOST], n_exp[EXP_LIVE]);
	printf("decapsulated by the host program: %lu frames; broken tunnel "
	       "frames given to it: %lu\n",
	       n_decap, n_decap_mut);
	printf("same answer and a matching record from the trace copy: %lu "
	       "frames\n",
	       n_traced);
	printf("invariant failures: %lu\n", n_fail);
	spoof_probe();
	CHECK(n_fail == 0, "%lu frames broke an invariant", n_fail);
	CHECK(verdicts[XDP_TX] && verdicts[XDP_PASS] && verdicts[XDP_DROP],
	      "every verdict should occur in a run");

	flood(frames < 100000 ? frames : 100000);

	qlb_xdp__destroy(skel);
	qlb_xdp__destroy(tskel);
	qlb_decap__destroy(dskel);
	qlb_config_free(&cfg);
	return t_done("test_xdp_fuzz");
}
