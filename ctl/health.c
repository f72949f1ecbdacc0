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

bool qlb_health_effective(const struct qlb_config *cfg,
			  const enum qlb_health *h, enum qlb_host_state *eff)
{
	unsigned int i, active = 0, healthy_active = 0;

	for (i = 0; i < cfg->nhosts; i++) {
		if (cfg->hosts[i].state != QLB_HOST_ACTIVE)
			continue;
		active++;
		if (h[i] != QLB_HEALTH_DOWN)
			healthy_active++;
	}
	/* Every host the operator wants to take new connections looks dead
	 * at once: the node's own uplink is the likelier culprit. Keep
	 * forwarding as the file says rather than drop everything. */
	if (active && !healthy_active) {
		for (i = 0; i < cfg->nhosts; i++)
			eff[i] = cfg->hosts[i].state;
		return true;
	}
	for (i = 0; i < cfg->nhosts; i++)
		eff[i] = h[i] == QLB_HEALTH_DOWN ? QLB_HOST_DOWN
						 : cfg->hosts[i].state;
	return false;
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

struct hv_key {
	char name[QLB_NAME_MAX];
};

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

int qlb_health_publish(const char *pin_dir, const struct qlb_config *cfg,
		       const struct qlb_prober *pr,
		       const enum qlb_host_state *eff, bool fail_open,
		       uint64_t fail_open_events,
		       const struct qlb_health_params *p)
{
	struct qlb_health_sum sum = {0};
	struct hv_key k, next;
	unsigned int i;
	__u32 zero = 0;
	int fd, sfd, err = 0;

	fd = hv_open_or_create(pin_dir, QLB_PIN_HEALTH, BPF_MAP_TYPE_HASH,
			       sizeof(struct hv_key),
			       sizeof(struct qlb_health_rec), QLB_MAX_HOSTS);
	if (fd < 0)
		return fd;
	sfd = hv_open_or_create(pin_dir, QLB_PIN_HEALTH_SUM, BPF_MAP_TYPE_ARRAY,
				sizeof(__u32), sizeof(struct qlb_health_sum),
				1);
	if (sfd < 0) {
		close(fd);
		return sfd;
	}
	for (i = 0; i < cfg->nhosts; i++) {
		const struct qlb_hprobe *h = qlb_prober_host(pr, i);
		struct qlb_health_rec r = {0};

		memset(&k, 0, sizeof(k));
		snprintf(k.name, sizeof(k.name), "%s", cfg->hosts[i].name);
		r.intent = (uint8_t)cfg->hosts[i].state;
		r.health = (uint8_t)h->sm.health;
		r.effective = (uint8_t)eff[i];
		r.last_status = h->last_status;
		r.last_rtt_us = h->last_rtt_us;
		r.since_ns = h->since_ns;
		r.sent = h->sent;
		r.ok = h->ok;
		r.failed = h->failed;
		r.transitions = h->transitions;
		if (bpf_map_update_elem(fd, &k, &r, BPF_ANY))
			err = -errno;
	}
	/* hosts no longer in the file leave the view */
	if (!bpf_map_get_next_key(fd, NULL, &next)) {
		do {
			k = next;
			if (bpf_map_get_next_key(fd, &k, &next))
				memset(&next, 0, sizeof(next));
			if (!qlb_config_host(cfg, k.name))
				bpf_map_delete_elem(fd, &k);
		} while (next.name[0]);
	}
	sum.pid = (uint32_t)getpid();
	sum.fail_open = fail_open;
	sum.interval_ms = p->interval_ms;
	sum.timeout_ms = p->timeout_ms;
	sum.rise = p->rise;
	sum.fall = p->fall;
	sum.port = p->port;
	sum.updated_ns = qlb_health_real_ns();
	sum.fail_open_events = fail_open_events;
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
	unsigned int i;
	int fd, e;

	e = hv_read_sum(pin_dir, &fd, &sum);
	if (e) {
		snprintf(err, errlen,
			 "no health view under %s (%s): is `qlbctl lb run` "
			 "running there?",
			 pin_dir, e == -ENOENT ? "not found" : strerror(-e));
		return e;
	}
	for (i = 0; i < cfg->nhosts; i++) {
		struct qlb_health_rec r;
		struct hv_key k = {{0}};

		snprintf(k.name, sizeof(k.name), "%s", cfg->hosts[i].name);
		if (bpf_map_lookup_elem(fd, &k, &r))
			continue; /* not probed: as the file says */
		if (sum.fail_open)
			continue;
		if (r.health == QLB_HEALTH_DOWN)
			cfg->hosts[i].state = QLB_HOST_DOWN;
	}
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

void qlb_health_status(FILE *f, struct qlb_json_w *w, const char *pin_dir)
{
	struct qlb_health_sum sum;
	struct hv_key k, next;
	bool running, more;
	int fd;

	if (hv_read_sum(pin_dir, &fd, &sum))
		return;
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
		jw_arr_open(w, "hosts");
	} else {
		fprintf(f,
			"health checking: %s (pid %u), every %u ms, timeout %u "
			"ms, rise %u, fall %u, port %u\n",
			running ? "running" : "NOT RUNNING, stale view",
			sum.pid, sum.interval_ms, sum.timeout_ms, sum.rise,
			sum.fall, sum.port);
		if (sum.fail_open)
			fprintf(f, "FAIL OPEN: no active host answers probes; "
				   "forwarding to the hosts as configured\n");
		fprintf(f, "  %-16s %-9s %-10s %-9s %-20s %9s %-14s %s\n",
			"host", "intent", "health", "effective", "since",
			"rtt_ms", "last_probe", "failed/sent");
	}
	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more) {
		struct qlb_health_rec r;
		char since[32];

		k = next;
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (bpf_map_lookup_elem(fd, &k, &r))
			continue;
		k.name[sizeof(k.name) - 1] = 0;
		fmt_since(r.since_ns, since, sizeof(since));
		if (w) {
			jw_obj_open(w, NULL);
			jw_str(w, "name", k.name);
			jw_str(w, "intent", intent_name(r.intent));
			jw_str(w, "health", qlb_health_name(r.health));
			jw_str(w, "effective", intent_name(r.effective));
			if (r.since_ns)
				jw_str(w, "since", since);
			else
				jw_null(w, "since");
			jw_uint(w, "last_rtt_us", r.last_rtt_us);
			jw_str(w, "last_probe",
			       qlb_hp_status_name(r.last_status));
			jw_uint(w, "probes_sent", r.sent);
			jw_uint(w, "probes_ok", r.ok);
			jw_uint(w, "probes_failed", r.failed);
			jw_uint(w, "transitions", r.transitions);
			jw_obj_close(w);
		} else {
			fprintf(f,
				"  %-16s %-9s %-10s %-9s %-20s %9.3f %-14s "
				"%llu/%llu\n",
				k.name, intent_name(r.intent),
				qlb_health_name(r.health),
				intent_name(r.effective), since,
				r.last_rtt_us / 1000.0,
				qlb_hp_status_name(r.last_status),
				(unsigned long long)r.failed,
				(unsigned long long)r.sent);
		}
	}
	if (w) {
		jw_arr_close(w);
		jw_obj_close(w);
	}
	close(fd);
}

void qlb_health_metrics(FILE *f, const char *pin_dir)
{
	struct qlb_health_sum sum;
	struct hv_key k, next;
	bool more;
	int fd, pass;

	if (hv_read_sum(pin_dir, &fd, &sum))
		return;
	fprintf(f,
		"# HELP qlb_lb_health_running 1 while qlbctl lb run "
		"checks the hosts' health\n"
		"# TYPE qlb_lb_health_running gauge\n"
		"qlb_lb_health_running %d\n",
		hv_running(&sum));
	fprintf(f,
		"# HELP qlb_lb_health_fail_open 1 while no active host "
		"answers probes and the node forwards as configured\n"
		"# TYPE qlb_lb_health_fail_open gauge\n"
		"qlb_lb_health_fail_open %u\n",
		sum.fail_open);
	fprintf(f,
		"# HELP qlb_lb_health_fail_open_total times the node "
		"started failing open\n"
		"# TYPE qlb_lb_health_fail_open_total counter\n"
		"qlb_lb_health_fail_open_total %llu\n",
		(unsigned long long)sum.fail_open_events);
	static const char *const heads[] = {
		"# HELP qlb_lb_host_healthy 1 when the host answers probes "
		"(or is not judged yet), 0 when unhealthy\n"
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
		more = !bpf_map_get_next_key(fd, NULL, &next);
		while (more) {
			struct qlb_health_rec r;

			k = next;
			more = !bpf_map_get_next_key(fd, &k, &next);
			if (bpf_map_lookup_elem(fd, &k, &r))
				continue;
			k.name[sizeof(k.name) - 1] = 0;
			switch (pass) {
			case 0:
				fprintf(f,
					"qlb_lb_host_healthy{host=\"%s\"} %d\n",
					k.name, r.health != QLB_HEALTH_DOWN);
				break;
			case 1:
				fprintf(f,
					"qlb_lb_host_probes_total{host=\"%s\","
					"result=\"ok\"} %llu\n"
					"qlb_lb_host_probes_total{host=\"%s\","
					"result=\"failed\"} %llu\n",
					k.name, (unsigned long long)r.ok,
					k.name, (unsigned long long)r.failed);
				break;
			case 2:
				fprintf(f,
					"qlb_lb_host_probe_rtt_seconds{host=\"%"
					"s\"}"
					" %.6f\n",
					k.name, r.last_rtt_us / 1e6);
				break;
			default:
				fprintf(f,
					"qlb_lb_host_health_transitions_total{"
					"host=\"%s\"} %llu\n",
					k.name,
					(unsigned long long)r.transitions);
			}
		}
	}
	close(fd);
}
