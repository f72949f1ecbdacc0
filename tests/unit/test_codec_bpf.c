// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The codec compiled for BPF agrees with the user-space build: the draft's
 * vectors and random round trips run through tests/bpf/qlb_codec_test.bpf.c
 * with BPF_PROG_TEST_RUN (the verifier must accept plaintext, single-pass
 * and four-pass paths to get this far). Prints the in-kernel cost too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "qlb/libqlb.h"
#include "../bpf/qlb_codec_test.h"
#include "qlb_codec_test.skel.h"
#include "t.h"
#include "codec_ref.h"

#define CHECKQ(cond) CHECK(cond, "%s", "")

static struct qlb_codec_test *skel;
static int prog_fd, map_fd;

static int set_cfg(const struct qlb_cid_cfg *c)
{
	__u32 k = 0;

	return bpf_map_update_elem(map_fd, &k, c, BPF_ANY);
}

/* Run the program once (or @repeat times); the packet is rewritten in place. */
static int run(struct qlb_codec_test_pkt *pk, __u32 repeat, __u32 *ns)
{
	struct qlb_codec_test_pkt out;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk,
		    .data_size_in = sizeof(*pk), .data_out = &out,
		    .data_size_out = sizeof(out), .repeat = repeat);
	int err = bpf_prog_test_run_opts(prog_fd, &o);

	if (err)
		return err;
	if (o.retval != XDP_TX || o.data_size_out != sizeof(out))
		return -EPROTO;
	*pk = out;
	if (ns)
		*ns = o.duration;
	return 0;
}

static void test_vectors(void)
{
	size_t v;

	for (v = 0; v < NVECS; v++) {
		const struct vec *t = &vecs[v];
		struct qlb_codec_test_pkt pk;
		uint8_t key[16], sid[16] = {0}, nonce[20] = {0}, want[20];
		struct qlb_cid_cfg c;
		size_t wl;

		if (t->key)
			unhex(t->key, key);
		unhex(t->sid, sid);
		unhex(t->nonce, nonce);
		wl = unhex(t->cid, want);
		qlb_cid_cfg_init(&c, t->cr, t->sid_len, t->nonce_len,
				 t->key ? key : NULL, true, 0);
		CHECK(set_cfg(&c) == 0, "map update: %s", strerror(errno));

		memset(&pk, 0x5a, sizeof(pk)); /* junk past the CID too */
		memcpy(pk.cid, want, wl);
		pk.op = QLB_CT_DECODE;
		CHECK(run(&pk, 1, NULL) == 0, "vector %zu: test run", v);
		CHECK(pk.ret == 0 && !memcmp(pk.sid, sid, 15) &&
			      !memcmp(pk.nonce, nonce, 18),
		      "vector %zu: BPF decode", v);

		memset(&pk, 0x5a, sizeof(pk));
		memcpy(pk.cid, want, wl);
		pk.op = QLB_CT_DECODE_SID;
		CHECK(run(&pk, 1, NULL) == 0, "vector %zu: test run", v);
		CHECK(pk.ret == 0 && !memcmp(pk.sid, sid, 15),
		      "vector %zu: BPF decode_sid", v);

		memset(&pk, 0, sizeof(pk));
		memcpy(pk.sid, sid, 15);
		memcpy(pk.nonce, nonce, 18);
		pk.op = QLB_CT_ENCODE;
		CHECK(run(&pk, 1, NULL) == 0, "vector %zu: test run", v);
		CHECK(pk.ret == (int)wl && !memcmp(pk.cid, want, wl),
		      "vector %zu: BPF encode", v);
	}
}

static void test_random(void)
{
	unsigned int sl, nl, mode, iter, runs = 0;
	int bad = 0, err = 0;

	for (sl = QLB_SID_MIN_LEN; sl <= QLB_SID_MAX_LEN; sl++)
		for (nl = QLB_NONCE_MIN_LEN; sl + nl <= QLB_PT_MAX_LEN; nl++)
			for (mode = 0; mode < 4; mode++) {
				uint8_t key[16];
				unsigned int wb = (unsigned int)(rnd() % 17);
				struct qlb_cid_cfg c;

				if (wb >= 8 * sl)
					wb = 8 * sl - 1;
				rnd_bytes(key, sizeof(key));
				qlb_cid_cfg_init(
					&c, (unsigned int)(rnd() % 7), sl, nl,
					(mode & 1) ? key : NULL, mode & 2, wb);
				if (set_cfg(&c)) {
					err++;
					continue;
				}
				for (iter = 0; iter < 8; iter++, runs++) {
					struct qlb_codec_test_pkt pk;
					uint8_t sid[16] = {0}, nonce[20] = {0},
						cid[20], s[16] = {0};
					uint8_t n[20] = {0},
						low5 = (uint8_t)rnd();
					int len;

					rnd_bytes(sid, sl);
					rnd_bytes(nonce, nl);
					len = qlb_cid_encode(&c, sid, nonce,
							     low5, cid);

					/* encode in BPF = encode in user
					 * space */
					memset(&pk, 0, sizeof(pk));
					memcpy(pk.sid, sid, 15);
					memcpy(pk.nonce, nonce, 18);
					pk.low5 = low5;
					pk.op = QLB_CT_ENCODE;
					err += run(&pk, 1, NULL) != 0;
					bad += pk.ret != len ||
					       memcmp(pk.cid, cid,
						      QLB_CID_MAX_LEN);

					/* decode a CID with junk after it, in
					 * both worlds */
					rnd_bytes(cid + len,
						  QLB_CID_MAX_LEN -
							  (size_t)len);
					memset(&pk, 0xa5, sizeof(pk));
					memcpy(pk.cid, cid, sizeof(cid));
					pk.op = QLB_CT_DECODE;
					err += run(&pk, 1, NULL) != 0;
					qlb_cid_decode(&c, cid, s, n);
					bad += pk.ret != 0 ||
					       memcmp(pk.sid, s, 15) ||
					       memcmp(pk.nonce, n, 18) ||
					       memcmp(s, sid, 15) ||
					       memcmp(n, nonce, 18);

					memset(&pk, 0xa5, sizeof(pk));
					memcpy(pk.cid, cid, sizeof(cid));
					pk.op = QLB_CT_DECODE_SID;
					err += run(&pk, 1, NULL) != 0;
					bad += pk.ret != 0 ||
					       memcmp(pk.sid, sid, 15);

					/* worker bits and host part, of this
					 * server ID and of a random 15 bytes
					 * (bytes past sid_len must stay as they
					 * were) */
					memcpy(s, sid, 16);
					qlb_sid_host_part(&c, s);
					memset(&pk, 0xa5, sizeof(pk));
					memcpy(pk.cid, cid, sizeof(cid));
					pk.op = QLB_CT_ROUTE;
					err += run(&pk, 1, NULL) != 0;
					bad += pk.ret != 0 ||
					       pk.worker != qlb_sid_worker(
								    &c, sid) ||
					       memcmp(pk.host_sid, s, 15);
					memset(&pk, 0, sizeof(pk));
					rnd_bytes(pk.sid, 15);
					memcpy(s, pk.sid, 16);
					pk.op = QLB_CT_SID_PARTS;
					err += run(&pk, 1, NULL) != 0;
					bad += pk.worker !=
					       qlb_sid_worker(&c, s);
					qlb_sid_host_part(&c, s);
					bad += memcmp(pk.host_sid, s, 15) != 0;
				}
			}
	CHECK(err == 0, "%d test runs failed", err);
	CHECK(bad == 0,
	      "%d of %u random CIDs differ between BPF and user space", bad,
	      runs);
}

/* AES in BPF against OpenSSL, both directions, random keys and blocks */
static void test_aes(void)
{
	int i, bad = 0, err = 0;

	for (i = 0; i < 300; i++) {
		struct qlb_codec_test_pkt pk = {0};
		uint8_t key[16], in[16], ref[16];
		struct qlb_cid_cfg c;

		rnd_bytes(key, 16);
		rnd_bytes(in, 16);
		qlb_cid_cfg_init(&c, 0, 8, 8, key, true, 0);
		err += set_cfg(&c) != 0;
		memcpy(pk.cid, in, 16);
		pk.op = (i & 1) ? QLB_CT_AES_DEC : QLB_CT_AES_ENC;
		err += run(&pk, 1, NULL) != 0;
		ref_aes(key, in, ref, !(i & 1));
		bad += memcmp(pk.cid, ref, 16) != 0;
	}
	CHECK(err == 0, "%d AES test runs failed", err);
	CHECK(bad == 0, "%d of 300 AES blocks in BPF differ from OpenSSL", bad);
}

/* A corrupt config in the map: the codec refuses it, zeroes its output */
static void test_bad_config(void)
{
	static const __u8 bad[][3] = {{0, 4, 0}, {16, 4, 0},  {255, 255, 0},
				      {3, 3, 0}, {10, 10, 0}, {2, 6, 200}};
	unsigned int i;
	int bad_runs = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct qlb_codec_test_pkt pk;
		struct qlb_cid_cfg c;
		uint8_t key[16] = {7}, zero[16] = {0};

		qlb_cid_cfg_init(&c, 1, 2, 6, key, true, 0);
		c.sid_len = bad[i][0];
		c.nonce_len = bad[i][1];
		c.worker_bits = bad[i][2];
		set_cfg(&c);
		memset(&pk, 0x5a, sizeof(pk));
		pk.op = QLB_CT_DECODE_SID;
		bad_runs += run(&pk, 1, NULL) != 0 || pk.ret != -1 ||
			    memcmp(pk.sid, zero, 15) != 0;
		memset(&pk, 0x5a, sizeof(pk));
		pk.op = QLB_CT_ENCODE;
		bad_runs += run(&pk, 1, NULL) != 0 || pk.ret != -1;
		pk.op = QLB_CT_SID_PARTS; /* must not fault either */
		bad_runs += run(&pk, 1, NULL) != 0;
	}
	CHECK(bad_runs == 0, "%d corrupt-config runs misbehaved", bad_runs);
}

/* In-kernel cost per call, beside the same program doing nothing. */
static void print_cost(void)
{
	static const struct {
		const char *name;
		unsigned int sl, nl;
		bool key;
	} m[] = {
		{"plaintext 2+6", 2, 6, false},
		{"single-pass 8+8", 8, 8, true},
		{"four-pass 2+6 (3 AES)", 2, 6, true},
		{"four-pass 10+5 (4 AES)", 10, 5, true},
		{"four-pass 9+9 (3 AES)", 9, 9, true},
	};
	uint8_t key[16], sid[16] = {0x0a, 0x1f}, nonce[20] = {1, 2, 3, 4};
	unsigned int i;

	rnd_bytes(key, 16);
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct qlb_codec_test_pkt pk = {0};
		struct qlb_cid_cfg c;
		__u32 dec = 0, nop = 0;

		qlb_cid_cfg_init(&c, 1, m[i].sl, m[i].nl, m[i].key ? key : NULL,
				 true, 4);
		set_cfg(&c);
		qlb_cid_encode(&c, sid, nonce, 0, pk.cid);
		pk.op = QLB_CT_NOP;
		run(&pk, 200000, &nop);
		pk.op = QLB_CT_DECODE_SID;
		run(&pk, 200000, &dec);
		printf("bpf decode_sid %-24s %4u ns/packet (empty run %u ns)\n",
		       m[i].name, dec, nop);
		if (i == 0) {
			pk.op = QLB_CT_SID_PARTS;
			run(&pk, 200000, &dec);
			printf("bpf worker + host part %-16s %4u ns/packet\n",
			       "", dec);
		}
	}
}

int main(void)
{
	const char *seed = getenv("QLB_SEED");
	uint64_t s = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);

	rng_state ^= s;
	printf("QLB_SEED=%llu\n", (unsigned long long)s);
	skel = qlb_codec_test__open_and_load();
	if (!skel) {
		fprintf(stderr,
			"cannot load qlb_codec_test.bpf.o: %s (root? verifier "
			"log with libbpf debug)\n",
			strerror(errno));
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.qlb_codec_test);
	map_fd = bpf_map__fd(skel->maps.qlb_codec_test_cfg);
	test_vectors();
	test_random();
	test_aes();
	test_bad_config();
	print_cost();
	qlb_codec_test__destroy(skel);
	return t_done("test_codec_bpf");
}
