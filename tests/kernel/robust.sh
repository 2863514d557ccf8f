#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# robust.sh: dyperd at its edges, where a review found it wanting (issue 9,
# item 7).  Each "ok" line starts with its case:
#   1 the control socket: numbers parsed strictly (no sign, junk or
#     overflow: "show -1", "close -5", a uid of 20 digits are errors that
#     quote the token), a NUL byte in a command is an error, and a
#     connection that sends no complete command line within 5 s is closed;
#   2 reload off the event loop: while the policy is still being read (a
#     FIFO in its place stands for a slow file system), agents and dyperctl
#     are served; a policy of 100,000 rules replaces the old one while a
#     stream of opens runs, and a broken one is refused, the old one kept;
#   3 owner = no: the table deleted from outside while a stream of opens
#     runs: the batch that finds it gone repairs it and is retried, so no
#     open fails, and every granted pinhole is in the kernel afterwards.
#
# dyperd runs as nobody in namespace IN (lib.sh's network); everything else
# lives in one mktemp -d directory.  Needs root and python3 (the raw control
# socket).  Output: "ok - ..." / "not ok - ...", then
# "robust: N passed, N failed".

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT"
need_tools nft python3 mkfifo

DPID=
DLOG=

bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"		# dyperd (nobody) re-reads config and policy on reload
CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
setup_network

# write_conf POLICY [LINE...]: the configuration with policy file POLICY;
# the LINEs go to [enforcer] (owner = no).
write_conf() {
	local pol=$1

	shift
	{
		echo "[daemon]"
		echo "user = nobody"
		echo "group = root"
		echo "agent_socket = $ASOCK"
		echo "control_socket = $CSOCK"
		echo "policy = $pol"
		echo "[enforcer]"
		printf '%s\n' "$@"
		echo "[limits]"
		echo "rate = 1000000"
		echo "burst = 1000000"
		echo "capacity = 100000"
		echo "max_per_user = 100000"
	} >"$CONF"
	chmod 644 "$CONF"
}

# write_policy FILE [RULE...]: everything from root to ports 1024-65535, and
# the RULEs.
write_policy() {
	local f=$1

	shift
	{
		echo "allow * * * * * * 1024-65535"
		printf '%s\n' "$@"
	} >"$f"
	chmod 644 "$f"
}

starts=0
start_dyperd() {
	starts=$((starts + 1))
	DLOG=$T/dyperd.$starts.log
	ip netns exec "$NS_IN" "$DYPERD" -c "$CONF" -f >"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
	poll 5000 0.02 ctl_quiet stats
}

stop_dyperd() {
	sig TERM "$DPID"
	wait_exit "$DPID" 5000
}

ctl() {
	timeout 20 "$DYPERCTL" -s "$CSOCK" "$@"
}

ctl_quiet() {
	ctl "$@" >/dev/null 2>&1
}

# ctl_raw BYTES: sends BYTES (a Python bytes literal's text) to the control
# socket as one write, prints what comes back until dyperd closes the
# connection, then "<EOF>", or "<TIMEOUT>" after 8 s.
ctl_raw() {
	python3 - "$CSOCK" "$1" <<'EOF'
import socket, sys, ast
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(ast.literal_eval("b'" + sys.argv[2] + "'"))
s.settimeout(8)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            out += b"<EOF>"
            break
        out += b
except socket.timeout:
    out += b"<TIMEOUT>"
except ConnectionResetError:
    out += b"<RESET>"
sys.stdout.write(out.decode(errors="replace"))
EOF
}

# expect_raw DESC BYTES ERE: the answer to BYTES matches ERE (grep -E over
# the whole answer, newlines as spaces).
expect_raw() {
	local out

	out=$(ctl_raw "$2" | tr '\n' ' ')
	if grep -qE -- "$3" <<<"$out"; then
		ok "$1 ($out)"
	else
		not_ok "$1: expected /$3/, got \"$out\""
	fi
}

# A string as an extended regular expression matching itself.
re() {
	# shellcheck disable=SC2001 # a bracket expression, not a ${//} pattern
	sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1"
}

nft_in() {
	ip netns exec "$NS_IN" nft "$@"
}

# kernel_count SET: elements in pinhole set SET of table inet dyper.
kernel_count() {
	nft_in -j list set inet dyper "$1" 2>/dev/null |
		python3 -c 'import json, sys
n = 0
text = sys.stdin.read()
for o in (json.loads(text)["nftables"] if text else []):
    if "set" in o:
        n = len(o["set"].get("elem", []))
print(n)'
}

write_conf "$POL"
write_policy "$POL"
start_dyperd || bail "dyperd did not start"
ok "dyperd runs in $NS_IN"

# --- 1. the control socket -------------------------------------------------------------------

ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 8080 --hold 30 \
	>"$T/c1" 2>&1 </dev/null &
client_bg_pid=$!
started $client_bg_pid
poll 5000 0.02 grep -q '^ok ' "$T/c1"
id=$(sed -n 's/^ok \([0-9]*\) .*/\1/p' "$T/c1")
if [ -n "$id" ] && out=$(ctl show "$id" 2>&1) && grep -qE "^$id +tcp " <<<"$out"; then
	ok "1: a client holds pinhole $id; dyperctl show $id shows it alone"
else
	not_ok "1: a client holds a pinhole and dyperctl show shows it ($(cat "$T/c1"))"
	diag_s "${out:-}"
fi
for bad in -1 +1 1x 0x10 99999999999999999999 4294967296 0; do
	expect_raw "1: show \"$bad\" is an error quoting the token" "show\\t$bad\\n" \
		"^ERR show: expected a pinhole id \\(1 to 4294967295\\), found \"$(re "${bad# }")\" <EOF>$"
done
expect_raw "1: close -5 is an error quoting \"-5\", not a close of 4294967291" 'close -5\n' \
	'^ERR close: expected a pinhole id \(1 to 4294967295\), found "-5" <EOF>$'
check "1: ... pinhole $id is still open" grep -qE "^$id " <<<"$(ctl list 2>&1)"
expect_raw "1: check with a uid of 20 digits is an error quoting it" \
	"check 99999999999999999999 tcp $A4 * $IN4 8080\\n" \
	'^ERR check: expected a numeric UID \(0 to 4294967294\), found "99999999999999999999" <EOF>$'
expect_raw "1: check with uid 4294967295 (no user) is an error" \
	"check 4294967295 tcp $A4 * $IN4 8080\\n" '^ERR check: expected a numeric UID'
expect_raw "1: check with uid -0 is an error" "check -0 tcp $A4 * $IN4 8080\\n" \
	'^ERR check: expected a numeric UID \(0 to 4294967294\), found "-0"'
expect_raw "1: check with port 65536 is an error quoting it" \
	"check 0 tcp $A4 * $IN4 65536\\n" '^ERR check: expected a port \(1 to 65535\), found "65536"'
expect_raw "1: check with delegate=-1 is an error quoting it" \
	"check 0 tcp $A4 * $IN4 8080 delegate=-1\\n" \
	'^ERR check: expected delegate=GID, a numeric gid \(0 to 4294967294\), found "-1"'
expect_raw "1: a good check still answers" "check 0 tcp $A4 * $IN4 8080 delegate=0\\n" \
	'^OK allowed: allowed by '
expect_raw "1: a control character in a token is quoted escaped" 'show 1\x1b[2J\n' \
	'found "1\\u001b\[2J"'
expect_raw "1: a NUL byte in a command is an error, the connection closed" 'stats\x00\n' \
	'^ERR the command line holds a NUL byte <EOF>$'
expect_raw "1: a NUL byte before any newline is refused at once" 'list\x00' \
	'^ERR the command line holds a NUL byte <EOF>$'
expect_raw "1: more than 32 arguments is an error" \
	"check $(printf 'x %.0s' $(seq 40))\\n" '^ERR more than 32 arguments <EOF>$'
expect_raw "1: 4095 bytes without a newline (a line over 4094) is an error" \
	"$(printf 'x%.0s' $(seq 4095))" '^ERR expected a command line of at most 4094 bytes <EOF>$'

# idle connections: 12 that send nothing or half a line, held open (dyperd
# takes at most 16 control connections at once: room is left for dyperctl)
IDLE=12
nfd0=$(ls "/proc/$DPID/fd" | wc -l)
python3 - "$CSOCK" "$IDLE" >"$T/idle" 2>&1 <<'EOF' &
import socket, sys, time
conns = []
n = int(sys.argv[2])
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    if i % 2:
        s.sendall(b"sta")
    conns.append(s)
print("connected", flush=True)
t0 = time.monotonic()
closed, first = 0, ""
for s in conns:
    s.settimeout(max(0.1, 12 - (time.monotonic() - t0)))
    data = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                closed += 1
                break
            data += b
    except socket.timeout:
        pass
    first = first or data.decode(errors="replace").replace("\n", " ")
print("closed %d of %d after %.1f s: %s" % (closed, n, time.monotonic() - t0, first), flush=True)
time.sleep(1)
EOF
idle_pid=$!
started $idle_pid
poll 3000 0.02 grep -q connected "$T/idle"
sleep 0.3
nfd1=$(ls "/proc/$DPID/fd" | wc -l)
if [ $((nfd1 - nfd0)) -ge "$IDLE" ] && ctl_quiet stats; then
	ok "1: $IDLE idle control connections hold $((nfd1 - nfd0)) descriptors; dyperctl still answers"
else
	not_ok "1: $IDLE idle control connections are held ($nfd0 -> $nfd1 descriptors)"
fi
poll 15000 0.1 grep -q '^closed' "$T/idle"
if grep -qE "^closed $IDLE of $IDLE .*ERR no complete command line within 5 s: closed" "$T/idle"; then
	ok "1: dyperd closes all $IDLE idle connections with an error: $(cat "$T/idle")"
else
	not_ok "1: dyperd closes all $IDLE idle connections with an error"
	diag "$T/idle"
fi
nfd2=$(ls "/proc/$DPID/fd" | wc -l)
check "1: ... and their descriptors are released ($nfd1 -> $nfd2)" [ "$nfd2" -le "$nfd0" ]
sig KILL "$client_bg_pid"
wait_exit "$client_bg_pid" 3000

# --- 2. reload beside the loop ------------------------------------------------------------------

# bg_reload NAME: dyperctl reload in the background, its output in $T/NAME
# and, once it exits, its status in $T/NAME.rc.
bg_reload() {
	( ctl reload >"$T/$1" 2>&1; echo $? >"$T/$1.rc" ) </dev/null &
	started $!
}

# 2a: the policy is a FIFO nobody writes yet: reading it blocks, as a hung
# file system would.  Everything but the reload goes on.
mkfifo -m 644 "$T/policy.fifo"
write_conf "$T/policy.fifo"
bg_reload r2a
sleep 0.3
if out=$(timeout 5 "$DYPERCTL" -s "$CSOCK" stats 2>&1) && grep -qE '^pinholes ' <<<"$out"; then
	ok "2: while a reload waits for its policy file, dyperctl stats answers"
else
	not_ok "2: while a reload waits for its policy file, dyperctl stats answers (exit $?)"
fi
r=$(timeout 10 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 8150 2>&1 </dev/null)
if [[ $r == ok* ]]; then
	ok "2: ... and an agent's open is granted ($r)"
else
	not_ok "2: ... and an agent's open is granted (\"$r\")"
fi
check "2: ... and the reload has not answered yet" [ ! -e "$T/r2a.rc" ]
# the writer unblocks the reader; a FIFO is no policy file
timeout 5 sh -c "echo 'allow * * * * * * *' >'$T/policy.fifo'" 2>/dev/null
poll 10000 0.05 test -e "$T/r2a.rc"
if [ "$(cat "$T/r2a.rc" 2>/dev/null)" = 1 ] &&
	grep -q "reload failed, old policy kept: $T/policy.fifo: .*regular file" "$T/r2a"; then
	ok "2: ... then it is refused: $(cat "$T/r2a")"
else
	not_ok "2: the reload of a FIFO is refused, old policy kept"
	diag "$T/r2a"
fi
out=$(ctl check 0 tcp "$A4" '*' "$IN4" 80 delegate=0 2>&1)
check "2: ... the old policy stays in force (port 80 still denied)" grep -q '^denied: no allow rule matches' <<<"$out"

# 2b: 100,000 rules, each naming users and groups (looked up while parsing),
# the last one new: a deny of 8151.  A stream of opens runs meanwhile.
BIG=$T/policy.big
{
	echo "allow * * * * * * 1024-65535"
	awk 'BEGIN { for (i = 1; i <= 99998; i++)
		printf "deny root,daemon nobody,root udp 198.51.100.%d * * %d\n", i % 250 + 1, i % 60000 + 1 }'
	echo "deny * * tcp * * * 8151"
} >"$BIG"
chmod 644 "$BIG"
write_conf "$BIG"
ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" stream 3 60000 tcp "$A4" "$IN4" 9100 \
	>"$T/stream2" 2>&1 </dev/null &
started $!
poll 5000 0.01 grep -qs '^started' "$T/stream2"
bg_reload r2b
poll 60000 0.1 test -e "$T/r2b.rc"
if [ "$(cat "$T/r2b.rc" 2>/dev/null)" = 0 ] &&
	grep -q "^reloaded: 100000 policy rules from $BIG" "$T/r2b"; then
	ok "2: a policy of 100,000 rules is reloaded: $(cat "$T/r2b")"
else
	not_ok "2: a policy of 100,000 rules is reloaded"
	diag "$T/r2b"
fi
poll 15000 0.05 grep -qs '^stream:' "$T/stream2"
if grep -qE '^stream: [1-9][0-9]* ok, 0 failed, 0 unanswered' "$T/stream2"; then
	ok "2: opens went on meanwhile: $(grep '^stream:' "$T/stream2")"
else
	not_ok "2: opens went on during the reload"
	diag "$T/stream2"
fi
out=$(ctl check 0 tcp "$A4" '*' "$IN4" 8151 delegate=0 2>&1)
check "2: the new policy is in force: $(head -n1 <<<"$out")" \
	grep -q "^denied: denied by $BIG:100000" <<<"$out"
r=$(timeout 10 ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$IN4" 8151 2>&1 </dev/null)
expect_denied() {
	[[ $r == "err -13 "* ]]
}
check "2: ... an open of 8151 is denied ($r)" expect_denied

# 2c: the same with a broken last line: refused, the 100,000 rules stay
sed -i '$ s/.*/allow * * tcp * notaport * */' "$BIG"
bg_reload r2c
poll 60000 0.1 test -e "$T/r2c.rc"
if [ "$(cat "$T/r2c.rc" 2>/dev/null)" = 1 ] && grep -qF "$BIG:100000:" "$T/r2c"; then
	ok "2: a broken policy of 100,000 lines is refused: $(cat "$T/r2c")"
else
	not_ok "2: a broken policy of 100,000 lines is refused with $BIG:100000:"
	diag "$T/r2c"
fi
out=$(ctl check 0 tcp "$A4" '*' "$IN4" 8151 delegate=0 2>&1)
check "2: ... the previous policy stays in force" grep -q "^denied: denied by $BIG:100000" <<<"$out"

# 2d: two reloads asked for at once, and a SIGHUP: each asker is answered
write_policy "$POL"
write_conf "$POL"
bg_reload r2d1
bg_reload r2d2
sig HUP "$DPID"
poll 30000 0.1 eval 'test -e "$T/r2d1.rc" && test -e "$T/r2d2.rc"'
if grep -q "^reloaded: 1 policy rules from $POL" "$T/r2d1" &&
	grep -q "^reloaded: 1 policy rules from $POL" "$T/r2d2"; then
	ok "2: two reloads at once (and a SIGHUP): both answered with the new policy"
else
	not_ok "2: two reloads at once: both answered with the new policy"
	diag "$T/r2d1"
	diag "$T/r2d2"
fi
out=$(ctl -j reload 2>&1)
if python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if d["reloaded"] else 1)' "$out"; then
	ok "2: dyperctl -j reload answers JSON ($out)"
else
	not_ok "2: dyperctl -j reload answers JSON ($out)"
fi

# --- 3. owner = no: the table deleted under a stream of opens -----------------------------------

stop_dyperd || not_ok "3: dyperd stops"
nft_in delete table inet dyper 2>/dev/null	# the owned one: owner = no makes its own
write_conf "$POL" "owner = no"
start_dyperd || bail "3: dyperd starts with owner = no"
ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" stream 5 60000 tcp "$A4" "$IN4" 9000 --hold 30 \
	>"$T/stream" 2>&1 </dev/null &
stream_pid=$!
started $stream_pid
if poll 5000 0.01 grep -qs '^started' "$T/stream"; then
	if nft_in delete table inet dyper 2>"$T/cmd"; then
		ok "3: nft delete table inet dyper while the stream runs"
	else
		not_ok "3: nft delete table inet dyper (owner = no) succeeds"
		diag "$T/cmd"
	fi
else
	not_ok "3: the stream of opens started"
fi
poll 15000 0.05 grep -q '^stream:' "$T/stream"
granted=$(sed -n 's/^stream: \([0-9]*\) ok.*/\1/p' "$T/stream")
if grep -qE '^stream: [0-9]+ ok, 0 failed, 0 unanswered' "$T/stream" && [ "${granted:-0}" -gt 0 ]; then
	ok "3: no open failed: $(grep '^stream:' "$T/stream")"
else
	not_ok "3: no open failed across the table's deletion"
	diag "$T/stream"
fi
if grep -q 'repair: a transaction of' "$DLOG"; then
	ok "3: dyperd repaired the table: $(grep -m1 'repair: a transaction of' "$DLOG")"
else
	not_ok "3: dyperd logged a repair"
	diag "$DLOG" 5
fi
all_back() {
	[ "$(kernel_count pinholes4)" = "$granted" ]
}
if poll 5000 0.1 all_back; then
	ok "3: every granted pinhole ($granted) is in the kernel again"
else
	not_ok "3: every granted pinhole ($granted) is in the kernel again ($(kernel_count pinholes4))"
fi
if nft_in list chain inet dyper input 2>/dev/null | grep -q '@pinholes4 accept'; then
	ok "3: the table's rules are back"
else
	not_ok "3: the table's rules are back"
fi
sig KILL "$stream_pid"
wait_exit "$stream_pid" 3000
stop_dyperd || not_ok "3: dyperd stops"
nft_in delete table inet dyper 2>/dev/null

summary
