# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=bash
# Pieces of the YAML files that tests write, sourced by the test libraries
# and scripts that need them (after they cd to the repository's root, or
# through E2E_ROOT).

# The head of a quic_lb block whose config 1 has a 2-byte server ID, a
# 6-byte nonce and 4 worker bits (four-pass AES once a key follows); the
# caller's heredoc continues with the config's other keys.
yaml_quic_lb_cfg1() {
	printf '%s\n' 'quic_lb:' '  configs:' '    - id: 1' '      server_id_len: 2' \
		'      nonce_len: 6' '      worker_bits: 4'
}
