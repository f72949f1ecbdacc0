# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Backend-host test tools (tests/tools/*.c): clients the netns tests
# (tests/netns/host_*.sh) drive. They live in $(BUILD)/tools, not
# $(BUILD)/tests, because tests/run.sh runs everything in the latter.
HOST_TOOLS := $(BUILD)/tools/qlb-hostload $(BUILD)/tools/qlb-rpattach

$(BUILD)/tools:
	$(Q)mkdir -p $@

$(BUILD)/tools/%: tests/tools/%.c tests/tools/tool_util.h $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a $(HEADERS) $(SKELS) | $(BUILD)/tools
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a $(LDLIBS_CTL)

# `make` builds them too, so the netns tests find them after a plain build.
all: $(HOST_TOOLS)

.PHONY: host-tools
host-tools: $(HOST_TOOLS)
