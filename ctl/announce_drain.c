// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Maintenance drain of an LB node (announce.h, `qlbctl lb drain`):
 * withdraw every VIP, wait for the routers, detach; the marker that keeps
 * a running `qlbctl lb run` from announcing again meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "announce_int.h"
#include "bpf_util.h"
#include "common.h"
#include "lb_cmd.h"

int qlb_announce_drain(const struct qlb_config *cfg, unsigned int wait_ms,
		       char *err, size_t errlen)
{
	struct qlb_announce_opts o;
	long end;

	if (qlb_announce_withdraw_all(cfg, err, errlen))
		return -1;
	qlb_announce_opts(cfg, &o);
	end = now_ms() + (wait_ms ? wait_ms : o.drain_ms);
	while (!qlb_stop_requested && now_ms() < end) {
		struct timespec ts = {0, 100 * 1000000L};

		nanosleep(&ts, NULL);
	}
	return 0;
}

static void drain_path(const struct qlb_config *cfg, char *buf, size_t len)
{
	const char *pin = cfg && cfg->lb.pin_dir[0] ? cfg->lb.pin_dir
						    : QLB_LB_DEFAULT_PIN_DIR;
	size_t n = (size_t)snprintf(buf, len, "%s/", QLB_ANNOUNCE_DRAIN_DIR);

	/* one file per data plane: its pin directory, '/' -> '_' */
	for (; *pin && n + 1 < len; pin++)
		buf[n++] = *pin == '/' ? '_' : *pin;
	buf[n < len ? n : len - 1] = 0;
}

bool qlb_announce_draining(const struct qlb_config *cfg)
{
	char path[PATH_MAX];

	drain_path(cfg, path, sizeof(path));
	return access(path, F_OK) == 0;
}

int qlb_announce_set_draining(const struct qlb_config *cfg, bool on, char *err,
			      size_t errlen)
{
	char path[PATH_MAX];
	int fd, e;

	drain_path(cfg, path, sizeof(path));
	if (!on) {
		if (unlink(path) && errno != ENOENT) {
			set_err(err, errlen, "cannot remove %s: %s", path,
				strerror(errno));
			return -1;
		}
		return 0;
	}
	e = qlb_mkdir_p(QLB_ANNOUNCE_DRAIN_DIR, 0755);
	if (e) {
		set_err(err, errlen, "cannot create %s: %s",
			QLB_ANNOUNCE_DRAIN_DIR, strerror(-e));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(err, errlen, "cannot create %s: %s", path,
			strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int qlb_announce_withdraw_file(const char *file)
{
	struct qlb_config cfg;
	char err[256] = "";
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	if (file && qlb_config_load_diag(file, &cfg, NULL, NULL)) {
		/* the defaults still name the table */
		memset(&cfg, 0, sizeof(cfg));
		file = NULL;
	}
	ret = qlb_announce_withdraw_all(&cfg, err, sizeof(err));
	if (ret)
		qlb_warn("%s", err);
	if (file)
		qlb_config_free(&cfg);
	return ret;
}

static void drain_usage(FILE *f)
{
	fprintf(f,
		"Usage: qlbctl [-j] lb drain -f FILE [--wait SECS] "
		"[--pin-dir DIR]\n\n"
		"Take the LB node out of service without losing packets: "
		"withdraw its VIPs\nfrom the routing daemon, wait SECS "
		"(default lb.announce.drain_time, else %u)\nfor the routers "
		"to move the traffic to the other LB nodes, then detach.\n"
		"A running `qlbctl lb run` does not announce again meanwhile. "
		"Undo with\n`qlbctl lb apply` (or a restart of qlb-lb-run).\n",
		QLB_ANNOUNCE_DRAIN_MS / 1000);
}

int cmd_lb_drain(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"wait", required_argument, NULL, 'w'},
		{"pin-dir", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lb_opts o = {0};
	struct qlb_config cfg;
	double wait_s = -1;
	unsigned int wait_ms;
	char err[256] = "";
	long t0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:w:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.file = optarg;
			break;
		case 'w':
			if (qlb_parse_double("--wait", optarg, 0, 3600,
					     &wait_s))
				return QLB_EXIT_USAGE;
			break;
		case 'P':
			snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", optarg);
			break;
		case 'h':
			drain_usage(stdout);
			return QLB_EXIT_OK;
		default:
			return qlb_usage_err(drain_usage,
					     "lb drain: bad option");
		}
	}
	if (!o.file)
		return qlb_usage_err(drain_usage,
				     "lb drain: -f FILE is required");
	if (optind < argc)
		return qlb_usage_err(drain_usage, "lb drain: unexpected '%s'",
				     argv[optind]);
	if (qlb_config_load(o.file, &cfg, stderr))
		return QLB_EXIT_ERR;
	qlb_catch_stop();
	t0 = now_ms();
	/* --wait 0: no wait at all (1 ms; 0 means the default below) */
	wait_ms = wait_s < 0	      ? 0
		  : wait_s * 1000 < 1 ? 1
				      : (unsigned int)(wait_s * 1000);
	if (qlb_announce_set_draining(&cfg, true, err, sizeof(err)) ||
	    qlb_announce_drain(&cfg, wait_ms, err, sizeof(err))) {
		qlb_err("lb drain: %s", err);
		qlb_announce_set_draining(&cfg, false, NULL, 0);
		qlb_config_free(&cfg);
		return QLB_EXIT_ERR;
	}
	if (qlb_stop_requested) {
		/* interrupted: back in service, nothing detached */
		qlb_announce_set_draining(&cfg, false, NULL, 0);
		qlb_err("lb drain: interrupted; the VIPs will be announced "
			"again by qlbctl lb run");
		qlb_config_free(&cfg);
		return QLB_EXIT_ERR;
	}
	if (!qlb_json)
		printf("VIPs withdrawn; waited %.1f s\n",
		       (double)(now_ms() - t0) / 1000);
	rc = lb_detach(&o);
	/* detached: `lb run` sees no data plane and announces nothing;
	 * an apply brings the node back without another command */
	qlb_announce_set_draining(&cfg, false, NULL, 0);
	qlb_config_free(&cfg);
	return rc;
}
