// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Services on the LB node's data path (docs/lb.md, "Services"): a packet's
 * VIP selects its service; its CID is decoded with that service's configs
 * only and routes only to that service's members; Initials and CIDs that
 * do not route take the service's own Maglev table. Driven from files the
 * loader reads (tests/config/svc_two.yaml: two services with the same
 * config id and different keys, one host in both; a generated file of 64
 * services), through BPF_PROG_TEST_RUN on a private copy of the program
 * and through `qlbctl trace` on a pcap, as a user runs it.
 *
 * Expected hosts are worked out here, not read from the program: server
 * IDs from the file, Maglev tables built over each service's members by
 * ctl/maglev.c (its own unit test pins it), the flow hash of lb_abi.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "t.h"
#include "xdp_fixture.h"
#include "pcap.h"

#define SVC_TWO	  "tests/config/svc_two.yaml"
#define TUPLES	  300 /* random 4-tuples per check */
#define NONCES	  64  /* CIDs per host and service */
#define TBL	  65537
#define SVC64	  64
#define SVC64_HST 128

static char qlbctl[512], dir[64];
static unsigned int seed = 20261207;

static uint32_t rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

/* ---- the config as loaded, and what it says ----------------------------- */

static int svc_index(const struct qlb_config *cfg, const char *name)
{
	const struct qlb_conf_service *s = qlb_config_service(cfg, name);

	return s ? (int)(s - cfg->services) : -1;
}

static int host_index(const struct qlb_config *cfg, const char *name)
{
	const struct qlb_conf_host *h = qlb_config_host(cfg, name);

	return h ? (int)(h - cfg->hosts) : -1;
}

/* The host name of member @m, or NULL; its service in @svc. */
static const char *member_host(const struct qlb_config *cfg, uint32_t m,
			       int *svc)
{
	unsigned int s;

	for (s = 0; s < cfg->nservices; s++) {
		const struct qlb_conf_service *v = &cfg->services[s];

		if (m >= v->member_first && m < v->member_first + v->nhosts) {
			if (svc)
				*svc = (int)s;
			return cfg->hosts[v->hosts[m - v->member_first].host]
				.name;
		}
	}
	return NULL;
}

/* Member index of host @name in service @s, or -1. */
static int member_of(const struct qlb_config *cfg, int s, const char *name)
{
	const struct qlb_conf_service *v = &cfg->services[s];
	int h = host_index(cfg, name);
	unsigned int j;

	for (j = 0; j < v->nhosts; j++)
		if ((int)v->hosts[j].host == h)
			return (int)(v->member_first + j);
	return -1;
}

/* Service @s's Maglev table of new flows as the contract says: over its
 * members not down, by host name and weight (no draining host here). */
static void svc_table(const struct qlb_config *cfg, int s, uint32_t *t)
{
	const struct qlb_conf_service *v = &cfg->services[s];
	struct qlb_maglev_backend *b = calloc(v->nhosts + 1, sizeof(*b));
	unsigned int j, n = 0;

	for (j = 0; b && j < v->nhosts; j++) {
		const struct qlb_conf_host *h = &cfg->hosts[v->hosts[j].host];
		enum qlb_host_state st = v->hosts[j].state;

		if (h->state > st)
			st = h->state;
		if (st == QLB_HOST_DOWN || !h->weight)
			continue;
		b[n++] = (struct qlb_maglev_backend){h->name, h->weight,
						     v->member_first + j};
	}
	qlb_maglev_build(b, n, cfg->lb.maglev_table_size, t);
	free(b);
}

/* A CID of host @name under config @id of service @s, nonce from @r. */
static int mint(const struct qlb_config *cfg, int s, const char *name,
		unsigned int id, uint8_t *cid)
{
	const struct qlb_conf_service *v = &cfg->services[s];
	const struct qlb_conf_svc_host *sh =
		qlb_service_host(v, (unsigned int)host_index(cfg, name));
	struct qlb_cid_cfg c;
	uint8_t nonce[18];
	unsigned int i;

	if (!sh || !sh->has_sid[id] || qlb_service_cid_cfg(v, id, &c))
		return -1;
	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)rnd();
	return qlb_cid_encode(&c, sh->sid[id], nonce, 0, cid);
}

/* ---- frames -------------------------------------------------------------- */

static void rnd_client(char *a, size_t len, int v6)
{
	if (v6)
		snprintf(a, len, "2001:db8:77::%x:%x", rnd() & 0xffff,
			 rnd() & 0xffff);
	else
		snprintf(a, len, "198.19.%u.%u", rnd() % 250 + 1,
			 rnd() % 250 + 1);
}

/* An Initial from a random client to @vip:@port. */
static void initial(struct pkt *k, const char *vip, uint16_t port)
{
	uint8_t q[1300], dcid[8];
	char cl[64];
	size_t n;
	unsigned int i;

	for (i = 0; i < sizeof(dcid); i++)
		dcid[i] = (uint8_t)rnd();
	n = fx_long(q, 0, 1, dcid, sizeof(dcid), 1200);
	rnd_client(cl, sizeof(cl), strchr(vip, ':') != NULL);
	fx_frame(k, -1, cl, vip, IPPROTO_UDP, (uint16_t)(1024 + rnd() % 60000),
		 port, q, n, 0, 0);
}

/* A short header with @cid from a random client to @vip:@port. */
static void short_hdr(struct pkt *k, const char *vip, uint16_t port,
		      const uint8_t *cid, size_t cl)
{
	uint8_t q[256];
	char c[64];
	size_t n = fx_short(q, cid, cl, 40);

	rnd_client(c, sizeof(c), strchr(vip, ':') != NULL);
	fx_frame(k, -1, c, vip, IPPROTO_UDP, (uint16_t)(1024 + rnd() % 60000),
		 port, q, n, 0, 0);
}

static int run(struct fx *f, const struct pkt *k, struct qlb_lb_trace *t)
{
	uint8_t out[2048];
	size_t ol = sizeof(out);
	int r = fx_run(f, k->b, k->len, out, &ol);

	memset(t, 0, sizeof(*t));
	if (fx_trace(f, t))
		return -1;
	return r;
}

/* ---- two services, the same config id, different keys ------------------ */

static struct fx F; /* trace build of svc_two.yaml */
static uint32_t tab[2][TBL];
static int A, B;

/* Every Initial to a VIP of service @s lands on the member its table
 * names, a member of @s; returns how many landed on host @count. */
static unsigned int initials_land(int s, const char *vip, uint16_t port,
				  const char *count)
{
	unsigned int i, bad = 0, wrong_svc = 0, hits = 0;
	struct qlb_lb_trace t;
	struct pkt k;
	int ms;

	for (i = 0; i < TUPLES; i++) {
		uint32_t want;
		const char *h;

		initial(&k, vip, port);
		want = tab[s][qlb_lb_maglev_index(fx_flow_hash(&k), TBL)];
		if (run(&F, &k, &t) != XDP_TX || t.reason != QLB_R_FB_INITIAL ||
		    t.host != want || t.service != (uint32_t)s) {
			bad++;
			continue;
		}
		h = member_host(&F.cfg, t.host, &ms);
		if (!h || ms != s)
			wrong_svc++;
		else if (!strcmp(h, count))
			hits++;
	}
	CHECK(bad == 0, "%s:%u: %u of %d Initials not on service %d's table",
	      vip, port, bad, TUPLES, s);
	CHECK(wrong_svc == 0, "%s:%u: %u Initials left service %d", vip, port,
	      wrong_svc, s);
	return hits;
}

static void two_initials(void)
{
	unsigned int h1 = initials_land(A, "198.18.1.1", 443, "h1");
	unsigned int h4 = initials_land(B, "198.18.1.2", 443, "h4");
	unsigned int h3 = initials_land(B, "198.18.1.1", 8443, "h3");

	printf("initials: alpha->h1 %u, beta->h4 %u, beta(:8443)->h3 %u of "
	       "%d\n",
	       h1, h4, h3, TUPLES);
	/* each pool is used, not one host of it */
	CHECK(h1 > TUPLES / 8 && h1 < TUPLES * 5 / 8, "alpha spread: h1 %u",
	      h1);
	CHECK(h4 > TUPLES / 5 && h4 < TUPLES * 4 / 5, "beta spread: h4 %u", h4);
	CHECK(h3 > TUPLES / 5 && h3 < TUPLES * 4 / 5, "beta spread: h3 %u", h3);
}

/*
 * CIDs of service @from's member @host sent to a VIP of service @to: routed
 * to that member when @from == @to; else decoded with @to's key, which
 * gives a server ID of @to's only by chance (then that member, still of
 * @to), otherwise @to's fallback: never a member of @from outside @to.
 */
static void cids(int from, const char *host, int to, const char *vip,
		 uint16_t port, int twice)
{
	const struct qlb_conf_service *tv = &F.cfg.services[to];
	unsigned int i, bad = 0, leaked = 0, fb = 0;
	struct qlb_lb_trace t;
	uint8_t cid[32];
	struct pkt k;
	int cl, ms;

	for (i = 0; i < NONCES; i++) {
		uint8_t sid[QLB_SID_MAX_LEN] = {0};
		struct qlb_cid_cfg c;
		uint32_t want = QLB_LB_NO_HOST;
		unsigned int j, r;
		const char *h;

		cl = mint(&F.cfg, from, host, 1, cid);
		if (cl < 0) {
			bad++;
			continue;
		}
		short_hdr(&k, vip, port, cid, (size_t)cl);
		/* what @to's key makes of it, worked out here */
		qlb_service_cid_cfg(tv, 1, &c);
		qlb_cid_decode_sid(&c, cid, sid);
		for (j = 0; j < tv->nhosts; j++)
			if (tv->hosts[j].has_sid[1] &&
			    !memcmp(tv->hosts[j].sid[1], sid, c.sid_len))
				want = tv->member_first + j;
		for (r = 0; r <= (unsigned int)twice; r++) {
			/* the second time from the decoded-CID cache */
			if (run(&F, &k, &t) != XDP_TX ||
			    t.service != (uint32_t)to) {
				bad++;
				continue;
			}
			h = member_host(&F.cfg, t.host, &ms);
			if (!h || ms != to)
				leaked++;
			if (want != QLB_LB_NO_HOST) {
				if (t.reason != QLB_R_ROUTED_CID ||
				    t.host != want)
					bad++;
				continue;
			}
			fb++;
			if (t.reason != QLB_R_FB_UNKNOWN_SID ||
			    t.host != tab[to][qlb_lb_maglev_index(
					      fx_flow_hash(&k), TBL)])
				bad++;
		}
	}
	CHECK(bad == 0, "%s's CIDs of %s to %s:%u: %u of %d wrong",
	      F.cfg.services[from].name, host, vip, port, bad, NONCES);
	CHECK(leaked == 0,
	      "%s's CIDs of %s to %s:%u: %u reached a host outside %s",
	      F.cfg.services[from].name, host, vip, port, leaked, tv->name);
	if (from == to)
		CHECK(fb == 0, "%u CIDs took the fallback in their own service",
		      fb);
	else
		CHECK(fb >= (unsigned int)NONCES * (twice + 1) * 9 / 10,
		      "another service's CIDs: only %u of %d took the fallback",
		      fb, NONCES * (twice + 1));
}

static void two_cids(void)
{
	/* routed within their own service, keyed under each one's key */
	cids(A, "h1", A, "198.18.1.1", 443, 1);
	cids(A, "h3", A, "198.18.1.1", 443, 1);
	cids(B, "h3", B, "198.18.1.2", 443, 1);
	cids(B, "h4", B, "198.18.1.1", 8443, 1);
	/* alpha's CIDs at beta's VIPs (the same address too): beta's
	 * fallback, twice each, so the second meets the cache alpha's
	 * decode might have left */
	cids(A, "h1", B, "198.18.1.2", 443, 1);
	cids(A, "h2", B, "198.18.1.1", 8443, 1);
	cids(A, "h3", B, "198.18.1.2", 443, 1);
	cids(B, "h4", A, "198.18.1.1", 443, 1);
}

/* The same CID, first to alpha's VIP (decoded and cached under alpha),
 * then to beta's: the cache must not answer for beta with alpha's host. */
static void cache_by_service(void)
{
	unsigned int i, bad = 0;
	struct qlb_lb_trace t;
	uint8_t cid[32];
	struct pkt ka, kb;
	int cl, m1 = member_of(&F.cfg, A, "h1");

	CHECK(fx_cache_clear(bpf_map__fd(F.skel->maps.qlb_cid_cache)) == 0,
	      "clear the cache");
	for (i = 0; i < NONCES; i++) {
		cl = mint(&F.cfg, A, "h1", 1, cid);
		short_hdr(&ka, "198.18.1.1", 443, cid, (size_t)cl);
		memcpy(&kb, &ka, sizeof(kb));
		/* same frame, but to beta's VIP on the same address */
		put16(kb.b + kb.l3 + 20 + 2, 8443);
		if (run(&F, &ka, &t) != XDP_TX || t.host != (uint32_t)m1 ||
		    t.reason != QLB_R_ROUTED_CID)
			bad++;
		if (run(&F, &kb, &t) != XDP_TX || t.service != (uint32_t)B ||
		    t.reason == QLB_R_ROUTED_CID)
			bad++;
		if (run(&F, &ka, &t) != XDP_TX || t.host != (uint32_t)m1)
			bad++;
	}
	CHECK(bad == 0, "cache by service: %u of %d wrong", bad, 3 * NONCES);
	CHECK(fx_cache_walk(bpf_map__fd(F.skel->maps.qlb_cid_cache), NULL,
			    NULL) > 0,
	      "alpha's decodes are cached");
}

/* Packets routed by config 1 of service @s (qlb_cfg_stats_v2, all CPUs). */
static unsigned long long cfg_routed(int s)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct qlb_lb_counter *pc =
		calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*pc));
	__u32 key = QLB_LB_CFG_KEY((unsigned int)s, 1);
	unsigned long long n = 0;

	if (pc && ncpu > 0 && !bpf_map_lookup_elem(F.m.cfg_stats, &key, pc))
		for (i = 0; i < ncpu; i++)
			n += pc[i].packets;
	free(pc);
	return n;
}

/* A routed packet counts for its service's config, not for the other
 * service's config of the same id. */
static void cfg_stats(void)
{
	unsigned long long a0 = cfg_routed(A), b0 = cfg_routed(B);
	struct qlb_lb_trace t;
	uint8_t cid[32];
	struct pkt k;
	int i, cl;

	for (i = 0; i < 10; i++) {
		cl = mint(&F.cfg, A, "h2", 1, cid);
		short_hdr(&k, "198.18.1.1", 443, cid, (size_t)cl);
		run(&F, &k, &t); /* routed: alpha's config 1 */
		short_hdr(&k, "198.18.1.2", 443, cid, (size_t)cl);
		run(&F, &k, &t); /* beta's fallback: not routed */
	}
	for (i = 0; i < 5; i++) {
		cl = mint(&F.cfg, B, "h4", 1, cid);
		short_hdr(&k, "198.18.1.2", 443, cid, (size_t)cl);
		run(&F, &k, &t);
	}
	CHECK(cfg_routed(A) - a0 == 10 && cfg_routed(B) - b0 == 5,
	      "routed by config 1: alpha +%llu (want 10), beta +%llu (want 5)",
	      cfg_routed(A) - a0, cfg_routed(B) - b0);
}

/* h3 down in alpha only (as the health view sets it): it leaves alpha's
 * table and alpha's CID routing, and still serves beta. */
static void state_per_service(void)
{
	struct qlb_conf_service *va = &F.cfg.services[A];
	int j = member_of(&F.cfg, A, "h3") - (int)va->member_first;
	int m3b = member_of(&F.cfg, B, "h3");
	unsigned int i, bad = 0, n;
	struct qlb_lb_trace t;
	uint8_t cid[32];
	struct pkt k;
	int cl, ms;

	va->hosts[j].state = QLB_HOST_DOWN;
	CHECK(fx_fill(&F) == 0, "refill with h3 down in alpha");
	svc_table(&F.cfg, A, tab[A]);
	svc_table(&F.cfg, B, tab[B]);
	n = initials_land(A, "198.18.1.1", 443, "h3");
	CHECK(n == 0, "%u of alpha's Initials went to h3, down in alpha", n);
	n = initials_land(B, "198.18.1.2", 443, "h3");
	CHECK(n > TUPLES / 5, "h3 still takes beta's Initials (%u)", n);
	for (i = 0; i < NONCES; i++) {
		const char *h;

		cl = mint(&F.cfg, A, "h3", 1, cid);
		short_hdr(&k, "198.18.1.1", 443, cid, (size_t)cl);
		if (run(&F, &k, &t) != XDP_TX ||
		    t.reason != QLB_R_FB_HOST_DOWN ||
		    t.host !=
			    tab[A][qlb_lb_maglev_index(fx_flow_hash(&k), TBL)])
			bad++;
		h = member_host(&F.cfg, t.host, &ms);
		if (!h || ms != A || !strcmp(h, "h3"))
			bad++;
		cl = mint(&F.cfg, B, "h3", 1, cid);
		short_hdr(&k, "198.18.1.2", 443, cid, (size_t)cl);
		if (run(&F, &k, &t) != XDP_TX || t.reason != QLB_R_ROUTED_CID ||
		    t.host != (uint32_t)m3b)
			bad++;
	}
	CHECK(bad == 0, "h3 down in alpha only: %u wrong", bad);
	va->hosts[j].state = QLB_HOST_ACTIVE;
	CHECK(fx_fill(&F) == 0, "refill with h3 back");
	svc_table(&F.cfg, A, tab[A]);
}

/* ---- qlbctl trace names the service ------------------------------------- */

static int sh(const char *args, char *out, size_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>%s/err", qlbctl, args, dir);
	return t_popen(cmd, out, len);
}

static const char *nth_line(const char *s, int n, char *line, size_t len)
{
	const char *e;

	while (n-- > 0 && (s = strchr(s, '\n')))
		s++;
	if (!s || !*s)
		return NULL;
	e = strchr(s, '\n');
	snprintf(line, len, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
	return line;
}

static void trace_cli(void)
{
	struct qlb_pcap_rec rec = {1700000000, 0, 0, 0};
	struct qlb_pcap_writer w;
	char pc[128], args[512], line[512], *o = malloc(65536);
	uint8_t cid[32], a_cid[32];
	struct pkt k[5];
	int cl, acl, i;

	if (!o)
		return;
	acl = mint(&F.cfg, A, "h2", 1, a_cid);
	initial(&k[0], "198.18.1.1", 443);
	initial(&k[1], "198.18.1.2", 443);
	short_hdr(&k[2], "198.18.1.1", 443, a_cid, (size_t)acl);
	short_hdr(&k[3], "198.18.1.1", 8443, a_cid, (size_t)acl);
	cl = mint(&F.cfg, B, "h4", 1, cid);
	short_hdr(&k[4], "198.18.9.9", 443, cid, (size_t)cl); /* no VIP */
	snprintf(pc, sizeof(pc), "%s/in.pcap", dir);
	CHECK(qlb_pcap_create(&w, pc, 1) == 0, "create pcap");
	for (i = 0; i < 5; i++)
		qlb_pcap_write(&w, &rec, k[i].b, k[i].len);
	qlb_pcap_finish(&w);

	snprintf(args, sizeof(args), "-j trace -f %s %s", SVC_TWO, pc);
	CHECK(sh(args, o, 65536) == 0, "trace exit: %s", o);
	printf("%s", o);
	{
		static const char *const want[][3] = {
			{"\"reason\":\"fallback_initial\"",
			 "\"service\":\"alpha\"", "\"host\":\"h"},
			{"\"reason\":\"fallback_initial\"",
			 "\"service\":\"beta\"", "\"host\":\"h"},
			{"\"host\":\"h2\"", "\"reason\":\"routed_cid\"",
			 "\"service\":\"alpha\""},
			{"\"reason\":\"fallback_unknown_server_id\"",
			 "\"service\":\"beta\"", "\"vip\":\"198.18.1.1:8443\""},
			{"\"action\":\"pass\"", "\"service\":null",
			 "\"host\":null"},
		};

		for (i = 0; i < 5; i++) {
			int j;

			if (!nth_line(o, i, line, sizeof(line))) {
				CHECK(0, "line %d missing", i + 1);
				continue;
			}
			for (j = 0; j < 3; j++)
				CHECK(strstr(line, want[i][j]),
				      "packet %d: '%s' not in %s", i + 1,
				      want[i][j], line);
		}
		/* beta's packets name beta's hosts only */
		for (i = 1; i < 4; i += 2)
			if (nth_line(o, i, line, sizeof(line)))
				CHECK(strstr(line, "\"host\":\"h3\"") ||
					      strstr(line, "\"host\":\"h4\""),
				      "packet %d: not a host of beta: %s",
				      i + 1, line);
	}
	snprintf(args, sizeof(args), "trace -f %s %s", SVC_TWO, pc);
	CHECK(sh(args, o, 65536) == 0, "trace (text) exit");
	CHECK(nth_line(o, 2, line, sizeof(line)) &&
		      strstr(line, "3 tx host=h2 reason=routed_cid "
				   "config_id=1 ") &&
		      strstr(line, " service=alpha "),
	      "text line: %s", line);
	CHECK(nth_line(o, 4, line, sizeof(line)) &&
		      strstr(line, "5 pass host=- reason=passed service=-"),
	      "text line: %s", line);
	free(o);
}

/* ---- 64 services --------------------------------------------------------- */

/* 128 hosts; service i has VIP 198.18.2.i:443 and hosts 2i, 2i+1, 2i+2
 * (so each shares one host with the next), the top-level plaintext
 * config 0. */
static int write_svc64(const char *path)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f)
		return -1;
	fprintf(f, "quic_lb:\n  configs:\n    - id: 0\n      server_id_len: 2\n"
		   "      nonce_len: 6\n"
		   "lb:\n  interface: qlbt-nosvc\n  xdp_mode: generic\n"
		   "  gateway_mac: \"02:00:00:00:00:01\"\n"
		   "  encap_source_v4: 198.18.0.10\n"
		   "  pin_dir: /sys/fs/bpf/qlb-none/svc64\n"
		   "hosts:\n");
	for (i = 0; i < SVC64_HST; i++)
		fprintf(f,
			"  - name: s%03d\n    address: 198.18.%d.%d\n"
			"    server_id: \"%04x\"\n",
			i, 40 + i / 200, i % 200 + 1, 0x100 + i);
	fprintf(f, "services:\n");
	for (i = 0; i < SVC64; i++)
		fprintf(f,
			"  - name: svc%02d\n    vips:\n"
			"      - address: 198.18.2.%d\n        port: 443\n"
			"    hosts: [s%03d, s%03d, s%03d]\n",
			i, i + 1, 2 * i, 2 * i + 1, (2 * i + 2) % SVC64_HST);
	return fclose(f);
}

static void svc64(void)
{
	struct fx f = {0};
	char path[128], vip[32], nvip[32];
	unsigned int i, j, bad_init = 0, bad_own = 0, bad_other = 0;
	struct qlb_lb_trace t;
	uint8_t cid[32];
	struct pkt k;
	int n, cl, ms;

	snprintf(path, sizeof(path), "%s/svc64.yaml", dir);
	CHECK(write_svc64(path) == 0, "write %s", path);
	n = qlb_config_load(path, &f.cfg, stderr);
	CHECK(n == 0 && f.cfg.nservices == SVC64, "load %s: %d problems", path,
	      n);
	if (n)
		return;
	if (fx_load(&f, 1) || fx_fill(&f)) {
		CHECK(0, "load and fill 64 services");
		qlb_config_free(&f.cfg);
		return;
	}
	for (i = 0; i < SVC64; i++) {
		const struct qlb_conf_service *v = &f.cfg.services[i];
		int nx = (int)(i + 1) % SVC64;

		snprintf(vip, sizeof(vip), "198.18.2.%u", i + 1);
		snprintf(nvip, sizeof(nvip), "198.18.2.%d", nx + 1);
		for (j = 0; j < 8; j++) {
			initial(&k, vip, 443);
			if (run(&f, &k, &t) != XDP_TX || t.service != i ||
			    !member_host(&f.cfg, t.host, &ms) || ms != (int)i)
				bad_init++;
		}
		/* the service's first host: routed to its member here */
		cl = mint(&f.cfg, (int)i, f.cfg.hosts[v->hosts[0].host].name, 0,
			  cid);
		short_hdr(&k, vip, 443, cid, (size_t)cl);
		if (run(&f, &k, &t) != XDP_TX || t.reason != QLB_R_ROUTED_CID ||
		    t.service != i || t.host != v->member_first)
			bad_own++;
		/* at the next service's VIP (which it does not serve): that
		 * service's fallback, one of its members */
		short_hdr(&k, nvip, 443, cid, (size_t)cl);
		if (run(&f, &k, &t) != XDP_TX ||
		    t.reason != QLB_R_FB_UNKNOWN_SID ||
		    t.service != (uint32_t)nx ||
		    !member_host(&f.cfg, t.host, &ms) || ms != nx)
			bad_other++;
	}
	CHECK(bad_init == 0, "64 services: %u of %d Initials wrong", bad_init,
	      8 * SVC64);
	CHECK(bad_own == 0, "64 services: %u CIDs not routed in their service",
	      bad_own);
	CHECK(bad_other == 0,
	      "64 services: %u CIDs at another service's VIP not its "
	      "fallback",
	      bad_other);
	/* beyond the limits: refused with a reason, the slot in use kept */
	{
		struct qlb_config c = f.cfg;
		struct qlb_lb_ctrl c1, c2;
		char err[256] = "";
		__u32 zero = 0;
		int r1, r2;

		bpf_map_lookup_elem(f.m.ctrl, &zero, &c1);
		c.lb.maglev_table_size = 65539; /* 64 x 65539 > the pool */
		r1 = qlb_lb_fill(&f.m, &c, fx_if_mac, 1, 0, err, sizeof(err));
		CHECK(r1 == -1 && strstr(err, "Maglev"),
		      "64 tables of 65539 refused: %d %s", r1, err);
		c.lb.maglev_table_size = 65537;
		c.nservices = QLB_LB_MAX_SERVICES + 1;
		err[0] = 0;
		r2 = qlb_lb_fill(&f.m, &c, fx_if_mac, 1, 0, err, sizeof(err));
		CHECK(r2 == -1 && strstr(err, "services"),
		      "65 services refused: %d %s", r2, err);
		bpf_map_lookup_elem(f.m.ctrl, &zero, &c2);
		CHECK(c2.gen == c1.gen && c2.slot == c1.slot,
		      "a refused fill changes nothing (generation %u -> %u)",
		      c1.gen, c2.gen);
		printf("limits: %s\n", err);
	}
	qlb_xdp__destroy(f.skel);
	qlb_config_free(&f.cfg);
}

int main(void)
{
	const char *build = getenv("BUILD");
	char cmd[128];
	int n;

	libbpf_set_print(NULL);
	snprintf(qlbctl, sizeof(qlbctl), "%s/qlbctl", build ? build : "build");
	snprintf(dir, sizeof(dir), "/tmp/qlb-test-svc-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	n = qlb_config_load(SVC_TWO, &F.cfg, stderr);
	if (n) {
		fprintf(stderr, "%s: %d problems\n", SVC_TWO, n);
		return 1;
	}
	A = svc_index(&F.cfg, "alpha");
	B = svc_index(&F.cfg, "beta");
	CHECK(A == 0 && B == 1, "services alpha and beta");
	if (fx_load(&F, 1) || fx_fill(&F)) {
		fprintf(stderr,
			"cannot load or fill the XDP program (root?)\n");
		return 1;
	}
	svc_table(&F.cfg, A, tab[A]);
	svc_table(&F.cfg, B, tab[B]);

	two_initials();
	two_cids();
	cache_by_service();
	cfg_stats();
	state_per_service();
	trace_cli();
	svc64();

	qlb_xdp__destroy(F.skel);
	qlb_config_free(&F.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (!getenv("QLB_KEEP") && system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return t_done("test_xdp_services");
}
