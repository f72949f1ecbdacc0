// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_lb_fill(): a validated config into the slot packets do not use, then
 * the flip (include/qlb/abi/lb_abi.h). One context carries the apply through
 * named steps: counter rows of the VIPs, indexes of the hosts, the CID
 * configs, the host and server-ID tables, the Maglev table, the settings
 * and the flip. Every step writes only the spare slot (or counter rows no
 * packet of the slot in use counts into), so a failure leaves the active
 * slot as it was.
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
	char *err;
	size_t errlen;
	int ncpu;
	__u32 cur, nxt; /* the slot in use, the one being written */
	struct qlb_lb_ctrl ctrl;
	struct qlb_lb_settings st;

	/* VIPs of the config, their counter rows, their lookup table */
	struct qlb_lb_vip_ent vitems[QLB_LB_MAX_VIPS];
	int vip_idx[QLB_LB_MAX_VIPS]; /* row of config VIP i */
	bool vip_used[QLB_LB_MAX_VIPS];
	/* rows the slot in use counts into: a new VIP or host takes one only
	 * when no other is free, so zeroing it steals no live counts */
	bool vip_live[QLB_LB_MAX_VIPS];
	struct qlb_lb_vip_ent *vtab;

	/* hosts of the config, by index; their server IDs; Maglev input */
	int host_idx[QLB_LB_MAX_HOSTS]; /* index of config host i */
	bool host_used[QLB_LB_MAX_HOSTS];
	bool host_live[QLB_LB_MAX_HOSTS];
	struct qlb_lb_host *hosts;
	struct qlb_lb_sid_ent *sitems, *stab;
	unsigned int ns;
	struct qlb_maglev_backend *mb; /* active hosts */
	unsigned int nb;
	struct qlb_maglev_backend *mb_est; /* active and draining hosts */
	unsigned int nb_est, ndraining;
	bool draining[QLB_LB_MAX_HOSTS]; /* by host index */
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
 * A counter row for a new VIP or host: one neither taken by this apply
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

/* Read qlb_ctrl (which slot is in use) and allocate the tables. */
static int fill_begin(struct lb_fill *f)
{
	unsigned int nh = f->cfg->nhosts;
	__u32 zero = 0;

	f->ncpu = libbpf_num_possible_cpus();
	if (f->ncpu < 1)
		return fill_err(f, "cannot count CPUs: %s", strerror(-f->ncpu));
	if (bpf_map_lookup_elem(f->m->ctrl, &zero, &f->ctrl))
		return fill_err(f, "cannot read qlb_ctrl: %s", strerror(errno));
	f->cur = f->ctrl.slot & 1;
	f->nxt = f->cur ^ 1;
	f->vtab = calloc(QLB_LB_VIP_BUCKETS, sizeof(*f->vtab));
	f->stab = calloc(QLB_LB_SID_BUCKETS, sizeof(*f->stab));
	f->sitems =
		calloc(QLB_LB_MAX_HOSTS * QLB_CONFIG_MAX, sizeof(*f->sitems));
	f->where = calloc(QLB_LB_MAX_HOSTS * QLB_CONFIG_MAX, sizeof(*f->where));
	f->used = malloc(QLB_LB_SID_BUCKETS);
	f->hosts = calloc(QLB_LB_MAX_HOSTS, sizeof(*f->hosts));
	f->mb = calloc(nh ? nh : 1, sizeof(*f->mb));
	f->mb_est = calloc(nh ? nh : 1, sizeof(*f->mb_est));
	if (!f->vtab || !f->stab || !f->sitems || !f->where || !f->used ||
	    !f->hosts || !f->mb || !f->mb_est)
		return fill_err(f, "out of memory");
	return 0;
}

/*
 * VIP counter rows: a VIP keeps the row it has in the slot in use (by
 * address, port and family); a new one gets a free row, zeroed. Then the
 * VIPs are placed in the spare slot's lookup table.
 */
static int fill_vips(struct lb_fill *f)
{
	const struct qlb_conf_lb *lb = &f->cfg->lb;
	unsigned int i, j;
	__u32 key;
	int seed;

	for (i = 0; i < lb->nvips; i++) {
		vip_ent(&lb->vips[i], &f->vitems[i]);
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

/* Host indexes: a host keeps its index (and counter row) by name, as in
 * the slot in use; a new one gets a free index, its row zeroed. */
static int fill_host_index(struct lb_fill *f)
{
	const struct qlb_config *cfg = f->cfg;
	struct qlb_lb_host oh;
	unsigned int i, j;
	__u32 key;

	for (i = 0; i < cfg->nhosts; i++)
		f->host_idx[i] = -1;
	for (j = 0; j < QLB_LB_MAX_HOSTS; j++) {
		key = f->cur * QLB_LB_MAX_MEMBERS + j;
		if (bpf_map_lookup_elem(f->m->hosts, &key, &oh) || !oh.family)
			continue;
		f->host_live[j] = true;
		for (i = 0; i < cfg->nhosts; i++) {
			if (f->host_idx[i] < 0 && !f->host_used[j] &&
			    !strncmp(oh.name, cfg->hosts[i].name,
				     sizeof(oh.name))) {
				f->host_idx[i] = j;
				f->host_used[j] = true;
			}
		}
	}
	for (i = 0; i < cfg->nhosts; i++) {
		if (f->host_idx[i] >= 0)
			continue;
		f->host_idx[i] = j =
			pick_row(f->host_used, f->host_live, QLB_LB_MAX_HOSTS);
		if (zero_row(f->m->host_stats, j, f->ncpu))
			return fill_err(f,
					"cannot reset counters of host row "
					"%u: %s",
					j, strerror(errno));
	}
	return 0;
}

/* The CID configs (codec parameters, keys, masks) of the spare slot. */
static int fill_cid_configs(struct lb_fill *f)
{
	const struct qlb_config *cfg = f->cfg;
	unsigned int i, j;

	if (fill_unmoved(f))
		return -1;
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		struct qlb_lb_cid c = {0};
		__u32 key = f->nxt * QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX + i;
		int rc = 0;

		if (cfg->configs[i].present) {
			if (qlb_config_cid_cfg(cfg, i, &c.c)) {
				explicit_bzero(&c, sizeof(c));
				return fill_err(f,
						"config %u: invalid codec "
						"parameters",
						i);
			}
			c.live = 1;
			f->st.live_cfgs |= 1u << i;
			for (j = 0; j < c.c.sid_len && j < 16; j++)
				c.sid_mask[j] = 0xff;
			memset(c.cid_mask, 0xff, qlb_cid_len(&c.c));
			/* without the worker bits, as the hosts see it */
			memcpy(c.host_mask, c.sid_mask, sizeof(c.host_mask));
			qlb_sid_host_part(&c.c, c.host_mask);
		}
		if (bpf_map_update_elem(f->m->cid_cfgs, &key, &c, BPF_ANY))
			rc = fill_err(f,
				      "cannot write config %u to "
				      "qlb_cid_cfgs: %s",
				      i, strerror(errno));
		explicit_bzero(&c, sizeof(c)); /* key material off the stack */
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The host table, the server IDs each host answers to (placed in their
 * lookup table) and the weighted active hosts Maglev spreads new flows
 * over.
 */
static int fill_hosts(struct lb_fill *f)
{
	const struct qlb_config *cfg = f->cfg;
	unsigned int i, j, k;
	int seed;

	for (i = 0; i < cfg->nhosts; i++) {
		const struct qlb_conf_host *h = &cfg->hosts[i];
		struct qlb_lb_host *o = &f->hosts[f->host_idx[i]];

		if (h->address.family == AF_INET6) {
			memcpy(o->addr, &h->address.v6, 16);
			o->family = 6;
		} else {
			memcpy(o->addr, &h->address.v4, 4);
			o->family = 4;
		}
		o->encap = h->encap == QLB_ENCAP_IPIP ? QLB_LB_ENCAP_IPIP
						      : QLB_LB_ENCAP_GUE;
		o->state = h->state == QLB_HOST_DOWN ? QLB_LB_HOST_DOWN
			   : h->state == QLB_HOST_DRAINING
				   ? QLB_LB_HOST_DRAINING
				   : QLB_LB_HOST_ACTIVE;
		o->weight = h->weight;
		snprintf(o->name, sizeof(o->name), "%s", h->name);
		for (j = 0; j < QLB_CONFIG_MAX; j++) {
			struct qlb_lb_sid_ent *e = &f->sitems[f->ns];

			if (!cfg->configs[j].present || !h->has_sid[j])
				continue;
			memset(e, 0, sizeof(*e));
			memcpy(e->sid, h->sid[j], cfg->configs[j].sid_len);
			e->cfg_key = j;
			e->used = 1;
			e->host = f->host_idx[i];
			e->h_family = o->family;
			e->h_encap = o->encap;
			e->h_state = o->state;
			if (o->family == 4)
				memcpy(&e->h_addr4, o->addr, 4);
			for (k = 0; k < f->ns; k++)
				if (!memcmp(f->sitems[k].sid, e->sid, 16) &&
				    f->sitems[k].cfg_key == j)
					return fill_err(f,
							"host %s: its server "
							"ID under config %u "
							"is another host's",
							h->name, j);
			f->ns++;
		}
		if (h->state == QLB_HOST_DOWN || !h->weight)
			continue;
		f->mb_est[f->nb_est].name = h->name;
		f->mb_est[f->nb_est].weight = h->weight;
		f->mb_est[f->nb_est].id = f->host_idx[i];
		f->nb_est++;
		if (h->state == QLB_HOST_DRAINING) {
			f->draining[f->host_idx[i]] = true;
			f->ndraining++;
			continue;
		}
		f->mb[f->nb].name = h->name;
		f->mb[f->nb].weight = h->weight;
		f->mb[f->nb].id = f->host_idx[i];
		f->nb++;
	}
	seed = place(f->ns, QLB_LB_SID_BUCKETS, sid_hash_of, f->sitems,
		     f->where, f->used);
	if (seed < 0)
		return fill_err(f, "cannot place the server IDs in the lookup "
				   "table");
	f->st.sid_mul = qlb_lb_mul((__u32)seed);
	for (i = 0; i < f->ns; i++)
		f->stab[f->where[i]] = f->sitems[i];
	return 0;
}

/*
 * The Maglev tables (include/qlb/abi/lb_abi.h, qlb_maglev_est). Without a
 * draining host: one table over the active hosts. With: the table of
 * established flows over the active and draining hosts (as it was before
 * the drain, weights unchanged), and the table of new flows equal to it
 * but where it names a draining host, whose entries go as they would in a
 * table over the active hosts alone.
 */
static int fill_maglev(struct lb_fill *f)
{
	__u32 size = f->cfg->lb.maglev_table_size, e;

	f->table = malloc(size * sizeof(*f->table));
	if (f->ndraining)
		f->table_est = malloc(size * sizeof(*f->table_est));
	if (!f->table || (f->ndraining && !f->table_est))
		return fill_err(f,
				"out of memory for a Maglev table of %u "
				"entries",
				size);
	if (qlb_maglev_build(f->mb, f->nb, size, f->table))
		return fill_err(f, "cannot build the Maglev table (size %u)",
				size);
	if (!f->ndraining)
		return 0;
	if (qlb_maglev_build(f->mb_est, f->nb_est, size, f->table_est))
		return fill_err(f, "cannot build the Maglev table (size %u)",
				size);
	for (e = 0; e < size; e++) {
		__u32 h = f->table_est[e];

		if (h == QLB_MAGLEV_EMPTY ||
		    !f->draining[h & (QLB_LB_MAX_HOSTS - 1)])
			f->table[e] = h;
	}
	f->st.est_table = 1;
	return 0;
}

/* The VIP, server-ID, host and Maglev tables into the spare slot. */
static int fill_write_tables(struct lb_fill *f)
{
	const struct qlb_lb_maps *m = f->m;
	__u32 nxt = f->nxt, size = f->cfg->lb.maglev_table_size;

	if (fill_unmoved(f))
		return -1;
	if (write_range(m->vips, nxt * QLB_LB_VIP_BUCKETS, f->vtab,
			sizeof(*f->vtab), QLB_LB_VIP_BUCKETS))
		return fill_err(f, "cannot write qlb_vips: %s",
				strerror(errno));
	if (write_range(m->sids, nxt * QLB_LB_SID_BUCKETS, f->stab,
			sizeof(*f->stab), QLB_LB_SID_BUCKETS))
		return fill_err(f, "cannot write qlb_sids: %s",
				strerror(errno));
	if (write_range(m->hosts, nxt * QLB_LB_MAX_MEMBERS, f->hosts,
			sizeof(*f->hosts), QLB_LB_MAX_HOSTS))
		return fill_err(f, "cannot write qlb_hosts: %s",
				strerror(errno));

	if (fill_maglev(f))
		return -1;
	if (f->st.est_table &&
	    write_range(m->maglev_est, nxt * QLB_LB_MAGLEV_POOL, f->table_est,
			sizeof(*f->table_est), size))
		return fill_err(f, "cannot write qlb_maglev_est: %s",
				strerror(errno));
	if (write_range(m->maglev, nxt * QLB_LB_MAGLEV_POOL, f->table,
			sizeof(*f->table), size))
		return fill_err(f, "cannot write qlb_maglev: %s",
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
	free(f->table);
	free(f->table_est);
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
		rc = fill_host_index(f);
	if (!rc)
		rc = fill_cid_configs(f);
	if (!rc)
		rc = fill_hosts(f);
	if (!rc)
		rc = fill_write_tables(f);
	if (!rc)
		rc = fill_settings(f, if_mac);
	if (!rc)
		rc = fill_flip(f, ifindex, xdp_mode);
	fill_end(f);
	return rc;
}
