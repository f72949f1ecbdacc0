// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* libbpf chores shared by the LB node and the host agent (bpf_util.h). */
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
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

/* A bpffs mount point: where the sticky, world-writable bpffs root is
 * acceptable (its sticky bit keeps others from renaming our entries). */
static bool bpffs_mount_point(const char *path, const struct stat *st)
{
	char parent[PATH_MAX], *slash;
	struct statfs sfs;
	struct stat pst;

	if (statfs(path, &sfs) || sfs.f_type != BPF_FS_MAGIC)
		return false;
	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash)
		return false;
	if (slash == parent)
		slash[1] = 0;
	else
		*slash = 0;
	return !stat(parent, &pst) && pst.st_dev != st->st_dev;
}

int qlb_pin_dir_secure(const char *path, bool create, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i, n;

	n = strlen(path);
	if (path[0] != '/' || n >= sizeof(p)) {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -1;
	}
	for (i = 1; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		if (path[i - 1] == '/' && i > 1) /* "//" or a trailing "/" */
			continue;
		memcpy(p, path, i);
		p[i] = 0;
		if (lstat(p, &st) && errno == ENOENT && create) {
			if (mkdir(p, 0700) && errno != EEXIST) {
				snprintf(err, errlen, "cannot create %s: %s", p,
					 strerror(errno));
				return -1;
			}
			/* judged as found, whoever created it */
		}
		if (lstat(p, &st)) {
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: %s", p,
				 S_ISLNK(st.st_mode)
					 ? "a symbolic link (pin_dir must name "
					   "real directories)"
					 : "not a directory");
			return -1;
		}
		if (st.st_uid != 0) {
			snprintf(
				err, errlen,
				"%s is owned by uid %u, not root: whoever owns "
				"it can rename the pins away",
				p, (unsigned int)st.st_uid);
			return -1;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !((st.st_mode & S_ISVTX) && bpffs_mount_point(p, &st))) {
			snprintf(err, errlen,
				 "%s is writable by group or others (mode "
				 "%04o): only a sticky bpffs mount point may "
				 "be",
				 p, (unsigned int)(st.st_mode & 07777));
			return -1;
		}
	}
	return 0;
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
