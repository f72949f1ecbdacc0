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

#define QLB_CID_MAX_LEN	  20 /* RFC 9000 limit */
#define QLB_PT_MAX_LEN	  19 /* sid_len + nonce_len */
#define QLB_SID_MIN_LEN	  1
#define QLB_SID_MAX_LEN	  15 /* 19 - minimum nonce */
#define QLB_NONCE_MIN_LEN 4
#define QLB_NONCE_MAX_LEN 18
#define QLB_CONFIG_MAX	  7   /* codepoints 0..6 */
#define QLB_CR_UNROUTABLE 7   /* 0b111: never routable */
#define QLB_AES_RK_LEN	  176 /* AES-128: 11 round keys */

/* qlb_cid_cfg.flags */
#define QLB_CID_F_KEY	     (1u << 0) /* encrypted: single or four pass */
#define QLB_CID_F_ENCODE_LEN (1u << 1) /* low 5 bits = CID length - 1 */

struct qlb_cid_cfg {
	__u8 id;	  /* config rotation codepoint, 0..6 */
	__u8 sid_len;	  /* server ID bytes, 1..15 */
	__u8 nonce_len;	  /* nonce bytes, 4..18; sid_len+nonce_len <= 19 */
	__u8 flags;	  /* QLB_CID_F_* */
	__u8 worker_bits; /* low bits of the server ID that name a worker */
	__u8 pad[3];
	__u8 enc_rk[QLB_AES_RK_LEN]; /* AES-128 encryption round keys */
	__u8 dec_rk[QLB_AES_RK_LEN]; /* decryption round keys (single pass) */
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
/* Bytes stored, words loaded: through memory, not assembled in registers
 * (which runs out of BPF's ten and spills every byte). */
#define qlb__sync(p) asm volatile("" : : "r"(p) : "memory")
/* BPF callers pass full-size buffers (QLB_SID_MAX_LEN, QLB_NONCE_MAX_LEN):
 * every byte is read and the unwanted ones masked, no branch. */
#define qlb__may_read(i, n) 1
#else
#define qlb__hide(x)	    ((void)0)
#define qlb__sync(p)	    ((void)0)
/* user-space buffers may be exactly as long as the config says */
#define qlb__may_read(i, n) ((i) < (n))
#endif

/* All ones when a - b is negative as a 32-bit signed number (a < b for
 * small values; a < 0 for a "signed" a when b is 0), else 0. */
QLB_INLINE __u32 qlb__lt32(__u32 a, __u32 b)
{
	__u32 d = a - b, m;

	qlb__hide(d);
	m = (__u32)((__s32)d >> 31);
	qlb__hide(m); /* else "m ? x : y" patterns become branches again */
	return m;
}

/* 0xff when a < b, else 0. */
QLB_INLINE __u8 qlb__lt(__u32 a, __u32 b)
{
	return (__u8)qlb__lt32(a, b);
}

/* @d (a small signed value in a u32) clamped to 0..8. */
QLB_INLINE __u32 qlb__clamp8(__u32 d)
{
	__u32 big;

	d &= ~qlb__lt32(d, 0);	/* negative: 0 */
	big = ~qlb__lt32(d, 9); /* above 8: 8 */
	return (d & ~big) | (8 & big);
}

/* A u64 whose first @n (0..8) bytes in memory are 0xff, the rest zero. */
QLB_INLINE __u64 qlb__head64(__u32 n)
{
	__u64 all = (__u64)(__s64)(__s32)qlb__lt32(7, n); /* n == 8 */

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return ~(~(__u64)0 >> ((8 * n) & 63)) | all;
#else
	return (((__u64)1 << ((8 * n) & 63)) - 1) | all;
#endif
}

/* @v (a byte) placed at byte @k (0..7) in memory of a u64. */
QLB_INLINE __u64 qlb__at64(__u32 k, __u64 v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return v << ((56 - 8 * k) & 63);
#else
	return v << ((8 * k) & 63);
#endif
}

/* Keep only the first @n bytes of a 16-byte block. */
QLB_INLINE void qlb__keep16(__u64 *q, __u32 n)
{
	q[0] &= qlb__head64(qlb__clamp8(n));
	q[1] &= qlb__head64(qlb__clamp8(n - 8));
}

/*
 * Masks of the four-pass halves (H = ceil(L/2) bytes each): for odd L the
 * middle byte is split, left keeping its high nibble and right its low one.
 * Words, not a byte loop: this runs on every decode.
 */
QLB_INLINE void qlb__fp_masks(__u32 L, union qlb__blk *m)
{
	__u32 H = (L + 1) >> 1, j = H - 1;    /* j: left's last byte, 2..9 */
	__u64 nib = (__u64)(-(L & 1) & 0x0f); /* 0x0f when L is odd */
	__u64 in0 = (__u64)(__s64)(__s32)qlb__lt32(j, 8); /* j in word 0 */
	__u64 cut = qlb__at64(j & 7, nib);

	m[0].q[0] = m[1].q[0] = ~(__u64)0;
	m[0].q[1] = m[1].q[1] = ~(__u64)0;
	qlb__keep16(m[0].q, H);
	qlb__keep16(m[1].q, H);
	m[0].q[0] &= ~(cut & in0);
	m[0].q[1] &= ~(cut & ~in0);
	m[1].q[0] &= ~qlb__at64(0, nib << 4);
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
			p.b[i] = sid[i];
	qlb__sync(&p);
	qlb__keep16(p.q, sl);
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
		/* odd passes update the right half from the left, even the
		 * reverse */
		for (pass = 1; pass <= 4; pass++)
			qlb__fp_pass(c->enc_rk, &h[pass & 1],
				     &h[(pass & 1) ^ 1], &m[pass & 1], L, pass);
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
			qlb__fp_pass(c->enc_rk, &h[pass & 1],
				     &h[(pass & 1) ^ 1], &m[pass & 1], L, pass);
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
	qlb__keep16(p.q, sl);
	for (i = 0; i < QLB_SID_MAX_LEN; i++)
		sid_out[i] = p.b[i];
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
	for (i = 0; i < QLB_NONCE_MAX_LEN; i++)
		nonce_out[i] = p.b[(sl + i) & 31] & qlb__lt(i, nl);
	qlb__keep16(p.q, sl);
	for (i = 0; i < QLB_SID_MAX_LEN; i++)
		sid_out[i] = p.b[i];
	return ok ? 0 : -1;
}

/* The server ID into a zeroed 32-byte buffer: then its last bytes are at
 * (sl - 1) & 31 and (sl - 2) & 31, a zero byte when sl is 1. */
QLB_INLINE void qlb__sid_load(const struct qlb_cid_cfg *c, const __u8 *sid,
			      union qlb__buf *u)
{
	__u32 i;

	u->q[0] = u->q[1] = u->q[2] = u->q[3] = 0;
	for (i = 0; i < QLB_SID_MAX_LEN; i++)
		if (qlb__may_read(i, c->sid_len))
			u->b[i] = sid[i];
}

/* The low worker_bits bits as a mask; worker_bits <= 16. */
QLB_INLINE __u32 qlb__worker_mask(const struct qlb_cid_cfg *c)
{
	__u32 wb = c->worker_bits;

	return wb >= 16 ? 0xffff : (1u << (wb & 15)) - 1;
}

/**
 * qlb_sid_host_part() - clear the worker bits of a server ID in place.
 * @sid: the server ID, big endian: the worker bits are its lowest
 *       c->worker_bits bits (0..16), so they sit in its last two bytes.
 *       QLB_SID_MAX_LEN bytes in BPF; bytes past c->sid_len are unchanged.
 */
QLB_INLINE void qlb_sid_host_part(const struct qlb_cid_cfg *c, __u8 *sid)
{
	__u32 sl = c->sid_len, wm = qlb__worker_mask(c), i;
	union qlb__buf u;

	qlb__sid_load(c, sid, &u);
	u.b[(sl - 1) & 31] &= (__u8)~wm;
	u.b[(sl - 2) & 31] &= (__u8) ~(wm >> 8);
	for (i = 0; i < QLB_SID_MAX_LEN; i++)
		if (qlb__may_read(i, sl))
			sid[i] = u.b[i];
}

/**
 * qlb_sid_worker() - the worker bits of a server ID (see qlb_sid_host_part).
 * Return: the low c->worker_bits bits of @sid as a number.
 */
QLB_INLINE __u32 qlb_sid_worker(const struct qlb_cid_cfg *c, const __u8 *sid)
{
	__u32 sl = c->sid_len;
	union qlb__buf u;

	qlb__sid_load(c, sid, &u);
	return ((__u32)u.b[(sl - 2) & 31] << 8 | u.b[(sl - 1) & 31]) &
	       qlb__worker_mask(c);
}

#endif /* QLB_CID_H */
