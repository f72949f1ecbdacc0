/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The qlb YAML configuration as plain C structs. One schema serves the LB
 * node (quic_lb, lb, hosts) and the host agent (quic_lb, hosts, host), with
 * hash_secret and services for both; see docs/config.md. qlb_config_load()
 * parses and validates a file whole and touches nothing outside the struct
 * it fills.
 */
#ifndef QLB_CTL_CONFIG_H
#define QLB_CTL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <netinet/in.h>

#include "qlb/cid.h"

#define QLB_MAX_VIPS		512 /* over all services */
#define QLB_MAX_HOSTS		4096
#define QLB_MAX_SERVICES	64
#define QLB_MAX_ALLOW		32
#define QLB_NAME_MAX		64
#define QLB_DEFAULT_MAGLEV_SIZE 65537
#define QLB_DEFAULT_GUE_PORT	6080
#define QLB_DEFAULT_MTU		1500
#define QLB_DEFAULT_DRAIN_TIME	3600 /* seconds a retiring config is kept */
#define QLB_MAX_LB_SOURCES	64   /* host.lb_sources entries */
/* lb.health defaults: a dead host is out within (fall - 1) * interval +
 * timeout after its first unanswered probe, so at most fall * interval +
 * timeout (2.8 s) after it died; a recovered one is back within rise *
 * interval (1.6 s) */
#define QLB_DEFAULT_HEALTH_INTERVAL_MS 800
#define QLB_DEFAULT_HEALTH_TIMEOUT_MS  400
#define QLB_DEFAULT_HEALTH_RISE	       2
#define QLB_DEFAULT_HEALTH_FALL	       3
#define QLB_DEFAULT_HEALTH_PORT	       6070

/* quic_lb.configs[].state */
enum qlb_conf_state {
	/* "routable": LBs route it, servers don't mint under it */
	QLB_CONF_ROUTABLE = 0,
	/* "active": servers mint under it (at most one) */
	QLB_CONF_ACTIVE = 1,
	/* "retiring": routed, no longer minted */
	QLB_CONF_RETIRING = 2,
};

/* hosts[].state */
enum qlb_host_state {
	QLB_HOST_ACTIVE = 0,   /* CID routing and fallback */
	QLB_HOST_DRAINING = 1, /* CID routing only */
	QLB_HOST_DOWN = 2,     /* neither: its CIDs take the fallback */
};

enum qlb_encap {
	QLB_ENCAP_GUE = 0,
	QLB_ENCAP_IPIP = 1, /* IPIP, IP6IP6 or IPv4-in-IPv6 by families */
};

enum qlb_xdp_mode { QLB_XDP_NATIVE = 0, QLB_XDP_GENERIC = 1 };

/* An address of either family. */
struct qlb_addr {
	int family; /* AF_INET, AF_INET6, or 0 = unset */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	};
};

/* Where an item was written, for messages after parsing. */
struct qlb_pos {
	int line, col; /* 1-based; 0 = not in the file */
};

struct qlb_conf_cid {
	bool present;		  /* configs[] is indexed by id */
	unsigned int id;	  /* 0..6 */
	unsigned int sid_len;	  /* bytes */
	unsigned int nonce_len;	  /* bytes */
	unsigned int worker_bits; /* 0..8*sid_len-1 */
	bool has_key;
	uint8_t key[16];
	char key_file[PATH_MAX];   /* "" when the key was inline or absent */
	bool encode_length;	   /* default true */
	enum qlb_conf_state state; /* default active */
	int64_t since;		   /* "since:" unix seconds of the last state
				      change (rotation writes it); 0 = unknown */
	unsigned int drain_time;   /* seconds; default QLB_DEFAULT_DRAIN_TIME */
	struct qlb_pos pos;	   /* of the list item */
};

struct qlb_conf_vip {
	struct qlb_addr addr;
	uint16_t port;
	unsigned int service; /* index into qlb_config.services */
	struct qlb_pos pos;
};

/* lb.health: probing of the hosts by `qlbctl lb run` */
struct qlb_conf_health {
	bool present;		  /* the section is in the file */
	unsigned int interval_ms; /* default 1000 */
	unsigned int timeout_ms;  /* default 500; < interval_ms */
	unsigned int rise;	  /* default 2; >= 1 */
	unsigned int fall;	  /* default 3; >= 1 */
	uint16_t port;		  /* default 6070 = the hosts' health_port */
	struct qlb_pos pos;	  /* of the section */
};

/* lb.announce: where `qlbctl lb run` announces the VIPs (ctl/announce.h) */
struct qlb_conf_announce {
	bool present;	       /* the section is in the file */
	uint32_t table;	       /* kernel routing table; default 4242 */
	unsigned int protocol; /* rtm_protocol of qlb's routes; default 242 */
	char bird_socket[PATH_MAX]; /* default /run/bird/bird.ctl */
	unsigned int drain_time;    /* seconds lb drain waits; default 5 */
};

struct qlb_conf_lb {
	bool present;
	char interface[16];
	enum qlb_xdp_mode xdp_mode; /* default native */
	uint8_t gateway_mac[6];
	struct qlb_addr encap_source_v4; /* family 0 when absent */
	struct qlb_addr encap_source_v6;
	char pin_dir[PATH_MAX];		/* default /sys/fs/bpf/qlb/lb */
	unsigned int maglev_table_size; /* prime; default 65537 */
	unsigned int mtu;		/* outer MTU; default 1500 */
	uint16_t gue_port;		/* default 6080 */
	unsigned int nvips;
	struct qlb_conf_vip vips[QLB_MAX_VIPS];
	struct qlb_conf_health health;
	struct qlb_conf_announce announce;
};

struct qlb_conf_host {
	char name[QLB_NAME_MAX];
	struct qlb_addr address; /* where encapsulated packets go */
	/* server ID per config id: the host part, worker bits zero. Filled
	 * from server_ids: {id: hex} and, for every config it does not name,
	 * from server_id: hex. has_sid[id] false = not routable by CID under
	 * that config. */
	bool has_sid[QLB_CONFIG_MAX];
	uint8_t sid[QLB_CONFIG_MAX][QLB_SID_MAX_LEN];
	enum qlb_encap encap;	   /* default gue */
	unsigned int weight;	   /* default 100; 0..65535 */
	enum qlb_host_state state; /* default active */
	struct qlb_pos pos;
};

/* host.flow_timeout, seconds */
#define QLB_DEFAULT_FLOW_TIMEOUT 10
#define QLB_MAX_FLOW_TIMEOUT	 600

struct qlb_conf_agent { /* the "host:" section */
	bool present;
	char name[QLB_NAME_MAX]; /* must name an entry of hosts: */
	char interface[16];
	char agent_socket[PATH_MAX]; /* default /run/qlb/agent.sock */
	char pin_dir[PATH_MAX];	     /* default /sys/fs/bpf/qlb/host */
	uint16_t gue_port;	     /* default 6080 */
	unsigned int workers;	     /* expected workers per generation
					(auto-promote when complete); 0 = any */
	unsigned int nallow_uids, nallow_gids;
	uint32_t allow_uids[QLB_MAX_ALLOW];
	uint32_t allow_gids[QLB_MAX_ALLOW];
	/* Decapsulation trusts these outer sources only (the LB nodes'
	 * encap_source_v4/v6; lb.encap_source_* of the same file count too)
	 * and inner packets to these VIPs only (lb.vips of the same file
	 * too). */
	unsigned int nlb_sources;
	struct qlb_addr lb_sources[QLB_MAX_LB_SOURCES];
	unsigned int nvips;
	struct qlb_conf_vip vips[QLB_MAX_VIPS];
	uint16_t health_port; /* default 6070: the probe responder */
	/* Seconds a client-chosen DCID keeps reaching the socket its first
	 * datagram went to (qlb_rp_flowcfg); 0 = off, no flow table. */
	unsigned int flow_timeout; /* default 10 */
};

/*
 * Where a node sits in the file, for tools that edit the text in place
 * (qlbctl rotate): byte offsets into the file, end exclusive. start == end
 * == 0 when absent.
 */
struct qlb_span {
	size_t start, end;
	int line, col; /* of start, 1-based */
};

/* Marks of quic_lb.configs, recorded while parsing (additive to the schema). */
struct qlb_conf_marks {
	bool configs_block;		 /* configs: is a block sequence */
	bool item_block[QLB_CONFIG_MAX]; /* the item is a block mapping */
	struct qlb_span
		item[QLB_CONFIG_MAX];	       /* per id: from the start of the
						  line of its '-' to the end
						  of the line of its last value */
	int dash_col[QLB_CONFIG_MAX];	       /* 0-based column of the '-' */
	int key_col[QLB_CONFIG_MAX];	       /* 0-based column of its keys */
	struct qlb_span state[QLB_CONFIG_MAX]; /* the value of state: */
	struct qlb_span since[QLB_CONFIG_MAX]; /* the value of since: */
};

/*
 * hash_secret / hash_secret_file: the fleet's key for the flow hashes (the
 * LB's Maglev hash, the host's fallback DCID hash), so that clients cannot
 * aim Initials or SYNs at one host or worker. Absent: unkeyed, as before.
 */
struct qlb_conf_secret {
	bool present;
	uint8_t key[16];
	char file[PATH_MAX]; /* "" when inline or absent */
};

/* A host as one service sees it: its server IDs under that service's
 * configs (the service's own, or those it gives in hosts[]). */
struct qlb_conf_svc_host {
	unsigned int host; /* index into qlb_config.hosts */
	/* The host's state in this service: the file's hosts[].state once
	 * loaded; the health view of an LB node may set it per service. */
	enum qlb_host_state state;
	bool has_sid[QLB_CONFIG_MAX];
	uint8_t sid[QLB_CONFIG_MAX][QLB_SID_MAX_LEN];
	struct qlb_pos pos; /* of the entry in services[].hosts */
};

/*
 * A service: VIPs, the hosts behind them and the QUIC-LB configs their CIDs
 * use. services: in the file, or one implicit service (lb.vips, every host,
 * the top-level quic_lb) when the file has none.
 */
struct qlb_conf_service {
	char name[QLB_NAME_MAX]; /* "default" for the implicit one */
	bool implicit;
	bool own_quic_lb; /* its own quic_lb: block, else a copy of the
			     top-level configs */
	struct qlb_conf_cid configs[QLB_CONFIG_MAX]; /* by id, as
							qlb_config.configs */
	struct qlb_conf_marks marks;   /* of its own block (else top-level's) */
	unsigned int vip_first, nvips; /* qlb_config.lb.vips[first..+n) */
	unsigned int nhosts;
	struct qlb_conf_svc_host *hosts; /* nhosts entries, malloc'd */
	/* Member index (qlb/abi/lb_abi.h) of hosts[0]; hosts[j] is member
	 * member_first + j. Members are numbered service by service. */
	unsigned int member_first;
	struct qlb_pos pos;
};

struct qlb_config {
	char path[PATH_MAX];
	struct qlb_conf_cid configs[QLB_CONFIG_MAX]; /* by id */
	struct qlb_conf_secret hash_secret;	     /* wiped by _free() */
	struct qlb_conf_lb lb;
	unsigned int nhosts;
	struct qlb_conf_host *hosts; /* nhosts entries, malloc'd */
	struct qlb_conf_agent host;
	struct qlb_conf_marks marks;
	unsigned int nservices;		   /* at least 1 once loaded */
	struct qlb_conf_service *services; /* malloc'd; keys wiped by free */
};

/* One problem found in a file (qlb_config_load_diag()). */
struct qlb_diag {
	int line, col; /* 1-based; 0 = the file as a whole */
	char *msg;     /* without the "file:line:col: " prefix */
};

struct qlb_diags {
	unsigned int n;
	struct qlb_diag *v; /* sorted by line, then column */
};

/*
 * qlb_config_load() - parse and validate @path into @cfg.
 * @errf: every problem is printed there as "file:line:col: message"
 *        (NULL = stderr). All problems are reported, not just the first.
 * Return: 0 when the file is valid; otherwise the number of problems
 * (cfg is then left zeroed and must not be used). Key files are read and
 * their permissions checked (group/other readable = error).
 */
int qlb_config_load(const char *path, struct qlb_config *cfg, FILE *errf);

/*
 * qlb_config_load_diag() - qlb_config_load() that also hands the problems
 * back in @diags (may be NULL; free with qlb_diags_free()). @errf NULL
 * prints nothing here.
 */
int qlb_config_load_diag(const char *path, struct qlb_config *cfg, FILE *errf,
			 struct qlb_diags *diags);
void qlb_diags_free(struct qlb_diags *diags);

/* Free what qlb_config_load() allocated and wipe key material. */
void qlb_config_free(struct qlb_config *cfg);

/* Build the codec config of config @id (must be present). */
int qlb_config_cid_cfg(const struct qlb_config *cfg, unsigned int id,
		       struct qlb_cid_cfg *out);

/* The hosts[] entry called @name, or NULL. */
const struct qlb_conf_host *qlb_config_host(const struct qlb_config *cfg,
					    const char *name);

/* The service called @name, or NULL. */
const struct qlb_conf_service *qlb_config_service(const struct qlb_config *cfg,
						  const char *name);

/* The index of the service whose VIP is @addr:@port, or -1. */
int qlb_config_vip_service(const struct qlb_config *cfg,
			   const struct qlb_addr *addr, uint16_t port);

/* @svc's entry of host @host (an index into cfg->hosts), or NULL when the
 * host does not serve it. */
const struct qlb_conf_svc_host *
qlb_service_host(const struct qlb_conf_service *svc, unsigned int host);

/* Build the codec config of @svc's config @id (must be present). */
int qlb_service_cid_cfg(const struct qlb_conf_service *svc, unsigned int id,
			struct qlb_cid_cfg *out);

const char *qlb_conf_state_name(enum qlb_conf_state s);
const char *qlb_host_state_name(enum qlb_host_state s);
const char *qlb_encap_name(enum qlb_encap e);
const char *qlb_xdp_mode_name(enum qlb_xdp_mode m);

/* Format @a into @buf (INET6_ADDRSTRLEN). */
const char *qlb_addr_str(const struct qlb_addr *a, char *buf, size_t len);

#endif /* QLB_CTL_CONFIG_H */
