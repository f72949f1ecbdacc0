#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Metrics (issue 5) after a known load through the LB node to qlb-echo on
# three hosts (tests/lib/faults.sh):
# - `qlbctl lb metrics`: only the documented metric names, each with its
#   documented label names (vip, service, reason, action / host / service,
#   host / service, config), every value equal to what `qlbctl -j lb
#   stats` says, the service's counters the sum of its VIPs', each host's
#   the sum over its members; the routed_cid and
#   fallback_initial counters grew by exactly the CID and Initial
#   datagrams the load sent (and had answered);
# - the same text served by `qlbctl lb metrics --listen` on lb1's address,
#   fetched over HTTP from the router namespace (curl, else python3);
# - `qlbctl agent metrics` on every host: documented names, label host
#   (and reason, generation, state), values equal to `qlbctl -j agent
#   status`; what each host decapsulated equals what the LB node counted
#   for that host.
source "$(dirname "$0")/../lib/faults.sh"

faults_up metrics
D=$FLEET_DIR
lbexec() { e2e_in "$(fleet_ns lb1)" "$QLBCTL" "$@"; }
snap() {	# snap TAG: LB stats and every agent's status as JSON
	faults_lb_json lb1 stats >"$D/lbstats-$1.json" || fail "lb stats"
	local h
	for h in "${FLEET_HOSTS[@]}"; do
		e2e_in "$(fleet_ns "$h")" "$QLBCTL" -j agent status -f "$D/$h.yaml" \
			>"$D/agent-$h-$1.json" || fail "agent status on $h"
	done
}

snap 0
faults_load "$D/load.txt" -f "$D/fleet.yaml" --workers 2 --initials 20 --rate 2000 --duration 1.5
log "load: $(grep ^total "$D/load.txt")"
[ "$(faults_total "$D/load.txt" lost)" = 0 ] || fail "loss under a plain load"
snap 1
lbexec lb metrics -f "$D/lb1.yaml" >"$D/lb.prom" || fail "lb metrics"
faults_lb_json lb1 stats >"$D/lbstats-2.json"
for h in "${FLEET_HOSTS[@]}"; do
	e2e_in "$(fleet_ns "$h")" "$QLBCTL" agent metrics -f "$D/$h.yaml" >"$D/agent-$h.prom" ||
		fail "agent metrics on $h"
done

# served over HTTP
e2e_bg metrics-http "$(fleet_ns lb1)" "$QLBCTL" lb metrics -f "$D/lb1.yaml" --listen 198.18.11.2:9464
for _ in $(seq 1 50); do
	e2e_in "$(fleet_ns lb1)" ss -Hltn 'sport = :9464' | grep -q . && break
	sleep 0.1
done
if command -v curl >/dev/null; then
	e2e_in "$(fleet_ns rtr)" curl -sS -m 5 -D "$D/http.hdr" -o "$D/http.prom" \
		http://198.18.11.2:9464/metrics || fail "curl could not fetch the metrics"
else
	e2e_in "$(fleet_ns rtr)" python3 -c 'import sys, urllib.request
r = urllib.request.urlopen("http://198.18.11.2:9464/metrics", timeout=5)
open(sys.argv[1], "w").write("HTTP %d\n" % r.status + "".join(f"{k}: {v}\n" for k, v in r.headers.items()))
open(sys.argv[2], "wb").write(r.read())' "$D/http.hdr" "$D/http.prom" || fail "no metrics over HTTP"
fi
head -n 1 "$D/http.hdr"
grep -i '^content-type: text/plain' "$D/http.hdr" || fail "served metrics are not text/plain"

# the agent's metrics served over HTTP on a host: the same samples as printed
# once (the load has stopped; the connection gauge counts the asker itself)
h=${FLEET_HOSTS[0]}
e2e_bg agent-metrics-http "$(fleet_ns "$h")" "$QLBCTL" agent metrics -f "$D/$h.yaml" --listen 127.0.0.1:9465
for _ in $(seq 1 50); do
	e2e_in "$(fleet_ns "$h")" ss -Hltn 'sport = :9465' | grep -q . && break
	sleep 0.1
done
e2e_in "$(fleet_ns "$h")" curl -sS -m 5 -o "$D/agent-http.prom" http://127.0.0.1:9465/metrics ||
	fail "curl could not fetch the agent's metrics"
if ! diff <(grep -v -e '^#' -e '^qlb_agent_connections' "$D/agent-$h.prom" | sort) \
	<(grep -v -e '^#' -e '^qlb_agent_connections' "$D/agent-http.prom" | sort); then
	fail "agent metrics over HTTP differ from 'agent metrics'"
fi
log "agent metrics over HTTP on $h: $(grep -vc '^#' "$D/agent-http.prom") samples, equal to the text printed once"

python3 - "$D" "${FLEET_HOSTS[@]}" <<'EOF' || fail "metrics disagree with stats or the load"
import json, re, sys
d, hosts = sys.argv[1], sys.argv[2:]
bad = 0
line_re = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')
def prom(path):
    out, types = {}, {}
    for l in open(path):
        l = l.rstrip('\n')
        if l.startswith('# TYPE'):
            _, _, n, t = l.split(); types[n] = t
            continue
        if not l or l.startswith('#'):
            continue
        m = line_re.match(l)
        if not m:
            raise SystemExit(f'{path}: not a metric line: {l!r}')
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ''))
        out[(m.group(1), tuple(sorted(labels.items())))] = float(m.group(3))
    return out, types
def j(p):
    return json.load(open(f'{d}/{p}'))

# LB node: names and label sets
want_lb = {'qlb_lb_packets_total': {'vip', 'service', 'reason', 'action'},
           'qlb_lb_bytes_total': {'vip', 'service', 'reason', 'action'},
           'qlb_lb_service_packets_total': {'service', 'reason', 'action'},
           'qlb_lb_service_bytes_total': {'service', 'reason', 'action'},
           'qlb_lb_host_packets_total': {'host'}, 'qlb_lb_host_bytes_total': {'host'},
           'qlb_lb_member_packets_total': {'service', 'host'}, 'qlb_lb_member_bytes_total': {'service', 'host'},
           'qlb_lb_config_routed_packets_total': {'service', 'config'}, 'qlb_lb_config_live': {'service', 'config'},
           'qlb_lb_generation': set(), 'qlb_lb_applied_timestamp_seconds': set()}
M, types = prom(f'{d}/lb.prom')
for (n, lab) in M:
    if n not in want_lb:
        print(f'undocumented LB metric {n}'); bad += 1
    elif {k for k, _ in lab} != want_lb[n]:
        print(f'{n}: labels {[k for k, _ in lab]}, documented {sorted(want_lb[n])}'); bad += 1
missing = set(want_lb) - {n for n, _ in M}
if missing:
    print(f'LB metrics missing: {sorted(missing)}'); bad += 1
for n in types:
    if n.endswith('_total') and types[n] != 'counter':
        print(f'{n} is a {types[n]}'); bad += 1

# LB node: values against lb stats (vip "none" moves with unrelated frames)
S = j('lbstats-2.json')
checked = 0
def cmp(key, v):
    global bad, checked
    checked += 1
    if M.get(key) != v:
        print(f'{key}: metrics {M.get(key)}, stats {v}'); bad += 1
for v in S['vips']:
    if v['vip'] is None:
        continue
    for r, c in v['reasons'].items():
        act = next(dict(l)['action'] for (n, l) in M if n == 'qlb_lb_packets_total' and dict(l)['reason'] == r)
        lab = tuple(sorted({'vip': v['vip'], 'service': v['service'], 'reason': r, 'action': act}.items()))
        cmp(('qlb_lb_packets_total', lab), c['packets'])
        cmp(('qlb_lb_bytes_total', lab), c['bytes'])
for h in S['hosts']:
    cmp(('qlb_lb_host_packets_total', (('host', h['host']),)), h['packets'])
    cmp(('qlb_lb_host_bytes_total', (('host', h['host']),)), h['bytes'])
for c in S['configs']:
    cmp(('qlb_lb_config_routed_packets_total', (('config', str(c['config'])), ('service', c['service']))),
        c['routed_packets'])
# per service: its reasons are the sum of its VIPs' rows; a host's totals
# the sum over its members (one implicit service here, named by the file)
if [s['service'] for s in S['services']] != ['default'] or not S['service_names']:
    print(f'services: {[s["service"] for s in S["services"]]}, expected the implicit "default"'); bad += 1
for sv in S['services']:
    for r, c in sv['reasons'].items():
        act = next(dict(l)['action'] for (n, l) in M if n == 'qlb_lb_packets_total' and dict(l)['reason'] == r)
        lab = tuple(sorted({'service': sv['service'], 'reason': r, 'action': act}.items()))
        cmp(('qlb_lb_service_packets_total', lab), c['packets'])
        cmp(('qlb_lb_service_bytes_total', lab), c['bytes'])
        want = sum(v['reasons'][r]['packets'] for v in S['vips'] if v['service'] == sv['service'])
        if c['packets'] != want:
            print(f'service {sv["service"]} {r}: {c["packets"]}, its VIPs {want}'); bad += 1
    for mb in sv['members']:
        lab = (('host', mb['host']), ('service', sv['service']))
        cmp(('qlb_lb_member_packets_total', lab), mb['packets'])
        cmp(('qlb_lb_member_bytes_total', lab), mb['bytes'])
for h in S['hosts']:
    ms = sum(mb['packets'] for sv in S['services'] for mb in sv['members'] if mb['host'] == h['host'])
    if ms != h['packets']:
        print(f'host {h["host"]}: {h["packets"]} packets, its members {ms}'); bad += 1
print(f'LB: {len(M)} samples, {checked} compared with lb stats')

# the load: sent CIDs and Initials, exactly
sent = {'cid': 0, 'initial': 0}
for l in open(f'{d}/load.txt'):
    if l.startswith('flow='):
        f = dict(kv.split('=', 1) for kv in l.split())
        sent[f['kind']] += int(f['sent'])
S0, S1 = j('lbstats-0.json'), j('lbstats-1.json')
def vip4(s, r):
    return next(v for v in s['vips'] if v['vip'] == '198.18.100.1:443')['reasons'][r]['packets']
dr, di = vip4(S1, 'routed_cid') - vip4(S0, 'routed_cid'), vip4(S1, 'fallback_initial') - vip4(S0, 'fallback_initial')
print(f'load sent {sent["cid"]} CID and {sent["initial"]} Initial datagrams; '
      f'LB counted routed_cid +{dr}, fallback_initial +{di}')
if (dr, di) != (sent['cid'], sent['initial']):
    bad += 1

# served over HTTP: the same samples (vip "none" and the generation time aside)
H, _ = prom(f'{d}/http.prom')
same = [k for k in M if dict(k[1]).get('vip') != 'none']
diff = [k for k in same if H.get(k) != M[k]]
print(f'HTTP: {len(H)} samples, {len(same) - len(diff)} of {len(same)} equal to the text printed once')
if diff or set(H) != set(M):
    print(diff[:5]); bad += 1

# agents
want_ag = {'qlb_agent_reuseport_packets_total': {'host', 'reason'}, 'qlb_agent_decap_packets_total': {'host', 'reason'},
           'qlb_agent_refused_total': {'host'}, 'qlb_agent_working_generation': {'host'},
           'qlb_agent_generation_sockets': {'host', 'generation', 'state'}, 'qlb_agent_connections': {'host'}}
lbh0 = {h['host']: h['packets'] for h in S0['hosts']}
lbh1 = {h['host']: h['packets'] for h in S1['hosts']}
for h in hosts:
    A, _ = prom(f'{d}/agent-{h}.prom')
    st, st0 = j(f'agent-{h}-1.json'), j(f'agent-{h}-0.json')
    for (n, lab) in A:
        if n not in want_ag or {k for k, _ in lab} != want_ag[n]:
            print(f'{h}: undocumented agent metric or labels: {n} {lab}'); bad += 1
        elif dict(lab)['host'] != h:
            print(f'{h}: host label {dict(lab)["host"]}'); bad += 1
    for grp, n in (('reuseport', 'qlb_agent_reuseport_packets_total'), ('decap', 'qlb_agent_decap_packets_total')):
        for r, v in st[grp].items():
            got = A.get((n, (('host', h), ('reason', r))))
            # not_ours counts frames unrelated to the load (neighbour
            # discovery, say), like vip "none" on the LB: the metrics,
            # read after the status, may have one more
            if got != v and not (r == 'not_ours' and got is not None and got >= v):
                print(f'{h}: {n}{{reason={r}}} {A.get((n, (("host", h), ("reason", r))))}, status {v}'); bad += 1
    dec = sum(v - st0['decap'][r] for r, v in st['decap'].items() if r not in ('not_ours',) and not r.startswith(('pass', 'drop')))
    print(f'{h}: decapsulated +{dec}, LB sent it +{lbh1[h] - lbh0[h]}')
    if dec != lbh1[h] - lbh0[h]:
        bad += 1
sys.exit(1 if bad else 0)
EOF
log PASS
