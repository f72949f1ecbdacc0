// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* Health checking of the hosts by an LB node: see health.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common.h"
#include "health.h"

/* ---- the state machine ------------------------------------------------- */

bool qlb_hsm_feed(struct qlb_hsm *s, const struct qlb_health_params *p, bool ok)
{
	enum qlb_health old = s->health;

	if (ok) {
		s->fail_run = 0;
		if (s->ok_run < UINT32_MAX)
			s->ok_run++;
		/* an unknown host was counted in already: one answer
		 * settles it; a down one must prove itself rise times */
		if (s->health == QLB_HEALTH_UNKNOWN ||
		    (s->health == QLB_HEALTH_DOWN && s->ok_run >= p->rise))
			s->health = QLB_HEALTH_UP;
	} else {
		s->ok_run = 0;
		if (s->fail_run < UINT32_MAX)
			s->fail_run++;
		if (s->health != QLB_HEALTH_DOWN && s->fail_run >= p->fall)
			s->health = QLB_HEALTH_DOWN;
	}
	return s->health != old;
}

bool qlb_health_effective(const struct qlb_config *cfg,
			  const enum qlb_health *h, enum qlb_host_state *eff)
{
	unsigned int i, active = 0, healthy_active = 0;

	for (i = 0; i < cfg->nhosts; i++) {
		if (cfg->hosts[i].state != QLB_HOST_ACTIVE)
			continue;
		active++;
		if (h[i] != QLB_HEALTH_DOWN)
			healthy_active++;
	}
	/* Every host the operator wants to take new connections looks dead
	 * at once: the node's own uplink is the likelier culprit. Keep
	 * forwarding as the file says rather than drop everything. */
	if (active && !healthy_active) {
		for (i = 0; i < cfg->nhosts; i++)
			eff[i] = cfg->hosts[i].state;
		return true;
	}
	for (i = 0; i < cfg->nhosts; i++)
		eff[i] = h[i] == QLB_HEALTH_DOWN ? QLB_HOST_DOWN
						 : cfg->hosts[i].state;
	return false;
}

const char *qlb_health_name(enum qlb_health h)
{
	switch (h) {
	case QLB_HEALTH_UP:
		return "healthy";
	case QLB_HEALTH_DOWN:
		return "unhealthy";
	default:
		return "unknown";
	}
}

const char *qlb_hp_status_name(unsigned int s)
{
	switch (s) {
	case QLB_HP_OK:
		return "ok";
	case QLB_HP_WRONG_HOST:
		return "wrong_host";
	case QLB_HP_NO_DECAP:
		return "decap_detached";
	case QLB_HP_NO_GROUP:
		return "no_vip_socket";
	case QLB_HP_GROUP_DOWN:
		return "no_live_socket";
	case QLB_HP_TIMEOUT:
		return "timeout";
	case QLB_HP_SEND_ERROR:
		return "send_error";
	case QLB_HP_UNPROBED:
		return "unprobed";
	}
	return "bad_answer";
}

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

struct hp_target {
	int vip;   /* index into lb.vips of the inner destination, -1 */
	int outer; /* 0 = IPv4, 1 = IPv6 */
	int inner; /* likewise */
};

struct qlb_prober {
	const struct qlb_config *cfg;
	struct qlb_health_params p;
	int udp[2]; /* by family index: answers, and GUE sends */
	uint16_t port[2];
	int raw[2][2]; /* [outer][inner]: IP-in-IP sends */
	struct hp_target *t;
	struct qlb_hprobe *h;
	unsigned int n;
	bool started;
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

static uint64_t real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
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
	pr->n = cfg->nhosts;
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
		const struct qlb_conf_host *h = &cfg->hosts[i];
		struct hp_target *t = &pr->t[i];

		t->vip = -1;
		t->outer = fam_idx(h->address.family);
		pr->h[i].last_status = QLB_HP_UNPROBED;
		if (!src_of(pr, t->outer))
			continue;
		/* inner family: the host's own if a VIP has it (the common
		 * path), otherwise any VIP we can be answered on */
		for (v = 0; v < cfg->lb.nvips && t->vip < 0; v++)
			if (cfg->lb.vips[v].addr.family == h->address.family)
				t->vip = (int)v;
		for (v = 0; v < cfg->lb.nvips && t->vip < 0; v++)
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

const struct qlb_hprobe *qlb_prober_host(const struct qlb_prober *pr,
					 unsigned int i)
{
	return i < pr->n ? &pr->h[i] : NULL;
}

bool qlb_prober_can_probe(const struct qlb_prober *pr, unsigned int i)
{
	return i < pr->n && pr->t[i].vip >= 0;
}

void qlb_prober_adopt(struct qlb_prober *pr, const struct qlb_prober *old)
{
	unsigned int i, j;

	for (i = 0; i < pr->n; i++) {
		for (j = 0; j < old->n; j++) {
			struct qlb_hprobe *h = &pr->h[i];

			if (strcmp(pr->cfg->hosts[i].name,
				   old->cfg->hosts[j].name))
				continue;
			*h = old->h[j];
			h->sent_ns = 0; /* its answer goes to the old socket */
			break;
		}
	}
}

/* One result for host @i; true when its health changed. */
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
	h->since_ns = real_ns();
	/* unknown -> healthy is how every host starts: not counted */
	if (old != QLB_HEALTH_UNKNOWN || h->sm.health != QLB_HEALTH_UP)
		h->transitions++;
	return true;
}

/* Send host @i its probe; true when a failure to send changed its health. */
static bool hp_send(struct qlb_prober *pr, unsigned int i, uint64_t now)
{
	const struct qlb_conf_host *host = &pr->cfg->hosts[i];
	const struct hp_target *t = &pr->t[i];
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
	if (getrandom(h->nonce, sizeof(h->nonce), 0) != sizeof(h->nonce)) {
		unsigned int k;

		for (k = 0; k < sizeof(h->nonce); k++)
			h->nonce[k] = (uint8_t)rand();
	}
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
 * Return: -1 when none is queued, 1 when a host's health changed, else 0.
 */
static int hp_read(struct qlb_prober *pr, int fd, uint64_t now)
{
	struct qlb_hp_msg m;
	unsigned int i;
	ssize_t r;

	r = recv(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC);
	if (r < 0)
		return -1;
	if (r != (ssize_t)sizeof(m) || ntohl(m.magic) != QLB_HP_MAGIC ||
	    m.version != QLB_HP_VERSION || m.type != QLB_HP_ANSWER)
		return 0;
	for (i = 0; i < pr->n; i++) {
		struct qlb_hprobe *h = &pr->h[i];

		/* only the probe outstanding now: a late or forged answer
		 * (wrong nonce) counts for nothing */
		if (!h->sent_ns || memcmp(h->nonce, m.nonce, sizeof(m.nonce)))
			continue;
		h->last_rtt_us = (uint32_t)((now - h->sent_ns) / 1000);
		h->sent_ns = 0;
		return hp_result(pr, i,
				 m.status < QLB_HP_STATUS_MAX ? m.status : 255);
	}
	return 0;
}

bool qlb_prober_run(struct qlb_prober *pr, int fd, uint64_t now_ns,
		    uint64_t *next_ns)
{
	uint64_t iv = (uint64_t)pr->p.interval_ms * 1000000ull;
	uint64_t to = (uint64_t)pr->p.timeout_ms * 1000000ull;
	uint64_t next = now_ns + iv;
	bool changed = false;
	unsigned int i, k;

	if (!now_ns)
		now_ns = mono_ns();
	/* bounded: at most one round of answers per call */
	for (k = 0; fd >= 0 && k < 256; k++) {
		int st = hp_read(pr, fd, now_ns);

		if (st < 0)
			break;
		changed |= st > 0;
	}
	if (!pr->started) {
		/* spread the hosts over one interval: no burst */
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
	*next_ns = next;
	return changed;
}

/* ---- the published view -------------------------------------------------- */

struct hv_key {
	char name[QLB_NAME_MAX];
};

static int hv_open(const char *pin_dir, const char *name, __u32 vsize)
{
	char path[PATH_MAX + 64];
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.value_size != vsize) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

static int hv_open_or_create(const char *pin_dir, const char *name,
			     enum bpf_map_type type, __u32 ksize, __u32 vsize,
			     __u32 max)
{
	char path[PATH_MAX + 64];
	int fd = hv_open(pin_dir, name, vsize);

	if (fd >= 0 || fd != -ENOENT)
		return fd;
	fd = bpf_map_create(type, name, ksize, vsize, max, NULL);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	if (bpf_obj_pin(fd, path)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int qlb_health_publish(const char *pin_dir, const struct qlb_config *cfg,
		       const struct qlb_prober *pr,
		       const enum qlb_host_state *eff, bool fail_open,
		       uint64_t fail_open_events,
		       const struct qlb_health_params *p)
{
	struct qlb_health_sum sum = {0};
	struct hv_key k, next;
	unsigned int i;
	__u32 zero = 0;
	int fd, sfd, err = 0;

	fd = hv_open_or_create(pin_dir, QLB_PIN_HEALTH, BPF_MAP_TYPE_HASH,
			       sizeof(struct hv_key),
			       sizeof(struct qlb_health_rec), QLB_MAX_HOSTS);
	if (fd < 0)
		return fd;
	sfd = hv_open_or_create(pin_dir, QLB_PIN_HEALTH_SUM, BPF_MAP_TYPE_ARRAY,
				sizeof(__u32), sizeof(struct qlb_health_sum),
				1);
	if (sfd < 0) {
		close(fd);
		return sfd;
	}
	for (i = 0; i < cfg->nhosts; i++) {
		const struct qlb_hprobe *h = qlb_prober_host(pr, i);
		struct qlb_health_rec r = {0};

		memset(&k, 0, sizeof(k));
		snprintf(k.name, sizeof(k.name), "%s", cfg->hosts[i].name);
		r.intent = (uint8_t)cfg->hosts[i].state;
		r.health = (uint8_t)h->sm.health;
		r.effective = (uint8_t)eff[i];
		r.last_status = h->last_status;
		r.last_rtt_us = h->last_rtt_us;
		r.since_ns = h->since_ns;
		r.sent = h->sent;
		r.ok = h->ok;
		r.failed = h->failed;
		r.transitions = h->transitions;
		if (bpf_map_update_elem(fd, &k, &r, BPF_ANY))
			err = -errno;
	}
	/* hosts no longer in the file leave the view */
	if (!bpf_map_get_next_key(fd, NULL, &next)) {
		do {
			k = next;
			if (bpf_map_get_next_key(fd, &k, &next))
				memset(&next, 0, sizeof(next));
			if (!qlb_config_host(cfg, k.name))
				bpf_map_delete_elem(fd, &k);
		} while (next.name[0]);
	}
	sum.pid = (uint32_t)getpid();
	sum.fail_open = fail_open;
	sum.interval_ms = p->interval_ms;
	sum.timeout_ms = p->timeout_ms;
	sum.rise = p->rise;
	sum.fall = p->fall;
	sum.port = p->port;
	sum.updated_ns = real_ns();
	sum.fail_open_events = fail_open_events;
	if (bpf_map_update_elem(sfd, &zero, &sum, BPF_ANY))
		err = -errno;
	close(fd);
	close(sfd);
	return err;
}

void qlb_health_unpublish(const char *pin_dir)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, QLB_PIN_HEALTH);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, QLB_PIN_HEALTH_SUM);
	unlink(path);
}

/* The view: both maps opened, or -errno. */
static int hv_read_sum(const char *pin_dir, int *fd, struct qlb_health_sum *sum)
{
	__u32 zero = 0;
	int sfd;

	sfd = hv_open(pin_dir, QLB_PIN_HEALTH_SUM,
		      sizeof(struct qlb_health_sum));
	if (sfd < 0)
		return sfd;
	if (bpf_map_lookup_elem(sfd, &zero, sum)) {
		int e = -errno;

		close(sfd);
		return e;
	}
	close(sfd);
	*fd = hv_open(pin_dir, QLB_PIN_HEALTH, sizeof(struct qlb_health_rec));
	return *fd < 0 ? *fd : 0;
}

static bool hv_running(const struct qlb_health_sum *sum)
{
	return sum->pid && (kill((pid_t)sum->pid, 0) == 0 || errno == EPERM);
}

int qlb_health_view_apply(struct qlb_config *cfg, const char *pin_dir,
			  char *err, size_t errlen)
{
	struct qlb_health_sum sum;
	unsigned int i;
	int fd, e;

	e = hv_read_sum(pin_dir, &fd, &sum);
	if (e) {
		snprintf(err, errlen,
			 "no health view under %s (%s): is `qlbctl lb run` "
			 "running there?",
			 pin_dir, e == -ENOENT ? "not found" : strerror(-e));
		return e;
	}
	for (i = 0; i < cfg->nhosts; i++) {
		struct qlb_health_rec r;
		struct hv_key k = {{0}};

		snprintf(k.name, sizeof(k.name), "%s", cfg->hosts[i].name);
		if (bpf_map_lookup_elem(fd, &k, &r))
			continue; /* not probed: as the file says */
		if (sum.fail_open)
			continue;
		if (r.health == QLB_HEALTH_DOWN)
			cfg->hosts[i].state = QLB_HOST_DOWN;
	}
	close(fd);
	return 0;
}

static const char *intent_name(unsigned int s)
{
	return s <= QLB_HOST_DOWN ? qlb_host_state_name(s) : "?";
}

static void fmt_since(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void qlb_health_status(FILE *f, struct qlb_json_w *w, const char *pin_dir)
{
	struct qlb_health_sum sum;
	struct hv_key k, next;
	bool running, more;
	int fd;

	if (hv_read_sum(pin_dir, &fd, &sum))
		return;
	running = hv_running(&sum);
	if (w) {
		jw_obj_open(w, "health");
		jw_bool(w, "running", running);
		jw_uint(w, "pid", sum.pid);
		jw_bool(w, "fail_open", sum.fail_open);
		jw_uint(w, "fail_open_events", sum.fail_open_events);
		jw_uint(w, "interval_ms", sum.interval_ms);
		jw_uint(w, "timeout_ms", sum.timeout_ms);
		jw_uint(w, "rise", sum.rise);
		jw_uint(w, "fall", sum.fall);
		jw_uint(w, "port", sum.port);
		jw_uint(w, "updated_ns", sum.updated_ns);
		jw_arr_open(w, "hosts");
	} else {
		fprintf(f,
			"health checking: %s (pid %u), every %u ms, timeout %u "
			"ms, rise %u, fall %u, port %u\n",
			running ? "running" : "NOT RUNNING, stale view",
			sum.pid, sum.interval_ms, sum.timeout_ms, sum.rise,
			sum.fall, sum.port);
		if (sum.fail_open)
			fprintf(f, "FAIL OPEN: no active host answers probes; "
				   "forwarding to the hosts as configured\n");
		fprintf(f, "  %-16s %-9s %-10s %-9s %-20s %9s %-14s %s\n",
			"host", "intent", "health", "effective", "since",
			"rtt_ms", "last_probe", "failed/sent");
	}
	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more) {
		struct qlb_health_rec r;
		char since[32];

		k = next;
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (bpf_map_lookup_elem(fd, &k, &r))
			continue;
		k.name[sizeof(k.name) - 1] = 0;
		fmt_since(r.since_ns, since, sizeof(since));
		if (w) {
			jw_obj_open(w, NULL);
			jw_str(w, "name", k.name);
			jw_str(w, "intent", intent_name(r.intent));
			jw_str(w, "health", qlb_health_name(r.health));
			jw_str(w, "effective", intent_name(r.effective));
			if (r.since_ns)
				jw_str(w, "since", since);
			else
				jw_null(w, "since");
			jw_uint(w, "last_rtt_us", r.last_rtt_us);
			jw_str(w, "last_probe",
			       qlb_hp_status_name(r.last_status));
			jw_uint(w, "probes_sent", r.sent);
			jw_uint(w, "probes_ok", r.ok);
			jw_uint(w, "probes_failed", r.failed);
			jw_uint(w, "transitions", r.transitions);
			jw_obj_close(w);
		} else {
			fprintf(f,
				"  %-16s %-9s %-10s %-9s %-20s %9.3f %-14s "
				"%llu/%llu\n",
				k.name, intent_name(r.intent),
				qlb_health_name(r.health),
				intent_name(r.effective), since,
				r.last_rtt_us / 1000.0,
				qlb_hp_status_name(r.last_status),
				(unsigned long long)r.failed,
				(unsigned long long)r.sent);
		}
	}
	if (w) {
		jw_arr_close(w);
		jw_obj_close(w);
	}
	close(fd);
}

void qlb_health_metrics(FILE *f, const char *pin_dir)
{
	struct qlb_health_sum sum;
	struct hv_key k, next;
	bool more;
	int fd, pass;

	if (hv_read_sum(pin_dir, &fd, &sum))
		return;
	fprintf(f,
		"# HELP qlb_lb_health_running 1 while qlbctl lb run "
		"checks the hosts' health\n"
		"# TYPE qlb_lb_health_running gauge\n"
		"qlb_lb_health_running %d\n",
		hv_running(&sum));
	fprintf(f,
		"# HELP qlb_lb_health_fail_open 1 while no active host "
		"answers probes and the node forwards as configured\n"
		"# TYPE qlb_lb_health_fail_open gauge\n"
		"qlb_lb_health_fail_open %u\n",
		sum.fail_open);
	fprintf(f,
		"# HELP qlb_lb_health_fail_open_total times the node "
		"started failing open\n"
		"# TYPE qlb_lb_health_fail_open_total counter\n"
		"qlb_lb_health_fail_open_total %llu\n",
		(unsigned long long)sum.fail_open_events);
	static const char *const heads[] = {
		"# HELP qlb_lb_host_healthy 1 when the host answers probes "
		"(or is not judged yet), 0 when unhealthy\n"
		"# TYPE qlb_lb_host_healthy gauge\n",
		"# HELP qlb_lb_host_probes_total health probes by result\n"
		"# TYPE qlb_lb_host_probes_total counter\n",
		"# HELP qlb_lb_host_probe_rtt_seconds round trip of the "
		"last answered probe\n"
		"# TYPE qlb_lb_host_probe_rtt_seconds gauge\n",
		"# HELP qlb_lb_host_health_transitions_total health "
		"changes seen\n"
		"# TYPE qlb_lb_host_health_transitions_total counter\n",
	};
	for (pass = 0; pass < 4; pass++) {
		fputs(heads[pass], f);
		more = !bpf_map_get_next_key(fd, NULL, &next);
		while (more) {
			struct qlb_health_rec r;

			k = next;
			more = !bpf_map_get_next_key(fd, &k, &next);
			if (bpf_map_lookup_elem(fd, &k, &r))
				continue;
			k.name[sizeof(k.name) - 1] = 0;
			switch (pass) {
			case 0:
				fprintf(f,
					"qlb_lb_host_healthy{host=\"%s\"} %d\n",
					k.name, r.health != QLB_HEALTH_DOWN);
				break;
			case 1:
				fprintf(f,
					"qlb_lb_host_probes_total{host=\"%s\","
					"result=\"ok\"} %llu\n"
					"qlb_lb_host_probes_total{host=\"%s\","
					"result=\"failed\"} %llu\n",
					k.name, (unsigned long long)r.ok,
					k.name, (unsigned long long)r.failed);
				break;
			case 2:
				fprintf(f,
					"qlb_lb_host_probe_rtt_seconds{host=\"%"
					"s\"}"
					" %.6f\n",
					k.name, r.last_rtt_us / 1e6);
				break;
			default:
				fprintf(f,
					"qlb_lb_host_health_transitions_total{"
					"host=\"%s\"} %llu\n",
					k.name,
					(unsigned long long)r.transitions);
			}
		}
	}
	close(fd);
}
