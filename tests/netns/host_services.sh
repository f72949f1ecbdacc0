#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# One host serving two services (docs/host.md, "Services"): alpha on VIP4
# and beta on VIP4B, both with config id 1 under different keys and with
# different server IDs for this host. Workers of both register with one
# agent; the reuseport program decodes each group's datagrams under its own
# service's configs:
#  - alpha's CIDs to alpha's VIP reach the worker they name, beta's to
#    beta's likewise;
#  - alpha's CIDs to beta's VIP take beta's fallback and are counted as
#    foreign there (decoded with beta's key: garbage), never as a closed
#    worker of this host (what alpha's key would make of them);
#  - CIDs the workers mint with libqlb decode under their own service;
#  - decapsulation takes LB-encapsulated packets to either service's VIP;
#  - agent status shows both services with their groups and generations;
#  - a group bound to no service's VIP is refused at registration;
#  - qlbctl rotate --service alpha + SIGHUP changes alpha's decode state
#    only: beta's epochs stay, beta's CIDs keep routing, and alpha's
#    workers mint under the new config.
H_TAG=svc
source "$(dirname "$0")/../lib/host.sh"

VIP4B=198.18.1.2
KEY_A=8f95f09245765f80256934e50c66207f
KEY_B=00112233445566778899aabbccddeeff

host_setup
hexec ip addr add $VIP4B/32 dev lo

svc_config() {
	cat >"$H_CFG.tmp" <<EOF
quic_lb:
  configs:
    - id: 1
      server_id_len: 3
      nonce_len: 8
      worker_bits: 6
      key: $KEY_A
hosts:
  - name: web1
    address: 198.18.0.2
    server_id: "0a0100"
  - name: web2
    address: 198.18.0.3
    server_id: "0a0200"
services:
  - name: alpha
    quic_lb:
      configs:
        - id: 1
          server_id_len: 3
          nonce_len: 8
          worker_bits: 6
          key: $KEY_A
    vips:
      - address: $VIP4
        port: $PORT
    hosts:
      - name: web1
        server_id: "0a0100"
      - name: web2
        server_id: "0a0200"
  - name: beta
    quic_lb:
      configs:
        - id: 1
          server_id_len: 3
          nonce_len: 8
          worker_bits: 6
          key: $KEY_B
    vips:
      - address: $VIP4B
        port: $PORT
    hosts:
      - name: web1
        server_id: "0b0100"
      - name: web2
        server_id: "0b0200"
$(host_section_yaml)
  lb_sources: [198.18.0.1, "2001:db8::1"]
EOF
	mv "$H_CFG.tmp" "$H_CFG"
}

# rp_stat NAME: a reuseport counter of agent status -j
rp_stat() { status_json | json_get "j['reuseport']['$1']"; }

svc_config
"$QLBCTL" validate -f "$H_CFG" >/dev/null || {
	"$QLBCTL" validate -f "$H_CFG"; fail "the test's file is not valid"; }
start_agent
# generations are per group: alpha declares 1 while beta works on 7
start_echo beta --workers 3 --generation 7 $VIP4B $PORT
wait_ready beta 3
start_echo alpha --workers 3 --generation 1 $VIP4 $PORT
wait_ready alpha 3
IDS_A=$(worker_ids alpha)
IDS_B=$(worker_ids beta)
log "alpha workers $IDS_A (generation 1), beta workers $IDS_B (generation 7)"

# each service's CIDs, at its own VIP, reach the worker they name
cexec "$LOAD" probe -f "$H_CFG" --service alpha --host web1 --workers "$IDS_A" $VIP4 $PORT ||
	fail "alpha's CIDs at alpha's VIP did not reach their workers"
cexec "$LOAD" probe -f "$H_CFG" --service beta --host web1 --workers "$IDS_B" $VIP4B $PORT ||
	fail "beta's CIDs at beta's VIP did not reach their workers"
# encapsulated by the LB node, both services' VIPs are trusted inner
# destinations (the file has no lb: section: its services name the VIPs)
mac=$(hexec ip -br link show vh | awk '{print $3}')
[ -n "$mac" ] || fail "no MAC for vh"
for v in $VIP4 $VIP4B; do
	cexec python3 "$PWD/tests/netns/host_encap_send.py" vc "$mac" gue 10 \
		198.18.0.1 198.18.0.2 198.18.0.1 $v $PORT 6080 >/dev/null ||
		fail "GUE from the LB source to $v:$PORT was not answered"
done
log "GUE to both services' VIPs decapsulated and answered"
# and the same host's CIDs of the other service do not name its workers:
# alpha's CIDs at beta's VIP take beta's fallback (generation 7) ...
fb0=$(rp_stat fallback_foreign)
es0=$(rp_stat fallback_empty_slot)
out=$(cexec "$LOAD" fallback -f "$H_CFG" --service alpha --foreign-host web1 --count 60 \
	--expect-gen 7 $VIP4B $PORT) || {
	echo "$out"; fail "alpha's CIDs at beta's VIP did not take beta's fallback"; }
echo "$out"
minted=$(echo "$out" | sed -n 's/.* minted=\([0-9]*\) .*/\1/p')
fb1=$(rp_stat fallback_foreign)
es1=$(rp_stat fallback_empty_slot)
log "alpha's CIDs at beta's VIP: $minted sent, fallback_foreign +$((fb1 - fb0)), fallback_empty_slot +$((es1 - es0))"
# ... as foreign CIDs (the rest are 0b111): decoded with alpha's key they
# would be this host's, naming a worker of another group (an empty slot
# in beta's group)
[ "${minted:-0}" -ge 5 ] || fail "too few alpha CIDs sent ($minted)"
[ $((fb1 - fb0)) -ge "$minted" ] || fail "alpha's CIDs were not foreign at beta's VIP (+$((fb1 - fb0)) of $minted)"
[ $((es1 - es0)) = 0 ] || fail "alpha's CIDs were decoded as this host's at beta's VIP"
cexec "$LOAD" fallback -f "$H_CFG" --service beta --foreign-host web1 --count 40 \
	--expect-gen 1 $VIP4 $PORT || fail "beta's CIDs at alpha's VIP did not take alpha's fallback"

# what the workers mint with libqlb decodes under their own service only
cexec "$LOAD" minted -f "$H_CFG" --service alpha --host web1 --count 20 $VIP4 $PORT ||
	fail "alpha's workers minted CIDs that are not alpha's"
cexec "$LOAD" minted -f "$H_CFG" --service beta --host web1 --count 20 $VIP4B $PORT ||
	fail "beta's workers minted CIDs that are not beta's"
if cexec "$LOAD" minted -f "$H_CFG" --service beta --host web1 --count 4 $VIP4 $PORT >/dev/null; then
	fail "alpha's minted CIDs decode under beta's key"
fi

# agent status: both services, each with its group and generation
st=$(status_json)
echo "$st" | json_get "'\n'.join('%s: %s' % (s['name'], ', '.join('%s gen %d (%d workers)' % (g['group'], g['working_generation'], g['workers']) for g in s['groups'])) for s in j['services'])"
[ "$(echo "$st" | json_get "' '.join(s['name'] for s in j['services'])")" = "alpha beta" ] ||
	fail "agent status does not show services alpha and beta"
[ "$(echo "$st" | json_get "[g['group'] for s in j['services'] if s['name'] == 'alpha' for g in s['groups']]")" = "['$VIP4:$PORT']" ] ||
	fail "agent status: alpha's group is not $VIP4:$PORT"
[ "$(echo "$st" | json_get "[g['working_generation'] for s in j['services'] if s['name'] == 'beta' for g in s['groups']]")" = "[7]" ] ||
	fail "agent status: beta's group does not work on generation 7"
hexec "$QLBCTL" agent status -s "$H_SOCK" | grep -q "^service beta:" ||
	fail "agent status (text) does not show service beta"

# a group on no service's VIP is refused with the reason
start_echo stray --workers 1 --generation 1 0.0.0.0 $PORT
for _ in $(seq 1 50); do
	grep -q "refused\|not a VIP\|ambiguous\|error" "$H_DIR/stray.log" 2>/dev/null && break
	kill -0 "$ECHO_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q "ambiguous\|not a VIP" "$H_DIR/stray.log" || {
	cat "$H_DIR/stray.log"; fail "a wildcard group with two services at its port was not refused"; }
log "wildcard group refused: $(grep -m1 -o 'socket group.*' "$H_DIR/stray.log")"

# rotate alpha only: a new config, promoted; the agent reloads
epochs() { status_json | json_get "[sorted((e['config'], e['epoch']) for e in s['epochs']) for s in j['services'] if s['name'] == '$1'][0]"; }
eb0=$(epochs beta)
ea0=$(epochs alpha)
"$QLBCTL" rotate new -f "$H_CFG" --service alpha --id 2 >/dev/null || fail "rotate new --service alpha"
"$QLBCTL" rotate promote -f "$H_CFG" --service alpha 2 >/dev/null || fail "rotate promote --service alpha 2"
kill -HUP "$AGENT_PID"
for _ in $(seq 1 50); do
	[ "$(epochs alpha)" != "$ea0" ] && break
	sleep 0.1
done
ea1=$(epochs alpha)
eb1=$(epochs beta)
log "alpha epochs $ea0 -> $ea1, beta epochs $eb0 -> $eb1"
[ "$ea1" != "$ea0" ] || fail "alpha's rotation did not reach the host"
[ "$eb1" = "$eb0" ] || fail "alpha's rotation changed beta's decode state"
cexec "$LOAD" probe -f "$H_CFG" --service beta --host web1 --workers "$IDS_B" $VIP4B $PORT ||
	fail "beta's CIDs stopped routing after alpha's rotation"
cexec "$LOAD" probe -f "$H_CFG" --service alpha --host web1 --workers "$IDS_A" $VIP4 $PORT ||
	fail "alpha's CIDs (old and new config) do not route after its rotation"
out=$(cexec "$LOAD" minted -f "$H_CFG" --service alpha --host web1 --count 10 $VIP4 $PORT) || {
	echo "$out"; fail "alpha's workers do not mint under its new config"; }
# the workers were told: a minted CID's config bits name config 2 now
hexec "$QLBCTL" agent status -s "$H_SOCK" | grep "^service alpha:" | grep -q "minting under config 2" ||
	fail "agent status: alpha does not mint under config 2"
log "PASS"
