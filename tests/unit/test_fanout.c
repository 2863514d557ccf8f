// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of remote/fanout over fake members (fake_enforcer.c): each
 * pinhole to the members that guard its address; an op answered when every
 * up member applied it; an add one member refuses taken back from the
 * others; a member that fails is down, stops holding ops back, and on its
 * return is converged to the wanted set (its backlog); a member slower than
 * its lag stops holding back what another applied; read-backs merged.
 * The only waits are a down member's retry (1 s), bounded by poll timeouts.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "remote/fanout.h"
#include "tests/unit/fake_enforcer.h"

#define PORT0 40000
#define MAX_ENTRIES 64

struct fx {
	struct enforcer *e;
	struct fake_enforcer *f[3];
	/* what came back */
	unsigned batches_done;
	int err[64];
	int job_err;
	const char *msg;
	char msgbuf[1024];
	unsigned reads_done;
	struct pinhole_entry ents[MAX_ENTRIES];
	size_t n_ents;
};

static struct pinhole ph_of(int k, const char *local)
{
	struct pinhole ph = { .family = AF_INET, .proto = IPPROTO_TCP,
			      .local_port = (uint16_t)(PORT0 + k) };

	inet_pton(AF_INET, "192.0.2.1", &ph.remote.v4);
	inet_pton(AF_INET, local, &ph.local.v4);
	snprintf(ph.owner.delegate, sizeof(ph.owner.delegate), "host1");
	return ph;
}

static struct fanout_prefix prefix(const char *a, uint8_t len)
{
	struct fanout_prefix p = { .family = AF_INET, .len = len };

	inet_pton(AF_INET, a, &p.addr.v4);
	return p;
}

static void on_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	struct fx *t = arg;

	(void)e;
	(void)tag;
	if (t->n_ents < MAX_ENTRIES)
		t->ents[t->n_ents++] = *pe;
}

static void on_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	struct fx *t = arg;

	(void)e;
	t->job_err = d->err;
	snprintf(t->msgbuf, sizeof(t->msgbuf), "%s", d->msg ? d->msg : "");
	if (d->job->type == ENFORCER_BATCH) {
		for (size_t i = 0; i < d->job->n && i < 64; i++)
			t->err[i] = d->job->ops[i].err;
		t->batches_done++;
	} else if (d->job->type == ENFORCER_READ) {
		t->reads_done++;
	}
}

/* Dispatches until @cond holds (checked after each dispatch), at most @ms. */
static bool run_until(struct fx *t, bool (*cond)(struct fx *), int ms)
{
	struct enforcer_sink sink = { .entry = on_entry, .done = on_done, .arg = t };
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		struct pollfd p = { .fd = enforcer_fd(t->e), .events = POLLIN };

		assert_int_equal(enforcer_dispatch(t->e, &sink), 0);
		if (cond(t))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &b);
		if ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 > ms)
			return false;
		poll(&p, 1, 10);
	}
}

static unsigned want_batches;
static bool batches_reached(struct fx *t)
{
	return t->batches_done >= want_batches;
}

static bool reads_reached(struct fx *t)
{
	return t->reads_done >= want_batches;
}

static struct fx *fx_new(size_t n, const struct fanout_prefix *g, const size_t *n_g,
			 uint32_t lag_ms)
{
	struct fx *t = calloc(1, sizeof(*t));
	struct fanout_member m[3] = { 0 };
	const char *names[] = { "edge1", "edge2", "edge3" };
	size_t off = 0;

	assert_non_null(t);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(fake_enforcer_new(&m[i].e, &t->f[i], names[i], 0, 4), 0);
		m[i].guards = g ? g + off : NULL;
		m[i].n_guards = n_g ? n_g[i] : 0;
		off += m[i].n_guards;
		m[i].lag_ms = lag_ms;
	}
	assert_int_equal(fanout_new(&t->e, m, n), 0);
	return t;
}

static void fx_free(struct fx *t)
{
	enforcer_free(t->e);
	free(t);
}

static void submit(struct fx *t, struct pinhole_op *ops, size_t n, struct enforcer_job *job)
{
	*job = (struct enforcer_job){ .type = ENFORCER_BATCH, .tag = 7, .ops = ops, .n = n };
	assert_int_equal(enforcer_submit(t->e, job), 0);
}

static void simple(struct fx *t, enum enforcer_job_type type)
{
	struct enforcer_job job = { .type = type, .tag = 1 };

	assert_int_equal(enforcer_submit(t->e, &job), 0);
}

/* Every member gets each op; the answer waits for all of them. */
static void test_all_members(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole_op ops[3];
	struct enforcer_job job;

	(void)state;
	for (int k = 0; k < 3; k++)
		ops[k] = (struct pinhole_op){ .type = PINHOLE_ADD, .ph = ph_of(k, "203.0.113.1") };
	t->f[1]->hold = true;
	submit(t, ops, 3, &job);
	want_batches = 1;
	assert_false(run_until(t, batches_reached, 100));	/* edge2 has not answered */
	assert_true(fake_holds(t->f[0], PORT0 + 2));
	fake_release(t->f[1], SIZE_MAX);
	t->f[1]->hold = false;
	assert_true(run_until(t, batches_reached, 2000));
	for (int k = 0; k < 3; k++) {
		assert_int_equal(t->err[k], 0);
		assert_true(fake_holds(t->f[1], PORT0 + k));
	}
	/* a delete of one held by neither is what was asked (ENOENT is fine) */
	ops[0] = (struct pinhole_op){ .type = PINHOLE_DEL, .ph = ph_of(9, "203.0.113.1") };
	submit(t, ops, 1, &job);
	want_batches = 2;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], 0);
	fx_free(t);
}

/* Guards split the pinholes; an address nobody guards is refused. */
static void test_guards(void **state)
{
	struct fanout_prefix g[2] = { prefix("203.0.113.0", 25), prefix("203.0.113.128", 25) };
	size_t ng[2] = { 1, 1 };
	struct fx *t = fx_new(2, g, ng, 60000);
	struct pinhole_op ops[3] = {
		{ .type = PINHOLE_ADD, .ph = ph_of(1, "203.0.113.10") },
		{ .type = PINHOLE_ADD, .ph = ph_of(2, "203.0.113.200") },
		{ .type = PINHOLE_ADD, .ph = ph_of(3, "198.51.100.1") },
	};
	struct enforcer_job job;

	(void)state;
	submit(t, ops, 3, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], 0);
	assert_int_equal(t->err[1], 0);
	assert_int_equal(t->err[2], -EHOSTUNREACH);
	assert_true(fake_holds(t->f[0], PORT0 + 1));
	assert_false(fake_holds(t->f[0], PORT0 + 2));
	assert_true(fake_holds(t->f[1], PORT0 + 2));
	assert_false(fake_holds(t->f[1], PORT0 + 1));
	assert_int_equal(t->f[0]->n_held + t->f[1]->n_held, 2);
	fx_free(t);
}

/* An add one member refuses fails, and is taken back from the other. */
static void test_refused_rolled_back(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole_op ops[1] = { { .type = PINHOLE_ADD, .ph = ph_of(5, "203.0.113.1") } };
	struct enforcer_job job;

	(void)state;
	t->f[1]->fail_port = PORT0 + 5;
	t->f[1]->fail_err = -EREMOTEIO;
	submit(t, ops, 1, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], -EREMOTEIO);
	/* edge2 refused the line, it is not down: no retry of edge2 */
	want_batches = 0;
	run_until(t, batches_reached, 100);
	assert_false(fake_holds(t->f[0], PORT0 + 5));
	assert_int_equal(t->f[0]->batches, 2);		/* applied, then taken back */
	assert_false(fake_holds(t->f[1], PORT0 + 5));
	fx_free(t);
}

static bool edge2_up_and_converged(struct fx *t)
{
	struct fanout_status st;

	assert_int_equal(fanout_status(t->e, 1, &st), 0);
	return st.state == FANOUT_UP && !st.queued && !st.inflight && !fake_held(t->f[1]) &&
	       t->f[1]->n_held == 2 && fake_holds(t->f[1], PORT0 + 1) &&
	       fake_holds(t->f[1], PORT0 + 3);
}

/* A member that fails is down: ops stop waiting for it and are answered by
 * the others; when it returns it gets its backlog, and loses what it held
 * that nobody wants. */
static void test_down_and_backlog(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole_op ops[2];
	struct enforcer_job job;
	struct fanout_status st;
	struct pinhole stale = ph_of(7, "203.0.113.1");

	(void)state;
	ops[0] = (struct pinhole_op){ .type = PINHOLE_ADD, .ph = ph_of(1, "203.0.113.1") };
	ops[1] = (struct pinhole_op){ .type = PINHOLE_ADD, .ph = ph_of(2, "203.0.113.1") };
	t->f[1]->gone = true;		/* its batches fail as a whole */
	t->f[1]->stays_gone = true;	/* and it cannot be set up */
	submit(t, ops, 2, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], 0);
	assert_int_equal(t->err[1], 0);
	assert_int_equal(fanout_status(t->e, 1, &st), 0);
	assert_int_equal(st.state, FANOUT_DOWN);
	assert_int_equal(st.downs, 1);
	assert_string_not_equal(st.error, "");
	/* while down it is given nothing */
	unsigned before = t->f[1]->batches;

	ops[0] = (struct pinhole_op){ .type = PINHOLE_DEL, .ph = ph_of(2, "203.0.113.1") };
	ops[1] = (struct pinhole_op){ .type = PINHOLE_ADD, .ph = ph_of(3, "203.0.113.1") };
	submit(t, ops, 2, &job);
	want_batches = 2;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], 0);
	assert_int_equal(t->err[1], 0);
	assert_int_equal(t->f[1]->batches, before);
	/* it comes back holding something nobody wants */
	t->f[1]->stays_gone = false;
	fake_put(t->f[1], &stale);
	assert_true(run_until(t, edge2_up_and_converged, 5000));
	assert_false(fake_holds(t->f[1], PORT0 + 7));
	assert_true(t->f[1]->setups >= 1);
	/* and takes ops again */
	ops[0] = (struct pinhole_op){ .type = PINHOLE_ADD, .ph = ph_of(4, "203.0.113.1") };
	submit(t, ops, 1, &job);
	want_batches = 3;
	assert_true(run_until(t, batches_reached, 2000));
	assert_true(fake_holds(t->f[1], PORT0 + 4));
	fx_free(t);
}

/* Every member down (or none guarding): -EHOSTUNREACH. */
static void test_all_down(void **state)
{
	struct fx *t = fx_new(1, NULL, NULL, 60000);
	struct pinhole_op ops[1] = { { .type = PINHOLE_ADD, .ph = ph_of(1, "203.0.113.1") } };
	struct enforcer_job job;

	(void)state;
	t->f[0]->gone = true;
	t->f[0]->stays_gone = true;
	submit(t, ops, 1, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], -ECANCELED);	/* sent, and it went down: try again */
	submit(t, ops, 1, &job);
	want_batches = 2;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], -EHOSTUNREACH);
	fx_free(t);
}

/* A member slower than its lag no longer holds back what another applied;
 * it still gets it. */
static void test_behind(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 50);
	struct pinhole_op ops[1] = { { .type = PINHOLE_ADD, .ph = ph_of(1, "203.0.113.1") } };
	struct enforcer_job job;
	struct fanout_status st;

	(void)state;
	t->f[1]->hold = true;
	submit(t, ops, 1, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 5000));
	assert_int_equal(t->err[0], 0);
	assert_int_equal(fanout_status(t->e, 1, &st), 0);
	assert_int_equal(st.state, FANOUT_BEHIND);
	assert_int_equal(st.inflight, 1);
	t->f[1]->hold = false;
	fake_release(t->f[1], SIZE_MAX);
	want_batches = 0;
	run_until(t, batches_reached, 50);
	run_until(t, batches_reached, 50);
	assert_int_equal(fanout_status(t->e, 1, &st), 0);
	assert_int_equal(st.state, FANOUT_UP);
	assert_true(fake_holds(t->f[1], PORT0 + 1));
	/* a read-back does not wait for it either, once another answered */
	t->f[1]->hold = true;
	simple(t, ENFORCER_READ);
	want_batches = 1;
	assert_true(run_until(t, reads_reached, 5000));
	assert_int_equal(t->job_err, 0);
	assert_int_equal(t->n_ents, 1);
	assert_int_equal(t->ents[0].packets, PORT0 + 1);	/* edge1's count alone */
	fx_free(t);	/* with edge2's read still in flight: nothing leaks */
}

/* A read-back reports each pinhole once, counts summed, owners unrecorded;
 * a member's extra entry is deleted by its read-back, a missing one added. */
static void test_read_merge_and_audit(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole_op ops[2] = {
		{ .type = PINHOLE_ADD, .ph = ph_of(1, "203.0.113.1") },
		{ .type = PINHOLE_ADD, .ph = ph_of(2, "203.0.113.1") },
	};
	struct enforcer_job job;
	struct pinhole manual = ph_of(8, "203.0.113.1");

	(void)state;
	submit(t, ops, 2, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	fake_put(t->f[0], &manual);	/* someone's manual edit */
	fake_drop(t->f[1], PORT0 + 2);	/* lost on one device */
	simple(t, ENFORCER_READ);
	want_batches = 1;
	assert_true(run_until(t, reads_reached, 2000));
	assert_int_equal(t->job_err, 0);
	assert_int_equal(t->n_ents, 3);
	for (size_t i = 0; i < t->n_ents; i++) {
		assert_true(t->ents[i].owner_unrecorded);
		if (t->ents[i].ph.local_port == PORT0 + 1)
			assert_int_equal(t->ents[i].packets, 2 * (PORT0 + 1));
	}
	/* converged: the manual entry gone, the lost one back */
	want_batches = 0;
	run_until(t, batches_reached, 100);
	assert_false(fake_holds(t->f[0], PORT0 + 8));
	assert_true(fake_holds(t->f[1], PORT0 + 2));
	/* flush empties every member */
	simple(t, ENFORCER_FLUSH);
	run_until(t, batches_reached, 100);
	assert_int_equal(t->f[0]->n_held, 0);
	assert_int_equal(t->f[1]->n_held, 0);
	fx_free(t);
}

/* A restarted controller's first read-back: what the members hold from
 * before is reported and kept (not converged away against an empty wanted
 * set), and what one member lacks is put back by the next read-back. */
static void test_start_read_seeds(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole a = ph_of(1, "203.0.113.1"), b = ph_of(2, "203.0.113.1");
	struct pinhole_op ops[1] = { { .type = PINHOLE_DEL, .ph = b } };
	struct enforcer_job job;

	(void)state;
	fake_put(t->f[0], &a);
	fake_put(t->f[0], &b);
	fake_put(t->f[1], &a);
	simple(t, ENFORCER_READ);
	want_batches = 1;
	assert_true(run_until(t, reads_reached, 2000));
	assert_int_equal(t->n_ents, 2);
	want_batches = 0;
	run_until(t, batches_reached, 100);
	assert_int_equal(t->f[0]->n_held, 2);	/* nothing deleted */
	assert_int_equal(t->f[0]->batches, 0);
	/* the controller drops one; the next read-back repairs edge2 */
	submit(t, ops, 1, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], 0);
	t->n_ents = 0;
	simple(t, ENFORCER_READ);
	want_batches = 2;
	assert_true(run_until(t, reads_reached, 2000));
	want_batches = 0;
	run_until(t, batches_reached, 100);
	assert_int_equal(t->f[0]->n_held, 1);
	assert_int_equal(t->f[1]->n_held, 1);
	assert_true(fake_holds(t->f[0], PORT0 + 1));
	assert_true(fake_holds(t->f[1], PORT0 + 1));
	fx_free(t);
}

static bool edge2_up_holding_1(struct fx *t)
{
	struct fanout_status st;

	assert_int_equal(fanout_status(t->e, 1, &st), 0);
	return st.state == FANOUT_UP && !st.queued && !st.inflight && !fake_held(t->f[1]) &&
	       fake_holds(t->f[1], PORT0 + 1);
}

/* A down member's late completions (a read-back that converges it) queue
 * nothing for it: what it gets on its return is its convergence against
 * the wanted set then, not a stale delete of a pinhole asked for again. */
static void test_down_no_stale_ops(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole_op ops[1] = { { .type = PINHOLE_ADD, .ph = ph_of(1, "203.0.113.1") } };
	struct enforcer_job job;
	struct fanout_status st;

	(void)state;
	submit(t, ops, 1, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	assert_true(fake_holds(t->f[1], PORT0 + 1));
	/* edge2 reads (holding the pinhole), then its session dies under a delete */
	t->f[1]->hold = true;
	t->f[1]->newest_first = true;
	simple(t, ENFORCER_READ);
	want_batches = 1;
	assert_false(run_until(t, reads_reached, 50));	/* edge1 answered */
	t->f[1]->gone = true;
	t->f[1]->stays_gone = true;
	ops[0].type = PINHOLE_DEL;
	submit(t, ops, 1, &job);
	want_batches = 2;
	assert_false(run_until(t, batches_reached, 50));	/* waits for edge2 */
	fake_release(t->f[1], 1);			/* the delete fails first */
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(fanout_status(t->e, 1, &st), 0);
	assert_int_equal(st.state, FANOUT_DOWN);
	fake_release(t->f[1], SIZE_MAX);		/* then its read-back arrives */
	t->f[1]->hold = false;
	want_batches = 1;
	assert_true(run_until(t, reads_reached, 2000));
	/* the controller asks for it again while edge2 is down */
	ops[0].type = PINHOLE_ADD;
	submit(t, ops, 1, &job);
	want_batches = 3;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], 0);
	/* edge2 returns still holding it: it must keep it */
	t->f[1]->stays_gone = false;
	assert_true(run_until(t, edge2_up_holding_1, 5000));
	want_batches = 0;
	run_until(t, batches_reached, 100);
	assert_true(fake_holds(t->f[1], PORT0 + 1));
	fx_free(t);
}

/* A down member's retry waits for its jobs still in flight; meanwhile the
 * retry timer must not fire again and again (a busy loop of dispatches). */
static void test_down_timer_quiet(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole_op a[1] = { { .type = PINHOLE_ADD, .ph = ph_of(1, "203.0.113.1") } };
	struct pinhole_op b[1] = { { .type = PINHOLE_ADD, .ph = ph_of(2, "203.0.113.1") } };
	struct enforcer_job ja, jb;
	struct fanout_status st;
	struct pollfd p = { .events = POLLIN };
	struct enforcer_sink sink = { .entry = on_entry, .done = on_done };

	(void)state;
	sink.arg = t;
	t->f[1]->hold = true;
	t->f[1]->gone = true;
	submit(t, a, 1, &ja);
	submit(t, b, 1, &jb);
	fake_release(t->f[1], 1);			/* the first fails: down */
	want_batches = 2;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(fanout_status(t->e, 1, &st), 0);
	assert_int_equal(st.state, FANOUT_DOWN);
	assert_int_equal(fake_held(t->f[1]), 1);	/* the second still in flight */
	/* past its retry time, with that job still out */
	usleep((FANOUT_RETRY_MIN_MS + 200) * 1000);
	assert_int_equal(enforcer_dispatch(t->e, &sink), 0);
	assert_int_equal(enforcer_dispatch(t->e, &sink), 0);
	p.fd = enforcer_fd(t->e);
	assert_int_equal(poll(&p, 1, 0), 0);		/* nothing to do: not readable */
	assert_int_equal(t->f[1]->setups, 0);
	/* once that job completes, it is retried and returns */
	t->f[1]->hold = false;
	fake_release(t->f[1], SIZE_MAX);
	assert_true(run_until(t, edge2_up_holding_1, 5000));
	assert_true(fake_holds(t->f[1], PORT0 + 2));
	fx_free(t);
}

/* An atomic member (like nftables) fails a whole batch for one harmless
 * refusal (a delete of one it does not hold): it is not down, the refused
 * op counts as done, and the op it cancelled is applied again. */
static void test_atomic_member_not_down(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 60000);
	struct pinhole x = ph_of(1, "203.0.113.1");
	struct pinhole_op ops[2] = {
		{ .type = PINHOLE_DEL, .ph = x },
		{ .type = PINHOLE_ADD, .ph = ph_of(2, "203.0.113.1") },
	};
	struct enforcer_job job;
	struct fanout_status st;

	(void)state;
	fake_put(t->f[1], &x);		/* only edge2 holds x */
	submit(t, ops, 2, &job);
	want_batches = 1;
	assert_true(run_until(t, batches_reached, 2000));
	assert_int_equal(t->err[0], 0);
	assert_int_equal(t->err[1], 0);
	assert_int_equal(fanout_status(t->e, 0, &st), 0);
	assert_int_equal(st.state, FANOUT_UP);
	assert_int_equal(st.downs, 0);
	assert_int_equal(t->f[0]->batches, 2);	/* the add again, alone */
	assert_true(fake_holds(t->f[0], PORT0 + 2));
	assert_true(fake_holds(t->f[1], PORT0 + 2));
	assert_false(fake_holds(t->f[1], PORT0 + 1));
	fx_free(t);
}

static bool read_done_once(struct fx *t)
{
	return t->reads_done >= 1;
}

/* The start's read-back waits for a slow member (past its lag): what only
 * it holds is reported, and not deleted by its own read-back. */
static void test_start_read_waits_for_slow(void **state)
{
	struct fx *t = fx_new(2, NULL, NULL, 50);
	struct pinhole a = ph_of(1, "203.0.113.1"), b = ph_of(2, "203.0.113.1");

	(void)state;
	fake_put(t->f[0], &a);
	fake_put(t->f[1], &b);		/* only the slow one holds b */
	t->f[1]->hold = true;
	simple(t, ENFORCER_READ);
	assert_false(run_until(t, read_done_once, 300));	/* well past the lag */
	t->f[1]->hold = false;
	fake_release(t->f[1], SIZE_MAX);
	assert_true(run_until(t, read_done_once, 2000));
	assert_int_equal(t->n_ents, 2);
	want_batches = 0;
	run_until(t, batches_reached, 100);
	assert_true(fake_holds(t->f[1], PORT0 + 2));	/* kept, not converged away */
	fx_free(t);
}

static void test_prefix(void **state)
{
	struct fanout_prefix p = prefix("203.0.113.128", 25);
	union pinhole_addr a;

	(void)state;
	inet_pton(AF_INET, "203.0.113.200", &a.v4);
	assert_true(fanout_prefix_covers(&p, AF_INET, &a));
	inet_pton(AF_INET, "203.0.113.127", &a.v4);
	assert_false(fanout_prefix_covers(&p, AF_INET, &a));
	assert_false(fanout_prefix_covers(&p, AF_INET6, &a));
	p = prefix("0.0.0.0", 0);
	assert_true(fanout_prefix_covers(&p, AF_INET, &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_all_members),
		cmocka_unit_test(test_guards),
		cmocka_unit_test(test_refused_rolled_back),
		cmocka_unit_test(test_down_and_backlog),
		cmocka_unit_test(test_all_down),
		cmocka_unit_test(test_behind),
		cmocka_unit_test(test_read_merge_and_audit),
		cmocka_unit_test(test_start_read_seeds),
		cmocka_unit_test(test_down_no_stale_ops),
		cmocka_unit_test(test_down_timer_quiet),
		cmocka_unit_test(test_atomic_member_not_down),
		cmocka_unit_test(test_start_read_waits_for_slow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
