#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# An allowed uid must not take over the real servers' generations. uid
# 1234 declares generation 0xffffffff (refused: more than 65536 above the
# working one) and registers a socket bound to 127.0.0.1 (refused: not a
# VIP:port of the file) under it; the socket it may register, on a VIP
# port the real servers do not use, is a group of its own whose
# generation does not touch theirs. The real servers' generation 1 keeps
# working, and their next generation (2) registers and takes over.
H_TAG=gentake
source "$(dirname "$0")/../lib/host.sh"

host_setup
host_config
cat >>"$H_CFG" <<EOF
lb:
  interface: vh
  gateway_mac: "02:00:00:00:00:01"
  encap_source_v4: 198.18.0.1
  vips:
    - {address: $VIP4, port: $PORT}
    - {address: $VIP4, port: 4434}
EOF
start_agent
start_echo gen1 --workers 2 --generation 1 --drain-exit 60 $VIP4 $PORT
wait_ready gen1 2

cat >"$H_DIR/take.py" <<'PY'
import socket, struct, sys, time
MAGIC, VER = 0x41424C51, 1
path, vip = sys.argv[1], sys.argv[2]

def msg(s, typ, body=b"", fds=None):
    h = struct.pack("<IHHII", MAGIC, VER, typ, len(body), 0)
    if fds:
        socket.send_fds(s, [h + body], fds)
    else:
        s.sendall(h + body)

def read(s):
    h = b""
    while len(h) < 16:
        b = s.recv(16 - len(h))
        if not b:
            return None, b""
        h += b
    _, _, typ, ln, _ = struct.unpack("<IHHII", h)
    body = b""
    while len(body) < ln:
        body += s.recv(ln - len(body))
    return typ, body

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    typ, _ = read(s)
    assert typ == 1, "no HELLO"
    return s

def answer(s):
    typ, body = read(s)
    while typ == 7:  # GENERATION pushes may come first
        typ, body = read(s)
    if typ == 2:
        code = struct.unpack("<i", body[:4])[0]
        return code, body[8:].split(b"\0")[0].decode()
    if typ == 5:
        wid, gen, working = struct.unpack("<III", body[:12])
        return 0, "worker %d generation %d working %d" % (wid, gen, working)
    return None, "type %s" % typ

def register(addr, port, gen):
    s = conn()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    u.bind((addr, port))
    msg(s, 3, struct.pack("<IIII", gen, 1, 0, 0), [u.fileno()])
    code, text = answer(s)
    print("register %s:%d generation %d: %d %s" % (addr, port, gen, code, text), flush=True)
    return s, u

s = conn()
msg(s, 8, struct.pack("<II", 0xFFFFFFFF, 1))
code, text = answer(s)
print("declare 4294967295: %d %s" % (code, text), flush=True)
keep = [s]
keep += register("127.0.0.1", 4433, 0xFFFFFFFF)
keep += register(vip, 4434, 0xFFFFFFFF)
print("holding", flush=True)
time.sleep(float(sys.argv[3]))
PY
nsenter --net=/run/netns/"$NS_H" setpriv --reuid 1234 --regid 0 --clear-groups \
	/usr/bin/python3 "$H_DIR/take.py" "$H_SOCK" $VIP4 30 >"$H_DIR/take.log" 2>&1 &
H_PIDS+=($!)
for i in $(seq 1 100); do
	grep -q '^holding' "$H_DIR/take.log" && break
	sleep 0.1
done
cat "$H_DIR/take.log"
grep -q '^holding' "$H_DIR/take.log" || fail "the peer did not get through its requests"
grep -q '^declare 4294967295: -34 generation 4294967295 is more than 65536 above' "$H_DIR/take.log" ||
	fail "declaring 0xffffffff was not refused"
grep -q '^register 127.0.0.1:4433 generation 4294967295: -22 socket refused: 127.0.0.1:4433: not bound to a VIP' "$H_DIR/take.log" ||
	fail "a socket bound to 127.0.0.1 was not refused"
grep -q "^register $VIP4:4434 generation 4294967295: 0 worker [0-9]* generation 4294967295 working 4294967295" "$H_DIR/take.log" ||
	fail "a socket on another VIP:port should be taken, in a group of its own"

st=$(status_json)
echo "$st" | json_get '[(g["generation"], g["state"], g["workers"]) for g in j["generations"]]'
[ "$(echo "$st" | json_get '[g["state"] for g in j["generations"] if g["generation"] == 1][0]')" = working ] ||
	fail "generation 1 of the real servers is no longer working"
[ "$(echo "$st" | json_get 'j["working_generation"]')" = 1 ] || fail "status: working generation"
grep -q "generation 1 draining" "$H_DIR/gen1.log" && fail "the real servers were told to drain"

# the real servers' next generation registers and takes over their group
start_echo gen2 --workers 2 --generation 2 $VIP4 $PORT
wait_ready gen2 2
for i in $(seq 1 50); do
	[ "$(status_json | json_get '[g["state"] for g in j["generations"] if g["generation"] == 2][0]')" = working ] && break
	sleep 0.1
done
st=$(status_json)
echo "$st" | json_get '[(g["generation"], g["state"], g["workers"]) for g in j["generations"]]'
[ "$(echo "$st" | json_get '[g["state"] for g in j["generations"] if g["generation"] == 2][0]')" = working ] ||
	fail "the real servers' generation 2 did not take over"
[ "$(echo "$st" | json_get '[g["state"] for g in j["generations"] if g["generation"] == 4294967295][0]')" = working ] ||
	fail "the peer's own group lost its generation"
out=$(cexec "$LOAD" initial --count 20 $VIP4 $PORT) || fail "no answer on $VIP4:$PORT"
echo "$out"
echo "$out" | grep -q "wrong_generation=0 .*generation=2" || fail "new connections do not reach generation 2"
grep -q "generation 1 draining" "$H_DIR/gen1.log" || fail "generation 1 was not told it drains"
log "PASS"
