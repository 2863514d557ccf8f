#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The agent (preload/) and the wrapper (wrap/) with dyperd, in namespaces:
# an FTP-shaped application (agent_app.py) served from IN through
# dyper-wrap, in each concurrency model of the paper (fork, threads, one
# select loop), to A and B at the same time; the client model (active
# mode: the external server connects back); a UDP client whose answer
# comes from a new server port; IPv6.  Both clients' data connections only
# get through if each pinhole names the right host, so a wrong inference
# shows up as a failed transfer.  The negative side: the same application
# without the wrapper, or with the agent preloaded by hand, gets nothing.
set -u
. "$(dirname "$0")/lib.sh"

APP=$ROOT/tests/kernel/agent_app.py
AGENT=$AGENT_SO
CTRL=2121
app_pids=()

need_root
need_bins "$WRAP" "$AGENT" "$DYPERD" "$DYPERCTL" "$PROBE"
command -v python3 >/dev/null || { echo "agent: python3 is missing (make deps)"; exit 77; }
start_test
# the applications run python, not one of our binaries: stop them by PID too
kill_apps() {
	local pid

	for pid in "${app_pids[@]}"; do
		grep -qs agent_app.py "/proc/$pid/cmdline" && kill -KILL "$pid" 2>/dev/null
	done
	cleanup
}
trap kill_apps EXIT
setup_network

# --- dyperd on IN: least privilege, the control port open ---------------------------
cat >"$T/dyper.conf" <<EOF
[daemon]
user = nobody
group = nogroup
agent_socket = $T/agent.sock
control_socket = $T/control.sock
policy = $T/policy
event_log = $T/events.json
[enforcer]
tcp_ports = $CTRL
EOF
echo "allow * * * * * * 1024-65535" >"$T/policy"
chmod 755 "$T"
chmod 644 "$T/dyper.conf" "$T/policy"
ip netns exec "$NS_IN" "$DYPERD" -c "$T/dyper.conf" -f >"$T/dyperd.log" 2>&1 </dev/null &
started $!
if poll 3000 0.05 test -S "$T/control.sock"; then
	ok "dyperd runs on IN"
else
	bail "dyperd did not start: $(tail -n 3 "$T/dyperd.log")"
fi

ctl() {
	ip netns exec "$NS_IN" "$DYPERCTL" -s "$T/control.sock" "$@"
}

# app NS ARGS...: agent_app.py in NS, in the background; output in $T/app-N
napps=0
app() {
	local ns=$1

	shift
	napps=$((napps + 1))
	ip netns exec "$ns" "$@" >"$T/app-$napps" 2>&1 </dev/null &
	app_pids+=($!)
	disown $!
	LAST=$T/app-$napps
}

got() {		# RESULT: the client printed ok
	[[ $1 == ok* ]]
}

failed_() {	# RESULT: the client did not get its data
	[[ $1 != ok* ]]
}

wait_line() {	# FILE PATTERN MAX_MS
	poll "$3" 0.05 grep -qs "$2" "$1"
}

# server HOW MODEL [VAR=VALUE...]: the application on IN; HOW is wrap,
# plain or byhand
server() {
	local how=$1 model=$2

	shift 2
	case $how in
	wrap) app "$NS_IN" env "$@" "$WRAP" -s "$T/agent.sock" -p "$AGENT" \
		python3 "$APP" server "$model" $CTRL 8 ;;
	plain) app "$NS_IN" env "$@" python3 "$APP" server "$model" $CTRL 8 ;;
	byhand) app "$NS_IN" env "$@" LD_PRELOAD="$AGENT" DYPER_CHANNEL_FD=0 \
		python3 "$APP" server "$model" $CTRL 8 ;;
	esac
	SERVER=$LAST
	SERVER_PID=${app_pids[-1]}
	wait_line "$SERVER" ready 3000 || { not_ok "$model server did not start"; diag "$SERVER"; }
}

stop_server() {
	grep -qs agent_app.py "/proc/$SERVER_PID/cmdline" && kill -KILL "$SERVER_PID" 2>/dev/null
	wait_exit "$SERVER_PID" 2000
}

# Two clients, from A and B, at the same moment (DELAY lets both commands
# reach a select-loop server in one round).
two_clients() {	# ADDR
	local fa fb

	app "$NS_A" python3 "$APP" pasv "$1" $CTRL 0.3
	fa=$LAST
	app "$NS_B" python3 "$APP" pasv "$1" $CTRL 0.3
	fb=$LAST
	wait_line "$fa" '^\(ok\|bad\|fail\)' 8000
	wait_line "$fb" '^\(ok\|bad\|fail\)' 8000
	RA=$(head -n1 "$fa")
	RB=$(head -n1 "$fb")
}

pinhole_sets_empty() {
	local set

	for set in pinholes4 pinholes4_any pinholes6 pinholes6_any; do
		ip netns exec "$NS_IN" nft list set inet dyper "$set" | grep -q 'elements =' && return 1
	done
	return 0
}

no_pinholes_left() {	# LABEL
	if poll 1000 0.05 pinhole_sets_empty &&
		ctl list | grep -q '^0 pinholes'; then
		ok "$1: no pinhole left (nft and dyperctl list)"
	else
		not_ok "$1: pinholes left behind"
		ctl list | sed 's/^/#   /'
	fi
}

# --- the three concurrency models, two hosts at once --------------------------------
for model in fork thread select; do
	server wrap "$model"
	two_clients "$IN4"
	check "$model: A got its data through its pinhole ($RA)" got "$RA"
	check "$model: B got its data through its pinhole ($RB)" got "$RB"
	stop_server
	no_pinholes_left "$model"
done

# each pinhole named its own host: the event log says so
opens=$(grep -c '"event":"open"' "$T/events.json" 2>/dev/null)
from_a=$(grep '"event":"open"' "$T/events.json" | grep -c "\"remote\":\"$A4\"")
from_b=$(grep '"event":"open"' "$T/events.json" | grep -c "\"remote\":\"$B4\"")
check "6 pinholes opened, 3 for A and 3 for B ($opens: $from_a A, $from_b B)" \
	test "$opens" -eq 6 -a "$from_a" -eq 3 -a "$from_b" -eq 3
check "the owner is the application (program python3*)" \
	grep -q '"event":"open".*"program":"python3' "$T/events.json"

# --- IPv6 ---------------------------------------------------------------------------
server wrap fork IPV6=1
two_clients "$IN6"
check "fork over IPv6: A got its data ($RA)" got "$RA"
check "fork over IPv6: B got its data ($RB)" got "$RB"
stop_server

# --- daemons that close or overwrite every descriptor keep their channel -------------
for how in CLOSEALL=1 CLOBBER=1; do
	server wrap fork "$how"
	two_clients "$IN4"
	check "$how: the agent's channel survived, A got its data ($RA)" got "$RA"
	stop_server
done

# --- one-shot: a TCP auxiliary listener's pinhole closes once it has accepted ----------
pinhole_present() {
	! pinhole_sets_empty
}
for mode in oneshot kept; do
	if [ $mode = oneshot ]; then
		server wrap fork DYPER_ONESHOT=1 HOLD_AUX=3
	else
		server wrap fork HOLD_AUX=3
	fi
	app "$NS_A" python3 "$APP" pasv "$IN4" $CTRL
	wait_line "$LAST" '^\(ok\|bad\|fail\)' 8000
	r=$(head -n1 "$LAST")
	# the server still holds its auxiliary listener for 3 s
	if [ $mode = oneshot ]; then
		check "one-shot: A got its data ($r)" got "$r"
		check "one-shot: the pinhole is gone while the listener is still held" \
			poll 1000 0.05 pinhole_sets_empty
	else
		check "without one-shot: A got its data ($r)" got "$r"
		check "without one-shot: the pinhole stays while the listener is held" pinhole_present
	fi
	stop_server
done

# --- the negative side ------------------------------------------------------------------
server plain fork
two_clients "$IN4"
check "without the wrapper the same server gets no pinhole: A fails ($RA)" failed_ "$RA"
stop_server
server byhand fork
two_clients "$IN4"
check "LD_PRELOAD set by hand, no channel: A fails ($RA)" failed_ "$RA"
stop_server
check "dyperd granted nothing to them (still 6+2+4+2 opens)" \
	test "$(grep -c '"event":"open"' "$T/events.json")" -eq 14

# --- the client model: active mode, the external server connects back ---------------
app "$NS_A" python3 "$APP" active-server 2020 8
srv=$LAST
if wait_line "$srv" ready 3000; then
	app "$NS_IN" "$WRAP" -s "$T/agent.sock" -p "$AGENT" python3 "$APP" active-client "$A4" 2020
	wait_line "$LAST" '^\(ok\|bad\|fail\)' 8000
	r=$(head -n1 "$LAST")
	check "active mode: A's server connected back through the client's pinhole ($r)" got "$r"
else
	not_ok "active-mode server on A did not start"
fi
app "$NS_A" python3 "$APP" active-server 2021 8
if wait_line "$LAST" ready 3000; then
	app "$NS_IN" python3 "$APP" active-client "$A4" 2021
	wait_line "$LAST" '^\(ok\|bad\|fail\)' 8000
	r=$(head -n1 "$LAST")
	check "active mode without the wrapper fails ($r)" failed_ "$r"
fi

# --- UDP: the answer comes from a new server port (TFTP) ------------------------------
app "$NS_A" python3 "$APP" udp-server 6969 8
if wait_line "$LAST" ready 3000; then
	app "$NS_IN" "$WRAP" -s "$T/agent.sock" -p "$AGENT" python3 "$APP" udp-client "$A4" 6969
	wait_line "$LAST" '^\(ok\|bad\|timeout\|fail\)' 6000
	r=$(head -n1 "$LAST")
	check "udp: the answer from a new port got through ($r)" test "$r" = ok
fi
app "$NS_A" python3 "$APP" udp-server 6970 8
if wait_line "$LAST" ready 3000; then
	app "$NS_IN" python3 "$APP" udp-client "$A4" 6970
	wait_line "$LAST" '^\(ok\|bad\|timeout\|fail\)' 6000
	r=$(head -n1 "$LAST")
	check "udp without the wrapper: dropped ($r)" test "$r" = timeout
fi
no_pinholes_left "after UDP"

# --- refusals: DYPER_ON_DENY -----------------------------------------------------------
printf 'deny * * * %s * * *\nallow * * * * * * 1024-65535\n' "$B4" >"$T/policy"
check "a policy denying B is loaded" ctl reload
server wrap fork DYPER_ON_DENY=warn
two_clients "$IN4"
check "warn: A still gets its data ($RA)" got "$RA"
check "warn: B, denied, gets nothing ($RB)" failed_ "$RB"
check "warn: the server's bind succeeded and the agent said why on stderr" \
	grep -q "no pinhole for fd .*DYPER_ON_DENY=warn" "$SERVER"
stop_server
server wrap fork
two_clients "$IN4"
check "error (default): B's auxiliary bind failed with EACCES in the server" \
	grep -q "Permission denied" "$SERVER"
check "error (default): A unaffected ($RA)" got "$RA"
stop_server
no_pinholes_left "at the end"

summary
