// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * hosts: of the qlb configuration (see config.c for the schema machinery
 * and docs/config.md): each host's name, address and server IDs, and the
 * checks across hosts and configs (lengths, worker bits, duplicates).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "config_int.h"

struct host_seen {
	const yaml_node_t *item, *name, *address, *server_id;
	const yaml_node_t *sid_node[QLB_CONFIG_MAX]; /* from server_ids */
	const yaml_node_t *sid_key[QLB_CONFIG_MAX];
	bool sid_ok; /* server_id parsed */
	int sid_len;
	uint8_t sid[QLB_SID_MAX_LEN];
	int ids_len[QLB_CONFIG_MAX];
	uint8_t ids[QLB_CONFIG_MAX][QLB_SID_MAX_LEN];
};

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static bool host_name(struct ctx *c, const struct qlb_key *k,
		      const yaml_node_t *m, const yaml_node_t *v,
		      const char *sect, const char *path, void *obj, void *aux)
{
	const struct qlb_conf_host *h = obj;
	struct host_seen *hs = aux;

	if (valid_name(h->name)) {
		hs->name = v;
		return true;
	}
	qlb_y_diag(&c->y, v, path,
		   "\"%s\" is not a host name (letters, digits, '.', '_', "
		   "'-')",
		   h->name);
	return false;
}

static bool host_address(struct ctx *c, const struct qlb_key *k,
			 const yaml_node_t *m, const yaml_node_t *v,
			 const char *sect, const char *path, void *obj,
			 void *aux)
{
	((struct host_seen *)aux)->address = v;
	return true;
}

/* server_id: one server ID for every config server_ids does not name. */
static bool host_server_id(struct ctx *c, const struct qlb_key *k,
			   const yaml_node_t *m, const yaml_node_t *v,
			   const char *sect, const char *path, void *obj,
			   void *aux)
{
	struct host_seen *hs = aux;

	hs->server_id = v;
	hs->sid_len =
		qlb_y_hex(&c->y, v, path, hs->sid, QLB_SID_MAX_LEN, false);
	hs->sid_ok = hs->sid_len > 0;
	if (!hs->sid_len)
		qlb_y_diag(&c->y, v, path, "is empty");
	return hs->sid_ok;
}

/* server_ids: {config id: hex server ID}; server_id or it is required. */
static bool host_server_ids(struct ctx *c, const struct qlb_key *k,
			    const yaml_node_t *m, const yaml_node_t *v,
			    const char *sect, const char *path, void *obj,
			    void *aux)
{
	struct host_seen *hs = aux;
	yaml_node_pair_t *p;
	bool ok = true;

	if (!v) {
		if (hs->server_id)
			return true;
		qlb_y_diag(&c->y, m, sect,
			   "missing required key 'server_id' (or server_ids)");
		return false;
	}
	if (v->type != YAML_MAPPING_NODE) {
		qlb_y_diag(&c->y, v, path,
			   "expected a mapping {config id: hex server ID}, got "
			   "%s",
			   qlb_y_kind(v));
		return false;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = qlb_y_node(&c->y, p->key),
			    *x = qlb_y_node(&c->y, p->value);
		unsigned int id;
		char ip[128];

		if (!qlb_y_uint(&c->y, kn, path, 0, QLB_CONFIG_MAX - 1, &id)) {
			ok = false;
			continue;
		}
		snprintf(ip, sizeof(ip), "%s.server_ids[%u]", sect, id);
		if (hs->sid_node[id]) {
			qlb_y_diag(&c->y, kn, ip,
				   "duplicate key (first given at %d:%d)",
				   QLB_Y_LINE(hs->sid_key[id]),
				   QLB_Y_COL(hs->sid_key[id]));
			ok = false;
			continue;
		}
		hs->ids_len[id] = qlb_y_hex(&c->y, x, ip, hs->ids[id],
					    QLB_SID_MAX_LEN, false);
		if (!hs->ids_len[id]) {
			qlb_y_diag(&c->y, x, ip, "is empty");
			hs->ids_len[id] = -1;
		}
		hs->sid_node[id] = x;
		hs->sid_key[id] = kn;
	}
	return ok;
}

#define HOST(f) QLB_FIELD(struct qlb_conf_host, f)
static const struct qlb_key host_keys[] = {
	{"name", KT_STR, K_REQUIRED, HOST(name), .fn = host_name},
	{"address", KT_ADDR, K_REQUIRED, 0, 0, HOST(address),
	 .fn = host_address},
	{"server_id", KT_HOOK, .fn = host_server_id},
	{"server_ids", KT_HOOK, K_ABSENT, .fn = host_server_ids},
	{"encap", KT_ENUM, HOST(encap), .names = qlb_encap_names, .nnames = 2},
	{"weight", KT_UINT, 0, 0, 65535, HOST(weight), .def = 100},
	{"state", KT_ENUM, HOST(state), .names = qlb_host_state_names,
	 .nnames = 3},
	{NULL}};
#undef HOST

static void parse_host(struct ctx *c, const yaml_node_t *m, int idx,
		       struct qlb_conf_host *h, struct host_seen *hs)
{
	char path[64];

	snprintf(path, sizeof(path), "hosts[%d]", idx);
	qlb_keys_defaults(host_keys, h);
	hs->item = m;
	h->pos.line = QLB_Y_LINE(m);
	h->pos.col = QLB_Y_COL(m);
	qlb_keys_parse(c, m, path, host_keys, h, hs, NULL);
}

/* Server IDs of every host under every valid config: lengths, worker bits,
 * duplicates. */
static void check_sids(struct ctx *c, struct host_seen *hs)
{
	struct qlb_config *cfg = c->cfg;
	unsigned int id, i, j;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *q = &cfg->configs[id];

		if (!q->present || !c->seen[id].ok)
			continue;
		for (i = 0; i < cfg->nhosts; i++) {
			struct qlb_conf_host *h = &cfg->hosts[i];
			const yaml_node_t *n;
			const uint8_t *sid;
			char path[96];
			unsigned int wb = q->worker_bits, b;
			int len;

			if (hs[i].sid_node[id]) {
				n = hs[i].sid_node[id];
				len = hs[i].ids_len[id];
				sid = hs[i].ids[id];
				snprintf(path, sizeof(path),
					 "hosts[%u].server_ids[%u]", i, id);
			} else if (hs[i].server_id) {
				n = hs[i].server_id;
				len = hs[i].sid_ok ? hs[i].sid_len : -1;
				sid = hs[i].sid;
				snprintf(path, sizeof(path),
					 "hosts[%u].server_id", i);
			} else {
				continue;
			}
			if (len <= 0)
				continue;
			if ((unsigned int)len != q->sid_len) {
				qlb_y_diag(
					&c->y, n, path,
					"\"%s\" is %d byte%s but config %u has "
					"server_id_len %u%s",
					qlb_y_sval(n), len, len == 1 ? "" : "s",
					id, q->sid_len,
					hs[i].sid_node[id]
						? ""
						: " (give server_ids: {ID: "
						  "HEX} "
						  "per config)");
				continue;
			}
			for (b = 0; b < wb; b++)
				if (sid[len - 1 - b / 8] & (1u << (b % 8)))
					break;
			if (b < wb) {
				qlb_y_diag(
					&c->y, n, path,
					"\"%s\" has worker bits set: config %u "
					"has worker_bits %u, so its low %u "
					"bits "
					"must be zero",
					qlb_y_sval(n), id, wb, wb);
				continue;
			}
			for (j = 0; j < i; j++) {
				if (!cfg->hosts[j].has_sid[id] ||
				    memcmp(cfg->hosts[j].sid[id], sid, len))
					continue;
				qlb_y_diag(&c->y, n, path,
					   "server ID %s under config %u is "
					   "already "
					   "hosts[%u]'s (%s)",
					   qlb_y_sval(n), id, j,
					   cfg->hosts[j].name);
				break;
			}
			if (j < i)
				continue;
			memcpy(h->sid[id], sid, len);
			h->has_sid[id] = true;
		}
	}
}

bool qlb_conf_parse_hosts(struct ctx *c, const struct qlb_key *k,
			  const yaml_node_t *map, const yaml_node_t *n,
			  const char *sect, const char *path, void *obj,
			  void *aux)
{
	struct qlb_config *cfg = c->cfg;
	struct host_seen *hs;
	int i, j, cnt;

	if (!qlb_y_want_seq(&c->y, n, "hosts"))
		return false;
	cnt = qlb_y_seq_len(n);
	if (!cnt) {
		qlb_y_diag(&c->y, n, "hosts", "at least one host is needed");
		return false;
	}
	if (cnt > QLB_MAX_HOSTS) {
		qlb_y_diag(&c->y, n, "hosts",
			   "%d hosts, more than the maximum %d", cnt,
			   QLB_MAX_HOSTS);
		return false;
	}
	cfg->hosts = calloc(cnt, sizeof(*cfg->hosts));
	hs = calloc(cnt, sizeof(*hs));
	if (!cfg->hosts || !hs) {
		qlb_y_diag(&c->y, n, "hosts", "out of memory");
		free(hs);
		return false;
	}
	cfg->nhosts = cnt;
	for (i = 0; i < cnt; i++)
		parse_host(c, qlb_y_seq_item(&c->y, n, i), i, &cfg->hosts[i],
			   &hs[i]);
	for (i = 0; i < cnt; i++) {
		char path[64];

		if (!hs[i].name)
			continue;
		for (j = 0; j < i; j++) {
			if (!hs[j].name ||
			    strcmp(cfg->hosts[i].name, cfg->hosts[j].name))
				continue;
			snprintf(path, sizeof(path), "hosts[%d].name", i);
			qlb_y_diag(&c->y, hs[i].name, path,
				   "host \"%s\" is already defined at %d:%d",
				   cfg->hosts[i].name,
				   (int)hs[j].name->start_mark.line + 1,
				   (int)hs[j].name->start_mark.column + 1);
			break;
		}
	}
	check_sids(c, hs);
	/* the outer header takes the host's family: its source must exist */
	if (cfg->lb.present) {
		for (i = 0; i < cnt; i++) {
			const struct qlb_addr *a = &cfg->hosts[i].address;
			char path[64];

			snprintf(path, sizeof(path), "hosts[%d].address", i);
			if (a->family == AF_INET && !c->src_given[0])
				qlb_y_diag(
					&c->y, hs[i].address, path,
					"an IPv4 host needs lb.encap_source_v4 "
					"(the outer source address)");
			if (a->family == AF_INET6 && !c->src_given[1])
				qlb_y_diag(
					&c->y, hs[i].address, path,
					"an IPv6 host needs lb.encap_source_v6 "
					"(the outer source address)");
		}
	}
	free(hs);
	return true;
}
