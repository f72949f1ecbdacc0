#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Fleet scenario 5. Key rotation (new, promote, retire) during downloads: all complete;
# new connections use the new config id.
# The fleet (client, router, two LB nodes, three hosts; tests/e2e/lib/fleet.sh)
# is built in network namespaces and torn down on exit; the client is
# Debian's unmodified gtlsclient.
# Usage: BUILD=build tests/e2e/fleet_rotation.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
fleet_up rotation
scenario_rotation || exit 1
