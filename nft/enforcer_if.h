/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The enforcer interface: the contract dyperd's engine programs against,
 * whatever holds the pinholes (this host's nftables table, nft/local.c;
 * a site controller or a border device, remote/).  It speaks only pinholes
 * and batches, so it sits here next to the pinhole types, below everything
 * that implements or uses it: implementations include this header and the
 * leaves, never dyperd/.
 *
 * Asynchronous: the controller submits jobs and learns their outcome later.
 * When enforcer_fd() is readable, the controller calls enforcer_dispatch(),
 * which delivers what has completed through the controller's sink (entries
 * of a read, then the completion of each job).  dispatch never blocks and
 * may be called at any time, also when the fd is not readable.  Nothing
 * slow runs in submit or dispatch: a device that takes seconds per batch
 * does its work elsewhere (a thread, a child, a socket) and completes later.
 *
 * Order: an enforcer applies jobs in the order they were submitted (an add
 * then a delete of one pinhole, submitted in that order, end deleted; a read
 * sees every batch submitted before it and none after), but may report
 * completions in any order.
 *
 * Conventions (STYLE.md): 0 or -errno; submit returning an error means the
 * job was not accepted and no completion will follow.  An accepted job is
 * always completed exactly once, also on failure; enforcer_free() drops
 * what is still in flight without completing it.
 */
#ifndef DYPER_NFT_ENFORCER_IF_H
#define DYPER_NFT_ENFORCER_IF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer.h"

enum enforcer_job_type {
	ENFORCER_BATCH,		/* apply ops[0..n) */
	ENFORCER_READ,		/* every pinhole held, as entries, then done */
	ENFORCER_CHECK,		/* integrity: is the enforcer's own structure intact,
				 * did anyone else change it since the last check */
	ENFORCER_SETUP,		/* create or restore that structure; pinholes kept */
	ENFORCER_FLUSH,		/* remove every pinhole */
	ENFORCER_RECONFIG,	/* converge that structure to ->cfg at runtime,
				 * pinholes kept; -EOPNOTSUPP for what cannot
				 * change in place (the old structure stays) */
};

/*
 * A job.  For ENFORCER_BATCH, @ops is borrowed until the completion is
 * delivered: the enforcer sets each op's ->err there:
 *   0           applied;
 *   -ECANCELED  not applied because of another op or of the batch as a
 *               whole (an atomic batch that failed); may be submitted again;
 *   other       this op failed: -EEXIST (add of a pinhole held), -ENOENT
 *               (delete of one not held), -ENFILE (full), ...
 */
struct enforcer_job {
	enum enforcer_job_type type;
	uint64_t tag;			/* the submitter's, returned as given */
	struct pinhole_op *ops;
	size_t n;
	const struct nft_enforcer_config *cfg;	/* RECONFIG: borrowed until done */
};

struct enforcer_done {
	const struct enforcer_job *job;	/* as submitted (ops with their ->err) */
	int err;			/* 0, or -errno of the job as a whole */
	const char *msg;		/* on error: what failed, what to do ("" if
					 * nothing to say); valid during the call */
	bool intact;			/* CHECK: nothing of ours differs or is gone
					 * (else msg says what) */
	bool changed;			/* CHECK: someone else changed the enforcer */
};

struct enforcer;

/* The controller's callbacks, called only from inside enforcer_dispatch().
 * They may submit further jobs. */
struct enforcer_sink {
	void (*entry)(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe,
		      void *arg);
	void (*done)(struct enforcer *e, const struct enforcer_done *d, void *arg);
	void *arg;
};

/* What an implementation provides.  @state is its own, opaque. */
struct enforcer_ops {
	/* 0: accepted, a completion follows; -errno: refused now (-ENOMEM,
	 * -EBUSY for a batch beyond max_inflight). */
	int (*submit)(void *state, const struct enforcer_job *job);
	/* Delivers what completed; never blocks.  0 or -errno (the fd failed). */
	int (*dispatch)(void *state, struct enforcer *e, const struct enforcer_sink *sink);
	/* The descriptor the controller polls for EPOLLIN. */
	int (*fd)(const void *state);
	/* True when nobody else can change the pinholes it holds (nftables'
	 * owner flag): then a periodic read-back may be skipped. */
	bool (*exclusive)(const void *state);
	/* The last failure in words. */
	const char *(*error)(const void *state);
	void (*free)(void *state);
};

/* One enforcer: the implementation's vtable and state, and how to feed it. */
struct enforcer {
	const struct enforcer_ops *ops;
	void *state;
	char name[32];			/* for logs: "local", "site", a device name */
	size_t batch_pref;		/* ops per batch it prefers; 0: any size */
	unsigned max_inflight;		/* batches submitted and not yet completed, at
					 * most (other jobs are few and not counted) */
};

/*
 * Wraps an implementation's @state (ownership taken, also on failure:
 * freed through @ops->free).  Returns the enforcer, or NULL on -ENOMEM.
 */
struct enforcer *enforcer_new(const struct enforcer_ops *ops, void *state, const char *name,
			      size_t batch_pref, unsigned max_inflight);
/* Frees the enforcer and its state; jobs in flight are dropped.  NULL is fine. */
void enforcer_free(struct enforcer *e);

static inline int enforcer_submit(struct enforcer *e, const struct enforcer_job *job)
{
	return e->ops->submit(e->state, job);
}

static inline int enforcer_dispatch(struct enforcer *e, const struct enforcer_sink *sink)
{
	return e->ops->dispatch(e->state, e, sink);
}

static inline int enforcer_fd(const struct enforcer *e)
{
	return e->ops->fd(e->state);
}

static inline bool enforcer_exclusive(const struct enforcer *e)
{
	return e->ops->exclusive(e->state);
}

static inline const char *enforcer_error(const struct enforcer *e)
{
	return e->ops->error(e->state);
}

/*
 * This host's nftables table as an enforcer (nft/local.c).  Takes
 * ownership of @nft (opened, not necessarily set up: ENFORCER_SETUP does
 * that).  Jobs run, in order, on the next enforcer_dispatch(): a local
 * netlink transaction takes microseconds, so they run there rather than in
 * a thread; an eventfd makes the fd readable meanwhile.  Ops per batch:
 * @batch_pref (0: any).  Returns 0 or -ENOMEM (then @nft is freed).
 */
int nft_local_new(struct enforcer **out, struct nft_enforcer *nft, size_t batch_pref);

/*
 * A Linux border router's table as an enforcer, for the site controller
 * running on the router (nft/enforcer.h: NFT_MODE_ROUTER or
 * NFT_MODE_ROUTER_MARK; pinholes are remote host -> internal host, their
 * owners the delegates).  The same contract and the same code as
 * nft_local_new(), named "router" in logs.  Takes ownership of @nft
 * (opened with a router config, not necessarily set up).  Returns 0,
 * -EINVAL for a host-mode @nft, or -ENOMEM; on failure @nft is freed.
 */
int nft_router_new(struct enforcer **out, struct nft_enforcer *nft, size_t batch_pref);

#endif
