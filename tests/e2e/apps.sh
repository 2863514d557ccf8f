#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# apps.sh: Dyper end to end with real Debian applications.  A least-privilege
# internal host IN (dyperd's table: established/related, control ports 21 and
# 2811/tcp, nothing else) behind a router RT, two external hosts A and B:
#
#   IN (dye-PID-in) ---- RT (dye-PID-rt) ---br0--+-- A (dye-PID-a)
#   203.0.113.2/24       203.0.113.1/24          |   198.51.100.10/24
#   2001:db8:113::2/64   2001:db8:113::1/64      +-- B (dye-PID-b)
#                        198.51.100.1/24             198.51.100.20/24
#                        2001:db8:100::1/64          A 2001:db8:100::10/64
#                                                    B 2001:db8:100::20/64
#
# Cases; each moves a 20 MB random file made at test time, checked by sha256:
#   1 vsftpd on IN, passive: lftp and curl from A, IPv4 and IPv6, FTP and FTPS
#   2 lftp on IN in active mode against vsftpd on A, IPv4 and IPv6, FTP and FTPS
#   3 tftp-hpa client on IN fetching from tftpd-hpa on A (the reply comes from
#     a new server port), IPv4 and IPv6
#   4 iperf (v2) dual test (-d), client on IN, server on A: both directions
#     must carry data (two nonzero bandwidth lines).  iperf 2.1.8 starts its
#     listener and its client thread at once; when the client wins, A may
#     connect back before the listener exists (refused, with no firewall at
#     all): only that failure is tried again, at most 3 times
#   5 pyftpdlib on IN, its async, threaded and multiprocess servers, each
#     serving A (lftp) and B (curl) at once, passive
#   6 GridFTP: globus-gridftp-server on IN (anonymous, ftp://), globus-url-copy
#     on A uploading with -p 4 (mode E: the sender opens the data
#     connections); the server as a daemon (it forks and re-executes itself
#     for each connection) and with -no-fork
#   7 vsftpd with seccomp_sandbox=YES on IN (through dyper-wrap only),
#     anonymous and as a local user the test creates: its privileged broker
#     binds the passive port under its own seccomp filter
#   8 pure-ftpd on IN (privilege separation, a puredb virtual user chrooted
#     to the files), passive: curl from A and lftp from B at once
#   9 active-mode clients on IN against vsftpd on A: Python's ftplib and wget
#  10 one vsftpd on IN (through dyper-wrap only) serving 24 passive downloads
#     at once, half from A, half from B: each pinhole for the host whose
#     session asked for that port, at least 20 open at the same time
#   sip SIPp (sip-tester) on IN calls a SIPp answering on A, over UDP: the
#     caller binds its signalling and media ports at start, before it knows
#     its peer, and only answers RTP (-rtp_echo); A plays a pcap of RTP
#     into the caller's media port.  The echoes A receives (counted in A's
#     own table) prove that the RTP got in; the media pinhole must be A's, B's datagrams to
#     the media port are dropped during the call, and nothing stays open
#     after it.  This case moves no file.
#
# Every case runs in up to three ways:
#   no wrapper        the plain table: the auxiliary connection into IN is
#                     dropped, so the transfer must NOT complete within
#                     E2E_TIMEOUT seconds (default 10).  "For the right
#                     reason": the control conversation got through (login,
#                     PASV/PORT, the request) and the table's final drop rule
#                     counted packets meanwhile.  No pinhole may appear.
#   dyper-wrap        the same programs started through dyper-wrap with the
#                     agent: the transfer must complete, and every pinhole
#                     must be gone afterwards (dyperctl list and nft).
#   LD_PRELOAD        the agent preloaded by hand, without the wrapper's
#                     channel: nothing may open (cases 1 and 2).
# plus, through dyper-wrap, an intruder check: while vsftpd holds a passive
# port for A (a scripted ftplib client on A stops after PASV), B's
# connection to it is dropped by the table; then A downloads through it.
# The dyper-wrap and LD_PRELOAD runs are skipped ("skip - ...") until
# $B/bin/dyper-wrap and $B/lib/libdyper-preload.so exist (E2E_WRAP and
# E2E_AGENT name other paths).  How the wrapper is called is one function,
# wrapped_prefix, below.
#
# E2E_OPEN_ALL=1 is the "ports statically open" baseline (the paper's
# comparison, used by the benchmark): dyperd runs with owner = no and
# tamper_check_interval = 1h, and the test inserts
#   tcp dport 1024-65535 accept; udp dport 1024-65535 accept
# after the control-port rule.  Then the no-wrapper transfers must PASS:
# that proves that what makes them fail otherwise is the table alone.
# The wrapper runs are skipped in that mode.
#
# E2E_BENCH=1 runs no case but the benchmark (the paper's Table 1, called by
# `make bench`): the extra milliseconds of a 100 MB passive FTP download
# through Dyper compared with the same download with the ports statically
# open.  E2E_BENCH_N rounds (default 15, at least 7 for the report to count);
# each round downloads the file once per way, by curl from A over IPv4, the
# order of the two alternating from round to round:
#   open   the E2E_OPEN_ALL=1 baseline: dyperd with owner = no, the accept
#          rule for 1024-65535 inserted, vsftpd started without the wrapper
#   dyper  dyperd with the default configuration (the least-privilege table,
#          no static rule), vsftpd started through dyper-wrap
# dyperd (and vsftpd) are restarted whenever the way changes; everything
# else is the same.  The time is curl's own time_total; every download is
# checked by sha256.  It reports each way's median, the difference of the
# medians and the median of the per-round differences (ms), then
# "bench: PASS" or "bench: FAIL" against the target (E2E_BENCH_TARGET_MS,
# default 1 ms, for the difference of the medians).  Only an error (a
# failed or corrupt download, dyperd not starting) makes it exit nonzero.
#
# E2E_CASES="1 3" runs only those cases (default: all, 1 to 10 and sip);
# E2E_STRESS_N sets case 10's number of downloads (24); E2E_KEEP=1 keeps the temp directory
# (configurations, every program's log) for a look afterwards.
#
# Needs root.  Touches nothing outside its own namespaces (dye-PID-*), their
# /etc/netns/dye-PID-* hosts files (GridFTP resolves its own host name), one
# local user dyePID (case 7, removed at the end) and one mktemp -d directory; kills only processes it started or that run in its
# own namespaces.  Never touches the root namespace's firewall or interfaces.
# Services that apt may have started in the root namespace are left alone:
# every server here is started by this script, inside a namespace.
# Output: "ok - ..." / "not ok - ..." / "skip - ..." per check, then
# "e2e: N passed, N failed"; exit 0 only if nothing failed (77 when not
# root: skipped).

set -u

TEST_NAME=e2e
# report.sh, $ROOT, $BDIR, $DYPERD, $DYPERCTL, $PROBE, the network
# (setup_border_network); what this script defines again (run, cleanup,
# serve, need_tools, the names and addresses) replaces lib.sh's
# shellcheck source-path=SCRIPTDIR source=../kernel/lib.sh
. "$(dirname "$0")/../kernel/lib.sh"
# vsftpd_conf, PASV_CLIENT
. "$ROOT/tests/kernel/ftp.sh"
WRAP=${E2E_WRAP:-$BDIR/bin/dyper-wrap}
AGENT=${E2E_AGENT:-$BDIR/lib/libdyper-preload.so}
OPEN_ALL=${E2E_OPEN_ALL:-0}
NEG_S=${E2E_TIMEOUT:-10}	# a transfer that must fail gets this long
PASS_S=30			# a transfer that must pass gets at most this long
CASES=${E2E_CASES:-1 2 3 4 5 6 7 8 9 10 sip}
BENCH=${E2E_BENCH:-0}
BENCH_N=${E2E_BENCH_N:-15}
BENCH_TARGET_MS=${E2E_BENCH_TARGET_MS:-1}
FILE_MB=20			# the size of the file every case moves
[ "$BENCH" = 1 ] && FILE_MB=100
PY=/usr/bin/python3		# Debian's python: python3-pyftpdlib is installed for it

if [ "$BENCH" = 1 ] && [ "$OPEN_ALL" = 1 ]; then
	echo "apps.sh: E2E_BENCH=1 runs the E2E_OPEN_ALL=1 baseline itself: unset E2E_OPEN_ALL" >&2
	exit 2
fi
if [ "$BENCH" = 1 ] && ! [[ $BENCH_N =~ ^[1-9][0-9]*$ ]]; then
	echo "apps.sh: E2E_BENCH_N=$BENCH_N: a positive number of rounds expected" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "apps.sh: must run as root (it creates network namespaces); skipped" >&2
	exit 77
fi
for bin in "$DYPERD" "$DYPERCTL" "$PROBE"; do
	if [ ! -x "$bin" ]; then
		echo "apps.sh: $bin missing; build it: make && make test-bins" >&2
		exit 2
	fi
done
for tool in ip nft ss setsid timeout sha256sum pgrep; do
	if ! command -v "$tool" >/dev/null; then
		echo "apps.sh: $tool missing (apt-get install iproute2 nftables coreutils util-linux procps)" >&2
		exit 2
	fi
done
if ! getent passwd nobody >/dev/null || ! getent group daemon >/dev/null; then
	echo "apps.sh: user nobody or group daemon missing" >&2
	exit 2
fi

P=dye-$$
NS_IN=$P-in
NS_RT=$P-rt
NS_A=$P-a
NS_B=$P-b

IN4=203.0.113.2
IN6=2001:db8:113::2
RT4_IN=203.0.113.1
RT6_IN=2001:db8:113::1
RT4_EX=198.51.100.1
RT6_EX=2001:db8:100::1
A4=198.51.100.10
A6=2001:db8:100::10
B4=198.51.100.20
B6=2001:db8:100::20

created_ns=()
created_etc=()		# /etc/netns/NAME directories this run made
made_etc_netns=0	# 1 if this run made /etc/netns itself
made_user=		# the local user case 7 created (removed by cleanup)
groups_started=()	# process groups (setsid) of everything started in the background
T=
BOUT=			# E2E_BENCH=1: where curl writes, a mktemp -d in /dev/shm

# group_alive PGID: some process is still in that process group.
group_alive() {
	pgrep -g "$1" >/dev/null 2>&1
}

# kill_group SIGNAL PGID: signals a process group of ours while it exists
# (a group id is not reused while a member lives).
kill_group() {
	group_alive "$2" && kill "-$1" -- "-$2" 2>/dev/null
}

# stop_groups PGID...: TERM, again after 1 s (iperf -s wants a second one),
# then KILL after 3 s.
stop_groups() {
	local g i alive

	for ((i = 0; i < 30; i++)); do
		alive=0
		for g in "$@"; do
			if group_alive "$g"; then
				alive=1
				[ $i = 0 ] || [ $i = 10 ] && kill_group TERM "$g"
			fi
		done
		[ $alive -eq 0 ] && return 0
		sleep 0.1
	done
	for g in "$@"; do
		kill_group KILL "$g"
	done
	sleep 0.1
}

# ns_kill NS SIGNAL: signals every process inside a namespace of ours.
ns_kill() {
	local pids

	pids=$(ip netns pids "$1" 2>/dev/null) || return 0
	# shellcheck disable=SC2086 # one word per pid
	[ -n "$pids" ] && kill "-$2" $pids 2>/dev/null
	return 0
}

cleanup() {
	local ns d i left

	trap - EXIT INT TERM HUP
	[ ${#groups_started[@]} -gt 0 ] && stop_groups "${groups_started[@]}"
	# whatever still runs inside our namespaces (forked sessions, ...) is ours
	for ns in "${created_ns[@]}"; do
		ns_kill "$ns" TERM
	done
	for ((i = 0; i < 20; i++)); do
		left=0
		for ns in "${created_ns[@]}"; do
			[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && left=1
		done
		[ $left -eq 0 ] && break
		sleep 0.1
	done
	for ns in "${created_ns[@]}"; do
		ns_kill "$ns" KILL
	done
	for ns in "${created_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for d in "${created_etc[@]}"; do
		rm -f "$d/hosts"
		rmdir "$d" 2>/dev/null
	done
	[ $made_etc_netns = 1 ] && rmdir /etc/netns 2>/dev/null
	[ -n "$BOUT" ] && rm -rf "$BOUT"
	[ -n "$made_user" ] && userdel "$made_user" 2>/dev/null
	if [ -n "$T" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then
			echo "# E2E_KEEP=1: logs kept in $T" >&2
		else
			rm -rf "$T"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

want_case() {
	[[ " $CASES " == *" $1 "* ]]
}

T=$(mktemp -d /tmp/dyper-e2e.XXXXXX) || bail "mktemp"
chmod 755 "$T"		# servers that drop to ftp/tftp/nobody read from here
LOGD=$T/log
PUB=$T/pub		# what the servers offer: f.bin
OUT=$T/out		# what the clients write
UP=$T/up		# GridFTP uploads (written as nobody)
EMPTY=$T/empty		# vsftpd's secure_chroot_dir
mkdir -p "$LOGD" "$PUB" "$OUT" "$UP" "$EMPTY" || bail "mkdir in $T"
chmod 755 "$PUB" "$EMPTY"
chmod 1777 "$OUT" "$UP"

# --- the network ------------------------------------------------------------------

HOSTNAME_=$(uname -n)

# hosts_file NS OWN-ADDRESS: the namespace's /etc/hosts (ip netns exec
# bind-mounts /etc/netns/NS/hosts over /etc/hosts): this machine's host name
# is the namespace's own address, as GridFTP resolves its own name.
hosts_file() {
	local d=/etc/netns/$1

	if [ ! -d /etc/netns ]; then
		mkdir /etc/netns || bail "mkdir /etc/netns"
		made_etc_netns=1
	fi
	[ -e "$d" ] && bail "$d exists already"
	mkdir "$d" || bail "mkdir $d"
	created_etc+=("$d")
	{
		echo "# $1: made by Dyper's tests/e2e/apps.sh, removed when it ends"
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		echo "$2 $HOSTNAME_"
		echo "$IN4 in.e2e.test"
		echo "$IN6 in.e2e.test"
		echo "$A4 a.e2e.test"
		echo "$A6 a.e2e.test"
		echo "$B4 b.e2e.test"
		echo "$B6 b.e2e.test"
	} >"$d/hosts"
}

hosts_file "$NS_IN" "$IN4"
hosts_file "$NS_RT" "$RT4_IN"
hosts_file "$NS_A" "$A4"
hosts_file "$NS_B" "$B4"
# internal segment: IN eth0 <-> RT int0; external segment: RT br0 with A and B
setup_border_network "$NS_RT" br0 "$RT4_EX" "$RT6_EX" "$RT4_IN" "$RT6_IN"

# --- dyperd and its table on IN ------------------------------------------------------

CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
EVENTS=$T/events.json
DLOG=$LOGD/dyperd.log

# write_conf FILE OPEN-ALL: dyperd's configuration; OPEN-ALL 1: the baseline's.
write_conf() {
	{
		echo "# apps.sh: IN's least-privilege table, control ports 21 and 2811 only"
		echo "[daemon]"
		echo "user = nobody"
		echo "group = ${E2E_GROUP:-daemon}"
		echo "agent_socket = $ASOCK"
		echo "control_socket = $CSOCK"
		echo "policy = $POL"
		echo "event_log = $EVENTS"
		echo "[enforcer]"
		echo "tcp_ports = 21, 2811"
		if [ "$2" = 1 ]; then
			# the baseline's extra rule is a foreign change: keep it
			echo "owner = no"
			echo "tamper_check_interval = 1h"
		fi
	} >"$1"
	chmod 644 "$1"
}
write_conf "$CONF" "$OPEN_ALL"
{
	echo "# apps.sh: pinholes for the external segment to unprivileged ports"
	echo "allow * * * 198.51.100.0/24 * * 1024-65535"
	echo "allow * * * 2001:db8:100::/64 * * 1024-65535"
} >"$POL"
chmod 644 "$CONF" "$POL"
touch "$EVENTS"
chmod 666 "$EVENTS"

ctl() {
	"$DYPERCTL" -s "$CSOCK" "$@"
}

ctl_quiet() {
	ctl "$@" >/dev/null 2>&1
}

# bg_start LOG NS CMD...: CMD inside NS in the background, in a process group
# of its own (setsid does not fork here: $! is the group), output in LOG.
BGPID=
bg_start() {
	local log=$1 ns=$2

	shift 2
	setsid ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
	BGPID=$!
	groups_started+=("$BGPID")
	disown "$BGPID"		# not waited for: bash reports nothing when it is killed
}

bg_start "$DLOG" "$NS_IN" "$DYPERD" -c "$CONF" -f
DPID=$BGPID
poll 5000 0.05 ctl_quiet stats || bail "dyperd did not start in $NS_IN (see $DLOG)"
ok "dyperd runs in $NS_IN: table inet dyper, control ports 21 and 2811/tcp"

nft_in() {
	ip netns exec "$NS_IN" nft "$@"
}

open_all_rules() {
	nft_in list chain inet dyper input 2>/dev/null | grep -c 'dport 1024-65535 accept'
}

# Packets the table's final drop rule has counted so far.
drops() {
	nft_in list chain inet dyper input 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\) bytes [0-9]* drop$/\1/p'
}

# Events of one kind ("open") dyperd has logged so far.
events() {
	grep -c "\"event\":\"$1\"" "$EVENTS" 2>/dev/null
}

# no_pinholes: dyperctl list shows none and no pinhole set has an element.
no_pinholes() {
	local s

	ctl list 2>/dev/null | grep -qx '0 pinholes' || return 1
	for s in pinholes4 pinholes4_any pinholes6 pinholes6_any; do
		nft_in list set inet dyper "$s" 2>/dev/null | grep -q 'elements = ' && return 1
	done
	return 0
}

pinhole_state() {
	ctl list 2>&1
	nft_in list set inet dyper pinholes4_any 2>&1 | grep -A3 elements
	nft_in list set inet dyper pinholes6_any 2>&1 | grep -A3 elements
}

# expect_a_pinhole WHAT PORT: dyperd lists a pinhole for A to IN4:PORT.
expect_a_pinhole() {
	local line

	line=$(ctl list 2>/dev/null | awk -v l="$IN4:$2" '$4 == l')
	if [[ $line == *" $A4:"* ]]; then
		ok "$1: the passive port $2 has a pinhole for A: $(tr -s ' ' <<<"$line")"
	else
		not_ok "$1: no pinhole A -> $IN4:$2 (\"$line\")"
		diag_s "$(pinhole_state)"
	fi
}

# expect_b_dropped WHAT PROTO PORT SUBJECT: B's PROTO probe to IN4:PORT
# (SUBJECT says what it is) times out and the table's drop counter grows.
expect_b_dropped() {
	local d0 d1 rc

	d0=$(drops)
	ip netns exec "$NS_B" "$PROBE" try "$2" "$IN4" "$3" 1000 >"$T/probe" 2>&1
	rc=$?
	d1=$(drops)
	if [ $rc -eq 1 ] && [ "$d1" -gt "$d0" ]; then
		ok "$1: $4: dropped by the table ($((d1 - d0)) packets)"
	else
		not_ok "$1: $4: must be dropped (probe exit $rc, drops $d0 -> $d1)"
		diag "$T/probe"
	fi
}

# open_all_insert: the E2E_OPEN_ALL rules, after the control-port rule of a
# dyperd that runs with the baseline's configuration (owner = no).
open_all_insert() {
	local h

	# dyperd's first tamper check runs at its first tick (100 ms): after
	# that, the next one is an hour away
	sleep 0.5
	h=$(nft_in -a list chain inet dyper input 2>"$T/cmd" |
		sed -n 's/.*tcp dport @control_tcp accept # handle \([0-9]*\)$/\1/p')
	[ -n "$h" ] || bail "E2E_OPEN_ALL: no control-port rule in chain input"
	run nft_in add rule inet dyper input position "$h" udp dport 1024-65535 accept
	run nft_in add rule inet dyper input position "$h" tcp dport 1024-65535 accept
	sleep 0.5
	[ "$(open_all_rules)" = 2 ] || bail "E2E_OPEN_ALL: dyperd removed the rules (see $DLOG)"
}

if [ "$OPEN_ALL" = 1 ]; then
	open_all_insert
	ok "E2E_OPEN_ALL=1: ports 1024-65535 statically open (tcp and udp) in IN's table"
fi

# --- the file -------------------------------------------------------------------------

head -c "${FILE_MB}M" /dev/urandom >"$PUB/f.bin" || bail "making the $FILE_MB MB file"
chmod 644 "$PUB/f.bin"
SUM=$(sha256sum <"$PUB/f.bin" | cut -d' ' -f1)

# sum_of FILE: its sha256, or "none".
sum_of() {
	if [ -f "$1" ]; then
		sha256sum <"$1" | cut -d' ' -f1
	else
		echo none
	fi
}

# --- modes -------------------------------------------------------------------------

# plain    no wrapper: must fail (must pass with E2E_OPEN_ALL=1)
# dyper    through dyper-wrap with the agent: must pass
# preload  LD_PRELOAD of the agent by hand, no wrapper: must fail
MODE=plain
PFX=()			# what goes before a program on IN in this mode

mode_label() {
	case $1 in
	plain) [ "$OPEN_ALL" = 1 ] && echo "ports statically open" || echo "no wrapper" ;;
	dyper) echo "dyper-wrap" ;;
	preload) echo "LD_PRELOAD by hand" ;;
	esac
}

# expect: "pass" or "fail" in this mode.
expect() {
	case $MODE in
	plain) [ "$OPEN_ALL" = 1 ] && echo pass || echo fail ;;
	dyper) echo pass ;;
	preload) echo fail ;;
	esac
}

# THE PLUG-IN POINT: the command prefix that runs a program on IN through
# dyper-wrap.  dyper-wrap opens the channel to dyperd (our agent socket
# $ASOCK), preloads the agent, drops privilege and execs the program.  Adjust
# here when wrap/ settles its interface.
wrapped_prefix() {
	PFX=("$WRAP" -s "$ASOCK" -p "$AGENT")
}

# use_mode MODE WHAT: sets MODE and PFX; 1 (with a "skip" line) when MODE
# cannot run here.
use_mode() {
	local why=

	case $1 in
	dyper | preload)
		if [ "$OPEN_ALL" = 1 ]; then
			why="E2E_OPEN_ALL=1 measures the static baseline only"
		elif [ "$1" = dyper ] && [ ! -x "$WRAP" ]; then
			why="$WRAP not built yet"
		fi
		if [ -z "$why" ] && [ ! -f "$AGENT" ]; then
			why="$AGENT not built yet"
		fi
		;;
	esac
	if [ -n "$why" ]; then
		skip "$2, $(mode_label "$1"): $why"
		return 1
	fi
	MODE=$1
	case $1 in
	plain) PFX=() ;;
	dyper) wrapped_prefix ;;
	preload) PFX=(env "LD_PRELOAD=$AGENT") ;;
	esac
	return 0
}

budget() {
	[ "$(expect)" = pass ] && echo "$PASS_S" || echo "$NEG_S"
}

# --- running things ------------------------------------------------------------------

SERVERS=()		# process groups of the current case's servers

# serve NAME NS CMD...: a server for this case; its log is $LOGD/NAME.log.
serve() {
	local name=$1 ns=$2

	shift 2
	bg_start "$LOGD/$name.log" "$ns" "$@"
	SERVERS+=("$BGPID")
}

stop_servers() {
	[ ${#SERVERS[@]} -gt 0 ] && stop_groups "${SERVERS[@]}"
	SERVERS=()
}

# listening NS tcp|udp ADDR PORT: something listens there.
listening() {
	local opt=-Htln a=$3

	[ "$2" = udp ] && opt=-Huln
	[[ $a == *:* ]] && a="[$a]"
	ss -N "$1" $opt 2>/dev/null | awk '{print $4}' | grep -qxF "$a:$4"
}

# wait_listen DESC NS PROTO ADDR PORT [LOG]: 1 (not ok) if nothing listens within 5 s.
wait_listen() {
	if poll 5000 0.05 listening "$2" "$3" "$4" "$5"; then
		return 0
	fi
	not_ok "$1: no server listens on $4 port $5 ($3) within 5 s"
	[ -n "${6:-}" ] && diag "$6"
	return 1
}

declare -A XPID XRC
XNAMES=()

# xfer NAME NS BUDGET CMD...: a client in the background, bounded by BUDGET
# seconds; output in $LOGD/NAME.log.
xfer() {
	local name=$1 ns=$2 budget=$3

	shift 3
	rm -f "$OUT/$name"
	setsid timeout -k 2 "$budget" ip netns exec "$ns" "$@" >"$LOGD/$name.log" 2>&1 </dev/null &
	XPID[$name]=$!
	groups_started+=("$!")
	XNAMES+=("$name")
}

# xwait: waits for every client started with xfer; XRC[NAME] is its status.
xwait() {
	local n

	for n in "${XNAMES[@]}"; do
		wait "${XPID[$n]}"
		XRC[$n]=$?
	done
	XNAMES=()
}

# judge DESC NAME FILE REASON-ERE [REASON-FILE]: one check of a transfer
# against this mode's expectation.  A failure counts only "for the right
# reason": REASON-ERE found in the client's log (or in REASON-FILE), showing
# that the control conversation got through.  An empty REASON-ERE: the
# client says nothing useful (tftp); group_end's drop count tells.
judge() {
	local desc=$1 name=$2 file=$3 reason=$4 rfile=${5:-$LOGD/$2.log} got rc

	got=$(sum_of "$file")
	rc=${XRC[$name]:-?}
	if [ "$(expect)" = pass ]; then
		if [ "$got" = "$SUM" ]; then
			ok "$desc: transfer completes, sha256 matches"
		else
			not_ok "$desc: transfer must complete with a matching sha256 (exit $rc, got $got)"
			diag "$LOGD/$name.log"
		fi
	elif [ "$got" = "$SUM" ]; then
		not_ok "$desc: transfer must not complete, but it did"
	elif [ -z "$reason" ]; then
		ok "$desc: transfer does not complete within ${NEG_S} s (exit $rc)"
	elif ! grep -Eq -- "$reason" "$rfile" 2>/dev/null; then
		not_ok "$desc: transfer fails, but not for the expected reason (no /$reason/ in $(basename "$rfile"); exit $rc)"
		diag "$rfile"
	else
		ok "$desc: transfer does not complete within ${NEG_S} s (exit $rc; control conversation ok)"
	fi
}

D0=0			# the drop counter when a group of transfers began
O0=0			# dyperd's "open" events then
EL0=0			# lines in its event log then

group_begin() {
	D0=$(drops)
	O0=$(events open)
	EL0=$(wc -l <"$EVENTS")
}

# group_end WHAT [HOST...]: after a group of transfers, checks the table's
# side: failures must show as drops, nothing may have opened without the
# wrapper; through the wrapper, the pinholes were for exactly the HOSTs
# (each got at least one) and every pinhole is gone again.
group_end() {
	local what=$1 d1 o1 h remotes bad=

	shift

	d1=$(drops)
	o1=$(events open)
	case $MODE in
	plain | preload)
		if [ "$OPEN_ALL" != 1 ]; then
			if [ "${d1:-0}" -gt "${D0:-0}" ]; then
				ok "$what: the table dropped $((d1 - D0)) inbound packets meanwhile"
			else
				not_ok "$what: the table dropped nothing meanwhile (${D0:-?} -> ${d1:-?}): the failure was not the table's"
			fi
		fi
		if [ "$o1" -eq "$O0" ] && no_pinholes; then
			ok "$what: no pinhole was opened ($(mode_label "$MODE"))"
		else
			not_ok "$what: a pinhole was opened without the wrapper ($((o1 - O0)) open events)"
			diag_s "$(pinhole_state)"
		fi
		;;
	dyper)
		remotes=$(tail -n "+$((EL0 + 1))" "$EVENTS" | grep '"event":"open"' |
			sed -n 's/.*"remote":"\([^"]*\)".*/\1/p' | sort | uniq -c | awk '{print $2 "(" $1 ")"}' | paste -sd' ')
		for h in "$@"; do
			[[ " $remotes" == *" $h("* ]] || bad+=" none for $h;"
		done
		for h in $remotes; do
			[[ " $* " == *" ${h%(*} "* ]] || bad+=" one for ${h%(*};"
		done
		if [ "$o1" -le "$O0" ]; then
			not_ok "$what: dyperd opened no pinhole (its transfers cannot have used one)"
		elif [ -n "$bad" ]; then
			not_ok "$what: pinholes for the wrong hosts:$bad (opened: $remotes)"
		else
			ok "$what: dyperd opened $((o1 - O0)) pinholes, each for its client: $remotes"
		fi
		if poll 3000 0.05 no_pinholes; then
			ok "$what: every pinhole is gone afterwards ($WAITED ms; dyperctl list, nft)"
		else
			not_ok "$what: pinholes left 3 s after the transfers ended"
			diag_s "$(pinhole_state)"
		fi
		;;
	esac
	if [ "$OPEN_ALL" = 1 ] && [ "$(open_all_rules)" != 2 ]; then
		not_ok "$what: the E2E_OPEN_ALL rules vanished from the table"
	fi
}

# --- FTP clients ----------------------------------------------------------------------

# lftp_cmds TLS PASSIVE: lftp settings; every wait is bounded by the budget.
lftp_cmds() {
	local s

	s="set net:timeout $(budget); set net:max-retries 1; set net:reconnect-interval-base 1;"

	s+=" set cmd:fail-exit yes; set xfer:clobber on; set ftp:passive-mode $2;"
	if [ "$1" = ftps ]; then
		s+=" set ftp:ssl-allow yes; set ftp:ssl-force yes; set ftp:ssl-allow-anonymous yes;"
		s+=" set ftp:ssl-protect-data yes; set ftp:ssl-protect-list yes; set ssl:verify-certificate no;"
	else
		s+=" set ftp:ssl-allow no;"
	fi
	echo "$s"
}

url_host() {
	[[ $1 == *:* ]] && echo "[$1]" || echo "$1"
}

fam() {
	[[ $1 == *:* ]] && echo IPv6 || echo IPv4
}

tls_label() {
	[ "$1" = ftps ] && echo "FTPS (explicit TLS)" || echo "FTP"
}

# --- vsftpd --------------------------------------------------------------------------------

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=in.e2e.test \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/cmd" 2>&1 || bail "openssl: self-signed certificate"
chmod 600 "$T/key.pem"

have() {
	command -v "$1" >/dev/null 2>&1
}

# need_tools CASE-DESC TOOL...: 1 with a "skip" line when one is missing.
need_tools() {
	local what=$1 t missing=()

	shift
	for t in "$@"; do
		have "$t" || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	skip "$what: not installed: ${missing[*]} (make deps)"
	return 1
}

# 1: vsftpd on IN, passive; lftp and curl from A; IPv4 and IPv6.
case1_run() {
	local tls=$1 what addr c name host

	what="1 vsftpd passive $(tls_label "$tls")"
	for addr in "$IN4" "$IN6"; do
		name=vs1-$tls-$(fam "$addr")
		vsftpd_conf "$T/$name.conf" "$addr" 21 "$tls"
		serve "$name" "$NS_IN" "${PFX[@]}" vsftpd "$T/$name.conf"
	done
	for addr in "$IN4" "$IN6"; do
		wait_listen "$what" "$NS_IN" tcp "$addr" 21 "$LOGD/vs1-$tls-$(fam "$addr").log" ||
			{ stop_servers; return; }
	done
	group_begin
	for addr in "$IN4" "$IN6"; do
		host=$(url_host "$addr")
		name=c1-$tls-$(fam "$addr")
		xfer "$name-lftp" "$NS_A" $(($(budget) + 15)) lftp -d -c \
			"$(lftp_cmds "$tls" on) open ftp://$host; get f.bin -o $OUT/$name-lftp"
		c=(curl -sS -v --max-time "$(budget)" -o "$OUT/$name-curl")
		[ "$tls" = ftps ] && c+=(--ssl-reqd -k)
		xfer "$name-curl" "$NS_A" $(($(budget) + 5)) "${c[@]}" "ftp://$host/f.bin"
	done
	xwait
	for addr in "$IN4" "$IN6"; do
		name=c1-$tls-$(fam "$addr")
		judge "$what, $(fam "$addr"), lftp from A, $(mode_label "$MODE")" "$name-lftp" \
			"$OUT/$name-lftp" '<--- 230 '
		judge "$what, $(fam "$addr"), curl from A, $(mode_label "$MODE")" "$name-curl" \
			"$OUT/$name-curl" '^< 230 '
	done
	group_end "$what ($(mode_label "$MODE"))" "$A4" "$A6"
	[ "$MODE" = dyper ] && [ "$tls" = plain ] && intruder_check
	stop_servers
}

# intruder_check: through dyper-wrap, vsftpd (IPv4, FTP) is running.  A
# scripted FTP client on A logs in and asks for PASV, then waits; meanwhile B
# tries the passive port: the table must drop it (the pinhole is A's).  Then
# A connects and downloads.
intruder_check() {
	local what="1 intruder" port got

	rm -f "$T/go" "$T/pasv-port" "$OUT/intruder"
	xfer intruder "$NS_A" 30 "$PY" "$PASV_CLIENT" "$IN4" "$T/pasv-port" "$T/go" f.bin "$OUT/intruder"
	if ! poll 5000 0.05 test -s "$T/pasv-port"; then
		not_ok "$what: the scripted client on A got no PASV reply within 5 s"
		touch "$T/go"
		xwait
		diag "$LOGD/intruder.log"
		return
	fi
	port=$(cat "$T/pasv-port")
	# the pinhole must be A's, for exactly that port
	expect_a_pinhole "$what" "$port"
	expect_b_dropped "$what" tcp "$port" "B's connection to A's pinhole (port $port)"
	touch "$T/go"
	xwait
	got=$(sum_of "$OUT/intruder")
	if [ "$got" = "$SUM" ]; then
		ok "$what: ... while A then downloads through it, sha256 matches"
	else
		not_ok "$what: A downloads through its pinhole after B's attempt (exit ${XRC[intruder]}, got $got)"
		diag "$LOGD/intruder.log"
	fi
	if poll 3000 0.05 no_pinholes; then
		ok "$what: no pinhole left ($WAITED ms)"
	else
		not_ok "$what: pinholes left 3 s after the download"
		diag_s "$(pinhole_state)"
	fi
}

case1() {
	local tls mode

	need_tools "1 vsftpd passive" vsftpd lftp curl || return
	for tls in plain ftps; do
		for mode in plain dyper; do
			use_mode "$mode" "1 vsftpd passive $(tls_label "$tls")" || continue
			case1_run "$tls"
		done
	done
	# the agent preloaded by hand has no channel: nothing opens
	use_mode preload "1 vsftpd passive FTP" || return
	case1_run plain
}

# 2: lftp on IN in active mode against vsftpd on A (plain on 21, FTPS on 2121).
case2_run() {
	local what="2 lftp active" addr tls name host port

	group_begin
	for addr in "$A4" "$A6"; do
		for tls in plain ftps; do
			host=$(url_host "$addr")
			[ "$tls" = ftps ] && port=2121 || port=21
			name=c2-$tls-$(fam "$addr")
			xfer "$name" "$NS_IN" $(($(budget) + 15)) "${PFX[@]}" lftp -d -c \
				"$(lftp_cmds "$tls" off) open ftp://$host:$port; get f.bin -o $OUT/$name"
		done
	done
	xwait
	for addr in "$A4" "$A6"; do
		for tls in plain ftps; do
			name=c2-$tls-$(fam "$addr")
			judge "$what, $(tls_label "$tls"), $(fam "$addr"), vsftpd on A, $(mode_label "$MODE")" \
				"$name" "$OUT/$name" '<--- 200 (PORT|EPRT) command successful'
		done
	done
	group_end "$what ($(mode_label "$MODE"))" "$A4" "$A6"
}

case2() {
	local addr tls name port mode ready=1

	need_tools "2 lftp active" vsftpd lftp || return
	for addr in "$A4" "$A6"; do
		for tls in plain ftps; do
			[ "$tls" = ftps ] && port=2121 || port=21
			name=vs2-$tls-$(fam "$addr")
			vsftpd_conf "$T/$name.conf" "$addr" $port "$tls"
			serve "$name" "$NS_A" vsftpd "$T/$name.conf"
		done
	done
	for addr in "$A4" "$A6"; do
		for port in 21 2121; do
			wait_listen "2 vsftpd on A" "$NS_A" tcp "$addr" $port || ready=0
		done
	done
	if [ $ready = 1 ]; then
		for mode in plain dyper preload; do
			use_mode "$mode" "2 lftp active" || continue
			case2_run
		done
	fi
	stop_servers
}

# 3: tftp-hpa on IN fetching from tftpd-hpa on A.
case3() {
	local what="3 tftp" addr name mode f

	need_tools "$what" tftp in.tftpd || return
	for addr in "$A4" "$A6"; do
		if [[ $addr == *:* ]]; then
			f=-6
		else
			f=-4
		fi
		serve "tftpd-$(fam "$addr")" "$NS_A" in.tftpd --foreground $f \
			--address "$(url_host "$addr"):69" --secure "$PUB" --user nobody
	done
	for addr in "$A4" "$A6"; do
		wait_listen "$what" "$NS_A" udp "$addr" 69 || { stop_servers; return; }
	done
	for mode in plain dyper; do
		use_mode "$mode" "$what" || continue
		group_begin
		for addr in "$A4" "$A6"; do
			[[ $addr == *:* ]] && f=-6 || f=-4
			name=c3-$(fam "$addr")
			xfer "$name" "$NS_IN" "$(budget)" "${PFX[@]}" \
				tftp $f -v -m binary "$addr" -c get f.bin "$OUT/$name"
		done
		xwait
		for addr in "$A4" "$A6"; do
			name=c3-$(fam "$addr")
			judge "$what, $(fam "$addr"), client on IN, tftpd-hpa on A, $(mode_label "$MODE")" \
				"$name" "$OUT/$name" ""
		done
		group_end "$what ($(mode_label "$MODE"))" "$A4" "$A6"
	done
	stop_servers
}

# iperf_once NAME: one dual test from IN to A; sets IP_N (nonzero bandwidth
# lines), IP_RX (reverse connections accepted), IP_LINES and IP_ORDER:
# "listener-first" when iperf's listener thread came up before its client
# connected, else "client-first".  iperf 2.1.8 starts both threads at once:
# client-first, A's connection back may arrive before the listener exists
# and is refused; that happens without any firewall too.
iperf_once() {
	local log=$LOGD/$1.log first

	xfer "$1" "$NS_IN" $(($(budget) + 5)) "${PFX[@]}" iperf -c "$A4" -d -t 2 -f m
	xwait
	# "[  1] 0.0000-2.0085 sec  2602 MBytes  10865 Mbits/sec", nonzero
	IP_LINES=$(grep -E '^\[ *[0-9]+\] +[0-9.]+-[0-9.]+ sec +[0-9.]+ [KMGT]?Bytes +[0-9.]+ [KMGT]?bits/sec' "$log" |
		awk '$(NF-1) + 0 > 0')
	IP_N=$(grep -c . <<<"$IP_LINES")
	IP_RX=$(grep -cE "local $IN4 port 5001 connected with $A4 " "$log")
	first=$(grep -m1 -oE '^(Server listening|Client connecting)' "$log")
	[ "$first" = "Server listening" ] && IP_ORDER=listener-first || IP_ORDER=client-first
}

# 4: iperf dual test: the server on A connects back to the client on IN.
case4() {
	local what="4 iperf -d" mode log try name retried

	need_tools "$what" iperf || return
	serve iperf-s "$NS_A" iperf -s -B "$A4"
	wait_listen "$what" "$NS_A" tcp "$A4" 5001 "$LOGD/iperf-s.log" || { stop_servers; return; }
	for mode in plain dyper; do
		use_mode "$mode" "$what" || continue
		group_begin
		retried=
		for try in 1 2 3; do
			name=c4-$mode-$try
			iperf_once "$name"
			# only iperf's own race is tried again, never a listener that
			# was up in time
			if [ "$(expect)" != pass ] || [ "$IP_ORDER" != client-first ] ||
				{ [ "$IP_N" -ge 2 ] && [ "$IP_RX" -ge 1 ]; }; then
				break
			fi
			retried+=" $IP_ORDER"
		done
		log=$LOGD/$name.log
		[ -n "$retried" ] && retried="; tried again after iperf's own race:$retried"
		if [ "$(expect)" = pass ]; then
			if [ "$IP_N" -ge 2 ] && [ "$IP_RX" -ge 1 ]; then
				ok "$what, $(mode_label "$MODE"): both directions carry data: $(awk '{print $(NF-1), $NF}' <<<"$IP_LINES" | paste -sd' ' | sed 's| Mbits/sec |, |') ($IP_ORDER$retried)"
			else
				not_ok "$what, $(mode_label "$MODE"): two nonzero bandwidth lines and the reverse connection expected ($IP_N lines, reverse connection: $IP_RX; exit ${XRC[$name]}; $IP_ORDER$retried)"
				diag "$log"
			fi
		elif [ "$IP_N" -ge 2 ] || [ "$IP_RX" -ge 1 ]; then
			not_ok "$what, $(mode_label "$MODE"): the reverse connection must not get through, but it did"
			diag "$log"
		elif [ "$IP_N" -eq 1 ]; then
			ok "$what, $(mode_label "$MODE"): only the client's direction carries data, the server's connection back is dropped ($(grep -m1 -o 'ERROR.*' "$log" || echo "exit ${XRC[$name]}"))"
		else
			not_ok "$what, $(mode_label "$MODE"): fails, but not for the expected reason (no bandwidth line for the client's direction)"
			diag "$log"
		fi
		group_end "$what ($(mode_label "$MODE"))" "$A4"
	done
	stop_servers
}

# 5: pyftpdlib's three servers on IN, each serving A and B at once.
case5() {
	local what kind mode first_done second_login log

	need_tools "5 pyftpdlib" lftp curl || return
	if ! "$PY" -c 'import pyftpdlib' 2>/dev/null; then
		skip "5 pyftpdlib: not installed: python3-pyftpdlib for $PY (make deps)"
		return
	fi
	cat >"$T/pyftpd.py" <<-'EOF'
		# An anonymous read-only pyftpdlib server: KIND ADDR ROOT
		import logging, sys
		from pyftpdlib.authorizers import DummyAuthorizer
		from pyftpdlib.handlers import FTPHandler
		from pyftpdlib import servers
		kind, addr, root = sys.argv[1:4]
		cls = {"async": servers.FTPServer, "threaded": servers.ThreadedFTPServer,
		       "multiprocess": servers.MultiprocessFTPServer}[kind]
		auth = DummyAuthorizer()
		auth.add_anonymous(root)
		class Handler(FTPHandler):
		    authorizer = auth
		    banner = "pyftpdlib %s ready" % kind
		logging.basicConfig(level=logging.INFO, stream=sys.stderr,
		                    format="%(process)d %(message)s")
		cls((addr, 21), Handler).serve_forever()
	EOF
	for kind in async threaded multiprocess; do
		what="5 pyftpdlib $kind server"
		for mode in plain dyper; do
			use_mode "$mode" "$what" || continue
			serve "py-$kind-$mode" "$NS_IN" "${PFX[@]}" "$PY" "$T/pyftpd.py" "$kind" "$IN4" "$PUB"
			wait_listen "$what" "$NS_IN" tcp "$IN4" 21 "$LOGD/py-$kind-$mode.log" ||
				{ stop_servers; continue; }
			group_begin
			# rate-limited so that the two sessions overlap
			xfer "c5-$kind-a" "$NS_A" $(($(budget) + 15)) lftp -d -c \
				"$(lftp_cmds plain on) set net:limit-rate 8M; open ftp://$IN4; get f.bin -o $OUT/c5-$kind-a"
			xfer "c5-$kind-b" "$NS_B" $(($(budget) + 5)) curl -sS -v --max-time "$(budget)" \
				--limit-rate 10M -o "$OUT/c5-$kind-b" "ftp://$IN4/f.bin"
			xwait
			judge "$what, lftp from A, $(mode_label "$MODE")" "c5-$kind-a" "$OUT/c5-$kind-a" '<--- 230 '
			judge "$what, curl from B, $(mode_label "$MODE")" "c5-$kind-b" "$OUT/c5-$kind-b" '^< 230 '
			if [ "$(expect)" = pass ]; then
				log=$LOGD/py-$kind-$mode.log
				# the second login comes before the first download ends
				second_login=$(grep -n "logged in" "$log" | sed -n '2s/:.*//p')
				first_done=$(grep -n "RETR .* completed=1" "$log" | sed -n '1s/:.*//p')
				if [ -n "$second_login" ] && [ -n "$first_done" ] &&
					[ "$second_login" -lt "$first_done" ]; then
					ok "$what, $(mode_label "$MODE"): the two sessions ran at once"
				else
					not_ok "$what, $(mode_label "$MODE"): the two sessions did not overlap (server log)"
					diag "$log"
				fi
			fi
			group_end "$what ($(mode_label "$MODE"))" "$A4" "$B4"
			stop_servers
		done
	done
}

# 6: GridFTP upload with 4 parallel streams (mode E) to IN, from A.  Two
# ways to run the server: as a daemon (Debian's default: it forks AND
# re-executes itself for every connection, so the session process starts
# afresh from exec) and with -no-fork (one process; as root it serves one
# connection, then exits).
case6() {
	local what run mode n log extra

	need_tools "6 GridFTP" globus-gridftp-server globus-url-copy || return
	echo "# apps.sh: no settings beyond the command line" >"$T/gridftp.conf"
	for run in daemon no-fork; do
		what="6 GridFTP upload -p 4, server as $run"
		extra=()
		[ $run = no-fork ] && extra=(-no-fork)
		for mode in plain dyper; do
			use_mode "$mode" "$what" || continue
			log=$LOGD/gridftp-$run-$mode.log
			# -aa: anonymous, as nobody; no -port-range: any data port
			serve "gridftp-$run-$mode" "$NS_IN" "${PFX[@]}" env -u GLOBUS_TCP_PORT_RANGE \
				globus-gridftp-server -c "$T/gridftp.conf" -aa -anonymous-user nobody \
				-p 2811 -control-interface "$IN4" -d ALL -l "$log" "${extra[@]}"
			wait_listen "$what" "$NS_IN" tcp "$IN4" 2811 "$LOGD/gridftp-$run-$mode.log" ||
				{ stop_servers; continue; }
			group_begin
			n=g-$run-$mode
			rm -f "$UP/$n"
			xfer "c6-$run-$mode" "$NS_A" "$(budget)" globus-url-copy -vb -p 4 \
				"file://$PUB/f.bin" "ftp://$IN4:2811$UP/$n"
			xwait
			judge "$what, globus-url-copy on A, $(mode_label "$MODE")" \
				"c6-$run-$mode" "$UP/$n" 'STOR .*'"$UP/$n" "$log"
			if [ "$(expect)" = pass ]; then
				if grep -q "MODE E" "$log" &&
					grep -q "NBYTES=20971520 .*STREAMS=4 .*TYPE=STOR" "$log"; then
					ok "$what, $(mode_label "$MODE"): server log shows MODE E with 4 streams"
				else
					not_ok "$what, $(mode_label "$MODE"): server log shows no MODE E transfer with 4 streams"
					diag "$log" 5
				fi
			fi
			group_end "$what ($(mode_label "$MODE"))" "$A4"
			stop_servers
		done
	done
}

# 7: vsftpd with its seccomp sandbox on (seccomp_sandbox=YES; Debian's
# default is NO), through dyper-wrap, anonymous and as a local user.  After
# each login vsftpd's privileged broker (the session's parent, as nobody,
# chrooted) installs a filter that allows read, write, select, close,
# socket/bind/listen/accept and sendmsg with flags 0 and kills the process
# at any other call; the PASV socket is bound in that process, so the
# agent's request must keep to those calls.  Checked: the PASV reply, the
# pinhole for A on exactly that port, A's data connection getting through
# the table, B's being dropped, every pinhole gone after.  The download
# itself: Debian 12's vsftpd 3.0.3 kills its own session at RETR (its
# filter lists stat and fstat, glibc 2.36 calls newfstatat): reported as a
# skip when that happens, as a pass if the download completes.
case7_run() {
	local who=$1 what="7 vsftpd seccomp_sandbox=YES" name port got
	local env=()

	name=vs7-$who
	what+=", $who login"
	if [ "$who" = local ]; then
		vsftpd_conf "$T/$name.conf" "$IN4" 21 plain YES "$made_user"
		env=(env "FTP_USER=$made_user" "FTP_PASS=$USER_PASS")
	else
		vsftpd_conf "$T/$name.conf" "$IN4" 21 plain YES
	fi
	serve "$name" "$NS_IN" "${PFX[@]}" vsftpd "$T/$name.conf"
	wait_listen "$what" "$NS_IN" tcp "$IN4" 21 "$LOGD/$name.log" || { stop_servers; return; }
	group_begin
	rm -f "$T/go" "$T/pasv-port" "$OUT/$name"
	xfer "c7-$who" "$NS_A" 30 "${env[@]}" "$PY" "$PASV_CLIENT" "$IN4" "$T/pasv-port" "$T/go" \
		f.bin "$OUT/$name"
	if ! poll 5000 0.05 test -s "$T/pasv-port"; then
		not_ok "$what: no PASV reply within 5 s (vsftpd's broker killed by its filter?)"
		touch "$T/go"
		xwait
		diag "$LOGD/c7-$who.log"
		diag "$LOGD/$name.log" 5
		stop_servers
		return
	fi
	port=$(cat "$T/pasv-port")
	ok "$what: vsftpd's broker survives the agent's request under its filter: PASV port $port"
	expect_a_pinhole "$what" "$port"
	expect_b_dropped "$what" tcp "$port" "B's connection to A's pinhole (port $port)"
	touch "$T/go"
	xwait
	if grep -q "^connected to data port $port" "$LOGD/c7-$who.log"; then
		ok "$what: A's data connection to port $port gets through the table"
	else
		not_ok "$what: A's data connection to port $port must get through the table"
		diag "$LOGD/c7-$who.log"
	fi
	got=$(sum_of "$OUT/$name")
	if [ "$got" = "$SUM" ]; then
		ok "$what: the download completes, sha256 matches"
	else
		skip "$what: no download: vsftpd's own filter ended the session at RETR (exit ${XRC[c7-$who]}; $(tail -n 1 "$LOGD/c7-$who.log"))"
	fi
	group_end "$what ($(mode_label "$MODE"))" "$A4"
	stop_servers
}

case7() {
	need_tools "7 vsftpd seccomp_sandbox=YES" vsftpd useradd userdel chpasswd || return
	use_mode dyper "7 vsftpd seccomp_sandbox=YES" || return
	case7_run anon
	# a local user of our own, removed by cleanup
	made_user=dye$$
	USER_PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
	if ! useradd -M -d "$PUB" -s /bin/sh "$made_user" >"$T/cmd" 2>&1 ||
		! echo "$made_user:$USER_PASS" | chpasswd >>"$T/cmd" 2>&1; then
		not_ok "7 vsftpd seccomp_sandbox=YES: cannot create the local user $made_user"
		diag "$T/cmd"
		return
	fi
	case7_run local
}

# 8: pure-ftpd on IN (its own privilege separation; a virtual user of its
# own puredb, chrooted to $PUB), passive: curl from A and lftp from B at once.
# Debian's pure-ftpd conflicts with vsftpd (both provide ftp-server): make
# deps unpacks its package under $B/deps instead of installing it.
case8() {
	local what="8 pure-ftpd passive" mode pf pw db

	pf=$(command -v pure-ftpd || echo "$BDIR/deps/pure-ftpd/usr/sbin/pure-ftpd")
	pw=$(command -v pure-pw || echo "$BDIR/deps/pure-ftpd/usr/bin/pure-pw")
	if [ ! -x "$pf" ] || [ ! -x "$pw" ]; then
		skip "$what: pure-ftpd not found (make deps unpacks it into $BDIR/deps/pure-ftpd)"
		return
	fi
	need_tools "$what" curl lftp || return
	PF_PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
	db=$T/pureftpd.pdb
	printf '%s\n%s\n' "$PF_PASS" "$PF_PASS" |
		"$pw" useradd dyper -u nobody -g nogroup -d "$PUB" -f "$T/pureftpd.passwd" >"$T/cmd" 2>&1 &&
		"$pw" mkdb "$db" -f "$T/pureftpd.passwd" >>"$T/cmd" 2>&1 || bail "$what: pure-pw"
	for mode in plain dyper; do
		use_mode "$mode" "$what" || continue
		# -E: no anonymous, -A: chroot everyone, -H: no DNS
		serve "pf-$mode" "$NS_IN" "${PFX[@]}" "$pf" -S "$IN4,21" -l "puredb:$db" -E -A -H
		wait_listen "$what" "$NS_IN" tcp "$IN4" 21 "$LOGD/pf-$mode.log" || { stop_servers; continue; }
		group_begin
		xfer "c8-$mode-a" "$NS_A" $(($(budget) + 5)) curl -sS -v --max-time "$(budget)" \
			--limit-rate 10M -u "dyper:$PF_PASS" -o "$OUT/c8-$mode-a" "ftp://$IN4/f.bin"
		xfer "c8-$mode-b" "$NS_B" $(($(budget) + 15)) lftp -d -c \
			"$(lftp_cmds plain on) set net:limit-rate 10M; open -u dyper,$PF_PASS ftp://$IN4; get f.bin -o $OUT/c8-$mode-b"
		xwait
		judge "$what, curl from A, $(mode_label "$MODE")" "c8-$mode-a" "$OUT/c8-$mode-a" '^< 230 '
		judge "$what, lftp from B, $(mode_label "$MODE")" "c8-$mode-b" "$OUT/c8-$mode-b" '<--- 230 '
		group_end "$what ($(mode_label "$MODE"))" "$A4" "$B4"
		stop_servers
	done
}

# 9: FTP clients on IN in active mode (the server on A connects back):
# Python's ftplib (set_pasv(False)) and wget (--no-passive-ftp), IPv4,
# against vsftpd on A.
case9() {
	local what="9 active clients" mode c

	need_tools "$what" vsftpd wget || return
	cat >"$T/ftplib_active.py" <<-'EOF'
		# ftplib in active mode: HOST NAME OUT TIMEOUT
		import ftplib, sys
		host, name, out, t = sys.argv[1:5]
		ftp = ftplib.FTP(timeout=float(t))
		ftp.set_debuglevel(1)
		ftp.connect(host, 21)
		ftp.login()
		ftp.set_pasv(False)
		with open(out, "wb") as f:
		    ftp.retrbinary("RETR " + name, f.write)
		ftp.quit()
	EOF
	vsftpd_conf "$T/vs9.conf" "$A4" 21 plain
	serve vs9 "$NS_A" vsftpd "$T/vs9.conf"
	wait_listen "$what" "$NS_A" tcp "$A4" 21 "$LOGD/vs9.log" || { stop_servers; return; }
	for mode in plain dyper preload; do
		use_mode "$mode" "$what" || continue
		group_begin
		xfer "c9-$mode-ftplib" "$NS_IN" $(($(budget) + 5)) "${PFX[@]}" "$PY" "$T/ftplib_active.py" \
			"$A4" f.bin "$OUT/c9-$mode-ftplib" "$(budget)"
		xfer "c9-$mode-wget" "$NS_IN" $(($(budget) + 5)) "${PFX[@]}" wget --no-passive-ftp \
			-T "$(budget)" -t 1 -O "$OUT/c9-$mode-wget" "ftp://$A4/f.bin"
		xwait
		judge "$what, Python ftplib on IN, vsftpd on A, $(mode_label "$MODE")" "c9-$mode-ftplib" \
			"$OUT/c9-$mode-ftplib" "\\*resp\\* '200 (PORT|EPRT) command successful"
		judge "$what, wget on IN, vsftpd on A, $(mode_label "$MODE")" "c9-$mode-wget" \
			"$OUT/c9-$mode-wget" '==> PORT \.\.\. done'
		group_end "$what ($(mode_label "$MODE"))" "$A4"
	done
	stop_servers
}

# 10: one wrapped vsftpd on IN serving E2E_STRESS_N (24) passive downloads
# at once, half by curl from A, half from B, each rate-limited so that
# they overlap.  Every download must complete; every pinhole must be for
# the host whose session asked for that port (vsftpd's log: which client
# got which EPSV/PASV port); at least 20 pinholes must have been open at
# the same time (dyperd's event log); none left afterwards.
case10() {
	local what="10 concurrent passive sessions" n=${E2E_STRESS_N:-24} i host ns name bad=0
	local max ports wrong

	need_tools "$what" vsftpd curl || return
	use_mode dyper "$what" || return
	vsftpd_conf "$T/vs10.conf" "$IN4" 21 plain
	echo "max_clients=$((n + 8))" >>"$T/vs10.conf"
	echo "max_per_ip=$((n + 8))" >>"$T/vs10.conf"
	serve vs10 "$NS_IN" "${PFX[@]}" vsftpd "$T/vs10.conf"
	wait_listen "$what" "$NS_IN" tcp "$IN4" 21 "$LOGD/vs10.log" || { stop_servers; return; }
	group_begin
	for ((i = 0; i < n; i++)); do
		((i % 2)) && ns=$NS_B || ns=$NS_A
		xfer "c10-$i" "$ns" 65 curl -sS --max-time 60 --limit-rate 4M \
			-o "$OUT/c10-$i" "ftp://$IN4/f.bin"
	done
	xwait
	for ((i = 0; i < n; i++)); do
		if [ "$(sum_of "$OUT/c10-$i")" != "$SUM" ]; then
			bad=$((bad + 1))
			[ $bad = 1 ] && diag "$LOGD/c10-$i.log"
		fi
	done
	if [ $bad = 0 ]; then
		ok "$what: all $n downloads (A and B, at once) complete, sha256 matches"
	else
		not_ok "$what: $bad of $n downloads failed or are corrupt"
	fi
	# port -> client address, from vsftpd's replies
	ports=$(sed -n 's/.*FTP response: Client "\([^"]*\)", "229 Entering Extended Passive Mode (|||\([0-9]*\)|).*/\2 \1/p;
		s/.*FTP response: Client "\([^"]*\)", "227 Entering Passive Mode ([0-9]*,[0-9]*,[0-9]*,[0-9]*,\([0-9]*\),\([0-9]*\)).*/\2 \3 \1/p' \
		"$LOGD/vs10.log" | awk 'NF == 3 {print $1 * 256 + $2, $3; next} {print}')
	wrong=$(tail -n "+$((EL0 + 1))" "$EVENTS" | grep '"event":"open"' |
		sed -n 's/.*"remote":"\([^"]*\)".*"local_port":\([0-9]*\).*/\2 \1/p' |
		awk 'NR == FNR {want[$1] = $2; next} want[$1] != $2 {print $1 "->" $2 " (asked by " (want[$1] ? want[$1] : "nobody") ")"}' \
			<(echo "$ports") - | head -n 5)
	if [ -z "$ports" ]; then
		not_ok "$what: no passive port in vsftpd's log"
		diag "$LOGD/vs10.log" 5
	elif [ -z "$wrong" ]; then
		ok "$what: each of the $(tail -n "+$((EL0 + 1))" "$EVENTS" | grep -c '"event":"open"') pinholes is for the host that asked for its port"
	else
		not_ok "$what: pinholes for another host than the one that asked: $wrong"
	fi
	max=$(tail -n "+$((EL0 + 1))" "$EVENTS" | awk '/"event":"open"/ {c++; if (c > m) m = c} /"event":"close"/ {c--} END {print m + 0}')
	if [ "$max" -ge 20 ]; then
		ok "$what: $max pinholes were open at the same time"
	else
		not_ok "$what: at least 20 pinholes open at once expected, at most $max were"
	fi
	group_end "$what ($(mode_label "$MODE"))" "$A4" "$B4"
	stop_servers
}

# sip: a SIP call from IN to A, with media flowing into IN.  SIPp on IN (the
# caller) binds its signalling port 5062 and its media ports 6000 and 6002
# (-mp, -rtp_echo) at start, then sends the INVITE from 5062; the agent must
# take A for the peer of the ports bound before, so that the RTP that SIPp
# on A plays (a pcap that ships with sip-tester) reaches 6000, and the echo
# goes back to A, where a counter in A's own table counts it.
SIP_PCAP=/usr/share/sip-tester/g711a.pcap	# 4.7 s of PCMA
SIP_MP=6000		# the caller's media port on IN
SIP_AMP=7000		# the port A plays from and gets the echoes on

sip_uas_xml() {
	cat <<-EOF
		<?xml version="1.0" encoding="ISO-8859-1" ?>
		<!DOCTYPE scenario SYSTEM "sipp.dtd">
		<scenario name="apps.sh: answer, then play RTP into the caller">
		  <recv request="INVITE" crlf="true"/>
		  <send><![CDATA[

		SIP/2.0 200 OK
		[last_Via:]
		[last_From:]
		[last_To:];tag=[pid]SIPpTag01[call_number]
		[last_Call-ID:]
		[last_CSeq:]
		Contact: <sip:[local_ip]:[local_port];transport=[transport]>
		Content-Type: application/sdp
		Content-Length: [len]

		v=0
		o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
		s=-
		c=IN IP[media_ip_type] [media_ip]
		t=0 0
		m=audio [media_port] RTP/AVP 8
		a=rtpmap:8 PCMA/8000

		  ]]></send>
		  <recv request="ACK" crlf="true"/>
		  <nop><action><exec play_pcap_audio="$SIP_PCAP"/></action></nop>
		  <recv request="BYE"/>
		  <send><![CDATA[

		SIP/2.0 200 OK
		[last_Via:]
		[last_From:]
		[last_To:]
		[last_Call-ID:]
		[last_CSeq:]
		Content-Length: 0

		  ]]></send>
		</scenario>
	EOF
}

# sip_count NS: what the counter in NS has seen: on RT, the RTP A plays to
# IN's media port; on A, the echoes from there.
sip_count() {
	ip netns exec "$1" nft list table inet e2e_sip 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\) bytes .*/\1/p'
}

# sip_media_pinhole: dyperctl lists a UDP pinhole to IN's media port; prints it.
sip_media_pinhole() {
	ctl list 2>/dev/null | awk -v l="$IN4:$SIP_MP" '$4 == l && /udp/' | grep .
}

# sip_counters: counters from zero in tables of their own on RT and A (never
# in IN's): the RTP that RT forwards from A to IN's media port, and the
# echoes A receives.
sip_counters() {
	sip_counters_del
	ip netns exec "$NS_RT" nft -f - <<-EOF || bail "nft in $NS_RT"
		table inet e2e_sip {
			chain forward {
				type filter hook forward priority 0;
				ip saddr $A4 ip daddr $IN4 udp dport $SIP_MP counter
			}
		}
	EOF
	ip netns exec "$NS_A" nft -f - <<-EOF || bail "nft in $NS_A"
		table inet e2e_sip {
			chain input {
				type filter hook input priority 0;
				ip saddr $IN4 udp sport $SIP_MP udp dport $SIP_AMP counter
			}
		}
	EOF
}

sip_counters_del() {
	ip netns exec "$NS_A" nft delete table inet e2e_sip 2>/dev/null
	ip netns exec "$NS_RT" nft delete table inet e2e_sip 2>/dev/null
	return 0
}

case_sip() {
	local what="sip SIPp call from IN to A" mode name echoes played line

	need_tools "$what" sipp || return
	if [ ! -f "$SIP_PCAP" ]; then
		skip "$what: $SIP_PCAP missing (sip-tester)"
		return
	fi
	sip_uas_xml >"$T/uas.xml"
	for mode in plain dyper; do
		use_mode "$mode" "$what" || continue
		name=sip-$mode
		sip_counters
		# one call, then it exits
		serve "sipp-uas-$mode" "$NS_A" sipp -sf "$T/uas.xml" -i "$A4" -p 5060 \
			-mi "$A4" -mp $SIP_AMP -m 1 -nostdin -timeout 40s
		wait_listen "$what" "$NS_A" udp "$A4" 5060 "$LOGD/sipp-uas-$mode.log" ||
			{ stop_servers; continue; }
		group_begin
		xfer "$name" "$NS_IN" 30 "${PFX[@]}" sipp -sn uac -i "$IN4" -p 5062 -mi "$IN4" \
			-mp $SIP_MP -rtp_echo -m 1 -d 6000 -nostdin -timeout 25s "$A4:5060"
		if [ "$MODE" = dyper ]; then
			if poll 5000 0.05 sip_media_pinhole >/dev/null; then
				line=$(sip_media_pinhole | head -n1 | tr -s ' ')
				if [[ " $line " == *" $A4:"* ]]; then
					ok "$what, $(mode_label "$MODE"): the media port has A's pinhole during the call: $line"
				else
					not_ok "$what, $(mode_label "$MODE"): the media pinhole is not A's: $line"
				fi
				# the pinhole is A's alone: B's datagrams are dropped
				expect_b_dropped "$what" udp "$SIP_MP" "B's datagrams to the media port"
			else
				not_ok "$what, $(mode_label "$MODE"): no pinhole for the media port $SIP_MP within 5 s of the call"
				diag_s "$(pinhole_state)"
			fi
		fi
		xwait
		echoes=$(sip_count "$NS_A")
		played=$(sip_count "$NS_RT")
		if [ "${XRC[$name]}" != 0 ]; then
			not_ok "$what, $(mode_label "$MODE"): the call must succeed either way (sipp exit ${XRC[$name]})"
			diag "$LOGD/$name.log"
		elif [ "${played:-0}" -lt 100 ]; then
			not_ok "$what, $(mode_label "$MODE"): A must play RTP into the call (${played:-no} packets)"
			diag "$LOGD/sipp-uas-$mode.log" 5
		elif [ "$(expect)" = pass ]; then
			# every packet is echoed once; a few lost on a busy machine are tolerated
			if [ "${echoes:-0}" -ge $((played * 9 / 10)) ]; then
				ok "$what, $(mode_label "$MODE"): RTP gets in: A played $played packets, got $echoes echoed"
			else
				not_ok "$what, $(mode_label "$MODE"): RTP must get in: A played $played packets, got ${echoes:-no} echoed"
				diag "$LOGD/sipp-uas-$mode.log" 5
			fi
		elif [ "${echoes:-0}" -eq 0 ]; then
			ok "$what, $(mode_label "$MODE"): the call connects, A plays $played RTP packets, none gets in (no echo)"
		else
			not_ok "$what, $(mode_label "$MODE"): RTP must not get in, but A got $echoes echoes"
		fi
		group_end "$what ($(mode_label "$MODE"))" "$A4"
		stop_servers
	done
	sip_counters_del
}

# --- E2E_BENCH=1: the extra time of a 100 MB download through Dyper --------------------

BMODE=			# the way dyperd and vsftpd run now: open or dyper
BMS=			# the last download's time_total (ms)
BWALL=			# ... and its wall time from starting curl to its exit (ms)

# bench_way WAY: dyperd (restarted unless it runs this way already) and a
# vsftpd on IN's IPv4 address for WAY, then one download that is not
# measured, so that every measured one comes after a warm-up.
bench_way() {
	local way=$1 conf=$CONF

	[ "$BMODE" = "$way" ] && return 0
	stop_servers
	stop_groups "$DPID"
	if [ "$way" = open ]; then
		conf=$T/dyper-open.conf
		[ -f "$conf" ] || write_conf "$conf" 1
	fi
	bg_start "$DLOG.$way" "$NS_IN" "$DYPERD" -c "$conf" -f
	DPID=$BGPID
	poll 5000 0.05 ctl_quiet stats || bail "bench: dyperd ($way) did not start (see $DLOG.$way)"
	if [ "$way" = open ]; then
		open_all_insert
		PFX=()
	else
		# the baseline's rules must not survive into the least-privilege table
		poll 2000 0.05 test "$(open_all_rules)" = 0 ||
			bail "bench: the E2E_OPEN_ALL rules are still in the table under dyperd's own configuration"
		wrapped_prefix
	fi
	BMODE=$way
	vsftpd_conf "$T/bench-$way.conf" "$IN4" 21 plain
	serve "bench-vsftpd-$way" "$NS_IN" "${PFX[@]}" vsftpd "$T/bench-$way.conf"
	wait_listen "bench: vsftpd ($way)" "$NS_IN" tcp "$IN4" 21 "$LOGD/bench-vsftpd-$way.log" ||
		bail "bench: vsftpd ($way) does not listen"
	bench_get "warm-$way" || bail "bench: the warm-up download ($way) failed"
}

# bench_get NAME: one download by curl from A in the current way; sets BMS
# and BWALL; 1 (not ok) when it fails, is corrupt, or the pinholes are not as
# the way wants them (dyper: dyperd opened at least one; open: none).
bench_get() {
	local name=$1 o0 o1 t0 t1 got

	o0=$(events open)
	t0=${EPOCHREALTIME/[.,]/}
	xfer "$name" "$NS_A" 35 curl -sS --max-time 30 -o "$BOUT/$name" -w '%{time_total}\n' "ftp://$IN4/f.bin"
	xwait
	t1=${EPOCHREALTIME/[.,]/}
	o1=$(events open)
	got=$(sum_of "$BOUT/$name")
	rm -f "$BOUT/$name"
	if [ "${XRC[$name]}" != 0 ] || [ "$got" != "$SUM" ]; then
		not_ok "bench: $name: curl from A must download the $FILE_MB MB file (exit ${XRC[$name]}, sha256 $got)"
		diag "$LOGD/$name.log"
		return 1
	fi
	BMS=$(tail -n 1 "$LOGD/$name.log" | awk '$1 ~ /^[0-9.]+$/ {printf "%.3f", $1 * 1000}')
	BWALL=$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.3f", d / 1000}')
	if [ -z "$BMS" ]; then
		not_ok "bench: $name: no time_total from curl"
		diag "$LOGD/$name.log"
		return 1
	fi
	if [ "$BMODE" = dyper ] && [ "$o1" -le "$o0" ]; then
		not_ok "bench: $name: through dyper-wrap, but dyperd opened no pinhole"
		return 1
	fi
	if [ "$BMODE" = open ] && [ "$o1" -ne "$o0" ]; then
		not_ok "bench: $name: ports statically open, but dyperd opened a pinhole"
		return 1
	fi
	return 0
}

# median NUMBER...: the median, 3 decimals.
median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1}
		END {if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m}'
}

# sub A B: A - B with a sign, 3 decimals.
sub() {
	awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.3f", a - b}'
}

bench() {
	local r way ms_open=() ms_dyper=() wall_open=() wall_dyper=() diffs=() wdiffs=()
	local t t0 bad=0 mo md ww verdict min max
	local -A ms wall

	for t in vsftpd curl; do
		have "$t" || bail "bench: $t not installed (make deps)"
	done
	[ -x "$WRAP" ] || bail "bench: $WRAP not built (make)"
	[ -f "$AGENT" ] || bail "bench: $AGENT not built (make)"
	# curl writes to memory: no disk writeback in the middle of a measurement
	BOUT=$(mktemp -d /dev/shm/dyper-bench.XXXXXX 2>/dev/null) && chmod 1777 "$BOUT" || BOUT=$OUT
	echo "# bench: $FILE_MB MB passive FTP download, vsftpd on IN, curl from A (IPv4), $BENCH_N rounds"
	t0=$(now_ms)
	for ((r = 1; r <= BENCH_N; r++)); do
		if [ $(($(now_ms) - t0)) -gt 150000 ]; then
			not_ok "bench: stopped after $((r - 1)) rounds: 150 s have gone"
			break
		fi
		# the order alternates: open dyper, dyper open, open dyper, ...
		if ((r % 2)); then set -- open dyper; else set -- dyper open; fi
		for way in "$@"; do
			bench_way "$way"
			bench_get "bench-$r-$way" || { bad=1; break 2; }
			ms[$way]=$BMS
			wall[$way]=$BWALL
		done
		ms_open+=("${ms[open]}")
		ms_dyper+=("${ms[dyper]}")
		wall_open+=("${wall[open]}")
		wall_dyper+=("${wall[dyper]}")
		diffs+=("$(sub "${ms[dyper]}" "${ms[open]}")")
		wdiffs+=("$(sub "${wall[dyper]}" "${wall[open]}")")
		echo "# bench: round $r ($1 first): open ${ms[open]} ms, dyper ${ms[dyper]} ms, dyper - open ${diffs[-1]} ms (wall: ${wall[open]}, ${wall[dyper]} ms)"
	done
	stop_servers
	if [ ${#diffs[@]} -eq 0 ]; then
		not_ok "bench: no round completed"
		return
	fi
	[ $bad = 0 ] && ok "bench: $((2 * ${#diffs[@]})) downloads (and warm-ups) complete, sha256 matches, pinholes only through dyper-wrap"
	mo=$(median "${ms_open[@]}")
	md=$(median "${ms_dyper[@]}")
	min=$(printf '%s\n' "${diffs[@]}" | sort -g | head -n1)
	max=$(printf '%s\n' "${diffs[@]}" | sort -g | tail -n1)
	echo "bench: $FILE_MB MB FTP download (curl time_total), ${#diffs[@]} rounds:"
	echo "bench:   ports statically open:  median $mo ms"
	echo "bench:   through Dyper:          median $md ms"
	echo "bench:   difference of medians:  $(sub "$md" "$mo") ms"
	echo "bench:   per-round differences:  median $(median "${diffs[@]}") ms (min $min, max $max)"
	ww=$(sub "$(median "${wall_dyper[@]}")" "$(median "${wall_open[@]}")")
	echo "bench:   wall time (curl start to exit): open $(median "${wall_open[@]}") ms, Dyper $(median "${wall_dyper[@]}") ms, difference $ww ms, paired median $(median "${wdiffs[@]}") ms"
	verdict=$(awk -v d="$(sub "$md" "$mo")" -v t="$BENCH_TARGET_MS" 'BEGIN {print (d + 0 <= t + 0) ? "PASS" : "FAIL"}')
	if [ ${#diffs[@]} -lt 7 ]; then
		verdict="FAIL (only ${#diffs[@]} rounds, 7 wanted)"
	fi
	echo "bench: $verdict: Dyper adds $(sub "$md" "$mo") ms to a $FILE_MB MB FTP transfer (target <= $BENCH_TARGET_MS ms; the paper: about 30 ms with iptables)"
}

# --- run ------------------------------------------------------------------------------

t_start=$(now_ms)
if [ "$BENCH" = 1 ]; then
	bench
	if kill -0 "$DPID" 2>/dev/null; then
		ok "dyperd still runs after the benchmark ($((($(now_ms) - t_start) / 1000)) s)"
	else
		not_ok "dyperd still runs after the benchmark"
		diag "$DLOG.$BMODE"
	fi
	summary
	exit
fi
for c in 1 2 3 4 5 6 7 8 9 10; do
	want_case "$c" && "case$c"
done
want_case sip && case_sip
if [ "$OPEN_ALL" = 1 ] && [ "$(open_all_rules)" = 2 ]; then
	ok "E2E_OPEN_ALL rules still in place at the end"
fi
if kill -0 "$DPID" 2>/dev/null; then
	ok "dyperd still runs after all cases ($((($(now_ms) - t_start) / 1000)) s)"
else
	not_ok "dyperd still runs after all cases"
	diag "$DLOG"
fi
summary
