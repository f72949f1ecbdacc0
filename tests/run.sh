#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Runs every test: unit/BPF fixture binaries (build/tests/*), then the
# network-namespace tests (tests/netns/*.sh), the end-to-end tests
# (tests/e2e/*.sh) and the fuzzers' smoke run (tests/fuzz/*.sh). Prints
# one line per test and "N passed, N failed".
# QLB_TESTS=pattern runs only tests whose name matches the pattern.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
pattern=${QLB_TESTS:-}
pass=0 fail=0 failed=()
mkdir -p "$BUILD/test-logs"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

run_one() {
	local name=$1; shift
	[ -n "$pattern" ] && [[ $name != *$pattern* ]] && return
	local log="$BUILD/test-logs/${name//\//_}.log" t0=$SECONDS rc
	timeout --kill-after=10 "${QLB_TEST_TIMEOUT:-900}" "$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  %-40s %4ss\n' "$name" $((SECONDS - t0))
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-40s %4ss (exit %d, log %s)\n' "$name" $((SECONDS - t0)) $rc "$log"
		tail -n 30 "$log" | sed 's/^/      | /'
	fi
}

for t in "$BUILD"/tests/*; do
	[ -x "$t" ] && [ -f "$t" ] && run_one "unit/$(basename "$t")" "$t"
done
for t in tests/netns/*.sh tests/e2e/*.sh tests/fuzz/*.sh; do
	[ -f "$t" ] && run_one "${t#tests/}" bash "$t"
done

echo
[ $fail -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
