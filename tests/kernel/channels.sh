#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# channels.sh: what one unprivileged user of the wrapper can do to dyperd
# through the agent socket alone (issue 9, items 4 and 5), and that the
# other users keep their service.  The attacker is nobody with the agent
# group (daemon), as a wrapped program of nobody's would be; the victims
# are root's clients.  dyperd runs as nobody in namespace IN, as in
# dyperd.sh.
#
#   1. channels: dyperd with a descriptor limit of 128 (prlimit) and
#      max_channels_per_user = 8.  A victim connects; then the attacker
#      opens 200 channels and holds them.  Over-cap connections must be
#      closed at once; the victim's channel, already there, must still get
#      its pinhole (a real OPEN passing a real socket, then real traffic);
#      a new victim channel must connect and get one; dyperctl must answer;
#      dyperd's log must stay short.  A request whose descriptors arrive
#      cut short (MSG_CTRUNC) must be answered without closing its channel.
#   2. flood: rate = 200, burst = 200.  Four channels of nobody's send
#      HELLO, and one sends OPEN requests the policy denies, as fast as they
#      can for FLOOD_S seconds.  A legitimate open during the flood must
#      succeed; dyperd's log and its JSON event file must stay under a
#      bound, with "N similar messages suppressed" lines for what was left
#      out; the dropped messages are counted in rate_limited.
#
# No timing is asserted (speed figures are tests/bench/flood_bench's).
# Every flood and hold is bounded in time.  Needs root; touches nothing
# outside its own namespaces and temp dir.  Output: "ok - ..." /
# "not ok - ..." per check, then "channels: N passed, N failed".

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT" "$PROBE"
need_tools nft setpriv prlimit
for id in "passwd nobody" "group daemon"; do
	read -r db name <<<"$id"
	getent "$db" "$name" >/dev/null || { echo "channels.sh: $db $name missing" >&2; exit 2; }
done

NOFILE=128		# dyperd's descriptor limit in case 1
PER_USER=8		# max_channels_per_user in case 1
ATTACK=200		# channels the attacker opens
HOLD=30			# how long clients hold their channels and sockets
FLOOD_S=5		# length of the flood in case 2
FLOODERS=4		# HELLO flooders
LOG_MAX=200		# most log lines dyperd may write in either case
DENY_PORT=8109

DPID=
DLOG=

bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"		# dyperd (nobody) reads its config and policy here
CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
EVENTS=$T/events.json

setup_network

# write_conf LIMITS...: one "key = value" line each in [limits].
write_conf() {
	{
		echo "[daemon]"
		echo "user = nobody"
		echo "group = daemon"
		echo "agent_socket = $ASOCK"
		echo "control_socket = $CSOCK"
		echo "policy = $POL"
		echo "event_log = $EVENTS"
		echo "[limits]"
		printf '%s\n' "$@"
	} >"$CONF"
	chmod 644 "$CONF"
}

{
	echo "allow root * * * * * 1024-65535"
	echo "allow daemon nobody tcp * * * 7000-7099"
	echo "deny * * tcp * * * $DENY_PORT"
} >"$POL"
chmod 644 "$POL"

ctl() {
	timeout 10 "$DYPERCTL" -s "$CSOCK" "$@"
}

ctl_quiet() {
	ctl "$@" >/dev/null 2>&1
}

starts=0
# start_dyperd [PRLIMIT-ARGS...]: dyperd in IN, its stderr in $DLOG.
start_dyperd() {
	starts=$((starts + 1))
	DLOG=$T/dyperd.$starts.log
	ip netns exec "$NS_IN" prlimit "$@" -- "$DYPERD" -c "$CONF" -f >"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
	poll 5000 0.05 ctl_quiet stats
}

stop_dyperd() {
	sig TERM "$DPID"
	wait_exit "$DPID" 5000 || { sig KILL "$DPID"; wait_exit "$DPID" 3000; }
}

# client_bg NAME [AS...] -- ARGS...: dyper-client in IN in the background,
# as root or through the setpriv arguments AS; output in $T/c.NAME.
declare -A CPID
client_bg() {
	local name=$1 as=()

	shift
	while [ "$1" != -- ]; do
		as+=("$1")
		shift
	done
	shift
	if [ ${#as[@]} -gt 0 ]; then
		ip netns exec "$NS_IN" setpriv "${as[@]}" "$CLIENT" -s "$ASOCK" "$@" \
			>"$T/c.$name" 2>&1 </dev/null &
	else
		ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" "$@" >"$T/c.$name" 2>&1 </dev/null &
	fi
	CPID[$name]=$!
	started $!
}

NOBODY=(--reuid=nobody --regid=daemon --clear-groups)

has_line() {
	grep -Eq "$2" "$T/c.$1" 2>/dev/null
}

# line NAME ERE: the client's first line matching ERE (waits at most 10 s).
line() {
	poll 10000 0.02 has_line "$1" "$2"
	grep -Em1 "$2" "$T/c.$1" 2>/dev/null
}

expect_line() {
	if [[ $2 =~ $3 ]]; then
		ok "$1 ($2)"
	else
		not_ok "$1: expected /$3/, got \"$2\""
		return 1
	fi
}

in_kernel() {
	ip netns exec "$NS_IN" nft list set inet dyper pinholes4_any 2>/dev/null |
		tr -s ' \t\n' ' ' | grep -qF -- " $1 . tcp . $IN4 . $2 "
}

stat_of() {
	ctl stats 2>/dev/null | sed -n "s/^$1 *//p"
}

log_lines() {
	wc -l <"$DLOG"
}

kill_clients() {
	local name

	for name in "${!CPID[@]}"; do
		sig KILL "${CPID[$name]}"
	done
	for name in "${!CPID[@]}"; do
		wait_exit "${CPID[$name]}" 3000
	done
	CPID=()
}

# --- 1. channels ------------------------------------------------------------------

write_conf "max_channels_per_user = $PER_USER"
start_dyperd --nofile=$NOFILE:$NOFILE || bail "1: dyperd starts with RLIMIT_NOFILE $NOFILE"
ok "1: dyperd starts with RLIMIT_NOFILE $NOFILE"

# the victim's channel exists before the attack; it asks once $T/go exists
client_bg v1 -- open tcp "$A4" '*' "$IN4" 7100 --after "$T/go" --hold $HOLD
sleep 0.3
lines0=$(log_lines)
client_bg att "${NOBODY[@]}" -- channels $ATTACK $HOLD
r=$(line att '^channels: ')
held=$(sed -n 's/.* \([0-9]*\) held$/\1/p' <<<"$r")
if [ -n "$held" ] && [ "$held" -le $PER_USER ]; then
	ok "1: nobody opened $ATTACK channels: at most $PER_USER held ($r)"
else
	not_ok "1: nobody opened $ATTACK channels: at most $PER_USER held (got \"$r\")"
fi

touch "$T/go"
r=$(line v1 '^(ok|err) ')
expect_line "1: the victim's channel, connected before, still opens $IN4:7100" "$r" '^ok '
if in_kernel "$A4" 7100; then
	ok "1: its pinhole is in the kernel"
else
	not_ok "1: its pinhole is in the kernel"
fi
expect_pass "1: A reaches the victim's port 7100" "$NS_A" tcp "$IN4" 7100

client_bg v2 -- open tcp "$A4" '*' "$IN4" 7101 --hold $HOLD
r=$(line v2 '^(ok|err) ')
expect_line "1: a new victim channel connects and opens $IN4:7101" "$r" '^ok '
if in_kernel "$A4" 7101; then
	ok "1: that pinhole is in the kernel"
else
	not_ok "1: that pinhole is in the kernel"
fi

refused=$(stat_of channels_refused)
if [ -n "$refused" ] && [ "$refused" -ge $((ATTACK - PER_USER)) ]; then
	ok "1: dyperctl stats answers: channels_refused $refused"
else
	not_ok "1: dyperctl stats answers with channels_refused >= $((ATTACK - PER_USER)) (\"$refused\")"
fi

# more descriptors than dyperd takes: cut short, answered, the channel kept
out=$(timeout 20 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 7102 \
	--extra-fds 6 --again 2>&1)
second=$(grep -E '^(ok|err) ' <<<"$out" | sed -n 2p)
expect_line "1: after a request whose descriptors were cut short, the same channel opens 7102" \
	"$second" '^ok '
lost=$(stat_of fds_lost)
if [ -n "$lost" ] && [ "$lost" -ge 1 ]; then
	ok "1: counted in fds_lost ($lost)"
else
	not_ok "1: counted in fds_lost (\"$lost\")"
fi

n=$(($(log_lines) - lines0))
if [ "$n" -le $LOG_MAX ]; then
	ok "1: dyperd wrote $n log lines during the attack (at most $LOG_MAX)"
else
	not_ok "1: dyperd wrote $n log lines during the attack (at most $LOG_MAX)"
	diag "$DLOG" 5
fi
if grep -q "refused: uid 65534 holds $PER_USER channels (max_channels_per_user)" "$DLOG"; then
	ok "1: the refusal names the uid and the cap"
else
	not_ok "1: the refusal names the uid and the cap"
	diag "$DLOG" 5
fi
kill_clients
stop_dyperd

# --- 2. flood ---------------------------------------------------------------------------

: >"$EVENTS"
write_conf "rate = 200" "burst = 200"
start_dyperd || bail "2: dyperd starts"
ok "2: dyperd starts (rate = 200, burst = 200)"
lines0=$(log_lines)
for ((i = 0; i < FLOODERS; i++)); do
	client_bg "f$i" "${NOBODY[@]}" -- flood $FLOOD_S hello
done
client_bg fdeny "${NOBODY[@]}" -- flood $FLOOD_S open tcp "$A4" "$IN4" $DENY_PORT
sleep 1
client_bg legit -- open tcp "$A4" '*' "$IN4" 7110 --hold $HOLD
r=$(line legit '^(ok|err) ')
expect_line "2: a legitimate open during the flood succeeds" "$r" '^ok '
if in_kernel "$A4" 7110; then
	ok "2: its pinhole is in the kernel"
else
	not_ok "2: its pinhole is in the kernel"
fi
for ((i = 0; i < FLOODERS; i++)); do
	line "f$i" '^flood: ' >/dev/null
done
r=$(line fdeny '^flood: ')
sent=$(sed -n 's/^flood: \([0-9]*\) sent.*/\1/p' <<<"$r")
if [ -n "$sent" ] && [ "$sent" -gt 0 ]; then
	ok "2: the flooders sent ($r)"
else
	not_ok "2: the flooders sent (\"$r\")"
fi
sleep 0.5
n=$(($(log_lines) - lines0))
if [ "$n" -le $LOG_MAX ]; then
	ok "2: dyperd wrote $n log lines during the flood (at most $LOG_MAX)"
else
	not_ok "2: dyperd wrote $n log lines during the flood (at most $LOG_MAX)"
	diag "$DLOG" 5
fi
# the summaries come when the limiter's window is over (LOG_LIMIT_WINDOW_MS)
summarized() {
	grep -q 'similar messages suppressed (denied requests)' "$DLOG" &&
		grep -q '"event":"suppressed"' "$EVENTS"
}
if poll 15000 0.2 summarized; then
	ok "2: what was left out is announced (\"N similar messages suppressed\", a \"suppressed\" event)"
else
	not_ok "2: what was left out is announced (\"N similar messages suppressed\", a \"suppressed\" event)"
	diag "$DLOG" 5
fi
denies=$(grep -c '"event":"deny"' "$EVENTS")
if [ "$denies" -le 50 ]; then
	ok "2: the event file holds $denies deny events (at most 50)"
else
	not_ok "2: the event file holds $denies deny events (at most 50)"
fi
rl=$(stat_of rate_limited)
if [ -n "$rl" ] && [ "$rl" -gt 0 ]; then
	ok "2: the dropped messages are counted (rate_limited $rl)"
else
	not_ok "2: the dropped messages are counted (rate_limited \"$rl\")"
fi
kill_clients
stop_dyperd

summary
