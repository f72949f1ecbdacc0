// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_decap: XDP program on a backend host's interface. Packets addressed
 * to the host's encapsulation address that carry GUE (UDP to gue_port with
 * the inner IP packet right after the UDP header) or IP-in-IP (IPIP,
 * IP6IP6, IPv4-in-IPv6, IPv6-in-IPv4) lose their outer headers here and go
 * up the stack as the client's own packet, so the VIP on the loopback
 * answers the client directly, provided that the outer source is an LB
 * node and the inner packet goes to a VIP (qlb/abi/decap_trust.h); other
 * encapsulated packets to this address are counted and dropped. Everything
 * else passes untouched.
 *
 * XDP rather than TC: the outer headers go before an skb exists, with one
 * bpf_xdp_adjust_head() and a 14-byte Ethernet header rewrite, no GSO or
 * checksum-offset bookkeeping (bpf_skb_adjust_room's decap flags), and it
 * runs in generic mode on any interface. The inner checksum is verified by
 * the stack as for any received packet.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "qlb/abi/host_abi.h"
#include "qlb/abi/decap_trust.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qlb_dc_cfg);
} qlb_dc_cfg SEC(".maps");

/* Who may send encapsulated packets, and to what (qlb/abi/decap_trust.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QLB_DC_MAX_SRC);
	__type(key, struct qlb_dc_addr);
	__type(value, __u32);
} qlb_dc_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QLB_DC_MAX_VIP);
	__type(key, struct qlb_dc_vip);
	__type(value, __u32);
} qlb_dc_vip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QLB_HOST_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} qlb_dc_stats SEC(".maps");

/* True when the 20-byte IPv4 header at @iph sums to 0xffff (valid). */
static __always_inline int qlb_ip4_csum_ok(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static __always_inline int qlb_dc_count(__u32 reason, int verdict)
{
	__u64 *c = bpf_map_lookup_elem(&qlb_dc_stats, &reason);

	if (c)
		*c += 1;
	return verdict;
}

/*
 * qlb_gue_inner() - inner IP version of a GUE payload at @p.
 * Return: 4 or 6, 0 when the payload is not direct IP encapsulation.
 */
static __always_inline int qlb_gue_inner(__u8 *p, void *data_end)
{
	if (p + 1 > (__u8 *)data_end)
		return 0;
	switch (*p >> 4) {
	case 4:
		return 4;
	case 6:
		return 6;
	}
	return 0;
}

/*
 * qlb_dc_gue() - the UDP header at @uh, when it is GUE to our @port (network
 * order). Return: qlb_gue_inner() of its payload, or -1 when the header is
 * cut short or goes to another port.
 */
static __always_inline int qlb_dc_gue(struct udphdr *uh, void *data_end,
				      __u16 port)
{
	if ((void *)(uh + 1) > data_end)
		return -1;
	if (uh->dest != port)
		return -1;
	return qlb_gue_inner((__u8 *)(uh + 1), data_end);
}

/*
 * qlb_inner_ok() - whether the inner packet at @inner (version @ver, its
 * fixed header known to be in the packet) goes to a VIP at a port the
 * agent allowed: never relay a packet elsewhere, whatever its source.
 */
static __always_inline int qlb_inner_ok(__u8 *inner, int ver, void *data_end)
{
	struct qlb_dc_vip k = {};
	__u8 *l4, proto;

	if (ver == 4) {
		struct iphdr *ih = (void *)inner;

		if (ih->ihl < 5)
			return 0;
		/* a later fragment has no ports to check */
		if (ih->frag_off & bpf_htons(0x1fff))
			return 0;
		k.family = QLB_DC_AF_INET;
		k.addr[0] = ih->daddr;
		proto = ih->protocol;
		l4 = inner + ih->ihl * 4;
		if (proto == IPPROTO_ICMP)
			goto icmp;
	} else {
		struct ipv6hdr *ih = (void *)inner;

		k.family = QLB_DC_AF_INET6;
		__builtin_memcpy(k.addr, &ih->daddr, 16);
		proto = ih->nexthdr;
		l4 = inner + sizeof(*ih);
		if (proto == IPPROTO_ICMPV6)
			goto icmp;
	}
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return 0;
	/* UDP and TCP both have the destination port at offset 2 */
	if (l4 + 4 > (__u8 *)data_end)
		return 0;
	k.port = *(__u16 *)(l4 + 2);
	if (!k.port)
		return 0;
icmp:
	return bpf_map_lookup_elem(&qlb_dc_vip, &k) != NULL;
}

SEC("xdp")
int qlb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data, eth_copy;
	struct qlb_dc_cfg *cfg;
	struct qlb_dc_addr src = {};
	__u32 zero = 0, outer, reason;
	__u8 *inner;
	int inner_ver;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	cfg = bpf_map_lookup_elem(&qlb_dc_cfg, &zero);
	if (!cfg)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
		if (!cfg->has4 || iph->daddr != cfg->addr4)
			return qlb_dc_count(QLB_DC_NOT_OURS, XDP_PASS);
		if (iph->protocol != IPPROTO_IPIP &&
		    iph->protocol != IPPROTO_IPV6 &&
		    iph->protocol != IPPROTO_UDP)
			return qlb_dc_count(QLB_DC_PASS_OTHER, XDP_PASS);
		if (iph->frag_off & bpf_htons(0x3fff))
			return qlb_dc_count(QLB_DC_PASS_FRAGMENT, XDP_PASS);
		if (iph->ihl != 5)
			return qlb_dc_count(QLB_DC_PASS_OPTIONS, XDP_PASS);
		/* the stack checks it only after XDP: a corrupted outer
		 * header must not be taken apart */
		if (!qlb_ip4_csum_ok(iph))
			return qlb_dc_count(QLB_DC_PASS_BAD_CSUM, XDP_PASS);
		src.family = QLB_DC_AF_INET;
		src.addr[0] = iph->saddr;
		outer = sizeof(*iph);
		if (iph->protocol == IPPROTO_UDP) {
			inner_ver = qlb_dc_gue((void *)(iph + 1), data_end,
					       cfg->gue_port);
			if (inner_ver < 0)
				return qlb_dc_count(QLB_DC_PASS_OTHER,
						    XDP_PASS);
			outer += sizeof(struct udphdr);
			reason = inner_ver == 6 ? QLB_DC_GUE_6IN4
						: QLB_DC_GUE_4IN4;
		} else if (iph->protocol == IPPROTO_IPIP) {
			inner_ver = 4;
			reason = QLB_DC_IPIP;
		} else {
			inner_ver = 6;
			reason = QLB_DC_6IN4;
		}
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);
		__u32 *d = (__u32 *)&ip6h->daddr, *a = (__u32 *)cfg->addr6;

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		if (!cfg->has6 || d[0] != a[0] || d[1] != a[1] ||
		    d[2] != a[2] || d[3] != a[3])
			return qlb_dc_count(QLB_DC_NOT_OURS, XDP_PASS);
		src.family = QLB_DC_AF_INET6;
		__builtin_memcpy(src.addr, &ip6h->saddr, 16);
		outer = sizeof(*ip6h);
		switch (ip6h->nexthdr) {
		case IPPROTO_UDP:
			inner_ver = qlb_dc_gue((void *)(ip6h + 1), data_end,
					       cfg->gue_port);
			if (inner_ver < 0)
				return qlb_dc_count(QLB_DC_PASS_OTHER,
						    XDP_PASS);
			outer += sizeof(struct udphdr);
			reason = inner_ver == 6 ? QLB_DC_GUE_6IN6
						: QLB_DC_GUE_4IN6;
			break;
		case IPPROTO_IPIP:
			inner_ver = 4;
			reason = QLB_DC_4IN6;
			break;
		case IPPROTO_IPV6:
			inner_ver = 6;
			reason = QLB_DC_IP6IP6;
			break;
		case IPPROTO_FRAGMENT:
			return qlb_dc_count(QLB_DC_PASS_FRAGMENT, XDP_PASS);
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			return qlb_dc_count(QLB_DC_PASS_OPTIONS, XDP_PASS);
		default:
			return qlb_dc_count(QLB_DC_PASS_OTHER, XDP_PASS);
		}
	} else {
		return XDP_PASS;
	}

	/* The inner header must be whole and of the family the outer says. */
	inner = (__u8 *)data + sizeof(*eth) + outer;
	if (inner_ver == 4) {
		if (inner + sizeof(struct iphdr) > (__u8 *)data_end ||
		    (*inner >> 4) != 4)
			return qlb_dc_count(QLB_DC_DROP_MALFORMED, XDP_DROP);
	} else if (inner_ver == 6) {
		if (inner + sizeof(struct ipv6hdr) > (__u8 *)data_end ||
		    (*inner >> 4) != 6)
			return qlb_dc_count(QLB_DC_DROP_MALFORMED, XDP_DROP);
	} else {
		return qlb_dc_count(QLB_DC_DROP_MALFORMED, XDP_DROP);
	}
	/* Only LB nodes may hand us packets, and only for a VIP: the rest
	 * is spoofed or misdirected (and would be relayed under the inner
	 * source). */
	if (!bpf_map_lookup_elem(&qlb_dc_src, &src))
		return qlb_dc_count(QLB_DC_DROP_SOURCE, XDP_DROP);
	if (!qlb_inner_ok(inner, inner_ver, data_end))
		return qlb_dc_count(QLB_DC_DROP_INNER, XDP_DROP);

	__builtin_memcpy(&eth_copy, eth, sizeof(eth_copy));
	eth_copy.h_proto = bpf_htons(inner_ver == 4 ? ETH_P_IP : ETH_P_IPV6);
	if (bpf_xdp_adjust_head(ctx, (int)outer))
		return qlb_dc_count(QLB_DC_DROP_ADJUST, XDP_DROP);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return qlb_dc_count(QLB_DC_DROP_ADJUST, XDP_DROP);
	__builtin_memcpy(eth, &eth_copy, sizeof(eth_copy));
	return qlb_dc_count(reason, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
