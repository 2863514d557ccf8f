#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# border.sh: border mode end to end, for real: dyperd on an internal host
# forwards every pinhole over SSH (Debian's sshd, forced command
# dyper-remote) to the site, which opens it on the border router's forward
# policy; vsftpd's passive FTP crosses the router only through that.
#
#   A (dyt-PID-a) 203.0.113.10 --\                               /-- H (dyt-PID-h)
#                                 +- ext0 [R (dyt-PID-r)] int0 -+   198.51.100.10
#   B (dyt-PID-b) 203.0.113.11 --/  203.0.113.1  198.51.100.1      dyperd [remote]
#                                   sshd on 198.51.100.1:22         vsftpd (wrapped)
#                                   dyper-remote --delegate hostA
#                                   dyperd in site mode, table dyper_site
#
# The site is dyperd in site mode on R: the site policy lets hostA open
# pinholes to itself only; its table in R's forward hook is a
# least-privilege forward policy: the inside goes out, replies come back, A
# and B reach only H's FTP control port and what a pinhole opens.
#
# Checks: passive FTP from A fails with R's policy alone (no Dyper); with
# Dyper it passes (sha256), the router holds the pinhole for exactly A, B
# cannot use it, none is left after; dyperctl shows it "open at site"; a
# changed site host key is refused, loudly; the SSH session cut in the
# middle of a transfer: the transfer ends, the next download works after
# the reconnect, no pinhole leaked; kill -9 of dyperd while a client waits
# for its data connection: the restarted dyperd keeps the live pinhole (at
# the site too) and the download completes, none leaked; the site
# unreachable: with on_unreachable = fail the bind is refused with a clear
# reason; with local the download works inside the site and dyperctl says
# "not at site"; a key file with mode 0644: dyperd does not start; kill -9
# of the site controller with one live and one dying pinhole: after its
# restart and H's re-announcement R holds the live one and not the dead one,
# and the live session downloads; hostA's delegate asking for an address the
# site policy gives to hostB: refused (EACCES), logged on H and on the site.
# Active-mode clients on H (curl -P, and a scripted one that pauses after
# PORT) against vsftpd on A: curl times out at R without the wrapper,
# passes with it (sha256); R's pinhole, while the scripted client listens,
# is for exactly A (B cannot use it); nothing left on R.
# Output: "ok - ..." / "not ok - ..." per check, then "border: N passed, N
# failed"; 77 when not root (skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd_lib.sh
. "$(dirname "$0")/sshd_lib.sh"
# shellcheck source-path=SCRIPTDIR source=ftp.sh
. "$(dirname "$0")/ftp.sh"

TOOL=$BDIR/tests/tools/dyper-router-tool
CLIENT=$BDIR/tests/tools/dyper-client
REMOTE=$BDIR/bin/dyper-remote

need_root
need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$AGENT_SO" "$TOOL" "$REMOTE" "$CLIENT"
need_sshd
PATH=$PATH:/usr/sbin:/sbin need_tools python3 nft ip vsftpd curl sha256sum
need_ids "user nobody" "group daemon" "group nogroup"

NS_R=dyt-$$-r
NS_H=dyt-$$-h
A4=203.0.113.10 B4=203.0.113.11 R_EXT4=203.0.113.1
H4=198.51.100.10 R_IN4=198.51.100.1
H4B=198.51.100.11	# a second address of H: hostB's, by the site policy

start_test
chmod 755 "$T"		# vsftpd (as ftp) and dyperd (as nobody) read from here
sshd_prepare
LOGD=$T/log PUB=$T/pub EMPTY=$T/empty OUT=$T/out
SITE4=$R_IN4 NS_SITE=$NS_R
# shellcheck source-path=SCRIPTDIR source=border_lib.sh
. "$(dirname "$0")/border_lib.sh"
mkdir -p "$LOGD" "$PUB" "$EMPTY" "$OUT" || bail "mkdir in $T"
chmod 755 "$PUB" "$EMPTY"
head -c 4000000 /dev/urandom >"$PUB/f.bin" && chmod 644 "$PUB/f.bin"
SUM=$(sha256sum <"$PUB/f.bin" | cut -d' ' -f1)

# --- the network -------------------------------------------------------------------

for ns in "$NS_A" "$NS_B" "$NS_R" "$NS_H"; do
	run ip netns add "$ns"
	created_ns+=("$ns")
	run ip -n "$ns" link set lo up
done
run ip -n "$NS_R" link add ext0 type bridge
run ip -n "$NS_R" addr add "$R_EXT4/24" dev ext0
run ip -n "$NS_R" link set ext0 up
for h in "a $NS_A $A4" "b $NS_B $B4"; do
	read -r name ns addr <<<"$h"
	run ip -n "$NS_R" link add "p-$name" type veth peer name eth0 netns "$ns"
	run ip -n "$NS_R" link set "p-$name" master ext0 up
	run ip -n "$ns" addr add "$addr/24" dev eth0
	run ip -n "$ns" link set eth0 up
	run ip -n "$ns" route add default via "$R_EXT4"
done
run ip -n "$NS_R" link add int0 type veth peer name eth0 netns "$NS_H"
run ip -n "$NS_R" addr add "$R_IN4/24" dev int0
run ip -n "$NS_R" link set int0 up
run ip -n "$NS_H" addr add "$H4/24" dev eth0
run ip -n "$NS_H" addr add "$H4B/24" dev eth0
run ip -n "$NS_H" link set eth0 up
run ip -n "$NS_H" route add default via "$R_IN4"
run ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1

# R's table, as the site controller keeps it (its forward policy: the
# inside out, H's FTP control port in, the pinholes)
rtool() {
	ip netns exec "$NS_R" "$TOOL" -i int0 -O "tcp/$H4/21" "$@"
}

# router_pinholes: the pinholes R's table holds, one per line
router_pinholes() {
	rtool list 2>/dev/null | grep -v '^$'
}

no_router_pinholes() {
	[ -z "$(router_pinholes)" ]
}

# expect_one_router_pinhole DESC: R holds exactly one pinhole, from A to
# H's $port, under delegate hostA
expect_one_router_pinhole() {
	local lines

	lines=$(router_pinholes)
	if [ "$(grep -c . <<<"$lines")" = 1 ] &&
		grep -q "^tcp $A4:\* -> $H4:$port owner \"dlg hostA " <<<"$lines"; then
		ok "$1"
	else
		not_ok "$1"
		echo "$lines" >"$T/lines"
		diag "$T/lines"
	fi
}

# --- the site: sshd, dyper-remote, the site controller --------------------------------

run ssh-keygen -q -t ed25519 -N '' -C "hostA's key" -f "$T/hostA_key"
sshd_write_config "$R_IN4"
echo "$R_IN4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
chmod 644 "$T/known_hosts"
chown nobody "$T/hostA_key"
chmod 600 "$T/hostA_key"

# the site controller: dyperd in site mode on R, its table the forward policy
mkdir -m 0755 "$T/site-run"
cat >"$T/site.policy" <<EOF
# each host opens pinholes to itself only (paper §4.2)
allow hostA * tcp * * $H4 1024-65535
allow hostB * tcp * * $H4B 1024-65535
EOF
cat >"$T/site.conf" <<EOF
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
inside = int0
open_ports = tcp/$H4/21
EOF
chmod 644 "$T/site.policy" "$T/site.conf"
start_site || bail "the site controller did not start (see $SLOG)"
sshd_authorize "$T/hostA_key.pub" "$REMOTE --delegate hostA --socket $T/site-run/site.sock"
start_sshd "$NS_R" "$R_IN4" || bail "sshd did not listen on $R_IN4:22"

# --- dyperd on H in border mode -----------------------------------------------------

{
	echo "allow * * tcp 203.0.113.0/24 * $H4 1024-65535"
	echo "allow * * tcp $R_IN4 * $H4 1024-65535"
	echo "allow * * tcp 203.0.113.0/24 * $H4B 1024-65535"
} >"$T/policy"
chmod 644 "$T/policy"

# --- 1: R's policy alone stops passive FTP ---------------------------------------------

start_vsftpd || bail "vsftpd did not listen"
fetch "$NS_A" plain --connect-timeout 3 --max-time 6
if [ -s "$OUT/plain" ] && [ "$(sha256sum <"$OUT/plain" | cut -d' ' -f1)" = "$SUM" ]; then
	not_ok "1: without Dyper, passive FTP from A through R fails (it passed)"
else
	ok "1: without Dyper, passive FTP from A through R fails ($(tail -n1 "$LOGD/plain.curl"))"
fi
stop_vsftpd

# --- 2: through Dyper ---------------------------------------------------------------

write_conf fail
start_dyperd || bail "dyperd did not start in $NS_H (see $DLOG)"
if poll 8000 0.05 site_ready; then
	ok "2: dyperd reaches the site over SSH (SYNC BEGIN/END as hostA)"
else
	not_ok "2: dyperd reaches the site over SSH"
	diag "$DLOG" 20
	diag "$SLOG" 20
fi
wrapped || bail "wrapped vsftpd did not listen"
doctor() {
	ip netns exec "$NS_H" "$DYPERCTL" -c "$T/dyper.conf" doctor --wrapper "$WRAP" \
		--agent "$AGENT_SO" >"$T/doctor" 2>&1
}
doctor
if grep -q "^ok  *remote-key: $T/hostA_key is nobody's, mode 0600" "$T/doctor" &&
	grep -q "^ok  *remote-hostkey: $T/known_hosts pins a key for $R_IN4 port 22" "$T/doctor" &&
	grep -q "^ok  *remote-site: dyperd's session: ready: site \"test-site\" at $R_IN4 port 22" "$T/doctor"; then
	ok "2: dyperctl doctor finds the key, the pinned host key and dyperd's session ready"
else
	not_ok "2: dyperctl doctor finds the key, the pinned host key and dyperd's session ready"
	diag "$T/doctor"
fi

# a passive download in two halves: the pinhole looked at in between
rm -f "$T/port" "$T/go"
ip netns exec "$NS_A" python3 "$PASV_CLIENT" "$H4" "$T/port" "$T/go" f.bin "$OUT/pasv" \
	>"$LOGD/pasv.out" 2>&1 &
CPID=$!
started $CPID
if poll 8000 0.05 test -s "$T/port"; then
	port=$(cat "$T/port")
	expect_one_router_pinhole "2: R holds one pinhole, for exactly A, to H's passive port $port"
	if ctl list 2>&1 | grep -q " $H4:$port .* site: open at site"; then
		ok "2: dyperctl list shows it open at the site"
	else
		not_ok "2: dyperctl list shows it open at the site"
		ctl list >"$T/list" 2>&1
		diag "$T/list"
	fi
	if ctl list -j 2>&1 | grep -q '"site":"open at site","site_reason":null'; then
		ok "2: and dyperctl list -j too"
	else
		not_ok "2: and dyperctl list -j too"
	fi
	expect_drop "2: B cannot use A's pinhole" "$NS_B" tcp "$H4" "$port"
else
	not_ok "2: the scripted client on A got a PASV reply"
	diag "$LOGD/pasv.out"
fi
touch "$T/go"
wait_exit "$CPID" 20000
if [ "$(sha256sum <"$OUT/pasv" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ]; then
	ok "2: passive FTP from A through R works with Dyper (sha256 matches)"
else
	not_ok "2: passive FTP from A through R works with Dyper"
	diag "$LOGD/pasv.out"
	diag "$SLOG" 20
fi
expect_fetch "2: curl from A, passive, through R" "$NS_A" curl1
if poll 5000 0.05 no_router_pinholes; then
	ok "2: no pinhole left on R afterwards"
else
	not_ok "2: no pinhole left on R afterwards"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi
if grep -q "site: delegate hostA: opened tcp $A4:\* -> $H4:[0-9]*" "$SLOG" &&
	grep -q "site: delegate hostA: closed tcp $A4:\* -> $H4:[0-9]*" "$SLOG"; then
	ok "2: the site controller opened and closed them for delegate hostA"
else
	not_ok "2: the site controller opened and closed them for delegate hostA"
	diag "$SLOG" 20
fi

# --- 3: the SSH session cut in the middle of a transfer ----------------------------------

fetch "$NS_A" slow --limit-rate 1M &
FPID=$!
poll 5000 0.05 router_pinholes >/dev/null
sleep 1
mapfile -t victims < <(sshd_sessions)
if [ ${#victims[@]} -gt 0 ]; then
	kill -KILL "${victims[@]}" 2>/dev/null
	ok "3: cut the SSH session mid-transfer (killed sshd's ${#victims[@]} per-connection processes)"
else
	not_ok "3: found sshd's per-connection processes"
fi
wait "$FPID"
if [ "$(sha256sum <"$OUT/slow" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ]; then
	ok "3: the transfer under way completes (sha256 matches)"
else
	not_ok "3: the transfer under way completes"
	diag "$LOGD/slow.curl"
fi
if poll 15000 0.1 site_ready; then
	ok "3: dyperd reconnects after its backoff"
else
	not_ok "3: dyperd reconnects after its backoff"
	diag "$DLOG" 20
fi
expect_fetch "3: the next download works after the reconnect" "$NS_A" curl3
if poll 5000 0.05 no_router_pinholes; then
	ok "3: no pinhole leaked on R"
else
	not_ok "3: no pinhole leaked on R"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi

# --- 4: kill -9 of dyperd while a client waits for its data connection ---------------------

rm -f "$T/port" "$T/go" "$OUT/pasv4"
ip netns exec "$NS_A" python3 "$PASV_CLIENT" "$H4" "$T/port" "$T/go" f.bin "$OUT/pasv4" \
	>"$LOGD/pasv4.out" 2>&1 &
CPID=$!
started $CPID
poll 8000 0.05 test -s "$T/port" || not_ok "4: a PASV reply before the kill"
kill -KILL "$DPID"
wait_exit "$DPID" 3000
start_dyperd || bail "dyperd did not restart (see $DLOG)"
poll 8000 0.05 site_ready
touch "$T/go"
wait_exit "$CPID" 20000
if [ "$(sha256sum <"$OUT/pasv4" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ]; then
	ok "4: after kill -9 and a restart of dyperd the live pinhole still works at R (sha256)"
else
	not_ok "4: after kill -9 and a restart of dyperd the live pinhole still works at R"
	diag "$LOGD/pasv4.out"
	diag "$SLOG" 20
fi
if poll 5000 0.05 no_router_pinholes; then
	ok "4: and 0 pinholes are left on R"
else
	not_ok "4: and 0 pinholes are left on R"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi
# killed with a pinhole held whose holder dies meanwhile: the restart's SYNC
# drops it (vsftpd restarted first: its channel was the old dyperd's)
stop_vsftpd
wrapped || bail "wrapped vsftpd did not listen again"
rm -f "$T/port" "$T/go"
ip netns exec "$NS_A" python3 "$PASV_CLIENT" "$H4" "$T/port" "$T/go" f.bin "$OUT/pasv4b" \
	>"$LOGD/pasv4b.out" 2>&1 &
CPID=$!
started $CPID
poll 8000 0.05 test -s "$T/port" || not_ok "4: a PASV reply before the second kill"
kill -KILL "$DPID"
wait_exit "$DPID" 3000
stop_vsftpd
kill -KILL "$CPID" 2>/dev/null
if [ -n "$(router_pinholes)" ]; then
	ok "4: a dead dyperd's pinhole is still on R"
else
	not_ok "4: a dead dyperd's pinhole is still on R (nothing to converge)"
fi
start_dyperd || bail "dyperd did not restart (see $DLOG)"
if poll 8000 0.05 no_router_pinholes; then
	ok "4: the restarted dyperd's SYNC leaves 0 leaked pinholes on R"
else
	not_ok "4: the restarted dyperd's SYNC leaves 0 leaked pinholes on R"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi
wrapped || bail "wrapped vsftpd did not listen again"

# --- 8: kill -9 of the site controller ------------------------------------------------------

# two passive sessions from A wait for their data connections: the first
# lives on, the second ends while the site is dead (its pinhole closes on H,
# and the close cannot reach the site)
for n in 1 2; do
	rm -f "$T/port8.$n" "$T/go8.$n"
	ip netns exec "$NS_A" python3 "$PASV_CLIENT" "$H4" "$T/port8.$n" "$T/go8.$n" f.bin \
		"$OUT/pasv8.$n" >"$LOGD/pasv8.$n.out" 2>&1 &
	C8[n]=$!
	started "${C8[n]}"
	poll 8000 0.05 test -s "$T/port8.$n" || not_ok "8: a PASV reply for session $n"
done
p1=$(cat "$T/port8.1" 2>/dev/null) p2=$(cat "$T/port8.2" 2>/dev/null)
# both_on_router: R's table holds the pinholes to $p1 and $p2
both_on_router() {
	local lines

	lines=$(router_pinholes)
	grep -q " -> $H4:$p1 " <<<"$lines" && grep -q " -> $H4:$p2 " <<<"$lines"
}
poll 5000 0.05 both_on_router || not_ok "8: R holds both pinholes before the kill"
kill -KILL "$SITE_PID"
wait_exit "$SITE_PID" 3000
kill -KILL "${C8[2]}" 2>/dev/null
wait_exit "${C8[2]}" 3000
# H closes the second pinhole in its own table; R's table (persistent,
# owned by the dead site) keeps both meanwhile
if poll 5000 0.05 sh -c "! ip netns exec $NS_H nft list table inet dyper | grep -q ' $H4 . $p2 '" &&
	both_on_router; then
	ok "8: with the site controller killed, R keeps both pinholes; H has closed the dead one ($p2)"
else
	not_ok "8: with the site controller killed, R keeps both pinholes; H has closed the dead one"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi
start_site || bail "the site controller did not restart (see $SLOG)"
# only_live_on_router: R holds the live pinhole ($p1) and not the dead one
only_live_on_router() {
	local lines

	lines=$(router_pinholes)
	grep -q "^tcp $A4:\* -> $H4:$p1 " <<<"$lines" && ! grep -q " -> $H4:$p2 " <<<"$lines"
}
if poll 20000 0.1 only_live_on_router; then
	ok "8: after the site's restart and H's re-announcement: 0 live pinholes lost, 0 dead ones leaked on R"
else
	not_ok "8: after the site's restart and H's re-announcement: the live pinhole kept, the dead one gone"
	router_pinholes >"$T/lines"
	diag "$T/lines"
	diag "$SLOG" 20
fi
poll 15000 0.1 site_ready
touch "$T/go8.1"
wait_exit "${C8[1]}" 20000
if [ "$(sha256sum <"$OUT/pasv8.1" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ]; then
	ok "8: the session that lived through the site's crash downloads (sha256 matches)"
else
	not_ok "8: the session that lived through the site's crash downloads"
	diag "$LOGD/pasv8.1.out"
fi
if poll 5000 0.05 no_router_pinholes; then
	ok "8: and 0 pinholes are left on R"
else
	not_ok "8: and 0 pinholes are left on R"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi

# --- 9: hostA's delegate asks for another host's address --------------------------------------

# H may open $H4B by its own policy; the site gives that address to hostB
out=$(ip netns exec "$NS_H" "$CLIENT" -s "$ASOCK" open tcp "$A4" '*' "$H4B" 7000 2>&1)
if grep -q "^err -13 " <<<"$out"; then
	ok "9: a pinhole to $H4B (hostB's by the site policy) is refused to hostA: $out"
else
	not_ok "9: a pinhole to $H4B is refused to hostA (got: $out)"
fi
if poll 3000 0.05 grep -q "site: delegate hostA: .*$H4B:7000 denied" "$SLOG"; then
	ok "9: the site logs the refusal: $(grep -m1 -o "site: delegate hostA: .*$H4B:7000 denied.*" "$SLOG")"
else
	not_ok "9: the site logs the refusal"
	diag "$SLOG" 10
fi
if grep -q "cannot open pinhole .*$H4B:7000" "$DLOG"; then
	ok "9: H's dyperd logs it too: $(grep -m1 -o "cannot open pinhole .*$H4B:7000.*" "$DLOG")"
else
	not_ok "9: H's dyperd logs the refusal"
	diag "$DLOG" 10
fi
if ! router_pinholes | grep -q "$H4B" &&
	! ip netns exec "$NS_H" nft list table inet dyper | grep -q "$H4B"; then
	ok "9: no pinhole to $H4B on R nor on H"
else
	not_ok "9: no pinhole to $H4B on R nor on H"
fi

# --- 10: an active-mode client on H against an FTP server on A ---------------------------------

# A's vsftpd connects back to the port curl on H names in PORT: R drops
# that unless the site opened a pinhole for A
vsftpd_conf "$T/vsftpd_a.conf" "$A4" 21 plain
ip netns exec "$NS_A" vsftpd "$T/vsftpd_a.conf" >"$LOGD/vsftpd_a.out" 2>&1 </dev/null &
APID=$!
started $APID
poll 5000 0.05 ip netns exec "$NS_A" bash -c "exec 3<>/dev/tcp/$A4/21" 2>/dev/null ||
	bail "vsftpd on A did not listen"
# active NAME [WRAPPER...]: curl on H fetches f.bin from A in active mode (PORT)
active() {
	local name=$1

	shift
	ip netns exec "$NS_H" "$@" curl -sS --max-time 8 -P - -o "$OUT/$name" "ftp://$A4/f.bin" \
		>"$LOGD/$name.curl" 2>&1
}
active act_plain
rc=$?
# 28: curl's timeout, waiting for A's data connection that R dropped
if [ $rc = 28 ] && ! cmp -s "$OUT/act_plain" "$PUB/f.bin"; then
	ok "10: without the wrapper, curl on H in active mode times out at R ($(tail -n1 "$LOGD/act_plain.curl"))"
else
	not_ok "10: without the wrapper, curl on H in active mode times out at R (exit $rc)"
	diag "$LOGD/act_plain.curl"
fi
slog0=$(wc -l <"$SLOG")
active act_dyper "$WRAP" -s "$ASOCK" -p "$AGENT_SO"
if [ "$(sha256sum <"$OUT/act_dyper" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ]; then
	ok "10: wrapped, curl on H in active mode downloads from A through R (sha256 matches)"
else
	not_ok "10: wrapped, curl on H in active mode downloads from A through R"
	diag "$LOGD/act_dyper.curl"
	diag "$SLOG" 10
fi
if tail -n +$((slog0 + 1)) "$SLOG" | grep -q "site: delegate hostA: opened tcp $A4:\* -> $H4:[0-9]*" &&
	poll 5000 0.05 no_router_pinholes; then
	ok "10: the site opened it for A as hostA's, and 0 pinholes are left on R"
else
	not_ok "10: the site opened it for A as hostA's, and 0 pinholes are left on R"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi
# the scripted active client, wrapped: R's table looked at between its
# PORT and its RETR, while its port listens
rm -f "$T/port" "$T/go"
ip netns exec "$NS_H" env FTP_ACTIVE=1 "$WRAP" -s "$ASOCK" -p "$AGENT_SO" python3 "$PASV_CLIENT" \
	"$A4" "$T/port" "$T/go" f.bin "$OUT/act_py" >"$LOGD/act_py.out" 2>&1 &
CPID=$!
started $CPID
if poll 8000 0.05 test -s "$T/port"; then
	port=$(cat "$T/port")
	expect_one_router_pinhole "10: R holds one pinhole, for exactly A, to the active client's port $port"
	expect_drop "10: B cannot use A's active-mode pinhole" "$NS_B" tcp "$H4" "$port"
else
	not_ok "10: the scripted active client sent its PORT"
	diag "$LOGD/act_py.out"
fi
touch "$T/go"
wait_exit "$CPID" 20000
if [ "$(sha256sum <"$OUT/act_py" 2>/dev/null | cut -d' ' -f1)" = "$SUM" ] &&
	poll 5000 0.05 no_router_pinholes; then
	ok "10: the scripted active client downloads from A (sha256 matches); 0 pinholes left on R"
else
	not_ok "10: the scripted active client downloads from A; 0 pinholes left on R"
	diag "$LOGD/act_py.out"
	router_pinholes >"$T/lines"
	diag "$T/lines"
fi
sig TERM "$APID"
wait_exit "$APID" 3000 || sig KILL "$APID"

# --- 5: a changed site host key -----------------------------------------------------------

mapfile -t victims < <(sshd_sessions)
stop_sshd
[ ${#victims[@]} -gt 0 ] && kill -KILL "${victims[@]}" 2>/dev/null
cp "$T/host_key" "$T/host_key.good"
cp "$T/host_key.pub" "$T/host_key.good.pub"
sshd_host_key "an impostor"
start_sshd "$NS_R" "$R_IN4" || bail "sshd did not restart"
if poll 10000 0.1 grep -q "^dyperd: error: site $R_IN4 port 22: REFUSED: the host key of $R_IN4 port 22 CHANGED" "$DLOG"; then
	ok "5: a changed site host key is refused and logged as an error: $(grep -m1 -o 'REFUSED: the host key[^:]*' "$DLOG")"
else
	not_ok "5: a changed site host key is refused and logged as an error"
	diag "$DLOG" 20
fi
if ! site_ready && ctl stats | grep -q "^site  *unreachable: .*REFUSED"; then
	ok "5: no session is made; dyperctl stats says why"
else
	not_ok "5: no session is made; dyperctl stats says why"
	ctl stats >"$T/stats" 2>&1
	diag "$T/stats"
fi
doctor
if grep -q "^FAIL  *remote-site: dyperd's session: unreachable: .*REFUSED: the host key .* CHANGED" "$T/doctor" &&
	grep -q "fix: compare the site's host key with its admin" "$T/doctor"; then
	ok "5: dyperctl doctor says the site's host key changed, and what to do"
else
	not_ok "5: dyperctl doctor says the site's host key changed, and what to do"
	diag "$T/doctor"
fi
cmp -s "$T/known_hosts" <(echo "$R_IN4 $(cut -d' ' -f1,2 "$T/host_key.good.pub")") &&
	ok "5: the pinned known_hosts is not rewritten" || not_ok "5: the pinned known_hosts is not rewritten"

# --- 6: the site unreachable: fail, then local ---------------------------------------------

fetch "$NS_A" fail6 --max-time 8
if ! cmp -s "$OUT/fail6" "$PUB/f.bin" &&
	grep -q "cannot open pinhole .*the site is unreachable: REFUSED" "$DLOG"; then
	ok "6: on_unreachable = fail: the bind is refused, saying why: $(grep -m1 -o 'the site is unreachable: REFUSED: [a-z ]*' "$DLOG")"
else
	not_ok "6: on_unreachable = fail: the bind is refused, saying why"
	diag "$DLOG" 20
fi
stop_vsftpd
stop_dyperd
# without dyperd, doctor tries a session itself (the key is root's to read)
doctor
if grep -q "^FAIL  *remote-site: no session with $R_IN4 port 22 as root: REFUSED: the host key .* CHANGED" "$T/doctor"; then
	ok "6: with dyperd stopped, dyperctl doctor tries the session itself: refused, CHANGED"
else
	not_ok "6: with dyperd stopped, dyperctl doctor tries the session itself"
	diag "$T/doctor"
fi
write_conf local
start_dyperd || bail "dyperd (local) did not start (see $DLOG)"
wrapped || bail "wrapped vsftpd did not listen"
rm -f "$T/port" "$T/go"
ip netns exec "$NS_R" python3 "$PASV_CLIENT" "$H4" "$T/port" "$T/go" f.bin "$OUT/local6" \
	>"$LOGD/local6.out" 2>&1 &
CPID=$!
started $CPID
if poll 10000 0.05 test -s "$T/port" &&
	ctl list 2>&1 | grep -q " site: not at site (.*REFUSED: the host key"; then
	ok "6: on_unreachable = local: the pinhole opens here, dyperctl says not at site"
else
	not_ok "6: on_unreachable = local: the pinhole opens here, dyperctl says not at site"
	ctl list >"$T/list" 2>&1
	diag "$T/list"
fi
touch "$T/go"
wait_exit "$CPID" 20000
if cmp -s "$OUT/local6" "$PUB/f.bin"; then
	ok "6: on_unreachable = local: a client inside the site downloads (sha256 matches)"
else
	not_ok "6: on_unreachable = local: a client inside the site downloads"
	diag "$LOGD/local6.out"
fi
stop_vsftpd
stop_dyperd

# --- 7: the key file's owner and mode ----------------------------------------------------

cp -p "$T/hostA_key" "$T/hostA_key.0644"
chmod 644 "$T/hostA_key.0644"
write_conf fail "$T/hostA_key.0644"
out=$(ip netns exec "$NS_H" "$DYPERD" -c "$T/dyper.conf" --check-config 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "has mode 0644: group and others must have no access" <<<"$out"; then
	ok "7: dyperd --check-config refuses a key with mode 0644, saying why"
else
	not_ok "7: dyperd --check-config refuses a key with mode 0644 (exit $rc: $out)"
fi
doctor
if grep -q "^FAIL  *remote-key: $T/hostA_key.0644 is mode 0644: group and others must have no access" "$T/doctor" &&
	grep -q "fix: chown nobody $T/hostA_key.0644; chmod 600 $T/hostA_key.0644" "$T/doctor"; then
	ok "7: dyperctl doctor says the same, and the commands that fix it"
else
	not_ok "7: dyperctl doctor says the same, and the commands that fix it"
	diag "$T/doctor"
fi
chown root "$T/hostA_key.0644"
chmod 600 "$T/hostA_key.0644"
: >"$T/start7.log"
ip netns exec "$NS_H" timeout 20 "$DYPERD" -c "$T/dyper.conf" -f >"$T/start7.log" 2>&1 </dev/null
rc=$?
if [ $rc -ne 0 ] && grep -q "owned by uid 0, not by the daemon's uid $(id -u nobody)" "$T/start7.log"; then
	ok "7: dyperd does not start with a key that is not its user's (exit $rc)"
else
	not_ok "7: dyperd does not start with a key that is not its user's (exit $rc)"
	diag "$T/start7.log"
fi

# a SANITIZE= build's dyperd reports what it found on stderr, into its log
if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$DLOG" "$SLOG" "$T/start7.log"; then
	not_ok "dyperd's sanitizers found nothing"
	grep -h -A12 "Sanitizer\|runtime error:" "$DLOG" "$SLOG" "$T/start7.log" >"$T/san"
	diag "$T/san" 40
else
	ok "the host's and the site's dyperd logs have no sanitizer report"
fi

summary
