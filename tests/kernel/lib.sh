# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# lib.sh: what the kernel shell tests (and tests/e2e/apps.sh) share.
# SOURCED, never run: it is not executable, so tests/check.sh (which runs
# every executable tests/kernel/*.sh) leaves it alone.  A test starts with
#
#	set -u
#	. "$(dirname "$0")/lib.sh"
#	need_root
#	need_bins "$PROBE" ...
#	start_test		# cleanup traps, the temp dir $T
#	setup_network		# the namespaces below
#
# (or setup_border_network: a router between A, B and IN; router.sh)
# and ends with "summary", which prints "NAME: N passed, N failed" (NAME is
# the script's name without ".sh") and fails if anything failed.
#
#        A (dyt-PID-a) ----\
#        B (dyt-PID-b) -----+- br0 in dyt-PID-sw
#       IN (dyt-PID-in) ---/
#
# PID is the test's own, so that runs never share a namespace.  The cleanup
# on exit (success, failure, INT, TERM, HUP) kills only the processes the
# test started with "started" (and only while they still run one of its
# binaries or name a file in its temp dir), then whatever still runs inside
# the namespaces it created, deletes those namespaces and its temp dir.
# Nothing here touches the root namespace's firewall or interfaces.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/report.sh"
B=${B:-build}
case $B in
/*) BDIR=$B ;;
*) BDIR=$ROOT/$B ;;
esac
PROBE=$BDIR/tests/tools/probe
# Dyper's programs and agent, as built
DYPERD=$BDIR/bin/dyperd
DYPERCTL=$BDIR/bin/dyperctl
WRAP=$BDIR/bin/dyper-wrap
AGENT_SO=$BDIR/lib/libdyper-preload.so

# the network (setup_network); $$ makes the names this run's own
NS_IN=dyt-$$-in
NS_A=dyt-$$-a
NS_B=dyt-$$-b
NS_SW=dyt-$$-sw

IN4=192.0.2.1
A4=192.0.2.2
B4=192.0.2.3
IN6=2001:db8:1::1
A6=2001:db8:1::2
B6=2001:db8:1::3

PASS_MS=2000		# budget for a probe that must get through
DROP_MS=400		# how long a probe that must be dropped waits
SERVE_S=60		# probe servers exit by themselves after this, whatever happens

created_ns=()		# deleted by cleanup
pids=()			# everything started in the background, killed by cleanup
servers=()		# the output files of the probe servers (serve)
T=			# the temp dir (start_test)

# --- preconditions -------------------------------------------------------------

# need_root: exits 77 (skipped) unless root.
need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$TEST_NAME.sh: must run as root (it creates network namespaces); skipped" >&2
		exit 77
	fi
}

# need_bins BIN...: exits 2 unless every BIN is built.
need_bins() {
	local bin

	for bin in "$@"; do
		if [ ! -x "$bin" ]; then
			echo "$TEST_NAME.sh: $bin missing; build it: make B=$B test-bins" >&2
			exit 2
		fi
	done
}

# need_tools TOOL...: exits 2 unless every TOOL is on PATH.
need_tools() {
	local t missing=()

	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "$TEST_NAME.sh: missing: ${missing[*]}; install them: sudo make deps" >&2
	exit 2
}

# need_ids "user NAME"|"group NAME"...: exits 2 unless each exists.
need_ids() {
	local id db name

	for id in "$@"; do
		read -r db name <<<"$id"
		if ! getent "${db/user/passwd}" "$name" >/dev/null; then
			echo "$TEST_NAME.sh: $db $name missing" >&2
			exit 2
		fi
	done
}

# --- time and processes ------------------------------------------------------------

# started PID: remembers a background process for cleanup and disowns it,
# so that bash reports nothing when it exits or is killed (the script's
# last line stays its summary).
started() {
	pids+=("$1")
	disown "$1"
}

# True while PID runs (a zombie does not count: it holds no sockets).
is_alive() {
	local s

	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ -n "$s" ] && [ "${s%% *}" != Z ] && [ "${s%% *}" != X ]
}

# is_ours PID: PID runs, is a child of this script and runs one of our
# binaries or was given a file in our temp dir (a server's configuration):
# never a process that reused the number.
is_ours() {
	local s cmd

	is_alive "$1" || return 1
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }		# "STATE PPID ..."
	s=${s#* }
	[ "${s%% *}" = $$ ] || return 1
	# stderr first: a process that just ended has no cmdline to open
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	[[ $cmd == *"$BDIR/"* ]] || { [ -n "$T" ] && [[ $cmd == *"$T/"* ]]; }
}

# sig SIGNAL PID: signals PID only if it is still one of ours.
sig() {
	is_ours "$2" && kill "-$1" "$2" 2>/dev/null
}

# wait_exit PID MAX_MS: waits for PID to end and reaps it; 1 on timeout.
wait_exit() {
	local pid=$1 end=$(($(now_ms) + $2))

	while is_alive "$pid"; do
		[ "$(now_ms)" -ge $end ] && return 1
		sleep 0.01
	done
	return 0
}

# Waits at most 2 s until none of ours runs.
wait_none_ours() {
	local pid i alive

	for ((i = 0; i < 20; i++)); do
		alive=0
		for pid in "${pids[@]}"; do
			is_ours "$pid" && alive=1
		done
		[ $alive -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}

cleanup() {
	local pid ns left

	for pid in "${pids[@]}"; do
		sig TERM "$pid"
	done
	if ! wait_none_ours; then
		for pid in "${pids[@]}"; do
			sig KILL "$pid"
		done
		wait_none_ours
	fi
	# what they forked inside our namespaces (a server's sessions) is ours too
	for ns in "${created_ns[@]}"; do
		left=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one word per pid
		[ -n "$left" ] && kill -KILL $left 2>/dev/null
	done
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$T" ] && rm -rf "$T"
}

# start_test: installs the cleanup, then makes the temp dir $T.
start_test() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	T=$(mktemp -d "/tmp/dyper-$TEST_NAME.XXXXXX") || bail "mktemp"
}

# --- the network -------------------------------------------------------------------

# run CMD...: a setup command, its output kept in $T/cmd for bail.
run() {
	"$@" >"$T/cmd" 2>&1 || bail "network setup: $*"
}

# add_netns NS...: creates each namespace (cleanup deletes it), its lo up.
add_netns() {
	local ns

	for ns in "$@"; do
		run ip netns add "$ns"
		created_ns+=("$ns")
		# No duplicate address detection: addresses usable at once.
		run ip netns exec "$ns" sh -c '
			echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad &&
			echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad'
		run ip -n "$ns" link set lo up
	done
}

# bridge_host SW BR NAME NS ADDR4 ADDR6 [GW4 GW6]: NS's eth0 on the bridge BR
# in namespace SW (its port there p-NAME), with ADDR4/24 and ADDR6/64, and
# default routes via GW4 and GW6 if given.
bridge_host() {
	local sw=$1 br=$2 name=$3 ns=$4

	run ip -n "$sw" link add "p-$name" type veth peer name eth0 netns "$ns"
	run ip -n "$sw" link set "p-$name" master "$br" up
	run ip -n "$ns" addr add "$5/24" dev eth0
	run ip -n "$ns" addr add "$6/64" dev eth0 nodad
	run ip -n "$ns" link set eth0 up
	if [ $# -ge 8 ]; then
		run ip -n "$ns" route add default via "$7"
		run ip -n "$ns" -6 route add default via "$8"
	fi
}

# setup_network: the namespaces, the bridge and the hosts' addresses.
setup_network() {
	add_netns "$NS_IN" "$NS_A" "$NS_B" "$NS_SW"
	run ip -n "$NS_SW" link add br0 type bridge mcast_snooping 0
	run ip -n "$NS_SW" link set br0 up
	bridge_host "$NS_SW" br0 in "$NS_IN" "$IN4" "$IN6"
	bridge_host "$NS_SW" br0 a "$NS_A" "$A4" "$A6"
	bridge_host "$NS_SW" br0 b "$NS_B" "$B4" "$B6"
}

# setup_border_network R BR EXT4 EXT6 INT4 INT6: a border router, the
# namespace R, between the outside (its bridge BR, addresses EXT4/24 and
# EXT6/64, with A and B on it) and the inside (its veth int0, addresses
# INT4/24 and INT6/64, to IN's eth0); the hosts' addresses are $A4 $A6 $B4
# $B6 $IN4 $IN6, their default routes via R.  Forwarding is switched on in
# R only (these sysctls are per namespace).
setup_border_network() {
	local r=$1 br=$2 ext4=$3 ext6=$4 int4=$5 int6=$6

	add_netns "$NS_A" "$NS_B" "$r" "$NS_IN"
	run ip -n "$r" link add "$br" type bridge mcast_snooping 0
	run ip -n "$r" link set "$br" up
	run ip -n "$r" addr add "$ext4/24" dev "$br"
	run ip -n "$r" addr add "$ext6/64" dev "$br" nodad
	bridge_host "$r" "$br" a "$NS_A" "$A4" "$A6" "$ext4" "$ext6"
	bridge_host "$r" "$br" b "$NS_B" "$B4" "$B6" "$ext4" "$ext6"
	run ip -n "$r" link add int0 type veth peer name eth0 netns "$NS_IN"
	run ip -n "$r" addr add "$int4/24" dev int0
	run ip -n "$r" addr add "$int6/64" dev int0 nodad
	run ip -n "$r" link set int0 up
	run ip -n "$NS_IN" addr add "$IN4/24" dev eth0
	run ip -n "$NS_IN" addr add "$IN6/64" dev eth0 nodad
	run ip -n "$NS_IN" link set eth0 up
	run ip -n "$NS_IN" route add default via "$int4"
	run ip -n "$NS_IN" -6 route add default via "$int6"
	run ip netns exec "$r" sh -c '
		echo 1 > /proc/sys/net/ipv4/ip_forward &&
		echo 1 > /proc/sys/net/ipv6/conf/all/forwarding'
}

# --- probe servers on IN -----------------------------------------------------------

# serve_on NS PROTO ADDR PORT: an echo server in NS, in the background, for
# SERVE_S seconds at most.
serve_on() {
	local out="$T/serve-$1-$2-$3-$4"

	ip netns exec "$1" "$PROBE" serve "$2" "$3" "$4" "$SERVE_S" >"$out" 2>&1 </dev/null &
	started $!
	servers+=("$out")
}

# serve PROTO ADDR PORT: an echo server on IN.
serve() {
	serve_on "$NS_IN" "$@"
}

# Every server says "ready" once it listens.
servers_ready() {
	local out

	for out in "${servers[@]}"; do
		grep -qx ready "$out" 2>/dev/null || return 1
	done
}

# wait_servers MAX_MS: waits at most MAX_MS until every server listens; 1
# if one does not, the output of those that do not then added to $T/cmd
# (for bail).
wait_servers() {
	local out

	poll "$1" 0.05 servers_ready && return 0
	for out in "${servers[@]}"; do
		grep -qx ready "$out" 2>/dev/null || cat "$out" >>"$T/cmd"
	done
	return 1
}

# --- probes ------------------------------------------------------------------------

# Every probe gets a source port of its own unless it names one: a new
# connection each time, never an old conntrack entry (UDP "flows" above all).
next_sport=41000

# probe NS PROTO DST PORT TIMEOUT_MS [SPORT]: the probe's exit status.
probe() {
	local sport=${6:-}

	if [ -z "$sport" ]; then
		sport=$next_sport
		next_sport=$((next_sport + 1))
	fi
	ip netns exec "$1" "$PROBE" try "$2" "$3" "$4" "$5" --sport "$sport" >"$T/probe" 2>&1
}

# expect_probe pass|drop DESC NS PROTO DST PORT [SPORT]: ok if the probe
# gets through (pass, within PASS_MS) or times out (drop, after DROP_MS).
expect_probe() {
	local desc=$2 want=0 ms=$PASS_MS rc

	[ "$1" = drop ] && want=1 ms=$DROP_MS
	shift 2
	probe "$1" "$2" "$3" "$4" "$ms" "${5:-}"
	rc=$?
	if [ $rc -eq $want ]; then
		ok "$desc"
	elif [ $rc -eq 0 ]; then
		not_ok "$desc (it got through)"
	else
		not_ok "$desc (probe exit $rc)"
		diag "$T/probe"
	fi
}

# expect_pass DESC NS PROTO DST PORT [SPORT]
expect_pass() {
	expect_probe pass "$@"
}

# expect_drop DESC NS PROTO DST PORT [SPORT]
expect_drop() {
	expect_probe drop "$@"
}
