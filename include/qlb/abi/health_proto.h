/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Health probes between an LB node (`qlbctl lb run`, ctl/health.c) and the
 * responder of a host's agent (ctl/agent_probe.c).
 *
 * A probe is a UDP datagram from the LB node's encap source to a VIP at
 * the health port (lb.health.port = host.health_port), encapsulated for
 * the host exactly as a client packet (GUE, IPIP, IP6IP6, 4-in-6, 6-in-4
 * by the host's encap and the families), so it reaches the responder only
 * through the network, the host's decapsulation program and its stack. The
 * answer goes back from the VIP straight to the LB node, as a server's
 * answer to a client does. Both messages have the same size, so a
 * responder never sends more bytes than it received.
 *
 * Multi-byte fields are in network order. The nonce is random per probe:
 * the LB node takes an answer only for the probe it has outstanding.
 *
 * Services (docs/config.md): an LB node probes each (service, host) pair
 * at one of that service's VIPs, and names the service in the probe
 * (QLB_HP_F_SERVICE, .service = qlb_hp_service_tag() of its name: two
 * services may share a VIP address on different ports, so the address
 * alone does not say which one is meant). The responder answers for the
 * socket groups of that service only. The extension keeps version 1 and
 * the size: the fields were padding, which a responder of before services
 * copies back untouched while it checks every VIP group of the host (so
 * an answer without QLB_HP_F_SERVICE_CHECKED speaks for the whole host);
 * a probe without QLB_HP_F_SERVICE (an LB node of before services) is
 * answered for the service of the VIP it was sent to when the address
 * names one service, for every VIP group of the host otherwise.
 */
#ifndef QLB_HEALTH_PROTO_H
#define QLB_HEALTH_PROTO_H

#include "qlb/compat.h"

#define QLB_HP_MAGIC	0x514c4248u /* "QLBH" */
#define QLB_HP_VERSION	1
#define QLB_HP_NAME_MAX 64

/* .flags */
#define QLB_HP_F_SERVICE 0x01 /* probe and answer: .service is set */
#define QLB_HP_F_SERVICE_CHECKED                                               \
	0x02 /* answer: the verdict covers that                                \
		service's socket groups only */

enum qlb_hp_type {
	QLB_HP_PROBE = 1,
	QLB_HP_ANSWER = 2,
};

/* What the responder found; anything but OK makes the probe a failure. */
enum qlb_hp_status {
	QLB_HP_OK = 0,
	QLB_HP_WRONG_HOST = 1, /* the probe named another host */
	QLB_HP_NO_DECAP = 2,   /* the decapsulation program is not attached */
	QLB_HP_NO_GROUP = 3,   /* no socket group serves a VIP */
	QLB_HP_GROUP_DOWN = 4, /* a VIP group's working generation has no
				  live socket */
	QLB_HP_STATUS_MAX,
};

struct qlb_hp_msg {
	__u32 magic; /* QLB_HP_MAGIC */
	__u8 version;
	__u8 type;   /* enum qlb_hp_type */
	__u8 status; /* answer: enum qlb_hp_status; probe: 0 */
	__u8 flags;  /* QLB_HP_F_*; 0 before services */
	__u8 nonce[16];
	__u16 ngroups; /* answer: VIP socket groups seen (of the service) */
	__u16 nbad;    /* answer: of which without a live socket */
	__u32 service; /* with QLB_HP_F_SERVICE: qlb_hp_service_tag() */
	char host[QLB_HP_NAME_MAX]; /* probe: the host meant; answer: the
				       responder's own name; NUL padded */
};
_Static_assert(sizeof(struct qlb_hp_msg) == 96, "qlb_hp_msg is ABI");

/* The tag of a service name: 32-bit FNV-1a of its bytes, never 0. Both
 * ends compute it from the name in their own file; a responder with two
 * services of one tag (about 1 in 10^7 for 64 names) falls back to the
 * VIP address. */
static inline __u32 qlb_hp_service_tag(const char *name)
{
	__u32 h = 2166136261u;

	for (; *name; name++) {
		h ^= (__u8)*name;
		h *= 16777619u;
	}
	return h ? h : 1;
}

#endif /* QLB_HEALTH_PROTO_H */
