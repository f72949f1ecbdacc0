// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's XDP program under generated and mutated frames, through
 * BPF_PROG_TEST_RUN. A private copy of build/bpf/qlb_xdp.bpf.o is loaded
 * (as `qlbctl trace` does) and filled from a test config by qlb_lb_fill(),
 * the code `qlbctl lb apply` uses.
 *
 * Frames: Ethernet with or without an 802.1Q/802.1ad tag, IPv4 (with
 * options, fragments) or IPv6, UDP/TCP/other, to VIPs and to other
 * addresses and ports, carrying QUIC long and short headers with CIDs
 * minted for the test config's hosts, random CIDs, unroutable CIDs and
 * version negotiation; then random byte flips, truncations, extensions and
 * broken length fields on a share of them.
 *
 * Invariants on every frame:
 *  - the verdict is XDP_TX, XDP_PASS or XDP_DROP;
 *  - a passed frame is byte-identical to the input;
 *  - a frame not addressed to a VIP (address and port) is passed;
 *  - a transmitted frame is Ethernet (gateway MAC, interface MAC, the VLAN
 *    tag kept) | outer IPv4 (length, checksum, DF, TTL 64) or IPv6 (payload
 *    length, hop limit 64) from the encap source toward a configured host
 *    that is not down, with the host's encapsulation (GUE: UDP to gue_port
 *    from 49152..65535, or IPIP proto 4/41) | exactly the original IP
 *    packet; its outer length is within lb.mtu; its destination is never the
 *    packet's own source (no reflection, no amplification toward a client);
 *  - the same frame run again gives the same verdict and the same bytes;
 *  - well-formed generated frames get the verdict the contract promises: a
 *    CID minted for host H goes to H (unless H is down or it does not fit
 *    the MTU), other QUIC and TCP to a VIP go to some live host, version 0
 *    and first fragments are dropped.
 * Every untagged transmitted frame then goes through the hosts' own
 * decapsulation program (reuseport/qlb_decap.bpf.c, configured as the agent
 * does for the target host): it must come out as Ethernet | exactly the
 * original IP packet, so the LB and the hosts agree on the wire format;
 * a copy with bytes flipped or cut must be passed untouched, passed minus
 * exactly one outer header, or dropped.
 * The copy `qlbctl trace` loads (qlb_trace_on = 1) must answer every frame
 * as the live program does, and its record must name the same action,
 * host and VIP.
 * Then a flood of Initials and random short headers: the decoded-CID cache
 * (the only map the program writes besides counters) does not grow at all
 * on Initials; of short headers it holds only keyed CIDs that decode to a
 * known host (one per cache slot at least), none of the unroutable ones.
 *
 * Usage: test_xdp_fuzz [--frames N] [--seed S]. `make test` runs 200000
 * frames; `make fuzz` runs 10 million. Prints frames/s and verdict counts.
 * A failing frame is printed in hex and saved to $BUILD/fuzz/crashes/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
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
#include "qlb/host_abi.h"
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

/* ---- randomness (reproducible: the seed is printed) -----------------------
 */
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

/* ---- the test config and the program --------------------------------------
 */
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

/* ---- an independent view of a frame (the contract, not the program) -------
 */
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

/* ---- the generator ----------------------------------------------------------
 */
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

/* ---- running and checking
 * ---------------------------------------------------- */
static unsigned long n_frames, n_runs, n_fail, verdicts[8];
static unsigned long n_exp[5];
static const char *crash_dir;

static int run_prog(int fd, const uint8_t *in, size_t len, uint8_t *out,
		    uint32_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
		    .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = OUT_MAX, .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o)) {
		fprintf(stderr, "test run failed: %s (len %zu)\n",
			strerror(errno), len);
		return -1;
	}
	n_runs++;
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static int run(const uint8_t *in, size_t len, uint8_t *out, uint32_t *out_len)
{
	return run_prog(prog_fd, in, len, out, out_len);
}

/* The host's view of a transmitted frame: NULL when it decapsulates to
 * Ethernet | the original IP packet, else why not. */
static const char *check_decap(const struct gen *g, const struct view *v,
			       const uint8_t *out, uint32_t olen, int host)
{
	static uint8_t dec[OUT_MAX];
	uint32_t dlen;
	int ret;

	if (decap_for(host))
		return "cannot configure the decap program";
	ret = run_prog(dc_prog_fd, out, olen, dec, &dlen);
	if (ret != XDP_PASS)
		return "the host's decap program does not pass the LB's frame";
	if (dlen != 14 + v->ip_len || memcmp(dec, out, 12) ||
	    dec[12] != (v->family == 4 ? 0x08 : 0x86) ||
	    dec[13] != (v->family == 4 ? 0x00 : 0xdd) ||
	    memcmp(dec + 14, g->f + v->l3, v->ip_len))
		return "the host's decap does not give back the original "
		       "packet";
	n_decap++;
	return NULL;
}

static void report(const struct gen *g, const char *why, int ret);

/*
 * The trace variant of the program (qlb_trace_on = 1, as `qlbctl trace`
 * loads it) must give the live program's verdict and bytes, and its record
 * must say the same: action, a reason that implies it, the host index of
 * the tx destination and the VIP index (both in file order after one fill).
 */
static const char *check_trace(const struct gen *g, const struct view *v,
			       int ret, const uint8_t *out, uint32_t olen,
			       int host)
{
	static uint8_t tout[OUT_MAX];
	struct qlb_lb_trace t;
	uint32_t tlen, act;
	__u32 zero = 0;
	int tret;

	tret = run_prog(tprog_fd, g->f, g->len, tout, &tlen);
	if (tret != ret)
		return "trace copy gives another verdict";
	if (ret != XDP_DROP && (tlen != olen || memcmp(tout, out, olen)))
		return "trace copy gives other bytes";
	if (bpf_map_lookup_elem(trace_fd, &zero, &t))
		return "cannot read the trace record";
	act = ret == XDP_TX	? QLB_ACT_TX
	      : ret == XDP_PASS ? QLB_ACT_PASS
				: QLB_ACT_DROP;
	if (t.action != act)
		return "trace record: wrong action";
	if (t.reason >= QLB_R_MAX || qlb_lb_reason_action(t.reason) != act)
		return "trace record: reason does not imply the action";
	if (ret == XDP_TX && (int)t.host != host)
		return "trace record: host is not the tx destination";
	if (is_vip(v) != (t.vip < cfg.lb.nvips))
		return "trace record: VIP index wrong";
	if (t.vip < cfg.lb.nvips) {
		const struct qlb_conf_vip *p = &cfg.lb.vips[t.vip];

		if (p->port != v->dport ||
		    memcmp(&p->addr.v4, v->daddr, v->family == 4 ? 4 : 16))
			return "trace record: VIP index names another VIP";
	}
	n_traced++;
	return NULL;
}

/*
 * The host's decap program on a broken tunnel frame (the LB's output with
 * bytes flipped or cut): it may pass or drop; what it passes is either
 * untouched or the same frame minus exactly one outer header, with an
 * EtherType that matches the inner version.
 */
static void check_decap_mutated(const uint8_t *out, uint32_t olen, int host)
{
	static struct gen m;
	static uint8_t dec[OUT_MAX];
	const char *why = NULL;
	unsigned int k, n = 1 + rn(3), outer;
	uint32_t dlen;
	int ret;

	if (olen > sizeof(m.f) || decap_for(host))
		return;
	memcpy(m.f, out, olen);
	m.len = olen;
	m.exp = EXP_NONE;
	m.host = host;
	for (k = 0; k < n; k++) {
		if (chance(80))
			m.f[rn(m.len < 90 ? (uint32_t)m.len : 90)] ^=
				(uint8_t)(1 + rn(255));
		else
			m.len = 14 + rn((uint32_t)m.len - 13);
	}
	ret = run_prog(dc_prog_fd, m.f, m.len, dec, &dlen);
	if (ret != XDP_PASS && ret != XDP_DROP) {
		why = "decap verdict is not pass or drop";
	} else if (ret == XDP_PASS && dlen == m.len) {
		if (memcmp(dec, m.f, m.len))
			why = "decap changed a frame it passed whole";
	} else if (ret == XDP_PASS) {
		outer = (uint32_t)m.len - dlen;
		if (dlen > m.len ||
		    (outer != 20 && outer != 28 && outer != 40 && outer != 48))
			why = "decap removed something other than one outer "
			      "header";
		else if (memcmp(dec, m.f, 12) || dlen < 15 ||
			 !((dec[12] == 0x08 && dec[13] == 0x00 &&
			    dec[14] >> 4 == 4) ||
			   (dec[12] == 0x86 && dec[13] == 0xdd &&
			    dec[14] >> 4 == 6)))
			why = "decap output: wrong MACs or EtherType";
		else if (memcmp(dec + 14, m.f + 14 + outer, dlen - 14))
			why = "decap output is not the inner packet";
	}
	n_decap_mut++;
	if (why)
		report(&m, why, ret);
}

static void report(const struct gen *g, const char *why, int ret)
{
	char path[256];
	size_t i;
	FILE *f;

	n_fail++;
	fprintf(stderr,
		"FAIL frame %lu (seed state %016llx): %s (verdict %d, "
		"expectation %d, host %d), %zu bytes:\n",
		n_frames, (unsigned long long)rs, why, ret, g->exp, g->host,
		g->len);
	for (i = 0; i < g->len; i++)
		fprintf(stderr, "%02x%s", g->f[i], (i % 32 == 31) ? "\n" : "");
	fputc('\n', stderr);
	if (!crash_dir)
		return;
	snprintf(path, sizeof(path), "%s/xdp-frame-%lu.bin", crash_dir,
		 n_frames);
	f = fopen(path, "w");
	if (f) {
		fwrite(g->f, 1, g->len, f);
		fclose(f);
		fprintf(stderr, "saved to %s\n", path);
	}
}

/*
 * A too-big answer (docs/lb.md, "Path MTU"): only to a packet that fits
 * no host once wrapped; to its sender from the address it was sent to;
 * ICMP 3/4 or ICMPv6 2 quoting its first bytes; never larger than it.
 */
static const char *check_too_big(const struct gen *g, const struct view *v,
				 const uint8_t *out, uint32_t olen)
{
	unsigned int hl = v->family == 4 ? 20 : 40,
		     al = v->family == 4 ? 4 : 16;
	const uint8_t *o = out + 14, *ic = o + hl;

	if (v->tagged || olen < 14 + hl + 8 || olen > g->len)
		return "too-big answer tagged, too short or larger than the "
		       "packet";
	if (v->ip_len + 48 <= cfg.lb.mtu) /* fits even GUE over IPv6 */
		return "too-big answer to a packet that fits";
	if (memcmp(out, g->f + 6, 6) || memcmp(out + 6, g->f, 6))
		return "too-big answer: Ethernet addresses not swapped";
	if (v->family == 4
		    ? (o[9] != IPPROTO_ICMP || ic[0] != 3 || ic[1] != 4 ||
		       csum(o, 20) || csum(ic, olen - 14 - hl))
		    : (o[6] != IPPROTO_ICMPV6 || ic[0] != 2 || ic[1]))
		return "too-big answer is no valid ICMP too-big";
	if (memcmp(o + (hl == 20 ? 12 : 8), v->daddr, al) ||
	    memcmp(o + (hl == 20 ? 16 : 24), v->saddr, al))
		return "too-big answer not from the VIP to the sender";
	if (olen - 14 - hl - 8 > v->ip_len ||
	    memcmp(ic + 8, g->f + v->l3, olen - 14 - hl - 8))
		return "too-big answer does not quote the packet";
	return NULL;
}

/* A transmitted frame: returns NULL when it is right, else why not. */
static const char *check_tx(const struct gen *g, const struct view *v,
			    const uint8_t *out, uint32_t olen, int *host)
{
	unsigned int l3 = v->tagged ? 18 : 14, oip, udp, et, proto;
	const struct qlb_conf_host *h;
	const uint8_t *o;
	int fam, hi;

	*host = -1;
	if (!is_vip(v))
		return "transmitted a frame not addressed to a VIP";
	if (olen < l3 + 20)
		return "tx frame too short";
	if (memcmp(out, gw_mac, 6))
		return check_too_big(g, v, out, olen);
	if (memcmp(out, gw_mac, 6) || memcmp(out + 6, if_mac, 6))
		return "tx Ethernet addresses are not gateway/interface";
	if (v->tagged && memcmp(out + 12, g->f + 12, 4))
		return "VLAN tag not kept";
	et = out[l3 - 2] << 8 | out[l3 - 1];
	o = out + l3;
	if (et == ETH_P_IP) {
		fam = 4;
		oip = 20;
		if (o[0] != 0x45 || (uint32_t)(o[2] << 8 | o[3]) != olen - l3)
			return "outer IPv4 version/length wrong";
		if (csum(o, 20))
			return "outer IPv4 checksum wrong";
		if (o[6] != 0x40 || o[7] || o[8] != 64)
			return "outer IPv4 DF/TTL wrong";
		if (o[1] != v->tos)
			return "outer TOS is not the inner one";
		if (memcmp(o + 12, &cfg.lb.encap_source_v4.v4, 4))
			return "outer IPv4 source is not lb.encap_source_v4";
		proto = o[9];
	} else if (et == ETH_P_IPV6) {
		fam = 6;
		oip = 40;
		if ((o[0] >> 4) != 6 ||
		    (uint32_t)(o[4] << 8 | o[5]) != olen - l3 - 40)
			return "outer IPv6 version/length wrong";
		if (o[7] != 64)
			return "outer IPv6 hop limit wrong";
		if ((uint8_t)((o[0] << 4) | (o[1] >> 4)) != v->tos)
			return "outer traffic class is not the inner one";
		if (memcmp(o + 8, &cfg.lb.encap_source_v6.v6, 16))
			return "outer IPv6 source is not lb.encap_source_v6";
		proto = o[6];
	} else {
		return "tx frame is neither IPv4 nor IPv6";
	}
	hi = host_by_addr(fam, o + (fam == 4 ? 16 : 24));
	if (hi < 0)
		return "tx toward an address that is no configured host";
	if (!memcmp(o + (fam == 4 ? 16 : 24), v->saddr, fam == 4 ? 4 : 16))
		return "tx back toward the packet's source";
	h = &cfg.hosts[hi];
	*host = hi;
	if (h->state == QLB_HOST_DOWN)
		return "tx toward a host that is down";
	udp = h->encap == QLB_ENCAP_GUE ? 8 : 0;
	if (udp) {
		const uint8_t *u = o + oip;

		if (proto != IPPROTO_UDP)
			return "GUE host but outer protocol is not UDP";
		if ((u[2] << 8 | u[3]) != cfg.lb.gue_port)
			return "GUE destination port is not gue_port";
		if ((u[0] << 8 | u[1]) < 49152)
			return "GUE source port below 49152";
		if ((uint32_t)(u[4] << 8 | u[5]) != olen - l3 - oip || u[6] ||
		    u[7])
			return "GUE UDP length/checksum wrong";
	} else if (proto != (v->family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6)) {
		return "IPIP outer protocol does not match the inner family";
	}
	if (olen - l3 - oip - udp != v->ip_len ||
	    memcmp(o + oip + udp, g->f + v->l3, v->ip_len))
		return "tx payload is not exactly the original IP packet";
	if (olen - l3 > cfg.lb.mtu)
		return "outer packet larger than lb.mtu";
	return NULL;
}

static void one_frame(struct gen *g)
{
	static uint8_t out[OUT_MAX], out2[OUT_MAX];
	uint32_t olen, olen2;
	const char *why = NULL;
	struct view v;
	int ret, ret2, host = -1;

	n_frames++;
	n_exp[g->exp]++;
	parse(g->f, g->len, &v);
	ret = run(g->f, g->len, out, &olen);
	if (ret < 0) {
		report(g, "BPF_PROG_TEST_RUN failed", ret);
		return;
	}
	verdicts[ret & 7]++;
	if (ret != XDP_TX && ret != XDP_PASS && ret != XDP_DROP) {
		why = "verdict is not tx, pass or drop";
	} else if (ret == XDP_PASS) {
		if (olen != g->len || memcmp(out, g->f, g->len))
			why = "passed frame changed";
	} else if (ret == XDP_TX) {
		why = check_tx(g, &v, out, olen, &host);
		if (!why && !v.tagged && host >= 0)
			why = check_decap(g, &v, out, olen, host);
		if (!why && !v.tagged && host >= 0)
			check_decap_mutated(out, olen, host);
	}
	if (!why && ret != XDP_PASS && !is_vip(&v))
		why = "frame not addressed to a VIP was not passed";
	if (!why) {
		unsigned int worst = v.ip_len + 48; /* GUE over IPv6 */

		switch (g->exp) {
		case EXP_NONE:
			break;
		case EXP_PASS:
			if (ret != XDP_PASS)
				why = "expected pass";
			break;
		case EXP_DROP:
			if (ret != XDP_DROP)
				why = "expected drop";
			break;
		case EXP_HOST:
			if (ret == XDP_TX && host >= 0 && host != g->host)
				why = "routable CID went to another host";
			else if (ret != XDP_TX &&
				 v.ip_len + overhead(&cfg.hosts[g->host]) <=
					 cfg.lb.mtu)
				why = "routable CID that fits the MTU not "
				      "transmitted";
			break;
		case EXP_LIVE:
			if (ret != XDP_TX && worst <= cfg.lb.mtu)
				why = "QUIC/TCP to a VIP that fits the MTU not "
				      "transmitted";
			break;
		}
	}
	/* `qlbctl trace`'s copy: the same answer, and a record that says it */
	if (!why)
		why = check_trace(g, &v, ret, out, olen, host);
	/* the same frame again: same verdict, same bytes */
	if (!why) {
		ret2 = run(g->f, g->len, out2, &olen2);
		if (ret2 != ret || (ret != XDP_DROP &&
				    (olen2 != olen || memcmp(out, out2, olen))))
			why = "second run of the same frame differs";
	}
	if (why)
		report(g, why, ret);
}

/*
 * For docs/security.md: a host must not decapsulate a GUE packet whose
 * outer source is no LB node (tests/netns/host_decap_trust.sh has more).
 */
static void spoof_probe(void)
{
	static uint8_t f[128], out[OUT_MAX];
	uint8_t *ip = f + 14, *u = ip + 20, *in = u + 8;
	uint32_t olen;
	unsigned int c;
	int ret;

	memset(f, 0, sizeof(f));
	memcpy(f, if_mac, 6);
	memcpy(f + 6, gw_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 28;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, "\xc6\x13\x00\x63", 4); /* 198.19.0.99: no LB */
	memcpy(ip + 16, &cfg.hosts[0].address.v4, 4);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	u[2] = (uint8_t)(cfg.lb.gue_port >> 8);
	u[3] = (uint8_t)cfg.lb.gue_port;
	u[5] = 8 + 28;
	in[0] = 0x45; /* inner: a spoofed client 198.19.7.7 to the VIP */
	in[3] = 28;
	in[8] = 64;
	in[9] = IPPROTO_UDP;
	memcpy(in + 12, "\xc6\x13\x07\x07", 4);
	memcpy(in + 16, &cfg.lb.vips[0].addr.v4, 4);
	if (decap_for(0))
		return;
	ret = run_prog(dc_prog_fd, f, 14 + 20 + 8 + 28, out, &olen);
	printf("GUE from a non-LB source (198.19.0.99) to host %s: %s\n",
	       cfg.hosts[0].name,
	       ret == XDP_PASS && olen == 14 + 28 ? "decapsulated"
						  : "not decapsulated");
	/* only LB nodes' sources are trusted (qlb/decap_trust.h) */
	CHECK(ret == XDP_DROP, "GUE from a non-LB source: verdict %d", ret);
}

/* ---- the flood: no state for Initials and unroutable packets ----------------
 */
static unsigned int cache_entries(void)
{
	int n = fx_cache_walk(cache_fd, NULL, NULL);

	CHECK(n >= 0, "cannot read the decoded-CID cache");
	return n < 0 ? 0 : (unsigned int)n;
}

/*
 * Would the program route @cid20 by its server ID under a keyed config
 * (and so cache it)? @dlen: a long header's DCID length, 0 for a short
 * header. Computed from the config, not from the maps.
 * Return: the CID length the cache keys on, or 0.
 */
static unsigned int keyed_known(const uint8_t *cid20, unsigned int dlen)
{
	unsigned int id = qlb_cid_config_id(cid20[0]), i;
	const struct qlb_cid_cfg *c;
	uint8_t sid[QLB_SID_MAX_LEN];

	if (id >= QLB_CONFIG_MAX || !cfg.configs[id].present)
		return 0;
	c = &ccfg[id];
	if (!(c->flags & QLB_CID_F_KEY))
		return 0;
	if (dlen && dlen < qlb_cid_len(c))
		return 0;
	if (!dlen)
		dlen = qlb_cid_len(c);
	if ((c->flags & QLB_CID_F_ENCODE_LEN) && (cid20[0] & 0x1f) + 1u != dlen)
		return 0;
	qlb_cid_decode_sid(c, cid20, sid);
	qlb_sid_host_part(c, sid);
	for (i = 0; i < cfg.nhosts; i++)
		if (cfg.hosts[i].has_sid[id] &&
		    !memcmp(cfg.hosts[i].sid[id], sid, c->sid_len))
			return qlb_cid_len(c);
	return 0;
}

struct cidkey {
	uint8_t b[20];
};

static int cmp_cid(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct cidkey));
}

/* A frame to an IPv4 VIP, UDP, no options, not a fragment: its QUIC
 * payload starts at byte 42 and holds at least 41 bytes. */
static void gen_flood_frame(struct gen *g)
{
	do
		gen_frame(g);
	while (g->f[12] != 0x08 || g->f[13] != 0x00 || g->f[14] != 0x45 ||
	       g->f[23] != IPPROTO_UDP || g->exp == EXP_PASS ||
	       (g->f[20] & 0x3f) || g->f[21] || g->len - 42 < 41);
}

struct cached_set {
	struct cidkey *k;
	unsigned long n, max;
};

static void cached_visit(const struct qlb_lb_cache_ent *e, void *arg)
{
	struct cached_set *cs = arg;

	if (cs->k && cs->n < cs->max)
		memcpy(cs->k[cs->n++].b, e->cid, sizeof(cs->k[0].b));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void flood(unsigned long count)
{
	static uint8_t out[OUT_MAX];
	struct cidkey *known = calloc(count, sizeof(*known));
	unsigned long i, nknown = 0, distinct = 0, tx = 0;
	unsigned int before, after, before_init;
	struct gen g;
	uint32_t olen;

	if (!known) {
		CHECK(0, "out of memory");
		return;
	}
	/* start from an empty cache: what the flood adds is then countable */
	CHECK(!fx_cache_clear(cache_fd), "cannot clear the decoded-CID cache");
	/* Initials: long header, version 1, client-chosen random DCIDs */
	before_init = cache_entries();
	for (i = 0; i < count; i++) {
		uint8_t *q;

		gen_frame(&g);
		gen_flood_frame(&g);
		q = g.f + 14 + 20 + 8;
		q[0] = 0xc0 | (uint8_t)rn(16); /* Initial */
		q[1] = q[2] = q[3] = 0;
		q[4] = 1;
		q[5] = (uint8_t)(8 + rn(13));
		rbytes(q + 6, q[5]);
		if (run(g.f, g.len, out, &olen) == XDP_TX)
			tx++;
		/* a random DCID may still decode to a host: count those */
		{
			struct cidkey k = {0};
			unsigned int kl;

			memcpy(k.b, q + 6, q[5]);
			kl = keyed_known(k.b, q[5]);
			if (kl) {
				memset(k.b + kl, 0, sizeof(k.b) - kl);
				known[nknown++] = k;
			}
		}
	}
	after = cache_entries();
	qsort(known, nknown, sizeof(*known), cmp_cid);
	for (i = 0; i < nknown; i++)
		distinct += !i || cmp_cid(&known[i], &known[i - 1]);
	printf("Initial flood: %lu packets (%lu tx), decoded-CID cache %u -> "
	       "%u entries (%lu DCIDs decode to a host; long headers never "
	       "enter)\n",
	       count, tx, before_init, after, distinct);
	/* the program caches short headers only: Initials cost no state,
	 * even those whose random DCID decodes to a host */
	CHECK(after == before_init,
	      "Initials with random DCIDs created %u cache entries (%lu could "
	      "decode)",
	      after - before_init, distinct);

	/* short headers: unroutable (0b111) and random CIDs */
	before = cache_entries();
	nknown = distinct = 0;
	for (i = 0; i < count; i++) {
		uint8_t *q;
		struct cidkey k = {0};
		unsigned int clen;

		gen_frame(&g);
		gen_flood_frame(&g);
		q = g.f + 14 + 20 + 8;
		q[0] = 0x40;
		rbytes(q + 1, 20);
		if (i & 1) {
			q[1] |= 0xe0; /* unroutable */
		} else {
			/* random CID of a keyed config, length bits right */
			unsigned int id = chance(50) ? 0 : 2;

			clen = qlb_cid_len(&ccfg[id]);
			q[1] = (uint8_t)(id << 5) |
			       (uint8_t)(id ? rn(32) : clen - 1);
			memcpy(k.b, q + 1, clen);
			if (keyed_known(k.b, 0))
				known[nknown++] = k;
		}
		run(g.f, g.len, out, &olen);
	}
	qsort(known, nknown, sizeof(*known), cmp_cid);
	for (i = 0; i < nknown; i++)
		if (!i || cmp_cid(&known[i], &known[i - 1]))
			known[distinct++] = known[i];
	{
		struct cached_set cs = {
			calloc(QLB_LB_CACHE_SIZE * 4UL, sizeof(struct cidkey)),
			0, QLB_LB_CACHE_SIZE * 4UL};
		unsigned long slots = 0, present = 0, stray = 0;
		uint32_t *sl = calloc(distinct + 1, sizeof(*sl));

		CHECK(cs.k && sl, "out of memory");
		after = (unsigned int)fx_cache_walk(cache_fd, cached_visit,
						    &cs);
		/* a cache slot holds one CID: distinct known CIDs that share
		 * a slot leave one behind */
		for (i = 0; sl && i < distinct; i++) {
			__u64 w[3] = {0};

			memcpy(w, known[i].b, sizeof(known[i].b));
			sl[i] = qlb_lb_cid_hash(w) & (QLB_LB_CACHE_SIZE - 1);
		}
		if (sl) {
			qsort(sl, distinct, sizeof(*sl), cmp_u32);
			for (i = 0; i < distinct; i++)
				slots += !i || sl[i] != sl[i - 1];
		}
		qsort(cs.k, cs.n, sizeof(*cs.k), cmp_cid);
		for (i = 0; i < cs.n; i++) {
			if (i && !cmp_cid(&cs.k[i], &cs.k[i - 1]))
				continue; /* the same CID on another CPU */
			if (bsearch(&cs.k[i], known, distinct, sizeof(*known),
				    cmp_cid))
				present++;
			else
				stray++;
		}
		printf("short-header flood: %lu packets (half unroutable), "
		       "cache %u -> %u entries: %lu distinct CIDs, all of the "
		       "%lu random CIDs that decode to a host (%lu cache "
		       "slots)\n",
		       count, before, after, present + stray, distinct, slots);
		CHECK(!stray, "%lu cached CIDs do not decode to a host", stray);
		CHECK(present >= slots && present <= distinct,
		      "cache holds %lu of the %lu CIDs that decode to a host, "
		      "want at least one per slot (%lu)",
		      present, distinct, slots);
		free(cs.k);
		free(sl);
	}
	free(known);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"frames", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 's'},
		{0}};
	unsigned long frames = 200000, seed = 0;
	struct timespec t0, t1;
	struct gen g;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "n:s:", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			frames = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [--frames N] [--seed S]\n",
				argv[0]);
			return 2;
		}
	}
	if (!seed)
		seed = (unsigned long)time(NULL);
	rs = seed * 0x9e3779b97f4a7c15ull | 1;
	printf("seed %lu, %lu frames\n", seed, frames);
	{
		static char dir[256];
		const char *b = getenv("BUILD");

		snprintf(dir, sizeof(dir), "%s/fuzz", b ? b : "build");
		mkdir(dir, 0755);
		snprintf(dir, sizeof(dir), "%s/fuzz/crashes", b ? b : "build");
		if (!mkdir(dir, 0755) || errno == EEXIST)
			crash_dir = dir;
	}
	if (setup()) {
		CHECK(0, "setup failed");
		return t_done("test_xdp_fuzz");
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n_frames < frames && n_fail < MAX_FAILS) {
		gen_frame(&g);
		if (chance(30))
			mutate(&g);
		one_frame(&g);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%lu frames (%lu test runs) in %.1f s: %.0f frames/s, %.0f "
	       "runs/s\n",
	       n_frames, n_runs, secs, (double)n_frames / secs,
	       (double)n_runs / secs);
	printf("verdicts: tx %lu, pass %lu, drop %lu, other %lu\n",
	       verdicts[XDP_TX], verdicts[XDP_PASS], verdicts[XDP_DROP],
	       n_frames - verdicts[XDP_TX] - verdicts[XDP_PASS] -
		       verdicts[XDP_DROP]);
	printf("frames by expectation: mutated %lu, pass %lu, drop %lu, "
	       "to its CID's host %lu, to a live host %lu\n",
	       n_exp[EXP_NONE], n_exp[EXP_PASS], n_exp[EXP_DROP],
	       n_exp[EXP_HOST], n_exp[EXP_LIVE]);
	printf("decapsulated by the host program: %lu frames; broken tunnel "
	       "frames given to it: %lu\n",
	       n_decap, n_decap_mut);
	printf("same answer and a matching record from the trace copy: %lu "
	       "frames\n",
	       n_traced);
	printf("invariant failures: %lu\n", n_fail);
	spoof_probe();
	CHECK(n_fail == 0, "%lu frames broke an invariant", n_fail);
	CHECK(verdicts[XDP_TX] && verdicts[XDP_PASS] && verdicts[XDP_DROP],
	      "every verdict should occur in a run");

	flood(frames < 100000 ? frames : 100000);

	qlb_xdp__destroy(skel);
	qlb_xdp__destroy(tskel);
	qlb_decap__destroy(dskel);
	qlb_config_free(&cfg);
	return t_done("test_xdp_fuzz");
}
