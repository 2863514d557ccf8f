// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyperd in site mode (site.h): the site controller behind dyper-remote.
 *
 * Who asks.  The delegate is the host name dyper-remote puts in its first
 * line; the site believes it only because the connection comes from the
 * site account's uid (SO_PEERCRED), the account sshd runs dyper-remote as
 * for the host's key, whose forced command fixes that name.  Nothing in a
 * request names a delegate.
 *
 * What it holds.  Every pinhole belongs to one delegate and has a lease;
 * dyperd's table (table.h) holds them, with two fields of the table's copy
 * turned to the site's use: owner.uid is the delegate's number here (so the
 * table's per-uid count is the per-delegate quota) and owner.sock_cookie a
 * serial (spreading the table's cookie chains); both are cleared in what
 * goes to the router, whose elements carry only "dlg NAME t CREATED".
 * The entry's `oneshot` flag means "held in this SYNC", `seen` "the last
 * read-back had it", `add_inflight` "was open when that read-back left".
 *
 * How it executes.  Authorized changes queue as ops; site_commit() hands
 * them to the router enforcer in batches of [site] batch, and a request is
 * answered "<id> OK" only when the router applied its op (the host's bind
 * waits on it).  Leases lapse on the timer; RENEW extends all of a
 * delegate's; SYNC BEGIN / HOLD... / SYNC END converge a delegate to
 * exactly the held set.  One connection per delegate: a newer one (a
 * reconnect while the old lingers) supersedes the older, whose unanswered
 * requests are dropped; the pinholes, which belong to the delegate, stay.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include "dyperd/daemon.h"
#include "dyperd/devconf.h"
#include "dyperd/log.h"
#include "dyperd/nftconf.h"
#include "dyperd/site.h"
#include "remote/fanout.h"
#include "remote/wire.h"

#define SITE_OUT_SOFT	(64 * 1024)	/* more waiting to be sent: stop reading */
#define SITE_OUT_HARD	(4u << 20)	/* a peer that lets this pile up is cut off */
#define SITE_WAIT_MAX	65536		/* replies one connection may wait for */
#define SITE_HELLO_MS	10000		/* DELEGATE and DYPER within this */
#define SITE_BAD_MAX	100		/* bad lines before a connection is cut */
#define SITE_TRIES	3		/* an op cancelled by others' failures */
#define SITE_START_MS	10000		/* the router's first setup and read */
#define SITE_START_DEVICES_MS	90000	/* the devices': a login and a listing each,
					 * one that cannot be reached is down sooner */
#define SITE_READ_MAX	(64 * 1024)	/* bytes read per event: fairness */
#define LEASE_SCAN_MS	1000
#define SITE_UNCLAIMED	"(unclaimed)"	/* no host name has parentheses */

enum { TAG_SETUP = 1, TAG_READ, TAG_CHECK, TAG_MAX };

enum conn_state { C_DELEGATE, C_HELLO, C_READY };

struct site_conn {
	struct ev_tag tag;
	int fd;
	uint64_t serial;
	pid_t pid;
	uid_t uid;
	enum conn_state state;
	uint32_t dlg;			/* delegate number, 0 before DELEGATE */
	char in[REMOTE_WIRE_LINE_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_off, out_cap;
	uint64_t deadline_ms;		/* for DELEGATE and HELLO */
	double tokens;
	uint64_t refill_ns;
	bool paused;			/* out of tokens */
	bool eof;			/* the peer is done sending */
	bool closing;			/* close once the output is sent */
	bool sync;			/* between SYNC BEGIN and SYNC END */
	unsigned bad;
	uint32_t waiting;		/* replies owed by ops in flight */
	uint32_t events;		/* as registered with epoll */
	struct site_conn *next;
};

struct site_delegate {
	char name[REMOTE_WIRE_NAME_MAX + 1];
	uint64_t conn;			/* serial of its current connection, 0: none */
};

/* Who waits for an op: a request id on a connection (by serial: the
 * connection may be gone when the answer comes). */
struct site_waiter {
	uint64_t conn, id;
	struct site_waiter *next;
};

struct site_op {
	enum pinhole_op_type type;
	struct pinhole ph;		/* as the router gets it */
	uint32_t idx, id;		/* the table entry, UINT32_MAX: none (a foreign one) */
	int tries;
	const char *reason;		/* of a delete, for the log */
	struct site_waiter *waiters;
};

struct site_batch {
	struct enforcer_job job;
	struct site_op **ops;
	struct pinhole_op *pops;
	struct site_batch *prev, *next;	/* at the router, not yet answered */
};

struct site_stats {
	uint64_t connections, refused, superseded, requests, bad_lines, rate_limited;
	uint64_t opens, closes, denied, quota, errors, lapsed, renewals, syncs, sync_closed;
	uint64_t adopted, dropped, repairs, batches, batch_ops, batch_max, claimed;
};

struct site {
	struct enforcer *e;		/* the router's table, or a fan-out over the
					 * border devices (and the router) */
	bool devices;			/* e is a fan-out */
	uint32_t unclaimed;		/* delegate number of what a restart found on
					 * devices, until its host claims it */
	uint8_t member_state[FANOUT_MAX_MEMBERS];	/* as last logged */
	struct ev_tag enf_tag, listen_tag;
	int lfd;
	uid_t account;
	struct ph_table t;
	struct site_delegate *dlgs;	/* [0] unused: number 0 is none */
	uint32_t n_dlgs, cap_dlgs;
	struct site_conn *conns;
	uint32_t n_conns;
	uint64_t conn_serial, ph_serial;
	struct site_op **q;		/* FIFO of ops not yet submitted */
	size_t q_head, q_len, q_cap;
	unsigned inflight;
	struct site_batch *batches;	/* in flight */
	bool starting;			/* site_start's read: adopt */
	bool setup_busy, read_busy, check_busy;
	bool reread;			/* a read-back after the running one */
	int start_err;
	unsigned start_done;
	uint64_t next_lease_ms, next_check_ms, next_reconcile_ms;
	uint64_t rearm_ms;		/* the listener paused after accept failed, until */
	struct site_stats st;
};

static struct site *S(struct dyperd *d)
{
	return d->site;
}

/* What executes, for the log. */
static const char *where(const struct site *s)
{
	return s->devices ? "the border devices" : "the router's table";
}

/* --- delegates ----------------------------------------------------------------- */

static uint32_t delegate_find(struct site *s, const char *name)
{
	for (uint32_t i = 1; i < s->n_dlgs; i++)
		if (!strcmp(s->dlgs[i].name, name))
			return i;
	return 0;
}

/* The number of @name, registered if new; 0 on -ENOMEM or for a name the
 * router's element comments cannot carry (the wire allows one more byte). */
static uint32_t delegate_get(struct site *s, const char *name)
{
	uint32_t n = delegate_find(s, name);

	if (n)
		return n;
	if (strlen(name) >= PINHOLE_DELEGATE_LEN)
		return 0;
	if (s->n_dlgs == s->cap_dlgs) {
		uint32_t cap = s->cap_dlgs ? 2 * s->cap_dlgs : 16;
		struct site_delegate *v = realloc(s->dlgs, cap * sizeof(*v));

		if (!v)
			return 0;
		s->dlgs = v;
		s->cap_dlgs = cap;
		if (s->n_dlgs == 0)
			s->n_dlgs = 1;
	}
	memset(&s->dlgs[s->n_dlgs], 0, sizeof(s->dlgs[0]));
	snprintf(s->dlgs[s->n_dlgs].name, sizeof(s->dlgs[0].name), "%s", name);
	return s->n_dlgs++;
}

static const char *dlg_name(const struct site *s, uint32_t n)
{
	return n && n < s->n_dlgs ? s->dlgs[n].name : "?";
}

/* --- authorization ----------------------------------------------------------- */

static void authorize(struct dyperd *d, const char *delegate, const struct pinhole *ph,
		      struct policy_decision *pd)
{
	struct policy_request r = { .delegate = delegate, .family = ph->family,
				    .proto = ph->proto, .remote_port = ph->remote_port,
				    .local_port = ph->local_port };
	time_t now = time(NULL);
	struct tm tm;

	memcpy(r.remote, ph->remote.raw, 16);
	memcpy(r.local, ph->local.raw, 16);
	localtime_r(&now, &tm);
	r.minute_of_day = tm.tm_hour * 60 + tm.tm_min;
	policy_check(d->policy, &r, pd);
}

/* --- output ------------------------------------------------------------------ */

static void conn_close(struct dyperd *d, struct site_conn *c, const char *why);

static struct site_conn *conn_by_serial(struct site *s, uint64_t serial)
{
	for (struct site_conn *c = s->conns; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

static void conn_update_events(struct dyperd *d, struct site_conn *c)
{
	uint32_t ev = 0;
	struct epoll_event e;

	if (!c->eof && !c->closing && !c->paused && c->out_len - c->out_off < SITE_OUT_SOFT &&
	    c->waiting < SITE_WAIT_MAX)
		ev |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = &c->tag;
	if (!epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &e))
		c->events = ev;
}

/* Sends what it can; closes @c when done closing or on error.  False when
 * @c is gone. */
static bool conn_flush(struct dyperd *d, struct site_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(d, c, "write failed");
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if ((c->closing || (c->eof && !c->waiting)) && c->out_len == 0) {
		conn_close(d, c, c->closing ? NULL : "done");
		return false;
	}
	conn_update_events(d, c);
	return true;
}

static void conn_put(struct dyperd *d, struct site_conn *c, const struct remote_msg *m)
{
	char line[REMOTE_WIRE_LINE_MAX + 1];
	int n = remote_wire_format(m, line, sizeof(line));

	if (n < 0) {
		log_err("site: cannot format a reply (%s): a bug", strerror(-n));
		return;
	}
	if (c->out_off && c->out_len + (size_t)n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + (size_t)n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *o;

		while (cap < c->out_len + (size_t)n)
			cap *= 2;
		if (cap > SITE_OUT_HARD || !(o = realloc(c->out, cap))) {
			c->closing = true;
			log_limited(LOG_WARNING, "site: replies not read",
				    "site: delegate %s (pid %d): %zu bytes of replies unread: closing",
				    dlg_name(S(d), c->dlg), (int)c->pid, c->out_len);
			return;
		}
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, (size_t)n);
	c->out_len += (size_t)n;
}

static void put_ok(struct dyperd *d, struct site_conn *c, uint64_t id)
{
	struct remote_msg m = { .type = REMOTE_MSG_OK, .id = id };

	conn_put(d, c, &m);
}

/* "<id> ERR NAME text"; an errno the grammar has no name for goes as EIO. */
__attribute__((format(printf, 5, 6)))
static void put_err(struct dyperd *d, struct site_conn *c, uint64_t id, int err,
		    const char *fmt, ...)
{
	struct remote_msg m = { .type = REMOTE_MSG_ERR, .id = id, .err = err < 0 ? -err : err };
	va_list ap;

	if (!remote_errno_name(m.err))
		m.err = EIO;
	va_start(ap, fmt);
	vsnprintf(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	/* the grammar's text is printable ASCII */
	for (char *p = m.text; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	conn_put(d, c, &m);
}

/* Answers every waiter of @op: 0 is OK, else ERR @err with @why. */
static void answer_waiters(struct dyperd *d, struct site_op *op, int err, const char *why)
{
	struct site *s = S(d);

	while (op->waiters) {
		struct site_waiter *w = op->waiters;
		struct site_conn *c = conn_by_serial(s, w->conn);

		op->waiters = w->next;
		if (c) {
			if (err)
				put_err(d, c, w->id, err, "%s", why);
			else
				put_ok(d, c, w->id);
			c->waiting--;
			conn_flush(d, c);
		}
		free(w);
	}
}

/* --- ops ---------------------------------------------------------------------- */

static int queue_push(struct site *s, struct site_op *op, bool front)
{
	if (s->q_head + s->q_len == s->q_cap || (front && s->q_head == 0)) {
		/* re-centre, leaving room in front for retries; grow only when at
		 * least half full, so that a queue that drains keeps its size */
		size_t cap = s->q_len + 2 > s->q_cap / 2 ? (s->q_cap ? 2 * s->q_cap : 256) : s->q_cap;
		size_t head = cap / 4;

		if (cap == s->q_cap) {
			memmove(s->q + head, s->q + s->q_head, s->q_len * sizeof(*s->q));
		} else {
			struct site_op **q = malloc(cap * sizeof(*q));

			if (!q)
				return -ENOMEM;
			if (s->q_len)
				memcpy(q + head, s->q + s->q_head, s->q_len * sizeof(*q));
			free(s->q);
			s->q = q;
			s->q_cap = cap;
		}
		s->q_head = head;
	}
	if (front)
		s->q[--s->q_head] = op;
	else
		s->q[s->q_head + s->q_len] = op;
	s->q_len++;
	return 0;
}

/* The router's copy of entry @e's pinhole: the site's own fields cleared. */
static struct pinhole router_ph(const struct ph_entry *e)
{
	struct pinhole ph = e->ph;

	ph.owner.uid = 0;
	ph.owner.sock_cookie = 0;
	ph.timeout_ms = 0;
	return ph;
}

/* Queues @type for entry @idx (or for @foreign, not in the table); the
 * waiter (@c, @id) if @c.  0 or -ENOMEM. */
static int op_queue(struct dyperd *d, enum pinhole_op_type type, uint32_t idx,
		    const struct pinhole *foreign, const char *reason, struct site_conn *c,
		    uint64_t id)
{
	struct site *s = S(d);
	struct site_op *op = calloc(1, sizeof(*op));

	if (!op)
		return -ENOMEM;
	op->type = type;
	op->reason = reason;
	op->idx = UINT32_MAX;
	if (foreign) {
		op->ph = *foreign;
	} else {
		op->idx = idx;
		op->id = s->t.v[idx].id;
		op->ph = router_ph(&s->t.v[idx]);
		/* "(unclaimed)" is the site's word, not a delegate a router's
		 * element comment may name */
		if (s->unclaimed && s->t.v[idx].ph.owner.uid == s->unclaimed)
			memset(&op->ph.owner, 0, sizeof(op->ph.owner));
	}
	if (c) {
		op->waiters = malloc(sizeof(*op->waiters));
		if (!op->waiters) {
			free(op);
			return -ENOMEM;
		}
		*op->waiters = (struct site_waiter){ c->serial, id, NULL };
		c->waiting++;
	}
	if (queue_push(s, op, false)) {
		answer_waiters(d, op, ENOMEM, "out of memory");
		free(op);
		return -ENOMEM;
	}
	return 0;
}

/* The table entry an op was for, if it is still that one. */
static struct ph_entry *op_entry(struct site *s, const struct site_op *op)
{
	struct ph_entry *e;

	if (op->idx == UINT32_MAX || op->idx >= s->t.cap)
		return NULL;
	e = &s->t.v[op->idx];
	return e->used && e->id == op->id ? e : NULL;
}

static void op_log(struct site *s, const struct site_op *op, const char *what, int err)
{
	char p[PINHOLE_STR_LEN];

	pinhole_format(&op->ph, p, sizeof(p));
	if (err)
		log_limited(LOG_WARNING, "site: router refused", "site: delegate %s: %s %s: %s",
			    op->ph.owner.delegate[0] ? op->ph.owner.delegate : "-", what, p,
			    strerror(-err));
	else
		log_info("site: delegate %s: %s %s%s%s", op->ph.owner.delegate[0] ?
			 op->ph.owner.delegate : "-", what, p, op->reason ? ": " : "",
			 op->reason ? op->reason : "");
}

/* The router answered @op with @err. */
static void op_done(struct dyperd *d, struct site_op *op, int err)
{
	struct site *s = S(d);
	struct ph_entry *e = op_entry(s, op);

	if (err == -ECANCELED && ++op->tries < SITE_TRIES && !queue_push(s, op, true))
		return;
	if (op->type == PINHOLE_ADD) {
		if (err == -EEXIST)
			err = 0;	/* the router holds it: what was asked */
		if (e && e->state == PH_PENDING) {
			if (err) {
				table_del(&s->t, op->idx);
			} else {
				e->state = PH_OPEN;
				s->st.opens++;
			}
		}
		op_log(s, op, err ? "open failed" : "opened", err);
		if (err)
			s->st.errors++;
		answer_waiters(d, op, -err, err ? strerror(-err) : "");
	} else {
		if (err == -ENOENT)
			err = 0;	/* gone already: what was asked */
		if (e && e->state == PH_CLOSING) {
			if (err) {
				e->state = PH_OPEN;	/* the router still holds it: retried */
			} else {
				table_del(&s->t, op->idx);
				s->st.closes++;
			}
		}
		if (!e && !err && op->idx == UINT32_MAX)
			s->st.dropped++;
		op_log(s, op, err ? "close failed" : "closed", err);
		if (err)
			s->st.errors++;
		answer_waiters(d, op, -err, err ? strerror(-err) : "");
	}
	free(op);
}

/* Hands queued ops to the router, batch by batch, while it takes them. */
static void submit_batches(struct dyperd *d)
{
	struct site *s = S(d);
	unsigned max = s->e->max_inflight ? s->e->max_inflight : 1;
	size_t size = d->cfg.site.batch ? d->cfg.site.batch : 1;

	/* the structure first, and a read-back sees a settled table */
	while (s->q_len && s->inflight < max && !s->setup_busy && !s->read_busy) {
		size_t n = s->q_len < size ? s->q_len : size;
		struct site_batch *b = calloc(1, sizeof(*b));
		int err;

		if (b) {
			b->ops = malloc(n * sizeof(*b->ops));
			b->pops = calloc(n, sizeof(*b->pops));
		}
		if (!b || !b->ops || !b->pops) {
			if (b) {
				free(b->ops);
				free(b->pops);
			}
			free(b);
			log_limited(LOG_ERR, "site: batch memory", "site: out of memory for a batch");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			b->ops[i] = s->q[s->q_head + i];
			b->pops[i].type = b->ops[i]->type;
			b->pops[i].ph = b->ops[i]->ph;
		}
		b->job = (struct enforcer_job){ .type = ENFORCER_BATCH, .tag = (uintptr_t)b,
						.ops = b->pops, .n = n };
		err = enforcer_submit(s->e, &b->job);
		if (err) {
			free(b->ops);
			free(b->pops);
			free(b);
			if (err != -EBUSY)
				log_limited(LOG_ERR, "site: submit", "site: %s took no batch: %s",
					    where(s), strerror(-err));
			return;
		}
		s->q_head += n;
		s->q_len -= n;
		s->inflight++;
		b->next = s->batches;
		if (b->next)
			b->next->prev = b;
		s->batches = b;
		s->st.batches++;
		s->st.batch_ops += n;
		if (n > s->st.batch_max)
			s->st.batch_max = n;
	}
}

static int submit_job(struct site *s, enum enforcer_job_type type, uint64_t tag)
{
	struct enforcer_job job = { .type = type, .tag = tag };

	return enforcer_submit(s->e, &job);
}

/* A read-back of the router (after the batches in flight); several asked
 * while one runs make one more. */
static void start_read(struct site *s)
{
	if (s->read_busy) {
		s->reread = true;
		return;
	}
	for (uint32_t i = 0; i < s->t.cap; i++) {
		struct ph_entry *e = &s->t.v[i];

		e->seen = 0;
		e->add_inflight = e->used && e->state == PH_OPEN;
	}
	if (submit_job(s, ENFORCER_READ, TAG_READ) == 0)
		s->read_busy = true;
}

/* --- what the router holds -------------------------------------------------- */

/* At start: adopt a delegate's pinhole, with a grace lease, if the policy
 * still allows it; anything else is closed. */
static void adopt(struct dyperd *d, const struct pinhole_entry *pe)
{
	struct site *s = S(d);
	struct policy_decision pd = { 0 };
	struct pinhole ph = pe->ph;
	char p[PINHOLE_STR_LEN];
	uint32_t dlg = 0;
	int idx;

	pinhole_format(&pe->ph, p, sizeof(p));
	if (pe->owner_known && pe->ph.owner.delegate[0] &&
	    remote_name_valid(pe->ph.owner.delegate, strlen(pe->ph.owner.delegate))) {
		dlg = delegate_get(s, pe->ph.owner.delegate);
		authorize(d, pe->ph.owner.delegate, &pe->ph, &pd);
	} else if (pe->owner_unrecorded && s->unclaimed) {
		/* a device's entry: ours, whose host cannot be known until it
		 * claims it (its SYNC after reconnecting); kept until then */
		dlg = s->unclaimed;
		pd.allowed = true;
		memset(&ph.owner, 0, sizeof(ph.owner));
		memcpy(ph.owner.delegate, SITE_UNCLAIMED, sizeof(SITE_UNCLAIMED));
		ph.owner.created = (uint64_t)time(NULL);
	}
	if (!dlg || !pd.allowed) {
		log_notice("site: dropping %s found in %s: %s", p, where(s),
			   !dlg ? "it names no delegate" : pd.why);
		ph.timeout_ms = 0;
		op_queue(d, PINHOLE_DEL, 0, &ph, "not a delegate's, or no longer allowed",
			 NULL, 0);
		return;
	}
	ph.owner.uid = dlg;
	ph.owner.sock_cookie = ++s->ph_serial;
	ph.timeout_ms = 0;
	idx = table_add(&s->t, &ph, pd.line, now_ms() + d->cfg.site.max_lease_ms);
	if (idx < 0) {
		log_err("site: out of memory adopting %s", p);
		return;
	}
	s->t.v[idx].state = PH_OPEN;
	s->t.v[idx].packets = pe->packets;
	s->t.v[idx].bytes = pe->bytes;
	s->st.adopted++;
	log_info("site: adopted %s of delegate %s (lease %us until its host %s)", p,
		 ph.owner.delegate, d->cfg.site.max_lease_ms / 1000,
		 dlg == s->unclaimed ? "claims it" : "renews");
}

/* A later read-back: what the router holds that the site does not is
 * removed; what it lacks is restored (reconcile_done). */
static void reconcile_entry(struct dyperd *d, const struct pinhole_entry *pe)
{
	struct site *s = S(d);
	int idx = table_find(&s->t, &pe->ph);
	struct pinhole ph = pe->ph;

	if (idx >= 0) {
		struct ph_entry *e = &s->t.v[idx];

		/* a device cannot say whose it is: the key is all there is */
		if (pe->owner_unrecorded || !strcmp(e->ph.owner.delegate, pe->ph.owner.delegate) ||
		    e->state != PH_OPEN) {
			e->seen = 1;
			e->packets = pe->packets;	/* the counter audit */
			e->bytes = pe->bytes;
			return;
		}
	}
	ph.timeout_ms = 0;
	s->st.repairs++;
	op_queue(d, PINHOLE_DEL, 0, &ph, s->devices ? "on a device, not the site's" :
		 "in the router, not the site's", NULL, 0);
}

static void reconcile_done(struct dyperd *d)
{
	struct site *s = S(d);

	for (uint32_t i = 0; i < s->t.cap; i++) {
		struct ph_entry *e = &s->t.v[i];

		if (!e->used || e->state != PH_OPEN || !e->add_inflight || e->seen)
			continue;
		/* open, and the router lost it: put it back */
		e->state = PH_PENDING;
		s->st.repairs++;
		op_queue(d, PINHOLE_ADD, i, NULL, "restored", NULL, 0);
	}
}

static void on_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	struct dyperd *d = arg;

	if (tag != TAG_READ)
		return;
	if (S(d)->starting)
		adopt(d, pe);
	else
		reconcile_entry(d, pe);
}

static void on_done(struct enforcer *e, const struct enforcer_done *dn, void *arg)
{
	struct dyperd *d = arg;
	struct site *s = S(d);
	uint64_t tag = dn->job->tag;

	if (tag >= TAG_MAX) {
		struct site_batch *b = (struct site_batch *)(uintptr_t)tag;

		s->inflight--;
		if (b->prev)
			b->prev->next = b->next;
		else
			s->batches = b->next;
		if (b->next)
			b->next->prev = b->prev;
		for (size_t i = 0; i < b->job.n; i++) {
			int err = b->pops[i].err;

			if (!err && dn->err)
				err = -ECANCELED;
			op_done(d, b->ops[i], err);
		}
		free(b->ops);
		free(b->pops);
		free(b);
		return;
	}
	switch (tag) {
	case TAG_SETUP:
		s->setup_busy = false;
		if (dn->err) {
			log_err("site: cannot set up %s: %s", where(s), dn->msg);
			s->start_err = dn->err;
		}
		break;
	case TAG_READ:
		s->read_busy = false;
		if (dn->err) {
			log_limited(LOG_ERR, "site: read", "site: cannot read %s: %s", where(s),
				    dn->msg);
			if (s->starting)
				s->start_err = dn->err;
		} else if (!s->starting) {
			reconcile_done(d);
		}
		if (s->reread) {
			s->reread = false;
			start_read(s);
		}
		break;
	case TAG_CHECK:
		s->check_busy = false;
		if (dn->err) {
			log_limited(LOG_WARNING, "site: check", "site: cannot check %s: %s",
				    where(s), dn->msg);
		} else if (!dn->intact) {
			log_warn("site: %s changed (%s): restoring", where(s), dn->msg);
			if (submit_job(s, ENFORCER_SETUP, TAG_SETUP) == 0)
				s->setup_busy = true;
			start_read(s);
		} else if (dn->changed && !enforcer_exclusive(s->e)) {
			start_read(s);
		}
		break;
	}
	s->start_done++;
}

static struct enforcer_sink sink_of(struct dyperd *d)
{
	return (struct enforcer_sink){ .entry = on_entry, .done = on_done, .arg = d };
}

void site_enforcer_ready(struct dyperd *d)
{
	struct enforcer_sink sink = sink_of(d);
	int err = enforcer_dispatch(S(d)->e, &sink);

	if (err)
		log_limited(LOG_ERR, "site: dispatch", "site: %s failed: %s", where(S(d)),
			    strerror(-err));
}

/* --- requests ------------------------------------------------------------------ */

static uint32_t lease_ms(struct dyperd *d, uint32_t lease_s, const struct policy_decision *pd)
{
	uint64_t ms = (uint64_t)lease_s * 1000;

	if (ms > d->cfg.site.max_lease_ms)
		ms = d->cfg.site.max_lease_ms;
	if (pd && pd->lifetime_ms && ms > pd->lifetime_ms)
		ms = pd->lifetime_ms;
	return (uint32_t)ms;
}

/* The add of entry @idx (@id) not yet answered: queued or at the router. */
static struct site_op *pending_add(struct site *s, uint32_t idx, uint32_t id)
{
	for (size_t i = 0; i < s->q_len; i++) {
		struct site_op *op = s->q[s->q_head + i];

		if (op->idx == idx && op->id == id && op->type == PINHOLE_ADD)
			return op;
	}
	for (struct site_batch *b = s->batches; b; b = b->next)
		for (size_t i = 0; i < b->job.n; i++)
			if (b->ops[i]->idx == idx && b->ops[i]->id == id &&
			    b->ops[i]->type == PINHOLE_ADD)
				return b->ops[i];
	return NULL;
}

/* OPEN and HOLD: authorize, then hold the pinhole for @c's delegate. */
static void req_open(struct dyperd *d, struct site_conn *c, const struct remote_msg *m,
		     bool hold)
{
	struct site *s = S(d);
	const char *name = dlg_name(s, c->dlg);
	struct policy_decision pd;
	char p[PINHOLE_STR_LEN];
	struct pinhole ph = m->ph;
	uint64_t expires;
	int idx;

	pinhole_format(&m->ph, p, sizeof(p));
	authorize(d, name, &m->ph, &pd);
	if (!pd.allowed) {
		s->st.denied++;
		log_limited(LOG_NOTICE, "site: denied", "site: delegate %s: %s %s denied: %s",
			    name, hold ? "HOLD" : "OPEN", p, pd.why);
		put_err(d, c, m->id, EACCES, "%s", pd.why);
		return;
	}
	expires = now_ms() + lease_ms(d, m->lease_s, &pd);
	idx = table_find(&s->t, &m->ph);
	if (idx >= 0) {
		struct ph_entry *e = &s->t.v[idx];

		if (e->ph.owner.uid == s->unclaimed && s->unclaimed) {
			/* found on the devices at start: its host claims it */
			if (table_user_count(&s->t, c->dlg) >= d->cfg.site.max_per_delegate) {
				s->st.quota++;
				put_err(d, c, m->id, EDQUOT, "quota of %u pinholes reached",
					d->cfg.site.max_per_delegate);
				return;
			}
			if (table_set_owner(&s->t, (uint32_t)idx, c->dlg, pd.line)) {
				put_err(d, c, m->id, ENOMEM, "out of memory");
				return;
			}
			memcpy(e->ph.owner.delegate, name, strlen(name) + 1);
			s->st.claimed++;
			log_info("site: delegate %s: claimed %s, found on the devices at start",
				 name, p);
			/* now the delegate's own: answered as any of its pinholes
			 * (at once if open, when its restore or re-open is done) */
		}
		if (e->ph.owner.uid != c->dlg) {
			s->st.denied++;
			log_limited(LOG_NOTICE, "site: held by another", "site: delegate %s: %s %s "
				    "refused: delegate %s holds it", name, hold ? "HOLD" : "OPEN", p,
				    dlg_name(s, e->ph.owner.uid));
			put_err(d, c, m->id, EEXIST, "held by another delegate");
			return;
		}
		e->expires_ms = expires;
		e->oneshot = c->sync || hold;
		if (e->state == PH_OPEN) {
			put_ok(d, c, m->id);
			return;
		}
		if (e->state == PH_PENDING) {
			/* one more waiter of its add, queued or at the router */
			struct site_op *op = pending_add(s, (uint32_t)idx, e->id);
			struct site_waiter *w = op ? malloc(sizeof(*w)) : NULL;

			if (!w) {
				put_err(d, c, m->id, op ? ENOMEM : EIO, op ? "out of memory" :
					"its open is lost: a bug");
				return;
			}
			*w = (struct site_waiter){ c->serial, m->id, op->waiters };
			op->waiters = w;
			c->waiting++;
			return;
		}
		/* closing: open again after the delete (the router keeps the order) */
		e->state = PH_PENDING;
		if (op_queue(d, PINHOLE_ADD, (uint32_t)idx, NULL, NULL, c, m->id))
			put_err(d, c, m->id, ENOMEM, "out of memory");
		return;
	}
	if (table_user_count(&s->t, c->dlg) >= d->cfg.site.max_per_delegate) {
		s->st.quota++;
		log_limited(LOG_NOTICE, "site: quota", "site: delegate %s: %s %s refused: "
			    "quota of %u pinholes reached", name, hold ? "HOLD" : "OPEN", p,
			    d->cfg.site.max_per_delegate);
		put_err(d, c, m->id, EDQUOT, "quota of %u pinholes reached",
			d->cfg.site.max_per_delegate);
		return;
	}
	memset(&ph.owner, 0, sizeof(ph.owner));
	/* delegate_get() took only names that fit */
	memcpy(ph.owner.delegate, name, strlen(name) + 1);
	ph.owner.created = (uint64_t)time(NULL);
	ph.owner.uid = c->dlg;
	ph.owner.sock_cookie = ++s->ph_serial;
	ph.timeout_ms = 0;
	idx = table_add(&s->t, &ph, pd.line, expires);
	if (idx < 0) {
		put_err(d, c, m->id, ENOMEM, "out of memory");
		return;
	}
	s->t.v[idx].state = PH_PENDING;
	s->t.v[idx].oneshot = c->sync || hold;
	if (op_queue(d, PINHOLE_ADD, (uint32_t)idx, NULL, NULL, c, m->id)) {
		table_del(&s->t, (uint32_t)idx);
		put_err(d, c, m->id, ENOMEM, "out of memory");
	}
}

/* Closes entry @idx; the waiter (@c, @id) if @c. */
static void close_entry(struct dyperd *d, uint32_t idx, const char *reason,
			struct site_conn *c, uint64_t id)
{
	struct site *s = S(d);
	struct ph_entry *e = &s->t.v[idx];
	uint8_t was = e->state;

	if (was == PH_CLOSING) {
		if (c)
			put_ok(d, c, id);
		return;
	}
	/* a pending add stays queued: the delete follows it in order */
	e->state = PH_CLOSING;
	if (op_queue(d, PINHOLE_DEL, idx, NULL, reason, c, id)) {
		e->state = was;
		if (c)
			put_err(d, c, id, ENOMEM, "out of memory");
	}
}

static void req_close(struct dyperd *d, struct site_conn *c, const struct remote_msg *m)
{
	struct site *s = S(d);
	int idx = table_find(&s->t, &m->ph);

	if (idx < 0) {
		put_err(d, c, m->id, ENOENT, "no such pinhole");
		return;
	}
	/* ownership from the entry, never from the request */
	if (s->t.v[idx].ph.owner.uid != c->dlg) {
		char p[PINHOLE_STR_LEN];

		pinhole_format(&m->ph, p, sizeof(p));
		s->st.denied++;
		log_limited(LOG_NOTICE, "site: close of another's", "site: delegate %s: CLOSE %s "
			    "refused: delegate %s holds it", dlg_name(s, c->dlg), p,
			    dlg_name(s, s->t.v[idx].ph.owner.uid));
		put_err(d, c, m->id, EPERM, "held by another delegate");
		return;
	}
	close_entry(d, (uint32_t)idx, "closed by its host", c, m->id);
}

static void req_renew(struct dyperd *d, struct site_conn *c, const struct remote_msg *m)
{
	struct site *s = S(d);
	uint64_t expires = now_ms() + lease_ms(d, m->lease_s, NULL);

	for (uint32_t i = 0; i < s->t.cap; i++) {
		struct ph_entry *e = &s->t.v[i];

		if (e->used && e->ph.owner.uid == c->dlg && e->state != PH_CLOSING)
			e->expires_ms = expires;
	}
	s->st.renewals++;
	put_ok(d, c, m->id);
}

static void req_sync(struct dyperd *d, struct site_conn *c, const struct remote_msg *m)
{
	struct site *s = S(d);
	unsigned closed = 0;

	if (m->type == REMOTE_MSG_SYNC_BEGIN) {
		if (c->sync) {
			put_err(d, c, m->id, EINVAL, "SYNC BEGIN inside a SYNC");
			return;
		}
		c->sync = true;
		for (uint32_t i = 0; i < s->t.cap; i++)
			if (s->t.v[i].used && s->t.v[i].ph.owner.uid == c->dlg)
				s->t.v[i].oneshot = false;
		put_ok(d, c, m->id);
		return;
	}
	if (!c->sync) {
		put_err(d, c, m->id, EINVAL, "SYNC END without SYNC BEGIN");
		return;
	}
	c->sync = false;
	for (uint32_t i = 0; i < s->t.cap; i++) {
		struct ph_entry *e = &s->t.v[i];

		if (e->used && e->ph.owner.uid == c->dlg && e->state != PH_CLOSING && !e->oneshot) {
			close_entry(d, i, "not held by its host (SYNC)", NULL, 0);
			closed++;
		}
	}
	s->st.syncs++;
	s->st.sync_closed += closed;
	log_info("site: delegate %s: SYNC: %u pinholes not held, closed", dlg_name(s, c->dlg),
		 closed);
	put_ok(d, c, m->id);
}

/* A newer connection of the same delegate supersedes the older ones. */
static void supersede(struct dyperd *d, struct site_conn *c)
{
	struct site *s = S(d);
	struct site_conn *o, *next;

	for (o = s->conns; o; o = next) {
		next = o->next;
		if (o != c && o->dlg == c->dlg && o->state == C_READY) {
			s->st.superseded++;
			log_notice("site: delegate %s: a new connection (pid %d) replaces pid %d",
				   dlg_name(s, c->dlg), (int)c->pid, (int)o->pid);
			conn_close(d, o, NULL);
		}
	}
	s->dlgs[c->dlg].conn = c->serial;
}

static void handshake(struct dyperd *d, struct site_conn *c, const struct remote_msg *m,
		      int perr, const char *why)
{
	struct site *s = S(d);
	struct remote_msg r = { 0 };

	if (c->state == C_DELEGATE) {
		if (perr || m->type != REMOTE_MSG_DELEGATE || !(c->dlg = delegate_get(s, m->name))) {
			log_limited(LOG_WARNING, "site: no DELEGATE", "site: pid %d: the first line "
				    "is not DELEGATE <name>%s%s: closing", (int)c->pid,
				    perr ? ": " : "", perr ? why : "");
			r.type = REMOTE_MSG_REFUSE;
			snprintf(r.text, sizeof(r.text), "expected DELEGATE <name> first");
			conn_put(d, c, &r);
			c->closing = true;
			return;
		}
		c->state = C_HELLO;
		return;
	}
	if (perr || m->type != REMOTE_MSG_HELLO || m->version != REMOTE_WIRE_VERSION) {
		log_limited(LOG_WARNING, "site: bad hello", "site: delegate %s: %s: closing",
			    dlg_name(s, c->dlg), perr ? why : m->type != REMOTE_MSG_HELLO ?
			    "expected DYPER <version>" : "unsupported version");
		r.type = REMOTE_MSG_REFUSE;
		if (!perr && m->type == REMOTE_MSG_HELLO)
			snprintf(r.text, sizeof(r.text), "version %u not supported: this site "
				 "speaks %d", m->version, REMOTE_WIRE_VERSION);
		else
			snprintf(r.text, sizeof(r.text), "expected DYPER %d", REMOTE_WIRE_VERSION);
		conn_put(d, c, &r);
		c->closing = true;
		return;
	}
	r.type = REMOTE_MSG_WELCOME;
	r.version = REMOTE_WIRE_VERSION;
	snprintf(r.name, sizeof(r.name), "%s", d->cfg.site.name);
	conn_put(d, c, &r);
	c->state = C_READY;
	c->deadline_ms = 0;
	log_info("site: delegate %s connected (dyper-remote pid %d)", dlg_name(s, c->dlg),
		 (int)c->pid);
	supersede(d, c);
}

static void handle_line(struct dyperd *d, struct site_conn *c, const char *line, size_t len)
{
	struct site *s = S(d);
	char why[REMOTE_WIRE_WHY_LEN] = "";
	struct remote_msg m;
	int err = remote_wire_parse(line, len, &m, why);

	if (c->state != C_READY) {
		handshake(d, c, &m, err, why);
		return;
	}
	s->st.requests++;
	if (!err && !remote_msg_is_request(m.type)) {
		err = -EINVAL;
		snprintf(why, sizeof(why), "expected a request, found a reply or a greeting");
	}
	if (err) {
		s->st.bad_lines++;
		log_limited(LOG_NOTICE, "site: bad line", "site: delegate %s: bad line: %s",
			    dlg_name(s, c->dlg), why);
		put_err(d, c, m.id, err == -EMSGSIZE ? EMSGSIZE : EINVAL, "%s", why);
		if (++c->bad > SITE_BAD_MAX) {
			log_limited(LOG_WARNING, "site: bad lines", "site: delegate %s: more than %d "
				    "bad lines: closing", dlg_name(s, c->dlg), SITE_BAD_MAX);
			c->closing = true;
		}
		return;
	}
	switch (m.type) {
	case REMOTE_MSG_OPEN:
		req_open(d, c, &m, false);
		break;
	case REMOTE_MSG_HOLD:
		if (!c->sync)
			put_err(d, c, m.id, EINVAL, "HOLD outside SYNC BEGIN ... SYNC END");
		else
			req_open(d, c, &m, true);
		break;
	case REMOTE_MSG_CLOSE:
		req_close(d, c, &m);
		break;
	case REMOTE_MSG_RENEW:
		req_renew(d, c, &m);
		break;
	case REMOTE_MSG_SYNC_BEGIN:
	case REMOTE_MSG_SYNC_END:
		req_sync(d, c, &m);
		break;
	default:	/* PING */
		put_ok(d, c, m.id);
		break;
	}
}

/* --- connections ----------------------------------------------------------------- */

static void conn_close(struct dyperd *d, struct site_conn *c, const char *why)
{
	struct site *s = S(d);
	struct site_conn **p;

	if (why && c->state == C_READY)
		log_info("site: delegate %s (pid %d) disconnected: %s", dlg_name(s, c->dlg),
			 (int)c->pid, why);
	if (c->dlg && c->dlg < s->n_dlgs && s->dlgs[c->dlg].conn == c->serial)
		s->dlgs[c->dlg].conn = 0;
	for (p = &s->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	s->n_conns--;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static void refill(struct dyperd *d, struct site_conn *c)
{
	uint64_t now = now_ns();

	c->tokens += (double)(now - c->refill_ns) * d->cfg.site.rate / 1e9;
	if (c->tokens > d->cfg.site.burst)
		c->tokens = d->cfg.site.burst;
	c->refill_ns = now;
}

/* Runs the complete lines in the input buffer, within the rate limit. */
static bool conn_lines(struct dyperd *d, struct site_conn *c)
{
	struct site *s = S(d);
	size_t off = 0;

	while (!c->closing) {
		char *nl = memchr(c->in + off, '\n', c->in_len - off);

		if (!nl)
			break;
		if (c->state == C_READY) {
			refill(d, c);
			if (c->tokens < 1) {
				if (!c->paused)
					s->st.rate_limited++;
				c->paused = true;
				break;
			}
			c->tokens -= 1;
		}
		handle_line(d, c, c->in + off, (size_t)(nl - (c->in + off)));
		off = (size_t)(nl - c->in) + 1;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	if (c->in_len == sizeof(c->in)) {
		log_limited(LOG_WARNING, "site: long line", "site: delegate %s (pid %d): a line "
			    "longer than %d bytes: closing", dlg_name(s, c->dlg), (int)c->pid,
			    REMOTE_WIRE_LINE_MAX);
		put_err(d, c, 0, EMSGSIZE, "line longer than %d bytes", REMOTE_WIRE_LINE_MAX - 1);
		c->closing = true;
	}
	return conn_flush(d, c);
}

void site_conn_event(struct dyperd *d, struct site_conn *c, unsigned events)
{
	size_t got = 0;

	if ((events & EPOLLOUT) && !conn_flush(d, c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	while (!c->eof && !c->closing && !c->paused && got < SITE_READ_MAX &&
	       c->in_len < sizeof(c->in)) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			conn_close(d, c, strerror(errno));
			return;
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		c->in_len += (size_t)n;
		got += (size_t)n;
		if (!conn_lines(d, c))
			return;
	}
	if (c->eof && c->state != C_READY) {
		conn_close(d, c, NULL);
		return;
	}
	conn_flush(d, c);
}

void site_accept(struct dyperd *d)
{
	struct site *s = S(d);

	for (;;) {
		struct ucred cr;
		socklen_t len = sizeof(cr);
		struct site_conn *c;
		struct epoll_event ev;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				listener_backoff(d, s->lfd, &s->listen_tag, &s->rearm_ms, errno, "site");
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || len != sizeof(cr)) {
			close(fd);
			continue;
		}
		/* only dyper-remote, run by sshd as the site account, may say DELEGATE */
		if (cr.uid != s->account) {
			static const char no[] = "DYPER ERR not the site account\n";

			s->st.refused++;
			log_limited(LOG_WARNING, "site: wrong uid", "site: refused a connection from "
				    "uid %u (pid %d): only the site account (uid %u) may connect",
				    (unsigned)cr.uid, (int)cr.pid, (unsigned)s->account);
			if (send(fd, no, sizeof(no) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* refused either way */
			}
			close(fd);
			continue;
		}
		if (s->n_conns >= d->cfg.site.max_connections) {
			static const char full[] = "DYPER ERR too many connections\n";

			s->st.refused++;
			log_limited(LOG_WARNING, "site: full", "site: refused a connection (pid %d): "
				    "max_connections (%u) reached", (int)cr.pid,
				    d->cfg.site.max_connections);
			if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* refused either way */
			}
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->tag.kind = EV_SITE_CONN;
		c->fd = fd;
		c->serial = ++s->conn_serial;
		c->pid = cr.pid;
		c->uid = cr.uid;
		c->deadline_ms = now_ms() + SITE_HELLO_MS;
		c->tokens = d->cfg.site.burst;
		c->refill_ns = now_ns();
		c->events = EPOLLIN;
		ev.events = EPOLLIN;
		ev.data.ptr = &c->tag;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
		s->st.connections++;
	}
}

/* --- the loop's hooks ---------------------------------------------------------- */

void site_commit(struct dyperd *d)
{
	struct site *s = S(d);
	struct enforcer_sink sink = sink_of(d);

	/* The router's table runs a job inside dispatch, in microseconds:
	 * dispatch at once rather than one loop iteration later (a device
	 * that answers later just has nothing to deliver yet).  Bounded, so
	 * that a flood of requests cannot hold the loop. */
	for (int i = 0; i < 64 && s->q_len; i++) {
		submit_batches(d);
		if (!s->inflight)
			break;
		enforcer_dispatch(s->e, &sink);
	}
	/* what is left goes in now: the router's fd wakes the loop for it,
	 * rather than the next timer tick */
	submit_batches(d);
}

static void lease_scan(struct dyperd *d)
{
	struct site *s = S(d);
	uint64_t now = now_ms();

	for (uint32_t i = 0; i < s->t.cap; i++) {
		struct ph_entry *e = &s->t.v[i];
		char p[PINHOLE_STR_LEN];

		if (!e->used || e->state != PH_OPEN || !e->expires_ms || e->expires_ms > now)
			continue;
		pinhole_format(&e->ph, p, sizeof(p));
		log_limited(LOG_NOTICE, "site: lease lapsed", "site: delegate %s: %s: lease lapsed",
			    e->ph.owner.delegate, p);
		s->st.lapsed++;
		close_entry(d, i, "lease lapsed", NULL, 0);
	}
}

static void members_log(struct site *s);

void site_tick(struct dyperd *d)
{
	struct site *s = S(d);
	uint64_t now = now_ms();
	struct site_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->deadline_ms && now >= c->deadline_ms) {
			log_limited(LOG_NOTICE, "site: slow hello", "site: pid %d sent no DELEGATE "
				    "and DYPER within %d s: closing", (int)c->pid, SITE_HELLO_MS / 1000);
			conn_close(d, c, NULL);
			continue;
		}
		if (c->paused) {
			refill(d, c);
			if (c->tokens >= 1) {
				c->paused = false;
				/* lines already buffered run first */
				if (conn_lines(d, c))
					conn_update_events(d, c);
			}
		}
	}
	if (s->rearm_ms && now >= s->rearm_ms) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->listen_tag };

		if (!epoll_ctl(d->epfd, EPOLL_CTL_MOD, s->lfd, &ev))
			s->rearm_ms = 0;
	}
	if (now >= s->next_lease_ms) {
		s->next_lease_ms = now + LEASE_SCAN_MS;
		lease_scan(d);
	}
	members_log(s);
	/* a device's check and read-back each list its whole ACL: the device's
	 * time, so at [site] audit_interval rather than the table's pace */
	if (now >= s->next_check_ms && !s->check_busy && !s->setup_busy) {
		s->next_check_ms = now + (s->devices ? d->cfg.site.audit_ms : d->cfg.tamper_check_ms);
		if (submit_job(s, ENFORCER_CHECK, TAG_CHECK) == 0)
			s->check_busy = true;
	}
	/* a read-back now and then where others can change the table */
	if (now >= s->next_reconcile_ms) {
		s->next_reconcile_ms = now + (s->devices ? d->cfg.site.audit_ms : d->cfg.reconcile_ms);
		if (!enforcer_exclusive(s->e))
			start_read(s);
	}
}

/* --- start and stop ----------------------------------------------------------- */

/* The account's uid: digits are a uid, anything else a user name.  The
 * reentrant lookup: main() still holds getpwnam()'s answer for the
 * daemon's own user, which it drops to after this. */
static int account_uid(const char *account, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long v;
	int err;

	if (account[0] >= '0' && account[0] <= '9') {
		errno = 0;
		v = strtoul(account, &end, 10);
		if (errno || *end || v >= UINT32_MAX)
			return -EINVAL;
		*uid = (uid_t)v;
		return 0;
	}
	err = getpwnam_r(account, &pw, buf, sizeof(buf), &res);
	if (err)
		return -err;
	if (!res)
		return -ENOENT;
	*uid = pw.pw_uid;
	return 0;
}

/* Waits for @want completions of the jobs site_start submitted. */
static int wait_start(struct dyperd *d, unsigned want)
{
	struct site *s = S(d);
	uint64_t end = now_ms() + (s->devices ? SITE_START_DEVICES_MS : SITE_START_MS);
	struct enforcer_sink sink = sink_of(d);

	while (s->start_done < want) {
		struct pollfd pfd = { .fd = enforcer_fd(s->e), .events = POLLIN };
		int err;

		if (now_ms() >= end)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			return -errno;
		err = enforcer_dispatch(s->e, &sink);
		if (err)
			return err;
	}
	return s->start_err;
}

static int site_listen(struct dyperd *d)
{
	struct site *s = S(d);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg.site.socket;
	mode_t old;
	int fd, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	old = umask(0);
	/* anyone may connect: SO_PEERCRED decides, and says so in the log */
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) ||
	      listen(fd, 128) ? -errno : 0;
	umask(old);
	if (err) {
		log_err("site: cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	s->lfd = fd;
	return 0;
}

/* The router's table as an enforcer: 0 or -errno, logged. */
static int router_new(struct dyperd *d, struct enforcer **out)
{
	struct nft_enforcer_config nftcfg;
	struct nft_enforcer *nft = NULL;
	int err;

	nftconf_router_from_config(&nftcfg, &d->cfg);
	err = nft_enforcer_open(&nft, &nftcfg);
	if (err) {
		log_err("site: %s", nft ? nft_enforcer_error(nft) : strerror(-err));
		nft_enforcer_free(nft);
		return err;
	}
	err = nft_router_new(out, nft, d->cfg.site.batch);
	if (err)
		log_err("site: cannot make the router's enforcer: %s", strerror(-err));
	return err;
}

/* The [device] sections (and the router's table if [site] router) as one
 * fan-out: 0 or -errno, logged. */
static int devices_new(struct dyperd *d, struct enforcer **out)
{
	struct fanout_member m[FANOUT_MAX_MEMBERS] = { 0 };
	struct fanout_prefix g[DYPER_MAX_DEVICES][DYPER_DEVICE_MAX_GUARDS];
	size_t n = 0;
	int err = 0;

	if (dyper_config_site_router(&d->cfg)) {
		err = router_new(d, &m[n].e);
		if (err)
			return err;
		m[n++].router = true;
	}
	for (size_t i = 0; i < d->cfg.n_devices; i++) {
		const struct dyper_device_conf *dc = &d->cfg.device[i];
		struct remote_device_config rc;
		char why[CLI_ERROR_LEN] = "";

		devconf_to_remote(&rc, dc);
		err = remote_device_new(&m[n].e, &rc, why);
		if (err) {
			log_err("site: device %s: %s", dc->name, why[0] ? why : strerror(-err));
			goto fail;
		}
		for (size_t k = 0; k < dc->n_guards; k++) {
			g[i][k].family = dc->guards[k].family;
			g[i][k].len = dc->guards[k].len;
			memcpy(g[i][k].addr.raw, dc->guards[k].addr, sizeof(g[i][k].addr.raw));
		}
		m[n].guards = g[i];
		m[n].n_guards = dc->n_guards;
		m[n].lag_ms = dc->lag_ms;
		n++;
	}
	err = fanout_new(out, m, n);	/* takes the members, also on failure */
	if (err)
		log_err("site: cannot drive the border devices: %s", strerror(-err));
	return err;
fail:
	for (size_t i = 0; i < n; i++)
		enforcer_free(m[i].e);
	return err;
}

/* Logs a device going down, falling behind or coming back. */
static void members_log(struct site *s)
{
	struct fanout_status st;

	for (size_t i = 0; s->devices && fanout_status(s->e, i, &st) == 0; i++) {
		if (s->member_state[i] == st.state)
			continue;
		if (st.state == FANOUT_DOWN && s->member_state[i] != FANOUT_RETURNING)
			log_err("site: device %s is down: %s; pinholes go to the others, and to it "
				"when it is back (retried with backoff)", st.name,
				st.error[0] ? st.error : "unreachable");
		else if (st.state == FANOUT_BEHIND)
			log_warn("site: device %s is behind (%zu ops queued, %u batches in flight): "
				 "hosts are answered without waiting for it", st.name, st.queued,
				 st.inflight);
		else if (st.state == FANOUT_UP)
			log_notice("site: device %s is up%s", st.name,
				   s->member_state[i] == FANOUT_BEHIND ? " (caught up)" :
				   s->member_state[i] == FANOUT_RETURNING ? " again: its backlog is being "
				   "applied" : "");
		s->member_state[i] = (uint8_t)st.state;
	}
}

int site_start(struct dyperd *d)
{
	struct site *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	d->site = s;
	s->lfd = -1;
	s->enf_tag.kind = EV_SITE_ENFORCER;
	s->listen_tag.kind = EV_SITE_LISTEN;
	err = account_uid(d->cfg.site.account, &s->account);
	if (err) {
		log_err("site: account \"%s\" (dyper-remote's user): %s: create it or set account= "
			"in [site] of %s", d->cfg.site.account,
			err == -ENOENT ? "no such user" : strerror(-err), d->config_path);
		return err;
	}
	err = table_init(&s->t);
	if (err)
		return err;
	s->devices = d->cfg.n_devices > 0;
	if (s->devices) {
		err = devices_new(d, &s->e);
		s->unclaimed = delegate_get(s, SITE_UNCLAIMED);
		if (!err && !s->unclaimed)
			err = -ENOMEM;
	} else {
		err = router_new(d, &s->e);
	}
	if (err)
		return err;
	/* the structure, then what it holds: adopted below */
	s->starting = true;
	err = submit_job(s, ENFORCER_SETUP, TAG_SETUP);
	if (!err) {
		s->setup_busy = true;
		err = wait_start(d, 1);
	}
	if (!err) {
		start_read(s);
		err = s->read_busy ? wait_start(d, 2) : -EIO;
	}
	s->starting = false;
	if (err && s->devices) {
		log_err("site: no border device is usable: %s", s->start_err ?
			enforcer_error(s->e) : err == -ETIMEDOUT ? "they did not answer within 90 s" :
			strerror(-err));
		return err;
	}
	if (err) {
		log_err("site: the router's table %s is not usable: %s", d->cfg.site.table,
			s->start_err ? enforcer_error(s->e) : strerror(-err));
		return err;
	}
	if (s->devices) {
		/* just checked and read: the audits from here, staggered */
		s->next_check_ms = now_ms() + d->cfg.site.audit_ms;
		s->next_reconcile_ms = now_ms() + d->cfg.site.audit_ms / 2;
		members_log(s);
		log_notice("site: %zu border device%s%s: %u pinholes adopted (unclaimed until their "
			   "hosts sync), %zu dropped", d->cfg.n_devices, d->cfg.n_devices == 1 ? "" :
			   "s", dyper_config_site_router(&d->cfg) ? " and the router's table" : "",
			   s->t.count, s->q_len);
	} else {
		log_notice("site: table inet %s on the router: %u pinholes adopted, %zu dropped",
			   d->cfg.site.table, s->t.count, s->q_len);
	}
	return site_listen(d);
}

int site_watch(struct dyperd *d)
{
	struct site *s = S(d);
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.ptr = &s->enf_tag;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, enforcer_fd(s->e), &ev))
		return -errno;
	ev.data.ptr = &s->listen_tag;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->lfd, &ev))
		return -errno;
	return 0;
}

static void op_free(struct site_op *op)
{
	while (op->waiters) {
		struct site_waiter *w = op->waiters;

		op->waiters = w->next;
		free(w);
	}
	free(op);
}

void site_stop(struct dyperd *d)
{
	struct site *s = S(d);

	if (!s)
		return;
	while (s->conns)
		conn_close(d, s->conns, NULL);
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(d->cfg.site.socket);
	}
	/* what was never submitted, or never answered, is dropped: the
	 * router's table is the record */
	for (size_t i = 0; i < s->q_len; i++)
		op_free(s->q[s->q_head + i]);
	free(s->q);
	enforcer_free(s->e);
	while (s->batches) {
		struct site_batch *b = s->batches;

		s->batches = b->next;
		for (size_t i = 0; i < b->job.n; i++)
			op_free(b->ops[i]);
		free(b->ops);
		free(b->pops);
		free(b);
	}
	table_free(&s->t);
	free(s->dlgs);
	free(s);
	d->site = NULL;
}

/* --- dyperctl ------------------------------------------------------------------- */

static const char *site_state(uint8_t st)
{
	return st == PH_PENDING ? "opening" : st == PH_CLOSING ? "closing" : "open";
}

void site_list(const struct dyperd *d, FILE *f, bool json)
{
	const struct site *s = d->site;
	uint64_t now = now_ms();
	bool first = true;

	if (json)
		fputc('[', f);
	else
		fprintf(f, "%-6s %-20s %-5s %-28s %-28s %8s %s\n", "ID", "DELEGATE", "PROTO",
			"REMOTE", "LOCAL", "LEASE", s->devices ? "STATE   PACKETS" : "STATE");
	for (uint32_t i = 0; i < s->t.cap; i++) {
		const struct ph_entry *e = &s->t.v[i];
		char r[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN], rs[64], ls[64];
		long long left;

		if (!e->used)
			continue;
		left = e->expires_ms > now ? (long long)(e->expires_ms - now) / 1000 : 0;
		inet_ntop(e->ph.family, e->ph.remote.raw, r, sizeof(r));
		inet_ntop(e->ph.family, e->ph.local.raw, l, sizeof(l));
		if (json) {
			fprintf(f, "%s{\"id\":%u,\"delegate\":\"%s\",\"state\":\"%s\",\"proto\":\"%s\","
				"\"remote\":\"%s\",\"remote_port\":%u,\"local\":\"%s\",\"local_port\":%u,"
				"\"lease_s\":%lld,\"rule_line\":%u,\"created\":%" PRIu64 ",\"packets\":",
				first ? "" : ",", e->id, e->ph.owner.delegate, site_state(e->state),
				e->ph.proto == IPPROTO_TCP ? "tcp" : "udp", r, e->ph.remote_port, l,
				e->ph.local_port, left, e->rule_line, e->ph.owner.created);
			/* the devices' counts at the last audit; the router's table
			 * keeps none here */
			if (s->devices)
				fprintf(f, "%" PRIu64 "}", e->packets);
			else
				fputs("null}", f);
			first = false;
			continue;
		}
		if (e->ph.remote_port)
			snprintf(rs, sizeof(rs), e->ph.family == AF_INET6 ? "[%s]:%u" : "%s:%u", r,
				 e->ph.remote_port);
		else
			snprintf(rs, sizeof(rs), e->ph.family == AF_INET6 ? "[%s]:*" : "%s:*", r);
		snprintf(ls, sizeof(ls), e->ph.family == AF_INET6 ? "[%s]:%u" : "%s:%u", l,
			 e->ph.local_port);
		fprintf(f, "%-6u %-20s %-5s %-28s %-28s %7llds ", e->id, e->ph.owner.delegate,
			e->ph.proto == IPPROTO_TCP ? "tcp" : "udp", rs, ls, left);
		if (s->devices)
			fprintf(f, "%-7s %" PRIu64 "\n", site_state(e->state), e->packets);
		else
			fprintf(f, "%s\n", site_state(e->state));
	}
	if (json)
		fputs("]\n", f);
	else
		fprintf(f, "%u pinhole%s\n", s->t.count, s->t.count == 1 ? "" : "s");
}

/* Each border device (and the router's table among them): its state, what
 * waits for it, what it did. */
static void devices_stats(const struct site *s, FILE *f, bool json)
{
	struct fanout_status st;
	char esc[1024];

	if (json)
		fputs(",\"devices\":[", f);
	for (size_t i = 0; fanout_status(s->e, i, &st) == 0; i++) {
		if (json) {
			fprintf(f, "%s{\"name\":\"%s\",\"state\":\"%s\",\"queued\":%zu,"
				"\"inflight\":%u,\"applied\":%" PRIu64 ",\"refused\":%" PRIu64
				",\"repaired\":%" PRIu64 ",\"downs\":%" PRIu64 ",\"error\":",
				i ? "," : "", st.name, fanout_state_name(st.state), st.queued,
				st.inflight, st.applied, st.refused, st.repaired, st.downs);
			json_escape(esc, sizeof(esc), st.error);
			fprintf(f, "\"%s\"}", esc);
			continue;
		}
		fprintf(f, "device %-13s %-9s queued %zu, in flight %u, applied %" PRIu64
			", refused %" PRIu64 ", repaired %" PRIu64 ", down %" PRIu64 " times", st.name,
			fanout_state_name(st.state), st.queued, st.inflight, st.applied, st.refused,
			st.repaired, st.downs);
		if (st.state == FANOUT_DOWN)
			fprintf(f, ", retry in %" PRIu64 " ms", st.retry_in_ms);
		if (st.error[0])
			fprintf(f, " (%s)", st.error);
		fputc('\n', f);
	}
	if (json)
		fputc(']', f);
}

void site_stats(const struct dyperd *d, FILE *f, bool json)
{
	const struct site *s = d->site;
	const struct site_stats *st = &s->st;
	double mean = st->batches ? (double)st->batch_ops / (double)st->batches : 0;
	bool first = true;

#define SITE_STATS(X) \
	X("pinholes", s->t.count) X("delegates", s->n_dlgs ? s->n_dlgs - 1 : 0) \
	X("connections", s->n_conns) X("connections_total", st->connections) \
	X("connections_refused", st->refused) X("superseded", st->superseded) \
	X("requests", st->requests) X("bad_lines", st->bad_lines) \
	X("rate_limited", st->rate_limited) X("opened", st->opens) X("closed", st->closes) \
	X("denied", st->denied) X("quota", st->quota) X("errors", st->errors) \
	X("lapsed", st->lapsed) X("renewals", st->renewals) X("syncs", st->syncs) \
	X("sync_closed", st->sync_closed) X("adopted", st->adopted) X("dropped", st->dropped) \
	X("repairs", st->repairs) X("queued", s->q_len) X("batches", st->batches) \
	X("batch_max", st->batch_max) X("claimed", st->claimed)
#define SJ(name, v) { fprintf(f, "%s\"%s\":%" PRIu64, first ? "{" : ",", name, (uint64_t)(v)); \
		      first = false; }
#define ST(name, v) fprintf(f, "%-20s %" PRIu64 "\n", name, (uint64_t)(v));
	if (json) {
		SITE_STATS(SJ)
		fprintf(f, ",\"batch_mean\":%.2f,\"table_owned\":%s", mean,
			enforcer_exclusive(s->e) ? "true" : "false");
		if (s->devices)
			devices_stats(s, f, true);
		fputs("}\n", f);
	} else {
		SITE_STATS(ST)
		fprintf(f, "%-20s %.2f\n%-20s %s\n", "batch_mean", mean, "table_owned",
			enforcer_exclusive(s->e) ? "yes" : "no");
		if (s->devices)
			devices_stats(s, f, false);
	}
#undef SJ
#undef ST
#undef SITE_STATS
}
