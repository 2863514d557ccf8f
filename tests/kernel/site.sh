#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# site.sh: dyperd in site mode on a Linux border router, for real.  The
# site controller runs in the router's namespace with its forward table;
# requests reach it as they would from a host through sshd: dyper-remote
# --delegate HOST, run as the site account (here user "daemon"), with the
# host's lines on its stdin.  Real TCP connections from the outside hosts
# A and B to the internal host IN go through the router or not.
#
#   A, B (outside) -- R (router: dyperd in site mode, table inet dyper_t) -- IN
#
# Cases: OPEN -> OK -> A passes, B does not; hostA asking for hostB's
# address -> EACCES by the site policy, logged; the quota; a lease lapses
# (pinhole gone, traffic dropped); RENEW keeps one; SYNC converges (the
# held stays, the unheld goes); CLOSE of another delegate's pinhole is
# refused; kill -9 of the site, restart: the pinholes are still in the
# router and adopted (dyperctl list), then lapse without renewal, or stay
# with a SYNC; a connection from another uid than the account is refused;
# a bad line gets "ERR EINVAL"; a wrong version "DYPER ERR".
# Output: "ok - ..." / "not ok - ...", then "site: N passed, N failed"
# (exit 77 when not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

REMOTE=$BDIR/bin/dyper-remote

need_root
need_bins "$DYPERD" "$DYPERCTL" "$REMOTE" "$PROBE"
need_tools nft ip setpriv
need_ids "user nobody" "group nogroup" "user daemon"
# the system's python, which the unprivileged account can run (not a
# per-user installation of root's)
PY=/usr/bin/python3
need_bins "$PY"

# shellcheck source-path=SCRIPTDIR source=router_lib.sh
. "$(dirname "$0")/router_lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd_lib.sh
. "$(dirname "$0")/sshd_lib.sh"
CLIENT=$BDIR/tests/tools/remote-client

TABLE=dyper_t
PORT=8080		# what hostA's pinholes open on IN
PORT2=8082
PORT3=8083
HOSTB4=198.51.100.20	# hostB's address (no host there: the policy refuses first)

start_test
trap 'cleanup; sshd_cleanup' EXIT
chmod 0711 "$T"		# dyper-remote runs as daemon: it must reach the socket
mkdir -m 0755 "$T/run"
SOCK=$T/run/site.sock
CTL=$T/run/control.sock
CONF=$T/dyper.conf
LOG=$T/site.log

setup_router_network
serve tcp "$IN4" "$PORT"
serve tcp "$IN6" "$PORT"
serve tcp "$IN4" "$PORT2"
serve tcp "$IN4" "$PORT3"
wait_servers 5000 || bail "echo servers did not start within 5 s"

cat >"$T/site.policy" <<EOF
# each host opens pinholes to itself only (paper §4.2)
allow hostA * * * * $IN4,$IN6 *
allow hostB * * * * $HOSTB4 *
EOF

# write_conf [KEY=VALUE...]: the site's dyper.conf; KEY=VALUE lines go to
# [site]; the grace lease at a restart is $MAX_LEASE (default 60s), the
# account $ACCOUNT (default daemon).
write_conf() {
	{
		echo "[daemon]"
		echo "user = nobody"
		echo "group = nogroup"
		echo "control_socket = $CTL"
		echo "agent_socket = $T/run/agent.sock"
		echo "log_level = debug"
		echo "[enforcer]"
		echo "tamper_check_interval = 100ms"
		echo "[site]"
		echo "enable = yes"
		echo "name = test-site"
		echo "socket = $SOCK"
		echo "account = ${ACCOUNT:-daemon}"
		echo "policy = $T/site.policy"
		echo "max_per_delegate = 3"
		echo "max_lease = ${MAX_LEASE:-60s}"
		echo "table = $TABLE"
		echo "inside = int0"
		local kv
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$CONF"
	chmod 0644 "$CONF"
}

SITE_PID=
ACCOUNT_NOW=		# the account of the running site, when not daemon
# start_site: dyperd in site mode in R, in the background; waits until it
# answers dyperctl (its event loop runs: set up, privileges dropped).
start_site() {
	rm -f "$SOCK" "$CTL"
	ip netns exec "$NS_R" "$DYPERD" -c "$CONF" -d >>"$LOG" 2>&1 </dev/null &
	SITE_PID=$!
	started "$SITE_PID"
	poll 10000 0.05 ctl stats && test -S "$SOCK"
}

# remote DELEGATE [USER GROUP]: dyper-remote as the site account (or USER)
# with the lines on stdin; its stdout in $T/out.
remote() {
	local who=${2:-daemon} group=${3:-daemon}

	timeout 20 setpriv --reuid="$who" --regid="$group" --clear-groups \
		"$REMOTE" --delegate "$1" --socket "$SOCK" >"$T/out" 2>"$T/out.err"
}

# expect_out DESC REGEX: ok if a line of the last session's output matches.
expect_out() {
	if grep -Eq -- "$2" "$T/out"; then
		ok "$1"
	else
		not_ok "$1 (want /$2/)"
		diag "$T/out"
		diag "$T/out.err"
	fi
}

# expect_log DESC REGEX
expect_log() {
	if grep -Eq -- "$2" "$LOG"; then
		ok "$1"
	else
		not_ok "$1 (want /$2/ in the log)"
		diag "$LOG"
	fi
}

# in_router REGEX: the router's table holds an element matching REGEX.
in_router() {
	ip netns exec "$NS_R" nft list table inet "$TABLE" 2>/dev/null | grep -Eq -- "$1"
}

ctl() {
	"$DYPERCTL" -s "$CTL" "$@" >"$T/ctl" 2>&1
}

bail_diag() {
	diag "$LOG" 30
}

# --- start --------------------------------------------------------------------------

write_conf
start_site || bail "the site controller did not listen on $SOCK"
expect_drop "A -> IN tcp $PORT drops (least privilege, no pinhole)" "$NS_A" tcp "$IN4" "$PORT"

# --- 1. OPEN: the router lets A in, not B -----------------------------------------------

printf 'DYPER 1\n1 OPEN tcp %s * %s %s 60\n2 OPEN tcp %s * %s %s 60\n' \
	"$A4" "$IN4" "$PORT" "$A6" "$IN6" "$PORT" | remote hostA
expect_out "1: the site greets with its name" '^DYPER 1 OK test-site$'
expect_out "1: OPEN (IPv4) is answered OK" '^1 OK$'
expect_out "1: OPEN (IPv6) is answered OK" '^2 OK$'
expect_pass "1: A -> IN tcp $PORT passes (IPv4)" "$NS_A" tcp "$IN4" "$PORT"
expect_pass "1: A -> IN tcp $PORT passes (IPv6)" "$NS_A" tcp "$IN6" "$PORT"
expect_drop "1: B -> IN tcp $PORT drops (A's pinhole)" "$NS_B" tcp "$IN4" "$PORT"
if in_router "$A4 \\. tcp \\. $IN4 \\. $PORT .*comment \"dlg hostA t [0-9]+\""; then
	ok "1: the router's element names delegate hostA"
else
	not_ok "1: the router's element names delegate hostA"
	ip netns exec "$NS_R" nft list table inet "$TABLE" >"$T/nft" 2>&1
	diag "$T/nft" 40
fi
ctl list
if grep -Eq "hostA +tcp +$A4:\\* +$IN4:$PORT +[0-9]+s open" "$T/ctl"; then
	ok "1: dyperctl list shows the pinhole, its delegate and lease"
else
	not_ok "1: dyperctl list shows the pinhole, its delegate and lease"
	diag "$T/ctl"
fi

# --- 2. the site policy: hostA cannot open to hostB's address ----------------------------

printf 'DYPER 1\n3 OPEN tcp %s * %s %s 60\n' "$A4" "$HOSTB4" "$PORT" | remote hostA
expect_out "2: hostA asking for hostB's address: ERR EACCES denied by the site policy" \
	'^3 ERR EACCES no allow rule matches$'
expect_log "2: the denial is logged" "delegate hostA: OPEN tcp $A4:\\* -> $HOSTB4:$PORT denied"
# and the reverse: hostB's delegate asking for hostA's address (IN)
printf 'DYPER 1\n4 OPEN tcp %s * %s %s 60\n' "$B4" "$IN4" "$PORT2" | remote hostB
expect_out "2: hostB asking for IN (hostA's): ERR EACCES" '^4 ERR EACCES '
expect_drop "2: B -> IN tcp $PORT2 drops" "$NS_B" tcp "$IN4" "$PORT2"
# nobody else's pinhole can be closed
printf 'DYPER 1\n5 CLOSE tcp %s * %s %s\n' "$A4" "$IN4" "$PORT" | remote hostB
expect_out "2: hostB cannot CLOSE hostA's pinhole (EPERM)" '^5 ERR EPERM '
expect_pass "2: A -> IN tcp $PORT still passes" "$NS_A" tcp "$IN4" "$PORT"

# --- 3. bad lines, versions, the account ---------------------------------------------------

# dyper-remote checks the grammar itself: these lines reach the site only
# from a peer that skips it (still the account's uid), as a broken relay would
raw() {
	timeout 10 setpriv --reuid=daemon --regid=daemon --clear-groups "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
' "$SOCK" "$1" >"$T/out" 2>"$T/out.err"
}
raw 'DELEGATE hostA\nDYPER 1\n6 OPEN icmp 203.0.113.10 * 198.51.100.10 8080 60\n7 PING\n'
expect_out "3: a bad line: ERR EINVAL with why" '^6 ERR EINVAL field 3: expected'
expect_out "3: and the session goes on" '^7 OK$'
expect_log "3: the bad line is logged" "delegate hostA: bad line: field 3"
raw 'DELEGATE hostA\nDYPER 2\n8 PING\n'
expect_out "3: an unknown version: DYPER ERR" '^DYPER ERR version 2 not supported'
if grep -q '^8 OK' "$T/out"; then
	not_ok "3: and nothing after it is served"
else
	ok "3: and nothing after it is served"
fi
raw 'DYPER 1\n9 PING\n'
expect_out "3: without DELEGATE first: DYPER ERR" '^DYPER ERR expected DELEGATE'
printf 'DYPER 1\n8 PING\n' | remote hostA nobody nogroup
if grep -q '^8 OK' "$T/out"; then
	not_ok "3: dyper-remote run by nobody (not the account) is refused"
else
	ok "3: dyper-remote run by nobody (not the account) is refused"
fi
expect_log "3: the refusal is logged with the uid" "refused a connection from uid 65534"

# --- 4. quota --------------------------------------------------------------------------------

# hostA holds 2; max_per_delegate = 3
printf 'DYPER 1\n10 OPEN tcp %s * %s %s 60\n11 OPEN tcp %s * %s %s 60\n' \
	"$A4" "$IN4" "$PORT2" "$A4" "$IN4" "$PORT3" | remote hostA
expect_out "4: the third pinhole is granted" '^10 OK$'
expect_out "4: the fourth is refused: EDQUOT" '^11 ERR EDQUOT '
expect_drop "4: A -> IN tcp $PORT3 drops (over quota)" "$NS_A" tcp "$IN4" "$PORT3"

# --- 5. SYNC: the held one stays, the unheld ones go --------------------------------------------

printf 'DYPER 1\n20 SYNC BEGIN\n21 HOLD tcp %s * %s %s 60\n22 SYNC END\n' \
	"$A4" "$IN4" "$PORT" | remote hostA
expect_out "5: SYNC BEGIN OK" '^20 OK$'
expect_out "5: HOLD of an open pinhole OK" '^21 OK$'
expect_out "5: SYNC END OK" '^22 OK$'
expect_pass "5: the held pinhole stays (A -> IN $PORT IPv4)" "$NS_A" tcp "$IN4" "$PORT"
expect_drop "5: the unheld IPv6 one is closed" "$NS_A" tcp "$IN6" "$PORT"
expect_drop "5: the unheld $PORT2 is closed" "$NS_A" tcp "$IN4" "$PORT2"

# --- 6. leases: lapse without renewal, RENEW keeps ------------------------------------------------

printf 'DYPER 1\n30 OPEN tcp %s * %s %s 2\n' "$A4" "$IN4" "$PORT2" | remote hostA
expect_out "6: an OPEN with a 2 s lease" '^30 OK$'
expect_pass "6: A -> IN tcp $PORT2 passes" "$NS_A" tcp "$IN4" "$PORT2"
# a 4 s lease for all of hostA's pinholes, while the 2 s one would lapse
printf 'DYPER 1\n31 RENEW 4\n' | remote hostA
expect_out "6: RENEW OK" '^31 OK$'
sleep 2.5
expect_pass "6: renewed, A -> IN tcp $PORT2 still passes after its first lease" \
	"$NS_A" tcp "$IN4" "$PORT2"
if poll 8000 0.2 eval '! in_router "$IN4 \\. $PORT2 "'; then
	ok "6: without renewal the lease lapses: the pinhole leaves the router"
else
	not_ok "6: without renewal the lease lapses: the pinhole leaves the router"
fi
expect_drop "6: A -> IN tcp $PORT2 drops after the lapse" "$NS_A" tcp "$IN4" "$PORT2"
expect_log "6: the lapse is logged" "lease lapsed"

# --- 7. kill -9 and restart: adopted, then lapse or SYNC -------------------------------------------

# (the RENEW above renewed all of hostA's, so $PORT lapsed too: open both again)
printf 'DYPER 1\n39 OPEN tcp %s * %s %s 60\n40 OPEN tcp %s * %s %s 60\n' \
	"$A4" "$IN4" "$PORT" "$A4" "$IN4" "$PORT3" | remote hostA
expect_out "7: two pinholes before the crash" '^40 OK$'
# --- 7a. a reconnect while the old session lingers: the newer one wins ----------------------------

mkfifo "$T/fifo"
setpriv --reuid=daemon --regid=daemon --clear-groups "$REMOTE" --delegate hostA \
	--socket "$SOCK" <"$T/fifo" >"$T/out1" 2>&1 &
OLD=$!
started "$OLD"
exec 7>"$T/fifo"
printf 'DYPER 1\n50 PING\n' >&7
if poll 5000 0.05 grep -q '^50 OK' "$T/out1"; then
	ok "7a: a first session of hostA is served"
else
	not_ok "7a: a first session of hostA is served"
	diag "$T/out1"
fi
printf 'DYPER 1\n51 PING\n' | remote hostA
expect_out "7a: a second session of hostA is served" '^51 OK$'
expect_log "7a: it replaces the first (logged)" "delegate hostA: a new connection \\(pid [0-9]+\\) replaces pid"
if wait_exit "$OLD" 5000; then
	ok "7a: the superseded session ends"
else
	not_ok "7a: the superseded session ends"
fi
exec 7>&-
ctl list
if grep -q "hostA .*$IN4:$PORT " "$T/ctl"; then
	ok "7a: hostA's pinholes stay (they are the delegate's, not the session's)"
else
	not_ok "7a: hostA's pinholes stay (they are the delegate's, not the session's)"
	diag "$T/ctl"
fi

kill -KILL "$SITE_PID"
wait_exit "$SITE_PID" 5000
expect_pass "7: the site killed, A -> IN tcp $PORT still passes (the table persists)" \
	"$NS_A" tcp "$IN4" "$PORT"
MAX_LEASE=3s write_conf
start_site || bail "the site controller did not restart"
ctl list
if grep -q "hostA .*$IN4:$PORT " "$T/ctl" && grep -q "hostA .*$IN4:$PORT3 " "$T/ctl"; then
	ok "7: restarted, both pinholes are adopted (dyperctl list)"
else
	not_ok "7: restarted, both pinholes are adopted (dyperctl list)"
	diag "$T/ctl"
fi
expect_log "7: the adoption is logged" "2 pinholes adopted"
# the host re-announces only $PORT
printf 'DYPER 1\n41 SYNC BEGIN\n42 HOLD tcp %s * %s %s 60\n43 SYNC END\n44 RENEW 60\n' \
	"$A4" "$IN4" "$PORT" | remote hostA
expect_out "7: the SYNC after the restart is answered" '^43 OK$'
expect_drop "7: the unannounced pinhole is closed by the SYNC" "$NS_A" tcp "$IN4" "$PORT3"
# leases are capped at max_lease (3 s now): the host renews within
sleep 2
printf 'DYPER 1\n45 RENEW 60\n' | remote hostA
sleep 2
expect_pass "7: the announced one stays past the grace lease" "$NS_A" tcp "$IN4" "$PORT"
# crash again: without any host coming back, the grace lease lapses
kill -KILL "$SITE_PID"
wait_exit "$SITE_PID" 5000
start_site || bail "the site controller did not restart"
if poll 10000 0.2 eval '! in_router "$IN4 \\. $PORT "'; then
	ok "7: after another crash and no renewal, the adopted pinhole lapses"
else
	not_ok "7: after another crash and no renewal, the adopted pinhole lapses"
fi
expect_drop "7: A -> IN tcp $PORT drops" "$NS_A" tcp "$IN4" "$PORT"

# --- 8. a foreign element in the router is dropped at start ----------------------------------------

kill -KILL "$SITE_PID"
wait_exit "$SITE_PID" 5000
ip netns exec "$NS_R" nft add element inet "$TABLE" pinholes4_any \
	"{ $B4 . tcp . $IN4 . $PORT2 comment \"planted\" }" >"$T/cmd" 2>&1
if ! in_router "planted"; then
	# the owner flag keeps others out once dyperd held the table: nothing to drop
	skip "8: an element no delegate owns is dropped at start (the table refused it)"
else
	start_site || bail "the site controller did not restart"
	if poll 5000 0.1 eval '! in_router planted'; then
		ok "8: an element no delegate owns is dropped at start"
	else
		not_ok "8: an element no delegate owns is dropped at start"
	fi
fi

# --- 9. the same through Debian's sshd: the host's key runs dyper-remote --------------------------

if [ -x "$SSHD" ] && [ -x "$CLIENT" ] && command -v ssh-keygen >/dev/null; then
	sshd_prepare
	sshd_write_config "$R_IN4"
	for h in hostA hostB; do
		run ssh-keygen -q -t ed25519 -N '' -C "$h's key" -f "$T/key_$h"
		sshd_authorize "$T/key_$h.pub" "$REMOTE --delegate $h --socket $SOCK"
	done
	echo "$R_IN4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
	# sshd runs forced commands as root here: the site account is root
	sig KILL "$SITE_PID"
	wait_exit "$SITE_PID" 5000
	ACCOUNT=root write_conf
	ACCOUNT_NOW=root
	start_site || bail "the site controller did not restart"
	start_sshd "$NS_R" "$R_IN4" || bail "sshd did not listen on $R_IN4:22"
	# via_ssh HOST: remote-client from IN with HOST's key, lines on stdin
	via_ssh() {
		ip netns exec "$NS_IN" "$CLIENT" --host "$R_IN4" --user root --key "$T/key_$1" \
			--known-hosts "$T/known_hosts" --max-ms 20000 >"$T/out" 2>&1
	}
	printf '60 OPEN tcp %s * %s %s 60\n' "$A4" "$IN4" "$PORT2" | via_ssh hostA
	expect_out "9: through sshd, the site greets hostA" '^ready test-site$'
	expect_out "9: through sshd, hostA's OPEN is answered OK" '^60 OK$'
	expect_pass "9: A -> IN tcp $PORT2 passes" "$NS_A" tcp "$IN4" "$PORT2"
	expect_drop "9: B -> IN tcp $PORT2 drops" "$NS_B" tcp "$IN4" "$PORT2"
	printf '61 OPEN tcp %s * %s %s 60\n' "$B4" "$IN4" "$PORT3" | via_ssh hostB
	expect_out "9: through sshd, hostB's OPEN to hostA's address: ERR EACCES" '^61 ERR EACCES '
	expect_drop "9: B -> IN tcp $PORT3 drops" "$NS_B" tcp "$IN4" "$PORT3"
	stop_sshd
else
	skip "9: through sshd (sshd, ssh-keygen or remote-client missing)"
fi

# --- 10. dyperctl reload re-reads the site policy ------------------------------------------------

[ -n "$ACCOUNT_NOW" ] || ACCOUNT_NOW=daemon
echo "allow hostB * tcp $B4 * $IN4 $PORT3" >>"$T/site.policy"
if ctl reload && grep -q "3 site policy rules" "$T/ctl"; then
	ok "10: dyperctl reload reads the changed site policy"
else
	not_ok "10: dyperctl reload reads the changed site policy"
	diag "$T/ctl"
fi
printf 'DYPER 1\n70 OPEN tcp %s * %s %s 60\n' "$B4" "$IN4" "$PORT3" |
	remote hostB "$ACCOUNT_NOW" "$ACCOUNT_NOW"
expect_out "10: hostB's OPEN the new rule allows is answered OK" '^70 OK$'
expect_pass "10: B -> IN tcp $PORT3 passes" "$NS_B" tcp "$IN4" "$PORT3"
echo "allow hostB * tcp * * $IN4 $PORT3 program=/bin/x" >>"$T/site.policy"
if ! ctl reload && grep -q "program=" "$T/ctl"; then
	ok "10: a site policy with program= is refused by reload, the old one kept"
else
	not_ok "10: a site policy with program= is refused by reload, the old one kept"
	diag "$T/ctl"
fi

# --- the end: a clean stop (and, in a sanitizer build, no report) ------------------------------------

sig TERM "$SITE_PID"
if wait_exit "$SITE_PID" 10000 && grep -q "stopping" "$LOG"; then
	ok "the site stops on SIGTERM"
else
	not_ok "the site stops on SIGTERM"
fi
if grep -Eq "runtime error|AddressSanitizer|LeakSanitizer" "$LOG"; then
	not_ok "no sanitizer report in the site's log"
	grep -E -A12 "runtime error|AddressSanitizer|LeakSanitizer" "$LOG" >"$T/san"
	diag "$T/san" 40
else
	ok "no sanitizer report in the site's log"
fi

summary
