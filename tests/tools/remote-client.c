// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote-client: a test tool on remote/ssh.c, the host side of border mode.
 *
 *   remote-client --host ADDR [--port N] --user U --key FILE --known-hosts FILE
 *                 [--reconnect N] [--keepalive-ms N] [--timeout-ms N] [--max-ms N]
 *
 * Connects (event loop: poll on the session's fd and deadline), and sends
 * every line read from stdin as it is (raw: tests send bad grammar too),
 * once the session is ready; lines read before that wait.  Prints:
 *   ready SITE                 the session reached READY
 *   <reply line>               each line from the site, as received
 *   closed ERRNO-NAME TEXT     the session ended (ERRNO-NAME from remote/wire)
 *   lost N                     lines sent in that session and not answered
 * With --reconnect N it starts again up to N times after remote_backoff_ms().
 * Exits 0 once stdin has ended and every line sent was answered; 1 when
 * the session ended for good; 2 usage or setup (key refused: the message);
 * 3 when --max-ms (default 30000) passed.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "remote/ssh.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned long num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "remote-client: %s: not a number: %s\n", what, s);
		exit(2);
	}
	return v;
}

static int run(struct remote_ssh *s, unsigned long reconnects, unsigned long max_ms);

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "key", required_argument, NULL, 'k' },
		{ "known-hosts", required_argument, NULL, 'K' },
		{ "reconnect", required_argument, NULL, 'r' },
		{ "keepalive-ms", required_argument, NULL, 'a' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "max-ms", required_argument, NULL, 'm' },
		{ 0 },
	};
	struct remote_ssh_config cfg = { 0 };
	char why[REMOTE_SSH_ERROR_LEN] = "";
	unsigned long reconnects = 0, max_ms = 30000;
	struct remote_ssh *s;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': cfg.host = optarg; break;
		case 'p': cfg.port = (uint16_t)num(optarg, "--port"); break;
		case 'u': cfg.user = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'K': cfg.known_hosts = optarg; break;
		case 'r': reconnects = num(optarg, "--reconnect"); break;
		case 'a': cfg.keepalive_ms = (uint32_t)num(optarg, "--keepalive-ms"); break;
		case 't': cfg.connect_timeout_ms = (uint32_t)num(optarg, "--timeout-ms"); break;
		case 'm': max_ms = num(optarg, "--max-ms"); break;
		default:
			fprintf(stderr, "remote-client: see the comment at the top of remote-client.c\n");
			return 2;
		}
	}
	err = remote_ssh_new(&s, &cfg, why);
	if (err) {
		printf("refused %s %s\n", remote_errno_name(-err) ? remote_errno_name(-err) : "?", why);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	err = run(s, reconnects, max_ms);
	remote_ssh_free(s);
	return err;
}

/* The event loop; its exit code. */
static int run(struct remote_ssh *s, unsigned long reconnects, unsigned long max_ms)
{
	char in[4 * REMOTE_WIRE_LINE_MAX], line[REMOTE_WIRE_LINE_MAX + 1];
	size_t in_len = 0;
	unsigned long attempt = 0, pending = 0;
	uint64_t end, retry_at = 0;
	bool in_eof = false, was_ready = false;

	end = now_ms() + max_ms;
	remote_ssh_start(s, now_ms());
	for (;;) {
		enum remote_ssh_state st = remote_ssh_state(s);
		struct pollfd p[2] = { { .fd = -1 }, { .fd = remote_ssh_fd(s) } };
		uint64_t t = now_ms(), dl = remote_ssh_deadline(s);
		int timeout;
		ssize_t n;
		char *nl;

		if (st == REMOTE_SSH_READY && !was_ready) {
			was_ready = true;
			attempt = 0;
			printf("ready %s\n", remote_ssh_site(s));
		}
		/* replies, also those buffered when the session just ended */
		while ((n = remote_ssh_recv_line(s, line, sizeof(line))) >= 0) {
			printf("%s\n", line);
			if (pending)
				pending--;
		}
		st = remote_ssh_state(s);
		if (st == REMOTE_SSH_CLOSED && !retry_at) {
			int e = remote_ssh_errno(s);

			printf("closed %s %s\n", remote_errno_name(-e) ? remote_errno_name(-e) : "?",
			       remote_ssh_error(s));
			if (pending)
				printf("lost %lu\n", pending);
			pending = 0;
			was_ready = false;
			if (!reconnects)
				return 1;
			reconnects--;
			retry_at = t + remote_backoff_ms((unsigned)attempt++, (uint32_t)random());
		}
		if (retry_at && t >= retry_at) {
			retry_at = 0;
			remote_ssh_start(s, t);
			continue;
		}
		/* stdin lines go out once ready */
		if (st == REMOTE_SSH_READY) {
			while ((nl = memchr(in, '\n', in_len))) {
				size_t k = (size_t)(nl - in) + 1;

				if (remote_ssh_send_raw(s, in, k))
					break;
				pending++;
				memmove(in, in + k, in_len - k);
				in_len -= k;
			}
			if (in_eof && !in_len && !pending && !remote_ssh_queued(s))
				return 0;
		}
		if (t >= end) {
			printf("timeout after %lu ms (state %s, %lu unanswered)\n", max_ms,
			       remote_ssh_state_name(st), pending);
			return 3;
		}
		if (!in_eof && in_len < sizeof(in))
			p[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
		p[1].events = remote_ssh_events(s);
		if (retry_at && retry_at < dl)
			dl = retry_at;
		if (end < dl)
			dl = end;
		timeout = dl <= t ? 0 : (int)(dl - t);
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			return 2;
		if (p[0].revents) {
			n = read(0, in + in_len, sizeof(in) - in_len);
			if (n > 0)
				in_len += (size_t)n;
			else if (n == 0 || errno != EAGAIN)
				in_eof = true;
		}
		remote_ssh_step(s, now_ms());
	}
}
