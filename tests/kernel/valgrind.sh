#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# valgrind.sh: the enforcer's kernel tests (test_enforcer) under valgrind's
# memcheck.  They send every kind of netlink message nft/ builds (setup,
# packed and one-by-one batches, dumps, checks, flush, destroy), so a byte
# of a message left uninitialised ("Syscall param sendto(msg) points to
# uninitialised byte(s)": attribute padding libmnl before 1.0.5 does not
# write), a leak or an invalid access fails here.  test_enforcer makes its
# own network namespace (unshare) before it touches nftables.
#
# Needs root and valgrind (make deps installs it).  A build with
# SANITIZE=address cannot run under valgrind: then skipped (77).
# Output: "ok - ..." / "not ok - ...", then "valgrind: N passed, N failed".

set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TEST_ENFORCER=$BDIR/tests/kernel/test_enforcer

need_root
need_bins "$TEST_ENFORCER"
need_tools valgrind
if ldd "$TEST_ENFORCER" 2>/dev/null | grep -q 'libasan'; then
	echo "valgrind.sh: $TEST_ENFORCER is built with AddressSanitizer, which valgrind cannot run; skipped" >&2
	exit 77
fi
start_test

# Bounded: the tests take a few seconds under valgrind.
timeout 300 valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--child-silent-after-fork=yes -q "$TEST_ENFORCER" >"$T/out" 2>&1
rc=$?
nerr=$(grep -cE '^==[0-9]+== (Syscall param|Conditional jump|Use of uninitialised|Invalid (read|write|free)|[0-9,]+ bytes in [0-9,]+ blocks are definitely lost)' "$T/out")
if [ $rc -eq 0 ] && [ "$nerr" -eq 0 ]; then
	ok "test_enforcer under valgrind: no memcheck error ($(grep -E '^\[  PASSED  \]' "$T/out"))"
else
	not_ok "test_enforcer under valgrind: exit $rc, $nerr memcheck errors"
	grep -m3 -A8 -E '^==[0-9]+== (Syscall param|Conditional|Use of|Invalid|[0-9,]+ bytes)' "$T/out" |
		sed 's/^/#   /'
	diag "$T/out" 5
fi
if grep -qE '^\[  PASSED  \] [0-9]+ test' "$T/out" && ! grep -qE '^\[  FAILED  \]' "$T/out"; then
	ok "test_enforcer's own tests pass under valgrind"
else
	not_ok "test_enforcer's own tests pass under valgrind"
	diag "$T/out"
fi
summary
