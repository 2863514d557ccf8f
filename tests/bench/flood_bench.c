// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flood_bench: what one user's flood of dyperd's agent socket costs dyperd
 * and everyone else (issue 9, items 4 and 5), measured for DYPERD (default
 * build/bin/dyperd) and, if DYPERD_BEFORE names another build (such as the
 * code before the fix), for that one too, side by side.  Each scenario
 * starts a dyperd of its own (tests/bench/util: a temporary directory, user
 * nobody, the shipped defaults but rate and burst, which stay at their
 * defaults 1000 and 2000 here) and changes the firewall of the network
 * namespace it runs in: run it only through tests/run-bench.sh (unshare -n).
 *
 *   flood: FLOODERS channels send HELLO, and one sends OPEN requests the
 *          policy denies, as fast as they can, never reading a reply;
 *   channels: dyperd started with RLIMIT_NOFILE 1024; a user (uid 65534)
 *          opens ATTACK channels and holds them.
 *
 * For each, over MEASURE_S seconds after a second of warm-up: dyperd's CPU
 * (utime + stime from /proc/PID/stat, in % of one core), what it wrote to
 * its log (standard error at log_level notice; lines and bytes) and the
 * "deny" and "suppressed" lines of its JSON event file,
 * and the latency of a legitimate OPEN (a real listening socket passed,
 * answered on its channel) on a channel connected before the flood, every
 * LAT_GAP_MS; in "channels" also whether a new channel gets its HELLO
 * answered within 2 s, once a second.  Every loop is bounded in count and
 * time; a run takes about a minute per dyperd.  Addresses: 203.0.113.1 on
 * lo, 198.51.100.0/24 as peers (documentation prefixes).
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "dyperd/proto.h"
#include "tests/bench/util/bench.h"

#define FLOODERS	4
#define MEASURE_S	8
#define WARMUP_MS	1000
#define LAT_GAP_MS	20		/* between two legitimate opens */
#define REPLY_MS	5000		/* a legitimate open later than this failed */
#define ATTACK		1100		/* channels of the attacker */
#define ATTACK_NOFILE	1024		/* dyperd's descriptor limit in "channels" */
#define MAX_SAMPLES	(MEASURE_S * 1000 / LAT_GAP_MS + 16)
#define LOCAL_ADDR	"203.0.113.1"
#define LEGIT_PORT	40001
#define DENY_PORT	40999
#define NOBODY		65534

static struct bench_dyperd dyperd = BENCH_DYPERD_INIT;
static struct in_addr local_addr;
static volatile int stop_flood;
extern char **environ;

struct result {
	bool ran;
	double cpu_pct;
	unsigned long log_lines, log_bytes, event_lines;
	size_t samples, failures;
	double p50_ms, p90_ms, max_ms;
	int held;			/* channels: attacker channels not closed */
	int hello_ok, hello_tries;	/* channels: new channels answered */
	unsigned long sent;		/* flood: messages the flooders sent */
};

static void on_signal(int sig)
{
	bench_dyperd_abort(&dyperd);
	_exit(128 + sig);
}

/* utime + stime of @pid, in clock ticks. */
static unsigned long long proc_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* Lines and bytes of the file at @path. */
static void file_size(const char *path, unsigned long *lines, unsigned long *bytes)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*lines = *bytes = 0;
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*bytes += (unsigned long)n;
		for (ssize_t i = 0; i < n; i++)
			*lines += buf[i] == '\n';
	}
	close(fd);
}

/* Lines of the event file at @path that the flood provokes: "deny" events
 * and the "suppressed" counts of those left out. */
static unsigned long deny_events(const char *path)
{
	char line[2048];
	unsigned long n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "\"event\":\"deny\"") || strstr(line, "\"event\":\"suppressed\"");
	fclose(f);
	return n;
}

/* The request for a pinhole from 198.51.100.7 (any port) to LOCAL_ADDR:@lport. */
static void make_req(struct dyper_pinhole_req *req, uint16_t lport)
{
	bench_pinhole_req(req, htonl(0xc6336407), 0, local_addr.s_addr, lport);
}

/* Waits up to @ms for the reply to @id on @ch; its status, or -errno. */
static int wait_reply(int ch, uint32_t id, int ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)ms * MS;

	for (;;) {
		struct pollfd pfd = { .fd = ch, .events = POLLIN };
		int64_t left = (int64_t)(deadline - bench_now_ns()) / (int64_t)MS;
		struct dyper_reply rep;
		uint32_t got;
		int err;

		if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
			return -ETIMEDOUT;
		err = bench_recv_reply(ch, 0, &got, &rep);
		if (err)
			return err;
		if (got != id)
			continue;	/* an earlier one that came late */
		return rep.status;
	}
}

/* --- the flooders ------------------------------------------------------------ */

struct flooder {
	pthread_t t;
	int ch, sock;
	unsigned long sent;
};

static void *flood_run(void *arg)
{
	struct flooder *f = arg;
	struct dyper_hello hello = { .agent_version = DYPER_PROTO_VERSION };
	struct dyper_pinhole_req req;
	uint64_t end = bench_now_ns() + (uint64_t)(MEASURE_S + 3) * NS;

	make_req(&req, DENY_PORT);
	while (!stop_flood && bench_now_ns() < end) {
		int err = f->sock >= 0 ?
			  bench_send_msg(f->ch, DYPER_MSG_OPEN, 1, &req, sizeof(req), f->sock,
					 MSG_DONTWAIT) :
			  bench_send_msg(f->ch, DYPER_MSG_HELLO, 1, &hello, sizeof(hello), -1,
					 MSG_DONTWAIT);

		if (!err) {
			f->sent++;
		} else if (err == -EAGAIN) {
			struct pollfd pfd = { .fd = f->ch, .events = POLLOUT };

			poll(&pfd, 1, 50);
		} else {
			break;
		}
	}
	return NULL;
}

/* --- the attacker's channels ---------------------------------------------------- */

/* A new channel; a full listening queue makes connect() wait 1 s at most. */
static int connect_bounded(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 1, 0 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dyperd.agent);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* A child as uid 65534 (group nogroup, the agent group here) opening ATTACK
 * channels; writes how many stay open after a second to @out, then holds
 * them until killed (at most 60 s). */
static pid_t attacker(int out)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	{
		static int fds[ATTACK];
		struct rlimit rl = { ATTACK + 64, ATTACK + 64 };
		int held = 0;

		setrlimit(RLIMIT_NOFILE, &rl);
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(3);
		for (int i = 0; i < ATTACK; i++)
			fds[i] = connect_bounded();
		sleep(1);
		for (int i = 0; i < ATTACK; i++) {
			struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
			char b;

			if (fds[i] < 0)
				continue;
			if (poll(&pfd, 1, 0) == 1 && recv(fds[i], &b, 1, MSG_DONTWAIT) <= 0)
				continue;
			held++;
		}
		if (write(out, &held, sizeof(held)) < 0)
			_exit(3);
		sleep(60);
		_exit(0);
	}
}

/* --- one scenario ----------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Rewrites the configuration: rate and burst back to their defaults, an
 * event file; the policy: everything but DENY_PORT. */
static int configure(void)
{
	char path[160], buf[4096], *p;
	FILE *f;
	size_t n;

	f = fopen(dyperd.conf, "r");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "rate = 1000000\n");
	if (!p)
		return bench_fail("unexpected configuration in %s", dyperd.conf);
	*p = '\0';
	f = fopen(dyperd.conf, "w");
	if (!f)
		return -errno;
	snprintf(path, sizeof(path), "%s/events.json", dyperd.dir);
	/* the event file goes at the end of [daemon] */
	p = strstr(buf, "[enforcer]\n");
	if (!p)
		return bench_fail("unexpected configuration in %s", dyperd.conf);
	fprintf(f, "%.*sevent_log = %s\n%s", (int)(p - buf), buf, path, p);
	fclose(f);
	/* uid 65534 (the attacker) must reach the agent socket in here */
	if (chmod(dyperd.dir, 0755))
		return -errno;
	f = fopen(dyperd.policy, "w");
	if (!f)
		return -errno;
	fprintf(f, "allow * * * * * * *\ndeny * * tcp * * * %d\n", DENY_PORT);
	fclose(f);
	return 0;
}

static int run(const char *bin, bool channels, struct result *r)
{
	static uint64_t lat[MAX_SAMPLES];
	struct flooder fl[FLOODERS + 1];
	struct dyper_pinhole_req req;
	struct rlimit saved, low = { ATTACK_NOFILE, ATTACK_NOFILE };
	char events[160];
	unsigned long lines0, bytes0, ev0, lines1, bytes1, ev1;
	unsigned long long t0, t1;
	uint64_t w0, w1, end, next_hello;
	int victim = -1, sock = -1, pipefd[2] = { -1, -1 }, err = -1, nfl = 0;
	pid_t att = -1;
	uint32_t id = 100;

	memset(r, 0, sizeof(*r));
	stop_flood = 0;
	if (bench_dyperd_setup(&dyperd, "notice", "", "") || configure())
		goto out;
	snprintf(events, sizeof(events), "%s/events.json", dyperd.dir);
	if (channels) {
		getrlimit(RLIMIT_NOFILE, &saved);
		setrlimit(RLIMIT_NOFILE, &low);
	}
	err = bench_dyperd_start(&dyperd, bin, environ);
	if (channels)
		setrlimit(RLIMIT_NOFILE, &saved);
	if (err)
		goto out;
	err = -1;
	victim = bench_dyperd_connect(&dyperd);
	sock = bench_listen_tcp(local_addr.s_addr, LEGIT_PORT);
	if (victim < 0 || sock < 0) {
		bench_fail("cannot connect the legitimate client");
		goto out;
	}
	make_req(&req, LEGIT_PORT);
	if (channels) {
		if (pipe2(pipefd, O_CLOEXEC))
			goto out;
		att = attacker(pipefd[1]);
		if (att < 0 || read(pipefd[0], &r->held, sizeof(r->held)) != sizeof(r->held))
			bench_fail("the attacker did not report");
	} else {
		for (; nfl < FLOODERS + 1; nfl++) {
			fl[nfl].ch = bench_dyperd_connect(&dyperd);
			fl[nfl].sock = nfl == FLOODERS ?
				       bench_listen_tcp(local_addr.s_addr, DENY_PORT) : -1;
			fl[nfl].sent = 0;
			if (fl[nfl].ch < 0 || pthread_create(&fl[nfl].t, NULL, flood_run, &fl[nfl]))
				break;
		}
		usleep(WARMUP_MS * 1000);
	}

	file_size(dyperd.log, &lines0, &bytes0);
	ev0 = deny_events(events);
	t0 = proc_ticks(dyperd.pid);
	w0 = bench_now_ns();
	end = w0 + (uint64_t)MEASURE_S * NS;
	next_hello = w0;
	while (bench_now_ns() < end && r->samples < MAX_SAMPLES) {
		uint64_t s = bench_now_ns();
		int st;

		st = bench_send_msg(victim, DYPER_MSG_OPEN, ++id, &req, sizeof(req), sock, 0);
		if (!st)
			st = wait_reply(victim, id, REPLY_MS);
		if (st) {
			r->failures++;
		} else {
			lat[r->samples++] = bench_now_ns() - s;
			if (!bench_send_msg(victim, DYPER_MSG_CLOSE, ++id, &req, sizeof(req), -1, 0))
				wait_reply(victim, id, REPLY_MS);
		}
		if (channels && bench_now_ns() >= next_hello) {
			struct dyper_hello hello = { .agent_version = DYPER_PROTO_VERSION };
			int ch = connect_bounded();

			r->hello_tries++;
			if (ch >= 0 && !bench_send_msg(ch, DYPER_MSG_HELLO, 1, &hello, sizeof(hello),
						       -1, MSG_DONTWAIT) &&
			    wait_reply(ch, 1, 2000) == 0)
				r->hello_ok++;
			if (ch >= 0)
				close(ch);
			next_hello += NS;
		}
		usleep(LAT_GAP_MS * 1000);
	}
	w1 = bench_now_ns();
	t1 = proc_ticks(dyperd.pid);
	file_size(dyperd.log, &lines1, &bytes1);
	ev1 = deny_events(events);
	r->cpu_pct = 100.0 * (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) /
		     ((double)(w1 - w0) / 1e9);
	r->log_lines = lines1 - lines0;
	r->log_bytes = bytes1 - bytes0;
	r->event_lines = ev1 - ev0;
	qsort(lat, r->samples, sizeof(lat[0]), cmp_u64);
	if (r->samples) {
		r->p50_ms = (double)lat[(r->samples - 1) / 2] / 1e6;
		r->p90_ms = (double)lat[(r->samples - 1) * 9 / 10] / 1e6;
		r->max_ms = (double)lat[r->samples - 1] / 1e6;
	}
	r->ran = true;
	err = 0;
out:
	stop_flood = 1;
	for (int i = 0; i < nfl; i++) {
		pthread_join(fl[i].t, NULL);
		r->sent += fl[i].sent;
		close(fl[i].ch);
		if (fl[i].sock >= 0)
			close(fl[i].sock);
	}
	if (att > 0) {
		kill(att, SIGKILL);
		waitpid(att, NULL, 0);
	}
	for (int i = 0; i < 2; i++)
		if (pipefd[i] >= 0)
			close(pipefd[i]);
	if (victim >= 0)
		close(victim);
	if (sock >= 0)
		close(sock);
	bench_dyperd_stop(&dyperd);
	unlink(events);
	bench_dyperd_remove(&dyperd);
	return err;
}

/* --- output ------------------------------------------------------------------------ */

typedef void cell_fn(const struct result *r, char *buf, size_t len);

#define CELL(name, ...) \
	static void name(const struct result *r, char *buf, size_t len) \
	{ snprintf(buf, len, __VA_ARGS__); }
CELL(c_held, "%d", r->held)
CELL(c_sent, "%lu", r->sent)
CELL(c_cpu, "%.1f", r->cpu_pct)
CELL(c_lines, "%lu", r->log_lines)
CELL(c_bytes, "%lu", r->log_bytes)
CELL(c_events, "%lu", r->event_lines)
CELL(c_lat, "%.2f / %.2f", r->p50_ms, r->p90_ms)
CELL(c_max, "%.2f", r->max_ms)
CELL(c_opens, "%zu / %zu", r->samples, r->failures)
CELL(c_hello, "%d / %d", r->hello_ok, r->hello_tries)

static void row(const char *label, const struct result *r, int n, cell_fn *cell)
{
	printf("  %-34s", label);
	for (int i = 0; i < n; i++) {
		char buf[48] = "-";

		if (r[i].ran)
			cell(&r[i], buf, sizeof(buf));
		printf(" %20s", buf);
	}
	printf("\n");
}

static void table(const char *title, const struct result *r, int n, const char **names,
		  bool channels)
{
	printf("\n%s\n  %-34s", title, "");
	for (int i = 0; i < n; i++)
		printf(" %20s", names[i]);
	printf("\n");
	row(channels ? "attacker channels held" : "messages the flooders sent", r, n,
	    channels ? c_held : c_sent);
	row("dyperd CPU (% of one core)", r, n, c_cpu);
	row("log lines", r, n, c_lines);
	row("log bytes", r, n, c_bytes);
	row("deny/suppressed event lines", r, n, c_events);
	row("legit open p50 / p90 (ms)", r, n, c_lat);
	row("legit open max (ms)", r, n, c_max);
	row("legit opens ok / failed", r, n, c_opens);
	if (channels)
		row("new channel answered / tried", r, n, c_hello);
}

int main(void)
{
	const char *after = getenv("DYPERD") && *getenv("DYPERD") ? getenv("DYPERD") :
			    "build/bin/dyperd";
	const char *before = getenv("DYPERD_BEFORE");
	const char *bins[2], *names[2] = { "before", "after" };
	struct result flood[2], chans[2];
	int n = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_on_signals(on_signal);
	inet_pton(AF_INET, LOCAL_ADDR, &local_addr);
	if (before && *before)
		bins[n++] = before;
	bins[n++] = after;
	if (n == 1)
		names[0] = "this build";
	if (bench_check_netns())
		return 1;
	for (int i = 0; i < n; i++) {
		if (access(bins[i], X_OK)) {
			bench_fail("%s: %s", bins[i], strerror(errno));
			return 1;
		}
		printf("flood_bench: %s = %s\n", names[i], bins[i]);
	}
	if (bench_ip(environ, "link", "set", "lo", "up", NULL) ||
	    bench_ip(environ, "addr", "add", LOCAL_ADDR "/32", "dev", "lo", NULL))
		return 1;
	for (int i = 0; i < n; i++) {
		failed |= run(bins[i], false, &flood[i]) != 0;
		failed |= run(bins[i], true, &chans[i]) != 0;
	}
	table("flood: 4 channels of HELLO + 1 of denied OPENs, unread replies, rate 1000 "
	      "burst 2000; " "measured 8 s", flood, n, names, false);
	table("channels: 1100 channels of uid 65534, dyperd RLIMIT_NOFILE 1024; measured 8 s",
	      chans, n, names, true);
	return failed;
}
