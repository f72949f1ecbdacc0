// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * `qlbctl lb apply` and `qlbctl lb detach`: load, pin and attach the XDP
 * program once, fill its maps from a validated file every time (through
 * qlb_lb_fill()), and take it all away again.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "announce.h"
#include "bpf_util.h"
#include "common.h"
#include "config.h"
#include "health.h"
#include "lb_cmd.h"
#include "qlb_xdp.skel.h"

static const char *mode_name(uint32_t mode)
{
	return mode == QLB_XDP_GENERIC ? "generic" : "native";
}

/* Attach @prog_fd to @ifindex unless it is attached there already. A
 * foreign program in its place is refused, not replaced. */
static int attach(int prog_fd, int ifindex, const char *ifname,
		  enum qlb_xdp_mode mode)
{
	uint32_t pid = qlb_prog_id(prog_fd), cur;
	int rc;

	cur = qlb_xdp_attached(ifindex, mode);
	if (pid && cur == pid)
		return 0;
	rc = qlb_xdp_attach(ifindex, prog_fd, mode, 0);
	if (rc) {
		qlb_err("cannot attach XDP to %s (%s mode): %s%s", ifname,
			mode_name(mode), strerror(-rc),
			rc == -EPERM ? " (are you root?)"
			: rc == -EEXIST || rc == -EBUSY
				? " (another XDP program is attached there)"
				: "");
		return -1;
	}
	return 0;
}

/* The pinned program's maps, when an apply ran before: refuses pins of
 * another layout and a move to another interface or mode. */
static int open_existing(struct lb_opts *o, const struct qlb_config *cfg,
			 int ifindex, struct qlb_lb_maps *m)
{
	struct qlb_lb_ctrl ctrl;
	__u32 zero = 0;

	if (qlb_lb_maps_open(o->pin_dir, m)) {
		qlb_err("%s: pinned maps missing or of another layout (%s); "
			"run 'qlbctl lb detach' first",
			o->pin_dir, strerror(errno));
		return -1;
	}
	if (bpf_map_lookup_elem(m->ctrl, &zero, &ctrl))
		return -1;
	if (ctrl.gen && ((int)ctrl.ifindex != ifindex ||
			 ctrl.xdp_mode != cfg->lb.xdp_mode)) {
		char name[IF_NAMESIZE] = "?";

		if_indextoname(ctrl.ifindex, name);
		qlb_err("the program under %s is attached to %s in %s mode; "
			"run 'qlbctl lb detach' before moving it; nothing "
			"changed",
			o->pin_dir, name, mode_name(ctrl.xdp_mode));
		return -1;
	}
	return 0;
}

/*
 * A first apply: load the object with its maps pinned under pin_dir. On
 * failure only the pins this run made go (@had: those there before).
 */
static struct qlb_xdp *load_fresh(struct lb_opts *o, uint32_t had)
{
	struct qlb_xdp *skel;
	int e;

	skel = qlb_xdp__open();
	if (!skel) {
		qlb_err("cannot open the XDP object: %s", strerror(errno));
		return NULL;
	}
	e = qlb_lb_maps_set_pins(skel, o->pin_dir);
	if (!e)
		e = qlb_xdp__load(skel);
	if (e) {
		qlb_err("cannot load the XDP program: %s (stale pins under "
			"%s? 'qlbctl lb detach'; -v shows the verifier log)",
			strerror(-e), o->pin_dir);
		qlb_xdp__destroy(skel);
		qlb_lb_unpin_new(o->pin_dir, had);
		return NULL;
	}
	return skel;
}

/*
 * Check pin_dir (every component root's and closed to others, missing ones
 * created 0700: qlb_pin_dir_secure()) and take its lock (qlb_lb_lock()):
 * one apply or detach at a time, from the check of what is pinned to the
 * flip. @create: make what is missing (apply), else it must exist.
 * Return: the lock's descriptor, or -1 after an error message.
 */
static int lock_pin_dir(const struct lb_opts *o, bool create)
{
	char err[PATH_MAX + 160];
	int e = 0, tries;

	for (tries = 0; tries < 5; tries++) {
		if (qlb_pin_dir_secure(o->pin_dir, create, err, sizeof(err))) {
			qlb_err("lb.pin_dir %s refused: %s; nothing changed",
				o->pin_dir, err);
			return -1;
		}
		e = qlb_lb_lock(o->pin_dir);
		if (e >= 0)
			return e;
		if (e != -ENOENT || !create) /* a detach removed it: again */
			break;
	}
	qlb_err("cannot lock %s: %s; nothing changed", o->pin_dir,
		strerror(-e));
	return -1;
}

static void apply_report(const struct lb_opts *o, const struct qlb_config *cfg,
			 const struct qlb_lb_maps *m)
{
	struct qlb_lb_ctrl ctrl = {0};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->ctrl, &zero, &ctrl);
	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "interface", cfg->lb.interface);
		jw_str(&w, "pin_dir", o->pin_dir);
		jw_uint(&w, "generation", ctrl.gen);
		jw_uint(&w, "services", cfg->nservices);
		jw_bool(&w, "attached", true);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		printf("applied %s to %s (generation %u, %u VIPs, %u hosts",
		       o->file, cfg->lb.interface, ctrl.gen, cfg->lb.nvips,
		       cfg->nhosts);
		/* a file of one service reads as before services */
		if (cfg->nservices > 1)
			printf(", %u services", cfg->nservices);
		printf(")\n");
	}
}

int lb_apply(struct lb_opts *o)
{
	struct qlb_config cfg;
	struct qlb_lb_maps m;
	struct qlb_xdp *skel = NULL;
	char err[512], path[PATH_MAX + 64];
	uint8_t mac[6];
	int ifindex, rc = QLB_EXIT_ERR, prog_fd = -1, lock = -1, n;
	uint32_t had;

	qlb_lb_maps_init(&m);
	if (!o->file)
		return qlb_usage_err(NULL, "lb apply: -f FILE is required");
	n = qlb_config_load(o->file, &cfg, stderr);
	if (n) {
		qlb_err("%s: %d problem%s, nothing changed", o->file, n,
			n == 1 ? "" : "s");
		return QLB_EXIT_ERR;
	}
	if (qlb_lb_check(&cfg, err, sizeof(err))) {
		qlb_err("%s; nothing changed", err);
		goto out;
	}
	if (!cfg.lb.interface[0]) {
		qlb_err("%s: lb.interface is not set; nothing changed",
			o->file);
		goto out;
	}
	ifindex = if_nametoindex(cfg.lb.interface);
	if (!ifindex) {
		qlb_err("lb.interface %s: %s; nothing changed",
			cfg.lb.interface, strerror(errno));
		goto out;
	}
	if (qlb_lb_if_mac(cfg.lb.interface, mac)) {
		qlb_err("cannot read the MAC of %s: %s", cfg.lb.interface,
			strerror(errno));
		goto out;
	}
	if (!o->pin_dir[0])
		snprintf(o->pin_dir, sizeof(o->pin_dir), "%s", cfg.lb.pin_dir);
	qlb_bpf_log_init();
	lock = lock_pin_dir(o, true);
	if (lock < 0)
		goto out;

	had = qlb_lb_pins_present(o->pin_dir);
	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, QLB_LB_PIN_PROG);
	prog_fd = bpf_obj_get(path);
	if (prog_fd >= 0) {
		if (open_existing(o, &cfg, ifindex, &m))
			goto out;
	} else {
		skel = load_fresh(o, had);
		if (!skel)
			goto out;
		qlb_lb_maps_from_skel(&m, skel);
		prog_fd = bpf_program__fd(skel->progs.qlb_xdp_ingress);
	}

	if (qlb_lb_fill(&m, &cfg, mac, ifindex, cfg.lb.xdp_mode, err,
			sizeof(err))) {
		qlb_err("%s; the running config is unchanged", err);
		goto out_unpin;
	}
	if (skel && bpf_program__pin(skel->progs.qlb_xdp_ingress, path)) {
		qlb_err("cannot pin the program at %s: %s", path,
			strerror(errno));
		goto out_unpin;
	}
	if (attach(prog_fd, ifindex, cfg.lb.interface, cfg.lb.xdp_mode))
		goto out_unpin;
	apply_report(o, &cfg, &m);
	rc = QLB_EXIT_OK;
	goto out;

out_unpin:
	if (skel) /* a first apply that failed takes back what it pinned */
		qlb_lb_unpin_new(o->pin_dir, had);
out:
	if (!skel) {
		qlb_lb_maps_close(&m);
		if (prog_fd >= 0)
			close(prog_fd);
	}
	qlb_xdp__destroy(skel);
	if (lock >= 0)
		close(lock); /* after the flip and the attach */
	qlb_config_free(&cfg);
	return rc;
}

static void detach_report(const struct lb_opts *o, const char *ifname)
{
	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "detached", ifname);
		jw_str(&w, "pin_dir", o->pin_dir);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		printf("detached from %s, removed %s\n", ifname, o->pin_dir);
	}
}

int lb_detach(struct lb_opts *o)
{
	struct qlb_lb_ctrl ctrl = {0};
	char path[PATH_MAX + 64], ifname[IF_NAMESIZE] = "?";
	__u32 zero = 0, pid = 0;
	int pfd, cfd, lock, rc = QLB_EXIT_ERR;

	/* lenient: whatever an interrupted apply left behind must go too */
	if (lb_resolve_pin_dir(o))
		return QLB_EXIT_ERR;
	lock = lock_pin_dir(o, false);
	if (lock < 0)
		return QLB_EXIT_ERR;
	snprintf(path, sizeof(path), "%s/qlb_ctrl", o->pin_dir);
	cfd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, QLB_LB_PIN_PROG);
	pfd = bpf_obj_get(path);
	if (cfd < 0 && pfd < 0) {
		qlb_err("no LB data plane pinned under %s: nothing to detach",
			o->pin_dir);
		goto out;
	}
	if (cfd >= 0) {
		bpf_map_lookup_elem(cfd, &zero, &ctrl);
		close(cfd);
	}
	if (pfd >= 0) {
		pid = qlb_prog_id(pfd);
		close(pfd);
	}
	if_indextoname(ctrl.ifindex, ifname);
	/* only our own program: whatever else sits there stays */
	if (pid && ctrl.ifindex &&
	    qlb_xdp_attached(ctrl.ifindex, ctrl.xdp_mode) == pid) {
		int e = qlb_xdp_detach(ctrl.ifindex, ctrl.xdp_mode, pid);

		if (e) {
			qlb_err("cannot detach XDP from %s: %s", ifname,
				strerror(-e));
			goto out;
		}
	}
	qlb_health_unpublish(o->pin_dir);
	qlb_lb_unpin(o->pin_dir);
	/* no data plane: its VIPs must not stay announced */
	qlb_announce_withdraw_file(o->file);
	detach_report(o, ifname);
	rc = QLB_EXIT_OK;
out:
	close(lock);
	return rc;
}
