#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# One agent per pin_dir: a second agent started on the same host.pin_dir
# (with a socket of its own, so the socket check cannot catch it) must
# refuse to start, naming the running agent's pid, and leave the running
# agent, its pins and its workers alone.
H_TAG=lock
source "$(dirname "$0")/../lib/host.sh"

host_setup
host_config
start_agent
start_echo w1 --workers 2 $VIP4 $PORT
wait_ready w1 2

# the same file but another socket
sed "s|agent_socket: .*|agent_socket: $H_DIR/run/agent2.sock|" "$H_CFG" >"$H_DIR/second.yaml"
nsenter --net=/run/netns/"$NS_H" "$QLBCTL" agent -f "$H_DIR/second.yaml" >"$H_DIR/second.log" 2>&1 &
second=$!
for i in $(seq 1 50); do
	kill -0 "$second" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$second" 2>/dev/null; then
	kill -TERM "$second"
	wait "$second"
	cat "$H_DIR/second.log"
	fail "a second agent runs on the same pin_dir"
fi
wait "$second" && fail "the second agent exited 0"
cat "$H_DIR/second.log"
grep -q "in use by another agent (pid $AGENT_PID)" "$H_DIR/second.log" ||
	fail "the refusal does not name the running agent's pid $AGENT_PID"
[ -S "$H_DIR/run/agent2.sock" ] && fail "the second agent left a socket"

# the first agent and its data plane are untouched
[ "$(status_json | json_get 'j["agent_pid"]')" = "$AGENT_PID" ] || fail "status"
[ "$(status_json | json_get 'len(j["workers"])')" = 2 ] || fail "workers lost"
[ -e "$H_PIN/qlb_socks" ] || fail "the pins are gone"
cexec "$LOAD" initial --count 20 $VIP4 $PORT || fail "the workers do not answer"

# once the first agent stopped, an agent starts on that pin_dir again
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
nsenter --net=/run/netns/"$NS_H" "$QLBCTL" agent -f "$H_DIR/second.yaml" >>"$H_DIR/second.log" 2>&1 &
AGENT_PID=$!
for i in $(seq 1 100); do
	hexec "$QLBCTL" agent status -s "$H_DIR/run/agent2.sock" >/dev/null 2>&1 && break
	kill -0 "$AGENT_PID" 2>/dev/null || fail "no agent after the first stopped"
	sleep 0.1
done
hexec "$QLBCTL" agent status -s "$H_DIR/run/agent2.sock" >/dev/null || fail "second start"
log "PASS"
