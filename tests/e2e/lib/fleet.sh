# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=bash
#
# A whole qlb fleet in network namespaces, for the end-to-end scenarios
# and `make demo`:
#
#                       .-- lb1 (XDP) --.
#   cli --- rtr (router)+-- lb2 (XDP)   |   encapsulated (GUE / IPIP)
#             |   ^     '---------------'   back through the router
#             |   |
#             +---|---- h1, h2, h3: decap (XDP), agent, SK_REUSEPORT,
#             |   |     qlb-h3server workers; the VIPs on loopback
#             '---'---- replies go straight from the hosts to the client
#
# The router sends the VIPs to one LB node (fleet_route_vip switches it);
# the LB node encapsulates each packet toward the host that owns its CID
# and sends it back to the router (gateway_mac), which forwards it to the
# host by its outer address. Hosts decapsulate, the stack delivers the
# inner packet to the VIP's socket group, the SK_REUSEPORT program picks
# the worker, and the worker answers the client directly.
#
# Addresses (all in 198.18.0.0/15 and 2001:db8::/32):
#   client 198.18.10.2 / 2001:db8:10::2      router side .1 / ::1
#   lbN    198.18.1N.2 / 2001:db8:1N::2      (N = 1, 2)
#   hN     198.18.2N.2 / 2001:db8:2N::2      (N = 1, 2, 3)
#   VIPs   198.18.100.1:443, [2001:db8:100::1]:443
# The LB nodes reach h1 (GUE) and h2 (IPIP) by their IPv4 addresses and h3
# (GUE) by its IPv6 address, so every VIP family meets both outer families.
# The LB nodes run their XDP program in generic mode (FLEET_XDP_MODE):
# frames a native-mode program sends back into a veth (XDP_TX) did not reach
# the router's side on this kernel, even with GRO on there.
# Links between router, LB nodes and hosts have MTU 2000 (native XDP on a
# veth allows at most about 3500), so that a full
# 1500-byte client packet still fits once encapsulated.
#
# One fleet file ($FLEET_DIR/fleet.yaml: quic_lb + hosts) is what operators
# edit (qlbctl rotate, host states); fleet_distribute writes each node's
# file as that plus its own lb: or host: section and applies it.

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VIP4=198.18.100.1
VIP6=2001:db8:100::1
VIP_PORT=443
FLEET_HOSTS=(h1 h2 h3)
FLEET_LBS=(lb1 lb2)
FLEET_WORKERS=${FLEET_WORKERS:-2}
declare -A FLEET_SRV_PID=()	# "h1:1" -> server process group of generation 1
declare -A FLEET_AGENT_PID=()
FLEET_VIA=

# fleet_have_lb: qlbctl has the LB node's data plane.
fleet_have_lb() {
	! "$QLBCTL" lb status --help 2>&1 | grep -q 'not built yet'
}

# fleet_require_lb: skip the scenario when the LB node is missing.
fleet_require_lb() {
	fleet_have_lb || e2e_skip "the LB node (qlbctl lb apply) is not in this build yet"
}

fleet_ns() { echo "$FLEET_P-$1"; }

# fleet_net_up: the namespaces and links of the fleet (client, router, LB
# nodes, hosts with the VIPs on loopback), nothing running yet.
fleet_net_up() {
	local rtr cli n ns net
	rtr=$(fleet_ns rtr)
	cli=$(fleet_ns cli)
	e2e_ns "$rtr"
	e2e_ns "$cli"
	for n in "${FLEET_LBS[@]}" "${FLEET_HOSTS[@]}"; do
		e2e_ns "$(fleet_ns "$n")"
	done
	# no duplicate address detection on the links made below: while a
	# link-local address is tentative it answers no neighbour
	# solicitation, and the router drops the first second toward a host
	for n in "${E2E_NS[@]}"; do
		ip netns exec "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 \
			net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	ip netns exec "$rtr" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1

	# client <-> router
	e2e_veth "$cli" eth0 "$rtr" r-cli
	e2e_addr "$cli" eth0 198.18.10.2/24
	e2e_addr "$cli" eth0 2001:db8:10::2/64
	e2e_addr "$rtr" r-cli 198.18.10.1/24
	e2e_addr "$rtr" r-cli 2001:db8:10::1/64
	ip -n "$cli" route add default via 198.18.10.1
	ip -n "$cli" -6 route add default via 2001:db8:10::1

	# router <-> LB nodes and hosts
	for n in "${FLEET_LBS[@]}" "${FLEET_HOSTS[@]}"; do
		ns=$(fleet_ns "$n")
		case $n in lb*) net=1${n#lb} ;; h*) net=2${n#h} ;; esac
		e2e_veth "$ns" eth0 "$rtr" "r-$n" 2000
		e2e_addr "$ns" eth0 "198.18.$net.2/24"
		e2e_addr "$ns" eth0 "2001:db8:$net::2/64"
		e2e_addr "$rtr" "r-$n" "198.18.$net.1/24"
		e2e_addr "$rtr" "r-$n" "2001:db8:$net::1/64"
		ip -n "$ns" route add default via "198.18.$net.1"
		ip -n "$ns" -6 route add default via "2001:db8:$net::1"
	done

	# hosts: the VIPs live on loopback (direct server return)
	for n in "${FLEET_HOSTS[@]}"; do
		ip -n "$(fleet_ns "$n")" addr add "$VIP4/32" dev lo
		ip -n "$(fleet_ns "$n")" addr add "$VIP6/128" dev lo nodad
	done
}

# fleet_up NAME: build the fleet. FLEET_NO_LB=1 leaves the LB nodes out
# (the router then sends the VIPs straight to h1).
fleet_up() {
	e2e_init "$1"
	FLEET_P="qlbt-${1:0:8}-$$"
	FLEET_DIR=$E2E_TMP
	FLEET_PIN=/sys/fs/bpf/$FLEET_P
	E2E_CLEANUP_CMDS+=("fleet_detach_all")
	E2E_RM_DIRS+=("$FLEET_PIN")

	fleet_net_up
	e2e_certs "$FLEET_DIR" qlb.test "$VIP4" "$VIP6"
	fleet_write_fleet_yaml
	fleet_distribute_files

	if [ -z "${FLEET_NO_AGENT:-}" ]; then
		for n in "${FLEET_HOSTS[@]}"; do
			fleet_agent_start "$n"
		done
	fi
	for n in "${FLEET_HOSTS[@]}"; do
		fleet_server_start "$n" 1
	done
	for n in "${FLEET_HOSTS[@]}"; do
		fleet_server_wait "$n" 1
	done

	if [ -z "${FLEET_NO_LB:-}" ]; then
		for n in "${FLEET_LBS[@]}"; do
			fleet_lb_apply "$n" || e2e_fail "qlbctl lb apply failed on $n"
		done
		fleet_route_vip lb1
	else
		fleet_route_vip h1
	fi
}

# The fleet file: what rotation and host changes edit. The config has a
# key (CIDs of 1+2+6 bytes: four-pass AES) unless FLEET_PLAINTEXT=1.
fleet_write_fleet_yaml() {
	FLEET_KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	cat >"$FLEET_DIR/fleet.yaml" <<EOF
# qlb fleet of the end-to-end tests (made by tests/e2e/lib/fleet.sh)
quic_lb:
  configs:
    - id: 1
      server_id_len: 2
      nonce_len: 6
      worker_bits: 4
${FLEET_PLAINTEXT:+#}      key: $FLEET_KEY
      encode_length: true
      state: active
      drain_time: 2
hosts:
  - name: h1
    address: 198.18.21.2
    server_id: "1000"
    encap: gue
    state: active
  - name: h2
    address: 198.18.22.2
    server_id: "2000"
    encap: ipip
    state: active
  - name: h3
    address: "2001:db8:23::2"   # outer IPv6 toward this host
    server_id: "3000"
    encap: gue
    state: active
EOF
}

fleet_mac() {
	ip -n "$(fleet_ns rtr)" link show "$1" | awk '/link\/ether/ { print $2 }'
}

# Each node's file: the fleet file plus the node's own section.
fleet_distribute_files() {
	local n net
	for n in "${FLEET_LBS[@]}"; do
		net=1${n#lb}
		{
			cat "$FLEET_DIR/fleet.yaml"
			cat <<EOF
lb:
  interface: eth0
  xdp_mode: ${FLEET_XDP_MODE:-generic}
  gateway_mac: "$(fleet_mac "r-$n")"
  encap_source_v4: 198.18.$net.2
  encap_source_v6: "2001:db8:$net::2"
  pin_dir: $FLEET_PIN/$n
  mtu: 2000
  vips:
    - address: $VIP4
      port: $VIP_PORT
    - address: "$VIP6"
      port: $VIP_PORT
EOF
		} >"$FLEET_DIR/$n.yaml.tmp" && mv "$FLEET_DIR/$n.yaml.tmp" "$FLEET_DIR/$n.yaml"
	done
	for n in "${FLEET_HOSTS[@]}"; do
		{
			cat "$FLEET_DIR/fleet.yaml"
			cat <<EOF
host:
  name: $n
  interface: eth0
  agent_socket: $FLEET_DIR/$n.sock
  pin_dir: $FLEET_PIN/$n
  workers: $FLEET_WORKERS
  allow_uids: [0]
EOF
		} >"$FLEET_DIR/$n.yaml.tmp" && mv "$FLEET_DIR/$n.yaml.tmp" "$FLEET_DIR/$n.yaml"
	done
}

# fleet_distribute: after an edit of fleet.yaml, the draft's order: LB
# nodes learn the change first, then the hosts' agents (SIGHUP).
fleet_distribute() {
	local n
	fleet_distribute_files
	if [ -z "${FLEET_NO_LB:-}" ]; then
		for n in "${FLEET_LBS[@]}"; do
			fleet_lb_apply "$n" || e2e_fail "qlbctl lb apply failed on $n"
		done
	fi
	for n in "${FLEET_HOSTS[@]}"; do
		[ -n "${FLEET_AGENT_PID[$n]:-}" ] &&
			kill -HUP "${FLEET_AGENT_PID[$n]}" 2>/dev/null
	done
	return 0
}

fleet_agent_start() {
	local n=$1
	e2e_bg "agent-$n" "$(fleet_ns "$n")" "$QLBCTL" agent -f "$FLEET_DIR/$n.yaml"
	FLEET_AGENT_PID[$n]=$E2E_LAST_PID
	local i
	for i in $(seq 1 100); do
		[ -S "$FLEET_DIR/$n.sock" ] && return 0
		kill -0 "$E2E_LAST_PID" 2>/dev/null || break
		sleep 0.1
	done
	e2e_fail "agent on $n did not start"
}

# fleet_server_start HOST GEN: a qlb-h3server generation on HOST.
# FLEET_NO_AGENT=1: standalone minting (a test of the plumbing only: the
# kernel's reuseport hash, not the CID, then picks the worker).
fleet_server_start() {
	local n=$1 g=$2
	local cidsrc=(--agent "$FLEET_DIR/$n.sock")
	[ -n "${FLEET_NO_AGENT:-}" ] && cidsrc=(--no-agent --host "$n" --config-id 1
		--server-id "${n#h}000" --cid-key "$FLEET_KEY" --worker-bits 4)
	e2e_bg "srv-$n-g$g" "$(fleet_ns "$n")" "$H3SERVER" \
		--cert "$FLEET_DIR/cert.pem" --key "$FLEET_DIR/key.pem" \
		"${cidsrc[@]}" -w "$FLEET_WORKERS" -g "$g" \
		--drain-timeout 60 ${FLEET_SRV_OPTS:-} :: "$VIP_PORT"
	FLEET_SRV_PID[$n:$g]=$E2E_LAST_PID
}

fleet_server_wait() {
	e2e_wait_log "$FLEET_DIR/srv-$1-g$2.log" 'ready on' "$FLEET_WORKERS" 15 ||
		e2e_fail "server generation $2 on $1 did not start"
}

# fleet_lb_apply LB: (re)apply the LB node's file.
fleet_lb_apply() {
	e2e_in "$(fleet_ns "$1")" "$QLBCTL" lb apply -f "$FLEET_DIR/$1.yaml" \
		>>"$FLEET_DIR/lb-$1.log" 2>&1
}

fleet_detach_all() {
	local n
	for n in "${FLEET_LBS[@]}"; do
		[ -f "$FLEET_DIR/$n.yaml" ] && fleet_have_lb &&
			e2e_in "$(fleet_ns "$n")" "$QLBCTL" lb detach -f "$FLEET_DIR/$n.yaml"
	done
	return 0
}

# fleet_route_vip NODE: the router sends both VIPs to NODE (lb1, lb2, or a
# host for the direct baseline).
fleet_route_vip() {
	local net rtr
	rtr=$(fleet_ns rtr)
	case $1 in lb*) net=1${1#lb} ;; h*) net=2${1#h} ;; esac
	ip -n "$rtr" route replace "$VIP4/32" via "198.18.$net.2"
	ip -n "$rtr" -6 route replace "$VIP6/128" via "2001:db8:$net::2"
	FLEET_VIA=$1
}

# fleet_shape_client RATE: limit what the router sends to the client, so
# that a download lasts long enough to do something in its middle.
fleet_shape_client() {
	ip netns exec "$(fleet_ns rtr)" tc qdisc replace dev r-cli root tbf \
		rate "$1" burst 64kb latency 200ms
}

fleet_unshape_client() {
	ip netns exec "$(fleet_ns rtr)" tc qdisc del dev r-cli root 2>/dev/null || true
}

# fleet_get OUTDIR SECS [gtlsclient --options=VALUE...] PATH...: fetch from the
# IPv4 VIP (FLEET_V6=1: the IPv6 VIP) in the client namespace.
fleet_get() {
	local out=$1 secs=$2 host=$VIP4 uh=$VIP4 a opts=() uris=()
	shift 2
	if [ -n "${FLEET_V6:-}" ]; then
		host=$VIP6
		uh="[$VIP6]"
	fi
	for a in "$@"; do
		case $a in
		/*) uris+=("https://$uh:$VIP_PORT$a") ;;
		*) opts+=("$a") ;;
		esac
	done
	e2e_get "$(fleet_ns cli)" "$out" "$secs" "$host" "$VIP_PORT" "${opts[@]}" "${uris[@]}"
}

# fleet_whoami_wait FILE SECS: wait for a /whoami answer to be written
# (the download beside it on the same connection keeps going).
fleet_whoami_wait() {
	local deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do
		grep -q 'cid=' "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# fleet_conn_log HOST CID: the server log lines of one connection.
fleet_conn_log() {
	cat "$FLEET_DIR"/srv-"$1"-g*.log 2>/dev/null | grep -F "conn $2:"
}

# fleet_lb_stats LB: the LB node's counters (table).
fleet_lb_stats() {
	e2e_in "$(fleet_ns "$1")" "$QLBCTL" lb stats -f "$FLEET_DIR/$1.yaml"
}

# fleet_lb_stats_json LB
fleet_lb_stats_json() {
	e2e_in "$(fleet_ns "$1")" "$QLBCTL" -j lb stats -f "$FLEET_DIR/$1.yaml"
}

# fleet_set_host_state HOST STATE: edit the fleet file (not distributed).
fleet_set_host_state() {
	python3 - "$FLEET_DIR/fleet.yaml" "$1" "$2" <<'EOF'
import sys
path, host, state = sys.argv[1:]
lines = open(path).read().split('\n')
cur = None
for i, l in enumerate(lines):
    s = l.strip()
    if s.startswith('- name:'):
        cur = s.split(':', 1)[1].strip()
    elif cur == host and s.startswith('state:'):
        lines[i] = l[:len(l) - len(l.lstrip())] + 'state: ' + state
open(path, 'w').write('\n'.join(lines))
EOF
}
