# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# sshd_lib.sh: Debian's own sshd for the border-mode tests (remote.sh,
# border.sh), started by the test in a namespace it made, with its own
# sshd_config and host key made at test time.  SOURCED after lib.sh, never
# run: it is not executable, so tests/check.sh leaves it alone.
#
# The site account is root (PermitRootLogin forced-commands-only: its keys
# can do nothing but their command).  sshd's StrictModes stays on: it
# refuses an authorized_keys under /tmp (world-writable), so that file
# lives in a root-only directory under /run ($SSHD_DIR).  /run/sshd (sshd's
# privilege-separation directory, which the ssh service would make) is made
# if missing.  sshd_cleanup removes both; call it from the test's trap.
#
#   sshd_setup            makes $SSHD_DIR (and /run/sshd)
#   sshd_host_key         $T/host_key(.pub), a new ed25519 host key
#   sshd_authorize PUB CMD  the only authorized key: PUB, forced to run CMD
#   sshd_config ADDR      $T/sshd_config listening on ADDR:22
#   sshd_start NS ADDR    runs it in NS (log $T/sshd.log), $SSHD_PID;
#                         1 if it does not listen within 5 s
#   sshd_stop             TERM, then KILL
#   sshd_sessions         the PIDs of sshd's per-connection processes (its
#                         children and theirs)

SSHD=/usr/sbin/sshd
SSHD_DIR=		# the root-only directory of authorized_keys
SSHD_PID=
sshd_made_privsep=

sshd_cleanup() {
	[ -n "$SSHD_DIR" ] && rm -rf "$SSHD_DIR"
	[ -n "$sshd_made_privsep" ] && rmdir /run/sshd 2>/dev/null
	return 0
}

sshd_setup() {
	[ -x "$SSHD" ] || { echo "$TEST_NAME.sh: $SSHD missing: sudo make deps" >&2; exit 2; }
	SSHD_DIR=$(mktemp -d /run/dyper-sshd-test.XXXXXX) || bail "mktemp in /run"
	if [ ! -d /run/sshd ]; then
		mkdir -m 0755 /run/sshd || bail "mkdir /run/sshd"
		sshd_made_privsep=1
	fi
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
AuthorizedKeysFile $SSHD_DIR/authorized_keys
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
	ip netns exec "$1" "$SSHD" -D -e -f "$T/sshd_config" >>"$T/sshd.log" 2>&1 </dev/null &
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
