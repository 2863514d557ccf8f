#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# visibility.sh: what an admin can see of dyperd's decisions (issue 14).
# dyperd runs as nobody in namespace IN, as in dyperd.sh; no journal runs
# here (tests/pkg/systemd.sh reads the journal's fields back).
#
#   1. watch: two `dyperctl watch` streams at once, one JSON filtered to
#      opens, one text of everything; a pinhole opened and closed by its
#      owner shows as "open" then "close" (cause owner, a duration) in both,
#      a denied request as "deny" with its policy line.  Filters: a watcher
#      of another port sees none of it.
#   2. a slow watcher (connected, never reading) does not slow dyperd: 1500
#      opens and their closes go through, the fast watcher gets every open,
#      stats answers meanwhile; once the slow one reads, its stream says
#      "N events dropped", and dyperd's metrics count them.
#   3. history: `list --recent` (and -j) shows the closes: when, after how
#      long, why (socket-closed, owner, admin), with null for what is unknown;
#      the packets and bytes at close: B's TCP connection to an admin-closed
#      pinhole, and $DGRAMS UDP exchanges (each its own flow, so each counted)
#      through a pinhole its holder's exit closes.
#   4. explain: control port, pinhole for this host (accept), pinhole for
#      another host, a closed pinhole (with its event), a denial (with its
#      event), nothing; real probes agree with the verdicts; the drop rule's
#      log prefix names the table and the reason.
#   5. JSON: list/show/stats/check carry "schema":1, null for any remote
#      port and no lifetime, errors are JSON objects with -j (show -j 999,
#      unknown command, dyperd unreachable); all validated with jq.
#   6. metrics: `stats --prometheus` parsed by prometheus_client's text
#      parser: the counters agree with stats, the open latency histogram
#      counts every open.
#   7. the event_log is reopened on SIGHUP (as logrotate's postrotate asks):
#      after a rename and SIGHUP, new events go to a new file.
#
# Needs root, jq and python3-prometheus-client; touches nothing outside its
# own namespaces and temp dir.  Output: "ok - ..." / "not ok - ..." per
# check, then "visibility: N passed, N failed".

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CLIENT=$BDIR/tests/tools/dyper-client

need_root
need_bins "$DYPERD" "$DYPERCTL" "$CLIENT" "$PROBE"
need_tools nft setpriv jq python3
# the distribution's python3 has its python3-prometheus-client (a python3
# earlier in PATH, pyenv's, may not)
PY=
for p in python3 /usr/bin/python3; do
	"$p" -c 'import prometheus_client.parser' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] ||
	{ echo "visibility.sh: python3-prometheus-client missing (make deps installs it)" >&2; exit 2; }

CTL_TCP=2222		# a control port: always open
DENY_PORT=8409		# the policy denies it
MANY=3000		# opens in case 2: more than a watcher's buffer holds
DGRAMS=5		# UDP flows through one pinhole in case 3

DPID=
DLOG=
bail_diag() {
	[ -n "$DLOG" ] && diag "$DLOG"
}

start_test
chmod 755 "$T"
CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
EVENTS=$T/events.json

setup_network
{
	echo "[daemon]"
	echo "user = nobody"
	echo "group = daemon"
	echo "agent_socket = $ASOCK"
	echo "control_socket = $CSOCK"
	echo "policy = $POL"
	echo "event_log = $EVENTS"
	echo "[enforcer]"
	echo "tcp_ports = $CTL_TCP"
	echo "[limits]"
	echo "rate = 100000"
	echo "burst = 100000"
	echo "max_per_user = 4000"
} >"$CONF"
{
	echo "deny * * tcp * * * $DENY_PORT"
	echo "allow root * * * * * 1024-65535"
} >"$POL"
chmod 644 "$CONF" "$POL"
: >"$EVENTS"
chown nobody "$EVENTS"

ctl() {
	timeout 10 "$DYPERCTL" -s "$CSOCK" "$@"
}

ctl_quiet() {
	ctl "$@" >/dev/null 2>&1
}

client() {
	ip netns exec "$NS_IN" timeout 30 "$CLIENT" -s "$ASOCK" "$@" 2>&1
}

# client_bg OUT ARGS...: the same in the background, killed by cleanup.
client_bg() {
	local out=$1

	shift
	ip netns exec "$NS_IN" "$CLIENT" -s "$ASOCK" "$@" >"$out" 2>&1 </dev/null &
	started $!
}

# is_json JQ-EXPR TEXT: TEXT is JSON (not nothing) for which JQ-EXPR holds.
is_json() {
	[ -n "$2" ] && jq -e "$1" <<<"$2" >/dev/null 2>&1
}

DLOG=$T/dyperd.log
ip netns exec "$NS_IN" "$DYPERD" -c "$CONF" -f >"$DLOG" 2>&1 </dev/null &
DPID=$!
started "$DPID"
poll 5000 0.05 ctl_quiet stats || bail "dyperd did not start"
ok "dyperd runs in $NS_IN"

# watch NAME ARGS...: a dyperctl watch in the background, its output in $T/w.NAME.
declare -A WPID
watch_bg() {
	local name=$1

	shift
	"$DYPERCTL" -s "$CSOCK" "$@" >"$T/w.$name" 2>&1 </dev/null &
	WPID[$name]=$!
	started $!
}

fds() {
	[ "$(ls "/proc/$DPID/fd" | wc -l)" -ge "$1" ]
}

# --- 1. watch -------------------------------------------------------------------------

fd0=$(ls "/proc/$DPID/fd" | wc -l)
watch_bg json watch -j --event open,close,deny
watch_bg text watch
watch_bg other watch --port 9999
# each watcher holds one descriptor of dyperd's once it streams
poll 5000 0.05 fds $((fd0 + 3)) || not_ok "1: three watchers connected"

r=$(client open tcp "$A4" '*' "$IN4" 8401 --close | head -1)
expect_open() { [[ $r =~ ^ok ]]; }
expect_open && ok "1: a pinhole opened and closed by its owner ($r)" || not_ok "1: open: $r"
r=$(client open tcp "$A4" '*' "$IN4" $DENY_PORT)
[[ $r =~ ^err ]] && ok "1: a request the policy denies is refused ($r)" || not_ok "1: deny: $r"

has_events() {
	[ "$(grep -c '"local_port":8401' "$T/w.json")" -ge 2 ] &&
		grep -q '"event":"deny"' "$T/w.json" && grep -q "^.* deny " "$T/w.text"
}
poll 5000 0.05 has_events
if jq -e -s --arg a "$A4" '
	(map(select(.local_port == 8401)) | length == 2) and
	(map(select(.local_port == 8401))[0] | .event == "open" and .remote == $a and
		.remote_port == null and .uid == 0 and (.id | type == "number") and
		.rule_line == 2 and .schema == 1) and
	(map(select(.local_port == 8401))[1] | .event == "close" and .cause == "owner" and
		(.duration_ms | type == "number") and .packets == 0 and .bytes == 0 and
		.reason == "closed by its owner")' "$T/w.json" >/dev/null 2>&1; then
	ok "1: the JSON watcher saw open then close (cause owner, a duration, counters 0: no traffic)"
else
	not_ok "1: the JSON watcher saw open then close"
	diag "$T/w.json"
fi
if jq -e -s 'map(select(.event == "deny"))[0] | .local_port == '$DENY_PORT' and
	.id == null and .rule_line == 1 and (.reason | length > 0)' "$T/w.json" >/dev/null 2>&1; then
	ok "1: the deny event names its policy line and has id null"
else
	not_ok "1: the deny event names its policy line and has id null"
	diag "$T/w.json"
fi
if head -1 "$T/w.text" | grep -qE '^[0-9-]+ [0-9:.]+ open +tcp .*:8401 id [0-9]+ uid 0 pid [0-9]+' &&
	grep -qE " close .*:8401 .* after [0-9]+ ms, 0 packets 0 bytes: owner \(closed by its owner\)" "$T/w.text" &&
	grep -qE " deny .*:$DENY_PORT .*\(policy line 1\)" "$T/w.text"; then
	ok "1: the text watcher saw the same, one line each"
else
	not_ok "1: the text watcher saw open, close and deny lines"
	diag "$T/w.text"
fi
if [ ! -s "$T/w.other" ]; then
	ok "1: a watcher filtered to port 9999 saw nothing"
else
	not_ok "1: a watcher filtered to port 9999 saw nothing"
	diag "$T/w.other"
fi
out=$(ctl watch --port 0 2>&1)
rc=$?
[ $rc = 1 ] && grep -q 'expected a port' <<<"$out" &&
	ok "1: watch --port 0 is refused ($out)" || not_ok "1: watch --port 0 refused: rc $rc $out"
out=$(ctl watch --event opened 2>&1)
[ $? = 1 ] && grep -q '"opened"' <<<"$out" &&
	ok "1: watch --event opened is refused, quoting the token" || not_ok "1: --event opened: $out"

# --- 2. a slow watcher ------------------------------------------------------------------

SLOW=$T/slow.py
cat >"$SLOW" <<'EOF'
import socket, sys, os, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"watch -j --event open --port 8402\n")
open(sys.argv[2], "w").close()
# read nothing until told, 60 s at most
for _ in range(600):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
s.settimeout(3)
out = b""
while len(out) < 64 << 20:
    try:
        b = s.recv(65536)
    except socket.timeout:
        break
    if not b:
        break
    out += b
sys.stdout.write(out.decode(errors="replace"))
EOF
python3 "$SLOW" "$CSOCK" "$T/slow.ready" "$T/slow.go" >"$T/w.slow" 2>&1 &
SPID=$!
started $SPID
poll 5000 0.05 test -e "$T/slow.ready" || not_ok "2: the slow watcher connected"
watch_bg fast watch -j --event open --port 8402
poll 5000 0.05 fds $((fd0 + 5)) || not_ok "2: the fast watcher connected"
r=$(client stream 30 $MANY tcp "$A4" "$IN4" 8402 | grep '^stream:')
if [[ $r =~ ^"stream: $MANY ok, 0 failed" ]]; then
	ok "2: $MANY opens went through while a watcher did not read ($r)"
else
	not_ok "2: $MANY opens while a watcher did not read: $r"
fi
ctl_quiet stats && ok "2: dyperctl stats answers meanwhile" || not_ok "2: dyperctl stats answers"
# every open reaches a watcher or is counted in its stream as dropped:
# delivered + dropped = MANY; what a reader keeps up with is timing's
# (reported, not asserted), except that one reading nothing must lose some
accounted() {
	grep "^{" "$1" | jq -s '[(map(select(.event == "open")) | length),
		(map(select(.event == "dropped") | .count) | add // 0)] | "\(.[0]) \(.[1])"' -r
}
all_in() {
	read -r got lost <<<"$(accounted "$T/w.fast")"
	[ $((got + lost)) -eq $MANY ]
}
if poll 10000 0.1 all_in; then
	ok "2: the fast watcher: $got opens delivered + $lost dropped = $MANY"
else
	not_ok "2: the fast watcher: $(accounted "$T/w.fast") (delivered, dropped) of $MANY"
fi
touch "$T/slow.go"
wait_exit $SPID 30000
read -r got lost <<<"$(accounted "$T/w.slow")"
if [ "$lost" -gt 0 ] && [ $((got + lost)) -eq $MANY ] && head -1 "$T/w.slow" | grep -qx OK; then
	ok "2: the slow watcher: $got delivered + $lost dropped (said in-stream) = $MANY"
else
	not_ok "2: the slow watcher: $got delivered, $lost dropped, of $MANY"
	tail -c 300 "$T/w.slow" | sed 's/^/#   /'
fi

# --- 3. history --------------------------------------------------------------------------

r=$(client open tcp "$A4" 40000 "$IN4" 8403)		# exits: its socket closes
client_bg "$T/c.8404" open tcp "$B4" '*' "$IN4" 8404 --hold 30
id=
get_id() {
	id=$(ctl list -j | jq -r '.[] | select(.local_port == 8404) | .id')
	[ -n "$id" ]
}
poll 5000 0.05 get_id
# B connects once: the pinhole counts that connection's first packet (the
# rest pass as established), and its close reports it
probe "$NS_B" tcp "$IN4" 8404 $PASS_MS || not_ok "3: B reaches 8404 before it is closed"
ctl_quiet close "$id"
closed() {
	is_json 'map(select(.local_port == 8403 or .local_port == 8404)) | length == 2' \
		"$(ctl list --recent -j)"
}
if poll 5000 0.05 closed && is_json '
	(map(select(.local_port == 8403))[-1] | .cause == "socket-closed" and
		.remote_port == 40000 and (.duration_ms | type == "number")) and
	(map(select(.local_port == 8404))[-1] | .cause == "admin" and .remote_port == null and
		.reason == "closed by the administrator" and .packets >= 1 and .bytes >= 40) and
	all(.[]; .schema == 1 and (.time | type == "number"))' "$(ctl list --recent -j)"; then
	ok "3: list --recent -j: closes by socket-closed and admin, with durations; the admin close counts B's packet"
else
	not_ok "3: list --recent -j: closes by socket-closed and admin"
	ctl list --recent -j | jq -c '.[] | select(.local_port != 8402)' | sed 's/^/#   /'
fi
out=$(ctl list --recent)
if grep -qE "close .*:8404 id $id .* after [0-9]+ ms, [1-9][0-9]* packets [1-9][0-9]* bytes: admin \(closed by the administrator\)" <<<"$out" &&
	tail -1 <<<"$out" | grep -qE '^[0-9]+ recently closed pinholes \(at most 1024 kept\)$'; then
	ok "3: list --recent: one line per close, and how many are kept"
else
	not_ok "3: list --recent"
	diag_s "$(grep -v 8402 <<<"$out" | tail -5)"
fi

# A socket's close is a batched delete: its pinhole's counters come with it.
# The pinhole counts the first datagram of each flow (the rest pass as
# established): each probe has a source port of its own.  A probe's IPv4
# datagram is at least 20 + 8 + 15 ("dyper-probe 1 1") bytes.
serve udp "$IN4" 8407
client_bg "$T/c.8407" open udp "$B4" '*' "$IN4" 8407 --hold 30
UPID=$!
udp_open() {
	is_json 'map(select(.local_port == 8407)) | length == 1' "$(ctl list -j)"
}
poll 5000 0.05 udp_open && wait_servers 5000 || not_ok "3: a UDP pinhole and its server on 8407"
sent=0
for _ in $(seq 1 $DGRAMS); do
	probe "$NS_B" udp "$IN4" 8407 $PASS_MS && sent=$((sent + 1))
done
kill "$UPID" 2>/dev/null
udp_closed() {
	is_json 'map(select(.local_port == 8407)) | length == 1' "$(ctl list --recent -j)"
}
if [ $sent -eq $DGRAMS ] && poll 5000 0.05 udp_closed && is_json "
	map(select(.local_port == 8407))[0] | .cause == \"socket-closed\" and
		.packets >= $DGRAMS and .bytes >= $DGRAMS * 43" "$(ctl list --recent -j)"; then
	ok "3: $DGRAMS UDP flows through a pinhole: its close (socket-closed) counts them all"
else
	not_ok "3: $DGRAMS UDP flows through a pinhole (of which $sent got through): its close counts them"
	ctl list --recent -j | jq -c '.[] | select(.local_port == 8407)' | sed 's/^/#   /'
fi

# --- 4. explain --------------------------------------------------------------------------

client_bg "$T/c.hold" open tcp "$A4" '*' "$IN4" 8405 --hold 30
held() {
	is_json 'map(select(.local_port == 8405)) | length == 1' "$(ctl list -j)"
}
poll 5000 0.05 held
serve tcp "$IN4" 8405
serve tcp "$IN4" $CTL_TCP
poll 5000 0.05 servers_ready

explain() {
	local want=$1

	shift
	out=$(ctl explain "$@" 2>&1)
	j=$(ctl -j explain "$@" 2>&1)
	if [[ $out =~ $want ]] && is_json . "$j"; then
		ok "4: explain $*: $(head -1 <<<"$out")"
	else
		not_ok "4: explain $*: expected /$want/"
		diag_s "$out"
	fi
}
explain '^accepted: port 2222/tcp is a control port' "$A4" "$IN4" $CTL_TCP tcp
explain '^accepted: pinhole [0-9]+ for this host' "$A4" 5555 "$IN4" 8405 tcp
explain '^dropped: no pinhole for this host: pinhole [0-9]+ admits 192.0.2.2 \(any port\)' \
	"$B4" "$IN4" 8405 tcp
explain '^dropped: no pinhole: pinhole [0-9]+ was closed \(closed by the administrator\)'$'\n''event: .* close ' \
	"$B4" "$IN4" 8404 tcp
explain '^dropped: no pinhole: the request for it was denied \(denied by [^)]*\)'$'\n''event: .* deny ' \
	"$A4" "$IN4" $DENY_PORT tcp
explain '^dropped: nothing opens it' "$A4" "$IN4" 8499 tcp
explain '^dropped: nothing opens it' "$A4" "$IN4" 8405 udp
if [ "$(ctl -j explain "$B4" "$IN4" 8404 tcp | jq -r '.verdict + " " + .why + " " + .event.cause')" = \
	"drop closed admin" ]; then
	ok "4: explain -j: verdict, why and the matching event as JSON"
else
	not_ok "4: explain -j"
	diag_s "$(ctl -j explain "$B4" "$IN4" 8404 tcp)"
fi
# the verdicts are the table's: probes agree
if probe "$NS_A" tcp "$IN4" 8405 $PASS_MS && ! probe "$NS_B" tcp "$IN4" 8405 $DROP_MS &&
	probe "$NS_B" tcp "$IN4" $CTL_TCP $PASS_MS; then
	ok "4: probes agree: A reaches 8405, B does not, B reaches the control port"
else
	not_ok "4: probes agree with explain"
fi
# the kernel's drop lines name the table and the reason
if ip netns exec "$NS_IN" nft list chain inet dyper input |
	grep -qF 'log prefix "dyper drop [inet dyper] no pinhole: "'; then
	ok "4: the drop rule's log prefix names the table and the reason"
else
	not_ok "4: the drop rule's log prefix names the table and the reason"
fi
out=$(ctl explain "$A4" "$IN6" 80 tcp 2>&1)
[ $? = 1 ] && grep -q 'one family' <<<"$out" && ok "4: explain refuses mixed families" ||
	not_ok "4: explain mixed families: $out"

# --- 5. JSON --------------------------------------------------------------------------

if is_json 'map(select(.local_port == 8405))[0] | .schema == 1 and
	.remote_port == null and .expires_s == null and .rule_line == 2' "$(ctl list -j)"; then
	ok "5: list -j: schema 1, null for any remote port and no lifetime"
else
	not_ok "5: list -j: schema 1, nulls"
	diag_s "$(ctl list -j)"
fi
id=$(ctl list -j | jq -r '.[] | select(.local_port == 8405) | .id')
is_json ".schema == 1 and .id == ${id:-0}" "$(ctl show -j "$id")" &&
	ok "5: show -j ID: schema 1" || not_ok "5: show -j ID"
out=$(ctl show -j 999 2>/dev/null)
rc=$?
if [ $rc = 1 ] && is_json '.schema == 1 and .error == "no pinhole with id 999"' "$out"; then
	ok "5: show -j 999: exit 1 and a JSON error object on stdout ($out)"
else
	not_ok "5: show -j 999: rc $rc, $out"
fi
out=$(ctl -j explain "$A4" "$IN4" 0 tcp 2>/dev/null)
is_json '.schema == 1 and (.error | test("expected a port"))' "$out" &&
	ok "5: explain -j with a bad port: a JSON error object" || not_ok "5: explain -j bad port: $out"
is_json '.schema == 1 and .opened >= 1' "$(ctl stats -j)" &&
	ok "5: stats -j: schema 1" || not_ok "5: stats -j"
is_json '.schema == 1 and .allowed == false' "$(ctl -j check 0 tcp "$A4" '*' "$IN4" $DENY_PORT)" && ok "5: check -j: schema 1" || not_ok "5: check -j"
out=$(timeout 10 "$DYPERCTL" -s "$T/nowhere.sock" -j stats 2>/dev/null)
rc=$?
if [ $rc = 3 ] && is_json '.schema == 1 and (.error | test("cannot reach dyperd"))' "$out"; then
	ok "5: dyperd unreachable with -j: exit 3 and a JSON error object"
else
	not_ok "5: dyperd unreachable with -j: rc $rc, $out"
fi
out=$(ctl -j close 999 2>/dev/null)
is_json '.schema == 1 and .closed == false' "$out" &&
	ok "5: close -j 999: a JSON object" || not_ok "5: close -j 999: $out"

# --- 6. metrics ------------------------------------------------------------------------

ctl stats --prometheus >"$T/metrics.prom"
ctl stats -j >"$T/stats.json"
PARSE=$T/parse.py
cat >"$PARSE" <<'EOF'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))
fam = {f.name: f for f in text_string_to_metric_families(text)}
def value(name, **labels):
    for f in fam.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise SystemExit("no sample " + name + " " + repr(labels))
errors = []
def want(cond, what):
    if not cond:
        errors.append(what)
want(fam["dyper_pinholes_opened"].type == "counter", "opened is a counter")
want(value("dyper_pinholes_opened_total") == stats["opened"], "opened agrees with stats")
want(value("dyper_requests_denied_total") == stats["denied"], "denied agrees with stats")
want(value("dyper_batches_total") == stats["batches"], "batches agree with stats")
want(value("dyper_pinholes") == stats["pinholes"], "pinholes agree with stats")
want(value("dyper_pinholes_closed_total", reason="admin") >= 1, "an admin close counted")
want(value("dyper_pinholes_closed_total", reason="owner") >= 1, "an owner close counted")
want(fam["dyper_open_latency_seconds"].type == "histogram", "open latency is a histogram")
want(value("dyper_open_latency_seconds_count") == stats["opened"], "every open timed")
want(value("dyper_open_latency_seconds_bucket", le="+Inf") == stats["opened"], "+Inf bucket")
want(value("dyper_batch_latency_seconds_count") >= 1, "batches timed")
want(value("dyper_watch_events_dropped_total") >= 1, "drops counted")
want(value("dyper_enforcer_errors_total") == 0, "no enforcer errors")
print("; ".join(errors) if errors else "%d families" % len(fam))
sys.exit(1 if errors else 0)
EOF
if out=$("$PY" "$PARSE" "$T/metrics.prom" "$T/stats.json" 2>&1); then
	ok "6: stats --prometheus parses (prometheus_client) and agrees with stats: $out"
else
	not_ok "6: stats --prometheus: $out"
	diag "$T/metrics.prom" 10
fi

# --- 7. the event log on SIGHUP ------------------------------------------------------------

mv "$EVENTS" "$EVENTS.1"
: >"$EVENTS"
chown nobody "$EVENTS"
sig HUP "$DPID"
reloaded() { grep -q 'reload' "$DLOG"; }
poll 5000 0.05 reloaded
client open tcp "$A4" '*' "$IN4" 8406 --close >/dev/null
if grep -q '"local_port":8406' "$EVENTS" && ! grep -q '"local_port":8406' "$EVENTS.1" &&
	grep -q '"local_port":8401' "$EVENTS.1" && jq -e -s 'length >= 2' "$EVENTS" >/dev/null; then
	ok "7: after a rename and SIGHUP, events go to the new event_log"
else
	not_ok "7: after a rename and SIGHUP, events go to the new event_log"
	diag "$EVENTS" 3
fi
# every line of the event log is JSON of schema 1
if jq -e -s 'all(.[]; .schema == 1 or .event == "suppressed")' "$EVENTS.1" >/dev/null; then
	ok "7: every event_log line is JSON of schema 1"
else
	not_ok "7: every event_log line is JSON of schema 1"
fi

sig TERM "$DPID"
wait "$DPID"
rc=$?
if [ $rc = 0 ] && ! grep -q 'Sanitizer\|runtime error' "$DLOG"; then
	ok "dyperd stops cleanly on TERM (exit 0, no sanitizer report)"
else
	not_ok "dyperd stops cleanly on TERM: exit $rc"
	diag "$DLOG"
fi
summary
