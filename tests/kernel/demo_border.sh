#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo_border.sh: `make demo-border` as a test.  Runs scripts/demo-border.sh
# (with this B) and checks that it exits 0 and shows what it claims: the
# download failing through the router without Dyper, the pinhole on the
# router for exactly the external host under delegate hostA (the site's
# list and the kernel's element comment), H's list saying "open at site",
# the downloads' sha256, none left; and that it leaves no namespace behind.
#
# Needs root (77 otherwise: skipped), sshd, vsftpd, curl and python3 (make
# deps).  Output: "ok - ..." / "not ok - ..." per check, then
# "demo_border: N passed, N failed"; exit 0 only if nothing failed.

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DEMO=$ROOT/scripts/demo-border.sh

need_root
need_bins "$DYPERD" "$DYPERCTL" "$WRAP" "$AGENT_SO" "$BDIR/bin/dyper-remote"
PATH=$PATH:/usr/sbin:/sbin need_tools sshd vsftpd curl python3 timeout

start_test
B=$BDIR timeout 180 "$DEMO" >"$T/demo" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
	ok "scripts/demo-border.sh exits 0"
else
	not_ok "scripts/demo-border.sh exits 0 (exit $rc)"
	diag "$T/demo" 30
fi

# expect DESC REGEX: the demo's output has a line matching REGEX
expect() {
	if grep -Eq -- "$2" "$T/demo"; then
		ok "$1"
	else
		not_ok "$1"
	fi
}
expect "without Dyper the download times out at the router" '^ +curl: \(28\) '
expect "the site's list shows hostA's pinhole from A to H" \
	'^ +1 +hostA +tcp +203\.0\.113\.10:\* +198\.51\.100\.10:[0-9]+ +[0-9]+s open$'
expect "the router's kernel element names the delegate" \
	'elements = \{ 203\.0\.113\.10 \. tcp \. 198\.51\.100\.10 \. [0-9]+ .*comment "dlg hostA '
expect "H's list shows it open at the site" ' vsftpd .* site: open at site$'
expect "the scripted download's sha256 matches" 'ok: the download went through R \(sha256 matches\)'
expect "curl's download's sha256 matches" "ok: and so does an ordinary client's"
expect "no pinhole left on the router" 'ok: none left on R after the downloads \(the site.s list and R.s kernel set\)'
# the set R's kernel shows after the downloads: its name, and no element
if sed -n '/and R.s kernel set has no element left/,/ok: none left/p' "$T/demo" |
	grep -q 'set pinholes4_any {' &&
	! sed -n '/and R.s kernel set has no element left/,/ok: none left/p' "$T/demo" |
	grep -q 'elements'; then
	ok "the router's kernel set shown empty after the downloads"
else
	not_ok "the router's kernel set shown empty after the downloads"
fi
pid=$(sed -n 's/.*dyper-demo-\([0-9]*\)-a .*/\1/p' "$T/demo" | head -n 1)
if [ -n "$pid" ] && ! ip netns list | grep -q "dyper-demo-$pid-"; then
	ok "no namespace left behind (dyper-demo-$pid-*)"
else
	not_ok "no namespace left behind (dyper-demo-${pid:-?}-*)"
fi
summary
