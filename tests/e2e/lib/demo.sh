#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# make demo: a whole qlb fleet in network namespaces with an unmodified
# QUIC client, narrated. Builds the fleet (lib/fleet.sh), runs a selection
# of the scenarios of tests/e2e/ on it (request, migration, server restart,
# key rotation), prints a summary table and the LB node's counters, and
# tears everything down. Unattended; exit 0 when every scenario passed.
# Usage: BUILD=build tests/e2e/lib/demo.sh
. "$(dirname "${BASH_SOURCE[0]}")/scenarios.sh"

DEMO_SCENARIOS=${DEMO_SCENARIOS:-"request ecmp migration nat_rebinding restart rotation lb_switch lb_node_failure agent_restart host_failure"}

cat <<'EOF'
qlb demo: an HTTP/3 fleet behind QUIC-LB-aware load balancers
=============================================================
  client (gtlsclient, unmodified)
     |
  router --VIPs--> lb1 | lb2  (XDP, native: route each QUIC packet by its
     |     BGP+ECMP             connection ID, encapsulate toward the host that
     |                          owns it; both announce the VIPs over BGP (BIRD,
     |                          BFD) and the router spreads clients over both)
     +-----------> h1, h2, h3 (decapsulate; SK_REUSEPORT picks the worker the
                               CID names; qlb-h3server workers answer the
                               client directly)
VIPs 198.18.100.1:443 and [2001:db8:100::1]:443, all in network namespaces.

EOF

if ! fleet_have_lb; then
	echo "NOTE: this build has no LB node yet (qlbctl lb); the router sends the"
	echo "      VIPs straight to h1, and the scenarios run against h1 alone."
	echo
	FLEET_NO_LB=1
fi

E2E_RESULTS=$(mktemp /tmp/qlbt-demo-results.XXXXXX)
E2E_CLEANUP_CMDS+=("rm -f '$E2E_RESULTS'")
e2e_log "building the fleet: 7 namespaces, 3 host agents, 3 servers x $FLEET_WORKERS workers${FLEET_NO_LB:+ (no LB nodes)}"
fleet_up demo
e2e_log "fleet up; VIPs routed to $FLEET_VIA"
echo

failed=0
for s in $DEMO_SCENARIOS; do
	"scenario_$s" || failed=$((failed + 1))
	echo
done

echo "Summary"
echo "-------"
{
	echo "scenario|result|host/worker|bytes|seconds"
	cat "$E2E_RESULTS"
} | column -t -s '|'
echo

if [ -z "${FLEET_NO_LB:-}" ]; then
	for n in "${FLEET_LBS[@]}"; do
		echo "qlbctl lb stats on $n:"
		fleet_lb_stats "$n" 2>&1 | sed 's/^/  /'
		echo
	done
fi
echo "qlbctl agent status on h1:"
e2e_in "$(fleet_ns h1)" "$QLBCTL" agent status -f "$FLEET_DIR/h1.yaml" 2>&1 | sed 's/^/  /'
echo

if [ $failed = 0 ]; then
	e2e_log "demo: all scenarios passed; tearing the fleet down"
else
	e2e_log "demo: $failed scenario(s) failed; tearing the fleet down"
	exit 1
fi
