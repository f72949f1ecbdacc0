# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=bash
#
# Helpers shared by the end-to-end tests: namespaces and veth pairs that are
# always torn down, background processes started in their own process group
# (so a kill reaches their workers too), test certificates, bounded waits,
# and a gtlsclient wrapper.
#
# Rules every test here keeps: only namespaces it creates, only addresses
# from 198.18.0.0/15 and 2001:db8::/32, every wait bounded, teardown on exit
# and on failure.

set -u
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$E2E_ROOT/$BUILD ;; esac
QLBCTL=$BUILD/qlbctl
H3SERVER=$BUILD/qlb-h3server
GTLSCLIENT=${GTLSCLIENT:-gtlsclient}

E2E_NS=()		# namespaces to delete
E2E_PGIDS=()		# process groups to stop
E2E_CLEANUP_CMDS=()	# extra commands run first at teardown
E2E_RM_DIRS=()		# removed last (e.g. bpffs pin directories)
E2E_TMP=
E2E_NAME=
E2E_T0=$(date +%s%N)

# e2e_log MSG: one timestamped line of narration on stdout.
e2e_log() {
	printf '[%6.2fs] %s\n' "$(( ($(date +%s%N) - E2E_T0) / 10000000 ))e-2" "$*"
}

e2e_fail() {
	echo "FAIL: $*"
	e2e_dump_logs
	exit 1
}

# e2e_skip REASON: this test cannot run here. Printed loudly; exits 77, which
# tests/run.sh does not count as a pass.
e2e_skip() {
	echo "SKIP: $*"
	exit 77
}

e2e_dump_logs() {
	[ -n "$E2E_TMP" ] || return 0
	local f
	for f in "$E2E_TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "---- last lines of $(basename "$f") ----"
		tail -n 25 "$f"
	done
}

e2e_cleanup() {
	local rc=$? c pg ns
	trap - EXIT INT TERM
	for c in "${E2E_CLEANUP_CMDS[@]}"; do
		eval "$c" >/dev/null 2>&1 || true
	done
	# SIGINT first (the servers stop at once), then SIGKILL what is left.
	for pg in "${E2E_PGIDS[@]}"; do
		kill -INT -- "-$pg" 2>/dev/null || true
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		local alive=0
		for pg in "${E2E_PGIDS[@]}"; do
			kill -0 -- "-$pg" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.2
	done
	for pg in "${E2E_PGIDS[@]}"; do
		kill -KILL -- "-$pg" 2>/dev/null || true
	done
	for ns in "${E2E_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	for c in "${E2E_RM_DIRS[@]}"; do
		rm -rf -- "$c"
	done
	if [ -n "$E2E_TMP" ] && [ -z "${E2E_KEEP:-}" ]; then
		rm -rf "$E2E_TMP"
	fi
	exit $rc
}

# e2e_init NAME: temp dir, teardown trap, root check, binaries built.
e2e_init() {
	E2E_NAME=$1
	[ "$(id -u)" = 0 ] || e2e_skip "needs root (network namespaces)"
	command -v "$GTLSCLIENT" >/dev/null ||
		e2e_skip "gtlsclient not installed (Debian package ngtcp2-client)"
	E2E_TMP=$(mktemp -d "/tmp/qlbt-$E2E_NAME.XXXXXX")
	trap e2e_cleanup EXIT
	trap 'exit 1' INT TERM
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	# make test builds `all`, not the examples: bring the server up to date
	make -C "$E2E_ROOT" --no-print-directory -s BUILD="$BUILD" examples >&2 ||
		e2e_fail "cannot build qlb-h3server"
}

# e2e_ns NAME: a new namespace with loopback up.
e2e_ns() {
	ip netns add "$1" || e2e_fail "cannot create namespace $1"
	E2E_NS+=("$1")
	ip -n "$1" link set lo up
}

# e2e_veth NS1 IF1 NS2 IF2 [MTU]: a veth pair between two namespaces, up.
e2e_veth() {
	ip link add "$2" netns "$1" mtu "${5:-1500}" type veth \
		peer name "$4" netns "$3" mtu "${5:-1500}" ||
		e2e_fail "cannot create veth $2/$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# e2e_addr NS IF ADDR/PLEN: add an address (IPv6 without DAD delay).
e2e_addr() {
	case $3 in
	*:*) ip -n "$1" addr add "$3" dev "$2" nodad ;;
	*) ip -n "$1" addr add "$3" dev "$2" ;;
	esac
}

# e2e_in NS CMD...: run in a namespace, keeping /sys/fs/bpf (nsenter).
e2e_in() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# e2e_bg LOGNAME NS CMD...: start CMD in NS in its own process group,
# output to $E2E_TMP/LOGNAME.log. Sets E2E_LAST_PID.
e2e_bg() {
	local name=$1 ns=$2
	shift 2
	setsid nsenter --net="/run/netns/$ns" "$@" >>"$E2E_TMP/$name.log" 2>&1 &
	E2E_LAST_PID=$!
	E2E_PGIDS+=("$E2E_LAST_PID")
}

# e2e_stop PID [SIGNAL]: signal one background process group.
e2e_stop() {
	kill "-${2:-INT}" -- "-$1" 2>/dev/null || true
}

# e2e_wait_log FILE PATTERN COUNT SECS: wait until FILE has COUNT lines
# matching the extended regex PATTERN.
e2e_wait_log() {
	local file=$1 pat=$2 count=$3 deadline=$((SECONDS + $4))
	while [ $SECONDS -lt $deadline ]; do
		local n
		n=$(grep -cE -- "$pat" "$file" 2>/dev/null)
		[ "${n:-0}" -ge "$count" ] && return 0
		sleep 0.1
	done
	return 1
}

# e2e_certs DIR NAME ADDR...: a self-signed ECDSA certificate for NAME and
# the IP addresses ADDR, made fresh for each run (never committed), with
# GnuTLS's certtool (gnutls-bin, as the client).
e2e_certs() {
	local dir=$1 name=$2 a
	shift 2
	{
		echo "cn = \"$name\""
		echo "dns_name = \"$name\""
		for a in "$@"; do echo "ip_address = \"$a\""; done
		echo "expiration_days = 1"
		echo "signing_key"
		echo "encryption_key"
		echo "tls_www_server"
	} >"$dir/cert.tmpl"
	certtool --generate-privkey --key-type=ecdsa --outfile "$dir/key.pem" \
		>/dev/null 2>&1 &&
		certtool --generate-self-signed --load-privkey "$dir/key.pem" \
			--template "$dir/cert.tmpl" --outfile "$dir/cert.pem" >/dev/null 2>&1 ||
		e2e_fail "cannot make a test certificate (certtool)"
}

# e2e_get NS OUTDIR SECS HOST PORT [gtlsclient options...] URI...
# Runs Debian's gtlsclient, downloads into OUTDIR. Returns its status.
e2e_get() {
	local ns=$1 out=$2 secs=$3 host=$4 port=$5
	shift 5
	mkdir -p "$out"
	timeout --kill-after=2 "$secs" nsenter --net="/run/netns/$ns" \
		"$GTLSCLIENT" -q --exit-on-all-streams-close --timeout=10s \
		--download="$out" "$host" "$port" "$@" </dev/null
}

# e2e_size FILE: size in bytes, 0 when missing.
e2e_size() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# e2e_field FILE KEY: value of KEY=VALUE in a /whoami answer.
e2e_field() {
	tr ' ' '\n' <"$1" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1
}

# e2e_ms: monotonic-ish milliseconds, for timings.
e2e_ms() {
	echo $(($(date +%s%N) / 1000000))
}
