/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The LB node's ABI: the maps of the XDP program (xdp/qlb_xdp.bpf.c), their
 * keys and values, the counter reasons and the limits. qlbctl (ctl/lb_*.c,
 * ctl/trace.c) and the program include this very header.
 *
 * Compatibility rules: a struct here only grows at its end, its size is
 * pinned by _Static_assert, and a layout change renames the pinned maps
 * that hold it (suffix _v2). Reasons are only appended (metric names and
 * the per-CPU counter layout depend on their numbers).
 *
 * Atomic apply: every table that an apply changes exists twice ("slots").
 * The program reads qlb_ctrl.slot once per packet and uses that slot's
 * tables only; qlbctl fills the other slot, then flips the slot in one
 * word write. A packet therefore sees the old config or the new one,
 * never a mix.
 */
#ifndef QLB_LB_ABI_H
#define QLB_LB_ABI_H

#include "qlb/compat.h"
#include "qlb/cid.h"

/* ---- limits (a build may override them) --------------------------------- */
/*
 * Services (docs/config.md, "services"): a VIP belongs to one service; a
 * service has its own QUIC-LB configs (config ids are per service), its
 * own hosts and its own Maglev table. A host may serve several services:
 * each (service, host) pair is a "member" with its own index, entry in
 * qlb_hosts_v2 and state (a host may be healthy for one service and not
 * for another). Members are numbered service by service, in the order of
 * the file's services and of each service's hosts (qlb_conf_service's
 * member_first + position). A file without services: has one service,
 * index 0, whose members are the hosts in file order.
 */
#ifndef QLB_LB_MAX_VIPS
#define QLB_LB_MAX_VIPS 512 /* over all services */
#endif
#ifndef QLB_LB_MAX_HOSTS
#define QLB_LB_MAX_HOSTS 4096 /* hosts[] of the file */
#endif
#ifndef QLB_LB_MAX_SERVICES
#define QLB_LB_MAX_SERVICES 64
#endif
#ifndef QLB_LB_MAX_MEMBERS
#define QLB_LB_MAX_MEMBERS 16384 /* (service, host) pairs, a power of 2 */
#endif
#ifndef QLB_LB_MAX_SIDS
#define QLB_LB_MAX_SIDS                                                        \
	16384 /* server-ID entries: members x their live configs */
#endif
#ifndef QLB_LB_MAGLEV_MAX
#define QLB_LB_MAGLEV_MAX                                                      \
	1000003 /* entries of one table (lb.maglev_table_size limit) */
#endif
#ifndef QLB_LB_MAGLEV_POOL
/* entries per slot for all services' tables together: 64 services of the
 * default size, or one of the largest */
#define QLB_LB_MAGLEV_POOL (QLB_LB_MAX_SERVICES * 65537u)
#endif
#ifndef QLB_LB_CACHE_SIZE
#define QLB_LB_CACHE_SIZE                                                      \
	65536 /* decoded-CID cache entries per CPU, a power of 2 */
#endif
#ifndef QLB_LB_VIP_BUCKETS
#define QLB_LB_VIP_BUCKETS 4096 /* per slot, a power of 2: load <= 0.125 */
#endif
#ifndef QLB_LB_SID_BUCKETS
#define QLB_LB_SID_BUCKETS 262144 /* per slot, a power of 2: load <= 0.0625 */
#endif
#define QLB_LB_PROBES	  4 /* linear probes at most; apply reseeds */
#define QLB_LB_SLOTS	  2
#define QLB_LB_NO_HOST	  0xffffffffu /* Maglev entry when no host is active */
#define QLB_LB_NO_VIP	  QLB_LB_MAX_VIPS /* counter row of non-VIP packets */
#define QLB_LB_NO_SERVICE 0xffffffffu	  /* trace: the packet hit no VIP */
/* qlb_cid_cfgs_v2 and qlb_cfg_stats_v2 key of config @id of service @svc */
#define QLB_LB_CFG_KEY(svc, id) ((svc)*QLB_CONFIG_MAX + (id))
#define QLB_LB_GUE_SPORT_MIN	49152 /* GUE source ports: 49152..65535 */

/* Pinned names under lb.pin_dir. */
#define QLB_LB_PIN_PROG "qlb_xdp_ingress"

/* ---- reasons: one per-CPU counter row per VIP ---------------------------- */
enum qlb_reason {
	QLB_R_ROUTED_CID = 0,	 /* tx: server ID of a live host */
	QLB_R_FB_INITIAL,	 /* tx: long header, DCID not routable */
	QLB_R_FB_UNROUTABLE,	 /* tx: 0b111, or length bits disagree */
	QLB_R_FB_UNKNOWN_CONFIG, /* tx: config bits name no live config */
	QLB_R_FB_UNKNOWN_SID,	 /* tx: server ID owned by no host */
	QLB_R_FB_HOST_DOWN,	 /* tx: server ID of a host that is down */
	QLB_R_FB_TCP,		 /* tx: TCP to a VIP port */
	QLB_R_MALFORMED,	 /* drop: truncated, bad lengths, fragment */
	QLB_R_VERSION0,		 /* drop: version negotiation look-alike */
	QLB_R_OVERSIZE,		 /* drop: larger than lb.mtu once wrapped */
	QLB_R_ENCAP_FAIL,	 /* drop: no room or no source address */
	QLB_R_NO_HOST,		 /* drop: fallback with no active host */
	QLB_R_PASSED,		 /* pass: not for a VIP */
	QLB_R_ICMP_FWD, /* tx: ICMP too-big about a VIP flow, to its host */
	QLB_R_TOO_BIG,	/* tx: ICMP too-big answered to the client */
	QLB_R_MAX,
};

/* ---- qlb_ctrl (ARRAY, 1 entry) ------------------------------------------ */
struct qlb_lb_ctrl {
	__u32 slot;	  /* the slot packets use: 0 or 1 */
	__u32 gen;	  /* apply generation, +1 per apply */
	__u32 ifindex;	  /* where qlbctl attached the program */
	__u32 xdp_mode;	  /* enum qlb_xdp_mode of ctl/config.h */
	__u64 applied_at; /* unix seconds of the last apply */
};
_Static_assert(sizeof(struct qlb_lb_ctrl) == 24, "qlb_lb_ctrl is ABI");

/* ---- qlb_settings_v2 (ARRAY, one entry per slot; _v2: flow_seed) --------- */
struct qlb_lb_settings {
	__u8 gw_mac[6];	   /* lb.gateway_mac */
	__u8 if_mac[6];	   /* the LB interface's own MAC */
	__u32 src_v4;	   /* lb.encap_source_v4, network order */
	__u8 src_v6[16];   /* lb.encap_source_v6 */
	__u16 gue_port;	   /* network order */
	__u16 mtu;	   /* largest outer IP packet */
	__u32 maglev_size; /* entries of each service's Maglev table */
	__u32 gen;	   /* generation that filled this slot */
	__u8 has_v4;	   /* encap_source_v4 set */
	__u8 has_v6;	   /* encap_source_v6 set */
	__u8 live_cfgs;	   /* bit N: config N of some service is routed
			    * (informational: the data path reads the
			    * VIP entry's live_cfgs) */
	__u8 est_table;	   /* 1: qlb_maglev_est holds this slot's table of
			    * established flows (a host is draining) */
	__u64 vip_mul;	   /* qlb_lb_mul() of the seed this slot's VIP table */
	__u64 sid_mul;	   /* and server-ID table were placed with */
	__u32 flow_seed;   /* seed of qlb_lb_flow_hash_s(): QLB_LB_HASH_SEED,
			    * or qlb_lb_flow_seed() of hash_secret */
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_lb_settings) == 72, "qlb_lb_settings is ABI");

/*
 * The two lookups every packet makes, VIP and server ID, are open-addressing
 * tables in ARRAY maps (slot * buckets + bucket): the verifier inlines array
 * lookups, where a HASH map costs a helper call and a jhash. User space
 * places every entry within QLB_LB_PROBES buckets of its hash (linear
 * probing), trying seeds 0, 1, 2... until it fits: the same file gives the
 * same tables on every LB node.
 */

/* ---- qlb_vips_v2 (ARRAY, slot * QLB_LB_VIP_BUCKETS + bucket) -------------
 * _v2: the entry names its service and carries what the data path needs
 * of it, so a packet finds its service with the lookup it makes anyway. */
struct qlb_lb_vip_ent {
	__u8 addr[16];	  /* IPv4 in the first 4 bytes, rest zero */
	__u16 port;	  /* network order */
	__u8 family;	  /* 4 or 6; 0 = empty bucket (ends a probe) */
	__u8 pad;	  /* zero: read with port and family as one word */
	__u32 idx;	  /* counter row, stable across applies */
	__u32 service;	  /* service index, < QLB_LB_MAX_SERVICES */
	__u32 maglev_off; /* the service's Maglev table: entries
			     [maglev_off, maglev_off + settings maglev_size)
			     of the slot's part of qlb_maglev_v2 (and _est) */
	__u8 live_cfgs;	  /* bit N: the service's config N is routed */
	__u8 pad2[3];
};
_Static_assert(sizeof(struct qlb_lb_vip_ent) == 36, "qlb_lb_vip_ent is ABI");

/* ---- qlb_cid_cfgs_v2 (ARRAY, slot * QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX +
 * QLB_LB_CFG_KEY(service, config id)) -------------------------------------- */
struct qlb_lb_cid {
	struct qlb_cid_cfg c; /* filled by qlb_cid_cfg_init() */
	__u32 live;	      /* 1: routed (routable, active or retiring) */
	__u32 pad;
	/* Byte masks over a server ID (bytes past sid_len zero), so the
	 * program masks two words instead of looping over bits: */
	__u8 sid_mask[16];  /* the server ID's bytes */
	__u8 host_mask[16]; /* the same without the worker bits */
	__u32 cid_mask[6];  /* the CID's 1 + sid_len + nonce_len bytes */
};
_Static_assert(sizeof(struct qlb_lb_cid) == 424, "qlb_lb_cid is ABI");

/* ---- qlb_vip_cfgs (ARRAY, (slot * QLB_LB_VIP_CFG_IDS + config id) *
 * QLB_LB_VIP_BUCKETS + bucket) ---------------------------------------------
 * What the fast path needs of config N of the service of the VIP in a
 * bucket of qlb_vips_v2, written with that table. The fast path takes
 * only a VIP in its first bucket, whose index the packet's hash gives:
 * it reads this entry beside the VIP entry instead of after it (a key
 * built from the VIP entry's service made every later lookup wait for
 * that entry's load). Only valid once the VIP entry matched. 8 ids per
 * bucket: codepoint 7 (unroutable) reads a zero entry, no bound check. */
#define QLB_LB_VIP_CFG_IDS 8
struct qlb_lb_vip_cfg {
	__u8 live;    /* 1: config id is routed for this VIP's service */
	__u8 id;      /* config id (codepoint) */
	__u8 flags;   /* QLB_CID_F_* */
	__u8 cid_len; /* qlb_cid_len() */
	__u8 sid_len; /* server ID bytes */
	__u8 pad;
	__u16 cfg_key; /* QLB_LB_CFG_KEY(service, id) */
	__u32 service; /* the VIP's service */
	__u32 pad2;
	__u8 host_mask[16]; /* as qlb_lb_cid's */
	__u32 cid_mask[6];  /* as qlb_lb_cid's */
	/* to 64 bytes: one cache line, and the program's index a shift */
	__u8 pad3[8];
};
_Static_assert(sizeof(struct qlb_lb_vip_cfg) == 64, "qlb_lb_vip_cfg is ABI");
_Static_assert(QLB_CONFIG_MAX < QLB_LB_VIP_CFG_IDS, "an id per codepoint");

/* ---- qlb_sids_v2 (ARRAY, slot * QLB_LB_SID_BUCKETS + bucket) --------------
 * _v2: keyed by service and config (cfg_key), and host is a member index:
 * a server ID is looked up only among the members of the VIP's service. */
struct qlb_lb_sid_ent {
	__u8 sid[16];  /* host part: worker bits and bytes past sid_len zero */
	__u16 cfg_key; /* QLB_LB_CFG_KEY(service, config id) */
	__u8 used;     /* 0 = empty bucket (ends a probe) */
	__u8 pad;
	__u32 host; /* member index */
	/* A copy of the member entry's fields the fast path needs, written by
	 * the same apply (so it saves the packet a lookup in qlb_hosts_v2): */
	__u8 h_family; /* 4 or 6 */
	__u8 h_encap;  /* enum qlb_lb_encap */
	__u8 h_state;  /* enum qlb_lb_host_state */
	__u8 pad2;
	__u32 h_addr4;	       /* the host's IPv4 address when h_family is 4 */
} __attribute__((aligned(8))); /* sid read as two 64-bit words */
_Static_assert(sizeof(struct qlb_lb_sid_ent) == 32, "qlb_lb_sid_ent is ABI");

/* ---- qlb_hosts_v2 (ARRAY, slot * QLB_LB_MAX_MEMBERS + member index) -------
 * _v2: one entry per member, (service, host): state is the host's state in
 * that service. */
enum qlb_lb_host_state { /* same numbers as enum qlb_host_state */
			 QLB_LB_HOST_ACTIVE = 0,
			 QLB_LB_HOST_DRAINING = 1,
			 QLB_LB_HOST_DOWN = 2,
};

enum qlb_lb_encap { /* same numbers as enum qlb_encap */
		    QLB_LB_ENCAP_GUE = 0,
		    QLB_LB_ENCAP_IPIP = 1,
};

struct qlb_lb_host {
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	__u8 family;   /* 4 or 6; 0 = no member at this index */
	__u8 encap;    /* enum qlb_lb_encap */
	__u8 state;    /* enum qlb_lb_host_state, in this service */
	__u8 pad;
	__u32 weight;
	char name[64]; /* the host's, for status and metrics only */
	__u32 host;    /* index of the host in the file's hosts[] */
	__u32 service; /* service index */
};
_Static_assert(sizeof(struct qlb_lb_host) == 96, "qlb_lb_host is ABI");

/* ---- qlb_maglev_v2 (ARRAY, slot * QLB_LB_MAGLEV_POOL + vip maglev_off +
 * entry) -> member index ----------------------------------------------------
 * Each service's table of new flows (TCP SYN, QUIC long headers): weighted
 * over the service's active members.
 *
 * ---- qlb_mglv_est_v2 (same layout): the tables of established flows -------
 * Read instead of qlb_maglev by a TCP segment that is not a SYN and a QUIC
 * short header taking the fallback, when the slot's settings have
 * est_table set. Draining without per-flow state: qlbctl builds it over
 * the active and draining hosts (their entries where they were before the
 * drain) and qlb_maglev from it, giving a draining host's entries to the
 * active hosts, so the two agree on every entry but the draining host's.
 * An established flow of any host stays where it was; a new flow never
 * lands on a draining host. (A connection opened during the drain whose
 * flow falls on a draining host's entry gets its SYN to an active host and
 * its later segments to the draining one: stateless draining cannot tell
 * it from that host's own. Keep drains short, or send such hosts `down`.)
 */

/* ---- counters (PERCPU_ARRAY) --------------------------------------------- */
/* qlb_stats_v3: row (vip idx or QLB_LB_NO_VIP) * QLB_R_MAX + reason (_v3:
 * 512 VIPs; a service's counters are the sum of its VIPs' rows).
 * qlb_host_stats_v2: member index (a host's are the sum over its members).
 * qlb_cfg_stats_v2: QLB_LB_CFG_KEY(service, config id), packets routed by a
 * CID of that config (how rotation sees that an old config is no longer in
 * use). */
struct qlb_lb_counter {
	__u64 packets;
	__u64 bytes; /* of the frame as received */
};
_Static_assert(sizeof(struct qlb_lb_counter) == 16, "qlb_lb_counter is ABI");

#define QLB_LB_STATS_ROWS ((QLB_LB_MAX_VIPS + 1) * QLB_R_MAX)

/* ---- qlb_cid_cache (PERCPU_ARRAY, QLB_LB_CACHE_SIZE entries) ------------
 * Decoded CIDs of keyed configs, direct-mapped by qlb_lb_cid_hash(): every
 * CPU has its own table, so an entry is only written and read by one CPU
 * (never seen half-written) and a lookup is an inlined array access, not a
 * helper call. A CID that lands on a used entry replaces it. The same CID
 * decodes differently under another service's key, so an entry holds the
 * service it was decoded for: QLB_LB_CACHE_SVC(service) is XORed into
 * cid[2] (a CID has at most 20 bytes: bytes 20..23 of the three words are
 * always zero, so this takes no room and no extra compare).
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define QLB_LB_CACHE_SVC(svc) ((__u64)((svc) + 1) << 56)
#else
#define QLB_LB_CACHE_SVC(svc) ((__u64)((svc) + 1))
#endif
struct qlb_lb_cache_ent {
	__u64 cid[3]; /* as qlb_lb_cid_hash() reads it, cid[2] ^
			 QLB_LB_CACHE_SVC(service) */
	__u32 gen;    /* settings gen it was decoded under; 0 = empty */
	__u32 host;   /* member index */
	__u8 sid[16]; /* the decoded server ID, worker bits kept */
};
_Static_assert(sizeof(struct qlb_lb_cache_ent) == 48,
	       "qlb_lb_cache_ent is ABI");

/* ---- qlb_trace_rec (ARRAY, 1 entry): written only by `qlbctl trace` ------ */
enum qlb_lb_action { QLB_ACT_PASS = 0, QLB_ACT_TX = 1, QLB_ACT_DROP = 2 };

struct qlb_lb_trace {
	__u32 action;	/* enum qlb_lb_action */
	__u32 reason;	/* enum qlb_reason */
	__u32 host;	/* member index or QLB_LB_NO_HOST */
	__u32 vip;	/* vip idx or QLB_LB_NO_VIP */
	__u8 config_id; /* 0xff when no config decoded */
	__u8 sid_len;	/* 0 when no server ID decoded */
	__u8 pad[2];
	__u8 sid[16];
	__u32 service; /* service index or QLB_LB_NO_SERVICE */
};
_Static_assert(sizeof(struct qlb_lb_trace) == 40, "qlb_lb_trace is ABI");

/* ---- the flow hash: fallback choice and GUE entropy -------------------------
 * Every LB node must pick the same host for a flow, so this hash is part of
 * the contract: words are read in memory order from the packet (the same
 * on every little-endian node), mixed murmur3-style and finalised.
 */
QLB_INLINE __u32 qlb_lb_mix(__u32 h, __u32 w)
{
	w *= 0xcc9e2d51u;
	w = (w << 15) | (w >> 17);
	w *= 0x1b873593u;
	h ^= w;
	h = (h << 13) | (h >> 19);
	return h * 5u + 0xe6546b64u;
}

QLB_INLINE __u32 qlb_lb_fmix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

#define QLB_LB_HASH_SEED 0x716c6221u /* "qlb!" */

/* @saddr/@daddr: 4 or 16 bytes (by @family); ports in network order as
 * one word: source port in the first two bytes of memory. @seed:
 * QLB_LB_HASH_SEED (no hash_secret) or qlb_lb_flow_seed() of the secret. */
QLB_INLINE __u32 qlb_lb_flow_hash_s(__u32 seed, __u8 family, const __u32 *saddr,
				    const __u32 *daddr, __u32 ports)
{
	__u32 h = seed;

	if (family == 6) {
		h = qlb_lb_mix(h, saddr[0]);
		h = qlb_lb_mix(h, saddr[1]);
		h = qlb_lb_mix(h, saddr[2]);
		h = qlb_lb_mix(h, saddr[3]);
		h = qlb_lb_mix(h, daddr[0]);
		h = qlb_lb_mix(h, daddr[1]);
		h = qlb_lb_mix(h, daddr[2]);
		h = qlb_lb_mix(h, daddr[3]);
	} else {
		h = qlb_lb_mix(h, saddr[0]);
		h = qlb_lb_mix(h, daddr[0]);
	}
	h = qlb_lb_mix(h, ports);
	return qlb_lb_fmix(h ^ family);
}

QLB_INLINE __u32 qlb_lb_flow_hash(__u8 family, const __u32 *saddr,
				  const __u32 *daddr, __u32 ports)
{
	return qlb_lb_flow_hash_s(QLB_LB_HASH_SEED, family, saddr, daddr,
				  ports);
}

/*
 * The flow hash's seed under the fleet's hash_secret (@key: its 16 bytes
 * as four words in memory order). Without the secret a client can compute
 * the Maglev bucket of any 4-tuple and aim its Initials or SYNs at one
 * host; with it the bucket depends on a seed it does not know. Computed
 * once per apply, so the data path pays one load for it, and only on the
 * fallback. The state is 32 bits: this keeps clients from aiming, it is
 * no MAC. Never QLB_LB_HASH_SEED, so a keyed fleet never hashes as an
 * unkeyed one.
 */
QLB_INLINE __u32 qlb_lb_flow_seed(const __u32 *key)
{
	__u32 h = QLB_LB_HASH_SEED ^ key[0];

	h = qlb_lb_mix(h, key[1]);
	h = qlb_lb_mix(h, key[2]);
	h = qlb_lb_mix(h, key[3]);
	h = qlb_lb_fmix(h);
	return h == QLB_LB_HASH_SEED ? h ^ 1 : h;
}

/*
 * The bucket hashes are multiply-shift over 64-bit words (a handful of
 * instructions: the data path is paid per packet, in code fetched cold).
 * The seed picks the odd multiplier, so placement can retry with another
 * one; keys longer than a word are folded as a polynomial in it, so two
 * distinct keys never share a hash under every seed.
 */
QLB_INLINE __u64 qlb_lb_mul(__u32 seed)
{
	return 0x9e3779b97f4a7c15ull ^ ((__u64)seed << 32);
}

/* Bucket of a VIP under multiplier @m (qlb_lb_mul() of the table's
 * seed): @addr as four words (IPv4: word 0, others zero). */
QLB_INLINE __u32 qlb_lb_vip_hash_m(__u64 m, __u8 family, const __u32 *addr,
				   __u16 port)
{
	__u64 x = (__u64)addr[0] | (__u64)port << 32 | (__u64)family << 48;

	if (family == 6) {
		x = x * m + ((__u64)addr[1] | (__u64)addr[2] << 32);
		x = x * m + addr[3];
	}
	return (__u32)((x * m) >> 32);
}

QLB_INLINE __u32 qlb_lb_vip_hash(__u32 seed, __u8 family, const __u32 *addr,
				 __u16 port)
{
	return qlb_lb_vip_hash_m(qlb_lb_mul(seed), family, addr, port);
}

/* Bucket of a server ID's host part under a config: @k is the ID as two
 * words (bytes 0..7 and 8..15 in memory order, zero past its length);
 * @config_id: QLB_LB_CFG_KEY(service, config id). */
QLB_INLINE __u32 qlb_lb_sid_hash_m(__u64 m, __u32 config_id, const __u64 *k)
{
	__u64 x = (k[0] * m + k[1]) * m + config_id;

	return (__u32)((x * m) >> 32);
}

QLB_INLINE __u32 qlb_lb_sid_hash(__u32 seed, __u32 config_id, const __u64 *k)
{
	return qlb_lb_sid_hash_m(qlb_lb_mul(seed), config_id, k);
}

/* Entropy of a CID (GUE source port, IPv6 flow label, cache slot): @w is
 * the CID's 20 bytes, zero past its length, as three words (the third
 * padded with four zero bytes). Spread is all it needs. */
QLB_INLINE __u32 qlb_lb_cid_hash(const __u64 *w)
{
	return (__u32)(((w[0] ^ w[1] ^ w[2]) * 0x9e3779b97f4a7c15ull) >> 32);
}

/* Maglev entry of a flow hash: multiply-shift instead of a division. */
QLB_INLINE __u32 qlb_lb_maglev_index(__u32 hash, __u32 size)
{
	return (__u32)(((__u64)hash * size) >> 32);
}

QLB_INLINE __u16 qlb_lb_gue_sport(__u32 hash)
{
	return (__u16)(QLB_LB_GUE_SPORT_MIN | (hash & 0x3fff));
}

#endif /* QLB_LB_ABI_H */
