/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Encapsulation toward a backend host (the wire contract is in
 * docs/lb.md): Ethernet (VLAN tag kept) | outer IPv4 or IPv6 | [UDP to the
 * GUE port, checksum 0] | the inner IP packet unchanged.
 */
#ifndef QLB_XDP_ENCAP_H
#define QLB_XDP_ENCAP_H

#include "qlb_parse.h"
#include "qlb/abi/lb_abi.h"

/* Destination and source MAC: gw_mac and if_mac are the settings' first
 * 12 bytes, 4-aligned, so three word copies instead of twelve bytes. */
static __always_inline void qlb_put_macs(void *eth,
					 const struct qlb_lb_settings *s)
{
	((__u32 *)eth)[0] = ((const __u32 *)s->gw_mac)[0];
	((__u32 *)eth)[1] = ((const __u32 *)s->gw_mac)[1];
	((__u32 *)eth)[2] = ((const __u32 *)s->gw_mac)[2];
}

/*
 * The outer IPv4 header: version 4, IHL 5, @tos, @total bytes, ID 0, DF,
 * TTL 64, @proto, @saddr to @daddr (network order). Written as words and
 * summed from the registers: the one's complement sum of 32-bit words
 * folds to that of the 16-bit words.
 */
static __always_inline void qlb_put_ipv4(struct iphdr *ip, __u8 tos,
					 __u32 total, __u8 proto, __u32 saddr,
					 __u32 daddr)
{
	__u32 w0 = bpf_htonl(0x45000000u | (__u32)tos << 16 | total);
	__u32 w1 = bpf_htonl(0x4000u); /* ID 0, DF */
	__u32 w2 = bpf_htonl(64u << 24 | (__u32)proto << 16);
	__u64 sum = (__u64)w0 + w1 + w2 + saddr + daddr;

	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	((__u32 *)ip)[0] = w0;
	((__u32 *)ip)[1] = w1;
	((__u32 *)ip)[2] = w2;
	ip->check = (__u16)~sum;
	ip->saddr = saddr;
	ip->daddr = daddr;
}

/* GUE's UDP header: source port from @entropy, @len bytes, checksum 0. */
static __always_inline void qlb_put_gue(struct udphdr *udp, __u32 entropy,
					__be16 port, __u32 len)
{
	udp->source = bpf_htons(qlb_lb_gue_sport(entropy));
	udp->dest = port;
	udp->len = bpf_htons(len);
	udp->check = 0;
}

/**
 * qlb_encap() - wrap the packet for host @h and leave it ready for XDP_TX.
 * @entropy: flow entropy (GUE source port, IPv6 flow label).
 * Return: 0, or QLB_R_OVERSIZE / QLB_R_ENCAP_FAIL (packet left unchanged
 * or not, the caller drops it either way).
 */
static __always_inline int qlb_encap(struct xdp_md *ctx,
				     const struct qlb_pkt *p,
				     const struct qlb_lb_settings *s,
				     const struct qlb_lb_host *h, __u32 entropy)
{
	__u32 oip_len =
		h->family == 6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 udp_len =
		h->encap == QLB_LB_ENCAP_GUE ? sizeof(struct udphdr) : 0;
	__u32 over = oip_len + udp_len, total = p->ip_len + over;
	void *data, *end;
	__u32 frame, vlan_tag = 0, l3 = p->l3_off;
	__be16 oproto =
		h->family == 6 ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
	__u8 ipproto;
	struct ethhdr *eth;
	void *o;

	if (qlb_unlikely(total > s->mtu))
		return QLB_R_OVERSIZE;
	if (qlb_unlikely((h->family == 4 && !s->has_v4) ||
			 (h->family == 6 && !s->has_v6) ||
			 (h->family != 4 && h->family != 6)))
		return QLB_R_ENCAP_FAIL;
	if (udp_len)
		ipproto = IPPROTO_UDP;
	else
		ipproto = p->family == 6 ? IPPROTO_IPV6 : IPPROTO_IPIP;

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	frame = end - data;
	if (qlb_unlikely(l3 ==
			 sizeof(struct ethhdr) + sizeof(struct qlb_vlan_hdr))) {
		__u32 *tag = data + sizeof(struct ethhdr) - 2;

		if ((void *)(tag + 1) > end)
			return QLB_R_ENCAP_FAIL;
		vlan_tag = *tag; /* TPID and TCI, as on the wire */
	}
	/* Ethernet padding past the IP packet must not ride inside the
	 * tunnel */
	if (qlb_unlikely(frame > l3 + p->ip_len) &&
	    bpf_xdp_adjust_tail(ctx, -(int)(frame - l3 - p->ip_len)))
		return QLB_R_ENCAP_FAIL;
	if (qlb_unlikely(bpf_xdp_adjust_head(ctx, -(int)over)))
		return QLB_R_ENCAP_FAIL;

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if (qlb_unlikely((void *)(eth + 1) > end))
		return QLB_R_ENCAP_FAIL;
	qlb_put_macs(eth, s);
	if (qlb_unlikely(vlan_tag)) {
		struct qlb_vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > end)
			return QLB_R_ENCAP_FAIL;
		*(__u32 *)((void *)vh - 2) = vlan_tag;
		vh->proto = oproto;
		o = vh + 1;
	} else {
		eth->h_proto = oproto;
		o = eth + 1;
	}

	if (qlb_likely(h->family == 4)) {
		struct iphdr *ip = o;

		if (qlb_unlikely((void *)(ip + 1) > end))
			return QLB_R_ENCAP_FAIL;
		qlb_put_ipv4(ip, p->tos, total, ipproto, s->src_v4,
			     *(const __u32 *)h->addr);
		o = ip + 1;
	} else {
		struct ipv6hdr *ip6 = o;
		__u32 w0;

		if ((void *)(ip6 + 1) > end)
			return QLB_R_ENCAP_FAIL;
		w0 = (6u << 28) | ((__u32)p->tos << 20) | (entropy & 0xfffff);
		*(__be32 *)ip6 = bpf_htonl(w0);
		ip6->payload_len = bpf_htons(total - sizeof(*ip6));
		ip6->nexthdr = ipproto;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, s->src_v6, 16);
		__builtin_memcpy(&ip6->daddr, h->addr, 16);
		o = ip6 + 1;
	}

	if (qlb_likely(udp_len)) {
		struct udphdr *udp = o;

		if (qlb_unlikely((void *)(udp + 1) > end))
			return QLB_R_ENCAP_FAIL;
		qlb_put_gue(udp, entropy, s->gue_port, total - oip_len);
	}
	return 0;
}

#endif /* QLB_XDP_ENCAP_H */
