// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Health checking of the hosts by an LB node: see health.h. The state
 * machine and the published view; the probes and the prober are in
 * health_probe.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common.h"
#include "health.h"
#include "qlb/abi/lb_abi.h"

/* ---- the state machine ------------------------------------------------- */

bool qlb_hsm_feed(struct qlb_hsm *s, const struct qlb_health_params *p, bool ok)
{
	enum qlb_health old = s->health;

	if (ok) {
		s->fail_run = 0;
		if (s->ok_run < UINT32_MAX)
			s->ok_run++;
		/* an unknown host was counted in already: one answer
		 * settles it; a down one must prove itself rise times */
		if (s->health == QLB_HEALTH_UNKNOWN ||
		    (s->health == QLB_HEALTH_DOWN && s->ok_run >= p->rise))
			s->health = QLB_HEALTH_UP;
	} else {
		s->ok_run = 0;
		if (s->fail_run < UINT32_MAX)
			s->fail_run++;
		if (s->health != QLB_HEALTH_DOWN && s->fail_run >= p->fall)
			s->health = QLB_HEALTH_DOWN;
	}
	return s->health != old;
}

unsigned int qlb_health_nmembers(const struct qlb_config *cfg)
{
	const struct qlb_conf_service *last;

	if (!cfg->services || !cfg->nservices)
		return 0;
	last = &cfg->services[cfg->nservices - 1];
	return last->member_first + last->nhosts;
}

int qlb_health_member(const struct qlb_config *cfg, unsigned int m,
		      unsigned int *svc, unsigned int *j)
{
	unsigned int s;

	for (s = 0; cfg->services && s < cfg->nservices; s++) {
		const struct qlb_conf_service *sv = &cfg->services[s];

		if (m >= sv->member_first &&
		    m < sv->member_first + sv->nhosts) {
			*svc = s;
			*j = m - sv->member_first;
			return 0;
		}
	}
	return -1;
}

bool qlb_health_effective(const struct qlb_config *cfg,
			  const enum qlb_health *h, enum qlb_host_state *eff,
			  bool *fail_open)
{
	bool any = false;
	unsigned int s, j;

	for (s = 0; cfg->services && s < cfg->nservices; s++) {
		const struct qlb_conf_service *sv = &cfg->services[s];
		const enum qlb_health *sh = h + sv->member_first;
		enum qlb_host_state *se = eff + sv->member_first;
		unsigned int active = 0, healthy_active = 0;
		bool fo;

		for (j = 0; j < sv->nhosts; j++) {
			if (sv->hosts[j].state != QLB_HOST_ACTIVE)
				continue;
			active++;
			if (sh[j] != QLB_HEALTH_DOWN)
				healthy_active++;
		}
		/* Every host the operator wants to take this service's new
		 * connections looks dead at once: the node's own uplink is
		 * the likelier culprit. Keep forwarding as the file says
		 * rather than drop the service's traffic. Per service: one
		 * service's dead pool says nothing about another's. */
		fo = active && !healthy_active;
		for (j = 0; j < sv->nhosts; j++)
			se[j] = !fo && sh[j] == QLB_HEALTH_DOWN
					? QLB_HOST_DOWN
					: sv->hosts[j].state;
		if (fail_open)
			fail_open[s] = fo;
		any |= fo;
	}
	return any;
}

enum qlb_host_state qlb_health_host_state(const struct qlb_config *cfg,
					  const enum qlb_host_state *eff,
					  unsigned int i)
{
	bool member = false;
	unsigned int s, j;

	for (s = 0; cfg->services && s < cfg->nservices; s++) {
		const struct qlb_conf_service *sv = &cfg->services[s];

		for (j = 0; j < sv->nhosts; j++) {
			if (sv->hosts[j].host != i)
				continue;
			member = true;
			if (eff[sv->member_first + j] != QLB_HOST_DOWN)
				return cfg->hosts[i].state;
		}
	}
	return member ? QLB_HOST_DOWN : cfg->hosts[i].state;
}

const char *qlb_health_name(enum qlb_health h)
{
	switch (h) {
	case QLB_HEALTH_UP:
		return "healthy";
	case QLB_HEALTH_DOWN:
		return "unhealthy";
	default:
		return "unknown";
	}
}

const char *qlb_hp_status_name(unsigned int s)
{
	switch (s) {
	case QLB_HP_OK:
		return "ok";
	case QLB_HP_WRONG_HOST:
		return "wrong_host";
	case QLB_HP_NO_DECAP:
		return "decap_detached";
	case QLB_HP_NO_GROUP:
		return "no_vip_socket";
	case QLB_HP_GROUP_DOWN:
		return "no_live_socket";
	case QLB_HP_TIMEOUT:
		return "timeout";
	case QLB_HP_SEND_ERROR:
		return "send_error";
	case QLB_HP_UNPROBED:
		return "unprobed";
	}
	return "bad_answer";
}

/* CLOCK_REALTIME in ns: the stamps of the view (since_ns, updated_ns). */
uint64_t qlb_health_real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ---- the published view -------------------------------------------------- */

static int hv_open(const char *pin_dir, const char *name, __u32 vsize)
{
	char path[PATH_MAX + 64];
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.value_size != vsize) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

static int hv_open_or_create(const char *pin_dir, const char *name,
			     enum bpf_map_type type, __u32 ksize, __u32 vsize,
			     __u32 max)
{
	char path[PATH_MAX + 64];
	int fd = hv_open(pin_dir, name, vsize);

	if (fd >= 0 || fd != -ENOENT)
		return fd;
	fd = bpf_map_create(type, name, ksize, vsize, max, NULL);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	if (bpf_obj_pin(fd, path)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static void hv_key_of(struct qlb_health_key *k, const char *svc,
		      const char *host)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->service, sizeof(k->service), "%s", svc);
	snprintf(k->host, sizeof(k->host), "%s", host);
}

/* Whether @k is a member of @cfg. */
static bool hv_is_member(const struct qlb_config *cfg,
			 const struct qlb_health_key *k)
{
	const struct qlb_conf_service *sv;
	const struct qlb_conf_host *h;

	if (!memchr(k->service, 0, sizeof(k->service)) ||
	    !memchr(k->host, 0, sizeof(k->host)))
		return false;
	sv = qlb_config_service(cfg, k->service);
	h = qlb_config_host(cfg, k->host);
	return sv && h && qlb_service_host(sv, (unsigned int)(h - cfg->hosts));
}

/* The pins of before services: one record per host. A node that ran an
 * older `lb run` would otherwise keep showing them. */
static void hv_unlink_old(const char *pin_dir)
{
	static const char *const old[] = {"qlb_health", "qlb_health_sum"};
	char path[PATH_MAX + 64];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, old[i]);
		unlink(path);
	}
}

/* The services array (a new one per load) and pin dir of the last walk
 * for stale members. */
static const void *hv_walked;
static char hv_walked_dir[PATH_MAX];

int qlb_health_publish(const char *pin_dir, const struct qlb_config *cfg,
		       const struct qlb_prober *pr,
		       const enum qlb_host_state *eff, const bool *fail_open,
		       uint64_t fail_open_events,
		       const struct qlb_health_params *p)
{
	static struct qlb_health_key stale[256];
	struct qlb_health_sum sum = {0};
	struct qlb_health_key k, next;
	unsigned int s, j, nstale;
	__u32 zero = 0;
	int fd, sfd, err = 0;
	bool more;

	fd = hv_open_or_create(pin_dir, QLB_PIN_HEALTH, BPF_MAP_TYPE_HASH,
			       sizeof(struct qlb_health_key),
			       sizeof(struct qlb_health_rec),
			       QLB_LB_MAX_MEMBERS);
	if (fd < 0)
		return fd;
	sfd = hv_open_or_create(pin_dir, QLB_PIN_HEALTH_SUM, BPF_MAP_TYPE_ARRAY,
				sizeof(__u32), sizeof(struct qlb_health_sum),
				1);
	if (sfd < 0) {
		close(fd);
		return sfd;
	}
	hv_unlink_old(pin_dir);
	for (s = 0; cfg->services && s < cfg->nservices; s++) {
		const struct qlb_conf_service *sv = &cfg->services[s];

		sum.services_fail_open += fail_open[s];
		for (j = 0; j < sv->nhosts; j++) {
			unsigned int m = sv->member_first + j;
			const struct qlb_hprobe *h = qlb_prober_member(pr, m);
			struct qlb_health_rec r = {0};

			hv_key_of(&k, sv->name,
				  cfg->hosts[sv->hosts[j].host].name);
			r.intent = (uint8_t)sv->hosts[j].state;
			r.health = (uint8_t)h->sm.health;
			r.effective = (uint8_t)eff[m];
			r.fail_open = fail_open[s];
			r.last_status = h->last_status;
			r.last_rtt_us = h->last_rtt_us;
			r.last_flags = (uint8_t)h->last_flags;
			r.since_ns = h->since_ns;
			r.sent = h->sent;
			r.ok = h->ok;
			r.failed = h->failed;
			r.transitions = h->transitions;
			if (bpf_map_update_elem(fd, &k, &r, BPF_ANY))
				err = -errno;
		}
	}
	/* members no longer in the file leave the view (deleted after the
	 * walk: deleting under it restarts it; a walk per 256). Only when
	 * the file was (re)loaded since the last publish of this process:
	 * each walk looks every record up by name. */
	if (hv_walked == cfg->services && !strcmp(hv_walked_dir, pin_dir))
		goto sum;
	hv_walked = cfg->services;
	snprintf(hv_walked_dir, sizeof(hv_walked_dir), "%s", pin_dir);
	do {
		nstale = 0;
		more = !bpf_map_get_next_key(fd, NULL, &next);
		while (more && nstale < 256) {
			k = next;
			more = !bpf_map_get_next_key(fd, &k, &next);
			if (!hv_is_member(cfg, &k))
				stale[nstale++] = k;
		}
		for (j = 0; j < nstale; j++)
			bpf_map_delete_elem(fd, &stale[j]);
	} while (nstale == 256);
sum:
	sum.pid = (uint32_t)getpid();
	sum.fail_open = sum.services_fail_open > 0;
	sum.interval_ms = p->interval_ms;
	sum.timeout_ms = p->timeout_ms;
	sum.rise = p->rise;
	sum.fall = p->fall;
	sum.port = p->port;
	sum.updated_ns = qlb_health_real_ns();
	sum.fail_open_events = fail_open_events;
	sum.nservices = cfg->nservices;
	sum.nmembers = qlb_health_nmembers(cfg);
	if (bpf_map_update_elem(sfd, &zero, &sum, BPF_ANY))
		err = -errno;
	close(fd);
	close(sfd);
	return err;
}

void qlb_health_unpublish(const char *pin_dir)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, QLB_PIN_HEALTH);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, QLB_PIN_HEALTH_SUM);
	unlink(path);
	hv_unlink_old(pin_dir);
}

/* The view: both maps opened, or -errno. */
static int hv_read_sum(const char *pin_dir, int *fd, struct qlb_health_sum *sum)
{
	__u32 zero = 0;
	int sfd;

	sfd = hv_open(pin_dir, QLB_PIN_HEALTH_SUM,
		      sizeof(struct qlb_health_sum));
	if (sfd < 0)
		return sfd;
	if (bpf_map_lookup_elem(sfd, &zero, sum)) {
		int e = -errno;

		close(sfd);
		return e;
	}
	close(sfd);
	*fd = hv_open(pin_dir, QLB_PIN_HEALTH, sizeof(struct qlb_health_rec));
	return *fd < 0 ? *fd : 0;
}

static bool hv_running(const struct qlb_health_sum *sum)
{
	return sum->pid && (kill((pid_t)sum->pid, 0) == 0 || errno == EPERM);
}

int qlb_health_view_apply(struct qlb_config *cfg, const char *pin_dir,
			  char *err, size_t errlen)
{
	struct qlb_health_sum sum;
	enum qlb_host_state *eff;
	unsigned int i, s, j, nm = qlb_health_nmembers(cfg);
	int fd, e;

	e = hv_read_sum(pin_dir, &fd, &sum);
	if (e) {
		snprintf(err, errlen,
			 "no health view under %s (%s): is `qlbctl lb run` "
			 "running there?",
			 pin_dir, e == -ENOENT ? "not found" : strerror(-e));
		return e;
	}
	eff = calloc(nm + 1, sizeof(*eff));
	if (!eff) {
		close(fd);
		snprintf(err, errlen, "health view: out of memory");
		return -ENOMEM;
	}
	for (s = 0; cfg->services && s < cfg->nservices; s++) {
		struct qlb_conf_service *sv = &cfg->services[s];

		for (j = 0; j < sv->nhosts; j++) {
			struct qlb_conf_svc_host *sh = &sv->hosts[j];
			struct qlb_health_key k;
			struct qlb_health_rec r;

			hv_key_of(&k, sv->name, cfg->hosts[sh->host].name);
			/* not probed: as the file says; a service failing
			 * open forwards as the file says */
			if (!bpf_map_lookup_elem(fd, &k, &r) && !r.fail_open &&
			    r.health == QLB_HEALTH_DOWN)
				sh->state = QLB_HOST_DOWN;
			eff[sv->member_first + j] = sh->state;
		}
	}
	for (i = 0; i < cfg->nhosts; i++)
		cfg->hosts[i].state = qlb_health_host_state(cfg, eff, i);
	free(eff);
	close(fd);
	return 0;
}

static const char *intent_name(unsigned int s)
{
	return s <= QLB_HOST_DOWN ? qlb_host_state_name(s) : "?";
}

static void fmt_since(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The view's records, sorted by service then host. */
struct hv_ent {
	struct qlb_health_key k;
	struct qlb_health_rec r;
};

static int hv_ent_cmp(const void *a, const void *b)
{
	const struct hv_ent *x = a, *y = b;
	int c = strcmp(x->k.service, y->k.service);

	return c ? c : strcmp(x->k.host, y->k.host);
}

/* Every record of @fd into a malloc'd array (*@n entries), or NULL. */
static struct hv_ent *hv_read_all(int fd, unsigned int *n)
{
	struct qlb_health_key k, next;
	struct hv_ent *v = NULL;
	unsigned int cap = 0;
	bool more;

	*n = 0;
	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more && *n < QLB_LB_MAX_MEMBERS) {
		k = next;
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (*n == cap) {
			struct hv_ent *nv;

			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		if (bpf_map_lookup_elem(fd, &k, &v[*n].r))
			continue;
		k.service[sizeof(k.service) - 1] = 0;
		k.host[sizeof(k.host) - 1] = 0;
		v[*n].k = k;
		(*n)++;
	}
	if (v)
		qsort(v, *n, sizeof(*v), hv_ent_cmp);
	return v;
}

/* What the last probe's answer spoke for: its service alone, or the whole
 * host (a responder of before services); NULL when it was not answered. */
static const char *answered_for(const struct qlb_health_rec *r)
{
	if (r->last_status >= QLB_HP_STATUS_MAX)
		return NULL;
	return r->last_flags & QLB_HP_F_SERVICE_CHECKED ? "service" : "host";
}

void qlb_health_status(FILE *f, struct qlb_json_w *w, const char *pin_dir)
{
	struct qlb_health_sum sum;
	struct hv_ent *v;
	unsigned int n, i, k;
	bool running;
	int fd;

	if (hv_read_sum(pin_dir, &fd, &sum))
		return;
	v = hv_read_all(fd, &n);
	close(fd);
	running = hv_running(&sum);
	if (w) {
		jw_obj_open(w, "health");
		jw_bool(w, "running", running);
		jw_uint(w, "pid", sum.pid);
		jw_bool(w, "fail_open", sum.fail_open);
		jw_uint(w, "fail_open_events", sum.fail_open_events);
		jw_uint(w, "interval_ms", sum.interval_ms);
		jw_uint(w, "timeout_ms", sum.timeout_ms);
		jw_uint(w, "rise", sum.rise);
		jw_uint(w, "fall", sum.fall);
		jw_uint(w, "port", sum.port);
		jw_uint(w, "updated_ns", sum.updated_ns);
		jw_arr_open(w, "services");
	} else {
		fprintf(f,
			"health checking: %s (pid %u), every %u ms, timeout %u "
			"ms, rise %u, fall %u, port %u; %u member%s in %u "
			"service%s\n",
			running ? "running" : "NOT RUNNING, stale view",
			sum.pid, sum.interval_ms, sum.timeout_ms, sum.rise,
			sum.fall, sum.port, n, n == 1 ? "" : "s", sum.nservices,
			sum.nservices == 1 ? "" : "s");
	}
	/* per service: its members are consecutive once sorted */
	for (i = 0; i < n; i = k) {
		unsigned int healthy = 0;

		for (k = i; k < n && !strcmp(v[k].k.service, v[i].k.service);
		     k++)
			healthy += v[k].r.health != QLB_HEALTH_DOWN;
		if (w) {
			jw_obj_open(w, NULL);
			jw_str(w, "name", v[i].k.service);
			jw_bool(w, "fail_open", v[i].r.fail_open);
			jw_uint(w, "members", k - i);
			jw_uint(w, "healthy", healthy);
			jw_obj_close(w);
		} else if (v[i].r.fail_open) {
			fprintf(f,
				"FAIL OPEN: service %s: no active host answers "
				"probes; forwarding to its hosts as "
				"configured\n",
				v[i].k.service);
		}
	}
	if (w)
		jw_arr_close(w);
	if (w)
		jw_arr_open(w, "hosts");
	else
		fprintf(f, "  %-16s %-16s %-9s %-10s %-9s %-20s %9s %-14s %s\n",
			"service", "host", "intent", "health", "effective",
			"since", "rtt_ms", "last_probe", "failed/sent");
	for (i = 0; i < n; i++) {
		const struct qlb_health_rec *r = &v[i].r;
		const char *af = answered_for(r);
		char since[32];

		fmt_since(r->since_ns, since, sizeof(since));
		if (w) {
			jw_obj_open(w, NULL);
			jw_str(w, "name", v[i].k.host);
			jw_str(w, "service", v[i].k.service);
			jw_str(w, "intent", intent_name(r->intent));
			jw_str(w, "health", qlb_health_name(r->health));
			jw_str(w, "effective", intent_name(r->effective));
			if (r->since_ns)
				jw_str(w, "since", since);
			else
				jw_null(w, "since");
			jw_uint(w, "last_rtt_us", r->last_rtt_us);
			jw_str(w, "last_probe",
			       qlb_hp_status_name(r->last_status));
			if (af)
				jw_str(w, "answered_for", af);
			else
				jw_null(w, "answered_for");
			jw_uint(w, "probes_sent", r->sent);
			jw_uint(w, "probes_ok", r->ok);
			jw_uint(w, "probes_failed", r->failed);
			jw_uint(w, "transitions", r->transitions);
			jw_obj_close(w);
		} else {
			fprintf(f,
				"  %-16s %-16s %-9s %-10s %-9s %-20s %9.3f "
				"%-14s "
				"%llu/%llu\n",
				v[i].k.service, v[i].k.host,
				intent_name(r->intent),
				qlb_health_name(r->health),
				intent_name(r->effective), since,
				r->last_rtt_us / 1000.0,
				qlb_hp_status_name(r->last_status),
				(unsigned long long)r->failed,
				(unsigned long long)r->sent);
		}
	}
	if (w) {
		jw_arr_close(w);
		jw_obj_close(w);
	}
	free(v);
}

void qlb_health_metrics(FILE *f, const char *pin_dir)
{
	struct qlb_health_sum sum;
	struct hv_ent *v;
	unsigned int n, i;
	int fd, pass;

	if (hv_read_sum(pin_dir, &fd, &sum))
		return;
	v = hv_read_all(fd, &n);
	close(fd);
	fprintf(f,
		"# HELP qlb_lb_health_running 1 while qlbctl lb run "
		"checks the hosts' health\n"
		"# TYPE qlb_lb_health_running gauge\n"
		"qlb_lb_health_running %d\n",
		hv_running(&sum));
	fprintf(f, "# HELP qlb_lb_health_fail_open 1 while no active host "
		   "of the service answers probes and the node forwards to "
		   "its hosts as configured\n"
		   "# TYPE qlb_lb_health_fail_open gauge\n");
	for (i = 0; i < n; i++)
		if (!i || strcmp(v[i].k.service, v[i - 1].k.service))
			fprintf(f,
				"qlb_lb_health_fail_open{service=\"%s\"} %u\n",
				v[i].k.service, v[i].r.fail_open);
	fprintf(f,
		"# HELP qlb_lb_health_fail_open_total times a service "
		"started failing open\n"
		"# TYPE qlb_lb_health_fail_open_total counter\n"
		"qlb_lb_health_fail_open_total %llu\n",
		(unsigned long long)sum.fail_open_events);
	static const char *const heads[] = {
		"# HELP qlb_lb_host_healthy 1 when the host answers the "
		"service's probes (or is not judged yet), 0 when unhealthy\n"
		"# TYPE qlb_lb_host_healthy gauge\n",
		"# HELP qlb_lb_host_probes_total health probes by result\n"
		"# TYPE qlb_lb_host_probes_total counter\n",
		"# HELP qlb_lb_host_probe_rtt_seconds round trip of the "
		"last answered probe\n"
		"# TYPE qlb_lb_host_probe_rtt_seconds gauge\n",
		"# HELP qlb_lb_host_health_transitions_total health "
		"changes seen\n"
		"# TYPE qlb_lb_host_health_transitions_total counter\n",
	};
	for (pass = 0; pass < 4; pass++) {
		fputs(heads[pass], f);
		for (i = 0; i < n; i++) {
			const struct qlb_health_rec *r = &v[i].r;
			const char *h = v[i].k.host, *sv = v[i].k.service;

			switch (pass) {
			case 0:
				fprintf(f,
					"qlb_lb_host_healthy{host=\"%s\","
					"service=\"%s\"} %d\n",
					h, sv, r->health != QLB_HEALTH_DOWN);
				break;
			case 1:
				fprintf(f,
					"qlb_lb_host_probes_total{host=\"%s\","
					"service=\"%s\",result=\"ok\"} %llu\n"
					"qlb_lb_host_probes_total{host=\"%s\","
					"service=\"%s\",result=\"failed\"} "
					"%llu\n",
					h, sv, (unsigned long long)r->ok, h, sv,
					(unsigned long long)r->failed);
				break;
			case 2:
				fprintf(f,
					"qlb_lb_host_probe_rtt_seconds{host=\""
					"%s\",service=\"%s\"} %.6f\n",
					h, sv, r->last_rtt_us / 1e6);
				break;
			default:
				fprintf(f,
					"qlb_lb_host_health_transitions_total{"
					"host=\"%s\",service=\"%s\"} %llu\n",
					h, sv,
					(unsigned long long)r->transitions);
			}
		}
	}
	free(v);
}
