#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# pin_dir taken on trust (docs/security.md): bpffs' root is mode 1777, so
# an unprivileged user can create a directory there before the LB node
# does and later rename its pins away. `qlbctl lb apply` and `lb detach`
# refuse a pin_dir with a component not owned by root or writable by group
# or others (naming it, nothing pinned), and create missing components
# 0700 root-owned. A real unprivileged uid (nobody) plays the attacker.
L_TAG=lbpd
XDP_MODE=generic
source "$(dirname "$0")/../lib/lb.sh"

lb_setup
EVIL=/sys/fs/bpf/qlbt-lbpd-evil-$$
GW=/sys/fs/bpf/qlbt-lbpd-gw-$$
LINK=/sys/fs/bpf/qlbt-lbpd-link-$$
trap 'rm -rf "$EVIL" "$GW"; rm -f "$LINK"; lb_cleanup' EXIT
NOBODY=$(id -u nobody)

# refused PIN_DIR COMPONENT WHY: apply with PIN_DIR fails naming COMPONENT
# and saying WHY, and pins nothing
refused() {
	local f=$L_DIR/refused.yaml
	lb_yaml "$f" lb0 "$1"
	lexec "$QLBCTL" lb apply -f "$f" >"$L_DIR/out" 2>&1 && { cat "$L_DIR/out"; fail "applied with pin_dir $1"; }
	cat "$L_DIR/out"
	grep -q "$2[: ].*$3" "$L_DIR/out" || fail "pin_dir $1: the error does not name $2 ($3)"
	[ -e "$1/qlb_ctrl" ] && fail "pin_dir $1: maps pinned though refused"
	lexec ip link show dev lb0 | grep -q "prog/xdp" && fail "pin_dir $1: a program was attached though refused"
	return 0
}

# 1. a parent created by another user
setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups mkdir "$EVIL" || fail "nobody cannot mkdir under bpffs"
refused "$EVIL/lb" "$EVIL" "owned by uid $NOBODY"
# the attack it prevents: nobody may rename what is in its own directory
setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups mkdir "$EVIL/x" || fail "nobody cannot mkdir in its own directory"
setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups mv "$EVIL/x" "$EVIL/y" || fail "nobody cannot rename in its own directory"

# 2. root's, but writable by group or others
mkdir -m 0775 "$GW" && chmod 0775 "$GW"
refused "$GW/lb" "$GW" "writable by group or others"
chmod 0757 "$GW"
refused "$GW/lb" "$GW" "writable by group or others"

# 3. a symbolic link among the components
mkdir -m 0700 "$GW/real" 2>/dev/null || mkdir "$GW/real"
ln -s "$GW" "$LINK" 2>/dev/null || true
if [ -L "$LINK" ]; then
	refused "$LINK/lb" "$LINK" "symbolic link"
else
	log "bpffs has no symbolic links here: case skipped"
fi

# 4. missing components are created 0700 and root-owned; apply works
P=$L_PINROOT/a/b/lb1
lb_yaml "$L_DIR/ok.yaml" lb0 "$P"
lexec "$QLBCTL" lb apply -f "$L_DIR/ok.yaml" || fail "apply with a fresh pin_dir"
for d in "$L_PINROOT" "$L_PINROOT/a" "$L_PINROOT/a/b" "$P"; do
	[ "$(stat -c '%u %a' "$d")" = "0 700" ] || fail "$d created as $(stat -c 'uid %u mode %a' "$d")"
done
[ -e "$P/qlb_ctrl" ] || fail "no pins under $P"

# 5. detach refuses a pin_dir that became untrustworthy
chmod 0777 "$L_PINROOT/a"
lexec "$QLBCTL" lb detach --pin-dir "$P" >"$L_DIR/out" 2>&1 && fail "detach trusted a world-writable component"
grep -q "$L_PINROOT/a .*writable by group or others" "$L_DIR/out" || { cat "$L_DIR/out"; fail "detach: the error does not name $L_PINROOT/a"; }
chmod 0700 "$L_PINROOT/a"
lexec "$QLBCTL" lb detach --pin-dir "$P" >/dev/null || fail "detach"
log PASS
