// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The least an encapsulating XDP program does: grow the head by a GUE
 * header's worth (bpf_xdp_adjust_head) and transmit. bench/bench_xdp.c
 * prints it beside the empty program: the helper call alone is a large
 * share of the LB node's cost on some machines.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int qlb_bench_push(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, -28))
		return XDP_ABORTED;
	return XDP_TX;
}
