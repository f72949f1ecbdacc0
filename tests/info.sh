#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# make info: load every BPF object and print, per program, the verifier's
# processed-instruction count, the translated/JITed sizes and stack depth.
set -u
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
pin=/sys/fs/bpf/qlb-info-$$
log=$(mktemp)
trap 'rm -rf "$pin" "$log"' EXIT
printf '%-28s %-24s %8s %8s %8s %6s\n' object program xlated jited verified stack
for o in "$@"; do
	n=$(basename "$o" .bpf.o)
	mkdir -p "$pin/$n"
	if ! bpftool -d prog loadall "$o" "$pin/$n" >"$log" 2>&1; then
		printf '%-28s %s\n' "$n" "verifier rejected it"
		continue
	fi
	progs=("$pin/$n"/*)
	for p in "${progs[@]}"; do
		id=$(bpftool -j prog show pinned "$p" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
		show=$(bpftool -j prog show id "$id")
		x=$(echo "$show" | sed -n 's/.*"bytes_xlated":\([0-9]*\).*/\1/p')
		j=$(echo "$show" | sed -n 's/.*"bytes_jited":\([0-9]*\).*/\1/p')
		v=? s=?
		# the verifier log names no program: only attribute it when the
		# object holds one program
		if [ ${#progs[@]} -eq 1 ]; then
			v=$(sed -n 's/^processed \([0-9]*\) insns.*/\1/p' "$log" | tail -1)
			s=$(sed -n 's/^stack depth \([0-9+]*\).*/\1/p' "$log" | tail -1)
		fi
		printf '%-28s %-24s %8s %8s %8s %6s\n' "$n" "$(basename "$p")" "${x:-?}" "${j:-?}" "${v:-?}" "${s:-?}"
	done
	rm -rf "$pin/$n"
done
