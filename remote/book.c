// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The site forwarder's bookkeeping (book.h): no I/O, so that every rule
 * about answers, timeouts, leases and re-announcement is tested without a
 * site.
 *
 * Requests get consecutive ids and live in a ring indexed by id, so an
 * answer finds its request in O(1) whatever order the site answers in;
 * they are sent in id order, and since every one has the same timeout, the
 * oldest one sent is the next to time out.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/book.h"

#define RING_MIN	256
#define HASH_MIN	1024
#define NO_OP		SIZE_MAX	/* a request that completes a job without ops */

enum req_type { R_FREE, R_OPEN, R_CLOSE, R_HOLD, R_SYNC_BEGIN, R_SYNC_END, R_RENEW };

/* A job until every op of it has its answer. */
struct book_job {
	struct enforcer_job job;	/* as submitted; ops borrowed */
	size_t left;			/* answers still due */
	int err;			/* the first op error, and its words */
	char msg[REMOTE_BOOK_REASON_LEN];
	struct pinhole_entry *entries;	/* READ: the pinholes at submit time */
	size_t n_entries;
	struct book_job *next;		/* the done list */
};

/* A pinhole this host holds. */
struct book_ph {
	struct pinhole ph;
	enum remote_site_state state;
	char reason[REMOTE_BOOK_REASON_LEN];
	uint64_t req;			/* OPEN or HOLD in flight for it; 0: none */
	struct book_job *wjob;		/* its add, waiting for the site's word */
	size_t wop;
	uint64_t wdeadline;		/* the add waits for a session until then */
	struct book_ph *hnext;		/* hash chain */
	struct book_ph *prev, *next;	/* every pinhole */
};

struct book_req {
	uint64_t id;			/* 0: free */
	uint64_t deadline;		/* 0 until sent */
	enum req_type type;
	struct book_ph *ph;		/* OPEN, HOLD; NULL once it is gone */
	struct book_job *job;		/* CLOSE, SYNC END of a flush */
	size_t op;
	bool keep;			/* a HOLD sent even without ph (see queue_sync) */
	struct pinhole key;		/* OPEN, CLOSE, HOLD: what goes on the wire */
};

enum link { L_DOWN, L_WAIT, L_READY };

struct remote_book {
	struct remote_book_config cfg;
	enum link link;
	char down_why[REMOTE_BOOK_REASON_LEN];
	char site[REMOTE_WIRE_NAME_MAX + 1];

	struct book_ph **hash;
	size_t nbuckets, count;
	struct book_ph *all;
	size_t n_waiting;		/* adds waiting for a session */
	uint64_t wait_min;		/* the earliest wdeadline among them */

	struct book_req *ring;
	size_t cap;			/* power of two */
	uint64_t tail, next_send, next_id;	/* ids: [tail, next_id) may be in use */

	bool sync_inflight, want_sync;
	uint64_t next_renew;

	struct book_job *done_head, *done_tail;
	struct remote_book_stats st;
};

/* --- pinholes by key ---------------------------------------------------- */

static size_t key_hash(const struct pinhole *ph)
{
	uint8_t key[64];
	const char *set;
	size_t n = pinhole_key(ph, key, &set);
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static struct book_ph *ph_find(const struct remote_book *b, const struct pinhole *ph)
{
	struct book_ph *p = b->hash[key_hash(ph) & (b->nbuckets - 1)];

	while (p && !pinhole_same_key(&p->ph, ph))
		p = p->hnext;
	return p;
}

static int ph_grow(struct remote_book *b)
{
	size_t n = b->nbuckets * 2;
	struct book_ph **h = calloc(n, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (struct book_ph *p = b->all; p; p = p->next) {
		size_t i = key_hash(&p->ph) & (n - 1);

		p->hnext = h[i];
		h[i] = p;
	}
	free(b->hash);
	b->hash = h;
	b->nbuckets = n;
	return 0;
}

static struct book_ph *ph_insert(struct remote_book *b, const struct pinhole *ph)
{
	struct book_ph *p;
	size_t i;

	if (b->count >= b->nbuckets && ph_grow(b))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ph = *ph;
	i = key_hash(ph) & (b->nbuckets - 1);
	p->hnext = b->hash[i];
	b->hash[i] = p;
	p->next = b->all;
	if (b->all)
		b->all->prev = p;
	b->all = p;
	b->count++;
	return p;
}

static struct book_req *req_of(const struct remote_book *b, uint64_t id)
{
	struct book_req *r;

	if (!id)
		return NULL;
	r = &b->ring[id & (b->cap - 1)];
	return r->id == id ? r : NULL;
}

static void ph_remove(struct remote_book *b, struct book_ph *p)
{
	struct book_ph **pp = &b->hash[key_hash(&p->ph) & (b->nbuckets - 1)];
	struct book_req *r = req_of(b, p->req);

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	if (p->prev)
		p->prev->next = p->next;
	else
		b->all = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (r)
		r->ph = NULL;
	if (p->wjob && !p->req)
		b->n_waiting--;
	b->count--;
	free(p);
}

/* --- jobs ----------------------------------------------------------------- */

static void job_finish(struct remote_book *b, struct book_job *j)
{
	j->next = NULL;
	if (b->done_tail)
		b->done_tail->next = j;
	else
		b->done_head = j;
	b->done_tail = j;
}

/* Op @op of @j has its answer. */
static void op_done(struct remote_book *b, struct book_job *j, size_t op, int err, const char *msg)
{
	if (op != NO_OP)
		j->job.ops[op].err = err;
	if (err && !j->err) {
		j->err = err;
		snprintf(j->msg, sizeof(j->msg), "%s", msg ? msg : "");
	}
	if (!--j->left)
		job_finish(b, j);
}

/* @p's add waits no more: answered with @err. */
static void wait_done(struct remote_book *b, struct book_ph *p, int err, const char *msg)
{
	struct book_job *j = p->wjob;

	if (!j)
		return;
	if (!p->req)
		b->n_waiting--;
	p->wjob = NULL;
	p->wdeadline = 0;
	op_done(b, j, p->wop, err, msg);
}

/* The site cannot be asked about @p now: with @local it stays here, "not
 * at site", to be announced later; else its add fails and it is gone. */
static void unreachable(struct remote_book *b, struct book_ph *p, int err, const char *why)
{
	char msg[REMOTE_BOOK_REASON_LEN];

	if (b->cfg.local) {
		p->state = REMOTE_SITE_ABSENT;
		snprintf(p->reason, sizeof(p->reason), "%s", why);
		wait_done(b, p, 0, NULL);
		return;
	}
	snprintf(msg, sizeof(msg), "the site is unreachable: %.130s", why);
	wait_done(b, p, err, msg);
	ph_remove(b, p);
}

/* --- requests ------------------------------------------------------------- */

static int ring_grow(struct remote_book *b)
{
	size_t n = b->cap * 2;
	struct book_req *r;

	if (n > REMOTE_BOOK_MAX_REQUESTS)
		return -EBUSY;
	r = calloc(n, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint64_t id = b->tail; id < b->next_id; id++) {
		struct book_req *o = &b->ring[id & (b->cap - 1)];

		if (o->id == id)
			r[id & (n - 1)] = *o;
	}
	free(b->ring);
	b->ring = r;
	b->cap = n;
	return 0;
}

static struct book_req *req_new(struct remote_book *b, enum req_type type, const struct pinhole *key)
{
	struct book_req *r;

	if (b->next_id - b->tail >= b->cap && ring_grow(b))
		return NULL;
	r = &b->ring[b->next_id & (b->cap - 1)];
	memset(r, 0, sizeof(*r));
	r->id = b->next_id++;
	r->type = type;
	r->op = NO_OP;
	if (key) {
		r->key.family = key->family;
		r->key.proto = key->proto;
		r->key.remote_port = key->remote_port;
		r->key.local_port = key->local_port;
		r->key.remote = key->remote;
		r->key.local = key->local;
	}
	return r;
}

/* Frees @r and moves the tail past what is free. */
static void req_free(struct remote_book *b, struct book_req *r)
{
	r->id = 0;
	r->type = R_FREE;
	while (b->tail < b->next_send && b->ring[b->tail & (b->cap - 1)].id != b->tail)
		b->tail++;
}

/* SYNC BEGIN, a HOLD per pinhole, SYNC END (completing @flush, if any). */
static int queue_sync(struct remote_book *b, struct book_job *flush)
{
	struct book_req *r = req_new(b, R_SYNC_BEGIN, NULL);

	if (!r)
		return -ENOMEM;
	for (struct book_ph *p = b->all; p; p = p->next) {
		r = req_new(b, R_HOLD, &p->ph);
		if (!r)
			return -ENOMEM;
		if (p->req) {
			/* its OPEN, sent before SYNC BEGIN, answers for it; the
			 * HOLD only keeps SYNC END from closing it */
			r->keep = true;
			continue;
		}
		r->ph = p;
		if (p->wjob)
			b->n_waiting--;	/* asked now: its request's timeout rules */
		p->req = r->id;
		p->wdeadline = 0;
		if (p->state != REMOTE_SITE_OPEN) {
			p->state = REMOTE_SITE_PENDING;
			snprintf(p->reason, sizeof(p->reason), "announced to the site");
		}
	}
	r = req_new(b, R_SYNC_END, NULL);
	if (!r)
		return -ENOMEM;
	if (flush) {
		r->job = flush;
		r->op = NO_OP;
	}
	b->sync_inflight = true;
	b->want_sync = false;
	b->st.syncs++;
	return 0;
}

/* --- public --------------------------------------------------------------- */

int remote_book_new(struct remote_book **out, const struct remote_book_config *cfg)
{
	struct remote_book *b;

	*out = NULL;
	if (!cfg->lease_s || cfg->lease_s > REMOTE_WIRE_LEASE_MAX)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	if (!b->cfg.request_timeout_ms)
		b->cfg.request_timeout_ms = 5000;
	b->nbuckets = HASH_MIN;
	b->hash = calloc(b->nbuckets, sizeof(*b->hash));
	b->cap = RING_MIN;
	b->ring = calloc(b->cap, sizeof(*b->ring));
	if (!b->hash || !b->ring) {
		remote_book_free(b);
		return -ENOMEM;
	}
	b->tail = b->next_send = b->next_id = 1;
	snprintf(b->down_why, sizeof(b->down_why), "no session yet");
	*out = b;
	return 0;
}

static void job_free(struct book_job *j)
{
	free(j->entries);
	free(j);
}

void remote_book_free(struct remote_book *b)
{
	if (!b)
		return;
	while (b->done_head) {
		struct book_job *j = b->done_head;

		b->done_head = j->next;
		job_free(j);
	}
	/* a job still unanswered is referenced once per answer due: by the
	 * pinhole its add waits for, or by the request that answers it */
	for (struct book_ph *p = b->all; p; p = p->next)
		if (p->wjob && !--p->wjob->left)
			job_free(p->wjob);
	for (uint64_t id = b->tail; b->ring && id < b->next_id; id++) {
		struct book_req *r = req_of(b, id);

		if (r && r->job && !--r->job->left)
			job_free(r->job);
	}
	while (b->all) {
		b->all->wjob = NULL;
		ph_remove(b, b->all);
	}
	free(b->hash);
	free(b->ring);
	free(b);
}

static void submit_add(struct remote_book *b, struct book_job *j, size_t i, uint64_t now)
{
	struct pinhole_op *op = &j->job.ops[i];
	struct book_ph *p = ph_find(b, &op->ph);
	struct book_req *r;

	if (p) {	/* held already (the engine never does this): as it is */
		op_done(b, j, i, 0, NULL);
		return;
	}
	if (b->count >= REMOTE_BOOK_MAX_PINHOLES) {
		op_done(b, j, i, -ENFILE, "the site forwarder holds its maximum of pinholes");
		return;
	}
	p = ph_insert(b, &op->ph);
	if (!p) {
		op_done(b, j, i, -ENOMEM, "out of memory");
		return;
	}
	p->state = REMOTE_SITE_PENDING;
	p->wjob = j;
	p->wop = i;
	switch (b->link) {
	case L_READY:
		r = req_new(b, R_OPEN, &p->ph);
		if (!r) {
			wait_done(b, p, -ENOMEM, "out of memory");
			ph_remove(b, p);
			return;
		}
		r->ph = p;
		p->req = r->id;
		snprintf(p->reason, sizeof(p->reason), "asked the site");
		break;
	case L_WAIT:
		b->n_waiting++;
		p->wdeadline = now + b->cfg.request_timeout_ms;
		if (b->n_waiting == 1 || p->wdeadline < b->wait_min)
			b->wait_min = p->wdeadline;
		snprintf(p->reason, sizeof(p->reason), "waiting for the session to the site");
		break;
	case L_DOWN:
		b->n_waiting++;		/* unreachable() settles it at once */
		unreachable(b, p, -EHOSTUNREACH, b->down_why);
		break;
	}
}

static void submit_del(struct remote_book *b, struct book_job *j, size_t i)
{
	struct pinhole_op *op = &j->job.ops[i];
	struct book_ph *p = ph_find(b, &op->ph);
	struct book_req *r;

	if (p) {
		wait_done(b, p, 0, NULL);
		ph_remove(b, p);
	}
	/* not READY: gone here is enough; the next SYNC, or the lease, clears
	 * it at the site */
	if (b->link != L_READY) {
		op_done(b, j, i, 0, NULL);
		return;
	}
	r = req_new(b, R_CLOSE, &op->ph);
	if (!r) {
		b->want_sync = true;	/* the SYNC will close it */
		op_done(b, j, i, 0, NULL);
		return;
	}
	r->job = j;
	r->op = i;
}

int remote_book_submit(struct remote_book *b, const struct enforcer_job *job, uint64_t now)
{
	struct book_job *j;
	size_t k = 0;

	/* room for one request per op (and the SYNC a flush needs) */
	if (b->next_id - b->tail + job->n + 2 > REMOTE_BOOK_MAX_REQUESTS)
		return -EBUSY;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->job = *job;
	switch (job->type) {
	case ENFORCER_BATCH:
		j->left = job->n + 1;	/* +1: not finished while ops are handed out */
		for (size_t i = 0; i < job->n; i++) {
			job->ops[i].err = 0;
			if (job->ops[i].type == PINHOLE_ADD)
				submit_add(b, j, i, now);
			else
				submit_del(b, j, i);
		}
		op_done(b, j, NO_OP, 0, NULL);
		break;
	case ENFORCER_READ:
		j->entries = calloc(b->count ? b->count : 1, sizeof(*j->entries));
		if (!j->entries) {
			free(j);
			return -ENOMEM;
		}
		for (struct book_ph *p = b->all; p; p = p->next) {
			j->entries[k].ph = p->ph;
			j->entries[k].owner_known = true;
			k++;
		}
		j->n_entries = k;
		job_finish(b, j);
		break;
	case ENFORCER_FLUSH:
		while (b->all) {
			wait_done(b, b->all, 0, NULL);
			ph_remove(b, b->all);
		}
		j->left = 1;
		if (b->link != L_READY || queue_sync(b, j))
			op_done(b, j, NO_OP, 0, NULL);
		break;
	default:	/* SETUP, CHECK: nothing of ours to set up or to lose */
		job_finish(b, j);
		break;
	}
	return 0;
}

bool remote_book_has_done(const struct remote_book *b)
{
	return b->done_head != NULL;
}

unsigned remote_book_deliver(struct remote_book *b, struct enforcer *e,
			     const struct enforcer_sink *sink)
{
	unsigned n = 0;

	/* one at a time: a sink's submit may finish more jobs meanwhile */
	while (b->done_head) {
		struct book_job *j = b->done_head;
		struct enforcer_done d = { .job = &j->job, .msg = "", .intact = true };

		b->done_head = j->next;
		if (!b->done_head)
			b->done_tail = NULL;
		for (size_t i = 0; i < j->n_entries; i++)
			sink->entry(e, j->job.tag, &j->entries[i], sink->arg);
		d.err = j->err;
		if (j->err)
			d.msg = j->msg;
		sink->done(e, &d, sink->arg);
		job_free(j);
		n++;
	}
	return n;
}

void remote_book_link_connecting(struct remote_book *b, bool wait)
{
	b->link = wait ? L_WAIT : L_DOWN;
}

void remote_book_link_ready(struct remote_book *b, const char *site, uint64_t now)
{
	b->link = L_READY;
	snprintf(b->site, sizeof(b->site), "%s", site);
	b->next_renew = now + (uint64_t)b->cfg.lease_s * 1000 / 3;
	if (queue_sync(b, NULL))
		b->want_sync = true;	/* retried at the next tick */
}

void remote_book_link_down(struct remote_book *b, int err, const char *why, uint64_t now)
{
	char was[REMOTE_BOOK_REASON_LEN];

	(void)now;
	b->link = L_DOWN;
	snprintf(b->down_why, sizeof(b->down_why), "%s", why);
	snprintf(was, sizeof(was), "the session to the site is down (%.80s); announced again "
		 "once it is back", why);
	/* what was asked and not answered: as if it had never been sent */
	for (uint64_t id = b->tail; id < b->next_id; id++) {
		struct book_req *r = req_of(b, id);

		if (!r)
			continue;
		if (r->ph)
			r->ph->req = 0;
		if (r->ph && r->ph->wjob)
			b->n_waiting++;		/* unreachable() below settles it */
		if (r->job)
			op_done(b, r->job, r->op, 0, NULL);
		r->id = 0;
		r->type = R_FREE;
	}
	b->tail = b->next_send = b->next_id;
	b->sync_inflight = false;
	for (struct book_ph *p = b->all, *next; p; p = next) {
		next = p->next;
		if (p->wjob) {
			unreachable(b, p, err, why);
		} else if (p->state != REMOTE_SITE_FAILED) {
			p->state = REMOTE_SITE_ABSENT;
			snprintf(p->reason, sizeof(p->reason), "%s", was);
		}
	}
}

int remote_book_next(struct remote_book *b, struct remote_msg *m)
{
	static const enum remote_msg_type types[] = {
		[R_OPEN] = REMOTE_MSG_OPEN, [R_CLOSE] = REMOTE_MSG_CLOSE, [R_HOLD] = REMOTE_MSG_HOLD,
		[R_SYNC_BEGIN] = REMOTE_MSG_SYNC_BEGIN, [R_SYNC_END] = REMOTE_MSG_SYNC_END,
		[R_RENEW] = REMOTE_MSG_RENEW,
	};

	if (b->link != L_READY)
		return -EAGAIN;
	while (b->next_send < b->next_id) {
		struct book_req *r = req_of(b, b->next_send);

		/* an OPEN or HOLD whose pinhole went before it was sent: the
		 * site need not hear of it (the close follows, or the SYNC omits it) */
		if (r && (r->type == R_OPEN || r->type == R_HOLD) && !r->ph && !r->keep) {
			b->next_send++;
			req_free(b, r);
			continue;
		}
		if (!r) {
			b->next_send++;
			continue;
		}
		memset(m, 0, sizeof(*m));
		m->type = types[r->type];
		m->id = r->id;
		m->ph = r->key;
		if (r->type == R_OPEN || r->type == R_HOLD || r->type == R_RENEW)
			m->lease_s = b->cfg.lease_s;
		return 0;
	}
	return -EAGAIN;
}

void remote_book_sent(struct remote_book *b, uint64_t now)
{
	struct book_req *r = req_of(b, b->next_send);

	if (r)
		r->deadline = now + b->cfg.request_timeout_ms;
	if (b->next_send < b->next_id)
		b->next_send++;
}

int remote_book_reply(struct remote_book *b, const struct remote_msg *m, uint64_t now)
{
	struct book_req *r = req_of(b, m->id);
	int err = m->type == REMOTE_MSG_ERR ? -m->err : 0;
	const char *name = remote_errno_name(m->err);
	char msg[REMOTE_BOOK_REASON_LEN];
	struct book_ph *p;
	bool waited;

	(void)now;
	if (!r || !r->deadline)
		return -ENOENT;
	snprintf(msg, sizeof(msg), "site %.40s refused it: %s%s%.90s", b->site, name ? name : "?",
		 m->text[0] ? " " : "", m->text);
	switch (r->type) {
	case R_OPEN:
	case R_HOLD:
		/* held already is held; ENOENT must not read as "our table is gone" */
		if (err == -EEXIST)
			err = 0;
		else if (err == -ENOENT)
			err = -EREMOTEIO;
		p = r->ph;
		if (r->type == R_OPEN)
			b->st.opens++;
		if (err)
			b->st.refused++;
		if (!p)
			break;
		p->state = err ? REMOTE_SITE_FAILED : REMOTE_SITE_OPEN;
		snprintf(p->reason, sizeof(p->reason), "%s", err ? msg : "");
		waited = p->wjob != NULL;
		/* answered while p->req still counts it as asked */
		wait_done(b, p, err, msg);
		p->req = 0;
		/* the engine drops a refused add: so do we; a refused HOLD of
		 * one held long since stays, failed, for dyperctl to show */
		if (err && waited)
			ph_remove(b, p);
		break;
	case R_CLOSE:
		b->st.closes++;
		/* the site still holding it would keep it while leases renew:
		 * a SYNC makes it converge */
		if (err && err != -ENOENT)
			b->want_sync = true;
		op_done(b, r->job, r->op, 0, NULL);
		break;
	case R_SYNC_END:
		b->sync_inflight = false;
		if (r->job)
			op_done(b, r->job, NO_OP, 0, NULL);
		break;
	case R_RENEW:
		b->st.renews++;
		break;
	default:
		break;
	}
	req_free(b, r);
	return 0;
}

int remote_book_tick(struct remote_book *b, uint64_t now, char *why, size_t len)
{
	static const char *const names[] = {
		[R_OPEN] = "OPEN", [R_CLOSE] = "CLOSE", [R_HOLD] = "HOLD",
		[R_SYNC_BEGIN] = "SYNC BEGIN", [R_SYNC_END] = "SYNC END", [R_RENEW] = "RENEW",
	};
	struct book_req *r;

	if (b->n_waiting && now >= b->wait_min) {
		char msg[REMOTE_BOOK_REASON_LEN];

		snprintf(msg, sizeof(msg), "no session with the site within %u ms (%.100s)",
			 b->cfg.request_timeout_ms, b->down_why);
		b->wait_min = UINT64_MAX;
		for (struct book_ph *p = b->all, *next; p; p = next) {
			next = p->next;
			if (!p->wjob || p->req)
				continue;
			if (p->wdeadline <= now)
				unreachable(b, p, -ETIMEDOUT, msg);
			else if (p->wdeadline < b->wait_min)
				b->wait_min = p->wdeadline;
		}
	}
	while (b->tail < b->next_send && !req_of(b, b->tail))
		b->tail++;
	r = req_of(b, b->tail);
	if (r && r->deadline && now >= r->deadline) {
		b->st.timeouts++;
		snprintf(why, len, "the site did not answer request %llu (%s) within %u ms",
			 (unsigned long long)r->id, names[r->type], b->cfg.request_timeout_ms);
		return -ETIMEDOUT;
	}
	if (b->link != L_READY)
		return 0;
	if (now >= b->next_renew) {
		b->next_renew = now + (uint64_t)b->cfg.lease_s * 1000 / 3;
		if (!req_new(b, R_RENEW, NULL))
			b->want_sync = true;
	}
	if (b->want_sync && !b->sync_inflight && queue_sync(b, NULL))
		b->want_sync = true;
	return 0;
}

uint64_t remote_book_deadline(const struct remote_book *b)
{
	uint64_t t = UINT64_MAX;
	const struct book_req *r;

	if (b->n_waiting && b->wait_min < t)
		t = b->wait_min;
	for (uint64_t id = b->tail; id < b->next_send; id++) {
		r = req_of(b, id);
		if (r) {
			if (r->deadline && r->deadline < t)
				t = r->deadline;
			break;
		}
	}
	if (b->link == L_READY) {
		if (b->next_renew < t)
			t = b->next_renew;
		if (b->want_sync && !b->sync_inflight)
			t = 0;
	}
	return t;
}

enum remote_site_state remote_book_state(const struct remote_book *b, const struct pinhole *ph,
					 char *reason, size_t len)
{
	const struct book_ph *p = ph_find(b, ph);

	if (reason && len)
		snprintf(reason, len, "%s", p ? p->reason : "");
	return p ? p->state : REMOTE_SITE_NONE;
}

const char *remote_site_state_name(enum remote_site_state st)
{
	switch (st) {
	case REMOTE_SITE_NONE:
		return "none";
	case REMOTE_SITE_PENDING:
		return "pending";
	case REMOTE_SITE_OPEN:
		return "open at site";
	case REMOTE_SITE_FAILED:
		return "failed";
	case REMOTE_SITE_ABSENT:
		return "not at site";
	}
	return "?";
}

void remote_book_stats(const struct remote_book *b, struct remote_book_stats *st)
{
	*st = b->st;
	st->pinholes = b->count;
	st->inflight = 0;
	for (uint64_t id = b->tail; id < b->next_id; id++)
		if (req_of(b, id))
			st->inflight++;
	st->unsent = (size_t)(b->next_id - b->next_send);
}
