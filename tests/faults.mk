# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Fault and operations test tools: the steady load of tests/netns/fault_*.sh
# and ops_*.sh (built by the $(BUILD)/tools/% rule of tests/host.mk).
FAULT_TOOLS := $(BUILD)/tools/qlb-faultload

all: $(FAULT_TOOLS)

.PHONY: fault-tools
fault-tools: $(FAULT_TOOLS)
