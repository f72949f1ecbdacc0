// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Draining on the LB node's XDP program without per-flow state
 * (docs/lb.md), through BPF_PROG_TEST_RUN: 4000 flows before and after a
 * host turns draining, on a program of its own (xdp_fixture.h).
 */
#include <linux/if_ether.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>

#include "t.h"
#include "xdp_fixture.h"

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

int main(void)
{
	libbpf_set_print(NULL);
	drain();
	return t_done("test_xdp_drain");
}
