#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# devices.sh: the border device drivers (remote/device.c with remote/ios.c,
# remote/ftos.c, remote/ironware.c and remote/junos.c, over remote/cli.c) against
# tests/fixtures/devsim, a stand-in SSH server per vendor that holds the
# ACL state, in a network namespace per vendor:
#
#   dyt-PID-ios    devsim --vendor ios   on 192.0.2.254 (lo), dyper-device-tool
#   dyt-PID-ftos   devsim --vendor ftos  on 192.0.2.254 (lo), dyper-device-tool
#   dyt-PID-ironware devsim --vendor ironware on 192.0.2.254 (lo), dyper-device-tool
#   dyt-PID-junos  devsim --vendor junos on 192.0.2.254 (lo), dyper-device-tool
#
# The tool drives a driver through the enforcer interface from a script
# (one SSH session for the whole script); devsim writes its ACLs to a state
# file after every change, and the checks compare that file with what must
# be there: the entries of the batch, exactly (0 lost, 0 leaked), in the
# vendor's syntax, before the site's deny.
# Checks, per vendor (IOS, FTOS, IronWare, JunOS): setup finds the ACL; a batch of adds (v4, v6, tcp,
# udp, a named port) and deletes; add of one held (EEXIST) and delete of
# one not held (ENOENT); read-back with the device's packet counters; a line
# the device refuses (an error on line N) is that op's error and the rest
# are applied; a session dropped in the middle of a batch is re-opened and
# the batch reconciled; flush.  IOS: a reload that renumbers the ACL is
# re-learned (a delete after it removes the right entry), the keepalive
# against the exec-timeout, the save schedule.  IronWare: every batch ends
# with "ip rebind-acl" (the hardware copy is current after each batch, also
# one cut short), and a rebind the device refuses is not reported as applied.
# JunOS: a session lost
# after "commit confirmed" (our pending commit confirmed on reconnect), a
# commit slower than the command timeout, and a commit confirmed that the
# device rolled back while the driver could not reach it (re-applied).
# Security: an unpinned host key and a password file others can read are
# refused.
# Output: "ok - ..." / "not ok - ..." per check, then "devices: N passed,
# N failed"; 77 when not root (skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TOOL=$BDIR/tests/tools/dyper-device-tool
DEVSIM=$BDIR/tests/fixtures/devsim
DEV4=192.0.2.254

need_root
need_bins "$TOOL" "$DEVSIM"
need_tools ssh-keygen
start_test

run ssh-keygen -q -t ed25519 -N '' -C "devsim host key" -f "$T/host_key"
run ssh-keygen -q -t ed25519 -N '' -C "another device" -f "$T/other_key"
run ssh-keygen -q -t ed25519 -N '' -C "dyper's key" -f "$T/client_key"
chmod 600 "$T/client_key"
echo "$DEV4 $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
echo "$DEV4 $(cut -d' ' -f1,2 "$T/other_key.pub")" >"$T/known_hosts.other"
echo "not-a-real-secret-$$" >"$T/devsim.pw"
cp "$T/devsim.pw" "$T/password"
chmod 600 "$T/password"
cp "$T/devsim.pw" "$T/password.0644"
chmod 644 "$T/password.0644"

bail_diag() {
	local f

	for f in "$T"/*.log; do
		[ -e "$f" ] && echo "# $f:" && diag "$f" 20
	done
}

# start_devsim VENDOR [OPTION...]: its namespace and devsim in it.
start_devsim() {
	local v=$1 ns=dyt-$$-$1 pid

	shift
	run ip netns add "$ns"
	created_ns+=("$ns")
	run ip -n "$ns" link set lo up
	run ip -n "$ns" addr add "$DEV4/32" dev lo
	ip netns exec "$ns" "$DEVSIM" --vendor "$v" --listen "$DEV4" --host-key "$T/host_key" \
		--user dyper --authorized-key "$T/client_key.pub" --acl DYPER_IN --acl6 DYPER_IN6 \
		--password-file "$T/devsim.pw" --state "$T/$v.state" --control "$T/$v.control" \
		--ready "$T/$v.ready" --log "$T/$v.cmds" "$@" >"$T/$v.log" 2>&1 </dev/null &
	pid=$!
	started $pid
	poll 5000 0.05 test -e "$T/$v.ready" || bail "devsim $v did not start"
}

# control VENDOR LINE...: hands devsim requests and waits until it took them.
control() {
	local v=$1

	shift
	printf '%s\n' "$@" >"$T/$v.control.tmp"
	mv "$T/$v.control.tmp" "$T/$v.control"
	poll 5000 0.02 test ! -e "$T/$v.control" || bail "devsim $v did not read its control file"
}

# tool VENDOR OUT [OPTION...] <SCRIPT: the driver, from the device's
# namespace, with our key (AUTH="--password-file FILE" instead).
AUTH=
tool() {
	local v=$1 out=$2

	shift 2
	# shellcheck disable=SC2086 # AUTH is two words or none
	timeout 200 ip netns exec "dyt-$$-$v" "$TOOL" --type "$v" --address "$DEV4" --user dyper \
		${AUTH:---key $T/client_key} --known-hosts "$T/known_hosts" --acl DYPER_IN \
		--acl6 DYPER_IN6 --sync-dir "$T" --tries 8 "$@" >"$T/$out" 2>&1
}

# tool_bg VENDOR OUT [OPTION...] <SCRIPT: the same in the background; TOOL_PID.
tool_bg() {
	tool "$@" 0<&0 &
	TOOL_PID=$!
}

# tool_wait VENDOR OUT: the background tool's end; not ok unless it exits 0.
tool_wait() {
	local rc

	wait "$TOOL_PID"
	rc=$?
	rm -f "$T"/*.go
	[ $rc -eq 0 ] || { not_ok "$1: the tool exited $rc"; diag "$T/$2" 30; }
}

# wait_paused NAME: waits for the tool to pause at NAME; go NAME lets it
# go on (tool_wait then removes the go, so that NAME can be used again).
wait_paused() {
	poll 60000 0.02 test -e "$T/$1.paused"
}
go() {
	rm -f "$T/$1.paused"
	touch "$T/$1.go"
}

# expect_out DESC FILE LINE...: ok if FILE has every LINE exactly.
expect_out() {
	local desc=$1 f=$2 l miss=

	shift 2
	for l in "$@"; do
		grep -qxF -- "$l" "$T/$f" || miss+="\"$l\" "
	done
	if [ -z "$miss" ]; then
		ok "$desc"
	else
		not_ok "$desc (missing $miss)"
		diag "$T/$f" 30
	fi
}

# The entries of ours a device holds, without identities or counters, sorted.
ios_held() {
	awk '$4 == "permit" { $2 = ""; $3 = ""; print }' "$T/ios.state" | sed 's/   */ /' | sort
}
ftos_held() {
	awk '$4 == "permit" { $2 = ""; $3 = ""; print }' "$T/ftos.state" | sed 's/   */ /' | sort
}
ironware_held() {
	awk '$4 == "permit" { $2 = ""; $3 = ""; print }' "$T/ironware.state" | sed 's/   */ /' | sort
}

# expect_hw_current DESC: IronWare's hardware copy of both ACLs is current
# (an "ip|ipv6 rebind-acl" since their last change).
expect_hw_current() {
	if grep -qx 'hardware v4 current' "$T/ironware.state" &&
		grep -qx 'hardware v6 current' "$T/ironware.state"; then
		ok "$1"
	else
		not_ok "$1"
		diag "$T/ironware.state" 30
	fi
}
# JunOS: one line per dyper term, its statements in order.
junos_held() {
	awk '$1 == "set" && $8 ~ /^dyper-/ {
		k = $4 " " $8
		if (!(k in v)) order[n++] = k
		if ($9 == "from") v[k] = v[k] " " $10 "=" $11
		else if ($9 == "then" && $10 == "count") v[k] = v[k] " count=" ($11 == $8 ? "self" : $11)
		else v[k] = v[k] " " $9 "-" $10
	} END { for (i = 0; i < n; i++) { split(order[i], a, " "); print a[1] v[order[i]] } }' \
		"$T/junos.state" | sort
}

# expect_held DESC VENDOR EXPECTED: the device holds exactly EXPECTED.
expect_held() {
	local got

	got=$("${2}_held")
	if [ "$got" = "$(printf '%s\n' "$3" | sed '/^$/d' | sort)" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag_s "expected:"$'\n'"$3"
		diag_s "got:"$'\n'"$got"
	fi
}

# The site's deny stays last.
expect_deny_last() {
	local v=$1 last4 last6

	if [ "$v" != junos ]; then
		last4=$(grep '^v4 ' "$T/$v.state" | tail -n 1 | cut -d' ' -f4-)
		last6=$(grep '^v6 ' "$T/$v.state" | tail -n 1 | cut -d' ' -f4-)
		check "$v: the site's deny is still the last entry" \
			test "$last4|$last6" = "deny ip any any|deny ipv6 any any"
	else
		last4=$(grep ' family inet filter ' "$T/junos.state" | tail -n 1)
		last6=$(grep ' family inet6 filter ' "$T/junos.state" | tail -n 1)
		check "$v: the site's deny term is still the last term" test \
			"$last4|$last6" = "set firewall family inet filter DYPER_IN term deny then discard|set firewall family inet6 filter DYPER_IN6 term deny then discard"
	fi
}


# --- every vendor ----------------------------------------------------------------
IOS_A="v4 permit tcp host 192.0.2.10 host 198.51.100.5 eq 40000
v4 permit udp host 192.0.2.11 host 198.51.100.5 eq 5060
v4 permit tcp host 192.0.2.12 eq 20 host 198.51.100.6 eq 80
v6 permit tcp host 2001:db8::10 host 2001:db8:1::5 eq 40000
v6 permit udp host 2001:db8::11 host 2001:db8:1::5 eq 40001"
JUNOS_A="inet source-address=192.0.2.10/32 destination-address=198.51.100.5/32 protocol=tcp destination-port=40000 count=self then-accept
inet source-address=192.0.2.11/32 destination-address=198.51.100.5/32 protocol=udp destination-port=5060 count=self then-accept
inet source-address=192.0.2.12/32 destination-address=198.51.100.6/32 protocol=tcp source-port=20 destination-port=80 count=self then-accept
inet6 source-address=2001:db8::10/128 destination-address=2001:db8:1::5/128 next-header=tcp destination-port=40000 count=self then-accept
inet6 source-address=2001:db8::11/128 destination-address=2001:db8:1::5/128 next-header=udp destination-port=40001 count=self then-accept"

FTOS_A=$(printf '%s\n' "$IOS_A" | sed 's/$/ count/')

# held VENDOR PROTO REMOTE LOCAL PORT: the line *_held shows for that entry.
held() {
	case $1 in
	ios|ironware) echo "v4 permit $2 host $3 host $4 eq $5" ;;
	ftos) echo "v4 permit $2 host $3 host $4 eq $5 count" ;;
	junos) echo "inet source-address=$3/32 destination-address=$4/32 protocol=$2 destination-port=$5 count=self then-accept" ;;
	esac
}

# drop LINES PATTERN: LINES without those matching PATTERN.
drop() {
	printf '%s\n' "$1" | grep -v -- "$2"
}

for v in ios ftos ironware junos; do
	case $v in
	ios|ironware) A=$IOS_A ;;
	ftos) A=$FTOS_A ;;
	junos) A=$JUNOS_A ;;
	esac
	start_devsim $v
	control $v "commit-delay-ms 200"

	# 1: setup; a batch of adds; read back with counters; add held, delete not held
	tool_bg $v out1 <<'EOF'
setup
add tcp 192.0.2.10 * 198.51.100.5 40000
add udp 192.0.2.11 * 198.51.100.5 5060
add tcp 192.0.2.12 20 198.51.100.6 80
add tcp 2001:db8::10 * 2001:db8:1::5 40000
add udp 2001:db8::11 * 2001:db8:1::5 40001
commit
pause c1
read
add tcp 192.0.2.10 * 198.51.100.5 40000
del tcp 192.0.2.99 * 198.51.100.5 40000
commit
EOF
	wait_paused c1 || bail "$v: the tool did not reach c1"
	expect_held "$v: the device holds exactly the batch's 5 entries, in its syntax" $v "$A"
	expect_deny_last $v
	[ $v = ironware ] && expect_hw_current "$v: ... rebound: the hardware has them too"
	control $v "bump 7"
	go c1
	tool_wait $v out1
	expect_out "$v: setup finds the site's ACL, intact" out1 "setup: intact, unchanged"
	expect_out "$v: a batch of 5 adds (v4, v6, tcp, udp, a source port) is applied" out1 \
		"op 1: add tcp 192.0.2.10:* -> 198.51.100.5:40000: ok" \
		"op 3: add tcp 192.0.2.12:20 -> 198.51.100.6:80: ok" \
		"op 5: add udp [2001:db8::11]:* -> [2001:db8:1::5]:40001: ok" "batch: ok"
	expect_out "$v: read-back lists them with the device's packet counters" out1 \
		"entry tcp 192.0.2.10:* -> 198.51.100.5:40000 packets 7" \
		"entry tcp 192.0.2.12:20 -> 198.51.100.6:80 packets 7" \
		"entry udp [2001:db8::11]:* -> [2001:db8:1::5]:40001 packets 7" "read: 5 entries"
	expect_out "$v: add of one held is EEXIST, delete of one not held ENOENT" out1 \
		"op 1: add tcp 192.0.2.10:* -> 198.51.100.5:40000: File exists" \
		"op 2: del tcp 192.0.2.99:* -> 198.51.100.5:40000: No such file or directory"
	# the same pinholes rendered by an independent generator (capirca,
	# which has no FTOS generator)
	if [ $v != ftos ] && [ $v != ironware ]; then
		/usr/bin/python3 "$ROOT/tests/kernel/capirca_check.py" $v "$T/$v.cmds" DYPER_IN \
			DYPER_IN6 "tcp 192.0.2.10 * 198.51.100.5 40000" \
			"udp 192.0.2.11 * 198.51.100.5 5060" "tcp 192.0.2.12 20 198.51.100.6 80" \
			"tcp 2001:db8::10 * 2001:db8:1::5 40000" \
			"udp 2001:db8::11 * 2001:db8:1::5 40001" >"$T/capirca.$v" 2>&1
		case $? in
		0) ok "$v: the lines sent agree with capirca's rendering of the same 5 pinholes" ;;
		77) skip "$v: capirca cross-check: python3-capirca is not installed" ;;
		*) not_ok "$v: the lines sent agree with capirca's rendering of the same 5 pinholes"
		   diag "$T/capirca.$v" ;;
		esac
	fi

	# 2: deletes (a new session learns the identities from the device)
	tool $v out2 <<'EOF'
del udp 192.0.2.11 * 198.51.100.5 5060
del tcp 2001:db8::10 * 2001:db8:1::5 40000
commit
EOF
	A=$(drop "$A" "5060")
	A=$(drop "$A" "2001:db8::10")
	expect_out "$v: a batch of deletes is applied" out2 "batch: ok" \
		"op 2: del tcp [2001:db8::10]:* -> [2001:db8:1::5]:40000: ok"
	expect_held "$v: those two entries are gone, the others kept" $v "$A"

	# 3: the device refuses a line: that op's error, the rest applied
	control $v "fail-match 192.0.2.66"
	tool $v out3 <<'EOF'
add tcp 192.0.2.65 * 198.51.100.5 40000
add tcp 192.0.2.66 * 198.51.100.5 40000
add tcp 192.0.2.67 * 198.51.100.5 40000
commit
EOF
	expect_out "$v: a refused line is its op's error (EREMOTEIO), the others applied" out3 \
		"op 1: add tcp 192.0.2.65:* -> 198.51.100.5:40000: ok" \
		"op 2: add tcp 192.0.2.66:* -> 198.51.100.5:40000: Remote I/O error" \
		"op 3: add tcp 192.0.2.67:* -> 198.51.100.5:40000: ok"
	A+=$'\n'$(held $v tcp 192.0.2.65 198.51.100.5 40000)
	A+=$'\n'$(held $v tcp 192.0.2.67 198.51.100.5 40000)
	expect_held "$v: after the refused line the device holds exactly the rest" $v "$A"

	# 4: the session dropped in the middle of a batch (after its 3rd line)
	control $v "drop-line 3"
	tool $v out4 <<'EOF'
del tcp 192.0.2.65 * 198.51.100.5 40000
del tcp 192.0.2.67 * 198.51.100.5 40000
gen add 4 tcp 192.0.2.70 198.51.100.5 41000
commit
EOF
	A=$(drop "$A" "192.0.2.6[57]")
	for p in 41000 41001 41002 41003; do
		A+=$'\n'$(held $v tcp 192.0.2.70 198.51.100.5 $p)
	done
	expect_out "$v: a batch whose session dropped mid-way completes after a reconnect" out4 \
		"op 1: del tcp 192.0.2.65:* -> 198.51.100.5:40000: ok" \
		"op 3: add tcp 192.0.2.70:* -> 198.51.100.5:41000: ok" \
		"op 6: add tcp 192.0.2.70:* -> 198.51.100.5:41003: ok" "batch: ok"
	expect_held "$v: ... reconciled: 0 lost, 0 leaked" $v "$A"
	expect_deny_last $v
	[ $v = ironware ] && expect_hw_current "$v: ... and rebound after the reconnect"
done

# --- IronWare: a rebind the device refuses -------------------------------------------
# the entry lines take, but "ip rebind-acl" is refused (from after the
# session's own rebind at connect): the change is not in the hardware, so
# the ops must not be reported applied
tool_bg ironware out14 --tries 2 <<'EOF'
setup
pause f1
add tcp 192.0.2.95 * 198.51.100.5 45000
commit
EOF
wait_paused f1 || bail "ironware: the tool did not reach f1"
control ironware "fail-match rebind-acl"
go f1
wait "$TOOL_PID"	# exits 1: the batch fails, which is the point
rm -f "$T"/*.go
check "ironware: ... the entry line itself was taken" grep -q ' permit tcp host 192.0.2.95 ' \
	"$T/ironware.state"
if grep -q '^op 1: add tcp 192.0.2.95:\* -> 198.51.100.5:45000: ok$' "$T/out14" ||
	! grep -q '^batch: failed: .*rebind-acl' "$T/out14"; then
	not_ok "ironware: a batch whose rebind is refused is not reported applied"
	diag "$T/out14" 10
else
	ok "ironware: a batch whose rebind is refused is not reported applied"
fi
check "ironware: ... (the device says its hardware copy is stale)" \
	grep -qx 'hardware v4 stale' "$T/ironware.state"
control ironware clear-fail
tool ironware out15 <<'EOF'
del tcp 192.0.2.95 * 198.51.100.5 45000
commit
EOF
expect_out "ironware: once the device takes the rebind again, the batch is applied" out15 \
	"op 1: del tcp 192.0.2.95:* -> 198.51.100.5:45000: ok" "batch: ok"
expect_hw_current "ironware: ... and the hardware copy is current again"

# --- IOS: reload, keepalive, save, password ----------------------------------------
# 5: a reload renumbers the ACL (10, 20, ...): the driver learns the new
# numbers, so a delete removes the right entry and an add goes before the deny
tool_bg ios out5 <<'EOF'
flush
gen add 3 tcp 192.0.2.80 198.51.100.5 42000
commit
pause r1
del tcp 192.0.2.80 * 198.51.100.5 42001
add tcp 192.0.2.81 * 198.51.100.5 42010
commit
EOF
wait_paused r1 || bail "ios: the tool did not reach r1"
control ios reload
go r1
tool_wait ios out5
expect_out "ios: after a reload, the batch is applied" out5 "flush: ok" "batch: ok" \
	"op 1: del tcp 192.0.2.80:* -> 198.51.100.5:42001: ok"
expect_held "ios: ... the entry deleted is the right one (numbers re-learned)" ios \
	"v4 permit tcp host 192.0.2.80 host 198.51.100.5 eq 42000
v4 permit tcp host 192.0.2.80 host 198.51.100.5 eq 42002
v4 permit tcp host 192.0.2.81 host 198.51.100.5 eq 42010"
expect_deny_last ios

# 6: keepalive against the exec-timeout, and the save schedule
: >"$T/ios.cmds"
tool_bg ios out6 --keepalive-ms 200 --save-s 1 <<'EOF'
add tcp 192.0.2.90 * 198.51.100.5 43000
commit
pause k1
flush
EOF
wait_paused k1 || bail "ios: the tool did not reach k1"
sleep 1.5
go k1
tool_wait ios out6
n=$(grep -c '^show clock$' "$T/ios.cmds")
check "ios: an idle session is kept alive with a harmless command ($n)" test "$n" -ge 2
check "ios: changes are saved to the startup config on the save schedule" \
	grep -qx 'write memory' "$T/ios.cmds"

# 7: password authentication, from a file that is ours alone
AUTH="--password-file $T/password" tool ios out7 <<'EOF'
check
EOF
expect_out "ios: password authentication (root-only file) works" out7 "check: intact, unchanged"
AUTH="--password-file $T/password.0644" tool ios out7b <<'EOF'
check
EOF
if grep -q "^refused Operation not permitted password file $T/password.0644 has mode 0644" "$T/out7b"; then
	ok "ios: a password file others can read is refused"
else
	not_ok "ios: a password file others can read is refused"
	diag "$T/out7b"
fi

# 8: a device whose host key is not the pinned one
tool ios out8 --known-hosts "$T/known_hosts.other" --tries 1 <<'EOF'
add tcp 192.0.2.91 * 198.51.100.5 43000
commit
EOF
if grep -q "^batch: failed: dev: REFUSED: the host key of $DEV4 port 22 CHANGED" "$T/out8" &&
	grep -q "^op 1: .*: not applied" "$T/out8" && ! grep -q 192.0.2.91 "$T/ios.state"; then
	ok "ios: a host key other than the pinned one is refused, nothing sent"
else
	not_ok "ios: a host key other than the pinned one is refused, nothing sent"
	diag "$T/out8"
fi

# --- JunOS: commit confirmed ---------------------------------------------------------------
J80="inet source-address=192.0.2.80/32 destination-address=198.51.100.5/32 protocol=tcp destination-port=42000 count=self then-accept
inet source-address=192.0.2.80/32 destination-address=198.51.100.5/32 protocol=tcp destination-port=42001 count=self then-accept"

# 9: the session lost right after "commit confirmed": the reconnect
# confirms our pending commit
control junos "minute-ms 60000" "drop-after-confirm"
: >"$T/junos.cmds"
tool junos out9 <<'EOF'
flush
gen add 2 tcp 192.0.2.80 198.51.100.5 42000
commit
EOF
expect_out "junos: a batch whose session was lost after commit confirmed is done" out9 \
	"op 1: add tcp 192.0.2.80:* -> 198.51.100.5:42000: ok" "batch: ok"
expect_held "junos: ... its entries are there" junos "$J80"
check "junos: ... and the pending commit confirmed was confirmed" \
	bash -c "! grep -qx pending-confirm '$T/junos.state' && grep -A3 -x 'show system commit' '$T/junos.cmds' | grep -qx commit"

# 10: a slow commit (2.5 s)
control junos "commit-delay-ms 2500"
tool junos out10 <<'EOF'
del tcp 192.0.2.80 * 198.51.100.5 42000
commit
EOF
control junos "commit-delay-ms 200"
expect_out "junos: a slow commit is waited for" out10 \
	"op 1: del tcp 192.0.2.80:* -> 198.51.100.5:42000: ok" "batch: ok"
expect_held "junos: ... and took" junos "$(drop "$J80" "42000")"

# 11: the session lost after commit confirmed while the device cannot be
# reached for longer than the confirm window: the device rolls back by
# itself, the driver finds the entries gone and applies them again
control junos "minute-ms 300" "drop-after-confirm" "refuse-ms 2500"
: >"$T/junos.cmds"
tool junos out11 <<'EOF'
gen add 2 tcp 192.0.2.82 198.51.100.5 44000
commit
EOF
n=$(grep -c '^commit confirmed 1$' "$T/junos.cmds")
expect_out "junos: a batch rolled back by the device (commit confirmed) is applied again" out11 \
	"op 1: add tcp 192.0.2.82:* -> 198.51.100.5:44000: ok" \
	"op 2: add tcp 192.0.2.82:* -> 198.51.100.5:44001: ok" "batch: ok"
check "junos: ... after the rollback, in a second commit confirmed ($n)" test "$n" -eq 2
expect_held "junos: ... 0 lost, 0 leaked" junos "$(drop "$J80" "42000")
inet source-address=192.0.2.82/32 destination-address=198.51.100.5/32 protocol=tcp destination-port=44000 count=self then-accept
inet source-address=192.0.2.82/32 destination-address=198.51.100.5/32 protocol=tcp destination-port=44001 count=self then-accept"
check "junos: ... and nothing is left pending" bash -c "! grep -qx pending-confirm '$T/junos.state'"
expect_deny_last junos

# 13: long batches through a small window: every refill of the window
# must happen before waiting for answers (with nothing in flight a wait
# never ends: regression test for that deadlock).  On IOS the reload of 5
# left the deny at 40: 150 more need the ACL renumbered (resequence).
for v in ios ftos ironware junos; do
	tool $v out13 --window 8 --timeout-ms 3000 --tries 2 <<'EOF'
gen add 150 udp 198.51.100.99 203.0.113.5 20000
commit
EOF
	n=$(grep -c '^op [0-9]*: add udp 198.51.100.99:\* -> 203.0.113.5:[0-9]*: ok$' "$T/out13")
	if [ "$n" -eq 150 ] && grep -qx 'batch: ok' "$T/out13"; then
		ok "$v: a batch of 150 through a window of 8 lines is applied"
	else
		not_ok "$v: a batch of 150 through a window of 8 lines is applied ($n ok)"
		diag "$T/out13" 5
	fi
	if [ $v != junos ]; then
		n=$(grep -c ' permit udp host 198.51.100.99 host 203.0.113.5 eq ' "$T/$v.state")
	else
		n=$(grep -c 'source-address 198.51.100.99/32$' "$T/junos.state")
	fi
	check "$v: ... the device holds the 150 ($n)" test "$n" -eq 150
	expect_deny_last $v
done

# 12: flush removes every entry of ours, and only those
for v in ios ftos ironware junos; do
	tool $v out12 <<'EOF'
flush
read
EOF
	expect_out "$v: flush removes every entry of ours" out12 "flush: ok" "read: 0 entries"
	expect_held "$v: ... the device holds none" $v ""
	expect_deny_last $v
done

# 14: the ciphers offered, as the driver's KEXINIT lists them (in clear,
# before any key exists), to a listener that takes that much and closes:
# libssh's own default set, nothing weaker, with AES-GCM before
# ChaCha20-Poly1305 (cheaper per packet, for us and for a device with AES
# hardware: remote/cli.c)
ip netns exec "dyt-$$-ios" python3 - "$DEV4" 2222 "$T/kex.ready" >"$T/kex.out" 2>&1 <<'EOF' &
import socket, struct, sys

def take(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise SystemExit("closed after %d bytes" % len(b))
        b += d
    return b

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(60)
open(sys.argv[3], "w").close()
c, _ = s.accept()
c.settimeout(60)
c.sendall(b"SSH-2.0-kexinit-capture\r\n")
line = b""
while not line.endswith(b"\n"):
    line += take(c, 1)
size, pad = struct.unpack(">IB", take(c, 5))
payload = take(c, size - 1)[:size - 1 - pad]
if payload[0] != 20:
    raise SystemExit("not a KEXINIT: message %d" % payload[0])
at, lists = 17, []
for _ in range(4):
    n = struct.unpack(">I", payload[at:at + 4])[0]
    lists.append(payload[at + 4:at + 4 + n].decode())
    at += 4 + n
print("c2s " + lists[2])
print("s2c " + lists[3])
EOF
KEX_PID=$!
started $KEX_PID
poll 5000 0.05 test -e "$T/kex.ready" || bail "the KEXINIT listener did not start"
tool ios out14 --port 2222 --tries 1 <<'EOF'
check
EOF
wait $KEX_PID
want="aes256-gcm@openssh.com,aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
expect_out "ios: the driver offers libssh's default ciphers, AES-GCM first" kex.out \
	"c2s $want" "s2c $want"

summary
