#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Fleet scenario: a host dies with no operator action, and comes back.
# Both LB nodes run `qlbctl lb run` (health checks with the defaults of
# lb.health: every 800 ms, timeout 400 ms, rise 2, fall 3). With
# downloads running, h3's servers and agent are SIGKILLed and its link
# cut; nothing is edited. Within the detection time both LB nodes take h3
# out: from then on every new connection succeeds, on h1/h2; downloads on
# h1/h2 finish byte-exact. Then h3 comes back (link, agent, servers): both
# nodes take it back by themselves and new connections reach it again.
# Detection and recovery times are measured from each node's log.
# Usage: BUILD=build tests/e2e/fleet_health.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
fleet_have_lb_run || e2e_skip "the LB nodes do not run qlbctl lb run here (FLEET_LB_RUN=0, or not in this build)"
[ -z "${FLEET_NO_BGP:-}" ] || e2e_skip "lb run needs the BGP fleet (FLEET_NO_BGP is set)"

fleet_up health
scenario_host_failure || exit 1
