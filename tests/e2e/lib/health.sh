# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=bash
#
# Health checking on the fleet (sourced by scenarios.sh): helpers over the
# LB nodes' health view (`qlbctl -j lb status`, the logs of `lb run`) and
# the scenario of a host that dies and comes back.

# hh_health LB HOST: HOST's health as LB sees it.
hh_health() {
	e2e_in "$(fleet_ns "$1")" "$QLBCTL" -j lb status -f "$FLEET_DIR/$1.yaml" 2>/dev/null |
		python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for h in j.get("health", {}).get("hosts", []):
    if h["name"] == sys.argv[1]:
        print(h["health"])' "$2"
}

# hh_wait_all HEALTH SECS HOST...: every LB node sees every HOST so. (The
# timings come from lb run's logs, not from this poll, which is slow on a
# loaded machine: generous SECS.)
hh_wait_all() {
	local want=$1 deadline=$((SECONDS + $2)) n h ok
	shift 2
	while [ $SECONDS -lt $deadline ]; do
		ok=1
		for n in "${FLEET_LBS[@]}"; do
			for h in "$@"; do
				[ "$(hh_health "$n" "$h")" = "$want" ] || ok=0
			done
		done
		[ $ok = 1 ] && return 0
		sleep 0.2
	done
	return 1
}

# hh_mark: later hh_logged_ms look only after the LB nodes' logs so far.
declare -A HH_MARK=()
hh_mark() {
	local n
	for n in "${FLEET_LBS[@]}"; do
		HH_MARK[$n]=$(wc -l <"$FLEET_DIR/lbrun-$n.log")
	done
}

# hh_logged_ms LB FROM TO T0_MS: ms from T0_MS (e2e_ms clock: date +%s%3N)
# to LB's logged transition of VICTIM, or empty.
hh_logged_ms() {
	tail -n +"$((${HH_MARK[$1]:-0} + 1))" "$FLEET_DIR/lbrun-$1.log" |
		grep -m1 "host $VICTIM: $2 -> $3" | python3 -c '
import sys, datetime
line = sys.stdin.readline()
if not line:
    sys.exit(1)
t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
print(int(t * 1000) - int(sys.argv[1]))' "$4"
}

# hh_count_on N PREFIX HOST: of N /whoami answers PREFIX1.., how many from HOST.
hh_count_on() {
	local i c=0
	for i in $(seq 1 "$1"); do
		[ "$(e2e_field "$FLEET_DIR/$2$i/whoami" host 2>/dev/null)" = "$3" ] && c=$((c + 1))
	done
	echo $c
}

# ---- a host dies and comes back (health checking) ---------------------------
# Needs the LB nodes to run `qlbctl lb run` (FLEET_LB_RUN=1): with downloads
# running, VICTIM's servers and agent are SIGKILLed and its link cut,
# nothing edited; both LB nodes must take it out within 4 s (the issue's
# bound for the lb.health defaults), every new connection then succeeds on
# the others, downloads there finish byte-exact; the host comes back (link,
# agent, servers) and both nodes take it back within 3 s, no edit.
scenario_host_failure() {
	local VICTIM=${HH_VICTIM:-h3} N_NEW=12 size=40000000 i h n ms on bad t0 t1
	local pids=() others=() det=() rec=()
	sc_begin host_failure "a host dies (servers, agent, link) and comes back, no edit"
	if [ -z "${FLEET_LB_RUNNING:-}" ]; then
		e2e_log "  skipped: the LB nodes do not run qlbctl lb run (FLEET_LB_RUN=0 or no BGP)"
		sc_row SKIP
		return 0
	fi

	hh_wait_all healthy 60 "${FLEET_HOSTS[@]}" || { sc_fail "not every host healthy on both LB nodes"; return 1; }
	e2e_log "  both LB nodes see h1 h2 h3 healthy"
	e2e_in "$(fleet_ns lb1)" "$QLBCTL" lb status -f "$FLEET_DIR/lb1.yaml" | sed -n '/^health/,$p'

	# downloads in progress: a /whoami on each connection says where it is
	fleet_shape_client 100mbit
	pids=()
	for i in 1 2 3 4 5 6; do
		sc_bg_get "dl$i" /whoami "/bytes/$size"
		pids+=("$SC_PID")
	done
	others=()
	for i in 1 2 3 4 5 6; do
		fleet_whoami_wait "$FLEET_DIR/dl$i/whoami" 20 || { fleet_unshape_client; sc_fail "download $i: no answer"; return 1; }
		h=$(e2e_field "$FLEET_DIR/dl$i/whoami" host)
		[ "$h" != "$VICTIM" ] && others+=("$i")
	done
	[ ${#others[@]} -gt 0 ] || { fleet_unshape_client; sc_fail "no download landed on h1/h2"; return 1; }
	e2e_log "  ${#others[@]} of 6 downloads on h1/h2 (the others on $VICTIM)"

	# the death: servers and agent SIGKILLed, the link down; nothing edited
	# each was started in a process group of its own (e2e_bg): the servers'
	# group holds every worker
	hh_mark
	t0=$(e2e_ms)
	kill -KILL -- "-${FLEET_SRV_PID[$VICTIM:${FLEET_GEN[$VICTIM]:-1}]}" "-${FLEET_AGENT_PID[$VICTIM]}" 2>/dev/null
	# the router's side of the link: its addresses (IPv6 kept) and connected
	# routes come back with it
	ip netns exec "$(fleet_ns rtr)" sysctl -qw "net.ipv6.conf.r-$VICTIM.keep_addr_on_down=1"
	ip -n "$(fleet_ns rtr)" link set "r-$VICTIM" down
	e2e_log "  $VICTIM: servers and agent SIGKILLed, link down"

	hh_wait_all unhealthy 60 "$VICTIM" || { fleet_unshape_client; sc_fail "$VICTIM not found unhealthy"; return 1; }
	det=()
	for n in "${FLEET_LBS[@]}"; do
		ms=$(hh_logged_ms "$n" healthy unhealthy "$t0") || { sc_fail "$n did not log $VICTIM's transition"; return 1; }
		det+=("$n=${ms}ms")
		[ "$ms" -le 4000 ] || { fleet_unshape_client; sc_fail "$n took $ms ms to find $VICTIM dead (limit 4000)"; return 1; }
	done
	e2e_log "  detection: ${det[*]} (lb.health defaults)"

	# every new connection now succeeds, and none lands on the dead host
	sc_many $N_NEW new /whoami || { fleet_unshape_client; sc_fail "new connections failed with $VICTIM dead"; return 1; }
	on=$(hh_count_on $N_NEW new "$VICTIM")
	[ "$on" = 0 ] || { fleet_unshape_client; sc_fail "$on new connections landed on dead $VICTIM"; return 1; }
	e2e_log "  $N_NEW new connections succeeded, none on $VICTIM"

	fleet_unshape_client
	bad=0
	for i in "${others[@]}"; do
		wait "${pids[$((i - 1))]}" || { e2e_log "  download $i failed"; bad=$((bad + 1)); continue; }
		sc_bytes_exact "$FLEET_DIR/dl$i/$size" "$size" || { e2e_log "  download $i short"; bad=$((bad + 1)); }
	done
	[ $bad = 0 ] || { sc_fail "$bad downloads on h1/h2 did not complete"; return 1; }
	e2e_log "  ${#others[@]} downloads on h1/h2 complete and byte-exact"
	for i in "${pids[@]}"; do kill "$i" 2>/dev/null; done

	# the return: link, agent, servers; still no edit
	hh_mark
	ip -n "$(fleet_ns rtr)" link set "r-$VICTIM" up
	fleet_agent_start "$VICTIM"
	FLEET_GEN[$VICTIM]=$((${FLEET_GEN[$VICTIM]:-1} + 1))
	fleet_server_start "$VICTIM" "${FLEET_GEN[$VICTIM]}"
	fleet_server_wait "$VICTIM" "${FLEET_GEN[$VICTIM]}"
	t1=$(e2e_ms)
	hh_wait_all healthy 60 "$VICTIM" || { sc_fail "$VICTIM not taken back"; return 1; }
	rec=()
	for n in "${FLEET_LBS[@]}"; do
		ms=$(hh_logged_ms "$n" unhealthy healthy "$t1") || { sc_fail "$n did not log $VICTIM's return"; return 1; }
		rec+=("$n=${ms}ms")
		[ "$ms" -le 3000 ] || { sc_fail "$n took $ms ms to take $VICTIM back (limit 3000)"; return 1; }
	done
	e2e_log "  recovery (from the servers being ready): ${rec[*]}"
	sc_many $N_NEW back /whoami || { sc_fail "new connections failed after $VICTIM came back"; return 1; }
	on=$(hh_count_on $N_NEW back "$VICTIM")
	[ "$on" -gt 0 ] || { sc_fail "no new connection reached $VICTIM after its return"; return 1; }
	e2e_log "  $N_NEW new connections: $on on $VICTIM"
	SC_WHERE=$VICTIM
	sc_pass "dead host out within ${det[*]}, back within ${rec[*]}, no edit"
}
