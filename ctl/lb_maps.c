// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's maps as user space sees them: which maps qlbctl pins and
 * opens, opening and closing them, pin paths, and the names of the
 * program's reasons and actions (lb.h). What goes into them is
 * ctl/lb_fill.c's job.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb.h"
#include "maglev.h"
#include "qlb_xdp.skel.h"

/* The maps qlbctl pins and opens: their names in the program, where
 * struct qlb_lb_maps keeps their descriptors, and the value size of this
 * build (pins left by another layout are refused, not half-written). */
#define LB_MAP(n, f, t)                                                        \
	{                                                                      \
		n, offsetof(struct qlb_lb_maps, f), sizeof(t)                  \
	}
static const struct {
	const char *name;
	size_t off;
	__u32 vsize;
} lb_maps[] = {
	LB_MAP("qlb_ctrl", ctrl, struct qlb_lb_ctrl),
	LB_MAP("qlb_settings_v2", settings, struct qlb_lb_settings),
	LB_MAP("qlb_vips_v2", vips, struct qlb_lb_vip_ent),
	LB_MAP("qlb_cid_cfgs_v2", cid_cfgs, struct qlb_lb_cid),
	LB_MAP("qlb_sids_v2", sids, struct qlb_lb_sid_ent),
	LB_MAP("qlb_hosts_v2", hosts, struct qlb_lb_host),
	LB_MAP("qlb_maglev_v2", maglev, __u32),
	LB_MAP("qlb_mglv_est_v2", maglev_est, __u32),
	LB_MAP("qlb_stats_v3", stats, struct qlb_lb_counter),
	LB_MAP("qlb_host_stats_v2", host_stats, struct qlb_lb_counter),
	LB_MAP("qlb_cfg_stats_v2", cfg_stats, struct qlb_lb_counter),
	LB_MAP("qlb_cid_cache", cid_cache, struct qlb_lb_cache_ent),
	LB_MAP("qlb_vip_cfgs", vip_cfgs, struct qlb_lb_vip_cfg),
};
#define NMAPS (sizeof(lb_maps) / sizeof(lb_maps[0]))
_Static_assert(NMAPS * sizeof(int) == sizeof(struct qlb_lb_maps),
	       "every map of struct qlb_lb_maps is in lb_maps[]");

static int *map_fd(struct qlb_lb_maps *m, size_t i)
{
	return (int *)((char *)m + lb_maps[i].off);
}

void qlb_lb_maps_init(struct qlb_lb_maps *m)
{
	size_t i;

	for (i = 0; i < NMAPS; i++)
		*map_fd(m, i) = -1;
}

/* The map descriptors of a loaded skeleton (apply, trace, tests). */
void qlb_lb_maps_from_skel(struct qlb_lb_maps *m, const struct qlb_xdp *skel)
{
	size_t i;

	for (i = 0; i < NMAPS; i++)
		*map_fd(m, i) = bpf_object__find_map_fd_by_name(
			skel->obj, lb_maps[i].name);
}

int qlb_lb_maps_open(const char *dir, struct qlb_lb_maps *m)
{
	char path[PATH_MAX + 64];
	size_t i;

	qlb_lb_maps_init(m);
	for (i = 0; i < NMAPS; i++) {
		struct bpf_map_info info = {0};
		__u32 len = sizeof(info);
		int *fd = map_fd(m, i);

		snprintf(path, sizeof(path), "%s/%s", dir, lb_maps[i].name);
		*fd = bpf_obj_get(path);
		if (*fd < 0)
			return -errno;
		if (bpf_obj_get_info_by_fd(*fd, &info, &len) ||
		    info.value_size != lb_maps[i].vsize) {
			errno = EPROTO;
			return -EPROTO;
		}
	}
	return 0;
}

void qlb_lb_maps_close(struct qlb_lb_maps *m)
{
	size_t i;

	for (i = 0; i < NMAPS; i++) {
		if (*map_fd(m, i) >= 0)
			close(*map_fd(m, i));
		*map_fd(m, i) = -1;
	}
}

int qlb_lb_maps_set_pins(struct qlb_xdp *skel, const char *dir)
{
	char path[PATH_MAX + 64];
	struct bpf_map *map;
	size_t i;

	bpf_object__for_each_map(map, skel->obj)
	{
		for (i = 0; i < NMAPS; i++) {
			if (strcmp(bpf_map__name(map), lb_maps[i].name))
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dir,
				     lb_maps[i].name) >= (int)sizeof(path))
				return -ENAMETOOLONG;
			bpf_map__set_pin_path(map, path);
		}
	}
	return 0;
}

_Static_assert(NMAPS < QLB_LB_PIN_PROG_BIT, "a bit for every pin");

/* The path of pin @i (QLB_LB_PIN_PROG_BIT: the program) under @dir. */
static void pin_path(char *path, size_t len, const char *dir, size_t i)
{
	snprintf(path, len, "%s/%s", dir,
		 i == QLB_LB_PIN_PROG_BIT ? QLB_LB_PIN_PROG : lb_maps[i].name);
}

uint32_t qlb_lb_pins_present(const char *dir)
{
	char path[PATH_MAX + 64];
	struct stat st;
	uint32_t had = 0;
	size_t i;

	for (i = 0; i < NMAPS; i++) {
		pin_path(path, sizeof(path), dir, i);
		if (!lstat(path, &st))
			had |= 1u << i;
	}
	pin_path(path, sizeof(path), dir, QLB_LB_PIN_PROG_BIT);
	if (!lstat(path, &st))
		had |= 1u << QLB_LB_PIN_PROG_BIT;
	return had;
}

void qlb_lb_unpin_new(const char *dir, uint32_t keep)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < NMAPS; i++) {
		if (keep & (1u << i))
			continue;
		pin_path(path, sizeof(path), dir, i);
		unlink(path);
	}
	if (!(keep & (1u << QLB_LB_PIN_PROG_BIT))) {
		pin_path(path, sizeof(path), dir, QLB_LB_PIN_PROG_BIT);
		unlink(path);
	}
	if (!keep)
		rmdir(dir);
}

void qlb_lb_unpin(const char *dir)
{
	qlb_lb_unpin_new(dir, 0);
}

int qlb_lb_lock(const char *dir)
{
	struct stat held, now;
	int fd, tries, e;

	for (tries = 0; tries < 100; tries++) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX)) {
			e = -errno;
			close(fd);
			return e;
		}
		if (fstat(fd, &held) || stat(dir, &now)) {
			e = -errno; /* -ENOENT: removed while we waited */
			close(fd);
			return e;
		}
		if (held.st_dev == now.st_dev && held.st_ino == now.st_ino)
			return fd;
		close(fd); /* removed and made again while we waited */
	}
	return -EAGAIN;
}

static const char *const reason_names[QLB_R_MAX] = {
	[QLB_R_ROUTED_CID] = "routed_cid",
	[QLB_R_FB_INITIAL] = "fallback_initial",
	[QLB_R_FB_UNROUTABLE] = "fallback_unroutable",
	[QLB_R_FB_UNKNOWN_CONFIG] = "fallback_unknown_config",
	[QLB_R_FB_UNKNOWN_SID] = "fallback_unknown_server_id",
	[QLB_R_FB_HOST_DOWN] = "fallback_host_down",
	[QLB_R_FB_TCP] = "fallback_tcp",
	[QLB_R_MALFORMED] = "malformed",
	[QLB_R_VERSION0] = "version_negotiation",
	[QLB_R_OVERSIZE] = "oversize",
	[QLB_R_ENCAP_FAIL] = "encap_failure",
	[QLB_R_NO_HOST] = "no_host",
	[QLB_R_PASSED] = "passed",
	[QLB_R_ICMP_FWD] = "icmp_forwarded",
	[QLB_R_TOO_BIG] = "too_big_answered",
};

const char *qlb_lb_reason_name(unsigned int r)
{
	return r < QLB_R_MAX ? reason_names[r] : "unknown";
}

unsigned int qlb_lb_reason_action(unsigned int r)
{
	if (r <= QLB_R_FB_TCP || r == QLB_R_ICMP_FWD || r == QLB_R_TOO_BIG)
		return QLB_ACT_TX;
	return r == QLB_R_PASSED ? QLB_ACT_PASS : QLB_ACT_DROP;
}

const char *qlb_lb_action_name(unsigned int a)
{
	return a == QLB_ACT_TX ? "tx" : a == QLB_ACT_DROP ? "drop" : "pass";
}

int qlb_lb_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	int fd, rc = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		rc = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return rc;
}

int qlb_lb_check(const struct qlb_config *cfg, char *err, size_t errlen)
{
	const struct qlb_conf_lb *lb = &cfg->lb;
	unsigned long members = 0, sids = 0;
	unsigned int i;

	if (!lb->present) {
		snprintf(err, errlen, "%s: no lb: section", cfg->path);
		return -1;
	}
	if (lb->maglev_table_size > QLB_LB_MAGLEV_MAX ||
	    !qlb_maglev_is_prime(lb->maglev_table_size)) {
		snprintf(err, errlen,
			 "%s: lb.maglev_table_size %u must be a prime <= %u",
			 cfg->path, lb->maglev_table_size, QLB_LB_MAGLEV_MAX);
		return -1;
	}
	if (lb->nvips > QLB_LB_MAX_VIPS || cfg->nhosts > QLB_LB_MAX_HOSTS) {
		snprintf(err, errlen, "%s: at most %u VIPs and %u hosts",
			 cfg->path, QLB_LB_MAX_VIPS, QLB_LB_MAX_HOSTS);
		return -1;
	}
	if (cfg->nservices > QLB_LB_MAX_SERVICES) {
		snprintf(err, errlen,
			 "%s: %u services, more than the %u an LB "
			 "node holds",
			 cfg->path, cfg->nservices, QLB_LB_MAX_SERVICES);
		return -1;
	}
	for (i = 0; i < cfg->nservices; i++) {
		const struct qlb_conf_service *svc = &cfg->services[i];
		unsigned int j, id;

		members += svc->nhosts;
		for (j = 0; j < svc->nhosts; j++)
			for (id = 0; id < QLB_CONFIG_MAX; id++)
				sids += svc->configs[id].present &&
					svc->hosts[j].has_sid[id];
	}
	if (members > QLB_LB_MAX_MEMBERS || sids > QLB_LB_MAX_SIDS) {
		snprintf(err, errlen,
			 "%s: %lu (service, host) pairs and %lu server IDs; "
			 "an LB node holds at most %u and %u",
			 cfg->path, members, sids, QLB_LB_MAX_MEMBERS,
			 QLB_LB_MAX_SIDS);
		return -1;
	}
	if ((unsigned long)cfg->nservices * lb->maglev_table_size >
	    QLB_LB_MAGLEV_POOL) {
		snprintf(err, errlen,
			 "%s: %u services x lb.maglev_table_size %u is more "
			 "than the %u Maglev entries an LB node holds",
			 cfg->path, cfg->nservices, lb->maglev_table_size,
			 (unsigned int)QLB_LB_MAGLEV_POOL);
		return -1;
	}
	if (lb->mtu > 0xffff) {
		snprintf(err, errlen, "%s: lb.mtu %u too large", cfg->path,
			 lb->mtu);
		return -1;
	}
	for (i = 0; i < cfg->nhosts; i++) {
		const struct qlb_conf_host *h = &cfg->hosts[i];
		int fam = h->address.family;

		if (fam == AF_INET && lb->encap_source_v4.family != AF_INET) {
			snprintf(err, errlen,
				 "%s:%d:%d: host %s is IPv4 but "
				 "lb.encap_source_v4 is not set",
				 cfg->path, h->pos.line, h->pos.col, h->name);
			return -1;
		}
		if (fam == AF_INET6 && lb->encap_source_v6.family != AF_INET6) {
			snprintf(err, errlen,
				 "%s:%d:%d: host %s is IPv6 but "
				 "lb.encap_source_v6 is not set",
				 cfg->path, h->pos.line, h->pos.col, h->name);
			return -1;
		}
		if (strlen(h->name) >=
		    sizeof(((struct qlb_lb_host *)0)->name)) {
			snprintf(err, errlen, "%s:%d:%d: host name %s too long",
				 cfg->path, h->pos.line, h->pos.col, h->name);
			return -1;
		}
	}
	return 0;
}
