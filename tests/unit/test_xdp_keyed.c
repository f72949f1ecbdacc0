// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The LB node's fallback under a fleet hash_secret, and long headers of an
 * unknown QUIC version whose DCID is longer than 20 bytes, through
 * BPF_PROG_TEST_RUN on the trace build (F) and the live build (L), each
 * filled by qlb_lb_fill() from its own copy of the config.
 *
 * Keyed: with a secret the Maglev flow hash is qlb_lb_flow_hash_s() under
 * qlb_lb_flow_seed() of the secret, so the same flows land on other hosts
 * than without it and than under another secret; F and L, two configs
 * with the same secret, agree frame for frame with each other and with
 * the user-space hash. Without a secret: the unkeyed hash, as before.
 */
#include "xdp_lb_fixture.h"

#define NFLOWS 64

static const uint8_t key_a[16] = {0x51, 0x0b, 0x2c, 0x9e, 0x11, 0x22,
				  0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
				  0x99, 0xaa, 0xbb, 0xcc};
static const uint8_t key_b[16] = {0x51, 0x0b, 0x2c, 0x9e, 0x11, 0x22,
				  0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
				  0x99, 0xaa, 0xbb, 0xcd};

/* Apply @key (NULL: no secret) to both builds. */
static void apply_secret(const uint8_t *key)
{
	struct fx *fs[2] = {&F, &L};
	int i;

	for (i = 0; i < 2; i++) {
		fs[i]->cfg.hash_secret.present = key != NULL;
		memset(fs[i]->cfg.hash_secret.key, 0, 16);
		if (key)
			memcpy(fs[i]->cfg.hash_secret.key, key, 16);
		CHECK(fx_fill(fs[i]) == 0, "apply (%s build)",
		      i ? "live" : "trace");
	}
}

static uint32_t seed_of(const uint8_t *key)
{
	__u32 k[4];

	if (!key)
		return QLB_LB_HASH_SEED;
	memcpy(k, key, sizeof(k));
	return qlb_lb_flow_seed(k);
}

/* The settings the program reads now must hold the seed of @key. */
static void check_seed(const uint8_t *key)
{
	struct qlb_lb_settings st;
	struct qlb_lb_ctrl c;
	__u32 zero = 0, slot;

	CHECK(!bpf_map_lookup_elem(F.m.ctrl, &zero, &c), "read qlb_ctrl");
	slot = c.slot & 1;
	CHECK(!bpf_map_lookup_elem(F.m.settings, &slot, &st),
	      "read qlb_settings_v2");
	CHECK(st.flow_seed == seed_of(key), "slot %u flow_seed %08x, want %08x",
	      slot, st.flow_seed, seed_of(key));
}

/* Frame @i of the test flows: Initials over v4 and v6, and TCP SYNs. */
static void flow(struct pkt *k, int i)
{
	static const uint8_t dcid[8] = {0x1c, 0x2d, 0x3e, 0x4f,
					0x50, 0x61, 0x72, 0x83};
	uint8_t q[1300];
	char src[64];
	size_t n;

	if (i % 4 == 3) {
		snprintf(src, sizeof(src), "198.18.7.%d", 1 + i);
		fx_frame(k, -1, src, "198.18.1.1", IPPROTO_TCP,
			 (uint16_t)(40000 + i), 443, q, 0, 0, 0);
		return;
	}
	n = fx_long(q, 0, 1, dcid, sizeof(dcid), 1200);
	if (i % 2) {
		snprintf(src, sizeof(src), "2001:db8:7::%x", 1 + i);
		fx_frame(k, -1, src, "2001:db8:1::1", IPPROTO_UDP,
			 (uint16_t)(50000 + i), 443, q, n, 0, 0);
	} else {
		snprintf(src, sizeof(src), "198.18.7.%d", 1 + i);
		fx_frame(k, -1, src, "198.18.1.1", IPPROTO_UDP,
			 (uint16_t)(50000 + i), 443, q, n, 0, 0);
	}
}

static int host_under(uint32_t seed, const struct pkt *k)
{
	return (int)table[qlb_lb_maglev_index(fx_flow_hash_s(seed, k), 65537)];
}

/*
 * Run every test flow under @key: each must go, frame for frame, to the
 * Maglev host of the flow hash under the key's seed. @hosts gets them.
 */
static void run_flows(const char *what, const uint8_t *key, int *hosts)
{
	uint32_t seed = seed_of(key);
	struct pkt k;
	char name[96];
	int i;

	for (i = 0; i < NFLOWS; i++) {
		flow(&k, i);
		hosts[i] = host_under(seed, &k);
		snprintf(name, sizeof(name), "%s flow %d", what, i);
		expect_tx(name, &k, hosts[i], fx_flow_hash_s(seed, &k),
			  i % 4 == 3 ? QLB_R_FB_TCP : QLB_R_FB_INITIAL);
	}
}

static int differ(const int *a, const int *b)
{
	int i, n = 0;

	for (i = 0; i < NFLOWS; i++)
		n += a[i] != b[i];
	return n;
}

static void keyed(void)
{
	int plain[NFLOWS], ka[NFLOWS], kb[NFLOWS], again[NFLOWS], i, n;
	struct pkt k;

	CHECK(seed_of(key_a) != QLB_LB_HASH_SEED &&
		      seed_of(key_a) != seed_of(key_b),
	      "seeds of the two secrets and none");

	/* no secret: the unkeyed hash of lb_abi.h, as every fixture has */
	check_seed(NULL);
	run_flows("no secret", NULL, plain);
	for (i = 0; i < NFLOWS; i++) {
		flow(&k, i);
		CHECK(plain[i] == fallback_host(&k),
		      "flow %d: unkeyed host %d, fixture's %d", i, plain[i],
		      fallback_host(&k));
	}

	apply_secret(key_a);
	check_seed(key_a);
	run_flows("secret A", key_a, ka);
	/* 4 active hosts: about 3 flows in 4 move; 1 in 4 would be luck */
	n = differ(plain, ka);
	CHECK(n >= NFLOWS / 4, "secret A moved %d of %d flows", n, NFLOWS);

	apply_secret(key_b);
	check_seed(key_b);
	run_flows("secret B", key_b, kb);
	n = differ(ka, kb);
	CHECK(n >= NFLOWS / 4, "secret B moved %d of %d flows from A", n,
	      NFLOWS);

	/* the same secret again: the same hosts (nothing random per apply) */
	apply_secret(key_a);
	run_flows("secret A again", key_a, again);
	CHECK(differ(ka, again) == 0, "secret A twice: %d flows differ",
	      differ(ka, again));

	/* a short header taking the fallback: the established-flow table,
	 * keyed the same */
	{
		uint8_t cid[32], q[256];
		size_t cl = fx_unhex("f7c4605e4504cc4f", cid);
		size_t qn = fx_short(q, cid, cl, 30);
		uint32_t h;

		fx_frame(&k, -1, "198.18.5.13", "198.18.1.1", IPPROTO_UDP,
			 50008, 443, q, qn, 0, 0);
		h = fx_flow_hash_s(seed_of(key_a), &k);
		expect_tx("0b111 under a secret", &k,
			  (int)table_est[qlb_lb_maglev_index(h, 65537)], h,
			  QLB_R_FB_UNROUTABLE);
		apply_secret(NULL);
		expect_tx("0b111 without a secret", &k, fallback_est(&k),
			  fx_flow_hash(&k), QLB_R_FB_UNROUTABLE);
		apply_secret(key_a);
	}

	/* a routable CID ignores the secret */
	{
		uint8_t cid[32], q[256];
		size_t cl = fx_unhex("07c4605e4504cc4f", cid);
		size_t qn = fx_short(q, cid, cl, 40);

		fx_frame(&k, -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000,
			 443, q, qn, 0, 0);
		expect_tx("routable CID under a secret", &k, WEB1,
			  fx_cid_hash(cid, cl), QLB_R_ROUTED_CID);
	}

	apply_secret(NULL);
	check_seed(NULL);
	run_flows("secret removed", NULL, again);
	CHECK(differ(plain, again) == 0, "without the secret again: %d differ",
	      differ(plain, again));
}

/* Long header of @version with a @dlen-byte DCID, @total bytes of QUIC. */
static void long_dcid(struct pkt *k, uint32_t version, size_t dlen,
		      size_t total, uint16_t sport)
{
	uint8_t dcid[255], q[1600];
	size_t i, n;

	for (i = 0; i < dlen; i++)
		dcid[i] = (uint8_t)(0x07 + i); /* starts like a config-0 CID */
	n = fx_long(q, 0, version, dcid, dlen, total);
	fx_frame(k, -1, "198.18.8.1", "198.18.1.1", IPPROTO_UDP, sport, 443, q,
		 n, 0, 0);
}

static void version_negotiation(const uint8_t *key, const char *what)
{
	uint32_t seed = seed_of(key);
	struct pkt k;
	char name[96];
	static const size_t lens[] = {21, 64, 255};
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		long_dcid(&k, 0x1a2a3a4a, lens[i], 1200, (uint16_t)(51000 + i));
		snprintf(name, sizeof(name), "%s: unknown version, DCID %zu",
			 what, lens[i]);
		expect_tx(name, &k, host_under(seed, &k),
			  fx_flow_hash_s(seed, &k), QLB_R_FB_INITIAL);
	}
	/* bounded by the packet: a 255-byte DCID in a 115-byte datagram */
	{
		uint8_t dcid[100] = {0x07}, q[256];
		size_t n = fx_long(q, 0, 0x1a2a3a4a, dcid, sizeof(dcid), 0);

		q[5] = 255;
		fx_frame(&k, -1, "198.18.8.1", "198.18.1.1", IPPROTO_UDP, 51010,
			 443, q, n, 0, 0);
	}
	snprintf(name, sizeof(name), "%s: unknown version, truncated DCID",
		 what);
	expect_verdict(name, &k, XDP_DROP, QLB_R_MALFORMED);

	/* v1 and v2 cap the DCID at 20 bytes: still dropped */
	long_dcid(&k, 0x00000001, 21, 1200, 51020);
	snprintf(name, sizeof(name), "%s: v1, DCID 21", what);
	expect_verdict(name, &k, XDP_DROP, QLB_R_MALFORMED);
	long_dcid(&k, 0x6b3343cf, 21, 1200, 51021);
	snprintf(name, sizeof(name), "%s: v2, DCID 21", what);
	expect_verdict(name, &k, XDP_DROP, QLB_R_MALFORMED);
	long_dcid(&k, 0x00000001, 255, 1200, 51022);
	snprintf(name, sizeof(name), "%s: v1, DCID 255", what);
	expect_verdict(name, &k, XDP_DROP, QLB_R_MALFORMED);
	/* version 0 stays a drop whatever its DCID */
	long_dcid(&k, 0, 64, 1200, 51023);
	snprintf(name, sizeof(name), "%s: version 0, DCID 64", what);
	expect_verdict(name, &k, XDP_DROP, QLB_R_VERSION0);
}

int main(void)
{
	if (lb_fixture_init())
		return 1;
	keyed();
	version_negotiation(NULL, "no secret");
	apply_secret(key_a);
	version_negotiation(key_a, "secret A");
	lb_fixture_fini();
	return t_done("test_xdp_keyed");
}
