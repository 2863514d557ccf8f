// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * site_bench: pinholes per second through the site side of border mode:
 * dyper-remote (as sshd would run it, the host's lines on its stdin) ->
 * dyperd in site mode (grammar, site policy, quota, leases) -> the router's
 * table, at [site] batch = 1, 10, 100 and 1000.  SSH itself is not in the
 * path (the host side's benchmark adds it).  One dyper-remote session
 * streams N OPENs and the clock runs until the N-th "<id> OK", each of
 * which the site sends only once the router applied the pinhole; then the
 * same for N CLOSEs.  It starts its own dyperd (DYPERD, default
 * build/bin/dyperd; DYPER_REMOTE, default build/bin/dyper-remote) and
 * changes the firewall of the network namespace it runs in: run it only
 * through tests/run-bench.sh (unshare -n).  Every loop is bounded in count
 * and time; addresses are documentation ones only.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "nft/enforcer.h"
#include "tests/bench/util/bench.h"

#define N_OPS		20000		/* pinholes per run */
#define RUN_MS		60000		/* per phase, at most */

static const unsigned batch_sizes[] = { 1, 10, 100, 1000 };
#define N_SIZES		(sizeof(batch_sizes) / sizeof(batch_sizes[0]))

static char dir[64], conf[96], policy[96], sock[96], ctl[96], log_path[96];
static volatile pid_t site_pid = -1, remote_pid = -1;

static void on_signal(int sig)
{
	if (site_pid > 0)
		kill(site_pid, SIGKILL);
	if (remote_pid > 0)
		kill(remote_pid, SIGKILL);
	_exit(128 + sig);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -EIO : 0;
}

static int setup(unsigned batch, const char *table)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "# written by site_bench\n"
		 "[daemon]\nuser = nobody\ngroup = nogroup\ncontrol_socket = %s\n"
		 "agent_socket = %s/agent.sock\nlog_level = notice\n"
		 "[enforcer]\nmax_pinholes = 200000\nreconcile_interval = 1h\n"
		 "tamper_check_interval = 1h\n"
		 "[site]\nenable = yes\nname = bench\nsocket = %s\naccount = 0\npolicy = %s\n"
		 "max_per_delegate = 16777216\nmax_lease = 1h\nbatch = %u\nrate = 1000000\n"
		 "burst = 1000000\ntable = %s\ninside = int0\n",
		 ctl, dir, sock, policy, batch, table);
	return write_file(conf, text);
}

static int start_site(const char *bin)
{
	char *argv[] = { (char *)bin, "-c", conf, "-f", NULL };
	uint64_t end = bench_now_ns() + 10000000000ull;
	struct stat st;
	pid_t pid;
	int fd, err;

	unlink(sock);
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(bin, argv);
		_exit(127);
	}
	close(fd);
	site_pid = pid;
	while (stat(sock, &st)) {
		if (bench_now_ns() > end || waitpid(pid, NULL, WNOHANG) == pid)
			return bench_fail("dyperd in site mode did not start: see %s", log_path);
		usleep(10000);
	}
	return 0;
}

static void stop_site(void)
{
	if (site_pid > 0) {
		kill(site_pid, SIGTERM);
		waitpid(site_pid, NULL, 0);
	}
	site_pid = -1;
}

/* Line @i of a run: the OPEN or CLOSE of pinhole @i. */
static int op_line(char *buf, size_t len, bool open, uint32_t i)
{
	unsigned remote = 1 + i % 250, port = 1024 + i / 250;

	if (open)
		return snprintf(buf, len, "%u OPEN tcp 203.0.113.%u * 198.51.100.10 %u 3600\n",
				i + 1, remote, port);
	return snprintf(buf, len, "%u CLOSE tcp 203.0.113.%u * 198.51.100.10 %u\n", i + 1,
			remote, port);
}

/*
 * Streams N_OPS lines to dyper-remote's stdin (@in) while counting "OK"
 * replies on its stdout (@out); the elapsed seconds until the last one
 * into *@secs.  -errno on failure, a reply other than OK included.
 */
static int run_phase(int in, int out, bool open, double *secs)
{
	char line[128], rbuf[65536];
	size_t rlen = 0, wlen = 0, woff = 0;
	uint32_t next = 0, oks = 0;
	uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)RUN_MS * 1000000;
	char wbuf[65536];

	while (oks < N_OPS) {
		struct pollfd p[2] = { { .fd = out, .events = POLLIN },
				       { .fd = in, .events = POLLOUT } };
		int nfds = next < N_OPS || woff < wlen ? 2 : 1;

		if (bench_now_ns() > end)
			return bench_fail("%s: %u of %u answered within %d s", open ? "open" : "close",
					  oks, N_OPS, RUN_MS / 1000);
		if (poll(p, (nfds_t)nfds, 1000) < 0 && errno != EINTR)
			return -errno;
		if (nfds == 2 && (p[1].revents & POLLOUT)) {
			while (next < N_OPS && wlen + sizeof(line) < sizeof(wbuf)) {
				int n = op_line(line, sizeof(line), open, next++);

				memcpy(wbuf + wlen, line, (size_t)n);
				wlen += (size_t)n;
			}
			ssize_t w = write(in, wbuf + woff, wlen - woff);

			if (w > 0)
				woff += (size_t)w;
			if (woff == wlen)
				woff = wlen = 0;
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(out, rbuf + rlen, sizeof(rbuf) - rlen);
			char *s = rbuf, *nl;

			if (r <= 0)
				return bench_fail("dyper-remote ended after %u replies", oks);
			rlen += (size_t)r;
			while ((nl = memchr(s, '\n', rlen - (size_t)(s - rbuf)))) {
				if (nl - s >= 3 && !memcmp(nl - 3, " OK", 3))
					oks++;
				else if (strncmp(s, "DYPER 1 OK", 10))
					return bench_fail("unexpected reply: %.*s", (int)(nl - s), s);
				s = nl + 1;
			}
			rlen -= (size_t)(s - rbuf);
			memmove(rbuf, s, rlen);
		}
	}
	*secs = (double)(bench_now_ns() - t0) / 1e9;
	return 0;
}

static int run_size(const char *bin, const char *remote, unsigned batch, double *open_rate,
		    double *close_rate)
{
	char table[32];
	int to[2] = { -1, -1 }, from[2] = { -1, -1 }, err;
	double s_open = 0, s_close = 0;
	pid_t pid;

	snprintf(table, sizeof(table), "dyper_b%u", batch);
	err = setup(batch, table);
	if (!err)
		err = start_site(bin);
	if (err)
		return err;
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC)) {
		err = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		execl(remote, remote, "--delegate", "bench", "--socket", sock, (char *)NULL);
		_exit(127);
	}
	remote_pid = pid;
	close(to[0]);
	close(from[1]);
	to[0] = from[1] = -1;
	fcntl(to[1], F_SETFL, O_NONBLOCK);
	if (write(to[1], "DYPER 1\n", 8) != 8) {
		err = -EIO;
		goto out;
	}
	err = run_phase(to[1], from[0], true, &s_open);
	if (!err)
		err = run_phase(to[1], from[0], false, &s_close);
out:
	for (int i = 0; i < 2; i++) {
		if (to[i] >= 0)
			close(to[i]);
		if (from[i] >= 0)
			close(from[i]);
	}
	if (remote_pid > 0) {
		kill(remote_pid, SIGTERM);
		waitpid(remote_pid, NULL, 0);
		remote_pid = -1;
	}
	stop_site();
	if (!err) {
		*open_rate = N_OPS / s_open;
		*close_rate = N_OPS / s_close;
	}
	return err;
}

int main(void)
{
	const char *bin = getenv("DYPERD") && *getenv("DYPERD") ? getenv("DYPERD") :
			  "build/bin/dyperd";
	const char *remote = getenv("DYPER_REMOTE") && *getenv("DYPER_REMOTE") ?
			     getenv("DYPER_REMOTE") : "build/bin/dyper-remote";
	char a[32], b[32];
	int rc = 0;

	if (bench_check_netns())
		return 1;
	bench_on_signals(on_signal);
	snprintf(dir, sizeof(dir), "/tmp/site_bench.XXXXXX");
	if (!mkdtemp(dir))
		return bench_fail("mkdtemp: %s", strerror(errno)) ? 1 : 1;
	snprintf(conf, sizeof(conf), "%s/dyper.conf", dir);
	snprintf(policy, sizeof(policy), "%s/site-policy", dir);
	snprintf(sock, sizeof(sock), "%s/site.sock", dir);
	snprintf(ctl, sizeof(ctl), "%s/control.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/dyperd.log", dir);
	if (write_file(policy, "allow bench * * * * 198.51.100.10 *\n"))
		return 1;
	printf("site_bench: %d pinholes through dyper-remote -> dyperd (site mode) -> the "
	       "router's table, per [site] batch\n", N_OPS);
	for (size_t i = 0; i < N_SIZES; i++) {
		double o = 0, c = 0;

		if (run_size(bin, remote, batch_sizes[i], &o, &c)) {
			rc = 1;
			break;
		}
		printf("site_bench: batch %5u: open %s/s, close %s/s\n", batch_sizes[i],
		       bench_grouped(o, a, sizeof(a)), bench_grouped(c, b, sizeof(b)));
		fflush(stdout);
	}
	unlink(conf);
	unlink(policy);
	unlink(log_path);
	unlink(sock);
	rmdir(dir);
	return rc;
}
