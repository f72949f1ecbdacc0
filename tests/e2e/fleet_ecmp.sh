#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Routing fabric: the router learns the VIPs over BGP (BIRD) from both LB
# nodes and spreads 16 concurrent downloads over both by ECMP (both nodes'
# XDP counters grow; all complete byte-exact); then a client migrates
# mid-download until its new 4-tuple hashes to the other LB node, and
# keeps its connection.
# The fleet (client, router, two LB nodes, three hosts; tests/e2e/lib/fleet.sh)
# is built in network namespaces and torn down on exit; the client is
# Debian's unmodified gtlsclient.
# Usage: BUILD=build tests/e2e/fleet_ecmp.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
fleet_up ecmp
scenario_ecmp || exit 1
scenario_migration_ecmp || exit 1
