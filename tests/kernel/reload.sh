#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# reload.sh: a reload applies the table's settings at runtime (issue 13
# item 2).  dyperd runs in IN with no control port; a client holds a
# pinhole from A to IN:7301 and A opens a new connection through it every
# 20 ms.  Then tcp_ports = 22, 8022, allow_ping, log_rate and max_pinholes
# are written to dyper.conf and `dyperctl reload` runs:
#   - its answer says the table changed in one transaction;
#   - `nft monitor` saw exactly one new ruleset generation (one
#     transaction: no moment without the base policy);
#   - 22 and ping pass from A now, 8023 (not listed) is still dropped;
#   - the pinhole is still in the set and not one connection through it
#     failed (each waits 900 ms at most, less than a SYN retransmit);
#   - dyperctl doctor's fix for a service on a closed port says reload;
#   - changing counters (a fixed property of the sets) is named as needing
#     the table made anew, and changes nothing in the kernel;
#   - a reload that changes nothing in the table commits nothing.
#
# Needs root; touches nothing outside its namespaces and temp dir.
# Output: "ok - ..." / "not ok - ..." per check, then "reload: N passed,
# N failed"; exit 0 only if nothing failed (77 when not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT" "$PROBE"
need_tools nft python3
need_ids "user nobody" "group daemon"

DPID=
DLOG=
bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"
CONF=$T/dyper.conf
CSOCK=$T/control.sock
setup_network

printf 'allow root * * * * * 1024-65535\n' >"$T/policy"
chmod 644 "$T/policy"
# write_conf [ENFORCER-LINE...]
write_conf() {
	{
		echo "[daemon]"
		echo "user = nobody"
		echo "group = daemon"
		echo "agent_socket = $T/agent.sock"
		echo "control_socket = $CSOCK"
		echo "policy = $T/policy"
		echo "[enforcer]"
		printf '%s\n' "$@"
	} >"$CONF"
	chmod 644 "$CONF"
}
write_conf

ctl() {
	"$DYPERCTL" -s "$CSOCK" "$@"
}
# ping_in: one ICMP echo from A to IN answered within a second (no ping(8)
# needed: a raw socket, as root)
ping_in() {
	ip netns exec "$NS_A" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1)
pkt = bytearray(b"\x08\x00\x00\x00\x12\x34\x00\x01dyper")
c = sum(pkt[i] << 8 | pkt[i + 1] for i in range(0, len(pkt) - 1, 2)) + (pkt[-1] << 8 if len(pkt) % 2 else 0)
c = (c >> 16) + (c & 0xffff)
c = ~(c + (c >> 16)) & 0xffff
pkt[2:4] = c.to_bytes(2, "big")
s.sendto(pkt, (sys.argv[1], 0))
while True:
    data = s.recv(256)
    if data[20] == 0 and data[24:26] == b"\x12\x34":
        sys.exit(0)
' "$IN4" >/dev/null 2>&1
}
nft_in() {
	ip netns exec "$NS_IN" nft "$@"
}

DLOG=$T/dyperd.log
ip netns exec "$NS_IN" "$DYPERD" -f -c "$CONF" >"$DLOG" 2>&1 </dev/null &
DPID=$!
started "$DPID"
poll 5000 0.02 ctl stats >/dev/null 2>&1 || bail "dyperd did not start"

PORT=7301
ip netns exec "$NS_IN" "$CLIENT" -s "$T/agent.sock" open tcp "$A4" '*' "$IN4" $PORT \
	--hold 40 >"$T/client" 2>&1 </dev/null &
started $!
poll 5000 0.02 grep -q '^ok ' "$T/client" || bail "no pinhole: $(cat "$T/client")"
serve tcp "$IN4" 22
serve tcp "$IN4" 8023
wait_servers 5000 || bail "the probe servers did not start"

expect_drop "before: tcp 22 is dropped (no control port)" "$NS_A" tcp "$IN4" 22
if ping_in; then
	not_ok "before: ping is dropped (allow_ping = no)"
else
	ok "before: ping is dropped (allow_ping = no)"
fi

# connections from A through the pinhole, one every 20 ms, until $T/stop
# exists (20 s at most); "fail" lines for those that did not get through
ip netns exec "$NS_A" python3 -c '
import os, socket, sys, time
port, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ok = fail = 0
end = time.time() + 20
with open(out, "w", buffering=1) as f:
    while time.time() < end and not os.path.exists(stop):
        try:
            socket.create_connection((sys.argv[4], port), timeout=0.9).close()
            ok += 1
        except OSError as e:
            fail += 1
            f.write("fail %s\n" % e)
        if ok == 1 and fail == 0:
            f.write("started\n")
        time.sleep(0.02)
    f.write("done %d ok %d failed\n" % (ok, fail))
' $PORT "$T/stop" "$T/flow" "$IN4" >/dev/null 2>&1 </dev/null &
started $!
poll 5000 0.02 grep -qs started "$T/flow" || bail "no connection through the pinhole: $(cat "$T/flow")"

# the transactions of the reload, as nft monitor reports them
nft_in monitor >"$T/monitor" 2>&1 </dev/null &
MPID=$!
started $MPID
sleep 0.3
write_conf "tcp_ports = 22, 8022" "allow_ping = yes" "log_rate = 7" "max_pinholes = 5000"
out=$(ctl reload 2>&1)
rc=$?
sleep 0.3
kill $MPID
touch "$T/stop"
poll 5000 0.05 grep -q '^done' "$T/flow"

if [ $rc -eq 0 ] && grep -q "table inet dyper changed in one transaction, pinholes kept" <<<"$out" &&
	! grep -q "after a restart" <<<"$out"; then
	ok "dyperctl reload: the table changed in one transaction, nothing left for a restart"
else
	not_ok "dyperctl reload: the table changed in one transaction (exit $rc)"
	diag_s "$out"
fi
gens=$(grep -c '^# new generation' "$T/monitor")
if [ "$gens" -eq 1 ]; then
	ok "nft monitor: the reload was exactly one transaction (one new generation)"
else
	not_ok "nft monitor: the reload was exactly one transaction ($gens generations)"
	diag "$T/monitor" 40
fi
if grep -q 'control_tcp' "$T/monitor"; then
	ok "nft monitor: that transaction refilled the control ports' set"
else
	not_ok "nft monitor: that transaction refilled the control ports' set"
	diag "$T/monitor" 40
fi
expect_pass "after: tcp 22 passes (tcp_ports reloaded)" "$NS_A" tcp "$IN4" 22
expect_drop "after: tcp 8023 (not listed) is still dropped" "$NS_A" tcp "$IN4" 8023
if ping_in; then
	ok "after: ping passes (allow_ping reloaded)"
else
	not_ok "after: ping passes (allow_ping reloaded)"
fi
if nft_in list chain inet dyper input 2>&1 | grep -q 'limit rate 7/second'; then
	ok "after: the log rule logs 7 drops per second (log_rate reloaded)"
else
	not_ok "after: the log rule logs 7 drops per second (log_rate reloaded)"
fi
set4=$(nft_in list set inet dyper pinholes4_any 2>&1 | tr -s ' \n\t' ' ')
if grep -qF " $A4 . tcp . $IN4 . $PORT " <<<"$set4"; then
	ok "the pinhole held across the reload is still in the kernel"
else
	not_ok "the pinhole held across the reload is still in the kernel"
fi
if grep -q " size 5000 " <<<"$set4"; then
	ok "after: the pinhole set holds 5000 (max_pinholes reloaded)"
else
	not_ok "after: the pinhole set holds 5000 (max_pinholes reloaded)"
	diag_s "$set4"
fi
flow=$(tail -n1 "$T/flow")
if [[ $flow =~ ^done\ ([0-9]+)\ ok\ 0\ failed$ ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
	ok "connections through the pinhole during the reload: $flow"
else
	not_ok "connections through the pinhole during the reload: $flow"
	diag "$T/flow"
fi
out=$(ip netns exec "$NS_IN" "$DYPERCTL" -c "$CONF" doctor 2>&1 | grep -A1 'listeners: tcp port 8023')
if grep -q "fix: if other hosts must reach it: tcp_ports = 8023 .*then systemctl reload dyperd" <<<"$out"; then
	ok "dyperctl doctor: a service on a closed port is fixed with tcp_ports and a reload"
else
	not_ok "dyperctl doctor: a service on a closed port is fixed with tcp_ports and a reload"
	diag_s "$out"
fi

# a fixed property of the sets: named, and the kernel left alone
before=$(nft_in list table inet dyper 2>&1 | grep -v 'expires\|packets')
nft_in monitor >"$T/monitor2" 2>&1 </dev/null &
MPID=$!
started $MPID
sleep 0.3
write_conf "tcp_ports = 22, 8022" "allow_ping = yes" "log_rate = 7" "max_pinholes = 5000" "counters = no"
out=$(ctl reload 2>&1)
rc=$?
sleep 0.3
kill $MPID
after=$(nft_in list table inet dyper 2>&1 | grep -v 'expires\|packets')
if [ $rc -eq 0 ] && grep -q "changed but needing the table made anew (dyper.conf(5), NOTES): counters" <<<"$out" &&
	! grep -q "one transaction" <<<"$out" && [ "$before" = "$after" ] &&
	! grep -q '^# new generation' "$T/monitor2"; then
	ok "counters changed: named as needing the table made anew; no transaction, table unchanged"
else
	not_ok "counters changed: named as needing the table made anew; no transaction, table unchanged"
	diag_s "$out"
	diag "$T/monitor2"
fi
expect_pass "still: tcp 22 passes" "$NS_A" tcp "$IN4" 22
if is_alive "$DPID"; then
	ok "dyperd still runs"
else
	not_ok "dyperd still runs"
	diag "$DLOG"
fi

summary
