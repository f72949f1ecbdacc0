#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Host lifecycle (issue 5): add, drain, down and remove a host, each one
# YAML change and one `qlbctl lb apply`, under a steady load through the
# LB node to qlb-echo on h1..h3 (tests/lib/faults.sh). The fleet starts
# without h3 in the file; then h3 is added, drained, downed, removed.
#
# Live, per step, with a load on each VIP (IPv4, IPv6): nothing is lost; every CID flow of h1/h2 is answered by
# its own worker only; while h3 drains, its CID flows are answered by their
# own worker of h3 only. Initial flows that change host are printed.
# Offline, per step: 20000 client Initials from random 4-tuples (IPv4 and
# IPv6) and CIDs of every host's workers through `qlbctl -j trace` on the
# file before and after: CIDs of h1/h2 never move, a draining h3 keeps
# its CIDs, and the share of Initials that move is printed beside the
# Maglev minimum (the share the changed host gains or loses: 1/N) and
# must stay within 1.1 x that + 0.5 %; the same offline for one host of ten.
source "$(dirname "$0")/../lib/faults.sh"

faults_up lifecycle
D=$FLEET_DIR
cp "$D/fleet.yaml" "$D/all.yaml"	# the load mints CIDs for every host
OPTS=(-f "$D/all.yaml" --workers 2 --initials 40 --rate 1000)

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
	# both VIPs at once, 1000 datagrams/s each
	faults_load_bg "$D/live$k.txt" "${OPTS[@]}" --sport 33000 --duration 30
	local p4=$FLOAD_PID
	FAULTS_V6=1 faults_load_bg "$D/live$k-v6.txt" "${OPTS[@]}" --sport 33100 --duration 30
	sleep 0.7
	fleet_lb_apply lb1 || fail "$name: apply"
	sleep 1
	kill -INT "$p4" "$FLOAD_PID"
	wait "$p4" "$FLOAD_PID"
	live_check "$D/live$k.txt" "$name IPv4" || fail "$name: live check (IPv4 VIP)"
	live_check "$D/live$k-v6.txt" "$name IPv6" || fail "$name: live check (IPv6 VIP)"
}

# live_check REPORT NAME
live_check() {
	python3 - "$1" "$2" <<'EOF'
import sys
name = sys.argv[2]
step = name.split()[0]
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
    elif not d['want'].startswith('h3/') or step == 'drain':
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

# The same offline on a larger fleet: ten hosts, one added, drained,
# taken down, removed (minimum share: 1/10).
big() {	# big OUT STATE_OF_h10|absent
	{
		sed -n '/^quic_lb:/,/^hosts:/p' "$D/step0.yaml"
		local i
		for i in $(seq 1 10); do
			[ $i = 10 ] && [ "$2" = absent ] && continue
			printf '  - name: b%d\n    address: 198.18.30.%d\n    server_id: "%02x00"\n' $i $i $((i + 0x40))
			[ $i = 10 ] && printf '    state: %s\n' "$2"
		done
		sed -n '/^lb:/,$p' "$D/step0.yaml"
	} >"$1"
}
big "$D/big0.yaml" absent
big "$D/big1.yaml" active
big "$D/big2.yaml" draining
big "$D/big3.yaml" down
big "$D/big4.yaml" absent
for k in 0 1 2 3 4; do
	"$QLBCTL" -j trace -f "$D/big$k.yaml" "$D/in.pcap" >"$D/big$k.json" || fail "trace of big$k"
done
python3 - "$D" 20000 <<'EOF' || fail "offline, ten hosts: moved beyond the Maglev bound"
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
T = [[json.loads(l) for l in open(f'{d}/big{k}.json')][:n] for k in range(5)]
bad = 0
for k, name, minimum in ((1, 'add', 0.1), (2, 'drain', 0.1), (3, 'down', 0.0), (4, 'remove', 0.0)):
    a, b = T[k - 1], T[k]
    moved = sum(1 for i in range(n) if a[i]['host'] != b[i]['host'])
    extra = sum(1 for i in range(n) if a[i]['host'] != b[i]['host'] and 'b10' not in (a[i]['host'], b[i]['host']))
    print(f"ten hosts, {name} b10: {moved} of {n} Initials moved = {100 * moved / n:.2f} % "
          f"(Maglev minimum {100 * minimum:.2f} %); moved between the other nine: {extra}")
    if moved / n > 1.1 * minimum + 0.005:
        bad += 1
sys.exit(1 if bad else 0)
EOF
log PASS
