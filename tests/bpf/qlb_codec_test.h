/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The packet that tests/bpf/qlb_codec_test.bpf.c reads and rewrites, shared
 * with its drivers (tests/unit/test_codec_bpf.c, bench/bench_codec.c).
 * The codec config sits in the qlb_codec_test_cfg array map, key 0.
 */
#ifndef QLB_CODEC_TEST_H
#define QLB_CODEC_TEST_H

#include "qlb/cid.h"

enum qlb_codec_test_op {
	QLB_CT_DECODE = 0,     /* cid -> sid, nonce (qlb_cid_decode) */
	QLB_CT_DECODE_SID = 1, /* cid -> sid (qlb_cid_decode_sid) */
	QLB_CT_ENCODE = 2,     /* sid, nonce, low5 -> cid (qlb_cid_encode) */
	QLB_CT_NOP = 3,	       /* copy the CID in and do nothing: a baseline */
	QLB_CT_AES_ENC =
		4, /* cid[0..16) = AES-128-Encrypt(enc_rk, cid[0..16)) */
	QLB_CT_AES_DEC =
		5, /* cid[0..16) = AES-128-Decrypt(dec_rk, cid[0..16)) */
	QLB_CT_SID_PARTS = 6, /* sid -> worker (qlb_sid_worker), host_sid
				 (qlb_sid_host_part) */
	QLB_CT_ROUTE =
		7, /* what a data path does: decode_sid, worker, host part */
};

struct qlb_codec_test_pkt {
	__u8 cid[QLB_CID_MAX_LEN];
	__u8 op;   /* enum qlb_codec_test_op */
	__u8 low5; /* QLB_CT_ENCODE input */
	__u8 pad[2];
	__s32 ret;    /* what the codec function returned */
	__u32 worker; /* qlb_sid_worker() */
	__u8 sid[16];
	__u8 host_sid[16]; /* qlb_sid_host_part() */
	__u8 nonce[20];
};
_Static_assert(sizeof(struct qlb_codec_test_pkt) == 84, "test packet layout");

#endif
