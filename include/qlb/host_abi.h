/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The backend host's data-plane ABI: maps, their keys and values, and the
 * counter enums shared by reuseport/qlb_reuseport.bpf.c,
 * reuseport/qlb_decap.bpf.c and the agent (ctl/agent*.c).
 *
 * Compatibility rules: every map below is pinned under host.pin_dir by its
 * own name and survives agent restarts, so a running data plane and a new
 * agent must agree on it.
 *  - A struct only grows at its end, into its explicit padding first; its
 *    size is pinned by _Static_assert.
 *  - A counter enum only grows at its end (before its _MAX); the per-CPU
 *    arrays are sized with room to spare (QLB_HOST_STATS_SLOTS) so that a
 *    new counter does not change a pinned map's size.
 *  - Anything else (a field's meaning, a map's type or key) renames the map
 *    with a version suffix (qlb_socks -> qlb_socks_v2); the agent then builds
 *    a new data plane beside the old one.
 */
#ifndef QLB_HOST_ABI_H
#define QLB_HOST_ABI_H

#include "qlb/compat.h"
#include "qlb/cid.h"

/* Worker IDs are < 2^16 (worker_bits <= 16); the socket map holds them all. */
#ifndef QLB_HOST_MAX_WORKERS
#define QLB_HOST_MAX_WORKERS 65536
#endif
/* Sockets in one generation's working set (the fallback's hash space). */
#define QLB_HOST_GEN_MAX 1024
/* Sockets the fallback probes after the hashed one before giving up. */
#define QLB_HOST_FALLBACK_PROBES 4
#define QLB_HOST_STATS_SLOTS	 32

/* Pinned names (BPF object names are limited to 15 characters). */
#define QLB_PIN_SOCKS	 "qlb_socks"	/* REUSEPORT_SOCKARRAY */
#define QLB_PIN_HCFG	 "qlb_hcfg"	/* per-config decode state */
#define QLB_PIN_WORK	 "qlb_work"	/* working set, double buffered */
#define QLB_PIN_WORKSEL	 "qlb_worksel"	/* which buffer is live */
#define QLB_PIN_WORKERS	 "qlb_workers"	/* agent's per-worker records */
#define QLB_PIN_GENS	 "qlb_gens"	/* agent's per-generation records */
#define QLB_PIN_RP_STATS "qlb_rp_stats" /* SK_REUSEPORT counters */
#define QLB_PIN_DC_CFG	 "qlb_dc_cfg"	/* decapsulation addresses */
#define QLB_PIN_DC_STATS "qlb_dc_stats" /* decapsulation counters */
#define QLB_PIN_PROG_RP	 "qlb_reuseport_select"
#define QLB_PIN_PROG_DC	 "qlb_decap"

/*
 * qlb_hcfg[config id]: what the SK_REUSEPORT program needs to decode CIDs
 * of one QUIC-LB config and to tell this host's server IDs from others'.
 * present == 0: this host has no server ID under that config (CIDs of it
 * are foreign and take the fallback).
 */
struct qlb_host_cfg {
	struct qlb_cid_cfg cid; /* round keys included */
	__u8 host_sid[16];	/* host part, worker bits zero, bytes
				   past sid_len zero */
	__u8 present;
	__u8 pad[3];
	__u32 epoch; /* changes whenever the agent rewrites this entry (reload,
			rotation): a decision cached under another epoch is
			stale */
};
_Static_assert(sizeof(struct qlb_host_cfg) == 384, "qlb_host_cfg is ABI");

/*
 * A SO_REUSEPORT group, by its bound address: what the SK_REUSEPORT program
 * reads from md->sk and the agent from getsockname() of a registered
 * socket. One agent may serve several groups (a server on 0.0.0.0:443 and
 * [::]:443, or on several VIPs); each has its own working set, so the
 * fallback never picks a socket the kernel would refuse (-EXDEV).
 */
struct qlb_group_key {
	__u32 family;  /* AF_INET or AF_INET6 */
	__u32 port;    /* host order */
	__u32 addr[4]; /* network order; IPv4 in addr[0], rest zero */
	__u32 slot;    /* qlb_work: which buffer (0/1); qlb_worksel: 0 */
};
_Static_assert(sizeof(struct qlb_group_key) == 28, "qlb_group_key is ABI");
#define QLB_HOST_MAX_GROUPS 64

/*
 * qlb_work[group, slot]: the working generation's sockets of one group, by
 * worker ID, for the fallback (client-chosen, unroutable, foreign DCIDs and
 * empty slots). The agent writes the slot qlb_worksel[group] does not name,
 * then flips qlb_worksel[group], so the program never sees a half-written
 * set.
 */
struct qlb_work_set {
	__u32 generation; /* 0 = no working generation */
	__u32 nworkers;	  /* valid entries of workers[] */
	__u32 workers[QLB_HOST_GEN_MAX];
};
_Static_assert(sizeof(struct qlb_work_set) == 8 + 4 * QLB_HOST_GEN_MAX,
	       "qlb_work_set is ABI");

/*
 * qlb_workers[worker id]: the agent's record of a registered socket, so a
 * restarted agent knows who is who. A slot is live when in_use is set and
 * qlb_socks[id] still holds a socket with this cookie (the kernel empties
 * the slot when the socket closes).
 */
struct qlb_worker_rec {
	__u64 cookie;	     /* SO_COOKIE of the socket */
	__u64 registered_ns; /* CLOCK_REALTIME */
	__u32 generation;
	__u32 pid; /* of the registering peer */
	__u32 uid;
	__u8 in_use;
	__u8 pad[3];
	struct qlb_group_key group; /* slot 0 */
	__u32 pad2;
};
_Static_assert(sizeof(struct qlb_worker_rec) == 64, "qlb_worker_rec is ABI");

enum qlb_gen_state {
	QLB_GEN_NEW = 0,      /* registering, not yet working */
	QLB_GEN_WORKING = 1,  /* takes new connections */
	QLB_GEN_DRAINING = 2, /* keeps its CIDs, no new connections */
};

/* qlb_gens[generation] (hash): declared size and state of a generation. */
struct qlb_gen_rec {
	__u32 size;	/* declared size, 0 = unknown */
	__u32 state;	/* enum qlb_gen_state */
	__u64 since_ns; /* CLOCK_REALTIME of the last change */
};
_Static_assert(sizeof(struct qlb_gen_rec) == 16, "qlb_gen_rec is ABI");
#define QLB_HOST_MAX_GENS 64

/* qlb_rp_stats (per-CPU array): one counter per packet and reason. */
enum qlb_rp_stat {
	QLB_RP_ROUTED = 0,	/* CID named a live worker of this host */
	QLB_RP_FB_INITIAL,	/* long header, DCID not ours: client-chosen */
	QLB_RP_FB_UNROUTABLE,	/* config bits 0b111 */
	QLB_RP_FB_NO_CONFIG,	/* config bits name no config of this host */
	QLB_RP_FB_LENGTH,	/* DCID length disagrees with the config */
	QLB_RP_FB_FOREIGN,	/* server ID of another host */
	QLB_RP_FB_WORKER_RANGE, /* worker ID beyond the socket map */
	QLB_RP_FB_EMPTY_SLOT,	/* the named worker's socket is gone */
	QLB_RP_FB_SHORT,	/* datagram too short for a QUIC header */
	QLB_RP_FB_SELECTED,	/* fallback found a working socket */
	QLB_RP_FB_NONE,		/* no working socket: kernel's own hash */
	QLB_RP_NONLINEAR,	/* read with bpf_skb_load_bytes */
	QLB_RP_STAT_MAX,
};
_Static_assert(QLB_RP_STAT_MAX <= QLB_HOST_STATS_SLOTS, "room for counters");

/* qlb_dc_cfg[0]: where encapsulated packets for this host arrive. */
struct qlb_dc_cfg {
	__u8 addr6[16]; /* host address, IPv6 (if has6) */
	__u32 addr4;	/* host address, IPv4, network order */
	__u16 gue_port; /* network order */
	__u8 has4;
	__u8 has6;
};
_Static_assert(sizeof(struct qlb_dc_cfg) == 24, "qlb_dc_cfg is ABI");

/* qlb_dc_stats (per-CPU array): decapsulation verdicts by reason. */
enum qlb_dc_stat {
	QLB_DC_NOT_OURS = 0, /* not to the encap address: untouched */
	QLB_DC_GUE_4IN4,     /* GUE, outer IPv4, inner IPv4 */
	QLB_DC_GUE_6IN4,
	QLB_DC_GUE_4IN6,
	QLB_DC_GUE_6IN6,
	QLB_DC_IPIP,	       /* IPv4 in IPv4 (protocol 4) */
	QLB_DC_6IN4,	       /* IPv6 in IPv4 (protocol 41) */
	QLB_DC_4IN6,	       /* IPv4 in IPv6 (next header 4) */
	QLB_DC_IP6IP6,	       /* IPv6 in IPv6 (next header 41) */
	QLB_DC_PASS_OTHER,     /* to us but not encapsulated: untouched */
	QLB_DC_PASS_FRAGMENT,  /* outer fragment: left to the stack */
	QLB_DC_PASS_OPTIONS,   /* IPv4 options / IPv6 extension headers */
	QLB_DC_DROP_MALFORMED, /* truncated or inner version mismatch */
	QLB_DC_DROP_ADJUST,    /* bpf_xdp_adjust_head failed */
	QLB_DC_PASS_BAD_CSUM,  /* outer IPv4 header checksum wrong: untouched,
				  the stack drops it */
	QLB_DC_STAT_MAX,
};
_Static_assert(QLB_DC_STAT_MAX <= QLB_HOST_STATS_SLOTS, "room for counters");

#endif /* QLB_HOST_ABI_H */
