// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host agent's worker slots (agent_daemon.h): which sockets may be
 * workers (UDP, SO_REUSEPORT, bound to a VIP:port of the file), worker IDs
 * and the configs' room for them, a socket's slot in the socket map
 * (REGISTER, RESUME), and noticing the sockets that closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent_daemon.h"
#include "agent_probe.h"
#include "agent_services.h"

/* Worker IDs must fit the worker bits of every config this host uses, in
 * every service it serves (one ID space for all its socket groups). */
uint32_t ag_max_workers(const struct qlb_config *cfg,
			const struct qlb_conf_host *me)
{
	uint32_t max = QLB_HOST_MAX_WORKERS;
	unsigned int id, s;

	for (s = 0; s < cfg->nservices; s++) {
		const struct qlb_conf_svc_host *sh = qlb_host_service(
			cfg, s, (unsigned int)(me - cfg->hosts));

		for (id = 0; sh && id < QLB_CONFIG_MAX; id++) {
			const struct qlb_conf_cid *c =
				&cfg->services[s].configs[id];

			if (c->present && sh->has_sid[id] &&
			    (1u << c->worker_bits) < max)
				max = 1u << c->worker_bits;
		}
	}
	return max;
}

/* Live workers whose IDs config @c of service @s (when @has_sid) cannot
 * hold in its worker bits; each is logged. */
static unsigned int ag_cfg_fits(const struct agent *ag,
				const struct qlb_config *cfg, unsigned int s,
				const struct qlb_conf_cid *c, bool has_sid)
{
	uint32_t limit, w, n = 0;
	char list[160];
	size_t off = 0;

	if (!c->present || !has_sid ||
	    (1u << c->worker_bits) >= QLB_HOST_MAX_WORKERS)
		return 0;
	limit = 1u << c->worker_bits;
	list[0] = 0;
	for (w = limit; w < QLB_HOST_MAX_WORKERS; w++) {
		const struct qlb_worker_rec *r = &ag->workers[w].rec;

		if (!r->in_use)
			continue;
		if (off < sizeof(list) - 40)
			off += (size_t)snprintf(list + off, sizeof(list) - off,
						"%s%u (generation %u, pid %u)",
						n ? ", " : "", w, r->generation,
						r->pid);
		else if (off < sizeof(list) - 4)
			off += (size_t)snprintf(list + off, sizeof(list) - off,
						", ...");
		n++;
	}
	if (!n)
		return 0;
	if (cfg->nservices > 1)
		ag_log("service \"%s\" config %u (worker_bits %u: worker IDs "
		       "< %u) cannot hold %u live worker%s: %s",
		       cfg->services[s].name, c->id, c->worker_bits, limit, n,
		       n > 1 ? "s" : "", list);
	else
		ag_log("config %u (worker_bits %u: worker IDs < %u) cannot "
		       "hold %u live worker%s: %s",
		       c->id, c->worker_bits, limit, n, n > 1 ? "s" : "", list);
	return n;
}

int ag_workers_fit(const struct agent *ag, const struct qlb_config *cfg,
		   const struct qlb_conf_host *me)
{
	unsigned int id, s, bad = 0;

	for (s = 0; s < cfg->nservices; s++) {
		const struct qlb_conf_svc_host *sh = qlb_host_service(
			cfg, s, (unsigned int)(me - cfg->hosts));

		for (id = 0; sh && id < QLB_CONFIG_MAX; id++)
			bad += ag_cfg_fits(ag, cfg, s,
					   &cfg->services[s].configs[id],
					   sh->has_sid[id]);
	}
	return bad ? -ERANGE : 0;
}

static void ag_drop_worker(struct agent *ag, uint32_t id, const char *why)
{
	struct ag_worker *w = &ag->workers[id];
	struct qlb_worker_rec zero = {0};

	ag_log("worker %u (generation %u, pid %u) %s", id, w->rec.generation,
	       w->rec.pid, why);
	if (w->conn >= 0 && ag->conns[w->conn])
		ag->conns[w->conn]->worker = -1;
	w->conn = -1;
	w->rec = zero;
	bpf_map_update_elem(ag->m_workers, &id, &zero, BPF_ANY);
}

/* Workers whose socket left its slot (closed) are gone. */
void ag_check_workers(struct agent *ag)
{
	bool changed = false;
	uint32_t id;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		if (!ag->workers[id].rec.in_use)
			continue;
		if (ag_slot_cookie(ag, id) == ag->workers[id].rec.cookie)
			continue;
		ag_drop_worker(ag, id, "closed its socket");
		changed = true;
	}
	if (changed)
		ag_update_gens(ag, 0);
}

static int sock_int(int fd, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &l))
		return -1;
	return v;
}

/*
 * Is group @g one the file serves: bound to a VIP at its port, or to the
 * wildcard address at a VIP's port (IPv6's also takes IPv4)? A file that
 * lists no VIP (host.vips, lb.vips) cannot tell: any group is taken.
 */
static bool ag_vip_ok(const struct agent *ag, const struct qlb_group_key *g)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	const struct qlb_host_trust *t = ag->trust;
	const uint8_t *a = (const uint8_t *)g->addr;
	uint32_t fam = g->family;
	uint8_t v4[4];
	bool any = true;
	unsigned int i;

	if (!t || !t->nvip)
		return true;
	for (i = 0; i < 16; i++)
		any &= !a[i];
	/* an IPv4 address in an IPv6 socket's bind */
	if (fam == AF_INET6 && !memcmp(a, mapped, sizeof(mapped))) {
		memcpy(v4, a + 12, 4);
		a = v4;
		fam = AF_INET;
	}
	for (i = 0; i < t->nvip; i++) {
		const struct qlb_conf_vip *v = &t->vip[i];

		if (v->port != g->port)
			continue;
		if (any &&
		    (g->family == AF_INET6 || v->addr.family == (int)g->family))
			return true;
		if (v->addr.family == AF_INET && fam == AF_INET &&
		    !memcmp(&v->addr.v4, a, 4))
			return true;
		if (v->addr.family == AF_INET6 && fam == AF_INET6 &&
		    !memcmp(&v->addr.v6, a, 16))
			return true;
	}
	return false;
}

/* Why @fd cannot be a worker socket, or NULL; @g gets its group. */
static const char *ag_bad_socket(const struct agent *ag, int fd,
				 struct qlb_group_key *g)
{
	if (sock_int(fd, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
	    sock_int(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_UDP)
		return "not a UDP socket";
	if (sock_int(fd, SOL_SOCKET, SO_REUSEPORT) != 1)
		return "SO_REUSEPORT is not set";
	if (ag_group_of(fd, g))
		return "getsockname failed or not IP";
	if (!g->port)
		return "not bound";
	if (!ag_vip_ok(ag, g))
		return "not bound to a VIP at its port (host.vips, lb.vips) "
		       "nor to the wildcard address at a VIP's port";
	return NULL;
}

static int ag_alloc_id(struct agent *ag, int prefer)
{
	uint32_t i, id;

	if (prefer >= 0 && (uint32_t)prefer < ag->max_workers &&
	    !ag->workers[prefer].rec.in_use &&
	    !ag_slot_cookie(ag, (uint32_t)prefer))
		return prefer;
	/* round robin: a freed ID is reused as late as possible, so stale
	 * CIDs of a closed worker rarely meet its successor */
	for (i = 0; i < ag->max_workers; i++) {
		id = (ag->next_id + i) % ag->max_workers;
		if (ag->workers[id].rec.in_use || ag_slot_cookie(ag, id))
			continue;
		ag->next_id = (id + 1) % ag->max_workers;
		return (int)id;
	}
	return -1;
}

/* Register c->pending_fd as a worker of @gen (with worker ID @prefer if
 * free). */
void ag_do_register(struct agent *ag, int ci, uint32_t gen, uint32_t gen_size,
		    int prefer)
{
	struct ag_conn *c = ag->conns[ci];
	struct qlb_worker_rec rec = {0};
	const char *bad;
	socklen_t l = sizeof(rec.cookie);
	struct ag_gen *g;
	uint32_t w;
	__u64 v;
	int id, fd = c->pending_fd;

	if (c->worker >= 0) {
		ag_result(c, -EALREADY,
			  "this connection registered worker %d "
			  "already (one socket per connection)",
			  c->worker);
		return;
	}
	if (fd < 0) {
		ag_result(c, -EBADF, "no socket came with the request");
		return;
	}
	if (gen == 0) {
		ag_result(c, -EINVAL, "generation 0 is reserved");
		return;
	}
	bad = ag_bad_socket(ag, fd, &rec.group);
	if (bad) {
		char name[64];

		ag_result(c, -EINVAL, "socket refused: %s: %s",
			  ag_group_name(&rec.group, name, sizeof(name)), bad);
		return;
	}
	{
		char why[QLB_AP_MSG_LEN];

		/* a group serves one service: its CIDs decode under that
		 * service's configs only */
		if (ag_group_service(ag, &rec.group, why, sizeof(why)) < 0) {
			ag_result(c, -EINVAL, "socket refused: %s", why);
			return;
		}
	}
	/* generations are scoped to the socket's group */
	w = ag_group_working(ag, &rec.group);
	if (w && gen < w && !ag_gen_find(ag, gen)) {
		ag_result(c, -ESTALE,
			  "generation %u is older than the working "
			  "generation %u",
			  gen, w);
		return;
	}
	/* a jump far ahead would leave the next real generation "older
	 * than the working one" forever */
	if (w && gen > w && gen - w > AG_GEN_WINDOW) {
		ag_result(c, -ERANGE,
			  "generation %u is more than %u above the working "
			  "generation %u",
			  gen, AG_GEN_WINDOW, w);
		return;
	}
	{
		uint64_t ck = 0;
		socklen_t cl = sizeof(ck);
		uint32_t k;

		getsockopt(fd, SOL_SOCKET, SO_COOKIE, &ck, &cl);
		for (k = 0; ck && k < QLB_HOST_MAX_WORKERS; k++) {
			if (!ag->workers[k].rec.in_use ||
			    ag->workers[k].rec.cookie != ck)
				continue;
			/* one socket, one worker ID: a second slot would
			 * split its CIDs between two IDs */
			ag_result(c, -EEXIST,
				  "this socket is worker %u already "
				  "(RESUME re-attaches it)",
				  k);
			return;
		}
	}
	g = ag_gen_get(ag, gen);
	if (!g) {
		ag_result(c, -ENOSPC, "too many live generations (%d)",
			  QLB_HOST_MAX_GENS);
		return;
	}
	id = ag_alloc_id(ag, prefer);
	if (id < 0) {
		ag_result(c, -ENOSPC,
			  "no worker ID left (%u, the smallest "
			  "2^worker_bits of this host's configs)",
			  ag->max_workers);
		return;
	}
	v = (__u64)fd;
	if (bpf_map_update_elem(ag->m_socks, &id, &v, BPF_ANY)) {
		ag_result(c, -errno, "cannot put the socket in %s: %s",
			  QLB_PIN_SOCKS, strerror(errno));
		return;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &ag->prog_rp,
		       sizeof(ag->prog_rp))) {
		int e = errno;

		bpf_map_delete_elem(ag->m_socks, &id);
		ag_result(c, -e, "cannot attach %s to the socket's group: %s",
			  QLB_PIN_PROG_RP, strerror(e));
		return;
	}
	getsockopt(fd, SOL_SOCKET, SO_COOKIE, &rec.cookie, &l);
	rec.registered_ns = ag_now_real_ns();
	rec.generation = gen;
	rec.pid = (uint32_t)c->pid;
	rec.uid = c->uid;
	rec.in_use = 1;
	bpf_map_update_elem(ag->m_workers, &id, &rec, BPF_ANY);
	ag->workers[id].rec = rec;
	ag->workers[id].conn = ci;
	c->worker = id;
	/* told from here on only of changes (REGISTERED carries it) */
	c->told = ag_group_working(ag, &rec.group);
	if (gen_size && !g->rec.size)
		g->rec.size = gen_size;
	/* the sockarray holds no reference: the server's close ends it */
	close(fd);
	c->pending_fd = -1;
	ag_log("registered worker %d generation %u pid %d uid %u", id, gen,
	       (int)c->pid, (unsigned int)c->uid);
	ag_update_gens(ag, 0);
	ag_registered(ag, c);
}

void ag_do_resume(struct agent *ag, int ci, const struct qlb_ap_resume *m)
{
	struct ag_conn *c = ag->conns[ci];
	uint64_t cookie = 0;
	socklen_t l = sizeof(cookie);
	uint32_t id = m->worker_id;
	struct ag_worker *w;

	if (c->worker >= 0 || c->pending_fd < 0) {
		ag_result(c, -EINVAL,
			  "RESUME needs a fresh connection and its socket");
		return;
	}
	if (getsockopt(c->pending_fd, SOL_SOCKET, SO_COOKIE, &cookie, &l) ||
	    id >= QLB_HOST_MAX_WORKERS) {
		ag_result(c, -EINVAL, "RESUME: bad socket or worker ID");
		return;
	}
	w = &ag->workers[id];
	if (ag_slot_cookie(ag, id) != cookie) {
		/* not in its slot any more (maps rebuilt): register anew,
		 * under the same ID when it is free */
		ag_log("worker %u (pid %d) re-registers: its slot no longer "
		       "holds its socket",
		       id, (int)c->pid);
		ag_do_register(ag, ci, m->generation, 0, (int)id);
		return;
	}
	if (!w->rec.in_use || w->rec.cookie != cookie) {
		/* in the socket map but unknown to us: adopt it */
		memset(&w->rec, 0, sizeof(w->rec));
		w->rec.cookie = cookie;
		w->rec.registered_ns = ag_now_real_ns();
		w->rec.generation = m->generation;
		w->rec.in_use = 1;
		ag_group_of(c->pending_fd, &w->rec.group);
	}
	w->rec.pid = (uint32_t)c->pid;
	w->rec.uid = c->uid;
	bpf_map_update_elem(ag->m_workers, &id, &w->rec, BPF_ANY);
	if (w->conn >= 0 && ag->conns[w->conn] && w->conn != ci)
		ag->conns[w->conn]->worker = -1;
	w->conn = ci;
	c->worker = (int)id;
	c->told = ag_group_working(ag, &w->rec.group);
	/* a restarted agent may run a newer program: give it to the group */
	setsockopt(c->pending_fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF,
		   &ag->prog_rp, sizeof(ag->prog_rp));
	close(c->pending_fd);
	c->pending_fd = -1;
	ag_log("worker %u generation %u (pid %d) reconnected", id,
	       w->rec.generation, (int)c->pid);
	ag_update_gens(ag, 0);
	ag_registered(ag, c);
}
