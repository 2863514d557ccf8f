#!/bin/sh
# Installs Dyper's build and test dependencies with the system's package
# manager.  Needs root.  Called by `make deps`, and by `make check`, `make bench`
# and `make demo`
# when pkg-config cannot find a library.
set -e
DEPS_DIR=${DEPS_DIR:-build/deps}
if [ "$(id -u)" != 0 ]; then
	echo "make deps: installing packages needs root: run 'sudo make deps'" >&2
	exit 1
fi
# The real applications of the end-to-end test (tests/e2e/apps.sh): it starts
# each server itself, inside its own network namespaces.
if command -v apt-get >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	echo "  DEPS    apt-get install (Debian/Ubuntu)"
	# vsftpd and tftpd-hpa would start their own services on the host: a
	# policy-rc.d that refuses every start, for this install only (unless
	# the machine has one already)
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# make deps: start no service while installing\nexit 101\n' \
			>/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	# openssh-server: tests/kernel/remote.sh runs Debian's sshd itself, in a
	# namespace, with its own config.  Its package enables ssh.service and
	# starts it: policy-rc.d stops the start now, and on a machine without
	# it before, /etc/ssh/sshd_not_to_be_run (Debian's own switch, checked
	# by ssh.service and /etc/init.d/ssh) keeps it from ever starting at
	# boot; to run an sshd on this machine later: rm /etc/ssh/sshd_not_to_be_run
	if ! dpkg-query -W -f '${Status}' openssh-server 2>/dev/null | grep -q 'ok installed'; then
		mkdir -p /etc/ssh
		printf '# make deps (Dyper): installed openssh-server for the tests only\n' \
			>/etc/ssh/sshd_not_to_be_run
		echo "  DEPS    openssh-server: its service stays off (/etc/ssh/sshd_not_to_be_run)"
	fi
	apt-get update -qq
	# rpm: rpmbuild, for tests/pkg/rpm.sh (on Debian the rpm package has it);
	# debootstrap and systemd-container (systemd-nspawn): tests/pkg/systemd.sh
	# boots a Debian root with Dyper installed, to run the unit under systemd
	apt-get install -y -qq --no-install-recommends rpm debootstrap systemd-container \
		build-essential pkg-config clang \
		libnftnl-dev libmnl-dev libcap-ng-dev libinih-dev libssh-dev libsystemd-dev libcmocka-dev \
		jq python3-prometheus-client \
		nftables iproute2 util-linux procps man-db groff-base python3 passwd valgrind \
		vsftpd lftp curl wget tftp-hpa tftpd-hpa iperf python3-pyftpdlib openssl \
		globus-gridftp-server-progs globus-gass-copy-progs sip-tester openssh-server \
		libcap2 libpam0g libsodium23 libssl3 >/dev/null
	# capirca (Google's ACL generator): tests/kernel/devices.sh checks the
	# IOS and JunOS lines the device drivers emit against its rendering
	apt-get install -y -qq --no-install-recommends python3-capirca >/dev/null || :
	# pure-ftpd cannot be installed beside vsftpd (both provide and conflict
	# with ftp-server: installing one removes the other): its package is
	# unpacked into $DEPS_DIR/pure-ftpd for tests/e2e/apps.sh, the
	# libraries it needs installed above
	if ! command -v pure-ftpd >/dev/null 2>&1 && [ ! -x "$DEPS_DIR/pure-ftpd/usr/sbin/pure-ftpd" ]; then
		d=$(mktemp -d)
		chown _apt "$d" 2>/dev/null || :	# apt downloads as _apt
		(cd "$d" && apt-get download -qq pure-ftpd >/dev/null)
		mkdir -p "$DEPS_DIR"
		dpkg-deb -x "$d"/pure-ftpd_*.deb "$DEPS_DIR/pure-ftpd"
		rm -rf "$d"
	fi
elif command -v dnf >/dev/null 2>&1; then
	echo "  DEPS    dnf install (Fedora/RHEL)"
	dnf install -y -q gcc make pkgconf-pkg-config clang \
		libnftnl-devel libmnl-devel libcap-ng-devel inih-devel libssh-devel systemd-devel \
		libcmocka-devel jq python3-prometheus_client \
		nftables iproute util-linux procps-ng man-db groff-base python3 valgrind \
		vsftpd lftp curl wget tftp tftp-server iperf python3-pyftpdlib openssl \
		globus-gridftp-server-progs globus-gass-copy-progs pure-ftpd shadow-utils sipp openssh-server
else
	echo "make deps: neither apt-get nor dnf found; install by hand:" >&2
	echo "  pkg-config, libnftnl, libmnl, libcap-ng, inih, libssh, libsystemd, cmocka (development files), jq, python3 prometheus_client, nftables, iproute2, valgrind (tests/kernel/valgrind.sh)" >&2
	echo "  and for tests/e2e: vsftpd, lftp, curl, wget, tftp-hpa (client and server), iperf 2, pyftpdlib, openssl, GridFTP (server, globus-url-copy), pure-ftpd, SIPp, OpenSSH's sshd" >&2
	exit 1
fi
