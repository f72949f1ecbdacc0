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

#endif /* QLB_CID_H */
