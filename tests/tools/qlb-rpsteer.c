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
 *
 * This file holds the setup both share and main; the commands are in
 * rpsteer_check.c and rpsteer_bench.c (rpsteer.h).
 */
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>

#include "rpsteer.h"

int rps_socks[NSOCK];
static __u64 cookies[NSOCK];
int rps_client;
struct sockaddr_in rps_dst;

/* configs of the bench and the test: plaintext 2+6, four-pass 3+6,
 * single-pass 8+8, four-pass 10+5 (the columns of docs/host.md) */
const unsigned int rps_cfg_sl[NCFG] = {2, 3, 8, 10};
const unsigned int rps_cfg_nl[NCFG] = {6, 6, 8, 5};
const unsigned int rps_cfg_wb[NCFG] = {4, 6, 5, 8};
const char *const rps_cfg_name[NCFG] = {"plaintext (2+6)", "four-pass (3+6)",
					"single-pass (8+8)",
					"four-pass (10+5)"};
struct qlb_host_cfg rps_hcfg[NCFG];

void rps_die(const char *what)
{
	fprintf(stderr, "qlb-rpsteer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void netns_up(void)
{
	struct ifreq ifr = {0};
	int fd;

	if (unshare(CLONE_NEWNET))
		rps_die("unshare(CLONE_NEWNET)");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		rps_die("lo flags");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		rps_die("lo up");
	close(fd);
}

int rps_group_socket_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), one = 1;
	int buf = 4 << 20;

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)))
		rps_die("group socket on 127.0.0.1");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	return fd;
}

static int group_socket(void)
{
	return rps_group_socket_on(PORT);
}

void rps_attach(int prog_fd)
{
	if (setsockopt(rps_socks[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF,
		       &prog_fd, sizeof(prog_fd)))
		rps_die("SO_ATTACH_REUSEPORT_EBPF");
}

static void make_configs(void)
{
	unsigned int i;

	for (i = 0; i < NCFG; i++) {
		uint8_t key[16];
		struct qlb_host_cfg *h = &rps_hcfg[i];

		memset(h, 0, sizeof(*h));
		rnd(key, sizeof(key));
		if (qlb_cid_cfg_init(&h->cid, i, rps_cfg_sl[i], rps_cfg_nl[i],
				     i ? key : NULL, i == 3, rps_cfg_wb[i])) {
			fprintf(stderr, "qlb-rpsteer: config %u invalid\n", i);
			exit(2);
		}
		/* host part: random, worker bits clear */
		rnd(h->host_sid, rps_cfg_sl[i]);
		qlb_sid_host_part(&h->cid, h->host_sid);
		h->present = 1;
		h->epoch = 1;
	}
}

unsigned int rps_row;
int rps_shared_slot;
int rps_svc64_rows;

/* the agent's write order: present cleared first, then the new entry */
void rps_write_hcfg(struct prog_set *ps, unsigned int id)
{
	struct qlb_host_cfg off;
	__u32 k = QLB_HOST_CFG_KEY(rps_row, id);

	if (!bpf_map_lookup_elem(ps->m_hcfg, &k, &off) && off.present) {
		off.present = 0;
		bpf_map_update_elem(ps->m_hcfg, &k, &off, BPF_ANY);
	}
	if (bpf_map_update_elem(ps->m_hcfg, &k, &rps_hcfg[id], BPF_ANY))
		rps_die("qlb_hcfg update");
}

void rps_set_working(struct prog_set *ps, __u32 gen)
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
		if ((gen == 1) == (i < NGEN1) && rps_socks[i] >= 0)
			ws.workers[ws.nworkers++] = i;
	g.slot = next;
	if (bpf_map_update_elem(ps->m_work, &g, &ws, BPF_ANY))
		rps_die("qlb_work update");
	g.slot = 0;
	next = QLB_WORKSEL(next, rps_row);
	if (bpf_map_update_elem(ps->m_worksel, &g, &next, BPF_ANY))
		rps_die("qlb_worksel update");
}

static void register_socks(struct prog_set *ps)
{
	unsigned int i;

	for (i = 0; i < NSOCK; i++) {
		struct qlb_worker_rec rec = {0};
		socklen_t l = sizeof(rec.cookie);
		__u32 k = i;
		__u64 v = (__u64)rps_socks[i];

		getsockopt(rps_socks[i], SOL_SOCKET, SO_COOKIE, &rec.cookie,
			   &l);
		cookies[i] = rec.cookie;
		rec.in_use = 1;
		rec.generation = i < NGEN1 ? 1 : 2;
		if (bpf_map_update_elem(ps->m_socks, &k, &v, BPF_ANY) ||
		    bpf_map_update_elem(ps->m_workers, &k, &rec, BPF_ANY))
			rps_die("register a worker socket");
	}
}

/* load a copy of the program, its maps those of @share (unless NULL) */
static struct qlb_reuseport *load_copy(struct qlb_reuseport *share, int ref,
				       __u32 flow_max)
{
	struct qlb_reuseport *o = qlb_reuseport__open();
	struct bpf_map *m;

	if (!o)
		rps_die("open qlb_reuseport");
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
				rps_die("share a map");
		}
	}
	if (qlb_reuseport__load(o))
		rps_die("load qlb_reuseport_select");
	return o;
}

/*
 * rps_multi_layout() - what the agent writes for a host serving @row
 * services whose last one the group serves, row 0 aside: the configs in
 * row @row, other server IDs in rows 1..@row-1, the group's qlb_grp_rows
 * slot (--shared-slot: a shared one, the row then in qlb_worksel).
 */
void rps_multi_layout(struct prog_set *ps, unsigned int row)
{
	struct qlb_group_row gr = {.family = AF_INET,
				   .port = PORT,
				   .addr = {htonl(0x7f000001)},
				   .row = row};
	__u32 slot = qlb_group_slot(gr.family, gr.port, gr.addr[0], 0, 0, 0);
	unsigned int i, r;

	if (rps_shared_slot)
		gr = (struct qlb_group_row){.row = QLB_GROUP_ROW_SHARED};
	if (bpf_map_update_elem(bpf_map__fd(ps->rp->maps.qlb_grp_rows), &slot,
				&gr, BPF_ANY))
		rps_die("qlb_grp_rows");
	for (i = 0; i < NCFG; i++) {
		for (r = 1; r <= row; r++) {
			struct qlb_host_cfg hc = rps_hcfg[i];
			__u32 k = QLB_HOST_CFG_KEY(r, i);

			if (r < row) {
				hc.host_sid[0] ^= (uint8_t)r;
				hc.epoch = 2000 + r * QLB_CONFIG_MAX + i;
			}
			if (bpf_map_update_elem(ps->m_hcfg, &k, &hc, BPF_ANY))
				rps_die("qlb_hcfg_v2 rows");
		}
	}
}

/* Row 0: by_group (several services) or the configs (one service). */
void rps_set_row0(struct prog_set *ps, int by_group)
{
	unsigned int i;

	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		struct qlb_host_cfg hc = {.by_group = 1, .epoch = 1000 + i};
		__u32 k = QLB_HOST_CFG_KEY(0, i);

		if (!by_group)
			hc = i < NCFG ? rps_hcfg[i] : (struct qlb_host_cfg){0};
		if (bpf_map_update_elem(ps->m_hcfg, &k, &hc, BPF_ANY))
			rps_die("qlb_hcfg_v2 row 0");
	}
}

void rps_setup(struct prog_set *ps, int with_ref)
{
	unsigned int i;

	netns_up();
	for (i = 0; i < NSOCK; i++)
		rps_socks[i] = group_socket();
	rps_client = socket(AF_INET, SOCK_DGRAM, 0);
	if (rps_client < 0)
		rps_die("client socket");
	rps_dst.sin_family = AF_INET;
	rps_dst.sin_port = htons(PORT);
	rps_dst.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(rps_client, (struct sockaddr *)&rps_dst, sizeof(rps_dst)))
		rps_die("connect");
	ps->rp = load_copy(NULL, 0, 0);
	ps->m_hcfg = bpf_map__fd(ps->rp->maps.qlb_hcfg_v2);
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
		rps_write_hcfg(ps, i);
	if (rps_row) {
		rps_multi_layout(ps, rps_row);
		rps_set_row0(ps, 1);
	}
	register_socks(ps);
	rps_set_working(ps, 1);
	rps_attach(bpf_program__fd(ps->rp->progs.qlb_reuseport_select));
}

__u64 rps_stat_sum(struct prog_set *ps, __u32 reason)
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

void rps_short_dgram(struct dgram *d, const uint8_t *cid)
{
	d->b[0] = 0x40 | (d->b[0] & 0x3f);
	memcpy(d->b + 1, cid, QLB_CID_MAX_LEN);
	rnd(d->b + 1 + QLB_CID_MAX_LEN, 24);
	d->len = 1 + QLB_CID_MAX_LEN + 24;
}

void rps_long_dgram(struct dgram *d, const uint8_t *cid, unsigned int len)
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
void rps_mint(unsigned int id, unsigned int worker, int host, uint8_t *cid)
{
	const struct qlb_host_cfg *h = &rps_hcfg[id];
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
int rps_deliver(const struct dgram *d)
{
	struct pollfd p[NSOCK];
	char buf[256];
	double end;
	int i, n = 0, idx[NSOCK];

	if (send(rps_client, d->b, d->len, 0) != (ssize_t)d->len)
		rps_die("send");
	for (i = 0; i < NSOCK; i++) {
		if (rps_socks[i] < 0)
			continue;
		p[n].fd = rps_socks[i];
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

/* empty the flow table (the agent never does: records expire) */
void rps_flows_clear(struct prog_set *ps)
{
	struct qlb_rp_flow_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(ps->m_flows, prev, &next)) {
		k = next;
		bpf_map_delete_elem(ps->m_flows, &k);
		prev = NULL; /* start over: k is gone */
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"count", 1, 0, 'n'},	   {"rounds", 1, 0, 'r'},
		{"services", 1, 0, 's'},   {"shared-slot", 0, 0, 'S'},
		{"svc64-rows", 0, 0, 'R'}, {0, 0, 0, 0}};
	int o, count = 0, rounds = 7, nsvc;

	while ((o = getopt_long(argc, argv, "n:r:s:SR", lo, NULL)) != -1) {
		if (o == 'n') {
			count = atoi(optarg);
		} else if (o == 'r') {
			rounds = atoi(optarg);
		} else if (o == 'R') {
			rps_svc64_rows = 1;
		} else if (o == 'S') {
			rps_shared_slot = 1;
		} else if (o == 's') {
			nsvc = atoi(optarg);
			if (nsvc < 1 || nsvc > QLB_HOST_MAX_SERVICES)
				goto usage;
			/* one service: row 0, as the agent writes it */
			rps_row = nsvc > 1 ? (unsigned int)nsvc : 0;
		} else {
			goto usage;
		}
	}
	if (optind + 1 != argc)
		goto usage;
	if (!strcmp(argv[optind], "check"))
		return rps_cmd_check(count > 0 ? count : 1000);
	if (!strcmp(argv[optind], "bench"))
		return rps_cmd_bench(rounds > 0 ? rounds : 7,
				     count > 0 ? count : 20000);
usage:
	fprintf(stderr,
		"usage: qlb-rpsteer check [--count N] [--services S]\n"
		"       qlb-rpsteer bench [--rounds R] [--count N] "
		"[--services S]\n"
		"--services S (1..64): the host serves S services, the group "
		"the last\n"
		"--shared-slot: its qlb_grp_rows slot is shared (row from "
		"qlb_worksel)\n"
		"--svc64-rows (bench): add rows for the group on a host "
		"serving 64 services\n");
	return 2;
}