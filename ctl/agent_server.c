// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host agent's connection server (agent_daemon.h): host.agent_socket,
 * its peers (checked by SO_PEERCRED), their message framing and requests.
 * Protocol: include/qlb/abi/agent_proto.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent_daemon.h"
#include "agent_services.h"
#include "bpf_util.h"
#include "common.h"
#include "qlb/abi/agent_frame.h"

/*
 * ag_conn_drop() - give up on a peer: it gets no more messages and the
 * main loop closes it (handlers up the stack may still hold @c).
 */
static void ag_conn_drop(struct ag_conn *c, const char *why)
{
	if (c->dead)
		return;
	ag_log("pid %d uid %u: %s; dropping the connection", (int)c->pid,
	       (unsigned int)c->uid, why);
	c->dead = true;
	shutdown(c->fd, SHUT_RDWR);
}

static void ag_obuf_free(struct ag_conn *c)
{
	/* CONFIGS carry keys */
	if (c->obuf)
		explicit_bzero(c->obuf, c->ocap);
	free(c->obuf);
	c->obuf = NULL;
	c->olen = c->ooff = c->ocap = 0;
}

/*
 * ag_flush() - send what is queued for @c without blocking. The agent
 * serves every peer from one thread: a peer that does not read must cost
 * it memory (bounded) and then its connection, never time.
 */
void ag_flush(struct ag_conn *c)
{
	while (!c->dead && c->ooff < c->olen) {
		ssize_t n = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			c->ooff += (size_t)n;
			c->stalled_ms = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->stalled_ms)
				c->stalled_ms = ag_now_ms();
			return;
		}
		ag_conn_drop(c, "cannot send to it");
		return;
	}
	if (c->ooff == c->olen) {
		c->stalled_ms = 0;
		if (c->ocap > AG_OBUF_KEEP) {
			ag_obuf_free(c);
		} else if (c->olen) {
			explicit_bzero(c->obuf, c->olen);
			c->olen = c->ooff = 0;
		}
	}
}

int ag_send(struct ag_conn *c, uint16_t type, const void *body, uint32_t len)
{
	size_t need = sizeof(struct qlb_ap_hdr) + len, pending;

	if (c->dead)
		return -EPIPE;
	pending = c->olen - c->ooff;
	/* one message of any size fits an empty queue (STATUS of a big
	 * host); beyond that the queue is bounded */
	if (pending && pending + need > AG_OBUF_MAX) {
		ag_conn_drop(c, "does not read what the agent sends");
		return -ENOBUFS;
	}
	if (c->ooff && c->olen + need > c->ocap) {
		memmove(c->obuf, c->obuf + c->ooff, pending);
		explicit_bzero(c->obuf + pending, c->olen - pending);
		c->olen = pending;
		c->ooff = 0;
	}
	if (c->olen + need > c->ocap) {
		size_t cap = c->olen + need < 4096 ? 4096 : c->olen + need;
		uint8_t *nb = malloc(cap);

		if (!nb) {
			ag_conn_drop(c, "out of memory for its messages");
			return -ENOMEM;
		}
		if (c->obuf)
			memcpy(nb, c->obuf, c->olen);
		pending = c->olen;
		ag_obuf_free(c);
		c->obuf = nb;
		c->ocap = cap;
		c->olen = pending;
	}
	qlb_ap_hdr_init((struct qlb_ap_hdr *)(void *)(c->obuf + c->olen), type,
			len);
	if (len)
		memcpy(c->obuf + c->olen + sizeof(struct qlb_ap_hdr), body,
		       len);
	c->olen += need;
	ag_flush(c);
	return c->dead ? -EPIPE : 0;
}

int ag_result(struct ag_conn *c, int code, const char *fmt, ...)
{
	struct qlb_ap_result r = {.code = code};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	return ag_send(c, QLB_AP_RESULT, &r, sizeof(r));
}

/* The configs a worker mints under: those of the service its socket
 * group serves, with its own server IDs in that service. */
static void ag_build_configs(struct agent *ag, uint32_t worker,
			     struct qlb_ap_configs *m)
{
	const struct qlb_conf_svc_host *sh;
	const struct qlb_conf_service *svc;
	int s = ag_worker_service(ag, worker);
	unsigned int id;

	memset(m, 0, sizeof(*m));
	if (s < 0)
		return; /* none: nothing to mint under (never registered) */
	svc = &ag->cfg.services[s];
	sh = qlb_host_service(&ag->cfg, (unsigned int)s, ag->me_idx);
	if (!sh)
		return;
	m->service = (uint32_t)s;
	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *c = &svc->configs[id];
		struct qlb_ap_config *a;
		unsigned int sl, b;

		/* never a server ID whose worker part spills into the host
		 * part (a reload that would do this is refused) */
		if (!c->present || !sh->has_sid[id] ||
		    (c->worker_bits < 32 && worker >> c->worker_bits))
			continue;
		a = &m->cfg[m->count++];
		a->id = id;
		a->sid_len = c->sid_len;
		a->nonce_len = c->nonce_len;
		a->worker_bits = c->worker_bits;
		a->flags = (c->has_key ? QLB_AP_CF_KEY : 0) |
			   (c->encode_length ? QLB_AP_CF_ENCODE_LEN : 0);
		a->state = c->state;
		if (c->has_key)
			memcpy(a->key, c->key, 16);
		sl = c->sid_len;
		memcpy(a->sid, sh->sid[id], sl);
		/* server ID = host part | worker ID in the low worker bits */
		for (b = 0; b < c->worker_bits && b < 32; b += 8)
			a->sid[sl - 1 - b / 8] |= (uint8_t)(worker >> b);
	}
}

int ag_send_configs(struct agent *ag, struct ag_conn *c)
{
	struct qlb_ap_configs m;
	int err;

	ag_build_configs(ag, (uint32_t)c->worker, &m);
	err = ag_send(c, QLB_AP_CONFIGS, &m, sizeof(m));
	explicit_bzero(&m, sizeof(m));
	return err;
}

void ag_close_conn(struct agent *ag, int i)
{
	struct ag_conn *c = ag->conns[i];

	if (!c)
		return;
	if (c->worker >= 0 && ag->workers[c->worker].conn == i)
		ag->workers[c->worker].conn = -1;
	if (c->pending_fd >= 0)
		close(c->pending_fd);
	close(c->fd);
	ag_obuf_free(c);
	free(c);
	ag->conns[i] = NULL;
}

void ag_push_generation(struct agent *ag)
{
	int i;

	for (i = 0; i < AG_MAX_CONNS; i++) {
		struct ag_conn *c = ag->conns[i];
		struct qlb_ap_generation m = {0};

		if (!c || c->worker < 0)
			continue;
		/* each worker hears of its own group's working generation */
		m.working_generation =
			ag_group_working(ag, &ag->workers[c->worker].rec.group);
		if (m.working_generation == c->told)
			continue;
		c->told = m.working_generation;
		/* a peer that cannot take it is dropped, not freed: this runs
		 * inside request handlers that still hold their conn */
		ag_send(c, QLB_AP_GENERATION, &m, sizeof(m));
	}
}

void ag_registered(struct agent *ag, struct ag_conn *c)
{
	const struct ag_worker *w = &ag->workers[c->worker];
	struct qlb_ap_registered m = {
		.worker_id = (uint32_t)c->worker,
		.generation = w->rec.generation,
		.working_generation = ag_group_working(ag, &w->rec.group),
		.cookie = w->rec.cookie,
	};

	c->told = m.working_generation;
	if (ag_send(c, QLB_AP_REGISTERED, &m, sizeof(m)) == 0)
		ag_send_configs(ag, c);
}

static void ag_do_status(struct agent *ag, struct ag_conn *c)
{
	struct qlb_ap_status *s;
	struct qlb_ap_worker *w;
	struct qlb_ap_gen *g;
	unsigned int nw = 0, i, nc = 0;
	size_t len;
	uint32_t id;
	char *buf;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++)
		nw += ag->workers[id].rec.in_use;
	for (i = 0; i < AG_MAX_CONNS; i++)
		nc += ag->conns[i] != NULL;
	len = sizeof(*s) + nw * sizeof(*w) + ag->ngens * sizeof(*g);
	buf = calloc(1, len);
	if (!buf) {
		ag_result(c, -ENOMEM, "out of memory");
		return;
	}
	s = (void *)buf;
	w = (void *)(s + 1);
	g = (void *)(w + nw);
	s->agent_pid = (uint32_t)getpid();
	s->working_generation = ag->working;
	s->nworkers = nw;
	s->ngens = ag->ngens;
	s->max_workers = ag->max_workers;
	s->nclients = nc;
	s->ifindex = (uint32_t)ag->ifindex;
	s->xdp_mode = ag->ifindex ? qlb_xdp_mode_wire(ag->xdp_mode) : 0;
	s->started_ns = ag->started_ns;
	s->refused = ag->refused;
	snprintf(s->host, sizeof(s->host), "%s", ag->cfg.host.name);
	ag_sum_stats(ag->m_rp_stats, s->rp_stats, QLB_RP_STAT_MAX);
	ag_sum_stats(ag->m_dc_stats, s->dc_stats, QLB_DC_STAT_MAX);
	for (id = 0, i = 0; id < QLB_HOST_MAX_WORKERS && i < nw; id++) {
		const struct ag_worker *x = &ag->workers[id];

		if (!x->rec.in_use)
			continue;
		w[i].worker_id = id;
		w[i].generation = x->rec.generation;
		w[i].pid = x->rec.pid;
		w[i].uid = x->rec.uid;
		w[i].cookie = x->rec.cookie;
		w[i].connected = x->conn >= 0;
		i++;
	}
	for (i = 0; i < ag->ngens; i++) {
		g[i].generation = ag->gens[i].gen;
		g[i].size = ag->gens[i].rec.size;
		g[i].state = ag->gens[i].rec.state;
		g[i].nworkers = ag->gens[i].live;
	}
	ag_send(c, QLB_AP_STATUS, buf, (uint32_t)len);
	free(buf);
}

/* One row of SERVICES: service @s as this host serves it. */
static void ag_service_row(struct agent *ag, unsigned int s,
			   struct qlb_ap_service *o)
{
	const struct qlb_conf_service *svc = &ag->cfg.services[s];
	const struct qlb_conf_svc_host *sh =
		qlb_host_service(&ag->cfg, s, ag->me_idx);
	unsigned int id;

	snprintf(o->name, sizeof(o->name), "%s", svc->name);
	o->index = s;
	o->row = ag->multi ? 1 + s : 0;
	o->active = QLB_AP_NCONFIGS;
	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *c = &svc->configs[id];
		struct qlb_host_cfg hc;
		__u32 k = QLB_HOST_CFG_KEY(o->row, id);

		if (!c->present || !sh || !sh->has_sid[id])
			continue;
		o->nconfigs++;
		if (c->state == QLB_CONF_ACTIVE)
			o->active = id;
		if (!bpf_map_lookup_elem(ag->m_hcfg, &k, &hc) && hc.present)
			o->epoch[id] = hc.epoch;
		explicit_bzero(&hc, sizeof(hc));
	}
}

/* SERVICES: the services this host serves, its socket groups (each with
 * its service) and the generations live in each group. */
static void ag_do_services(struct agent *ag, struct ag_conn *c)
{
	static uint32_t cnt[QLB_HOST_MAX_GROUPS][QLB_HOST_MAX_GENS];
	unsigned int ns = 0, ng = 0, ngg = 0, s, i, j;
	int gidx[QLB_HOST_MAX_GROUPS];
	struct qlb_ap_services *h;
	struct qlb_ap_service *sv;
	struct qlb_ap_group *gr;
	struct qlb_ap_group_gen *gg;
	size_t len;
	uint32_t id;
	char *buf;

	memset(cnt, 0, sizeof(cnt));
	for (s = 0; s < ag->cfg.nservices; s++)
		ns += qlb_host_service(&ag->cfg, s, ag->me_idx) != NULL;
	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++)
		gidx[i] = ag->groups[i].used ? (int)ng++ : -1;
	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		const struct qlb_worker_rec *r = &ag->workers[id].rec;
		const struct ag_group *g;
		struct ag_gen *e;

		if (!r->in_use)
			continue;
		g = ag_group_find(ag, &r->group);
		e = ag_gen_find(ag, r->generation);
		if (g && e)
			cnt[g - ag->groups][e - ag->gens]++;
	}
	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++)
		for (j = 0; gidx[i] >= 0 && j < ag->ngens; j++)
			ngg += cnt[i][j] != 0;
	len = sizeof(*h) + ns * sizeof(*sv) + ng * sizeof(*gr) +
	      ngg * sizeof(*gg);
	buf = calloc(1, len);
	if (!buf) {
		ag_result(c, -ENOMEM, "out of memory");
		return;
	}
	h = (void *)buf;
	sv = (void *)(h + 1);
	gr = (void *)(sv + ns);
	gg = (void *)(gr + ng);
	h->nservices = ns;
	h->ngroups = ng;
	h->ngroup_gens = ngg;
	for (s = 0, j = 0; s < ag->cfg.nservices; s++)
		if (qlb_host_service(&ag->cfg, s, ag->me_idx))
			ag_service_row(ag, s, &sv[j++]);
	for (i = 0, ngg = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		const struct ag_group *g = &ag->groups[i];
		struct qlb_ap_group *o;

		if (gidx[i] < 0)
			continue;
		o = &gr[gidx[i]];
		o->family = g->key.family;
		o->port = g->key.port;
		memcpy(o->addr, g->key.addr, sizeof(o->addr));
		o->service = g->svc;
		o->working_generation = g->working;
		for (j = 0; j < ag->ngens; j++) {
			if (!cnt[i][j])
				continue;
			o->nworkers += cnt[i][j];
			gg[ngg].group = (uint32_t)gidx[i];
			gg[ngg].generation = ag->gens[j].gen;
			gg[ngg].state = ag->gens[j].gen == g->working
						? QLB_GEN_WORKING
					: ag->gens[j].rec.state == QLB_GEN_NEW
						? QLB_GEN_NEW
						: QLB_GEN_DRAINING;
			gg[ngg].nworkers = cnt[i][j];
			ngg++;
		}
	}
	ag_send(c, QLB_AP_SERVICES, buf, (uint32_t)len);
	free(buf);
}

int qlb_agent_handle_msg(struct agent *ag, int ci, const struct qlb_ap_hdr *h,
			 const uint8_t *body)
{
	struct ag_conn *c = ag->conns[ci];

	switch (h->type) {
	case QLB_AP_REGISTER: {
		const struct qlb_ap_register *m = (const void *)body;

		if (h->len != sizeof(*m) || m->flags)
			return -1;
		ag_do_register(ag, ci, m->generation, m->gen_size, -1);
		break;
	}
	case QLB_AP_RESUME:
		if (h->len != sizeof(struct qlb_ap_resume))
			return -1;
		ag_do_resume(ag, ci, (const void *)body);
		break;
	case QLB_AP_DECLARE: {
		const struct qlb_ap_gen_req *m = (const void *)body;
		struct ag_gen *g;
		uint32_t wmin, wmax;

		if (h->len != sizeof(*m))
			return -1;
		/* no group yet: bounds over every group's working one; on
		 * a host serving several services, a lower one may be for
		 * another service's group (REGISTER checks it per group) */
		ag_working_range(ag, &wmin, &wmax);
		if (ag->multi)
			wmin = 0;
		if (!m->generation || (wmin && m->generation < wmin &&
				       !ag_gen_find(ag, m->generation))) {
			ag_result(c, -EINVAL, "generation %u is not a new one",
				  m->generation);
			break;
		}
		if (wmax && m->generation > wmax &&
		    m->generation - wmax > AG_GEN_WINDOW) {
			ag_result(c, -ERANGE,
				  "generation %u is more than %u above the "
				  "working generation %u",
				  m->generation, AG_GEN_WINDOW, wmax);
			break;
		}
		g = ag_gen_get(ag, m->generation);
		if (!g) {
			ag_result(c, -ENOSPC, "too many live generations");
			break;
		}
		if (m->size && g->rec.size != m->size) {
			g->rec.size = m->size;
			bpf_map_update_elem(ag->m_gens, &g->gen, &g->rec,
					    BPF_ANY);
			ag_update_gens(ag, 0);
		}
		ag_result(c, 0, "generation %u: size %u", m->generation,
			  g->rec.size);
		break;
	}
	case QLB_AP_PROMOTE: {
		const struct qlb_ap_gen_req *m = (const void *)body;
		struct ag_gen *g;

		if (h->len != sizeof(*m))
			return -1;
		ag_update_gens(ag, 0); /* fresh live counts */
		g = ag_gen_find(ag, m->generation);
		if (!g || !g->live) {
			ag_result(c, -ENOENT,
				  "generation %u has no live socket",
				  m->generation);
			break;
		}
		if (!g->working_now || g->behind) {
			ag_log("promote of generation %u asked by pid %d",
			       m->generation, (int)c->pid);
			/* in every group it has sockets in */
			ag_update_gens(ag, m->generation);
		}
		ag_result(c, 0, "generation %u is working", m->generation);
		break;
	}
	case QLB_AP_STATUS_REQ:
		ag_do_status(ag, c);
		break;
	case QLB_AP_SERVICES_REQ:
		ag_do_services(ag, c);
		break;
	default:
		ag_result(c, -EOPNOTSUPP, "unknown request %u", h->type);
		break;
	}
	return ag->conns[ci] ? 0 : -1;
}

void qlb_agent_conn_read(struct agent *ag, int ci)
{
	struct ag_conn *c = ag->conns[ci];
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {c->rbuf + c->rlen, AG_RBUF - c->rlen};
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (cm = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL; cm;
	     cm = CMSG_NXTHDR(&m, cm)) {
		int *fds = (int *)CMSG_DATA(cm);
		size_t k, nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nfd; k++) {
			/* one socket per request: a newer one replaces */
			if (c->pending_fd >= 0)
				close(c->pending_fd);
			c->pending_fd = fds[k];
		}
	}
	if (n <= 0) {
		ag_close_conn(ag, ci);
		return;
	}
	c->rlen += (size_t)n;
	for (;;) {
		struct qlb_ap_hdr h;
		long whole =
			qlb_ap_frame(c->rbuf, c->rlen, AG_RBUF - sizeof(h), &h);

		if (!whole)
			break;
		if (whole < 0) {
			ag_result(c, -EPROTONOSUPPORT,
				  "protocol version %u expected",
				  QLB_AP_VERSION);
			ag_log("pid %d: malformed message or other version; "
			       "closing",
			       (int)c->pid);
			ag_close_conn(ag, ci);
			return;
		}
		c->last_ms = ag_now_ms();
		if (qlb_agent_handle_msg(ag, ci, &h, c->rbuf + sizeof(h)) ||
		    c->dead) {
			ag_close_conn(ag, ci);
			return;
		}
		memmove(c->rbuf, c->rbuf + whole, c->rlen - (size_t)whole);
		c->rlen -= (size_t)whole;
	}
}

/* May this peer talk to the agent? */
static bool ag_allowed(struct agent *ag, int fd, const struct ucred *cr)
{
	const struct qlb_conf_agent *a = &ag->cfg.host;
	gid_t groups[256];
	socklen_t l = sizeof(groups);
	unsigned int i, k, n;

	/* the agent's own uid can open the pinned maps anyway */
	if (cr->uid == geteuid())
		return true;
	for (i = 0; i < a->nallow_uids; i++)
		if (a->allow_uids[i] == cr->uid)
			return true;
	for (i = 0; i < a->nallow_gids; i++)
		if (a->allow_gids[i] == cr->gid)
			return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &l))
		return false;
	n = l / sizeof(gid_t);
	for (k = 0; k < n; k++)
		for (i = 0; i < a->nallow_gids; i++)
			if (a->allow_gids[i] == groups[k])
				return true;
	return false;
}

int ag_conn_add(struct agent *ag, int fd, const struct ucred *cr)
{
	struct ag_conn *c;
	int i;

	for (i = 0; i < AG_MAX_CONNS && ag->conns[i]; i++)
		;
	c = i < AG_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c)
		return -1;
	c->fd = fd;
	c->worker = -1;
	c->pending_fd = -1;
	c->pid = cr->pid;
	c->uid = cr->uid;
	c->gid = cr->gid;
	c->last_ms = ag_now_ms();
	ag->conns[i] = c;
	return i;
}

/* Log lines a peer can cause at will: at most one a second per kind. */
static bool ag_log_ok(uint64_t *last)
{
	uint64_t now = ag_now_ms();

	if (*last && now - *last < 1000)
		return false;
	*last = now;
	return true;
}

/* Connections of @uid open now. */
static unsigned int ag_uid_conns(const struct agent *ag, uid_t uid)
{
	unsigned int i, n = 0;

	for (i = 0; i < AG_MAX_CONNS; i++)
		n += ag->conns[i] && ag->conns[i]->uid == uid;
	return n;
}

void ag_accept(struct agent *ag)
{
	static uint64_t log_full, log_uid, log_fds;
	struct qlb_ap_hello hello = {0};
	struct ucred cr;
	socklen_t l = sizeof(cr);
	struct ag_conn *c;
	int fd, i;

	fd = accept4(ag->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* the pending peer stays queued and the listening
			 * socket readable: accept again later, not at once
			 * (that would spin) */
			ag->accept_after_ms = ag_now_ms() + AG_ACCEPT_PAUSE_MS;
			if (ag_log_ok(&log_fds))
				ag_log("cannot accept a connection: %s; "
				       "pausing "
				       "accept for %d ms",
				       strerror(errno), AG_ACCEPT_PAUSE_MS);
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l)) {
		close(fd);
		return;
	}
	/* one uid cannot take every connection; the agent's own is exempt */
	if (cr.uid != geteuid() && ag_uid_conns(ag, cr.uid) >= AG_UID_CONNS) {
		struct qlb_ap_result r = {.code = -EUSERS};

		ag->refused++;
		if (ag_log_ok(&log_uid))
			ag_log("refused pid %d uid %u: it holds %d connections "
			       "already, the most one uid may",
			       (int)cr.pid, (unsigned int)cr.uid, AG_UID_CONNS);
		snprintf(r.msg, sizeof(r.msg),
			 "uid %u holds %d connections to the agent already, "
			 "the most one uid may",
			 (unsigned int)cr.uid, AG_UID_CONNS);
		qlb_ap_send(fd, QLB_AP_RESULT, &r, sizeof(r), -1);
		close(fd);
		return;
	}
	i = ag_conn_add(ag, fd, &cr);
	if (i < 0) {
		if (ag_log_ok(&log_full))
			ag_log("too many connections (%d); refusing one",
			       AG_MAX_CONNS);
		close(fd);
		return;
	}
	c = ag->conns[i];
	if (!ag_allowed(ag, fd, &cr)) {
		ag->refused++;
		ag_log("refused pid %d uid %u gid %u: not in host.allow_uids / "
		       "host.allow_gids",
		       (int)cr.pid, (unsigned int)cr.uid, (unsigned int)cr.gid);
		ag_result(c, -EACCES,
			  "uid %u gid %u may not use the agent of "
			  "host %s (host.allow_uids / host.allow_gids)",
			  (unsigned int)cr.uid, (unsigned int)cr.gid,
			  ag->cfg.host.name);
		ag_close_conn(ag, i);
		return;
	}
	hello.agent_pid = (uint32_t)getpid();
	hello.max_workers = ag->max_workers;
	snprintf(hello.host, sizeof(hello.host), "%s", ag->cfg.host.name);
	if (ag_send(c, QLB_AP_HELLO, &hello, sizeof(hello)))
		ag_close_conn(ag, i);
}

int ag_listen(struct agent *ag)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[PATH_MAX], *slash;
	mode_t um;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", ag->sock_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		bool existed;

		*slash = 0;
		existed = access(dir, F_OK) == 0;
		err = qlb_mkdir_p(dir, 0750);
		if (err) {
			ag_log("cannot create %s: %s", dir, strerror(-err));
			return err;
		}
		/* servers of the allowed group must reach the socket; a
		 * directory that was there already is left as it is */
		if (!existed && ag->cfg.host.nallow_gids &&
		    chown(dir, (uid_t)-1, ag->cfg.host.allow_gids[0]))
			ag_log("cannot give %s to group %u: %s", dir,
			       ag->cfg.host.allow_gids[0], strerror(errno));
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (strlen(ag->sock_path) >= sizeof(a.sun_path)) {
		ag_log("socket path too long: %s", ag->sock_path);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, ag->sock_path, strlen(ag->sock_path) + 1);
	/* a live agent answers on it: do not steal its socket */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		ag_log("another agent serves %s already", ag->sock_path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(ag->sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	um = umask(0117);
	err = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(um);
	if (err || chmod(ag->sock_path, 0660) ||
	    (ag->cfg.host.nallow_gids &&
	     chown(ag->sock_path, (uid_t)-1, ag->cfg.host.allow_gids[0])) ||
	    listen(fd, 64)) {
		err = -errno;
		ag_log("cannot serve %s: %s", ag->sock_path, strerror(errno));
		close(fd);
		return err;
	}
	ag->lfd = fd;
	return 0;
}

short ag_conn_events(const struct ag_conn *c)
{
	/* answers pending: wait for the peer to take them before reading
	 * more requests, so a peer cannot queue up work */
	return c->ooff < c->olen ? POLLOUT : POLLIN;
}

void ag_conn_ready(struct agent *ag, int ci, short revents)
{
	struct ag_conn *c = ag->conns[ci];

	if (revents & POLLOUT)
		ag_flush(c);
	if (!c->dead && (revents & (POLLIN | POLLHUP | POLLERR)) &&
	    c->ooff == c->olen)
		qlb_agent_conn_read(ag, ci);
	else if (c->dead || (revents & (POLLHUP | POLLERR)))
		ag_close_conn(ag, ci);
}

void ag_conns_sweep(struct agent *ag)
{
	uint64_t now = ag_now_ms();
	int i;

	for (i = 0; i < AG_MAX_CONNS; i++) {
		struct ag_conn *c = ag->conns[i];

		if (!c)
			continue;
		if (!c->dead && c->stalled_ms &&
		    now - c->stalled_ms > AG_STALL_MS)
			ag_conn_drop(c, "took nothing the agent sent for "
					"a while");
		/* a connection that holds no worker has no business
		 * staying silent: it would only hold a slot */
		if (!c->dead && c->worker < 0 && now - c->last_ms > AG_IDLE_MS)
			ag_conn_drop(c, "idle without registering");
		if (c->dead)
			ag_close_conn(ag, i);
	}
}
