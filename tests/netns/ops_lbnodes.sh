#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Several LB nodes (issue 5): two nodes given the same fleet file decide
# alike, byte for byte.
#
# Offline: one input pcap (client Initials from 2000 random 4-tuples over
# IPv4 and IPv6, CIDs of every worker of every host under both configs,
# encrypted and plaintext, an unroutable CID, a CID of an unknown config)
# through `qlbctl trace --write` with
#  (a) two node files that differ only in what never reaches the wire
#      (interface, pin_dir, xdp_mode): the output pcaps are identical;
#  (b) the real pair (each node its own encap source and gateway MAC):
#      identical once exactly those fields (Ethernet addresses, outer
#      source address, outer IPv4 checksum) are masked; in particular the
#      same host, encapsulation, flow entropy (UDP source port, IPv6 flow
#      label) and inner packet.
# Live: a steady load through lb1, the router's route switched to lb2
# mid-stream (tests/e2e/fleet_lb_switch.sh moves a QUIC download the same
# way): nothing lost, every flow, Initial flows included, answered by the
# same worker before and after the switch.
FAULTS_LBS="lb1 lb2"
source "$(dirname "$0")/../lib/faults.sh"

faults_up lbnodes
D=$FLEET_DIR

cat >"$D/fleet2.yaml" <<EOF
$(yaml_quic_lb_cfg1)
      key: 8f95f09245765f80256934e50c66207f
      state: active
    - id: 2
      server_id_len: 3
      nonce_len: 5
      worker_bits: 4
      state: routable
hosts:
  - name: web1
    address: 198.18.21.2
    server_ids: {1: "1000", 2: "100000"}
  - name: web2
    address: 198.18.22.2
    encap: ipip
    weight: 50
    server_ids: {1: "2000", 2: "200000"}
  - name: web3
    address: "2001:db8:23::2"
    server_ids: {1: "3000", 2: "300000"}
  - name: web4
    address: "2001:db8:24::2"
    encap: ipip
    weight: 200
    server_ids: {1: "4000", 2: "400000"}
  - name: web5
    address: 198.18.25.2
    state: draining
    server_ids: {1: "5000", 2: "500000"}
EOF
# node_file OUT IFACE PIN MODE NET MAC: the fleet file plus a node's lb:
node_file() {
	{
		cat "$D/fleet2.yaml"
		cat <<EOF
lb:
  interface: $2
  xdp_mode: $4
  gateway_mac: "$6"
  encap_source_v4: 198.18.$5.2
  encap_source_v6: "2001:db8:$5::2"
  pin_dir: $3
  vips:
    - address: $VIP4
      port: 443
    - address: "$VIP6"
      port: 443
EOF
	} >"$1"
}
node_file "$D/a1.yaml" qlbt-nic-a "$FLEET_PIN/x1" native 11 02:00:00:00:01:01
node_file "$D/a2.yaml" qlbt-nic-b "$FLEET_PIN/x2" generic 11 02:00:00:00:01:01
node_file "$D/b2.yaml" qlbt-nic-a "$FLEET_PIN/x2" native 12 02:00:00:00:01:02

cids=()
for c in 1 2; do
	for h in 1 2 3 4 5; do
		for w in 0 1 2 15; do
			if [ $c = 1 ]; then
				cids+=(--cid "$("$QLBCTL" cid encode --config-id 1 --server-id "${h}00$(printf %x $w)" \
					--nonce-len 6 --key 8f95f09245765f80256934e50c66207f)")
			else
				cids+=(--cid "$("$QLBCTL" cid encode --config-id 2 --server-id "${h}0000$(printf %x $w)" \
					--nonce-len 5)")
			fi
		done
	done
done
cids+=(--cid "$("$QLBCTL" cid encode --config-id 3 --server-id 1000 --nonce-len 6)")
cids+=(--cid "ff00112233445566778899")
python3 tests/tools/qlb-mkpcap.py "$D/in.pcap" --vip4 "$VIP4" --vip6 "$VIP6" \
	--initials 2000 "${cids[@]}" || fail "cannot write the input pcap"
for n in a1 a2 b2; do
	"$QLBCTL" -j trace -f "$D/$n.yaml" --write "$D/$n.pcap" "$D/in.pcap" >"$D/$n.json" ||
		fail "trace $n"
done
npk=$(grep -c . "$D/a1.json")
ntx=$(grep -c '"action":"tx"' "$D/a1.json")
log "trace: $npk packets in, $ntx sent to hosts; by reason:"
python3 -c 'import json,sys,collections
print(dict(collections.Counter((json.loads(l)["reason"], json.loads(l)["host"]) for l in open(sys.argv[1]))))' "$D/a1.json"
[ "$ntx" = "$npk" ] || fail "not every packet was sent to a host"
cmp "$D/a1.pcap" "$D/a2.pcap" || fail "(a) nodes differing in local settings wrote different frames"
log "(a) $(stat -c %s "$D/a1.pcap") bytes of output pcap identical (cmp)"
python3 - "$D/a1.pcap" "$D/b2.pcap" <<'EOF' || fail "(b) the two nodes decided differently"
import struct, sys
def frames(p):
    b = open(p, 'rb').read()
    off, out = 24, []
    while off < len(b):
        _, _, cap, _ = struct.unpack_from('<IIII', b, off)
        out.append(bytearray(b[off + 16:off + 16 + cap]))
        off += 16 + cap
    return out
def mask(f):
    f[0:12] = bytes(12)                        # Ethernet addresses
    et = f[12:14]
    if et == b'\x08\x00':
        f[14 + 10:14 + 16] = bytes(6)          # outer IPv4 checksum and source
    elif et == b'\x86\xdd':
        f[14 + 8:14 + 24] = bytes(16)          # outer IPv6 source
    return bytes(f)
A, B = frames(sys.argv[1]), frames(sys.argv[2])
if len(A) != len(B):
    sys.exit(f'{len(A)} frames vs {len(B)}')
raw = sum(a == b for a, b in zip(A, B))
diff = [i for i, (a, b) in enumerate(zip(A, B)) if mask(a) != mask(b)]
print(f'(b) {len(A)} frames: {raw} identical as they are, {len(A) - len(diff)} identical once node-local fields are masked')
for i in diff[:5]:
    print(f'frame {i + 1} differs')
sys.exit(1 if diff or not A else 0)
EOF

# live: switch the router from lb1 to lb2 mid-stream
OPTS=(-f "$D/fleet.yaml" --workers 2 --initials 40 --sport 34000 --rate 2000)
faults_load_bg "$D/live.txt" "${OPTS[@]}" --duration 30
sleep 1
fleet_route_vip lb2
sleep 1
kill -INT "$FLOAD_PID"
wait "$FLOAD_PID"
s1=$(faults_lb_json lb1 stats | python3 -c 'import json,sys; j=json.load(sys.stdin); print(sum(r["packets"] for v in j["vips"] for r in v["reasons"].values()))')
s2=$(faults_lb_json lb2 stats | python3 -c 'import json,sys; j=json.load(sys.stdin); print(sum(r["packets"] for v in j["vips"] for r in v["reasons"].values()))')
log "live switch lb1 -> lb2: $(grep ^total "$D/live.txt"); packets seen by lb1 $s1, lb2 $s2"
[ "$s2" -gt 0 ] || fail "lb2 saw nothing after the switch"
[ "$(faults_total "$D/live.txt" lost)" = 0 ] || fail "datagrams lost at the switch"
moved=$(grep -c 'from=[^ ]*,' "$D/live.txt")
[ "$moved" = 0 ] || { grep 'from=[^ ]*,' "$D/live.txt"; fail "$moved flows answered by another worker after the switch"; }
log PASS
