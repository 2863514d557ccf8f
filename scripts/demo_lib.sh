# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# demo_lib.sh: how the demos tell their story (scripts/demo.sh, `make demo`;
# scripts/demo-border.sh, `make demo-border`): numbered steps, the commands
# as one would type them, their output indented, checks that pass or end
# the demo.  SOURCED after tests/kernel/lib.sh, never run.

if [ -t 1 ]; then
	C_HEAD=$'\e[1m' C_CMD=$'\e[36m' C_OK=$'\e[32m' C_BAD=$'\e[1;31m' C_OFF=$'\e[0m'
else
	C_HEAD='' C_CMD='' C_OK='' C_BAD='' C_OFF=''
fi

# --- telling the story ---------------------------------------------------------------

STEP=0

# step TITLE: a numbered heading (after Enter, with DEMO_PAUSE=1).
step() {
	STEP=$((STEP + 1))
	if [ "${DEMO_PAUSE:-0}" = 1 ] && [ -r /dev/tty ]; then
		read -r -p "[Enter: step $STEP] " _ </dev/tty || true
	fi
	echo
	echo "${C_HEAD}== $STEP. $*${C_OFF}"
}

# say LINE...: the explanation, one argument a line.
say() {
	printf '   %s\n' "$@"
}

# shown CMD...: CMD as one would type it: quoted where needed, without the
# repository's own path.
shown() {
	local a s=

	for a in "$@"; do
		[[ $a =~ ^[A-Za-z0-9_./:=@,+%-]+$ || $a = "&" ]] || a="'$a'"
		s+=" $a"
	done
	s=${s# }
	echo "${C_CMD}   + ${s//"$ROOT/"/}${C_OFF}"
}

# show CMD...: shows CMD, runs it, its output (kept in $T/out) indented;
# CMD's status.
show() {
	local rc=0

	shown "$@"
	"$@" >"$T/out" 2>&1 || rc=$?
	sed 's/^/       /' "$T/out"
	return $rc
}

# show_sh LINE: show for a shell pipeline.
show_sh() {
	local rc=0

	echo "${C_CMD}   + ${1//"$ROOT/"/}${C_OFF}"
	bash -c "$1" >"$T/out" 2>&1 || rc=$?
	sed 's/^/       /' "$T/out"
	return $rc
}

# good LINE...: a check that passed, one argument a line.
good() {
	echo "${C_OK}   ok: $1${C_OFF}"
	shift
	[ $# -eq 0 ] || printf "${C_OK}       %s${C_OFF}\n" "$@"
}

# fail WHAT [LOG]: the demo did not go as described: says so, shows LOG's
# end, and exits 1 (the cleanup still runs).
fail() {
	echo "${C_BAD}demo: FAILED: $1${C_OFF}" >&2
	if [ -n "${2:-}" ] && [ -s "$2" ]; then
		echo "demo: the end of $2:" >&2
		tail -n 20 "$2" | sed 's/^/       /' >&2
	fi
	exit 1
}

# bg NS LOG CMD...: shows and starts CMD inside NS in the background, output
# in LOG; BG is its pid, stopped by the cleanup.
BG=
bg() {
	local ns=$1 log=$2

	shift 2
	shown ip netns exec "$ns" "$@" "&"
	ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
	BG=$!
	started "$BG"
}

# demo_end RC NAME READING...: how a demo ends (from its EXIT trap, after
# the cleanup): checks that no namespace of this run is left, then says how
# it went and, when it went as described, what to read next (one READING a
# line).  Exits with RC (1 if a namespace was left).
demo_end() {
	local rc=$1 name=$2 left

	shift 2
	left=$(ip netns list 2>/dev/null | grep -F "dyper-demo-$$-")
	if [ -n "$left" ]; then
		echo "${C_BAD}$name: namespaces left behind: $left${C_OFF}" >&2
		rc=1
	else
		good "nothing left: ip netns list shows no dyper-demo-$$-* namespace"
	fi
	if [ "$rc" -eq 0 ]; then
		echo
		echo "${C_HEAD}Done.${C_OFF} To read next:"
		say "$@"
	elif [ "$rc" -eq 130 ] || [ "$rc" -eq 143 ] || [ "$rc" -eq 129 ]; then
		echo "$name: interrupted" >&2
	else
		echo "${C_BAD}$name: it did not go as described (exit $rc)${C_OFF}" >&2
	fi
	exit "$rc"
}
