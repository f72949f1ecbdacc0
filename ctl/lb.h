/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The LB node's control plane shared by `qlbctl lb`, `qlbctl trace` and the
 * tests: the program's maps (ctl/lb_maps.c) and turning a validated config
 * into their spare slot (ctl/lb_fill.c). The commands themselves are in
 * ctl/lb.c (dispatch), ctl/lb_apply.c (apply, detach) and ctl/lb_show.c
 * (status, stats, metrics).
 */
#ifndef QLB_CTL_LB_H
#define QLB_CTL_LB_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "qlb/abi/lb_abi.h"

/* File descriptors of the program's maps (pinned or private), all pinned
 * under lb.pin_dir by their names in the program (qlb_ctrl, ...). */
struct qlb_lb_maps {
	int ctrl, settings, vips, cid_cfgs, sids, hosts, maglev, maglev_est;
	int stats, host_stats, cfg_stats, cid_cache, vip_cfgs;
};

/*
 * qlb_lb_check() - what the LB node needs beyond qlb_config_load()'s
 * validation (limits of the maps, source addresses for the hosts' families).
 * Return: 0, or -1 with a message in @err.
 */
int qlb_lb_check(const struct qlb_config *cfg, char *err, size_t errlen);

struct qlb_xdp;
/* The map descriptors of a loaded qlb_xdp skeleton. */
void qlb_lb_maps_from_skel(struct qlb_lb_maps *m, const struct qlb_xdp *skel);

/* Every descriptor of @m to -1 (nothing open). */
void qlb_lb_maps_init(struct qlb_lb_maps *m);

/*
 * qlb_lb_maps_open() - open the maps pinned under @dir, refusing a map
 * whose value size is not this build's (pins of another layout).
 * Return: 0, or -errno (-EPROTO for another layout; errno set too). The
 * caller closes @m with qlb_lb_maps_close() either way.
 */
int qlb_lb_maps_open(const char *dir, struct qlb_lb_maps *m);

/* Close the open descriptors of @m (and mark them closed). */
void qlb_lb_maps_close(struct qlb_lb_maps *m);

/* Give every map of @skel (opened, not loaded) its pin path under @dir,
 * so loading reuses or creates the pins. Return: 0 or -ENAMETOOLONG. */
int qlb_lb_maps_set_pins(struct qlb_xdp *skel, const char *dir);

/* Remove the pins of every map and of the program under @dir, then @dir
 * itself if empty. */
void qlb_lb_unpin(const char *dir);

/* Which pins exist under @dir: bit i for the i-th map of the map table,
 * bit QLB_LB_PIN_PROG_BIT for the program. */
#define QLB_LB_PIN_PROG_BIT 31
uint32_t qlb_lb_pins_present(const char *dir);

/* Remove the pins under @dir that are not in @keep (qlb_lb_pins_present()
 * before this run pinned anything), then @dir itself when @keep is 0 and
 * it is empty: a failed first apply takes away only what it pinned. */
void qlb_lb_unpin_new(const char *dir, uint32_t keep);

/*
 * qlb_lb_lock() - take the apply lock of @dir: an exclusive flock on the
 * directory itself (bpffs holds no regular files), so one apply or detach
 * runs at a time on a pin_dir. Waits for the one running. A directory
 * removed while waiting (a detach) is no lock: it tries the one at @dir
 * now. Return: the descriptor holding the lock (close it to release), or
 * -errno (-ENOENT when @dir does not exist).
 */
int qlb_lb_lock(const char *dir);

/*
 * qlb_lb_fill() - write @cfg into the slot packets do not use, then flip
 * to it in one word write (see include/qlb/abi/lb_abi.h): per service its
 * configs, members (server-ID entries, qlb_hosts_v2) and Maglev table,
 * and the VIPs naming their service. A config without services (built
 * without the loader) is one service of every host. VIP counter rows keep
 * their index across applies (by address and port); a member's row is
 * zeroed when the slot in use had another (service, host) at its index.
 * A member's state is the worse of its host's (cfg->hosts[].state) and
 * its own in the service (services[].hosts[].state).
 * @if_mac: the interface's MAC (source of encapsulated frames).
 * @ifindex, @xdp_mode: recorded in qlb_ctrl for status and detach.
 * Return: 0, or -1 with a message in @err; the active slot is then unchanged.
 */
int qlb_lb_fill(const struct qlb_lb_maps *m, const struct qlb_config *cfg,
		const uint8_t if_mac[6], uint32_t ifindex, uint32_t xdp_mode,
		char *err, size_t errlen);

const char *qlb_lb_reason_name(unsigned int r);
const char *qlb_lb_action_name(unsigned int a);
/* The action a reason implies (enum qlb_lb_action). */
unsigned int qlb_lb_reason_action(unsigned int r);

/* The MAC of interface @ifname. Return: 0 or -errno. */
int qlb_lb_if_mac(const char *ifname, uint8_t mac[6]);

#endif /* QLB_CTL_LB_H */
