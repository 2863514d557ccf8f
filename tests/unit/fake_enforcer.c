// SPDX-License-Identifier: GPL-2.0-or-later
/* The fake enforcer of the engine's unit tests: see fake_enforcer.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "tests/unit/fake_enforcer.h"

struct fake_done {
	struct enforcer_job job;
	struct enforcer_done d;
	struct pinhole_entry *entries;	/* READ: what it held then */
	size_t n_entries;
	bool ready;
};

static int find(const struct fake_enforcer *f, const struct pinhole *ph)
{
	for (size_t i = 0; i < f->n_held; i++)
		if (pinhole_same_key(&f->held[i], ph))
			return (int)i;
	return -1;
}

bool fake_holds(const struct fake_enforcer *f, uint16_t local_port)
{
	for (size_t i = 0; i < f->n_held; i++)
		if (f->held[i].local_port == local_port)
			return true;
	return false;
}

void fake_put(struct fake_enforcer *f, const struct pinhole *ph)
{
	if (find(f, ph) < 0 && f->n_held < FAKE_MAX_HELD)
		f->held[f->n_held++] = *ph;
}

void fake_drop(struct fake_enforcer *f, uint16_t local_port)
{
	for (size_t i = 0; i < f->n_held; i++) {
		if (f->held[i].local_port == local_port) {
			f->held[i] = f->held[--f->n_held];
			return;
		}
	}
}

static void signal_ready(struct fake_enforcer *f)
{
	uint64_t one = 1;

	if (write(f->efd, &one, sizeof(one)) < 0)
		abort();
}

/* Applies @ops all or nothing, like one nftables transaction. */
static int apply(struct fake_enforcer *f, struct pinhole_op *ops, size_t n)
{
	int first = 0;

	if (f->gone) {
		bool blamed = false;

		for (size_t i = 0; i < n; i++) {
			ops[i].err = -ECANCELED;
			if (f->gone_blames && !blamed && ops[i].type == PINHOLE_ADD) {
				ops[i].err = -ENOENT;
				blamed = true;
			}
		}
		return -ENOENT;
	}
	for (size_t i = 0; i < n; i++) {
		int at = find(f, &ops[i].ph);

		/* what the earlier ops of this batch did counts */
		for (size_t j = 0; j < i; j++)
			if (!ops[j].err && pinhole_same_key(&ops[j].ph, &ops[i].ph))
				at = ops[j].type == PINHOLE_ADD ? 0 : -1;
		ops[i].err = 0;
		if (f->fail_port && ops[i].ph.local_port == f->fail_port)
			ops[i].err = f->fail_err;
		else if (ops[i].type == PINHOLE_ADD && at >= 0)
			ops[i].err = -EEXIST;
		else if (ops[i].type == PINHOLE_DEL && at < 0)
			ops[i].err = -ENOENT;
		if (ops[i].err && !first)
			first = ops[i].err;
	}
	if (first) {
		for (size_t i = 0; i < n; i++)
			if (!ops[i].err)
				ops[i].err = -ECANCELED;
		return first;
	}
	for (size_t i = 0; i < n; i++) {
		if (ops[i].type == PINHOLE_ADD) {
			fake_put(f, &ops[i].ph);
		} else {
			int at = find(f, &ops[i].ph);

			if (at >= 0)
				f->held[at] = f->held[--f->n_held];
			if (f->counts) {
				ops[i].counted = true;
				ops[i].packets = ops[i].ph.local_port;
				ops[i].bytes = 100ull * ops[i].ph.local_port;
			}
		}
	}
	return 0;
}

static int fake_submit(void *state, const struct enforcer_job *job)
{
	struct fake_enforcer *f = state;
	struct fake_done *fd;

	if (job->type == ENFORCER_BATCH && f->inflight >= f->max_inflight) {
		f->busy++;
		return -EBUSY;
	}
	if (f->n_done == f->cap_done) {
		size_t cap = f->cap_done ? 2 * f->cap_done : 16;
		struct fake_done *v = realloc(f->done, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->done = v;
		f->cap_done = cap;
	}
	fd = &f->done[f->n_done];
	memset(fd, 0, sizeof(*fd));
	fd->job = *job;
	fd->d.msg = "";
	fd->d.intact = true;
	switch (job->type) {
	case ENFORCER_BATCH:
		if (f->batches < FAKE_MAX_SIZES)
			f->sizes[f->batches] = job->n;
		f->batches++;
		f->inflight++;
		fd->d.err = apply(f, job->ops, job->n);
		if (fd->d.err)
			fd->d.msg = "the fake refused";
		break;
	case ENFORCER_READ:
		f->reads++;
		fd->entries = calloc(f->n_held ? f->n_held : 1, sizeof(*fd->entries));
		if (!fd->entries)
			return -ENOMEM;
		for (size_t i = 0; i < f->n_held; i++) {
			fd->entries[i].ph = f->held[i];
			fd->entries[i].owner_known = true;
			fd->entries[i].packets = f->held[i].local_port;	/* recognisable */
		}
		fd->n_entries = f->n_held;
		if (f->gone)
			fd->d.err = -ENOENT;
		break;
	case ENFORCER_CHECK:
		f->checks++;
		fd->d.changed = f->changed || f->gone;
		fd->d.intact = !f->gone;
		fd->d.msg = f->gone ? "the fake's structure is gone" : "";
		f->changed = false;
		break;
	case ENFORCER_SETUP:
		f->setups++;
		if (f->stays_gone) {
			fd->d.err = -EPERM;
			fd->d.msg = "the fake cannot set its structure up";
		} else {
			f->gone = false;
		}
		break;
	case ENFORCER_RECONFIG:
		f->setups++;
		break;
	case ENFORCER_FLUSH:
		f->flushes++;
		f->n_held = 0;
		break;
	}
	f->n_done++;
	if (!f->hold) {
		fd->ready = true;
		signal_ready(f);
	}
	return 0;
}

size_t fake_release(struct fake_enforcer *f, size_t n)
{
	size_t done = 0;

	for (size_t k = 0; k < f->n_done && done < n; k++) {
		struct fake_done *fd = &f->done[f->newest_first ? f->n_done - 1 - k : k];

		if (!fd->ready) {
			fd->ready = true;
			done++;
		}
	}
	if (done)
		signal_ready(f);
	return done;
}

size_t fake_held(const struct fake_enforcer *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_done; i++)
		n += !f->done[i].ready;
	return n;
}

static int fake_dispatch(void *state, struct enforcer *e, const struct enforcer_sink *sink)
{
	struct fake_enforcer *f = state;
	uint64_t count;

	if (read(f->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	for (size_t i = 0; i < f->n_done;) {
		struct fake_done fd = f->done[i];

		if (!fd.ready) {
			i++;
			continue;
		}
		/* out of the list first: the sink may submit more */
		memmove(f->done + i, f->done + i + 1, (f->n_done - i - 1) * sizeof(*f->done));
		f->n_done--;
		if (fd.job.type == ENFORCER_BATCH)
			f->inflight--;
		for (size_t k = 0; k < fd.n_entries; k++)
			sink->entry(e, fd.job.tag, &fd.entries[k], sink->arg);
		fd.d.job = &fd.job;
		sink->done(e, &fd.d, sink->arg);
		free(fd.entries);
		i = 0;
	}
	return 0;
}

static int fake_fd(const void *state)
{
	return ((const struct fake_enforcer *)state)->efd;
}

static bool fake_exclusive(const void *state)
{
	return ((const struct fake_enforcer *)state)->exclusive;
}

static const char *fake_error(const void *state)
{
	return "the fake refused";
}

static void fake_free(void *state)
{
	struct fake_enforcer *f = state;

	if (!f)
		return;
	for (size_t i = 0; i < f->n_done; i++)
		free(f->done[i].entries);
	free(f->done);
	close(f->efd);
	free(f);
}

static const struct enforcer_ops fake_ops = {
	.submit = fake_submit,
	.dispatch = fake_dispatch,
	.fd = fake_fd,
	.exclusive = fake_exclusive,
	.error = fake_error,
	.free = fake_free,
};

int fake_enforcer_new(struct enforcer **out, struct fake_enforcer **fake, const char *name,
		      size_t batch_pref, unsigned max_inflight)
{
	struct fake_enforcer *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0) {
		free(f);
		return -errno;
	}
	f->max_inflight = max_inflight ? max_inflight : 1;
	f->exclusive = true;
	*fake = f;
	*out = enforcer_new(&fake_ops, f, name, batch_pref, max_inflight);
	return *out ? 0 : -ENOMEM;
}
