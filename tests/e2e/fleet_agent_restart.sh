#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Fleet: a host agent is killed with SIGKILL mid-download and started
# again; the download completes (the data plane lives in pinned maps), the
# server's workers reconnect (qlb_client_reconnect), new connections work.
# Usage: BUILD=build tests/e2e/fleet_agent_restart.sh   (exit 0 = pass, 77 = skipped)
. "$(dirname "$0")/lib/scenarios.sh"
fleet_require_lb
fleet_up agentrs
scenario_agent_restart || exit 1
