#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# border_latency.sh: what border mode adds to a pinhole's open, side by side
# in one run: dyperd on H host-only, then the same dyperd in border mode
# forwarding to a site over SSH (Debian's sshd on R, forced command
# dyper-remote, the stand-in site controller tests/kernel/site_fixture.py,
# which answers at once and touches no router).  Each mode: N opens, one
# at a time, each of a pinhole of its own (tests/tools/dyper-client: bind
# a port, OPEN, exit, which closes it), then dyperd's own p50/p99 from
# request to reply (dyperctl stats, the last 4096 replies).  Bounded: N
# opens (at most 4096) and BENCH_SECONDS per mode.
#
#   H (dyt-PID-h) 198.51.100.10 ---veth--- 198.51.100.1 R (dyt-PID-r)
#
# Needs root; only its own namespaces.  Prints one line per mode and the
# difference.  Called by `make bench`.

set -u
# shellcheck source-path=SCRIPTDIR source=../kernel/lib.sh
. "$(dirname "$0")/../kernel/lib.sh"
# shellcheck source-path=SCRIPTDIR source=../kernel/sshd_lib.sh
. "$(dirname "$0")/../kernel/sshd_lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client
REMOTE=$BDIR/bin/dyper-remote
FIXTURE=$ROOT/tests/kernel/site_fixture.py
N=${BENCH_OPENS:-1000}
SECS=${BENCH_SECONDS:-60}
NS_R=dyt-$$-r
NS_H=dyt-$$-h
H4=198.51.100.10 R4=198.51.100.1 A4=203.0.113.10

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT" "$REMOTE"
need_sshd
PATH=$PATH:/usr/sbin:/sbin need_tools python3 ip

start_test
chmod 755 "$T"
sshd_prepare
for ns in "$NS_R" "$NS_H"; do
	run ip netns add "$ns"
	created_ns+=("$ns")
	run ip -n "$ns" link set lo up
done
run ip -n "$NS_R" link add int0 type veth peer name eth0 netns "$NS_H"
run ip -n "$NS_R" addr add "$R4/24" dev int0
run ip -n "$NS_R" link set int0 up
run ip -n "$NS_H" addr add "$H4/24" dev eth0
run ip -n "$NS_H" link set eth0 up

run ssh-keygen -q -t ed25519 -N '' -C hostA -f "$T/hostA_key"
chown nobody "$T/hostA_key"
sshd_write_config "$R4"
echo "$R4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
sshd_authorize "$T/hostA_key.pub" "$REMOTE --delegate hostA --socket $T/site.sock"
ip netns exec "$NS_R" python3 "$FIXTURE" "$T/site.sock" 0 /dev/null "hostA=$H4" \
	>"$T/site.out" 2>&1 </dev/null &
started $!
poll 5000 0.05 grep -qx ready "$T/site.out" || bail "the site did not start"
start_sshd "$NS_R" "$R4" || bail "sshd did not listen"

echo "allow * * tcp $A4 * $H4 1024-65535" >"$T/policy"
chmod 644 "$T/policy" "$T/known_hosts"

# measure MODE: one run of dyperd; prints "MODE: p50 X us, p99 Y us (N opens)"
measure() {
	local pid out p50 p99

	{
		echo "[daemon]"
		echo "user = nobody"
		echo "group = daemon"
		echo "agent_socket = $T/agent.sock"
		echo "control_socket = $T/control.sock"
		echo "policy = $T/policy"
		echo "log_level = notice"
		echo "[limits]"
		echo "rate = 1000000"
		echo "burst = 1000000"
		if [ "$1" = border ]; then
			echo "[remote]"
			echo "host = $R4"
			echo "user = root"
			echo "key = $T/hostA_key"
			echo "known_hosts = $T/known_hosts"
		fi
	} >"$T/dyper.conf"
	chmod 644 "$T/dyper.conf"
	ip netns exec "$NS_H" "$DYPERD" -c "$T/dyper.conf" -f >"$T/dyperd-$1.log" 2>&1 </dev/null &
	pid=$!
	started $pid
	ctl() { ip netns exec "$NS_H" "$DYPERCTL" -s "$T/control.sock" "$@"; }
	poll 8000 0.05 ctl stats >/dev/null 2>&1 || bail "dyperd ($1) did not start"
	[ "$1" = border ] && { poll 8000 0.05 sh -c "ip netns exec $NS_H $DYPERCTL -s $T/control.sock stats | grep -q '^site  *ready'" ||
		bail "dyperd did not reach the site"; }
	local i end=$(($(now_ms) + SECS * 1000)) ok=0
	for ((i = 0; i < N && i < 4096 && $(now_ms) < end; i++)); do
		ip netns exec "$NS_H" "$CLIENT" -s "$T/agent.sock" open tcp "$A4" '*' "$H4" \
			$((40000 + i)) >/dev/null 2>&1 && ok=$((ok + 1))
	done
	out="$i opens, $ok ok"
	p50=$(ctl stats -j | sed -n 's/.*"latency_p50_us":\([0-9]*\).*/\1/p')
	p99=$(ctl stats -j | sed -n 's/.*"latency_p99_us":\([0-9]*\).*/\1/p')
	echo "$1: p50 $p50 us, p99 $p99 us ($out)"
	sig TERM "$pid"
	wait_exit "$pid" 10000 || sig KILL "$pid"
	eval "P50_$1=$p50 P99_$1=$p99"
}

P50_host=0 P99_host=0 P50_border=0 P99_border=0
measure host
measure border
echo "border_latency: border mode adds p50 $((P50_border - P50_host)) us, p99 $((P99_border - P99_host)) us to an open"
