// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's XDP program through BPF_PROG_TEST_RUN: a fixture table of
 * frames with the exact frame, verdict and reason expected for each. The
 * program is filled by qlb_lb_fill() (the code `qlbctl lb apply` runs) from
 * a config built as C structs; CIDs come from the draft's test vectors.
 * Every case runs on the trace build (reasons checked) and on the live build
 * (trace code compiled out: same verdict and frame).
 *
 * Path MTU and ICMP are in test_xdp_pmtu, draining in test_xdp_drain.
 */
#include "xdp_lb_fixture.h"

static unsigned int cache_entries(struct fx *f)
{
	int n = fx_cache_walk(f->m.cid_cache, NULL, NULL);

	CHECK(n >= 0, "cannot read the decoded-CID cache");
	return n < 0 ? 0 : (unsigned int)n;
}

/*
 * The cache entry of @cid (on whichever CPU ran the packet) must exist and
 * name @host; point it at @to in the live and the trace copy, so the next
 * packet shows whether the program reads it.
 */
static void cache_poison(const uint8_t *cid, size_t cl, int host, int to)
{
	int ncpu = libbpf_num_possible_cpus(), c, i;
	__u64 w[3] = {0};
	__u32 k;
	struct qlb_lb_cache_ent *v =
		calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*v));
	struct fx *fs[2] = {&F, &L};

	CHECK(v && ncpu > 0, "out of memory");
	memcpy(w, cid, cl);
	w[2] ^= QLB_LB_CACHE_SVC(0); /* an entry holds its service: here 0 */
	k = fx_cid_hash(cid, cl) & (QLB_LB_CACHE_SIZE - 1);
	for (i = 0; v && ncpu > 0 && i < 2; i++) {
		struct qlb_lb_cache_ent e = {0};

		CHECK(!bpf_map_lookup_elem(fs[i]->m.cid_cache, &k, v),
		      "cannot read the decoded-CID cache");
		for (c = 0; c < ncpu; c++)
			if (v[c].gen && !memcmp(v[c].cid, w, sizeof(w)))
				e = v[c];
		CHECK(e.gen && e.host == (__u32)host,
		      "decoded-CID cache (%s copy): entry %s, host %u, want %d",
		      i ? "trace" : "live", e.gen ? "found" : "missing", e.host,
		      host);
		/* on every CPU: the next run may be on another one */
		e.host = (__u32)to;
		for (c = 0; c < ncpu; c++)
			v[c] = e;
		CHECK(!bpf_map_update_elem(fs[i]->m.cid_cache, &k, v, BPF_ANY),
		      "cannot write the decoded-CID cache");
	}
	free(v);
}

static void cases(void)
{
	uint8_t cid[32], q[1600];
	struct pkt k;
	size_t n, cl;

	/* plaintext short header, IPv4 VIP, GUE over IPv4 (vector row 1) */
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 40);
	fx_frame(&k, -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443, q,
		 n, 0, 0);
	expect_tx("plaintext short v4 -> gue v4", &k, WEB1,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* the same with a VLAN tag and a DSCP/ECN byte to copy */
	fx_frame(&k, 42, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443, q,
		 n, 0, 0xb9);
	expect_tx("plaintext short v4 vlan", &k, WEB1, fx_cid_hash(cid, cl),
		  QLB_R_ROUTED_CID);

	/* IPv4 with options: carried inside unchanged */
	fx_frame(&k, -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443, q,
		 n, 2, 0);
	expect_tx("plaintext short v4 options", &k, WEB1, fx_cid_hash(cid, cl),
		  QLB_R_ROUTED_CID);

	/* IPv6 VIP to an IPv4 GUE host (6 in 4 GUE) */
	fx_frame(&k, -1, "2001:db8:5::7", "2001:db8:1::1", IPPROTO_UDP, 50000,
		 443, q, n, 0, 0x28);
	expect_tx("plaintext short v6 -> gue v4", &k, WEB1,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* short packet: fewer than 20 bytes from the DCID on (load helper) */
	n = fx_short(q, cid, cl, 2);
	fx_frame(&k, -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50001, 443, q,
		 n, 0, 0);
	expect_tx("plaintext short, tiny packet", &k, WEB1,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* a frame with Ethernet padding: the pad stays outside the tunnel */
	n = fx_short(q, cid, cl, 0);
	fx_frame(&k, -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50001, 443, q,
		 n, 0, 0);
	{
		struct pkt padded = k;

		padded.len = 60; /* 37 bytes of IP + 9 of pad */
		expect_tx("ethernet padding trimmed", &padded, WEB1,
			  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
	}

	/* four-pass (vector row 3, config 1) -> web3: IPv4 in IPv6 GUE */
	cl = fx_unhex("2fcc381bc74cb4fbad2823a3d1f8fed2", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.8", "198.18.1.1", IPPROTO_UDP, 50002, 443, q,
		 n, 0, 0);
	expect_tx("four-pass short v4 -> gue v6", &k, WEB3,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
	/* again: now from the decoded-CID cache */
	expect_tx("four-pass short v4 (cached)", &k, WEB3, fx_cid_hash(cid, cl),
		  QLB_R_ROUTED_CID);
	cache_poison(cid, cl, WEB3, WEB1);
	expect_tx("four-pass short v4 (poisoned cache entry is used)", &k, WEB1,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
	CHECK(!fx_cache_clear(F.m.cid_cache) && !fx_cache_clear(L.m.cid_cache),
	      "cannot clear the decoded-CID cache");
	expect_tx("four-pass short v4 (cache cleared)", &k, WEB3,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* IPv6 inside GUE over IPv6, and an 802.1ad tag */
	fx_frame(&k, -1, "2001:db8:5::8", "2001:db8:1::1", IPPROTO_UDP, 50002,
		 443, q, n, 0, 0x30);
	expect_tx("four-pass short v6 -> gue v6", &k, WEB3,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
	fx_frame(&k, 7, "198.18.5.8", "198.18.1.1", IPPROTO_UDP, 50002, 443, q,
		 n, 0, 0);
	k.b[12] = 0x88;
	k.b[13] = 0xa8;
	expect_tx("four-pass short v4, 802.1ad tag", &k, WEB3,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
	/* long headers never enter the decoded-CID cache */
	{
		unsigned int before = cache_entries(&F);

		n = fx_long(q, 2, 1, cid, cl, 80);
		fx_frame(&k, -1, "198.18.5.8", "198.18.1.1", IPPROTO_UDP, 50002,
			 443, q, n, 0, 0);
		expect_tx("four-pass handshake packet", &k, WEB3,
			  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
		n = fx_long(q, 0, 1,
			    (const uint8_t *)"\x2f\x01\x02\x03\x04\x05\x06\x07"
					     "\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
			    16, 1200);
		fx_frame(&k, -1, "198.18.5.8", "198.18.1.1", IPPROTO_UDP, 50003,
			 443, q, n, 0, 0);
		expect_verdict("initial with a config-1 DCID", &k, XDP_TX,
			       QLB_R_FB_INITIAL);
		CHECK(cache_entries(&F) == before,
		      "long headers added %u cache entries",
		      cache_entries(&F) - before);
	}
	n = fx_short(q, cid, cl, 30);

	/* single pass (vector row 4, config 2) -> web2: IPIP */
	cl = fx_unhex("504dd2d05a7b0de9b2b9907afb5ecf8cc3", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.9", "198.18.1.1", IPPROTO_UDP, 50003, 443, q,
		 n, 0, 0);
	expect_tx("single-pass short v4 -> ipip v4", &k, WEB2,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
	fx_frame(&k, -1, "2001:db8:5::9", "2001:db8:1::1", IPPROTO_UDP, 50003,
		 443, q, n, 0, 0);
	expect_tx("single-pass short v6 -> 6in4", &k, WEB2,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* IP6IP6 and 4in6 IPIP to web6; a draining host still gets its CIDs */
	cl = fx_unhex("070d000299aabbcc", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "2001:db8:5::a", "2001:db8:1::1", IPPROTO_UDP, 50004,
		 443, q, n, 0, 0);
	expect_tx("plaintext v6 -> ip6ip6", &k, WEB6, fx_cid_hash(cid, cl),
		  QLB_R_ROUTED_CID);
	cl = fx_unhex("070b000311223344", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.10", "198.18.1.1", IPPROTO_UDP, 50004, 443,
		 q, n, 0, 0);
	expect_tx("draining host keeps its CIDs (4in6)", &k, WEB4,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* long header Handshake with a server CID: routed */
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_long(q, 2, 1, cid, cl, 60);
	fx_frame(&k, -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443, q,
		 n, 0, 0);
	expect_tx("long header handshake routed", &k, WEB1,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* client Initial: random DCID -> Maglev over active hosts */
	cl = fx_unhex("1c2d3e4f50617283", cid);
	n = fx_long(q, 0, 1, cid, cl, 1200);
	fx_frame(&k, -1, "198.18.5.11", "198.18.1.1", IPPROTO_UDP, 50005, 443,
		 q, n, 0, 0);
	expect_tx("initial fallback v4", &k, fallback_host(&k),
		  fx_flow_hash(&k), QLB_R_FB_INITIAL);
	fx_frame(&k, -1, "2001:db8:5::b", "2001:db8:1::1", IPPROTO_UDP, 50005,
		 443, q, n, 0, 0);
	expect_tx("initial fallback v6", &k, fallback_host(&k),
		  fx_flow_hash(&k), QLB_R_FB_INITIAL);
	/* an Initial whose DCID is too short for its config bits */
	cl = fx_unhex("07c460", cid);
	n = fx_long(q, 0, 1, cid, cl, 1200);
	fx_frame(&k, -1, "198.18.5.12", "198.18.1.1", IPPROTO_UDP, 50006, 443,
		 q, n, 0, 0);
	expect_tx("initial short dcid", &k, fallback_host(&k), fx_flow_hash(&k),
		  QLB_R_FB_INITIAL);
	n = fx_long(q, 0, 1, cid, 0, 1200);
	fx_frame(&k, -1, "198.18.5.12", "198.18.1.1", IPPROTO_UDP, 50007, 443,
		 q, n, 0, 0);
	expect_tx("initial empty dcid", &k, fallback_host(&k), fx_flow_hash(&k),
		  QLB_R_FB_INITIAL);

	/* unroutable short headers take the fallback with their reason */
	cl = fx_unhex("f7c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.13", "198.18.1.1", IPPROTO_UDP, 50008, 443,
		 q, n, 0, 0);
	expect_tx("0b111", &k, fallback_est(&k), fx_flow_hash(&k),
		  QLB_R_FB_UNROUTABLE);
	cl = fx_unhex("a7c4605e4504cc4f", cid); /* config 5: not live */
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.13", "198.18.1.1", IPPROTO_UDP, 50009, 443,
		 q, n, 0, 0);
	expect_tx("unknown config", &k, fallback_est(&k), fx_flow_hash(&k),
		  QLB_R_FB_UNKNOWN_CONFIG);
	cl = fx_unhex("070e000001020304", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.13", "198.18.1.1", IPPROTO_UDP, 50010, 443,
		 q, n, 0, 0);
	expect_tx("unknown server id", &k, fallback_est(&k), fx_flow_hash(&k),
		  QLB_R_FB_UNKNOWN_SID);
	cl = fx_unhex("070c000155667788", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.13", "198.18.1.1", IPPROTO_UDP, 50011, 443,
		 q, n, 0, 0);
	expect_tx("down host", &k, fallback_est(&k), fx_flow_hash(&k),
		  QLB_R_FB_HOST_DOWN);
	cl = fx_unhex("09c4605e4504cc4f", cid); /* length bits say 10 */
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.13", "198.18.1.1", IPPROTO_UDP, 50012, 443,
		 q, n, 0, 0);
	expect_tx("length bits disagree", &k, fallback_est(&k),
		  fx_flow_hash(&k), QLB_R_FB_UNROUTABLE);

	/* TCP to the VIP port: stateless fallback */
	fx_frame(&k, -1, "198.18.5.14", "198.18.1.1", IPPROTO_TCP, 40000, 443,
		 q, 0, 0, 0);
	expect_tx("tcp v4", &k, fallback_host(&k), fx_flow_hash(&k),
		  QLB_R_FB_TCP);
	fx_frame(&k, -1, "2001:db8:5::e", "2001:db8:1::1", IPPROTO_TCP, 40000,
		 443, q, 0, 0, 0);
	expect_tx("tcp v6", &k, fallback_host(&k), fx_flow_hash(&k),
		  QLB_R_FB_TCP);

	/* drops */
	n = fx_long(q, 0, 0, cid, 8, 1200);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50013, 443,
		 q, n, 0, 0);
	expect_verdict("version 0", &k, XDP_DROP, QLB_R_VERSION0);
	n = fx_long(q, 0, 1, cid, 8, 0);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50014, 443,
		 q, 10, 0, 0);
	expect_verdict("long header truncated in the DCID", &k, XDP_DROP,
		       QLB_R_MALFORMED);
	q[5] = 21;
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50015, 443,
		 q, n, 0, 0);
	expect_verdict("DCID length 21", &k, XDP_DROP, QLB_R_MALFORMED);
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 0);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50016, 443,
		 q, n - 1, 0, 0);
	expect_verdict("short header shorter than its CID", &k, XDP_DROP,
		       QLB_R_MALFORMED);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50017, 443,
		 q, 1, 0, 0);
	expect_verdict("one-byte payload", &k, XDP_DROP, QLB_R_MALFORMED);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50018, 443,
		 q, 0, 0, 0);
	expect_verdict("empty payload", &k, XDP_DROP, QLB_R_MALFORMED);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50019, 443,
		 q, n, 0, 0);
	k.len -= 10; /* IP total length now longer than the frame */
	expect_verdict("truncated IP packet", &k, XDP_DROP, QLB_R_MALFORMED);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50020, 443,
		 q, n, 0, 0);
	put16(k.b + 14 + 24, 200); /* UDP length beyond the IP packet */
	expect_verdict("UDP length too long", &k, XDP_DROP, QLB_R_MALFORMED);
	fx_frame(&k, -1, "198.18.5.15", "198.18.1.1", IPPROTO_UDP, 50021, 443,
		 q, n, 0, 0);
	put16(k.b + 14 + 6, 0x2000); /* MF: first fragment */
	put16(k.b + 14 + 10, 0);
	put16(k.b + 14 + 10, fx_csum(k.b + 14, 20));
	expect_verdict("first fragment", &k, XDP_DROP, QLB_R_MALFORMED);
	put16(k.b + 14 + 6, 0x0010); /* a later fragment: no ports */
	expect_verdict("later fragment passes", &k, XDP_PASS, QLB_R_PASSED);
	n = fx_short(q, cid, cl,
		     1500 - 20 - 8 - 1 - cl); /* 1500 bytes inside */
	fx_frame(&k, -1, "198.18.5.16", "198.18.1.1", IPPROTO_UDP, 50022, 443,
		 q, n, 0, 0);
	put16(k.b + 14 + 6, 0); /* no DF: may not be answered */
	put16(k.b + 14 + 10, 0);
	put16(k.b + 14 + 10, fx_csum(k.b + 14, 20));
	expect_verdict("oversize once wrapped", &k, XDP_DROP, QLB_R_OVERSIZE);
	n = fx_short(q, cid, cl,
		     1500 - 20 - 8 - 1 - cl - 28); /* fits with GUE */
	fx_frame(&k, -1, "198.18.5.16", "198.18.1.1", IPPROTO_UDP, 50022, 443,
		 q, n, 0, 0);
	expect_tx("exactly the MTU once wrapped", &k, WEB1,
		  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);

	/* not for us: untouched */
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.17", "198.18.1.1", IPPROTO_UDP, 50023, 8443,
		 q, n, 0, 0);
	expect_verdict("other port", &k, XDP_PASS, QLB_R_PASSED);
	fx_frame(&k, -1, "198.18.5.17", "198.18.1.2", IPPROTO_UDP, 50023, 443,
		 q, n, 0, 0);
	expect_verdict("other address", &k, XDP_PASS, QLB_R_PASSED);
	fx_frame(&k, -1, "2001:db8:5::11", "2001:db8:1::2", IPPROTO_UDP, 50023,
		 443, q, n, 0, 0);
	expect_verdict("other v6 address", &k, XDP_PASS, QLB_R_PASSED);
	fx_frame(&k, -1, "198.18.5.17", "198.18.1.1", IPPROTO_ICMP, 0, 0, q, 8,
		 0, 0);
	k.b[14 + 9] = 1;
	expect_verdict("icmp to the VIP", &k, XDP_PASS, QLB_R_PASSED);
	memset(&k, 0, sizeof(k));
	memcpy(k.b, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x99\x08\x06",
	       14);
	k.len = 42;
	expect_verdict("arp", &k, XDP_PASS, QLB_R_PASSED);
	k.len = 10;
	{
		struct pkt out;
		size_t ol = sizeof(out.b);

		/* shorter than Ethernet: the kernel refuses to run it, or
		 * passes */
		int r = fx_run(&F, k.b, k.len, out.b, &ol);

		CHECK(r == -1 || r == XDP_PASS, "runt frame: %d", r);
	}
}

/* A second apply moves a server ID: the cache must not keep the old host. */
static void reapply(void)
{
	uint8_t cid[32], q[256];
	struct pkt k;
	size_t n, cl;
	struct qlb_lb_ctrl c1, c2;
	__u32 zero = 0;

	bpf_map_lookup_elem(F.m.ctrl, &zero, &c1);
	F.hosts[WEB3].has_sid[1] = false;
	fx_sid(&F.hosts[WEB1], 1, "ed793a51d49b8f5fab60");
	CHECK(fx_fill(&F) == 0, "refill");
	bpf_map_lookup_elem(F.m.ctrl, &zero, &c2);
	CHECK(c2.slot != c1.slot && c2.gen == c1.gen + 1, "slot flipped");
	cl = fx_unhex("2fcc381bc74cb4fbad2823a3d1f8fed2", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.8", "198.18.1.1", IPPROTO_UDP, 50002, 443, q,
		 n, 0, 0);
	{
		struct pkt out, want;
		struct qlb_lb_trace t;
		size_t ol = sizeof(out.b);
		int r = fx_run(&F, k.b, k.len, out.b, &ol);

		fx_trace(&F, &t);
		fx_expect(&want, &k, host_addr[WEB1], host_encap[WEB1],
			  fx_cid_hash(cid, cl));
		CHECK(r == XDP_TX && t.host == WEB1 && ol == want.len &&
			      !memcmp(out.b, want.b, want.len),
		      "after apply the moved server ID goes to web1 (host %u)",
		      t.host);
	}
	/* host indexes are kept by name across applies */
	{
		struct qlb_lb_host h;
		__u32 key = (c2.slot & 1) * QLB_LB_MAX_MEMBERS + WEB3;

		CHECK(bpf_map_lookup_elem(F.m.hosts, &key, &h) == 0 &&
			      !strcmp(h.name, "web3"),
		      "web3 keeps index %d", WEB3);
	}
}

/* No active host: the fallback has nowhere to go. */
static void no_hosts(void)
{
	struct fx f = {0};
	struct qlb_lb_trace t;
	uint8_t q[1300], cid[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[2048];
	size_t n, ol = sizeof(out);
	struct pkt k;
	int r;

	fx_base(&f);
	fx_cid_conf(&f.cfg, 0, 3, 4, NULL, 0);
	fx_host(&f, "only", "198.18.0.21", QLB_ENCAP_GUE, QLB_HOST_DRAINING,
		100);
	CHECK(fx_load(&f, 1) == 0 && fx_fill(&f) == 0, "load");
	n = fx_long(q, 0, 1, cid, 8, 1200);
	fx_frame(&k, -1, "198.18.5.20", "198.18.1.1", IPPROTO_UDP, 50030, 443,
		 q, n, 0, 0);
	r = fx_run(&f, k.b, k.len, out, &ol);
	fx_trace(&f, &t);
	CHECK(r == XDP_DROP && t.reason == QLB_R_NO_HOST,
	      "no active host: verdict %d reason %s", r,
	      qlb_lb_reason_name(t.reason));
	qlb_xdp__destroy(f.skel);
}

/* Four-pass with sid_len <= nonce_len: the three-pass decode (vector row 2). */
static void three_pass(void)
{
	struct fx f = {0};
	struct qlb_lb_trace t;
	uint8_t q[256], cid[32];
	struct pkt k, out, want;
	size_t n, cl, ol = sizeof(out.b);
	int r;

	fx_base(&f);
	fx_cid_conf(&f.cfg, 0, 3, 4, FX_VECTOR_KEY, 4);
	fx_host(&f, "other", "198.18.0.22", QLB_ENCAP_GUE, QLB_HOST_ACTIVE,
		100);
	fx_sid(&f.hosts[0], 0, "ed7900");
	fx_host(&f, "owner", "198.18.0.21", QLB_ENCAP_GUE, QLB_HOST_ACTIVE,
		100);
	fx_sid(&f.hosts[1], 0, "ed7930");
	CHECK(fx_load(&f, 1) == 0 && fx_fill(&f) == 0, "load");
	cl = fx_unhex("0720b1d07b359d3c", cid);
	n = fx_short(q, cid, cl, 30);
	fx_frame(&k, -1, "198.18.5.30", "198.18.1.1", IPPROTO_UDP, 50040, 443,
		 q, n, 0, 0);
	r = fx_run(&f, k.b, k.len, out.b, &ol);
	fx_trace(&f, &t);
	fx_expect(&want, &k, "198.18.0.21", 0, fx_cid_hash(cid, cl));
	CHECK(r == XDP_TX && t.host == 1 && t.sid_len == 3 &&
		      !memcmp(t.sid, "\xed\x79\x3a", 3) && ol == want.len &&
		      !memcmp(out.b, want.b, want.len),
	      "three-pass vector routed to its owner (host %u)", t.host);
	qlb_xdp__destroy(f.skel);
}

/*
 * The largest config the maps take: 512 VIPs, 4096 hosts, 8 services of
 * 64 VIPs and 1024 members each (its own 512 hosts and the next service's
 * 512: every host serves two services), two configs per service (ids
 * differ from one service to the next, one of them keyed): 16384 server
 * IDs, QLB_LB_MAX_SIDS. Every VIP must be found with its service, and
 * every member's server ID under each of its service's configs must route
 * to that member through a VIP of that service.
 */
#define MAX_SVCS 8
static void max_tables(void)
{
	struct fx f = {0};
	struct qlb_conf_host *hosts = calloc(QLB_LB_MAX_HOSTS, sizeof(*hosts));
	struct qlb_conf_service *svcs = calloc(MAX_SVCS, sizeof(*svcs));
	unsigned int per = QLB_LB_MAX_HOSTS / MAX_SVCS;
	unsigned int vper = QLB_LB_MAX_VIPS / MAX_SVCS;
	struct qlb_lb_trace t;
	uint8_t q[1300], cid[32], out[2048];
	unsigned int i, j, s, id, bad_vip = 0, bad_sid = 0, nsid = 0;
	struct pkt k;
	char a[64];
	size_t n, ol;

	if (!hosts || !svcs)
		return;
	fx_base(&f);
	f.cfg.hosts = hosts;
	f.cfg.lb.nvips = QLB_LB_MAX_VIPS;
	for (i = 0; i < QLB_LB_MAX_VIPS; i++) {
		if (i % 2)
			snprintf(a, sizeof(a), "2001:db8:1::%x", i);
		else
			snprintf(a, sizeof(a), "198.18.%u.%u", i / 256 + 2,
				 i % 256);
		fx_addr(&f.cfg.lb.vips[i].addr, a);
		f.cfg.lb.vips[i].port = 443 + i % 3;
		f.cfg.lb.vips[i].service = i / vper;
	}
	f.cfg.nhosts = QLB_LB_MAX_HOSTS;
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
		struct qlb_conf_host *h = &hosts[i];

		snprintf(h->name, sizeof(h->name), "h%04u", i);
		snprintf(a, sizeof(a), "198.19.%u.%u", i / 256, i % 256);
		fx_addr(&h->address, a);
		h->weight = 100;
	}
	f.cfg.nservices = MAX_SVCS;
	f.cfg.services = svcs;
	for (s = 0; s < MAX_SVCS; s++) {
		struct qlb_conf_service *svc = &svcs[s];
		unsigned int ids[2] = {s % 7, (s + 1) % 7};

		snprintf(svc->name, sizeof(svc->name), "svc%u", s);
		svc->vip_first = s * vper;
		svc->nvips = vper;
		svc->member_first = s * 2 * per;
		svc->nhosts = 2 * per;
		svc->hosts = calloc(svc->nhosts, sizeof(*svc->hosts));
		if (!svc->hosts)
			return;
		for (j = 0; j < 2; j++) {
			struct qlb_conf_cid *c = &svc->configs[ids[j]];

			c->present = true;
			c->id = ids[j];
			c->sid_len = 2 + ids[j] % 2;
			c->nonce_len = 6;
			c->worker_bits = 4;
			c->encode_length = true;
			if (ids[j] == 3) {
				c->has_key = true;
				fx_unhex(FX_VECTOR_KEY, c->key);
			}
		}
		for (j = 0; j < svc->nhosts; j++) {
			struct qlb_conf_svc_host *sh = &svc->hosts[j];
			unsigned int hi = (s * per + j) % QLB_LB_MAX_HOSTS;

			sh->host = hi;
			sh->state = QLB_HOST_ACTIVE;
			for (id = 0; id < 2; id++) {
				/* the host's index, worker bits 0 */
				sh->has_sid[ids[id]] = true;
				sh->sid[ids[id]][0] = (uint8_t)(hi >> 4);
				sh->sid[ids[id]][1] = (uint8_t)(hi << 4);
			}
		}
	}
	CHECK(fx_load(&f, 1) == 0 && fx_fill(&f) == 0,
	      "fill the largest config");
	for (i = 0; i < QLB_LB_MAX_VIPS; i++) {
		if (i % 2)
			snprintf(a, sizeof(a), "2001:db8:1::%x", i);
		else
			snprintf(a, sizeof(a), "198.18.%u.%u", i / 256 + 2,
				 i % 256);
		n = fx_long(q, 0, 1, (const uint8_t *)"\1\2\3\4\5\6\7\x8", 8,
			    1200);
		fx_frame(&k, -1, i % 2 ? "2001:db8:5::1" : "198.18.5.1", a,
			 IPPROTO_UDP, 40000, 443 + i % 3, q, n, 0, 0);
		ol = sizeof(out);
		if (fx_run(&f, k.b, k.len, out, &ol) != XDP_TX ||
		    fx_trace(&f, &t) || t.vip != i || t.service != i / vper ||
		    t.host < svcs[i / vper].member_first ||
		    t.host >= svcs[i / vper].member_first + 2 * per)
			bad_vip++;
	}
	CHECK(bad_vip == 0, "%u of %u VIPs not found or not in their service",
	      bad_vip, QLB_LB_MAX_VIPS);
	for (s = 0; s < MAX_SVCS; s++) {
		const struct qlb_conf_service *svc = &svcs[s];
		unsigned int ids[2] = {s % 7, (s + 1) % 7};

		/* the service's first VIP, an IPv4 one */
		snprintf(a, sizeof(a), "198.18.%u.%u", (s * vper) / 256 + 2,
			 (s * vper) % 256);
		for (id = 0; id < 2; id++) {
			struct qlb_cid_cfg c;

			qlb_service_cid_cfg(svc, ids[id], &c);
			for (j = 0; j < svc->nhosts; j++) {
				unsigned int hi = svc->hosts[j].host;
				uint8_t sid[2] = {
					(uint8_t)(hi >> 4),
					(uint8_t)(hi << 4 | (hi & 15))};
				uint8_t sid3[3] = {sid[0], (uint8_t)(hi << 4),
						   7};
				int cl = qlb_cid_encode(
					&c, c.sid_len == 3 ? sid3 : sid,
					(const uint8_t *)"\x11\x22\x33\x44\x55"
							 "\x66",
					0, cid);

				n = fx_short(q, cid, (size_t)cl, 20);
				fx_frame(&k, -1, "198.18.5.1", a, IPPROTO_UDP,
					 40000, 443 + (s * vper) % 3, q, n, 0,
					 0);
				ol = sizeof(out);
				nsid++;
				if (fx_run(&f, k.b, k.len, out, &ol) !=
					    XDP_TX ||
				    fx_trace(&f, &t) ||
				    t.reason != QLB_R_ROUTED_CID ||
				    t.service != s ||
				    t.host != svc->member_first + j)
					bad_sid++;
			}
		}
	}
	CHECK(nsid == QLB_LB_MAX_SIDS, "%u server IDs, want %u", nsid,
	      QLB_LB_MAX_SIDS);
	CHECK(bad_sid == 0, "%u of %u server IDs not routed to their member",
	      bad_sid, nsid);
	qlb_xdp__destroy(f.skel);
	for (s = 0; s < MAX_SVCS; s++)
		free(svcs[s].hosts);
	free(svcs);
	free(hosts);
}

/* The counters a user reads: rows per VIP and reason, per host. */
static void counters(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct qlb_lb_counter pc[512];
	__u64 routed = 0, passed = 0, host1 = 0;
	__u32 row = 0 * QLB_R_MAX + QLB_R_ROUTED_CID, i, h = WEB1;

	if (ncpu > 512)
		return;
	bpf_map_lookup_elem(F.m.stats, &row, pc);
	for (i = 0; i < (__u32)ncpu; i++)
		routed += pc[i].packets;
	row = QLB_LB_NO_VIP * QLB_R_MAX + QLB_R_PASSED;
	bpf_map_lookup_elem(F.m.stats, &row, pc);
	for (i = 0; i < (__u32)ncpu; i++)
		passed += pc[i].packets;
	bpf_map_lookup_elem(F.m.host_stats, &h, pc);
	for (i = 0; i < (__u32)ncpu; i++)
		host1 += pc[i].packets;
	printf("counters: vip0 routed_cid %llu, non-VIP passed %llu, web1 "
	       "%llu\n",
	       (unsigned long long)routed, (unsigned long long)passed,
	       (unsigned long long)host1);
	CHECK(routed >= 8, "VIP 0 routed_cid counter %llu",
	      (unsigned long long)routed);
	CHECK(passed >= 3, "passed counter %llu", (unsigned long long)passed);
	CHECK(host1 >= 7, "web1 counter %llu", (unsigned long long)host1);
}

int main(void)
{
	if (lb_fixture_init())
		return 1;
	cases();
	counters();
	reapply();
	no_hosts();
	three_pass();
	max_tables();
	lb_fixture_fini();
	return t_done("test_xdp_lb");
}
