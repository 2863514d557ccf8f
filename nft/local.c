// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * This host's nftables table as an enforcer (enforcer_if.h), and the same
 * code for a border router's table (the site's forward policy).
 *
 * The kernel handles a netlink transaction in the sender's context and
 * answers in microseconds, so a job needs no thread: submit queues it and
 * makes the eventfd readable, dispatch runs the queued jobs in order and
 * completes each at once.  The engine cannot tell this from a device that
 * answers seconds later, and the event loop never waits inside submit.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "nft/enforcer_if.h"

struct nft_local {
	struct nft_enforcer *nft;	/* owned */
	int efd;
	bool signalled;			/* efd written, not yet read */
	struct enforcer_job *q;		/* submitted, not yet run: FIFO */
	size_t head, n, cap;
};

static int local_submit(void *state, const struct enforcer_job *job)
{
	struct nft_local *l = state;
	uint64_t one = 1;

	if (l->head + l->n == l->cap) {
		if (l->head) {
			memmove(l->q, l->q + l->head, l->n * sizeof(*l->q));
			l->head = 0;
		} else {
			size_t cap = l->cap ? 2 * l->cap : 16;
			struct enforcer_job *q = realloc(l->q, cap * sizeof(*q));

			if (!q)
				return -ENOMEM;
			l->q = q;
			l->cap = cap;
		}
	}
	l->q[l->head + l->n++] = *job;
	if (l->signalled)
		return 0;
	/* only fails when the counter would overflow: it is readable then */
	if (write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		l->n--;
		return -errno;
	}
	l->signalled = true;
	return 0;
}

struct read_ctx {
	struct enforcer *e;
	const struct enforcer_sink *sink;
	uint64_t tag;
};

static int read_cb(const struct pinhole_entry *pe, void *arg)
{
	struct read_ctx *rc = arg;

	rc->sink->entry(rc->e, rc->tag, pe, rc->sink->arg);
	return 0;
}

/* Runs one job and completes it. */
static void run(struct nft_local *l, struct enforcer *e, const struct enforcer_job *job,
		const struct enforcer_sink *sink)
{
	struct enforcer_done d = { .job = job, .msg = "", .intact = true };
	struct read_ctx rc = { e, sink, job->tag };
	bool ignored;

	switch (job->type) {
	case ENFORCER_BATCH:
		d.err = nft_enforcer_commit(l->nft, job->ops, job->n);
		if (d.err)
			for (size_t i = 0; i < job->n; i++)
				if (!job->ops[i].err)
					job->ops[i].err = -ECANCELED;
		break;
	case ENFORCER_READ:
		d.err = nft_enforcer_dump(l->nft, read_cb, &rc);
		break;
	case ENFORCER_CHECK:
		/* the generation first: one round trip; the rules only if it moved */
		d.err = nft_enforcer_foreign_change(l->nft, &d.changed);
		if (!d.err && d.changed)
			d.err = nft_enforcer_check(l->nft, &d.intact);
		if (!d.intact)
			d.msg = nft_enforcer_error(l->nft);
		break;
	case ENFORCER_SETUP:
	case ENFORCER_RECONFIG:
		d.err = job->type == ENFORCER_SETUP ? nft_enforcer_setup(l->nft) :
			nft_enforcer_reconfigure(l->nft, job->cfg);
		/* our own setup moved the generation: not a foreign change */
		if (!d.err)
			nft_enforcer_foreign_change(l->nft, &ignored);
		break;
	case ENFORCER_FLUSH:
		d.err = nft_enforcer_flush(l->nft);
		break;
	default:
		d.err = -EINVAL;
	}
	if (d.err)
		d.msg = nft_enforcer_error(l->nft);
	sink->done(e, &d, sink->arg);
}

static int local_dispatch(void *state, struct enforcer *e, const struct enforcer_sink *sink)
{
	struct nft_local *l = state;
	uint64_t count;

	/* called after every submit and every loop iteration: no system
	 * call unless there is something to run */
	if (!l->signalled)
		return 0;
	if (read(l->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	l->signalled = false;
	/* a completion may submit more: those run in this call too */
	while (l->n) {
		struct enforcer_job job = l->q[l->head];

		l->head++;
		l->n--;
		if (!l->n)
			l->head = 0;
		run(l, e, &job, sink);
	}
	return 0;
}

static int local_fd(const void *state)
{
	return ((const struct nft_local *)state)->efd;
}

static bool local_exclusive(const void *state)
{
	return nft_enforcer_owned(((const struct nft_local *)state)->nft);
}

static const char *local_error(const void *state)
{
	return nft_enforcer_error(((const struct nft_local *)state)->nft);
}

static void local_free(void *state)
{
	struct nft_local *l = state;

	if (!l)
		return;
	if (l->efd >= 0)
		close(l->efd);
	nft_enforcer_free(l->nft);
	free(l->q);
	free(l);
}

static const struct enforcer_ops local_ops = {
	.submit = local_submit,
	.dispatch = local_dispatch,
	.fd = local_fd,
	.exclusive = local_exclusive,
	.error = local_error,
	.free = local_free,
};

/* A table as an enforcer named @name; ownership of @nft taken. */
static int table_enforcer_new(struct enforcer **out, struct nft_enforcer *nft, const char *name,
			      size_t batch_pref)
{
	struct nft_local *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l) {
		nft_enforcer_free(nft);
		return -ENOMEM;
	}
	l->nft = nft;
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->efd < 0) {
		int err = -errno;

		local_free(l);
		return err;
	}
	/* One job in flight is enough: each runs to completion in dispatch. */
	*out = enforcer_new(&local_ops, l, name, batch_pref, 1);
	return *out ? 0 : -ENOMEM;
}

int nft_local_new(struct enforcer **out, struct nft_enforcer *nft, size_t batch_pref)
{
	return table_enforcer_new(out, nft, "local", batch_pref);
}

int nft_router_new(struct enforcer **out, struct nft_enforcer *nft, size_t batch_pref)
{
	if (nft_enforcer_mode(nft) == NFT_MODE_HOST) {
		*out = NULL;
		nft_enforcer_free(nft);
		return -EINVAL;
	}
	return table_enforcer_new(out, nft, "router", batch_pref);
}
