#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# A host disappears under load: h3's processes are SIGKILLed and its
# namespace deleted (its link to the router goes with it) while a steady
# load runs through the LB node. Until the operator marks it down, what
# the LB node sends it is lost: counted and printed, per flow kind, with
# the time from the failure to the apply. Flows of h1 and h2 lose nothing
# throughout. Once `state: down` is applied (one YAML change, one apply),
# every new connection (Initial flows and unroutable-CID flows, including
# those Maglev gave h3)
# succeeds through h1/h2, and h3's CIDs take the fallback (answered by
# h1/h2: a real QUIC server there would not know the connection; printed).
FAULTS_DOWN_DELAY=${FAULTS_DOWN_DELAY:-1}
source "$(dirname "$0")/../lib/faults.sh"

faults_up faulthost
D=$FLEET_DIR
OPTS=(-f "$D/fleet.yaml" --workers 2 --initials 40 --unroutable 20 --sport 32000 --rate 2000)
faults_load "$D/before.txt" "${OPTS[@]}" --duration 1
[ "$(faults_total "$D/before.txt" lost)" = 0 ] || fail "loss before the fault"
on_h3=$(grep -c 'kind=initial .*from=h3/' "$D/before.txt")
un_h3=$(grep -c 'kind=unroutable .*from=h3/' "$D/before.txt")
log "before: $(grep ^total "$D/before.txt"); on h3: $on_h3 of 40 Initial flows, $un_h3 of 20 unroutable-CID flows"
[ "$on_h3" -gt 0 ] && [ "$un_h3" -gt 0 ] || fail "no new-connection flow on h3: nothing to see"

faults_load_bg "$D/during.txt" "${OPTS[@]}" --duration 60
sleep 1
t0=$(e2e_ms)
kill -KILL -- "-${FAULTS_ECHO_PID[h3]}" "-${FLEET_AGENT_PID[h3]}"
ip netns del "$(fleet_ns h3)"
log "h3 gone (processes killed, namespace deleted); marking it down in ${FAULTS_DOWN_DELAY} s"
sleep "$FAULTS_DOWN_DELAY"
fleet_set_host_state h3 down
fleet_distribute_files
fleet_lb_apply lb1 || fail "apply with h3 down"
t1=$(e2e_ms)
sleep 1
kill -INT "$FLOAD_PID"
wait "$FLOAD_PID"
cat "$D/during.txt.rate"
python3 - "$D/during.txt" <<'EOF' || fail "flows of the other hosts were affected"
import sys
bad = 0
fig = {}
for l in open(sys.argv[1]):
    if not l.startswith('flow='):
        continue
    d = dict(kv.split('=', 1) for kv in l.split())
    fr = dict(e.rsplit(':', 1) for e in filter(None, d['from'].split(',')))
    hosts = {k.split('/')[0] for k in fr}
    sent, recv = int(d['sent']), int(d['recv'])
    if d['kind'] == 'cid':
        key = 'cid flows of h3' if d['want'].startswith('h3/') else 'cid flows of h1/h2'
    else:
        key = f"{d['kind']} flows on " + ('h3' if 'h3' in hosts or sent != recv else 'h1/h2')
    s = fig.setdefault(key, [0, 0, 0])
    s[0] += 1; s[1] += sent; s[2] += recv
    if key.endswith('h1/h2') and (sent != recv or 'h3' in hosts):
        print(f"flow {d['flow']} ({d['want']}): sent={sent} received={recv} from={d['from']}"); bad += 1
for k, (n, s, r) in sorted(fig.items()):
    print(f"{k}: flows={n} sent={s} received={r} lost={s - r}")
sys.exit(1 if bad else 0)
EOF
log "failure to apply of 'down': $((t1 - t0)) ms"

faults_load "$D/after.txt" "${OPTS[@]}" --duration 1
python3 - "$D/after.txt" <<'EOF' || fail "after 'down' was applied, new connections fail"
import sys
bad = 0
n = s = r = hs = hr = 0
for l in open(sys.argv[1]):
    if not l.startswith('flow='):
        continue
    d = dict(kv.split('=', 1) for kv in l.split())
    sent, recv = int(d['sent']), int(d['recv'])
    if 'h3' in d['from']:
        print(f"flow {d['flow']}: answered by h3"); bad += 1
    if d['kind'] != 'cid' or not d['want'].startswith('h3/'):
        n += 1; s += sent; r += recv
        if sent != recv:
            print(f"flow {d['flow']} ({d['want']}): lost {sent - recv}"); bad += 1
    else:
        hs += sent; hr += recv
        print(f"h3's CID flow {d['flow']}: sent={sent} received={recv} from={d['from']} (fallback)")
print(f"after down: new connections and h1/h2 flows: flows={n} sent={s} received={r} lost={s - r}")
print(f"after down: h3's CIDs: sent={hs} answered by h1/h2={hr}")
sys.exit(1 if bad else 0)
EOF
faults_lb_json lb1 stats | python3 -c 'import json,sys
j=json.load(sys.stdin)
for v in j["vips"]:
    if v["vip"] and v["reasons"]["fallback_host_down"]["packets"]:
        print("LB node: fallback_host_down", v["vip"], v["reasons"]["fallback_host_down"]["packets"])'
log PASS
