# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# qlb top-level build. Everything goes to build/ (BUILD=dir elsewhere).
# `make help` lists targets. This file holds the variables, the BPF and C
# compile rules and the libraries; tests/tests.mk, bench/bench.mk and
# examples/examples.mk add the programs of their area.
#
# Dependencies: every object is compiled with -MMD -MP and its .d file is
# included, so an object depends on exactly the headers it includes. The
# BPF skeletons are generated headers: they are order-only prerequisites of
# every C object (they must exist before the first compile, when no .d file
# says who includes what) and real prerequisites, through the .d files, of
# the objects that include them.

BUILD    ?= build
# One spelling of every target: a .d file written under an absolute BUILD
# must name the same target as a later make with a relative one.
override BUILD := $(abspath $(BUILD))
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH:= $(shell $(CC) -print-multiarch 2>/dev/null)
V        ?= 0
WERROR   ?= 0

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

# ---- flags ---------------------------------------------------------------
WARN     := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN     += -Werror
endif
CFLAGS   ?= -O2 -g
CFLAGS   += $(EXTRA_CFLAGS) $(WARN) -D_GNU_SOURCE -Iinclude -Ictl -I$(BUILD)/skel -fno-strict-aliasing
LDLIBS_BPF := $(shell pkg-config --libs libxdp libbpf 2>/dev/null || echo -lxdp -lbpf) -lelf -lz
LDLIBS_CTL := $(LDLIBS_BPF) -lyaml
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Wno-unused-function \
	-D__TARGET_ARCH_$(ARCH) -Iinclude -I/usr/include/$(MULTIARCH)
# The .d file beside the object, naming the object itself as the target.
DEPFLAGS  = -MMD -MP -MT $@ -MF $(@:.o=.d)

# ---- sources ---------------------------------------------------------------
BPF_SRCS  := $(wildcard xdp/*.bpf.c reuseport/*.bpf.c tests/bpf/*.bpf.c bench/*.bpf.c)
BPF_OBJS  := $(patsubst %.bpf.c,$(BUILD)/bpf/%.bpf.o,$(notdir $(BPF_SRCS)))
SKELS     := $(patsubst %.bpf.c,$(BUILD)/skel/%.skel.h,$(notdir $(BPF_SRCS)))
LIB_SRCS  := $(wildcard ctl/lib/*.c)
LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
# every ctl/*.c but the main() goes into libqlbctl.a: a new file in ctl/ is
# picked up without an edit here.
CTL_SRCS  := $(filter-out ctl/qlbctl.c,$(wildcard ctl/*.c))
CTL_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(CTL_SRCS))
ECHO_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard ctl/echo/*.c))
HEADERS   := $(wildcard include/qlb/*.h include/qlb/abi/*.h ctl/*.h ctl/lib/*.h xdp/*.h reuseport/*.h)
LIBQLB_SO := $(BUILD)/libqlb.so.0
# Everything directly in include/qlb/ is public and installed; the internal
# ABIs between qlb's own parts live in include/qlb/abi/ and are not.
PUB_HDRS  := $(wildcard include/qlb/*.h)

vpath %.bpf.c xdp reuseport tests/bpf bench

.DELETE_ON_ERROR:
.PHONY: all deps test check bench info install uninstall clean help fuzz demo format
all: $(BUILD)/qlbctl $(BUILD)/libqlb.a $(BUILD)/libqlb.so $(BUILD)/qlb-echo $(BPF_OBJS) $(SKELS)

# ---- BPF -------------------------------------------------------------------
$(BUILD)/bpf/%.bpf.o: %.bpf.c | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o | $(BUILD)/skel
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

# ---- C objects -----------------------------------------------------------------
# One rule for every user-space object: $(BUILD)/obj/DIR/NAME.o from
# DIR/NAME.c. OBJ_CFLAGS adds what an area needs (set per directory).
$(BUILD)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(OBJ_CFLAGS) $(DEPFLAGS) -c $< -o $@

# libqlb includes no skeleton, so it builds without clang and bpftool.
$(BUILD)/obj/ctl/lib/%.o: ctl/lib/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(OBJ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/ctl/lib/%.o: OBJ_CFLAGS = -fPIC -fvisibility=hidden -DQLB_BUILDING_LIB

# ---- libraries ---------------------------------------------------------------
# $(BUILD)/NAME.list holds the member list of a library and changes only
# when the list does, so that deleting or renaming a source (no object
# newer than the library) still rebuilds it without the stale member.
$(BUILD)/%.list: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(MEMBERS_$(subst /,_,$*))' | cmp -s - $@ || echo '$(MEMBERS_$(subst /,_,$*))' > $@
.PHONY: FORCE
FORCE:

MEMBERS_libqlb    = $(LIB_OBJS)
MEMBERS_libqlbctl = $(CTL_OBJS)

$(BUILD)/libqlb.a: $(LIB_OBJS) $(BUILD)/libqlb.list
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(LIBQLB_SO): $(LIB_OBJS) $(BUILD)/libqlb.list
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libqlb.so.0 -o $@ $(filter %.o,$^)

$(BUILD)/libqlb.so: $(LIBQLB_SO)
	$(Q)ln -sf libqlb.so.0 $@

# ---- qlbctl ------------------------------------------------------------------
$(BUILD)/libqlbctl.a: $(CTL_OBJS) $(BUILD)/libqlbctl.list
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(BUILD)/qlbctl: $(BUILD)/obj/ctl/qlbctl.o $(BUILD)/libqlbctl.a $(BUILD)/libqlb.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_CTL)

$(BUILD)/qlb-echo: $(ECHO_OBJS) $(BUILD)/libqlb.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^

$(BUILD)/bpf $(BUILD)/skel $(BUILD)/tests $(BUILD)/bench:
	$(Q)mkdir -p $@

# ---- areas -------------------------------------------------------------------
# tests/tests.mk, bench/bench.mk, examples/examples.mk add their own rules
# and their objects to ALL_OBJS.
-include $(wildcard tests/*.mk bench/*.mk examples/*.mk)

# ---- header dependencies ---------------------------------------------------
ALL_OBJS += $(LIB_OBJS) $(CTL_OBJS) $(BUILD)/obj/ctl/qlbctl.o $(ECHO_OBJS)
# Named as targets so that make keeps them (a pattern-built object that no
# rule names is an intermediate file, deleted after the link).
$(ALL_OBJS):
DEP_FILES := $(wildcard $(patsubst %.o,%.d,$(ALL_OBJS) $(BPF_OBJS)))
# A .d file written when BUILD was relative names a target this make does
# not build (BUILD is absolute now): it counts as absent.
DEP_FILES := $(filter-out $(if $(DEP_FILES),$(shell awk 'FNR == 1 { if (!/^\//) print FILENAME; nextfile }' $(DEP_FILES))),$(DEP_FILES))
-include $(DEP_FILES)
# An object built before -MMD (no .d beside it, or a .d of the relative
# BUILD) depends, as it used to, on every header and skeleton, until its
# next compile writes its .d file.
NODEP_C   := $(filter-out $(DEP_FILES:.d=.o),$(wildcard $(ALL_OBJS)))
NODEP_BPF := $(filter-out $(DEP_FILES:.d=.o),$(wildcard $(BPF_OBJS)))
$(NODEP_C): $(HEADERS) $(SKELS) $(wildcard ctl/*.c ctl/lib/*.c tests/*/*.h bench/*.h examples/*/*.h)
$(NODEP_BPF): $(HEADERS) $(wildcard tests/bpf/*.h bench/*.h)

# ---- top-level targets ---------------------------------------------------
deps:
	$(Q)./deploy/install-deps.sh

# test and demo install missing packages first, so that on a fresh Debian
# machine `make test` and `make demo` are all it takes.
test:
	$(Q)./deploy/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all $(TEST_BINS)
	$(Q)BUILD=$(BUILD) ./tests/run.sh

check:
	$(Q)$(MAKE) --no-print-directory WERROR=1 all $(TEST_BINS)
	$(Q)./tests/check.sh

bench: all $(BENCH_BINS) $(EXAMPLE_BINS)
	$(Q)BUILD=$(BUILD) ./bench/run.sh

info: $(BPF_OBJS)
	$(Q)./tests/info.sh $(BPF_OBJS)

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/qlb $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/lib/qlb
	install -m 0755 $(BUILD)/qlbctl $(BUILD)/qlb-echo $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(BUILD)/libqlb.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(LIBQLB_SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libqlb.so.0 $(DESTDIR)$(PREFIX)/lib/libqlb.so
	install -m 0644 $(PUB_HDRS) $(DESTDIR)$(PREFIX)/include/qlb/
	sed 's|@PREFIX@|$(PREFIX)|g' deploy/libqlb.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libqlb.pc
	[ ! -f docs/qlbctl.8 ] || install -m 0644 docs/qlbctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/qlbctl $(DESTDIR)$(PREFIX)/sbin/qlb-echo \
		$(DESTDIR)$(PREFIX)/lib/libqlb.* $(DESTDIR)$(PREFIX)/lib/pkgconfig/libqlb.pc \
		$(DESTDIR)$(PREFIX)/share/man/man8/qlbctl.8
	rm -rf $(DESTDIR)$(PREFIX)/include/qlb

clean:
	rm -rf $(BUILD)

help:
	@echo 'qlb targets:'
	@echo '  make            build qlbctl, qlb-echo, libqlb (.a/.so), BPF objects and skeletons into build/'
	@echo '  make deps       install missing Debian packages (apt-get); nothing when all is there'
	@echo '  make test       build and run every test (unit, BPF fixtures, netns, end to end)'
	@echo '  make check      -Werror build, clang-format, verifier load of every BPF object, sanitizers'
	@echo '  make bench      print benchmark figures (never fails on a time)'
	@echo '  make demo       a whole fleet in network namespaces with a real QUIC client'
	@echo '  make fuzz       long fuzzing runs (fuzz-bins: build the harnesses; fuzz-smoke: the short run of make test)'
	@echo '  make examples   the reference HTTP/3 server (needs ngtcp2, nghttp3, GnuTLS)'
	@echo '  make info       verifier instruction counts and stack use of every BPF program'
	@echo '  make install    PREFIX=$(PREFIX) DESTDIR=: qlbctl, libqlb, headers, libqlb.pc'
	@echo '  make clean      remove build/'
	@echo '  print-test-bins, print-bench-bins: the binaries a test or bench run needs'
	@echo 'Variables: V=1 (show commands), WERROR=1, EXTRA_CFLAGS, CC, CLANG, BPFTOOL, PREFIX, DESTDIR'
