/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What the `qlbctl lb` subcommands share: their options and the way they
 * find and open the pinned data plane (ctl/lb.c), and their entry points
 * (ctl/lb_apply.c, ctl/lb_show.c).
 */
#ifndef QLB_CTL_LB_CMD_H
#define QLB_CTL_LB_CMD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "lb.h"

#define QLB_LB_DEFAULT_PIN_DIR "/sys/fs/bpf/qlb/lb"

struct lb_opts {
	const char *file;
	char pin_dir[PATH_MAX];
	bool watch;
	double interval; /* seconds between --watch samples */
	uint32_t count;	 /* --watch samples, 0: until stopped */
	const char *listen;
};

/* lb_resolve_pin_dir() - --pin-dir, else lb.pin_dir of -f FILE, else the
 * default. Return: 0, or -1 after an error message. */
int lb_resolve_pin_dir(struct lb_opts *o);

/* lb_open_or_complain() - open the pinned maps, or say why not (and
 * close what was opened). Return: 0 or -1. */
int lb_open_or_complain(struct lb_opts *o, struct qlb_lb_maps *m);

/* The subcommands; each returns an exit code. */
int lb_apply(struct lb_opts *o);
int lb_detach(struct lb_opts *o);
int lb_status(struct lb_opts *o);
int lb_stats(struct lb_opts *o);
int lb_metrics(struct lb_opts *o);

#endif /* QLB_CTL_LB_CMD_H */
