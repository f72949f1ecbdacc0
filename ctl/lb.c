// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl lb: the LB node's control. apply loads and attaches the XDP
 * program (once) and fills its maps from a validated file (every time);
 * status, stats, metrics and detach work from the pins alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "common.h"
#include "metrics_http.h"
#include "config.h"
#include "lb.h"
#include "maglev.h"
#include "qlb_xdp.skel.h"

#define DEFAULT_PIN_DIR "/sys/fs/bpf/qlb/lb"

/* The maps qlbctl pins and opens: their names in the program, where
 * struct qlb_lb_maps keeps their descriptors, and the value size of this
 * build (pins left by another layout are refused, not half-written). */
#define LB_MAP(n, f, t)                                                        \
	{                                                                      \
		n, offsetof(struct qlb_lb_maps, f), sizeof(t)                  \
	}
static const struct {
	const char *name;
	size_t off;
	__u32 vsize;
} lb_maps[] = {
	LB_MAP("qlb_ctrl", ctrl, struct qlb_lb_ctrl),
	LB_MAP("qlb_settings", settings, struct qlb_lb_settings),
	LB_MAP("qlb_vips", vips, struct qlb_lb_vip_ent),
	LB_MAP("qlb_cid_cfgs", cid_cfgs, struct qlb_lb_cid),
	LB_MAP("qlb_sids", sids, struct qlb_lb_sid_ent),
	LB_MAP("qlb_hosts", hosts, struct qlb_lb_host),
	LB_MAP("qlb_maglev", maglev, __u32),
	LB_MAP("qlb_stats", stats, struct qlb_lb_counter),
	LB_MAP("qlb_host_stats", host_stats, struct qlb_lb_counter),
	LB_MAP("qlb_cfg_stats", cfg_stats, struct qlb_lb_counter),
	LB_MAP("qlb_cid_cache", cid_cache, struct qlb_lb_cache_ent),
};
#define NMAPS (sizeof(lb_maps) / sizeof(lb_maps[0]))
_Static_assert(NMAPS * sizeof(int) == sizeof(struct qlb_lb_maps),
	       "every map of struct qlb_lb_maps is in lb_maps[]");

static int *map_fd(struct qlb_lb_maps *m, size_t i)
{
	return (int *)((char *)m + lb_maps[i].off);
}

static void maps_init(struct qlb_lb_maps *m)
{
	size_t i;

	for (i = 0; i < NMAPS; i++)
		*map_fd(m, i) = -1;
}

static const char *const reason_names[QLB_R_MAX] = {
	[QLB_R_ROUTED_CID] = "routed_cid",
	[QLB_R_FB_INITIAL] = "fallback_initial",
	[QLB_R_FB_UNROUTABLE] = "fallback_unroutable",
	[QLB_R_FB_UNKNOWN_CONFIG] = "fallback_unknown_config",
	[QLB_R_FB_UNKNOWN_SID] = "fallback_unknown_server_id",
	[QLB_R_FB_HOST_DOWN] = "fallback_host_down",
	[QLB_R_FB_TCP] = "fallback_tcp",
	[QLB_R_MALFORMED] = "malformed",
	[QLB_R_VERSION0] = "version_negotiation",
	[QLB_R_OVERSIZE] = "oversize",
	[QLB_R_ENCAP_FAIL] = "encap_failure",
	[QLB_R_NO_HOST] = "no_host",
	[QLB_R_PASSED] = "passed",
};

const char *qlb_lb_reason_name(unsigned int r)
{
	return r < QLB_R_MAX ? reason_names[r] : "unknown";
}

unsigned int qlb_lb_reason_action(unsigned int r)
{
	if (r <= QLB_R_FB_TCP)
		return QLB_ACT_TX;
	return r == QLB_R_PASSED ? QLB_ACT_PASS : QLB_ACT_DROP;
}

const char *qlb_lb_action_name(unsigned int a)
{
	return a == QLB_ACT_TX ? "tx" : a == QLB_ACT_DROP ? "drop" : "pass";
}

int qlb_lb_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	int fd, rc = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		rc = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return rc;
}

int qlb_lb_check(const struct qlb_config *cfg, char *err, size_t errlen)
{
	const struct qlb_conf_lb *lb = &cfg->lb;
	unsigned int i;

	if (!lb->present) {
		snprintf(err, errlen, "%s: no lb: section", cfg->path);
		return -1;
	}
	if (lb->maglev_table_size > QLB_LB_MAGLEV_MAX ||
	    !qlb_maglev_is_prime(lb->maglev_table_size)) {
		snprintf(err, errlen,
			 "%s: lb.maglev_table_size %u must be a prime <= %u",
			 cfg->path, lb->maglev_table_size, QLB_LB_MAGLEV_MAX);
		return -1;
	}
	if (lb->nvips > QLB_LB_MAX_VIPS || cfg->nhosts > QLB_LB_MAX_HOSTS) {
		snprintf(err, errlen, "%s: at most %u VIPs and %u hosts",
			 cfg->path, QLB_LB_MAX_VIPS, QLB_LB_MAX_HOSTS);
		return -1;
	}
	if (lb->mtu > 0xffff) {
		snprintf(err, errlen, "%s: lb.mtu %u too large", cfg->path,
			 lb->mtu);
		return -1;
	}
	for (i = 0; i < cfg->nhosts; i++) {
		const struct qlb_conf_host *h = &cfg->hosts[i];
		int fam = h->address.family;

		if (fam == AF_INET && lb->encap_source_v4.family != AF_INET) {
			snprintf(err, errlen,
				 "%s:%d:%d: host %s is IPv4 but "
				 "lb.encap_source_v4 is not set",
				 cfg->path, h->pos.line, h->pos.col, h->name);
			return -1;
		}
		if (fam == AF_INET6 && lb->encap_source_v6.family != AF_INET6) {
			snprintf(err, errlen,
				 "%s:%d:%d: host %s is IPv6 but "
				 "lb.encap_source_v6 is not set",
				 cfg->path, h->pos.line, h->pos.col, h->name);
			return -1;
		}
		if (strlen(h->name) >=
		    sizeof(((struct qlb_lb_host *)0)->name)) {
			snprintf(err, errlen, "%s:%d:%d: host name %s too long",
				 cfg->path, h->pos.line, h->pos.col, h->name);
			return -1;
		}
	}
	return 0;
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

/* The map descriptors of a loaded skeleton (apply, trace, tests). */
void qlb_lb_maps_from_skel(struct qlb_lb_maps *m, const struct qlb_xdp *skel)
{
	size_t i;

	for (i = 0; i < NMAPS; i++)
		*map_fd(m, i) = bpf_object__find_map_fd_by_name(
			skel->obj, lb_maps[i].name);
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
	return qlb_lb_sid_hash(seed, e[i].config_id, k);
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

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		goto out;                                                      \
	} while (0)

int qlb_lb_fill(const struct qlb_lb_maps *m, const struct qlb_config *cfg,
		const uint8_t if_mac[6], uint32_t ifindex, uint32_t xdp_mode,
		char *err, size_t errlen)
{
	const struct qlb_conf_lb *lb = &cfg->lb;
	struct qlb_maglev_backend *mb = NULL;
	struct qlb_lb_settings st = {0};
	struct qlb_lb_ctrl ctrl = {0};
	struct qlb_lb_host *hosts = NULL, oh;
	struct qlb_lb_vip_ent *vtab = NULL, vitems[QLB_LB_MAX_VIPS];
	struct qlb_lb_sid_ent *stab = NULL, *sitems = NULL;
	uint32_t *table = NULL, *where = NULL;
	unsigned char *used = NULL;
	int vip_idx[QLB_LB_MAX_VIPS];	/* row of config VIP i */
	int host_idx[QLB_LB_MAX_HOSTS]; /* index of config host i */
	bool vip_used[QLB_LB_MAX_VIPS] = {0}, host_used[QLB_LB_MAX_HOSTS] = {0};
	/* rows the slot in use counts into: a new VIP or host takes one only
	 * when no other is free, so zeroing it steals no live counts */
	bool vip_live[QLB_LB_MAX_VIPS] = {0}, host_live[QLB_LB_MAX_HOSTS] = {0};
	unsigned int i, j, nb = 0, ns = 0;
	__u32 zero = 0, cur, nxt, key, size = lb->maglev_table_size;
	int ncpu = libbpf_num_possible_cpus(), rc = -1, seed;

	if (ncpu < 1)
		FAIL("cannot count CPUs: %s", strerror(-ncpu));
	if (qlb_lb_check(cfg, err, errlen))
		return -1;
	if (bpf_map_lookup_elem(m->ctrl, &zero, &ctrl))
		FAIL("cannot read qlb_ctrl: %s", strerror(errno));
	cur = ctrl.slot & 1;
	nxt = cur ^ 1;
	vtab = calloc(QLB_LB_VIP_BUCKETS, sizeof(*vtab));
	stab = calloc(QLB_LB_SID_BUCKETS, sizeof(*stab));
	sitems = calloc(QLB_LB_MAX_HOSTS * QLB_CONFIG_MAX, sizeof(*sitems));
	where = calloc(QLB_LB_MAX_HOSTS * QLB_CONFIG_MAX, sizeof(*where));
	used = malloc(QLB_LB_SID_BUCKETS);
	hosts = calloc(QLB_LB_MAX_HOSTS, sizeof(*hosts));
	mb = calloc(cfg->nhosts ? cfg->nhosts : 1, sizeof(*mb));
	if (!vtab || !stab || !sitems || !where || !used || !hosts || !mb)
		FAIL("out of memory");

	/* VIP rows: a VIP keeps its counter row across applies */
	for (i = 0; i < lb->nvips; i++) {
		vip_ent(&lb->vips[i], &vitems[i]);
		vip_idx[i] = -1;
	}
	for (j = 0; j < QLB_LB_VIP_BUCKETS; j++) {
		struct qlb_lb_vip_ent e;

		key = cur * QLB_LB_VIP_BUCKETS + j;
		if (bpf_map_lookup_elem(m->vips, &key, &e) || !e.family ||
		    e.idx >= QLB_LB_MAX_VIPS)
			continue;
		vip_live[e.idx] = true;
		for (i = 0; i < lb->nvips; i++) {
			if (vip_idx[i] < 0 &&
			    !memcmp(e.addr, vitems[i].addr, 16) &&
			    e.port == vitems[i].port &&
			    e.family == vitems[i].family && !vip_used[e.idx]) {
				vip_idx[i] = e.idx;
				vip_used[e.idx] = true;
			}
		}
	}
	for (i = 0; i < lb->nvips; i++) {
		if (vip_idx[i] < 0) {
			vip_idx[i] = j =
				pick_row(vip_used, vip_live, QLB_LB_MAX_VIPS);
			for (key = 0; key < QLB_R_MAX; key++)
				if (zero_row(m->stats, j * QLB_R_MAX + key,
					     ncpu))
					FAIL("cannot reset counters of VIP "
					     "row %u: %s",
					     j, strerror(errno));
		}
		vitems[i].idx = vip_idx[i];
	}
	seed = place(lb->nvips, QLB_LB_VIP_BUCKETS, vip_hash_of, vitems, where,
		     used);
	if (seed < 0)
		FAIL("cannot place the VIPs in the lookup table");
	st.vip_mul = qlb_lb_mul((__u32)seed);
	for (i = 0; i < lb->nvips; i++)
		vtab[where[i]] = vitems[i];

	/* host indexes: by name, as in the slot in use */
	for (i = 0; i < cfg->nhosts; i++)
		host_idx[i] = -1;
	for (j = 0; j < QLB_LB_MAX_HOSTS; j++) {
		key = cur * QLB_LB_MAX_HOSTS + j;
		if (bpf_map_lookup_elem(m->hosts, &key, &oh) || !oh.family)
			continue;
		host_live[j] = true;
		for (i = 0; i < cfg->nhosts; i++) {
			if (host_idx[i] < 0 && !host_used[j] &&
			    !strncmp(oh.name, cfg->hosts[i].name,
				     sizeof(oh.name))) {
				host_idx[i] = j;
				host_used[j] = true;
			}
		}
	}
	for (i = 0; i < cfg->nhosts; i++) {
		if (host_idx[i] >= 0)
			continue;
		host_idx[i] = j =
			pick_row(host_used, host_live, QLB_LB_MAX_HOSTS);
		if (zero_row(m->host_stats, j, ncpu))
			FAIL("cannot reset counters of host row %u: %s", j,
			     strerror(errno));
	}

	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		struct qlb_lb_cid c = {0};

		key = nxt * QLB_CONFIG_MAX + i;
		if (cfg->configs[i].present) {
			if (qlb_config_cid_cfg(cfg, i, &c.c))
				FAIL("config %u: invalid codec parameters", i);
			c.live = 1;
			st.live_cfgs |= 1u << i;
			for (j = 0; j < c.c.sid_len && j < 16; j++)
				c.sid_mask[j] = 0xff;
			memset(c.cid_mask, 0xff, qlb_cid_len(&c.c));
			/* without the worker bits, as the hosts see it */
			memcpy(c.host_mask, c.sid_mask, sizeof(c.host_mask));
			qlb_sid_host_part(&c.c, c.host_mask);
		}
		if (bpf_map_update_elem(m->cid_cfgs, &key, &c, BPF_ANY))
			FAIL("cannot write config %u to qlb_cid_cfgs: %s", i,
			     strerror(errno));
		explicit_bzero(&c, sizeof(c)); /* key material off the stack */
	}

	for (i = 0; i < cfg->nhosts; i++) {
		const struct qlb_conf_host *h = &cfg->hosts[i];
		struct qlb_lb_host *o = &hosts[host_idx[i]];

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
			struct qlb_lb_sid_ent *e = &sitems[ns];
			unsigned int k;

			if (!cfg->configs[j].present || !h->has_sid[j])
				continue;
			memset(e, 0, sizeof(*e));
			memcpy(e->sid, h->sid[j], cfg->configs[j].sid_len);
			e->config_id = j;
			e->used = 1;
			e->host = host_idx[i];
			e->h_family = o->family;
			e->h_encap = o->encap;
			e->h_state = o->state;
			if (o->family == 4)
				memcpy(&e->h_addr4, o->addr, 4);
			for (k = 0; k < ns; k++)
				if (!memcmp(sitems[k].sid, e->sid, 16) &&
				    sitems[k].config_id == j)
					FAIL("host %s: its server ID under "
					     "config %u is another host's",
					     h->name, j);
			ns++;
		}
		if (h->state == QLB_HOST_ACTIVE && h->weight) {
			mb[nb].name = h->name;
			mb[nb].weight = h->weight;
			mb[nb].id = host_idx[i];
			nb++;
		}
	}
	seed = place(ns, QLB_LB_SID_BUCKETS, sid_hash_of, sitems, where, used);
	if (seed < 0)
		FAIL("cannot place the server IDs in the lookup table");
	st.sid_mul = qlb_lb_mul((__u32)seed);
	for (i = 0; i < ns; i++)
		stab[where[i]] = sitems[i];

	if (write_range(m->vips, nxt * QLB_LB_VIP_BUCKETS, vtab, sizeof(*vtab),
			QLB_LB_VIP_BUCKETS))
		FAIL("cannot write qlb_vips: %s", strerror(errno));
	if (write_range(m->sids, nxt * QLB_LB_SID_BUCKETS, stab, sizeof(*stab),
			QLB_LB_SID_BUCKETS))
		FAIL("cannot write qlb_sids: %s", strerror(errno));
	if (write_range(m->hosts, nxt * QLB_LB_MAX_HOSTS, hosts, sizeof(*hosts),
			QLB_LB_MAX_HOSTS))
		FAIL("cannot write qlb_hosts: %s", strerror(errno));

	table = malloc(size * sizeof(*table));
	if (!table)
		FAIL("out of memory for a Maglev table of %u entries", size);
	if (qlb_maglev_build(mb, nb, size, table))
		FAIL("cannot build the Maglev table (size %u)", size);
	if (write_range(m->maglev, nxt * QLB_LB_MAGLEV_MAX, table,
			sizeof(*table), size))
		FAIL("cannot write qlb_maglev: %s", strerror(errno));

	memcpy(st.gw_mac, lb->gateway_mac, 6);
	memcpy(st.if_mac, if_mac, 6);
	if (lb->encap_source_v4.family == AF_INET) {
		st.src_v4 = lb->encap_source_v4.v4.s_addr;
		st.has_v4 = 1;
	}
	if (lb->encap_source_v6.family == AF_INET6) {
		memcpy(st.src_v6, &lb->encap_source_v6.v6, 16);
		st.has_v6 = 1;
	}
	st.gue_port = htons(lb->gue_port);
	st.mtu = lb->mtu;
	st.maglev_size = size;
	st.gen = ctrl.gen + 1;
	if (bpf_map_update_elem(m->settings, &nxt, &st, BPF_ANY))
		FAIL("cannot write qlb_settings: %s", strerror(errno));

	/* the flip: from here on packets use the new slot */
	ctrl.slot = nxt;
	ctrl.gen = st.gen;
	ctrl.ifindex = ifindex;
	ctrl.xdp_mode = xdp_mode;
	ctrl.applied_at = (uint64_t)time(NULL);
	if (bpf_map_update_elem(m->ctrl, &zero, &ctrl, BPF_ANY))
		FAIL("cannot write qlb_ctrl: %s", strerror(errno));
	rc = 0;
out:
	free(vtab);
	free(stab);
	free(sitems);
	free(where);
	free(used);
	free(hosts);
	free(mb);
	free(table);
	return rc;
}

/* ---- the commands ----------------------------------------------------------
 */

struct lb_opts {
	const char *file;
	char pin_dir[PATH_MAX];
	bool watch;
	double interval;
	long count;
	const char *listen;
};

static int open_pinned(const char *dir, struct qlb_lb_maps *m)
{
	char path[PATH_MAX + 64];
	size_t i;

	maps_init(m);
	for (i = 0; i < NMAPS; i++) {
		struct bpf_map_info info = {0};
		__u32 len = sizeof(info);
		int *fd = map_fd(m, i);

		snprintf(path, sizeof(path), "%s/%s", dir, lb_maps[i].name);
		*fd = bpf_obj_get(path);
		if (*fd < 0)
			return -errno;
		if (bpf_obj_get_info_by_fd(*fd, &info, &len) ||
		    info.value_size != lb_maps[i].vsize) {
			errno = EPROTO;
			return -EPROTO;
		}
	}
	return 0;
}

static void close_maps(struct qlb_lb_maps *m)
{
	size_t i;

	for (i = 0; i < NMAPS; i++)
		if (*map_fd(m, i) >= 0)
			close(*map_fd(m, i));
}

static int libbpf_quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	if (qlb_verbose || l == LIBBPF_WARN)
		return qlb_verbose ? vfprintf(stderr, f, ap) : 0;
	return 0;
}

static int libxdp_quiet(enum libxdp_print_level l, const char *f, va_list ap)
{
	return qlb_verbose ? vfprintf(stderr, f, ap) : 0;
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX], *p;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static __u32 prog_id_of_fd(int fd)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static __u32 attached_id(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return 0;
	return q.prog_id;
}

static int attach_fd(int prog_fd, int ifindex, const char *ifname, int mode)
{
	struct xdp_program *xp = xdp_program__from_fd(prog_fd);
	int rc;

	if (!xp || libxdp_get_error(xp)) {
		qlb_err("cannot wrap the XDP program for libxdp");
		return -1;
	}
	rc = xdp_program__attach(
		xp, ifindex,
		mode == QLB_XDP_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
	xdp_program__close(xp);
	if (rc) {
		qlb_err("cannot attach XDP to %s (%s mode): %s%s", ifname,
			mode == QLB_XDP_GENERIC ? "generic" : "native",
			strerror(-rc), rc == -EPERM ? " (are you root?)" : "");
		return -1;
	}
	return 0;
}

static void unpin_all(const char *dir)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, lb_maps[i].name);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, QLB_LB_PIN_PROG);
	unlink(path);
	rmdir(dir);
}

static int lb_apply(struct lb_opts *o)
{
	struct qlb_config cfg;
	struct qlb_lb_maps m;
	struct qlb_xdp *skel = NULL;
	char err[512], path[PATH_MAX + 64];
	uint8_t mac[6];
	int ifindex, rc = QLB_EXIT_ERR, prog_fd = -1, fresh = 0, n;

	maps_init(&m);

	if (!o->file) {
		qlb_warn("lb apply: -f FILE is required");
		return QLB_EXIT_USAGE;
	}
	n = qlb_config_load(o->file, &cfg, stderr);
	if (n) {
		qlb_err("%s: %d problem%s, nothing changed", o->file, n,
			n == 1 ? "" : "s");
		return QLB_EXIT_ERR;
	}
	if (qlb_lb_check(&cfg, err, sizeof(err))) {
		qlb_err("%s; nothing changed", err);
		goto out;
	}
	if (!cfg.lb.interface[0]) {
		qlb_err("%s: lb.interface is not set; nothing changed",
			o->file);
		goto out;
	}
	ifindex = if_nametoindex(cfg.lb.interface);
	if (!ifindex) {
		qlb_err("lb.interface %s: %s; nothing changed",
			cfg.lb.interface, strerror(errno));
		goto out;
	}
	if (qlb_lb_if_mac(cfg.lb.interface, mac)) {
		qlb_err("cannot read the MAC of %s: %s", cfg.lb.interface,
			strerror(errno));
		goto out;
	}
	if (!o->pin_dir[0])
		snprintf(o->pin_dir, sizeof(o->pin_dir), "%s", cfg.lb.pin_dir);
	libbpf_set_print(libbpf_quiet);
	libxdp_set_print(libxdp_quiet);

	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, QLB_LB_PIN_PROG);
	prog_fd = bpf_obj_get(path);
	if (prog_fd >= 0) {
		struct qlb_lb_ctrl ctrl;
		__u32 zero = 0;

		if (open_pinned(o->pin_dir, &m)) {
			qlb_err("%s: pinned maps missing or of another layout "
				"(%s); "
				"run 'qlbctl lb detach' first",
				o->pin_dir, strerror(errno));
			goto out;
		}
		if (bpf_map_lookup_elem(m.ctrl, &zero, &ctrl))
			goto out;
		if (ctrl.gen && ((int)ctrl.ifindex != ifindex ||
				 ctrl.xdp_mode != cfg.lb.xdp_mode)) {
			char name[IF_NAMESIZE] = "?";

			if_indextoname(ctrl.ifindex, name);
			qlb_err("the program under %s is attached to %s in %s "
				"mode; run 'qlbctl lb detach' before moving "
				"it; nothing changed",
				o->pin_dir, name,
				ctrl.xdp_mode == QLB_XDP_GENERIC ? "generic"
								 : "native");
			goto out;
		}
	} else {
		int e = mkdir_p(o->pin_dir);
		struct bpf_map *map;

		if (e) {
			qlb_err("cannot create %s: %s", o->pin_dir,
				strerror(-e));
			goto out;
		}
		skel = qlb_xdp__open();
		if (!skel) {
			qlb_err("cannot open the XDP object: %s",
				strerror(errno));
			goto out;
		}
		bpf_object__for_each_map(map, skel->obj)
		{
			size_t i;

			for (i = 0; i < NMAPS; i++) {
				if (strcmp(bpf_map__name(map), lb_maps[i].name))
					continue;
				snprintf(path, sizeof(path), "%s/%s",
					 o->pin_dir, lb_maps[i].name);
				bpf_map__set_pin_path(map, path);
			}
		}
		e = qlb_xdp__load(skel);
		if (e) {
			qlb_err("cannot load the XDP program: %s (stale pins "
				"under %s? 'qlbctl lb detach'; -v shows the "
				"verifier log)",
				strerror(-e), o->pin_dir);
			goto out_unpin;
		}
		fresh = 1;
		qlb_lb_maps_from_skel(&m, skel);
		prog_fd = bpf_program__fd(skel->progs.qlb_xdp_ingress);
	}

	if (qlb_lb_fill(&m, &cfg, mac, ifindex, cfg.lb.xdp_mode, err,
			sizeof(err))) {
		qlb_err("%s; the running config is unchanged", err);
		goto out_unpin;
	}
	if (fresh) {
		snprintf(path, sizeof(path), "%s/%s", o->pin_dir,
			 QLB_LB_PIN_PROG);
		if (bpf_program__pin(skel->progs.qlb_xdp_ingress, path)) {
			qlb_err("cannot pin the program at %s: %s", path,
				strerror(errno));
			goto out_unpin;
		}
	}
	if (attached_id(ifindex) != prog_id_of_fd(prog_fd)) {
		if (attach_fd(prog_fd, ifindex, cfg.lb.interface,
			      cfg.lb.xdp_mode))
			goto out_unpin;
	}
	if (qlb_json) {
		struct qlb_json_w w;
		struct qlb_lb_ctrl ctrl;
		__u32 zero = 0;

		bpf_map_lookup_elem(m.ctrl, &zero, &ctrl);
		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "interface", cfg.lb.interface);
		jw_str(&w, "pin_dir", o->pin_dir);
		jw_uint(&w, "generation", ctrl.gen);
		jw_bool(&w, "attached", true);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		struct qlb_lb_ctrl ctrl;
		__u32 zero = 0;

		bpf_map_lookup_elem(m.ctrl, &zero, &ctrl);
		printf("applied %s to %s (generation %u, %u VIPs, %u hosts)\n",
		       o->file, cfg.lb.interface, ctrl.gen, cfg.lb.nvips,
		       cfg.nhosts);
	}
	rc = QLB_EXIT_OK;
	goto out;

out_unpin:
	if (fresh || skel) {
		/* a first apply that failed leaves nothing behind */
		unpin_all(o->pin_dir);
	}
out:
	if (!skel)
		close_maps(&m);
	if (!skel && prog_fd >= 0)
		close(prog_fd);
	qlb_xdp__destroy(skel);
	qlb_config_free(&cfg);
	return rc;
}

static int resolve_pin_dir(struct lb_opts *o)
{
	struct qlb_config cfg;

	if (o->pin_dir[0])
		return 0;
	if (!o->file) {
		snprintf(o->pin_dir, sizeof(o->pin_dir), "%s", DEFAULT_PIN_DIR);
		return 0;
	}
	if (qlb_config_load(o->file, &cfg, stderr)) {
		qlb_err("%s: not a valid config", o->file);
		return -1;
	}
	snprintf(o->pin_dir, sizeof(o->pin_dir), "%s", cfg.lb.pin_dir);
	qlb_config_free(&cfg);
	return 0;
}

static int open_or_complain(struct lb_opts *o, struct qlb_lb_maps *m)
{
	if (resolve_pin_dir(o))
		return -1;
	if (open_pinned(o->pin_dir, m)) {
		qlb_err("no usable LB data plane under %s (%s): run 'qlbctl lb "
			"apply' (after 'qlbctl lb detach' for another layout)",
			o->pin_dir,
			errno == EPROTO ? "maps of another layout"
					: strerror(errno));
		close_maps(m);
		return -1;
	}
	return 0;
}

static void fmt_addr(const __u8 *a, int family, char *buf, size_t len)
{
	inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, len);
}

static const char *host_state_name(unsigned int s)
{
	return s == QLB_LB_HOST_DOWN	   ? "down"
	       : s == QLB_LB_HOST_DRAINING ? "draining"
					   : "active";
}

/* The VIPs of the slot in use, by counter row. */
struct vip_row {
	bool used;
	char name[INET6_ADDRSTRLEN + 8];
};

static void read_vips(const struct qlb_lb_maps *m, __u32 slot,
		      struct vip_row *rows)
{
	__u32 j;

	memset(rows, 0, sizeof(*rows) * QLB_LB_MAX_VIPS);
	for (j = 0; j < QLB_LB_VIP_BUCKETS; j++) {
		struct qlb_lb_vip_ent e;
		__u32 key = slot * QLB_LB_VIP_BUCKETS + j;
		char a[INET6_ADDRSTRLEN];

		if (bpf_map_lookup_elem(m->vips, &key, &e) || !e.family ||
		    e.idx >= QLB_LB_MAX_VIPS)
			continue;
		fmt_addr(e.addr, e.family, a, sizeof(a));
		rows[e.idx].used = true;
		snprintf(rows[e.idx].name, sizeof(rows[e.idx].name),
			 e.family == 6 ? "[%s]:%u" : "%s:%u", a, ntohs(e.port));
	}
}

static int lb_status(struct lb_opts *o)
{
	struct qlb_lb_maps m;
	struct qlb_lb_ctrl ctrl;
	struct qlb_lb_settings st;
	struct vip_row vips[QLB_LB_MAX_VIPS];
	struct qlb_json_w w;
	char ifname[IF_NAMESIZE] = "?", path[PATH_MAX + 64];
	__u32 zero = 0, slot, i, att = 0, pid = 0;
	int pfd;

	if (open_or_complain(o, &m))
		return QLB_EXIT_ERR;
	if (bpf_map_lookup_elem(m.ctrl, &zero, &ctrl)) {
		qlb_err("cannot read qlb_ctrl: %s", strerror(errno));
		close_maps(&m);
		return QLB_EXIT_ERR;
	}
	slot = ctrl.slot & 1;
	bpf_map_lookup_elem(m.settings, &slot, &st);
	if_indextoname(ctrl.ifindex, ifname);
	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, QLB_LB_PIN_PROG);
	pfd = bpf_obj_get(path);
	if (pfd >= 0) {
		pid = prog_id_of_fd(pfd);
		close(pfd);
	}
	att = ctrl.ifindex ? attached_id(ctrl.ifindex) : 0;
	read_vips(&m, slot, vips);

	if (qlb_json) {
		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "pin_dir", o->pin_dir);
		jw_str(&w, "interface", ifname);
		jw_str(&w, "xdp_mode",
		       ctrl.xdp_mode == QLB_XDP_GENERIC ? "generic" : "native");
		jw_uint(&w, "prog_id", pid);
		jw_bool(&w, "attached", pid && att == pid);
		jw_uint(&w, "generation", ctrl.gen);
		jw_uint(&w, "slot", slot);
		jw_uint(&w, "applied_at", ctrl.applied_at);
		jw_uint(&w, "maglev_table_size", st.maglev_size);
		jw_uint(&w, "mtu", st.mtu);
		jw_uint(&w, "gue_port", ntohs(st.gue_port));
		jw_arr_open(&w, "configs");
		for (i = 0; i < QLB_CONFIG_MAX; i++) {
			struct qlb_lb_cid c;
			__u32 key = slot * QLB_CONFIG_MAX + i;

			if (bpf_map_lookup_elem(m.cid_cfgs, &key, &c) ||
			    !c.live)
				continue;
			jw_obj_open(&w, NULL);
			jw_uint(&w, "id", i);
			jw_uint(&w, "server_id_len", c.c.sid_len);
			jw_uint(&w, "nonce_len", c.c.nonce_len);
			jw_uint(&w, "worker_bits", c.c.worker_bits);
			jw_bool(&w, "encrypted", c.c.flags & QLB_CID_F_KEY);
			jw_bool(&w, "encode_length",
				c.c.flags & QLB_CID_F_ENCODE_LEN);
			jw_obj_close(&w);
			explicit_bzero(&c, sizeof(c));
		}
		jw_arr_close(&w);
		jw_arr_open(&w, "vips");
		for (i = 0; i < QLB_LB_MAX_VIPS; i++)
			if (vips[i].used)
				jw_str(&w, NULL, vips[i].name);
		jw_arr_close(&w);
		jw_arr_open(&w, "hosts");
	} else {
		printf("pin_dir     %s\n", o->pin_dir);
		printf("interface   %s (%s mode), program id %u, %s\n", ifname,
		       ctrl.xdp_mode == QLB_XDP_GENERIC ? "generic" : "native",
		       pid, pid && att == pid ? "attached" : "NOT ATTACHED");
		printf("generation  %u (slot %u), maglev %u entries, mtu %u, "
		       "gue port %u\n",
		       ctrl.gen, slot, st.maglev_size, st.mtu,
		       ntohs(st.gue_port));
		printf("configs    ");
		for (i = 0; i < QLB_CONFIG_MAX; i++)
			if (st.live_cfgs & (1u << i))
				printf(" %u", i);
		printf("\nvips       ");
		for (i = 0; i < QLB_LB_MAX_VIPS; i++)
			if (vips[i].used)
				printf(" %s", vips[i].name);
		printf("\n%-20s %-40s %-6s %-9s %s\n", "HOST", "ADDRESS",
		       "ENCAP", "STATE", "WEIGHT");
	}
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
		struct qlb_lb_host h;
		__u32 key = slot * QLB_LB_MAX_HOSTS + i;
		char a[INET6_ADDRSTRLEN];

		if (bpf_map_lookup_elem(m.hosts, &key, &h) || !h.family)
			continue;
		fmt_addr(h.addr, h.family, a, sizeof(a));
		if (qlb_json) {
			jw_obj_open(&w, NULL);
			jw_str(&w, "name", h.name);
			jw_str(&w, "address", a);
			jw_str(&w, "encap",
			       h.encap == QLB_LB_ENCAP_IPIP ? "ipip" : "gue");
			jw_str(&w, "state", host_state_name(h.state));
			jw_uint(&w, "weight", h.weight);
			jw_obj_close(&w);
		} else {
			printf("%-20s %-40s %-6s %-9s %u\n", h.name, a,
			       h.encap == QLB_LB_ENCAP_IPIP ? "ipip" : "gue",
			       host_state_name(h.state), h.weight);
		}
	}
	if (qlb_json) {
		jw_arr_close(&w);
		jw_obj_close(&w);
		jw_end(&w);
	}
	close_maps(&m);
	return QLB_EXIT_OK;
}

/* Counters summed over CPUs. */
struct lb_counts {
	struct qlb_lb_counter vip[QLB_LB_MAX_VIPS + 1][QLB_R_MAX];
	struct qlb_lb_counter host[QLB_LB_MAX_HOSTS];
	struct qlb_lb_counter cfg[QLB_CONFIG_MAX]; /* routed by CID */
	__u8 live_cfgs;
	char host_name[QLB_LB_MAX_HOSTS][64];
	struct vip_row vips[QLB_LB_MAX_VIPS];
};

/* Add row @key of per-CPU counter map @fd (@pc: room for @ncpu values)
 * to @out. */
static void sum_row(int fd, __u32 key, struct qlb_lb_counter *pc, int ncpu,
		    struct qlb_lb_counter *out)
{
	int cpu;

	if (bpf_map_lookup_elem(fd, &key, pc))
		return;
	for (cpu = 0; cpu < ncpu; cpu++) {
		out->packets += pc[cpu].packets;
		out->bytes += pc[cpu].bytes;
	}
}

static int read_counts(const struct qlb_lb_maps *m, struct lb_counts *c)
{
	int ncpu = libbpf_num_possible_cpus();
	struct qlb_lb_counter *pc;
	struct qlb_lb_settings st;
	struct qlb_lb_ctrl ctrl;
	__u32 zero = 0, row, i, slot;

	if (ncpu < 1 || bpf_map_lookup_elem(m->ctrl, &zero, &ctrl))
		return -1;
	slot = ctrl.slot & 1;
	pc = calloc(ncpu, sizeof(*pc));
	if (!pc)
		return -1;
	memset(c, 0, sizeof(*c));
	for (row = 0; row < QLB_LB_STATS_ROWS; row++)
		sum_row(m->stats, row, pc, ncpu,
			&c->vip[row / QLB_R_MAX][row % QLB_R_MAX]);
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
		struct qlb_lb_host h;
		__u32 key = slot * QLB_LB_MAX_HOSTS + i;

		if (bpf_map_lookup_elem(m->hosts, &key, &h) || !h.family)
			continue;
		snprintf(c->host_name[i], sizeof(c->host_name[i]), "%s",
			 h.name);
		sum_row(m->host_stats, i, pc, ncpu, &c->host[i]);
	}
	read_vips(m, slot, c->vips);
	if (!bpf_map_lookup_elem(m->settings, &slot, &st))
		c->live_cfgs = st.live_cfgs;
	for (i = 0; i < QLB_CONFIG_MAX; i++)
		sum_row(m->cfg_stats, i, pc, ncpu, &c->cfg[i]);
	free(pc);
	return 0;
}

static const char *vip_label(const struct lb_counts *c, unsigned int v)
{
	return v == QLB_LB_NO_VIP ? "none" : c->vips[v].name;
}

static bool vip_shown(const struct lb_counts *c, unsigned int v)
{
	return v == QLB_LB_NO_VIP || c->vips[v].used;
}

static void print_stats(const struct lb_counts *c, const struct lb_counts *prev,
			double dt)
{
	unsigned int v, r, i;

	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_arr_open(&w, "vips");
		for (v = 0; v <= QLB_LB_MAX_VIPS; v++) {
			if (!vip_shown(c, v))
				continue;
			jw_obj_open(&w, NULL);
			jw_str(&w, "vip",
			       v == QLB_LB_NO_VIP ? NULL : vip_label(c, v));
			jw_obj_open(&w, "reasons");
			for (r = 0; r < QLB_R_MAX; r++) {
				jw_obj_open(&w, qlb_lb_reason_name(r));
				jw_uint(&w, "packets", c->vip[v][r].packets);
				jw_uint(&w, "bytes", c->vip[v][r].bytes);
				if (prev)
					jw_double(&w, "pps",
						  (c->vip[v][r].packets -
						   prev->vip[v][r].packets) /
							  dt);
				jw_obj_close(&w);
			}
			jw_obj_close(&w);
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_arr_open(&w, "hosts");
		for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
			if (!c->host_name[i][0])
				continue;
			jw_obj_open(&w, NULL);
			jw_str(&w, "host", c->host_name[i]);
			jw_uint(&w, "packets", c->host[i].packets);
			jw_uint(&w, "bytes", c->host[i].bytes);
			if (prev)
				jw_double(&w, "pps",
					  (c->host[i].packets -
					   prev->host[i].packets) /
						  dt);
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_arr_open(&w, "configs");
		for (i = 0; i < QLB_CONFIG_MAX; i++) {
			if (!(c->live_cfgs & (1u << i)) && !c->cfg[i].packets)
				continue;
			jw_obj_open(&w, NULL);
			jw_uint(&w, "config", i);
			jw_uint(&w, "routed_packets", c->cfg[i].packets);
			jw_uint(&w, "routed_bytes", c->cfg[i].bytes);
			if (prev)
				jw_double(&w, "pps",
					  (c->cfg[i].packets -
					   prev->cfg[i].packets) /
						  dt);
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_obj_close(&w);
		jw_end(&w);
		fflush(stdout);
		return;
	}
	printf("%-28s %-28s %14s %16s%s\n", "VIP", "REASON", "PACKETS", "BYTES",
	       prev ? "      PKT/S" : "");
	for (v = 0; v <= QLB_LB_MAX_VIPS; v++) {
		if (!vip_shown(c, v))
			continue;
		for (r = 0; r < QLB_R_MAX; r++) {
			if (!c->vip[v][r].packets)
				continue;
			printf("%-28s %-28s %14llu %16llu", vip_label(c, v),
			       qlb_lb_reason_name(r),
			       (unsigned long long)c->vip[v][r].packets,
			       (unsigned long long)c->vip[v][r].bytes);
			if (prev)
				printf(" %10.1f", (c->vip[v][r].packets -
						   prev->vip[v][r].packets) /
							  dt);
			putchar('\n');
		}
	}
	printf("%-28s %14s %16s%s\n", "HOST", "PACKETS", "BYTES",
	       prev ? "      PKT/S" : "");
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
		if (!c->host_name[i][0])
			continue;
		printf("%-28s %14llu %16llu", c->host_name[i],
		       (unsigned long long)c->host[i].packets,
		       (unsigned long long)c->host[i].bytes);
		if (prev)
			printf(" %10.1f",
			       (c->host[i].packets - prev->host[i].packets) /
				       dt);
		putchar('\n');
	}
	printf("%-28s %14s %16s%s\n", "CONFIG (routed by CID)", "PACKETS",
	       "BYTES", prev ? "      PKT/S" : "");
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		if (!(c->live_cfgs & (1u << i)) && !c->cfg[i].packets)
			continue;
		printf("%-28u %14llu %16llu", i,
		       (unsigned long long)c->cfg[i].packets,
		       (unsigned long long)c->cfg[i].bytes);
		if (prev)
			printf(" %10.1f",
			       (c->cfg[i].packets - prev->cfg[i].packets) / dt);
		putchar('\n');
	}
	fflush(stdout);
}

static int lb_stats(struct lb_opts *o)
{
	struct lb_counts *c = NULL, *prev = NULL;
	struct qlb_lb_maps m;
	int rc = QLB_EXIT_ERR;
	long n;

	if (open_or_complain(o, &m))
		return QLB_EXIT_ERR;
	c = calloc(1, sizeof(*c));
	prev = calloc(1, sizeof(*prev));
	if (!c || !prev || read_counts(&m, c)) {
		qlb_err("cannot read the counters under %s", o->pin_dir);
		goto out;
	}
	if (!o->watch) {
		print_stats(c, NULL, 0);
		rc = QLB_EXIT_OK;
		goto out;
	}
	qlb_catch_stop();
	for (n = 0; !qlb_stop_requested && (o->count <= 0 || n < o->count);
	     n++) {
		struct lb_counts *t;

		usleep((useconds_t)(o->interval * 1e6));
		t = prev;
		prev = c;
		c = t;
		if (read_counts(&m, c))
			break;
		if (!qlb_json)
			printf("\n");
		print_stats(c, prev, o->interval);
	}
	rc = QLB_EXIT_OK;
out:
	free(c);
	free(prev);
	close_maps(&m);
	return rc;
}

/* Prometheus text exposition (version 0.0.4) of every counter. */
static void write_metrics(FILE *f, const struct qlb_lb_maps *m,
			  const struct lb_counts *c)
{
	struct qlb_lb_ctrl ctrl = {0};
	__u32 zero = 0;
	unsigned int v, r, i;

	bpf_map_lookup_elem(m->ctrl, &zero, &ctrl);
	fprintf(f, "# HELP qlb_lb_packets_total Packets seen by the LB node's "
		   "XDP program, by VIP, reason and action.\n"
		   "# TYPE qlb_lb_packets_total counter\n");
	for (v = 0; v <= QLB_LB_MAX_VIPS; v++) {
		if (!vip_shown(c, v))
			continue;
		for (r = 0; r < QLB_R_MAX; r++)
			fprintf(f,
				"qlb_lb_packets_total{vip=\"%s\",reason=\"%s\","
				"action=\"%s\"} %llu\n",
				vip_label(c, v), qlb_lb_reason_name(r),
				qlb_lb_action_name(qlb_lb_reason_action(r)),
				(unsigned long long)c->vip[v][r].packets);
	}
	fprintf(f, "# HELP qlb_lb_bytes_total Bytes (frames as received) seen "
		   "by the LB node's XDP program.\n"
		   "# TYPE qlb_lb_bytes_total counter\n");
	for (v = 0; v <= QLB_LB_MAX_VIPS; v++) {
		if (!vip_shown(c, v))
			continue;
		for (r = 0; r < QLB_R_MAX; r++)
			fprintf(f,
				"qlb_lb_bytes_total{vip=\"%s\",reason=\"%s\","
				"action=\"%s\"} %llu\n",
				vip_label(c, v), qlb_lb_reason_name(r),
				qlb_lb_action_name(qlb_lb_reason_action(r)),
				(unsigned long long)c->vip[v][r].bytes);
	}
	fprintf(f, "# HELP qlb_lb_host_packets_total Packets sent to each "
		   "backend host.\n"
		   "# TYPE qlb_lb_host_packets_total counter\n");
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++)
		if (c->host_name[i][0])
			fprintf(f,
				"qlb_lb_host_packets_total{host=\"%s\"} %llu\n",
				c->host_name[i],
				(unsigned long long)c->host[i].packets);
	fprintf(f, "# HELP qlb_lb_host_bytes_total Bytes (before "
		   "encapsulation) sent to each backend host.\n"
		   "# TYPE qlb_lb_host_bytes_total counter\n");
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++)
		if (c->host_name[i][0])
			fprintf(f,
				"qlb_lb_host_bytes_total{host=\"%s\"} %llu\n",
				c->host_name[i],
				(unsigned long long)c->host[i].bytes);
	fprintf(f, "# HELP qlb_lb_config_routed_packets_total Packets routed "
		   "by a CID of each config.\n"
		   "# TYPE qlb_lb_config_routed_packets_total counter\n");
	for (i = 0; i < QLB_CONFIG_MAX; i++)
		fprintf(f,
			"qlb_lb_config_routed_packets_total{config=\"%u\"} "
			"%llu\n",
			i, (unsigned long long)c->cfg[i].packets);
	fprintf(f, "# HELP qlb_lb_config_live Configs (rotation codepoints) "
		   "the LB node routes.\n"
		   "# TYPE qlb_lb_config_live gauge\n");
	for (i = 0; i < QLB_CONFIG_MAX; i++)
		fprintf(f, "qlb_lb_config_live{config=\"%u\"} %u\n", i,
			(c->live_cfgs >> i) & 1);
	fprintf(f,
		"# HELP qlb_lb_generation Apply generation in use.\n"
		"# TYPE qlb_lb_generation gauge\nqlb_lb_generation %u\n"
		"# HELP qlb_lb_applied_timestamp_seconds When the config in "
		"use was applied.\n"
		"# TYPE qlb_lb_applied_timestamp_seconds gauge\n"
		"qlb_lb_applied_timestamp_seconds %llu\n",
		ctrl.gen, (unsigned long long)ctrl.applied_at);
}

struct lb_scrape {
	struct qlb_lb_maps *m;
	struct lb_counts *c;
};

/* qlb_metrics_fn for --listen: the counters as they are at each scrape. */
static int write_scrape(FILE *f, void *arg)
{
	struct lb_scrape *s = arg;

	if (read_counts(s->m, s->c))
		return -1;
	write_metrics(f, s->m, s->c);
	return 0;
}

static int lb_metrics(struct lb_opts *o)
{
	struct qlb_lb_maps m;
	struct lb_scrape s = {.m = &m};
	int rc = QLB_EXIT_ERR;

	if (open_or_complain(o, &m))
		return QLB_EXIT_ERR;
	s.c = calloc(1, sizeof(*s.c));
	if (!s.c)
		goto out;
	if (o->listen) {
		rc = qlb_metrics_listen(o->listen, write_scrape, &s);
		goto out;
	}
	if (write_scrape(stdout, &s)) {
		qlb_err("cannot read the counters under %s", o->pin_dir);
		goto out;
	}
	rc = QLB_EXIT_OK;
out:
	free(s.c);
	close_maps(&m);
	return rc;
}

static int lb_detach(struct lb_opts *o)
{
	struct qlb_lb_ctrl ctrl = {0};
	char path[PATH_MAX + 64], ifname[IF_NAMESIZE] = "?";
	__u32 zero = 0, pid = 0;
	int pfd, cfd;

	/* lenient: whatever an interrupted apply left behind must go too */
	if (resolve_pin_dir(o))
		return QLB_EXIT_ERR;
	snprintf(path, sizeof(path), "%s/qlb_ctrl", o->pin_dir);
	cfd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, QLB_LB_PIN_PROG);
	pfd = bpf_obj_get(path);
	if (cfd < 0 && pfd < 0) {
		qlb_err("no LB data plane pinned under %s: nothing to detach",
			o->pin_dir);
		return QLB_EXIT_ERR;
	}
	if (cfd >= 0) {
		bpf_map_lookup_elem(cfd, &zero, &ctrl);
		close(cfd);
	}
	if (pfd >= 0)
		pid = prog_id_of_fd(pfd);
	if_indextoname(ctrl.ifindex, ifname);
	if (pid && ctrl.ifindex && attached_id(ctrl.ifindex) == pid) {
		struct xdp_program *xp = xdp_program__from_fd(pfd);
		int rc = -EINVAL;

		libxdp_set_print(libxdp_quiet);
		if (xp && !libxdp_get_error(xp))
			rc = xdp_program__detach(xp, ctrl.ifindex,
						 ctrl.xdp_mode ==
								 QLB_XDP_GENERIC
							 ? XDP_MODE_SKB
							 : XDP_MODE_NATIVE,
						 0);
		if (rc) {
			/* libxdp did not attach it (or cannot tell): the kernel
			 * can */
			LIBBPF_OPTS(bpf_xdp_attach_opts, ao,
				    .old_prog_fd = pfd);

			rc = bpf_xdp_detach(ctrl.ifindex,
					    ctrl.xdp_mode == QLB_XDP_GENERIC
						    ? XDP_FLAGS_SKB_MODE
						    : XDP_FLAGS_DRV_MODE,
					    &ao);
		}
		xdp_program__close(xp);
		if (rc) {
			qlb_err("cannot detach XDP from %s: %s", ifname,
				strerror(-rc));
			close(pfd);
			return QLB_EXIT_ERR;
		}
	}
	if (pfd >= 0)
		close(pfd);
	unpin_all(o->pin_dir);
	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "detached", ifname);
		jw_str(&w, "pin_dir", o->pin_dir);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		printf("detached from %s, removed %s\n", ifname, o->pin_dir);
	}
	return QLB_EXIT_OK;
}

static void lb_usage(FILE *f)
{
	fprintf(f,
		"Usage: qlbctl [-j] lb COMMAND [OPTIONS]\n\n"
		"  apply -f FILE            validate FILE whole, load/attach "
		"once, update in place\n"
		"  status [-f FILE]         program, interface, configs, VIPs, "
		"hosts\n"
		"  stats [-f FILE] [--watch [--interval S] [--count N]]\n"
		"                           counters per VIP and reason, per "
		"host (rates with --watch)\n"
		"  metrics [-f FILE] [--listen ADDR:PORT]\n"
		"                           Prometheus text once, or served "
		"over HTTP\n"
		"  detach [-f FILE]         detach the program and remove its "
		"pins\n\n"
		"Options: --pin-dir DIR (default lb.pin_dir of FILE, else "
		"%s)\n",
		DEFAULT_PIN_DIR);
}

int cmd_lb(int argc, char **argv)
{
	static const struct option lo[] = {
		{"file", required_argument, NULL, 'f'},
		{"pin-dir", required_argument, NULL, 'P'},
		{"watch", no_argument, NULL, 'w'},
		{"interval", required_argument, NULL, 'i'},
		{"count", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	static const char *const subs[] = {"apply", "status", "stats",
					   "metrics", "detach"};
	struct lb_opts o = {.interval = 1.0};
	const char *sub = NULL;
	size_t i, n;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		lb_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? QLB_EXIT_USAGE : QLB_EXIT_OK;
	}
	n = strlen(argv[1]);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strncmp(argv[1], subs[i], n))
			continue;
		if (strlen(subs[i]) == n) {
			sub = subs[i];
			break;
		}
		if (sub) {
			qlb_warn("lb: '%s' is ambiguous", argv[1]);
			return QLB_EXIT_USAGE;
		}
		sub = subs[i];
	}
	if (!sub) {
		qlb_warn("lb: unknown command '%s'", argv[1]);
		lb_usage(stderr);
		return QLB_EXIT_USAGE;
	}
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "f:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.file = optarg;
			break;
		case 'P':
			snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", optarg);
			break;
		case 'w':
			o.watch = true;
			break;
		case 'i':
			o.interval = atof(optarg);
			if (o.interval < 0.05)
				o.interval = 0.05;
			break;
		case 'c':
			o.count = atol(optarg);
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 'h':
			lb_usage(stdout);
			return QLB_EXIT_OK;
		default:
			lb_usage(stderr);
			return QLB_EXIT_USAGE;
		}
	}
	if (optind + 1 < argc) {
		qlb_warn("lb %s: unexpected argument '%s'", sub,
			 argv[optind + 1]);
		return QLB_EXIT_USAGE;
	}
	if (!strcmp(sub, "apply"))
		return lb_apply(&o);
	if (!strcmp(sub, "status"))
		return lb_status(&o);
	if (!strcmp(sub, "stats"))
		return lb_stats(&o);
	if (!strcmp(sub, "metrics"))
		return lb_metrics(&o);
	return lb_detach(&o);
}
