#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Services: two services behind one LB node, "web" (VIPs 198.18.100.1:443
# and [2001:db8:100::1]:443) and "api" (VIP 198.18.100.2:443), each with
# its own QUIC-LB config 1 under a key of its own, served by overlapping
# hosts: h1 serves web, h2 both, h3 api. A qlb-h3server per socket group:
# bound to 198.18.100.1 (web), to 198.18.100.2 (api), and to "::" (web:
# the one service with an IPv6 VIP on port 443). With Debian's unmodified
# gtlsclient through every VIP:
#  - every answer comes from a host of the VIP's service, and its CID
#    decodes under that service's key (and only there) to the answering
#    host's server ID in that service and its worker; h2 answers for both;
#  - downloads through both VIPs, one after the other and at once, arrive
#    byte-exact;
#  - the LB node's per-member counters (`qlbctl lb stats -j`) grow only
#    for the members of the service the client talked to;
#  - a CID that web minted on h1 (a host outside api), sent to api's VIP,
#    never reaches h1: `qlbctl trace` on the LB node's file sends it to an
#    api host by api's fallback, and so do the live LB node's counters
#    for real packets; the same CID at web's VIP goes to h1;
#  - `qlbctl rotate --service api` (new, promote) rotates api's key alone:
#    web's entry stays byte for byte, an api download across it completes,
#    new api connections mint under api's config 2 and web's under its 1;
#  - `qlbctl lb run`'s health checks judge no member unhealthy while every
#    server runs; when api's server on h2 stops, (api, h2) alone is judged
#    unhealthy: api's requests all go to h3, web's still to h1 and h2;
#    when it starts again (generation 2), (api, h2) comes back.
# The fleet (client, router, one LB node, three hosts with agents) is built
# in network namespaces with tests/e2e/lib/fleet.sh and torn down on exit.
# SVC_LB_APPLY=1 applies the LB node's file with `qlbctl lb apply` instead
# of running `qlbctl lb run` (no health checks: that part is left out).
# Usage: BUILD=build tests/e2e/fleet_services.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/fleet.sh"

# shellcheck disable=SC2034 # read by lib/fleet.sh: one LB node
FLEET_LBS=(lb1)
FLEET_HOSTS=(h1 h2 h3)
WEB_VIP=$VIP4		# 198.18.100.1
API_VIP=198.18.100.2
declare -A KEY=()	# "service:config id" -> key (hex)
# the hosts of each service and their server IDs there (worker bits zero)
declare -A SVC_HOSTS=([web]="h1 h2" [api]="h2 h3")
# how the client reaches a service ("web6": web over its IPv6 VIP) and
# what its servers bind: web's IPv6 servers bind the wildcard "::", whose
# group is web's as the one service with an IPv6 VIP on that port
declare -A SVC_VIP=([web]=$WEB_VIP [web6]=$VIP6 [api]=$API_VIP)
declare -A SVC_BIND=([web]=$WEB_VIP [web6]=:: [api]=$API_VIP)
declare -A SVC_URLHOST=([web]=$WEB_VIP [web6]="[$VIP6]" [api]=$API_VIP)
declare -A SID=([web:h1]=1000 [web:h2]=2000 [api:h2]=2100 [api:h3]=3000)
N=3000000	# bytes of each download

fail() { e2e_fail "$*"; }

# The fleet file: a top-level quic_lb (required; no service uses it), the
# hosts without server IDs, and the two services with their own keys.
svc_write_fleet_yaml() {
	KEY[web:1]=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	KEY[api:1]=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	local top
	top=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	cat >"$FLEET_DIR/fleet.yaml" <<EOF
# qlb fleet with two services (made by tests/e2e/fleet_services.sh)
$(yaml_quic_lb_cfg1)
      key: $top
hosts:
  - name: h1
    address: 198.18.21.2
    encap: gue
  - name: h2
    address: 198.18.22.2
    encap: ipip
  - name: h3
    address: "2001:db8:23::2"   # outer IPv6 toward this host
    encap: gue
services:
  - name: web
    quic_lb:
      configs:
        - id: 1
          server_id_len: 2
          nonce_len: 6
          worker_bits: 4
          key: ${KEY[web:1]}
    vips:
      - address: $WEB_VIP
        port: $VIP_PORT
      - address: "$VIP6"
        port: $VIP_PORT
    hosts:
      - {name: h1, server_id: "${SID[web:h1]}"}
      - {name: h2, server_id: "${SID[web:h2]}"}
  - name: api
    quic_lb:
      configs:
        - id: 1                  # the same id as web's, another key
          server_id_len: 2
          nonce_len: 6
          worker_bits: 4
          key: ${KEY[api:1]}
    vips:
      - address: $API_VIP
        port: $VIP_PORT
    hosts:
      - {name: h2, server_id: "${SID[api:h2]}"}
      - {name: h3, server_id: "${SID[api:h3]}"}
EOF
}

svc_vips_yaml() {
	printf '  vips:\n'
	printf '    - {address: "%s", port: %s}\n' "$WEB_VIP" "$VIP_PORT" "$VIP6" "$VIP_PORT" \
		"$API_VIP" "$VIP_PORT"
}

# Each node's file: the fleet file plus its own section.
svc_distribute_files() {
	local n
	{
		cat "$FLEET_DIR/fleet.yaml"
		cat <<EOF
lb:
  interface: eth0
  xdp_mode: ${FLEET_XDP_MODE:-native}
  gateway_mac: "$(fleet_mac r-lb1)"
  encap_source_v4: 198.18.11.2
  encap_source_v6: "2001:db8:11::2"
  pin_dir: $FLEET_PIN/lb1
  mtu: 2000
  health:
    interval_ms: 300
    timeout_ms: 200
EOF
	} >"$FLEET_DIR/lb1.yaml"
	for n in "${FLEET_HOSTS[@]}"; do
		{
			cat "$FLEET_DIR/fleet.yaml"
			cat <<EOF
host:
  name: $n
  interface: eth0
  agent_socket: $FLEET_DIR/$n.sock
  pin_dir: $FLEET_PIN/$n
  workers: $FLEET_WORKERS
  allow_uids: [0]
  lb_sources: [198.18.11.2, "2001:db8:11::2"]
$(svc_vips_yaml)
EOF
		} >"$FLEET_DIR/$n.yaml"
	done
	for n in lb1 "${FLEET_HOSTS[@]}"; do
		"$QLBCTL" validate -f "$FLEET_DIR/$n.yaml" >"$FLEET_DIR/validate-$n.log" 2>&1 ||
			fail "$n's file is refused: $(cat "$FLEET_DIR/validate-$n.log")"
	done
}

# svc_distribute: after an edit of fleet.yaml, the LB node first, then the
# hosts' agents (SIGHUP).
svc_distribute() {
	local n
	svc_distribute_files
	if [ -n "$FLEET_LB_RUNNING" ]; then
		fleet_lb_run_reload lb1 || fail "qlbctl lb run did not take up the new file: $(tail -n 3 "$FLEET_DIR/lbrun-lb1.log")"
	else
		fleet_lb_apply lb1 || fail "qlbctl lb apply failed: $(tail -n 5 "$FLEET_DIR/lb-lb1.log")"
	fi
	for n in "${FLEET_HOSTS[@]}"; do
		kill -HUP "${FLEET_AGENT_PID[$n]}" 2>/dev/null
	done
}

# svc_section NAME: the text of service NAME's entry in fleet.yaml.
svc_section() {
	awk -v n="  - name: $1" '$0 == n { on = 1; print; next }
		on && /^  - name: / { on = 0 } on && /^[^ #]/ { on = 0 } on' "$FLEET_DIR/fleet.yaml"
}

# svc_server_start HOST WAY [GEN]: a qlb-h3server generation (default 1)
# on HOST bound to SVC_BIND[WAY] (its socket group then belongs to that
# address's service); log srv-HOST-WAY[-gGEN].log.
declare -A SVC_SRV_PID=()
svc_server_start() {
	local n=$1 k=$2 g=${3:-1} log=srv-$1-$2
	[ "$g" = 1 ] || log=$log-g$g
	e2e_bg "$log" "$(fleet_ns "$n")" "$H3SERVER" \
		--cert "$FLEET_DIR/cert.pem" --key "$FLEET_DIR/key.pem" \
		--agent "$FLEET_DIR/$n.sock" -w "$FLEET_WORKERS" -g "$g" \
		--drain-timeout 10 "${SVC_BIND[$k]}" "$VIP_PORT"
	SVC_SRV_PID[$n:$k]=$E2E_LAST_PID
}

# svc_get WAY OUTDIR PATH...: gtlsclient through SVC_VIP[WAY].
svc_get() {
	local k=$1 out=$2 uris=() p
	shift 2
	for p in "$@"; do uris+=("https://${SVC_URLHOST[$k]}:$VIP_PORT$p"); done
	e2e_get "$(fleet_ns cli)" "$out" 30 "${SVC_VIP[$k]}" "$VIP_PORT" "${uris[@]}" \
		>"$out.client.log" 2>&1
}

# svc_members: "service host packets" per member of the LB node, from
# `qlbctl -j lb stats`.
svc_members() {
	fleet_lb_stats_json lb1 2>"$FLEET_DIR/stats.err" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for s in d.get("services", []):
    for m in s.get("members", []):
        print(s.get("service"), m.get("host"), m.get("packets", 0))
'
}

# svc_cfgs: "service config routed_packets" per service and config.
svc_cfgs() {
	fleet_lb_stats_json lb1 2>"$FLEET_DIR/stats.err" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for s in d.get("services", []):
    for c in s.get("configs", []):
        print(s.get("service"), c.get("config"), c.get("routed_packets", 0))
'
}

# svc_delta BEFORE AFTER SVC HOST: packets of member (SVC, HOST) between
# two svc_members snapshots.
svc_delta() {
	local a b
	a=$(awk -v s="$3" -v h="$4" '$1 == s && $2 == h { print $3 }' <<<"$1")
	b=$(awk -v s="$3" -v h="$4" '$1 == s && $2 == h { print $3 }' <<<"$2")
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo missing
		return
	fi
	echo $((b - a))
}

# svc_check_only SVC BEFORE AFTER WHAT: the members of SVC grew, those of
# the other service did not.
svc_check_only() {
	local s=$1 o d n grew=0
	[ "$s" = web ] && o=api || o=web
	for n in ${SVC_HOSTS[$s]}; do
		d=$(svc_delta "$2" "$3" "$s" "$n")
		[ "$d" = missing ] && fail "lb stats has no member ($s, $n): $(cat "$FLEET_DIR/stats.err")
$3"
		grew=$((grew + d))
	done
	[ "$grew" -gt 0 ] || fail "$4: the members of $s counted no packet"
	for n in ${SVC_HOSTS[$o]}; do
		d=$(svc_delta "$2" "$3" "$o" "$n")
		[ "$d" = 0 ] || fail "$4: member ($o, $n) counted $d packets while the client talked to $s only"
	done
	e2e_log "  lb stats: the members of $s counted $grew packets, those of $o none"
}

# svc_check_whoami SVC FILE [CONFIG]: the answer is from a host of SVC,
# minted under CONFIG (default 1) of SVC, and its CID decodes under that
# config's key (not under the other service's config 1) to that host's
# server ID in SVC and the answering worker. Sets SVC_HOST to the host.
SVC_HOST=
svc_check_whoami() {
	local s=$1 f=$2 id=${3:-1} h w cid sid want o
	h=$(e2e_field "$f" host)
	w=$(e2e_field "$f" worker)
	cid=$(e2e_field "$f" cid)
	[[ " ${SVC_HOSTS[$s]} " == *" $h "* ]] ||
		fail "$s: answered by '$h', not a host of $s: $(cat "$f" 2>/dev/null)"
	[[ $w =~ ^[0-9]+$ && $cid =~ ^[0-9a-f]{18}$ ]] ||
		fail "$s: malformed answer: $(cat "$f")"
	[ "$(e2e_field "$f" config_id)" = "$id" ] ||
		fail "$s: minted under config $(e2e_field "$f" config_id), not $id: $(cat "$f")"
	[ "$s" = web ] && o=api || o=web
	sid=$("$QLBCTL" cid decode --server-id-len 2 --nonce-len 6 --key "${KEY[$s:$id]}" "$cid" |
		sed -n 's/.*server_id=\([0-9a-f]*\).*/\1/p')
	want=$(printf '%04x' $((0x${SID[$s:$h]} + w)))
	[ "$sid" = "$want" ] ||
		fail "$s: CID $cid from $h worker $w decodes under $s's config $id key to server ID '$sid', not $want"
	sid=$("$QLBCTL" cid decode --server-id-len 2 --nonce-len 6 --key "${KEY[$o:1]}" "$cid" |
		sed -n 's/.*server_id=\([0-9a-f]*\).*/\1/p')
	[ "$sid" != "$want" ] || fail "$s: CID $cid also decodes under $o's key"
	SVC_HOST=$h
}

# svc_requests WAY COUNT [CONFIG [PREFIX]]: COUNT /whoami through
# SVC_VIP[WAY] (each its own connection; answers in PREFIXreqN, PREFIX
# default WAY-), minted under CONFIG (default 1); every host of the
# service must answer at least one (COUNT more are tried, bounded, for a
# host not seen yet).
svc_requests() {
	local k=$1 s=${1%6} count=$2 id=${3:-1} pre=${4:-$1-} i seen=" " n
	for i in $(seq 1 $((2 * count))); do
		svc_get "$k" "$FLEET_DIR/${pre}req$i" /whoami ||
			fail "$k: request $i failed: $(tail -n 3 "$FLEET_DIR/${pre}req$i.client.log")"
		svc_check_whoami "$s" "$FLEET_DIR/${pre}req$i/whoami" "$id"
		[[ $seen == *" $SVC_HOST "* ]] || seen="$seen$SVC_HOST "
		if [ "$i" -ge "$count" ]; then
			local all=1
			for n in ${SVC_HOSTS[$s]}; do
				[[ $seen == *" $n "* ]] || all=0
			done
			[ $all = 1 ] && break
		fi
	done
	for n in ${SVC_HOSTS[$s]}; do
		[[ $seen == *" $n "* ]] || fail "$k: $i requests, none answered by $n (answered by:$seen)"
	done
	e2e_log "  $k: $i requests answered by ($seen); every CID decodes under $s's key only, to the answering host and worker"
}

# svc_bytes_ok FILE [BYTES]: exactly BYTES (default N) of the server's
# filler ('q').
svc_bytes_ok() {
	[ "$(e2e_size "$1")" = "${2:-$N}" ] && [ "$(tr -d q <"$1" | head -c 1 | wc -c)" = 0 ]
}

# ---- the fleet -------------------------------------------------------------
fleet_require_lb
e2e_init services
FLEET_P="qlbt-svc-$$"
FLEET_DIR=$E2E_TMP
FLEET_PIN=/sys/fs/bpf/$FLEET_P
E2E_CLEANUP_CMDS+=("fleet_detach_all")
E2E_RM_DIRS+=("$FLEET_PIN")
command -v python3 >/dev/null || e2e_skip "python3 not installed"

fleet_net_up
for n in "${FLEET_HOSTS[@]}"; do
	ip -n "$(fleet_ns "$n")" addr add "$API_VIP/32" dev lo
done
e2e_certs "$FLEET_DIR" qlb.test "$WEB_VIP" "$VIP6" "$API_VIP"
svc_write_fleet_yaml
svc_distribute_files
for n in "${FLEET_HOSTS[@]}"; do
	fleet_agent_start "$n"
done
# one server per socket group: h1 web (IPv4 VIP, "::"), h2 the same and
# api, h3 api
for n in "${FLEET_HOSTS[@]}"; do
	for k in web web6 api; do
		[[ " ${SVC_HOSTS[${k%6}]} " == *" $n "* ]] && svc_server_start "$n" "$k"
	done
done
for n in "${FLEET_HOSTS[@]}"; do
	for k in web web6 api; do
		[[ " ${SVC_HOSTS[${k%6}]} " == *" $n "* ]] || continue
		e2e_wait_log "$FLEET_DIR/srv-$n-$k.log" 'ready on' "$FLEET_WORKERS" 15 ||
			fail "the server bound to ${SVC_BIND[$k]} on $n did not start"
	done
done
if [ -n "${SVC_LB_APPLY:-}" ] || ! fleet_have_lb_run; then
	fleet_lb_apply lb1 || fail "qlbctl lb apply failed: $(tail -n 5 "$FLEET_DIR/lb-lb1.log")"
	e2e_log "LB node lb1: qlbctl lb apply"
else
	FLEET_LB_RUNNING=1
	fleet_lb_run_start lb1
	e2e_log "LB node lb1: qlbctl lb run: $(grep -m1 'applied ' "$FLEET_DIR/lbrun-lb1.log")"
fi
rtr=$(fleet_ns rtr)
ip -n "$rtr" route replace "$WEB_VIP/32" via 198.18.11.2
ip -n "$rtr" route replace "$API_VIP/32" via 198.18.11.2
ip -n "$rtr" -6 route replace "$VIP6/128" via 2001:db8:11::2
e2e_log "fleet up: web $WEB_VIP:$VIP_PORT and [$VIP6]:$VIP_PORT on h1 h2, api $API_VIP:$VIP_PORT on h2 h3 (config 1 each, own keys)"

# ---- each service alone: answers, CIDs, downloads, counters ----------------
for k in web web6 api; do
	s=${k%6}
	e2e_log "=== $s through ${SVC_URLHOST[$k]}:$VIP_PORT"
	before=$(svc_members)
	cbefore=$(svc_cfgs)
	svc_requests "$k" 8
	svc_get "$k" "$FLEET_DIR/$k-dl" /whoami "/bytes/$N" ||
		e2e_log "  (gtlsclient exited non-zero; judged by what it downloaded)"
	svc_bytes_ok "$FLEET_DIR/$k-dl/$N" ||
		fail "$k: download: $(e2e_size "$FLEET_DIR/$k-dl/$N") of $N bytes, or not the server's filler"
	svc_check_whoami "$s" "$FLEET_DIR/$k-dl/whoami"
	e2e_log "  $k: $N bytes byte-exact from $SVC_HOST"
	after=$(svc_members)
	svc_check_only "$s" "$before" "$after" "$k traffic"
	# routed packets count under the service's config 1, nowhere else
	cafter=$(svc_cfgs)
	while read -r cs ci cn; do
		cb=$(awk -v s="$cs" -v i="$ci" '$1 == s && $2 == i { print $3 }' <<<"$cbefore")
		d=$((cn - ${cb:-0}))
		if [ "$cs $ci" = "$s 1" ]; then
			[ "$d" -gt 0 ] || fail "lb stats: config 1 of $s counted no routed packet"
		else
			[ "$d" = 0 ] || fail "lb stats: config $ci of $cs counted $d routed packets during $s traffic"
		fi
	done <<<"$cafter"
	grep -q "^$s 1 " <<<"$cafter" || fail "lb stats: no config 1 of $s: $cafter"
	e2e_log "  lb stats: routed packets counted under config 1 of $s only"
done

# ---- both at once ----------------------------------------------------------
e2e_log "=== web and api at once"
pids=()
for s in web api; do
	for i in 1 2; do
		svc_get "$s" "$FLEET_DIR/both-$s$i" /whoami "/bytes/$N" &
		pids+=($!)
	done
done
for p in "${pids[@]}"; do wait "$p"; done
for s in web api; do
	for i in 1 2; do
		svc_bytes_ok "$FLEET_DIR/both-$s$i/$N" ||
			fail "$s: concurrent download $i: $(e2e_size "$FLEET_DIR/both-$s$i/$N") of $N bytes"
		svc_check_whoami "$s" "$FLEET_DIR/both-$s$i/whoami"
		e2e_log "  $s download $i: $N bytes byte-exact from $SVC_HOST"
	done
done

# ---- a CID of web on h1 (not an api host) at api's VIP ----------------------
e2e_log "=== a web CID of h1 sent to api's VIP"
cid=
for f in "$FLEET_DIR"/web-req*/whoami "$FLEET_DIR"/web-dl/whoami "$FLEET_DIR"/both-web*/whoami; do
	[ "$(e2e_field "$f" host)" = h1 ] && { cid=$(e2e_field "$f" cid); break; }
done
[ -n "$cid" ] || fail "no web CID minted on h1"
# trace: the LB node's file, a private copy of its program
python3 "$E2E_ROOT/tests/tools/qlb-mkpcap.py" "$FLEET_DIR/cross-api.pcap" \
	--vip4 "$API_VIP" --vip6 2001:db8:100::2 --cid "$cid" ||
	fail "cannot write the trace's input"
python3 "$E2E_ROOT/tests/tools/qlb-mkpcap.py" "$FLEET_DIR/cross-web.pcap" \
	--vip4 "$WEB_VIP" --vip6 2001:db8:100::2 --cid "$cid" ||
	fail "cannot write the trace's input"
e2e_in "$(fleet_ns lb1)" "$QLBCTL" -j trace -f "$FLEET_DIR/lb1.yaml" "$FLEET_DIR/cross-web.pcap" \
	>"$FLEET_DIR/trace-web.json" 2>"$FLEET_DIR/trace.err" || fail "trace: $(cat "$FLEET_DIR/trace.err")"
e2e_in "$(fleet_ns lb1)" "$QLBCTL" -j trace -f "$FLEET_DIR/lb1.yaml" "$FLEET_DIR/cross-api.pcap" \
	>"$FLEET_DIR/trace-api.json" 2>"$FLEET_DIR/trace.err" || fail "trace: $(cat "$FLEET_DIR/trace.err")"
tw=$(head -n 1 "$FLEET_DIR/trace-web.json")
ta=$(head -n 1 "$FLEET_DIR/trace-api.json")
e2e_log "  trace at web's VIP: $tw"
e2e_log "  trace at api's VIP: $ta"
grep -q '"action":"tx","host":"h1","reason":"routed_cid"' <<<"$tw" ||
	fail "trace: web's CID at web's VIP is not routed to h1: $tw"
grep -q '"service":"web"' <<<"$tw" || fail "trace: web's VIP not named web: $tw"
grep -q '"service":"api"' <<<"$ta" || fail "trace: api's VIP not named api: $ta"
grep -qE '"action":"tx","host":"(h2|h3)"' <<<"$ta" ||
	fail "trace: web's CID at api's VIP does not go to an api host: $ta"
grep -q '"reason":"routed_cid"' <<<"$ta" &&
	fail "trace: web's CID decoded as a routable CID of api: $ta"

# live: real packets from the client, counted by the LB node
before=$(svc_members)
e2e_in "$(fleet_ns cli)" python3 - "$API_VIP" "$VIP_PORT" "$cid" <<'EOF' ||
import socket, sys
vip, port, cid = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
for i in range(20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(bytes([0x40]) + cid + bytes(range(40)) + bytes([i]), (vip, port))
    s.close()
EOF
	fail "cannot send the crafted packets"
sleep 0.5
after=$(svc_members)
d=$(svc_delta "$before" "$after" web h1)
[ "$d" = 0 ] || fail "live: member (web, h1) counted $d packets while web's CID of h1 went to api's VIP"
grew=0
for n in ${SVC_HOSTS[api]}; do
	d=$(svc_delta "$before" "$after" api "$n")
	[ "$d" = missing ] && fail "lb stats has no member (api, $n)"
	grew=$((grew + d))
done
[ "$grew" -ge 20 ] || fail "live: api's members counted $grew of the 20 packets"
e2e_log "  live: 20 packets at api's VIP went to api's members ($grew packets), none to h1"

# ---- rotate api's keys alone, during an api download -------------------------
e2e_log "=== qlbctl rotate --service api (new, promote) during an api download"
websec=$(svc_section web)
[ -n "$websec" ] || fail "cannot find web's entry in fleet.yaml"
NR=20000000
fleet_shape_client 50mbit
svc_get api "$FLEET_DIR/rot-dl" /whoami "/bytes/$NR" &
rot_pid=$!
fleet_whoami_wait "$FLEET_DIR/rot-dl/whoami" 15 || { fleet_unshape_client; fail "api: the download during the rotation did not start"; }
"$QLBCTL" rotate new -f "$FLEET_DIR/fleet.yaml" --service api >"$FLEET_DIR/rotate.log" 2>&1 ||
	fail "rotate new --service api: $(cat "$FLEET_DIR/rotate.log")"
svc_distribute
"$QLBCTL" rotate promote -f "$FLEET_DIR/fleet.yaml" --service api 2 >>"$FLEET_DIR/rotate.log" 2>&1 ||
	fail "rotate promote --service api 2: $(cat "$FLEET_DIR/rotate.log")"
svc_distribute
[ "$(svc_section web)" = "$websec" ] || fail "rotate --service api changed web's entry"
keyfs=("$FLEET_DIR"/fleet-api-cr2-*.key)
keyf=${keyfs[0]}
[ -f "$keyf" ] || fail "rotate new --service api wrote no fleet-api-cr2-*.key: $(cat "$FLEET_DIR/rotate.log")"
KEY[api:2]=$(tr -d ' \n' <"$keyf")
e2e_log "  api: config 2 added and promoted ($(basename "$keyf")); web's entry unchanged byte for byte"
wait "$rot_pid"
fleet_unshape_client
svc_bytes_ok "$FLEET_DIR/rot-dl/$NR" "$NR" ||
	fail "api: the download during the rotation: $(e2e_size "$FLEET_DIR/rot-dl/$NR") of $NR bytes, or not the filler"
svc_check_whoami api "$FLEET_DIR/rot-dl/whoami" 1
e2e_log "  api: $NR bytes byte-exact from $SVC_HOST across the rotation (connection under config 1)"
# new connections: api under config 2 once every agent took the file up
# (SIGHUP: bounded retries), web still under its config 1
ok=
for i in $(seq 1 20); do
	svc_get api "$FLEET_DIR/rot-req$i" /whoami ||
		fail "api: request $i after the rotation failed: $(tail -n 3 "$FLEET_DIR/rot-req$i.client.log")"
	if [ "$(e2e_field "$FLEET_DIR/rot-req$i/whoami" config_id)" = 2 ]; then
		svc_check_whoami api "$FLEET_DIR/rot-req$i/whoami" 2
		ok="$ok $SVC_HOST"
		[[ $ok == *h2* && $ok == *h3* ]] && break
	else
		svc_check_whoami api "$FLEET_DIR/rot-req$i/whoami" 1
		sleep 0.3
	fi
done
[[ $ok == *h2* && $ok == *h3* ]] ||
	fail "api: after the promotion, not both h2 and h3 minted under config 2 (config 2 from:${ok:- none})"
for i in 1 2 3; do
	svc_get web "$FLEET_DIR/rot-web$i" /whoami || fail "web: request after api's rotation failed"
	svc_check_whoami web "$FLEET_DIR/rot-web$i/whoami" 1
done
e2e_log "  api: new connections minted under config 2 (new key) on h2 and h3; web's still under its config 1"

# ---- health: h2 stops serving api, and starts again -------------------------
if [ -n "$FLEET_LB_RUNNING" ]; then
	LR=$FLEET_DIR/lbrun-lb1.log
	if grep -E -- '-> unhealthy|FAIL OPEN' "$LR"; then
		fail "qlbctl lb run judged a member unhealthy while every server ran"
	fi
	e2e_log "lb run: no member judged unhealthy so far"
	e2e_log "=== api's server on h2 stops: (api, h2) leaves api's table, (web, h2) stays"
	e2e_stop "${SVC_SRV_PID[h2:api]}" INT
	e2e_wait_log "$LR" 'service api: host h2: .*-> unhealthy' 1 10 ||
		fail "lb run did not judge (api, h2) unhealthy: $(tail -n 5 "$LR")"
	e2e_log "  lb run: $(grep -m1 'service api: host h2: .*-> unhealthy' "$LR" | sed 's/.*qlbctl lb run: //')"
	for i in 1 2 3 4 5 6; do
		svc_get api "$FLEET_DIR/hc-api$i" /whoami ||
			fail "api: request $i with h2 out failed: $(tail -n 3 "$FLEET_DIR/hc-api$i.client.log")"
		svc_check_whoami api "$FLEET_DIR/hc-api$i/whoami" 2
		[ "$SVC_HOST" = h3 ] || fail "api: answered by $SVC_HOST while (api, h2) is out"
	done
	e2e_log "  api: 6 requests, all answered by h3"
	svc_requests web 8 1 hc-web-
	grep -E -- 'service web: .*-> unhealthy' "$LR" &&
		fail "lb run judged a web member unhealthy when only api's server on h2 stopped"
	e2e_log "=== api's server on h2 starts again (generation 2)"
	svc_server_start h2 api 2
	e2e_wait_log "$FLEET_DIR/srv-h2-api-g2.log" 'ready on' "$FLEET_WORKERS" 15 ||
		fail "the api server on h2 did not start again"
	e2e_wait_log "$LR" 'service api: host h2: .*-> healthy' 1 10 ||
		fail "lb run did not take (api, h2) back: $(tail -n 5 "$LR")"
	e2e_log "  lb run: $(grep -m1 'service api: host h2: .*-> healthy' "$LR" | sed 's/.*qlbctl lb run: //')"
	svc_requests api 8 2 hc-api-back-
	if grep -E -- '-> unhealthy|FAIL OPEN' "$LR" | grep -v 'service api: host h2:'; then
		fail "lb run judged another member unhealthy"
	fi
fi

fleet_lb_stats lb1 | sed 's/^/  /'
e2e_log "PASS: two services on overlapping hosts, each through its own VIP, keys and hosts"
