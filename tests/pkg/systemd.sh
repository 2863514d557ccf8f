#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# systemd.sh: dyperd.service under a real systemd, as a workstation runs it.
# Builds a Debian root of the host's release with debootstrap (vsftpd
# included), installs Dyper into it from its Debian package (`make deb`,
# dpkg -i: the maintainer scripts make the user and dyper-wrap's mode), wraps
# vsftpd with the drop-in README.md gives, and boots it with systemd-nspawn
# in a network namespace of this test's own, joined by a veth to a second
# one, the external host.  Then: dyperd runs as user dyper with exactly its
# two capabilities, no_new_privs and a seccomp filter; the live exposure
# score is 2.0 or lower; vsftpd started after dyperd was ready; doctor is
# content; a passive FTP download from the external host works through a
# pinhole owned by vsftpd, which closes after it; the journal holds its open
# and close as structured entries (journalctl -o json: MESSAGE_ID, DYPER_*
# fields, found by DYPER_REMOTE=), `dyperctl watch -j` streamed both, and
# `dyperctl list --recent` keeps the close; after `systemctl restart
# dyperd`, after a package upgrade (dpkg -i of the package again) and after
# SIGKILL (Restart=on-failure) the same vsftpd (its pid unchanged) serves
# downloads again, its channel resumed; the wait of a download begun as
# `systemctl restart` runs, and of the first one after, is printed; without
# the drop-in the same download fails.  The unit: ordered before
# network-pre.target, STATUS= lines, a reload with a broken policy fails
# (and one with a good policy succeeds).  Last,
# `dpkg -r dyper` stops and disables dyperd and removes its table from the
# kernel, keeping the configuration, which `dpkg -P` removes.
#
# Needs root, debootstrap and systemd-nspawn, and a Debian mirror (the
# first run downloads about 60 MB; the root is kept in $B/systemd-root for
# the next).  Touches nothing outside its namespaces, the root and its temp
# dir.  Output: "ok - ..." / "not ok - ..." per check, then "systemd: N
# passed, N failed"; exit 0 only if nothing failed, 77 when it cannot run
# here (skipped, saying why).

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/report.sh"

B=${B:-build}
case $B in
/*) BDIR=$B ;;
*) BDIR=$ROOT/$B ;;
esac
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
MAX_EXPOSURE=2.0
FILE_MB=5

skip_all() {
	echo "systemd.sh: skipped: $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip_all "needs root (it boots a container)"
PATH=$PATH:/usr/sbin:/sbin
for tool in debootstrap systemd-nspawn nsenter curl; do
	command -v $tool >/dev/null || skip_all "$tool missing (make deps installs it)"
done
# shellcheck disable=SC1091
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$SUITE" ] && [ -x /usr/bin/dpkg ] || skip_all "not a Debian host: no suite to bootstrap"
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

RFS=$BDIR/systemd-root
T=$(mktemp -d /tmp/dyper-systemd.XXXXXX) || exit 1
NS_IN=dyt-$$-sdin
NS_EXT=dyt-$$-sdext
DROPIN=$RFS/etc/systemd/system/vsftpd.service.d/dyper.conf
NSPAWN=
INIT=

cleanup() {
	if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
		[ -n "$INIT" ] && nsenter -t "$INIT" -a systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 1 50); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$NSPAWN" 2>/dev/null
	fi
	ip netns del "$NS_IN" 2>/dev/null
	ip netns del "$NS_EXT" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in_c CMD...: CMD inside the booted container.
in_c() {
	nsenter -t "$INIT" -a "$@"
}

# --- the root -------------------------------------------------------------------

# the packages the root holds besides minbase: what the test runs, and the
# libraries the package depends on (a kept root made with another list is
# made anew)
INCLUDE=systemd,systemd-sysv,dbus,nftables,iproute2,procps,vsftpd,libnftnl11,libmnl0,libinih1,libcap-ng0,libssh-4,libsystemd0
if [ ! -x "$RFS/usr/sbin/vsftpd" ] || [ "$(cat "$RFS/.dyper-include" 2>/dev/null)" != "$INCLUDE" ]; then
	rm -rf "$RFS"
	echo "# debootstrap $SUITE from $MIRROR into $RFS"
	if ! debootstrap --variant=minbase --include="$INCLUDE" \
		"$SUITE" "$RFS" "$MIRROR" >"$T/debootstrap.log" 2>&1; then
		tail -n 5 "$T/debootstrap.log" | sed 's/^/#   /'
		rm -rf "$RFS"
		skip_all "debootstrap of $SUITE from $MIRROR failed (no mirror reachable?)"
	fi
	echo "$INCLUDE" >"$RFS/.dyper-include"
fi
ok "a Debian $SUITE root with systemd and vsftpd"

# Dyper as its Debian package (make deb, in a build dir of its own)
# installs it, the maintainer scripts run in the root: the user and group,
# dyper-wrap set-group-ID through a stat override.
MK=(make --no-print-directory -C "$ROOT" B="$BDIR/systemd-build")
rm -f "$BDIR"/systemd-build/deb/dyper_*.deb
if "${MK[@]}" deb >"$T/build.log" 2>&1 && cp "$BDIR"/systemd-build/deb/dyper_*.deb "$T/dyper.deb" &&
	cp "$T/dyper.deb" "$RFS/tmp/dyper.deb" &&
	chroot "$RFS" env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confnew /tmp/dyper.deb \
		>"$T/install.log" 2>&1; then
	ok "the Debian package (make deb) installs in the root: dpkg -i"
else
	not_ok "the Debian package (make deb) installs in the root: dpkg -i"
	diag "$T/build.log"
	diag "$T/install.log"
	bail "cannot install"
fi
rm -f "$RFS/tmp/dyper.deb"
wrap=$(chroot "$RFS" stat -c '%a %U %G' /usr/bin/dyper-wrap)
if [ "$wrap" = "2711 root dyper" ] && chroot "$RFS" getent passwd dyper >/dev/null; then
	ok "postinst made the user dyper and dyper-wrap 2711 root:dyper"
else
	not_ok "postinst made the user dyper and dyper-wrap 2711 root:dyper (got \"$wrap\")"
fi
sed -i 's/^tcp_ports = 22$/tcp_ports = 22, 21/' "$RFS/etc/dyper/dyper.conf"
grep -q '^tcp_ports = 22, 21$' "$RFS/etc/dyper/dyper.conf" || bail "cannot open port 21 in dyper.conf"
ln -sf /usr/lib/systemd/system/dyperd.service \
	"$RFS/etc/systemd/system/multi-user.target.wants/dyperd.service"
cat >"$RFS/etc/vsftpd.conf" <<EOF
listen=YES
anonymous_enable=YES
no_anon_password=YES
anon_root=/srv/ftp
local_enable=NO
write_enable=NO
secure_chroot_dir=/var/run/vsftpd/empty
seccomp_sandbox=NO
pasv_min_port=40000
pasv_max_port=40999
connect_from_port_20=NO
EOF
mkdir -p "$RFS/srv/ftp" "$(dirname "$DROPIN")"
head -c $((FILE_MB * 1024 * 1024)) /dev/urandom >"$RFS/srv/ftp/file.bin"
chmod 644 "$RFS/srv/ftp/file.bin"
# README.md's drop-in, word for word
sed -n '/^\[Unit\]$/,/^```$/p' "$ROOT/README.md" | sed '$d' >"$DROPIN"
grep -q 'dyper-wrap /usr/sbin/vsftpd' "$DROPIN" || bail "no vsftpd drop-in found in README.md"
rm -rf "$RFS/var/log/journal"/*

# --- the network and the boot ---------------------------------------------------------

ip netns add "$NS_IN" && ip netns add "$NS_EXT" &&
	ip -n "$NS_IN" link add eth0 type veth peer name eth0 netns "$NS_EXT" &&
	ip -n "$NS_IN" addr add 192.0.2.10/24 dev eth0 &&
	ip -n "$NS_EXT" addr add 198.51.100.10/24 dev eth0 &&
	ip -n "$NS_IN" link set eth0 up && ip -n "$NS_IN" link set lo up &&
	ip -n "$NS_EXT" link set eth0 up && ip -n "$NS_EXT" link set lo up &&
	ip -n "$NS_IN" route add 198.51.100.0/24 dev eth0 &&
	ip -n "$NS_EXT" route add 192.0.2.0/24 dev eth0 || bail "cannot build the network"

# nspawn keeps CAP_NET_ADMIN out of a container that shares a namespace it
# did not make: grant it, as a host grants it to its services.
systemd-nspawn -q -D "$RFS" --boot --console=pipe --register=no --keep-unit --capability=CAP_NET_ADMIN \
	--network-namespace-path="/run/netns/$NS_IN" >"$T/console.log" 2>&1 </dev/null &
NSPAWN=$!
state=
for _ in $(seq 1 150); do
	INIT=$(pgrep -P "$NSPAWN" | head -n 1)
	if [ -n "$INIT" ]; then
		state=$(timeout 20 nsenter -t "$INIT" -a systemctl is-system-running --wait 2>/dev/null)
		[ -n "$state" ] && break
	fi
	sleep 0.2
done
if [ "$state" = running ]; then
	ok "the root boots: systemd says running"
else
	not_ok "the root boots: systemd says running (got \"$state\")"
	diag "$T/console.log"
	[ -n "$INIT" ] && diag_s "$(in_c systemctl --no-pager --failed 2>&1)"
	[ -n "$INIT" ] || bail "the container did not boot"
fi

# --- dyperd under its unit -----------------------------------------------------------------

if [ "$(in_c systemctl is-active dyperd)" = active ]; then
	ok "dyperd.service is active"
else
	not_ok "dyperd.service is active"
	diag_s "$(in_c journalctl -u dyperd --no-pager -o cat 2>&1 | tail -n 10)"
fi
status=$(in_c sh -c 'cat /proc/$(pidof dyperd)/status' 2>/dev/null)
field() {
	awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' <<<"$status"
}
uid=$(in_c id -u dyper)
# CAP_NET_ADMIN (12) and CAP_SYS_PTRACE (19)
caps=0000000000081000
if [ "$(field Uid)" = "$uid $uid $uid $uid" ] && [ "$(field CapEff)" = $caps ] &&
	[ "$(field CapPrm)" = $caps ] && [ "$(field CapBnd)" = $caps ] &&
	[ "$(field CapAmb)" = 0000000000000000 ] && [ "$(field NoNewPrivs)" = 1 ] &&
	[ "$(field Seccomp)" = 2 ]; then
	ok "dyperd runs as dyper (uid $uid) with CAP_NET_ADMIN and CAP_SYS_PTRACE only, no_new_privs, seccomp"
else
	not_ok "dyperd runs as dyper with its two capabilities only, no_new_privs, seccomp"
	diag_s "$(grep -E '^(Uid|Gid|Cap|NoNewPrivs|Seccomp:)' <<<"$status")"
fi
score=$(in_c systemd-analyze security dyperd.service --no-pager 2>&1 |
	sed -n 's/.*Overall exposure level for dyperd.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" -v m=$MAX_EXPOSURE 'BEGIN { exit !(s <= m) }'; then
	ok "systemd-analyze security dyperd.service (live): exposure $score (at most $MAX_EXPOSURE)"
else
	not_ok "systemd-analyze security dyperd.service (live): exposure \"$score\", at most $MAX_EXPOSURE"
fi
if [ "$(in_c systemctl is-active vsftpd)" = active ]; then
	ok "vsftpd, wrapped and ordered after dyperd (Type=notify), is active"
else
	not_ok "vsftpd, wrapped and ordered after dyperd (Type=notify), is active"
	diag_s "$(in_c journalctl -u vsftpd --no-pager -o cat 2>&1 | tail -n 5)"
fi
if in_c dyperctl doctor >"$T/doctor" 2>&1; then
	ok "dyperctl doctor: nothing failed"
else
	not_ok "dyperctl doctor: nothing failed"
	diag "$T/doctor"
fi

# --- the unit: ordering, STATUS=, a reload that returns its result -------------------------------

if in_c systemctl show -p Before -p Wants --value dyperd | grep -qw network-pre.target &&
	[ "$(in_c systemctl show -p Wants --value dyperd | grep -cw network-pre.target)" = 1 ]; then
	ok "dyperd.service comes before network-pre.target and wants it"
else
	not_ok "dyperd.service comes before network-pre.target and wants it"
	diag_s "$(in_c systemctl show -p Before -p Wants dyperd)"
fi
status_text() {
	in_c systemctl show -p StatusText --value dyperd
}
if status_text | grep -q '^running: table inet dyper, [0-9]* pinholes, [0-9]* policy rules$'; then
	ok "systemctl status shows dyperd's STATUS=: $(status_text)"
else
	not_ok "systemctl status shows dyperd's STATUS= (got \"$(status_text)\")"
fi
cp "$RFS/etc/dyper/policy" "$T/policy.good"
echo "allow nosuchuser * * * * * * 1024-65535" >>"$RFS/etc/dyper/policy"
if ! in_c systemctl reload dyperd >"$T/reload.log" 2>&1 &&
	[ "$(in_c systemctl is-active dyperd)" = active ] &&
	status_text | grep -q '^reload failed, old policy kept: /etc/dyper/policy:[0-9]*: .*"nosuchuser"'; then
	ok "systemctl reload with a broken policy fails, dyperd keeps running, STATUS= says why"
else
	not_ok "systemctl reload with a broken policy fails, dyperd keeps running, STATUS= says why"
	diag "$T/reload.log"
	diag_s "$(status_text)"
fi
cp "$T/policy.good" "$RFS/etc/dyper/policy"
if in_c systemctl reload dyperd >"$T/reload.log" 2>&1 && status_text | grep -q '^reloaded: '; then
	ok "systemctl reload with the policy repaired succeeds: $(status_text)"
else
	not_ok "systemctl reload with the policy repaired succeeds"
	diag "$T/reload.log"
fi

# --- passive FTP from the external host ----------------------------------------------------------

# fetch OUT: a passive download of file.bin from the external host.
fetch() {
	ip netns exec "$NS_EXT" curl -sS --disable-epsv --connect-timeout 3 --max-time 30 \
		-o "$1" ftp://192.0.2.10/file.bin 2>"$T/curl.err"
}
# an admin watching, as dyperctl(8) shows (stopped once it saw the close)
in_c timeout 60 dyperctl watch -j >"$T/watch" 2>&1 &
WATCH=$!
for _ in $(seq 1 50); do
	in_c pidof dyperctl >/dev/null && break
	sleep 0.1
done
# its command line reaches dyperd at once; FTP's login comes before PASV
sleep 0.5
if fetch "$T/got" && cmp -s "$T/got" "$RFS/srv/ftp/file.bin"; then
	ok "passive FTP through the pinhole: $FILE_MB MB, identical"
else
	not_ok "passive FTP through the pinhole"
	diag "$T/curl.err"
fi
in_c journalctl -u dyperd --no-pager -o cat >"$T/journal" 2>&1
if grep -Eq '^open tcp 198\.51\.100\.10:\* -> 192\.0\.2\.10:[0-9]+ .*\(vsftpd\)' "$T/journal"; then
	ok "the journal names the pinhole and its owner, vsftpd"
else
	not_ok "the journal names the pinhole and its owner, vsftpd"
	diag "$T/journal"
fi
closed=
for _ in $(seq 1 25); do
	in_c dyperctl list 2>&1 | grep -q '^0 pinholes' && closed=1 && break
	sleep 0.2
done
if [ -n "$closed" ]; then
	ok "the pinhole closed after the download"
else
	not_ok "the pinhole closed after the download"
	diag_s "$(in_c dyperctl list 2>&1)"
fi

# --- what the admin sees: journal fields, watch, history --------------------------------------

# journalctl -o json: one object a line; the data pinhole's open and close
# (the one to a passive port, 40000-40999), matched by DYPER_REMOTE= as
# dyperd(8) shows
for _ in $(seq 1 25); do
	in_c journalctl -u dyperd --no-pager -o json DYPER_REMOTE=198.51.100.10 >"$T/journal.json" 2>&1
	grep -q '"DYPER_EVENT":"close"' "$T/journal.json" && break
	sleep 0.2
done
if jq -e -s '
	map(select((.DYPER_LOCAL_PORT // "0" | tonumber) >= 40000)) as $d |
	($d | map(select(.DYPER_EVENT == "open")) | length == 1) and
	($d | map(select(.DYPER_EVENT == "open"))[0] as $o |
	 $o.MESSAGE_ID == "a2eebdf1e8714d14b9ff5758a2769208" and $o.DYPER_PROGRAM == "vsftpd" and
	 $o.DYPER_PROTO == "tcp" and $o.DYPER_REMOTE == "198.51.100.10" and
	 $o.DYPER_LOCAL == "192.0.2.10" and ($o.DYPER_UID | test("^[0-9]+$")) and
	 ($o.DYPER_PID | test("^[0-9]+$")) and ($o.DYPER_PINHOLE_ID | test("^[0-9]+$")) and
	 $o.DYPER_REMOTE_PORT == null and ($o.MESSAGE | startswith("open tcp 198.51.100.10:* -> ")) and
	 ($d | map(select(.DYPER_EVENT == "close" and .DYPER_PINHOLE_ID == $o.DYPER_PINHOLE_ID)) |
	  length == 1 and (.[0] | .MESSAGE_ID == "f0618783541a4495b500e683387074c8" and
	  (.DYPER_DURATION_MS | test("^[0-9]+$")) and (.DYPER_CAUSE | test("socket-closed|owner")) and
	  (.DYPER_PACKETS | test("^[1-9][0-9]*$")) and (.DYPER_BYTES | test("^[1-9][0-9]*$")) and
	  (.DYPER_REASON | length > 0) and .DYPER_LOCAL_PORT == $o.DYPER_LOCAL_PORT)))' \
	"$T/journal.json" >/dev/null 2>&1; then
	ok "journalctl -o json DYPER_REMOTE=198.51.100.10: the data pinhole's open and close, MESSAGE_ID and DYPER_* fields"
else
	not_ok "journalctl -o json DYPER_REMOTE=198.51.100.10: open and close with their fields"
	jq -c '{MESSAGE, MESSAGE_ID, DYPER_EVENT, DYPER_PINHOLE_ID, DYPER_LOCAL_PORT, DYPER_CAUSE}' \
		"$T/journal.json" 2>&1 | tail -n 6 | sed 's/^/#   /'
fi
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
if jq -e -s 'map(select(.remote == "198.51.100.10" and .local_port >= 40000)) |
	(map(.event) | index("open") != null and index("close") != null) and
	all(.[]; .program == "vsftpd" and .schema == 1)' "$T/watch" >/dev/null 2>&1; then
	ok "dyperctl watch -j streamed the data pinhole's open and close"
else
	not_ok "dyperctl watch -j streamed the data pinhole's open and close"
	diag "$T/watch" 4
fi
if in_c dyperctl list --recent | grep -Eq ' close +tcp 198\.51\.100\.10:\* -> 192\.0\.2\.10:40[0-9]{3} .*\(vsftpd\) after [0-9]+ ms, [1-9][0-9]* packets [1-9][0-9]* bytes: '; then
	ok "dyperctl list --recent keeps the data pinhole's close"
else
	not_ok "dyperctl list --recent keeps the data pinhole's close"
	diag_s "$(in_c dyperctl list --recent 2>&1 | tail -n 4)"
fi

# --- restart, upgrade, crash: vsftpd keeps running and serving --------------------------

VS=$(in_c systemctl show -p MainPID --value vsftpd)
# same_vsftpd WHAT: ok when vsftpd still runs as $VS and a download works
same_vsftpd() {
	local now

	now=$(in_c systemctl show -p MainPID --value vsftpd)
	if [ "$now" = "$VS" ] && fetch "$T/got.$2" && cmp -s "$T/got.$2" "$RFS/srv/ftp/file.bin"; then
		ok "$1: the same vsftpd (pid $VS) serves a passive download, its channel resumed"
	else
		not_ok "$1: the same vsftpd (pid $VS, now $now) serves a passive download"
		diag "$T/curl.err"
		diag_s "$(in_c journalctl -u dyperd --no-pager -o cat 2>&1 | tail -n 8)"
	fi
}
# timed OUT: fetch, printing curl's time to the first byte
timed() {
	ip netns exec "$NS_EXT" curl -sS --disable-epsv --connect-timeout 3 --max-time 30 \
		-w '%{time_starttransfer}' -o "$1" ftp://192.0.2.10/file.bin 2>"$T/curl.err"
}
base=$(timed "$T/got.base")
# a download begun just after `systemctl restart` starts: its PASV bind is
# in flight while dyperd is away
t0=$(date +%s.%N)
in_c systemctl restart dyperd &
RPID=$!
sleep 0.05
timed "$T/got.during" >"$T/during"
wait $RPID
t1=$(date +%s.%N)
first=$(timed "$T/got.first")
if cmp -s "$T/got.during" "$RFS/srv/ftp/file.bin" && cmp -s "$T/got.first" "$RFS/srv/ftp/file.bin"; then
	ok "a download begun as systemctl restart dyperd runs, and the first one after it, complete"
else
	not_ok "a download begun as systemctl restart dyperd runs, and the first one after it, complete"
	diag "$T/curl.err"
fi
echo "# time to the first byte: before the restart ${base}s, begun 50 ms into systemctl" \
	"restart $(cat "$T/during")s, the first after it ${first}s; systemctl restart took" \
	"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')s"
same_vsftpd "after systemctl restart dyperd" restart

# a package upgrade: the same package again; postinst restarts dyperd
cp "$T/dyper.deb" "$RFS/var/tmp/dyper.deb"
pid=$(in_c systemctl show -p MainPID --value dyperd)
if in_c env DEBIAN_FRONTEND=noninteractive dpkg -i /var/tmp/dyper.deb >"$T/upgrade.log" 2>&1 &&
	[ "$(in_c systemctl is-active dyperd)" = active ] &&
	[ "$(in_c systemctl show -p MainPID --value dyperd)" != "$pid" ]; then
	ok "dpkg -i of the package again (an upgrade): dyperd restarted by postinst, active"
else
	not_ok "dpkg -i of the package again (an upgrade): dyperd active"
	diag "$T/upgrade.log"
fi
rm -f "$RFS/var/tmp/dyper.deb"
same_vsftpd "after the upgrade" upgrade

pid=$(in_c systemctl show -p MainPID --value dyperd)
in_c kill -KILL "$pid"
# a download begun right after the crash: its bind waits for the next dyperd
timed "$T/got.crash" >"$T/crash" &
CURL=$!
back=
for _ in $(seq 1 50); do
	now=$(in_c systemctl show -p MainPID --value dyperd)
	if [ "$now" != "$pid" ] && [ "$now" != 0 ] && [ "$(in_c systemctl is-active dyperd)" = active ]; then
		back=1
		break
	fi
	sleep 0.2
done
if [ -n "$back" ] && in_c nft list chain inet dyper input | grep -q 'policy drop'; then
	ok "killed with SIGKILL, dyperd is started again (Restart=on-failure: pid $pid -> $now), table in place"
else
	not_ok "killed with SIGKILL, dyperd is started again (Restart=on-failure)"
	diag_s "$(in_c systemctl status --no-pager dyperd 2>&1 | head -n 10)"
fi
wait $CURL
if cmp -s "$T/got.crash" "$RFS/srv/ftp/file.bin"; then
	ok "a download begun right after kill -9 completes once dyperd is back"
else
	not_ok "a download begun right after kill -9 completes once dyperd is back"
	diag "$T/curl.err"
fi
echo "# time to the first byte of a download begun right after kill -9 (RestartSec=1s): $(cat "$T/crash")s"
same_vsftpd "after kill -9 of dyperd" kill

# --- without the wrapper ------------------------------------------------------------------

in_c rm "${DROPIN#"$RFS"}"
in_c systemctl daemon-reload
in_c systemctl restart vsftpd
drops() {
	in_c nft list chain inet dyper input | sed -n 's/.*counter packets \([0-9]*\) .*drop.*/\1/p'
}
d0=$(drops)
if ! fetch "$T/got3"; then
	d1=$(drops)
	if [ "${d1:-0}" -gt "${d0:-0}" ]; then
		ok "without dyper-wrap the same download fails: dropped by Dyper's table ($d0 -> $d1)"
	else
		not_ok "without dyper-wrap the download fails, but Dyper's drop counter did not rise ($d0 -> $d1)"
	fi
else
	not_ok "without dyper-wrap the same download fails"
fi

# --- removing the package leaves the host as it was ------------------------------------------

if in_c env DEBIAN_FRONTEND=noninteractive dpkg -r dyper >"$T/remove.log" 2>&1; then
	ok "dpkg -r dyper"
else
	not_ok "dpkg -r dyper"
	diag "$T/remove.log"
fi
if ! in_c nft list table inet dyper >/dev/null 2>&1 && ! in_c pidof dyperd >/dev/null &&
	[ ! -e "$RFS/usr/sbin/dyperd" ] && [ ! -e "$RFS/etc/systemd/system/multi-user.target.wants/dyperd.service" ]; then
	ok "after removal: dyperd stopped and disabled, its table gone from the kernel, its files gone"
else
	not_ok "after removal: dyperd stopped and disabled, its table gone from the kernel, its files gone"
	diag "$T/remove.log"
	diag_s "$(in_c nft list tables 2>&1; in_c pidof dyperd)"
fi
if [ -f "$RFS/etc/dyper/dyper.conf" ] &&
	in_c env DEBIAN_FRONTEND=noninteractive dpkg -P dyper >"$T/purge.log" 2>&1 &&
	[ ! -e "$RFS/etc/dyper" ] && ! in_c dpkg-statoverride --list /usr/bin/dyper-wrap >/dev/null; then
	ok "removal keeps the configuration; purging removes it and the stat override"
else
	not_ok "removal keeps the configuration; purging removes it and the stat override"
	diag "$T/purge.log"
fi

summary
