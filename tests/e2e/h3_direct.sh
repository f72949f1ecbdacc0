#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#
# qlb-h3server on its own (no agent, no load balancer) against Debian's
# unmodified gtlsclient, client and server namespaces joined by one veth:
#   1. /whoami over IPv4 and IPv6 (one dual-stack socket); the connection
#      ID in the answer is a QUIC-LB CID: config 1, server ID 0a10, worker 0
#   2. a download survives --change-local-addr mid-transfer (the server
#      validates the new path)
#   3. a download survives --nat-rebinding mid-transfer
#   4. --retry: the client's Initial after our Retry is accepted
#   5. stateless reset: a restarted server resets the client's connection
#      with a token the client accepts (same secret), and a control with
#      another secret shows the client would otherwise wait
# Usage: BUILD=build tests/e2e/h3_direct.sh   (exit 0 = pass)
. "$(dirname "$0")/lib/common.sh"
e2e_init h3direct

C=qlbt-h3d-$$-c
S=qlbt-h3d-$$-s
T=$E2E_TMP
e2e_ns "$C"
e2e_ns "$S"
e2e_veth "$C" h3d-c "$S" h3d-s
e2e_addr "$C" h3d-c 198.18.0.1/24
e2e_addr "$S" h3d-s 198.18.0.2/24
e2e_addr "$C" h3d-c 2001:db8:0:1::1/64
e2e_addr "$S" h3d-s 2001:db8:0:1::2/64
e2e_certs "$T" qlb.test 198.18.0.2 2001:db8:0:1::2

SRV=(--cert "$T/cert.pem" --key "$T/key.pem" --no-agent --config-id 1
	--server-id 0a10 --nonce-len 6 --worker-bits 4 --host direct -w 1)
e2e_bg srv "$S" "$H3SERVER" "${SRV[@]}" :: 4433
e2e_bg srv-retry "$S" "$H3SERVER" "${SRV[@]}" --retry 198.18.0.2 4434
e2e_wait_log "$T/srv.log" 'ready on' 1 10 || e2e_fail "server did not start"
e2e_wait_log "$T/srv-retry.log" 'ready on' 1 10 || e2e_fail "Retry server did not start"

# ---- 1. whoami, IPv4 and IPv6 -----------------------------------------------
check_whoami() {
	local f=$1 cid
	[ "$(e2e_field "$f" host)" = direct ] || e2e_fail "$f: wrong host: $(cat "$f")"
	[ "$(e2e_field "$f" worker)" = 0 ] || e2e_fail "$f: wrong worker"
	[ "$(e2e_field "$f" config_id)" = 1 ] || e2e_fail "$f: wrong config id"
	cid=$(e2e_field "$f" cid)
	# plaintext QUIC-LB CID: 001 01000 (config 1, length 9 self-encoded),
	# server ID 0a10 (worker bits 0), six nonce bytes
	[[ $cid =~ ^280a10[0-9a-f]{12}$ ]] || e2e_fail "$f: CID $cid is not config 1 / server 0a10"
}
e2e_get "$C" "$T/v4" 20 198.18.0.2 4433 https://198.18.0.2:4433/whoami ||
	e2e_fail "IPv4 request failed"
check_whoami "$T/v4/whoami"
e2e_log "PASS whoami over IPv4: $(cat "$T/v4/whoami")"
e2e_get "$C" "$T/v6" 20 2001:db8:0:1::2 4433 'https://[2001:db8:0:1::2]:4433/whoami' ||
	e2e_fail "IPv6 request failed"
check_whoami "$T/v6/whoami"
e2e_log "PASS whoami over IPv6: $(cat "$T/v6/whoami")"

# ---- 2. migration -------------------------------------------------------------
# Shape the server's sending to 200 Mbit/s so that a 10 MB download takes
# about 0.4 s and the client's move at 100 ms lands in its middle.
ip netns exec "$S" tc qdisc add dev h3d-s root tbf rate 200mbit burst 64kb latency 100ms
N=10000000
moved_mid() {	# LOG: the last move happened with 0 < bytes < N sent
	local b
	b=$(grep 'client moved' "$1" | tail -n 1 | sed -n 's/.*after \([0-9]*\) body bytes.*/\1/p')
	[ -n "$b" ] && [ "$b" -gt 0 ] && [ "$b" -lt $N ]
}
before=$(grep -c 'client moved' "$T/srv.log")
e2e_get "$C" "$T/mig" 30 198.18.0.2 4433 --change-local-addr=100ms \
	"https://198.18.0.2:4433/bytes/$N" || e2e_fail "download with migration failed"
[ "$(e2e_size "$T/mig/$N")" = $N ] || e2e_fail "migrated download is $(e2e_size "$T/mig/$N") bytes"
e2e_wait_log "$T/srv.log" 'client moved' $((before + 1)) 5 || e2e_fail "server saw no migration"
e2e_wait_log "$T/srv.log" "body_bytes=$N migrations=1" 1 5 || e2e_fail "connection did not end migrated"
grep -q 'validated' "$T/srv.log" || e2e_fail "new path not validated"
moved_mid "$T/srv.log" || e2e_fail "the move did not happen mid-download"
e2e_log "PASS --change-local-addr mid-download: $(grep 'client moved' "$T/srv.log" | tail -n 1 | sed 's/.*: client/client/')"

# ---- 3. NAT rebinding -----------------------------------------------------------
# After a rebinding the unmodified client only speaks from its new port when
# it has something to send, so it uploads a body (shaped to last ~0.4 s)
# while it downloads.
ip netns exec "$C" tc qdisc add dev h3d-c root tbf rate 100mbit burst 64kb latency 100ms
head -c 5000000 /dev/zero >"$T/upload"
before=$(grep -c 'client moved' "$T/srv.log")
e2e_get "$C" "$T/nat" 30 198.18.0.2 4433 --change-local-addr=100ms --nat-rebinding \
	-m POST -d "$T/upload" "https://198.18.0.2:4433/bytes/$N" ||
	e2e_fail "download with NAT rebinding failed"
[ "$(e2e_size "$T/nat/$N")" = $N ] || e2e_fail "rebound download is $(e2e_size "$T/nat/$N") bytes"
e2e_wait_log "$T/srv.log" 'client moved' $((before + 1)) 5 || e2e_fail "server saw no rebinding"
e2e_wait_log "$T/srv.log" "body_bytes=$N migrations=1" 2 5 || e2e_fail "connection did not end rebound"
moved_mid "$T/srv.log" || e2e_fail "the rebinding did not happen mid-download"
e2e_log "PASS --nat-rebinding mid-download: $(grep 'client moved' "$T/srv.log" | tail -n 1 | sed 's/.*: client/client/')"

# ---- 4. Retry -----------------------------------------------------------------------
e2e_get "$C" "$T/retry" 20 198.18.0.2 4434 https://198.18.0.2:4434/whoami ||
	e2e_fail "request through Retry failed"
check_whoami "$T/retry/whoami"
grep -q 'after Retry' "$T/srv-retry.log" || e2e_fail "no Retry happened"
e2e_log "PASS Retry: $(cat "$T/retry/whoami")"
# ---- 5. stateless reset ------------------------------------------------------
# The server restarts mid-transfer. The new process knows no connection and
# answers the client's next packets with a stateless reset whose token it
# computes with qlb_reset_token() from the DCID and the host's secret: with
# the same --reset-secret the client accepts it and stops at once; with
# another secret it cannot, and waits for its idle timeout. (The client
# uploads meanwhile: a client that only receives sends nothing to reset.)
head -c 20000000 /dev/zero >"$T/upload20"
reset_case() {	# NAME SECRET_OF_THE_NEW_PROCESS: prints the client's seconds after the restart
	local name=$1 a t0 rc
	e2e_bg "$name-a" "$S" "$H3SERVER" "${SRV[@]}" -v --reset-secret 00112233445566778899aabbccddeeff 198.18.0.2 4435
	a=$E2E_LAST_PID
	e2e_wait_log "$T/$name-a.log" 'ready on' 1 10 || e2e_fail "$name: server did not start"
	e2e_get "$C" "$T/$name" 20 198.18.0.2 4435 --timeout=6s --http-method=POST \
		--data="$T/upload20" https://198.18.0.2:4435/bytes/50000000 >/dev/null 2>&1 &
	local cl=$!
	sleep 1
	e2e_stop "$a" INT
	e2e_wait_log "$T/$name-a.log" 'exiting' 1 5 || e2e_fail "$name: server did not stop"
	e2e_bg "$name-b" "$S" "$H3SERVER" "${SRV[@]}" -v --reset-secret "$2" 198.18.0.2 4435
	t0=$(e2e_ms)
	e2e_wait_log "$T/$name-b.log" 'ready on' 1 10 || e2e_fail "$name: new server did not start"
	wait $cl
	echo $((($(e2e_ms) - t0) / 1000))
	e2e_stop "$E2E_LAST_PID" INT
}
secs=$(reset_case reset-same 00112233445566778899aabbccddeeff)
grep -q 'stateless reset' "$T/reset-same-b.log" || e2e_fail "the new server sent no stateless reset"
[ "$secs" -le 2 ] || e2e_fail "with the same secret the client took ${secs}s to stop: reset not accepted"
secs2=$(reset_case reset-other ffeeddccbbaa99887766554433221100)
grep -q 'stateless reset' "$T/reset-other-b.log" || e2e_fail "the control server sent no stateless reset"
[ "$secs2" -ge 4 ] || e2e_fail "with another secret the client stopped after ${secs2}s: the control proves nothing"
e2e_log "PASS stateless reset: same secret, client stopped ${secs}s after the restart; other secret, ${secs2}s (idle timeout)"
echo "h3_direct: all passed"
