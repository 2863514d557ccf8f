#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# remove.sh: stopping dyperd and removing Dyper, in a network namespace of
# its own.  Stopping (SIGTERM, what systemctl stop sends) leaves the table
# with its drop policy (on_exit = keep, the default).  `dyperd --remove-table` refuses while a dyperd answers,
# leaves alone a table of the configured name that Dyper did not make,
# removes Dyper's own once dyperd is stopped, and says so when there is
# none.  `make uninstall` (as root, no DESTDIR, PREFIX and SYSCONFDIR in
# the temp dir) removes the table as package removal does, and keeps it,
# saying so, while dyperd still runs.
#
# Needs root; touches nothing outside its namespace and temp dir (the
# uninstall's PREFIX and SYSCONFDIR are in it; its systemctl step only acts
# on a unit systemd loaded from that PREFIX, which none is).  Output:
# "ok - ..." / "not ok - ..." per check, then "remove: N passed, N
# failed"; exit 0 only if nothing failed (77 when not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_root
need_bins "$DYPERD" "$DYPERCTL"
need_tools nft make

start_test
chmod 755 "$T"
NS=dyt-$$-rm
run ip netns add "$NS"
created_ns+=("$NS")
run ip -n "$NS" link set lo up

P=$T/prefix		# make uninstall's PREFIX: sbin/dyperd
E=$T/etc		# its SYSCONFDIR: dyper/dyper.conf
CONF=$E/dyper/dyper.conf
mkdir -p "$P/sbin" "$E/dyper"
printf 'allow * * * * * * 1024-65535\n' >"$T/policy"
# write_conf [DAEMON-LINE...]
write_conf() {
	{
		echo "[daemon]"
		echo "user = nobody"
		echo "group = daemon"
		echo "agent_socket = $T/agent.sock"
		echo "control_socket = $T/control.sock"
		echo "policy = $T/policy"
		printf '%s\n' "$@"
	} >"$CONF"
	chmod 644 "$CONF" "$T/policy"
}
write_conf
install_dyperd() {
	cp "$DYPERD" "$P/sbin/dyperd" && chmod 755 "$P/sbin/dyperd"
}
install_dyperd

DPID=
start_dyperd() {
	ip netns exec "$NS" "$P/sbin/dyperd" -f -c "$CONF" >>"$T/dyperd.log" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
	poll 5000 0.02 "$DYPERCTL" -s "$T/control.sock" stats >/dev/null 2>&1 ||
		bail "dyperd did not start"
}
stop_dyperd() {
	sig TERM "$DPID"
	wait_exit "$DPID" 5000
}
has_table() {
	ip netns exec "$NS" nft list chain inet "${1:-dyper}" input 2>/dev/null | grep -q 'policy drop'
}
remove() {
	OUT=$(ip netns exec "$NS" "$P/sbin/dyperd" --remove-table -c "$CONF" 2>&1)
}
# --- stopping leaves the table ---------------------------------------------------------

start_dyperd
if has_table; then
	ok "dyperd runs, its table is in place"
else
	not_ok "dyperd runs, its table is in place"
fi
if remove; then
	not_ok "--remove-table refuses while dyperd answers"
	diag_s "$OUT"
elif grep -q "a dyperd answers on $T/control.sock: stop it first" <<<"$OUT" && has_table; then
	ok "--remove-table refuses while dyperd answers, the table stays: $OUT"
else
	not_ok "--remove-table refuses while dyperd answers, the table stays"
	diag_s "$OUT"
fi
stop_dyperd
if has_table; then
	ok "stopped (SIGTERM, on_exit = keep): the table stays, policy drop"
else
	not_ok "stopped (SIGTERM, on_exit = keep): the table stays, policy drop"
fi

# --- removing it ---------------------------------------------------------------------------

if remove && grep -q 'table inet dyper removed' <<<"$OUT" && ! has_table &&
	! ip netns exec "$NS" nft list table inet dyper >/dev/null 2>&1; then
	ok "--remove-table once dyperd is stopped: the table is gone"
else
	not_ok "--remove-table once dyperd is stopped: the table is gone"
	diag_s "$OUT"
fi
if remove && grep -q 'no table inet dyper: nothing to remove' <<<"$OUT"; then
	ok "--remove-table again: nothing to remove, exit 0"
else
	not_ok "--remove-table again: nothing to remove, exit 0"
	diag_s "$OUT"
fi

# an admin's own table that happens to have the configured name
write_conf "" "[enforcer]" "table = mine"
ip netns exec "$NS" nft add table inet mine
ip netns exec "$NS" nft add chain inet mine input '{ type filter hook input priority 0; policy drop; }'
if ! remove && grep -q 'table inet mine was not made by Dyper: left alone' <<<"$OUT" && has_table mine; then
	ok "a table of the configured name that Dyper did not make is left alone (exit 1)"
else
	not_ok "a table of the configured name that Dyper did not make is left alone"
	diag_s "$OUT"
fi
ip netns exec "$NS" nft delete table inet mine
write_conf

# --- make uninstall ------------------------------------------------------------------------

uninstall() {
	OUT=$(ip netns exec "$NS" make -C "$ROOT" --no-print-directory B="$T/b" PREFIX="$P" \
		SYSCONFDIR="$E" uninstall 2>&1)
}
start_dyperd
uninstall
if has_table && grep -q "a dyperd answers" <<<"$OUT" &&
	grep -q "make uninstall: Dyper's table is still in the kernel" <<<"$OUT"; then
	ok "make uninstall while dyperd runs: the table stays, and it says so"
else
	not_ok "make uninstall while dyperd runs: the table stays, and it says so"
	diag_s "$OUT"
fi
stop_dyperd
install_dyperd
uninstall
if ! has_table && grep -q 'table inet dyper removed' <<<"$OUT" && [ ! -e "$P/sbin/dyperd" ]; then
	ok "make uninstall once dyperd is stopped: the table is gone with the files"
else
	not_ok "make uninstall once dyperd is stopped: the table is gone with the files"
	diag_s "$OUT"
fi

summary
