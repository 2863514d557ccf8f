#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# verify.sh: what dyperd checks against the kernel beyond the socket's
# port, each case an attack or a race that once got through.
#
#   1  a socket from another network namespace: nobody (the wrapper's group
#      daemon) binds a port in a user and network namespace of its own
#      (unshare -Urn needs no privilege) and asks for that port with it.
#      It must be refused, leave nothing in the kernel, leave the server
#      another user runs on that port in dyperd's namespace unreachable,
#      and leave the port free for the one who really holds it here.
#   3  quotas and user namespaces: nobody's program in a user namespace
#      with a range of 10 uids (as newuidmap gives from /etc/subuid; the
#      test writes the maps as root) sends credentials for each; with
#      max_per_user = 2 it must get 2 pinholes, not 20.  A server root
#      started that switches to its users keeps a quota per user; a
#      process in another user namespace on root's channel is refused.
#   6  fast port reuse: bind, open, close, bind the same port again and
#      ask again at once, 300 times (60 s at most): no EADDRINUSE although
#      the old socket's destroy notification may not have come in; but a
#      socket that still lives keeps its pinhole against a newcomer.
#
#        A (dyt-PID-a) ----\
#        B (dyt-PID-b) -----+- br0 in dyt-PID-sw
#       IN (dyt-PID-in) ---/      (dyperd, its table and the clients live in IN)
#
# dyperd runs as nobody; its agent socket belongs to group "daemon".  The
# network, the probes and the cleanup come from lib.sh (sourced).  Needs
# root.  Touches nothing outside its own namespaces and temp dir.
# Output: "ok - ..." / "not ok - ..." per check, then
# "verify: N passed, N failed"; exit 0 only if nothing failed (77 when not
# root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT" "$PROBE"
need_tools nft setpriv
for id in "user nobody" "group daemon"; do
	read -r db name <<<"$id"
	getent "${db/user/passwd}" "$name" >/dev/null || {
		echo "verify.sh: $db $name missing" >&2
		exit 2
	}
done
DAEMON_GID=$(getent group daemon | cut -d: -f3)

start_test
chmod 755 "$T"		# dyperd runs as nobody
CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
DLOG=$T/dyperd.log
DPID=

bail_diag() {
	diag "$DLOG"
}

setup_network

# nobody through group daemon, any uid (the quota case needs uids that no
# user name covers); root's channels to unprivileged ports
cat >"$POL" <<EOF
allow daemon * * * * * 7000-7999
allow root * * * * * 1024-65535
EOF
# write_conf MAX_PER_USER
write_conf() {
	cat >"$CONF" <<-EOF
		[daemon]
		user = nobody
		group = daemon
		agent_socket = $ASOCK
		control_socket = $CSOCK
		policy = $POL
		event_log = $T/events.json
		[limits]
		max_per_user = $1
	EOF
	chmod 644 "$CONF"
}
# cases 1 and 6 want no quota in their way
write_conf 100
chmod 644 "$POL"

ip netns exec "$NS_IN" "$DYPERD" -c "$CONF" -f >"$DLOG" 2>&1 </dev/null &
DPID=$!
started "$DPID"
poll 5000 0.02 "$DYPERCTL" -s "$CSOCK" stats >/dev/null 2>&1 || bail "dyperd did not start"

# client [--as nobody|root] ARGS...: dyper-client in IN, bounded; all its
# output in $T/out.
client() {
	local as=()

	if [ "$1" = --as ]; then
		[ "$2" = nobody ] && as=(setpriv --reuid=nobody --regid=daemon --clear-groups)
		shift 2
	fi
	timeout 90 ip netns exec "$NS_IN" "${as[@]}" "$CLIENT" -s "$ASOCK" "$@" >"$T/out" 2>&1 </dev/null
}

# client_bg NAME [--as nobody|root] ARGS...: the same in the background,
# output in $T/c.NAME.
client_bg() {
	local name=$1 as=()

	shift
	if [ "$1" = --as ]; then
		[ "$2" = nobody ] && as=(setpriv --reuid=nobody --regid=daemon --clear-groups)
		shift 2
	fi
	# no timeout(1) in between: killing the client must kill it (it
	# exits by itself after its --hold)
	ip netns exec "$NS_IN" "${as[@]}" "$CLIENT" -s "$ASOCK" "$@" >"$T/c.$name" 2>&1 </dev/null &
	started $!
	bg+=($!)
}
bg=()

no_pinholes() {
	"$DYPERCTL" -s "$CSOCK" list 2>/dev/null | grep -qx '0 pinholes'
}

# settle: the background clients gone, and their pinholes.  Quotas count
# what earlier cases still hold.
settle() {
	local pid

	for pid in "${bg[@]}"; do
		sig KILL "$pid"
	done
	for pid in "${bg[@]}"; do
		wait_exit "$pid" 3000
	done
	bg=()
	poll 3000 0.02 no_pinholes || not_ok "pinholes left 3 s after the clients were killed"
}

# wait_line NAME ERE: waits (10 s at most) for a line of client NAME.
wait_line() {
	poll 10000 0.02 grep -Eq "$2" "$T/c.$1"
}

set_text() {
	ip netns exec "$NS_IN" nft list set inet dyper "$1" 2>&1 | tr -s ' \t\n' ' '
}

# elements SET PORT-ERE: how many elements of SET name a local port
# matching PORT-ERE.
elements() {
	set_text "$1" | grep -oE -- " \. (tcp|udp) \. [0-9a-f.:]+ \. ($2)( |,|\})" | wc -l
}

# --- 1. a socket of another network namespace ------------------------------------------

for c in "tcp $IN4 $A4 7080" "udp $IN4 $A4 7081" "tcp $IN6 $A6 7082"; do
	read -r proto local remote port <<<"$c"
	set=pinholes4_any
	[[ $local == *:* ]] && set=pinholes6_any
	# the victim: another user's server on that port in dyperd's namespace
	serve "$proto" "$local" "$port"
	wait_servers 3000 || bail "1: probe server on $proto $port"
	client --as nobody open "$proto" "$remote" '*' "$local" "$port" --netns
	r=$(grep -Em1 '^(ok|err) ' "$T/out")
	if [[ $r == "err -1 the socket lives in another network namespace" ]]; then
		ok "1: $proto $local:$port bound in nobody's own network namespace is refused ($r)"
	else
		not_ok "1: $proto $local:$port bound in nobody's own network namespace is refused" \
			"(got \"$r\")"
		diag "$T/out"
	fi
	n=$(elements "$set" "$port")
	check "1: ... no element for $port in $set (found $n)" [ "$n" = 0 ]
	expect_drop "1: ... A does not reach the victim's $proto $port" "$NS_A" "$proto" "$local" "$port"
done
if grep -q 'refused .* the socket lives in another network namespace' "$DLOG"; then
	ok "1: dyperd logs why"
else
	not_ok "1: dyperd logs why"
	diag "$DLOG" 5
fi

# The reverse: while the foreign socket asks (and is held), the one who
# really holds the port here gets its pinhole.
client_bg foreign --as nobody open tcp "$A4" '*' "$IN4" 7083 --netns --hold 20
wait_line foreign '^(ok|err) '
client_bg victim --as nobody open tcp "$A4" '*' "$IN4" 7083 --hold 20
if wait_line victim '^(ok|err) ' && grep -q '^ok ' "$T/c.victim"; then
	ok "1: the holder of 7083 in dyperd's namespace gets its pinhole ($(grep -Em1 '^(ok|err) ' "$T/c.victim"))"
	expect_pass "1: ... and A reaches it" "$NS_A" tcp "$IN4" 7083
else
	not_ok "1: the holder of 7083 in dyperd's namespace gets its pinhole" \
		"(foreign: \"$(grep -Em1 '^(ok|err) ' "$T/c.foreign")\"," \
		"holder: \"$(grep -Em1 '^(ok|err) ' "$T/c.victim")\")"
fi

settle
write_conf 2
"$DYPERCTL" -s "$CSOCK" reload >/dev/null 2>&1 || bail "3: dyperctl reload (max_per_user = 2)"

# --- 3. quotas and user namespaces ---------------------------------------------------------

# userns_client NAME [--as nobody] BASEPORT: asks for 10 ports from a user
# namespace whose uids 0-9 are 100000-100009 (and gid 0 the client's own
# group: daemon for nobody, root for root), holding them 20 s.
userns_client() {
	local name=$1 base=${*: -1} pid gid=0

	[ $# -gt 2 ] && gid=$DAEMON_GID

	client_bg "$name" "${@:2:$#-2}" uids --userns --hold 20 tcp "$A4" "$IN4" "$base" 0 1 2 3 4 5 6 7 8 9
	if ! wait_line "$name" '^userns [0-9]+$'; then
		not_ok "3: $name: the client made its user namespace"
		diag "$T/c.$name"
		return 1
	fi
	pid=$(sed -n 's/^userns //p' "$T/c.$name")
	echo "0 100000 10" >"/proc/$pid/uid_map" && echo "0 $gid 1" >"/proc/$pid/gid_map" ||
		bail "3: cannot write the maps of $pid"
	wait_line "$name" '^uids: '
}

userns_client sub --as nobody 7100
r=$(grep '^uids: ' "$T/c.sub")
n=$(elements pinholes4_any '71[0-9][0-9]')
if [ "$r" = "uids: 2 ok, 8 edquot, 0 other" ] && [ "$n" = 2 ]; then
	ok "3: nobody's 10 uids of a user namespace get max_per_user = 2 pinholes ($r; $n in the kernel)"
else
	not_ok "3: nobody's 10 uids of a user namespace get max_per_user = 2 pinholes" \
		"(\"$r\", $n in the kernel)"
	diag "$T/c.sub"
fi
if "$DYPERCTL" -s "$CSOCK" list 2>&1 | grep -E ":71[0-9][0-9] " | grep -qvE " 65534 +[0-9]+ "; then
	not_ok "3: ... both charged to uid 65534 (who opened the channel)"
	diag_s "$("$DYPERCTL" -s "$CSOCK" list 2>&1)"
else
	ok "3: ... both charged to uid 65534 (who opened the channel)"
fi
if grep -q "user 65534 already holds 2 pinholes (max_per_user)" "$T/c.sub"; then
	ok "3: ... the others are told that user 65534 holds 2"
else
	not_ok "3: ... the others are told that user 65534 holds 2"
	diag "$T/c.sub"
fi

settle

# A server root started that switches to its users: per user quotas
client uids tcp "$A4" "$IN4" 7200 1001 1001 1001 1002 1002 1002
r=$(grep '^uids: ' "$T/out")
if [ "$r" = "uids: 4 ok, 2 edquot, 0 other" ]; then
	ok "3: on root's channel, uids 1001 and 1002 each get their own 2 ($r)"
else
	not_ok "3: on root's channel, uids 1001 and 1002 each get their own 2 (\"$r\")"
	diag "$T/out"
fi

settle

# ... but its processes in a user namespace of their own name no user of it
userns_client rootns 7300
r=$(grep '^uids: ' "$T/c.rootns")
n=$(elements pinholes4_any '73[0-9][0-9]')
if [ "$r" = "uids: 0 ok, 0 edquot, 10 other" ] && [ "$n" = 0 ] &&
	grep -q 'another user namespace' "$T/c.rootns"; then
	ok "3: on root's channel, a process in another user namespace is refused ($r)"
else
	not_ok "3: on root's channel, a process in another user namespace is refused" \
		"(\"$r\", $n in the kernel)"
	diag "$T/c.rootns"
fi

settle
write_conf 100
"$DYPERCTL" -s "$CSOCK" reload >/dev/null 2>&1 || bail "6: dyperctl reload (max_per_user = 100)"

# --- 6. fast port reuse ---------------------------------------------------------------------

client reuse 300 60 tcp "$A4" "$IN4" 7400
r=$(grep '^reuse: ' "$T/out")
if [[ $r =~ ^reuse:\ ([0-9]+)\ tries,\ ([0-9]+)\ ok,\ 0\ eaddrinuse,\ 0\ other$ ]] &&
	[ "${BASH_REMATCH[1]}" -ge 100 ] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
	ok "6: close, bind the port again and ask at once: never EADDRINUSE ($r;" \
		"$(grep -c 'the port was bound again' "$T/events.json") stale pinholes replaced)"
else
	not_ok "6: close, bind the port again and ask at once: never EADDRINUSE (\"$r\")"
	diag "$T/out"
fi
gone() {
	[ "$(elements pinholes4_any 7400)" = 0 ]
}
check "6: ... and no pinhole is left for 7400 once the last socket closed" poll 2000 0.02 gone
client_bg last open tcp "$A4" '*' "$IN4" 7400 --hold 20
wait_line last '^(ok|err) '
if grep -q '^ok ' "$T/c.last"; then
	ok "6: a socket bound to 7400 after the churn gets its pinhole"
	expect_pass "6: ... and A reaches it" "$NS_A" tcp "$IN4" 7400
else
	not_ok "6: a socket bound to 7400 after the churn gets its pinhole ($(cat "$T/c.last"))"
fi

settle

# A socket that lives keeps its pinhole: two UDP sockets share 7401
# (SO_REUSEADDR); the second asks for the first one's pinhole.
client_bg holder open udp "$A4" '*' "$IN4" 7401 --hold 20
wait_line holder '^(ok|err) '
client open udp "$A4" '*' "$IN4" 7401
r=$(grep -Em1 '^(ok|err) ' "$T/out")
if grep -q '^ok ' "$T/c.holder" && [[ $r == "err -98 "* ]]; then
	ok "6: a second socket on 7401 is refused while the first lives ($r)"
else
	not_ok "6: a second socket on 7401 is refused while the first lives" \
		"(first: \"$(cat "$T/c.holder")\", second: \"$r\")"
fi
settle

summary
