// SPDX-License-Identifier: GPL-2.0-or-later
/* What the benchmarks share; see bench.h. */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "tests/bench/util/bench.h"

#define DYPERD_START_S		10	/* to listen on the agent socket */
#define DYPERD_STOP_S		10	/* to exit after SIGTERM */

/* --- time, statistics, output -------------------------------------------- */

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_sort_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_pct_us(const uint64_t *v, size_t n, double p)
{
	size_t r = (size_t)ceil(p / 100.0 * (double)n);

	if (n == 0)
		return NAN;
	return (double)v[r ? r - 1 : 0] / 1000.0;
}

const char *bench_grouped(double v, char *buf, size_t len)
{
	char digits[32];
	size_t n, o = 0;

	snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v);
	n = strlen(digits);
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

int bench_fail(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	errno = saved;
	return -EIO;
}

static int n_missed;

void bench_target(bool pass, const char *fmt, ...)
{
	va_list ap;

	printf("   [%s] ", pass ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	n_missed += !pass;
}

void bench_targets_missed(void)
{
	printf("   %d target(s) missed\n", n_missed);
}

/* --- processes ------------------------------------------------------------- */

void bench_on_signals(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

const char *bench_nft_cmd(void)
{
	const char *s = getenv("NFT");

	return s && *s ? s : "nft";
}

int bench_spawn(pid_t *pid, const char *file, char *const argv[], char *const envp[],
		bool quiet)
{
	posix_spawn_file_actions_t fa;
	int err;

	if (posix_spawn_file_actions_init(&fa))
		return -ENOMEM;
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(pid, file, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	return -err;
}

int bench_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

/* --- the network namespace --------------------------------------------------- */

/*
 * The benchmarks rewrite nftables: never in the host's own namespace.
 * PID 1's namespace may not be ours to look at (a container): then a
 * namespace with any interface but lo is not the fresh one we want either.
 */
int bench_check_netns(void)
{
	struct if_nameindex *ifs;
	struct stat self, init;
	int err = 0;

	if (stat("/proc/self/ns/net", &self) == 0 && stat("/proc/1/ns/net", &init) == 0 &&
	    self.st_ino == init.st_ino && self.st_dev == init.st_dev) {
		bench_fail("this is PID 1's network namespace: run me through tests/run-bench.sh "
			   "(or unshare -n)");
		return -EPERM;
	}
	ifs = if_nameindex();
	if (!ifs) {
		err = -errno;
		bench_fail("cannot list the network interfaces: %s", strerror(-err));
		return err;
	}
	for (struct if_nameindex *i = ifs; i->if_index && !err; i++)
		if (strcmp(i->if_name, "lo")) {
			bench_fail("interface %s exists: this is not a fresh network namespace; "
				   "run me through tests/run-bench.sh (or unshare -n)", i->if_name);
			err = -EPERM;
		}
	if_freenameindex(ifs);
	return err;
}

int bench_ip(char *const envp[], const char *arg, ...)
{
	static const char *const paths[] = { "ip", "/usr/sbin/ip", "/sbin/ip" };
	char *argv[12] = { "ip" }, cmd[256];
	size_t n = 1, len = 0;
	va_list ap;
	pid_t pid;
	int err = -ENOENT;

	va_start(ap, arg);
	for (const char *a = arg; a && n + 1 < sizeof(argv) / sizeof(argv[0]);
	     a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	for (size_t i = 0; i < n && len < sizeof(cmd); i++)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i ? " " : "",
					argv[i]);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		err = bench_spawn(&pid, paths[i], argv, envp, false);
		if (err != -ENOENT)
			break;
	}
	if (err) {
		bench_fail("cannot run ip: %s", strerror(-err));
		return err;
	}
	err = bench_wait(pid);
	if (err)
		bench_fail("%s: %s", cmd, err == -ECHILD ? "failed" : strerror(-err));
	return err;
}

int bench_kernel_dump(int (*cb)(const struct pinhole_entry *pe, void *arg), void *arg)
{
	struct nft_enforcer_config cfg;
	struct nft_enforcer *e = NULL;
	int err;

	nft_enforcer_config_init(&cfg);
	err = nft_enforcer_open(&e, &cfg);
	if (!err)
		err = nft_enforcer_dump(e, cb, arg);
	if (err)
		bench_fail("cannot dump the kernel's pinholes: %s",
			   e ? nft_enforcer_error(e) : strerror(-err));
	nft_enforcer_free(e);
	return err;
}

/* --- a dyperd of the benchmark's own ------------------------------------------ */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f) {
		err = -errno;
		bench_fail("cannot create %s: %s", path, strerror(-err));
		return err;
	}
	if (fputs(text, f) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		bench_fail("cannot write %s: %s", path, strerror(-err));
	return err;
}

int bench_dyperd_setup(struct bench_dyperd *d, const char *log_level, const char *enforcer,
		       const char *limits)
{
	const char *name = program_invocation_short_name;
	char conf[2048], policy[128];
	int err;

	snprintf(d->dir, sizeof(d->dir), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(d->dir)) {
		err = -errno;
		d->dir[0] = '\0';
		bench_fail("mkdtemp: %s", strerror(-err));
		return err;
	}
	snprintf(d->conf, sizeof(d->conf), "%s/dyper.conf", d->dir);
	snprintf(d->policy, sizeof(d->policy), "%s/policy", d->dir);
	snprintf(d->agent, sizeof(d->agent), "%s/agent.sock", d->dir);
	snprintf(d->control, sizeof(d->control), "%s/control.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/dyperd.log", d->dir);
	snprintf(conf, sizeof(conf),
		 "# written by %s\n"
		 "[daemon]\n"
		 "user = nobody\n"
		 "group = nogroup\n"
		 "agent_socket = %s\n"
		 "control_socket = %s\n"
		 "policy = %s\n"
		 "on_exit = flush\n"
		 "log_level = %s\n"
		 "[enforcer]\n"
		 "%s"
		 "reconcile_interval = 1h\n"
		 "[limits]\n"
		 "%s"
		 "rate = 1000000\n"
		 "burst = 1000000\n",
		 name, d->agent, d->control, d->policy, log_level, enforcer, limits);
	snprintf(policy, sizeof(policy), "# written by %s: everything\n"
		 "allow * * * * * * *\n", name);
	err = write_file(d->policy, policy);
	return err ? err : write_file(d->conf, conf);
}

int bench_dyperd_connect(const struct bench_dyperd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->agent);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The last lines of dyperd's log, to explain a failure. */
static void show_log(const struct bench_dyperd *d)
{
	char buf[4096];
	int fd = open(d->log, O_RDONLY | O_CLOEXEC);
	off_t size;
	ssize_t n;

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		fprintf(stderr, "--- end of dyperd's log ---\n%s---\n", buf);
	}
}

int bench_dyperd_start(struct bench_dyperd *d, const char *bin, char *const envp[])
{
	uint64_t deadline = bench_now_ns() + DYPERD_START_S * NS;
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0) {
		int err = -errno;

		bench_fail("fork: %s", strerror(-err));
		return err;
	}
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		char *argv[] = { "dyperd", "-f", "-c", d->conf, NULL };
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execve(bin, argv, envp);
		fprintf(stderr, "%s: cannot run %s: %s\n", program_invocation_short_name, bin,
			strerror(errno));
		_exit(127);
	}
	d->pid = pid;
	while (bench_now_ns() < deadline) {
		int fd;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->pid = -1;
			show_log(d);
			bench_fail("dyperd exited at start (status 0x%x)", st);
			return -ECHILD;
		}
		fd = bench_dyperd_connect(d);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(10000);
	}
	show_log(d);
	bench_fail("dyperd did not listen on %s within %d s", d->agent, DYPERD_START_S);
	return -ETIMEDOUT;
}

int bench_dyperd_stop(struct bench_dyperd *d)
{
	pid_t pid = d->pid;
	uint64_t deadline = bench_now_ns() + DYPERD_STOP_S * NS;
	int st = 0;

	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			int err = -errno;

			d->pid = -1;
			bench_fail("waitpid: %s", strerror(-err));
			return err;
		}
		if (bench_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			d->pid = -1;
			bench_fail("dyperd did not stop within %d s of SIGTERM: killed",
				   DYPERD_STOP_S);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	d->pid = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		show_log(d);
		bench_fail("dyperd stopped with status 0x%x", st);
		return -ECHILD;
	}
	return 0;
}

void bench_dyperd_remove(struct bench_dyperd *d)
{
	const char *files[] = { d->conf, d->policy, d->agent, d->control, d->log };

	if (!d->dir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(d->dir);
}

void bench_dyperd_abort(struct bench_dyperd *d)
{
	if (d->pid > 0)
		kill(d->pid, SIGKILL);
	bench_dyperd_remove(d);
}

/* --- the agent protocol ------------------------------------------------------- */

int bench_listen_tcp(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr = { addr } };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void bench_pinhole_req(struct dyper_pinhole_req *req, uint32_t remote, uint16_t rport,
		       uint32_t local, uint16_t lport)
{
	memset(req, 0, sizeof(*req));
	req->family = AF_INET;
	req->proto = IPPROTO_TCP;
	req->remote_port = rport;
	req->local_port = lport;
	memcpy(req->remote, &remote, 4);
	memcpy(req->local, &local, 4);
}

int bench_send_msg(int ch, uint16_t type, uint32_t id, const void *payload, size_t plen,
		   int sock, int flags)
{
	char buf[DYPER_MSG_MAX];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int len = dyper_msg_encode(buf, sizeof(buf), type, 0, id, payload, plen);

	if (len < 0)
		return len;
	iov.iov_base = buf;
	iov.iov_len = (size_t)len;
	if (sock >= 0) {
		struct cmsghdr *c;

		msg.msg_control = ctl.b;
		msg.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &sock, sizeof(int));
	}
	return sendmsg(ch, &msg, MSG_NOSIGNAL | flags) < 0 ? -errno : 0;
}

int bench_recv_reply(int ch, int flags, uint32_t *id, struct dyper_reply *rep)
{
	char buf[256];
	struct dyper_hdr h;
	const void *p;
	ssize_t n = recv(ch, buf, sizeof(buf), flags);

	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	if (dyper_msg_decode(buf, (size_t)n, &h, &p) || h.type != DYPER_MSG_REPLY)
		return -EBADMSG;
	*id = h.id;
	memcpy(rep, p, sizeof(*rep));
	return 0;
}
