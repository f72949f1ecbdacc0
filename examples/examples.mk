# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# examples/: qlb-h3server, the reference HTTP/3 server (ngtcp2 0.12,
# nghttp3 0.8, GnuTLS) that mints its connection IDs through libqlb.
# Not part of `make all` (it needs the QUIC libraries): `make examples`.
H3_PKGS      := libngtcp2 libngtcp2_crypto_gnutls libnghttp3 gnutls
H3_CFLAGS    := $(shell pkg-config --cflags $(H3_PKGS) 2>/dev/null)
H3_LIBS      := $(shell pkg-config --libs $(H3_PKGS) 2>/dev/null || \
		echo -lngtcp2 -lngtcp2_crypto_gnutls -lnghttp3 -lgnutls)
H3_SRCS      := $(wildcard examples/h3server/*.c)
EXAMPLE_BINS := $(BUILD)/qlb-h3server

.PHONY: examples
examples: $(EXAMPLE_BINS)

$(BUILD)/qlb-h3server: $(H3_SRCS) examples/h3server/h3server.h $(BUILD)/libqlb.a $(HEADERS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(H3_CFLAGS) -o $@ $(H3_SRCS) $(BUILD)/libqlb.a $(H3_LIBS)
