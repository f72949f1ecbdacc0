// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-hostload: the client side of the backend-host tests. It talks to
 * qlb-echo workers (through the host's SK_REUSEPORT group) with QUIC-shaped
 * datagrams and checks where every answer came from.
 *
 *   probe -f FILE --host NAME --workers ID[,ID..] [--expect-gen G]
 *         [--zerocopy] ADDR PORT
 *       for every config the host has a server ID under, mint CIDs for
 *       each worker and check that worker answers (with --expect-gen:
 *       that some worker of generation G answers, for closed workers)
 *   initial --count N [--expect-gen G] ADDR PORT
 *       Initial-like datagrams with random client-chosen DCIDs, each sent
 *       twice: both copies must meet one worker; prints the spread
 *   fallback -f FILE --foreign-host NAME --count N --expect-gen G ADDR PORT
 *       CIDs of another host and 0b111 CIDs must reach generation G
 *   blast -f FILE --host NAME --workers IDS [--config C] --duration S
 *         [--window W] ADDR PORT
 *       datagrams/s: CIDs of config C for those workers (no --config:
 *       Initials), W in flight; prints the answer rate (a benchmark)
 *   minted -f FILE --host NAME --count N ADDR PORT
 *       Initials: each answer carries a CID its worker minted with libqlb;
 *       it must decode under the file's configs to the host's server ID
 *       with the answering worker's ID, and, sent back, reach that worker
 *   load --conns N --rate PPS --duration S --life S ADDR PORT
 *       connections: an Initial, then short-header datagrams on the CID the
 *       worker minted; every answer must come from that worker and
 *       generation. Exit 1 unless sent == received and nothing misrouted.
 *
 * --service NAME (with -f): the configs and server IDs are those of that
 * service of the file (its own quic_lb and its hosts' server IDs).
 */
#include <arpa/inet.h>
#include <errno.h>
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

#define MAX_CONNS 256
#define MAX_GEN	  16

static struct sockaddr_storage dst;
static socklen_t dst_len;

static int parse_dst(const char *a, const char *port)
{
	return tool_parse_addr(a, port, &dst, &dst_len);
}

static int open_conn(void)
{
	int fd = socket(dst.ss_family,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rcv = 1 << 20;

	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, dst_len)) {
		perror("qlb-hostload: socket");
		exit(2);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	return fd;
}

struct reply {
	char host[64];
	unsigned int worker, gen;
	uint8_t cid[QLB_CID_MAX_LEN];
	int cid_len;
};

static int parse_reply(const char *buf, struct reply *r)
{
	const char *c;

	memset(r, 0, sizeof(*r));
	if (sscanf(buf, "host=%63s worker=%u generation=%u", r->host,
		   &r->worker, &r->gen) != 3)
		return -1;
	c = strstr(buf, " cid=");
	if (c) {
		c += 5;
		while (r->cid_len < QLB_CID_MAX_LEN &&
		       sscanf(c + 2 * r->cid_len, "%2hhx",
			      &r->cid[r->cid_len]) == 1)
			r->cid_len++;
	}
	return 0;
}

/* Wait up to @timeout for a reply on @fd. Return: 0 or -1. */
static int wait_reply(int fd, double timeout, struct reply *r)
{
	double end = now_s() + timeout;
	char buf[512];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double left = end - now_s();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (!parse_reply(buf, r))
			return 0;
	}
}

static size_t short_packet(uint8_t *pkt, const uint8_t *cid, int cid_len,
			   uint32_t seq)
{
	size_t n = 0;

	pkt[n++] = 0x40 | (seq & 0x3f); /* fixed bit, short header */
	memcpy(pkt + n, cid, (size_t)cid_len);
	n += (size_t)cid_len;
	memcpy(pkt + n, &seq, 4);
	n += 4;
	rnd(pkt + n, 24); /* stands in for the protected payload */
	return n + 24;
}

static size_t initial_packet(uint8_t *pkt, const uint8_t *dcid, int dlen)
{
	size_t n = 0;

	pkt[n++] = 0xc0 | (pkt[0] & 0x0f); /* long header, Initial */
	pkt[n++] = 0;
	pkt[n++] = 0;
	pkt[n++] = 0;
	pkt[n++] = 1; /* QUIC v1 */
	pkt[n++] = (uint8_t)dlen;
	memcpy(pkt + n, dcid, (size_t)dlen);
	n += (size_t)dlen;
	pkt[n++] = 8;
	rnd(pkt + n, 8);
	n += 8;
	memset(pkt + n, 0, 1200 - n); /* client Initials are padded */
	return 1200;
}

/* sid of @h under @id with @worker in its worker bits */
static void worker_sid(const struct qlb_conf_cid *q, const uint8_t *host_sid,
		       unsigned int worker, uint8_t *sid)
{
	unsigned int b;

	memset(sid, 0, QLB_SID_MAX_LEN);
	memcpy(sid, host_sid, q->sid_len);
	for (b = 0; b < q->worker_bits; b += 8)
		sid[q->sid_len - 1 - b / 8] |= (uint8_t)(worker >> b);
}

static int zerocopy;

static int cmd_probe(struct qlb_config *cfg, const char *host, char *workers,
		     int expect_gen)
{
	const struct qlb_conf_host *h = qlb_config_host(cfg, host);
	unsigned int ids[256], nids = 0, id, i, k, bad = 0, ok = 0;
	char *tok, *save = NULL;
	int fd = open_conn(), one = 1;

	if (!h) {
		fprintf(stderr, "no host %s in the file\n", host);
		return 2;
	}
	/* MSG_ZEROCOPY leaves the payload in page fragments: the receiving
	 * skb is not linear past the UDP header, so the SK_REUSEPORT program
	 * must read the DCID with bpf_skb_load_bytes() */
	if (zerocopy &&
	    setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one))) {
		perror("SO_ZEROCOPY");
		return 2;
	}
	for (tok = strtok_r(workers, ",", &save); tok && nids < 256;
	     tok = strtok_r(NULL, ",", &save))
		ids[nids++] = (unsigned int)atoi(tok);
	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *q = &cfg->configs[id];
		struct qlb_cid_cfg cc;

		if (!q->present || !h->has_sid[id])
			continue;
		if (qlb_config_cid_cfg(cfg, id, &cc)) {
			fprintf(stderr, "config %u: cannot build\n", id);
			return 2;
		}
		for (i = 0; i < nids; i++) {
			uint8_t sid[QLB_SID_MAX_LEN], cid[QLB_CID_MAX_LEN],
				pkt[128];
			struct qlb_minter m;
			unsigned int got = 0, wrong = 0;

			worker_sid(q, h->sid[id], ids[i], sid);
			if (qlb_minter_init(&m, &cc, sid)) {
				fprintf(stderr, "minter init failed\n");
				return 2;
			}
			for (k = 0; k < 4; k++) {
				struct reply r;
				int n = qlb_minter_mint(&m, cid);
				size_t len = short_packet(pkt, cid, n, k);

				send(fd, pkt, len, zerocopy ? MSG_ZEROCOPY : 0);
				if (wait_reply(fd, 1.0, &r))
					continue;
				got++;
				/* with --expect-gen: the worker is gone, its
				 * CIDs must reach that generation instead */
				if (expect_gen >= 0
					    ? r.gen != (unsigned int)expect_gen
					    : r.worker != ids[i])
					wrong++;
			}
			printf("config=%u%s worker=%u replies=%u/4 "
			       "misrouted=%u\n",
			       id, q->has_key ? "(encrypted)" : "(plaintext)",
			       ids[i], got, wrong);
			if (got != 4 || wrong)
				bad++;
			else
				ok++;
		}
	}
	printf("probe: %u ok, %u bad\n", ok, bad);
	return bad || !ok ? 1 : 0;
}

static int cmd_initial(unsigned int count, int expect_gen)
{
	unsigned int per[65536 / 64] = {0}, i, bad = 0, lost = 0, distinct = 0;
	unsigned int wgen = 0, wrong_gen = 0;
	int fd = open_conn();

	for (i = 0; i < count; i++) {
		uint8_t dcid[8], pkt[1200];
		struct reply r1, r2;
		size_t len;

		rnd(dcid, sizeof(dcid));
		rnd(pkt, 1);
		len = initial_packet(pkt, dcid, 8);
		send(fd, pkt, len, 0);
		if (wait_reply(fd, 1.0, &r1)) {
			lost++;
			continue;
		}
		send(fd, pkt, len, 0); /* a retransmitted Initial */
		if (wait_reply(fd, 1.0, &r2)) {
			lost++;
			continue;
		}
		if (r1.worker != r2.worker)
			bad++;
		if (expect_gen >= 0 && (r1.gen != (unsigned int)expect_gen ||
					r2.gen != (unsigned int)expect_gen))
			wrong_gen++;
		wgen = r1.gen;
		if (r1.worker < sizeof(per) / sizeof(per[0]))
			per[r1.worker]++;
	}
	for (i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
		if (!per[i])
			continue;
		distinct++;
		printf("worker=%u initials=%u\n", i, per[i]);
	}
	printf("initial: count=%u lost=%u split=%u wrong_generation=%u "
	       "workers=%u generation=%u\n",
	       count, lost, bad, wrong_gen, distinct, wgen);
	return lost || bad || wrong_gen ? 1 : 0;
}

/*
 * use_service() - make @cfg's top-level configs and hosts' server IDs those
 * of service @name, so every command above speaks for that service.
 */
static int use_service(struct qlb_config *cfg, const char *name)
{
	const struct qlb_conf_service *svc = qlb_config_service(cfg, name);
	unsigned int i;

	if (!svc) {
		fprintf(stderr, "no service %s in the file\n", name);
		return -1;
	}
	memcpy(cfg->configs, svc->configs, sizeof(cfg->configs));
	for (i = 0; i < cfg->nhosts; i++)
		memset(cfg->hosts[i].has_sid, 0, sizeof(cfg->hosts[i].has_sid));
	for (i = 0; i < svc->nhosts; i++) {
		struct qlb_conf_host *h = &cfg->hosts[svc->hosts[i].host];

		memcpy(h->has_sid, svc->hosts[i].has_sid, sizeof(h->has_sid));
		memcpy(h->sid, svc->hosts[i].sid, sizeof(h->sid));
	}
	return 0;
}

/*
 * cmd_minted() - Initials with random DCIDs; the worker that answers mints
 * a CID with libqlb (qlb-echo's " cid="): it must decode under @cfg (the
 * service's configs) to @host's server ID with that worker's ID, and sent
 * back as a short header it must reach that worker.
 */
static int cmd_minted(struct qlb_config *cfg, const char *host,
		      unsigned int count)
{
	const struct qlb_conf_host *h = qlb_config_host(cfg, host);
	unsigned int i, lost = 0, bad = 0, back = 0, ok = 0;
	int fd = open_conn();

	if (!h) {
		fprintf(stderr, "no host %s in the file\n", host);
		return 2;
	}
	for (i = 0; i < count; i++) {
		uint8_t dcid[8], pkt[1200], sid[QLB_SID_MAX_LEN],
			want[QLB_SID_MAX_LEN];
		const struct qlb_conf_cid *q;
		struct qlb_cid_cfg cc;
		struct reply r, r2;
		unsigned int id;
		size_t len;

		rnd(dcid, sizeof(dcid));
		pkt[0] = 0;
		len = initial_packet(pkt, dcid, 8);
		send(fd, pkt, len, 0);
		if (wait_reply(fd, 1.0, &r)) {
			lost++;
			continue;
		}
		id = r.cid_len ? (unsigned int)(r.cid[0] >> 5) : 7;
		q = id < QLB_CONFIG_MAX ? &cfg->configs[id] : NULL;
		if (!q || !q->present || !h->has_sid[id] ||
		    qlb_config_cid_cfg(cfg, id, &cc) ||
		    r.cid_len != (int)qlb_cid_len(&cc) ||
		    qlb_decode(&cc, r.cid, (size_t)r.cid_len, sid, NULL)) {
			printf("worker %u minted a CID of no config of the "
			       "file (config bits %u, %d bytes)\n",
			       r.worker, id, r.cid_len);
			bad++;
			continue;
		}
		worker_sid(q, h->sid[id], r.worker, want);
		if (memcmp(sid, want, q->sid_len)) {
			printf("worker %u minted a CID of config %u that "
			       "decodes to another server ID\n",
			       r.worker, id);
			bad++;
			continue;
		}
		send(fd, pkt, short_packet(pkt, r.cid, r.cid_len, i), 0);
		if (wait_reply(fd, 1.0, &r2)) {
			lost++;
			continue;
		}
		if (r2.worker != r.worker) {
			back++;
			continue;
		}
		ok++;
	}
	printf("minted: count=%u ok=%u lost=%u undecodable=%u "
	       "misrouted=%u\n",
	       count, ok, lost, bad, back);
	return lost || bad || back || !ok ? 1 : 0;
}

static int cmd_fallback(struct qlb_config *cfg, const char *foreign,
			unsigned int count, int expect_gen)
{
	const struct qlb_conf_host *h = qlb_config_host(cfg, foreign);
	unsigned int i, lost = 0, wrong = 0, sent = 0, minted = 0, id;
	int fd = open_conn();

	if (!h) {
		fprintf(stderr, "no host %s in the file\n", foreign);
		return 2;
	}
	for (i = 0; i < count; i++) {
		uint8_t cid[QLB_CID_MAX_LEN], pkt[128];
		struct reply r;
		int n = -1;

		if (i % 2) {
			n = qlb_mint_unroutable(cid, 8 + i % 13);
		} else {
			for (id = (i / 2) % QLB_CONFIG_MAX; id < QLB_CONFIG_MAX;
			     id++) {
				const struct qlb_conf_cid *q =
					&cfg->configs[id];
				struct qlb_cid_cfg cc;
				uint8_t sid[QLB_SID_MAX_LEN];
				struct qlb_minter m;

				if (!q->present || !h->has_sid[id] ||
				    qlb_config_cid_cfg(cfg, id, &cc))
					continue;
				worker_sid(q, h->sid[id],
					   i % (1u << q->worker_bits), sid);
				qlb_minter_init(&m, &cc, sid);
				n = qlb_minter_mint(&m, cid);
				minted += n > 0;
				break;
			}
			if (n < 0)
				n = qlb_mint_unroutable(cid, 9);
		}
		send(fd, pkt, short_packet(pkt, cid, n, i), 0);
		sent++;
		if (wait_reply(fd, 1.0, &r)) {
			lost++;
			continue;
		}
		if (expect_gen >= 0 && r.gen != (unsigned int)expect_gen) {
			wrong++;
			printf("cid landed on worker %u generation %u\n",
			       r.worker, r.gen);
		}
	}
	printf("fallback: sent=%u minted=%u lost=%u wrong_generation=%u\n",
	       sent, minted, lost, wrong);
	return lost || wrong ? 1 : 0;
}

struct conn {
	int fd;
	int state; /* 0 new, 1 initial sent, 2 established */
	uint8_t dcid[8];
	double t_state, next, end;
	unsigned int worker, gen;
	uint8_t cid[QLB_CID_MAX_LEN];
	int cid_len;
	uint32_t seq;
	unsigned long sent, recv;
};

static volatile sig_atomic_t load_stop;

static void on_sig(int s)
{
	(void)s;
	load_stop = 1;
}

static int cmd_load(unsigned int nconns, double rate, double duration,
		    double life)
{
	static struct conn cs[MAX_CONNS];
	unsigned long sent = 0, recv_ok = 0, misrouted = 0, initials = 0;
	unsigned long conns_gen[MAX_GEN] = {0}, replies_gen[MAX_GEN] = {0};
	unsigned long old_after_new = 0, printed = 0;
	unsigned int maxgen = 0, i;
	double t0 = now_s(), interval = nconns / rate, last_print = t0, t;
	bool sending = true;

	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	for (i = 0; i < nconns; i++) {
		cs[i].fd = open_conn();
		cs[i].state = 0;
	}
	for (;;) {
		struct pollfd p[MAX_CONNS];
		unsigned long outstanding = 0;

		t = now_s();
		if (sending && (t - t0 >= duration || load_stop))
			sending = false;
		for (i = 0; i < nconns; i++) {
			struct conn *c = &cs[i];
			uint8_t pkt[1200];
			size_t len;

			outstanding += c->sent - c->recv;
			if (c->state == 0 && sending) {
				rnd(c->dcid, sizeof(c->dcid));
				pkt[0] = 0;
				len = initial_packet(pkt, c->dcid, 8);
				send(c->fd, pkt, len, 0);
				initials++;
				c->state = 1;
				c->t_state = t;
			} else if (c->state == 1 && t - c->t_state > 1.0 &&
				   sending) {
				/* Initial lost: retransmit, same DCID */
				len = initial_packet(pkt, c->dcid, 8);
				send(c->fd, pkt, len, 0);
				c->t_state = t;
			} else if (c->state == 2 && sending && t < c->end &&
				   t >= c->next) {
				len = short_packet(pkt, c->cid, c->cid_len,
						   c->seq++);
				if (send(c->fd, pkt, len, 0) == (ssize_t)len) {
					c->sent++;
					sent++;
				}
				c->next += interval;
				if (c->next < t)
					c->next = t;
			} else if (c->state == 2 && t >= c->end &&
				   (c->sent == c->recv || t - c->end > 2.0) &&
				   sending) {
				/* connection over: a new one takes its place */
				c->state = 0;
				close(c->fd);
				c->fd = open_conn();
				c->sent = c->recv = 0;
			}
			p[i] = (struct pollfd){.fd = c->fd, .events = POLLIN};
		}
		if (!sending && (outstanding == 0 || t - t0 > duration + 3.0))
			break;
		if (t - last_print >= 1.0) {
			fprintf(stderr,
				"t=%.0f sent=%lu received=%lu misrouted=%lu "
				"outstanding=%lu\n",
				t - t0, sent, recv_ok, misrouted, outstanding);
			last_print = t;
		}
		if (poll(p, nconns, 1) <= 0)
			continue;
		for (i = 0; i < nconns; i++) {
			struct conn *c = &cs[i];
			char buf[512];
			struct reply r;
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((n = recv(c->fd, buf, sizeof(buf) - 1, 0)) > 0) {
				buf[n] = 0;
				if (parse_reply(buf, &r))
					continue;
				if (c->state == 1 && r.cid_len) {
					c->state = 2;
					c->worker = r.worker;
					c->gen = r.gen;
					memcpy(c->cid, r.cid, sizeof(c->cid));
					c->cid_len = r.cid_len;
					c->next = now_s();
					{
						uint16_t j;

						/* lives of 0.5..1.5 x life:
						 * connections overlap instead
						 * of ending together */
						rnd(&j, sizeof(j));
						c->end = c->next +
							 life * (0.5 +
								 j / 65536.0);
					}
					if (r.gen > maxgen)
						maxgen = r.gen;
					if (r.gen < MAX_GEN)
						conns_gen[r.gen]++;
					continue;
				}
				if (c->state != 2 || r.cid_len)
					continue; /* a late Initial answer */
				c->recv++;
				recv_ok++;
				if (r.gen < MAX_GEN)
					replies_gen[r.gen]++;
				if (r.gen < maxgen)
					old_after_new++;
				if (r.worker != c->worker || r.gen != c->gen) {
					misrouted++;
					if (printed++ < 10)
						printf("misrouted: conn of "
						       "worker %u gen %u "
						       "answered by worker %u "
						       "gen %u\n",
						       c->worker, c->gen,
						       r.worker, r.gen);
				}
			}
		}
	}
	printf("load: sent=%lu received=%lu misrouted=%lu initials=%lu "
	       "old_generation_after_new=%lu\n",
	       sent, recv_ok, misrouted, initials, old_after_new);
	for (i = 0; i < MAX_GEN; i++)
		if (conns_gen[i] || replies_gen[i])
			printf("generation=%u new_conns=%lu replies=%lu\n", i,
			       conns_gen[i], replies_gen[i]);
	return sent == recv_ok && !misrouted && sent ? 0 : 1;
}

/*
 * cmd_blast() - datagrams/s through the group: short-header datagrams with
 * CIDs of config @cfg_id minted for @workers (or Initials with random DCIDs
 * when @cfg_id < 0) from 64 client sockets, @window in flight.
 */
static int cmd_blast(struct qlb_config *cfg, const char *host, char *workers,
		     int cfg_id, double seconds, unsigned int window)
{
	enum { NSOCK = 64, NCID = 1024 };
	static uint8_t pkts[NCID][1200];
	static size_t lens[NCID];
	const struct qlb_conf_host *h = qlb_config_host(cfg, host);
	unsigned int ids[256], nids = 0, i, out = 0;
	unsigned long sent = 0, recvd = 0, stalls = 0;
	int fds[NSOCK];
	char *tok, *save = NULL;
	double t0, t, last_rx;

	if (!h)
		return 2;
	for (tok = strtok_r(workers, ",", &save); tok && nids < 256;
	     tok = strtok_r(NULL, ",", &save))
		ids[nids++] = (unsigned int)atoi(tok);
	if (!nids)
		return 2;
	for (i = 0; i < NCID; i++) {
		if (cfg_id < 0) {
			uint8_t dcid[8];

			rnd(dcid, sizeof(dcid));
			pkts[i][0] = 0;
			lens[i] = initial_packet(pkts[i], dcid, 8);
		} else {
			const struct qlb_conf_cid *q = &cfg->configs[cfg_id];
			uint8_t sid[QLB_SID_MAX_LEN], cid[QLB_CID_MAX_LEN];
			struct qlb_cid_cfg cc;
			struct qlb_minter m;
			int n;

			if (!q->present || !h->has_sid[cfg_id] ||
			    qlb_config_cid_cfg(cfg, (unsigned int)cfg_id, &cc))
				return 2;
			worker_sid(q, h->sid[cfg_id], ids[i % nids], sid);
			qlb_minter_init(&m, &cc, sid);
			n = qlb_minter_mint(&m, cid);
			lens[i] = short_packet(pkts[i], cid, n, i);
		}
	}
	for (i = 0; i < NSOCK; i++)
		fds[i] = open_conn();
	t0 = last_rx = now_s();
	for (i = 0;; i++) {
		struct pollfd p[NSOCK];
		unsigned int k;

		t = now_s();
		if (t - t0 >= seconds)
			break;
		while (out < window) {
			if (send(fds[sent % NSOCK], pkts[sent % NCID],
				 lens[sent % NCID], 0) > 0) {
				sent++;
				out++;
			} else {
				break;
			}
		}
		for (k = 0; k < NSOCK; k++)
			p[k] = (struct pollfd){.fd = fds[k], .events = POLLIN};
		if (poll(p, NSOCK, 5) > 0) {
			for (k = 0; k < NSOCK; k++) {
				char buf[256];

				if (!(p[k].revents & POLLIN))
					continue;
				while (recv(fds[k], buf, sizeof(buf), 0) > 0) {
					recvd++;
					if (out)
						out--;
					last_rx = t;
				}
			}
		}
		if (t - last_rx > 0.05 && out) {
			/* answers lost (socket buffers): refill the window */
			stalls++;
			out = 0;
			last_rx = t;
		}
	}
	t = now_s() - t0;
	printf("blast %s: sent=%lu answered=%lu seconds=%.1f rate=%.0f/s "
	       "stalls=%lu\n",
	       cfg_id < 0 ? "initials" : "cids", sent, recvd, t, recvd / t,
	       stalls);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"file", required_argument, NULL, 'f'},
		{"host", required_argument, NULL, 'H'},
		{"foreign-host", required_argument, NULL, 'F'},
		{"workers", required_argument, NULL, 'w'},
		{"count", required_argument, NULL, 'c'},
		{"expect-gen", required_argument, NULL, 'g'},
		{"conns", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"life", required_argument, NULL, 'l'},
		{"config", required_argument, NULL, 'C'},
		{"window", required_argument, NULL, 'W'},
		{"zerocopy", no_argument, NULL, 'Z'},
		{"service", required_argument, NULL, 'S'},
		{0},
	};
	const char *file = NULL, *host = NULL, *mode, *service = NULL;
	char *workers = NULL;
	unsigned int count = 64, nconns = 16;
	double rate = 1000, duration = 5, life = 2;
	int expect_gen = -1, c, rc, cfg_id = -1;
	unsigned int window = 64;
	struct qlb_config cfg;
	bool have_cfg = false;

	if (argc < 2)
		goto usage;
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "f:", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'H':
		case 'F':
			host = optarg;
			break;
		case 'w':
			workers = optarg;
			break;
		case 'c':
			count = (unsigned int)atoi(optarg);
			break;
		case 'g':
			expect_gen = atoi(optarg);
			break;
		case 'n':
			nconns = (unsigned int)atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'l':
			life = atof(optarg);
			break;
		case 'C':
			cfg_id = atoi(optarg);
			break;
		case 'Z':
			zerocopy = 1;
			break;
		case 'S':
			service = optarg;
			break;
		case 'W':
			window = (unsigned int)atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || parse_dst(argv[optind], argv[optind + 1]))
		goto usage;
	if (nconns < 1 || nconns > MAX_CONNS || rate <= 0)
		goto usage;
	if (file) {
		if (qlb_config_load(file, &cfg, stderr))
			return 2;
		have_cfg = true;
		if (service && use_service(&cfg, service)) {
			qlb_config_free(&cfg);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "probe") && have_cfg && host && workers)
		rc = cmd_probe(&cfg, host, workers, expect_gen);
	else if (!strcmp(mode, "initial"))
		rc = cmd_initial(count, expect_gen);
	else if (!strcmp(mode, "fallback") && have_cfg && host)
		rc = cmd_fallback(&cfg, host, count, expect_gen);
	else if (!strcmp(mode, "blast") && have_cfg && host && workers)
		rc = cmd_blast(&cfg, host, workers, cfg_id, duration, window);
	else if (!strcmp(mode, "minted") && have_cfg && host)
		rc = cmd_minted(&cfg, host, count);
	else if (!strcmp(mode, "load"))
		rc = cmd_load(nconns, rate, duration, life);
	else
		goto usage;
	if (have_cfg)
		qlb_config_free(&cfg);
	return rc;
usage:
	fprintf(stderr,
		"usage: qlb-hostload probe|initial|fallback|minted|blast|load "
		"[options] "
		"ADDR PORT\n"
		"(see the comment at the top of tests/tools/qlb-hostload.c)\n");
	return 2;
}
