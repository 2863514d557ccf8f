#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The agent (preload/) and the wrapper (wrap/) with dyperd, in namespaces:
# an FTP-shaped application (agent_app.py) served from IN through
# dyper-wrap, in each concurrency model of the paper (fork, threads, one
# select loop), to A and B at the same time; the client model (active
# mode: the external server connects back); a UDP client whose answer
# comes from a new server port; a SIP-like client whose media port is bound
# before the call; IPv6.  A server's lookups to other hosts (resolver,
# directory) must not open its control port to them, and a refused bind
# must leave the socket unbound and its port free.  Both clients' data connections only
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
udp_ports = $CTRL
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

# pair HOW SERVER-ARGS -- CLIENT-ARGS: agent_app.py with SERVER-ARGS on A,
# then with CLIENT-ARGS on IN once A is ready, through the wrapper (HOW
# wrap) or not (plain); R: the client's first line ("none": A did not start).
pair() {
	local how=$1 srv=() pfx=()

	shift
	while [ "$1" != -- ]; do
		srv+=("$1")
		shift
	done
	shift
	R=none
	app "$NS_A" python3 "$APP" "${srv[@]}"
	wait_line "$LAST" ready 3000 || return 0
	[ "$how" = wrap ] && pfx=("$WRAP" -s "$T/agent.sock" -p "$AGENT")
	app "$NS_IN" "${pfx[@]}" python3 "$APP" "$@"
	wait_line "$LAST" '^\(ok\|bad\|timeout\|fail\)' 8000
	R=$(head -n1 "$LAST")
}

# iperf's dual test, listener first: a listener bound before the first
# connection, on the port it connects to, is the peer's
pair wrap active-server 2022 8 -- dual-client "$A4" 2022
check "dual test: the listener bound before the connection is adopted for A ($R)" got "$R"

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

# --- ports bound before the peer is known: SIP-like --------------------------------------
# the client binds its signalling and media ports, then calls from the
# signalling port; the media comes from another port of the peer
el0=$(wc -l <"$T/events.json")
pair wrap p2p-server 5060 8 -- p2p-client "$A4" 5060
check "p2p: the media port bound before the call gets the peer's media ($R)" test "$R" = ok
opens=$(tail -n "+$((el0 + 1))" "$T/events.json" | grep '"event":"open"')
check "p2p: pinholes for A only, the media port's among them ($(grep -c . <<<"$opens") opens)" \
	test "$(grep -c . <<<"$opens")" -ge 2 -a "$(grep -vc "\"remote\":\"$A4\"" <<<"$opens")" -eq 0
pair plain p2p-server 5061 8 -- p2p-client "$A4" 5061
check "p2p without the wrapper: the media is dropped ($R)" test "$R" = timeout
no_pinholes_left "after p2p"

# --- incidental peers: a server's lookups open nothing to its control port --------------
# Before its first client, the server asks B (an echo on 5353) the ways a
# resolver and a directory client do; its TCP or UDP control port must get
# no pinhole for B, and A must then be served through A's own pinhole.
for proto in tcp udp; do
	ip netns exec "$NS_B" "$PROBE" serve "$proto" "$B4" 5353 20 >"$T/echo-$proto" 2>&1 </dev/null &
	started $!
done
poll 3000 0.05 grep -qx ready "$T/echo-tcp" && poll 3000 0.05 grep -qx ready "$T/echo-udp" ||
	not_ok "the echo servers on B did not start"
for proto in tcp udp; do
	el0=$(wc -l <"$T/events.json")
	app "$NS_IN" "$WRAP" -s "$T/agent.sock" -p "$AGENT" python3 "$APP" lookup-server "$proto" \
		$CTRL "$B4" 5353 8
	SERVER=$LAST
	SERVER_PID=${app_pids[-1]}
	wait_line "$SERVER" ready 8000 || diag "$SERVER"
	check "$proto control port: the server's 4 lookups to B were answered" grep -qx 'looked-up 4' "$SERVER"
	if [ "$proto" = tcp ]; then
		app "$NS_A" python3 "$APP" pasv "$IN4" $CTRL
	else
		app "$NS_A" python3 "$APP" udp-pasv "$IN4" $CTRL
	fi
	wait_line "$LAST" '^\(ok\|bad\|fail\)' 8000
	r=$(head -n1 "$LAST")
	check "$proto control port: A is then served through its own pinhole ($r)" got "$r"
	opens=$(tail -n "+$((el0 + 1))" "$T/events.json" | grep '"event":"open"')
	check "$proto control port: no pinhole for B to the control port $CTRL" \
		test "$(grep "\"remote\":\"$B4\"" <<<"$opens" | grep -c "\"local_port\":$CTRL[,}]")" -eq 0
	check "$proto control port: B got at most one pinhole, to a lookup's own socket" \
		test "$(grep -c "\"remote\":\"$B4\"" <<<"$opens")" -le 1
	stop_server
done
# The safety net: a server that contacts B on the very port it serves (an
# LDAP replica, a mail relay) has its listener adopted for B; the first
# client from another host (A, through the open control port) shows it is a
# server's port: B's pinhole goes, and A is served through A's own.
for proto in tcp udp; do
	ip netns exec "$NS_B" "$PROBE" serve $proto "$B4" $CTRL 20 >"$T/echo-ctrl-$proto" 2>&1 </dev/null &
	started $!
	poll 3000 0.05 grep -qx ready "$T/echo-ctrl-$proto" || not_ok "the echo server on B did not start"
done
app "$NS_IN" "$WRAP" -s "$T/agent.sock" -p "$AGENT" python3 "$APP" lookup-server tcp $CTRL "$B4" $CTRL 8
SERVER=$LAST
SERVER_PID=${app_pids[-1]}
wait_line "$SERVER" ready 8000 || diag "$SERVER"
b_to_ctrl() {
	ctl list | awk -v r="$B4:*" -v l="$IN4:$CTRL" '$3 == r && $4 == l' | grep -q .
}
check "same-port lookup: the listener was adopted for B" b_to_ctrl
app "$NS_A" python3 "$APP" pasv "$IN4" $CTRL
wait_line "$LAST" '^\(ok\|bad\|fail\)' 8000
r=$(head -n1 "$LAST")
check "same-port lookup: A is served through its own pinhole ($r)" got "$r"
no_b_to_ctrl() {
	! b_to_ctrl && is_alive "$SERVER_PID"
}
check "same-port lookup: B's pinhole to the control port is gone, the server still runs" \
	poll 1000 0.05 no_b_to_ctrl
stop_server
no_pinholes_left "after the lookups"

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

# --- a refused bind leaves the socket unbound and the port free ---------------------------
printf 'deny * * * * * * 40001\nallow * * * * * * 1024-65535\n' >"$T/policy"
check "a policy denying local port 40001 is loaded" ctl reload
ip netns exec "$NS_A" "$PROBE" serve tcp "$A4" 4000 20 >"$T/ctl-a" 2>&1 </dev/null &
started $!
poll 3000 0.05 grep -qx ready "$T/ctl-a" || not_ok "the control server on A did not start"
port_free() {	# PROTO PORT: an unwrapped program can bind it
	ip netns exec "$NS_IN" python3 -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1] == "tcp"
              else socket.SOCK_DGRAM).bind(("", int(sys.argv[2])))' "$1" "$2"
}
pinhole_for() {	# PROTO PORT: dyperctl lists A's pinhole to IN's PORT
	ctl list | awk -v p="$1" -v r="$A4:*" -v l="$IN4:$2" '$2 == p && $3 == r && $4 == l' | grep -q .
}
for proto in tcp udp; do
	app "$NS_IN" "$WRAP" -s "$T/agent.sock" -p "$AGENT" python3 "$APP" rebind "$A4" 4000 \
		40001 40002 "$proto" 3
	wait_line "$LAST" '^\(ok\|bad\|fail\)' 8000
	r=$(head -n1 "$LAST")
	check "$proto: bind to 40001 refused (EACCES), the same socket, options kept, then binds 40002 ($r)" \
		test "$r" = "ok 40002"
	check "$proto: port 40001 is free meanwhile: another program binds it" port_free "$proto" 40001
	check "$proto: 40002 has its pinhole for A" poll 1000 0.05 pinhole_for "$proto" 40002
	wait_exit "${app_pids[-1]}" 5000
done
no_pinholes_left "at the end"

summary
