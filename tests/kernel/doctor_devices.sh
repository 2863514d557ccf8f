#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# doctor_devices.sh: `dyperctl doctor` on a site controller's [device NAME]
# sections, against tests/fixtures/devsim in a network namespace of its
# own (dyt-PID-dev), one address per device on its lo:
#
#   edge1  ios    192.0.2.1      devsim, its host key pinned, ACL DYPER_IN: all ok
#   edge2  ios    192.0.2.2      devsim offering another host key than the
#                                pinned one: login FAIL (host key)
#   edge3  ftos   192.0.2.3      nothing listens: reach FAIL (login and ACL
#                                not tried)
#   core   junos  2001:db8::4    devsim, but the config names a filter the
#                                device lacks: acl FAIL
#   edge4  ios    192.0.2.1      edge1's devsim, but an ACL it lacks: acl FAIL
#
# Case 1: only edge1 configured: its three checks ok, none of its lines fail.
# Case 2: all five: each reported as above, exit status 1, and exactly the
# four device failures more than case 1 (JSON counts: the rest of doctor's
# checks, dyperd not running here, are the same in both runs).
# Case 3: a bad credential (the key readable by others): login FAIL saying so.
#
# Needs root; touches nothing outside its namespace and temp dir.  Output:
# "ok - ..." / "not ok - ..." per check, then "doctor_devices: N passed,
# N failed"; 77 when not root (skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=doctor_lib.sh
. "$(dirname "$0")/doctor_lib.sh"

DEVSIM=$BDIR/tests/fixtures/devsim
NS=dyt-$$-dev

need_root
need_bins "$DYPERCTL" "$DEVSIM"
need_tools ssh-keygen
start_test

bail_diag() {
	local f

	for f in "$T"/*.log; do
		[ -e "$f" ] && echo "# $f:" && diag "$f" 20
	done
}

run ssh-keygen -q -t ed25519 -N '' -C "devsim host key" -f "$T/host_key"
run ssh-keygen -q -t ed25519 -N '' -C "an impostor" -f "$T/other_key"
run ssh-keygen -q -t ed25519 -N '' -C "dyper's key" -f "$T/client_key"
chmod 600 "$T/client_key"
hk=$(cut -d' ' -f1,2 "$T/host_key.pub")
printf '%s\n' "192.0.2.1 $hk" "192.0.2.2 $hk" "192.0.2.3 $hk" "2001:db8::4 $hk" \
	>"$T/known_hosts"

add_netns "$NS"
for a in 192.0.2.1/32 192.0.2.2/32 192.0.2.3/32; do
	run ip -n "$NS" addr add "$a" dev lo
done
run ip -n "$NS" addr add 2001:db8::4/128 dev lo nodad

# start_devsim NAME VENDOR ADDRESS HOST_KEY
start_devsim() {
	local name=$1 pid

	ip netns exec "$NS" "$DEVSIM" --vendor "$2" --listen "$3" --host-key "$4" \
		--user dyper --authorized-key "$T/client_key.pub" --acl DYPER_IN \
		--acl6 DYPER_IN6 --state "$T/$name.state" --ready "$T/$name.ready" \
		>"$T/$name.log" 2>&1 </dev/null &
	pid=$!
	started $pid
	poll 5000 0.05 test -e "$T/$name.ready" || bail "devsim $name did not start"
}
start_devsim edge1 ios 192.0.2.1 "$T/host_key"
start_devsim edge2 ios 192.0.2.2 "$T/other_key"
start_devsim core junos 2001:db8::4 "$T/host_key"

# device NAME TYPE ADDRESS [KEY = VALUE...]: a [device NAME] section.
device() {
	local name=$1 type=$2 addr=$3

	shift 3
	printf '%s\n' "" "[device $name]" "type = $type" "address = $addr" "user = dyper" \
		"key = $T/client_key" "known_hosts = $T/known_hosts" "acl = DYPER_IN" \
		"acl6 = DYPER_IN6" "timeout = 5s" "$@"
}

# write_conf SECTION-TEXT: a site controller's dyper.conf with the devices.
CONF=$T/dyper.conf
write_conf() {
	{
		printf '%s\n' "[daemon]" "control_socket = $T/control.sock" \
			"agent_socket = $T/agent.sock" "" "[site]" "enable = yes" \
			"socket = $T/site.sock" "policy = $T/site-policy"
		printf '%s\n' "$@"
	} >"$CONF"
	chmod 600 "$CONF"
}

OUT=
RC=0
doctor() {
	OUT=$(timeout 120 ip netns exec "$NS" "$DYPERCTL" -c "$CONF" doctor "$@" 2>&1)
	RC=$?
}

# expect DESC REGEX...: doctor's last output has a line matching each REGEX.
expect() {
	out_has "$@"
}

failures() {
	grep -o '"failures":[0-9]*' <<<"$OUT" | cut -d: -f2
}

# --- 1: one good device ---------------------------------------------------------------
write_conf "$(device edge1 ios 192.0.2.1)"
doctor
expect "1 edge1: reachable, logged in, ACL in place" \
	"^ok +device-edge1-reach: edge1 \(192\.0\.2\.1\) port 22 accepts TCP connections" \
	"^ok +device-edge1-login: edge1: logged in as dyper with $T/client_key, host key as pinned in $T/known_hosts" \
	"^ok +device-edge1-acl: edge1: ACL DYPER_IN / DYPER_IN6 ends with the site's deny"
refute "1 no device check fails" "^(FAIL|warning) +device-"
doctor -j
base=$(failures)
[ -n "$base" ] && ok "1 JSON counts ($base failures elsewhere: no dyperd here)" ||
	{ not_ok "1 JSON counts"; diag_s "$OUT"; }

# --- 2: four devices, three broken ------------------------------------------------------
write_conf "$(device edge1 ios 192.0.2.1)" "$(device edge2 ios 192.0.2.2)" \
	"$(device edge3 ftos 192.0.2.3)" \
	"$(device core junos 2001:db8::4 | sed 's/^acl = DYPER_IN$/acl = NO_SUCH/')" \
	"$(device edge4 ios 192.0.2.1 | sed 's/^acl = DYPER_IN$/acl = NO_SUCH_V4/')"
doctor
[ "$RC" -eq 1 ] && ok "2 doctor exits 1" || not_ok "2 doctor exits $RC, expected 1"
expect "2 edge1 still ok" "^ok +device-edge1-acl: "
expect "2 edge2: the host key differs from the pinned one" \
	"^ok +device-edge2-reach: " \
	"^FAIL +device-edge2-login: edge2: .*REFUSED: the host key of 192\.0\.2\.2 port 22 CHANGED" \
	"^ +fix: check the device's host key fingerprint with its admin, then pin it in $T/known_hosts"
refute "2 edge2: no ACL verdict without a session" "device-edge2-acl"
expect "2 edge3: unreachable" \
	"^FAIL +device-edge3-reach: edge3 \(192\.0\.2\.3\) port 22: Connection refused" \
	"^ +fix: check address and port in \[device edge3\], that the ftos device's SSH server runs"
refute "2 edge3: login and ACL not tried" "device-edge3-(login|acl)"
expect "2 core (JunOS, IPv6): logged in, its filter missing" \
	"^ok +device-core-reach: core \(2001:db8::4\) port 22 accepts" \
	"^ok +device-core-login: " \
	"^FAIL +device-core-acl: core: .*NO_SUCH" \
	"^ +fix: configure the filter NO_SUCH .*on the device, ending with the site's own deny"
expect "2 edge4 (IOS): logged in, its ACL missing" \
	"^ok +device-edge4-login: " \
	"^FAIL +device-edge4-acl: edge4: the IPv4 ACL/filter NO_SUCH_V4 is missing: configure it" \
	"^ +fix: configure the ACL NO_SUCH_V4 \(and its IPv6 one\) on the device, ending with the site's own deny, and bind it, as dyper-devices\(7\) says for ios$"
doctor -j
n=$(failures)
if [ -n "$n" ] && [ -n "$base" ] && [ "$n" -eq $((base + 4)) ]; then
	ok "2 exactly four more failures than case 1 ($n)"
else
	not_ok "2 failures: ${n:-?}, expected ${base:-?} + 4"
	diag_s "$OUT"
fi

# --- 3: a key others can read ------------------------------------------------------------
cp "$T/client_key" "$T/loose_key"
chmod 644 "$T/loose_key"
write_conf "$(device edge1 ios 192.0.2.1 | sed "s|^key = .*|key = $T/loose_key|")"
doctor
expect "3 a key readable by others: login FAIL saying so" \
	"^FAIL +device-edge1-login: .*loose_key" "^ +fix: correct \[device edge1\]"
refute "3 no ACL verdict" "device-edge1-acl"

summary
