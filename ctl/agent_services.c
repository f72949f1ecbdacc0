// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host's view of services: which service a socket group serves.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent_services.h"

static bool addr_is_any(int family, const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, family == AF_INET ? 4 : 16);
}

static const char *group_str(int family, const void *addr, uint16_t port,
			     char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

/* Mark in @cand the services with a VIP of @port and @family; *@found gets
 * the last one. Return: how many. */
static unsigned int port_candidates(const struct qlb_config *cfg, uint16_t port,
				    int family, bool *cand, int *found)
{
	unsigned int i, n = 0;

	for (i = 0; i < cfg->lb.nvips; i++) {
		const struct qlb_conf_vip *v = &cfg->lb.vips[i];

		if (v->port != port || v->addr.family != family ||
		    v->service >= cfg->nservices ||
		    v->service >= QLB_MAX_SERVICES || cand[v->service])
			continue;
		cand[v->service] = true;
		*found = (int)v->service;
		n++;
	}
	return n;
}

int qlb_group_service(const struct qlb_config *cfg, int family,
		      const void *addr, uint16_t port, char *err, size_t errlen)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	size_t alen = family == AF_INET ? 4 : 16;
	uint8_t v4[4];
	struct qlb_addr a;
	bool cand[QLB_MAX_SERVICES] = {false};
	char g[INET6_ADDRSTRLEN + 8], names[256];
	unsigned int i, n = 0;
	size_t off = 0;
	int found = -1;

	if (family != AF_INET && family != AF_INET6) {
		snprintf(err, errlen,
			 "socket group of address family %d: "
			 "not IPv4 or IPv6",
			 family);
		return -1;
	}
	/* One service (services: absent, or a list of one) serves every
	 * group, as before services existed. */
	if (cfg->nservices <= 1)
		return 0;
	/* an IPv4 address in an IPv6 socket's bind is that IPv4 address */
	if (family == AF_INET6 && !memcmp(addr, mapped, sizeof(mapped))) {
		memcpy(v4, (const uint8_t *)addr + 12, 4);
		addr = v4;
		family = AF_INET;
		alen = 4;
	}
	memset(&a, 0, sizeof(a));
	a.family = family;
	memcpy(a.bytes, addr, alen);
	found = qlb_config_vip_service(cfg, &a, port);
	if (found >= 0)
		return found;
	if (addr_is_any(family, addr)) {
		n = port_candidates(cfg, port, family, cand, &found);
		/* [::] takes IPv4 too (unless IPV6_V6ONLY): with no IPv6
		 * VIP at its port, the IPv4 ones decide */
		if (!n && family == AF_INET6)
			n = port_candidates(cfg, port, AF_INET, cand, &found);
		if (n == 1)
			return found;
	}
	group_str(family, addr, port, g, sizeof(g));
	if (!n) {
		snprintf(err, errlen,
			 "socket group %s is a VIP of none of the %u "
			 "services (bind to a service's VIP and port)",
			 g, cfg->nservices);
		return -1;
	}
	names[0] = '\0';
	for (i = 0; i < cfg->nservices && i < QLB_MAX_SERVICES; i++) {
		int w;

		if (!cand[i] || off >= sizeof(names))
			continue;
		w = snprintf(names + off, sizeof(names) - off, "%s\"%s\"",
			     off ? ", " : "", cfg->services[i].name);
		if (w > 0)
			off += (size_t)w;
	}
	snprintf(err, errlen,
		 "socket group %s is ambiguous: services %s have a VIP at "
		 "its port (bind to one service's VIP)",
		 g, names);
	return -1;
}

const struct qlb_conf_svc_host *qlb_host_service(const struct qlb_config *cfg,
						 unsigned int s,
						 unsigned int host)
{
	if (s >= cfg->nservices)
		return NULL;
	return qlb_service_host(&cfg->services[s], host);
}

unsigned int qlb_host_nservices(const struct qlb_config *cfg, unsigned int host)
{
	unsigned int s, n = 0;

	for (s = 0; s < cfg->nservices; s++)
		n += qlb_service_host(&cfg->services[s], host) != NULL;
	return n;
}
