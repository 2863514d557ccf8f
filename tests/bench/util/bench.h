/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the benchmarks in tests/bench/ share: time and statistics, the
 * PASS/FAIL lines of their targets, running helper programs, the fresh
 * network namespace they must run in, a dyperd of their own in a
 * temporary directory, and the agent protocol as an agent speaks it.  Messages go to stderr, prefixed with the
 * program's name.  Functions return 0 or -errno unless they say otherwise.
 */
#ifndef DYPER_BENCH_H
#define DYPER_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dyperd/proto.h"
#include "nft/enforcer.h"

#define NS			1000000000ull
#define MS			1000000ull

/* --- time, statistics, output -------------------------------------------- */

/* CLOCK_MONOTONIC, in ns. */
uint64_t bench_now_ns(void);

/* Sorts @v ascending. */
void bench_sort_u64(uint64_t *v, size_t n);

/* Median of @n values; sorts them.  NAN when there are none. */
double bench_median(double *v, size_t n);

/* Nearest-rank @p-th percentile of sorted @v (ns), in microseconds; NAN
 * when @n is 0. */
double bench_pct_us(const uint64_t *v, size_t n, double p);

/* @v rounded, digits grouped ("1,234,567") into @buf; negatives as 0,
 * NaN as "nan".  Returns @buf. */
const char *bench_grouped(double v, char *buf, size_t len);

/* "PROGRAM: message" on stderr.  Returns -EIO, for the callers that only
 * need to know that something failed. */
__attribute__((format(printf, 1, 2)))
int bench_fail(const char *fmt, ...);

/* "   [PASS] message" or "   [FAIL] message" on stdout; a FAIL is counted. */
__attribute__((format(printf, 2, 3)))
void bench_target(bool pass, const char *fmt, ...);

/* "   N target(s) missed": the FAILs so far. */
void bench_targets_missed(void);

/* --- processes ------------------------------------------------------------- */

/* SIGINT, SIGTERM and SIGHUP to @handler; SIGPIPE ignored. */
void bench_on_signals(void (*handler)(int));

/* The nft command: $NFT, or "nft" from PATH. */
const char *bench_nft_cmd(void);

/* Starts @file (searched in PATH) with @argv and @envp, stdout to
 * /dev/null if @quiet; *@pid is the child. */
int bench_spawn(pid_t *pid, const char *file, char *const argv[], char *const envp[],
		bool quiet);

/* Reaps @pid: 0 if it exited 0, -ECHILD if it failed, -errno if waitpid did. */
int bench_wait(pid_t pid);

/* --- the network namespace --------------------------------------------------- */

/* 0 if this looks like a fresh network namespace (not PID 1's, no
 * interface but lo); otherwise says why and returns -EPERM. */
int bench_check_netns(void);

/* Runs `ip ARG...` (NULL-terminated) with @envp; the ip command is looked
 * for in PATH, /usr/sbin and /sbin. */
__attribute__((sentinel))
int bench_ip(char *const envp[], const char *arg, ...);

/* Calls @cb for every pinhole in dyperd's table in the kernel (the
 * default table), as nft_enforcer_dump() does. */
int bench_kernel_dump(int (*cb)(const struct pinhole_entry *pe, void *arg), void *arg);

/* --- a dyperd of the benchmark's own ------------------------------------------ */

struct bench_dyperd {
	volatile pid_t pid;		/* -1: not running */
	char dir[64], conf[96], policy[96], agent[96], control[96], log[96];
};

#define BENCH_DYPERD_INIT	{ .pid = -1 }

/*
 * Makes a directory /tmp/PROGRAM.XXXXXX with a policy that allows
 * everything and a dyper.conf: the shipped defaults but for the paths in
 * it, user nobody, on_exit = flush, @log_level, no periodic reconcile
 * (1h), rate and burst 1000000, and the lines @enforcer and @limits (""
 * for none) in those sections.  bench_dyperd_remove() removes it all.
 */
int bench_dyperd_setup(struct bench_dyperd *d, const char *log_level, const char *enforcer,
		       const char *limits);

/* Starts @bin with @envp on that configuration, in the foreground, its
 * output in d->log; returns once the agent socket accepts a connection
 * (at most 10 s). */
int bench_dyperd_start(struct bench_dyperd *d, const char *bin, char *const envp[]);

/* A new channel: a connection to dyperd's agent socket.  The descriptor,
 * or -errno. */
int bench_dyperd_connect(const struct bench_dyperd *d);

/* SIGTERM (then what on_exit = flush does), SIGKILL if dyperd has not
 * exited 10 s later.  0 if dyperd exited 0 or was not running. */
int bench_dyperd_stop(struct bench_dyperd *d);

/* Removes what bench_dyperd_setup() made.  Async-signal-safe. */
void bench_dyperd_remove(struct bench_dyperd *d);

/* For a signal handler: SIGKILL to dyperd, then bench_dyperd_remove().
 * Async-signal-safe. */
void bench_dyperd_abort(struct bench_dyperd *d);

/* --- the agent protocol, as an agent speaks it ------------------------------ */

/* A TCP socket listening on @addr:@port (address in network order): what
 * a pinhole serves.  The descriptor, or -errno. */
int bench_listen_tcp(uint32_t addr, uint16_t port);

/* A TCP pinhole request from @remote:@rport to @local:@lport (addresses
 * in network order, ports in host order; @rport 0: any port). */
void bench_pinhole_req(struct dyper_pinhole_req *req, uint32_t remote, uint16_t rport,
		       uint32_t local, uint16_t lport);

/* Sends message @type with @payload on channel @ch, passing @sock with it
 * (SCM_RIGHTS) if it is >= 0; @flags for sendmsg(). */
int bench_send_msg(int ch, uint16_t type, uint32_t id, const void *payload, size_t plen,
		   int sock, int flags);

/* Reads one reply from @ch into *@id and *@rep; -EAGAIN with MSG_DONTWAIT
 * and nothing there, -ECONNRESET at end of file, -EBADMSG if what came is
 * not a reply. */
int bench_recv_reply(int ch, int flags, uint32_t *id, struct dyper_reply *rep);

#endif
