// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libqlb's agent client (ctl/lib/client.c) against a scripted agent in a
 * child process speaking include/qlb/abi/agent_proto.h over a real Unix
 * socket: registration with SCM_RIGHTS, configs and minting, generation
 * pushes and draining, reconnect with RESUME, refusal with the agent's
 * reason, DECLARE/PROMOTE answers. No BPF, no root.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>

#include "t.h"
#include "qlb/libqlb.h"
#include "qlb/abi/agent_proto.h"

static const uint8_t key2[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76,
				 0x5f, 0x80, 0x25, 0x69, 0x34, 0xe5,
				 0x0c, 0x66, 0x20, 0x7f};

/* ---- the scripted agent (child) ---------------------------------------- */

static int a_send(int fd, uint16_t type, const void *body, uint32_t len)
{
	struct qlb_ap_hdr h = {.magic = QLB_AP_MAGIC,
			       .version = QLB_AP_VERSION,
			       .type = type,
			       .len = len};
	char buf[1024];

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, len);
	return write(fd, buf, sizeof(h) + len) == (ssize_t)(sizeof(h) + len)
		       ? 0
		       : -1;
}

/* Read one message; *pfd gets a passed descriptor or -1. */
static int a_recv(int fd, struct qlb_ap_hdr *h, void *body, size_t max,
		  int *pfd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {h, sizeof(*h)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.b,
			   .msg_controllen = sizeof(u.b)};
	struct cmsghdr *c;

	*pfd = -1;
	if (recvmsg(fd, &m, MSG_WAITALL) != sizeof(*h))
		return -1;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_type == SCM_RIGHTS)
			memcpy(pfd, CMSG_DATA(c), sizeof(int));
	if (h->len > max ||
	    (h->len && recv(fd, body, h->len, MSG_WAITALL) != h->len))
		return -1;
	return h->type;
}

static void a_hello(int fd)
{
	struct qlb_ap_hello m = {.agent_pid = 1, .max_workers = 16};

	strcpy(m.host, "web9");
	a_send(fd, QLB_AP_HELLO, &m, sizeof(m));
}

static void a_configs(int fd, int active)
{
	struct qlb_ap_configs m = {.count = 2};

	m.cfg[0] = (struct qlb_ap_config){
		.id = 1,
		.sid_len = 2,
		.nonce_len = 6,
		.worker_bits = 4,
		.flags = QLB_AP_CF_ENCODE_LEN,
		.state = active == 1 ? QLB_STATE_ACTIVE : QLB_STATE_RETIRING,
		.sid = {0x0a, 0x15}};
	m.cfg[1] = (struct qlb_ap_config){
		.id = 2,
		.sid_len = 3,
		.nonce_len = 8,
		.worker_bits = 6,
		.flags = QLB_AP_CF_ENCODE_LEN | QLB_AP_CF_KEY,
		.state = active == 2 ? QLB_STATE_ACTIVE : QLB_STATE_ROUTABLE,
		.sid = {0x0a, 0x01, 0x05}};
	memcpy(m.cfg[1].key, key2, 16);
	a_send(fd, QLB_AP_CONFIGS, &m, sizeof(m));
}

static void a_result(int fd, int code, const char *msg)
{
	struct qlb_ap_result r = {.code = code};

	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	a_send(fd, QLB_AP_RESULT, &r, sizeof(r));
}

/* Exit status: 0 when the client sent what was expected. */
static int agent_child(int lfd)
{
	struct qlb_ap_registered reg = {.worker_id = 5,
					.generation = 3,
					.working_generation = 3,
					.cookie = 42};
	struct qlb_ap_generation gen = {.working_generation = 4};
	struct qlb_ap_hdr h;
	uint8_t body[512];
	int c, pfd, bad = 0;

	/* 1: register */
	c = accept(lfd, NULL, NULL);
	a_hello(c);
	if (a_recv(c, &h, body, sizeof(body), &pfd) != QLB_AP_DECLARE ||
	    ((struct qlb_ap_gen_req *)body)->size != 4)
		bad |= 1;
	a_result(c, 0, "ok");
	if (a_recv(c, &h, body, sizeof(body), &pfd) != QLB_AP_REGISTER ||
	    pfd < 0 || ((struct qlb_ap_register *)body)->generation != 3 ||
	    ((struct qlb_ap_register *)body)->gen_size != 4)
		bad |= 2;
	if (pfd >= 0)
		close(pfd);
	a_send(c, QLB_AP_REGISTERED, &reg, sizeof(reg));
	a_configs(c, 1);
	/* wait for the parent's go, then push a generation change and die */
	if (a_recv(c, &h, body, sizeof(body), &pfd) != QLB_AP_STATUS_REQ)
		bad |= 4;
	a_send(c, QLB_AP_GENERATION, &gen, sizeof(gen));
	usleep(100000);
	close(c);

	/* 2: reconnect */
	c = accept(lfd, NULL, NULL);
	a_hello(c);
	if (a_recv(c, &h, body, sizeof(body), &pfd) != QLB_AP_RESUME ||
	    pfd < 0 || ((struct qlb_ap_resume *)body)->worker_id != 5 ||
	    ((struct qlb_ap_resume *)body)->cookie != 42)
		bad |= 8;
	if (pfd >= 0)
		close(pfd);
	reg.working_generation = 4;
	a_send(c, QLB_AP_REGISTERED, &reg, sizeof(reg));
	a_configs(c, 2);
	if (a_recv(c, &h, body, sizeof(body), &pfd) != QLB_AP_PROMOTE)
		bad |= 16;
	a_result(c, -ENOENT, "generation 9 has no live socket");
	close(c);

	/* 3: refusal */
	c = accept(lfd, NULL, NULL);
	a_result(c, -EACCES, "uid 7 gid 7 may not use the agent");
	close(c);
	return bad;
}

/* ---- the client (parent) ------------------------------------------------ */

static int calls;

static void on_cfg(struct qlb_client *cl, void *arg)
{
	(void)cl;
	(void)arg;
	calls++;
}

int main(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	const struct qlb_live_config *lc;
	struct qlb_client *cl;
	uint8_t cid[QLB_CID_MAX_LEN], sid[QLB_SID_MAX_LEN],
		nonce[QLB_NONCE_MAX_LEN];
	char why[200];
	int lfd, ufd, n, st, i;
	pid_t pid;

	snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/qlbt-client-%d.sock",
		 (int)getpid());
	unlink(a.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 4)) {
		perror("listen");
		return 1;
	}
	pid = fork();
	if (pid == 0)
		_exit(agent_child(lfd));
	close(lfd);
	signal(SIGPIPE, SIG_IGN);
	ufd = socket(AF_INET, SOCK_DGRAM, 0);

	cl = qlb_client_connect_err(a.sun_path, why, sizeof(why));
	CHECK(cl != NULL, "connect: %s", why);
	if (!cl)
		goto out;
	CHECK(!strcmp(qlb_client_host_name(cl), "web9"), "%s", "");
	qlb_client_on_config(cl, on_cfg, NULL);
	CHECK(qlb_client_declare_generation(cl, 3, 4) == 0, "%s", "");
	CHECK(qlb_client_register(cl, ufd, 3) == 0, "%s", "");
	CHECK(qlb_client_worker_id(cl) == 5, "%s", "");
	CHECK(qlb_client_generation(cl) == 3, "%s", "");
	CHECK(!qlb_client_draining(cl), "%s", "");
	CHECK(qlb_client_active_config(cl) == 1, "%s", "");
	CHECK(qlb_client_configs(cl, &lc) == 2, "%s", "");
	CHECK(calls == 1, "config callback ran %d times", calls);

	/* minted CIDs decode to this worker's server ID, nonces unique */
	for (i = 0; i < 4; i++) {
		n = qlb_client_mint(cl, cid, 8);
		CHECK(n == 9, "CID length %d", n);
		CHECK(qlb_decode(&lc[0].cfg, cid, (size_t)n, sid, nonce) == 0,
		      "%s", "");
		CHECK(sid[0] == 0x0a && sid[1] == 0x15, "sid %02x%02x", sid[0],
		      sid[1]);
		CHECK(cid[0] >> 5 == 1 && (cid[0] & 0x1f) == 8, "%s", "");
	}

	/* the agent pushes generation 4, then goes away */
	{
		struct qlb_ap_hdr h = {.magic = QLB_AP_MAGIC,
				       .version = QLB_AP_VERSION,
				       .type = QLB_AP_STATUS_REQ};

		CHECK(write(qlb_client_fd(cl), &h, sizeof(h)) == sizeof(h),
		      "%s", "");
	}
	for (i = 0; i < 50 && qlb_client_working_generation(cl) != 4; i++) {
		usleep(20000);
		qlb_client_process(cl);
	}
	CHECK(qlb_client_working_generation(cl) == 4, "%s", "");
	CHECK(qlb_client_draining(cl), "generation 3 drains once 4 works");
	for (i = 0; i < 50 && qlb_client_process(cl) != -ECONNRESET; i++)
		usleep(20000);
	CHECK(qlb_client_process(cl) == -ECONNRESET, "%s", "");

	/* a CID can still be minted while the agent is away */
	CHECK(qlb_client_mint(cl, cid, 8) == 9, "%s", "");

	CHECK(qlb_client_reconnect(cl) == 0, "%s", "");
	CHECK(qlb_client_worker_id(cl) == 5, "%s", "");
	CHECK(qlb_client_active_config(cl) == 2, "config 2 became active");
	n = qlb_client_mint(cl, cid, 8);
	CHECK(n == 12, "CID length %d", n);
	CHECK(qlb_client_configs(cl, &lc) == 2, "%s", "");
	CHECK(qlb_decode(&lc[1].cfg, cid, (size_t)n, sid, nonce) == 0, "%s",
	      "");
	CHECK(sid[0] == 0x0a && sid[1] == 0x01 && sid[2] == 0x05, "%s", "");
	CHECK(qlb_client_promote(cl, 9) == -ENOENT, "%s", "");
	CHECK(strstr(qlb_client_last_error(cl), "no live socket") != NULL, "%s",
	      "");
	qlb_client_close(cl);

	errno = 0;
	cl = qlb_client_connect_err(a.sun_path, why, sizeof(why));
	CHECK(cl == NULL && errno == EACCES, "refusal: errno %d", errno);
	CHECK(strstr(why, "may not use the agent") != NULL, "reason: %s", why);
	qlb_client_close(cl);
out:
	close(ufd);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scripted agent saw %d",
	      WEXITSTATUS(st));
	unlink(a.sun_path);
	return t_done("test_agent_client");
}
