#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# deb.sh: the Debian package, built as `make deb` builds it (in a temp
# build dir), then checked against the RPM's layout (tests/pkg/files.sh
# with Debian's library directory): every path with its mode and nothing
# else, but for what Debian does its own way (dyper-wrap shipped 0711
# root:root and made 2711 root:dyper by a stat override in postinst, no
# ghost /run/dyper, /usr/share/doc/dyper/copyright); the two config files
# are conffiles; the files carry the install paths; the control fields
# (version, URL, library dependencies, no cmocka); the maintainer scripts
# do what the RPM's scriptlets do (user and group, the unit, the table
# removed on removal) and are valid sh.  tests/pkg/systemd.sh installs
# this package in a booted Debian root and exercises it.
#
# Needs dpkg-deb and dpkg-shlibdeps (dpkg-dev), not root.  Exit 77
# (skipped) without them.  Output: "ok - ..." / "not ok - ..." per check,
# then "deb: N passed, N failed"; exit 0 only if nothing failed.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/report.sh"
. "$ROOT/tests/pkg/files.sh"

for tool in dpkg-deb dpkg-shlibdeps dpkg; do
	if ! command -v $tool >/dev/null; then
		echo "deb.sh: SKIPPED, nothing was checked: $tool is missing (apt-get install dpkg-dev)" >&2
		exit 77
	fi
done

T=$(mktemp -d /tmp/dyper-deb.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$ROOT" || exit 1
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
LIBDIR=/usr/lib/$MULTIARCH

# --- the build -----------------------------------------------------------------

if make --no-print-directory B="$T/b" deb >"$T/build.log" 2>&1; then
	ok "make deb"
else
	not_ok "make deb"
	diag "$T/build.log" 30
	summary
	exit 1
fi
if [ -s "$T/build.log" ] && grep -qiv '^ *\(DEB\|CC\|LD\|AR\|GEN\) ' "$T/build.log"; then
	not_ok "make deb is quiet: nothing but its progress lines"
	diag "$T/build.log"
else
	ok "make deb is quiet: nothing but its progress lines"
fi
DEB=$T/b/deb/dyper_$VERSION-1_$ARCH.deb
if [ -f "$DEB" ]; then
	ok "the package: ${DEB##*/}"
else
	not_ok "the package: dyper_$VERSION-1_$ARCH.deb (found: $(ls "$T/b/deb"))"
	summary
	exit 1
fi
field() {
	dpkg-deb -f "$DEB" "$1"
}
rpm_url() {
	sed -n 's/^URL: *//p' dyper.spec
}
if [ "$(field Package) $(field Version) $(field Architecture)" = "dyper $VERSION-1 $ARCH" ]; then
	ok "dyper $VERSION-1 for $ARCH, the Makefile's VERSION"
else
	not_ok "dyper $VERSION-1 for $ARCH: $(field Package) $(field Version) $(field Architecture)"
fi
if [ "$(field Homepage)" = "$(rpm_url)" ] && [ -n "$(field Homepage)" ]; then
	ok "its Homepage is the RPM's URL: $(field Homepage)"
else
	not_ok "its Homepage is the RPM's URL: \"$(field Homepage)\" vs \"$(rpm_url)\""
fi
deps=$(field Depends)
if grep -q 'libnftnl11' <<<"$deps" && grep -q 'libmnl0' <<<"$deps" && grep -q 'libinih1' <<<"$deps" &&
	grep -q 'libcap-ng0' <<<"$deps" && ! grep -qi cmocka <<<"$deps"; then
	ok "it depends on the libraries it links, not on cmocka: $deps"
else
	not_ok "it depends on the libraries it links, not on cmocka: $deps"
fi

# --- the file list ------------------------------------------------------------------

# the RPM's list, as Debian lays it out
expected_files "$LIBDIR" | awk '
	$5 ~ /g/ { next }			# no ghost: the unit and tmpfiles.d make /run/dyper
	$1 == "/usr/bin/dyper-wrap" { $2 = "-rwx--x--x"; $4 = "root" }	# postinst: statoverride
	$1 ~ /^\/usr\/share\/man\// { $1 = $1 ".gz" }
	{ print $1, $2, $3, $4 }
	END { print "/usr/share/doc/dyper/copyright -rw-r--r-- root root" }' | sort >"$T/want"
dpkg-deb -c "$DEB" | awk '{ split($2, o, "/"); p = $6; sub(/^\./, "", p); sub(/\/$/, "", p);
	if (p != "") print p, $1, o[1], o[2] }' | sort >"$T/all"
# directories the package does not own alone (/usr, /usr/bin, ...) are dpkg's
awk 'NR == FNR { own[$1] = 1; next } ($1 in own) || $2 !~ /^d/' "$T/want" "$T/all" >"$T/got"
if cmp -s "$T/want" "$T/got"; then
	ok "the files and modes are the RPM's (tests/pkg/files.sh), Debian's way ($(wc -l <"$T/got") paths)"
else
	not_ok "the files and modes are the RPM's (tests/pkg/files.sh), Debian's way"
	diag_s "$(diff "$T/want" "$T/got" | head -n 20)"
fi
dpkg-deb --ctrl-tarfile "$DEB" | tar -xf - -C "$T" ./conffiles ./postinst ./prerm ./postrm 2>/dev/null
if [ "$(cat "$T/conffiles" 2>/dev/null)" = \
	"$(printf '/etc/dyper/dyper.conf\n/etc/dyper/policy\n/etc/logrotate.d/dyper')" ]; then
	ok "dyper.conf, policy and the logrotate snippet are conffiles (kept when changed, as %config(noreplace))"
else
	not_ok "dyper.conf, policy and the logrotate snippet are conffiles"
	diag "$T/conffiles"
fi

# --- contents --------------------------------------------------------------------------

mkdir "$T/root"
dpkg-deb -x "$DEB" "$T/root"
if grep -qx 'ExecStart=/usr/sbin/dyperd' "$T/root/usr/lib/systemd/system/dyperd.service" &&
	! grep -q '@[A-Z]*@' "$T/root/usr/lib/systemd/system/dyperd.service"; then
	ok "the unit's ExecStart is /usr/sbin/dyperd, no template left"
else
	not_ok "the unit's ExecStart is /usr/sbin/dyperd, no template left"
fi
if grep -aqF "$LIBDIR/dyper/libdyper-preload.so" "$T/root/usr/bin/dyper-wrap"; then
	ok "dyper-wrap looks for the agent in $LIBDIR/dyper"
else
	not_ok "dyper-wrap looks for the agent in $LIBDIR/dyper"
fi
for pair in conf/dyper.conf:etc/dyper/dyper.conf conf/policy:etc/dyper/policy \
	conf/dyper.sysusers:usr/lib/sysusers.d/dyper.conf \
	conf/dyper.tmpfiles:usr/lib/tmpfiles.d/dyper.conf LICENSE:usr/share/licenses/dyper/LICENSE; do
	if cmp -s "${pair%%:*}" "$T/root/${pair#*:}"; then
		ok "/${pair#*:} is ${pair%%:*}"
	else
		not_ok "/${pair#*:} is ${pair%%:*}"
	fi
done

# --- maintainer scripts -------------------------------------------------------------------

for s in postinst prerm postrm; do
	if [ -x "$T/$s" ] && sh -n "$T/$s"; then
		ok "$s is an executable, valid sh script"
	else
		not_ok "$s is an executable, valid sh script"
	fi
done
if grep -q 'systemd-sysusers /usr/lib/sysusers.d/dyper.conf' "$T/postinst" &&
	grep -q 'adduser --system' "$T/postinst"; then
	ok "postinst creates the user and group dyper (sysusers.d, else adduser), as %pre"
else
	not_ok "postinst creates the user and group dyper, as %pre"
fi
if grep -q 'dpkg-statoverride --update --add root dyper 2711 /usr/bin/dyper-wrap' "$T/postinst"; then
	ok "postinst makes dyper-wrap 2711 root:dyper (dpkg-statoverride), as %attr"
else
	not_ok "postinst makes dyper-wrap 2711 root:dyper (dpkg-statoverride), as %attr"
fi
if grep -q 'preset dyperd.service' "$T/postinst" && grep -q 'try-restart dyperd.service' "$T/postinst"; then
	ok "postinst presets the unit on a first install, restarts it on an upgrade, as %post/%postun"
else
	not_ok "postinst presets the unit on a first install, restarts it on an upgrade"
fi
if grep -q 'disable dyperd.service' "$T/prerm" && grep -q 'stop dyperd.service' "$T/prerm" &&
	grep -q '/usr/sbin/dyperd --remove-table' "$T/prerm"; then
	ok "prerm disables and stops the unit and removes the table, as %preun"
else
	not_ok "prerm disables and stops the unit and removes the table, as %preun"
fi

summary
