#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Decapsulation trusts LB nodes only, and only for VIPs (issue: the host
# was an open relay). From the client namespace, raw-socket crafted GUE
# and IP-in-IP packets cross the veth to the host (tests/lib/host.sh):
#  - from a configured LB source (host.lb_sources) to a VIP:port: answered
#    (every encapsulation, both outer families);
#  - from a source that is no LB node (spoofed outer source): dropped and
#    counted as drop_source, never answered;
#  - from the LB source but with an inner packet to the host's own address
#    (a local service: qlb-echo listens on [::]:PORT, so it would answer),
#    or to a VIP at another port: dropped, counted as drop_inner;
#  - with ip_forward on, an inner packet to a third party is not relayed.
# On the code before the fix every one of these was decapsulated.
# Reloading with a new lb_sources list takes effect at once.
H_TAG=dtrust
source "$(dirname "$0")/../lib/host.sh"
SEND="python3 $PWD/tests/netns/host_encap_send.py"
N=20

host_setup
cexec ip addr add 198.18.0.9/24 dev vc
cexec ip addr add 2001:db8::9/64 dev vc nodad
hexec sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
host_config 198.18.0.2
start_agent
start_echo echo --workers 2 --generation 1 :: $PORT
wait_ready echo 2
mac=$(hexec ip -br link show vh | awk '{print $3}')
[ -n "$mac" ] || fail "no MAC for vh"

dc() { status_json | json_get "j['decap']['$1']"; }

ok() { # KIND OUTER_SRC OUTER_DST INNER_SRC INNER_DST [PORT]
	cexec $SEND vc "$mac" "$1" $N "$2" "$3" "$4" "$5" "${6:-$PORT}" 6080 >/dev/null ||
		fail "$1 $2 -> $3 carrying $4 -> $5: answers missing"
}
refused() { # COUNTER KIND OUTER_SRC OUTER_DST INNER_SRC INNER_DST [PORT]
	local c=$1 before after
	shift
	before=$(dc "$c")
	cexec $SEND vc "$mac" "$1" 3 "$2" "$3" "$4" "$5" "${6:-$PORT}" 6080 >/dev/null &&
		fail "$1 $2 -> $3 carrying $4 -> $5:${6:-$PORT} was decapsulated and answered"
	after=$(dc "$c")
	[ $((after - before)) = 3 ] ||
		fail "$1 $2 -> $3 carrying $4 -> $5: $c grew by $((after - before)), expected 3"
	log "refused and counted ($c): $1 $2 -> $3 carrying $4 -> $5:${6:-$PORT}"
}

log "from the LB source to the VIPs: answered"
ok gue 198.18.0.1 198.18.0.2 198.18.0.1 $VIP4
ok gue 198.18.0.1 198.18.0.2 2001:db8::1 $VIP6
ok ipip 198.18.0.1 198.18.0.2 198.18.0.1 $VIP4
ok ipip 198.18.0.1 198.18.0.2 2001:db8::1 $VIP6

log "spoofed outer source (not an LB node)"
refused drop_source gue 198.18.0.9 198.18.0.2 198.18.0.1 $VIP4
refused drop_source ipip 198.18.0.9 198.18.0.2 198.18.0.1 $VIP4
refused drop_source ipip 198.18.0.9 198.18.0.2 2001:db8::1 $VIP6

log "inner packet not to a VIP:port"
refused drop_inner gue 198.18.0.1 198.18.0.2 198.18.0.1 198.18.0.2
refused drop_inner ipip 198.18.0.1 198.18.0.2 198.18.0.1 198.18.0.2
refused drop_inner gue 198.18.0.1 198.18.0.2 2001:db8::1 2001:db8::2
refused drop_inner gue 198.18.0.1 198.18.0.2 198.18.0.1 $VIP4 $((PORT + 2))

# a relay attempt: inner packet to a third party (the client's second
# address) with forwarding on; it must never come out of the host
log "relay attempt through the host (ip_forward=1)"
before=$(dc drop_inner)
cexec timeout 5 tcpdump -c 1 -i vc -nn "udp and dst host 198.18.0.9 and dst port 7777" \
	>"$H_DIR/relay.log" 2>&1 &
TD=$!
sleep 1
cexec python3 - "$mac" <<'EOF'
import socket, struct, sys, ipaddress
sys.path.insert(0, "tests/netns")
import importlib.util
spec = importlib.util.spec_from_file_location("s", "tests/netns/host_encap_send.py")
s = importlib.util.module_from_spec(spec); spec.loader.exec_module(s)
a = ipaddress.ip_address
inner = s.ip(a("198.18.0.1"), a("198.18.0.9"), 17,
             s.udp(a("198.18.0.1"), a("198.18.0.9"), 5555, 7777, b"relay me"))
outer = s.ip(a("198.18.0.1"), a("198.18.0.2"), 17,
             s.udp(a("198.18.0.1"), a("198.18.0.2"), 50000, 6080, inner, False))
tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
mac = bytes.fromhex(sys.argv[1].replace(":", ""))
for _ in range(3):
    tx.sendto(outer, ("vc", 0x0800, 0, 0, mac))
EOF
wait $TD
grep -q "7777" "$H_DIR/relay.log" && fail "the host relayed an inner packet to a third party"
[ $(($(dc drop_inner) - before)) = 3 ] || fail "relay attempt not counted as drop_inner"

log "reload: the LB source moves to 198.18.0.9"
sed -i 's/lb_sources: \[198.18.0.1, /lb_sources: [198.18.0.9, /' "$H_CFG"
kill -HUP "$AGENT_PID"
for i in $(seq 1 50); do
	grep -q "reloaded $H_CFG" "$H_DIR/agent.log" && break
	sleep 0.1
done
grep -q "reloaded $H_CFG" "$H_DIR/agent.log" || fail "the agent did not reload"
refused drop_source gue 198.18.0.1 198.18.0.2 198.18.0.1 $VIP4
ok gue 198.18.0.9 198.18.0.2 198.18.0.1 $VIP4

hexec "$QLBCTL" agent status -s "$H_SOCK" | sed -n '/^decap/,$p'
log "PASS"
