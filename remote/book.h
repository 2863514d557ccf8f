/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * remote/book — the site forwarder's bookkeeping, without any I/O: which
 * pinholes this host holds and what the site is believed to hold of them,
 * the requests in flight by id, which enforcer job each answer completes,
 * leases and re-announcement.  remote/forward.c drives it from the SSH
 * session (remote/ssh.h); tests drive it directly.  Knows pinholes and the
 * wire grammar (remote/wire.h), nothing of policy.
 *
 * Jobs (nft/enforcer_if.h) are taken by remote_book_submit() and completed
 * by remote_book_deliver():
 *   BATCH  one OPEN (add) or CLOSE (delete) per op, each with its own id;
 *          the job completes when every op has its answer.  Per op: 0, the
 *          site's ERR as -errno (EEXIST on an OPEN and ENOENT on a CLOSE
 *          count as done), -ETIMEDOUT when no answer came within the
 *          request timeout.  While the site cannot be reached an add
 *          completes at once: -EHOSTUNREACH, or with @local 0 and the
 *          pinhole recorded "not at site" (re-announced later).  A delete
 *          always succeeds here: the site converges at the next SYNC or
 *          when the lease lapses.
 *   READ   the pinholes held (as submitted), owners as given.
 *   CHECK  intact, unchanged (nobody else edits the book).
 *   SETUP  done at once (the forwarder starts its session).
 *   FLUSH  forgets every pinhole; the site learns it by SYNC BEGIN/END.
 *
 * The link: remote_book_link_connecting() when a session starts,
 * remote_book_link_ready() when it is READY (it queues SYNC BEGIN, a HOLD
 * per pinhole, SYNC END: the site converges to exactly this host's set;
 * ops that waited for the session are answered by their HOLD's reply),
 * remote_book_link_down() when it is lost or could not be made.
 *
 * Bounded: at most REMOTE_BOOK_MAX_PINHOLES pinholes (-ENFILE beyond) and
 * REMOTE_BOOK_MAX_REQUESTS requests unanswered (submit: -EBUSY).
 * Conventions: 0 / -errno; times are CLOCK_MONOTONIC milliseconds.
 */
#ifndef DYPER_REMOTE_BOOK_H
#define DYPER_REMOTE_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer_if.h"
#include "remote/wire.h"

#define REMOTE_BOOK_MAX_PINHOLES	(1u << 19)
#define REMOTE_BOOK_MAX_REQUESTS	(1u << 20)
#define REMOTE_BOOK_REASON_LEN		160

/* What the site holds of one pinhole, as far as this host knows. */
enum remote_site_state {
	REMOTE_SITE_NONE,	/* not a pinhole this host forwards */
	REMOTE_SITE_PENDING,	/* asked, no answer yet */
	REMOTE_SITE_OPEN,	/* the site said OK */
	REMOTE_SITE_FAILED,	/* the site refused it (reason) */
	REMOTE_SITE_ABSENT,	/* not at the site: unreachable (reason); announced
				 * again once the session is back */
};

struct remote_book_config {
	uint32_t request_timeout_ms;	/* 0: 5000 */
	uint32_t lease_s;		/* 1..REMOTE_WIRE_LEASE_MAX; renewed every third */
	bool local;			/* on_unreachable = local */
};

struct remote_book;

/* 0, -EINVAL (lease out of range), -ENOMEM. */
int remote_book_new(struct remote_book **out, const struct remote_book_config *cfg);
/* Jobs not yet completed are dropped.  NULL is fine. */
void remote_book_free(struct remote_book *b);

/* Accepts a job (see above): 0, -ENOMEM, -EBUSY (requests exhausted). */
int remote_book_submit(struct remote_book *b, const struct enforcer_job *job, uint64_t now);

/* Completes what is done through @sink (entries of a READ, then each
 * done); the sink may submit more.  Returns how many jobs completed. */
unsigned remote_book_deliver(struct remote_book *b, struct enforcer *e,
			     const struct enforcer_sink *sink);
/* True when jobs wait to be delivered. */
bool remote_book_has_done(const struct remote_book *b);

/* A session is being made.  @wait: adds wait for it (up to the request
 * timeout) rather than being answered as unreachable at once. */
void remote_book_link_connecting(struct remote_book *b, bool wait);
/* The session is READY with site @site: queue the SYNC. */
void remote_book_link_ready(struct remote_book *b, const char *site, uint64_t now);
/* The session is gone (or never came): what was in flight is answered by
 * the unreachable rule, with @err (-EHOSTUNREACH, -ETIMEDOUT) and @why. */
void remote_book_link_down(struct remote_book *b, int err, const char *why, uint64_t now);

/*
 * The next line to send, into @m: 0, or -EAGAIN when nothing is to be
 * sent (or the link is not READY).  Call remote_book_sent() once the
 * transport took it; if it did not (its queue is full), call this again
 * later: the same line comes back.
 */
int remote_book_next(struct remote_book *b, struct remote_msg *m);
void remote_book_sent(struct remote_book *b, uint64_t now);

/* A reply (OK or ERR) from the site: 0, or -ENOENT for an id not in
 * flight (late, after a timeout: ignored). */
int remote_book_reply(struct remote_book *b, const struct remote_msg *m, uint64_t now);

/*
 * Timers: waiting adds past the request timeout, RENEW when due.  Returns
 * 0, or -ETIMEDOUT when a request sent to the site has gone unanswered
 * for the request timeout (@why says which): the caller ends the session
 * and calls remote_book_link_down(), since a site that stops answering
 * cannot be trusted with what follows either.
 */
int remote_book_tick(struct remote_book *b, uint64_t now, char *why, size_t len);
/* When remote_book_tick() must run next; UINT64_MAX if never. */
uint64_t remote_book_deadline(const struct remote_book *b);

/* The site state of @ph (by key), its reason in @reason (may be NULL). */
enum remote_site_state remote_book_state(const struct remote_book *b, const struct pinhole *ph,
					 char *reason, size_t len);
const char *remote_site_state_name(enum remote_site_state st);

/* Counters for status lines. */
struct remote_book_stats {
	size_t pinholes, inflight, unsent;
	uint64_t opens, closes, refused, timeouts, syncs, renews;
};
void remote_book_stats(const struct remote_book *b, struct remote_book_stats *st);

#endif
