# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# Everything the tests build, in one place (objects go through the C rule of
# the Makefile, which tracks their headers):
#   unit      every tests/unit/*.c is one binary in $(BUILD)/tests/, linked
#             with qlbctl's objects and libqlb; tests/run.sh runs them all
#   tools     tests/tools/*.c: the clients and load generators the netns
#             tests drive, in $(BUILD)/tools/ (not $(BUILD)/tests/, which
#             run.sh runs whole)
#   e2e       `make demo` and `make e2e-figures`
#   fuzz      libFuzzer harnesses, built with clang and sanitizers

LDLIBS_TEST := $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a $(LDLIBS_CTL) -lcrypto -lm

# ---- unit and BPF fixture tests ---------------------------------------------
TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRCS))
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
ALL_OBJS  += $(TEST_OBJS)

$(BUILD)/obj/tests/%.o: OBJ_CFLAGS = -Itests/unit

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a | $(BUILD)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDLIBS_TEST)

.PHONY: print-test-bins
print-test-bins:
	@echo $(TEST_BINS)

# ---- test tools ----------------------------------------------------------------
# qlb-hostload, qlb-rpattach: backend-host clients (tests/netns/host_*.sh);
# qlb-faultload: the steady load of tests/netns/fault_*.sh and ops_*.sh.
# Each tests/tools/qlb-NAME.c is a tool; tests/tools/NAME_*.c, if any, are
# more of its sources (qlb-rpsteer: rpsteer_check.c, rpsteer_bench.c).
TOOL_SRCS := $(wildcard tests/tools/qlb-*.c)
TOOL_PART_SRCS := $(filter-out $(TOOL_SRCS),$(wildcard tests/tools/*.c))
TOOL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TOOL_SRCS) $(TOOL_PART_SRCS))
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
ALL_OBJS  += $(TOOL_OBJS)
tool_parts = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/tools/$(patsubst qlb-%,%,$(1))_*.c))
$(foreach t,$(TOOL_BINS),$(eval $(t): $(call tool_parts,$(notdir $(t)))))

$(BUILD)/tools:
	$(Q)mkdir -p $@

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a | $(BUILD)/tools
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS_TEST)

# `make` builds them too, so the netns tests find them after a plain build.
all: $(TOOL_BINS)

.PHONY: host-tools fault-tools test-tools
test-tools host-tools fault-tools: $(TOOL_BINS)

# ---- end to end ----------------------------------------------------------------
# `make demo` builds what is missing, then runs a whole fleet in network
# namespaces with an unmodified QUIC client, narrated (tests/e2e/lib/demo.sh).
# `make e2e-figures` prints throughput, time to first byte and the LB
# program's cost per packet (bench/e2e_figures.sh). Both need root.
.PHONY: demo e2e-figures
demo:
	$(Q)./deploy/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all examples
	$(Q)BUILD=$(BUILD) bash tests/e2e/lib/demo.sh

e2e-figures: all examples
	$(Q)BUILD=$(BUILD) bash bench/e2e_figures.sh
	$(Q)BUILD=$(BUILD) FLEET_PLAINTEXT=1 bash bench/e2e_figures.sh

# ---- fuzzing -------------------------------------------------------------------
# libFuzzer harnesses (tests/fuzz/fuzz_*.c) built with clang, ASan and
# UBSan into $(BUILD)/fuzz/, and the XDP frame fuzzer (the unit test
# test_xdp_fuzz run at length).
#
#   make fuzz                  every harness FUZZ_SECONDS (600) each, then
#                              XDP_FUZZ_FRAMES (10 million) frames
#   make fuzz-bins             build the harnesses only
#   make fuzz-smoke            what `make test` runs: each harness briefly
#   make fuzz FUZZ_SECONDS=30 XDP_FUZZ_FRAMES=1000000
#
# Seeds: tests/fuzz/corpus/NAME/ (committed). New inputs found during a run
# go to $(BUILD)/fuzz/corpus/NAME/, crashes to $(BUILD)/fuzz/crashes/;
# tests/fuzz/crashes/ keeps reproducers worth committing.
FUZZ_CC      ?= $(CLANG)
FUZZ_SECONDS ?= 600
XDP_FUZZ_FRAMES ?= 10000000
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(FUZZ_SAN) -D_GNU_SOURCE -Iinclude -Ictl \
		-I$(BUILD)/skel -Itests/unit -fno-strict-aliasing \
		-Wall -Wno-unused-parameter -Wno-unused-function

# The code under test, instrumented for coverage: every ctl/ and ctl/lib/
# source except qlbctl's main(), by wildcard, so that splitting a file in
# ctl/ keeps the harnesses linking. It is an archive: a harness pulls in
# only the members it needs (and one that includes a .c whole pulls in
# none of that file's).
FUZZ_LIB_SRCS := $(filter-out ctl/qlbctl.c,$(wildcard ctl/*.c ctl/lib/*.c))
FUZZ_LIB_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_SRCS     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_OBJS     := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_SRCS))
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_NAMES    := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
ALL_OBJS      += $(FUZZ_LIB_OBJS) $(FUZZ_OBJS)

$(BUILD)/fuzz/obj/%.o: %.c | $(SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_OBJ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/fuzz/obj/ctl/%.o: FUZZ_OBJ_CFLAGS = -fsanitize=fuzzer-no-link
$(BUILD)/fuzz/obj/tests/%.o: FUZZ_OBJ_CFLAGS = -fsanitize=fuzzer

MEMBERS_fuzz_libqlbfuzz = $(FUZZ_LIB_OBJS)
$(BUILD)/fuzz/libqlbfuzz.a: $(FUZZ_LIB_OBJS) $(BUILD)/fuzz/libqlbfuzz.list
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(BUILD)/fuzz/libqlbfuzz.a
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_CTL) -lcrypto

.PHONY: fuzz-bins fuzz-smoke
fuzz-bins: $(FUZZ_BINS)

# libFuzzer's -fork mode keeps going after a crash; plain mode stops at the
# first one and saves it, which is what a reproducer needs.
fuzz: $(FUZZ_BINS) $(filter %/test_xdp_fuzz,$(TEST_BINS))
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) \
		XDP_FUZZ_FRAMES=$(XDP_FUZZ_FRAMES) ./tests/fuzz/long-run $(FUZZ_NAMES)

fuzz-smoke: $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) ./tests/fuzz/smoke.sh
