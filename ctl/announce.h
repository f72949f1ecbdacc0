/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * VIP announcement: qlb decides which VIPs this LB node announces, the
 * routing daemon (BIRD 2, deploy/bgp/) tells the routers.
 *
 * The mechanism is a kernel routing table that belongs to qlb: every VIP
 * address the node announces is one route in it (IPv4 /32 or IPv6 /128,
 * type blackhole, protocol number QLB_ANNOUNCE_PROTO), written over
 * rtnetlink. No "ip rule" points at the table, so it never routes a packet
 * (XDP takes VIP packets before the kernel anyway); it is only a list that
 * BIRD's `protocol kernel { kernel table N; learn; }` imports and exports
 * to BGP. Why a kernel table:
 *   - it outlives qlbctl: a restart of `qlbctl lb run` finds the routes
 *     in place and adds nothing (NLM_F_REPLACE of an identical route does
 *     not notify), so a restart flaps nothing;
 *   - it outlives BIRD: a restarted BIRD learns the table on its first scan;
 *   - it is visible with standard tools (`ip route show table N`);
 *   - withdrawal is one netlink message, seen by BIRD at once (it listens
 *     to route notifications), well inside the 1 s budget.
 *
 * Several VIP entries may share an address (different ports): the address
 * is announced when at least one of its entries is wanted.
 *
 * The table, protocol and BIRD control socket come from the file's
 * lb.announce section (docs/config.md); absent keys take the defaults
 * below.
 */
#ifndef QLB_CTL_ANNOUNCE_H
#define QLB_CTL_ANNOUNCE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define QLB_ANNOUNCE_TABLE	 4242 /* kernel table of announced VIPs */
#define QLB_ANNOUNCE_PROTO	 242  /* rtm_protocol of qlb's routes */
#define QLB_ANNOUNCE_BIRD_SOCKET "/run/bird/bird.ctl"
#define QLB_ANNOUNCE_DRAIN_MS                                                  \
	5000 /* lb detach --drain: wait after                                  \
	      * withdrawing before detaching */

/* Where announcement happens (lb.announce, or the defaults). */
struct qlb_announce_opts {
	uint32_t table;		    /* kernel routing table */
	uint8_t proto;		    /* rtm_protocol of our routes */
	char bird_socket[PATH_MAX]; /* BIRD control socket; "" = none */
	unsigned int drain_ms;	    /* withdraw-to-detach wait */
};

/* Fill @o from @cfg's lb.announce and the defaults. */
void qlb_announce_opts(const struct qlb_config *cfg,
		       struct qlb_announce_opts *o);

/*
 * qlb_announce_sync() - make the table hold exactly the wanted VIPs.
 * @want: one flag per cfg->lb.vips[] entry (true = announce its address).
 * Routes of our protocol in the table whose address is not wanted, or not
 * in @cfg at all (a VIP removed from the file), are deleted; wanted ones
 * are added, and an existing one is left untouched. Idempotent: call it
 * on every health change, reload and tick.
 * Return: 0, or -1 with "announce: table N: VIP: cause" in @err (the rest
 * of the table is still synced as far as possible).
 */
int qlb_announce_sync(const struct qlb_config *cfg, const bool *want, char *err,
		      size_t errlen);

/*
 * qlb_announce_withdraw_all() - delete every route of our protocol in the
 * table (all VIPs withdrawn), e.g. on `lb detach` or when the data plane
 * is found gone. Return: 0, or -1 with a message in @err.
 */
int qlb_announce_withdraw_all(const struct qlb_config *cfg, char *err,
			      size_t errlen);

/*
 * qlb_announce_read() - which of cfg->lb.vips[] are in the table now.
 * @announced: one flag per VIP entry, filled.
 * Return: 0, or -1 with a message in @err.
 */
int qlb_announce_read(const struct qlb_config *cfg, bool *announced, char *err,
		      size_t errlen);

/* The routing daemon as seen through its control socket. */
enum qlb_daemon_state {
	QLB_DAEMON_NONE = 0,	/* no socket configured: nothing to report */
	QLB_DAEMON_MISSING,	/* socket path absent: BIRD not running */
	QLB_DAEMON_DOWN,	/* socket there, connect/read fails */
	QLB_DAEMON_NO_SESSION,	/* BIRD answers, no BGP session established */
	QLB_DAEMON_ESTABLISHED, /* at least one BGP session established */
};

#define QLB_ANNOUNCE_MAX_PEERS 16

struct qlb_daemon_peer {
	char name[32];	/* BIRD protocol name */
	char state[16]; /* "up", "start", "down", ... */
	char info[48];	/* "Established", "Active", "Connect", ... */
};

struct qlb_daemon_status {
	enum qlb_daemon_state state;
	char version[48];    /* "BIRD 2.0.12" */
	unsigned int npeers; /* BGP protocols */
	unsigned int established;
	struct qlb_daemon_peer peers[QLB_ANNOUNCE_MAX_PEERS];
	/* Per cfg->lb.vips[] entry: BIRD holds the route and exports it
	 * to at least one established session (valid when state is
	 * ESTABLISHED). A VIP in our table that BIRD does not export is
	 * "refused" (a filter, a wrong table): status and metrics say so. */
	bool exported[QLB_MAX_VIPS];
	char error[256]; /* why state < NO_SESSION, for status */
};

/*
 * qlb_announce_daemon() - ask the routing daemon (BIRD control socket,
 * `show protocols` and `show route export`) how it is doing. Never
 * blocks longer than about 500 ms. Return: 0 (the state says the rest).
 */
int qlb_announce_daemon(const struct qlb_config *cfg,
			struct qlb_daemon_status *st);

const char *qlb_daemon_state_name(enum qlb_daemon_state s);

/*
 * qlb_announce_drain() - maintenance drain: withdraw every VIP, then wait
 * @wait_ms (0 = opts.drain_ms) so the routers move the traffic to the
 * other LB nodes before the caller detaches. Stops waiting early when
 * qlb_stop_requested is set. Return: 0, or -1 with a message in @err.
 */
int qlb_announce_drain(const struct qlb_config *cfg, unsigned int wait_ms,
		       char *err, size_t errlen);

/*
 * Maintenance drain marker: while it exists, qlb_announce_sync() withdraws
 * every VIP whatever the caller wants, so a running `qlbctl lb run` does
 * not announce again what `qlbctl lb drain` withdrew. One marker per data
 * plane (cfg->lb.pin_dir), under QLB_ANNOUNCE_DRAIN_DIR.
 */
#define QLB_ANNOUNCE_DRAIN_DIR "/run/qlb/lb-drain"
bool qlb_announce_draining(const struct qlb_config *cfg);
int qlb_announce_set_draining(const struct qlb_config *cfg, bool on, char *err,
			      size_t errlen);

/*
 * qlb_announce_withdraw_file() - withdraw every VIP of @file's table
 * (NULL: the default table), for `qlbctl lb detach`. A problem is a
 * warning on stderr: detaching goes on. Return: 0 or -1.
 */
int qlb_announce_withdraw_file(const char *file);

struct qlb_json_w;
/*
 * qlb_announce_status_show() - for `qlbctl lb status`: per VIP of @cfg,
 * whether it is announced and, when not, why (draining, data plane not
 * attached, not in the table, routing daemon missing / down / without a
 * session, or the daemon not exporting it), and the daemon's sessions.
 * @attached: the XDP program is attached. @w: JSON writer (adds an
 * "announce" object), or NULL for plain text on stdout.
 */
void qlb_announce_status_show(const struct qlb_config *cfg, bool attached,
			      struct qlb_json_w *w);

/* qlb_announce_metrics() - Prometheus lines of the same: per-VIP
 * qlb_lb_vip_announced and qlb_lb_vip_exported, the daemon's state. */
void qlb_announce_metrics(FILE *f, const struct qlb_config *cfg);

/* The same two for a file (loaded each call; a file that does not load
 * says so in the output instead). */
void qlb_announce_status_file(const char *file, bool attached,
			      struct qlb_json_w *w);
void qlb_announce_metrics_file(FILE *f, const char *file);

/* `qlbctl lb drain -f FILE [--wait SECS] [--pin-dir DIR]`: withdraw, wait,
 * detach (ctl/lb.c's table names it). */
int cmd_lb_drain(int argc, char **argv);

#endif /* QLB_CTL_ANNOUNCE_H */
