# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# border_lib.sh: a host's dyperd in border mode, a wrapped vsftpd on it and
# the site controller, shared by border.sh (the site drives a Linux
# router) and border_devices.sh (the site drives stand-in devices).
# SOURCED after lib.sh, sshd_lib.sh and ftp.sh, never run (not executable).
#
# The caller sets, before calling these:
#   NS_H     the host's namespace; H4 its FTP address (vsftpd listens there)
#   SITE4    the site's sshd address (the host's [remote] host)
#   NS_SITE  the site's namespace; $T/site.conf the site's dyper.conf, whose
#            control_socket is $SCTL
#   LOGD PUB EMPTY OUT  (ftp.sh's directories), SUM (f.bin's sha256)
#   $T/policy, $T/hostA_key, $T/known_hosts
#
#	write_conf ON_UNREACHABLE [KEY]	# the host's $T/dyper.conf
#	start_dyperd / stop_dyperd / ctl ARG... / site_ready
#	start_vsftpd [WRAPPER...] / stop_vsftpd / wrapped
#	fetch NS NAME [CURL OPTION...] / expect_fetch DESC NS NAME [CURL OPTION...]
#	start_site / stop_site		# the site controller, its log $SLOG

ASOCK=$T/agent.sock
CSOCK=$T/control.sock
DLOG=$T/log/dyperd.log
SLOG=$T/log/site.log
SCTL=$T/site-run/control.sock

# write_conf ON_UNREACHABLE [KEY]: the host's dyper.conf, border mode to
# $SITE4 as root with KEY (default $T/hostA_key); REQUEST_TIMEOUT (3s) is
# the site's answer's budget.
write_conf() {
	cat >"$T/dyper.conf" <<EOF
[daemon]
user = nobody
group = daemon
agent_socket = $ASOCK
control_socket = $CSOCK
policy = $T/policy
log_level = debug
[enforcer]
tcp_ports = 21
[remote]
host = $SITE4
user = root
key = ${2:-$T/hostA_key}
known_hosts = $T/known_hosts
connect_timeout = 3s
request_timeout = ${REQUEST_TIMEOUT:-3s}
keepalive_interval = 2s
lease = 60s
on_unreachable = $1
EOF
	chmod 644 "$T/dyper.conf"
}

# ctl ARG...: dyperctl against the host's dyperd
ctl() {
	ip netns exec "$NS_H" "$DYPERCTL" -s "$CSOCK" "$@"
}

site_ready() {
	ctl stats 2>/dev/null | grep -q '^site  *ready: site "test-site"'
}

DPID=
start_dyperd() {
	ip netns exec "$NS_H" "$DYPERD" -c "$T/dyper.conf" -f >>"$DLOG" 2>&1 </dev/null &
	DPID=$!
	started $DPID
	poll 8000 0.05 ctl stats >/dev/null 2>&1
}

stop_dyperd() {
	sig TERM "$DPID"
	wait_exit "$DPID" 5000 || sig KILL "$DPID"
}

# start_vsftpd [WRAPPER...]: vsftpd on $H4:21 in NS_H, run through WRAPPER
VPID=
start_vsftpd() {
	vsftpd_conf "$T/vsftpd.conf" "$H4" 21 plain
	ip netns exec "$NS_H" "$@" vsftpd "$T/vsftpd.conf" >"$LOGD/vsftpd.out" 2>&1 </dev/null &
	VPID=$!
	started $VPID
	poll 5000 0.05 ip netns exec "$NS_H" bash -c "exec 3<>/dev/tcp/$H4/21" 2>/dev/null
}

stop_vsftpd() {
	sig TERM "$VPID"
	wait_exit "$VPID" 3000 || sig KILL "$VPID"
}

wrapped() {
	start_vsftpd "$WRAP" -s "$ASOCK" -p "$AGENT_SO"
}

# fetch NS NAME [CURL OPTION...]: curl's passive download of f.bin from H
fetch() {
	local ns=$1 name=$2

	shift 2
	ip netns exec "$ns" curl -sS --max-time 15 "$@" -o "$OUT/$name" "ftp://$H4/f.bin" \
		>"$LOGD/$name.curl" 2>&1
}

# expect_fetch DESC NS NAME [CURL OPTION...]: the download completes, same sha256
expect_fetch() {
	local desc=$1 got

	shift
	fetch "$@"
	got=$(sha256sum <"$OUT/$2" 2>/dev/null | cut -d' ' -f1)
	if [ "$got" = "$SUM" ]; then
		ok "$desc (sha256 matches)"
	else
		not_ok "$desc"
		diag "$LOGD/$2.curl"
	fi
}

# start_site: dyperd in site mode in NS_SITE with $T/site.conf; waits until
# it answers dyperctl.
SITE_PID=
start_site() {
	ip netns exec "$NS_SITE" "$DYPERD" -c "$T/site.conf" -f >>"$SLOG" 2>&1 </dev/null &
	SITE_PID=$!
	started $SITE_PID
	poll 10000 0.05 ip netns exec "$NS_SITE" "$DYPERCTL" -s "$SCTL" stats >/dev/null 2>&1
}

stop_site() {
	sig TERM "$SITE_PID"
	wait_exit "$SITE_PID" 10000 || sig KILL "$SITE_PID"
}
