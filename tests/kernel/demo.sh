#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo.sh: `make demo` as a test.  Runs scripts/demo.sh (with this B) and
# checks that it exits 0 and shows what it claims: a pinhole in dyperctl
# list for the external host with its owner program vsftpd, closed after the
# download, and the download failing without the wrapper; that it leaves no
# namespace, temp dir or setgid wrapper copy behind; that it refuses to run
# without root; and that a TERM in the middle of the run still tears
# everything down.
#
# Needs root (77 otherwise: skipped), vsftpd, curl and python3 (make deps).
# Output: "ok - ..." / "not ok - ..." per check, then
# "demo: N passed, N failed"; exit 0 only if nothing failed.

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DEMO=$ROOT/scripts/demo.sh
PATH=$PATH:/usr/sbin:/sbin

need_root
need_bins "$BDIR/bin/dyperd" "$BDIR/bin/dyperctl" "$BDIR/bin/dyper-wrap"
for tool in vsftpd curl python3 setpriv timeout; do
	if ! command -v "$tool" >/dev/null; then
		echo "demo.sh: $tool missing (make deps); skipped" >&2
		exit 77
	fi
done
start_test

# left_behind OUT: what the run whose output is OUT left: its namespaces,
# its temp dir, its setgid wrapper copy, processes naming its temp dir.
# Prints them; 1 if nothing is left, 2 if OUT names no namespace at all.
left_behind() {
	local out=$1 names t w left=

	names=$(grep -o 'dyper-demo-[0-9]*-\(external\|internal\)' "$out" | sort -u)
	[ -n "$names" ] || return 2
	for n in $names; do
		ip netns list | grep -qw -- "$n" && left+=" namespace $n;"
	done
	t=$(grep -o '/tmp/dyper-demo\.[A-Za-z0-9]*' "$out" | head -n 1)
	[ -n "$t" ] && [ -e "$t" ] && left+=" $t;"
	[ -n "$t" ] && grep -lsF "$t" /proc/[0-9]*/cmdline >/dev/null && left+=" processes naming $t;"
	w=$(grep -o '[^ ]*/dyper-demo-wrap\.[A-Za-z0-9]*/dyper-wrap' "$out" | head -n 1)
	[ -n "$w" ] && { [ -e "$w" ] || [ -e "$ROOT/$w" ]; } && left+=" $w;"
	[ -n "$left" ] || return 1
	echo "$left"
}

# check_clean DESC OUT: ok if the run whose output is OUT left nothing.
check_clean() {
	local left rc

	left=$(left_behind "$2")
	rc=$?
	case $rc in
	1) ok "$1: nothing left behind (namespaces, temp dir, wrapper copy, processes)" ;;
	2) not_ok "$1: its output names no namespace" ;;
	*) not_ok "$1: left behind:$left" ;;
	esac
}

# failed_saying DESC RC TEXT OUT: ok if a run exited nonzero (RC) and its
# output OUT has TEXT.
failed_saying() {
	if [ "$2" -ne 0 ] && grep -qF -- "$3" "$4"; then
		ok "$1 (exit $2)"
	else
		not_ok "$1 (exit $2)"
		diag "$4"
	fi
}

# --- a full run ---------------------------------------------------------------------

OUT=$T/demo.out
timeout -k 5 120 env B="$B" "$DEMO" >"$OUT" 2>&1 </dev/null
rc=$?
if [ $rc -eq 0 ]; then
	ok "the demo runs to its end (exit 0)"
else
	not_ok "the demo runs to its end (exit $rc)"
	diag "$OUT" 30
fi
# a dyperctl list line: ID tcp REMOTE LOCAL UID PID PROGRAM ...
if grep -Eq '^ +[0-9]+ +tcp +198\.51\.100\.10:\* +192\.0\.2\.10:[0-9]+ +[0-9]+ +[0-9]+ +vsftpd ' "$OUT"; then
	ok "dyperctl list shows the pinhole for the external host, owned by vsftpd"
else
	not_ok "dyperctl list shows the pinhole for the external host, owned by vsftpd"
fi
check "the pinhole is in the kernel's set, the owner in its comment" \
	grep -Eq 'elements = \{ 198\.51\.100\.10 \. tcp \. 192\.0\.2\.10 \. [0-9]+ .*comment "uid [0-9]+ pid [0-9]+ .* vsftpd"' "$OUT"
check "it says the pinhole closed after the download" grep -Eq 'ok: closed [0-9]+ ms after the download' "$OUT"
check "curl downloads through Dyper, sha256 matching" grep -q 'ok: 20 MB, the same sha256 on both hosts' "$OUT"
check "without the wrapper the transfer fails, dropped by the table" \
	grep -Eq 'ok: the transfer failed without the wrapper: the table dropped [1-9][0-9]* packets' "$OUT"
check "it ends with what to read next" grep -q 'man -l doc/dyper-wrap.1' "$OUT"
check_clean "a full run" "$OUT"

# --- without root -----------------------------------------------------------------------

if setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$DEMO"; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups env B="$B" "$DEMO" >"$T/user.out" 2>&1 </dev/null
	failed_saying "without root it fails, saying \"run it as: sudo make demo\"" $? \
		'run it as: sudo make demo' "$T/user.out"
else
	skip "without root: user nobody cannot read $DEMO"
fi

# --- stopped in the middle -----------------------------------------------------------------

# The run is stopped while the step-by-step client holds its passive port
# (or a little later): dyperd, vsftpd and the client all run then.
OUT2=$T/demo-term.out
env B="$B" "$DEMO" >"$OUT2" 2>&1 </dev/null &
dpid=$!
if poll 60000 0.02 grep -q 'vsftpd now holds port' "$OUT2"; then
	kill -TERM "$dpid"
	if poll 20000 0.1 eval '! is_alive '"$dpid"; then
		wait "$dpid"
		failed_saying "TERM in the middle: the demo tears down and fails" $? 'Tearing down' "$OUT2"
		check_clean "TERM in the middle" "$OUT2"
	else
		kill -KILL "$dpid" 2>/dev/null
		not_ok "TERM in the middle: the demo still runs 20 s later"
	fi
else
	not_ok "the second run did not reach the passive step within 60 s"
	diag "$OUT2"
	kill -TERM "$dpid" 2>/dev/null
	wait "$dpid"
fi

summary
