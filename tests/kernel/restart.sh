#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# restart.sh: channels outlive dyperd (issue 13 item 1).  dyperd -f runs in
# IN; vsftpd, started through dyper-wrap before anything else, serves a
# 2 MB file.  Then:
#   1 a passive download from A works (sha256);
#   2 dyperd is stopped (TERM) and started again: the same vsftpd (same
#     pid, never restarted) serves a passive download again;
#   3 the same after kill -9 of dyperd;
#   4 a bind that is in flight while dyperd is down returns once the next
#     dyperd is up, with its pinhole;
#   5 tickets at the protocol level (dyper-client): a forged secret and an
#     unknown id are refused; another user (nobody for root's channel,
#     root for nobody's) cannot resume a channel even with its ticket; the
#     owner resumes nobody's channel WITHOUT the agent socket's group and
#     gets the recorded identity: the delegate group daemon (a rule for
#     group daemon allows its port, the pinhole's owner is uid 65534) and
#     nothing more (a port only root's rule allows is denied);
#   6 a resumed channel cannot declare a program (HELLO comes too late) and
#     the resume socket serves nothing but RESUME;
#   7 the ticket of a channel whose processes are all gone is dropped at
#     the next start.
#
# Needs root, vsftpd, curl.  Touches nothing outside its namespaces and
# temp dir.  Output: "ok - ..." / "not ok - ..." per check, then
# "restart: N passed, N failed"; exit 0 only if nothing failed (77 when
# not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=ftp.sh
. "$(dirname "$0")/ftp.sh"

CLIENT=$BDIR/tests/tools/dyper-client

need_root
need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$CLIENT" "$PROBE"
[ -f "$AGENT_SO" ] || { echo "restart.sh: $AGENT_SO missing" >&2; exit 2; }
need_tools nft vsftpd curl sha256sum setpriv
need_ids "user nobody" "user ftp" "group daemon" "group nogroup"

DPID=
DLOG=
bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"
CONF=$T/dyper.conf
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
LOGD=$T/log
PUB=$T/pub
EMPTY=$T/empty
mkdir -p "$LOGD" "$PUB" "$EMPTY" && chmod 755 "$PUB" "$EMPTY" || bail "mkdir"
head -c 2000000 /dev/urandom >"$PUB/f.bin" && chmod 644 "$PUB/f.bin" || bail "test file"
SUM=$(sha256sum <"$PUB/f.bin" | cut -d' ' -f1)
setup_network

{
	echo "allow root * tcp * * * 1024-65535"
	echo "allow daemon nobody tcp * * * 7000-7099"
} >"$T/policy"
{
	echo "[daemon]"
	echo "user = nobody"
	echo "group = daemon"
	echo "agent_socket = $ASOCK"
	echo "control_socket = $CSOCK"
	echo "policy = $T/policy"
	echo "[enforcer]"
	echo "tcp_ports = 21"
} >"$CONF"
chmod 644 "$CONF" "$T/policy"

ctl() {
	"$DYPERCTL" -s "$CSOCK" "$@"
}

starts=0
# start_dyperd: dyperd -f in IN; returns once dyperctl gets an answer.
start_dyperd() {
	starts=$((starts + 1))
	DLOG=$T/dyperd.$starts.log
	ip netns exec "$NS_IN" "$DYPERD" -c "$CONF" -f >"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
	poll 5000 0.02 ctl stats >/dev/null 2>&1
}

# stop_dyperd SIGNAL: 0 once it has exited.
stop_dyperd() {
	sig "$1" "$DPID"
	wait_exit "$DPID" 5000
}

# download NAME: a passive download of f.bin from A by curl; ok when the
# sha256 matches.
download() {
	local out=$T/dl.$1 got

	rm -f "$out"
	ip netns exec "$NS_A" curl -s --max-time 15 --ftp-pasv -o "$out" \
		"ftp://$IN4/f.bin" >"$T/curl.$1" 2>&1
	got=$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)
	[ "$got" = "$SUM" ]
}

start_dyperd || bail "dyperd did not start"

# vsftpd through dyper-wrap, started once for the whole test
vsftpd_conf "$T/vs.conf" "$IN4" 21 plain
ip netns exec "$NS_IN" "$WRAP" -s "$ASOCK" -p "$AGENT_SO" vsftpd "$T/vs.conf" \
	>"$T/vsftpd.out" 2>&1 </dev/null &
VPID=$!
started "$VPID"
listening() {
	ip netns exec "$NS_IN" ss -Htln "sport = :21" | grep -q LISTEN
}
poll 5000 0.05 listening || bail "vsftpd does not listen: $(cat "$T/vsftpd.out")"
vs_pid() {
	ip netns exec "$NS_IN" ss -Htlnp "sport = :21" | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}
VS=$(vs_pid)

if download first; then
	ok "1 a passive download through the wrapped vsftpd (sha256 matches)"
else
	not_ok "1 a passive download through the wrapped vsftpd"
	diag "$T/curl.first"
	diag "$LOGD/vs.log"
fi

# --- 2 stop and start --------------------------------------------------------------

stop_dyperd TERM || not_ok "2 dyperd stops on TERM"
start_dyperd || bail "dyperd did not start again"
if download after-stop && [ "$(vs_pid)" = "$VS" ]; then
	ok "2 after a stop and start of dyperd -f: the same vsftpd (pid $VS) serves a passive download"
else
	not_ok "2 after a stop and start of dyperd -f: the same vsftpd (pid $VS, now $(vs_pid)) serves a passive download"
	diag "$T/curl.after-stop"
	diag "$LOGD/vs.log"
	diag "$DLOG"
fi

# --- 3 kill -9 -----------------------------------------------------------------------

stop_dyperd KILL || not_ok "3 dyperd dies on KILL"
start_dyperd || bail "dyperd did not start after kill -9"
if download after-kill && [ "$(vs_pid)" = "$VS" ]; then
	ok "3 after kill -9 and a new dyperd -f: the same vsftpd serves a passive download"
else
	not_ok "3 after kill -9 and a new dyperd -f: the same vsftpd serves a passive download"
	diag "$T/curl.after-kill"
	diag "$LOGD/vs.log"
	diag "$DLOG"
fi

# --- 4 a download that starts while dyperd is down -----------------------------------

stop_dyperd KILL || not_ok "4 dyperd dies on KILL"
ip netns exec "$NS_A" curl -s --max-time 20 --ftp-pasv -w '%{time_starttransfer}' \
	-o "$T/dl.down" "ftp://$IN4/f.bin" >"$T/curl.down" 2>&1 &
CURL=$!
started $CURL
sleep 1
t0=$(now_ms)
start_dyperd || bail "dyperd did not start after the second kill -9"
up=$(($(now_ms) - t0))
wait_exit $CURL 20000
echo "# a download begun 1 s before dyperd was started again: first byte after $(cat "$T/curl.down")s (dyperd took ${up} ms to answer)"
if [ "$(sha256sum <"$T/dl.down" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ]; then
	ok "4 a passive download begun while dyperd was down completes once it is back (its bind waited)"
else
	not_ok "4 a passive download begun while dyperd was down completes once it is back"
	diag "$T/curl.down"
	diag "$LOGD/vs.log"
	diag "$DLOG"
fi

# --- 5 tickets ---------------------------------------------------------------------------

# ticket_of NAME: the "ticket ID SECRET" line of client NAME, once printed
has_ticket() {
	grep -q '^ticket ' "$T/t.$1" 2>/dev/null
}
ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" ticket --hold 40 >"$T/t.root" 2>&1 </dev/null &
started $!
# nobody with the agent socket's group, as dyper-wrap connects for a user
ip netns exec "$NS_IN" setpriv --reuid=65534 --regid=daemon --clear-groups \
	"$CLIENT" -s "$ASOCK" ticket --hold 40 >"$T/t.nobody" 2>&1 </dev/null &
started $!
poll 5000 0.02 has_ticket root && poll 5000 0.02 has_ticket nobody || bail "no tickets"
read -r _ RID RSECRET <"$T/t.root"
read -r _ NID NSECRET <"$T/t.nobody"

stop_dyperd KILL || not_ok "5 dyperd dies on KILL"
start_dyperd || bail "dyperd did not start for the ticket cases"

# resume AS ID SECRET [tcp ...]: dyper-client resume as user AS (root or
# nobody without the agent socket's group); the reply lines in $OUT
OUT=
resume() {
	local as=$1

	shift
	if [ "$as" = root ]; then
		OUT=$(timeout 15 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" resume "$@" 2>&1)
	else
		OUT=$(timeout 15 ip netns exec "$NS_IN" setpriv --reuid=65534 --regid=nogroup \
			--clear-groups "$CLIENT" -s "$ASOCK" resume "$@" 2>&1)
	fi
}

forged=${RSECRET:0:63}$(printf '%x' $(((16#${RSECRET:63:1} + 1) % 16)))
resume root "$RID" "$forged"
if grep -q '^err -13 no channel with that ticket' <<<"$OUT"; then
	ok "5 a forged secret (one bit off) is refused"
else
	not_ok "5 a forged secret is refused"
	diag_s "$OUT"
fi
resume root 0123456789abcdef "$RSECRET"
if grep -q '^err -13 ' <<<"$OUT"; then
	ok "5 an unknown channel id is refused"
else
	not_ok "5 an unknown channel id is refused"
	diag_s "$OUT"
fi
resume nobody "$RID" "$RSECRET" tcp "$A4" "$IN4" 7005
if grep -q '^err -13 the channel belongs to uid 0' <<<"$OUT" && ! grep -q '^ok' <<<"$OUT"; then
	ok "5 nobody cannot resume root's channel, even with its ticket"
else
	not_ok "5 nobody cannot resume root's channel, even with its ticket"
	diag_s "$OUT"
fi
resume root "$NID" "$NSECRET" tcp "$A4" "$IN4" 7006
if grep -q '^err -13 the channel belongs to uid 65534' <<<"$OUT" && ! grep -q '^ok' <<<"$OUT"; then
	ok "5 root cannot resume nobody's channel either"
else
	not_ok "5 root cannot resume nobody's channel either"
	diag_s "$OUT"
fi
ip netns exec "$NS_IN" setpriv --reuid=65534 --regid=nogroup --clear-groups \
	"$CLIENT" -s "$ASOCK" resume "$NID" "$NSECRET" tcp "$A4" "$IN4" 7007 --hold 20 \
	>"$T/r.7007" 2>&1 </dev/null &
started $!
two_lines() {
	[ "$(grep -c . "$T/r.7007" 2>/dev/null)" -ge 2 ]
}
poll 10000 0.05 two_lines
OUT=$(cat "$T/r.7007")
if [ "$(head -n1 <<<"$OUT")" = "ok 0 0" ] && grep -qE '^ok [1-9]' <<<"$(sed -n 2p <<<"$OUT")"; then
	ok "5 nobody, without the agent socket's group, resumes its channel: the group daemon's rule grants port 7007"
else
	not_ok "5 nobody resumes its channel and gets the group daemon's rule"
	diag_s "$OUT"
	diag "$DLOG"
fi
if ctl list 2>&1 | grep -E "$IN4:7007" | grep -qw 65534; then
	ok "5 the resumed channel's pinhole is charged to uid 65534"
else
	not_ok "5 the resumed channel's pinhole is charged to uid 65534"
	diag_s "$(ctl list 2>&1)"
fi
resume nobody "$NID" "$NSECRET" tcp "$A4" "$IN4" 8007
if [ "$(head -n1 <<<"$OUT")" = "ok 0 0" ] && sed -n 2p <<<"$OUT" | grep -q '^err -13 '; then
	ok "5 and nothing more: port 8007 (root's rule only) is denied on it"
else
	not_ok "5 and nothing more: port 8007 is denied on the resumed channel"
	diag_s "$OUT"
fi
# the ticket still holds after use: each process holding the channel may resume
resume root "$RID" "$RSECRET" tcp "$A4" "$IN4" 8008
if [ "$(head -n1 <<<"$OUT")" = "ok 0 0" ] && grep -qE '^ok [1-9]' <<<"$(sed -n 2p <<<"$OUT")"; then
	ok "5 root resumes root's channel: port 8008 under root's rule"
else
	not_ok "5 root resumes root's channel"
	diag_s "$OUT"
fi

# --- 6 nothing but RESUME on the resume socket ------------------------------------------

RSOCK=$T/resume.sock
if [ "$(stat -c %a "$RSOCK" 2>/dev/null)" = 666 ]; then
	ok "6 the resume socket is reachable by every user (mode 666)"
else
	not_ok "6 the resume socket is reachable by every user (mode $(stat -c %a "$RSOCK" 2>&1))"
fi
out=$(timeout 15 ip netns exec "$NS_IN" setpriv --reuid=65534 --regid=nogroup --clear-groups \
	"$CLIENT" -s "$RSOCK" open tcp "$A4" '*' "$IN4" 7009 2>&1)
if grep -q '^err -95 ' <<<"$out" && ! ctl list 2>&1 | grep -q "$IN4:7009"; then
	ok "6 an OPEN on the resume socket, before any ticket, is refused and opens nothing"
else
	not_ok "6 an OPEN on the resume socket is refused"
	diag_s "$out"
fi

# --- 7 tickets die with their processes -----------------------------------------------

# the clients' processes: by their command line (ip netns exec execs them)
for pid in "${pids[@]}"; do
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")
	[[ $cmd == *" ticket --hold"* ]] && sig KILL "$pid" && wait_exit "$pid" 3000
done
stop_dyperd TERM || not_ok "7 dyperd stops"
start_dyperd || bail "dyperd did not start for case 7"
resume root "$RID" "$RSECRET"
if grep -q '^err -13 no channel with that ticket' <<<"$OUT"; then
	ok "7 once every process that held root's channel is gone, its ticket is dropped at the next start"
else
	not_ok "7 once every process that held root's channel is gone, its ticket is dropped"
	diag_s "$OUT"
	diag "$DLOG"
fi
if download last && [ "$(vs_pid)" = "$VS" ]; then
	ok "7 vsftpd's channel, still held, was kept: another download"
else
	not_ok "7 vsftpd's channel, still held, was kept: another download"
	diag "$T/curl.last"
fi

summary
