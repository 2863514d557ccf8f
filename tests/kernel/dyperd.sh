#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# dyperd.sh: the controller end to end.  Runs the real dyperd in a throwaway
# network of namespaces, asks it for pinholes with dyper-client (which speaks
# the agent protocol and passes a real bound socket), and checks the answer
# against kernel truth (nft list, dyperctl list) and real traffic (probe).
#
#        A (dyt-PID-a) ----\
#        B (dyt-PID-b) -----+- br0 in dyt-PID-sw
#       IN (dyt-PID-in) ---/      (dyperd and its table live in IN)
#
# dyperd runs as nobody; its agent socket belongs to group "daemon" (a group
# nobody is not in), so that case 7 can show who may connect.  Everything
# else (config, policy, sockets, logs) lives in one mktemp -d directory.
# Every "ok" line starts with the number of its case: 1 start and config
# check, 2 a pinhole and real traffic, 3 cleanup on exit/SIGKILL, 4 forged
# and denied requests, 5 protocol abuse, 6 fork and one shared channel,
# 7 the agent group, 8 crash recovery, 11 reload, 12 lifetimes, 13 IPv6,
# 15 dyperctl; then the cases that restart dyperd with another
# configuration: 9 owner flag and tamper repair, 10 limits, 14 on_exit.
#
# The network, the probes and the cleanup come from lib.sh (sourced).
# Needs root.  Touches nothing outside its own namespaces and temp dir.
# Binaries come from $B (default "build") relative to the repository root.
# Output: "ok - ..." / "not ok - ..." per check, then
# "dyperd: N passed, N failed"; exit 0 only if nothing failed
# (77 when not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT" "$PROBE"
for tool in nft setpriv; do
	if ! command -v "$tool" >/dev/null; then
		echo "dyperd.sh: $tool missing (apt-get install nftables util-linux)" >&2
		exit 2
	fi
done
for id in "user nobody" "group nogroup" "group daemon" "group root"; do
	read -r db name <<<"$id"
	if ! getent "${db/user/passwd}" "$name" >/dev/null; then
		echo "dyperd.sh: $db $name missing" >&2
		exit 2
	fi
done

HOLD=30			# held pinholes: clients serve this long unless killed
GONE_MS=100		# a closed socket's pinhole must be gone within this

DPID=			# the running dyperd
DLOG=			# its stderr

# bail shows dyperd's log too.
bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
# dyperd re-reads its config and policy as nobody (reload): readable by all.
chmod 755 "$T"
CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
EVENTS=$T/events.json

setup_network

# --- configuration -------------------------------------------------------------

# write_conf FILE [KEY=VALUE...]: a dyper.conf for this test; each KEY goes
# to its section.
write_conf() {
	local f=$1 kv k v
	local daemon=() enforcer=() limits=()

	shift
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		case $k in
		on_exit | log_level | bogus) daemon+=("$k = $v") ;;
		owner | tamper_check_interval | reconcile_interval) enforcer+=("$k = $v") ;;
		*) limits+=("$k = $v") ;;
		esac
	done
	{
		echo "# dyperd.sh test configuration"
		echo "[daemon]"
		echo "user = nobody"
		echo "group = daemon"
		echo "agent_socket = $ASOCK"
		echo "control_socket = $CSOCK"
		echo "policy = $POL"
		echo "event_log = $EVENTS"
		printf '%s\n' "${daemon[@]}"
		echo "[enforcer]"
		printf '%s\n' "${enforcer[@]}"
		echo "[limits]"
		printf '%s\n' "${limits[@]}"
	} >"$f"
	chmod 644 "$f"
}

DENY_PORT=8109		# a deny rule's port
LIFE_PORT=900		# a rule with lifetime=3s (outside the general rule's ports)
LATE_DENY_PORT=8151	# denied only by the policy reloaded in case 11

# Local requests through the root group (the clients run as root) to
# unprivileged ports; nobody through group daemon only, ports 7000-7099.
write_policy() {
	{
		echo "allow root * * * * * 1024-65535"
		echo "allow daemon nobody tcp * * * 7000-7099"
		echo "deny * * tcp * * * $DENY_PORT"
		echo "allow root * tcp * * * $LIFE_PORT lifetime=3s"
		printf '%s\n' "$@"
	} >"$POL"
	chmod 644 "$POL"
}

write_conf "$CONF"
write_policy

# --- dyperd ----------------------------------------------------------------------

starts=0

# start_dyperd CONF: dyperd in IN, in the foreground, its stderr in $DLOG;
# returns once dyperctl gets an answer (at most 5 s).
start_dyperd() {
	starts=$((starts + 1))
	DLOG=$T/dyperd.$starts.log
	ip netns exec "$NS_IN" "$DYPERD" -c "$1" -f >"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
	poll 5000 0.02 ctl_quiet stats
}

ctl_quiet() {
	"$DYPERCTL" -s "$CSOCK" "$@" >/dev/null 2>&1
}

# stop_dyperd SIGNAL: 0 once it has exited (at most 5 s).
stop_dyperd() {
	sig "$1" "$DPID"
	wait_exit "$DPID" 5000
}

ctl() {
	"$DYPERCTL" -s "$CSOCK" "$@"
}

# --- clients -----------------------------------------------------------------------

# client_bg NAME ARGS...: dyper-client in IN in the background; its output
# in $T/c.NAME, its pid in CPID[NAME].  ip netns exec execs: same pid.
declare -A CPID
client_bg() {
	local name=$1

	shift
	ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" "$@" >"$T/c.$name" 2>&1 </dev/null &
	CPID[$name]=$!
	started $!
}

has_reply() {
	grep -Eq '^(ok|err) ' "$T/c.$1" 2>/dev/null
}

# reply NAME: the client's first reply line (waits at most 5 s), or "".
reply() {
	poll 5000 0.01 has_reply "$1"
	grep -Em1 '^(ok|err) ' "$T/c.$1" 2>/dev/null
}

# client_fg NAME ARGS...: dyper-client in IN, bounded; output in $T/c.NAME;
# prints the first reply line.  RC is its exit status.
RC=0
client_fg() {
	local name=$1

	shift
	timeout 15 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" "$@" >"$T/c.$name" 2>&1 </dev/null
	RC=$?
	grep -Em1 '^(ok|err) ' "$T/c.$name"
}

# kill_client NAME [SIGNAL]: 0 once it is gone.
kill_client() {
	local pid=${CPID[$1]}

	sig "${2:-KILL}" "$pid"
	wait_exit "$pid" 3000
}

kill_all_clients() {
	local name

	for name in "${!CPID[@]}"; do
		sig KILL "${CPID[$name]}"
	done
	for name in "${!CPID[@]}"; do
		wait_exit "${CPID[$name]}" 3000
	done
	CPID=()
}

# --- kernel truth ---------------------------------------------------------------------

nft_in() {
	ip netns exec "$NS_IN" nft "$@"
}

set_of() {
	[[ $1 == *:* ]] && echo pinholes6_any || echo pinholes4_any
}

# set_text SETNAME: the set as nft lists it, blanks squeezed to one space.
set_text() {
	local out

	out=$(nft_in list set inet dyper "$1" 2>&1) || return 1
	tr -s ' \t\n' ' ' <<<"$out"
}

# in_kernel PROTO REMOTE LOCAL LPORT: the any-remote-port element exists.
in_kernel() {
	set_text "$(set_of "$2")" | grep -qF -- " $2 . $1 . $3 . $4 "
}

# not_in_kernel PROTO REMOTE LOCAL LPORT: the set is there, the element not.
not_in_kernel() {
	local out

	out=$(set_text "$(set_of "$2")") || return 1
	! grep -qF -- " $2 . $1 . $3 . $4 " <<<"$out"
}

# kernel_line PROTO REMOTE LOCAL LPORT: that element's text.
kernel_line() {
	set_text "$(set_of "$2")" | grep -oE -- " $(re "$2 . $1 . $3 . $4") [^,}]*" | sed 's/^ //; s/ $//'
}

# in_list REMOTE:RPORT LOCAL:LPORT: dyperctl list shows the pinhole.
in_list() {
	ctl list 2>/dev/null | grep -qE -- "^[0-9]+ +[a-z]+ +$(re "$1") +$(re "$2") "
}

not_in_list() {
	local out

	out=$(ctl list 2>&1) || return 1
	! grep -qE -- "^[0-9]+ +[a-z]+ +$(re "$1") +$(re "$2") " <<<"$out"
}

# A string as an extended regular expression matching itself.
re() {
	# shellcheck disable=SC2001 # a bracket expression, not a ${//} pattern
	sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1"
}

list_count() {
	ctl list 2>/dev/null | sed -n 's/^\([0-9]*\) pinholes\{0,1\}$/\1/p'
}

no_pinholes() {
	[ "$(list_count)" = 0 ]
}

# A clean slate between cases: no client, no pinhole.
settle() {
	kill_all_clients
	if ! poll 3000 0.02 no_pinholes; then
		not_ok "pinholes left 3 s after every client was killed"
		diag_s "$(ctl list 2>&1)"
	fi
}

# --- replies -----------------------------------------------------------------------------

# expect_reply DESC GOT WANT-ERE
expect_reply() {
	if [[ $2 =~ $3 ]]; then
		ok "$1 ($2)"
	else
		not_ok "$1: expected /$3/, got \"$2\""
		return 1
	fi
}

# --- 1. start, stats, table, --check-config --------------------------------------------

if start_dyperd "$CONF"; then
	ok "1: dyperd starts in $NS_IN and dyperctl stats answers (after $WAITED ms)"
else
	bail "1: dyperd did not start or dyperctl stats got no answer within 5 s"
fi
if out=$(ctl stats 2>&1) && grep -qE '^pinholes +0$' <<<"$out" &&
	grep -qE '^table_owned +yes$' <<<"$out"; then
	ok "1: dyperctl stats: 0 pinholes, table owned"
else
	not_ok "1: dyperctl stats: 0 pinholes, table owned"
	diag_s "$out"
fi
out=$(nft_in list chain inet dyper input 2>&1)
if grep -q 'hook input priority filter; policy drop;' <<<"$out" &&
	grep -q '@pinholes4_any accept' <<<"$out"; then
	ok "1: table inet dyper exists in $NS_IN, input chain with policy drop"
else
	not_ok "1: table inet dyper exists in $NS_IN, input chain with policy drop"
	diag_s "$out"
fi
if out=$("$DYPERD" --check-config -c "$CONF" 2>&1); then
	ok "1: dyperd --check-config accepts the test configuration"
else
	not_ok "1: dyperd --check-config accepts the test configuration"
	diag_s "$out"
fi
BAD=$T/bad.conf
write_conf "$BAD" bogus=1
badline=$(grep -n '^bogus' "$BAD" | cut -d: -f1)
out=$("$DYPERD" --check-config -c "$BAD" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qF -- "$BAD:$badline:" <<<"$out"; then
	ok "1: an unknown key fails --check-config with FILE:LINE: ($(head -n1 <<<"$out"))"
else
	not_ok "1: an unknown key fails --check-config with $BAD:$badline: (exit $rc)"
	diag_s "$out"
fi

# --- 2. a pinhole for A ------------------------------------------------------------------

PORT=8080
OTHER=8081
serve tcp "$IN4" "$OTHER"
client_bg c2 open tcp "$A4" '*' "$IN4" $PORT --hold $HOLD
r=$(reply c2)
expect_reply "2: dyper-client opens tcp $A4:* -> $IN4:$PORT" "$r" '^ok [0-9]+ 0$'
check "2: the element is in pinholes4_any" in_kernel tcp "$A4" "$IN4" $PORT ||
	diag_s "$(nft_in list set inet dyper pinholes4_any 2>&1)"
wait_servers 3000
expect_pass "2: A reaches $PORT through the pinhole" "$NS_A" tcp "$IN4" $PORT
expect_drop "2: B does not reach $PORT" "$NS_B" tcp "$IN4" $PORT
expect_drop "2: A does not reach $OTHER (listening, no pinhole)" "$NS_A" tcp "$IN4" $OTHER
line=$(ctl list 2>&1 | grep -F -- "$A4:*" | grep -F -- "$IN4:$PORT")
if [[ $line =~ ^[0-9]+\ +tcp\ +[^\ ]+\ +[^\ ]+\ +0\ +${CPID[c2]}\ +dyper-client\  ]]; then
	ok "2: dyperctl list shows uid 0, pid ${CPID[c2]}, program dyper-client"
else
	not_ok "2: dyperctl list shows uid 0, pid ${CPID[c2]}, program dyper-client"
	diag_s "$(ctl list 2>&1)"
fi
if grep -F '"event":"open"' "$EVENTS" | grep -F "\"local_port\":$PORT," |
	grep -qF "\"pid\":${CPID[c2]},"; then
	ok "2: the event log has an \"open\" JSON line for it"
else
	not_ok "2: the event log has an \"open\" JSON line for it"
	diag "$EVENTS"
fi
if command -v python3 >/dev/null; then
	if out=$(python3 -c 'import json, sys
for n, l in enumerate(open(sys.argv[1]), 1):
    json.loads(l)' "$EVENTS" 2>&1); then
		ok "2: every event log line is valid JSON"
	else
		not_ok "2: every event log line is valid JSON"
		diag_s "$out"
	fi
fi
settle

# --- 3. cleanup on exit and on kill -9 ----------------------------------------------------

# gone_after DESC PROTO REMOTE LOCAL LPORT: checks the element vanishes
# within GONE_MS of now (polling every 10 ms, giving up after 2 s).
gone_after() {
	local desc=$1

	shift
	if poll 2000 0.01 not_in_kernel "$@" && [ "$WAITED" -le $GONE_MS ]; then
		ok "$desc: gone from the kernel after $WAITED ms"
	elif not_in_kernel "$@"; then
		not_ok "$desc: gone from the kernel within $GONE_MS ms (took $WAITED ms)"
	else
		not_ok "$desc: gone from the kernel within $GONE_MS ms (still there after 2 s)"
		diag "$DLOG"
	fi
}

client_bg c3a open tcp "$A4" '*' "$IN4" 8090 --hold 1
r=$(reply c3a)
if expect_reply "3: a client opens 8090 and holds it about 1 s" "$r" '^ok ' &&
	check "3: 8090 is in the kernel while the client runs" in_kernel tcp "$A4" "$IN4" 8090; then
	if wait_exit "${CPID[c3a]}" 3000; then
		gone_after "3: client exited normally" tcp "$A4" "$IN4" 8090
	else
		not_ok "3: the client with --hold 1 exited within 3 s"
	fi
fi
client_bg c3b open tcp "$A4" '*' "$IN4" 8091 --hold $HOLD
r=$(reply c3b)
if expect_reply "3: a client opens 8091 and holds it" "$r" '^ok ' &&
	check "3: 8091 is in the kernel" in_kernel tcp "$A4" "$IN4" 8091; then
	sig KILL "${CPID[c3b]}"
	gone_after "3: client killed with SIGKILL" tcp "$A4" "$IN4" 8091
	wait_exit "${CPID[c3b]}" 3000
fi
check "3: dyperctl list is empty again" poll 1000 0.02 no_pinholes
client_fg c3c open tcp "$A4" '*' "$IN4" 8092 --close >/dev/null
if [ $RC -eq 0 ] && [ "$(grep -c '^ok ' "$T/c.c3c")" = 2 ] &&
	grep -F "\"local_port\":8092," "$EVENTS" | grep -qF '"reason":"closed by its owner"'; then
	ok "3: an explicit CLOSE request closes the pinhole (two ok replies, \"closed by its owner\")"
else
	not_ok "3: an explicit CLOSE request closes the pinhole"
	diag "$T/c.c3c"
fi
check "3: ... gone from the kernel" not_in_kernel tcp "$A4" "$IN4" 8092
if grep -F "\"local_port\":8091," "$EVENTS" | grep -qF '"event":"close"'; then
	ok "3: the event log has a \"close\" line for the killed client's pinhole"
else
	not_ok "3: the event log has a \"close\" line for the killed client's pinhole"
	diag "$EVENTS" 5
fi
settle

# --- 4. forged, fd-less and denied requests ------------------------------------------------

r=$(client_fg c4a open tcp "$A4" '*' "$IN4" 8100 --forge 8101)
expect_reply "4: a request for 8101 passing a socket bound to 8100 is refused with EPERM" \
	"$r" '^err -1 '
# shellcheck disable=SC2016 # eval expands them when check runs
check "4: nothing in the kernel for 8101 or 8100" \
	eval 'not_in_kernel tcp "$A4" "$IN4" 8101 && not_in_kernel tcp "$A4" "$IN4" 8100'
r=$(client_fg c4b open tcp "$A4" '*' "$IN4" 8102 --no-fd)
expect_reply "4: a request without its socket is refused" "$r" '^err -[0-9]+ '
check "4: nothing in the kernel for 8102" not_in_kernel tcp "$A4" "$IN4" 8102
r=$(client_fg c4c open tcp "$A4" '*' "$IN4" $DENY_PORT)
expect_reply "4: a request the deny rule matches gets EACCES" "$r" '^err -13 denied by '
check "4: nothing in the kernel for $DENY_PORT" not_in_kernel tcp "$A4" "$IN4" $DENY_PORT
if grep -F '"event":"deny"' "$EVENTS" | grep -qF "\"local_port\":$DENY_PORT,"; then
	ok "4: the event log has a \"deny\" line for it"
else
	not_ok "4: the event log has a \"deny\" line for it"
	diag "$EVENTS" 5
fi
check "4: dyperctl list is still empty" no_pinholes

# --- 5. protocol abuse ---------------------------------------------------------------------

for what in "badversion -93" "badtype -95" "short -74"; do
	read -r kind errno <<<"$what"
	out=$(timeout 10 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" raw "$kind" 2>&1)
	if grep -q "^reply $errno " <<<"$out" && grep -qx closed <<<"$out"; then
		ok "5: raw $kind: error reply $errno and the channel closed"
	else
		not_ok "5: raw $kind: error reply $errno and the channel closed"
		diag_s "$out"
	fi
done
if is_alive "$DPID" && ctl_quiet stats; then
	ok "5: dyperd still serves dyperctl"
else
	not_ok "5: dyperd still serves dyperctl"
	diag "$DLOG"
fi
r=$(client_fg c5 open tcp "$A4" '*' "$IN4" 8110)
expect_reply "5: an open after the abuse works" "$r" '^ok '

# --- 6. 64 children on one channel -----------------------------------------------------------

BASE=9000
before=$(grep -cF '"event":"open"' "$EVENTS")
out=$(timeout 30 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" children 64 tcp "$A4" "$IN4" $BASE 2>&1)
if grep -qx 'children: 64 ok, 0 failed' <<<"$out"; then
	ok "6: 64 children sharing one channel each got their own ok reply"
else
	not_ok "6: 64 children sharing one channel each got their own ok reply"
	diag_s "$out"
fi
n=$(grep -F '"event":"open"' "$EVENTS" | tail -n +$((before + 1)) |
	grep -cE "\"local_port\":(9[0-9]{3}),")
if [ "$n" = 64 ]; then
	ok "6: the event log has 64 open lines, one per child"
else
	not_ok "6: the event log has 64 open lines, one per child (got $n)"
fi
children_gone() {
	local out

	out=$(set_text pinholes4_any) && ! grep -qE " \. 90[0-6][0-9] " <<<"$out"
}
if poll 3000 0.05 children_gone && poll 1000 0.02 no_pinholes; then
	ok "6: the children's 64 pinholes are gone once they exited ($WAITED ms)"
else
	not_ok "6: the children's 64 pinholes are gone once they exited"
	diag_s "$(ctl list 2>&1 | tail -n 5)"
fi

# --- 7. who may connect: the agent group ----------------------------------------------------------

# nobody, without group daemon
out=$(timeout 10 ip netns exec "$NS_IN" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 7000 2>&1)
rc=$?
if [ $rc -eq 3 ] && grep -q 'Permission denied' <<<"$out"; then
	ok "7: nobody without group daemon cannot connect (EACCES, exit 3)"
else
	not_ok "7: nobody without group daemon cannot connect (EACCES, exit 3): exit $rc"
	diag_s "$out"
fi
# with daemon as a supplementary group: connects, but the delegate is nogroup
out=$(timeout 10 ip netns exec "$NS_IN" setpriv --reuid=nobody --regid=nogroup --groups=daemon \
	"$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 7001 2>&1)
expect_reply "7: nobody with supplementary group daemon connects; delegate nogroup is denied" \
	"$(grep -Em1 '^(ok|err) ' <<<"$out")" '^err -13 '
# with daemon as its group: delegate daemon, allowed by the nobody rule
ip netns exec "$NS_IN" setpriv --reuid=nobody --regid=daemon --clear-groups \
	"$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 7002 --hold $HOLD >"$T/c.c7" 2>&1 </dev/null &
CPID[c7]=$!
started $!
r=$(reply c7)
expect_reply "7: nobody with group daemon opens tcp $A4:* -> $IN4:7002" "$r" '^ok '
line=$(kernel_line tcp "$A4" "$IN4" 7002)
if [[ $line == *'comment "uid 65534 pid '"${CPID[c7]}"' '* ]]; then
	ok "7: the kernel element's comment names uid 65534 and its pid"
else
	not_ok "7: the kernel element's comment names uid 65534 pid ${CPID[c7]} (got \"$line\")"
fi
if ctl list 2>/dev/null | grep -F "$IN4:7002" | grep -qE " 65534 +${CPID[c7]} +dyper-client "; then
	ok "7: dyperctl list shows uid 65534"
else
	not_ok "7: dyperctl list shows uid 65534"
	diag_s "$(ctl list 2>&1)"
fi
expect_pass "7: A reaches nobody's port 7002" "$NS_A" tcp "$IN4" 7002
settle

# --- 8. crash recovery -------------------------------------------------------------------------

client_bg live open tcp "$A4" '*' "$IN4" 8120 --hold $HOLD
client_bg dead open tcp "$A4" '*' "$IN4" 8121 --hold $HOLD
r1=$(reply live)
r2=$(reply dead)
if [[ $r1 == ok* && $r2 == ok* ]] && in_kernel tcp "$A4" "$IN4" 8120 &&
	in_kernel tcp "$A4" "$IN4" 8121; then
	ok "8: two clients hold 8120 and 8121"
else
	not_ok "8: two clients hold 8120 and 8121 (\"$r1\", \"$r2\")"
fi
stop_dyperd KILL
# shellcheck disable=SC2016 # eval expands them when check runs
check "8: dyperd killed with SIGKILL" eval '! is_alive "$DPID"'
kill_client dead
sleep 0.2
check "8: with dyperd dead, the dead client's pinhole stays in the kernel (persist table)" \
	in_kernel tcp "$A4" "$IN4" 8121
if start_dyperd "$CONF"; then
	ok "8: dyperd restarts ($WAITED ms)"
else
	bail "8: dyperd restarts"
fi
check "8: the live client's pinhole is still in the kernel" in_kernel tcp "$A4" "$IN4" 8120
check "8: ... and adopted: dyperctl list shows it" in_list "$A4:*" "$IN4:8120"
check "8: the dead client's pinhole was removed from the kernel" not_in_kernel tcp "$A4" "$IN4" 8121
check "8: ... and is not in dyperctl list" not_in_list "$A4:*" "$IN4:8121"
if grep -q 'recovered from the kernel: 1 pinholes adopted, 1 stale removed' "$DLOG"; then
	ok "8: dyperd logs 1 adopted, 1 stale removed"
else
	not_ok "8: dyperd logs 1 adopted, 1 stale removed"
	diag "$DLOG"
fi
expect_pass "8: A still reaches the live client's 8120" "$NS_A" tcp "$IN4" 8120
sig KILL "${CPID[live]}"
check "8: the adopted pinhole goes when its client is killed" poll 1000 0.01 not_in_kernel tcp "$A4" "$IN4" 8120
settle

# --- 11. reload ------------------------------------------------------------------------------------

cp "$POL" "$T/policy.good"
echo 'allow * * tcp * notaport * *' >>"$POL"
badline=$(grep -n notaport "$POL" | cut -d: -f1)
out=$(ctl reload 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -qF "$POL:$badline:" <<<"$out"; then
	ok "11: dyperctl reload of a broken policy exits 1 with FILE:LINE: ($out)"
else
	not_ok "11: dyperctl reload of a broken policy exits 1 with $POL:$badline: (exit $rc)"
	diag_s "$out"
fi
r=$(client_fg c11a open tcp "$A4" '*' "$IN4" 8150)
expect_reply "11: the old policy still applies: an allowed open still works" "$r" '^ok '
out=$(ctl check 0 tcp "$A4" '*' "$IN4" $DENY_PORT 2>&1)
check "11: ... and its deny rule still denies" grep -q '^denied' <<<"$out"
write_policy "deny * * * * * * $LATE_DENY_PORT"
nlog=$(grep -c 'reloaded: ' "$DLOG")
sig HUP "$DPID"
hup_logged() {
	[ "$(grep -c "reloaded: 5 policy rules from $POL" "$DLOG")" -gt "$nlog" ]
}
if poll 2000 0.02 hup_logged; then
	ok "11: SIGHUP reloads the fixed policy: $(grep 'reloaded: ' "$DLOG" | tail -n1)"
else
	not_ok "11: SIGHUP reloads the fixed policy (log line)"
	diag "$DLOG" 5
fi
r=$(client_fg c11b open tcp "$A4" '*' "$IN4" $LATE_DENY_PORT)
expect_reply "11: the new policy's deny rule applies" "$r" '^err -13 denied by '
r=$(client_fg c11c open tcp "$A4" '*' "$IN4" 8150)
expect_reply "11: ... and 8150 is still allowed" "$r" '^ok '

# --- 12. lifetime ------------------------------------------------------------------------------------

client_bg c12 open tcp "$A4" '*' "$IN4" 8160 --lifetime 1000 --hold $HOLD
t0=$(now_ms)
r=$(reply c12)
expect_reply "12: --lifetime 1000 is granted" "$r" '^ok [0-9]+ 1000$'
line=$(kernel_line tcp "$A4" "$IN4" 8160)
if [[ $line == *"timeout 1s expires "* ]]; then
	ok "12: the kernel element has timeout 1s"
else
	not_ok "12: the kernel element has timeout 1s (got \"$line\")"
fi
check "12: dyperctl list shows it while it lasts" in_list "$A4:*" "$IN4:8160"
expired() {
	not_in_kernel tcp "$A4" "$IN4" 8160 && not_in_list "$A4:*" "$IN4:8160"
}
if poll 3000 0.05 expired; then
	took=$(($(now_ms) - t0))
	if [ $took -ge 900 ] && [ $took -le 2100 ]; then
		ok "12: gone from the kernel and dyperctl list $took ms after the request"
	else
		not_ok "12: gone from the kernel and dyperctl list after 1-2 s (took $took ms)"
	fi
else
	not_ok "12: gone from the kernel and dyperctl list after 1-2 s (still there after 3 s)"
fi
check "12: the client still holds its socket" is_alive "${CPID[c12]}"
if grep -F "\"local_port\":8160," "$EVENTS" | grep -qF '"reason":"expired"'; then
	ok "12: the event log says expired"
else
	not_ok "12: the event log says expired"
	diag "$EVENTS" 3
fi
settle
write_conf "$CONF" default_lifetime=1s
if ctl_quiet reload; then
	r=$(client_fg c12b open tcp "$A4" '*' "$IN4" 8162)
	expect_reply "12: default_lifetime = 1s applies where the policy sets no lifetime" \
		"$r" '^ok [0-9]+ 1000$'
	r=$(client_fg c12c open tcp "$A4" '*' "$IN4" 8162 --lifetime 500)
	expect_reply "12: ... a shorter wish is granted as asked" "$r" '^ok [0-9]+ 500$'
	r=$(client_fg c12d open tcp "$A4" '*' "$IN4" $LIFE_PORT)
	expect_reply "12: a rule's lifetime=3s applies, not default_lifetime" "$r" '^ok [0-9]+ 3000$'
	r=$(client_fg c12e open tcp "$A4" '*' "$IN4" $LIFE_PORT --lifetime 60000)
	expect_reply "12: ... and caps a longer wish" "$r" '^ok [0-9]+ 3000$'
else
	not_ok "12: dyperctl reload with default_lifetime = 1s"
fi
write_conf "$CONF"
ctl_quiet reload || not_ok "12: dyperctl reload back to the test configuration"
settle

# --- 13. IPv6 -----------------------------------------------------------------------------------------

client_bg c13t open tcp "$A6" '*' "$IN6" 8170 --hold $HOLD
client_bg c13u open udp "$A6" '*' "$IN6" 8170 --hold $HOLD
r1=$(reply c13t)
r2=$(reply c13u)
expect_reply "13: tcp [$A6]:* -> [$IN6]:8170 opens" "$r1" '^ok '
expect_reply "13: udp [$A6]:* -> [$IN6]:8170 opens" "$r2" '^ok '
# shellcheck disable=SC2016 # eval expands them when check runs
check "13: both are in pinholes6_any" \
	eval 'in_kernel tcp "$A6" "$IN6" 8170 && in_kernel udp "$A6" "$IN6" 8170'
for proto in tcp udp; do
	expect_pass "13: A reaches $proto 8170 over IPv6" "$NS_A" $proto "$IN6" 8170
	expect_drop "13: B does not reach $proto 8170 over IPv6" "$NS_B" $proto "$IN6" 8170
done
sig KILL "${CPID[c13u]}"
gone_after "13: UDP/IPv6 client killed" udp "$A6" "$IN6" 8170
sig KILL "${CPID[c13t]}"
gone_after "13: TCP/IPv6 client killed" tcp "$A6" "$IN6" 8170
settle

# --- 15. dyperctl ---------------------------------------------------------------------------------

client_bg c15 open tcp "$A4" '*' "$IN4" 8190 --hold $HOLD
r=$(reply c15)
id=$(sed -n 's/^ok \([0-9]*\) .*/\1/p' <<<"$r")
if [ -n "$id" ] && out=$(ctl show "$id" 2>&1) &&
	grep -qE "^$id +tcp +$(re "$A4:*") +$(re "$IN4:8190") +0 +${CPID[c15]} " <<<"$out"; then
	ok "15: dyperctl show $id shows the pinhole"
else
	not_ok "15: dyperctl show ${id:-ID} shows the pinhole (reply \"$r\")"
	diag_s "${out:-}"
fi
if out=$(ctl -j list 2>&1) && python3 -m json.tool <<<"$out" >/dev/null 2>&1 &&
	grep -qF "\"local_port\":8190" <<<"$out"; then
	ok "15: dyperctl -j list is valid JSON holding the pinhole"
else
	not_ok "15: dyperctl -j list is valid JSON holding the pinhole"
	diag_s "$out"
fi
if out=$(ctl -j stats 2>&1) && python3 -m json.tool <<<"$out" >/dev/null 2>&1; then
	ok "15: dyperctl -j stats is valid JSON"
else
	not_ok "15: dyperctl -j stats is valid JSON"
	diag_s "$out"
fi
if [ -n "$id" ] && out=$(ctl close "$id" 2>&1) && grep -q "closed pinhole $id" <<<"$out" &&
	not_in_kernel tcp "$A4" "$IN4" 8190; then
	ok "15: dyperctl close $id: gone from the kernel at once"
else
	not_ok "15: dyperctl close ${id:-ID}: gone from the kernel at once"
	diag_s "$out"
fi
check "15: ... and from dyperctl list" not_in_list "$A4:*" "$IN4:8190"
expect_drop "15: A no longer reaches 8190 (the client still listens)" "$NS_A" tcp "$IN4" 8190
out=$(ctl close 4000000 2>&1)
rc=$?
check "15: dyperctl close of an unknown id exits 1 ($out)" [ $rc -eq 1 ]
out=$(ctl check 0 tcp "$A4" '*' "$IN4" 8080 delegate=0 2>&1)
if grep -q "^allowed: allowed by $POL:1" <<<"$out" &&
	grep -qF "rule 1: allow root * * * * * 1024-65535" <<<"$out"; then
	ok "15: dyperctl check prints the allowing rule: $(tail -n1 <<<"$out")"
else
	not_ok "15: dyperctl check prints the allowing rule"
	diag_s "$out"
fi
out=$(ctl check 0 tcp "$A4" '*' "$IN4" $DENY_PORT delegate=0 2>&1)
if grep -q "^denied: denied by $POL:3" <<<"$out" &&
	grep -qF "rule 3: deny * * tcp * * * $DENY_PORT" <<<"$out"; then
	ok "15: dyperctl check prints the denying rule: $(tail -n1 <<<"$out")"
else
	not_ok "15: dyperctl check prints the denying rule"
	diag_s "$out"
fi
helps_ok=1
for cmd in list show close stats reload check; do
	if ! out=$(ctl "$cmd" --help 2>&1) || ! grep -q "^usage: dyperctl \[-j\] $cmd" <<<"$out"; then
		helps_ok=0
		diag_s "$cmd --help: $out"
	fi
done
if "$DYPERCTL" --help >/dev/null 2>&1 && [ $helps_ok = 1 ]; then
	ok "15: dyperctl --help and COMMAND --help for every command exit 0"
else
	not_ok "15: dyperctl --help and COMMAND --help for every command exit 0"
fi
out=$(ctl frobnicate 2>&1)
rc=$?
check "15: an unknown command exits 2" [ $rc -eq 2 ]
out=$("$DYPERCTL" -s "$T/no-such.sock" stats 2>&1)
rc=$?
if [ $rc -eq 3 ] && grep -q 'cannot reach dyperd' <<<"$out"; then
	ok "15: dyperctl against a missing socket exits 3: $(head -n1 <<<"$out")"
else
	not_ok "15: dyperctl against a missing socket exits 3 with a message (exit $rc)"
	diag_s "$out"
fi
settle

# --- 9. owner protection and tamper repair ---------------------------------------------------------

out=$(nft_in flush table inet dyper 2>&1)
rc=$?
if [ $rc -ne 0 ] && nft_in list chain inet dyper input 2>/dev/null | grep -q '@pinholes4_any accept'; then
	ok "9: owner flag: nft flush table inet dyper fails ($(grep -m1 Error <<<"$out"))"
else
	not_ok "9: owner flag: nft flush table inet dyper fails (exit $rc)"
	diag_s "$out"
fi
stop_dyperd TERM || not_ok "9: dyperd stops on SIGTERM"
CONF_NOOWN=$T/noowner.conf
write_conf "$CONF_NOOWN" owner=no
start_dyperd "$CONF_NOOWN" || bail "9: dyperd starts with owner = no"
if out=$(ctl stats 2>&1) && grep -qE '^table_owned +no$' <<<"$out"; then
	ok "9: with owner = no the table is not owned"
else
	not_ok "9: with owner = no the table is not owned"
	diag_s "$out"
fi
client_bg c9 open tcp "$A4" '*' "$IN4" 8130 --hold $HOLD
r=$(reply c9)
expect_reply "9: a client holds 8130" "$r" '^ok '
rules_back() {
	nft_in list chain inet dyper input 2>/dev/null | grep -q '@pinholes4_any accept'
}
nrep=$(grep -c '"event":"repair"' "$EVENTS")
if nft_in flush chain inet dyper input 2>"$T/cmd"; then
	if poll 3000 0.02 rules_back && [ "$WAITED" -le 1000 ]; then
		ok "9: nft flush chain inet dyper input: rules restored after $WAITED ms"
	else
		not_ok "9: nft flush chain inet dyper input: rules restored within 1 s ($WAITED ms)"
	fi
else
	not_ok "9: nft flush chain inet dyper input (owner = no) succeeds"
	diag "$T/cmd"
fi
check "9: ... the pinhole survived it" in_kernel tcp "$A4" "$IN4" 8130
if grep -q 'repair: ' "$DLOG" && [ "$(grep -c '"event":"repair"' "$EVENTS")" -gt "$nrep" ]; then
	ok "9: ... dyperd logged a repair line and a \"repair\" event"
else
	not_ok "9: ... dyperd logged a repair line and a \"repair\" event"
	diag "$DLOG" 5
fi
expect_pass "9: A reaches 8130 after the repair" "$NS_A" tcp "$IN4" 8130
nrep=$(grep -c '"event":"repair"' "$EVENTS")
if nft_in delete element inet dyper pinholes4_any "{ $A4 . tcp . $IN4 . 8130 }" 2>"$T/cmd"; then
	if poll 3000 0.02 in_kernel tcp "$A4" "$IN4" 8130 && [ "$WAITED" -le 1000 ]; then
		ok "9: nft delete element (8130): re-added after $WAITED ms"
	else
		not_ok "9: nft delete element (8130): re-added within 1 s ($WAITED ms)"
		diag "$DLOG" 5
	fi
else
	not_ok "9: nft delete element (owner = no) succeeds"
	diag "$T/cmd"
fi
if grep -q 'repair: pinhole .* vanished' "$DLOG" &&
	[ "$(grep -c '"event":"repair"' "$EVENTS")" -gt "$nrep" ]; then
	ok "9: ... dyperd logged the pinhole's repair and a \"repair\" event"
else
	not_ok "9: ... dyperd logged the pinhole's repair and a \"repair\" event"
	diag "$DLOG" 5
fi
line=$(kernel_line tcp "$A4" "$IN4" 8130)
if [[ $line == *'comment "uid 0 pid '"${CPID[c9]}"' '* ]]; then
	ok "9: ... with its owner comment"
else
	not_ok "9: ... with its owner comment (got \"$line\")"
fi
expect_pass "9: A reaches 8130 after the element's repair" "$NS_A" tcp "$IN4" 8130
if nft_in delete table inet dyper 2>"$T/cmd"; then
	table_back() {
		rules_back && in_kernel tcp "$A4" "$IN4" 8130
	}
	if poll 3000 0.02 table_back && [ "$WAITED" -le 1000 ]; then
		ok "9: nft delete table inet dyper: table and pinhole restored after $WAITED ms"
	else
		not_ok "9: nft delete table inet dyper: table and pinhole restored within 1 s ($WAITED ms)"
		diag "$DLOG" 5
	fi
else
	not_ok "9: nft delete table inet dyper (owner = no) succeeds"
	diag "$T/cmd"
fi
expect_pass "9: A reaches 8130 after the table's repair" "$NS_A" tcp "$IN4" 8130
if nft_in add element inet dyper pinholes4_any "{ $B4 . tcp . $IN4 . 8131 }" 2>"$T/cmd"; then
	if poll 3000 0.02 not_in_kernel tcp "$B4" "$IN4" 8131 && [ "$WAITED" -le 1000 ]; then
		ok "9: a foreign element (B -> 8131) added with nft is removed after $WAITED ms"
	else
		not_ok "9: a foreign element (B -> 8131) added with nft is removed within 1 s ($WAITED ms)"
		diag "$DLOG" 5
	fi
else
	not_ok "9: nft add element (owner = no) succeeds"
	diag "$T/cmd"
fi
settle
stop_dyperd TERM || not_ok "9: dyperd (owner = no) stops on SIGTERM"
# The table dyperd recreated after "nft delete table" (owner = no) has no
# persist flag, which cannot be added in place: delete it once, as
# dyperd's log advises, so that the next dyperd makes it owned again.
check "9: with dyperd stopped, its unowned table can be deleted" nft_in delete table inet dyper

# --- 10. limits -----------------------------------------------------------------------------------

CONF_LIM=$T/limits.conf
write_conf "$CONF_LIM" max_per_user=2
start_dyperd "$CONF_LIM" || bail "10: dyperd starts with max_per_user = 2"
if out=$(ctl stats 2>&1) && grep -qE '^table_owned +yes$' <<<"$out"; then
	ok "10: back with owner = auto, dyperd owns the table again"
else
	not_ok "10: back with owner = auto, dyperd owns the table again"
	diag_s "$out"
fi
client_bg q1 open tcp "$A4" '*' "$IN4" 8140 --hold $HOLD
client_bg q2 open tcp "$A4" '*' "$IN4" 8141 --hold $HOLD
r1=$(reply q1)
r2=$(reply q2)
r=$(client_fg q3 open tcp "$A4" '*' "$IN4" 8142)
expect_reply "10: max_per_user = 2: with 2 held, a third open gets EDQUOT" "$r" '^err -122 '
check "10: ... nothing in the kernel for it" not_in_kernel tcp "$A4" "$IN4" 8142
settle

# capacity 2, queue_timeout 1s: the third waits, then ENOSPC
write_conf "$CONF_LIM" capacity=2 queue_timeout=1s
ctl_quiet reload || not_ok "10: dyperctl reload (capacity = 2, queue_timeout = 1s)"
client_bg q1 open tcp "$A4" '*' "$IN4" 8143 --hold $HOLD
client_bg q2 open tcp "$A4" '*' "$IN4" 8144 --hold $HOLD
r1=$(reply q1)
r2=$(reply q2)
t0=$(now_ms)
r=$(client_fg q3 open tcp "$A4" '*' "$IN4" 8145)
took=$(($(now_ms) - t0))
if [[ $r1 == ok* && $r2 == ok* && $r == "err -28 "* ]] && [ $took -ge 900 ] && [ $took -le 2000 ]; then
	ok "10: capacity = 2: a third open waits and gets ENOSPC after $took ms ($r)"
else
	not_ok "10: capacity = 2: a third open waits about 1 s, then ENOSPC: \"$r\" after $took ms" \
		"(first two: \"$r1\", \"$r2\")"
fi
check "10: ... nothing in the kernel for it" not_in_kernel tcp "$A4" "$IN4" 8145
settle

# a waiting request is admitted when a slot frees
write_conf "$CONF_LIM" capacity=2 queue_timeout=5s
ctl_quiet reload || not_ok "10: dyperctl reload (queue_timeout = 5s)"
client_bg q1 open tcp "$A4" '*' "$IN4" 8146 --hold 2
client_bg q2 open tcp "$A4" '*' "$IN4" 8147 --hold 2
r1=$(reply q1)
r2=$(reply q2)
client_bg q3 open tcp "$A4" '*' "$IN4" 8148 --hold $HOLD
waiting_one() {
	ctl stats 2>/dev/null | grep -qE '^waiting +1$'
}
if poll 1000 0.02 waiting_one && ! has_reply q3; then
	ok "10: a third open waits while 2 pinholes are held"
else
	not_ok "10: a third open waits while 2 pinholes are held ($(cat "$T/c.q3"))"
fi
t0=$(now_ms)
r=$(reply q3)
if [[ $r == ok* ]] && in_kernel tcp "$A4" "$IN4" 8148; then
	ok "10: ... and is admitted once the holders exit ($r, $(($(now_ms) - t0)) ms later)"
else
	not_ok "10: ... and is admitted once the holders exit (\"$r\")"
	diag "$DLOG" 5
fi
settle

# a waiting request whose client dies must not be admitted later: its
# socket is gone, a pinhole for it would be a stale hole
client_bg q1 open tcp "$A4" '*' "$IN4" 8146 --hold 2
client_bg q2 open tcp "$A4" '*' "$IN4" 8147 --hold 2
r1=$(reply q1)
r2=$(reply q2)
client_bg q3 open tcp "$A4" '*' "$IN4" 8149 --hold $HOLD
if poll 1000 0.02 waiting_one && kill_client q3; then
	# the holders exit within 2 s; then the slot is free
	wait_exit "${CPID[q1]}" 3000
	wait_exit "${CPID[q2]}" 3000
	sleep 0.3
	if not_in_kernel tcp "$A4" "$IN4" 8149 && not_in_list "$A4:*" "$IN4:8149"; then
		ok "10: a waiting request whose client was killed is not admitted when a slot frees"
	else
		not_ok "10: a waiting request whose client was killed is not admitted when a slot frees" \
			"(pinhole for the dead socket: $(kernel_line tcp "$A4" "$IN4" 8149))"
		diag "$DLOG" 3
	fi
else
	not_ok "10: a third open waits while 2 pinholes are held (for the killed-waiter check)"
fi
settle

# rate limit: one channel (the children's), burst 5
write_conf "$CONF_LIM" rate=5 burst=5
ctl_quiet reload || not_ok "10: dyperctl reload (rate = 5, burst = 5)"
rl_before=$(ctl stats 2>/dev/null | sed -n 's/^rate_limited *//p')
out=$(timeout 30 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" children 8 tcp "$A4" "$IN4" 9100 2>&1)
rl_after=$(ctl stats 2>/dev/null | sed -n 's/^rate_limited *//p')
nok=$(sed -n 's/^children: \([0-9]*\) ok, \([0-9]*\) failed$/\1/p' <<<"$out")
nfail=$(sed -n 's/^children: \([0-9]*\) ok, \([0-9]*\) failed$/\2/p' <<<"$out")
if [ -n "$nok" ] && [ "$nok" -ge 5 ] && [ "$nok" -le 6 ] &&
	[ $((rl_after - rl_before)) -eq "$nfail" ]; then
	ok "10: rate = 5, burst = 5: 8 opens on one channel: $nok ok, $nfail dropped unanswered by the rate limit"
else
	not_ok "10: rate = 5, burst = 5: 8 opens on one channel: 5 ok, the rest dropped by the rate limit" \
		"(\"$out\", rate_limited $rl_before -> $rl_after)"
fi
settle

# --- 14. on_exit ---------------------------------------------------------------------------------

client_bg c14 open tcp "$A4" '*' "$IN4" 8180 --hold $HOLD
r=$(reply c14)
expect_reply "14: a client holds 8180" "$r" '^ok '
if stop_dyperd TERM; then
	ok "14: dyperd stops on SIGTERM"
else
	not_ok "14: dyperd stops on SIGTERM within 5 s"
fi
if nft_in list chain inet dyper input 2>/dev/null | grep -q 'policy drop' &&
	in_kernel tcp "$A4" "$IN4" 8180; then
	ok "14: on_exit = keep: the table and the live pinhole stay"
else
	not_ok "14: on_exit = keep: the table and the live pinhole stay"
fi
expect_pass "14: A still reaches 8180 with dyperd stopped" "$NS_A" tcp "$IN4" 8180
CONF_FLUSH=$T/flush.conf
write_conf "$CONF_FLUSH" on_exit=flush
start_dyperd "$CONF_FLUSH" || bail "14: dyperd starts with on_exit = flush"
check "14: the restarted dyperd adopted 8180" in_list "$A4:*" "$IN4:8180"
if stop_dyperd TERM; then
	ok "14: dyperd (on_exit = flush) stops on SIGTERM"
else
	not_ok "14: dyperd (on_exit = flush) stops on SIGTERM within 5 s"
fi
if nft_in list chain inet dyper input 2>/dev/null | grep -q 'policy drop' &&
	not_in_kernel tcp "$A4" "$IN4" 8180; then
	ok "14: on_exit = flush: the pinhole is removed, the table stays"
else
	not_ok "14: on_exit = flush: the pinhole is removed, the table stays"
	diag_s "$(nft_in list set inet dyper pinholes4_any 2>&1)"
fi
if grep -q 'pinholes closed (on_exit = flush)' "$DLOG"; then
	ok "14: dyperd logged the flush"
else
	not_ok "14: dyperd logged the flush"
	diag "$DLOG" 5
fi
expect_drop "14: A no longer reaches 8180" "$NS_A" tcp "$IN4" 8180

summary
