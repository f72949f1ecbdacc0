#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Connection exhaustion by an allowed peer:
#  - one uid (1234) opening 300 connections gets at most a quarter of the
#    agent's 1024 (AG_UID_CONNS), the rest refused with a clear message,
#    while another allowed uid (4321) and root still get answers;
#  - connections that never register are closed after 10 s of silence;
#  - out of file descriptors (RLIMIT_NOFILE 64 through prlimit), the agent
#    pauses accepting instead of spinning on EMFILE (its CPU time over 2 s
#    stays low), and serves again once descriptors are free.
H_TAG=connlim
source "$(dirname "$0")/../lib/host.sh"

host_setup
# uid 1234 is allowed by uid, 4321 by group 4242; both reach the socket
# file through group 4242
host_config 198.18.0.2 "  allow_gids: [4242]"
start_agent

cat >"$H_DIR/conns.py" <<'PY'
import os, select, socket, struct, sys, time
path, n, wait_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns, hello, refused, msgs = [], 0, 0, set()
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    h = b""
    while len(h) < 16:
        b = s.recv(16 - len(h))
        if not b:
            break
        h += b
    if len(h) < 16:
        print("closed without a message"); sys.exit(1)
    magic, ver, typ, ln, _ = struct.unpack("<IHHII", h)
    body = b""
    while len(body) < ln:
        body += s.recv(ln - len(body))
    if typ == 1:
        hello += 1
        conns.append(s)
    elif typ == 2:
        code = struct.unpack("<i", body[:4])[0]
        msgs.add(body[8:].split(b"\0")[0].decode())
        refused += 1 if code < 0 else 0
        s.close()
print("hello=%d refused=%d" % (hello, refused))
for m in msgs:
    print("message: " + m)
print("held", flush=True)
# how long until the agent closes the silent ones
t0, left = time.time(), {s.fileno(): s for s in conns}
while left and time.time() - t0 < wait_s:
    r, _, _ = select.select(list(left), [], [], 0.5)
    for fd in r:
        try:
            b = left[fd].recv(4096)
        except OSError:
            b = b""
        if not b:
            left.pop(fd).close()
print("closed=%d of %d after %.1f s" % (hello - len(left), hello, time.time() - t0), flush=True)
PY

nsenter --net=/run/netns/"$NS_H" setpriv --reuid 1234 --regid 1234 --groups 4242 \
	/usr/bin/python3 "$H_DIR/conns.py" "$H_SOCK" 300 20 >"$H_DIR/conns.log" 2>&1 &
CONNS=$!
H_PIDS+=("$CONNS")
for i in $(seq 1 200); do
	grep -q '^held' "$H_DIR/conns.log" && break
	kill -0 "$CONNS" 2>/dev/null || break
	sleep 0.1
done
cat "$H_DIR/conns.log"
grep -q '^held' "$H_DIR/conns.log" || fail "uid 1234 could not open its connections"
hello=$(sed -n 's/^hello=\([0-9]*\) .*/\1/p' "$H_DIR/conns.log")
[ "$hello" -le 256 ] || fail "uid 1234 holds $hello connections (at most 256 expected)"
grep -q "uid 1234 holds 256 connections to the agent already" "$H_DIR/conns.log" ||
	fail "no clear refusal"
# others still get in: another allowed uid, and root
out=$(hexec setpriv --reuid 4321 --regid 4321 --groups 4242 "$QLBCTL" agent status -s "$H_SOCK" 2>&1) ||
	fail "uid 4321 locked out: $out"
status_json >/dev/null || fail "root locked out"

# the silent connections are closed after 10 s
wait "$CONNS"
cat "$H_DIR/conns.log"
grep -q "^closed=$hello of $hello after" "$H_DIR/conns.log" ||
	fail "connections that never registered stay open"
secs=$(sed -n 's/^closed=.* after \([0-9]*\)\..*/\1/p' "$H_DIR/conns.log")
[ "$secs" -ge 8 ] || fail "silent connections closed after $secs s, before the 10 s deadline"
grep -q "idle without registering" "$H_DIR/agent.log" || fail "idle close not logged"

# out of descriptors: no busy loop
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
nsenter --net=/run/netns/"$NS_H" prlimit --nofile=64:64 "$QLBCTL" agent -f "$H_CFG" >>"$H_DIR/agent.log" 2>&1 &
AGENT_PID=$!
for i in $(seq 1 100); do
	status_json >/dev/null 2>&1 && break
	sleep 0.1
done
status_json >/dev/null || fail "the agent under RLIMIT_NOFILE 64 did not come up"
log "agent pid $AGENT_PID holds $(ls /proc/$AGENT_PID/fd | wc -l) descriptors of 64"
cat >"$H_DIR/fill.py" <<'PY'
import socket, sys, time
conns = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
        conns.append(s)
    except OSError:
        s.close()
print("connected %d" % len(conns), flush=True)
time.sleep(float(sys.argv[3]))
PY
nsenter --net=/run/netns/"$NS_H" /usr/bin/python3 "$H_DIR/fill.py" "$H_SOCK" 100 4 >"$H_DIR/fill.log" 2>&1 &
FILL=$!
H_PIDS+=("$FILL")
sleep 1
ticks() { awk '{print $14 + $15}' /proc/"$AGENT_PID"/stat; }
t0=$(ticks)
sleep 2
t1=$(ticks)
cat "$H_DIR/fill.log"
hz=$(getconf CLK_TCK)
log "agent CPU over 2 s with its descriptors exhausted: $((t1 - t0)) ticks (of $((2 * hz)))"
grep -q "Too many open files; pausing accept" "$H_DIR/agent.log" || fail "EMFILE never reached or not logged"
[ $((t1 - t0)) -lt $((hz / 2)) ] || fail "the agent spins on EMFILE ($((t1 - t0)) ticks in 2 s)"
wait "$FILL"
# descriptors free again: the agent serves
for i in $(seq 1 50); do
	status_json >/dev/null 2>&1 && break
	sleep 0.1
done
status_json >/dev/null || fail "the agent does not serve again after EMFILE"
log "PASS"
