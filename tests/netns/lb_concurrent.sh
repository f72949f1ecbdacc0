#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Concurrent `qlbctl lb apply` on one pin_dir (docs/security.md, concurrent
# applies): two first applies at once, and two applies at once on a running
# node, again and again. Every time both succeed, every pin is there and
# belongs to the attached program, and the slot in use is one file's whole
# (its VIPs, hosts, MTU and Maglev size), never a mix of the two.
L_TAG=lbcc
XDP_MODE=generic
source "$(dirname "$0")/../lib/lb.sh"

lb_setup
A=$L_DIR/a.yaml
B=$L_DIR/b.yaml
lb_yaml "$A" lb0 "$L_PIN"
# B differs in every table and setting the slot holds; its larger Maglev
# table takes the longest to write
lb_yaml "$B" lb0 "$L_PIN" '  - name: web4
    address: 198.18.0.24
    server_ids: {1: "0a40", 2: "0a4000"}
  - name: web5
    address: 198.18.0.25
    server_ids: {1: "0a50", 2: "0a5000"}'
sed -i -e 's/maglev_table_size: 65537/maglev_table_size: 1000003\n  mtu: 1400/' \
	-e 's/port: 443/port: 8443/' "$B"

status() { lexec "$QLBCTL" -j lb status --pin-dir "$L_PIN"; }
# whole: "A" or "B" when the slot in use is one file's whole, else "MIX ..."
whole() {
	status | python3 -c '
import json, sys
j = json.load(sys.stdin)
got = (j["mtu"], j["maglev_table_size"], tuple(sorted(j["vips"])),
       tuple(sorted(h["name"] for h in j["hosts"])))
A = (1500, 65537, ("198.18.1.1:443", "[2001:db8:1::1]:443"), ("web1", "web2", "web3"))
B = (1400, 1000003, ("198.18.1.1:8443", "[2001:db8:1::1]:8443"), ("web4", "web5"))
print("A" if got == A else "B" if got == B else "MIX %r" % (got,))'
}
# pins_ok: every pin present, the pinned program the one attached to lb0
pins_ok() {
	local n st pid
	for n in qlb_ctrl qlb_settings_v2 qlb_vips_v2 qlb_cid_cfgs_v2 qlb_sids_v2 qlb_hosts_v2 \
		qlb_maglev_v2 qlb_mglv_est_v2 qlb_stats_v3 qlb_host_stats_v2 qlb_cfg_stats_v2 qlb_cid_cache qlb_vip_cfgs qlb_xdp_ingress; do
		[ -e "$L_PIN/$n" ] || { echo "pin $n missing"; return 1; }
	done
	st=$(status) || { echo "lb status fails"; return 1; }
	pid=$(echo "$st" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["prog_id"] if j["attached"] else 0)')
	lexec ip link show dev lb0 | grep -q "prog/xdp id $pid " ||
		{ echo "lb0 runs a program other than the pinned one ($pid)"; return 1; }
}
# both F1 F2: apply both files at once; both must succeed
both() {
	local p1 p2 r1=0 r2=0
	lexec "$QLBCTL" lb apply -f "$1" >"$L_DIR/o1" 2>&1 &
	p1=$!
	lexec "$QLBCTL" lb apply -f "$2" >"$L_DIR/o2" 2>&1 &
	p2=$!
	wait $p1 || r1=$?
	wait $p2 || r2=$?
	[ $r1 = 0 ] && [ $r2 = 0 ] && return 0
	cat "$L_DIR/o1" "$L_DIR/o2"
	return 1
}

ROUNDS=6
for i in $(seq 1 $ROUNDS); do
	both "$A" "$B" || fail "first applies, round $i: an apply failed"
	pins_ok || fail "first applies, round $i: pins lost"
	w=$(whole)
	case $w in A | B) ;; *) fail "first applies, round $i: slot in use is $w" ;; esac
	log "first applies, round $i: $w in force, every pin in place"
	lexec "$QLBCTL" lb detach --pin-dir "$L_PIN" >/dev/null || fail "detach $i"
done

lexec "$QLBCTL" lb apply -f "$A" >/dev/null || fail "apply A"
gen0=$(status | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
for i in $(seq 1 $ROUNDS); do
	# B first: A's quick fill lands inside B's long Maglev write
	if [ $((i % 2)) = 1 ]; then both "$B" "$A"; else both "$A" "$B"; fi ||
		fail "applies on a running node, round $i: an apply failed"
	pins_ok || fail "applies on a running node, round $i: pins lost"
	w=$(whole)
	case $w in A | B) ;; *) fail "applies on a running node, round $i: slot in use is $w" ;; esac
	log "applies on a running node, round $i: $w in force"
done
gen=$(status | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
[ "$gen" = $((gen0 + 2 * ROUNDS)) ] ||
	fail "generation $gen after $((2 * ROUNDS)) applies from $gen0: an apply was lost"
log PASS
