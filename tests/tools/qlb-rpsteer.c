// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-rpsteer: qlb_reuseport_select on real sockets, without the agent. It
 * enters a network namespace of its own (unshare), binds a SO_REUSEPORT
 * group of UDP sockets on 127.0.0.1, fills the host's maps the way the
 * agent does, and sends datagrams over the loopback.
 *
 *   check [--count N]
 *       property test: the same random DCIDs (routable, foreign, unknown
 *       config, 0b111, short datagrams, long headers) go through the real
 *       program twice (the second time from its cache or flow table) and
 *       through a reference copy (qlb_rp_ref: the codec alone); every
 *       datagram must reach the same socket each time. Then a key rotation
 *       and a host-ID change (new epochs), a closed worker, the flow
 *       table's generation change, expiry and full table. Exit 1 on a
 *       difference.
 *   bench [--rounds R] [--count N]
 *       ns per datagram (bpf_stats run_time_ns / run_cnt) of an empty
 *       program, the nginx-like baseline (bench/qlb_bench_rp_nginx.bpf.c),
 *       the program and its reference copy, per CID kind, in interleaved
 *       rounds; then the cache's hit rate for 10 000 live CIDs while
 *       100 000 random ones arrive. Figures only.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "qlb/cid.h"
#include "qlb/host_abi.h"
#include "qlb/libqlb.h"
#include "qlb_bench_rp_empty.skel.h"
#include "qlb_bench_rp_nginx.skel.h"
#include "qlb_reuseport.skel.h"
#include "tool_util.h"

#define PORT	4433
#define NSOCK	8 /* workers 0..3: generation 1, 4..7: generation 2 */
#define NGEN1	4
#define NCFG	4
#define NO_SOCK 12 /* a worker ID (< 2^4) with no socket */

static int socks[NSOCK];
static __u64 cookies[NSOCK];
static int client;
static struct sockaddr_in dst;

/* configs of the bench and the test: plaintext 2+6, four-pass 3+6,
 * single-pass 8+8, four-pass 10+5 (the columns of docs/host.md) */
static const unsigned int cfg_sl[NCFG] = {2, 3, 8, 10};
static const unsigned int cfg_nl[NCFG] = {6, 6, 8, 5};
static const unsigned int cfg_wb[NCFG] = {4, 6, 5, 8};
static const char *const cfg_name[NCFG] = {"plaintext (2+6)", "four-pass (3+6)",
					   "single-pass (8+8)",
					   "four-pass (10+5)"};
static struct qlb_host_cfg hcfg[NCFG];

struct prog_set {
	struct qlb_reuseport *rp;    /* the real program */
	struct qlb_reuseport *ref;   /* reference copy, shared maps */
	struct qlb_reuseport *small; /* flow table of 64 entries */
	int m_hcfg, m_socks, m_work, m_worksel, m_workers, m_stats, m_fcfg,
		m_flows;
};

static void die(const char *what)
{
	fprintf(stderr, "qlb-rpsteer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void netns_up(void)
{
	struct ifreq ifr = {0};
	int fd;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("lo flags");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("lo up");
	close(fd);
}

static int group_socket_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), one = 1;
	int buf = 4 << 20;

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("group socket on 127.0.0.1");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	return fd;
}

static int group_socket(void)
{
	return group_socket_on(PORT);
}

static void attach(int prog_fd)
{
	if (setsockopt(socks[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd,
		       sizeof(prog_fd)))
		die("SO_ATTACH_REUSEPORT_EBPF");
}

static void make_configs(void)
{
	unsigned int i;

	for (i = 0; i < NCFG; i++) {
		uint8_t key[16];
		struct qlb_host_cfg *h = &hcfg[i];

		memset(h, 0, sizeof(*h));
		rnd(key, sizeof(key));
		if (qlb_cid_cfg_init(&h->cid, i, cfg_sl[i], cfg_nl[i],
				     i ? key : NULL, i == 3, cfg_wb[i])) {
			fprintf(stderr, "qlb-rpsteer: config %u invalid\n", i);
			exit(2);
		}
		/* host part: random, worker bits clear */
		rnd(h->host_sid, cfg_sl[i]);
		qlb_sid_host_part(&h->cid, h->host_sid);
		h->present = 1;
		h->epoch = 1;
	}
}

/* the agent's write order: present cleared first, then the new entry */
static void write_hcfg(struct prog_set *ps, unsigned int id)
{
	struct qlb_host_cfg off;
	__u32 k = id;

	if (!bpf_map_lookup_elem(ps->m_hcfg, &k, &off) && off.present) {
		off.present = 0;
		bpf_map_update_elem(ps->m_hcfg, &k, &off, BPF_ANY);
	}
	if (bpf_map_update_elem(ps->m_hcfg, &k, &hcfg[id], BPF_ANY))
		die("qlb_hcfg update");
}

static void set_working(struct prog_set *ps, __u32 gen)
{
	struct qlb_group_key g = {
		.family = AF_INET, .port = PORT, .addr = {htonl(0x7f000001)}};
	static struct qlb_work_set ws;
	__u32 cur = 0, i, next;

	bpf_map_lookup_elem(ps->m_worksel, &g, &cur);
	next = (cur & 1) ^ 1;
	memset(&ws, 0, sizeof(ws));
	ws.generation = gen;
	for (i = 0; i < NSOCK; i++)
		if ((gen == 1) == (i < NGEN1) && socks[i] >= 0)
			ws.workers[ws.nworkers++] = i;
	g.slot = next;
	if (bpf_map_update_elem(ps->m_work, &g, &ws, BPF_ANY))
		die("qlb_work update");
	g.slot = 0;
	if (bpf_map_update_elem(ps->m_worksel, &g, &next, BPF_ANY))
		die("qlb_worksel update");
}

static void register_socks(struct prog_set *ps)
{
	unsigned int i;

	for (i = 0; i < NSOCK; i++) {
		struct qlb_worker_rec rec = {0};
		socklen_t l = sizeof(rec.cookie);
		__u32 k = i;
		__u64 v = (__u64)socks[i];

		getsockopt(socks[i], SOL_SOCKET, SO_COOKIE, &rec.cookie, &l);
		cookies[i] = rec.cookie;
		rec.in_use = 1;
		rec.generation = i < NGEN1 ? 1 : 2;
		if (bpf_map_update_elem(ps->m_socks, &k, &v, BPF_ANY) ||
		    bpf_map_update_elem(ps->m_workers, &k, &rec, BPF_ANY))
			die("register a worker socket");
	}
}

/* load a copy of the program, its maps those of @share (unless NULL) */
static struct qlb_reuseport *load_copy(struct qlb_reuseport *share, int ref,
				       __u32 flow_max)
{
	struct qlb_reuseport *o = qlb_reuseport__open();
	struct bpf_map *m;

	if (!o)
		die("open qlb_reuseport");
	o->rodata->qlb_rp_ref = ref;
	bpf_map__set_max_entries(o->maps.qlb_rp_cache,
				 QLB_RP_CACHE_SETS *
					 (__u32)libbpf_num_possible_cpus());
	if (flow_max)
		bpf_map__set_max_entries(o->maps.qlb_rp_flows, flow_max);
	if (share) {
		bpf_object__for_each_map(m, o->obj)
		{
			struct bpf_map *s;

			if (bpf_map__is_internal(m) ||
			    (flow_max && m == o->maps.qlb_rp_flows))
				continue;
			s = bpf_object__find_map_by_name(share->obj,
							 bpf_map__name(m));
			if (!s || bpf_map__reuse_fd(m, bpf_map__fd(s)))
				die("share a map");
		}
	}
	if (qlb_reuseport__load(o))
		die("load qlb_reuseport_select");
	return o;
}

static void setup(struct prog_set *ps, int with_ref)
{
	unsigned int i;

	netns_up();
	for (i = 0; i < NSOCK; i++)
		socks[i] = group_socket();
	client = socket(AF_INET, SOCK_DGRAM, 0);
	if (client < 0)
		die("client socket");
	dst.sin_family = AF_INET;
	dst.sin_port = htons(PORT);
	dst.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(client, (struct sockaddr *)&dst, sizeof(dst)))
		die("connect");
	ps->rp = load_copy(NULL, 0, 0);
	ps->m_hcfg = bpf_map__fd(ps->rp->maps.qlb_hcfg);
	ps->m_socks = bpf_map__fd(ps->rp->maps.qlb_socks);
	ps->m_work = bpf_map__fd(ps->rp->maps.qlb_work);
	ps->m_worksel = bpf_map__fd(ps->rp->maps.qlb_worksel);
	ps->m_workers = bpf_map__fd(ps->rp->maps.qlb_workers);
	ps->m_stats = bpf_map__fd(ps->rp->maps.qlb_rp_stats);
	ps->m_fcfg = bpf_map__fd(ps->rp->maps.qlb_rp_flowcfg);
	ps->m_flows = bpf_map__fd(ps->rp->maps.qlb_rp_flows);
	if (with_ref) {
		ps->ref = load_copy(ps->rp, 1, 0);
		ps->small = load_copy(ps->rp, 0, 64);
	}
	make_configs();
	for (i = 0; i < NCFG; i++)
		write_hcfg(ps, i);
	register_socks(ps);
	set_working(ps, 1);
	attach(bpf_program__fd(ps->rp->progs.qlb_reuseport_select));
}

static __u64 stat_sum(struct prog_set *ps, __u32 reason)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 v[512], s = 0;
	int i;

	if (ncpu > 512 || bpf_map_lookup_elem(ps->m_stats, &reason, v))
		return 0;
	for (i = 0; i < ncpu; i++)
		s += v[i];
	return s;
}

/* ---- datagrams ---------------------------------------------------------- */

struct dgram {
	uint8_t b[80];
	size_t len;
};

static void short_dgram(struct dgram *d, const uint8_t *cid)
{
	d->b[0] = 0x40 | (d->b[0] & 0x3f);
	memcpy(d->b + 1, cid, QLB_CID_MAX_LEN);
	rnd(d->b + 1 + QLB_CID_MAX_LEN, 24);
	d->len = 1 + QLB_CID_MAX_LEN + 24;
}

static void long_dgram(struct dgram *d, const uint8_t *cid, unsigned int len)
{
	d->b[0] = 0xc0;
	d->b[1] = d->b[2] = d->b[3] = 0;
	d->b[4] = 1;
	d->b[5] = (uint8_t)len;
	memcpy(d->b + 6, cid, QLB_CID_MAX_LEN);
	d->b[6 + len] = 8; /* SCID length; then whatever */
	rnd(d->b + 7 + len, 40);
	d->len = 7 + len + 40;
}

/* a CID of config @id for @worker; @host 0: another host's server ID */
static void mint(unsigned int id, unsigned int worker, int host, uint8_t *cid)
{
	const struct qlb_host_cfg *h = &hcfg[id];
	uint8_t sid[QLB_SID_MAX_LEN] = {0}, nonce[QLB_NONCE_MAX_LEN], low5;
	unsigned int sl = h->cid.sid_len, b;

	memcpy(sid, h->host_sid, sl);
	if (!host)
		sid[0] ^= 0x80 | (uint8_t)(1 + (random() & 0x7f));
	for (b = 0; b < h->cid.worker_bits; b += 8)
		sid[sl - 1 - b / 8] |=
			(uint8_t)((worker & ((1u << h->cid.worker_bits) - 1)) >>
				  b);
	rnd(nonce, sizeof(nonce));
	rnd(&low5, 1);
	memset(cid, 0, QLB_CID_MAX_LEN);
	if (qlb_cid_encode(&h->cid, sid, nonce, low5, cid) < 0)
		abort();
	/* bytes past the CID are packet bytes the program must ignore */
	rnd(cid + qlb_cid_len(&h->cid), QLB_CID_MAX_LEN - qlb_cid_len(&h->cid));
}

/* Send @d, return the index of the socket that got it, -1 if none. */
static int deliver(const struct dgram *d)
{
	struct pollfd p[NSOCK];
	char buf[256];
	double end;
	int i, n = 0, idx[NSOCK];

	if (send(client, d->b, d->len, 0) != (ssize_t)d->len)
		die("send");
	for (i = 0; i < NSOCK; i++) {
		if (socks[i] < 0)
			continue;
		p[n].fd = socks[i];
		p[n].events = POLLIN;
		idx[n++] = i;
	}
	end = now_s() + 1.0;
	while (now_s() < end) {
		if (poll(p, (nfds_t)n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if ((p[i].revents & POLLIN) &&
			    recv(p[i].fd, buf, sizeof(buf), 0) >= 0)
				return idx[i];
	}
	return -1;
}

/* ---- check -------------------------------------------------------------- */

#define MAXD 4096
static struct dgram ds[MAXD];
static int first[MAXD];
static int failures;

/* random datagrams of every kind into ds[]; returns how many */
static int fill_random(int count, int *nroutable)
{
	int n = 0, k;

	*nroutable = 0;
	/* routable short headers first: [0, *nroutable) */
	for (k = 0; k < count && n < MAXD; k++) {
		uint8_t cid[QLB_CID_MAX_LEN];
		unsigned int id = (unsigned int)random() % NCFG;
		unsigned int w = (unsigned int)random() % NSOCK;

		mint(id, w, 1, cid);
		memset(&ds[n], 0, sizeof(ds[n]));
		short_dgram(&ds[n++], cid);
	}
	*nroutable = n;
	for (k = 0; k < count && n < MAXD; k++) {
		uint8_t cid[QLB_CID_MAX_LEN];
		unsigned int kind = (unsigned int)random() % 9;
		unsigned int id = (unsigned int)random() % NCFG;

		memset(&ds[n], 0, sizeof(ds[n]));
		rnd(cid, sizeof(cid));
		switch (kind) {
		case 0: /* worker without a socket: fallback */
			mint(id, NO_SOCK, 1, cid);
			short_dgram(&ds[n], cid);
			break;
		case 1: /* foreign server ID */
			mint(id, (unsigned int)random() % NSOCK, 0, cid);
			short_dgram(&ds[n], cid);
			break;
		case 2: /* unknown config */
			cid[0] = (uint8_t)((4 + random() % 3) << 5) |
				 (cid[0] & 0x1f);
			short_dgram(&ds[n], cid);
			break;
		case 3: /* 0b111 */
			cid[0] |= 0xe0;
			short_dgram(&ds[n], cid);
			break;
		case 4: /* short datagram, any length 1..40 */
			short_dgram(&ds[n], cid);
			ds[n].len = 1 + (size_t)(random() % 40);
			break;
		case 5: /* long header with a routable CID (Handshake) */
			mint(id, (unsigned int)random() % NSOCK, 1, cid);
			long_dgram(&ds[n], cid, qlb_cid_len(&hcfg[id].cid));
			break;
		case 6: /* long header, client-chosen DCID of any length */
			long_dgram(&ds[n], cid, (unsigned int)(random() % 21));
			break;
		case 7: /* long header, 0b111 DCID */
			cid[0] |= 0xe0;
			long_dgram(&ds[n], cid,
				   8 + (unsigned int)(random() % 13));
			break;
		default: /* random bytes */
			rnd(ds[n].b, sizeof(ds[n].b));
			ds[n].len = 1 + (size_t)(random() % sizeof(ds[n].b));
			break;
		}
		n++;
	}
	return n;
}

/*
 * Every datagram of ds[0..n) through the real program twice and through
 * the reference once: all three choices must agree.
 */
static void compare(struct prog_set *ps, int n, const char *phase)
{
	int rp = bpf_program__fd(ps->rp->progs.qlb_reuseport_select);
	int ref = bpf_program__fd(ps->ref->progs.qlb_reuseport_select);
	int i, bad = 0, a, b;

	attach(rp);
	for (i = 0; i < n; i++)
		first[i] = deliver(&ds[i]);
	for (i = 0; i < n; i++) {
		a = deliver(&ds[i]);
		if (a != first[i] && bad++ < 5)
			fprintf(stderr, "%s: datagram %d: socket %d, then %d\n",
				phase, i, first[i], a);
		if (a != first[i])
			failures++;
	}
	attach(ref);
	for (i = 0; i < n; i++) {
		b = deliver(&ds[i]);
		if (b != first[i] || b < 0) {
			if (bad++ < 5)
				fprintf(stderr,
					"%s: datagram %d (len %zu, first "
					"octet %02x %02x): real %d, reference "
					"%d\n",
					phase, i, ds[i].len, ds[i].b[0],
					ds[i].b[1], first[i], b);
			failures++;
		}
	}
	attach(rp);
	printf("%-34s %5d datagrams, %d differences\n", phase, n, bad);
}

/* empty the flow table (the agent never does: records expire) */
static void flows_clear(struct prog_set *ps)
{
	struct qlb_rp_flow_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(ps->m_flows, prev, &next)) {
		k = next;
		bpf_map_delete_elem(ps->m_flows, &k);
		prev = NULL; /* start over: k is gone */
	}
}

static void close_sock(struct prog_set *ps, int i)
{
	close(socks[i]);
	socks[i] = -1;
	(void)ps;
}

/* A long-header DCID through @prog: which socket. */
static int send_initial(const uint8_t *dcid, unsigned int len)
{
	struct dgram d;

	memset(&d, 0, sizeof(d));
	long_dgram(&d, dcid, len);
	return deliver(&d);
}

static void flow_checks(struct prog_set *ps)
{
	struct qlb_rp_flow_cfg fc = {0};
	uint8_t dc[32][QLB_CID_MAX_LEN];
	int where[32], i, moved = 0, gen2 = 0, back = 0, victim;
	__u64 rec0, fol0, exp0, full0;
	__u32 zero = 0;

	/* generation 1 answers 32 client DCIDs, generation 2 takes over */
	set_working(ps, 1);
	for (i = 0; i < 32; i++) {
		rnd(dc[i], sizeof(dc[i]));
		dc[i][0] &= 0x7f; /* config bits 0..3: not 0b111 */
		where[i] = send_initial(dc[i], 8 + (unsigned int)i % 13);
		if (where[i] < 0 || where[i] >= NGEN1) {
			fprintf(stderr,
				"flows: DCID %d reached socket %d, not "
				"generation 1\n",
				i, where[i]);
			failures++;
		}
	}
	set_working(ps, 2);
	fol0 = stat_sum(ps, QLB_RP_FLOW_FOLLOWED);
	for (i = 0; i < 32; i++)
		if (send_initial(dc[i], 8 + (unsigned int)i % 13) != where[i])
			moved++;
	for (i = 0; i < 32; i++) {
		uint8_t x[QLB_CID_MAX_LEN];

		rnd(x, sizeof(x));
		x[0] &= 0x7f;
		if (send_initial(x, 8) >= NGEN1)
			gen2++;
	}
	printf("flows: after the takeover %d of 32 recorded DCIDs moved "
	       "(followed %llu), %d of 32 new DCIDs reached generation 2\n",
	       moved,
	       (unsigned long long)(stat_sum(ps, QLB_RP_FLOW_FOLLOWED) - fol0),
	       gen2);
	if (moved || gen2 != 32)
		failures++;

	/* a closed socket's records fall back to the working generation
	 * (not socket 0: the program is attached through it) */
	for (i = 0; i < 32 && where[i] <= 0; i++)
		;
	victim = i < 32 ? where[i] : 1;
	close_sock(ps, victim);
	for (i = 0; i < 32; i++) {
		int s;

		if (where[i] != victim)
			continue;
		s = send_initial(dc[i], 8 + (unsigned int)i % 13);
		if (s < NGEN1) {
			fprintf(stderr,
				"flows: DCID %d of a closed socket "
				"reached %d\n",
				i, s);
			failures++;
		}
		back++;
	}
	printf("flows: %d DCIDs of a closed socket fell back to generation "
	       "2\n",
	       back);

	/* expiry: 200 ms; the records are older now */
	fc.timeout_ns = 200000000ull;
	bpf_map_update_elem(ps->m_fcfg, &zero, &fc, BPF_ANY);
	usleep(300000);
	exp0 = stat_sum(ps, QLB_RP_FLOW_EXPIRED);
	moved = 0;
	for (i = 0; i < 32; i++)
		if (where[i] != victim &&
		    send_initial(dc[i], 8 + (unsigned int)i % 13) < NGEN1)
			moved++;
	printf("flows: after expiry %d DCIDs still reached generation 1, "
	       "%llu records expired\n",
	       moved,
	       (unsigned long long)(stat_sum(ps, QLB_RP_FLOW_EXPIRED) - exp0));
	if (moved || stat_sum(ps, QLB_RP_FLOW_EXPIRED) == exp0)
		failures++;

	/* a table of 64: the 65th DCID is not recorded (counted) and still
	 * reaches the working generation; once the records expire, a sweep
	 * makes room */
	fc.timeout_ns = 2000000000ull;
	bpf_map_update_elem(ps->m_fcfg, &zero, &fc, BPF_ANY);
	attach(bpf_program__fd(ps->small->progs.qlb_reuseport_select));
	rec0 = stat_sum(ps, QLB_RP_FLOW_RECORDED);
	full0 = stat_sum(ps, QLB_RP_FLOW_FULL);
	for (i = 0; i < 80; i++) {
		uint8_t x[QLB_CID_MAX_LEN];

		rnd(x, sizeof(x));
		x[0] &= 0x7f;
		if (send_initial(x, 8) < NGEN1)
			failures++;
	}
	rec0 = stat_sum(ps, QLB_RP_FLOW_RECORDED) - rec0;
	full0 = stat_sum(ps, QLB_RP_FLOW_FULL) - full0;
	printf("flows: table of 64, 80 new DCIDs: %llu recorded, %llu not "
	       "(table full)\n",
	       (unsigned long long)rec0, (unsigned long long)full0);
	if (rec0 != 64 || full0 != 16)
		failures++;
	usleep(2200000);
	exp0 = stat_sum(ps, QLB_RP_FLOW_EXPIRED);
	rec0 = stat_sum(ps, QLB_RP_FLOW_RECORDED);
	{
		uint8_t x[QLB_CID_MAX_LEN];

		rnd(x, sizeof(x));
		x[0] &= 0x7f;
		send_initial(x, 9);
	}
	printf("flows: after the timeout, a new DCID swept %llu records and "
	       "was recorded (%llu)\n",
	       (unsigned long long)(stat_sum(ps, QLB_RP_FLOW_EXPIRED) - exp0),
	       (unsigned long long)(stat_sum(ps, QLB_RP_FLOW_RECORDED) - rec0));
	if (stat_sum(ps, QLB_RP_FLOW_EXPIRED) - exp0 != 64 ||
	    stat_sum(ps, QLB_RP_FLOW_RECORDED) - rec0 != 1)
		failures++;
	fc.timeout_ns = 0;
	bpf_map_update_elem(ps->m_fcfg, &zero, &fc, BPF_ANY);
	attach(bpf_program__fd(ps->rp->progs.qlb_reuseport_select));
}

static int cmd_check(int count)
{
	struct prog_set ps = {0};
	__u64 h0, h1, m0;
	int n, nr, i;
	uint8_t key[16];

	setup(&ps, 1);
	srandom((unsigned int)time(NULL));
	n = fill_random(count, &nr);
	h0 = stat_sum(&ps, QLB_RP_CACHE_HIT);
	m0 = stat_sum(&ps, QLB_RP_CACHE_MISS);
	compare(&ps, n, "random DCIDs");
	h1 = stat_sum(&ps, QLB_RP_CACHE_HIT);
	printf("cache: %llu hits, %llu misses\n", (unsigned long long)(h1 - h0),
	       (unsigned long long)(stat_sum(&ps, QLB_RP_CACHE_MISS) - m0));
	/* the second pass of the routable encrypted CIDs must have hit */
	if (h1 - h0 < (__u64)nr / 2) {
		fprintf(stderr, "cache: too few hits (%llu for %d routable)\n",
			(unsigned long long)(h1 - h0), nr);
		failures++;
	}

	/* key rotation of configs 1 and 2, a new host ID under 3: the
	 * cached decisions of the old entries must not be used */
	for (i = 1; i < NCFG; i++) {
		rnd(key, sizeof(key));
		if (i < 3)
			qlb_cid_cfg_init(&hcfg[i].cid, (unsigned int)i,
					 cfg_sl[i], cfg_nl[i], key, false,
					 cfg_wb[i]);
		else
			hcfg[i].host_sid[0] ^= 0x40;
		hcfg[i].epoch++;
		write_hcfg(&ps, (unsigned int)i);
	}
	compare(&ps, n, "same DCIDs after a rotation");
	n = fill_random(count, &nr);
	compare(&ps, n, "new DCIDs after a rotation");

	/* a closed worker: its cached CIDs fall back like uncached ones */
	close_sock(&ps, 2);
	compare(&ps, n, "after worker 2 closed");
	/* the working set changes: the flow table's records (of long-header
	 * DCIDs) rightly keep their sockets, the reference rehashes; start
	 * from an empty table so both see the same set */
	set_working(&ps, 1);
	flows_clear(&ps);
	compare(&ps, n, "... and left the working set");

	flow_checks(&ps);
	printf("%s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}

/* ---- bench -------------------------------------------------------------- */

#define BATCH 64

/* the baseline's own group (a socket in a REUSEPORT_SOCKARRAY cannot
 * join a SOCKHASH): same address, next port */
static int ng_socks[NGEN1], ng_client = -1;

static void blast_to(int cl, const struct dgram *d, int nd, int count)
{
	struct mmsghdr mm[BATCH];
	struct iovec io[BATCH];
	int sent = 0, i, k;
	char buf[256];

	while (sent < count) {
		int b = count - sent < BATCH ? count - sent : BATCH;

		for (i = 0; i < b; i++) {
			const struct dgram *x = &d[(sent + i) % nd];

			io[i].iov_base = (void *)x->b;
			io[i].iov_len = x->len;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &io[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		k = sendmmsg(cl, mm, (unsigned int)b, 0);
		if (k <= 0)
			die("sendmmsg");
		sent += k;
		/* keep the receive queues short: drain every socket */
		for (i = 0; i < NSOCK; i++)
			while (socks[i] >= 0 && recv(socks[i], buf, sizeof(buf),
						     MSG_DONTWAIT) > 0)
				;
		for (i = 0; cl == ng_client && i < NGEN1; i++)
			while (recv(ng_socks[i], buf, sizeof(buf),
				    MSG_DONTWAIT) > 0)
				;
	}
}

static void blast(const struct dgram *d, int nd, int count)
{
	blast_to(client, d, nd, count);
}

static void prog_stat(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("bpf_obj_get_info_by_fd");
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
}

#define NCASE 24
#define MAXR  32
struct bcase {
	const char *name, *what;
	int prog;
	struct dgram *d;
	int nd;
	int warm; /* send the set once before measuring */
	double r[MAXR];
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double t[MAXR];

	memcpy(t, v, sizeof(double) * (size_t)n);
	qsort(t, (size_t)n, sizeof(double), cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static struct dgram *set_of(int n)
{
	struct dgram *d = calloc((size_t)n, sizeof(*d));

	if (!d)
		die("calloc");
	return d;
}

static int cmd_bench(int rounds, int count)
{
	struct prog_set ps = {0};
	struct qlb_bench_rp_empty *em;
	struct qlb_bench_rp_nginx *ng;
	struct bcase c[NCASE];
	__u64 ng_cookies[NGEN1];
	int nc = 0, r, i, k, stats_fd, p_rp, p_ref, p_em, p_ng, pool = 256;
	int miss_n = count;
	struct dgram *dn, *dcfg[NCFG], *dmiss[NCFG], *dinit, *dinit1;
	double base, empty;
	cpu_set_t cpus;

	/* one CPU: its per-CPU cache and its softirq */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	setup(&ps, 1);
	em = qlb_bench_rp_empty__open_and_load();
	ng = qlb_bench_rp_nginx__open_and_load();
	if (!em || !ng)
		die("load the bench programs");
	p_rp = bpf_program__fd(ps.rp->progs.qlb_reuseport_select);
	p_ref = bpf_program__fd(ps.ref->progs.qlb_reuseport_select);
	p_em = bpf_program__fd(em->progs.qlb_bench_rp_empty);
	p_ng = bpf_program__fd(ng->progs.qlb_bench_rp_nginx);
	for (i = 0; i < NGEN1; i++) {
		socklen_t l = sizeof(__u64);
		__u64 key, v;

		ng_socks[i] = group_socket_on(PORT + 1);
		getsockopt(ng_socks[i], SOL_SOCKET, SO_COOKIE, &key, &l);
		v = (__u64)ng_socks[i];
		ng_cookies[i] = key;
		if (bpf_map_update_elem(bpf_map__fd(ng->maps.qlb_bench_sockmap),
					&key, &v, BPF_ANY))
			die("sockhash update");
	}
	if (setsockopt(ng_socks[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &p_ng,
		       sizeof(p_ng)))
		die("attach the baseline");
	ng_client = socket(AF_INET, SOCK_DGRAM, 0);
	dst.sin_port = htons(PORT + 1);
	if (ng_client < 0 ||
	    connect(ng_client, (struct sockaddr *)&dst, sizeof(dst)))
		die("baseline client");
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		die("BPF_ENABLE_STATS");

	/* nginx's CIDs: the cookie in clear, 20 bytes */
	dn = set_of(pool);
	for (i = 0; i < pool; i++) {
		uint8_t cid[QLB_CID_MAX_LEN];
		__u64 ck = ng_cookies[i % NGEN1];

		rnd(cid, sizeof(cid));
		for (k = 0; k < 8; k++)
			cid[k] = (uint8_t)(ck >> (56 - 8 * k));
		short_dgram(&dn[i], cid);
	}
	for (k = 0; k < NCFG; k++) {
		dcfg[k] = set_of(pool);
		dmiss[k] = set_of(miss_n);
		for (i = 0; i < pool; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			mint((unsigned int)k, (unsigned int)i % NGEN1, 1, cid);
			short_dgram(&dcfg[k][i], cid);
		}
	}
	dinit = set_of(pool);
	dinit1 = set_of(miss_n);
	for (i = 0; i < pool; i++) {
		uint8_t cid[QLB_CID_MAX_LEN];

		rnd(cid, sizeof(cid));
		cid[0] &= 0x7f;
		long_dgram(&dinit[i], cid, 8);
	}

	c[nc++] = (struct bcase){"empty program", "", p_em, dcfg[0], pool};
	c[nc++] = (struct bcase){"nginx-like baseline", "", p_ng, dn, pool};
	c[nc++] = (struct bcase){cfg_name[0], "", p_rp, dcfg[0], pool};
	for (k = 1; k < NCFG; k++)
		c[nc++] = (struct bcase){cfg_name[k], "seen before, 8 CIDs",
					 p_rp,	      dcfg[k],
					 8,	      1};
	for (k = 1; k < NCFG; k++)
		c[nc++] = (struct bcase){cfg_name[k], "seen before, 256 CIDs",
					 p_rp,	      dcfg[k],
					 pool,	      1};
	for (k = 1; k < NCFG; k++)
		c[nc++] = (struct bcase){cfg_name[k], "first datagram (miss)",
					 p_rp, dmiss[k], miss_n};
	for (k = 0; k < NCFG; k++)
		c[nc++] = (struct bcase){cfg_name[k], "reference (codec only)",
					 p_ref, dcfg[k], pool};
	c[nc++] = (struct bcase){
		"Initial", "DCID seen (flow followed)", p_rp, dinit, pool, 1};
	c[nc++] = (struct bcase){"Initial", "first datagram (recorded)", p_rp,
				 dinit1, miss_n};
	if (rounds > MAXR)
		rounds = MAXR;

	for (r = 0; r < rounds; r++) {
		/* fresh never-seen CIDs for the miss rows every round */
		for (k = 1; k < NCFG; k++)
			for (i = 0; i < miss_n; i++) {
				uint8_t cid[QLB_CID_MAX_LEN];

				mint((unsigned int)k, (unsigned int)i % NGEN1,
				     1, cid);
				short_dgram(&dmiss[k][i], cid);
			}
		for (i = 0; i < miss_n; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			rnd(cid, sizeof(cid));
			cid[0] &= 0x7f;
			long_dgram(&dinit1[i], cid, 8);
		}
		for (i = 0; i < nc; i++) {
			__u64 t0, n0, t1, n1, h0, m0;

			int cl = c[i].prog == p_ng ? ng_client : client;

			if (cl == client)
				attach(c[i].prog);
			if (c[i].warm)
				blast_to(cl, c[i].d, c[i].nd, c[i].nd);
			prog_stat(c[i].prog, &t0, &n0);
			h0 = stat_sum(&ps, QLB_RP_CACHE_HIT);
			m0 = stat_sum(&ps, QLB_RP_CACHE_MISS);
			blast_to(cl, c[i].d, c[i].nd, count);
			prog_stat(c[i].prog, &t1, &n1);
			if (getenv("QLB_RPSTEER_DEBUG"))
				printf("row %d: hits %llu misses %llu\n", i,
				       (unsigned long long)(stat_sum(
								    &ps,
								    QLB_RP_CACHE_HIT) -
							    h0),
				       (unsigned long long)(stat_sum(
								    &ps,
								    QLB_RP_CACHE_MISS) -
							    m0));
			c[i].r[r] =
				n1 > n0 ? (double)(t1 - t0) / (double)(n1 - n0)
					: 0;
		}
		/* the first-datagram rows start from an empty table */
		flows_clear(&ps);
	}
	empty = median(c[0].r, rounds);
	base = median(c[1].r, rounds) - empty;
	printf("SK_REUSEPORT, %d sockets, %d rounds interleaved, %d datagrams "
	       "per row and round; median ns per datagram\n",
	       NGEN1, rounds, count);
	printf("%-48s %8s %10s %8s\n", "program, CIDs", "ns", "above empty",
	       "x base");
	for (i = 0; i < nc; i++) {
		double m = median(c[i].r, rounds);
		char label[96];

		snprintf(label, sizeof(label), "%s%s%s", c[i].name,
			 *c[i].what ? ", " : "", c[i].what);
		printf("%-48s %8.1f %10.1f %8.2f\n", label, m, m - empty,
		       i ? (m - empty) / base : 0.0);
	}

	/* flood: 10 000 live CIDs of the three encrypted configs, then the
	 * same again among 100 000 random CIDs of those configs (each takes
	 * the decode and is refused admission: not this host's) */
	{
		int nl = 10000, nf = 100000, j;
		struct dgram *live = set_of(nl), *mix = set_of(nl + nf);
		__u64 h0, m0, h, m;

		for (i = 0; i < nl; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			mint(1 + (unsigned int)i % 3, (unsigned int)i % NGEN1,
			     1, cid);
			short_dgram(&live[i], cid);
		}
		for (i = 0, j = 0; i < nl + nf; i++) {
			uint8_t cid[QLB_CID_MAX_LEN];

			if (i % 11 == 10 && j < nl) {
				mix[i] = live[j++];
				continue;
			}
			mint(1 + (unsigned int)random() % 3, 0, 1, cid);
			rnd(cid + 1, QLB_CID_MAX_LEN - 1);
			short_dgram(&mix[i], cid);
		}
		attach(p_rp);
		blast(live, nl, nl);
		h0 = stat_sum(&ps, QLB_RP_CACHE_HIT);
		m0 = stat_sum(&ps, QLB_RP_CACHE_MISS);
		blast(live, nl, nl);
		h = stat_sum(&ps, QLB_RP_CACHE_HIT) - h0;
		m = stat_sum(&ps, QLB_RP_CACHE_MISS) - m0;
		printf("cache: 10 000 live CIDs (configs 1-3) sent again: "
		       "%.1f%% hits (%llu of %llu)\n",
		       h + m ? (double)h / (double)(h + m) * 100 : 0.0,
		       (unsigned long long)h, (unsigned long long)(h + m));
		h0 = stat_sum(&ps, QLB_RP_CACHE_HIT);
		m0 = stat_sum(&ps, QLB_RP_CACHE_MISS);
		blast(mix, nl + nf, nl + nf);
		h = stat_sum(&ps, QLB_RP_CACHE_HIT) - h0;
		m = stat_sum(&ps, QLB_RP_CACHE_MISS) - m0;
		/* random CIDs never hit: the hits are live ones */
		printf("cache: the same 10 000 among 100 000 random CIDs: "
		       "%.1f%% hits (%llu of %d; %llu decodes)\n",
		       (double)h / j * 100, (unsigned long long)h, j,
		       (unsigned long long)m);
		free(live);
		free(mix);
	}
	close(stats_fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"count", 1, 0, 'n'}, {"rounds", 1, 0, 'r'}, {0, 0, 0, 0}};
	int o, count = 0, rounds = 7;

	while ((o = getopt_long(argc, argv, "n:r:", lo, NULL)) != -1) {
		if (o == 'n')
			count = atoi(optarg);
		else if (o == 'r')
			rounds = atoi(optarg);
		else
			goto usage;
	}
	if (optind + 1 != argc)
		goto usage;
	if (!strcmp(argv[optind], "check"))
		return cmd_check(count > 0 ? count : 1000);
	if (!strcmp(argv[optind], "bench"))
		return cmd_bench(rounds > 0 ? rounds : 7,
				 count > 0 ? count : 20000);
usage:
	fprintf(stderr, "usage: qlb-rpsteer check [--count N]\n"
			"       qlb-rpsteer bench [--rounds R] [--count N]\n");
	return 2;
}
