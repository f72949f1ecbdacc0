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
	bool optional; /* server IDs may be absent here */
};

/* Where check_sids() puts the server IDs of one entry. */
struct sid_out {
	bool *has_sid;			 /* [QLB_CONFIG_MAX] */
	uint8_t (*sid)[QLB_SID_MAX_LEN]; /* [QLB_CONFIG_MAX] */
	const char *name;		 /* the host's, for messages */
};

/* Any server ID written at this entry (valid or not). */
static bool sids_given(const struct host_seen *hs)
{
	unsigned int id;

	for (id = 0; id < QLB_CONFIG_MAX; id++)
		if (hs->sid_node[id])
			return true;
	return hs->server_id != NULL;
}

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
		/* with services:, a service entry may give them instead */
		if (hs->server_id || hs->optional || c->services_given)
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

/*
 * check_sids() - the server IDs written at @n entries (@hs) under every
 * valid config of @t: lengths, worker bits, duplicates (also against what
 * @out holds already). @base names the list in messages ("hosts").
 */
static void check_sids(struct ctx *c, const struct conf_target *t,
		       struct host_seen *hs, const struct sid_out *out,
		       unsigned int n_ent, const char *base)
{
	unsigned int id, i, j;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *q = &t->configs[id];

		if (!q->present || !t->seen[id].ok)
			continue;
		for (i = 0; i < n_ent; i++) {
			const yaml_node_t *n;
			const uint8_t *sid;
			char path[128];
			unsigned int wb = q->worker_bits, b;
			int len;

			if (hs[i].sid_node[id]) {
				n = hs[i].sid_node[id];
				len = hs[i].ids_len[id];
				sid = hs[i].ids[id];
				snprintf(path, sizeof(path),
					 "%s[%u].server_ids[%u]", base, i, id);
			} else if (hs[i].server_id) {
				n = hs[i].server_id;
				len = hs[i].sid_ok ? hs[i].sid_len : -1;
				sid = hs[i].sid;
				snprintf(path, sizeof(path), "%s[%u].server_id",
					 base, i);
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
			for (j = 0; j < n_ent; j++) {
				if (j == i || !out[j].has_sid[id] ||
				    memcmp(out[j].sid[id], sid, len))
					continue;
				qlb_y_diag(&c->y, n, path,
					   "server ID %s under config %u is "
					   "already %s[%u]'s (%s)",
					   qlb_y_sval(n), id, base, j,
					   out[j].name);
				break;
			}
			if (j < n_ent)
				continue;
			memcpy(out[i].sid[id], sid, len);
			out[i].has_sid[id] = true;
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
	struct sid_out *out;
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
	out = calloc(cnt, sizeof(*out));
	c->host_sids_given = calloc(cnt, sizeof(*c->host_sids_given));
	if (!out || !c->host_sids_given) {
		qlb_y_diag(&c->y, n, "hosts", "out of memory");
		free(out);
		free(hs);
		return false;
	}
	for (i = 0; i < cnt; i++) {
		out[i].has_sid = cfg->hosts[i].has_sid;
		out[i].sid = cfg->hosts[i].sid;
		out[i].name = cfg->hosts[i].name;
		c->host_sids_given[i] = sids_given(&hs[i]);
	}
	check_sids(c, &c->top, hs, out, cnt, "hosts");
	free(out);
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

/* ---- services[].hosts
 * -------------------------------------------------------- */

struct svc_entry {
	char name[QLB_NAME_MAX];
};

static const struct qlb_key svc_host_keys[] = {
	{"name", KT_STR, K_REQUIRED, QLB_FIELD(struct svc_entry, name)},
	{"server_id", KT_HOOK, .fn = host_server_id},
	{"server_ids", KT_HOOK, K_ABSENT, .fn = host_server_ids},
	{NULL}};

static int name_cmp(const void *a, const void *b, void *arg)
{
	const struct qlb_conf_host *h = arg;

	return strcmp(h[*(const unsigned int *)a].name,
		      h[*(const unsigned int *)b].name);
}

/* hosts[] indices sorted by name, for lookups by name (4096 x 64). */
static unsigned int *host_index(struct ctx *c)
{
	unsigned int *ix = calloc(c->cfg->nhosts + 1, sizeof(*ix)), i;

	if (!ix)
		return NULL;
	for (i = 0; i < c->cfg->nhosts; i++)
		ix[i] = i;
	qsort_r(ix, c->cfg->nhosts, sizeof(*ix), name_cmp, c->cfg->hosts);
	return ix;
}

static int find_host(const struct ctx *c, const unsigned int *ix,
		     const char *name)
{
	unsigned int lo = 0, hi = c->cfg->nhosts;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		int r = strcmp(name, c->cfg->hosts[ix[mid]].name);

		if (!r)
			return (int)ix[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* One entry of services[].hosts: its host index, or -1 (reported). */
static int svc_entry(struct ctx *c, const unsigned int *ix,
		     const yaml_node_t *e, const char *path,
		     struct host_seen *hs, const yaml_node_t **namen)
{
	struct svc_entry se = {""};
	const yaml_node_t *nn = e;
	int h;

	hs->optional = true;
	if (e->type == YAML_MAPPING_NODE) {
		if (qlb_keys_parse(c, e, path, svc_host_keys, &se, hs, NULL) <
			    0 ||
		    !se.name[0])
			return -1;
		nn = qlb_y_get(&c->y, e, "name", NULL);
	} else if (e->type != YAML_SCALAR_NODE || qlb_y_is_null(e)) {
		qlb_y_diag(&c->y, e, path,
			   "expected a host name or {name: NAME, server_id: "
			   "HEX}, got %s",
			   qlb_y_kind(e));
		return -1;
	} else if (!qlb_y_str(&c->y, e, path, se.name, sizeof(se.name))) {
		return -1;
	}
	*namen = nn;
	h = ix && c->cfg->hosts ? find_host(c, ix, se.name) : -1;
	if (h < 0 && c->cfg->hosts)
		qlb_y_diag(&c->y, nn, path, "\"%s\" is not a name in hosts",
			   se.name);
	return h;
}

/* An entry with server_ids only must name a config of its service: else
 * the host serves the service without being reachable by CID there. */
static void names_a_config(struct ctx *c, const struct conf_target *t,
			   const struct host_seen *hs, const yaml_node_t *nn,
			   const char *list, unsigned int i,
			   const struct qlb_conf_service *svc, const char *host)
{
	char ids[32] = "", p[128];
	unsigned int id;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		if (!t->configs[id].present)
			continue;
		if (hs->sid_node[id])
			return;
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%u",
			 ids[0] ? ", " : "", id);
	}
	if (!ids[0])
		return; /* no valid config: reported there */
	snprintf(p, sizeof(p), "%s[%u]", list, i);
	qlb_y_diag(&c->y, nn, p,
		   "host \"%s\" has no server ID for service \"%s\": its "
		   "server_ids name none of the service's configs (%s)",
		   host, svc->name, ids);
}

bool qlb_conf_parse_svc_hosts(struct ctx *c, const yaml_node_t *v,
			      const char *path, struct qlb_conf_service *svc,
			      const struct conf_target *t)
{
	struct qlb_config *cfg = c->cfg;
	struct qlb_conf_svc_host *tmp = NULL;
	const yaml_node_t **namen = NULL;
	struct host_seen *hs = NULL;
	struct sid_out *out = NULL;
	unsigned int *ix = NULL, i, j, n;
	int *where = NULL; /* per host: its entry in this service, or -1 */
	char p[128];
	bool ok = false;

	if (!qlb_y_want_seq(&c->y, v, path))
		return false;
	n = (unsigned int)qlb_y_seq_len(v);
	if (!n) {
		qlb_y_diag(&c->y, v, path, "at least one host is needed");
		return false;
	}
	if (n > QLB_MAX_HOSTS) {
		qlb_y_diag(&c->y, v, path, "%u hosts, more than the maximum %d",
			   n, QLB_MAX_HOSTS);
		return false;
	}
	tmp = calloc(n, sizeof(*tmp));
	namen = calloc(n, sizeof(*namen));
	hs = calloc(n, sizeof(*hs));
	out = calloc(n, sizeof(*out));
	where = malloc((cfg->nhosts + 1) * sizeof(*where));
	ix = host_index(c);
	if (!tmp || !namen || !hs || !out || !where || !ix) {
		qlb_y_diag(&c->y, v, path, "out of memory");
		goto out;
	}
	for (i = 0; i < cfg->nhosts; i++)
		where[i] = -1;
	for (i = 0; i < n; i++) {
		const yaml_node_t *e = qlb_y_seq_item(&c->y, v, i);
		int h;

		snprintf(p, sizeof(p), "%s[%u]", path, i);
		tmp[i].host = UINT_MAX; /* not (yet) a valid entry */
		tmp[i].pos.line = QLB_Y_LINE(e);
		tmp[i].pos.col = QLB_Y_COL(e);
		out[i].has_sid = tmp[i].has_sid;
		out[i].sid = tmp[i].sid;
		h = svc_entry(c, ix, e, p, &hs[i], &namen[i]);
		if (h < 0)
			continue;
		out[i].name = cfg->hosts[h].name;
		if (where[h] >= 0) {
			qlb_y_diag(&c->y, namen[i], p,
				   "host \"%s\" is already in service \"%s\" "
				   "at %d:%d",
				   cfg->hosts[h].name, svc->name,
				   tmp[where[h]].pos.line,
				   tmp[where[h]].pos.col);
			continue;
		}
		where[h] = (int)i;
		tmp[i].host = (unsigned int)h;
		if (sids_given(&hs[i]))
			continue;
		/* no server ID here: those of hosts[] serve the top-level
		 * configs, never a service's own */
		if (svc->own_quic_lb || !c->host_sids_given ||
		    !c->host_sids_given[h]) {
			qlb_y_diag(&c->y, namen[i], p,
				   "host \"%s\" has no server ID for service "
				   "\"%s\"%s: write {name: %s, server_id: HEX} "
				   "(or server_ids)",
				   cfg->hosts[h].name, svc->name,
				   svc->own_quic_lb
					   ? ", which has its own quic_lb"
					   : " (none in hosts[] either)",
				   cfg->hosts[h].name);
			tmp[i].host = UINT_MAX;
			continue;
		}
		memcpy(tmp[i].has_sid, cfg->hosts[h].has_sid,
		       sizeof(tmp[i].has_sid));
		memcpy(tmp[i].sid, cfg->hosts[h].sid, sizeof(tmp[i].sid));
	}
	check_sids(c, t, hs, out, n, path);
	for (i = 0; i < n; i++)
		if (tmp[i].host != UINT_MAX && !hs[i].server_id &&
		    sids_given(&hs[i]))
			names_a_config(c, t, &hs[i], namen[i], path, i, svc,
				       cfg->hosts[tmp[i].host].name);
	svc->hosts = calloc(n, sizeof(*svc->hosts));
	if (!svc->hosts) {
		qlb_y_diag(&c->y, v, path, "out of memory");
		goto out;
	}
	for (i = j = 0; i < n; i++)
		if (tmp[i].host != UINT_MAX)
			svc->hosts[j++] = tmp[i];
	svc->nhosts = j;
	ok = true;
out:
	free(tmp);
	free(namen);
	free(hs);
	free(out);
	free(where);
	free(ix);
	return ok;
}
