// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's health state machine (rise/fall, hysteresis), the
 * effective member states (intent x health, fail-open per service), the
 * probe packet builder (ctl/health.c), the prober over loopback (a probe
 * per member naming its service, answers matched by nonce, the probe rate
 * cap; ctl/health_probe.c) and the service a host's responder answers a
 * probe for (ctl/agent_probe.c).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t.h"
#include "agent_probe.h"
#include "health.h"

static const struct qlb_health_params P = {.interval_ms = 1000,
					   .timeout_ms = 500,
					   .rise = 2,
					   .fall = 3,
					   .port = 6070};

/* Feed @s the results of @pattern ('1' success, '0' failure); return how
 * many times the health changed. */
static int feed(struct qlb_hsm *s, const struct qlb_health_params *p,
		const char *pattern)
{
	int changes = 0;

	for (; *pattern; pattern++)
		changes += qlb_hsm_feed(s, p, *pattern == '1');
	return changes;
}

static void test_rise_fall(void)
{
	struct qlb_hsm s = {0};

	CHECK(s.health == QLB_HEALTH_UNKNOWN, " ");
	/* unknown -> up on the first answer */
	CHECK(qlb_hsm_feed(&s, &P, true), " ");
	CHECK(s.health == QLB_HEALTH_UP, " ");
	/* fall = 3: two failures keep it up, the third takes it down */
	CHECK(!qlb_hsm_feed(&s, &P, false), " ");
	CHECK(!qlb_hsm_feed(&s, &P, false), " ");
	CHECK(s.health == QLB_HEALTH_UP, " ");
	CHECK(qlb_hsm_feed(&s, &P, false), " ");
	CHECK(s.health == QLB_HEALTH_DOWN, " ");
	/* more failures change nothing */
	CHECK(feed(&s, &P, "0000") == 0, " ");
	CHECK(s.health == QLB_HEALTH_DOWN, " ");
	/* rise = 2 */
	CHECK(!qlb_hsm_feed(&s, &P, true), " ");
	CHECK(s.health == QLB_HEALTH_DOWN, " ");
	CHECK(qlb_hsm_feed(&s, &P, true), " ");
	CHECK(s.health == QLB_HEALTH_UP, " ");

	/* unknown -> down takes fall failures too */
	memset(&s, 0, sizeof(s));
	CHECK(feed(&s, &P, "00") == 0, " ");
	CHECK(s.health == QLB_HEALTH_UNKNOWN, " ");
	CHECK(feed(&s, &P, "0") == 1, " ");
	CHECK(s.health == QLB_HEALTH_DOWN, " ");

	/* rise 1 / fall 1: every result counts */
	{
		struct qlb_health_params p1 = P;

		p1.rise = p1.fall = 1;
		memset(&s, 0, sizeof(s));
		CHECK(feed(&s, &p1, "1010") == 4, " ");
		CHECK(s.health == QLB_HEALTH_DOWN, " ");
	}
}

static void test_hysteresis(void)
{
	struct qlb_hsm s = {0};
	int i;

	/* a host that answers every other probe: once up it stays up, once
	 * down it stays down; the tables never move on its account */
	CHECK(feed(&s, &P, "1") == 1, " ");
	for (i = 0; i < 100; i++)
		CHECK(feed(&s, &P, "01") == 0, " ");
	CHECK(s.health == QLB_HEALTH_UP, " ");
	CHECK(feed(&s, &P, "000") == 1, " ");
	for (i = 0; i < 100; i++)
		CHECK(feed(&s, &P, "10") == 0, " ");
	CHECK(s.health == QLB_HEALTH_DOWN, " ");
	/* "10110110" from down: 11 comes up; "0" twice then never 3 in a
	 * row: stays up */
	memset(&s, 0, sizeof(s));
	s.health = QLB_HEALTH_DOWN;
	CHECK(feed(&s, &P, "1011") == 1, " ");
	CHECK(feed(&s, &P, "00100100") == 0, " ");
	CHECK(s.health == QLB_HEALTH_UP, " ");
}

/* One implicit service over four hosts: a member is a host, as in a file
 * without services: (what the LB node did before services). */
static struct qlb_conf_host hosts[4];
static struct qlb_conf_svc_host members[4];
static struct qlb_conf_service svc1 = {
	.name = "default", .nhosts = 4, .hosts = members};
static struct qlb_config cfg = {
	.nhosts = 4, .hosts = hosts, .nservices = 1, .services = &svc1};

static void set_intent(enum qlb_host_state a, enum qlb_host_state b,
		       enum qlb_host_state c, enum qlb_host_state d)
{
	unsigned int i;

	hosts[0].state = a;
	hosts[1].state = b;
	hosts[2].state = c;
	hosts[3].state = d;
	for (i = 0; i < 4; i++) {
		members[i].host = i;
		members[i].state = hosts[i].state;
	}
}

static void test_effective(void)
{
	enum qlb_host_state eff[4];
	enum qlb_health h[4];
	static const enum qlb_host_state intents[] = {
		QLB_HOST_ACTIVE, QLB_HOST_DRAINING, QLB_HOST_DOWN};
	static const enum qlb_health healths[] = {
		QLB_HEALTH_UNKNOWN, QLB_HEALTH_UP, QLB_HEALTH_DOWN};
	unsigned int i, j;

	for (i = 0; i < 4; i++)
		snprintf(hosts[i].name, sizeof(hosts[i].name), "h%u", i);

	/* intent x health for host 0, with host 1 active and healthy so
	 * that the node never fails open */
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			bool fo;

			set_intent(intents[i], QLB_HOST_ACTIVE, QLB_HOST_DOWN,
				   QLB_HOST_DOWN);
			h[0] = healths[j];
			h[1] = QLB_HEALTH_UP;
			h[2] = h[3] = QLB_HEALTH_UNKNOWN;
			fo = qlb_health_effective(&cfg, h, eff, NULL);
			CHECK(!fo, " ");
			if (healths[j] == QLB_HEALTH_DOWN)
				CHECK(eff[0] == QLB_HOST_DOWN,
				      "intent %u unhealthy -> %u", i, eff[0]);
			else
				CHECK(eff[0] == intents[i],
				      "intent %u health %u -> %u", i, j,
				      eff[0]);
			CHECK(eff[1] == QLB_HOST_ACTIVE, " ");
			CHECK(eff[2] == QLB_HOST_DOWN, " ");
		}
	}
	/* a healthy draining host keeps its CID routing */
	set_intent(QLB_HOST_DRAINING, QLB_HOST_ACTIVE, QLB_HOST_ACTIVE,
		   QLB_HOST_ACTIVE);
	h[0] = h[1] = h[2] = h[3] = QLB_HEALTH_UP;
	CHECK(!qlb_health_effective(&cfg, h, eff, NULL), " ");
	CHECK(eff[0] == QLB_HOST_DRAINING, " ");

	/* one active host unhealthy of three: it leaves, the others stay */
	h[2] = QLB_HEALTH_DOWN;
	CHECK(!qlb_health_effective(&cfg, h, eff, NULL), " ");
	CHECK(eff[2] == QLB_HOST_DOWN && eff[1] == QLB_HOST_ACTIVE &&
		      eff[3] == QLB_HOST_ACTIVE,
	      " ");

	/* fail open: every active host unhealthy -> the intent for all */
	h[1] = h[3] = QLB_HEALTH_DOWN;
	CHECK(qlb_health_effective(&cfg, h, eff, NULL), " ");
	CHECK(eff[0] == QLB_HOST_DRAINING && eff[1] == QLB_HOST_ACTIVE &&
		      eff[2] == QLB_HOST_ACTIVE && eff[3] == QLB_HOST_ACTIVE,
	      " ");
	/* ... even when a draining host is healthy: new connections would
	 * otherwise have nowhere to go */
	h[0] = QLB_HEALTH_UP;
	CHECK(qlb_health_effective(&cfg, h, eff, NULL), " ");
	/* one active host back: no longer open */
	h[3] = QLB_HEALTH_UP;
	CHECK(!qlb_health_effective(&cfg, h, eff, NULL), " ");
	CHECK(eff[1] == QLB_HOST_DOWN && eff[2] == QLB_HOST_DOWN &&
		      eff[3] == QLB_HOST_ACTIVE,
	      " ");
	/* no active host in the file at all: nothing to fail open for */
	set_intent(QLB_HOST_DOWN, QLB_HOST_DRAINING, QLB_HOST_DOWN,
		   QLB_HOST_DOWN);
	h[1] = QLB_HEALTH_DOWN;
	CHECK(!qlb_health_effective(&cfg, h, eff, NULL), " ");
	CHECK(eff[1] == QLB_HOST_DOWN, " ");
	/* unknown counts as healthy: a node that just started does not
	 * fail open nor take hosts out */
	set_intent(QLB_HOST_ACTIVE, QLB_HOST_ACTIVE, QLB_HOST_ACTIVE,
		   QLB_HOST_ACTIVE);
	h[0] = h[1] = h[2] = h[3] = QLB_HEALTH_UNKNOWN;
	CHECK(!qlb_health_effective(&cfg, h, eff, NULL), " ");
	for (i = 0; i < 4; i++)
		CHECK(eff[i] == QLB_HOST_ACTIVE, " ");
}

/*
 * Two services on three hosts, "web" = {w1, both} and "api" = {both, a1}:
 * members web/w1 0, web/both 1, api/both 2, api/a1 3.
 */
static struct qlb_conf_host h3[3];
static struct qlb_conf_svc_host web_m[2], api_m[2];
static struct qlb_conf_service svc2[2];
static struct qlb_config cfg2;

static void two_services(void)
{
	static const char *const names[] = {"w1", "both", "a1"};
	struct qlb_conf_vip *vips2 = cfg2.lb.vips;
	unsigned int i;

	memset(&cfg2, 0, sizeof(cfg2));
	memset(svc2, 0, sizeof(svc2));
	for (i = 0; i < 3; i++) {
		memset(&h3[i], 0, sizeof(h3[i]));
		snprintf(h3[i].name, sizeof(h3[i].name), "%s", names[i]);
		h3[i].state = QLB_HOST_ACTIVE;
	}
	snprintf(svc2[0].name, sizeof(svc2[0].name), "web");
	snprintf(svc2[1].name, sizeof(svc2[1].name), "api");
	web_m[0] = (struct qlb_conf_svc_host){.host = 0};
	web_m[1] = (struct qlb_conf_svc_host){.host = 1};
	api_m[0] = (struct qlb_conf_svc_host){.host = 1};
	api_m[1] = (struct qlb_conf_svc_host){.host = 2};
	svc2[0].hosts = web_m;
	svc2[0].nhosts = 2;
	svc2[0].member_first = 0;
	svc2[1].hosts = api_m;
	svc2[1].nhosts = 2;
	svc2[1].member_first = 2;
	/* web: 198.18.1.1:443 and [2001:db8:1::1]:443; api:
	 * 198.18.1.1:8443 (the same address as web's, another port) */
	for (i = 0; i < 3; i++)
		vips2[i].addr.family = i == 1 ? AF_INET6 : AF_INET;
	inet_pton(AF_INET, "198.18.1.1", &vips2[0].addr.v4);
	inet_pton(AF_INET6, "2001:db8:1::1", &vips2[1].addr.v6);
	inet_pton(AF_INET, "198.18.1.1", &vips2[2].addr.v4);
	vips2[0].port = vips2[1].port = 443;
	vips2[2].port = 8443;
	vips2[2].service = 1;
	svc2[0].vip_first = 0;
	svc2[0].nvips = 2;
	svc2[1].vip_first = 2;
	svc2[1].nvips = 1;
	cfg2.nhosts = 3;
	cfg2.hosts = h3;
	cfg2.nservices = 2;
	cfg2.services = svc2;
	cfg2.lb.nvips = 3;
	for (i = 0; i < 2; i++)
		web_m[i].state = api_m[i].state = QLB_HOST_ACTIVE;
}

static void test_services(void)
{
	enum qlb_host_state eff[4];
	enum qlb_health h[4];
	unsigned int s, j;
	bool fo[2];

	two_services();
	CHECK(qlb_health_nmembers(&cfg2) == 4, "%u",
	      qlb_health_nmembers(&cfg2));
	CHECK(!qlb_health_member(&cfg2, 2, &s, &j) && s == 1 && j == 0, " ");
	CHECK(!qlb_health_member(&cfg2, 1, &s, &j) && s == 0 && j == 1, " ");
	CHECK(qlb_health_member(&cfg2, 4, &s, &j) == -1, " ");
	CHECK(qlb_health_nmembers(&cfg) == 4, " ");

	/* "both" unhealthy for api only: out of api's tables, in web's */
	h[0] = h[1] = h[3] = QLB_HEALTH_UP;
	h[2] = QLB_HEALTH_DOWN;
	CHECK(!qlb_health_effective(&cfg2, h, eff, fo), " ");
	CHECK(!fo[0] && !fo[1], " ");
	CHECK(eff[1] == QLB_HOST_ACTIVE, "web/both %u", eff[1]);
	CHECK(eff[2] == QLB_HOST_DOWN, "api/both %u", eff[2]);
	CHECK(eff[0] == QLB_HOST_ACTIVE && eff[3] == QLB_HOST_ACTIVE, " ");
	/* a reader of hosts[].state: kept while a service keeps it */
	CHECK(qlb_health_host_state(&cfg2, eff, 1) == QLB_HOST_ACTIVE, " ");

	/* every api member unhealthy: api fails open, web does not */
	h[3] = QLB_HEALTH_DOWN;
	CHECK(qlb_health_effective(&cfg2, h, eff, fo), " ");
	CHECK(!fo[0] && fo[1], " ");
	CHECK(eff[2] == QLB_HOST_ACTIVE && eff[3] == QLB_HOST_ACTIVE,
	      "api failing open keeps the intent");
	CHECK(eff[0] == QLB_HOST_ACTIVE && eff[1] == QLB_HOST_ACTIVE, " ");

	/* web/w1 down too: web keeps "both", api still open */
	h[0] = QLB_HEALTH_DOWN;
	CHECK(qlb_health_effective(&cfg2, h, eff, fo), " ");
	CHECK(!fo[0] && fo[1], " ");
	CHECK(eff[0] == QLB_HOST_DOWN && eff[1] == QLB_HOST_ACTIVE, " ");
	CHECK(qlb_health_host_state(&cfg2, eff, 0) == QLB_HOST_DOWN,
	      "w1 down in its only service");

	/* api back, web's "both" gone: "both" down in both services */
	h[3] = QLB_HEALTH_UP;
	h[1] = QLB_HEALTH_DOWN;
	h[0] = QLB_HEALTH_UP;
	CHECK(!qlb_health_effective(&cfg2, h, eff, fo), " ");
	CHECK(!fo[0] && !fo[1], " ");
	CHECK(eff[1] == QLB_HOST_DOWN && eff[2] == QLB_HOST_DOWN, " ");
	CHECK(qlb_health_host_state(&cfg2, eff, 1) == QLB_HOST_DOWN, " ");
	CHECK(qlb_health_host_state(&cfg2, eff, 2) == QLB_HOST_ACTIVE, " ");

	/* the intent is per member: api has "both" draining, web active */
	api_m[0].state = QLB_HOST_DRAINING;
	h[0] = h[1] = h[2] = h[3] = QLB_HEALTH_UP;
	CHECK(!qlb_health_effective(&cfg2, h, eff, fo), " ");
	CHECK(eff[1] == QLB_HOST_ACTIVE && eff[2] == QLB_HOST_DRAINING, " ");
	/* api's only active member down: api fails open (its draining
	 * member does not take new connections) */
	h[3] = QLB_HEALTH_DOWN;
	CHECK(qlb_health_effective(&cfg2, h, eff, fo), " ");
	CHECK(!fo[0] && fo[1], " ");
	CHECK(eff[3] == QLB_HOST_ACTIVE && eff[2] == QLB_HOST_DRAINING, " ");
}

static void test_service_of(void)
{
	struct qlb_addr any = {0}, v4 = {.family = AF_INET},
			v6 = {.family = AF_INET6}, other = {.family = AF_INET};
	uint32_t web = qlb_hp_service_tag("web"),
		 api = qlb_hp_service_tag("api");

	two_services();
	inet_pton(AF_INET, "198.18.1.1", &v4.v4);
	inet_pton(AF_INET6, "2001:db8:1::1", &v6.v6);
	inet_pton(AF_INET, "198.18.9.9", &other.v4);
	CHECK(web != api && web && api, " ");
	CHECK(qlb_hp_service_tag("") == 2166136261u, "FNV-1a offset basis");
	/* the probe names its service: that one, whatever the address */
	CHECK(qlb_hp_service_of(&cfg2, QLB_HP_F_SERVICE, api, &v4) == 1, " ");
	CHECK(qlb_hp_service_of(&cfg2, QLB_HP_F_SERVICE, web, &v4) == 0, " ");
	CHECK(qlb_hp_service_of(&cfg2, QLB_HP_F_SERVICE, web, &any) == 0, " ");
	/* an LB node of before services: by the address when it names one
	 * service; 198.18.1.1 is web's and api's: every group */
	CHECK(qlb_hp_service_of(&cfg2, 0, 0, &v6) == 0, " ");
	CHECK(qlb_hp_service_of(&cfg2, 0, 0, &v4) == -1, " ");
	CHECK(qlb_hp_service_of(&cfg2, 0, 0, &other) == -1, " ");
	CHECK(qlb_hp_service_of(&cfg2, 0, 0, &any) == -1, " ");
	/* a tag without the flag is not a service */
	CHECK(qlb_hp_service_of(&cfg2, 0, api, &v6) == 0, " ");
	/* a service this file lacks: the address, else every group */
	CHECK(qlb_hp_service_of(&cfg2, QLB_HP_F_SERVICE,
				qlb_hp_service_tag("mail"), &v6) == 0,
	      " ");
	CHECK(qlb_hp_service_of(&cfg2, QLB_HP_F_SERVICE,
				qlb_hp_service_tag("mail"), &v4) == -1,
	      " ");
	/* a file of one service: every group, whatever the probe names */
	set_intent(QLB_HOST_ACTIVE, QLB_HOST_ACTIVE, QLB_HOST_ACTIVE,
		   QLB_HOST_ACTIVE);
	CHECK(qlb_hp_service_of(&cfg, QLB_HP_F_SERVICE, web, &v4) == -1, " ");
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t sum16(const uint8_t *b, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static void test_packet(void)
{
	struct qlb_addr s4 = {.family = AF_INET}, d4 = {.family = AF_INET};
	struct qlb_addr s6 = {.family = AF_INET6}, d6 = {.family = AF_INET6};
	struct qlb_hp_msg m = {0};
	uint8_t buf[256];
	size_t n;
	uint32_t ps;

	inet_pton(AF_INET, "198.18.11.2", &s4.v4);
	inet_pton(AF_INET, "198.18.100.1", &d4.v4);
	inet_pton(AF_INET6, "2001:db8:11::2", &s6.v6);
	inet_pton(AF_INET6, "2001:db8:100::1", &d6.v6);
	m.magic = htonl(QLB_HP_MAGIC);
	m.version = QLB_HP_VERSION;
	m.type = QLB_HP_PROBE;
	memset(m.nonce, 0xa5, sizeof(m.nonce));
	snprintf(m.host, sizeof(m.host), "h1");

	n = qlb_probe_build(buf, sizeof(buf), &s4, 40000, &d4, 6070, &m);
	CHECK(n == 20 + 8 + sizeof(m), "%zu", n);
	CHECK(buf[0] == 0x45 && buf[9] == IPPROTO_UDP, " ");
	CHECK(fold(sum16(buf, 20)) == 0xffff, "IPv4 header checksum");
	CHECK(buf[22] == 6070 >> 8 && buf[23] == (6070 & 0xff), " ");
	ps = sum16(buf + 12, 8) + IPPROTO_UDP + (uint32_t)(n - 20);
	CHECK(fold(ps + sum16(buf + 20, n - 20)) == 0xffff, "UDP checksum");
	CHECK(!memcmp(buf + 28, &m, sizeof(m)), " ");

	n = qlb_probe_build(buf, sizeof(buf), &s6, 40001, &d6, 6070, &m);
	CHECK(n == 40 + 8 + sizeof(m), "%zu", n);
	CHECK(buf[0] >> 4 == 6 && buf[6] == IPPROTO_UDP, " ");
	ps = sum16(buf + 8, 32) + IPPROTO_UDP + (uint32_t)(n - 40);
	CHECK(fold(ps + sum16(buf + 40, n - 40)) == 0xffff,
	      "UDP checksum over IPv6");

	/* families must agree; the buffer must hold it */
	CHECK(qlb_probe_build(buf, sizeof(buf), &s4, 1, &d6, 2, &m) == 0, " ");
	CHECK(qlb_probe_build(buf, 100, &s4, 1, &d4, 2, &m) == 0, " ");
}

/* The prober on loopback: the LB node's encap source 127.0.0.1, hosts
 * 127.0.0.2 and .3 (GUE to a port of this test's socket): cfg2's members
 * web/w1, web/both, api/both (api/a1 is .4, not probed here: no answer). */
static int gue_sock(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &l))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* One probe off @fd (the inner packet of GUE): its message and inner
 * destination. 0, or -1 when none came within 1 s. */
static int take_probe(int fd, struct qlb_hp_msg *m, struct in_addr *dst)
{
	uint8_t b[512];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 1000) != 1)
		return -1;
	n = recv(fd, b, sizeof(b), 0);
	if (n != 20 + 8 + (ssize_t)sizeof(*m) || b[0] != 0x45)
		return -1;
	memcpy(dst, b + 16, 4);
	memcpy(m, b + 28, sizeof(*m));
	return 0;
}

static void answer(int fd, uint16_t to, const struct qlb_hp_msg *probe,
		   unsigned int status, unsigned int flags)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(to)};
	struct qlb_hp_msg m = *probe;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m.type = QLB_HP_ANSWER;
	m.status = (uint8_t)status;
	m.flags = (uint8_t)flags;
	sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&a, sizeof(a));
}

static void test_prober(void)
{
	struct qlb_health_params p = P;
	struct qlb_prober *pr, *pr2;
	struct qlb_hp_msg got[4], forged;
	struct in_addr dst[4];
	struct sockaddr_in pa;
	socklen_t pl = sizeof(pa);
	uint64_t now = 1000000000000ull, next = 0;
	enum qlb_health h[4];
	enum qlb_host_state eff[4];
	unsigned int i, k, n = 0, m;
	uint16_t gport, pport;
	char err[256] = "";
	bool fo[2];
	int gfd, pfd;

	two_services();
	gfd = gue_sock(&gport);
	CHECK(gfd >= 0, "test socket");
	if (gfd < 0)
		return;
	cfg2.lb.gue_port = gport;
	cfg2.lb.encap_source_v4.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &cfg2.lb.encap_source_v4.v4);
	for (i = 0; i < 3; i++) {
		h3[i].address.family = AF_INET;
		h3[i].address.v4.s_addr = htonl(INADDR_LOOPBACK + 2 + i);
		h3[i].encap = QLB_ENCAP_GUE;
	}
	/* probes at 0, 25, 50, 75 ms; answered at 101 ms, within 99 */
	p.interval_ms = 100;
	p.timeout_ms = 99;
	p.rise = p.fall = 1;
	pr = qlb_prober_new(&cfg2, &p, err, sizeof(err));
	CHECK(pr, "%s", err);
	if (!pr) {
		close(gfd);
		return;
	}
	CHECK(qlb_prober_interval_ms(pr) == 100, " ");
	for (m = 0; m < 4; m++)
		CHECK(qlb_prober_can_probe(pr, m), "member %u", m);
	CHECK(qlb_prober_fds(pr, &pfd, 1) == 1, " ");
	getsockname(pfd, (struct sockaddr *)&pa, &pl);
	pport = ntohs(pa.sin_port);

	/* one interval: each member probed once, spread over it */
	for (k = 0; k < 10; k++, now += 10000000ull)
		qlb_prober_run(pr, -1, now, &next);
	for (m = 0; m < 4; m++)
		CHECK(qlb_prober_member(pr, m)->sent == 1,
		      "member %u sent %llu", m,
		      (unsigned long long)qlb_prober_member(pr, m)->sent);
	while (n < 4 && !take_probe(gfd, &got[n], &dst[n]))
		n++;
	CHECK(n == 4, "%u probes", n);
	for (k = 0; k < n; k++) {
		const char *svc =
			ntohl(got[k].service) == qlb_hp_service_tag("web")
				? "web"
			: ntohl(got[k].service) == qlb_hp_service_tag("api")
				? "api"
				: "?";
		char d[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &dst[k], d, sizeof(d));
		CHECK(got[k].flags == QLB_HP_F_SERVICE, " ");
		CHECK(got[k].type == QLB_HP_PROBE &&
			      got[k].version == QLB_HP_VERSION,
		      " ");
		/* to a VIP of its own service: web's 198.18.1.1:443 and
		 * api's 198.18.1.1:8443 share the address */
		CHECK(!strcmp(d, "198.18.1.1"), "%s %s", svc, d);
		CHECK(strcmp(svc, "?"), "tag %08x", ntohl(got[k].service));
		CHECK(strcmp(svc, "web") || strcmp(got[k].host, "a1"), " ");
		CHECK(strcmp(svc, "api") || strcmp(got[k].host, "w1"), " ");
	}
	/* answers: web's two ok, api/both's groups down, api/a1 silent */
	for (k = 0; k < n; k++) {
		bool api = ntohl(got[k].service) == qlb_hp_service_tag("api");

		if (api && !strcmp(got[k].host, "a1"))
			continue;
		if (!api && !strcmp(got[k].host, "w1")) {
			/* first a forged answer: the member's index, the
			 * rest of the nonce wrong: it counts for nothing */
			forged = got[k];
			forged.nonce[15] ^= 1;
			answer(gfd, pport, &forged, QLB_HP_GROUP_DOWN, 0);
		}
		answer(gfd, pport, &got[k], api ? QLB_HP_GROUP_DOWN : QLB_HP_OK,
		       QLB_HP_F_SERVICE | QLB_HP_F_SERVICE_CHECKED);
	}
	usleep(100000);
	now += 1000000ull;
	CHECK(qlb_prober_run(pr, pfd, now, &next), "health changed");
	CHECK(qlb_prober_member(pr, 0)->sm.health == QLB_HEALTH_UP, " ");
	CHECK(qlb_prober_member(pr, 1)->sm.health == QLB_HEALTH_UP, " ");
	CHECK(qlb_prober_member(pr, 2)->sm.health == QLB_HEALTH_DOWN, " ");
	CHECK(qlb_prober_member(pr, 2)->last_status == QLB_HP_GROUP_DOWN, " ");
	CHECK(qlb_prober_member(pr, 0)->last_flags & QLB_HP_F_SERVICE_CHECKED,
	      " ");
	CHECK(qlb_prober_member(pr, 0)->failed == 0, "the forged answer");
	/* api/a1 (sent at 75 ms): no answer: a timeout at 174 ms */
	now += 80000000ull;
	qlb_prober_run(pr, -1, now, &next);
	CHECK(qlb_prober_member(pr, 3)->last_status == QLB_HP_TIMEOUT, "%u",
	      qlb_prober_member(pr, 3)->last_status);
	CHECK(qlb_prober_member(pr, 3)->sm.health == QLB_HEALTH_DOWN, " ");
	for (m = 0; m < 4; m++)
		h[m] = qlb_prober_member(pr, m)->sm.health;
	CHECK(qlb_health_effective(&cfg2, h, eff, fo), " ");
	CHECK(!fo[0] && fo[1], "api fails open, web does not");

	/* a reload keeps each member's machine by service and host name */
	pr2 = qlb_prober_new(&cfg2, &p, err, sizeof(err));
	CHECK(pr2, "%s", err);
	if (pr2) {
		qlb_prober_adopt(pr2, pr);
		for (m = 0; m < 4; m++)
			CHECK(qlb_prober_member(pr2, m)->sm.health == h[m],
			      "member %u", m);
		qlb_prober_free(pr2);
	}
	qlb_prober_free(pr);
	while (!take_probe(gfd, &got[0], &dst[0]))
		; /* drain */
	close(gfd);
}

/* The probe rate cap: more members than QLB_HP_MAX_RATE x interval. */
static void test_rate_cap(void)
{
	static struct qlb_conf_host many_h[600];
	static struct qlb_conf_svc_host many_m[600];
	static struct qlb_conf_service one;
	static struct qlb_config c;
	struct qlb_health_params p = P;
	struct qlb_prober *pr;
	char err[256] = "";
	unsigned int i;

	for (i = 0; i < 600; i++) {
		snprintf(many_h[i].name, sizeof(many_h[i].name), "h%u", i);
		many_h[i].address.family = AF_INET;
		many_h[i].address.v4.s_addr = htonl(INADDR_LOOPBACK + 2);
		many_m[i].host = i;
	}
	snprintf(one.name, sizeof(one.name), "default");
	one.hosts = many_m;
	one.nhosts = 600;
	c.hosts = many_h;
	c.nhosts = 600;
	c.services = &one;
	c.nservices = 1;
	p.interval_ms = 100; /* 600 members: 6000 a second, over the cap */
	pr = qlb_prober_new(&c, &p, err, sizeof(err));
	CHECK(pr, "%s", err);
	if (!pr)
		return;
	CHECK(qlb_prober_interval_ms(pr) == 600 * 1000 / QLB_HP_MAX_RATE, "%u",
	      qlb_prober_interval_ms(pr));
	qlb_prober_free(pr);
	p.interval_ms = 200; /* 3000 a second: as configured */
	pr = qlb_prober_new(&c, &p, err, sizeof(err));
	CHECK(pr && qlb_prober_interval_ms(pr) == 200, " ");
	qlb_prober_free(pr);
}

int main(void)
{
	test_rise_fall();
	test_hysteresis();
	test_effective();
	test_services();
	test_service_of();
	test_packet();
	test_prober();
	test_rate_cap();
	return t_done("test_health");
}
