// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The baseline of bench/bench_rpsteer.sh: what nginx's quic_bpf helper
 * (ngx_quic_reuseport_helper.c) does per datagram, written the same way.
 * The server puts a socket's key (its cookie) in clear in the first eight
 * bytes of every CID it issues; the program reads them from the DCID
 * (short header: after the first octet, a fixed 20-byte CID; long header:
 * after the length octet, at least 8 bytes) and selects the socket with
 * that key from a SOCKHASH. Anything else: SK_PASS, the kernel hashes.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NGX_QUIC_PKT_LONG	0x80
#define NGX_QUIC_SERVER_CID_LEN 20

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} qlb_bench_sockmap SEC(".maps");

#define advance_data(nbytes)                                                   \
	do {                                                                   \
		offset += (nbytes);                                            \
		if (start + offset > end)                                      \
			goto failed;                                           \
		data = start + offset - 1;                                     \
	} while (0)

static __always_inline __u64 ngx_quic_parse_uint64(const unsigned char *p)
{
	return (__u64)p[0] << 56 | (__u64)p[1] << 48 | (__u64)p[2] << 40 |
	       (__u64)p[3] << 32 | (__u64)p[4] << 24 | (__u64)p[5] << 16 |
	       (__u64)p[6] << 8 | p[7];
}

SEC("sk_reuseport")
int qlb_bench_rp_nginx(struct sk_reuseport_md *ctx)
{
	unsigned char *start = ctx->data, *end = ctx->data_end, *data, *dcid;
	__u64 key, len, offset = 0;
	long rc;

	advance_data(8); /* UDP header */
	advance_data(1); /* QUIC flags */
	if (data[0] & NGX_QUIC_PKT_LONG) {
		advance_data(4); /* version */
		advance_data(1); /* DCID length */
		len = data[0];
		if (len < 8)
			return SK_PASS;
	} else {
		len = NGX_QUIC_SERVER_CID_LEN;
	}
	dcid = &data[1];
	advance_data(len);
	if (dcid + sizeof(__u64) > end)
		goto failed;
	key = ngx_quic_parse_uint64(dcid);
	rc = bpf_sk_select_reuseport(ctx, &qlb_bench_sockmap, &key, 0);
	if (rc == 0 || rc == -2 /* ENOENT: the kernel's hash decides */)
		return SK_PASS;
failed:
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
