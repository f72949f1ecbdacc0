#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# VIP announcement between one LB node and a router, both running BIRD
# from the deploy/bgp/ templates (BGP + BFD), the announcement driven
# through ctl/announce.c (tests/tools/qlb-announce):
#   1. announced VIPs reach the router's kernel; a withdrawn one leaves it
#      within 1 s
#   2. announcing again what is announced (a restarted qlbctl) changes
#      nothing at the router: no route event at all
#   3. a VIP the daemon refuses (its export filter was rendered from an
#      older file) is reported as not announced, and why
#   4. BIRD stopped: reported as "not running"; the XDP data plane stays
#      attached; BIRD back: announced again by itself
#   5. maintenance drain: `qlbctl lb drain` withdraws, waits, detaches
# Usage: BUILD=build tests/e2e/fabric_announce.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/common.sh"
. "$E2E_ROOT/tests/lib/yaml.sh"
e2e_init announce
command -v bird >/dev/null && command -v birdc >/dev/null ||
	e2e_skip "BIRD 2 not installed (Debian package bird2)"
make -C "$E2E_ROOT" --no-print-directory -s BUILD="$BUILD" "$BUILD/tools/qlb-announce" >&2 ||
	e2e_fail "cannot build qlb-announce"
ANN=$BUILD/tools/qlb-announce
T=$E2E_TMP
R=qlbt-ann-$$-r
L=qlbt-ann-$$-l
PIN=/sys/fs/bpf/qlbt-ann-$$
E2E_RM_DIRS+=("$PIN")
E2E_CLEANUP_CMDS+=("nsenter --net=/run/netns/$L $QLBCTL lb detach -f $T/lb.yaml")
e2e_ns "$R"
e2e_ns "$L"
e2e_veth "$L" eth0 "$R" r-lb1 2000
e2e_addr "$L" eth0 198.18.11.2/24
e2e_addr "$L" eth0 2001:db8:11::2/64
e2e_addr "$R" r-lb1 198.18.11.1/24
e2e_addr "$R" r-lb1 2001:db8:11::1/64
ip -n "$R" link set dev r-lb1 xdpdrv obj "$BUILD/bpf/qlb_bench_empty.bpf.o" sec xdp ||
	e2e_fail "cannot attach XDP_PASS to r-lb1"

# The LB node's file: three VIPs; BIRD's export filter is rendered from an
# older file that had only the first two (the third is "refused").
yaml() {
	cat <<YAML
$(yaml_quic_lb_cfg1)
      state: active
hosts:
  - name: h1
    address: 198.18.21.2
    server_id: "1000"
lb:
  interface: eth0
  gateway_mac: "$(ip -n "$R" link show r-lb1 | awk '/link\/ether/ { print $2 }')"
  encap_source_v4: 198.18.11.2
  pin_dir: $PIN
  mtu: 2000
  vips:
    - address: 198.18.100.1
      port: 443
    - address: "2001:db8:100::1"
      port: 443
$([ "$1" = new ] && printf '    - address: 198.18.100.9\n      port: 443\n')
YAML
}
yaml old >"$T/lb-old.yaml"
yaml new >"$T/lb.yaml"
"$QLBCTL" validate -f "$T/lb.yaml" >/dev/null || e2e_fail "the test's file is not valid: $("$QLBCTL" validate -f "$T/lb.yaml" 2>&1)"

r=$E2E_ROOT/deploy/bgp/render.sh
mkdir -p "$T/peers"
"$r" "$E2E_ROOT/deploy/bgp/bird-router-peer.conf" NAME=lb1 FAMILY=4 NEIGHBOR=198.18.11.2 >"$T/peers/lb1-4.conf" &&
	"$r" "$E2E_ROOT/deploy/bgp/bird-router-peer.conf" NAME=lb1 FAMILY=6 NEIGHBOR=2001:db8:11::2 >"$T/peers/lb1-6.conf" &&
	"$r" -f "$T/lb-old.yaml" "$E2E_ROOT/deploy/bgp/bird-router.conf" ROUTER_ID=198.18.11.1 \
		BFD_INTERFACES='"r-lb1"' PEERS_DIR="$T/peers" >"$T/bird-r.conf" &&
	"$r" -f "$T/lb-old.yaml" "$E2E_ROOT/deploy/bgp/bird-lb-node.conf" ROUTER_ID=198.18.11.2 \
		INTERFACE=eth0 PEER4=198.18.11.1 PEER6=2001:db8:11::1 >"$T/bird-l.conf" ||
	e2e_fail "cannot render the BIRD configurations"
# the LB node's BIRD socket where its file says (lb.announce.bird_socket),
# else where qlb looks by default: this test's own path in both cases
LSOCK=$T/bird-l.ctl
if ! grep -q 'bird_socket' "$T/lb.yaml"; then
	for f in "$T/lb.yaml" "$T/lb-old.yaml"; do
		printf '  announce:\n    bird_socket: %s\n' "$LSOCK" >>"$f"
	done
fi
"$QLBCTL" validate -f "$T/lb.yaml" >/dev/null 2>&1 || e2e_skip "lb.announce is not parsed by this build yet"

bird_start() { # NS CONF SOCK NAME
	e2e_bg "$4" "$1" bird -f -c "$2" -s "$3" -P "$T/$4.pid"
	BIRD_PID[$4]=$E2E_LAST_PID
	for _ in $(seq 1 50); do
		birdc -s "$3" show status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	e2e_fail "BIRD $4 did not start"
}
declare -A BIRD_PID=()
E2E_CLEANUP_CMDS+=('for p in "${BIRD_PID[@]}"; do kill -TERM -- -$p; done; sleep 0.3')
bird_start "$R" "$T/bird-r.conf" "$T/bird-r.ctl" bird-r
bird_start "$L" "$T/bird-l.conf" "$LSOCK" bird-l

nsenter --net="/run/netns/$L" "$QLBCTL" lb apply -f "$T/lb.yaml" >"$T/apply.log" 2>&1 ||
	e2e_fail "lb apply: $(cat "$T/apply.log")"

# rtr_has ADDR: the router's kernel routes ADDR via the LB node
rtr_has() {
	case $1 in
	*:*) ip -n "$R" -6 route show "$1/128" | grep -q 'proto bird' ;;
	*) ip -n "$R" route show "$1/32" | grep -q 'proto bird' ;;
	esac
}
wait_until() { # SECS CMD...: ms until CMD holds, or "timeout"
	local t0 secs=$1
	shift
	t0=$(e2e_ms)
	while ! "$@"; do
		[ $(($(e2e_ms) - t0)) -lt $((secs * 1000)) ] || { echo timeout; return 1; }
		sleep 0.01
	done
	echo $(($(e2e_ms) - t0))
}
not() { ! "$@"; }
ann() { nsenter --net="/run/netns/$L" "$ANN" -f "$T/lb.yaml" "$@"; }
status() { nsenter --net="/run/netns/$L" "$QLBCTL" lb status -f "$T/lb.yaml" 2>&1; }
sessions_up() { [ "$(birdc -s "$LSOCK" show protocols | grep -c Established)" = 2 ]; }

# ---- 1. announce, withdraw ----------------------------------------------------
t=$(wait_until 20 sessions_up) || e2e_fail "no BGP sessions: $(birdc -s "$LSOCK" show protocols)"
e2e_log "BGP sessions established (router and LB node both from deploy/bgp/)"
ann sync all || e2e_fail "announce failed"
t=$(wait_until 5 rtr_has 198.18.100.1) || e2e_fail "198.18.100.1 did not reach the router"
t6=$(wait_until 5 rtr_has 2001:db8:100::1) || e2e_fail "2001:db8:100::1 did not reach the router"
e2e_log "1. announced: the router routes 198.18.100.1 after $t ms, 2001:db8:100::1 after +$t6 ms"
ann sync 1,2 || e2e_fail "sync failed"
t=$(wait_until 1 not rtr_has 198.18.100.1) || e2e_fail "198.18.100.1 still routed 1 s after its withdrawal"
rtr_has 2001:db8:100::1 || e2e_fail "withdrawing one VIP took another"
e2e_log "   withdrawn: 198.18.100.1 left the router after $t ms; 2001:db8:100::1 stayed"
ann sync all || e2e_fail "announce failed"
wait_until 5 rtr_has 198.18.100.1 >/dev/null || e2e_fail "198.18.100.1 did not come back"

# ---- 2. no flap on a repeated announcement -------------------------------------
e2e_bg mon "$R" ip -ts monitor route
MON=$E2E_LAST_PID
sleep 0.3
for _ in 1 2 3; do ann sync all || e2e_fail "announce failed"; done
sleep 1
e2e_stop "$MON"
sleep 0.1
# only the VIPs' routes count (a late IPv6 link-local route is no flap)
grep -E '198\.18\.100\.|2001:db8:100::' "$T/mon.log" >"$T/mon-vips.log"
[ -s "$T/mon-vips.log" ] &&
	e2e_fail "announcing again changed the router's routes: $(cat "$T/mon-vips.log")"
e2e_log "2. three more announcements of the same VIPs (a restarted qlbctl): no route event at the router"

# ---- 3. a VIP the daemon refuses -------------------------------------------------
out=$(status)
grep -q '^ *198.18.100.1  *announced' <<<"$out" ||
	e2e_fail "status does not say 198.18.100.1 is announced: $out"
grep -q '^ *198.18.100.9  *NOT ANNOUNCED: .*does not export' <<<"$out" ||
	e2e_fail "status does not report the refused VIP: $out"
rtr_has 198.18.100.9 && e2e_fail "the router got a VIP the daemon's filter refuses"
e2e_log "3. status: $(grep '^ *198.18.100.9 ' <<<"$out" | sed 's/  */ /g')"

# ---- 4. BIRD stopped, and back ----------------------------------------------------
e2e_stop "${BIRD_PID[bird-l]}" KILL
t=$(wait_until 3 not rtr_has 198.18.100.1) || e2e_fail "the router kept the VIP of a dead BIRD"
out=$(status)
grep -q 'NOT ANNOUNCED: the routing daemon is not running\|NOT ANNOUNCED: the routing daemon does not answer' <<<"$out" ||
	e2e_fail "status does not say BIRD is gone: $out"
grep -q 'attached' <<<"$out" && ! grep -q 'NOT ATTACHED' <<<"$out" ||
	e2e_fail "the data plane did not stay attached: $out"
e2e_log "4. BIRD killed: the router dropped the VIPs after $t ms; status: $(grep '^ *198.18.100.1 ' <<<"$out" | sed 's/  */ /g'); XDP still attached"
rm -f "$LSOCK"
bird_start "$L" "$T/bird-l.conf" "$LSOCK" bird-l
t=$(wait_until 20 rtr_has 198.18.100.1) || e2e_fail "the VIP did not come back with BIRD"
e2e_log "   BIRD restarted: the VIPs are back at the router after $t ms, qlb did nothing"

# ---- 5. maintenance drain ------------------------------------------------------------
if "$QLBCTL" lb drain --help >/dev/null 2>&1; then
	t0=$(e2e_ms)
	nsenter --net="/run/netns/$L" "$QLBCTL" lb drain -f "$T/lb.yaml" --wait 3 >"$T/drain.log" 2>&1 &
	DP=$!
	t=$(wait_until 2 not rtr_has 198.18.100.1) || e2e_fail "drain did not withdraw within 1 s"
	kill -0 $DP 2>/dev/null || e2e_fail "drain did not wait before detaching: $(cat "$T/drain.log")"
	ann sync all # a running `lb run` would do this: the drain must win
	sleep 0.3
	rtr_has 198.18.100.1 && e2e_fail "the VIP was announced again during the drain"
	wait $DP || e2e_fail "lb drain failed: $(cat "$T/drain.log")"
	status | grep -qi 'not attached\|no usable LB data plane\|no LB data plane' || e2e_fail "drain did not detach: $(status)"
	e2e_log "5. lb drain --wait 3: withdrawn after $t ms, announcements refused while draining, detached after $(($(e2e_ms) - t0)) ms"
else
	e2e_log "5. (qlbctl lb drain not in this build)"
fi
e2e_log "PASS announce"
