#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Who may register: the agent checks SO_PEERCRED against host.allow_uids /
# allow_gids (its own uid is always allowed). A process of uid 65534 (not
# listed) reaches the socket through its group but is refused with a clear
# message, and the refusal is logged; uid 1234 (listed) registers. The
# socket file is mode 0660; with allow_gids it belongs to that group, and a
# supplementary group of the peer lets it in. Every socket is on a VIP at
# PORT (the agent takes no other): uid 1234's on VIP4, uid 4321's on VIP6
# (two uids cannot share one SO_REUSEPORT group).
H_TAG=auth
source "$(dirname "$0")/../lib/host.sh"

host_setup
host_config
start_agent

mode=$(stat -c %a "$H_SOCK")
[ "$mode" = 660 ] || fail "agent socket mode $mode, expected 660"

# gid 0 keeps the connect() permission on the 0660 root:root socket file,
# so the refusal comes from the agent itself
out=$(hexec setpriv --reuid 65534 --regid 0 --clear-groups \
	"$ECHO" --workers 1 --agent "$H_SOCK" $VIP4 $PORT 2>&1) &&
	fail "uid 65534 registered: $out"
echo "$out"
echo "$out" | grep -q "uid 65534 gid 0 may not use the agent" || fail "no clear refusal"
grep -q "refused pid [0-9]* uid 65534 gid 0" "$H_DIR/agent.log" || fail "refusal not logged"

out=$(hexec setpriv --reuid 65534 --regid 0 --clear-groups \
	"$QLBCTL" agent status -s "$H_SOCK" 2>&1) && fail "uid 65534 read the status"
echo "$out"
echo "$out" | grep -q "refused" || fail "status: no clear refusal"

out=$(hexec setpriv --reuid 65534 --regid 0 --clear-groups \
	"$QLBCTL" agent promote -s "$H_SOCK" 1 2>&1) && fail "uid 65534 promoted"

nsenter --net=/run/netns/"$NS_H" setpriv --reuid 1234 --regid 0 --clear-groups \
	"$ECHO" --workers 1 --agent "$H_SOCK" $VIP4 $PORT >"$H_DIR/u1234.log" 2>&1 &
H_PIDS+=($!)
wait_ready u1234 1
[ "$(status_json | json_get '[w["uid"] for w in j["workers"]]')" = "[1234]" ] ||
	fail "uid 1234's worker not registered"
[ "$(status_json | json_get 'j["refused"]')" -ge 2 ] || fail "refusals not counted"
cexec "$LOAD" initial --count 10 $VIP4 $PORT || fail "uid 1234's worker does not answer"

# allow_gids: the socket file gets that group; a supplementary group of
# the peer (SO_PEERGROUPS) is enough, others cannot even connect.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
host_config 198.18.0.2 "  allow_gids: [4242]"
start_agent
[ "$(stat -c %g "$H_SOCK")" = 4242 ] || fail "socket group $(stat -c %g "$H_SOCK"), expected 4242"
nsenter --net=/run/netns/"$NS_H" setpriv --reuid 4321 --regid 0 --groups 4242 \
	"$ECHO" --workers 1 --agent "$H_SOCK" $VIP6 $PORT >"$H_DIR/g4242.log" 2>&1 &
H_PIDS+=($!)
wait_ready g4242 1
status_json | json_get '[w["uid"] for w in j["workers"]]' | grep -qw 4321 ||
	fail "uid 4321 (supplementary group 4242) not registered"
out=$(hexec setpriv --reuid 4321 --regid 4321 --clear-groups \
	"$ECHO" --workers 1 --agent "$H_SOCK" $VIP4 $PORT 2>&1) &&
	fail "uid 4321 without group 4242 registered: $out"
echo "$out"
log "PASS"
