#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The LB node on a real veth (native XDP): datagrams sent to the VIPs leave
# the LB node encapsulated toward the host that owns their CID (GUE over
# IPv4 and IPv6, IPIP), Initials take the fallback, other traffic is left
# alone; qlbctl has exited by then (the pinned program keeps working).
# The frames seen on the wire are exactly those `qlbctl trace --write`
# predicts from the same file; counters and metrics count them; detach
# removes everything.
L_TAG=lbfwd
source "$(dirname "$0")/../lib/lb.sh"

lb_setup
CFG=$L_DIR/lb1.yaml
lb_yaml "$CFG" lb0 "$L_PIN"
lexec "$QLBCTL" lb apply -f "$CFG" || fail "apply"
lexec "$QLBCTL" lb status --pin-dir "$L_PIN"
rexec ip -d link show dev rt0 >/dev/null
lexec ip link show dev lb0 | grep -q "prog/xdp" || fail "no XDP program on lb0"

CID_W1=280a13a1b2c3d4e5f6			# config 1, web1 worker 3
CID_W2=280a25a1b2c3d4e5f6			# config 1, web2 worker 5
CID_W3=280a3fa1b2c3d4e5f6			# config 1, web3 worker 15
CID_FP=$("$QLBCTL" cid encode --config-id 2 --server-id 0a1005 --nonce-len 5 \
	--nonce 0102030405 --key 8f95f09245765f80256934e50c66207f) || fail "cid encode"
PAY=00112233445566778899aabbccddeeff0011

capture_start "$L_DIR/cap.pcap"
send $VIP4 "41${CID_W1}${PAY}"
send $VIP4 "41${CID_W2}${PAY}"
send $VIP6 "41${CID_W3}${PAY}"
send $VIP4 "41${CID_FP}${PAY}"
for i in 1 2 3 4 5 6; do
	send $VIP4 "$(initial_hex 0123456789abcde$i)"
done
send $VIP6 "$(initial_hex 0123456789abcdef)"
send $VIP4 "41f70a13a1b2c3d4e5f6${PAY}"		# 0b111: fallback
send $VIP4 "41${CID_W1}${PAY}" 444		# not a VIP port: left alone
capture_stop "$L_DIR/cap.pcap" 25	# 13 sent, 12 of them wrapped

tcpdump -nn -r "$L_DIR/cap.pcap" 2>/dev/null | head -40
n=$(count "$L_DIR/cap.pcap" "ip and udp dst port 6080 and dst host 198.18.0.21 and src host 198.18.100.2")
[ "$n" -ge 2 ] || fail "web1 got $n GUE packets, expected at least its 2 CIDs"
n=$(count "$L_DIR/cap.pcap" "ip and ip proto 4 and dst host 198.18.0.22")
[ "$n" -ge 1 ] || fail "web2 got no IPIP packet"
n=$(count "$L_DIR/cap.pcap" "ip6 and udp dst port 6080 and dst host 2001:db8::23")
[ "$n" -ge 1 ] || fail "web3 got no GUE-over-IPv6 packet"
enc=$(count "$L_DIR/cap.pcap" "ether src $LB_MAC and ether dst $RT_MAC")
[ "$enc" = 12 ] || fail "$enc encapsulated frames, expected 12 (all VIP datagrams, not the port-444 one)"
n=$(count "$L_DIR/cap.pcap" "ether src $LB_MAC and udp port 444")
[ "$n" = 0 ] || fail "the non-VIP datagram was forwarded"
# the plaintext CID of web1 is inside a GUE packet to web1
tcpdump -nn -xx -r "$L_DIR/cap.pcap" "ip and udp dst port 6080 and dst host 198.18.0.21" 2>/dev/null |
	tr -d ' \n' | grep -q "$(echo 41${CID_W1} | cut -c1-16)" || fail "web1's CID not found inside its tunnel"

# trace on the same file predicts every frame byte for byte
tcpdump -r "$L_DIR/cap.pcap" -w "$L_DIR/client.pcap" "ether src $RT_MAC" 2>/dev/null
lexec "$QLBCTL" -j trace -f "$CFG" --write "$L_DIR/trace.pcap" "$L_DIR/client.pcap" >"$L_DIR/trace.json" ||
	fail "trace"
cat "$L_DIR/trace.json"
grep -q '"host":"web1","reason":"routed_cid","config_id":2,"server_id":"0a1005"' "$L_DIR/trace.json" ||
	fail "trace: four-pass CID not routed to web1"
tcpdump -nn -t -xx -r "$L_DIR/trace.pcap" "ether src $LB_MAC" 2>/dev/null >"$L_DIR/want.txt"
tcpdump -nn -t -xx -r "$L_DIR/cap.pcap" "ether src $LB_MAC and ether dst $RT_MAC" 2>/dev/null >"$L_DIR/got.txt"
diff "$L_DIR/want.txt" "$L_DIR/got.txt" >/dev/null || {
	diff "$L_DIR/want.txt" "$L_DIR/got.txt" | head -20
	fail "live frames differ from what trace predicts"
}
[ -s "$L_DIR/got.txt" ] || fail "nothing compared"

# counters and metrics
lexec "$QLBCTL" lb stats --pin-dir "$L_PIN"
# with -f the one (implicit) service has its name, without it its index
m=$(lexec "$QLBCTL" lb metrics -f "$CFG")
echo "$m" | grep -q '^qlb_lb_packets_total{vip="198.18.1.1:443",service="default",reason="routed_cid",action="tx"} 3$' ||
	fail "metrics: routed_cid for the IPv4 VIP is not 3"
echo "$m" | grep -q '^qlb_lb_packets_total{vip="198.18.1.1:443",service="default",reason="fallback_unroutable",action="tx"} 1$' ||
	fail "metrics: fallback_unroutable is not 1"
echo "$m" | grep -q '^qlb_lb_service_packets_total{service="default",reason="fallback_initial",action="tx"} 7$' ||
	fail "metrics: the service's fallback_initial is not 7 (6 IPv4 and 1 IPv6 Initials)"
lexec "$QLBCTL" lb metrics --pin-dir "$L_PIN" |
	grep -q '^qlb_lb_packets_total{vip="198.18.1.1:443",service="0",reason="routed_cid",action="tx"} 3$' ||
	fail "metrics without the file: service index 0 expected"
w2=$(grep -c '"host":"web2"' "$L_DIR/trace.json")
echo "$m" | grep -q "^qlb_lb_host_packets_total{host=\"web2\"} $w2\$" ||
	fail "metrics: web2 did not count the $w2 packets trace sent it"
echo "$m" | grep -q "^qlb_lb_member_packets_total{service=\"default\",host=\"web2\"} $w2\$" ||
	fail "metrics: member default/web2 did not count the $w2 packets trace sent it"
echo "$m" | grep -q '^qlb_lb_config_routed_packets_total{service="default",config="1"} 3$' &&
	echo "$m" | grep -q '^qlb_lb_config_routed_packets_total{service="default",config="2"} 1$' ||
	fail "metrics: per-config routed packets (config 1: 3, config 2: 1)"
lexec "$QLBCTL" -j lb stats --pin-dir "$L_PIN" | grep -q '"fallback_initial":{"packets":6' ||
	fail "stats -j: 6 IPv4 Initials expected"

# --watch prints rates beside totals, twice, then ends
w=$(lexec "$QLBCTL" lb stats --pin-dir "$L_PIN" --watch --interval 0.2 --count 2)
[ "$(echo "$w" | grep -c 'PKT/S')" -ge 4 ] || { echo "$w"; fail "stats --watch"; }

# metrics over HTTP, as a scraper sees them
nsenter --net=/run/netns/"$NS_L" "$QLBCTL" lb metrics --pin-dir "$L_PIN" --listen 127.0.0.1:19731 &
MPID=$!
for i in $(seq 1 30); do
	out=$(lexec bash -c 'exec 3<>/dev/tcp/127.0.0.1/19731 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && timeout 2 cat <&3' 2>/dev/null) && break
	sleep 0.1
done
kill $MPID 2>/dev/null
wait $MPID 2>/dev/null || true
echo "$out" | grep -q 'qlb_lb_host_packets_total{host="web3"}' || fail "metrics over HTTP"

lexec "$QLBCTL" lb detach --pin-dir "$L_PIN" || fail "detach"
lexec ip link show dev lb0 | grep -q "prog/xdp" && fail "XDP still attached after detach"
[ -e "$L_PIN" ] && fail "pins left after detach"
log PASS
