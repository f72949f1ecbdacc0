// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* libbpf chores shared by the LB node and the host agent (bpf_util.h). */
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "bpf_util.h"
#include "common.h"

int qlb_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX], *p;
	struct stat st;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	if (stat(tmp, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	if (!qlb_verbose || (level == LIBBPF_DEBUG && qlb_verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int libxdp_log(enum libxdp_print_level level, const char *fmt,
		      va_list ap)
{
	if (!qlb_verbose || (level == LIBXDP_DEBUG && qlb_verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void qlb_bpf_log_init(void)
{
	libbpf_set_print(libbpf_log);
	libxdp_set_print(libxdp_log);
}

uint32_t qlb_prog_id(int fd)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static __u32 mode_flags(enum qlb_xdp_mode mode)
{
	return mode == QLB_XDP_GENERIC ? XDP_FLAGS_SKB_MODE
				       : XDP_FLAGS_DRV_MODE;
}

uint32_t qlb_xdp_attached(int ifindex, enum qlb_xdp_mode mode)
{
	__u32 id = 0;

	if (ifindex <= 0 || bpf_xdp_query_id(ifindex, mode_flags(mode), &id))
		return 0;
	return id;
}

int qlb_xdp_attach(int ifindex, int prog_fd, enum qlb_xdp_mode mode,
		   uint32_t old_id)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	__u32 flags = mode_flags(mode);
	int old_fd = -1, err;

	if (old_id) {
		old_fd = bpf_prog_get_fd_by_id(old_id);
		if (old_fd < 0)
			return -errno;
		opts.old_prog_fd = old_fd;
		flags |= XDP_FLAGS_REPLACE;
	} else {
		flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
	}
	err = bpf_xdp_attach(ifindex, prog_fd, flags, &opts);
	if (old_fd >= 0)
		close(old_fd);
	return err;
}

int qlb_xdp_detach(int ifindex, enum qlb_xdp_mode mode, uint32_t expected_id)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	__u32 cur = qlb_xdp_attached(ifindex, mode);
	__u32 flags = mode_flags(mode);
	int fd = -1, err;

	if (!cur)
		return 0;
	if (expected_id && cur != expected_id)
		return -EBUSY;
	fd = bpf_prog_get_fd_by_id(cur);
	if (fd >= 0) {
		opts.old_prog_fd = fd;
		flags |= XDP_FLAGS_REPLACE;
	}
	err = bpf_xdp_detach(ifindex, flags, &opts);
	if (fd >= 0)
		close(fd);
	return err;
}

uint32_t qlb_xdp_mode_wire(enum qlb_xdp_mode mode)
{
	return mode == QLB_XDP_GENERIC ? 2 : 1;
}
