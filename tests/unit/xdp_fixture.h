/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Fixtures for the LB node's XDP program: a private copy of the program
 * filled through qlb_lb_fill() from a config built as C structs, frame
 * builders, and the expected encapsulation written out independently of
 * xdp/ (only the flow hash, a contract in lb_abi.h, is shared).
 */
#ifndef QLB_TESTS_XDP_FIXTURE_H
#define QLB_TESTS_XDP_FIXTURE_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb.h"
#include "maglev.h"
#include "qlb/libqlb.h"
#include "qlb_xdp.skel.h"
#include "cid_cache.h"

static const uint8_t fx_gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t fx_if_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
static const uint8_t fx_cl_mac[6] = {0x02, 0, 0, 0, 0, 0x99};

struct fx {
	struct qlb_xdp *skel;
	struct qlb_lb_maps m;
	struct qlb_config cfg;
	struct qlb_conf_host hosts[8];
	int prog_fd;
};

static inline void fx_addr(struct qlb_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a->v6) == 1)
		a->family = AF_INET6;
}

static inline size_t fx_unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	for (; h[0] && h[1]; h += 2) {
		unsigned int b;

		sscanf(h, "%2x", &b);
		out[n++] = (uint8_t)b;
	}
	return n;
}

static inline void fx_cid_conf(struct qlb_config *c, unsigned int id,
			       unsigned int sl, unsigned int nl,
			       const char *key, unsigned int wb)
{
	struct qlb_conf_cid *q = &c->configs[id];

	memset(q, 0, sizeof(*q));
	q->present = true;
	q->id = id;
	q->sid_len = sl;
	q->nonce_len = nl;
	q->worker_bits = wb;
	q->encode_length = true;
	if (key) {
		q->has_key = true;
		fx_unhex(key, q->key);
	}
}

/* The key and the three configs of the draft's test vectors (rows of the
 * CID contract's examples): 0 plaintext (server ID 3 bytes, nonce 4),
 * 1 four-pass (10, 5), 2 single-pass (8, 8); 4 worker bits each. */
#define FX_VECTOR_KEY "8f95f09245765f80256934e50c66207f"

static inline void fx_vector_configs(struct qlb_config *c)
{
	fx_cid_conf(c, 0, 3, 4, NULL, 4);
	fx_cid_conf(c, 1, 10, 5, FX_VECTOR_KEY, 4);
	fx_cid_conf(c, 2, 8, 8, FX_VECTOR_KEY, 4);
}

static inline struct qlb_conf_host *fx_host(struct fx *f, const char *name,
					    const char *addr, int encap,
					    int state, unsigned int weight)
{
	struct qlb_conf_host *h = &f->hosts[f->cfg.nhosts++];

	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	fx_addr(&h->address, addr);
	h->encap = encap;
	h->state = state;
	h->weight = weight;
	return h;
}

static inline void fx_sid(struct qlb_conf_host *h, unsigned int id,
			  const char *hex)
{
	h->has_sid[id] = true;
	fx_unhex(hex, h->sid[id]);
}

/* A config with the lb: section every fixture shares; no hosts yet. */
static inline void fx_base(struct fx *f)
{
	struct qlb_conf_lb *lb = &f->cfg.lb;

	memset(&f->cfg, 0, sizeof(f->cfg));
	snprintf(f->cfg.path, sizeof(f->cfg.path), "fixture.yaml");
	f->cfg.hosts = f->hosts;
	lb->present = true;
	memcpy(lb->gateway_mac, fx_gw_mac, 6);
	fx_addr(&lb->encap_source_v4, "198.18.0.10");
	fx_addr(&lb->encap_source_v6, "2001:db8::10");
	lb->maglev_table_size = 65537;
	lb->mtu = 1500;
	lb->gue_port = 6080;
	lb->nvips = 2;
	fx_addr(&lb->vips[0].addr, "198.18.1.1");
	lb->vips[0].port = 443;
	fx_addr(&lb->vips[1].addr, "2001:db8:1::1");
	lb->vips[1].port = 443;
}

static inline int fx_load(struct fx *f, int trace)
{
	f->skel = qlb_xdp__open();
	if (!f->skel)
		return -1;
	f->skel->rodata->qlb_trace_on = trace;
	if (qlb_xdp__load(f->skel))
		return -1;
	qlb_lb_maps_from_skel(&f->m, f->skel);
	f->prog_fd = bpf_program__fd(f->skel->progs.qlb_xdp_ingress);
	return 0;
}

static inline int fx_fill(struct fx *f)
{
	char err[256];

	if (qlb_lb_fill(&f->m, &f->cfg, fx_if_mac, 1, 0, err, sizeof(err))) {
		fprintf(stderr, "fill: %s\n", err);
		return -1;
	}
	return 0;
}

/* Run one frame. Return: XDP verdict, -1 on error; output in @out. */
static inline int fx_run(struct fx *f, const uint8_t *in, size_t len,
			 uint8_t *out, size_t *olen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = (__u32)*olen,
		    .repeat = 1);

	if (bpf_prog_test_run_opts(f->prog_fd, &o))
		return -1;
	*olen = o.data_size_out;
	return (int)o.retval;
}

static inline int fx_trace(struct fx *f, struct qlb_lb_trace *t)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.qlb_trace_rec),
				   &zero, t);
}

/* ---- frames ------------------------------------------------------------ */

struct pkt {
	uint8_t b[2048];
	size_t len;
	size_t l3; /* offset of the IP header */
};

static inline uint16_t fx_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/*
 * A frame: Ethernet (@vlan: 802.1Q TCI or -1), IP of @src's family with
 * @nopt 4-byte option words (IPv4), @proto, ports, @payload.
 */
static inline void fx_frame(struct pkt *k, int vlan, const char *src,
			    const char *dst, uint8_t proto, uint16_t sport,
			    uint16_t dport, const uint8_t *payload, size_t plen,
			    int nopt, uint8_t tos)
{
	struct qlb_addr s, d;
	uint8_t *p = k->b, *ip, *l4;
	size_t l4len = (proto == IPPROTO_TCP ? 20 : 8) + plen, iplen;

	fx_addr(&s, src);
	fx_addr(&d, dst);
	memset(k, 0, sizeof(*k));
	memcpy(p, fx_if_mac, 6);
	memcpy(p + 6, fx_cl_mac, 6);
	k->l3 = 14;
	if (vlan >= 0) {
		put16(p + 12, 0x8100);
		put16(p + 14, (uint16_t)vlan);
		k->l3 = 18;
	}
	put16(p + k->l3 - 2, s.family == AF_INET6 ? 0x86dd : 0x0800);
	ip = p + k->l3;
	if (s.family == AF_INET) {
		size_t hl = 20 + 4 * nopt;

		iplen = hl + l4len;
		ip[0] = 0x40 | (uint8_t)(hl / 4);
		ip[1] = tos;
		put16(ip + 2, (uint16_t)iplen);
		put16(ip + 4, 0x1234);
		put16(ip + 6, 0x4000);
		ip[8] = 57;
		ip[9] = proto;
		memcpy(ip + 12, &s.v4, 4);
		memcpy(ip + 16, &d.v4, 4);
		memset(ip + 20, 0x01, 4 * nopt); /* NOP options */
		put16(ip + 10, fx_csum(ip, hl));
		l4 = ip + hl;
	} else {
		iplen = 40 + l4len;
		ip[0] = 0x60 | (tos >> 4);
		ip[1] = (uint8_t)(tos << 4) | 0x0a; /* some flow label */
		ip[2] = 0xbc;
		ip[3] = 0xde;
		put16(ip + 4, (uint16_t)l4len);
		ip[6] = proto;
		ip[7] = 57;
		memcpy(ip + 8, &s.v6, 16);
		memcpy(ip + 24, &d.v6, 16);
		l4 = ip + 40;
	}
	put16(l4, sport);
	put16(l4 + 2, dport);
	if (proto == IPPROTO_UDP) {
		put16(l4 + 4, (uint16_t)l4len);
		if (plen) /* payload may be NULL when empty */
			memcpy(l4 + 8, payload, plen);
	} else {
		l4[12] = 0x50;
		l4[13] = 0x02; /* SYN */
		if (plen)
			memcpy(l4 + 20, payload, plen);
	}
	k->len = k->l3 + iplen;
}

/* The flow hash of a frame built by fx_frame (for the fallback host). */
static inline uint32_t fx_flow_hash(const struct pkt *k)
{
	const uint8_t *ip = k->b + k->l3;
	uint32_t s[4] = {0}, d[4] = {0}, ports;
	size_t l4;

	if ((ip[0] >> 4) == 4) {
		memcpy(s, ip + 12, 4);
		memcpy(d, ip + 16, 4);
		l4 = (ip[0] & 15) * 4;
		memcpy(&ports, ip + l4, 4);
		return qlb_lb_flow_hash(4, s, d, ports);
	}
	memcpy(s, ip + 8, 16);
	memcpy(d, ip + 24, 16);
	memcpy(&ports, ip + 40, 4);
	return qlb_lb_flow_hash(6, s, d, ports);
}

static inline uint32_t fx_cid_hash(const uint8_t *cid, size_t len)
{
	__u64 w[3] = {0};

	memcpy(w, cid, len);
	return qlb_lb_cid_hash(w);
}

/*
 * The frame the LB node must send for @in toward a host at @haddr with
 * @encap (0 GUE, 1 IPIP), flow entropy @ent: Ethernet to the gateway from
 * the LB interface (VLAN tag kept), outer IP from the encap source, TTL 64,
 * DF, ID 0, inner TOS copied; GUE: UDP to 6080 from 49152 | (ent & 0x3fff),
 * checksum 0; then the inner IP packet byte for byte.
 */
static inline void fx_expect(struct pkt *out, const struct pkt *in,
			     const char *haddr, int encap, uint32_t ent)
{
	struct qlb_addr h;
	const uint8_t *inner = in->b + in->l3;
	size_t ilen = in->len - in->l3, ohl, udp = encap ? 0 : 8;
	uint8_t *p = out->b, *o, tos, iv = inner[0] >> 4, proto;

	/* the IP packet's own length: Ethernet padding is not part of it */
	ilen = iv == 4 ? (size_t)(inner[2] << 8 | inner[3])
		       : (size_t)(inner[4] << 8 | inner[5]) + 40;
	fx_addr(&h, haddr);
	tos = iv == 4 ? inner[1] : (uint8_t)(inner[0] << 4 | inner[1] >> 4);
	proto = udp ? 17 : (iv == 4 ? 4 : 41);
	ohl = h.family == AF_INET ? 20 : 40;
	memset(out, 0, sizeof(*out));
	memcpy(p, fx_gw_mac, 6);
	memcpy(p + 6, fx_if_mac, 6);
	if (in->l3 == 18)
		memcpy(p + 12, in->b + 12, 4);
	put16(p + in->l3 - 2, h.family == AF_INET ? 0x0800 : 0x86dd);
	o = p + in->l3;
	if (h.family == AF_INET) {
		struct qlb_addr src;

		fx_addr(&src, "198.18.0.10");
		o[0] = 0x45;
		o[1] = tos;
		put16(o + 2, (uint16_t)(20 + udp + ilen));
		put16(o + 6, 0x4000);
		o[8] = 64;
		o[9] = proto;
		memcpy(o + 12, &src.v4, 4);
		memcpy(o + 16, &h.v4, 4);
		put16(o + 10, fx_csum(o, 20));
	} else {
		struct qlb_addr src;
		uint32_t w0 = 6u << 28 | (uint32_t)tos << 20 | (ent & 0xfffff);

		fx_addr(&src, "2001:db8::10");
		o[0] = w0 >> 24;
		o[1] = w0 >> 16;
		o[2] = w0 >> 8;
		o[3] = w0;
		put16(o + 4, (uint16_t)(udp + ilen));
		o[6] = proto;
		o[7] = 64;
		memcpy(o + 8, &src.v6, 16);
		memcpy(o + 24, &h.v6, 16);
	}
	if (udp) {
		put16(o + ohl, (uint16_t)(49152 | (ent & 0x3fff)));
		put16(o + ohl + 2, 6080);
		put16(o + ohl + 4, (uint16_t)(8 + ilen));
	}
	memcpy(o + ohl + udp, inner, ilen);
	out->l3 = in->l3;
	out->len = in->l3 + ohl + udp + ilen;
}

/* QUIC short header: first byte, DCID, then @more bytes of "payload". */
static inline size_t fx_short(uint8_t *q, const uint8_t *cid, size_t clen,
			      size_t more)
{
	size_t i;

	q[0] = 0x41;
	memcpy(q + 1, cid, clen);
	for (i = 0; i < more; i++)
		q[1 + clen + i] = (uint8_t)(0x30 + i);
	return 1 + clen + more;
}

/* QUIC long header Initial (@type 0) / Handshake (2), padded to @total. */
static inline size_t fx_long(uint8_t *q, int type, uint32_t version,
			     const uint8_t *dcid, size_t dlen, size_t total)
{
	size_t n = 0, i;

	q[n++] = 0xc0 | (uint8_t)(type << 4) | 0x01;
	q[n++] = version >> 24;
	q[n++] = version >> 16;
	q[n++] = version >> 8;
	q[n++] = version;
	q[n++] = (uint8_t)dlen;
	memcpy(q + n, dcid, dlen);
	n += dlen;
	q[n++] = 8; /* SCID */
	for (i = 0; i < 8; i++)
		q[n++] = (uint8_t)(0xe0 + i);
	while (n < total)
		q[n++] = 0;
	return n;
}

/* fx_flow_hash() under flow hash seed @seed (qlb_lb_flow_seed() of a
 * hash_secret, or QLB_LB_HASH_SEED). */
static inline uint32_t fx_flow_hash_s(uint32_t seed, const struct pkt *k)
{
	const uint8_t *ip = k->b + k->l3;
	uint32_t s[4] = {0}, d[4] = {0}, ports;

	if ((ip[0] >> 4) == 4) {
		memcpy(s, ip + 12, 4);
		memcpy(d, ip + 16, 4);
		memcpy(&ports, ip + (ip[0] & 15) * 4, 4);
		return qlb_lb_flow_hash_s(seed, 4, s, d, ports);
	}
	memcpy(s, ip + 8, 16);
	memcpy(d, ip + 24, 16);
	memcpy(&ports, ip + 40, 4);
	return qlb_lb_flow_hash_s(seed, 6, s, d, ports);
}

#endif /* QLB_TESTS_XDP_FIXTURE_H */
