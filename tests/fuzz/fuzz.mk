# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Fuzzing: libFuzzer harnesses (tests/fuzz/fuzz_*.c) built with clang,
# ASan and UBSan into $(BUILD)/fuzz/, and the XDP frame fuzzer (the unit
# test test_xdp_fuzz run at length).
#
#   make fuzz                  every harness FUZZ_SECONDS (600) each, then
#                              XDP_FUZZ_FRAMES (10 million) frames
#   make fuzz-bins             build the harnesses only
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
FUZZ_LIB_OBJS := $(patsubst ctl/%.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_SRCS     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_NAMES    := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))

$(BUILD)/fuzz/obj/%.o: ctl/%.c $(HEADERS) $(SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/libqlbfuzz.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Harnesses may include a file of ctl/ whole to reach its static parser
# (fuzz_agent_proto.c), hence the skeletons and every ctl source.
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libqlbfuzz.a $(HEADERS) $(SKELS) $(wildcard ctl/*.c) $(wildcard tests/fuzz/*.h)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(BUILD)/fuzz/libqlbfuzz.a $(LDLIBS_CTL) -lcrypto

.PHONY: fuzz-bins fuzz-smoke
fuzz-bins: $(FUZZ_BINS)

# libFuzzer's -fork mode keeps going after a crash; plain mode stops at the
# first one and saves it, which is what a reproducer needs.
fuzz: $(FUZZ_BINS) $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_xdp_fuzz.c))
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) \
		XDP_FUZZ_FRAMES=$(XDP_FUZZ_FRAMES) ./tests/fuzz/long-run $(FUZZ_NAMES)

fuzz-smoke: $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) ./tests/fuzz/smoke.sh
