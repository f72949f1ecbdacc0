/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Inside the config loader: the parse context and the schema tables that
 * ctl/config.c (quic_lb, lb, host, the file) and ctl/config_hosts.c (hosts)
 * share. Not for use outside the loader.
 */
#ifndef QLB_CTL_CONFIG_INT_H
#define QLB_CTL_CONFIG_INT_H

#include <stddef.h>

#include "config.h"
#include "yaml_diag.h"

/* What validating one quic_lb config left for the cross-checks. */
struct conf_seen {
	bool ok;       /* present and every field valid */
	bool state_ok; /* state: absent or valid */
	int idx;       /* in quic_lb.configs */
	const yaml_node_t *item, *id, *state;
};

/* Where a quic_lb: block being parsed goes: the top-level one, or a
 * service's own. */
struct conf_target {
	struct qlb_conf_cid *configs; /* [QLB_CONFIG_MAX], by id */
	struct qlb_conf_marks *marks;
	struct conf_seen *seen; /* [QLB_CONFIG_MAX], by id */
};

struct ctx {
	struct qlb_ydoc y;
	char dir[PATH_MAX]; /* key_file paths are relative to it */
	struct qlb_config *cfg;
	bool src_given[2];   /* lb.encap_source_v4/v6 written (valid or not:
				one message per mistake) */
	bool services_given; /* the file has services: */
	struct conf_seen seen[QLB_CONFIG_MAX]; /* of the top-level quic_lb */
	struct conf_target top;		       /* the top-level quic_lb */
	struct conf_target *tgt;	       /* the block being parsed */
	/* per host: server_id or server_ids given in hosts[] */
	bool *host_sids_given;
};

/* ---- the schema --------------------------------------------------------- */

enum qlb_ktype {
	KT_UINT,    /* integer in [min, max], stored in `size` bytes */
	KT_BOOL,    /* bool */
	KT_ENUM,    /* one of names[], stored as its index (an enum) */
	KT_STR,	    /* char[size] */
	KT_IFNAME,  /* char[size], no '/', ':' or blanks */
	KT_ABSPATH, /* char[size], starting with '/' */
	KT_ADDR,    /* struct qlb_addr; min is the family (0 = either) */
	KT_MAC,	    /* uint8_t[6], unicast, not zero */
	KT_HOOK,    /* fn parses it */
};

#define K_REQUIRED 1u /* "missing required key" when absent */
#define K_ABSENT   2u /* KT_HOOK: fn also runs when absent (v NULL) */

struct qlb_key;

/*
 * A key's own code. For KT_HOOK it parses the value (@v, NULL when absent
 * and K_ABSENT is set); for the other types it runs after a valid value was
 * stored, to check what the type cannot. @map is the mapping holding the
 * key, @sect its path, @path the key's; @obj the struct being filled, @aux
 * the section's scratch state.
 * Return: false when the value is wrong (the problem already reported).
 */
typedef bool (*qlb_key_fn)(struct ctx *c, const struct qlb_key *k,
			   const yaml_node_t *map, const yaml_node_t *v,
			   const char *sect, const char *path, void *obj,
			   void *aux);

/* One key of a mapping, written once: its name, type, range, place and
 * default. Tables end with {NULL}. */
struct qlb_key {
	const char *name;
	enum qlb_ktype type;
	unsigned int flags;
	long long min, max;
	size_t off, size; /* in the section's struct; size 0 = not stored */
	long long def;	  /* default of numbers, enums and bools */
	const char *sdef; /* default of strings */
	const char *const *names;
	unsigned int nnames;
	qlb_key_fn fn;
};

#define QLB_FIELD(type, f)                                                     \
	.off = offsetof(type, f), .size = sizeof(((type *)0)->f)

/* Write the defaults of @keys into @obj. */
void qlb_keys_defaults(const struct qlb_key *keys, void *obj);

/*
 * qlb_keys_parse() - check mapping @n against @keys (unknown and duplicate
 * keys reported) and parse every key of the table in its order into @obj.
 * @known (may be NULL) is set when every key of @n is known and unique.
 * Return: -1 when @n is not a mapping (reported), 0 when some value was
 * wrong, 1 when all were right.
 */
int qlb_keys_parse(struct ctx *c, const yaml_node_t *n, const char *sect,
		   const struct qlb_key *keys, void *obj, void *aux,
		   bool *known);

/* ---- shared by the sections ---------------------------------------------- */

extern const char *const qlb_conf_state_names[3];
extern const char *const qlb_host_state_names[3];
extern const char *const qlb_encap_names[2];
extern const char *const qlb_xdp_mode_names[2];

/*
 * qlb_conf_read_key_file() - read a 16-byte key written as 32 hex digits
 * from the file named by scalar @n (relative to the YAML's directory) into
 * @key, its full path into @file. The file must be a regular file owned by
 * this process's user or root, not accessible by group or others.
 * Return: true, or false with the problem reported at @n (@key wiped).
 */
bool qlb_conf_read_key_file(struct ctx *c, const yaml_node_t *n,
			    const char *path, char file[PATH_MAX],
			    uint8_t key[16]);

/* quic_lb: (config_quic_lb.c), parsed first. */
bool qlb_conf_parse_quic_lb(struct ctx *c, const struct qlb_key *k,
			    const yaml_node_t *map, const yaml_node_t *v,
			    const char *sect, const char *path, void *obj,
			    void *aux);

/* lb: (config_lb.c), parsed after quic_lb and hash_secret; its tables
 * give the loader the defaults of lb and lb.announce. */
extern const struct qlb_key qlb_conf_lb_keys[];
extern const struct qlb_key qlb_conf_announce_keys[];
bool qlb_conf_parse_lb(struct ctx *c, const struct qlb_key *k,
		       const yaml_node_t *root, const yaml_node_t *n,
		       const char *sect, const char *path, void *obj,
		       void *aux);

/* hosts: (config_hosts.c), parsed after quic_lb and lb. */
bool qlb_conf_parse_hosts(struct ctx *c, const struct qlb_key *k,
			  const yaml_node_t *map, const yaml_node_t *v,
			  const char *sect, const char *path, void *obj,
			  void *aux);

/* qlb_conf_vip_item() - one {address, port} mapping into @vip (cleared
 * first, its position recorded). Return: true when it parsed whole. */
bool qlb_conf_vip_item(struct ctx *c, const yaml_node_t *m, const char *path,
		       struct qlb_conf_vip *vip);

/*
 * qlb_conf_parse_vips() - a list of {address, port} appended to
 * cfg->lb.vips for service @svc; an address/port pair may appear once in
 * the file (a packet's VIP names one service).
 */
bool qlb_conf_parse_vips(struct ctx *c, const yaml_node_t *v, const char *path,
			 unsigned int svc);

/*
 * qlb_conf_parse_svc_hosts() - services[].hosts: names of hosts[] entries,
 * or {name, server_id, server_ids} with the service's own server IDs,
 * checked against the configs of @t. Fills svc->hosts.
 */
bool qlb_conf_parse_svc_hosts(struct ctx *c, const yaml_node_t *v,
			      const char *path, struct qlb_conf_service *svc,
			      const struct conf_target *t);

/* services: (config_services.c), after hosts:. */
bool qlb_conf_parse_services(struct ctx *c, const struct qlb_key *k,
			     const yaml_node_t *map, const yaml_node_t *v,
			     const char *sect, const char *path, void *obj,
			     void *aux);
/* No services: in the file: one service of lb.vips, every host and the
 * top-level quic_lb. Return: 0 or -ENOMEM. */
int qlb_conf_implicit_service(struct qlb_config *cfg);
/* After the services are parsed (or made implicit): member numbering,
 * per-service host states, and the LB node's limits over all services. */
void qlb_conf_services_finish(struct ctx *c, yaml_node_t *root);

/* lb.health, host.lb_sources, host.vips (config_health.c): key hooks, and
 * the checks across sections, run once the whole file is parsed. */
bool qlb_conf_lb_health(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *map, const yaml_node_t *v,
			const char *sect, const char *path, void *obj,
			void *aux);
bool qlb_conf_host_sources(struct ctx *c, const struct qlb_key *k,
			   const yaml_node_t *map, const yaml_node_t *v,
			   const char *sect, const char *path, void *obj,
			   void *aux);
bool qlb_conf_host_vips(struct ctx *c, const struct qlb_key *k,
			const yaml_node_t *map, const yaml_node_t *v,
			const char *sect, const char *path, void *obj,
			void *aux);
void qlb_conf_health_check(struct ctx *c, const yaml_node_t *root);

#endif /* QLB_CTL_CONFIG_INT_H */
