// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-faultload: the steady load of the fault and operations tests
 * (tests/netns/fault_*.sh, ops_*.sh). It sends a steady stream of
 * datagrams through a VIP to qlb-echo workers behind an LB node and
 * counts, per flow, what was sent, what came back, and who answered:
 *
 *   qlb-faultload -f FILE [--config C] [--workers N] [--hosts H1,H2..]
 *                 [--initials M] [--unroutable U] [--rate PPS] [--duration S]
 *                 [--sport BASE] [--tail S] ADDR PORT
 *
 * Flows: for every host named (default: every host of FILE) and every
 * worker ID 0..N-1, one "cid" flow sending short headers with a CID minted
 * for that host and worker under config C (default: the active one);
 * then M "initial" flows, each sending one long-header Initial with a
 * fixed client-chosen DCID again and again (Maglev fallback by 4-tuple);
 * then U "unroutable" flows, short headers with a fixed 0b111 CID from
 * qlb_mint_unroutable() (the fallback too).
 * Every flow has its own socket; with --sport, flow i is bound to source
 * port BASE+i so that a later run has the same 4-tuples (and so the same
 * fallback host). Datagrams go round-robin over the flows at PPS in total
 * until S seconds passed or SIGINT/SIGTERM; answers are then awaited for
 * --tail seconds (default 1).
 *
 * Output (stdout), one line per flow and a total:
 *   flow=I kind=cid want=HOST/W sent=S recv=R from=HOST/W:n,...
 *   flow=I kind=initial|unroutable want=- sent=S recv=R from=HOST/W:n,...
 *   total sent=S received=R lost=L
 * and on stderr one line per second: t, sent, received in that second.
 * Exit 0 when it ran (the test judges), 2 on a usage or setup error.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "qlb/libqlb.h"
#include "tool_util.h"

#define MAX_FLOWS 1024
#define MAX_FROM  16

struct from {
	char host[32];
	unsigned int worker;
	unsigned long n;
};

struct flow {
	int fd;
	const char *kind;
	char want[QLB_NAME_MAX + 16];
	uint8_t pkt[1200];
	size_t len;
	unsigned long sent, recv;
	struct from from[MAX_FROM];
	unsigned int nfrom;
	unsigned long other; /* answers beyond MAX_FROM distinct senders */
};

static struct flow flows[MAX_FLOWS];
static unsigned int nflows;
static struct sockaddr_storage dst;
static socklen_t dst_len;
static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static int parse_dst(const char *a, const char *port)
{
	return tool_parse_addr(a, port, &dst, &dst_len);
}

/* A nonblocking socket connected to the VIP, bound to @sport when non-zero. */
static int open_flow(unsigned int sport)
{
	int fd = socket(dst.ss_family,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, rcv = 1 << 20;

	if (fd < 0)
		goto err;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (sport) {
		struct sockaddr_storage a = {.ss_family = dst.ss_family};

		/* port at the same offset in sockaddr_in and sockaddr_in6 */
		((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)sport);
		if (bind(fd, (struct sockaddr *)&a, dst_len))
			goto err;
	}
	if (connect(fd, (struct sockaddr *)&dst, dst_len))
		goto err;
	return fd;
err:
	perror("qlb-faultload: flow socket");
	exit(2);
}

static size_t short_packet(uint8_t *pkt, const uint8_t *cid, int cid_len)
{
	size_t n = 0;

	pkt[n++] = 0x40; /* fixed bit, short header */
	memcpy(pkt + n, cid, (size_t)cid_len);
	n += (size_t)cid_len;
	rnd(pkt + n, 28); /* stands in for the protected payload */
	return n + 28;
}

static size_t initial_packet(uint8_t *pkt)
{
	size_t n = 0;

	pkt[n++] = 0xc0; /* long header, Initial */
	pkt[n++] = 0;
	pkt[n++] = 0;
	pkt[n++] = 0;
	pkt[n++] = 1; /* QUIC v1 */
	pkt[n++] = 8;
	rnd(pkt + n, 8); /* the client-chosen DCID, fixed for the flow */
	n += 8;
	pkt[n++] = 8;
	rnd(pkt + n, 8);
	n += 8;
	memset(pkt + n, 0, 1200 - n); /* client Initials are padded */
	return 1200;
}

static void note_reply(struct flow *f, const char *buf)
{
	char host[32];
	unsigned int worker, gen, i;

	if (sscanf(buf, "host=%31s worker=%u generation=%u", host, &worker,
		   &gen) != 3)
		return;
	f->recv++;
	for (i = 0; i < f->nfrom; i++)
		if (f->from[i].worker == worker &&
		    !strcmp(f->from[i].host, host))
			break;
	if (i == f->nfrom) {
		if (f->nfrom == MAX_FROM) {
			f->other++;
			return;
		}
		snprintf(f->from[i].host, sizeof(f->from[i].host), "%s", host);
		f->from[i].worker = worker;
		f->nfrom++;
	}
	f->from[i].n++;
}

static int add_cid_flows(const struct qlb_config *cfg, int cfg_id,
			 const char *hosts, unsigned int workers,
			 unsigned int *sport)
{
	const struct qlb_conf_cid *q;
	struct qlb_cid_cfg cc;
	unsigned int i, w, b;

	if (cfg_id < 0)
		for (i = 0; i < QLB_CONFIG_MAX; i++)
			if (cfg->configs[i].present &&
			    cfg->configs[i].state == QLB_CONF_ACTIVE)
				cfg_id = (int)i;
	if (cfg_id < 0 || cfg_id >= QLB_CONFIG_MAX ||
	    !cfg->configs[cfg_id].present) {
		fprintf(stderr, "qlb-faultload: no config %d in the file\n",
			cfg_id);
		return -1;
	}
	q = &cfg->configs[cfg_id];
	if (qlb_config_cid_cfg(cfg, (unsigned int)cfg_id, &cc))
		return -1;
	for (i = 0; i < cfg->nhosts; i++) {
		const struct qlb_conf_host *h = &cfg->hosts[i];
		char pat[QLB_NAME_MAX + 2];

		snprintf(pat, sizeof(pat), ",%s,", h->name);
		if (hosts && !strstr(hosts, pat))
			continue;
		if (!h->has_sid[cfg_id])
			continue;
		for (w = 0; w < workers && nflows < MAX_FLOWS; w++) {
			struct flow *f = &flows[nflows++];
			uint8_t sid[QLB_SID_MAX_LEN] = {0},
				cid[QLB_CID_MAX_LEN];
			struct qlb_minter m;
			int n;

			memcpy(sid, h->sid[cfg_id], q->sid_len);
			for (b = 0; b < q->worker_bits; b += 8)
				sid[q->sid_len - 1 - b / 8] |=
					(uint8_t)(w >> b);
			if (qlb_minter_init(&m, &cc, sid))
				return -1;
			n = qlb_minter_mint(&m, cid);
			if (n <= 0)
				return -1;
			f->len = short_packet(f->pkt, cid, n);
			f->kind = "cid";
			snprintf(f->want, sizeof(f->want), "%s/%u", h->name, w);
			f->fd = open_flow(*sport ? (*sport)++ : 0);
		}
	}
	return 0;
}

static void report(void)
{
	unsigned long sent = 0, recv = 0;
	unsigned int i, k;

	for (i = 0; i < nflows; i++) {
		struct flow *f = &flows[i];

		printf("flow=%u kind=%s want=%s sent=%lu recv=%lu from=", i,
		       f->kind, f->want, f->sent, f->recv);
		for (k = 0; k < f->nfrom; k++)
			printf("%s%s/%u:%lu", k ? "," : "", f->from[k].host,
			       f->from[k].worker, f->from[k].n);
		if (f->other)
			printf("%sother:%lu", f->nfrom ? "," : "", f->other);
		printf("\n");
		sent += f->sent;
		recv += f->recv;
	}
	printf("total sent=%lu received=%lu lost=%ld\n", sent, recv,
	       (long)sent - (long)recv);
}

static void drain_replies(struct pollfd *p, unsigned long *got)
{
	unsigned int i;

	for (i = 0; i < nflows; i++) {
		char buf[512];
		ssize_t n;

		if (!(p[i].revents & POLLIN))
			continue;
		while ((n = recv(flows[i].fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = 0;
			note_reply(&flows[i], buf);
			(*got)++;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"file", required_argument, NULL, 'f'},
		{"config", required_argument, NULL, 'C'},
		{"workers", required_argument, NULL, 'w'},
		{"hosts", required_argument, NULL, 'H'},
		{"initials", required_argument, NULL, 'i'},
		{"unroutable", required_argument, NULL, 'u'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"sport", required_argument, NULL, 's'},
		{"tail", required_argument, NULL, 't'},
		{0},
	};
	static struct pollfd p[MAX_FLOWS];
	const char *file = NULL;
	char *hosts = NULL;
	unsigned int workers = 2, initials = 0, unroutable = 0, sport = 0, i,
		     next = 0;
	double rate = 1000, duration = 5, tail = 1, t0, t, t_sec, t_next;
	unsigned long sent_sec = 0, got_sec = 0;
	int c, cfg_id = -1;
	struct qlb_config cfg;
	bool have_cfg = false;

	while ((c = getopt_long(argc, argv, "f:", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'C':
			cfg_id = atoi(optarg);
			break;
		case 'w':
			workers = (unsigned int)atoi(optarg);
			break;
		case 'H':
			/* ",a,b," so that a name matches whole */
			hosts = malloc(strlen(optarg) + 3);
			if (!hosts)
				return 2;
			sprintf(hosts, ",%s,", optarg);
			break;
		case 'i':
			initials = (unsigned int)atoi(optarg);
			break;
		case 'u':
			unroutable = (unsigned int)atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 's':
			sport = (unsigned int)atoi(optarg);
			break;
		case 't':
			tail = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || parse_dst(argv[optind], argv[optind + 1]) ||
	    rate <= 0 || workers > 256 || initials > MAX_FLOWS ||
	    unroutable > MAX_FLOWS)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	if (file) {
		if (qlb_config_load(file, &cfg, stderr))
			return 2;
		have_cfg = true;
		if (workers &&
		    add_cid_flows(&cfg, cfg_id, hosts, workers, &sport)) {
			fprintf(stderr, "qlb-faultload: cannot mint CIDs\n");
			return 2;
		}
	}
	for (i = 0; i < initials && nflows < MAX_FLOWS; i++) {
		struct flow *f = &flows[nflows++];

		f->kind = "initial";
		f->len = initial_packet(f->pkt);
		snprintf(f->want, sizeof(f->want), "-");
		f->fd = open_flow(sport ? sport++ : 0);
	}
	for (i = 0; i < unroutable && nflows < MAX_FLOWS; i++) {
		struct flow *f = &flows[nflows++];
		uint8_t cid[QLB_CID_MAX_LEN];
		int n = qlb_mint_unroutable(cid, 8 + i % 13);

		if (n <= 0)
			return 2;
		f->kind = "unroutable";
		f->len = short_packet(f->pkt, cid, n);
		snprintf(f->want, sizeof(f->want), "-");
		f->fd = open_flow(sport ? sport++ : 0);
	}
	if (!nflows)
		goto usage;
	for (i = 0; i < nflows; i++)
		p[i] = (struct pollfd){.fd = flows[i].fd, .events = POLLIN};

	t0 = t_sec = t_next = now_s();
	for (;;) {
		t = now_s();
		if (stop || t - t0 >= duration)
			break;
		/* catch up to the schedule: a steady rate, even after a
		 * stall of this process */
		while (t_next <= t && !stop) {
			struct flow *f = &flows[next];

			if (send(f->fd, f->pkt, f->len, 0) == (ssize_t)f->len) {
				f->sent++;
				sent_sec++;
			}
			next = (next + 1) % nflows;
			t_next += 1.0 / rate;
		}
		if (t - t_sec >= 1.0) {
			fprintf(stderr, "t=%.0f sent=%lu received=%lu\n",
				t - t0, sent_sec, got_sec);
			sent_sec = got_sec = 0;
			t_sec = t;
		}
		if (poll(p, nflows, 1) > 0)
			drain_replies(p, &got_sec);
	}
	for (t = now_s() + tail; now_s() < t;)
		if (poll(p, nflows, 10) > 0)
			drain_replies(p, &got_sec);
	report();
	for (i = 0; i < nflows; i++)
		close(flows[i].fd);
	if (have_cfg)
		qlb_config_free(&cfg);
	free(hosts);
	return 0;
usage:
	fprintf(stderr,
		"usage: qlb-faultload [-f FILE [--config C] [--workers N] "
		"[--hosts H1,H2]]\n"
		"       [--initials M] [--unroutable U] [--rate PPS] "
		"[--duration S] "
		"[--sport BASE] [--tail S] ADDR PORT\n"
		"(see the comment at the top of "
		"tests/tools/qlb-faultload.c)\n");
	return 2;
}
