/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Framing of the host agent's protocol (agent_proto.h), written once for
 * its three speakers: the agent (ctl/agent_server.c), libqlb's client
 * (ctl/lib/client.c) and `qlbctl agent status/promote` (ctl/agent_cmd.c).
 * Defined in ctl/lib/agent_frame.c; internal to qlb (not installed).
 */
#ifndef QLB_AGENT_FRAME_H
#define QLB_AGENT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "qlb/abi/agent_proto.h"

/* qlb_ap_hdr_init() - the header of a message of @type with @len body bytes. */
void qlb_ap_hdr_init(struct qlb_ap_hdr *h, uint16_t type, uint32_t len);

/*
 * qlb_ap_frame() - is there a whole message at the start of @buf (@len
 * bytes)? The header is copied to @h as soon as it is complete.
 * @max_body: the largest body this reader accepts.
 * Return: the message's total size (header and body) when whole, 0 when
 * more bytes are needed, -EPROTO for another magic or version, -EMSGSIZE
 * for a body over @max_body.
 */
long qlb_ap_frame(const void *buf, size_t len, uint32_t max_body,
		  struct qlb_ap_hdr *h);

/*
 * qlb_ap_send() - write one message on the stream @fd, with @pass_fd (if
 * >= 0) as SCM_RIGHTS on its first byte. Goes on after short writes; on a
 * non-blocking socket it stops with -EAGAIN only before the first byte.
 * Return: 0 or -errno (-EPIPE when the peer is gone; no SIGPIPE).
 */
int qlb_ap_send(int fd, uint16_t type, const void *body, uint32_t len,
		int pass_fd);

/* qlb_ap_full_read() - read exactly @len bytes. Return: 0, -ECONNRESET at
 * end of stream, or -errno. */
int qlb_ap_full_read(int fd, void *buf, size_t len);

/*
 * qlb_ap_read_msg() - read one whole message (blocking); *body is
 * malloc'd, NUL terminated, and the caller's to free.
 * Return: its type, or -errno as qlb_ap_frame() and qlb_ap_full_read().
 */
int qlb_ap_read_msg(int fd, uint32_t max_body, void **body, uint32_t *len);

#endif /* QLB_AGENT_FRAME_H */
