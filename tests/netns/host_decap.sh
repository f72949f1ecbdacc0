#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Decapsulation end to end: from the client namespace, raw-socket crafted
# packets in every encapsulation an LB node produces (GUE over IPv4 and
# IPv6 with either inner family, IPIP, IPv6-in-IPv4, IPv4-in-IPv6, IP6IP6)
# cross the veth to the host; the agent's XDP program strips the outer
# headers, qlb-echo (bound to [::]:PORT, both VIPs) answers the client
# directly from the VIP. Every datagram must get its answer, and the
# decap counters must name each encapsulation. The host address family
# switches from IPv4 to IPv6 by a config reload (SIGHUP) midway.
H_TAG=decap
source "$(dirname "$0")/../lib/host.sh"
SEND="python3 $PWD/tests/netns/host_encap_send.py"
N=50

host_setup
host_config 198.18.0.2
start_agent
start_echo echo --workers 4 --generation 1 :: $PORT
wait_ready echo 4
mac=$(hexec ip -br link show vh | awk '{print $3}')
[ -n "$mac" ] || fail "no MAC for vh"

dc() { status_json | json_get "j['decap']['$1']"; }

run() { # KIND OUTER_SRC OUTER_DST INNER_SRC INNER_DST
	cexec $SEND vc "$mac" "$1" $N "$2" "$3" "$4" "$5" $PORT 6080 ||
		fail "$1 $2 -> $3 carrying $4 -> $5: answers missing"
}

log "host address 198.18.0.2 (IPv4 outer)"
run gue 198.18.0.1 198.18.0.2 198.18.0.1 $VIP4
run gue 198.18.0.1 198.18.0.2 2001:db8::1 $VIP6
run ipip 198.18.0.1 198.18.0.2 198.18.0.1 $VIP4
run ipip 198.18.0.1 198.18.0.2 2001:db8::1 $VIP6
for k in gue_4in4 gue_6in4 ipip 6in4; do
	[ "$(dc $k)" = $N ] || fail "decap counter $k is $(dc $k), expected $N"
done

# a corrupted outer IPv4 header is left to the stack (which drops it)
cexec $SEND vc "$mac" gue-badsum 3 198.18.0.1 198.18.0.2 198.18.0.1 $VIP4 $PORT 6080 &&
	fail "a GUE packet with a bad outer checksum was decapsulated"
[ "$(dc pass_bad_checksum)" = 3 ] || fail "bad checksums counted $(dc pass_bad_checksum), expected 3"

# IPv6 outer to the IPv4 host address is not ours: untouched, no answer
cexec $SEND vc "$mac" gue 1 2001:db8::1 2001:db8::2 198.18.0.1 $VIP4 $PORT 6080 &&
	fail "GUE to an address that is not the host's was decapsulated"

log "reload: host address 2001:db8::2 (IPv6 outer)"
host_config 2001:db8::2
kill -HUP "$AGENT_PID"
for i in $(seq 1 50); do
	grep -q "reloaded $H_CFG" "$H_DIR/agent.log" && break
	sleep 0.1
done
grep -q "reloaded $H_CFG" "$H_DIR/agent.log" || fail "the agent did not reload"
run gue 2001:db8::1 2001:db8::2 198.18.0.1 $VIP4
run gue 2001:db8::1 2001:db8::2 2001:db8::1 $VIP6
run ipip 2001:db8::1 2001:db8::2 198.18.0.1 $VIP4
run ipip 2001:db8::1 2001:db8::2 2001:db8::1 $VIP6
for k in gue_4in6 gue_6in6 4in6 ip6ip6; do
	[ "$(dc $k)" = $N ] || fail "decap counter $k is $(dc $k), expected $N"
done

# a broken file on SIGHUP changes nothing
echo "quic_lb: [" >"$H_CFG"
kill -HUP "$AGENT_PID"
sleep 0.5
grep -q "keeping the running state" "$H_DIR/agent.log" || fail "bad reload not reported"
kill -0 "$AGENT_PID" || fail "the agent died on a bad file"
run gue 2001:db8::1 2001:db8::2 2001:db8::1 $VIP6

hexec "$QLBCTL" agent status -s "$H_SOCK" | sed -n '/^decap/,$p'
log "PASS"
