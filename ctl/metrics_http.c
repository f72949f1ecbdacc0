// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"
#include "metrics_http.h"

static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			socklen_t *sl)
{
	char host[256], *colon, *a = host, *end;
	unsigned long port;

	snprintf(host, sizeof(host), "%s", listen);
	colon = strrchr(host, ':');
	if (!colon) {
		qlb_warn("--listen wants ADDR:PORT, got '%s'", listen);
		return -1;
	}
	*colon = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !port || port > 65535) {
		qlb_warn("--listen: bad port in '%s'", listen);
		return -1;
	}
	if (a[0] == '[' && a[strlen(a) - 1] == ']') {
		a++;
		a[strlen(a) - 1] = 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		*sl = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)ss)->sin6_addr) ==
	    1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		*sl = sizeof(struct sockaddr_in6);
		return 0;
	}
	qlb_warn("--listen: '%s' is not an IP address", a);
	return -1;
}

int qlb_metrics_listen(const char *addr, qlb_metrics_fn fn, void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int ls, one = 1;

	if (parse_listen(addr, &ss, &sl))
		return QLB_EXIT_USAGE;
	ls = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&ss, sl) || listen(ls, 16)) {
		qlb_err("cannot listen on %s: %s", addr, strerror(errno));
		if (ls >= 0)
			close(ls);
		return QLB_EXIT_ERR;
	}
	qlb_catch_stop(); /* ends a blocked accept() */
	signal(SIGPIPE, SIG_IGN);
	while (!qlb_stop_requested) {
		struct timeval tv = {2, 0};
		char req[2048], *body = NULL;
		size_t blen = 0;
		FILE *mf;
		int cs = accept4(ls, NULL, NULL, SOCK_CLOEXEC), ok = -1;

		if (cs < 0)
			continue;
		setsockopt(cs, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(cs, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		/* any request gets the metrics: one GET is all a scraper
		 * sends */
		if (recv(cs, req, sizeof(req), 0) <= 0) {
			close(cs);
			continue;
		}
		mf = open_memstream(&body, &blen);
		if (mf) {
			ok = fn(mf, arg);
			fclose(mf);
		}
		if (ok == 0)
			dprintf(cs,
				"HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
				"version=0.0.4\r\nContent-Length: %zu\r\n"
				"Connection: close\r\n\r\n",
				blen);
		else
			dprintf(cs, "HTTP/1.0 503 Service Unavailable\r\n"
				    "Content-Length: 0\r\nConnection: close"
				    "\r\n\r\n");
		if (ok == 0 && blen && write(cs, body, blen) < 0 && qlb_verbose)
			qlb_warn("metrics: write: %s", strerror(errno));
		free(body);
		close(cs);
	}
	close(ls);
	return QLB_EXIT_OK;
}
