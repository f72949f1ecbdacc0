/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * What both node kinds (LB node, host agent) do with libbpf the same way:
 * directories under bpffs, pinning, XDP attach/detach/query, libbpf's log.
 */
#ifndef QLB_CTL_BPF_UTIL_H
#define QLB_CTL_BPF_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h" /* enum qlb_xdp_mode */

/*
 * qlb_mkdir_p() - create @path and its missing parents with @mode.
 * Return: 0 (also when it exists as a directory) or -errno.
 */
int qlb_mkdir_p(const char *path, mode_t mode);

/*
 * qlb_pin_dir_secure() - make sure only root can rename or replace what is
 * pinned under @path: every component of @path (from "/") must be a
 * directory owned by root and not writable by group or others; the one
 * exception is a bpffs mount point with the sticky bit (bpffs' root is
 * mode 1777). With @create, missing components are created mode 0700
 * (as root, so root-owned), then judged like the others.
 * Return: 0, or -1 with a message naming the component in @err.
 */
int qlb_pin_dir_secure(const char *path, bool create, char *err, size_t errlen);

/*
 * qlb_bpf_log_init() - route libbpf's (and libxdp's) log: nothing unless
 * -v (qlb_verbose), warnings and more with -v. Every command that loads or
 * opens BPF objects calls it once; calling it again is harmless.
 */
void qlb_bpf_log_init(void);

/* qlb_prog_id() - the kernel ID of the program behind @fd, 0 on error. */
uint32_t qlb_prog_id(int fd);

/*
 * qlb_xdp_attached() - the XDP program attached to @ifindex in @mode.
 * Return: its ID, 0 when none (or on error).
 */
uint32_t qlb_xdp_attached(int ifindex, enum qlb_xdp_mode mode);

/*
 * qlb_xdp_attach() - attach @prog_fd to @ifindex in @mode, atomically
 * replacing the program with ID @old_id when it is non-zero (and failing
 * with -EEXIST when another program sits there). One way for both node
 * kinds (bpf_xdp_attach with XDP_FLAGS_REPLACE), never libxdp's dispatcher.
 * Return: 0 or -errno.
 */
int qlb_xdp_attach(int ifindex, int prog_fd, enum qlb_xdp_mode mode,
		   uint32_t old_id);

/*
 * qlb_xdp_detach() - detach from @ifindex in @mode, only when the program
 * attached there has ID @expected_id (0: whatever is attached).
 * Return: 0 (also when nothing was attached) or -errno.
 */
int qlb_xdp_detach(int ifindex, enum qlb_xdp_mode mode, uint32_t expected_id);

/* qlb_xdp_mode_wire() - a mode as the agent protocol and the maps carry
 * it (1 native, 2 generic). One mapping, used by both node kinds. */
uint32_t qlb_xdp_mode_wire(enum qlb_xdp_mode mode);

#endif /* QLB_CTL_BPF_UTIL_H */
