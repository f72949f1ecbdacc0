// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * ns per packet of the LB node's XDP program, by path, beside the empty
 * XDP program measured the same way, for a file of one service (no
 * services:, as every file before services existed) and for a file of 64
 * services (each with its own VIPs, hosts and keyed configs; packets to a
 * VIP of the first, the second and the last). Every run is one
 * BPF_PROG_TEST_RUN with repeat=1 on a fresh copy of the original frame (with
 * repeat>1 the kernel would feed the program its own encapsulated output), and
 * the kernel's own duration of that run is taken: median and mean of many, all
 * paths of both files interleaved. Both configs go through qlb_config_load()
 * and qlb_lb_fill(), as a file does on an LB node. Prints figures; never fails
 * on a time.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "xdp_fixture.h"
#include "qlb_bench_empty.skel.h"
#include "qlb_bench_push.skel.h"

#define RUNS 20000
#define NSVC 64 /* services of the large file: the limit */

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double median, mean, trim; /* trim: mean of the 10th..90th percentile */
	int verdict;
	char to[INET6_ADDRSTRLEN]; /* outer destination of a tx */
};

/* One path to measure: a program and the frame it is fed. */
struct bcase {
	const char *name;
	int prog_fd;
	const struct pkt *k;
	/* where a tx must go: host @want, or (NULL) a host of service
	 * @svc of @cfg; no @cfg: not checked */
	const struct qlb_config *cfg;
	int svc;
	const char *want;
	const char *section; /* a heading printed before this row */
	__u32 *d;	     /* RUNS durations */
	struct result r;
};

#define ROUNDS 100 /* RUNS = ROUNDS * BATCH */
#define BATCH  (RUNS / ROUNDS)

static int run_once(const struct bcase *c, __u32 *dur, int *verdict, char *to)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = c->k->b,
		    .data_size_in = (__u32)c->k->len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(c->prog_fd, &o))
		return -1;
	*verdict = (int)o.retval;
	*dur = o.duration;
	if (to && o.retval == XDP_TX && o.data_size_out >= 14 + 40) {
		/* where the program sent it: the outer destination */
		const uint8_t *ip = out + 14;

		if (out[12] == 0x08 && out[13] == 0x00)
			inet_ntop(AF_INET, ip + 16, to, INET6_ADDRSTRLEN);
		else if (out[12] == 0x86 && out[13] == 0xdd)
			inet_ntop(AF_INET6, ip + 24, to, INET6_ADDRSTRLEN);
	}
	return 0;
}

/*
 * Every case in turn, BATCH runs each, ROUNDS times: the VM's speed drifts
 * (other guests, frequency) by a factor of two between minutes, so cases
 * measured one after the other are not comparable; interleaved, every case
 * sees the same drift and the differences to the floor hold.
 */
static int measure_all(struct bcase *c, int n)
{
	int i, j, r;
	__u32 dummy;

	for (i = 0; i < n; i++) { /* warm caches first */
		snprintf(c[i].r.to, sizeof(c[i].r.to), "-");
		for (j = 0; j < 1000; j++)
			if (run_once(&c[i], &dummy, &c[i].r.verdict,
				     j ? NULL : c[i].r.to))
				return -1;
	}
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < n; i++)
			for (j = 0; j < BATCH; j++)
				if (run_once(&c[i], &c[i].d[r * BATCH + j],
					     &c[i].r.verdict, NULL))
					return -1;
	for (i = 0; i < n; i++) {
		struct result *res = &c[i].r;
		__u32 *d = c[i].d;
		double sum = 0;

		qsort(d, RUNS, sizeof(d[0]), cmp_u32);
		for (j = 0; j < RUNS; j++)
			sum += d[j];
		res->median = d[RUNS / 2];
		res->mean = sum / RUNS;
		/* the clock steps by about 10 ns and other processes add
		 * a long tail: the trimmed mean tells apart changes of a
		 * few ns */
		sum = 0;
		for (j = RUNS / 10; j < RUNS - RUNS / 10; j++)
			sum += d[j];
		res->trim = sum / (RUNS - 2 * (RUNS / 10));
	}
	return 0;
}

/*
 * The decoded-CID cache under a flood, on one CPU (a test run executes on
 * the caller's): 10 000 live four-pass CIDs of web1 (config 1) are sent
 * once, then again, then again each after ten CIDs never seen (random
 * bytes under config 1's codepoint, which decode to no host). Before a
 * live CID is sent again its cache entry is read: there (same CID, tagged
 * with its service) is a hit.
 */
static void flood(struct fx *f)
{
	enum { NLIVE = 10000, NRAND = 100000 };
	static uint8_t live[NLIVE][QLB_CID_MAX_LEN];
	const struct qlb_conf_host *h = &f->cfg.hosts[0];
	int ncpu = libbpf_num_possible_cpus(), i, j, hits[3] = {0};
	struct qlb_lb_cache_ent *ents;
	struct qlb_cid_cfg cc;
	uint8_t q[256], sid[QLB_SID_MAX_LEN], nonce[QLB_NONCE_MAX_LEN];
	struct pkt k;
	cpu_set_t cpus;
	__u32 dummy;
	int verdict;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	ents = calloc((size_t)ncpu, sizeof(*ents));
	if (!ents || sched_setaffinity(0, sizeof(cpus), &cpus) ||
	    qlb_config_cid_cfg(&f->cfg, 1, &cc))
		goto out;
	for (i = 0; i < NLIVE; i++) {
		memset(sid, 0, sizeof(sid));
		memcpy(sid, h->sid[1], cc.sid_len);
		sid[cc.sid_len - 1] |= (uint8_t)(i & 15); /* worker bits */
		if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
			goto out;
		memset(live[i], 0, sizeof(live[i]));
		qlb_cid_encode(&cc, sid, nonce, 0, live[i]);
	}
	/* pass 0 caches every live CID; pass 1 sends them again alone,
	 * pass 2 again, each after ten never-seen ones */
	for (j = 0; j < 3; j++) {
		int n = j == 2 ? NLIVE * 11 : NLIVE;

		for (i = 0; i < n; i++) {
			const uint8_t *cid;
			uint8_t rc[QLB_CID_MAX_LEN];
			struct bcase c = {"flood", f->prog_fd, &k};

			if (j < 2 || i % 11 == 10) {
				__u64 w[3] = {0};
				__u32 idx;

				cid = live[j == 2 ? i / 11 : i];
				memcpy(w, cid, qlb_cid_len(&cc));
				idx = qlb_lb_cid_hash(w) &
				      (QLB_LB_CACHE_SIZE - 1);
				/* an entry holds the CID tagged with its
				 * service (the only one, 0) */
				w[2] ^= QLB_LB_CACHE_SVC(0);
				if (j &&
				    !bpf_map_lookup_elem(f->m.cid_cache, &idx,
							 ents) &&
				    !memcmp(ents[0].cid, w, sizeof(w)))
					hits[j]++;
			} else {
				if (getrandom(rc, sizeof(rc), 0) != sizeof(rc))
					goto out;
				rc[0] = (uint8_t)(1 << 5) | (rc[0] & 0x1f);
				cid = rc;
			}
			fx_frame(&k, -1, "198.18.5.7", "198.18.1.1",
				 IPPROTO_UDP, 50000, 443, q,
				 fx_short(q, cid, qlb_cid_len(&cc), 40), 0, 0);
			if (run_once(&c, &dummy, &verdict, NULL))
				goto out;
		}
	}
	printf("decoded-CID cache (%u entries per CPU, direct-mapped), 10 000 "
	       "live four-pass CIDs sent round robin: %.1f%% hits; among "
	       "100 000 never-seen CIDs: %.1f%% hits\n",
	       QLB_LB_CACHE_SIZE, hits[1] / 100.0, hits[2] / 100.0);
out:
	free(ents);
}

/*
 * One service, as every file written before services existed: no
 * services:, lb.vips, the draft's test-vector configs (0 plaintext,
 * 1 four-pass, 2 single-pass; web1 owns the vectors' server IDs).
 */
static void yaml_one(FILE *f)
{
	fprintf(f,
		"quic_lb:\n"
		"  configs:\n"
		"    - {id: 0, server_id_len: 3, nonce_len: 4, worker_bits: 4,"
		" state: routable}\n"
		"    - {id: 1, server_id_len: 10, nonce_len: 5, worker_bits: 4,"
		" key: %s}\n"
		"    - {id: 2, server_id_len: 8, nonce_len: 8, worker_bits: 4,"
		" key: %s, state: routable}\n"
		"lb:\n"
		"  interface: eth0\n"
		"  gateway_mac: \"02:00:00:00:00:01\"\n"
		"  encap_source_v4: 198.18.0.10\n"
		"  encap_source_v6: \"2001:db8::10\"\n"
		"  vips:\n"
		"    - {address: 198.18.1.1, port: 443}\n"
		"    - {address: \"2001:db8:1::1\", port: 443}\n"
		"hosts:\n"
		"  - {name: web1, address: 198.18.0.21, server_ids: {0: c46050,"
		" 1: ed793a51d49b8f5fab60, 2: ed793a51d49b8f50}}\n"
		"  - {name: web2, address: 198.18.0.22, server_ids: {0: b00000,"
		" 1: b0000000000000000000, 2: b000000000000000}}\n"
		"  - {name: web3, address: \"2001:db8::23\", server_ids: "
		"{0: d00000, 1: d0000000000000000000, 2: d000000000000000}}\n",
		FX_VECTOR_KEY, FX_VECTOR_KEY);
}

/*
 * 64 services, the limit: service s has the VIPs 198.19.s.1:443 and
 * [2001:db8:1:s::1]:443, its own three configs (as above, with a key of
 * its own) and three hosts of 128 (hosts 2s, 2s+1, 2s+2: neighbours share
 * one), each Maglev table of the default size (64 x 65537: the limit).
 * A server ID names the service and the host's place in it.
 */
static void yaml_many(FILE *f)
{
	int s, j;

	fprintf(f, "quic_lb:\n"
		   "  configs:\n"
		   "    - {id: 0, server_id_len: 3, nonce_len: 4}\n"
		   "lb:\n"
		   "  interface: eth0\n"
		   "  gateway_mac: \"02:00:00:00:00:01\"\n"
		   "  encap_source_v4: 198.18.0.10\n"
		   "  encap_source_v6: \"2001:db8::10\"\n"
		   "hosts:\n");
	for (j = 0; j < 2 * NSVC; j++) {
		if (j % 4 == 3) /* some hosts behind IPv6 */
			fprintf(f,
				"  - {name: h%d, address: "
				"\"2001:db8:64::%x\"}\n",
				j, j + 1);
		else
			fprintf(f, "  - {name: h%d, address: 198.18.64.%d}\n",
				j, j + 1);
	}
	fprintf(f, "services:\n");
	for (s = 0; s < NSVC; s++) {
		fprintf(f,
			"  - name: svc%d\n"
			"    quic_lb:\n"
			"      configs:\n"
			"        - {id: 0, server_id_len: 3, nonce_len: 4,"
			" worker_bits: 4, state: routable}\n"
			"        - {id: 1, server_id_len: 10, nonce_len: 5,"
			" worker_bits: 4, key: %032x}\n"
			"        - {id: 2, server_id_len: 8, nonce_len: 8,"
			" worker_bits: 4, key: %032x, state: routable}\n"
			"    vips:\n"
			"      - {address: 198.19.%d.1, port: 443}\n"
			"      - {address: \"2001:db8:1:%x::1\", port: 443}\n"
			"    hosts:\n",
			s, 0x5e0000 + s, 0x5e0000 + s, s, s);
		for (j = 0; j < 3; j++)
			fprintf(f,
				"      - {name: h%d, server_ids: {0: "
				"%02x%02x00,"
				" 1: %02x%02x0000000000000000,"
				" 2: %02x%02x000000000000}}\n",
				(2 * s + j) % (2 * NSVC), 0x10 + j, s, 0x10 + j,
				s, 0x10 + j, s);
	}
}

/* Write a config with @gen and load it as an LB node would. */
static int load_yaml(struct qlb_config *cfg, void (*gen)(FILE *))
{
	char path[] = "/tmp/qlb-bench-xdp-XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f;

	if (fd < 0) {
		perror("mkstemp");
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -1;
	}
	gen(f);
	fclose(f);
	rc = qlb_config_load(path, cfg, stderr);
	unlink(path);
	return rc ? -1 : 0;
}

/* Two copies of the program (decoded-CID cache on and off), filled from
 * @gen's file. */
static int setup(struct fx *live, struct fx *nocache, void (*gen)(FILE *))
{
	struct fx *fs[2] = {live, nocache};
	int i;

	for (i = 0; i < 2; i++) {
		memset(fs[i], 0, sizeof(*fs[i]));
		if (load_yaml(&fs[i]->cfg, gen))
			return -1;
		fs[i]->skel = qlb_xdp__open();
		if (!fs[i]->skel)
			return -1;
		fs[i]->skel->rodata->qlb_cache_off = i;
		if (qlb_xdp__load(fs[i]->skel)) {
			fprintf(stderr,
				"cannot load the XDP program (root?)\n");
			return -1;
		}
		/* fx_load() without its open/load: the maps' fds */
		qlb_lb_maps_from_skel(&fs[i]->m, fs[i]->skel);
		fs[i]->prog_fd =
			bpf_program__fd(fs[i]->skel->progs.qlb_xdp_ingress);
		if (fx_fill(fs[i]))
			return -1;
	}
	return 0;
}

/* A short-header packet to @vip carrying a CID that service @s of @cfg
 * mints for its first host under config @id (worker 5). */
static void svc_short(struct pkt *k, const struct qlb_config *cfg, int s,
		      unsigned int id, const char *src, const char *vip)
{
	const struct qlb_conf_service *svc = &cfg->services[s];
	uint8_t cid[QLB_CID_MAX_LEN], sid[QLB_SID_MAX_LEN] = {0};
	uint8_t nonce[QLB_NONCE_MAX_LEN], q[1400];
	struct qlb_cid_cfg cc;
	size_t n;
	int cl;

	memset(nonce, 0xa5, sizeof(nonce));
	if (qlb_service_cid_cfg(svc, id, &cc)) {
		fprintf(stderr, "service %s has no config %u\n", svc->name, id);
		exit(1);
	}
	memcpy(sid, svc->hosts[0].sid[id], cc.sid_len);
	sid[cc.sid_len - 1] |= 5;
	cl = qlb_cid_encode(&cc, sid, nonce, 0, cid);
	if (cl < 0)
		exit(1);
	n = fx_short(q, cid, (size_t)cl, 1200 - 28 - 1 - (size_t)cl);
	fx_frame(k, -1, src, vip, IPPROTO_UDP, 50000, 443, q, n, 0, 0);
}

static void initial(struct pkt *k, const char *src, const char *vip)
{
	uint8_t cid[8], q[1400];
	size_t n;

	fx_unhex("1c2d3e4f50617283", cid);
	n = fx_long(q, 0, 1, cid, sizeof(cid),
		    strchr(vip, ':') ? 1200 - 48 : 1200 - 28);
	fx_frame(k, -1, src, vip, IPPROTO_UDP, 50000, 443, q, n, 0, 0);
}

/* Where a tx went (the host at its outer destination), and whether that
 * is where it must go: a wrong host is flagged, never failed on. */
static void print_to(const struct bcase *c)
{
	const struct qlb_config *cfg = c->cfg;
	const struct qlb_conf_service *svc = &cfg->services[c->svc];
	const char *name = NULL;
	bool ok = false;
	unsigned int i;

	for (i = 0; i < cfg->nhosts; i++) {
		char a[INET6_ADDRSTRLEN];

		qlb_addr_str(&cfg->hosts[i].address, a, sizeof(a));
		if (strcmp(a, c->r.to))
			continue;
		name = cfg->hosts[i].name;
		ok = c->want ? !strcmp(name, c->want)
			     : qlb_service_host(svc, i) != NULL;
		break;
	}
	printf(" to %s", name ? name : c->r.to);
	if (!ok && c->want)
		printf("  (WRONG: its CID names %s)", c->want);
	else if (!ok)
		printf("  (WRONG: not a host of %s)", svc->name);
}

static const char *vname(int v)
{
	return v == XDP_TX     ? "tx"
	       : v == XDP_PASS ? "pass"
	       : v == XDP_DROP ? "drop"
			       : "?";
}

int main(void)
{
	struct fx one = {0}, one_nc = {0}, many = {0}, many_nc = {0};
	struct qlb_bench_empty *empty;
	struct qlb_bench_push *push;
	uint8_t cid[32], q[1400];
	struct pkt k[8], m[16];
	char last4[32], last6[64];
	size_t n, cl;
	int i;

	libbpf_set_print(NULL);
	if (setup(&one, &one_nc, yaml_one) || setup(&many, &many_nc, yaml_many))
		return 1;
	empty = qlb_bench_empty__open_and_load();
	push = qlb_bench_push__open_and_load();
	if (!empty || !push) {
		fprintf(stderr, "cannot load the empty XDP program\n");
		return 1;
	}

	/* one service: the draft's test vectors, as always */
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 1200 - 28 - 1 - cl);
	fx_frame(&k[0], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	cl = fx_unhex("2fcc381bc74cb4fbad2823a3d1f8fed2", cid);
	n = fx_short(q, cid, cl, 1200 - 28 - 1 - cl);
	fx_frame(&k[1], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	cl = fx_unhex("504dd2d05a7b0de9b2b9907afb5ecf8cc3", cid);
	n = fx_short(q, cid, cl, 1200 - 28 - 1 - cl);
	fx_frame(&k[2], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	initial(&k[3], "198.18.5.7", "198.18.1.1");
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 1200 - 48 - 1 - cl);
	fx_frame(&k[4], -1, "2001:db8:5::7", "2001:db8:1::1", IPPROTO_UDP,
		 50000, 443, q, n, 0, 0);
	/* a Handshake: long header, the server's plaintext CID */
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_long(q, 2, 1, cid, cl, 1200 - 28);
	fx_frame(&k[6], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	fx_frame(&k[5], -1, "198.18.5.7", "198.18.9.9", IPPROTO_UDP, 50000, 443,
		 q, 100, 0, 0);

	/* 64 services: the first's and the last's VIPs, CIDs of their own
	 * first host */
	snprintf(last4, sizeof(last4), "198.19.%d.1", NSVC - 1);
	snprintf(last6, sizeof(last6), "2001:db8:1:%x::1", NSVC - 1);
	svc_short(&m[0], &many.cfg, 0, 0, "198.18.5.7", "198.19.0.1");
	svc_short(&m[1], &many.cfg, 0, 1, "198.18.5.7", "198.19.0.1");
	svc_short(&m[2], &many.cfg, 0, 2, "198.18.5.7", "198.19.0.1");
	initial(&m[3], "198.18.5.7", "198.19.0.1");
	svc_short(&m[4], &many.cfg, NSVC - 1, 0, "198.18.5.7", last4);
	svc_short(&m[5], &many.cfg, NSVC - 1, 1, "198.18.5.7", last4);
	svc_short(&m[6], &many.cfg, NSVC - 1, 2, "198.18.5.7", last4);
	initial(&m[7], "198.18.5.7", last4);
	svc_short(&m[8], &many.cfg, NSVC - 1, 1, "2001:db8:5::7", last6);
	/* the first service's four-pass CID at the last one's VIP: another
	 * key, so it decodes to no host of the last and takes its fallback */
	svc_short(&m[9], &many.cfg, 0, 1, "198.18.5.7", last4);
	fx_frame(&m[10], -1, "198.18.5.7", "198.18.9.9", IPPROTO_UDP, 50000,
		 443, q, 100, 0, 0);
	/* the second service: an index other than 0, a neighbour of the
	 * first (they share a host) */
	svc_short(&m[11], &many.cfg, 1, 0, "198.18.5.7", "198.19.1.1");
	svc_short(&m[12], &many.cfg, 1, 1, "198.18.5.7", "198.19.1.1");
	initial(&m[13], "198.18.5.7", "198.19.1.1");

	{
		const struct qlb_config *o = &one.cfg, *y = &many.cfg;
		const char *h0 = y->hosts[y->services[0].hosts[0].host].name;
		const char *h1 = y->hosts[y->services[1].hosts[0].host].name;
		const char *hl =
			y->hosts[y->services[NSVC - 1].hosts[0].host].name;
		struct bcase c[] = {
			{"empty XDP program (floor)",
			 bpf_program__fd(empty->progs.qlb_bench_empty), &k[0]},
			{"only bpf_xdp_adjust_head(-28) + XDP_TX",
			 bpf_program__fd(push->progs.qlb_bench_push), &k[0]},
			{"short header, plaintext CID, routed (IPv4, GUE)",
			 one.prog_fd, &k[0], o, 0, "web1",
			 "one service (no services:; 2 VIPs, 3 hosts, configs "
			 "0..2)"},
			{"short header, four-pass CID, routed", one.prog_fd,
			 &k[1], o, 0, "web1"},
			{"  the same, decoded every packet (no cache)",
			 one_nc.prog_fd, &k[1], o, 0, "web1"},
			{"short header, single-pass CID, routed", one.prog_fd,
			 &k[2], o, 0, "web1"},
			{"  the same, decoded every packet (no cache)",
			 one_nc.prog_fd, &k[2], o, 0, "web1"},
			{"long header Initial, Maglev fallback", one.prog_fd,
			 &k[3], o, 0, NULL},
			{"long header Handshake, plaintext CID, routed",
			 one.prog_fd, &k[6], o, 0, "web1"},
			{"short header, plaintext CID, routed (IPv6 VIP)",
			 one.prog_fd, &k[4], o, 0, "web1"},
			{"not for a VIP (passed)", one.prog_fd, &k[5]},
			{"short header, plaintext CID, routed", many.prog_fd,
			 &m[0], y, 0, h0,
			 "64 services, a VIP of the first (each service: 2 "
			 "VIPs, 3 of 128 hosts, keyed configs 0..2)"},
			{"short header, four-pass CID, routed", many.prog_fd,
			 &m[1], y, 0, h0},
			{"  the same, decoded every packet (no cache)",
			 many_nc.prog_fd, &m[1], y, 0, h0},
			{"short header, single-pass CID, routed", many.prog_fd,
			 &m[2], y, 0, h0},
			{"long header Initial, Maglev fallback", many.prog_fd,
			 &m[3], y, 0, NULL},
			{"short header, plaintext CID, routed", many.prog_fd,
			 &m[11], y, 1, h1, "64 services, a VIP of the second"},
			{"short header, four-pass CID, routed", many.prog_fd,
			 &m[12], y, 1, h1},
			{"long header Initial, Maglev fallback", many.prog_fd,
			 &m[13], y, 1, NULL},
			{"short header, plaintext CID, routed", many.prog_fd,
			 &m[4], y, NSVC - 1, hl,
			 "64 services, a VIP of the last"},
			{"short header, four-pass CID, routed", many.prog_fd,
			 &m[5], y, NSVC - 1, hl},
			{"  the same, decoded every packet (no cache)",
			 many_nc.prog_fd, &m[5], y, NSVC - 1, hl},
			{"short header, single-pass CID, routed", many.prog_fd,
			 &m[6], y, NSVC - 1, hl},
			{"long header Initial, Maglev fallback", many.prog_fd,
			 &m[7], y, NSVC - 1, NULL},
			{"short header, four-pass CID, routed (IPv6 VIP)",
			 many.prog_fd, &m[8], y, NSVC - 1, hl},
			{"the first service's four-pass CID: fallback",
			 many.prog_fd, &m[9], y, NSVC - 1, NULL},
			{"  the same, decoded every packet (no cache)",
			 many_nc.prog_fd, &m[9], y, NSVC - 1, NULL},
			{"not for a VIP (passed)", many.prog_fd, &m[10]},
		};
		int nc = (int)(sizeof(c) / sizeof(c[0]));

		for (i = 0; i < nc; i++) {
			c[i].d = calloc(RUNS, sizeof(*c[i].d));
			if (!c[i].d)
				return 1;
		}
		if (measure_all(c, nc)) {
			perror("test run");
			return 1;
		}
		printf("XDP ns/packet, BPF_PROG_TEST_RUN repeat=1 on a fresh "
		       "copy each run, %d runs per path, interleaved in %d "
		       "rounds:\n",
		       RUNS, ROUNDS);
		printf("  %-50s %7s %7s %7s %7s %7s  %s\n", "path", "median",
		       "mean", "trimmed", "-empty", "/empty", "verdict");
		for (i = 0; i < nc; i++) {
			char over[16] = "-", ratio[16] = "-";

			if (c[i].section)
				printf(" %s:\n", c[i].section);
			if (i) {
				snprintf(over, sizeof(over), "%+.1f",
					 c[i].r.trim - c[0].r.trim);
				snprintf(ratio, sizeof(ratio), "%.2f",
					 c[i].r.trim / c[0].r.trim);
			}
			printf("  %-50s %7.0f %7.1f %7.1f %7s %7s  %s",
			       c[i].name, c[i].r.median, c[i].r.mean,
			       c[i].r.trim, over, ratio, vname(c[i].r.verdict));
			if (c[i].cfg && c[i].r.verdict == XDP_TX)
				print_to(&c[i]);
			printf("\n");
			free(c[i].d);
		}
	}
	printf("(-empty: trimmed mean minus the floor's; /empty: trimmed "
	       "mean over the floor's; figures include the test-run "
	       "harness: compare with the floor, not absolutely; \"to\": "
	       "the host at the outer destination)\n");
	flood(&one);
	qlb_bench_empty__destroy(empty);
	qlb_bench_push__destroy(push);
	qlb_xdp__destroy(one.skel);
	qlb_xdp__destroy(one_nc.skel);
	qlb_xdp__destroy(many.skel);
	qlb_xdp__destroy(many_nc.skel);
	qlb_config_free(&one.cfg);
	qlb_config_free(&one_nc.cfg);
	qlb_config_free(&many.cfg);
	qlb_config_free(&many_nc.cfg);
	return 0;
}
