// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Path MTU on the LB node's XDP program (docs/lb.md), through
 * BPF_PROG_TEST_RUN on the fixture of xdp_lb_fixture.h: ICMP too-big
 * answers (bytes and rate bound), ICMP errors about a VIP's flow forwarded
 * to the flow's host, the SYN MSS clamp.
 */
#include <time.h>

#include "xdp_lb_fixture.h"

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

int main(void)
{
	if (lb_fixture_init())
		return 1;
	pmtu();
	lb_fixture_fini();
	return t_done("test_xdp_pmtu");
}
