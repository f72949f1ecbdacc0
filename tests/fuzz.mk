# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The top Makefile includes tests/*.mk: the fuzzing rules live beside the
# harnesses.
include tests/fuzz/fuzz.mk
