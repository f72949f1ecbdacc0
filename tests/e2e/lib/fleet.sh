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
# The router learns the VIPs over BGP from both LB nodes (BIRD 2 in every
# one of the three namespaces, rendered from deploy/bgp/) and spreads the
# client's packets over both by ECMP with an L4 hash; BFD (100 ms x 3)
# takes a dead node out. Each LB node announces what qlb puts in its
# announcement table (ctl/announce.h). The LB node encapsulates each packet
# toward the host that owns its CID and sends it back to the router
# (gateway_mac, XDP_TX), which forwards it to the host by its outer
# address. Hosts decapsulate, the stack delivers the inner packet to the
# VIP's socket group, the SK_REUSEPORT program picks the worker, and the
# worker answers the client directly.
# fleet_route_vip NODE narrows the router to one LB node (a test that needs
# a single path; FLEET_SINGLE_PATH=lbN at fleet_up) or to a host (the
# direct baseline); FLEET_NO_BGP=1 runs no routing daemon and routes the
# VIPs with `ip route`, as the fault tests do.
#
# Addresses (all in 198.18.0.0/15 and 2001:db8::/32):
#   client 198.18.10.2 / 2001:db8:10::2      router side .1 / ::1
#   lbN    198.18.1N.2 / 2001:db8:1N::2      (N = 1, 2)
#   hN     198.18.2N.2 / 2001:db8:2N::2      (N = 1, 2, 3)
#   VIPs   198.18.100.1:443, [2001:db8:100::1]:443
# The LB nodes reach h1 (GUE) and h2 (IPIP) by their IPv4 addresses and h3
# (GUE) by its IPv6 address, so every VIP family meets both outer families.
# The LB nodes run their XDP program in native mode (FLEET_XDP_MODE=generic
# for the other). A veth receives the frames its peer sends with XDP_TX
# only while it has an XDP program itself: the router's side of each LB
# link carries an XDP_PASS program. The client's veth computes no
# checksums (tx offload off): XDP does not complete partial checksums, and
# traffic from the internet arrives with full ones.
# Links between router, LB nodes and hosts have MTU 2000 (native XDP on a
# veth allows at most about 3500), so that a full
# 1500-byte client packet still fits once encapsulated.
#
# One fleet file ($FLEET_DIR/fleet.yaml: quic_lb + hosts) is what operators
# edit (qlbctl rotate, host states); fleet_distribute writes each node's
# file as that plus its own lb: or host: section and applies it.

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$E2E_ROOT/tests/lib/yaml.sh"

VIP4=198.18.100.1
VIP6=2001:db8:100::1
VIP_PORT=443
FLEET_HOSTS=(h1 h2 h3)
FLEET_LBS=(lb1 lb2)
FLEET_WORKERS=${FLEET_WORKERS:-2}
declare -A FLEET_SRV_PID=()	# "h1:1" -> server process group of generation 1
declare -A FLEET_AGENT_PID=()
FLEET_VIA=
FLEET_BGP=		# set while the router and LB nodes run BIRD
FLEET_LB_RUNNING=	# set when the LB nodes run `qlbctl lb run`
declare -A FLEET_LB_RUN_PID=()
declare -A FLEET_BIRD_PID=()	# node -> BIRD's process group
FLEET_XDP_PASS=$BUILD/bpf/qlb_bench_empty.bpf.o	# an XDP_PASS program

# fleet_have_lb: qlbctl has the LB node's data plane.
fleet_have_lb() {
	! "$QLBCTL" lb status --help 2>&1 | grep -q 'not built yet'
}

# fleet_have_lb_run: qlbctl has the LB node's long-running process (lb run:
# apply, health checks, announcement), used by default. FLEET_LB_RUN=0:
# apply with `qlbctl lb apply` and announce with tests/tools/qlb-announce
# instead.
fleet_have_lb_run() {
	[ "${FLEET_LB_RUN:-1}" != 0 ] && ! "$QLBCTL" lb run --help 2>&1 | grep -q 'not built yet'
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
			net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.keep_addr_on_down=1 \
			net.ipv6.conf.all.keep_addr_on_down=1
	done
	# ECMP over the LB nodes hashes on the 5-tuple, as the router of a
	# qlb deployment must (docs/operations.md)
	ip netns exec "$rtr" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv6.fib_multipath_hash_policy=1

	# client <-> router
	e2e_veth "$cli" eth0 "$rtr" r-cli
	e2e_addr "$cli" eth0 198.18.10.2/24
	e2e_addr "$cli" eth0 2001:db8:10::2/64
	e2e_addr "$rtr" r-cli 198.18.10.1/24
	e2e_addr "$rtr" r-cli 2001:db8:10::1/64
	ip -n "$cli" route add default via 198.18.10.1
	ip -n "$cli" -6 route add default via 2001:db8:10::1
	# full checksums from the client, as from the internet: native XDP
	# forwards a frame as it is and completes no partial checksum
	command -v ethtool >/dev/null ||
		e2e_fail "ethtool not installed (Debian package ethtool)"
	ip netns exec "$cli" ethtool -K eth0 tx off >/dev/null 2>&1 ||
		e2e_fail "cannot turn checksum offload off on the client's eth0"

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
	# the router's side of an LB link: an XDP program, so that it
	# receives what the LB node sends back with native XDP_TX
	if [ "${FLEET_XDP_MODE:-native}" = native ]; then
		[ -f "$FLEET_XDP_PASS" ] || e2e_fail "build first: $FLEET_XDP_PASS missing"
		for n in "${FLEET_LBS[@]}"; do
			ip -n "$rtr" link set dev "r-$n" xdpdrv obj "$FLEET_XDP_PASS" sec xdp ||
				e2e_fail "cannot attach XDP_PASS to r-$n"
		done
	fi

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
	E2E_CLEANUP_CMDS+=("fleet_bird_stop_all" "fleet_detach_all")
	E2E_RM_DIRS+=("$FLEET_PIN")

	fleet_net_up
	e2e_certs "$FLEET_DIR" qlb.test "$VIP4" "$VIP6"
	# the LB nodes' files say where they announce (their own BIRD)
	[ -z "${FLEET_NO_BGP:-}" ] && [ -z "${FLEET_NO_LB:-}" ] && FLEET_ANNOUNCE=1
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
		if [ -z "${FLEET_NO_BGP:-}" ] && fleet_have_lb_run; then
			FLEET_LB_RUNNING=1
			for n in "${FLEET_LBS[@]}"; do
				fleet_lb_run_start "$n"
			done
		else
			for n in "${FLEET_LBS[@]}"; do
				fleet_lb_apply "$n" || e2e_fail "qlbctl lb apply failed on $n"
			done
		fi
		if [ -z "${FLEET_NO_BGP:-}" ]; then
			fleet_bgp_up
			fleet_route_vip "${FLEET_SINGLE_PATH:-ecmp}"
		else
			fleet_route_vip lb1
		fi
	else
		fleet_route_vip h1
	fi
}

# The fleet's two VIPs, as "vips:" of a section (LB node or host).
fleet_vips_yaml() {
	printf '  vips:\n    - address: %s\n      port: %s\n' "$VIP4" "$VIP_PORT"
	printf '    - address: "%s"\n      port: %s\n' "$VIP6" "$VIP_PORT"
}

# The fleet file: what rotation and host changes edit. The config has a
# key (CIDs of 1+2+6 bytes: four-pass AES) unless FLEET_PLAINTEXT=1.
fleet_write_fleet_yaml() {
	FLEET_KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	cat >"$FLEET_DIR/fleet.yaml" <<EOF
# qlb fleet of the end-to-end tests (made by tests/e2e/lib/fleet.sh)
$(yaml_quic_lb_cfg1)
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
  xdp_mode: ${FLEET_XDP_MODE:-native}
  gateway_mac: "$(fleet_mac "r-$n")"
  encap_source_v4: 198.18.$net.2
  encap_source_v6: "2001:db8:$net::2"
  pin_dir: $FLEET_PIN/$n
  mtu: 2000
$(fleet_vips_yaml)
EOF
			fleet_lb_announce_section "$n"
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
			fleet_host_trust
		} >"$FLEET_DIR/$n.yaml.tmp" && mv "$FLEET_DIR/$n.yaml.tmp" "$FLEET_DIR/$n.yaml"
	done
}

# fleet_lb_announce_section LB: lb.announce in a fleet with BGP
# (FLEET_ANNOUNCE, set by fleet_up), when this build's schema has it: the
# node's own BIRD socket (the namespaces share one file system).
FLEET_ANNOUNCE_KEYS=
fleet_lb_announce_section() {
	[ -n "${FLEET_ANNOUNCE:-}" ] || return 0
	if [ -z "$FLEET_ANNOUNCE_KEYS" ]; then
		FLEET_ANNOUNCE_KEYS=no
		{
			cat "$FLEET_DIR/fleet.yaml"
			printf 'lb:\n  interface: eth0\n  gateway_mac: "02:00:00:00:00:01"\n'
			printf '  encap_source_v4: 198.18.11.2\n  encap_source_v6: "2001:db8:11::2"\n'
			printf '  vips:\n    - address: %s\n      port: 443\n' "$VIP4"
			printf '  announce:\n    bird_socket: /run/x.ctl\n'
		} >"$FLEET_DIR/announce-probe.yaml"
		"$QLBCTL" validate -f "$FLEET_DIR/announce-probe.yaml" >/dev/null 2>&1 && FLEET_ANNOUNCE_KEYS=yes
		rm -f "$FLEET_DIR/announce-probe.yaml"
	fi
	[ "$FLEET_ANNOUNCE_KEYS" = yes ] || return 0
	cat <<EOF
  announce:
    bird_socket: $(fleet_bird_sock "$1")
    drain_time: 2
EOF
}

# fleet_host_trust: the host section's trust lists (the LB nodes' outer
# sources, the VIPs), when this build's schema has them.
FLEET_HOST_TRUST=
fleet_host_trust() {
	if [ -z "$FLEET_HOST_TRUST" ]; then
		FLEET_HOST_TRUST=no
		cp "$FLEET_DIR/fleet.yaml" "$FLEET_DIR/trust-probe.yaml"
		printf 'host:\n  name: h1\n  interface: eth0\n  lb_sources: [198.18.11.2]\n' >>"$FLEET_DIR/trust-probe.yaml"
		"$QLBCTL" validate -f "$FLEET_DIR/trust-probe.yaml" >/dev/null 2>&1 && FLEET_HOST_TRUST=yes
		rm -f "$FLEET_DIR/trust-probe.yaml"
	fi
	[ "$FLEET_HOST_TRUST" = yes ] || return 0
	cat <<EOF
  lb_sources: [198.18.11.2, 198.18.12.2, "2001:db8:11::2", "2001:db8:12::2"]
$(fleet_vips_yaml)
EOF
}

# fleet_distribute: after an edit of fleet.yaml, the draft's order: LB
# nodes learn the change first, then the hosts' agents (SIGHUP).
fleet_distribute() {
	local n
	fleet_distribute_files
	if [ -n "$FLEET_LB_RUNNING" ]; then
		for n in "${FLEET_LBS[@]}"; do
			fleet_lb_run_reload "$n" || e2e_fail "qlbctl lb run on $n did not take up the new file"
		done
	elif [ -z "${FLEET_NO_LB:-}" ]; then
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

# fleet_lb_run_start LB: `qlbctl lb run` on the node (apply, health
# checks, announcement); waits until it has applied the file.
fleet_lb_run_start() {
	local n=$1 log=$FLEET_DIR/lbrun-$1.log
	e2e_bg "lbrun-$n" "$(fleet_ns "$n")" "$QLBCTL" lb run -f "$FLEET_DIR/$n.yaml"
	FLEET_LB_RUN_PID[$n]=$E2E_LAST_PID
	e2e_wait_log "$log" 'applied .* under ' 1 20 ||
		e2e_fail "qlbctl lb run on $n did not apply its file"
}

# fleet_lb_run_reload LB: SIGHUP, and wait for the file to be taken up
# (1 when the reload was refused or did not happen).
fleet_lb_run_reload() {
	local log=$FLEET_DIR/lbrun-$1.log ok bad deadline=$((SECONDS + 10))
	ok=$(grep -c 'reloaded ' "$log")
	bad=$(grep -c 'reload failed' "$log")
	kill -HUP "${FLEET_LB_RUN_PID[$1]}" 2>/dev/null || return 1
	while [ $SECONDS -lt $deadline ]; do
		[ "$(grep -c 'reloaded ' "$log")" -gt "$ok" ] && return 0
		[ "$(grep -c 'reload failed' "$log")" -gt "$bad" ] && return 1
		sleep 0.05
	done
	return 1
}

fleet_detach_all() {
	local n
	for n in "${FLEET_LBS[@]}"; do
		[ -f "$FLEET_DIR/$n.yaml" ] && fleet_have_lb &&
			e2e_in "$(fleet_ns "$n")" "$QLBCTL" lb detach -f "$FLEET_DIR/$n.yaml"
	done
	return 0
}

# fleet_route_vip NODE: where the router sends both VIPs. With BGP
# (fleet_bgp_up): "ecmp" (both LB nodes, the default), or one LB node,
# the other's BGP sessions disabled (`birdc disable`, as an operator takes
# a node out), waiting until the router's routes say so. A host (h1: the
# direct baseline) or any NODE without BGP: a static route that wins over
# BGP's (metric 0).
fleet_route_vip() {
	local net rtr n want=() i
	rtr=$(fleet_ns rtr)
	if [ -n "$FLEET_BGP" ] && [[ $1 == lb* || $1 == ecmp ]]; then
		for n in "${FLEET_LBS[@]}"; do
			[ "$1" = ecmp ] || [ "$1" = "$n" ] && want+=("$n")
		done
		# make before break: the new paths first, then the old go
		for n in "${want[@]}"; do
			fleet_bgp_enable "$n"
		done
		fleet_wait_paths_include "${want[*]}" 20 ||
			e2e_fail "the router did not learn the VIPs from ${want[*]} ($(fleet_paths 4); $(fleet_paths 6))"
		for n in "${FLEET_LBS[@]}"; do
			[[ " ${want[*]} " == *" $n "* ]] || fleet_bgp_disable "$n"
		done
		for i in 1 2; do # static routes of an earlier host baseline
			ip -n "$rtr" route del "$VIP4/32" proto boot 2>/dev/null
			ip -n "$rtr" -6 route del "$VIP6/128" proto boot 2>/dev/null
		done
		fleet_wait_paths "${want[*]}" 10 ||
			e2e_fail "the router's VIP routes are not via ${want[*]} ($(fleet_paths 4); $(fleet_paths 6))"
		FLEET_VIA=$1
		return 0
	fi
	if [ "$1" = ecmp ]; then
		ip -n "$rtr" route replace "$VIP4/32" nexthop via 198.18.11.2 nexthop via 198.18.12.2
		ip -n "$rtr" -6 route replace "$VIP6/128" nexthop via 2001:db8:11::2 nexthop via 2001:db8:12::2
		FLEET_VIA=ecmp
		return 0
	fi
	case $1 in lb*) net=1${1#lb} ;; h*) net=2${1#h} ;; esac
	ip -n "$rtr" route replace "$VIP4/32" via "198.18.$net.2"
	ip -n "$rtr" -6 route replace "$VIP6/128" via "2001:db8:$net::2"
	FLEET_VIA=$1
}

# ---- the routing fabric: BIRD on the router and on every LB node ----------

fleet_bird_sock() { echo "$FLEET_DIR/bird-$1.ctl"; }

# fleet_birdc NODE CMD...: the node's BIRD (birdc prints nothing but the
# answer with -s).
fleet_birdc() {
	local n=$1
	shift
	birdc -s "$(fleet_bird_sock "$n")" "$@"
}

# fleet_bird_conf NODE: render the node's BIRD configuration from the
# templates in deploy/bgp/ and the node's qlb file (its VIPs).
fleet_bird_conf() {
	local n=$1 net r=$E2E_ROOT/deploy/bgp/render.sh t=$E2E_ROOT/deploy/bgp
	case $n in
	rtr)
		mkdir -p "$FLEET_DIR/bird-peers"
		for net in "${FLEET_LBS[@]}"; do
			"$r" "$t/bird-router-peer.conf" NAME="$net" FAMILY=4 \
				NEIGHBOR="198.18.1${net#lb}.2" >"$FLEET_DIR/bird-peers/$net-4.conf" &&
				"$r" "$t/bird-router-peer.conf" NAME="$net" FAMILY=6 \
					NEIGHBOR="2001:db8:1${net#lb}::2" >"$FLEET_DIR/bird-peers/$net-6.conf" ||
				return 1
		done
		"$r" -f "$FLEET_DIR/${FLEET_LBS[0]}.yaml" "$t/bird-router.conf" \
			ROUTER_ID=198.18.10.1 BFD_INTERFACES='"r-lb*"' \
			PEERS_DIR="$FLEET_DIR/bird-peers" >"$FLEET_DIR/bird-rtr.conf"
		;;
	lb*)
		net=1${n#lb}
		"$r" -f "$FLEET_DIR/$n.yaml" "$t/bird-lb-node.conf" \
			ROUTER_ID="198.18.$net.2" INTERFACE=eth0 \
			PEER4="198.18.$net.1" PEER6="2001:db8:$net::1" >"$FLEET_DIR/bird-$n.conf"
		;;
	esac
}

# fleet_bird_start NODE: start BIRD in the node's namespace (foreground,
# its own process group) and wait for its control socket.
fleet_bird_start() {
	local n=$1 i
	fleet_bird_conf "$n" || e2e_fail "cannot render BIRD's configuration for $n"
	rm -f "$(fleet_bird_sock "$n")"
	e2e_bg "bird-$n" "$(fleet_ns "$n")" bird -f -c "$FLEET_DIR/bird-$n.conf" \
		-s "$(fleet_bird_sock "$n")" -P "$FLEET_DIR/bird-$n.pid"
	FLEET_BIRD_PID[$n]=$E2E_LAST_PID
	for _ in $(seq 1 50); do
		fleet_birdc "$n" show status >/dev/null 2>&1 && return 0
		kill -0 "$E2E_LAST_PID" 2>/dev/null || break
		sleep 0.1
	done
	e2e_fail "BIRD on $n did not start"
}

# fleet_bird_kill NODE [SIGNAL]: stop the node's BIRD (KILL: as a crash).
fleet_bird_kill() {
	local pg=${FLEET_BIRD_PID[$1]:-}
	[ -n "$pg" ] || return 0
	e2e_stop "$pg" "${2:-KILL}"
	for _ in $(seq 1 50); do
		kill -0 -- "-$pg" 2>/dev/null || break
		sleep 0.05
	done
	FLEET_BIRD_PID[$1]=
}

# fleet_bird_stop_all: BIRD shuts down on SIGTERM (before the teardown's
# SIGINT and SIGKILL of everything).
fleet_bird_stop_all() {
	local n pg
	for n in "${!FLEET_BIRD_PID[@]}"; do
		pg=${FLEET_BIRD_PID[$n]}
		[ -n "$pg" ] && kill -TERM -- "-$pg" 2>/dev/null
	done
	for _ in $(seq 1 20); do
		pg=
		for n in "${!FLEET_BIRD_PID[@]}"; do
			[ -n "${FLEET_BIRD_PID[$n]}" ] && kill -0 -- "-${FLEET_BIRD_PID[$n]}" 2>/dev/null && pg=1
		done
		[ -z "$pg" ] && return 0
		sleep 0.05
	done
}

# fleet_announce LB: the node announces its VIPs (what `qlbctl lb run`
# does while the data plane and hosts are healthy).
fleet_announce() {
	e2e_in "$(fleet_ns "$1")" "$BUILD/tools/qlb-announce" -f "$FLEET_DIR/$1.yaml" sync all \
		>>"$FLEET_DIR/lb-$1.log" 2>&1
}

# fleet_bgp_up: BIRD on the router and the LB nodes, every LB node
# announcing; returns once the router has both paths for both VIPs.
fleet_bgp_up() {
	local n
	command -v bird >/dev/null && command -v birdc >/dev/null ||
		e2e_skip "BIRD 2 not installed (Debian package bird2)"
	make -C "$E2E_ROOT" --no-print-directory -s BUILD="$BUILD" "$BUILD/tools/qlb-announce" >&2 ||
		e2e_fail "cannot build qlb-announce"
	fleet_bird_start rtr
	for n in "${FLEET_LBS[@]}"; do
		# `lb run` announces by itself once a host is healthy
		[ -n "$FLEET_LB_RUNNING" ] ||
			fleet_announce "$n" || e2e_fail "$n: cannot announce its VIPs ($(tail -n 1 "$FLEET_DIR/lb-$n.log"))"
		fleet_bird_start "$n"
	done
	FLEET_BGP=1
	local t0
	t0=$(e2e_ms)
	fleet_wait_paths "${FLEET_LBS[*]}" 20 ||
		e2e_fail "BGP: the router has no ECMP route over ${FLEET_LBS[*]} ($(fleet_paths 4); $(fleet_paths 6))"
	e2e_log "BGP up: the router routes the VIPs over ${FLEET_LBS[*]} (ECMP, L4 hash) $(($(e2e_ms) - t0)) ms after the LB nodes' BIRD started"
}

# fleet_bgp_enable LB / fleet_bgp_disable LB: the node's sessions to the
# router (a maintenance switch: the announcement stays in its table).
fleet_bgp_enable() {
	fleet_birdc "$1" enable router4 >/dev/null && fleet_birdc "$1" enable router6 >/dev/null
}

fleet_bgp_disable() {
	fleet_birdc "$1" disable router4 >/dev/null && fleet_birdc "$1" disable router6 >/dev/null
}

# fleet_paths 4|6: the LB nodes (or hosts) the router's route to the VIP
# goes through now, sorted, space-separated ("-" when none).
fleet_paths() {
	local vip=$VIP4/32 out
	[ "$1" = 6 ] && vip=$VIP6/128
	out=$(ip -n "$(fleet_ns rtr)" -"$1" route show "$vip" 2>/dev/null |
		grep -o 'dev r-[a-z0-9]*' | sed 's/dev r-//' | sort -u | tr '\n' ' ')
	out=${out% }
	echo "${out:--}"
}

# fleet_wait_paths "LB..." SECS: both VIP routes go through exactly these.
fleet_wait_paths() {
	local want deadline=$((SECONDS + $2))
	want=$(tr ' ' '\n' <<<"$1" | sort -u | tr '\n' ' ')
	want=${want% }
	while :; do
		[ "$(fleet_paths 4)" = "$want" ] && [ "$(fleet_paths 6)" = "$want" ] && return 0
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# fleet_wait_paths_include "LB..." SECS: both VIP routes go through at
# least these.
fleet_wait_paths_include() {
	local n ok deadline=$((SECONDS + $2))
	while :; do
		ok=1
		for n in $1; do
			[[ " $(fleet_paths 4) " == *" $n "* ]] && [[ " $(fleet_paths 6) " == *" $n "* ]] || ok=0
		done
		[ $ok = 1 ] && return 0
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# fleet_lb_link_down LB / fleet_lb_link_up LB: cut the node's only link
# (as a pulled cable: the router's side loses carrier) and restore it.
fleet_lb_link_down() {
	ip -n "$(fleet_ns "$1")" link set eth0 down
}

fleet_lb_link_up() {
	local ns net=1${1#lb}
	ns=$(fleet_ns "$1")
	ip -n "$ns" link set eth0 up
	# routes through a link that went down are gone with it
	ip -n "$ns" route replace default via "198.18.$net.1"
	ip -n "$ns" -6 route replace default via "2001:db8:$net::1"
}

# fleet_lb_packets LB: packets the node's XDP program has sent to the
# hosts (the sum of its per-host counters; cheap enough to poll: no
# interpreter).
fleet_lb_packets() {
	fleet_lb_stats_json "$1" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"hosts":\[\([^]]*\)\].*/\1/p' |
		grep -o '"packets":[0-9]*' | awk -F: '{ s += $2 } END { print NR ? s : -1 }'
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
