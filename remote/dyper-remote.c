// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyper-remote — border mode's restricted command on the site (the paper's
 * Mash role).  A stock sshd runs it for a host's key:
 *
 *   command="dyper-remote --delegate hostA",restrict ssh-ed25519 AAAA...
 *
 * It speaks only the wire grammar (remote/wire.h) on stdin/stdout and
 * relays it to the site controller's unix socket, after a first line
 * "DELEGATE <name>" of its own: the delegate comes from this command line,
 * which the host cannot change, never from a request.  The site controller
 * believes that line only because SO_PEERCRED shows the site account's uid.
 *
 * Every line is parsed both ways and passed on re-formatted (canonical),
 * so nothing but the grammar reaches the controller or the host.  Buffers
 * are bounded; when one fills, the side feeding it is not read until it
 * drains (back-pressure, never unbounded memory, never a blocking write).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "remote/wire.h"

#define DEFAULT_SOCKET		"/run/dyper/site.sock"
#define DEFAULT_MAX_ERRORS	10
#define OUT_BUF			(64 * 1024)
#define DRAIN_MS		10000	/* after the host's EOF, for the last replies */

/* Exit codes (sysexits(3) values, documented in dyper-remote(8)). */
enum {
	EXIT_USAGE = 64,	/* bad command line (authorized_keys) */
	EXIT_DATAERR = 65,	/* the host sent an overlong line, too many bad lines */
	EXIT_UNAVAILABLE = 69,	/* the site controller's socket is unreachable */
	EXIT_PROTOCOL = 76,	/* the site controller broke the grammar or went away */
};

struct buf {
	char d[OUT_BUF];
	size_t len;
};

struct line_in {
	char d[REMOTE_WIRE_LINE_MAX];
	size_t len;
	bool eof;
};

static const char *delegate;
static unsigned max_errors = DEFAULT_MAX_ERRORS;

static void say(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* To syslog, and to stderr, which sshd hands to the host's client as the
 * channel's stderr (where dyperd logs it). */
static void say(int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(prio, "delegate %s: %s", delegate ? delegate : "?", msg);
	fprintf(stderr, "dyper-remote: %s\n", msg);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dyper-remote --delegate HOST [--socket PATH] [--max-errors N]\n"
		"       dyper-remote --help | --version\n"
		"Relays border-mode requests (wire grammar version %d) from stdin to the\n"
		"site controller's socket (default %s) as delegate HOST.\n"
		"Meant as the forced command of a host's key in authorized_keys:\n"
		"  command=\"dyper-remote --delegate HOST\",restrict ssh-ed25519 ...\n",
		REMOTE_WIRE_VERSION, DEFAULT_SOCKET);
}

static bool buf_room(const struct buf *b)
{
	return sizeof(b->d) - b->len >= REMOTE_WIRE_LINE_MAX + 1;
}

static void buf_put(struct buf *b, const char *s, size_t n)
{
	/* callers check buf_room() first; a line never exceeds it */
	if (n > sizeof(b->d) - b->len)
		abort();
	memcpy(b->d + b->len, s, n);
	b->len += n;
}

static void put_msg(struct buf *b, const struct remote_msg *m)
{
	char line[REMOTE_WIRE_LINE_MAX + 1];
	int n;

	n = remote_wire_format(m, line, sizeof(line));
	if (n < 0)
		abort();	/* only ever called with parsed or built-here messages */
	buf_put(b, line, (size_t)n);
}

/* "<id> ERR <name> <text>" to the host; the text cut to the grammar's bound. */
static void put_err(struct buf *b, uint64_t id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put_err(struct buf *b, uint64_t id, int err, const char *fmt, ...)
{
	struct remote_msg m = { .type = REMOTE_MSG_ERR, .id = id, .err = err };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	put_msg(b, &m);
}

static void put_refuse(struct buf *b, const char *text)
{
	struct remote_msg m = { .type = REMOTE_MSG_REFUSE };

	snprintf(m.text, sizeof(m.text), "%s", text);
	put_msg(b, &m);
}

/* Writes what it can without blocking; -errno on a real error. */
static int flush(int fd, struct buf *b)
{
	ssize_t n;

	while (b->len) {
		n = write(fd, b->d, b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		memmove(b->d, b->d + n, b->len - (size_t)n);
		b->len -= (size_t)n;
	}
	return 0;
}

/* Reads what fits; sets eof.  -errno on a real error. */
static int fill(int fd, struct line_in *in)
{
	ssize_t n;

	if (in->len == sizeof(in->d) || in->eof)
		return 0;
	do
		n = read(fd, in->d + in->len, sizeof(in->d) - in->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (!n)
		in->eof = true;
	in->len += (size_t)n;
	return 0;
}

/* The next complete line's length (without "\n"), or -1. */
static ssize_t next_line(const struct line_in *in)
{
	const char *nl = memchr(in->d, '\n', in->len);

	return nl ? nl - in->d : -1;
}

static void consume(struct line_in *in, size_t n)
{
	memmove(in->d, in->d + n, in->len - n);
	in->len -= n;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int connect_site(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

struct relay {
	int sock;
	struct line_in host_in, site_in;
	struct buf to_site, to_host;
	bool greeted;		/* the host's "DYPER 1" went to the site */
	bool site_greeted;	/* the site's answer to it came back */
	unsigned errors;
	int exit_code;		/* set when the relay must end */
	bool done;
};

/* One bad line from the host: answered, counted, maybe the last. */
static void host_error(struct relay *r, uint64_t id, int err, const char *what, const char *line,
		       size_t len)
{
	r->errors++;
	say(LOG_WARNING, "bad line %u of %u allowed: %s: \"%.*s\"", r->errors, max_errors, what,
	    (int)(len > 80 ? 80 : len), line);
	if (!r->greeted)
		put_refuse(&r->to_host, what);
	else
		put_err(&r->to_host, id, err, "%s", what);
	if (r->errors >= max_errors) {
		say(LOG_ERR, "closing: %u bad lines from the host", r->errors);
		if (r->greeted)
			put_err(&r->to_host, 0, EPROTO, "too many bad lines; closing");
		r->exit_code = EXIT_DATAERR;
		r->done = true;
	}
}

static void host_line(struct relay *r, const char *line, size_t len)
{
	char why[REMOTE_WIRE_WHY_LEN];
	struct remote_msg m;
	int err;

	err = remote_wire_parse(line, len, &m, why);
	if (err) {
		host_error(r, m.id, -err, why, line, len);
		return;
	}
	if (!r->greeted) {
		if (m.type != REMOTE_MSG_HELLO) {
			host_error(r, 0, EPROTO, "expected \"DYPER 1\" first", line, len);
			return;
		}
		if (m.version != REMOTE_WIRE_VERSION) {
			char t[64];

			snprintf(t, sizeof(t), "version %u not supported; this is %d", m.version,
				 REMOTE_WIRE_VERSION);
			say(LOG_ERR, "closing: the host speaks version %u, this is %d", m.version,
			    REMOTE_WIRE_VERSION);
			put_refuse(&r->to_host, t);
			r->exit_code = EXIT_DATAERR;
			r->done = true;
			return;
		}
		r->greeted = true;
		put_msg(&r->to_site, &m);
		return;
	}
	if (m.type == REMOTE_MSG_DELEGATE) {
		/* the delegate is ours (authorized_keys), never the host's */
		host_error(r, 0, EPERM, "the delegate is set by the site, not by a request",
			   line, len);
		return;
	}
	if (!remote_msg_is_request(m.type)) {
		host_error(r, m.id, EPROTO, "not a request", line, len);
		return;
	}
	put_msg(&r->to_site, &m);
}

static void site_line(struct relay *r, const char *line, size_t len)
{
	char why[REMOTE_WIRE_WHY_LEN];
	struct remote_msg m;
	bool want_greeting = !r->site_greeted;

	if (remote_wire_parse(line, len, &m, why) ||
	    (want_greeting && m.type != REMOTE_MSG_WELCOME && m.type != REMOTE_MSG_REFUSE) ||
	    (!want_greeting && m.type != REMOTE_MSG_OK && m.type != REMOTE_MSG_ERR)) {
		say(LOG_ERR, "closing: the site controller sent a bad line (%s): \"%.*s\"",
		    why[0] ? why : "not expected now", (int)(len > 80 ? 80 : len), line);
		if (r->greeted)
			put_err(&r->to_host, 0, EPROTO, "site controller failed; closing");
		else
			put_refuse(&r->to_host, "site controller failed");
		r->exit_code = EXIT_PROTOCOL;
		r->done = true;
		return;
	}
	if (m.type == REMOTE_MSG_WELCOME || m.type == REMOTE_MSG_REFUSE)
		r->site_greeted = true;
	if (m.type == REMOTE_MSG_REFUSE)
		say(LOG_NOTICE, "the site controller refused the session: %s", m.text);
	put_msg(&r->to_host, &m);
}

/* Takes complete lines while the buffer they feed has room for an answer. */
static void take_lines(struct relay *r, struct line_in *in, struct buf *to,
		       void (*handle)(struct relay *, const char *, size_t), bool from_host)
{
	ssize_t n;

	while (!r->done && buf_room(to) && buf_room(&r->to_host) && (n = next_line(in)) >= 0) {
		handle(r, in->d, (size_t)n);
		consume(in, (size_t)n + 1);
	}
	if (r->done || next_line(in) >= 0)
		return;
	if (in->len == sizeof(in->d)) {
		if (from_host) {
			say(LOG_ERR, "closing: the host sent a line longer than %d bytes",
			    REMOTE_WIRE_LINE_MAX - 1);
			if (r->greeted)
				put_err(&r->to_host, 0, EMSGSIZE, "line longer than %d bytes; closing",
					REMOTE_WIRE_LINE_MAX - 1);
			else
				put_refuse(&r->to_host, "line too long");
			r->exit_code = EXIT_DATAERR;
		} else {
			say(LOG_ERR, "closing: the site controller sent an overlong line");
			put_err(&r->to_host, 0, EPROTO, "site controller failed; closing");
			r->exit_code = EXIT_PROTOCOL;
		}
		r->done = true;
	} else if (in->eof && in->len && from_host) {
		say(LOG_WARNING, "the host's last line has no newline; ignored");
		in->len = 0;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int relay_run(struct relay *r)
{
	uint64_t drain_until = 0;
	bool shut = false;
	int err;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = -1 }, { .fd = r->sock }, { .fd = -1 },
		};
		int timeout = -1;

		if (r->done && !r->to_host.len)
			return r->exit_code;
		if (!r->done) {
			if (!r->host_in.eof && r->host_in.len < sizeof(r->host_in.d) &&
			    buf_room(&r->to_site) && buf_room(&r->to_host))
				p[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
			if (!r->site_in.eof && r->site_in.len < sizeof(r->site_in.d) &&
			    buf_room(&r->to_host))
				p[1].events |= POLLIN;
			if (r->to_site.len)
				p[1].events |= POLLOUT;
		}
		if (r->to_host.len)
			p[2] = (struct pollfd){ .fd = 1, .events = POLLOUT };
		if (!p[1].events)
			p[1].fd = -1;	/* else a hang-up would wake us with nothing to do */
		if (drain_until) {
			uint64_t t = now_ms();

			if (t >= drain_until) {
				say(LOG_NOTICE, "the site controller did not close within %d ms of the host's end",
				    DRAIN_MS);
				return 0;
			}
			timeout = (int)(drain_until - t);
		}
		if (poll(p, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			say(LOG_ERR, "poll: %s", strerror(errno));
			return EXIT_FAILURE;
		}
		if (p[2].revents) {
			err = flush(1, &r->to_host);
			if (err) {
				/* the host went away: nothing to answer any more */
				say(LOG_INFO, "the host closed its side (%s)", strerror(-err));
				return r->done ? r->exit_code : 0;
			}
		}
		if (r->done)
			continue;
		if (p[0].revents) {
			err = fill(0, &r->host_in);
			if (err) {
				say(LOG_ERR, "reading from the host: %s", strerror(-err));
				return EXIT_FAILURE;
			}
		}
		take_lines(r, &r->host_in, &r->to_site, host_line, true);
		if (p[1].revents & POLLOUT || r->to_site.len) {
			err = flush(r->sock, &r->to_site);
			if (err) {
				say(LOG_ERR, "closing: writing to the site controller: %s", strerror(-err));
				r->exit_code = EXIT_PROTOCOL;
				r->done = true;
				continue;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			err = fill(r->sock, &r->site_in);
			if (err) {
				say(LOG_ERR, "closing: reading from the site controller: %s", strerror(-err));
				r->exit_code = EXIT_PROTOCOL;
				r->done = true;
				continue;
			}
		}
		take_lines(r, &r->site_in, &r->to_host, site_line, false);
		if (r->done)
			continue;
		if (r->site_in.eof && next_line(&r->site_in) < 0) {
			if (shut)
				return 0;	/* it answered what the host sent, then closed */
			say(LOG_ERR, "closing: the site controller closed the connection");
			if (r->greeted)
				put_err(&r->to_host, 0, ECONNRESET, "site controller closed; closing");
			else
				put_refuse(&r->to_host, "site controller closed");
			r->exit_code = EXIT_PROTOCOL;
			r->done = true;
			continue;
		}
		if (r->host_in.eof && !r->host_in.len && !r->to_site.len && !shut) {
			/* the host is done: the site answers what is in flight, then closes */
			shutdown(r->sock, SHUT_WR);
			shut = true;
			drain_until = now_ms() + DRAIN_MS;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delegate", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "max-errors", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static struct relay r;
	const char *path = DEFAULT_SOCKET, *cmd, *conn;
	int c, fd;

	openlog("dyper-remote", LOG_PID, LOG_AUTH);
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			delegate = optarg;
			break;
		case 's':
			path = optarg;
			break;
		case 'e': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || !v || v > 1000) {
				fprintf(stderr, "dyper-remote: --max-errors: expected 1..1000, found \"%s\"\n",
					optarg);
				return EXIT_USAGE;
			}
			max_errors = (unsigned)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dyper-remote %s (wire grammar version %d)\n", DYPER_VERSION,
			       REMOTE_WIRE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dyper-remote: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!delegate) {
		fprintf(stderr, "dyper-remote: --delegate HOST is required (set it in the key's "
				"command= in authorized_keys)\n");
		return EXIT_USAGE;
	}
	if (!remote_name_valid(delegate, strlen(delegate))) {
		const char *bad = delegate;

		delegate = NULL;
		say(LOG_ERR, "--delegate \"%.80s\": expected 1..%d of [A-Za-z0-9.-], starting with a "
			     "letter or digit; fix the key's command= in authorized_keys",
		    bad, REMOTE_WIRE_NAME_MAX);
		return EXIT_USAGE;
	}
	if (!path[0] || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		say(LOG_ERR, "--socket: expected a path of 1..%zu bytes",
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return EXIT_USAGE;
	}
	/* what the host asked for is irrelevant: it gets this command only */
	cmd = getenv("SSH_ORIGINAL_COMMAND");
	conn = getenv("SSH_CONNECTION");
	syslog(LOG_INFO, "delegate %s: session from %s%s%.80s%s", delegate,
	       conn ? conn : "(no SSH_CONNECTION)", cmd ? ", asked to run \"" : "",
	       cmd ? cmd : "", cmd ? "\" (ignored)" : "");

	fd = connect_site(path);
	if (fd < 0) {
		say(LOG_ERR, "cannot reach the site controller at %s: %s; is dyperd running in site mode?",
		    path, strerror(-fd));
		printf("DYPER ERR site controller unavailable\n");
		fflush(stdout);
		return EXIT_UNAVAILABLE;
	}
	r.sock = fd;
	if (set_nonblock(fd) || set_nonblock(0) || set_nonblock(1)) {
		say(LOG_ERR, "cannot make the descriptors non-blocking: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	{
		struct remote_msg m = { .type = REMOTE_MSG_DELEGATE };

		memcpy(m.name, delegate, strlen(delegate) + 1);
		put_msg(&r.to_site, &m);
	}
	return relay_run(&r);
}
