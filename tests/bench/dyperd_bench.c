// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyperd_bench: dyperd end to end, through its agent socket, as the agent
 * speaks to it.  It starts its own dyperd (DYPERD, default build/bin/dyperd)
 * with a permissive policy in a temporary directory, and changes the
 * firewall of the network namespace it runs in: run it only through
 * tests/run-bench.sh, which gives it a fresh one (unshare -n).  It refuses
 * to run in the namespace of PID 1.
 *
 *   1. latency of an OPEN (request sent -> reply read) of one client doing
 *      OPEN then CLOSE, with 0 and with 100,000 pinholes present;
 *   2. throughput: opens + closes per second of 1, 16 and 256 clients,
 *      each on its own channel and socket, one request outstanding each
 *      (TP_THREADS threads drive them through epoll);
 *   3. dyperd's resident memory with 0 and with 100,000 pinholes, and
 *      after the socket holding the 100,000 is closed;
 *   4. how long dyperd's loop stands still when another program changes
 *      the ruleset (dyperd then checks its table), and how long one dump
 *      of the pinhole sets takes (what each periodic reconcile reads);
 *   5. how long an agent's open waits while dyperd reloads a policy of
 *      100,000 rules naming users and groups (SIGHUP);
 * then the targets, PASS or FAIL.  Exits 0 unless something failed (a
 * target missed is not a failure of the benchmark).
 *
 * dyperd's configuration: the shipped defaults but for what a benchmark
 * needs (limits and rates raised, on_exit = flush), log_level = notice (at
 * info every grant is a log line; DYPERD_BENCH_LOG_LEVEL overrides it) and
 * reconcile_interval = 1h, so that a periodic reconcile does not land in
 * some measurements and not others: 4. measures its cost apart.  NFT names
 * the nft command 4. uses to change the ruleset.
 *
 * The 100,000 pinholes are held by one socket (local 203.0.113.1:40000),
 * from 198.51.100.x, remote ports 1..: requests pipelined on one channel,
 * the replies matched by id.  The kernel's set is dumped to check that
 * what dyperd said is open is open, and that nothing is left behind.
 * Every loop is bounded in count and each phase in time (a run takes about
 * 30 s; T_TOTAL and the phase budgets bound it).  Addresses are
 * documentation ones only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
 */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "dyperd/proto.h"
#include "nft/enforcer.h"
#include "tests/bench/util/bench.h"

#define PRESENT			100000u		/* pinholes present at the second point */
#define CAPACITY		300000u		/* capacity, max_per_user, max_pinholes */
#define LAT_SAMPLES		3000
#define LAT_WARMUP		200
#define FILL_WINDOW		1000		/* requests in flight while filling */
#define TP_SLICE_MS		3000		/* counted, per client count */
#define TP_WARMUP_MS		300		/* before that, not counted */
#define TP_THREADS		2		/* client threads (epoll, clients shared out) */
#define MAX_CLIENTS		256
#define REPLY_TIMEOUT_MS	5000		/* a reply later than this is an error */
#define SETTLE_MS		500		/* idle before each latency point */

/* Time budgets, in seconds: even all used up, under two and a half minutes. */
#define T_LATENCY		10		/* per point */
#define T_FILL			40
#define T_CLEANUP		20
#define T_TOTAL			150

#define LOCAL_ADDR		"203.0.113.1"
#define FILL_PORT		40000
#define LAT_PORT		40001
#define TP_PORT			41000		/* TP_PORT + client */

static const unsigned tp_clients[] = { 1, 16, 256 };
#define N_TP			(sizeof(tp_clients) / sizeof(tp_clients[0]))

/* Ids by purpose, so that a stray reply is recognised as one. */
#define ID_LAT			0x10000000u
#define ID_FILL			0x20000000u
#define ID_TP			0x40000000u

static uint64_t t_begin;
static struct in_addr local_addr;

/* What the signal handler must undo: kept in plain static storage. */
static struct bench_dyperd dyperd = BENCH_DYPERD_INIT;

static bool out_of_budget(void)
{
	return bench_now_ns() - t_begin > (uint64_t)T_TOTAL * NS;
}

/* --- the namespace, the files, dyperd ------------------------------------ */

extern char **environ;

static const char *log_level(void)
{
	const char *s = getenv("DYPERD_BENCH_LOG_LEVEL");

	return s ? s : "notice";
}

static int write_config(void)
{
	char enforcer[64], limits[160];

	snprintf(enforcer, sizeof(enforcer), "max_pinholes = %u\n", CAPACITY);
	/* every client is one uid's channel: the per-user channel cap (256 by
	 * default) must leave room for MAX_CLIENTS and the latency probes */
	snprintf(limits, sizeof(limits), "capacity = %u\nmax_per_user = %u\nmax_channels_per_user = %u\n",
		 CAPACITY, CAPACITY, 4 * MAX_CLIENTS);
	return bench_dyperd_setup(&dyperd, log_level(), enforcer, limits);
}

static void on_signal(int sig)
{
	bench_dyperd_abort(&dyperd);
	_exit(128 + sig);
}

/* A "Key:   123 kB" line of /proc/PID/status, in KiB; 0 if unknown. */
static unsigned long proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	unsigned long v = 0;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoul(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* CPU time of @pid so far, all threads (schedstat), in ns. */
static uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static uint64_t self_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NS +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
}

/* --- kernel truth ------------------------------------------------------------ */

static int count_cb(const struct pinhole_entry *pe, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

/* Pinholes in dyperd's table in the kernel, or -1. */
static long kernel_pinholes(void)
{
	size_t n = 0;

	return bench_kernel_dump(count_cb, &n) ? -1 : (long)n;
}

/* Waits until the kernel holds @want pinholes; how long it took, or -1. */
static double wait_kernel_count(long want, unsigned secs)
{
	uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)secs * NS;
	long n;

	for (;;) {
		n = kernel_pinholes();
		if (n == want)
			return (double)(bench_now_ns() - t0) / 1e6;
		if (n < 0 || bench_now_ns() > deadline)
			break;
		usleep(20000);
	}
	bench_fail("the kernel holds %ld pinholes, expected %ld", n, want);
	return -1;
}

/* --- the agent protocol ------------------------------------------------------- */

/* Sends a request on channel @ch; an OPEN passes @sock.  0 or -errno. */
static int send_req(int ch, uint16_t type, uint32_t id, const struct dyper_pinhole_req *req,
		    int sock, int flags)
{
	return bench_send_msg(ch, type, id, req, sizeof(*req), type == DYPER_MSG_OPEN ? sock : -1,
			      flags);
}

/* Waits, asleep in poll() as an agent does, up to REPLY_TIMEOUT_MS for
 * the reply to request @id. */
static int wait_reply(int ch, uint32_t id, struct dyper_reply *rep)
{
	struct pollfd pfd = { .fd = ch, .events = POLLIN };
	uint32_t got;
	int err;

	if (poll(&pfd, 1, REPLY_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	err = bench_recv_reply(ch, 0, &got, rep);
	if (!err && got != id)
		err = -EPROTO;
	return err;
}

static const char *req_error(int err, const struct dyper_reply *rep)
{
	static char buf[160];

	if (err)
		snprintf(buf, sizeof(buf), "transport: %s", strerror(-err));
	else
		snprintf(buf, sizeof(buf), "%s: %.*s", strerror(-rep->status),
			 (int)sizeof(rep->reason), rep->reason);
	return buf;
}

/* A client of phases 1, 4 and 5: a channel to dyperd and a socket listening
 * on LAT_PORT.  @what names the phase in a failure's message. */
static int lat_client(const char *what, int *ch, int *sock)
{
	*ch = bench_dyperd_connect(&dyperd);
	*sock = bench_listen_tcp(local_addr.s_addr, LAT_PORT);
	if (*ch < 0 || *sock < 0)
		return bench_fail("%s: cannot connect or bind: %s", what,
				  strerror(-(*ch < 0 ? *ch : *sock)));
	return 0;
}

/* Round @s of such a client: OPEN (passing @sock) then CLOSE the pinhole
 * from 192.0.2.(s & 255), remote port s / 256 + 1 (a new key every time),
 * each waited for.  t[0] is taken before the open, t[1] when its reply is
 * read, t[2] when the close's is. */
static int lat_round(const char *what, int ch, int sock, uint32_t s, uint64_t t[3])
{
	struct dyper_pinhole_req req;
	struct dyper_reply rep;
	int err;

	bench_pinhole_req(&req, htonl(0xc0000200u | (s & 0xff)), (uint16_t)(s / 256 % 65535 + 1),
			  local_addr.s_addr, LAT_PORT);
	t[0] = bench_now_ns();
	err = send_req(ch, DYPER_MSG_OPEN, ID_LAT + 2 * s, &req, sock, 0);
	if (!err)
		err = wait_reply(ch, ID_LAT + 2 * s, &rep);
	t[1] = bench_now_ns();
	if (err || rep.status)
		return bench_fail("%s: open %u: %s", what, s, req_error(err, &rep));
	err = send_req(ch, DYPER_MSG_CLOSE, ID_LAT + 2 * s + 1, &req, -1, 0);
	if (!err)
		err = wait_reply(ch, ID_LAT + 2 * s + 1, &rep);
	t[2] = bench_now_ns();
	if (err || rep.status)
		return bench_fail("%s: close %u: %s", what, s, req_error(err, &rep));
	return 0;
}

/* --- 1. latency ------------------------------------------------------------- */

struct lat_result {
	size_t samples;
	double open_p50, open_p90, open_p99, open_max, close_p50, close_p99;
	double cpu_us;			/* dyperd's CPU per open + close */
};

/* One client: OPEN, then CLOSE, each waited for; timed apart. */
static int bench_latency(struct lat_result *r, uint64_t *open_ns, uint64_t *close_ns)
{
	uint64_t deadline, cpu0;
	int ch, sock, err;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	usleep(SETTLE_MS * 1000);
	err = lat_client("latency", &ch, &sock);
	if (err)
		goto out;
	deadline = bench_now_ns() + (uint64_t)T_LATENCY * NS;
	cpu0 = proc_cpu_ns(dyperd.pid);
	for (uint32_t s = 0; s < LAT_WARMUP + LAT_SAMPLES && bench_now_ns() < deadline; s++) {
		uint64_t t[3];

		err = lat_round("latency", ch, sock, s, t);
		if (err)
			goto out;
		if (s < LAT_WARMUP) {
			cpu0 = proc_cpu_ns(dyperd.pid);
			continue;
		}
		open_ns[n] = t[1] - t[0];
		close_ns[n] = t[2] - t[1];
		n++;
	}
	r->samples = n;
	r->cpu_us = n ? (double)(proc_cpu_ns(dyperd.pid) - cpu0) / 1000.0 / (double)n : NAN;
	bench_sort_u64(open_ns, n);
	bench_sort_u64(close_ns, n);
	r->open_p50 = bench_pct_us(open_ns, n, 50);
	r->open_p90 = bench_pct_us(open_ns, n, 90);
	r->open_p99 = bench_pct_us(open_ns, n, 99);
	r->open_max = bench_pct_us(open_ns, n, 100);
	r->close_p50 = bench_pct_us(close_ns, n, 50);
	r->close_p99 = bench_pct_us(close_ns, n, 99);
out:
	if (ch >= 0)
		close(ch);
	if (sock >= 0)
		close(sock);
	return err;
}

/* --- 2. throughput ---------------------------------------------------------- */

struct client {
	int ch, sock;
	uint16_t port;
	uint32_t iter;
	uint32_t id;			/* of the request outstanding */
	bool opening;			/* it is an OPEN */
	struct dyper_pinhole_req req;
};

struct driver {
	pthread_t th;
	struct client *cl;
	size_t n;
	uint64_t count_from, stop;	/* ops finished in [from, stop) count */
	uint64_t ops;
	int err;
	char why[200];
};

static int client_send(struct client *c, bool open)
{
	uint32_t k = (uint32_t)(c->port - TP_PORT);

	if (open) {
		/* 192.0.2.k, a new remote port each round */
		bench_pinhole_req(&c->req, htonl(0xc0000200u | (k & 0xff)),
				  (uint16_t)(c->iter % 65535 + 1), local_addr.s_addr, c->port);
	}
	c->opening = open;
	c->id = ID_TP | k << 16 | (c->iter & 0x7fff) << 1 | !open;
	return send_req(c->ch, open ? DYPER_MSG_OPEN : DYPER_MSG_CLOSE, c->id, &c->req, c->sock,
			0);
}

/* Drives its clients until @stop; each closes what it opened before it
 * stops.  Replies matched by id: one request outstanding per channel. */
static void *driver_run(void *arg)
{
	struct driver *d = arg;
	struct epoll_event evs[64];
	size_t active = d->n;
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0) {
		d->err = -errno;
		snprintf(d->why, sizeof(d->why), "epoll_create1: %s", strerror(errno));
		return NULL;
	}
	for (size_t i = 0; i < d->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };
		struct client *c = &d->cl[i];

		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->ch, &ev) ||
		    (d->err = client_send(c, true))) {
			d->err = d->err ? d->err : -errno;
			snprintf(d->why, sizeof(d->why), "first request: %s", strerror(-d->err));
			goto out;
		}
	}
	while (active) {
		int n = epoll_wait(epfd, evs, 64, REPLY_TIMEOUT_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			d->err = n ? -errno : -ETIMEDOUT;
			snprintf(d->why, sizeof(d->why), "%zu clients without a reply: %s", active,
				 strerror(-d->err));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			size_t k = (size_t)evs[i].data.u64;
			struct client *c = &d->cl[k];
			struct dyper_reply rep;
			uint32_t id;
			uint64_t t;
			int err = bench_recv_reply(c->ch, MSG_DONTWAIT, &id, &rep);

			if (err == -EAGAIN)
				continue;
			if (!err && id != c->id)
				err = -EPROTO;
			if (err || rep.status) {
				d->err = err ? err : rep.status;
				snprintf(d->why, sizeof(d->why), "client %u, %s: %s",
					 c->port - TP_PORT, c->opening ? "open" : "close",
					 req_error(err, &rep));
				goto out;
			}
			t = bench_now_ns();
			d->ops += t >= d->count_from && t < d->stop;
			if (c->opening) {
				err = client_send(c, false);
			} else if (t < d->stop) {
				c->iter++;
				err = client_send(c, true);
			} else {
				active--;
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->ch, NULL);
			}
			if (err) {
				d->err = err;
				snprintf(d->why, sizeof(d->why), "send: %s", strerror(-err));
				goto out;
			}
		}
	}
out:
	close(epfd);
	return NULL;
}

struct tp_result {
	unsigned clients;
	double ops_per_s;
	double dyperd_cpu;		/* share of one CPU */
	double client_cpu;
};

static int bench_throughput(unsigned nclients, struct tp_result *r)
{
	struct client *cl = calloc(nclients, sizeof(*cl));
	struct driver drv[TP_THREADS];
	unsigned nthreads = nclients < TP_THREADS ? nclients : TP_THREADS, started = 0;
	uint64_t t0, from, stop, cpu0, self0;
	int err = 0;

	memset(r, 0, sizeof(*r));
	memset(drv, 0, sizeof(drv));
	r->clients = nclients;
	if (!cl)
		return bench_fail("out of memory");
	for (unsigned i = 0; i < nclients; i++)
		cl[i].ch = cl[i].sock = -1;
	for (unsigned i = 0; i < nclients; i++) {
		cl[i].port = (uint16_t)(TP_PORT + i);
		cl[i].ch = bench_dyperd_connect(&dyperd);
		cl[i].sock = bench_listen_tcp(local_addr.s_addr, cl[i].port);
		if (cl[i].ch < 0 || cl[i].sock < 0) {
			err = bench_fail("throughput: client %u: cannot connect or bind: %s", i,
					 strerror(-(cl[i].ch < 0 ? cl[i].ch : cl[i].sock)));
			goto out;
		}
	}
	t0 = bench_now_ns();
	from = t0 + TP_WARMUP_MS * MS;
	stop = from + TP_SLICE_MS * MS;
	cpu0 = 0;
	self0 = 0;
	for (unsigned t = 0; t < nthreads; t++) {
		/* clients shared out evenly, contiguous */
		size_t lo = (size_t)nclients * t / nthreads, hi = (size_t)nclients * (t + 1) / nthreads;

		drv[t].cl = cl + lo;
		drv[t].n = hi - lo;
		drv[t].count_from = from;
		drv[t].stop = stop;
	}
	for (unsigned t = 0; t < nthreads; t++) {
		if (pthread_create(&drv[t].th, NULL, driver_run, &drv[t])) {
			err = bench_fail("pthread_create failed");
			break;
		}
		started++;
	}
	/* CPU shares over the counted slice only */
	while (bench_now_ns() < from)
		usleep(1000);
	cpu0 = proc_cpu_ns(dyperd.pid);
	self0 = self_cpu_ns();
	while (bench_now_ns() < stop)
		usleep(1000);
	r->dyperd_cpu = (double)(proc_cpu_ns(dyperd.pid) - cpu0) / (double)(TP_SLICE_MS * MS);
	r->client_cpu = (double)(self_cpu_ns() - self0) / (double)(TP_SLICE_MS * MS);
	for (unsigned t = 0; t < started; t++) {
		pthread_join(drv[t].th, NULL);
		r->ops_per_s += (double)drv[t].ops * 1000.0 / TP_SLICE_MS;
		if (drv[t].err && !err)
			err = bench_fail("throughput, %u clients: %s", nclients, drv[t].why);
	}
out:
	for (unsigned i = 0; i < nclients; i++) {
		if (cl[i].ch >= 0)
			close(cl[i].ch);
		if (cl[i].sock >= 0)
			close(cl[i].sock);
	}
	free(cl);
	return err;
}

/* --- 4. the reconcile's stall ---------------------------------------------------- */

/*
 * Bumps the ruleset generation as another program would (a table made
 * and deleted in one transaction): dyperd's next tamper check (<= 250 ms)
 * sees a foreign change and checks its table (and reconciles too when it
 * does not own the table).  Returns the nft child, or -1.
 */
static pid_t foreign_change(void)
{
	char *argv[] = { (char *)bench_nft_cmd(), "add table inet dyperd_bench_probe; "
			 "delete table inet dyperd_bench_probe", NULL };
	pid_t pid;

	return bench_spawn(&pid, argv[0], argv, environ, true) ? -1 : pid;
}

struct stall_result {
	bool ran;			/* false: nft missing, not measured */
	size_t requests;
	double max_ms;			/* slowest open or close: the stall */
	double after_ms;		/* from the change to the end of the stall */
};

/* One client opening and closing while another program changes the
 * ruleset: the slowest request shows how long dyperd's loop stood still. */
static int bench_stall(struct stall_result *r)
{
	uint64_t t_change = bench_now_ns() + 300 * MS, end = t_change + 2 * NS, t_max = 0;
	uint64_t worst = 0;
	pid_t nft = -1;
	int ch, sock, err;

	memset(r, 0, sizeof(*r));
	err = lat_client("stall", &ch, &sock);
	if (err)
		goto out;
	for (uint32_t s = 0; bench_now_ns() < end && s < 1000000; s++) {
		uint64_t t[3];

		if (nft < 0 && bench_now_ns() >= t_change) {
			t_change = bench_now_ns();
			nft = foreign_change();
			if (nft < 0)
				break;
		}
		err = lat_round("stall", ch, sock, s, t);
		if (err)
			goto out;
		r->requests += 2;
		if (t[1] - t[0] > worst || t[2] - t[1] > worst) {
			worst = t[1] - t[0] > t[2] - t[1] ? t[1] - t[0] : t[2] - t[1];
			t_max = t[2];
		}
		/* seen it: a stall of over 5 ms after the change, and 300 ms since */
		if (nft > 0 && t_max > t_change && worst > 5 * MS &&
		    bench_now_ns() > t_max + 300 * MS)
			break;
	}
	if (nft > 0)
		r->ran = bench_wait(nft) == 0;
	if (!r->ran)
		printf("   %s could not change the ruleset: reconcile stall not measured\n",
		       bench_nft_cmd());
	r->max_ms = (double)worst / 1e6;
	r->after_ms = t_max > t_change ? (double)(t_max - t_change) / 1e6 : NAN;
out:
	if (ch >= 0)
		close(ch);
	if (sock >= 0)
		close(sock);
	return err;
}

/* --- 5. reload ------------------------------------------------------------------ */

#define RELOAD_RULES		100000u
#define RELOAD_WINDOW_S		10		/* the reload must be over by then */

struct reload_result {
	size_t requests;
	double before_p50_ms;		/* open+close before the reload */
	double max_ms;			/* slowest open or close from SIGHUP to its log line */
	double reload_ms;		/* SIGHUP to "reloaded" in dyperd's log */
};

/* Has dyperd logged "reloaded: 100000"? (its log is small: notice level) */
static bool reload_logged(void)
{
	char buf[4096];
	FILE *f = fopen(dyperd.log, "r");
	bool seen = false;

	if (!f)
		return false;
	while (!seen && fgets(buf, sizeof(buf), f))
		seen = strstr(buf, "reloaded: 100000 policy rules") != NULL;
	fclose(f);
	return seen;
}

/*
 * A policy of RELOAD_RULES rules (the first allows everything, the others
 * deny UDP from elsewhere, each naming users and groups: a user database
 * lookup each), reloaded with SIGHUP while one client opens and closes:
 * the slowest request is how long the loop stood still.
 */
static int bench_reload(struct reload_result *r)
{
	uint64_t t_hup = 0, t_done = 0, worst = 0, end, lat[256];
	size_t nlat = 0;
	int ch = -1, sock = -1, err = 0;
	FILE *f;

	memset(r, 0, sizeof(*r));
	/* dyperd (nobody) rereads its files */
	if (chmod(dyperd.dir, 0755) || !(f = fopen(dyperd.policy, "w")))
		return bench_fail("reload: cannot write %s: %s", dyperd.policy, strerror(errno));
	fprintf(f, "allow * * * * * * *\n");
	for (uint32_t i = 1; i < RELOAD_RULES; i++)
		fprintf(f, "deny root,nogroup nobody,root udp 198.51.100.%u * * %u\n", i % 250 + 1,
			i % 60000 + 1);
	if (fclose(f))
		return bench_fail("reload: cannot write %s: %s", dyperd.policy, strerror(errno));
	err = lat_client("reload", &ch, &sock);
	if (err)
		goto out;
	end = bench_now_ns() + (uint64_t)RELOAD_WINDOW_S * NS;
	for (uint32_t s = 0; bench_now_ns() < end && !t_done; s++) {
		uint64_t t[3];

		if (!t_hup && s == 256) {
			t_hup = bench_now_ns();
			kill(dyperd.pid, SIGHUP);
		}
		err = lat_round("reload", ch, sock, s, t);
		if (err)
			goto out;
		r->requests += 2;
		if (!t_hup) {
			lat[nlat++] = t[2] - t[0];
			continue;
		}
		if (t[1] - t[0] > worst)
			worst = t[1] - t[0];
		if (t[2] - t[1] > worst)
			worst = t[2] - t[1];
		if (s % 16 == 0 && reload_logged())
			t_done = bench_now_ns();
	}
	if (!t_done) {
		err = bench_fail("reload: no \"reloaded: 100000\" in %s after %d s", dyperd.log,
				 RELOAD_WINDOW_S);
		goto out;
	}
	bench_sort_u64(lat, nlat);
	r->before_p50_ms = bench_pct_us(lat, nlat, 50) / 1000.0;
	r->max_ms = (double)worst / 1e6;
	r->reload_ms = (double)(t_done - t_hup) / 1e6;
out:
	if (ch >= 0)
		close(ch);
	if (sock >= 0)
		close(sock);
	return err;
}

/* --- filling ------------------------------------------------------------------ */

/* Key @i of the pinholes held by the fill socket: 198.51.100.(i & 255),
 * remote port i / 256 + 1. */
static void fill_req(struct dyper_pinhole_req *req, uint32_t i)
{
	bench_pinhole_req(req, htonl(0xc6336400u | (i & 0xff)), (uint16_t)(i / 256 + 1),
			  local_addr.s_addr, FILL_PORT);
}

/*
 * Opens pinholes 0..@want-1 for @sock, FILL_WINDOW requests in flight on
 * channel @ch, replies matched by id.  *@secs is how long it took.
 */
static int fill(int ch, int sock, uint32_t want, double *secs)
{
	uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)T_FILL * NS;
	uint32_t sent = 0, done = 0;
	int big = 8 << 20;
	uint8_t *got = calloc(want, 1);

	if (!got)
		return bench_fail("out of memory");
	/* requests in flight are charged to our send buffer */
	if (setsockopt(ch, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		setsockopt(ch, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	while (done < want) {
		struct pollfd pfd = { .fd = ch, .events = POLLIN };
		struct dyper_reply rep;
		uint32_t id;
		int err;

		if (bench_now_ns() > deadline) {
			free(got);
			return bench_fail("fill: only %u of %u pinholes open after %d s", done,
					  want, T_FILL);
		}
		/* replies first: dyperd drops those our queue has no room for */
		while ((err = bench_recv_reply(ch, MSG_DONTWAIT, &id, &rep)) == 0) {
			uint32_t i = id - ID_FILL;

			if (id < ID_FILL || i >= sent || got[i]) {
				free(got);
				return bench_fail("fill: unexpected reply id %u", id);
			}
			if (rep.status) {
				free(got);
				return bench_fail("fill: open %u: %s", i, req_error(0, &rep));
			}
			got[i] = 1;
			done++;
		}
		if (err != -EAGAIN) {
			free(got);
			return bench_fail("fill: %s", strerror(-err));
		}
		for (int k = 0; k < 64 && sent < want && sent - done < FILL_WINDOW; k++) {
			struct dyper_pinhole_req req;

			fill_req(&req, sent);
			err = send_req(ch, DYPER_MSG_OPEN, ID_FILL + sent, &req, sock, MSG_DONTWAIT);
			if (err == -EAGAIN)
				break;
			if (err) {
				free(got);
				return bench_fail("fill: send: %s", strerror(-err));
			}
			sent++;
		}
		if (done == want)
			break;
		if (sent < want && sent - done < FILL_WINDOW)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) == 0) {
			free(got);
			return bench_fail("fill: no reply for %d ms with %u requests in flight",
					  REPLY_TIMEOUT_MS, sent - done);
		}
	}
	free(got);
	*secs = (double)(bench_now_ns() - t0) / NS;
	return 0;
}

/* --- report ------------------------------------------------------------------- */

struct point {
	bool ran;
	struct lat_result lat;
	struct tp_result tp[N_TP];
	struct stall_result stall;
	unsigned long rss_kib, hwm_kib;
};

/* A row of two microsecond values, at offset @off of struct point. */
static void row_us(const char *label, const struct point *p, size_t off)
{
	printf("   %-36s", label);
	for (size_t i = 0; i < 2; i++) {
		if (p[i].ran)
			printf(" %14.1f us", *(const double *)((const char *)&p[i] + off));
		else
			printf(" %17s", "-");
	}
	printf("\n");
}

#define LAT(f)		offsetof(struct point, lat.f)

static void print_table(const struct point *p, unsigned long rss_start,
			const unsigned long *after)
{
	char a[32], label[64];

	printf("\n   %-36s %17s %17s\n", "", "0 present", "100,000 present");
	printf("   %-36s %17zu %17zu\n", "latency samples (1 client)", p[0].lat.samples,
	       p[1].lat.samples);
	row_us("open latency p50", p, LAT(open_p50));
	row_us("open latency p90", p, LAT(open_p90));
	row_us("open latency p99", p, LAT(open_p99));
	row_us("open latency max", p, LAT(open_max));
	row_us("close latency p50", p, LAT(close_p50));
	row_us("close latency p99", p, LAT(close_p99));
	row_us("dyperd CPU per open+close", p, LAT(cpu_us));
	for (size_t t = 0; t < N_TP; t++) {
		snprintf(label, sizeof(label), "opens+closes/s, %u client%s", tp_clients[t],
			 tp_clients[t] > 1 ? "s" : "");
		printf("   %-36s", label);
		for (size_t i = 0; i < 2; i++)
			printf(" %17s",
			       p[i].ran ? bench_grouped(p[i].tp[t].ops_per_s, a, sizeof(a)) : "-");
		printf("\n");
		snprintf(label, sizeof(label), "  CPU dyperd / clients, %u", tp_clients[t]);
		printf("   %-36s", label);
		for (size_t i = 0; i < 2; i++) {
			if (p[i].ran)
				printf("   %5.0f%% / %4.0f%%", 100 * p[i].tp[t].dyperd_cpu,
				       100 * p[i].tp[t].client_cpu);
			else
				printf(" %17s", "-");
		}
		printf("\n");
	}
	printf("   %-36s", "loop stall, foreign ruleset change");
	for (size_t i = 0; i < 2; i++) {
		if (p[i].ran && p[i].stall.ran)
			printf(" %14.1f ms", p[i].stall.max_ms);
		else
			printf(" %17s", "-");
	}
	printf("\n");
	printf("   %-36s %13.1f MiB %13.1f MiB   (%.1f MiB just after start)\n",
	       "dyperd VmRSS", p[0].rss_kib / 1024.0, p[1].rss_kib / 1024.0, rss_start / 1024.0);
	printf("   %-36s %13.1f MiB %13.1f MiB\n", "dyperd VmHWM (peak so far)",
	       p[0].hwm_kib / 1024.0, p[1].hwm_kib / 1024.0);
	if (after[0])
		printf("   %-36s %13.1f MiB  (VmHWM %.1f MiB)\n",
		       "dyperd VmRSS, 100,000 closed at once", after[0] / 1024.0, after[1] / 1024.0);
}

static void print_targets(const struct point *p)
{
	const struct point *f = &p[1];
	double tp256 = f->tp[N_TP - 1].ops_per_s;
	char a[32];

	if (p[0].ran && p[0].tp[N_TP - 1].ops_per_s < tp256)
		tp256 = p[0].tp[N_TP - 1].ops_per_s;
	printf("\nTargets (with %u pinholes present)\n", PRESENT);
	bench_target(f->ran && f->lat.open_p50 <= 50, "open p50: %.1f us  (<= 50 us)",
		     f->lat.open_p50);
	bench_target(f->ran && f->lat.open_p99 <= 250, "open p99: %.1f us  (<= 250 us)",
		     f->lat.open_p99);
	bench_target(f->ran && tp256 >= 200000,
		     "256 clients: %s opens+closes/s, the lower of both points  (>= 200,000/s)",
		     bench_grouped(tp256, a, sizeof(a)));
	bench_target(f->ran && f->rss_kib <= 16 * 1024, "dyperd resident: %.1f MiB  (<= 16 MiB)",
		     f->rss_kib / 1024.0);
	bench_targets_missed();
}

/* --- main --------------------------------------------------------------------- */

/* Latency, then throughput at each client count, the reconcile's stall,
 * then memory. */
static int run_point(struct point *p, uint64_t *open_ns, uint64_t *close_ns, size_t present)
{
	int err;

	printf("\n%zu pinholes present:\n", present);
	err = bench_latency(&p->lat, open_ns, close_ns);
	if (err)
		return err;
	printf("   latency: %zu samples, open p50 %.1f us, p99 %.1f us%s\n", p->lat.samples,
	       p->lat.open_p50, p->lat.open_p99,
	       p->lat.samples < LAT_SAMPLES ? "  (out of time)" : "");
	for (size_t t = 0; t < N_TP; t++) {
		char a[32];

		err = bench_throughput(tp_clients[t], &p->tp[t]);
		if (err)
			return err;
		printf("   throughput, %3u clients: %s opens+closes/s (dyperd %.0f%% CPU)\n",
		       tp_clients[t], bench_grouped(p->tp[t].ops_per_s, a, sizeof(a)),
		       100 * p->tp[t].dyperd_cpu);
	}
	err = bench_stall(&p->stall);
	if (err)
		return err;
	if (p->stall.ran)
		printf("   a foreign ruleset change (dyperd checks its table): loop stalled %.1f ms "
		       "(%zu requests)\n", p->stall.max_ms, p->stall.requests);
	/* every client closed what it opened: the kernel must say so too */
	if (wait_kernel_count((long)present, 5) < 0)
		return -1;
	p->rss_kib = proc_status_kib(dyperd.pid, "VmRSS");
	p->hwm_kib = proc_status_kib(dyperd.pid, "VmHWM");
	p->ran = true;
	return 0;
}

int main(void)
{
	const char *bin = getenv("DYPERD") && *getenv("DYPERD") ? getenv("DYPERD") :
			  "build/bin/dyperd";
	struct point pts[2];
	uint64_t *open_ns = calloc(LAT_WARMUP + LAT_SAMPLES, sizeof(uint64_t));
	uint64_t *close_ns = calloc(LAT_WARMUP + LAT_SAMPLES, sizeof(uint64_t));
	unsigned long rss_start = 0;
	struct rlimit rl;
	struct utsname u;
	double fill_s = 0, cleanup_ms = -1, dump_ms = -1;
	unsigned long after[2] = { 0, 0 };	/* VmRSS, VmHWM after the mass close */
	int err = -1, fill_ch = -1, fill_sock = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	t_begin = bench_now_ns();
	memset(pts, 0, sizeof(pts));
	bench_on_signals(on_signal);
	inet_pton(AF_INET, LOCAL_ADDR, &local_addr);
	uname(&u);
	printf("dyperd_bench: %s end to end through its agent socket\n", bin);
	printf("kernel %s %s, %ld CPUs online; client threads %d\n", u.release, u.machine,
	       sysconf(_SC_NPROCESSORS_ONLN), TP_THREADS);

	if (!open_ns || !close_ns || bench_check_netns())
		goto out;
	if (access(bin, X_OK)) {
		bench_fail("%s: %s (build it: make; or set DYPERD)", bin, strerror(errno));
		goto out;
	}
	/* 256 clients hold a channel and a socket each */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * MAX_CLIENTS + 64) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_cur < 4 * MAX_CLIENTS + 64)
			rl.rlim_cur = rl.rlim_max = 4 * MAX_CLIENTS + 64;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			bench_fail("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
			goto out;
		}
	}
	/* a fresh namespace has lo down and no address of ours */
	if (bench_ip(environ, "link", "set", "lo", "up", NULL) ||
	    bench_ip(environ, "addr", "add", LOCAL_ADDR "/32", "dev", "lo", NULL))
		goto out;
	if (write_config() || bench_dyperd_start(&dyperd, bin, environ))
		goto out;
	usleep(200 * 1000);
	rss_start = proc_status_kib(dyperd.pid, "VmRSS");
	printf("dyperd pid %d: policy \"allow * * * * * * *\", capacity %u, rate/burst 1000000, "
	       "log_level %s\n", (int)dyperd.pid, CAPACITY, log_level());

	if (run_point(&pts[0], open_ns, close_ns, 0))
		goto out;

	printf("\nfilling: %u pinholes on one socket, %d requests in flight\n", PRESENT,
	       FILL_WINDOW);
	fill_ch = bench_dyperd_connect(&dyperd);
	fill_sock = bench_listen_tcp(local_addr.s_addr, FILL_PORT);
	if (fill_ch < 0 || fill_sock < 0) {
		bench_fail("fill: cannot connect or bind: %s",
			   strerror(-(fill_ch < 0 ? fill_ch : fill_sock)));
		goto out;
	}
	if (fill(fill_ch, fill_sock, PRESENT, &fill_s))
		goto out;
	if (wait_kernel_count(PRESENT, 5) < 0)
		goto out;
	printf("   %u opens in %.2f s: %.0f opens/s, pipelined; the kernel holds all of them\n",
	       PRESENT, fill_s, PRESENT / fill_s);
	{
		uint64_t t = bench_now_ns();

		if (kernel_pinholes() != PRESENT)
			goto out;
		dump_ms = (double)(bench_now_ns() - t) / 1e6;
		printf("   one dump of the kernel's pinhole sets (as dyperd's reconcile and table "
		       "check read them): %.0f ms\n", dump_ms);
	}
	if (out_of_budget()) {
		bench_fail("out of time (%d s) before the second point", T_TOTAL);
		goto out;
	}
	if (run_point(&pts[1], open_ns, close_ns, PRESENT))
		goto out;

	/* closing the socket closes its pinholes: the kernel tells dyperd */
	close(fill_sock);
	fill_sock = -1;
	cleanup_ms = wait_kernel_count(0, T_CLEANUP);
	if (cleanup_ms < 0)
		goto out;
	after[0] = proc_status_kib(dyperd.pid, "VmRSS");
	after[1] = proc_status_kib(dyperd.pid, "VmHWM");
	printf("\n   closing the socket that held %u pinholes: all gone from the kernel in %.0f ms\n",
	       PRESENT, cleanup_ms);
	{
		struct reload_result rr;

		printf("\nreloading a policy of %u rules naming users and groups (SIGHUP), "
		       "one client opening and closing:\n", RELOAD_RULES);
		if (bench_reload(&rr))
			goto out;
		printf("   open+close p50 before: %.2f ms; slowest open or close during the "
		       "reload: %.1f ms; the reload took %.0f ms (%zu requests)\n",
		       rr.before_p50_ms, rr.max_ms, rr.reload_ms, rr.requests);
	}
	err = 0;
out:
	if (fill_ch >= 0)
		close(fill_ch);
	if (fill_sock >= 0)
		close(fill_sock);
	if (bench_dyperd_stop(&dyperd))
		err = -1;
	if (pts[0].ran) {
		print_table(pts, rss_start, after);
		if (dump_ms >= 0)
			printf("   one dump of the %u pinholes: %.0f ms; dyperd dumps only at start, "
			       "for dyperctl list, and on reconcile when its table is not owned\n",
			       PRESENT, dump_ms);
		print_targets(pts);
	}
	bench_dyperd_remove(&dyperd);
	free(open_ns);
	free(close_ns);
	printf("\ndyperd_bench: %s after %.1f s\n", err ? "FAILED" : "done",
	       (double)(bench_now_ns() - t_begin) / NS);
	return err ? 1 : 0;
}
