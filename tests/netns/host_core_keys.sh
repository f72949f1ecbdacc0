#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Keys stay out of core dumps. With RLIMIT_CORE unlimited (and the
# machine's core_pattern writing a file in the working directory):
#  - the agent, which holds every key of its file, dumps no core at all
#    when it crashes (PR_SET_DUMPABLE 0);
#  - a server using libqlb still dumps its core (it is the server's
#    business), but the core holds no byte sequence of the key its agent
#    sent it (the client's memory is MADV_DONTDUMP).
# The key is looked for as its 16 raw bytes (AES-128's first round key is
# the key itself, so round keys count too).
H_TAG=corekeys
source "$(dirname "$0")/../lib/host.sh"

KEY=8f95f09245765f80256934e50c66207f # config 1 of host_config
pattern=$(cat /proc/sys/kernel/core_pattern)
case $pattern in
core | core.* | core%*) ;;
*)
	echo "SKIP: core_pattern is '$pattern', not a file in the working directory"
	exit 0
	;;
esac
has_key() {
	python3 -c 'import sys; sys.exit(0 if bytes.fromhex(sys.argv[1]) in open(sys.argv[2], "rb").read() else 1)' "$KEY" "$1"
}
core_of() { ls "$1"/core* 2>/dev/null | head -1; }

host_setup
host_config
mkdir -p "$H_DIR/agent-cwd" "$H_DIR/echo-cwd"

# the agent
(cd "$H_DIR/agent-cwd" && ulimit -c unlimited &&
	exec nsenter --net=/run/netns/"$NS_H" "$QLBCTL" agent -f "$H_CFG" >>"$H_DIR/agent.log" 2>&1) &
AGENT_PID=$!
for i in $(seq 1 100); do
	status_json >/dev/null 2>&1 && break
	sleep 0.1
done
status_json >/dev/null || fail "the agent did not come up"

# a server with the keys
(cd "$H_DIR/echo-cwd" && ulimit -c unlimited &&
	exec nsenter --net=/run/netns/"$NS_H" "$ECHO" --agent "$H_SOCK" --workers 2 $VIP4 $PORT >"$H_DIR/w.log" 2>&1) &
H_PIDS+=($!)
wait_ready w 2
cexec "$LOAD" initial --count 10 $VIP4 $PORT >/dev/null || fail "the workers do not answer"

wpid=$(sed -n 's/^qlb-echo: worker [0-9]* generation [0-9]* pid \([0-9]*\) ready$/\1/p' "$H_DIR/w.log" | head -1)
kill -SEGV "$wpid"
for i in $(seq 1 100); do
	c=$(core_of "$H_DIR/echo-cwd")
	[ -n "$c" ] && ! kill -0 "$wpid" 2>/dev/null && break
	sleep 0.1
done
c=$(core_of "$H_DIR/echo-cwd")
[ -n "$c" ] || fail "the server dumped no core: cannot check it (RLIMIT_CORE?)"
sleep 0.5 # the kernel writes it out
log "server core: $c ($(stat -c %s "$c") bytes)"
has_key "$c" && fail "the key is in the server's core dump"

kill -SEGV "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
sleep 0.5
c=$(core_of "$H_DIR/agent-cwd")
if [ -n "$c" ]; then
	has_key "$c" && log "the agent's core holds the key"
	fail "the agent dumped a core ($c)"
fi
log "PASS"
