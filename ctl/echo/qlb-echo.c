// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-echo: a worker you can see. N worker processes share one
 * SO_REUSEPORT group on ADDRESS:PORT, register their sockets with the host
 * agent, and answer every datagram with one line
 *
 *     host=NAME worker=ID generation=G
 *
 * from the address it was sent to (so replies to decapsulated packets go
 * straight back to the client). A datagram with a QUIC long header gets
 * " cid=HEX" appended: a new CID minted by that worker, as a QUIC server
 * would choose for the connection, so a client can go on with it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qlb/libqlb.h"

#define MAX_WORKERS	   256
#define RECONNECT_MS	   200
#define QLB_CLIENT_MSG_LEN 192

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

struct opts {
	unsigned int workers;
	int size; /* declared generation size, -1 = workers */
	uint32_t generation;
	const char *agent;
	const char *name;
	double drain_exit; /* seconds quiet after draining, 0 = never */
	int family;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} addr;
	bool any6;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: qlb-echo --workers N [--generation G] [--agent PATH] "
		"[--name HOST]\n"
		"                [--size S] [--drain-exit SECS] ADDRESS PORT\n"
		"Starts N workers on one SO_REUSEPORT group; each answers "
		"every datagram\n"
		"with 'host=NAME worker=ID generation=G' (+ ' cid=HEX' for "
		"long headers).\n"
		"  --agent PATH       register with the host agent (worker "
		"IDs, CIDs)\n"
		"  --generation G     socket generation (default 1)\n"
		"  --size S           declare the generation's size (default "
		"N; 0 = do not\n"
		"                     declare: the agent promotes it only when "
		"told to)\n"
		"  --name HOST        host name without an agent (default: "
		"hostname)\n"
		"  --drain-exit SECS  once another generation took over, exit "
		"after SECS\n"
		"                     without a datagram\n");
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int open_socket(const struct opts *o)
{
	int fd, one = 1, zero = 0;

	fd = socket(o->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	if (o->family == AF_INET6) {
		/* "::" serves both families: one group for v4 and v6 VIPs */
		if (o->any6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
					  sizeof(zero)))
			goto fail;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			       sizeof(one)))
			goto fail;
	} else if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) {
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&o->addr,
		 o->family == AF_INET ? sizeof(o->addr.v4)
				      : sizeof(o->addr.v6)))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Answer one datagram from the address it came to. */
static void answer(int fd, struct qlb_client *cl, const char *host,
		   uint32_t worker, uint32_t gen)
{
	uint8_t buf[2048], cid[QLB_CID_MAX_LEN];
	union {
		char b[256];
		struct cmsghdr align;
	} cin, cout;
	struct sockaddr_storage peer;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {
		.msg_name = &peer,
		.msg_namelen = sizeof(peer),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cin.b,
		.msg_controllen = sizeof(cin.b),
	};
	struct cmsghdr *c, *oc;
	size_t olen = 0;
	char reply[256];
	ssize_t n;
	int len, k;

	n = recvmsg(fd, &m, MSG_DONTWAIT);
	if (n < 0)
		return;
	len = snprintf(reply, sizeof(reply), "host=%s worker=%u generation=%u",
		       host, worker, gen);
	if (n >= 7 && (buf[0] & 0x80)) {
		int cl_len = cl ? qlb_client_mint(cl, cid, 8) : -1;

		if (cl_len < 0) {
			cl_len = 8;
			qlb_mint_unroutable(cid, 8);
		}
		len += snprintf(reply + len, sizeof(reply) - (size_t)len,
				" cid=");
		for (k = 0; k < cl_len; k++)
			len += snprintf(reply + len,
					sizeof(reply) - (size_t)len, "%02x",
					cid[k]);
	}
	len += snprintf(reply + len, sizeof(reply) - (size_t)len, "\n");

	/* source = the address the datagram was sent to (the VIP) */
	memset(&cout, 0, sizeof(cout));
	oc = (struct cmsghdr *)cout.b;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			oc->cmsg_level = IPPROTO_IP;
			oc->cmsg_type = IP_PKTINFO;
			oc->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
			olen = CMSG_SPACE(sizeof(pi));
			break;
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi6_ifindex = 0;
			oc->cmsg_level = IPPROTO_IPV6;
			oc->cmsg_type = IPV6_PKTINFO;
			oc->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
			olen = CMSG_SPACE(sizeof(pi));
			break;
		}
	}
	iov.iov_base = reply;
	iov.iov_len = (size_t)len;
	m.msg_control = olen ? cout.b : NULL;
	m.msg_controllen = olen;
	m.msg_flags = 0;
	sendmsg(fd, &m, MSG_DONTWAIT);
}

static int worker_main(const struct opts *o, unsigned int index)
{
	struct qlb_client *cl = NULL;
	char host[128] = "";
	uint32_t worker = index;
	double last = now_s(), retry = 0, drain_since = 0;
	bool connected = false;
	int fd, err;

	fd = open_socket(o);
	if (fd < 0) {
		fprintf(stderr, "qlb-echo: worker %u: cannot bind: %s\n", index,
			strerror(errno));
		return 1;
	}
	if (o->agent) {
		char why[QLB_CLIENT_MSG_LEN];

		cl = qlb_client_connect_err(o->agent, why, sizeof(why));
		if (!cl) {
			fprintf(stderr,
				"qlb-echo: cannot connect to the agent at %s: "
				"%s\n",
				o->agent, why);
			return 1;
		}
		err = 0;
		if (o->size)
			err = qlb_client_declare_generation(
				cl, o->generation,
				o->size < 0 ? o->workers : (uint32_t)o->size);
		if (!err)
			err = qlb_client_register(cl, fd, o->generation);
		if (err) {
			fprintf(stderr,
				"qlb-echo: the agent refused the socket: %s "
				"(%s)\n",
				strerror(-err), qlb_client_last_error(cl));
			qlb_client_close(cl);
			return 1;
		}
		connected = true;
		worker = qlb_client_worker_id(cl);
		snprintf(host, sizeof(host), "%s", qlb_client_host_name(cl));
	} else if (o->name) {
		snprintf(host, sizeof(host), "%s", o->name);
	} else {
		gethostname(host, sizeof(host) - 1);
	}
	printf("qlb-echo: worker %u generation %u pid %d ready\n", worker,
	       o->generation, (int)getpid());
	fflush(stdout);

	while (!stop) {
		struct pollfd p[2] = {
			{.fd = fd, .events = POLLIN},
			{.fd = connected ? qlb_client_fd(cl) : -1,
			 .events = POLLIN},
		};
		double t;

		if (poll(p, 2, 100) < 0 && errno != EINTR)
			break;
		t = now_s();
		if (p[0].revents & POLLIN) {
			answer(fd, cl, host, worker, o->generation);
			last = t;
		}
		if (connected && p[1].revents &&
		    qlb_client_process(cl) == -ECONNRESET) {
			fprintf(stderr,
				"qlb-echo: worker %u: agent gone; "
				"reconnecting\n",
				worker);
			connected = false;
			retry = t;
		}
		if (cl && !connected && t - retry >= RECONNECT_MS / 1000.0) {
			retry = t;
			if (qlb_client_reconnect(cl) == 0) {
				connected = true;
				/* the same ID unless the agent lost its maps */
				worker = qlb_client_worker_id(cl);
				fprintf(stderr,
					"qlb-echo: worker %u: reconnected\n",
					worker);
			}
		}
		if (cl && o->drain_exit > 0 && qlb_client_draining(cl)) {
			if (!drain_since) {
				drain_since = t;
				printf("qlb-echo: worker %u generation %u "
				       "draining\n",
				       worker, o->generation);
				fflush(stdout);
			}
			if (t - (last > drain_since ? last : drain_since) >=
			    o->drain_exit) {
				printf("qlb-echo: worker %u generation %u "
				       "drained, exiting\n",
				       worker, o->generation);
				fflush(stdout);
				break;
			}
		}
	}
	close(fd);
	qlb_client_close(cl);
	return 0;
}

static int parse_addr(struct opts *o, const char *a, const char *port)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	if (*end || !p || p > 65535)
		return -1;
	if (inet_pton(AF_INET, a, &o->addr.v4.sin_addr) == 1) {
		o->family = AF_INET;
		o->addr.v4.sin_family = AF_INET;
		o->addr.v4.sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &o->addr.v6.sin6_addr) == 1) {
		o->family = AF_INET6;
		o->addr.v6.sin6_family = AF_INET6;
		o->addr.v6.sin6_port = htons((uint16_t)p);
		o->any6 = IN6_IS_ADDR_UNSPECIFIED(&o->addr.v6.sin6_addr);
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"workers", required_argument, NULL, 'n'},
		{"generation", required_argument, NULL, 'g'},
		{"agent", required_argument, NULL, 'a'},
		{"name", required_argument, NULL, 'N'},
		{"drain-exit", required_argument, NULL, 'd'},
		{"size", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct opts o = {.workers = 1, .generation = 1, .size = -1};
	pid_t pids[MAX_WORKERS];
	struct sigaction sa = {.sa_handler = on_term};
	unsigned int i, alive = 0;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "n:g:a:N:d:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.workers = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			o.generation = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			o.agent = optarg;
			break;
		case 'N':
			o.name = optarg;
			break;
		case 'd':
			o.drain_exit = strtod(optarg, NULL);
			break;
		case 's':
			o.size = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || !o.workers || o.workers > MAX_WORKERS ||
	    !o.generation || parse_addr(&o, argv[optind], argv[optind + 1])) {
		usage(stderr);
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < o.workers; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(worker_main(&o, i));
		if (pids[i] < 0) {
			fprintf(stderr, "qlb-echo: fork: %s\n",
				strerror(errno));
			stop = 1;
			break;
		}
		alive++;
	}
	while (alive) {
		int st;
		pid_t p = waitpid(-1, &st, 0);

		if (p < 0) {
			if (errno != EINTR)
				break;
			if (stop)
				for (i = 0; i < o.workers; i++)
					if (pids[i] > 0)
						kill(pids[i], SIGTERM);
			continue;
		}
		for (i = 0; i < o.workers; i++)
			if (pids[i] == p)
				pids[i] = 0;
		alive--;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			rc = 1;
	}
	return rc;
}
