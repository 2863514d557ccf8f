# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# files.sh: what the package holds, shared by rpm.sh and install.sh.
# SOURCED, never run (not executable).  Needs $ROOT, the repository.

# expected_files LIBDIR: every path of the RPM (dyper.spec), one a line,
#   PATH PERMS USER GROUP FLAGS
# PERMS as ls shows them, FLAGS rpm's fflags (c config, n noreplace, g
# ghost, d documentation, l license; "-" none).  `make install PREFIX=/usr
# LIBDIR=LIBDIR` lays out the same paths except the ghost, and dyper-wrap
# without group dyper (0711, see the Makefile).  The RPM may compress the
# man pages (PATH.gz).
expected_files() {
	local libdir=$1 m s

	cat <<EOF
/etc/dyper drwxr-xr-x root root -
/etc/dyper/dyper.conf -rw-r--r-- root root cn
/etc/dyper/policy -rw-r--r-- root root cn
/etc/logrotate.d/dyper -rw-r--r-- root root cn
/run/dyper drwxr-xr-x dyper dyper g
/usr/bin/dyper-remote -rwxr-xr-x root root -
/usr/bin/dyper-wrap -rwx--s--x root dyper -
$libdir/dyper drwxr-xr-x root root -
$libdir/dyper/libdyper-preload.so -rwxr-xr-x root root -
/usr/lib/systemd/system/dyperd.service -rw-r--r-- root root -
/usr/lib/sysusers.d/dyper.conf -rw-r--r-- root root -
/usr/lib/tmpfiles.d/dyper.conf -rw-r--r-- root root -
/usr/sbin/dyperctl -rwxr-xr-x root root -
/usr/sbin/dyperd -rwxr-xr-x root root -
/usr/share/doc/dyper/README.md -rw-r--r-- root root d
/usr/share/licenses/dyper/LICENSE -rw-r--r-- root root l
EOF
	for m in "$ROOT"/doc/*.[1578]; do
		s=${m##*.}
		echo "/usr/share/man/man$s/${m##*/} -rw-r--r-- root root d"
	done
}

# rpm_files RPM: the same five fields for the package file RPM, man pages
# without .gz, build-id links left out (rpmbuild adds them).
rpm_files() {
	rpm -qp --qf '[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]' "$1" |
		awk '$1 !~ /^\/usr\/lib\/\.build-id(\/|$)/ { if (NF == 4) $5 = "-"; print }' |
		sed -E 's|^(/usr/share/man/[^ ]*)\.gz |\1 |'
}
