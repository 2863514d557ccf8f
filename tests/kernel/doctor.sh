#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# doctor.sh: `dyperctl doctor` against a live system.  Everything happens in
# one network namespace of its own (dyt-PID-doc: nftables is per namespace,
# so doctor sees only this test's tables) with dyperd from the build tree,
# a temp config and policy, and copies of the wrapper and the agent in the
# temp dir.  Each case breaks one thing and checks the words doctor prints
# and its exit status; where doctor gives a command to fix it, the test runs
# that very command and checks that doctor is then content.
#
# Cases (every "ok" line starts with its number): 1 dyperd not running and
# no table, 2 a good setup, 3 a foreign chain with policy drop (3b: one that
# accepts Dyper's mark), 4 drop rules in an accept-policy chain, 5 an
# ingress chain, 6 the wrapper, 7 the agent, 8 the policy, 9 the config,
# the group and root, 10 the table changed and missing.
#
# dyperd runs as nobody, its agent socket group is "daemon".  Needs root;
# touches nothing outside its namespace and temp dir.  Binaries come from
# $B (default "build").  Output: "ok - ..." / "not ok - ..." per check, then
# "doctor: N passed, N failed"; exit 0 only if nothing failed (77 when not
# root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=doctor_lib.sh
. "$(dirname "$0")/doctor_lib.sh"


need_root
need_bins "$DYPERD" "$DYPERCTL" "$WRAP"
[ -f "$AGENT_SO" ] || { echo "doctor.sh: $AGENT_SO missing; build it: make B=$B" >&2; exit 2; }
for tool in nft setpriv python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "doctor.sh: $tool missing" >&2
		exit 2
	fi
done
for id in "passwd nobody" "group daemon"; do
	read -r db name <<<"$id"
	if ! getent "$db" "$name" >/dev/null; then
		echo "doctor.sh: $db entry $name missing" >&2
		exit 2
	fi
done

NS=dyt-$$-doc
DPID=
DLOG=

bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"		# dyperd re-reads config and policy as nobody
CONF=$T/dyper.conf
POL=$T/policy
CSOCK=$T/control.sock
WRAPX=$T/dyper-wrap		# setgid daemon, as installed
AGENT=$T/libdyper-preload.so

run ip netns add "$NS"
created_ns+=("$NS")
run ip -n "$NS" link set lo up

# write_conf FILE [DAEMON-LINE...]: a dyper.conf; extra lines go to [daemon]
# after the test's own (a key given twice is an error: that is case 9).
write_conf() {
	local f=$1

	shift
	{
		echo "[daemon]"
		echo "user = nobody"
		echo "agent_socket = $T/agent.sock"
		echo "control_socket = $CSOCK"
		printf '%s\n' "$@"
	} >"$f"
	chmod 644 "$f"
}
write_conf "$CONF" "group = daemon" "policy = $POL"
printf 'allow * * * * * * 1024-65535\n' >"$POL"
chmod 644 "$POL"
run cp "$WRAP" "$WRAPX"
run chown root:daemon "$WRAPX"
run chmod 2711 "$WRAPX"
run cp "$AGENT_SO" "$AGENT"
run chmod 644 "$AGENT"

# doctor [ARGS...]: doctor in the namespace with this test's config, wrapper
# and agent (ARGS come after those and override them); output in $OUT,
# exit status in $RC.
OUT=
RC=0
doctor() {
	OUT=$(ip netns exec "$NS" "$DYPERCTL" -c "$CONF" doctor --wrapper "$WRAPX" \
		--agent "$AGENT" "$@" 2>&1)
	RC=$?
}

# expect DESC RC REGEX...: doctor's last run exited RC and printed a line
# matching each extended REGEX.
expect() {
	local desc=$1 rc=$2

	shift 2
	if [ "$RC" -ne "$rc" ]; then
		not_ok "$desc (exit $RC, expected $rc)"
		diag_s "$OUT"
		return 1
	fi
	out_has "$desc" "$@"
}

# fix_of CHECK: the command doctor's last run advised for CHECK's first
# non-ok line.
fix_of() {
	awk -v c="$1" '
		found && /^ +fix: / { sub(/^ +fix: /, ""); print; exit }
		/^(FAIL|warning) / && $2 == c ":" { found = 1 }' <<<"$OUT"
}

# apply_fix CHECK: runs that advice in the namespace: the whole line, or for
# "chains" the nft command in it ("...: nft ..., and move ...").
apply_fix() {
	local fix

	fix=$(fix_of "$1")
	[ "$1" = chains ] && fix=$(sed -E "s/^[^:]*: (nft ('[^']*'|[^,]*)),.*/\1/" <<<"$fix")
	echo "$fix" >"$T/cmd"
	[ -n "$fix" ] || return 1
	ip netns exec "$NS" sh -c "$fix" >>"$T/cmd" 2>&1
}

start_dyperd() {
	DLOG=$T/dyperd.log
	ip netns exec "$NS" "$DYPERD" -c "$CONF" -f >"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
	poll 5000 0.02 ip netns exec "$NS" "$DYPERCTL" -s "$CSOCK" stats >/dev/null 2>&1
}

stop_dyperd() {
	sig TERM "$DPID"
	wait_exit "$DPID" 5000
}

# --- 1: nothing running ------------------------------------------------------------
doctor
expect "1 dyperd not running, no table: both said, exit 1" 1 \
	"^FAIL +dyperd: not running: nothing listens on $CSOCK" \
	"^ +fix: systemctl start dyperd" \
	"^FAIL +table: table inet dyper is gone" \
	"^summary: .* 2 FAIL"

# --- 2: a good setup --------------------------------------------------------------
start_dyperd || bail "dyperd does not start"
doctor
expect "2 good setup: every check ok, exit 0" 0 \
	"^ok +dyperd: running: answers on $CSOCK, 0 pinholes open" \
	"^ok +table: table inet dyper is in place" \
	"^ok +chains: no other table filters incoming packets" \
	"^ok +wrapper: $WRAPX is set-group-ID daemon" \
	"^ok +agent: $AGENT is in place" \
	"^ok +policy: $POL: 1 rules, 1 allow" \
	"^summary: [0-9]+ ok, 0 warnings, 0 FAIL$"
refute "2 good setup: no warning, no failure" "^(warning|FAIL) "
doctor -j
if python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
assert d["failures"] == 0 and d["warnings"] == 0 and d["ok"] == len(d["checks"])
assert all(c["status"] == "ok" and c["fix"] is None for c in d["checks"])
assert any(c["check"] == "table" for c in d["checks"])' <<<"$OUT"; then
	ok "2 -j: one JSON object, every check ok"
else
	not_ok "2 -j: one JSON object, every check ok"
	diag_s "$OUT"
fi

# --- 3: a foreign input chain with policy drop ---------------------------------------
run ip netns exec "$NS" nft 'table inet fw { chain input { type filter hook input priority 10; policy drop; }; }'
doctor
expect "3 policy drop of table inet fw named, exit 1" 1 \
	"^FAIL +chains: table inet fw, chain input \(hook input, priority 10\): its policy drop drops every packet" \
	"Dyper's accept does not override it" \
	"^ +fix: let Dyper's table decide: nft 'chain inet fw input \{ policy accept; \}'"
if apply_fix chains; then
	doctor
	expect "3 its advice applied: the chain is fine, exit 0" 0 \
		"^ok +chains: 1 other input chain, none drops"
else
	not_ok "3 its advice applied"
	diag "$T/cmd"
fi

# --- 3b: the other chain keeps its drop and accepts what Dyper marks ----------------
stop_dyperd
CONF0=$CONF
CONF=$T/mark.conf
write_conf "$CONF" "group = daemon" "policy = $POL" "[enforcer]" "mark = 0x10"
start_dyperd || bail "dyperd does not start with mark = 0x10"
run ip netns exec "$NS" nft 'chain inet fw input { policy drop; }'
doctor
expect "3b mark set but not accepted there: FAIL, the fix names the mark rule" 1 \
	"^FAIL +chains: table inet fw, chain input .*: its policy drop drops every packet" \
	"^ +fix: .*set mark = 0x10 in dyper.conf, a priority below 10, and put 'meta mark & 0x10 == 0x10 accept' before its drop"
run ip netns exec "$NS" nft insert rule inet fw input meta mark and 0x10 == 0x10 accept
doctor
expect "3b the chain accepts Dyper's mark first: ok, exit 0" 0 \
	"^ok +chains: table inet fw, chain input \(hook input, priority 10\): drops, but first accepts what Dyper admitted \(mark 0x10\)"
run ip netns exec "$NS" nft 'table inet fw2 { chain input { type filter hook input priority -5; policy drop; meta mark 0x10 accept; }; }'
doctor
expect "3b a chain that looks at the mark before Dyper sets it: warning" 0 \
	"^warning +chains: table inet fw2, chain input \(hook input, priority -5\): accepts Dyper's mark 0x10, but runs before Dyper's chain \(priority 0\) has set it" \
	"^ +fix: set priority in dyper.conf below that chain's"
run ip netns exec "$NS" nft delete table inet fw2
run ip netns exec "$NS" nft delete table inet fw
run ip netns exec "$NS" nft 'table inet fw { chain input { type filter hook input priority 10; policy accept; }; }'
stop_dyperd
CONF=$CONF0
start_dyperd || bail "dyperd does not start again"

# --- 4: drop rules in an accept-policy chain -----------------------------------------
run ip netns exec "$NS" nft add rule inet fw input tcp dport 5000 drop
doctor
expect "4 a conditional drop: a warning naming the rule, exit 0" 0 \
	"^warning +chains: table inet fw, chain input \(hook input, priority 10\): a drop rule \(handle [0-9]+\) drops some packets" \
	"^ +fix: make sure it does not match what Dyper opens: nft -a list chain inet fw input"
run ip netns exec "$NS" nft add chain inet fw sub
run ip netns exec "$NS" nft add rule inet fw sub counter reject
run ip netns exec "$NS" nft add rule inet fw input jump sub
doctor
expect "4 an unconditional reject behind a jump: FAIL naming both chains, exit 1" 1 \
	"^FAIL +chains: table inet fw, chain input .*: a reject rule \(handle [0-9]+, in chain sub\) drops every packet" \
	"^ +fix: let Dyper's table decide: nft delete rule inet fw sub handle [0-9]+"
if apply_fix chains; then
	doctor
	expect "4 its advice applied: back to the warning, exit 0" 0 \
		"^warning +chains: table inet fw, chain input .*: a drop rule"
	refute "4 its advice applied: no FAIL" "^FAIL "
else
	not_ok "4 its advice applied"
	diag "$T/cmd"
fi
run ip netns exec "$NS" nft add chain inet fw trusted
run ip netns exec "$NS" nft add rule inet fw trusted accept
run ip netns exec "$NS" nft insert rule inet fw input iifname lo accept
run ip netns exec "$NS" nft add rule inet fw input iifname eth7 jump trusted
run ip netns exec "$NS" nft add rule inet fw input drop
doctor
expect "4 all dropped but one interface accepted wholesale: a warning saying which" 0 \
	"^warning +chains: .*drops every packet the chain has not accepted by then, but it accepts everything arriving on eth7: pinholes work on eth7 only"
run ip netns exec "$NS" nft delete table inet fw

# --- 5: an ingress chain ----------------------------------------------------------------
run ip netns exec "$NS" nft 'table netdev early { chain in0 { type filter hook ingress device lo priority 0; policy drop; }; }'
doctor
expect "5 a netdev ingress chain with policy drop: FAIL naming its device" 1 \
	"^FAIL +chains: table netdev early, chain in0 \(hook ingress, device lo, priority 0\): its policy drop"
run ip netns exec "$NS" nft delete table netdev early

# --- 6: the wrapper -------------------------------------------------------------------
run chmod 0755 "$WRAPX"
doctor
expect "6 wrapper without set-group-ID: FAIL, exit 1" 1 \
	"^FAIL +wrapper: $WRAPX is not set-group-ID \(mode 0755\)" \
	"^ +fix: chown root:daemon $WRAPX; chmod 2711 $WRAPX"
if apply_fix wrapper; then
	doctor
	expect "6 its advice applied: wrapper ok, exit 0" 0 "^ok +wrapper: "
else
	not_ok "6 its advice applied"
	diag "$T/cmd"
fi
run chown root:nogroup "$WRAPX" 2>/dev/null || run chown root:root "$WRAPX"
run chmod 2711 "$WRAPX"
doctor
expect "6 wrapper set-group-ID to the wrong group: FAIL" 1 \
	"^FAIL +wrapper: $WRAPX is set-group-ID to .*, not to the agent socket's group"
run chown root:daemon "$WRAPX"
run chmod 2711 "$WRAPX"
doctor --wrapper "$T/nowrap"
expect "6 no wrapper: FAIL" 1 "^FAIL +wrapper: $T/nowrap: No such file or directory"

# --- 7: the agent -----------------------------------------------------------------------
doctor --agent "$T/noagent.so"
expect "7 no agent: FAIL, exit 1" 1 \
	"^FAIL +agent: $T/noagent.so: No such file or directory: dyper-wrap cannot preload it"
run chmod 0600 "$AGENT"
doctor
expect "7 agent not readable by all: FAIL" 1 "^FAIL +agent: $AGENT is not readable by all"
run chmod 0646 "$AGENT"
doctor
expect "7 agent writable by others: FAIL" 1 "^FAIL +agent: $AGENT is writable by others"
run chmod 0644 "$AGENT"

# --- 8: the policy ----------------------------------------------------------------------
# doctor reads the policy named in the config itself: a second config
# points at other policies while dyperd keeps its own.
CONF2=$T/dyper2.conf
POL2=$T/policy2
write_conf "$CONF2" "group = daemon" "policy = $POL2"
doctor2() {
	OUT=$(ip netns exec "$NS" "$DYPERCTL" -c "$CONF2" doctor --wrapper "$WRAPX" \
		--agent "$AGENT" 2>&1)
	RC=$?
}
printf 'deny * * tcp * * * *\n' >"$POL2"
doctor2
expect "8 a deny-only policy: warning, every request refused" 0 \
	"^warning +policy: $POL2: no allow rule: every request will be refused" \
	"^ +fix: add allow rules to $POL2"
printf 'allow * * * * * * *\n# catch-all\ndeny * * * * * * *\n' >"$POL2"
doctor2
expect "8 an allow and a deny-everything rule: warning naming the line" 0 \
	"^warning +policy: $POL2: line 3 denies every request"
printf 'allow * * tcp * * * 99999\n' >"$POL2"
doctor2
expect "8 a policy that does not parse: FAIL with file and line" 1 \
	"^FAIL +policy: $POL2:1: .*99999"

# --- 9: config, group, root -------------------------------------------------------------
write_conf "$CONF2" "group = daemon" "policy = $POL" "bogus = 1"
doctor2
expect "9 a config error: FAIL with its file and line" 1 \
	"^FAIL +config: $CONF2:[0-9]+: .*bogus" \
	"^ +fix: correct it \(see dyper.conf\(5\)\), then check it with dyperd --check-config -c $CONF2"
write_conf "$CONF2" "group = dyt-no-such-group" "policy = $POL"
doctor2
expect "9 a group that does not exist: FAIL with groupadd" 1 \
	"^FAIL +group: group dyt-no-such-group \(group = in dyper.conf\) does not exist" \
	"^ +fix: groupadd --system dyt-no-such-group"
OUT=$(ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$DYPERCTL" -c "$CONF" doctor --wrapper "$WRAPX" --agent "$AGENT" 2>&1)
RC=$?
expect "9 not root: FAIL saying why, exit 1" 1 \
	"^FAIL +root: not running as root: listing nftables needs CAP_NET_ADMIN" \
	"^ +fix: sudo dyperctl doctor"

# --- 10: the table changed, then missing ------------------------------------------------
stop_dyperd || bail "dyperd does not stop"
doctor
expect "10 dyperd stopped, table kept: only dyperd fails" 1 \
	"^FAIL +dyperd: not running" "^ok +table: table inet dyper is in place"
run ip netns exec "$NS" nft add rule inet dyper input tcp dport 4444 accept
doctor
expect "10 a rule added to Dyper's table: FAIL, restart advised" 1 \
	"^FAIL +table: the rules of chain input in table inet dyper were changed" \
	"^ +fix: systemctl restart dyperd: it rebuilds its table"
run ip netns exec "$NS" nft delete table inet dyper
doctor
expect "10 the table deleted: FAIL, start advised" 1 \
	"^FAIL +table: table inet dyper is gone" \
	"^ +fix: systemctl start dyperd: dyperd creates the table when it starts"

summary
