// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/fanout: several enforcers as one (fanout.h says what it promises).
 *
 * Shapes.  The controller's batch becomes an fbatch; each of its ops an
 * fop, with the mask of members it still waits for and of those that
 * applied it.  Each member has a FIFO of items, an op (a "cop", with its
 * fbatch and index, or none for the fan-out's own convergence ops) or a
 * barrier (a READ/CHECK/SETUP/FLUSH/RECONFIG of the controller), and feeds
 * them to its enforcer: consecutive ops as batches of the member's size,
 * at most its max_inflight, a barrier once what precedes it is submitted
 * (jobs of one enforcer run in order, so a barrier sees every op before it).
 * Completed controller jobs wait on a ready list and are delivered at the
 * end of dispatch; an eventfd announces them when they completed in submit.
 *
 * The wanted set is a hash of pinholes keyed like pinhole_same_key(), each
 * with the generation of the op that put it there (an add refused by a
 * member is taken back only if no later op re-asked for it).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "remote/fanout.h"

#define MSG_LEN		1024
#define MEMBER_BATCH	1000	/* a member that states no preference */

struct fbatch;

/* One of the controller's ops. */
struct fop {
	uint32_t pending;		/* members it was sent to, not yet answered */
	uint32_t okmask;		/* members that applied it */
	uint64_t gen;
	int err;
	bool done;
};

struct fbatch {
	struct enforcer_job job;	/* the controller's, copied; ops borrowed */
	struct fop *fo;
	size_t left;			/* ops not done */
	unsigned refs;			/* cops outstanding, + 1 until delivered */
	struct fbatch *prev, *next;	/* undelivered */
};

/* One of the controller's other jobs. */
struct pjob {
	struct enforcer_job job;
	uint32_t mask;			/* members not yet answered */
	unsigned pending, ok;		/* members given it not yet answered; answered well */
	bool finished, delivered;
	struct pjob *prev, *next;	/* every one not yet freed */
	int err;
	bool intact, changed;
	char msg[MSG_LEN];
	struct pinhole_entry *ents;	/* READ: every member's */
	bool *from_router;
	size_t n, cap;
};

/* An item of a member's queue. */
struct item {
	struct pinhole_op op;
	struct fbatch *b;		/* NULL: the fan-out's own op */
	uint32_t i;
	struct pjob *pj;		/* a barrier instead of an op */
};

enum own_job { OWN_NONE, OWN_SETUP, OWN_READ };

struct member;

/* A job at a member. */
struct mjob {
	struct enforcer_job job;
	struct member *m;
	struct item *items;		/* BATCH: n, parallel to pops */
	struct pinhole_op *pops;
	struct pjob *pj;		/* a barrier's */
	enum own_job own;
	uint64_t t0;
	struct pinhole_entry *ents;	/* READ */
	size_t n, cap;
	struct mjob *prev, *next;	/* the member's in flight, newest first */
};

struct member {
	struct enforcer *e;
	unsigned idx;
	struct fanout_prefix *guards;
	size_t n_guards;
	uint32_t lag_ms;
	bool router;
	enum fanout_state state;
	struct item *q;
	size_t qh, qn, qcap;
	unsigned inflight;		/* batches */
	struct mjob *jobs;
	enum own_job own;		/* a retry in flight */
	uint64_t retry_at, backoff;
	char error[256];
	uint64_t applied, refused, repaired, downs;
};

struct wslot {
	struct pinhole ph;
	uint64_t gen;
	uint8_t st;			/* 0 empty, 1 used, 2 deleted */
};

struct ready {
	struct fbatch *b;
	struct pjob *pj;
};

struct fanout {
	struct member *m;
	size_t n;
	int epfd, evfd, tfd;
	struct fbatch *batches;
	struct pjob *pjobs;
	struct ready *rq;
	size_t rq_n, rq_cap;
	struct wslot *w;
	size_t w_cap, w_used, w_n;	/* slots, used + deleted, used */
	uint64_t gen;
	bool seeded;			/* the wanted set is known (see seed()) */
	uint64_t timer_at;
	char error[MSG_LEN];
};

static const struct enforcer_ops fanout_ops;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t alen(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

bool fanout_prefix_covers(const struct fanout_prefix *p, uint8_t family,
			  const union pinhole_addr *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (p->family != family)
		return false;
	if (memcmp(p->addr.raw, a->raw, full))
		return false;
	return !rest || !((p->addr.raw[full] ^ a->raw[full]) & (uint8_t)(0xff << (8 - rest)));
}

static bool covers(const struct member *m, const struct pinhole *ph)
{
	if (!m->n_guards)
		return true;
	for (size_t i = 0; i < m->n_guards; i++)
		if (fanout_prefix_covers(&m->guards[i], ph->family, &ph->local))
			return true;
	return false;
}

/* --- the wanted set ---------------------------------------------------------- */

static uint64_t ph_hash(const struct pinhole *ph)
{
	uint64_t h = 1469598103934665603ull;
	uint8_t k[40];
	size_t n = 0, l = alen(ph->family);

	k[n++] = ph->family;
	k[n++] = ph->proto;
	memcpy(k + n, &ph->remote_port, 2), n += 2;
	memcpy(k + n, &ph->local_port, 2), n += 2;
	memcpy(k + n, ph->remote.raw, l), n += l;
	memcpy(k + n, ph->local.raw, l), n += l;
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h;
}

static struct wslot *want_find(const struct fanout *f, const struct pinhole *ph)
{
	if (!f->w_cap)
		return NULL;
	for (size_t i = ph_hash(ph) & (f->w_cap - 1), k = 0; k < f->w_cap;
	     i = (i + 1) & (f->w_cap - 1), k++) {
		struct wslot *s = &f->w[i];

		if (s->st == 0)
			return NULL;
		if (s->st == 1 && pinhole_same_key(&s->ph, ph))
			return s;
	}
	return NULL;
}

static int want_grow(struct fanout *f)
{
	size_t cap = f->w_cap ? f->w_cap : 256;
	struct wslot *old = f->w;
	size_t old_cap = f->w_cap;

	while ((f->w_n + 1) * 2 > cap)
		cap *= 2;
	f->w = calloc(cap, sizeof(*f->w));
	if (!f->w) {
		f->w = old;
		return -ENOMEM;
	}
	f->w_cap = cap;
	f->w_used = f->w_n;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (old[i].st != 1)
			continue;
		for (j = ph_hash(&old[i].ph) & (cap - 1); f->w[j].st; j = (j + 1) & (cap - 1))
			;
		f->w[j] = old[i];
	}
	free(old);
	return 0;
}

static int want_put(struct fanout *f, const struct pinhole *ph, uint64_t gen)
{
	struct wslot *s = want_find(f, ph);
	size_t i;

	if (s) {
		s->ph = *ph;
		s->gen = gen;
		return 0;
	}
	if ((f->w_used + 1) * 4 > f->w_cap * 3 && want_grow(f))
		return -ENOMEM;
	for (i = ph_hash(ph) & (f->w_cap - 1); f->w[i].st == 1; i = (i + 1) & (f->w_cap - 1))
		;
	if (f->w[i].st == 0)
		f->w_used++;
	f->w[i] = (struct wslot){ .ph = *ph, .gen = gen, .st = 1 };
	f->w_n++;
	return 0;
}

static void want_drop(struct fanout *f, struct wslot *s)
{
	s->st = 2;
	f->w_n--;
}

/* --- queues and the ready list ---------------------------------------------- */

static int q_push(struct member *m, const struct item *it)
{
	if (m->qh + m->qn == m->qcap) {
		if (m->qh) {
			memmove(m->q, m->q + m->qh, m->qn * sizeof(*m->q));
			m->qh = 0;
		}
		if (m->qn == m->qcap) {
			size_t cap = m->qcap ? 2 * m->qcap : 64;
			struct item *v = realloc(m->q, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			m->q = v;
			m->qcap = cap;
		}
	}
	m->q[m->qh + m->qn++] = *it;
	return 0;
}

/* @v[0..k) go first, in that order (a batch's ops an atomic member must
 * apply again).  0 or -ENOMEM. */
static int q_push_front(struct member *m, const struct item *v, size_t k)
{
	if (m->qh < k) {
		if (m->qn + k > m->qcap) {
			size_t cap = m->qn + k > 2 * m->qcap ? m->qn + k : 2 * m->qcap;
			struct item *q = realloc(m->q, cap * sizeof(*q));

			if (!q)
				return -ENOMEM;
			m->q = q;
			m->qcap = cap;
		}
		memmove(m->q + k, m->q + m->qh, m->qn * sizeof(*m->q));
		m->qh = k;
	}
	m->qh -= k;
	memcpy(m->q + m->qh, v, k * sizeof(*v));
	m->qn += k;
	return 0;
}

static void ready_push(struct fanout *f, struct fbatch *b, struct pjob *pj)
{
	if (f->rq_n == f->rq_cap) {
		size_t cap = f->rq_cap ? 2 * f->rq_cap : 16;
		struct ready *v = realloc(f->rq, cap * sizeof(*v));

		if (!v)
			abort();	/* a completion owed must never be lost */
		f->rq = v;
		f->rq_cap = cap;
	}
	f->rq[f->rq_n++] = (struct ready){ b, pj };
	eventfd_write(f->evfd, 1);
}

static void batch_unref(struct fanout *f, struct fbatch *b)
{
	if (--b->refs)
		return;
	if (b->prev)
		b->prev->next = b->next;
	else if (f->batches == b)
		f->batches = b->next;
	if (b->next)
		b->next->prev = b->prev;
	free(b->fo);
	free(b);
}

/* --- ops ------------------------------------------------------------------------ */

static uint32_t slow_mask(const struct fanout *f)
{
	uint32_t mask = 0;

	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].state != FANOUT_UP)
			mask |= 1u << i;
	return mask;
}

static int own_op(struct member *m, enum pinhole_op_type type, const struct pinhole *ph)
{
	struct item it = { .op = { .type = type, .ph = *ph } };

	/* down or returning: its return converges it against the wanted set
	 * then; an op queued now would follow that, stale */
	if (m->state == FANOUT_DOWN || m->state == FANOUT_RETURNING)
		return 0;
	m->repaired++;
	return q_push(m, &it);
}

/* Op @i of @b is done when every member it waits for answered, or when
 * those left are slow (behind or down) and one already applied it. */
static void fop_check(struct fanout *f, struct fbatch *b, size_t i, uint32_t slow)
{
	struct fop *fo = &b->fo[i];
	struct pinhole_op *op = &b->job.ops[i];

	if (fo->done)
		return;
	if (fo->pending && (fo->pending & ~slow || !fo->okmask))
		return;
	if (!fo->okmask && !fo->err)
		fo->err = -ECANCELED;	/* sent, and its members went down */
	fo->done = true;
	op->err = fo->err;
	if (fo->err && op->type == PINHOLE_ADD) {
		struct wslot *s = want_find(f, &op->ph);

		if (s && s->gen == fo->gen)
			want_drop(f, s);
		for (size_t k = 0; k < f->n; k++)
			if (fo->okmask & (1u << k) && !want_find(f, &op->ph))
				own_op(&f->m[k], PINHOLE_DEL, &op->ph);
	}
	if (--b->left == 0)
		ready_push(f, b, NULL);
}

static void pj_check(struct fanout *f, struct pjob *pj, uint32_t slow);

static void batch_recheck(struct fanout *f)
{
	uint32_t slow = slow_mask(f);

	for (struct fbatch *b = f->batches; b; b = b->next)
		if (b->left)
			for (size_t i = 0; i < b->job.n; i++)
				fop_check(f, b, i, slow);
	for (struct pjob *pj = f->pjobs, *next; pj; pj = next) {
		next = pj->next;
		pj_check(f, pj, slow);
	}
}

/* --- members going down and coming back ------------------------------------ */

static void pj_member_done(struct fanout *f, struct pjob *pj, struct member *m, int err,
			   const char *msg, const struct enforcer_done *dn);

static void member_down(struct fanout *f, struct member *m, const char *msg)
{
	if (msg && msg[0])
		snprintf(m->error, sizeof(m->error), "%s", msg);
	if (m->state == FANOUT_DOWN)
		return;
	m->state = FANOUT_DOWN;
	m->downs++;
	m->backoff = FANOUT_RETRY_MIN_MS;
	m->retry_at = mono_ms() + m->backoff;
	/* what it has not been given stops waiting for it */
	while (m->qn) {
		struct item it = m->q[m->qh];

		m->qh++;
		m->qn--;
		if (it.pj) {
			pj_member_done(f, it.pj, m, -EHOSTDOWN, m->error, NULL);
		} else if (it.b) {
			it.b->fo[it.i].pending &= ~(1u << m->idx);
			batch_unref(f, it.b);
		}
	}
	m->qh = 0;
	batch_recheck(f);
}

static int item_cmp(const void *a, const void *b)
{
	const struct pinhole *x = a, *y = b;
	size_t l;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->local_port != y->local_port)
		return x->local_port < y->local_port ? -1 : 1;
	if (x->remote_port != y->remote_port)
		return x->remote_port < y->remote_port ? -1 : 1;
	l = alen(x->family);
	c = memcmp(x->local.raw, y->local.raw, l);
	return c ? c : memcmp(x->remote.raw, y->remote.raw, l);
}

static int ent_cmp(const void *a, const void *b)
{
	return item_cmp(&((const struct pinhole_entry *)a)->ph,
			&((const struct pinhole_entry *)b)->ph);
}

/* Member @m holds @v (its read-back, sorted here): what the wanted set has
 * for its addresses and it lacks is added, what it holds beyond that is
 * deleted, queued after everything it was given so far. */
static void converge(struct fanout *f, struct member *m, struct pinhole_entry *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), ent_cmp);	/* v may be NULL when n is 0 */
	for (size_t i = 0; i < n; i++) {
		if (!want_find(f, &v[i].ph) || !covers(m, &v[i].ph)) {
			struct pinhole ph = v[i].ph;

			ph.timeout_ms = 0;
			own_op(m, PINHOLE_DEL, &ph);
		}
	}
	for (size_t i = 0; i < f->w_cap; i++) {
		struct pinhole_entry key;

		if (f->w[i].st != 1 || !covers(m, &f->w[i].ph))
			continue;
		key.ph = f->w[i].ph;
		if (!n || !bsearch(&key, v, n, sizeof(*v), ent_cmp))
			own_op(m, PINHOLE_ADD, &f->w[i].ph);
	}
}

/* --- feeding the members ------------------------------------------------------ */

static struct mjob *mjob_new(struct member *m, enum enforcer_job_type type)
{
	struct mjob *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->m = m;
	j->job.type = type;
	j->job.tag = (uintptr_t)j;
	j->t0 = mono_ms();
	return j;
}

static void mjob_link(struct member *m, struct mjob *j)
{
	j->next = m->jobs;
	if (j->next)
		j->next->prev = j;
	m->jobs = j;
}

static void mjob_free(struct member *m, struct mjob *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else if (m->jobs == j)
		m->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	free(j->items);
	free(j->pops);
	free(j->ents);
	free(j);
}

static void pump(struct fanout *f, struct member *m)
{
	size_t size = m->e->batch_pref ? m->e->batch_pref : MEMBER_BATCH;

	while (m->qn && (m->state == FANOUT_UP || m->state == FANOUT_BEHIND)) {
		struct item *head = &m->q[m->qh];
		struct mjob *j;
		size_t k = 0;
		int err;

		if (head->pj) {
			struct pjob *pj = head->pj;

			j = mjob_new(m, pj->job.type);
			if (j) {
				j->pj = pj;
				j->job.cfg = pj->job.cfg;
			}
			m->qh++;
			m->qn--;
			err = j ? enforcer_submit(m->e, &j->job) : -ENOMEM;
			if (err) {
				free(j);
				pj_member_done(f, pj, m, err, strerror(-err), NULL);
				continue;
			}
			mjob_link(m, j);
			continue;
		}
		if (m->inflight >= m->e->max_inflight)
			break;
		while (k < m->qn && k < size && !m->q[m->qh + k].pj)
			k++;
		j = mjob_new(m, ENFORCER_BATCH);
		if (j) {
			j->items = malloc(k * sizeof(*j->items));
			j->pops = malloc(k * sizeof(*j->pops));
		}
		if (!j || !j->items || !j->pops) {
			if (j)
				mjob_free(m, j);
			break;		/* tried again on the next dispatch */
		}
		for (size_t i = 0; i < k; i++) {
			j->items[i] = m->q[m->qh + i];
			j->pops[i] = m->q[m->qh + i].op;
			j->pops[i].err = 0;
		}
		j->job.ops = j->pops;
		j->job.n = k;
		err = enforcer_submit(m->e, &j->job);
		if (err == -EBUSY) {
			mjob_free(m, j);
			break;
		}
		if (err) {
			mjob_free(m, j);
			member_down(f, m, strerror(-err));
			break;
		}
		mjob_link(m, j);
		m->qh += k;
		m->qn -= k;
		m->inflight++;
	}
	if (!m->qn)
		m->qh = 0;
}

static void pump_all(struct fanout *f)
{
	for (size_t i = 0; i < f->n; i++)
		pump(f, &f->m[i]);
}

/* --- completions from the members ---------------------------------------------- */

static void msg_add(char *buf, const char *name, const char *msg)
{
	size_t len = strlen(buf);

	if (len < MSG_LEN - 1)
		snprintf(buf + len, MSG_LEN - len, "%s%s: %s", len ? "; " : "", name,
			 msg && msg[0] ? msg : "failed");
}

/* The first read-back (the controller's start) is what the members hold
 * from before: it is wanted until the controller says otherwise (it adopts
 * it, or deletes what it does not adopt).  Until then nothing converges:
 * against an empty wanted set that would delete everything. */
static void seed(struct fanout *f, const struct pjob *pj)
{
	for (size_t i = 0; i < pj->n; i++) {
		struct pinhole ph = pj->ents[i].ph;

		ph.timeout_ms = 0;
		if (!want_find(f, &ph))
			want_put(f, &ph, ++f->gen);
	}
	f->seeded = true;
}

static void pj_finish(struct fanout *f, struct pjob *pj)
{
	size_t out = 0;

	if (pj->ok) {
		pj->err = 0;
	} else if (!pj->err) {
		pj->err = -EHOSTUNREACH;
		if (!pj->msg[0])
			snprintf(pj->msg, sizeof(pj->msg), "no member is reachable");
	}
	if (pj->job.type == ENFORCER_READ && pj->n) {
		/* each pinhole once: counts summed, a router's owner preferred */
		struct pinhole_entry *v = malloc(pj->n * sizeof(*v));

		if (!v) {
			pj->err = -ENOMEM;
			snprintf(pj->msg, sizeof(pj->msg), "out of memory merging read-backs");
			pj->n = 0;
		} else {
			for (size_t i = 0; i < pj->n; i++) {
				v[i] = pj->ents[i];
				v[i].owner_unrecorded = !pj->from_router[i];
			}
			qsort(v, pj->n, sizeof(*v), ent_cmp);
			for (size_t i = 0; i < pj->n; i++) {
				if (out && !ent_cmp(&v[out - 1], &v[i])) {
					struct pinhole_entry *o = &v[out - 1];

					o->packets += v[i].packets;
					o->bytes += v[i].bytes;
					if (!v[i].owner_unrecorded && o->owner_unrecorded) {
						uint64_t p = o->packets, by = o->bytes;

						*o = v[i];
						o->packets = p;
						o->bytes = by;
					}
					continue;
				}
				v[out++] = v[i];
			}
			free(pj->ents);
			pj->ents = v;
			pj->n = out;
		}
	}
	if (pj->job.type == ENFORCER_READ && !pj->err && !f->seeded)
		seed(f, pj);
	ready_push(f, NULL, pj);
}

/* Done when every member answered, or when those left are slow and one
 * answered: a read-back then lacks what only the slow ones hold, which
 * their own late read-back converges. */
static void pj_check(struct fanout *f, struct pjob *pj, uint32_t slow)
{
	if (pj->finished || (pj->pending && (pj->mask & ~slow || !pj->ok)))
		return;
	/* the start's read-back waits for every member that is not down:
	 * what only a slow one holds would otherwise be neither adopted nor
	 * wanted, and its late read-back would delete it */
	if (pj->pending && pj->job.type == ENFORCER_READ && !f->seeded)
		return;
	pj->finished = true;
	pj_finish(f, pj);
}

static void pjob_free(struct fanout *f, struct pjob *pj)
{
	if (pj->prev)
		pj->prev->next = pj->next;
	else if (f->pjobs == pj)
		f->pjobs = pj->next;
	if (pj->next)
		pj->next->prev = pj->prev;
	free(pj->ents);
	free(pj->from_router);
	free(pj);
}

static void pj_member_done(struct fanout *f, struct pjob *pj, struct member *m, int err,
			   const char *msg, const struct enforcer_done *dn)
{
	bool down = false;

	pj->mask &= ~(1u << m->idx);
	pj->pending--;
	if (pj->finished) {
		/* answered without this member: only its own state matters */
		down = err && pj->job.type != ENFORCER_RECONFIG;
		if (pj->delivered && !pj->pending)
			pjob_free(f, pj);
		if (down && m->state != FANOUT_DOWN)
			member_down(f, m, msg);
		return;
	}
	if (err) {
		if (!pj->err)
			pj->err = err;
		msg_add(pj->msg, m->e->name, msg);
		/* a member that cannot set up, read or check is down; a
		 * router that cannot change its table in place is not */
		down = pj->job.type != ENFORCER_RECONFIG;
	} else {
		pj->ok++;
		if (pj->job.type == ENFORCER_CHECK) {
			if (!dn->intact) {
				pj->intact = false;
				msg_add(pj->msg, m->e->name, dn->msg);
			}
			pj->changed |= dn->changed;
		}
	}
	pj_check(f, pj, slow_mask(f));
	if (down && m->state != FANOUT_DOWN)
		member_down(f, m, msg);
}

/* A read-back's entries go to the controller's merge, and converge @m. */
static void read_done(struct fanout *f, struct mjob *j)
{
	struct pjob *pj = j->pj;
	struct member *m = j->m;

	if (pj && !pj->finished && j->n) {
		size_t need = pj->n + j->n;

		if (need > pj->cap) {
			struct pinhole_entry *v = realloc(pj->ents, need * sizeof(*v));
			bool *r = v ? realloc(pj->from_router, need * sizeof(*r)) : NULL;

			if (v)
				pj->ents = v;
			if (r)
				pj->from_router = r;
			if (v && r)
				pj->cap = need;
		}
		if (need <= pj->cap) {
			memcpy(pj->ents + pj->n, j->ents, j->n * sizeof(*j->ents));
			for (size_t i = 0; i < j->n; i++)
				pj->from_router[pj->n + i] = m->router;
			pj->n = need;
		}
	}
	if (f->seeded)
		converge(f, m, j->ents, j->n);
}

static void batch_done(struct fanout *f, struct mjob *j, const struct enforcer_done *dn)
{
	struct member *m = j->m;
	uint32_t bit = 1u << m->idx;
	struct item *again = NULL;
	bool explained = false;
	size_t k = 0;

	m->inflight--;
	/* An atomic member (nftables) fails a whole batch for one op it
	 * refuses, EEXIST and ENOENT included: that is the op's answer, not
	 * the member being down, and the ops it cancelled are applied again
	 * first, as far as they still say what is wanted. */
	for (size_t i = 0; dn->err && i < j->job.n; i++)
		if (j->pops[i].err && j->pops[i].err != -ECANCELED)
			explained = true;
	if (explained)
		again = malloc(j->job.n * sizeof(*again));
	for (size_t i = 0; i < j->job.n; i++) {
		struct item *it = &j->items[i];
		const struct pinhole_op *op = &j->pops[i];
		int err = op->err;
		bool ok;

		if (!err && dn->err)
			err = -ECANCELED;
		if (explained && err == -ECANCELED) {
			bool wanted = want_find(f, &op->ph) != NULL;

			if (op->type == PINHOLE_ADD ? !wanted : wanted) {
				err = 0;	/* a later op changed what is wanted */
			} else if (again) {
				again[k++] = *it;	/* still waited for, still referenced */
				continue;
			}
		}
		ok = !err || (op->type == PINHOLE_ADD && err == -EEXIST) ||
		     (op->type == PINHOLE_DEL && err == -ENOENT);
		if (ok)
			m->applied++;
		else if (!(err == -ECANCELED && dn->err))
			m->refused++;
		if (!it->b) {
			continue;
		}
		if (!it->b->fo[it->i].done) {
			struct fop *fo = &it->b->fo[it->i];
			struct pinhole_op *pop = &it->b->job.ops[it->i];

			fo->pending &= ~bit;
			if (ok) {
				fo->okmask |= bit;
				if (op->type == PINHOLE_DEL && op->counted && m->router) {
					pop->counted = true;
					pop->packets = op->packets;
					pop->bytes = op->bytes;
				}
			} else if (!(err == -ECANCELED && dn->err && !explained) && !fo->err) {
				fo->err = err;
			}
		} else if (ok && op->type == PINHOLE_ADD && it->b->fo[it->i].err &&
			   !want_find(f, &op->ph)) {
			own_op(m, PINHOLE_DEL, &op->ph);	/* refused elsewhere */
		}
		batch_unref(f, it->b);
	}
	if (k) {
		for (size_t i = 0; i < k; i++)
			again[i].op.err = 0;
		if (q_push_front(m, again, k)) {
			/* cannot keep them: they stop waiting, the member converges
			 * when it is back */
			for (size_t i = 0; i < k; i++)
				if (again[i].b) {
					again[i].b->fo[again[i].i].pending &= ~bit;
					batch_unref(f, again[i].b);
				}
			member_down(f, m, "out of memory");
		}
	}
	free(again);
	if (dn->err && !explained)
		member_down(f, m, dn->msg);
	batch_recheck(f);
}

static void own_done(struct fanout *f, struct mjob *j, const struct enforcer_done *dn)
{
	struct member *m = j->m;

	m->own = OWN_NONE;
	if (dn->err) {
		snprintf(m->error, sizeof(m->error), "%s", dn->msg && dn->msg[0] ? dn->msg :
			 strerror(-dn->err));
		m->state = FANOUT_DOWN;
		m->backoff = m->backoff * 2 > FANOUT_RETRY_MAX_MS ? FANOUT_RETRY_MAX_MS :
			     m->backoff * 2;
		m->retry_at = mono_ms() + m->backoff;
		return;
	}
	if (j->own == OWN_SETUP) {
		struct mjob *r = mjob_new(m, ENFORCER_READ);

		if (!r || enforcer_submit(m->e, &r->job)) {
			free(r);
			m->state = FANOUT_DOWN;
			m->retry_at = mono_ms() + m->backoff;
			return;
		}
		r->own = OWN_READ;
		m->own = OWN_READ;
		mjob_link(m, r);
		return;
	}
	/* back: its backlog first, then whatever comes */
	m->state = FANOUT_UP;
	if (f->seeded)
		converge(f, m, j->ents, j->n);
	m->error[0] = 0;
	m->backoff = FANOUT_RETRY_MIN_MS;
}

static void on_member_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe,
			    void *arg)
{
	struct mjob *j = (struct mjob *)(uintptr_t)tag;

	(void)e;
	(void)arg;
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 64;
		struct pinhole_entry *v = realloc(j->ents, cap * sizeof(*v));

		if (!v)
			return;		/* missing here: converged by the next read */
		j->ents = v;
		j->cap = cap;
	}
	j->ents[j->n++] = *pe;
}

static void on_member_done(struct enforcer *e, const struct enforcer_done *dn, void *arg)
{
	struct fanout *f = arg;
	struct mjob *j = (struct mjob *)(uintptr_t)dn->job->tag;
	struct member *m = j->m;

	(void)e;
	if (j->own) {
		own_done(f, j, dn);
	} else if (j->job.type == ENFORCER_BATCH) {
		batch_done(f, j, dn);
	} else {
		if (!dn->err && j->job.type == ENFORCER_READ)
			read_done(f, j);
		if (j->job.type == ENFORCER_FLUSH && !dn->err)
			m->applied++;
		pj_member_done(f, j->pj, m, dn->err, dn->msg, dn);
	}
	mjob_free(m, j);
}

/* --- time: lag and retries -------------------------------------------------------- */

static void tick(struct fanout *f, uint64_t now)
{
	bool changed = false;

	for (size_t i = 0; i < f->n; i++) {
		struct member *m = &f->m[i];
		uint64_t oldest = 0;

		for (struct mjob *j = m->jobs; j; j = j->next)
			if (!j->own && (!oldest || j->t0 < oldest))
				oldest = j->t0;
		if (m->state == FANOUT_UP && oldest && now >= oldest + m->lag_ms) {
			m->state = FANOUT_BEHIND;
			changed = true;
		} else if (m->state == FANOUT_BEHIND && !m->jobs && !m->qn) {
			m->state = FANOUT_UP;
		}
		if (m->state == FANOUT_DOWN && !m->own && !m->jobs && now >= m->retry_at) {
			struct mjob *j = mjob_new(m, ENFORCER_SETUP);

			if (!j || enforcer_submit(m->e, &j->job)) {
				free(j);
				m->retry_at = now + m->backoff;
				continue;
			}
			j->own = OWN_SETUP;
			m->own = OWN_SETUP;
			m->state = FANOUT_RETURNING;
			mjob_link(m, j);
		}
	}
	if (changed)
		batch_recheck(f);
}

static void arm_timer(struct fanout *f)
{
	uint64_t at = 0;
	struct itimerspec its = { 0 };

	for (size_t i = 0; i < f->n; i++) {
		const struct member *m = &f->m[i];
		uint64_t t = 0;

		if (m->state == FANOUT_DOWN && !m->own && !m->jobs)
			t = m->retry_at;	/* with jobs out, their completion ticks */
		else if (m->state == FANOUT_UP)
			for (const struct mjob *j = m->jobs; j; j = j->next)
				if (!j->own && (!t || j->t0 + m->lag_ms < t))
					t = j->t0 + m->lag_ms;
		if (t && (!at || t < at))
			at = t;
	}
	if (at == f->timer_at)
		return;
	f->timer_at = at;
	if (at) {
		its.it_value.tv_sec = (time_t)(at / 1000);
		its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	}
	timerfd_settime(f->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* --- the enforcer ---------------------------------------------------------------- */

static int submit_batch(struct fanout *f, const struct enforcer_job *job)
{
	struct fbatch *b = calloc(1, sizeof(*b));
	uint32_t slow = slow_mask(f);

	f->seeded = true;	/* what it asks for from now on is the wanted set */
	if (b)
		b->fo = calloc(job->n ? job->n : 1, sizeof(*b->fo));
	if (!b || !b->fo) {
		free(b);
		return -ENOMEM;
	}
	b->job = *job;
	b->left = job->n;
	b->refs = 1;
	b->next = f->batches;
	if (b->next)
		b->next->prev = b;
	f->batches = b;
	for (size_t i = 0; i < job->n; i++) {
		struct pinhole_op *op = &job->ops[i];
		struct fop *fo = &b->fo[i];

		op->err = 0;
		op->counted = false;
		fo->gen = ++f->gen;
		if (op->type == PINHOLE_ADD) {
			if (want_put(f, &op->ph, fo->gen))
				fo->err = -ENOMEM;
		} else {
			struct wslot *s = want_find(f, &op->ph);

			if (s)
				want_drop(f, s);
		}
		for (size_t k = 0; k < f->n && !fo->err; k++) {
			struct member *m = &f->m[k];
			struct item it = { .op = *op, .b = b, .i = (uint32_t)i };

			if (!covers(m, &op->ph) ||
			    (m->state != FANOUT_UP && m->state != FANOUT_BEHIND))
				continue;
			if (q_push(m, &it))
				continue;	/* converged by its next read-back */
			fo->pending |= 1u << k;
			b->refs++;
		}
		if (!fo->pending && !fo->err)
			fo->err = -EHOSTUNREACH;
		fop_check(f, b, i, slow);
	}
	if (!job->n)
		ready_push(f, b, NULL);
	pump_all(f);
	arm_timer(f);
	return 0;
}

static int fan_submit(void *state, const struct enforcer_job *job)
{
	struct fanout *f = state;
	struct pjob *pj;

	if (job->type == ENFORCER_BATCH)
		return submit_batch(f, job);
	pj = calloc(1, sizeof(*pj));
	if (!pj)
		return -ENOMEM;
	pj->job = *job;
	pj->intact = true;
	pj->next = f->pjobs;
	if (pj->next)
		pj->next->prev = pj;
	f->pjobs = pj;
	if (job->type == ENFORCER_FLUSH) {
		f->seeded = true;
		for (size_t i = 0; i < f->w_cap; i++)
			f->w[i].st = 0;
		f->w_n = f->w_used = 0;
	}
	for (size_t k = 0; k < f->n; k++) {
		struct member *m = &f->m[k];
		struct item it = { .pj = pj };

		if (job->type == ENFORCER_RECONFIG && !m->router)
			continue;
		if (m->state != FANOUT_UP && m->state != FANOUT_BEHIND) {
			msg_add(pj->msg, m->e->name, m->error[0] ? m->error : "down");
			continue;
		}
		if (q_push(m, &it)) {
			msg_add(pj->msg, m->e->name, "out of memory");
			continue;
		}
		pj->pending++;
		pj->mask |= 1u << k;
	}
	if (!pj->pending) {
		pj->finished = true;
		if (job->type == ENFORCER_RECONFIG)
			pj->ok = 1;	/* nothing here changes in place */
		pj_finish(f, pj);
	}
	pump_all(f);
	arm_timer(f);
	return 0;
}

static int fan_dispatch(void *state, struct enforcer *e, const struct enforcer_sink *sink)
{
	struct fanout *f = state;
	struct enforcer_sink ms = { .entry = on_member_entry, .done = on_member_done, .arg = f };
	uint64_t v;
	int err = 0;

	(void)!read(f->evfd, &v, sizeof(v));
	if (read(f->tfd, &v, sizeof(v)) == sizeof(v))
		f->timer_at = 0;
	for (size_t i = 0; i < f->n; i++) {
		int r = enforcer_dispatch(f->m[i].e, &ms);

		if (r && f->m[i].state != FANOUT_DOWN) {
			snprintf(f->error, sizeof(f->error), "%s: %s", f->m[i].e->name, strerror(-r));
			member_down(f, &f->m[i], f->error);
		}
	}
	tick(f, mono_ms());
	pump_all(f);
	/* deliver; the sink may submit more, which may complete at once */
	for (size_t i = 0; i < f->rq_n; i++) {
		struct ready r = f->rq[i];
		struct enforcer_done d = { 0 };

		if (r.b) {
			d.job = &r.b->job;
			d.msg = "";
			sink->done(e, &d, sink->arg);
			batch_unref(f, r.b);
			continue;
		}
		if (r.pj->job.type == ENFORCER_READ && !r.pj->err)
			for (size_t k = 0; k < r.pj->n; k++)
				sink->entry(e, r.pj->job.tag, &r.pj->ents[k], sink->arg);
		d.job = &r.pj->job;
		d.err = r.pj->err;
		d.msg = r.pj->msg;
		d.intact = r.pj->intact;
		d.changed = r.pj->changed;
		if (r.pj->err)
			snprintf(f->error, sizeof(f->error), "%s", r.pj->msg);
		sink->done(e, &d, sink->arg);
		r.pj->delivered = true;
		if (!r.pj->pending)
			pjob_free(f, r.pj);
	}
	f->rq_n = 0;
	arm_timer(f);
	return err;
}

static int fan_fd(const void *state)
{
	return ((const struct fanout *)state)->epfd;
}

static bool fan_exclusive(const void *state)
{
	const struct fanout *f = state;

	for (size_t i = 0; i < f->n; i++)
		if (!enforcer_exclusive(f->m[i].e))
			return false;
	return true;
}

static const char *fan_error(const void *state)
{
	return ((const struct fanout *)state)->error;
}

static void fan_free(void *state)
{
	struct fanout *f = state;

	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		struct member *m = &f->m[i];

		enforcer_free(m->e);	/* drops its jobs without completing them */
		while (m->jobs)
			mjob_free(m, m->jobs);
		free(m->q);
		free(m->guards);
	}
	while (f->batches) {
		struct fbatch *b = f->batches;

		f->batches = b->next;
		free(b->fo);
		free(b);
	}
	while (f->pjobs)
		pjob_free(f, f->pjobs);
	free(f->rq);
	free(f->w);
	free(f->m);
	if (f->epfd >= 0)
		close(f->epfd);
	if (f->evfd >= 0)
		close(f->evfd);
	if (f->tfd >= 0)
		close(f->tfd);
	free(f);
}

static const struct enforcer_ops fanout_ops = {
	.submit = fan_submit,
	.dispatch = fan_dispatch,
	.fd = fan_fd,
	.exclusive = fan_exclusive,
	.error = fan_error,
	.free = fan_free,
};

static int watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int fanout_new(struct enforcer **out, const struct fanout_member *mem, size_t n)
{
	struct fanout *f = calloc(1, sizeof(*f));
	int err = 0;

	*out = NULL;
	if (f) {
		f->epfd = f->evfd = f->tfd = -1;
		f->m = calloc(n ? n : 1, sizeof(*f->m));
	}
	if (!f || !f->m) {
		err = -ENOMEM;
		goto fail;
	}
	if (!n || n > FANOUT_MAX_MEMBERS) {
		err = -EINVAL;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct member *m = &f->m[i];

		m->e = mem[i].e;
		m->idx = (unsigned)i;
		m->lag_ms = mem[i].lag_ms ? mem[i].lag_ms : FANOUT_LAG_MS;
		m->router = mem[i].router;
		m->state = FANOUT_UP;
		m->backoff = FANOUT_RETRY_MIN_MS;
		f->n++;
		if (!m->e) {
			err = -EINVAL;
			goto fail;
		}
		if (mem[i].n_guards) {
			m->guards = malloc(mem[i].n_guards * sizeof(*m->guards));
			if (!m->guards) {
				err = -ENOMEM;
				goto fail;
			}
			memcpy(m->guards, mem[i].guards, mem[i].n_guards * sizeof(*m->guards));
			m->n_guards = mem[i].n_guards;
		}
	}
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (f->epfd < 0 || f->evfd < 0 || f->tfd < 0) {
		err = -errno;
		goto fail;
	}
	err = watch(f->epfd, f->evfd);
	if (!err)
		err = watch(f->epfd, f->tfd);
	for (size_t i = 0; i < n && !err; i++)
		err = watch(f->epfd, enforcer_fd(f->m[i].e));
	if (err)
		goto fail;
	*out = enforcer_new(&fanout_ops, f, "site", 0, FANOUT_MAX_INFLIGHT);
	return *out ? 0 : -ENOMEM;
fail:
	for (size_t i = f ? f->n : 0; i < n; i++)
		enforcer_free(mem[i].e);	/* not yet a member's */
	fan_free(f);
	return err;
}

int fanout_status(const struct enforcer *e, size_t i, struct fanout_status *st)
{
	const struct fanout *f;
	const struct member *m;

	if (!e || e->ops != &fanout_ops)
		return -EINVAL;
	f = e->state;
	if (i >= f->n)
		return -ENOENT;
	m = &f->m[i];
	*st = (struct fanout_status){
		.name = m->e->name, .state = m->state, .queued = m->qn,
		.inflight = m->inflight, .applied = m->applied, .refused = m->refused,
		.repaired = m->repaired, .downs = m->downs, .error = m->error,
	};
	if (m->state == FANOUT_DOWN) {
		uint64_t now = mono_ms();

		st->retry_in_ms = m->retry_at > now ? m->retry_at - now : 0;
	}
	return 0;
}

const char *fanout_state_name(enum fanout_state s)
{
	switch (s) {
	case FANOUT_UP:
		return "up";
	case FANOUT_BEHIND:
		return "behind";
	case FANOUT_DOWN:
		return "down";
	case FANOUT_RETURNING:
		return "returning";
	}
	return "?";
}
