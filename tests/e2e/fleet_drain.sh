#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Fleet scenario 7. A host is drained mid-download: its downloads complete, new connections
# avoid it. A host goes down: new connections still succeed.
# The fleet (client, router, two LB nodes, three hosts; tests/e2e/lib/fleet.sh)
# is built in network namespaces and torn down on exit; the client is
# Debian's unmodified gtlsclient.
# Usage: BUILD=build tests/e2e/fleet_drain.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
fleet_up drain
scenario_drain || exit 1
