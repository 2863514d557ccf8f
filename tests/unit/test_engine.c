// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of dyperd's engine over fake enforcers (fake_enforcer.c):
 * batching, blame and retry, replies that wait for every enforcer, rollback,
 * a close racing its open, the capacity wait queue, sockets that go away,
 * and repair.  No event loop: the tests call what the loop would
 * (engine_commit at the end of an iteration, engine_enforcer_ready when an
 * enforcer's fd is readable) and read the replies from socketpairs.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "dyperd/daemon.h"
#include "dyperd/log.h"
#include "tests/unit/fake_enforcer.h"

#define PORT0 40000
#define MAXREQ 64

struct fixture {
	struct dyperd d;
	struct fake_enforcer *f[2];
	int peer[MAXREQ];	/* the requester's end of each request's reply socket */
};

static struct fixture *fixture_new(unsigned n_fakes, size_t batch_pref, unsigned max_inflight)
{
	struct fixture *t = calloc(1, sizeof(*t));
	struct enforcer *e;

	assert_non_null(t);
	log_set_level(-1);	/* nothing to syslog from a unit test */
	dyper_config_defaults(&t->d.cfg);
	t->d.next_reconcile_ms = t->d.next_tamper_ms = UINT64_MAX;
	assert_int_equal(engine_init(&t->d), 0);
	for (unsigned i = 0; i < n_fakes; i++) {
		assert_int_equal(fake_enforcer_new(&e, &t->f[i], i ? "slow" : "fast", batch_pref,
						   max_inflight), 0);
		assert_int_equal(engine_add_enforcer(&t->d, e), 0);
	}
	for (int i = 0; i < MAXREQ; i++)
		t->peer[i] = -1;
	return t;
}

static void fixture_free(struct fixture *t)
{
	t->d.cfg.on_exit = DYPER_ON_EXIT_KEEP;
	engine_stop(&t->d);
	for (int i = 0; i < MAXREQ; i++)
		if (t->peer[i] >= 0)
			close(t->peer[i]);
	free(t);
}

/* Pinhole @k: 192.0.2.1 -> 203.0.113.1:PORT0+k, served by socket cookie PORT0+k. */
static struct pinhole ph_of(int k)
{
	struct pinhole ph = { .family = AF_INET, .proto = IPPROTO_TCP,
			      .local_port = (uint16_t)(PORT0 + k) };

	inet_pton(AF_INET, "192.0.2.1", &ph.remote.v4);
	inet_pton(AF_INET, "203.0.113.1", &ph.local.v4);
	ph.owner.uid = 1000;
	ph.owner.pid = 4242;
	ph.owner.sock_cookie = (uint64_t)(PORT0 + k);
	return ph;
}

static struct reply_to reply_for(struct fixture *t, int slot)
{
	struct reply_to r = { .fd = -1, .msg_id = (uint32_t)slot };
	int sv[2];

	assert_true(slot < MAXREQ);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	if (t->peer[slot] >= 0)
		close(t->peer[slot]);
	t->peer[slot] = sv[1];
	r.fd = sv[0];
	return r;
}

/* An agent's open of pinhole @k; its reply goes to peer[@k]. */
static void req_open(struct fixture *t, int k)
{
	struct reply_to r = reply_for(t, k);
	struct pinhole ph = ph_of(k);

	engine_request_open(&t->d, &ph, 0, 0, false, &r);
}

/* An agent's close of pinhole @k; its reply goes to peer[32 + @k]. */
static void req_close(struct fixture *t, int k)
{
	struct reply_to r = reply_for(t, 32 + k);
	struct pinhole ph = ph_of(k);

	engine_request_close(&t->d, &ph, ph.owner.uid, &r);
}

/* The reply on peer[@slot]: its status, or 1 if there is none yet. */
static int reply_status(struct fixture *t, int slot)
{
	char buf[sizeof(struct dyper_hdr) + sizeof(struct dyper_reply)];
	struct dyper_hdr h;
	struct dyper_reply rep;
	const void *payload;
	ssize_t n = recv(t->peer[slot], buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return 1;
	assert_true(n > 0);
	assert_int_equal(dyper_msg_decode(buf, (size_t)n, &h, &payload), 0);
	assert_int_equal(h.type, DYPER_MSG_REPLY);
	assert_int_equal(h.id, (uint32_t)slot);
	memcpy(&rep, payload, sizeof(rep));
	return rep.status;
}

/* What the event loop does when the fakes' fds are readable. */
static void ready(struct fixture *t)
{
	for (unsigned i = 0; i < t->d.n_slots; i++)
		engine_enforcer_ready(&t->d, &t->d.slots[i]);
}

static int state_of(struct fixture *t, int k)
{
	struct pinhole ph = ph_of(k);
	int idx = table_find(&t->d.table, &ph);

	return idx < 0 ? -1 : t->d.table.v[idx].state;
}

/* --- counters at close ------------------------------------------------------------ */

/* The close event of pinhole @k in the history, or NULL. */
static const struct event *close_of(struct fixture *t, int k)
{
	const struct event_ring *r = &t->d.events.closes;

	for (uint32_t i = 0; i < r->n; i++) {
		const struct event *ev = &r->v[(r->head + i) % r->cap];

		if (ev->ph.local_port == PORT0 + k)
			return ev;
	}
	return NULL;
}

/* Closes of one batch (a socket's pinholes) carry what the enforcer counted
 * at each delete; with an enforcer that counts nothing they stay unknown
 * (null), not 0. */
static void test_close_counters(void **state)
{
	struct fixture *t = fixture_new(1, 16, 1);
	const struct event *ev;

	assert_int_equal(events_init(&t->d), 0);
	for (int k = 0; k < 4; k++)
		req_open(t, k);
	engine_commit(&t->d);
	ready(t);
	t->f[0]->counts = true;
	for (int k = 0; k < 3; k++)
		req_close(t, k);
	engine_commit(&t->d);
	ready(t);
	assert_int_equal(t->f[0]->batches, 2);
	assert_int_equal(t->f[0]->sizes[1], 3);	/* one batch, no request per close */
	for (int k = 0; k < 3; k++) {
		assert_int_equal(reply_status(t, 32 + k), 0);
		ev = close_of(t, k);
		assert_non_null(ev);
		assert_true(ev->has_counters);
		assert_int_equal(ev->packets, PORT0 + k);
		assert_int_equal(ev->bytes, 100ull * (PORT0 + k));
	}
	t->f[0]->counts = false;
	req_close(t, 3);
	engine_commit(&t->d);
	ready(t);
	assert_int_equal(reply_status(t, 32 + 3), 0);
	ev = close_of(t, 3);
	assert_non_null(ev);
	assert_false(ev->has_counters);
	events_free(&t->d);
	fixture_free(t);
}

/* --- batching --------------------------------------------------------------------- */

/* Requests of one loop iteration go in one batch, up to the preferred size. */
static void test_batching_one_batch(void **state)
{
	struct fixture *t = fixture_new(1, 16, 1);

	for (int k = 0; k < 10; k++)
		req_open(t, k);
	assert_int_equal(t->f[0]->batches, 0);	/* nothing before the end of the iteration */
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->batches, 1);
	assert_int_equal(t->f[0]->sizes[0], 10);
	for (int k = 0; k < 10; k++) {
		assert_int_equal(reply_status(t, k), 0);
		assert_true(fake_holds(t->f[0], (uint16_t)(PORT0 + k)));
		assert_int_equal(state_of(t, k), PH_OPEN);
	}
	assert_int_equal(t->d.st.opens, 10);
	assert_int_equal(t->d.st.batches, 1);
	assert_int_equal(t->d.st.batch_max, 10);
	fixture_free(t);
}

/* Preferred size 4, one batch in flight: what arrives meanwhile queues for
 * the next batch, which goes when the enforcer answers. */
static void test_batching_in_flight(void **state)
{
	struct fixture *t = fixture_new(1, 4, 1);
	size_t want[] = { 4, 4, 4, 1 };

	t->f[0]->hold = true;
	for (int k = 0; k < 10; k++)
		req_open(t, k);
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->batches, 1);
	assert_int_equal(t->f[0]->sizes[0], 4);
	for (int k = 10; k < 13; k++)
		req_open(t, k);
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->batches, 1);	/* still waiting for the first */
	assert_int_equal(reply_status(t, 0), 1);
	assert_int_equal(state_of(t, 0), PH_PENDING);
	while (fake_release(t->f[0], SIZE_MAX))
		ready(t);
	assert_int_equal(t->f[0]->batches, 4);
	for (unsigned b = 0; b < 4; b++)
		assert_int_equal(t->f[0]->sizes[b], want[b]);
	for (int k = 0; k < 13; k++)
		assert_int_equal(reply_status(t, k), 0);
	assert_int_equal(t->f[0]->busy, 0);	/* never more in flight than it takes */
	assert_int_equal(t->d.st.opens, 13);
	assert_int_equal(t->d.n_ops, 0);
	fixture_free(t);
}

/* --- blame and retry ------------------------------------------------------------------ */

static void test_blame_one_bad_op(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);

	t->f[0]->fail_port = PORT0 + 3;
	t->f[0]->fail_err = -ENFILE;
	for (int k = 0; k < 6; k++)
		req_open(t, k);
	engine_commit(&t->d);
	/* the atomic batch failed; the other five went again without the bad one */
	assert_int_equal(t->f[0]->batches, 2);
	assert_int_equal(t->f[0]->sizes[0], 6);
	assert_int_equal(t->f[0]->sizes[1], 5);
	for (int k = 0; k < 6; k++) {
		assert_int_equal(reply_status(t, k), k == 3 ? -ENFILE : 0);
		assert_int_equal(fake_holds(t->f[0], (uint16_t)(PORT0 + k)), k != 3);
		assert_int_equal(state_of(t, k), k == 3 ? -1 : PH_OPEN);
	}
	assert_int_equal(t->d.st.errors, 1);
	assert_int_equal(t->d.st.opens, 5);
	assert_int_equal(t->d.table.count, 5);
	fixture_free(t);
}

/* A batch nothing is to blame for (the table vanished): set up again, once,
 * and retried. */
static void test_repair_when_gone(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);

	t->f[0]->gone = true;
	req_open(t, 0);
	req_open(t, 1);
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->setups, 1);
	assert_true(t->f[0]->batches >= 2);
	assert_int_equal(t->f[0]->sizes[0], 2);
	assert_int_equal(t->f[0]->sizes[1], 2);
	assert_int_equal(reply_status(t, 0), 0);
	assert_int_equal(reply_status(t, 1), 0);
	/* then a full reconcile at once, elements may be gone too: it reads
	 * back, and closes these two, whose sockets (cookies made up here)
	 * do not exist */
	assert_int_equal(t->f[0]->reads, 1);
	assert_int_equal(t->d.st.stale, 2);
	assert_int_equal(t->f[0]->n_held, 0);
	fixture_free(t);
}

/* The table deleted from outside: nftables refuses the batch's first add
 * with ENOENT.  That add is not to blame: the table is set up again and the
 * whole batch retried, so no open fails (tests/kernel/robust.sh case 3
 * does the same on a real table). */
static void test_repair_when_gone_add_enoent(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);

	t->f[0]->gone = t->f[0]->gone_blames = true;
	req_open(t, 0);
	req_open(t, 1);
	req_open(t, 2);
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->setups, 1);
	assert_true(t->f[0]->batches >= 2);
	assert_int_equal(t->f[0]->sizes[0], 3);
	assert_int_equal(t->f[0]->sizes[1], 3);
	for (int k = 0; k < 3; k++)
		assert_int_equal(reply_status(t, k), 0);
	assert_int_equal(t->d.st.repairs, 1);
	assert_int_equal(t->d.st.errors, 0);
	fixture_free(t);
}

/* It stays gone (setup cannot bring it back): the batch is retried once,
 * then the add that names the missing table fails, and the others, which
 * nothing blames, go again and fail for lack of a table, each once. */
static void test_repair_gone_for_good(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);

	t->f[0]->gone = t->f[0]->gone_blames = t->f[0]->stays_gone = true;
	req_open(t, 0);
	req_open(t, 1);
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->setups, 1);
	assert_int_not_equal(reply_status(t, 0), 0);
	assert_int_not_equal(reply_status(t, 1), 0);
	assert_int_equal(t->d.table.count, 0);
	assert_int_equal(t->d.n_ops, 0);
	fixture_free(t);
}

/* --- several enforcers ------------------------------------------------------------------ */

/* The reply waits for the slow one; the fast one is not held back. */
static void test_two_one_slow(void **state)
{
	struct fixture *t = fixture_new(2, 0, 1);
	struct fake_enforcer *fast = t->f[0], *slow = t->f[1];

	slow->hold = true;
	for (int k = 0; k < 3; k++)
		req_open(t, k);
	engine_commit(&t->d);
	ready(t);
	for (int k = 0; k < 3; k++) {
		assert_true(fake_holds(fast, (uint16_t)(PORT0 + k)));
		assert_int_equal(reply_status(t, k), 1);	/* not before the slow one */
		assert_int_equal(state_of(t, k), PH_PENDING);
	}
	/* the next request goes to the fast one at once */
	req_open(t, 3);
	engine_commit(&t->d);
	assert_int_equal(fast->batches, 2);
	assert_true(fake_holds(fast, PORT0 + 3));
	assert_int_equal(slow->batches, 1);
	/* the slow one answers: the first three are open, then the fourth */
	fake_release(slow, SIZE_MAX);
	ready(t);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(reply_status(t, k), 0);
		assert_int_equal(state_of(t, k), PH_OPEN);
	}
	assert_int_equal(reply_status(t, 3), 1);
	assert_int_equal(slow->batches, 2);
	fake_release(slow, SIZE_MAX);
	ready(t);
	assert_int_equal(reply_status(t, 3), 0);
	assert_int_equal(t->d.st.opens, 4);
	fixture_free(t);
}

/* Answers that come back out of order (newest first) finish each their own ops. */
static void test_out_of_order(void **state)
{
	struct fixture *t = fixture_new(1, 2, 4);

	t->f[0]->hold = true;
	t->f[0]->newest_first = true;
	for (int k = 0; k < 6; k++)
		req_open(t, k);
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->batches, 3);
	fake_release(t->f[0], 1);		/* the last batch: ports 4 and 5 */
	ready(t);
	for (int k = 0; k < 6; k++)
		assert_int_equal(reply_status(t, k), k >= 4 ? 0 : 1);
	fake_release(t->f[0], SIZE_MAX);
	ready(t);
	for (int k = 0; k < 4; k++)
		assert_int_equal(reply_status(t, k), 0);
	assert_int_equal(t->d.n_ops, 0);
	fixture_free(t);
}

/* One refuses: the request fails, and the other undoes what it added. */
static void test_two_one_fails(void **state)
{
	struct fixture *t = fixture_new(2, 0, 1);
	struct fake_enforcer *a = t->f[0], *b = t->f[1];

	b->fail_port = PORT0 + 1;
	b->fail_err = -EPERM;
	req_open(t, 0);
	req_open(t, 1);
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 0), 0);
	assert_int_equal(reply_status(t, 1), -EPERM);
	assert_true(fake_holds(a, PORT0));
	assert_true(fake_holds(b, PORT0));
	assert_false(fake_holds(a, PORT0 + 1));	/* rolled back */
	assert_false(fake_holds(b, PORT0 + 1));
	assert_int_equal(state_of(t, 1), -1);
	assert_int_equal(t->d.st.errors, 1);
	assert_int_equal(t->d.n_ops, 0);
	/* and the same pinhole may be asked for again */
	b->fail_port = 0;
	req_open(t, 1);
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 1), 0);
	assert_true(fake_holds(a, PORT0 + 1));
	assert_true(fake_holds(b, PORT0 + 1));
	fixture_free(t);
}

/* Closes finish when every enforcer acknowledged the delete; one that no
 * longer holds the pinhole counts as having closed it. */
static void test_two_close_waits(void **state)
{
	struct fixture *t = fixture_new(2, 0, 1);

	req_open(t, 0);
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 0), 0);
	/* already gone from the fast one (-ENOENT): closed all the same */
	fake_drop(t->f[0], PORT0);
	t->f[1]->hold = true;
	req_close(t, 0);
	engine_commit(&t->d);
	assert_false(fake_holds(t->f[0], PORT0));
	assert_int_equal(reply_status(t, 32), 1);
	assert_int_equal(state_of(t, 0), PH_CLOSING);
	fake_release(t->f[1], SIZE_MAX);
	ready(t);
	assert_int_equal(reply_status(t, 32), 0);
	assert_int_equal(state_of(t, 0), -1);
	assert_int_equal(t->d.st.closes, 1);
	fixture_free(t);
}

/* --- closes racing opens ----------------------------------------------------------------- */

/* A close while the open is in flight: the opener hears "open", the closer
 * "closed", and nothing stays behind; the delete is not sent before the
 * add's batch is answered, even with room for more batches in flight:
 * when that batch fails for another op's sake and the add goes again, the
 * delete must come after it. */
static void test_close_while_open_in_flight(void **state)
{
	struct fixture *t = fixture_new(1, 0, 4);
	struct fake_enforcer *f = t->f[0];

	f->hold = true;
	f->fail_port = PORT0 + 1;
	f->fail_err = -ENFILE;
	req_open(t, 0);
	req_open(t, 1);
	engine_commit(&t->d);
	assert_int_equal(f->batches, 1);
	req_close(t, 0);
	engine_commit(&t->d);
	assert_int_equal(f->batches, 1);	/* the delete waits for the add */
	assert_int_equal(state_of(t, 0), PH_CLOSING);
	while (fake_release(f, SIZE_MAX))
		ready(t);
	assert_int_equal(reply_status(t, 0), 0);
	assert_int_equal(reply_status(t, 1), -ENFILE);
	assert_int_equal(reply_status(t, 32), 0);
	assert_false(fake_holds(f, PORT0));
	assert_int_equal(f->n_held, 0);
	assert_int_equal(t->d.table.count, 0);
	assert_int_equal(t->d.n_ops, 0);
	fixture_free(t);
}

/* --- capacity --------------------------------------------------------------------------- */

static void test_capacity_wait_queue(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);

	t->d.cfg.capacity = 2;
	req_open(t, 0);
	req_open(t, 1);
	req_open(t, 2);			/* waits (paper §5.1) */
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 0), 0);
	assert_int_equal(reply_status(t, 1), 0);
	assert_int_equal(reply_status(t, 2), 1);
	assert_int_equal(t->d.n_waiting, 1);
	assert_int_equal(t->d.st.queued, 1);
	/* room again once a close is acknowledged: the waiting one gets in */
	t->f[0]->hold = true;
	req_close(t, 0);
	engine_commit(&t->d);
	assert_int_equal(t->d.n_waiting, 1);	/* not before the enforcer answers */
	while (fake_release(t->f[0], SIZE_MAX))
		ready(t);
	assert_int_equal(reply_status(t, 32), 0);
	assert_int_equal(reply_status(t, 2), 0);
	assert_true(fake_holds(t->f[0], PORT0 + 2));
	assert_int_equal(t->d.n_waiting, 0);
	fixture_free(t);
}

static void test_capacity_queue_full(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);

	t->d.cfg.capacity = 1;
	t->d.cfg.queue_max = 1;
	free(t->d.waiting);
	t->d.waiting = calloc(1, sizeof(*t->d.waiting));
	req_open(t, 0);
	req_open(t, 1);
	req_open(t, 2);
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 0), 0);
	assert_int_equal(reply_status(t, 1), 1);
	assert_int_equal(reply_status(t, 2), -ENOSPC);
	assert_int_equal(t->d.st.refusals, 1);
	fixture_free(t);
}

/* --- sockets that go away ------------------------------------------------------------------ */

static void test_socket_gone_while_pending(void **state)
{
	struct fixture *t = fixture_new(2, 0, 1);

	t->f[1]->hold = true;
	req_open(t, 0);
	engine_commit(&t->d);
	assert_int_equal(state_of(t, 0), PH_PENDING);
	engine_socket_gone(&t->d, PORT0);
	engine_commit(&t->d);
	assert_int_equal(state_of(t, 0), PH_CLOSING);
	while (fake_release(t->f[1], SIZE_MAX))
		ready(t);
	assert_int_equal(state_of(t, 0), -1);
	assert_int_equal(t->f[0]->n_held, 0);
	assert_int_equal(t->f[1]->n_held, 0);
	assert_int_equal(t->d.n_ops, 0);
	assert_int_equal(t->d.st.closes, 1);
	fixture_free(t);
}

static void test_socket_gone_while_waiting(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);

	t->d.cfg.capacity = 1;
	req_open(t, 0);
	req_open(t, 1);
	engine_commit(&t->d);
	assert_int_equal(t->d.n_waiting, 1);
	engine_socket_gone(&t->d, PORT0 + 1);
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 1), -ECONNRESET);
	assert_int_equal(t->d.n_waiting, 0);
	assert_false(fake_holds(t->f[0], PORT0 + 1));
	fixture_free(t);
}

/* A channel that closes while its request is in flight: the op finishes,
 * the reply goes nowhere. */
static void test_channel_gone_while_pending(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);
	struct channel ch = { .fd = -1 };
	struct reply_to r = { .fd = -1, .ch = &ch };
	struct pinhole ph = ph_of(0);

	t->f[0]->hold = true;
	engine_request_open(&t->d, &ph, 0, 0, false, &r);
	engine_commit(&t->d);
	engine_forget_channel(&t->d, &ch);
	assert_null(t->d.ops->reply.ch);
	fake_release(t->f[0], SIZE_MAX);
	ready(t);
	assert_int_equal(state_of(t, 0), PH_OPEN);
	fixture_free(t);
}

/* --- dyperctl's read-back and close ------------------------------------------------------ */

struct ctl_seen {
	unsigned entries, done;
	int err;
	uint64_t packets;
	char msg[128];
};

static void ctl_entry(struct dyperd *d, const struct pinhole_entry *pe, void *arg)
{
	struct ctl_seen *c = arg;

	c->entries++;
	c->packets += pe->packets;
}

static void ctl_done(struct dyperd *d, int err, const char *msg, void *arg)
{
	struct ctl_seen *c = arg;

	c->done++;
	c->err = err;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static void test_admin_read_and_close(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);
	struct ctl_seen list = { 0 }, gone = { 0 }, cl = { 0 };
	char why[128];
	int idx;

	req_open(t, 0);
	req_open(t, 1);
	engine_commit(&t->d);
	t->f[0]->hold = true;
	assert_int_equal(engine_read(&t->d, ctl_entry, ctl_done, &list), 0);
	assert_int_equal(engine_read(&t->d, ctl_entry, ctl_done, &gone), 0);
	engine_forget_arg(&t->d, &gone);	/* its connection closed meanwhile */
	engine_commit(&t->d);
	assert_int_equal(list.done, 0);
	fake_release(t->f[0], SIZE_MAX);
	ready(t);
	assert_int_equal(list.done, 1);
	assert_int_equal(list.entries, 2);
	assert_int_equal(list.packets, 2 * PORT0 + 1);
	assert_int_equal(gone.done + gone.entries, 0);

	idx = table_find(&t->d.table, &(struct pinhole){ 0 });
	assert_int_equal(idx, -1);
	{
		struct pinhole ph = ph_of(1);

		idx = table_find(&t->d.table, &ph);
	}
	assert_int_equal(engine_close_id(&t->d, 9999, why, sizeof(why), ctl_done, &cl), -ENOENT);
	assert_int_equal(engine_close_id(&t->d, t->d.table.v[idx].id, why, sizeof(why), ctl_done,
					 &cl), 0);
	engine_commit(&t->d);
	assert_int_equal(cl.done, 0);		/* not before the enforcer answered */
	fake_release(t->f[0], SIZE_MAX);
	ready(t);
	assert_int_equal(cl.done, 1);
	assert_int_equal(cl.err, 0);
	assert_non_null(strstr(cl.msg, "closed pinhole"));
	assert_false(fake_holds(t->f[0], PORT0 + 1));
	fixture_free(t);
}

/* A listening socket of this test and its cookie: a pinhole owner that lives. */
static int live_socket(uint64_t *cookie)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len), 0);
	return fd;
}

/* Reconcile of an enforcer others may change: what vanished from it while
 * its socket lives is added again, there only; a repair that finds it back
 * already (-EEXIST) counts as done and leaves the pinhole open. */
static void test_reconcile_repairs_vanished(void **state)
{
	struct fixture *t = fixture_new(2, 0, 1);
	struct reply_to r = reply_for(t, 0);
	struct pinhole ph = ph_of(0), ph1 = ph_of(1);
	uint64_t cookie;
	int fd = live_socket(&cookie);

	t->f[0]->exclusive = false;
	ph.owner.sock_cookie = ph1.owner.sock_cookie = cookie;
	engine_request_open(&t->d, &ph, 0, 0, false, &r);
	r = reply_for(t, 1);
	engine_request_open(&t->d, &ph1, 0, 0, false, &r);
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 0), 0);
	assert_int_equal(reply_status(t, 1), 0);
	fake_drop(t->f[0], PORT0);
	assert_int_equal(engine_reconcile(&t->d), 0);
	engine_commit(&t->d);
	assert_int_equal(t->f[0]->reads, 1);
	assert_int_equal(t->f[1]->reads, 0);	/* exclusive: not read back */
	assert_true(fake_holds(t->f[0], PORT0));
	assert_int_equal(t->d.st.repairs, 1);
	assert_int_equal(state_of(t, 0), PH_OPEN);
	/* missing at the read-back, back when the repair lands: the
	 * enforcer answers the add with -EEXIST */
	fake_drop(t->f[0], PORT0 + 1);
	t->f[0]->fail_port = PORT0 + 1;
	t->f[0]->fail_err = -EEXIST;
	assert_int_equal(engine_reconcile(&t->d), 0);
	engine_commit(&t->d);
	assert_int_equal(t->d.st.repairs, 2);
	assert_int_equal(t->d.st.errors, 0);
	assert_int_equal(state_of(t, 1), PH_OPEN);
	assert_int_equal(t->d.n_ops, 0);
	close(fd);
	fixture_free(t);
}

/*
 * Border mode's two rules for a second enforcer (a site): an agent whose
 * open it refuses hears the enforcer's own words; and a repair there that
 * fails (the site unreachable) leaves the pinhole open here instead of
 * closing what the first enforcer holds.
 */
static void test_second_refuses(void **state)
{
	struct fixture *t = fixture_new(2, 0, 1);
	char buf[sizeof(struct dyper_hdr) + sizeof(struct dyper_reply)];
	struct reply_to r = reply_for(t, 0);
	struct pinhole ph = ph_of(0);
	struct dyper_reply rep;
	const void *payload;
	struct dyper_hdr h;
	uint64_t cookie;
	int fd = live_socket(&cookie);
	ssize_t n;

	t->f[1]->fail_port = PORT0 + 1;
	t->f[1]->fail_err = -EHOSTUNREACH;
	req_open(t, 1);
	engine_commit(&t->d);
	n = recv(t->peer[1], buf, sizeof(buf), MSG_DONTWAIT);
	assert_true(n > 0);
	assert_int_equal(dyper_msg_decode(buf, (size_t)n, &h, &payload), 0);
	memcpy(&rep, payload, sizeof(rep));
	assert_int_equal(rep.status, -EHOSTUNREACH);
	assert_string_equal(rep.reason, "the fake refused");

	ph.owner.sock_cookie = cookie;
	engine_request_open(&t->d, &ph, 0, 0, false, &r);
	engine_commit(&t->d);
	assert_int_equal(reply_status(t, 0), 0);
	t->f[1]->exclusive = false;
	fake_drop(t->f[1], PORT0);
	t->f[1]->fail_port = PORT0;
	assert_int_equal(engine_reconcile(&t->d), 0);
	engine_commit(&t->d);
	assert_int_equal(t->d.st.repairs, 1);
	assert_int_equal(state_of(t, 0), PH_OPEN);
	assert_true(fake_holds(t->f[0], PORT0));
	assert_int_equal(t->d.n_ops, 0);
	close(fd);
	fixture_free(t);
}

/* --- tamper check and reconcile --------------------------------------------------------- */

/* The check finds the structure gone: repaired, then a full reconcile
 * removes what the enforcer holds that is not dyperd's. */
static void test_tamper_repair_and_reconcile(void **state)
{
	struct fixture *t = fixture_new(1, 0, 1);
	struct pinhole foreign = ph_of(9);

	fake_put(t->f[0], &foreign);
	t->f[0]->gone = true;
	t->d.next_tamper_ms = 0;
	t->d.next_reconcile_ms = UINT64_MAX;
	t->d.cfg.reconcile_ms = 3600 * 1000;
	engine_tick(&t->d);
	assert_int_equal(t->f[0]->checks, 1);
	assert_int_equal(t->f[0]->setups, 1);
	assert_int_equal(t->d.st.repairs, 1);
	assert_int_equal(t->f[0]->reads, 1);	/* the full reconcile */
	assert_false(fake_holds(t->f[0], PORT0 + 9));
	assert_int_equal(t->d.st.stale, 1);
	fixture_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batching_one_batch),
		cmocka_unit_test(test_batching_in_flight),
		cmocka_unit_test(test_blame_one_bad_op),
		cmocka_unit_test(test_repair_when_gone),
		cmocka_unit_test(test_repair_when_gone_add_enoent),
		cmocka_unit_test(test_repair_gone_for_good),
		cmocka_unit_test(test_two_one_slow),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_two_one_fails),
		cmocka_unit_test(test_two_close_waits),
		cmocka_unit_test(test_close_while_open_in_flight),
		cmocka_unit_test(test_capacity_wait_queue),
		cmocka_unit_test(test_capacity_queue_full),
		cmocka_unit_test(test_socket_gone_while_pending),
		cmocka_unit_test(test_socket_gone_while_waiting),
		cmocka_unit_test(test_channel_gone_while_pending),
		cmocka_unit_test(test_admin_read_and_close),
		cmocka_unit_test(test_reconcile_repairs_vanished),
		cmocka_unit_test(test_second_refuses),
		cmocka_unit_test(test_tamper_repair_and_reconcile),
		cmocka_unit_test(test_close_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
