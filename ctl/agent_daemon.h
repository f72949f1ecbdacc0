/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The host agent daemon (`qlbctl agent run`): its state, and what each of
 * its files defines for the others.
 *
 *   agent_run.c        life cycle: config load and reload, the poll loop
 *   agent_dataplane.c  BPF objects: load, pin, attach, publish the config
 *   agent_gens.c       socket groups and generations
 *   agent_slots.c      worker sockets, IDs and socket-map slots
 *   agent_server.c     the Unix socket: peers, framing, requests
 *   agent_services.c   which service a socket group serves
 *
 * The data plane lives in the pinned maps: the agent may die and restart
 * at any time and rebuilds this state from them (ag_recover()).
 */
#ifndef QLB_CTL_AGENT_DAEMON_H
#define QLB_CTL_AGENT_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"
#include "qlb/abi/agent_proto.h"
#include "qlb/abi/host_abi.h"

#define AG_MAX_CONNS 1024
#define AG_RBUF	     512 /* peers only send small requests */
#define AG_CHECK_MS  200 /* socket liveness poll */
/* Output queued for a peer beyond what its socket takes: at most this
 * much on top of one message, and no longer than AG_STALL_MS without
 * progress; a peer past either is dropped. */
#define AG_OBUF_MAX  (256u << 10)
#define AG_OBUF_KEEP (16u << 10) /* a drained queue larger is freed */
#define AG_STALL_MS  5000
/* Connections one uid may hold (the agent's own uid: any number), and
 * how long one that holds no worker may stay silent. */
#define AG_UID_CONNS (AG_MAX_CONNS / 4)
#define AG_IDLE_MS   10000
/* A generation more than this above its group's working one is refused:
 * a jump to near 2^32 would leave every next real generation "older than
 * the working one". */
#define AG_GEN_WINDOW 65536u
/* Out of file descriptors: accept again after this long. */
#define AG_ACCEPT_PAUSE_MS 500

struct ag_conn {
	int fd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int worker;	/* registered through here, or -1 */
	int pending_fd; /* SCM_RIGHTS not yet consumed */
	size_t rlen;
	uint8_t rbuf[AG_RBUF];
	/* messages for the peer: sent from ooff to olen */
	uint8_t *obuf;
	size_t olen, ooff, ocap;
	uint64_t stalled_ms; /* since when the peer takes nothing, 0 = not */
	uint64_t last_ms;    /* accepted, or its last message */
	bool dead;	     /* dropped: the main loop closes it */
	uint32_t told;	     /* the working generation it was told */
};

struct ag_worker {
	struct qlb_worker_rec rec;
	int conn; /* index into conns[], or -1 */
};

struct ag_gen {
	uint32_t gen;
	struct qlb_gen_rec rec;
	uint32_t live; /* counted by ag_update_gens() */
	/* set by ag_update_gens(): working in some group; has sockets in a
	 * group whose working generation is newer */
	bool working_now, behind;
};

/* A SO_REUSEPORT group (bound address and port): generations are decided
 * per group. */
struct ag_group {
	struct qlb_group_key key; /* slot 0 */
	struct qlb_work_set ws;	  /* what its live buffer holds */
	uint32_t working;	  /* its working generation, 0 = none */
	/* the service it serves (ag_group_service()), -1 when the file
	 * names none this host serves: its datagrams take the fallback */
	int svc;
	bool used;
};

struct qlb_reuseport;
struct qlb_decap;
struct qlb_host_trust;

struct agent {
	const char *cfg_path;
	struct qlb_config cfg;
	const struct qlb_conf_host *me;
	unsigned int me_idx; /* me - cfg.hosts */
	/* the host serves several services: qlb_hcfg_v2 row 0 sends the
	 * program to the group's row (qlb/abi/host_abi.h) */
	bool multi;
	uint32_t epoch; /* the highest qlb_hcfg_v2 epoch written */
	int m_grp_rows;
	/* what qlb_grp_rows holds, once read (ag_write_group_slots()) */
	bool grp_rows_read;
	struct qlb_group_row grp_rows[QLB_HOST_GROUP_SLOTS];
	char sock_path[PATH_MAX];
	char pin_dir[PATH_MAX];
	struct qlb_reuseport *rp;
	struct qlb_decap *dc;
	int prog_rp, prog_dc;
	int m_socks, m_hcfg, m_work, m_worksel, m_workers, m_gens;
	int m_rp_stats, m_dc_stats, m_dc_cfg;
	int ifindex;		    /* decap attached here, 0 = nowhere */
	enum qlb_xdp_mode xdp_mode; /* how, when ifindex */
	int lfd, sfd;
	int lock_fd;		  /* pin_dir, flock()ed while we run */
	uint64_t accept_after_ms; /* accept paused until then (EMFILE) */
	struct ag_conn *conns[AG_MAX_CONNS];
	struct ag_worker *workers; /* QLB_HOST_MAX_WORKERS */
	uint32_t max_workers, next_id;
	struct ag_gen gens[QLB_HOST_MAX_GENS];
	unsigned int ngens;
	uint32_t working; /* for status: the busiest group's (ag_gens.c) */
	struct ag_group groups[QLB_HOST_MAX_GROUPS];
	struct qlb_host_trust *trust; /* the file's VIPs (agent_probe.h) */
	uint64_t started_ns, refused;
	bool stop;
	struct qlb_probe_resp *resp; /* health probe responder, or NULL */
};

/* ---- agent_run.c ---------------------------------------------------- */

/* Run the agent on @cfg_path until SIGTERM/SIGINT. Return: exit code. */
int qlb_agent_run(const char *cfg_path);

/* ag_log_to() - where ag_log() writes (stderr by default). */
void ag_log_to(FILE *f);
void ag_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t ag_now_real_ns(void);
uint64_t ag_now_ms(void); /* CLOCK_MONOTONIC */

/*
 * ag_new() - an agent with @cfg_path loaded and checked, nothing opened.
 * Return: it (ag_free() frees it), or NULL (reasons logged).
 */
struct agent *ag_new(const char *cfg_path);
void ag_free(struct agent *ag);

/*
 * ag_load() - read and check @path for the agent. Nothing running is
 * touched. Return: 0 or -1 (reasons printed).
 */
int ag_load(const char *path, struct qlb_config *cfg,
	    const struct qlb_conf_host **me);

/* Apply a (re)loaded config to the data plane and the servers. */
int ag_apply(struct agent *ag);

/* ---- agent_dataplane.c ---------------------------------------------- */

/*
 * ag_open_dataplane() - load both BPF objects; with @pin, pinned under
 * pin_dir (reusing the maps of a running data plane), else private to this
 * process (the fuzzer's).
 */
int ag_open_dataplane(struct agent *ag, bool pin);
void ag_close_dataplane(struct agent *ag);
int ag_write_hcfg(struct agent *ag);
int ag_write_dc_cfg(struct agent *ag);
/* Attach (or atomically replace) the decap program on host.interface. */
int ag_attach_xdp(struct agent *ag);
void ag_sum_stats(int fd, __u64 *out, unsigned int n);

/* qlbctl agent detach -f FILE: remove the decap program and the pins. */
int qlb_agent_detach(const char *cfg_path);

/* ---- agent_gens.c --------------------------------------------------- */

/* The cookie of the socket in slot @id, 0 when the slot is empty. */
uint64_t ag_slot_cookie(struct agent *ag, uint32_t id);
/* The group of a bound socket, from getsockname(). Return: 0 or -errno. */
int ag_group_of(int fd, struct qlb_group_key *g);
const char *ag_group_name(const struct qlb_group_key *k, char *buf, size_t len);
/*
 * ag_group_service() - the service group @k serves under ag->cfg, when the
 * host serves it. Return: its index, or -1 with the reason in @err.
 */
int ag_group_service(const struct agent *ag, const struct qlb_group_key *k,
		     char *err, size_t errlen);
/* The qlb_hcfg_v2 row of group @g's datagrams (0 with one service). */
uint32_t ag_group_row(const struct agent *ag, const struct ag_group *g);
/* The group of @k, or NULL. */
struct ag_group *ag_group_find(struct agent *ag, const struct qlb_group_key *k);
/* The service of worker @id's group, or -1. */
int ag_worker_service(struct agent *ag, uint32_t id);
/*
 * ag_write_group_rows() - settle every group's service under ag->cfg and
 * write its row into qlb_worksel (the slot it names kept).
 */
void ag_write_group_rows(struct agent *ag);
/*
 * ag_write_group_slots() - make qlb_grp_rows hold every group's row at its
 * slot (a slot two groups share: QLB_GROUP_ROW_SHARED), changed slots only.
 */
void ag_write_group_slots(struct agent *ag);
/* The working generation of group @k, 0 when none (or no such group). */
uint32_t ag_group_working(struct agent *ag, const struct qlb_group_key *k);
/* The lowest and highest working generation over the groups (0: none). */
void ag_working_range(const struct agent *ag, uint32_t *min, uint32_t *max);
struct ag_gen *ag_gen_find(struct agent *ag, uint32_t gen);
struct ag_gen *ag_gen_get(struct agent *ag, uint32_t gen);
void ag_recover(struct agent *ag);
void ag_write_work_set(struct agent *ag);
void ag_update_gens(struct agent *ag, uint32_t promote);

/* ---- agent_slots.c -------------------------------------------------- */

uint32_t ag_max_workers(const struct qlb_config *cfg,
			const struct qlb_conf_host *me);
/*
 * ag_workers_fit() - can every config @cfg gives host @me hold the ID of
 * every live worker in its worker bits? A worker ID that does not fit
 * would spill into the host part of its server IDs: its CIDs would route
 * to another host. Each config that cannot is logged with the workers.
 * Return: 0 or -ERANGE.
 */
int ag_workers_fit(const struct agent *ag, const struct qlb_config *cfg,
		   const struct qlb_conf_host *me);
/* Workers whose socket left its slot (closed) are gone. */
void ag_check_workers(struct agent *ag);
void ag_do_register(struct agent *ag, int ci, uint32_t gen, uint32_t gen_size,
		    int prefer);
void ag_do_resume(struct agent *ag, int ci, const struct qlb_ap_resume *m);

/* ---- agent_server.c ------------------------------------------------- */

int ag_listen(struct agent *ag);
void ag_accept(struct agent *ag);

/*
 * ag_conn_add() - serve the connected stream @fd of the peer @cr (no
 * greeting sent: ag_accept() does that).
 * Return: its index in ag->conns, or -1 when full (@fd is left open).
 */
int ag_conn_add(struct agent *ag, int fd, const struct ucred *cr);
void ag_close_conn(struct agent *ag, int i);

/* For the poll loop: the events connection @c waits for, what to do when
 * they come, and closing what was dropped or stalled. */
short ag_conn_events(const struct ag_conn *c);
void ag_conn_ready(struct agent *ag, int ci, short revents);
void ag_conns_sweep(struct agent *ag);
void ag_flush(struct ag_conn *c);

/*
 * qlb_agent_conn_read() - what the poll loop calls when connection @ci is
 * readable: read, split into messages, handle each; closes the connection
 * on end of stream or a protocol error.
 */
void qlb_agent_conn_read(struct agent *ag, int ci);

/*
 * qlb_agent_handle_msg() - handle one whole message @h + @body (h->len
 * bytes) from connection @ci. Return: 0, or -1 to close the connection.
 */
int qlb_agent_handle_msg(struct agent *ag, int ci, const struct qlb_ap_hdr *h,
			 const uint8_t *body);

int ag_send(struct ag_conn *c, uint16_t type, const void *body, uint32_t len);
int ag_result(struct ag_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ag_send_configs(struct agent *ag, struct ag_conn *c);
void ag_registered(struct agent *ag, struct ag_conn *c);
void ag_push_generation(struct agent *ag);

#endif /* QLB_CTL_AGENT_DAEMON_H */
