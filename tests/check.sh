#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# make check: formatting, a verifier load of every BPF object, the unit
# tests under ASan+UBSan, and valgrind over qlbctl's offline commands.
# The -Werror build itself is done by the Makefile before this runs.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
rc=0
step() { printf '\n== %s\n' "$*"; }
bad() { echo "FAIL: $*"; rc=1; }

step "clang-format"
files=$(git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/corpus/')
if clang-format --dry-run --Werror $files 2>"$BUILD/format.log"; then
	echo "ok: $(echo "$files" | wc -l) files formatted"
else
	bad "clang-format: $(grep -c -e 'warning:' -e 'error:' "$BUILD/format.log") places differ (make format fixes them)"
	# places per file, then the first few in full
	grep -e 'warning:' -e 'error:' "$BUILD/format.log" | cut -d: -f1 | sort | uniq -c | sort -rn
	head -20 "$BUILD/format.log"
fi

step "verifier load of every BPF object"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
pin=/sys/fs/bpf/qlb-check-$$
trap 'rm -rf "$pin"' EXIT
for o in "$BUILD"/bpf/*.bpf.o; do
	n=$(basename "$o" .bpf.o)
	mkdir -p "$pin/$n"
	if bpftool prog loadall "$o" "$pin/$n" >"$BUILD/verifier-$n.log" 2>&1; then
		echo "ok: $n ($(ls "$pin/$n" | wc -l) programs)"
	else
		bad "verifier rejected $o (log: $BUILD/verifier-$n.log)"
		tail -20 "$BUILD/verifier-$n.log"
	fi
	rm -rf "$pin/$n"
done

step "unit tests under ASan and UBSan"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
if make --no-print-directory BUILD="$BUILD/asan" EXTRA_CFLAGS="$SAN" all $(make -s --no-print-directory BUILD="$BUILD/asan" print-test-bins) >"$BUILD/asan-build.log" 2>&1; then
	for t in "$BUILD"/asan/tests/*; do
		[ -x "$t" ] || continue
		if BUILD="$BUILD/asan" ASAN_OPTIONS=detect_leaks=1 "$t" >"$t.log" 2>&1; then
			echo "ok: $(basename "$t")"
		else
			bad "$(basename "$t") under sanitizers (log: $t.log)"
			tail -15 "$t.log"
		fi
	done
else
	bad "sanitizer build failed (log: $BUILD/asan-build.log)"
	tail -20 "$BUILD/asan-build.log"
fi

step "valgrind over qlbctl offline commands"
vg() {
	if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		"$BUILD/qlbctl" "$@" >/dev/null 2>"$BUILD/valgrind.log"; then :; fi
	if grep -q '==[0-9]*==' "$BUILD/valgrind.log"; then
		bad "valgrind: qlbctl $*"
		head -20 "$BUILD/valgrind.log"
	else
		echo "ok: qlbctl $*"
	fi
}
vg cid encode --config-id 1 --server-id 0a10 --nonce-len 6
vg cid encode --config-id 0 --server-id ed793a --nonce-len 4 --nonce ee080dbf --key 8f95f09245765f80256934e50c66207f
vg cid decode --server-id-len 3 --nonce-len 4 --key 8f95f09245765f80256934e50c66207f 0720b1d07b359d3c
vg -j cid decode --server-id-len 3 --nonce-len 4 zz
[ -f deploy/qlb.yaml ] && vg validate -f deploy/qlb.yaml
[ -f examples/services.yaml ] && vg validate -f examples/services.yaml
for f in tests/config/*.yaml; do [ -f "$f" ] && vg validate -f "$f"; done

step "deploy: systemd units, BIRD templates"
BUILD="$BUILD" bash tests/check_deploy.sh || bad "deploy files (above)"

echo
[ $rc -eq 0 ] && echo "check: all passed" || echo "check: FAILED"
exit $rc
