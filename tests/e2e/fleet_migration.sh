#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Fleet scenario 2. gtlsclient --change-local-addr mid-download, and --nat-rebinding:
# the download completes from the same worker.
# The fleet (client, router, two LB nodes, three hosts; tests/e2e/lib/fleet.sh)
# is built in network namespaces and torn down on exit; the client is
# Debian's unmodified gtlsclient.
# Usage: BUILD=build tests/e2e/fleet_migration.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
fleet_up migration
scenario_migration || exit 1
scenario_nat_rebinding || exit 1
