// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nft_bench: how fast the nft/ enforcer opens and closes pinholes, and the
 * same updates through the nft command for comparison.  It changes the
 * firewall of the network namespace it runs in: run it only through
 * tests/run-bench.sh, which gives it a fresh one (unshare -n).
 *
 *   1. pinholes added / deleted per second, one commit per batch of
 *      1 .. 10000, median of REPS repetitions;
 *   2. add+ACK latency of a single pinhole with 0, 100k and 1M present;
 *   3. baseline: one nft process per update, and nft -f per batch;
 * then the targets of the issue, PASS or FAIL.  Exits 0 unless something
 * failed (a target missed is not a failure of the benchmark).
 *
 * Every loop is bounded in count, and each phase in time: a phase that
 * runs out of time stops, says so, and reports what it measured.
 * Addresses are documentation ones only (198.51.100.0/24, 203.0.113.0/24).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <arpa/inet.h>

#include "nft/enforcer.h"
#include "tests/bench/util/bench.h"

#define REPS			5		/* repetitions per throughput point */
#define MAX_PINHOLES		2000000u	/* per set, so that 1M fits */
#define FILL_BATCH		10000
#define LAT_SAMPLES		5000		/* per point, after the warm-up */
#define LAT_WARMUP		200
#define LAT_SETTLE_MS		1000		/* idle before each latency point */
#define NFT_PROC_UPDATES	50		/* per repetition: REPS x 50 = 250 */

/* Time budgets per phase, in seconds; together well under run-bench.sh's. */
#define T_THROUGHPUT		20		/* per batch size */
#define T_FILL			60		/* 0 -> 1M */
#define T_LATENCY		15		/* per point */
#define T_NFT			30		/* per baseline row */

/* Index spaces, so that the phases never build the same key twice. */
#define IDX_LAT			(1u << 24)
#define IDX_NFT			(2u << 24)

static const size_t batch_sizes[] = { 1, 10, 100, 1000, 10000 };
#define N_SIZES			(sizeof(batch_sizes) / sizeof(batch_sizes[0]))

static const size_t fill_points[] = { 0, 100000, 1000000 };
#define N_POINTS		(sizeof(fill_points) / sizeof(fill_points[0]))

static uint64_t bench_start;		/* owner.created of every pinhole */

/*
 * Pinhole number @i, distinct for every i below 256 * 65535 * 254: remote
 * 198.51.100.(i & 255); the rest of i picks a port (the remote port of an
 * exact pinhole, the local port of an any-port one) and 203.0.113.x.
 */
static void bench_pinhole(uint32_t i, bool any, struct pinhole *ph)
{
	uint32_t rest = i >> 8;
	uint16_t port = (uint16_t)(rest % 65535 + 1);

	memset(ph, 0, sizeof(*ph));
	ph->family = AF_INET;
	ph->proto = IPPROTO_TCP;
	ph->remote.v4.s_addr = htonl(0xc6336400u | (i & 0xff));
	ph->local.v4.s_addr = htonl(0xcb007100u | (1 + rest / 65535));
	ph->remote_port = any ? 0 : port;
	ph->local_port = any ? port : 40000;
	ph->owner.uid = 1000;
	ph->owner.pid = 4242;
	ph->owner.sock_ino = (uint64_t)i + 1;
	ph->owner.created = bench_start;
	snprintf(ph->owner.program, sizeof(ph->owner.program), "nft_bench");
}

/* Throughput ops: half exact, half any remote port, the same at every size. */
static void mixed_ops(struct pinhole_op *ops, size_t n, uint32_t base)
{
	for (size_t i = 0; i < n; i++) {
		ops[i].type = PINHOLE_ADD;
		bench_pinhole(base + (uint32_t)i, i & 1, &ops[i].ph);
	}
}

static void set_type(struct pinhole_op *ops, size_t n, enum pinhole_op_type t)
{
	for (size_t i = 0; i < n; i++)
		ops[i].type = t;
}

static int report(struct nft_enforcer *e, const char *what, int err)
{
	fprintf(stderr, "nft_bench: %s: %s (%s)\n", what, nft_enforcer_error(e),
		strerror(-err));
	return err;
}

/*
 * Commits @ops in batches of @batch until all are done or @limit_ns has
 * passed; *@done is how many took effect, *@ns the time spent in commits.
 */
static int commit_batches(struct nft_enforcer *e, struct pinhole_op *ops, size_t n,
			  size_t batch, uint64_t limit_ns, size_t *done, uint64_t *ns)
{
	uint64_t start = bench_now_ns(), t = start;
	int err;

	*done = 0;
	while (*done < n && t - start < limit_ns) {
		size_t k = n - *done < batch ? n - *done : batch;

		err = nft_enforcer_commit(e, ops + *done, k);
		t = bench_now_ns();
		if (err)
			return err;
		*done += k;
	}
	*ns = t - start;
	return 0;
}

/* --- 1. throughput ------------------------------------------------------- */

struct tp_result {
	size_t batch, ops;		/* ops per repetition */
	int reps;			/* repetitions that ran in full */
	double add, del;		/* median pinholes per second */
	double add_lo, add_hi;		/* fastest and slowest repetition */
};

static size_t tp_ops(size_t batch)
{
	/* ~100k adds per size (20k x REPS); batch 1 costs a syscall each */
	return batch == 1 ? 2000 : 20000;
}

static int bench_throughput(struct nft_enforcer *e, struct tp_result *res)
{
	struct pinhole_op *ops = calloc(tp_ops(10000), sizeof(*ops));
	int err = 0;

	if (!ops)
		return -ENOMEM;
	printf("\n1. Throughput, library: one nft_enforcer_commit() per batch, IPv4,\n"
	       "   half exact / half any remote port; median of %d repetitions\n"
	       "   (each adds N new pinholes to an empty set, then deletes them)\n\n",
	       REPS);
	printf("   %6s %7s %14s %14s %10s %10s   %s\n", "batch", "N", "added/s",
	       "deleted/s", "us/add", "us/del", "added/s min..max");
	for (size_t s = 0; s < N_SIZES; s++) {
		struct tp_result *r = &res[s];
		double add[REPS], del[REPS];
		uint64_t deadline = bench_now_ns() + T_THROUGHPUT * NS;
		char a[32], d[32], lo[32], hi[32];

		memset(r, 0, sizeof(*r));
		r->batch = batch_sizes[s];
		r->ops = tp_ops(r->batch);
		mixed_ops(ops, r->ops, 0);
		/* rep -1 warms up: buffers grown, caches and kernel slabs filled */
		for (int rep = -1; rep < REPS; rep++) {
			uint64_t left = bench_now_ns() < deadline ? deadline - bench_now_ns() : 0;
			uint64_t t_add, t_del;
			size_t added, deleted;

			if (!left)
				break;
			set_type(ops, r->ops, PINHOLE_ADD);
			err = commit_batches(e, ops, r->ops, r->batch, left, &added, &t_add);
			if (err) {
				report(e, "throughput add", err);
				goto out;
			}
			/* delete what was added, whatever the time */
			set_type(ops, added, PINHOLE_DEL);
			err = commit_batches(e, ops, added, r->batch, UINT64_MAX, &deleted, &t_del);
			if (err) {
				report(e, "throughput delete", err);
				goto out;
			}
			if (added < r->ops) {
				printf("   batch %zu: out of time after %zu of %zu adds\n",
				       r->batch, added, r->ops);
				break;
			}
			if (rep < 0)
				continue;
			add[r->reps] = (double)added * NS / (double)t_add;
			del[r->reps] = (double)deleted * NS / (double)t_del;
			r->reps++;
		}
		r->add = bench_median(add, (size_t)r->reps);
		r->del = bench_median(del, (size_t)r->reps);
		if (r->reps) {
			r->add_lo = add[0];
			r->add_hi = add[r->reps - 1];
		}
		printf("   %6zu %7zu %14s %14s %10.2f %10.2f   %s..%s%s\n", r->batch, r->ops,
		       bench_grouped(r->add, a, sizeof(a)), bench_grouped(r->del, d, sizeof(d)),
		       1e6 / r->add, 1e6 / r->del, bench_grouped(r->add_lo, lo, sizeof(lo)),
		       bench_grouped(r->add_hi, hi, sizeof(hi)),
		       r->reps < REPS ? "  (fewer repetitions: out of time)" : "");
		fflush(stdout);
	}
out:
	free(ops);
	return err;
}

/* --- 2. latency at size -------------------------------------------------- */

struct lat_result {
	size_t present;
	size_t samples;
	double add_p50, add_p90, add_p99, add_max;
	double del_p50, del_p99;
};

/* Adds exact pinholes [*@have, @want) in batches of FILL_BATCH. */
static int fill(struct nft_enforcer *e, struct pinhole_op *ops, size_t *have, size_t want,
		uint64_t deadline, uint64_t *ns)
{
	uint64_t start = bench_now_ns();
	int err = 0;

	while (*have < want && bench_now_ns() < deadline) {
		size_t k = want - *have < FILL_BATCH ? want - *have : FILL_BATCH;

		for (size_t i = 0; i < k; i++) {
			ops[i].type = PINHOLE_ADD;
			bench_pinhole((uint32_t)(*have + i), false, &ops[i].ph);
		}
		err = nft_enforcer_commit(e, ops, k);
		if (err)
			break;
		*have += k;
	}
	*ns += bench_now_ns() - start;
	return err;
}

/* One pinhole added then deleted, LAT_SAMPLES times, each commit timed. */
static int sample_latency(struct nft_enforcer *e, uint64_t *add_ns, uint64_t *del_ns,
			  size_t *n)
{
	uint64_t deadline = bench_now_ns() + T_LATENCY * NS;
	struct pinhole_op op;
	int err;

	*n = 0;
	for (uint32_t s = 0; s < LAT_WARMUP + LAT_SAMPLES && bench_now_ns() < deadline; s++) {
		uint64_t t0, t1, t2, t3;

		memset(&op, 0, sizeof(op));
		op.type = PINHOLE_ADD;
		bench_pinhole(IDX_LAT + s, false, &op.ph);
		t0 = bench_now_ns();
		err = nft_enforcer_commit(e, &op, 1);
		t1 = bench_now_ns();
		if (err)
			return report(e, "latency add", err);
		op.type = PINHOLE_DEL;
		t2 = bench_now_ns();
		err = nft_enforcer_commit(e, &op, 1);
		t3 = bench_now_ns();
		if (err)
			return report(e, "latency delete", err);
		if (s < LAT_WARMUP)
			continue;
		add_ns[*n] = t1 - t0;
		del_ns[*n] = t3 - t2;
		(*n)++;
	}
	return 0;
}

/* Samples the latency with @present pinholes in the set, prints a row. */
static int latency_point(struct nft_enforcer *e, uint64_t *add_ns, uint64_t *del_ns,
			 size_t present, const char *note, struct lat_result *r)
{
	int err;

	/*
	 * Steady state: let the kernel's deferred work (freeing deleted
	 * elements, growing or shrinking the hash table) finish first.
	 */
	usleep(LAT_SETTLE_MS * 1000);
	memset(r, 0, sizeof(*r));
	r->present = present;
	err = sample_latency(e, add_ns, del_ns, &r->samples);
	if (err)
		return err;
	bench_sort_u64(add_ns, r->samples);
	bench_sort_u64(del_ns, r->samples);
	r->add_p50 = bench_pct_us(add_ns, r->samples, 50);
	r->add_p90 = bench_pct_us(add_ns, r->samples, 90);
	r->add_p99 = bench_pct_us(add_ns, r->samples, 99);
	r->add_max = bench_pct_us(add_ns, r->samples, 100);
	r->del_p50 = bench_pct_us(del_ns, r->samples, 50);
	r->del_p99 = bench_pct_us(del_ns, r->samples, 99);
	printf("   %8zu %7zu %6.1f us %6.1f us %6.1f us %6.0f us %6.1f us %6.1f us%s%s\n",
	       r->present, r->samples, r->add_p50, r->add_p90, r->add_p99, r->add_max,
	       r->del_p50, r->del_p99, note,
	       r->samples < LAT_SAMPLES ? "  (out of time)" : "");
	return 0;
}

static int bench_latency(struct nft_enforcer *e, struct lat_result *res)
{
	struct pinhole_op *ops = calloc(FILL_BATCH, sizeof(*ops));
	uint64_t *add_ns = calloc(LAT_SAMPLES, sizeof(*add_ns));
	uint64_t *del_ns = calloc(LAT_SAMPLES, sizeof(*del_ns));
	uint64_t deadline = bench_now_ns() + T_FILL * NS, fill_ns = 0, t;
	struct lat_result again;
	size_t have = 0;
	char a[32], b[32];
	int err = -ENOMEM;

	if (!ops || !add_ns || !del_ns)
		goto out;
	printf("\n2. Latency of one nft_enforcer_commit() of 1 pinhole (send + ACK),\n"
	       "   exact pinholes in set pinholes4, fill in batches of %d;\n"
	       "   each point after %d ms idle: %d samples after %d warm-up,\n"
	       "   add and delete timed apart\n\n",
	       FILL_BATCH, LAT_SETTLE_MS, LAT_SAMPLES, LAT_WARMUP);
	printf("   %8s %7s %9s %9s %9s %9s %9s %9s\n", "present", "samples", "add p50",
	       "add p90", "add p99", "add max", "del p50", "del p99");
	for (size_t p = 0; p < N_POINTS; p++) {
		err = fill(e, ops, &have, fill_points[p], deadline, &fill_ns);
		if (err) {
			report(e, "fill", err);
			goto out;
		}
		if (have < fill_points[p])
			printf("   out of time filling: %zu of %zu pinholes present\n", have,
			       fill_points[p]);
		err = latency_point(e, add_ns, del_ns, have, "", &res[p]);
		if (err)
			goto out;
	}
	t = bench_now_ns();
	err = nft_enforcer_flush(e);
	if (err) {
		report(e, "flush", err);
		goto out;
	}
	t = bench_now_ns() - t;
	/* the empty set again: shows how much of a difference is noise */
	err = latency_point(e, add_ns, del_ns, 0, "  (after the flush)", &again);
	if (err)
		goto out;
	printf("\n   fill: %s pinholes in %.2f s (%s added/s); flush of all of them: %.1f ms\n",
	       bench_grouped((double)have, a, sizeof(a)), (double)fill_ns / NS,
	       bench_grouped(fill_ns ? (double)have * NS / (double)fill_ns : 0, b, sizeof(b)),
	       (double)t / 1e6);
out:
	free(ops);
	free(add_ns);
	free(del_ns);
	return err;
}

/* --- 3. the nft command -------------------------------------------------- */

extern char **environ;

/* Runs nft with @args (stdout discarded); 0, or -errno / -ECHILD on failure. */
static int run_nft(const char *const *args)
{
	char *argv[8] = { (char *)bench_nft_cmd() };
	pid_t pid;
	int err, n = 1;

	for (; args[n - 1] && n < 7; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	err = bench_spawn(&pid, argv[0], argv, environ, true);
	return err ? err : bench_wait(pid);
}

/* "198.51.100.7 . tcp . 203.0.113.2 . 4711 comment \"uid ...\"" */
static int nft_elem(uint32_t i, char *buf, size_t len)
{
	char r[INET_ADDRSTRLEN], l[INET_ADDRSTRLEN], comment[128];
	struct pinhole ph;
	int n;

	bench_pinhole(i, true, &ph);
	inet_ntop(AF_INET, &ph.remote.v4, r, sizeof(r));
	inet_ntop(AF_INET, &ph.local.v4, l, sizeof(l));
	/* the same comment the library writes, for the same work */
	if (pinhole_owner_format(&ph.owner, comment, sizeof(comment)) < 0)
		return -ENOSPC;
	n = snprintf(buf, len, "%s . tcp . %s . %u comment \"%s\"", r, l, ph.local_port,
		     comment);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

struct nft_result {
	bool available;
	double proc_us;		/* per update, one nft process each (median) */
	size_t proc_updates;
	double file_rate[2];	/* pinholes/s through nft -f, batch 1000 and 10000 */
};

static const size_t nft_file_sizes[2] = { 1000, 10000 };

/* Writes one `add element` file of @n pinholes from @base; 0 or -errno. */
static int write_nft_file(const char *path, const char *table, uint32_t base, size_t n)
{
	char elem[256];
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	fprintf(f, "add element inet %s pinholes4_any {\n", table);
	for (size_t i = 0; i < n && !err; i++) {
		err = nft_elem(base + (uint32_t)i, elem, sizeof(elem));
		fprintf(f, "\t%s%s\n", elem, i + 1 < n ? "," : "");
	}
	fprintf(f, "}\n");
	if (ferror(f) && !err)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static int bench_nft(struct nft_enforcer *e, const char *table, struct nft_result *res)
{
	const char *version[] = { "--version", NULL };
	char path[] = "/tmp/nft_bench.XXXXXX", elem[256], a[32];
	double per[REPS];
	int fd, reps = 0, err;

	memset(res, 0, sizeof(*res));
	printf("\n3. Baseline: the same updates through the nft command (%s)\n", bench_nft_cmd());
	if (run_nft(version)) {
		printf("   nft is not installed or does not run (set NFT=path): baseline skipped\n");
		return 0;
	}
	res->available = true;
	printf("   (pinholes4_any elements with the library's comment; set flushed\n"
	       "    between repetitions, untimed; median of %d repetitions)\n\n", REPS);

	/* (a) one process per update */
	for (int rep = 0; rep < REPS; rep++) {
		uint64_t deadline = bench_now_ns() + T_NFT * NS / REPS, t0 = bench_now_ns();
		size_t k = 0;

		for (; k < NFT_PROC_UPDATES && bench_now_ns() < deadline; k++) {
			char cmd[512];
			const char *args[] = { cmd, NULL };

			err = nft_elem(IDX_NFT + (uint32_t)(rep * NFT_PROC_UPDATES + k),
				       elem, sizeof(elem));
			if (!err && snprintf(cmd, sizeof(cmd), "add element inet %s "
					     "pinholes4_any { %s }", table, elem) >= (int)sizeof(cmd))
				err = -ENOSPC;
			if (!err)
				err = run_nft(args);
			if (err) {
				fprintf(stderr, "nft_bench: nft %s: %s\n", cmd, strerror(-err));
				return err;
			}
		}
		per[reps++] = (double)(bench_now_ns() - t0) / 1000.0 / (double)k;
		res->proc_updates += k;
		err = nft_enforcer_flush(e);
		if (err)
			return report(e, "flush", err);
		if (k < NFT_PROC_UPDATES)
			break;
	}
	res->proc_us = bench_median(per, (size_t)reps);
	printf("   %-34s %8s %12s %14s\n", "method", "updates", "us/update", "updates/s");
	printf("   %-34s %8zu %12.1f %14s\n", "nft add element, 1 process each",
	       res->proc_updates, res->proc_us, bench_grouped(1e6 / res->proc_us, a, sizeof(a)));

	/* (b) one nft -f per batch */
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	close(fd);
	for (size_t s = 0; s < 2; s++) {
		const char *args[] = { "-f", path, NULL };
		uint64_t deadline = bench_now_ns() + T_NFT * NS;
		double rate[REPS];
		char label[64];

		reps = 0;
		for (int rep = 0; rep < REPS && bench_now_ns() < deadline; rep++) {
			uint64_t t0;

			err = write_nft_file(path, table, IDX_NFT, nft_file_sizes[s]);
			if (err) {
				fprintf(stderr, "nft_bench: writing %s: %s\n", path, strerror(-err));
				goto out;
			}
			t0 = bench_now_ns();
			err = run_nft(args);
			if (err) {
				fprintf(stderr, "nft_bench: nft -f of %zu elements failed\n",
					nft_file_sizes[s]);
				goto out;
			}
			rate[reps++] = (double)nft_file_sizes[s] * NS /
				       (double)(bench_now_ns() - t0);
			err = nft_enforcer_flush(e);
			if (err) {
				report(e, "flush", err);
				goto out;
			}
		}
		res->file_rate[s] = bench_median(rate, (size_t)reps);
		snprintf(label, sizeof(label), "nft -f, %zu elements per file", nft_file_sizes[s]);
		printf("   %-34s %8zu %12.2f %14s%s\n", label, (size_t)reps * nft_file_sizes[s],
		       1e6 / res->file_rate[s], bench_grouped(res->file_rate[s], a, sizeof(a)),
		       reps < REPS ? "  (out of time)" : "");
		fflush(stdout);
	}
	err = 0;
out:
	unlink(path);
	return err;
}

/* --- targets ------------------------------------------------------------- */

static void print_targets(const struct tp_result *tp, const struct lat_result *lat,
			  const struct nft_result *nr)
{
	const struct lat_result *l0 = &lat[0], *l1m = &lat[N_POINTS - 1];
	bool full = l1m->present >= 1000000;
	char a[32];

	printf("\nTargets\n");
	for (size_t s = 0; s < N_SIZES; s++) {
		if (tp[s].batch < 1000)
			continue;
		bench_target(tp[s].add >= 1e6, "add, batch %5zu: %13s/s  (>= 1,000,000/s)",
			     tp[s].batch, bench_grouped(tp[s].add, a, sizeof(a)));
		bench_target(tp[s].del >= 1e6, "del, batch %5zu: %13s/s  (>= 1,000,000/s)",
			     tp[s].batch, bench_grouped(tp[s].del, a, sizeof(a)));
	}
	bench_target(full && l1m->add_p50 <= 20,
		     "single add p50 with %zu present: %.1f us  (<= 20 us)",
		     l1m->present, l1m->add_p50);
	bench_target(full && l1m->add_p99 <= 100,
		     "single add p99 with %zu present: %.1f us  (<= 100 us)",
		     l1m->present, l1m->add_p99);
	bench_target(full && l1m->add_p50 <= 1.5 * l0->add_p50,
		     "p50 with %zu present / p50 with 0: %.2fx  (<= 1.5x)",
		     l1m->present, l1m->add_p50 / l0->add_p50);
	if (nr->available)
		bench_target(nr->proc_us >= 50 * (1e6 / tp[0].add),
			     "per update, library batch 1 vs one nft process: %.1f us vs %.0f us "
			     "= %.0fx faster  (>= 50x)", 1e6 / tp[0].add, nr->proc_us,
			     nr->proc_us / (1e6 / tp[0].add));
	else
		printf("   [SKIP] library vs one nft process per update: nft not available\n");
	bench_targets_missed();
}

/* --- main ---------------------------------------------------------------- */

static int setup(struct nft_enforcer **e, enum nft_owner_mode owner, bool counters)
{
	struct nft_enforcer_config cfg;
	int err;

	nft_enforcer_config_init(&cfg);
	cfg.max_pinholes = MAX_PINHOLES;
	cfg.owner = owner;
	cfg.counters = counters;
	err = nft_enforcer_open(e, &cfg);
	if (err) {
		fprintf(stderr, "nft_bench: %s\n", nft_enforcer_error(*e));
		return err;
	}
	err = nft_enforcer_setup(*e);
	if (err)
		return report(*e, "setup", err);
	return 0;
}

int main(void)
{
	struct tp_result tp[N_SIZES], tp_nc[N_SIZES];
	struct lat_result lat[N_POINTS];
	struct nft_result nr = { 0 };
	struct nft_enforcer *e = NULL;
	struct utsname u;
	uint64_t t0 = bench_now_ns();
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_start = (uint64_t)time(NULL);
	uname(&u);
	printf("nft_bench: the nft/ enforcer, table inet %s\n", NFT_ENFORCER_TABLE_DEFAULT);
	printf("kernel %s %s, %ld CPUs online, max_pinholes %u per set\n", u.release,
	       u.machine, sysconf(_SC_NPROCESSORS_ONLN), MAX_PINHOLES);

	/* as dyperd runs it: owner flag where the kernel has persist */
	err = setup(&e, NFT_OWNER_AUTO, true);
	if (err)
		goto out;
	printf("table owner flag: %s\n", nft_enforcer_owned(e) ? "yes" : "no");
	err = bench_throughput(e, tp);
	if (err)
		goto out;
	err = bench_latency(e, lat);
	if (err)
		goto out;

	/* The same throughput without per-pinhole counters (counters = no):
	 * the kernel clones the set's counter into per-CPU memory for every
	 * element, which is most of the cost of an add. */
	err = nft_enforcer_destroy(e);
	if (err) {
		report(e, "destroy", err);
		goto out;
	}
	nft_enforcer_free(e);
	e = NULL;
	err = setup(&e, NFT_OWNER_AUTO, false);
	if (err)
		goto out;
	printf("\n1b. The same without per-pinhole counters (counters = no in dyper.conf)");
	err = bench_throughput(e, tp_nc);
	if (err)
		goto out;

	/* nft may not touch an owned table: make it again without the flag */
	err = nft_enforcer_destroy(e);
	if (err) {
		report(e, "destroy", err);
		goto out;
	}
	nft_enforcer_free(e);
	e = NULL;
	err = setup(&e, NFT_OWNER_OFF, true);
	if (err)
		goto out;
	err = bench_nft(e, NFT_ENFORCER_TABLE_DEFAULT, &nr);
	if (err)
		goto out;
	if (nr.available) {
		char a[32];

		for (size_t s = 0; s < 2; s++)
			for (size_t k = 0; k < N_SIZES; k++)
				if (tp[k].batch == nft_file_sizes[s])
					printf("   %-34s %8zu %12.2f %14s  (%.0fx nft -f)\n",
					       tp[k].batch == 1000 ? "library, batch 1000" :
					       "library, batch 10000", tp[k].ops * REPS,
					       1e6 / tp[k].add,
					       bench_grouped(tp[k].add, a, sizeof(a)),
					       tp[k].add / nr.file_rate[s]);
		printf("   %-34s %8zu %12.2f %14s  (%.0fx nft process)\n", "library, batch 1",
		       tp[0].ops * REPS, 1e6 / tp[0].add, bench_grouped(tp[0].add, a, sizeof(a)),
		       nr.proc_us / (1e6 / tp[0].add));
	}
	print_targets(tp, lat, &nr);
	for (size_t k = 0; k < N_SIZES; k++) {
		char a[32];

		if (tp_nc[k].batch >= 1000)
			printf("   [info] counters = no: add, batch %5zu: %s/s (%.1fx the rate with counters)\n",
			       tp_nc[k].batch, bench_grouped(tp_nc[k].add, a, sizeof(a)),
			       tp_nc[k].add / tp[k].add);
	}
	err = nft_enforcer_destroy(e);
	if (err)
		report(e, "destroy", err);
out:
	nft_enforcer_free(e);
	printf("\nnft_bench: %s after %.1f s\n", err ? "FAILED" : "done",
	       (double)(bench_now_ns() - t0) / NS);
	return err ? 1 : 0;
}
