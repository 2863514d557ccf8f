// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * router_bench: how fast a border router's table (nft/ in router mode)
 * takes pinholes through the enforcer interface, the way the site
 * controller drives it: submit one batch, wait for the fd, dispatch, the
 * completion with each op's result.  The rate of the site's enforcer
 * alone, without SSH or the site controller in front (issue 10 section 5
 * measures those on top).  It changes the firewall of the network
 * namespace it runs in: run it only through tests/run-bench.sh, which
 * gives it a fresh one (unshare -n).
 *
 * Pinholes added, then deleted, per second at batch sizes 1, 10, 100, 1000
 * and 10000 (half IPv4, half IPv6; half exact, half any remote port; each
 * owned by one of 16 delegates), median of REPS repetitions after one
 * warm-up, each repetition against an empty table; then the same adds with
 * 100,000 pinholes already held.  Every loop is bounded in count and each
 * batch size in time.  Addresses are documentation ones only.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <arpa/inet.h>

#include "nft/enforcer_if.h"
#include "tests/bench/util/bench.h"

#define REPS		5
#define T_SIZE		20		/* seconds per batch size */
#define PRESENT		100000		/* held during the last row */
#define MAX_PINHOLES	200000u		/* per set */
#define WAIT_MS		10000		/* for one completion */

static const size_t batch_sizes[] = { 1, 10, 100, 1000, 10000 };
#define N_SIZES		(sizeof(batch_sizes) / sizeof(batch_sizes[0]))

static uint64_t bench_start;

/* Pinhole @i, distinct for i below 2^24: remote 203.0.113.x or
 * 2001:db8:ee::x, internal 198.51.100.y or 2001:db8:11::y. */
static void site_pinhole(uint32_t i, struct pinhole *ph)
{
	uint16_t port = (uint16_t)(1024 + (i >> 8) % 60000);

	memset(ph, 0, sizeof(*ph));
	ph->proto = i & 4 ? IPPROTO_UDP : IPPROTO_TCP;
	ph->remote_port = i & 1 ? 40000 : 0;
	ph->local_port = port;
	if (i & 2) {
		ph->family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8:ee::", ph->remote.raw);
		inet_pton(AF_INET6, "2001:db8:11::", ph->local.raw);
		ph->remote.raw[15] = (uint8_t)(i >> 3);
		ph->local.raw[14] = (uint8_t)(i >> 19);
		ph->local.raw[15] = 1;
	} else {
		ph->family = AF_INET;
		ph->remote.v4.s_addr = htonl(0xcb007100u | ((i >> 3) & 0xff));	/* 203.0.113.x */
		ph->local.v4.s_addr = htonl(0xc6336400u | (1 + (i >> 19)));	/* 198.51.100.y */
	}
	snprintf(ph->owner.delegate, sizeof(ph->owner.delegate), "host%u.example", i % 16);
	ph->owner.created = bench_start;
}

struct waiter {
	bool done;
	int err;
	char msg[512];
};

static void on_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
}

static void on_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	struct waiter *w = arg;

	w->done = true;
	w->err = d->err;
	snprintf(w->msg, sizeof(w->msg), "%s", d->msg);
}

/* One job, submitted and waited for as the site controller's loop would. */
static int run_job(struct enforcer *e, enum enforcer_job_type type, struct pinhole_op *ops,
		   size_t n)
{
	struct enforcer_job job = { .type = type, .ops = ops, .n = n };
	struct waiter w = { 0 };
	struct enforcer_sink sink = { on_entry, on_done, &w };
	struct pollfd p = { .fd = enforcer_fd(e), .events = POLLIN };
	int err = enforcer_submit(e, &job);

	if (err)
		return bench_fail("submit: %s", strerror(-err));
	while (!w.done) {
		int r = poll(&p, 1, WAIT_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return bench_fail("no completion within %d ms", WAIT_MS);
		err = enforcer_dispatch(e, &sink);
		if (err)
			return bench_fail("dispatch: %s", strerror(-err));
	}
	if (w.err)
		bench_fail("job failed: %s", w.msg);
	return w.err;
}

static void set_ops(struct pinhole_op *ops, size_t n, uint32_t base, enum pinhole_op_type t)
{
	for (size_t i = 0; i < n; i++) {
		ops[i].type = t;
		ops[i].err = 0;
		site_pinhole(base + (uint32_t)i, &ops[i].ph);
	}
}

/* @n ops in batches of @batch until done or @deadline; *@done applied,
 * *@ns the time they took. */
static int batches(struct enforcer *e, struct pinhole_op *ops, size_t n, size_t batch,
		   uint64_t deadline, size_t *done, uint64_t *ns)
{
	uint64_t t0 = bench_now_ns();
	int err;

	*done = 0;
	while (*done < n && bench_now_ns() < deadline) {
		size_t k = n - *done < batch ? n - *done : batch;

		err = run_job(e, ENFORCER_BATCH, ops + *done, k);
		if (err)
			return err;
		*done += k;
	}
	*ns = bench_now_ns() - t0;
	return 0;
}

static size_t size_ops(size_t batch)
{
	return batch == 1 ? 2000 : batch < 10000 ? 20000 : 50000;
}

/* One row: adds then deletes of size_ops(@batch) pinholes, above @base. */
static int row(struct enforcer *e, struct pinhole_op *ops, size_t batch, uint32_t base,
	       size_t present)
{
	double add[REPS], del[REPS];
	uint64_t deadline = bench_now_ns() + T_SIZE * NS;
	size_t n = size_ops(batch);
	int reps = 0, err;
	char a[32], d[32];

	for (int rep = -1; rep < REPS && bench_now_ns() < deadline; rep++) {
		uint64_t t_add, t_del;
		size_t added, deleted;

		set_ops(ops, n, base, PINHOLE_ADD);
		err = batches(e, ops, n, batch, deadline, &added, &t_add);
		if (err)
			return err;
		set_ops(ops, added, base, PINHOLE_DEL);
		err = batches(e, ops, added, batch, UINT64_MAX, &deleted, &t_del);
		if (err)
			return err;
		if (added < n)
			break;		/* out of time: a partial repetition is not counted */
		if (rep < 0)
			continue;
		add[reps] = (double)added * NS / (double)t_add;
		del[reps] = (double)deleted * NS / (double)t_del;
		reps++;
	}
	printf("   %6zu %8zu %8zu %14s %14s %10.2f%s\n", batch, present, n,
	       bench_grouped(bench_median(add, (size_t)reps), a, sizeof(a)),
	       bench_grouped(bench_median(del, (size_t)reps), d, sizeof(d)),
	       reps ? 1e6 / bench_median(add, (size_t)reps) : 0.0,
	       reps < REPS ? "  (fewer repetitions: out of time)" : "");
	return 0;
}

int main(void)
{
	struct nft_enforcer_config cfg;
	struct nft_enforcer *nft = NULL;
	struct enforcer *e = NULL;
	struct pinhole_op *ops = calloc(PRESENT, sizeof(*ops));
	uint64_t t0 = bench_now_ns();
	struct utsname u;
	int err = -ENOMEM;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!ops)
		goto out;
	err = bench_check_netns();
	if (err)
		goto out;
	bench_start = (uint64_t)time(NULL);
	uname(&u);
	nft_enforcer_config_init_router(&cfg);
	strcpy(cfg.inside[0], "int0");
	cfg.n_inside = 1;
	cfg.max_pinholes = MAX_PINHOLES;
	err = nft_enforcer_open(&nft, &cfg);
	if (err) {
		bench_fail("%s", nft_enforcer_error(nft));
		nft_enforcer_free(nft);
		goto out;
	}
	err = nft_router_new(&e, nft, 0);
	if (err)
		goto out;
	err = run_job(e, ENFORCER_SETUP, NULL, 0);
	if (err)
		goto out;
	printf("router_bench: a border router's table (inet %s, hook forward) through the\n"
	       "enforcer interface: submit, poll the fd, dispatch; kernel %s %s, %ld CPUs\n"
	       "online, owner flag %s.  Pinholes per second, median of %d repetitions\n"
	       "(half IPv4 / half IPv6, half exact / half any remote port, 16 delegates)\n\n",
	       NFT_ENFORCER_TABLE_ROUTER, u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
	       enforcer_exclusive(e) ? "yes" : "no", REPS);
	printf("   %6s %8s %8s %14s %14s %10s\n", "batch", "present", "N", "added/s", "deleted/s",
	       "us/add");
	for (size_t s = 0; s < N_SIZES; s++) {
		err = row(e, ops, batch_sizes[s], 0, 0);
		if (err)
			goto out;
	}
	/* the same with a full table: the hash sets should not care */
	set_ops(ops, PRESENT, 1u << 23, PINHOLE_ADD);
	for (size_t done = 0; done < PRESENT; done += 10000) {
		err = run_job(e, ENFORCER_BATCH, ops + done, 10000);
		if (err)
			goto out;
	}
	for (size_t s = 0; s < N_SIZES - 1; s++) {
		err = row(e, ops, batch_sizes[s], 0, PRESENT);
		if (err)
			goto out;
	}
	err = run_job(e, ENFORCER_FLUSH, NULL, 0);
out:
	enforcer_free(e);
	free(ops);
	printf("\nrouter_bench: %s after %.1f s\n", err ? "FAILED" : "done",
	       (double)(bench_now_ns() - t0) / NS);
	return err ? 1 : 0;
}
