#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# make fuzz: every libFuzzer harness named on the command line for
# FUZZ_SECONDS, then the XDP frame fuzzer for XDP_FUZZ_FRAMES frames.
# Prints executions per harness and any crash (its reproducer path).
# Exit 1 when a harness crashed or the XDP invariants failed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-600}
frames=${XDP_FUZZ_FRAMES:-10000000}
rc=0
mkdir -p "$BUILD/fuzz/crashes" "$BUILD/fuzz/logs"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

for name in "$@"; do
	bin=$BUILD/fuzz/fuzz_$name
	work=$BUILD/fuzz/corpus/$name
	log=$BUILD/fuzz/logs/$name.log
	mkdir -p "$work"
	dict=; [ -f "tests/fuzz/$name.dict" ] && dict=-dict=tests/fuzz/$name.dict
	printf '== fuzz_%s: %ss\n' "$name" "$secs"
	# new inputs go to $work; the committed seeds are read, not written
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 $dict \
		-print_final_stats=1 -artifact_prefix="$BUILD/fuzz/crashes/$name-" \
		"$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
	r=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	if [ $r -ne 0 ]; then
		rc=1
		echo "CRASH (exit $r, log $log):"
		grep -m1 -E 'ERROR: AddressSanitizer|runtime error|invariant failed|ERROR: libFuzzer|LeakSanitizer' "$log"
		grep -E 'Test unit written to' "$log"
	else
		echo "ok: ${runs:-? executions}, ${cov:-cov ?}, corpus $(ls "$work" | wc -l) files"
	fi
done

xdp=$BUILD/tests/test_xdp_fuzz
if [ -x "$xdp" ]; then
	printf '== XDP frame fuzzer: %s frames\n' "$frames"
	if ! "$xdp" --frames "$frames"; then
		rc=1
		echo "XDP frame fuzzer FAILED"
	fi
else
	echo "== XDP frame fuzzer: $xdp not built (tests/unit/test_xdp_fuzz.c missing)"
	rc=1
fi
exit $rc
