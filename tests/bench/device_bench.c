// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * device_bench: updates per second of each border device driver
 * (remote/device.h: IOS, FTOS, IronWare, JunOS) against its stand-in, tests/fixtures/devsim,
 * slowed down to what the paper measured on the real boxes (ESORICS 2007,
 * section 5.1), and the driver's own CPU time per update.  Run it only
 * through tests/run-bench.sh, which gives it a fresh network namespace
 * (unshare -n): devsim listens on 192.0.2.254 on its lo.
 *
 * The device's cost model (devsim):
 *   IOS (Cisco 6500: 1,220 updates/s at batch 300): every command line
 *     costs CMD_US_IOS; an update is one line.
 *   FTOS (Force10 E600: 445/s at batch 1,000): the same, CMD_US_FTOS.
 *   IronWare (Foundry MLX-4: 1,070/s at batch 5,000): the same,
 *     CMD_US_IRONWARE; each batch also ends with "ip rebind-acl" (one line
 *     per family touched).
 *   JunOS (Juniper MX960: 446/s at batch 4,200): every line costs
 *     CMD_US_JUNOS (an add is 4 lines, a delete 1) and a commit costs
 *     COMMIT_MS_JUNOS (commit check a quarter of it, commit confirmed and
 *     its confirmation one each).
 * For each batch size (1, 10, 100, 1,000, 5,000; the driver's batch size
 * set to it), N adds then N deletes in batches of that size, timed from
 * submit to completion (the session is opened before); every op must
 * succeed; REPS times on one session, the medians printed.  The driver's
 * CPU time is this process's (CLOCK_PROCESS_CPUTIME_ID: its worker thread
 * and the dispatching main thread; devsim is another process, not
 * counted), per update, and as a share of the device's time per update:
 * the wall-clock time per update, the device being the only limit
 * (target: at most 1 %).
 * Usage: device_bench [VENDOR [BATCH]]: one vendor, one batch size.
 * Every loop is bounded in count, each job in time.
 */

#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "remote/device.h"
#include "tests/bench/util/bench.h"

#define DEV_ADDR	"192.0.2.254"
#define CMD_US_IOS	820		/* 1 / 1,220 s */
#define CMD_US_FTOS	2247		/* 1 / 445 s */
#define CMD_US_IRONWARE	935		/* 1 / 1,070 s */
#define CMD_US_JUNOS	400
#define COMMIT_MS_JUNOS	1200
#define WAIT_MS		300000		/* one job */
#define REPS		3		/* of each batch size: the medians */

extern char **environ;

static const size_t batch_sizes[] = { 1, 10, 100, 1000, 5000 };
#define N_SIZES		(sizeof(batch_sizes) / sizeof(batch_sizes[0]))

static char dir[64] = "";
static size_t only_batch;		/* argv[2]: one batch size only */
static volatile pid_t devsim_pid = -1;

struct vendor {
	const char *type;
	uint32_t cmd_us, commit_ms;
	double paper_rate;		/* at the paper's best batch size */
	size_t paper_batch;
	size_t ops[N_SIZES];		/* updates each way per batch size */
};

static const struct vendor vendors[] = {
	{ "ios", CMD_US_IOS, 0, 1220, 300, { 100, 100, 500, 2000, 5000 } },
	{ "ftos", CMD_US_FTOS, 0, 445, 1000, { 40, 50, 200, 1000, 5000 } },
	{ "ironware", CMD_US_IRONWARE, 0, 1070, 5000, { 100, 100, 500, 2000, 5000 } },
	{ "junos", CMD_US_JUNOS, COMMIT_MS_JUNOS, 446, 4200, { 2, 20, 200, 1000, 5000 } },
};

static void cleanup(void)
{
	char cmd[128];

	if (devsim_pid > 0) {
		kill(devsim_pid, SIGTERM);
		bench_wait(devsim_pid);
		devsim_pid = -1;
	}
	if (dir[0] && !getenv("DEVICE_BENCH_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd)) {
		}
	}
}

static void on_signal(int sig)
{
	if (devsim_pid > 0)
		kill(devsim_pid, SIGKILL);
	_exit(128 + sig);
}

struct wait {
	bool done;
	int err;
	size_t failed;
	char msg[CLI_ERROR_LEN];
};

static void on_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
}

static void on_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	struct wait *w = arg;

	w->done = true;
	w->err = d->err;
	snprintf(w->msg, sizeof(w->msg), "%s", d->msg ? d->msg : "");
	for (size_t i = 0; i < d->job->n; i++)
		if (d->job->ops[i].err)
			w->failed++;
}

static int run_job(struct enforcer *e, enum enforcer_job_type type, struct pinhole_op *ops,
		   size_t n)
{
	struct wait w = { 0 };
	struct enforcer_sink sink = { on_entry, on_done, &w };
	struct enforcer_job job = { .type = type, .ops = ops, .n = n };
	struct pollfd p = { .fd = enforcer_fd(e), .events = POLLIN };
	uint64_t end = bench_now_ns() + (uint64_t)WAIT_MS * MS;
	int err = enforcer_submit(e, &job);

	if (err)
		return bench_fail("submit: %s", strerror(-err));
	while (!w.done) {
		if (bench_now_ns() >= end)
			return bench_fail("no completion within %d ms", WAIT_MS);
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -errno;
		err = enforcer_dispatch(e, &sink);
		if (err)
			return bench_fail("dispatch: %s", strerror(-err));
	}
	if (w.err)
		return bench_fail("job failed: %s", w.msg);
	if (w.failed)
		return bench_fail("%zu ops failed", w.failed);
	return 0;
}

static void set_ops(struct pinhole_op *ops, size_t n, enum pinhole_op_type type)
{
	for (size_t i = 0; i < n; i++) {
		struct pinhole *ph = &ops[i].ph;

		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].type = type;
		ph->family = AF_INET;
		ph->proto = i & 1 ? IPPROTO_UDP : IPPROTO_TCP;
		ph->local_port = (uint16_t)(10000 + i);
		inet_pton(AF_INET, "203.0.113.0", ph->remote.raw);
		ph->remote.raw[3] = (uint8_t)(1 + i % 200);
		inet_pton(AF_INET, "198.51.100.7", ph->local.raw);
		snprintf(ph->owner.delegate, sizeof(ph->owner.delegate), "host%zu", i % 16);
	}
}

/* Updates per second: grouped digits, one decimal below 100. */
static const char *rate(double v, char *buf, size_t len)
{
	if (v < 100) {
		snprintf(buf, len, "%.1f", v);
		return buf;
	}
	return bench_grouped(v, buf, len);
}

/* This process's CPU time, all threads, to the nanosecond (getrusage's
 * split into user and system time is sampled at ticks). */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int spawn(const char *const argv[], bool quiet)
{
	pid_t pid;
	int err = bench_spawn(&pid, argv[0], (char *const *)argv, environ, quiet);

	return err ? err : bench_wait(pid);
}

static int start_devsim(const char *devsim, const struct vendor *v)
{
	char us[16], ms[16], ready[96], log[96];
	const char *argv[] = { devsim, "--vendor", v->type, "--listen", DEV_ADDR, "--host-key",
			       NULL, "--user", "dyper", "--authorized-key", NULL, "--acl", "BENCH",
			       "--state", NULL, "--cmd-delay-us", us, "--commit-delay-ms", ms,
			       "--ready", ready, "--log", log, NULL };
	char hk[96], ak[96], st[96];
	pid_t pid;
	int err;

	snprintf(hk, sizeof(hk), "%s/host_key", dir);
	snprintf(ak, sizeof(ak), "%s/client_key.pub", dir);
	snprintf(st, sizeof(st), "%s/%s.state", dir, v->type);
	snprintf(ready, sizeof(ready), "%s/%s.ready", dir, v->type);
	snprintf(log, sizeof(log), "%s/%s.cmds", dir, v->type);
	snprintf(us, sizeof(us), "%u", v->cmd_us);
	snprintf(ms, sizeof(ms), "%u", v->commit_ms);
	argv[6] = hk;
	argv[10] = ak;
	argv[14] = st;
	err = bench_spawn(&pid, devsim, (char *const *)argv, environ, true);
	if (err)
		return bench_fail("starting %s: %s", devsim, strerror(-err));
	devsim_pid = pid;
	for (int i = 0; i < 500 && access(ready, F_OK); i++)
		usleep(10000);
	return access(ready, F_OK) ? bench_fail("devsim %s did not start", v->type) : 0;
}

static int bench_vendor(const struct vendor *v, const char *devsim, struct pinhole_op *ops)
{
	char key[96], kh[96], why[CLI_ERROR_LEN];
	int err = start_devsim(devsim, v);

	if (err)
		return err;
	snprintf(key, sizeof(key), "%s/client_key", dir);
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	printf("\n   %s (devsim: %u us per command line%s%s; paper: %.0f updates/s at batch %zu)\n",
	       v->type, v->cmd_us, v->commit_ms ? ", commit " : "",
	       v->commit_ms ? "1.2 s x 2.25" : "", v->paper_rate, v->paper_batch);
	printf("   %6s %6s %12s %12s %14s %12s\n", "batch", "N", "added/s", "deleted/s",
	       "cpu us/update", "cpu/device");
	for (size_t s = 0; s < N_SIZES; s++) {
		struct remote_device_config cfg = {
			.name = "bench", .type = v->type, .address = DEV_ADDR, .user = "dyper",
			.key_file = key, .known_hosts = kh, .acl = "BENCH",
			.batch_size = batch_sizes[s], .timeout_ms = 120000,
		};
		size_t n = v->ops[s], bs = batch_sizes[s];
		struct enforcer *e;
		uint64_t t0, t_add, t_del;
		double c0, cpu, per, share, add_r[REPS], del_r[REPS], cpu_r[REPS], share_r[REPS];
		char a[32], d[32];

		if (only_batch && bs != only_batch)
			continue;
		err = remote_device_new(&e, &cfg, why);
		if (err)
			return bench_fail("%s", why);
		err = run_job(e, ENFORCER_SETUP, NULL, 0);
		for (size_t r = 0; r < REPS && !err; r++) {
			c0 = cpu_s();
			t0 = bench_now_ns();
			set_ops(ops, n, PINHOLE_ADD);
			for (size_t i = 0; i < n && !err; i += bs)
				err = run_job(e, ENFORCER_BATCH, ops + i, n - i < bs ? n - i : bs);
			t_add = bench_now_ns() - t0;
			t0 = bench_now_ns();
			set_ops(ops, n, PINHOLE_DEL);
			for (size_t i = 0; i < n && !err; i += bs)
				err = run_job(e, ENFORCER_BATCH, ops + i, n - i < bs ? n - i : bs);
			t_del = bench_now_ns() - t0;
			cpu = cpu_s() - c0;
			per = (double)(t_add + t_del) / 1e9 / (double)(2 * n);
			add_r[r] = (double)n * 1e9 / (double)t_add;
			del_r[r] = (double)n * 1e9 / (double)t_del;
			cpu_r[r] = cpu / (double)(2 * n) * 1e6;
			share_r[r] = cpu / (double)(2 * n) / per * 100;
		}
		share = err ? 0 : bench_median(share_r, REPS);
		if (!err)
			printf("   %6zu %6zu %12s %12s %14.1f %11.2f%%\n", bs, n,
			       rate(bench_median(add_r, REPS), a, sizeof(a)),
			       rate(bench_median(del_r, REPS), d, sizeof(d)),
			       bench_median(cpu_r, REPS), share);
		if (!err)
			bench_target(share <= 1.0, "%s batch %zu: the driver's CPU is %.2f%% of the "
				     "device's time (at most 1%%)", v->type, bs, share);
		enforcer_free(e);
		if (err)
			break;
	}
	kill(devsim_pid, SIGTERM);
	bench_wait(devsim_pid);
	devsim_pid = -1;
	return err;
}

int main(int argc, char **argv)
{
	char devsim[4096], self[4096], hk[96], ck[96], kh[128], line[512];
	struct pinhole_op *ops = calloc(5000, sizeof(*ops));
	int err = -ENOMEM;
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2)
		only_batch = strtoul(argv[2], NULL, 10);
	if (!ops)
		goto out;
	err = bench_check_netns();
	if (err)
		goto out;
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(devsim, sizeof(devsim), "%s/../fixtures/devsim", dirname(self));
	if (access(devsim, X_OK)) {
		err = bench_fail("%s: not built (make test-bins)", devsim);
		goto out;
	}
	bench_on_signals(on_signal);
	snprintf(dir, sizeof(dir), "/tmp/device_bench.XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = 0;
		err = -errno;
		goto out;
	}
	err = bench_ip(environ, "link", "set", "lo", "up", NULL) ?:
	      bench_ip(environ, "addr", "add", DEV_ADDR "/32", "dev", "lo", NULL);
	if (err)
		goto out;
	snprintf(hk, sizeof(hk), "%s/host_key", dir);
	snprintf(ck, sizeof(ck), "%s/client_key", dir);
	{
		const char *k1[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk, NULL };
		const char *k2[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ck, NULL };

		err = spawn(k1, true) ?: spawn(k2, true);
		if (err) {
			bench_fail("ssh-keygen failed");
			goto out;
		}
	}
	/* the pinned host key: "ADDR TYPE KEY" */
	snprintf(kh, sizeof(kh), "%s.pub", hk);
	f = fopen(kh, "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		err = -EIO;
		goto out;
	}
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	*strrchr(line, ' ') = 0;	/* the comment */
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	f = fopen(kh, "w");
	if (!f) {
		err = -errno;
		goto out;
	}
	fprintf(f, "%s %s\n", DEV_ADDR, line);
	fclose(f);
	printf("device_bench: the border device drivers against devsim, slowed to the paper's\n"
	       "per-device cost; updates per second at each batch size (the driver's batch\n"
	       "size set to it), N adds then N deletes; the driver's CPU time per update\n"
	       "(this process, all threads) and as a share of the wall-clock time per\n"
	       "update; medians of %d runs\n", REPS);
	for (size_t v = 0; v < sizeof(vendors) / sizeof(vendors[0]); v++) {
		if (argc > 1 && strcmp(argv[1], vendors[v].type))
			continue;	/* only the vendor asked for */
		err = bench_vendor(&vendors[v], devsim, ops);
		if (err)
			goto out;
	}
	bench_targets_missed();
out:
	cleanup();
	free(ops);
	if (err)
		fprintf(stderr, "device_bench: failed: %s\n", strerror(err < 0 ? -err : err));
	return err ? 1 : 0;
}
