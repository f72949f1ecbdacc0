# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# End-to-end: `make demo` builds what is missing, then runs a whole fleet in
# network namespaces with an unmodified QUIC client, narrated
# (tests/e2e/lib/demo.sh). `make e2e-figures` prints throughput, time to
# first byte and the LB program's cost per packet (bench/e2e_figures.sh).
# Both need root.
.PHONY: demo e2e-figures
demo:
	$(Q)./deploy/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all examples
	$(Q)BUILD=$(BUILD) bash tests/e2e/lib/demo.sh

e2e-figures: all examples
	$(Q)BUILD=$(BUILD) bash bench/e2e_figures.sh
	$(Q)BUILD=$(BUILD) FLEET_PLAINTEXT=1 bash bench/e2e_figures.sh
