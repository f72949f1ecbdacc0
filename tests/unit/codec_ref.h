/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Test helpers shared by the codec tests: hex parsing, randomness, the
 * draft's test vectors, and a reference encoder written straight from the
 * draft's text with OpenSSL's AES, to check the production codec against
 * something that shares none of its code.
 */
#ifndef QLB_TESTS_CODEC_REF_H
#define QLB_TESTS_CODEC_REF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

struct vec {
	unsigned int cr, sid_len, nonce_len;
	const char *key, *sid, *nonce, *cid;
};

/* draft-ietf-quic-load-balancers-21 Appendix B, as /work/shared/quic-lb.md
 * digests it; every row self-encodes the length. */
static const struct vec vecs[] = {
	{0, 3, 4, NULL, "c4605e", "4504cc4f", "07c4605e4504cc4f"},
	{0, 3, 4, "8f95f09245765f80256934e50c66207f", "ed793a", "ee080dbf",
	 "0720b1d07b359d3c"},
	{1, 10, 5, "8f95f09245765f80256934e50c66207f", "ed793a51d49b8f5fab65",
	 "ee080dbf48", "2fcc381bc74cb4fbad2823a3d1f8fed2"},
	{2, 8, 8, "8f95f09245765f80256934e50c66207f", "ed793a51d49b8f5f",
	 "ee080dbf48c0d1e5", "504dd2d05a7b0de9b2b9907afb5ecf8cc3"},
	{0, 9, 9, "8f95f09245765f80256934e50c66207f", "ed793a51d49b8f5fab",
	 "ee080dbf48c0d1e55d", "125779c9cc86beb3a3a4a3ca96fce4bfe0cdbc"},
	{0, 3, 4, "fdf726a9893ec05c0632d3956680baf0", "31441a", "9c69c275",
	 "0767947d29be054a"},
};
#define NVECS (sizeof(vecs) / sizeof(vecs[0]))

static inline size_t unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2, i;

	for (i = 0; i < n; i++) {
		unsigned int v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static inline void tohex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

/* xorshift64*: reproducible runs (the seed is printed) */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static inline void rnd_bytes(uint8_t *b, size_t n)
{
	while (n--)
		*b++ = (uint8_t)(rnd() >> 56);
}

static inline void ref_aes(const uint8_t key[16], const uint8_t in[16],
			   uint8_t out[16], int enc)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0;

	EVP_CipherInit_ex(x, EVP_aes_128_ecb(), NULL, key, NULL, enc);
	EVP_CIPHER_CTX_set_padding(x, 0);
	EVP_CipherUpdate(x, out, &n, in, 16);
	EVP_CIPHER_CTX_free(x);
}

/* expand(L, pass, half) then AES, keeping the first H bytes, per the draft */
static inline void ref_round(const uint8_t key[16], size_t L, int pass,
			     const uint8_t *half, uint8_t *t)
{
	uint8_t blk[16] = {0}, out[16];
	size_t H = (L + 1) / 2;

	memcpy(blk, half, H);
	blk[14] = (uint8_t)L;
	blk[15] = (uint8_t)pass;
	ref_aes(key, blk, out, 1);
	memcpy(t, out, H);
}

/* The CID body (without first octet) for pt of L bytes under key (or NULL). */
static inline void ref_body(const uint8_t *key, const uint8_t *pt, size_t L,
			    uint8_t *ct)
{
	uint8_t l[16] = {0}, r[16] = {0}, t[16];
	size_t H = (L + 1) / 2, i;
	int odd = (int)(L & 1);

	if (!key) {
		memcpy(ct, pt, L);
		return;
	}
	if (L == 16) {
		ref_aes(key, pt, ct, 1);
		return;
	}
	memcpy(l, pt, H);
	memcpy(r, pt + L - H, H);
	if (odd) {
		l[H - 1] &= 0xf0;
		r[0] &= 0x0f;
	}
	ref_round(key, L, 1, l, t);
	for (i = 0; i < H; i++)
		r[i] ^= t[i];
	if (odd)
		r[0] &= 0x0f;
	ref_round(key, L, 2, r, t);
	for (i = 0; i < H; i++)
		l[i] ^= t[i];
	if (odd)
		l[H - 1] &= 0xf0;
	ref_round(key, L, 3, l, t);
	for (i = 0; i < H; i++)
		r[i] ^= t[i];
	if (odd)
		r[0] &= 0x0f;
	ref_round(key, L, 4, r, t);
	for (i = 0; i < H; i++)
		l[i] ^= t[i];
	if (odd)
		l[H - 1] &= 0xf0;
	memset(ct, 0, L);
	memcpy(ct, l, H);
	for (i = 0; i < H; i++)
		ct[L - H + i] |= r[i];
}

#endif
