#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# traffic.sh: real packets through the enforcer.  Builds a throwaway network
# of namespaces, puts the Dyper table on the internal host and checks, with
# real TCP and UDP echo exchanges over IPv4 and IPv6, that the table lets in
# exactly what its pinholes and control ports say and nothing else.
#
#        A (dyt-PID-a) ----\
#        B (dyt-PID-b) -----+- br0 in dyt-PID-sw
#       IN (dyt-PID-in) ---/      (the table lives in IN)
#
# The network, the probes and the cleanup come from lib.sh (sourced).
# Needs root.  Touches nothing outside its own namespaces.  Binaries come
# from $B (default "build") relative to the repository root.
# Output: "ok - ..." / "not ok - ..." per case, then
# "traffic: N passed, N failed"; exit 0 only if nothing failed
# (77 when not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NFT=$BDIR/tests/tools/dyper-nft

need_root
need_bins "$NFT" "$PROBE"

PORT=8080		# what the pinholes open
OTHER=8081		# a listening port no pinhole opens
TPORT=8082		# for pinholes with a timeout
CTL_TCP=22		# static control ports
CTL_UDP=53
EXACT_SPORT=40001	# exact-remote-port pinholes
OTHER_SPORT=40002
TIMEOUT_MS=1500		# timed pinholes

start_test
setup_network

# --- servers on IN -------------------------------------------------------------

for addr in "$IN4" "$IN6"; do
	for port in "$PORT" "$OTHER" "$TPORT"; do
		serve tcp "$addr" "$port"
		serve udp "$addr" "$port"
	done
	serve tcp "$addr" "$CTL_TCP"
	serve udp "$addr" "$CTL_UDP"
done
wait_servers 5000 || bail "echo servers did not start within 5 s"

# --- helpers ---------------------------------------------------------------------

# dyper-nft in IN; success is silent, failure is a case that failed.
nft_in() {
	if ! ip netns exec "$NS_IN" "$NFT" "$@" >"$T/nft" 2>&1; then
		not_ok "dyper-nft $*"
		diag "$T/nft"
		return 1
	fi
}

# list_line PROTO REMOTE RPORT LOCAL LPORT: that pinhole's line of `list`.
list_line() {
	local key

	if [[ $2 == *:* ]]; then
		key="$1 [$2]:$3 -> [$4]:$5 "
	else
		key="$1 $2:$3 -> $4:$5 "
	fi
	ip netns exec "$NS_IN" "$NFT" list 2>/dev/null | grep -F -- "$key" | head -n 1
}

# use_family 4|6: points in and a at that family's addresses.
use_family() {
	if [ "$1" = 4 ]; then
		in=$IN4 a=$A4
	else
		in=$IN6 a=$A6
	fi
}

fam_name() {
	[[ $1 == *:* ]] && echo IPv6 || echo IPv4
}

# --- baseline: without the table, everything gets through --------------------------

for fam in 4 6; do
	use_family "$fam"
	for proto in tcp udp; do
		f=$(fam_name "$in")
		expect_pass "baseline, no table: A reaches $proto $PORT ($f)" "$NS_A" $proto "$in" $PORT
		expect_pass "baseline, no table: B reaches $proto $PORT ($f)" "$NS_B" $proto "$in" $PORT
	done
done

# --- the table ------------------------------------------------------------------------

if nft_in -T "$CTL_TCP" -U "$CTL_UDP" setup; then
	ok "dyper-nft setup -T $CTL_TCP -U $CTL_UDP"
fi
# check compares with what setup builds from the same options
if out=$(ip netns exec "$NS_IN" "$NFT" -T "$CTL_TCP" -U "$CTL_UDP" check 2>&1) &&
	[ "$out" = intact ]; then
	ok "dyper-nft check: table intact"
else
	not_ok "dyper-nft check: $out"
fi

for fam in 4 6; do
	use_family "$fam"
	f=$(fam_name "$in")
	for proto in tcp udp; do
		what="$proto $f"
		[ $proto = tcp ] && ctl=$CTL_TCP || ctl=$CTL_UDP

		# (g) static control port, open to everyone
		expect_pass "$what: control port $ctl open to A" "$NS_A" $proto "$in" "$ctl"
		expect_pass "$what: control port $ctl open to B" "$NS_B" $proto "$in" "$ctl"

		# (a) nothing else without a pinhole
		expect_drop "$what: A to $PORT dropped without a pinhole" "$NS_A" $proto "$in" $PORT

		# (b) the pinhole lets A in
		nft_in add $proto "$a" '*' "$in" $PORT
		expect_pass "$what: A to $PORT passes through pinhole A:* -> $PORT" "$NS_A" $proto "$in" $PORT
		expect_pass "$what: A to $PORT passes again, new source port" "$NS_A" $proto "$in" $PORT

		# (c) only A
		expect_drop "$what: B to $PORT still dropped (A's pinhole)" "$NS_B" $proto "$in" $PORT

		# (d) only that port
		expect_drop "$what: A to $OTHER still dropped" "$NS_A" $proto "$in" $OTHER

		# the kernel counted the packets that came in through it
		line=$(list_line $proto "$a" '*' "$in" $PORT)
		pk=$(sed -n 's/.* packets \([0-9]*\) .*/\1/p' <<<"$line")
		if [ -n "$pk" ] && [ "$pk" -gt 0 ]; then
			ok "$what: list counts $pk packets for the pinhole"
		else
			not_ok "$what: list shows packets > 0 for the pinhole (got \"$line\")"
		fi

		# (e) deleted: new connections are dropped again
		nft_in del $proto "$a" '*' "$in" $PORT
		expect_drop "$what: A to $PORT dropped after del" "$NS_A" $proto "$in" $PORT
		line=$(list_line $proto "$a" '*' "$in" $PORT)
		if [ -z "$line" ]; then
			ok "$what: list no longer shows the deleted pinhole"
		else
			not_ok "$what: deleted pinhole still listed: $line"
		fi

		# (f) exact remote port
		nft_in add $proto "$a" $EXACT_SPORT "$in" $PORT
		expect_pass "$what: A from port $EXACT_SPORT passes pinhole A:$EXACT_SPORT -> $PORT" \
			"$NS_A" $proto "$in" $PORT $EXACT_SPORT
		expect_drop "$what: A from port $OTHER_SPORT dropped by it" \
			"$NS_A" $proto "$in" $PORT $OTHER_SPORT
		expect_drop "$what: B from port $EXACT_SPORT dropped by it" \
			"$NS_B" $proto "$in" $PORT $EXACT_SPORT
		nft_in del $proto "$a" $EXACT_SPORT "$in" $PORT
	done
done

# --- pinholes with a timeout ------------------------------------------------------------

combos=()
for fam in 4 6; do
	for proto in tcp udp; do
		combos+=("$fam $proto")
	done
done

t_added=$(now_ms)
for c in "${combos[@]}"; do
	read -r fam proto <<<"$c"
	use_family "$fam"
	nft_in add "$proto" "$a" '*' "$in" $TPORT $TIMEOUT_MS
done
for c in "${combos[@]}"; do
	read -r fam proto <<<"$c"
	use_family "$fam"
	what="$proto $(fam_name "$in")"
	expect_pass "$what: A passes a pinhole with a ${TIMEOUT_MS} ms timeout" "$NS_A" "$proto" "$in" $TPORT
	line=$(list_line "$proto" "$a" '*' "$in" $TPORT)
	if [[ $line == *" timeout $TIMEOUT_MS expires "* ]]; then
		ok "$what: list shows timeout $TIMEOUT_MS"
	else
		not_ok "$what: list shows timeout $TIMEOUT_MS (got \"$line\")"
	fi
done

# The kernel hides expired elements from dumps: they must go, neither
# early nor late.  Wait at most 3 s.
left=unknown
for ((i = 0; i < 60; i++)); do
	if out=$(ip netns exec "$NS_IN" "$NFT" list 2>&1); then
		left=$(grep -c -- "-> .*:$TPORT " <<<"$out")
	else
		left="unknown (list failed: $out)"
	fi
	[ "$left" = 0 ] && break
	[ $(($(now_ms) - t_added)) -ge 3000 ] && break
	sleep 0.05
done
took=$(($(now_ms) - t_added))
if [ "$left" = 0 ] && [ $took -ge $((TIMEOUT_MS - 100)) ]; then
	ok "timed pinholes gone from list after $took ms (timeout $TIMEOUT_MS)"
else
	not_ok "timed pinholes gone from list between $((TIMEOUT_MS - 100)) and 3000 ms (after $took ms: $left left)"
fi
for c in "${combos[@]}"; do
	read -r fam proto <<<"$c"
	use_family "$fam"
	what="$proto $(fam_name "$in")"
	expect_drop "$what: A to $TPORT dropped once the pinhole expired" "$NS_A" "$proto" "$in" $TPORT
done

# --- another ruleset that drops: the mark lets it accept what Dyper admits --------------
#
# nftables runs every base chain on the hook: a drop in another table wins over
# Dyper's accept.  With a mark, that table can accept what Dyper admitted.

MARK=0x10
ip netns exec "$NS_IN" nft -f - <<EOF
table inet fw {
	chain input {
		type filter hook input priority 10; policy drop;
		ct state established,related accept
		meta mark & $MARK == $MARK accept
	}
}
EOF
for c in "${combos[@]}"; do
	read -r fam proto <<<"$c"
	use_family "$fam"
	what="$proto $(fam_name "$in")"
	[ "$proto" = tcp ] && ctl=$CTL_TCP || ctl=$CTL_UDP
	nft_in -T "$CTL_TCP" -U "$CTL_UDP" setup
	nft_in add "$proto" "$a" '*' "$in" $PORT
	expect_drop "$what: without a mark, another table's drop wins over the pinhole" \
		"$NS_A" "$proto" "$in" $PORT
	expect_drop "$what: ... and over the control port" "$NS_A" "$proto" "$in" "$ctl"
	nft_in -M $MARK -T "$CTL_TCP" -U "$CTL_UDP" setup
	expect_pass "$what: mark $MARK set, the other table accepts the pinhole's packets" \
		"$NS_A" "$proto" "$in" $PORT
	expect_pass "$what: ... and the control port's" "$NS_A" "$proto" "$in" "$ctl"
	expect_drop "$what: ... and still drops what Dyper drops" "$NS_A" "$proto" "$in" $OTHER
	nft_in del "$proto" "$a" '*' "$in" $PORT
done
if out=$(ip netns exec "$NS_IN" "$NFT" -M $MARK -T "$CTL_TCP" -U "$CTL_UDP" check 2>&1) &&
	[ "$out" = intact ]; then
	ok "dyper-nft check with the mark: table intact"
else
	not_ok "dyper-nft check with the mark: $out"
fi
ip netns exec "$NS_IN" nft delete table inet fw

# --- gone: the table was what dropped ------------------------------------------------------

if nft_in destroy; then
	ok "dyper-nft destroy"
fi
for c in "${combos[@]}"; do
	read -r fam proto <<<"$c"
	use_family "$fam"
	expect_pass "$proto $(fam_name "$in"): table destroyed, A reaches $PORT again" "$NS_A" "$proto" "$in" $PORT
done

summary
