# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Headers the codec tests and bench share beyond what tests.mk and the
# Makefile track, so that editing them rebuilds what includes them.
CODEC_TEST_BINS := $(BUILD)/tests/test_codec $(BUILD)/tests/test_codec_bpf \
	$(BUILD)/tests/test_minter $(BUILD)/tests/test_cli_cid
$(CODEC_TEST_BINS) $(BUILD)/bench/bench_codec: tests/unit/codec_ref.h
$(BUILD)/bpf/qlb_codec_test.bpf.o $(BUILD)/tests/test_codec_bpf $(BUILD)/bench/bench_codec: tests/bpf/qlb_codec_test.h
