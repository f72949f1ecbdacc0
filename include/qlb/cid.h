/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * QUIC-LB connection IDs (draft-ietf-quic-load-balancers-21): the one codec
 * that the XDP program, the SK_REUSEPORT program and user space compile.
 *
 * CID = first octet | plaintext block (sid | nonce) or its encryption
 * first octet = config rotation (3 high bits) | length-or-random (5 low bits)
 *
 * Compatibility: struct qlb_cid_cfg is stored in BPF maps by user space and
 * read by BPF programs; its layout only grows at the end, and its size is
 * pinned below. A layout change renames the maps that hold it (_v2).
 *
 * BPF rules for everything in this file: no loop over packet memory (callers
 * copy the CID into a QLB_CID_MAX_LEN stack buffer first), every loop has a
 * constant bound, lengths are masked before use.
 */
#ifndef QLB_CID_H
#define QLB_CID_H

#include "qlb/compat.h"
#include "qlb/aes.h"

#define QLB_CID_MAX_LEN 20	/* RFC 9000 limit */
#define QLB_PT_MAX_LEN 19	/* sid_len + nonce_len */
#define QLB_SID_MIN_LEN 1
#define QLB_SID_MAX_LEN 15	/* 19 - minimum nonce */
#define QLB_NONCE_MIN_LEN 4
#define QLB_NONCE_MAX_LEN 18
#define QLB_CONFIG_MAX 7	/* codepoints 0..6 */
#define QLB_CR_UNROUTABLE 7	/* 0b111: never routable */
#define QLB_AES_RK_LEN 176	/* AES-128: 11 round keys */

/* qlb_cid_cfg.flags */
#define QLB_CID_F_KEY (1u << 0)		/* encrypted: single or four pass */
#define QLB_CID_F_ENCODE_LEN (1u << 1)	/* low 5 bits = CID length - 1 */

struct qlb_cid_cfg {
	__u8 id;		/* config rotation codepoint, 0..6 */
	__u8 sid_len;		/* server ID bytes, 1..15 */
	__u8 nonce_len;		/* nonce bytes, 4..18; sid_len+nonce_len <= 19 */
	__u8 flags;		/* QLB_CID_F_* */
	__u8 worker_bits;	/* low bits of the server ID that name a worker */
	__u8 pad[3];
	__u8 enc_rk[QLB_AES_RK_LEN];	/* AES-128 encryption round keys */
	__u8 dec_rk[QLB_AES_RK_LEN];	/* inverse-cipher round keys (single pass) */
};
_Static_assert(sizeof(struct qlb_cid_cfg) == 360, "qlb_cid_cfg is ABI");

/* Config rotation codepoint of a CID's first octet. */
QLB_INLINE __u8 qlb_cid_config_id(__u8 first_octet)
{
	return first_octet >> 5;
}

/* Length of a CID minted under @c. */
QLB_INLINE __u32 qlb_cid_len(const struct qlb_cid_cfg *c)
{
	return 1u + c->sid_len + c->nonce_len;
}

/* A config the codec can work with (lengths within the draft's limits). */
QLB_INLINE int qlb_cid_cfg_valid(const struct qlb_cid_cfg *c)
{
	return c->sid_len >= QLB_SID_MIN_LEN && c->sid_len <= QLB_SID_MAX_LEN &&
	       c->nonce_len >= QLB_NONCE_MIN_LEN &&
	       c->nonce_len <= QLB_NONCE_MAX_LEN &&
	       c->sid_len + c->nonce_len <= QLB_PT_MAX_LEN &&
	       c->worker_bits <= 16 && c->worker_bits < 8u * c->sid_len;
}

/*
 * Internals. A 16-byte block in a union keeps it 8-byte aligned: the BPF
 * verifier wants aligned stack words, and whole-word XOR/AND is 8x fewer
 * instructions than bytes. The plaintext or ciphertext of a CID (at most
 * 19 bytes) lives in a zeroed 32-byte buffer so that every variable index
 * can be masked with & 31 and stay inside it.
 */
union qlb__blk {
	__u8 b[16];
	__u64 q[2];
};

union qlb__buf {
	__u8 b[32];
	__u64 q[4];
};

/*
 * Branch-free helpers. A comparison against a length from the config map
 * that became a conditional jump would make the verifier split its state
 * on that length again and again (the lengths are "precise": they index
 * buffers) and exceed its budget. qlb__hide() stops clang from turning the
 * arithmetic back into a compare and branch; user space needs no such help.
 */
#ifdef __bpf__
#define qlb__hide(x) asm volatile("" : "+r"(x))
/* BPF callers pass full-size buffers (QLB_SID_MAX_LEN, QLB_NONCE_MAX_LEN):
 * every byte is read and the unwanted ones masked, no branch. */
#define qlb__may_read(i, n) 1
#else
#define qlb__hide(x) ((void)0)
/* user-space buffers may be exactly as long as the config says */
#define qlb__may_read(i, n) ((i) < (n))
#endif

/* All ones when a < b (both below 2^31), else 0. */
QLB_INLINE __u32 qlb__lt32(__u32 a, __u32 b)
{
	__u32 d = a - b;

	qlb__hide(d);
	return (__u32)((__s32)d >> 31);
}

/* 0xff when a < b, else 0. */
QLB_INLINE __u8 qlb__lt(__u32 a, __u32 b)
{
	return (__u8)qlb__lt32(a, b);
}

/*
 * Masks of the four-pass halves (H = ceil(L/2) bytes each): for odd L the
 * middle byte is split, left keeping its high nibble and right its low one.
 */
QLB_INLINE void qlb__fp_masks(__u32 L, union qlb__blk *m)
{
	__u32 H = (L + 1) >> 1;
	__u8 odd = (__u8)(-(L & 1) & 0x0f); /* 0x0f when L is odd */
	int i;

	for (i = 0; i < 16; i++) {
		__u8 in = qlb__lt(i, H);

		/* byte H-1 of left loses its low nibble when L is odd */
		m[0].b[i] = in & ~(in & ~qlb__lt(i, H - 1) & odd);
		m[1].b[i] = in;
	}
	m[1].b[0] &= (__u8)~(odd << 4);
}

/*
 * One four-pass round: x = (x ^ T(AES(expand(L, pass, y)))) & m. y is zero
 * past its H bytes (the masks keep it so), bytes 14 and 15 take L and pass.
 */
QLB_INLINE void qlb__fp_pass(const __u8 *rk, union qlb__blk *x,
			     const union qlb__blk *y, const union qlb__blk *m,
			     __u32 L, __u32 pass)
{
	union qlb__blk e;

	e.q[0] = y->q[0];
	e.q[1] = y->q[1];
	e.b[14] = (__u8)L;
	e.b[15] = (__u8)pass;
	qlb_aes_encrypt(rk, e.b, e.b);
	x->q[0] = (x->q[0] ^ e.q[0]) & m->q[0];
	x->q[1] = (x->q[1] ^ e.q[1]) & m->q[1];
}

/* Split @p (L bytes, zero past them) into the left and right halves. */
QLB_INLINE void qlb__fp_split(const union qlb__buf *p, __u32 L,
			      union qlb__blk *h, const union qlb__blk *m)
{
	__u32 off = L - ((L + 1) >> 1);
	int i;

	/* else clang keeps the ten addresses for qlb__fp_join(): spills */
	qlb__hide(off);
	h[0].q[0] = p->q[0] & m[0].q[0];
	h[0].q[1] = p->q[1] & m[0].q[1];
	h[1].q[1] = 0;
	for (i = 0; i < 10; i++) /* H <= 10 */
		h[1].b[i] = p->b[(off + i) & 31];
	h[1].q[0] &= m[1].q[0];
	h[1].q[1] &= m[1].q[1];
}

/* Join the halves into @p (zeroed first); the middle nibbles OR together. */
QLB_INLINE void qlb__fp_join(union qlb__buf *p, __u32 L,
			     const union qlb__blk *h)
{
	__u32 off = L - ((L + 1) >> 1);
	int i;

	qlb__hide(off);
	p->q[0] = h[0].q[0];
	p->q[1] = h[0].q[1];
	p->q[2] = 0;
	p->q[3] = 0;
	for (i = 0; i < 10; i++)
		p->b[(off + i) & 31] |= h[1].b[i];
}

/**
 * qlb_cid_encode() - build a CID.
 * @c: a config filled by qlb_cid_cfg_init().
 * @sid: c->sid_len bytes of server ID.
 * @nonce: c->nonce_len bytes.
 * @low5: the first octet's low 5 bits when the config does not self-encode
 *        the length (callers pass random bits); ignored otherwise.
 * @out: QLB_CID_MAX_LEN bytes; bytes past the CID are zeroed.
 * Return: the CID length, or -1 when @c is not a valid config.
 */
QLB_INLINE int qlb_cid_encode(const struct qlb_cid_cfg *c, const __u8 *sid,
			      const __u8 *nonce, __u8 low5, __u8 *out)
{
	__u32 sl = c->sid_len, nl = c->nonce_len, L = sl + nl;
	union qlb__buf p;
	__u32 i;

	if (!qlb_cid_cfg_valid(c))
		return -1;
	p.q[0] = p.q[1] = p.q[2] = p.q[3] = 0;
	/* read only the caller's bytes: its buffers may be exactly that long */
	for (i = 0; i < QLB_SID_MAX_LEN; i++)
		if (qlb__may_read(i, sl))
			p.b[i] = sid[i] & qlb__lt(i, sl);
	/* OR into zeroes: a masked byte that lands anywhere changes nothing */
	for (i = 0; i < QLB_NONCE_MAX_LEN; i++)
		if (qlb__may_read(i, nl))
			p.b[(sl + i) & 31] |= nonce[i] & qlb__lt(i, nl);

	if (!(c->flags & QLB_CID_F_KEY)) {
		/* plaintext: p is the CID body already */
	} else if (L == 16) {
		qlb_aes_encrypt(c->enc_rk, p.b, p.b);
	} else {
		union qlb__blk m[2], h[2];
		__u32 pass;

		qlb__fp_masks(L, m);
		qlb__fp_split(&p, L, h, m);
		/* odd passes update the right half from the left, even the reverse */
		for (pass = 1; pass <= 4; pass++)
			qlb__fp_pass(c->enc_rk, &h[pass & 1], &h[(pass & 1) ^ 1],
				     &m[pass & 1], L, pass);
		qlb__fp_join(&p, L, h);
	}
	out[0] = (__u8)(c->id << 5) |
		 ((c->flags & QLB_CID_F_ENCODE_LEN) ? (__u8)L : (low5 & 0x1f));
	for (i = 0; i < QLB_PT_MAX_LEN; i++)
		out[1 + i] = p.b[i];
	return (int)L + 1;
}

/*
 * The plaintext of @cid into @p (zero past L). With @sid_only, a four-pass
 * CID whose server ID fits the left half stops after three passes and @p
 * then holds only the server ID's bytes.
 */
QLB_INLINE void qlb__cid_open(const struct qlb_cid_cfg *c, const __u8 *cid,
			      union qlb__buf *p, int sid_only)
{
	__u32 sl = c->sid_len, nl = c->nonce_len, L = sl + nl;
	int i;

	p->q[0] = p->q[1] = p->q[2] = p->q[3] = 0;
	/* bytes past the CID may be anything: keep only L of them */
	for (i = 0; i < QLB_PT_MAX_LEN; i++)
		p->b[i] = cid[1 + i] & qlb__lt(i, L);

	if (!(c->flags & QLB_CID_F_KEY)) {
		/* plaintext */
	} else if (L == 16) {
		qlb_aes_decrypt(c->dec_rk, p->b, p->b);
	} else {
		union qlb__blk m[2], h[2];
		__u32 k, pass;

		qlb__fp_masks(L, m);
		qlb__fp_split(p, L, h, m);
		for (k = 0; k < 4; k++) {
			pass = 4 - k;
			/* left0 already holds the whole server ID */
			if (pass == 1 && sid_only && sl <= nl)
				break;
			qlb__fp_pass(c->enc_rk, &h[pass & 1], &h[(pass & 1) ^ 1],
				     &m[pass & 1], L, pass);
		}
		qlb__fp_join(p, L, h);
	}
}

/**
 * qlb_cid_decode_sid() - the server ID of a CID.
 * @c: the CID's config (the caller has checked the config bits and that
 *     the CID is at least qlb_cid_len(c) bytes).
 * @cid: a QLB_CID_MAX_LEN-byte buffer starting with the CID; bytes past
 *       the CID may be anything.
 * @sid_out: QLB_SID_MAX_LEN bytes; bytes past c->sid_len are zeroed.
 * Return: 0, or -1 (and @sid_out zeroed) when @c is not a valid config.
 */
QLB_INLINE int qlb_cid_decode_sid(const struct qlb_cid_cfg *c, const __u8 *cid,
				  __u8 *sid_out)
{
	union qlb__buf p;
	__u32 sl = c->sid_len;
	int i;

	if (!qlb_cid_cfg_valid(c)) {
		for (i = 0; i < QLB_SID_MAX_LEN; i++)
			sid_out[i] = 0;
		return -1;
	}
	qlb__cid_open(c, cid, &p, 1);
	for (i = 0; i < QLB_SID_MAX_LEN; i++)
		sid_out[i] = p.b[i] & qlb__lt(i, sl);
	return 0;
}

/**
 * qlb_cid_decode() - server ID and nonce of a CID.
 * @c, @cid, @sid_out: as for qlb_cid_decode_sid().
 * @nonce_out: QLB_NONCE_MAX_LEN bytes; bytes past c->nonce_len are zeroed.
 * Return: 0, or -1 (outputs zeroed) when @c is not a valid config.
 */
QLB_INLINE int qlb_cid_decode(const struct qlb_cid_cfg *c, const __u8 *cid,
			      __u8 *sid_out, __u8 *nonce_out)
{
	union qlb__buf p;
	__u32 sl = c->sid_len, nl = c->nonce_len;
	int i, ok = qlb_cid_cfg_valid(c);

	if (ok)
		qlb__cid_open(c, cid, &p, 0);
	else
		p.q[0] = p.q[1] = p.q[2] = p.q[3] = 0;
	for (i = 0; i < QLB_SID_MAX_LEN; i++)
		sid_out[i] = p.b[i] & qlb__lt(i, sl);
	for (i = 0; i < QLB_NONCE_MAX_LEN; i++)
		nonce_out[i] = p.b[(sl + i) & 31] & qlb__lt(i, nl);
	return ok ? 0 : -1;
}

/**
 * qlb_sid_host_part() - clear the worker bits of a server ID in place.
 * @sid: the server ID, big endian: the worker bits are its lowest
 *       c->worker_bits bits (0..16), so they sit in its last two bytes.
 *       QLB_SID_MAX_LEN bytes in BPF; bytes past c->sid_len are unchanged.
 */
QLB_INLINE void qlb_sid_host_part(const struct qlb_cid_cfg *c, __u8 *sid)
{
	__u32 sl = c->sid_len, wm = (1u << (c->worker_bits & 15)) - 1;
	__u32 i;

	if (c->worker_bits >= 16)
		wm = 0xffff;
	for (i = 0; i < QLB_SID_MAX_LEN; i++) {
		/* byte i is the (sl-1-i)th from the end; only the last two
		 * (i < sl <= i + 2) hold worker bits */
		__u32 clear = (wm >> (8 * ((sl - 1 - i) & 1))) & 0xff &
			      qlb__lt32(i, sl) & ~qlb__lt32(i + 2, sl);

		if (qlb__may_read(i, sl))
			sid[i] &= (__u8)~clear;
	}
}

/**
 * qlb_sid_worker() - the worker bits of a server ID (see qlb_sid_host_part).
 * Return: the low c->worker_bits bits of @sid as a number.
 */
QLB_INLINE __u32 qlb_sid_worker(const struct qlb_cid_cfg *c, const __u8 *sid)
{
	__u32 sl = c->sid_len, wm = (1u << (c->worker_bits & 15)) - 1;
	__u32 i, v = 0;

	if (c->worker_bits >= 16)
		wm = 0xffff;
	for (i = 0; i < QLB_SID_MAX_LEN; i++) {
		__u32 in = qlb__lt32(i, sl);

		/* shift byte i in while i < sl; the last bytes stay in v */
		if (qlb__may_read(i, sl))
			v = (((v << 8) | sid[i]) & in) | (v & ~in);
	}
	return v & wm;
}

#endif /* QLB_CID_H */
