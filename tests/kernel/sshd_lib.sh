# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# sshd_lib.sh: Debian's own sshd as a site's SSH server for a test, shared
# by remote.sh (dyper-remote before a stand-in site) and site.sh (before the
# real one).  SOURCED after lib.sh, never run (not executable).
#
#	sshd_prepare			# $S, /run/sshd; add sshd_cleanup to the EXIT trap
#	sshd_write_config ADDR		# $T/host_key, $T/sshd_config (root, forced commands)
#	sshd_authorize KEY.pub CMD	# one forced-command line in $S/authorized_keys
#	start_sshd NS ADDR / stop_sshd
#
# The site account is root (PermitRootLogin forced-commands-only: its keys
# can do nothing but their command); sshd's host keys are made at test
# time.  sshd's StrictModes stays on: it refuses an authorized_keys under
# /tmp (world-writable), so that file lives in a root-only directory $S
# under /run, removed by sshd_cleanup.  /run/sshd (sshd's privilege-
# separation directory, which the ssh service would make) is made if
# missing and then removed again.

SSHD=/usr/sbin/sshd
S=			# the root-only directory of authorized_keys
made_privsep=
SSHD_PID=

# need_sshd: exits 2 unless sshd and its tools are installed.
need_sshd() {
	PATH=$PATH:/usr/sbin:/sbin need_tools sshd ssh-keygen
	[ -x "$SSHD" ] || { echo "$TEST_NAME.sh: $SSHD missing: sudo make deps" >&2; exit 2; }
}

sshd_prepare() {
	S=$(mktemp -d "/run/dyper-$TEST_NAME-test.XXXXXX") || bail "mktemp in /run"
	if [ ! -d /run/sshd ]; then
		mkdir -m 0755 /run/sshd || bail "mkdir /run/sshd"
		made_privsep=1
	fi
}

sshd_cleanup() {
	[ -n "$S" ] && rm -rf "$S"
	[ -n "$made_privsep" ] && rmdir /run/sshd 2>/dev/null
}

# sshd_write_config ADDR: a host key and a config listening on ADDR:22.
sshd_write_config() {
	run ssh-keygen -q -t ed25519 -N '' -C "test host key" -f "$T/host_key"
	: >"$S/authorized_keys"
	chmod 600 "$S/authorized_keys"
	cat >"$T/sshd_config" <<EOC
ListenAddress $1
Port 22
HostKey $T/host_key
PidFile none
AuthorizedKeysFile $S/authorized_keys
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

# sshd_authorize KEY.pub COMMAND: the key may run COMMAND and nothing else.
sshd_authorize() {
	printf 'command="%s",restrict %s\n' "$2" "$(cat "$1")" >>"$S/authorized_keys"
}

# start_sshd NS ADDR: sshd in NS, log in $T/sshd.log; waits until ADDR:22 answers.
start_sshd() {
	ip netns exec "$1" "$SSHD" -D -e -f "$T/sshd_config" >>"$T/sshd.log" 2>&1 </dev/null &
	SSHD_PID=$!
	started $SSHD_PID
	poll 5000 0.05 ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/22" 2>/dev/null
}

stop_sshd() {
	sig TERM "$SSHD_PID"
	wait_exit "$SSHD_PID" 3000 || sig KILL "$SSHD_PID"
}
