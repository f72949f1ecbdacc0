# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# shellcheck shell=bash
#
# The scenarios of the fleet (issue 6), each a function over a running
# fleet (lib/fleet.sh), so that one script per scenario and `make demo`
# (several scenarios on one fleet) run the very same checks.
#
# A scenario returns 0 when everything a user would check held, or prints
# "FAIL: why" and returns 1. Each records one row for the demo's summary
# (scenario, result, host/worker, bytes, seconds) in $E2E_RESULTS if set.

. "$(dirname "${BASH_SOURCE[0]}")/fleet.sh"

declare -A FLEET_GEN=([h1]=1 [h2]=1 [h3]=1)	# current server generation
SC_NAME=
SC_T0=0
SC_WHERE=-
SC_BYTES=0

sc_begin() {
	SC_NAME=$1
	SC_T0=$(e2e_ms)
	SC_WHERE=-
	SC_BYTES=0
	e2e_log "=== $1: $2"
}

sc_row() {
	local secs
	secs=$(awk -v ms=$(($(e2e_ms) - SC_T0)) 'BEGIN { printf "%.1f", ms / 1000 }')
	[ -n "${E2E_RESULTS:-}" ] &&
		printf '%s|%s|%s|%s|%s\n' "$SC_NAME" "$1" "$SC_WHERE" "$SC_BYTES" "$secs" >>"$E2E_RESULTS"
	return 0
}

sc_fail() {
	echo "FAIL: $SC_NAME: $*"
	sc_row FAIL
	return 1
}

sc_pass() {
	e2e_log "PASS $SC_NAME${1:+: $1}"
	sc_row PASS
	return 0
}

# sc_whoami_ok FILE: a well-formed /whoami answer from one of our hosts.
sc_whoami_ok() {
	local h
	h=$(e2e_field "$1" host)
	[[ " ${FLEET_HOSTS[*]} " == *" $h "* ]] &&
		[[ $(e2e_field "$1" worker) =~ ^[0-9]+$ ]] &&
		[[ $(e2e_field "$1" cid) =~ ^[0-9a-f]{16,40}$ ]]
}

# sc_cid_matches FILE: the connection ID in a /whoami answer decodes, under
# the fleet's configs, to the answering host's server ID and worker.
sc_cid_matches() {
	local f=$1 h w cid out sid want
	h=$(e2e_field "$f" host)
	w=$(e2e_field "$f" worker)
	cid=$(e2e_field "$f" cid)
	out=$("$QLBCTL" cid decode -f "$FLEET_DIR/$h.yaml" "$cid" 2>&1) || {
		echo "cannot decode $cid: $out"
		return 1
	}
	sid=$(sed -n 's/.*server_id=\([0-9a-f]*\).*/\1/p' <<<"$out")
	# hosts own "N000": server ID = host part | worker (4 worker bits)
	want=$(printf '%x%03x' "${h#h}" "$w")
	[ "$sid" = "$want" ] || {
		echo "CID $cid carries server ID $sid, not $want ($h worker $w)"
		return 1
	}
}

# sc_bg_get NAME [gtlsclient options] PATH...: start a fetch in the
# background into $FLEET_DIR/NAME; sets SC_PID.
sc_bg_get() {
	local name=$1
	shift
	fleet_get "$FLEET_DIR/$name" 90 "$@" >"$FLEET_DIR/$name.client.log" 2>&1 &
	SC_PID=$!
}

# sc_many N PREFIX PATH...: N fetches at once; 0 when all succeeded.
sc_many() {
	local n=$1 prefix=$2 i pids=() bad=0
	shift 2
	for i in $(seq 1 "$n"); do
		fleet_get "$FLEET_DIR/$prefix$i" 60 "$@" >"$FLEET_DIR/$prefix$i.client.log" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || bad=$((bad + 1))
	done
	return $bad
}

# sc_moved_mid HOST CID N: the server saw the client move while 0 < bytes < N.
sc_moved_mid() {
	local b
	b=$(fleet_conn_log "$1" "$2" | grep 'client moved' | tail -n 1 |
		sed -n 's/.*after \([0-9]*\) body bytes.*/\1/p')
	[ -n "$b" ] && [ "$b" -gt 0 ] && [ "$b" -lt "$3" ]
}

# sc_closed_by_worker HOST CID WORKER N: the connection ended in WORKER's
# log, after N body bytes, having migrated.
sc_closed_by_worker() {
	fleet_conn_log "$1" "$2" | grep 'closed (by client)' |
		grep -q " w=$3 .*body_bytes=$4 migrations=[1-9]"
}

# ---- 1. a request ----------------------------------------------------------
scenario_request() {
	sc_begin request "a request to the VIP is answered by a named host and worker"
	local i f
	for i in 1 2 3; do
		fleet_get "$FLEET_DIR/req$i" 20 /whoami >"$FLEET_DIR/req$i.client.log" 2>&1 ||
			{ sc_fail "request $i to $VIP4 failed"; return 1; }
		f=$FLEET_DIR/req$i/whoami
		sc_whoami_ok "$f" || { sc_fail "bad answer: $(cat "$f")"; return 1; }
		sc_cid_matches "$f" || { sc_fail "CID does not route to its server"; return 1; }
		e2e_log "  $(cat "$f")"
	done
	SC_WHERE="$(e2e_field "$f" host)/$(e2e_field "$f" worker)"
	SC_BYTES=$(e2e_size "$f")
	sc_pass "3 requests answered; each CID decodes to its host and worker"
}

# ---- 2. migration --------------------------------------------------------------
# sc_migrate LABEL OPTS...: a download during which the client moves.
sc_migrate() {
	local label=$1 n=20000000 h w cid
	shift
	fleet_shape_client 100mbit
	if [[ " $* " == *" --data="* ]]; then
		# With an upload the client sends its streams one after the
		# other: no /whoami in front; the server's log names the
		# connection (the only one accepted meanwhile).
		local seen line
		seen=$(cat "$FLEET_DIR"/srv-*.log | grep -c 'accepted from')
		sc_bg_get "$label" "$@" "/bytes/$n"
		for _ in $(seq 1 150); do
			[ "$(cat "$FLEET_DIR"/srv-*.log | grep -c 'accepted from')" -gt "$seen" ] && break
			sleep 0.1
		done
		line=$(cat "$FLEET_DIR"/srv-*.log | grep 'accepted from' | sort | tail -n 1)
		h=$(sed -n 's/.*qlb-h3server\[\(h[0-9]\) w=.*/\1/p' <<<"$line")
		w=$(sed -n 's/.* w=\([0-9]*\) g=.*/\1/p' <<<"$line")
		cid=$(sed -n 's/.*: conn \([0-9a-f]*\): accepted.*/\1/p' <<<"$line")
		[ -n "$cid" ] || { fleet_unshape_client; sc_fail "$label: no connection"; return 1; }
	else
		sc_bg_get "$label" "$@" /whoami "/bytes/$n"
		fleet_whoami_wait "$FLEET_DIR/$label/whoami" 15 ||
			{ fleet_unshape_client; sc_fail "$label: no answer"; return 1; }
		h=$(e2e_field "$FLEET_DIR/$label/whoami" host)
		w=$(e2e_field "$FLEET_DIR/$label/whoami" worker)
		cid=$(e2e_field "$FLEET_DIR/$label/whoami" cid)
	fi
	e2e_log "  $label: downloading $n bytes from $h worker $w (CID $cid)"
	wait "$SC_PID" || { fleet_unshape_client; sc_fail "$label: the client failed"; return 1; }
	fleet_unshape_client
	[ "$(e2e_size "$FLEET_DIR/$label/$n")" = $n ] ||
		{ sc_fail "$label: got $(e2e_size "$FLEET_DIR/$label/$n") of $n bytes"; return 1; }
	sc_moved_mid "$h" "$cid" $n ||
		{ sc_fail "$label: $h saw no move mid-download"; return 1; }
	for _ in $(seq 1 20); do
		sc_closed_by_worker "$h" "$cid" "$w" $n && break
		sleep 0.1
	done
	sc_closed_by_worker "$h" "$cid" "$w" $n ||
		{ sc_fail "$label: the download did not finish at $h worker $w"; return 1; }
	e2e_log "  $label: $(fleet_conn_log "$h" "$cid" | grep 'client moved' | sed 's/.*: client/client/')"
	SC_WHERE="$h/$w"
	SC_BYTES=$n
}

scenario_migration() {
	sc_begin migration "the client changes its address mid-download (--change-local-addr)"
	sc_migrate migrate --change-local-addr=300ms || return 1
	sc_pass "download complete from the same worker after the move"
}

# After a NAT rebinding the unmodified client speaks from its new port only
# when it has something to send: it uploads (shaped) while downloading.
scenario_nat_rebinding() {
	sc_begin nat-rebinding "the client's NAT rebinds mid-download (--nat-rebinding)"
	local cli rc
	cli=$(fleet_ns cli)
	head -c 5000000 /dev/zero >"$FLEET_DIR/upload"
	ip netns exec "$cli" tc qdisc replace dev eth0 root tbf rate 50mbit burst 64kb latency 200ms
	sc_migrate rebind --change-local-addr=300ms --nat-rebinding --http-method=POST --data="$FLEET_DIR/upload"
	rc=$?
	ip netns exec "$cli" tc qdisc del dev eth0 root 2>/dev/null
	[ $rc = 0 ] || return 1
	sc_pass "download complete from the same worker after the rebinding"
}

# ---- 3. many clients ---------------------------------------------------------------
scenario_concurrent() {
	sc_begin concurrent "20 clients at once"
	local i f hosts pairs
	sc_many 20 conc /whoami /bytes/2000000 || { sc_fail "$? of 20 clients failed"; return 1; }
	for i in $(seq 1 20); do
		f=$FLEET_DIR/conc$i
		sc_whoami_ok "$f/whoami" || { sc_fail "client $i: bad answer"; return 1; }
		[ "$(e2e_size "$f/2000000")" = 2000000 ] || { sc_fail "client $i: short download"; return 1; }
	done
	hosts=$(for i in $(seq 1 20); do e2e_field "$FLEET_DIR/conc$i/whoami" host; done | sort -u | wc -l)
	pairs=$(for i in $(seq 1 20); do
		echo "$(e2e_field "$FLEET_DIR/conc$i/whoami" host)/$(e2e_field "$FLEET_DIR/conc$i/whoami" worker)"
	done | sort | uniq -c | sort -rn)
	e2e_log "  connections per host/worker: $(echo $pairs)"
	[ "$hosts" -ge 2 ] || { sc_fail "all 20 clients landed on one host"; return 1; }
	[ "$(wc -l <<<"$pairs")" -ge 3 ] || { sc_fail "only $(wc -l <<<"$pairs") workers served"; return 1; }
	SC_WHERE="$hosts hosts"
	SC_BYTES=40000000
	sc_pass "20 of 20 complete over $hosts hosts and $(wc -l <<<"$pairs") workers"
}

# sc_count_on N PREFIX HOST: how many of N whoami answers came from HOST.
sc_count_on() {
	local i c=0
	for i in $(seq 1 "$1"); do
		[ "$(e2e_field "$FLEET_DIR/$2$i/whoami" host)" = "$3" ] && c=$((c + 1))
	done
	echo $c
}

# ---- 4. server restart ------------------------------------------------------------
scenario_restart() {
	sc_begin restart "a server restarts as a new generation mid-download"
	local n=40000000 h w cid old new i f on=0 tag
	fleet_shape_client 100mbit
	sc_bg_get restart /whoami "/bytes/$n"
	fleet_whoami_wait "$FLEET_DIR/restart/whoami" 15 ||
		{ fleet_unshape_client; sc_fail "no answer"; return 1; }
	h=$(e2e_field "$FLEET_DIR/restart/whoami" host)
	w=$(e2e_field "$FLEET_DIR/restart/whoami" worker)
	cid=$(e2e_field "$FLEET_DIR/restart/whoami" cid)
	old=${FLEET_GEN[$h]}
	new=$((old + 1))
	e2e_log "  downloading $n bytes from $h worker $w, generation $old; starting generation $new"
	fleet_server_start "$h" "$new"
	fleet_server_wait "$h" "$new"
	FLEET_GEN[$h]=$new
	e2e_wait_log "$FLEET_DIR/srv-$h-g$old.log" 'took over; draining' 1 10 ||
		{ fleet_unshape_client; sc_fail "generation $old was not told to drain"; return 1; }
	e2e_log "  generation $new took over on $h; generation $old drains"

	# new connections: every one that lands on $h meets the new generation
	tag=rs$new
	sc_many 12 "$tag" /whoami || { fleet_unshape_client; sc_fail "new connections failed"; return 1; }
	for i in $(seq 1 12); do
		f=$FLEET_DIR/$tag$i/whoami
		[ "$(e2e_field "$f" host)" = "$h" ] || continue
		on=$((on + 1))
		[ "$(e2e_field "$f" generation)" = "$new" ] ||
			{ fleet_unshape_client; sc_fail "a new connection met generation $(e2e_field "$f" generation)"; return 1; }
	done
	e2e_log "  12 new connections: $on on $h, all generation $new"

	wait "$SC_PID" || { fleet_unshape_client; sc_fail "the download failed"; return 1; }
	fleet_unshape_client
	[ "$(e2e_size "$FLEET_DIR/restart/$n")" = $n ] ||
		{ sc_fail "got $(e2e_size "$FLEET_DIR/restart/$n") of $n bytes"; return 1; }
	fleet_conn_log "$h" "$cid" | grep -q "g=$old .*closed (by client).*body_bytes=$n" ||
		{ sc_fail "the download did not finish in generation $old"; return 1; }
	# mid-download: generation $old was told to drain before the download ended
	local l_drain l_close
	l_drain=$(grep -n 'took over; draining' "$FLEET_DIR/srv-$h-g$old.log" | head -n 1 | cut -d: -f1)
	l_close=$(grep -n "conn $cid: closed" "$FLEET_DIR/srv-$h-g$old.log" | head -n 1 | cut -d: -f1)
	[ -n "$l_drain" ] && [ -n "$l_close" ] && [ "$l_drain" -lt "$l_close" ] ||
		{ sc_fail "the restart did not happen during the download"; return 1; }
	for _ in $(seq 1 50); do
		kill -0 "${FLEET_SRV_PID[$h:$old]}" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "${FLEET_SRV_PID[$h:$old]}" 2>/dev/null &&
		{ sc_fail "generation $old did not exit after draining"; return 1; }
	[ "$on" -gt 0 ] || e2e_log "  (no new connection happened to land on $h)"
	SC_WHERE="$h/$w g$old"
	SC_BYTES=$n
	sc_pass "old generation finished its download and exited; new connections met generation $new"
}

# fleet_rotate ARGS...: qlbctl rotate on the fleet file (quic_lb + hosts),
# which fleet_distribute then hands out.
fleet_rotate() {
	local out
	out=$("$QLBCTL" rotate "$@" -f "$FLEET_DIR/fleet.yaml" 2>&1) || {
		echo "qlbctl rotate $*: $out"
		return 1
	}
	echo "$out"
}

fleet_config_ids() {
	sed -n '/^hosts:/q;s/^ *- id: *\([0-9]\).*/\1/p' "$FLEET_DIR/fleet.yaml"
}

# sc_wait_minting ID SECS: every live worker logged that it mints under ID.
sc_wait_minting() {
	local h g deadline=$((SECONDS + $2))
	for h in "${FLEET_HOSTS[@]}"; do
		g=${FLEET_GEN[$h]}
		kill -0 "${FLEET_SRV_PID[$h:$g]}" 2>/dev/null || continue
		while ! [ "$(grep -c "minting under config $1" "$FLEET_DIR/srv-$h-g$g.log")" -ge "$FLEET_WORKERS" ]; do
			[ $SECONDS -lt $deadline ] || return 1
			sleep 0.1
		done
	done
}

# ---- 5. key rotation ---------------------------------------------------------------
scenario_rotation() {
	sc_begin rotation "key rotation (new, promote, retire) during downloads"
	local n=20000000 i old new out pids=() f
	old=$(fleet_config_ids | head -n 1)
	fleet_shape_client 50mbit	# the three downloads last about 10 s
	for i in 1 2 3; do
		sc_bg_get "rot$i" /whoami "/bytes/$n"
		pids+=("$SC_PID")
	done
	for i in 1 2 3; do
		fleet_whoami_wait "$FLEET_DIR/rot$i/whoami" 15 || { fleet_unshape_client; sc_fail "download $i: no answer"; return 1; }
	done
	e2e_log "  3 downloads under config $old: $(for i in 1 2 3; do printf '%s/%s ' "$(e2e_field "$FLEET_DIR/rot$i/whoami" host)" "$(e2e_field "$FLEET_DIR/rot$i/whoami" worker)"; done)"

	out=$(fleet_rotate new) || { fleet_unshape_client; sc_fail "$out"; return 1; }
	new=$(fleet_config_ids | grep -vx "$old" | head -n 1)
	[ -n "$new" ] || { fleet_unshape_client; sc_fail "rotate new added no config"; return 1; }
	fleet_distribute
	e2e_log "  rotate new: config $new (fresh key) routable on both LB nodes, known to the hosts"
	out=$(fleet_rotate promote "$new") || { fleet_unshape_client; sc_fail "$out"; return 1; }
	fleet_distribute
	local running=0
	for i in 0 1 2; do
		kill -0 "${pids[$i]}" 2>/dev/null && running=$((running + 1))
	done
	[ $running -gt 0 ] || { fleet_unshape_client; sc_fail "the downloads ended before the promotion"; return 1; }
	sc_wait_minting "$new" 15 || { fleet_unshape_client; sc_fail "servers did not switch to config $new"; return 1; }
	e2e_log "  rotate promote $new: servers mint under config $new; config $old retiring ($running of 3 downloads still running)"

	sc_many 6 rotnew /whoami || { fleet_unshape_client; sc_fail "new connections failed"; return 1; }
	for i in $(seq 1 6); do
		f=$FLEET_DIR/rotnew$i/whoami
		[ "$(e2e_field "$f" config_id)" = "$new" ] || { fleet_unshape_client; sc_fail "new connection under config $(e2e_field "$f" config_id)"; return 1; }
		[ $((0x$(e2e_field "$f" cid | cut -c1-2) >> 5)) = "$new" ] || { fleet_unshape_client; sc_fail "CID $(e2e_field "$f" cid) not under config $new"; return 1; }
		sc_cid_matches "$f" || { fleet_unshape_client; sc_fail "new CID does not decode"; return 1; }
	done
	e2e_log "  6 new connections: all config $new"

	for i in 1 2 3; do
		wait "${pids[$((i - 1))]}" || { fleet_unshape_client; sc_fail "download $i failed"; return 1; }
		[ "$(e2e_size "$FLEET_DIR/rot$i/$n")" = $n ] || { fleet_unshape_client; sc_fail "download $i short"; return 1; }
	done
	fleet_unshape_client
	e2e_log "  the 3 downloads under config $old completed"

	sleep 2	# the fleet file's drain_time
	out=$(fleet_rotate retire "$old") || { sc_fail "$out"; return 1; }
	fleet_distribute
	sc_many 3 rotret /whoami || { sc_fail "connections after retire failed"; return 1; }
	e2e_log "  rotate retire $old: new connections still served under config $new"
	SC_WHERE="config $old->$new"
	SC_BYTES=$((3 * n))
	sc_pass "all downloads complete; new connections use config $new"
}

# ---- 6. LB node switch ----------------------------------------------------------------
scenario_lb_switch() {
	sc_begin lb-switch "the router moves the VIP to the other LB node mid-download"
	local n=30000000 h w from to before after c0 c1 lb was=$FLEET_VIA
	fleet_shape_client 20mbit	# 12 s: time to find the path and switch it (BGP)
	sc_bg_get lbsw /whoami "/bytes/$n"
	fleet_whoami_wait "$FLEET_DIR/lbsw/whoami" 15 || { fleet_unshape_client; sc_fail "no answer"; return 1; }
	h=$(e2e_field "$FLEET_DIR/lbsw/whoami" host)
	w=$(e2e_field "$FLEET_DIR/lbsw/whoami" worker)
	from=$FLEET_VIA
	if [ "$from" = ecmp ]; then
		# both nodes are in the route: the one whose counter moves
		# carries this connection
		c0=$(sc_lb_counts)
		sleep 0.5
		c1=$(sc_lb_counts)
		for lb in "${FLEET_LBS[@]}"; do
			[ $(($(sc_count_of "$c1" "$lb") - $(sc_count_of "$c0" "$lb"))) -gt 0 ] && from=$lb
		done
		[ "$from" != ecmp ] || { fleet_unshape_client; sc_fail "no LB node carries the download"; return 1; }
	fi
	to=lb2
	[ "$from" = lb2 ] && to=lb1
	before=$(fleet_lb_routed "$to")
	sleep 0.5
	fleet_route_vip "$to"
	kill -0 "$SC_PID" 2>/dev/null || { fleet_unshape_client; sc_fail "the download ended before the switch"; return 1; }
	e2e_log "  downloading from $h worker $w through $from; VIP now routed to $to only"
	wait "$SC_PID" || { fleet_unshape_client; sc_fail "the download failed"; return 1; }
	fleet_unshape_client
	[ "$(e2e_size "$FLEET_DIR/lbsw/$n")" = $n ] || { sc_fail "got $(e2e_size "$FLEET_DIR/lbsw/$n") of $n bytes"; return 1; }
	after=$(fleet_lb_routed "$to")
	[ "$before" -ge 0 ] && [ "$after" -gt "$before" ] ||
		{ sc_fail "$to routed nothing by CID ($before -> $after packets)"; return 1; }
	e2e_log "  $to routed $((after - before)) packets of the connection by its CID"
	if [ "$was" = ecmp ]; then
		fleet_route_vip ecmp
		e2e_log "  both LB nodes in the route again"
	fi
	SC_WHERE="$h/$w $from->$to"
	SC_BYTES=$n
	sc_pass "download complete across the LB switch; $to routed its packets by CID"
}

# fleet_lb_routed LB: packets the LB node routed by CID (all VIPs).
fleet_lb_routed() {
	fleet_lb_stats_json "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    doc = json.load(sys.stdin)
    print(sum(v["reasons"]["routed_cid"]["packets"] for v in doc["vips"]))
except Exception:
    print(-1)'
}

# ---- 7. drain and down --------------------------------------------------------------
scenario_drain() {
	sc_begin drain "a host drains mid-download, another goes down"
	local n=30000000 h w d on i
	fleet_shape_client 40mbit	# 6 s: time to edit and hand out the file
	sc_bg_get drain /whoami "/bytes/$n"
	fleet_whoami_wait "$FLEET_DIR/drain/whoami" 15 || { fleet_unshape_client; sc_fail "no answer"; return 1; }
	h=$(e2e_field "$FLEET_DIR/drain/whoami" host)
	w=$(e2e_field "$FLEET_DIR/drain/whoami" worker)
	fleet_set_host_state "$h" draining
	fleet_distribute
	kill -0 "$SC_PID" 2>/dev/null || { fleet_unshape_client; sc_fail "the download ended before $h drained"; return 1; }
	e2e_log "  downloading from $h worker $w; $h is now draining"
	sc_many 12 drn /whoami || { fleet_unshape_client; sc_fail "new connections failed while $h drains"; return 1; }
	on=$(sc_count_on 12 drn "$h")
	[ "$on" = 0 ] || { fleet_unshape_client; sc_fail "$on new connections landed on draining $h"; return 1; }
	e2e_log "  12 new connections: none on $h"
	wait "$SC_PID" || { fleet_unshape_client; sc_fail "the download from draining $h failed"; return 1; }
	fleet_unshape_client
	[ "$(e2e_size "$FLEET_DIR/drain/$n")" = $n ] || { sc_fail "short download"; return 1; }
	e2e_log "  the download from draining $h completed"

	for d in "${FLEET_HOSTS[@]}"; do [ "$d" != "$h" ] && break; done
	fleet_set_host_state "$d" down
	fleet_distribute
	e2e_stop "${FLEET_SRV_PID[$d:${FLEET_GEN[$d]}]}" INT
	e2e_log "  $d is down (its server stopped)"
	sc_many 12 dwn /whoami || { sc_fail "new connections failed with $d down"; return 1; }
	[ "$(sc_count_on 12 dwn "$d")" = 0 ] || { sc_fail "a connection landed on down $d"; return 1; }
	[ "$(sc_count_on 12 dwn "$h")" = 0 ] || { sc_fail "a connection landed on draining $h"; return 1; }
	e2e_log "  12 new connections succeeded, none on $d or $h"
	SC_WHERE="$h/$w"
	SC_BYTES=$n
	sc_pass "draining host finished its download and took no new connections; down host avoided"
}

# ---- 8. IPv6 ------------------------------------------------------------------------
scenario_ipv6() {
	sc_begin ipv6 "IPv6 end to end: request and a migrating download"
	local f
	FLEET_V6=1 fleet_get "$FLEET_DIR/v6" 20 /whoami >"$FLEET_DIR/v6.client.log" 2>&1 ||
		{ sc_fail "request to [$VIP6] failed"; return 1; }
	f=$FLEET_DIR/v6/whoami
	sc_whoami_ok "$f" || { sc_fail "bad answer: $(cat "$f")"; return 1; }
	sc_cid_matches "$f" || { sc_fail "CID does not route to its server"; return 1; }
	e2e_log "  $(cat "$f")"
	FLEET_V6=1 sc_migrate migrate6 --change-local-addr=300ms || return 1
	sc_pass "IPv6 request and migrating download complete"
}

# ---- agent restart ----------------------------------------------------------
# Not one of issue 6's list, but what a host operator does: SIGKILL the
# agent mid-download and start it again. The data plane lives in pinned
# maps, the download goes on, and the workers reconnect by themselves.
scenario_agent_restart() {
	sc_begin agent-restart "the host agent is killed (SIGKILL) and restarted mid-download"
	local n=20000000 h w g i
	fleet_shape_client 100mbit
	sc_bg_get agrs /whoami "/bytes/$n"
	fleet_whoami_wait "$FLEET_DIR/agrs/whoami" 15 || { fleet_unshape_client; sc_fail "no answer"; return 1; }
	h=$(e2e_field "$FLEET_DIR/agrs/whoami" host)
	w=$(e2e_field "$FLEET_DIR/agrs/whoami" worker)
	g=${FLEET_GEN[$h]}
	{
		e2e_stop "${FLEET_AGENT_PID[$h]}" KILL
		wait "${FLEET_AGENT_PID[$h]}"
	} 2>/dev/null
	e2e_log "  downloading from $h worker $w; agent on $h killed"
	sleep 0.3
	fleet_agent_start "$h"
	e2e_wait_log "$FLEET_DIR/srv-$h-g$g.log" 'agent back' "$FLEET_WORKERS" 10 ||
		{ fleet_unshape_client; sc_fail "the workers on $h did not reconnect"; return 1; }
	e2e_log "  agent on $h restarted; its $FLEET_WORKERS workers reconnected"
	wait "$SC_PID" || { fleet_unshape_client; sc_fail "the download failed"; return 1; }
	fleet_unshape_client
	[ "$(e2e_size "$FLEET_DIR/agrs/$n")" = $n ] || { sc_fail "short download"; return 1; }
	sc_many 12 agnew /whoami || { sc_fail "new connections failed after the agent restart"; return 1; }
	for i in $(seq 1 12); do
		sc_cid_matches "$FLEET_DIR/agnew$i/whoami" || { sc_fail "a new CID does not name its worker"; return 1; }
	done
	e2e_log "  12 new connections after the restart: $(sc_count_on 12 agnew "$h") on $h, every CID naming its worker"
	SC_WHERE="$h/$w"
	SC_BYTES=$n
	sc_pass "download complete across the agent restart; workers reconnected"
}

# ---- the routing fabric: ECMP over both LB nodes, failover, rejoin ---------

# sc_bytes_exact FILE N: FILE holds the server's N bytes of filler ('q').
sc_bytes_exact() {
	[ "$(e2e_size "$1")" = "$2" ] && [ -z "$(tr -d q <"$1" | head -c 1)" ]
}

# sc_lb_counts: "lb1=P lb2=P" packets seen so far by each LB node.
sc_lb_counts() {
	local n out=
	for n in "${FLEET_LBS[@]}"; do
		out+="$n=$(fleet_lb_packets "$n") "
	done
	echo "${out% }"
}

# sc_count_of "lb1=P lb2=P" LB: P of LB.
sc_count_of() {
	tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

# sc_downloads_bg N PREFIX SIZE: N downloads of SIZE bytes at once in the
# background; their PIDs in SC_PIDS.
sc_downloads_bg() {
	local i
	SC_PIDS=()
	for i in $(seq 1 "$1"); do
		fleet_get "$FLEET_DIR/$2$i" 120 "/bytes/$3" >"$FLEET_DIR/$2$i.client.log" 2>&1 &
		SC_PIDS+=($!)
	done
}

# sc_downloads_check N PREFIX SIZE: wait for them; 0 when all N are
# complete and byte-exact, else the count of the others, each named in
# $FLEET_DIR/PREFIX.errors. (Not in a $(...): wait needs this shell.)
sc_downloads_check() {
	local i bad=0
	for i in $(seq 1 "$1"); do
		wait "${SC_PIDS[$((i - 1))]}" || { echo "download $i: client failed: $(tail -n 2 "$FLEET_DIR/$2$i.client.log" | tr '\n' ' ')"; bad=$((bad + 1)); continue; }
		sc_bytes_exact "$FLEET_DIR/$2$i/$3" "$3" ||
			{ echo "download $i: $(e2e_size "$FLEET_DIR/$2$i/$3") of $3 bytes or not the server's"; bad=$((bad + 1)); }
	done >"$FLEET_DIR/$2.errors"
	return $bad
}

# sc_wait_started N PREFIX SECS: at least N of the downloads PREFIX* got
# some bytes (one find per poll: cheap on a loaded machine).
sc_wait_started() {
	local deadline=$((SECONDS + $3))
	while [ "$(find "$FLEET_DIR" -mindepth 2 -maxdepth 2 -path "$FLEET_DIR/$2*/*" ! -name whoami -size +0 | wc -l)" -lt "$1" ]; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

# sc_alive PID...: how many of these processes still run.
sc_alive() {
	local p c=0
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && c=$((c + 1))
	done
	echo $c
}

# sc_time_until SECS CMD...: milliseconds until CMD succeeds (polled every
# 10 ms), or "timeout".
sc_time_until() {
	local secs=$1 t0 deadline
	shift
	t0=$(e2e_ms)
	deadline=$((t0 + secs * 1000))
	while ! "$@"; do
		[ "$(e2e_ms)" -lt $deadline ] || { echo timeout; return 1; }
		sleep 0.01
	done
	echo $(($(e2e_ms) - t0))
}

# sc_route_event_ms LOG T0_NS VIA...: milliseconds from T0_NS (date
# +%s%N) to the first change of the router's IPv4 VIP route, in an
# `ip -ts monitor route` LOG, whose next hops are exactly VIA ("-" when
# none was seen). The kernel's own timestamps: no polling delay.
sc_route_event_ms() {
	local log=$1 t0=$2 want ts blk t
	shift 2
	want=$(tr ' ' '\n' <<<"$*" | sort | tr '\n' ' ')
	while IFS=$'\t' read -r ts blk; do
		[[ $blk == "$VIP4 "* ]] || continue
		[ "$(grep -o 'dev r-[a-z0-9]*' <<<"$blk" | sed 's/dev r-//' | sort | tr '\n' ' ')" = "$want" ] || continue
		t=$(date -d "${ts/T/ }" +%s%N 2>/dev/null) || continue
		[ "$t" -ge "$t0" ] || continue
		echo $(((t - t0) / 1000000))
		return 0
	done < <(awk '/^\[/ { if (b != "") print b; ts = substr($1, 2, length($1) - 2); $1 = ""; b = ts "\t" substr($0, 2); next }
		{ b = b " " $0 } END { if (b != "") print b }' "$log")
	echo -
}

# sc_paths_stable PATHS SECS MAX: the VIP routes are PATHS for SECS in a
# row, within MAX seconds.
sc_paths_stable() {
	local since=$SECONDS deadline=$((SECONDS + $3))
	while [ $SECONDS -lt $deadline ]; do
		if sc_paths_are "$1"; then
			[ $((SECONDS - since)) -ge "$2" ] && return 0
		else
			since=$SECONDS
		fi
		sleep 0.1
	done
	return 1
}

sc_paths_are() { [ "$(fleet_paths 4)" = "$1" ] && [ "$(fleet_paths 6)" = "$1" ]; }

sc_paths_have() {
	[[ " $(fleet_paths 4) " == *" $1 "* ]] && [[ " $(fleet_paths 6) " == *" $1 "* ]]
}

# ---- 9. active-active -----------------------------------------------------
scenario_ecmp() {
	sc_begin ecmp "16 clients download at once over both LB nodes (ECMP)"
	local n=4000000 c0 c1 d lb
	[ "$FLEET_VIA" = ecmp ] || { sc_fail "the router does not use both LB nodes ($FLEET_VIA)"; return 1; }
	e2e_log "  router: VIPs via $(fleet_paths 4) (IPv4), $(fleet_paths 6) (IPv6)"
	for lb in "${FLEET_LBS[@]}"; do
		d=$(e2e_in "$(fleet_ns "$lb")" "$QLBCTL" lb status -f "$FLEET_DIR/$lb.yaml" 2>&1)
		grep -q '^announce ' <<<"$d" || continue # a build without it
		grep -q "^ *$VIP4  *announced" <<<"$d" && grep -q "^ *$VIP6  *announced" <<<"$d" ||
			{ sc_fail "$lb: lb status does not say both VIPs are announced: $d"; return 1; }
		e2e_log "  $lb: lb status: both VIPs announced; $(grep '^announce ' <<<"$d" | sed 's/^announce  *//')"
	done
	c0=$(sc_lb_counts)
	fleet_shape_client 100mbit
	sc_downloads_bg 16 ecmp $n
	sc_downloads_check 16 ecmp $n
	d=$?
	fleet_unshape_client
	[ $d = 0 ] || { sc_fail "$d of 16 downloads failed: $(cat "$FLEET_DIR/ecmp.errors")"; return 1; }
	c1=$(sc_lb_counts)
	for lb in "${FLEET_LBS[@]}"; do
		d=$(($(sc_count_of "$c1" "$lb") - $(sc_count_of "$c0" "$lb")))
		e2e_log "  $lb: $d packets of the 16 downloads"
		[ "$d" -gt 0 ] || { sc_fail "$lb carried nothing: ECMP is not spreading"; return 1; }
	done
	SC_WHERE="$(fleet_paths 4)"
	SC_BYTES=$((16 * n))
	sc_pass "16 of 16 byte-exact; both LB nodes carried packets"
}

# ---- 10. an LB node dies mid-download ---------------------------------------
# scenario_lb_failure link|bgp|freeze|xdp [LB]: 16 downloads through both
# LB nodes; LB (default lb1) loses its link, or its BIRD is killed with the
# link up (the kernel closes its TCP sessions), or frozen (SIGSTOP: the
# sessions stay open and only BFD tells the router), or its XDP program is
# detached (`qlbctl lb run` must notice and withdraw; back with lb apply);
# every download completes through the other node; LB comes back and the
# router uses it again. Prints the failover and rejoin times.
scenario_lb_failure() {
	local how=$1 v=${2:-lb1} o n=4000000 c0 c1 c2 d t_out t_in i t0 mon both
	for o in "${FLEET_LBS[@]}"; do [ "$o" != "$v" ] && break; done
	local what
	case $how in
	link) what="loses its link" ;;
	bgp) what="loses its BGP daemon (SIGKILL), link up" ;;
	freeze) what="has its BGP daemon frozen (SIGSTOP; only BFD notices), link up" ;;
	xdp) what="loses its XDP program (detached behind qlb's back; lb run withdraws)" ;;
	esac
	sc_begin "lb-failure-$how" "$v $what mid-download"
	[ "$FLEET_VIA" = ecmp ] || { sc_fail "the router does not use both LB nodes ($FLEET_VIA)"; return 1; }
	c0=$(sc_lb_counts)
	fleet_shape_client 30mbit	# 16 x 4 MB: about 17 s, less than a busy machine does
	sc_downloads_bg 16 "f$how" $n
	sc_wait_started 8 "f$how" 30 || { fleet_unshape_client; sc_fail "the downloads did not start"; return 1; }
	# downloads under way through the victim: its counter moves
	for _ in $(seq 1 50); do
		c1=$(sc_lb_counts)
		d=$(($(sc_count_of "$c1" "$v") - $(sc_count_of "$c0" "$v")))
		[ "$d" -ge 200 ] && break
		sleep 0.1
	done
	[ "$d" -ge 200 ] || { fleet_unshape_client; sc_fail "$v carried only $d packets of the downloads before the failure"; return 1; }
	e2e_bg "mon-$how" "$(fleet_ns rtr)" ip -ts monitor route
	mon=$E2E_LAST_PID
	sleep 0.2
	t0=$(date +%s%N)
	case $how in
	link) fleet_lb_link_down "$v" ;;
	bgp) fleet_bird_kill "$v" KILL ;;
	freeze) e2e_stop "${FLEET_BIRD_PID[$v]}" STOP ;;
	xdp) ip -n "$(fleet_ns "$v")" link set dev eth0 xdp off ;;
	esac
	t_out=$(sc_time_until 10 sc_paths_are "$o")
	[ "$t_out" = timeout ] || t_out=$(sc_route_event_ms "$FLEET_DIR/mon-$how.log" "$t0" "$o")
	i=$(sc_alive "${SC_PIDS[@]}")
	e2e_log "  $v carried $d packets; $how failure with $i of 16 downloads running: the router dropped $v after $t_out ms"
	[ "$t_out" != timeout ] || { e2e_stop "$mon"; fleet_unshape_client; sc_fail "the router kept routing to $v"; return 1; }
	[ "$i" -ge 8 ] || { fleet_unshape_client; sc_fail "only $i downloads were still running at the failure"; return 1; }
	sc_downloads_check 16 "f$how" $n
	d=$?
	fleet_unshape_client
	[ $d = 0 ] || { sc_fail "$d of 16 downloads failed: $(cat "$FLEET_DIR/f$how.errors")"; return 1; }
	c2=$(sc_lb_counts)
	d=$(($(sc_count_of "$c2" "$o") - $(sc_count_of "$c1" "$o")))
	e2e_log "  16 of 16 downloads complete and byte-exact; $o carried $d packets after the failure"
	[ "$d" -gt 0 ] || { sc_fail "$o carried nothing after the failure"; return 1; }
	t0=$(date +%s%N)
	case $how in
	link) fleet_lb_link_up "$v" ;;
	bgp) fleet_bird_start "$v" ;;
	freeze) e2e_stop "${FLEET_BIRD_PID[$v]}" CONT ;;
	xdp) fleet_lb_apply "$v" || { sc_fail "qlbctl lb apply on $v failed"; return 1; } ;;
	esac
	both=$(tr ' ' '\n' <<<"$v $o" | sort | tr '\n' ' ' | sed 's/ $//')
	t_in=$(sc_time_until 30 sc_paths_are "$both")
	[ "$t_in" = timeout ] || t_in=$(sc_route_event_ms "$FLEET_DIR/mon-$how.log" "$t0" "$v" "$o")
	[ "$t_in" != timeout ] || { e2e_stop "$mon"; sc_fail "$v did not rejoin ECMP ($(fleet_paths 4))"; return 1; }
	# and stays: a daemon woken from a freeze may drop the new session
	# once more when its own BFD timers fire
	sc_paths_stable "$both" 3 30 || { e2e_stop "$mon"; sc_fail "$v did not stay in the route ($(fleet_paths 4))"; return 1; }
	e2e_stop "$mon"
	i=$(grep -c "^\[.*\] $VIP4 " "$FLEET_DIR/mon-$how.log")
	[ "$i" -le 3 ] || e2e_log "  (the router changed the VIP route $i times: $v flapped before it settled)"
	e2e_log "  $v back: in the router's ECMP route again after $t_in ms"
	c1=$(sc_lb_counts)
	sc_many 12 "r$how" /whoami || { sc_fail "new connections failed after $v came back"; return 1; }
	c2=$(sc_lb_counts)
	d=$(($(sc_count_of "$c2" "$v") - $(sc_count_of "$c1" "$v")))
	[ "$d" -gt 0 ] || { sc_fail "$v carried none of 12 new connections after rejoining"; return 1; }
	e2e_log "  12 new connections: $v carried $d packets again"
	echo "failover-$how: withdraw $t_out ms, rejoin $t_in ms" >>"$FLEET_DIR/failover.txt"
	SC_WHERE="$v out ${t_out}ms, in ${t_in}ms"
	SC_BYTES=$((16 * n))
	sc_pass "16 of 16 byte-exact across the loss of $v ($t_out ms to withdraw); $v rejoined ($t_in ms)"
}

# The demo's LB node failure: lb1's link is cut mid-download.
scenario_lb_node_failure() {
	scenario_lb_failure link lb1
}

# ---- 11. a migrating client changes LB node ----------------------------------
# A client moves to a new local port mid-download; the router's L4 hash
# sends the new 4-tuple to either LB node. Repeated until a move lands on
# the other node (each try is a coin toss); every try must keep its
# connection.
scenario_migration_ecmp() {
	sc_begin migration-ecmp "a migrating client's new 4-tuple hashes to the other LB node"
	local n=40000000 try prev cur lb d grew first last h cid
	[ "$FLEET_VIA" = ecmp ] || { sc_fail "the router does not use both LB nodes ($FLEET_VIA)"; return 1; }
	fleet_shape_client 100mbit
	for try in $(seq 1 8); do
		sc_bg_get "mx$try" --change-local-addr=2s /whoami "/bytes/$n"
		# which nodes carry the connection, interval by interval
		first=""
		last=""
		prev=$(sc_lb_counts)
		for _ in $(seq 1 300); do
			kill -0 "$SC_PID" 2>/dev/null || break
			sleep 0.2
			cur=$(sc_lb_counts)
			grew=
			for lb in "${FLEET_LBS[@]}"; do
				d=$(($(sc_count_of "$cur" "$lb") - $(sc_count_of "$prev" "$lb")))
				[ "$d" -gt 0 ] && grew+="$lb "
			done
			prev=$cur
			[ -n "$grew" ] || continue
			[ -n "$first" ] || first=$grew
			last=$grew
		done
		wait "$SC_PID" || { fleet_unshape_client; sc_fail "try $try: the client failed"; return 1; }
		sc_bytes_exact "$FLEET_DIR/mx$try/$n" $n ||
			{ fleet_unshape_client; sc_fail "try $try: got $(e2e_size "$FLEET_DIR/mx$try/$n") of $n bytes"; return 1; }
		h=$(e2e_field "$FLEET_DIR/mx$try/whoami" host)
		cid=$(e2e_field "$FLEET_DIR/mx$try/whoami" cid)
		sc_moved_mid "$h" "$cid" $n ||
			{ fleet_unshape_client; sc_fail "try $try: $h saw no move mid-download"; return 1; }
		e2e_log "  try $try: first via ${first:-none}, last via ${last:-none}; download complete and byte-exact at $h"
		if [ "$(wc -w <<<"$first")" = 1 ] && [ "$(wc -w <<<"$last")" = 1 ] && [ "$first" != "$last" ]; then
			fleet_unshape_client
			SC_WHERE="$h ${first% }->${last% }"
			SC_BYTES=$n
			sc_pass "the connection moved from ${first% } to ${last% } with the client and completed byte-exact at $h"
			return 0
		fi
	done
	fleet_unshape_client
	sc_fail "in 8 tries no move hashed to the other LB node"
}

# a host dies and comes back: health checking (scenario_host_failure)
. "$(dirname "${BASH_SOURCE[0]}")/health.sh"
