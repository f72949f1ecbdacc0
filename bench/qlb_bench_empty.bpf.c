// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The empty XDP program: the floor the LB node's cost is measured against
 * (bench/bench_xdp.c), and a pass-through that gives a veth peer the NAPI
 * context native XDP_TX needs (tests/lib/lb.sh).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int qlb_bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}
