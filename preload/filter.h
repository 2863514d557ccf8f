/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * filter.h: the seccomp filters the application installed on itself, as
 * the agent sees them (preload/filter.c).  A program that sandboxes itself
 * (vsftpd's seccomp_sandbox) may be killed by any system call its filter
 * does not list; the agent keeps a copy of every filter the process
 * installs through prctl() and asks it before each call of its own.
 */
#ifndef DYPER_PRELOAD_FILTER_H
#define DYPER_PRELOAD_FILTER_H

#include <stdbool.h>
#include <stdint.h>

struct sock_fprog;

/* Keeps a copy of a filter about to be installed.  Returns 0, or -E2BIG
 * when it is longer than the kernel allows or the table is full (the
 * caller must then assume that nothing is allowed). */
int filter_record(const struct sock_fprog *prog);

/* Forgets the last filter recorded (its installation failed). */
void filter_unrecord(void);

/* Does this process run under a filter it installed itself?  (A filter
 * inherited across exec is not seen: filter_allows() then errs on the side
 * of calling, as the agent always did.) */
bool filter_active(void);

/* Would every recorded filter let system call @nr with @args through?
 * True without filters; false for an architecture whose seccomp_data the
 * agent cannot build, and for a filter it cannot run. */
bool filter_allows(long nr, const uint64_t args[6]);

/* Runs one classic BPF program on a seccomp_data; the action it returns
 * (SECCOMP_RET_*), or SECCOMP_RET_KILL_PROCESS for a program it cannot
 * run.  Exposed for the unit test. */
uint32_t filter_run(const struct sock_fprog *prog, long nr, uint32_t arch,
		    const uint64_t args[6]);

#endif
