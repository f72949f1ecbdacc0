// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host agent daemon (qlbctl agent -f qlb.yaml), its life cycle: load
 * the config, open the data plane (agent_dataplane.c), recover workers and
 * generations from the pinned maps (agent_gens.c), serve host.agent_socket
 * (agent_server.c), reload on SIGHUP, stop on SIGTERM/SIGINT. The data
 * plane keeps running without the agent.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent_daemon.h"
#include "agent_probe.h"
#include "agent_probe.h"
#include "common.h"

static FILE *ag_log_f;

uint64_t ag_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

void ag_log_to(FILE *f)
{
	ag_log_f = f;
}

uint64_t ag_now_real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void ag_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qlb_vlog(ag_log_f ? ag_log_f : stderr, "%H:%M:%S", " qlb-agent: ", fmt,
		 ap);
	va_end(ap);
}

/*
 * ag_load() - read and check @path for the agent. Nothing running is
 * touched. Return: 0 or -1 (reasons printed).
 */
int ag_load(const char *path, struct qlb_config *cfg,
	    const struct qlb_conf_host **me)
{
	if (qlb_config_load(path, cfg, stderr))
		return -1;
	if (!cfg->host.present) {
		ag_log("%s: no host: section (the agent needs host.name)",
		       path);
		goto bad;
	}
	*me = qlb_config_host(cfg, cfg->host.name);
	if (!*me) {
		ag_log("%s: host.name '%s' names no entry of hosts:", path,
		       cfg->host.name);
		goto bad;
	}
	return 0;
bad:
	qlb_config_free(cfg);
	return -1;
}

/* Apply a (re)loaded config to the data plane and the servers. */
int ag_apply(struct agent *ag)
{
	int err, i;

	err = ag_write_hcfg(ag);
	if (!err)
		err = ag_write_dc_cfg(ag);
	if (err) {
		ag_log("cannot write the data-plane config: %s",
		       strerror(-err));
		return err;
	}
	ag->max_workers = ag_max_workers(&ag->cfg, ag->me);
	if (ag->next_id >= ag->max_workers)
		ag->next_id = 0;
	/* the VIPs worker sockets must be bound to */
	if (!ag->trust)
		ag->trust = calloc(1, sizeof(*ag->trust));
	if (!ag->trust)
		return -ENOMEM;
	qlb_host_trust_of(&ag->cfg, ag->trust);
	if (!ag->trust->nvip)
		ag_log("%s lists no VIP (host.vips, lb.vips): worker sockets "
		       "bound to any address are taken",
		       ag->cfg_path);
	for (i = 0; i < AG_MAX_CONNS; i++) {
		struct ag_conn *c = ag->conns[i];

		/* one that cannot take them is dropped by ag_send() */
		if (c && c->worker >= 0)
			ag_send_configs(ag, c);
	}
	return 0;
}

/*
 * ag_resp_update() - the health probe responder for the current config:
 * opened on first use, moved when host.health_port changed. Without it
 * the LB nodes find this host unhealthy, so a failure is logged loudly.
 */
static void ag_resp_update(struct agent *ag)
{
	char err[256];
	uint16_t port = ag->cfg.host.health_port ? ag->cfg.host.health_port
						 : QLB_DEFAULT_HEALTH_PORT;

	if (ag->resp && qlb_probe_resp_port(ag->resp) == port) {
		qlb_probe_resp_set_config(ag->resp, &ag->cfg);
		return;
	}
	qlb_probe_resp_close(ag->resp);
	ag->resp = qlb_probe_resp_open(&ag->cfg, ag->pin_dir, err, sizeof(err));
	if (!ag->resp)
		ag_log("%s: LB nodes will see this host as unhealthy", err);
}

static void ag_reload(struct agent *ag)
{
	struct qlb_config ncfg, ocfg;
	const struct qlb_conf_host *nme, *ome;
	char oldif[sizeof(ag->cfg.host.interface)];

	ag_log("SIGHUP: reloading %s", ag->cfg_path);
	if (ag_load(ag->cfg_path, &ncfg, &nme)) {
		ag_log("reload failed: %s is not valid; keeping the running "
		       "state",
		       ag->cfg_path);
		return;
	}
	/* refused, not applied in part: live workers keep minting under
	 * configs that hold their IDs, and the operator learns which */
	if (ag_workers_fit(ag, &ncfg, nme)) {
		ag_log("reload refused: %s has configs whose worker_bits "
		       "cannot "
		       "hold live workers' IDs (above); keeping the running "
		       "config",
		       ag->cfg_path);
		qlb_config_free(&ncfg);
		return;
	}
	if (strcmp(ncfg.host.agent_socket, ag->sock_path) ||
	    strcmp(ncfg.host.pin_dir, ag->pin_dir))
		ag_log("host.agent_socket and host.pin_dir take effect at the "
		       "next start only");
	ocfg = ag->cfg;
	ome = ag->me;
	memcpy(oldif, ag->cfg.host.interface, sizeof(oldif));
	ag->cfg = ncfg;
	ag->me = nme;
	ag->me_idx = (unsigned int)(nme - ncfg.hosts);
	if (ag_apply(ag)) {
		ag_log("reload failed; keeping the running state");
		ag->cfg = ocfg;
		ag->me = ome;
		ag->me_idx = (unsigned int)(ome - ocfg.hosts);
		ag_apply(ag);
		qlb_config_free(&ncfg);
		return;
	}
	if (strcmp(oldif, ag->cfg.host.interface))
		ag_attach_xdp(ag);
	ag_resp_update(ag);
	qlb_config_free(&ocfg);
	ag_log("reloaded %s", ag->cfg_path);
	ag_update_gens(ag, 0);
}

struct agent *ag_new(const char *cfg_path)
{
	struct agent *ag;
	int i;

	ag = calloc(1, sizeof(*ag));
	if (!ag)
		return NULL;
	ag->workers = calloc(QLB_HOST_MAX_WORKERS, sizeof(*ag->workers));
	if (!ag->workers) {
		free(ag);
		return NULL;
	}
	for (i = 0; i < QLB_HOST_MAX_WORKERS; i++)
		ag->workers[i].conn = -1;
	ag->lfd = ag->sfd = ag->lock_fd = -1;
	ag->cfg_path = cfg_path;
	ag->started_ns = ag_now_real_ns();
	if (ag_load(cfg_path, &ag->cfg, &ag->me)) {
		free(ag->workers);
		free(ag);
		return NULL;
	}
	ag->me_idx = (unsigned int)(ag->me - ag->cfg.hosts);
	snprintf(ag->sock_path, sizeof(ag->sock_path), "%s",
		 ag->cfg.host.agent_socket);
	snprintf(ag->pin_dir, sizeof(ag->pin_dir), "%s", ag->cfg.host.pin_dir);
	return ag;
}

void ag_free(struct agent *ag)
{
	int i;

	if (!ag)
		return;
	for (i = 0; i < AG_MAX_CONNS; i++)
		ag_close_conn(ag, i);
	if (ag->lfd >= 0) {
		close(ag->lfd);
		unlink(ag->sock_path);
	}
	if (ag->sfd >= 0)
		close(ag->sfd);
	qlb_probe_resp_close(ag->resp);
	ag_close_dataplane(ag);
	qlb_config_free(&ag->cfg);
	free(ag->trust);
	free(ag->workers);
	/* the config held keys */
	explicit_bzero(ag, sizeof(*ag));
	free(ag);
}

int qlb_agent_run(const char *cfg_path)
{
	struct agent *ag;
	int err = -1, i;

	/* the agent holds every key of its file (the config, the CONFIGS it
	 * sends, qlb_hcfg's round keys): no core dump, and no ptrace or
	 * /proc/PID/mem by anyone short of CAP_SYS_PTRACE */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		ag_log("cannot keep the keys out of core dumps: "
		       "PR_SET_DUMPABLE: %s",
		       strerror(errno));
	ag = ag_new(cfg_path);
	if (!ag)
		return QLB_EXIT_ERR;
	ag->sfd = qlb_signalfd();

	if (ag_open_dataplane(ag, true))
		goto out;
	ag_recover(ag);
	if (ag_workers_fit(ag, &ag->cfg, ag->me)) {
		ag_log("%s has configs whose worker_bits cannot hold the IDs "
		       "of "
		       "workers still registered in %s (above); not starting "
		       "(fix the file, or stop those workers)",
		       ag->cfg_path, ag->pin_dir);
		goto out;
	}
	if (ag_apply(ag) || ag_attach_xdp(ag))
		goto out;
	ag_update_gens(ag, 0);
	if (ag_listen(ag))
		goto out;
	ag_resp_update(ag);
	ag_log("serving %s for host %s (pins %s, decap on %s %s, worker IDs < "
	       "%u)",
	       ag->sock_path, ag->cfg.host.name, ag->pin_dir,
	       *ag->cfg.host.interface ? ag->cfg.host.interface : "(none)",
	       !ag->ifindex			 ? ""
	       : ag->xdp_mode == QLB_XDP_GENERIC ? "generic"
						 : "native",
	       ag->max_workers);

	while (!ag->stop) {
		struct pollfd p[AG_MAX_CONNS + 4];
		int map[AG_MAX_CONNS + 4], np = 0, r, rfd[2], nr;

		p[np] = (struct pollfd){.fd = ag->sfd, .events = POLLIN};
		map[np++] = -2;
		if (ag_now_ms() >= ag->accept_after_ms) {
			p[np] = (struct pollfd){.fd = ag->lfd,
						.events = POLLIN};
			map[np++] = -1;
		}
		nr = ag->resp ? qlb_probe_resp_fds(ag->resp, rfd, 2) : 0;
		for (i = 0; i < nr; i++) {
			p[np] = (struct pollfd){.fd = rfd[i], .events = POLLIN};
			map[np++] = -3 - i;
		}
		for (i = 0; i < AG_MAX_CONNS; i++) {
			if (!ag->conns[i])
				continue;
			p[np] = (struct pollfd){
				.fd = ag->conns[i]->fd,
				.events = ag_conn_events(ag->conns[i])};
			map[np++] = i;
		}
		r = poll(p, (nfds_t)np, AG_CHECK_MS);
		if (r < 0 && errno != EINTR)
			break;
		for (i = 0; r > 0 && i < np; i++) {
			if (!p[i].revents)
				continue;
			if (map[i] == -2) {
				struct signalfd_siginfo si;

				while (read(ag->sfd, &si, sizeof(si)) ==
				       sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						ag_reload(ag);
					else
						ag->stop = true;
				}
			} else if (map[i] == -1) {
				ag_accept(ag);
			} else if (map[i] <= -3) {
				if (ag->resp)
					qlb_probe_resp_input(ag->resp,
							     rfd[-3 - map[i]]);
			} else if (ag->conns[map[i]]) {
				ag_conn_ready(ag, map[i], p[i].revents);
			}
		}
		ag_conns_sweep(ag);
		ag_check_workers(ag);
	}
	ag_log("stopping; the data plane keeps running from %s", ag->pin_dir);
	err = 0;
out:
	ag_free(ag);
	return err ? QLB_EXIT_ERR : QLB_EXIT_OK;
}
