#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo.sh: Dyper in half a minute, for a newcomer (`sudo make demo`).
#
#   external host                            internal host
#   dyper-demo-PID-external                  dyper-demo-PID-internal
#   198.51.100.10 eth0 --------------------- eth0 192.0.2.10
#   FTP clients: a scripted one, curl        dyperd: table inet dyper, only 21/tcp
#                                            vsftpd: through dyper-wrap, then without
#
# Steps: the two hosts; dyperd with its least-privilege table and policy;
# vsftpd started through dyper-wrap; a passive download driven step by step,
# dyperctl list showing the pinhole and its owner while the server waits for
# the data connection, and no pinhole afterwards; an ordinary client (curl);
# vsftpd without the wrapper, where the same download fails; the teardown.
# Each step says what happens and why, shows its commands ("+ ...") and
# their output, indented.
#
# The demo checks what it shows: when a step does not behave as described,
# it says so and exits 1 (tests/kernel/demo.sh runs it in `make check`).
# DEMO_PAUSE=1 waits for Enter between steps.  B is the build directory
# (default build).
#
# Needs root.  Works only inside the two network namespaces it creates and a
# temp dir: never touches the host's firewall or interfaces.  Everything is
# removed when it ends, also on failure or Ctrl-C, and it stops only the
# processes it started (lib.sh's cleanup).

set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: the demo creates network namespaces, and firewall tables inside them: it needs root." >&2
	echo "demo: run it as: sudo make demo" >&2
	exit 1
fi

# the namespaces' cleanup, now_ms, poll (tests/report.sh), B and BDIR
# shellcheck source-path=SCRIPTDIR source=../tests/kernel/lib.sh
. "$(dirname "$0")/../tests/kernel/lib.sh"
# vsftpd_conf, PASV_CLIENT
# shellcheck source=tests/kernel/ftp.sh
. "$ROOT/tests/kernel/ftp.sh"

PATH=$PATH:/usr/sbin:/sbin
AGENT=$AGENT_SO

NS_EXT=dyper-demo-$$-external
NS_INT=dyper-demo-$$-internal
EXT4=198.51.100.10
INT4=192.0.2.10

need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$AGENT"
need_tools ip nft ss findmnt vsftpd curl python3 sha256sum
# dyperd's user and group here; vsftpd's unprivileged and anonymous users
if ! getent passwd nobody ftp >/dev/null || ! getent group daemon >/dev/null; then
	echo "demo: user nobody or ftp, or group daemon, missing" >&2
	exit 2
fi

# step, say, shown, show, show_sh, good, fail, bg
# shellcheck source=scripts/demo_lib.sh
. "$(dirname "$0")/demo_lib.sh"

# --- the teardown, also on failure and Ctrl-C ---------------------------------------

demo_cleanup() {
	local rc=$?

	set +e
	trap - EXIT
	step "Tearing down"
	say "Stopping the programs the demo started, deleting its two namespaces" \
	    "(with their interfaces and dyperd's table) and its temp directory."
	cleanup
	[ -n "$WRAPDIR" ] && rm -rf "$WRAPDIR"
	demo_end $rc demo \
		"README.md                 what Dyper is, how to build, install and test it" \
		"man -l doc/dyper-wrap.1   starting a program through Dyper" \
		"man -l doc/dyperctl.8     listing, watching, explaining and closing pinholes" \
		"man -l doc/dyperd.8       the controller; dyper.conf(5), dyper-policy(5)"
}

WRAPDIR=			# the setgid copy of dyper-wrap lives here
start_test		# lib.sh: the traps and the temp dir $T
trap demo_cleanup EXIT
chmod 755 "$T"		# vsftpd serves from here as user ftp; dyperd reads as nobody
PUB=$T/pub		# what vsftpd offers
EMPTY=$T/empty		# vsftpd's secure_chroot_dir
LOGD=$T/log
GOT=$T/got		# what the clients download
mkdir "$PUB" "$EMPTY" "$LOGD" "$GOT"
chmod 755 "$PUB" "$EMPTY"

# --- 1. the hosts ------------------------------------------------------------------

echo "${C_HEAD}Dyper demo${C_OFF}: a host whose firewall drops every inbound connection except"
echo "the FTP control port still serves passive FTP, because Dyper opens a pinhole"
echo "for exactly the client and port that vsftpd needs, and only while it needs it."
echo "Everything runs in two throwaway network namespaces: your own firewall and"
echo "interfaces are not touched."

step "Two hosts: an external FTP client and the internal FTP server"
say "Each host is a network namespace, joined by a virtual cable (veth)."
for ns in "$NS_EXT" "$NS_INT"; do
	show ip netns add "$ns" || fail "ip netns add $ns"
	created_ns+=("$ns")
done
show ip -n "$NS_EXT" link add eth0 type veth peer name eth0 netns "$NS_INT" || fail "veth"
for h in "$NS_EXT $EXT4 192.0.2.0/24" "$NS_INT $INT4 198.51.100.0/24"; do
	read -r ns addr other <<<"$h"
	show ip -n "$ns" addr add "$addr/24" dev eth0 || fail "address $addr"
	show ip -n "$ns" link set eth0 up || fail "eth0 up in $ns"
	show ip -n "$ns" route add "$other" dev eth0 || fail "route in $ns"
	run ip -n "$ns" link set lo up
done

# --- 2. dyperd -------------------------------------------------------------------------

CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
DLOG=$LOGD/dyperd.log
VSFTPD_EXE=$(readlink -f "$(command -v vsftpd)")
cat >"$CONF" <<EOF
# The demo's dyperd: everything inbound is dropped but FTP's control port.
[daemon]
user = nobody
group = daemon
agent_socket = $ASOCK
control_socket = $CSOCK
policy = $POL
[enforcer]
tcp_ports = 21
EOF
cat >"$POL" <<EOF
# Pinholes only through the wrapper (delegate: group daemon), only for
# vsftpd running as nobody (vsftpd's unprivileged process, which binds the
# passive ports), only TCP from the external network to unprivileged ports
# of the internal host.
allow daemon nobody tcp 198.51.100.0/24 * $INT4 1024-65535 program=$VSFTPD_EXE
EOF
chmod 644 "$CONF" "$POL"

CTL=("$DYPERCTL" -s "$CSOCK")

ctl_quiet() {
	"${CTL[@]}" "$@" >/dev/null 2>&1
}

step "dyperd, Dyper's controller, on the internal host"
say "Its configuration (normally /etc/dyper/dyper.conf) opens only TCP port 21;" \
    "the policy (normally /etc/dyper/policy) says which pinholes may be opened, for whom."
show cat "$CONF" || fail "cat $CONF"
show cat "$POL" || fail "cat $POL"
say "dyperd starts as root, creates the nftables table inet dyper, then drops to user nobody."
bg "$NS_INT" "$DLOG" "$DYPERD" -c "$CONF" -f
poll 5000 0.05 ctl_quiet stats || fail "dyperd did not start within 5 s" "$DLOG"
say "Its table: everything inbound is dropped (policy drop) except replies," \
    "port 21, and the pinholes in the sets @pinholes4..., empty for now."
show ip netns exec "$NS_INT" nft list chain inet dyper input || fail "no table inet dyper"
grep -q 'policy drop' "$T/out" || fail "the input chain's policy is not drop"
say "dyperctl talks to dyperd over its control socket:"
show "${CTL[@]}" list || fail "dyperctl list"
grep -qx '0 pinholes' "$T/out" || fail "pinholes open before any program asked"

# --- 3. vsftpd through dyper-wrap --------------------------------------------------------

head -c 65536 /dev/urandom >"$PUB/small.bin"
head -c 20M /dev/urandom >"$PUB/big.bin"
chmod 644 "$PUB"/*.bin
vsftpd_conf "$T/vsftpd.conf" "$INT4" 21 plain
vsftpd_conf "$T/vsftpd-plain.conf" "$INT4" 21 plain	# its own log

# vsftpd_up: something listens on the internal host's port 21.
vsftpd_up() {
	[ -n "$(ss -N "$NS_INT" -Htln "sport = :21" 2>/dev/null)" ]
}

step "vsftpd, an unmodified FTP server, started through dyper-wrap"
say "Only the agent socket's group may talk to dyperd, so dyper-wrap is installed" \
    "set-group-ID to that group (make install uses group dyper; the demo uses daemon)."
# Not in $T: /tmp is often mounted nosuid, where the set-group-ID bit is ignored.
for d in "$BDIR" /var/tmp /tmp; do
	if ! findmnt -no OPTIONS -T "$d" 2>/dev/null | grep -qw nosuid; then
		WRAPDIR=$(mktemp -d "$d/dyper-demo-wrap.XXXXXX")
		break
	fi
done
[ -n "$WRAPDIR" ] || fail "$BDIR, /var/tmp and /tmp are all mounted nosuid: no place for a setgid dyper-wrap"
WRAPX=$WRAPDIR/dyper-wrap
show install -g daemon -m 2711 "$WRAP" "$WRAPX" || fail "installing the setgid wrapper"
say "dyper-wrap connects to dyperd's agent socket and runs vsftpd with Dyper's agent" \
    "(libdyper-preload.so) preloaded.  The agent watches vsftpd's own socket calls:" \
    "when vsftpd binds a passive data port, it asks dyperd for a pinhole for its client."
bg "$NS_INT" "$LOGD/vsftpd-wrapped.out" "$WRAPX" -s "$ASOCK" -p "$AGENT" vsftpd "$T/vsftpd.conf"
VS=$BG
poll 5000 0.05 vsftpd_up || fail "vsftpd does not listen on port 21 within 5 s" "$LOGD/vsftpd-wrapped.out"
good "vsftpd listens on $INT4 port 21"

# --- 4. a passive download, step by step ----------------------------------------------

step "A passive FTP download, one step at a time"
say "In passive mode the client sends PASV; the server binds a new port, chosen at" \
    "run time, and the client connects to it for the data.  A firewall that drops" \
    "everything but port 21 drops that connection, unless Dyper opened a pinhole." \
    "This client logs in, sends PASV, and waits for the demo before it connects."
rm -f "$T/port" "$T/go"
bg "$NS_EXT" "$LOGD/client.out" python3 "$PASV_CLIENT" "$INT4" "$T/port" "$T/go" small.bin "$GOT/small.bin"
CL=$BG
poll 5000 0.05 test -s "$T/port" || fail "the client got no PASV reply within 5 s" "$LOGD/client.out"
PORT=$(cat "$T/port")
sed 's/^/       /' "$LOGD/client.out"
say "vsftpd now holds port $PORT ($((PORT / 256)) * 256 + $((PORT % 256)), the last two numbers) for the" \
    "client.  What does dyperd hold?"
show "${CTL[@]}" list || fail "dyperctl list"
line=$(awk -v r="$EXT4:*" -v l="$INT4:$PORT" '$2 == "tcp" && $3 == r && $4 == l' "$T/out")
[ -n "$line" ] || fail "no pinhole $EXT4 -> $INT4:$PORT in dyperctl list"
read -r _ _ _ _ uid pid prog _ <<<"$line"
[ "$prog" = vsftpd ] || fail "the pinhole's program is \"$prog\", not vsftpd"
good "a pinhole: TCP from $EXT4 (any source port) to $INT4 port $PORT only," \
     "owned by uid $uid ($(id -nu "$uid")), pid $pid, program $prog"
say "The kernel holds the same, with the owner in the element's comment:"
show ip netns exec "$NS_INT" nft list set inet dyper pinholes4_any || fail "nft list set"
grep -q "$PORT" "$T/out" || fail "port $PORT is not in the kernel's set pinholes4_any"
say "Now the client connects to port $PORT and retrieves small.bin:"
touch "$T/go"
wait_exit "$CL" 20000 || fail "the client did not finish within 20 s" "$LOGD/client.out"
sed -n '2,$s/^/       /p' "$LOGD/client.out"
show sha256sum "$PUB/small.bin" "$GOT/small.bin" || fail "small.bin was not downloaded" "$LOGD/client.out"
[ "$(stat -c %s "$GOT/small.bin" 2>/dev/null)" = 65536 ] || fail "small.bin: not 65536 bytes" "$LOGD/client.out"
[ "$(awk '{print $1}' "$T/out" | uniq | wc -l)" = 1 ] || fail "small.bin: the sha256 differs"
good "65536 bytes, the same sha256 on both hosts"

# no_pinholes: dyperctl list shows none.
no_pinholes() {
	"${CTL[@]}" list 2>/dev/null | grep -qx '0 pinholes'
}

say "The data connection was accepted, so vsftpd closed its listening socket; the" \
    "kernel destroyed it, and dyperd closed the pinhole:"
poll 3000 0.05 no_pinholes || { show "${CTL[@]}" list; fail "the pinhole is still open 3 s after the download"; }
show "${CTL[@]}" list
good "closed $WAITED ms after the download"

# --- 5. an ordinary client ---------------------------------------------------------------

step "An ordinary FTP client: curl, 20 MB"
say "Any client works.  curl uses passive mode too (--disable-epsv: the classic PASV" \
    "as above; EPSV works as well).  vsftpd gets a pinhole for the data port, curl" \
    "downloads through it, and the pinhole closes again.  It lives for as long as" \
    "the transfer takes to start: to see it, watch dyperd's events live, in the" \
    "background here (in a terminal of its own, normally; Ctrl-C ends it):"
shown "${CTL[@]}" watch "&"
"${CTL[@]}" watch >"$T/watch" 2>&1 </dev/null &
WATCH=$!
started "$WATCH"
sleep 0.3
show ip netns exec "$NS_EXT" curl -sS --disable-epsv --max-time 30 -o "$GOT/big.bin" "ftp://$INT4/big.bin" ||
	fail "curl through Dyper failed"
show sha256sum "$PUB/big.bin" "$GOT/big.bin" || fail "big.bin was not downloaded"
[ "$(awk '{print $1}' "$T/out" | uniq | wc -l)" = 1 ] || fail "big.bin: the sha256 differs"
good "20 MB, the same sha256 on both hosts"
poll 3000 0.05 no_pinholes || { show "${CTL[@]}" list; fail "a pinhole is still open 3 s after curl ended"; }
show "${CTL[@]}" list
# watched_close: the watcher printed the data pinhole's close.
watched_close() {
	grep -q " close .*(vsftpd)" "$T/watch"
}
poll 3000 0.05 watched_close || fail "dyperctl watch showed no close" "$T/watch"
sig TERM "$WATCH"
say "What dyperctl watch printed: the pinhole opened for vsftpd, and closed once" \
    "its socket was (under systemd, the journal holds the same, with fields:" \
    "journalctl -u dyperd DYPER_REMOTE=$EXT4 -o json):"
sed 's/^/       /' "$T/watch"
say "After the fact, the recent closes stay listed:"
show "${CTL[@]}" list --recent || fail "dyperctl list --recent"
grep -q " close .*(vsftpd)" "$T/out" || fail "dyperctl list --recent shows no close of vsftpd's"

# --- 6. without the wrapper --------------------------------------------------------------

# drops: the packets the table's last rule (counter drop) has dropped.
drops() {
	ip netns exec "$NS_INT" nft list chain inet dyper input |
		sed -n 's/.*counter packets \([0-9]*\) bytes [0-9]* drop$/\1/p'
}

step "The same download without dyper-wrap"
say "vsftpd is restarted the usual way, without the wrapper: nothing asks for pinholes."
shown kill "$VS"
sig TERM "$VS"
wait_exit "$VS" 5000 || fail "vsftpd (pid $VS) did not stop"
bg "$NS_INT" "$LOGD/vsftpd-plain.out" vsftpd "$T/vsftpd-plain.conf"
poll 5000 0.05 vsftpd_up || fail "vsftpd does not listen on port 21 within 5 s" "$LOGD/vsftpd-plain.out"
say "The table's last rule counts what it drops:"
CNT="ip netns exec $NS_INT nft list chain inet dyper input | grep 'counter packets'"
show_sh "$CNT" || fail "no counter in the input chain"
d0=$(drops)
say "curl logs in on port 21 (open) and gets a passive port, but its connection" \
    "to that port is dropped: it gives up after 3 s."
if show ip netns exec "$NS_EXT" curl -sS --disable-epsv --connect-timeout 3 --max-time 10 \
	-o "$GOT/big-plain.bin" "ftp://$INT4/big.bin"; then
	fail "the download without the wrapper succeeded: the table let the data connection in"
fi
say "(curl's message may name port 21, the server it talks to: what timed out is" \
    "the data connection.)"
if [ -f "$GOT/big-plain.bin" ] && cmp -s "$PUB/big.bin" "$GOT/big-plain.bin"; then
	fail "the download without the wrapper delivered the file"
fi
say "Yet the control connection worked: vsftpd's log has its passive reply to curl."
show grep -F "Passive Mode" "$LOGD/vsftpd-plain.log" ||
	fail "curl did not get as far as a passive reply" "$LOGD/vsftpd-plain.log"
PORT=$(sed -n 's/.*Passive Mode (\([0-9,]*\)).*/\1/p' "$T/out" | awk -F, '{print $5 * 256 + $6}')
say "The connection to the passive port was dropped by the table's last rule:"
show_sh "$CNT" || fail "no counter in the input chain"
d1=$(drops)
[ "${d1:-0}" -gt "${d0:-0}" ] || fail "the table dropped nothing ($d0 -> $d1): curl failed for another reason"
show "${CTL[@]}" list || fail "dyperctl list"
grep -qx '0 pinholes' "$T/out" || fail "a pinhole was opened without the wrapper"
good "the transfer failed without the wrapper: the table dropped $((d1 - d0)) packets" \
     "(curl's attempts to reach the passive port $PORT), and no pinhole was opened"
