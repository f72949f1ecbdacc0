// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's health state machine (rise/fall, hysteresis), the
 * effective member states (intent x health, fail-open per service), the
 * probe packet builder (ctl/health.c) and the service a host's responder
 * answers a probe for (ctl/agent_probe.c).
 */
#include <arpa/inet.h>
#include <stdlib.h>

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

int main(void)
{
	test_rise_fall();
	test_hysteresis();
	test_effective();
	test_services();
	test_service_of();
	test_packet();
	return t_done("test_health");
}
