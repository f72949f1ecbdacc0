// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libFuzzer harness of the host agent's registration protocol: what a
 * process connected to host.agent_socket may send
 * (include/qlb/abi/agent_proto.h) through the agent's own reader and request
 * handler.
 *
 * It drives the agent's real entry point for a readable connection,
 * qlb_agent_conn_read() (ctl/agent_server.c: read, frame, handle each
 * message), on real Unix stream sockets (socketpair), with the real
 * SK_REUSEPORT and decap objects loaded unpinned (ag_open_dataplane()), in
 * a private network namespace (the UDP sockets passed with REGISTER are
 * bound there, never used).
 *
 * Input: byte 0 = what rides as SCM_RIGHTS on each of two connections
 * (bits 0-1 for A, 2-3 for B: none, a bound SO_REUSEPORT UDP socket, a UDP
 * socket without SO_REUSEPORT, a pipe) and bit 4 = use connection B;
 * byte 1 = where the stream splits between A and B; then the bytes the
 * peers send (headers, bodies, anything).
 *
 * Checked after every input: no memory error, leak or UB; the agent holds
 * no file descriptor of ours (SCM_RIGHTS fds are closed or consumed); every
 * worker it records sits in its socket-map slot with the recorded cookie
 * and a worker ID below max_workers; no worker belongs to a closed
 * connection.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent_daemon.h"
#include "fz.h"
#include "fz_tmp.h"

static FILE *fz_log; /* the agent's log */
static struct agent *fz_ag;
static char fz_dir[64];

static const char fz_cfg[] =
	"quic_lb:\n"
	"  configs:\n"
	"    - {id: 1, server_id_len: 2, nonce_len: 6, worker_bits: 4,\n"
	"       key: 8f95f09245765f80256934e50c66207f, state: active}\n"
	"    - {id: 2, server_id_len: 3, nonce_len: 5, worker_bits: 6,\n"
	"       state: routable}\n"
	"hosts:\n"
	"  - {name: h1, address: 198.18.0.21, server_ids: {1: \"0a10\", 2: "
	"\"0b0000\"}}\n"
	"host:\n"
	"  name: h1\n"
	"  workers: 2\n"
	"  interface: lo\n";

static void fz_cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/qlb.yaml", fz_dir);
	unlink(p);
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[128];
	FILE *f;

	/* the agent's log lines go nowhere (sanitizer reports still reach
	 * fd 2) */
	fz_log = fopen("/dev/null", "w");
	libbpf_set_print(NULL);
	/* UDP sockets of the inputs live in a namespace of their own */
	if (!fz_log || unshare(CLONE_NEWNET)) {
		perror("fuzz_agent_proto: unshare(CLONE_NEWNET) (root needed)");
		abort();
	}
	ag_log_to(fz_log);
	fz_tmpdir("/tmp/qlb-fuzz-agent", fz_dir, sizeof(fz_dir));
	atexit(fz_cleanup);
	snprintf(path, sizeof(path), "%s/qlb.yaml", fz_dir);
	f = fopen(path, "w");
	if (!f || fputs(fz_cfg, f) < 0 || fclose(f))
		abort();

	fz_ag = ag_new(strdup(path));
	if (!fz_ag) {
		fprintf(stderr,
			"fuzz_agent_proto: its own config is refused\n");
		abort();
	}
	/* the data plane without pins: nothing outlives the fuzzer */
	if (ag_open_dataplane(fz_ag, false)) {
		fprintf(stderr, "cannot load the host BPF objects (root?)\n");
		abort();
	}
	if (ag_apply(fz_ag))
		abort();
	ag_update_gens(fz_ag, 0);
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A file descriptor of the kind @kind (see the input format), or -1. */
static int make_fd(int kind, int *extra)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(4433)};
	int fd, one = 1, p[2];

	*extra = -1;
	switch (kind) {
	case 1:
	case 2:
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			abort();
		if (kind == 1)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
				   sizeof(one));
		else
			a.sin_port = 0;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			abort();
		return fd;
	case 3:
		if (pipe2(p, O_CLOEXEC))
			abort();
		*extra = p[1];
		return p[0];
	}
	return -1;
}

/* Send @len bytes on @fd with @pass riding on the first byte. */
static void send_stream(int fd, const uint8_t *buf, size_t len, int pass)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (!len)
		return;
	if (pass >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.b;
		m.msg_controllen = sizeof(u.b);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass, sizeof(int));
	}
	if (sendmsg(fd, &m, MSG_NOSIGNAL) != (ssize_t)len)
		abort();
}

static void drain(int fd)
{
	char buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Harness-side loops over every worker slot: not worth coverage tracing
 * (it would triple the time of an input). */
#define FZ_NO_COV __attribute__((no_sanitize("coverage"), noinline))

/* What the agent keeps of a finished session must be consistent. */
static FZ_NO_COV void fz_check(struct agent *ag)
{
	uint32_t id;
	int i;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		const struct ag_worker *w = &ag->workers[id];

		if (!w->rec.in_use)
			continue;
		FZ_ASSERT(id < ag->max_workers);
		FZ_ASSERT(w->conn == -1); /* every connection is closed */
		FZ_ASSERT(ag_slot_cookie(ag, id) == w->rec.cookie);
		FZ_ASSERT(ag_gen_find(ag, w->rec.generation));
	}
	for (i = 0; i < AG_MAX_CONNS; i++)
		FZ_ASSERT(!ag->conns[i]);
}

/* Back to the state after LLVMFuzzerInitialize(): no connection, no
 * worker, no generation (the sockets were closed by the caller). */
static FZ_NO_COV void fz_reset(struct agent *ag)
{
	struct qlb_worker_rec zero = {0};
	__u32 k, next;
	uint32_t id;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		if (!ag->workers[id].rec.in_use)
			continue;
		ag->workers[id].rec = zero;
		ag->workers[id].conn = -1;
		bpf_map_update_elem(ag->m_workers, &id, &zero, BPF_ANY);
	}
	while (bpf_map_get_next_key(ag->m_gens, NULL, &k) == 0)
		bpf_map_delete_elem(ag->m_gens, &k);
	(void)next;
	ag->ngens = 0;
	ag->working = 0;
	ag->next_id = 0;
	ag_write_work_set(ag); /* empties the groups' working sets */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent *ag = fz_ag;
	int sp[2][2], mine[2] = {-1, -1}, extra[2] = {-1, -1};
	int fds_before, nconn, c, rounds;
	size_t split, off[3];

	if (size < 2)
		return 0;
	fds_before = count_fds();
	nconn = (data[0] & 0x10) ? 2 : 1;
	split = nconn == 2 ? 2 + (size - 2) * data[1] / 255 : size;
	off[0] = 2;
	off[1] = split;
	off[2] = size;

	for (c = 0; c < nconn; c++) {
		struct ucred cr;
		int sz = 1 << 20;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp[c]))
			abort();
		/* room for every answer: the agent's sends must not block */
		setsockopt(sp[c][0], SOL_SOCKET, SO_SNDBUFFORCE, &sz,
			   sizeof(sz));
		setsockopt(sp[c][1], SOL_SOCKET, SO_RCVBUFFORCE, &sz,
			   sizeof(sz));
		cr.pid = 4242 + c;
		cr.uid = 1000;
		cr.gid = 1000;
		FZ_ASSERT(ag_conn_add(ag, sp[c][0], &cr) == c);
		mine[c] = make_fd((data[0] >> (2 * c)) & 3, &extra[c]);
		send_stream(sp[c][1], data + off[c], off[c + 1] - off[c],
			    mine[c]);
		shutdown(sp[c][1], SHUT_WR);
	}

	/* read until each connection hit EOF and was closed (bounded) */
	for (rounds = 0; rounds < 256; rounds++) {
		int open = 0;

		for (c = 0; c < nconn; c++) {
			if (!ag->conns[c])
				continue;
			open++;
			qlb_agent_conn_read(ag, c);
			drain(sp[c][1]);
		}
		if (!open)
			break;
	}
	FZ_ASSERT(rounds < 256);

	fz_check(ag);

	for (c = 0; c < nconn; c++) {
		close(sp[c][1]);
		if (mine[c] >= 0)
			close(mine[c]);
		if (extra[c] >= 0)
			close(extra[c]);
	}
	/* every descriptor the agent received was closed or consumed */
	FZ_ASSERT(count_fds() == fds_before);
	fz_reset(ag);
	return 0;
}
