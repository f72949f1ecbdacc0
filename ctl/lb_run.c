// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * `qlbctl lb run -f FILE`: see lb_run.h.
 *
 * One loop, one thread: probe answers and signals through poll(), probes
 * and timeouts by the clock. A change of any host's health recomputes the
 * effective host states and applies them through the same path as
 * `lb apply` (one slot flip); the file is not re-read for that (a changed
 * file waits for SIGHUP).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "announce.h"
#include "bpf_util.h"
#include "common.h"
#include "config.h"
#include "health.h"
#include "lb_cmd.h"
#include "lb_run.h"

#define LR_TICK_MS 200	/* data-plane check and view refresh */
#define LR_SYNC_MS 1000 /* announcement re-sync (idempotent) */
#define LR_MAX_FDS 4

struct lr {
	const char *file;
	char pin_dir[PATH_MAX];
	struct qlb_config cfg;
	struct qlb_health_params hp;
	struct qlb_prober *pr;
	enum qlb_health *health;  /* cfg.nhosts */
	enum qlb_host_state *eff; /* applied */
	bool fail_open, attached, announced;
	uint64_t fail_open_events;
	int sfd;
};

static void lr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lr_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qlb_vlog(stderr, "%Y-%m-%dT%H:%M:%S", "Z qlbctl lb run: ", fmt, ap);
	va_end(ap);
	fflush(stderr);
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void params_of(const struct qlb_config *cfg, struct qlb_health_params *p)
{
	p->interval_ms = cfg->lb.health.interval_ms;
	p->timeout_ms = cfg->lb.health.timeout_ms;
	p->rise = cfg->lb.health.rise;
	p->fall = cfg->lb.health.fall;
	p->port = cfg->lb.health.port;
	/* a file loaded by an older parser: the defaults */
	if (!p->interval_ms)
		p->interval_ms = QLB_DEFAULT_HEALTH_INTERVAL_MS;
	if (!p->timeout_ms || p->timeout_ms >= p->interval_ms)
		p->timeout_ms = p->interval_ms / 2;
	if (!p->rise)
		p->rise = QLB_DEFAULT_HEALTH_RISE;
	if (!p->fall)
		p->fall = QLB_DEFAULT_HEALTH_FALL;
	if (!p->port)
		p->port = QLB_DEFAULT_HEALTH_PORT;
}

/* ---- applying the effective states -------------------------------------- */

static bool lr_attached(const struct lr *r);

/*
 * lr_apply() - make the data plane run @cfg with host states @eff: with
 * @load, a program not pinned and attached goes through `lb apply` first
 * (start, SIGHUP: what the operator asked for; a health change never
 * brings back a data plane somebody detached); then the effective states
 * are written into the spare slot and flipped to (qlb_lb_fill(), as every
 * apply).
 */
static int lr_apply(struct lr *r, const struct qlb_config *cfg,
		    const enum qlb_host_state *eff, bool load)
{
	struct qlb_config c = *cfg;
	struct qlb_lb_maps m;
	struct qlb_lb_ctrl ctrl = {0};
	char err[512];
	uint8_t mac[6];
	unsigned int i;
	__u32 zero = 0;
	int rc = -1, lock = -1;

	if (load && !lr_attached(r)) {
		struct lb_opts o = {0};

		o.file = r->file;
		snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", r->pin_dir);
		if (lb_apply(&o) != QLB_EXIT_OK)
			return -1;
	}
	c.hosts = calloc(cfg->nhosts + 1, sizeof(*c.hosts));
	if (!c.hosts)
		return -1;
	memcpy(c.hosts, cfg->hosts, cfg->nhosts * sizeof(*c.hosts));
	for (i = 0; i < cfg->nhosts; i++)
		c.hosts[i].state = eff[i];
	qlb_lb_maps_init(&m);
	/* the apply lock, as every writer of the slots takes it */
	lock = qlb_lb_lock(r->pin_dir);
	if (lock < 0) {
		lr_log("cannot lock %s: %s", r->pin_dir, strerror(-lock));
		goto out;
	}
	if (qlb_lb_maps_open(r->pin_dir, &m)) {
		lr_log("%s: pinned maps missing or of another layout (%s)",
		       r->pin_dir, strerror(errno));
		goto out;
	}
	if (bpf_map_lookup_elem(m.ctrl, &zero, &ctrl) ||
	    qlb_lb_if_mac(cfg->lb.interface, mac)) {
		lr_log("cannot read the data plane's state under %s: %s",
		       r->pin_dir, strerror(errno));
		goto out;
	}
	if (qlb_lb_fill(&m, &c, mac, ctrl.ifindex, ctrl.xdp_mode, err,
			sizeof(err))) {
		lr_log("%s; the running config is unchanged", err);
		goto out;
	}
	rc = 0;
out:
	qlb_lb_maps_close(&m);
	if (lock >= 0)
		close(lock);
	free(c.hosts);
	return rc;
}

/* ---- data plane and announcement ---------------------------------------- */

/* Whether our pinned program is attached where the last apply put it. */
static bool lr_attached(const struct lr *r)
{
	char path[PATH_MAX + 64];
	struct qlb_lb_ctrl ctrl = {0};
	__u32 zero = 0, pid;
	int pfd, cfd;

	snprintf(path, sizeof(path), "%s/%s", r->pin_dir, QLB_LB_PIN_PROG);
	pfd = bpf_obj_get(path);
	if (pfd < 0)
		return false;
	pid = qlb_prog_id(pfd);
	close(pfd);
	snprintf(path, sizeof(path), "%s/qlb_ctrl", r->pin_dir);
	cfd = bpf_obj_get(path);
	if (cfd < 0)
		return false;
	bpf_map_lookup_elem(cfd, &zero, &ctrl);
	close(cfd);
	return pid && ctrl.ifindex &&
	       qlb_xdp_attached((int)ctrl.ifindex, ctrl.xdp_mode) == pid;
}

static bool lr_any_healthy(const struct lr *r)
{
	unsigned int i;

	for (i = 0; i < r->cfg.nhosts; i++)
		if (r->eff[i] != QLB_HOST_DOWN &&
		    r->health[i] != QLB_HEALTH_DOWN)
			return true;
	return false;
}

/* Announce the VIPs while the program is attached and a host is healthy;
 * withdraw them otherwise. */
static void lr_announce(struct lr *r, bool log_always)
{
	bool want = r->attached && lr_any_healthy(r), w[QLB_MAX_VIPS];
	char err[512];
	unsigned int i;

	for (i = 0; i < r->cfg.lb.nvips; i++)
		w[i] = want;
	if (qlb_announce_sync(&r->cfg, w, err, sizeof(err)))
		lr_log("%s", err);
	if (want != r->announced || log_always)
		lr_log("VIPs %s (%s)", want ? "announced" : "withdrawn",
		       !r->attached ? "the XDP program is not attached"
		       : want	    ? "program attached, hosts healthy"
				    : "no host is healthy");
	r->announced = want;
}

/* ---- health ------------------------------------------------------------- */

static void lr_publish(struct lr *r)
{
	int e = qlb_health_publish(r->pin_dir, &r->cfg, r->pr, r->eff,
				   r->fail_open, r->fail_open_events, &r->hp);

	if (e && e != -ENOENT)
		lr_log("cannot publish the health view under %s: %s",
		       r->pin_dir, strerror(-e));
}

/* Health changed: log each transition once, recompute, apply. */
static void lr_health_changed(struct lr *r)
{
	enum qlb_host_state *eff;
	unsigned int i;
	bool fo;

	eff = calloc(r->cfg.nhosts ? r->cfg.nhosts : 1, sizeof(*eff));
	if (!eff)
		return;
	for (i = 0; i < r->cfg.nhosts; i++) {
		const struct qlb_hprobe *h = qlb_prober_host(r->pr, i);

		if (h->sm.health != r->health[i] &&
		    !(r->health[i] == QLB_HEALTH_UNKNOWN &&
		      h->sm.health == QLB_HEALTH_UP))
			lr_log("host %s: %s -> %s (%s; last probe: %s)",
			       r->cfg.hosts[i].name,
			       qlb_health_name(r->health[i]),
			       qlb_health_name(h->sm.health),
			       h->sm.health == QLB_HEALTH_DOWN
				       ? "failed probes in a row"
				       : "answered probes in a row",
			       qlb_hp_status_name(h->last_status));
		r->health[i] = h->sm.health;
	}
	fo = qlb_health_effective(&r->cfg, r->health, eff);
	if (fo && !r->fail_open) {
		r->fail_open_events++;
		lr_log("FAIL OPEN: no active host answers probes; forwarding "
		       "to every host as %s says (check this node's uplink)",
		       r->file);
	} else if (!fo && r->fail_open) {
		lr_log("fail-open over: an active host answers again");
	}
	r->fail_open = fo;
	if (memcmp(eff, r->eff, r->cfg.nhosts * sizeof(*eff))) {
		if (lr_apply(r, &r->cfg, eff, false)) {
			lr_log("applying the new host states failed; the "
			       "tables are unchanged");
		} else {
			for (i = 0; i < r->cfg.nhosts; i++)
				if (eff[i] != r->eff[i])
					lr_log("host %s: effective state %s -> "
					       "%s (intent %s)",
					       r->cfg.hosts[i].name,
					       qlb_host_state_name(r->eff[i]),
					       qlb_host_state_name(eff[i]),
					       qlb_host_state_name(
						       r->cfg.hosts[i].state));
			memcpy(r->eff, eff, r->cfg.nhosts * sizeof(*eff));
		}
	}
	free(eff);
	lr_publish(r);
	lr_announce(r, false);
}

/* ---- load, reload ------------------------------------------------------- */

struct lr_state {
	struct qlb_config cfg;
	struct qlb_health_params hp;
	struct qlb_prober *pr;
	enum qlb_health *health;
	enum qlb_host_state *eff;
};

static void lr_state_free(struct lr_state *s)
{
	qlb_prober_free(s->pr);
	free(s->health);
	free(s->eff);
	qlb_config_free(&s->cfg);
}

/* Load @file into @s (prober included), nothing applied. */
static int lr_load(struct lr *r, struct lr_state *s)
{
	char err[512];
	unsigned int i;
	int n;

	memset(s, 0, sizeof(*s));
	n = qlb_config_load(r->file, &s->cfg, stderr);
	if (n) {
		lr_log("%s: %d problem%s", r->file, n, n == 1 ? "" : "s");
		return -1;
	}
	if (qlb_lb_check(&s->cfg, err, sizeof(err))) {
		lr_log("%s", err);
		goto fail;
	}
	params_of(&s->cfg, &s->hp);
	s->pr = qlb_prober_new(&s->cfg, &s->hp, err, sizeof(err));
	if (!s->pr) {
		lr_log("%s", err);
		goto fail;
	}
	s->health = calloc(s->cfg.nhosts + 1, sizeof(*s->health));
	s->eff = calloc(s->cfg.nhosts + 1, sizeof(*s->eff));
	if (!s->health || !s->eff)
		goto fail;
	for (i = 0; i < s->cfg.nhosts; i++) {
		s->eff[i] = s->cfg.hosts[i].state;
		if (!qlb_prober_can_probe(s->pr, i))
			lr_log("host %s cannot be probed: no VIP of a family "
			       "with an encap source; it stays as %s says",
			       s->cfg.hosts[i].name, r->file);
	}
	return 0;
fail:
	lr_state_free(s);
	return -1;
}

static void lr_take(struct lr *r, struct lr_state *s)
{
	r->cfg = s->cfg;
	r->hp = s->hp;
	r->pr = s->pr;
	r->health = s->health;
	r->eff = s->eff;
}

static void lr_give(struct lr *r, struct lr_state *s)
{
	s->cfg = r->cfg;
	s->hp = r->hp;
	s->pr = r->pr;
	s->health = r->health;
	s->eff = r->eff;
}

static void lr_reload(struct lr *r)
{
	struct lr_state n, old;
	unsigned int i;

	lr_log("SIGHUP: reloading %s", r->file);
	if (lr_load(r, &n)) {
		lr_log("reload failed; keeping the running state");
		return;
	}
	if (strcmp(n.cfg.lb.pin_dir, r->cfg.lb.pin_dir))
		lr_log("lb.pin_dir takes effect at the next start only");
	/* health carries over by host name; new hosts start unknown */
	qlb_prober_adopt(n.pr, r->pr);
	for (i = 0; i < n.cfg.nhosts; i++)
		n.health[i] = qlb_prober_host(n.pr, i)->sm.health;
	r->fail_open = qlb_health_effective(&n.cfg, n.health, n.eff);
	if (lr_apply(r, &n.cfg, n.eff, true)) {
		lr_log("reload failed; keeping the running state");
		lr_state_free(&n);
		return;
	}
	lr_give(r, &old);
	lr_take(r, &n);
	lr_state_free(&old);
	lr_log("reloaded %s (%u hosts, %u VIPs)", r->file, r->cfg.nhosts,
	       r->cfg.lb.nvips);
	lr_publish(r);
	lr_announce(r, false);
}

/* ---- the command --------------------------------------------------------- */

static void run_usage(FILE *f)
{
	fprintf(f, "usage: qlbctl lb run -f FILE [--pin-dir DIR] "
		   "[--withdraw-on-exit]\n"
		   "  apply FILE, check the hosts' health, announce the VIPs;\n"
		   "  SIGHUP reloads FILE; SIGTERM exits and leaves the VIPs\n"
		   "  announced while the data plane runs (a restart does not\n"
		   "  flap the routes; 'lb detach' and 'lb drain' withdraw),\n"
		   "  or withdraws them first with --withdraw-on-exit\n");
}

int cmd_lb_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"pin-dir", required_argument, NULL, 'P'},
		{"withdraw-on-exit", no_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lr r = {0};
	struct lr_state s;
	uint64_t next_tick = 0, next_sync = 0;
	char err[512];
	int c, rc = QLB_EXIT_ERR;
	bool withdraw_on_exit = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			r.file = optarg;
			break;
		case 'P':
			snprintf(r.pin_dir, sizeof(r.pin_dir), "%s", optarg);
			break;
		case 'W':
			withdraw_on_exit = true;
			break;
		case 'h':
			run_usage(stdout);
			return QLB_EXIT_OK;
		default:
			return qlb_usage_err(run_usage, "lb run: bad option");
		}
	}
	if (!r.file)
		return qlb_usage_err(run_usage, "lb run: -f FILE is required");
	if (optind < argc)
		return qlb_usage_err(run_usage, "lb run: unexpected '%s'",
				     argv[optind]);
	r.sfd = -1;
	if (lr_load(&r, &s))
		return QLB_EXIT_ERR;
	lr_take(&r, &s);
	if (!r.pin_dir[0])
		snprintf(r.pin_dir, sizeof(r.pin_dir), "%s", r.cfg.lb.pin_dir);

	r.sfd = qlb_signalfd();
	if (r.sfd < 0) {
		lr_log("signalfd: %s", strerror(errno));
		goto out;
	}
	/* health unknown: every host as the file says */
	if (lr_apply(&r, &r.cfg, r.eff, true)) {
		lr_log("cannot apply %s; not starting", r.file);
		goto out;
	}
	lr_log("applied %s under %s; probing %u hosts every %u ms (timeout "
	       "%u ms, rise %u, fall %u, port %u)",
	       r.file, r.pin_dir, r.cfg.nhosts, r.hp.interval_ms,
	       r.hp.timeout_ms, r.hp.rise, r.hp.fall, r.hp.port);
	r.attached = lr_attached(&r);
	lr_publish(&r);
	lr_announce(&r, true);

	for (;;) {
		struct pollfd p[LR_MAX_FDS + 1];
		int fds[LR_MAX_FDS], nfd, i, n;
		uint64_t now = mono_ns(), next = now + LR_TICK_MS * 1000000ull;
		bool changed, stop = false;
		int timeout;

		nfd = qlb_prober_fds(r.pr, fds, LR_MAX_FDS);
		for (i = 0; i < nfd; i++)
			p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		p[nfd] = (struct pollfd){.fd = r.sfd, .events = POLLIN};
		changed = qlb_prober_run(r.pr, -1, now, &next);
		if (next_tick < next)
			next = next_tick > now ? next_tick : now;
		timeout =
			next > now ? (int)((next - now + 999999) / 1000000) : 0;
		n = poll(p, (nfds_t)nfd + 1, timeout);
		if (n < 0 && errno != EINTR)
			break;
		now = mono_ns();
		for (i = 0; n > 0 && i < nfd; i++)
			if (p[i].revents)
				changed |= qlb_prober_run(r.pr, fds[i], now,
							  &next);
		if (n > 0 && p[nfd].revents) {
			struct signalfd_siginfo si;

			while (read(r.sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					lr_reload(&r);
				else
					stop = true;
			}
		}
		if (stop)
			break;
		if (changed)
			lr_health_changed(&r);
		if (now >= next_tick) {
			bool att = lr_attached(&r);

			next_tick = now + LR_TICK_MS * 1000000ull;
			if (att != r.attached) {
				lr_log("the XDP program under %s is %s",
				       r.pin_dir,
				       att ? "attached again" : "gone");
				r.attached = att;
				lr_announce(&r, false);
			}
			lr_publish(&r);
		}
		if (now >= next_sync) {
			next_sync = now + LR_SYNC_MS * 1000000ull;
			lr_announce(&r, false);
		}
	}
	rc = QLB_EXIT_OK;
out:
	/* A stop is not a failure of the data plane: the XDP program keeps
	 * forwarding, so its routes stay and a restarted lb run re-syncs the
	 * same table without a flap. Detach and drain withdraw. */
	if (!withdraw_on_exit)
		lr_log("stopping; the VIPs stay announced while the data plane "
		       "keeps running from %s",
		       r.pin_dir);
	else if (qlb_announce_withdraw_all(&r.cfg, err, sizeof(err)))
		lr_log("%s", err);
	else
		lr_log("VIPs withdrawn; stopping (the data plane keeps "
		       "running from %s)",
		       r.pin_dir);
	if (r.pr)
		lr_publish(&r);
	if (r.sfd >= 0)
		close(r.sfd);
	lr_give(&r, &s);
	lr_state_free(&s);
	return rc;
}
