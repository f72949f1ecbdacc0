#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# make check, deploy/: the systemd units pass `systemd-analyze verify`
# (qlbctl's path pointed at this build), and every BIRD template of
# deploy/bgp/ renders from deploy/qlb.yaml and parses (`bird -p`). A tool
# that is not installed is skipped with a message.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
rc=0
tmp=$(mktemp -d /tmp/qlb-check-deploy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/units"
	for u in deploy/systemd/*.service; do
		sed "s|/usr/local/sbin/qlbctl|$BUILD/qlbctl|g" "$u" >"$tmp/units/$(basename "$u")"
	done
	# the units' own directory first, then the system's (bird.service)
	if SYSTEMD_UNIT_PATH="$tmp/units:" systemd-analyze verify --man=no "$tmp"/units/*.service \
		>"$tmp/verify.log" 2>&1 && ! grep -q . "$tmp/verify.log"; then
		echo "ok: systemd-analyze verify: $(ls deploy/systemd/*.service | wc -l) units"
	else
		echo "FAIL: systemd-analyze verify deploy/systemd/*.service:"
		sed "s|$tmp/units/|deploy/systemd/|g" "$tmp/verify.log"
		rc=1
	fi
else
	echo "skip: systemd-analyze not installed: systemd units not verified"
fi

if command -v bird >/dev/null; then
	r=deploy/bgp/render.sh
	mkdir -p "$tmp/peers"
	ok=1
	$r deploy/bgp/bird-router-peer.conf NAME=lb1 FAMILY=4 NEIGHBOR=198.18.11.2 >"$tmp/peers/lb1-4.conf" &&
		$r deploy/bgp/bird-router-peer.conf NAME=lb1 FAMILY=6 NEIGHBOR=2001:db8:11::2 >"$tmp/peers/lb1-6.conf" &&
		$r -f deploy/qlb.yaml deploy/bgp/bird-router.conf ROUTER_ID=198.18.10.1 PEERS_DIR="$tmp/peers" >"$tmp/router.conf" &&
		$r -f deploy/qlb.yaml deploy/bgp/bird-lb-node.conf ROUTER_ID=198.18.11.2 INTERFACE=eth1 \
			PEER4=198.18.11.1 PEER6=2001:db8:11::1 >"$tmp/lb.conf" || ok=0
	for c in router lb; do
		[ $ok = 1 ] || break
		bird -p -c "$tmp/$c.conf" >"$tmp/bird-$c.log" 2>&1 || { ok=0; cat "$tmp/bird-$c.log"; }
	done
	if [ $ok = 1 ]; then
		echo "ok: deploy/bgp templates render from deploy/qlb.yaml and parse (bird -p)"
	else
		echo "FAIL: deploy/bgp templates"
		rc=1
	fi
else
	echo "skip: bird not installed: deploy/bgp templates not parsed"
fi
exit $rc
