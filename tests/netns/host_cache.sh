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
#  2. With the agent and qlb-echo: CIDs of every config reach their
#     workers twice (the second time from the cache); a reload that rotates
#     config 1's key gives that entry a new epoch, leaves the others alone,
#     and CIDs of the new key reach their workers from the cache again.
H_TAG=cache
source "$(dirname "$0")/../lib/host.sh"

make -s BUILD="$BUILD" "$BUILD/tools/qlb-rpsteer" >/dev/null ||
	fail "cannot build $BUILD/tools/qlb-rpsteer"
"$PWD/$BUILD/tools/qlb-rpsteer" check --count 1000 || fail "qlb-rpsteer check"

# rp_stat INDEX: a qlb_rp_stats counter (enum qlb_rp_stat), summed over CPUs
rp_stat() {
	bpftool -j map lookup pinned "$H_PIN/qlb_rp_stats" key "$1" 0 0 0 |
		python3 -c 'import json,sys; print(sum(v["value"] for v in json.load(sys.stdin)["formatted"]["values"]))'
}
ST_CACHE_HIT=12
# epoch ID: qlb_hcfg[ID].epoch
epoch() {
	bpftool -j map lookup pinned "$H_PIN/qlb_hcfg" key "$1" 0 0 0 |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["formatted"]["value"]["epoch"])'
}

host_setup
host_config
start_agent
start_echo gen1 --workers 4 --generation 1 $VIP4 $PORT
wait_ready gen1 4
ids=$(worker_ids gen1)

probe() {
	cexec "$LOAD" probe -f "$H_CFG" --host web1 --workers "$ids" $VIP4 $PORT >"$H_DIR/probe.txt" ||
		{ cat "$H_DIR/probe.txt"; fail "$1"; }
}
h0=$(rp_stat $ST_CACHE_HIT)
probe "a minted CID missed its worker"
h1=$(rp_stat $ST_CACHE_HIT)
log "encrypted CIDs found in the cache: $((h1 - h0))"
[ $((h1 - h0)) -gt 0 ] || fail "no cache hit (each CID is sent 4 times)"

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
h0=$(rp_stat $ST_CACHE_HIT)
probe "a CID of the new key missed its worker"
log "after the rotation: $(($(rp_stat $ST_CACHE_HIT) - h0)) cache hits"
log "PASS"
