# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# devsim_lib.sh: tests/fixtures/devsim, the stand-in border devices, as
# named devices of a site (border_devices.sh).  SOURCED after lib.sh,
# never run (not executable).
#
#	devsim_keys				# the keys below, in $T
#	start_devsim NAME VENDOR NS ADDR [OPTION...]
#	stop_devsim NAME			# SIGTERM, by its PID
#	devsim_control NAME LINE...		# fault injection (devsim.c's --control)
#	devsim_entries NAME			# what it holds, normalized (below)
#	devsim_deny_last NAME			# the site's deny is still last
#	devsim_hw_current NAME			# IronWare: rebound since the last change
#
# Every devsim serves $DEVSIM_USER with $T/devsim_client_key (dyper's key)
# and shows $T/devsim_host_key, which $T/devsim_known_hosts pins for the
# address of each device started; its ACLs are DYPER_IN and DYPER_IN6 (on
# JunOS the filters, each ending with the term "deny").  NAME's files:
# $T/NAME.state (its ACLs, rewritten after every change), $T/NAME.cmds
# (every command line received), $T/NAME.log (its stderr).

DEVSIM=$BDIR/tests/fixtures/devsim
DEVSIM_USER=dyper
declare -A DEVSIM_PID=() DEVSIM_VENDOR=() DEVSIM_ADDR=()

devsim_keys() {
	run ssh-keygen -q -t ed25519 -N '' -C "devsim host key" -f "$T/devsim_host_key"
	run ssh-keygen -q -t ed25519 -N '' -C "the site's device key" -f "$T/devsim_client_key"
	chmod 600 "$T/devsim_client_key"
	: >"$T/devsim_known_hosts"
	chmod 644 "$T/devsim_known_hosts"
}

# start_devsim NAME VENDOR NS ADDR [OPTION...]: devsim for VENDOR in NS on
# ADDR:22 (ADDR is added to NS's lo if it is not there yet); waits until it
# listens.  A device started again (same NAME) starts from its site
# configuration alone: an empty ACL and the deny.
start_devsim() {
	local name=$1 v=$2 ns=$3 addr=$4

	shift 4
	if ! ip -n "$ns" addr show dev lo | grep -q " $addr/"; then
		run ip -n "$ns" addr add "$addr/32" dev lo
		echo "$addr $(cut -d' ' -f1,2 "$T/devsim_host_key.pub")" >>"$T/devsim_known_hosts"
	fi
	rm -f "$T/$name.ready" "$T/$name.control"
	ip netns exec "$ns" "$DEVSIM" --vendor "$v" --listen "$addr" \
		--host-key "$T/devsim_host_key" --user "$DEVSIM_USER" \
		--authorized-key "$T/devsim_client_key.pub" --acl DYPER_IN --acl6 DYPER_IN6 \
		--state "$T/$name.state" --control "$T/$name.control" --ready "$T/$name.ready" \
		--log "$T/$name.cmds" "$@" >>"$T/$name.log" 2>&1 </dev/null &
	DEVSIM_PID[$name]=$!
	DEVSIM_VENDOR[$name]=$v
	# shellcheck disable=SC2034 # for the scripts that source this
	DEVSIM_ADDR[$name]=$addr
	started "${DEVSIM_PID[$name]}"
	poll 5000 0.05 test -e "$T/$name.ready" || bail "devsim $name ($v) did not start"
}

stop_devsim() {
	local pid=${DEVSIM_PID[$1]}

	sig TERM "$pid"
	wait_exit "$pid" 5000 || sig KILL "$pid"
	wait_exit "$pid" 2000
}

# devsim_control NAME LINE...: hands devsim requests and waits until it took them.
devsim_control() {
	local name=$1

	shift
	printf '%s\n' "$@" >"$T/$name.control.tmp"
	mv "$T/$name.control.tmp" "$T/$name.control"
	poll 5000 0.02 test ! -e "$T/$name.control" || bail "devsim $name did not read its control file"
}

# devsim_entries NAME: the pinhole entries NAME holds, one per line, sorted:
# "PROTO REMOTE RPORT|* LOCAL LPORT", the same words as host_open_set's.
devsim_entries() {
	case ${DEVSIM_VENDOR[$1]} in
	junos)
		# "set firewall family F filter N term T from KEY VALUE" (JunOS'
		# display set); only the terms of ours (dyper-*)
		awk '$1 == "set" && $8 ~ /^dyper-/ && $9 == "from" {
			t = $4 " " $8
			if (!(t in seen)) { seen[t] = 1; order[n++] = t }
			v = $11
			sub("/[0-9]+$", "", v)
			if ($10 == "source-address") r[t] = v
			else if ($10 == "destination-address") l[t] = v
			else if ($10 == "protocol" || $10 == "next-header") p[t] = v
			else if ($10 == "source-port") rp[t] = v
			else if ($10 == "destination-port") lp[t] = v
		} END {
			for (i = 0; i < n; i++) {
				t = order[i]
				print p[t], r[t], (t in rp) ? rp[t] : "*", l[t], lp[t]
			}
		}' "$T/$1.state" ;;
	*)
		# "v4|v6 SEQ PACKETS permit PROTO host R [eq RP] host L eq LP [count]"
		awk '$4 == "permit" {
			rp = "*"
			i = 8
			if ($8 == "eq") { rp = $9; i = 10 }
			print $5, $7, rp, $(i + 1), $(i + 3)
		}' "$T/$1.state" ;;
	esac | sort
}

# devsim_deny_last NAME: the site's own deny is still the last entry of
# both ACLs (filters).
devsim_deny_last() {
	local f=$T/$1.state last4 last6

	if [ "${DEVSIM_VENDOR[$1]}" = junos ]; then
		last4=$(grep ' family inet filter ' "$f" | tail -n 1 | cut -d' ' -f8-)
		last6=$(grep ' family inet6 filter ' "$f" | tail -n 1 | cut -d' ' -f8-)
		[ "$last4|$last6" = "deny then discard|deny then discard" ]
	else
		last4=$(grep '^v4 ' "$f" | tail -n 1 | cut -d' ' -f4-)
		last6=$(grep '^v6 ' "$f" | tail -n 1 | cut -d' ' -f4-)
		[ "$last4|$last6" = "deny ip any any|deny ipv6 any any" ]
	fi
}

# devsim_hw_current NAME: an IronWare device's hardware has its ACLs as
# they are (rebound after the last change: "hardware v4|v6 current" in its
# state); true for the other vendors
devsim_hw_current() {
	[ "${DEVSIM_VENDOR[$1]}" != ironware ] ||
		{ grep -qx 'hardware v4 current' "$T/$1.state" &&
			grep -qx 'hardware v6 current' "$T/$1.state"; }
}
