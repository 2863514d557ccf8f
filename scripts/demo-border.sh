#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo-border.sh: border mode in a minute, for a newcomer (`sudo make
# demo-border`): the same passive FTP download as `make demo`, but the
# firewall that matters is the site's border router.
#
#   external host A               border router R                 internal host H
#   dyper-demo-PID-a              dyper-demo-PID-r                dyper-demo-PID-h
#   203.0.113.10 ------ 203.0.113.1 ext0 | int0 198.51.100.1 ------ 198.51.100.10
#   curl, a scripted client       sshd (forced command            dyperd [remote]
#                                 dyper-remote --delegate hostA)  vsftpd through dyper-wrap
#                                 dyperd in site mode: its table
#                                 is R's forward policy
#
# Steps: the three hosts; the site (its host key, the authorized_keys line
# that makes hostA's key a delegate, the site policy, the site controller
# and its least-privilege forward table); dyperd on H in border mode, its
# session to the site; the download failing through R without Dyper; the
# download through Dyper, with the pinhole on R (for exactly A, named after
# hostA) while the server waits for the data connection, and none after.
# Each step says what happens and why, shows its commands and their output.
# It checks what it shows: when a step does not behave as described, it
# says so and exits 1 (tests/kernel/demo_border.sh runs it in `make check`).
# DEMO_PAUSE=1 waits for Enter between steps.  B is the build directory.
#
# Needs root.  Works only inside the three network namespaces it creates
# and a temp dir (sshd runs in a mount namespace of its own): never touches
# the host's firewall, interfaces or SSH setup.  Everything is removed when
# it ends, also on failure or Ctrl-C.

set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "demo-border: the demo creates network namespaces, and firewall tables inside them: it needs root." >&2
	echo "demo-border: run it as: sudo make demo-border" >&2
	exit 1
fi

# shellcheck source-path=SCRIPTDIR source=../tests/kernel/lib.sh
. "$(dirname "$0")/../tests/kernel/lib.sh"
# shellcheck source=tests/kernel/sshd_lib.sh
. "$ROOT/tests/kernel/sshd_lib.sh"
# shellcheck source=tests/kernel/ftp.sh
. "$ROOT/tests/kernel/ftp.sh"
# shellcheck source=scripts/demo_lib.sh
. "$(dirname "$0")/demo_lib.sh"

PATH=$PATH:/usr/sbin:/sbin
REMOTE=$BDIR/bin/dyper-remote
NS_A=dyper-demo-$$-a
NS_R=dyper-demo-$$-r
NS_H=dyper-demo-$$-h
A4=203.0.113.10 R_EXT4=203.0.113.1 R_IN4=198.51.100.1 H4=198.51.100.10

need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$AGENT_SO" "$REMOTE"
need_sshd
need_tools ip nft vsftpd curl python3 sha256sum ssh-keygen
if ! getent passwd nobody ftp >/dev/null || ! getent group daemon >/dev/null ||
	! getent group nogroup >/dev/null; then
	echo "demo-border: user nobody or ftp, or group daemon or nogroup, missing" >&2
	exit 2
fi

demo_cleanup() {
	local rc=$?

	set +e
	trap - EXIT
	step "Tearing down"
	say "Stopping what the demo started (sshd, both dyperds, vsftpd), deleting its" \
	    "three namespaces (with their interfaces and tables) and its temp directory."
	cleanup
	demo_end $rc demo-border \
		"README.md, \"Border mode\"   from nothing to a working host and site" \
		"man -l doc/dyper-remote.8  the restricted command and the authorized_keys line" \
		"man -l doc/dyper.conf.5    the [remote] and [site] sections" \
		"man -l doc/dyper-policy.5  delegates in a site policy"
}

start_test
trap demo_cleanup EXIT
chmod 755 "$T"
PUB=$T/pub EMPTY=$T/empty LOGD=$T/log GOT=$T/got
mkdir "$PUB" "$EMPTY" "$LOGD" "$GOT"
chmod 755 "$PUB" "$EMPTY"
head -c 2000000 /dev/urandom >"$PUB/file.bin"
chmod 644 "$PUB/file.bin"
SUM=$(sha256sum <"$PUB/file.bin" | cut -d' ' -f1)

echo "${C_HEAD}Dyper border mode demo${C_OFF}: the site's border router drops every"
echo "connection from outside except the FTP control port of one internal host."
echo "dyperd on that host forwards each pinhole over SSH to the site controller,"
echo "which opens it on the router, for exactly the client and port, and only"
echo "while it is needed.  Everything runs in throwaway network namespaces."

# --- 1. the hosts ---------------------------------------------------------------------

step "Three hosts: an external client A, the border router R, an internal server H"
say "R forwards between the outside (ext0) and the inside (int0)."
for ns in "$NS_A" "$NS_R" "$NS_H"; do
	show ip netns add "$ns" || fail "ip netns add $ns"
	created_ns+=("$ns")
	run ip -n "$ns" link set lo up
done
show ip -n "$NS_R" link add ext0 type veth peer name eth0 netns "$NS_A" || fail "veth to A"
show ip -n "$NS_R" link add int0 type veth peer name eth0 netns "$NS_H" || fail "veth to H"
for h in "$NS_R ext0 $R_EXT4" "$NS_R int0 $R_IN4" "$NS_A eth0 $A4" "$NS_H eth0 $H4"; do
	read -r ns dev addr <<<"$h"
	run ip -n "$ns" addr add "$addr/24" dev "$dev"
	run ip -n "$ns" link set "$dev" up
done
show ip -n "$NS_A" route add default via "$R_EXT4" || fail "A's route"
show ip -n "$NS_H" route add default via "$R_IN4" || fail "H's route"
show ip netns exec "$NS_R" sysctl -w net.ipv4.ip_forward=1 || fail "forwarding on R"

# --- 2. the site ----------------------------------------------------------------------

step "The site: sshd, the delegate hostA, the site policy, the site controller"
say "H's dyperd will log in to R's sshd with a key of its own.  The site's" \
    "authorized_keys forces that key to run dyper-remote as delegate hostA:" \
    "whatever H asks for, the site knows it comes from hostA."
sshd_prepare
run ssh-keygen -q -t ed25519 -N '' -C "hostA's key" -f "$T/hostA_key"
chown nobody "$T/hostA_key"
chmod 600 "$T/hostA_key"
sshd_write_config "$R_IN4"
echo "$R_IN4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
chmod 644 "$T/known_hosts"
mkdir -m 0755 "$T/site-run"
sshd_authorize "$T/hostA_key.pub" "$REMOTE --delegate hostA --socket $T/site-run/site.sock"
show_sh "sed 's/ssh-ed25519 .*/ssh-ed25519 AAAA... hostA'\\''s key/' $S/authorized_keys" ||
	fail "the authorized_keys line"
say "The site policy: hostA may open pinholes to its own address only (paper §4.2)."
echo "allow hostA * tcp * * $H4 1024-65535" >"$T/site.policy"
chmod 644 "$T/site.policy"
show cat "$T/site.policy"
cat >"$T/site.conf" <<EOF
[daemon]
user = nobody
group = nogroup
control_socket = $T/site-run/control.sock
agent_socket = $T/site-run/agent.sock
[site]
enable = yes
name = demo-site
socket = $T/site-run/site.sock
account = root
policy = $T/site.policy
inside = int0
open_ports = tcp/$H4/21
EOF
chmod 644 "$T/site.conf"
say "The site controller: dyperd in site mode on R.  Its table is R's forward" \
    "policy: the inside may go out, replies come back, from outside only H's" \
    "FTP control port and what a pinhole opens."
bg "$NS_R" "$LOGD/site.log" "$DYPERD" -c "$T/site.conf" -f
sctl() {
	ip netns exec "$NS_R" "$DYPERCTL" -s "$T/site-run/control.sock" "$@"
}
poll 10000 0.05 sctl stats >/dev/null 2>&1 || fail "the site controller did not start" "$LOGD/site.log"
start_sshd "$NS_R" "$R_IN4" || fail "sshd did not listen on $R_IN4:22"
good "sshd listens on $R_IN4:22; the site controller runs"

# --- 3. dyperd on H in border mode ----------------------------------------------------

step "dyperd on H in border mode"
say "H's own table lets in only the FTP control port, and its [remote] section" \
    "names the site: every pinhole H opens is also asked of the site, and a" \
    "program's bind() returns only when both hold it."
echo "allow * * tcp 203.0.113.0/24 * $H4 1024-65535" >"$T/policy"
cat >"$T/dyper.conf" <<EOF
[daemon]
user = nobody
group = daemon
agent_socket = $T/agent.sock
control_socket = $T/control.sock
policy = $T/policy
[enforcer]
tcp_ports = 21
[remote]
host = $R_IN4
user = root
key = $T/hostA_key
known_hosts = $T/known_hosts
on_unreachable = fail
EOF
chmod 644 "$T/policy" "$T/dyper.conf"
show_sh "sed -n '/\\[remote\\]/,\$p' $T/dyper.conf" || true
bg "$NS_H" "$LOGD/dyperd.log" "$DYPERD" -c "$T/dyper.conf" -f
hctl() {
	ip netns exec "$NS_H" "$DYPERCTL" -s "$T/control.sock" "$@"
}
site_ready() {
	hctl stats 2>/dev/null | grep -q '^site  *ready'
}
poll 10000 0.05 site_ready || fail "dyperd on H did not reach the site" "$LOGD/dyperd.log"
show_sh "ip netns exec $NS_H $DYPERCTL -s $T/control.sock stats | grep '^site'" ||
	fail "dyperctl stats"
good "H's dyperd holds a session with the site, as delegate hostA"

# --- 4. without Dyper ---------------------------------------------------------------

VPID=
# vsftpd_on [WRAPPER...]: vsftpd on H, started through WRAPPER if given
vsftpd_on() {
	vsftpd_conf "$T/vsftpd.conf" "$H4" 21 plain
	bg "$NS_H" "$LOGD/vsftpd.out" "$@" vsftpd "$T/vsftpd.conf"
	VPID=$BG
	poll 5000 0.05 ip netns exec "$NS_H" bash -c "exec 3<>/dev/tcp/$H4/21" 2>/dev/null ||
		fail "vsftpd did not listen" "$LOGD/vsftpd.out"
}
vsftpd_off() {
	sig TERM "$VPID"
	wait_exit "$VPID" 3000 || sig KILL "$VPID"
}

step "vsftpd without Dyper: R drops the passive data connection"
vsftpd_on
if show ip netns exec "$NS_A" curl -sS --connect-timeout 3 --max-time 6 -o "$GOT/plain" \
	"ftp://$H4/file.bin"; then
	fail "the download passed R without Dyper"
fi
good "the control connection got through, the data connection did not"
vsftpd_off

# --- 5. through Dyper ---------------------------------------------------------------

step "vsftpd through dyper-wrap: the pinhole on the router"
vsftpd_on "$WRAP" -s "$T/agent.sock" -p "$AGENT_SO"
say "A scripted client on A logs in and asks for passive mode (PASV), then" \
    "waits: meanwhile, the pinhole vsftpd's bind() asked for is in R's table."
rm -f "$T/port" "$T/go"
bg "$NS_A" "$LOGD/pasv.out" python3 "$PASV_CLIENT" "$H4" "$T/port" "$T/go" file.bin "$GOT/pasv"
CPID=$BG
poll 8000 0.05 test -s "$T/port" || fail "no PASV reply" "$LOGD/pasv.out"
port=$(cat "$T/port")
show sctl list || fail "dyperctl list on the site"
grep -q "hostA .*$A4.*$H4:$port" "$T/out" ||
	fail "the site's list has no pinhole of hostA from $A4 to $H4:$port"
say "The same pinhole in R's table, the kernel's record (its comment names hostA):"
show_sh "ip netns exec $NS_R nft list set inet dyper_site pinholes4_any | grep -A2 'elements'" ||
	fail "the pinhole in R's table"
show hctl list || fail "dyperctl list on H"
grep -q "$H4:$port .*site: open at site" "$T/out" || fail "H does not show the pinhole open at the site"
good "one pinhole, from exactly A to H's port $port, held for delegate hostA"
touch "$T/go"
wait_exit "$CPID" 20000 || fail "the scripted client did not finish" "$LOGD/pasv.out"
[ "$(sha256sum <"$GOT/pasv" | cut -d' ' -f1)" = "$SUM" ] || fail "the download's sha256 differs"
good "the download went through R (sha256 matches)"
show ip netns exec "$NS_A" curl -sS --max-time 15 -o "$GOT/curl" "ftp://$H4/file.bin" ||
	fail "curl through Dyper" "$T/out"
[ "$(sha256sum <"$GOT/curl" | cut -d' ' -f1)" = "$SUM" ] || fail "curl's sha256 differs"
good "and so does an ordinary client's (curl, sha256 matches)"
# router_empty: neither the site controller nor R's kernel set holds one
router_empty() {
	[ -z "$(sctl list 2>/dev/null | grep hostA)" ] &&
		! ip netns exec "$NS_R" nft list set inet dyper_site pinholes4_any | grep -q 'elements'
}
poll 5000 0.05 router_empty || fail "pinholes left on R after the downloads"
show sctl list || true
say "and R's kernel set has no element left:"
show ip netns exec "$NS_R" nft list set inet dyper_site pinholes4_any || true
good "none left on R after the downloads (the site's list and R's kernel set)"
vsftpd_off
