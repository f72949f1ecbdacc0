#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# hash_secret on a host: the agent writes qlb_host_dcid_seed() of the
# secret into qlb_rp_flowcfg[0].dcid_seed (checked against the function
# written out again here), and Initials with client-chosen DCIDs, hashed
# from that seed, still spread over every worker of the working generation
# with each DCID meeting one worker. Which worker a DCID meets is not
# compared with the unkeyed hash here (tests/unit/test_xdp_keyed.c does that
# for the LB node's hash only).
H_TAG=keyed
source "$(dirname "$0")/../lib/host.sh"

SECRET=00112233445566778899aabbccddeeff
host_setup
host_config 198.18.0.2 "hash_secret: $SECRET"
start_agent
start_echo gen1 --workers 4 --generation 1 :: $PORT
wait_ready gen1 4

want=$(python3 - "$SECRET" <<'EOF'
import struct, sys
k = struct.unpack("<4I", bytes.fromhex(sys.argv[1]))
M = 0xffffffff
h = 0x811c9dc5 ^ 0x68737464
for w in k:
    h = ((h ^ w) * 16777619) & M
    h ^= h >> 15
h ^= h >> 16; h = (h * 0x85ebca6b) & M
h ^= h >> 13; h = (h * 0xc2b2ae35) & M
h ^= h >> 16
print(h or 1)
EOF
)
got=$(bpftool -j map lookup pinned "$H_PIN/qlb_rp_flowcfg" key 0 0 0 0 |
	python3 -c 'import json,struct,sys; v=json.load(sys.stdin)["value"]; b=bytes(int(x,16) for x in v); print(struct.unpack_from("<I", b, 12)[0])') ||
	fail "cannot read qlb_rp_flowcfg"
log "dcid_seed: $got (want $want)"
[ "$got" = "$want" ] || fail "the agent wrote dcid_seed $got, want $want"

out=$(cexec "$LOAD" initial --count 200 --expect-gen 1 $VIP4 $PORT) || {
	echo "$out"; fail "Initials split or lost under a hash_secret"; }
echo "$out"
nw=$(echo "$out" | sed -n 's/.* workers=\([0-9]*\) .*/\1/p')
[ "$nw" = 4 ] || fail "Initials reached $nw workers, expected all 4"
log "PASS"
