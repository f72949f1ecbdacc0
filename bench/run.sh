#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Runs every benchmark: the programs built from bench/*.c ($BUILD/bench/*)
# and the scripts bench/*.sh. Prints their figures. A benchmark that fails
# to run is reported, but the run never fails on a time; the exit status is
# 1 only when a benchmark could not run at all.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
pattern=${QLB_BENCH:-}
failed=()

run_one() {
	local name=$1; shift
	[ -n "$pattern" ] && [[ $name != *$pattern* ]] && return
	echo "== $name"
	if ! timeout --kill-after=10 "${QLB_BENCH_TIMEOUT:-600}" "$@"; then
		failed+=("$name")
		echo "   ($name did not complete)"
	fi
	echo
}

for b in "$BUILD"/bench/*; do
	[ -x "$b" ] && [ -f "$b" ] && run_one "$(basename "$b")" "$b"
done
for s in bench/*.sh; do
	[ -f "$s" ] && [ "$s" != bench/run.sh ] && run_one "$(basename "$s")" bash "$s"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "did not complete: ${failed[*]}"
	exit 1
fi
exit 0
