// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's health state machine (rise/fall, hysteresis), the
 * effective host states (intent x health, fail-open) and the probe packet
 * builder (ctl/health.c).
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "t.h"
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

static struct qlb_conf_host hosts[4];
static struct qlb_config cfg = {.nhosts = 4, .hosts = hosts};

static void set_intent(enum qlb_host_state a, enum qlb_host_state b,
		       enum qlb_host_state c, enum qlb_host_state d)
{
	hosts[0].state = a;
	hosts[1].state = b;
	hosts[2].state = c;
	hosts[3].state = d;
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
			fo = qlb_health_effective(&cfg, h, eff);
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
	CHECK(!qlb_health_effective(&cfg, h, eff), " ");
	CHECK(eff[0] == QLB_HOST_DRAINING, " ");

	/* one active host unhealthy of three: it leaves, the others stay */
	h[2] = QLB_HEALTH_DOWN;
	CHECK(!qlb_health_effective(&cfg, h, eff), " ");
	CHECK(eff[2] == QLB_HOST_DOWN && eff[1] == QLB_HOST_ACTIVE &&
		      eff[3] == QLB_HOST_ACTIVE,
	      " ");

	/* fail open: every active host unhealthy -> the intent for all */
	h[1] = h[3] = QLB_HEALTH_DOWN;
	CHECK(qlb_health_effective(&cfg, h, eff), " ");
	CHECK(eff[0] == QLB_HOST_DRAINING && eff[1] == QLB_HOST_ACTIVE &&
		      eff[2] == QLB_HOST_ACTIVE && eff[3] == QLB_HOST_ACTIVE,
	      " ");
	/* ... even when a draining host is healthy: new connections would
	 * otherwise have nowhere to go */
	h[0] = QLB_HEALTH_UP;
	CHECK(qlb_health_effective(&cfg, h, eff), " ");
	/* one active host back: no longer open */
	h[3] = QLB_HEALTH_UP;
	CHECK(!qlb_health_effective(&cfg, h, eff), " ");
	CHECK(eff[1] == QLB_HOST_DOWN && eff[2] == QLB_HOST_DOWN &&
		      eff[3] == QLB_HOST_ACTIVE,
	      " ");
	/* no active host in the file at all: nothing to fail open for */
	set_intent(QLB_HOST_DOWN, QLB_HOST_DRAINING, QLB_HOST_DOWN,
		   QLB_HOST_DOWN);
	h[1] = QLB_HEALTH_DOWN;
	CHECK(!qlb_health_effective(&cfg, h, eff), " ");
	CHECK(eff[1] == QLB_HOST_DOWN, " ");
	/* unknown counts as healthy: a node that just started does not
	 * fail open nor take hosts out */
	set_intent(QLB_HOST_ACTIVE, QLB_HOST_ACTIVE, QLB_HOST_ACTIVE,
		   QLB_HOST_ACTIVE);
	h[0] = h[1] = h[2] = h[3] = QLB_HEALTH_UNKNOWN;
	CHECK(!qlb_health_effective(&cfg, h, eff), " ");
	for (i = 0; i < 4; i++)
		CHECK(eff[i] == QLB_HOST_ACTIVE, " ");
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
	test_packet();
	return t_done("test_health");
}
