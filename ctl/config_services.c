// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * services: of the qlb configuration (see docs/config.md): several host
 * pools behind one LB node, each with its own VIPs and, optionally, its own
 * QUIC-LB configs and keys. Without services: the file holds one implicit
 * service (lb.vips, every host, the top-level quic_lb), so files written
 * before services existed mean what they meant.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config_int.h"
#include "qlb/abi/lb_abi.h"
#include "qlb/libqlb.h"

/* The service being parsed, for its keys' hooks. */
struct svc_aux {
	unsigned int idx;
	struct conf_seen seen[QLB_CONFIG_MAX]; /* of its own quic_lb */
	struct conf_target own;
	const struct conf_target *tgt; /* own, or the top-level one */
};

static bool svc_name(struct ctx *c, const struct qlb_key *k,
		     const yaml_node_t *m, const yaml_node_t *v,
		     const char *sect, const char *path, void *obj, void *aux)
{
	const struct qlb_conf_service *svc = obj;
	const struct svc_aux *a = aux;
	const char *s;
	unsigned int i;

	for (s = svc->name; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s)) {
			qlb_y_diag(&c->y, v, path,
				   "\"%s\" is not a service name (letters, "
				   "digits, '.', '_', '-')",
				   svc->name);
			return false;
		}
	}
	if (!svc->name[0]) {
		qlb_y_diag(&c->y, v, path, "is empty");
		return false;
	}
	for (i = 0; i < a->idx; i++) {
		const struct qlb_conf_service *o = &c->cfg->services[i];

		if (strcmp(o->name, svc->name))
			continue;
		qlb_y_diag(&c->y, v, path,
			   "service \"%s\" is already defined at %d:%d",
			   svc->name, o->pos.line, o->pos.col);
		return false;
	}
	return true;
}

/* Its own quic_lb: the same keys as the top-level one, ids of its own. */
static bool svc_quic_lb(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *m, const yaml_node_t *v,
			const char *sect, const char *path, void *obj,
			void *aux)
{
	struct svc_aux *a = aux;
	bool ok;

	c->tgt = &a->own;
	ok = qlb_conf_parse_quic_lb(c, k, m, v, sect, path, obj, aux);
	c->tgt = &c->top;
	return ok;
}

static bool svc_vips(struct ctx *c, const struct qlb_key *k,
		     const yaml_node_t *m, const yaml_node_t *v,
		     const char *sect, const char *path, void *obj, void *aux)
{
	struct qlb_conf_service *svc = obj;
	const struct svc_aux *a = aux;
	bool ok;

	svc->vip_first = c->cfg->lb.nvips;
	ok = qlb_conf_parse_vips(c, v, path, a->idx);
	svc->nvips = c->cfg->lb.nvips - svc->vip_first;
	return ok;
}

static bool svc_hosts(struct ctx *c, const struct qlb_key *k,
		      const yaml_node_t *m, const yaml_node_t *v,
		      const char *sect, const char *path, void *obj, void *aux)
{
	const struct svc_aux *a = aux;

	return qlb_conf_parse_svc_hosts(c, v, path, obj, a->tgt);
}

/* quic_lb before hosts: a host entry's server IDs are checked against the
 * service's configs. */
#define SVC(f) QLB_FIELD(struct qlb_conf_service, f)
static const struct qlb_key svc_keys[] = {
	{"name", KT_STR, K_REQUIRED, SVC(name), .fn = svc_name},
	{"quic_lb", KT_HOOK, .fn = svc_quic_lb},
	{"vips", KT_HOOK, K_REQUIRED, .fn = svc_vips},
	{"hosts", KT_HOOK, K_REQUIRED, .fn = svc_hosts},
	{NULL}};
#undef SVC

bool qlb_conf_parse_services(struct ctx *c, const struct qlb_key *k,
			     const yaml_node_t *root, const yaml_node_t *v,
			     const char *sect, const char *path, void *obj,
			     void *aux)
{
	struct qlb_config *cfg = c->cfg;
	int i, n;
	bool ok = true;

	if (!qlb_y_want_seq(&c->y, v, path))
		return false;
	n = qlb_y_seq_len(v);
	if (!n) {
		qlb_y_diag(&c->y, v, path, "at least one service is needed");
		return false;
	}
	if (n > QLB_MAX_SERVICES) {
		qlb_y_diag(&c->y, v, path,
			   "%d services, more than the maximum %d", n,
			   QLB_MAX_SERVICES);
		return false;
	}
	cfg->services = calloc(n, sizeof(*cfg->services));
	if (!cfg->services) {
		qlb_y_diag(&c->y, v, path, "out of memory");
		return false;
	}
	cfg->nservices = n;
	for (i = 0; i < n; i++) {
		const yaml_node_t *m = qlb_y_seq_item(&c->y, v, i);
		struct qlb_conf_service *svc = &cfg->services[i];
		struct svc_aux *a = calloc(1, sizeof(*a));
		char p[64];

		if (!a) {
			qlb_y_diag(&c->y, m, path, "out of memory");
			return false;
		}
		snprintf(p, sizeof(p), "%s[%d]", path, i);
		a->idx = i;
		a->own.configs = svc->configs;
		a->own.marks = &svc->marks;
		a->own.seen = a->seen;
		svc->pos.line = QLB_Y_LINE(m);
		svc->pos.col = QLB_Y_COL(m);
		svc->own_quic_lb = qlb_y_get(&c->y, m, "quic_lb", NULL) != NULL;
		a->tgt = svc->own_quic_lb ? &a->own : &c->top;
		if (!svc->own_quic_lb) {
			memcpy(svc->configs, cfg->configs,
			       sizeof(svc->configs));
			svc->marks = cfg->marks;
		}
		if (qlb_keys_parse(c, m, p, svc_keys, svc, a, NULL) != 1)
			ok = false;
		free(a);
	}
	return ok;
}

int qlb_conf_implicit_service(struct qlb_config *cfg)
{
	struct qlb_conf_service *svc;
	unsigned int i;

	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return -ENOMEM;
	svc->hosts = calloc(cfg->nhosts + 1, sizeof(*svc->hosts));
	if (!svc->hosts) {
		free(svc);
		return -ENOMEM;
	}
	snprintf(svc->name, sizeof(svc->name), "default");
	svc->implicit = true;
	memcpy(svc->configs, cfg->configs, sizeof(svc->configs));
	svc->marks = cfg->marks;
	svc->vip_first = 0;
	svc->nvips = cfg->lb.nvips; /* each with service 0 */
	for (i = 0; i < cfg->nhosts; i++) {
		struct qlb_conf_svc_host *sh = &svc->hosts[i];

		sh->host = i;
		memcpy(sh->has_sid, cfg->hosts[i].has_sid, sizeof(sh->has_sid));
		memcpy(sh->sid, cfg->hosts[i].sid, sizeof(sh->sid));
		sh->pos = cfg->hosts[i].pos;
	}
	svc->nhosts = cfg->nhosts;
	svc->pos = (struct qlb_pos){0, 0};
	cfg->services = svc;
	cfg->nservices = 1;
	return 0;
}

/* Configs of @svc whose server IDs an LB node places (all but retired). */
static unsigned int svc_routed_cfgs(const struct qlb_conf_service *svc,
				    const struct qlb_conf_svc_host *sh)
{
	unsigned int id, n = 0;

	for (id = 0; id < QLB_CONFIG_MAX; id++)
		n += svc->configs[id].present && sh->has_sid[id];
	return n;
}

void qlb_conf_services_finish(struct ctx *c, yaml_node_t *root)
{
	struct qlb_config *cfg = c->cfg;
	unsigned long members = 0, sids = 0, pool;
	yaml_node_t *sn = qlb_y_get(&c->y, root, "services", NULL);
	yaml_node_t *lb = qlb_y_get(&c->y, root, "lb", NULL);
	unsigned int i, j;

	for (i = 0; cfg->services && i < cfg->nservices; i++) {
		struct qlb_conf_service *svc = &cfg->services[i];

		svc->member_first = (unsigned int)members;
		members += svc->nhosts;
		for (j = 0; j < svc->nhosts; j++) {
			struct qlb_conf_svc_host *sh = &svc->hosts[j];

			if (sh->host < cfg->nhosts)
				sh->state = cfg->hosts[sh->host].state;
			sids += svc_routed_cfgs(svc, sh);
		}
	}
	if (members > QLB_LB_MAX_MEMBERS)
		qlb_y_diag(&c->y, sn, "services",
			   "%lu (service, host) pairs, more than the maximum "
			   "%d an LB node holds",
			   members, QLB_LB_MAX_MEMBERS);
	if (sids > QLB_LB_MAX_SIDS)
		qlb_y_diag(&c->y,
			   sn ? sn : qlb_y_get(&c->y, root, "hosts", NULL),
			   sn ? "services" : "hosts",
			   "%lu server IDs over all services and configs, more "
			   "than the maximum %d an LB node holds",
			   sids, QLB_LB_MAX_SIDS);
	pool = (unsigned long)cfg->nservices * cfg->lb.maglev_table_size;
	if (lb && cfg->lb.present && pool > QLB_LB_MAGLEV_POOL) {
		yaml_node_t *m =
			qlb_y_get(&c->y, lb, "maglev_table_size", NULL);

		qlb_y_diag(&c->y, m ? m : lb, "lb.maglev_table_size",
			   "%u services x %u entries is more than the %u "
			   "Maglev entries an LB node holds: choose a smaller "
			   "prime",
			   cfg->nservices, cfg->lb.maglev_table_size,
			   (unsigned int)QLB_LB_MAGLEV_POOL);
	}
}

const struct qlb_conf_service *qlb_config_service(const struct qlb_config *cfg,
						  const char *name)
{
	unsigned int i;

	for (i = 0; i < cfg->nservices; i++)
		if (!strcmp(cfg->services[i].name, name))
			return &cfg->services[i];
	return NULL;
}

int qlb_config_vip_service(const struct qlb_config *cfg,
			   const struct qlb_addr *addr, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < cfg->lb.nvips; i++) {
		const struct qlb_conf_vip *v = &cfg->lb.vips[i];

		if (v->port == port && v->addr.family == addr->family &&
		    !memcmp(v->addr.bytes, addr->bytes,
			    addr->family == AF_INET ? 4 : 16))
			return (int)v->service;
	}
	return -1;
}

const struct qlb_conf_svc_host *
qlb_service_host(const struct qlb_conf_service *svc, unsigned int host)
{
	unsigned int i;

	for (i = 0; i < svc->nhosts; i++)
		if (svc->hosts[i].host == host)
			return &svc->hosts[i];
	return NULL;
}

int qlb_service_cid_cfg(const struct qlb_conf_service *svc, unsigned int id,
			struct qlb_cid_cfg *out)
{
	const struct qlb_conf_cid *q;

	if (id >= QLB_CONFIG_MAX || !svc->configs[id].present)
		return -EINVAL;
	q = &svc->configs[id];
	return qlb_cid_cfg_init(out, id, q->sid_len, q->nonce_len,
				q->has_key ? q->key : NULL, q->encode_length,
				q->worker_bits);
}
