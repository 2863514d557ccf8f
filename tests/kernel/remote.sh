#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# remote.sh: border mode's transport for real: remote/ssh.c (through the
# test tool remote-client) to Debian's own sshd, which runs dyper-remote as
# the forced command of the host's key, which relays to a stand-in for the
# site controller (tests/kernel/site_fixture.py: it checks the DELEGATE
# line and SO_PEERCRED, answers OK or EACCES, and some replies out of
# order).
#
#   H (dyt-PID-h) 192.0.2.1 ---veth--- 192.0.2.254 R (dyt-PID-r)
#     remote-client                       sshd -D -e -f $T/sshd_config
#                                         dyper-remote --delegate hostA
#                                         site_fixture.py on $T/site.sock
#
# sshd's setup (the site account root, forced commands only, host keys
# made at test time) comes from sshd_lib.sh.
#
# Checks: requests relayed under the delegate from authorized_keys, and
# replies out of order; an in-band "DELEGATE hostB" refused; bad grammar
# answered ERR; an overlong line closes; the forced command ignores what
# the client asks to run; an unknown and a changed host key refused; a key
# file with mode 0644 refused; the session cut (sshd's per-connection
# processes killed) is seen and a reconnect works; keepalive PINGs keep an
# idle session up, and a site that stops answering them ends it.
# Output: "ok - ..." / "not ok - ..." per check, then "remote: N passed,
# N failed"; 77 when not root (skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd_lib.sh
. "$(dirname "$0")/sshd_lib.sh"

CLIENT=$BDIR/tests/tools/remote-client
REMOTE=$BDIR/bin/dyper-remote
FIXTURE=$ROOT/tests/kernel/site_fixture.py
NS_H=dyt-$$-h
NS_R=dyt-$$-r
H4=192.0.2.1
R4=192.0.2.254

need_root
need_bins "$CLIENT" "$REMOTE"
need_sshd
PATH=$PATH:/usr/sbin:/sbin need_tools ssh python3

start_test
trap 'cleanup; sshd_cleanup' EXIT
sshd_prepare

# --- the network ---------------------------------------------------------
for ns in "$NS_H" "$NS_R"; do
	run ip netns add "$ns"
	created_ns+=("$ns")
	run ip -n "$ns" link set lo up
done
run ip -n "$NS_H" link add eth0 type veth peer name eth0 netns "$NS_R"
run ip -n "$NS_H" addr add "$H4/24" dev eth0
run ip -n "$NS_R" addr add "$R4/24" dev eth0
run ip -n "$NS_H" link set eth0 up
run ip -n "$NS_R" link set eth0 up

# --- keys ----------------------------------------------------------------
sshd_write_config "$R4"
run ssh-keygen -q -t ed25519 -N '' -C "hostA's key" -f "$T/client_key"
run ssh-keygen -q -t ed25519 -N '' -C "some other server" -f "$T/other_key"
chmod 600 "$T/client_key"
echo "$R4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
echo "$R4 $(cut -d' ' -f1,2 "$T/other_key.pub")" >"$T/known_hosts.other"
echo "198.51.100.1 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts.unknown"
sshd_authorize "$T/client_key.pub" "$REMOTE --delegate hostA --socket $T/site.sock"

bail_diag() {
	diag "$T/sshd.log" 30
	diag "$T/fixture.log" 30
}

ip netns exec "$NS_R" python3 "$FIXTURE" "$T/site.sock" 0 "$T/fixture.log" \
	hostA=$H4 >"$T/fixture.out" 2>&1 </dev/null &
FIXTURE_PID=$!
started $FIXTURE_PID
poll 5000 0.05 grep -qx ready "$T/fixture.out" || bail "the site fixture did not start"
start_sshd "$NS_R" "$R4" || bail "sshd did not listen on $R4:22"

# client [OPTION...]: remote-client from H to the router, stdin from the caller
client() {
	ip netns exec "$NS_H" "$CLIENT" --host "$R4" --user root --key "$T/client_key" \
		--known-hosts "$T/known_hosts" --max-ms 20000 "$@"
}

# expect_line DESC FILE LINE: ok if FILE has exactly LINE as a line.
expect_line() {
	if grep -qxF -- "$3" "$2"; then
		ok "$1"
	else
		not_ok "$1 (no line \"$3\")"
		diag "$2"
	fi
}

# --- 1: requests relayed under hostA, replies out of order ----------------
printf '%s\n' \
	"1 OPEN tcp 198.51.100.7 * $H4 40000 99" \
	"2 PING" \
	"3 OPEN udp 198.51.100.7 5060 192.0.2.9 6000 60" \
	"4 HOLD tcp 2001:DB8:0::7 21 2001:db8:0:0::1 40001 60" |
	client >"$T/c1" 2>&1
rc=$?
check "1: the session reaches READY and every request is answered (exit $rc)" [ $rc -eq 0 ] ||
	{ diag "$T/c1"; diag "$T/sshd.log"; }
expect_line "1: the site's name comes from its greeting" "$T/c1" "ready fixture-site"
expect_line "1: the fixture got the OPEN under delegate hostA from uid 0" "$T/fixture.log" \
	"hostA 0 1 OPEN tcp 198.51.100.7 * $H4 40000 99"
if [ "$(grep -nx '2 OK' "$T/c1" | cut -d: -f1)" -lt "$(grep -nx '1 OK' "$T/c1" | cut -d: -f1)" ] 2>/dev/null; then
	ok "1: a reply held back by the site arrives after a later one (out of order)"
else
	not_ok "1: a reply held back by the site arrives after a later one"
	diag "$T/c1"
fi
expect_line "1: the site's refusal comes back as ERR EACCES" "$T/c1" \
	"3 ERR EACCES delegate hostA may not open pinholes to 192.0.2.9"
expect_line "1: dyper-remote passes lines on canonical (IPv6 re-formatted)" "$T/fixture.log" \
	"hostA 0 4 HOLD tcp 2001:db8::7 21 2001:db8::1 40001 60"
expect_line "1: the first line on the site socket is dyper-remote's DELEGATE" "$T/fixture.log" \
	"- 0 DELEGATE hostA"

# --- 2: the host cannot choose its delegate ---------------------------------
: >"$T/fixture.log"
printf '%s\n' "DELEGATE hostB" "5 OPEN tcp 198.51.100.7 * 192.0.2.2 40000 60" "6 PING" |
	client >"$T/c2" 2>&1
expect_line "2: an in-band DELEGATE hostB is refused" "$T/c2" \
	"0 ERR EPERM the delegate is set by the site, not by a request"
if grep -q hostB "$T/fixture.log"; then
	not_ok "2: nothing about hostB reaches the site controller"
	diag "$T/fixture.log"
else
	ok "2: nothing about hostB reaches the site controller"
fi
expect_line "2: the next request still runs as hostA (refused for hostB's address)" "$T/c2" \
	"5 ERR EACCES delegate hostA may not open pinholes to 192.0.2.2"
expect_line "2: and the session goes on" "$T/c2" "6 OK"

# --- 3: bad grammar, then an overlong line -----------------------------------
: >"$T/fixture.log"
long=$(printf 'x%.0s' $(seq 1 600))
printf '%s\n' "7 OPEN tcp 198.51.100.7 * $H4 0 60" "hello there" "8 PING" |
	client >"$T/c3" 2>&1
printf '%s\n' "9 PING $long" "10 PING" | client >"$T/c3b" 2>&1
expect_line "3: a bad port is answered ERR EINVAL for its id" "$T/c3" \
	"7 ERR EINVAL field 7: expected a port 1..65535, found \"0\""
expect_line "3: a line that is no request is answered ERR" "$T/c3" \
	"0 ERR EINVAL field 1: expected DYPER, DELEGATE or a request id, found \"hello\""
expect_line "3: good lines between bad ones still go through" "$T/c3" "8 OK"
expect_line "3: an overlong line is answered EMSGSIZE" "$T/c3b" \
	"0 ERR EMSGSIZE line longer than 511 bytes; closing"
if grep -q '^closed ECONNRESET ' "$T/c3b" && ! grep -qx "10 OK" "$T/c3b"; then
	ok "3: and dyper-remote closes the session"
else
	not_ok "3: and dyper-remote closes the session"
	diag "$T/c3b"
fi
if grep -q "PING xxx\|hello" "$T/fixture.log"; then
	not_ok "3: no bad line reached the site controller"
	diag "$T/fixture.log"
else
	ok "3: no bad line reached the site controller"
fi

# --- 4: the forced command, whatever the client asks ------------------------
out=$(echo "DYPER 1" | timeout 20 ip netns exec "$NS_H" ssh -F none -T -i "$T/client_key" \
	-o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=none \
	-o StrictHostKeyChecking=yes -o BatchMode=yes root@"$R4" "cat /etc/shadow" 2>"$T/ssh.err")
if [ "$out" = "DYPER 1 OK fixture-site" ]; then
	ok "4: asked to run \"cat /etc/shadow\", the key gets dyper-remote"
else
	not_ok "4: asked to run \"cat /etc/shadow\", the key gets dyper-remote (got \"${out:0:80}\")"
	diag "$T/ssh.err"
fi

# --- 5: host keys: unknown, other, changed ------------------------------------
client --known-hosts "$T/known_hosts.unknown" </dev/null >"$T/c5" 2>&1
if grep -q '^closed EKEYREJECTED REFUSED: the host key of 192.0.2.254 port 22 (SHA256:[^)]*) is not pinned in' "$T/c5"; then
	ok "5: an unknown host key is refused, saying so"
else
	not_ok "5: an unknown host key is refused, saying so"
	diag "$T/c5"
fi
cp "$T/known_hosts" "$T/known_hosts.before"
client --known-hosts "$T/known_hosts.other" </dev/null >"$T/c5b" 2>&1
if grep -q '^closed EKEYREJECTED REFUSED: the host key of 192.0.2.254 port 22 CHANGED' "$T/c5b"; then
	ok "5: a host key other than the pinned one is refused as CHANGED"
else
	not_ok "5: a host key other than the pinned one is refused as CHANGED"
	diag "$T/c5b"
fi
stop_sshd
rm -f "$T/host_key" "$T/host_key.pub"
run ssh-keygen -q -t ed25519 -N '' -C "regenerated" -f "$T/host_key"
start_sshd "$NS_R" "$R4" || bail "sshd did not restart"
echo "10 PING" | client >"$T/c5c" 2>&1
if grep -q '^closed EKEYREJECTED REFUSED: the host key of 192.0.2.254 port 22 CHANGED' "$T/c5c" &&
	! grep -qx "10 OK" "$T/c5c"; then
	ok "5: after the site's host key is regenerated, the session is refused"
else
	not_ok "5: after the site's host key is regenerated, the session is refused"
	diag "$T/c5c"
fi
check "5: the pinned file is never written" cmp -s "$T/known_hosts" "$T/known_hosts.before"
echo "$R4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"

# --- 6: the key file's mode --------------------------------------------------
cp "$T/client_key" "$T/client_key.0644"
chmod 644 "$T/client_key.0644"
echo "11 PING" | client --key "$T/client_key.0644" >"$T/c6" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "^refused EPERM key file $T/client_key.0644 has mode 0644: group and others must have no access" "$T/c6"; then
	ok "6: a key file with mode 0644 is refused, saying why"
else
	not_ok "6: a key file with mode 0644 is refused, saying why (exit $rc)"
	diag "$T/c6"
fi

# --- 7: the session cut, then a reconnect --------------------------------------
mkfifo "$T/in7"
client --reconnect 3 <"$T/in7" >"$T/c7" 2>&1 &
CPID=$!
started $CPID
exec 3>"$T/in7"
echo "12 PING" >&3
if poll 10000 0.05 grep -qx "12 OK" "$T/c7"; then
	ok "7: the session works before the cut"
else
	not_ok "7: the session works before the cut"
	diag "$T/c7"
fi
# sshd's per-connection processes: its children and theirs, by PID
children() {
	local p

	for p in /proc/[0-9]*; do
		[ "$(awk '{print $4}' "$p/stat" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
}
victims=()
for c in $(children "$SSHD_PID"); do
	victims+=("$c")
	for g in $(children "$c"); do
		victims+=("$g" $(children "$g"))
	done
done
if [ ${#victims[@]} -gt 0 ]; then
	kill -KILL "${victims[@]}" 2>/dev/null
	ok "7: killed sshd's per-connection processes (${#victims[@]})"
else
	not_ok "7: found sshd's per-connection processes"
fi
if poll 10000 0.05 grep -q "^closed " "$T/c7"; then
	ok "7: the client sees the session end ($(grep '^closed ' "$T/c7" | cut -d' ' -f2))"
else
	not_ok "7: the client sees the session end"
	diag "$T/c7"
fi
readies() {
	[ "$(grep -cx 'ready fixture-site' "$T/c7")" -ge "$1" ]
}
if poll 15000 0.05 readies 2; then
	ok "7: it reconnects after the backoff"
else
	not_ok "7: it reconnects after the backoff"
	diag "$T/c7"
fi
echo "13 PING" >&3
exec 3>&-
if wait_exit "$CPID" 10000 && grep -qx "13 OK" "$T/c7"; then
	ok "7: requests work on the new session"
else
	not_ok "7: requests work on the new session"
	diag "$T/c7"
fi

# --- 8: keepalive: PINGs of the transport's own, and a site that stops -------
: >"$T/fixture.log"
mkfifo "$T/in8"
client --keepalive-ms 1000 <"$T/in8" >"$T/c8" 2>&1 &
CPID=$!
started $CPID
exec 3>"$T/in8"
pings() {
	[ "$(grep -c '^hostA 0 92233720368547758[0-9]* PING$' "$T/fixture.log")" -ge 3 ]
}
if poll 15000 0.05 pings; then
	ok "8: an idle session sends keepalive PINGs with transport-range ids"
else
	not_ok "8: an idle session sends keepalive PINGs with transport-range ids"
	diag "$T/fixture.log"
fi
if grep -q '^9223372036854775' "$T/c8" || grep -q '^closed' "$T/c8"; then
	not_ok "8: their replies never reach the caller, and the session stays up"
	diag "$T/c8"
else
	ok "8: their replies never reach the caller, and the session stays up"
fi
sig STOP "$FIXTURE_PID"
if poll 10000 0.05 grep -q '^closed ETIMEDOUT the site did not answer a keepalive in 1000 ms' "$T/c8"; then
	ok "8: a site that stops answering ends the session (ETIMEDOUT)"
else
	not_ok "8: a site that stops answering ends the session (ETIMEDOUT)"
	diag "$T/c8"
fi
sig CONT "$FIXTURE_PID"
exec 3>&-

summary
