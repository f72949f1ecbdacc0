/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Health checking of the hosts by an LB node (`qlbctl lb run`), per
 * member: a (service, host) pair, numbered as the LB maps number them
 * (cfg->services[s].member_first + j; ctl/config.h). With one service a
 * member is a host.
 *
 *  - The state machine: rise/fall counts of consecutive probe results,
 *    so a member that answers every other probe never moves the tables.
 *  - The effective view: a member's state in the file
 *    (services[s].hosts[j].state, the host's `state`) is the operator's
 *    intent; health is what this node observes. Effective = intent while
 *    healthy (or not yet known), `down` while unhealthy; when no member of
 *    a service that the file has `active` is healthy, that service fails
 *    open (effective = intent for its members) and says so. Services are
 *    independent: a host down in one stays in the others' tables.
 *  - The prober: one probe per member per interval
 *    (include/qlb/abi/health_proto.h) to one of the member's service's
 *    VIPs, encapsulated for the host exactly as client packets, built in
 *    user space and sent from the node's encap source (UDP socket for
 *    GUE, raw IP socket for IPIP / IP6IP6 / 4-in-6 / 6-in-4).
 *  - The published view: two maps pinned beside the XDP program's
 *    (qlb_health_v2: per member; qlb_health_sum_v2: the node), which
 *    `lb status`, `lb metrics` and `trace --health` read.
 */
#ifndef QLB_CTL_HEALTH_H
#define QLB_CTL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "qlb/abi/health_proto.h"

struct qlb_json_w;

enum qlb_health {
	QLB_HEALTH_UNKNOWN = 0, /* not probed to a verdict yet: taken as up */
	QLB_HEALTH_UP = 1,
	QLB_HEALTH_DOWN = 2,
};

/* Timing of the probes (lb.health). */
struct qlb_health_params {
	unsigned int interval_ms; /* one probe per member per interval */
	unsigned int timeout_ms;  /* < interval_ms */
	unsigned int rise;	  /* consecutive successes: down -> up */
	unsigned int fall;	  /* consecutive failures: up -> down */
	uint16_t port;		  /* UDP port of the hosts' responders */
};

/* One member's machine. */
struct qlb_hsm {
	enum qlb_health health;
	unsigned int ok_run, fail_run; /* consecutive results */
};

/*
 * qlb_hsm_feed() - one probe result.
 * Return: true when the host's health changed (log it, rebuild tables).
 * From UNKNOWN a success makes the host UP at once (it was taken as up
 * already) and @fall failures make it DOWN.
 */
bool qlb_hsm_feed(struct qlb_hsm *s, const struct qlb_health_params *p,
		  bool ok);

/* The number of members of @cfg (over all services). */
unsigned int qlb_health_nmembers(const struct qlb_config *cfg);

/* The service and entry of member @m: 0, or -1 when out of range. */
int qlb_health_member(const struct qlb_config *cfg, unsigned int m,
		      unsigned int *svc, unsigned int *j);

/*
 * qlb_health_effective() - effective states of @cfg's members for the
 * health @h (qlb_health_nmembers() entries) into @eff.
 * @fail_open: NULL, or cfg->nservices flags: whether each service fails
 * open (no member with intent `active` is healthy although the service
 * has some: its members' @eff is then their intent).
 * Return: true when some service fails open.
 */
bool qlb_health_effective(const struct qlb_config *cfg,
			  const enum qlb_health *h, enum qlb_host_state *eff,
			  bool *fail_open);

/*
 * qlb_health_host_state() - the state of host @i for a reader of
 * cfg->hosts[i].state from the per-member states @eff: its intent while
 * some service keeps it, `down` when every service it serves has it down
 * (a host in no service: its intent).
 */
enum qlb_host_state qlb_health_host_state(const struct qlb_config *cfg,
					  const enum qlb_host_state *eff,
					  unsigned int i);

const char *qlb_health_name(enum qlb_health h);
const char *qlb_hp_status_name(unsigned int s);

/* ---- prober -------------------------------------------------------------- */

/*
 * Probes a second an LB node sends at most: one per member per
 * interval_ms, so with more than interval_ms x 5 members (4000 at the
 * default 800 ms) each member is probed every members / 5000 s instead
 * (qlb_prober_interval_ms()). A host gets one probe per service it serves
 * per interval from each LB node.
 */
#define QLB_HP_MAX_RATE 5000

/* Result of a probe beyond enum qlb_hp_status. */
#define QLB_HP_TIMEOUT	  250 /* no answer within timeout_ms */
#define QLB_HP_SEND_ERROR 251 /* could not send (no route, no source) */
#define QLB_HP_UNPROBED	  252 /* no VIP / source to probe with */

struct qlb_hprobe {
	struct qlb_hsm sm;
	uint64_t since_ns; /* CLOCK_REALTIME of the last health change */
	uint64_t next_ns;  /* CLOCK_MONOTONIC of the next probe */
	uint64_t sent_ns;  /* of the outstanding probe, 0 = none */
	uint8_t nonce[16]; /* of the outstanding probe */
	uint32_t last_rtt_us;
	unsigned int last_status;  /* enum qlb_hp_status or QLB_HP_* above */
	unsigned int last_flags;   /* QLB_HP_F_* of the last answer */
	uint64_t sent, ok, failed; /* probes */
	uint64_t transitions;
};

struct qlb_prober;

/*
 * qlb_prober_new() - sockets and per-member state for @cfg (kept by
 * reference: it must outlive the prober) with timing @p.
 * Return: the prober, or NULL with a message in @err.
 */
struct qlb_prober *qlb_prober_new(const struct qlb_config *cfg,
				  const struct qlb_health_params *p, char *err,
				  size_t errlen);
void qlb_prober_free(struct qlb_prober *pr);

/* Descriptors to poll for POLLIN (answers); returns how many (<= max). */
int qlb_prober_fds(const struct qlb_prober *pr, int *fds, int max);

/*
 * qlb_prober_run() - read answers on @fd (-1: none), expire timeouts and
 * send the probes due at @now_ns (CLOCK_MONOTONIC).
 * Return: true when some member's health changed. *@next_ns: when to
 * call again at the latest.
 */
bool qlb_prober_run(struct qlb_prober *pr, int fd, uint64_t now_ns,
		    uint64_t *next_ns);

/* Per-member state, by member index. */
const struct qlb_hprobe *qlb_prober_member(const struct qlb_prober *pr,
					   unsigned int m);

/* The interval the prober probes each member at: lb.health.interval_ms,
 * or longer for more members than QLB_HP_MAX_RATE allows. */
unsigned int qlb_prober_interval_ms(const struct qlb_prober *pr);

/* Whether member @m can be probed at all: a VIP of its service to send to
 * and an encap source to be answered on (else it stays "unknown", taken
 * as healthy). */
bool qlb_prober_can_probe(const struct qlb_prober *pr, unsigned int m);

/* Carry the machines of members of the same service and host names from
 * @old (reload). */
void qlb_prober_adopt(struct qlb_prober *pr, const struct qlb_prober *old);

/*
 * qlb_probe_build() - the inner IP packet of a probe: UDP from
 * @src:@sport to @dst:@dport carrying @msg (checksums filled).
 * Return: its length, or 0 when @buf (>= 160 bytes) is too small.
 */
size_t qlb_probe_build(uint8_t *buf, size_t len, const struct qlb_addr *src,
		       uint16_t sport, const struct qlb_addr *dst,
		       uint16_t dport, const struct qlb_hp_msg *msg);

/* ---- the published view (pinned beside the XDP program) ------------------ */

/* Per member since services; the names of before (one record per host)
 * are removed by unpublish. */
#define QLB_PIN_HEALTH	   "qlb_health_v2"
#define QLB_PIN_HEALTH_SUM "qlb_health_sum_v2"

struct qlb_health_key {
	char service[QLB_NAME_MAX]; /* NUL padded */
	char host[QLB_NAME_MAX];
};

struct qlb_health_rec {
	uint8_t intent;	   /* enum qlb_host_state */
	uint8_t health;	   /* enum qlb_health */
	uint8_t effective; /* enum qlb_host_state */
	uint8_t fail_open; /* the member's service fails open */
	uint32_t last_status;
	uint32_t last_rtt_us;
	uint8_t last_flags; /* QLB_HP_F_* of the last answer */
	uint8_t pad[3];
	uint64_t since_ns; /* CLOCK_REALTIME of the last health change */
	uint64_t sent, ok, failed, transitions;
};

struct qlb_health_sum {
	uint32_t pid;	   /* of `lb run` */
	uint8_t fail_open; /* some service fails open */
	uint8_t pad[3];
	uint32_t interval_ms, timeout_ms, rise, fall, port;
	uint64_t updated_ns;	   /* CLOCK_REALTIME of the last write */
	uint64_t fail_open_events; /* a service starting to fail open */
	uint32_t nservices, nmembers;
	uint32_t services_fail_open;
	uint32_t pad2;
};

/*
 * qlb_health_publish() - write the view into the pins under @pin_dir
 * (created on first use).
 * Return: 0 or -errno.
 */
int qlb_health_publish(const char *pin_dir, const struct qlb_config *cfg,
		       const struct qlb_prober *pr,
		       const enum qlb_host_state *eff, const bool *fail_open,
		       uint64_t fail_open_events,
		       const struct qlb_health_params *p);

/* Remove the pins (lb run's stop, lb detach). */
void qlb_health_unpublish(const char *pin_dir);

/*
 * qlb_health_view_apply() - replace each member's state in @cfg
 * (services[s].hosts[j].state) by its effective state of the view under
 * @pin_dir (`trace --health`), and each host's (hosts[i].state) as
 * qlb_health_host_state() says.
 * Return: 0, or -errno (no view: ENOENT) with a message in @err.
 */
int qlb_health_view_apply(struct qlb_config *cfg, const char *pin_dir,
			  char *err, size_t errlen);

/*
 * qlb_health_status() - the view under @pin_dir for `lb status`: plain
 * lines on @f, or members of the open JSON object of @w (w != NULL).
 * Prints nothing without a view.
 */
void qlb_health_status(FILE *f, struct qlb_json_w *w, const char *pin_dir);

/* Prometheus samples of the view (qlb_lb_health_*); nothing without one. */
void qlb_health_metrics(FILE *f, const char *pin_dir);

/* CLOCK_REALTIME in ns, the clock of since_ns and updated_ns. */
uint64_t qlb_health_real_ns(void);

#endif /* QLB_CTL_HEALTH_H */
