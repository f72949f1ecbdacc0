#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# SK_REUSEPORT steering with real sockets: every worker of every config
# (plaintext, four-pass and single-pass AES) receives the datagrams whose
# CIDs were minted for it; Initial-like datagrams with client-chosen DCIDs
# spread over the working generation, each DCID meeting one worker; CIDs
# of another host and 0b111 CIDs land on the working generation; IPv6 too;
# a crashed worker's CIDs fall back to the working generation.
H_TAG=steer
source "$(dirname "$0")/../lib/host.sh"

host_setup
host_config
start_agent
start_echo gen1 --workers 4 --generation 1 :: $PORT
wait_ready gen1 4
ids=$(worker_ids gen1)
log "generation 1 workers: $ids"

cexec "$LOAD" probe -f "$H_CFG" --host web1 --workers "$ids" $VIP4 $PORT ||
	fail "a minted CID missed its worker"
cexec "$LOAD" probe -f "$H_CFG" --host web1 --workers "$ids" $VIP6 $PORT ||
	fail "a minted CID over IPv6 missed its worker"
# MSG_ZEROCOPY payloads stay in page fragments: a non-linear skb, read
# with bpf_skb_load_bytes(). Sent over lo inside the host: through the veth
# (native XDP attached) they arrived linear in a trial.
nl0=$(status_json | json_get 'j["reuseport"]["nonlinear"]')
hexec "$LOAD" probe -f "$H_CFG" --host web1 --workers "$ids" --zerocopy $VIP4 $PORT ||
	fail "a minted CID in a non-linear skb missed its worker"
nl1=$(status_json | json_get 'j["reuseport"]["nonlinear"]')
log "non-linear datagrams: $((nl1 - nl0))"
[ $((nl1 - nl0)) -ge 48 ] || fail "the zerocopy datagrams were not read as non-linear ($((nl1 - nl0)))"

out=$(cexec "$LOAD" initial --count 200 --expect-gen 1 $VIP4 $PORT) || {
	echo "$out"; fail "Initials split or lost"; }
echo "$out"
nw=$(echo "$out" | sed -n 's/.* workers=\([0-9]*\) .*/\1/p')
[ "$nw" = 4 ] || fail "Initials reached $nw workers, expected all 4"

cexec "$LOAD" fallback -f "$H_CFG" --foreign-host web2 --count 100 --expect-gen 1 $VIP4 $PORT ||
	fail "foreign or unroutable CIDs missed the working generation"

# A second generation registers but is not promoted (size 4 declared, only
# the working generation takes new connections until it is complete; here
# it is complete, so it takes over and generation 1 drains).
start_echo gen2 --workers 4 --generation 2 :: $PORT
wait_ready gen2 4
ids2=$(worker_ids gen2)
log "generation 2 workers: $ids2"
for i in $(seq 1 50); do
	[ "$(status_json | json_get 'j["working_generation"]')" = 2 ] && break
	sleep 0.1
done
status_json | json_get 'j["working_generation"]' | grep -qx 2 || fail "generation 2 not promoted"

# old workers still get their CIDs, new ones too; fallback goes to gen 2
cexec "$LOAD" probe -f "$H_CFG" --host web1 --workers "$ids,$ids2" $VIP4 $PORT ||
	fail "a minted CID missed its worker with two generations"
out=$(cexec "$LOAD" initial --count 100 --expect-gen 2 $VIP4 $PORT) || {
	echo "$out"; fail "Initials reached the draining generation"; }
echo "$out"
cexec "$LOAD" fallback -f "$H_CFG" --foreign-host web2 --count 100 --expect-gen 2 $VIP4 $PORT ||
	fail "fallback reached the draining generation"

# A second SO_REUSEPORT group (another port) joins generation 2: each group
# has its own fallback set, so neither ever falls back to the other's
# sockets (the kernel refuses those) nor to the kernel hash.
start_echo side --workers 2 --generation 2 --size 0 $VIP4 $((PORT + 1))
wait_ready side 2
out=$(cexec "$LOAD" initial --count 100 --expect-gen 2 $VIP4 $PORT) || {
	echo "$out"; fail "Initials strayed with two groups"; }
out=$(cexec "$LOAD" initial --count 50 --expect-gen 2 $VIP4 $((PORT + 1))) || {
	echo "$out"; fail "the second group's Initials strayed"; }
echo "$out" | grep -q "workers=2 " || fail "the second group's Initials missed a worker"
[ "$(status_json | json_get 'j["reuseport"]["fallback_none"]')" = 0 ] ||
	fail "the fallback found no working socket in its group"

# A worker of generation 1 crashes: its CIDs now take the fallback to the
# working generation (2), the other workers keep theirs.
victim=$(sed -n 's/^qlb-echo: worker \([0-9]*\) generation 1 pid \([0-9]*\) ready$/\1 \2/p' \
	"$H_DIR/gen1.log" | head -1)
read -r vid vpid <<<"$victim"
kill -KILL "$vpid"
for i in $(seq 1 50); do
	status_json | json_get '[w["worker"] for w in j["workers"]]' | grep -qw "$vid" || break
	sleep 0.1
done
status_json | json_get '[w["worker"] for w in j["workers"]]' | grep -qw "$vid" &&
	fail "the agent did not notice worker $vid died"
cexec "$LOAD" probe -f "$H_CFG" --host web1 --workers "$vid" --expect-gen 2 $VIP4 $PORT ||
	fail "CIDs of a dead worker did not reach the working generation"
rest=$(echo "$ids" | tr ',' '\n' | grep -vx "$vid" | paste -sd,)
cexec "$LOAD" probe -f "$H_CFG" --host web1 --workers "$rest,$ids2" $VIP4 $PORT ||
	fail "a live worker lost its CIDs after another one died"

status_json | tee "$H_DIR/status.json" >/dev/null
routed=$(json_get 'j["reuseport"]["routed"]' <"$H_DIR/status.json")
log "reuseport counters: $(json_get 'j["reuseport"]' <"$H_DIR/status.json")"
[ "$routed" -gt 0 ] || fail "routed counter is 0"
hexec "$QLBCTL" agent status -s "$H_SOCK"
hexec "$QLBCTL" agent metrics -s "$H_SOCK" >"$H_DIR/metrics.txt" || fail "agent metrics"
grep -q '^qlb_agent_reuseport_packets_total{host="web1",reason="routed"} [1-9]' \
	"$H_DIR/metrics.txt" || fail "metrics lack the routed counter"
grep -q '^qlb_agent_generation_sockets{host="web1",generation="2",state="working"} 6$' \
	"$H_DIR/metrics.txt" || fail "metrics lack generation 2"
log "PASS"
