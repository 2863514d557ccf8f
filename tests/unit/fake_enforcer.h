/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fake enforcer for the engine's unit tests (never installed): it holds
 * pinholes in memory, applies each job when it is submitted (in order, an
 * atomic batch applying all or nothing, like nftables), and completes it
 * when the test says so: at once, or held until fake_release(), oldest or
 * newest first.  Ops on one local port can be made to fail, the structure
 * can "vanish" (batches then fail with nothing to blame, or with an add
 * refused with ENOENT, as a deleted table does), and everything it was asked is counted.
 */
#ifndef DYPER_TESTS_FAKE_ENFORCER_H
#define DYPER_TESTS_FAKE_ENFORCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer_if.h"

#define FAKE_MAX_HELD 4096
#define FAKE_MAX_SIZES 256

struct fake_done;

struct fake_enforcer {
	/* knobs, set by the test at any time */
	bool hold;		/* completions wait for fake_release() */
	bool newest_first;	/* fake_release() completes the newest first */
	uint16_t fail_port;	/* ops on this local port fail with fail_err */
	int fail_err;
	bool gone;		/* the structure vanished: setup brings it back */
	bool gone_blames;	/* ... and, as nftables does, an add in a batch is
				 * refused with ENOENT (the table it names is gone) */
	bool stays_gone;	/* setup fails (-EPERM) and leaves it gone */
	bool changed;		/* a CHECK reports a foreign change, once */
	bool exclusive;
	bool counts;		/* a delete reports counters: packets = local port,
				 * bytes = 100 * that, as nftables' echo does */
	/* what it was asked */
	unsigned batches, setups, reads, checks, flushes, busy;
	size_t sizes[FAKE_MAX_SIZES];	/* ops per batch, in submission order */
	/* what it holds */
	struct pinhole held[FAKE_MAX_HELD];
	size_t n_held;
	/* internals */
	int efd;
	unsigned max_inflight, inflight;
	struct fake_done *done;	/* applied, not yet completed: oldest first */
	size_t n_done, cap_done;
};

/* An enforcer named @name over a new fake (*@fake stays valid until the
 * enforcer is freed).  0 or -errno. */
int fake_enforcer_new(struct enforcer **out, struct fake_enforcer **fake, const char *name,
		      size_t batch_pref, unsigned max_inflight);

/* Lets @n held completions through (all: SIZE_MAX); returns how many. */
size_t fake_release(struct fake_enforcer *f, size_t n);
/* Completions applied but not yet let through. */
size_t fake_held(const struct fake_enforcer *f);
/* Whether it holds a pinhole to @local_port. */
bool fake_holds(const struct fake_enforcer *f, uint16_t local_port);
/* Puts a pinhole there behind the engine's back (a leftover, a foreign one). */
void fake_put(struct fake_enforcer *f, const struct pinhole *ph);
/* Removes one behind the engine's back (someone deleted it). */
void fake_drop(struct fake_enforcer *f, uint16_t local_port);

#endif
