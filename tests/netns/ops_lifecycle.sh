#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Host lifecycle (issue 5): add, drain, down and remove a host, each one
# YAML change and one `qlbctl lb apply`, under a steady load through the
# LB node to qlb-echo on h1..h3 (tests/lib/faults.sh). The fleet starts
# without h3 in the file; then h3 is added, drained, downed, removed.
#
# Live, per step: nothing is lost; every CID flow of h1/h2 is answered by
# its own worker only; while h3 drains, its CID flows are answered by their
# own worker of h3 only. Initial flows that change host are printed.
# Offline, per step: 20000 client Initials from random 4-tuples (IPv4 and
# IPv6) and CIDs of every host's workers through `qlbctl -j trace` on the
# file before and after: CIDs of h1/h2 never move, a draining h3 keeps
# its CIDs, and the share of Initials that move is printed beside the
# Maglev minimum (the share the changed host gains or loses: 1/N) and
# must stay within 1.1 x that + 0.5 %.
source "$(dirname "$0")/../lib/faults.sh"

faults_up lifecycle
D=$FLEET_DIR
cp "$D/fleet.yaml" "$D/all.yaml"	# the load mints CIDs for every host
OPTS=(-f "$D/all.yaml" --workers 2 --initials 40 --sport 33000 --rate 2000)

# offline input: Initials from 20000 4-tuples, CIDs of h1..h3 workers 0, 1
cids=()
for h in 1 2 3; do
	for w in 0 1; do
		cids+=(--cid "$("$QLBCTL" cid encode --config-id 1 --server-id "${h}00$w" \
			--nonce-len 6 --key "$FLEET_KEY")") || fail "cid encode"
	done
done
python3 tests/tools/qlb-mkpcap.py "$D/in.pcap" --vip4 "$VIP4" --vip6 "$VIP6" \
	--initials 20000 "${cids[@]}" || fail "cannot write the input pcap"

faults_host_remove h3
fleet_distribute_files
fleet_lb_apply lb1 || fail "apply without h3"
cp "$D/lb1.yaml" "$D/step0.yaml"

# step K NAME EDIT...: run EDIT on the fleet file, then one apply under load.
step() {
	local k=$1 name=$2
	shift 2
	"$@"
	fleet_distribute_files
	cp "$D/lb1.yaml" "$D/step$k.yaml"
	faults_load_bg "$D/live$k.txt" "${OPTS[@]}" --duration 30
	sleep 0.7
	fleet_lb_apply lb1 || fail "$name: apply"
	sleep 1
	kill -INT "$FLOAD_PID"
	wait "$FLOAD_PID"
	python3 - "$D/live$k.txt" "$name" <<'EOF' || fail "$name: live check"
import sys
name = sys.argv[2]
bad = moved = 0
for l in open(sys.argv[1]):
    if l.startswith('total'):
        tot = l.split(None, 1)[1].strip()
    if not l.startswith('flow='):
        continue
    d = dict(kv.split('=', 1) for kv in l.split())
    fr = dict(e.rsplit(':', 1) for e in filter(None, d['from'].split(',')))
    sent, recv = int(d['sent']), int(d['recv'])
    if sent != recv:
        print(f"flow {d['flow']} ({d['want']}): lost {sent - recv}"); bad += 1
    if d['kind'] == 'initial':
        moved += len({k.split('/')[0] for k in fr}) > 1
    elif not d['want'].startswith('h3/') or name == 'drain':
        if set(fr) != {d['want']}:
            print(f"flow {d['flow']} ({d['want']}) answered by {d['from']}"); bad += 1
print(f"live {name}: {tot}; Initial flows that changed host: {moved} of 40")
sys.exit(1 if bad else 0)
EOF
}

step 1 add faults_host_add h3
step 2 drain fleet_set_host_state h3 draining
step 3 down fleet_set_host_state h3 down
step 4 remove faults_host_remove h3

for k in 0 1 2 3 4; do
	"$QLBCTL" -j trace -f "$D/step$k.yaml" "$D/in.pcap" >"$D/trace$k.json" ||
		fail "trace of step $k"
done
python3 - "$D" 20000 <<'EOF' || fail "offline: hosts moved beyond what the change allows"
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
def load(k):
    return [json.loads(l) for l in open(f'{d}/trace{k}.json')]
T = [load(k) for k in range(5)]
cids = {0: 'h1', 2: 'h1', 4: 'h2', 6: 'h2', 8: 'h3', 10: 'h3'}   # offset past the Initials -> owner (v4, v6 pairs)
bad = 0
# (step, name, active hosts before, after, minimum share that must move)
steps = [(1, 'add', 2, 3, 1 / 3), (2, 'drain', 3, 2, 1 / 3), (3, 'down', 2, 2, 0.0), (4, 'remove', 2, 2, 0.0)]
for k, name, na, nb, minimum in steps:
    a, b = T[k - 1], T[k]
    moved = sum(1 for i in range(n) if a[i]['host'] != b[i]['host'])
    drops = sum(1 for i in range(n) if b[i]['action'] != 'tx')
    share = moved / n
    extra = sum(1 for i in range(n) if a[i]['host'] != b[i]['host'] and 'h3' not in (a[i]['host'], b[i]['host']))
    print(f"{name}: {moved} of {n} Initials moved = {100 * share:.2f} % "
          f"(Maglev minimum {100 * minimum:.2f} %, active hosts {na} -> {nb}); "
          f"moved between h1 and h2: {extra}; not sent: {drops}")
    if share > 1.1 * minimum + 0.005 or drops:
        bad += 1
    for off in range(12):
        pa, pb = a[n + off], b[n + off]
        owner = cids.get(off - off % 2)
        if owner in ('h1', 'h2') and (pa['host'] != owner or pb['host'] != owner):
            print(f"  CID of {owner} went to {pa['host']} -> {pb['host']}"); bad += 1
        if owner == 'h3' and name in ('add', 'drain') and pb['host'] != 'h3':
            print(f"  CID of h3 went to {pb['host']} after {name}"); bad += 1
        if owner == 'h3' and name in ('down', 'remove') and pb['host'] == 'h3':
            print(f"  CID of h3 still reaches h3 after {name}"); bad += 1
sys.exit(1 if bad else 0)
EOF
log PASS
