// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * VIP announcement, the routing daemon's side (announce.h): what BIRD
 * says over its control socket about its BGP sessions and the VIPs it
 * exports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "announce_int.h"
#include "common.h"

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
