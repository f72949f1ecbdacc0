/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The frame generator of test_xdp_fuzz: the test config and the programs
 * it fills (the LB node's live and trace copies, a host's decapsulation),
 * a reproducible random source, an independent view of a frame (the
 * contract, not the program) and the generator and mutator of frames with
 * the verdict each well-formed one is owed.
 */
#ifndef QLB_TESTS_XDP_FUZZ_GEN_H
#define QLB_TESTS_XDP_FUZZ_GEN_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>

#include "t.h"
#include "common.h"
#include "config.h"
#include "lb.h"
#include "qlb/cid.h"
#include "qlb/abi/host_abi.h"
#include "qlb_xdp.skel.h"
#include "agent_probe.h"
#include "qlb_decap.skel.h"
#include "cid_cache.h"

#define FRAME_MAX 2048
#define OUT_MAX	  (FRAME_MAX + 256)
#define MTU	  1500
#define GUE_PORT  6080
#define MAX_FAILS 10

static const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t if_mac[6] = {0x02, 0, 0, 0, 0, 0xaa};

static const char test_yaml[] =
	"quic_lb:\n"
	"  configs:\n"
	/* four-pass AES, length self-encoded, 16 workers per host */
	"    - {id: 0, server_id_len: 2, nonce_len: 6, worker_bits: 4,\n"
	"       key: 8f95f09245765f80256934e50c66207f, state: active}\n"
	/* plaintext */
	"    - {id: 1, server_id_len: 3, nonce_len: 5, worker_bits: 8,\n"
	"       state: routable}\n"
	/* single-pass AES (16-byte plaintext), random length bits */
	"    - {id: 2, server_id_len: 1, nonce_len: 15, worker_bits: 2,\n"
	"       key: fdf726a9893ec05c0632d3956680baf0, encode_length: false,\n"
	"       state: retiring}\n"
	"lb:\n"
	"  interface: lo\n"
	"  gateway_mac: \"02:00:00:00:00:01\"\n"
	"  encap_source_v4: 198.18.0.10\n"
	"  encap_source_v6: \"2001:db8::10\"\n"
	"  maglev_table_size: 251\n"
	"  mtu: 1500\n"
	"  gue_port: 6080\n"
	"  vips:\n"
	"    - {address: 198.18.1.1, port: 443}\n"
	"    - {address: 198.18.1.2, port: 8443}\n"
	"    - {address: \"2001:db8:1::1\", port: 443}\n";

/* more VIPs and hosts are appended by write_yaml(), so that the LB's
 * open-addressing VIP and server-ID tables see collisions and probes */
static const char test_yaml_hosts[] =
	"hosts:\n"
	"  - {name: h1, address: 198.18.0.21, server_ids: {0: \"0a10\", 1: "
	"\"0a0100\", 2: \"04\"}}\n"
	"  - {name: h2, address: 198.18.0.22, encap: ipip,\n"
	"     server_ids: {0: \"0a20\", 1: \"0a0200\", 2: \"08\"}}\n"
	"  - {name: h3, address: \"2001:db8::23\", server_ids: {0: \"0a30\", "
	"1: \"0a0300\"}}\n"
	"  - {name: h4, address: \"2001:db8::24\", encap: ipip, state: "
	"draining,\n"
	"     server_ids: {0: \"0a40\", 1: \"0a0400\", 2: \"0c\"}}\n"
	"  - {name: h5, address: 198.18.0.25, state: down,\n"
	"     server_ids: {0: \"0a50\", 1: \"0a0500\", 2: \"10\"}}\n";

/* ---- randomness (reproducible: the seed is printed) ---------------------- */
static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dull;
}

static uint32_t rn(uint32_t n) /* 0..n-1 */
{
	return (uint32_t)((rnd() >> 32) % n);
}

static int chance(unsigned int pct)
{
	return rn(100) < pct;
}

static void rbytes(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)(rnd() >> 56);
}

/* ---- the test config and the program ------------------------------------- */
static struct qlb_config cfg;
static struct qlb_cid_cfg ccfg[QLB_CONFIG_MAX];
static struct qlb_xdp *skel, *tskel;
static int tprog_fd, trace_fd;
static unsigned long n_traced;
static struct qlb_decap *dskel;
static int prog_fd, cache_fd, dc_prog_fd, dc_cfg_fd, dc_host = -1;
static unsigned long n_decap, n_decap_mut;

/* Load a private copy of the XDP object (@trace_on: the `qlbctl trace`
 * variant) and fill it from cfg with qlb_lb_fill(), as trace does. */
static int load_lb(int trace_on, struct qlb_xdp **out, int *pfd, int *cfd)
{
	struct qlb_lb_maps m;
	struct qlb_xdp *sk;
	char err[512];

	sk = qlb_xdp__open();
	if (!sk)
		return -1;
	sk->rodata->qlb_trace_on = (__u32)trace_on;
	if (qlb_xdp__load(sk)) {
		fprintf(stderr, "cannot load the XDP object (root?): %s\n",
			strerror(errno));
		qlb_xdp__destroy(sk);
		return -1;
	}
	/* the same map set `qlbctl trace` hands to qlb_lb_fill() */
	qlb_lb_maps_from_skel(&m, sk);
	if (qlb_lb_fill(&m, &cfg, if_mac, 0, 0, err, sizeof(err))) {
		fprintf(stderr, "qlb_lb_fill: %s\n", err);
		qlb_xdp__destroy(sk);
		return -1;
	}
	*out = sk;
	*pfd = bpf_program__fd(sk->progs.qlb_xdp_ingress);
	if (cfd)
		*cfd = m.cid_cache;
	return 0;
}

static int write_yaml(FILE *f)
{
	unsigned int i;

	fputs(test_yaml, f);
	for (i = 1; i <= 24; i++)
		fprintf(f, "    - {address: 198.18.2.%u, port: 443}\n", i);
	for (i = 1; i <= 8; i++)
		fprintf(f, "    - {address: \"2001:db8:2::%x\", port: 443}\n",
			i);
	fputs(test_yaml_hosts, f);
	for (i = 0; i < 40; i++) {
		char addr[40];

		if (i % 3)
			snprintf(addr, sizeof(addr), "198.18.0.%u", 40 + i);
		else
			snprintf(addr, sizeof(addr), "\"2001:db8::1:%x\"", i);
		fprintf(f,
			"  - {name: x%u, address: %s, encap: %s, state: %s,\n"
			"     server_ids: {0: \"%03x0\", 1: \"0c%02x00\", 2: "
			"\"%02x\"}}\n",
			i, addr, i % 4 == 1 ? "ipip" : "gue",
			i % 11 == 5  ? "down"
			: i % 7 == 3 ? "draining"
				     : "active",
			0x100 + i, i, 0x14 + 4 * i);
	}
	return ferror(f) ? -1 : 0;
}

static int setup(void)
{
	char dir[] = "/tmp/qlb-xdpfuzz-XXXXXX", path[64];
	FILE *f;
	unsigned int id;
	int n;

	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/qlb.yaml", dir);
	f = fopen(path, "w");
	if (!f || write_yaml(f) || fclose(f))
		return -1;
	n = qlb_config_load(path, &cfg, stderr);
	unlink(path);
	rmdir(dir);
	if (n)
		return -1;
	for (id = 0; id < QLB_CONFIG_MAX; id++)
		if (cfg.configs[id].present &&
		    qlb_config_cid_cfg(&cfg, id, &ccfg[id]))
			return -1;

	/* the program as it runs live, and the copy `qlbctl trace` runs */
	if (load_lb(0, &skel, &prog_fd, &cache_fd) ||
	    load_lb(1, &tskel, &tprog_fd, NULL))
		return -1;
	trace_fd = bpf_map__fd(tskel->maps.qlb_trace_rec);

	/* the hosts' decapsulation program, unpinned */
	dskel = qlb_decap__open();
	if (dskel) {
		struct bpf_map *mp;

		for (mp = bpf_object__next_map(dskel->obj, NULL); mp;
		     mp = bpf_object__next_map(dskel->obj, mp))
			bpf_map__set_pin_path(mp, NULL);
	}
	if (!dskel || qlb_decap__load(dskel)) {
		fprintf(stderr, "cannot load the decap object: %s\n",
			strerror(errno));
		return -1;
	}
	dc_prog_fd = bpf_program__fd(dskel->progs.qlb_decap);
	dc_cfg_fd = bpf_map__fd(dskel->maps.qlb_dc_cfg);
	return 0;
}

/* Configure the decap program for host @hi, as the agent does. */
static int decap_for(int hi)
{
	const struct qlb_conf_host *h = &cfg.hosts[hi];
	struct qlb_dc_cfg d = {0};
	__u32 zero = 0;

	if (dc_host == hi)
		return 0;
	if (h->address.family == AF_INET) {
		memcpy(&d.addr4, &h->address.v4, 4);
		d.has4 = 1;
	} else {
		memcpy(d.addr6, &h->address.v6, 16);
		d.has6 = 1;
	}
	d.gue_port = htons(cfg.lb.gue_port);
	if (bpf_map_update_elem(dc_cfg_fd, &zero, &d, BPF_ANY))
		return -1;
	if (dc_host < 0) {
		/* the trust lists: this file's LB source and VIPs */
		static struct qlb_host_trust t;
		char err[256];

		qlb_host_trust_of(&cfg, &t);
		if (qlb_host_trust_write(bpf_map__fd(dskel->maps.qlb_dc_src),
					 bpf_map__fd(dskel->maps.qlb_dc_vip),
					 &t, err, sizeof(err)))
			return -1;
	}
	dc_host = hi;
	return 0;
}

/* ---- an independent view of a frame (the contract, not the program) ------ */
struct view {
	int ok; /* IPv4/IPv6 parsed with UDP/TCP ports readable */
	unsigned int l3, l4, ip_len, family, proto;
	int tagged; /* one 802.1Q/802.1ad tag */
	const uint8_t *saddr, *daddr;
	uint16_t dport;
	int later_frag; /* IPv4 fragment with a non-zero offset */
	uint8_t tos;
};

static void parse(const uint8_t *f, size_t len, struct view *v)
{
	unsigned int et, l3 = 14;

	memset(v, 0, sizeof(*v));
	if (len < 14)
		return;
	et = f[12] << 8 | f[13];
	if (et == ETH_P_8021Q || et == 0x88a8) {
		if (len < 18)
			return;
		v->tagged = 1;
		et = f[16] << 8 | f[17];
		l3 = 18;
	}
	v->l3 = l3;
	if (et == ETH_P_IP) {
		const uint8_t *ip = f + l3;
		unsigned int hl;

		if (len < l3 + 20 || (ip[0] >> 4) != 4 || (ip[0] & 15) < 5)
			return;
		hl = (ip[0] & 15) * 4;
		v->family = 4;
		v->ip_len = ip[2] << 8 | ip[3];
		v->proto = ip[9];
		v->saddr = ip + 12;
		v->daddr = ip + 16;
		v->tos = ip[1];
		v->later_frag = ((ip[6] & 0x1f) << 8 | ip[7]) != 0;
		v->l4 = l3 + hl;
	} else if (et == ETH_P_IPV6) {
		const uint8_t *ip = f + l3;

		if (len < l3 + 40 || (ip[0] >> 4) != 6)
			return;
		v->family = 6;
		v->ip_len = (ip[4] << 8 | ip[5]) + 40;
		v->proto = ip[6];
		v->saddr = ip + 8;
		v->daddr = ip + 24;
		v->tos = (uint8_t)((ip[0] << 4) | (ip[1] >> 4));
		v->l4 = l3 + 40;
	} else {
		return;
	}
	if ((v->proto != IPPROTO_UDP && v->proto != IPPROTO_TCP) ||
	    len < v->l4 + 4)
		return;
	v->dport = f[v->l4 + 2] << 8 | f[v->l4 + 3];
	v->ok = 1;
}

static int is_vip(const struct view *v)
{
	unsigned int i;

	if (!v->ok || v->later_frag)
		return 0;
	for (i = 0; i < cfg.lb.nvips; i++) {
		const struct qlb_conf_vip *p = &cfg.lb.vips[i];

		if (p->port != v->dport)
			continue;
		if (v->family == 4 && p->addr.family == AF_INET &&
		    !memcmp(&p->addr.v4, v->daddr, 4))
			return 1;
		if (v->family == 6 && p->addr.family == AF_INET6 &&
		    !memcmp(&p->addr.v6, v->daddr, 16))
			return 1;
	}
	return 0;
}

static int host_by_addr(int family, const uint8_t *a)
{
	unsigned int i;

	for (i = 0; i < cfg.nhosts; i++) {
		const struct qlb_addr *h = &cfg.hosts[i].address;

		if (family == 4 && h->family == AF_INET &&
		    !memcmp(&h->v4, a, 4))
			return (int)i;
		if (family == 6 && h->family == AF_INET6 &&
		    !memcmp(&h->v6, a, 16))
			return (int)i;
	}
	return -1;
}

static unsigned int overhead(const struct qlb_conf_host *h)
{
	return (h->address.family == AF_INET6 ? 40 : 20) +
	       (h->encap == QLB_ENCAP_GUE ? 8 : 0);
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ---- the generator ------------------------------------------------------- */
enum expect {
	EXP_NONE, /* mutated: the invariants only */
	EXP_PASS,
	EXP_DROP,
	EXP_HOST, /* tx to host g->host, or drop if it does not fit */
	EXP_LIVE, /* tx to some host not down, or drop if it may not fit */
};

struct gen {
	uint8_t f[FRAME_MAX];
	size_t len;
	enum expect exp;
	int host;
};

/* A CID minted for host @h under config @id (a random worker). */
static int mint(unsigned int id, unsigned int h, uint8_t *cid)
{
	const struct qlb_cid_cfg *c = &ccfg[id];
	uint8_t sid[QLB_SID_MAX_LEN], nonce[QLB_NONCE_MAX_LEN];
	uint32_t w = rn(1u << c->worker_bits);
	unsigned int sl = c->sid_len;

	memcpy(sid, cfg.hosts[h].sid[id], sl);
	sid[sl - 1] |= (uint8_t)w;
	if (sl > 1)
		sid[sl - 2] |= (uint8_t)(w >> 8);
	rbytes(nonce, sizeof(nonce));
	return qlb_cid_encode(c, sid, nonce, (uint8_t)rn(32), cid);
}

/* Pick a live config and a host with a server ID under it. */
static int pick_routable(unsigned int *id, unsigned int *h)
{
	unsigned int tries;

	for (tries = 0; tries < 32; tries++) {
		*id = rn(QLB_CONFIG_MAX);
		*h = rn(cfg.nhosts);
		if (cfg.configs[*id].present && cfg.hosts[*h].has_sid[*id])
			return 0;
	}
	return -1;
}

/*
 * The QUIC payload at @q (room for @room bytes). Sets g->exp/g->host for a
 * well-formed frame. Return: its length.
 */
static size_t gen_quic(struct gen *g, uint8_t *q, size_t room)
{
	unsigned int id, h, kind = rn(100), dl, sl, i;
	uint8_t cid[QLB_CID_MAX_LEN];
	size_t n = 0, body;

	g->exp = EXP_LIVE;
	body = chance(5) ? 1300 + rn(300) : 20 + rn(1200);
	if (kind < 35) {
		/* short header with a minted CID */
		if (pick_routable(&id, &h))
			return 0;
		q[n++] = 0x40 | (uint8_t)rn(64);
		n += (size_t)mint(id, h, q + n);
		g->exp = EXP_HOST;
		g->host = (int)h;
	} else if (kind < 70) {
		/* long header */
		uint32_t ver = chance(5)    ? 0
			       : chance(80) ? 1
					    : (uint32_t)rnd() | 1;

		q[n++] = 0xc0 | (uint8_t)(rn(4) << 4) | (uint8_t)rn(16);
		q[n++] = (uint8_t)(ver >> 24);
		q[n++] = (uint8_t)(ver >> 16);
		q[n++] = (uint8_t)(ver >> 8);
		q[n++] = (uint8_t)ver;
		if (chance(40) && !pick_routable(&id, &h)) {
			dl = (unsigned int)mint(id, h, cid);
			g->exp = EXP_HOST;
			g->host = (int)h;
		} else {
			dl = chance(10) ? 0 : 8 + rn(13);
			rbytes(cid, dl);
		}
		q[n++] = (uint8_t)dl;
		memcpy(q + n, cid, dl);
		n += dl;
		sl = rn(21);
		q[n++] = (uint8_t)sl;
		rbytes(q + n, sl);
		n += sl;
		if (!ver)
			g->exp = EXP_DROP;
	} else if (kind < 85) {
		/* short header, random CID bytes */
		q[n++] = 0x40 | (uint8_t)rn(64);
		rbytes(q + n, 20);
		n += 20;
	} else {
		/* short header, unroutable CID (config bits 0b111) */
		q[n++] = 0x40 | (uint8_t)rn(64);
		rbytes(q + n, 20);
		q[n] |= 0xe0;
		n += 20;
	}
	if (n + body > room)
		body = room > n ? room - n : 0;
	for (i = 0; i < body; i++)
		q[n + i] = (uint8_t)(rnd() >> 56);
	return n + body;
}

static void gen_frame(struct gen *g)
{
	uint8_t *f = g->f, *ip, *l4;
	unsigned int l3 = 14, fam, proto, hl = 0, l4len = 0, i, dst = rn(100);
	int to_vip = 0, first_frag = 0, later_frag = 0;
	const struct qlb_conf_vip *vip;
	uint16_t dport;

	g->exp = EXP_PASS;
	g->host = -1;
	rbytes(f, 12);
	f[0] &= 0xfe;
	if (chance(20)) {
		f[12] = chance(50) ? 0x81 : 0x88;
		f[13] = f[12] == 0x81 ? 0x00 : 0xa8;
		f[14] = (uint8_t)rn(16);
		f[15] = (uint8_t)rnd();
		l3 = 18;
	}
	fam = chance(60) ? 4 : chance(90) ? 6 : 0;
	if (!fam) {
		/* ARP or anything: passed untouched */
		f[l3 - 2] = 0x08;
		f[l3 - 1] = 0x06;
		g->len = l3 + 28 + rn(40);
		rbytes(f + l3, g->len - l3);
		return;
	}
	f[l3 - 2] = fam == 4 ? 0x08 : 0x86;
	f[l3 - 1] = fam == 4 ? 0x00 : 0xdd;

	/* destination: a VIP of the family, a VIP's address with another
	 * port, or another address */
	do
		vip = &cfg.lb.vips[rn(cfg.lb.nvips)];
	while ((vip->addr.family == AF_INET) != (fam == 4));
	dport = vip->port;
	if (dst < 75) {
		to_vip = 1;
	} else if (dst < 88) {
		dport = (uint16_t)(vip->port + 1 + rn(100));
	}
	proto = chance(85)   ? IPPROTO_UDP
		: chance(70) ? IPPROTO_TCP
			     : IPPROTO_ICMP;

	ip = f + l3;
	if (fam == 4) {
		hl = 20 + (chance(15) ? 4 * (1 + rn(10)) : 0);
		memset(ip, 0, hl);
		ip[0] = 0x40 | (uint8_t)(hl / 4);
		ip[1] = (uint8_t)rnd();
		ip[4] = (uint8_t)rnd();
		ip[5] = (uint8_t)rnd();
		ip[6] = 0x40; /* DF */
		if (chance(3)) {
			first_frag = 1;
			ip[6] = 0x20; /* MF, offset 0 */
		} else if (chance(3)) {
			later_frag = 1;
			ip[6] = (uint8_t)rn(32);
			ip[7] = (uint8_t)(1 + rn(255));
		}
		ip[8] = 64;
		ip[9] = (uint8_t)proto;
		ip[12] = 198; /* clients in 198.19/16, hosts in 198.18.0/24 */
		ip[13] = 19;
		ip[14] = (uint8_t)rnd();
		ip[15] = (uint8_t)rnd();
		if (dst < 88)
			memcpy(ip + 16, &vip->addr.v4, 4);
		else {
			ip[16] = 198;
			ip[17] = 18;
			ip[18] = 9;
			ip[19] = (uint8_t)rnd();
		}
		for (i = 20; i < hl; i++)
			ip[i] = 1; /* NOP options */
	} else {
		hl = 40;
		memset(ip, 0, 40);
		ip[0] = 0x60 | (uint8_t)rn(16);
		rbytes(ip + 1, 3);
		ip[6] = (uint8_t)proto;
		ip[7] = 64;
		ip[8] = 0x20;
		ip[9] = 0x01;
		ip[10] = 0x0d;
		ip[11] = 0xb8;
		ip[12] = 0xc1; /* clients in 2001:db8:c1xx::/40 */
		rbytes(ip + 13, 11);
		if (dst < 88)
			memcpy(ip + 24, &vip->addr.v6, 16);
		else {
			memcpy(ip + 24, &vip->addr.v6, 16);
			ip[39] ^= (uint8_t)(1 + rn(255));
		}
	}

	l4 = ip + hl;
	if (proto == IPPROTO_UDP) {
		size_t room = FRAME_MAX - 64 - (size_t)(l4 - f) - 8;

		l4[0] = (uint8_t)(0xc0 | rn(64));
		l4[1] = (uint8_t)rnd();
		l4[2] = (uint8_t)(dport >> 8);
		l4[3] = (uint8_t)dport;
		l4len = 8 + (unsigned int)gen_quic(g, l4 + 8, room);
		l4[4] = (uint8_t)(l4len >> 8);
		l4[5] = (uint8_t)l4len;
		l4[6] = l4[7] = 0;
	} else if (proto == IPPROTO_TCP) {
		l4len = 20 + rn(200);
		rbytes(l4, l4len);
		l4[2] = (uint8_t)(dport >> 8);
		l4[3] = (uint8_t)dport;
		l4[12] = 0x50;
		g->exp = EXP_LIVE;
	} else {
		l4len = 8 + rn(64);
		rbytes(l4, l4len);
	}
	if (fam == 4) {
		ip[2] = (uint8_t)((hl + l4len) >> 8);
		ip[3] = (uint8_t)(hl + l4len);
		ip[10] = ip[11] = 0;
		i = csum(ip, hl);
		ip[10] = (uint8_t)(i >> 8);
		ip[11] = (uint8_t)i;
	} else {
		ip[4] = (uint8_t)(l4len >> 8);
		ip[5] = (uint8_t)l4len;
	}
	g->len = l3 + hl + l4len;
	/* Ethernet padding: not part of the IP packet */
	if (chance(5)) {
		unsigned int pad = 1 + rn(30);

		rbytes(f + g->len, pad);
		g->len += pad;
	}

	/* a changed address or port may hit another VIP: ask the oracle */
	{
		struct view v;

		parse(f, g->len, &v);
		to_vip = is_vip(&v);
	}
	if (!to_vip || later_frag || proto == IPPROTO_ICMP)
		g->exp = EXP_PASS;
	else if (first_frag)
		g->exp = EXP_DROP;
	else if (g->exp == EXP_HOST &&
		 cfg.hosts[g->host].state == QLB_HOST_DOWN)
		g->exp = EXP_LIVE; /* its CIDs take the fallback */
}

/* Break a frame: flips, truncation, extension, lying length fields. */
static void mutate(struct gen *g)
{
	unsigned int n = 1 + rn(4), k;

	g->exp = EXP_NONE;
	for (k = 0; k < n; k++) {
		unsigned int what = rn(100), at;

		if (what < 40) {
			at = rn((uint32_t)g->len);
			g->f[at] ^= (uint8_t)(1 + rn(255));
		} else if (what < 60) {
			g->len = 14 + rn((uint32_t)g->len - 13);
		} else if (what < 70 && g->len < FRAME_MAX - 64) {
			unsigned int add = 1 + rn(60);

			rbytes(g->f + g->len, add);
			g->len += add;
		} else if (what < 90) {
			/* a 16-bit field somewhere in the first 80 bytes */
			at = rn(g->len < 80 ? (uint32_t)g->len - 1 : 79);
			g->f[at] = (uint8_t)rnd();
			g->f[at + 1] = (uint8_t)rnd();
		} else {
			/* a CID length byte of a long header */
			at = 14 + rn(60);
			if (at < g->len)
				g->f[at] = (uint8_t)rn(40);
		}
	}
}

#endif /* QLB_TESTS_XDP_FUZZ_GEN_H */
