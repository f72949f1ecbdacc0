#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# Worker steering per datagram, in a network namespace of its own with
# real sockets (tests/tools/qlb-rpsteer bench): an empty SK_REUSEPORT
# program, an nginx-like baseline (the socket's key in clear in the DCID,
# one SOCKHASH select), qlb_reuseport_select per CID kind (plaintext, cache
# hits, first datagrams, Initials) and its reference copy (the codec alone),
# interleaved round by round; ratios are of the cost above the empty
# program. Then the decoded-CID cache's hit rate for 10 000 live CIDs
# while 100 000 random CIDs arrive; then all of it again with rows for a
# host serving 64 services. Figures only; never fails on a time.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac # make passes it absolute
make -s BUILD="$BUILD" "$BUILD/tools/qlb-rpsteer" >/dev/null || exit 1
"$BUILD/tools/qlb-rpsteer" bench --rounds "${QLB_BENCH_ROUNDS:-7}" \
	--count "${QLB_BENCH_COUNT:-20000}" || exit 1
# The same group on a host serving 64 services (its configs in another row
# than row 0), beside the one-service rows in the same rounds: a run of its
# own, so the table above stays the one docs/host.md compares across
# versions.
echo
echo "== the same, with rows for a host serving 64 services (--svc64-rows)"
exec "$BUILD/tools/qlb-rpsteer" bench --rounds "${QLB_BENCH_ROUNDS:-7}" \
	--count "${QLB_BENCH_COUNT:-20000}" --svc64-rows
