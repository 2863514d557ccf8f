// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kernel tests for nft/: the real nf_tables, each test in a network
 * namespace of its own (unshare(CLONE_NEWNET) before anything else), so
 * the host's ruleset is never touched.  State is read back from the kernel
 * with our dump and, independently, with the nft command.
 */

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "nft/enforcer_if.h"
#include "nft/internal.h"

struct fixture {
	struct nft_enforcer_config cfg;
	struct nft_enforcer *e;
};

static int new_netns(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || unshare(CLONE_NEWNET)) {
		fprintf(stderr, "cannot create a network namespace: %s\n", strerror(errno));
		free(f);
		return -1;	/* never run a test outside a namespace of its own */
	}
	nft_enforcer_config_init(&f->cfg);
	f->cfg.tcp_ports[0] = 22;
	f->cfg.n_tcp_ports = 1;
	*state = f;
	return 0;
}

static int free_fixture(void **state)
{
	struct fixture *f = *state;

	nft_enforcer_free(f->e);
	free(f);
	return 0;
}

static struct nft_enforcer *open_setup(struct fixture *f)
{
	int err = nft_enforcer_open(&f->e, &f->cfg);

	if (err)
		fail_msg("open: %s", nft_enforcer_error(f->e));
	err = nft_enforcer_setup(f->e);
	if (err)
		fail_msg("setup: %s", nft_enforcer_error(f->e));
	return f->e;
}

/* The kernel's table is (@want) or is not as setup made it. */
static void assert_intact(struct nft_enforcer *e, bool want)
{
	bool intact = !want;

	assert_int_equal(nft_enforcer_check(e, &intact), 0);
	assert_int_equal(intact, want);
}

/* Runs a shell command in this test's namespace; returns its exit status. */
__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* The output of `nft list ...`, malloc'd. */
static char *nft_list(const char *what)
{
	char cmd[256], *buf = calloc(1, 1 << 20);
	size_t len = 0, n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nft list %s 2>&1", what);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(buf);
	while ((n = fread(buf + len, 1, (1 << 20) - 1 - len, p)) > 0)
		len += n;
	pclose(p);
	return buf;
}

/* Pinhole number @i: distinct keys over both families and both set kinds. */
static struct pinhole nth(uint32_t i)
{
	struct pinhole ph;

	memset(&ph, 0, sizeof(ph));
	ph.proto = i & 1 ? IPPROTO_UDP : IPPROTO_TCP;
	ph.remote_port = i & 2 ? (uint16_t)(1 + i % 60000) : 0;
	ph.local_port = (uint16_t)(1024 + i / 4 % 60000);
	if (i & 4) {
		ph.family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8:1::", ph.remote.raw);
		inet_pton(AF_INET6, "2001:db8:2::1", ph.local.raw);
		ph.remote.raw[14] = (uint8_t)(i >> 24);
		ph.remote.raw[15] = (uint8_t)(i >> 16);
	} else {
		ph.family = AF_INET;
		ph.remote.v4.s_addr = htonl(0xc6336400u | (i >> 16 & 0xff));	/* 198.51.100.x */
		ph.local.v4.s_addr = htonl(0xcb007101u);			/* 203.0.113.1 */
	}
	ph.owner = (struct pinhole_owner){ .uid = 1000 + i % 7, .pid = 4000 + i, .sock_ino = i,
					   .sock_cookie = 1ULL << 40 | i, .created = 1763800000,
					   .program = "test" };
	return ph;
}

static struct pinhole_op *ops_new(size_t n, enum pinhole_op_type type, uint32_t from)
{
	struct pinhole_op *ops = calloc(n, sizeof(*ops));

	assert_non_null(ops);
	for (size_t i = 0; i < n; i++) {
		ops[i].type = type;
		ops[i].ph = nth(from + (uint32_t)i);
	}
	return ops;
}

/* Collects a dump. */
struct seen {
	struct pinhole_entry *v;
	size_t n, cap;
};

static int collect(const struct pinhole_entry *pe, void *arg)
{
	struct seen *s = arg;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		assert_non_null(s->v);
	}
	s->v[s->n++] = *pe;
	return 0;
}

static struct seen dump(struct nft_enforcer *e)
{
	struct seen s = { 0 };

	if (nft_enforcer_dump(e, collect, &s))
		fail_msg("dump: %s", nft_enforcer_error(e));
	return s;
}

/* Every one of @ops, and nothing else, is in the kernel with its owner (a
 * host's or a site's delegate): each entry found once by its key. */
static void assert_exactly(struct nft_enforcer *e, const struct pinhole_op *ops, size_t n)
{
	struct seen s = dump(e);
	char *hit = calloc(n ? n : 1, 1);

	assert_non_null(hit);
	assert_int_equal(s.n, n);
	for (size_t i = 0; i < s.n; i++) {
		const struct pinhole *ph = &s.v[i].ph;
		size_t j;

		assert_true(s.v[i].owner_known);
		for (j = 0; j < n; j++)
			if (pinhole_same_key(ph, &ops[j].ph))
				break;
		assert_true(j < n);
		assert_false(hit[j]);
		hit[j] = 1;
		assert_memory_equal(&ph->owner, &ops[j].ph.owner, sizeof(ph->owner));
	}
	free(hit);
	free(s.v);
}

/* --- tests -------------------------------------------------------------------- */

static void test_setup_layout(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	char *out;

	assert_intact(e, true);
	/* this kernel (6.9+) has persist: the table is ours alone */
	assert_true(nft_enforcer_owned(e));

	out = nft_list("table inet dyper");
	assert_non_null(strstr(out, "type filter hook input priority filter; policy drop;"));
	assert_non_null(strstr(out, "ct state established,related accept"));
	assert_non_null(strstr(out, "ct state invalid drop"));
	assert_non_null(strstr(out, "iif \"lo\" accept"));
	assert_non_null(strstr(out, "icmpv6 type @icmpv6_ok accept"));
	assert_non_null(strstr(out, "nd-neighbor-solicit"));
	assert_non_null(strstr(out, "tcp dport @control_tcp accept"));
	assert_non_null(strstr(out, "ip saddr . meta l4proto . th sport . ip daddr . th dport @pinholes4 accept"));
	assert_non_null(strstr(out, "ip6 saddr . meta l4proto . ip6 daddr . th dport @pinholes6_any accept"));
	assert_non_null(strstr(out, "type ipv6_addr . inet_proto . inet_service . ipv6_addr . inet_service"));
	assert_non_null(strstr(out, "log prefix \"dyper drop: \""));
	assert_non_null(strstr(out, "drop\n\t}"));
	assert_non_null(strstr(out, "elements = { 22 }"));
	assert_null(strstr(out, "echo-request"));	/* ping is off by default */
	free(out);
}

static void test_add_one(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	struct pinhole_op op = { .type = PINHOLE_ADD };
	struct seen s;
	char *out;

	inet_pton(AF_INET, "192.0.2.10", &op.ph.remote);
	inet_pton(AF_INET, "203.0.113.1", &op.ph.local);
	op.ph.family = AF_INET;
	op.ph.proto = IPPROTO_TCP;
	op.ph.local_port = 40000;
	op.ph.timeout_ms = 600000;
	op.ph.owner = (struct pinhole_owner){ .uid = 1000, .pid = 4242, .sock_ino = 77,
					      .sock_cookie = 78, .created = 1763800000,
					      .program = "vsftpd" };
	assert_int_equal(nft_enforcer_commit(e, &op, 1), 0);
	assert_int_equal(op.err, 0);

	s = dump(e);
	assert_int_equal(s.n, 1);
	assert_true(pinhole_same_key(&s.v[0].ph, &op.ph));
	assert_true(s.v[0].owner_known);
	assert_memory_equal(&s.v[0].ph.owner, &op.ph.owner, sizeof(op.ph.owner));
	assert_int_equal(s.v[0].ph.timeout_ms, 600000);
	assert_true(s.v[0].expires_ms > 590000 && s.v[0].expires_ms <= 600000);
	assert_int_equal(s.v[0].packets, 0);
	free(s.v);

	out = nft_list("set inet dyper pinholes4_any");
	assert_non_null(strstr(out, "192.0.2.10 . tcp . 203.0.113.1 . 40000 counter packets 0 bytes 0 timeout 10m"));
	assert_non_null(strstr(out, "comment \"uid 1000 pid 4242 ino 77 ck 78 t 1763800000 vsftpd\""));
	free(out);
}

static void test_add_10000_dump_delete(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;
	struct pinhole_op *add = ops_new(10000, PINHOLE_ADD, 0);
	struct pinhole_op *del = ops_new(10000, PINHOLE_DEL, 0);
	char *out;

	f->cfg.max_pinholes = 20000;
	e = open_setup(f);
	assert_int_equal(nft_enforcer_commit(e, add, 10000), 0);
	assert_exactly(e, add, 10000);
	/* an independent reader agrees on the count */
	assert_int_equal(sh("test $(nft list table inet dyper | grep -o 'comment \"uid' | wc -l) -eq 10000"), 0);

	assert_int_equal(nft_enforcer_commit(e, del, 10000), 0);
	assert_exactly(e, NULL, 0);
	out = nft_list("set inet dyper pinholes6");
	assert_null(strstr(out, "elements"));
	free(out);
	free(add);
	free(del);
}

static void test_converge(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	struct pinhole_op *add = ops_new(8, PINHOLE_ADD, 100);
	char *before, *after;

	assert_int_equal(nft_enforcer_commit(e, add, 8), 0);
	before = nft_list("table inet dyper");
	assert_int_equal(nft_enforcer_setup(e), 0);
	assert_int_equal(nft_enforcer_setup(e), 0);
	after = nft_list("table inet dyper");
	/* same rules, same sets, same pinholes: nothing duplicated or lost
	 * (expiry times tick, so compare the lines that cannot change) */
	assert_int_equal(sh("nft list chain inet dyper input | grep -c accept | grep -qx 10"), 0);
	assert_int_equal(strlen(before), strlen(after));
	assert_intact(e, true);
	assert_exactly(e, add, 8);

	/* a changed config converges in place, pinholes kept */
	f->cfg.udp_ports[0] = 69;
	f->cfg.n_udp_ports = 1;
	f->cfg.allow_ping = true;
	nft_enforcer_free(f->e);
	e = open_setup(f);
	assert_intact(e, true);
	assert_exactly(e, add, 8);
	free(after);
	after = nft_list("table inet dyper");
	assert_non_null(strstr(after, "elements = { 69 }"));
	assert_non_null(strstr(after, "echo-request"));
	free(before);
	free(after);
	free(add);
}

static void test_bad_batch_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	struct pinhole_op *first = ops_new(10, PINHOLE_ADD, 0);
	struct pinhole_op *batch = ops_new(101, PINHOLE_ADD, 10);
	struct pinhole_op *del = ops_new(20, PINHOLE_DEL, 0);

	assert_int_equal(nft_enforcer_commit(e, first, 10), 0);
	batch[57].ph = first[3].ph;	/* already open */
	assert_int_equal(nft_enforcer_commit(e, batch, 101), -EEXIST);
	for (size_t i = 0; i < 101; i++)
		assert_int_equal(batch[i].err, i == 57 ? -EEXIST : 0);
	assert_non_null(strstr(nft_enforcer_error(e), "already open"));
	assert_non_null(strstr(nft_enforcer_error(e), "none applied"));
	assert_exactly(e, first, 10);

	/* deleting 10 open and 10 never opened: nothing is deleted */
	assert_int_equal(nft_enforcer_commit(e, del, 20), -ENOENT);
	for (size_t i = 0; i < 20; i++)
		assert_int_equal(del[i].err, i < 10 ? 0 : -ENOENT);
	assert_exactly(e, first, 10);
	free(first);
	free(batch);
	free(del);
}

static void test_invalid_refused_before_kernel(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	struct pinhole_op *ops = ops_new(3, PINHOLE_ADD, 0);
	uint32_t g1, g2;

	assert_int_equal(nft_enforcer_generation(e, &g1), 0);
	ops[2].ph.local_port = 0;
	assert_int_equal(nft_enforcer_commit(e, ops, 3), -EINVAL);
	assert_int_equal(ops[2].err, -EINVAL);
	assert_non_null(strstr(nft_enforcer_error(e), "invalid pinhole"));
	assert_int_equal(nft_enforcer_generation(e, &g2), 0);
	assert_int_equal(g1, g2);	/* nothing was sent */
	assert_exactly(e, NULL, 0);
	free(ops);
}

static void test_capacity(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;
	struct pinhole_op *ops = ops_new(64, PINHOLE_ADD, 0);
	size_t v4any = 0;

	f->cfg.max_pinholes = 4;
	e = open_setup(f);
	/* nth(): i % 8 == 0 → IPv4 tcp any-port; 8 of those in 64 */
	for (size_t i = 0; i < 64; i++)
		v4any += ops[i].ph.family == AF_INET && !ops[i].ph.remote_port;
	assert_true(v4any > 4);
	assert_int_equal(nft_enforcer_commit(e, ops, 64), -ENFILE);
	assert_non_null(strstr(nft_enforcer_error(e), "full"));
	assert_exactly(e, NULL, 0);
	free(ops);
}

static void test_owner_excludes_others(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f), *other = NULL;
	struct pinhole_op op = { .type = PINHOLE_ADD, .ph = nth(1) };

	assert_true(nft_enforcer_owned(e));
	assert_int_equal(nft_enforcer_open(&other, &f->cfg), 0);
	assert_int_equal(nft_enforcer_setup(other), -EBUSY);
	assert_non_null(strstr(nft_enforcer_error(other), "another dyperd"));
	assert_int_equal(nft_enforcer_commit(other, &op, 1), -EPERM);
	/* nor can the nft command change it */
	assert_int_not_equal(sh("nft flush table inet dyper 2>/dev/null"), 0);
	assert_int_not_equal(sh("nft delete table inet dyper 2>/dev/null"), 0);
	assert_intact(e, true);

	/* the owner goes away (a crash): the table stays, policy intact, and
	 * the next enforcer takes it over with its pinholes */
	assert_int_equal(nft_enforcer_commit(e, &op, 1), 0);
	nft_enforcer_free(e);
	f->e = other;
	assert_int_equal(sh("nft list chain inet dyper input | grep -q 'policy drop'"), 0);
	assert_exactly(other, &op, 1);
	assert_int_equal(nft_enforcer_setup(other), 0);
	assert_true(nft_enforcer_owned(other));
	assert_exactly(other, &op, 1);
}

static void test_owner_off(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;

	f->cfg.owner = NFT_OWNER_OFF;
	e = open_setup(f);
	assert_false(nft_enforcer_owned(e));
	/* the table's own lines carry no flags (its sets do: timeout) */
	assert_int_equal(sh("nft list table inet dyper | sed -n 2p | grep -q comment"), 0);
	assert_int_equal(sh("nft list table inet dyper | sed -n 2p | grep -q flags"), 1);
}

static void test_foreign_table_refused(void **state)
{
	struct fixture *f = *state;
	int err;

	assert_int_equal(sh("nft add table inet dyper '{ comment \"someone else\"; }' && "
			    "nft add chain inet dyper mine"), 0);
	assert_int_equal(nft_enforcer_open(&f->e, &f->cfg), 0);
	err = nft_enforcer_setup(f->e);
	assert_int_equal(err, -EEXIST);
	assert_non_null(strstr(nft_enforcer_error(f->e), "not made by Dyper"));
	/* left as it was */
	assert_int_equal(sh("nft list table inet dyper | grep -q 'chain mine'"), 0);
	assert_int_equal(sh("nft list table inet dyper | grep -q 'someone else'"), 0);

	/* another name works beside it */
	nft_enforcer_free(f->e);
	f->cfg.table = "dyper2";
	open_setup(f);
}

static void test_generation_foreign_change(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	struct pinhole_op *ops = ops_new(5, PINHOLE_ADD, 0);
	bool changed = true;

	assert_int_equal(nft_enforcer_foreign_change(e, &changed), 0);
	assert_false(changed);
	assert_int_equal(nft_enforcer_commit(e, ops, 5), 0);
	assert_int_equal(nft_enforcer_commit(e, ops, 1), -EEXIST);	/* aborted: no change */
	assert_int_equal(nft_enforcer_foreign_change(e, &changed), 0);
	assert_false(changed);
	assert_int_equal(sh("nft add table inet someone_else"), 0);
	assert_int_equal(nft_enforcer_foreign_change(e, &changed), 0);
	assert_true(changed);
	assert_int_equal(nft_enforcer_foreign_change(e, &changed), 0);
	assert_false(changed);
	free(ops);
}

/* Each of the @n commands in @tamper, run on a freshly set up table, is
 * seen by check and said in the error; setup repairs whatever was done. */
static void assert_tampering_detected(struct nft_enforcer *e, const char *const *tamper,
				      size_t n)
{
	bool intact;

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(nft_enforcer_setup(e), 0);
		assert_intact(e, true);
		if (sh("%s", tamper[i]))
			fail_msg("tampering command failed: %s", tamper[i]);
		assert_int_equal(nft_enforcer_check(e, &intact), 0);
		if (intact)
			fail_msg("not detected: %s", tamper[i]);
		assert_true(strlen(nft_enforcer_error(e)) > 0);
	}
	assert_int_equal(nft_enforcer_setup(e), 0);
	assert_intact(e, true);
}

static void test_check_detects_tampering(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;
	static const char *const tamper[] = {
		"nft insert rule inet dyper input tcp dport 23 accept",
		"nft delete rule inet dyper input handle $(nft -a list chain inet dyper input | "
			"grep 'invalid drop' | sed 's/.*handle //')",
		"nft add element inet dyper control_tcp '{ 23 }'",
		"nft delete element inet dyper icmpv6_ok '{ nd-neighbor-solicit }'",
		"nft chain inet dyper input '{ policy accept; }'",
		"nft flush chain inet dyper input",
		"nft delete table inet dyper",
	};

	f->cfg.owner = NFT_OWNER_OFF;	/* so that the nft command can tamper */
	e = open_setup(f);
	assert_tampering_detected(e, tamper, sizeof(tamper) / sizeof(tamper[0]));
}

static void test_timeout_expires(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	struct pinhole_op ops[2] = { { .type = PINHOLE_ADD, .ph = nth(0) },
				     { .type = PINHOLE_ADD, .ph = nth(1) } };
	struct seen s = { 0 };

	ops[0].ph.timeout_ms = 300;
	assert_int_equal(nft_enforcer_commit(e, ops, 2), 0);
	/* gone within 3 s (the set's garbage collector runs every second) */
	for (int i = 0; i < 30; i++) {
		free(s.v);
		s = dump(e);
		if (s.n == 1)
			break;
		usleep(100000);
	}
	assert_int_equal(s.n, 1);
	assert_true(pinhole_same_key(&s.v[0].ph, &ops[1].ph));
	free(s.v);
}

static void test_flush_and_destroy(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e = open_setup(f);
	struct pinhole_op *ops = ops_new(40, PINHOLE_ADD, 0);

	assert_int_equal(nft_enforcer_commit(e, ops, 40), 0);
	assert_int_equal(nft_enforcer_flush(e), 0);
	assert_exactly(e, NULL, 0);
	assert_intact(e, true);

	assert_int_equal(nft_enforcer_destroy(e), 0);
	assert_int_equal(sh("nft list tables | grep -q dyper"), 1);
	assert_intact(e, false);
	assert_non_null(strstr(nft_enforcer_error(e), "gone"));
	assert_int_equal(nft_enforcer_destroy(e), -ENOENT);
	assert_int_equal(nft_enforcer_dump(e, collect, NULL), -ENOENT);
	assert_non_null(strstr(nft_enforcer_error(e), "run setup"));
	/* adding to a missing table says what to do */
	assert_int_equal(nft_enforcer_commit(e, ops, 1), -ENOENT);
	assert_non_null(strstr(nft_enforcer_error(e), "missing"));
	free(ops);
}

static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	char longname[300];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	f->cfg.table = longname;
	assert_int_equal(nft_enforcer_open(&f->e, &f->cfg), -EINVAL);
	assert_non_null(strstr(nft_enforcer_error(f->e), "table name"));
}

/* --- the table through the enforcer interface (nft/local.c) ------------------------ */

struct answers {
	struct enforcer_done d[16];
	struct enforcer_job job[16];
	int op_err[16][4];
	char msg[16][256];
	size_t n;
	size_t entries[16];	/* read-backs: entries before the completion */
	size_t pending_entries;
};

static void if_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	struct answers *a = arg;

	assert_true(pe->owner_known);
	a->pending_entries++;
}

static void if_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	struct answers *a = arg;

	assert_true(a->n < 16);
	a->d[a->n] = *d;
	a->job[a->n] = *d->job;
	for (size_t i = 0; i < d->job->n && i < 4; i++)
		a->op_err[a->n][i] = d->job->ops[i].err;
	snprintf(a->msg[a->n], sizeof(a->msg[0]), "%s", d->msg);
	a->entries[a->n] = a->pending_entries;
	a->pending_entries = 0;
	a->n++;
}

static bool readable(struct enforcer *e)
{
	struct pollfd p = { .fd = enforcer_fd(e), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void submit(struct enforcer *e, enum enforcer_job_type type, uint64_t tag,
		   struct pinhole_op *ops, size_t n)
{
	struct enforcer_job job = { .type = type, .tag = tag, .ops = ops, .n = n };

	assert_int_equal(enforcer_submit(e, &job), 0);
}

/* A sink that records completions in *@a (calloc'd: the caller frees it). */
static struct enforcer_sink answers_sink(struct answers **a)
{
	*a = calloc(1, sizeof(**a));
	assert_non_null(*a);
	return (struct enforcer_sink){ if_entry, if_done, *a };
}

/* The @n jobs submitted, tagged 1 to @n, all complete on one dispatch and in
 * that order; the fd is readable until then and not after. */
static void dispatch_all(struct enforcer *e, struct enforcer_sink *sink, struct answers *a,
			 size_t n)
{
	assert_true(readable(e));
	assert_int_equal(enforcer_dispatch(e, sink), 0);
	assert_false(readable(e));
	assert_int_equal(a->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(a->job[i].tag, i + 1);
}

/* Jobs complete on dispatch, in submission order, each with its result:
 * per op in a batch, entries then completion for a read-back, integrity
 * and foreign changes for a check; the fd is readable exactly while
 * something waits. */
static void test_local_interface(void **state)
{
	struct fixture *f = *state;
	struct answers *a;
	struct enforcer_sink sink = answers_sink(&a);
	struct pinhole_op *add = ops_new(3, PINHOLE_ADD, 0);
	struct pinhole_op *mixed = ops_new(2, PINHOLE_ADD, 3);
	struct pinhole_op *del = ops_new(3, PINHOLE_DEL, 0);
	struct enforcer *e;

	f->cfg.owner = NFT_OWNER_OFF;		/* so that nft can tamper with it below */
	assert_int_equal(nft_enforcer_open(&f->e, &f->cfg), 0);
	assert_int_equal(nft_local_new(&e, f->e, 0), 0);
	f->e = NULL;			/* the enforcer owns it now */
	assert_false(readable(e));
	mixed[1].ph = add[0].ph;	/* already open: blamed, the other not applied */
	submit(e, ENFORCER_SETUP, 1, NULL, 0);
	submit(e, ENFORCER_BATCH, 2, add, 3);
	submit(e, ENFORCER_BATCH, 3, mixed, 2);
	submit(e, ENFORCER_READ, 4, NULL, 0);
	submit(e, ENFORCER_BATCH, 5, del, 3);
	submit(e, ENFORCER_CHECK, 6, NULL, 0);
	submit(e, ENFORCER_READ, 7, NULL, 0);
	assert_int_equal(a->n, 0);		/* nothing completes inside submit */
	dispatch_all(e, &sink, a, 7);
	assert_int_equal(a->d[0].err, 0);
	assert_int_equal(a->d[1].err, 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(a->op_err[1][i], 0);
	assert_int_equal(a->d[2].err, -EEXIST);
	assert_int_equal(a->op_err[2][0], -ECANCELED);
	assert_int_equal(a->op_err[2][1], -EEXIST);
	assert_true(a->msg[2][0] != '\0');
	assert_int_equal(a->d[3].err, 0);
	assert_int_equal(a->entries[3], 3);	/* after the adds, before the deletes */
	assert_int_equal(a->d[4].err, 0);
	assert_int_equal(a->d[5].err, 0);
	assert_false(a->d[5].changed);		/* our own commits are not foreign */
	assert_true(a->d[5].intact);
	assert_int_equal(a->entries[6], 0);
	assert_false(enforcer_exclusive(e));	/* not owned: others could change it */

	/* someone else's table: a foreign change, ours intact */
	a->n = 0;
	assert_int_equal(sh("nft add table inet dyper_test_other"), 0);
	submit(e, ENFORCER_CHECK, 8, NULL, 0);
	assert_int_equal(enforcer_dispatch(e, &sink), 0);
	assert_int_equal(a->n, 1);
	assert_true(a->d[0].changed);
	assert_true(a->d[0].intact);
	/* ours tampered with: not intact, says what; setup restores it */
	assert_int_equal(sh("nft flush chain inet dyper input"), 0);
	submit(e, ENFORCER_CHECK, 9, NULL, 0);
	submit(e, ENFORCER_SETUP, 10, NULL, 0);
	submit(e, ENFORCER_CHECK, 11, NULL, 0);
	assert_int_equal(enforcer_dispatch(e, &sink), 0);
	assert_int_equal(a->n, 4);
	assert_true(a->d[1].changed);
	assert_false(a->d[1].intact);
	assert_true(a->msg[1][0] != '\0');
	assert_int_equal(a->d[2].err, 0);
	assert_false(a->d[3].changed);		/* setup's own change is not foreign */
	assert_true(a->d[3].intact);
	enforcer_free(e);
	free(a);
	free(add);
	free(mixed);
	free(del);
}

/* --- a border router's table (NFT_MODE_ROUTER) ------------------------------------ */

static void router_config(struct fixture *f)
{
	nft_enforcer_config_init_router(&f->cfg);
	strcpy(f->cfg.inside[0], "int0");
	strcpy(f->cfg.inside[1], "int1");
	f->cfg.n_inside = 2;
	f->cfg.open[0] = (struct nft_open_port){ .family = AF_INET, .proto = IPPROTO_TCP,
						 .port = 22 };
	inet_pton(AF_INET, "198.51.100.10", &f->cfg.open[0].addr);
	f->cfg.open[1] = (struct nft_open_port){ .family = AF_INET6, .proto = IPPROTO_UDP,
						 .port = 53 };
	inet_pton(AF_INET6, "2001:db8:2::10", &f->cfg.open[1].addr);
	f->cfg.n_open = 2;
}

/* Pinhole nth(@i) as a site holds it: its owner is a delegate. */
static struct pinhole site_nth(uint32_t i)
{
	struct pinhole ph = nth(i);

	memset(&ph.owner, 0, sizeof(ph.owner));
	snprintf(ph.owner.delegate, sizeof(ph.owner.delegate), "host%u.example", i % 3);
	ph.owner.created = 1763800000 + i;
	return ph;
}

static struct pinhole_op *site_ops(size_t n, enum pinhole_op_type type, uint32_t from)
{
	struct pinhole_op *ops = ops_new(n, type, from);

	for (size_t i = 0; i < n; i++)
		ops[i].ph = site_nth(from + (uint32_t)i);
	return ops;
}

static void test_router_layout(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;
	char *out;

	router_config(f);
	e = open_setup(f);
	assert_intact(e, true);
	assert_true(nft_enforcer_owned(e));
	out = nft_list("table inet dyper_site");
	assert_non_null(strstr(out, "type filter hook forward priority filter; policy drop;"));
	assert_null(strstr(out, "hook input"));
	assert_non_null(strstr(out, "ct state established,related accept"));
	assert_non_null(strstr(out, "ct state invalid drop"));
	assert_non_null(strstr(out, "iifname @inside accept"));
	assert_non_null(strstr(out, "\"int0\""));
	assert_non_null(strstr(out, "\"int1\""));
	assert_non_null(strstr(out, "ip daddr . meta l4proto . th dport @open4 accept"));
	assert_non_null(strstr(out, "elements = { 198.51.100.10 . tcp . 22 }"));
	assert_non_null(strstr(out, "elements = { 2001:db8:2::10 . udp . 53 }"));
	assert_non_null(strstr(out, "ip saddr . meta l4proto . ip daddr . th dport @pinholes4_any accept"));
	assert_non_null(strstr(out, "log prefix \"dyper site drop: \""));
	assert_null(strstr(out, "control_tcp"));
	assert_null(strstr(out, "iif \"lo\""));
	free(out);
	/* no rule of the host's: nothing on the input hook */
	assert_int_equal(sh("nft list chains | grep -q 'hook input'"), 1);
}

static void test_router_delegates(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;
	struct pinhole_op *add, *del;
	char *out;

	router_config(f);
	e = open_setup(f);
	add = site_ops(16, PINHOLE_ADD, 0);	/* both families, exact and any port */
	assert_int_equal(nft_enforcer_commit(e, add, 16), 0);
	assert_exactly(e, add, 16);
	out = nft_list("set inet dyper_site pinholes4_any");
	assert_non_null(strstr(out, "198.51.100.0 . tcp . 203.0.113.1 . 1024 counter packets 0 "
				    "bytes 0 comment \"dlg host0.example t 1763800000\""));
	free(out);
	/* an owner the comment cannot carry is refused before the kernel */
	del = site_ops(2, PINHOLE_DEL, 0);
	add[0].ph.owner.uid = 1000;
	assert_int_equal(nft_enforcer_commit(e, add, 1), -EINVAL);
	assert_int_equal(nft_enforcer_commit(e, del, 2), 0);
	assert_exactly(e, add + 2, 14);
	free(add);
	free(del);
}

/* The site controller's path: the router table through the interface. */
static void test_router_interface(void **state)
{
	struct fixture *f = *state;
	struct answers *a;
	struct enforcer_sink sink = answers_sink(&a);
	struct pinhole_op *add = site_ops(3, PINHOLE_ADD, 0);
	struct pinhole_op *bad = site_ops(3, PINHOLE_ADD, 3);
	struct pinhole_op *del = site_ops(3, PINHOLE_DEL, 0);
	struct nft_enforcer *host = NULL;
	struct enforcer *e;
	struct nft_enforcer_config hcfg;

	/* a host's table is not a router's */
	nft_enforcer_config_init(&hcfg);
	assert_int_equal(nft_enforcer_open(&host, &hcfg), 0);
	assert_int_equal(nft_router_new(&e, host, 0), -EINVAL);
	assert_null(e);

	router_config(f);
	assert_int_equal(nft_enforcer_open(&f->e, &f->cfg), 0);
	assert_int_equal(nft_router_new(&e, f->e, 100), 0);
	f->e = NULL;
	assert_string_equal(e->name, "router");
	assert_int_equal(e->batch_pref, 100);
	bad[2].ph = add[1].ph;		/* already open: the whole batch fails */
	submit(e, ENFORCER_SETUP, 1, NULL, 0);
	submit(e, ENFORCER_BATCH, 2, add, 3);
	submit(e, ENFORCER_BATCH, 3, bad, 3);
	submit(e, ENFORCER_READ, 4, NULL, 0);
	submit(e, ENFORCER_CHECK, 5, NULL, 0);
	submit(e, ENFORCER_BATCH, 6, del, 3);
	submit(e, ENFORCER_READ, 7, NULL, 0);
	dispatch_all(e, &sink, a, 7);
	assert_int_equal(a->d[0].err, 0);
	assert_int_equal(a->d[1].err, 0);
	assert_int_equal(a->d[2].err, -EEXIST);
	assert_int_equal(a->op_err[2][0], -ECANCELED);
	assert_int_equal(a->op_err[2][1], -ECANCELED);
	assert_int_equal(a->op_err[2][2], -EEXIST);
	assert_non_null(strstr(a->msg[2], "none applied"));
	assert_int_equal(a->entries[3], 3);	/* the good batch only, delegates parsed */
	assert_true(a->d[4].intact);
	assert_false(a->d[4].changed);
	assert_int_equal(a->d[5].err, 0);
	assert_int_equal(a->entries[6], 0);
	assert_true(enforcer_exclusive(e));	/* owner flag: nobody else can change it */

	/* flush through the interface, and the kernel agrees */
	a->n = 0;
	submit(e, ENFORCER_BATCH, 8, add, 3);
	submit(e, ENFORCER_FLUSH, 9, NULL, 0);
	submit(e, ENFORCER_READ, 10, NULL, 0);
	assert_int_equal(enforcer_dispatch(e, &sink), 0);
	assert_int_equal(a->n, 3);
	assert_int_equal(a->d[1].err, 0);
	assert_int_equal(a->entries[2], 0);
	assert_int_equal(sh("nft list set inet dyper_site pinholes4_any | grep -q elements"), 1);
	enforcer_free(e);
	free(a);
	free(add);
	free(bad);
	free(del);
}

/* The READ entries carry the delegate: the engine can re-adopt them. */
static void site_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	struct seen *s = arg;

	collect(pe, s);
}

static void site_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	assert_int_equal(d->err, 0);
}

static void test_router_read_delegates(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	struct enforcer_sink sink = { site_entry, site_done, &s };
	struct pinhole_op *add = site_ops(8, PINHOLE_ADD, 40);
	struct enforcer *e;

	router_config(f);
	open_setup(f);
	assert_int_equal(nft_enforcer_commit(f->e, add, 8), 0);
	assert_int_equal(nft_router_new(&e, f->e, 0), 0);
	f->e = NULL;
	submit(e, ENFORCER_READ, 1, NULL, 0);
	assert_int_equal(enforcer_dispatch(e, &sink), 0);
	assert_int_equal(s.n, 8);
	for (size_t i = 0; i < s.n; i++) {
		size_t j;

		assert_true(s.v[i].owner_known);
		for (j = 0; j < 8 && !pinhole_same_key(&s.v[i].ph, &add[j].ph); j++)
			;
		assert_true(j < 8);
		assert_string_equal(s.v[i].ph.owner.delegate, add[j].ph.owner.delegate);
		assert_int_equal(s.v[i].ph.owner.created, add[j].ph.owner.created);
	}
	enforcer_free(e);
	free(s.v);
	free(add);
}

static void test_router_tampering(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;
	static const char *const tamper[] = {
		"nft insert rule inet dyper_site forward tcp dport 23 accept",
		"nft delete rule inet dyper_site forward handle $(nft -a list chain inet dyper_site "
			"forward | grep 'iifname @inside' | sed 's/.*handle //')",
		"nft add element inet dyper_site inside '{ \"ext0\" }'",
		"nft delete element inet dyper_site open4 '{ 198.51.100.10 . tcp . 22 }'",
		"nft add element inet dyper_site open6 '{ 2001:db8:2::11 . tcp . 22 }'",
		"nft chain inet dyper_site forward '{ policy accept; }'",
		"nft flush chain inet dyper_site forward",
		"nft delete element inet dyper_site icmpv6_ok '{ packet-too-big }'",
		"nft delete table inet dyper_site",
	};

	router_config(f);
	f->cfg.owner = NFT_OWNER_OFF;	/* so that the nft command can tamper */
	e = open_setup(f);
	assert_tampering_detected(e, tamper, sizeof(tamper) / sizeof(tamper[0]));
}

/* Mark mode: no policy of its own, only marks; its check holds too. */
static void test_router_mark_mode(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer *e;
	char *out;

	router_config(f);
	f->cfg.mode = NFT_MODE_ROUTER_MARK;
	f->cfg.mark = 0x100;
	f->cfg.priority = -10;		/* before the site's own filter chain */
	f->cfg.owner = NFT_OWNER_OFF;
	e = open_setup(f);
	assert_intact(e, true);
	out = nft_list("chain inet dyper_site forward");
	assert_non_null(strstr(out, "hook forward priority filter - 10; policy accept;"));
	assert_non_null(strstr(out, "@pinholes4_any meta mark set meta mark | 0x00000100 accept"));
	assert_null(strstr(out, "drop"));
	assert_null(strstr(out, "iifname"));
	free(out);
	assert_int_equal(sh("nft chain inet dyper_site forward '{ policy drop; }'"), 0);
	assert_intact(e, false);
	assert_non_null(strstr(nft_enforcer_error(e), "chain forward"));
}

/* A table made for one hook is not converged into the other's. */
static void test_router_host_tables_apart(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer_config host;
	struct nft_enforcer *h = NULL;

	router_config(f);
	f->cfg.table = "dyper";
	f->cfg.owner = NFT_OWNER_OFF;
	nft_enforcer_config_init(&host);
	host.owner = NFT_OWNER_OFF;
	assert_int_equal(nft_enforcer_open(&h, &host), 0);
	assert_int_equal(nft_enforcer_setup(h), 0);
	assert_int_equal(nft_enforcer_open(&f->e, &f->cfg), 0);
	assert_int_equal(nft_enforcer_setup(f->e), -EEXIST);
	assert_non_null(strstr(nft_enforcer_error(f->e), "made for a host"));
	assert_int_equal(sh("nft list chains | grep -q 'hook forward'"), 1);
	/* and the reverse */
	assert_int_equal(nft_enforcer_destroy(h), 0);
	assert_int_equal(nft_enforcer_setup(f->e), 0);
	assert_int_equal(nft_enforcer_setup(h), -EEXIST);
	assert_non_null(strstr(nft_enforcer_error(h), "made for a router"));
	assert_int_equal(sh("nft list chains | grep -q 'hook input'"), 1);
	nft_enforcer_free(h);
}

static void test_router_bad_config(void **state)
{
	struct fixture *f = *state;
	struct nft_enforcer_config c;
	struct nft_enforcer *e = NULL;

	router_config(f);
	c = f->cfg;
	c.n_inside = 0;
	assert_int_equal(nft_enforcer_open(&e, &c), -EINVAL);
	assert_non_null(strstr(nft_enforcer_error(e), "inside interfaces"));
	nft_enforcer_free(e);
	c = f->cfg;
	c.tcp_ports[0] = 22;
	c.n_tcp_ports = 1;
	assert_int_equal(nft_enforcer_open(&e, &c), -EINVAL);
	assert_non_null(strstr(nft_enforcer_error(e), "open ports"));
	nft_enforcer_free(e);
	c = f->cfg;
	c.mode = NFT_MODE_ROUTER_MARK;
	assert_int_equal(nft_enforcer_open(&e, &c), -EINVAL);
	assert_non_null(strstr(nft_enforcer_error(e), "needs a mark"));
	nft_enforcer_free(e);
	c = f->cfg;
	memset(c.inside[1], 'x', sizeof(c.inside[1]));	/* unterminated */
	assert_int_equal(nft_enforcer_open(&e, &c), -EINVAL);
	nft_enforcer_free(e);
	c = f->cfg;
	strcpy(c.inside[1], "eth*");
	assert_int_equal(nft_enforcer_open(&e, &c), -EINVAL);
	nft_enforcer_free(e);
	c = f->cfg;
	c.open[1].port = 0;
	assert_int_equal(nft_enforcer_open(&e, &c), -EINVAL);
	assert_non_null(strstr(nft_enforcer_error(e), "open port"));
	nft_enforcer_free(e);
	c = f->cfg;
	c.mode = NFT_MODE_HOST;		/* a host has no inside */
	assert_int_equal(nft_enforcer_open(&e, &c), -EINVAL);
	nft_enforcer_free(e);
	assert_int_equal(sh("nft list tables | grep -q ."), 1);	/* nothing was made */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, new_netns, free_fixture)
	const struct CMUnitTest tests[] = {
		T(test_setup_layout),
		T(test_add_one),
		T(test_add_10000_dump_delete),
		T(test_converge),
		T(test_bad_batch_changes_nothing),
		T(test_invalid_refused_before_kernel),
		T(test_capacity),
		T(test_owner_excludes_others),
		T(test_owner_off),
		T(test_foreign_table_refused),
		T(test_generation_foreign_change),
		T(test_check_detects_tampering),
		T(test_timeout_expires),
		T(test_flush_and_destroy),
		T(test_bad_config),
		T(test_local_interface),
		T(test_router_layout),
		T(test_router_delegates),
		T(test_router_interface),
		T(test_router_read_delegates),
		T(test_router_tampering),
		T(test_router_mark_mode),
		T(test_router_host_tables_apart),
		T(test_router_bad_config),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_enforcer: needs root (network namespaces, nftables)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("nft-kernel", tests, NULL, NULL);
}
