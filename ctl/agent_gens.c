// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host agent's socket groups and generations (agent_daemon.h): the
 * working set of every SO_REUSEPORT group, which generation takes its new
 * connections, and the view rebuilt from the pinned maps after a restart.
 * Worker sockets and their slots: agent_slots.c.
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

int ag_group_of(int fd, struct qlb_group_key *g)
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

/* "198.18.1.1:4433", "[::]:443": a group in log lines. */
const char *ag_group_name(const struct qlb_group_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop((int)k->family, k->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, k->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 k->port);
	return buf;
}

struct ag_group *ag_group_find(struct agent *ag, const struct qlb_group_key *k)
{
	unsigned int i;

	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++)
		if (ag->groups[i].used &&
		    !memcmp(&ag->groups[i].key, k, sizeof(*k)))
			return &ag->groups[i];
	return NULL;
}

uint32_t ag_group_working(struct agent *ag, const struct qlb_group_key *k)
{
	const struct ag_group *g = ag_group_find(ag, k);

	return g ? g->working : 0;
}

void ag_working_range(const struct agent *ag, uint32_t *min, uint32_t *max)
{
	unsigned int i;

	*min = *max = 0;
	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		uint32_t w = ag->groups[i].working;

		if (!ag->groups[i].used || !w)
			continue;
		if (!*min || w < *min)
			*min = w;
		if (w > *max)
			*max = w;
	}
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
		char err[256];

		memset(free_g, 0, sizeof(*free_g));
		free_g->key = *k;
		free_g->used = true;
		free_g->svc = ag_group_service(ag, k, err, sizeof(err));
		if (free_g->svc < 0)
			ag_log("%s: its datagrams take the fallback", err);
	}
	return free_g;
}

int ag_group_service(const struct agent *ag, const struct qlb_group_key *k,
		     char *err, size_t errlen)
{
	const struct qlb_config *cfg = &ag->cfg;
	char name[64];
	int s;

	s = qlb_group_service(cfg, (int)k->family, k->addr, (uint16_t)k->port,
			      err, errlen);
	if (s < 0)
		return -1;
	if (!qlb_host_service(cfg, (unsigned int)s, ag->me_idx)) {
		snprintf(err, errlen,
			 "socket group %s is a VIP of service \"%s\", which "
			 "host \"%s\" does not serve",
			 ag_group_name(k, name, sizeof(name)),
			 cfg->services[s].name, ag->me->name);
		return -1;
	}
	return s;
}

uint32_t ag_group_row(const struct agent *ag, const struct ag_group *g)
{
	if (!ag->multi || g->svc < 0)
		return 0;
	return 1 + (uint32_t)g->svc;
}

int ag_worker_service(struct agent *ag, uint32_t id)
{
	const struct ag_group *g;

	if (id >= QLB_HOST_MAX_WORKERS || !ag->workers[id].rec.in_use)
		return -1;
	g = ag_group_find(ag, &ag->workers[id].rec.group);
	if (g)
		return g->svc;
	/* not in a group yet (registering): its group's service */
	{
		char err[256];

		return ag_group_service(ag, &ag->workers[id].rec.group, err,
					sizeof(err));
	}
}

void ag_write_group_rows(struct agent *ag)
{
	unsigned int i;

	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		struct ag_group *g = &ag->groups[i];
		struct qlb_group_key k;
		char err[256], name[64];
		__u32 sel, nsel;
		int s;

		if (!g->used)
			continue;
		s = ag_group_service(ag, &g->key, err, sizeof(err));
		if (s < 0 && g->svc >= 0)
			ag_log("%s: its datagrams now take the fallback", err);
		else if (s >= 0 && s != g->svc)
			ag_log("group %s: service \"%s\"",
			       ag_group_name(&g->key, name, sizeof(name)),
			       ag->cfg.services[s].name);
		g->svc = s;
		k = g->key;
		k.slot = 0;
		if (bpf_map_lookup_elem(ag->m_worksel, &k, &sel))
			continue; /* not published yet: ag_publish() will */
		nsel = QLB_WORKSEL(QLB_WORKSEL_SLOT(sel), ag_group_row(ag, g));
		if (nsel != sel &&
		    bpf_map_update_elem(ag->m_worksel, &k, &nsel, BPF_EXIST))
			ag_log("group %s: cannot write its row: %s",
			       ag_group_name(&g->key, name, sizeof(name)),
			       strerror(errno));
	}
	ag_write_group_slots(ag);
}

void ag_write_group_slots(struct agent *ag)
{
	static struct qlb_group_row want[QLB_HOST_GROUP_SLOTS];
	static uint8_t n[QLB_HOST_GROUP_SLOTS];
	const struct qlb_group_row empty = {0};
	unsigned int i;
	__u32 slot;

	memset(want, 0, sizeof(want));
	memset(n, 0, sizeof(n));
	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		const struct ag_group *g = &ag->groups[i];
		const __u32 *a = g->key.addr;

		/* a group without a service has no row: fallback */
		if (!g->used || g->svc < 0)
			continue;
		slot = qlb_group_slot(g->key.family, g->key.port, a[0], a[1],
				      a[2], a[3]);
		if (n[slot]++) {
			/* shared: the program reads qlb_worksel's row */
			memset(&want[slot], 0, sizeof(want[slot]));
			want[slot].row = QLB_GROUP_ROW_SHARED;
			continue;
		}
		want[slot].family = g->key.family;
		want[slot].port = g->key.port;
		memcpy(want[slot].addr, a, sizeof(want[slot].addr));
		want[slot].row = ag_group_row(ag, g);
	}
	if (!ag->grp_rows_read) {
		for (slot = 0; slot < QLB_HOST_GROUP_SLOTS; slot++)
			if (bpf_map_lookup_elem(ag->m_grp_rows, &slot,
						&ag->grp_rows[slot]))
				memset(&ag->grp_rows[slot], 0xff,
				       sizeof(ag->grp_rows[slot]));
		ag->grp_rows_read = true;
	}
	for (slot = 0; slot < QLB_HOST_GROUP_SLOTS; slot++) {
		struct qlb_group_row *have = &ag->grp_rows[slot];

		if (!memcmp(have, &want[slot], sizeof(*have)))
			continue;
		/* an array update is a plain copy: emptied first, so a
		 * reader never takes one group's address with another's
		 * row */
		if (have->family &&
		    bpf_map_update_elem(ag->m_grp_rows, &slot, &empty, BPF_ANY))
			goto err;
		if (bpf_map_update_elem(ag->m_grp_rows, &slot, &want[slot],
					BPF_ANY))
			goto err;
		*have = want[slot];
	}
	return;
err:
	ag_log("%s/%s: cannot write slot %u: %s", ag->pin_dir, QLB_PIN_GRP_ROWS,
	       slot, strerror(errno));
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
	slot = QLB_WORKSEL_SLOT(sel) ^ 1;
	k.slot = slot;
	if (bpf_map_update_elem(ag->m_work, &k, ws, BPF_ANY))
		return -errno;
	k.slot = 0;
	sel = QLB_WORKSEL(slot, ag_group_row(ag, g));
	if (bpf_map_update_elem(ag->m_worksel, &k, &sel, BPF_ANY))
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
			gnext.slot = QLB_WORKSEL_SLOT(sel);
			if (!g || bpf_map_lookup_elem(ag->m_work, &gnext, &ws))
				continue;
			g->ws = ws;
			g->working = ws.generation;
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
 * ag_write_work_set() - give every SO_REUSEPORT group its working
 * generation's sockets; forget groups without any socket.
 */
void ag_write_work_set(struct agent *ag)
{
	static struct qlb_work_set ws;
	unsigned int i;
	uint32_t id;

	/* the groups exist: ag_update_gens() made them */
	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		struct ag_group *g = &ag->groups[i];
		bool any = false;

		if (!g->used)
			continue;
		memset(&ws, 0, sizeof(ws));
		ws.generation = g->working;
		for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
			const struct qlb_worker_rec *r = &ag->workers[id].rec;

			if (!r->in_use ||
			    memcmp(&r->group, &g->key, sizeof(g->key)))
				continue;
			any = true;
			if (g->working && r->generation == g->working &&
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
	ag_write_group_slots(ag);
}

/*
 * ag_group_decide() - the working generation of group @grp, from @cnt,
 * its live sockets per entry of ag->gens: none or an empty one gives way
 * to the newest generation with a live socket in the group; a NEW
 * generation takes over once it has its declared size (or host.workers)
 * of live sockets in the group; @promote (when it has sockets here) wins.
 */
static uint32_t ag_group_decide(struct agent *ag, const struct ag_group *grp,
				const uint32_t *cnt, uint32_t promote)
{
	uint32_t w = grp->working, best = 0;
	unsigned int i;
	bool w_live = false;

	for (i = 0; i < ag->ngens; i++) {
		if (promote && ag->gens[i].gen == promote && cnt[i])
			return promote;
		if (ag->gens[i].gen == w && cnt[i])
			w_live = true;
	}
	if (!w_live)
		w = 0;
	for (i = 0; i < ag->ngens; i++) {
		const struct ag_gen *g = &ag->gens[i];
		uint32_t size =
			g->rec.size ? g->rec.size : ag->cfg.host.workers;

		if (!cnt[i])
			continue;
		if (!w) {
			if (g->gen > best)
				best = g->gen;
		} else if (g->gen > w && g->rec.state == QLB_GEN_NEW && size &&
			   cnt[i] >= size && g->gen > best) {
			best = g->gen;
		}
	}
	return best ? best : w;
}

/*
 * ag_update_gens() - recount generations and decide the working one of
 * every socket group, each on its own: a generation takes over only the
 * groups it has sockets in, so a peer registering in a group of its own
 * (another VIP or port) can never make the real servers' generation drain.
 * The previously working generation of a group drains: its CIDs still
 * reach it, new connections no longer do.
 */
void ag_update_gens(struct agent *ag, uint32_t promote)
{
	static uint32_t cnt[QLB_HOST_MAX_GENS];
	uint32_t old_summary = ag->working, id, busiest = 0;
	unsigned int i, j, gi;

	for (i = 0; i < ag->ngens; i++) {
		ag->gens[i].live = 0;
		ag->gens[i].working_now = false;
		ag->gens[i].behind = false;
	}
	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		const struct qlb_worker_rec *r = &ag->workers[id].rec;
		struct ag_gen *g;

		if (!r->in_use)
			continue;
		g = ag_gen_get(ag, r->generation);
		if (g)
			g->live++;
		if (!ag_group_get(ag, &r->group))
			ag_log("more than %d socket groups: worker %u has no "
			       "fallback set",
			       QLB_HOST_MAX_GROUPS, id);
	}
	ag->working = 0;
	for (gi = 0; gi < QLB_HOST_MAX_GROUPS; gi++) {
		struct ag_group *grp = &ag->groups[gi];
		uint32_t w;
		char name[64];

		if (!grp->used)
			continue;
		memset(cnt, 0, sizeof(cnt));
		for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
			const struct qlb_worker_rec *r = &ag->workers[id].rec;
			struct ag_gen *g;

			if (!r->in_use ||
			    memcmp(&r->group, &grp->key, sizeof(grp->key)))
				continue;
			g = ag_gen_find(ag, r->generation);
			if (g)
				cnt[g - ag->gens]++;
		}
		w = ag_group_decide(ag, grp, cnt, promote);
		for (i = 0; i < ag->ngens; i++) {
			if (ag->gens[i].gen == w) {
				ag->gens[i].working_now = true;
				/* the summary: the busiest group's */
				if (cnt[i] > busiest ||
				    (cnt[i] == busiest && w > ag->working)) {
					busiest = cnt[i];
					ag->working = w;
				}
			} else if (cnt[i] && w && ag->gens[i].gen < w) {
				ag->gens[i].behind = true;
			}
		}
		if (w != grp->working)
			ag_log("group %s: working generation %u -> %u",
			       ag_group_name(&grp->key, name, sizeof(name)),
			       grp->working, w);
		grp->working = w;
	}
	for (i = 0, j = 0; i < ag->ngens; i++) {
		struct ag_gen *g = &ag->gens[i];
		uint32_t st = g->rec.state;

		if (g->working_now)
			st = QLB_GEN_WORKING;
		else if (st == QLB_GEN_WORKING)
			st = QLB_GEN_DRAINING;
		else if (st == QLB_GEN_NEW && g->behind)
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
	if (ag->working != old_summary)
		ag_log("working generation %u -> %u", old_summary, ag->working);
	ag_push_generation(ag);
}
