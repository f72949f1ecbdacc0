#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Two services behind one LB node on a real veth (native XDP), with the same
# config id under different server-ID lengths and keys, and a host (web2)
# that serves both:
#   web: 198.18.1.1:443 and [2001:db8:1::1]:443, hosts web1 web2, the
#        top-level config 1 (plaintext, 2-byte server IDs);
#   api: 198.18.1.2:443 and 198.18.1.1:8443 (same address as web, another
#        port), hosts api1 web2, its own config 1 (keyed, 3-byte IDs).
# Real datagrams go to both services' VIPs: CIDs of each service's hosts,
# Initials, and a web CID sent to api's VIP. On the wire every frame for a
# VIP of one service goes to a host of that service. Then:
# - `lb stats -j`: each VIP's row, each service's counters (the sum of its
#   VIPs'), each member's counter equal to the frames seen on the wire for
#   that (service, host), each host's total the sum over its members, each
#   service's config 1 counting its own CIDs;
# - `lb status -j`: each service with its VIPs, members and config states;
#   without the file, or with one that does not match the node, the
#   services are shown by index; the announcement names each VIP's service;
# - `lb metrics`: valid exposition (one HELP and TYPE per family, no series
#   twice) and the same figures under the service label.
L_TAG=lbsvc
source "$(dirname "$0")/../lib/lb.sh"

VIP_API=198.18.1.2
API_KEY=00112233445566778899aabbccddeeff

lb_setup
rexec ip route add $VIP_API/32 via 198.18.100.2
SVC_WEB="  - name: web
    vips:
      - address: $VIP4
        port: 443
      - address: \"$VIP6\"
        port: 443
    hosts: [web1, web2]"
SVC_API="  - name: api
    quic_lb:
      configs:
        - id: 1
          server_id_len: 3
          nonce_len: 5
          key: $API_KEY
    vips:
      - address: $VIP_API
        port: 443
      - address: $VIP4
        port: 8443
    hosts:
      - name: api1
        server_id: \"0b0000\"
      - name: web2
        server_id: \"0c0000\""
# svc_yaml FILE SERVICES...: the node's file with the services in that order
svc_yaml() {
	local f=$1
	shift
	cat >"$f" <<EOT
$(yaml_quic_lb_cfg1)
lb:
  interface: lb0
  xdp_mode: ${XDP_MODE:-native}
  gateway_mac: "$RT_MAC"
  encap_source_v4: 198.18.100.2
  encap_source_v6: "2001:db8:100::2"
  pin_dir: $L_PIN
  maglev_table_size: 65537
  announce:
    table: 4242
hosts:
  - name: web1
    address: 198.18.0.21
    server_id: "0a10"
  - name: web2
    address: 198.18.0.22
    encap: ipip
    server_id: "0a20"
  - name: api1
    address: 198.18.0.23
services:
$(printf '%s\n' "$@")
EOT
}
CFG=$L_DIR/lb.yaml
svc_yaml "$CFG" "$SVC_WEB" "$SVC_API"
"$QLBCTL" validate -f "$CFG" || fail "validate"
lexec "$QLBCTL" lb apply -f "$CFG" || fail "apply"

CID_W1=280a13a1b2c3d4e5f6			# web config 1: web1 worker 3
CID_W2=280a25a1b2c3d4e5f6			# web config 1: web2 worker 5
enc() { "$QLBCTL" cid encode --config-id 1 --server-id "$1" --nonce-len 5 \
	--nonce 0102030405 --key $API_KEY || fail "cid encode"; }
CID_A1=$(enc 0b0000)				# api config 1: api1
CID_A2=$(enc 0c0000)				# api config 1: web2
PAY=00112233445566778899aabbccddeeff0011

capture_start "$L_DIR/cap.pcap"
send $VIP4 "41${CID_W1}${PAY}" 443 3		# web: 3 to web1
send $VIP4 "41${CID_W2}${PAY}" 443 2		# web: 2 to web2
send $VIP6 "41${CID_W1}${PAY}" 443 1		# web: 1 to web1 (IPv6 VIP)
for i in 1 2 3 4; do				# web: 4 Initials
	send $VIP4 "$(initial_hex 0123456789abcd0$i)"
done
send $VIP_API "41${CID_A1}${PAY}" 443 5		# api: 5 to api1
send $VIP4 "41${CID_A2}${PAY}" 8443 2		# api: 2 to web2 (web's address, api's port)
for i in 1 2 3; do				# api: 3 Initials
	send $VIP_API "$(initial_hex 0123456789abce0$i)"
done
# a web CID at api's VIP: api's key makes garbage of it, api's fallback
send $VIP_API "41${CID_W1}${PAY}" 443 1
capture_stop "$L_DIR/cap.pcap" 42	# 21 sent, 21 encapsulated

lexec "$QLBCTL" lb stats -f "$CFG"
lexec "$QLBCTL" lb status -f "$CFG"
lexec "$QLBCTL" -j lb stats -f "$CFG" >"$L_DIR/stats.json" || fail "lb stats -j"
lexec "$QLBCTL" -j lb status -f "$CFG" >"$L_DIR/status.json" || fail "lb status -j"
lexec "$QLBCTL" -j lb status --pin-dir "$L_PIN" >"$L_DIR/status-nofile.json" || fail "lb status -j --pin-dir"
# a file that is not what the node holds (services in the other order):
# indexes, and a word on stderr
svc_yaml "$L_DIR/swapped.yaml" "$SVC_API" "$SVC_WEB"
lexec "$QLBCTL" -j lb status -f "$L_DIR/swapped.yaml" >"$L_DIR/status-swapped.json" 2>"$L_DIR/swapped.err" ||
	fail "lb status -j -f swapped.yaml"
grep -q 'does not describe what the LB node holds' "$L_DIR/swapped.err" ||
	fail "no word about a file that does not match the node: $(cat "$L_DIR/swapped.err")"
lexec "$QLBCTL" lb metrics -f "$CFG" >"$L_DIR/lb.prom" || fail "lb metrics"
lexec "$QLBCTL" lb stats -f "$CFG" >"$L_DIR/stats.txt" || fail "lb stats"
lexec "$QLBCTL" lb status -f "$CFG" >"$L_DIR/status.txt" || fail "lb status"

grep -q '^SERVICE  *REASON' "$L_DIR/stats.txt" &&
	grep -q '^api/web2  ' "$L_DIR/stats.txt" && grep -q '^web/1  ' "$L_DIR/stats.txt" ||
	fail "lb stats: no per-service, member or SERVICE/ID config lines"
grep -q '^service     web (index 0)$' "$L_DIR/status.txt" &&
	grep -q '^service     api (index 1)$' "$L_DIR/status.txt" ||
	fail "lb status: no service blocks"
grep -q '^  198.18.1.2  .*NOT ANNOUNCED: .* (service api, port 443)$' "$L_DIR/status.txt" &&
	grep -q '^  198.18.1.1  .*NOT ANNOUNCED: .* (service api, port 8443)$' "$L_DIR/status.txt" ||
	fail "lb status: the announcement lines do not name the VIPs' services"

python3 - "$L_DIR" "$LB_MAC" <<'EOF' || fail "per-service views disagree with the wire or each other"
import collections, json, re, socket, struct, sys
d, lb_mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', ''))
bad = 0
def err(m):
    global bad
    print('FAIL:', m); bad += 1

# ---- the wire: (outer destination, inner destination, inner port) --------
VIP4, VIP6, VIPA = '198.18.1.1', '2001:db8:1::1', '198.18.1.2'
HOSTS = {'198.18.0.21': 'web1', '198.18.0.22': 'web2', '198.18.0.23': 'api1'}
def service_of(dst, port):
    if (dst, port) in ((VIP4, 443), (VIP6, 443)):
        return 'web'
    if (dst, port) in ((VIPA, 443), (VIP4, 8443)):
        return 'api'
    return None
def ip(b, off, v6):
    return socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, b[off:off + (16 if v6 else 4)])
def inner(b, off, v6):
    if v6:
        return ip(b, off + 24, True), struct.unpack('!H', b[off + 42:off + 44])[0]
    ihl = (b[off] & 15) * 4
    return ip(b, off + 16, False), struct.unpack('!H', b[off + ihl + 2:off + ihl + 4])[0]
raw = open(f'{d}/cap.pcap', 'rb').read()
off, wire = 24, collections.Counter()
while off + 16 <= len(raw):
    incl = struct.unpack('<I', raw[off + 8:off + 12])[0]
    f = raw[off + 16:off + 16 + incl]
    off += 16 + incl
    if f[6:12] != lb_mac:
        continue
    et = struct.unpack('!H', f[12:14])[0]
    if et == 0x0800:
        ihl, proto, odst, nxt = (f[14] & 15) * 4, f[23], ip(f, 30, False), None
        nxt = 14 + ihl
    elif et == 0x86dd:
        proto, odst, nxt = f[20], ip(f, 38, True), 54
    else:
        continue
    if proto == 17:			# GUE, direct: UDP then the inner packet
        nxt += 8
    elif proto not in (4, 41):
        continue
    idst, iport = inner(f, nxt, (f[nxt] >> 4) == 6)
    svc = service_of(idst, iport)
    host = HOSTS.get(odst)
    if not svc or not host:
        err(f'frame to {odst} for {idst}:{iport}: not a VIP of a service or not a host')
        continue
    wire[(svc, host)] += 1
print('wire (service, host): frames', dict(wire))
for (svc, host), n in wire.items():
    if (svc, host) not in {('web', 'web1'), ('web', 'web2'), ('api', 'api1'), ('api', 'web2')}:
        err(f'{n} frame(s) of service {svc} went to {host}, which does not serve it')
if sum(v for (s, _), v in wire.items() if s == 'web') != 10 or \
   sum(v for (s, _), v in wire.items() if s == 'api') != 11:
    err('expected 10 frames of web and 11 of api on the wire')

# ---- lb stats -j ---------------------------------------------------------
S = json.load(open(f'{d}/stats.json'))
if not S.get('service_names') or [s['service'] for s in S['services']] != ['web', 'api']:
    err(f'stats services: {[s["service"] for s in S["services"]]}')
vips = {v['vip']: v for v in S['vips'] if v['vip']}
want_vip = {'198.18.1.1:443': ('web', {'routed_cid': 5, 'fallback_initial': 4}),
            '[2001:db8:1::1]:443': ('web', {'routed_cid': 1}),
            '198.18.1.2:443': ('api', {'routed_cid': 5, 'fallback_initial': 3}),
            '198.18.1.1:8443': ('api', {'routed_cid': 2})}
for name, (svc, reasons) in want_vip.items():
    v = vips.get(name)
    if not v:
        err(f'no VIP row {name}'); continue
    if v['service'] != svc:
        err(f'{name}: service {v["service"]}, want {svc}')
    for r, n in reasons.items():
        if v['reasons'][r]['packets'] != n:
            err(f'{name} {r}: {v["reasons"][r]["packets"]}, want {n}')
# the web CID at api's VIP: one packet, not routed, counted by api's VIP
a = vips['198.18.1.2:443']['reasons']
if sum(c['packets'] for r, c in a.items() if r.startswith('fallback_') and r != 'fallback_initial') != 1:
    err(f'api VIP: the foreign CID is not one fallback: {a}')
svc = {s['service']: s for s in S['services']}
for s in svc.values():
    for r, c in s['reasons'].items():
        n = sum(vips[v]['reasons'][r]['packets'] for v in s['vips'])
        if c['packets'] != n:
            err(f'service {s["service"]} {r}: {c["packets"]}, its VIPs {n}')
for name, routed, init, tx in (('web', 6, 4, 10), ('api', 7, 3, 11)):
    r = svc[name]['reasons']
    if (r['routed_cid']['packets'], r['fallback_initial']['packets']) != (routed, init):
        err(f'service {name}: routed_cid {r["routed_cid"]["packets"]}, fallback_initial '
            f'{r["fallback_initial"]["packets"]}, want {routed} and {init}')
    members = {m['host']: m['packets'] for m in svc[name]['members']}
    for (sv, host), n in wire.items():
        if sv == name and members.get(host) != n:
            err(f'member {name}/{host}: {members.get(host)} packets, {n} frames on the wire')
    if sum(members.values()) != tx:
        err(f'service {name}: members counted {sum(members.values())}, want {tx}')
    cf = {c['config']: c['routed_packets'] for c in svc[name]['configs']}
    if cf.get(1) != routed:
        err(f'service {name} config 1 routed {cf.get(1)}, want {routed}')
top_cfg = {(c['service'], c['config']): c['routed_packets'] for c in S['configs']}
if top_cfg != {('web', 1): 6, ('api', 1): 7}:
    err(f'configs: {top_cfg}')
hosts = {h['host']: h['packets'] for h in S['hosts']}
for h, n in hosts.items():
    ms = sum(m['packets'] for s in S['services'] for m in s['members'] if m['host'] == h)
    if ms != n:
        err(f'host {h}: {n} packets, its members {ms}')
if sorted(hosts) != ['api1', 'web1', 'web2']:
    err(f'hosts: {sorted(hosts)}')

# ---- lb status -j --------------------------------------------------------
T = json.load(open(f'{d}/status.json'))
ts = {s['name']: s for s in T['services']}
if list(ts) != ['web', 'api'] or [s['index'] for s in T['services']] != [0, 1]:
    err(f'status services {list(ts)}')
else:
    for name, vl, ml in (('web', ['198.18.1.1:443', '[2001:db8:1::1]:443'], ['web1', 'web2']),
                         ('api', ['198.18.1.1:8443', '198.18.1.2:443'], ['api1', 'web2'])):
        s = ts[name]
        if sorted(s['vips']) != sorted(vl):
            err(f'status {name} vips {s["vips"]}')
        if sorted(m['name'] for m in s['members']) != ml or \
           any(m['state'] != 'active' for m in s['members']):
            err(f'status {name} members {s["members"]}')
        if [(c['id'], c['state']) for c in s['configs']] != [(1, 'active')]:
            err(f'status {name} configs {s["configs"]}')
    if ts['api']['configs'][0]['server_id_len'] != 3 or not ts['api']['configs'][0]['encrypted'] or \
       ts['web']['configs'][0]['server_id_len'] != 2 or ts['web']['configs'][0]['encrypted']:
        err('status: the services\' config 1 are not their own')
if sorted((h['service'], h['name']) for h in T['hosts']) != \
   [('api', 'api1'), ('api', 'web2'), ('web', 'web1'), ('web', 'web2')]:
    err(f'status hosts (members) {T["hosts"]}')
ann = sorted((v['address'], v['port'], v['service']) for v in T['announce']['vips'])
if ann != [('198.18.1.1', 443, 'web'), ('198.18.1.1', 8443, 'api'), ('198.18.1.2', 443, 'api'),
           ('2001:db8:1::1', 443, 'web')]:
    err(f'status announce vips: {ann}')
for f in ('status-nofile', 'status-swapped'):
    N = json.load(open(f'{d}/{f}.json'))
    if N.get('service_names') or [s['name'] for s in N['services']] != ['0', '1']:
        err(f'{f}: services {[s["name"] for s in N["services"]]}, want by index')

# ---- lb metrics ----------------------------------------------------------
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
helps, types, seen, M, cur = collections.Counter(), collections.Counter(), set(), {}, None
done = set()
for l in open(f'{d}/lb.prom'):
    l = l.rstrip('\n')
    if l.startswith('# HELP ') or l.startswith('# TYPE '):
        n = l.split()[2]
        (helps if l[2] == 'H' else types)[n] += 1
        continue
    m = line_re.match(l)
    if not m:
        err(f'not a sample line: {l!r}'); continue
    n = m.group(1)
    if n != cur:
        if n in done:
            err(f'{n}: samples not contiguous')
        if cur:
            done.add(cur)
        cur = n
    if types[n] != 1:
        err(f'{n}: sample before its TYPE')
    lab = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or '')))
    if (n, lab) in seen:
        err(f'series twice: {n} {lab}')
    seen.add((n, lab))
    M[(n, lab)] = float(m.group(3))
for n in set(helps) | set(types):
    if helps[n] != 1 or types[n] != 1:
        err(f'{n}: {helps[n]} HELP and {types[n]} TYPE lines')
def mv(n, **kw):
    return M.get((n, tuple(sorted(kw.items()))))
for name, (sv, reasons) in want_vip.items():
    for r, n in reasons.items():
        if mv('qlb_lb_packets_total', vip=name, service=sv, reason=r, action='tx') != n:
            err(f'metric {name} {sv} {r}: {mv("qlb_lb_packets_total", vip=name, service=sv, reason=r, action="tx")}')
for s in S['services']:
    for r, c in s['reasons'].items():
        for fam, k in (('qlb_lb_service_packets_total', 'packets'), ('qlb_lb_service_bytes_total', 'bytes')):
            got = [v for (n, lab), v in M.items() if n == fam and dict(lab)['service'] == s['service']
                   and dict(lab)['reason'] == r]
            if got != [c[k]]:
                err(f'{fam} {s["service"]} {r}: {got}, stats {c[k]}')
    for m in s['members']:
        if mv('qlb_lb_member_packets_total', service=s['service'], host=m['host']) != m['packets']:
            err(f'member metric {s["service"]}/{m["host"]}')
    for c in s['configs']:
        if mv('qlb_lb_config_routed_packets_total', service=s['service'], config=str(c['config'])) != c['routed_packets']:
            err(f'config metric {s["service"]}/{c["config"]}')
    if mv('qlb_lb_config_live', service=s['service'], config='1') != 1 or \
       mv('qlb_lb_config_live', service=s['service'], config='2') != 0:
        err(f'qlb_lb_config_live of {s["service"]}')
for h, n in hosts.items():
    if mv('qlb_lb_host_packets_total', host=h) != n:
        err(f'host metric {h}')
# the announcement (lb.announce is set; nothing announces here: no lb run)
for a, p, sv in (('198.18.1.2', '443', 'api'), ('198.18.1.1', '8443', 'api'), ('198.18.1.1', '443', 'web')):
    if mv('qlb_lb_vip_announced', vip=a, port=p, service=sv) != 0:
        err(f'qlb_lb_vip_announced of {a}:{p} ({sv})')
print(f'metrics: {len(M)} samples, {len(helps)} families')
sys.exit(1 if bad else 0)
EOF

lexec "$QLBCTL" lb detach --pin-dir "$L_PIN" || fail "detach"
log PASS
