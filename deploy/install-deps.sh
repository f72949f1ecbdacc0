#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Installs the Debian packages qlb builds, tests and demos with; does
# nothing when all are there. Run as root (or with sudo).
set -eu
pkgs=(
	# build
	make gcc clang llvm pkg-config bpftool libbpf-dev libxdp-dev xdp-tools
	libelf-dev zlib1g-dev libyaml-dev linux-libc-dev
	# real QUIC stack: reference server and the unmodified client
	libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev
	ngtcp2-client gnutls-bin
	# tests and checks
	libssl-dev iproute2 iputils-ping curl tcpdump procps util-linux clang-format valgrind
	# routing fabric (BGP + BFD between LB nodes and the router) and native XDP on veth
	bird2 ethtool
	libclang-rt-14-dev python3
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
