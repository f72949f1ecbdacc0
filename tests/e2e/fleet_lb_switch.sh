#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Fleet scenario 6. The router moves the VIP from one LB node to the other mid-download:
# the download completes.
# The fleet (client, router, two LB nodes, three hosts; tests/e2e/lib/fleet.sh)
# is built in network namespaces and torn down on exit; the client is
# Debian's unmodified gtlsclient.
# Usage: BUILD=build tests/e2e/fleet_lb_switch.sh   (exit 0 = pass, 77 = skipped)
# The router starts with the VIPs on lb1 alone (the other node's BGP
# sessions disabled), so that the switch moves the connection for sure.
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
FLEET_SINGLE_PATH=lb1
fleet_up lbswitch
scenario_lb_switch || exit 1
