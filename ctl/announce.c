// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * VIP announcement through a kernel table BIRD exports (announce.h): the
 * table itself, over rtnetlink. The routing daemon's view is in
 * announce_bird.c, maintenance drain in announce_drain.c, status and
 * metrics in announce_status.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "announce.h"
#include "announce_int.h"
#include "common.h"

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

void qlb_announce_opts(const struct qlb_config *cfg,
		       struct qlb_announce_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->table = QLB_ANNOUNCE_TABLE;
	o->proto = QLB_ANNOUNCE_PROTO;
	snprintf(o->bird_socket, sizeof(o->bird_socket), "%s",
		 QLB_ANNOUNCE_BIRD_SOCKET);
	o->drain_ms = QLB_ANNOUNCE_DRAIN_MS;
	/* a zeroed config (no lb: section) keeps the defaults */
	if (cfg && cfg->lb.announce.table) {
		const struct qlb_conf_announce *a = &cfg->lb.announce;

		o->table = a->table;
		o->proto = (uint8_t)a->protocol;
		snprintf(o->bird_socket, sizeof(o->bird_socket), "%s",
			 a->bird_socket);
		o->drain_ms = a->drain_time * 1000;
	}
}

/* ---- rtnetlink ---- */

struct nl {
	int fd;
	uint32_t seq;
};

static int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 2};
	int one = 1;

	nl->seq = (uint32_t)time(NULL);
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	/* Strict checking lets the kernel filter a dump by table. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one,
		   sizeof(one));
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = -errno;

		close(nl->fd);
		return e;
	}
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

struct route_req {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[64];
};

static void add_attr(struct nlmsghdr *nh, size_t max, int type,
		     const void *data, size_t len)
{
	struct rtattr *rta =
		(struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > max)
		return; /* cannot happen with the fixed sizes used here */
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len);
}

/* Wait for the ack of request @seq. Return: 0 or -errno from the kernel. */
static int nl_ack(struct nl *nl, uint32_t seq)
{
	char buf[8192];

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				return e->error;
			}
		}
	}
	return -ETIMEDOUT;
}

static int route_change(struct nl *nl, int type, int flags,
			const struct qlb_announce_opts *o,
			const struct qlb_addr *a)
{
	struct route_req req;
	uint32_t table = o->table;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	req.nh.nlmsg_seq = ++nl->seq;
	req.rt.rtm_family = a->family;
	req.rt.rtm_dst_len = a->family == AF_INET ? 32 : 128;
	req.rt.rtm_table = table < 256 ? table : RT_TABLE_UNSPEC;
	req.rt.rtm_protocol = o->proto;
	req.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	/* Blackhole: needs no device and routes nothing, since no rule
	 * looks the table up; it is only there to be exported. */
	req.rt.rtm_type = RTN_BLACKHOLE;
	add_attr(&req.nh, sizeof(req), RTA_DST, a->bytes,
		 a->family == AF_INET ? 4 : 16);
	add_attr(&req.nh, sizeof(req), RTA_TABLE, &table, sizeof(table));
	if (send(nl->fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	return nl_ack(nl, req.nh.nlmsg_seq);
}

/* Addresses of our protocol in our table, one family at a time. */
struct table_list {
	unsigned int n;
	struct qlb_addr a[2 * QLB_MAX_VIPS + 64];
	bool overflow;
};

static int table_dump(struct nl *nl, const struct qlb_announce_opts *o,
		      int family, struct table_list *out)
{
	struct route_req req;
	uint32_t table = o->table;
	char buf[32768];
	bool done = false;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++nl->seq;
	req.rt.rtm_family = family;
	add_attr(&req.nh, sizeof(req), RTA_TABLE, &table, sizeof(table));
	if (send(nl->fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	while (!done) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			struct rtmsg *rt = NLMSG_DATA(nh);
			struct rtattr *rta;
			uint32_t rtable;
			const void *dst = NULL;
			int alen;

			if (nh->nlmsg_seq != req.nh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				return e->error ? e->error : -EIO;
			}
			if (nh->nlmsg_type != RTM_NEWROUTE)
				continue;
			rtable = rt->rtm_table;
			alen = RTM_PAYLOAD(nh);
			for (rta = RTM_RTA(rt); RTA_OK(rta, alen);
			     rta = RTA_NEXT(rta, alen)) {
				if (rta->rta_type == RTA_TABLE)
					rtable = *(uint32_t *)RTA_DATA(rta);
				else if (rta->rta_type == RTA_DST)
					dst = RTA_DATA(rta);
			}
			/* The kernel may ignore the table filter (old
			 * kernels): check everything here as well. */
			if (rtable != o->table ||
			    rt->rtm_protocol != o->proto ||
			    rt->rtm_family != family || !dst ||
			    rt->rtm_dst_len != (family == AF_INET ? 32 : 128))
				continue;
			if (out->n == QLB_ARRAY_SIZE(out->a)) {
				out->overflow = true;
				continue;
			}
			memset(&out->a[out->n], 0, sizeof(out->a[0]));
			out->a[out->n].family = family;
			memcpy(out->a[out->n].bytes, dst,
			       family == AF_INET ? 4 : 16);
			out->n++;
		}
	}
	return 0;
}

static int table_read(struct nl *nl, const struct qlb_announce_opts *o,
		      struct table_list *l)
{
	int ret;

	memset(l, 0, sizeof(*l));
	ret = table_dump(nl, o, AF_INET, l);
	if (!ret)
		ret = table_dump(nl, o, AF_INET6, l);
	return ret;
}

static bool in_list(const struct table_list *l, const struct qlb_addr *a)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (addr_eq(&l->a[i], a))
			return true;
	return false;
}

/* Is address @a wanted: any VIP entry with that address has want[] set. */
static bool addr_wanted(const struct qlb_config *cfg, const bool *want,
			const struct qlb_addr *a)
{
	for (unsigned int i = 0; i < cfg->lb.nvips; i++)
		if (want && want[i] && addr_eq(&cfg->lb.vips[i].addr, a))
			return true;
	return false;
}

/*
 * table_open() - clear @err, open rtnetlink in @nl and read the routes of
 * the announce table. Return: the list (free() it, then nl_close()), or
 * NULL with @err set and nothing left open.
 */
static struct table_list *table_open(const struct qlb_config *cfg,
				     struct qlb_announce_opts *o, struct nl *nl,
				     char *err, size_t errlen)
{
	struct table_list *l;
	int ret;

	if (err && errlen)
		err[0] = 0;
	qlb_announce_opts(cfg, o);
	ret = nl_open(nl);
	if (ret) {
		set_err(err, errlen, "announce: rtnetlink socket: %s",
			strerror(-ret));
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		nl_close(nl);
		set_err(err, errlen, "announce: out of memory");
		return NULL;
	}
	ret = table_read(nl, o, l);
	if (ret) {
		set_err(err, errlen, "announce: table %u: cannot read: %s",
			o->table, strerror(-ret));
		free(l);
		nl_close(nl);
		return NULL;
	}
	return l;
}

static int sync_table(const struct qlb_config *cfg, const bool *want, char *err,
		      size_t errlen)
{
	struct qlb_announce_opts o;
	struct table_list *l;
	char abuf[INET6_ADDRSTRLEN];
	struct nl nl;
	int ret, fails = 0;

	l = table_open(cfg, &o, &nl, err, errlen);
	if (!l)
		return -1;
	/* Withdraw first: a VIP going away must not wait for the adds. */
	for (unsigned int i = 0; i < l->n; i++) {
		if (addr_wanted(cfg, want, &l->a[i]))
			continue;
		ret = route_change(&nl, RTM_DELROUTE, 0, &o, &l->a[i]);
		if (ret && ret != -ESRCH) {
			set_err(err, errlen,
				"announce: table %u: cannot withdraw %s: %s",
				o.table,
				qlb_addr_str(&l->a[i], abuf, sizeof(abuf)),
				strerror(-ret));
			fails++;
		}
	}
	for (unsigned int i = 0; i < cfg->lb.nvips; i++) {
		const struct qlb_addr *a = &cfg->lb.vips[i].addr;

		if (!want || !want[i] || in_list(l, a))
			continue;
		/* EXCL: an identical route already there (a duplicate VIP
		 * entry, a race with another qlbctl) is left alone, so the
		 * daemon sees no change. */
		ret = route_change(&nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
				   &o, a);
		if (ret == -EEXIST)
			ret = 0;
		if (ret) {
			set_err(err, errlen,
				"announce: table %u: cannot announce %s: %s",
				o.table, qlb_addr_str(a, abuf, sizeof(abuf)),
				strerror(-ret));
			fails++;
			continue;
		}
		/* Remember it, so a second entry of the same address does
		 * not add again. */
		if (l->n < QLB_ARRAY_SIZE(l->a))
			l->a[l->n++] = *a;
	}
	free(l);
	nl_close(&nl);
	return fails ? -1 : 0;
}

int qlb_announce_sync(const struct qlb_config *cfg, const bool *want, char *err,
		      size_t errlen)
{
	/* a maintenance drain overrides what the caller wants */
	if (want && qlb_announce_draining(cfg))
		want = NULL;
	return sync_table(cfg, want, err, errlen);
}

int qlb_announce_withdraw_all(const struct qlb_config *cfg, char *err,
			      size_t errlen)
{
	return sync_table(cfg, NULL, err, errlen);
}

int qlb_announce_read(const struct qlb_config *cfg, bool *announced, char *err,
		      size_t errlen)
{
	struct qlb_announce_opts o;
	struct table_list *l;
	struct nl nl;

	for (unsigned int i = 0; i < cfg->lb.nvips; i++)
		announced[i] = false;
	l = table_open(cfg, &o, &nl, err, errlen);
	if (!l)
		return -1;
	for (unsigned int i = 0; i < cfg->lb.nvips; i++)
		announced[i] = in_list(l, &cfg->lb.vips[i].addr);
	free(l);
	nl_close(&nl);
	return 0;
}
