// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for remote/book: the site forwarder's bookkeeping, without a
 * site: which lines go out, how answers (in any order), timeouts, a lost
 * session and the unreachable rule complete the engine's jobs. */

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "remote/book.h"

#define TIMEOUT 1000

/* What the sink saw. */
static struct {
	unsigned done, entries;
	int err;
	char msg[256];
	uint64_t tag;
} seen;

static void on_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	(void)e; (void)tag; (void)pe; (void)arg;
	seen.entries++;
}

static void on_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	(void)e; (void)arg;
	seen.done++;
	seen.err = d->err;
	seen.tag = d->job->tag;
	snprintf(seen.msg, sizeof(seen.msg), "%s", d->msg);
}

static const struct enforcer_sink sink = { .entry = on_entry, .done = on_done };

static unsigned deliver(struct remote_book *b)
{
	memset(&seen, 0, sizeof(seen));
	return remote_book_deliver(b, NULL, &sink);
}

static struct remote_book *book(bool local)
{
	struct remote_book_config cfg = { .request_timeout_ms = TIMEOUT, .lease_s = 30,
					  .local = local };
	struct remote_book *b;

	assert_int_equal(remote_book_new(&b, &cfg), 0);
	return b;
}

static void op(struct pinhole_op *o, enum pinhole_op_type type, uint16_t lport)
{
	memset(o, 0, sizeof(*o));
	o->type = type;
	o->ph.family = AF_INET;
	o->ph.proto = IPPROTO_TCP;
	inet_pton(AF_INET, "203.0.113.5", &o->ph.remote);
	inet_pton(AF_INET, "198.51.100.2", &o->ph.local);
	o->ph.local_port = lport;
}

static void submit(struct remote_book *b, struct pinhole_op *ops, size_t n, uint64_t now)
{
	struct enforcer_job job = { .type = ENFORCER_BATCH, .tag = 7, .ops = ops, .n = n };

	assert_int_equal(remote_book_submit(b, &job, now), 0);
}

/* The next line out must be @type (and is taken as sent at @now); its id. */
static uint64_t expect_line(struct remote_book *b, enum remote_msg_type type, uint64_t now)
{
	struct remote_msg m;

	assert_int_equal(remote_book_next(b, &m), 0);
	assert_int_equal(m.type, type);
	remote_book_sent(b, now);
	return m.id;
}

static void expect_quiet(struct remote_book *b)
{
	struct remote_msg m;

	assert_int_equal(remote_book_next(b, &m), -EAGAIN);
}

static void answer(struct remote_book *b, uint64_t id, int err, const char *text)
{
	struct remote_msg m = { .type = err ? REMOTE_MSG_ERR : REMOTE_MSG_OK, .id = id, .err = err };

	snprintf(m.text, sizeof(m.text), "%s", text ? text : "");
	assert_int_equal(remote_book_reply(b, &m, 0), 0);
}

/* A READY session with nothing held: the SYNC goes out and is answered. */
static void ready(struct remote_book *b, uint64_t now)
{
	uint64_t a, z;

	remote_book_link_ready(b, "site1", now);
	a = expect_line(b, REMOTE_MSG_SYNC_BEGIN, now);
	z = expect_line(b, REMOTE_MSG_SYNC_END, now);
	answer(b, z, 0, NULL);
	answer(b, a, 0, NULL);
}

static enum remote_site_state state_of(struct remote_book *b, const struct pinhole_op *o,
				       char *why)
{
	return remote_book_state(b, &o->ph, why, why ? 160 : 0);
}

/* One OPEN per op; the job completes once, when the last (out of order)
 * answer is in; a refusal is that op's error, with the site's words. */
static void test_answers_out_of_order(void **state)
{
	struct remote_book *b = book(false);
	struct pinhole_op ops[2];
	uint64_t id1, id2;
	char why[160];

	(void)state;
	ready(b, 0);
	op(&ops[0], PINHOLE_ADD, 40000);
	op(&ops[1], PINHOLE_ADD, 40001);
	submit(b, ops, 2, 0);
	id1 = expect_line(b, REMOTE_MSG_OPEN, 0);
	id2 = expect_line(b, REMOTE_MSG_OPEN, 0);
	expect_quiet(b);
	assert_int_not_equal(id1, id2);
	assert_int_equal(state_of(b, &ops[0], NULL), REMOTE_SITE_PENDING);
	answer(b, id2, 0, NULL);
	assert_int_equal(deliver(b), 0);	/* one answer is not the job */
	answer(b, id1, EACCES, "delegate hostA may not open pinholes to 198.51.100.2");
	assert_int_equal(deliver(b), 1);
	assert_int_equal(seen.tag, 7);
	assert_int_equal(seen.err, -EACCES);
	assert_non_null(strstr(seen.msg, "site site1 refused it: EACCES delegate hostA"));
	assert_int_equal(ops[0].err, -EACCES);
	assert_int_equal(ops[1].err, 0);
	/* the refused one is gone (the engine drops it), the other open */
	assert_int_equal(state_of(b, &ops[0], NULL), REMOTE_SITE_NONE);
	assert_int_equal(state_of(b, &ops[1], why), REMOTE_SITE_OPEN);
	/* an answer to an id not in flight is refused, nothing changes */
	{
		struct remote_msg m = { .type = REMOTE_MSG_OK, .id = id1 };

		assert_int_equal(remote_book_reply(b, &m, 0), -ENOENT);
	}
	remote_book_free(b);
}

/* A close: CLOSE, and ENOENT from the site (already gone) is done. */
static void test_close(void **state)
{
	struct remote_book *b = book(false);
	struct pinhole_op a, d;
	uint64_t id;

	(void)state;
	ready(b, 0);
	op(&a, PINHOLE_ADD, 40000);
	submit(b, &a, 1, 0);
	answer(b, expect_line(b, REMOTE_MSG_OPEN, 0), EEXIST, "held");
	assert_int_equal(deliver(b), 1);
	assert_int_equal(seen.err, 0);		/* held already is held */
	op(&d, PINHOLE_DEL, 40000);
	submit(b, &d, 1, 0);
	assert_int_equal(state_of(b, &a, NULL), REMOTE_SITE_NONE);
	id = expect_line(b, REMOTE_MSG_CLOSE, 0);
	assert_int_equal(deliver(b), 0);
	answer(b, id, ENOENT, NULL);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(seen.err, 0);
	assert_int_equal(d.err, 0);
	remote_book_free(b);
}

/* fail: while the site is down an add is refused at once, saying why. */
static void test_unreachable_fail(void **state)
{
	struct remote_book *b = book(false);
	struct pinhole_op a, d;

	(void)state;
	remote_book_link_connecting(b, false);
	remote_book_link_down(b, -EHOSTUNREACH, "connecting to 198.51.100.1 port 22: refused", 0);
	op(&a, PINHOLE_ADD, 40000);
	submit(b, &a, 1, 0);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(a.err, -EHOSTUNREACH);
	assert_int_equal(seen.err, -EHOSTUNREACH);
	assert_non_null(strstr(seen.msg, "the site is unreachable: connecting to 198.51.100.1"));
	assert_int_equal(state_of(b, &a, NULL), REMOTE_SITE_NONE);
	expect_quiet(b);
	/* a close never fails for an absent site */
	op(&d, PINHOLE_DEL, 40000);
	submit(b, &d, 1, 0);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(seen.err, 0);
	remote_book_free(b);
}

/* local: the add succeeds, "not at site", and is announced (HOLD in a
 * SYNC) once the session is back; the site's OK makes it open there. */
static void test_unreachable_local(void **state)
{
	struct remote_book *b = book(true);
	struct pinhole_op a;
	char why[160];
	uint64_t hold;

	(void)state;
	remote_book_link_down(b, -EHOSTUNREACH, "no route to host", 0);
	op(&a, PINHOLE_ADD, 40000);
	submit(b, &a, 1, 0);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(a.err, 0);
	assert_int_equal(state_of(b, &a, why), REMOTE_SITE_ABSENT);
	assert_string_equal(why, "no route to host");
	remote_book_link_ready(b, "site1", 10);
	expect_line(b, REMOTE_MSG_SYNC_BEGIN, 10);
	hold = expect_line(b, REMOTE_MSG_HOLD, 10);
	expect_line(b, REMOTE_MSG_SYNC_END, 10);
	assert_int_equal(state_of(b, &a, NULL), REMOTE_SITE_PENDING);
	answer(b, hold, 0, NULL);
	assert_int_equal(state_of(b, &a, NULL), REMOTE_SITE_OPEN);
	assert_int_equal(deliver(b), 0);	/* the add was answered long ago */
	remote_book_free(b);
}

/* Adds made while the first session is being made wait for it, and are
 * answered by their HOLD; past the request timeout they are answered by
 * the unreachable rule. */
static void test_waiting(void **state)
{
	struct remote_book *b = book(false);
	struct pinhole_op a, c;
	char why[128];
	uint64_t hold, answer_later;

	(void)state;
	remote_book_link_connecting(b, true);
	op(&a, PINHOLE_ADD, 40000);
	submit(b, &a, 1, 100);
	expect_quiet(b);
	assert_int_equal(remote_book_tick(b, 100 + TIMEOUT - 1, why, sizeof(why)), 0);
	assert_int_equal(deliver(b), 0);
	assert_int_equal(remote_book_deadline(b), 100 + TIMEOUT);
	remote_book_link_ready(b, "site1", 500);
	answer_later = expect_line(b, REMOTE_MSG_SYNC_BEGIN, 500);
	hold = expect_line(b, REMOTE_MSG_HOLD, 500);
	answer(b, expect_line(b, REMOTE_MSG_SYNC_END, 500), 0, NULL);
	/* the oldest unanswered request sets the deadline */
	assert_int_equal(remote_book_deadline(b), 500 + TIMEOUT);
	answer(b, answer_later, 0, NULL);
	answer(b, hold, 0, NULL);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(seen.err, 0);
	assert_int_equal(state_of(b, &a, NULL), REMOTE_SITE_OPEN);
	assert_int_equal(remote_book_deadline(b), 500 + 10000);	/* only the RENEW */

	/* the next session never comes */
	remote_book_link_down(b, -EHOSTUNREACH, "cut", 600);
	remote_book_link_connecting(b, true);
	op(&c, PINHOLE_ADD, 40001);
	submit(b, &c, 1, 1000);
	assert_int_equal(remote_book_tick(b, 1000 + TIMEOUT, why, sizeof(why)), 0);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(c.err, -ETIMEDOUT);
	assert_non_null(strstr(seen.msg, "no session with the site within 1000 ms"));
	remote_book_free(b);
}

/* An OPEN unanswered for the request timeout: tick says so; the session
 * is then dropped and the add fails with ETIMEDOUT (fail) or stays, not at
 * site (local). */
static void test_request_timeout(void **state)
{
	for (int local = 0; local < 2; local++) {
		struct remote_book *b = book(local);
		struct pinhole_op a;
		char why[128];

		ready(b, 0);
		op(&a, PINHOLE_ADD, 40000);
		submit(b, &a, 1, 0);
		expect_line(b, REMOTE_MSG_OPEN, 50);
		assert_int_equal(remote_book_deadline(b), 50 + TIMEOUT);
		assert_int_equal(remote_book_tick(b, 49 + TIMEOUT, why, sizeof(why)), 0);
		assert_int_equal(remote_book_tick(b, 50 + TIMEOUT, why, sizeof(why)), -ETIMEDOUT);
		assert_non_null(strstr(why, "(OPEN) within 1000 ms"));
		remote_book_link_down(b, -ETIMEDOUT, why, 50 + TIMEOUT);
		assert_int_equal(deliver(b), 1);
		assert_int_equal(a.err, local ? 0 : -ETIMEDOUT);
		assert_int_equal(state_of(b, &a, NULL), local ? REMOTE_SITE_ABSENT : REMOTE_SITE_NONE);
		remote_book_free(b);
	}
}

/* A lost session: open pinholes are "not at site" until the next SYNC
 * announces them again; leases are renewed every third. */
static void test_lost_session_and_renew(void **state)
{
	struct remote_book *b = book(false);
	struct pinhole_op a;
	char why[160];
	struct remote_msg m;

	(void)state;
	ready(b, 0);
	op(&a, PINHOLE_ADD, 40000);
	submit(b, &a, 1, 0);
	answer(b, expect_line(b, REMOTE_MSG_OPEN, 0), 0, NULL);
	assert_int_equal(deliver(b), 1);
	/* RENEW at a third of the 30 s lease */
	assert_int_equal(remote_book_deadline(b), 10000);
	assert_int_equal(remote_book_tick(b, 9999, why, sizeof(why)), 0);
	expect_quiet(b);
	assert_int_equal(remote_book_tick(b, 10000, why, sizeof(why)), 0);
	assert_int_equal(remote_book_next(b, &m), 0);
	assert_int_equal(m.type, REMOTE_MSG_RENEW);
	assert_int_equal(m.lease_s, 30);
	remote_book_sent(b, 10000);
	remote_book_link_down(b, -EHOSTUNREACH, "the site ended the session", 10001);
	assert_int_equal(state_of(b, &a, why), REMOTE_SITE_ABSENT);
	assert_non_null(strstr(why, "the site ended the session"));
	assert_int_equal(deliver(b), 0);
	remote_book_link_ready(b, "site1", 20000);
	expect_line(b, REMOTE_MSG_SYNC_BEGIN, 20000);
	assert_int_equal(remote_book_next(b, &m), 0);
	assert_int_equal(m.type, REMOTE_MSG_HOLD);
	assert_int_equal(m.ph.local_port, 40000);
	assert_int_equal(m.lease_s, 30);
	remote_book_sent(b, 20000);
	expect_line(b, REMOTE_MSG_SYNC_END, 20000);
	/* the site refuses it now (its policy changed): failed, with why */
	answer(b, m.id, EACCES, "policy");
	assert_int_equal(state_of(b, &a, why), REMOTE_SITE_FAILED);
	assert_non_null(strstr(why, "EACCES policy"));
	remote_book_free(b);
}

/* READ: what the book holds; FLUSH: forgets it all, SYNC BEGIN/END. */
static void test_read_flush(void **state)
{
	struct remote_book *b = book(true);
	struct pinhole_op ops[3];
	struct enforcer_job read = { .type = ENFORCER_READ, .tag = 9 };
	struct enforcer_job flush = { .type = ENFORCER_FLUSH, .tag = 10 };
	uint64_t end;

	(void)state;
	remote_book_link_down(b, -EHOSTUNREACH, "down", 0);
	for (int i = 0; i < 3; i++)
		op(&ops[i], PINHOLE_ADD, (uint16_t)(40000 + i));
	submit(b, ops, 3, 0);
	deliver(b);
	assert_int_equal(remote_book_submit(b, &read, 0), 0);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(seen.entries, 3);
	assert_int_equal(seen.tag, 9);
	remote_book_link_ready(b, "site1", 0);	/* announces the three */
	expect_line(b, REMOTE_MSG_SYNC_BEGIN, 0);
	for (int i = 0; i < 3; i++)
		expect_line(b, REMOTE_MSG_HOLD, 0);
	expect_line(b, REMOTE_MSG_SYNC_END, 0);
	assert_int_equal(remote_book_submit(b, &flush, 0), 0);
	assert_int_equal(state_of(b, &ops[0], NULL), REMOTE_SITE_NONE);
	expect_line(b, REMOTE_MSG_SYNC_BEGIN, 0);
	end = expect_line(b, REMOTE_MSG_SYNC_END, 0);
	expect_quiet(b);
	assert_int_equal(deliver(b), 0);
	answer(b, end, 0, NULL);
	assert_int_equal(deliver(b), 1);
	assert_int_equal(seen.tag, 10);
	remote_book_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_out_of_order),
		cmocka_unit_test(test_close),
		cmocka_unit_test(test_unreachable_fail),
		cmocka_unit_test(test_unreachable_local),
		cmocka_unit_test(test_waiting),
		cmocka_unit_test(test_request_timeout),
		cmocka_unit_test(test_lost_session_and_renew),
		cmocka_unit_test(test_read_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
