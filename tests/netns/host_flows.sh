#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The host's flow table for client-chosen DCIDs, with the agent, qlb-echo
# and real sockets: 16 client DCIDs first answered by generation 1 keep
# reaching the same generation-1 worker for their Initial retransmit,
# second Initial and 0-RTT packet after generation 2 takes over, while new
# DCIDs go to generation 2; the DCIDs of a worker that closed fall back to
# the working generation; after the timeout (host.flow_timeout: 60 s at
# start, then 1 s by a SIGHUP reload, read back from the pinned
# qlb_rp_flowcfg each time) the records expire and every DCID goes to
# generation 2; host.flow_timeout: off reaches the map too and no DCID is
# recorded any more.
# The full table is tested by tests/netns/host_cache.sh (qlb-rpsteer check,
# a table of 64 records).
H_TAG=flows
source "$(dirname "$0")/../lib/host.sh"

# rp_stat INDEX: a qlb_rp_stats counter (enum qlb_rp_stat), summed over CPUs
rp_stat() {
	bpftool -j map lookup pinned "$H_PIN/qlb_rp_stats" key "$1" 0 0 0 |
		python3 -c 'import json,sys; print(sum(v["value"] for v in json.load(sys.stdin)["formatted"]["values"]))'
}
ST_RECORDED=14
ST_FOLLOWED=15
ST_EXPIRED=16

# client SEED N TYPE...: N client DCIDs derived from SEED, one datagram of
# each TYPE (initial, 0rtt) per DCID; prints "dcid worker generation" per
# datagram (worker "-" when no answer came)
client() {
	cexec python3 - "$@" <<'EOF'
import hashlib, socket, sys
seed, n, types = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("198.18.1.1", 4433))
s.settimeout(1.0)
for i in range(n):
    dcid = hashlib.sha256(f"{seed}-{i}".encode()).digest()[:8 + i % 9]
    dcid = bytes([dcid[0] & 0x7f]) + dcid[1:]  # never 0b111
    for t in types:
        first = 0xc0 if t == "initial" else 0xd0  # Initial / 0-RTT
        pkt = bytes([first, 0, 0, 0, 1, len(dcid)]) + dcid + bytes([8]) + bytes(8)
        pkt += bytes(1200 - len(pkt))
        s.send(pkt)
        try:
            r = s.recv(512).decode()
            f = dict(x.split("=", 1) for x in r.split() if "=" in x)
            print(dcid.hex(), f["worker"], f["generation"])
        except socket.timeout:
            print(dcid.hex(), "-", "-")
EOF
}

# flowcfg: "TIMEOUT_NS OFF" of the pinned qlb_rp_flowcfg[0]
flowcfg() {
	bpftool -j map lookup pinned "$H_PIN/qlb_rp_flowcfg" key 0 0 0 0 |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["formatted"]["value"]; print(v["timeout_ns"], v["off"])'
}

# set_flow_timeout VALUE WANT: host.flow_timeout VALUE in the file, SIGHUP
# the agent, wait (5 s at most) until qlb_rp_flowcfg reads WANT
set_flow_timeout() {
	local i
	host_config "" "  flow_timeout: $1"
	kill -HUP "$AGENT_PID"
	for i in $(seq 1 50); do
		[ "$(flowcfg)" = "$2" ] && break
		sleep 0.1
	done
	[ "$(flowcfg)" = "$2" ] ||
		fail "host.flow_timeout: $1 after SIGHUP: qlb_rp_flowcfg reads $(flowcfg), expected $2"
	log "host.flow_timeout: $1 (SIGHUP) -> qlb_rp_flowcfg $2"
}

host_setup
# 60 s: the steps below take longer than the default 10 s together
host_config "" "  flow_timeout: 60"
start_agent
[ "$(flowcfg)" = "60000000000 0" ] ||
	fail "host.flow_timeout: 60 at start: qlb_rp_flowcfg reads $(flowcfg)"
log "host.flow_timeout: 60 (start) -> qlb_rp_flowcfg 60000000000 0"
start_echo gen1 --workers 4 --generation 1 $VIP4 $PORT
wait_ready gen1 4

client first 16 initial >"$H_DIR/first.txt"
awk '$3 != 1 { bad = 1 } END { exit bad }' "$H_DIR/first.txt" ||
	fail "a first Initial missed generation 1: $(cat "$H_DIR/first.txt")"
rec=$(rp_stat $ST_RECORDED)
[ "$rec" -ge 16 ] || fail "flow records: $rec, expected 16"
log "16 client DCIDs answered by generation 1 workers $(awk '{print $2}' "$H_DIR/first.txt" | sort -u | paste -sd,)"

start_echo gen2 --workers 4 --generation 2 $VIP4 $PORT
wait_ready gen2 4
for i in $(seq 1 50); do
	hexec "$QLBCTL" agent status -s "$H_SOCK" 2>/dev/null |
		grep -q '^working generation 2 ' && break
	sleep 0.1
done
hexec "$QLBCTL" agent status -s "$H_SOCK" | grep -q '^working generation 2 ' ||
	fail "generation 2 did not take over"

fol0=$(rp_stat $ST_FOLLOWED)
# Initial retransmit, second Initial, 0-RTT of each flow
client first 16 initial initial 0rtt >"$H_DIR/again.txt"
moved=$(awk 'NR == FNR { w[$1] = $2 " " $3; next } w[$1] != $2 " " $3' \
	"$H_DIR/first.txt" "$H_DIR/again.txt" | wc -l)
fol=$(($(rp_stat $ST_FOLLOWED) - fol0))
log "after generation 2 took over: $moved of 48 datagrams moved, $fol followed their record"
[ "$moved" = 0 ] || fail "$moved datagrams of handshakes in flight moved"
[ "$fol" -ge 48 ] || fail "followed $fol, expected 48"

client new 16 initial 0rtt >"$H_DIR/new.txt"
awk '$3 != 2 { bad = 1 } END { exit bad }' "$H_DIR/new.txt" ||
	fail "a new DCID missed generation 2: $(cat "$H_DIR/new.txt")"
log "16 new client DCIDs went to generation 2"

# a generation-1 worker that answered some DCIDs closes: those fall back
# to generation 2, the others stay
vid=$(awk '{print $2}' "$H_DIR/first.txt" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
vpid=$(sed -n "s/^qlb-echo: worker $vid generation 1 pid \([0-9]*\) ready\$/\1/p" "$H_DIR/gen1.log")
[ -n "$vpid" ] || fail "no pid for worker $vid"
kill -KILL "$vpid"
for i in $(seq 1 50); do
	hexec "$QLBCTL" agent status -s "$H_SOCK" | grep -q "^$vid .* $vpid " || break
	sleep 0.1
done
client first 16 initial >"$H_DIR/closed.txt"
paste "$H_DIR/first.txt" "$H_DIR/closed.txt" | awk -v vid="$vid" '
	$2 == vid && $6 != 2 { print "closed worker DCID " $1 " reached " $5 "/" $6; bad = 1 }
	$2 != vid && ($5 != $2 || $6 != $3) { print "DCID " $1 " moved"; bad = 1 }
	END { exit bad }' || fail "closed worker's records"
log "worker $vid closed: its DCIDs went to generation 2, the others stayed"

# expiry: records older than 1 s are gone, every DCID reaches generation 2
exp0=$(rp_stat $ST_EXPIRED)
set_flow_timeout 1 "1000000000 0"
sleep 1.2
client first 16 initial >"$H_DIR/expired.txt"
awk '$3 != 2 { bad = 1 } END { exit bad }' "$H_DIR/expired.txt" ||
	fail "an expired record was followed: $(cat "$H_DIR/expired.txt")"
exp=$(($(rp_stat $ST_EXPIRED) - exp0))
log "after 1 s: every DCID reached generation 2, $exp records expired"
[ "$exp" -ge 8 ] || fail "expired counter $exp"
# the same counters through the agent (status and metrics)
st=$(status_json | json_get 'j["reuseport"]')
log "agent status: $st"
[ "$(status_json | json_get 'j["reuseport"]["flow_followed"]')" -ge 48 ] ||
	fail "agent status lacks flow_followed"
hexec "$QLBCTL" agent metrics -s "$H_SOCK" |
	grep -q '^qlb_agent_reuseport_packets_total{host="web1",reason="flow_recorded"} [1-9]' ||
	fail "metrics lack flow_recorded"

# off: no record is made any more (the stateless fallback alone)
set_flow_timeout off "0 1"
rec0=$(rp_stat $ST_RECORDED)
client off 16 initial >"$H_DIR/off.txt"
awk '$3 != 2 { bad = 1 } END { exit bad }' "$H_DIR/off.txt" ||
	fail "a DCID missed generation 2 with the table off: $(cat "$H_DIR/off.txt")"
rec=$(($(rp_stat $ST_RECORDED) - rec0))
[ "$rec" = 0 ] || fail "table off, yet $rec records made"
log "table off: 16 new DCIDs reached generation 2, none recorded"
log "PASS"
