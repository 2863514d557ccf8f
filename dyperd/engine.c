// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pinhole engine: dyperd's table is the intended state, the kernel's
 * set is where it takes effect.  Requests change the table at once and
 * queue a kernel operation; at the end of each loop iteration all queued
 * operations go to the kernel in one transaction (adaptive batching), and
 * only then are the requesters answered: a pinhole is open when its reply
 * says so.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "dyperd/daemon.h"
#include "dyperd/diag.h"
#include "dyperd/log.h"

#define NO_ENTRY UINT32_MAX
#define PENDING_KEEP 4096	/* queued operations kept allocated between commits */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000u;
}

/* --- replies ------------------------------------------------------------------ */

void reply_send(struct dyperd *d, struct reply_to *r, int status, uint32_t id,
		uint32_t lifetime_ms, const char *reason)
{
	struct dyper_reply rep = { .status = status, .pinhole_id = id, .lifetime_ms = lifetime_ms };
	char buf[sizeof(struct dyper_hdr) + sizeof(rep)];
	int fd = r->fd >= 0 ? r->fd : r->ch ? r->ch->fd : -1;
	int len;

	snprintf(rep.reason, sizeof(rep.reason), "%s", reason ? reason : "");
	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_REPLY, 0, r->msg_id, &rep, sizeof(rep));
	if (fd >= 0 && len > 0 && send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_msg(errno == EAGAIN ? LOG_WARNING : LOG_DEBUG, "reply to request %u lost: %s%s",
			r->msg_id, strerror(errno),
			errno == EAGAIN ? " (the requester does not read its replies)" : "");
	if (r->t_start_ns) {
		uint64_t us = (now_ns() - r->t_start_ns) / 1000;

		d->st.lat_us[d->st.lat_n++ % LAT_RING] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->ch = NULL;
}

void engine_forget_channel(struct dyperd *d, struct channel *ch)
{
	for (size_t i = 0; i < d->n_pending; i++)
		if (d->pending[i].reply.ch == ch)
			d->pending[i].reply.ch = NULL;
	for (size_t i = 0; i < d->n_waiting; i++) {
		struct waiting *w = &d->waiting[(d->wait_head + i) % d->cfg.queue_max];

		if (w->reply.ch == ch)
			w->reply.ch = NULL;
	}
}

/* --- queueing kernel operations -------------------------------------------------- */

static struct pending *push(struct dyperd *d, enum pinhole_op_type type, uint32_t idx,
			    const struct pinhole *ph)
{
	struct pending *p;

	if (d->n_pending == d->cap_pending) {
		size_t cap = d->cap_pending ? 2 * d->cap_pending : 256;
		struct pending *v = realloc(d->pending, cap * sizeof(*v));

		if (!v)
			return NULL;
		d->pending = v;
		d->cap_pending = cap;
	}
	p = &d->pending[d->n_pending++];
	memset(p, 0, sizeof(*p));
	p->op.type = type;
	p->op.ph = *ph;
	p->idx = idx;
	p->origin = OP_INTERNAL;
	p->reply.fd = -1;
	return p;
}

/* Queues the delete of table entry @idx, for dyperd's own reasons. */
static void close_entry(struct dyperd *d, uint32_t idx, const char *reason)
{
	struct ph_entry *e = &d->table.v[idx];
	struct pending *p;

	if (e->state == PH_CLOSING)
		return;
	p = push(d, PINHOLE_DEL, idx, &e->ph);
	if (!p) {
		log_err("out of memory queueing the close of pinhole %u", e->id);
		return;
	}
	e->state = PH_CLOSING;
	p->reason = reason;
}

static void reply_err(struct dyperd *d, struct reply_to *r, int err, const char *why)
{
	d->st.refusals++;
	reply_send(d, r, err, 0, 0, why);
}

static void admit(struct dyperd *d, const struct pinhole *ph, uint32_t rule_line,
		  uint32_t lifetime_ms, bool oneshot, struct reply_to *reply)
{
	uint64_t now = now_ms();
	struct pending *p;
	struct ph_entry *e;
	int idx;

	idx = table_add(&d->table, ph, rule_line, lifetime_ms ? now + lifetime_ms : 0);
	if (idx < 0) {
		reply_err(d, reply, -ENOMEM, "dyperd is out of memory");
		return;
	}
	e = &d->table.v[idx];
	e->state = PH_PENDING;
	e->oneshot = oneshot;
	e->ph.timeout_ms = lifetime_ms;
	p = push(d, PINHOLE_ADD, (uint32_t)idx, &e->ph);
	if (!p) {
		table_del(&d->table, (uint32_t)idx);
		reply_err(d, reply, -ENOMEM, "dyperd is out of memory");
		return;
	}
	p->origin = OP_AGENT;
	p->reply = *reply;
	reply->fd = -1;
}

/*
 * True if the socket entry @e was opened for is gone, by the kernel's
 * word (sock_diag, filtered by port), not by the destroy notifications,
 * which the kernel sends from a work queue some time after close().  If
 * the kernel cannot be asked, the old holder is taken as alive: refusing
 * is the safe side.
 */
static bool holder_gone(const struct ph_entry *e)
{
	int alive = diag_socket_alive(e->ph.proto, e->ph.local_port, e->ph.owner.sock_cookie);

	if (alive < 0)
		log_warn("cannot ask the kernel whether the socket of pinhole %u lives: %s", e->id,
			 strerror(-alive));
	return alive == 0;
}

void engine_request_open(struct dyperd *d, const struct pinhole *ph, uint32_t rule_line,
			 uint32_t lifetime_ms, bool oneshot, struct reply_to *reply)
{
	int idx = table_find(&d->table, ph);

	if (idx >= 0) {
		struct ph_entry *e = &d->table.v[idx];

		/* the same socket asking again: idempotent */
		if (e->ph.owner.sock_cookie == ph->owner.sock_cookie) {
			if (e->state == PH_OPEN)
				reply_send(d, reply, 0, e->id, e->ph.timeout_ms, "already open");
			else
				reply_err(d, reply, -EADDRINUSE, "this pinhole is held by another socket");
			return;
		}
		if (!holder_gone(e)) {
			reply_err(d, reply, -EADDRINUSE, "this pinhole is held by another socket");
			return;
		}
		/* Its holder closed, and the port was bound again before the
		 * kernel's destroy notification came in.  The delete goes first
		 * in this loop's transaction, the new pinhole right after it:
		 * the same key, replaced in one commit. */
		close_entry(d, (uint32_t)idx, "stale: its socket is gone (the port was bound again)");
	}
	if (d->table.count >= d->cfg.capacity) {
		struct waiting *w;

		if (d->n_waiting >= d->cfg.queue_max) {
			reply_err(d, reply, -ENOSPC, "pinhole capacity reached and the wait queue is full");
			return;
		}
		w = &d->waiting[(d->wait_head + d->n_waiting++) % d->cfg.queue_max];
		w->ph = *ph;
		w->rule_line = rule_line;
		w->lifetime_ms = lifetime_ms;
		w->oneshot = oneshot;
		w->deadline_ms = now_ms() + d->cfg.queue_timeout_ms;
		w->reply = *reply;
		reply->fd = -1;
		d->st.queued++;
		log_info("capacity %u reached: request of pid %u waits", d->cfg.capacity,
			 ph->owner.pid);
		return;
	}
	admit(d, ph, rule_line, lifetime_ms, oneshot, reply);
}

void engine_request_close(struct dyperd *d, const struct pinhole *ph, uid_t uid,
			  struct reply_to *reply)
{
	int idx = table_find(&d->table, ph);
	struct ph_entry *e;
	struct pending *p;

	if (idx < 0) {
		reply_err(d, reply, -ENOENT, "no such pinhole");
		return;
	}
	e = &d->table.v[idx];
	if (uid != 0 && e->ph.owner.uid != uid) {
		reply_err(d, reply, -EPERM, "the pinhole belongs to another user");
		return;
	}
	if (e->state == PH_CLOSING) {
		reply_send(d, reply, 0, e->id, 0, "already closing");
		return;
	}
	p = push(d, PINHOLE_DEL, (uint32_t)idx, &e->ph);
	if (!p) {
		reply_err(d, reply, -ENOMEM, "dyperd is out of memory");
		return;
	}
	e->state = PH_CLOSING;
	p->origin = OP_AGENT;
	p->reason = "closed by its owner";
	p->reply = *reply;
	reply->fd = -1;
}

/* Moves waiting requests in while there is room. */
static void admit_waiting(struct dyperd *d)
{
	while (d->n_waiting && d->table.count < d->cfg.capacity) {
		struct waiting w = d->waiting[d->wait_head];

		d->wait_head = (d->wait_head + 1) % d->cfg.queue_max;
		d->n_waiting--;
		if (table_find(&d->table, &w.ph) >= 0) {
			reply_err(d, &w.reply, -EADDRINUSE, "this pinhole is held by another socket");
			continue;
		}
		admit(d, &w.ph, w.rule_line, w.lifetime_ms, w.oneshot, &w.reply);
	}
}

/* --- committing -------------------------------------------------------------------- */

static void finish(struct dyperd *d, struct pending *p, int err)
{
	struct ph_entry *e = p->idx == NO_ENTRY ? NULL : &d->table.v[p->idx];
	char what[PINHOLE_STR_LEN];

	if (p->op.type == PINHOLE_ADD) {
		if (!err) {
			if (e->state == PH_PENDING)
				e->state = PH_OPEN;
			if (p->origin == OP_AGENT) {
				d->st.opens++;
				log_event("open", &e->ph, e->id, "granted");
				reply_send(d, &p->reply, 0, e->id, e->ph.timeout_ms, "open");
			} else {
				log_event("repair", &e->ph, e->id, "re-added after it vanished from the kernel");
			}
			return;
		}
		pinhole_format(&p->op.ph, what, sizeof(what));
		log_warn("cannot open pinhole %s for pid %u: %s", what, p->op.ph.owner.pid,
			 nft_enforcer_error(d->enf));
		d->st.errors++;
		if (p->origin == OP_AGENT)
			reply_send(d, &p->reply, err, 0, 0, "the kernel refused the pinhole");
		if (e)
			table_del(&d->table, p->idx);
		return;
	}

	/* deletes: a pinhole already gone from the kernel is closed all the same */
	if (err == -ENOENT)
		err = 0;
	if (err) {
		pinhole_format(&p->op.ph, what, sizeof(what));
		log_err("cannot close pinhole %s: %s", what, nft_enforcer_error(d->enf));
		d->st.errors++;
		if (e)
			e->state = PH_OPEN;
		if (p->origin == OP_AGENT)
			reply_send(d, &p->reply, err, 0, 0, "the kernel refused to close the pinhole");
		return;
	}
	if (p->reason && !strncmp(p->reason, "stale", 5))
		d->st.stale++;
	else if (p->reason && !strcmp(p->reason, "expired"))
		d->st.expired++;
	else
		d->st.closes++;
	log_event(p->reason && !strncmp(p->reason, "stale", 5) ? "stale" : "close",
		  &p->op.ph, e ? e->id : 0, p->reason ? p->reason : "closed");
	if (p->origin == OP_AGENT)
		reply_send(d, &p->reply, 0, e ? e->id : 0, 0, "closed");
	if (e)
		table_del(&d->table, p->idx);
}

/*
 * The table, or one of its sets, is gone: an add refused with ENOENT
 * (the only reason the kernel has for it), or a failure no op is blamed
 * for that may mean the same.  Without the owner flag anyone may delete
 * them (owner = no).
 */
static bool table_gone(const struct pinhole_op *ops, size_t n, int err, bool blamed)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].type == PINHOLE_ADD && ops[i].err == -ENOENT)
			return true;
	return !blamed && (err == -ENOENT || err == -EPROTO || err == -ENOBUFS);
}

/* Commits pending[@idx[0..n)] in one transaction; the ops the kernel
 * refused are finished with their error and the rest retried, so one bad
 * request never sinks the others.  When the table is found gone, it is
 * set up again and the whole batch retried, once. */
static void commit_some(struct dyperd *d, size_t *idx, size_t n, struct pinhole_op *ops)
{
	bool repaired = false;

	while (n) {
		size_t keep = 0;
		bool blamed = false;
		int err;

		for (size_t i = 0; i < n; i++)
			ops[i] = d->pending[idx[i]].op;
		err = nft_enforcer_commit(d->enf, ops, n);
		d->st.batches++;
		if (!err) {
			d->st.batch_ops += n;
			if (n > d->st.batch_max)
				d->st.batch_max = n;
			for (size_t i = 0; i < n; i++)
				finish(d, &d->pending[idx[i]], 0);
			return;
		}
		for (size_t i = 0; i < n; i++)
			blamed |= ops[i].err != 0;
		if (!repaired && table_gone(ops, n, err, blamed)) {
			char what[512];

			repaired = true;
			snprintf(what, sizeof(what), "%s", nft_enforcer_error(d->enf));
			if (nft_enforcer_setup(d->enf) == 0) {
				log_warn("repair: a transaction of %zu pinhole operations failed (%s): "
					 "table set up again, retrying them", n, what);
				log_event("repair", NULL, 0, what);
				d->st.repairs++;
				d->need_reconcile = true;	/* what else vanished with it */
				continue;
			}
			log_err("repair failed: %s", nft_enforcer_error(d->enf));
		}
		for (size_t i = 0; i < n; i++) {
			if (ops[i].err)
				finish(d, &d->pending[idx[i]], ops[i].err);
			else
				idx[keep++] = idx[i];
		}
		if (keep == n) {
			for (size_t i = 0; i < n; i++)
				finish(d, &d->pending[idx[i]], err);
			return;
		}
		n = keep;
	}
}

void engine_commit(struct dyperd *d)
{
	struct pinhole_op *ops = NULL;
	size_t *idx = NULL;

	while (d->n_pending) {
		size_t total = d->n_pending, bmax = d->cfg.batch_max;

		size_t want = total < bmax ? total : bmax;
		struct pinhole_op *nops = realloc(ops, want * sizeof(*ops));
		size_t *nidx = nops ? realloc(idx, want * sizeof(*idx)) : NULL;

		if (nops)
			ops = nops;
		if (nidx)
			idx = nidx;
		if (!nops || !nidx) {
			log_err("out of memory committing %zu pinhole operations", total);
			for (size_t i = 0; i < total; i++)
				finish(d, &d->pending[i], -ENOMEM);
			d->n_pending = 0;
			break;
		}
		for (size_t start = 0; start < total; start += bmax) {
			size_t n = total - start < bmax ? total - start : bmax;

			for (size_t i = 0; i < n; i++)
				idx[i] = start + i;
			commit_some(d, idx, n, ops);
		}
		/* finishing may not queue more, but admitting waiting requests does */
		memmove(d->pending, d->pending + total, (d->n_pending - total) * sizeof(*d->pending));
		d->n_pending -= total;
		admit_waiting(d);
	}
	free(ops);
	free(idx);
	/* a burst (a socket that held many pinholes, closed) must not keep its
	 * peak of queued operations resident for good */
	if (d->cap_pending > PENDING_KEEP) {
		free(d->pending);
		d->pending = NULL;
		d->cap_pending = 0;
	}
}

/* --- cleanup ------------------------------------------------------------------------ */

static void gone_cb(struct ph_table *t, uint32_t idx, void *arg)
{
	close_entry(arg, idx, "its socket was closed");
}

/*
 * Refuses and drops the waiting requests whose socket @gone says is
 * closed: admitted later, they would open a pinhole to a socket that no
 * longer exists, and nothing would close it before the next reconcile.
 */
static void drop_waiting(struct dyperd *d, bool (*gone)(uint64_t cookie, const void *arg),
			 const void *arg)
{
	size_t keep = 0, q = d->cfg.queue_max;

	for (size_t i = 0; i < d->n_waiting; i++) {
		struct waiting *w = &d->waiting[(d->wait_head + i) % q];

		if (gone(w->ph.owner.sock_cookie, arg)) {
			reply_err(d, &w->reply, -ECONNRESET,
				  "its socket was closed while the request waited");
			continue;
		}
		if (keep != i)
			d->waiting[(d->wait_head + keep) % q] = *w;
		keep++;
	}
	d->n_waiting = keep;
}

static bool cookie_is(uint64_t cookie, const void *arg)
{
	return cookie == *(const uint64_t *)arg;
}

static bool cookie_dead(uint64_t cookie, const void *arg)
{
	return !cookie_set_has(arg, cookie);
}

void engine_socket_gone(struct dyperd *d, uint64_t cookie)
{
	table_each_cookie(&d->table, cookie, gone_cb, d);
	drop_waiting(d, cookie_is, &cookie);
}

struct reconcile_ctx {
	struct dyperd *d;
	struct pinhole *foreign;
	size_t n_foreign, cap_foreign;
	int err;
};

static int reconcile_cb(const struct pinhole_entry *pe, void *arg)
{
	struct reconcile_ctx *rc = arg;
	int idx = table_find(&rc->d->table, &pe->ph);

	if (idx >= 0) {
		rc->d->table.v[idx].seen = true;
		return 0;
	}
	if (rc->n_foreign == rc->cap_foreign) {
		size_t cap = rc->cap_foreign ? 2 * rc->cap_foreign : 64;
		struct pinhole *v = realloc(rc->foreign, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rc->foreign = v;
		rc->cap_foreign = cap;
	}
	rc->foreign[rc->n_foreign++] = pe->ph;
	return 0;
}

int engine_reconcile(struct dyperd *d)
{
	struct reconcile_ctx rc = { .d = d };
	struct cookie_set live = { 0 };
	bool full = d->need_reconcile;
	int err;

	d->need_reconcile = false;
	for (uint32_t i = 0; i < d->table.cap; i++)
		d->table.v[i].seen = false;
	err = diag_live(&live);
	if (err) {
		log_err("cannot list the live sockets: %s", strerror(-err));
		return err;
	}
	/*
	 * An owned table's elements change only through our commits and their
	 * timeouts: without a reason to doubt them, check only that the
	 * sockets still live (dumping 100k elements costs the loop ~0.6 s).
	 */
	if (full || !nft_enforcer_owned(d->enf)) {
		err = nft_enforcer_dump(d->enf, reconcile_cb, &rc);
		if (err) {
			log_err("cannot dump the pinholes: %s", nft_enforcer_error(d->enf));
			goto out;
		}
	} else {
		for (uint32_t i = 0; i < d->table.cap; i++)
			d->table.v[i].seen = true;
	}
	/* notifications may have been lost for waiting requests too */
	drop_waiting(d, cookie_dead, &live);
	/* in the kernel but not ours: leftovers or foreign elements */
	for (size_t i = 0; i < rc.n_foreign; i++) {
		struct pending *p = push(d, PINHOLE_DEL, NO_ENTRY, &rc.foreign[i]);

		if (p)
			p->reason = "stale: in the kernel but not in dyperd's table";
	}
	for (uint32_t i = 0; i < d->table.cap; i++) {
		struct ph_entry *e = &d->table.v[i];

		if (!e->used || e->state != PH_OPEN)
			continue;
		if (!cookie_set_has(&live, e->ph.owner.sock_cookie)) {
			close_entry(d, i, "stale: its socket is gone");
		} else if (!e->seen) {
			char what[PINHOLE_STR_LEN];

			pinhole_format(&e->ph, what, sizeof(what));
			log_warn("repair: pinhole %u (%s) vanished from the kernel; adding it again",
				 e->id, what);
			d->st.repairs++;
			if (!push(d, PINHOLE_ADD, i, &e->ph))
				err = -ENOMEM;
		}
	}
	engine_commit(d);
out:
	free(rc.foreign);
	cookie_set_free(&live);
	d->next_reconcile_ms = now_ms() + d->cfg.reconcile_ms;
	return err;
}

static void check_tamper(struct dyperd *d)
{
	bool changed = false, intact = true;
	char what[512];

	if (nft_enforcer_foreign_change(d->enf, &changed) || !changed)
		return;
	if (nft_enforcer_check(d->enf, &intact)) {
		log_err("cannot check the table: %s", nft_enforcer_error(d->enf));
		return;
	}
	if (intact) {
		/* Someone changed another table, or (without the owner flag) maybe
		 * our pinholes; an owned table's elements are ours alone. */
		if (!nft_enforcer_owned(d->enf))
			d->need_reconcile = true;
		return;
	}
	snprintf(what, sizeof(what), "%s", nft_enforcer_error(d->enf));
	log_warn("repair: %s; restoring the table", what);
	log_event("repair", NULL, 0, what);
	d->st.repairs++;
	if (nft_enforcer_setup(d->enf)) {
		log_err("repair failed: %s", nft_enforcer_error(d->enf));
		return;
	}
	/* our own repair bumped the generation: don't count it as foreign */
	nft_enforcer_foreign_change(d->enf, &changed);
	d->need_reconcile = true;	/* a full one: elements may be gone too */
	engine_reconcile(d);
}

void engine_tick(struct dyperd *d)
{
	uint64_t now = now_ms();

	/* lifetimes: the kernel times the element out too; close ours in step */
	if (d->table.n_expiring) {
		for (uint32_t i = 0; i < d->table.cap; i++) {
			struct ph_entry *e = &d->table.v[i];

			if (e->used && e->expires_ms && e->expires_ms <= now && e->state == PH_OPEN)
				close_entry(d, i, "expired");
		}
	}
	while (d->n_waiting) {
		struct waiting *w = &d->waiting[d->wait_head];

		if (w->deadline_ms > now)
			break;
		d->st.queue_timeouts++;
		reply_err(d, &w->reply, -ENOSPC, "pinhole capacity reached: waited too long");
		d->wait_head = (d->wait_head + 1) % d->cfg.queue_max;
		d->n_waiting--;
	}
	if (now >= d->next_tamper_ms) {
		d->next_tamper_ms = now + d->cfg.tamper_check_ms;
		check_tamper(d);
	}
	if (d->need_reconcile || now >= d->next_reconcile_ms)
		engine_reconcile(d);
	engine_commit(d);
}

int engine_close_id(struct dyperd *d, uint32_t id, char *why, size_t len)
{
	int idx = table_find_id(&d->table, id);

	if (idx < 0) {
		snprintf(why, len, "no pinhole with id %u", id);
		return -ENOENT;
	}
	close_entry(d, (uint32_t)idx, "closed by the administrator");
	engine_commit(d);
	if (table_find_id(&d->table, id) >= 0) {
		snprintf(why, len, "the kernel refused: %s", nft_enforcer_error(d->enf));
		return -EIO;
	}
	snprintf(why, len, "closed pinhole %u", id);
	return 0;
}

/* --- start and stop ---------------------------------------------------------------- */

struct adopt_ctx {
	struct dyperd *d;
	struct cookie_set *live;
	unsigned adopted, dropped;
};

static int adopt_cb(const struct pinhole_entry *pe, void *arg)
{
	struct adopt_ctx *ac = arg;
	struct dyperd *d = ac->d;
	uint64_t now = now_ms();
	int idx;

	if (pe->owner_known && cookie_set_has(ac->live, pe->ph.owner.sock_cookie) &&
	    table_find(&d->table, &pe->ph) < 0) {
		idx = table_add(&d->table, &pe->ph, 0,
				pe->ph.timeout_ms ? now + (pe->expires_ms ? pe->expires_ms : 1) : 0);
		if (idx < 0)
			return -ENOMEM;
		d->table.v[idx].state = PH_OPEN;
		ac->adopted++;
		return 0;
	}
	if (push(d, PINHOLE_DEL, NO_ENTRY, &pe->ph))
		d->pending[d->n_pending - 1].reason = "stale: its socket is gone (found at start)";
	ac->dropped++;
	return 0;
}

int engine_start(struct dyperd *d)
{
	struct cookie_set live = { 0 };
	struct adopt_ctx ac = { .d = d, .live = &live };
	bool changed;
	int err;

	d->waiting = calloc(d->cfg.queue_max ? d->cfg.queue_max : 1, sizeof(*d->waiting));
	if (!d->waiting || table_init(&d->table))
		return -ENOMEM;
	err = nft_enforcer_setup(d->enf);
	if (err) {
		log_err("%s", nft_enforcer_error(d->enf));
		return err;
	}
	log_info("table inet %s ready%s", d->cfg.enforcer.table,
		 nft_enforcer_owned(d->enf) ? " (owned by dyperd: others cannot change it)" :
		 d->cfg.enforcer.owner == NFT_OWNER_OFF ?
		 " (not owned: owner = no; tampering is detected and repaired)" :
		 " (not owned: the kernel has no persist flag, or the existing table was made "
		 "without it (delete it once while dyperd is stopped); tampering is detected "
		 "and repaired)");
	/* The destroy listener is already subscribed, so a socket that dies
	 * from here on is either in this list or announced. */
	err = diag_live(&live);
	if (err) {
		log_err("cannot list live sockets (sock_diag): %s", strerror(-err));
		return err;
	}
	err = nft_enforcer_dump(d->enf, adopt_cb, &ac);
	cookie_set_free(&live);
	if (err) {
		log_err("cannot read the pinholes back: %s", nft_enforcer_error(d->enf));
		return err;
	}
	engine_commit(d);
	if (ac.adopted || ac.dropped)
		log_notice("recovered from the kernel: %u pinholes adopted, %u stale removed",
			   ac.adopted, ac.dropped);
	nft_enforcer_foreign_change(d->enf, &changed);
	d->next_reconcile_ms = now_ms() + d->cfg.reconcile_ms;
	return 0;
}

void engine_stop(struct dyperd *d)
{
	engine_commit(d);
	while (d->n_waiting) {
		reply_err(d, &d->waiting[d->wait_head].reply, -ESHUTDOWN, "dyperd is stopping");
		d->wait_head = (d->wait_head + 1) % d->cfg.queue_max;
		d->n_waiting--;
	}
	if (d->cfg.on_exit == DYPER_ON_EXIT_FLUSH) {
		if (nft_enforcer_flush(d->enf))
			log_err("cannot flush the pinholes: %s", nft_enforcer_error(d->enf));
		else
			log_notice("stopping: %u pinholes closed (on_exit = flush)", d->table.count);
	} else {
		log_notice("stopping: %u pinholes kept for the next dyperd (on_exit = keep)",
			   d->table.count);
	}
	free(d->pending);
	free(d->waiting);
	d->pending = NULL;
	d->waiting = NULL;
	table_free(&d->table);
}
