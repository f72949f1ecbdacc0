// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * `qlbctl lb status`, `lb stats` and `lb metrics`: what the pinned maps
 * say, as a table, as JSON and as Prometheus text. Read-only: they work
 * from the pins alone and never change the data plane.
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

int lb_status(struct lb_opts *o)
{
	struct qlb_lb_maps m;
	struct qlb_lb_ctrl ctrl;
	struct qlb_lb_settings st;
	struct vip_row vips[QLB_LB_MAX_VIPS];
	struct qlb_json_w w;
	char ifname[IF_NAMESIZE] = "?", path[PATH_MAX + 64];
	__u32 zero = 0, slot, i, att = 0, pid = 0;
	int pfd;

	if (lb_open_or_complain(o, &m))
		return QLB_EXIT_ERR;
	if (bpf_map_lookup_elem(m.ctrl, &zero, &ctrl)) {
		qlb_err("cannot read qlb_ctrl: %s", strerror(errno));
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
			__u32 key = slot * QLB_LB_MAX_SERVICES * QLB_CONFIG_MAX + i;

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
		__u32 key = slot * QLB_LB_MAX_MEMBERS + i;
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
		qlb_health_status(NULL, &w, o->pin_dir);
		/* per VIP: announced, or why not (needs the file's VIPs) */
		if (o->file)
			qlb_announce_status_file(o->file, pid && att == pid,
						 &w);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		qlb_health_status(stdout, NULL, o->pin_dir);
		if (o->file)
			qlb_announce_status_file(o->file, pid && att == pid,
						 NULL);
	}
	qlb_lb_maps_close(&m);
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
		__u32 key = slot * QLB_LB_MAX_MEMBERS + i;

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
	for (n = 0; !qlb_stop_requested && (!o->count || n < o->count); n++) {
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
	qlb_lb_maps_close(&m);
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
	const char *pin_dir; /* the health view of `lb run`, if any */
	const char *file;    /* for the announcement's lines; may be NULL */
};

/* qlb_metrics_fn for --listen: the counters as they are at each scrape. */
static int write_scrape(FILE *f, void *arg)
{
	struct lb_scrape *s = arg;

	if (read_counts(s->m, s->c))
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
