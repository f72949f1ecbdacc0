// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_xdp_ingress: the LB node's data plane. Every QUIC packet to a VIP is
 * sent, encapsulated, to the backend host that owns its connection: by the
 * server ID in its destination CID when that CID is routable, else by a
 * Maglev hash of the 4-tuple over the active hosts. No per-connection state;
 * every LB node with the same maps makes the same choice.
 * Maps and rules: include/qlb/lb_abi.h. Design: docs/lb.md.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "qlb/cid.h"
#include "qlb/lb_abi.h"
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
	__u32 cid[6]; /* the CID, zero past its length (8-aligned) */
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
	__u32 host;
	__u8 config_id;
	__u8 sid_len; /* sid in qlb_scratch.nv.sid when not 0 */
};

/* Per-CPU scratch: keeps the ingress frame plus the codec's frame within
 * the 512-byte stack. Every field is written before it is read. */
struct qlb_scratch {
	struct qlb_dec_io io;
	struct qlb_lb_cache_val nv; /* nv.sid 8-byte aligned */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qlb_scratch);
} qlb_scratch SEC(".maps");

/*
 * Copy the CID at packet offset @off into a 20-byte buffer and keep only
 * its bytes (@mask: the config's cid_mask): one bounds check and word loads
 * when the packet holds 20 bytes there, the load helper otherwise. Return: 0 or
 * -1.
 */
static __always_inline int qlb_copy_cid(struct xdp_md *ctx, __u32 off,
					const __u32 *mask, __u32 *cid)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 *p;

	if (off > 0x1ff) /* headers end before 18 + 60 + 8 + 6 */
		return -1;
	p = data + off;
	if ((void *)p + 20 <= end) {
		cid[0] = p[0];
		cid[1] = p[1];
		cid[2] = p[2];
		cid[3] = p[3];
		cid[4] = p[4];
	} else {
		long avail = end - (void *)p;

		if (avail <= 0 ||
		    avail > 20) /* signed bounds for the verifier */
			return -1;
		cid[0] = cid[1] = cid[2] = cid[3] = cid[4] = 0;
		if (bpf_xdp_load_bytes(ctx, off, cid, avail))
			return -1;
	}
	/* bytes past the CID are payload, not identity */
	cid[0] &= mask[0];
	cid[1] &= mask[1];
	cid[2] &= mask[2];
	cid[3] &= mask[3];
	cid[4] &= mask[4];
	return 0;
}

/* Host index of a server ID's host part @k under config @id, or NO_HOST. */
static __always_inline __u32 qlb_sid_lookup(__u32 slot,
					    const struct qlb_lb_settings *s,
					    __u32 id, const __u64 *k)
{
	__u32 h = qlb_lb_sid_hash(s->sid_seed, id, (const __u32 *)k), i;

#pragma unroll
	for (i = 0; i < QLB_LB_PROBES; i++) {
		__u32 key = slot * QLB_LB_SID_BUCKETS +
			    ((h + i) & (QLB_LB_SID_BUCKETS - 1));
		struct qlb_lb_sid_ent *e = bpf_map_lookup_elem(&qlb_sids, &key);

		if (!e || !e->used)
			break;
		if (e->config_id == id && ((__u64 *)e->sid)[0] == k[0] &&
		    ((__u64 *)e->sid)[1] == k[1])
			return e->host;
	}
	return QLB_LB_NO_HOST;
}

/* The VIP entry of (daddr, dport), or NULL. */
static __always_inline struct qlb_lb_vip_ent *
qlb_vip_lookup(__u32 slot, const struct qlb_lb_settings *s,
	       const struct qlb_pkt *p)
{
	__u32 h = qlb_lb_vip_hash(s->vip_seed, p->family, p->daddr, p->dport),
	      i;

#pragma unroll
	for (i = 0; i < QLB_LB_PROBES; i++) {
		__u32 key = slot * QLB_LB_VIP_BUCKETS +
			    ((h + i) & (QLB_LB_VIP_BUCKETS - 1));
		struct qlb_lb_vip_ent *e = bpf_map_lookup_elem(&qlb_vips, &key);
		const __u32 *a;

		if (!e || !e->family)
			break;
		a = (const __u32 *)e->addr;
		if (e->port == p->dport && e->family == p->family &&
		    a[0] == p->daddr[0] && a[1] == p->daddr[1] &&
		    a[2] == p->daddr[2] && a[3] == p->daddr[3])
			return e;
	}
	return NULL;
}

/**
 * qlb_route_cid() - decide a CID of config @cfg: fills @v (host index and
 * reason) when routable or owned by a known host.
 * @cache: use the decoded-CID cache (short headers only: the few long
 * headers of a handshake gain nothing from it, and a flood of Initials
 * must cost the LB node no state).
 * Return: 1 routed (v->host valid), 0 take the fallback (v->reason set).
 */
static __always_inline int
qlb_route_cid(__u32 slot, const struct qlb_lb_settings *s,
	      const struct qlb_lb_cid *cfg, struct qlb_scratch *sc,
	      struct qlb_verdict *v, int cache, struct qlb_lb_host **hp)
{
	struct qlb_lb_cache_val *cv = NULL, *nv = &sc->nv;
	struct qlb_lb_host *h;
	__u32 hkey;
	int cached = 0;

	cache = cache && (cfg->c.flags & QLB_CID_F_KEY) && !qlb_cache_off;
	if (cache) {
		cv = bpf_map_lookup_elem(&qlb_cid_cache, sc->io.cid);
		if (cv && cv->gen == s->gen) {
			__builtin_memcpy(nv->sid, cv->sid, 16);
			nv->host = cv->host;
			cached = 1;
		}
	}
	if (!cached) {
		__u64 *sid = (__u64 *)nv->sid, k[2];
		const __u64 *sm = (const __u64 *)cfg->sid_mask;
		const __u64 *hm = (const __u64 *)cfg->host_mask;

		if (cfg->c.flags & QLB_CID_F_KEY) {
			qlb_decode_sid(cfg, &sc->io);
			__builtin_memcpy(nv->sid, sc->io.sid, 16);
		} else {
			/* plaintext: the server ID is the CID's bytes 1.. */
			__u64 w0 = ((__u64 *)sc->io.cid)[0];
			__u64 w1 = ((__u64 *)sc->io.cid)[1];
			__u64 w2 = ((__u64 *)sc->io.cid)[2];
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			sid[0] = ((w0 >> 8) | (w1 << 56)) & sm[0];
			sid[1] = ((w1 >> 8) | (w2 << 56)) & sm[1];
#else
			sid[0] = ((w0 << 8) | (w1 >> 56)) & sm[0];
			sid[1] = ((w1 << 8) | (w2 >> 56)) & sm[1];
#endif
		}
		k[0] = sid[0] & hm[0];
		k[1] = sid[1] & hm[1];
		nv->host = qlb_sid_lookup(slot, s, cfg->c.id, k);
		if (cache && nv->host != QLB_LB_NO_HOST) {
			/* only CIDs of a host enter: most random ones do not */
			nv->gen = s->gen;
			bpf_map_update_elem(&qlb_cid_cache, sc->io.cid, nv,
					    BPF_ANY);
		}
	}
	v->config_id = cfg->c.id;
	v->sid_len = cfg->c.sid_len;
	if (nv->host == QLB_LB_NO_HOST) {
		v->reason = QLB_R_FB_UNKNOWN_SID;
		return 0;
	}
	hkey = slot * QLB_LB_MAX_HOSTS + (nv->host & (QLB_LB_MAX_HOSTS - 1));
	h = bpf_map_lookup_elem(&qlb_hosts, &hkey);
	if (!h || !h->family) {
		v->reason = QLB_R_FB_UNKNOWN_SID;
		return 0;
	}
	if (h->state == QLB_LB_HOST_DOWN) {
		v->reason = QLB_R_FB_HOST_DOWN;
		return 0;
	}
	v->host = nv->host;
	v->reason = QLB_R_ROUTED_CID;
	*hp = h;
	return 1;
}

/**
 * qlb_quic() - classify a QUIC datagram whose payload starts at @q_off.
 * Return: 1 routed by CID (v->host set), 0 fallback (v->reason set), -1
 * drop (v->reason set). @entropy gets the CID hash and @hp the host's
 * entry when routed.
 */
static __always_inline int qlb_quic(struct xdp_md *ctx, __u32 slot,
				    const struct qlb_lb_settings *s,
				    __u32 q_off, __u32 qlen,
				    struct qlb_verdict *v, __u32 *entropy,
				    struct qlb_lb_host **hp)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 cid_off, clen, key, dlen, zero = 0;
	struct qlb_scratch *sc;
	struct qlb_lb_cid *cfg;
	__u8 *q, c0, cr;

	if (q_off > 0x1ff) /* headers end before 18 + 60 + 8 */
		return -1;
	q = data + q_off;
	v->reason = QLB_R_MALFORMED;
	if ((void *)(q + 2) > end || qlen < 2)
		return -1;
	if (q[0] & 0x80) {
		/* long header: flags, version, DCID length, DCID, SCID length
		 */
		if ((void *)(q + 7) > end || qlen < 7)
			return -1;
		if (!q[1] && !q[2] && !q[3] && !q[4]) {
			v->reason = QLB_R_VERSION0;
			return -1;
		}
		dlen = q[5];
		if (dlen > QLB_CID_MAX_LEN || 7 + dlen > qlen)
			return -1;
		v->reason = QLB_R_FB_INITIAL;
		if (!dlen)
			return 0;
		cid_off = 6;
		c0 = q[6];
	} else {
		dlen = 0; /* implied by the config */
		cid_off = 1;
		c0 = q[1];
		v->reason = QLB_R_FB_UNKNOWN_CONFIG;
	}
	cr = qlb_cid_config_id(c0);
	if (cr == QLB_CR_UNROUTABLE) {
		if (!dlen)
			v->reason = QLB_R_FB_UNROUTABLE;
		return 0;
	}
	if (!(s->live_cfgs & (1u << cr)))
		return 0;
	key = slot * QLB_CONFIG_MAX + cr;
	cfg = bpf_map_lookup_elem(&qlb_cid_cfgs, &key);
	if (!cfg || !cfg->live)
		return 0;
	clen = qlb_cid_len(&cfg->c);
	if (dlen) {
		/* a long header DCID too short for the config is a client's */
		if (dlen < clen)
			return 0;
	} else {
		if (1 + clen > qlen) {
			v->reason = QLB_R_MALFORMED;
			return -1;
		}
		dlen = clen;
		v->reason = QLB_R_FB_UNROUTABLE;
	}
	if ((cfg->c.flags & QLB_CID_F_ENCODE_LEN) && (c0 & 0x1f) + 1u != dlen)
		return 0;
	sc = bpf_map_lookup_elem(&qlb_scratch, &zero);
	if (!sc)
		return 0;
	sc->io.cid[5] = 0; /* qlb_copy_cid() writes the first five */
	if (qlb_copy_cid(ctx, q_off + cid_off, cfg->cid_mask, sc->io.cid)) {
		v->reason = QLB_R_MALFORMED;
		return -1;
	}
	if (!qlb_route_cid(slot, s, cfg, sc, v, cid_off == 1, hp)) {
		/* a long header that is not ours starts a new connection */
		if (cid_off == 6)
			v->reason = QLB_R_FB_INITIAL;
		return 0;
	}
	*entropy = qlb_lb_cid_hash(sc->io.cid);
	return 1;
}

static __always_inline void qlb_count(__u32 row, __u32 host, __u64 bytes)
{
	struct qlb_lb_counter *c;

	c = bpf_map_lookup_elem(&qlb_stats, &row);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	if (host != QLB_LB_NO_HOST) {
		c = bpf_map_lookup_elem(&qlb_host_stats, &host);
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
		__u32 id = v->config_id;
		struct qlb_lb_counter *c =
			bpf_map_lookup_elem(&qlb_cfg_stats, &id);

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
			t->config_id = v->config_id;
			t->sid_len = v->sid_len;
			__builtin_memcpy(t->sid, sc->nv.sid, 16);
		}
	}
	if (action == QLB_ACT_TX)
		return XDP_TX;
	return action == QLB_ACT_DROP ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int qlb_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct qlb_verdict v = {.reason = QLB_R_PASSED,
				.host = QLB_LB_NO_HOST,
				.config_id = 0xff};
	struct qlb_lb_settings *s;
	struct qlb_lb_ctrl *ctrl;
	struct qlb_lb_host *h;
	struct qlb_lb_vip_ent *vip;
	struct qlb_pkt p;
	__u32 zero = 0, slot, vidx = QLB_LB_NO_VIP, entropy, hkey, l4len;
	__u64 bytes = end - data;
	__u16 *ports;
	__be16 eproto;
	int proto, r;

	/* p lives on the stack, not in registers: as SSA values its words
	 * merge at every early exit and clang spills each of them there */
	asm volatile("" : : "r"(&p) : "memory");
	eproto = qlb_parse_eth(data, end, &p);
	if (eproto == bpf_htons(ETH_P_IP))
		proto = qlb_parse_ipv4(data, end, &p);
	else if (eproto == bpf_htons(ETH_P_IPV6))
		proto = qlb_parse_ipv6(data, end, &p);
	else
		goto pass;
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		goto pass;
	if (p.frag == 2) /* no ports: not ours to judge */
		goto pass;
	if (p.l4_off > 0x1ff) /* at most 18 + 60; bounds the verifier */
		goto pass;
	ports = data + p.l4_off;
	if ((void *)(ports + 2) > end)
		goto pass;
	p.proto = proto;
	p.ports = *(__u32 *)ports;
	p.dport = ports[1];

	ctrl = bpf_map_lookup_elem(&qlb_ctrl, &zero);
	if (!ctrl)
		goto pass;
	slot = ctrl->slot & 1;
	s = bpf_map_lookup_elem(&qlb_settings, &slot);
	if (!s)
		goto pass;

	vip = qlb_vip_lookup(slot, s, &p);
	if (!vip)
		goto pass;
	vidx = vip->idx < QLB_LB_MAX_VIPS ? vip->idx : QLB_LB_NO_VIP;

	/* from here on the packet is ours: judge it */
	if (p.frag || p.l3_off + p.ip_len > bytes ||
	    p.l4_off > p.l3_off + p.ip_len)
		goto malformed;
	l4len = p.l3_off + p.ip_len - p.l4_off;
	entropy = 0;
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = (void *)ports;
		__u32 ulen;

		if ((void *)(udp + 1) > end)
			goto malformed;
		ulen = bpf_ntohs(udp->len);
		if (ulen < sizeof(*udp) || ulen > l4len)
			goto malformed;
		r = qlb_quic(ctx, slot, s, p.l4_off + sizeof(*udp),
			     ulen - sizeof(*udp), &v, &entropy, &h);
		if (r < 0)
			return qlb_finish(QLB_ACT_DROP, vidx, &v, bytes);
	} else {
		if (l4len < sizeof(struct tcphdr) ||
		    data + p.l4_off + sizeof(struct tcphdr) > end)
			goto malformed;
		v.reason = QLB_R_FB_TCP;
		r = 0;
	}

	if (!r) {
		__u32 fh =
			qlb_lb_flow_hash(p.family, p.saddr, p.daddr, p.ports);
		__u32 *m, mkey;

		entropy = fh;
		if (!s->maglev_size || s->maglev_size > QLB_LB_MAGLEV_MAX)
			goto no_host;
		mkey = slot * QLB_LB_MAGLEV_MAX +
		       qlb_lb_maglev_index(fh, s->maglev_size);
		m = bpf_map_lookup_elem(&qlb_maglev, &mkey);
		if (!m || *m == QLB_LB_NO_HOST)
			goto no_host;
		v.host = *m;
		hkey = slot * QLB_LB_MAX_HOSTS +
		       (v.host & (QLB_LB_MAX_HOSTS - 1));
		h = bpf_map_lookup_elem(&qlb_hosts, &hkey);
		if (!h || !h->family)
			goto no_host;
	}
	/* routed by CID: qlb_route_cid() looked the host up already */
	r = qlb_encap(ctx, &p, s, h, entropy);
	if (r) {
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
