#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# SK_REUSEPORT benchmark on a backend host in network namespaces:
#  - cost per packet of qlb_reuseport_select (kernel.bpf_stats_enabled:
#    run_time_ns / run_cnt) for plaintext, four-pass and single-pass AES
#    CIDs and for client Initials (fallback), beside an empty SK_REUSEPORT
#    program measured the same way;
#  - datagrams/s answered by 4 qlb-echo workers through the group with
#    qlb_reuseport_select, with the empty program, and with no program
#    (the kernel's own hash). Figures only; never fails on a time.
H_TAG=bench
source "$(dirname "$0")/../tests/lib/host.sh"
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac # make passes it absolute
ATTACH=$BUILD/tools/qlb-rpattach
SECS=${QLB_BENCH_SECS:-3}

host_setup
prev_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'rc=$?; sysctl -qw kernel.bpf_stats_enabled=$prev_stats; (exit $rc); host_cleanup' EXIT
host_config
start_agent
start_echo echo --workers 4 --generation 1 $VIP4 $PORT
wait_ready echo 4
ids=$(worker_ids echo)
sysctl -qw kernel.bpf_stats_enabled=1

prog_stat() { # ID -> "run_time_ns run_cnt"
	bpftool prog show id "$1" -j |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("run_time_ns",0), j.get("run_cnt",0))'
}

# measure LABEL PROG_ID BLAST-ARGS...
measure() {
	local label=$1 id=$2 t0 c0 t1 c1 out
	shift 2
	read -r t0 c0 < <(prog_stat "$id")
	out=$(cexec "$LOAD" blast -f "$H_CFG" --host web1 --workers "$ids" \
		--duration "$SECS" --window 64 "$@" $VIP4 $PORT)
	read -r t1 c1 < <(prog_stat "$id")
	printf '%-34s %8s ns/packet  %s\n' "$label" \
		"$(python3 -c "print('%.1f' % (($t1-$t0)/max(1,$c1-$c0)))")" \
		"$(echo "$out" | sed -n 's/.*\(rate=[0-9]*\/s\).*/\1/p') ($((c1 - c0)) runs)"
}

qid=$(bpftool prog show pinned "$H_PIN/qlb_reuseport_select" -j |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "4 workers, $SECS s per row, 64 datagrams in flight from 64 client sockets"
echo "qlb_reuseport_select (prog id $qid):"
measure "  plaintext CID (config 0)" "$qid" --config 0
measure "  four-pass AES CID (config 1, 11B)" "$qid" --config 1
measure "  single-pass AES CID (config 2)" "$qid" --config 2
measure "  Initial, client DCID (fallback)" "$qid"

eid=$(hexec "$ATTACH" $VIP4 $PORT empty | sed -n 's/^prog_id=//p')
[ -n "$eid" ] || fail "cannot attach the empty program"
echo "empty SK_REUSEPORT program (prog id $eid, kernel hash picks):"
measure "  plaintext CID datagrams" "$eid" --config 0

hexec "$ATTACH" $VIP4 $PORT detach || fail "cannot detach"
echo "no program (kernel's SO_REUSEPORT hash):"
out=$(cexec "$LOAD" blast -f "$H_CFG" --host web1 --workers "$ids" --duration "$SECS" \
	--window 64 --config 0 $VIP4 $PORT)
printf '%-34s %8s             %s\n' "  plaintext CID datagrams" "-" \
	"$(echo "$out" | sed -n 's/.*\(rate=[0-9]*\/s\).*/\1/p')"
