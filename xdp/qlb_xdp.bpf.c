// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_xdp_ingress: the LB node's data plane. Every QUIC packet to a VIP is
 * sent, encapsulated, to the backend host that owns its connection: by the
 * server ID in its destination CID when that CID is routable, else by a
 * Maglev hash of the 4-tuple over the active hosts. No per-connection state;
 * every LB node with the same maps makes the same choice.
 * Maps and rules: include/qlb/abi/lb_abi.h. Design: docs/lb.md.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "qlb/cid.h"
#include "qlb/abi/lb_abi.h"
#include "qlb_maps.h"
#include "qlb_parse.h"
#include "qlb_encap.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by `qlbctl trace` on its private copy only: the live program is
 * loaded with 0 and the verifier removes the trace code. */
const volatile __u32 qlb_trace_on = 0;

/* Bypass the decoded-CID cache (benchmarks measure the codec with it). */
const volatile __u32 qlb_cache_off = 0;

/* Input and output of the codec subprogram. */
struct qlb_dec_io {
	__u64 cid[3]; /* the CID, zero past its length */
	__u8 sid[16]; /* decoded server ID, zero past sid_len */
};

/*
 * The AES codec as a global subprogram: the verifier checks it once, on
 * its own, instead of once per path of the ingress function (which exceeds
 * the verifier's budget), and its AES temporaries get their own frame.
 */
__attribute__((noinline)) int qlb_decode_sid(const struct qlb_lb_cid *cfg,
					     struct qlb_dec_io *io)
{
	if (!cfg || !io)
		return -1;
	qlb_cid_decode_sid(&cfg->c, (const __u8 *)io->cid, io->sid);
	io->sid[15] = 0; /* the codec writes QLB_SID_MAX_LEN bytes */
	return 0;
}

struct qlb_verdict {
	__u32 reason;
	__u32 host;    /* member index */
	__u32 service; /* of the VIP, or QLB_LB_NO_SERVICE */
	__u8 config_id;
	__u8 sid_len; /* sid in qlb_scratch.io.sid when not 0 (trace only) */
};

/* The service index of VIP entry @e, kept in range so that no key built
 * from it reaches another slot's part of a map. */
static __always_inline __u32 qlb_vip_svc(const struct qlb_lb_vip_ent *e)
{
	return e->service & (QLB_LB_MAX_SERVICES - 1);
}

/*
 * The keys of a VIP's service, behind a branch rather than computed: a
 * key computed from the VIP entry makes every later table's address wait
 * for that entry's load, one memory latency more per packet than before
 * services (measured: +35 ns in bench_xdp). Behind a branch the CPU
 * predicts the common value and addresses the config and server-ID tables
 * (or the Maglev table) at once; with one service it always predicts
 * right. The empty asm keeps the compiler from folding the branch away.
 * The general path only: the fast path reads its config from
 * qlb_vip_cfgs, addressed by the VIP's bucket, and needs no guess.
 */
static __always_inline __u32 qlb_svc_opaque(__u32 x)
{
	__u32 r = 0;

	if (x) {
		r = x;
		asm volatile("" : "+r"(r));
	}
	return r;
}

/* QLB_LB_CFG_KEY(@svc, 0): add a config id for a config's key. */
static __always_inline __u32 qlb_cfg_base(__u32 svc)
{
	return qlb_svc_opaque(QLB_LB_CFG_KEY(svc, 0));
}

/* Per-CPU scratch: the codec's input and output off the 512-byte stack.
 * io.sid also holds the server ID of the verdict (worker bits kept) for
 * `qlbctl trace`, however it was found. Every field is written before it
 * is read. */
struct qlb_scratch {
	struct qlb_dec_io io;
	/* qlb_too_big(): a token bucket per CPU (starts empty at tb_ns 0,
	 * so the first answer refills it) and the bytes it quotes, copied
	 * here for their checksum */
	__u64 tb_ns;
	__u32 tb_tokens;
	__u32 pad;
	__u8 quote[512];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qlb_scratch);
} qlb_scratch SEC(".maps");

/* The CID as three words, zero past its length. */
struct qlb_cidw {
	__u64 w[3];
};

/*
 * Read the CID at packet offset @off and keep only its bytes (@mask: the
 * config's cid_mask as three words): three word loads when the packet
 * holds 24 bytes there, the load helper otherwise. Return: 0 or -1.
 */
static __always_inline int qlb_read_cid(struct xdp_md *ctx, __u32 off,
					const __u64 *mask, struct qlb_cidw *c)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 *p;

	if (qlb_unlikely(off > 0x1ff)) /* headers end before 18 + 60 + 8 + 6 */
		return -1;
	p = data + off;
	if (qlb_likely((void *)(p + 3) <= end)) {
		c->w[0] = p[0] & mask[0];
		c->w[1] = p[1] & mask[1];
		c->w[2] = p[2] & mask[2];
		return 0;
	} else {
		long avail = end - (void *)p;

		if (avail <= 0 ||
		    avail > 24) /* signed bounds for the verifier */
			return -1;
		c->w[0] = c->w[1] = c->w[2] = 0;
		if (bpf_xdp_load_bytes(ctx, off, c->w, avail))
			return -1;
	}
	/* bytes past the CID are payload, not identity */
	c->w[0] &= mask[0];
	c->w[1] &= mask[1];
	c->w[2] &= mask[2];
	return 0;
}

/* The entry of a server ID's host part @k under @id (QLB_LB_CFG_KEY of
 * the VIP's service and the config), within @probes buckets of its hash,
 * or NULL. Keyed by service: only the members of the VIP's service are
 * found. */
static __always_inline struct qlb_lb_sid_ent *
qlb_sid_find(__u32 slot, const struct qlb_lb_settings *s, __u32 id,
	     const __u64 *k, const unsigned int probes)
{
	__u32 h = qlb_lb_sid_hash_m(s->sid_mul, id, k), i;

#pragma unroll
	for (i = 0; i < probes; i++) {
		__u32 key = slot * QLB_LB_SID_BUCKETS +
			    ((h + i) & (QLB_LB_SID_BUCKETS - 1));
		struct qlb_lb_sid_ent *e =
			bpf_map_lookup_elem(&qlb_sids_v2, &key);

		if (qlb_unlikely(!e || !e->used))
			break;
		/* equalities folded into one test (BPF has no
		 * set-on-condition: every && would be a branch) */
		if (qlb_likely(!((((__u64 *)e->sid)[0] ^ k[0]) |
				 (((__u64 *)e->sid)[1] ^ k[1]) |
				 (e->cfg_key ^ id))))
			return e;
	}
	return NULL;
}

/* Member index of a server ID's host part @k under cfg_key @id, or
 * NO_HOST. */
static __always_inline __u32 qlb_sid_lookup(__u32 slot,
					    const struct qlb_lb_settings *s,
					    __u32 id, const __u64 *k)
{
	struct qlb_lb_sid_ent *e = qlb_sid_find(slot, s, id, k, QLB_LB_PROBES);

	return e ? e->host : QLB_LB_NO_HOST;
}

/* VIP entry @e is the address @d (four words) and @pf: port and family as
 * one word, as the entry has them (an empty entry, family 0, is none). */
static __always_inline int qlb_vip_is(const struct qlb_lb_vip_ent *e,
				      const __u64 *d, __u32 pf)
{
	/* equalities folded into one test (BPF has no set-on-condition) */
	return !((((__u64 *)e->addr)[0] ^ d[0]) |
		 (((__u64 *)e->addr)[1] ^ d[1]) | (*(__u32 *)&e->port ^ pf));
}

/* The VIP entry of (@daddr, @dport), within @probes buckets of its hash,
 * or NULL. @daddr: four words, 8-aligned (IPv4: word 0, others zero). */
static __always_inline struct qlb_lb_vip_ent *
qlb_vip_find(__u32 slot, const struct qlb_lb_settings *s, __u8 family,
	     const __u32 *daddr, __u16 dport, const unsigned int probes)
{
	__u32 h = qlb_lb_vip_hash_m(s->vip_mul, family, daddr, dport), i;
	/* port, family and a zero pad byte as one word, as the entry has
	 * them */
	__u32 pf = (__u32)dport | (__u32)family << 16;
	const __u64 *d = (const __u64 *)daddr;

#pragma unroll
	for (i = 0; i < probes; i++) {
		__u32 key = slot * QLB_LB_VIP_BUCKETS +
			    ((h + i) & (QLB_LB_VIP_BUCKETS - 1));
		struct qlb_lb_vip_ent *e =
			bpf_map_lookup_elem(&qlb_vips_v2, &key);

		if (qlb_unlikely(!e || !e->family))
			break;
		if (qlb_likely(qlb_vip_is(e, d, pf)))
			return e;
	}
	return NULL;
}

/* The server ID of a plaintext CID (its bytes 1..16) as two words. */
static __always_inline void qlb_plain_sid(const struct qlb_cidw *c, __u64 *sid)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	sid[0] = (c->w[0] >> 8) | (c->w[1] << 56);
	sid[1] = (c->w[1] >> 8) | (c->w[2] << 56);
#else
	sid[0] = (c->w[0] << 8) | (c->w[1] >> 56);
	sid[1] = (c->w[1] << 8) | (c->w[2] >> 56);
#endif
}

/*
 * The decoded-CID cache entry of CID @c (of hash @hash) when it holds @c
 * decoded for the service of @svcw (QLB_LB_CACHE_SVC(service)) under the
 * slot's generation, else NULL. @ep, when not NULL, gets the entry the CID
 * maps to either way (where a decode is then stored).
 */
static __always_inline struct qlb_lb_cache_ent *
qlb_cache_find(const struct qlb_lb_settings *s, const struct qlb_cidw *c,
	       __u64 svcw, __u32 hash, struct qlb_lb_cache_ent **ep)
{
	__u32 idx = hash & (QLB_LB_CACHE_SIZE - 1);
	struct qlb_lb_cache_ent *ce = bpf_map_lookup_elem(&qlb_cid_cache, &idx);

	if (ep)
		*ep = ce;
	if (!ce || ((ce->gen ^ s->gen) | (ce->cid[0] ^ c->w[0]) |
		    (ce->cid[1] ^ c->w[1]) | (ce->cid[2] ^ c->w[2] ^ svcw)))
		return NULL;
	return ce;
}

/*
 * The member entry of index @host, when it can take a packet routed by CID:
 * fills @v and returns 1, or returns 0 with v->reason set.
 */
static __always_inline int qlb_cid_host(__u32 slot, __u32 host,
					struct qlb_verdict *v,
					struct qlb_lb_host **hp)
{
	struct qlb_lb_host *h;
	__u32 hkey;

	if (qlb_unlikely(host == QLB_LB_NO_HOST)) {
		v->reason = QLB_R_FB_UNKNOWN_SID;
		return 0;
	}
	hkey = slot * QLB_LB_MAX_MEMBERS + (host & (QLB_LB_MAX_MEMBERS - 1));
	h = bpf_map_lookup_elem(&qlb_hosts_v2, &hkey);
	if (qlb_unlikely(!h || !h->family)) {
		v->reason = QLB_R_FB_UNKNOWN_SID;
		return 0;
	}
	if (qlb_unlikely(h->state == QLB_LB_HOST_DOWN)) {
		v->reason = QLB_R_FB_HOST_DOWN;
		return 0;
	}
	v->host = host;
	v->reason = QLB_R_ROUTED_CID;
	*hp = h;
	return 1;
}

/**
 * qlb_keyed_host() - member index of a CID @c of the encrypted config @cfg
 * of service @svc (@base: qlb_cfg_base() of it).
 * @cache: use the decoded-CID cache (short headers only: the few long
 * headers of a handshake gain nothing from it, and a flood of Initials
 * must cost the LB node no state).
 * Return: the member index or QLB_LB_NO_HOST; the server ID is left in
 * the scratch for trace.
 */
static __always_inline __u32 qlb_keyed_host(__u32 slot,
					    const struct qlb_lb_settings *s,
					    const struct qlb_lb_cid *cfg,
					    const struct qlb_cidw *c, __u32 svc,
					    __u32 base, __u32 hash, int cache)
{
	/* the same CID decodes differently under another service's key */
	__u64 svcw = QLB_LB_CACHE_SVC(svc);
	struct qlb_lb_cache_ent *ce = NULL, *hit;
	struct qlb_scratch *sc;
	__u32 zero = 0, host;
	const __u64 *hm;
	__u64 k[2];

	if (cache && !qlb_cache_off) {
		hit = qlb_cache_find(s, c, svcw, hash, &ce);
		if (hit) {
			if (qlb_trace_on) {
				sc = bpf_map_lookup_elem(&qlb_scratch, &zero);
				if (sc)
					__builtin_memcpy(sc->io.sid, hit->sid,
							 16);
			}
			return hit->host;
		}
	}
	sc = bpf_map_lookup_elem(&qlb_scratch, &zero);
	if (!sc)
		return QLB_LB_NO_HOST;
	sc->io.cid[0] = c->w[0];
	sc->io.cid[1] = c->w[1];
	sc->io.cid[2] = c->w[2];
	qlb_decode_sid(cfg, &sc->io);
	hm = (const __u64 *)cfg->host_mask;
	k[0] = ((__u64 *)sc->io.sid)[0] & hm[0];
	k[1] = ((__u64 *)sc->io.sid)[1] & hm[1];
	host = qlb_sid_lookup(slot, s, base + cfg->c.id, k);
	if (ce && host != QLB_LB_NO_HOST) {
		/* only CIDs of a host enter: most random ones do not */
		ce->cid[0] = c->w[0];
		ce->cid[1] = c->w[1];
		ce->cid[2] = c->w[2] ^ svcw;
		ce->gen = s->gen;
		ce->host = host;
		__builtin_memcpy(ce->sid, sc->io.sid, 16);
	}
	return host;
}

/* The config of codepoint @cr of the service of @base (qlb_cfg_base())
 * when it is routed (bit @cr of the VIP entry's @live), else NULL (live
 * has no bit for 0b111, QLB_CR_UNROUTABLE). */
static __always_inline struct qlb_lb_cid *qlb_live_cfg(__u32 slot, __u32 live,
						       __u32 base, __u32 cr)
{
	struct qlb_lb_cid *cfg;
	__u32 key;

	if (qlb_unlikely(!(live & (1u << cr))))
		return NULL;
	key = slot * QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX + base + cr;
	cfg = bpf_map_lookup_elem(&qlb_cid_cfgs_v2, &key);
	if (qlb_unlikely(!cfg || !cfg->live))
		return NULL;
	return cfg;
}

/* Version field of long header @q is QUIC v1 (RFC 9000) or v2 (RFC 9369). */
static __always_inline int qlb_quic_v1_v2(const __u8 *q)
{
	__u32 ver =
		(__u32)q[1] << 24 | (__u32)q[2] << 16 | (__u32)q[3] << 8 | q[4];

	return ver == 0x00000001u || ver == 0x6b3343cfu;
}

/**
 * qlb_quic() - classify a QUIC datagram whose payload starts at @q_off,
 * sent to a VIP of service v->service (@base: qlb_cfg_base() of it) whose
 * entry has @live (live_cfgs).
 * Return: 1 routed by CID (v->host set), 0 fallback (v->reason set), -1
 * drop (v->reason set). @entropy gets the CID hash and @hp the member's
 * entry when routed.
 */
static __always_inline int qlb_quic(struct xdp_md *ctx, __u32 slot,
				    const struct qlb_lb_settings *s, __u32 live,
				    __u32 base, __u32 q_off, __u32 qlen,
				    struct qlb_verdict *v, __u32 *entropy,
				    struct qlb_lb_host **hp)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 cid_off, clen, dlen, host, hash;
	struct qlb_lb_cid *cfg;
	struct qlb_cidw c;
	__u8 *q, c0, cr;

	if (qlb_unlikely(q_off > 0x1ff)) /* headers end before 18 + 60 + 8 */
		return -1;
	q = data + q_off;
	v->reason = QLB_R_MALFORMED;
	if (qlb_unlikely((void *)(q + 2) > end || qlen < 2))
		return -1;
	if (qlb_unlikely(q[0] & 0x80)) {
		/* long header: flags, version, DCID length, DCID, SCID
		 * length */
		if ((void *)(q + 7) > end || qlen < 7)
			return -1;
		if (!q[1] && !q[2] && !q[3] && !q[4]) {
			v->reason = QLB_R_VERSION0;
			return -1;
		}
		dlen = q[5];
		if (7 + dlen > qlen)
			return -1;
		v->reason = QLB_R_FB_INITIAL;
		if (!dlen)
			return 0;
		if (dlen > QLB_CID_MAX_LEN) {
			/* v1 and v2 cap the DCID at 20 bytes; another version
			 * may use up to 255 (RFC 8999), and only a server can
			 * answer it with Version Negotiation: by 4-tuple, as
			 * an Initial */
			if (qlb_quic_v1_v2(q)) {
				v->reason = QLB_R_MALFORMED;
				return -1;
			}
			return 0;
		}
		cid_off = 6;
		c0 = q[6];
	} else {
		dlen = 0; /* implied by the config */
		cid_off = 1;
		c0 = q[1];
		v->reason = QLB_R_FB_UNKNOWN_CONFIG;
	}
	cr = qlb_cid_config_id(c0);
	if (qlb_unlikely(cr == QLB_CR_UNROUTABLE)) {
		if (!dlen)
			v->reason = QLB_R_FB_UNROUTABLE;
		return 0;
	}
	cfg = qlb_live_cfg(slot, live, base, cr);
	if (!cfg)
		return 0;
	clen = qlb_cid_len(&cfg->c);
	if (qlb_unlikely(dlen)) {
		/* a long header DCID too short for the config is a client's */
		if (dlen < clen)
			return 0;
	} else {
		if (qlb_unlikely(1 + clen > qlen)) {
			v->reason = QLB_R_MALFORMED;
			return -1;
		}
		dlen = clen;
		v->reason = QLB_R_FB_UNROUTABLE;
	}
	if (qlb_unlikely((cfg->c.flags & QLB_CID_F_ENCODE_LEN) &&
			 (c0 & 0x1f) + 1u != dlen))
		return 0;
	if (qlb_unlikely(qlb_read_cid(ctx, q_off + cid_off,
				      (const __u64 *)cfg->cid_mask, &c))) {
		v->reason = QLB_R_MALFORMED;
		return -1;
	}
	hash = qlb_lb_cid_hash(c.w);
	v->config_id = cfg->c.id;
	v->sid_len = cfg->c.sid_len;
	if (qlb_likely(!(cfg->c.flags & QLB_CID_F_KEY))) {
		/* plaintext: the server ID is the CID's bytes 1..sid_len */
		const __u64 *hm = (const __u64 *)cfg->host_mask;
		__u64 sid[2], k[2];

		qlb_plain_sid(&c, sid);
		k[0] = sid[0] & hm[0];
		k[1] = sid[1] & hm[1];
		host = qlb_sid_lookup(slot, s, base + cfg->c.id, k);
		if (qlb_trace_on) {
			const __u64 *sm = (const __u64 *)cfg->sid_mask;
			struct qlb_scratch *sc;
			__u32 zero = 0;

			sc = bpf_map_lookup_elem(&qlb_scratch, &zero);
			if (sc) {
				((__u64 *)sc->io.sid)[0] = sid[0] & sm[0];
				((__u64 *)sc->io.sid)[1] = sid[1] & sm[1];
			}
		}
	} else {
		host = qlb_keyed_host(slot, s, cfg, &c, v->service, base, hash,
				      cid_off == 1);
	}
	if (!qlb_cid_host(slot, host, v, hp)) {
		/* a long header that is not ours starts a new connection */
		if (cid_off == 6)
			v->reason = QLB_R_FB_INITIAL;
		return 0;
	}
	*entropy = hash;
	return 1;
}

static __always_inline void qlb_count(__u32 row, __u32 host, __u64 bytes)
{
	struct qlb_lb_counter *c;

	c = bpf_map_lookup_elem(&qlb_stats_v3, &row);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	if (host != QLB_LB_NO_HOST) {
		c = bpf_map_lookup_elem(&qlb_host_stats_v2, &host);
		if (c) {
			c->packets++;
			c->bytes += bytes;
		}
	}
}

static __always_inline int qlb_finish(__u32 action, __u32 vip,
				      struct qlb_verdict *v, __u64 bytes)
{
	__u32 row = vip * QLB_R_MAX + v->reason;

	qlb_count(row, action == QLB_ACT_TX ? v->host : QLB_LB_NO_HOST, bytes);
	if (v->reason == QLB_R_ROUTED_CID) {
		/* routed: the service is a VIP's, in range; config_id is a
		 * live config's (< QLB_CONFIG_MAX, which is 7: no mask) */
		__u32 id = QLB_LB_CFG_KEY(
			v->service & (QLB_LB_MAX_SERVICES - 1), v->config_id);
		struct qlb_lb_counter *c =
			bpf_map_lookup_elem(&qlb_cfg_stats_v2, &id);

		if (c) {
			c->packets++;
			c->bytes += bytes;
		}
	}
	if (qlb_trace_on) {
		__u32 zero = 0;
		struct qlb_lb_trace *t =
			bpf_map_lookup_elem(&qlb_trace_rec, &zero);

		struct qlb_scratch *sc =
			bpf_map_lookup_elem(&qlb_scratch, &zero);

		if (t && sc) {
			t->action = action;
			t->reason = v->reason;
			t->host = v->host;
			t->vip = vip;
			t->service = v->service;
			t->config_id = v->config_id;
			t->sid_len = v->sid_len;
			__builtin_memcpy(t->sid, sc->io.sid, 16);
		}
	}
	if (action == QLB_ACT_TX)
		return XDP_TX;
	return action == QLB_ACT_DROP ? XDP_DROP : XDP_PASS;
}

/*
 * The fast path: the usual packet of an established connection, start to
 * end in one straight run of code (on this data path the cost of a packet
 * follows the code it runs through more than the data it touches).
 * Ethernet without a tag, IPv4 without options or fragments or IPv6
 * without extension headers, UDP of the length IP says, no Ethernet
 * padding, a QUIC short header (or a long header of a version other than
 * 0) whose CID routes (plaintext, or a keyed config's CID found in the
 * decoded-CID cache, which long headers read but never fill) through the
 * first bucket of each table to an IPv4 host. Anything else, and every
 * doubt, returns -1 before the packet is changed and the general path
 * decides. Both give the same answer: test_xdp_fuzz checks this program
 * against the trace copy, which never takes the fast path.
 */
#define QLB_FAST_MIN (14 + 20 + 8 + 1 + 24) /* through three CID words */

static __always_inline int qlb_fast(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct udphdr *udp = (void *)(ip + 1);
	__u8 *q = (void *)(udp + 1);
	__u32 zero = 0, slot, key, tot, ulen, clen, host, hash, over, vidx;
	__u32 dlen, svc, bkt, hb;
	__u8 *d;
	__u32 daddr[4] __attribute__((aligned(8))), da;
	struct qlb_verdict v = {.reason = QLB_R_ROUTED_CID};
	struct qlb_lb_settings *s;
	struct qlb_lb_ctrl *ctrl;
	struct qlb_lb_vip_ent *e;
	struct qlb_lb_vip_cfg *cfg;
	struct qlb_cidw c;
	const __u64 *cm;
	__u64 bytes = end - data;
	__u8 c0, tos, ipproto, hfam, hstate, hencap, fam;

	if ((void *)(q + 1 + 24) > end)
		return -1;
	if (*(__be16 *)(data + offsetof(struct ethhdr, h_proto)) ==
	    bpf_htons(ETH_P_IPV6)) {
		/* IPv6 without extension headers, as qlb_parse_ipv6() */
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		udp = (void *)(ip6 + 1);
		q = (void *)(udp + 1);
		if ((void *)(q + 1 + 24) > end)
			return -1;
		tot = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		ulen = bpf_ntohs(udp->len);
		if ((ip6->version ^ 6) | (ip6->nexthdr ^ IPPROTO_UDP) |
		    ((sizeof(struct ethhdr) + tot) ^ bytes) |
		    (ulen ^ (tot - sizeof(*ip6))))
			return -1;
		fam = 6;
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	} else {
		tot = bpf_ntohs(ip->tot_len);
		ulen = bpf_ntohs(udp->len);
		/* equalities folded into one test (BPF has no
		 * set-on-condition: every || would be a branch) */
		if ((*(__be16 *)(data + offsetof(struct ethhdr, h_proto)) ^
		     bpf_htons(ETH_P_IP)) |
		    (*(__u8 *)ip ^ 0x45) | (ip->protocol ^ IPPROTO_UDP) |
		    (ip->frag_off & bpf_htons(0x3fff)) |
		    ((sizeof(struct ethhdr) + tot) ^ bytes) |
		    (ulen ^ (tot - sizeof(*ip))))
			return -1;
		fam = 4;
		daddr[0] = ip->daddr;
		daddr[1] = daddr[2] = daddr[3] = 0;
		tos = ip->tos;
	}

	ctrl = bpf_map_lookup_elem(&qlb_ctrl, &zero);
	if (!ctrl)
		return -1;
	slot = ctrl->slot & 1;
	s = bpf_map_lookup_elem(&qlb_settings_v2, &slot);
	if (!s)
		return -1;
	/*
	 * Only a VIP in its first bucket, whose index the packet gives: its
	 * entry and its service's config of the CID's codepoint
	 * (qlb_vip_cfgs, written with the VIP table) are loaded side by
	 * side, no key waits for the VIP entry's load. The config is used
	 * once the entry matched: it is the one of the VIP in that bucket.
	 */
	hb = qlb_lb_vip_hash_m(s->vip_mul, fam, daddr, udp->dest) &
	     (QLB_LB_VIP_BUCKETS - 1);
	bkt = slot * QLB_LB_VIP_BUCKETS + hb;
	e = bpf_map_lookup_elem(&qlb_vips_v2, &bkt);

	/* a long header whose DCID is a server's CID (the Handshake, 0-RTT
	 * after a Retry) takes this path too; a client's Initial DCID fails
	 * one of the checks below and the general path sends it to Maglev */
	if (q[0] & 0x80) {
		if ((void *)(q + 6 + 24) > end || !(q[1] | q[2] | q[3] | q[4]))
			return -1;
		dlen = q[5];
		d = q + 6;
	} else {
		dlen = 0;
		d = q + 1;
	}
	c0 = d[0];
	key = (slot * QLB_LB_VIP_CFG_IDS + qlb_cid_config_id(c0)) *
		      QLB_LB_VIP_BUCKETS +
	      hb;
	cfg = bpf_map_lookup_elem(&qlb_vip_cfgs, &key);
	if (!e || !cfg ||
	    !qlb_vip_is(e, (const __u64 *)daddr,
			(__u32)udp->dest | (__u32)fam << 16) ||
	    !cfg->live)
		return -1;
	vidx = e->idx < QLB_LB_MAX_VIPS ? e->idx : QLB_LB_NO_VIP;
	svc = cfg->service & (QLB_LB_MAX_SERVICES - 1);
	clen = cfg->cid_len;
	if (q[0] & 0x80) {
		/* as qlb_quic(): a longer DCID starts with the CID */
		if (dlen < clen || dlen > QLB_CID_MAX_LEN ||
		    7 + dlen > ulen - sizeof(*udp))
			return -1;
	} else {
		if (1 + clen > ulen - sizeof(*udp))
			return -1;
		dlen = clen;
	}
	if ((cfg->flags & QLB_CID_F_ENCODE_LEN) && (c0 & 0x1f) + 1u != dlen)
		return -1;
	cm = (const __u64 *)cfg->cid_mask;
	c.w[0] = *(__u64 *)(d + 0) & cm[0];
	c.w[1] = *(__u64 *)(d + 8) & cm[1];
	c.w[2] = *(__u64 *)(d + 16) & cm[2];
	hash = qlb_lb_cid_hash(c.w);
	if (qlb_likely(!(cfg->flags & QLB_CID_F_KEY))) {
		const __u64 *hm = (const __u64 *)cfg->host_mask;
		struct qlb_lb_sid_ent *se;
		__u64 k[2];

		qlb_plain_sid(&c, k);
		k[0] &= hm[0];
		k[1] &= hm[1];
		se = qlb_sid_find(slot, s, cfg->cfg_key, k, 1);
		if (!se)
			return -1;
		host = se->host;
		hfam = se->h_family;
		hstate = se->h_state;
		hencap = se->h_encap;
		da = se->h_addr4;
	} else {
		struct qlb_lb_cache_ent *ce;
		struct qlb_lb_host *hst;

		if (qlb_cache_off)
			return -1;
		ce = qlb_cache_find(s, &c, QLB_LB_CACHE_SVC(svc), hash, NULL);
		if (!ce)
			return -1;
		host = ce->host;
		if (host == QLB_LB_NO_HOST)
			return -1;
		key = slot * QLB_LB_MAX_MEMBERS +
		      (host & (QLB_LB_MAX_MEMBERS - 1));
		hst = bpf_map_lookup_elem(&qlb_hosts_v2, &key);
		if (!hst)
			return -1;
		hfam = hst->family;
		hstate = hst->state;
		hencap = hst->encap;
		da = *(const __u32 *)hst->addr;
	}
	/* states are 0..2: only down has bit 1 */
	_Static_assert(QLB_LB_HOST_DOWN == 2 && QLB_LB_HOST_DRAINING == 1,
		       "host states");
	if ((hfam ^ 4) | (hstate & QLB_LB_HOST_DOWN) | (s->has_v4 ^ 1))
		return -1;
	if (hencap == QLB_LB_ENCAP_GUE) {
		over = sizeof(struct iphdr) + sizeof(struct udphdr);
		ipproto = IPPROTO_UDP;
	} else {
		over = sizeof(struct iphdr);
		ipproto = fam == 6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
	}
	if (tot + over > s->mtu)
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)over))
		return -1; /* unchanged: the general path counts it */

	v.host = host;
	v.service = svc;
	v.config_id = cfg->id;
	v.sid_len = cfg->sid_len;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	ip = data + sizeof(struct ethhdr);
	if (qlb_unlikely((void *)ip + sizeof(struct iphdr) +
				 sizeof(struct udphdr) >
			 end)) {
		v.reason = QLB_R_ENCAP_FAIL;
		return qlb_finish(QLB_ACT_DROP, vidx, &v, bytes);
	}
	qlb_put_macs(data, s);
	*(__be16 *)(data + offsetof(struct ethhdr, h_proto)) =
		bpf_htons(ETH_P_IP);
	qlb_put_ipv4(ip, tos, tot + over, ipproto, s->src_v4, da);
	if (ipproto == IPPROTO_UDP)
		qlb_put_gue((void *)(ip + 1), hash, s->gue_port,
			    tot + sizeof(*udp));
	return qlb_finish(QLB_ACT_TX, vidx, &v, bytes);
}

/* ---- path MTU (docs/lb.md, "Path MTU") ------------------------------------
 * Rare packets (ICMP, SYNs, too big): these are subprograms, not inlined,
 * so the code every other packet runs through stays as short as before.
 */
#define QLB_TOO_BIG_BURST 16	    /* answers at once, per CPU */
#define QLB_TOO_BIG_NS	  100000ull /* then one per 100 us, per CPU */
#define QLB_TOO_BIG_QUOTE 504	    /* bytes quoted at most (4 | it) */

/* Bytes the encapsulation toward @h adds. */
static __always_inline __u32 qlb_over(const struct qlb_lb_host *h)
{
	return (h->family == 6 ? sizeof(struct ipv6hdr)
			       : sizeof(struct iphdr)) +
	       (h->encap == QLB_LB_ENCAP_GUE ? sizeof(struct udphdr) : 0);
}

/*
 * qlb_icmp_flow() - an ICMP "fragmentation needed" (IPv4) or ICMPv6
 * "packet too big" at @ic, sent to a VIP about a packet from that VIP
 * (a host's direct reply), becomes in @p the flow that packet belongs to
 * as the LB node sees it: client to VIP:port. The message itself is then
 * sent to that flow's host, encapsulated like the flow's data, so the
 * host's stack learns the path MTU toward the client.
 * Return: 0, or -1 when it is no such message (it passes).
 */
static __noinline int qlb_icmp_flow(void *end, __u8 *ic, struct qlb_pkt *p,
				    int proto)
{
	__u16 *pp;
	__u32 w;

	if ((void *)(ic + 8) > end)
		return -1;
	if (p->family == 4) {
		struct iphdr *in = (void *)(ic + 8);
		__u32 hl;

		if (proto != IPPROTO_ICMP || ic[0] != 3 || ic[1] != 4)
			return -1;
		if ((void *)(in + 1) > end)
			return -1;
		hl = in->ihl * 4;
		if (in->version != 4 || hl < sizeof(*in) ||
		    (in->protocol != IPPROTO_UDP &&
		     in->protocol != IPPROTO_TCP) ||
		    in->saddr != p->daddr[0])
			return -1;
		pp = (void *)in + hl;
		if ((void *)(pp + 2) > end)
			return -1;
		p->saddr[0] = in->daddr;
	} else {
		struct ipv6hdr *in6 = (void *)(ic + 8);
		const __u32 *a;

		if (proto != IPPROTO_ICMPV6 || ic[0] != 2 || ic[1] != 0)
			return -1;
		if ((void *)(in6 + 1) > end)
			return -1;
		a = (const __u32 *)&in6->saddr;
		if (in6->version != 6 ||
		    (in6->nexthdr != IPPROTO_UDP &&
		     in6->nexthdr != IPPROTO_TCP) ||
		    ((a[0] ^ p->daddr[0]) | (a[1] ^ p->daddr[1]) |
		     (a[2] ^ p->daddr[2]) | (a[3] ^ p->daddr[3])))
			return -1;
		pp = (void *)(in6 + 1);
		if ((void *)(pp + 2) > end)
			return -1;
		__builtin_memcpy(p->saddr, &in6->daddr, 16);
	}
	/* the quoted ports are VIP's, client's: the flow's are swapped */
	w = *(__u32 *)pp;
	p->ports = (w >> 16) | (w << 16);
	p->dport = pp[0];
	return 0;
}

/*
 * qlb_clamp_mss() - lower the MSS option of the TCP SYN at @th to @mss:
 * the client's segments reach the host through this node, wrapped, and
 * its SYN is where it learns how large they may be. The checksum is
 * updated incrementally (RFC 1624).
 */
static __noinline void qlb_clamp_mss(void *end, __u8 *th, __u32 mss)
{
	__u32 optend, off = sizeof(struct tcphdr), i, sum;
	__u16 old, new = bpf_htons(mss);
	__u8 *o;

	if ((void *)(th + sizeof(struct tcphdr)) > end)
		return;
	optend = (th[12] >> 4) * 4;
	for (i = 0; i < 10; i++) {
		if (off + 4 > optend || off > 56)
			return;
		o = th + off;
		if ((void *)(o + 4) > end || o[0] == 0) /* end of options */
			return;
		if (o[0] == 1) { /* no-op */
			off++;
			continue;
		}
		if (o[0] == 2) {
			old = *(__u16 *)(o + 2);
			if (o[1] != 4 || bpf_ntohs(old) <= mss)
				return;
			*(__u16 *)(o + 2) = new;
			if (off & 1) {
				/* at an odd offset its bytes sit in two
				 * 16-bit words of the sum: swapped */
				old = __builtin_bswap16(old);
				new = __builtin_bswap16(new);
			}
			sum = (__u16) ~*(__u16 *)(th + 16);
			sum += (__u16)~old;
			sum += new;
			sum = (sum & 0xffff) + (sum >> 16);
			sum = (sum & 0xffff) + (sum >> 16);
			*(__u16 *)(th + 16) = (__u16)~sum;
			return;
		}
		if (o[1] < 2)
			return;
		off += o[1];
	}
}

static __always_inline __u16 qlb_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * qlb_too_big() - answer a packet that does not fit once wrapped (@mtu:
 * the largest that does) and may not be fragmented (IPv6, IPv4 with DF)
 * with ICMP "fragmentation needed" / ICMPv6 "packet too big" to its
 * sender, from the address it was sent to, quoting its first bytes (what
 * it had, at most QLB_TOO_BIG_QUOTE): the client lowers its path MTU
 * instead of losing every full-size packet. Never larger than the packet;
 * QLB_TOO_BIG_BURST at once per CPU, then one per QLB_TOO_BIG_NS.
 * Return: 0, the frame ready for XDP_TX; -1, drop it (changed or not).
 */
static __noinline int qlb_too_big(struct xdp_md *ctx, const struct qlb_pkt *p,
				  __u32 mtu)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0, quote, hl, frame;
	struct qlb_scratch *sc;
	struct ethhdr *eth;
	__u8 mac[12];
	__u64 now, sum;
	__u8 *ic;

	if (p->l3_off != sizeof(struct ethhdr) || data + 14 + 20 > end)
		return -1; /* a tagged frame is not answered */
	__builtin_memcpy(mac, data, 12);
	if (p->family == 4) {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		if (!(ip->frag_off & bpf_htons(0x4000)))
			return -1;
		hl = sizeof(struct iphdr) + 8;
	} else {
		hl = sizeof(struct ipv6hdr) + 8;
	}
	sc = bpf_map_lookup_elem(&qlb_scratch, &zero);
	if (!sc)
		return -1;
	now = bpf_ktime_get_ns();
	if (now - sc->tb_ns >= QLB_TOO_BIG_NS) {
		__u64 add = (now - sc->tb_ns) / QLB_TOO_BIG_NS;

		sc->tb_tokens = add + sc->tb_tokens >= QLB_TOO_BIG_BURST
					? QLB_TOO_BIG_BURST
					: sc->tb_tokens + (__u32)add;
		sc->tb_ns = now;
	}
	if (!sc->tb_tokens)
		return -1;
	sc->tb_tokens--;

	quote = p->ip_len < QLB_TOO_BIG_QUOTE ? p->ip_len & ~3u
					      : QLB_TOO_BIG_QUOTE;
	frame = end - data;
	if (frame < sizeof(struct ethhdr) + quote ||
	    bpf_xdp_adjust_tail(ctx, (int)(sizeof(struct ethhdr) + quote) -
					     (int)frame))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)hl))
		return -1;
	/* [hl new bytes][old Ethernet][quote]: the quote stays in place */
	quote &= 0x1fc;
	if (quote < 4 || quote > QLB_TOO_BIG_QUOTE ||
	    bpf_xdp_load_bytes(ctx, sizeof(struct ethhdr) + hl, sc->quote,
			       quote))
		return -1;
	sum = (__u32)bpf_csum_diff(NULL, 0, (__be32 *)sc->quote, quote, 0);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) + sizeof(struct ipv6hdr) + 8 > end)
		return -1;
	__builtin_memcpy(eth->h_dest, mac + 6, 6);
	__builtin_memcpy(eth->h_source, mac, 6);
	if (p->family == 4) {
		struct iphdr *ip = (void *)(eth + 1);

		eth->h_proto = bpf_htons(ETH_P_IP);
		ic = (void *)(ip + 1);
		((__u32 *)ic)[0] = bpf_htonl(3u << 24 | 4u << 16);
		((__u32 *)ic)[1] = bpf_htonl(mtu & 0xffff);
		sum += ((__u32 *)ic)[0] + ((__u32 *)ic)[1];
		*(__u16 *)(ic + 2) = qlb_fold(sum);
		qlb_put_ipv4(ip, 0, sizeof(*ip) + 8 + quote, IPPROTO_ICMP,
			     p->daddr[0], p->saddr[0]);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u32 i;

		eth->h_proto = bpf_htons(ETH_P_IPV6);
		*(__be32 *)ip6 = bpf_htonl(6u << 28);
		ip6->payload_len = bpf_htons(8 + quote);
		ip6->nexthdr = IPPROTO_ICMPV6;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, p->daddr, 16);
		__builtin_memcpy(&ip6->daddr, p->saddr, 16);
		ic = (void *)(ip6 + 1);
		((__u32 *)ic)[0] = bpf_htonl(2u << 24);
		((__u32 *)ic)[1] = bpf_htonl(mtu);
		/* the pseudo-header: addresses, length, next header */
		for (i = 0; i < 4; i++)
			sum += (__u64)p->saddr[i] + p->daddr[i];
		sum += bpf_htonl(8 + quote) + bpf_htonl(IPPROTO_ICMPV6);
		sum += ((__u32 *)ic)[0] + ((__u32 *)ic)[1];
		*(__u16 *)(ic + 2) = qlb_fold(sum);
	}
	return 0;
}

SEC("xdp")
int qlb_xdp_ingress(struct xdp_md *ctx)
{
	void *data, *end;
	struct qlb_verdict v = {.reason = QLB_R_PASSED,
				.host = QLB_LB_NO_HOST,
				.service = QLB_LB_NO_SERVICE,
				.config_id = 0xff};
	struct qlb_lb_settings *s;
	struct qlb_lb_ctrl *ctrl;
	struct qlb_lb_host *h;
	struct qlb_lb_vip_ent *vip;
	struct qlb_pkt p;
	__u32 zero = 0, slot, vidx = QLB_LB_NO_VIP, entropy, hkey, l4len;
	/* of the VIP's service: live_cfgs, qlb_cfg_base(), maglev_off */
	__u32 live, base, moff;
	__u32 est; /* a flow already established: see qlb_maglev_est */
	__u64 bytes;
	__u16 *ports;
	__be16 eproto;
	int proto, r;

	if (!qlb_trace_on) {
		r = qlb_fast(ctx);
		if (qlb_likely(r >= 0))
			return r;
	}
	/* read after the fast path: a helper call there ends what the
	 * verifier knows of packet pointers taken before it */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	bytes = end - data;
	/* p lives on the stack, not in registers: as SSA values its words
	 * merge at every early exit and clang spills each of them there */
	asm volatile("" : : "r"(&p) : "memory");
	eproto = qlb_parse_eth(data, end, &p);
	if (qlb_likely(eproto == bpf_htons(ETH_P_IP)))
		proto = qlb_parse_ipv4(data, end, &p);
	else if (eproto == bpf_htons(ETH_P_IPV6))
		proto = qlb_parse_ipv6(data, end, &p);
	else
		goto pass;
	if (qlb_unlikely(proto != IPPROTO_UDP && proto != IPPROTO_TCP &&
			 proto != IPPROTO_ICMP && proto != IPPROTO_ICMPV6))
		goto pass;
	if (qlb_unlikely(p.frag == 2)) /* no ports: not ours to judge */
		goto pass;
	if (qlb_unlikely(p.l4_off > 0x1ff)) /* at most 18 + 60 */
		goto pass;
	ports = data + p.l4_off;
	if (qlb_unlikely((void *)(ports + 2) > end))
		goto pass;
	p.proto = proto;
	p.ports = *(__u32 *)ports;
	p.dport = ports[1];
	/* an ICMP too-big about a VIP flow is judged as that flow */
	if (qlb_unlikely(proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) &&
	    qlb_icmp_flow(end, (__u8 *)ports, &p, proto))
		goto pass;

	ctrl = bpf_map_lookup_elem(&qlb_ctrl, &zero);
	if (qlb_unlikely(!ctrl))
		goto pass;
	slot = ctrl->slot & 1;
	s = bpf_map_lookup_elem(&qlb_settings_v2, &slot);
	if (qlb_unlikely(!s))
		goto pass;

	vip = qlb_vip_find(slot, s, p.family, p.daddr, p.dport, QLB_LB_PROBES);
	if (!vip)
		goto pass;
	vidx = vip->idx < QLB_LB_MAX_VIPS ? vip->idx : QLB_LB_NO_VIP;
	/* the VIP selects the service: its configs, members, Maglev table */
	v.service = qlb_vip_svc(vip);
	live = vip->live_cfgs;
	base = qlb_cfg_base(v.service);
	moff = qlb_svc_opaque(vip->maglev_off);

	/* from here on the packet is ours: judge it */
	if (qlb_unlikely(p.frag || p.l3_off + p.ip_len > bytes ||
			 p.l4_off > p.l3_off + p.ip_len))
		goto malformed;
	l4len = p.l3_off + p.ip_len - p.l4_off;
	entropy = 0;
	est = 0;
	if (qlb_likely(proto == IPPROTO_UDP)) {
		struct udphdr *udp = (void *)ports;
		__u32 ulen;

		if (qlb_unlikely((void *)(udp + 1) > end))
			goto malformed;
		ulen = bpf_ntohs(udp->len);
		if (qlb_unlikely(ulen < sizeof(*udp) || ulen > l4len))
			goto malformed;
		r = qlb_quic(ctx, slot, s, live, base, p.l4_off + sizeof(*udp),
			     ulen - sizeof(*udp), &v, &entropy, &h);
		if (qlb_unlikely(r < 0))
			return qlb_finish(QLB_ACT_DROP, vidx, &v, bytes);
	} else if (proto == IPPROTO_TCP) {
		if (l4len < sizeof(struct tcphdr) ||
		    (void *)ports + sizeof(struct tcphdr) > end)
			goto malformed;
		v.reason = QLB_R_FB_TCP;
		/* byte 13: the flags; a SYN without ACK opens a connection */
		est = (((__u8 *)ports)[13] & 0x12) != 0x02;
		r = 0;
	} else {
		v.reason = QLB_R_ICMP_FWD;
		est = 1;
		r = 0;
	}

	if (qlb_unlikely(!r)) {
		__u32 fh = qlb_lb_flow_hash_s(s->flow_seed, p.family, p.saddr,
					      p.daddr, p.ports);
		__u32 *m, mkey;

		entropy = fh;
		/* the service's table lies within the slot's part of the
		 * pool (a bound the verifier sees, and one no entry may
		 * cross into the other slot's part) */
		if (!s->maglev_size || s->maglev_size > QLB_LB_MAGLEV_MAX ||
		    moff > QLB_LB_MAGLEV_POOL - s->maglev_size)
			goto no_host;
		mkey = slot * QLB_LB_MAGLEV_POOL + moff +
		       qlb_lb_maglev_index(fh, s->maglev_size);
		/* a short header's fallback is an established flow's (long
		 * headers all take FB_INITIAL) */
		if (proto == IPPROTO_UDP)
			est = v.reason != QLB_R_FB_INITIAL;
		/* two calls one after the other, never one call on either
		 * map: the verifier inlines a lookup only where the map is
		 * known, and a merged call would cost every fallback a
		 * helper call */
		m = bpf_map_lookup_elem(&qlb_maglev_v2, &mkey);
		if (qlb_unlikely(est && s->est_table))
			m = bpf_map_lookup_elem(&qlb_mglv_est_v2, &mkey);
		if (!m || *m == QLB_LB_NO_HOST)
			goto no_host;
		v.host = *m;
		hkey = slot * QLB_LB_MAX_MEMBERS +
		       (v.host & (QLB_LB_MAX_MEMBERS - 1));
		h = bpf_map_lookup_elem(&qlb_hosts_v2, &hkey);
		if (!h || !h->family)
			goto no_host;
	}
	/* routed by CID: qlb_cid_host() looked the host up already */
	if (qlb_unlikely(proto == IPPROTO_TCP && !est &&
			 s->mtu > qlb_over(h) + 40 + 536))
		qlb_clamp_mss(end, (__u8 *)ports,
			      s->mtu - qlb_over(h) - (p.l4_off - p.l3_off) -
				      sizeof(struct tcphdr));
	r = qlb_encap(ctx, &p, s, h, entropy);
	if (qlb_unlikely(r)) {
		if (r == QLB_R_OVERSIZE && proto != IPPROTO_ICMP &&
		    proto != IPPROTO_ICMPV6 &&
		    !qlb_too_big(ctx, &p, s->mtu - qlb_over(h))) {
			v.reason = QLB_R_TOO_BIG;
			v.host = QLB_LB_NO_HOST;
			return qlb_finish(QLB_ACT_TX, vidx, &v, bytes);
		}
		v.reason = r;
		return qlb_finish(QLB_ACT_DROP, vidx, &v, bytes);
	}
	return qlb_finish(QLB_ACT_TX, vidx, &v, bytes);

no_host:
	v.reason = QLB_R_NO_HOST;
	v.host = QLB_LB_NO_HOST;
	return qlb_finish(QLB_ACT_DROP, vidx, &v, bytes);
malformed:
	v.reason = QLB_R_MALFORMED;
	return qlb_finish(QLB_ACT_DROP, vidx, &v, bytes);
pass:
	v.reason = QLB_R_PASSED;
	return qlb_finish(QLB_ACT_PASS, vidx, &v, bytes);
}
