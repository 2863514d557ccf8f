#!/bin/bash
# Runs Dyper's tests and prints one closing line: "check: N passed, N failed".
#   tests/check.sh unit|kernel|all
# Unit tests need nothing.  Kernel tests need root: each creates and removes its
# own network namespaces and never touches the host's firewall.  SKIP_KERNEL=1
# skips them and says so.  B is the build directory.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
what=${1:-all}
passed=0 failed=0 skipped=0
failures=()

# Runs one test program and adds up its results.  cmocka prints
# "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"; our shell tests
# print "NAME: N passed, N failed".
run() {
	local name=$1 out rc p f
	shift
	echo "== $name"
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p; s/^[a-z0-9-]*: \([0-9]*\) passed, [0-9]* failed.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p; s/^[a-z0-9-]*: [0-9]* passed, \([0-9]*\) failed.*/\1/p' | tail -n 1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -eq 77 ]; then
		echo "   (skipped: $name could not run here)"
		skipped=1
		return
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or failed before reporting
	fi
	passed=$((passed + p)) failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("$name")
}

if [ "$what" = unit ] || [ "$what" = all ]; then
	for t in "$B"/tests/unit/test_*; do
		[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
	done
	run "doc/man pages" tests/doc-check.sh
fi

if [ "$what" = kernel ] || [ "$what" = all ]; then
	if [ "${SKIP_KERNEL:-0}" = 1 ]; then
		echo "== kernel tests SKIPPED (SKIP_KERNEL=1): nothing was checked against the kernel"
		skipped=1
	elif [ "$(id -u)" != 0 ]; then
		echo "check: the kernel tests need root (they create network namespaces and nftables tables in them)." >&2
		echo "check: run 'sudo make check', or 'make check SKIP_KERNEL=1' to run only the unit tests." >&2
		exit 1
	elif ! unshare -n true 2>/dev/null; then
		echo "check: cannot create a network namespace here (unshare -n failed); kernel tests cannot run." >&2
		exit 1
	else
		for t in "$B"/tests/kernel/test_*; do
			[ -x "$t" ] && run "kernel/$(basename "$t")" "$t"
		done
		for t in tests/kernel/*.sh; do
			[ -x "$t" ] && run "kernel/$(basename "$t")" env B="$B" "$t"
		done
		# real applications (vsftpd, lftp, curl, tftp-hpa, iperf, pyftpdlib,
		# GridFTP) through dyper-wrap, and failing without it
		run "e2e/apps.sh" env B="$B" tests/e2e/apps.sh
	fi
fi

[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
[ "$skipped" = 0 ] || echo "note: some tests were skipped (see above)"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
