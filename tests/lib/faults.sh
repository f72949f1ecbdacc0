# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=bash
#
# Shared setup of the fault and operations tests (tests/netns/fault_*.sh,
# ops_*.sh). Sourced. The topology, fleet file, agents and LB node
# helpers are those of the end-to-end fleet (tests/e2e/lib/fleet.sh:
# client, router, lb1/lb2, hosts h1..h3, same addresses); what differs is
# the server: qlb-echo (every answer names its host and worker) instead of
# qlb-h3server, and tests/tools/qlb-faultload as the client, so a test
# counts every datagram sent and answered, and who answered it.
#
# faults_up NAME     the fleet (FAULTS_LBS="lb1 lb2" for two LB nodes;
#                    only lb1 gets the VIPs routed to it)
# faults_load ...    qlb-faultload in the client namespace
# faults_echo_pids HOST   "worker pid" lines of a host's qlb-echo workers

. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib/fleet.sh"

ECHO=$BUILD/qlb-echo
FLOAD=$BUILD/tools/qlb-faultload
declare -A FAULTS_ECHO_PID=()

log() { e2e_log "$@"; }
fail() { e2e_fail "$@"; }

# faults_up NAME: namespaces, links, fleet file, agents, qlb-echo on every
# host, the LB node(s) applied and the VIPs routed to lb1.
faults_up() {
	E2E_NAME=$1
	[ "$(id -u)" = 0 ] || e2e_skip "needs root (network namespaces)"
	E2E_TMP=$(mktemp -d "/tmp/qlbt-$E2E_NAME.XXXXXX")
	trap e2e_cleanup EXIT
	trap 'exit 1' INT TERM
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	make -C "$E2E_ROOT" --no-print-directory -s BUILD="$BUILD" fault-tools >&2 ||
		e2e_fail "cannot build qlb-faultload (make BUILD=$BUILD fault-tools)"
	[ -x "$QLBCTL" ] && [ -x "$ECHO" ] || e2e_fail "build first: make BUILD=$BUILD"
	read -ra FLEET_LBS <<<"${FAULTS_LBS:-lb1}"
	FLEET_P="qlbt-f${1:0:7}-$$"
	FLEET_DIR=$E2E_TMP
	FLEET_PIN=/sys/fs/bpf/$FLEET_P
	E2E_CLEANUP_CMDS+=("fleet_detach_all")
	E2E_RM_DIRS+=("$FLEET_PIN")

	# the network of fleet_up() (tests/e2e/lib/fleet.sh), which also
	# starts h3 servers and needs the QUIC client: only its links here
	local n
	fleet_net_up

	fleet_write_fleet_yaml
	fleet_distribute_files
	for n in "${FLEET_HOSTS[@]}"; do
		fleet_agent_start "$n"
	done
	for n in "${FLEET_HOSTS[@]}"; do
		faults_echo_start "$n"
	done
	for n in "${FLEET_HOSTS[@]}"; do
		e2e_wait_log "$FLEET_DIR/echo-$n.log" ' ready$' "$FLEET_WORKERS" 15 ||
			e2e_fail "qlb-echo on $n did not get ready"
	done
	for n in "${FLEET_LBS[@]}"; do
		fleet_lb_apply "$n" || { cat "$FLEET_DIR/lb-$n.log"; e2e_fail "qlbctl lb apply failed on $n"; }
	done
	fleet_route_vip lb1
	# and every IPv6 address usable before the first measured datagram
	local i
	for i in $(seq 1 50); do
		local tent=0
		for n in "${E2E_NS[@]}"; do
			[ -n "$(ip -n "$n" -6 addr show tentative)" ] && tent=1
		done
		[ $tent = 0 ] && break
		sleep 0.1
	done
	# A short load must lose nothing before a test measures a fault.
	[ -n "${FAULTS_NO_WARMUP:-}" ] && return 0
	for i in 1 2 3 4 5; do
		faults_load "$FLEET_DIR/warmup.txt" -f "$FLEET_DIR/fleet.yaml" \
			--workers 1 --initials 8 --rate 500 --duration 0.5
		if [ "$(faults_total "$FLEET_DIR/warmup.txt" lost)" = 0 ]; then
			[ $i = 1 ] || e2e_log "warm-up: no loss after $i rounds"
			return 0
		fi
		sleep 0.5
	done
	cat "$FLEET_DIR/warmup.txt"
	e2e_fail "the fleet still loses datagrams after warming up"
}

# faults_echo_start HOST: qlb-echo (FLEET_WORKERS workers, generation 1)
# on HOST, registered with its agent, serving both VIPs on port 443.
faults_echo_start() {
	e2e_bg "echo-$1" "$(fleet_ns "$1")" "$ECHO" --agent "$FLEET_DIR/$1.sock" \
		--workers "$FLEET_WORKERS" --generation 1 :: "$VIP_PORT"
	FAULTS_ECHO_PID[$1]=$E2E_LAST_PID
}

# faults_echo_pids HOST: "worker-id pid" of every ready worker of HOST.
faults_echo_pids() {
	sed -n 's/^qlb-echo: worker \([0-9]*\) generation [0-9]* pid \([0-9]*\) ready$/\1 \2/p' \
		"$FLEET_DIR/echo-$1.log"
}

# faults_worker_ids HOST: the worker IDs of HOST, comma separated.
faults_worker_ids() {
	faults_echo_pids "$1" | awk '{print $1}' | sort -n | paste -sd,
}

# faults_load OUT [qlb-faultload options...]: run the load generator in
# the client namespace toward the IPv4 VIP (FAULTS_V6=1: the IPv6 one),
# per-flow report into OUT, per-second lines into OUT.rate.
faults_load() {
	local out=$1 vip=$VIP4
	shift
	[ -n "${FAULTS_V6:-}" ] && vip=$VIP6
	e2e_in "$(fleet_ns cli)" "$FLOAD" "$@" "$vip" "$VIP_PORT" >"$out" 2>"$out.rate"
}

# faults_load_bg OUT [options...]: the same in the background; FLOAD_PID.
faults_load_bg() {
	local out=$1 vip=$VIP4
	shift
	[ -n "${FAULTS_V6:-}" ] && vip=$VIP6
	nsenter --net="/run/netns/$(fleet_ns cli)" "$FLOAD" "$@" "$vip" "$VIP_PORT" \
		>"$out" 2>"$out.rate" &
	FLOAD_PID=$!
	# a test that fails while it runs must not leave it behind (and a
	# reused PID is left alone)
	E2E_CLEANUP_CMDS+=("[ \"\$(readlink /proc/$FLOAD_PID/exe)\" = \"$FLOAD\" ] && kill -KILL $FLOAD_PID")
}

# faults_total OUT FIELD: sent, received or lost of a load report.
faults_total() {
	sed -n "s/^total .*\\b$2=\\([-0-9]*\\).*/\\1/p" "$1"
}

# faults_flows OUT: the per-flow lines of a load report as JSON lines
# {"flow","kind","want","sent","recv","from":{"h1/0":n,...}} for python.
faults_flows() {
	python3 - "$1" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    if not l.startswith('flow='):
        continue
    d = dict(kv.split('=', 1) for kv in l.split())
    fr = {}
    for e in filter(None, d['from'].split(',')):
        k, v = e.rsplit(':', 1)
        fr[k] = int(v)
    print(json.dumps({'flow': int(d['flow']), 'kind': d['kind'], 'want': d['want'],
                      'sent': int(d['sent']), 'recv': int(d['recv']), 'from': fr}))
EOF
}

# faults_lb_json LB CMD: `qlbctl -j lb CMD` on an LB node.
faults_lb_json() {
	e2e_in "$(fleet_ns "$1")" "$QLBCTL" -j lb "$2" -f "$FLEET_DIR/$1.yaml"
}

# faults_host_remove HOST: take HOST's entry out of the fleet file (kept
# in $FLEET_DIR/HOST.entry for faults_host_add). Not distributed.
faults_host_remove() {
	python3 - "$FLEET_DIR/fleet.yaml" "$1" "$FLEET_DIR/$1.entry" <<'PYEOF'
import sys
path, host, keep = sys.argv[1:]
out, entry, cur = [], [], None
for l in open(path).read().split('\n'):
    s = l.strip()
    if s.startswith('- name:'):
        cur = s.split(':', 1)[1].strip()
    elif l and not l.startswith(' '):
        cur = None
    (entry if cur == host else out).append(l)
if not entry:
    sys.exit(f'no host {host} in {path}')
open(path, 'w').write('\n'.join(out).rstrip('\n') + '\n')
open(keep, 'w').write('\n'.join(entry).rstrip('\n') + '\n')
PYEOF
}

# faults_host_add HOST: put a removed entry back, at the end of hosts:
# (the last section of the fleet file).
faults_host_add() {
	sed -i -e '$a\' "$FLEET_DIR/fleet.yaml"
	cat "$FLEET_DIR/$1.entry" >>"$FLEET_DIR/fleet.yaml"
}
