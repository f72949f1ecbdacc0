#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Health checking per service (tests/lib/health.sh, two of its hosts): two
# services behind one LB node, both served by both hosts,
#   web: 198.18.100.1:443,  [2001:db8:100::1]:443
#   api: 198.18.100.2:8443, [2001:db8:100::2]:8443
#   h1 (GUE, outer IPv4), h4 (IP6IP6, outer IPv6)
# Each host runs one qlb-echo generation per service ([::]:443 is web's
# group, [::]:8443 api's). `lb run` probes the four members (service,
# host) once each per interval, naming the service. Then:
#   1. h1's api workers SIGKILLed: api/h1 unhealthy (its responder says
#      why), web/h1 stays healthy; h1 leaves api's tables only; api's VIPs
#      stay announced (h4 still serves it). A probe as an LB node of
#      before services sends it (no service named) is answered for the
#      service of the VIP it went to: down at api's, ok at web's.
#   2. h4's api workers SIGKILLed too: no api member is healthy: api fails
#      open and its VIPs are withdrawn; web's stay announced, web's
#      members healthy, web does not fail open.
#   3. h1's api workers back: api/h1 healthy, fail-open over, api's VIPs
#      announced again; web never moved (no web transition logged).
#   4. SIGHUP with h4 taken out of api in the file: api/h4 leaves the
#      view, every other member keeps its health and history.
# Status (-j and text), metrics and the log name the service throughout.
# Once the data path routes per service (ctl/lb_fill.c), `trace --health`
# shows where each service's Initials go in each phase.
HC_TAG=hsvc
HC_HOSTS="h1 h4"
source "$(dirname "$0")/../lib/health.sh"

API4=198.18.100.2
API6=2001:db8:100::2
APORT=8443

# The fleet part of every file: hosts and the two services.
hs_fleet_yaml() {
	cat <<EOF
$(yaml_quic_lb_cfg1)
hosts:
  - name: h1
    address: 198.18.31.2
    server_id: "1000"
    encap: gue
  - name: h4
    address: "2001:db8:34::2"
    server_id: "4000"
    encap: ipip
services:
  - name: web
    vips:
      - address: $VIP4
        port: $PORT
      - address: "$VIP6"
        port: $PORT
    hosts: [h1, h4]
  - name: api
    vips:
      - address: $API4
        port: $APORT
      - address: "$API6"
        port: $APORT
    hosts: [h1, h4]
EOF
}

hs_write_files() {
	local n mac
	mac=$(ip -n "$(hc_ns h1)" -br link show eth0 | awk '{print $3}')
	{
		hs_fleet_yaml
		cat <<EOF
lb:
  interface: l1
  xdp_mode: generic
  gateway_mac: "$mac"
  encap_source_v4: 198.18.39.1
  encap_source_v6: "2001:db8:39::1"
  pin_dir: $HC_PIN/lb
  health:
    interval_ms: $HC_INTERVAL
    timeout_ms: $HC_TIMEOUT
    rise: $HC_RISE
    fall: $HC_FALL
EOF
	} >"$HC_DIR/lb.yaml"
	for n in "${HC_HOSTS[@]}"; do
		{
			hs_fleet_yaml
			cat <<EOF
host:
  name: $n
  interface: eth0
  agent_socket: $HC_DIR/$n.sock
  pin_dir: $HC_PIN/$n
  allow_uids: [0]
  lb_sources: [198.18.39.1, "2001:db8:39::1"]
EOF
		} >"$HC_DIR/$n.yaml"
	done
}

# hs_echo_start HOST PORT GEN: two qlb-echo workers on [::]:PORT.
hs_echo_start() {
	local n=$1 port=$2 g=$3 k=$1-$2 i
	: >"$HC_DIR/echo-$k.log"
	nsenter --net=/run/netns/"$(hc_ns "$n")" "$ECHO" --agent "$HC_DIR/$n.sock" \
		--workers 2 --generation "$g" :: "$port" >"$HC_DIR/echo-$k.log" 2>&1 &
	HC_ECHO[$k]=$!
	for i in $(seq 1 100); do
		[ "$(grep -c ' ready$' "$HC_DIR/echo-$k.log")" -ge 2 ] && return 0
		kill -0 "${HC_ECHO[$k]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$HC_DIR/echo-$k.log" "$HC_DIR/agent-$n.log"
	fail "qlb-echo on $n port $port did not get ready"
}

# hs_snap: take the node's status (`lb status -j`) once; hs_field and
# hs_svc read that snapshot (a status call is slow on a loaded machine).
hs_snap() { hc_status >"$HC_DIR/status.json"; }

# hs_field SERVICE HOST FIELD: a field of the member in the snapshot.
hs_field() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[4]))
for h in j["health"]["hosts"]:
    if h["service"] == sys.argv[1] and h["name"] == sys.argv[2]:
        print(h[sys.argv[3]])
' "$1" "$2" "$3" "$HC_DIR/status.json"
}

# hs_svc SERVICE FIELD: a field of the service in the snapshot.
hs_svc() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[3]))
for s in j["health"]["services"]:
    if s["name"] == sys.argv[1]:
        print(s[sys.argv[2]])
' "$1" "$2" "$HC_DIR/status.json"
}

# hs_wait SERVICE HOST HEALTH SECONDS (leaves a fresh snapshot)
hs_wait() {
	local deadline=$((SECONDS + $4)) i
	for i in $(seq 1 1000); do
		hs_snap
		[ "$(hs_field "$1" "$2" health 2>/dev/null)" = "$3" ] && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.05
	done
	cat "$HC_DIR/status.json"
	fail "$1/$2 did not become $3 within $4 s"
}

# announced ADDR...: how many of the addresses have a route in qlb's table
# (blackhole routes, as announce.c writes them)
announced() {
	local routes a n=0
	routes=$({
		hc_in lb ip -4 route show table 4242 proto 242
		hc_in lb ip -6 route show table 4242 proto 242
	} | sed 's/^blackhole //' | awk '{print $1}' | sed 's,/.*,,')
	for a in "$@"; do
		grep -qx "$a" <<<"$routes" && n=$((n + 1))
	done
	echo "$n"
}

# hs_wait_announced COUNT SECONDS ADDR...
hs_wait_announced() {
	local want=$1 deadline=$((SECONDS + $2)) i
	shift 2
	for i in $(seq 1 1000); do
		[ "$(announced "$@")" = "$want" ] && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.05
	done
	return 1
}

# Whether the data path routes by service yet: `trace` names the service.
per_service_trace() {
	python3 tests/tools/qlb-mkpcap.py "$HC_DIR/one.pcap" --initials 1 \
		--vip4 "$API4" --vip6 "$API6" --port $APORT >/dev/null 2>&1 &&
		hc_in lb "$QLBCTL" -j trace --health -f "$HC_DIR/lb.yaml" "$HC_DIR/one.pcap" 2>/dev/null |
		grep -q '"service"'
}


# old_probe HOST_ADDR VIP NAME: a probe as an LB node of before services
# sends it (no service named; GUE from the encap source), answered by the
# host's responder; prints "STATUS FLAGS" of the answer.
old_probe() {
	hc_in lb python3 - "$@" <<'PY'
import os, socket, struct, sys
host, vip, name = sys.argv[1:4]
src = "198.18.39.1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(2)
sport = s.getsockname()[1]
nonce = os.urandom(16)
# struct qlb_hp_msg: magic, version 1, type PROBE, status, flags 0,
# nonce, ngroups, nbad, service 0, host
msg = struct.pack("!IBBBB16sHHI64s", 0x514C4248, 1, 1, 0, 0, nonce, 0, 0, 0,
                  name.encode())
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF
sa, da = socket.inet_aton(src), socket.inet_aton(vip)
ulen = 8 + len(msg)
udp = struct.pack("!HHHH", sport, 6070, ulen, 0) + msg
c = csum(sa + da + struct.pack("!BBH", 0, 17, ulen) + udp) or 0xFFFF
udp = udp[:6] + struct.pack("!H", c) + udp[8:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0x4000, 64, 17, 0, sa, da)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
s.sendto(ip + udp, (host, 6080))
while True:
    b, frm = s.recvfrom(512)
    if len(b) != len(msg) or b[8:24] != nonce:
        continue
    print(b[6], b[7], frm[0])
    break
PY
}

hc_net_up
for n in "${HC_HOSTS[@]}"; do
	hc_in "$n" ip addr add "$API4/32" dev lo
	hc_in "$n" ip addr add "$API6/128" dev lo nodad
done
hs_write_files
hc_in lb "$QLBCTL" validate -f "$HC_DIR/lb.yaml" >/dev/null || fail "lb.yaml does not validate"
for n in "${HC_HOSTS[@]}"; do
	hc_agent_start "$n"
	hs_echo_start "$n" $PORT 1
	hs_echo_start "$n" $APORT 1
done
hc_run_start
grep -q "probing 4 members (2 hosts in 2 services)" "$HC_DIR/lbrun.log" ||
	fail "lb run does not probe the four members: $(grep probing "$HC_DIR/lbrun.log")"

log "waiting for the four members to answer"
for s in web api; do
	for n in h1 h4; do
		hs_wait $s $n healthy 5
		[ "$(hs_field $s $n last_probe)" = ok ] || fail "$s/$n: last probe $(hs_field $s $n last_probe)"
		[ "$(hs_field $s $n answered_for)" = service ] ||
			fail "$s/$n: the answer spoke for the $(hs_field $s $n answered_for), not the service"
	done
done
hc_in lb "$QLBCTL" lb status -f "$HC_DIR/lb.yaml" | sed -n '/^health/,$p'
hs_wait_announced 4 3 "$VIP4" "$VIP6" "$API4" "$API6" || fail "not every VIP announced: $(announced "$VIP4" "$VIP6" "$API4" "$API6") of 4"
# the probe load: one probe per member per interval, each member at the
# same pace (probes of one host's two services are not merged nor doubled)
hs_snap
sent=$(python3 -c '
import json, sys
print(" ".join(str(h["probes_sent"]) for h in json.load(open(sys.argv[1]))["health"]["hosts"]))' "$HC_DIR/status.json")
log "probes sent per member so far: $sent"
python3 -c 'import sys; v = [int(x) for x in sys.argv[1:]]; sys.exit(0 if max(v) - min(v) <= 3 else 1)' $sent ||
	fail "members probed at different paces: $sent"

TRACE=0
if per_service_trace; then
	TRACE=1
	log "the data path routes per service: checking traces too"
else
	log "trace does not name services yet: checking the health view and announcement only"
fi

log "1. h1's api workers SIGKILLed"
hc_mark
t0=$(date +%s.%N)
hc_kill_echo h1-$APORT
hs_wait api h1 unhealthy 5
grep -q "service api: host h1: healthy -> unhealthy" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") ||
	fail "api/h1 transition not logged with its service"
t1=$(hc_log_time h1 healthy unhealthy) || fail "api/h1 transition not logged"
lp=$(hs_field api h1 last_probe)
log "api/h1 unhealthy after $(hc_since "$t0" "$t1") s (last probe: $lp); web/h1: $(hs_field web h1 health)"
case $lp in no_live_socket | no_vip_socket) ;;
*) fail "api/h1: last probe $lp, expected no_live_socket or no_vip_socket" ;; esac
[ "$(hs_field api h1 effective)" = down ] || fail "api/h1 effective $(hs_field api h1 effective)"
[ "$(hs_field web h1 health)" = healthy ] || fail "web/h1 must stay healthy"
[ "$(hs_field web h1 effective)" = active ] || fail "web/h1 effective $(hs_field web h1 effective)"
[ "$(hs_field web h1 last_probe)" = ok ] || fail "web/h1 last probe $(hs_field web h1 last_probe)"
[ "$(hs_svc api fail_open)" = False ] || fail "api has h4: it must not fail open"
sleep 0.5
[ "$(announced "$API4" "$API6")" = 2 ] || fail "api's VIPs withdrawn though h4 serves api"
[ "$(announced "$VIP4" "$VIP6")" = 2 ] || fail "web's VIPs withdrawn"
hc_in lb "$QLBCTL" lb metrics -f "$HC_DIR/lb.yaml" >"$HC_DIR/m1.prom"
grep -q '^qlb_lb_host_healthy{host="h1",service="api"} 0$' "$HC_DIR/m1.prom" ||
	fail "metrics: api/h1 not unhealthy: $(grep qlb_lb_host_healthy "$HC_DIR/m1.prom")"
grep -q '^qlb_lb_host_healthy{host="h1",service="web"} 1$' "$HC_DIR/m1.prom" ||
	fail "metrics: web/h1 not healthy"
# an LB node of before services: its probe names no service; the
# responder answers for the service of the VIP it went to (the address
# names one here), without claiming the verdict is per service
a=$(old_probe 198.18.31.2 "$API4" h1) || fail "no answer to a probe without a service at api's VIP"
log "a probe without a service to h1 at api's VIP: status flags from = $a"
read -r st fl from <<<"$a"
case $st in 3 | 4) ;; *) fail "h1 at api's VIP: status $st, expected no_vip_socket or no_live_socket" ;; esac
[ "$fl" = 0 ] && [ "$from" = "$API4" ] || fail "h1 at api's VIP: flags $fl from $from"
a=$(old_probe 198.18.31.2 "$VIP4" h1) || fail "no answer to a probe without a service at web's VIP"
log "a probe without a service to h1 at web's VIP: status flags from = $a"
[ "${a%% *}" = 0 ] || fail "h1 at web's VIP: status ${a%% *}, expected ok"
if [ $TRACE = 1 ]; then
	got=$(hc_trace_hosts 200 "$API4" "$API6" $APORT) || fail "trace --health failed"
	log "api Initials with api/h1 unhealthy: $got"
	[ "$got" = "h4=200" ] || fail "api's new flows must all go to h4, got: $got"
	got=$(hc_trace_hosts 200 "$VIP4" "$VIP6" $PORT) || fail "trace --health failed"
	log "web Initials: $got"
	case $got in *h1=*h4=*) ;; *) fail "web must keep both hosts: $got" ;; esac
fi

log "2. h4's api workers SIGKILLed too: no api member healthy"
hc_mark
hc_kill_echo h4-$APORT
hs_wait api h4 unhealthy 5
for i in $(seq 1 40); do
	hs_snap
	[ "$(hs_svc api fail_open)" = True ] && break
	sleep 0.05
done
[ "$(hs_svc api fail_open)" = True ] || fail "api does not fail open"
[ "$(hs_svc web fail_open)" = False ] || fail "web fails open though its members are healthy"
grep -q "service api: FAIL OPEN" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") ||
	fail "api's fail-open not logged with its service"
hs_wait_announced 0 2 "$API4" "$API6" || fail "api's VIPs still announced with no api member healthy"
grep -q "service api: VIPs withdrawn" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") ||
	fail "api's withdrawal not logged with its service"
[ "$(announced "$VIP4" "$VIP6")" = 2 ] || fail "web's VIPs withdrawn with api's"
hs_snap
for n in h1 h4; do
	[ "$(hs_field web $n health)" = healthy ] || fail "web/$n $(hs_field web $n health)"
	[ "$(hs_field api $n effective)" = active ] || fail "api failing open: api/$n must be active"
done
hc_in lb "$QLBCTL" lb status -f "$HC_DIR/lb.yaml" | tee "$HC_DIR/status2.txt" | sed -n '/^health/,$p'
grep -q "^FAIL OPEN: service api:" "$HC_DIR/status2.txt" || fail "lb status does not say api fails open"
grep -q "FAIL OPEN: service web" "$HC_DIR/status2.txt" && fail "lb status says web fails open"
hc_in lb "$QLBCTL" lb metrics -f "$HC_DIR/lb.yaml" >"$HC_DIR/m2.prom"
grep -q '^qlb_lb_health_fail_open{service="api"} 1$' "$HC_DIR/m2.prom" || fail "metric: api not failing open"
grep -q '^qlb_lb_health_fail_open{service="web"} 0$' "$HC_DIR/m2.prom" || fail "metric: web failing open"
if [ $TRACE = 1 ]; then
	got=$(hc_trace_hosts 200 "$API4" "$API6" $APORT) || fail "trace --health failed"
	log "api Initials while api fails open: $got"
	case $got in *h1=*h4=*) ;; *) fail "api failing open must spread over both: $got" ;; esac
fi

log "3. h1's api workers back"
hc_mark
hs_echo_start h1 $APORT 2
hs_wait api h1 healthy 5
grep -q "service api: fail-open over" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") ||
	fail "end of api's fail-open not logged"
hs_wait_announced 2 2 "$API4" "$API6" || fail "api's VIPs not announced again"
[ "$(hs_field api h1 effective)" = active ] || fail "api/h1 effective $(hs_field api h1 effective)"
[ "$(hs_field api h4 effective)" = down ] || fail "api/h4 effective $(hs_field api h4 effective)"
if [ $TRACE = 1 ]; then
	got=$(hc_trace_hosts 200 "$API4" "$API6" $APORT) || fail "trace --health failed"
	log "api Initials with api/h1 back, api/h4 unhealthy: $got"
	[ "$got" = "h1=200" ] || fail "api's new flows must all go to h1, got: $got"
fi

# web never moved: no web transition, no web announcement change logged
grep -q "service web: host" "$HC_DIR/lbrun.log" && fail "a web member changed: $(grep 'service web: host' "$HC_DIR/lbrun.log")"
[ "$(grep -c 'service web: VIPs' "$HC_DIR/lbrun.log")" = 1 ] ||
	fail "web's announcement changed: $(grep 'service web: VIPs' "$HC_DIR/lbrun.log")"
hs_snap
for n in h1 h4; do
	[ "$(hs_field web $n transitions)" = 0 ] || fail "web/$n transitions $(hs_field web $n transitions)"
done

log "SIGHUP with h4 out of api in the file: api/h4 leaves the view, the rest keeps its health"
python3 - "$HC_DIR/lb.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
i = s.index("  - name: api")
s = s[:i] + s[i:].replace("hosts: [h1, h4]", "hosts: [h1]", 1)
open(p, "w").write(s)
PY
hc_mark
kill -HUP "$HC_RUN"
for i in $(seq 1 50); do
	grep -q "reloaded" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") && break
	sleep 0.1
done
grep -q "reloaded .*2 services, 3 members" <(tail -n +"$((HC_MARK + 1))" "$HC_DIR/lbrun.log") ||
	fail "no reload to 3 members logged: $(tail -n 3 "$HC_DIR/lbrun.log")"
hs_snap
members=$(python3 -c '
import json, sys
print(" ".join(sorted("%s/%s" % (h["service"], h["name"]) for h in json.load(open(sys.argv[1]))["health"]["hosts"])))' "$HC_DIR/status.json")
[ "$members" = "api/h1 web/h1 web/h4" ] || fail "view after the reload: $members"
[ "$(hs_field api h1 health)" = healthy ] && [ "$(hs_field web h4 health)" = healthy ] ||
	fail "health lost on reload"
[ "$(hs_field api h1 transitions)" -ge 2 ] || fail "api/h1's history lost on reload"
[ "$(announced "$API4" "$API6" "$VIP4" "$VIP6")" = 4 ] || fail "VIPs not all announced after the reload"

log "SIGTERM: lb run exits cleanly"
kill -TERM "$HC_RUN"
for i in $(seq 1 50); do kill -0 "$HC_RUN" 2>/dev/null || break; sleep 0.1; done
kill -0 "$HC_RUN" 2>/dev/null && fail "lb run did not exit on SIGTERM"
wait "$HC_RUN"
rc=$?
HC_RUN=
[ $rc = 0 ] || fail "lb run exited $rc"
log "PASS"
