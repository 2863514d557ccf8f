#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs each benchmark binary given as argument (default: the executable
# files in $B/tests/bench/, not its util/ folder: that is their shared code)
# in a network namespace of its own, made by `unshare -n` and gone when the
# benchmark exits: the benchmarks rewrite nftables, and the host's own
# firewall must never see that.  Each run is bounded by BENCH_TIMEOUT
# seconds (default 420).  Called by `make bench`; needs root.

B=${B:-build}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-420}

if [ "$(id -u)" != 0 ]; then
	echo "run-bench.sh: the benchmarks need root (network namespaces, nftables): run 'sudo make bench'" >&2
	exit 1
fi
for tool in unshare timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "run-bench.sh: '$tool' not found: install util-linux and coreutils" >&2
		exit 1
	fi
done
if [ $# -eq 0 ]; then
	for f in "$B"/tests/bench/*; do
		[ -f "$f" ] && [ -x "$f" ] && set -- "$@" "$f"
	done
fi

# The benchmarks find nft through NFT; an empty one makes them skip it.
if [ -z "${NFT+set}" ]; then
	NFT=$(command -v nft 2>/dev/null || { [ -x /usr/sbin/nft ] && echo /usr/sbin/nft; })
fi
export NFT
if [ -n "$NFT" ]; then
	echo "run-bench.sh: $("$NFT" --version 2>/dev/null || echo "$NFT: does not run")"
else
	echo "run-bench.sh: nft not found: the nft baselines will be skipped"
	NFT=/nonexistent/nft
fi

failed=0
for bench in "$@"; do
	if [ ! -f "$bench" ] || [ ! -x "$bench" ]; then
		echo "run-bench.sh: $bench: not an executable (run 'make bench')" >&2
		failed=1
		continue
	fi
	echo "run-bench.sh: $bench in a fresh network namespace (at most ${BENCH_TIMEOUT}s)"
	# unshare execs the benchmark: timeout signals it (and its nft children,
	# same process group) directly, and the namespace dies with it.
	timeout -k 10 "$BENCH_TIMEOUT" unshare -n -- "$bench"
	rc=$?
	case $rc in
	0) ;;
	124|137)
		echo "run-bench.sh: $bench: killed after ${BENCH_TIMEOUT}s (BENCH_TIMEOUT)" >&2
		failed=1 ;;
	*)
		echo "run-bench.sh: $bench: failed (exit $rc)" >&2
		failed=1 ;;
	esac
done
exit $failed
