#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Keys stay secret: two QUIC-LB keys (one inline, one in a key file) never
# show in what qlbctl prints, logs or exports: validate (plain and -j, a
# valid file and files with mistakes), rotate status/new, lb apply/status/
# stats/metrics, agent status and the agent's log. Key files group or
# others may read are refused. What the LB node and the agent pin under
# bpffs (the maps hold the round keys) and the agent's socket directory
# are closed to group and others. Runs in its own network namespace
# (generic XDP on a veth pair inside it). Every check runs; the failures
# are listed at the end.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/yaml.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac # make passes it absolute
QLBCTL=$BUILD/qlbctl
NS=qlbt-seckeys-$$
D=/tmp/qlbt-seckeys-$$
PIN=/sys/fs/bpf/qlbt-seckeys-$$
AGENT_PID=
fails=()

log() { echo "[$(date +%T)] $*"; }
bad() { echo "FAIL: $*"; fails+=("$*"); }
nsx() { nsenter --net=/run/netns/"$NS" "$@"; }

cleanup() {
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -f "$D/qlb.yaml" ] && nsx "$QLBCTL" lb detach -f "$D/qlb.yaml" >/dev/null 2>&1
	[ -f "$D/qlb.yaml" ] && nsx "$QLBCTL" agent detach -f "$D/qlb.yaml" >/dev/null 2>&1
	rm -rf "$PIN"
	ip netns del "$NS" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

[ -x "$QLBCTL" ] || { echo "build first: make BUILD=$BUILD"; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$D"
chmod 700 "$D"
ip netns add "$NS" || exit 1
ip link add sk0 netns "$NS" type veth peer name sk1 netns "$NS" || exit 1
nsx ip link set lo up
nsx ip link set sk0 up
nsx ip link set sk1 up

hexkey() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
K1=$(hexkey)		# inline
K2=$(hexkey)		# key file
echo "$K2" >"$D/k2.key"
chmod 600 "$D/k2.key"

write_cfg() {	# write_cfg FILE [KEY1_TEXT]
	cat >"$1" <<EOT
$(yaml_quic_lb_cfg1)
      key: "${2:-$K1}"
      state: active
    - id: 2
      server_id_len: 3
      nonce_len: 5
      key_file: k2.key
      state: routable
lb:
  interface: sk0
  xdp_mode: generic
  gateway_mac: "02:00:00:00:00:01"
  encap_source_v4: 198.18.0.10
  pin_dir: $PIN/lb
  maglev_table_size: 251
  vips:
    - address: 198.18.1.1
      port: 443
hosts:
  - name: web1
    address: 198.18.0.21
    server_ids: {1: "0a10", 2: "0a1000"}
host:
  name: web1
  interface: sk1
  agent_socket: $D/run/agent.sock
  pin_dir: $PIN/host
  allow_uids: [0]
EOT
}
write_cfg "$D/qlb.yaml"

# no_key WHAT FILE...: none of the keys (any case) in the files
no_key() {
	local what=$1 k; shift
	for k in "$K1" "$K2" ${EXTRA_KEYS:-}; do
		if grep -qi "$k" "$@" 2>/dev/null; then
			bad "$what: a key appears in its output"
			grep -i "$k" "$@" | head -3 | cut -c1-200
		fi
	done
}

# run WHAT CMD...: run in the namespace, stdout+stderr to $D/out, check it
run() {
	local what=$1; shift
	nsx "$@" >"$D/out" 2>&1
	local rc=$?
	no_key "$what" "$D/out"
	return $rc
}

log "validate"
run "validate" "$QLBCTL" validate -f "$D/qlb.yaml" || bad "validate refused the test file: $(cat "$D/out")"
run "validate -j" "$QLBCTL" -j validate -f "$D/qlb.yaml" || bad "validate -j refused the test file"

log "key file permissions"
for mode in 640 604 644 660 606; do
	chmod "$mode" "$D/k2.key"
	if run "validate (key file $mode)" "$QLBCTL" validate -f "$D/qlb.yaml"; then
		bad "key file of mode $mode accepted"
	elif ! grep -q "has mode 0$mode" "$D/out"; then
		bad "key file of mode $mode: no clear message: $(cat "$D/out")"
	fi
done
for mode in 600 400; do
	chmod "$mode" "$D/k2.key"
	run "validate (key file $mode)" "$QLBCTL" validate -f "$D/qlb.yaml" ||
		bad "key file of mode $mode refused: $(cat "$D/out")"
done
chmod 600 "$D/k2.key"

log "validate on files with a mistake next to a key"
# a typo in the key itself (one character too many), and a valid key
# beside an error elsewhere: the messages must not quote the key
write_cfg "$D/typo.yaml" "${K1}0"
run "validate (key typo)" "$QLBCTL" validate -f "$D/typo.yaml" && bad "a 33-digit key was accepted"
run "validate -j (key typo)" "$QLBCTL" -j validate -f "$D/typo.yaml"
write_cfg "$D/typo2.yaml" "${K1}:"
run "validate (key with a stray colon)" "$QLBCTL" validate -f "$D/typo2.yaml" && bad "a key with ':' was accepted"
# a flow mapping with no space after "key:" makes "key:<hex>" one scalar:
# an unknown key whose name is the key
cat >"$D/nospace.yaml" <<EOT
quic_lb:
  configs:
    - {id: 1, server_id_len: 2, nonce_len: 6, key:$K1}
hosts:
  - {name: web1, address: 198.18.0.21, server_id: "0a10"}
EOT
run "validate (key: without a space, flow mapping)" "$QLBCTL" validate -f "$D/nospace.yaml" &&
	bad "key:HEX (no space) accepted"
run "validate -j (key: without a space)" "$QLBCTL" -j validate -f "$D/nospace.yaml"
# a quote left open above the key: the scalar runs on over the key line
cat >"$D/quote.yaml" <<EOT
hosts:
  - name: web1
    address: "198.18.0.21
quic_lb:
  configs:
    - id: 1
      server_id_len: 2
      nonce_len: 6
      key: $K1
"
EOT
run "validate (unclosed quote above the key)" "$QLBCTL" validate -f "$D/quote.yaml" &&
	bad "a file with an unclosed quote was accepted"
write_cfg "$D/other.yaml"
sed -i 's/nonce_len: 6/nonce_len: 99/' "$D/other.yaml"
run "validate (other error)" "$QLBCTL" validate -f "$D/other.yaml" && bad "nonce_len 99 accepted"

log "rotate"
run "rotate status" "$QLBCTL" rotate status -f "$D/qlb.yaml" || bad "rotate status failed: $(cat "$D/out")"
run "rotate status -j" "$QLBCTL" -j rotate status -f "$D/qlb.yaml" || bad "rotate status -j failed"
cp "$D/qlb.yaml" "$D/rot.yaml"
if run "rotate new" "$QLBCTL" rotate new -f "$D/rot.yaml"; then
	nk=$(grep -o 'key_file: *[^ ]*' "$D/rot.yaml" | awk '{print $2}' | grep -v '^k2.key$' | head -1)
	if [ -n "$nk" ] && [ -f "$D/$nk" ]; then
		m=$(stat -c %a "$D/$nk")
		[ "$m" = 600 ] || bad "rotate new wrote key file $nk with mode $m"
		new=$(tr -d ' \n' <"$D/$nk")
		[ ${#new} = 32 ] || bad "rotate new: key file $nk does not hold 32 hex digits"
		grep -qi "$new" "$D/out" "$D/rot.yaml" &&
			bad "rotate new: the new key is printed or written inline"
		EXTRA_KEYS=$new
		run "rotate status after new" "$QLBCTL" -j rotate status -f "$D/rot.yaml"
		EXTRA_KEYS=
	else
		bad "rotate new: no new key file found in $D/rot.yaml"
	fi
else
	bad "rotate new failed: $(cat "$D/out")"
fi

log "LB node"
if run "lb apply" "$QLBCTL" lb apply -f "$D/qlb.yaml"; then
	run "lb status" "$QLBCTL" lb status -f "$D/qlb.yaml" || bad "lb status failed"
	run "lb status -j" "$QLBCTL" -j lb status -f "$D/qlb.yaml" || bad "lb status -j failed"
	cut -c1-160 "$D/out"
	run "lb stats" "$QLBCTL" lb stats -f "$D/qlb.yaml" || bad "lb stats failed"
	run "lb stats -j" "$QLBCTL" -j lb stats -f "$D/qlb.yaml" || bad "lb stats -j failed"
	run "lb metrics" "$QLBCTL" lb metrics -f "$D/qlb.yaml" || bad "lb metrics failed"
	# the pins hold the round keys (the first round key is the key)
	open_pins=$(find "$PIN/lb" -perm /077 2>/dev/null | grep -v "^$PIN/lb$")
	[ -z "$open_pins" ] || bad "pins group/others may open: $open_pins"
	ls -l "$PIN/lb"
	m=$(stat -c %a "$PIN/lb")
	[ $((8#$m & 8#022)) -eq 0 ] || bad "pin dir $PIN/lb has mode $m (writable by others)"
else
	bad "lb apply failed: $(cat "$D/out")"
fi

log "host agent"
mkdir -p "$D/run"
nsenter --net=/run/netns/"$NS" "$QLBCTL" agent -f "$D/qlb.yaml" >"$D/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 50); do
	[ -S "$D/run/agent.sock" ] && nsx "$QLBCTL" agent status -s "$D/run/agent.sock" >/dev/null 2>&1 && break
	sleep 0.1
done
if [ -S "$D/run/agent.sock" ]; then
	run "agent status" "$QLBCTL" agent status -s "$D/run/agent.sock" || bad "agent status failed: $(cat "$D/out")"
	run "agent status -j" "$QLBCTL" -j agent status -s "$D/run/agent.sock" || bad "agent status -j failed"
	cut -c1-160 "$D/out"
	m=$(stat -c %a "$D/run/agent.sock")
	[ $((8#$m & 8#007)) -eq 0 ] || bad "agent socket mode $m: others may connect"
	open_pins=$(find "$PIN/host" -perm /077 2>/dev/null | grep -v "^$PIN/host$")
	[ -z "$open_pins" ] || bad "agent pins group/others may open: $open_pins"
	m=$(stat -c %a "$PIN/host")
	[ $((8#$m & 8#077)) -eq 0 ] || bad "agent pin dir mode $m"
	# SIGHUP reload logs too
	kill -HUP "$AGENT_PID"
	sleep 0.5
	tr '\0' ' ' </proc/"$AGENT_PID"/cmdline >"$D/cmdline"
	no_key "agent command line" "$D/cmdline"
else
	bad "the agent did not come up: $(tail -5 "$D/agent.log")"
fi
kill "$AGENT_PID" 2>/dev/null
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
no_key "agent log" "$D/agent.log"
tail -3 "$D/agent.log"

echo
if [ ${#fails[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${fails[@]}"
	exit 1
fi
log "PASS"
