#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# `qlbctl lb apply` again and again in place under traffic: the program is
# never detached or replaced, every packet of an established connection
# reaches its host across every apply (counted by the LB node's own
# per-host counters), a draining host keeps its connections but gets no
# new ones, and a bad file (broken YAML, a host family without an encap
# source, another interface) changes nothing. Two LB node files that
# differ only in node-local settings decide every captured packet alike.
# Generic XDP here (lb_forward.sh covers native).
L_TAG=lbre
XDP_MODE=generic
source "$(dirname "$0")/../lib/lb.sh"

lb_setup
A=$L_DIR/a.yaml
B=$L_DIR/b.yaml
lb_yaml "$A" lb0 "$L_PIN"
lb_yaml "$B" lb0 "$L_PIN" '  - name: web1
    address: 198.18.0.21
    server_ids: {1: "0a10", 2: "0a1000"}
    state: draining
  - name: web2
    address: 198.18.0.22
    encap: ipip
    server_ids: {1: "0a20", 2: "0a2000"}
  - name: web4
    address: 198.18.0.24
    server_ids: {1: "0a40", 2: "0a4000"}'

lexec "$QLBCTL" lb apply -f "$A" || fail "first apply"
status() { lexec "$QLBCTL" -j lb status --pin-dir "$L_PIN"; }
jget() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
metric() {	# metric NAME{LABELS}: its value now
	lexec "$QLBCTL" lb metrics --pin-dir "$L_PIN" | awk -v k="$1" '$1 == k { print $2 }'
}
PID0=$(status | jget 'j["prog_id"]')
GEN0=$(status | jget 'j["generation"]')

CID_W1=280a13a1b2c3d4e5f6
PAY=00112233445566778899aabbccddeeff0011
N=6000
w1_0=$(metric 'qlb_lb_host_packets_total{host="web1"}')
r_0=$(metric 'qlb_lb_packets_total{vip="198.18.1.1:443",service="0",reason="routed_cid",action="tx"}')

# one connection's packets while the config flips between A and B
send $VIP4 "41${CID_W1}${PAY}" 443 $N &
SENDER=$!
applies=0
sleep 0.05	# the sender is under way
for i in 1 2 3 4 5 6 7 8; do
	f=$A; [ $((i % 2)) = 1 ] && f=$B
	lexec "$QLBCTL" lb apply -f "$f" >/dev/null || fail "apply $i"
	applies=$((applies + 1))
done
kill -0 $SENDER 2>/dev/null && log "the applies finished while the sender was still sending"
wait $SENDER || fail "sender"
sleep 0.3
w1=$(( $(metric 'qlb_lb_host_packets_total{host="web1"}') - w1_0 ))
r=$(( $(metric 'qlb_lb_packets_total{vip="198.18.1.1:443",service="0",reason="routed_cid",action="tx"}') - r_0 ))
log "during $applies applies: $N sent, $r routed by CID, $w1 to web1"
[ "$r" = $N ] || fail "$r of $N packets routed by CID across the applies"
[ "$w1" = $N ] || fail "web1 got $w1 of its $N packets across the applies"
[ "$(status | jget 'j["prog_id"]')" = "$PID0" ] || fail "the program was replaced"
[ "$(status | jget 'j["attached"]')" = True ] || fail "not attached after re-apply"
[ "$(status | jget 'j["generation"]')" = $((GEN0 + applies)) ] || fail "generation did not follow the applies"
lexec ip link show dev lb0 | grep -q "prog/xdp id $PID0 " || fail "lb0 runs another program"

# applies killed at random points: the data plane is the old config or the
# new one, never a mix or nothing, and the next apply works
w1_0=$(metric 'qlb_lb_host_packets_total{host="web1"}')
send $VIP4 "41${CID_W1}${PAY}" 443 3000 &
SENDER=$!
killed=0
for i in $(seq 1 10); do
	f=$A; [ $((i % 2)) = 1 ] && f=$B
	nsenter --net=/run/netns/"$NS_L" "$QLBCTL" lb apply -f "$f" >/dev/null 2>&1 &
	ap=$!
	sleep 0.0$((RANDOM % 9))
	kill -KILL $ap 2>/dev/null && killed=$((killed + 1))
	wait $ap 2>/dev/null
done
wait $SENDER || fail "sender"
sleep 0.3
w1=$(( $(metric 'qlb_lb_host_packets_total{host="web1"}') - w1_0 ))
log "10 applies killed at random points ($killed while running): web1 got $w1 of 3000"
[ "$w1" = 3000 ] || fail "web1 got $w1 of its 3000 packets while applies were killed"
[ "$(status | jget 'j["attached"]')" = True ] || fail "not attached after killed applies"
[ "$(status | jget 'j["prog_id"]')" = "$PID0" ] || fail "the program changed after killed applies"

# B is in force now (8 applies: the last one is A; apply B once more)
lexec "$QLBCTL" lb apply -f "$B" >/dev/null || fail "apply B"
status | jget '[h["name"]+":"+h["state"] for h in j["hosts"]]'
w1_0=$(metric 'qlb_lb_host_packets_total{host="web1"}')
w4_0=$(metric 'qlb_lb_host_packets_total{host="web4"}')
for i in $(seq 1 40); do
	send $VIP4 "$(initial_hex 0badc0ffee0000$(printf %02x $i))"
done
send $VIP4 "41${CID_W1}${PAY}" 443 10
w1=$(( $(metric 'qlb_lb_host_packets_total{host="web1"}') - w1_0 ))
w4=$(( $(metric 'qlb_lb_host_packets_total{host="web4"}') - w4_0 ))
log "draining web1: $w1 packets (its 10 CID packets only), web4: $w4 of 40 Initials"
[ "$w1" = 10 ] || fail "draining web1 got $w1 packets, expected its 10 CID packets and no Initial"
[ "$w4" -gt 0 ] || fail "web4 (added) got no new connection"

# bad files change nothing
gen=$(status | jget 'j["generation"]')
printf 'lb: [\n' >"$L_DIR/broken.yaml"
lexec "$QLBCTL" lb apply -f "$L_DIR/broken.yaml" && fail "broken YAML applied"
lb_yaml "$L_DIR/nov6.yaml" lb0 "$L_PIN"
sed -i '/encap_source_v6/d' "$L_DIR/nov6.yaml"
lexec "$QLBCTL" lb apply -f "$L_DIR/nov6.yaml" && fail "an IPv6 host without encap_source_v6 applied"
lb_yaml "$L_DIR/otherif.yaml" lo "$L_PIN"
lexec "$QLBCTL" lb apply -f "$L_DIR/otherif.yaml" && fail "applied to another interface without detach"
[ "$(status | jget 'j["generation"]')" = "$gen" ] || fail "a bad file changed the generation"
status | jget '[h["name"] for h in j["hosts"]]' | grep -q web4 || fail "a bad file changed the hosts"
w1_0=$(metric 'qlb_lb_host_packets_total{host="web1"}')
send $VIP4 "41${CID_W1}${PAY}" 443 5
[ $(( $(metric 'qlb_lb_host_packets_total{host="web1"}') - w1_0 )) = 5 ] ||
	fail "forwarding changed after the bad files"

# two LB nodes, same fleet file: the same decision for every captured packet
capture_start "$L_DIR/cap.pcap"
send $VIP4 "41${CID_W1}${PAY}"
send $VIP4 "41280a25a1b2c3d4e5f6${PAY}"
send $VIP6 "41280a4fa1b2c3d4e5f6${PAY}"
for i in 1 2 3 4 5 6 7 8; do send $VIP4 "$(initial_hex 00112233445566$i$i)"; done
send $VIP4 "41f70a13a1b2c3d4e5f6${PAY}"
capture_stop "$L_DIR/cap.pcap" 22	# 11 sent, all wrapped
tcpdump -r "$L_DIR/cap.pcap" -w "$L_DIR/client.pcap" "ether src $RT_MAC and (udp or tcp)" 2>/dev/null
lb_yaml "$L_DIR/lb2.yaml" eth-lb2 "$L_PINROOT/lb2" "$(sed -n '/^hosts:/,$p' "$B" | tail -n +2)"
"$QLBCTL" -j trace -f "$B" "$L_DIR/client.pcap" >"$L_DIR/t1.json" || fail "trace 1"
"$QLBCTL" -j trace -f "$L_DIR/lb2.yaml" "$L_DIR/client.pcap" >"$L_DIR/t2.json" || fail "trace 2"
cat "$L_DIR/t1.json"
[ "$(grep -c '"action":"tx"' "$L_DIR/t1.json")" -ge 11 ] || fail "trace: too few tx"
cmp -s "$L_DIR/t1.json" "$L_DIR/t2.json" || { diff "$L_DIR/t1.json" "$L_DIR/t2.json"; fail "two LB nodes decide differently"; }
# and the live node decided as trace says: per host, frames seen on the wire
for h in web1 web2 web4; do
	addr=$(status | jget "[x['address'] for x in j['hosts'] if x['name']=='$h'][0]")
	want=$(grep -c "\"host\":\"$h\"" "$L_DIR/t1.json")
	got=$(count "$L_DIR/cap.pcap" "ether src $LB_MAC and dst host $addr")
	[ "$want" = "$got" ] || fail "$h: trace says $want packets, the wire shows $got"
done
log PASS
