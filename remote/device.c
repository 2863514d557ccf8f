// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/device — a border device as an enforcer (see device.h): the job
 * queue and worker thread, the table of entries learned from the device,
 * identity allocation, and the batch loop that applies, reads back and
 * reconciles.  What is vendor-specific (lines, listings, commits) is in
 * the dialects, remote/ios.c, remote/ftos.c, remote/ironware.c and
 * remote/junos.c.
 *
 * Why a thread and not a non-blocking state machine: a device answers a
 * batch line by line over seconds, and each vendor's flow (enter config
 * mode, the ACL's context, commit check/confirmed/commit, read back) reads
 * naturally as straight-line code; a thread per device keeps that code
 * simple while the controller's loop only sees an eventfd.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "remote/device.h"
#include "remote/ssh.h"

#define MAX_INFLIGHT	4

struct dev_job {
	struct enforcer_job job;
	struct dev_job *next;
	int err;
	bool intact, changed;
	char msg[CLI_ERROR_LEN];
	struct pinhole_entry *entries;
	size_t n_entries;
};

/* One entry of ours the device holds, by key (tsearch). */
struct tab_entry {
	struct pinhole ph;
	uint32_t id;
};

struct id_space {
	uint64_t *bits;			/* [first_id, last_id], set: taken */
	uint32_t next;			/* next-fit cursor */
	uint32_t limit;			/* highest usable now (IOS: below the deny) */
	size_t taken;			/* set bits in [first_id, limit]: counted as
					 * they change, for make_room's check of every
					 * batch (a scan of the bitmap took longer than
					 * the rest of a one-update batch) */
};

struct device {
	struct remote_device_config cfg;	/* strings point into the copies below */
	char *strings[12];
	const struct device_dialect *dl;
	struct cli *cli;

	/* the table (worker only) */
	void *tree;
	size_t n_tab;
	struct id_space ids[2];
	bool found[2];
	size_t n_acl[2];		/* entries of each ACL, ours and the site's */
	bool tab_valid;			/* learned since the session opened */

	/* the worker */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct dev_job *pend, **pend_tail;	/* FIFO, submitted */
	struct dev_job *done, **done_tail;	/* FIFO, completed */
	int efd;
	uint64_t last_use_ms;		/* worker: last command */
	bool dirty;			/* worker: changed since the last save */
	uint64_t last_save_ms;
	char error[CLI_ERROR_LEN];	/* under lock */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t remote_device_batch_default(const char *type)
{
	static const struct { const char *type; size_t n; } paper[] = {
		{ "ios", 300 }, { "ftos", 1000 }, { "ironware", 5000 }, { "junos", 4200 },
	};

	for (size_t i = 0; i < sizeof(paper) / sizeof(paper[0]); i++)
		if (type && !strcmp(type, paper[i].type))
			return paper[i].n;
	return 0;
}

static const struct device_dialect *dialect_of(const char *type)
{
	if (!type)
		return NULL;
	if (!strcmp(type, "ios"))
		return &device_ios;
	if (!strcmp(type, "ftos"))
		return &device_ftos;
	if (!strcmp(type, "ironware"))
		return &device_ironware;
	if (!strcmp(type, "junos"))
		return &device_junos;
	return NULL;
}

struct cli *device_cli(struct device *d)
{
	return d->cli;
}

const struct remote_device_config *device_config(const struct device *d)
{
	return &d->cfg;
}

/* --- small shared helpers ------------------------------------------------------ */

int device_lines_add(struct device_lines *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->n == l->ncap) {
		size_t cap = l->ncap ? 2 * l->ncap : 64;
		size_t *off = realloc(l->off, cap * sizeof(*off));

		if (!off)
			return -ENOMEM;
		l->off = off;
		l->ncap = cap;
	}
	for (;;) {
		size_t room = l->cap - l->len;

		va_start(ap, fmt);
		n = room ? vsnprintf(l->buf + l->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room)
			break;
		{
			size_t cap = l->cap ? 2 * l->cap : 8192;
			char *p = realloc(l->buf, cap);

			if (!p)
				return -ENOMEM;
			l->buf = p;
			l->cap = cap;
		}
	}
	if (n > CLI_LINE_MAX)
		return -E2BIG;
	l->off[l->n++] = l->len;
	l->len += (size_t)n + 1;
	return (int)(l->n - 1);
}

const char *const *device_lines_ptrs(struct device_lines *l)
{
	const char **p = realloc(l->ptr, (l->n ? l->n : 1) * sizeof(*p));

	if (!p)
		return NULL;
	l->ptr = p;
	for (size_t i = 0; i < l->n; i++)
		p[i] = l->buf + l->off[i];
	return p;
}

int device_lines_run(struct device *d, struct device_lines *l, int **res)
{
	const char *const *p = device_lines_ptrs(l);

	*res = calloc(l->n ? l->n : 1, sizeof(**res));
	if (!*res || !p)
		return -ENOMEM;
	return cli_run(d->cli, p, l->n, *res, NULL, NULL);
}

void device_lines_reset(struct device_lines *l)
{
	l->len = 0;
	l->n = 0;
}

void device_lines_free(struct device_lines *l)
{
	free(l->buf);
	free(l->off);
	free(l->ptr);
	memset(l, 0, sizeof(*l));
}

void device_addr(const struct pinhole *ph, bool remote, char *buf, size_t len)
{
	if (!inet_ntop(ph->family, remote ? ph->remote.raw : ph->local.raw, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

const char *device_proto(const struct pinhole *ph)
{
	return ph->proto == IPPROTO_TCP ? "tcp" : "udp";
}

size_t device_split(char *s, char **tok, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(s, " \t", &save); t && n < max; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	return n;
}

int device_number(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

int device_parse_addr(uint8_t family, const char *s, union pinhole_addr *a)
{
	memset(a, 0, sizeof(*a));
	return inet_pton(family, s, a->raw) == 1 ? 0 : -EINVAL;
}

int device_view_add(struct device_view *view, const struct device_entry *e)
{
	if (view->n == view->cap) {
		size_t cap = view->cap ? 2 * view->cap : 256;
		struct device_entry *v = realloc(view->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		view->v = v;
		view->cap = cap;
	}
	view->v[view->n++] = *e;
	return 0;
}

static int fam_index(uint8_t family)
{
	return family == AF_INET6;
}

/* --- the table ------------------------------------------------------------------- */

static size_t addr_len(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct pinhole *a = &((const struct tab_entry *)pa)->ph;
	const struct pinhole *b = &((const struct tab_entry *)pb)->ph;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->remote_port != b->remote_port)
		return a->remote_port < b->remote_port ? -1 : 1;
	if (a->local_port != b->local_port)
		return a->local_port < b->local_port ? -1 : 1;
	return memcmp(a->remote.raw, b->remote.raw, addr_len(a->family)) ?:
	       memcmp(a->local.raw, b->local.raw, addr_len(a->family));
}

static struct tab_entry *tab_find(struct device *d, const struct pinhole *ph)
{
	struct tab_entry key = { .ph = *ph };
	void *r = tfind(&key, &d->tree, key_cmp);

	return r ? *(struct tab_entry **)r : NULL;
}

static int tab_insert(struct device *d, const struct pinhole *ph, uint32_t id)
{
	struct tab_entry *e = calloc(1, sizeof(*e));
	void *r;

	if (!e)
		return -ENOMEM;
	e->ph.family = ph->family;
	e->ph.proto = ph->proto;
	e->ph.remote_port = ph->remote_port;
	e->ph.local_port = ph->local_port;
	e->ph.remote = ph->remote;
	e->ph.local = ph->local;
	e->id = id;
	r = tsearch(e, &d->tree, key_cmp);
	if (!r) {
		free(e);
		return -ENOMEM;
	}
	if (*(struct tab_entry **)r != e) {
		free(e);
		return -EEXIST;
	}
	d->n_tab++;
	return 0;
}

static void tab_remove(struct device *d, struct tab_entry *e)
{
	tdelete(e, &d->tree, key_cmp);
	free(e);
	d->n_tab--;
}

static void tab_clear(struct device *d)
{
	tdestroy(d->tree, free);
	d->tree = NULL;
	d->n_tab = 0;
}

static bool id_taken(const struct id_space *s, const struct remote_device_config *c, uint32_t id)
{
	uint32_t i = id - c->first_id;

	return s->bits[i / 64] & (1ull << (i % 64));
}

static void id_set(struct id_space *s, const struct remote_device_config *c, uint32_t id,
		   bool taken)
{
	uint32_t i = id - c->first_id;
	uint64_t bit = 1ull << (i % 64);

	if (id < c->first_id || id > c->last_id || !(s->bits[i / 64] & bit) == !taken)
		return;
	s->bits[i / 64] ^= bit;
	if (id <= s->limit)
		s->taken = taken ? s->taken + 1 : s->taken - 1;
}

/* Next free identity at or after the cursor, wrapping; 0 if none. */
static uint32_t id_alloc(struct device *d, int fam)
{
	struct id_space *s = &d->ids[fam];
	const struct remote_device_config *c = &d->cfg;
	uint32_t span, id;

	if (s->limit < c->first_id)
		return 0;
	span = s->limit - c->first_id + 1;
	id = s->next < c->first_id || s->next > s->limit ? c->first_id : s->next;
	for (uint32_t k = 0; k < span; k++) {
		if (!id_taken(s, c, id)) {
			id_set(s, c, id, true);
			s->next = id == s->limit ? c->first_id : id + 1;
			return id;
		}
		id = id == s->limit ? c->first_id : id + 1;
	}
	return 0;
}

/* Identities still free for family @f (below its limit). */
static size_t id_free(const struct device *d, int f)
{
	const struct id_space *s = &d->ids[f];
	const struct remote_device_config *c = &d->cfg;

	if (s->limit < c->first_id)
		return 0;
	return (size_t)(s->limit - c->first_id) + 1 - s->taken;
}

/* --- sessions, learning ------------------------------------------------------------ */

static void set_error(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct device *d, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&d->lock);
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&d->lock);
}

/* Rebuilds the table from @view; *@changed if it differed from before. */
static int tab_rebuild(struct device *d, struct device_view *view, bool *changed)
{
	const struct remote_device_config *c = &d->cfg;
	size_t ours = 0, same = 0;
	size_t words = (c->last_id - c->first_id) / 64 + 1;
	int err;

	for (size_t i = 0; i < view->n; i++) {
		const struct device_entry *e = &view->v[i];
		struct tab_entry *t;

		view->last[fam_index(e->ph.family)] = e;
		if (!e->ours)
			continue;
		ours++;
		t = tab_find(d, &e->ph);
		if (t && t->id == e->id)
			same++;
	}
	if (changed)
		*changed = !d->tab_valid || ours != same || ours != d->n_tab;
	tab_clear(d);
	for (int f = 0; f < 2; f++) {
		const struct device_entry *last = view->last[f];

		memset(d->ids[f].bits, 0, words * sizeof(uint64_t));
		d->ids[f].taken = 0;
		d->ids[f].limit = c->last_id;
		d->found[f] = view->found[f];
		/* entries are matched in sequence order: ours go below the deny */
		if (d->dl->ids_below_deny && last && !last->ours && last->id <= c->last_id)
			d->ids[f].limit = last->id ? last->id - 1 : 0;
	}
	d->n_acl[0] = d->n_acl[1] = 0;
	for (size_t i = 0; i < view->n; i++) {
		const struct device_entry *e = &view->v[i];
		int f = fam_index(e->ph.family);

		d->n_acl[f]++;
		id_set(&d->ids[f], c, e->id, true);
		if (!e->ours)
			continue;
		err = tab_insert(d, &e->ph, e->id);
		/* a second entry for one pinhole (a manual copy) keeps its
		 * identity taken; the first one is the one we manage */
		if (err && err != -EEXIST)
			return err;
	}
	d->tab_valid = true;
	return 0;
}

static void view_free(struct device_view *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}

/* Learns the table from the device; @view (optional) keeps the listing. */
static int learn(struct device *d, struct device_view *keep, bool *changed)
{
	struct device_view view = { 0 };
	int err;

	d->tab_valid = d->tab_valid && cli_is_open(d->cli);
	err = d->dl->learn(d, &view);
	if (!err)
		err = tab_rebuild(d, &view, changed);
	if (err)
		d->tab_valid = false;
	if (err && cli_is_open(d->cli) && err != -ENOMEM)
		set_error(d, "%s: reading the ACL back: %s", d->cfg.name, cli_error(d->cli));
	if (!err && keep)
		*keep = view;
	else
		view_free(&view);
	d->last_use_ms = now_ms();
	return err;
}

/* Waits @ms, or less when the enforcer is being freed: true then. */
static bool stopping_after(struct device *d, uint32_t ms)
{
	uint64_t at = now_ms() + ms;
	struct timespec ts = { (time_t)(at / 1000), (long)(at % 1000) * 1000000 };
	bool s;

	pthread_mutex_lock(&d->lock);
	while (!d->stop && ms && pthread_cond_timedwait(&d->cond, &d->lock, &ts) != ETIMEDOUT)
		;
	s = d->stop;
	pthread_mutex_unlock(&d->lock);
	return s;
}

/* A session with the table learned, reconnecting with backoff. */
static int ensure_open(struct device *d)
{
	int err = 0;

	if (cli_is_open(d->cli) && d->tab_valid)
		return 0;
	for (unsigned a = 0; a < d->cfg.connect_tries; a++) {
		if (stopping_after(d, a ? remote_backoff_ms(a - 1, (uint32_t)random()) : 0))
			break;
		if (!cli_is_open(d->cli)) {
			d->tab_valid = false;
			err = cli_open(d->cli);
			if (!err && d->dl->recover)
				err = d->dl->recover(d);
			if (err) {
				set_error(d, "%s: %s", d->cfg.name, cli_error(d->cli));
				/* a wrong key or host key does not heal by retrying */
				if (err == -EKEYREJECTED || err == -EACCES || err == -ENOMEM)
					return err;
				continue;
			}
		}
		err = learn(d, NULL, NULL);
		if (!err)
			return 0;
	}
	return err ? err : -ECANCELED;
}

/* --- batches ------------------------------------------------------------------------ */

static int check_op(struct device *d, const struct pinhole_op *op)
{
	int err = pinhole_validate(&op->ph);

	if (err)
		return err;
	if (op->type != PINHOLE_ADD && op->type != PINHOLE_DEL)
		return -EINVAL;
	return 0;
}

enum { OP_PENDING, OP_DONE };

struct chunk {
	struct pinhole_op *ops;
	size_t n;
	uint8_t *state;
	uint8_t *tried;			/* a line for it was sent */
	uint8_t *refused;		/* times the device refused it */
	struct device_op *plan;
	size_t *map;			/* plan index -> op index */
};

static void finish(struct chunk *c, size_t i, int err)
{
	c->ops[i].err = err;
	c->state[i] = OP_DONE;
}

/*
 * Plans the pending ops on the table as the device holds it.  With @final,
 * nothing more will be sent: each pending op is judged by what the device
 * holds now.  Returns the ops planned.
 */
static size_t plan(struct device *d, struct chunk *c, bool final)
{
	size_t np = 0;

	for (size_t i = 0; i < c->n; i++) {
		struct pinhole_op *op = &c->ops[i];
		struct tab_entry *e;
		int f = fam_index(op->ph.family);
		uint32_t id;

		if (c->state[i] != OP_PENDING)
			continue;
		e = tab_find(d, &op->ph);
		if (op->type == PINHOLE_ADD && e) {
			finish(c, i, c->tried[i] ? 0 : -EEXIST);
			continue;
		}
		if (op->type == PINHOLE_DEL && !e) {
			finish(c, i, c->tried[i] ? 0 : -ENOENT);
			continue;
		}
		if (final) {
			finish(c, i, c->refused[i] ? -EREMOTEIO : -ECANCELED);
			continue;
		}
		if (!d->found[f]) {
			finish(c, i, -EAFNOSUPPORT);	/* no ACL for this family */
			continue;
		}
		if (op->type == PINHOLE_ADD) {
			id = id_alloc(d, f);
			if (!id) {
				finish(c, i, -ENFILE);
				continue;
			}
			if (tab_insert(d, &op->ph, id)) {
				id_set(&d->ids[f], &d->cfg, id, false);
				finish(c, i, -ENOMEM);
				continue;
			}
		} else {
			id = e->id;
			tab_remove(d, e);	/* the identity stays taken until gone */
		}
		c->plan[np] = (struct device_op){ .type = op->type, .ph = &op->ph, .id = id,
						  .res = -EINPROGRESS };
		c->map[np++] = i;
		c->tried[i] = 1;
	}
	return np;
}

static int learn(struct device *d, struct device_view *keep, bool *changed);

/*
 * Where identities order the entries (IOS), the room below the site's deny
 * can run out: after a reload IOS numbers every entry 10, 20, ..., the deny
 * among them.  Then the ACL is renumbered (in its order, the deny still
 * last) with the widest step that keeps it inside [first_id, last_id],
 * and learned again.  0, or the session's -errno.
 */
static int make_room(struct device *d, struct chunk *c)
{
	const struct remote_device_config *cfg = &d->cfg;

	if (!d->dl->resequence)
		return 0;
	for (int f = 0; f < 2; f++) {
		size_t need = 0;
		uint32_t step;
		int err;

		for (size_t i = 0; i < c->n; i++)
			if (c->state[i] == OP_PENDING && c->ops[i].type == PINHOLE_ADD &&
			    fam_index(c->ops[i].ph.family) == f)
				need++;
		if (!need || !d->found[f] || need <= id_free(d, f))
			continue;
		step = (uint32_t)((cfg->last_id - cfg->first_id) / (d->n_acl[f] + need + 1));
		if (step < 2 || (uint64_t)step * d->n_acl[f] < need + d->n_acl[f])
			continue;	/* no renumbering makes room: -ENFILE */
		/* from first_id + step: room below the first entry too, and the
		 * deny never lands on first_id */
		err = d->dl->resequence(d, f, cfg->first_id + step, step);
		d->tab_valid = false;
		if (err && err != -EREMOTEIO)
			return err;
		err = learn(d, NULL, NULL);
		if (err)
			return err;
	}
	return 0;
}

static int run_chunk(struct device *d, struct chunk *c)
{
	int err = 0;

	for (size_t i = 0; i < c->n; i++) {
		c->ops[i].err = check_op(d, &c->ops[i]);
		c->state[i] = c->ops[i].err ? OP_DONE : OP_PENDING;
	}
	for (unsigned round = 0;; round++) {
		bool final = round == REMOTE_DEVICE_ROUNDS, clean = true;
		size_t np;

		err = ensure_open(d);
		if (!err && !final)
			err = make_room(d, c);
		if (err && !cli_is_open(d->cli) && round < REMOTE_DEVICE_ROUNDS)
			continue;	/* reconnect, learn and try again */
		if (err) {
			for (size_t i = 0; i < c->n; i++)
				if (c->state[i] == OP_PENDING)
					finish(c, i, -ECANCELED);
			return err;
		}
		np = plan(d, c, final);
		if (!np)
			return 0;
		err = d->dl->apply(d, c->plan, np);
		d->last_use_ms = now_ms();
		for (size_t k = 0; k < np; k++) {
			size_t i = c->map[k];
			const struct device_op *p = &c->plan[k];

			if (p->res) {
				clean = false;
				if (p->res == -EREMOTEIO)
					c->refused[i]++;
				continue;
			}
			d->dirty = true;
			finish(c, i, 0);
			if (p->type == PINHOLE_DEL)
				id_set(&d->ids[fam_index(p->ph->family)], &d->cfg, p->id, false);
		}
		if (clean)
			return 0;
		if (err)
			set_error(d, "%s: %s", d->cfg.name, cli_error(d->cli));
		/* never assume which lines took: what the device holds decides */
		d->tab_valid = false;
		if (cli_is_open(d->cli))
			learn(d, NULL, NULL);
		/* refused twice: final, once the listing says it did not take */
		for (size_t k = 0; k < np && d->tab_valid; k++) {
			size_t i = c->map[k];
			bool held = tab_find(d, c->plan[k].ph) != NULL;

			if (c->state[i] != OP_PENDING || c->refused[i] < 2)
				continue;
			if (held == (c->plan[k].type == PINHOLE_ADD))
				finish(c, i, 0);
			else
				finish(c, i, -EREMOTEIO);
		}
	}
}

static int run_batch(struct device *d, struct pinhole_op *ops, size_t n)
{
	size_t bs = d->cfg.batch_size;
	struct chunk c = { 0 };
	int err = 0;

	c.state = calloc(bs, 1);
	c.tried = calloc(bs, 1);
	c.refused = calloc(bs, 1);
	c.plan = calloc(bs, sizeof(*c.plan));
	c.map = calloc(bs, sizeof(*c.map));
	if (!c.state || !c.tried || !c.refused || !c.plan || !c.map) {
		for (size_t j = 0; j < n; j++)
			ops[j].err = -ECANCELED;
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i += bs) {
		c.ops = ops + i;
		c.n = n - i < bs ? n - i : bs;
		memset(c.tried, 0, bs);
		memset(c.refused, 0, bs);
		err = run_chunk(d, &c);
		if (err) {
			for (size_t j = i + c.n; j < n; j++)
				ops[j].err = -ECANCELED;
			break;
		}
	}
out:
	free(c.state);
	free(c.tried);
	free(c.refused);
	free(c.plan);
	free(c.map);
	return err;
}

/* --- jobs --------------------------------------------------------------------------- */

static void collect_op(const void *node, VISIT which, void *arg)
{
	const struct tab_entry *e = *(const struct tab_entry *const *)node;
	struct pinhole_op **p = arg;

	if (which != postorder && which != leaf)
		return;
	(*p)->type = PINHOLE_DEL;
	(*p)->ph = e->ph;
	(*p)++;
}

static int run_flush(struct device *d)
{
	struct pinhole_op *ops, *p;
	size_t n;
	int err = ensure_open(d);

	if (err)
		return err;
	n = d->n_tab;
	if (!n)
		return 0;
	ops = calloc(n, sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	p = ops;
	twalk_r(d->tree, collect_op, &p);
	err = run_batch(d, ops, n);
	for (size_t i = 0; !err && i < n; i++)
		if (ops[i].err && ops[i].err != -ENOENT)
			err = ops[i].err;
	free(ops);
	return err;
}

/* The ACL of each family that exists must end with the site's deny; the
 * IPv4 one must exist. */
static void judge(struct device *d, const struct device_view *v, struct dev_job *j)
{
	static const char *const fam[2] = { "IPv4", "IPv6" };
	const char *acl[2] = { d->cfg.acl, d->cfg.acl6 };

	j->intact = true;
	for (int f = 0; f < 2; f++) {
		const struct device_entry *last = v->last[f];

		if (!v->found[f]) {
			if (f == 0) {
				j->intact = false;
				snprintf(j->msg, sizeof(j->msg), "%s: the %s ACL/filter %s is missing: "
					 "configure it (ending with a deny) and bind it first",
					 d->cfg.name, fam[f], acl[f]);
			}
			continue;
		}
		if (!last || last->ours || !last->deny) {
			j->intact = false;
			snprintf(j->msg, sizeof(j->msg), "%s: the %s ACL/filter %s does not end with "
				 "the site's own deny: add one after Dyper's entries", d->cfg.name,
				 fam[f], acl[f]);
		}
	}
}

static void run_job(struct device *d, struct dev_job *j)
{
	struct device_view view = { 0 };

	switch (j->job.type) {
	case ENFORCER_BATCH:
		j->err = run_batch(d, j->job.ops, j->job.n);
		break;
	case ENFORCER_READ:
	case ENFORCER_CHECK:
	case ENFORCER_SETUP:
		j->err = ensure_open(d);
		if (!j->err)
			j->err = learn(d, &view, &j->changed);
		if (j->err)
			break;
		judge(d, &view, j);
		if (j->job.type == ENFORCER_SETUP && !j->intact)
			j->err = -ENOENT;
		if (j->job.type != ENFORCER_READ)
			break;
		j->entries = calloc(view.n ? view.n : 1, sizeof(*j->entries));
		if (!j->entries) {
			j->err = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < view.n; i++) {
			struct pinhole_entry *pe = &j->entries[j->n_entries];

			if (!view.v[i].ours)
				continue;
			pe->ph = view.v[i].ph;
			pe->packets = view.v[i].packets;
			pe->bytes = view.v[i].bytes;
			j->n_entries++;
		}
		break;
	case ENFORCER_FLUSH:
		j->err = run_flush(d);
		break;
	default:
		j->err = -EINVAL;
	}
	view_free(&view);
	if (j->err && !j->msg[0]) {
		pthread_mutex_lock(&d->lock);
		snprintf(j->msg, sizeof(j->msg), "%s", d->error[0] ? d->error : strerror(-j->err));
		pthread_mutex_unlock(&d->lock);
	}
}

/* Idle work: the keepalive against the exec-timeout, the save schedule. */
static void idle(struct device *d, uint64_t now)
{
	const struct remote_device_config *c = &d->cfg;

	if (!cli_is_open(d->cli))
		return;
	if (d->dirty && c->save_interval_s && d->dl->save &&
	    now >= d->last_save_ms + (uint64_t)c->save_interval_s * 1000) {
		if (!d->dl->save(d)) {
			d->dirty = false;
			d->last_save_ms = now;
		} else {
			set_error(d, "%s: saving the configuration: %s", c->name, cli_error(d->cli));
		}
		d->last_use_ms = now_ms();
		return;
	}
	if (now >= d->last_use_ms + c->keepalive_ms) {
		if (cli_keepalive(d->cli))
			set_error(d, "%s: keepalive: %s", c->name, cli_error(d->cli));
		d->last_use_ms = now_ms();
	}
}

static uint64_t idle_due(struct device *d)
{
	const struct remote_device_config *c = &d->cfg;
	uint64_t due = d->last_use_ms + c->keepalive_ms;

	if (!cli_is_open(d->cli))
		return UINT64_MAX;
	if (d->dirty && c->save_interval_s && d->dl->save &&
	    d->last_save_ms + (uint64_t)c->save_interval_s * 1000 < due)
		due = d->last_save_ms + (uint64_t)c->save_interval_s * 1000;
	return due;
}

static void *worker(void *arg)
{
	struct device *d = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		struct dev_job *j = d->pend;
		uint64_t due, now;

		if (j) {
			d->pend = j->next;
			if (!d->pend)
				d->pend_tail = &d->pend;
			pthread_mutex_unlock(&d->lock);
			run_job(d, j);
			pthread_mutex_lock(&d->lock);
			j->next = NULL;
			*d->done_tail = j;
			d->done_tail = &j->next;
			/* announced after unlocking: the dispatching thread, woken,
			 * then finds the lock free instead of sleeping on it (one
			 * more context switch for each job, each way) */
			pthread_mutex_unlock(&d->lock);
			/* fails only when the counter would overflow: readable then */
			if (write(d->efd, &one, sizeof(one)) < 0) {
			}
			pthread_mutex_lock(&d->lock);
			continue;
		}
		due = idle_due(d);
		now = now_ms();
		if (now < due) {
			struct timespec ts;
			uint64_t at = due == UINT64_MAX ? now + 3600000 : due;

			ts.tv_sec = (time_t)(at / 1000);
			ts.tv_nsec = (long)(at % 1000) * 1000000;
			pthread_cond_timedwait(&d->cond, &d->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&d->lock);
		idle(d, now);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* --- the enforcer interface ---------------------------------------------------------- */

static int dev_submit(void *state, const struct enforcer_job *job)
{
	struct device *d = state;
	struct dev_job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->job = *job;
	pthread_mutex_lock(&d->lock);
	*d->pend_tail = j;
	d->pend_tail = &j->next;
	pthread_mutex_unlock(&d->lock);
	/* after unlocking: the worker, woken, finds the lock free (it looks
	 * at the queue under the lock before each wait: nothing is missed) */
	pthread_cond_signal(&d->cond);
	return 0;
}

static int dev_dispatch(void *state, struct enforcer *e, const struct enforcer_sink *sink)
{
	struct device *d = state;
	struct dev_job *list;
	uint64_t count;

	if (read(d->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	pthread_mutex_lock(&d->lock);
	list = d->done;
	d->done = NULL;
	d->done_tail = &d->done;
	pthread_mutex_unlock(&d->lock);
	while (list) {
		struct dev_job *j = list;
		struct enforcer_done done = { .job = &j->job, .err = j->err, .msg = j->msg,
					      .intact = j->intact, .changed = j->changed };

		list = j->next;
		for (size_t i = 0; i < j->n_entries; i++)
			sink->entry(e, j->job.tag, &j->entries[i], sink->arg);
		sink->done(e, &done, sink->arg);
		free(j->entries);
		free(j);
	}
	return 0;
}

static int dev_fd(const void *state)
{
	return ((const struct device *)state)->efd;
}

/* Anyone with the device's CLI can change the ACL: always read back. */
static bool dev_exclusive(const void *state)
{
	return false;
}

static const char *dev_error(const void *state)
{
	/* the worker may rewrite it: a snapshot per thread */
	static __thread char copy[CLI_ERROR_LEN];
	struct device *d = (struct device *)state;

	pthread_mutex_lock(&d->lock);
	memcpy(copy, d->error, sizeof(copy));
	pthread_mutex_unlock(&d->lock);
	return copy;
}

static void free_jobs(struct dev_job *j)
{
	while (j) {
		struct dev_job *next = j->next;

		free(j->entries);
		free(j);
		j = next;
	}
}

static void dev_free(void *state)
{
	struct device *d = state;

	if (!d)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free_jobs(d->pend);
	free_jobs(d->done);
	cli_free(d->cli);
	tab_clear(d);
	free(d->ids[0].bits);
	free(d->ids[1].bits);
	if (d->efd >= 0)
		close(d->efd);
	for (size_t i = 0; i < sizeof(d->strings) / sizeof(d->strings[0]); i++)
		free(d->strings[i]);
	free(d);
}

static const struct enforcer_ops device_ops = {
	.submit = dev_submit,
	.dispatch = dev_dispatch,
	.fd = dev_fd,
	.exclusive = dev_exclusive,
	.error = dev_error,
	.free = dev_free,
};

/* --- construction ---------------------------------------------------------------------- */

/* An ACL, filter or term name: put into CLI lines, so kept to a safe set. */
static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > REMOTE_DEVICE_NAME_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static int copy_str(struct device *d, size_t slot, const char **dst, const char *src)
{
	if (!src) {
		*dst = NULL;
		return 0;
	}
	d->strings[slot] = strdup(src);
	*dst = d->strings[slot];
	return *dst ? 0 : -ENOMEM;
}

static int why_inval(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why_inval(char *why, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, CLI_ERROR_LEN, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int check_config(const struct remote_device_config *c, char *why)
{
	struct in6_addr a;
	const char *name = c->name ? c->name : "device";

	if (!c->name || !name_ok(c->name))
		return why_inval(why, "device name \"%s\": expected 1 to %d of A-Z a-z 0-9 _ - .",
				 name, REMOTE_DEVICE_NAME_MAX);
	if (!dialect_of(c->type))
		return why_inval(why, "device %s: type \"%s\": expected ios, ftos, ironware or "
				 "junos", name, c->type ? c->type : "");
	if (!c->address || (inet_pton(AF_INET, c->address, &a) != 1 &&
			    inet_pton(AF_INET6, c->address, &a) != 1))
		return why_inval(why, "device %s: address \"%s\": expected an IPv4 or IPv6 address",
				 name, c->address ? c->address : "");
	if (!c->user || !name_ok(c->user))
		return why_inval(why, "device %s: user \"%s\": expected 1 to %d of A-Z a-z 0-9 _ - .",
				 name, c->user ? c->user : "", REMOTE_DEVICE_NAME_MAX);
	if (!name_ok(c->acl) || (c->acl6 && !name_ok(c->acl6)) ||
	    (c->final_term && !name_ok(c->final_term)))
		return why_inval(why, "device %s: ACL, filter and term names: 1 to %d of "
				 "A-Z a-z 0-9 _ - .", name, REMOTE_DEVICE_NAME_MAX);
	if (c->first_id > c->last_id || c->last_id > 2147483646u ||
	    (c->last_id && c->last_id - (c->first_id ? c->first_id : 1) >= (1u << 24)))
		return why_inval(why, "device %s: identities %u to %u: expected 1 <= first <= last "
				 "<= 2147483646, at most 16777216 of them", name, c->first_id,
				 c->last_id);
	if (c->batch_size > 100000)
		return why_inval(why, "device %s: batch size %zu: at most 100000", name,
				 c->batch_size);
	return 0;
}

int remote_device_new(struct enforcer **out, const struct remote_device_config *cfg, char *why)
{
	struct device *d;
	struct cli_config cc = { 0 };
	pthread_condattr_t ca;
	size_t words;
	int err;

	*out = NULL;
	err = check_config(cfg, why);
	if (err)
		return err;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->efd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	d->pend_tail = &d->pend;
	d->done_tail = &d->done;
	d->dl = dialect_of(cfg->type);
	d->cfg = *cfg;
	if (copy_str(d, 0, &d->cfg.name, cfg->name) || copy_str(d, 1, &d->cfg.type, cfg->type) ||
	    copy_str(d, 2, &d->cfg.address, cfg->address) ||
	    copy_str(d, 3, &d->cfg.user, cfg->user) ||
	    copy_str(d, 4, &d->cfg.key_file, cfg->key_file) ||
	    copy_str(d, 5, &d->cfg.password_file, cfg->password_file) ||
	    copy_str(d, 6, &d->cfg.known_hosts, cfg->known_hosts) ||
	    copy_str(d, 7, &d->cfg.acl, cfg->acl) ||
	    copy_str(d, 8, &d->cfg.acl6, cfg->acl6 ? cfg->acl6 : cfg->acl) ||
	    copy_str(d, 9, &d->cfg.final_term, cfg->final_term ? cfg->final_term : "deny")) {
		err = -ENOMEM;
		goto fail;
	}
	if (!d->cfg.first_id)
		d->cfg.first_id = REMOTE_DEVICE_FIRST_ID;
	if (!d->cfg.last_id)
		d->cfg.last_id = REMOTE_DEVICE_LAST_ID;
	if (!d->cfg.batch_size)
		d->cfg.batch_size = d->dl->batch_default;
	if (!d->cfg.keepalive_ms)
		d->cfg.keepalive_ms = REMOTE_DEVICE_KEEPALIVE_MS;
	if (!d->cfg.confirm_minutes)
		d->cfg.confirm_minutes = REMOTE_DEVICE_CONFIRM_MIN;
	if (!d->cfg.connect_tries)
		d->cfg.connect_tries = REMOTE_DEVICE_CONNECT_TRIES;
	words = (d->cfg.last_id - d->cfg.first_id) / 64 + 1;
	d->ids[0].bits = calloc(words, sizeof(uint64_t));
	d->ids[1].bits = calloc(words, sizeof(uint64_t));
	if (!d->ids[0].bits || !d->ids[1].bits) {
		err = -ENOMEM;
		goto fail;
	}
	cc.host = d->cfg.address;
	cc.port = d->cfg.port;
	cc.user = d->cfg.user;
	cc.key_file = d->cfg.key_file;
	cc.password_file = d->cfg.key_file ? NULL : d->cfg.password_file;
	cc.known_hosts = d->cfg.known_hosts;
	cc.timeout_ms = d->cfg.timeout_ms;
	cc.window = d->cfg.window;
	err = cli_new(&d->cli, &cc, d->dl->cli, why);
	if (err)
		goto fail;
	snprintf(d->error, sizeof(d->error), "%s: not connected yet", d->cfg.name);
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0) {
		err = -errno;
		goto fail;
	}
	d->last_save_ms = now_ms();
	err = -pthread_create(&d->thread, NULL, worker, d);
	if (err)
		goto fail;
	d->started = true;
	*out = enforcer_new(&device_ops, d, d->cfg.name, d->cfg.batch_size, MAX_INFLIGHT);
	return *out ? 0 : -ENOMEM;
fail:
	dev_free(d);
	return err;
}
