/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * AES-128 (FIPS-197) for the QUIC-LB codec, written once for BPF and user
 * space. T-table form: a round is 16 table lookups indexed by state bytes,
 * which the verifier accepts (a u8 index into a static const array, i.e.
 * .rodata) and which runs far faster than a byte-wise S-box cipher.
 *
 * State and round keys are little-endian 32-bit column words: column c is
 * bytes 4c..4c+3 of the block, byte 4c in the low 8 bits. So the round-key
 * bytes (struct qlb_cid_cfg.enc_rk/dec_rk) are the standard AES key schedule
 * in byte order, whatever the host's endianness.
 *
 * The tables (te: forward round columns, td: inverse round columns, isbox:
 * the inverse S-box) are in qlb/aes_tables.h, which says how they are laid
 * out.
 *
 * The state lives in four 32-bit words and bytes are shifted out of them.
 * (Keeping it in a stack buffer and loading bytes, which BPF does in one
 * instruction, measured about 8% slower in BPF, though it saves a few
 * bytes of stack.)
 * Decryption uses the equivalent inverse cipher (FIPS-197 5.3.5), whose
 * round keys qlb_aes_inv_key() derives from the encryption schedule.
 *
 * Timing: table lookups depend on key and data, so this is not constant
 * time against an attacker who shares the CPU cache; the QUIC-LB key only
 * hides server IDs from observers on the network (see docs/cid.md).
 *
 * BPF: block buffers passed to qlb_aes_encrypt/decrypt must be 4-byte
 * aligned (stack accesses are checked for alignment); the codec keeps its
 * blocks in unions with 64-bit members for that.
 */
#ifndef QLB_AES_H
#define QLB_AES_H

#include "qlb/compat.h"
#include "qlb/aes_tables.h"

#define QLB_AES_BLOCK  16
#define QLB_AES_ROUNDS 10

/* Load/store a little-endian 32-bit column word. */
QLB_INLINE __u32 qlb_aes_ld32(const __u8 *p)
{
	__u32 v;

#ifdef __bpf__
	v = *(const __u32 *)p; /* aligned by contract: no byte-wise loads */
#else
	memcpy(&v, p, 4);
#endif
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

QLB_INLINE void qlb_aes_st32(__u8 *p, __u32 v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
#ifdef __bpf__
	*(__u32 *)p = v;
#else
	memcpy(p, &v, 4);
#endif
}

/* S[x] (the forward S-box) is byte 0 of te[x][2]. */
QLB_INLINE __u32 qlb_aes_sub_word(__u32 w)
{
	return (qlb_aes_te[w & 0xff][2] & 0xff) |
	       (qlb_aes_te[(w >> 8) & 0xff][3] & 0xff00) |
	       (qlb_aes_te[(w >> 16) & 0xff][0] & 0xff0000) |
	       (qlb_aes_te[w >> 24][1] & 0xff000000);
}

/**
 * qlb_aes_expand_key() - AES-128 key schedule.
 * @key: 16 bytes.
 * @rk: 176 bytes out: the 11 round keys in byte order.
 */
QLB_INLINE void qlb_aes_expand_key(const __u8 *key, __u8 *rk)
{
	__u32 w0 = qlb_aes_ld32(key), w1 = qlb_aes_ld32(key + 4);
	__u32 w2 = qlb_aes_ld32(key + 8), w3 = qlb_aes_ld32(key + 12);
	__u32 rcon = 1;
	int r;

	qlb_aes_st32(rk, w0);
	qlb_aes_st32(rk + 4, w1);
	qlb_aes_st32(rk + 8, w2);
	qlb_aes_st32(rk + 12, w3);
	for (r = 1; r <= QLB_AES_ROUNDS; r++) {
		/* RotWord moves byte 1 to byte 0: a right rotation here. */
		w0 ^= qlb_aes_sub_word((w3 >> 8) | (w3 << 24)) ^ rcon;
		w1 ^= w0;
		w2 ^= w1;
		w3 ^= w2;
		qlb_aes_st32(rk + 16 * r, w0);
		qlb_aes_st32(rk + 16 * r + 4, w1);
		qlb_aes_st32(rk + 16 * r + 8, w2);
		qlb_aes_st32(rk + 16 * r + 12, w3);
		rcon = (rcon << 1) ^ ((rcon >> 7) * 0x11b);
	}
}

/* InvMixColumns of one column: td holds Si, so undo it with S first. */
QLB_INLINE __u32 qlb_aes_inv_mix(__u32 w)
{
	return qlb_aes_td[qlb_aes_te[w & 0xff][2] & 0xff][0] ^
	       qlb_aes_td[qlb_aes_te[(w >> 8) & 0xff][2] & 0xff][1] ^
	       qlb_aes_td[qlb_aes_te[(w >> 16) & 0xff][2] & 0xff][2] ^
	       qlb_aes_td[qlb_aes_te[w >> 24][2] & 0xff][3];
}

/**
 * qlb_aes_inv_key() - round keys of the equivalent inverse cipher.
 * @rk: 176 bytes from qlb_aes_expand_key().
 * @dk: 176 bytes out (must not overlap @rk).
 */
QLB_INLINE void qlb_aes_inv_key(const __u8 *rk, __u8 *dk)
{
	int r, i;

	for (i = 0; i < 16; i += 4) {
		qlb_aes_st32(dk + i, qlb_aes_ld32(rk + 160 + i));
		qlb_aes_st32(dk + 160 + i, qlb_aes_ld32(rk + i));
	}
	for (r = 1; r < QLB_AES_ROUNDS; r++)
		for (i = 0; i < 16; i += 4)
			qlb_aes_st32(
				dk + 16 * r + i,
				qlb_aes_inv_mix(qlb_aes_ld32(
					rk + 16 * (QLB_AES_ROUNDS - r) + i)));
}

/* The state: column c is st.w[c]; QLB_AES_B(c, r) is its row-r byte. */
union qlb_aes_state {
	__u32 w[4];
};

#define QLB_AES_B(c, r) ((st.w[(c)&3] >> (8 * (r))) & 0xff)

/* One middle round's column c (ShiftRows picks column c + r for row r). */
#define QLB_AES_EROUND(c)                                                      \
	(qlb_aes_te[QLB_AES_B(c, 0)][0] ^                                      \
	 qlb_aes_te[QLB_AES_B((c) + 1, 1)][1] ^                                \
	 qlb_aes_te[QLB_AES_B((c) + 2, 2)][2] ^                                \
	 qlb_aes_te[QLB_AES_B((c) + 3, 3)][3])
#define QLB_AES_ELAST(c)                                                       \
	((qlb_aes_te[QLB_AES_B(c, 0)][2] & 0xff) |                             \
	 (qlb_aes_te[QLB_AES_B((c) + 1, 1)][3] & 0xff00) |                     \
	 (qlb_aes_te[QLB_AES_B((c) + 2, 2)][0] & 0xff0000) |                   \
	 (qlb_aes_te[QLB_AES_B((c) + 3, 3)][1] & 0xff000000))
/* InvShiftRows picks column c - r, i.e. c + 4 - r. */
#define QLB_AES_DROUND(c)                                                      \
	(qlb_aes_td[QLB_AES_B(c, 0)][0] ^                                      \
	 qlb_aes_td[QLB_AES_B((c) + 3, 1)][1] ^                                \
	 qlb_aes_td[QLB_AES_B((c) + 2, 2)][2] ^                                \
	 qlb_aes_td[QLB_AES_B((c) + 1, 3)][3])
#define QLB_AES_DLAST(c)                                                       \
	((__u32)qlb_aes_isbox[QLB_AES_B(c, 0)] |                               \
	 ((__u32)qlb_aes_isbox[QLB_AES_B((c) + 3, 1)] << 8) |                  \
	 ((__u32)qlb_aes_isbox[QLB_AES_B((c) + 2, 2)] << 16) |                 \
	 ((__u32)qlb_aes_isbox[QLB_AES_B((c) + 1, 3)] << 24))

/**
 * qlb_aes_encrypt() - encrypt one block.
 * @rk: round keys from qlb_aes_expand_key().
 * @in, @out: 16 bytes each, may be the same buffer; 4-byte aligned in BPF.
 */
QLB_INLINE void qlb_aes_encrypt(const __u8 *rk, const __u8 *in, __u8 *out)
{
	union qlb_aes_state st;
	__u32 t0, t1, t2, t3;
	int r;

	st.w[0] = qlb_aes_ld32(in) ^ qlb_aes_ld32(rk);
	st.w[1] = qlb_aes_ld32(in + 4) ^ qlb_aes_ld32(rk + 4);
	st.w[2] = qlb_aes_ld32(in + 8) ^ qlb_aes_ld32(rk + 8);
	st.w[3] = qlb_aes_ld32(in + 12) ^ qlb_aes_ld32(rk + 12);
	for (r = 1; r < QLB_AES_ROUNDS; r++) {
		rk += 16;
		t0 = QLB_AES_EROUND(0) ^ qlb_aes_ld32(rk);
		t1 = QLB_AES_EROUND(1) ^ qlb_aes_ld32(rk + 4);
		t2 = QLB_AES_EROUND(2) ^ qlb_aes_ld32(rk + 8);
		t3 = QLB_AES_EROUND(3) ^ qlb_aes_ld32(rk + 12);
		st.w[0] = t0;
		st.w[1] = t1;
		st.w[2] = t2;
		st.w[3] = t3;
	}
	rk += 16;
	/* no MixColumns in the last round: the S-box byte of each table */
	t0 = QLB_AES_ELAST(0) ^ qlb_aes_ld32(rk);
	t1 = QLB_AES_ELAST(1) ^ qlb_aes_ld32(rk + 4);
	t2 = QLB_AES_ELAST(2) ^ qlb_aes_ld32(rk + 8);
	t3 = QLB_AES_ELAST(3) ^ qlb_aes_ld32(rk + 12);
	qlb_aes_st32(out, t0);
	qlb_aes_st32(out + 4, t1);
	qlb_aes_st32(out + 8, t2);
	qlb_aes_st32(out + 12, t3);
}

/**
 * qlb_aes_decrypt() - decrypt one block.
 * @dk: round keys from qlb_aes_inv_key().
 * @in, @out: 16 bytes each, may be the same buffer; 4-byte aligned in BPF.
 */
QLB_INLINE void qlb_aes_decrypt(const __u8 *dk, const __u8 *in, __u8 *out)
{
	union qlb_aes_state st;
	__u32 t0, t1, t2, t3;
	int r;

	st.w[0] = qlb_aes_ld32(in) ^ qlb_aes_ld32(dk);
	st.w[1] = qlb_aes_ld32(in + 4) ^ qlb_aes_ld32(dk + 4);
	st.w[2] = qlb_aes_ld32(in + 8) ^ qlb_aes_ld32(dk + 8);
	st.w[3] = qlb_aes_ld32(in + 12) ^ qlb_aes_ld32(dk + 12);
	for (r = 1; r < QLB_AES_ROUNDS; r++) {
		dk += 16;
		t0 = QLB_AES_DROUND(0) ^ qlb_aes_ld32(dk);
		t1 = QLB_AES_DROUND(1) ^ qlb_aes_ld32(dk + 4);
		t2 = QLB_AES_DROUND(2) ^ qlb_aes_ld32(dk + 8);
		t3 = QLB_AES_DROUND(3) ^ qlb_aes_ld32(dk + 12);
		st.w[0] = t0;
		st.w[1] = t1;
		st.w[2] = t2;
		st.w[3] = t3;
	}
	dk += 16;
	t0 = QLB_AES_DLAST(0) ^ qlb_aes_ld32(dk);
	t1 = QLB_AES_DLAST(1) ^ qlb_aes_ld32(dk + 4);
	t2 = QLB_AES_DLAST(2) ^ qlb_aes_ld32(dk + 8);
	t3 = QLB_AES_DLAST(3) ^ qlb_aes_ld32(dk + 12);
	qlb_aes_st32(out, t0);
	qlb_aes_st32(out + 4, t1);
	qlb_aes_st32(out + 8, t2);
	qlb_aes_st32(out + 12, t3);
}

#endif /* QLB_AES_H */
