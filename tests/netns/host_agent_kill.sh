#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The agent is killed with SIGKILL under load and started again: the data
# plane lives in pinned maps, so not a datagram is lost or misrouted; the
# restarted agent recovers its workers from the maps, the workers
# reconnect (RESUME), and a new generation can still take over after it
# (complete at host.workers sockets).
H_TAG=akill
source "$(dirname "$0")/../lib/host.sh"

host_setup
host_config 198.18.0.2 "  workers: 4"
start_agent
start_echo gen1 --workers 4 --generation 1 --drain-exit 1 $VIP4 $PORT
GEN1=$ECHO_PID
wait_ready gen1 4

# 20 s: on a loaded machine the restart and the start of generation 2 take
# most of it, and generation 2 must still see new connections
cexec "$LOAD" load --conns 32 --rate 2000 --duration 20 --life 2 $VIP4 $PORT \
	>"$H_DIR/load.out" 2>"$H_DIR/load.log" &
LOADPID=$!
sleep 2
log "SIGKILL to the agent (pid $AGENT_PID)"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
sleep 2
log "starting the agent again"
start_agent
for i in $(seq 1 50); do
	[ "$(status_json | json_get 'sum(w["connected"] for w in j["workers"])')" = 4 ] && break
	sleep 0.1
done
st=$(status_json)
[ "$(echo "$st" | json_get 'len(j["workers"])')" = 4 ] || fail "workers not recovered"
[ "$(echo "$st" | json_get 'j["working_generation"]')" = 1 ] || fail "working generation lost"
[ "$(echo "$st" | json_get 'sum(w["connected"] for w in j["workers"])')" = 4 ] ||
	fail "workers did not reconnect"
grep -q "recovered from" "$H_DIR/agent.log" || fail "no recovery logged"

# the restarted agent still runs generations: generation 2 declares no
# size, host.workers (4) completes it
start_echo gen2 --workers 4 --generation 2 --size 0 --drain-exit 1 $VIP4 $PORT
wait_ready gen2 4
for i in $(seq 1 50); do
	[ "$(status_json | json_get 'j["working_generation"]')" = 2 ] && break
	sleep 0.1
done
[ "$(status_json | json_get 'j["working_generation"]')" = 2 ] || fail "generation 2 not promoted"

wait "$LOADPID"
rc=$?
cat "$H_DIR/load.out"
[ $rc = 0 ] || fail "datagrams lost or misrouted across the agent restart"
grep -q '^generation=2 new_conns=[1-9]' "$H_DIR/load.out" || fail "no connection on generation 2"
log "PASS"
