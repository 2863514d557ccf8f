#!/bin/sh
# Installs Dyper's build and test dependencies with the system's package
# manager.  Needs root.  Called by `make deps`, and by `make check`/`make demo`
# when pkg-config cannot find a library.
set -e
if [ "$(id -u)" != 0 ]; then
	echo "make deps: installing packages needs root: run 'sudo make deps'" >&2
	exit 1
fi
if command -v apt-get >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	echo "  DEPS    apt-get install (Debian/Ubuntu)"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends \
		build-essential pkg-config clang \
		libnftnl-dev libmnl-dev libcap-ng-dev libinih-dev libssh-dev libcmocka-dev \
		nftables iproute2 util-linux procps man-db groff-base python3 >/dev/null
elif command -v dnf >/dev/null 2>&1; then
	echo "  DEPS    dnf install (Fedora/RHEL)"
	dnf install -y -q gcc make pkgconf-pkg-config clang \
		libnftnl-devel libmnl-devel libcap-ng-devel inih-devel libssh-devel libcmocka-devel \
		nftables iproute util-linux procps-ng man-db groff-base python3
else
	echo "make deps: neither apt-get nor dnf found; install by hand:" >&2
	echo "  pkg-config, libnftnl, libmnl, libcap-ng, inih, libssh, cmocka (development files), nftables, iproute2" >&2
	exit 1
fi
