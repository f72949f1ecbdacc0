/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The host agent's Unix-socket protocol (host.agent_socket, SOCK_STREAM).
 * libqlb's client (ctl/lib/client.c) and qlbctl agent status/promote
 * (ctl/agent.c) speak it to the agent (ctl/agent_server.c); all three frame
 * messages with ctl/lib/agent_frame.c (qlb/abi/agent_frame.h).
 *
 * Every message is a struct qlb_ap_hdr followed by hdr.len body bytes; a
 * body is one fixed struct below, or (STATUS) a fixed struct followed by
 * arrays whose counts it gives. All integers are host byte order (both
 * ends run on one host). A socket travels as SCM_RIGHTS ancillary data on
 * the first byte of its REGISTER or RESUME message.
 *
 * Session: the agent checks the peer's SO_PEERCRED on accept and sends
 * HELLO, or RESULT with -EACCES and closes. A server then sends REGISTER
 * (or RESUME after an agent restart) and gets REGISTERED then CONFIGS; the
 * agent later pushes CONFIGS (file reload) and GENERATION (the working
 * generation changed) unasked. Control requests (DECLARE, PROMOTE,
 * STATUS_REQ) get RESULT or STATUS.
 *
 * Compatibility: the version is checked on both sides and a peer with a
 * different version is refused with -EPROTONOSUPPORT. A struct changes
 * only by growing into its padding (size pinned below); anything else
 * bumps QLB_AP_VERSION.
 */
#ifndef QLB_AGENT_PROTO_H
#define QLB_AGENT_PROTO_H

#include <linux/types.h>

#define QLB_AP_MAGIC	0x41424c51u /* "QLBA" little endian */
#define QLB_AP_VERSION	1
#define QLB_AP_MAX_BODY (4u << 20) /* STATUS of a big host fits */
#define QLB_AP_HOST_LEN 64
#define QLB_AP_MSG_LEN	160
#define QLB_AP_NCONFIGS 7 /* QLB_CONFIG_MAX */

struct qlb_ap_hdr {
	__u32 magic;
	__u16 version;
	__u16 type; /* enum qlb_ap_type */
	__u32 len;  /* body bytes after this header */
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_ap_hdr) == 16, "qlb_ap_hdr is ABI");

enum qlb_ap_type {
	QLB_AP_HELLO = 1,	/* agent: struct qlb_ap_hello */
	QLB_AP_RESULT = 2,	/* agent: struct qlb_ap_result */
	QLB_AP_REGISTER = 3,	/* server + fd: struct qlb_ap_register */
	QLB_AP_RESUME = 4,	/* server + fd: struct qlb_ap_resume */
	QLB_AP_REGISTERED = 5,	/* agent: struct qlb_ap_registered */
	QLB_AP_CONFIGS = 6,	/* agent: struct qlb_ap_configs */
	QLB_AP_GENERATION = 7,	/* agent: struct qlb_ap_generation */
	QLB_AP_DECLARE = 8,	/* peer: struct qlb_ap_gen_req */
	QLB_AP_PROMOTE = 9,	/* peer: struct qlb_ap_gen_req */
	QLB_AP_STATUS_REQ = 10, /* peer: no body */
	QLB_AP_STATUS = 11,	/* agent: struct qlb_ap_status + arrays */
	/* added after version 1 shipped: an older agent answers RESULT
	 * -EOPNOTSUPP, which a peer takes as "no service view" */
	QLB_AP_SERVICES_REQ = 12, /* peer: no body */
	QLB_AP_SERVICES = 13,	  /* agent: struct qlb_ap_services + arrays */
};

struct qlb_ap_hello {
	__u32 agent_pid;
	__u32 max_workers;	    /* worker IDs are below this */
	char host[QLB_AP_HOST_LEN]; /* host.name, NUL terminated */
};
_Static_assert(sizeof(struct qlb_ap_hello) == 72, "qlb_ap_hello is ABI");

/* Answer to a request, and the refusal on accept. */
struct qlb_ap_result {
	__s32 code; /* 0 or a negative errno */
	__u32 pad;
	char msg[QLB_AP_MSG_LEN]; /* why, NUL terminated */
};
_Static_assert(sizeof(struct qlb_ap_result) == 168, "qlb_ap_result is ABI");

/* Register the socket passed with this message as a worker of @generation. */
struct qlb_ap_register {
	__u32 generation; /* >= 1 */
	__u32 gen_size;	  /* sockets the generation will have, 0 = unknown */
	__u32 flags;	  /* none defined, must be 0 */
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_ap_register) == 16, "qlb_ap_register is ABI");

/*
 * Re-announce a socket registered with an earlier agent process: the agent
 * checks the passed socket's SO_COOKIE against its socket map slot.
 */
struct qlb_ap_resume {
	__u32 worker_id;
	__u32 generation;
	__u64 cookie;
};
_Static_assert(sizeof(struct qlb_ap_resume) == 16, "qlb_ap_resume is ABI");

struct qlb_ap_registered {
	__u32 worker_id;
	__u32 generation;
	__u32 working_generation;
	__u32 pad;
	__u64 cookie; /* SO_COOKIE, for RESUME */
};
_Static_assert(sizeof(struct qlb_ap_registered) == 24,
	       "qlb_ap_registered is ABI");

/* qlb_ap_config.flags */
#define QLB_AP_CF_KEY	     (1u << 0)
#define QLB_AP_CF_ENCODE_LEN (1u << 1)

/* One live QUIC-LB config as a worker needs it to mint. */
struct qlb_ap_config {
	__u8 id; /* codepoint 0..6 */
	__u8 sid_len;
	__u8 nonce_len;
	__u8 worker_bits;
	__u8 flags; /* QLB_AP_CF_* */
	__u8 state; /* enum qlb_conf_state_pub */
	__u8 pad[2];
	__u8 key[16]; /* zero without QLB_AP_CF_KEY */
	__u8 sid[16]; /* this worker's full server ID */
};
_Static_assert(sizeof(struct qlb_ap_config) == 40, "qlb_ap_config is ABI");

/* Every config this host has a server ID under in the service of the
 * worker's socket group (configs without one are not usable by its
 * workers); config ids are that service's. */
struct qlb_ap_configs {
	__u32 count;
	__u32 service; /* index of the service in the file (was padding) */
	struct qlb_ap_config cfg[QLB_AP_NCONFIGS];
};
_Static_assert(sizeof(struct qlb_ap_configs) == 288, "qlb_ap_configs is ABI");

struct qlb_ap_generation {
	__u32 working_generation; /* 0 = none */
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_ap_generation) == 8,
	       "qlb_ap_generation is ABI");

/* DECLARE: @generation will have @size sockets (auto-promote when all are
 * registered). PROMOTE: make @generation the working one (size ignored). */
struct qlb_ap_gen_req {
	__u32 generation;
	__u32 size;
};
_Static_assert(sizeof(struct qlb_ap_gen_req) == 8, "qlb_ap_gen_req is ABI");

struct qlb_ap_worker {
	__u32 worker_id;
	__u32 generation;
	__u32 pid;
	__u32 uid;
	__u64 cookie;
	__u8 connected; /* its registration connection is open */
	__u8 pad[7];
};
_Static_assert(sizeof(struct qlb_ap_worker) == 32, "qlb_ap_worker is ABI");

struct qlb_ap_gen {
	__u32 generation;
	__u32 size;	/* declared (or host.workers), 0 = unknown */
	__u32 state;	/* enum qlb_gen_state */
	__u32 nworkers; /* live sockets */
};
_Static_assert(sizeof(struct qlb_ap_gen) == 16, "qlb_ap_gen is ABI");

#define QLB_AP_STATS 32 /* QLB_HOST_STATS_SLOTS */

/* STATUS body: this, then nworkers qlb_ap_worker, then ngens qlb_ap_gen. */
struct qlb_ap_status {
	__u32 agent_pid;
	__u32 working_generation;
	__u32 nworkers;
	__u32 ngens;
	__u32 max_workers;
	__u32 nclients;	  /* open connections */
	__u32 ifindex;	  /* decap interface, 0 = none */
	__u32 xdp_mode;	  /* qlb_xdp_mode_wire(): 1 native, 2 generic;
			   * 0 not attached */
	__u64 started_ns; /* CLOCK_REALTIME */
	__u64 refused;	  /* peers refused since start */
	char host[QLB_AP_HOST_LEN];
	__u64 rp_stats[QLB_AP_STATS]; /* enum qlb_rp_stat, summed over CPUs */
	__u64 dc_stats[QLB_AP_STATS]; /* enum qlb_dc_stat */
};
_Static_assert(sizeof(struct qlb_ap_status) == 48 + 64 + 16 * 32,
	       "qlb_ap_status is ABI");

/* One service this host serves (SERVICES). */
struct qlb_ap_service {
	char name[QLB_AP_HOST_LEN];
	__u32 index;	/* in the file's services (0: the implicit one) */
	__u32 row;	/* its qlb_hcfg_v2 row (qlb/abi/host_abi.h) */
	__u32 nconfigs; /* configs this host has a server ID under */
	__u32 active;	/* the config id minted under, QLB_AP_NCONFIGS = none */
	__u32 epoch[QLB_AP_NCONFIGS]; /* of its qlb_hcfg_v2 entries, 0 =
					 absent: changes with rotation */
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_ap_service) == 112, "qlb_ap_service is ABI");

/* One socket group (SERVICES). */
struct qlb_ap_group {
	__u32 family; /* AF_INET, AF_INET6 */
	__u32 port;
	__u8 addr[16];		  /* network order; IPv4 in the first 4 */
	__s32 service;		  /* file index of its service, -1 = none */
	__u32 working_generation; /* 0 = none */
	__u32 nworkers;		  /* live sockets */
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_ap_group) == 40, "qlb_ap_group is ABI");

/* Live sockets of one generation in one group (SERVICES). */
struct qlb_ap_group_gen {
	__u32 group; /* index into the groups array */
	__u32 generation;
	__u32 state; /* enum qlb_gen_state */
	__u32 nworkers;
};
_Static_assert(sizeof(struct qlb_ap_group_gen) == 16,
	       "qlb_ap_group_gen is ABI");

/* SERVICES body: this, then nservices qlb_ap_service, ngroups
 * qlb_ap_group, ngroup_gens qlb_ap_group_gen. */
struct qlb_ap_services {
	__u32 nservices;
	__u32 ngroups;
	__u32 ngroup_gens;
	__u32 pad;
};
_Static_assert(sizeof(struct qlb_ap_services) == 16, "qlb_ap_services is ABI");

#endif /* QLB_AGENT_PROTO_H */
