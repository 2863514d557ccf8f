// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * agent_bench: what the agent (preload/) costs the programs it is a guest
 * in.  It starts its own dyperd ($B/bin/dyperd, B defaulting to build)
 * with a permissive policy in a temporary directory, and changes the
 * network namespace it runs in (addresses on lo, dyperd's table): run it
 * only through tests/run-bench.sh, which gives it a fresh one (unshare
 * -n).  It refuses to run in the namespace of PID 1.
 *
 *   1. the fast path: the same measuring child (this program, re-executed
 *      with --child) runs plain, through $B/bin/dyper-wrap (LD_PRELOAD =
 *      the agent, with an active channel to dyperd), and with the agent
 *      preloaded but no channel (inactive: the cost of interposition
 *      alone), one child of each per round, ROUNDS rounds.  It times
 *      calls the agent must let through untouched: bind() to 127.0.0.1:0,
 *      connect() to a 127.0.0.1 listener, close(), read() on a pipe, and
 *      socket()+bind()+close() on AF_UNIX, in batches.  A run's ns per
 *      call is its median batch (a batch the VM preempted does not count;
 *      the mean is shown too), the result the median of the runs; the
 *      target is the median of each round's ratio agent/plain (<= 1.1x):
 *      on a shared VM pairs taken close together cancel its slow spells.
 *   2. the pinhole bind: the child becomes a server (a control port on
 *      203.0.113.1, one connection accepted from 203.0.113.2, whose
 *      command it reads), then times bind() of auxiliary sockets to
 *      203.0.113.1:0 and their close(): through the agent each bind opens
 *      a pinhole (agent -> dyperd -> kernel -> reply) and each close lets
 *      the kernel's destroy notification close it.  p50/p99 of the bind
 *      with and without the agent; targets p50 <= 100 us, p99 <= 500 us.
 *      Kernel truth: while the child holds one auxiliary socket the
 *      kernel's pinhole sets must hold exactly its pinhole, after the run
 *      none, and dyperctl stats must count every open and close.
 *
 * Prints a table and PASS/FAIL per target.  Exits 0 unless something
 * failed (a target missed is not a failure of the benchmark).  Every loop
 * is bounded in count, every child in time, the whole run by T_TOTAL
 * (a run takes about 20 s).  Addresses are documentation ones only.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "dyperd/proto.h"
#include "nft/enforcer.h"
#include "tests/bench/util/bench.h"

/* 1. the fast path */
#define N_BIND			20000		/* binds (and closes) per run */
#define N_CONNECT		20000
#define N_READ			200000
#define N_UNIX			20000
#define BATCH			256		/* sockets open at once; timed per batch */
#define READ_BATCH		1024		/* reads timed together */
#define READ_SIZE		64		/* bytes per read() from the pipe */
#define CHILD_REPS		1		/* runs of every call per child */
#define ROUNDS			10		/* plain, agent, inactive children, in turn */

/* 2. the pinhole bind */
#define PH_WARMUP		100
#define PH_SAMPLES		2000
#define PH_SECS			20		/* the child stops sampling after this */

/* Time budgets, in seconds: even all used up, well under two minutes. */
#define T_PART1			45		/* no new round after this */
#define T_CHILD			30		/* one child, at most */
#define T_TOTAL			90

#define LOCAL_ADDR		"203.0.113.1"	/* the server's */
#define PEER_ADDR		"203.0.113.2"	/* its control peer's */

enum run_mode { RUN_PLAIN, RUN_AGENT, RUN_INACTIVE, N_MODES };
static const char *const mode_names[N_MODES] = { "plain", "agent", "inactive" };

enum call_op { OP_BIND, OP_CONNECT, OP_CLOSE, OP_READ, OP_UNIX, N_OPS };
static const struct {
	const char *key;		/* in the child's report */
	const char *label;
	unsigned n;			/* calls per run */
} ops[N_OPS] = {
	[OP_BIND] = { "bind", "bind() tcp 127.0.0.1:0", N_BIND },
	[OP_CONNECT] = { "connect", "connect() tcp 127.0.0.1", N_CONNECT },
	[OP_CLOSE] = { "close", "close() of a bound tcp socket", N_BIND },
	[OP_READ] = { "read", "read() 64 B from a pipe", N_READ },
	[OP_UNIX] = { "unix", "socket+bind+close AF_UNIX", N_UNIX },
};

static uint64_t t_begin;
static struct in_addr local_addr, peer_addr;
static char self_exe[PATH_MAX], agent_lib[PATH_MAX], wrap_bin[PATH_MAX], dyperd_bin[PATH_MAX],
	    dyperctl_bin[PATH_MAX];
static char **env_plain, **env_inactive;

/* What the signal handler must undo: kept in plain static storage. */
static volatile pid_t child_pid = -1;
static struct bench_dyperd dyperd = BENCH_DYPERD_INIT;

extern char **environ;

/* ==== the measuring child ====================================================== */

/*
 * Runs as `agent_bench --child calls|pinhole FD`, plain or under the agent:
 * the same code either way.  It reports on FD, one line per result, and
 * says nothing else; errors go to stderr and make it exit 1.
 */

static int report_fd = -1;

__attribute__((format(printf, 1, 2)))
static void report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdprintf(report_fd, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2)))
static int child_fail(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "agent_bench child (%s): ", getenv("LD_PRELOAD") ? "preloaded" : "plain");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	errno = e;
	return -1;
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int tcp_sockets(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0) {
			close_all(fds, i);
			return child_fail("socket: %s", strerror(errno));
		}
	}
	return 0;
}

/*
 * The times of one run of one call, batch by batch: a batch that the VM
 * preempted shows as an outlier that the median leaves out, and the mean
 * keeps it.
 */
#define MAX_BATCHES		(N_READ / READ_BATCH + 1)

struct series {
	size_t n;
	uint64_t ns, calls;			/* in all */
	double per_call[MAX_BATCHES];		/* ns per call, each batch */
};

static void series_add(struct series *s, uint64_t ns, unsigned calls)
{
	if (s->n < MAX_BATCHES)
		s->per_call[s->n++] = (double)ns / calls;
	s->ns += ns;
	s->calls += calls;
}

/* @n binds of fresh TCP sockets to 127.0.0.1:0, then their closes. */
static int run_bind_close(unsigned n, struct series *bind_s, struct series *close_s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fds[BATCH];

	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < BATCH ? n - done : BATCH;
		uint64_t t0, t1, t2;

		if (tcp_sockets(fds, k))
			return -1;
		t0 = bench_now_ns();
		for (unsigned i = 0; i < k; i++)
			if (bind(fds[i], (struct sockaddr *)&sin, sizeof(sin))) {
				close_all(fds, k);
				return child_fail("bind 127.0.0.1:0: %s", strerror(errno));
			}
		t1 = bench_now_ns();
		for (unsigned i = 0; i < k; i++)
			close(fds[i]);
		t2 = bench_now_ns();
		series_add(bind_s, t1 - t0, k);
		series_add(close_s, t2 - t1, k);
		done += k;
	}
	return 0;
}

/* @n connects to the listener @lfd at @sa; accepting and the abortive
 * closes (no TIME_WAIT to run out of ports with) are not timed. */
static int run_connect(unsigned n, int lfd, const struct sockaddr_in *sa, struct series *s)
{
	const struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
	int fds[BATCH];

	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < BATCH ? n - done : BATCH;
		uint64_t t0, t1;

		if (tcp_sockets(fds, k))
			return -1;
		for (unsigned i = 0; i < k; i++)
			setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		t0 = bench_now_ns();
		for (unsigned i = 0; i < k; i++)
			if (connect(fds[i], (const struct sockaddr *)sa, sizeof(*sa))) {
				close_all(fds, k);
				return child_fail("connect 127.0.0.1: %s", strerror(errno));
			}
		t1 = bench_now_ns();
		for (unsigned i = 0; i < k; i++) {
			int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (a < 0) {
				close_all(fds, k);
				return child_fail("accept: %s", strerror(errno));
			}
			close(a);
		}
		close_all(fds, k);
		series_add(s, t1 - t0, k);
		done += k;
	}
	return 0;
}

/* @n reads of READ_SIZE bytes from a pipe refilled (untimed) before each
 * batch of reads. */
static int run_read(unsigned n, struct series *s)
{
	static char data[READ_BATCH * READ_SIZE];
	char buf[READ_SIZE];
	int p[2], err = 0;

	if (pipe2(p, O_CLOEXEC))
		return child_fail("pipe: %s", strerror(errno));
	for (unsigned done = 0; done < n && !err;) {
		unsigned k = n - done < READ_BATCH ? n - done : READ_BATCH;
		size_t want = (size_t)k * READ_SIZE, put = 0;
		uint64_t t0, t1;

		while (put < want) {
			ssize_t w = write(p[1], data + put, want - put);

			if (w <= 0) {
				err = child_fail("write to the pipe: %s", strerror(errno));
				break;
			}
			put += (size_t)w;
		}
		t0 = bench_now_ns();
		for (unsigned i = 0; i < k && !err; i++)
			if (read(p[0], buf, sizeof(buf)) != READ_SIZE)
				err = child_fail("short read from the pipe");
		t1 = bench_now_ns();
		series_add(s, t1 - t0, k);
		done += k;
	}
	close(p[0]);
	close(p[1]);
	return err;
}

/* @n times socket(AF_UNIX) + bind (autobind: an abstract name the kernel
 * picks, nothing on disk) + close. */
static int run_unix(unsigned n, struct series *s)
{
	const struct sockaddr_un sun = { .sun_family = AF_UNIX };

	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < BATCH ? n - done : BATCH;
		uint64_t t0 = bench_now_ns();

		for (unsigned i = 0; i < k; i++) {
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

			if (fd < 0)
				return child_fail("socket(AF_UNIX): %s", strerror(errno));
			if (bind(fd, (const struct sockaddr *)&sun, sizeof(sa_family_t))) {
				close(fd);
				return child_fail("bind(AF_UNIX): %s", strerror(errno));
			}
			close(fd);
		}
		series_add(s, bench_now_ns() - t0, k);
		done += k;
	}
	return 0;
}

static int loopback_listener(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return child_fail("socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) || listen(fd, 2 * BATCH) ||
	    getsockname(fd, (struct sockaddr *)sa, &len)) {
		child_fail("listener on 127.0.0.1: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the agent is loaded and active here, as the parent must check:
 * an active agent marks its channel close-on-exec at the first socket
 * call (the wrapper hands it over without). */
static void report_agent(void)
{
	const char *pre = getenv("LD_PRELOAD"), *ch = getenv(DYPER_CHANNEL_ENV);
	int fd = ch ? atoi(ch) : -1, fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;

	report("agent preload=%d channel=%d sealed=%d\n", pre && strstr(pre, "libdyper-preload"),
	       fd >= 0 && fl >= 0, fl >= 0 && (fl & FD_CLOEXEC));
}

static int child_calls(void)
{
	struct sockaddr_in sa;
	int lfd = loopback_listener(&sa), err = 0;

	if (lfd < 0)
		return -1;
	for (int rep = 0; rep < CHILD_REPS && !err; rep++) {
		static struct series s[N_OPS];

		memset(s, 0, sizeof(s));
		err = run_bind_close(N_BIND, &s[OP_BIND], &s[OP_CLOSE]) ?:
		      run_connect(N_CONNECT, lfd, &sa, &s[OP_CONNECT]) ?:
		      run_read(N_READ, &s[OP_READ]) ?:
		      run_unix(N_UNIX, &s[OP_UNIX]);
		for (int op = 0; op < N_OPS && !err; op++)
			report("call %s %.3f %.3f\n", ops[op].key,
			       bench_median(s[op].per_call, s[op].n),
			       (double)s[op].ns / (double)s[op].calls);
	}
	close(lfd);
	report_agent();
	return err;
}

/* One byte from the control connection: the command the server waits for. */
static int read_command(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? c : child_fail("control connection: %s", n ? strerror(errno) : "closed");
}

static int aux_socket(int *fd)
{
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return child_fail("socket: %s", strerror(errno));
	return 0;
}

static void report_pct(const char *what, uint64_t *v, size_t n)
{
	bench_sort_u64(v, n);
	report("pinhole %s %zu %.1f %.1f %.1f %.1f\n", what, n, bench_pct_us(v, n, 50),
	       bench_pct_us(v, n, 90), bench_pct_us(v, n, 99), bench_pct_us(v, n, 100));
}

/*
 * A server: a control port on LOCAL_ADDR, one control connection accepted
 * (the parent connects from PEER_ADDR) and its command read; then
 * auxiliary binds to LOCAL_ADDR:0 and closes, timed.  Then one auxiliary
 * socket held until the parent has looked at the kernel.
 */
static int child_pinhole(void)
{
	struct sockaddr_in ctl = { .sin_family = AF_INET, .sin_addr = local_addr }, aux = ctl;
	socklen_t len = sizeof(ctl);
	uint64_t *bind_ns = calloc(PH_SAMPLES, sizeof(uint64_t));
	uint64_t *both_ns = calloc(PH_SAMPLES, sizeof(uint64_t));
	uint64_t deadline = bench_now_ns() + PH_SECS * NS;
	int lfd = -1, cfd = -1, fd = -1, err = -1;
	size_t n = 0;

	if (!bind_ns || !both_ns) {
		child_fail("out of memory");
		goto out;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ctl, sizeof(ctl)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&ctl, &len)) {
		child_fail("control port on %s: %s", LOCAL_ADDR, strerror(errno));
		goto out;
	}
	report("listening %u\n", ntohs(ctl.sin_port));
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		child_fail("accept: %s", strerror(errno));
		goto out;
	}
	if (read_command(cfd) < 0)
		goto out;
	for (unsigned i = 0; i < PH_WARMUP + PH_SAMPLES && bench_now_ns() < deadline; i++) {
		uint64_t t0, t1, t2;

		if (aux_socket(&fd))
			goto out;
		t0 = bench_now_ns();
		if (bind(fd, (struct sockaddr *)&aux, sizeof(aux))) {
			child_fail("bind %s:0 (sample %u): %s", LOCAL_ADDR, i, strerror(errno));
			goto out;
		}
		t1 = bench_now_ns();
		close(fd);
		fd = -1;
		t2 = bench_now_ns();
		if (i < PH_WARMUP)
			continue;
		bind_ns[n] = t1 - t0;
		both_ns[n] = t2 - t0;
		n++;
	}
	/* one held open, for the parent to find in the kernel */
	len = sizeof(aux);
	if (aux_socket(&fd) || bind(fd, (struct sockaddr *)&aux, sizeof(aux)) ||
	    getsockname(fd, (struct sockaddr *)&aux, &len)) {
		child_fail("bind %s:0 (held): %s", LOCAL_ADDR, strerror(errno));
		goto out;
	}
	report("holding %u\n", ntohs(aux.sin_port));
	if (read_command(cfd) < 0)
		goto out;
	report_pct("bind", bind_ns, n);
	report_pct("bind+close", both_ns, n);
	report_agent();
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	free(bind_ns);
	free(both_ns);
	return err;
}

static int child_main(const char *what, const char *fd)
{
	char *end;
	long v = strtol(fd, &end, 10);

	if (*end || v < 3 || v > INT_MAX || fcntl((int)v, F_GETFD) < 0) {
		child_fail("bad report descriptor %s", fd);
		return 2;
	}
	report_fd = (int)v;
	signal(SIGPIPE, SIG_IGN);
	inet_pton(AF_INET, LOCAL_ADDR, &local_addr);
	if (!strcmp(what, "calls"))
		return child_calls() ? 1 : 0;
	if (!strcmp(what, "pinhole"))
		return child_pinhole() ? 1 : 0;
	child_fail("unknown child %s", what);
	return 2;
}

/* ==== the parent: namespace, files, dyperd ====================================== */

/* Limits that a benchmark does not run into.  The policy allows
 * everything: the wrapper connects as root, not setgid, so the delegate is
 * group 0. */
static int write_config(void)
{
	return bench_dyperd_setup(&dyperd, "notice", "", "max_per_user = 65536\n");
}

static void on_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	bench_dyperd_abort(&dyperd);
	_exit(128 + sig);
}

/* --- kernel truth, and dyperd's own count ------------------------------------ */

struct kernel_view {
	size_t n;			/* pinholes in dyperd's table */
	uint16_t port;			/* looked for: PEER_ADDR -> LOCAL_ADDR:port, tcp */
	bool found;
	char what[PINHOLE_STR_LEN];
};

static int view_cb(const struct pinhole_entry *pe, void *arg)
{
	struct kernel_view *kv = arg;
	const struct pinhole *ph = &pe->ph;

	kv->n++;
	if (ph->family == AF_INET && ph->proto == IPPROTO_TCP && ph->local_port == kv->port &&
	    ph->remote_port == 0 && ph->local.v4.s_addr == local_addr.s_addr &&
	    ph->remote.v4.s_addr == peer_addr.s_addr) {
		kv->found = true;
		pinhole_format(ph, kv->what, sizeof(kv->what));
	}
	return 0;
}

/* Dumps dyperd's pinhole sets from the kernel into @kv; 0 or -errno. */
static int kernel_view(struct kernel_view *kv)
{
	kv->n = 0;
	kv->found = false;
	return bench_kernel_dump(view_cb, kv);
}

/* Waits up to @secs until the kernel holds no pinhole; 0 or -1. */
static int wait_kernel_empty(unsigned secs)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)secs * NS;
	struct kernel_view kv = { 0 };

	for (;;) {
		if (kernel_view(&kv))
			return -1;
		if (kv.n == 0)
			return 0;
		if (bench_now_ns() > deadline)
			return bench_fail("%zu pinholes still in the kernel %u s after their "
					  "sockets closed", kv.n, secs);
		usleep(20000);
	}
}

struct ctl_stats {
	uint64_t opened, closed, stale, pinholes;
	uint64_t lat_p50, lat_p99;	/* dyperd's, receipt to reply, recent requests (us) */
};

/* `dyperctl stats`: dyperd's own count of opens and closes; 0 or -1. */
static int dyperctl_stats(struct ctl_stats *s)
{
	char *argv[] = { "dyperctl", "-s", dyperd.control, "stats", NULL };
	char buf[4096], *line, *save = NULL;
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	int p[2], st, err, found = 0;
	pid_t pid;

	memset(s, 0, sizeof(*s));
	if (pipe2(p, O_CLOEXEC))
		return bench_fail("pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	err = posix_spawn(&pid, dyperctl_bin, &fa, NULL, argv, env_plain);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (err) {
		close(p[0]);
		return bench_fail("cannot run %s: %s", dyperctl_bin, strerror(err));
	}
	for (;;) {
		ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return bench_fail("dyperctl stats failed (status 0x%x)", st);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[32];
		uint64_t v;

		if (sscanf(line, "%31s %" SCNu64, key, &v) != 2)
			continue;
		if (!strcmp(key, "opened"))
			s->opened = v, found++;
		else if (!strcmp(key, "closed"))
			s->closed = v, found++;
		else if (!strcmp(key, "stale"))
			s->stale = v, found++;
		else if (!strcmp(key, "pinholes"))
			s->pinholes = v, found++;
		else if (!strcmp(key, "latency_p50_us"))
			s->lat_p50 = v;
		else if (!strcmp(key, "latency_p99_us"))
			s->lat_p99 = v;
	}
	return found == 4 ? 0 : bench_fail("dyperctl stats: no opened/closed/stale/pinholes lines");
}

/* --- running children -------------------------------------------------------- */

/* @base without LD_PRELOAD and DYPER_*, plus @add if not NULL. */
static char **env_make(char **base, const char *add)
{
	size_t n = 0, k = 0;
	char **env;

	while (base && base[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(base[i], "LD_PRELOAD=", 11) && strncmp(base[i], "DYPER_", 6))
			env[k++] = base[i];
	if (add)
		env[k++] = (char *)add;
	env[k] = NULL;
	return env;
}

struct child {
	pid_t pid;
	int fd;				/* its reports */
	uint64_t deadline;
	char buf[512];
	size_t len;
};

/* Starts `agent_bench --child @what` as @mode asks; 0 or -1. */
static int child_start(struct child *c, enum run_mode mode, const char *what)
{
	uint64_t total_end = t_begin + (uint64_t)T_TOTAL * NS;
	int p[2];
	pid_t pid;

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->fd = -1;
	c->deadline = bench_now_ns() + (uint64_t)T_CHILD * NS;
	if (c->deadline > total_end)
		c->deadline = total_end;
	if (pipe2(p, O_CLOEXEC))
		return bench_fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return bench_fail("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int w = dup(p[1]);	/* without close-on-exec */
		char fdarg[16];
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		snprintf(fdarg, sizeof(fdarg), "%d", w);
		if (mode == RUN_AGENT) {
			char *argv[] = { "dyper-wrap", "-s", dyperd.agent, "-p", agent_lib,
					 self_exe, "--child", (char *)what, fdarg, NULL };

			execve(wrap_bin, argv, env_plain);
		} else {
			char *argv[] = { "agent_bench", "--child", (char *)what, fdarg, NULL };

			execve(self_exe, argv, mode == RUN_PLAIN ? env_plain : env_inactive);
		}
		fprintf(stderr, "agent_bench: cannot run %s: %s\n",
			mode == RUN_AGENT ? wrap_bin : self_exe, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	c->pid = child_pid = pid;
	c->fd = p[0];
	return 0;
}

/* The child's next report line into @line (without the newline): 1, or 0
 * at its end, or -1 on a timeout or error. */
static int child_line(struct child *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		uint64_t now = bench_now_ns();
		ssize_t n;
		int r;

		if (nl) {
			size_t l = (size_t)(nl - c->buf);

			snprintf(line, size, "%.*s", (int)l, c->buf);
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			return 1;
		}
		if (c->len == sizeof(c->buf))
			return bench_fail("child %d: report line too long", (int)c->pid);
		if (now >= c->deadline)
			return bench_fail("child %d: no report for too long: out of time",
					  (int)c->pid);
		r = poll(&pfd, 1, (int)((c->deadline - now) / MS) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return bench_fail("poll: %s", strerror(errno));
		if (r == 0)
			continue;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bench_fail("reading the child's reports: %s", strerror(errno));
		if (n == 0)
			return c->len ? bench_fail("child %d: last line unterminated",
						   (int)c->pid) : 0;
		c->len += (size_t)n;
	}
}

/* Reaps the child (killed if @kill_it or if it outlives its deadline);
 * 0 if it exited 0. */
static int child_end(struct child *c, bool kill_it)
{
	int st = 0;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->pid <= 0)
		return 0;
	for (;;) {
		pid_t r;

		if (kill_it || bench_now_ns() > c->deadline + NS) {
			kill(c->pid, SIGKILL);
			kill_it = false;
		}
		r = waitpid(c->pid, &st, WNOHANG);
		if (r == c->pid)
			break;
		if (r < 0 && errno != EINTR) {
			st = -1;
			break;
		}
		usleep(2000);
	}
	c->pid = child_pid = -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	return bench_fail("child failed (status 0x%x)", st);
}

/* "agent preload=P channel=C sealed=S": is the child what @mode says? */
static int check_agent_line(const char *line, enum run_mode mode)
{
	int pre, ch, sealed;
	bool ok;

	if (sscanf(line, "agent preload=%d channel=%d sealed=%d", &pre, &ch, &sealed) != 3)
		return bench_fail("child report: unexpected line \"%s\"", line);
	if (mode == RUN_PLAIN)
		ok = !pre && !ch;
	else if (mode == RUN_INACTIVE)
		ok = pre && !ch;
	else
		ok = pre && ch && sealed;
	if (ok)
		return 0;
	return bench_fail("the %s child is not what it should be: LD_PRELOAD %s, channel %s%s",
			  mode_names[mode], pre ? "the agent" : "unset", ch ? "open" : "none",
			  ch ? (sealed ? ", sealed by the agent" : ", not sealed: agent inactive")
			     : "");
}

/* --- 1. the fast path -------------------------------------------------------- */

#define MAX_RUNS (ROUNDS * CHILD_REPS)

struct calls_result {
	size_t runs[N_MODES][N_OPS];
	double ns[N_MODES][N_OPS][MAX_RUNS];	/* per call, per run (median of its batches) */
	double mean[N_MODES][N_OPS][MAX_RUNS];	/* the same, the mean of all its calls */
	double med[N_MODES][N_OPS], med_mean[N_MODES][N_OPS];
	/* median of the ratios to the plain run of the same round, and their
	 * range: a slow spell of the VM cancels out */
	double ratio[N_MODES][N_OPS], ratio_min[N_MODES][N_OPS], ratio_max[N_MODES][N_OPS];
	unsigned rounds;
};

static int calls_child(struct calls_result *r, enum run_mode mode)
{
	struct child c;
	char line[256];
	bool agent_seen = false;
	int got, err = 0;

	if (child_start(&c, mode, "calls"))
		return -1;
	while (!err && (got = child_line(&c, line, sizeof(line))) > 0) {
		char key[32];
		double v, mean;
		int op;

		if (!strncmp(line, "agent ", 6)) {
			err = check_agent_line(line, mode);
			agent_seen = true;
			continue;
		}
		if (sscanf(line, "call %31s %lf %lf", key, &v, &mean) != 3) {
			err = bench_fail("child report: unexpected line \"%s\"", line);
			break;
		}
		for (op = 0; op < N_OPS && strcmp(ops[op].key, key); op++)
			;
		if (op == N_OPS || r->runs[mode][op] >= MAX_RUNS) {
			err = bench_fail("child report: unexpected line \"%s\"", line);
			break;
		}
		r->mean[mode][op][r->runs[mode][op]] = mean;
		r->ns[mode][op][r->runs[mode][op]++] = v;
	}
	if (got < 0)
		err = -1;
	if (child_end(&c, err != 0))
		err = -1;
	if (!err && !agent_seen)
		err = bench_fail("the %s child did not say whether the agent was there",
				 mode_names[mode]);
	return err;
}

static int bench_calls(struct calls_result *r)
{
	uint64_t end = bench_now_ns() + (uint64_t)T_PART1 * NS;
	struct ctl_stats s0, s1;

	memset(r, 0, sizeof(*r));
	if (dyperctl_stats(&s0))
		return -1;
	for (unsigned round = 0; round < ROUNDS && (round == 0 || bench_now_ns() < end); round++) {
		uint64_t t = bench_now_ns();

		/* in turn, so that a slow spell of the VM hits all three alike;
		 * who goes first rotates */
		for (int k = 0; k < N_MODES; k++)
			if (calls_child(r, (enum run_mode)((round + (unsigned)k) % N_MODES)))
				return -1;
		r->rounds++;
		if (round == 0)
			printf("   round 1 (plain, agent and inactive child) took %.1f s\n",
			       (double)(bench_now_ns() - t) / NS);
	}
	printf("   %u rounds\n", r->rounds);
	for (int m = 0; m < N_MODES; m++)
		for (int op = 0; op < N_OPS; op++) {
			size_t n = r->runs[m][op];
			double q[MAX_RUNS];

			/* paired by round before the sort below */
			for (size_t i = 0; i < n; i++)
				q[i] = r->ns[m][op][i] / r->ns[RUN_PLAIN][op][i];
			r->ratio[m][op] = bench_median(q, n);
			r->ratio_min[m][op] = n ? q[0] : NAN;
			r->ratio_max[m][op] = n ? q[n - 1] : NAN;
		}
	for (int m = 0; m < N_MODES; m++)
		for (int op = 0; op < N_OPS; op++) {
			r->med[m][op] = bench_median(r->ns[m][op], r->runs[m][op]);
			r->med_mean[m][op] = bench_median(r->mean[m][op], r->runs[m][op]);
		}
	/* the agent had nothing to ask dyperd for: loopback and AF_UNIX only */
	if (dyperctl_stats(&s1))
		return -1;
	if (s1.opened != s0.opened)
		return bench_fail("the agent opened %" PRIu64 " pinholes for loopback or AF_UNIX "
				  "sockets", s1.opened - s0.opened);
	return 0;
}

/* --- 2. the pinhole bind ----------------------------------------------------- */

struct pct {
	size_t n;
	double p50, p90, p99, max;
};

struct pinhole_result {
	bool ran;
	struct pct bind, both;		/* bind; bind + close */
	size_t held_kernel;		/* pinholes in the kernel while one socket was held */
	bool held_found;
	char held_what[PINHOLE_STR_LEN];
};

/* The parent's side of the control connection: from PEER_ADDR to the
 * child's control port. */
static int connect_control(uint16_t port)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = peer_addr };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = local_addr,
				  .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return bench_fail("socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		bench_fail("control connection %s -> %s:%u: %s", PEER_ADDR, LOCAL_ADDR, port,
			   strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int parse_pct(const char *line, struct pinhole_result *r)
{
	char what[16];
	struct pct p;

	if (sscanf(line, "pinhole %15s %zu %lf %lf %lf %lf", what, &p.n, &p.p50, &p.p90, &p.p99,
		   &p.max) != 6)
		return -1;
	if (!strcmp(what, "bind"))
		r->bind = p;
	else if (!strcmp(what, "bind+close"))
		r->both = p;
	else
		return -1;
	return 0;
}

static int bench_pinhole(struct pinhole_result *r, enum run_mode mode)
{
	struct kernel_view kv = { 0 };
	struct child c;
	char line[256];
	bool agent_seen = false;
	int cfd = -1, got, err = 0;
	unsigned port;

	memset(r, 0, sizeof(*r));
	if (child_start(&c, mode, "pinhole"))
		return -1;
	got = child_line(&c, line, sizeof(line));
	if (got <= 0 || sscanf(line, "listening %u", &port) != 1) {
		err = got < 0 ? -1 : bench_fail("pinhole child: expected \"listening PORT\"");
		goto out;
	}
	cfd = connect_control((uint16_t)port);
	if (cfd < 0 || write(cfd, "g", 1) != 1) {
		err = cfd < 0 ? -1 : bench_fail("control connection: %s", strerror(errno));
		goto out;
	}
	got = child_line(&c, line, sizeof(line));
	if (got <= 0 || sscanf(line, "holding %u", &port) != 1) {
		err = got < 0 ? -1 : bench_fail("pinhole child: expected \"holding PORT\"");
		goto out;
	}
	/* the last samples' closes may still be on their way to dyperd */
	kv.port = (uint16_t)port;
	for (int i = 0; i < 50; i++) {
		err = kernel_view(&kv);
		if (err || (kv.n == 1 && kv.found) || mode != RUN_AGENT)
			break;
		usleep(20000);
	}
	r->held_kernel = kv.n;
	r->held_found = kv.found;
	snprintf(r->held_what, sizeof(r->held_what), "%s", kv.what);
	if (err || write(cfd, "x", 1) != 1) {
		err = err ? err : bench_fail("control connection: %s", strerror(errno));
		goto out;
	}
	while (!err && (got = child_line(&c, line, sizeof(line))) > 0) {
		if (!strncmp(line, "agent ", 6)) {
			err = check_agent_line(line, mode);
			agent_seen = true;
		} else if (parse_pct(line, r)) {
			err = bench_fail("pinhole child: unexpected line \"%s\"", line);
		}
	}
	if (got < 0)
		err = -1;
	if (!err && (!agent_seen || !r->bind.n))
		err = bench_fail("the %s pinhole child did not report everything",
				 mode_names[mode]);
out:
	if (child_end(&c, err != 0))
		err = -1;
	if (cfd >= 0)
		close(cfd);
	r->ran = !err;
	return err;
}

/* Both runs, and what the kernel and dyperd say about them. */
static int bench_pinholes(struct pinhole_result *plain, struct pinhole_result *agent)
{
	struct ctl_stats s0, s1;
	uint64_t want;

	if (dyperctl_stats(&s0) || bench_pinhole(plain, RUN_PLAIN))
		return -1;
	printf("   plain: %zu binds, p50 %.1f us\n", plain->bind.n, plain->bind.p50);
	if (plain->held_kernel)
		return bench_fail("without the agent the kernel holds %zu pinholes",
				  plain->held_kernel);
	if (bench_pinhole(agent, RUN_AGENT))
		return -1;
	printf("   through the agent: %zu binds, p50 %.1f us\n", agent->bind.n, agent->bind.p50);
	/* closing each socket must have closed its pinhole */
	if (wait_kernel_empty(5) || dyperctl_stats(&s1))
		return -1;
	want = PH_WARMUP + agent->bind.n + 1;
	printf("   kernel: while one auxiliary socket was held, %zu pinhole%s: %s; "
	       "none after the run\n", agent->held_kernel, agent->held_kernel == 1 ? "" : "s",
	       agent->held_found ? agent->held_what : "not the one expected");
	printf("   dyperctl stats: opened +%" PRIu64 ", closed +%" PRIu64 ", stale +%" PRIu64
	       " (binds through the agent: %" PRIu64 "), pinholes now %" PRIu64 "\n",
	       s1.opened - s0.opened, s1.closed - s0.closed, s1.stale - s0.stale, want,
	       s1.pinholes);
	printf("   dyperd's own time per request, receipt to reply (its last 4096): p50 %" PRIu64
	       " us, p99 %" PRIu64 " us\n", s1.lat_p50, s1.lat_p99);
	if (agent->held_kernel != 1 || !agent->held_found)
		return bench_fail("the kernel did not hold just the held socket's pinhole "
				  "(tcp %s:* -> %s:port)", PEER_ADDR, LOCAL_ADDR);
	if (s1.opened - s0.opened != want ||
	    s1.closed - s0.closed + s1.stale - s0.stale != want || s1.pinholes)
		return bench_fail("dyperd counted %" PRIu64 " opens and %" PRIu64 " closes, "
				  "expected %" PRIu64 " each", s1.opened - s0.opened,
				  s1.closed - s0.closed + s1.stale - s0.stale, want);
	return 0;
}

/* --- report ------------------------------------------------------------------ */

static void print_calls(const struct calls_result *r)
{
	printf("\n1. calls the agent lets through, ns per call: each run's median batch (256 "
	       "calls, 1024 reads), median of %zu runs, one per round\n",
	       r->runs[RUN_PLAIN][0]);
	printf("   ratio: median of the rounds' ratios to plain (range); \"means\": the same "
	       "with every batch counted\n");
	printf("   %-30s %6s %8s %8s %7s %11s %8s %7s %7s\n", "", "N/run", "plain", "agent",
	       "ratio", "(range)", "inactive", "ratio", "means");
	for (int op = 0; op < N_OPS; op++)
		printf("   %-30s %6u %8.1f %8.1f %6.3fx  %.2f..%.2f %8.1f %6.3fx %6.3fx\n",
		       ops[op].label, ops[op].n, r->med[RUN_PLAIN][op], r->med[RUN_AGENT][op],
		       r->ratio[RUN_AGENT][op], r->ratio_min[RUN_AGENT][op],
		       r->ratio_max[RUN_AGENT][op], r->med[RUN_INACTIVE][op],
		       r->ratio[RUN_INACTIVE][op],
		       r->med_mean[RUN_AGENT][op] / r->med_mean[RUN_PLAIN][op]);
}

static void print_pinholes(const struct pinhole_result *p, const struct pinhole_result *a)
{
	const struct {
		const char *label;
		const struct pct *v;
	} rows[] = {
		{ "bind(), plain", &p->bind },
		{ "bind(), through the agent", &a->bind },
		{ "bind()+close(), plain", &p->both },
		{ "bind()+close(), through agent", &a->both },
	};

	printf("\n2. bind() of an auxiliary socket to %s:0 after a control connection from %s "
	       "(us)\n", LOCAL_ADDR, PEER_ADDR);
	printf("   %-30s %7s %9s %9s %9s %9s\n", "", "samples", "p50", "p90", "p99", "max");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		printf("   %-30s %7zu %9.1f %9.1f %9.1f %9.1f\n", rows[i].label, rows[i].v->n,
		       rows[i].v->p50, rows[i].v->p90, rows[i].v->p99, rows[i].v->max);
}

static void print_targets(const struct calls_result *c, bool calls_ran,
			  const struct pinhole_result *a)
{
	printf("\nTargets\n");
	if (calls_ran)
		for (int op = 0; op < N_OPS; op++) {
			double ratio = c->ratio[RUN_AGENT][op];

			bench_target(ratio <= 1.1, "%s: agent/plain %.3fx  (<= 1.1x)",
				     ops[op].label, ratio);
		}
	if (a->ran) {
		bench_target(a->bind.p50 <= 100, "pinhole bind p50: %.1f us  (<= 100 us)",
			     a->bind.p50);
		bench_target(a->bind.p99 <= 500, "pinhole bind p99: %.1f us  (<= 500 us)",
			     a->bind.p99);
	}
	bench_targets_missed();
}

/* --- main -------------------------------------------------------------------- */

/* $B/@rel as an absolute path (the wrapper wants one for the agent). */
static int build_path(char *out, const char *rel)
{
	const char *b = getenv("B") && *getenv("B") ? getenv("B") : "build";
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", b, rel);
	if (!realpath(path, out))
		return bench_fail("%s: %s (build it: make test-bins)", path, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	static struct calls_result calls;
	struct pinhole_result ph_plain, ph_agent;
	struct utsname u;
	bool calls_ran = false;
	int err = -1;
	ssize_t n;

	if (argc == 4 && !strcmp(argv[1], "--child"))
		return child_main(argv[2], argv[3]);
	if (argc != 1) {
		fprintf(stderr, "usage: agent_bench  (as root, in a fresh network namespace: "
				"tests/run-bench.sh)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_begin = bench_now_ns();
	memset(&ph_plain, 0, sizeof(ph_plain));
	memset(&ph_agent, 0, sizeof(ph_agent));
	bench_on_signals(on_signal);
	inet_pton(AF_INET, LOCAL_ADDR, &local_addr);
	inet_pton(AF_INET, PEER_ADDR, &peer_addr);
	uname(&u);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan must come first in the library list; a preloaded agent would be */
	printf("agent_bench: skipped: a sanitizer build cannot host the preloaded agent\n");
	return 0;
#endif
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	env_plain = env_make(environ, NULL);
	if (n <= 0 || !env_plain) {
		bench_fail("cannot find my own executable or build the environment");
		goto out;
	}
	self_exe[n] = '\0';
	if (build_path(agent_lib, "lib/libdyper-preload.so") || build_path(wrap_bin, "bin/dyper-wrap") ||
	    build_path(dyperd_bin, "bin/dyperd") || build_path(dyperctl_bin, "bin/dyperctl"))
		goto out;
	{
		static char preload[sizeof("LD_PRELOAD=") + PATH_MAX];

		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", agent_lib);
		env_inactive = env_make(environ, preload);
		if (!env_inactive)
			goto out;
	}
	printf("agent_bench: the agent %s, through %s, with %s\n", agent_lib, wrap_bin, dyperd_bin);
	printf("kernel %s %s, %ld CPUs online\n", u.release, u.machine,
	       sysconf(_SC_NPROCESSORS_ONLN));
	if (bench_check_netns())
		goto out;
	/* a fresh namespace has lo down and no address of ours */
	if (bench_ip(env_plain, "link", "set", "lo", "up", NULL) ||
	    bench_ip(env_plain, "addr", "add", LOCAL_ADDR "/32", "dev", "lo", NULL) ||
	    bench_ip(env_plain, "addr", "add", PEER_ADDR "/32", "dev", "lo", NULL))
		goto out;
	if (write_config() || bench_dyperd_start(&dyperd, dyperd_bin, env_plain))
		goto out;
	printf("dyperd pid %d: policy \"allow * * * * * * *\", rate/burst 1000000, "
	       "log_level notice\n", (int)dyperd.pid);

	printf("\n1. the fast path: %d rounds of plain, agent (dyper-wrap) and inactive "
	       "(LD_PRELOAD only) children, %d runs each\n", ROUNDS, CHILD_REPS);
	if (bench_calls(&calls))
		goto out;
	calls_ran = true;

	printf("\n2. the pinhole bind: %d samples after %d warm-up binds\n", PH_SAMPLES,
	       PH_WARMUP);
	if (bench_pinholes(&ph_plain, &ph_agent))
		goto out;
	err = 0;
out:
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	if (bench_dyperd_stop(&dyperd))
		err = -1;
	bench_dyperd_remove(&dyperd);
	if (calls_ran)
		print_calls(&calls);
	if (ph_plain.ran && ph_agent.ran)
		print_pinholes(&ph_plain, &ph_agent);
	if (calls_ran || ph_agent.ran)
		print_targets(&calls, calls_ran, &ph_agent);
	free(env_plain);
	free(env_inactive);
	printf("\nagent_bench: %s after %.1f s\n", err ? "FAILED" : "done",
	       (double)(bench_now_ns() - t_begin) / NS);
	return err ? 1 : 0;
}
