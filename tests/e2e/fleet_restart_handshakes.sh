#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Handshakes across restarts (issue 17): new connections are opened
# continuously (HS_RATE_MS apart, HS_COUNT of them, each Debian's
# unmodified gtlsclient fetching /whoami through the LB nodes) while each
# of the three hosts in turn restarts its server as a new generation. Every
# connection must complete, and none may take longer than twice the median
# handshake time, with a floor of median + 200 ms: twice a median of a few
# milliseconds is scheduler noise on a small shared machine, while a
# handshake that went astray waits for a probe timeout (about 1 s for a
# client's first flight), far above the floor. The handshake time is the
# client's own: ngtcp2's log stamp (ms since the connection was created) of
# its "QUIC handshake has completed".
# The fleet (client, router, two LB nodes, three hosts; tests/e2e/lib/fleet.sh)
# is built in network namespaces and torn down on exit.
# Usage: BUILD=build tests/e2e/fleet_restart_handshakes.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"

HS_COUNT=${HS_COUNT:-90}
HS_RATE_MS=${HS_RATE_MS:-150}

fleet_require_lb
fleet_up rshake

# hs_open: HS_COUNT connections, HS_RATE_MS apart, each in the background;
# waits for them all. Client i writes $FLEET_DIR/hs/i/ (the answer),
# i.out (its debug log) and i.rc (its exit status); hs/starts gets
# "i milliseconds" as each starts.
hs_open() {
	local i pause
	pause=$(awk -v ms="$HS_RATE_MS" 'BEGIN { print ms / 1000 }')
	for i in $(seq 1 "$HS_COUNT"); do
		mkdir "$FLEET_DIR/hs/$i"
		echo "$i $(hs_ms)" >>"$FLEET_DIR/hs/starts"
		(
			timeout --kill-after=2 30 nsenter --net="/run/netns/$(fleet_ns cli)" \
				"$GTLSCLIENT" --exit-on-all-streams-close --timeout=10s \
				--download="$FLEET_DIR/hs/$i" "$VIP4" "$VIP_PORT" \
				"https://$VIP4:$VIP_PORT/whoami" </dev/null \
				>"$FLEET_DIR/hs/$i.out" 2>&1
			echo $? >"$FLEET_DIR/hs/$i.rc"
		) &
		sleep "$pause"
	done
	wait
}

# hs_ms: milliseconds, without a fork (the opener must keep its pace)
hs_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

sc_begin restart_handshakes "new connections opened continuously while every host restarts as a new generation"
mkdir -p "$FLEET_DIR/hs"
: >"$FLEET_DIR/hs/starts"
: >"$FLEET_DIR/hs/restarts"
hs_open &
HS_PID=$!
# a failure below stops the opener; clients already started end by their
# own timeout
hs_stop() { kill "$HS_PID" 2>/dev/null || true; }
E2E_CLEANUP_CMDS+=("hs_stop")

# restart h1, h2, h3 in turn while connections keep coming
sleep 2
for h in "${FLEET_HOSTS[@]}"; do
	old=${FLEET_GEN[$h]}
	new=$((old + 1))
	e2e_log "  $h: starting generation $new"
	t0=$(hs_ms)
	fleet_server_start "$h" "$new"
	fleet_server_wait "$h" "$new"
	FLEET_GEN[$h]=$new
	e2e_wait_log "$FLEET_DIR/srv-$h-g$old.log" 'took over; draining' 1 10 ||
		e2e_fail "$h: generation $old was not told to drain"
	echo "$h $t0 $(hs_ms)" >>"$FLEET_DIR/hs/restarts"
	e2e_log "  $h: generation $new took over; generation $old drains"
	sleep 2
done
wait "$HS_PID"

# the pace the connections were opened at, and how many started while a
# new generation came up and took over (those whose Initial may meet
# either generation)
read -r span <<<"$(awk 'NR == 1 { a = $2 } { b = $2 } END { print b - a }' "$FLEET_DIR/hs/starts")"
e2e_log "  $HS_COUNT connections opened over $span ms ($(awk -v n="$HS_COUNT" -v s="$span" 'BEGIN { printf "%.1f", (n - 1) * 1000 / s }') a second)"
inwin=0
while read -r h a b; do
	k=$(awk -v a="$a" -v b="$b" '$2 >= a && $2 <= b { n++ } END { print n + 0 }' "$FLEET_DIR/hs/starts")
	e2e_log "  $h: $k connections started during its restart ($((b - a)) ms)"
	inwin=$((inwin + k))
done <"$FLEET_DIR/hs/restarts"
[ "$inwin" -gt 0 ] || { sc_fail "no connection started during a restart: the opener fell behind"; exit 1; }

# every connection completed, with a well-formed answer; handshake times
declare -A met=()
: >"$FLEET_DIR/hs/times"
bad=0
for i in $(seq 1 "$HS_COUNT"); do
	f=$FLEET_DIR/hs/$i/whoami
	rc=$(cat "$FLEET_DIR/hs/$i.rc" 2>/dev/null || echo none)
	if [ "$rc" != 0 ] || ! sc_whoami_ok "$f"; then
		echo "connection $i: exit $rc, answer '$(cat "$f" 2>/dev/null)'"
		tail -n 5 "$FLEET_DIR/hs/$i.out"
		bad=$((bad + 1))
		continue
	fi
	ms=$(awk '/^I[0-9]+ / { t = substr($1, 2) + 0 }
		/QUIC handshake has completed/ { print t; exit }' "$FLEET_DIR/hs/$i.out")
	[ -n "$ms" ] || { echo "connection $i: no handshake completion in its log"; bad=$((bad + 1)); continue; }
	h=$(e2e_field "$f" host)
	g=$(e2e_field "$f" generation)
	met[$h:$g]=$((${met[$h:$g]:-0} + 1))
	echo "$i $ms $h $g" >>"$FLEET_DIR/hs/times"
done
[ "$bad" = 0 ] || { sc_fail "$bad of $HS_COUNT connections did not complete"; exit 1; }
e2e_log "  all $HS_COUNT connections completed; by host:generation: $(for k in "${!met[@]}"; do echo "$k=${met[$k]}"; done | sort | paste -sd' ')"

# connections met both generations of every host: they spanned the restarts
for h in "${FLEET_HOSTS[@]}"; do
	[ -n "${met[$h:1]:-}" ] && [ -n "${met[$h:2]:-}" ] ||
		{ sc_fail "$h: connections did not meet both generations 1 and 2 (${met[$h:1]:-0}, ${met[$h:2]:-0})"; exit 1; }
done

read -r med max maxi limit < <(sort -k2,2n "$FLEET_DIR/hs/times" | awk '
	{ t[NR] = $2; if ($2 >= max) { max = $2; maxi = $1 } }
	END {
		med = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
		lim = 2 * med > med + 200 ? 2 * med : med + 200
		print med, max, maxi, lim
	}')
e2e_log "  handshake times: median $med ms, slowest $max ms (connection $maxi), limit $limit ms = max(2 x median, median + 200 ms)"
awk -v lim="$limit" '$2 > lim { print "  connection " $1 ": " $2 " ms (" $3 " generation " $4 ")"; n++ }
	END { exit n > 0 }' "$FLEET_DIR/hs/times" ||
	{ sc_fail "handshakes slower than $limit ms"; exit 1; }
for h in "${FLEET_HOSTS[@]}"; do
	e2e_log "  $h flow table: $(e2e_in "$(fleet_ns "$h")" "$QLBCTL" -j agent status -s "$FLEET_DIR/$h.sock" 2>/dev/null |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["reuseport"]; print(" ".join(f"{k}={v}" for k, v in r.items() if k.startswith("flow_")))' 2>/dev/null)"
done
sc_pass "$HS_COUNT connections, all completed, slowest handshake $max ms (median $med ms)"
