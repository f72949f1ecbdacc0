// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_codec_test: runs the QUIC-LB codec inside the kernel so that tests
 * can compare the BPF build with the user-space one (BPF_PROG_TEST_RUN).
 * The packet is a struct qlb_codec_test_pkt; the program copies the CID
 * (or sid/nonce) to the stack as the data path does, calls the codec, and
 * writes the results back into the packet.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qlb/cid.h"
#include "qlb_codec_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qlb_cid_cfg);
} qlb_codec_test_cfg SEC(".maps");

SEC("xdp")
int qlb_codec_test(struct xdp_md *ctx)
{
	struct qlb_codec_test_pkt *pk = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	const struct qlb_cid_cfg *c;
	__u8 cid[QLB_CID_MAX_LEN], sid[QLB_SID_MAX_LEN];
	__u8 nonce[QLB_NONCE_MAX_LEN];
	__u32 key = 0;

	if ((void *)(pk + 1) > end)
		return XDP_ABORTED;
	c = bpf_map_lookup_elem(&qlb_codec_test_cfg, &key);
	if (!c)
		return XDP_ABORTED;
	__builtin_memcpy(cid, pk->cid, sizeof(cid));

	switch (pk->op) {
	case QLB_CT_DECODE:
		pk->ret = qlb_cid_decode(c, cid, sid, nonce);
		__builtin_memcpy(pk->sid, sid, sizeof(sid));
		__builtin_memcpy(pk->nonce, nonce, sizeof(nonce));
		break;
	case QLB_CT_DECODE_SID:
		pk->ret = qlb_cid_decode_sid(c, cid, sid);
		__builtin_memcpy(pk->sid, sid, sizeof(sid));
		break;
	case QLB_CT_SID_PARTS:
		__builtin_memcpy(sid, pk->sid, sizeof(sid));
		pk->worker = qlb_sid_worker(c, sid);
		qlb_sid_host_part(c, sid);
		__builtin_memcpy(pk->host_sid, sid, sizeof(sid));
		pk->ret = 0;
		break;
	case QLB_CT_ROUTE:
		pk->ret = qlb_cid_decode_sid(c, cid, sid);
		pk->worker = qlb_sid_worker(c, sid);
		qlb_sid_host_part(c, sid);
		__builtin_memcpy(pk->host_sid, sid, sizeof(sid));
		break;
	case QLB_CT_ENCODE:
		__builtin_memcpy(sid, pk->sid, sizeof(sid));
		__builtin_memcpy(nonce, pk->nonce, sizeof(nonce));
		pk->ret = qlb_cid_encode(c, sid, nonce, pk->low5, cid);
		__builtin_memcpy(pk->cid, cid, sizeof(cid));
		break;
	case QLB_CT_AES_ENC:
	case QLB_CT_AES_DEC: {
		__u64 blk[2]; /* AES wants aligned blocks in BPF */

		__builtin_memcpy(blk, cid, 16);
		if (pk->op == QLB_CT_AES_ENC)
			qlb_aes_encrypt(c->enc_rk, (__u8 *)blk, (__u8 *)blk);
		else
			qlb_aes_decrypt(c->dec_rk, (__u8 *)blk, (__u8 *)blk);
		__builtin_memcpy(pk->cid, blk, 16);
		pk->ret = 0;
		break;
	}
	default:
		pk->ret = cid[0];
		break;
	}
	return XDP_TX;
}
