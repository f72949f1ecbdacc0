#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Graceful restart under load. Generation 1 (4 workers) serves a steady
# stream of connections (an Initial, then short-header datagrams on the CID
# its worker minted, a new connection whenever one ends). Generation 2
# starts without a declared size and is promoted by `qlbctl agent promote`;
# the connections of generation 1 keep reaching their workers, new ones go
# to generation 2, and generation 1 exits once drained. Every datagram must
# be answered by the worker that minted its CID.
H_TAG=restart
source "$(dirname "$0")/../lib/host.sh"

host_setup
host_config
start_agent
start_echo gen1 --workers 4 --generation 1 --drain-exit 1 $VIP4 $PORT
GEN1=$ECHO_PID
wait_ready gen1 4

cexec "$LOAD" load --conns 32 --rate 2000 --duration 12 --life 2 $VIP4 $PORT \
	>"$H_DIR/load.out" 2>"$H_DIR/load.log" &
LOADPID=$!
sleep 3
start_echo gen2 --workers 4 --generation 2 --size 0 --drain-exit 1 $VIP4 $PORT
wait_ready gen2 4
sleep 1
[ "$(status_json | json_get 'j["working_generation"]')" = 1 ] ||
	fail "generation 2 took over without a promote"
hexec "$QLBCTL" agent promote -s "$H_SOCK" 2 || fail "promote failed"
[ "$(status_json | json_get 'j["working_generation"]')" = 2 ] || fail "not promoted"
status_json | json_get '[(g["generation"], g["state"]) for g in j["generations"]]'

# generation 1 drains: its connections end within 2 s, then 1 s of quiet
for i in $(seq 1 100); do
	kill -0 "$GEN1" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$GEN1" 2>/dev/null && fail "generation 1 did not exit after draining"
wait "$GEN1" || fail "generation 1 exited with an error"
log "generation 1 exited after draining"
kill -0 "$LOADPID" 2>/dev/null || fail "the load ended before generation 1 drained"

wait "$LOADPID"
rc=$?
cat "$H_DIR/load.out"
[ $rc = 0 ] || fail "datagrams lost or misrouted (see above)"
grep -q '^generation=1 new_conns=[1-9]' "$H_DIR/load.out" || fail "no connection on generation 1"
grep -q '^generation=2 new_conns=[1-9]' "$H_DIR/load.out" || fail "no connection on generation 2"
grep -q 'old_generation_after_new=[1-9]' "$H_DIR/load.out" ||
	fail "generation 1 answered nothing after generation 2 took connections"
sleep 0.5
st=$(status_json)
echo "$st" | json_get '[(g["generation"], g["state"], g["workers"]) for g in j["generations"]]'
[ "$(echo "$st" | json_get 'len(j["workers"])')" = 4 ] || fail "expected the 4 workers of generation 2 only"
grep -q "generation 1 drained" "$H_DIR/agent.log" || fail "the agent did not notice generation 1 drained"
log "PASS"
