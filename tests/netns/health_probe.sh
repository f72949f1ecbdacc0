#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Health probes through the real data path (tests/lib/health.sh): an LB
# node running `qlbctl lb run` probes four hosts, through GUE and IPIP
# with IPv4 and IPv6 outer headers; all must turn healthy with answers
# (not merely "unknown"). Then, one host each:
#   h1 (GUE/IPv4):  its decapsulation program detached -> unhealthy
#   h2 (IPIP/IPv4): its agent SIGKILLed                -> unhealthy
#   h3 (GUE/IPv6):  its servers SIGKILLed: the working generation has no
#                   live socket (the host still answers, "no_live_socket")
#   h4 (IP6IP6):    stays healthy throughout
# An unhealthy host's effective state is `down` (out of the Maglev table,
# checked with `qlbctl trace --health`), and each comes back without any
# edit once repaired. Every transition is logged once. Then: every link
# down makes the node fail open (log, status, metric; VIPs withdrawn);
# SIGHUP applies an edited file and keeps the health; a detached data
# plane withdraws the VIPs; SIGTERM exits cleanly.
HC_TAG=hprobe
source "$(dirname "$0")/../lib/health.sh"

hc_up
log "lb run started; waiting for every host to answer"
for n in h1 h2 h3 h4; do
	hc_wait "$n" healthy 5 >/dev/null
	[ "$(hc_field "$n" last_probe)" = ok ] || fail "$n: last probe $(hc_field "$n" last_probe)"
	[ "$(hc_field "$n" probes_ok)" -ge 1 ] || fail "$n: no probe answered"
done
hc_in lb "$QLBCTL" lb status -f "$HC_DIR/lb.yaml" | sed -n '/^health/,$p'

# the decap counters of each host name the encapsulation its probes took
dc() { hc_in "$1" "$QLBCTL" -j agent status -s "$HC_DIR/$1.sock" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["decap"][sys.argv[1]])' "$2"; }
[ "$(dc h1 gue_4in4)" -ge 1 ] || fail "h1: probes not seen as GUE 4in4"
[ "$(dc h2 ipip)" -ge 1 ] || fail "h2: probes not seen as IPIP"
[ "$(dc h3 gue_6in6)" -ge 1 ] || fail "h3: probes not seen as GUE 6in6"
[ "$(dc h4 ip6ip6)" -ge 1 ] || fail "h4: probes not seen as IP6IP6"


# detection: from the fault to the logged transition (rise/fall of 2/3 at
# 200 ms: at most 3 x 200 + 100 ms plus a probe interval)
detect() { # HOST T0
	local t1
	t1=$(hc_log_time "$1" healthy unhealthy) || {
		hc_wait "$1" unhealthy 5 >/dev/null || fail "$1 not unhealthy"
		t1=$(hc_log_time "$1" healthy unhealthy) || fail "$1: transition not logged"
	}
	hc_since "$2" "$t1"
}

log "h1: decapsulation detached"
hc_mark
t0=$(date +%s.%N)
hc_in h1 ip link set dev eth0 xdpgeneric off 2>/dev/null
hc_in h1 ip link set dev eth0 xdp off 2>/dev/null
t=$(detect h1 "$t0") || fail "$t"
log "h1 unhealthy after ${t} s (last probe: $(hc_field h1 last_probe))"
[ "$(hc_field h1 effective)" = down ] || fail "h1 effective $(hc_field h1 effective)"

log "h2: agent SIGKILLed"
hc_mark
t0=$(date +%s.%N)
kill -KILL "${HC_AGENT[h2]}"
wait "${HC_AGENT[h2]}" 2>/dev/null
t=$(detect h2 "$t0") || fail "$t"
log "h2 unhealthy after ${t} s (last probe: $(hc_field h2 last_probe))"

log "h3: servers SIGKILLed (no live socket in the working generation)"
hc_mark
t0=$(date +%s.%N)
hc_kill_echo h3
t=$(detect h3 "$t0") || fail "$t"
lp=$(hc_field h3 last_probe)
log "h3 unhealthy after ${t} s (last probe: $lp)"
# the host answers, and says why: its group lost its last socket
# (no_vip_socket once the agent forgot the empty group)
case $lp in no_live_socket | no_vip_socket) ;;
*) fail "h3: last probe $lp, expected no_live_socket or no_vip_socket" ;; esac
[ "$(hc_field h4 health)" = healthy ] || fail "h4 should stay healthy"
[ "$(hc_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["health"]["fail_open"])')" = False ] ||
	fail "one healthy host left: the node must not fail open"

got=$(hc_trace_hosts 400 "$VIP4" "$VIP6" $PORT) || fail "qlbctl trace --health failed"
log "traced Initials with three hosts unhealthy: $got"
[ "$got" = "h4=400" ] || fail "new flows must all go to h4, got: $got"

log "repairing: h1 agent restarted (re-attaches), h2 agent restarted, h3 servers back"
hc_mark
kill -TERM "${HC_AGENT[h1]}"
wait "${HC_AGENT[h1]}" 2>/dev/null
declare -A back=()
hc_agent_start h1
back[h1]=$(date +%s.%N)
hc_agent_start h2
back[h2]=$(date +%s.%N)
hc_echo_start h3 2
back[h3]=$(date +%s.%N)
for n in h1 h2 h3; do
	hc_wait "$n" healthy 5 >/dev/null || fail "$n not healthy again"
	t1=$(hc_log_time "$n" unhealthy healthy) || fail "$n: recovery not logged"
	log "$n healthy again $(hc_since "${back[$n]}" "$t1") s after its repair"
	[ "$(hc_field "$n" effective)" = active ] || fail "$n effective $(hc_field "$n" effective)"
done

# every transition logged once: 3 down and 3 up
for n in h1 h2 h3; do
	d=$(grep -c "host $n: healthy -> unhealthy" "$HC_DIR/lbrun.log")
	u=$(grep -c "host $n: unhealthy -> healthy" "$HC_DIR/lbrun.log")
	[ "$d" = 1 ] && [ "$u" = 1 ] || fail "$n: logged $d down and $u up transitions"
done
grep -q "host h4:" "$HC_DIR/lbrun.log" && fail "h4 never changed, yet was logged"

# VIP announcement (ctl/announce.h): routes in qlb's table of the node
announced() {
	{
		hc_in lb ip -4 route show table 4242 proto 242
		hc_in lb ip -6 route show table 4242 proto 242
	} | grep -c "$VIP4\|$VIP6"
}
[ "$(announced)" = 2 ] || fail "VIPs not announced while hosts are healthy"

log "every link of the LB node down: fail open"
hc_mark
for i in 1 2 3 4; do hc_in lb ip link set "l$i" down; done
for i in $(seq 1 100); do
	grep -q "FAIL OPEN" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") && break
	sleep 0.1
done
grep -q "FAIL OPEN" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") || fail "no FAIL OPEN logged"
[ "$(hc_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["health"]["fail_open"])')" = True ] ||
	fail "status does not say fail_open"
for n in h1 h2 h3 h4; do
	[ "$(hc_field "$n" effective)" = active ] || fail "failing open, $n must stay active"
done
hc_in lb "$QLBCTL" lb metrics -f "$HC_DIR/lb.yaml" | grep -q '^qlb_lb_health_fail_open{service="default"} 1$' ||
	fail "metric qlb_lb_health_fail_open is not 1"
[ "$(announced)" = 0 ] || fail "VIPs still announced with no healthy host"
hc_in lb "$QLBCTL" lb status -f "$HC_DIR/lb.yaml" | sed -n '/^health/,$p'
got=$(hc_trace_hosts 400 "$VIP4" "$VIP6" $PORT) || fail "trace --health failed"
log "traced Initials while failing open: $got"
case $got in *h1=*h2=*h3=*h4=*) ;; *) fail "fail-open must spread over all four: $got" ;; esac

log "links up again"
for i in 1 2 3 4; do hc_in lb ip link set "l$i" up; done
for n in h1 h2 h3 h4; do hc_wait "$n" healthy 10 >/dev/null; done
grep -q "fail-open over" "$HC_DIR/lbrun.log" || fail "end of fail-open not logged"
for i in $(seq 1 30); do [ "$(announced)" = 2 ] && break; sleep 0.1; done
[ "$(announced)" = 2 ] || fail "VIPs not announced again"

log "SIGHUP with h4 draining in the file: applied, health kept"
sed -i '/name: h4/,/encap:/ s/encap: ipip/encap: ipip\n    state: draining/' "$HC_DIR/lb.yaml"
kill -HUP "$HC_RUN"
for i in $(seq 1 50); do grep -q "reloaded" "$HC_DIR/lbrun.log" && break; sleep 0.1; done
grep -q "reloaded" "$HC_DIR/lbrun.log" || fail "no reload logged"
[ "$(hc_field h4 intent)" = draining ] || fail "h4 intent $(hc_field h4 intent)"
[ "$(hc_field h4 effective)" = draining ] || fail "h4 effective $(hc_field h4 effective)"
[ "$(hc_field h1 health)" = healthy ] || fail "h1 health lost on reload"

log "restart of lb run (SIGTERM, start again): the VIP routes never leave the table"
hc_in lb ip monitor route table 4242 >"$HC_DIR/route-events.log" 2>&1 &
mon=$!
sleep 0.2
kill -TERM "$HC_RUN"
for i in $(seq 1 50); do kill -0 "$HC_RUN" 2>/dev/null || break; sleep 0.1; done
kill -0 "$HC_RUN" 2>/dev/null && fail "lb run did not exit on SIGTERM"
wait "$HC_RUN" || fail "lb run exited $? on SIGTERM"
HC_RUN=
[ "$(announced)" = 2 ] || fail "SIGTERM withdrew the VIPs though the data plane runs"
hc_run_start
for n in h1 h2 h3 h4; do hc_wait "$n" healthy 10 >/dev/null; done
sleep 0.5
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
[ "$(announced)" = 2 ] || fail "VIPs not announced after the restart"
if grep -q "$VIP4\|$VIP6" "$HC_DIR/route-events.log"; then
	cat "$HC_DIR/route-events.log"
	fail "the restart changed the VIP routes"
fi

log "the data plane detached under lb run: VIPs withdrawn within 1 s"
t0=$(date +%s.%N)
hc_in lb "$QLBCTL" lb detach -f "$HC_DIR/lb.yaml" >/dev/null || fail "detach"
for i in $(seq 1 40); do [ "$(announced)" = 0 ] && break; sleep 0.05; done
[ "$(announced)" = 0 ] || fail "VIPs still announced without a data plane"
log "withdrawn $(hc_since "$t0" "$(date +%s.%N)") s after the detach (including the detach itself)"

log "SIGTERM: lb run exits cleanly"
kill -TERM "$HC_RUN"
for i in $(seq 1 50); do kill -0 "$HC_RUN" 2>/dev/null || break; sleep 0.1; done
kill -0 "$HC_RUN" 2>/dev/null && fail "lb run did not exit on SIGTERM"
wait "$HC_RUN"
rc=$?
HC_RUN=
[ $rc = 0 ] || fail "lb run exited $rc"
grep -q "VIPs withdrawn" "$HC_DIR/lbrun.log" || fail "no withdrawal logged"
grep -q "VIPs stay announced" "$HC_DIR/lbrun.log" || fail "no stop logged"
log "PASS"
