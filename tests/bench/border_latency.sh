#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# border_latency.sh: what border mode costs, measured through the real path:
# dyperd on H, Debian's sshd on R with the forced command dyper-remote, the
# site controller (dyperd in site mode on R) and its router table.
#
#   1. latency, side by side in one run: dyperd on H host-only, then the
#      same dyperd in border mode.  Each: N opens, one at a time, each of a
#      pinhole of its own (tests/tools/dyper-client: bind a port, OPEN,
#      exit, which closes it), then dyperd's own p50/p99 from request to
#      reply (dyperctl stats, the last 4096 replies), and the difference.
#   2. throughput: pinholes per second from H to R's table, for the site's
#      batch sizes ([site] batch: the most ops per router transaction) 1,
#      10, 100 and 1000, two ways:
#      - through SSH and the site alone: ssh_stream.py drives remote-client
#        (remote/ssh.c, the host side's session) with all BENCH_PINHOLES
#        OPENs in flight, then as many CLOSEs; each is counted when the site
#        says OK, which it does once the router's table holds it;
#      - end to end, an application's opens through H's dyperd (its own
#        table, then the site): dyper-client stream keeps BENCH_WINDOW
#        (default 1000) opens in flight on one channel (one local port,
#        remote ports 1, 2, ...) until BENCH_PINHOLES are answered;
#        pinholes/s = answered ok / wall time; host-only once as the
#        baseline.
# Bounded: N opens (at most 4096), BENCH_PINHOLES (at most 60000) per run,
# BENCH_SECONDS per run.
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
RCLIENT=$BDIR/tests/tools/remote-client
REMOTE=$BDIR/bin/dyper-remote
PINHOLES=${BENCH_PINHOLES:-20000}
N=${BENCH_OPENS:-1000}
SECS=${BENCH_SECONDS:-60}
WINDOW=${BENCH_WINDOW:-1000}
NS_R=dyt-$$-r
NS_H=dyt-$$-h
H4=198.51.100.10 R4=198.51.100.1 A4=203.0.113.10

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT" "$RCLIENT" "$REMOTE"
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
# the same key for remote-client, as root (a key must be its user's)
cp -p "$T/hostA_key" "$T/hostA_key.root"
chown nobody "$T/hostA_key"
sshd_write_config "$R4"
echo "$R4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
sshd_authorize "$T/hostA_key.pub" "$REMOTE --delegate hostA --socket $T/site.sock"
mkdir -m 0755 "$T/site-run"
echo "allow hostA * tcp * * $H4 1-65535" >"$T/site.policy"
chmod 644 "$T/site.policy"
SITE_PID=
# start_site BATCH: the site controller on R, its router table (inside: int0)
start_site() {
	cat >"$T/site.conf" <<-EOF
	[daemon]
	user = nobody
	group = nogroup
	control_socket = $T/site-run/control.sock
	agent_socket = $T/site-run/agent.sock
	log_level = notice
	[site]
	enable = yes
	name = bench-site
	socket = $T/site.sock
	account = root
	policy = $T/site.policy
	inside = int0
	max_per_delegate = 1000000
	batch = $1
	rate = 1000000
	burst = 1000000
	EOF
	chmod 644 "$T/site.conf"
	ip netns exec "$NS_R" "$DYPERD" -c "$T/site.conf" -f >>"$T/site.log" 2>&1 </dev/null &
	SITE_PID=$!
	started $SITE_PID
	poll 10000 0.05 ip netns exec "$NS_R" "$DYPERCTL" -s "$T/site-run/control.sock" stats \
		>/dev/null 2>&1 || bail "the site controller did not start (see $T/site.log)"
}
stop_site() {
	sig TERM "$SITE_PID"
	wait_exit "$SITE_PID" 10000 || sig KILL "$SITE_PID"
}
start_site 200
start_sshd "$NS_R" "$R4" || bail "sshd did not listen"

echo "allow * * tcp $A4 * $H4 1-65535" >"$T/policy"
chmod 644 "$T/policy" "$T/known_hosts"

DPID=
# start_host MODE: dyperd on H, host-only or border
start_host() {
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
		echo "capacity = 1000000"
		echo "max_per_user = 1000000"
		if [ "$1" = border ]; then
			echo "[remote]"
			echo "host = $R4"
			echo "user = root"
			echo "key = $T/hostA_key"
			echo "known_hosts = $T/known_hosts"
		fi
	} >"$T/dyper.conf"
	chmod 644 "$T/dyper.conf"
	ip netns exec "$NS_H" "$DYPERD" -c "$T/dyper.conf" -f >>"$T/dyperd-$1.log" 2>&1 </dev/null &
	DPID=$!
	started $DPID
	poll 8000 0.05 ctl stats >/dev/null 2>&1 || bail "dyperd ($1) did not start"
	if [ "$1" = border ]; then
		poll 8000 0.05 sh -c "ip netns exec $NS_H $DYPERCTL -s $T/control.sock stats | grep -q '^site  *ready'" ||
			bail "dyperd did not reach the site"
	fi
}
stop_host() {
	sig TERM "$DPID"
	wait_exit "$DPID" 10000 || sig KILL "$DPID"
}
ctl() { ip netns exec "$NS_H" "$DYPERCTL" -s "$T/control.sock" "$@"; }

# measure MODE: one run of dyperd; prints "MODE: p50 X us, p99 Y us (N opens)"
measure() {
	local out p50 p99

	start_host "$1"
	local i end=$(($(now_ms) + SECS * 1000)) ok=0
	for ((i = 0; i < N && i < 4096 && $(now_ms) < end; i++)); do
		ip netns exec "$NS_H" "$CLIENT" -s "$T/agent.sock" open tcp "$A4" '*' "$H4" \
			$((40000 + i)) >/dev/null 2>&1 && ok=$((ok + 1))
	done
	out="$i opens, $ok ok"
	p50=$(ctl stats -j | sed -n 's/.*"latency_p50_us":\([0-9]*\).*/\1/p')
	p99=$(ctl stats -j | sed -n 's/.*"latency_p99_us":\([0-9]*\).*/\1/p')
	echo "$1: p50 $p50 us, p99 $p99 us ($out)"
	stop_host
	eval "P50_$1=$p50 P99_$1=$p99"
}

P50_host=0 P99_host=0 P50_border=0 P99_border=0
measure host
measure border
echo "border_latency: border mode adds p50 $((P50_border - P50_host)) us, p99 $((P99_border - P99_host)) us to an open"

# throughput BATCH: pinholes/s from H to R's table with the site's batch
# BATCH ([site] batch: the most pinhole ops per router transaction)
throughput() {
	local t0 t1 out ok mode modes

	stop_site
	start_site "$1"
	# through SSH and the site alone: remote-client (remote/ssh.c, the
	# host's session) with every OPEN in flight
	out=$(ip netns exec "$NS_H" python3 "$(dirname "$0")/ssh_stream.py" "$PINHOLES" \
		"$RCLIENT" --host "$R4" --user root --key "$T/hostA_key.root" \
		--known-hosts "$T/known_hosts" --max-ms $((SECS * 1000)) 2>&1 | tail -n 1)
	echo "throughput, site batch $1, through SSH and the site: $out"
	# end to end: an application's opens through H's dyperd (its own table
	# and the forwarder), WINDOW in flight on one channel; host-only, which
	# does not involve the site, once, as the baseline
	modes=border
	[ "$1" = 1 ] && modes="host border"
	for mode in $modes; do
		start_host "$mode"
		t0=$(now_ms)
		out=$(ip netns exec "$NS_H" "$CLIENT" -s "$T/agent.sock" stream "$SECS" "$PINHOLES" \
			tcp "$A4" "$H4" 39999 --window "$WINDOW" 2>&1 | grep '^stream:')
		t1=$(now_ms)
		ok=$(sed -n 's/^stream: \([0-9]*\) ok.*/\1/p' <<<"$out")
		echo "throughput, site batch $1, an application through H's dyperd ($mode):" \
			"${ok:-0} pinholes in $((t1 - t0)) ms:" \
			"$(( ${ok:-0} * 1000 / (t1 - t0 + 1) )) pinholes/s ($out)"
		stop_host
	done
}
for b in 1 10 100 1000; do
	throughput "$b"
done
