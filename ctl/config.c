// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The qlb YAML configuration: its schema as tables (struct qlb_key: each
 * key once, with its type, range, place and default), the host section,
 * and the loader that validates the whole file before it fills the
 * caller's struct. quic_lb: is in config_quic_lb.c, lb: in config_lb.c,
 * hosts: in config_hosts.c; reading YAML, diagnostics and typed getters in
 * yaml_diag.c. See docs/config.md.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "config_int.h"
#include "common.h"
#include "qlb/libqlb.h"

#define MAX_KEYS 64 /* per mapping; a longer table aborts */

const char *const qlb_conf_state_names[3] = {"routable", "active", "retiring"};
const char *const qlb_host_state_names[3] = {"active", "draining", "down"};
const char *const qlb_encap_names[2] = {"gue", "ipip"};
const char *const qlb_xdp_mode_names[2] = {"native", "generic"};

/* ---- the schema machinery ------------------------------------------------ */

static void store_num(void *p, size_t size, long long v)
{
	switch (size) {
	case 1:
		*(uint8_t *)p = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)p = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)p = (uint32_t)v;
		break;
	case 8:
		*(uint64_t *)p = (uint64_t)v;
		break;
	}
}

void qlb_keys_defaults(const struct qlb_key *keys, void *obj)
{
	const struct qlb_key *k;

	for (k = keys; k->name; k++) {
		char *p = (char *)obj + k->off;

		if (!k->size)
			continue;
		if (k->sdef)
			snprintf(p, k->size, "%s", k->sdef);
		else if (k->type == KT_BOOL)
			*(bool *)p = k->def;
		else if (k->def)
			store_num(p, k->size, k->def);
	}
}

static bool valid_ifname(struct ctx *c, const yaml_node_t *n, const char *path,
			 char *buf, size_t size)
{
	size_t i;

	if (!qlb_y_str(&c->y, n, path, buf, size))
		return false;
	for (i = 0; buf[i]; i++) {
		if (buf[i] == '/' || isspace((unsigned char)buf[i]) ||
		    buf[i] == ':') {
			qlb_y_diag(&c->y, n, path,
				   "\"%s\" is not an interface name", buf);
			return false;
		}
	}
	return true;
}

bool qlb_conf_read_key_file(struct ctx *c, const yaml_node_t *n,
			    const char *path, char file[PATH_MAX],
			    uint8_t key[16])
{
	char buf[256], *s, *e;
	struct stat st;
	ssize_t r;
	int fd, len;
	bool ok = false;

	if (qlb_y_sval(n)[0] == '/')
		snprintf(file, PATH_MAX, "%s", qlb_y_sval(n));
	else if (snprintf(file, PATH_MAX, "%s/%s", c->dir, qlb_y_sval(n)) >=
		 (int)PATH_MAX) {
		qlb_y_diag(&c->y, n, path, "path too long");
		return false;
	}
	/* O_NONBLOCK: a FIFO must not hang the loader before the type check */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		qlb_y_diag(&c->y, n, path, "cannot read key file %s: %s", file,
			   strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		qlb_y_diag(&c->y, n, path, "key file %s is not a regular file",
			   file);
		goto out;
	}
	/* a key file another user owns is one that user can replace */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		qlb_y_diag(&c->y, n, path,
			   "key file %s is owned by uid %u: it must be owned "
			   "by uid %u (this process) or root (chown it)",
			   file, (unsigned int)st.st_uid,
			   (unsigned int)geteuid());
		goto out;
	}
	if (st.st_mode & 077) {
		qlb_y_diag(&c->y, n, path,
			   "key file %s has mode %04o: it must not be "
			   "accessible by group or others (chmod 600)",
			   file, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	r = read(fd, buf, sizeof(buf) - 1);
	if (r < 0) {
		qlb_y_diag(&c->y, n, path, "cannot read key file %s: %s", file,
			   strerror(errno));
		goto out;
	}
	buf[r] = 0;
	for (s = buf; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = 0;
	len = qlb_parse_hex(s, key, 16);
	if (e - s != 32 || len != 16) {
		qlb_y_diag(&c->y, n, path,
			   "key file %s must hold the key as 32 hex digits (16 "
			   "bytes)",
			   file);
		explicit_bzero(key, 16);
		goto out;
	}
	ok = true;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ok;
}

/* Parse @v as @k's type into @p. */
static bool parse_typed(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *v, const char *path, char *p)
{
	struct qlb_ydoc *y = &c->y;
	unsigned int u;
	long long ll;

	switch (k->type) {
	case KT_UINT:
		if (!qlb_y_int(y, v, path, k->min, k->max, &ll))
			return false;
		store_num(p, k->size, ll);
		return true;
	case KT_BOOL:
		return qlb_y_bool(y, v, path, (bool *)p);
	case KT_ENUM:
		if (!qlb_y_enum(y, v, path, k->names, k->nnames, &u))
			return false;
		store_num(p, k->size, u);
		return true;
	case KT_STR:
		return qlb_y_str(y, v, path, p, k->size);
	case KT_IFNAME:
		return valid_ifname(c, v, path, p, k->size);
	case KT_ABSPATH:
		if (!qlb_y_str(y, v, path, p, k->size))
			return false;
		if (p[0] != '/') {
			qlb_y_diag(y, v, path, "\"%s\" is not an absolute path",
				   p);
			return false;
		}
		return true;
	case KT_ADDR:
		return qlb_y_addr(y, v, path, (int)k->min,
				  (struct qlb_addr *)p);
	case KT_MAC:
		return qlb_y_mac(y, v, path, (uint8_t *)p);
	case KT_HOOK:
		break;
	}
	return false;
}

int qlb_keys_parse(struct ctx *c, const yaml_node_t *n, const char *sect,
		   const struct qlb_key *keys, void *obj, void *aux,
		   bool *known)
{
	const char *names[MAX_KEYS + 1];
	const struct qlb_key *k;
	char path[256];
	bool ok = true, kn;
	unsigned int i = 0;

	for (k = keys; k->name; k++) {
		if (i == MAX_KEYS) { /* a schema table too long: a bug here */
			fprintf(stderr,
				"qlbctl: schema of '%s' exceeds %d keys\n",
				sect, MAX_KEYS);
			abort();
		}
		names[i++] = k->name;
	}
	names[i] = NULL;
	kn = qlb_y_map(&c->y, n, sect, names);
	if (known)
		*known = kn;
	if (n->type != YAML_MAPPING_NODE)
		return -1;
	for (k = keys; k->name; k++) {
		const yaml_node_t *v = qlb_y_get(&c->y, n, k->name, NULL);
		char *p = obj ? (char *)obj + k->off : NULL;

		snprintf(path, sizeof(path), "%s%s%s", sect, *sect ? "." : "",
			 k->name);
		if (!v && (k->flags & K_REQUIRED)) {
			qlb_y_diag(&c->y, n, sect, "missing required key '%s'",
				   k->name);
			ok = false;
		}
		if (k->type == KT_HOOK) {
			/* fn NULL: another key's fn reads this one */
			if ((v || (k->flags & K_ABSENT)) && k->fn &&
			    !k->fn(c, k, n, v, sect, path, obj, aux))
				ok = false;
			continue;
		}
		if (!v)
			continue;
		if (!parse_typed(c, k, v, path, p) ||
		    (k->fn && !k->fn(c, k, n, v, sect, path, obj, aux)))
			ok = false;
	}
	return ok;
}

/* ---- host (agent) -------------------------------------------------------- */

static bool agent_name(struct ctx *c, const struct qlb_key *k,
		       const yaml_node_t *m, const yaml_node_t *v,
		       const char *sect, const char *path, void *obj, void *aux)
{
	const struct qlb_conf_agent *a = obj;

	if (c->cfg->hosts && !qlb_config_host(c->cfg, a->name)) {
		qlb_y_diag(&c->y, v, path, "\"%s\" is not a name in hosts",
			   a->name);
		return false;
	}
	return true;
}

static bool agent_socket(struct ctx *c, const struct qlb_key *k,
			 const yaml_node_t *m, const yaml_node_t *v,
			 const char *sect, const char *path, void *obj,
			 void *aux)
{
	const struct qlb_conf_agent *a = obj;

	if (strlen(a->agent_socket) < 108)
		return true;
	qlb_y_diag(&c->y, v, path,
		   "too long for a Unix socket path (at most 107 bytes)");
	return false;
}

static bool agent_workers(struct ctx *c, const struct qlb_key *k,
			  const yaml_node_t *m, const yaml_node_t *v,
			  const char *sect, const char *path, void *obj,
			  void *aux)
{
	const struct qlb_conf_agent *a = obj;
	unsigned int id;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *q = &c->cfg->configs[id];

		if (!q->present || !c->seen[id].ok ||
		    a->workers <= (1u << q->worker_bits))
			continue;
		qlb_y_diag(&c->y, v, path,
			   "%u workers do not fit in worker_bits %u of config "
			   "%u (at most %u)",
			   a->workers, q->worker_bits, id,
			   1u << q->worker_bits);
		return false;
	}
	return true;
}

/* allow_uids, allow_gids: lists of numeric ids. */
static bool agent_ids(struct ctx *c, const struct qlb_key *k,
		      const yaml_node_t *m, const yaml_node_t *n,
		      const char *sect, const char *path, void *obj, void *aux)
{
	struct qlb_conf_agent *a = obj;
	bool gids = !strcmp(k->name, "allow_gids");
	uint32_t *out = gids ? a->allow_gids : a->allow_uids;
	unsigned int *cnt = gids ? &a->nallow_gids : &a->nallow_uids;
	bool ok = true;
	char p[64];
	long long v;
	int i;

	if (!qlb_y_want_seq(&c->y, n, path))
		return false;
	if (qlb_y_seq_len(n) > QLB_MAX_ALLOW) {
		qlb_y_diag(&c->y, n, path,
			   "%d entries, more than the maximum %d",
			   qlb_y_seq_len(n), QLB_MAX_ALLOW);
		return false;
	}
	for (i = 0; i < qlb_y_seq_len(n); i++) {
		snprintf(p, sizeof(p), "%s[%d]", path, i);
		/* (uint32_t)-1 means "no change" to the kernel: never an id */
		if (qlb_y_int(&c->y, qlb_y_seq_item(&c->y, n, i), p, 0,
			      UINT32_MAX - 1, &v))
			out[(*cnt)++] = (uint32_t)v;
		else
			ok = false;
	}
	return ok;
}

/*
 * flow_timeout: whole seconds, or "off" (no flow table: client-chosen DCIDs
 * take the stateless fallback only). 0 is refused rather than read as
 * "off", so that a typo never silently disables the table.
 */
static bool agent_flow_timeout(struct ctx *c, const struct qlb_key *k,
			       const yaml_node_t *m, const yaml_node_t *v,
			       const char *sect, const char *path, void *obj,
			       void *aux)
{
	struct qlb_conf_agent *a = obj;
	unsigned int u;

	if (v->type == YAML_SCALAR_NODE && !strcmp(qlb_y_sval(v), "off")) {
		a->flow_timeout = 0;
		return true;
	}
	if (v->type == YAML_SCALAR_NODE && !strcmp(qlb_y_sval(v), "0")) {
		qlb_y_diag(&c->y, v, path,
			   "0 is not a timeout: write off to disable the flow "
			   "table, or %lld..%lld seconds",
			   k->min, k->max);
		return false;
	}
	if (!qlb_y_uint(&c->y, v, path, k->min, k->max, &u))
		return false;
	a->flow_timeout = u;
	return true;
}

#define AG(f) QLB_FIELD(struct qlb_conf_agent, f)
static const struct qlb_key agent_keys[] = {
	{"name", KT_STR, K_REQUIRED, AG(name), .fn = agent_name},
	{"interface", KT_IFNAME, K_REQUIRED, AG(interface)},
	{"agent_socket", KT_ABSPATH, AG(agent_socket),
	 .sdef = "/run/qlb/agent.sock", .fn = agent_socket},
	{"pin_dir", KT_ABSPATH, AG(pin_dir), .sdef = "/sys/fs/bpf/qlb/host"},
	{"gue_port", KT_UINT, 0, 1, 65535, AG(gue_port),
	 .def = QLB_DEFAULT_GUE_PORT},
	{"workers", KT_UINT, 0, 0, 65536, AG(workers), .fn = agent_workers},
	{"allow_uids", KT_HOOK, .fn = agent_ids},
	{"allow_gids", KT_HOOK, .fn = agent_ids},
	{"lb_sources", KT_HOOK, .fn = qlb_conf_host_sources},
	{"vips", KT_HOOK, .fn = qlb_conf_host_vips},
	{"health_port", KT_UINT, 0, 1, 65535, AG(health_port),
	 .def = QLB_DEFAULT_HEALTH_PORT},
	{"flow_timeout", KT_HOOK, 0, 1, QLB_MAX_FLOW_TIMEOUT, AG(flow_timeout),
	 .def = QLB_DEFAULT_FLOW_TIMEOUT, .fn = agent_flow_timeout},
	{NULL}};
#undef AG

static bool parse_agent(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *root, const yaml_node_t *n,
			const char *sect, const char *path, void *obj,
			void *aux)
{
	c->cfg->host.present = true;
	return qlb_keys_parse(c, n, "host", agent_keys, &c->cfg->host, NULL,
			      NULL) == 1;
}

/* ---- hash_secret --------------------------------------------------------- */

/*
 * hash_secret (inline) or hash_secret_file: the fleet's key for the flow
 * hashes, a secret like a QUIC-LB key (never echoed, same file rules).
 */
static bool parse_hash_secret(struct ctx *c, const struct qlb_key *k,
			      const yaml_node_t *root, const yaml_node_t *v,
			      const char *sect, const char *path, void *obj,
			      void *aux)
{
	struct qlb_conf_secret *hs = &c->cfg->hash_secret;
	yaml_node_t *fk = NULL;
	const yaml_node_t *f = qlb_y_get(&c->y, root, "hash_secret_file", &fk);
	uint8_t b[32];
	int n;

	if (v && f) {
		qlb_y_diag(&c->y, fk, "hash_secret_file",
			   "give hash_secret or hash_secret_file, not both "
			   "(hash_secret at %d:%d)",
			   QLB_Y_LINE(v), QLB_Y_COL(v));
		return false;
	}
	if (f) {
		if (!qlb_y_want_scalar(&c->y, f, "hash_secret_file",
				       "a path") ||
		    !qlb_conf_read_key_file(c, f, "hash_secret_file", hs->file,
					    hs->key))
			return false;
		hs->present = true;
		return true;
	}
	if (!v)
		return true; /* unkeyed hashes, as before the option existed */
	n = qlb_y_want_scalar(&c->y, v, path, "32 hex digits")
		    ? qlb_y_hex(&c->y, v, path, b, sizeof(b), true)
		    : -1;
	if (n >= 0 && n != 16)
		qlb_y_diag(&c->y, v, path,
			   "must be 32 hex digits (16 bytes), got %d bytes", n);
	if (n == 16) {
		memcpy(hs->key, b, 16);
		hs->present = true;
	}
	explicit_bzero(b, sizeof(b));
	return n == 16;
}

/* ---- the file
 * ---------------------------------------------------------------- */

static bool need_hosts(struct ctx *c, const struct qlb_key *k,
		       const yaml_node_t *root, const yaml_node_t *n,
		       const char *sect, const char *path, void *obj, void *aux)
{
	if (n)
		return qlb_conf_parse_hosts(c, k, root, n, sect, path, obj,
					    aux);
	qlb_y_diag(&c->y, root, "", "missing required section 'hosts'");
	return false;
}

/* In this order: hosts need lb's encap sources, host needs hosts. Neither
 * lb nor host is fine too: the shared part of a fleet file that operators
 * rotate and each node's file extends. */
static const struct qlb_key root_keys[] = {
	{"quic_lb", KT_HOOK, K_ABSENT, .fn = qlb_conf_parse_quic_lb},
	{"hash_secret", KT_HOOK, K_ABSENT, .fn = parse_hash_secret},
	{"hash_secret_file", KT_HOOK, 0, .fn = NULL}, /* parse_hash_secret */
	{"lb", KT_HOOK, .fn = qlb_conf_parse_lb},
	{"hosts", KT_HOOK, K_ABSENT, .fn = need_hosts},
	{"services", KT_HOOK, .fn = qlb_conf_parse_services},
	{"host", KT_HOOK, .fn = parse_agent},
	{NULL}};

static void parse_root(struct ctx *c, yaml_node_t *root)
{
	struct qlb_config *cfg = c->cfg;
	yaml_node_t *lb, *host;

	if (!root) {
		qlb_y_diag(&c->y, NULL, "",
			   "the file is empty: quic_lb is required");
		return;
	}
	/* lb.vips and hosts[]' server IDs depend on it */
	c->services_given = qlb_y_get(&c->y, root, "services", NULL);
	if (qlb_keys_parse(c, root, "", root_keys, cfg, NULL, NULL) < 0)
		return;
	lb = qlb_y_get(&c->y, root, "lb", NULL);
	host = qlb_y_get(&c->y, root, "host", NULL);
	qlb_conf_health_check(c, root);
	if (lb && host && cfg->lb.gue_port != cfg->host.gue_port) {
		yaml_node_t *hg = qlb_y_get(&c->y, host, "gue_port", NULL);
		yaml_node_t *g =
			hg ? hg : qlb_y_get(&c->y, lb, "gue_port", NULL);

		qlb_y_diag(&c->y, g,
			   g && g == hg ? "host.gue_port" : "lb.gue_port",
			   "lb.gue_port %u and host.gue_port %u differ: LB "
			   "nodes would send GUE where hosts do not listen",
			   cfg->lb.gue_port, cfg->host.gue_port);
	}
	if (lb && lb->type == YAML_MAPPING_NODE &&
	    cfg->lb.maglev_table_size <= cfg->nhosts) {
		yaml_node_t *m =
			qlb_y_get(&c->y, lb, "maglev_table_size", NULL);

		qlb_y_diag(&c->y, m ? m : lb, "lb.maglev_table_size",
			   "%u is not above the number of hosts (%u)",
			   cfg->lb.maglev_table_size, cfg->nhosts);
	}
	if (!c->services_given && !c->y.d.n && qlb_conf_implicit_service(cfg))
		qlb_y_diag(&c->y, NULL, "", "out of memory");
	if (!c->y.d.n)
		qlb_conf_services_finish(c, root);
}

int qlb_config_load_diag(const char *path, struct qlb_config *cfg, FILE *errf,
			 struct qlb_diags *diags)
{
	struct ctx c = {.cfg = cfg};
	yaml_node_t *root;

	c.top.configs = cfg->configs;
	c.top.marks = &cfg->marks;
	c.top.seen = c.seen;
	c.tgt = &c.top;
	char *slash;
	int n;

	memset(cfg, 0, sizeof(*cfg));
	if (diags)
		memset(diags, 0, sizeof(*diags));
	qlb_keys_defaults(qlb_conf_lb_keys, &cfg->lb);
	qlb_keys_defaults(qlb_conf_announce_keys, &cfg->lb.announce);
	qlb_keys_defaults(agent_keys, &cfg->host);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(c.dir, sizeof(c.dir), "%s", path);
	slash = strrchr(c.dir, '/');
	if (slash)
		*(slash == c.dir ? slash + 1 : slash) = 0;
	else
		snprintf(c.dir, sizeof(c.dir), ".");

	root = qlb_y_open(&c.y, path);
	if (c.y.parsed)
		parse_root(&c, root);
	if (!errf && !diags)
		errf = stderr;
	n = qlb_y_close(&c.y, errf, diags);
	free(c.host_sids_given);
	if (n) {
		qlb_config_free(cfg);
		memset(cfg, 0, sizeof(*cfg));
	}
	return n;
}

void qlb_config_free(struct qlb_config *cfg)
{
	unsigned int i;

	if (!cfg)
		return;
	for (i = 0; cfg->services && i < cfg->nservices; i++) {
		explicit_bzero(cfg->services[i].configs,
			       sizeof(cfg->services[i].configs));
		free(cfg->services[i].hosts);
	}
	free(cfg->services);
	cfg->services = NULL;
	cfg->nservices = 0;
	free(cfg->hosts);
	cfg->hosts = NULL;
	cfg->nhosts = 0;
	explicit_bzero(cfg->configs, sizeof(cfg->configs));
	explicit_bzero(&cfg->hash_secret, sizeof(cfg->hash_secret));
}

int qlb_config_load(const char *path, struct qlb_config *cfg, FILE *errf)
{
	return qlb_config_load_diag(path, cfg, errf ? errf : stderr, NULL);
}

int qlb_config_cid_cfg(const struct qlb_config *cfg, unsigned int id,
		       struct qlb_cid_cfg *out)
{
	const struct qlb_conf_cid *q;

	if (id >= QLB_CONFIG_MAX || !cfg->configs[id].present)
		return -EINVAL;
	q = &cfg->configs[id];
	return qlb_cid_cfg_init(out, id, q->sid_len, q->nonce_len,
				q->has_key ? q->key : NULL, q->encode_length,
				q->worker_bits);
}

const struct qlb_conf_host *qlb_config_host(const struct qlb_config *cfg,
					    const char *name)
{
	unsigned int i;

	for (i = 0; i < cfg->nhosts; i++)
		if (!strcmp(cfg->hosts[i].name, name))
			return &cfg->hosts[i];
	return NULL;
}

const char *qlb_conf_state_name(enum qlb_conf_state s)
{
	return (unsigned int)s < 3 ? qlb_conf_state_names[s] : "?";
}

const char *qlb_host_state_name(enum qlb_host_state s)
{
	return (unsigned int)s < 3 ? qlb_host_state_names[s] : "?";
}

const char *qlb_encap_name(enum qlb_encap e)
{
	return (unsigned int)e < 2 ? qlb_encap_names[e] : "?";
}

const char *qlb_xdp_mode_name(enum qlb_xdp_mode m)
{
	return (unsigned int)m < 2 ? qlb_xdp_mode_names[m] : "?";
}

const char *qlb_addr_str(const struct qlb_addr *a, char *buf, size_t len)
{
	if (!a->family || !inet_ntop(a->family, a->bytes, buf, len))
		snprintf(buf, len, "-");
	return buf;
}
