#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# wrap.sh: dyper-wrap, the setgid wrapper, with the real dyperd.  dyperd
# runs as nobody in a network namespace of its own (dyt-PID-wrap); its agent
# socket belongs to group "daemon", a group nobody is not in.  A private
# copy of dyper-wrap is made setgid daemon, and run as nobody (setpriv)
# around small Python programs that report what they inherited: the
# environment, the channel descriptor, their ids and capabilities, and
# whether the channel answers a HELLO.
#
# Every "ok" line starts with its case: a environment, b channel and
# privileges, c without the setgid bit, d dyperd stopped, e PROGRAM
# missing or not executable, f root callers, g options and configuration,
# h a dyperd that answers wrongly or not at all (a fake one).
#
# The agent is a stand-in: an empty shared library (the wrapper only checks
# that it is a regular file and puts it in LD_PRELOAD).  nobody may not
# name an agent (-p is root's, case g), so nobody runs the wrapper built
# with the stand-in as its own: tests/tools/dyper-wrap-standin, otherwise
# the same program.
#
# Needs root.  Touches nothing outside its own namespace and temp dir.
# Output: "ok - ..." / "not ok - ..." per check, then
# "wrap: N passed, N failed"; exit 0 only if nothing failed (77 when not
# root: skipped).

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# nobody cannot use root's own Python (e.g. under /root/.pyenv)
PY=/usr/bin/python3

# For a SANITIZE= build: LeakSanitizer cannot stop the threads of a set-id
# (non-dumpable) process and turns its exit into a fatal error; and ASan
# refuses to start behind the caller's LD_PRELOAD (case a2).  No effect on
# other builds.
export ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0

need_root
STANDIN_WRAP=$BDIR/tests/tools/dyper-wrap-standin
need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$STANDIN_WRAP"
for tool in setpriv cc ip "$PY"; do
	if ! command -v "$tool" >/dev/null; then
		echo "wrap.sh: $tool missing (apt-get install util-linux gcc iproute2 python3)" >&2
		exit 2
	fi
done
for id in "user nobody" "group nogroup" "group daemon"; do
	read -r db name <<<"$id"
	if ! getent "${db/user/passwd}" "$name" >/dev/null; then
		echo "wrap.sh: $db $name missing" >&2
		exit 2
	fi
done
if id -Gn nobody | grep -qw daemon; then
	echo "wrap.sh: user nobody is in group daemon: the test needs a group it is not in" >&2
	exit 2
fi
DAEMON_GID=$(getent group daemon | cut -d: -f3)
NOBODY_UID=$(id -u nobody)
NOGROUP_GID=$(getent group nogroup | cut -d: -f3)

start_test
chmod 755 "$T"		# nobody runs the wrapper copy and reads the agent here
NS=dyt-$$-wrap
run ip netns add "$NS"
created_ns+=("$NS")
run ip -n "$NS" link set lo up

CONF=$T/dyper.conf
POL=$T/policy
ASOCK=$T/agent.sock
CSOCK=$T/control.sock
AGENT=$BDIR/tests/tools/libdyper-standin.so	# the stand-in wrapper's own
WRAPX=$T/dyper-wrap		# the stand-in wrapper, setgid daemon
PLAIN=$T/dyper-wrap-plain	# the same, no setgid bit
REALX=$T/dyper-wrap-real	# the real wrapper, setgid daemon
CHAN=$T/chan.py
FAKE=$T/fake.py
DPID=
DLOG=$T/dyperd.log

bail_diag() {
	diag "$DLOG" 10
}

# --- the pieces ------------------------------------------------------------------------

setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$AGENT" ||
	bail "nobody cannot read $AGENT: build where others can read"
run cc -shared -fPIC -o "$T/other.so" -x c /dev/null
chmod 644 "$T/other.so"
run cp "$STANDIN_WRAP" "$WRAPX"
run cp "$WRAP" "$REALX"
run chgrp daemon "$WRAPX" "$REALX"
run chmod 2711 "$WRAPX" "$REALX"
run cp "$STANDIN_WRAP" "$PLAIN"
run chmod 755 "$PLAIN"
[ "$(stat -c %A:%G "$WRAPX")" = "-rwx--s--x:daemon" ] || bail "setgid copy: $(stat -c %A:%G "$WRAPX")"

{
	echo "[daemon]"
	echo "user = nobody"
	echo "group = daemon"
	echo "agent_socket = $ASOCK"
	echo "control_socket = $CSOCK"
	echo "policy = $POL"
} >"$CONF"
echo "allow daemon nobody tcp * * * 7000-7099" >"$POL"
chmod 644 "$CONF" "$POL"

# What the wrapped program reports, one KEY=VALUE a line: its ids,
# capabilities, the channel (what the descriptor is, close-on-exec, a HELLO
# answered on it), whether it can reach the agent socket or the wrapper
# group itself, and with --bind PORT whether it can bind that port.
cat >"$CHAN" <<'EOF'
import fcntl, os, socket, struct, sys

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return " ".join(line.split()[1:])
    return ""

print("pid=%d" % os.getpid())
print("uid=%s" % status("Uid"))
print("gid=%s" % status("Gid"))
print("groups=%s" % status("Groups"))
for k in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
    print("%s=%s" % (k, status(k)))
fd = int(os.environ.get("DYPER_CHANNEL_FD", "-1"))
try:
    print("chan=%s" % os.readlink("/proc/self/fd/%d" % fd))
    print("cloexec=%d" % (fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC))
    s = socket.socket(fileno=os.dup(fd))
    # HELLO: header (version, type, flags, len, id), then dyper_hello
    s.send(struct.pack("=HHHHI", 1, 1, 0, 8, 4242) + struct.pack("=II", 1, 0))
    s.settimeout(5)
    r = s.recv(512)
    ver, typ, flags, ln, mid = struct.unpack_from("=HHHHI", r)
    st, = struct.unpack_from("=i", r, 12)
    print("hello=ok type=%d id=%d status=%d" % (typ, mid, st))
except Exception as e:
    print("hello=%s" % e)
try:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.connect(sys.argv[1])
    print("connect=ok")
except OSError as e:
    print("connect=%s" % os.strerror(e.errno))
try:
    os.setegid(int(sys.argv[2]))
    print("setegid=ok")
except OSError as e:
    print("setegid=%s" % os.strerror(e.errno))
if len(sys.argv) > 4 and sys.argv[3] == "--bind":
    try:
        b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        b.bind(("127.0.0.1", int(sys.argv[4])))
        b.listen(1)
        print("bind=ok")
    except OSError as e:
        print("bind=%s" % os.strerror(e.errno))
EOF

# A fake dyperd for case h: one connection, then it exits (at the latest
# after 15 s).  MODE v2: replies in protocol version 2; silent: never
# replies; release: replies as "dyperd 9.9.9".
cat >"$FAKE" <<'EOF'
import os, socket, struct, sys

path, mode, gid = sys.argv[1], sys.argv[2], int(sys.argv[3])
l = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
l.bind(path)
os.chown(path, 0, gid)
os.chmod(path, 0o660)
l.listen(1)
print("ready", flush=True)
l.settimeout(15)
c, _ = l.accept()
c.settimeout(15)
m = c.recv(512)
mid, = struct.unpack_from("=I", m, 8)
reason = b"dyperd 9.9.9"
rep = struct.pack("=iII96s", 0, 0, 0, reason)
if mode == "v2":
    c.send(struct.pack("=HHHHI", 2, 128, 0, len(rep), mid) + rep)
elif mode == "release":
    c.send(struct.pack("=HHHHI", 1, 128, 0, len(rep), mid) + rep)
try:
    c.recv(512)	# until the wrapper is done
except OSError:
    pass
EOF
chmod 644 "$CHAN" "$FAKE"

# --- running things --------------------------------------------------------------------

ctl_quiet() {
	"$DYPERCTL" -s "$CSOCK" "$@" >/dev/null 2>&1
}

# dyperd with debug logging: it logs each channel's peer credentials.
start_dyperd() {
	ip netns exec "$NS" "$DYPERD" -c "$CONF" -d >"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started "$DPID"
	poll 5000 0.02 ctl_quiet stats
}

# "${AS_NOBODY[@]}" CMD...: CMD in the namespace as nobody:nogroup, no
# other group, no capability, no inheritable one.
AS_NOBODY=(ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups
	--inh-caps=-all)

# wrapped OUT CMD...: runs CMD (bounded), its stdout in OUT, its stderr in
# OUT.err; RC is its exit status.
RC=0
wrapped() {
	local out=$1

	shift
	timeout 20 "$@" >"$out" 2>"$out.err" </dev/null
	RC=$?
}

# val FILE KEY: the value of KEY= in FILE.
val() {
	sed -n "s/^$2=//p" "$1" | head -n 1
}

# expect KEY WANT FILE DESC: ok if KEY= in FILE is exactly WANT.
expect() {
	local got

	got=$(val "$3" "$1")
	if [ "$got" = "$2" ]; then
		ok "$4 ($1=$got)"
	else
		not_ok "$4: $1 expected \"$2\", got \"$got\""
		diag "$3"
		diag "$3.err"
	fi
}

# expect_fail OUT WANT_RC WANT_TEXT DESC: the last command exited WANT_RC
# and said WANT_TEXT (fixed string) on stderr.
expect_fail() {
	if [ "$RC" -eq "$2" ] && grep -qF -- "$3" "$1.err"; then
		ok "$4 (exit $RC: $(head -n 1 "$1.err"))"
	else
		not_ok "$4: expected exit $2 and \"$3\", got exit $RC"
		diag "$1.err"
		diag "$1"
	fi
}

# no_gid GID FILE DESC: the gid= (real, effective, saved, fs) and groups=
# lines in FILE hold no GID.
no_gid() {
	local g

	if [ -z "$(val "$2" gid)" ]; then
		not_ok "$3: no gid reported"
		return 1
	fi
	for g in $(val "$2" gid) $(val "$2" groups); do
		if [ "$g" = "$1" ]; then
			not_ok "$3: gid $1 still held (gid $(val "$2" gid), groups $(val "$2" groups))"
			return 1
		fi
	done
	ok "$3 (gid $(val "$2" gid), groups \"$(val "$2" groups)\")"
}

# channel_logged FILE GID: dyperd logged the channel of the program in FILE
# (same pid: the wrapper execs) with uid and gid as the kernel saw them.
channel_logged() {
	grep -qE "channel [0-9]+ from pid $(val "$1" pid) uid $2 gid $3\$" "$DLOG"
}

start_dyperd || bail "dyperd did not start or dyperctl stats got no answer within 5 s"
ok "dyperd runs as nobody in $NS, agent socket $(stat -c '%A %U:%G' "$ASOCK")"

# --- a. the environment ------------------------------------------------------------------

# The caller's variables reach only the wrapper (env execs it); as the
# wrapper is setgid, glibc drops some of them already: case a2 shows the
# wrapper drops them itself.
CALLER_ENV=(LD_LIBRARY_PATH="$T/lib" LD_AUDIT="$T/other.so" LD_PRELOAD="$T/other.so"
	LD_BIND_NOW=1 TMPDIR="$T" GLIBC_TUNABLES=glibc.malloc.check=0 MALLOC_ARENA_MAX=2
	GCONV_PATH="$T" LOCPATH="$T" NLSPATH="$T" RES_OPTIONS=debug HOSTALIASES="$T/h"
	DYPER_CHANNEL_FD=99 DYPER_TEST_KEPT=yes)

# check_env FILE DESC: the environment in FILE is sane for the wrapped program.
check_env() {
	local f=$1 desc=$2 bad

	if [ "$(grep -c '^LD_' "$f")" -eq 1 ] && grep -qxF "LD_PRELOAD=$AGENT" "$f"; then
		ok "a: $desc: LD_PRELOAD is the agent alone, no other LD_* variable"
	else
		not_ok "a: $desc: LD_PRELOAD is the agent alone, no other LD_* variable"
		diag_s "$(grep '^LD_' "$f")"
	fi
	if grep -qE '^DYPER_CHANNEL_FD=[0-9]+$' "$f" && ! grep -qx 'DYPER_CHANNEL_FD=99' "$f" &&
		[ "$(grep -c '^DYPER_CHANNEL_FD=' "$f")" -eq 1 ]; then
		ok "a: $desc: $(grep '^DYPER_CHANNEL_FD=' "$f") (the caller's 99 replaced)"
	else
		not_ok "a: $desc: DYPER_CHANNEL_FD set once, to the channel"
		diag_s "$(grep '^DYPER' "$f")"
	fi
	bad=$(grep -E '^(TMPDIR|GLIBC_TUNABLES|MALLOC_[A-Z_]*|GCONV_PATH|LOCPATH|NLSPATH|RES_OPTIONS|HOSTALIASES)=' "$f")
	if [ -z "$bad" ]; then
		ok "a: $desc: TMPDIR, GLIBC_TUNABLES, MALLOC_*, GCONV_PATH, LOCPATH, ... are gone"
	else
		not_ok "a: $desc: unsafe variables are gone"
		diag_s "$bad"
	fi
	check "a: $desc: other variables pass through (DYPER_TEST_KEPT=yes)" \
		grep -qx DYPER_TEST_KEPT=yes "$f"
}

wrapped "$T/a" "${AS_NOBODY[@]}" env "${CALLER_ENV[@]}" "$WRAPX" -s "$ASOCK" env
if [ $RC -eq 0 ] && [ ! -s "$T/a.err" ]; then
	ok "a: nobody runs env through the setgid wrapper (exit 0, nothing on stderr)"
else
	not_ok "a: nobody runs env through the setgid wrapper: exit $RC"
	diag "$T/a.err"
fi
check_env "$T/a" "nobody, setgid wrapper"

# root may run the copy without the setgid bit (root reaches the socket
# anyway); not set-id, glibc leaves the environment alone: the wrapper must
# clean it itself.  No LD_AUDIT here: the wrapper's own ld.so would use it.
ROOT_ENV=()
for kv in "${CALLER_ENV[@]}"; do
	[[ $kv == LD_AUDIT=* ]] || ROOT_ENV+=("$kv")
done
wrapped "$T/a2" ip netns exec "$NS" env "${ROOT_ENV[@]}" "$PLAIN" -s "$ASOCK" -p "$AGENT" env
if [ $RC -eq 0 ]; then
	ok "a2: root runs env through the wrapper without setgid bit (exit 0)"
else
	not_ok "a2: root runs env through the wrapper without setgid bit: exit $RC"
	diag "$T/a2.err"
fi
check_env "$T/a2" "root, not set-id (no help from glibc)"

# --- b. the channel and the privileges -----------------------------------------------------

wrapped "$T/b" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK" "$PY" "$CHAN" "$ASOCK" "$DAEMON_GID"
[ $RC -eq 0 ] || { not_ok "b: the wrapped program ran (exit $RC)"; diag "$T/b.err"; }
if [[ $(val "$T/b" chan) == socket:\[*\] ]]; then
	ok "b: DYPER_CHANNEL_FD is an open socket in the program (/proc/self/fd: $(val "$T/b" chan))"
else
	not_ok "b: DYPER_CHANNEL_FD is an open socket in the program (got \"$(val "$T/b" chan)\")"
	diag "$T/b"
	diag "$T/b.err"
fi
expect cloexec 0 "$T/b" "b: the channel survived the exec (not close-on-exec)"
expect hello "ok type=128 id=4242 status=0" "$T/b" "b: dyperd answers a HELLO on the inherited channel"
if channel_logged "$T/b" "$NOBODY_UID" "$DAEMON_GID"; then
	ok "b: dyperd saw the channel connect as uid $NOBODY_UID gid $DAEMON_GID (daemon: the delegate)"
else
	not_ok "b: dyperd saw the channel connect as uid $NOBODY_UID gid $DAEMON_GID"
	diag_s "$(grep 'channel .* from pid' "$DLOG" | tail -n 3)"
fi
expect uid "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" "$T/b" "b: uids unchanged"
expect gid "$NOGROUP_GID $NOGROUP_GID $NOGROUP_GID $NOGROUP_GID" "$T/b" \
	"b: real, effective, saved and fs gid are nobody's own"
no_gid "$DAEMON_GID" "$T/b" "b: group daemon is gone"
expect connect "Permission denied" "$T/b" "b: the program cannot connect to the agent socket itself"
expect setegid "Operation not permitted" "$T/b" "b: the program cannot regain group daemon"

# A caller with an inheritable and an ambient capability: the setgid exec
# clears the ambient one, the wrapper must clear the inheritable one.
wrapped "$T/b2" ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
	"$WRAPX" -s "$ASOCK" "$PY" "$CHAN" "$ASOCK" "$DAEMON_GID"
zero=0000000000000000
if [ $RC -eq 0 ] && [ "$(val "$T/b2" CapInh)$(val "$T/b2" CapPrm)$(val "$T/b2" CapEff)$(val "$T/b2" CapAmb)" = "$zero$zero$zero$zero" ]; then
	ok "b: a caller with inheritable/ambient net_bind_service: the program holds no capability"
else
	not_ok "b: a caller with inheritable/ambient capabilities: the program holds none (exit $RC)"
	diag_s "$(grep ^Cap "$T/b2")"
	diag "$T/b2.err"
fi

# A caller handed group daemon as a supplementary group without being a
# member of it (/etc/group): the wrapper cannot drop it, and refuses.
wrapped "$T/b3" ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --groups=daemon \
	--inh-caps=-all "$WRAPX" -s "$ASOCK" true
expect_fail "$T/b3" 1 "which uid $NOBODY_UID is not a member of, and it cannot be dropped" \
	"b: nobody holding daemon as a supplementary group is refused"

# --- c. without the setgid bit -----------------------------------------------------------

wrapped "$T/c" "${AS_NOBODY[@]}" "$PLAIN" -s "$ASOCK" true
expect_fail "$T/c" 1 "it must be installed setgid to the agent socket's group (chgrp dyper dyper-wrap; chmod 2711 dyper-wrap)" \
	"c: without the setgid bit nobody is told how to install it"

# --- e. PROGRAM missing or not executable ----------------------------------------------------

wrapped "$T/e" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK" "dyper-no-such-program-$$"
expect_fail "$T/e" 127 "dyper-wrap: dyper-no-such-program-$$: command not found" \
	"e: a PROGRAM not found exits 127"
wrapped "$T/e2" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK" "$T/no-such-file"
expect_fail "$T/e2" 127 "$T/no-such-file: No such file or directory" \
	"e: a PROGRAM path that does not exist exits 127"
printf '#!/bin/sh\nexit 0\n' >"$T/notexec"
chmod 644 "$T/notexec"
wrapped "$T/e3" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK" "$T/notexec"
expect_fail "$T/e3" 126 "$T/notexec: Permission denied" "e: a PROGRAM not executable exits 126"
wrapped "$T/e4" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK"
expect_fail "$T/e4" 1 "PROGRAM missing" "e: no PROGRAM at all: usage, exit 1"

# --- f. root -----------------------------------------------------------------------------

wrapped "$T/f" ip netns exec "$NS" "$WRAPX" -s "$ASOCK" -p "$AGENT" \
	"$PY" "$CHAN" "$ASOCK" "$DAEMON_GID" --bind 21
[ $RC -eq 0 ] || { not_ok "f: root's wrapped program ran (exit $RC)"; diag "$T/f.err"; }
expect uid "0 0 0 0" "$T/f" "f: root keeps uid 0"
expect bind ok "$T/f" "f: root's wrapped program can bind port 21"
expect hello "ok type=128 id=4242 status=0" "$T/f" "f: root's channel answers"
expect gid "0 0 0 0" "$T/f" "f: root's gids are root's own again"
if [ "$(val "$T/f" CapEff)" != "$zero" ]; then
	ok "f: root keeps its capabilities (CapEff=$(val "$T/f" CapEff))"
else
	not_ok "f: root keeps its capabilities (CapEff=$(val "$T/f" CapEff))"
fi
if channel_logged "$T/f" 0 "$DAEMON_GID"; then
	ok "f: root's channel, too, has the wrapper group as its delegate (gid $DAEMON_GID)"
else
	not_ok "f: root's channel has the wrapper group as its delegate"
	diag_s "$(grep 'channel .* from pid' "$DLOG" | tail -n 3)"
fi

# root holding group daemon without being a member of it: dropped
if getent group daemon | cut -d: -f4 | tr ',' '\n' | grep -qx root; then
	not_ok "f: root is a member of group daemon here: cannot check the supplementary drop"
else
	wrapped "$T/f2" ip netns exec "$NS" setpriv --groups=0,"$DAEMON_GID" "$WRAPX" -s "$ASOCK" \
		-p "$AGENT" "$PY" "$CHAN" "$ASOCK" "$DAEMON_GID"
	expect groups 0 "$T/f2" "f: root handed daemon as a supplementary group loses it, keeps 0"
fi

# --- g. options and the configuration --------------------------------------------------------

wrapped "$T/g" "$WRAPX" -h
if [ $RC -eq 0 ] && grep -q '^Exit status:' "$T/g" && grep -qF "126 if PROGRAM" "$T/g" &&
	grep -qF "127 if it was not found" "$T/g"; then
	ok "g: -h documents the exit statuses"
else
	not_ok "g: -h documents the exit statuses (exit $RC)"
	diag "$T/g"
fi
wrapped "$T/g2" "$WRAPX" -V
if [ $RC -eq 0 ] && grep -qE '^dyper-wrap [0-9]+\.[0-9]+\.[0-9]+ ' "$T/g2"; then
	ok "g: -V: $(cat "$T/g2")"
else
	not_ok "g: -V prints the version (exit $RC)"
	diag "$T/g2"
fi
# options after PROGRAM are PROGRAM's
# shellcheck disable=SC2016  # $0 and $1 are the inner shell's
wrapped "$T/g3" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK" sh -c 'echo "$0 $1"' -s -h
if [ $RC -eq 0 ] && grep -qx -- "-s -h" "$T/g3"; then
	ok "g: options after PROGRAM are PROGRAM's (it got \"$(cat "$T/g3")\")"
else
	not_ok "g: options after PROGRAM are PROGRAM's (exit $RC)"
	diag "$T/g3"
	diag "$T/g3.err"
fi
wrapped "$T/g4" "${AS_NOBODY[@]}" "$WRAPX" -c "$CONF" env
if [ $RC -eq 0 ] && grep -qE '^DYPER_CHANNEL_FD=[0-9]+$' "$T/g4"; then
	ok "g: -c FILE: agent_socket is taken from the configuration"
else
	not_ok "g: -c FILE: agent_socket is taken from the configuration (exit $RC)"
	diag "$T/g4.err"
fi
# a file only group daemon may read is not read with the wrapper's group
cp "$CONF" "$T/group.conf"
chgrp daemon "$T/group.conf"
chmod 640 "$T/group.conf"
wrapped "$T/g5" "${AS_NOBODY[@]}" "$WRAPX" -c "$T/group.conf" true
expect_fail "$T/g5" 1 "$T/group.conf: cannot open: Permission denied" \
	"g: -c FILE is read with the caller's groups, not the wrapper's"
# -p: root's alone (the agent runs inside PROGRAM and would ask in its name)
wrapped "$T/g6" "${AS_NOBODY[@]}" "$REALX" -s "$ASOCK" -p "$T/other.so" true
expect_fail "$T/g6" 1 "only root may choose the agent library (-p)" \
	"g: nobody naming an agent (-p) is refused by the real wrapper"
wrapped "$T/g6b" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK" -p "$AGENT" true
expect_fail "$T/g6b" 1 "only root may choose the agent library (-p)" \
	"g: ... even naming the wrapper's own agent"
wrapped "$T/g6c" ip netns exec "$NS" "$REALX" -s "$ASOCK" -p "$T/other.so" env
if [ $RC -eq 0 ] && grep -qxF "LD_PRELOAD=$T/other.so" "$T/g6c"; then
	ok "g: root may name another agent (-p): LD_PRELOAD=$T/other.so"
else
	not_ok "g: root may name another agent (-p) (exit $RC)"
	diag "$T/g6c.err"
fi
wrapped "$T/g7" ip netns exec "$NS" "$WRAPX" -s "$ASOCK" -p "libdyper-preload.so" true
expect_fail "$T/g7" 1 "expected an absolute path" "g: root's relative agent path is refused"
wrapped "$T/g8" ip netns exec "$NS" "$WRAPX" -s "$ASOCK" -p "$T" true
expect_fail "$T/g8" 1 "expected a regular file" "g: root's agent path that is a directory is refused"
wrapped "$T/g9" ip netns exec "$NS" "$WRAPX" -s "$ASOCK" -p "$T/absent.so" true
expect_fail "$T/g9" 1 "$T/absent.so: No such file or directory" "g: root's missing agent is refused"

# --- h. a dyperd that answers wrongly or not at all -----------------------------------------

# fake_run MODE OUT ARGS...: the fake dyperd on $T/fake.sock, then the
# wrapper as nobody with ARGS; RC its exit status, TOOK its time (ms).
TOOK=0
fake_run() {
	local mode=$1 out=$2 fpid t0

	shift 2
	rm -f "$T/fake.sock"
	"$PY" "$FAKE" "$T/fake.sock" "$mode" "$DAEMON_GID" >"$T/fake.out" 2>&1 &
	fpid=$!
	if ! poll 5000 0.02 grep -qx ready "$T/fake.out"; then
		not_ok "h: the fake dyperd ($mode) starts"
		diag "$T/fake.out"
	fi
	t0=$(now_ms)
	wrapped "$out" "${AS_NOBODY[@]}" "$WRAPX" -s "$T/fake.sock" "$@"
	TOOK=$(($(now_ms) - t0))
	wait_exit "$fpid" 3000 || kill -KILL "$fpid" 2>/dev/null
	wait "$fpid" 2>/dev/null
}

fake_run v2 "$T/h1" true
expect_fail "$T/h1" 1 "speaks agent protocol version 2, dyper-wrap" \
	"h: a dyperd speaking protocol version 2 is reported as such"
fake_run release "$T/h2" true
expect_fail "$T/h2" 0 "warning: dyperd 9.9.9 answers" \
	"h: another dyperd release with the same protocol: a warning, PROGRAM runs"
fake_run release "$T/h3" -q true
if [ $RC -eq 0 ] && [ ! -s "$T/h3.err" ]; then
	ok "h: ... and -q silences the warning"
else
	not_ok "h: ... and -q silences the warning (exit $RC)"
	diag "$T/h3.err"
fi
fake_run silent "$T/h4" true
if [ $RC -eq 1 ] && grep -qF "did not answer within 5 s" "$T/h4.err" && [ $TOOK -ge 4900 ] &&
	[ $TOOK -le 7000 ]; then
	ok "h: a dyperd that never answers: the wrapper gives up after $TOOK ms ($(head -n 1 "$T/h4.err"))"
else
	not_ok "h: a dyperd that never answers: exit 1 after about 5 s (exit $RC after $TOOK ms)"
	diag "$T/h4.err"
fi

# --- d. dyperd stopped ---------------------------------------------------------------------

sig TERM "$DPID"
wait_exit "$DPID" 5000 || not_ok "d: dyperd stops on SIGTERM"
wrapped "$T/d" "${AS_NOBODY[@]}" "$WRAPX" -s "$ASOCK" true
expect_fail "$T/d" 1 "dyperd is not running" "d: with dyperd stopped (its socket left behind)"
wrapped "$T/d2" "${AS_NOBODY[@]}" "$WRAPX" -s "$T/absent.sock" true
expect_fail "$T/d2" 1 "dyperd is not running: no agent socket at $T/absent.sock (systemctl start dyperd)" \
	"d: with no agent socket at all"

summary
