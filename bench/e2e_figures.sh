#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# End-to-end figures on the test fleet (tests/e2e/lib/fleet.sh), in one run:
#   - time to first byte and download throughput of the same requests made
#     by the same unmodified client (gtlsclient) through qlb (router -> LB
#     node -> encapsulated -> host) and directly to one host (router ->
#     host), alternating, with the ratio;
#   - the LB node's XDP program's CPU time per packet during the downloads
#     through qlb (kernel.bpf_stats_enabled: run_time_ns / run_cnt).
# It prints figures and never fails on a time. Needs root.
# Usage: BUILD=build bench/e2e_figures.sh   [ROUNDS=5 SIZE=50000000]
. "$(dirname "$0")/../tests/e2e/lib/scenarios.sh"

ROUNDS=${ROUNDS:-5}
SIZE=${SIZE:-50000000}

fleet_require_lb
fleet_up figures

prev_stats=$(sysctl -n kernel.bpf_stats_enabled)
E2E_CLEANUP_CMDS+=("sysctl -qw kernel.bpf_stats_enabled=$prev_stats")
sysctl -qw kernel.bpf_stats_enabled=1

prog_id=$(ip -n "$(fleet_ns lb1)" link show eth0 | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p')
[ -n "$prog_id" ] || e2e_fail "no XDP program on lb1"
prog_stat() {	# run_time_ns run_cnt of the LB program
	bpftool -j prog show id "$prog_id" | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

# fetch VIA KIND: one request; prints milliseconds (or "fail").
fetch() {
	local via=$1 what=$2 out t0 t1
	out=$FLEET_DIR/fig-$via-$RANDOM
	t0=$(date +%s%N)
	if ! fleet_get "$out" 60 "$what" >/dev/null 2>&1; then
		echo fail
		return
	fi
	t1=$(date +%s%N)
	rm -rf "$out"
	echo $(((t1 - t0) / 1000))
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A TTFB THRU
lb_ns=0
lb_cnt=0
e2e_log "measuring: $ROUNDS rounds of /whoami and /bytes/$SIZE, via lb1 and direct to h1, alternating"
for r in $(seq 1 "$ROUNDS"); do
	for via in lb1 h1; do
		fleet_route_vip "$via"
		# warm the route (neighbour entries) before timing
		fleet_get "$FLEET_DIR/warm" 20 /whoami >/dev/null 2>&1
		t=$(fetch "$via" /whoami)
		[ "$t" != fail ] && TTFB[$via]+="$t "
		read -r ns0 c0 < <(prog_stat)
		t=$(fetch "$via" "/bytes/$SIZE")
		read -r ns1 c1 < <(prog_stat)
		[ "$t" != fail ] && THRU[$via]+="$t "
		if [ "$via" = lb1 ]; then
			lb_ns=$((lb_ns + ns1 - ns0))
			lb_cnt=$((lb_cnt + c1 - c0))
		fi
	done
done

ttfb_lb=$(tr ' ' '\n' <<<"${TTFB[lb1]:-}" | grep . | median)
ttfb_h=$(tr ' ' '\n' <<<"${TTFB[h1]:-}" | grep . | median)
dl_lb=$(tr ' ' '\n' <<<"${THRU[lb1]:-}" | grep . | median)
dl_h=$(tr ' ' '\n' <<<"${THRU[h1]:-}" | grep . | median)

echo
echo "qlb end-to-end figures ($ROUNDS rounds, medians; same client, same servers, same run)"
echo "LB node XDP mode: ${FLEET_XDP_MODE:-generic}; client link shaped: no; links are veth"
awk -v tl="$ttfb_lb" -v th="$ttfb_h" -v dl="$dl_lb" -v dh="$dl_h" -v size="$SIZE" \
	-v ns="$lb_ns" -v cnt="$lb_cnt" 'BEGIN {
	printf "%-22s %14s %16s\n", "path", "TTFB ms", "download MB/s"
	printf "%-22s %14.2f %16.1f\n", "via qlb (lb1)", tl / 1000, size / dl
	printf "%-22s %14.2f %16.1f\n", "direct to h1", th / 1000, size / dh
	printf "%-22s %14.3f %16.3f\n", "ratio qlb / direct", tl / th, (size / dl) / (size / dh)
	if (cnt > 0)
		printf "LB program (bpf_stats over the downloads via qlb): %d packets, %.1f ns/packet\n", cnt, ns / cnt
	else
		printf "LB program: no packets counted\n"
}'
echo "TTFB = wall time of one gtlsclient run fetching /whoami (process start,"
echo "handshake, one request); download = wall time of one /bytes/$SIZE fetch."
