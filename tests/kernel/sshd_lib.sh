# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# sshd_lib.sh: Debian's own sshd as a site's SSH server for a test, shared
# by remote.sh (dyper-remote before a stand-in site), site.sh (before the
# real one) and border.sh (a host's dyperd in border mode).  SOURCED after
# lib.sh, never run (not executable).
#
#	sshd_prepare			# $S, the /run sshd sees
#	sshd_write_config ADDR		# $T/host_key, $T/sshd_config (root, forced commands)
#	sshd_host_key [COMMENT]		# a new $T/host_key (the site's key changes)
#	sshd_authorize KEY.pub CMD	# one forced-command line in $S/authorized_keys
#	start_sshd NS ADDR / stop_sshd
#	sshd_sessions			# PIDs of sshd's per-connection processes
#
# The site account is root (PermitRootLogin forced-commands-only: its keys
# can do nothing but their command); sshd's host keys are made at test
# time.  sshd's StrictModes stays on, and sshd wants a root-owned /run/sshd
# (its privilege-separation directory): sshd runs in a mount namespace of
# its own where $S, a directory in the test's temp dir holding
# authorized_keys and sshd/, is mounted over /run.  So nothing outside the
# test is made or removed, and tests that run at the same time never pull
# /run/sshd from under each other's sshd.  sshd_cleanup is kept for the
# EXIT traps that call it: the temp dir goes with the test.

SSHD=/usr/sbin/sshd
S=			# /run as sshd sees it
SSHD_PID=

# need_sshd: exits 2 unless sshd and its tools are installed.
need_sshd() {
	PATH=$PATH:/usr/sbin:/sbin need_tools sshd ssh-keygen unshare
	[ -x "$SSHD" ] || { echo "$TEST_NAME.sh: $SSHD missing: sudo make deps" >&2; exit 2; }
}

sshd_prepare() {
	S=$T/sshd-run
	mkdir -m 0755 "$S" "$S/sshd" || bail "mkdir $S"
}

sshd_cleanup() {
	return 0
}

# sshd_host_key [COMMENT]: a new ed25519 host key in $T/host_key.
sshd_host_key() {
	rm -f "$T/host_key" "$T/host_key.pub"
	run ssh-keygen -q -t ed25519 -N '' -C "${1:-test host key}" -f "$T/host_key"
}

# sshd_write_config ADDR: a host key and a config listening on ADDR:22.
sshd_write_config() {
	sshd_host_key
	: >"$S/authorized_keys"
	chmod 600 "$S/authorized_keys"
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

# sshd_authorize KEY.pub COMMAND: the key may run COMMAND and nothing else.
sshd_authorize() {
	printf 'command="%s",restrict %s\n' "$2" "$(cat "$1")" >>"$S/authorized_keys"
}

# start_sshd NS ADDR: sshd in NS, log in $T/sshd.log; waits until ADDR:22 answers.
start_sshd() {
	# every step execs the next: $! is sshd's PID
	ip netns exec "$1" unshare -m --propagation private sh -c \
		'mount --bind "$1" /run && exec "$2" -D -e -f "$3"' sh \
		"$S" "$SSHD" "$T/sshd_config" >>"$T/sshd.log" 2>&1 </dev/null &
	SSHD_PID=$!
	started $SSHD_PID
	poll 5000 0.05 ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/22" 2>/dev/null
}

stop_sshd() {
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

# sshd_sessions: sshd's per-connection processes (its children and theirs).
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
