# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Unit and BPF fixture tests: every tests/unit/*.c is one test binary,
# linked with qlbctl's objects and libqlb, run by tests/run.sh.
TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a $(SKELS) | $(BUILD)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a $(LDLIBS_CTL) -lcrypto -lm

.PHONY: print-test-bins
print-test-bins:
	@echo $(TEST_BINS)
