#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lockout.sh: `dyperd --check-config` and `dyperctl doctor` warn about the
# services listening right now that Dyper's table would drop.  In a network
# namespace of its own, a stand-in server listens on TCP 0.0.0.0:22 (as
# sshd does), TCP 0.0.0.0:8022, UDP 0.0.0.0:5060 and TCP 127.0.0.1:631
# (loopback: the table accepts it).  With no control port both warn about
# 22 (loudly: SSH), 8022 and 5060, not about 631; with the shipped
# conf/dyper.conf (tcp_ports = 22) not about 22; with all open, about
# nothing.  Then dyperd itself runs with the shipped config in that
# namespace and a client in a second one connects to port 22 but not to
# 8022, listening as well: the warnings are the table's truth.
#
# Needs root; touches nothing outside its namespaces and temp dir.
# Output: "ok - ..." / "not ok - ..." per check, then "lockout: N passed,
# N failed"; exit 0 only if nothing failed (77 when not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_root
need_bins "$DYPERD" "$DYPERCTL"
need_tools python3 nft

start_test
chmod 755 "$T"
NS=dyt-$$-lk
NS_EXT=dyt-$$-lkx
run ip netns add "$NS"
created_ns+=("$NS")
run ip netns add "$NS_EXT"
created_ns+=("$NS_EXT")
run ip -n "$NS" link set lo up
run ip -n "$NS" link add eth0 type veth peer name eth0 netns "$NS_EXT"
run ip -n "$NS" addr add 192.0.2.1/24 dev eth0
run ip -n "$NS_EXT" addr add 192.0.2.2/24 dev eth0
run ip -n "$NS" link set eth0 up
run ip -n "$NS_EXT" link set eth0 up

printf 'allow * * * * * * 1024-65535\n' >"$T/policy"
# write_conf FILE [ENFORCER-LINE...]
write_conf() {
	local f=$1

	shift
	{
		echo "[daemon]"
		echo "user = nobody"
		echo "group = daemon"
		echo "agent_socket = $T/agent.sock"
		echo "control_socket = $T/control.sock"
		echo "policy = $T/policy"
		echo "[enforcer]"
		printf '%s\n' "$@"
	} >"$f"
	chmod 644 "$f"
}
write_conf "$T/closed.conf"
write_conf "$T/open.conf" "tcp_ports = 22, 8022" "udp_ports = 5060"
# the shipped file, its policy and sockets pointed into the temp dir
sed -e "s|^; policy = .*|policy = $T/policy|" \
	-e "s|^; agent_socket = .*|agent_socket = $T/agent.sock|" \
	-e "s|^; control_socket = .*|control_socket = $T/control.sock|" \
	-e "s|^; user = .*|user = nobody|" -e "s|^; group = .*|group = daemon|" \
	"$ROOT/conf/dyper.conf" >"$T/shipped.conf"
chmod 644 "$T/policy" "$T/shipped.conf"

# the stand-in services, for at most $SERVE_S seconds
ip netns exec "$NS" python3 -c '
import socket, sys, time
socks = []
for fam, typ, addr, port in ((socket.AF_INET, socket.SOCK_STREAM, "0.0.0.0", 22),
                             (socket.AF_INET, socket.SOCK_DGRAM, "0.0.0.0", 5060),
                             (socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", 631),
                             (socket.AF_INET, socket.SOCK_STREAM, "0.0.0.0", 8022)):
    s = socket.socket(fam, typ)
    s.bind((addr, port))
    if typ == socket.SOCK_STREAM:
        s.listen(8)
    socks.append(s)
open(sys.argv[1], "w").write("ready\n")
end = time.time() + int(sys.argv[2])
socks[0].settimeout(1)
while time.time() < end:
    try:
        socks[0].accept()[0].close()
    except socket.timeout:
        pass
' "$T/ready" "$SERVE_S" >"$T/server.log" 2>&1 &
started $!
for _ in $(seq 1 50); do
	[ -s "$T/ready" ] && break
	sleep 0.1
done
[ -s "$T/ready" ] || bail "the stand-in services did not start: $(cat "$T/server.log")"

# check_config CONF: dyperd --check-config in the namespace; stderr in $ERR
ERR=
check_config() {
	ERR=$(ip netns exec "$NS" "$DYPERD" --check-config -c "$1" 2>&1 >/dev/null)
}
# doctor_out CONF: doctor's listener lines in the namespace
doctor_out() {
	ip netns exec "$NS" "$DYPERCTL" -c "$1" doctor 2>&1 | grep -A1 ' listeners: '
}

# --- no control port: 22 and 5060 are cut off ---------------------------------------

if check_config "$T/closed.conf" &&
	grep -q 'WARNING: tcp port 22 (python3) is listening (on 0.0.0.0), but Dyper.s table drops' <<<"$ERR" &&
	grep -q 'SSH LOGINS WOULD BE CUT OFF' <<<"$ERR" &&
	grep -q "add 22 to tcp_ports in $T/closed.conf" <<<"$ERR" &&
	grep -q 'WARNING: udp port 5060 (python3)' <<<"$ERR" && grep -q 'WARNING: tcp port 8022 ' <<<"$ERR" &&
	grep -q "add 5060 to udp_ports" <<<"$ERR" && ! grep -q '631' <<<"$ERR"; then
	ok "--check-config, no port open: exit 0, warns loudly about SSH on 22 and about 5060, not about 631 (loopback)"
else
	not_ok "--check-config, no port open: warns about 22 (SSH) and 5060, not 631"
	diag_s "$ERR"
fi
out=$(doctor_out "$T/closed.conf")
if grep -q '^warning  listeners: tcp port 22 .*SSH LOGINS WOULD BE CUT OFF' <<<"$out" &&
	grep -q 'fix: if other hosts must reach it: tcp_ports = 22 ' <<<"$out" &&
	grep -q '^warning  listeners: udp port 5060 ' <<<"$out" && ! grep -q 631 <<<"$out"; then
	ok "doctor, no port open: warns about 22 (SSH) and 5060 with the fix, not about 631"
else
	not_ok "doctor, no port open: warns about 22 (SSH) and 5060 with the fix, not about 631"
	diag_s "$out"
fi

# --- the shipped configuration keeps SSH open ------------------------------------------

if check_config "$T/shipped.conf" && ! grep -q 'port 22 ' <<<"$ERR" &&
	grep -q 'WARNING: udp port 5060 ' <<<"$ERR" && grep -q 'WARNING: tcp port 8022 ' <<<"$ERR"; then
	ok "--check-config, the shipped dyper.conf: no warning about 22, still about 8022 and 5060"
else
	not_ok "--check-config, the shipped dyper.conf: no warning about 22, still about 8022 and 5060"
	diag_s "$ERR"
fi

# --- both open: nothing to say -------------------------------------------------------

if check_config "$T/open.conf" && [ -z "$ERR" ]; then
	ok "--check-config, 22, 8022 and 5060 open: no warning"
else
	not_ok "--check-config, 22, 8022 and 5060 open: no warning"
	diag_s "$ERR"
fi
out=$(doctor_out "$T/open.conf")
if grep -q '^ok       listeners: [0-9]* listening sockets: each is loopback only or on a control port' <<<"$out"; then
	ok "doctor, 22, 8022 and 5060 open: listeners ok"
else
	not_ok "doctor, 22, 8022 and 5060 open: listeners ok"
	diag_s "$out"
fi

# --- the table agrees: 22 reachable under the shipped config -----------------------------

ip netns exec "$NS" "$DYPERD" -f -c "$T/shipped.conf" >"$T/dyperd.log" 2>&1 </dev/null &
started $!
DPID=$!
for _ in $(seq 1 50); do
	[ -S "$T/control.sock" ] && break
	sleep 0.1
done
# connect PORT: a TCP connection from the external namespace, 2 s at most
connect() {
	ip netns exec "$NS_EXT" python3 -c '
import socket, sys
s = socket.create_connection(("192.0.2.1", int(sys.argv[1])), timeout=2)' "$1" 2>/dev/null
}
if [ -S "$T/control.sock" ] && ip netns exec "$NS" nft list table inet dyper >/dev/null 2>&1 &&
	connect 22 && ! connect 8022; then
	ok "under the shipped config dyperd's table lets port 22 in and drops 8022, listening too"
else
	not_ok "under the shipped config dyperd's table lets port 22 in and drops 8022, listening too"
	diag "$T/dyperd.log"
fi
sig TERM "$DPID"

summary
