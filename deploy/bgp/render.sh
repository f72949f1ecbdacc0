#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# render.sh [-f QLB_YAML] TEMPLATE [KEY=VALUE...]: print TEMPLATE with every
# @KEY@ or @KEY=DEFAULT@ replaced by VALUE (or DEFAULT). With -f, the VIPs
# of the file's lb.vips give @VIP4_SET@ and @VIP6_SET@ (BIRD prefix sets of
# the /32 and /128 routes qlb announces), so the routing daemon accepts and
# exports exactly the VIPs qlb serves. A key with neither value nor
# default is an error (exit 1), as is a template that is not readable.
set -eu

usage() {
	echo "usage: $0 [-f QLB_YAML] TEMPLATE [KEY=VALUE...]" >&2
	exit 2
}

yaml=
if [ "${1:-}" = -f ]; then
	[ $# -ge 2 ] || usage
	yaml=$2
	shift 2
fi
[ $# -ge 1 ] || usage
tmpl=$1
shift
[ -r "$tmpl" ] || { echo "$0: $tmpl: cannot read" >&2; exit 1; }

vips=
if [ -n "$yaml" ]; then
	[ -r "$yaml" ] || { echo "$0: $yaml: cannot read" >&2; exit 1; }
	# The addresses under lb: vips: (block or flow style items).
	vips=$(awk '
		function indent(s) { match(s, /^ */); return RLENGTH }
		/^[ \t]*(#|$)/ { next }
		{ sub(/[ \t]+#.*$/, "") }
		/^[A-Za-z_][A-Za-z0-9_]*:/ { top = $0; sub(/:.*/, "", top); invips = 0 }
		top != "lb" { next }
		/^[ ]+vips:/ { invips = 1; vind = indent($0); next }
		invips && indent($0) <= vind && $0 !~ /^[ ]*-/ { invips = 0 }
		invips {
			s = $0
			while (match(s, /address:[ ]*["'\'']?[0-9A-Fa-f:.]+/)) {
				a = substr(s, RSTART, RLENGTH)
				sub(/address:[ ]*["'\'']?/, "", a)
				print a
				s = substr(s, RSTART + RLENGTH)
			}
		}' "$yaml" | sort -u)
	[ -n "$vips" ] || { echo "$0: $yaml: no lb.vips addresses" >&2; exit 1; }
fi

set_of() { # set_of 4|6: a BIRD prefix set; one that matches no VIP when empty
	s=
	for a in $vips; do
		case $a in
		*:*) [ "$1" = 6 ] && s="$s${s:+, }$a/128" ;;
		*) [ "$1" = 4 ] && s="$s${s:+, }$a/32" ;;
		esac
	done
	if [ -z "$s" ]; then
		[ "$1" = 4 ] && s=0.0.0.0/32 || s=::/128
	fi
	echo "[ $s ]"
}

# KEY=VALUE pairs as an awk program's table; VIP sets first, so that the
# command line can still override them.
{
	if [ -n "$yaml" ]; then
		echo "VIP4_SET=$(set_of 4)"
		echo "VIP6_SET=$(set_of 6)"
	fi
	for kv in "$@"; do
		case $kv in
		*=*) echo "$kv" ;;
		*) echo "$0: $kv: not KEY=VALUE" >&2; exit 2 ;;
		esac
	done
} >"${TMPDIR:-/tmp}/qlb-render.$$"
trap 'rm -f "${TMPDIR:-/tmp}/qlb-render.$$"' EXIT

awk -v tmpl="$tmpl" '
	NR == FNR { k = $0; sub(/=.*/, "", k); v = substr($0, length(k) + 2); val[k] = v; next }
	{
		out = ""
		line = $0
		while (match(line, /@[A-Z0-9_]+(=[^@]*)?@/)) {
			ph = substr(line, RSTART + 1, RLENGTH - 2)
			k = ph; d = ""; hasd = 0
			if (index(ph, "=")) { k = substr(ph, 1, index(ph, "=") - 1); d = substr(ph, index(ph, "=") + 1); hasd = 1 }
			if (k in val) r = val[k]
			else if (hasd) r = d
			else { printf "%s:%d: no value for %s\n", tmpl, FNR, k > "/dev/stderr"; bad = 1; r = "" }
			out = out substr(line, 1, RSTART - 1) r
			line = substr(line, RSTART + RLENGTH)
		}
		print out line
	}
	END { exit bad }' "${TMPDIR:-/tmp}/qlb-render.$$" "$tmpl"
