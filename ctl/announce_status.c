// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * VIP announcement in `qlbctl lb status` and the metrics (announce.h):
 * per VIP (and its service) whether it is announced, and why not.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "announce_int.h"
#include "common.h"

/* The name of the service of @cfg's VIP @i. */
static const char *vip_service(const struct qlb_config *cfg, unsigned int i)
{
	unsigned int s = cfg->lb.vips[i].service;

	return s < cfg->nservices ? cfg->services[s].name : "?";
}

struct vip_view {
	bool in_table, exported;
	const char *why; /* NULL when announced */
};

static void vip_views(const struct qlb_config *cfg, bool attached,
		      const struct qlb_daemon_status *st, const bool *in_table,
		      bool draining, struct vip_view *v)
{
	for (unsigned int i = 0; i < cfg->lb.nvips; i++) {
		v[i].in_table = in_table[i];
		v[i].exported = st->exported[i];
		v[i].why = NULL;
		if (draining)
			v[i].why = "draining (qlbctl lb drain)";
		else if (!attached)
			v[i].why = "the XDP program is not attached";
		else if (!in_table[i])
			v[i].why = "not in the announcement table: no healthy "
				   "host in its service, or qlbctl lb run is "
				   "not running";
		else if (st->state == QLB_DAEMON_NONE)
			v[i].why = "no routing daemon configured";
		else if (st->state == QLB_DAEMON_MISSING)
			v[i].why = "the routing daemon is not running";
		else if (st->state == QLB_DAEMON_DOWN)
			v[i].why = "the routing daemon does not answer";
		else if (st->state == QLB_DAEMON_NO_SESSION)
			v[i].why = "no BGP session established";
		else if (!st->exported[i])
			v[i].why = "the routing daemon does not export it "
				   "(filter, table)";
	}
}

void qlb_announce_status_show(const struct qlb_config *cfg, bool attached,
			      struct qlb_json_w *w)
{
	struct qlb_announce_opts o;
	struct qlb_daemon_status *st = calloc(1, sizeof(*st));
	struct vip_view v[QLB_MAX_VIPS];
	bool in_table[QLB_MAX_VIPS] = {0}, draining;
	char err[256] = "", abuf[INET6_ADDRSTRLEN];
	int rerr;

	if (!st)
		return;
	qlb_announce_opts(cfg, &o);
	rerr = qlb_announce_read(cfg, in_table, err, sizeof(err));
	qlb_announce_daemon(cfg, st);
	draining = qlb_announce_draining(cfg);
	vip_views(cfg, attached, st, in_table, draining, v);
	if (w) {
		jw_obj_open(w, "announce");
		jw_uint(w, "table", o.table);
		jw_uint(w, "protocol", o.proto);
		jw_bool(w, "draining", draining);
		if (rerr)
			jw_str(w, "table_error", err);
		jw_obj_open(w, "daemon");
		jw_str(w, "socket", o.bird_socket);
		jw_str(w, "state", qlb_daemon_state_name(st->state));
		jw_str(w, "version", st->version[0] ? st->version : NULL);
		jw_str(w, "error", st->error[0] ? st->error : NULL);
		jw_arr_open(w, "sessions");
		for (unsigned int i = 0; i < st->npeers; i++) {
			jw_obj_open(w, NULL);
			jw_str(w, "name", st->peers[i].name);
			jw_str(w, "state", st->peers[i].state);
			jw_str(w, "info", st->peers[i].info);
			jw_obj_close(w);
		}
		jw_arr_close(w);
		jw_obj_close(w);
		jw_arr_open(w, "vips");
		for (unsigned int i = 0; i < cfg->lb.nvips; i++) {
			jw_obj_open(w, NULL);
			jw_str(w, "address",
			       qlb_addr_str(&cfg->lb.vips[i].addr, abuf,
					    sizeof(abuf)));
			jw_uint(w, "port", cfg->lb.vips[i].port);
			jw_str(w, "service", vip_service(cfg, i));
			jw_bool(w, "announced", !v[i].why);
			jw_bool(w, "in_table", v[i].in_table);
			jw_bool(w, "exported", v[i].exported);
			jw_str(w, "why_not", v[i].why);
			jw_obj_close(w);
		}
		jw_arr_close(w);
		jw_obj_close(w);
	} else {
		printf("announce    table %u proto %u%s; %s: %s", o.table,
		       o.proto, draining ? " (DRAINING)" : "",
		       o.bird_socket[0] ? o.bird_socket : "no daemon",
		       qlb_daemon_state_name(st->state));
		if (st->npeers)
			printf(", %u of %u BGP sessions established",
			       st->established, st->npeers);
		printf("\n");
		if (st->error[0])
			printf("            %s\n", st->error);
		if (rerr)
			printf("            %s\n", err);
		for (unsigned int i = 0; i < cfg->lb.nvips; i++) {
			printf("  %-40s %s%s",
			       qlb_addr_str(&cfg->lb.vips[i].addr, abuf,
					    sizeof(abuf)),
			       v[i].why ? "NOT ANNOUNCED: " : "announced",
			       v[i].why ? v[i].why : "");
			/* one service: the lines stay as they were; with
			 * several, an address may be two services' VIPs */
			if (cfg->nservices > 1)
				printf(" (service %s, port %u)",
				       vip_service(cfg, i),
				       cfg->lb.vips[i].port);
			printf("\n");
		}
	}
	free(st);
}

void qlb_announce_metrics(FILE *f, const struct qlb_config *cfg)
{
	struct qlb_daemon_status *st = calloc(1, sizeof(*st));
	bool in_table[QLB_MAX_VIPS] = {0};
	char abuf[INET6_ADDRSTRLEN];

	if (!st)
		return;
	qlb_announce_read(cfg, in_table, NULL, 0);
	qlb_announce_daemon(cfg, st);
	fprintf(f, "# HELP qlb_lb_vip_announced The VIP is in the "
		   "announcement table (qlb wants it announced).\n"
		   "# TYPE qlb_lb_vip_announced gauge\n");
	for (unsigned int i = 0; i < cfg->lb.nvips; i++)
		fprintf(f,
			"qlb_lb_vip_announced{vip=\"%s\",port=\"%u\","
			"service=\"%s\"} %d\n",
			qlb_addr_str(&cfg->lb.vips[i].addr, abuf, sizeof(abuf)),
			cfg->lb.vips[i].port, vip_service(cfg, i), in_table[i]);
	fprintf(f, "# HELP qlb_lb_vip_exported The routing daemon exports "
		   "the VIP to an established BGP session.\n"
		   "# TYPE qlb_lb_vip_exported gauge\n");
	for (unsigned int i = 0; i < cfg->lb.nvips; i++)
		fprintf(f,
			"qlb_lb_vip_exported{vip=\"%s\",port=\"%u\","
			"service=\"%s\"} %d\n",
			qlb_addr_str(&cfg->lb.vips[i].addr, abuf, sizeof(abuf)),
			cfg->lb.vips[i].port, vip_service(cfg, i),
			st->state == QLB_DAEMON_ESTABLISHED && st->exported[i]);
	fprintf(f,
		"# HELP qlb_lb_routing_daemon_up The routing daemon "
		"answers on its control socket.\n"
		"# TYPE qlb_lb_routing_daemon_up gauge\n"
		"qlb_lb_routing_daemon_up %d\n"
		"# HELP qlb_lb_bgp_sessions BGP sessions of the routing "
		"daemon, by state.\n"
		"# TYPE qlb_lb_bgp_sessions gauge\n"
		"qlb_lb_bgp_sessions{state=\"established\"} %u\n"
		"qlb_lb_bgp_sessions{state=\"other\"} %u\n",
		st->state >= QLB_DAEMON_NO_SESSION, st->established,
		st->npeers - st->established);
	free(st);
}

void qlb_announce_status_file(const char *file, bool attached,
			      struct qlb_json_w *w)
{
	struct qlb_config cfg;

	if (qlb_config_load_diag(file, &cfg, NULL, NULL)) {
		if (w) {
			jw_obj_open(w, "announce");
			jw_str(w, "error", "the file does not load");
			jw_obj_close(w);
		} else {
			printf("announce    unknown: %s does not load (qlbctl "
			       "validate)\n",
			       file);
		}
		return;
	}
	qlb_announce_status_show(&cfg, attached, w);
	qlb_config_free(&cfg);
}

void qlb_announce_metrics_file(FILE *f, const char *file)
{
	struct qlb_config cfg;

	if (qlb_config_load_diag(file, &cfg, NULL, NULL))
		return;
	/* only for a node that says how it announces: the metric set of
	 * a plain `lb apply` node stays as documented */
	if (cfg.lb.announce.present)
		qlb_announce_metrics(f, &cfg);
	qlb_config_free(&cfg);
}
