#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# doc-check.sh: every man page in doc/ must render without a single warning.
#
#   tests/doc-check.sh [PAGE...]      (default: doc/*.[1-8])
#
# Each page is rendered twice, and each must print nothing on stderr and
# succeed:
#   LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l PAGE
#   groff -man -ww -z PAGE
# A page passes when both are clean; the warnings of a failing page are shown.
# The last line is "doc: N passed, N failed"; exit 0 only if nothing failed.
# Without a working man (man-db) or groff (groff-base) nothing is checked:
# the script says so and exits 77 (skipped), after "doc: 0 passed, 0 failed".

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
passed=0
failed=0

summary() {
	echo "doc: $passed passed, $failed failed"
}

skip() {
	echo "doc-check: SKIPPED, nothing was checked: $*" >&2
	echo "doc-check: install them with: apt-get install man-db groff-base" \
		"(or dnf install man-db groff-base)" >&2
	summary
	exit 77
}

# Prints only what man writes on stderr (the page itself is discarded).
render_man() {
	{ LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$1" >/dev/null; } 2>&1
}

render_groff() {
	groff -man -ww -z "$1" 2>&1
}

# The tools must exist and work: some minimal systems ship a stub "man"
# that only explains how to install the real one.
command -v man >/dev/null 2>&1 || skip "man is not installed"
command -v groff >/dev/null 2>&1 || skip "groff is not installed"
probe_dir=$(mktemp -d) || { echo "doc-check: mktemp failed" >&2; exit 1; }
trap 'rm -rf "$probe_dir"' EXIT
printf '.TH PROBE 1\n.SH NAME\nprobe \\- a page\n' >"$probe_dir/probe.1"
if ! out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l \
	"$probe_dir/probe.1" 2>&1) || [[ $out != *probe* ]]; then
	skip "man does not render pages here (${out:0:120})"
fi
if ! out=$(groff -man -ww -z "$probe_dir/probe.1" 2>&1) || [ -n "$out" ]; then
	skip "groff does not render pages here (${out:0:120})"
fi

if [ $# -gt 0 ]; then
	pages=("$@")
else
	shopt -s nullglob
	pages=("$ROOT"/doc/*.[1-8])
	shopt -u nullglob
fi
if [ ${#pages[@]} -eq 0 ]; then
	echo "doc-check: no man pages found in $ROOT/doc" >&2
	failed=1
	summary
	exit 1
fi

for page in "${pages[@]}"; do
	name=${page#"$ROOT"/}
	ok=1
	if [ ! -r "$page" ]; then
		echo "not ok - $name: cannot read it"
		failed=$((failed + 1))
		continue
	fi
	out=$(render_man "$page")
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		ok=0
		echo "not ok - $name: man --warnings (exit $rc):"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
	out=$(render_groff "$page")
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		ok=0
		echo "not ok - $name: groff -ww (exit $rc):"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
	if [ $ok -eq 1 ]; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done

summary
[ "$failed" -eq 0 ]
