# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Shared setup of the backend-host netns tests (tests/netns/host_*.sh).
# Sourced, not run. Builds a client namespace and a host namespace joined
# by a veth pair, with the VIP on the host's loopback:
#
#   client ns  vc 198.18.0.1/24 2001:db8::1/64
#      |  veth
#   host ns    vh 198.18.0.2/24 2001:db8::2/64   lo: 198.18.1.1/32 2001:db8:1::1/128
#
# Host processes run with nsenter --net so they keep /sys/fs/bpf; every
# test gets its own pin_dir, socket and namespaces, removed on exit.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac # make passes it absolute
QLBCTL=$BUILD/qlbctl
ECHO=$BUILD/qlb-echo
LOAD=$BUILD/tools/qlb-hostload

H_TAG=${H_TAG:-host}
NS_H=qlbt-$H_TAG-h-$$
NS_C=qlbt-$H_TAG-c-$$
H_DIR=/tmp/qlbt-$H_TAG-$$
H_PIN=/sys/fs/bpf/qlbt-$H_TAG-$$/host
H_SOCK=$H_DIR/run/agent.sock
H_CFG=$H_DIR/qlb.yaml
VIP4=198.18.1.1
VIP6=2001:db8:1::1
PORT=4433
H_PIDS=()
AGENT_PID=

log() { echo "[$(date +%T)] $*"; }
fail() { echo "FAIL: $*"; exit 1; }

hexec() { nsenter --net=/run/netns/"$NS_H" "$@"; }
cexec() { nsenter --net=/run/netns/"$NS_C" "$@"; }

host_cleanup() {
	local rc=$? p
	for p in "${H_PIDS[@]}" $AGENT_PID; do
		kill -TERM "$p" 2>/dev/null
	done
	# qlb-echo stops its workers on SIGTERM: give it time before SIGKILL
	for i in $(seq 1 30); do
		local alive=0
		for p in "${H_PIDS[@]}" $AGENT_PID; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${H_PIDS[@]}" $AGENT_PID; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -f "$H_CFG" ] && hexec "$QLBCTL" agent detach -f "$H_CFG" 2>/dev/null
	rm -rf "/sys/fs/bpf/qlbt-$H_TAG-$$"
	ip netns del "$NS_H" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	if [ -n "${H_KEEP_LOGS:-}" ]; then
		echo "logs kept in $H_DIR"
	elif [ "$rc" = 0 ]; then
		rm -rf "$H_DIR"
	else
		for f in "$H_DIR"/*.log; do
			[ -f "$f" ] && { echo "---- $f (tail)"; tail -n 40 "$f"; }
		done
		rm -rf "$H_DIR"
	fi
}

host_setup() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	[ -x "$QLBCTL" ] && [ -x "$ECHO" ] || fail "build first: make BUILD=$BUILD"
	make -s BUILD="$BUILD" host-tools >/dev/null 2>&1 || [ -x "$LOAD" ] ||
		fail "cannot build the test tools (make BUILD=$BUILD host-tools)"
	mkdir -p "$H_DIR"
	trap host_cleanup EXIT
	ip netns add "$NS_H" || fail "netns"
	ip netns add "$NS_C" || fail "netns"
	ip link add vc netns "$NS_C" type veth peer name vh netns "$NS_H" || fail "veth"
	hexec ip link set lo up
	hexec ip link set vh up
	hexec ip addr add 198.18.0.2/24 dev vh
	hexec ip addr add 2001:db8::2/64 dev vh nodad
	hexec ip addr add $VIP4/32 dev lo
	hexec ip addr add $VIP6/128 dev lo
	hexec sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.vh.rp_filter=0
	cexec ip link set lo up
	cexec ip link set vc up
	cexec ip addr add 198.18.0.1/24 dev vc
	cexec ip addr add 2001:db8::1/64 dev vc nodad
	cexec ip route add 198.18.1.0/24 via 198.18.0.2
	cexec ip -6 route add 2001:db8:1::/64 via 2001:db8::2
	# the veth peer answers neighbour discovery before the first test packet
	local i
	for i in $(seq 1 50); do
		cexec ping -c1 -W1 -q 198.18.0.2 >/dev/null 2>&1 &&
			cexec ping -6 -c1 -W1 -q 2001:db8::2 >/dev/null 2>&1 && break
		sleep 0.1
	done
}

# The "host:" section's head every test host shares (the agent of web1).
host_section_yaml() {
	printf 'host:\n  name: web1\n  interface: vh\n  agent_socket: %s\n' "$H_SOCK"
	printf '  pin_dir: %s\n  allow_uids: [0, 1234]\n' "$H_PIN"
}

# host_config [ADDRESS] [extra host: lines]: three configs (plaintext,
# four-pass AES, single-pass AES), this host web1 and a foreign web2. The
# client namespace's addresses play the LB node (lb_sources): the only
# outer sources decapsulation trusts, for the two VIPs at PORT (and VIP4 at
# PORT + 1, a second group of host_steer.sh).
host_config() {
	local addr=${1:-198.18.0.2} extra=${2:-}
	cat >"$H_CFG.tmp" <<EOF
quic_lb:
  configs:
    - id: 0
      server_id_len: 2
      nonce_len: 6
      worker_bits: 4
      state: routable
    - id: 1
      server_id_len: 3
      nonce_len: 8
      worker_bits: 6
      key: 8f95f09245765f80256934e50c66207f
      state: active
    - id: 2
      server_id_len: 4
      nonce_len: 12
      worker_bits: 5
      key: fdf726a9893ec05c0632d3956680baf0
      state: routable
hosts:
  - name: web1
    address: "$addr"
    server_ids: {0: "0a10", 1: "0a0100", 2: "0b000000"}
  - name: web2
    address: 198.18.0.3
    server_ids: {0: "0a20", 1: "0a0200", 2: "0c000000"}
$(host_section_yaml)
  lb_sources: [198.18.0.1, "2001:db8::1"]
  vips:
    - address: $VIP4
      port: $PORT
    - address: "$VIP6"
      port: $PORT
    - address: $VIP4
      port: $((PORT + 1))
$extra
EOF
	mv "$H_CFG.tmp" "$H_CFG"
}

# start_agent: run the agent in the host namespace, wait for its socket.
start_agent() {
	local i
	# nsenter execs: $! is the agent itself (a shell function would fork)
	nsenter --net=/run/netns/"$NS_H" "$QLBCTL" agent -f "$H_CFG" >>"$H_DIR/agent.log" 2>&1 &
	AGENT_PID=$!
	for i in $(seq 1 100); do
		[ -S "$H_SOCK" ] && hexec "$QLBCTL" agent status -s "$H_SOCK" >/dev/null 2>&1 && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$H_DIR/agent.log"
	fail "the agent did not come up"
}

# start_echo LOGNAME ARGS...: qlb-echo in the host namespace, in the
# background; $! is appended to H_PIDS and left in ECHO_PID.
start_echo() {
	local name=$1
	shift
	nsenter --net=/run/netns/"$NS_H" "$ECHO" --agent "$H_SOCK" "$@" >"$H_DIR/$name.log" 2>&1 &
	ECHO_PID=$!
	H_PIDS+=("$ECHO_PID")
}

# wait_ready LOGNAME N: until N workers of that echo said "ready".
wait_ready() {
	local i
	for i in $(seq 1 100); do
		# the log may not exist yet: the background job opens it
		[ "$(cat "$H_DIR/$1.log" 2>/dev/null | grep -c ' ready$')" -ge "$2" ] &&
			return 0
		sleep 0.1
	done
	cat "$H_DIR/$1.log"
	fail "$1: $2 workers did not get ready"
}

# worker_ids LOGNAME: the worker IDs an echo's workers were given, comma separated.
worker_ids() {
	sed -n 's/^qlb-echo: worker \([0-9]*\) generation .* ready$/\1/p' \
		"$H_DIR/$1.log" | sort -n | paste -sd,
}

# status_json: the agent's status as JSON on stdout.
status_json() { hexec "$QLBCTL" -j agent status -s "$H_SOCK"; }

# jq-less JSON reads: json_get EXPR (python expression over 'j').
json_get() {
	python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
