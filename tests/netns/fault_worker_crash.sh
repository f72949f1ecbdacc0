#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# A worker process crashes under load: one qlb-echo worker of h1 is killed
# with SIGKILL while a steady load runs through the LB node to every worker
# of every host (a flow per worker, its CID minted for that worker, plus
# Initial flows). Only the victim's flows may lose datagrams (counted and
# printed); its CIDs fall back to the working generation (answers from
# another worker of h1 after the crash, never from another host); every
# other flow loses nothing and is answered by its own worker only.
FLEET_WORKERS=3
source "$(dirname "$0")/../lib/faults.sh"

faults_up faultworker
D=$FLEET_DIR
read -r vid vpid < <(faults_echo_pids h1 | sort -n | tail -n 1)
[ -n "${vpid:-}" ] || fail "no worker of h1 found in its log"
log "h1 workers: $(faults_worker_ids h1); the victim: worker $vid (pid $vpid)"

faults_load_bg "$D/load.txt" -f "$D/fleet.yaml" --workers 3 --initials 30 \
	--sport 31000 --rate 3000 --duration 4
sleep 1.5
kill -KILL "$vpid" || fail "cannot kill worker $vid"
log "worker $vid of h1 killed"
wait "$FLOAD_PID"
cat "$D/load.txt.rate"
python3 - "$D/load.txt" "h1/$vid" <<'EOF' || fail "a crashed worker affected more than its own flows"
import sys
victim = sys.argv[2]
bad = 0
vs = vr = os_ = or_ = moved_init = 0
for l in open(sys.argv[1]):
    if not l.startswith('flow='):
        continue
    d = dict(kv.split('=', 1) for kv in l.split())
    fr = dict(e.rsplit(':', 1) for e in filter(None, d['from'].split(',')))
    sent, recv = int(d['sent']), int(d['recv'])
    if d['want'] == victim:
        vs += sent; vr += recv
        others = [k for k in fr if k != victim]
        print(f"victim flow {d['flow']}: sent={sent} received={recv} lost={sent - recv} from={d['from']}")
        if any(not k.startswith('h1/') for k in fr):
            print('  answered by another host'); bad += 1
        if not others:
            print('  never answered by another worker of h1'); bad += 1
        continue
    if d['kind'] == 'initial' and victim in fr:
        # an Initial flow the victim served: it moves to another worker
        vs += sent; vr += recv
        print(f"initial flow {d['flow']} on the victim: sent={sent} received={recv} from={d['from']}")
        if len({k.split('/')[0] for k in fr}) != 1:
            print('  moved to another host'); bad += 1
        continue
    os_ += sent; or_ += recv
    if sent != recv:
        print(f"flow {d['flow']} ({d['want']}): lost {sent - recv}"); bad += 1
    if d['kind'] == 'cid' and set(fr) != {d['want']}:
        print(f"flow {d['flow']} ({d['want']}): answered by {d['from']}"); bad += 1
    if d['kind'] == 'initial':
        if len({k.split('/')[0] for k in fr}) != 1:
            print(f"flow {d['flow']} (initial): moved host: {d['from']}"); bad += 1
        if len(fr) != 1:
            # the host's steering picks a worker for a new DCID among
            # the working set: when it shrinks, other Initials may move
            moved_init += 1
print(f"victim's flows: sent={vs} received={vr} lost={vs - vr}")
print(f"other flows: sent={os_} received={or_} lost={os_ - or_}")
print(f"Initial flows of surviving workers that changed worker: {moved_init}")
sys.exit(1 if bad else 0)
EOF
# the host still answers every CID of the victim (through the others)
faults_load "$D/after.txt" -f "$D/fleet.yaml" --workers 3 --hosts h1 --rate 1000 --duration 1
log "after the crash, h1's CIDs: $(grep ^total "$D/after.txt")"
[ "$(faults_total "$D/after.txt" lost)" = 0 ] || fail "h1 loses datagrams after the crash"
log PASS
