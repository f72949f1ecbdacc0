/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Health checking of the hosts by an LB node (`qlbctl lb run`).
 *
 *  - The state machine: rise/fall counts of consecutive probe results,
 *    so a host that answers every other probe never moves the tables.
 *  - The effective view: a host's `state` in the file is the operator's
 *    intent; health is what this node observes. Effective = intent while
 *    healthy (or not yet known), `down` while unhealthy; when no host
 *    that the file has `active` is healthy, the node fails open (effective
 *    = intent for all) and says so.
 *  - The prober: probes of include/qlb/abi/health_proto.h, encapsulated for
 *    each host exactly as client packets, built in user space and sent
 *    from the node's encap source (UDP socket for GUE, raw IP socket for
 *    IPIP / IP6IP6 / 4-in-6 / 6-in-4).
 *  - The published view: two maps pinned beside the XDP program's
 *    (qlb_health: per host; qlb_health_sum: the node), which `lb status`,
 *    `lb metrics` and `trace --health` read.
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
	unsigned int interval_ms; /* one probe per host per interval */
	unsigned int timeout_ms;  /* < interval_ms */
	unsigned int rise;	  /* consecutive successes: down -> up */
	unsigned int fall;	  /* consecutive failures: up -> down */
	uint16_t port;		  /* UDP port of the hosts' responders */
};

/* One host's machine. */
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

/*
 * qlb_health_effective() - effective states of @cfg's hosts for the
 * health @h (cfg->nhosts entries) into @eff.
 * Return: true when failing open (no host with intent `active` is healthy
 * although the file has some: @eff is then the intent).
 */
bool qlb_health_effective(const struct qlb_config *cfg,
			  const enum qlb_health *h, enum qlb_host_state *eff);

const char *qlb_health_name(enum qlb_health h);
const char *qlb_hp_status_name(unsigned int s);

/* ---- prober -------------------------------------------------------------- */

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
	uint64_t sent, ok, failed; /* probes */
	uint64_t transitions;
};

struct qlb_prober;

/*
 * qlb_prober_new() - sockets and per-host state for @cfg (kept by
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
 * Return: true when some host's health changed. *@next_ns: when to call
 * again at the latest.
 */
bool qlb_prober_run(struct qlb_prober *pr, int fd, uint64_t now_ns,
		    uint64_t *next_ns);

/* Per-host state, in cfg->hosts order. */
const struct qlb_hprobe *qlb_prober_host(const struct qlb_prober *pr,
					 unsigned int i);

/* Whether host @i can be probed at all: a VIP to send to and an encap
 * source to be answered on (else it stays "unknown", taken as healthy). */
bool qlb_prober_can_probe(const struct qlb_prober *pr, unsigned int i);

/* Carry the machines of hosts of the same name from @old (reload). */
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

#define QLB_PIN_HEALTH	   "qlb_health"
#define QLB_PIN_HEALTH_SUM "qlb_health_sum"

struct qlb_health_rec {
	uint8_t intent;	   /* enum qlb_host_state */
	uint8_t health;	   /* enum qlb_health */
	uint8_t effective; /* enum qlb_host_state */
	uint8_t pad;
	uint32_t last_status;
	uint32_t last_rtt_us;
	uint32_t pad2;
	uint64_t since_ns; /* CLOCK_REALTIME of the last health change */
	uint64_t sent, ok, failed, transitions;
};

struct qlb_health_sum {
	uint32_t pid; /* of `lb run` */
	uint8_t fail_open;
	uint8_t pad[3];
	uint32_t interval_ms, timeout_ms, rise, fall, port;
	uint64_t updated_ns; /* CLOCK_REALTIME of the last write */
	uint64_t fail_open_events;
};

/*
 * qlb_health_publish() - write the view into the pins under @pin_dir
 * (created on first use).
 * Return: 0 or -errno.
 */
int qlb_health_publish(const char *pin_dir, const struct qlb_config *cfg,
		       const struct qlb_prober *pr,
		       const enum qlb_host_state *eff, bool fail_open,
		       uint64_t fail_open_events,
		       const struct qlb_health_params *p);

/* Remove the pins (lb run's stop, lb detach). */
void qlb_health_unpublish(const char *pin_dir);

/*
 * qlb_health_view_apply() - replace each host's state in @cfg by its
 * effective state of the view under @pin_dir (`trace --health`).
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
