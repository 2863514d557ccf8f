#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# border_devices.sh: border mode end to end with the site driving border
# devices (issue 11): a wrapped application's bind on a host, through SSH
# (Debian's sshd, forced command dyper-remote) and the site controller
# ([site] router = no, [device NAME] sections), to each stand-in device's
# ACL state (tests/fixtures/devsim, one per vendor: IOS, FTOS, JunOS, and
# IronWare when devsim has it), and back out at close.
#
#   A (dyt-PID-a) 192.0.2.2 ----\
#   B (dyt-PID-b) 192.0.2.3 -----+- br0 in dyt-PID-sw
#   H (dyt-PID-in) 192.0.2.1 ---/|   dyperd [remote], vsftpd (wrapped), dyper-client
#                  2001:db8:1::1 |
#   S (dyt-PID-s) 192.0.2.4 -----/   sshd, dyper-remote --delegate hostA,
#                                    dyperd in site mode (router = no),
#                                    devsim on 198.51.100.201... (S's lo)
#
# The host's own table enforces on H (vsftpd's passive data connections
# from A need its pinhole); the site drives the devices only.  A device's
# entries are compared with the host's open set (dyperctl list): exactly
# equal, 0 lost, 0 leaked, in the vendor's syntax, before the site's deny.
# Cases:
#  1. every vendor at once, no guards: vsftpd's PASV bind on H -> the entry
#     on every device; the download passes (sha256); the close -> gone.
#  2. guards: a device for 192.0.2.0/24 and one for 2001:db8:1::/48 beside
#     an unguarded one: each pinhole only on its devices.
#  3. a stream of binds and closes while each device misbehaves (a refused
#     line, a session dropped mid-batch, an IOS reload, a JunOS session lost
#     after commit confirmed, a slow commit, slow commands): afterwards every
#     device holds exactly the host's open set.
#  4. two devices, one failing: binds succeed through the other; its
#     backlog is reconciled when it returns (restarted empty; or refusing
#     sessions while it keeps its ACL); a slow device (seconds per command,
#     lag 1 s) does not hold binds back: each is answered before the slow
#     device has applied it.
#  5. the site controller restarted (SIGTERM) with entries on the devices:
#     nothing deleted or re-added on them (devsim's command log), the host's
#     SYNC claims them (dyperctl list on the site), the closes remove them.
# Output: "ok - ..." / "not ok - ..." per check, then "border_devices: N
# passed, N failed"; 77 when not root (skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd_lib.sh
. "$(dirname "$0")/sshd_lib.sh"
# shellcheck source-path=SCRIPTDIR source=ftp.sh
. "$(dirname "$0")/ftp.sh"

CLIENT=$BDIR/tests/tools/dyper-client
REMOTE=$BDIR/bin/dyper-remote

need_root
need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$AGENT_SO" "$REMOTE" "$CLIENT" "$PROBE" \
	"$BDIR/tests/fixtures/devsim"
need_sshd
PATH=$PATH:/usr/sbin:/sbin need_tools python3 nft ip vsftpd curl sha256sum
need_ids "user nobody" "group daemon" "group nogroup"

NS_S=dyt-$$-s
S4=192.0.2.4 S6=2001:db8:1::4

start_test
chmod 755 "$T"		# vsftpd (as ftp) and dyperd (as nobody) read from here
sshd_prepare
LOGD=$T/log PUB=$T/pub EMPTY=$T/empty OUT=$T/out
NS_H=$NS_IN H4=$IN4 SITE4=$S4 NS_SITE=$NS_S
# shellcheck source-path=SCRIPTDIR source=border_lib.sh
. "$(dirname "$0")/border_lib.sh"
# shellcheck source-path=SCRIPTDIR source=devsim_lib.sh
. "$(dirname "$0")/devsim_lib.sh"
mkdir -p "$LOGD" "$PUB" "$EMPTY" "$OUT" || bail "mkdir in $T"
chmod 755 "$PUB" "$EMPTY"
head -c 2000000 /dev/urandom >"$PUB/f.bin" && chmod 644 "$PUB/f.bin"
SUM=$(sha256sum <"$PUB/f.bin" | cut -d' ' -f1)

bail_diag() {
	diag "$SLOG" 30
	diag "$DLOG" 10
}

# --- the network, the devices, the site ----------------------------------------------

setup_network
add_netns "$NS_S"
bridge_host "$NS_SW" br0 s "$NS_S" "$S4" "$S6"

devsim_keys
VENDORS=(ios ftos junos)
"$DEVSIM" --vendor ironware 2>&1 | grep -q -- '--vendor ios|ftos|junos$' ||
	VENDORS+=(ironware)
addr=200
for v in "${VENDORS[@]}"; do
	addr=$((addr + 1))
	start_devsim "$v" "$v" "$NS_S" "198.51.100.$addr"
done

mkdir -m 0755 "$T/site-run"
cat >"$T/site.policy" <<EOF
# hostA opens pinholes to itself only (paper §4.2)
allow hostA * * * * $IN4,$IN6 *
EOF
chmod 644 "$T/site.policy"

# per device: lines for its [device] section beyond the common ones, and
# the local addresses it is for (a regex on them; default: every one)
declare -A DEV_EXTRA=() DEV_FOR=()

# site_conf NAME...: $T/site.conf, router = no, a [device] section per NAME
# ($SITE_EXTRA: more lines for [site])
site_conf() {
	local name

	{
		cat <<EOF
[daemon]
user = nobody
group = nogroup
control_socket = $SCTL
agent_socket = $T/site-run/agent.sock
log_level = debug
[site]
enable = yes
name = test-site
socket = $T/site-run/site.sock
account = root
policy = $T/site.policy
router = no
max_lease = 120s
${SITE_EXTRA:-}
EOF
		for name in "$@"; do
			cat <<EOF
[device $name]
type = ${DEVSIM_VENDOR[$name]}
address = ${DEVSIM_ADDR[$name]}
user = $DEVSIM_USER
key = $T/devsim_client_key
known_hosts = $T/devsim_known_hosts
acl = DYPER_IN
acl6 = DYPER_IN6
${DEV_EXTRA[$name]:-}
EOF
		done
	} >"$T/site.conf"
	chmod 644 "$T/site.conf"
}

# sctl ARG...: dyperctl against the site controller
sctl() {
	ip netns exec "$NS_S" "$DYPERCTL" -s "$SCTL" "$@"
}

# devices_up N: the site's N devices are all up
devices_up() {
	[ "$(sctl stats 2>/dev/null | grep -Ec '^device +[^ ]+ +up ')" = "$1" ]
}

# use_site NAME...: the site controller (re)started with those devices;
# waits until H's dyperd has its session again.
use_site() {
	[ -n "$SITE_PID" ] && stop_site
	site_conf "$@"
	start_site || bail "the site controller did not start with devices $* (see $SLOG)"
	poll 20000 0.1 devices_up "$#" || bail "the site's devices are not all up: $(sctl stats 2>&1)"
	[ -z "$DPID" ] || poll 20000 0.1 site_ready ||
		bail "H's dyperd has no session with the site (devices $*)"
}

run ssh-keygen -q -t ed25519 -N '' -C "hostA's key" -f "$T/hostA_key"
sshd_write_config "$S4"
echo "$S4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
chmod 644 "$T/known_hosts"
chown nobody "$T/hostA_key"
chmod 600 "$T/hostA_key"
sshd_authorize "$T/hostA_key.pub" "$REMOTE --delegate hostA --socket $T/site-run/site.sock"
start_sshd "$NS_S" "$S4" || bail "sshd did not listen on $S4:22"

{
	echo "allow * * tcp 192.0.2.0/24 * $IN4 1024-65535"
	echo "allow * * tcp 2001:db8:1::/64 * $IN6 1024-65535"
} >"$T/policy"
chmod 644 "$T/policy"
REQUEST_TIMEOUT=10s write_conf fail

# --- the sets compared ---------------------------------------------------------------

# host_open_set: the pinholes H's dyperd holds, as devsim_entries prints them
host_open_set() {
	ctl list -j 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    rp = "*" if p["remote_port"] is None else str(p["remote_port"])
    print(p["proto"], p["remote"], rp, p["local"], p["local_port"])' | sort
}

# want_on NAME: what device NAME must hold: the host's open set, those of
# its local addresses only
want_on() {
	host_open_set | awk -v re="${DEV_FOR[$1]:-.}" '$4 ~ re'
}

converged() {
	local name

	for name in "$@"; do
		[ "$(devsim_entries "$name")" = "$(want_on "$name")" ] && devsim_hw_current "$name" ||
			return 1
	done
}

# expect_converged DESC MAX_MS NAME...: within MAX_MS every device NAME
# holds exactly what it must (and the deny is still last); the counts
# printed either way
expect_converged() {
	local desc=$1 ms=$2 name want got lost leaked n_host counts='' bad=0

	shift 2
	poll "$ms" 0.2 converged "$@"
	n_host=$(host_open_set | grep -c .)
	for name in "$@"; do
		want=$(want_on "$name")
		got=$(devsim_entries "$name")
		lost=$(comm -23 <(echo "$want" | sed '/^$/d') <(echo "$got" | sed '/^$/d') | grep -c .)
		leaked=$(comm -13 <(echo "$want" | sed '/^$/d') <(echo "$got" | sed '/^$/d') | grep -c .)
		counts+=" $name $(grep -c . <<<"$got")/$(grep -c . <<<"$want") ($lost lost, $leaked leaked);"
		if [ "$lost" != 0 ] || [ "$leaked" != 0 ]; then
			bad=1
			diag_s "$name lost:"$'\n'"$(comm -23 <(echo "$want") <(echo "$got"))"
			diag_s "$name leaked:"$'\n'"$(comm -13 <(echo "$want") <(echo "$got"))"
		elif ! devsim_deny_last "$name"; then
			bad=1
			counts+=" $name's deny is not last;"
		elif ! devsim_hw_current "$name"; then
			bad=1
			counts+=" $name's hardware is stale (no rebind-acl);"
		fi
	done
	if [ $bad = 0 ]; then
		ok "$desc: $n_host open on H;$counts"
	else
		not_ok "$desc: $n_host open on H;$counts"
		diag "$SLOG" 15
	fi
}

# --- pinholes held by dyper-client on H ------------------------------------------------

declare -A HOLD_PID=()
# hold KEY PROTO REMOTE LOCAL PORT: a socket bound to LOCAL:PORT on H, a
# pinhole asked for it (from REMOTE, any port), held (and echoing) until
# unhold KEY; its answer in $T/hold.KEY
hold() {
	local key=$1

	rm -f "$T/hold.$key"
	ip netns exec "$NS_H" "$CLIENT" -s "$ASOCK" open "$2" "$3" '*' "$4" "$5" --hold 400 \
		>"$T/hold.$key" 2>&1 </dev/null &
	HOLD_PID[$key]=$!
	started "${HOLD_PID[$key]}"
}

answered() {
	grep -q '^ok \|^err \|dyper-client' "$T/hold.$1" 2>/dev/null
}

# hold_wait KEY: waits (20 s at most) for the answer; 0 if ok
hold_wait() {
	poll 20000 0.05 answered "$1" && grep -q '^ok ' "$T/hold.$1"
}

# unhold KEY: the holder ends (SIGTERM), its socket closes, so the pinhole
unhold() {
	sig TERM "${HOLD_PID[$1]}"
	wait_exit "${HOLD_PID[$1]}" 5000
	unset "HOLD_PID[$1]"
}

unhold_all() {
	local key

	for key in "${!HOLD_PID[@]}"; do
		unhold "$key"
	done
}

# --- 1: each driver end to end from vsftpd's bind ---------------------------------------

use_site "${VENDORS[@]}"
ok "1: the site controller runs with router = no and devices: ${VENDORS[*]}"
start_dyperd || bail "dyperd did not start in $NS_H (see $DLOG)"
poll 20000 0.1 site_ready || bail "H's dyperd did not reach the site (see $DLOG)"
wrapped || bail "wrapped vsftpd did not listen"

# held_in_syntax NAME PORT: NAME holds A's pinhole to H's PORT, in its
# vendor's exact syntax, before the deny
held_in_syntax() {
	local f=$T/$1.state

	case ${DEVSIM_VENDOR[$1]} in
	ios | ironware)
		grep -Eq "^v4 [0-9]+ [0-9]+ permit tcp host $A4 host $H4 eq $2\$" "$f" ;;
	ftos)
		grep -Eq "^v4 [0-9]+ [0-9]+ permit tcp host $A4 host $H4 eq $2 count\$" "$f" ;;
	junos)
		local t

		t=$(grep -E "^set firewall family inet filter DYPER_IN term [^ ]+ from destination-port $2\$" "$f" |
			cut -d' ' -f8)
		[ -n "$t" ] && [ "$(grep -c " term $t " "$f")" -ge 5 ] &&
			grep -qx "set firewall family inet filter DYPER_IN term $t from source-address $A4/32" "$f" &&
			grep -qx "set firewall family inet filter DYPER_IN term $t from destination-address $H4/32" "$f" &&
			grep -qx "set firewall family inet filter DYPER_IN term $t from protocol tcp" "$f" &&
			grep -qx "set firewall family inet filter DYPER_IN term $t then count $t" "$f" &&
			grep -qx "set firewall family inet filter DYPER_IN term $t then accept" "$f" ;;
	esac && devsim_deny_last "$1"
}

rm -f "$T/port" "$T/go"
ip netns exec "$NS_A" python3 "$PASV_CLIENT" "$H4" "$T/port" "$T/go" f.bin "$OUT/pasv1" \
	>"$LOGD/pasv1.out" 2>&1 &
CPID=$!
started $CPID
if poll 10000 0.05 test -s "$T/port"; then
	port=$(cat "$T/port")
	for v in "${VENDORS[@]}"; do
		if held_in_syntax "$v" "$port"; then
			ok "1: $v holds A's pinhole to H:$port in its syntax, before the deny"
		else
			not_ok "1: $v holds A's pinhole to H:$port in its syntax, before the deny"
			diag "$T/$v.state"
		fi
	done
	expect_converged "1: while the client waits, every device holds exactly H's open set" 5000 "${VENDORS[@]}"
	if ctl list 2>&1 | grep -q " $H4:$port .* site: open at site"; then
		ok "1: dyperctl list on H shows it open at the site"
	else
		not_ok "1: dyperctl list on H shows it open at the site"
		ctl list >"$T/list" 2>&1
		diag "$T/list"
	fi
else
	not_ok "1: the scripted client on A got a PASV reply"
	diag "$LOGD/pasv1.out"
	diag "$SLOG" 20
fi
touch "$T/go"
wait_exit "$CPID" 20000
if [ "$(sha256sum <"$OUT/pasv1" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ]; then
	ok "1: passive FTP from A to the wrapped vsftpd works (sha256 matches)"
else
	not_ok "1: passive FTP from A to the wrapped vsftpd works"
	diag "$LOGD/pasv1.out"
fi
expect_converged "1: after the close, the entry is gone from every device" 10000 "${VENDORS[@]}"
expect_fetch "1: curl from A, passive" "$NS_A" curl1
expect_converged "1: and after curl's download too" 10000 "${VENDORS[@]}"
stop_vsftpd

# --- 2: guards -------------------------------------------------------------------------

start_devsim g4 ios "$NS_S" 198.51.100.211
start_devsim g6 junos "$NS_S" 198.51.100.212
DEV_EXTRA[g4]="guards = 192.0.2.0/24"
DEV_FOR[g4]='\.'
DEV_EXTRA[g6]="guards = 2001:db8:1::/48"
DEV_FOR[g6]=':'
use_site g4 g6 ftos
for i in 1 2 3; do
	hold "g4-$i" tcp "$A4" "$IN4" $((31000 + i))
	hold "g6-$i" tcp "$A6" "$IN6" $((31000 + i))
done
n=0
for i in 1 2 3; do
	hold_wait "g4-$i" && n=$((n + 1))
	hold_wait "g6-$i" && n=$((n + 1))
done
check "2: 6 binds (3 v4, 3 v6) succeed ($n ok)" test $n -eq 6
expect_converged "2: each pinhole on its devices only (g4: v4, g6: v6, ftos: both)" 10000 g4 g6 ftos
expect_pass "2: real bytes: A -> H:31001 (v4) through H's pinhole" "$NS_A" tcp "$IN4" 31001
expect_pass "2: real bytes: A -> H:31002 (v6) through H's pinhole" "$NS_A" tcp "$IN6" 31002
expect_drop "2: B cannot use A's pinhole" "$NS_B" tcp "$IN4" 31001
unhold g4-2
unhold g6-3
expect_converged "2: after two closes" 10000 g4 g6 ftos
unhold_all
expect_converged "2: after every close, none left" 10000 g4 g6 ftos
stop_devsim g4
stop_devsim g6

# --- 3: faults during a stream of binds and closes --------------------------------------

# fail_text VENDOR PORT: text of that vendor's line adding a pinhole to PORT
fail_text() {
	case $1 in
	junos) echo "destination-port $2" ;;
	*) echo "eq $2" ;;
	esac
}

use_site "${VENDORS[@]}"
declare -A CMDS0=()
for v in "${VENDORS[@]}"; do
	CMDS0[$v]=$(wc -l <"$T/$v.cmds")
done
s_ok=0 s_err=0 s_closed=0
# stream ROUND: 10 binds at once (v4 and v6), then closes of some of
# the round before
stream() {
	local r=$1 i key

	for ((i = 0; i < 10; i++)); do
		key=s$r-$i
		if ((i % 3 == 2)); then
			hold "$key" tcp "$A6" "$IN6" $((32000 + r * 20 + i))
		else
			hold "$key" tcp "$A4" "$IN4" $((32000 + r * 20 + i))
		fi
	done
	for ((i = 0; i < 10; i++)); do
		if hold_wait "s$r-$i"; then
			s_ok=$((s_ok + 1))
		else
			s_err=$((s_err + 1))
		fi
	done
	if [ "$r" -gt 0 ]; then
		for i in 1 5 8; do
			unhold "s$((r - 1))-$i"
			s_closed=$((s_closed + 1))
		done
	fi
}
# round 0: a line refused on every device (the pinhole to 32003)
for v in "${VENDORS[@]}"; do
	devsim_control "$v" "fail-match $(fail_text "$v" 32003)"
done
stream 0
# round 1: sessions dropped mid-batch, IOS reloads, JunOS loses the session
# after commit confirmed
for v in "${VENDORS[@]}"; do
	case $v in
	ios) devsim_control ios "reload" ;;
	junos) devsim_control junos "drop-after-confirm" ;;
	*) devsim_control "$v" "drop-line 2" ;;
	esac
done
stream 1
# round 2: slow commits and commands; IOS drops a session too
devsim_control junos "commit-delay-ms 3000"
devsim_control ftos "cmd-delay-us 200000"
devsim_control ios "drop-line 3"
stream 2
# round 3: back to normal; the refused pinhole closes
devsim_control junos "commit-delay-ms 0"
devsim_control ftos "cmd-delay-us 0"
unhold s0-3
stream 3
echo "# stream: $s_ok binds ok, $s_err failed, $s_closed closes (+1 refused one)"
check "3: binds under faults are answered (ok or refused), none hangs: $s_ok ok, $s_err failed" \
	test $((s_ok + s_err)) -eq 40
if grep -q '^err ' "$T/hold.s0-3"; then
	ok "3: the pinhole whose line every device refused is refused to H: $(cat "$T/hold.s0-3")"
else
	not_ok "3: the pinhole whose line every device refused is refused to H"
	diag "$T/hold.s0-3"
fi
# the faults happened: each device's sessions were cut (IOS twice: the
# reload and a dropped line), so many new logins in its command log (the
# paging-off command each session starts with)
for v in "${VENDORS[@]}"; do
	n=$(tail -n +$((CMDS0[$v] + 1)) "$T/$v.cmds" |
		grep -Ecx 'terminal length 0|set cli screen-length 0|skip-page-display')
	want=1
	[ "$v" = ios ] && want=2
	check "3: $v: the faults cut its session: $n new sessions during the stream" \
		test "$n" -ge $want
done
sctl stats 2>&1 | grep '^device ' | sed 's/^/# /'
expect_converged "3: after recovery every device holds exactly H's open set" 60000 "${VENDORS[@]}"
unhold_all
expect_converged "3: after closing everything, none left on any device" 30000 "${VENDORS[@]}"
sctl stats 2>&1 | grep '^device ' | sed 's/^/# /'

# --- 4: two devices, one failing; a slow one ------------------------------------------

start_devsim d1 ios "$NS_S" 198.51.100.221
start_devsim d2 ftos "$NS_S" 198.51.100.222
DEV_EXTRA[d1]="lag = 1s"
DEV_EXTRA[d2]="lag = 1s"
use_site d1 d2
n=0
for i in 0 1 2 3; do
	hold "f-$i" tcp "$A4" "$IN4" $((33000 + i))
	hold_wait "f-$i" && n=$((n + 1))
done
check "4: with both devices up, 4 binds succeed ($n)" test $n -eq 4
expect_converged "4: both hold them" 10000 d1 d2
# d2 stops (SIGTERM to its devsim)
stop_devsim d2
unhold f-1
n=0
for i in 4 5 6 7; do
	hold "f-$i" tcp "$A4" "$IN4" $((33000 + i))
	hold_wait "f-$i" && n=$((n + 1))
done
check "4: d2 stopped: 4 more binds succeed through d1 ($n)" test $n -eq 4
# doctor on the site: the running site's word on d1 (no second login), d2
# unreachable, and none of a host's checks (table, wrapper, agent)
ip netns exec "$NS_S" "$DYPERCTL" -c "$T/site.conf" doctor >"$T/doctor.out" 2>&1
check "4: doctor on the site: d1 as the running site sees it (up)" \
	grep -Eq '^ok +device-d1-site: the site.s session: up' "$T/doctor.out"
check "4: doctor on the site: d2 unreachable is a FAIL" \
	grep -Eq '^FAIL +device-d2-reach: .*refused' "$T/doctor.out"
if grep -Eq '^[a-zA-Z]+ +(table|wrapper|agent|listeners|chains):' "$T/doctor.out"; then
	not_ok "4: doctor on the site runs no host checks"
	diag "$T/doctor.out" 20
else
	ok "4: doctor on the site runs no host checks"
fi
expect_converged "4: d1 holds exactly H's open set meanwhile" 10000 d1
start_devsim d2 ftos "$NS_S" 198.51.100.222
expect_converged "4: d2 restarted empty: its backlog is reconciled" 60000 d1 d2
# d2 refuses sessions for 8 s while keeping its ACL: what closes meanwhile
# must go from it when it returns, what opens must come
devsim_control d2 "drop-line 1" "refuse-ms 8000"
unhold f-2
unhold f-4
n=0
for i in 8 9; do
	hold "f-$i" tcp "$A4" "$IN4" $((33000 + i))
	hold_wait "f-$i" && n=$((n + 1))
done
check "4: d2 unreachable: 2 more binds succeed through d1 ($n)" test $n -eq 2
expect_converged "4: d1 holds exactly H's open set meanwhile" 10000 d1
expect_converged "4: d2 back: opened ones added, closed ones removed" 60000 d1 d2
# d2 slow: 2 s per command, its lag 1 s
devsim_control d2 "cmd-delay-us 2000000"
slow_held=0 n=0
for i in 10 11; do
	hold "f-$i" tcp "$A4" "$IN4" $((33000 + i))
	t0=$(now_ms)
	if hold_wait "f-$i"; then
		n=$((n + 1))
		echo "# bind to $((33000 + i)) with d2 slow answered in $(($(now_ms) - t0)) ms"
		devsim_entries d2 | grep -q " $((33000 + i))\$" && slow_held=$((slow_held + 1))
		devsim_entries d1 | grep -q " $((33000 + i))\$" || not_ok "4: d1 held $((33000 + i)) when its bind returned"
	fi
done
check "4: d2 slow: binds are answered ($n of 2)" test $n -eq 2
check "4: ... before d2 applied them (they did not wait for it: $slow_held of 2 on d2 then)" \
	test $slow_held -eq 0
devsim_control d2 "cmd-delay-us 0"
expect_converged "4: d2 fast again: it caught up" 60000 d1 d2
unhold_all
expect_converged "4: after closing everything, none left" 30000 d1 d2
stop_devsim d1
stop_devsim d2

# --- 5: the site controller restarted with entries on the devices ---------------------------

SITE_EXTRA="audit_interval = 2s" use_site "${VENDORS[@]}"
for i in 0 1 2 3 4; do
	if [ $i = 4 ]; then
		hold "r-$i" tcp "$A6" "$IN6" $((34000 + i))
	else
		hold "r-$i" tcp "$A4" "$IN4" $((34000 + i))
	fi
done
n=0
for i in 0 1 2 3 4; do
	hold_wait "r-$i" && n=$((n + 1))
done
check "5: 5 binds succeed ($n)" test $n -eq 5
expect_converged "5: every device holds them" 10000 "${VENDORS[@]}"
for v in "${VENDORS[@]}"; do
	CMDS0[$v]=$(wc -l <"$T/$v.cmds")
done
stop_site
if sctl stats >/dev/null 2>&1; then
	not_ok "5: the site controller stopped (SIGTERM)"
fi
start_site || bail "the site controller did not restart (see $SLOG)"
poll 20000 0.1 site_ready || not_ok "5: H's dyperd has a session with the restarted site"
# claimed: the site lists each of them under hostA again
claimed() {
	local out i

	out=$(sctl list 2>/dev/null)
	for i in 0 1 2 3; do
		grep -Eq "hostA +tcp +$A4:\\* +$IN4:$((34000 + i)) " <<<"$out" || return 1
	done
	grep -Eq "hostA +tcp +\\[$A6\\]:\\* +\\[$IN6\\]:34004 " <<<"$out"
}
if poll 20000 0.1 claimed; then
	ok "5: after H's SYNC the restarted site lists the 5 under hostA (claimed)"
else
	not_ok "5: after H's SYNC the restarted site lists the 5 under hostA (claimed)"
	sctl list >"$T/slist" 2>&1
	diag "$T/slist"
fi
expect_converged "5: every device still holds exactly H's open set" 10000 "${VENDORS[@]}"
for v in "${VENDORS[@]}"; do
	tail -n +$((CMDS0[$v] + 1)) "$T/$v.cmds" >"$T/$v.cmds.5"
	case ${DEVSIM_VENDOR[$v]} in
	junos) churn=$(grep -Ec '^(delete|set|insert) firewall ' "$T/$v.cmds.5") ;;
	*) churn=$(grep -Ec '^no |^seq |permit ' "$T/$v.cmds.5") ;;
	esac
	if [ "$churn" = 0 ]; then
		ok "5: $v: nothing deleted or re-added across the restart ($(grep -c . "$T/$v.cmds.5") commands, all reads)"
	else
		not_ok "5: $v: nothing deleted or re-added across the restart ($churn changing lines)"
		diag "$T/$v.cmds.5"
	fi
done
# the counter audit: each device's entries match 7 packets more; the
# site's list shows the sum over the devices
for v in "${VENDORS[@]}"; do
	devsim_control "$v" "bump 7"
done
want_packets=$((7 * ${#VENDORS[@]}))
counted() {
	sctl list -j 2>/dev/null | python3 -c '
import json, sys
l = json.load(sys.stdin)
sys.exit(0 if len(l) == 5 and all(p["packets"] == int(sys.argv[1]) for p in l) else 1)' \
		"$want_packets"
}
if poll 20000 0.2 counted; then
	ok "5: the counter audit feeds the site's dyperctl list: $want_packets packets each (7 on each of ${#VENDORS[@]} devices)"
else
	not_ok "5: the counter audit feeds the site's dyperctl list: $want_packets packets each"
	sctl list >"$T/slist" 2>&1
	diag "$T/slist"
fi
unhold r-1
unhold r-4
expect_converged "5: closes after the restart reach the devices" 10000 "${VENDORS[@]}"
unhold_all
expect_converged "5: all closed: none left on any device" 10000 "${VENDORS[@]}"

# a SANITIZE= build's dyperd reports what it found on stderr, into its log
if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$DLOG" "$SLOG"; then
	not_ok "dyperd's sanitizers found nothing"
	grep -h -A12 "Sanitizer\|runtime error:" "$DLOG" "$SLOG" >"$T/san"
	diag "$T/san" 40
else
	ok "the host's and the site's dyperd logs have no sanitizer report"
fi

summary
