// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libqlb's minter: QUIC-LB configs, routable CIDs with nonces that never
 * repeat under one key, unroutable CIDs, diagnostics decode and stateless
 * reset tokens. The codec itself is include/qlb/cid.h, shared with BPF.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "qlb/libqlb.h"

static int fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

QLB_API int qlb_cid_cfg_init(struct qlb_cid_cfg *cfg, unsigned int id,
			     unsigned int sid_len, unsigned int nonce_len,
			     const uint8_t *key, bool encode_length,
			     unsigned int worker_bits)
{
	if (!cfg || id >= QLB_CONFIG_MAX || sid_len < QLB_SID_MIN_LEN ||
	    sid_len > QLB_SID_MAX_LEN || nonce_len < QLB_NONCE_MIN_LEN ||
	    nonce_len > QLB_NONCE_MAX_LEN ||
	    sid_len + nonce_len > QLB_PT_MAX_LEN || worker_bits > 16 ||
	    worker_bits >= 8 * sid_len)
		return -EINVAL;
	/* the old round keys go, whatever replaces them */
	explicit_bzero(cfg, sizeof(*cfg));
	cfg->id = (uint8_t)id;
	cfg->sid_len = (uint8_t)sid_len;
	cfg->nonce_len = (uint8_t)nonce_len;
	cfg->worker_bits = (uint8_t)worker_bits;
	if (encode_length)
		cfg->flags |= QLB_CID_F_ENCODE_LEN;
	if (key) {
		cfg->flags |= QLB_CID_F_KEY;
		qlb_aes_expand_key(key, cfg->enc_rk);
		qlb_aes_inv_key(cfg->enc_rk, cfg->dec_rk);
	}
	return 0;
}

QLB_API int qlb_minter_init(struct qlb_minter *m, const struct qlb_cid_cfg *cfg,
			    const uint8_t *sid)
{
	struct qlb_cid_cfg c;
	uint8_t key[16], s[QLB_SID_MAX_LEN];
	int err;

	if (!m || !cfg || !sid || !qlb_cid_cfg_valid(cfg) ||
	    cfg->id >= QLB_CONFIG_MAX)
		return -EINVAL;
	/* copies first: @cfg and @sid may point into @m (re-init in place) */
	c = *cfg;
	memcpy(s, sid, c.sid_len);
	err = fill_random(key, sizeof(key));
	explicit_bzero(m, sizeof(*m));
	m->cfg = c;
	memcpy(m->sid, s, c.sid_len);
	if (!err)
		err = fill_random(m->nonce_ctr, c.nonce_len);
	if (err) {
		explicit_bzero(m, sizeof(*m));
		goto out;
	}
	memcpy(m->nonce_start, m->nonce_ctr, c.nonce_len);
	if (!(c.flags & QLB_CID_F_KEY))
		qlb_aes_expand_key(key, m->perm_rk);
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(&c, sizeof(c));
	return err;
}

/*
 * A plaintext CID shows its nonce, and a bare counter would link the CIDs
 * a server hands out. So the counter goes through a keyed permutation of
 * nonce_len bytes: unique because it is a bijection, unrelated to the
 * counter without the key. The permutation is the draft's own four-pass
 * construction (one AES block when the nonce is 16 bytes).
 */
static void permute_nonce(const uint8_t *rk, const uint8_t *in, uint32_t len,
			  uint8_t *out)
{
	union qlb__buf p = {0};
	union qlb__blk m[2], h[2];
	uint32_t pass;

	memcpy(p.b, in, len);
	if (len == 16) {
		qlb_aes_encrypt(rk, p.b, p.b);
	} else {
		qlb__fp_masks(len, m);
		qlb__fp_split(&p, len, h, m);
		for (pass = 1; pass <= 4; pass++)
			qlb__fp_pass(rk, &h[pass & 1], &h[(pass & 1) ^ 1],
				     &m[pass & 1], len, pass);
		qlb__fp_join(&p, len, h);
	}
	memcpy(out, p.b, len);
}

/* Random low bits of the first octet; they need no cryptographic strength,
 * only no pattern, so a per-thread xorshift seeded from getrandom does. */
static uint8_t random_low5(void)
{
	static __thread uint64_t s;

	while (!s)
		if (fill_random(&s, sizeof(s)))
			s = (uint64_t)(uintptr_t)&s | 1;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint8_t)(s >> 32) & 0x1f;
}

QLB_API int qlb_minter_mint(struct qlb_minter *m, uint8_t *cid)
{
	const struct qlb_cid_cfg *c = &m->cfg;
	uint8_t nonce[QLB_NONCE_MAX_LEN];
	int i, len;

	if (m->exhausted)
		return -EOVERFLOW;
	if (c->flags & QLB_CID_F_KEY)
		memcpy(nonce, m->nonce_ctr, c->nonce_len);
	else
		permute_nonce(m->perm_rk, m->nonce_ctr, c->nonce_len, nonce);
	len = qlb_cid_encode(c, m->sid, nonce, random_low5(), cid);
	if (len < 0)
		return -EINVAL;
	/* big-endian increment, wrapping; back at the start = all used */
	for (i = c->nonce_len - 1; i >= 0; i--)
		if (++m->nonce_ctr[i])
			break;
	if (!memcmp(m->nonce_ctr, m->nonce_start, c->nonce_len))
		m->exhausted = true;
	return len;
}

QLB_API int qlb_mint_unroutable(uint8_t *cid, size_t len)
{
	if (!cid || len < 8 || len > QLB_CID_MAX_LEN)
		return -EINVAL;
	if (fill_random(cid, len))
		return -EIO;
	cid[0] = (uint8_t)(QLB_CR_UNROUTABLE << 5 | (len - 1));
	return (int)len;
}

QLB_API int qlb_decode(const struct qlb_cid_cfg *cfg, const uint8_t *cid,
		       size_t cid_len, uint8_t *sid, uint8_t *nonce)
{
	uint8_t buf[QLB_CID_MAX_LEN] = {0};
	uint8_t s[QLB_SID_MAX_LEN], n[QLB_NONCE_MAX_LEN];

	if (!cfg || !cid || !qlb_cid_cfg_valid(cfg) ||
	    cid_len < qlb_cid_len(cfg) || cid_len > QLB_CID_MAX_LEN ||
	    qlb_cid_config_id(cid[0]) != cfg->id)
		return -EINVAL;
	memcpy(buf, cid, cid_len);
	qlb_cid_decode(cfg, buf, s, n);
	if (sid)
		memcpy(sid, s, cfg->sid_len);
	if (nonce)
		memcpy(nonce, n, cfg->nonce_len);
	return 0;
}

QLB_API void qlb_reset_token(const uint8_t secret[16], const uint8_t *cid,
			     size_t cid_len, uint8_t token[16])
{
	/* CBC-MAC is only sound for prefix-free messages: the length byte
	 * first makes it so. At most 1 + 20 bytes: two blocks. */
	uint8_t rk[QLB_AES_RK_LEN], msg[32] = {0}, x[16] = {0};
	int b, i;

	if (cid_len > QLB_CID_MAX_LEN)
		cid_len = QLB_CID_MAX_LEN;
	msg[0] = (uint8_t)cid_len;
	memcpy(msg + 1, cid, cid_len);
	qlb_aes_expand_key(secret, rk);
	for (b = 0; b < 2; b++) {
		for (i = 0; i < 16; i++)
			x[i] ^= msg[16 * b + i];
		qlb_aes_encrypt(rk, x, x);
	}
	memcpy(token, x, 16);
	explicit_bzero(rk, sizeof(rk));
	explicit_bzero(msg, sizeof(msg));
}
