// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's XDP program through BPF_PROG_TEST_RUN: a fixture table of
 * frames with the exact frame, verdict and reason expected for each. The
 * program is filled by qlb_lb_fill() (the code `qlbctl lb apply` runs) from
 * a config built as C structs; CIDs come from the draft's test vectors.
 * Every case runs on the trace build (reasons checked) and on the live build
 * (trace code compiled out: same verdict and frame).
 */
#include <linux/if_ether.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

#include "t.h"
#include "xdp_fixture.h"

static struct fx F, L; /* trace build, live build */
static uint32_t table[65537];
static const char *const host_addr[] = {"198.18.0.21",	"198.18.0.22",
					"2001:db8::23", "2001:db8::24",
					"198.18.0.25",	"2001:db8::26"};
static const int host_encap[] = {0, 1, 0, 1, 0, 1};

enum { WEB1, WEB2, WEB3, WEB4, WEB5, WEB6 };

static void setup(struct fx *f)
{
	struct qlb_conf_host *h;

	fx_base(f);
	fx_vector_configs(&f->cfg);
	h = fx_host(f, "web1", host_addr[0], QLB_ENCAP_GUE, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 0, "c46050");
	h = fx_host(f, "web2", host_addr[1], QLB_ENCAP_IPIP, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 2, "ed793a51d49b8f50");
	h = fx_host(f, "web3", host_addr[2], QLB_ENCAP_GUE, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 1, "ed793a51d49b8f5fab60");
	h = fx_host(f, "web4", host_addr[3], QLB_ENCAP_IPIP, QLB_HOST_DRAINING,
		    100);
	fx_sid(h, 0, "0b0000");
	h = fx_host(f, "web5", host_addr[4], QLB_ENCAP_GUE, QLB_HOST_DOWN, 100);
	fx_sid(h, 0, "0c0000");
	h = fx_host(f, "web6", host_addr[5], QLB_ENCAP_IPIP, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 0, "0d0000");
}

/*
 * The Maglev tables the fallback must follow, written out here from the
 * contract (include/qlb/lb_abi.h, qlb_maglev_est) rather than taken from
 * the program: @est over the active and draining hosts; @syn equal to it
 * but where it names a draining host, whose entries go as in a table over
 * the active hosts alone. Without a draining host both are that table.
 */
static void build_tables(const struct fx *f, uint32_t *syn, uint32_t *est)
{
	static uint32_t act[65537];
	struct qlb_maglev_backend a[8], e[8];
	size_t na = 0, ne = 0, i;
	bool drain[8] = {0};

	for (i = 0; i < f->cfg.nhosts; i++) {
		const struct qlb_conf_host *h = &f->hosts[i];

		if (h->state == QLB_HOST_DOWN || !h->weight)
			continue;
		e[ne++] = (struct qlb_maglev_backend){h->name, h->weight,
						      (uint32_t)i};
		if (h->state == QLB_HOST_DRAINING)
			drain[i] = true;
		else
			a[na++] = (struct qlb_maglev_backend){
				h->name, h->weight, (uint32_t)i};
	}
	qlb_maglev_build(a, na, 65537, act);
	qlb_maglev_build(e, ne, 65537, est);
	for (i = 0; i < 65537; i++)
		syn[i] = est[i] < 8 && drain[est[i]] ? act[i] : est[i];
}

static uint32_t table_est[65537];

static void build_table(const struct fx *f)
{
	build_tables(f, table, table_est);
}

/* The host of a new flow (SYN, Initial) and of an established one (other
 * TCP segments, short headers) taking the fallback. */
static int fallback_host(const struct pkt *in)
{
	return (int)table[qlb_lb_maglev_index(fx_flow_hash(in), 65537)];
}

static int fallback_est(const struct pkt *in)
{
	return (int)table_est[qlb_lb_maglev_index(fx_flow_hash(in), 65537)];
}

static int run_both(const char *name, const struct pkt *in, struct pkt *out,
		    struct qlb_lb_trace *t)
{
	struct pkt o2;
	size_t l1 = sizeof(out->b), l2 = sizeof(o2.b);
	int r1 = fx_run(&F, in->b, in->len, out->b, &l1);
	int r2 = fx_run(&L, in->b, in->len, o2.b, &l2);

	out->len = l1;
	CHECK(r1 == r2 && l1 == l2 && !memcmp(out->b, o2.b, l1),
	      "%s: trace and live builds differ (%d/%d)", name, r1, r2);
	memset(t, 0, sizeof(*t));
	CHECK(fx_trace(&F, t) == 0, "%s: trace record", name);
	return r1;
}

static void hexdump_diff(const struct pkt *a, const struct pkt *b)
{
	size_t i, n = a->len > b->len ? a->len : b->len;

	for (i = 0; i < n && i < 128; i++)
		fprintf(stderr, "%s%02x%s", i % 16 ? "" : "\n  ",
			i < a->len ? a->b[i] : 0,
			(i < a->len && i < b->len && a->b[i] == b->b[i]) ? " "
									 : "*");
	fputc('\n', stderr);
}

static void expect_tx(const char *name, const struct pkt *in, int host,
		      uint32_t ent, unsigned int reason)
{
	struct pkt out, want;
	struct qlb_lb_trace t;
	int r = run_both(name, in, &out, &t);

	fx_expect(&want, in, host_addr[host], host_encap[host], ent);
	CHECK(r == XDP_TX, "%s: verdict %d, want XDP_TX (reason %s)", name, r,
	      qlb_lb_reason_name(t.reason));
	CHECK(t.reason == reason, "%s: reason %s, want %s", name,
	      qlb_lb_reason_name(t.reason), qlb_lb_reason_name(reason));
	CHECK(t.host == (uint32_t)host, "%s: host %u, want %d", name, t.host,
	      host);
	CHECK(out.len == want.len && !memcmp(out.b, want.b, want.len),
	      "%s: output frame differs (%zu bytes, want %zu)", name, out.len,
	      want.len);
	if (r == XDP_TX &&
	    (out.len != want.len || memcmp(out.b, want.b, want.len))) {
		fprintf(stderr, "  got:");
		hexdump_diff(&out, &want);
		fprintf(stderr, "  want:");
		hexdump_diff(&want, &out);
	}
}

static void expect_verdict(const char *name, const struct pkt *in, int verdict,
			   unsigned int reason)
{
	struct pkt out;
	struct qlb_lb_trace t;
	int r = run_both(name, in, &out, &t);

	CHECK(r == verdict, "%s: verdict %d, want %d (reason %s)", name, r,
	      verdict, qlb_lb_reason_name(t.reason));
	CHECK(t.reason == reason, "%s: reason %s, want %s", name,
	      qlb_lb_reason_name(t.reason), qlb_lb_reason_name(reason));
	if (verdict == XDP_PASS)
		CHECK(out.len == in->len && !memcmp(out.b, in->b, in->len),
		      "%s: a passed frame must be untouched", name);
}

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
		__u32 key = (c2.slot & 1) * QLB_LB_MAX_HOSTS + WEB3;

		CHECK(bpf_map_lookup_elem(F.m.hosts, &key, &h) == 0 &&
			      !strcmp(h.name, "web3"),
		      "web3 keeps index %d", WEB3);
	}
}

/* The host a frame went to (trace record), or -1 when not sent. */
static int sent_to(struct fx *f, const struct pkt *k)
{
	uint8_t out[2048];
	size_t ol = sizeof(out);
	struct qlb_lb_trace t;
	int r = fx_run(f, k->b, k->len, out, &ol);

	if (r != XDP_TX || fx_trace(f, &t))
		return -1;
	return (int)t.host;
}

/* Set the TCP flags of a frame built by fx_frame. */
static void tcp_flags(struct pkt *k, uint8_t flags)
{
	const uint8_t *ip = k->b + k->l3;
	size_t hl = (ip[0] >> 4) == 4 ? (size_t)(ip[0] & 15) * 4 : 40;

	k->b[k->l3 + hl + 13] = flags;
}

/*
 * Draining without per-flow state (docs/lb.md): a host turning draining
 * keeps every established flow that takes the fallback (TCP segments
 * other than SYN, QUIC short headers), its own included; new flows (SYN,
 * Initial) no longer reach it; and no flow of another host moves, new or
 * established.
 */
static void drain(void)
{
	enum { N = 4000 };
	static int before[N][2];
	struct fx f = {0};
	struct qlb_lb_settings st;
	uint8_t cid[32], q[1300];
	unsigned int i, own = 0, moved_syn = 0;
	struct pkt k;
	char src[64];
	size_t n, cl;
	__u32 slot;

	fx_base(&f);
	fx_vector_configs(&f.cfg);
	fx_host(&f, "d1", "198.18.0.31", QLB_ENCAP_GUE, QLB_HOST_ACTIVE, 100);
	fx_host(&f, "d2", "198.18.0.32", QLB_ENCAP_IPIP, QLB_HOST_ACTIVE, 100);
	fx_host(&f, "d3", "2001:db8::33", QLB_ENCAP_GUE, QLB_HOST_ACTIVE, 200);
	fx_host(&f, "d4", "198.18.0.34", QLB_ENCAP_GUE, QLB_HOST_ACTIVE, 100);
	CHECK(fx_load(&f, 1) == 0 && fx_fill(&f) == 0, "drain: load");
	cl = fx_unhex("a7c4605e4504cc4f", cid); /* config 5: not live */
	for (i = 0; i < N; i++) {
		snprintf(src, sizeof(src),
			 i & 1 ? "2001:db8:7::%x" : "198.18.7.%u",
			 i & 1 ? i : 1 + i % 250);
		fx_frame(&k, -1, src, i & 1 ? "2001:db8:1::1" : "198.18.1.1",
			 IPPROTO_TCP, (uint16_t)(20000 + i), 443, q, 0, 0, 0);
		tcp_flags(&k, 0x10); /* ACK */
		before[i][0] = sent_to(&f, &k);
		n = fx_short(q, cid, cl, 30);
		fx_frame(&k, -1, src, i & 1 ? "2001:db8:1::1" : "198.18.1.1",
			 IPPROTO_UDP, (uint16_t)(20000 + i), 443, q, n, 0, 0);
		before[i][1] = sent_to(&f, &k);
	}

	f.hosts[3].state = QLB_HOST_DRAINING; /* d4 */
	CHECK(fx_fill(&f) == 0, "drain: refill");
	bpf_map_lookup_elem(f.m.ctrl, &(__u32){0}, &slot);
	CHECK(!bpf_map_lookup_elem(f.m.settings, &slot, &st) && st.est_table,
	      "drain: the slot has no table of established flows");
	for (i = 0; i < N; i++) {
		int syn, init, ack, sh;

		snprintf(src, sizeof(src),
			 i & 1 ? "2001:db8:7::%x" : "198.18.7.%u",
			 i & 1 ? i : 1 + i % 250);
		fx_frame(&k, -1, src, i & 1 ? "2001:db8:1::1" : "198.18.1.1",
			 IPPROTO_TCP, (uint16_t)(20000 + i), 443, q, 0, 0, 0);
		syn = sent_to(&f, &k); /* fx_frame sends a SYN */
		tcp_flags(&k, 0x10);
		ack = sent_to(&f, &k);
		tcp_flags(&k, 0x18); /* PSH ACK */
		CHECK(sent_to(&f, &k) == ack, "drain: flow %u: PSH ACK != ACK",
		      i);
		tcp_flags(&k, 0x12); /* SYN ACK: not a client's opening */
		CHECK(sent_to(&f, &k) == ack, "drain: flow %u: SYN ACK != ACK",
		      i);
		n = fx_short(q, cid, cl, 30);
		fx_frame(&k, -1, src, i & 1 ? "2001:db8:1::1" : "198.18.1.1",
			 IPPROTO_UDP, (uint16_t)(20000 + i), 443, q, n, 0, 0);
		sh = sent_to(&f, &k);
		n = fx_long(q, 0, 1, cid, 8, 1200);
		fx_frame(&k, -1, src, i & 1 ? "2001:db8:1::1" : "198.18.1.1",
			 IPPROTO_UDP, (uint16_t)(20000 + i), 443, q, n, 0, 0);
		init = sent_to(&f, &k);

		CHECK(before[i][0] >= 0 && before[i][0] == before[i][1],
		      "drain: flow %u: TCP and UDP of one 4-tuple differ "
		      "(%d, %d)",
		      i, before[i][0], before[i][1]);
		CHECK(ack == before[i][0],
		      "drain: established TCP flow %u moved from %d to %d", i,
		      before[i][0], ack);
		CHECK(sh == before[i][1],
		      "drain: established QUIC flow %u (short header) moved "
		      "from %d to %d",
		      i, before[i][1], sh);
		CHECK(syn == init, "drain: flow %u: SYN to %d, Initial to %d",
		      i, syn, init);
		if (before[i][0] == 3) {
			own++;
			CHECK(syn >= 0 && syn != 3,
			      "drain: a new flow went to the draining host");
			moved_syn++;
		} else {
			CHECK(syn == before[i][0],
			      "drain: new flow %u of host %d went to %d", i,
			      before[i][0], syn);
		}
	}
	printf("drain: %u of %u flows on d4: established ones stay on it, "
	       "new ones go to the others; %u flows of d1..d3 unmoved\n",
	       own, N, N - own);
	CHECK(own > N / 10 && moved_syn == own,
	      "drain: only %u of %u flows on d4", own, N);
	qlb_xdp__destroy(f.skel);
}

/* ---- path MTU ------------------------------------------------------------
 */

/* The one's complement sum of @n bytes (not inverted), added to @s. */
static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold16(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The TCP or ICMPv6 checksum of the L4 part @l4 (@n bytes) of the IP
 * packet at @ip, with the pseudo-header of its version. */
static uint16_t l4_csum(const uint8_t *ip, const uint8_t *l4, size_t n,
			uint8_t proto)
{
	uint32_t s = proto + (uint32_t)n;

	if ((ip[0] >> 4) == 4)
		s = sum16(s, ip + 12, 8);
	else
		s = sum16(s, ip + 8, 32);
	return fold16(sum16(s, l4, n));
}

/* Set the TCP checksum of a frame built by fx_frame (IPv4 or IPv6). */
static void tcp_fix(struct pkt *k)
{
	uint8_t *ip = k->b + k->l3;
	size_t hl = (ip[0] >> 4) == 4 ? (size_t)(ip[0] & 15) * 4 : 40;
	size_t n = k->len - k->l3 - hl;

	put16(ip + hl + 16, 0);
	put16(ip + hl + 16, l4_csum(ip, ip + hl, n, IPPROTO_TCP));
}

/* A TCP SYN to the VIP with an MSS option (and a no-op before it). */
static void syn_mss(struct pkt *k, const char *src, const char *dst,
		    uint16_t mss, uint8_t flags)
{
	uint8_t opt[8] = {1, 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 1, 1, 0};
	uint8_t *ip;
	size_t hl;

	fx_frame(k, -1, src, dst, IPPROTO_TCP, 40100, 443, opt, 8, 0, 0);
	ip = k->b + k->l3;
	hl = (ip[0] >> 4) == 4 ? 20 : 40;
	ip[hl + 12] = 0x70; /* 28 bytes: the 8 above are options */
	ip[hl + 13] = flags;
	tcp_fix(k);
}

/* An ICMP too-big from a router to the VIP about the VIP's packet to
 * @client (a host's reply from VIP:443 to @client:@cport). */
static void too_big_msg(struct pkt *k, const char *router, const char *vip,
			const char *client, uint16_t cport, uint16_t mtu)
{
	struct pkt inner;
	uint8_t m[8 + 48];
	size_t ql;

	/* the quoted packet: its IP header and the first 8 bytes after */
	fx_frame(&inner, -1, vip, client, IPPROTO_TCP, 443, cport, NULL, 0, 0,
		 0);
	ql = ((inner.b[14] >> 4) == 4 ? 20 : 40) + 8;
	memset(m, 0, sizeof(m));
	if ((inner.b[14] >> 4) == 4) {
		m[0] = 3;
		m[1] = 4;
		put16(m + 6, mtu);
	} else {
		m[0] = 2;
		put16(m + 6, mtu);
	}
	memcpy(m + 8, inner.b + 14, ql);
	fx_frame(k, -1, router, vip, IPPROTO_UDP, 0, 0, NULL, 0, 0, 0);
	/* make it ICMP: header 8 bytes + quote instead of the UDP header */
	{
		uint8_t *ip = k->b + 14;
		size_t hl = (ip[0] >> 4) == 4 ? 20 : 40;

		memcpy(ip + hl, m, 8 + ql);
		if (hl == 20) {
			ip[9] = IPPROTO_ICMP;
			put16(ip + 2, (uint16_t)(20 + 8 + ql));
			put16(ip + 10, 0);
			put16(ip + 10, fx_csum(ip, 20));
			put16(ip + hl + 2, fx_csum(ip + hl, 8 + ql));
		} else {
			ip[6] = IPPROTO_ICMPV6;
			put16(ip + 4, (uint16_t)(8 + ql));
			put16(ip + hl + 2,
			      l4_csum(ip, ip + hl, 8 + ql, IPPROTO_ICMPV6));
		}
		k->len = 14 + hl + 8 + ql;
	}
}

/*
 * The answer the LB node must send to a packet too big once wrapped: to
 * its sender from the address it was sent to, ICMP 3/4 or ICMPv6 2 with
 * @mtu, quoting the packet's first 504 bytes.
 */
static void too_big_expect(struct pkt *w, const struct pkt *in, uint16_t mtu)
{
	const uint8_t *iip = in->b + 14;
	uint8_t *ip = w->b + 14, *ic;
	size_t q = 504, hl;

	memset(w, 0, sizeof(*w));
	memcpy(w->b, fx_cl_mac, 6);
	memcpy(w->b + 6, fx_if_mac, 6);
	if ((iip[0] >> 4) == 4) {
		put16(w->b + 12, 0x0800);
		hl = 20;
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + 8 + q));
		put16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, iip + 16, 4);
		memcpy(ip + 16, iip + 12, 4);
		put16(ip + 10, fx_csum(ip, 20));
		ic = ip + hl;
		ic[0] = 3;
		ic[1] = 4;
		put16(ic + 6, mtu);
		memcpy(ic + 8, iip, q);
		put16(ic + 2, fx_csum(ic, 8 + q));
	} else {
		put16(w->b + 12, 0x86dd);
		hl = 40;
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(8 + q));
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = 64;
		memcpy(ip + 8, iip + 24, 16);
		memcpy(ip + 24, iip + 8, 16);
		ic = ip + hl;
		ic[0] = 2;
		put16(ic + 6, mtu);
		memcpy(ic + 8, iip, q);
		put16(ic + 2, l4_csum(ip, ic, 8 + q, IPPROTO_ICMPV6));
	}
	w->l3 = 14;
	w->len = 14 + hl + 8 + q;
}

static void expect_frame(const char *name, const struct pkt *in, int verdict,
			 unsigned int reason, const struct pkt *want)
{
	struct pkt out;
	struct qlb_lb_trace t;
	int r = run_both(name, in, &out, &t);

	CHECK(r == verdict && t.reason == reason,
	      "%s: verdict %d reason %s, want %d %s", name, r,
	      qlb_lb_reason_name(t.reason), verdict,
	      qlb_lb_reason_name(reason));
	CHECK(out.len == want->len && !memcmp(out.b, want->b, want->len),
	      "%s: output frame differs (%zu bytes, want %zu)", name, out.len,
	      want->len);
	if (out.len != want->len || memcmp(out.b, want->b, want->len)) {
		fprintf(stderr, "  got:");
		hexdump_diff(&out, want);
		fprintf(stderr, "  want:");
		hexdump_diff(want, &out);
	}
}

/*
 * Path MTU (docs/lb.md): a packet that would not fit lb.mtu once wrapped
 * and may not be fragmented is answered with ICMP too-big (bytes checked,
 * rate-bounded); an ICMP too-big about a VIP's flow goes to the flow's
 * host, wrapped like its data; a SYN's MSS is clamped to the wrapped path.
 */
static void pmtu(void)
{
	uint8_t cid[32], q[1600];
	struct pkt k, w, m;
	struct qlb_lb_trace t;
	size_t n, cl, i, answered = 0, ol;
	struct timespec t0, t1;
	long long ns;
	int h;

	/* 1500 bytes inside, to web1 (GUE over IPv4, 28 bytes): 1472 fit */
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 1500 - 20 - 8 - 1 - cl);
	fx_frame(&k, -1, "198.18.5.30", "198.18.1.1", IPPROTO_UDP, 50030, 443,
		 q, n, 0, 0);
	too_big_expect(&w, &k, 1472);
	expect_frame("too big v4 (DF)", &k, XDP_TX, QLB_R_TOO_BIG, &w);
	n = fx_short(q, cid, cl, 1500 - 40 - 8 - 1 - cl);
	fx_frame(&k, -1, "2001:db8:5::30", "2001:db8:1::1", IPPROTO_UDP, 50030,
		 443, q, n, 0, 0);
	too_big_expect(&w, &k, 1472);
	expect_frame("too big v6", &k, XDP_TX, QLB_R_TOO_BIG, &w);
	/* one byte less goes through */
	n = fx_short(q, cid, cl, 1472 - 20 - 8 - 1 - cl);
	fx_frame(&k, -1, "198.18.5.30", "198.18.1.1", IPPROTO_UDP, 50030, 443,
		 q, n, 0, 0);
	expect_tx("largest that fits", &k, WEB1, fx_cid_hash(cid, cl),
		  QLB_R_ROUTED_CID);

	/* rate bound: a burst of 16, then one per 100 us per CPU */
	n = fx_short(q, cid, cl, 1500 - 20 - 8 - 1 - cl);
	fx_frame(&k, -1, "198.18.5.31", "198.18.1.1", IPPROTO_UDP, 50031, 443,
		 q, n, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 300; i++) {
		ol = sizeof(m.b);
		if (fx_run(&L, k.b, k.len, m.b, &ol) == XDP_TX)
			answered++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000ll + t1.tv_nsec - t0.tv_nsec;
	printf("pmtu: %zu of 300 too-big packets answered in %lld us\n",
	       answered, ns / 1000);
	CHECK(answered >= 1 && answered <= 16 + (size_t)(ns / 100000) + 1,
	      "too-big answers not bounded: %zu of 300 in %lld us", answered,
	      ns / 1000);

	/* ICMP too-big about a VIP flow: to the host of that flow */
	fx_frame(&m, -1, "198.18.5.14", "198.18.1.1", IPPROTO_TCP, 40000, 443,
		 NULL, 0, 0, 0); /* the flow, as the client sends it */
	too_big_msg(&k, "198.18.9.1", "198.18.1.1", "198.18.5.14", 40000, 1400);
	h = fallback_est(&m);
	fx_expect(&w, &k, host_addr[h], host_encap[h], fx_flow_hash(&m));
	expect_frame("icmp frag needed to the flow's host", &k, XDP_TX,
		     QLB_R_ICMP_FWD, &w);
	fx_trace(&F, &t);
	CHECK(t.host == (uint32_t)h, "icmp frag needed: host %u, want %d",
	      t.host, h);
	fx_frame(&m, -1, "2001:db8:5::e", "2001:db8:1::1", IPPROTO_TCP, 40000,
		 443, NULL, 0, 0, 0);
	too_big_msg(&k, "2001:db8:9::1", "2001:db8:1::1", "2001:db8:5::e",
		    40000, 1280);
	h = fallback_est(&m);
	fx_expect(&w, &k, host_addr[h], host_encap[h], fx_flow_hash(&m));
	expect_frame("icmpv6 packet too big to the flow's host", &k, XDP_TX,
		     QLB_R_ICMP_FWD, &w);
	/* about another address's packet, or sent elsewhere: not ours */
	too_big_msg(&k, "198.18.9.1", "198.18.1.99", "198.18.5.14", 40000,
		    1400);
	expect_verdict("icmp about another address", &k, XDP_PASS,
		       QLB_R_PASSED);
	too_big_msg(&k, "198.18.9.1", "198.18.1.1", "198.18.5.14", 40000, 1400);
	k.b[14 + 20] = 11; /* time exceeded: not a too-big */
	expect_verdict("icmp time exceeded", &k, XDP_PASS, QLB_R_PASSED);

	/* MSS clamp: 1500 less the wrapping of the flow's host, IP, TCP */
	syn_mss(&k, "198.18.5.40", "198.18.1.1", 1460, 0x02);
	h = fallback_host(&k);
	syn_mss(&m, "198.18.5.40", "198.18.1.1",
		(uint16_t)(1500 -
			   (host_addr[h][4] == ':' || strchr(host_addr[h], ':')
				    ? 40
				    : 20) -
			   (host_encap[h] ? 0 : 8) - 20 - 20),
		0x02);
	fx_expect(&w, &m, host_addr[h], host_encap[h], fx_flow_hash(&k));
	expect_frame("syn mss clamped v4", &k, XDP_TX, QLB_R_FB_TCP, &w);
	{
		const uint8_t *ip = w.b + w.l3 +
				    (strchr(host_addr[h], ':') ? 40 : 20) +
				    (host_encap[h] ? 0 : 8);

		CHECK(l4_csum(ip, ip + 20, w.len - (size_t)(ip + 20 - w.b),
			      IPPROTO_TCP) == 0,
		      "syn mss clamped: TCP checksum invalid");
	}
	syn_mss(&k, "2001:db8:5::40", "2001:db8:1::1", 1440, 0x02);
	h = fallback_host(&k);
	syn_mss(&m, "2001:db8:5::40", "2001:db8:1::1",
		(uint16_t)(1500 - (strchr(host_addr[h], ':') ? 40 : 20) -
			   (host_encap[h] ? 0 : 8) - 40 - 20),
		0x02);
	fx_expect(&w, &m, host_addr[h], host_encap[h], fx_flow_hash(&k));
	expect_frame("syn mss clamped v6", &k, XDP_TX, QLB_R_FB_TCP, &w);
	syn_mss(&k, "198.18.5.41", "198.18.1.1", 1200, 0x02);
	h = fallback_host(&k);
	fx_expect(&w, &k, host_addr[h], host_encap[h], fx_flow_hash(&k));
	expect_frame("syn mss that fits", &k, XDP_TX, QLB_R_FB_TCP, &w);
	syn_mss(&k, "198.18.5.42", "198.18.1.1", 1460, 0x10);
	h = fallback_est(&k);
	fx_expect(&w, &k, host_addr[h], host_encap[h], fx_flow_hash(&k));
	expect_frame("mss on a non-SYN untouched", &k, XDP_TX, QLB_R_FB_TCP,
		     &w);
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

/* The largest config the maps take: 64 VIPs, 1024 hosts, 7 configs. Every
 * VIP and every host's server ID under every config must be found. */
static void max_tables(void)
{
	struct fx f = {0};
	struct qlb_conf_host *hosts = calloc(QLB_LB_MAX_HOSTS, sizeof(*hosts));
	struct qlb_lb_trace t;
	uint8_t q[1300], cid[32], out[2048];
	unsigned int i, id, bad_vip = 0, bad_sid = 0;
	struct pkt k;
	char a[64];
	size_t n, ol;

	fx_base(&f);
	f.cfg.hosts = hosts;
	f.cfg.lb.nvips = QLB_LB_MAX_VIPS;
	for (i = 0; i < QLB_LB_MAX_VIPS; i++) {
		snprintf(a, sizeof(a), i % 2 ? "2001:db8:1::%x" : "198.18.2.%u",
			 i);
		fx_addr(&f.cfg.lb.vips[i].addr, a);
		f.cfg.lb.vips[i].port = 443 + i % 3;
	}
	for (id = 0; id < QLB_CONFIG_MAX; id++)
		fx_cid_conf(&f.cfg, id, 2 + id % 2, 6,
			    id == 3 ? FX_VECTOR_KEY : NULL, 4);
	f.cfg.nhosts = QLB_LB_MAX_HOSTS;
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
		struct qlb_conf_host *h = &hosts[i];

		snprintf(h->name, sizeof(h->name), "h%04u", i);
		snprintf(a, sizeof(a), "198.19.%u.%u", i / 256, i % 256);
		fx_addr(&h->address, a);
		h->weight = 100;
		for (id = 0; id < QLB_CONFIG_MAX; id++) {
			h->has_sid[id] = true;
			h->sid[id][0] = (uint8_t)(i >> 4);
			h->sid[id][1] = (uint8_t)(i << 4); /* worker bits 0 */
		}
	}
	CHECK(fx_load(&f, 1) == 0 && fx_fill(&f) == 0,
	      "fill the largest config");
	for (i = 0; i < QLB_LB_MAX_VIPS; i++) {
		snprintf(a, sizeof(a), i % 2 ? "2001:db8:1::%x" : "198.18.2.%u",
			 i);
		n = fx_long(q, 0, 1, (const uint8_t *)"\1\2\3\4\5\6\7\x8", 8,
			    1200);
		fx_frame(&k, -1, i % 2 ? "2001:db8:5::1" : "198.18.5.1", a,
			 IPPROTO_UDP, 40000, 443 + i % 3, q, n, 0, 0);
		ol = sizeof(out);
		if (fx_run(&f, k.b, k.len, out, &ol) != XDP_TX ||
		    fx_trace(&f, &t) || t.vip != i)
			bad_vip++;
	}
	CHECK(bad_vip == 0, "%u of %u VIPs not found", bad_vip,
	      QLB_LB_MAX_VIPS);
	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		struct qlb_cid_cfg c;

		qlb_config_cid_cfg(&f.cfg, id, &c);
		for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
			uint8_t sid[2] = {(uint8_t)(i >> 4),
					  (uint8_t)(i << 4 | (i & 15))};
			uint8_t sid3[3] = {sid[0], (uint8_t)(i << 4), 7};
			int cl = qlb_cid_encode(
				&c, c.sid_len == 3 ? sid3 : sid,
				(const uint8_t *)"\x11\x22\x33\x44\x55\x66", 0,
				cid);

			n = fx_short(q, cid, (size_t)cl, 20);
			fx_frame(&k, -1, "198.18.5.1", "198.18.2.0",
				 IPPROTO_UDP, 40000, 443, q, n, 0, 0);
			ol = sizeof(out);
			if (fx_run(&f, k.b, k.len, out, &ol) != XDP_TX ||
			    fx_trace(&f, &t) || t.reason != QLB_R_ROUTED_CID ||
			    t.host != i)
				bad_sid++;
		}
	}
	CHECK(bad_sid == 0, "%u of %u server IDs not routed to their host",
	      bad_sid, QLB_LB_MAX_HOSTS * QLB_CONFIG_MAX);
	qlb_xdp__destroy(f.skel);
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
	libbpf_set_print(NULL);
	setup(&F);
	setup(&L);
	if (fx_load(&F, 1) || fx_load(&L, 0) || fx_fill(&F) || fx_fill(&L)) {
		fprintf(stderr,
			"cannot load or fill the XDP program (root?)\n");
		return 1;
	}
	build_table(&F);
	cases();
	counters();
	reapply();
	no_hosts();
	three_pass();
	max_tables();
	pmtu();
	drain();
	qlb_xdp__destroy(F.skel);
	qlb_xdp__destroy(L.skel);
	return t_done("test_xdp_lb");
}
