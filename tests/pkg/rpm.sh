#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rpm.sh: the RPM, built as `make rpm` builds it (rpmbuild -ba on the
# tarball of `make dist`, in a temp dir), then checked: the tarball holds
# exactly the tracked source; %check ran the unit tests; the package holds
# every expected path with its mode, owner, group and flags (config files
# %config(noreplace)) and nothing else; the files carry the install paths
# (the unit's ExecStart, the agent's path in dyper-wrap); the scriptlets
# create the user and group and handle the unit.
#
# Needs rpmbuild (Debian: apt-get install rpm; `make rpm` adds --nodeps
# there), not root.  Exit 77 (skipped) without rpmbuild.
# Output: "ok - ..." / "not ok - ..." per check, then "rpm: N passed,
# N failed"; exit 0 only if nothing failed.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/report.sh"
. "$ROOT/tests/pkg/files.sh"

for tool in rpmbuild rpm rpm2archive; do
	if ! command -v $tool >/dev/null; then
		echo "rpm.sh: SKIPPED, nothing was checked: $tool is missing" \
			"(apt-get install rpm, or dnf install rpm-build)" >&2
		exit 77
	fi
done

T=$(mktemp -d /tmp/dyper-rpm.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$ROOT" || exit 1
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
LIBDIR=$(rpm --eval '%{_libdir}')

# --- the build -----------------------------------------------------------------

if make --no-print-directory B="$T/b" V=1 rpm >"$T/build.log" 2>&1; then
	ok "make rpm builds the RPM from dyper-$VERSION.tar.gz"
else
	not_ok "make rpm builds the RPM"
	diag "$T/build.log" 30
	summary
	exit 1
fi
rpms=("$T"/b/rpm/RPMS/*/dyper-"$VERSION"-*.rpm)
srpms=("$T"/b/rpm/SRPMS/dyper-"$VERSION"-*.src.rpm)
RPM=${rpms[0]}
if [ ${#rpms[@]} -eq 1 ] && [ -f "$RPM" ] && [ -f "${srpms[0]}" ]; then
	ok "one binary RPM and the source RPM: ${RPM##*/}"
else
	not_ok "one binary RPM and the source RPM (found: ${rpms[*]} ${srpms[*]})"
	summary
	exit 1
fi
nv=$(rpm -qp --qf '%{NAME} %{VERSION}' "$RPM")
if [ "$nv" = "dyper $VERSION" ]; then
	ok "the package is dyper $VERSION, the Makefile's VERSION"
else
	not_ok "the package is dyper $VERSION, the Makefile's VERSION: $nv"
fi
if grep -Eq '^check: [1-9][0-9]* passed, 0 failed' "$T/build.log"; then
	ok "%check ran the unit tests: $(grep -E '^check: ' "$T/build.log" | tail -n 1)"
else
	not_ok "%check ran the unit tests"
	diag_s "$(grep -E '^(check|failed):' "$T/build.log")"
fi

# --- the tarball ------------------------------------------------------------------

tar -tzf "$T/b/dyper-$VERSION.tar.gz" | sed "s|^dyper-$VERSION/||" | sort >"$T/tarball"
junk='^(build[^/]*/|\.git/)|\.[od]$'
if grep -Eq "$junk" "$T/tarball"; then
	not_ok "the tarball holds no build directory, object or .git"
	diag_s "$(grep -E "$junk" "$T/tarball" | head -n 5)"
else
	ok "the tarball holds no build directory, object or .git ($(wc -l <"$T/tarball") files)"
fi
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$ROOT" ]; then
	git ls-files | while read -r f; do [ -e "$f" ] && echo "$f"; done | sort >"$T/tracked"
	if cmp -s "$T/tracked" "$T/tarball"; then
		ok "the tarball holds exactly the tracked files"
	else
		not_ok "the tarball holds exactly the tracked files"
		diag_s "$(diff "$T/tracked" "$T/tarball" | head -n 10)"
	fi
fi

# --- the file list ------------------------------------------------------------------

expected_files "$LIBDIR" | sort >"$T/want"
rpm_files "$RPM" | sort >"$T/got"
while read -r path perms user group flags; do
	got=$(awk -v p="$path" '$1 == p' "$T/got")
	if [ "$got" = "$path $perms $user $group $flags" ]; then
		ok "$path $perms $user:$group flags $flags"
	elif [ -z "$got" ]; then
		not_ok "$path is missing from the package"
	else
		not_ok "$path: want $perms $user $group $flags, got ${got#* }"
	fi
done <"$T/want"
extra=$(awk 'NR == FNR { want[$1] = 1; next } !($1 in want)' "$T/want" "$T/got")
if [ -z "$extra" ]; then
	ok "nothing else in the package (build-id links aside)"
else
	not_ok "unexpected paths in the package"
	diag_s "$extra"
fi

# --- contents --------------------------------------------------------------------------

mkdir "$T/root"
rpm2archive - <"$RPM" | tar -xzf - -C "$T/root" || not_ok "unpacking the payload"
unit=$T/root/usr/lib/systemd/system/dyperd.service
if grep -qx 'ExecStart=/usr/sbin/dyperd' "$unit" && ! grep -q '@[A-Z]*@' "$unit"; then
	ok "the unit's ExecStart is /usr/sbin/dyperd, no template left"
else
	not_ok "the unit's ExecStart is /usr/sbin/dyperd, no template left"
	diag_s "$(grep -E 'ExecStart|@' "$unit")"
fi
if grep -aqF "$LIBDIR/dyper/libdyper-preload.so" "$T/root/usr/bin/dyper-wrap"; then
	ok "dyper-wrap looks for the agent in $LIBDIR/dyper"
else
	not_ok "dyper-wrap looks for the agent in $LIBDIR/dyper"
	diag_s "$(grep -ao '/[a-z0-9/]*libdyper-preload.so' "$T/root/usr/bin/dyper-wrap")"
fi
for pair in conf/dyper.conf:etc/dyper/dyper.conf conf/policy:etc/dyper/policy \
	conf/dyper.sysusers:usr/lib/sysusers.d/dyper.conf \
	conf/dyper.tmpfiles:usr/lib/tmpfiles.d/dyper.conf; do
	if cmp -s "${pair%%:*}" "$T/root/${pair#*:}"; then
		ok "/${pair#*:} is ${pair%%:*}"
	else
		not_ok "/${pair#*:} is ${pair%%:*}"
	fi
done
url=$(rpm -qp --qf '%{URL}' "$RPM")
if [ -n "$url" ] && [ "$url" != "(none)" ]; then
	ok "the package names its URL: $url"
else
	not_ok "the package names its URL (dyper.spec's URL:)"
fi
if cmp -s LICENSE "$T/root/usr/share/licenses/dyper/LICENSE" &&
	grep -q 'GNU GENERAL PUBLIC LICENSE' LICENSE && grep -q 'Version 2, June 1991' LICENSE; then
	ok "LICENSE, the GPL version 2, is in the tree and the package (%license)"
else
	not_ok "LICENSE, the GPL version 2, is in the tree and the package (%license)"
fi
# the agent is private: preloaded by path, never a library others link
if rpm -qp --provides "$RPM" | grep -q 'libdyper'; then
	not_ok "the agent library is not among the package's Provides"
	diag_s "$(rpm -qp --provides "$RPM")"
else
	ok "the agent library is not among the package's Provides: $(rpm -qp --provides "$RPM" | tr '\n' ' ')"
fi
if rpm -qpR "$RPM" | grep -qi cmocka; then
	not_ok "no dependency on the test library (cmocka)"
else
	ok "no dependency on the test library (cmocka)"
fi

# --- scriptlets ----------------------------------------------------------------------------

scripts=$(rpm -qp --scripts "$RPM")
# scriptlet NAME: the body of one scriptlet, as rpm -q --scripts shows it
scriptlet() {
	awk -v n="$1" '/^[a-z]+ scriptlet/ { on = ($1 == n); next } on' <<<"$scripts"
}
if scriptlet preinstall | grep -Eq '^u dyper |useradd .*dyper'; then
	ok "%pre creates the user and group dyper (from dyper.sysusers)"
else
	not_ok "%pre creates the user and group dyper"
	diag_s "$scripts"
fi
if scriptlet preuninstall | grep -q 'dyperd --remove-table'; then
	ok "%preun removes Dyper's table on erase (dyperd --remove-table), once the unit is stopped"
else
	not_ok "%preun removes Dyper's table on erase (dyperd --remove-table)"
	diag_s "$(scriptlet preuninstall)"
fi
for s in postinstall preuninstall postuninstall; do
	if scriptlet $s | grep -q 'dyperd\.service'; then
		ok "the $s scriptlet handles dyperd.service"
	else
		not_ok "the $s scriptlet handles dyperd.service"
	fi
done

summary
