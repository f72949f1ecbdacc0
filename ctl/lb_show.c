// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * `qlbctl lb status`, `lb stats` and `lb metrics`: what the pinned maps
 * say, as a table, as JSON and as Prometheus text. Read-only: they work
 * from the pins alone and never change the data plane.
 *
 * Services: the maps say which service each VIP (qlb_vips_v2 .service)
 * and each member (qlb_hosts_v2 .service, .host) belongs to, by index; a
 * service's counters are the sum of its VIPs' rows, a host's the sum over
 * its members. Service names live only in the file: with -f FILE they are
 * taken from it when it describes what the slot in use holds (same VIPs
 * in the same services, same members), else a service is shown by its
 * index.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "announce.h"
#include "bpf_util.h"
#include "common.h"
#include "config.h"
#include "health.h"
#include "lb_cmd.h"
#include "metrics_http.h"

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

/* ---- the slot in use: VIPs, services, members ---------------------------- */

/* A VIP of the slot in use, by counter row. */
struct vip_row {
	bool used;
	__u32 service;
	struct qlb_addr addr; /* to find it in the file */
	uint16_t port;	      /* host order */
	char name[INET6_ADDRSTRLEN + 8];
};

struct svc_row {
	bool used; /* has a VIP or a member in the slot */
	char name[QLB_NAME_MAX];
	__u8 live_cfgs; /* bit N: its config N is routed (qlb_cid_cfgs_v2) */
	bool has_state; /* state[] from the file */
	enum qlb_conf_state state[QLB_CONFIG_MAX];
};

struct member_row {
	__u32 idx; /* member index */
	struct qlb_lb_host h;
};

struct lb_view {
	__u32 slot;
	bool named;	       /* service names from the file */
	unsigned int nsvcs;    /* services used */
	unsigned int nmembers; /* members[] filled, by member index */
	struct vip_row vips[QLB_LB_MAX_VIPS];
	struct svc_row svcs[QLB_LB_MAX_SERVICES];
	struct member_row members[QLB_LB_MAX_MEMBERS];
};

static __u32 cfg_map_key(__u32 slot, __u32 svc, __u32 id)
{
	return slot * QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX +
	       QLB_LB_CFG_KEY(svc, id);
}

/* Index in @cfg->hosts of the host named @name, -1 if none; @hint (the
 * member entry's .host) is tried first. */
static int cfg_host(const struct qlb_config *cfg, const char *name,
		    unsigned int hint)
{
	unsigned int i;

	if (hint < cfg->nhosts && !strcmp(cfg->hosts[hint].name, name))
		return (int)hint;
	for (i = 0; i < cfg->nhosts; i++)
		if (!strcmp(cfg->hosts[i].name, name))
			return (int)i;
	return -1;
}

/* Does @cfg describe the slot @v holds? Every VIP in the service of that
 * index, every member a host of that name serving that service. */
static bool file_matches(const struct qlb_config *cfg, const struct lb_view *v)
{
	unsigned int i;
	int h;

	for (i = 0; i < QLB_LB_MAX_VIPS; i++)
		if (v->vips[i].used &&
		    qlb_config_vip_service(cfg, &v->vips[i].addr,
					   v->vips[i].port) !=
			    (int)v->vips[i].service)
			return false;
	for (i = 0; i < QLB_LB_MAX_SERVICES; i++)
		if (v->svcs[i].used && i >= cfg->nservices)
			return false;
	for (i = 0; i < v->nmembers; i++) {
		const struct qlb_lb_host *m = &v->members[i].h;

		h = cfg_host(cfg, m->name, m->host);
		if (h < 0 || m->service >= cfg->nservices ||
		    !qlb_service_host(&cfg->services[m->service],
				      (unsigned int)h))
			return false;
	}
	return true;
}

/* Names (and config states) of the services from @file, if it matches. */
static void name_services(struct lb_view *v, const char *file)
{
	static bool warned;
	struct qlb_config cfg;
	unsigned int s, id;

	if (!file)
		return;
	if (qlb_config_load_diag(file, &cfg, NULL, NULL)) {
		if (!warned)
			fprintf(stderr,
				"qlbctl: %s does not load (qlbctl validate): "
				"services shown by index\n",
				file);
		warned = true;
		return;
	}
	if (!file_matches(&cfg, v)) {
		if (!warned)
			fprintf(stderr,
				"qlbctl: %s does not describe what the LB "
				"node holds (not applied yet?): services "
				"shown by index\n",
				file);
		warned = true;
		qlb_config_free(&cfg);
		return;
	}
	for (s = 0; s < QLB_LB_MAX_SERVICES && s < cfg.nservices; s++) {
		struct svc_row *r = &v->svcs[s];

		snprintf(r->name, sizeof(r->name), "%s", cfg.services[s].name);
		r->has_state = true;
		for (id = 0; id < QLB_CONFIG_MAX; id++)
			r->state[id] = cfg.services[s].configs[id].state;
	}
	v->named = true;
	qlb_config_free(&cfg);
}

/*
 * read_range() - entries @base..@base+@n-1 of array map @fd into @vals,
 * @vsize bytes each (a per-CPU map: all CPUs' values of an entry). In
 * batches where the kernel has them: a view of the node is some 28,000
 * entries, 0.2 s one lookup at a time. An entry that cannot be read is
 * zero. Return: 0, or -1 when out of memory.
 */
static int read_range(int fd, __u32 base, void *vals, size_t vsize, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	char *out = vals;
	__u32 *keys, got = 0, prev, next, cnt, i, key;
	int rc;

	memset(vals, 0, vsize * n);
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -1;
	while (got < n) {
		/* a batch starts after the key it is given */
		prev = base + got - 1;
		cnt = n - got;
		rc = bpf_map_lookup_batch(fd, base + got ? &prev : NULL, &next,
					  keys + got, out + got * vsize, &cnt,
					  &bo);
		if (rc && errno != ENOENT)
			break;
		for (i = got; i < got + cnt && i < n; i++)
			if (keys[i] != base + i)
				break;
		if (i < got + cnt || !cnt)
			break;
		got += cnt;
	}
	if (got < n) {
		/* no batch lookups (older kernels), or a short read */
		memset(vals, 0, vsize * n);
		for (i = 0; i < n; i++) {
			key = base + i;
			if (bpf_map_lookup_elem(fd, &key, out + i * vsize))
				memset(out + i * vsize, 0, vsize);
		}
	}
	free(keys);
	return 0;
}

/* Return: 0, or -1 when out of memory. */
static int read_view(const struct qlb_lb_maps *m, __u32 slot, const char *file,
		     struct lb_view *v)
{
	struct qlb_lb_vip_ent *vt = calloc(QLB_LB_VIP_BUCKETS, sizeof(*vt));
	struct qlb_lb_host *ht = calloc(QLB_LB_MAX_MEMBERS, sizeof(*ht));
	__u32 j, s, id;

	memset(v, 0, sizeof(*v));
	v->slot = slot;
	if (!vt || !ht ||
	    read_range(m->vips, slot * QLB_LB_VIP_BUCKETS, vt, sizeof(*vt),
		       QLB_LB_VIP_BUCKETS) ||
	    read_range(m->hosts, slot * QLB_LB_MAX_MEMBERS, ht, sizeof(*ht),
		       QLB_LB_MAX_MEMBERS)) {
		free(vt);
		free(ht);
		return -1;
	}
	for (j = 0; j < QLB_LB_VIP_BUCKETS; j++) {
		const struct qlb_lb_vip_ent *e = &vt[j];
		struct vip_row *r;
		char a[INET6_ADDRSTRLEN];

		if (!e->family || e->idx >= QLB_LB_MAX_VIPS ||
		    e->service >= QLB_LB_MAX_SERVICES)
			continue;
		r = &v->vips[e->idx];
		fmt_addr(e->addr, e->family, a, sizeof(a));
		r->used = true;
		r->service = e->service;
		r->addr.family = e->family == 6 ? AF_INET6 : AF_INET;
		memcpy(r->addr.bytes, e->addr, e->family == 6 ? 16 : 4);
		r->port = ntohs(e->port);
		snprintf(r->name, sizeof(r->name),
			 e->family == 6 ? "[%s]:%u" : "%s:%u", a, r->port);
		v->svcs[e->service].used = true;
	}
	for (j = 0; j < QLB_LB_MAX_MEMBERS; j++) {
		struct member_row *r = &v->members[v->nmembers];

		if (!ht[j].family || ht[j].service >= QLB_LB_MAX_SERVICES ||
		    ht[j].host >= QLB_LB_MAX_HOSTS)
			continue;
		r->h = ht[j];
		r->h.name[sizeof(r->h.name) - 1] = 0;
		r->idx = j;
		v->svcs[r->h.service].used = true;
		v->nmembers++;
	}
	free(vt);
	free(ht);
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++) {
		if (!v->svcs[s].used)
			continue;
		v->nsvcs++;
		snprintf(v->svcs[s].name, sizeof(v->svcs[s].name), "%u", s);
		for (id = 0; id < QLB_CONFIG_MAX; id++) {
			struct qlb_lb_cid c;
			__u32 key = cfg_map_key(slot, s, id);

			if (!bpf_map_lookup_elem(m->cid_cfgs, &key, &c) &&
			    c.live)
				v->svcs[s].live_cfgs |= 1u << id;
			explicit_bzero(&c, sizeof(c));
		}
	}
	name_services(v, file);
	return 0;
}

/* The config's state as the file says, or "live" without the file. */
static const char *cfg_state(const struct svc_row *r, unsigned int id)
{
	return r->has_state ? qlb_conf_state_name(r->state[id]) : "live";
}

/* ---- lb status ----------------------------------------------------------- */

static void status_member_json(struct qlb_json_w *w, const struct lb_view *v,
			       const struct qlb_lb_host *h, bool with_svc)
{
	char a[INET6_ADDRSTRLEN];

	fmt_addr(h->addr, h->family, a, sizeof(a));
	jw_obj_open(w, NULL);
	jw_str(w, "name", h->name);
	if (with_svc)
		jw_str(w, "service", v->svcs[h->service].name);
	jw_str(w, "address", a);
	jw_str(w, "encap", h->encap == QLB_LB_ENCAP_IPIP ? "ipip" : "gue");
	jw_str(w, "state", host_state_name(h->state));
	jw_uint(w, "weight", h->weight);
	jw_obj_close(w);
}

/* The configs of service @s the slot routes, as JSON objects. */
static void status_configs_json(struct qlb_json_w *w,
				const struct qlb_lb_maps *m,
				const struct lb_view *v, unsigned int s,
				bool with_svc)
{
	unsigned int id;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		struct qlb_lb_cid c;
		__u32 key = cfg_map_key(v->slot, s, id);

		if (!(v->svcs[s].live_cfgs & (1u << id)) ||
		    bpf_map_lookup_elem(m->cid_cfgs, &key, &c))
			continue;
		jw_obj_open(w, NULL);
		if (with_svc)
			jw_str(w, "service", v->svcs[s].name);
		jw_uint(w, "id", id);
		jw_str(w, "state", cfg_state(&v->svcs[s], id));
		jw_uint(w, "server_id_len", c.c.sid_len);
		jw_uint(w, "nonce_len", c.c.nonce_len);
		jw_uint(w, "worker_bits", c.c.worker_bits);
		jw_bool(w, "encrypted", c.c.flags & QLB_CID_F_KEY);
		jw_bool(w, "encode_length", c.c.flags & QLB_CID_F_ENCODE_LEN);
		jw_obj_close(w);
		explicit_bzero(&c, sizeof(c));
	}
}

static void status_json(struct qlb_json_w *w, const struct qlb_lb_maps *m,
			const struct lb_view *v)
{
	unsigned int s, i;

	/* node-wide lists as before services, each entry naming its service */
	jw_arr_open(w, "configs");
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++)
		if (v->svcs[s].used)
			status_configs_json(w, m, v, s, true);
	jw_arr_close(w);
	jw_arr_open(w, "vips");
	for (i = 0; i < QLB_LB_MAX_VIPS; i++)
		if (v->vips[i].used)
			jw_str(w, NULL, v->vips[i].name);
	jw_arr_close(w);
	jw_arr_open(w, "hosts"); /* one entry per member */
	for (i = 0; i < v->nmembers; i++)
		status_member_json(w, v, &v->members[i].h, true);
	jw_arr_close(w);
	jw_bool(w, "service_names", v->named);
	jw_arr_open(w, "services");
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++) {
		if (!v->svcs[s].used)
			continue;
		jw_obj_open(w, NULL);
		jw_str(w, "name", v->svcs[s].name);
		jw_uint(w, "index", s);
		jw_arr_open(w, "vips");
		for (i = 0; i < QLB_LB_MAX_VIPS; i++)
			if (v->vips[i].used && v->vips[i].service == s)
				jw_str(w, NULL, v->vips[i].name);
		jw_arr_close(w);
		jw_arr_open(w, "configs");
		status_configs_json(w, m, v, s, false);
		jw_arr_close(w);
		jw_arr_open(w, "members");
		for (i = 0; i < v->nmembers; i++)
			if (v->members[i].h.service == s)
				status_member_json(w, v, &v->members[i].h,
						   false);
		jw_arr_close(w);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

static void status_text(const struct lb_view *v)
{
	unsigned int s, i;

	for (s = 0; s < QLB_LB_MAX_SERVICES; s++) {
		const struct svc_row *r = &v->svcs[s];

		if (!r->used)
			continue;
		printf("service     %s", r->name);
		if (v->named)
			printf(" (index %u)", s);
		printf("\nconfigs    ");
		for (i = 0; i < QLB_CONFIG_MAX; i++)
			if (r->live_cfgs & (1u << i))
				printf(r->has_state ? " %u (%s)" : " %u", i,
				       cfg_state(r, i));
		printf("\nvips       ");
		for (i = 0; i < QLB_LB_MAX_VIPS; i++)
			if (v->vips[i].used && v->vips[i].service == s)
				printf(" %s", v->vips[i].name);
		printf("\n%-20s %-40s %-6s %-9s %s\n", "HOST", "ADDRESS",
		       "ENCAP", "STATE", "WEIGHT");
		for (i = 0; i < v->nmembers; i++) {
			const struct qlb_lb_host *h = &v->members[i].h;
			char a[INET6_ADDRSTRLEN];

			if (h->service != s)
				continue;
			fmt_addr(h->addr, h->family, a, sizeof(a));
			printf("%-20s %-40s %-6s %-9s %u\n", h->name, a,
			       h->encap == QLB_LB_ENCAP_IPIP ? "ipip" : "gue",
			       host_state_name(h->state), h->weight);
		}
	}
}

int lb_status(struct lb_opts *o)
{
	struct qlb_lb_maps m;
	struct qlb_lb_ctrl ctrl;
	struct qlb_lb_settings st = {0};
	struct lb_view *v;
	struct qlb_json_w w;
	char ifname[IF_NAMESIZE] = "?", path[PATH_MAX + 64];
	__u32 zero = 0, slot, att = 0, pid = 0;
	int pfd;

	if (lb_open_or_complain(o, &m))
		return QLB_EXIT_ERR;
	if (bpf_map_lookup_elem(m.ctrl, &zero, &ctrl)) {
		qlb_err("cannot read qlb_ctrl: %s", strerror(errno));
		qlb_lb_maps_close(&m);
		return QLB_EXIT_ERR;
	}
	v = malloc(sizeof(*v));
	if (!v) {
		qlb_err("out of memory");
		qlb_lb_maps_close(&m);
		return QLB_EXIT_ERR;
	}
	slot = ctrl.slot & 1;
	bpf_map_lookup_elem(m.settings, &slot, &st);
	if_indextoname(ctrl.ifindex, ifname);
	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, QLB_LB_PIN_PROG);
	pfd = bpf_obj_get(path);
	if (pfd >= 0) {
		pid = qlb_prog_id(pfd);
		close(pfd);
	}
	att = ctrl.ifindex ? qlb_xdp_attached(ctrl.ifindex, ctrl.xdp_mode) : 0;
	if (read_view(&m, slot, o->file, v)) {
		qlb_err("out of memory");
		free(v);
		qlb_lb_maps_close(&m);
		return QLB_EXIT_ERR;
	}

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
		status_json(&w, &m, v);
		qlb_health_status(NULL, &w, o->pin_dir);
		/* per VIP: announced, or why not (needs the file's VIPs) */
		if (o->file)
			qlb_announce_status_file(o->file, pid && att == pid,
						 &w);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		printf("pin_dir     %s\n", o->pin_dir);
		printf("interface   %s (%s mode), program id %u, %s\n", ifname,
		       ctrl.xdp_mode == QLB_XDP_GENERIC ? "generic" : "native",
		       pid, pid && att == pid ? "attached" : "NOT ATTACHED");
		printf("generation  %u (slot %u), maglev %u entries, mtu %u, "
		       "gue port %u\n",
		       ctrl.gen, slot, st.maglev_size, st.mtu,
		       ntohs(st.gue_port));
		status_text(v);
		qlb_health_status(stdout, NULL, o->pin_dir);
		if (o->file)
			qlb_announce_status_file(o->file, pid && att == pid,
						 NULL);
	}
	free(v);
	qlb_lb_maps_close(&m);
	return QLB_EXIT_OK;
}

/* ---- counters ------------------------------------------------------------ */

/* Counters summed over CPUs, with the view they were read under. */
struct lb_counts {
	struct qlb_lb_counter vip[QLB_LB_MAX_VIPS + 1][QLB_R_MAX];
	struct qlb_lb_counter svc[QLB_LB_MAX_SERVICES][QLB_R_MAX];
	struct qlb_lb_counter member[QLB_LB_MAX_MEMBERS]; /* by member idx */
	struct qlb_lb_counter host[QLB_LB_MAX_HOSTS];	  /* by file index */
	char host_name[QLB_LB_MAX_HOSTS][64];		  /* "" = none */
	/* routed by a CID of config id of service s */
	struct qlb_lb_counter cfg[QLB_LB_MAX_SERVICES][QLB_CONFIG_MAX];
	struct lb_view v;
};

/* Add rows @base..@base+@n-1 of per-CPU counter map @fd, summed over
 * its @ncpu CPUs, to @out[0..@n-1]. Return: 0, or -1 when out of memory. */
static int sum_range(int fd, __u32 base, __u32 n, int ncpu,
		     struct qlb_lb_counter *out)
{
	struct qlb_lb_counter *pc;
	__u32 i;
	int cpu;

	if (!n)
		return 0;
	pc = calloc((size_t)n * ncpu, sizeof(*pc));
	if (!pc || read_range(fd, base, pc, sizeof(*pc) * ncpu, n)) {
		free(pc);
		return -1;
	}
	for (i = 0; i < n; i++)
		for (cpu = 0; cpu < ncpu; cpu++) {
			out[i].packets += pc[(size_t)i * ncpu + cpu].packets;
			out[i].bytes += pc[(size_t)i * ncpu + cpu].bytes;
		}
	free(pc);
	return 0;
}

static void add_counter(struct qlb_lb_counter *to,
			const struct qlb_lb_counter *c)
{
	to->packets += c->packets;
	to->bytes += c->bytes;
}

/*
 * The row of @r's host in @c->host: its file index (.host), unless that
 * row holds another name already (an apply that numbered hosts otherwise):
 * then the row of its name, or a free one. Return: the row, -1 if full.
 */
static int host_slot(struct lb_counts *c, const struct member_row *r)
{
	unsigned int i, h = r->h.host;

	_Static_assert(sizeof(c->host_name[0]) == sizeof(r->h.name),
		       "a host's name");
	if (c->host_name[h][0] && strcmp(c->host_name[h], r->h.name)) {
		for (i = 0; i < QLB_LB_MAX_HOSTS; i++)
			if (!c->host_name[i][0] ||
			    !strcmp(c->host_name[i], r->h.name))
				break;
		if (i == QLB_LB_MAX_HOSTS)
			return -1;
		h = i;
	}
	/* NUL-terminated by read_view() */
	memcpy(c->host_name[h], r->h.name, sizeof(r->h.name));
	return (int)h;
}

static int read_counts(const struct qlb_lb_maps *m, const char *file,
		       struct lb_counts *c)
{
	int ncpu = libbpf_num_possible_cpus();
	struct qlb_lb_ctrl ctrl;
	__u32 zero = 0, row, i, nm = 0;
	int h;

	_Static_assert(sizeof(c->vip) / sizeof(c->vip[0][0]) ==
			       QLB_LB_STATS_ROWS,
		       "one counter per row of qlb_stats_v3");
	_Static_assert(sizeof(c->cfg) / sizeof(c->cfg[0][0]) ==
			       QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX,
		       "cfg[s][id] is row QLB_LB_CFG_KEY(s, id)");
	if (ncpu < 1 || bpf_map_lookup_elem(m->ctrl, &zero, &ctrl))
		return -1;
	memset(c, 0, sizeof(*c));
	if (read_view(m, ctrl.slot & 1, file, &c->v))
		return -1;
	for (i = 0; i < c->v.nmembers; i++)
		nm = c->v.members[i].idx + 1;
	if (sum_range(m->stats, 0, QLB_LB_STATS_ROWS, ncpu, &c->vip[0][0]) ||
	    sum_range(m->host_stats, 0, nm, ncpu, c->member) ||
	    sum_range(m->cfg_stats, 0, QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX,
		      ncpu, &c->cfg[0][0]))
		return -1;
	/* a service's counters: the sum of its VIPs' rows */
	for (i = 0; i < QLB_LB_MAX_VIPS; i++)
		for (row = 0; c->v.vips[i].used && row < QLB_R_MAX; row++)
			add_counter(&c->svc[c->v.vips[i].service][row],
				    &c->vip[i][row]);
	/* a host's: the sum over its members */
	for (i = 0; i < c->v.nmembers; i++) {
		const struct member_row *r = &c->v.members[i];

		h = host_slot(c, r);
		if (h >= 0)
			add_counter(&c->host[h], &c->member[r->idx]);
	}
	return 0;
}

static const char *vip_label(const struct lb_counts *c, unsigned int v)
{
	return v == QLB_LB_NO_VIP ? "none" : c->v.vips[v].name;
}

/* The service label of VIP row @v: "" for packets that hit no VIP. */
static const char *vip_svc_label(const struct lb_counts *c, unsigned int v)
{
	return v == QLB_LB_NO_VIP ? "" : c->v.svcs[c->v.vips[v].service].name;
}

static bool vip_shown(const struct lb_counts *c, unsigned int v)
{
	return v == QLB_LB_NO_VIP || c->v.vips[v].used;
}

/* Configs shown for service @s: routed now, or with packets counted. */
static bool cfg_shown(const struct lb_counts *c, unsigned int s,
		      unsigned int id)
{
	return c->v.svcs[s].used &&
	       ((c->v.svcs[s].live_cfgs & (1u << id)) || c->cfg[s][id].packets);
}

/* ---- lb stats ------------------------------------------------------------ */

/* One counter as JSON members: packets, bytes (named @pk / @by) and, with
 * a previous sample, the packet rate. */
static void json_counter(struct qlb_json_w *w, const char *pk, const char *by,
			 const struct qlb_lb_counter *now,
			 const struct qlb_lb_counter *was, double dt)
{
	jw_uint(w, pk, now->packets);
	jw_uint(w, by, now->bytes);
	if (was)
		jw_double(w, "pps", (now->packets - was->packets) / dt);
}

static void json_reasons(struct qlb_json_w *w, const struct qlb_lb_counter *now,
			 const struct qlb_lb_counter *was, double dt)
{
	unsigned int r;

	jw_obj_open(w, "reasons");
	for (r = 0; r < QLB_R_MAX; r++) {
		jw_obj_open(w, qlb_lb_reason_name(r));
		json_counter(w, "packets", "bytes", &now[r],
			     was ? &was[r] : NULL, dt);
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

static void print_stats_json(const struct lb_counts *c,
			     const struct lb_counts *prev, double dt)
{
	struct qlb_json_w w;
	unsigned int v, i, s;

	jw_init(&w, stdout);
	jw_obj_open(&w, NULL);
	jw_arr_open(&w, "vips");
	for (v = 0; v <= QLB_LB_MAX_VIPS; v++) {
		if (!vip_shown(c, v))
			continue;
		jw_obj_open(&w, NULL);
		jw_str(&w, "vip", v == QLB_LB_NO_VIP ? NULL : vip_label(c, v));
		jw_str(&w, "service",
		       v == QLB_LB_NO_VIP ? NULL : vip_svc_label(c, v));
		json_reasons(&w, c->vip[v], prev ? prev->vip[v] : NULL, dt);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	/* hosts: summed over their services (the objects stay flat: scripts
	 * sum their "packets") */
	jw_arr_open(&w, "hosts");
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++) {
		if (!c->host_name[i][0])
			continue;
		jw_obj_open(&w, NULL);
		jw_str(&w, "host", c->host_name[i]);
		json_counter(&w, "packets", "bytes", &c->host[i],
			     prev ? &prev->host[i] : NULL, dt);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_arr_open(&w, "configs");
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++)
		for (i = 0; i < QLB_CONFIG_MAX; i++) {
			if (!cfg_shown(c, s, i))
				continue;
			jw_obj_open(&w, NULL);
			jw_str(&w, "service", c->v.svcs[s].name);
			jw_uint(&w, "config", i);
			json_counter(&w, "routed_packets", "routed_bytes",
				     &c->cfg[s][i],
				     prev ? &prev->cfg[s][i] : NULL, dt);
			jw_obj_close(&w);
		}
	jw_arr_close(&w);
	jw_bool(&w, "service_names", c->v.named);
	jw_arr_open(&w, "services");
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++) {
		if (!c->v.svcs[s].used)
			continue;
		jw_obj_open(&w, NULL);
		jw_str(&w, "service", c->v.svcs[s].name);
		jw_uint(&w, "index", s);
		jw_arr_open(&w, "vips");
		for (v = 0; v < QLB_LB_MAX_VIPS; v++)
			if (c->v.vips[v].used && c->v.vips[v].service == s)
				jw_str(&w, NULL, c->v.vips[v].name);
		jw_arr_close(&w);
		json_reasons(&w, c->svc[s], prev ? prev->svc[s] : NULL, dt);
		jw_arr_open(&w, "members");
		for (i = 0; i < c->v.nmembers; i++) {
			const struct member_row *r = &c->v.members[i];

			if (r->h.service != s)
				continue;
			jw_obj_open(&w, NULL);
			jw_str(&w, "host", r->h.name);
			json_counter(&w, "packets", "bytes", &c->member[r->idx],
				     prev ? &prev->member[r->idx] : NULL, dt);
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_arr_open(&w, "configs");
		for (i = 0; i < QLB_CONFIG_MAX; i++) {
			if (!cfg_shown(c, s, i))
				continue;
			jw_obj_open(&w, NULL);
			jw_uint(&w, "config", i);
			json_counter(&w, "routed_packets", "routed_bytes",
				     &c->cfg[s][i],
				     prev ? &prev->cfg[s][i] : NULL, dt);
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	jw_end(&w);
	fflush(stdout);
}

/* The counter columns of a table line and the rate with --watch. */
static void text_counts(const struct qlb_lb_counter *now,
			const struct qlb_lb_counter *was, double dt)
{
	printf(" %14llu %16llu", (unsigned long long)now->packets,
	       (unsigned long long)now->bytes);
	if (was)
		printf(" %10.1f", (now->packets - was->packets) / dt);
	putchar('\n');
}

static void text_row(const char *label, const struct qlb_lb_counter *now,
		     const struct qlb_lb_counter *was, double dt)
{
	printf("%-28s", label);
	text_counts(now, was, dt);
}

/* Per-reason lines of @now, labelled @label (only reasons with packets). */
static void text_reasons(const char *label, const struct qlb_lb_counter *now,
			 const struct qlb_lb_counter *was, double dt)
{
	unsigned int r;

	for (r = 0; r < QLB_R_MAX; r++) {
		if (!now[r].packets)
			continue;
		printf("%-28s %-28s", label, qlb_lb_reason_name(r));
		text_counts(&now[r], was ? &was[r] : NULL, dt);
	}
}

/*
 * The table: per VIP and reason, per host, per config, as before services;
 * with several services also per service and reason and per member, and
 * the configs are SERVICE/ID.
 */
static void print_stats(const struct lb_counts *c, const struct lb_counts *prev,
			double dt)
{
	const char *rate = prev ? "      PKT/S" : "";
	bool several = c->v.nsvcs > 1;
	unsigned int v, i, s;
	char lab[QLB_NAME_MAX + 72];

	if (qlb_json) {
		print_stats_json(c, prev, dt);
		return;
	}
	printf("%-28s %-28s %14s %16s%s\n", "VIP", "REASON", "PACKETS", "BYTES",
	       rate);
	for (v = 0; v <= QLB_LB_MAX_VIPS; v++)
		if (vip_shown(c, v))
			text_reasons(vip_label(c, v), c->vip[v],
				     prev ? prev->vip[v] : NULL, dt);
	if (several) {
		printf("%-28s %-28s %14s %16s%s\n", "SERVICE", "REASON",
		       "PACKETS", "BYTES", rate);
		for (s = 0; s < QLB_LB_MAX_SERVICES; s++)
			if (c->v.svcs[s].used)
				text_reasons(c->v.svcs[s].name, c->svc[s],
					     prev ? prev->svc[s] : NULL, dt);
	}
	printf("%-28s %14s %16s%s\n", "HOST", "PACKETS", "BYTES", rate);
	for (i = 0; i < QLB_LB_MAX_HOSTS; i++)
		if (c->host_name[i][0])
			text_row(c->host_name[i], &c->host[i],
				 prev ? &prev->host[i] : NULL, dt);
	if (several) {
		printf("%-28s %14s %16s%s\n", "MEMBER (SERVICE/HOST)",
		       "PACKETS", "BYTES", rate);
		for (i = 0; i < c->v.nmembers; i++) {
			const struct member_row *r = &c->v.members[i];

			snprintf(lab, sizeof(lab), "%s/%s",
				 c->v.svcs[r->h.service].name, r->h.name);
			text_row(lab, &c->member[r->idx],
				 prev ? &prev->member[r->idx] : NULL, dt);
		}
	}
	printf("%-28s %14s %16s%s\n",
	       several ? "CONFIG (SERVICE/ID, by CID)"
		       : "CONFIG (routed by CID)",
	       "PACKETS", "BYTES", rate);
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++)
		for (i = 0; i < QLB_CONFIG_MAX; i++) {
			if (!cfg_shown(c, s, i))
				continue;
			if (several)
				snprintf(lab, sizeof(lab), "%s/%u",
					 c->v.svcs[s].name, i);
			else
				snprintf(lab, sizeof(lab), "%u", i);
			text_row(lab, &c->cfg[s][i],
				 prev ? &prev->cfg[s][i] : NULL, dt);
		}
	fflush(stdout);
}

int lb_stats(struct lb_opts *o)
{
	struct lb_counts *c = NULL, *prev = NULL;
	struct qlb_lb_maps m;
	int rc = QLB_EXIT_ERR;
	long n;

	if (lb_open_or_complain(o, &m))
		return QLB_EXIT_ERR;
	c = calloc(1, sizeof(*c));
	prev = calloc(1, sizeof(*prev));
	if (!c || !prev || read_counts(&m, o->file, c)) {
		qlb_err("cannot read the counters under %s", o->pin_dir);
		goto out;
	}
	if (!o->watch) {
		print_stats(c, NULL, 0);
		rc = QLB_EXIT_OK;
		goto out;
	}
	qlb_catch_stop();
	for (n = 0; !qlb_stop_requested && (!o->count || n < o->count); n++) {
		struct lb_counts *t;

		usleep((useconds_t)(o->interval * 1e6));
		t = prev;
		prev = c;
		c = t;
		if (read_counts(&m, o->file, c))
			break;
		if (!qlb_json)
			printf("\n");
		print_stats(c, prev, o->interval);
	}
	rc = QLB_EXIT_OK;
out:
	free(c);
	free(prev);
	qlb_lb_maps_close(&m);
	return rc;
}

/* ---- lb metrics ---------------------------------------------------------- */

static void prom_family(FILE *f, const char *name, const char *type,
			const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* qlb_lb_packets_total / _bytes_total: per VIP (with its service). */
static void prom_vips(FILE *f, const struct lb_counts *c, bool bytes)
{
	unsigned int v, r;

	for (v = 0; v <= QLB_LB_MAX_VIPS; v++) {
		if (!vip_shown(c, v))
			continue;
		for (r = 0; r < QLB_R_MAX; r++)
			fprintf(f,
				"qlb_lb_%s_total{vip=\"%s\",service=\"%s\","
				"reason=\"%s\",action=\"%s\"} %llu\n",
				bytes ? "bytes" : "packets", vip_label(c, v),
				vip_svc_label(c, v), qlb_lb_reason_name(r),
				qlb_lb_action_name(qlb_lb_reason_action(r)),
				(unsigned long long)(bytes ? c->vip[v][r].bytes
							   : c->vip[v][r]
								     .packets));
	}
}

static void prom_services(FILE *f, const struct lb_counts *c, bool bytes)
{
	unsigned int s, r;

	for (s = 0; s < QLB_LB_MAX_SERVICES; s++) {
		if (!c->v.svcs[s].used)
			continue;
		for (r = 0; r < QLB_R_MAX; r++)
			fprintf(f,
				"qlb_lb_service_%s_total{service=\"%s\","
				"reason=\"%s\",action=\"%s\"} %llu\n",
				bytes ? "bytes" : "packets", c->v.svcs[s].name,
				qlb_lb_reason_name(r),
				qlb_lb_action_name(qlb_lb_reason_action(r)),
				(unsigned long long)(bytes ? c->svc[s][r].bytes
							   : c->svc[s][r]
								     .packets));
	}
}

static void prom_hosts(FILE *f, const struct lb_counts *c, bool bytes)
{
	unsigned int i;

	for (i = 0; i < QLB_LB_MAX_HOSTS; i++)
		if (c->host_name[i][0])
			fprintf(f, "qlb_lb_host_%s_total{host=\"%s\"} %llu\n",
				bytes ? "bytes" : "packets", c->host_name[i],
				(unsigned long long)(bytes ? c->host[i].bytes
							   : c->host[i]
								     .packets));
}

static void prom_members(FILE *f, const struct lb_counts *c, bool bytes)
{
	unsigned int i;

	for (i = 0; i < c->v.nmembers; i++) {
		const struct member_row *r = &c->v.members[i];
		const struct qlb_lb_counter *k = &c->member[r->idx];

		fprintf(f,
			"qlb_lb_member_%s_total{service=\"%s\",host=\"%s\"} "
			"%llu\n",
			bytes ? "bytes" : "packets",
			c->v.svcs[r->h.service].name, r->h.name,
			(unsigned long long)(bytes ? k->bytes : k->packets));
	}
}

/* Prometheus text exposition (version 0.0.4) of every counter. */
static void write_metrics(FILE *f, const struct qlb_lb_maps *m,
			  const struct lb_counts *c)
{
	struct qlb_lb_ctrl ctrl = {0};
	__u32 zero = 0;
	unsigned int s, i;

	bpf_map_lookup_elem(m->ctrl, &zero, &ctrl);
	prom_family(f, "qlb_lb_packets_total", "counter",
		    "Packets seen by the LB node's XDP program, by VIP (and "
		    "its service), reason and action.");
	prom_vips(f, c, false);
	prom_family(f, "qlb_lb_bytes_total", "counter",
		    "Bytes (frames as received) seen by the LB node's XDP "
		    "program.");
	prom_vips(f, c, true);
	prom_family(f, "qlb_lb_service_packets_total", "counter",
		    "Packets to each service's VIPs, by reason and action.");
	prom_services(f, c, false);
	prom_family(f, "qlb_lb_service_bytes_total", "counter",
		    "Bytes (frames as received) to each service's VIPs.");
	prom_services(f, c, true);
	prom_family(f, "qlb_lb_host_packets_total", "counter",
		    "Packets sent to each backend host, over all its "
		    "services.");
	prom_hosts(f, c, false);
	prom_family(f, "qlb_lb_host_bytes_total", "counter",
		    "Bytes (before encapsulation) sent to each backend host.");
	prom_hosts(f, c, true);
	prom_family(f, "qlb_lb_member_packets_total", "counter",
		    "Packets sent to each backend host for each service it "
		    "serves.");
	prom_members(f, c, false);
	prom_family(f, "qlb_lb_member_bytes_total", "counter",
		    "Bytes (before encapsulation) sent to each backend host "
		    "for each service it serves.");
	prom_members(f, c, true);
	prom_family(f, "qlb_lb_config_routed_packets_total", "counter",
		    "Packets routed by a CID of each config of each service.");
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++)
		for (i = 0; c->v.svcs[s].used && i < QLB_CONFIG_MAX; i++)
			fprintf(f,
				"qlb_lb_config_routed_packets_total{service="
				"\"%s\",config=\"%u\"} %llu\n",
				c->v.svcs[s].name, i,
				(unsigned long long)c->cfg[s][i].packets);
	prom_family(f, "qlb_lb_config_live", "gauge",
		    "Configs (rotation codepoints) of each service the LB node "
		    "routes.");
	for (s = 0; s < QLB_LB_MAX_SERVICES; s++)
		for (i = 0; c->v.svcs[s].used && i < QLB_CONFIG_MAX; i++)
			fprintf(f,
				"qlb_lb_config_live{service=\"%s\",config="
				"\"%u\"} %u\n",
				c->v.svcs[s].name, i,
				(c->v.svcs[s].live_cfgs >> i) & 1);
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
	const char *pin_dir; /* the health view of `lb run`, if any */
	const char *file;    /* service names, the announcement; may be NULL */
};

/* qlb_metrics_fn for --listen: the counters as they are at each scrape. */
static int write_scrape(FILE *f, void *arg)
{
	struct lb_scrape *s = arg;

	if (read_counts(s->m, s->file, s->c))
		return -1;
	write_metrics(f, s->m, s->c);
	qlb_health_metrics(f, s->pin_dir);
	if (s->file)
		qlb_announce_metrics_file(f, s->file);
	return 0;
}

int lb_metrics(struct lb_opts *o)
{
	struct qlb_lb_maps m;
	struct lb_scrape s = {.m = &m, .pin_dir = o->pin_dir, .file = o->file};
	int rc = QLB_EXIT_ERR;

	if (lb_open_or_complain(o, &m))
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
	qlb_lb_maps_close(&m);
	return rc;
}
