// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-h3server: options, TLS credentials, worker processes, event loop.
 *
 * The parent process forks N workers and waits. Each worker opens its own
 * UDP socket on ADDRESS:PORT in one SO_REUSEPORT group, hands it to the
 * host agent (which steers packets to it by the worker bits of their
 * CIDs), and runs a single-threaded poll loop over that socket, the
 * agent's connection and the QUIC timers.
 *
 * Draining: on SIGTERM, or when the agent says a newer generation took
 * over, a worker serves its open connections (and new ones that still
 * reach it) and exits when none are left or after --drain-timeout.
 * SIGINT stops at once.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>

#include "h3server.h"

#define H3_DEFAULT_AGENT "/run/qlb/agent.sock"
#define H3_RECV_BATCH	 64 /* datagrams per loop turn before timers run */

static volatile sig_atomic_t sig_drain, sig_stop;
static const struct h3_worker *log_worker; /* for the parent: NULL */

uint64_t h3_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* One line per call, written at once so workers' lines never interleave. */
void h3_log(const struct h3_worker *w, const char *fmt, ...)
{
	char line[512];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (w)
		n = snprintf(line, sizeof(line),
			     "%02d:%02d:%02d.%03ld qlb-h3server[%s w=%u g=%u "
			     "pid=%d]: ",
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000, w->host, w->worker_id,
			     w->o->generation, (int)getpid());
	else
		n = snprintf(line, sizeof(line),
			     "%02d:%02d:%02d.%03ld qlb-h3server[pid=%d]: ",
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000, (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

const char *h3_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const void *)sa;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
	}
	return buf;
}

/* ---- the socket ---- */

/*
 * A UDP socket in the SO_REUSEPORT group on ADDRESS:PORT that reports each
 * datagram's destination address, so replies leave from the VIP the client
 * used. "::" listens on IPv4 and IPv6 alike.
 */
static int open_socket(const struct h3_opts *o, struct sockaddr_storage *bound)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct addrinfo *ai;
	int fd, one = 1, zero = 0, rcvbuf = 4 << 20, rv;

	rv = getaddrinfo(o->address, o->port, &hints, &ai);
	if (rv) {
		h3_log(log_worker, "bad address %s port %s: %s", o->address,
		       o->port, gai_strerror(rv));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto err;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto err;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (ai->ai_family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			       sizeof(zero)) ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			       sizeof(one)))
			goto err;
	} else if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) {
		goto err;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen))
		goto err;
	memcpy(bound, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return fd;
err:
	h3_log(log_worker, "cannot open UDP %s port %s: %s", o->address,
	       o->port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/* Read what is queued on the socket, up to one batch. */
static void read_datagrams(struct h3_worker *w,
			   const struct sockaddr_storage *bound)
{
	static uint8_t buf[65536];

	for (int i = 0; i < H3_RECV_BATCH; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} cbuf;
		struct sockaddr_storage remote, local;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr msg = {
			.msg_name = &remote,
			.msg_namelen = sizeof(remote),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf),
		};
		socklen_t local_len;
		ssize_t n = recvmsg(w->fd, &msg, 0);

		if (n < 0)
			return; /* EAGAIN: drained; errors: nothing we can do */

		/* The local address of this path: where the client sent to. */
		memcpy(&local, bound, sizeof(local));
		local_len = bound->ss_family == AF_INET
				    ? sizeof(struct sockaddr_in)
				    : sizeof(struct sockaddr_in6);
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm;
		     cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level == IPPROTO_IP &&
			    cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				((struct sockaddr_in *)&local)->sin_addr =
					pi.ipi_addr;
			} else if (cm->cmsg_level == IPPROTO_IPV6 &&
				   cm->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				((struct sockaddr_in6 *)&local)->sin6_addr =
					pi.ipi6_addr;
			}
		}
		h3_on_datagram(w, buf, n, (struct sockaddr *)&local, local_len,
			       (struct sockaddr *)&remote, msg.msg_namelen);
	}
}

/* ---- a worker ---- */

static void on_signal(int sig)
{
	if (sig == SIGTERM)
		sig_drain = 1;
	else
		sig_stop = 1;
}

static void handle_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	/* no SA_RESTART: ppoll returns EINTR and the loop sees the flag */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int worker_main(const struct h3_opts *o, unsigned int index,
		       gnutls_certificate_credentials_t cred)
{
	struct h3_worker w = {.o = o, .index = index, .cred = cred, .fd = -1};
	struct sockaddr_storage bound;
	uint64_t next_retry = 0;

	handle_signals();
	if (o->host_name)
		snprintf(w.host, sizeof(w.host), "%s", o->host_name);
	else if (gethostname(w.host, sizeof(w.host) - 1))
		snprintf(w.host, sizeof(w.host), "unknown");
	w.worker_id = index;
	log_worker = &w;

	w.fd = open_socket(o, &bound);
	if (w.fd < 0)
		return 1;
	if (h3_cids_init(&w))
		return 1;
	h3_log(&w, "ready on %s port %s, minting under config %d%s", o->address,
	       o->port, h3_active_config(&w), w.agent ? "" : " (no agent)");

	while (!sig_stop) {
		struct pollfd fds[2] = {
			{.fd = w.fd, .events = POLLIN},
			{.fd = h3_agent_fd(&w), .events = POLLIN},
		};
		uint64_t now = h3_now(), next = h3_next_expiry(&w);
		uint64_t wait = next <= now ? 0 : next - now;
		struct timespec ts;

		if (w.agent_gone && now >= next_retry) {
			h3_agent_retry(&w);
			next_retry = now + 1000000000ull;
		}
		if ((sig_drain || w.agent_drain) && !w.draining) {
			w.draining = true;
			w.drain_deadline =
				now + o->drain_timeout_s * 1000000000ull;
			h3_log(&w, "draining: %u connection(s) open", w.nconns);
		}
		if (w.draining && (!w.nconns || now > w.drain_deadline))
			break;
		if (wait > 100000000ull) /* look at the signal flags often */
			wait = 100000000ull;
		ts.tv_sec = wait / 1000000000ull;
		ts.tv_nsec = wait % 1000000000ull;
		if (ppoll(fds, fds[1].fd >= 0 ? 2 : 1, &ts, NULL) < 0 &&
		    errno != EINTR)
			break;

		if (fds[0].revents & POLLIN)
			read_datagrams(&w, &bound);
		if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)))
			h3_agent_process(&w);
		h3_on_timers(&w);
		h3_flush_all(&w);
		h3_reap(&w);
	}
	h3_log(&w, "exiting with %u connection(s) open", w.nconns);
	for (struct h3_conn *c = w.conns; c; c = c->next)
		c->dead = true;
	h3_reap(&w);
	if (w.agent)
		qlb_client_close(w.agent);
	close(w.fd);
	return 0;
}

/* ---- the parent ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: qlb-h3server [OPTIONS] ADDRESS PORT\n"
		"An HTTP/3 server whose connection IDs qlb can route. Serves\n"
		"/bytes/N (N bytes) and /whoami (host, worker, generation, "
		"config).\n"
		"\n"
		"  --cert FILE, --key FILE   TLS certificate and key (PEM), "
		"required\n"
		"  -w, --workers N           worker processes (default 2)\n"
		"  -g, --generation G        socket generation to register "
		"(default 1)\n"
		"  --agent PATH              host agent socket "
		"(default " H3_DEFAULT_AGENT ")\n"
		"  --host NAME               host name for /whoami and logs\n"
		"  --retry                   answer new clients with a Retry "
		"first\n"
		"  --reset-secret HEX        16-byte stateless reset secret "
		"shared by\n"
		"                            the host's servers (default: "
		"random)\n"
		"  --drain-timeout SECS      SIGTERM: longest wait for open\n"
		"                            connections (default 30)\n"
		"  -v                        log requests; twice: ngtcp2's "
		"debug log\n"
		"Without an agent (worker ID = worker index):\n"
		"  --no-agent --config-id N --server-id HEX [--nonce-len N "
		"(6)]\n"
		"  [--cid-key HEX] [--worker-bits N (4)] [--no-encode-length]\n"
		"ADDRESS \"::\" listens on IPv4 and IPv6.\n");
}

static int parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = b;
	}
	return n / 2;
}

static int parse_opts(int argc, char **argv, struct h3_opts *o)
{
	enum {
		O_CERT = 256,
		O_KEY,
		O_AGENT,
		O_NO_AGENT,
		O_HOST,
		O_RETRY,
		O_RESET,
		O_DRAIN,
		O_CONFIG,
		O_SID,
		O_NONCE,
		O_CIDKEY,
		O_WBITS,
		O_NOENC
	};
	static const struct option lo[] = {
		{"cert", required_argument, NULL, O_CERT},
		{"key", required_argument, NULL, O_KEY},
		{"workers", required_argument, NULL, 'w'},
		{"generation", required_argument, NULL, 'g'},
		{"agent", required_argument, NULL, O_AGENT},
		{"no-agent", no_argument, NULL, O_NO_AGENT},
		{"host", required_argument, NULL, O_HOST},
		{"retry", no_argument, NULL, O_RETRY},
		{"reset-secret", required_argument, NULL, O_RESET},
		{"drain-timeout", required_argument, NULL, O_DRAIN},
		{"config-id", required_argument, NULL, O_CONFIG},
		{"server-id", required_argument, NULL, O_SID},
		{"nonce-len", required_argument, NULL, O_NONCE},
		{"cid-key", required_argument, NULL, O_CIDKEY},
		{"worker-bits", required_argument, NULL, O_WBITS},
		{"no-encode-length", no_argument, NULL, O_NOENC},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool no_agent = false, have_reset = false;
	int opt, n;

	o->workers = 2;
	o->generation = 1;
	o->agent_path = H3_DEFAULT_AGENT;
	o->drain_timeout_s = 30;
	o->standalone.config_id = 8; /* "not given" */
	o->standalone.nonce_len = 6;
	o->standalone.worker_bits = 4;
	o->standalone.encode_length = true;

	while ((opt = getopt_long(argc, argv, "w:g:vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'w':
			o->workers = strtoul(optarg, NULL, 10);
			break;
		case 'g':
			o->generation = strtoul(optarg, NULL, 10);
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_CERT:
			o->cert_file = optarg;
			break;
		case O_KEY:
			o->key_file = optarg;
			break;
		case O_AGENT:
			o->agent_path = optarg;
			break;
		case O_NO_AGENT:
			no_agent = true;
			break;
		case O_HOST:
			o->host_name = optarg;
			break;
		case O_RETRY:
			o->retry = true;
			break;
		case O_RESET:
			if (parse_hex(optarg, o->reset_secret, 16) != 16) {
				fprintf(stderr, "qlb-h3server: --reset-secret "
						"wants 32 hex digits\n");
				return -1;
			}
			have_reset = true;
			break;
		case O_DRAIN:
			o->drain_timeout_s = strtoul(optarg, NULL, 10);
			break;
		case O_CONFIG:
			o->standalone.config_id = strtoul(optarg, NULL, 10);
			break;
		case O_SID:
			n = parse_hex(optarg, o->standalone.server_id,
				      QLB_SID_MAX_LEN);
			if (n < 1) {
				fprintf(stderr,
					"qlb-h3server: --server-id: 1 to %d "
					"bytes of hex\n",
					QLB_SID_MAX_LEN);
				return -1;
			}
			o->standalone.sid_len = n;
			break;
		case O_NONCE:
			o->standalone.nonce_len = strtoul(optarg, NULL, 10);
			break;
		case O_CIDKEY:
			if (parse_hex(optarg, o->standalone.key, 16) != 16) {
				fprintf(stderr, "qlb-h3server: --cid-key wants "
						"32 hex digits\n");
				return -1;
			}
			o->standalone.has_key = true;
			break;
		case O_WBITS:
			o->standalone.worker_bits = strtoul(optarg, NULL, 10);
			break;
		case O_NOENC:
			o->standalone.encode_length = false;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (argc - optind != 2 || !o->cert_file || !o->key_file ||
	    !o->workers || o->workers > 1024) {
		usage(stderr);
		return -1;
	}
	o->address = argv[optind];
	o->port = argv[optind + 1];
	if (no_agent) {
		o->agent_path = NULL;
		if (o->standalone.config_id > 6 || !o->standalone.sid_len) {
			fprintf(stderr, "qlb-h3server: --no-agent needs "
					"--config-id 0..6 and --server-id\n");
			return -1;
		}
	}
	if (!have_reset)
		gnutls_rnd(GNUTLS_RND_KEY, o->reset_secret,
			   sizeof(o->reset_secret));
	gnutls_rnd(GNUTLS_RND_KEY, o->token_secret, sizeof(o->token_secret));
	return 0;
}

static pid_t *children;
static unsigned int nchildren;

static void signal_children(int sig)
{
	for (unsigned int i = 0; i < nchildren; i++)
		if (children[i] > 0)
			kill(children[i], sig);
}

int main(int argc, char **argv)
{
	struct h3_opts o = {0};
	gnutls_certificate_credentials_t cred;
	int rv, status, exit_code = 0;
	unsigned int alive;
	bool forwarded_drain = false, forwarded_stop = false;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (gnutls_certificate_allocate_credentials(&cred))
		return 1;
	rv = gnutls_certificate_set_x509_key_file(cred, o.cert_file, o.key_file,
						  GNUTLS_X509_FMT_PEM);
	if (rv < 0) {
		h3_log(NULL, "cannot load %s / %s: %s", o.cert_file, o.key_file,
		       gnutls_strerror(rv));
		return 1;
	}

	children = calloc(o.workers, sizeof(*children));
	if (!children)
		return 1;
	handle_signals();
	for (unsigned int i = 0; i < o.workers; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			h3_log(NULL, "fork: %s", strerror(errno));
			signal_children(SIGINT);
			exit_code = 1;
			break;
		}
		if (pid == 0)
			_exit(worker_main(&o, i, cred));
		children[nchildren++] = pid;
	}

	/* Wait for the workers; pass signals on; one failing stops all. */
	for (alive = nchildren; alive;) {
		pid_t pid;

		if (sig_drain && !forwarded_drain) {
			signal_children(SIGTERM);
			forwarded_drain = true;
		}
		if (sig_stop && !forwarded_stop) {
			signal_children(SIGINT);
			forwarded_stop = true;
		}
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (unsigned int i = 0; i < nchildren; i++)
			if (children[i] == pid)
				children[i] = 0;
		alive--;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			h3_log(NULL, "worker %d failed; stopping the others",
			       (int)pid);
			exit_code = 1;
			signal_children(SIGINT);
		}
	}
	gnutls_certificate_free_credentials(cred);
	return exit_code;
}
