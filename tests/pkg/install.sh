#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# install.sh: `make install` and `make uninstall` into a temp DESTDIR with
# PREFIX=/usr and rpm's LIBDIR: the laid-out files are the package's (the
# RPM's own list when rpmbuild is here, else tests/pkg/files.sh's), with
# their modes; an installed config file the admin changed survives a second
# install and the uninstall, which removes everything else; the unit checks
# clean with systemd-analyze, with an exposure score of 2.0 or lower.
#
# Touches only its temp dir (DESTDIR), never /.  Needs no root.
# Output: "ok - ..." / "not ok - ..." per check, then "install: N passed,
# N failed"; exit 0 only if nothing failed.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/report.sh"
. "$ROOT/tests/pkg/files.sh"

MAX_EXPOSURE=2.0

T=$(mktemp -d /tmp/dyper-install.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$ROOT" || exit 1
D=$T/dest
LIBDIR=/usr/lib64
command -v rpm >/dev/null && LIBDIR=$(rpm --eval '%{_libdir}')
# the layout of dyper.spec
MAKE=(make --no-print-directory B="$T/b" DESTDIR="$D" PREFIX=/usr LIBDIR="$LIBDIR")

# laid_out: PATH PERMS of everything under $D but bare directories that
# hold no file of ours, sorted.
laid_out() {
	(cd "$D" && find . -mindepth 1 \( -type f -o -type d \) -printf '/%P %M\n') | sort
}

# --- install ---------------------------------------------------------------------

if "${MAKE[@]}" install >"$T/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr LIBDIR=$LIBDIR"
else
	not_ok "make install DESTDIR=... PREFIX=/usr LIBDIR=$LIBDIR"
	diag "$T/install.log"
	summary
	exit 1
fi
if grep -q 'dyper-wrap is not setgid dyper yet: .*chgrp dyper /usr/bin/dyper-wrap && chmod 2711' \
	"$T/install.log"; then
	ok "a DESTDIR install says what root must do for dyper-wrap's group"
else
	not_ok "a DESTDIR install says what root must do for dyper-wrap's group"
	diag "$T/install.log"
fi

# What the package holds (the RPM's list if one can be built), files only:
# PATH PERMS.  make install leaves dyper-wrap 0711 without group dyper, and
# does not make the ghost /run/dyper (tmpfiles.d and the unit do).
expected_files "$LIBDIR" >"$T/pkg"
src="tests/pkg/files.sh"
if command -v rpmbuild >/dev/null; then
	if "${MAKE[@]}" DESTDIR= rpm >"$T/rpm.log" 2>&1; then
		rpms=("$T"/b/rpm/RPMS/*/dyper-*.rpm)
		rpm_files "${rpms[0]}" >"$T/pkg"
		src="the RPM's file list"
	else
		not_ok "make rpm, for its file list (compared with tests/pkg/files.sh instead)"
		diag "$T/rpm.log"
	fi
fi
awk '$5 !~ /g/ { p = $2; if ($1 == "/usr/bin/dyper-wrap") p = "-rwx--x--x"; print $1, p }' \
	"$T/pkg" | sort >"$T/want"
# directories the package does not own are the parents make needs
awk '{ print $1 }' "$T/want" >"$T/want.paths"
laid_out | awk 'NR == FNR { own[$1] = 1; next } ($1 in own) || $2 !~ /^d/' "$T/want.paths" - \
	>"$T/got"
if cmp -s "$T/want" "$T/got"; then
	ok "the files and modes are those of $src ($(wc -l <"$T/got") paths)"
else
	not_ok "the files and modes are those of $src"
	diag_s "$(diff "$T/want" "$T/got" | head -n 20)"
fi
unit=$D/usr/lib/systemd/system/dyperd.service
if grep -qx 'ExecStart=/usr/sbin/dyperd' "$unit"; then
	ok "the unit starts /usr/sbin/dyperd"
else
	not_ok "the unit starts /usr/sbin/dyperd: $(grep ExecStart "$unit")"
fi

# --- the unit -----------------------------------------------------------------------

# unit_has LINE...: every LINE is a line of the unit
unit_has() {
	local l

	for l in "$@"; do
		grep -qxF -- "$l" "$unit" || return 1
	done
}
if unit_has 'ExecReload=+/usr/sbin/dyperctl reload' && ! grep -q 'kill -HUP' "$unit"; then
	ok "the unit reloads with dyperctl reload (as root: the control socket is root's), which returns the result"
else
	not_ok "the unit reloads with dyperctl reload, which returns the result"
	diag_s "$(grep ExecReload "$unit")"
fi
if unit_has 'Restart=on-failure'; then
	ok "the unit restarts dyperd when it fails (Restart=on-failure)"
else
	not_ok "the unit restarts dyperd when it fails (Restart=on-failure)"
fi
if unit_has 'Before=network-pre.target' 'Wants=network-pre.target' &&
	! grep -q '^Before=network\.target' "$unit"; then
	ok "the unit comes before network-pre.target and pulls it in"
else
	not_ok "the unit comes before network-pre.target and pulls it in"
	diag_s "$(grep -E '^(Before|Wants|After)=' "$unit")"
fi
if grep -q '^Documentation=.*man:dyperctl(8)' "$unit"; then
	ok "the unit's Documentation= lists dyperctl(8)"
else
	not_ok "the unit's Documentation= lists dyperctl(8)"
fi

if command -v systemd-analyze >/dev/null; then
	# verify needs ExecStart to exist: point it into DESTDIR
	mkdir "$T/unit"
	sed -E "s|^(Exec[A-Za-z]*=\+?)/usr/sbin/|\1$D/usr/sbin/|" "$unit" >"$T/unit/dyperd.service"
	out=$(systemd-analyze verify --man=no "$T/unit/dyperd.service" 2>&1)
	if [ $? -eq 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify: no error, no warning"
	else
		not_ok "systemd-analyze verify: no error, no warning"
		diag_s "$out"
	fi
	out=$(systemd-analyze security --offline=true --root="$D" dyperd.service 2>&1)
	score=$(sed -n 's/.*Overall exposure level for dyperd.service: \([0-9.]*\).*/\1/p' <<<"$out")
	if [ -n "$score" ] && awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
		ok "systemd-analyze security: exposure $score (at most $MAX_EXPOSURE)"
	else
		not_ok "systemd-analyze security: exposure ${score:-?} (at most $MAX_EXPOSURE)"
		diag_s "$(grep '✗' <<<"$out")"
	fi
else
	skip "systemd-analyze is missing: the unit was not checked"
fi

# --- config files: never overwritten, kept when changed --------------------------------

conf=$D/etc/dyper/dyper.conf
echo "# changed by the admin" >>"$conf"
cp "$conf" "$T/changed"
if "${MAKE[@]}" install >"$T/install2.log" 2>&1 && cmp -s "$conf" "$T/changed"; then
	ok "a second install keeps the changed dyper.conf"
else
	not_ok "a second install keeps the changed dyper.conf"
	diag "$T/install2.log"
fi
if grep -q "kept $conf" "$T/install2.log"; then
	ok "and says so"
else
	not_ok "and says so"
	diag "$T/install2.log"
fi

# --- uninstall -------------------------------------------------------------------------

if "${MAKE[@]}" uninstall >"$T/uninstall.log" 2>&1; then
	ok "make uninstall"
else
	not_ok "make uninstall"
	diag "$T/uninstall.log"
fi
left=$(cd "$D" && find . -mindepth 1 ! -type d -printf '/%P\n')
if [ "$left" = /etc/dyper/dyper.conf ] && cmp -s "$conf" "$T/changed"; then
	ok "uninstall removed every file but the changed dyper.conf"
else
	not_ok "uninstall removed every file but the changed dyper.conf"
	diag_s "$left"
fi
if grep -q "kept $conf" "$T/uninstall.log"; then
	ok "and says it kept it"
else
	not_ok "and says it kept it"
	diag "$T/uninstall.log"
fi
for dir in "$LIBDIR/dyper" /usr/share/doc/dyper /usr/share/licenses/dyper; do
	if [ ! -e "$D$dir" ]; then
		ok "uninstall removed $dir"
	else
		not_ok "uninstall removed $dir"
	fi
done
rm -f "$conf"
"${MAKE[@]}" uninstall >"$T/uninstall2.log" 2>&1
left=$(cd "$D" && find . -mindepth 1 ! -type d -printf '/%P\n')
if [ -z "$left" ] && [ ! -e "$D/etc/dyper" ]; then
	ok "once it is gone, uninstall leaves no file and removes /etc/dyper"
else
	not_ok "once it is gone, uninstall leaves no file and removes /etc/dyper"
	diag_s "$left"
fi

summary
