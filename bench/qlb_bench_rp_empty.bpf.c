// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * An SK_REUSEPORT program that selects nothing (the kernel then hashes):
 * the baseline bench/bench_reuseport.sh measures qlb_reuseport_select
 * against, the same way (bpf_stats run_time_ns / run_cnt).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("sk_reuseport")
int qlb_bench_rp_empty(struct sk_reuseport_md *md)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
