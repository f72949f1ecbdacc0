// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Health checking of the hosts by an LB node: see health.h. The probe
 * packets and the prober (sockets, sending, reading the replies); the
 * state machine and the published view are in health.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "health.h"

/* ---- probe packets ------------------------------------------------------- */

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t qlb_probe_build(uint8_t *buf, size_t len, const struct qlb_addr *src,
		       uint16_t sport, const struct qlb_addr *dst,
		       uint16_t dport, const struct qlb_hp_msg *msg)
{
	size_t iph = src->family == AF_INET6 ? 40 : 20;
	size_t ulen = 8 + sizeof(*msg), tot = iph + ulen;
	uint8_t *u = buf + iph;
	uint32_t sum = 0;
	uint16_t c;

	if (len < tot || src->family != dst->family)
		return 0;
	memset(buf, 0, tot);
	if (src->family == AF_INET) {
		uint16_t id;

		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			id = (uint16_t)rand();
		buf[0] = 0x45;
		buf[2] = tot >> 8;
		buf[3] = tot & 0xff;
		memcpy(buf + 4, &id, 2);
		buf[6] = 0x40; /* DF */
		buf[8] = 64;
		buf[9] = IPPROTO_UDP;
		memcpy(buf + 12, &src->v4, 4);
		memcpy(buf + 16, &dst->v4, 4);
		c = csum_fold(csum_add(0, buf, 20));
		buf[10] = c >> 8;
		buf[11] = c & 0xff;
		sum = csum_add(sum, &src->v4, 4);
		sum = csum_add(sum, &dst->v4, 4);
	} else {
		buf[0] = 0x60;
		buf[4] = ulen >> 8;
		buf[5] = ulen & 0xff;
		buf[6] = IPPROTO_UDP;
		buf[7] = 64;
		memcpy(buf + 8, &src->v6, 16);
		memcpy(buf + 24, &dst->v6, 16);
		sum = csum_add(sum, &src->v6, 16);
		sum = csum_add(sum, &dst->v6, 16);
	}
	u[0] = sport >> 8;
	u[1] = sport & 0xff;
	u[2] = dport >> 8;
	u[3] = dport & 0xff;
	u[4] = ulen >> 8;
	u[5] = ulen & 0xff;
	memcpy(u + 8, msg, sizeof(*msg));
	sum += IPPROTO_UDP + (uint32_t)ulen;
	sum = csum_add(sum, u, ulen);
	c = csum_fold(sum);
	if (!c)
		c = 0xffff; /* 0 means "no checksum" in UDP */
	u[6] = c >> 8;
	u[7] = c & 0xff;
	return tot;
}

/* ---- the prober ---------------------------------------------------------- */

/* What member m is probed with: cfg->services[svc].hosts[j]. */
struct hp_target {
	unsigned int svc, j, host; /* host: index into cfg->hosts */
	uint32_t tag;		   /* qlb_hp_service_tag() of the service */
	int vip;   /* index into lb.vips of the inner destination, -1 */
	int outer; /* 0 = IPv4, 1 = IPv6 */
	int inner; /* likewise */
};

struct qlb_prober {
	const struct qlb_config *cfg;
	struct qlb_health_params p;
	int udp[2]; /* by family index: answers, and GUE sends */
	uint16_t port[2];
	int raw[2][2];	     /* [outer][inner]: IP-in-IP sends */
	struct hp_target *t; /* by member */
	struct qlb_hprobe *h;
	unsigned int n; /* members */
	bool started;
	uint64_t due; /* earliest probe or timeout of the last scan; 0 = scan */
};

static int fam_idx(int family)
{
	return family == AF_INET6;
}

static socklen_t to_sockaddr(const struct qlb_addr *a, uint16_t port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		s->sin_addr = a->v4;
		return sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		s->sin6_addr = a->v6;
		return sizeof(*s);
	}
}

static const struct qlb_addr *src_of(const struct qlb_prober *pr, int fi)
{
	const struct qlb_addr *a = fi ? &pr->cfg->lb.encap_source_v6
				      : &pr->cfg->lb.encap_source_v4;

	return a->family ? a : NULL;
}

/* A socket of @family bound to @src (port 0), free-bound: the source may
 * come up after us. */
static int bound_socket(const struct qlb_addr *src, int type, int proto,
			char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(src, 0, &ss);
	char a[INET6_ADDRSTRLEN];
	int fd, one = 1;

	fd = socket(src->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		goto fail;
	if (src->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (src->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl))
		goto fail;
	if (type == SOCK_RAW) {
		/* send only: never queue the node's incoming tunnel traffic */
		struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
		struct sock_fprog prog = {.len = 1, .filter = &drop};

		setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			   sizeof(prog));
	}
	return fd;
fail:
	snprintf(err, errlen,
		 "health probes: cannot open a %s socket on %s: %s",
		 type == SOCK_RAW ? "raw" : "UDP",
		 qlb_addr_str(src, a, sizeof(a)), strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int raw_socket(struct qlb_prober *pr, int outer, int inner, char *err,
		      size_t errlen)
{
	if (pr->raw[outer][inner] >= 0)
		return 0;
	pr->raw[outer][inner] =
		bound_socket(src_of(pr, outer), SOCK_RAW,
			     inner ? IPPROTO_IPV6 : IPPROTO_IPIP, err, errlen);
	return pr->raw[outer][inner] < 0 ? -1 : 0;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
struct qlb_prober *qlb_prober_new(const struct qlb_config *cfg,
				  const struct qlb_health_params *p, char *err,
				  size_t errlen)
{
	struct qlb_prober *pr = calloc(1, sizeof(*pr));
	unsigned int i, v;
	int f, g;

	if (!pr) {
		snprintf(err, errlen, "health probes: out of memory");
		return NULL;
	}
	pr->cfg = cfg;
	pr->p = *p;
	pr->n = qlb_health_nmembers(cfg);
	/* at most QLB_HP_MAX_RATE probes a second: beyond that many members
	 * each is probed less often (rise/fall count probes, so detection
	 * takes longer; lb run says so) */
	if ((uint64_t)pr->n * 1000 >
	    (uint64_t)QLB_HP_MAX_RATE * pr->p.interval_ms)
		pr->p.interval_ms = (unsigned int)(((uint64_t)pr->n * 1000 +
						    QLB_HP_MAX_RATE - 1) /
						   QLB_HP_MAX_RATE);
	pr->udp[0] = pr->udp[1] = -1;
	for (f = 0; f < 2; f++)
		for (g = 0; g < 2; g++)
			pr->raw[f][g] = -1;
	pr->t = calloc(pr->n ? pr->n : 1, sizeof(*pr->t));
	pr->h = calloc(pr->n ? pr->n : 1, sizeof(*pr->h));
	if (!pr->t || !pr->h) {
		snprintf(err, errlen, "health probes: out of memory");
		goto fail;
	}
	for (f = 0; f < 2; f++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (!src_of(pr, f))
			continue;
		pr->udp[f] =
			bound_socket(src_of(pr, f), SOCK_DGRAM, 0, err, errlen);
		if (pr->udp[f] < 0)
			goto fail;
		getsockname(pr->udp[f], (struct sockaddr *)&ss, &sl);
		pr->port[f] = ntohs(f ? ((struct sockaddr_in6 *)&ss)->sin6_port
				      : ((struct sockaddr_in *)&ss)->sin_port);
	}
	for (i = 0; i < pr->n; i++) {
		const struct qlb_conf_service *sv;
		const struct qlb_conf_host *h;
		struct hp_target *t = &pr->t[i];
		unsigned int first, end;

		t->vip = -1;
		pr->h[i].last_status = QLB_HP_UNPROBED;
		if (qlb_health_member(cfg, i, &t->svc, &t->j))
			continue;
		sv = &cfg->services[t->svc];
		t->host = sv->hosts[t->j].host;
		t->tag = qlb_hp_service_tag(sv->name);
		h = &cfg->hosts[t->host];
		t->outer = fam_idx(h->address.family);
		if (!src_of(pr, t->outer))
			continue;
		/* one of the service's own VIPs: the responder answers for
		 * the service the probe names, the address is the fallback
		 * of older responders. Inner family: the host's own if a
		 * VIP has it (the common path), otherwise any VIP we can
		 * be answered on */
		first = sv->vip_first;
		end = sv->vip_first + sv->nvips;
		if (end > cfg->lb.nvips)
			end = cfg->lb.nvips;
		for (v = first; v < end && t->vip < 0; v++)
			if (cfg->lb.vips[v].addr.family == h->address.family)
				t->vip = (int)v;
		for (v = first; v < end && t->vip < 0; v++)
			if (src_of(pr, fam_idx(cfg->lb.vips[v].addr.family)))
				t->vip = (int)v;
		if (t->vip < 0)
			continue;
		t->inner = fam_idx(cfg->lb.vips[t->vip].addr.family);
		if (h->encap == QLB_ENCAP_IPIP &&
		    raw_socket(pr, t->outer, t->inner, err, errlen))
			goto fail;
	}
	return pr;
fail:
	qlb_prober_free(pr);
	return NULL;
}

void qlb_prober_free(struct qlb_prober *pr)
{
	int f, g;

	if (!pr)
		return;
	for (f = 0; f < 2; f++) {
		if (pr->udp[f] >= 0)
			close(pr->udp[f]);
		for (g = 0; g < 2; g++)
			if (pr->raw[f][g] >= 0)
				close(pr->raw[f][g]);
	}
	free(pr->t);
	free(pr->h);
	free(pr);
}

int qlb_prober_fds(const struct qlb_prober *pr, int *fds, int max)
{
	int f, n = 0;

	for (f = 0; f < 2; f++)
		if (pr->udp[f] >= 0 && n < max)
			fds[n++] = pr->udp[f];
	return n;
}

const struct qlb_hprobe *qlb_prober_member(const struct qlb_prober *pr,
					   unsigned int m)
{
	return m < pr->n ? &pr->h[m] : NULL;
}

unsigned int qlb_prober_interval_ms(const struct qlb_prober *pr)
{
	return pr->p.interval_ms;
}

bool qlb_prober_can_probe(const struct qlb_prober *pr, unsigned int m)
{
	return m < pr->n && pr->t[m].vip >= 0;
}

void qlb_prober_adopt(struct qlb_prober *pr, const struct qlb_prober *old)
{
	const struct qlb_config *oc = old->cfg;
	unsigned int i;

	for (i = 0; i < pr->n; i++) {
		const struct hp_target *t = &pr->t[i];
		const struct qlb_conf_service *os;
		const struct qlb_conf_svc_host *osh;
		const struct qlb_conf_host *oh;
		struct qlb_hprobe *h = &pr->h[i];
		unsigned int m;

		if (t->svc >= pr->cfg->nservices)
			continue;
		os = qlb_config_service(oc, pr->cfg->services[t->svc].name);
		oh = qlb_config_host(oc, pr->cfg->hosts[t->host].name);
		if (!os || !oh)
			continue;
		osh = qlb_service_host(os, (unsigned int)(oh - oc->hosts));
		if (!osh)
			continue;
		m = os->member_first + (unsigned int)(osh - os->hosts);
		if (m >= old->n)
			continue;
		*h = old->h[m];
		h->sent_ns = 0; /* its answer goes to the old socket */
	}
}

/* One result for member @i; true when its health changed. */
static bool hp_result(struct qlb_prober *pr, unsigned int i, unsigned int st)
{
	struct qlb_hprobe *h = &pr->h[i];
	enum qlb_health old = h->sm.health;
	bool ok = st == QLB_HP_OK;

	h->last_status = st;
	if (ok)
		h->ok++;
	else
		h->failed++;
	if (!qlb_hsm_feed(&h->sm, &pr->p, ok))
		return false;
	h->since_ns = qlb_health_real_ns();
	/* unknown -> healthy is how every host starts: not counted */
	if (old != QLB_HEALTH_UNKNOWN || h->sm.health != QLB_HEALTH_UP)
		h->transitions++;
	return true;
}

/* Send member @i its probe; true when a failure to send changed its
 * health. */
static bool hp_send(struct qlb_prober *pr, unsigned int i, uint64_t now)
{
	const struct hp_target *t = &pr->t[i];
	const struct qlb_conf_host *host = &pr->cfg->hosts[t->host];
	struct qlb_hprobe *h = &pr->h[i];
	const struct qlb_conf_vip *vip = &pr->cfg->lb.vips[t->vip];
	struct sockaddr_storage ss;
	struct qlb_hp_msg m = {0};
	uint8_t pkt[256];
	socklen_t sl;
	size_t len;
	ssize_t r;
	int fd;

	m.magic = htonl(QLB_HP_MAGIC);
	m.version = QLB_HP_VERSION;
	m.type = QLB_HP_PROBE;
	m.flags = QLB_HP_F_SERVICE;
	m.service = htonl(t->tag);
	if (getrandom(h->nonce, sizeof(h->nonce), 0) != sizeof(h->nonce)) {
		unsigned int k;

		for (k = 0; k < sizeof(h->nonce); k++)
			h->nonce[k] = (uint8_t)rand();
	}
	/* the first 4 bytes name the member (its answer is found at once);
	 * the other 96 bits stay random, which a forged answer would have
	 * to guess */
	h->nonce[0] = (uint8_t)(i >> 24);
	h->nonce[1] = (uint8_t)(i >> 16);
	h->nonce[2] = (uint8_t)(i >> 8);
	h->nonce[3] = (uint8_t)i;
	memcpy(m.nonce, h->nonce, sizeof(m.nonce));
	snprintf(m.host, sizeof(m.host), "%s", host->name);
	len = qlb_probe_build(pkt, sizeof(pkt), src_of(pr, t->inner),
			      pr->port[t->inner], &vip->addr, pr->p.port, &m);
	if (host->encap == QLB_ENCAP_GUE) {
		fd = pr->udp[t->outer];
		sl = to_sockaddr(&host->address, pr->cfg->lb.gue_port, &ss);
	} else {
		fd = pr->raw[t->outer][t->inner];
		sl = to_sockaddr(&host->address, 0, &ss);
	}
	h->sent++;
	r = fd >= 0 && len ? sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, sl)
			   : -1;
	if (r != (ssize_t)len) {
		h->sent_ns = 0;
		return hp_result(pr, i, QLB_HP_SEND_ERROR);
	}
	h->sent_ns = now ? now : 1;
	return false;
}

/*
 * Take one datagram from @fd.
 * Return: -1 when none is queued, 1 when a member's health changed, else 0.
 */
static int hp_read(struct qlb_prober *pr, int fd, uint64_t now)
{
	struct qlb_hprobe *h;
	struct qlb_hp_msg m;
	unsigned int i;
	ssize_t r;

	r = recv(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC);
	if (r < 0)
		return -1;
	if (r != (ssize_t)sizeof(m) || ntohl(m.magic) != QLB_HP_MAGIC ||
	    m.version != QLB_HP_VERSION || m.type != QLB_HP_ANSWER)
		return 0;
	i = (unsigned int)m.nonce[0] << 24 | (unsigned int)m.nonce[1] << 16 |
	    (unsigned int)m.nonce[2] << 8 | m.nonce[3];
	if (i >= pr->n)
		return 0;
	h = &pr->h[i];
	/* only the probe outstanding now: a late or forged answer (wrong
	 * nonce) counts for nothing */
	if (!h->sent_ns || memcmp(h->nonce, m.nonce, sizeof(m.nonce)))
		return 0;
	h->last_rtt_us = (uint32_t)((now - h->sent_ns) / 1000);
	h->last_flags = m.flags;
	h->sent_ns = 0;
	return hp_result(pr, i, m.status < QLB_HP_STATUS_MAX ? m.status : 255);
}

bool qlb_prober_run(struct qlb_prober *pr, int fd, uint64_t now_ns,
		    uint64_t *next_ns)
{
	uint64_t iv = (uint64_t)pr->p.interval_ms * 1000000ull;
	uint64_t to = (uint64_t)pr->p.timeout_ms * 1000000ull;
	uint64_t next;
	bool changed = false;
	unsigned int i, k;

	if (!now_ns)
		now_ns = mono_ns();
	next = now_ns + iv;
	/* bounded: at most one round of answers per call */
	for (k = 0; fd >= 0 && k < 256; k++) {
		int st = hp_read(pr, fd, now_ns);

		if (st < 0)
			break;
		changed |= st > 0;
	}
	/* nothing is due before the earliest deadline of the last scan (an
	 * answer only removes one): answers cost no scan of every member */
	if (pr->started && pr->due && now_ns < pr->due) {
		*next_ns = pr->due;
		return changed;
	}
	if (!pr->started) {
		/* spread the members over one interval: no burst */
		for (i = 0; i < pr->n; i++)
			if (!pr->h[i].next_ns)
				pr->h[i].next_ns =
					now_ns + (pr->n ? iv * i / pr->n : 0);
		pr->started = true;
	}
	for (i = 0; i < pr->n; i++) {
		struct qlb_hprobe *h = &pr->h[i];

		if (pr->t[i].vip < 0)
			continue;
		if (h->sent_ns && now_ns >= h->sent_ns + to) {
			h->sent_ns = 0;
			changed |= hp_result(pr, i, QLB_HP_TIMEOUT);
		}
		if (now_ns >= h->next_ns) {
			if (!h->sent_ns)
				changed |= hp_send(pr, i, now_ns);
			h->next_ns += iv;
			if (h->next_ns <= now_ns)
				h->next_ns = now_ns + iv;
		}
		if (h->sent_ns && h->sent_ns + to < next)
			next = h->sent_ns + to;
		if (h->next_ns < next)
			next = h->next_ns;
	}
	pr->due = next;
	*next_ns = next;
	return changed;
}
