#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Part of `make test`: build every libFuzzer harness and run each one
# briefly (FUZZ_SMOKE_SECONDS, default 12) from its committed seeds, plus
# every reproducer kept in tests/fuzz/crashes/ (they must pass once fixed).
# The long runs are `make fuzz`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${FUZZ_SMOKE_SECONDS:-12}
rc=0

if ! command -v "${CLANG:-clang}" >/dev/null; then
	echo "clang is missing: cannot build the fuzzers"; exit 1
fi
tmp=$(mktemp -d /tmp/qlb-fuzz-smoke-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if ! make --no-print-directory BUILD="$BUILD" fuzz-bins >"$tmp/build.log" 2>&1; then
	tail -20 "$tmp/build.log"
	echo "fuzzer build failed"
	exit 1
fi

for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c); name=${name#fuzz_}
	bin=$BUILD/fuzz/fuzz_$name
	mkdir -p "$tmp/$name"
	dict=; [ -f "tests/fuzz/$name.dict" ] && dict=-dict=tests/fuzz/$name.dict
	log=$tmp/$name.log
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 $dict \
		-artifact_prefix="$tmp/$name-" "$tmp/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
	r=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$log" | tail -1)
	if [ $r -ne 0 ]; then
		rc=1
		echo "FAIL fuzz_$name (exit $r):"
		grep -m3 -E 'ERROR: |runtime error|invariant failed|SUMMARY' "$log"
		for a in "$tmp/$name"-*; do
			[ -f "$a" ] || continue
			mkdir -p "$BUILD/fuzz/crashes"
			cp "$a" "$BUILD/fuzz/crashes/" && echo "  reproducer: $BUILD/fuzz/crashes/$(basename "$a")"
		done
		grep -E "^ +#[0-9] .* in (LLVMFuzzer|[a-z_]+ /work)" "$log" | head -8
	else
		echo "ok fuzz_$name: ${runs:-?}"
	fi
	# kept reproducers: one run each, must not crash
	for c in tests/fuzz/crashes/"$name"-*; do
		[ -f "$c" ] || continue
		if "$bin" "$c" >"$log.crash" 2>&1; then
			echo "ok reproducer $c"
		else
			rc=1
			echo "FAIL reproducer $c still crashes fuzz_$name"
			grep -m3 -E 'ERROR: |runtime error|invariant failed' "$log.crash"
		fi
	done
done
exit $rc
