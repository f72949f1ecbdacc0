/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Whom a host decapsulates for (reuseport/qlb_decap.bpf.c), written by the
 * agent (ctl/agent_probe.c). Same compatibility rules as host_abi.h: the
 * maps are pinned under host.pin_dir by their names.
 *
 * Without these checks the decapsulation program was an open relay: GUE or
 * IP-in-IP from any source, carrying any inner packet, went up the stack
 * under the inner (spoofable) source, and with ip_forward on, on to third
 * parties. Now an encapsulated packet is taken apart only when
 *  - its outer source is an LB node's encap source (qlb_dc_src), and
 *  - its inner destination is a VIP at one of its ports, or a VIP at the
 *    health port (probes), or, for ICMP / ICMPv6 errors, a VIP address
 *    (qlb_dc_vip, port 0);
 * anything else to the encapsulation address is counted and dropped
 * (QLB_DC_DROP_SOURCE, QLB_DC_DROP_INNER of host_abi.h).
 */
#ifndef QLB_DECAP_TRUST_H
#define QLB_DECAP_TRUST_H

#include "qlb/compat.h"

#define QLB_PIN_DC_SRC	"qlb_dc_src" /* allowed outer sources */
#define QLB_PIN_DC_VIP	"qlb_dc_vip" /* allowed inner destinations */
#define QLB_DC_MAX_SRC	256
#define QLB_DC_MAX_VIP	4096
#define QLB_DC_AF_INET	2  /* AF_INET, without the libc headers */
#define QLB_DC_AF_INET6 10 /* AF_INET6 */

/* qlb_dc_src key: an address; value: __u32, 1. */
struct qlb_dc_addr {
	__u32 family;  /* QLB_DC_AF_INET or QLB_DC_AF_INET6 */
	__u32 addr[4]; /* network order; IPv4 in addr[0], rest zero */
};
_Static_assert(sizeof(struct qlb_dc_addr) == 20, "qlb_dc_addr is ABI");

/* What a qlb_dc_vip entry allows (its value). */
enum qlb_dc_vip_kind {
	QLB_DC_VIP_PORT = 1,   /* a VIP's service port (UDP and TCP) */
	QLB_DC_VIP_HEALTH = 2, /* a VIP at the health port (probes) */
	QLB_DC_VIP_ICMP = 3,   /* port 0: ICMP / ICMPv6 to the VIP */
};

/* qlb_dc_vip key: an inner destination; value: __u32 enum qlb_dc_vip_kind. */
struct qlb_dc_vip {
	__u32 family;  /* QLB_DC_AF_INET or QLB_DC_AF_INET6 */
	__u32 addr[4]; /* network order; IPv4 in addr[0], rest zero */
	__u16 port;    /* network order; 0 for ICMP */
	__u16 pad;
};
_Static_assert(sizeof(struct qlb_dc_vip) == 24, "qlb_dc_vip is ABI");

#endif /* QLB_DECAP_TRUST_H */
