# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=bash
# Shared setup of the health-checking netns tests (tests/netns/health_*.sh).
# Sourced, not run. One LB node and four hosts, each host on its own veth
# pair to the LB node, so every outer family meets every encapsulation:
#
#   LB ns    lo: encap sources 198.18.39.1, 2001:db8:39::1
#            l1..l4: 198.18.3N.1/24, 2001:db8:3N::1/64   (N = 1..4)
#      |  veth pairs
#   hN ns    eth0: 198.18.3N.2/24, 2001:db8:3N::2/64, lo: the VIPs
#     h1  GUE  to 198.18.31.2      (outer IPv4)
#     h2  IPIP to 198.18.32.2      (IPIP, outer IPv4)
#     h3  GUE  to 2001:db8:33::2   (outer IPv6)
#     h4  IPIP to 2001:db8:34::2   (IP6IP6, outer IPv6)
#
# Each host runs the agent and a qlb-echo generation on [::]:443; the LB
# node runs `qlbctl lb run` with a short probe interval. Processes run with
# nsenter --net so they keep /sys/fs/bpf; every run has its own names.
# A test may set HC_HOSTS (a subset, e.g. "h1 h4") before sourcing, and
# write its own files instead of hc_write_files.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. tests/lib/yaml.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac # make passes it absolute
QLBCTL=$BUILD/qlbctl
ECHO=$BUILD/qlb-echo
HC_TAG=${HC_TAG:-health}
HC_P=qlbt-${HC_TAG:0:8}-$$
HC_DIR=/tmp/$HC_P
HC_PIN=/sys/fs/bpf/$HC_P
read -r -a HC_HOSTS <<<"${HC_HOSTS:-h1 h2 h3 h4}"
VIP4=198.18.100.1
VIP6=2001:db8:100::1
PORT=443
HC_INTERVAL=${HC_INTERVAL:-200}
HC_TIMEOUT=${HC_TIMEOUT:-100}
HC_RISE=${HC_RISE:-2}
HC_FALL=${HC_FALL:-3}
declare -A HC_AGENT=() HC_ECHO=()
HC_RUN=

log() { echo "[$(date +%T.%3N)] $*"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
hc_ns() { echo "$HC_P-$1"; }
hc_in() {
	local ns=$1
	shift
	nsenter --net=/run/netns/"$(hc_ns "$ns")" "$@"
}

hc_cleanup() {
	local rc=$? n p i
	[ -n "$HC_RUN" ] && kill -TERM "$HC_RUN" 2>/dev/null
	for p in "${HC_ECHO[@]}" "${HC_AGENT[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for i in $(seq 1 30); do
		local alive=0
		for p in $HC_RUN "${HC_ECHO[@]}" "${HC_AGENT[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in $HC_RUN "${HC_ECHO[@]}" "${HC_AGENT[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -f "$HC_DIR/lb.yaml" ] &&
		hc_in lb "$QLBCTL" lb detach -f "$HC_DIR/lb.yaml" >/dev/null 2>&1
	for n in "${HC_HOSTS[@]}"; do
		[ -f "$HC_DIR/$n.yaml" ] &&
			hc_in "$n" "$QLBCTL" agent detach -f "$HC_DIR/$n.yaml" >/dev/null 2>&1
	done
	rm -rf "$HC_PIN"
	for n in lb "${HC_HOSTS[@]}"; do
		ip netns del "$(hc_ns "$n")" 2>/dev/null
	done
	if [ "$rc" != 0 ]; then
		for f in "$HC_DIR"/*.log; do
			[ -f "$f" ] && {
				echo "---- $f (tail)"
				tail -n 30 "$f"
			}
		done
	fi
	rm -rf "$HC_DIR"
}

hc_net_up() {
	local n i ns lb
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	[ -x "$QLBCTL" ] && [ -x "$ECHO" ] || fail "build first: make BUILD=$BUILD"
	mkdir -p "$HC_DIR" "$HC_PIN"
	trap hc_cleanup EXIT
	lb=$(hc_ns lb)
	for n in lb "${HC_HOSTS[@]}"; do
		ns=$(hc_ns "$n")
		ip netns add "$ns" || fail "netns $ns"
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.keep_addr_on_down=1 \
			net.ipv6.conf.default.keep_addr_on_down=1
		ip -n "$ns" link set lo up
	done
	ip -n "$lb" addr add 198.18.39.1/32 dev lo
	ip -n "$lb" addr add 2001:db8:39::1/128 dev lo
	for n in "${HC_HOSTS[@]}"; do
		i=${n#h}
		ns=$(hc_ns "$n")
		ip link add "l$i" netns "$lb" type veth peer name eth0 netns "$ns" ||
			fail "veth to $n"
		ip -n "$lb" link set "l$i" up
		ip -n "$ns" link set eth0 up
		ip -n "$lb" addr add "198.18.3$i.1/24" dev "l$i"
		ip -n "$lb" addr add "2001:db8:3$i::1/64" dev "l$i" nodad
		ip -n "$ns" addr add "198.18.3$i.2/24" dev eth0
		ip -n "$ns" addr add "2001:db8:3$i::2/64" dev eth0 nodad
		ip -n "$ns" route add default via "198.18.3$i.1"
		ip -n "$ns" -6 route add default via "2001:db8:3$i::1"
		ip -n "$ns" addr add "$VIP4/32" dev lo
		ip -n "$ns" addr add "$VIP6/128" dev lo nodad
	done
}

# The fleet part of every file (hosts as described above).
hc_fleet_yaml() {
	cat <<EOF
$(yaml_quic_lb_cfg1)
hosts:
  - name: h1
    address: 198.18.31.2
    server_id: "1000"
    encap: gue
  - name: h2
    address: 198.18.32.2
    server_id: "2000"
    encap: ipip
  - name: h3
    address: "2001:db8:33::2"
    server_id: "3000"
    encap: gue
  - name: h4
    address: "2001:db8:34::2"
    server_id: "4000"
    encap: ipip
EOF
}

hc_write_files() {
	local n mac
	mac=$(ip -n "$(hc_ns h1)" -br link show eth0 | awk '{print $3}')
	{
		hc_fleet_yaml
		cat <<EOF
lb:
  interface: l1
  xdp_mode: generic
  gateway_mac: "$mac"
  encap_source_v4: 198.18.39.1
  encap_source_v6: "2001:db8:39::1"
  pin_dir: $HC_PIN/lb
  vips:
    - address: $VIP4
      port: $PORT
    - address: "$VIP6"
      port: $PORT
  health:
    interval_ms: $HC_INTERVAL
    timeout_ms: $HC_TIMEOUT
    rise: $HC_RISE
    fall: $HC_FALL
EOF
	} >"$HC_DIR/lb.yaml"
	for n in "${HC_HOSTS[@]}"; do
		{
			hc_fleet_yaml
			cat <<EOF
host:
  name: $n
  interface: eth0
  agent_socket: $HC_DIR/$n.sock
  pin_dir: $HC_PIN/$n
  allow_uids: [0]
  lb_sources: [198.18.39.1, "2001:db8:39::1"]
  vips:
    - address: $VIP4
      port: $PORT
    - address: "$VIP6"
      port: $PORT
EOF
		} >"$HC_DIR/$n.yaml"
	done
}

# hc_agent_start HOST
hc_agent_start() {
	local n=$1 i
	rm -f "$HC_DIR/$n.sock"
	nsenter --net=/run/netns/"$(hc_ns "$n")" "$QLBCTL" agent -f "$HC_DIR/$n.yaml" \
		>>"$HC_DIR/agent-$n.log" 2>&1 &
	HC_AGENT[$n]=$!
	for i in $(seq 1 100); do
		[ -S "$HC_DIR/$n.sock" ] && return 0
		kill -0 "${HC_AGENT[$n]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$HC_DIR/agent-$n.log"
	fail "agent on $n did not start"
}

# hc_echo_start HOST GEN: two qlb-echo workers of generation GEN.
hc_echo_start() {
	local n=$1 g=$2 i
	: >"$HC_DIR/echo-$n.log"
	nsenter --net=/run/netns/"$(hc_ns "$n")" "$ECHO" --agent "$HC_DIR/$n.sock" \
		--workers 2 --generation "$g" :: $PORT >"$HC_DIR/echo-$n.log" 2>&1 &
	HC_ECHO[$n]=$!
	for i in $(seq 1 100); do
		[ "$(grep -c ' ready$' "$HC_DIR/echo-$n.log")" -ge 2 ] && return 0
		sleep 0.1
	done
	cat "$HC_DIR/echo-$n.log"
	fail "qlb-echo on $n did not get ready"
}

hc_run_start() {
	local i
	nsenter --net=/run/netns/"$(hc_ns lb)" "$QLBCTL" lb run -f "$HC_DIR/lb.yaml" \
		>>"$HC_DIR/lbrun.log" 2>&1 &
	HC_RUN=$!
	for i in $(seq 1 100); do
		grep -q "probing" "$HC_DIR/lbrun.log" && return 0
		kill -0 "$HC_RUN" 2>/dev/null || break
		sleep 0.1
	done
	cat "$HC_DIR/lbrun.log"
	fail "lb run did not start"
}

# hc_up: network, agents, servers, lb run.
hc_up() {
	local n
	hc_net_up
	hc_write_files
	for n in "${HC_HOSTS[@]}"; do
		hc_agent_start "$n"
		hc_echo_start "$n" 1
	done
	hc_run_start
}

# hc_status: `qlbctl -j lb status` of the LB node.
hc_status() { hc_in lb "$QLBCTL" -j lb status -f "$HC_DIR/lb.yaml"; }

# hc_field HOST FIELD: a field of HOST in the health view.
hc_field() {
	hc_status | python3 -c '
import json, sys
j = json.load(sys.stdin)
for h in j["health"]["hosts"]:
    if h["name"] == sys.argv[1]:
        print(h[sys.argv[2]])
' "$1" "$2"
}

# hc_log_time HOST FROM TO: unix time (s.ms) at which lb run logged HOST's
# transition FROM -> TO (the first one after the mark hc_mark left).
hc_mark() { HC_MARK=$(wc -l <"$HC_DIR/lbrun.log"); }
hc_log_time() {
	tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log" |
		grep -m1 "host $1: $2 -> $3" | python3 -c '
import sys, datetime
line = sys.stdin.readline()
if not line:
    sys.exit(1)
t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
print("%.3f" % t.replace(tzinfo=datetime.timezone.utc).timestamp())'
}

# hc_since T0 T1: T1 - T0 in seconds, two decimals.
hc_since() { python3 -c "print('%.2f' % ($2 - $1))"; }

# hc_kill_echo HOST: SIGKILL the host's qlb-echo, workers first (they are
# its children: killed after it, they would be reparented).
hc_kill_echo() {
	local p=${HC_ECHO[$1]}
	pkill -KILL -P "$p" 2>/dev/null
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

# hc_wait HOST HEALTH SECONDS: until HOST's health is HEALTH; prints the
# seconds it took.
hc_wait() {
	local n=$1 want=$2 max=$3 t0 now
	t0=$(date +%s.%N)
	while :; do
		[ "$(hc_field "$n" health 2>/dev/null)" = "$want" ] && break
		now=$(date +%s.%N)
		if python3 -c "import sys; sys.exit(0 if $now - $t0 > $max else 1)"; then
			hc_status
			fail "$n did not become $want within $max s"
		fi
		sleep 0.05
	done
	python3 -c "print('%.2f' % ($(date +%s.%N) - $t0))"
}

# hc_trace_hosts N VIP4 VIP6 PORT: where N Initials to those VIPs go,
# traced through the live health view: "host=count ..." sorted by host.
hc_trace_hosts() {
	python3 tests/tools/qlb-mkpcap.py "$HC_DIR/in.pcap" --initials "$1" \
		--vip4 "$2" --vip6 "$3" --port "$4" >/dev/null || return 1
	hc_in lb "$QLBCTL" -j trace --health -f "$HC_DIR/lb.yaml" "$HC_DIR/in.pcap" |
		python3 -c '
import json, sys
hosts = {}
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    p = json.loads(line)
    h = p.get("host")
    if h:
        hosts[h] = hosts.get(h, 0) + 1
print(" ".join("%s=%d" % kv for kv in sorted(hosts.items())))'
}
