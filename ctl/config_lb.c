// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * lb: of the qlb configuration (see config.c for the schema machinery and
 * docs/config.md): the LB node's interface, outer sources, Maglev table,
 * VIPs and route announcement; lb.health is in config_health.c.
 */
#include <string.h>
#include <arpa/inet.h>

#include "config_int.h"

#define MAX_MAGLEV 1000003u
#define MIN_MTU	   576u	 /* IPv4 minimum reassembly size */
#define MAX_MTU	   9216u /* common jumbo frame limit */

static bool lb_maglev_size(struct ctx *c, const struct qlb_key *k,
			   const yaml_node_t *m, const yaml_node_t *v,
			   const char *sect, const char *path, void *obj,
			   void *aux)
{
	struct qlb_conf_lb *lb = obj;
	unsigned int u, d;

	if (!qlb_y_uint(&c->y, v, path, k->min, k->max, &u))
		return false;
	for (d = 2; d * d <= u; d++)
		if (u % d == 0)
			break;
	if (d * d <= u) {
		/* the default stays, for the check against the host count */
		qlb_y_diag(&c->y, v, path,
			   "%u is not prime (%u divides it); Maglev needs a "
			   "prime such as 65537",
			   u, d);
		return false;
	}
	lb->maglev_table_size = u;
	return true;
}

#define VIP(f) QLB_FIELD(struct qlb_conf_vip, f)
static const struct qlb_key vip_keys[] = {
	{"address", KT_ADDR, K_REQUIRED, 0, 0, VIP(addr)},
	{"port", KT_UINT, K_REQUIRED, 1, 65535, VIP(port)},
	{NULL}};
#undef VIP

bool qlb_conf_vip_item(struct ctx *c, const yaml_node_t *m, const char *path,
		       struct qlb_conf_vip *vip)
{
	memset(vip, 0, sizeof(*vip));
	vip->pos.line = QLB_Y_LINE(m);
	vip->pos.col = QLB_Y_COL(m);
	return qlb_keys_parse(c, m, path, vip_keys, vip, NULL, NULL) == 1;
}

bool qlb_conf_parse_vips(struct ctx *c, const yaml_node_t *v, const char *path,
			 unsigned int svc)
{
	struct qlb_conf_lb *lb = &c->cfg->lb;
	int i, n;
	unsigned int j;
	char p[128];

	if (!qlb_y_want_seq(&c->y, v, path))
		return false;
	n = qlb_y_seq_len(v);
	if (!n)
		qlb_y_diag(&c->y, v, path, "at least one VIP is needed");
	if (lb->nvips + n > QLB_MAX_VIPS) {
		if (!lb->nvips)
			qlb_y_diag(&c->y, v, path,
				   "%d VIPs, more than the maximum %d", n,
				   QLB_MAX_VIPS);
		else
			qlb_y_diag(
				&c->y, v, path,
				"%d VIPs after the %u of the services above, "
				"more than the maximum %d in all",
				n, lb->nvips, QLB_MAX_VIPS);
		return false;
	}
	for (i = 0; i < n; i++) {
		yaml_node_t *m = qlb_y_seq_item(&c->y, v, i);
		struct qlb_conf_vip *vip = &lb->vips[lb->nvips];

		snprintf(p, sizeof(p), "%s[%d]", path, i);
		if (!qlb_conf_vip_item(c, m, p, vip))
			continue;
		vip->service = svc;
		for (j = 0; j < lb->nvips; j++) {
			const struct qlb_conf_vip *o = &lb->vips[j];
			const char *a = qlb_y_sval(
				qlb_y_get(&c->y, m, "address", NULL));

			if (o->port != vip->port ||
			    memcmp(&o->addr, &vip->addr, sizeof(vip->addr)))
				continue;
			/* a packet's VIP must name one service */
			if (o->service != svc)
				qlb_y_diag(&c->y, m, path,
					   "VIP %s port %u is already service "
					   "\"%s\"'s (at %d:%d)",
					   a, vip->port,
					   c->cfg->services[o->service].name,
					   o->pos.line, o->pos.col);
			else
				qlb_y_diag(&c->y, m, path,
					   "VIP %s port %u is already given at "
					   "%d:%d",
					   a, vip->port, o->pos.line,
					   o->pos.col);
			break;
		}
		if (j == lb->nvips)
			lb->nvips++;
	}
	return true;
}

/* lb.vips: required, unless services: lists the VIPs (then refused). */
static bool lb_vips(struct ctx *c, const struct qlb_key *k,
		    const yaml_node_t *map, const yaml_node_t *v,
		    const char *sect, const char *path, void *obj, void *aux)
{
	if (!v && !c->services_given) {
		qlb_y_diag(&c->y, map, sect, "missing required key 'vips'");
		return false;
	}
	if (v && c->services_given) {
		qlb_y_diag(&c->y, v, path,
			   "with services:, each service lists its own VIPs "
			   "(services[].vips); lb.vips must go");
		return false;
	}
	return !v || qlb_conf_parse_vips(c, v, path, 0);
}

/* lb.announce.table: not one of the kernel's own tables */
static bool announce_table(struct ctx *c, const struct qlb_key *k,
			   const yaml_node_t *m, const yaml_node_t *v,
			   const char *sect, const char *path, void *obj,
			   void *aux)
{
	const struct qlb_conf_announce *a = obj;

	if (a->table < 253 || a->table > 255)
		return true;
	qlb_y_diag(&c->y, v, path,
		   "table %u is one of the kernel's own (default, main, "
		   "local); qlb needs a table of its own such as 4242",
		   a->table);
	return false;
}

#define AN(f) QLB_FIELD(struct qlb_conf_announce, f)
const struct qlb_key qlb_conf_announce_keys[] = {
	{"table", KT_UINT, 0, 1, 0xffffffffll, AN(table), .def = 4242,
	 .fn = announce_table},
	{"protocol", KT_UINT, 0, 5, 255, AN(protocol), .def = 242},
	{"bird_socket", KT_ABSPATH, AN(bird_socket),
	 .sdef = "/run/bird/bird.ctl"},
	{"drain_time", KT_UINT, 0, 0, 3600, AN(drain_time), .def = 5},
	{NULL}};
#undef AN

static bool lb_announce(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *m, const yaml_node_t *v,
			const char *sect, const char *path, void *obj,
			void *aux)
{
	struct qlb_conf_lb *lb = obj;

	lb->announce.present = true;
	return qlb_keys_parse(c, v, path, qlb_conf_announce_keys, &lb->announce,
			      NULL, NULL) == 1;
}

#define LB(f) QLB_FIELD(struct qlb_conf_lb, f)
const struct qlb_key qlb_conf_lb_keys[] = {
	{"interface", KT_IFNAME, K_REQUIRED, LB(interface)},
	{"xdp_mode", KT_ENUM, LB(xdp_mode), .def = QLB_XDP_NATIVE,
	 .names = qlb_xdp_mode_names, .nnames = 2},
	{"gateway_mac", KT_MAC, K_REQUIRED, LB(gateway_mac)},
	{"encap_source_v4", KT_ADDR, 0, AF_INET, 0, LB(encap_source_v4)},
	{"encap_source_v6", KT_ADDR, 0, AF_INET6, 0, LB(encap_source_v6)},
	{"pin_dir", KT_ABSPATH, LB(pin_dir), .sdef = "/sys/fs/bpf/qlb/lb"},
	{"maglev_table_size", KT_HOOK, 0, 3, MAX_MAGLEV, LB(maglev_table_size),
	 .def = QLB_DEFAULT_MAGLEV_SIZE, .fn = lb_maglev_size},
	{"mtu", KT_UINT, 0, MIN_MTU, MAX_MTU, LB(mtu), .def = QLB_DEFAULT_MTU},
	{"gue_port", KT_UINT, 0, 1, 65535, LB(gue_port),
	 .def = QLB_DEFAULT_GUE_PORT},
	{"vips", KT_HOOK, K_ABSENT, .fn = lb_vips},
	{"announce", KT_HOOK, 0, .fn = lb_announce},
	{"health", KT_HOOK, K_ABSENT, .fn = qlb_conf_lb_health},
	{NULL}};
#undef LB

bool qlb_conf_parse_lb(struct ctx *c, const struct qlb_key *k,
		       const yaml_node_t *root, const yaml_node_t *n,
		       const char *sect, const char *path, void *obj, void *aux)
{
	struct qlb_conf_lb *lb = &c->cfg->lb;

	lb->present = true;
	/* hosts need to know which outer sources were written */
	c->src_given[0] = qlb_y_get(&c->y, n, "encap_source_v4", NULL);
	c->src_given[1] = qlb_y_get(&c->y, n, "encap_source_v6", NULL);
	return qlb_keys_parse(c, n, "lb", qlb_conf_lb_keys, lb, NULL, NULL) ==
	       1;
}
