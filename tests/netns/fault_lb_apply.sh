#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# `qlbctl lb apply` killed (SIGKILL) at random moments, and a broken file
# applied, under a steady load through the LB node to qlb-echo on three
# hosts (tests/lib/faults.sh):
#
# 1. 30 applies alternating two valid files A (h1..h3 active) and B (h3
#    draining: its CIDs still routed, no new flows), each killed after a
#    random 0..40 ms (or up to the measured length of an apply, if longer). After every kill `qlbctl lb status` answers and shows
#    A or B, and a probe (its own 4-tuples) is answered exactly as that
#    file says, not as the other one (nor a mix). Over the whole series every answer of a CID flow comes from
#    the worker its CID names, every answer of an Initial flow from the
#    host Maglev gives that 4-tuple under A or under B (learned before, by
#    traffic), nothing else; datagrams lost are counted (expected 0). A
#    final apply works.
# 2. A broken file (a bad port at a known line) is applied under load: the
#    apply fails naming file:line:col, and the load loses nothing and is
#    answered by exactly the hosts that answered it before.
source "$(dirname "$0")/../lib/faults.sh"

faults_up faultapply
D=$FLEET_DIR
cp "$D/lb1.yaml" "$D/A.yaml"
fleet_set_host_state h3 draining
fleet_distribute_files
cp "$D/lb1.yaml" "$D/B.yaml"
fleet_set_host_state h3 active
fleet_distribute_files
# the series' load goes to the IPv6 VIP, the probes to the IPv4 one
LOADOPTS=(-f "$D/fleet.yaml" --workers 2 --initials 40 --sport 30000)
lb_apply() { e2e_in "$(fleet_ns lb1)" "$QLBCTL" lb apply -f "$1"; }
lb_status() { e2e_in "$(fleet_ns lb1)" "$QLBCTL" -j lb status -f "$D/A.yaml"; }
h3_state() {
	lb_status | python3 -c 'import json,sys
j=json.load(sys.stdin); print([h["state"] for h in j["hosts"] if h["name"]=="h3"][0])'
}

# Learn, by traffic, who answers every flow under A and under B, for the
# series' load (source ports 30000+) and for the probe after each kill
# (31000+).
PROBE=(-f "$D/fleet.yaml" --workers 2 --initials 40 --sport 31000)
lb_apply "$D/B.yaml" >/dev/null || fail "apply B"
FAULTS_V6=1 faults_load "$D/learnB.txt" "${LOADOPTS[@]}" --rate 2000 --duration 1
faults_load "$D/probeB.txt" "${PROBE[@]}" --rate 2000 --duration 1
lb_apply "$D/A.yaml" >/dev/null || fail "apply A"
FAULTS_V6=1 faults_load "$D/learnA.txt" "${LOADOPTS[@]}" --rate 2000 --duration 1
faults_load "$D/probeA.txt" "${PROBE[@]}" --rate 2000 --duration 1
for f in learnA learnB probeA probeB; do
	[ "$(faults_total "$D/$f.txt" lost)" = 0 ] || { cat "$D/$f.txt"; fail "$f: loss with no fault"; }
done

# check REPORT [ALLOWED...]: every answer from a host that is right under
# one of the learned runs ALLOWED (default: A and B of the series' load).
check() {
	local r=$1
	shift
	[ $# = 0 ] && set -- "$D/learnA.txt" "$D/learnB.txt"
	python3 - "$r" "$@" <<'EOF'
import sys
def flows(path):
    out = {}
    for l in open(path):
        if l.startswith('flow='):
            d = dict(kv.split('=', 1) for kv in l.split())
            fr = {}
            for e in filter(None, d['from'].split(',')):
                k, v = e.rsplit(':', 1)
                fr[k] = int(v)
            out[int(d['flow'])] = (d['kind'], d['want'], int(d['sent']), int(d['recv']), fr)
    return out
R = flows(sys.argv[1])
L = [flows(p) for p in sys.argv[2:]]
bad = lost = moved = 0
for i, (kind, want, sent, recv, fr) in sorted(R.items()):
    lost += sent - recv
    if kind == 'cid':
        ok = {want}
        hosts = False
    else:
        ok = {k.split('/')[0] for x in L for k in x[i][4]}
        hosts = True
        if len(ok) > 1:
            moved += 1
    for k, n in fr.items():
        if (k.split('/')[0] if hosts else k) not in ok:
            bad += n
            print(f'flow {i} ({kind}, want {want}): {n} answers from {k}, allowed {sorted(ok)}')
print(f'flows={len(R)} initial_flows_differing={moved} lost={lost} wrong_answers={bad}')
sys.exit(1 if bad else 0)
EOF
}
moved=$(check "$D/learnA.txt" | sed -n 's/.*initial_flows_differing=\([0-9]*\).*/\1/p')
log "40 Initial flows: $moved answered by another host under B than under A"
[ "${moved:-0}" -gt 0 ] || fail "A and B route every Initial flow alike: the test could not see a mix"
pm=$(check "$D/probeA.txt" "$D/probeA.txt" "$D/probeB.txt" | sed -n 's/.*initial_flows_differing=\([0-9]*\).*/\1/p')
log "probe: $pm of its 40 Initial flows answered by another host under B than under A"
[ "${pm:-0}" -gt 0 ] || fail "the probe cannot tell A from B"

# 1. applies killed at random moments
generation() { lb_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])'; }
FAULTS_V6=1 faults_load_bg "$D/series.txt" "${LOADOPTS[@]}" --rate 2000 --duration 60
sleep 0.3
# kill delays: 0..40 ms, or up to the measured time of a whole apply
# when that is longer, so that kills land before, during and after the
# slot fill and the flip
tmax=0
for f in B A; do
	t=$(e2e_ms)
	lb_apply "$D/$f.yaml" >/dev/null || fail "apply $f"
	t=$(($(e2e_ms) - t))
	[ $t -gt $tmax ] && tmax=$t
done
range=$((tmax > 40 ? tmax + 5 : 40))
log "one apply takes up to $tmax ms here: kills after 0..$range ms"
gen0=$(generation)
killed=0 completed=0 nA=0 nB=0 probes=0
for i in $(seq 1 30); do
	f=$D/A.yaml
	[ $((i % 2)) = 1 ] && f=$D/B.yaml
	nsenter --net="/run/netns/$(fleet_ns lb1)" "$QLBCTL" lb apply -f "$f" >/dev/null 2>&1 &
	ap=$!
	sleep "$(printf '0.%03d' $((RANDOM % (range + 1))))"
	if kill -KILL "$ap" 2>/dev/null; then
		wait "$ap" 2>/dev/null
		killed=$((killed + 1))
	else
		wait "$ap" 2>/dev/null
		completed=$((completed + 1))
	fi
	st=$(h3_state) || fail "lb status failed after kill $i"
	case $st in
	active) want=$D/probeA.txt nA=$((nA + 1)) ;;
	draining) want=$D/probeB.txt nB=$((nB + 1)) ;;
	*) fail "after kill $i h3 is '$st'" ;;
	esac
	# the data plane is exactly the file status names: probe it
	faults_load "$D/probe$i.txt" "${PROBE[@]}" --rate 2000 --duration 0.15 --tail 0.5
	check "$D/probe$i.txt" "$want" >"$D/probe$i.check" ||
		{ cat "$D/probe$i.check"; fail "after kill $i: status says h3 $st, the data plane disagrees"; }
	[ "$(faults_total "$D/probe$i.txt" lost)" = 0 ] || fail "after kill $i: the probe lost datagrams"
	probes=$((probes + $(faults_total "$D/probe$i.txt" sent)))
done
kill -INT "$FLOAD_PID"
wait "$FLOAD_PID"
log "after the kills: status named A $nA times, B $nB times; $probes probe datagrams all answered as that file says"
genS=$(generation)
log "30 applies: $killed killed before they exited ($((genS - gen0 - completed)) of them after the flip), $completed had finished; generation $gen0 -> $genS"
log "load during the series: $(grep ^total "$D/series.txt")"
check "$D/series.txt" || fail "answers from hosts that neither A nor B names"
[ "$(faults_total "$D/series.txt" lost)" = 0 ] || fail "datagrams lost while applies were killed"
lb_apply "$D/A.yaml" || fail "the apply after the series failed"
[ "$(h3_state)" = active ] || fail "A not in force after the final apply"
[ "$(generation)" = $((genS + 1)) ] || fail "the final apply did not make a new generation"
FAULTS_V6=1 faults_load "$D/after.txt" "${LOADOPTS[@]}" --rate 2000 --duration 1
check "$D/after.txt" "$D/learnA.txt" || fail "after the final apply, answers not from A's hosts"
[ "$(faults_total "$D/after.txt" lost)" = 0 ] || fail "loss after the final apply"

# 2. broken files applied under load: a value out of range, a YAML syntax
# error, two hosts with one server ID (each at a line the test knows)
sed 's/^      port: 443$/      port: 99999/' "$D/A.yaml" >"$D/broken1.yaml"
sed 's/^    encap: ipip$/    encap: [ipip/' "$D/A.yaml" >"$D/broken2.yaml"
sed 's/^    server_id: "2000"$/    server_id: "1000"/' "$D/A.yaml" >"$D/broken3.yaml"
# the out-of-range value must be reported at its own line
line1=$(grep -n 'port: 99999' "$D/broken1.yaml" | head -n 1 | cut -d: -f1)
FAULTS_V6=1 faults_load_bg "$D/broken-load.txt" "${LOADOPTS[@]}" --rate 2000 --duration 4
sleep 1
for k in 1 2 3; do
	f=$D/broken$k.yaml
	cmp -s "$f" "$D/A.yaml" && fail "could not make broken file $k"
	if lb_apply "$f" 2>"$f.err"; then
		fail "broken file $k was applied"
	fi
	sed 's/^/    /' "$f.err"
	grep -q "^$f:[0-9]*:[0-9]*: " "$f.err" || fail "broken file $k: no file:line:col in the error"
	[ $k = 1 ] && { grep -q "^$f:$line1:[0-9]*: " "$f.err" || fail "broken file 1: not reported at line $line1"; }
	sleep 0.3
done
wait "$FLOAD_PID"
log "load while 3 broken files were applied: $(grep ^total "$D/broken-load.txt")"
check "$D/broken-load.txt" "$D/learnA.txt" || fail "a broken file moved flows"
[ "$(faults_total "$D/broken-load.txt" lost)" = 0 ] || fail "datagrams lost when a broken file was applied"
[ "$(h3_state)" = active ] || fail "a broken file changed the state"
[ "$(generation)" = $((genS + 1)) ] || fail "a broken file made a new generation"
log PASS
