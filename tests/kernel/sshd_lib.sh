# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# sshd_lib.sh: Debian's own sshd for the border-mode tests (remote.sh,
# border.sh), started by the test in a namespace it made, with its own
# sshd_config and host key made at test time.  SOURCED after lib.sh, never
# run: it is not executable, so tests/check.sh leaves it alone.
#
# The site account is root (PermitRootLogin forced-commands-only: its keys
# can do nothing but their command).  sshd's StrictModes stays on, and it
# wants a root-owned /run/sshd (its privilege-separation directory): sshd
# runs in a mount namespace of its own where $SSHD_DIR (in the temp dir,
# holding authorized_keys and sshd/) is mounted over /run, so nothing
# outside the test is made or removed, and tests running at the same time
# never share it.
#
#   sshd_setup            makes $SSHD_DIR
#   sshd_host_key         $T/host_key(.pub), a new ed25519 host key
#   sshd_authorize PUB CMD  the only authorized key: PUB, forced to run CMD
#   sshd_config ADDR      $T/sshd_config listening on ADDR:22
#   sshd_start NS ADDR    runs it in NS (log $T/sshd.log), $SSHD_PID;
#                         1 if it does not listen within 5 s
#   sshd_stop             TERM, then KILL
#   sshd_sessions         the PIDs of sshd's per-connection processes (its
#                         children and theirs)

SSHD=/usr/sbin/sshd
SSHD_DIR=		# /run as sshd sees it
SSHD_PID=

sshd_setup() {
	[ -x "$SSHD" ] || { echo "$TEST_NAME.sh: $SSHD missing: sudo make deps" >&2; exit 2; }
	command -v unshare >/dev/null 2>&1 || { echo "$TEST_NAME.sh: unshare missing" >&2; exit 2; }
	SSHD_DIR=$T/sshd-run
	mkdir -m 0755 "$SSHD_DIR" "$SSHD_DIR/sshd" || bail "mkdir $SSHD_DIR"
}

sshd_host_key() {
	rm -f "$T/host_key" "$T/host_key.pub"
	run ssh-keygen -q -t ed25519 -N '' -C "${1:-test host key}" -f "$T/host_key"
}

sshd_authorize() {
	printf 'command="%s",restrict %s\n' "$2" "$(cat "$1")" >"$SSHD_DIR/authorized_keys"
	chmod 600 "$SSHD_DIR/authorized_keys"
}

sshd_config() {
	cat >"$T/sshd_config" <<EOC
ListenAddress $1
Port 22
HostKey $T/host_key
PidFile none
AuthorizedKeysFile /run/authorized_keys
AuthorizedPrincipalsFile none
AllowUsers root
PermitRootLogin forced-commands-only
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
PermitUserEnvironment no
LogLevel VERBOSE
EOC
}

sshd_start() {
	# every step execs the next: $! is sshd's PID
	ip netns exec "$1" unshare -m --propagation private sh -c \
		'mount --bind "$1" /run && exec "$2" -D -e -f "$3"' sh \
		"$SSHD_DIR" "$SSHD" "$T/sshd_config" >>"$T/sshd.log" 2>&1 </dev/null &
	SSHD_PID=$!
	started $SSHD_PID
	poll 5000 0.05 ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/22" 2>/dev/null
}

sshd_stop() {
	sig TERM "$SSHD_PID"
	wait_exit "$SSHD_PID" 3000 || sig KILL "$SSHD_PID"
}

# The children of PID $1.
sshd_children() {
	local p

	for p in /proc/[0-9]*; do
		[ "$(awk '{print $4}' "$p/stat" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
}

sshd_sessions() {
	local c g

	for c in $(sshd_children "$SSHD_PID"); do
		echo "$c"
		for g in $(sshd_children "$c"); do
			echo "$g"
			sshd_children "$g"
		done
	done
}
