// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libFuzzer harness of the QUIC-LB codec (include/qlb/cid.h) and libqlb's
 * minter (ctl/lib/minter.c).
 *
 * Input: 6 config bytes (id, sid_len, nonce_len, flags, worker_bits, low5),
 * a 16-byte key, then up to 20 CID bytes, 15 server-ID bytes and 18 nonce
 * bytes (missing bytes are zero).
 *
 * Checked on every input:
 *  - any config, even one qlb_cid_cfg_init() refuses (the BPF programs read
 *    whatever a map holds): decode never reads or writes outside its
 *    buffers (exactly sized heap buffers, so ASan sees a single byte over),
 *    and an invalid config zeroes the outputs and returns -1;
 *  - a valid config: decode(encode(sid, nonce)) gives sid and nonce back;
 *    the CID body equals an independent encoder written from the draft
 *    with OpenSSL's AES (tests/unit/codec_ref.h); encode(decode(cid))
 *    gives any CID body back (the codec is a bijection); the server-ID-only
 *    decode (three-pass shortcut) agrees with the full decode; the first
 *    octet carries the config id and, when self-encoded, the length;
 *    worker bits split and join again; libqlb's qlb_decode() agrees and
 *    refuses short CIDs and foreign config ids; the minter mints CIDs that
 *    decode to its server ID with distinct nonces.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qlb/libqlb.h"
#include "codec_ref.h"
#include "fz.h"

/* A failed invariant is a crash: libFuzzer saves the input. */

/* Exactly @n bytes on the heap, so that ASan flags any access past them. */
static uint8_t *exact(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n);

	if (!p)
		abort();
	memcpy(p, src, n);
	return p;
}

/* Decode under a config that may be anything at all. */
static void decode_any(const struct qlb_cid_cfg *c, const uint8_t *cid20)
{
	uint8_t *cid = exact(cid20, QLB_CID_MAX_LEN);
	uint8_t *sid = malloc(QLB_SID_MAX_LEN),
		*nonce = malloc(QLB_NONCE_MAX_LEN);
	uint8_t *sid2 = malloc(QLB_SID_MAX_LEN);
	int r1, r2, valid = qlb_cid_cfg_valid(c);
	unsigned int i;

	if (!sid || !nonce || !sid2)
		abort();
	memset(sid, 0xa5, QLB_SID_MAX_LEN);
	memset(nonce, 0xa5, QLB_NONCE_MAX_LEN);
	memset(sid2, 0xa5, QLB_SID_MAX_LEN);
	r1 = qlb_cid_decode(c, cid, sid, nonce);
	r2 = qlb_cid_decode_sid(c, cid, sid2);
	FZ_ASSERT(r1 == (valid ? 0 : -1) && r2 == r1);
	for (i = 0; i < QLB_SID_MAX_LEN; i++) {
		/* bytes past sid_len zeroed; all zero for an invalid config */
		if (!valid || i >= c->sid_len)
			FZ_ASSERT(sid[i] == 0 && sid2[i] == 0);
	}
	if (valid) {
		FZ_ASSERT(!memcmp(sid, sid2, QLB_SID_MAX_LEN));
		for (i = c->nonce_len; i < QLB_NONCE_MAX_LEN; i++)
			FZ_ASSERT(nonce[i] == 0);
	}
	free(cid);
	free(sid);
	free(nonce);
	free(sid2);
}

static void check_valid(const struct qlb_cid_cfg *c, const uint8_t *key,
			const uint8_t *cid20, const uint8_t *sid_in,
			const uint8_t *nonce_in, uint8_t low5)
{
	unsigned int sl = c->sid_len, nl = c->nonce_len, L = sl + nl, i;
	uint8_t out[QLB_CID_MAX_LEN], ref[QLB_PT_MAX_LEN], pt[QLB_PT_MAX_LEN];
	uint8_t sid[QLB_SID_MAX_LEN], nonce[QLB_NONCE_MAX_LEN];
	uint8_t body[QLB_CID_MAX_LEN], *xsid, *xnonce;
	uint8_t host[QLB_SID_MAX_LEN];
	struct qlb_minter m;
	uint32_t w;
	int len;

	/* encode reads exactly sid_len and nonce_len bytes in user space */
	xsid = exact(sid_in, sl);
	xnonce = exact(nonce_in, nl);
	memset(out, 0xa5, sizeof(out));
	len = qlb_cid_encode(c, xsid, xnonce, low5, out);
	FZ_ASSERT(len == (int)L + 1);
	FZ_ASSERT(qlb_cid_config_id(out[0]) == c->id);
	if (c->flags & QLB_CID_F_ENCODE_LEN)
		FZ_ASSERT((out[0] & 0x1f) == L);
	else
		FZ_ASSERT((out[0] & 0x1f) == (low5 & 0x1f));
	for (i = L + 1; i < QLB_CID_MAX_LEN; i++)
		FZ_ASSERT(out[i] == 0);

	/* against the reference encoder */
	memcpy(pt, sid_in, sl);
	memcpy(pt + sl, nonce_in, nl);
	ref_body((c->flags & QLB_CID_F_KEY) ? key : NULL, pt, L, ref);
	FZ_ASSERT(!memcmp(out + 1, ref, L));

	/* round trip */
	FZ_ASSERT(qlb_cid_decode(c, out, sid, nonce) == 0);
	FZ_ASSERT(!memcmp(sid, sid_in, sl) && !memcmp(nonce, nonce_in, nl));
	FZ_ASSERT(qlb_decode(c, out, (size_t)len, sid, nonce) == 0);
	FZ_ASSERT(!memcmp(sid, sid_in, sl) && !memcmp(nonce, nonce_in, nl));
	FZ_ASSERT(qlb_decode(c, out, (size_t)len - 1, sid, nonce) == -EINVAL);
	out[0] ^= (uint8_t)(((c->id + 1) % 8) ^ c->id)
		  << 5; /* other config id */
	FZ_ASSERT(qlb_decode(c, out, (size_t)len, sid, nonce) == -EINVAL);

	/* any body decodes to something that encodes back to it */
	FZ_ASSERT(qlb_cid_decode(c, cid20, sid, nonce) == 0);
	len = qlb_cid_encode(c, sid, nonce, cid20[0], body);
	FZ_ASSERT(len == (int)L + 1 && !memcmp(body + 1, cid20 + 1, L));

	/* worker bits: the host part has none, and the two join again */
	memcpy(host, sid_in, sl);
	qlb_sid_host_part(c, host);
	FZ_ASSERT(qlb_sid_worker(c, host) == 0);
	w = qlb_sid_worker(c, xsid);
	FZ_ASSERT(w < (1u << c->worker_bits));
	for (i = 0; i < sl; i++) {
		uint8_t wb =
			i + 2 >= sl ? (uint8_t)(w >> (8 * (sl - 1 - i))) : 0;

		FZ_ASSERT((host[i] | wb) == sid_in[i] && !(host[i] & wb));
	}

	/* the minter: two CIDs, same server ID, different nonces */
	if (qlb_minter_init(&m, c, xsid) == 0) {
		uint8_t a[QLB_CID_MAX_LEN], b[QLB_CID_MAX_LEN];
		uint8_t na[QLB_NONCE_MAX_LEN], nb[QLB_NONCE_MAX_LEN];

		FZ_ASSERT(qlb_minter_mint(&m, a) == (int)L + 1);
		FZ_ASSERT(qlb_minter_mint(&m, b) == (int)L + 1);
		FZ_ASSERT(qlb_decode(c, a, L + 1, sid, na) == 0 &&
			  !memcmp(sid, sid_in, sl));
		FZ_ASSERT(qlb_decode(c, b, L + 1, sid, nb) == 0 &&
			  !memcmp(sid, sid_in, sl));
		FZ_ASSERT(memcmp(na, nb, nl));
		explicit_bzero(&m, sizeof(m));
	}
	free(xsid);
	free(xnonce);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t in[6 + 16 + QLB_CID_MAX_LEN + QLB_SID_MAX_LEN +
		   QLB_NONCE_MAX_LEN] = {0};
	const uint8_t *key = in + 6, *cid = key + 16;
	const uint8_t *sid = cid + QLB_CID_MAX_LEN,
		      *nonce = sid + QLB_SID_MAX_LEN;
	struct qlb_cid_cfg raw, c;
	uint8_t tok[16], ucid[QLB_CID_MAX_LEN];
	int err;

	memcpy(in, data, size < sizeof(in) ? size : sizeof(in));

	/* the struct as a corrupt map could hold it: every byte from the
	 * input */
	memset(&raw, 0, sizeof(raw));
	raw.id = in[0];
	raw.sid_len = in[1];
	raw.nonce_len = in[2];
	raw.flags = in[3];
	raw.worker_bits = in[4];
	for (size_t i = 0; i < sizeof(raw.enc_rk); i++) {
		raw.enc_rk[i] = key[i % 16] ^ (uint8_t)i;
		raw.dec_rk[i] = key[(i + 7) % 16] + (uint8_t)i;
	}
	decode_any(&raw, cid);
	{
		uint8_t o[QLB_CID_MAX_LEN];

		if (!qlb_cid_cfg_valid(&raw))
			FZ_ASSERT(qlb_cid_encode(&raw, sid, nonce, in[5], o) ==
				  -1);
	}

	/* the same numbers through qlb_cid_cfg_init(): refused exactly when
	 * the codec would call them invalid */
	err = qlb_cid_cfg_init(&c, in[0], in[1], in[2],
			       (in[3] & QLB_CID_F_KEY) ? key : NULL,
			       in[3] & QLB_CID_F_ENCODE_LEN, in[4]);
	FZ_ASSERT(!err == (in[0] < QLB_CONFIG_MAX && qlb_cid_cfg_valid(&raw)));
	if (!err) {
		decode_any(&c, cid);
		check_valid(&c, key, cid, sid, nonce, in[5]);
	}

	/* libqlb's other entry points take any length */
	qlb_reset_token(key, cid, in[5], tok);
	err = qlb_mint_unroutable(ucid, in[5]);
	if (in[5] >= 8 && in[5] <= QLB_CID_MAX_LEN)
		FZ_ASSERT(err == in[5] &&
			  qlb_cid_config_id(ucid[0]) == QLB_CR_UNROUTABLE &&
			  (ucid[0] & 0x1f) == in[5] - 1);
	else
		FZ_ASSERT(err == -EINVAL);
	return 0;
}
