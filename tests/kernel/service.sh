#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# service.sh: dyperd started the way conf/dyperd.service starts it, never
# as root: as its user already holding CAP_NET_ADMIN and CAP_SYS_PTRACE
# (User=, Group=, AmbientCapabilities=, CapabilityBoundingSet=,
# NoNewPrivileges=), with /proc mounted as ProtectProc=ptraceable and
# ProcSubset=pid mount it, in the network namespaces of lib.sh.  Here the
# service's user is nobody and its group daemon (the unit's dyper:dyper);
# clients run as user daemon, another user, so that program= rules need
# CAP_SYS_PTRACE on a hidepid /proc.
#
# Every "ok" line starts with its case: 1 dyperd's ids, capabilities and
# sockets; 2 a pinhole served, with real traffic; 3 what it refuses; 4
# dyperctl and a reload (the unit's ExecReload=); 5 dyper-wrap installed
# 2711 (as the RPM installs it) reaches it; 6 starts it refuses, the
# agent socket given its group through a supplementary group, and
# extra capabilities it drops; 7 READY=1, STATUS= lines (set-up,
# running, each reload's result) and STOPPING=1 to $NOTIFY_SOCKET (the
# unit's Type=notify).
#
# Needs root.  Touches nothing outside its own namespaces and temp dir.
# Output: "ok - ..." / "not ok - ..." per check, then
# "service: N passed, N failed"; exit 0 only if nothing failed (77 when not
# root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client
# bin may not name the agent (-p is root's): the wrapper built with a
# stand-in agent in the build tree as its own
STANDIN_WRAP=$BDIR/tests/tools/dyper-wrap-standin

need_root
need_bins "$DYPERD" "$DYPERCTL" "$STANDIN_WRAP" "$CLIENT" "$PROBE"
for tool in nft setpriv unshare mount; do
	if ! command -v "$tool" >/dev/null; then
		echo "service.sh: $tool missing (apt-get install nftables util-linux mount)" >&2
		exit 2
	fi
done
for id in "user nobody" "user daemon" "user bin" "group nogroup" "group daemon"; do
	read -r db name <<<"$id"
	if ! getent "${db/user/passwd}" "$name" >/dev/null; then
		echo "service.sh: $db $name missing" >&2
		exit 2
	fi
done
if id -Gn nobody | grep -qw daemon || id -Gn bin | grep -qw daemon; then
	echo "service.sh: user nobody or bin is in group daemon: the test needs users outside it" >&2
	exit 2
fi
NOBODY_UID=$(id -u nobody)
DAEMON_GID=$(getent group daemon | cut -d: -f3)
# CAP_NET_ADMIN (12) and CAP_SYS_PTRACE (19), as /proc/PID/status shows them
CAPS_OURS=0000000000081000
CAPS=+net_admin,+sys_ptrace

DPID=
DLOG=
bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"		# nobody reads its config here, daemon runs the client
CONF=$T/dyper.conf
POL=$T/policy
RUN=$T/run		# the unit's RuntimeDirectory=dyper
ASOCK=$RUN/agent.sock
CSOCK=$RUN/control.sock
mkdir "$RUN" && chown nobody:daemon "$RUN" && chmod 755 "$RUN" || bail "mkdir $RUN"
cat >"$CONF" <<EOF
[daemon]
user = nobody
group = daemon
agent_socket = $ASOCK
control_socket = $CSOCK
policy = $POL
EOF
# user daemon through group daemon: the dyper-client program only, ports
# 7000-7099; 7200-7299 only for a program that is not it.
cat >"$POL" <<EOF
allow daemon daemon tcp * * * 7000-7099 program=$CLIENT
allow daemon daemon tcp * * * 7200-7299 program=/nonexistent/*
allow daemon nobody * * * * 1024-65535
EOF
chmod 644 "$CONF" "$POL"

setup_network

# --- dyperd as the unit starts it ------------------------------------------------

starts=0

# service_exec USER GROUP CAPS [GROUPS]: execs dyperd in IN as USER and
# GROUP (supplementary GROUPS, default none) with CAPS ambient, inheritable
# and in the bounding set, no_new_privs, behind a /proc of its own mounted
# hidepid=ptraceable,subset=pid.  Each step execs the next: one pid.
service_exec() {
	local groups=--clear-groups

	[ -n "${4:-}" ] && groups=--groups=$4
	exec ip netns exec "$NS_IN" unshare -m --propagation private sh -c \
		'mount -t proc -o hidepid=ptraceable,subset=pid proc /proc && exec "$@"' sh \
		setpriv --reuid="$1" --regid="$2" "$groups" --no-new-privs \
		--inh-caps=-all,"$3" --ambient-caps=-all,"$3" --bounding-set=-all,"$3" \
		"$DYPERD" -c "$CONF" -f
}

# start_service USER GROUP CAPS: service_exec in the background; its
# stderr in $DLOG, its pid in DPID.
start_service() {
	starts=$((starts + 1))
	DLOG=$T/dyperd.$starts.log
	service_exec "$@" >"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
}

ctl() {
	"$DYPERCTL" -s "$CSOCK" "$@"
}

ready() {
	ctl stats >/dev/null 2>&1
}

# status_of PID KEY: a line of /proc/PID/status, blanks squeezed.
status_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' '
}

stop_service() {
	sig TERM "$DPID"
	wait_exit "$DPID" 5000
}

# --- 1. ids, capabilities, sockets ---------------------------------------------------

start_service nobody daemon "$CAPS"
poll 5000 0.02 ready || bail "dyperd did not start as nobody with $CAPS"
if grep -q "ready: .* running as nobody with CAP_NET_ADMIN and CAP_SYS_PTRACE only" "$DLOG"; then
	ok "1: dyperd started as nobody, not root, and says it is ready"
else
	not_ok "1: dyperd started as nobody says it is ready"
	diag "$DLOG"
fi
u=$(status_of "$DPID" Uid) g=$(status_of "$DPID" Gid)
if [ "$u" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ] &&
	[ "$g" = "$DAEMON_GID $DAEMON_GID $DAEMON_GID $DAEMON_GID" ] &&
	[ -z "$(status_of "$DPID" Groups)" ]; then
	ok "1: uids all nobody, gids all daemon, no supplementary group"
else
	not_ok "1: uids all nobody, gids all daemon (Uid: $u, Gid: $g)"
fi
caps="$(status_of "$DPID" CapEff)/$(status_of "$DPID" CapPrm)/$(status_of "$DPID" CapAmb)"
if [ "$caps" = "$CAPS_OURS/$CAPS_OURS/0000000000000000" ]; then
	ok "1: effective and permitted: CAP_NET_ADMIN, CAP_SYS_PTRACE; no ambient left"
else
	not_ok "1: effective/permitted/ambient capabilities: $caps"
fi
if [ "$(status_of "$DPID" NoNewPrivs)" = 1 ]; then
	ok "1: no_new_privs is set"
else
	not_ok "1: no_new_privs is set"
fi
a=$(stat -c %a:%U:%G "$ASOCK") c=$(stat -c %a:%U "$CSOCK")
if [ "$a" = 660:nobody:daemon ] && [ "$c" = 600:nobody ]; then
	ok "1: agent socket 0660 nobody:daemon, control socket 0600 nobody"
else
	not_ok "1: agent socket $a (want 660:nobody:daemon), control socket $c (want 600:nobody)"
fi
if ip netns exec "$NS_IN" nft list chain inet dyper input 2>/dev/null | grep -q 'policy drop'; then
	ok "1: its table is in place, input policy drop"
else
	not_ok "1: its table is in place, input policy drop"
fi

# --- 2. a pinhole for user daemon, checked by program= ----------------------------------

# client NAME USER GROUP ARGS...: dyper-client as USER:GROUP in IN, in the
# background, its output in $T/c.NAME; prints its first reply (5 s).
has_reply() {
	grep -Eq '^(ok|err) ' "$T/c.$1" 2>/dev/null
}
client() {
	local name=$1 user=$2 group=$3

	shift 3
	ip netns exec "$NS_IN" setpriv --reuid="$user" --regid="$group" --clear-groups \
		"$CLIENT" -s "$ASOCK" "$@" >"$T/c.$name" 2>&1 </dev/null &
	started $!
	poll 5000 0.01 has_reply "$name"
	grep -Em1 '^(ok|err) ' "$T/c.$name"
}

# expect_client ok|err NAME DESC ARGS...: user daemon's client (group
# daemon) gets a reply starting with ok or err.
expect_client() {
	local want=$1 name=$2 desc=$3 r

	shift 3
	r=$(client "$name" daemon daemon "$@")
	if [[ $r == "$want "* ]]; then
		ok "$desc ($r)"
	else
		not_ok "$desc (got \"$r\")"
		diag "$T/c.$name"
	fi
}

# as USER GROUP CMD...: CMD as USER:GROUP in IN, bounded; its output in
# OUT, its exit status in RC.
as() {
	local user=$1 group=$2

	shift 2
	OUT=$(timeout 10 ip netns exec "$NS_IN" setpriv --reuid="$user" --regid="$group" \
		--clear-groups "$@" 2>&1)
	RC=$?
}

expect_client ok open "2: user daemon's dyper-client gets tcp $A4:* -> $IN4:7002" \
	open tcp "$A4" '*' "$IN4" 7002 --hold 30
expect_pass "2: A reaches port 7002" "$NS_A" tcp "$IN4" 7002
expect_drop "2: B does not reach port 7002" "$NS_B" tcp "$IN4" 7002

# --- 3. refusals -------------------------------------------------------------------------

expect_client err deny "3: a port outside the policy is refused" \
	open tcp "$A4" '*' "$IN4" 7100
expect_client err prog "3: a rule for another program does not match dyper-client" \
	open tcp "$A4" '*' "$IN4" 7201
as daemon nogroup "$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 7003
if [ $RC -eq 3 ] && grep -q 'Permission denied' <<<"$OUT"; then
	ok "3: a user outside group daemon cannot connect to the agent socket"
else
	not_ok "3: a user outside group daemon cannot connect (exit $RC)"
	diag_s "$OUT"
fi

# --- 4. dyperctl and reload ------------------------------------------------------------

if ctl list 2>/dev/null | grep -qF "$IN4:7002"; then
	ok "4: root's dyperctl lists the pinhole (control socket owned by nobody)"
else
	not_ok "4: root's dyperctl lists the pinhole"
	diag_s "$(ctl list 2>&1)"
fi
if ! setpriv --reuid=daemon --regid=daemon --clear-groups "$DYPERCTL" -s "$CSOCK" stats \
	>/dev/null 2>&1; then
	ok "4: dyperctl as user daemon is refused"
else
	not_ok "4: dyperctl as user daemon is refused"
fi
echo "allow daemon daemon tcp * * * 7100 program=$CLIENT" >>"$POL"
kill -HUP "$DPID"
if poll 3000 0.05 grep -q "reloaded: 4 policy rules" "$DLOG"; then
	ok "4: SIGHUP (ExecReload=) re-reads the policy as nobody"
else
	not_ok "4: SIGHUP (ExecReload=) re-reads the policy as nobody"
	diag "$DLOG"
fi
expect_client ok late "4: port 7100 allowed after the reload" open tcp "$A4" '*' "$IN4" 7100

# --- 5. dyper-wrap installed 2711 root:daemon --------------------------------------------

# The wrapper checks HELLO with dyperd before it runs PROGRAM: /bin/true
# succeeds only if it reached the agent socket through its group.  It runs
# as bin: neither the socket's owner nor in its group.
cp "$STANDIN_WRAP" "$T/dyper-wrap" && chgrp daemon "$T/dyper-wrap" && chmod 2711 "$T/dyper-wrap" ||
	bail "installing the wrapper copy"
if [ "$(stat -c %A:%U:%G "$T/dyper-wrap")" = "-rwx--s--x:root:daemon" ] &&
	! setpriv --reuid=bin --regid=nogroup --clear-groups cat "$T/dyper-wrap" >/dev/null 2>&1; then
	ok "5: the wrapper copy is -rwx--s--x root:daemon, unreadable to others"
else
	not_ok "5: the wrapper copy is -rwx--s--x root:daemon ($(stat -c %A:%U:%G "$T/dyper-wrap"))"
fi
as bin nogroup "$T/dyper-wrap" -s "$ASOCK" /bin/true
if [ $RC -eq 0 ]; then
	ok "5: bin (not in daemon) runs a program through it: it reached dyperd"
else
	not_ok "5: bin runs a program through the 2711 wrapper (exit $RC)"
	diag_s "$OUT"
fi
chmod 0711 "$T/dyper-wrap"
as bin nogroup "$T/dyper-wrap" -s "$ASOCK" /bin/true
if [ $RC -ne 0 ] && grep -q 'cannot reach dyperd' <<<"$OUT"; then
	ok "5: without its setgid bit it cannot reach dyperd (exit $RC)"
else
	not_ok "5: without its setgid bit it cannot reach dyperd (exit $RC)"
	diag_s "$OUT"
fi

if stop_service; then
	ok "6: dyperd stops on SIGTERM"
else
	not_ok "6: dyperd stops on SIGTERM"
fi

# --- 6. starts refused, extra capabilities dropped ----------------------------------------

# refused USER GROUP CAPS GROUPS PATTERN DESC: dyperd exits 1 at once,
# saying PATTERN.
export NS_IN DYPERD CONF
export -f service_exec
refused() {
	local rc

	starts=$((starts + 1))
	DLOG=$T/dyperd.$starts.log
	timeout 10 bash -c 'service_exec "$@"' sh "$1" "$2" "$3" "$4" >"$DLOG" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 1 ] && grep -q "$5" "$DLOG"; then
		ok "6: $6 (exit 1: $(grep -m1 -o "$5.*" "$DLOG" | cut -c1-70)...)"
	else
		not_ok "6: $6 (exit $rc)"
		diag "$DLOG"
	fi
}
refused nobody daemon +net_admin "" "without CAP_SYS_PTRACE: give it" \
	"as nobody with CAP_NET_ADMIN alone: refused"
refused daemon daemon "$CAPS" "" "must start as root, or as user \"nobody\"" \
	"as another user than user=: refused"
refused nobody nogroup "$CAPS" "" "cannot give .* to group \"daemon\"" \
	"as nobody:nogroup, outside group daemon: refused, the socket cannot get that group"

# with group daemon only as a supplementary group, the socket is chown'ed
start_service nobody nogroup "$CAPS" daemon
if poll 5000 0.02 ready && [ "$(stat -c %a:%U:%G "$ASOCK")" = 660:nobody:daemon ]; then
	ok "6: as nobody:nogroup in group daemon: agent socket 0660 nobody:daemon"
else
	not_ok "6: as nobody:nogroup in group daemon: agent socket 0660 nobody:daemon"
	diag "$DLOG"
fi
stop_service

start_service nobody daemon "$CAPS,+dac_override,+chown,+setuid"
if poll 5000 0.02 ready; then
	caps="$(status_of "$DPID" CapEff)/$(status_of "$DPID" CapPrm)/$(status_of "$DPID" CapInh)"
	if [ "$caps" = "$CAPS_OURS/$CAPS_OURS/0000000000000000" ]; then
		ok "6: given also CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_SETUID, it keeps only its two"
	else
		not_ok "6: given extra capabilities, effective/permitted/inheritable: $caps"
	fi
else
	not_ok "6: dyperd given extra capabilities starts"
	diag "$DLOG"
fi
stop_service

# --- 7. Type=notify: READY=1 once the sockets listen, STOPPING=1 at the end ---------------

# A stand-in for systemd's notify socket: each datagram, and whether the
# agent socket existed when it came, one line each in $T/notify.
python3 - "$T/notify.sock" "$ASOCK" "$T/notify" <<'PY' &
import os, socket, sys, time
path, asock, out = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
s.settimeout(10)
with open(out, "w", buffering=1) as f:
    try:
        while True:
            msg = s.recv(4096).decode().replace("\n", " | ")
            f.write("%s %s\n" % (msg, "listening" if os.path.exists(asock) else "absent"))
            if msg.startswith("STOPPING=1"):
                break
    except socket.timeout:
        pass
PY
NPID=$!
started "$NPID"
poll 5000 0.02 test -S "$T/notify.sock" || bail "no notify socket"
NOTIFY_SOCKET=$T/notify.sock start_service nobody daemon "$CAPS"
poll 5000 0.02 grep -q READY=1 "$T/notify" 2>/dev/null
ready_line=$(grep '^READY=1' "$T/notify" 2>/dev/null)
if [ "${ready_line%% *}" = "READY=1" ] && [ "${ready_line##* }" = listening ]; then
	ok "7: with NOTIFY_SOCKET, dyperd sends READY=1, once its agent socket listens"
else
	not_ok "7: READY=1 once the agent socket listens (got \"$ready_line\")"
	diag "$DLOG"
fi
# STATUS= lines for systemctl status: set-up, running, each reload's result
rules=$(grep -c '^allow' "$POL")
if head -n 1 "$T/notify" | grep -q '^STATUS=setting up table inet dyper ' &&
	grep -Eq "^READY=1 \| STATUS=running: table inet dyper, [0-9]+ pinholes, $rules policy rules listening\$" \
		<<<"$ready_line"; then
	ok "7: STATUS= while setting up the table, and with READY=1 what runs"
else
	not_ok "7: STATUS= while setting up the table, and with READY=1 what runs"
	diag "$T/notify"
fi
cp "$POL" "$T/policy.good"
echo "allow nosuchuser * * * * * *" >>"$POL"
if ! ctl reload >/dev/null 2>&1 && poll 5000 0.02 grep -q '^STATUS=reload failed' "$T/notify"; then
	ok "7: a refused reload: dyperctl reload fails and STATUS= says so"
else
	not_ok "7: a refused reload: dyperctl reload fails and STATUS= says so"
	diag "$T/notify"
fi
cp "$T/policy.good" "$POL"
if ctl reload >/dev/null && poll 5000 0.02 grep -q "^STATUS=reloaded: $rules policy rules" "$T/notify"; then
	ok "7: a good reload: STATUS= says reloaded"
else
	not_ok "7: a good reload: STATUS= says reloaded"
	diag "$T/notify"
fi
stop_service
wait_exit "$NPID" 5000
if grep -q '^STOPPING=1 | STATUS=stopping (signal 15, on_exit = keep)' "$T/notify"; then
	ok "7: and STOPPING=1 on SIGTERM, with STATUS= saying on_exit"
else
	not_ok "7: and STOPPING=1 on SIGTERM"
	diag "$T/notify"
fi

summary
