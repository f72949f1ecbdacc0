// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libqlb's minter: CIDs decode to the minter's server ID, nonces never
 * repeat (keyed and plaintext configs), the counter starts at random and
 * gives -EOVERFLOW once it is back where it began, unroutable CIDs, the
 * diagnostics decode, and reset tokens (checked against OpenSSL CBC).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "qlb/libqlb.h"
#include "t.h"
#include "codec_ref.h"

#define CHECKQ(cond) CHECK(cond, "%s", "")
#define NMINT	     200000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t nonce_u64(const uint8_t *n, unsigned int len)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < len; i++)
		v = v << 8 | n[i];
	return v;
}

/* Mint NMINT CIDs; every one decodes to @sid and no nonce comes twice. */
static void mint_unique(const uint8_t *key, unsigned int sl, unsigned int nl)
{
	uint8_t sid[QLB_SID_MAX_LEN] = {0x0a, 0x13, 0x77}, cid[QLB_CID_MAX_LEN];
	uint8_t s[QLB_SID_MAX_LEN], n[QLB_NONCE_MAX_LEN];
	uint64_t *seen = calloc(NMINT, sizeof(*seen));
	struct qlb_cid_cfg c;
	struct qlb_minter m;
	int i, len, bad = 0, dups = 0, sequential = 0;

	CHECKQ(qlb_cid_cfg_init(&c, 5, sl, nl, key, true, 4) == 0);
	CHECKQ(qlb_minter_init(&m, &c, sid) == 0);
	for (i = 0; i < NMINT; i++) {
		len = qlb_minter_mint(&m, cid);
		if (len != (int)(1 + sl + nl) ||
		    cid[0] != (5 << 5 | (sl + nl)) ||
		    qlb_decode(&c, cid, (size_t)len, s, n) ||
		    memcmp(s, sid, sl)) {
			bad++;
			continue;
		}
		/* 8 bytes of the nonce are plenty to tell them apart */
		seen[i] = nonce_u64(n, nl < 8 ? nl : 8);
		if (i && seen[i] == seen[i - 1] + 1)
			sequential++;
	}
	qsort(seen, NMINT, sizeof(*seen), cmp_u64);
	for (i = 1; i < NMINT; i++)
		dups += seen[i] == seen[i - 1];
	CHECK(bad == 0, "%s %u+%u: %d CIDs did not decode to the server ID",
	      key ? "keyed" : "plaintext", sl, nl, bad);
	CHECK(dups == 0, "%s %u+%u: %d repeated nonces in %d CIDs",
	      key ? "keyed" : "plaintext", sl, nl, dups, NMINT);
	if (key) /* hidden by encryption: a counter */
		CHECK(sequential >= NMINT - 2 || nl > 8,
		      "keyed nonces are a counter (%d steps of 1)", sequential);
	else /* on the wire: must show no relation */
		CHECK(sequential < 10, "plaintext nonces look sequential (%d)",
		      sequential);
	free(seen);
}

static void test_wrap(void)
{
	uint8_t key[16] = {9}, sid[QLB_SID_MAX_LEN] = {0x42};
	uint8_t cid[QLB_CID_MAX_LEN], n[QLB_NONCE_MAX_LEN], s[QLB_SID_MAX_LEN];
	static const uint8_t want[3][4] = {{0xff, 0xff, 0xff, 0xfe},
					   {0xff, 0xff, 0xff, 0xff},
					   {0, 0, 0, 0}};
	struct qlb_cid_cfg c;
	struct qlb_minter m, m2;
	int i, len;

	CHECKQ(qlb_cid_cfg_init(&c, 0, 1, 4, key, true, 0) == 0);
	CHECKQ(qlb_minter_init(&m, &c, sid) == 0);
	CHECKQ(qlb_minter_init(&m2, &c, sid) == 0);
	CHECK(memcmp(m.nonce_ctr, m2.nonce_ctr, 4) != 0,
	      "two minters start at the same nonce (not random?)");

	/* Pretend 2^32 - 3 nonces are used: the counter started at 1 and now
	 * stands 3 short of it, across the wrap from ffffffff to 0. */
	memcpy(m.nonce_start, (uint8_t[]){0, 0, 0, 1}, 4);
	memcpy(m.nonce_ctr, want[0], 4);
	for (i = 0; i < 3; i++) {
		len = qlb_minter_mint(&m, cid);
		CHECK(len == 6, "mint %d before the wrap: %d", i, len);
		CHECKQ(qlb_decode(&c, cid, 6, s, n) == 0);
		CHECK(!memcmp(n, want[i], 4), "nonce %d is %02x%02x%02x%02x", i,
		      n[0], n[1], n[2], n[3]);
	}
	CHECK(qlb_minter_mint(&m, cid) == -EOVERFLOW,
	      "no -EOVERFLOW at the start");
	CHECK(qlb_minter_mint(&m, cid) == -EOVERFLOW,
	      "-EOVERFLOW does not stay");

	/* re-init in place (config and server ID inside the minter itself)
	 * starts a fresh counter with the same config and server ID */
	CHECKQ(qlb_minter_init(&m, &m.cfg, m.sid) == 0);
	CHECKQ(!m.exhausted && m.cfg.sid_len == 1 && m.sid[0] == 0x42);
	len = qlb_minter_mint(&m, cid);
	CHECK(len == 6 && qlb_decode(&c, cid, 6, s, n) == 0 && s[0] == 0x42,
	      "mint after re-init in place: %d", len);
}

static void test_unroutable(void)
{
	uint8_t a[QLB_CID_MAX_LEN], b[QLB_CID_MAX_LEN];
	size_t len;
	int bad = 0;

	for (len = 8; len <= QLB_CID_MAX_LEN; len++) {
		if (qlb_mint_unroutable(a, len) != (int)len ||
		    qlb_mint_unroutable(b, len) != (int)len)
			bad++;
		else if (a[0] >> 5 != 7 || (a[0] & 31) != len - 1 ||
			 a[0] != b[0] || !memcmp(a + 1, b + 1, len - 1))
			bad++;
	}
	CHECK(bad == 0, "%d bad unroutable CIDs", bad);
	CHECKQ(qlb_mint_unroutable(a, 7) == -EINVAL);
	CHECKQ(qlb_mint_unroutable(a, 21) == -EINVAL);
}

static void test_decode_errors(void)
{
	uint8_t cid[QLB_CID_MAX_LEN], s[QLB_SID_MAX_LEN], n[QLB_NONCE_MAX_LEN];
	struct qlb_cid_cfg c;

	qlb_cid_cfg_init(&c, 0, 3, 4, NULL, true, 0);
	unhex("07c4605e4504cc4f", cid);
	CHECKQ(qlb_decode(&c, cid, 8, s, n) == 0);
	CHECKQ(!memcmp(s, "\xc4\x60\x5e", 3) &&
	       !memcmp(n, "\x45\x04\xcc\x4f", 4));
	CHECKQ(qlb_decode(&c, cid, 7, s, n) == -EINVAL); /* too short */
	cid[0] = 0x27;
	CHECKQ(qlb_decode(&c, cid, 8, s, n) == -EINVAL); /* config 1 */
	CHECKQ(qlb_minter_init(NULL, &c, s) == -EINVAL);
}

/* token = last block of AES-128-CBC (zero IV) over len | cid | zeros */
static void ref_token(const uint8_t *secret, const uint8_t *cid, size_t len,
		      uint8_t *tok)
{
	uint8_t msg[32] = {0}, out[32];
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0;

	msg[0] = (uint8_t)len;
	memcpy(msg + 1, cid, len);
	EVP_EncryptInit_ex(x, EVP_aes_128_cbc(), NULL, secret,
			   (uint8_t[16]){0});
	EVP_CIPHER_CTX_set_padding(x, 0);
	EVP_EncryptUpdate(x, out, &n, msg, 32);
	EVP_CIPHER_CTX_free(x);
	memcpy(tok, out + 16, 16);
}

static void test_reset_token(void)
{
	uint8_t secret[16], secret2[16], cid[QLB_CID_MAX_LEN];
	uint8_t t1[16], t2[16], t3[16], t4[16], ref[16];
	size_t len;
	int bad = 0;

	rnd_bytes(secret, 16);
	memcpy(secret2, secret, 16);
	secret2[15] ^= 1;
	for (len = 1; len <= QLB_CID_MAX_LEN; len++) {
		rnd_bytes(cid, sizeof(cid));
		qlb_reset_token(secret, cid, len, t1);
		qlb_reset_token(secret, cid, len, t2);
		qlb_reset_token(secret2, cid, len, t3);
		cid[len - 1] ^= 0x80;
		qlb_reset_token(secret, cid, len, t4);
		cid[len - 1] ^= 0x80;
		ref_token(secret, cid, len, ref);
		bad += memcmp(t1, t2, 16) != 0;	 /* deterministic */
		bad += memcmp(t1, t3, 16) == 0;	 /* keyed */
		bad += memcmp(t1, t4, 16) == 0;	 /* bound to the CID */
		bad += memcmp(t1, ref, 16) != 0; /* the documented MAC */
	}
	/* a CID and the same CID with a zero byte more are different */
	memset(cid, 0, sizeof(cid));
	qlb_reset_token(secret, cid, 8, t1);
	qlb_reset_token(secret, cid, 9, t2);
	bad += memcmp(t1, t2, 16) == 0;
	CHECK(bad == 0, "%d reset token problems", bad);
}

int main(void)
{
	uint8_t key[16];

	rnd_bytes(key, 16);
	mint_unique(key, 2, 6);
	mint_unique(key, 8, 8); /* single pass */
	mint_unique(key, 1, 4);
	mint_unique(NULL, 2, 4); /* plaintext, smallest nonce */
	mint_unique(NULL, 3, 16);
	test_wrap();
	test_unroutable();
	test_decode_errors();
	test_reset_token();
	return t_done("test_minter");
}
