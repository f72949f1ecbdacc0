// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The config keys of health checking and of decapsulation trust:
 * lb.health (how `qlbctl lb run` probes the hosts) and host.lb_sources,
 * host.vips, host.health_port (whom a host's decapsulation trusts, where
 * its agent answers probes). Hooks of the schema tables in ctl/config.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"

#define HC(f) QLB_FIELD(struct qlb_conf_health, f)
static const struct qlb_key health_keys[] = {
	{"interval_ms", KT_UINT, 0, 50, 60000, HC(interval_ms),
	 .def = QLB_DEFAULT_HEALTH_INTERVAL_MS},
	{"timeout_ms", KT_UINT, 0, 10, 60000, HC(timeout_ms),
	 .def = QLB_DEFAULT_HEALTH_TIMEOUT_MS},
	{"rise", KT_UINT, 0, 1, 100, HC(rise), .def = QLB_DEFAULT_HEALTH_RISE},
	{"fall", KT_UINT, 0, 1, 100, HC(fall), .def = QLB_DEFAULT_HEALTH_FALL},
	{"port", KT_UINT, 0, 1, 65535, HC(port),
	 .def = QLB_DEFAULT_HEALTH_PORT},
	{NULL}};
#undef HC

bool qlb_conf_lb_health(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *map, const yaml_node_t *v,
			const char *sect, const char *path, void *obj,
			void *aux)
{
	struct qlb_conf_health *h = &c->cfg->lb.health;
	yaml_node_t *n;
	bool ok;

	qlb_keys_defaults(health_keys, h);
	if (!v)
		return true;
	h->present = true;
	h->pos.line = QLB_Y_LINE(v);
	h->pos.col = QLB_Y_COL(v);
	/* the values a wrong key left are the defaults: compare anyway, so
	 * that every problem is reported at once */
	ok = qlb_keys_parse(c, v, "lb.health", health_keys, h, NULL, NULL) == 1;
	if (h->timeout_ms < h->interval_ms)
		return ok;
	n = qlb_y_get(&c->y, v, "timeout_ms", NULL);
	qlb_y_diag(&c->y, n ? n : v, "lb.health.timeout_ms",
		   "%u ms is not below interval_ms %u: a probe must be judged "
		   "before the next one",
		   h->timeout_ms, h->interval_ms);
	return false;
}

/* @n is a sequence of at most @max @what; otherwise a diagnostic. */
static bool seq_upto(struct ctx *c, const yaml_node_t *n, const char *path,
		     int max, const char *what)
{
	if (!qlb_y_want_seq(&c->y, n, path))
		return false;
	if (qlb_y_seq_len(n) <= max)
		return true;
	qlb_y_diag(&c->y, n, path, "%d %s, more than the maximum %d",
		   qlb_y_seq_len(n), what, max);
	return false;
}

bool qlb_conf_host_sources(struct ctx *c, const struct qlb_key *k,
			   const yaml_node_t *map, const yaml_node_t *n,
			   const char *sect, const char *path, void *obj,
			   void *aux)
{
	struct qlb_conf_agent *a = &c->cfg->host;
	bool ok = true;
	char p[64];
	int i;

	if (!seq_upto(c, n, path, QLB_MAX_LB_SOURCES, "entries"))
		return false;
	for (i = 0; i < qlb_y_seq_len(n); i++) {
		snprintf(p, sizeof(p), "%s[%d]", path, i);
		if (qlb_y_addr(&c->y, qlb_y_seq_item(&c->y, n, i), p, 0,
			       &a->lb_sources[a->nlb_sources]))
			a->nlb_sources++;
		else
			ok = false;
	}
	return ok;
}

bool qlb_conf_host_vips(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *map, const yaml_node_t *v,
			const char *sect, const char *path, void *obj,
			void *aux)
{
	struct qlb_conf_agent *a = &c->cfg->host;
	bool ok = true;
	char p[64];
	int i;

	if (!seq_upto(c, v, path, QLB_MAX_VIPS, "VIPs"))
		return false;
	for (i = 0; i < qlb_y_seq_len(v); i++) {
		yaml_node_t *m = qlb_y_seq_item(&c->y, v, i);
		struct qlb_conf_vip *vip = &a->vips[a->nvips];

		snprintf(p, sizeof(p), "%s[%d]", path, i);
		if (qlb_conf_vip_item(c, m, p, vip))
			a->nvips++;
		else
			ok = false;
	}
	return ok;
}

/* @port of @what is not a port of @vips: probes to it would reach the
 * service, and the service's packets the responder. */
static void port_free(struct ctx *c, const yaml_node_t *n, const char *what,
		      unsigned int port, const struct qlb_conf_vip *vips,
		      unsigned int nvips)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int i;

	for (i = 0; i < nvips; i++) {
		if (vips[i].port != port)
			continue;
		qlb_y_diag(&c->y, n, what,
			   "port %u is the port of VIP %s (at %d:%d): health "
			   "probes need a port of their own",
			   port, qlb_addr_str(&vips[i].addr, a, sizeof(a)),
			   vips[i].pos.line, vips[i].pos.col);
		return;
	}
}

void qlb_conf_health_check(struct ctx *c, const yaml_node_t *root)
{
	struct qlb_config *cfg = c->cfg;
	yaml_node_t *lb = qlb_y_get(&c->y, root, "lb", NULL);
	yaml_node_t *host = qlb_y_get(&c->y, root, "host", NULL);
	yaml_node_t *lh = NULL, *hp = NULL;

	if (lb && lb->type == YAML_MAPPING_NODE) {
		lh = qlb_y_get(&c->y, lb, "health", NULL);
		if (lh && lh->type == YAML_MAPPING_NODE) {
			yaml_node_t *p = qlb_y_get(&c->y, lh, "port", NULL);

			port_free(c, p ? p : lh, "lb.health.port",
				  cfg->lb.health.port, cfg->lb.vips,
				  cfg->lb.nvips);
		} else if (!lh) {
			port_free(c, lb, "lb.health.port", cfg->lb.health.port,
				  cfg->lb.vips, cfg->lb.nvips);
		}
	}
	if (!host || host->type != YAML_MAPPING_NODE)
		return;
	hp = qlb_y_get(&c->y, host, "health_port", NULL);
	port_free(c, hp ? hp : host, "host.health_port", cfg->host.health_port,
		  cfg->host.vips, cfg->host.nvips);
	if (lb && cfg->lb.health.port != cfg->host.health_port)
		qlb_y_diag(&c->y, hp ? hp : host,
			   hp ? "host.health_port" : "host",
			   "lb.health.port %u and host.health_port %u differ: "
			   "LB nodes would probe where hosts do not answer",
			   cfg->lb.health.port, cfg->host.health_port);
}
