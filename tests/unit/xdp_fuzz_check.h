/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The invariant checker of test_xdp_fuzz: runs a frame through the live
 * program, checks the verdict and the transmitted frame against the
 * contract, the trace copy's answer and record, and the hosts'
 * decapsulation; reports and saves a failing frame.
 */
#ifndef QLB_TESTS_XDP_FUZZ_CHECK_H
#define QLB_TESTS_XDP_FUZZ_CHECK_H

#include "xdp_fuzz_gen.h"

/* ---- running and checking
 * ---------------------------------------------------- */
static unsigned long n_frames, n_runs, n_fail, verdicts[8];
static unsigned long n_exp[5];
static const char *crash_dir;

static int run_prog(int fd, const uint8_t *in, size_t len, uint8_t *out,
		    uint32_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
		    .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = OUT_MAX, .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o)) {
		fprintf(stderr, "test run failed: %s (len %zu)\n",
			strerror(errno), len);
		return -1;
	}
	n_runs++;
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static int run(const uint8_t *in, size_t len, uint8_t *out, uint32_t *out_len)
{
	return run_prog(prog_fd, in, len, out, out_len);
}

/* The host's view of a transmitted frame: NULL when it decapsulates to
 * Ethernet | the original IP packet, else why not. */
static const char *check_decap(const struct gen *g, const struct view *v,
			       const uint8_t *out, uint32_t olen, int host)
{
	static uint8_t dec[OUT_MAX];
	uint32_t dlen;
	int ret;

	if (decap_for(host))
		return "cannot configure the decap program";
	ret = run_prog(dc_prog_fd, out, olen, dec, &dlen);
	if (ret != XDP_PASS)
		return "the host's decap program does not pass the LB's frame";
	if (dlen != 14 + v->ip_len || memcmp(dec, out, 12) ||
	    dec[12] != (v->family == 4 ? 0x08 : 0x86) ||
	    dec[13] != (v->family == 4 ? 0x00 : 0xdd) ||
	    memcmp(dec + 14, g->f + v->l3, v->ip_len))
		return "the host's decap does not give back the original "
		       "packet";
	n_decap++;
	return NULL;
}

static void report(const struct gen *g, const char *why, int ret);

/*
 * The trace variant of the program (qlb_trace_on = 1, as `qlbctl trace`
 * loads it) must give the live program's verdict and bytes, and its record
 * must say the same: action, a reason that implies it, the host index of
 * the tx destination and the VIP index (both in file order after one fill).
 */
static const char *check_trace(const struct gen *g, const struct view *v,
			       int ret, const uint8_t *out, uint32_t olen,
			       int host)
{
	static uint8_t tout[OUT_MAX];
	struct qlb_lb_trace t;
	uint32_t tlen, act;
	__u32 zero = 0;
	int tret;

	tret = run_prog(tprog_fd, g->f, g->len, tout, &tlen);
	if (tret != ret)
		return "trace copy gives another verdict";
	if (ret != XDP_DROP && (tlen != olen || memcmp(tout, out, olen)))
		return "trace copy gives other bytes";
	if (bpf_map_lookup_elem(trace_fd, &zero, &t))
		return "cannot read the trace record";
	act = ret == XDP_TX	? QLB_ACT_TX
	      : ret == XDP_PASS ? QLB_ACT_PASS
				: QLB_ACT_DROP;
	if (t.action != act)
		return "trace record: wrong action";
	if (t.reason >= QLB_R_MAX || qlb_lb_reason_action(t.reason) != act)
		return "trace record: reason does not imply the action";
	if (ret == XDP_TX && (int)t.host != host)
		return "trace record: host is not the tx destination";
	if (is_vip(v) != (t.vip < cfg.lb.nvips))
		return "trace record: VIP index wrong";
	if (t.vip < cfg.lb.nvips) {
		const struct qlb_conf_vip *p = &cfg.lb.vips[t.vip];

		if (p->port != v->dport ||
		    memcmp(&p->addr.v4, v->daddr, v->family == 4 ? 4 : 16))
			return "trace record: VIP index names another VIP";
	}
	n_traced++;
	return NULL;
}

/*
 * The host's decap program on a broken tunnel frame (the LB's output with
 * bytes flipped or cut): it may pass or drop; what it passes is either
 * untouched or the same frame minus exactly one outer header, with an
 * EtherType that matches the inner version.
 */
static void check_decap_mutated(const uint8_t *out, uint32_t olen, int host)
{
	static struct gen m;
	static uint8_t dec[OUT_MAX];
	const char *why = NULL;
	unsigned int k, n = 1 + rn(3), outer;
	uint32_t dlen;
	int ret;

	if (olen > sizeof(m.f) || decap_for(host))
		return;
	memcpy(m.f, out, olen);
	m.len = olen;
	m.exp = EXP_NONE;
	m.host = host;
	for (k = 0; k < n; k++) {
		if (chance(80))
			m.f[rn(m.len < 90 ? (uint32_t)m.len : 90)] ^=
				(uint8_t)(1 + rn(255));
		else
			m.len = 14 + rn((uint32_t)m.len - 13);
	}
	ret = run_prog(dc_prog_fd, m.f, m.len, dec, &dlen);
	if (ret != XDP_PASS && ret != XDP_DROP) {
		why = "decap verdict is not pass or drop";
	} else if (ret == XDP_PASS && dlen == m.len) {
		if (memcmp(dec, m.f, m.len))
			why = "decap changed a frame it passed whole";
	} else if (ret == XDP_PASS) {
		outer = (uint32_t)m.len - dlen;
		if (dlen > m.len ||
		    (outer != 20 && outer != 28 && outer != 40 && outer != 48))
			why = "decap removed something other than one outer "
			      "header";
		else if (memcmp(dec, m.f, 12) || dlen < 15 ||
			 !((dec[12] == 0x08 && dec[13] == 0x00 &&
			    dec[14] >> 4 == 4) ||
			   (dec[12] == 0x86 && dec[13] == 0xdd &&
			    dec[14] >> 4 == 6)))
			why = "decap output: wrong MACs or EtherType";
		else if (memcmp(dec + 14, m.f + 14 + outer, dlen - 14))
			why = "decap output is not the inner packet";
	}
	n_decap_mut++;
	if (why)
		report(&m, why, ret);
}

static void report(const struct gen *g, const char *why, int ret)
{
	char path[256];
	size_t i;
	FILE *f;

	n_fail++;
	fprintf(stderr,
		"FAIL frame %lu (seed state %016llx): %s (verdict %d, "
		"expectation %d, host %d), %zu bytes:\n",
		n_frames, (unsigned long long)rs, why, ret, g->exp, g->host,
		g->len);
	for (i = 0; i < g->len; i++)
		fprintf(stderr, "%02x%s", g->f[i], (i % 32 == 31) ? "\n" : "");
	fputc('\n', stderr);
	if (!crash_dir)
		return;
	snprintf(path, sizeof(path), "%s/xdp-frame-%lu.bin", crash_dir,
		 n_frames);
	f = fopen(path, "w");
	if (f) {
		fwrite(g->f, 1, g->len, f);
		fclose(f);
		fprintf(stderr, "saved to %s\n", path);
	}
}

/*
 * A too-big answer (docs/lb.md, "Path MTU"): only to a packet that fits
 * no host once wrapped; to its sender from the address it was sent to;
 * ICMP 3/4 or ICMPv6 2 quoting its first bytes; never larger than it.
 */
static const char *check_too_big(const struct gen *g, const struct view *v,
				 const uint8_t *out, uint32_t olen)
{
	unsigned int hl = v->family == 4 ? 20 : 40,
		     al = v->family == 4 ? 4 : 16;
	const uint8_t *o = out + 14, *ic = o + hl;

	if (v->tagged || olen < 14 + hl + 8 || olen > g->len)
		return "too-big answer tagged, too short or larger than the "
		       "packet";
	if (v->ip_len + 48 <= cfg.lb.mtu) /* fits even GUE over IPv6 */
		return "too-big answer to a packet that fits";
	if (memcmp(out, g->f + 6, 6) || memcmp(out + 6, g->f, 6))
		return "too-big answer: Ethernet addresses not swapped";
	if (v->family == 4
		    ? (o[9] != IPPROTO_ICMP || ic[0] != 3 || ic[1] != 4 ||
		       csum(o, 20) || csum(ic, olen - 14 - hl))
		    : (o[6] != IPPROTO_ICMPV6 || ic[0] != 2 || ic[1]))
		return "too-big answer is no valid ICMP too-big";
	if (memcmp(o + (hl == 20 ? 12 : 8), v->daddr, al) ||
	    memcmp(o + (hl == 20 ? 16 : 24), v->saddr, al))
		return "too-big answer not from the VIP to the sender";
	if (olen - 14 - hl - 8 > v->ip_len ||
	    memcmp(ic + 8, g->f + v->l3, olen - 14 - hl - 8))
		return "too-big answer does not quote the packet";
	return NULL;
}

/* A transmitted frame: returns NULL when it is right, else why not. */
static const char *check_tx(const struct gen *g, const struct view *v,
			    const uint8_t *out, uint32_t olen, int *host)
{
	unsigned int l3 = v->tagged ? 18 : 14, oip, udp, et, proto;
	const struct qlb_conf_host *h;
	const uint8_t *o;
	int fam, hi;

	*host = -1;
	if (!is_vip(v))
		return "transmitted a frame not addressed to a VIP";
	if (olen < l3 + 20)
		return "tx frame too short";
	if (memcmp(out, gw_mac, 6))
		return check_too_big(g, v, out, olen);
	if (memcmp(out, gw_mac, 6) || memcmp(out + 6, if_mac, 6))
		return "tx Ethernet addresses are not gateway/interface";
	if (v->tagged && memcmp(out + 12, g->f + 12, 4))
		return "VLAN tag not kept";
	et = out[l3 - 2] << 8 | out[l3 - 1];
	o = out + l3;
	if (et == ETH_P_IP) {
		fam = 4;
		oip = 20;
		if (o[0] != 0x45 || (uint32_t)(o[2] << 8 | o[3]) != olen - l3)
			return "outer IPv4 version/length wrong";
		if (csum(o, 20))
			return "outer IPv4 checksum wrong";
		if (o[6] != 0x40 || o[7] || o[8] != 64)
			return "outer IPv4 DF/TTL wrong";
		if (o[1] != v->tos)
			return "outer TOS is not the inner one";
		if (memcmp(o + 12, &cfg.lb.encap_source_v4.v4, 4))
			return "outer IPv4 source is not lb.encap_source_v4";
		proto = o[9];
	} else if (et == ETH_P_IPV6) {
		fam = 6;
		oip = 40;
		if ((o[0] >> 4) != 6 ||
		    (uint32_t)(o[4] << 8 | o[5]) != olen - l3 - 40)
			return "outer IPv6 version/length wrong";
		if (o[7] != 64)
			return "outer IPv6 hop limit wrong";
		if ((uint8_t)((o[0] << 4) | (o[1] >> 4)) != v->tos)
			return "outer traffic class is not the inner one";
		if (memcmp(o + 8, &cfg.lb.encap_source_v6.v6, 16))
			return "outer IPv6 source is not lb.encap_source_v6";
		proto = o[6];
	} else {
		return "tx frame is neither IPv4 nor IPv6";
	}
	hi = host_by_addr(fam, o + (fam == 4 ? 16 : 24));
	if (hi < 0)
		return "tx toward an address that is no configured host";
	if (!memcmp(o + (fam == 4 ? 16 : 24), v->saddr, fam == 4 ? 4 : 16))
		return "tx back toward the packet's source";
	h = &cfg.hosts[hi];
	*host = hi;
	if (h->state == QLB_HOST_DOWN)
		return "tx toward a host that is down";
	udp = h->encap == QLB_ENCAP_GUE ? 8 : 0;
	if (udp) {
		const uint8_t *u = o + oip;

		if (proto != IPPROTO_UDP)
			return "GUE host but outer protocol is not UDP";
		if ((u[2] << 8 | u[3]) != cfg.lb.gue_port)
			return "GUE destination port is not gue_port";
		if ((u[0] << 8 | u[1]) < 49152)
			return "GUE source port below 49152";
		if ((uint32_t)(u[4] << 8 | u[5]) != olen - l3 - oip || u[6] ||
		    u[7])
			return "GUE UDP length/checksum wrong";
	} else if (proto != (v->family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6)) {
		return "IPIP outer protocol does not match the inner family";
	}
	if (olen - l3 - oip - udp != v->ip_len ||
	    memcmp(o + oip + udp, g->f + v->l3, v->ip_len))
		return "tx payload is not exactly the original IP packet";
	if (olen - l3 > cfg.lb.mtu)
		return "outer packet larger than lb.mtu";
	return NULL;
}

#endif /* QLB_TESTS_XDP_FUZZ_CHECK_H */
