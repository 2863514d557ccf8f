# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# report.sh: results and waiting, shared by the shell tests.  SOURCED,
# never run.  ok/not_ok/check/skip count and print TAP-like lines; summary
# prints "NAME: N passed, N failed" (NAME: $TEST_NAME, the script's name
# unless set before sourcing) and fails if anything failed; bail gives up
# after a failed setup, showing $T/cmd and whatever bail_diag shows if the
# test defines it.

TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}


passed=0
failed=0

ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}

not_ok() {
	failed=$((failed + 1))
	echo "not ok - $*"
}

# skip DESC: neither passed nor failed.
skip() {
	echo "skip - $*"
}

# check DESC CMD...: ok if CMD succeeds.
check() {
	local desc=$1

	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
		return 1
	fi
}

# diag FILE [N]: a file's last N (20) lines as diagnostics under the last
# "not ok".
diag() {
	[ -s "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/#   /'
}

# diag_s STRING: a string's lines as diagnostics.
diag_s() {
	local line

	[ -n "$1" ] || return 1
	while IFS= read -r line; do
		echo "#   $line"
	done <<<"$1"
}

summary() {
	echo "$TEST_NAME: $passed passed, $failed failed"
	[ $failed -eq 0 ]
}

# bail DESC: setting up failed, nothing after it would mean anything.  Shows
# the last setup command's output, and whatever the test's bail_diag shows
# if it defines one.
bail() {
	not_ok "$*"
	[ -n "$T" ] && diag "$T/cmd" 50
	declare -F bail_diag >/dev/null && bail_diag
	summary
	exit 1
}

# --- time ---------------------------------------------------------------------------

now_ms() {
	local us=${EPOCHREALTIME/[.,]/}

	echo $((us / 1000))
}

# poll MAX_MS STEP_S CMD...: runs CMD until it succeeds; sets WAITED (ms).
WAITED=0
poll() {
	local max=$1 step=$2 t0

	shift 2
	t0=$(now_ms)
	while :; do
		if "$@"; then
			WAITED=$(($(now_ms) - t0))
			return 0
		fi
		WAITED=$(($(now_ms) - t0))
		[ $WAITED -ge "$max" ] && return 1
		sleep "$step"
	done
}
