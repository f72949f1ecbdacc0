// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_lb_fill(): a validated config into the slot packets do not use, then
 * the flip (include/qlb/abi/lb_abi.h). One context carries the apply through
 * named steps: the services and limits, counter rows of the VIPs, the CID
 * configs of every service, the member and server-ID tables, each
 * service's Maglev table, the settings and the flip. Every step writes
 * only the spare slot (or counter rows no packet of the slot in use counts
 * into), so a failure leaves the active slot as it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb.h"
#include "maglev.h"

/* One apply in progress. */
struct lb_fill {
	const struct qlb_lb_maps *m;
	const struct qlb_config *cfg;
	/* the services: cfg's, or one made here for a config built without
	 * the loader (every host, the top-level configs) */
	const struct qlb_conf_service *svcs;
	unsigned int nsvc;
	struct qlb_conf_service own; /* that one */
	char *err;
	size_t errlen;
	int ncpu;
	__u32 cur, nxt; /* the slot in use, the one being written */
	struct qlb_lb_ctrl ctrl;
	struct qlb_lb_settings st;
	__u8 live[QLB_LB_MAX_SERVICES]; /* per service: bit N, config N */
	/* per service: what the fast path needs of each config, written
	 * beside every VIP bucket of the service (qlb_vip_cfgs) */
	struct qlb_lb_vip_cfg vcfg[QLB_LB_MAX_SERVICES][QLB_LB_VIP_CFG_IDS];

	/* VIPs of the config, their counter rows, their lookup table */
	struct qlb_lb_vip_ent vitems[QLB_LB_MAX_VIPS];
	int vip_idx[QLB_LB_MAX_VIPS]; /* row of config VIP i */
	bool vip_used[QLB_LB_MAX_VIPS];
	/* rows the slot in use counts into: a new VIP takes one only when no
	 * other is free, so zeroing it steals no live counts */
	bool vip_live[QLB_LB_MAX_VIPS];
	struct qlb_lb_vip_ent *vtab;

	/* members (service, host) by member index; their server IDs;
	 * Maglev input of one service at a time */
	unsigned int nmembers;
	struct qlb_lb_host *hosts;
	struct qlb_lb_sid_ent *sitems, *stab;
	unsigned int ns;
	struct qlb_maglev_backend *mb; /* active members */
	unsigned int nb;
	struct qlb_maglev_backend *mb_est; /* active and draining members */
	unsigned int nb_est, ndraining;
	bool *draining; /* by member index */
	/* every service's tables, service s at s * maglev_table_size */
	uint32_t *table, *table_est;

	/* scratch of place() */
	__u32 *where;
	unsigned char *used;
};

static int fill_err(struct lb_fill *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fill_err(struct lb_fill *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->err, f->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void vip_ent(const struct qlb_conf_vip *v, struct qlb_lb_vip_ent *e)
{
	memset(e, 0, sizeof(*e));
	if (v->addr.family == AF_INET6) {
		memcpy(e->addr, &v->addr.v6, 16);
		e->family = 6;
	} else {
		memcpy(e->addr, &v->addr.v4, 4);
		e->family = 4;
	}
	e->port = htons(v->port);
}

/* Zero a per-CPU counter row (a new VIP or host must not inherit counts). */
static int zero_row(int fd, __u32 row, int ncpu)
{
	struct qlb_lb_counter *z = calloc(ncpu, sizeof(*z));
	int rc;

	if (!z)
		return -ENOMEM;
	rc = bpf_map_update_elem(fd, &row, z, BPF_ANY);
	free(z);
	return rc;
}

/* Write @n values of @vsize bytes to keys base..base+n-1 of ARRAY @fd. */
static int write_range(int fd, __u32 base, const void *vals, __u32 vsize,
		       __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 *keys, i, count = n;
	int rc = 0;

	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		keys[i] = base + i;
	if (bpf_map_update_batch(fd, keys, vals, &count, &bo)) {
		/* kernels without batch ops on arrays: one at a time */
		for (i = 0; i < n && !rc; i++)
			if (bpf_map_update_elem(fd, &keys[i],
						(const char *)vals +
							(size_t)i * vsize,
						BPF_ANY))
				rc = -errno;
	}
	free(keys);
	return rc;
}

/*
 * Place @n items into @nb buckets by linear probing, every item within
 * QLB_LB_PROBES of its hash, trying seeds 0, 1, ... (deterministic).
 * @hash(i, seed) gives item i's hash; @slot_of[i] gets its bucket.
 * Return: the seed, or -1 when none of the first 4096 fits.
 */
static int place(unsigned int n, __u32 nb,
		 __u32 (*hash)(const void *ctx, unsigned int i, __u32 seed),
		 const void *ctx, __u32 *slot_of, unsigned char *used)
{
	__u32 seed, i, p;

	for (seed = 0; seed < 4096; seed++) {
		memset(used, 0, nb);
		for (i = 0; i < n; i++) {
			__u32 h = hash(ctx, i, seed);

			for (p = 0; p < QLB_LB_PROBES; p++) {
				__u32 b = (h + p) & (nb - 1);

				if (!used[b]) {
					used[b] = 1;
					slot_of[i] = b;
					break;
				}
			}
			if (p == QLB_LB_PROBES)
				break;
		}
		if (i == n)
			return (int)seed;
	}
	return -1;
}

static __u32 vip_hash_of(const void *ctx, unsigned int i, __u32 seed)
{
	const struct qlb_lb_vip_ent *e = ctx;
	__u32 a[4];

	memcpy(a, e[i].addr, 16);
	return qlb_lb_vip_hash(seed, e[i].family, a, e[i].port);
}

static __u32 sid_hash_of(const void *ctx, unsigned int i, __u32 seed)
{
	const struct qlb_lb_sid_ent *e = ctx;
	__u64 k[2];

	memcpy(k, e[i].sid, 16);
	return qlb_lb_sid_hash(seed, e[i].cfg_key, k);
}

/*
 * A counter row for a new VIP: one neither taken by this apply
 * (@used) nor counted into by the slot in use (@live), so zeroing it steals
 * no live counts; else any row not taken. Marks it used. The config's
 * limits leave one free.
 */
static unsigned int pick_row(bool *used, const bool *live, unsigned int n)
{
	unsigned int j;

	for (j = 0; j < n; j++)
		if (!used[j] && !live[j])
			break;
	if (j == n)
		for (j = 0; used[j]; j++)
			;
	used[j] = true;
	return j;
}

/*
 * The compare half of the flip's compare-and-swap: qlb_ctrl still as
 * fill_begin() read it. Applies through qlbctl hold the pin_dir's lock
 * (qlb_lb_lock()); this catches a writer that did not, before each write
 * to the spare slot and right before the flip, and refuses to go on.
 */
static int fill_unmoved(struct lb_fill *f)
{
	struct qlb_lb_ctrl now;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(f->m->ctrl, &zero, &now))
		return fill_err(f, "cannot read qlb_ctrl: %s", strerror(errno));
	if (now.gen != f->ctrl.gen || (now.slot & 1) != f->cur)
		return fill_err(f,
				"qlb_ctrl moved from generation %u to %u "
				"during this apply (another writer without "
				"the pin_dir lock?); this file was not "
				"applied",
				f->ctrl.gen, now.gen);
	return 0;
}

/*
 * The services to fill: the config's, or, for a config built without
 * qlb_config_load() (no services), one made here as the loader makes the
 * implicit one: lb.vips, every host in file order, the top-level configs.
 */
static int fill_services(struct lb_fill *f)
{
	const struct qlb_config *cfg = f->cfg;
	struct qlb_conf_service *o = &f->own;
	unsigned int i;

	if (cfg->nservices && cfg->services) {
		f->svcs = cfg->services;
		f->nsvc = cfg->nservices;
		return 0;
	}
	snprintf(o->name, sizeof(o->name), "default");
	o->implicit = true;
	memcpy(o->configs, cfg->configs, sizeof(o->configs));
	o->nvips = cfg->lb.nvips;
	o->nhosts = cfg->nhosts;
	o->hosts = calloc(cfg->nhosts + 1, sizeof(*o->hosts));
	if (!o->hosts)
		return fill_err(f, "out of memory");
	for (i = 0; i < cfg->nhosts; i++) {
		struct qlb_conf_svc_host *sh = &o->hosts[i];

		sh->host = i;
		sh->state = cfg->hosts[i].state;
		memcpy(sh->has_sid, cfg->hosts[i].has_sid, sizeof(sh->has_sid));
		memcpy(sh->sid, cfg->hosts[i].sid, sizeof(sh->sid));
	}
	f->svcs = o;
	f->nsvc = 1;
	return 0;
}

/* Service of config VIP @i (every VIP is service 0's when the services
 * were made here). */
static unsigned int vip_service(const struct lb_fill *f, unsigned int i)
{
	return f->svcs == &f->own ? 0 : f->cfg->lb.vips[i].service;
}

/* Read qlb_ctrl (which slot is in use), check the limits of the maps and
 * allocate the tables. */
static int fill_begin(struct lb_fill *f)
{
	size_t size = f->cfg->lb.maglev_table_size;
	unsigned int s, nm = 0;
	__u32 zero = 0;

	if (fill_services(f))
		return -1;
	if (f->nsvc > QLB_LB_MAX_SERVICES)
		return fill_err(f,
				"%s: %u services, more than the %d an LB "
				"node holds",
				f->cfg->path, f->nsvc, QLB_LB_MAX_SERVICES);
	for (s = 0; s < f->nsvc; s++) {
		if (f->svcs[s].member_first != nm)
			return fill_err(f,
					"service %s: members numbered from %u, "
					"not %u",
					f->svcs[s].name,
					f->svcs[s].member_first, nm);
		nm += f->svcs[s].nhosts;
		if (nm > QLB_LB_MAX_MEMBERS)
			return fill_err(f,
					"%s: more than the %d (service, host) "
					"pairs an LB node holds",
					f->cfg->path, QLB_LB_MAX_MEMBERS);
	}
	f->nmembers = nm;
	if ((unsigned long)f->nsvc * size > QLB_LB_MAGLEV_POOL)
		return fill_err(f,
				"%s: %u services x lb.maglev_table_size %zu is "
				"more than the %u Maglev entries an LB node "
				"holds",
				f->cfg->path, f->nsvc, size,
				(unsigned int)QLB_LB_MAGLEV_POOL);
	f->ncpu = libbpf_num_possible_cpus();
	if (f->ncpu < 1)
		return fill_err(f, "cannot count CPUs: %s", strerror(-f->ncpu));
	if (bpf_map_lookup_elem(f->m->ctrl, &zero, &f->ctrl))
		return fill_err(f, "cannot read qlb_ctrl: %s", strerror(errno));
	f->cur = f->ctrl.slot & 1;
	f->nxt = f->cur ^ 1;
	f->vtab = calloc(QLB_LB_VIP_BUCKETS, sizeof(*f->vtab));
	f->stab = calloc(QLB_LB_SID_BUCKETS, sizeof(*f->stab));
	f->sitems = calloc(QLB_LB_MAX_SIDS, sizeof(*f->sitems));
	f->where = calloc(QLB_LB_MAX_SIDS, sizeof(*f->where));
	f->used = malloc(QLB_LB_SID_BUCKETS);
	f->hosts = calloc(QLB_LB_MAX_MEMBERS, sizeof(*f->hosts));
	f->mb = calloc(nm + 1, sizeof(*f->mb));
	f->mb_est = calloc(nm + 1, sizeof(*f->mb_est));
	f->draining = calloc(QLB_LB_MAX_MEMBERS, sizeof(*f->draining));
	f->table = malloc(f->nsvc * size * sizeof(*f->table) + 1);
	if (!f->vtab || !f->stab || !f->sitems || !f->where || !f->used ||
	    !f->hosts || !f->mb || !f->mb_est || !f->draining || !f->table)
		return fill_err(f, "out of memory");
	for (s = 0; s < f->nsvc; s++) {
		unsigned int id;

		/* routed configs of the service (the loader leaves retired
		 * ones out) */
		for (id = 0; id < QLB_CONFIG_MAX; id++)
			if (f->svcs[s].configs[id].present)
				f->live[s] |= 1u << id;
		f->st.live_cfgs |= f->live[s];
	}
	return 0;
}

/*
 * VIP counter rows: a VIP keeps the row it has in the slot in use (by
 * address, port and family); a new one gets a free row, zeroed. Each VIP
 * entry names its service and carries the service's Maglev offset and
 * live configs. Then the VIPs are placed in the spare slot's lookup table.
 */
static int fill_vips(struct lb_fill *f)
{
	const struct qlb_conf_lb *lb = &f->cfg->lb;
	unsigned int i, j;
	__u32 key;
	int seed;

	for (i = 0; i < lb->nvips; i++) {
		unsigned int s = vip_service(f, i);

		if (s >= f->nsvc)
			return fill_err(f, "VIP %u: no service %u", i, s);
		vip_ent(&lb->vips[i], &f->vitems[i]);
		f->vitems[i].service = s;
		f->vitems[i].maglev_off = s * lb->maglev_table_size;
		f->vitems[i].live_cfgs = f->live[s];
		f->vip_idx[i] = -1;
	}
	for (j = 0; j < QLB_LB_VIP_BUCKETS; j++) {
		struct qlb_lb_vip_ent e;

		key = f->cur * QLB_LB_VIP_BUCKETS + j;
		if (bpf_map_lookup_elem(f->m->vips, &key, &e) || !e.family ||
		    e.idx >= QLB_LB_MAX_VIPS)
			continue;
		f->vip_live[e.idx] = true;
		for (i = 0; i < lb->nvips; i++) {
			const struct qlb_lb_vip_ent *v = &f->vitems[i];

			if (f->vip_idx[i] < 0 && !memcmp(e.addr, v->addr, 16) &&
			    e.port == v->port && e.family == v->family &&
			    !f->vip_used[e.idx]) {
				f->vip_idx[i] = e.idx;
				f->vip_used[e.idx] = true;
			}
		}
	}
	for (i = 0; i < lb->nvips; i++) {
		if (f->vip_idx[i] < 0) {
			f->vip_idx[i] = j = pick_row(f->vip_used, f->vip_live,
						     QLB_LB_MAX_VIPS);
			for (key = 0; key < QLB_R_MAX; key++)
				if (zero_row(f->m->stats, j * QLB_R_MAX + key,
					     f->ncpu))
					return fill_err(f,
							"cannot reset counters "
							"of VIP row %u: %s",
							j, strerror(errno));
		}
		f->vitems[i].idx = f->vip_idx[i];
	}
	seed = place(lb->nvips, QLB_LB_VIP_BUCKETS, vip_hash_of, f->vitems,
		     f->where, f->used);
	if (seed < 0)
		return fill_err(f, "cannot place the VIPs in the lookup table");
	f->st.vip_mul = qlb_lb_mul((__u32)seed);
	for (i = 0; i < lb->nvips; i++)
		f->vtab[f->where[i]] = f->vitems[i];
	return 0;
}

/* The CID configs (codec parameters, keys, masks) of every service, at
 * QLB_LB_CFG_KEY(service, id) of the spare slot; the others emptied. */
static int fill_cid_configs(struct lb_fill *f)
{
	unsigned int s, i, j;

	if (fill_unmoved(f))
		return -1;
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++) {
		const struct qlb_conf_service *svc =
			s < f->nsvc ? &f->svcs[s] : NULL;

		for (i = 0; i < QLB_CONFIG_MAX; i++) {
			struct qlb_lb_cid c = {0};
			__u32 key =
				f->nxt * QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX +
				QLB_LB_CFG_KEY(s, i);
			int rc = 0;

			if (svc && svc->configs[i].present) {
				if (qlb_service_cid_cfg(svc, i, &c.c)) {
					explicit_bzero(&c, sizeof(c));
					return fill_err(f,
							"service %s: config "
							"%u: invalid codec "
							"parameters",
							svc->name, i);
				}
				c.live = 1;
				for (j = 0; j < c.c.sid_len && j < 16; j++)
					c.sid_mask[j] = 0xff;
				memset(c.cid_mask, 0xff, qlb_cid_len(&c.c));
				/* without the worker bits, as the hosts see
				 * it */
				memcpy(c.host_mask, c.sid_mask,
				       sizeof(c.host_mask));
				qlb_sid_host_part(&c.c, c.host_mask);
			}
			if (svc) {
				struct qlb_lb_vip_cfg *vc = &f->vcfg[s][i];

				vc->live = c.live;
				vc->id = i;
				vc->flags = c.c.flags;
				vc->cid_len = c.live ? qlb_cid_len(&c.c) : 0;
				vc->sid_len = c.c.sid_len;
				vc->cfg_key = QLB_LB_CFG_KEY(s, i);
				vc->service = s;
				memcpy(vc->host_mask, c.host_mask,
				       sizeof(vc->host_mask));
				memcpy(vc->cid_mask, c.cid_mask,
				       sizeof(vc->cid_mask));
			}
			if (bpf_map_update_elem(f->m->cid_cfgs, &key, &c,
						BPF_ANY))
				rc = fill_err(f,
					      "cannot write config %u of "
					      "service %u to qlb_cid_cfgs_v2: "
					      "%s",
					      i, s, strerror(errno));
			explicit_bzero(&c, sizeof(c)); /* key material */
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The state of member @sh of a service: the worse of the host's in the
 * file (every service it serves) and its own in the service (the health
 * view's, per service). */
static enum qlb_host_state member_state(const struct qlb_config *cfg,
					const struct qlb_conf_svc_host *sh)
{
	enum qlb_host_state a = cfg->hosts[sh->host].state, b = sh->state;

	return a > b ? a : b;
}

static int sid_cmp(const void *a, const void *b)
{
	const struct qlb_lb_sid_ent *x = a, *y = b;

	if (x->cfg_key != y->cfg_key)
		return x->cfg_key < y->cfg_key ? -1 : 1;
	return memcmp(x->sid, y->sid, 16);
}

/* Server IDs of two members under one config of one service: refused. */
static int sid_dupes(struct lb_fill *f)
{
	struct qlb_lb_sid_ent *v;
	unsigned int i;
	int rc = 0;

	if (f->ns < 2)
		return 0;
	v = malloc(f->ns * sizeof(*v));
	if (!v)
		return fill_err(f, "out of memory");
	memcpy(v, f->sitems, f->ns * sizeof(*v));
	qsort(v, f->ns, sizeof(*v), sid_cmp);
	for (i = 1; i < f->ns && !rc; i++) {
		if (sid_cmp(&v[i - 1], &v[i]))
			continue;
		rc = fill_err(f,
			      "service %s: host %s: its server ID under "
			      "config %u is host %s's",
			      f->svcs[v[i].cfg_key / QLB_CONFIG_MAX].name,
			      f->hosts[v[i].host].name,
			      v[i].cfg_key % QLB_CONFIG_MAX,
			      f->hosts[v[i - 1].host].name);
	}
	free(v);
	return rc;
}

/*
 * The member table (one entry per (service, host)), the server IDs each
 * member answers to under its service's configs (placed in their lookup
 * table). A member whose entry in the slot in use is another (service,
 * host) gets its counter row zeroed.
 */
static int fill_members(struct lb_fill *f)
{
	const struct qlb_config *cfg = f->cfg;
	unsigned int s, j, id;
	int seed;

	for (s = 0; s < f->nsvc; s++) {
		const struct qlb_conf_service *svc = &f->svcs[s];

		for (j = 0; j < svc->nhosts; j++) {
			const struct qlb_conf_svc_host *sh = &svc->hosts[j];
			unsigned int mi = svc->member_first + j;
			struct qlb_lb_host *o = &f->hosts[mi], old;
			const struct qlb_conf_host *h;
			enum qlb_host_state st;
			__u32 key = f->cur * QLB_LB_MAX_MEMBERS + mi;

			if (sh->host >= cfg->nhosts)
				return fill_err(f, "service %s: no host %u",
						svc->name, sh->host);
			h = &cfg->hosts[sh->host];
			st = member_state(cfg, sh);
			if (h->address.family == AF_INET6) {
				memcpy(o->addr, &h->address.v6, 16);
				o->family = 6;
			} else {
				memcpy(o->addr, &h->address.v4, 4);
				o->family = 4;
			}
			o->encap = h->encap == QLB_ENCAP_IPIP
					   ? QLB_LB_ENCAP_IPIP
					   : QLB_LB_ENCAP_GUE;
			o->state = st == QLB_HOST_DOWN ? QLB_LB_HOST_DOWN
				   : st == QLB_HOST_DRAINING
					   ? QLB_LB_HOST_DRAINING
					   : QLB_LB_HOST_ACTIVE;
			o->weight = h->weight;
			o->host = sh->host;
			o->service = s;
			snprintf(o->name, sizeof(o->name), "%s", h->name);
			/* counts of the same (service, host) go on */
			if (bpf_map_lookup_elem(f->m->hosts, &key, &old) ||
			    !old.family || old.service != s ||
			    strncmp(old.name, o->name, sizeof(old.name))) {
				if (zero_row(f->m->host_stats, mi, f->ncpu))
					return fill_err(f,
							"cannot reset "
							"counters of member "
							"%u: %s",
							mi, strerror(errno));
			}
			for (id = 0; id < QLB_CONFIG_MAX; id++) {
				struct qlb_lb_sid_ent *e;

				if (!svc->configs[id].present ||
				    !sh->has_sid[id])
					continue;
				if (f->ns >= QLB_LB_MAX_SIDS)
					return fill_err(
						f,
						"%s: more than the %d server "
						"IDs an LB node holds (over "
						"all services and configs)",
						cfg->path, QLB_LB_MAX_SIDS);
				e = &f->sitems[f->ns++];
				memset(e, 0, sizeof(*e));
				memcpy(e->sid, sh->sid[id],
				       svc->configs[id].sid_len);
				e->cfg_key = QLB_LB_CFG_KEY(s, id);
				e->used = 1;
				e->host = mi;
				e->h_family = o->family;
				e->h_encap = o->encap;
				e->h_state = o->state;
				if (o->family == 4)
					memcpy(&e->h_addr4, o->addr, 4);
			}
		}
	}
	if (sid_dupes(f))
		return -1;
	seed = place(f->ns, QLB_LB_SID_BUCKETS, sid_hash_of, f->sitems,
		     f->where, f->used);
	if (seed < 0)
		return fill_err(f, "cannot place the server IDs in the lookup "
				   "table");
	f->st.sid_mul = qlb_lb_mul((__u32)seed);
	for (s = 0; s < f->ns; s++)
		f->stab[f->where[s]] = f->sitems[s];
	return 0;
}

/*
 * The Maglev tables of service @s (include/qlb/abi/lb_abi.h,
 * qlb_mglv_est_v2), over its members, at s * maglev_table_size of the
 * pool. Without a draining member: one table over the active members.
 * With: the table of established flows over the active and draining
 * members (as it was before the drain, weights unchanged), and the table
 * of new flows equal to it but where it names a draining member, whose
 * entries go as they would in a table over the active members alone.
 */
static int fill_maglev_svc(struct lb_fill *f, unsigned int s)
{
	const struct qlb_conf_service *svc = &f->svcs[s];
	__u32 size = f->cfg->lb.maglev_table_size, e;
	uint32_t *t = f->table + (size_t)s * size, *te;
	unsigned int j, nd = 0;

	f->nb = f->nb_est = 0;
	for (j = 0; j < svc->nhosts; j++) {
		const struct qlb_conf_svc_host *sh = &svc->hosts[j];
		const struct qlb_conf_host *h = &f->cfg->hosts[sh->host];
		enum qlb_host_state st = member_state(f->cfg, sh);
		unsigned int mi = svc->member_first + j;

		if (st == QLB_HOST_DOWN || !h->weight)
			continue;
		f->mb_est[f->nb_est++] =
			(struct qlb_maglev_backend){h->name, h->weight, mi};
		if (st == QLB_HOST_DRAINING) {
			f->draining[mi] = true;
			nd++;
			continue;
		}
		f->mb[f->nb++] =
			(struct qlb_maglev_backend){h->name, h->weight, mi};
	}
	if (qlb_maglev_build(f->mb, f->nb, size, t))
		return fill_err(f,
				"service %s: cannot build the Maglev table "
				"(size %u)",
				svc->name, size);
	if (!f->table_est)
		return 0;
	te = f->table_est + (size_t)s * size;
	if (!nd) {
		memcpy(te, t, size * sizeof(*te));
		return 0;
	}
	if (qlb_maglev_build(f->mb_est, f->nb_est, size, te))
		return fill_err(f,
				"service %s: cannot build the Maglev table "
				"(size %u)",
				svc->name, size);
	for (e = 0; e < size; e++) {
		__u32 m = te[e];

		if (m == QLB_MAGLEV_EMPTY ||
		    !f->draining[m & (QLB_LB_MAX_MEMBERS - 1)])
			t[e] = m;
	}
	return 0;
}

/* Every service's tables; the established-flow tables only when some
 * service has a draining member (then every service has one). */
static int fill_maglev(struct lb_fill *f)
{
	size_t size = f->cfg->lb.maglev_table_size;
	unsigned int s, j;

	for (s = 0; s < f->nsvc && !f->ndraining; s++)
		for (j = 0; j < f->svcs[s].nhosts; j++)
			if (member_state(f->cfg, &f->svcs[s].hosts[j]) ==
				    QLB_HOST_DRAINING &&
			    f->cfg->hosts[f->svcs[s].hosts[j].host].weight)
				f->ndraining++;
	if (f->ndraining) {
		f->table_est = malloc(f->nsvc * size * sizeof(*f->table_est));
		if (!f->table_est)
			return fill_err(f,
					"out of memory for %u Maglev tables of "
					"%zu entries",
					f->nsvc, size);
		f->st.est_table = 1;
	}
	for (s = 0; s < f->nsvc; s++)
		if (fill_maglev_svc(f, s))
			return -1;
	return 0;
}

/* The VIP (and their fast-path configs), server-ID, member and Maglev
 * tables into the spare slot. */
static int fill_write_tables(struct lb_fill *f)
{
	const struct qlb_lb_maps *m = f->m;
	__u32 nxt = f->nxt, size = f->cfg->lb.maglev_table_size, j;

	if (fill_unmoved(f))
		return -1;
	if (write_range(m->vips, nxt * QLB_LB_VIP_BUCKETS, f->vtab,
			sizeof(*f->vtab), QLB_LB_VIP_BUCKETS))
		return fill_err(f, "cannot write qlb_vips_v2: %s",
				strerror(errno));
	if (write_range(m->sids, nxt * QLB_LB_SID_BUCKETS, f->stab,
			sizeof(*f->stab), QLB_LB_SID_BUCKETS))
		return fill_err(f, "cannot write qlb_sids_v2: %s",
				strerror(errno));
	/* the fast path's configs beside every used VIP bucket (an empty
	 * bucket's are never read: the VIP entry must match first) */
	for (j = 0; j < QLB_LB_VIP_BUCKETS; j++) {
		const struct qlb_lb_vip_ent *v = &f->vtab[j];

		__u32 id, key;

		if (!v->family)
			continue;
		for (id = 0; id < QLB_LB_VIP_CFG_IDS; id++) {
			key = (nxt * QLB_LB_VIP_CFG_IDS + id) *
				      QLB_LB_VIP_BUCKETS +
			      j;
			if (bpf_map_update_elem(m->vip_cfgs, &key,
						&f->vcfg[v->service][id],
						BPF_ANY))
				return fill_err(f,
						"cannot write qlb_vip_cfgs: "
						"%s",
						strerror(errno));
		}
	}
	/* every member entry: one past the config's must read empty */
	if (write_range(m->hosts, nxt * QLB_LB_MAX_MEMBERS, f->hosts,
			sizeof(*f->hosts), QLB_LB_MAX_MEMBERS))
		return fill_err(f, "cannot write qlb_hosts_v2: %s",
				strerror(errno));

	if (fill_maglev(f))
		return -1;
	if (f->st.est_table &&
	    write_range(m->maglev_est, nxt * QLB_LB_MAGLEV_POOL, f->table_est,
			sizeof(*f->table_est), f->nsvc * size))
		return fill_err(f, "cannot write qlb_mglv_est_v2: %s",
				strerror(errno));
	if (write_range(m->maglev, nxt * QLB_LB_MAGLEV_POOL, f->table,
			sizeof(*f->table), f->nsvc * size))
		return fill_err(f, "cannot write qlb_maglev_v2: %s",
				strerror(errno));
	return 0;
}

/* The spare slot's settings (addresses, MTU, hash multipliers). */
static int fill_settings(struct lb_fill *f, const uint8_t if_mac[6])
{
	const struct qlb_conf_lb *lb = &f->cfg->lb;
	struct qlb_lb_settings *st = &f->st;

	memcpy(st->gw_mac, lb->gateway_mac, 6);
	memcpy(st->if_mac, if_mac, 6);
	if (lb->encap_source_v4.family == AF_INET) {
		st->src_v4 = lb->encap_source_v4.v4.s_addr;
		st->has_v4 = 1;
	}
	if (lb->encap_source_v6.family == AF_INET6) {
		memcpy(st->src_v6, &lb->encap_source_v6.v6, 16);
		st->has_v6 = 1;
	}
	st->gue_port = htons(lb->gue_port);
	st->mtu = lb->mtu;
	st->maglev_size = lb->maglev_table_size;
	st->flow_seed = QLB_LB_HASH_SEED;
	if (f->cfg->hash_secret.present) {
		__u32 k[4];

		memcpy(k, f->cfg->hash_secret.key, sizeof(k));
		st->flow_seed = qlb_lb_flow_seed(k);
		explicit_bzero(k, sizeof(k));
	}
	st->gen = f->ctrl.gen + 1;
	if (fill_unmoved(f))
		return -1;
	if (bpf_map_update_elem(f->m->settings, &f->nxt, st, BPF_ANY))
		return fill_err(f, "cannot write qlb_settings_v2: %s",
				strerror(errno));
	return 0;
}

/* The flip: one write of qlb_ctrl, from which on packets use the new
 * slot. */
static int fill_flip(struct lb_fill *f, uint32_t ifindex, uint32_t xdp_mode)
{
	__u32 zero = 0;

	if (fill_unmoved(f))
		return -1;
	f->ctrl.slot = f->nxt;
	f->ctrl.gen = f->st.gen;
	f->ctrl.ifindex = ifindex;
	f->ctrl.xdp_mode = xdp_mode;
	f->ctrl.applied_at = (uint64_t)time(NULL);
	if (bpf_map_update_elem(f->m->ctrl, &zero, &f->ctrl, BPF_ANY))
		return fill_err(f, "cannot write qlb_ctrl: %s",
				strerror(errno));
	return 0;
}

static void fill_end(struct lb_fill *f)
{
	free(f->vtab);
	free(f->stab);
	free(f->sitems);
	free(f->where);
	free(f->used);
	free(f->hosts);
	free(f->mb);
	free(f->mb_est);
	free(f->draining);
	free(f->table);
	free(f->table_est);
	free(f->own.hosts);
	free(f);
}

int qlb_lb_fill(const struct qlb_lb_maps *m, const struct qlb_config *cfg,
		const uint8_t if_mac[6], uint32_t ifindex, uint32_t xdp_mode,
		char *err, size_t errlen)
{
	struct lb_fill *f;
	int rc;

	if (qlb_lb_check(cfg, err, errlen))
		return -1;
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->m = m;
	f->cfg = cfg;
	f->err = err;
	f->errlen = errlen;
	rc = fill_begin(f);
	if (!rc)
		rc = fill_vips(f);
	if (!rc)
		rc = fill_cid_configs(f);
	if (!rc)
		rc = fill_members(f);
	if (!rc)
		rc = fill_write_tables(f);
	if (!rc)
		rc = fill_settings(f, if_mac);
	if (!rc)
		rc = fill_flip(f, ifindex, xdp_mode);
	fill_end(f);
	return rc;
}
