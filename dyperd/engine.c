// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pinhole engine: dyperd's table is the intended state, the enforcers
 * (this host's nftables table; later a site, border devices) are where it
 * takes effect.  Requests change the table at once and queue an operation
 * for every enforcer; at the end of each loop iteration each enforcer gets
 * what queued for it in batches of its preferred size, as many in flight as
 * it takes, and what arrives meanwhile waits for its next batch (adaptive
 * batching, paper §4.3 and §5.1).  A requester is answered only when every
 * enforcer has: a pinhole is open when its reply says so.  An add refused
 * by one enforcer is undone in the others.
 */

#include <errno.h>
#include <poll.h>
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
#define RUN_ROUNDS 1024		/* submit/collect rounds per engine_commit */
#define START_WAIT_MS 60000	/* engine_start: at most this per step */
#define STOP_WAIT_MS 10000	/* engine_stop: the same, within a service manager's patience */

/* Job tags besides batches and dyperctl's readers (pointers, never this small). */
enum { TAG_START = 1, TAG_ADOPT, TAG_RECONCILE, TAG_CHECK, TAG_REPAIR, TAG_STOP };

/* A batch in flight: the operations and their copies handed to the enforcer. */
struct engine_batch {
	uint64_t t_ns;		/* submitted at: the batch latency */
	size_t n;
	struct pending **p;
	struct pinhole_op ops[];
};

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
		log_limited(errno == EAGAIN ? LOG_WARNING : LOG_DEBUG, "lost replies",
			    "reply to request %u lost: %s%s", r->msg_id, strerror(errno),
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
	for (struct pending *p = d->ops; p; p = p->next)
		if (p->reply.ch == ch)
			p->reply.ch = NULL;
	for (size_t i = 0; i < d->n_waiting; i++) {
		struct waiting *w = &d->waiting[(d->wait_head + i) % d->cfg.queue_max];

		if (w->reply.ch == ch)
			w->reply.ch = NULL;
	}
}

void engine_forget_arg(struct dyperd *d, void *arg)
{
	for (struct pending *p = d->ops; p; p = p->next)
		if (p->admin_arg == arg)
			p->admin_arg = NULL;
	for (struct engine_reader *r = d->readers; r; r = r->next)
		if (r->arg == arg)
			r->arg = NULL;
}

bool engine_exclusive(const struct dyperd *d)
{
	return d->n_slots && enforcer_exclusive(d->slots[0].e);
}

/* --- queueing operations ------------------------------------------------------------- */

static uint8_t all_slots(const struct dyperd *d)
{
	return (uint8_t)((1u << d->n_slots) - 1);
}

/* The table entry @p is about, if it is still the same one. */
static struct ph_entry *entry_of(struct dyperd *d, const struct pending *p)
{
	struct ph_entry *e;

	if (p->idx == NO_ENTRY || p->idx >= d->table.cap)
		return NULL;
	e = &d->table.v[p->idx];
	return e->used && e->id == p->id ? e : NULL;
}

static int queue_reserve(struct enf_slot *s, size_t more)
{
	if (s->q_head + s->q_len + more <= s->q_cap)
		return 0;
	if (s->q_head) {
		memmove(s->queue, s->queue + s->q_head, s->q_len * sizeof(*s->queue));
		s->q_head = 0;
		if (s->q_len + more <= s->q_cap)
			return 0;
	}
	size_t cap = s->q_cap ? s->q_cap : 256;

	while (cap < s->q_len + more)
		cap *= 2;
	struct pending **q = realloc(s->queue, cap * sizeof(*q));

	if (!q)
		return -ENOMEM;
	s->queue = q;
	s->q_cap = cap;
	return 0;
}

/* Queues @type of @ph for the enforcers in @targets; NULL on -ENOMEM. */
static struct pending *push_to(struct dyperd *d, enum pinhole_op_type type, uint32_t idx,
			       const struct pinhole *ph, uint8_t targets)
{
	struct pending *p;

	for (unsigned i = 0; i < d->n_slots; i++)
		if (targets & d->slots[i].bit && queue_reserve(&d->slots[i], 1))
			return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->op.type = type;
	p->op.ph = *ph;
	p->seq = d->op_seq++;
	p->idx = idx;
	p->id = idx == NO_ENTRY ? 0 : d->table.v[idx].id;
	p->origin = OP_INTERNAL;
	p->reply.fd = -1;
	p->targets = p->waiting = targets;
	for (unsigned i = 0; i < d->n_slots; i++) {
		struct enf_slot *s = &d->slots[i];

		if (targets & s->bit)
			s->queue[s->q_head + s->q_len++] = p;
	}
	p->next = d->ops;
	if (d->ops)
		d->ops->prev = p;
	d->ops = p;
	d->n_ops++;
	return p;
}

static struct pending *push(struct dyperd *d, enum pinhole_op_type type, uint32_t idx,
			    const struct pinhole *ph)
{
	return push_to(d, type, idx, ph, all_slots(d));
}

static void op_free(struct dyperd *d, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		d->ops = p->next;
	if (p->next)
		p->next->prev = p->prev;
	d->n_ops--;
	if (p->reply.fd >= 0)
		close(p->reply.fd);
	free(p->why);
	free(p);
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

/* --- finishing ------------------------------------------------------------------------ */

static void admin_done(struct dyperd *d, struct pending *p, int err, const char *msg)
{
	if (p->admin_done && p->admin_arg)
		p->admin_done(d, err, msg, p->admin_arg);
	p->admin_arg = NULL;
}

/* Why @p closes (@e: its entry, if still there), for events and metrics. */
static enum close_cause cause_of(const struct pending *p, const struct ph_entry *e)
{
	if (p->origin == OP_ADMIN)
		return CLOSE_ADMIN;
	if (p->reason && !strncmp(p->reason, "stale", 5))
		return CLOSE_STALE;
	if (p->reason && !strcmp(p->reason, "expired"))
		return CLOSE_LIFETIME;
	if (p->reason && !strncmp(p->reason, "lease", 5))
		return CLOSE_LEASE;
	if (p->origin == OP_AGENT)
		return e && e->oneshot ? CLOSE_ONESHOT : CLOSE_OWNER;
	return CLOSE_SOCKET;
}

/* The event of @p's pinhole (entry @e, or gone): open, repair, close, stale. */
static void op_event(struct dyperd *d, const struct pending *p, const struct ph_entry *e,
		     enum event_type type, const char *reason)
{
	struct event ev;

	event_init(&ev, type, e ? &e->ph : &p->op.ph, e ? e->id : p->id, e ? e->rule_line : 0,
		   reason);
	if (type == EVENT_CLOSE || type == EVENT_STALE) {
		ev.cause = cause_of(p, e);
		if (p->op.type == PINHOLE_DEL && p->op.counted) {
			ev.has_counters = true;
			ev.packets = p->op.packets;
			ev.bytes = p->op.bytes;
		}
		if (e && e->opened_ms) {
			ev.has_duration = true;
			ev.duration_ms = now_ms() - e->opened_ms;
		} else if (e && e->ph.owner.created) {
			/* adopted after a restart: only its creation second is known */
			uint64_t wall = (uint64_t)time(NULL);

			ev.has_duration = true;
			ev.duration_ms = wall > e->ph.owner.created ?
					 (wall - e->ph.owner.created) * 1000 : 0;
		}
	}
	events_emit(d, &ev);
}

/* Agent's request latency, open or close, before its reply clears the start. */
static void observe(struct histogram *h, const struct reply_to *r)
{
	if (r->t_start_ns)
		histogram_observe(h, now_ns() - r->t_start_ns);
}

/* Every enforcer @p went to has answered: the table and the requester learn it. */
static void finish(struct dyperd *d, struct pending *p)
{
	struct ph_entry *e = entry_of(d, p);
	char what[PINHOLE_STR_LEN], msg[300];
	const char *why = p->why ? p->why : "out of memory";
	int err = p->err;

	if (p->origin == OP_ROLLBACK) {
		pinhole_format(&p->op.ph, what, sizeof(what));
		if (err)
			log_err("cannot undo pinhole %s: %s", what, why);
		else
			log_debug("undid pinhole %s where it had been added", what);
		return;
	}
	if (p->op.type == PINHOLE_ADD) {
		if (!err) {
			if (!e) {	/* closed and gone meanwhile */
				if (p->origin == OP_AGENT)
					reply_send(d, &p->reply, 0, p->id, p->op.ph.timeout_ms, "open");
				return;
			}
			if (e->state == PH_PENDING)
				e->state = PH_OPEN;
			if (!e->opened_ms)
				e->opened_ms = now_ms();
			if (p->origin == OP_AGENT) {
				d->st.opens++;
				op_event(d, p, e, EVENT_OPEN, e->oneshot ? "granted (one-shot)" : "granted");
				observe(&d->metrics.open_lat, &p->reply);
				reply_send(d, &p->reply, 0, e->id, e->ph.timeout_ms, "open");
			} else if (p->reason) {
				log_debug("pinhole %u: %s", e->id, p->reason);
			} else {
				op_event(d, p, e, EVENT_REPAIR, "re-added after it vanished from the kernel");
			}
			return;
		}
		pinhole_format(&p->op.ph, what, sizeof(what));
		log_warn("cannot open pinhole %s for pid %u: %s", what, p->op.ph.owner.pid, why);
		d->st.errors++;
		/* the enforcer's words (the kernel's, or the site's: "the site is
		 * unreachable: ...", "site S refused it: EACCES ...") */
		if (p->origin == OP_AGENT)
			reply_send(d, &p->reply, err, 0, 0, p->why ? p->why : "the kernel refused the pinhole");
		/* Re-adding an entry that the first enforcer holds, to another
		 * (a site after dyperd's restart, a repair there): its failure
		 * there does not close it here */
		if (p->origin == OP_INTERNAL && p->targets != all_slots(d) && e &&
		    !(p->targets & d->slots[0].bit)) {
			log_warn("pinhole %u (%s) stays open here but is not at %s: %s", e->id, what,
				 d->n_slots > 1 ? d->slots[1].e->name : "the other enforcer", why);
			return;
		}
		/* where it was added, it must go again, unless a close already goes there */
		if (p->succeeded && (!e || e->state != PH_CLOSING)) {
			struct pending *r = push_to(d, PINHOLE_DEL, NO_ENTRY, &p->op.ph, p->succeeded);

			if (r)
				r->origin = OP_ROLLBACK;
			else
				log_err("out of memory undoing pinhole %s", what);
		}
		if (e && e->state != PH_CLOSING)
			table_del(&d->table, p->idx);
		return;
	}

	if (err) {
		pinhole_format(&p->op.ph, what, sizeof(what));
		log_err("cannot close pinhole %s: %s", what, why);
		d->st.errors++;
		if (e)
			e->state = PH_OPEN;
		if (p->origin == OP_AGENT)
			reply_send(d, &p->reply, err, 0, 0, "the kernel refused to close the pinhole");
		snprintf(msg, sizeof(msg), "the kernel refused: %s", why);
		admin_done(d, p, -EIO, msg);
		return;
	}
	if (p->reason && !strncmp(p->reason, "stale", 5))
		d->st.stale++;
	else if (p->reason && !strcmp(p->reason, "expired"))
		d->st.expired++;
	else
		d->st.closes++;
	op_event(d, p, e, p->reason && !strncmp(p->reason, "stale", 5) ? EVENT_STALE : EVENT_CLOSE,
		 p->reason ? p->reason : "closed");
	if (p->origin == OP_AGENT) {
		observe(&d->metrics.close_lat, &p->reply);
		reply_send(d, &p->reply, 0, e ? e->id : 0, 0, "closed");
	}
	snprintf(msg, sizeof(msg), "closed pinhole %u", p->id);
	admin_done(d, p, 0, msg);
	if (e)
		table_del(&d->table, p->idx);
}

/* Enforcer @s answered @p with @err. */
static void ack(struct dyperd *d, struct enf_slot *s, struct pending *p, int err, const char *msg)
{
	if (!(p->waiting & s->bit))
		return;
	p->waiting &= (uint8_t)~s->bit;
	/* a pinhole already gone is closed all the same; one a repair finds
	 * there (a second read-back came before the first repair) is repaired */
	if ((p->op.type == PINHOLE_DEL && err == -ENOENT) ||
	    (p->op.type == PINHOLE_ADD && p->origin == OP_INTERNAL && err == -EEXIST))
		err = 0;
	if (err) {
		p->failed |= (uint8_t)s->bit;
		if (!p->err) {
			p->err = err;
			p->why = strdup(msg && msg[0] ? msg : strerror(-err));
		}
	} else {
		p->succeeded |= (uint8_t)s->bit;
	}
	if (!p->waiting) {
		finish(d, p);
		op_free(d, p);
	}
}

/* Puts @n operations back into @s's queue, in their order among the rest. */
static int requeue(struct enf_slot *s, struct pending **back, size_t n)
{
	struct pending **q;
	size_t i = 0, j = 0, k = 0, total = s->q_len + n;

	q = malloc((total ? total : 1) * sizeof(*q));
	if (!q)
		return -ENOMEM;
	while (i < n || j < s->q_len) {
		if (j == s->q_len || (i < n && back[i]->seq < s->queue[s->q_head + j]->seq))
			q[k++] = back[i++];
		else
			q[k++] = s->queue[s->q_head + j++];
	}
	free(s->queue);
	s->queue = q;
	s->q_head = 0;
	s->q_len = s->q_cap = total;
	return 0;
}

/* A repair of the enforcer's structure, no one pinhole's: @what happened. */
static void table_event(struct dyperd *d, const char *what)
{
	struct event ev;

	event_init(&ev, EVENT_REPAIR, NULL, 0, 0, what);
	events_emit(d, &ev);
}

/*
 * The enforcer's own structure (the table, or one of its sets) may be
 * gone: an add refused with ENOENT (the only reason the kernel has for
 * it; without the owner flag anyone may delete the table), or a failed
 * transaction nothing in it is to blame for.
 */
static bool structure_gone(const struct engine_batch *b, int err, size_t blamed)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->p[i]->op.type == PINHOLE_ADD && b->ops[i].err == -ENOENT)
			return true;
	return !blamed && (err == -ENOENT || err == -EPROTO || err == -ENOBUFS);
}

/*
 * A batch came back.  Ops the enforcer refused finish with their error;
 * ops it did not apply for another's sake are submitted again, so one bad
 * request never sinks the others.  When the enforcer's structure is found
 * gone, it is set up again (ENFORCER_SETUP, submitted before anything
 * else and so applied first) and the whole batch retried, once per op and
 * enforcer.
 */
static void batch_done(struct dyperd *d, struct enf_slot *s, const struct enforcer_done *dn)
{
	struct engine_batch *b = (struct engine_batch *)(uintptr_t)dn->job->tag;
	struct pending **back = NULL;
	size_t nback = 0, blamed = 0;
	bool fail_all = false, repair = false;

	s->inflight--;
	histogram_observe(&d->metrics.batch_lat, now_ns() - b->t_ns);
	if (dn->err)
		d->metrics.enforcer_errors++;
	for (size_t i = 0; i < b->n; i++) {
		struct ph_entry *e = entry_of(d, b->p[i]);

		if (e && b->p[i]->op.type == PINHOLE_ADD)
			e->add_inflight &= (uint8_t)~s->bit;
		if (b->ops[i].err && b->ops[i].err != -ECANCELED)
			blamed++;
	}
	if (!dn->err) {
		d->st.batch_ops += b->n;
		if (b->n > d->st.batch_max)
			d->st.batch_max = b->n;
	} else if (structure_gone(b, dn->err, blamed)) {
		repair = true;
		for (size_t i = 0; i < b->n; i++)
			if (b->ops[i].err && b->p[i]->repaired & s->bit)
				repair = false;	/* repaired once already: no loop */
		/* nothing to blame on one op and no repair left: all fail */
		fail_all = !repair && !blamed;
		if (repair) {
			log_warn("repair: a transaction of %zu pinhole operations failed (%s): "
				 "setting the table up again, retrying them", b->n, dn->msg);
			table_event(d, dn->msg);
			d->st.repairs++;
			s->setup_want = true;
		}
	} else if (!blamed) {
		fail_all = true;
	}
	if (dn->err && !fail_all)
		back = malloc(b->n * sizeof(*back));
	for (size_t i = 0; i < b->n; i++) {
		struct pending *p = b->p[i];
		int err = b->ops[i].err;

		if (!dn->err || !err) {
			if (b->ops[i].counted) {
				/* a delete's counters as the enforcer read them */
				p->op.counted = true;
				p->op.packets = b->ops[i].packets;
				p->op.bytes = b->ops[i].bytes;
			}
			ack(d, s, p, 0, NULL);
		} else if (fail_all) {
			ack(d, s, p, err == -ECANCELED ? dn->err : err, dn->msg);
		} else if (err != -ECANCELED && !repair) {
			ack(d, s, p, err, dn->msg);
		} else if (back) {
			if (repair)
				p->repaired |= (uint8_t)s->bit;
			back[nback++] = p;
		} else {
			ack(d, s, p, -ENOMEM, "dyperd is out of memory");
		}
	}
	if (nback && requeue(s, back, nback))
		for (size_t i = 0; i < nback; i++)
			ack(d, s, back[i], -ENOMEM, "dyperd is out of memory");
	free(back);
	free(b);
}

/* --- reading back and checking ---------------------------------------------------------- */

static struct enf_slot *slot_of(struct dyperd *d, const struct enforcer *e)
{
	for (unsigned i = 0; i < d->n_slots; i++)
		if (d->slots[i].e == e)
			return &d->slots[i];
	return NULL;
}

/* At start: adopt what a live socket still holds, remove the rest. */
static void adopt_entry(struct dyperd *d, struct enf_slot *s, const struct pinhole_entry *pe,
			struct cookie_set *live)
{
	uint64_t now = now_ms();
	int idx;

	if (pe->owner_known && cookie_set_has(live, pe->ph.owner.sock_cookie) &&
	    table_find(&d->table, &pe->ph) < 0) {
		idx = table_add(&d->table, &pe->ph, 0,
				pe->ph.timeout_ms ? now + (pe->expires_ms ? pe->expires_ms : 1) : 0);
		if (idx >= 0) {
			d->table.v[idx].state = PH_OPEN;
			d->adopted++;
			return;
		}
	}
	struct pending *p = push_to(d, PINHOLE_DEL, NO_ENTRY, &pe->ph, (uint8_t)s->bit);

	if (p)
		p->reason = "stale: its socket is gone (found at start)";
	d->dropped++;
}

static struct cookie_set *start_live;	/* during engine_start's read-back only */

static void on_entry(struct enforcer *en, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	struct dyperd *d = arg;
	struct enf_slot *s = slot_of(d, en);
	int idx;

	if (!s)
		return;
	if (tag == TAG_ADOPT) {
		adopt_entry(d, s, pe, start_live);
	} else if (tag == TAG_RECONCILE) {
		idx = table_find(&d->table, &pe->ph);
		if (idx >= 0) {
			d->table.v[idx].seen |= (uint8_t)s->bit;
		} else {
			/* in the enforcer but not ours: leftovers or foreign elements */
			struct pending *p = push_to(d, PINHOLE_DEL, NO_ENTRY, &pe->ph,
						    (uint8_t)s->bit);

			if (p)
				p->reason = "stale: in the kernel but not in dyperd's table";
		}
	} else if (tag > TAG_STOP) {
		struct engine_reader *r = (struct engine_reader *)(uintptr_t)tag;

		if (r->arg)
			r->entry(d, pe, r->arg);
	}
}

/* A reconcile read-back of @s came back: re-add what it lost. */
static void reconcile_done(struct dyperd *d, struct enf_slot *s, const struct enforcer_done *dn)
{
	s->read_busy = false;
	d->reconciling--;
	if (dn->err) {
		log_err("cannot dump the pinholes: %s", dn->msg);
		return;
	}
	for (uint32_t i = 0; i < d->table.cap; i++) {
		struct ph_entry *e = &d->table.v[i];
		char what[PINHOLE_STR_LEN];

		/* open means every enforcer had acknowledged it before the read */
		if (!e->used || e->state != PH_OPEN || e->seen & s->bit)
			continue;
		pinhole_format(&e->ph, what, sizeof(what));
		log_warn("repair: pinhole %u (%s) vanished from the kernel; adding it again",
			 e->id, what);
		d->st.repairs++;
		if (!push_to(d, PINHOLE_ADD, i, &e->ph, (uint8_t)s->bit))
			log_err("out of memory repairing pinhole %u", e->id);
	}
}

static void check_done(struct dyperd *d, struct enf_slot *s, const struct enforcer_done *dn)
{
	char what[512];

	s->check_busy = false;
	if (dn->err) {
		if (dn->changed)
			log_err("cannot check the table: %s", dn->msg);
		return;
	}
	if (!dn->changed)
		return;
	if (dn->intact) {
		/* Someone changed another table, or (without the owner flag) maybe
		 * our pinholes; an owned table's elements are ours alone. */
		if (!enforcer_exclusive(s->e))
			d->need_reconcile = true;
		return;
	}
	snprintf(what, sizeof(what), "%s", dn->msg);
	log_warn("repair: %s; restoring the table", what);
	table_event(d, what);
	d->st.repairs++;
	s->setup_want = true;
}

static void setup_done(struct dyperd *d, struct enf_slot *s, const struct enforcer_done *dn)
{
	s->setup_busy = false;
	s->last_err = dn->err;
	snprintf(s->msg, sizeof(s->msg), "%s", dn->msg);
	if (dn->job->tag != TAG_REPAIR)
		return;
	if (dn->err) {
		log_err("repair failed: %s", dn->msg);
		return;
	}
	/* a full reconcile at once: elements may be gone too */
	d->need_reconcile = true;
	d->reconcile_now = true;
}

/* A dyperctl read-back or a reload's reconfiguration is over. */
static void reader_done(struct dyperd *d, const struct enforcer_done *dn)
{
	struct engine_reader *r = (struct engine_reader *)(uintptr_t)dn->job->tag;
	struct engine_reader **pp = &d->readers;

	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp)
		*pp = r->next;
	if (r->arg)
		r->done(d, dn->err, dn->msg, r->arg);
	free(r);
}

static void on_done(struct enforcer *en, const struct enforcer_done *dn, void *arg)
{
	struct dyperd *d = arg;
	struct enf_slot *s = slot_of(d, en);

	if (!s)
		return;
	d->answers++;
	switch (dn->job->type) {
	case ENFORCER_BATCH:
		batch_done(d, s, dn);
		break;
	case ENFORCER_READ:
		if (dn->job->tag == TAG_RECONCILE) {
			reconcile_done(d, s, dn);
		} else if (dn->job->tag == TAG_ADOPT) {
			s->read_busy = false;
			s->last_err = dn->err;
			snprintf(s->msg, sizeof(s->msg), "%s", dn->msg);
		} else {
			reader_done(d, dn);
		}
		break;
	case ENFORCER_RECONFIG:
		reader_done(d, dn);
		break;
	case ENFORCER_CHECK:
		check_done(d, s, dn);
		break;
	case ENFORCER_SETUP:
		setup_done(d, s, dn);
		break;
	case ENFORCER_FLUSH:
		s->flush_busy = false;
		s->last_err = dn->err;
		snprintf(s->msg, sizeof(s->msg), "%s", dn->msg);
		break;
	}
}

/* --- submitting ------------------------------------------------------------------------- */

static int submit_simple(struct enf_slot *s, enum enforcer_job_type type, uint64_t tag)
{
	struct enforcer_job job = { .type = type, .tag = tag };

	return enforcer_submit(s->e, &job);
}

static size_t batch_size(const struct dyperd *d, const struct enf_slot *s)
{
	size_t n = d->cfg.batch_max ? d->cfg.batch_max : 1;

	return s->e->batch_pref && s->e->batch_pref < n ? s->e->batch_pref : n;
}

/* Hands @s what queued for it; true if anything was submitted. */
static bool submit_slot(struct dyperd *d, struct enf_slot *s)
{
	bool any = false;

	if (s->setup_want && !s->setup_busy) {
		int err = submit_simple(s, ENFORCER_SETUP, TAG_REPAIR);

		if (!err) {
			s->setup_want = false;
			s->setup_busy = any = true;
		} else if (err != -EBUSY) {
			s->setup_want = false;
			log_err("repair failed: %s", strerror(-err));
		}
	}
	/* a read-back sees exactly what was answered: nothing in flight around it */
	if (s->read_want && !s->inflight) {
		for (uint32_t i = 0; i < d->table.cap; i++)
			d->table.v[i].seen &= (uint8_t)~s->bit;
		if (!submit_simple(s, ENFORCER_READ, TAG_RECONCILE)) {
			s->read_busy = any = true;
		} else {
			log_err("cannot dump the pinholes: %s", enforcer_error(s->e));
			d->reconciling--;
		}
		s->read_want = false;
	}
	/* after a repair is asked for, batches wait until it is submitted */
	while (s->q_len && s->inflight < s->e->max_inflight && !s->read_want && !s->read_busy &&
	       !s->setup_want) {
		size_t want = batch_size(d, s), n = 0;
		struct engine_batch *b;
		struct enforcer_job job = { .type = ENFORCER_BATCH };
		int err;

		if (want > s->q_len)
			want = s->q_len;
		/* a close waits until its add's batch is answered here: were that
		 * batch to fail and the add be retried, it would come after it */
		while (n < want) {
			struct pending *p = s->queue[s->q_head + n];
			struct ph_entry *e = entry_of(d, p);

			if (p->op.type == PINHOLE_DEL && e && e->add_inflight & s->bit)
				break;
			n++;
		}
		if (!n)
			break;
		b = malloc(sizeof(*b) + n * (sizeof(b->ops[0]) + sizeof(b->p[0])));
		if (!b) {
			log_err("out of memory submitting %zu pinhole operations", n);
			break;
		}
		b->n = n;
		b->t_ns = now_ns();
		b->p = (struct pending **)(void *)(b->ops + n);
		for (size_t i = 0; i < n; i++) {
			b->p[i] = s->queue[s->q_head + i];
			b->ops[i] = b->p[i]->op;
			b->ops[i].err = 0;
			b->ops[i].counted = false;	/* this enforcer's, or none */
		}
		job.tag = (uintptr_t)b;
		job.ops = b->ops;
		job.n = n;
		err = enforcer_submit(s->e, &job);
		if (err == -EBUSY) {
			free(b);
			break;
		}
		s->q_head += n;
		s->q_len -= n;
		if (!s->q_len)
			s->q_head = 0;
		d->st.batches++;
		any = true;
		if (err) {
			for (size_t i = 0; i < n; i++)
				ack(d, s, b->p[i], err, enforcer_error(s->e));
			free(b);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			struct ph_entry *e = entry_of(d, b->p[i]);

			if (e && b->p[i]->op.type == PINHOLE_ADD)
				e->add_inflight |= (uint8_t)s->bit;
		}
		s->inflight++;
	}
	return any;
}

static const struct enforcer_sink *sink_of(struct dyperd *d)
{
	static struct enforcer_sink sink = { .entry = on_entry, .done = on_done };

	sink.arg = d;
	return &sink;
}

static void slot_dispatch(struct dyperd *d, struct enf_slot *s)
{
	int err = enforcer_dispatch(s->e, sink_of(d));

	if (err)
		log_err("enforcer %s: %s", s->e->name, strerror(-err));
}

/*
 * Submits what queued and collects what came back, until neither moves:
 * an enforcer that answers at once (the local table) is answered in the
 * same loop iteration; a slow one is only handed its batches.
 */
static void run(struct dyperd *d)
{
	for (unsigned round = 0; round < RUN_ROUNDS; round++) {
		uint64_t answers = d->answers;
		size_t before = d->n_ops;
		bool any = false;

		if (d->reconcile_now && !d->reconciling) {
			engine_reconcile(d);
			any = true;
		}
		for (unsigned i = 0; i < d->n_slots; i++)
			any |= submit_slot(d, &d->slots[i]);
		for (unsigned i = 0; i < d->n_slots; i++)
			slot_dispatch(d, &d->slots[i]);
		admit_waiting(d);
		if (!any && d->n_ops == before && d->answers == answers)
			break;
	}
}

void engine_commit(struct dyperd *d)
{
	run(d);
}

void engine_enforcer_ready(struct dyperd *d, struct enf_slot *s)
{
	slot_dispatch(d, s);
	run(d);
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

/*
 * Closes what no live socket holds, and asks each enforcer to read back
 * what it holds where that can have changed behind dyperd's back (or for
 * a full reconcile after a repair or lost notifications); the read-backs
 * finish the job when they come back (reconcile_done).
 */
int engine_reconcile(struct dyperd *d)
{
	struct cookie_set live = { 0 };
	bool full = d->need_reconcile;
	int err;

	if (d->reconciling) {
		/* one at a time; this one comes again */
		d->need_reconcile |= full;
		return 0;
	}
	d->need_reconcile = false;
	d->reconcile_now = false;
	err = diag_live(&live);
	if (err) {
		log_err("cannot list the live sockets: %s", strerror(-err));
		return err;
	}
	/* notifications may have been lost for waiting requests too */
	drop_waiting(d, cookie_dead, &live);
	for (uint32_t i = 0; i < d->table.cap; i++) {
		struct ph_entry *e = &d->table.v[i];

		if (e->used && e->state == PH_OPEN && !cookie_set_has(&live, e->ph.owner.sock_cookie))
			close_entry(d, i, "stale: its socket is gone");
	}
	cookie_set_free(&live);
	/*
	 * An owned table's elements change only through our commits and their
	 * timeouts: without a reason to doubt them, check only that the
	 * sockets still live (dumping 100k elements costs the loop ~0.6 s).
	 */
	for (unsigned i = 0; i < d->n_slots; i++) {
		struct enf_slot *s = &d->slots[i];

		if (!full && enforcer_exclusive(s->e))
			continue;
		s->read_want = true;
		d->reconciling++;
	}
	d->next_reconcile_ms = now_ms() + d->cfg.reconcile_ms;
	return 0;
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
		for (unsigned i = 0; i < d->n_slots; i++) {
			struct enf_slot *s = &d->slots[i];

			if (!s->check_busy && !submit_simple(s, ENFORCER_CHECK, TAG_CHECK))
				s->check_busy = true;
		}
	}
	if (d->need_reconcile || now >= d->next_reconcile_ms)
		engine_reconcile(d);
	run(d);
}

int engine_close_id(struct dyperd *d, uint32_t id, char *why, size_t len,
		    void (*done)(struct dyperd *d, int err, const char *msg, void *arg), void *arg)
{
	int idx = table_find_id(&d->table, id);
	struct ph_entry *e;
	struct pending *p;

	if (idx < 0) {
		snprintf(why, len, "no pinhole with id %u", id);
		return -ENOENT;
	}
	e = &d->table.v[idx];
	if (e->state == PH_CLOSING) {
		snprintf(why, len, "pinhole %u is already closing", id);
		return 1;
	}
	p = push(d, PINHOLE_DEL, (uint32_t)idx, &e->ph);
	if (!p) {
		snprintf(why, len, "dyperd is out of memory");
		return -ENOMEM;
	}
	e->state = PH_CLOSING;
	p->origin = OP_ADMIN;
	p->reason = "closed by the administrator";
	p->admin_done = done;
	p->admin_arg = arg;
	return 0;
}

int engine_reconfigure(struct dyperd *d, const struct nft_enforcer_config *cfg,
		       void (*done)(struct dyperd *d, int err, const char *msg, void *arg), void *arg)
{
	struct engine_reader *r = calloc(1, sizeof(*r));
	struct enforcer_job job = { .type = ENFORCER_RECONFIG, .cfg = cfg };
	int err;

	if (!r)
		return -ENOMEM;
	if (!d->n_slots) {
		free(r);
		return -ENODEV;
	}
	r->done = done;
	r->arg = arg;
	job.tag = (uintptr_t)r;
	/* after every batch submitted so far, before any later one */
	err = enforcer_submit(d->slots[0].e, &job);
	if (err) {
		free(r);
		return err;
	}
	r->next = d->readers;
	d->readers = r;
	return 0;
}

int engine_read(struct dyperd *d, void (*entry)(struct dyperd *d, const struct pinhole_entry *pe,
						  void *arg),
		void (*done)(struct dyperd *d, int err, const char *msg, void *arg), void *arg)
{
	struct engine_reader *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	if (!d->n_slots) {
		free(r);
		return -ENODEV;
	}
	r->entry = entry;
	r->done = done;
	r->arg = arg;
	err = submit_simple(&d->slots[0], ENFORCER_READ, (uintptr_t)r);
	if (err) {
		free(r);
		return err;
	}
	r->next = d->readers;
	d->readers = r;
	return 0;
}

/* --- start and stop ---------------------------------------------------------------- */

int engine_init(struct dyperd *d)
{
	if (d->waiting)
		return 0;
	d->waiting = calloc(d->cfg.queue_max ? d->cfg.queue_max : 1, sizeof(*d->waiting));
	if (!d->waiting || table_init(&d->table))
		return -ENOMEM;
	return 0;
}

int engine_add_enforcer(struct dyperd *d, struct enforcer *e)
{
	struct enf_slot *s;

	if (d->n_slots == ENGINE_MAX_ENFORCERS) {
		enforcer_free(e);
		return -ENOSPC;
	}
	s = &d->slots[d->n_slots];
	memset(s, 0, sizeof(*s));
	s->tag.kind = EV_ENFORCER;
	s->e = e;
	s->bit = 1u << d->n_slots;
	d->n_slots++;
	return 0;
}

/* Runs the engine, waiting on the enforcers' fds, until @busy says nothing
 * is left or @ms pass.  Outside the event loop only (start and stop). */
static int wait_idle(struct dyperd *d, bool (*busy)(const struct dyperd *d), int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd pfd[ENGINE_MAX_ENFORCERS];
		uint64_t now;

		run(d);
		if (!busy(d))
			return 0;
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		for (unsigned i = 0; i < d->n_slots; i++)
			pfd[i] = (struct pollfd){ .fd = enforcer_fd(d->slots[i].e), .events = POLLIN };
		if (poll(pfd, d->n_slots, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
		for (unsigned i = 0; i < d->n_slots; i++)
			if (pfd[i].revents)
				slot_dispatch(d, &d->slots[i]);
	}
}

static bool jobs_busy(const struct dyperd *d)
{
	for (unsigned i = 0; i < d->n_slots; i++)
		if (d->slots[i].setup_busy || d->slots[i].read_busy || d->slots[i].flush_busy)
			return true;
	return false;
}

static bool ops_busy(const struct dyperd *d)
{
	return d->n_ops != 0;
}

int engine_start(struct dyperd *d)
{
	struct cookie_set live = { 0 };
	struct enf_slot *s0 = &d->slots[0];
	int err;

	err = engine_init(d);
	if (err)
		return err;
	if (!d->n_slots)
		return -ENODEV;
	for (unsigned i = 0; i < d->n_slots; i++) {
		err = submit_simple(&d->slots[i], ENFORCER_SETUP, TAG_START);
		if (err) {
			log_err("enforcer %s: %s", d->slots[i].e->name, strerror(-err));
			return err;
		}
		d->slots[i].setup_busy = true;
	}
	err = wait_idle(d, jobs_busy, START_WAIT_MS);
	for (unsigned i = 0; !err && i < d->n_slots; i++) {
		err = d->slots[i].last_err;
		if (err)
			log_err("%s", d->slots[i].msg);
	}
	if (err)
		return err;
	log_info("table inet %s ready%s", d->cfg.enforcer_table,
		 enforcer_exclusive(s0->e) ? " (owned by dyperd: others cannot change it)" :
		 d->cfg.enforcer.owner == DYPER_OWNER_OFF ?
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
	/* the first enforcer (this host's table) is the record of what is open */
	d->adopted = d->dropped = 0;
	start_live = &live;
	err = submit_simple(s0, ENFORCER_READ, TAG_ADOPT);
	if (!err) {
		s0->read_busy = true;
		err = wait_idle(d, jobs_busy, START_WAIT_MS);
		if (!err)
			err = s0->last_err;
	}
	start_live = NULL;
	cookie_set_free(&live);
	if (err) {
		log_err("cannot read the pinholes back: %s", err == s0->last_err ? s0->msg :
			strerror(-err));
		return err;
	}
	wait_idle(d, ops_busy, START_WAIT_MS);
	if (d->adopted || d->dropped)
		log_notice("recovered from the kernel: %u pinholes adopted, %u stale removed",
			   d->adopted, d->dropped);
	/* the others (a site) learn what was adopted: a site converges to what
	 * this host announces after a restart, and would close the rest */
	for (uint32_t i = 0; d->n_slots > 1 && i < d->table.cap; i++) {
		struct ph_entry *e = &d->table.v[i];
		struct pending *p;

		if (!e->used || e->state != PH_OPEN)
			continue;
		p = push_to(d, PINHOLE_ADD, i, &e->ph, (uint8_t)(all_slots(d) & ~s0->bit));
		if (!p) {
			log_err("out of memory announcing pinhole %u", e->id);
			break;
		}
		p->reason = "adopted after a restart: announced to the other enforcers";
	}
	/* the others hold what they hold: compare them at the first reconcile */
	if (d->n_slots > 1)
		d->need_reconcile = true;
	d->next_reconcile_ms = now_ms() + d->cfg.reconcile_ms;
	return 0;
}

void engine_stop(struct dyperd *d)
{
	bool flushed = true;

	if (d->n_slots && wait_idle(d, ops_busy, STOP_WAIT_MS))
		log_warn("stopping: %zu pinhole operations still unanswered", d->n_ops);
	while (d->n_waiting) {
		reply_err(d, &d->waiting[d->wait_head].reply, -ESHUTDOWN, "dyperd is stopping");
		d->wait_head = (d->wait_head + 1) % d->cfg.queue_max;
		d->n_waiting--;
	}
	if (d->cfg.on_exit == DYPER_ON_EXIT_FLUSH) {
		for (unsigned i = 0; i < d->n_slots; i++) {
			struct enf_slot *s = &d->slots[i];

			s->last_err = submit_simple(s, ENFORCER_FLUSH, TAG_STOP);
			if (!s->last_err)
				s->flush_busy = true;
			else
				snprintf(s->msg, sizeof(s->msg), "%s", strerror(-s->last_err));
		}
		if (wait_idle(d, jobs_busy, STOP_WAIT_MS))
			log_err("cannot flush the pinholes: no answer");
		for (unsigned i = 0; i < d->n_slots; i++) {
			if (d->slots[i].last_err) {
				log_err("cannot flush the pinholes: %s", d->slots[i].msg);
				flushed = false;
			}
		}
		if (flushed)
			log_notice("stopping: %u pinholes closed (on_exit = flush)", d->table.count);
	} else {
		log_notice("stopping: %u pinholes kept for the next dyperd (on_exit = keep)",
			   d->table.count);
	}
	/* what never came back: the enforcers drop their side with them */
	while (d->ops)
		op_free(d, d->ops);
	while (d->readers) {
		struct engine_reader *r = d->readers;

		d->readers = r->next;
		free(r);
	}
	for (unsigned i = 0; i < d->n_slots; i++) {
		enforcer_free(d->slots[i].e);
		free(d->slots[i].queue);
		memset(&d->slots[i], 0, sizeof(d->slots[i]));
	}
	d->n_slots = 0;
	free(d->waiting);
	d->waiting = NULL;
	table_free(&d->table);
}
