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
#define QLB_PIN_HCFG	 "qlb_hcfg_v2"	/* per-(service, config) decode state */
#define QLB_PIN_WORK	 "qlb_work"	/* working set, double buffered */
#define QLB_PIN_WORKSEL	 "qlb_worksel"	/* which buffer is live */
#define QLB_PIN_WORKERS	 "qlb_workers"	/* agent's per-worker records */
#define QLB_PIN_GENS	 "qlb_gens"	/* agent's per-generation records */
#define QLB_PIN_RP_STATS "qlb_rp_stats" /* SK_REUSEPORT counters */
#define QLB_PIN_DC_CFG	 "qlb_dc_cfg"	/* decapsulation addresses */
#define QLB_PIN_DC_STATS "qlb_dc_stats" /* decapsulation counters */
#define QLB_PIN_RP_CACHE "qlb_rp_cache" /* decoded-CID cache, per CPU */
#define QLB_PIN_FLOWS	 "qlb_rp_flows" /* client-chosen DCID -> socket */
#define QLB_PIN_FLOW_CFG "qlb_rp_flowcfg" /* flow table settings */
#define QLB_PIN_GRP_ROWS "qlb_grp_rows"	  /* socket group -> service row */
#define QLB_PIN_PROG_RP	 "qlb_reuseport_select"
#define QLB_PIN_PROG_DC	 "qlb_decap"

/*
 * Services (docs/host.md): a host may serve several services, each with its
 * own QUIC-LB configs (config ids are per service) and its own server IDs.
 * A socket group serves one service (ctl/agent_services.h), and the
 * program decodes a group's datagrams under that service's configs only.
 *
 * qlb_hcfg_v2[QLB_HOST_CFG_KEY(row, config id)]: rows of decode state.
 *  - Row 0 is read first, by config id alone, as qlb_hcfg was: when the
 *    host serves one service it holds that service's configs and the
 *    program reads nothing else (the cost of one service is unchanged).
 *  - When the host serves several services, every row 0 entry has
 *    by_group set (and present clear): the program then finds the row of
 *    the datagram's socket group in qlb_grp_rows (below), an array read
 *    at a slot computed from the group, and decodes with row 1 + s,
 *    service s's configs.
 * (qlb_hcfg, keyed by config id alone, was one service's; the key's
 * meaning changed, hence the new name.)
 */
#define QLB_HOST_MAX_SERVICES	  64 /* QLB_MAX_SERVICES of the config */
#define QLB_HOST_CFG_ROWS	  (1 + QLB_HOST_MAX_SERVICES)
#define QLB_HOST_CFG_KEY(row, id) ((row)*QLB_CONFIG_MAX + (id))

/*
 * One entry: what the SK_REUSEPORT program needs to decode CIDs of one
 * QUIC-LB config of one service and to tell this host's server ID in that
 * service from others'. present == 0: this host has no server ID under
 * that config (CIDs of it are foreign and take the fallback).
 */
struct qlb_host_cfg {
	struct qlb_cid_cfg cid; /* round keys included */
	__u8 host_sid[16];	/* host part, worker bits zero, bytes
				   past sid_len zero */
	__u8 present;
	__u8 by_group; /* row 0 only: the host serves several services, the
			  row is the socket group's (was padding) */
	__u8 pad[2];
	__u32 epoch; /* changes whenever the agent rewrites this entry (reload,
			rotation), unique over all rows: a decision cached
			under another epoch (or another service) is stale */
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
 * qlb_worksel[group]: bit 0 names the qlb_work buffer the program reads;
 * bits 8..15 the group's row of qlb_hcfg_v2 (1 + its service) when the
 * host serves several services (added: an older reader masks with 1).
 * The program reads the row here only for a group whose qlb_grp_rows slot
 * it shares with another group.
 */
#define QLB_WORKSEL_SLOT(v)    ((v)&1u)
#define QLB_WORKSEL_ROW(v)     (((v) >> 8) & 0xffu)
#define QLB_WORKSEL(slot, row) (((slot)&1u) | (((row)&0xffu) << 8))
_Static_assert(QLB_HOST_CFG_ROWS <= 256, "a row fits QLB_WORKSEL_ROW");

/*
 * qlb_grp_rows[qlb_group_slot(group)]: the group's qlb_hcfg_v2 row, for a
 * host serving several services. A hash map lookup per datagram costs
 * about 45 ns here; this is an array read and a compare. The agent writes
 * the group's bound address and port with its row; a slot two live
 * groups share holds row QLB_GROUP_ROW_SHARED (and family 0: it matches
 * no group), which sends the program to qlb_worksel's row bits. A group
 * found in neither has no row: its datagrams take the fallback.
 */
#define QLB_HOST_GROUP_SLOTS 1024 /* a power of two */
#define QLB_GROUP_ROW_SHARED 0xffffffffu
struct qlb_group_row {
	__u32 family; /* 0: empty, or shared */
	__u32 port;
	__u32 addr[4];
	__u32 row;
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_group_row) == 32, "qlb_group_row is ABI");

/* The qlb_grp_rows slot of a group: its words mixed, then the top bits of
 * a multiplicative hash (addresses in network order, as bound). */
QLB_INLINE __u32 qlb_group_slot(__u32 family, __u32 port, __u32 a0, __u32 a1,
				__u32 a2, __u32 a3)
{
	__u32 h = (family << 16) ^ port;

	h = (h ^ a0) * 0x9e3779b1u;
	h = (h ^ a1 ^ (h >> 15)) * 0x85ebca6bu;
	h = (h ^ a2 ^ (h >> 13)) * 0xc2b2ae35u;
	h = (h ^ a3 ^ (h >> 16)) * 0x9e3779b1u;
	return h >> (32 - 10); /* QLB_HOST_GROUP_SLOTS */
}
_Static_assert(QLB_HOST_GROUP_SLOTS == 1u << 10, "qlb_group_slot's shift");

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
	QLB_RP_CACHE_HIT,	/* encrypted CID found in qlb_rp_cache */
	QLB_RP_CACHE_MISS,	/* encrypted CID of a present config decoded */
	QLB_RP_FLOW_RECORDED,	/* client-chosen DCID: socket recorded */
	QLB_RP_FLOW_FOLLOWED,	/* client-chosen DCID: followed its record */
	QLB_RP_FLOW_EXPIRED,	/* record older than the timeout, removed */
	QLB_RP_FLOW_FULL,	/* table full: not recorded (fallback only) */
	QLB_RP_STAT_MAX,
};
_Static_assert(QLB_RP_STAT_MAX <= QLB_HOST_STATS_SLOTS, "room for counters");

/*
 * qlb_rp_cache (array of 4-way sets, QLB_RP_CACHE_SETS per CPU: the loader
 * sets max_entries to QLB_RP_CACHE_SETS * possible CPUs; each CPU reads and
 * writes its own range only): encrypted CIDs of this host
 * decoded before. An entry holds the CID's bytes (first octet included,
 * zero past the config's length), the epoch of its qlb_hcfg_v2 entry it was
 * decoded under and the worker ID it names; it is used only when all of
 * them match, so a reload or a key rotation (a new epoch) makes every
 * older entry of that config a miss. Only CIDs that decode to this host's
 * server ID and whose worker's socket was selected are inserted: random
 * CIDs never displace live ones. The socket is selected from qlb_socks on
 * every packet, so a closed worker's CIDs fall back as without the cache.
 */
#define QLB_RP_CACHE_SETS 8192 /* per CPU, a power of two */
#define QLB_RP_CACHE_WAYS 4
struct qlb_rp_cache_ent {
	__u64 cid[3]; /* CID bytes, zero past its length */
	__u32 epoch;  /* qlb_hcfg_v2 entry's epoch; 0 = empty */
	__u32 worker;
};
_Static_assert(sizeof(struct qlb_rp_cache_ent) == 32,
	       "qlb_rp_cache_ent is ABI");
struct qlb_rp_cache_set {
	struct qlb_rp_cache_ent way[QLB_RP_CACHE_WAYS];
};

/*
 * qlb_rp_flows (hash): long-header datagrams whose DCID is not a routable
 * CID of this host (client-chosen Initial and 0-RTT DCIDs, 0b111 DCIDs)
 * are steered to a working socket by the fallback; the first one records
 * that socket here, and later ones with the same DCID follow the record
 * while the socket lives (same worker ID, same cookie in qlb_workers),
 * whatever the working generation is now. A record expires timeout_ns
 * after the first datagram. A full table records nothing: the datagram
 * takes the fallback as without the table (counted).
 */
#define QLB_RP_FLOW_MAX	       65536
#define QLB_RP_FLOW_TIMEOUT_NS (10ull * 1000000000ull)
/* a full table is swept for expired records at most this often */
#define QLB_RP_FLOW_SWEEP_NS (1000000000ull)
struct qlb_rp_flow_key {
	__u64 dcid[3]; /* DCID bytes, zero past len */
	__u32 len;     /* 0..20 */
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_rp_flow_key) == 32, "qlb_rp_flow_key is ABI");
struct qlb_rp_flow {
	__u64 cookie;  /* qlb_workers[worker].cookie when recorded */
	__u64 born_ns; /* bpf_ktime_get_coarse_ns() of the first datagram */
	__u32 worker;
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_rp_flow) == 24, "qlb_rp_flow is ABI");

/* qlb_rp_flowcfg[0]: flow table settings (zero: the defaults), and the
 * fallback's DCID hash seed. */
struct qlb_rp_flow_cfg {
	__u64 timeout_ns; /* 0: QLB_RP_FLOW_TIMEOUT_NS */
	__u32 off;	  /* 1: no table (today's fallback only) */
	__u32 dcid_seed;  /* 0: unkeyed; else qlb_host_dcid_seed() of the
			   * fleet's hash_secret (was padding: an older
			   * program ignores it) */
};
_Static_assert(sizeof(struct qlb_rp_flow_cfg) == 16, "qlb_rp_flow_cfg is ABI");

/*
 * The fallback DCID hash's seed under hash_secret (@key: its 16 bytes as
 * four words in memory order), XORed into the hash's start so that a
 * client cannot choose Initial DCIDs that all land on one worker. FNV-1a
 * over the key, then a finalizer; never 0 (0 means unkeyed).
 */
QLB_INLINE __u32 qlb_host_dcid_seed(const __u32 *key)
{
	__u32 h = 0x811c9dc5u ^ 0x68737464u; /* "hstd": not the DCID's start */
	int i;

	for (i = 0; i < 4; i++) {
		h = (h ^ key[i]) * 16777619u;
		h ^= h >> 15;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h ? h : 1;
}

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
	QLB_DC_DROP_SOURCE,    /* outer source is no LB node's encap source
				  (qlb/abi/decap_trust.h) */
	QLB_DC_DROP_INNER,     /* inner packet not to a VIP:port, a VIP's
				  health port or (ICMP) a VIP */
	QLB_DC_STAT_MAX,
};
_Static_assert(QLB_DC_STAT_MAX <= QLB_HOST_STATS_SLOTS, "room for counters");

#endif /* QLB_HOST_ABI_H */
