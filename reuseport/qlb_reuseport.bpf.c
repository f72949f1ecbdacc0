// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_reuseport_select: the SK_REUSEPORT program of a backend host's QUIC
 * server group. It reads the destination CID of each datagram, decodes the
 * server ID with the shared QUIC-LB codec (plaintext and encrypted configs),
 * and hands the datagram to the socket of the worker the low worker_bits
 * bits name, so a connection keeps reaching its worker across migrations
 * and across server restarts (a draining generation keeps its worker IDs).
 *
 * Everything that is not a live CID of this host (client-chosen Initial
 * DCIDs, 0b111 CIDs, other hosts' server IDs, closed workers) goes to a
 * socket of the WORKING generation picked by a hash of the DCID: all
 * packets with one DCID meet one worker, and a draining generation never
 * receives a new connection. Long-header datagrams of such DCIDs (the
 * client's Initials and 0-RTT) record the socket they reached in a flow
 * table, so the rest of that handshake follows it across a restart.
 *
 * Steady traffic (short headers, linear skb) takes a shorter road: the
 * DCID is read in place, a plaintext server ID is taken apart with a few
 * shifts, and an encrypted CID seen before is found in a per-CPU cache of
 * decoded CIDs instead of being decrypted again.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qlb/abi/host_abi.h"
#include "qlb/cid.h"

#define QLB_UDP_HLEN 8
/* Long header: first octet, version (4), DCID length (1), DCID (<= 20). */
#define QLB_HDR_READ	   26
#define QLB_LONG_DCID_OFF  6
#define QLB_SHORT_DCID_OFF 1
/* DCID bytes hashed when the length is unknown (short header, not ours). */
#define QLB_HASH_DEFAULT_LEN 8
/* Short header read in place: first octet and three words of DCID. */
#define QLB_FAST_READ (1 + 24)

/*
 * 1: the reference build (no cache, no plaintext shortcut, no flow table),
 * the decisions of the codec alone; the property test loads one beside the
 * real program and requires the same choice for every datagram.
 */
const volatile __u32 qlb_rp_ref = 0;

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, QLB_HOST_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u64);
} qlb_socks SEC(".maps");

/* rows of decode state: row 0, or row 1 + service (qlb/abi/host_abi.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_HOST_CFG_ROWS *QLB_CONFIG_MAX);
	__type(key, __u32);
	__type(value, struct qlb_host_cfg);
} qlb_hcfg_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * QLB_HOST_MAX_GROUPS);
	__type(key, struct qlb_group_key);
	__type(value, struct qlb_work_set);
} qlb_work SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QLB_HOST_MAX_GROUPS);
	__type(key, struct qlb_group_key);
	__type(value, __u32);
} qlb_worksel SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_HOST_GROUP_SLOTS);
	__type(key, __u32);
	__type(value, struct qlb_group_row);
} qlb_grp_rows SEC(".maps");

/* Agent-only records, kept beside the data plane so they survive it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_HOST_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct qlb_worker_rec);
} qlb_workers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QLB_HOST_MAX_GENS);
	__type(key, __u32);
	__type(value, struct qlb_gen_rec);
} qlb_gens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QLB_HOST_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} qlb_rp_stats SEC(".maps");

/*
 * CPU c owns sets [c * QLB_RP_CACHE_SETS, (c + 1) * QLB_RP_CACHE_SETS): a
 * plain array, not a per-CPU one, because the per-CPU lookup goes through
 * a table of pointers first, one more dependent memory access (measured:
 * 50 to 120 ns more per hit once the sets left the CPU's caches). The
 * loader sizes it for the possible CPUs; a CPU beyond it does not cache.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* mmapable: the values then start on a page, so a set of four ways
	 * is two whole cache lines (else it straddles three) */
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, QLB_RP_CACHE_SETS);
	__type(key, __u32);
	__type(value, struct qlb_rp_cache_set);
} qlb_rp_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QLB_RP_FLOW_MAX);
	__type(key, struct qlb_rp_flow_key);
	__type(value, struct qlb_rp_flow);
} qlb_rp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qlb_rp_flow_cfg);
} qlb_rp_flowcfg SEC(".maps");

/* When a full flow table was last swept (racy between CPUs: harmless, at
 * worst two sweeps). */
__u64 qlb_flow_swept_ns;

/* A DCID in a zeroed, word-aligned buffer (the codec reads 20 bytes). */
union qlb_rp_cid {
	__u8 b[32];
	__u64 q[4];
};

static __always_inline void qlb_rp_count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&qlb_rp_stats, &reason);

	if (c)
		*c += 1;
}

/*
 * qlb_dcid_hash() - FNV-1a over the first @len bytes of @cid (the rest of
 * the QLB_CID_MAX_LEN buffer is masked off first, so bytes that follow the
 * CID in the packet never change the result), started from the fleet's
 * seed when hash_secret is set (qlb_rp_flowcfg[0].dcid_seed; 0 without
 * it, which is the unkeyed hash), so that the worker a client-chosen DCID
 * lands on cannot be computed by the client.
 */
static __always_inline __u32 qlb_dcid_hash(__u8 *cid, __u32 len)
{
	struct qlb_rp_flow_cfg *fc;
	__u32 h = 2166136261u ^ len, zero = 0;
	int i;

	fc = bpf_map_lookup_elem(&qlb_rp_flowcfg, &zero);
	if (fc)
		h ^= fc->dcid_seed;

#pragma unroll
	for (i = 0; i < QLB_CID_MAX_LEN; i++) {
		__u8 b = i < len ? cid[i] : 0;

		h = (h ^ b) * 16777619u;
	}
	return h;
}

/*
 * qlb_group_key_of() - @g: the group of the socket the lookup found (every
 * member of a group has the same bound address), slot 0. Return: 0, or -1
 * without a socket.
 */
static __always_inline int qlb_group_key_of(struct sk_reuseport_md *md,
					    struct qlb_group_key *g)
{
	struct bpf_sock *sk;

	sk = md->sk;
	if (!sk)
		return -1;
	g->family = sk->family;
	g->port = sk->src_port;
	g->slot = 0;
	/* zeroed before the branch: clang otherwise merges the two
	 * branches' reads of md->sk into pointer arithmetic on it, which
	 * the verifier refuses */
	g->addr[1] = 0;
	g->addr[2] = 0;
	g->addr[3] = 0;
	if (g->family == 2 /* AF_INET */) {
		g->addr[0] = sk->src_ip4;
	} else {
		g->addr[0] = sk->src_ip6[0];
		g->addr[1] = sk->src_ip6[1];
		g->addr[2] = sk->src_ip6[2];
		g->addr[3] = sk->src_ip6[3];
	}
	return 0;
}

/* The qlb_worksel value of the datagram's group (@g gets its key), or
 * NULL. */
static __always_inline __u32 *qlb_group_sel(struct sk_reuseport_md *md,
					    struct qlb_group_key *g)
{
	if (qlb_group_key_of(md, g))
		return NULL;
	return bpf_map_lookup_elem(&qlb_worksel, g);
}

/*
 * qlb_group_row() - the qlb_hcfg_v2 row of the datagram's socket group:
 * its qlb_grp_rows slot when that names the group, qlb_worksel's row bits
 * when the slot is shared; 0 (row 0: by_group, never present) for a group
 * without one.
 */
static __always_inline __u32 qlb_group_row(struct sk_reuseport_md *md)
{
	struct qlb_group_row *e;
	struct qlb_group_key g;
	__u32 slot, *sel;

	if (qlb_group_key_of(md, &g))
		return 0;
	slot = qlb_group_slot(g.family, g.port, g.addr[0], g.addr[1], g.addr[2],
			      g.addr[3]);
	e = bpf_map_lookup_elem(&qlb_grp_rows, &slot);
	if (!e)
		return 0;
	if (!((e->family ^ g.family) | (e->port ^ g.port) |
	      (e->addr[0] ^ g.addr[0]) | (e->addr[1] ^ g.addr[1]) |
	      (e->addr[2] ^ g.addr[2]) | (e->addr[3] ^ g.addr[3])))
		return e->row;
	if (e->row != QLB_GROUP_ROW_SHARED)
		return 0;
	sel = bpf_map_lookup_elem(&qlb_worksel, &g);
	return sel ? QLB_WORKSEL_ROW(*sel) : 0;
}

/*
 * qlb_cfg_of() - the decode state of config @cr for this datagram: row 0's
 * entry, which is the config itself when the host serves one service;
 * when it serves several (by_group), the entry of the row of the socket
 * group's service.
 */
static __always_inline struct qlb_host_cfg *
qlb_cfg_of(struct sk_reuseport_md *md, __u32 cr)
{
	struct qlb_host_cfg *hc = bpf_map_lookup_elem(&qlb_hcfg_v2, &cr);
	__u32 k;

	if (!hc || !hc->by_group)
		return hc;
	k = QLB_HOST_CFG_KEY(qlb_group_row(md) & 0xff, cr);
	return bpf_map_lookup_elem(&qlb_hcfg_v2, &k);
}

/*
 * qlb_fallback_pick() - select a socket of the working generation by @hash.
 * Probes a few neighbours when the hashed worker's socket just closed.
 * @picked: the worker ID selected.
 * Return: 0 when a socket was selected; -1 when none was (the kernel then
 * hashes itself: only when no working socket is left at all).
 */
static __always_inline int qlb_fallback_pick(struct sk_reuseport_md *md,
					     __u32 hash, __u32 *picked)
{
	struct qlb_group_key g;
	struct qlb_work_set *ws;
	__u32 *sel, n, idx, key;
	int i;

	sel = qlb_group_sel(md, &g);
	if (!sel)
		goto none;
	g.slot = QLB_WORKSEL_SLOT(*sel);
	ws = bpf_map_lookup_elem(&qlb_work, &g);
	if (!ws)
		goto none;
	n = ws->nworkers;
	if (n == 0 || n > QLB_HOST_GEN_MAX)
		goto none;
	idx = hash % n;
	for (i = 0; i < QLB_HOST_FALLBACK_PROBES; i++) {
		/* the verifier needs the bound on every iteration; the empty
		 * asm keeps clang from dropping it as implied by idx < n */
		asm volatile("" : "+r"(idx));
		if (idx >= QLB_HOST_GEN_MAX)
			break;
		key = ws->workers[idx];
		if (bpf_sk_select_reuseport(md, &qlb_socks, &key, 0) == 0) {
			qlb_rp_count(QLB_RP_FB_SELECTED);
			*picked = key;
			return 0;
		}
		if (++idx >= n)
			idx = 0;
	}
none:
	qlb_rp_count(QLB_RP_FB_NONE);
	return -1;
}

static __always_inline int qlb_fallback(struct sk_reuseport_md *md, __u32 hash)
{
	__u32 w;

	qlb_fallback_pick(md, hash, &w);
	return SK_PASS;
}

struct bpf_map;

struct qlb_sweep {
	__u64 now, timeout;
};

static long qlb_flow_expire(struct bpf_map *map, struct qlb_rp_flow_key *k,
			    struct qlb_rp_flow *f, struct qlb_sweep *s)
{
	if (s->now - f->born_ns >= s->timeout) {
		bpf_map_delete_elem(map, k);
		/* counted here: a running count in @s would be a constant
		 * the verifier follows through every iteration */
		qlb_rp_count(QLB_RP_FLOW_EXPIRED);
	}
	return 0;
}

/*
 * qlb_flow_steer() - a long-header datagram whose DCID @k is not a routable
 * CID of this host (@cid: its bytes): follow the socket its first datagram
 * reached while that socket lives and the record is young, else take the
 * fallback and record where it went.
 */
static __always_inline int qlb_flow_steer(struct sk_reuseport_md *md,
					  struct qlb_rp_flow_key *k, __u8 *cid)
{
	struct qlb_rp_flow_cfg *fc;
	struct qlb_worker_rec *rec;
	struct qlb_rp_flow *f, v = {};
	struct qlb_sweep s;
	__u32 zero = 0, w;
	__u64 now, timeout = QLB_RP_FLOW_TIMEOUT_NS;
	long err;

	fc = bpf_map_lookup_elem(&qlb_rp_flowcfg, &zero);
	if (fc) {
		if (fc->off)
			return qlb_fallback(md, qlb_dcid_hash(cid, k->len));
		if (fc->timeout_ns)
			timeout = fc->timeout_ns;
	}
	now = bpf_ktime_get_coarse_ns();
	f = bpf_map_lookup_elem(&qlb_rp_flows, k);
	if (f) {
		if (now - f->born_ns < timeout) {
			w = f->worker;
			rec = bpf_map_lookup_elem(&qlb_workers, &w);
			/* the worker ID may have been given to a new socket
			 * since: the cookie tells them apart */
			if (rec && rec->in_use && rec->cookie == f->cookie &&
			    bpf_sk_select_reuseport(md, &qlb_socks, &w, 0) ==
				    0) {
				qlb_rp_count(QLB_RP_FLOW_FOLLOWED);
				return SK_PASS;
			}
			/* its socket is gone: fall back, record the new one */
		} else {
			bpf_map_delete_elem(&qlb_rp_flows, k);
			qlb_rp_count(QLB_RP_FLOW_EXPIRED);
		}
	}
	/* the DCID's hash only now: a followed record does not need it */
	if (qlb_fallback_pick(md, qlb_dcid_hash(cid, k->len), &w))
		return SK_PASS;
	rec = bpf_map_lookup_elem(&qlb_workers, &w);
	v.cookie = rec ? rec->cookie : 0;
	v.born_ns = now;
	v.worker = w;
	err = bpf_map_update_elem(&qlb_rp_flows, k, &v, BPF_ANY);
	if (err == -7 /* E2BIG: full */ &&
	    now - qlb_flow_swept_ns >= QLB_RP_FLOW_SWEEP_NS) {
		qlb_flow_swept_ns = now;
		s.now = now;
		s.timeout = timeout;
		bpf_for_each_map_elem(&qlb_rp_flows, qlb_flow_expire, &s, 0);
		err = bpf_map_update_elem(&qlb_rp_flows, k, &v, BPF_ANY);
	}
	qlb_rp_count(err ? QLB_RP_FLOW_FULL : QLB_RP_FLOW_RECORDED);
	return SK_PASS;
}

/* Server ID bytes 1..16 of a DCID held in words @q, as a big-endian
 * 128-bit number hi:lo. */
static __always_inline void qlb_sid_be(const __u64 *q, __u64 *hi, __u64 *lo)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	*hi = __builtin_bswap64((q[0] >> 8) | (q[1] << 56));
	*lo = __builtin_bswap64((q[1] >> 8) | (q[2] << 56));
#else
	*hi = (q[0] << 8) | (q[1] >> 56);
	*lo = (q[1] << 8) | (q[2] >> 56);
#endif
}

/* hi:lo >>= s, 8 <= s <= 120 */
static __always_inline void qlb_shr128(__u64 *hi, __u64 *lo, __u32 s)
{
	if (s >= 64) {
		*lo = *hi >> ((s - 64) & 63);
		*hi = 0;
	} else {
		*lo = (*lo >> (s & 63)) | (*hi << ((64 - s) & 63));
		*hi >>= s & 63;
	}
}

/*
 * qlb_plain_sid() - worker and host check of a plaintext CID in words @q
 * without the codec: the server ID is bytes 1..sid_len, the worker its low
 * worker_bits bits. Shifting the ID (and the host's) right until its last
 * byte is the lowest drops the nonce; what remains is compared in two
 * words. Return: 0 and *@worker when the host part is this host's.
 */
static __always_inline int qlb_plain_sid(const struct qlb_host_cfg *hc,
					 const __u64 *q, __u32 *worker)
{
	const __u64 *hs = (const __u64 *)hc->host_sid;
	__u32 s = 128 - 8 * (hc->cid.sid_len & 15);
	__u64 hi, lo, hhi, hlo, wm = qlb__worker_mask(&hc->cid);

	qlb_sid_be(q, &hi, &lo);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	hhi = __builtin_bswap64(hs[0]);
	hlo = __builtin_bswap64(hs[1]);
#else
	hhi = hs[0];
	hlo = hs[1];
#endif
	qlb_shr128(&hi, &lo, s);
	qlb_shr128(&hhi, &hlo, s);
	*worker = (__u32)(lo & wm);
	return ((hi ^ hhi) | ((lo ^ hlo) & ~wm)) ? -1 : 0;
}

/* Codec decode of @cid under @hc: worker and host check, as above. */
static __always_inline int qlb_codec_sid(const struct qlb_host_cfg *hc,
					 const __u8 *cid, __u32 *worker)
{
	__u8 sid[16] = {};
	int i, diff = 0;

	qlb_cid_decode_sid(&hc->cid, cid, sid);
	*worker = qlb_sid_worker(&hc->cid, sid);
	qlb_sid_host_part(&hc->cid, sid);
#pragma unroll
	for (i = 0; i < 16; i++)
		diff |= sid[i] ^ hc->host_sid[i];
	return diff ? -1 : 0;
}

/* A u64 of @n (1..7) bytes in memory order: the rest zero. */
static __always_inline __u64 qlb_keep_bytes(__u64 w, __u32 n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return w & (((__u64)1 << ((8 * n) & 63)) - 1);
#else
	return w & ~(~(__u64)0 >> ((8 * n) & 63));
#endif
}

/* Words k0..k2 of a DCID, zero past its @clen (6..20) bytes: branches, not
 * the codec's branch-free masks, as nothing here indexes memory by clen. */
static __always_inline void qlb_keep_cid(__u64 *k0, __u64 *k1, __u64 *k2,
					 __u32 clen)
{
	if (clen < 8) {
		*k0 = qlb_keep_bytes(*k0, clen);
		*k1 = 0;
		*k2 = 0;
	} else if (clen < 16) {
		*k1 = clen == 8 ? 0 : qlb_keep_bytes(*k1, clen - 8);
		*k2 = 0;
	} else {
		*k2 = clen == 16 ? 0 : qlb_keep_bytes(*k2, clen - 16);
	}
}

/*
 * qlb_fast_short() - the usual short-header datagram of a connection, its
 * DCID read in place from a linear skb: a plaintext CID taken apart with
 * shifts, an encrypted one found in the decoded-CID cache or decoded once
 * and cached. A straight run of code of its own: merged with the general
 * path below, clang kept the union of both paths' values live and spilled
 * them. Return: SK_PASS when done, -1 when the general path must decide
 * (no config, a length the config does not allow, a plaintext CID that
 * is not ours or a closed worker's: rare in steady traffic).
 */
static __always_inline int qlb_fast_short(struct sk_reuseport_md *md, void *p)
{
	union qlb_rp_cid c;
	struct qlb_rp_cache_set *set;
	struct qlb_rp_cache_ent *e;
	struct qlb_host_cfg *hc;
	__u32 cr, clen, worker, idx;
	__u64 k0, k1, k2;
	__u8 first = *(__u8 *)p;
	int i;

	cr = qlb_cid_config_id(first);
	if (cr == QLB_CR_UNROUTABLE)
		return -1;
	hc = qlb_cfg_of(md, cr);
	if (!hc || !hc->present)
		return -1;
	clen = qlb_cid_len(&hc->cid);
	/* (a CID longer than the three words read: only a config the agent
	 * would refuse; the general path answers as the codec does) */
	if (clen > QLB_CID_MAX_LEN || ((hc->cid.flags & QLB_CID_F_ENCODE_LEN) &&
				       (first & 0x1f) != clen - 1))
		return -1;
	c.q[0] = *(__u64 *)p;
	c.q[1] = *(__u64 *)(p + 8);
	c.q[2] = *(__u64 *)(p + 16);
	if (!(hc->cid.flags & QLB_CID_F_KEY)) {
		if (!qlb_cid_cfg_valid(&hc->cid) ||
		    qlb_plain_sid(hc, c.q, &worker) ||
		    bpf_sk_select_reuseport(md, &qlb_socks, &worker, 0))
			return -1;
		qlb_rp_count(QLB_RP_ROUTED);
		return SK_PASS;
	}

	/* encrypted: the decoded-CID cache, keyed by the CID's bytes (its
	 * length is the config's) and the config's epoch */
	k0 = c.q[0];
	k1 = c.q[1];
	k2 = c.q[2];
	qlb_keep_cid(&k0, &k1, &k2, clen);
	/* ciphertext bytes: as good as a hash, and an attacker without the
	 * key cannot aim at the entries of live CIDs */
	idx = (__u32)((k0 >> 8) ^ (k0 >> 40) ^ k1) & (QLB_RP_CACHE_SETS - 1);
	idx += bpf_get_smp_processor_id() * QLB_RP_CACHE_SETS;
	set = bpf_map_lookup_elem(&qlb_rp_cache, &idx);
	if (!set || !hc->epoch)
		return -1;
#pragma unroll
	for (i = 0; i < QLB_RP_CACHE_WAYS; i++) {
		e = &set->way[i];
		if (!((e->epoch ^ hc->epoch) | (e->cid[0] ^ k0) |
		      (e->cid[1] ^ k1) | (e->cid[2] ^ k2)))
			goto hit;
	}

	qlb_rp_count(QLB_RP_CACHE_MISS);
	c.q[3] = 0;
	if (qlb_codec_sid(hc, c.b, &worker)) {
		qlb_rp_count(QLB_RP_FB_FOREIGN);
		return qlb_fallback(md, qlb_dcid_hash(c.b, clen));
	}
	if (bpf_sk_select_reuseport(md, &qlb_socks, &worker, 0)) {
		/* worker < 2^16: never beyond the socket map */
		qlb_rp_count(QLB_RP_FB_EMPTY_SLOT);
		return qlb_fallback(md, qlb_dcid_hash(c.b, clen));
	}
	/* admitted: a CID of this host whose worker lives. It goes to way 0,
	 * the others move down one and the oldest leaves (the set keeps its
	 * newest CIDs: measured with 10 000 live CIDs sent round robin, this
	 * keeps 96% of them, a random way 90%) */
#pragma unroll
	for (i = QLB_RP_CACHE_WAYS - 1; i > 0; i--)
		set->way[i] = set->way[i - 1];
	e = &set->way[0];
	e->cid[0] = k0;
	e->cid[1] = k1;
	e->cid[2] = k2;
	e->epoch = hc->epoch;
	e->worker = worker;
	qlb_rp_count(QLB_RP_ROUTED);
	return SK_PASS;
hit:
	worker = e->worker;
	qlb_rp_count(QLB_RP_CACHE_HIT);
	if (bpf_sk_select_reuseport(md, &qlb_socks, &worker, 0))
		return -1;
	qlb_rp_count(QLB_RP_ROUTED);
	return SK_PASS;
}

SEC("sk_reuseport")
int qlb_reuseport_select(struct sk_reuseport_md *md)
{
	void *data = (void *)(long)md->data;
	void *data_end = (void *)(long)md->data_end;
	__u8 hdr[QLB_HDR_READ] = {};
	union qlb_rp_cid c = {};
	struct qlb_host_cfg *hc;
	__u32 plen, cr, clen, hlen, worker, reason;
	__u8 is_long;

	if (!qlb_rp_ref && data + QLB_UDP_HLEN + QLB_FAST_READ <= data_end &&
	    !(*(__u8 *)(data + QLB_UDP_HLEN) & 0x80)) {
		int r = qlb_fast_short(md, data + QLB_UDP_HLEN +
						   QLB_SHORT_DCID_OFF);

		if (r >= 0)
			return r;
	}
	if (md->len <= QLB_UDP_HLEN + 1) {
		reason = QLB_RP_FB_SHORT;
		hlen = 0;
		goto fallback_counted;
	}
	plen = md->len - QLB_UDP_HLEN;
	if (data + QLB_UDP_HLEN + QLB_HDR_READ <= data_end) {
		__builtin_memcpy(hdr, data + QLB_UDP_HLEN, QLB_HDR_READ);
	} else {
		/* short datagram or a non-linear skb: copy what there is */
		__u32 n = plen < QLB_HDR_READ ? plen : QLB_HDR_READ;

		if (data + QLB_UDP_HLEN + n > data_end)
			qlb_rp_count(QLB_RP_NONLINEAR);
		if (n < 1 || n > QLB_HDR_READ ||
		    bpf_skb_load_bytes(md, QLB_UDP_HLEN, hdr, n)) {
			reason = QLB_RP_FB_SHORT;
			hlen = 0;
			goto fallback_counted;
		}
	}

	is_long = !!(hdr[0] & 0x80);
	if (is_long) {
		hlen = hdr[5];
		if (hlen > QLB_CID_MAX_LEN)
			hlen = QLB_CID_MAX_LEN;
		__builtin_memcpy(c.b, hdr + QLB_LONG_DCID_OFF, QLB_CID_MAX_LEN);
		/* keeps clang from merging the two copies into one with a
		 * variable stack offset, which the verifier refuses */
		asm volatile("" ::: "memory");
	} else {
		hlen = QLB_HASH_DEFAULT_LEN;
		__builtin_memcpy(c.b, hdr + QLB_SHORT_DCID_OFF,
				 QLB_CID_MAX_LEN);
		asm volatile("" ::: "memory");
	}

	cr = qlb_cid_config_id(c.b[0]);
	if (cr == QLB_CR_UNROUTABLE) {
		/* 0b111 CIDs self-encode their length */
		if (!is_long)
			hlen = (c.b[0] & 0x1f) + 1;
		reason = QLB_RP_FB_UNROUTABLE;
		goto fallback;
	}
	hc = qlb_cfg_of(md, cr);
	if (!hc || !hc->present) {
		reason = is_long ? QLB_RP_FB_INITIAL : QLB_RP_FB_NO_CONFIG;
		goto fallback;
	}
	clen = qlb_cid_len(&hc->cid);
	if (!is_long)
		hlen = clen;
	if ((is_long && hdr[5] != clen) ||
	    ((hc->cid.flags & QLB_CID_F_ENCODE_LEN) &&
	     (c.b[0] & 0x1f) != clen - 1)) {
		reason = is_long ? QLB_RP_FB_INITIAL : QLB_RP_FB_LENGTH;
		goto fallback;
	}
	if (!is_long && plen < 1 + clen) {
		reason = QLB_RP_FB_SHORT;
		goto fallback;
	}

	if (qlb_codec_sid(hc, c.b, &worker)) {
		reason = is_long ? QLB_RP_FB_INITIAL : QLB_RP_FB_FOREIGN;
		goto fallback;
	}
	if (worker >= QLB_HOST_MAX_WORKERS) {
		reason = QLB_RP_FB_WORKER_RANGE;
		goto fallback;
	}
	if (bpf_sk_select_reuseport(md, &qlb_socks, &worker, 0) == 0) {
		qlb_rp_count(QLB_RP_ROUTED);
		return SK_PASS;
	}
	reason = QLB_RP_FB_EMPTY_SLOT;

fallback:
	qlb_rp_count(reason);
	if (!qlb_rp_ref && is_long &&
	    (reason == QLB_RP_FB_INITIAL || reason == QLB_RP_FB_UNROUTABLE)) {
		/* a client-chosen DCID (or 0b111): the flow table */
		struct qlb_rp_flow_key k;

		k.dcid[0] = c.q[0] & qlb__head64(qlb__clamp8(hlen));
		k.dcid[1] = c.q[1] & qlb__head64(qlb__clamp8(hlen - 8));
		k.dcid[2] = c.q[2] & qlb__head64(qlb__clamp8(hlen - 16));
		k.len = hlen;
		k.pad = 0;
		return qlb_flow_steer(md, &k, c.b);
	}
	return qlb_fallback(md, qlb_dcid_hash(c.b, hlen));
fallback_counted:
	qlb_rp_count(reason);
	return qlb_fallback(md, qlb_dcid_hash(hdr, hlen));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
