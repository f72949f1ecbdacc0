// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * QUIC-LB codec cost in user space: encode, decode and decode_sid in ns
 * per CID for plaintext, single-pass and four-pass configs, plus AES-128
 * per block for scale. With root, the same decode_sid inside BPF via
 * BPF_PROG_TEST_RUN on tests/bpf/qlb_codec_test.bpf.c, beside the same
 * program doing nothing. Prints figures; never fails on a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "qlb/libqlb.h"
#include "../tests/bpf/qlb_codec_test.h"
#include "qlb_codec_test.skel.h"

#define N     400000 /* per try */
#define TRIES 7	     /* the machine is shared: report the fastest try */

/* ns per iteration of BODY: the fastest of TRIES runs of N iterations */
#define TIME_MIN(res, BODY)                                                    \
	do {                                                                   \
		double best_ = 1e30;                                           \
		for (int try_ = 0; try_ < TRIES; try_++) {                     \
			double t0_ = now_ns();                                 \
			for (unsigned int i = 0; i < N; i++) {                 \
				BODY;                                          \
			}                                                      \
			double d_ = (now_ns() - t0_) / N;                      \
			if (d_ < best_)                                        \
				best_ = d_;                                    \
		}                                                              \
		(res) = best_;                                                 \
	} while (0)

static const struct mode {
	const char *name;
	unsigned int sl, nl;
	bool key;
} modes[] = {
	{"plaintext 2+6", 2, 6, false},	 {"plaintext 8+8", 8, 8, false},
	{"single-pass 8+8", 8, 8, true}, {"single-pass 4+12", 4, 12, true},
	{"four-pass 2+6", 2, 6, true},	 {"four-pass 3+4", 3, 4, true},
	{"four-pass 9+9", 9, 9, true},	 {"four-pass 10+5", 10, 5, true},
};

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* a sink the compiler cannot see through */
static volatile uint8_t sink;

static void bench_user(void)
{
	uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
			   0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};
	uint8_t sid[16] = {0xed, 0x79, 0x3a, 0x51}, nonce[20] = {1, 2, 3, 4};
	uint8_t cid[QLB_CID_MAX_LEN], s[16], n[20], blk[16] = {0};
	struct qlb_cid_cfg c;
	unsigned int m;
	double t0, t1;

	qlb_cid_cfg_init(&c, 0, 8, 8, key, true, 0);
	TIME_MIN(t0, blk[0] ^= (uint8_t)i; qlb_aes_encrypt(c.enc_rk, blk, blk));
	TIME_MIN(t1, blk[0] ^= (uint8_t)i; qlb_aes_decrypt(c.dec_rk, blk, blk));
	sink = blk[0];
	printf("user aes128 block: encrypt %.1f ns, decrypt %.1f ns\n\n", t0,
	       t1);

	printf("user %-20s %10s %10s %10s\n", "mode (sid+nonce)", "encode",
	       "decode", "decode_sid");
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		double enc, dec, dsid;

		qlb_cid_cfg_init(&c, 1, modes[m].sl, modes[m].nl,
				 modes[m].key ? key : NULL, true, 4);
		memset(cid, 0, sizeof(cid));
		/* a fresh CID every time */
		TIME_MIN(enc, nonce[0] = (uint8_t)i;
			 qlb_cid_encode(&c, sid, nonce, 0, cid));
		TIME_MIN(dec, cid[2] ^= (uint8_t)i;
			 qlb_cid_decode(&c, cid, s, n); sink = s[0]);
		TIME_MIN(dsid, cid[2] ^= (uint8_t)i;
			 qlb_cid_decode_sid(&c, cid, s); sink = s[0]);
		printf("user %-20s %7.1f ns %7.1f ns %7.1f ns\n", modes[m].name,
		       enc, dec, dsid);
	}
}

/* the fastest of TRIES test runs of @repeat repetitions, ns per run */
static int run(int fd, struct qlb_codec_test_pkt *pk, __u32 repeat, __u32 *ns)
{
	struct qlb_codec_test_pkt out;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk,
		    .data_size_in = sizeof(*pk), .data_out = &out,
		    .data_size_out = sizeof(out), .repeat = repeat);
	int t, err;

	*ns = ~0u;
	for (t = 0; t < TRIES; t++) {
		err = bpf_prog_test_run_opts(fd, &o);
		if (err)
			return err;
		if (o.duration < *ns)
			*ns = o.duration;
	}
	return 0;
}

static void bench_bpf(void)
{
	uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
			   0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};
	uint8_t sid[16] = {0xed, 0x79, 0x3a, 0x51}, nonce[20] = {1, 2, 3, 4};
	struct qlb_codec_test *skel;
	unsigned int m;
	int pfd, mfd, stats = 0;
	FILE *f;

	if (geteuid() != 0) {
		printf("\nbpf: skipped (needs root)\n");
		return;
	}
	libbpf_set_print(NULL);
	skel = qlb_codec_test__open_and_load();
	if (!skel) {
		printf("\nbpf: cannot load qlb_codec_test: %s\n",
		       strerror(errno));
		return;
	}
	f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	if (f) {
		if (fscanf(f, "%d", &stats) != 1)
			stats = 0;
		fclose(f);
	}
	pfd = bpf_program__fd(skel->progs.qlb_codec_test);
	mfd = bpf_map__fd(skel->maps.qlb_codec_test_cfg);
	printf("\nbpf (XDP test run, fastest of %d x 200k repeats; the CID is "
	       "decoded\n"
	       "from the packet every time)\n",
	       TRIES);
	printf("bpf  %-20s %10s %10s %10s\n", "mode (sid+nonce)", "empty",
	       "decode_sid", "difference");
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct qlb_codec_test_pkt pk = {0};
		struct qlb_cid_cfg c;
		__u32 k = 0, nop = 0, dec = 0;

		qlb_cid_cfg_init(&c, 1, modes[m].sl, modes[m].nl,
				 modes[m].key ? key : NULL, true, 4);
		bpf_map_update_elem(mfd, &k, &c, BPF_ANY);
		qlb_cid_encode(&c, sid, nonce, 0, pk.cid);
		pk.op = QLB_CT_NOP;
		if (run(pfd, &pk, 200000, &nop))
			break;
		pk.op = QLB_CT_DECODE_SID;
		if (run(pfd, &pk, 200000, &dec))
			break;
		printf("bpf  %-20s %7u ns %7u ns %7d ns\n", modes[m].name, nop,
		       dec, (int)dec - (int)nop);
	}
	if (stats)
		printf("(kernel.bpf_stats_enabled=1 adds its own cost to every "
		       "run, the empty one too: read the differences)\n");
	qlb_codec_test__destroy(skel);
}

int main(void)
{
	bench_user();
	bench_bpf();
	return 0;
}
