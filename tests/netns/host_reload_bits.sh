#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# A reload that adds a config whose worker_bits cannot hold a live
# worker's ID (what `rotate new --worker-bits 4` makes) must be refused:
# worker 19 under 4 worker bits would spill into the host part of its
# server ID and its CIDs would route to another host. The agent keeps the
# running config (worker IDs < 64), logs which config and which workers,
# and a reload that fits is taken afterwards.
H_TAG=rbits
source "$(dirname "$0")/../lib/host.sh"

# bits_config [BITS]: config 1 (6 worker bits), and config 2 with BITS
bits_config() {
	local c2=
	[ -n "${1:-}" ] && c2="
    - {id: 2, server_id_len: 3, nonce_len: 8, worker_bits: $1, state: routable}"
	cat >"$H_CFG.tmp" <<EOF
quic_lb:
  configs:
    - {id: 1, server_id_len: 3, nonce_len: 8, worker_bits: 6,
       key: 8f95f09245765f80256934e50c66207f, state: active}$c2
hosts:
  - name: web1
    address: 198.18.0.2
    server_ids: {1: "0a0100", 2: "0b0000"}
  - name: web2
    address: 198.18.0.3
    server_ids: {1: "0a0200", 2: "0c0000"}
$(host_section_yaml)
EOF
	mv "$H_CFG.tmp" "$H_CFG"
}

# reload: SIGHUP, and wait until the agent says how it went
reload() {
	local n i
	n=$(grep -c "SIGHUP: reloading" "$H_DIR/agent.log")
	kill -HUP "$AGENT_PID"
	for i in $(seq 1 50); do
		sed -n '/SIGHUP: reloading/,$p' "$H_DIR/agent.log" | tail -n 20 |
			grep -q "reload refused\|reloaded\|reload failed" &&
			[ "$(grep -c "SIGHUP: reloading" "$H_DIR/agent.log")" -gt "$n" ] &&
			return 0
		sleep 0.1
	done
	fail "the agent did not report on the reload"
}

host_setup
bits_config
start_agent
# 20 workers: IDs 0..19, above what 4 worker bits hold
start_echo w --workers 20 $VIP4 $PORT
wait_ready w 20
[ "$(status_json | json_get 'max(w["worker"] for w in j["workers"])')" = 19 ] ||
	fail "expected worker IDs up to 19"
[ "$(status_json | json_get 'j["max_workers"]')" = 64 ] || fail "max_workers"

bits_config 4
reload
tail -3 "$H_DIR/agent.log"
grep -q "config 2 (worker_bits 4: worker IDs < 16) cannot hold 4 live workers: 16 (generation 1, pid [0-9]*), 17" \
	"$H_DIR/agent.log" || fail "no refusal naming config 2 and workers 16-19"
grep -q "reload refused" "$H_DIR/agent.log" || fail "the reload was not refused"
[ "$(status_json | json_get 'j["max_workers"]')" = 64 ] ||
	fail "the running config changed: max_workers $(status_json | json_get 'j["max_workers"]')"
cexec "$LOAD" initial --count 40 $VIP4 $PORT || fail "the workers do not answer"

# a config that fits is taken
bits_config 6
reload
tail -2 "$H_DIR/agent.log" | grep -q "reloaded" || fail "a fitting reload was not taken"
[ "$(status_json | json_get 'j["max_workers"]')" = 64 ] || fail "max_workers after the good reload"
log "PASS"
