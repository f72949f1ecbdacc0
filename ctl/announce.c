// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* VIP announcement through a kernel table BIRD exports (announce.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/un.h>
#include <getopt.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "bpf_util.h"
#include "common.h"
#include "lb_cmd.h"

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

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen || err[0]) /* keep the first problem */
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
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

static bool addr_eq(const struct qlb_addr *a, const struct qlb_addr *b)
{
	if (a->family != b->family)
		return false;
	return !memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
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

/* ---- BIRD control socket ---- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

struct bird {
	int fd;
	long deadline; /* now_ms() */
	char buf[16384];
	size_t len; /* bytes in buf */
};

/* Read one line (without '\n') into @line. Return: 0, or -errno. */
static int bird_line(struct bird *b, char *line, size_t max)
{
	for (;;) {
		char *nl = memchr(b->buf, '\n', b->len);
		struct pollfd p = {.fd = b->fd, .events = POLLIN};
		long left;
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - b->buf);

			snprintf(line, max, "%.*s", (int)l, b->buf);
			memmove(b->buf, nl + 1, b->len - l - 1);
			b->len -= l + 1;
			return 0;
		}
		if (b->len == sizeof(b->buf)) /* a line longer than all */
			b->len = 0;
		left = b->deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		n = recv(b->fd, b->buf + b->len, sizeof(b->buf) - b->len, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		if (n > 0)
			b->len += (size_t)n;
	}
}

/*
 * BIRD's replies: "CODE-text" continues, " text" continues with the last
 * code, "CODE text" ends that code; a reply ends with a line whose code is
 * 0000 (OK) or 8xxx/9xxx (errors). @fn sees every line with its code.
 */
static int bird_cmd(struct bird *b, const char *cmd,
		    void (*fn)(int code, const char *text, void *arg),
		    void *arg)
{
	char line[1024];
	int code = 0;
	size_t l = strlen(cmd);

	if (send(b->fd, cmd, l, MSG_NOSIGNAL) != (ssize_t)l ||
	    send(b->fd, "\n", 1, MSG_NOSIGNAL) != 1)
		return -errno;
	for (;;) {
		int ret = bird_line(b, line, sizeof(line));
		const char *text = line;

		if (ret)
			return ret;
		if (line[0] == ' ') {
			text = line + 1;
		} else if (strlen(line) >= 5 && line[0] >= '0' &&
			   line[0] <= '9') {
			code = atoi(line); /* stops at '-' or ' ' */
			text = line + 5;
			if (line[4] == ' ' || line[4] == 0) {
				if (code == 0)
					return 0;
				if (code >= 8000)
					return -EINVAL;
			}
		}
		if (fn)
			fn(code, text, arg);
	}
}

static void parse_protocol(int code, const char *text, void *arg)
{
	struct qlb_daemon_status *st = arg;
	char name[32], proto[16], table[32], state[16];
	struct qlb_daemon_peer *p;
	const char *info;

	/* 1002: "name proto table state since info" */
	if (code != 1002 ||
	    sscanf(text, "%31s %15s %31s %15s", name, proto, table, state) != 4)
		return;
	if (strcmp(proto, "BGP"))
		return;
	st->npeers++;
	info = strstr(text, "Established");
	if (info)
		st->established++;
	if (st->npeers > QLB_ANNOUNCE_MAX_PEERS)
		return;
	p = &st->peers[st->npeers - 1];
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->state, sizeof(p->state), "%s", state);
	if (info) {
		snprintf(p->info, sizeof(p->info), "Established");
	} else {
		/* The info column: the words after the time of "since",
		 * which has no fixed width; take the last word. */
		const char *sp = strrchr(text, ' ');

		snprintf(p->info, sizeof(p->info), "%s", sp ? sp + 1 : "");
	}
}

struct export_ctx {
	const struct qlb_config *cfg;
	struct qlb_daemon_status *st;
};

static void parse_export(int code, const char *text, void *arg)
{
	struct export_ctx *x = arg;
	char pfx[64], *slash;
	struct qlb_addr a = {0};

	/* 1007: "PREFIX via/blackhole [...]"; path lines start blank. */
	if (code != 1007 || text[0] == ' ' || sscanf(text, "%63s", pfx) != 1)
		return;
	slash = strchr(pfx, '/');
	if (!slash)
		return;
	*slash = 0;
	if (inet_pton(AF_INET, pfx, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, pfx, &a.v6) == 1)
		a.family = AF_INET6;
	else
		return;
	for (unsigned int i = 0; i < x->cfg->lb.nvips; i++)
		if (addr_eq(&x->cfg->lb.vips[i].addr, &a))
			x->st->exported[i] = true;
}

int qlb_announce_daemon(const struct qlb_config *cfg,
			struct qlb_daemon_status *st)
{
	struct qlb_announce_opts o;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	struct bird *b;
	char line[256];
	int ret;

	memset(st, 0, sizeof(*st));
	qlb_announce_opts(cfg, &o);
	if (!o.bird_socket[0]) {
		st->state = QLB_DAEMON_NONE;
		return 0;
	}
	if (stat(o.bird_socket, &sb)) {
		st->state = QLB_DAEMON_MISSING;
		snprintf(st->error, sizeof(st->error), "%.80s: %.40s",
			 o.bird_socket, strerror(errno));
		return 0;
	}
	st->state = QLB_DAEMON_DOWN;
	if (strlen(o.bird_socket) >= sizeof(sa.sun_path)) {
		snprintf(st->error, sizeof(st->error), "%.100s: path too long",
			 o.bird_socket);
		return 0;
	}
	strcpy(sa.sun_path, o.bird_socket);
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(st->error, sizeof(st->error), "out of memory");
		return 0;
	}
	b->deadline = now_ms() + 500;
	b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->fd < 0 || connect(b->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(st->error, sizeof(st->error), "%.60s: connect: %.60s",
			 o.bird_socket, strerror(errno));
		goto out;
	}
	/* Greeting: "0001 BIRD 2.0.12 ready." */
	ret = bird_line(b, line, sizeof(line));
	if (ret || strncmp(line, "0001 ", 5)) {
		snprintf(st->error, sizeof(st->error),
			 "%.60s: no greeting: %.60s", o.bird_socket,
			 ret ? strerror(-ret) : line);
		goto out;
	}
	sscanf(line + 5, "%*s %31s", st->version);
	if (st->version[0]) {
		char v[40];

		snprintf(v, sizeof(v), "BIRD %.26s", st->version);
		snprintf(st->version, sizeof(st->version), "%s", v);
	}
	ret = bird_cmd(b, "show protocols", parse_protocol, st);
	if (ret) {
		snprintf(st->error, sizeof(st->error),
			 "%.60s: show protocols: %.60s", o.bird_socket,
			 strerror(-ret));
		goto out;
	}
	if (st->npeers > QLB_ANNOUNCE_MAX_PEERS)
		st->npeers = QLB_ANNOUNCE_MAX_PEERS;
	if (st->established > st->npeers)
		st->established = st->npeers;
	st->state = st->established ? QLB_DAEMON_ESTABLISHED
				    : QLB_DAEMON_NO_SESSION;
	/* What BIRD sends to established peers, per channel (a BGP
	 * protocol with two channels takes "export NAME.ipv4"). */
	for (unsigned int i = 0; i < st->npeers; i++) {
		struct export_ctx x = {cfg, st};
		static const char *const chans[] = {"ipv4", "ipv6"};

		if (strcmp(st->peers[i].info, "Established"))
			continue;
		for (unsigned int c = 0; c < 2; c++) {
			char cmd[96];

			snprintf(cmd, sizeof(cmd), "show route export %s.%s",
				 st->peers[i].name, chans[c]);
			/* A channel the protocol lacks is an error reply:
			 * nothing exported on it. */
			ret = bird_cmd(b, cmd, parse_export, &x);
			if (ret == -ETIMEDOUT || ret == -ECONNRESET)
				goto out;
		}
	}
out:
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	return 0;
}

const char *qlb_daemon_state_name(enum qlb_daemon_state s)
{
	switch (s) {
	case QLB_DAEMON_NONE:
		return "none";
	case QLB_DAEMON_MISSING:
		return "missing";
	case QLB_DAEMON_DOWN:
		return "down";
	case QLB_DAEMON_NO_SESSION:
		return "no-session";
	case QLB_DAEMON_ESTABLISHED:
		return "established";
	}
	return "?";
}

int qlb_announce_drain(const struct qlb_config *cfg, unsigned int wait_ms,
		       char *err, size_t errlen)
{
	struct qlb_announce_opts o;
	long end;

	if (qlb_announce_withdraw_all(cfg, err, errlen))
		return -1;
	qlb_announce_opts(cfg, &o);
	end = now_ms() + (wait_ms ? wait_ms : o.drain_ms);
	while (!qlb_stop_requested && now_ms() < end) {
		struct timespec ts = {0, 100 * 1000000L};

		nanosleep(&ts, NULL);
	}
	return 0;
}

/* ---- maintenance drain ---- */

static void drain_path(const struct qlb_config *cfg, char *buf, size_t len)
{
	const char *pin = cfg && cfg->lb.pin_dir[0] ? cfg->lb.pin_dir
						    : QLB_LB_DEFAULT_PIN_DIR;
	size_t n = (size_t)snprintf(buf, len, "%s/", QLB_ANNOUNCE_DRAIN_DIR);

	/* one file per data plane: its pin directory, '/' -> '_' */
	for (; *pin && n + 1 < len; pin++)
		buf[n++] = *pin == '/' ? '_' : *pin;
	buf[n < len ? n : len - 1] = 0;
}

bool qlb_announce_draining(const struct qlb_config *cfg)
{
	char path[PATH_MAX];

	drain_path(cfg, path, sizeof(path));
	return access(path, F_OK) == 0;
}

int qlb_announce_set_draining(const struct qlb_config *cfg, bool on, char *err,
			      size_t errlen)
{
	char path[PATH_MAX];
	int fd, e;

	drain_path(cfg, path, sizeof(path));
	if (!on) {
		if (unlink(path) && errno != ENOENT) {
			set_err(err, errlen, "cannot remove %s: %s", path,
				strerror(errno));
			return -1;
		}
		return 0;
	}
	e = qlb_mkdir_p(QLB_ANNOUNCE_DRAIN_DIR, 0755);
	if (e) {
		set_err(err, errlen, "cannot create %s: %s",
			QLB_ANNOUNCE_DRAIN_DIR, strerror(-e));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(err, errlen, "cannot create %s: %s", path,
			strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int qlb_announce_withdraw_file(const char *file)
{
	struct qlb_config cfg;
	char err[256] = "";
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	if (file && qlb_config_load_diag(file, &cfg, NULL, NULL)) {
		/* the defaults still name the table */
		memset(&cfg, 0, sizeof(cfg));
		file = NULL;
	}
	ret = qlb_announce_withdraw_all(&cfg, err, sizeof(err));
	if (ret)
		qlb_warn("%s", err);
	if (file)
		qlb_config_free(&cfg);
	return ret;
}

static void drain_usage(FILE *f)
{
	fprintf(f,
		"Usage: qlbctl [-j] lb drain -f FILE [--wait SECS] "
		"[--pin-dir DIR]\n\n"
		"Take the LB node out of service without losing packets: "
		"withdraw its VIPs\nfrom the routing daemon, wait SECS "
		"(default lb.announce.drain_time, else %u)\nfor the routers "
		"to move the traffic to the other LB nodes, then detach.\n"
		"A running `qlbctl lb run` does not announce again meanwhile. "
		"Undo with\n`qlbctl lb apply` (or a restart of qlb-lb-run).\n",
		QLB_ANNOUNCE_DRAIN_MS / 1000);
}

int cmd_lb_drain(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"wait", required_argument, NULL, 'w'},
		{"pin-dir", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lb_opts o = {0};
	struct qlb_config cfg;
	double wait_s = -1;
	unsigned int wait_ms;
	char err[256] = "";
	long t0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:w:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.file = optarg;
			break;
		case 'w':
			if (qlb_parse_double("--wait", optarg, 0, 3600,
					     &wait_s))
				return QLB_EXIT_USAGE;
			break;
		case 'P':
			snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", optarg);
			break;
		case 'h':
			drain_usage(stdout);
			return QLB_EXIT_OK;
		default:
			return qlb_usage_err(drain_usage,
					     "lb drain: bad option");
		}
	}
	if (!o.file)
		return qlb_usage_err(drain_usage,
				     "lb drain: -f FILE is required");
	if (optind < argc)
		return qlb_usage_err(drain_usage, "lb drain: unexpected '%s'",
				     argv[optind]);
	if (qlb_config_load(o.file, &cfg, stderr))
		return QLB_EXIT_ERR;
	qlb_catch_stop();
	t0 = now_ms();
	/* --wait 0: no wait at all (1 ms; 0 means the default below) */
	wait_ms = wait_s < 0	      ? 0
		  : wait_s * 1000 < 1 ? 1
				      : (unsigned int)(wait_s * 1000);
	if (qlb_announce_set_draining(&cfg, true, err, sizeof(err)) ||
	    qlb_announce_drain(&cfg, wait_ms, err, sizeof(err))) {
		qlb_err("lb drain: %s", err);
		qlb_announce_set_draining(&cfg, false, NULL, 0);
		qlb_config_free(&cfg);
		return QLB_EXIT_ERR;
	}
	if (qlb_stop_requested) {
		/* interrupted: back in service, nothing detached */
		qlb_announce_set_draining(&cfg, false, NULL, 0);
		qlb_err("lb drain: interrupted; the VIPs will be announced "
			"again by qlbctl lb run");
		qlb_config_free(&cfg);
		return QLB_EXIT_ERR;
	}
	if (!qlb_json)
		printf("VIPs withdrawn; waited %.1f s\n",
		       (double)(now_ms() - t0) / 1000);
	rc = lb_detach(&o);
	/* detached: `lb run` sees no data plane and announces nothing;
	 * an apply brings the node back without another command */
	qlb_announce_set_draining(&cfg, false, NULL, 0);
	qlb_config_free(&cfg);
	return rc;
}

/* ---- status and metrics ---- */

struct vip_view {
	bool in_table, exported;
	const char *why; /* NULL when announced */
};

static void vip_views(const struct qlb_config *cfg, bool attached,
		      const struct qlb_daemon_status *st, const bool *in_table,
		      bool draining, struct vip_view *v)
{
	for (unsigned int i = 0; i < cfg->lb.nvips; i++) {
		v[i].in_table = in_table[i];
		v[i].exported = st->exported[i];
		v[i].why = NULL;
		if (draining)
			v[i].why = "draining (qlbctl lb drain)";
		else if (!attached)
			v[i].why = "the XDP program is not attached";
		else if (!in_table[i])
			v[i].why = "not in the announcement table: no healthy "
				   "host, or qlbctl lb run is not running";
		else if (st->state == QLB_DAEMON_NONE)
			v[i].why = "no routing daemon configured";
		else if (st->state == QLB_DAEMON_MISSING)
			v[i].why = "the routing daemon is not running";
		else if (st->state == QLB_DAEMON_DOWN)
			v[i].why = "the routing daemon does not answer";
		else if (st->state == QLB_DAEMON_NO_SESSION)
			v[i].why = "no BGP session established";
		else if (!st->exported[i])
			v[i].why = "the routing daemon does not export it "
				   "(filter, table)";
	}
}

void qlb_announce_status_show(const struct qlb_config *cfg, bool attached,
			      struct qlb_json_w *w)
{
	struct qlb_announce_opts o;
	struct qlb_daemon_status *st = calloc(1, sizeof(*st));
	struct vip_view v[QLB_MAX_VIPS];
	bool in_table[QLB_MAX_VIPS] = {0}, draining;
	char err[256] = "", abuf[INET6_ADDRSTRLEN];
	int rerr;

	if (!st)
		return;
	qlb_announce_opts(cfg, &o);
	rerr = qlb_announce_read(cfg, in_table, err, sizeof(err));
	qlb_announce_daemon(cfg, st);
	draining = qlb_announce_draining(cfg);
	vip_views(cfg, attached, st, in_table, draining, v);
	if (w) {
		jw_obj_open(w, "announce");
		jw_uint(w, "table", o.table);
		jw_uint(w, "protocol", o.proto);
		jw_bool(w, "draining", draining);
		if (rerr)
			jw_str(w, "table_error", err);
		jw_obj_open(w, "daemon");
		jw_str(w, "socket", o.bird_socket);
		jw_str(w, "state", qlb_daemon_state_name(st->state));
		jw_str(w, "version", st->version[0] ? st->version : NULL);
		jw_str(w, "error", st->error[0] ? st->error : NULL);
		jw_arr_open(w, "sessions");
		for (unsigned int i = 0; i < st->npeers; i++) {
			jw_obj_open(w, NULL);
			jw_str(w, "name", st->peers[i].name);
			jw_str(w, "state", st->peers[i].state);
			jw_str(w, "info", st->peers[i].info);
			jw_obj_close(w);
		}
		jw_arr_close(w);
		jw_obj_close(w);
		jw_arr_open(w, "vips");
		for (unsigned int i = 0; i < cfg->lb.nvips; i++) {
			jw_obj_open(w, NULL);
			jw_str(w, "address",
			       qlb_addr_str(&cfg->lb.vips[i].addr, abuf,
					    sizeof(abuf)));
			jw_uint(w, "port", cfg->lb.vips[i].port);
			jw_bool(w, "announced", !v[i].why);
			jw_bool(w, "in_table", v[i].in_table);
			jw_bool(w, "exported", v[i].exported);
			jw_str(w, "why_not", v[i].why);
			jw_obj_close(w);
		}
		jw_arr_close(w);
		jw_obj_close(w);
	} else {
		printf("announce    table %u proto %u%s; %s: %s", o.table,
		       o.proto, draining ? " (DRAINING)" : "",
		       o.bird_socket[0] ? o.bird_socket : "no daemon",
		       qlb_daemon_state_name(st->state));
		if (st->npeers)
			printf(", %u of %u BGP sessions established",
			       st->established, st->npeers);
		printf("\n");
		if (st->error[0])
			printf("            %s\n", st->error);
		if (rerr)
			printf("            %s\n", err);
		for (unsigned int i = 0; i < cfg->lb.nvips; i++)
			printf("  %-40s %s%s\n",
			       qlb_addr_str(&cfg->lb.vips[i].addr, abuf,
					    sizeof(abuf)),
			       v[i].why ? "NOT ANNOUNCED: " : "announced",
			       v[i].why ? v[i].why : "");
	}
	free(st);
}

void qlb_announce_metrics(FILE *f, const struct qlb_config *cfg)
{
	struct qlb_daemon_status *st = calloc(1, sizeof(*st));
	bool in_table[QLB_MAX_VIPS] = {0};
	char abuf[INET6_ADDRSTRLEN];

	if (!st)
		return;
	qlb_announce_read(cfg, in_table, NULL, 0);
	qlb_announce_daemon(cfg, st);
	fprintf(f, "# HELP qlb_lb_vip_announced The VIP is in the "
		   "announcement table (qlb wants it announced).\n"
		   "# TYPE qlb_lb_vip_announced gauge\n");
	for (unsigned int i = 0; i < cfg->lb.nvips; i++)
		fprintf(f, "qlb_lb_vip_announced{vip=\"%s\",port=\"%u\"} %d\n",
			qlb_addr_str(&cfg->lb.vips[i].addr, abuf, sizeof(abuf)),
			cfg->lb.vips[i].port, in_table[i]);
	fprintf(f, "# HELP qlb_lb_vip_exported The routing daemon exports "
		   "the VIP to an established BGP session.\n"
		   "# TYPE qlb_lb_vip_exported gauge\n");
	for (unsigned int i = 0; i < cfg->lb.nvips; i++)
		fprintf(f, "qlb_lb_vip_exported{vip=\"%s\",port=\"%u\"} %d\n",
			qlb_addr_str(&cfg->lb.vips[i].addr, abuf, sizeof(abuf)),
			cfg->lb.vips[i].port,
			st->state == QLB_DAEMON_ESTABLISHED && st->exported[i]);
	fprintf(f,
		"# HELP qlb_lb_routing_daemon_up The routing daemon "
		"answers on its control socket.\n"
		"# TYPE qlb_lb_routing_daemon_up gauge\n"
		"qlb_lb_routing_daemon_up %d\n"
		"# HELP qlb_lb_bgp_sessions BGP sessions of the routing "
		"daemon, by state.\n"
		"# TYPE qlb_lb_bgp_sessions gauge\n"
		"qlb_lb_bgp_sessions{state=\"established\"} %u\n"
		"qlb_lb_bgp_sessions{state=\"other\"} %u\n",
		st->state >= QLB_DAEMON_NO_SESSION, st->established,
		st->npeers - st->established);
	free(st);
}

void qlb_announce_status_file(const char *file, bool attached,
			      struct qlb_json_w *w)
{
	struct qlb_config cfg;

	if (qlb_config_load_diag(file, &cfg, NULL, NULL)) {
		if (w) {
			jw_obj_open(w, "announce");
			jw_str(w, "error", "the file does not load");
			jw_obj_close(w);
		} else {
			printf("announce    unknown: %s does not load (qlbctl "
			       "validate)\n",
			       file);
		}
		return;
	}
	qlb_announce_status_show(&cfg, attached, w);
	qlb_config_free(&cfg);
}

void qlb_announce_metrics_file(FILE *f, const char *file)
{
	struct qlb_config cfg;

	if (qlb_config_load_diag(file, &cfg, NULL, NULL))
		return;
	/* only for a node that says how it announces: the metric set of
	 * a plain `lb apply` node stays as documented */
	if (cfg.lb.announce.present)
		qlb_announce_metrics(f, &cfg);
	qlb_config_free(&cfg);
}
