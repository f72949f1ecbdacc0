#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The SK_REUSEPORT program's decoded-CID cache and flow table:
#  1. qlb-rpsteer check (real sockets, a network namespace of its own):
#     random DCIDs (routable, foreign, unknown config, 0b111, short, long
#     headers) reach the same socket through the program twice (cache and
#     flow table filled, then used) and through a reference copy without
#     cache, plaintext shortcut or flow table; again after a key rotation
#     and a host-ID change (new epochs), after a worker closed and left the
#     working set; then the flow table's takeover, closed socket, expiry and
#     full table.
#  2. With the agent and qlb-echo: 16 connections (an Initial, then 5
#     short-header datagrams on the CID the worker minted, each back from
#     that worker) find their CIDs in the cache; a reload that rotates
#     config 1's key gives that entry a new epoch and leaves the others
#     alone; the old CIDs are then never cache hits, and connections on
#     CIDs of the new key reach their workers from the cache again.
H_TAG=cache
source "$(dirname "$0")/../lib/host.sh"

make -s BUILD="$BUILD" "$BUILD/tools/qlb-rpsteer" >/dev/null ||
	fail "cannot build $BUILD/tools/qlb-rpsteer"
"$BUILD/tools/qlb-rpsteer" check --count 1000 || fail "qlb-rpsteer check"

# rp_stat INDEX: a qlb_rp_stats counter (enum qlb_rp_stat), summed over CPUs
rp_stat() {
	bpftool -j map lookup pinned "$H_PIN/qlb_rp_stats" key "$1" 0 0 0 |
		python3 -c 'import json,sys; print(sum(v["value"] for v in json.load(sys.stdin)["formatted"]["values"]))'
}
ST_CACHE_HIT=12
# epoch ID: qlb_hcfg_v2[ID].epoch (row 0: the one service)
epoch() {
	bpftool -j map lookup pinned "$H_PIN/qlb_hcfg_v2" key "$1" 0 0 0 |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["formatted"]["value"]["epoch"])'
}

host_setup
host_config
start_agent
start_echo gen1 --workers 4 --generation 1 $VIP4 $PORT
wait_ready gen1 4

# conns TAG N [FILE]: N connections of a client: an Initial, whose answer
# carries the CID the worker minted (config 1, four-pass, the active one),
# then 5 short-header datagrams on that CID, each of which must come back
# from the same worker. Prints "cid worker" per connection. With FILE:
# no Initial, the CIDs of FILE again (one datagram each, any worker).
# The client runs on one CPU: the cache is per CPU and a veth delivers on
# the sender's CPU, so every repeat of a CID meets the entry its first
# datagram made.
conns() {
	cexec taskset -c 0 python3 - "$@" <<'PY' || fail "client: $*"
import os, socket, sys
tag, n = sys.argv[1], int(sys.argv[2])
again = sys.argv[3] if len(sys.argv) > 3 else None
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("198.18.1.1", 4433))
s.settimeout(1.0)
def ask(pkt):
    s.send(pkt)
    r = s.recv(512).decode()
    return dict(x.split("=", 1) for x in r.split() if "=" in x)
if again:
    for line in open(again):
        cid = bytes.fromhex(line.split()[0])
        ask(bytes([0x40]) + cid + os.urandom(30))
    sys.exit(0)
for i in range(n):
    dcid = os.urandom(8)
    pkt = bytes([0xc0, 0, 0, 0, 1, 8]) + dcid + bytes([0])
    f = ask(pkt + bytes(1200 - len(pkt)))
    cid = bytes.fromhex(f["cid"])
    for k in range(5):
        g = ask(bytes([0x40 | k]) + cid + os.urandom(30))
        if g["worker"] != f["worker"]:
            sys.exit(f"{tag}: CID {cid.hex()} of worker {f['worker']} reached {g['worker']}")
    print(cid.hex(), f["worker"])
PY
}

h0=$(rp_stat $ST_CACHE_HIT)
conns before 16 >"$H_DIR/before.txt"
h1=$(rp_stat $ST_CACHE_HIT)
log "16 connections, 80 datagrams on minted CIDs: $((h1 - h0)) cache hits"
[ $((h1 - h0)) -ge 64 ] || fail "expected at least 64 cache hits (16 CIDs, 4 repeats each)"

e0=$(epoch 0)
e1=$(epoch 1)
e2=$(epoch 2)
sed -i 's/8f95f09245765f80256934e50c66207f/00112233445566778899aabbccddeeff/' "$H_CFG"
kill -HUP "$AGENT_PID"
for i in $(seq 1 50); do
	grep -q "reloaded" "$H_DIR/agent.log" && break
	sleep 0.1
done
grep -q "reloaded" "$H_DIR/agent.log" || fail "the agent did not reload"
log "epochs before the rotation: $e0 $e1 $e2, after: $(epoch 0) $(epoch 1) $(epoch 2)"
[ "$(epoch 1)" -gt "$e1" ] || fail "config 1's epoch did not change"
[ "$(epoch 0)" = "$e0" ] && [ "$(epoch 2)" = "$e2" ] ||
	fail "an unchanged config got a new epoch"

# the CIDs of the old key, cached under the old epoch, are never hits now
h0=$(rp_stat $ST_CACHE_HIT)
conns old 0 "$H_DIR/before.txt"
h1=$(rp_stat $ST_CACHE_HIT)
log "the 16 CIDs of the old key again: $((h1 - h0)) cache hits"
[ $((h1 - h0)) = 0 ] || fail "a CID of the old key was found in the cache"

# the workers mint under the new key: those reach them, from the cache
sleep 0.5
h0=$(rp_stat $ST_CACHE_HIT)
conns after 16 >"$H_DIR/after.txt"
h1=$(rp_stat $ST_CACHE_HIT)
log "16 connections on CIDs of the new key: $((h1 - h0)) cache hits"
[ $((h1 - h0)) -ge 64 ] || fail "expected at least 64 cache hits after the rotation"
cmp -s "$H_DIR/before.txt" "$H_DIR/after.txt" && fail "the same CIDs after the rotation"
log "PASS"
