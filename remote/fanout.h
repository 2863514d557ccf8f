/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * remote/fanout — several enforcers as one (nft/enforcer_if.h): the site
 * controller's border devices (remote/device.h), and the Linux router's
 * table if the site also drives it.  Each pinhole goes to every member
 * whose guards cover its internal (local) address, concurrently, each
 * member fed at its own batch size from its own queue.
 *
 * What the fan-out wants is the set of pinholes the controller asked for
 * (its adds minus its deletes, from the moment they are submitted), and it
 * converges every member to that set:
 *
 *   up      the member takes every op for its addresses; an op completes
 *           when every up member applied it (EEXIST of an add and ENOENT of
 *           a delete count as applied).
 *   behind  up, but its oldest batch has waited longer than its lag: ops
 *           that another member already applied no longer wait for it (it
 *           still applies them, in order); it is up again when it drains.
 *   down    a job failed as a whole (the device could not be reached or its
 *           session died): it gets no ops, ops stop waiting for it, and it
 *           is retried with backoff (SETUP, then READ); on its return what
 *           it holds is converged to the wanted set (missing entries added,
 *           others deleted) before the next op reaches it: its backlog.
 *
 * An op's error is a member's refusal (-EREMOTEIO, -ENFILE, ...); an add
 * refused by one member is taken back from those that applied it.  An op
 * no up member covers fails with -EHOSTUNREACH (-ECANCELED if the members
 * it was sent to all went down meanwhile, so that it is tried again).
 *
 * READ reports each pinhole once (the members' packet counts summed); an
 * entry only members that cannot record owners hold (a device ACL) comes
 * with owner_unrecorded set.  Every member's own read-back also converges
 * that member, so the controller's periodic read-back is the paper's
 * counter audit and a repair.  CHECK, SETUP and FLUSH go to every up
 * member (SETUP succeeds if one member did; the others are down and
 * retried); RECONFIG only to the router.
 */
#ifndef DYPER_REMOTE_FANOUT_H
#define DYPER_REMOTE_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer_if.h"

#define FANOUT_MAX_MEMBERS	32
#define FANOUT_LAG_MS		5000	/* default lag */
#define FANOUT_RETRY_MIN_MS	1000	/* backoff of a down member's retries */
#define FANOUT_RETRY_MAX_MS	60000
#define FANOUT_MAX_INFLIGHT	64	/* the controller's batches in flight */

/* An internal network a member enforces for; host bits zero. */
struct fanout_prefix {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t len;
	union pinhole_addr addr;
};

struct fanout_member {
	struct enforcer *e;		/* taken over by fanout_new() */
	const struct fanout_prefix *guards;	/* copied; n_guards 0: every address */
	size_t n_guards;
	uint32_t lag_ms;		/* 0: FANOUT_LAG_MS */
	bool router;			/* records owners, takes RECONFIG */
};

/*
 * One enforcer over @n members (1..FANOUT_MAX_MEMBERS), named "site".
 * Takes every member's enforcer, also on failure.  0, or -EINVAL /
 * -ENOMEM / -errno of an epoll or timer descriptor.
 */
int fanout_new(struct enforcer **out, const struct fanout_member *m, size_t n);

enum fanout_state { FANOUT_UP, FANOUT_BEHIND, FANOUT_DOWN, FANOUT_RETURNING };

struct fanout_status {
	const char *name;
	enum fanout_state state;
	size_t queued;			/* ops waiting for the member */
	unsigned inflight;		/* its batches in flight */
	uint64_t applied, refused;	/* ops */
	uint64_t repaired;		/* ops of its convergence */
	uint64_t downs;			/* times it went down */
	uint64_t retry_in_ms;		/* down: next attempt */
	const char *error;		/* its last failure, "" if none */
};

/* Member @i's status (pointers valid until the next dispatch); -ENOENT past
 * the last, -EINVAL when @e is not a fan-out. */
int fanout_status(const struct enforcer *e, size_t i, struct fanout_status *st);
const char *fanout_state_name(enum fanout_state s);

/* Does @p cover @family address @a? */
bool fanout_prefix_covers(const struct fanout_prefix *p, uint8_t family,
			  const union pinhole_addr *a);

#endif
