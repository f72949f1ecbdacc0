/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The LB node's maps; keys, values and rules: include/qlb/abi/lb_abi.h. */
#ifndef QLB_XDP_MAPS_H
#define QLB_XDP_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qlb/abi/lb_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qlb_lb_ctrl);
} qlb_ctrl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_LB_SLOTS);
	__type(key, __u32);
	__type(value, struct qlb_lb_settings);
} qlb_settings_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_LB_SLOTS *QLB_LB_VIP_BUCKETS);
	__type(key, __u32);
	__type(value, struct qlb_lb_vip_ent);
} qlb_vips_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_LB_SLOTS *QLB_LB_MAX_SERVICES *QLB_CONFIG_MAX);
	__type(key, __u32);
	__type(value, struct qlb_lb_cid);
} qlb_cid_cfgs_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries,
	       QLB_LB_SLOTS *QLB_LB_VIP_BUCKETS *QLB_LB_VIP_CFG_IDS);
	__type(key, __u32);
	__type(value, struct qlb_lb_vip_cfg);
} qlb_vip_cfgs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_LB_SLOTS *QLB_LB_SID_BUCKETS);
	__type(key, __u32);
	__type(value, struct qlb_lb_sid_ent);
} qlb_sids_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_LB_SLOTS *QLB_LB_MAX_MEMBERS);
	__type(key, __u32);
	__type(value, struct qlb_lb_host);
} qlb_hosts_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_LB_SLOTS *QLB_LB_MAGLEV_POOL);
	__type(key, __u32);
	__type(value, __u32);
} qlb_maglev_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_LB_SLOTS *QLB_LB_MAGLEV_POOL);
	__type(key, __u32);
	__type(value, __u32);
} qlb_mglv_est_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QLB_LB_STATS_ROWS);
	__type(key, __u32);
	__type(value, struct qlb_lb_counter);
} qlb_stats_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QLB_LB_MAX_MEMBERS);
	__type(key, __u32);
	__type(value, struct qlb_lb_counter);
} qlb_host_stats_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QLB_LB_MAX_SERVICES *QLB_CONFIG_MAX);
	__type(key, __u32);
	__type(value, struct qlb_lb_counter);
} qlb_cfg_stats_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QLB_LB_CACHE_SIZE);
	__type(key, __u32);
	__type(value, struct qlb_lb_cache_ent);
} qlb_cid_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qlb_lb_trace);
} qlb_trace_rec SEC(".maps");

#endif /* QLB_XDP_MAPS_H */
