// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_reuseport_select: the SK_REUSEPORT program of a backend host's QUIC
 * server group. It reads the destination CID of each datagram, decodes the
 * server ID with the shared QUIC-LB codec (plaintext and encrypted configs),
 * and hands the datagram to the socket of the worker the low worker_bits
 * bits name, so a connection keeps reaching its worker across migrations
 * and across server restarts (a draining generation keeps its worker IDs).
 *
 * Everything that is not a live CID of this host (client-chosen Initial
 * DCIDs, 0b111 CIDs, other hosts' server IDs, closed workers) goes to a
 * socket of the WORKING generation picked by a hash of the DCID: all
 * packets with one DCID meet one worker, and a draining generation never
 * receives a new connection.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qlb/host_abi.h"
#include "qlb/cid.h"

#define QLB_UDP_HLEN 8
/* Long header: first octet, version (4), DCID length (1), DCID (<= 20). */
#define QLB_HDR_READ	   26
#define QLB_LONG_DCID_OFF  6
#define QLB_SHORT_DCID_OFF 1
/* DCID bytes hashed when the length is unknown (short header, not ours). */
#define QLB_HASH_DEFAULT_LEN 8

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, QLB_HOST_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u64);
} qlb_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_CONFIG_MAX);
	__type(key, __u32);
	__type(value, struct qlb_host_cfg);
} qlb_hcfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * QLB_HOST_MAX_GROUPS);
	__type(key, struct qlb_group_key);
	__type(value, struct qlb_work_set);
} qlb_work SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QLB_HOST_MAX_GROUPS);
	__type(key, struct qlb_group_key);
	__type(value, __u32);
} qlb_worksel SEC(".maps");

/* Agent-only records, kept beside the data plane so they survive it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QLB_HOST_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct qlb_worker_rec);
} qlb_workers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QLB_HOST_MAX_GENS);
	__type(key, __u32);
	__type(value, struct qlb_gen_rec);
} qlb_gens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QLB_HOST_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} qlb_rp_stats SEC(".maps");

static __always_inline void qlb_rp_count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&qlb_rp_stats, &reason);

	if (c)
		*c += 1;
}

/*
 * qlb_dcid_hash() - FNV-1a over the first @len bytes of @cid (the rest of
 * the QLB_CID_MAX_LEN buffer is masked off first, so bytes that follow the
 * CID in the packet never change the result).
 */
static __always_inline __u32 qlb_dcid_hash(__u8 *cid, __u32 len)
{
	__u32 h = 2166136261u ^ len;
	int i;

#pragma unroll
	for (i = 0; i < QLB_CID_MAX_LEN; i++) {
		__u8 b = i < len ? cid[i] : 0;

		h = (h ^ b) * 16777619u;
	}
	return h;
}

/*
 * qlb_fallback() - select a socket of the working generation by @hash.
 * Probes a few neighbours when the hashed worker's socket just closed.
 * Return: SK_PASS always; without a selection the kernel hashes itself
 * (only when no working socket is left at all).
 */
static __always_inline int qlb_fallback(struct sk_reuseport_md *md, __u32 hash)
{
	struct qlb_group_key g = {};
	struct qlb_work_set *ws;
	struct bpf_sock *sk;
	__u32 *sel, n, idx, key;
	int i;

	/* the group is named by the bound address of the socket the lookup
	 * found (every member of a group has the same) */
	sk = md->sk;
	if (!sk)
		goto none;
	g.family = sk->family;
	g.port = sk->src_port;
	if (g.family == 2 /* AF_INET */) {
		g.addr[0] = sk->src_ip4;
	} else {
		g.addr[0] = sk->src_ip6[0];
		g.addr[1] = sk->src_ip6[1];
		g.addr[2] = sk->src_ip6[2];
		g.addr[3] = sk->src_ip6[3];
	}
	sel = bpf_map_lookup_elem(&qlb_worksel, &g);
	if (!sel)
		goto none;
	g.slot = *sel & 1;
	ws = bpf_map_lookup_elem(&qlb_work, &g);
	if (!ws)
		goto none;
	n = ws->nworkers;
	if (n == 0 || n > QLB_HOST_GEN_MAX)
		goto none;
	idx = hash % n;
	for (i = 0; i < QLB_HOST_FALLBACK_PROBES; i++) {
		/* the verifier needs the bound on every iteration; the empty
		 * asm keeps clang from dropping it as implied by idx < n */
		asm volatile("" : "+r"(idx));
		if (idx >= QLB_HOST_GEN_MAX)
			break;
		key = ws->workers[idx];
		if (bpf_sk_select_reuseport(md, &qlb_socks, &key, 0) == 0) {
			qlb_rp_count(QLB_RP_FB_SELECTED);
			return SK_PASS;
		}
		if (++idx >= n)
			idx = 0;
	}
none:
	qlb_rp_count(QLB_RP_FB_NONE);
	return SK_PASS;
}

SEC("sk_reuseport")
int qlb_reuseport_select(struct sk_reuseport_md *md)
{
	void *data = (void *)(long)md->data;
	void *data_end = (void *)(long)md->data_end;
	__u8 hdr[QLB_HDR_READ] = {};
	__u8 cid[QLB_CID_MAX_LEN];
	__u8 sid[16] = {};
	struct qlb_host_cfg *hc;
	__u32 plen, cr, clen, hlen, worker, reason;
	__u8 is_long;
	int i, diff = 0;

	if (md->len <= QLB_UDP_HLEN + 1) {
		reason = QLB_RP_FB_SHORT;
		hlen = 0;
		goto fallback_counted;
	}
	plen = md->len - QLB_UDP_HLEN;
	if (data + QLB_UDP_HLEN + QLB_HDR_READ <= data_end) {
		__builtin_memcpy(hdr, data + QLB_UDP_HLEN, QLB_HDR_READ);
	} else {
		/* short datagram or a non-linear skb: copy what there is */
		__u32 n = plen < QLB_HDR_READ ? plen : QLB_HDR_READ;

		if (data + QLB_UDP_HLEN + n > data_end)
			qlb_rp_count(QLB_RP_NONLINEAR);
		if (n < 1 || n > QLB_HDR_READ ||
		    bpf_skb_load_bytes(md, QLB_UDP_HLEN, hdr, n)) {
			reason = QLB_RP_FB_SHORT;
			hlen = 0;
			goto fallback_counted;
		}
	}

	is_long = !!(hdr[0] & 0x80);
	if (is_long) {
		hlen = hdr[5];
		if (hlen > QLB_CID_MAX_LEN)
			hlen = QLB_CID_MAX_LEN;
		__builtin_memcpy(cid, hdr + QLB_LONG_DCID_OFF, QLB_CID_MAX_LEN);
		/* keeps clang from merging the two copies into one with a
		 * variable stack offset, which the verifier refuses */
		asm volatile("" ::: "memory");
	} else {
		hlen = QLB_HASH_DEFAULT_LEN;
		__builtin_memcpy(cid, hdr + QLB_SHORT_DCID_OFF,
				 QLB_CID_MAX_LEN);
		asm volatile("" ::: "memory");
	}

	cr = qlb_cid_config_id(cid[0]);
	if (cr == QLB_CR_UNROUTABLE) {
		/* 0b111 CIDs self-encode their length */
		if (!is_long)
			hlen = (cid[0] & 0x1f) + 1;
		reason = QLB_RP_FB_UNROUTABLE;
		goto fallback;
	}
	hc = bpf_map_lookup_elem(&qlb_hcfg, &cr);
	if (!hc || !hc->present) {
		reason = is_long ? QLB_RP_FB_INITIAL : QLB_RP_FB_NO_CONFIG;
		goto fallback;
	}
	clen = qlb_cid_len(&hc->cid);
	if (!is_long)
		hlen = clen;
	if ((is_long && hdr[5] != clen) ||
	    ((hc->cid.flags & QLB_CID_F_ENCODE_LEN) &&
	     (cid[0] & 0x1f) != clen - 1)) {
		reason = is_long ? QLB_RP_FB_INITIAL : QLB_RP_FB_LENGTH;
		goto fallback;
	}
	if (!is_long && plen < 1 + clen) {
		reason = QLB_RP_FB_SHORT;
		goto fallback;
	}

	qlb_cid_decode_sid(&hc->cid, cid, sid);
	worker = qlb_sid_worker(&hc->cid, sid);
	qlb_sid_host_part(&hc->cid, sid);
#pragma unroll
	for (i = 0; i < 16; i++)
		diff |= sid[i] ^ hc->host_sid[i];
	if (diff) {
		reason = is_long ? QLB_RP_FB_INITIAL : QLB_RP_FB_FOREIGN;
		goto fallback;
	}
	if (worker >= QLB_HOST_MAX_WORKERS) {
		reason = QLB_RP_FB_WORKER_RANGE;
		goto fallback;
	}
	if (bpf_sk_select_reuseport(md, &qlb_socks, &worker, 0) == 0) {
		qlb_rp_count(QLB_RP_ROUTED);
		return SK_PASS;
	}
	reason = QLB_RP_FB_EMPTY_SLOT;

fallback:
	qlb_rp_count(reason);
	return qlb_fallback(md, qlb_dcid_hash(cid, hlen));
fallback_counted:
	qlb_rp_count(reason);
	return qlb_fallback(md, qlb_dcid_hash(hdr, hlen));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
