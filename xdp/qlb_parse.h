/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Header parsing of the LB node: a cursor and one small function per
 * header, every bounds check written as `if (p + 1 > end)`.
 */
#ifndef QLB_XDP_PARSE_H
#define QLB_XDP_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <stddef.h>

#include "qlb/compat.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

struct qlb_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* What the parser learnt of a packet. Offsets are from ctx->data. */
struct qlb_pkt {
	__u32 saddr[4]; /* IPv4 in word 0, others zero */
	__u32 daddr[4]; /* 8-aligned: compared as two words */
	__u32 l3_off;	/* 14, or 18 with a VLAN tag */
	__u32 l4_off;	/* after the IP header (options or not) */
	__u32 ip_len;	/* the inner IP packet, header included */
	__u32 ports;	/* source and destination, as in memory */
	__u16 dport;	/* network order */
	__u8 family;	/* 4 or 6 */
	__u8 proto;	/* IPPROTO_UDP or IPPROTO_TCP */
	__u8 tos;	/* DSCP + ECN, copied to the outer header */
	__u8 frag;	/* IPv4: 1 first fragment, 2 a later one */
} __attribute__((aligned(8)));

/**
 * qlb_parse_eth() - Ethernet with at most one 802.1Q / 802.1ad tag.
 * Return: the EtherType (network order) or 0 when truncated.
 */
static __always_inline __be16 qlb_parse_eth(void *data, void *end,
					    struct qlb_pkt *p)
{
	struct ethhdr *eth = data;
	struct qlb_vlan_hdr *vh;
	__be16 proto;

	if (qlb_unlikely((void *)(eth + 1) > end))
		return 0;
	p->l3_off = sizeof(*eth);
	/* one 16-bit load (struct ethhdr is packed: its field is read as
	 * two bytes) */
	proto = *(__be16 *)(data + offsetof(struct ethhdr, h_proto));
	if (qlb_likely(proto != bpf_htons(ETH_P_8021Q) &&
		       proto != bpf_htons(ETH_P_8021AD)))
		return proto;
	vh = (void *)(eth + 1);
	if ((void *)(vh + 1) > end)
		return 0;
	p->l3_off += sizeof(*vh);
	return vh->proto;
}

/**
 * qlb_parse_ipv4() - IPv4 with options.
 * Return: the protocol, or -1 when the header is truncated or lies about
 * its lengths (those are not for us to judge: the caller passes them).
 */
static __always_inline int qlb_parse_ipv4(void *data, void *end,
					  struct qlb_pkt *p)
{
	struct iphdr *ip = data + p->l3_off;
	__u32 hl;

	if (qlb_unlikely((void *)(ip + 1) > end))
		return -1;
	hl = ip->ihl * 4;
	if (qlb_unlikely(ip->version != 4 || hl < sizeof(*ip)))
		return -1;
	p->family = 4;
	p->l4_off = p->l3_off + hl;
	p->ip_len = bpf_ntohs(ip->tot_len);
	/* every word written: a zeroed struct merged from many exits costs
	 * the compiler a store per word per exit */
	p->saddr[0] = ip->saddr;
	p->saddr[1] = p->saddr[2] = p->saddr[3] = 0;
	p->daddr[0] = ip->daddr;
	p->daddr[1] = p->daddr[2] = p->daddr[3] = 0;
	p->tos = ip->tos;
	if (qlb_unlikely(ip->frag_off & bpf_htons(0x1fff)))
		p->frag = 2;
	else
		p->frag = (ip->frag_off & bpf_htons(0x2000)) != 0;
	return ip->protocol;
}

/**
 * qlb_parse_ipv6() - IPv6 without extension headers (QUIC and TCP to a
 * VIP carry none; anything else is not ours and passes).
 * Return: the next header, or -1 when truncated.
 */
static __always_inline int qlb_parse_ipv6(void *data, void *end,
					  struct qlb_pkt *p)
{
	struct ipv6hdr *ip6 = data + p->l3_off;

	if (qlb_unlikely((void *)(ip6 + 1) > end))
		return -1;
	if (qlb_unlikely(ip6->version != 6))
		return -1;
	p->family = 6;
	p->l4_off = p->l3_off + sizeof(*ip6);
	p->ip_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	p->frag = 0;
	return ip6->nexthdr;
}

#endif /* QLB_XDP_PARSE_H */
