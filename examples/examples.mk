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
H3_OBJS      := $(patsubst %.c,$(BUILD)/obj/%.o,$(H3_SRCS))
EXAMPLE_BINS := $(BUILD)/qlb-h3server
ALL_OBJS     += $(H3_OBJS)

.PHONY: examples
examples: $(EXAMPLE_BINS)

$(BUILD)/obj/examples/%.o: OBJ_CFLAGS = $(H3_CFLAGS)

$(BUILD)/qlb-h3server: $(H3_OBJS) $(BUILD)/libqlb.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(H3_LIBS)
