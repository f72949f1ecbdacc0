// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* The agent protocol's framing for all its speakers (abi/agent_frame.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qlb/abi/agent_frame.h"

void qlb_ap_hdr_init(struct qlb_ap_hdr *h, uint16_t type, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->magic = QLB_AP_MAGIC;
	h->version = QLB_AP_VERSION;
	h->type = type;
	h->len = len;
}

long qlb_ap_frame(const void *buf, size_t len, uint32_t max_body,
		  struct qlb_ap_hdr *h)
{
	if (len < sizeof(*h))
		return 0;
	memcpy(h, buf, sizeof(*h));
	if (h->magic != QLB_AP_MAGIC || h->version != QLB_AP_VERSION)
		return -EPROTO;
	if (h->len > max_body)
		return -EMSGSIZE;
	if (len < sizeof(*h) + h->len)
		return 0;
	return (long)(sizeof(*h) + h->len);
}

int qlb_ap_send(int fd, uint16_t type, const void *body, uint32_t len,
		int pass_fd)
{
	struct qlb_ap_hdr h;
	struct iovec iov[2] = {
		{.iov_base = &h, .iov_len = sizeof(h)},
		{.iov_base = (void *)body, .iov_len = len},
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	size_t want = sizeof(h) + len, done = 0;

	qlb_ap_hdr_init(&h, type, len);
	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	while (done < want) {
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* half a message sent: the stream is out of step */
			if (done && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -EPROTO;
			return -errno;
		}
		done += (size_t)n;
		/* the descriptor rode on the first byte */
		m.msg_control = NULL;
		m.msg_controllen = 0;
		while (n > 0 && m.msg_iovlen) {
			if ((size_t)n >= m.msg_iov[0].iov_len) {
				n -= (ssize_t)m.msg_iov[0].iov_len;
				m.msg_iov++;
				m.msg_iovlen--;
			} else {
				m.msg_iov[0].iov_base =
					(char *)m.msg_iov[0].iov_base + n;
				m.msg_iov[0].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

int qlb_ap_full_read(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

int qlb_ap_read_msg(int fd, uint32_t max_body, void **body, uint32_t *len)
{
	struct qlb_ap_hdr h;
	long r;
	int err;

	*body = NULL;
	*len = 0;
	err = qlb_ap_full_read(fd, &h, sizeof(h));
	if (err)
		return err;
	r = qlb_ap_frame(&h, sizeof(h), max_body, &h);
	if (r < 0)
		return (int)r;
	*body = calloc(1, (size_t)h.len + 1);
	if (!*body)
		return -ENOMEM;
	err = qlb_ap_full_read(fd, *body, h.len);
	if (err) {
		free(*body);
		*body = NULL;
		return err;
	}
	*len = h.len;
	return h.type;
}
