#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# A peer that sends requests and never reads their answers must not stall
# the agent (one thread serves every peer): uid 1234 (allowed) floods
# STATUS requests without reading; meanwhile `qlbctl agent status` answers
# within 1 s each time and a new server registers; the flooding peer is
# dropped (bounded output queue, then a stall deadline) and the drop is
# logged.
H_TAG=slowpeer
source "$(dirname "$0")/../lib/host.sh"

host_setup
host_config
start_agent

cat >"$H_DIR/flood.py" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(30)
# STATUS_REQ: magic "QLBA", version 1, type 10, no body
req = struct.pack("<IHHII", 0x41424C51, 1, 10, 0, 0) * 64
n, t0 = 0, time.time()
try:
    while time.time() - t0 < 25:
        s.sendall(req)
        n += 64
except (BrokenPipeError, ConnectionResetError) as e:
    print("dropped after %d requests in %.1f s (%s)" % (n, time.time() - t0, e))
    sys.exit(0)
except socket.timeout:
    print("blocked, not dropped, after %d requests" % n)
    sys.exit(1)
print("not dropped after %d requests" % n)
sys.exit(1)
PY
# gid 0 keeps the connect() permission on the 0660 root:root socket file
nsenter --net=/run/netns/"$NS_H" setpriv --reuid 1234 --regid 0 --clear-groups \
	/usr/bin/python3 "$H_DIR/flood.py" "$H_SOCK" >"$H_DIR/flood.log" 2>&1 &
FLOOD=$!
H_PIDS+=("$FLOOD")
sleep 1
kill -0 "$FLOOD" 2>/dev/null || { cat "$H_DIR/flood.log"; fail "the flood did not run"; }

# the agent answers others meanwhile, each within 1 s
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	timeout 5 nsenter --net=/run/netns/"$NS_H" "$QLBCTL" agent status -s "$H_SOCK" >/dev/null ||
		fail "status $i failed while a peer does not read"
	ms=$((($(date +%s%N) - t0) / 1000000))
	log "status $i answered in $ms ms"
	[ "$ms" -lt 1000 ] || fail "status $i took $ms ms while a peer does not read"
	sleep 0.2
done
start_echo w1 --workers 2 $VIP4 $PORT
wait_ready w1 2
cexec "$LOAD" initial --count 20 $VIP4 $PORT || fail "the new workers do not answer"

# the flooding peer is dropped, not served forever
for i in $(seq 1 250); do
	kill -0 "$FLOOD" 2>/dev/null || break
	sleep 0.1
done
wait "$FLOOD"
rc=$?
cat "$H_DIR/flood.log"
[ $rc = 0 ] || fail "the peer that does not read was not dropped"
grep -q "pid [0-9]* uid 1234: .*dropping the connection" "$H_DIR/agent.log" ||
	fail "the drop is not logged"
[ "$(status_json | json_get 'j["connections"]')" -le 3 ] || fail "connections left open (2 workers and this status expected)"
log "PASS"
