// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The QUIC-LB codec in user space: the draft's vectors both ways, random
 * round trips over every legal (sid_len, nonce_len) with and without key
 * and length self-encoding, checked against a reference written from the
 * draft's text over OpenSSL; AES against OpenSSL; worker-bit helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qlb/libqlb.h"
#include "t.h"
#include "codec_ref.h"

/* CHECK() without a message of its own (t.h needs a format) */
#define CHECKQ(cond) CHECK(cond, "%s", "")

static void test_vectors(void)
{
	size_t v;

	for (v = 0; v < NVECS; v++) {
		const struct vec *t = &vecs[v];
		uint8_t key[16], sid[QLB_SID_MAX_LEN], nonce[QLB_NONCE_MAX_LEN];
		uint8_t want[QLB_CID_MAX_LEN], cid[QLB_CID_MAX_LEN];
		uint8_t s[QLB_SID_MAX_LEN], n[QLB_NONCE_MAX_LEN];
		struct qlb_cid_cfg c;
		char hex[64];
		int len;

		if (t->key)
			unhex(t->key, key);
		unhex(t->sid, sid);
		unhex(t->nonce, nonce);
		size_t wl = unhex(t->cid, want);

		CHECKQ(qlb_cid_cfg_init(&c, t->cr, t->sid_len, t->nonce_len,
					t->key ? key : NULL, true, 0) == 0);
		len = qlb_cid_encode(&c, sid, nonce, 0, cid);
		tohex(cid, len > 0 ? (size_t)len : 0, hex);
		CHECK(len == (int)wl && !memcmp(cid, want, wl),
		      "vector %zu: encoded %s, want %s", v, hex, t->cid);

		/* decode from a 20-byte buffer with junk past the CID */
		memset(cid, 0xa5, sizeof(cid));
		memcpy(cid, want, wl);
		memset(s, 0x77, sizeof(s));
		memset(n, 0x77, sizeof(n));
		CHECKQ(qlb_cid_decode(&c, cid, s, n) == 0);
		CHECK(!memcmp(s, sid, t->sid_len), "vector %zu: sid", v);
		CHECK(!memcmp(n, nonce, t->nonce_len), "vector %zu: nonce", v);
		memset(s, 0x77, sizeof(s));
		CHECKQ(qlb_cid_decode_sid(&c, cid, s) == 0);
		CHECK(!memcmp(s, sid, t->sid_len), "vector %zu: decode_sid", v);
		CHECKQ(qlb_cid_config_id(cid[0]) == t->cr);
	}
}

static void test_aes_openssl(void)
{
	uint8_t key[16], in[16], ours[16], ref[16], back[16];
	uint8_t rk[QLB_AES_RK_LEN], dk[QLB_AES_RK_LEN];
	int i, bad_enc = 0, bad_dec = 0;

	/* FIPS-197 Appendix C.1 */
	unhex("000102030405060708090a0b0c0d0e0f", key);
	unhex("00112233445566778899aabbccddeeff", in);
	unhex("69c4e0d86a7b0430d8cdb78070b4c55a", ref);
	qlb_aes_expand_key(key, rk);
	qlb_aes_encrypt(rk, in, ours);
	CHECK_MEM(ours, ref, 16, "FIPS-197 C.1 ciphertext");

	for (i = 0; i < 20000; i++) {
		rnd_bytes(key, 16);
		rnd_bytes(in, 16);
		qlb_aes_expand_key(key, rk);
		qlb_aes_inv_key(rk, dk);
		qlb_aes_encrypt(rk, in, ours);
		ref_aes(key, in, ref, 1);
		bad_enc += !!memcmp(ours, ref, 16);
		qlb_aes_decrypt(dk, in, back);
		ref_aes(key, in, ref, 0);
		bad_dec += !!memcmp(back, ref, 16);
	}
	CHECK(bad_enc == 0, "%d of 20000 encryptions differ from OpenSSL",
	      bad_enc);
	CHECK(bad_dec == 0, "%d of 20000 decryptions differ from OpenSSL",
	      bad_dec);
}

/* every legal (sid_len, nonce_len), key or not, length encoded or not */
static void test_round_trips(void)
{
	unsigned int sl, nl, mode, iter, pairs = 0;
	int bad = 0;

	for (sl = QLB_SID_MIN_LEN; sl <= QLB_SID_MAX_LEN; sl++)
		for (nl = QLB_NONCE_MIN_LEN; sl + nl <= QLB_PT_MAX_LEN;
		     nl++, pairs++)
			for (mode = 0; mode < 4; mode++)
				for (iter = 0; iter < 40; iter++) {
					uint8_t key[16], sid[QLB_SID_MAX_LEN],
						nonce[QLB_NONCE_MAX_LEN];
					uint8_t cid[QLB_CID_MAX_LEN],
						pt[QLB_PT_MAX_LEN],
						body[QLB_PT_MAX_LEN];
					uint8_t s[QLB_SID_MAX_LEN],
						n[QLB_NONCE_MAX_LEN],
						s2[QLB_SID_MAX_LEN];
					bool keyed = mode & 1,
					     enc_len = mode & 2;
					unsigned int id = (unsigned int)(rnd() %
									 7),
						     L = sl + nl, i;
					uint8_t low5 = (uint8_t)rnd();
					struct qlb_cid_cfg c;
					int len;

					rnd_bytes(key, sizeof(key));
					rnd_bytes(sid, sizeof(sid));
					rnd_bytes(nonce, sizeof(nonce));
					if (qlb_cid_cfg_init(&c, id, sl, nl,
							     keyed ? key : NULL,
							     enc_len, 0)) {
						bad++;
						continue;
					}
					len = qlb_cid_encode(&c, sid, nonce,
							     low5, cid);
					memcpy(pt, sid, sl);
					memcpy(pt + sl, nonce, nl);
					ref_body(keyed ? key : NULL, pt, L,
						 body);
					if (len != (int)L + 1 ||
					    memcmp(cid + 1, body, L) ||
					    cid[0] >> 5 != id ||
					    (cid[0] & 31) !=
						    (enc_len ? L
							     : (low5 & 31u))) {
						fprintf(stderr,
							"sl=%u nl=%u mode=%u: "
							"encode differs from "
							"reference\n",
							sl, nl, mode);
						bad++;
						continue;
					}
					for (i = L + 1; i < QLB_CID_MAX_LEN;
					     i++)
						cid[i] = (uint8_t)
							rnd(); /* junk past the
								  CID must not
								  matter */
					memset(s, 0xee, sizeof(s));
					memset(n, 0xee, sizeof(n));
					memset(s2, 0xee, sizeof(s2));
					qlb_cid_decode(&c, cid, s, n);
					qlb_cid_decode_sid(&c, cid, s2);
					for (i = sl; i < QLB_SID_MAX_LEN; i++)
						if (s[i] || s2[i])
							bad++;
					for (i = nl; i < QLB_NONCE_MAX_LEN; i++)
						if (n[i])
							bad++;
					if (memcmp(s, sid, sl) ||
					    memcmp(s2, sid, sl) ||
					    memcmp(n, nonce, nl)) {
						fprintf(stderr,
							"sl=%u nl=%u mode=%u: "
							"decode differs\n",
							sl, nl, mode);
						bad++;
					}
				}
	CHECK(pairs == 120, "%u (sid_len, nonce_len) pairs", pairs);
	CHECK(bad == 0, "%d round-trip failures", bad);
}

static void test_worker_bits(void)
{
	struct qlb_cid_cfg c;
	uint8_t sid[QLB_SID_MAX_LEN];
	unsigned int sl, wb, iter;
	int bad = 0;

	qlb_cid_cfg_init(&c, 1, 2, 6, NULL, true, 4);
	unhex("0a1f", sid);
	CHECKQ(qlb_sid_worker(&c, sid) == 0xf);
	qlb_sid_host_part(&c, sid);
	CHECK(sid[0] == 0x0a && sid[1] == 0x10, "host part of 0a1f/4");

	qlb_cid_cfg_init(&c, 1, 3, 6, NULL, true, 12);
	unhex("12abcd", sid);
	CHECKQ(qlb_sid_worker(&c, sid) == 0xbcd);
	qlb_sid_host_part(&c, sid);
	CHECK(sid[0] == 0x12 && sid[1] == 0xa0 && sid[2] == 0, "12abcd/12");

	/* against arithmetic on the big-endian number, every length and
	 * width */
	for (sl = 1; sl <= QLB_SID_MAX_LEN; sl++)
		for (wb = 0; wb <= 16 && wb < 8 * sl; wb++)
			for (iter = 0; iter < 20; iter++) {
				uint8_t h[QLB_SID_MAX_LEN];
				unsigned __int128 v = 0, host;
				unsigned int i;

				qlb_cid_cfg_init(&c, 0, sl,
						 QLB_PT_MAX_LEN - sl > 18
							 ? 18
							 : QLB_PT_MAX_LEN - sl,
						 NULL, true, wb);
				rnd_bytes(sid, sizeof(sid));
				for (i = 0; i < sl; i++)
					v = v << 8 | sid[i];
				if (qlb_sid_worker(&c, sid) !=
				    (unsigned int)(v & ((1u << wb) - 1)))
					bad++;
				memcpy(h, sid, sizeof(h));
				qlb_sid_host_part(&c, h);
				host = v >> wb << wb;
				for (i = sl; i-- > 0; host >>= 8)
					if (h[i] != (uint8_t)host)
						bad++;
				if (memcmp(h + sl, sid + sl,
					   QLB_SID_MAX_LEN - sl))
					bad++; /* bytes past sid_len untouched
						*/
			}
	CHECK(bad == 0, "%d worker-bit mismatches", bad);
}

static void test_invalid(void)
{
	struct qlb_cid_cfg c;
	uint8_t key[16] = {1}, buf[QLB_CID_MAX_LEN] = {0}, s[QLB_SID_MAX_LEN];

	CHECKQ(qlb_cid_cfg_init(&c, 7, 3, 4, NULL, true, 0) == -EINVAL);
	CHECKQ(qlb_cid_cfg_init(&c, 0, 0, 4, NULL, true, 0) == -EINVAL);
	CHECKQ(qlb_cid_cfg_init(&c, 0, 16, 4, NULL, true, 0) == -EINVAL);
	CHECKQ(qlb_cid_cfg_init(&c, 0, 3, 3, NULL, true, 0) == -EINVAL);
	CHECKQ(qlb_cid_cfg_init(&c, 0, 2, 18, key, true, 0) == -EINVAL);
	CHECKQ(qlb_cid_cfg_init(&c, 0, 1, 18, key, true, 8) == -EINVAL);
	CHECKQ(qlb_cid_cfg_init(&c, 0, 3, 4, key, true, 17) == -EINVAL);
	CHECKQ(qlb_cid_cfg_init(&c, 0, 1, 18, key, true, 7) == 0);
	CHECKQ(qlb_cid_cfg_init(&c, 6, 15, 4, key, false, 16) == 0);
	c.sid_len =
		16; /* a corrupt config never reads or writes out of bounds */
	CHECKQ(qlb_cid_encode(&c, buf, buf, 0, buf) == -1);
	memset(s, 0x55, sizeof(s));
	CHECKQ(qlb_cid_decode_sid(&c, buf, s) == -1);
	CHECKQ(s[0] == 0 && s[14] == 0);
}

int main(void)
{
	const char *seed = getenv("QLB_SEED");

	uint64_t s = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);

	rng_state ^= s;
	printf("QLB_SEED=%llu\n", (unsigned long long)s);
	test_vectors();
	test_aes_openssl();
	test_round_trips();
	test_worker_bits();
	test_invalid();
	return t_done("test_codec");
}
