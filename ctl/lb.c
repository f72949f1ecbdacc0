// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl lb: the LB node's control. The command table and options are
 * here; apply and detach are in ctl/lb_apply.c, status, stats and metrics
 * in ctl/lb_show.c, the long-running node in ctl/lb_run.c; the maps and
 * their filling (also used by `qlbctl trace` and the tests) in
 * ctl/lb_maps.c and ctl/lb_fill.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "announce.h"
#include "common.h"
#include "config.h"
#include "lb_cmd.h"
#include "lb_run.h"

int lb_resolve_pin_dir(struct lb_opts *o)
{
	struct qlb_config cfg;

	if (o->pin_dir[0])
		return 0;
	if (!o->file) {
		snprintf(o->pin_dir, sizeof(o->pin_dir), "%s",
			 QLB_LB_DEFAULT_PIN_DIR);
		return 0;
	}
	if (qlb_config_load(o->file, &cfg, stderr)) {
		qlb_err("%s: not a valid config", o->file);
		return -1;
	}
	snprintf(o->pin_dir, sizeof(o->pin_dir), "%s", cfg.lb.pin_dir);
	qlb_config_free(&cfg);
	return 0;
}

int lb_open_or_complain(struct lb_opts *o, struct qlb_lb_maps *m)
{
	if (lb_resolve_pin_dir(o))
		return -1;
	if (qlb_lb_maps_open(o->pin_dir, m)) {
		qlb_err("no usable LB data plane under %s (%s): run 'qlbctl lb "
			"apply' (after 'qlbctl lb detach' for another layout)",
			o->pin_dir,
			errno == EPROTO ? "maps of another layout"
					: strerror(errno));
		qlb_lb_maps_close(m);
		return -1;
	}
	return 0;
}

static void lb_usage(FILE *f);

/*
 * The options every subcommand but run takes (argv[0] is the
 * subcommand). Return: -1 when @o is ready, else the exit code.
 */
static int lb_parse(int argc, char **argv, struct lb_opts *o)
{
	static const struct option lo[] = {
		{"file", required_argument, NULL, 'f'},
		{"pin-dir", required_argument, NULL, 'P'},
		{"watch", no_argument, NULL, 'w'},
		{"interval", required_argument, NULL, 'i'},
		{"count", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	int c;

	memset(o, 0, sizeof(*o));
	o->interval = 1.0;
	optind = 1;
	opterr = !qlb_json; /* under -j the one error is JSON */
	while ((c = getopt_long(argc, argv, "f:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->file = optarg;
			break;
		case 'P':
			if (snprintf(o->pin_dir, sizeof(o->pin_dir), "%s",
				     optarg) >= (int)sizeof(o->pin_dir))
				return qlb_usage_err(NULL,
						     "--pin-dir: too long");
			break;
		case 'w':
			o->watch = true;
			break;
		case 'i':
			if (qlb_parse_double("--interval", optarg, 0.05, 86400,
					     &o->interval))
				return QLB_EXIT_USAGE;
			break;
		case 'c':
			if (qlb_parse_u32("--count", optarg, 0, UINT32_MAX,
					  &o->count))
				return QLB_EXIT_USAGE;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'h':
			lb_usage(stdout);
			return QLB_EXIT_OK;
		default:
			return qlb_usage_err(lb_usage, "lb %s: bad option",
					     argv[0]);
		}
	}
	if (optind < argc)
		return qlb_usage_err(NULL, "lb %s: unexpected argument '%s'",
				     argv[0], argv[optind]);
	return -1;
}

#define LB_SUBCOMMAND(name)                                                    \
	static int cmd_lb_##name(int argc, char **argv)                        \
	{                                                                      \
		struct lb_opts o;                                              \
		int rc = lb_parse(argc, argv, &o);                             \
                                                                               \
		return rc >= 0 ? rc : lb_##name(&o);                           \
	}
LB_SUBCOMMAND(apply)
LB_SUBCOMMAND(status)
LB_SUBCOMMAND(stats)
LB_SUBCOMMAND(metrics)
LB_SUBCOMMAND(detach)

static const struct qlb_cmd lb_cmds[] = {
	{"apply", cmd_lb_apply,
	 "validate -f FILE whole, load/attach once, update in place"},
	{"status", cmd_lb_status, "program, interface, configs, VIPs, hosts"},
	{"stats", cmd_lb_stats,
	 "counters per service, VIP and reason, per member and host (rates "
	 "with --watch)"},
	{"metrics", cmd_lb_metrics,
	 "Prometheus text once, or served over HTTP (--listen)"},
	{"detach", cmd_lb_detach, "detach the program and remove its pins"},
	{"run", cmd_lb_run,
	 "long-running LB node: apply, health checks, VIP announcement"},
	{"drain", cmd_lb_drain,
	 "maintenance: withdraw the VIPs, wait (--wait S), then detach"},
};

static void lb_usage(FILE *f)
{
	fprintf(f, "Usage: qlbctl [-j] lb COMMAND [OPTIONS]\n\n");
	qlb_cmd_list(f, lb_cmds, QLB_ARRAY_SIZE(lb_cmds));
	fprintf(f,
		"\nOptions:\n"
		"  -f FILE             the config (apply: required; else for "
		"lb.pin_dir)\n"
		"  --pin-dir DIR       default lb.pin_dir of FILE, else %s\n"
		"  --watch [--interval S] [--count N]\n"
		"                      stats: sample every S seconds (0.05 or "
		"more), N times\n"
		"  --listen ADDR:PORT  metrics: serve over HTTP until "
		"stopped\n",
		QLB_LB_DEFAULT_PIN_DIR);
}

int cmd_lb(int argc, char **argv)
{
	return qlb_cmd_select(lb_cmds, QLB_ARRAY_SIZE(lb_cmds), argc - 1,
			      argv + 1, "lb command", lb_usage);
}
