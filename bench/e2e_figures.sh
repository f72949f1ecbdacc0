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
# Usage: BUILD=build bench/e2e_figures.sh   [ROUNDS=5 SIZE=50000000
#        FLEET_PLAINTEXT=1 for plaintext CIDs]
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

# ttfb: one /whoami on a fresh connection; prints the client's own log time
# (ms since the connection started) of the first response byte on stream 0,
# or "fail".
ttfb() {
	local log=$FLEET_DIR/ttfb.log
	timeout 20 nsenter --net="/run/netns/$(fleet_ns cli)" "$GTLSCLIENT" \
		--exit-on-all-streams-close --timeout=10s --no-quic-dump --no-http-dump \
		"$VIP4" "$VIP_PORT" "https://$VIP4:$VIP_PORT/whoami" >"$log" 2>&1 </dev/null ||
		{ echo fail; return; }
	sed -n 's/^I\([0-9]*\) .* frm rx .* STREAM(0x[0-9a-f]*) id=0x0 .*/\1/p' "$log" |
		head -n 1 | sed 's/^0*\([0-9]\)/\1/' | grep . || echo fail
}

# fetch VIA KIND: one request; prints microseconds of wall time (or "fail").
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

declare -A TTFB WALL THRU
lb_ns=0
lb_cnt=0
e2e_log "measuring: $ROUNDS rounds of /whoami and /bytes/$SIZE, via lb1 and direct to h1, alternating"
for r in $(seq 1 "$ROUNDS"); do
	for via in lb1 h1; do
		fleet_route_vip "$via"
		# warm the route (neighbour entries) before timing
		fleet_get "$FLEET_DIR/warm" 20 /whoami >/dev/null 2>&1
		t=$(fetch "$via" /whoami)
		[ "$t" != fail ] && WALL[$via]+="$t "
		t=$(ttfb)
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
wall_lb=$(tr ' ' '\n' <<<"${WALL[lb1]:-}" | grep . | median)
wall_h=$(tr ' ' '\n' <<<"${WALL[h1]:-}" | grep . | median)
dl_lb=$(tr ' ' '\n' <<<"${THRU[lb1]:-}" | grep . | median)
dl_h=$(tr ' ' '\n' <<<"${THRU[h1]:-}" | grep . | median)

echo
echo "qlb end-to-end figures ($ROUNDS rounds, medians; same client, same servers, same run)"
echo "LB node XDP mode: ${FLEET_XDP_MODE:-native}; CIDs: $([ -n "${FLEET_PLAINTEXT:-}" ] && echo plaintext || echo 'four-pass AES (2-byte server ID, 6-byte nonce)'); links are veth, unshaped"
awk -v tl="$ttfb_lb" -v th="$ttfb_h" -v wl="$wall_lb" -v wh="$wall_h" \
	-v dl="$dl_lb" -v dh="$dl_h" -v size="$SIZE" -v ns="$lb_ns" -v cnt="$lb_cnt" 'BEGIN {
	printf "%-22s %10s %16s %16s\n", "path", "TTFB ms", "request wall ms", "download MB/s"
	printf "%-22s %10.1f %16.2f %16.1f\n", "via qlb (lb1)", tl, wl / 1000, size / dl
	printf "%-22s %10.1f %16.2f %16.1f\n", "direct to h1", th, wh / 1000, size / dh
	printf "%-22s %10.3f %16.3f %16.3f\n", "ratio qlb / direct", (th > 0 ? tl / th : 0), wl / wh, (size / dl) / (size / dh)
	if (cnt > 0)
		printf "LB program (bpf_stats over the downloads via qlb): %d packets, %.1f ns/packet\n", cnt, ns / cnt
	else
		printf "LB program: no packets counted\n"
}'
echo "TTFB: the client's log time (ms resolution) of the first response byte,"
echo "from the start of the connection (handshake included); request wall: one"
echo "whole gtlsclient run for /whoami; download: one /bytes/$SIZE fetch."
echo "Only client-to-server packets cross the LB node (replies return directly)."
