// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host agent's worker slots, socket groups and generations
 * (agent_daemon.h): registering a server's socket in a slot of the socket
 * map under a worker ID, the working set of every SO_REUSEPORT group, and
 * which generation takes new connections.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent_daemon.h"

/* Worker IDs must fit the worker bits of every config this host uses. */
uint32_t ag_max_workers(const struct qlb_config *cfg,
			const struct qlb_conf_host *me)
{
	uint32_t max = QLB_HOST_MAX_WORKERS;
	unsigned int id;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *c = &cfg->configs[id];

		if (c->present && me->has_sid[id] &&
		    (1u << c->worker_bits) < max)
			max = 1u << c->worker_bits;
	}
	return max;
}

int ag_workers_fit(const struct agent *ag, const struct qlb_config *cfg,
		   const struct qlb_conf_host *me)
{
	unsigned int id, bad = 0;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *c = &cfg->configs[id];
		uint32_t limit, w, n = 0;
		char list[160];
		size_t off = 0;

		if (!c->present || !me->has_sid[id] ||
		    (1u << c->worker_bits) >= QLB_HOST_MAX_WORKERS)
			continue;
		limit = 1u << c->worker_bits;
		list[0] = 0;
		for (w = limit; w < QLB_HOST_MAX_WORKERS; w++) {
			const struct qlb_worker_rec *r = &ag->workers[w].rec;

			if (!r->in_use)
				continue;
			if (off < sizeof(list) - 40)
				off += (size_t)snprintf(
					list + off, sizeof(list) - off,
					"%s%u (generation %u, pid %u)",
					n ? ", " : "", w, r->generation,
					r->pid);
			else if (off < sizeof(list) - 4)
				off += (size_t)snprintf(list + off,
							sizeof(list) - off,
							", ...");
			n++;
		}
		if (!n)
			continue;
		ag_log("config %u (worker_bits %u: worker IDs < %u) cannot "
		       "hold "
		       "%u live worker%s: %s",
		       id, c->worker_bits, limit, n, n > 1 ? "s" : "", list);
		bad += n;
	}
	return bad ? -ERANGE : 0;
}

/* The cookie of the socket in slot @id, 0 when the slot is empty. */
uint64_t ag_slot_cookie(struct agent *ag, uint32_t id)
{
	__u64 cookie = 0;

	if (bpf_map_lookup_elem(ag->m_socks, &id, &cookie))
		return 0;
	return cookie;
}

struct ag_gen *ag_gen_find(struct agent *ag, uint32_t gen)
{
	unsigned int i;

	for (i = 0; i < ag->ngens; i++)
		if (ag->gens[i].gen == gen)
			return &ag->gens[i];
	return NULL;
}

struct ag_gen *ag_gen_get(struct agent *ag, uint32_t gen)
{
	struct ag_gen *g = ag_gen_find(ag, gen);

	if (g)
		return g;
	if (ag->ngens >= QLB_HOST_MAX_GENS) {
		/* full: reuse the oldest declared generation that never got a
		 * socket, so declarations alone cannot block every new
		 * generation (they persist in the pinned map) */
		unsigned int i;

		for (i = 0; i < ag->ngens; i++) {
			struct ag_gen *e = &ag->gens[i];

			if (e->rec.state == QLB_GEN_NEW && !e->live &&
			    (!g || e->rec.since_ns < g->rec.since_ns))
				g = e;
		}
		if (!g)
			return NULL;
		bpf_map_delete_elem(ag->m_gens, &g->gen);
		ag_log("generation %u: declared but never registered a "
		       "socket; dropped to make room",
		       g->gen);
	} else {
		g = &ag->gens[ag->ngens++];
	}
	memset(g, 0, sizeof(*g));
	g->gen = gen;
	g->rec.state = QLB_GEN_NEW;
	g->rec.since_ns = ag_now_real_ns();
	return g;
}

/* The group of a bound socket, from getsockname(). */
static int ag_group_of(int fd, struct qlb_group_key *g)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);

	memset(g, 0, sizeof(*g));
	if (getsockname(fd, (struct sockaddr *)&a, &l))
		return -errno;
	g->family = a.ss_family;
	if (a.ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const void *)&a;

		g->port = ntohs(v4->sin_port);
		memcpy(&g->addr[0], &v4->sin_addr, 4);
	} else if (a.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const void *)&a;

		g->port = ntohs(v6->sin6_port);
		memcpy(g->addr, &v6->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

static struct ag_group *ag_group_get(struct agent *ag,
				     const struct qlb_group_key *k)
{
	struct ag_group *free_g = NULL;
	unsigned int i;

	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		struct ag_group *g = &ag->groups[i];

		if (g->used && !memcmp(&g->key, k, sizeof(*k)))
			return g;
		if (!g->used && !free_g)
			free_g = g;
	}
	if (free_g) {
		memset(free_g, 0, sizeof(*free_g));
		free_g->key = *k;
		free_g->used = true;
	}
	return free_g;
}

/* Publish @ws as group @g's working set: fill the slot the program does
 * not read, then switch to it. */
static int ag_publish(struct agent *ag, struct ag_group *g,
		      const struct qlb_work_set *ws)
{
	struct qlb_group_key k = g->key;
	__u32 sel = 0, slot;

	k.slot = 0;
	bpf_map_lookup_elem(ag->m_worksel, &k, &sel);
	slot = (sel & 1) ^ 1;
	k.slot = slot;
	if (bpf_map_update_elem(ag->m_work, &k, ws, BPF_ANY))
		return -errno;
	k.slot = 0;
	if (bpf_map_update_elem(ag->m_worksel, &k, &slot, BPF_ANY))
		return -errno;
	g->ws = *ws;
	return 0;
}

/*
 * ag_recover() - rebuild the agent's view from the pinned maps: workers
 * whose socket is still in its slot, generations, the working one.
 */
void ag_recover(struct agent *ag)
{
	struct qlb_work_set ws;
	__u32 k, next, sel = 0;
	struct qlb_gen_rec gr;
	unsigned int live = 0, stale = 0;
	uint32_t id;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		struct qlb_worker_rec r;

		if (bpf_map_lookup_elem(ag->m_workers, &id, &r) || !r.in_use)
			continue;
		if (r.cookie && ag_slot_cookie(ag, id) == r.cookie) {
			ag->workers[id].rec = r;
			/* round robin goes on after the newest ID */
			ag->next_id = id + 1;
			live++;
		} else {
			memset(&r, 0, sizeof(r));
			bpf_map_update_elem(ag->m_workers, &id, &r, BPF_ANY);
			stale++;
		}
	}
	if (bpf_map_get_next_key(ag->m_gens, NULL, &k) == 0) {
		do {
			if (!bpf_map_lookup_elem(ag->m_gens, &k, &gr)) {
				struct ag_gen *g = ag_gen_get(ag, k);

				if (g)
					g->rec = gr;
			}
		} while (bpf_map_get_next_key(ag->m_gens, &k, &next) == 0 &&
			 (k = next, 1));
	}
	{
		struct qlb_group_key gk, gnext;
		bool first = true;

		while (bpf_map_get_next_key(ag->m_worksel, first ? NULL : &gk,
					    &gnext) == 0) {
			struct ag_group *g;

			first = false;
			gk = gnext;
			if (bpf_map_lookup_elem(ag->m_worksel, &gk, &sel))
				continue;
			g = ag_group_get(ag, &gk);
			gnext = gk;
			gnext.slot = sel & 1;
			if (!g || bpf_map_lookup_elem(ag->m_work, &gnext, &ws))
				continue;
			g->ws = ws;
			if (ws.generation)
				ag->working = ws.generation;
		}
	}
	if (live || stale || ag->working)
		ag_log("recovered from %s: %u live workers, %u closed, working "
		       "generation %u",
		       ag->pin_dir, live, stale, ag->working);
}

/*
 * ag_write_work_set() - give every SO_REUSEPORT group the working
 * generation's sockets of that group; forget groups without any socket.
 */
void ag_write_work_set(struct agent *ag)
{
	static struct qlb_work_set ws;
	unsigned int i;
	uint32_t id;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		if (ag->workers[id].rec.in_use &&
		    !ag_group_get(ag, &ag->workers[id].rec.group))
			ag_log("more than %d socket groups: worker %u has no "
			       "fallback set",
			       QLB_HOST_MAX_GROUPS, id);
	}
	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		struct ag_group *g = &ag->groups[i];
		bool any = false;

		if (!g->used)
			continue;
		memset(&ws, 0, sizeof(ws));
		ws.generation = ag->working;
		for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
			const struct qlb_worker_rec *r = &ag->workers[id].rec;

			if (!r->in_use ||
			    memcmp(&r->group, &g->key, sizeof(g->key)))
				continue;
			any = true;
			if (ag->working && r->generation == ag->working &&
			    ws.nworkers < QLB_HOST_GEN_MAX)
				ws.workers[ws.nworkers++] = id;
		}
		if (!any) {
			struct qlb_group_key k = g->key;

			/* the group is gone with its last socket */
			k.slot = 0;
			bpf_map_delete_elem(ag->m_worksel, &k);
			bpf_map_delete_elem(ag->m_work, &k);
			k.slot = 1;
			bpf_map_delete_elem(ag->m_work, &k);
			g->used = false;
			continue;
		}
		if (ws.generation == g->ws.generation &&
		    ws.nworkers == g->ws.nworkers &&
		    !memcmp(ws.workers, g->ws.workers,
			    ws.nworkers * sizeof(__u32)))
			continue;
		if (ag_publish(ag, g, &ws))
			ag_log("cannot write a working set: %s",
			       strerror(errno));
	}
}

/*
 * ag_update_gens() - recount generations and decide the working one:
 * none or an empty one gives way to the newest live generation; a NEW
 * generation takes over once it has its declared size (or host.workers)
 * of live sockets. The previously working generation drains: its CIDs
 * still reach it, new connections no longer do.
 */
void ag_update_gens(struct agent *ag, uint32_t promote)
{
	uint32_t old = ag->working, id, best = 0;
	unsigned int i, j;

	for (i = 0; i < ag->ngens; i++)
		ag->gens[i].live = 0;
	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		struct ag_gen *g;

		if (!ag->workers[id].rec.in_use)
			continue;
		g = ag_gen_get(ag, ag->workers[id].rec.generation);
		if (g)
			g->live++;
	}
	if (promote) {
		ag->working = promote;
	} else {
		struct ag_gen *w = ag_gen_find(ag, ag->working);

		if (!w || !w->live)
			ag->working = 0;
		for (i = 0; i < ag->ngens; i++) {
			struct ag_gen *g = &ag->gens[i];
			uint32_t size = g->rec.size ? g->rec.size
						    : ag->cfg.host.workers;

			if (!g->live)
				continue;
			if (!ag->working) {
				if (g->gen > best)
					best = g->gen;
			} else if (g->gen > ag->working &&
				   g->rec.state == QLB_GEN_NEW && size &&
				   g->live >= size && g->gen > best) {
				best = g->gen;
			}
		}
		if (best)
			ag->working = best;
	}
	for (i = 0, j = 0; i < ag->ngens; i++) {
		struct ag_gen *g = &ag->gens[i];
		uint32_t st = g->rec.state;

		if (g->gen == ag->working)
			st = QLB_GEN_WORKING;
		else if (st == QLB_GEN_WORKING)
			st = QLB_GEN_DRAINING;
		else if (st == QLB_GEN_NEW && ag->working &&
			 g->gen < ag->working)
			st = QLB_GEN_DRAINING;
		if (st != g->rec.state) {
			g->rec.state = st;
			g->rec.since_ns = ag_now_real_ns();
		}
		/* a generation is gone once its last socket closed; a NEW one
		 * may wait for its first socket */
		if (!g->live && st != QLB_GEN_NEW) {
			bpf_map_delete_elem(ag->m_gens, &g->gen);
			if (st == QLB_GEN_DRAINING)
				ag_log("generation %u drained: its last socket "
				       "closed",
				       g->gen);
			continue;
		}
		bpf_map_update_elem(ag->m_gens, &g->gen, &g->rec, BPF_ANY);
		ag->gens[j++] = *g;
	}
	ag->ngens = j;
	ag_write_work_set(ag);
	if (ag->working != old) {
		ag_log("working generation %u -> %u", old, ag->working);
		ag_push_generation(ag);
	}
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

/* Why @fd cannot be a worker socket, or NULL; @g gets its group. */
static const char *ag_bad_socket(int fd, struct qlb_group_key *g)
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

/* Register c->pending_fd as a worker of @gen (with worker ID @prefer if free).
 */
void ag_do_register(struct agent *ag, int ci, uint32_t gen, uint32_t gen_size,
		    int prefer)
{
	struct ag_conn *c = ag->conns[ci];
	struct qlb_worker_rec rec = {0};
	const char *bad;
	socklen_t l = sizeof(rec.cookie);
	struct ag_gen *g;
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
	if (ag->working && gen < ag->working && !ag_gen_find(ag, gen)) {
		ag_result(c, -ESTALE,
			  "generation %u is older than the working "
			  "generation %u",
			  gen, ag->working);
		return;
	}
	bad = ag_bad_socket(fd, &rec.group);
	if (bad) {
		ag_result(c, -EINVAL, "socket refused: %s", bad);
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
