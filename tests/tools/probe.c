// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * probe: moves a few real bytes through the firewall, for the kernel tests.
 *
 *   probe serve tcp|udp ADDR PORT SECONDS
 *	listens on ADDR:PORT, prints "ready" once it does, echoes what it
 *	receives (TCP: on every connection; UDP: each datagram back to its
 *	sender) and exits after SECONDS.
 *   probe try tcp|udp ADDR PORT TIMEOUT_MS [--sport PORT]
 *	sends a token to ADDR:PORT (from source port PORT if given) and waits
 *	at most TIMEOUT_MS for it to come back.
 *
 * Exit status: 0 the token came back, 1 it did not (timeout, refused,
 * unreachable), 2 usage error, 3 local error (socket, bind, ...).
 * Every wait is bounded by poll(); nothing blocks.
 */

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

enum {
	PROBE_OK = 0,
	PROBE_BLOCKED = 1,
	PROBE_USAGE = 2,
	PROBE_ERROR = 3,
};

#define PROBE_MAX_CLIENTS	32
#define PROBE_RESEND_MS		250	/* UDP: resend the token this often */

struct probe_target {
	int type;			/* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: probe serve tcp|udp ADDR PORT SECONDS\n"
		"       probe try tcp|udp ADDR PORT TIMEOUT_MS [--sport PORT]\n"
		"exit: 0 echoed, 1 no echo (timeout/refused), 2 usage, 3 local error\n");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until @deadline, 0 once it has passed. */
static int left_ms(int64_t deadline)
{
	int64_t d = deadline - now_ms();

	return d > 0 ? (int)d : 0;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max,
		       const char *what, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "probe: bad %s \"%s\": expected %lu-%lu\n",
			what, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* argv: PROTO ADDR PORT */
static int parse_target(char **argv, struct probe_target *t)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
	unsigned long port;

	memset(t, 0, sizeof(*t));
	if (!strcmp(argv[0], "tcp"))
		t->type = SOCK_STREAM;
	else if (!strcmp(argv[0], "udp"))
		t->type = SOCK_DGRAM;
	else {
		fprintf(stderr, "probe: bad protocol \"%s\": expected tcp or udp\n", argv[0]);
		return -EINVAL;
	}
	if (parse_ulong(argv[2], 1, 65535, "port", &port))
		return -EINVAL;
	if (inet_pton(AF_INET, argv[1], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		t->addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[1], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		t->addrlen = sizeof(*sin6);
	} else {
		fprintf(stderr, "probe: bad address \"%s\": expected IPv4 or IPv6\n", argv[1]);
		return -EINVAL;
	}
	return 0;
}

static int probe_socket(const struct probe_target *t)
{
	int fd, one = 1;

	fd = socket(t->addr.ss_family, t->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("probe: socket");
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (t->addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		perror("probe: setsockopt");
		close(fd);
		return -1;
	}
	return fd;
}

/* --- serve ------------------------------------------------------------------ */

static void serve_drop(struct pollfd *fds, nfds_t *n, nfds_t i)
{
	close(fds[i].fd);
	fds[i] = fds[--*n];
}

static int serve_tcp(int lfd, int64_t deadline)
{
	struct pollfd fds[1 + PROBE_MAX_CLIENTS];
	nfds_t n = 1;
	char buf[2048];

	if (listen(lfd, 64) < 0) {
		perror("probe: listen");
		return PROBE_ERROR;
	}
	printf("ready\n");
	fflush(stdout);
	fds[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	while (left_ms(deadline) > 0) {
		if (poll(fds, n, left_ms(deadline)) < 0) {
			if (errno == EINTR)
				continue;
			perror("probe: poll");
			return PROBE_ERROR;
		}
		/* Walk down, so that dropping a client (moving the last one into
		 * its slot) never skips an unvisited one. */
		for (nfds_t i = n - 1; i > 0; i--) {
			ssize_t r;

			if (!fds[i].revents)
				continue;
			r = recv(fds[i].fd, buf, sizeof(buf), 0);
			if (r > 0 && send(fds[i].fd, buf, (size_t)r, MSG_NOSIGNAL) == r)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			serve_drop(fds, &n, i);
		}
		if (fds[0].revents & POLLIN) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (cfd >= 0 && n < 1 + PROBE_MAX_CLIENTS)
				fds[n++] = (struct pollfd){ .fd = cfd, .events = POLLIN };
			else if (cfd >= 0)
				close(cfd);	/* full: the client sees its echo fail */
		}
	}
	while (n > 1)
		serve_drop(fds, &n, n - 1);
	return PROBE_OK;
}

static int serve_udp(int fd, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[2048];

	printf("ready\n");
	fflush(stdout);
	while (left_ms(deadline) > 0) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t r;

		if (poll(&pfd, 1, left_ms(deadline)) < 0) {
			if (errno == EINTR)
				continue;
			perror("probe: poll");
			return PROBE_ERROR;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
		if (r >= 0)
			sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fromlen);
	}
	return PROBE_OK;
}

static int cmd_serve(int argc, char **argv)
{
	struct probe_target t;
	unsigned long secs;
	int fd, ret;

	if (argc != 4) {
		usage(stderr);
		return PROBE_USAGE;
	}
	if (parse_target(argv, &t) ||
	    parse_ulong(argv[3], 1, 86400, "duration in seconds", &secs))
		return PROBE_USAGE;
	fd = probe_socket(&t);
	if (fd < 0)
		return PROBE_ERROR;
	if (bind(fd, (struct sockaddr *)&t.addr, t.addrlen) < 0) {
		fprintf(stderr, "probe: bind %s port %s: %s\n", argv[1], argv[2],
			strerror(errno));
		close(fd);
		return PROBE_ERROR;
	}
	if (t.type == SOCK_STREAM)
		ret = serve_tcp(fd, now_ms() + (int64_t)secs * 1000);
	else
		ret = serve_udp(fd, now_ms() + (int64_t)secs * 1000);
	close(fd);
	return ret;
}

/* --- try -------------------------------------------------------------------- */

static bool errno_means_blocked(int err)
{
	return err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH ||
	       err == ENETUNREACH || err == ECONNRESET || err == EPIPE;
}

/* Waits for @events on @fd until @deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&pfd, 1, left_ms(deadline));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		perror("probe: poll");
	return r;
}

/* Reads until @want bytes of @token have come back, compares them. */
static int try_read_echo(int fd, const char *token, size_t want, int64_t deadline,
			 int resend_ms, const struct probe_target *t)
{
	char buf[256];
	size_t got = 0;
	int64_t next_send = resend_ms ? now_ms() + resend_ms : deadline;

	while (got < want) {
		int64_t until = next_send < deadline ? next_send : deadline;
		int r = wait_fd(fd, POLLIN, until);
		ssize_t n;

		if (r < 0)
			return PROBE_ERROR;
		if (r == 0) {
			if (!resend_ms || now_ms() >= deadline) {
				fprintf(stderr, "probe: no echo within the timeout\n");
				return PROBE_BLOCKED;
			}
			/* UDP: the datagram or its echo may be lost; send again. */
			send(fd, token, want, MSG_NOSIGNAL);
			next_send = now_ms() + resend_ms;
			continue;
		}
		n = recv(fd, buf + got, t->type == SOCK_DGRAM ? sizeof(buf) : want - got, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			fprintf(stderr, "probe: recv: %s\n", strerror(errno));
			return errno_means_blocked(errno) ? PROBE_BLOCKED : PROBE_ERROR;
		}
		if (n == 0) {
			fprintf(stderr, "probe: connection closed before the echo\n");
			return PROBE_BLOCKED;
		}
		if (t->type == SOCK_DGRAM) {
			if ((size_t)n == want && !memcmp(buf, token, want))
				return PROBE_OK;
			continue;	/* a stray datagram; keep waiting */
		}
		got += (size_t)n;
	}
	if (memcmp(buf, token, want)) {
		fprintf(stderr, "probe: the echo differs from what was sent\n");
		return PROBE_ERROR;
	}
	return PROBE_OK;
}

static int cmd_try(int argc, char **argv)
{
	struct probe_target t;
	struct sockaddr_storage src;
	unsigned long timeout, sport = 0;
	char token[64];
	int64_t deadline;
	size_t len;
	int fd, ret = PROBE_ERROR;

	if (argc != 4 && argc != 6) {
		usage(stderr);
		return PROBE_USAGE;
	}
	if (parse_target(argv, &t) ||
	    parse_ulong(argv[3], 1, 600000, "timeout in ms", &timeout))
		return PROBE_USAGE;
	if (argc == 6) {
		if (strcmp(argv[4], "--sport")) {
			fprintf(stderr, "probe: unexpected \"%s\"\n", argv[4]);
			usage(stderr);
			return PROBE_USAGE;
		}
		if (parse_ulong(argv[5], 1, 65535, "source port", &sport))
			return PROBE_USAGE;
	}
	deadline = now_ms() + (int64_t)timeout;
	len = (size_t)snprintf(token, sizeof(token), "dyper-probe %ld %lld",
			       (long)getpid(), (long long)now_ms());

	fd = probe_socket(&t);
	if (fd < 0)
		return PROBE_ERROR;
	if (sport) {
		memset(&src, 0, sizeof(src));
		src.ss_family = t.addr.ss_family;
		if (src.ss_family == AF_INET)
			((struct sockaddr_in *)&src)->sin_port = htons((uint16_t)sport);
		else
			((struct sockaddr_in6 *)&src)->sin6_port = htons((uint16_t)sport);
		if (bind(fd, (struct sockaddr *)&src, t.addrlen) < 0) {
			fprintf(stderr, "probe: bind source port %lu: %s\n", sport,
				strerror(errno));
			goto out;
		}
	}
	/* Connected UDP too: replies from anyone but the target are filtered,
	 * and an ICMP unreachable surfaces as ECONNREFUSED. */
	if (connect(fd, (struct sockaddr *)&t.addr, t.addrlen) < 0 &&
	    errno != EINPROGRESS) {
		fprintf(stderr, "probe: connect: %s\n", strerror(errno));
		ret = errno_means_blocked(errno) ? PROBE_BLOCKED : PROBE_ERROR;
		goto out;
	}
	if (t.type == SOCK_STREAM) {
		int err = 0, r = wait_fd(fd, POLLOUT, deadline);
		socklen_t elen = sizeof(err);

		if (r < 0)
			goto out;
		if (r == 0) {
			fprintf(stderr, "probe: connect: no answer within the timeout\n");
			ret = PROBE_BLOCKED;
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
			fprintf(stderr, "probe: connect: %s\n", strerror(err ? err : errno));
			ret = errno_means_blocked(err) ? PROBE_BLOCKED : PROBE_ERROR;
			goto out;
		}
	}
	if (send(fd, token, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "probe: send: %s\n", strerror(errno));
		ret = errno_means_blocked(errno) ? PROBE_BLOCKED : PROBE_ERROR;
		goto out;
	}
	ret = try_read_echo(fd, token, len, deadline,
			    t.type == SOCK_DGRAM ? PROBE_RESEND_MS : 0, &t);
out:
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return cmd_serve(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "try"))
		return cmd_try(argc - 2, argv + 2);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return PROBE_OK;
	}
	usage(stderr);
	return PROBE_USAGE;
}
