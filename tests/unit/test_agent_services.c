// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_group_service() (ctl/agent_services.c): which service a host's socket
 * group serves, on tests/config/good_services.yaml ("web": 198.18.1.1 at
 * 443 and 80; "api": 198.18.1.2:443 and 198.18.1.1:8443; web2 serves both)
 * and on tests/config/good.yaml (one implicit service: every group).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent_services.h"
#include "config.h"
#include "t.h"

static struct qlb_config cfg;
static char err[256];

/* The service of group @addr:@port (text), -1 when refused. */
static int svc_of(const char *addr, uint16_t port)
{
	uint8_t a[16] = {0};
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, addr, a) != 1) {
		fprintf(stderr, "bad address %s\n", addr);
		exit(2);
	}
	err[0] = '\0';
	return qlb_group_service(&cfg, fam, a, port, err, sizeof(err));
}

static int index_of(const char *name)
{
	const struct qlb_conf_service *s = qlb_config_service(&cfg, name);

	return s ? (int)(s - cfg.services) : -2;
}

static unsigned int nsvc_of(const char *host)
{
	const struct qlb_conf_host *h = qlb_config_host(&cfg, host);

	return h ? qlb_host_nservices(&cfg, (unsigned int)(h - cfg.hosts)) : 99;
}

int main(void)
{
	const char *dir = getenv("QLB_TEST_CONFIG_DIR") ?: "tests/config";
	char path[512];
	int web, api;
	uint8_t any[16] = {0};

	snprintf(path, sizeof(path), "%s/good_services.yaml", dir);
	if (qlb_config_load(path, &cfg, stderr)) {
		fprintf(stderr, "cannot load %s\n", path);
		return 2;
	}
	web = index_of("web");
	api = index_of("api");
	CHECK(web >= 0 && api >= 0 && web != api, "web %d api %d", web, api);

	/* exact VIP and port */
	CHECK(svc_of("198.18.1.1", 443) == web, "%s", err);
	CHECK(svc_of("198.18.1.1", 80) == web, "%s", err);
	CHECK(svc_of("198.18.1.2", 443) == api, "%s", err);
	CHECK(svc_of("198.18.1.1", 8443) == api, "one address, two services");
	/* an IPv4-mapped bind is the IPv4 address */
	CHECK(svc_of("::ffff:198.18.1.2", 443) == api, "%s", err);

	/* wildcard: the one service with a VIP at that port */
	CHECK(svc_of("0.0.0.0", 8443) == api, "%s", err);
	CHECK(svc_of("0.0.0.0", 80) == web, "%s", err);
	/* ... "::" takes IPv4 VIPs when no IPv6 VIP has the port */
	CHECK(svc_of("::", 8443) == api, "%s", err);

	/* refused: ambiguous, naming the candidates */
	CHECK(svc_of("0.0.0.0", 443) == -1, "0.0.0.0:443 has two services");
	CHECK(strstr(err, "ambiguous") && strstr(err, "\"web\"") &&
		      strstr(err, "\"api\"") && strstr(err, "0.0.0.0:443"),
	      "message: %s", err);
	CHECK(svc_of("::", 443) == -1, "[::]:443 has two services");
	CHECK(strstr(err, "[::]:443") != NULL, "message: %s", err);
	/* refused: no service has that VIP (address or port) */
	CHECK(svc_of("198.18.1.3", 443) == -1, "not a VIP");
	CHECK(strstr(err, "198.18.1.3:443") && strstr(err, "none"),
	      "message: %s", err);
	CHECK(svc_of("198.18.1.2", 8443) == -1, "api's address, web's port");
	CHECK(svc_of("0.0.0.0", 9999) == -1, "no VIP at the port");
	CHECK(qlb_group_service(&cfg, AF_UNIX, any, 443, err, sizeof(err)) ==
		      -1,
	      "not IP");

	/* who serves what */
	CHECK(nsvc_of("web1") == 1, "web1: %u", nsvc_of("web1"));
	CHECK(nsvc_of("web2") == 2, "web2: %u", nsvc_of("web2"));
	CHECK(nsvc_of("api1") == 1, "api1: %u", nsvc_of("api1"));
	{
		const struct qlb_conf_host *h = qlb_config_host(&cfg, "api1");
		unsigned int hi = (unsigned int)(h - cfg.hosts);

		CHECK(qlb_host_service(&cfg, (unsigned int)api, hi) != NULL,
		      "api1 serves api");
		CHECK(qlb_host_service(&cfg, (unsigned int)web, hi) == NULL,
		      "api1 does not serve web");
		CHECK(qlb_host_service(&cfg, 64, hi) == NULL, "no service 64");
	}
	qlb_config_free(&cfg);

	/* one service: every group serves it, VIP or not */
	snprintf(path, sizeof(path), "%s/good.yaml", dir);
	if (qlb_config_load(path, &cfg, stderr)) {
		fprintf(stderr, "cannot load %s\n", path);
		return 2;
	}
	CHECK(cfg.nservices == 1, "%u services", cfg.nservices);
	CHECK(svc_of("0.0.0.0", 443) == 0, "%s", err);
	CHECK(svc_of("203.0.113.9", 1) == 0, "%s", err);
	CHECK(svc_of("::", 4433) == 0, "%s", err);
	qlb_config_free(&cfg);
	return t_done("test_agent_services");
}
