// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * `qlbctl lb run -f FILE`: see lb_run.h.
 *
 * One loop, one thread: probe answers and signals through poll(), probes
 * and timeouts by the clock. Health is per member, a (service, host) pair
 * (ctl/health.h). A change of any member's health recomputes the
 * effective states and applies them through the same path as `lb apply`
 * (one slot flip), each service's tables from its own members' states;
 * the file is not re-read for that (a changed file waits for SIGHUP).
 * Each service's VIPs are announced while that service has a healthy
 * member and the program is attached, independently of the others.
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
	unsigned int nm;	  /* members */
	enum qlb_health *health;  /* by member */
	enum qlb_host_state *eff; /* by member: applied */
	bool *fail_open;	  /* by service */
	bool *announced;	  /* by service */
	bool attached;
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

/* The tables' view of @cfg with member states @eff: a copy whose
 * services[s].hosts[j].state are @eff, and whose hosts[i].state are what
 * qlb_health_host_state() says. Only the arrays it changes are its own
 * (lr_view_free()). */
static int lr_view(struct qlb_config *c, const struct qlb_config *cfg,
		   const enum qlb_host_state *eff)
{
	unsigned int i, s, j;

	*c = *cfg;
	c->hosts = calloc(cfg->nhosts + 1, sizeof(*c->hosts));
	c->services = calloc(cfg->nservices + 1, sizeof(*c->services));
	if (!c->hosts || !c->services)
		return -1;
	memcpy(c->hosts, cfg->hosts, cfg->nhosts * sizeof(*c->hosts));
	memcpy(c->services, cfg->services,
	       cfg->nservices * sizeof(*c->services));
	for (s = 0; s < cfg->nservices; s++)
		c->services[s].hosts = NULL;
	for (s = 0; s < cfg->nservices; s++) {
		struct qlb_conf_service *sv = &c->services[s];

		sv->hosts = calloc(sv->nhosts + 1, sizeof(*sv->hosts));
		if (!sv->hosts)
			return -1;
		memcpy(sv->hosts, cfg->services[s].hosts,
		       sv->nhosts * sizeof(*sv->hosts));
		for (j = 0; j < sv->nhosts; j++)
			sv->hosts[j].state = eff[sv->member_first + j];
	}
	for (i = 0; i < cfg->nhosts; i++)
		c->hosts[i].state = qlb_health_host_state(cfg, eff, i);
	return 0;
}

static void lr_view_free(struct qlb_config *c)
{
	unsigned int s;

	for (s = 0; c->services && s < c->nservices; s++)
		free(c->services[s].hosts);
	if (c->services) /* the copies of the services' keys */
		explicit_bzero(c->services,
			       c->nservices * sizeof(*c->services));
	free(c->services);
	free(c->hosts);
}

/*
 * lr_apply() - make the data plane run @cfg with member states @eff: with
 * @load, a program not pinned and attached goes through `lb apply` first
 * (start, SIGHUP: what the operator asked for; a health change never
 * brings back a data plane somebody detached); then the effective states
 * are written into the spare slot and flipped to (qlb_lb_fill(), as every
 * apply).
 */
static int lr_apply(struct lr *r, const struct qlb_config *cfg,
		    const enum qlb_host_state *eff, bool load)
{
	struct qlb_config c;
	struct qlb_lb_maps m;
	struct qlb_lb_ctrl ctrl = {0};
	char err[512];
	uint8_t mac[6];
	__u32 zero = 0;
	int rc = -1, lock = -1;

	if (load && !lr_attached(r)) {
		struct lb_opts o = {0};

		o.file = r->file;
		snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", r->pin_dir);
		if (lb_apply(&o) != QLB_EXIT_OK)
			return -1;
	}
	qlb_lb_maps_init(&m);
	if (lr_view(&c, cfg, eff)) {
		lr_log("applying the host states: out of memory");
		goto out;
	}
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
	lr_view_free(&c);
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

/* Whether service @s has a member that is healthy (or not judged yet)
 * and not down: one that takes its traffic. A service failing open has
 * none. */
static bool lr_svc_healthy(const struct lr *r, unsigned int s)
{
	const struct qlb_conf_service *sv = &r->cfg.services[s];
	unsigned int j;

	for (j = 0; j < sv->nhosts; j++) {
		unsigned int m = sv->member_first + j;

		if (r->eff[m] != QLB_HOST_DOWN &&
		    r->health[m] != QLB_HEALTH_DOWN)
			return true;
	}
	return false;
}

/*
 * Announce each service's VIPs while the program is attached and the
 * service has a healthy member; withdraw them otherwise. Services are
 * independent (routes are per address: one shared by two services' VIPs
 * stays while either wants it, announce.c).
 */
static void lr_announce(struct lr *r, bool log_always)
{
	static bool w[QLB_MAX_VIPS];
	char err[512];
	unsigned int i, s;

	for (s = 0; s < r->cfg.nservices; s++) {
		const struct qlb_conf_service *sv = &r->cfg.services[s];
		bool want = r->attached && lr_svc_healthy(r, s);

		for (i = sv->vip_first;
		     i < sv->vip_first + sv->nvips && i < QLB_MAX_VIPS; i++)
			w[i] = want;
		if (want != r->announced[s] || log_always)
			lr_log("service %s: VIPs %s (%s)", sv->name,
			       want ? "announced" : "withdrawn",
			       !r->attached ? "the XDP program is not attached"
			       : want	    ? "program attached, hosts healthy"
			       : r->fail_open[s]
				       ? "no host of the service is healthy; "
					 "failing open"
				       : "no host of the service is healthy");
		r->announced[s] = want;
	}
	/* VIPs of no service (none once loaded): as the node */
	for (i = 0; i < r->cfg.lb.nvips && i < QLB_MAX_VIPS; i++)
		if (r->cfg.lb.vips[i].service >= r->cfg.nservices)
			w[i] = false;
	if (qlb_announce_sync(&r->cfg, w, err, sizeof(err)))
		lr_log("%s", err);
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

/* The names of member @m for the log. */
static void lr_member_names(const struct lr *r, unsigned int m,
			    const char **svc, const char **host)
{
	unsigned int s = 0, j = 0;

	qlb_health_member(&r->cfg, m, &s, &j);
	*svc = r->cfg.services[s].name;
	*host = r->cfg.hosts[r->cfg.services[s].hosts[j].host].name;
}

/* Health changed: log each transition once, recompute, apply. */
static void lr_health_changed(struct lr *r)
{
	enum qlb_host_state *eff;
	bool *fo;
	unsigned int i, s;
	const char *sn, *hn;

	eff = calloc(r->nm + 1, sizeof(*eff));
	fo = calloc(r->cfg.nservices + 1, sizeof(*fo));
	if (!eff || !fo) {
		free(eff);
		free(fo);
		return;
	}
	for (i = 0; i < r->nm; i++) {
		const struct qlb_hprobe *h = qlb_prober_member(r->pr, i);

		if (h->sm.health != r->health[i] &&
		    !(r->health[i] == QLB_HEALTH_UNKNOWN &&
		      h->sm.health == QLB_HEALTH_UP)) {
			lr_member_names(r, i, &sn, &hn);
			lr_log("service %s: host %s: %s -> %s (%s; last probe: "
			       "%s)",
			       sn, hn, qlb_health_name(r->health[i]),
			       qlb_health_name(h->sm.health),
			       h->sm.health == QLB_HEALTH_DOWN
				       ? "failed probes in a row"
				       : "answered probes in a row",
			       qlb_hp_status_name(h->last_status));
		}
		r->health[i] = h->sm.health;
	}
	qlb_health_effective(&r->cfg, r->health, eff, fo);
	for (s = 0; s < r->cfg.nservices; s++) {
		if (fo[s] && !r->fail_open[s]) {
			r->fail_open_events++;
			lr_log("service %s: FAIL OPEN: no active host of the "
			       "service answers probes; forwarding to its "
			       "hosts as %s says (check this node's uplink)",
			       r->cfg.services[s].name, r->file);
		} else if (!fo[s] && r->fail_open[s]) {
			lr_log("service %s: fail-open over: an active host "
			       "answers again",
			       r->cfg.services[s].name);
		}
		r->fail_open[s] = fo[s];
	}
	if (memcmp(eff, r->eff, r->nm * sizeof(*eff))) {
		if (lr_apply(r, &r->cfg, eff, false)) {
			lr_log("applying the new host states failed; the "
			       "tables are unchanged");
		} else {
			for (i = 0; i < r->nm; i++) {
				unsigned int sv = 0, j = 0;

				if (eff[i] == r->eff[i])
					continue;
				lr_member_names(r, i, &sn, &hn);
				qlb_health_member(&r->cfg, i, &sv, &j);
				lr_log("service %s: host %s: effective state "
				       "%s -> %s (intent %s)",
				       sn, hn, qlb_host_state_name(r->eff[i]),
				       qlb_host_state_name(eff[i]),
				       qlb_host_state_name(r->cfg.services[sv]
								   .hosts[j]
								   .state));
			}
			memcpy(r->eff, eff, r->nm * sizeof(*eff));
		}
	}
	free(eff);
	free(fo);
	lr_publish(r);
	lr_announce(r, false);
}

/* ---- load, reload ------------------------------------------------------- */

struct lr_state {
	struct qlb_config cfg;
	struct qlb_health_params hp;
	struct qlb_prober *pr;
	unsigned int nm;
	enum qlb_health *health;
	enum qlb_host_state *eff;
	bool *fail_open, *announced;
};

static void lr_state_free(struct lr_state *s)
{
	qlb_prober_free(s->pr);
	free(s->health);
	free(s->eff);
	free(s->fail_open);
	free(s->announced);
	qlb_config_free(&s->cfg);
}

/* Load @file into @s (prober included), nothing applied. */
static int lr_load(struct lr *r, struct lr_state *s)
{
	char err[512];
	unsigned int i, sv, j;
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
	s->nm = qlb_health_nmembers(&s->cfg);
	if (qlb_prober_interval_ms(s->pr) != s->hp.interval_ms) {
		lr_log("%u members at lb.health.interval_ms %u would be more "
		       "than %u probes a second: each member is probed every "
		       "%u ms instead",
		       s->nm, s->hp.interval_ms, QLB_HP_MAX_RATE,
		       qlb_prober_interval_ms(s->pr));
		s->hp.interval_ms = qlb_prober_interval_ms(s->pr);
	}
	s->health = calloc(s->nm + 1, sizeof(*s->health));
	s->eff = calloc(s->nm + 1, sizeof(*s->eff));
	s->fail_open = calloc(s->cfg.nservices + 1, sizeof(*s->fail_open));
	s->announced = calloc(s->cfg.nservices + 1, sizeof(*s->announced));
	if (!s->health || !s->eff || !s->fail_open || !s->announced)
		goto fail;
	for (i = 0; i < s->nm; i++) {
		if (qlb_health_member(&s->cfg, i, &sv, &j))
			continue;
		s->eff[i] = s->cfg.services[sv].hosts[j].state;
		if (!qlb_prober_can_probe(s->pr, i))
			lr_log("service %s: host %s cannot be probed: no VIP "
			       "of the service of a family with an encap "
			       "source; it stays as %s says",
			       s->cfg.services[sv].name,
			       s->cfg.hosts[s->cfg.services[sv].hosts[j].host]
				       .name,
			       r->file);
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
	r->nm = s->nm;
	r->health = s->health;
	r->eff = s->eff;
	r->fail_open = s->fail_open;
	r->announced = s->announced;
}

static void lr_give(struct lr *r, struct lr_state *s)
{
	s->cfg = r->cfg;
	s->hp = r->hp;
	s->pr = r->pr;
	s->nm = r->nm;
	s->health = r->health;
	s->eff = r->eff;
	s->fail_open = r->fail_open;
	s->announced = r->announced;
}

static void lr_reload(struct lr *r)
{
	struct lr_state n, old;
	unsigned int i, s;

	lr_log("SIGHUP: reloading %s", r->file);
	if (lr_load(r, &n)) {
		lr_log("reload failed; keeping the running state");
		return;
	}
	if (strcmp(n.cfg.lb.pin_dir, r->cfg.lb.pin_dir))
		lr_log("lb.pin_dir takes effect at the next start only");
	/* health carries over by service and host name; new members start
	 * unknown; so do announcement and fail-open by service name */
	qlb_prober_adopt(n.pr, r->pr);
	for (i = 0; i < n.nm; i++)
		n.health[i] = qlb_prober_member(n.pr, i)->sm.health;
	qlb_health_effective(&n.cfg, n.health, n.eff, n.fail_open);
	for (s = 0; s < n.cfg.nservices; s++) {
		const struct qlb_conf_service *o =
			qlb_config_service(&r->cfg, n.cfg.services[s].name);

		if (o)
			n.announced[s] = r->announced[o - r->cfg.services];
	}
	if (lr_apply(r, &n.cfg, n.eff, true)) {
		lr_log("reload failed; keeping the running state");
		lr_state_free(&n);
		return;
	}
	lr_give(r, &old);
	lr_take(r, &n);
	lr_state_free(&old);
	lr_log("reloaded %s (%u hosts, %u services, %u members, %u VIPs)",
	       r->file, r->cfg.nhosts, r->cfg.nservices, r->nm,
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
	/* health unknown: every member as the file says */
	if (lr_apply(&r, &r.cfg, r.eff, true)) {
		lr_log("cannot apply %s; not starting", r.file);
		goto out;
	}
	lr_log("applied %s under %s; probing %u members (%u hosts in %u "
	       "services) every %u ms (timeout %u ms, rise %u, fall %u, port "
	       "%u)",
	       r.file, r.pin_dir, r.nm, r.cfg.nhosts, r.cfg.nservices,
	       r.hp.interval_ms, r.hp.timeout_ms, r.hp.rise, r.hp.fall,
	       r.hp.port);
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
