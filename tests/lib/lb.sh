# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Shared setup of the LB node netns tests (tests/netns/lb_*.sh). Sourced.
#
#   router ns (client, gateway)  rt0 198.18.100.1/24 2001:db8:100::1/64
#      |  veth                    routes the VIPs via the LB node
#   LB ns                        lb0 198.18.100.2/24 2001:db8:100::2/64, XDP
#
# The LB node sends encapsulated frames back out lb0 to the gateway MAC
# (rt0's), where tcpdump sees them. LB processes run with nsenter --net so
# they keep /sys/fs/bpf; each test has its own pin_dir and namespaces.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. tests/lib/yaml.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac # make passes it absolute
QLBCTL=$BUILD/qlbctl
L_TAG=${L_TAG:-lb}
NS_R=qlbt-$L_TAG-r-$$
NS_L=qlbt-$L_TAG-l-$$
L_DIR=/tmp/qlbt-$L_TAG-$$
L_PINROOT=/sys/fs/bpf/qlbt-$L_TAG-$$
L_PIN=$L_PINROOT/lb1
VIP4=198.18.1.1
VIP6=2001:db8:1::1
TCPDUMP_PID=

log() { echo "[$(date +%T)] $*"; }
fail() { echo "FAIL: $*"; exit 1; }
rexec() { nsenter --net=/run/netns/"$NS_R" "$@"; }
lexec() { nsenter --net=/run/netns/"$NS_L" "$@"; }

lb_cleanup() {
	[ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null
	wait 2>/dev/null
	[ -d "$L_PIN" ] && lexec "$QLBCTL" lb detach --pin-dir "$L_PIN" >/dev/null 2>&1
	rm -rf "$L_PINROOT"
	ip netns del "$NS_R" 2>/dev/null
	ip netns del "$NS_L" 2>/dev/null
	rm -rf "$L_DIR"
}

lb_setup() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	[ -x "$QLBCTL" ] || fail "build first: make BUILD=$BUILD"
	mkdir -p "$L_DIR"
	trap lb_cleanup EXIT
	ip netns add "$NS_R" || fail "netns"
	ip netns add "$NS_L" || fail "netns"
	ip link add rt0 netns "$NS_R" type veth peer name lb0 netns "$NS_L" || fail "veth"
	rexec ip link set lo up
	rexec ip link set rt0 up
	rexec ip addr add 198.18.100.1/24 dev rt0
	rexec ip addr add 2001:db8:100::1/64 dev rt0 nodad
	rexec ip route add $VIP4/32 via 198.18.100.2
	lexec ip link set lo up
	lexec ip link set lb0 up
	lexec ip addr add 198.18.100.2/24 dev lb0
	lexec ip addr add 2001:db8:100::2/64 dev lb0 nodad
	rexec ip -6 route add $VIP6/128 via 2001:db8:100::2
	# native XDP_TX into a veth needs NAPI on the peer: a pass-through
	# XDP program gives it (GRO alone did not here)
	rexec ip link set dev rt0 xdpdrv obj "$BUILD/bpf/qlb_bench_empty.bpf.o" sec xdp ||
		fail "cannot attach the pass-through XDP program to rt0"
	RT_MAC=$(rexec ip -br link show dev rt0 | awk '{print $3}')
	LB_MAC=$(lexec ip -br link show dev lb0 | awk '{print $3}')
	# static neighbours: no ARP/ND needed for the test traffic
	rexec ip neigh replace 198.18.100.2 lladdr "$LB_MAC" dev rt0
	rexec ip -6 neigh replace 2001:db8:100::2 lladdr "$LB_MAC" dev rt0
}

# lb_yaml FILE INTERFACE PIN_DIR [HOSTS_YAML]: the fleet file of these tests.
# Config 1: plaintext, 2-byte server IDs, 4 worker bits; config 2: four-pass.
LB_HOSTS='  - name: web1
    address: 198.18.0.21
    server_ids: {1: "0a10", 2: "0a1000"}
  - name: web2
    address: 198.18.0.22
    encap: ipip
    server_ids: {1: "0a20", 2: "0a2000"}
  - name: web3
    address: "2001:db8::23"
    server_ids: {1: "0a30", 2: "0a3000"}'

lb_yaml() {
	local hosts=${4:-$LB_HOSTS}
	cat >"$1" <<EOT
$(yaml_quic_lb_cfg1)
      state: active
    - id: 2
      server_id_len: 3
      nonce_len: 5
      worker_bits: 4
      key: 8f95f09245765f80256934e50c66207f
      state: routable
lb:
  interface: $2
  xdp_mode: ${XDP_MODE:-native}
  gateway_mac: "$RT_MAC"
  encap_source_v4: 198.18.100.2
  encap_source_v6: "2001:db8:100::2"
  pin_dir: $3
  maglev_table_size: 65537
  vips:
    - address: $VIP4
      port: 443
    - address: "$VIP6"
      port: 443
hosts:
$hosts
EOT
}

# send HOST HEX [PORT] [COUNT]: COUNT UDP datagrams (each from a new
# socket, so a new source port unless COUNT > 1) from the router ns.
send() {
	rexec python3 -c '
import socket, sys, time
host, data, port, n = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(data, (host, port))
    if n > 1 and i % 50 == 49:
        time.sleep(0.005)
' "$1" "$2" "${3:-443}" "${4:-1}" || fail "send to $1"
}

# A client Initial (version 1) with DCID $2, padded to 1200 bytes.
initial_hex() {
	local h="c300000001$(printf '%02x' $((${#1} / 2)))${1}08a1a2a3a4a5a6a7a8"
	while [ ${#h} -lt 2400 ]; do h="${h}00"; done
	echo "$h"
}

capture_start() {
	# nsenter itself in the background (not a function): $! is tcpdump
	nsenter --net=/run/netns/"$NS_R" tcpdump --immediate-mode -U -n -i rt0 -w "$1" >/dev/null 2>&1 &
	TCPDUMP_PID=$!
	local i
	for i in $(seq 1 50); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 0
}

# capture_stop FILE [MIN]: end the capture once it holds MIN IP packets
# (or stops growing, when no MIN), at most 10 s: tcpdump may lag under load.
capture_stop() {
	local i n prev=-1
	for i in $(seq 1 50); do
		sleep 0.2
		n=$(tcpdump -nn -r "$1" 'ip or (ip6 and not icmp6)' 2>/dev/null | wc -l)
		if [ -n "${2:-}" ]; then
			[ "$n" -ge "$2" ] && break
		else
			[ "$n" = "$prev" ] && break
		fi
		prev=$n
	done
	kill "$TCPDUMP_PID" 2>/dev/null
	wait "$TCPDUMP_PID" 2>/dev/null
	TCPDUMP_PID=
}

# count PCAP FILTER: packets of PCAP matching a tcpdump filter.
count() {
	tcpdump -nn -r "$1" "$2" 2>/dev/null | wc -l
}
