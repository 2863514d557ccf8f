#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build.sh: what plain `make` needs.  With a pkg-config that hides one
# library at a time: a missing test library (cmocka) does not keep `make`
# from building, and `make` never runs the dependency installer
# (scripts/deps.sh); a missing build library (libnftnl) stops `make` at
# once with its name and how to get it, again without the installer;
# `make check` and `make bench` still install their own tools.
#
# Runs make as nobody (uid 65534) when root, so that even a Makefile that
# wrongly calls the installer cannot install anything; into a temp build
# dir, never into the tree.  Needs no network.
# Output: "ok - ..." / "not ok - ..." per check, then "build: N passed,
# N failed"; exit 0 only if nothing failed.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/report.sh"

T=$(mktemp -d /tmp/dyper-build.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
REAL_PC=$(command -v pkg-config) || { echo "build.sh: pkg-config is missing" >&2; exit 77; }

# pkg-config that reports the packages in $HIDE as missing
cat >"$T/pkg-config" <<EOF
#!/bin/sh
for a; do
	for h in \$HIDE; do [ "\$a" = "\$h" ] && exit 1; done
done
exec $REAL_PC "\$@"
EOF
chmod 755 "$T/pkg-config"
mkdir -m 777 "$T/b"

# mk HIDE ARGS...: make in the tree with HIDE missing, as nobody if root
mk() {
	local hide=$1
	shift
	local cmd=(env HIDE="$hide" HOME="$T" make --no-print-directory -C "$ROOT" B="$T/b"
		   PKG_CONFIG="$T/pkg-config" "$@")
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "${cmd[@]}"
	else
		"${cmd[@]}"
	fi
}

# --- a test library missing: make builds, installs nothing ------------------------

# -n: recipes are printed, only those that run make are run (so a call of
# the installer through `$(MAKE) deps` shows up as its command line)
mk cmocka -n all >"$T/all-n.log" 2>&1
rc=$?
if [ $rc = 0 ] && ! grep -q 'deps\.sh' "$T/all-n.log" && grep -q 'dyperd' "$T/all-n.log"; then
	ok "without cmocka, make plans the build and not the installer (scripts/deps.sh)"
else
	not_ok "without cmocka, make plans the build and not the installer (exit $rc)"
	diag "$T/all-n.log"
fi
if mk "cmocka" -n check >"$T/check-n.log" 2>&1; grep -q 'deps\.sh' "$T/check-n.log"; then
	ok "make check installs the missing test library itself (scripts/deps.sh)"
else
	not_ok "make check installs the missing test library itself (scripts/deps.sh)"
	diag "$T/check-n.log"
fi
if mk "cmocka" -n bench >"$T/bench-n.log" 2>&1; grep -q 'deps\.sh' "$T/bench-n.log"; then
	ok "make bench installs the missing test tools itself (scripts/deps.sh)"
else
	not_ok "make bench installs the missing test tools itself (scripts/deps.sh)"
	diag "$T/bench-n.log"
fi

# --- a build library missing: make says which, installs nothing -------------------

mk "libnftnl" all >"$T/all.log" 2>&1
rc=$?
if [ $rc != 0 ] && grep -q 'missing: libnftnl' "$T/all.log" && grep -q 'libnftnl-dev' "$T/all.log" &&
	! grep -q 'installing packages\|DEPS' "$T/all.log"; then
	ok "without libnftnl, make fails at once naming it and its package: $(head -n 1 "$T/all.log")"
else
	not_ok "without libnftnl, make fails at once naming it, without the installer (exit $rc)"
	diag "$T/all.log"
fi
if [ -z "$(find "$T/b" -name '*.o' | head -n 1)" ]; then
	ok "and compiles nothing"
else
	not_ok "and compiles nothing"
fi

summary
