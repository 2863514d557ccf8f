#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# program.sh: what a program= rule holds a request to (issue 9, item 2).
# dyperd runs as nobody in IN (lib.sh's namespaces), its agent socket
# belongs to group "daemon"; the attacker is user bin, who is not in that
# group and reaches dyperd only through a setgid copy of dyper-wrap.  The
# policy gives bin ports 7000-7099 for dyper-client and 7100-7299 for a
# copy of sleep(1) (a program that never asks for anything itself) and
# 7300-7399 for python3.
#
# Every "ok" line starts with its case: 1 the rules work for the programs
# they name; 2 an agent library of bin's own (-p) in the program a rule
# names; 3 a program that asks and then execs the one a rule names, N
# times in a row; 4 the same with dyperd busy (stopped) until the exec is
# done; 5 a program that execs the one a rule names with an LD_PRELOAD of
# its own, keeping the channel; 6 a script and a launcher.
#
# The wrapper bin runs is tests/tools/dyper-wrap-standin (its own agent an
# empty library in the build tree: bin may not name one), except in case 2,
# which runs the real one.
#
# Needs root and cc.  Touches nothing outside its own namespaces and temp
# dir.  Output: "ok - ..." / "not ok - ..." per check, then "program: N
# passed, N failed"; exit 0 only if nothing failed (77 when not root).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# For a SANITIZE= build (as in wrap.sh): LeakSanitizer cannot stop the
# threads of a set-id process, and ASan refuses to start behind the
# stand-in agent in LD_PRELOAD.  No effect on other builds.
export ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0

CLIENT=$BDIR/tests/tools/dyper-client
STANDIN_WRAP=$BDIR/tests/tools/dyper-wrap-standin
PY=/usr/bin/python3
RACES=${RACES:-40}	# case 3: tries in a row
STOPPED=10		# case 4: tries while dyperd is stopped

need_root
need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$STANDIN_WRAP" "$CLIENT"
need_tools nft setpriv cc sleep "$PY"
need_ids "user nobody" "user bin" "group bin" "group daemon"
if id -Gn bin | grep -qw daemon; then
	echo "program.sh: user bin is in group daemon: the test needs a user outside it" >&2
	exit 2
fi
if ! setpriv --reuid=bin --regid=bin --clear-groups test -r "$BDIR/tests/tools/libdyper-standin.so"; then
	echo "program.sh: user bin cannot read $BDIR/tests/tools: build where others can read" >&2
	exit 2
fi

DPID=
DLOG=
bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"		# bin runs the programs here, nobody reads the config
CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
WRAPX=$T/dyper-wrap		# the stand-in wrapper, setgid daemon
REALX=$T/dyper-wrap-real	# the real one, setgid daemon
CLIENTX=$T/dyper-client
SLEEPX=$T/sleep			# a copy: its command line names $T (lib.sh's is_ours)
EVIL=$T/evil.so
PYREAL=$(readlink -f "$PY")

setup_network

run cp "$STANDIN_WRAP" "$WRAPX"
run cp "$WRAP" "$REALX"
run chgrp daemon "$WRAPX" "$REALX"
run chmod 2711 "$WRAPX" "$REALX"
run cp "$CLIENT" "$CLIENTX"
run cp "$(readlink -f "$(command -v sleep)")" "$SLEEPX"
run chmod 755 "$CLIENTX" "$SLEEPX"

# The attacker's agent library: its constructor binds EVIL_LOCAL:EVIL_PORT
# and asks for it on the channel, in the name of whatever program it was
# loaded into, and prints dyperd's answer.
cat >"$T/evil.c" <<'EOF'
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "dyperd/proto.h"

__attribute__((constructor)) static void evil(void)
{
	const char *ch = getenv(DYPER_CHANNEL_ENV), *port = getenv("EVIL_PORT");
	const char *remote = getenv("EVIL_REMOTE"), *local = getenv("EVIL_LOCAL");
	struct dyper_pinhole_req req = { .family = AF_INET, .proto = IPPROTO_TCP };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } ctl;
	char buf[DYPER_MSG_MAX], rbuf[256];
	struct iovec iov = { buf, 0 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	struct pollfd pfd;
	struct dyper_reply rep;
	struct dyper_hdr h;
	const void *p;
	int fd, len;
	ssize_t n;

	if (!ch || !port || !remote || !local)
		return;
	req.local_port = (uint16_t)atoi(port);
	inet_pton(AF_INET, remote, req.remote);
	inet_pton(AF_INET, local, req.local);
	sin.sin_port = htons(req.local_port);
	memcpy(&sin.sin_addr, req.local, 4);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 1)) {
		perror("evil: bind");
		return;
	}
	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_OPEN, 0, 4711, &req, sizeof(req));
	iov.iov_len = (size_t)len;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	pfd.fd = atoi(ch);
	pfd.events = POLLIN;
	if (len < 0 || sendmsg(pfd.fd, &msg, MSG_NOSIGNAL) < 0 || poll(&pfd, 1, 5000) != 1 ||
	    (n = recv(pfd.fd, rbuf, sizeof(rbuf), 0)) <= 0 ||
	    dyper_msg_decode(rbuf, (size_t)n, &h, &p)) {
		perror("evil: no answer");
		return;
	}
	memcpy(&rep, p, sizeof(rep));
	rep.reason[sizeof(rep.reason) - 1] = '\0';
	fprintf(stderr, "evil: %s %d %s\n", rep.status ? "err" : "ok", rep.status, rep.reason);
}
EOF
run cc -shared -fPIC -I"$ROOT" -o "$EVIL" "$T/evil.c" "$ROOT/dyperd/proto.c"
chmod 755 "$EVIL"

# A script that asks for ARGV[1]:ARGV[2] -> ARGV[3]:ARGV[4] on the channel
# itself, then holds the socket.
cat >"$T/ask.py" <<EOF
#!$PY
import os, socket, struct, sys, time

remote, local, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ch = socket.socket(fileno=int(os.environ["DYPER_CHANNEL_FD"]))
s = socket.socket()
s.bind((local, port))
s.listen(1)
req = struct.pack("=BBHHH16s16sI", socket.AF_INET, socket.IPPROTO_TCP, 0, port, 0,
                  socket.inet_aton(remote) + bytes(12), socket.inet_aton(local) + bytes(12), 0)
socket.send_fds(ch, [struct.pack("=HHHHI", 1, 2, 0, len(req), 9) + req], [s.fileno()])
ch.settimeout(5)
st, = struct.unpack_from("=i", ch.recv(512), 12)
print("%s %d" % ("ok" if st == 0 else "err", st), flush=True)
time.sleep(30)
EOF
chmod 755 "$T/ask.py"

{
	echo "[daemon]"
	echo "user = nobody"
	echo "group = daemon"
	echo "agent_socket = $ASOCK"
	echo "control_socket = $CSOCK"
	echo "policy = $POL"
} >"$CONF"
{
	echo "allow daemon bin tcp * * * 7000-7099 program=$CLIENTX"
	echo "allow daemon bin tcp * * * 7100-7299 program=$SLEEPX"
	echo "allow daemon bin tcp * * * 7300-7399 program=$PYREAL"
} >"$POL"
chmod 644 "$CONF" "$POL"

# --- running things --------------------------------------------------------------------

ctl() {
	"$DYPERCTL" -s "$CSOCK" "$@"
}

ctl_quiet() {
	ctl "$@" >/dev/null 2>&1
}

# dyperd with debug logging: one line per request, granted or not.
ip netns exec "$NS_IN" "$DYPERD" -c "$CONF" -d >"$T/dyperd.log" 2>&1 </dev/null &
DPID=$!
DLOG=$T/dyperd.log
started "$DPID"
poll 5000 0.02 ctl_quiet stats || bail "dyperd did not start or dyperctl stats got no answer"

AS_BIN=(ip netns exec "$NS_IN" setpriv --reuid=bin --regid=bin --clear-groups --inh-caps=-all)

# bg OUT CMD...: CMD as bin in IN, in the background, stdout and stderr in
# OUT; its pid in BG (the wrapper execs: it is the program's too).
BG=
bg() {
	local out=$1

	shift
	"${AS_BIN[@]}" "$@" >"$out" 2>&1 </dev/null &
	BG=$!
	started "$BG"
}

# fg OUT CMD...: CMD as bin in IN, bounded; RC its exit status.
RC=0
fg() {
	local out=$1

	shift
	timeout 20 "${AS_BIN[@]}" "$@" >"$out" 2>&1 </dev/null
	RC=$?
}

# A reply line (ok/err ...) in FILE, waited for 5 s at most.
reply_in() {
	poll 5000 0.02 grep -Eq "^(evil: )?(ok|err) " "$1"
	grep -Em1 "^(evil: )?(ok|err) " "$1"
}

# in_kernel PORT: the pinhole A -> IN:PORT is in the kernel's set.
in_kernel() {
	ip netns exec "$NS_IN" nft list set inet dyper pinholes4_any 2>/dev/null | tr -s ' \t\n' ' ' |
		grep -qF -- " $A4 . tcp . $IN4 . $1 "
}

# answers: the requests dyperd has answered so far, by its counters (its log
# lines of denials pass a rate limit and cannot be counted on).
answers() {
	ctl stats 2>/dev/null | awk '$1 == "opened" || $1 == "denied" || $1 == "refused" ||
		$1 == "errors" { n += $2 } END { print n + 0 }'
}

# handled N: dyperd has answered at least N requests.
handled() {
	[ "$(answers)" -ge "$1" ]
}

# granted PORT...: how many of the PORTs have a pinhole in the kernel.
granted() {
	local port n=0

	for port in "$@"; do
		in_kernel "$port" && n=$((n + 1))
	done
	echo "$n"
}

# exe_is PID PATH: PID runs PATH.
exe_is() {
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]
}

# expect_ask OUT WANT PORT DESC: the reply in OUT (waited for) starts with
# WANT, and the kernel holds a pinhole for PORT exactly if WANT is an ok.
expect_ask() {
	local r held=no want=no

	r=$(reply_in "$1")
	in_kernel "$3" && held=yes
	[[ $2 == *ok* ]] && want=yes
	if [[ $r == "$2"* ]] && [ $held = $want ]; then
		ok "$4 ($r)"
	else
		not_ok "$4 (got \"$r\", pinhole in the kernel: $held)"
		diag "$1"
		diag "$DLOG" 3
	fi
}

# --- 1. the rules work for the programs they name ----------------------------------

bg "$T/c1" "$WRAPX" -s "$ASOCK" "$CLIENTX" -i open tcp "$A4" '*' "$IN4" 7001 --hold 30
expect_ask "$T/c1" "ok " 7001 \
	"1: bin's dyper-client, started by dyper-wrap, gets 7001 under program=$CLIENTX"
fg "$T/c1b" "$WRAPX" -s "$ASOCK" "$CLIENTX" -i open tcp "$A4" '*' "$IN4" 7101
expect_ask "$T/c1b" "err -13 " 7101 "1: ... but not 7101, whose rule names sleep"

# --- 2. -p: an agent library of bin's own ----------------------------------------------

EVIL_ENV=(env EVIL_REMOTE="$A4" EVIL_LOCAL="$IN4")
fg "$T/c2" "${EVIL_ENV[@]}" EVIL_PORT=7200 "$REALX" -s "$ASOCK" -p "$EVIL" "$SLEEPX" 1
if [ $RC -eq 1 ] && grep -qF "only root may choose the agent library (-p)" "$T/c2"; then
	ok "2: dyper-wrap -p $EVIL $SLEEPX as bin is refused ($(head -n 1 "$T/c2"))"
else
	not_ok "2: dyper-wrap -p EVIL.so as bin is refused (exit $RC)"
	diag "$T/c2"
fi
if ! grep -q '^evil: ok' "$T/c2" && ! in_kernel 7200; then
	ok "2: the library did not get 7200 in sleep's name"
else
	not_ok "2: the library did not get 7200 in sleep's name"
	diag "$T/c2"
fi

# --- 3. ask, then exec the program a rule names, RACES times ---------------------------

# expect_none_granted DESC BASE PORT...: once dyperd has answered a request
# for each PORT (10 s at most) beyond the BASE answers it had given before
# they were sent, none of them has a pinhole.
expect_none_granted() {
	local desc=$1 base=$2 n

	shift 2
	if ! poll 10000 0.05 handled $((base + $#)); then
		not_ok "$desc: dyperd answered every one of the $# requests within 10 s"
		diag "$DLOG" 5
		return
	fi
	n=$(granted "$@")
	if [ "$n" -eq 0 ]; then
		ok "$desc: 0 of $# tries granted"
	else
		not_ok "$desc: $n of $# tries granted"
		diag_s "$(grep -F ' for pid ' "$DLOG" | grep -F "$IN4:7" | grep -v denied | head -n 5)"
	fi
}

# race_one PORT [ARGS...]: bin's dyper-client asks for PORT and execs the
# sleep copy at once (ARGS before --exec); its pid in BG.
race_one() {
	local port=$1

	shift
	bg "$T/race.$port" "$WRAPX" -s "$ASOCK" "$CLIENTX" -i open tcp "$A4" '*' "$IN4" "$port" \
		"$@" --exec "$SLEEPX" 60
}

base=$(answers)
ports=()
for ((i = 0; i < RACES; i++)); do
	port=$((7110 + i))
	ports+=("$port")
	race_one "$port"
	poll 5000 0.005 exe_is "$BG" "$SLEEPX" || not_ok "3: try $i did not exec $SLEEPX"
done
expect_none_granted "3: OPEN then execv($SLEEPX) at once" "$base" "${ports[@]}"

# --- 4. the same while dyperd is busy until the exec is done ------------------------------

# dyperd stopped stands for a dyperd busy with other channels: each request
# waits in its channel until the program that sent it runs sleep.
base=$(answers)
ports=()
pids4=()
for ((i = 0; i < STOPPED; i++)); do
	port=$((7160 + i))
	ports+=("$port")
	race_one "$port" --after "$T/go"
	pids4+=("$BG")
done
waiting() {
	local port

	for port in "${ports[@]}"; do
		grep -qx waiting "$T/race.$port" || return 1
	done
}
# each has its channel (dyperd answered the wrapper's HELLO) and its socket
# and waits for \$T/go
poll 5000 0.02 waiting || not_ok "4: the clients are ready"
sig STOP "$DPID"
touch "$T/go"
all_exec() {
	local pid

	for pid in "${pids4[@]}"; do
		exe_is "$pid" "$SLEEPX" || return 1
	done
}
poll 10000 0.02 all_exec || not_ok "4: every client has sent and exec'd $SLEEPX"
sig CONT "$DPID"
expect_none_granted "4: dyperd busy until the exec was done" "$base" "${ports[@]}"

# --- 5. exec of the program a rule names, with an agent of one's own ---------------------

# sh is the program dyper-wrap starts; it keeps the channel and execs sleep
# with bin's library preloaded, which asks in sleep's name.
bg "$T/c5" "${EVIL_ENV[@]}" EVIL_PORT=7250 "$WRAPX" -s "$ASOCK" /bin/sh -c \
	"LD_PRELOAD=$EVIL exec $SLEEPX 30"
expect_ask "$T/c5" "evil: err -13 " 7250 \
	"5: sh execs sleep with bin's LD_PRELOAD, keeping the channel: refused"

# --- 6. a script, a launcher -------------------------------------------------------------

bg "$T/c6" "$WRAPX" -s "$ASOCK" "$T/ask.py" "$A4" "$IN4" 7301
expect_ask "$T/c6" "ok " 7301 \
	"6: a #! script started by dyper-wrap asks as its interpreter, $PYREAL"
bg "$T/c6b" "$WRAPX" -s "$ASOCK" /usr/bin/env "$PY" "$T/ask.py" "$A4" "$IN4" 7302
expect_ask "$T/c6b" "err -13" 7302 \
	"6: the same through a launcher (env): program= does not match"

summary
