// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl agent: run the host agent, or talk to a running one.
 *   qlbctl agent -f FILE              run (same as: agent run -f FILE)
 *   qlbctl agent status  [-f FILE | -s SOCKET]
 *   qlbctl agent promote [-f FILE | -s SOCKET] GEN
 *   qlbctl agent metrics [-f FILE | -s SOCKET] [--listen ADDR:PORT]
 *                                     Prometheus text, once or over HTTP
 *   qlbctl agent detach -f FILE       remove the data plane (decap, pins)
 * status and promote go through the agent's socket, so they need a uid or
 * gid the agent allows (host.allow_uids / allow_gids, or the agent's own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "metrics_http.h"
#include "config.h"
#include "agent_daemon.h"
#include "bpf_util.h"
#include "qlb/abi/host_abi.h"
#include "qlb/abi/agent_frame.h"

static const char *const rp_names[QLB_RP_STAT_MAX] = {
	[QLB_RP_ROUTED] = "routed",
	[QLB_RP_FB_INITIAL] = "fallback_initial",
	[QLB_RP_FB_UNROUTABLE] = "fallback_unroutable",
	[QLB_RP_FB_NO_CONFIG] = "fallback_no_config",
	[QLB_RP_FB_LENGTH] = "fallback_length",
	[QLB_RP_FB_FOREIGN] = "fallback_foreign",
	[QLB_RP_FB_WORKER_RANGE] = "fallback_worker_range",
	[QLB_RP_FB_EMPTY_SLOT] = "fallback_empty_slot",
	[QLB_RP_FB_SHORT] = "fallback_short",
	[QLB_RP_FB_SELECTED] = "fallback_selected",
	[QLB_RP_FB_NONE] = "fallback_none",
	[QLB_RP_NONLINEAR] = "nonlinear",
	[QLB_RP_CACHE_HIT] = "cache_hit",
	[QLB_RP_CACHE_MISS] = "cache_miss",
	[QLB_RP_FLOW_RECORDED] = "flow_recorded",
	[QLB_RP_FLOW_FOLLOWED] = "flow_followed",
	[QLB_RP_FLOW_EXPIRED] = "flow_expired",
	[QLB_RP_FLOW_FULL] = "flow_full",
};

static const char *const dc_names[QLB_DC_STAT_MAX] = {
	[QLB_DC_NOT_OURS] = "not_ours",
	[QLB_DC_GUE_4IN4] = "gue_4in4",
	[QLB_DC_GUE_6IN4] = "gue_6in4",
	[QLB_DC_GUE_4IN6] = "gue_4in6",
	[QLB_DC_GUE_6IN6] = "gue_6in6",
	[QLB_DC_IPIP] = "ipip",
	[QLB_DC_6IN4] = "6in4",
	[QLB_DC_4IN6] = "4in6",
	[QLB_DC_IP6IP6] = "ip6ip6",
	[QLB_DC_PASS_OTHER] = "pass_other",
	[QLB_DC_PASS_FRAGMENT] = "pass_fragment",
	[QLB_DC_PASS_OPTIONS] = "pass_options",
	[QLB_DC_DROP_MALFORMED] = "drop_malformed",
	[QLB_DC_DROP_ADJUST] = "drop_adjust",
	[QLB_DC_PASS_BAD_CSUM] = "pass_bad_checksum",
	[QLB_DC_DROP_SOURCE] = "drop_source",
	[QLB_DC_DROP_INNER] = "drop_inner",
};
/* a counter added to host_abi.h gets its name here, or this fails */
_Static_assert(QLB_DC_DROP_INNER + 1 == QLB_DC_STAT_MAX,
	       "name every decap counter in dc_names");
_Static_assert(QLB_RP_FLOW_FULL + 1 == QLB_RP_STAT_MAX,
	       "name every reuseport counter in rp_names");

static const char *gen_state_name(uint32_t s)
{
	switch (s) {
	case QLB_GEN_NEW:
		return "new";
	case QLB_GEN_WORKING:
		return "working";
	case QLB_GEN_DRAINING:
		return "draining";
	}
	return "?";
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: qlbctl agent -f FILE                 run the host "
		"agent\n"
		"       qlbctl agent run -f FILE\n"
		"       qlbctl [-j] agent status  [-f FILE | -s SOCKET]\n"
		"       qlbctl agent promote [-f FILE | -s SOCKET] GENERATION\n"
		"       qlbctl agent metrics [-f FILE | -s SOCKET] "
		"[--listen ADDR:PORT]\n"
		"                                     Prometheus text, once "
		"or served over HTTP\n"
		"       qlbctl agent detach -f FILE          remove "
		"decapsulation and pins\n"
		"SOCKET defaults to host.agent_socket of FILE, else "
		"/run/qlb/agent.sock.\n");
}

/* ---- talking to a running agent -------------------------------------- */

/* Answers to qlbctl are small but for STATUS of a big host. */
static int read_msg(int fd, void **body, uint32_t *len)
{
	return qlb_ap_read_msg(fd, QLB_AP_MAX_BODY, body, len);
}

static int send_msg(int fd, uint16_t type, const void *body, uint32_t len)
{
	return qlb_ap_send(fd, type, body, len, -1);
}

/* Connect and take the HELLO. Return: fd or -1 (error reported). */
static int agent_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	void *body;
	uint32_t len;
	int fd, t;

	if (strlen(path) >= sizeof(a.sun_path)) {
		qlb_err("agent socket path too long: %s", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		qlb_err("cannot connect to the agent at %s: %s%s", path,
			strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED
				? " (is qlbctl agent running?)"
				: "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t = read_msg(fd, &body, &len);
	if (t == QLB_AP_RESULT && len == sizeof(struct qlb_ap_result)) {
		qlb_err("the agent refused: %s",
			((struct qlb_ap_result *)body)->msg);
		free(body);
		close(fd);
		return -1;
	}
	free(body);
	if (t != QLB_AP_HELLO) {
		qlb_err("no greeting from the agent at %s: %s", path,
			t < 0 ? strerror(-t) : "unexpected message");
		close(fd);
		return -1;
	}
	return fd;
}

/* SERVICES, split into its arrays (NULL from an agent without it). */
struct svc_view {
	const struct qlb_ap_services *h;
	const struct qlb_ap_service *sv;
	const struct qlb_ap_group *gr;
	const struct qlb_ap_group_gen *gg;
};

static const char *ap_group_name(const struct qlb_ap_group *g, char *buf,
				 size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop((int)g->family, g->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, g->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 g->port);
	return buf;
}

/* The groups of service @index (file index; -1: groups of none). */
static void print_svc_groups_json(struct qlb_json_w *j,
				  const struct svc_view *v, int index)
{
	unsigned int i, k;
	char name[64];

	jw_arr_open(j, "groups");
	for (i = 0; i < v->h->ngroups; i++) {
		const struct qlb_ap_group *g = &v->gr[i];

		if (g->service != index)
			continue;
		jw_obj_open(j, NULL);
		jw_str(j, "group", ap_group_name(g, name, sizeof(name)));
		jw_uint(j, "working_generation", g->working_generation);
		jw_uint(j, "workers", g->nworkers);
		jw_arr_open(j, "generations");
		for (k = 0; k < v->h->ngroup_gens; k++) {
			const struct qlb_ap_group_gen *e = &v->gg[k];

			if (e->group != i)
				continue;
			jw_obj_open(j, NULL);
			jw_uint(j, "generation", e->generation);
			jw_str(j, "state", gen_state_name(e->state));
			jw_uint(j, "workers", e->nworkers);
			jw_obj_close(j);
		}
		jw_arr_close(j);
		jw_obj_close(j);
	}
	jw_arr_close(j);
}

static void print_services_json(struct qlb_json_w *j, const struct svc_view *v)
{
	unsigned int i, id;

	jw_arr_open(j, "services");
	for (i = 0; v->h && i < v->h->nservices; i++) {
		const struct qlb_ap_service *s = &v->sv[i];

		jw_obj_open(j, NULL);
		jw_str(j, "name", s->name);
		jw_uint(j, "index", s->index);
		jw_uint(j, "row", s->row);
		jw_uint(j, "configs", s->nconfigs);
		if (s->active < QLB_AP_NCONFIGS)
			jw_uint(j, "active_config", s->active);
		jw_arr_open(j, "epochs");
		for (id = 0; id < QLB_AP_NCONFIGS; id++) {
			if (!s->epoch[id])
				continue;
			jw_obj_open(j, NULL);
			jw_uint(j, "config", id);
			jw_uint(j, "epoch", s->epoch[id]);
			jw_obj_close(j);
		}
		jw_arr_close(j);
		print_svc_groups_json(j, v, (int)s->index);
		jw_obj_close(j);
	}
	jw_arr_close(j);
	if (!v->h)
		return;
	for (i = 0; i < v->h->ngroups; i++)
		if (v->gr[i].service < 0)
			break;
	if (i < v->h->ngroups) {
		jw_obj_open(j, "no_service");
		print_svc_groups_json(j, v, -1);
		jw_obj_close(j);
	}
}

static void print_svc_groups(const struct svc_view *v, int index)
{
	unsigned int i, k;
	char name[64];

	for (i = 0; i < v->h->ngroups; i++) {
		const struct qlb_ap_group *g = &v->gr[i];

		if (g->service != index)
			continue;
		printf("  group %s: working generation %u, %u sockets\n",
		       ap_group_name(g, name, sizeof(name)),
		       g->working_generation, g->nworkers);
		for (k = 0; k < v->h->ngroup_gens; k++)
			if (v->gg[k].group == i)
				printf("    generation %u: %-8s %u sockets\n",
				       v->gg[k].generation,
				       gen_state_name(v->gg[k].state),
				       v->gg[k].nworkers);
	}
}

static void print_services(const struct svc_view *v)
{
	unsigned int i, id;

	if (!v->h)
		return;
	for (i = 0; i < v->h->nservices; i++) {
		const struct qlb_ap_service *s = &v->sv[i];

		printf("service %s: %u configs", s->name, s->nconfigs);
		if (s->active < QLB_AP_NCONFIGS)
			printf(", minting under config %u", s->active);
		printf(", epochs");
		for (id = 0; id < QLB_AP_NCONFIGS; id++)
			if (s->epoch[id])
				printf(" %u:%u", id, s->epoch[id]);
		printf("\n");
		print_svc_groups(v, (int)s->index);
	}
	for (i = 0; i < v->h->ngroups; i++)
		if (v->gr[i].service < 0)
			break;
	if (i < v->h->ngroups) {
		printf("no service (datagrams take the fallback):\n");
		print_svc_groups(v, -1);
	}
}

static void print_status(const struct qlb_ap_status *s,
			 const struct qlb_ap_worker *w,
			 const struct qlb_ap_gen *g, const char *path,
			 const struct svc_view *v)
{
	unsigned int i;

	if (qlb_json) {
		struct qlb_json_w j;

		jw_init(&j, stdout);
		jw_obj_open(&j, NULL);
		jw_str(&j, "host", s->host);
		jw_str(&j, "socket", path);
		jw_uint(&j, "agent_pid", s->agent_pid);
		jw_uint(&j, "working_generation", s->working_generation);
		jw_uint(&j, "max_workers", s->max_workers);
		jw_uint(&j, "connections", s->nclients);
		jw_uint(&j, "refused", s->refused);
		jw_str(&j, "xdp_mode",
		       s->xdp_mode == 1	  ? "native"
		       : s->xdp_mode == 2 ? "generic"
					  : NULL);
		jw_arr_open(&j, "generations");
		for (i = 0; i < s->ngens; i++) {
			jw_obj_open(&j, NULL);
			jw_uint(&j, "generation", g[i].generation);
			jw_str(&j, "state", gen_state_name(g[i].state));
			jw_uint(&j, "size", g[i].size);
			jw_uint(&j, "workers", g[i].nworkers);
			jw_obj_close(&j);
		}
		jw_arr_close(&j);
		print_services_json(&j, v);
		jw_arr_open(&j, "workers");
		for (i = 0; i < s->nworkers; i++) {
			jw_obj_open(&j, NULL);
			jw_uint(&j, "worker", w[i].worker_id);
			jw_uint(&j, "generation", w[i].generation);
			jw_uint(&j, "pid", w[i].pid);
			jw_uint(&j, "uid", w[i].uid);
			jw_uint(&j, "cookie", w[i].cookie);
			jw_bool(&j, "connected", w[i].connected);
			jw_obj_close(&j);
		}
		jw_arr_close(&j);
		jw_obj_open(&j, "reuseport");
		for (i = 0; i < QLB_RP_STAT_MAX; i++)
			if (rp_names[i])
				jw_uint(&j, rp_names[i], s->rp_stats[i]);
		jw_obj_close(&j);
		jw_obj_open(&j, "decap");
		for (i = 0; i < QLB_DC_STAT_MAX; i++)
			if (dc_names[i])
				jw_uint(&j, dc_names[i], s->dc_stats[i]);
		jw_obj_close(&j);
		jw_obj_close(&j);
		jw_end(&j);
		return;
	}
	printf("host %s  agent pid %u  socket %s\n", s->host, s->agent_pid,
	       path);
	printf("working generation %u  worker IDs < %u  connections %u  "
	       "refused %llu\n",
	       s->working_generation, s->max_workers, s->nclients,
	       (unsigned long long)s->refused);
	for (i = 0; i < s->ngens; i++)
		printf("generation %u: %-8s %u sockets (size %u)\n",
		       g[i].generation, gen_state_name(g[i].state),
		       g[i].nworkers, g[i].size);
	print_services(v);
	if (s->nworkers)
		printf("%-7s %-10s %-8s %-6s %-10s %s\n", "worker",
		       "generation", "pid", "uid", "connected", "cookie");
	for (i = 0; i < s->nworkers; i++)
		printf("%-7u %-10u %-8u %-6u %-10s %llu\n", w[i].worker_id,
		       w[i].generation, w[i].pid, w[i].uid,
		       w[i].connected ? "yes" : "no",
		       (unsigned long long)w[i].cookie);
	printf("reuseport:\n");
	for (i = 0; i < QLB_RP_STAT_MAX; i++)
		printf("  %-24s %llu\n", rp_names[i],
		       (unsigned long long)s->rp_stats[i]);
	printf("decap (%s):\n", s->xdp_mode == 1   ? "native XDP"
				: s->xdp_mode == 2 ? "generic XDP"
						   : "not attached");
	for (i = 0; i < QLB_DC_STAT_MAX; i++)
		printf("  %-24s %llu\n", dc_names[i],
		       (unsigned long long)s->dc_stats[i]);
}

/* One Prometheus counter family @name: a sample per reason in @names. */
static void prom_reasons(FILE *f, const char *host, const char *name,
			 const char *help, const char *const *names,
			 const __u64 *vals, unsigned int n)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%s{host=\"%s\",reason=\"%s\"} %llu\n", name, host,
			names[i], (unsigned long long)vals[i]);
}

/* Prometheus text exposition (for a node_exporter textfile or a scrape
 * wrapper): every counter the agent has, names stable. */
static void print_metrics(FILE *f, const struct qlb_ap_status *s,
			  const struct qlb_ap_gen *g)
{
	unsigned int i;

	prom_reasons(f, s->host, "qlb_agent_reuseport_packets_total",
		     "SK_REUSEPORT decisions by reason.", rp_names, s->rp_stats,
		     QLB_RP_STAT_MAX);
	prom_reasons(f, s->host, "qlb_agent_decap_packets_total",
		     "Decapsulation verdicts by reason.", dc_names, s->dc_stats,
		     QLB_DC_STAT_MAX);
	fprintf(f,
		"# HELP qlb_agent_refused_total Peers refused by SO_PEERCRED "
		"since the agent started.\n"
		"# TYPE qlb_agent_refused_total counter\n"
		"qlb_agent_refused_total{host=\"%s\"} %llu\n",
		s->host, (unsigned long long)s->refused);
	fprintf(f,
		"# HELP qlb_agent_working_generation The generation that takes "
		"new connections (0 = none).\n"
		"# TYPE qlb_agent_working_generation gauge\n"
		"qlb_agent_working_generation{host=\"%s\"} %u\n",
		s->host, s->working_generation);
	fprintf(f, "# HELP qlb_agent_generation_sockets Live sockets per "
		   "generation.\n# TYPE qlb_agent_generation_sockets gauge\n");
	for (i = 0; i < s->ngens; i++)
		fprintf(f,
			"qlb_agent_generation_sockets{host=\"%s\",generation="
			"\"%"
			"u\","
			"state=\"%s\"} %u\n",
			s->host, g[i].generation, gen_state_name(g[i].state),
			g[i].nworkers);
	fprintf(f,
		"# HELP qlb_agent_connections Open connections to the agent "
		"socket.\n# TYPE qlb_agent_connections gauge\n"
		"qlb_agent_connections{host=\"%s\"} %u\n",
		s->host, s->nclients);
}

/*
 * fetch_services() - SERVICES on @fd into @v (*@body holds it), checked;
 * an agent without it leaves @v empty.
 */
static void fetch_services(int fd, const char *path, void **body,
			   struct svc_view *v)
{
	const struct qlb_ap_services *h;
	uint32_t len;
	int t;

	memset(v, 0, sizeof(*v));
	*body = NULL;
	if (send_msg(fd, QLB_AP_SERVICES_REQ, NULL, 0))
		return;
	t = read_msg(fd, body, &len);
	if (t != QLB_AP_SERVICES || len < sizeof(*h))
		goto none; /* RESULT -EOPNOTSUPP: an older agent */
	h = *body;
	if (h->nservices > QLB_HOST_MAX_SERVICES ||
	    h->ngroups > QLB_HOST_MAX_GROUPS ||
	    h->ngroup_gens > QLB_HOST_MAX_GROUPS * QLB_HOST_MAX_GENS ||
	    len != sizeof(*h) + h->nservices * sizeof(*v->sv) +
			    h->ngroups * sizeof(*v->gr) +
			    h->ngroup_gens * sizeof(*v->gg)) {
		qlb_err("malformed service view from the agent at %s", path);
		goto none;
	}
	v->h = h;
	v->sv = (const void *)(h + 1);
	v->gr = (const void *)(v->sv + h->nservices);
	v->gg = (const void *)(v->gr + h->ngroups);
	return;
none:
	free(*body);
	*body = NULL;
}

/* Ask the agent at @path for its status; *body is the checked answer,
 * *@svc_body (may be NULL) the service view in @v. */
static int fetch_status(const char *path, void **body, void **svc_body,
			struct svc_view *v)
{
	const struct qlb_ap_status *s;
	uint32_t len;
	int fd, t, rc = -1;

	*body = NULL;
	fd = agent_connect(path);
	if (fd < 0)
		return -1;
	if (send_msg(fd, QLB_AP_STATUS_REQ, NULL, 0)) {
		qlb_err("cannot send to the agent at %s", path);
		goto out;
	}
	t = read_msg(fd, body, &len);
	if (t != QLB_AP_STATUS || len < sizeof(*s)) {
		qlb_err("no status from the agent at %s: %s", path,
			t < 0 ? strerror(-t) : "unexpected answer");
		goto out;
	}
	s = *body;
	if (len != sizeof(*s) + s->nworkers * sizeof(struct qlb_ap_worker) +
			   s->ngens * sizeof(struct qlb_ap_gen)) {
		qlb_err("malformed status from the agent at %s", path);
		goto out;
	}
	if (svc_body)
		fetch_services(fd, path, svc_body, v);
	rc = 0;
out:
	if (rc) {
		free(*body);
		*body = NULL;
	}
	close(fd);
	return rc;
}

static const struct qlb_ap_gen *status_gens(const struct qlb_ap_status *s)
{
	return (const void *)((const struct qlb_ap_worker *)(s + 1) +
			      s->nworkers);
}

/* qlb_metrics_fn for --listen: one status request per scrape. */
static int write_agent_metrics(FILE *f, void *arg)
{
	void *body;

	if (fetch_status(arg, &body, NULL, NULL))
		return -1;
	print_metrics(f, body, status_gens(body));
	free(body);
	return 0;
}

static int do_status(const char *path, bool metrics, const char *listen)
{
	const struct qlb_ap_status *s;
	struct svc_view v;
	void *body, *svc_body = NULL;

	if (metrics && listen)
		return qlb_metrics_listen(listen, write_agent_metrics,
					  (void *)path);
	if (fetch_status(path, &body, metrics ? NULL : &svc_body, &v))
		return QLB_EXIT_ERR;
	s = body;
	if (metrics)
		print_metrics(stdout, s, status_gens(s));
	else
		print_status(s, (const void *)(s + 1), status_gens(s), path,
			     &v);
	free(body);
	free(svc_body);
	return QLB_EXIT_OK;
}

static int do_promote(const char *path, uint32_t gen)
{
	struct qlb_ap_gen_req m = {.generation = gen};
	const struct qlb_ap_result *r;
	void *body = NULL;
	uint32_t len;
	int fd, t, rc = QLB_EXIT_ERR;

	fd = agent_connect(path);
	if (fd < 0)
		return QLB_EXIT_ERR;
	if (send_msg(fd, QLB_AP_PROMOTE, &m, sizeof(m))) {
		qlb_err("cannot send to the agent at %s", path);
		goto out;
	}
	t = read_msg(fd, &body, &len);
	if (t != QLB_AP_RESULT || len != sizeof(*r)) {
		qlb_err("no answer from the agent at %s", path);
		goto out;
	}
	r = body;
	if (r->code) {
		qlb_err("promote %u: %s", gen, r->msg);
		goto out;
	}
	if (qlb_json) {
		struct qlb_json_w j;

		jw_init(&j, stdout);
		jw_obj_open(&j, NULL);
		jw_uint(&j, "working_generation", gen);
		jw_obj_close(&j);
		jw_end(&j);
	} else {
		printf("%s\n", r->msg);
	}
	rc = QLB_EXIT_OK;
out:
	free(body);
	close(fd);
	return rc;
}

/* The socket path: -s, else host.agent_socket of -f, else the default. */
static int socket_path(const char *file, const char *sock, char *out,
		       size_t len)
{
	struct qlb_config cfg;

	if (sock) {
		snprintf(out, len, "%s", sock);
		return 0;
	}
	if (!file) {
		snprintf(out, len, "/run/qlb/agent.sock");
		return 0;
	}
	if (qlb_config_load(file, &cfg, stderr)) {
		qlb_err("%s is not valid", file);
		return -1;
	}
	snprintf(out, len, "%s", cfg.host.agent_socket);
	qlb_config_free(&cfg);
	return 0;
}

struct agent_opts {
	const char *file, *sock, *listen;
	char path[PATH_MAX]; /* the agent's socket */
};

/*
 * Options of every agent subcommand; @nargs positional arguments follow.
 * Return: true to go on, false to stop with *rc (usage errors reported,
 * JSON under -j; -h printed the usage).
 */
static bool agent_opts(int argc, char **argv, int nargs, bool listen_ok,
		       struct agent_opts *o, int *rc)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"socket", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0; /* one error, through qlb_usage_err() */
	while ((c = getopt_long(argc, argv, "+f:s:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->file = optarg;
			break;
		case 's':
			o->sock = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'h':
			usage(stdout);
			*rc = QLB_EXIT_OK;
			return false;
		default:
			*rc = qlb_usage_err(usage, "agent %s: bad option '%s'",
					    argv[0], argv[optind - 1]);
			return false;
		}
	}
	if (argc - optind != nargs) {
		*rc = qlb_usage_err(usage, "agent %s: %s", argv[0],
				    argc - optind > nargs ? "too many arguments"
							  : "missing argument");
		return false;
	}
	if (o->listen && !listen_ok) {
		*rc = qlb_usage_err(usage,
				    "agent %s: --listen is for agent "
				    "metrics",
				    argv[0]);
		return false;
	}
	return true;
}

/* run and detach: "-f FILE" is all they take */
static int run_or_detach(int argc, char **argv, bool detach)
{
	struct agent_opts o;
	int rc;

	if (!agent_opts(argc, argv, 0, false, &o, &rc))
		return rc;
	if (!o.file)
		return qlb_usage_err(usage, "agent %s: -f FILE is required",
				     detach ? "detach" : "run");
	return detach ? qlb_agent_detach(o.file) : qlb_agent_run(o.file);
}

static int sub_run(int argc, char **argv)
{
	return run_or_detach(argc, argv, false);
}

static int sub_detach(int argc, char **argv)
{
	return run_or_detach(argc, argv, true);
}

static int status_or_metrics(int argc, char **argv, bool metrics)
{
	struct agent_opts o;
	int rc;

	if (!agent_opts(argc, argv, 0, metrics, &o, &rc))
		return rc;
	if (socket_path(o.file, o.sock, o.path, sizeof(o.path)))
		return QLB_EXIT_ERR;
	return do_status(o.path, metrics, o.listen);
}

static int sub_status(int argc, char **argv)
{
	return status_or_metrics(argc, argv, false);
}

static int sub_metrics(int argc, char **argv)
{
	return status_or_metrics(argc, argv, true);
}

static int sub_promote(int argc, char **argv)
{
	struct agent_opts o;
	uint32_t gen;
	int rc;

	if (!agent_opts(argc, argv, 1, false, &o, &rc))
		return rc;
	if (qlb_parse_u32("generation", argv[optind], 1, UINT32_MAX, &gen))
		return QLB_EXIT_USAGE;
	if (socket_path(o.file, o.sock, o.path, sizeof(o.path)))
		return QLB_EXIT_ERR;
	return do_promote(o.path, gen);
}

static const struct qlb_cmd agent_cmds[] = {
	{"run", sub_run, "run the host agent (also: agent -f FILE)"},
	{"status", sub_status, "the agent's workers, generations, counters"},
	{"promote", sub_promote, "make a generation the working one"},
	{"metrics", sub_metrics, "Prometheus text, once or over HTTP"},
	{"detach", sub_detach, "remove decapsulation and pins"},
};

int cmd_agent(int argc, char **argv)
{
	/* "agent -f FILE" runs; otherwise the first word is a subcommand */
	if (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "-h") &&
	    strcmp(argv[1], "--help")) {
		argv[0] = "run";
		return sub_run(argc, argv);
	}
	return qlb_cmd_select(agent_cmds, QLB_ARRAY_SIZE(agent_cmds), argc - 1,
			      argv + 1, "agent command", usage);
}
