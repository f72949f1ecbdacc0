#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Routing fabric: an LB node dies mid-download, three times: its link cut;
# its BGP daemon killed with the link up; its BGP daemon frozen with the
# link up and its TCP sessions open (only BFD, 100 ms x 3, notices).
# Each time every one of 16 downloads completes byte-exact through the
# other node, the node comes back and rejoins ECMP by itself, and new
# connections use it again; with `qlbctl lb run` in the fleet, also its XDP
# program detached behind qlb's back (lb run withdraws the VIPs). Prints
# the withdraw and rejoin times.
# Usage: BUILD=build tests/e2e/fleet_lb_failure.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
fleet_up lbfail
scenario_lb_failure link lb1 || exit 1
scenario_lb_failure bgp lb2 || exit 1
scenario_lb_failure freeze lb1 || exit 1
if [ -n "$FLEET_LB_RUNNING" ]; then
	scenario_lb_failure xdp lb2 || exit 1
else
	e2e_log "(no qlbctl lb run in this fleet: the data-plane-gone case is not run)"
fi
e2e_log "failover times: $(tr '\n' ';' <"$FLEET_DIR/failover.txt")"
