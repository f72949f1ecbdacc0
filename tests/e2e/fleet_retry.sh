#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Fleet with every server sending Retry first: the Retry packet's SCID is
# minted through libqlb, so the client's second Initial (whose DCID is that
# SCID) is routed by the LB node to the same host and worker, which alone
# can check the Retry token (each host has its own token secret). Then the
# migration scenario on top.
# Usage: BUILD=build tests/e2e/fleet_retry.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
FLEET_SRV_OPTS=--retry
fleet_up retry
scenario_request || exit 1
scenario_migration || exit 1
n=$(cat "$FLEET_DIR"/srv-h*-g1.log | grep -c 'accepted from .*(after Retry)')
all=$(cat "$FLEET_DIR"/srv-h*-g1.log | grep -c 'accepted from')
[ "$n" -ge 4 ] && [ "$n" = "$all" ] || e2e_fail "$n of $all connections went through Retry"
grep -q 'bad Retry token' "$FLEET_DIR"/srv-h*-g1.log && e2e_fail "a Retry token reached the wrong host"
# The Initial after Retry carries our Retry SCID as its DCID: it must decode
# to the very host and worker that accepted the connection.
while read -r line; do
	h=$(sed -n 's/.*qlb-h3server\[\(h[0-9]\) w=.*/\1/p' <<<"$line")
	w=$(sed -n 's/.* w=\([0-9]*\) g=.*/\1/p' <<<"$line")
	d=$(sed -n 's/.*client DCID \([0-9a-f]*\) (after Retry).*/\1/p' <<<"$line")
	sid=$("$QLBCTL" cid decode -f "$FLEET_DIR/$h.yaml" "$d" | sed -n 's/.*server_id=\([0-9a-f]*\).*/\1/p')
	[ "$sid" = "$(printf '%x%03x' "${h#h}" "$w")" ] ||
		e2e_fail "Retry SCID $d decodes to $sid, not $h worker $w"
done < <(cat "$FLEET_DIR"/srv-h*-g1.log | grep 'accepted from .*(after Retry)')
e2e_log "PASS retry: all $n connections accepted after a Retry whose SCID names the accepting worker"
