# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Benchmarks: every bench/*.c (not *.bpf.c: those are BPF objects, built
# by the Makefile) is one program, linked like the tests;
# bench/run.sh runs them all and every bench/*.sh. They print figures and
# never fail on a time.
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(BENCH_SRCS))
ALL_OBJS   += $(BENCH_OBJS)

$(BUILD)/obj/bench/%.o: OBJ_CFLAGS = -Ibench -Itests/unit

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a | $(BUILD)/bench
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a $(LDLIBS_CTL) -lcrypto -lm

.PHONY: print-bench-bins
print-bench-bins:
	@echo $(BENCH_BINS)

# bench/bench_rpsteer.sh runs this tool (tests/tools/qlb-rpsteer.c)
BENCH_BINS += $(BUILD)/tools/qlb-rpsteer
