#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Reproducer (not run by make test): a key_file that names a FIFO hangs the
# config loader. read_key_file() in ctl/config.c open()s the path before it
# checks S_ISREG, and open(O_RDONLY) of a FIFO waits for a writer: qlbctl
# validate, lb apply and the agent (also on a SIGHUP reload, which blocks
# its event loop) hang. O_NONBLOCK on that open() would let the S_ISREG
# check refuse it. Exit 1 while the hang exists.
set -u
cd "$(dirname "$0")/../../.."
QLBCTL=${BUILD:-build}/qlbctl
d=$(mktemp -d /tmp/qlb-fifo-XXXXXX)
trap 'rm -rf "$d"' EXIT
mkfifo -m 600 "$d/k.key"
cat >"$d/qlb.yaml" <<EOT
quic_lb:
  configs:
    - {id: 1, server_id_len: 2, nonce_len: 6, key_file: k.key}
hosts:
  - {name: web1, address: 198.18.0.21, server_id: "0a10"}
EOT
timeout 5 "$QLBCTL" validate -f "$d/qlb.yaml"
rc=$?
if [ $rc -eq 124 ]; then
	echo "qlbctl validate hung on a FIFO key_file"
	exit 1
fi
echo "qlbctl validate returned $rc (no hang)"
