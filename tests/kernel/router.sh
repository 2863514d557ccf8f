#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# router.sh: a Linux border router's table (nft/ in router mode), for real.
# Real TCP and UDP echo exchanges, IPv4 and IPv6, through a router whose
# forward hook holds Dyper's site table, driven through the enforcer
# interface by tests/tools/dyper-router-tool as the site controller would.
#
#   A (dyt-PID-a) --\                                /-- IN (dyt-PID-in)
#                    +- ext0 [R (dyt-PID-r)] int0 --+     198.51.100.10
#   B (dyt-PID-b) --/  203.0.113.1   198.51.100.1        2001:db8:11::10
#   203.0.113.10/.11   2001:db8:ee::1  2001:db8:11::1
#   2001:db8:ee::10/11
#
# Forwarding is switched on in R's namespace only.  The network, the probes
# and the cleanup come from lib.sh (sourced).  Needs root; touches nothing
# outside its own namespaces.  Output: "ok - ..." / "not ok - ..." per case,
# then "router: N passed, N failed" (exit 77 when not root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TOOL=$BDIR/tests/tools/dyper-router-tool

need_root
need_bins "$TOOL" "$PROBE"
need_tools nft ip

# the network: router_lib.sh
# shellcheck source-path=SCRIPTDIR source=router_lib.sh
. "$(dirname "$0")/router_lib.sh"

PORT=8080		# what the pinholes open
OTHER=8081		# a listening port only the failed batch would have opened
SSH=22			# an always-open port of IN (the router's open4 set)
OUT=9090		# on A: what IN connects out to
DELEGATE=in.example	# the host the pinholes are opened for
CREATED=1763800000

start_test

# --- the network -------------------------------------------------------------------

setup_router_network

for addr in "$IN4" "$IN6"; do
	serve tcp "$addr" "$PORT"
	serve udp "$addr" "$PORT"
done
serve tcp "$IN4" "$OTHER"
serve tcp "$IN4" "$SSH"
for addr in "$A4" "$A6"; do
	serve_on "$NS_A" tcp "$addr" "$OUT"
	serve_on "$NS_A" udp "$addr" "$OUT"
done
wait_servers 5000 || bail "echo servers did not start within 5 s"

# --- helpers -------------------------------------------------------------------------

# rtool ARGS...: the tool in R with the site's config; output in $T/rtool.
rtool() {
	ip netns exec "$NS_R" "$TOOL" -i int0 -O "tcp/$IN4/$SSH" -d "$DELEGATE" \
		-c "$CREATED" "$@" >"$T/rtool" 2>&1
}

# rtool_ok DESC ARGS...: a case that the tool succeeds.
rtool_ok() {
	local desc=$1

	shift
	if rtool "$@"; then
		ok "$desc"
	else
		not_ok "$desc (exit $?)"
		diag "$T/rtool"
	fi
}

# pinholes add|del: the test's pinholes as ops, into the array OPS.
pinholes() {
	OPS=("$1" tcp "$A4" '*' "$IN4" "$PORT" "$1" udp "$A4" '*' "$IN4" "$PORT"
	     "$1" tcp "$A6" '*' "$IN6" "$PORT" "$1" udp "$A6" '*' "$IN6" "$PORT")
}

# expect_family pass|drop WHO NS: tcp and udp from NS to IN's PORT, v4 and v6.
expect_family() {
	local want=$1 who=$2 ns=$3 says=passes

	[ "$want" = drop ] && says=drops
	expect_probe "$want" "$who -> IN tcp $PORT (IPv4) $says" "$ns" tcp "$IN4" "$PORT"
	expect_probe "$want" "$who -> IN udp $PORT (IPv4) $says" "$ns" udp "$IN4" "$PORT"
	expect_probe "$want" "$who -> IN tcp $PORT (IPv6) $says" "$ns" tcp "$IN6" "$PORT"
	expect_probe "$want" "$who -> IN udp $PORT (IPv6) $says" "$ns" udp "$IN6" "$PORT"
}

# list_count: how many pinholes list shows owned by the delegate.
list_count() {
	rtool list || return 1
	grep -c "owner \"dlg $DELEGATE t $CREATED\"" "$T/rtool"
}

# --- without the table: the network itself works ---------------------------------------

expect_family pass "A (no table yet)" "$NS_A"

# --- the router's table alone ------------------------------------------------------------

rtool_ok "setup the router table" setup
check "forward hook, policy drop" \
	ip netns exec "$NS_R" sh -c "nft list chain inet dyper_site forward | grep -q 'hook forward priority filter; policy drop;'"
rtool_ok "check: intact" check
expect_family drop "A (table alone)" "$NS_A"
expect_family drop "B (table alone)" "$NS_B"
expect_pass "A -> IN tcp $SSH (always-open port) passes" "$NS_A" tcp "$IN4" "$SSH"
for fam in 4 6; do
	if [ $fam = 4 ]; then a=$A4; else a=$A6; fi
	expect_pass "IN -> A tcp $OUT (IPv$fam, out and back) passes" "$NS_IN" tcp "$a" "$OUT"
	expect_pass "IN -> A udp $OUT (IPv$fam, out and back) passes" "$NS_IN" udp "$a" "$OUT"
done

# --- pinholes for A, opened through the enforcer interface ---------------------------------

pinholes add
rtool_ok "add 4 pinholes (tcp, udp; IPv4, IPv6) in one batch" "${OPS[@]}"
check "the batch reports each op applied" test "$(grep -c ': ok$' "$T/rtool")" -eq 4
expect_family pass "A (pinholes)" "$NS_A"
expect_family drop "B (A's pinholes)" "$NS_B"
expect_drop "A -> IN tcp $OTHER (no pinhole) still drops" "$NS_A" tcp "$IN4" "$OTHER"
check "list shows the 4 pinholes with the delegate's comment" test "$(list_count)" = 4
check "list names A's pinhole" grep -qF "tcp $A4:* -> $IN4:$PORT owner \"dlg $DELEGATE t $CREATED\"" "$T/rtool"
check "nft shows the element comment" \
	ip netns exec "$NS_R" sh -c "nft list set inet dyper_site pinholes6_any | grep -qF '$A6 . udp . $IN6 . $PORT counter packets' &&
		nft list set inet dyper_site pinholes4_any | grep -qF 'comment \"dlg $DELEGATE t $CREATED\"'"
check "the pinholes counted A's packets" \
	ip netns exec "$NS_R" sh -c "nft list set inet dyper_site pinholes4_any | grep -q 'counter packets [1-9]'"

# --- a batch with one bad op: nothing applied, each op's result ------------------------------

if rtool add tcp "$A4" '*' "$IN4" "$OTHER" add tcp "$A4" '*' "$IN4" "$PORT"; then
	not_ok "a batch re-adding an open pinhole fails"
else
	ok "a batch re-adding an open pinhole fails"
fi
check "its first op: not applied" grep -qF "op 1: add tcp $A4:* -> $IN4:$OTHER: not applied" "$T/rtool"
check "its second op: File exists" grep -qF "op 2: add tcp $A4:* -> $IN4:$PORT: File exists" "$T/rtool"
check "the batch says none applied" grep -q "^batch: failed: .*none applied" "$T/rtool"
expect_drop "A -> IN tcp $OTHER still drops (nothing applied)" "$NS_A" tcp "$IN4" "$OTHER"
check "list still shows exactly the 4 pinholes" test "$(list_count)" = 4
rtool_ok "check: still intact" check

# --- closed again ---------------------------------------------------------------------------

pinholes del
rtool_ok "delete the 4 pinholes in one batch" "${OPS[@]}"
expect_family drop "A (deleted)" "$NS_A"
check "list is empty" test "$(list_count)" = 0
if rtool del tcp "$A4" '*' "$IN4" "$PORT"; then
	not_ok "deleting a pinhole no longer open fails"
else
	check "deleting a pinhole no longer open fails: No such file" grep -q "No such file" "$T/rtool"
fi

# --- tampering is seen ------------------------------------------------------------------------

ip netns exec "$NS_R" nft add element inet dyper_site inside '{ "ext0" }' >"$T/cmd" 2>&1 ||
	bail "tampering with the table"
if rtool check; then
	not_ok "check sees an outside interface made inside"
else
	check "check sees an outside interface made inside" grep -q "inside interfaces" "$T/rtool"
fi
rtool_ok "setup restores it" setup
rtool_ok "check: intact again" check

summary
