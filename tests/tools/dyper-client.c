// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyper-client: speaks the agent protocol to dyperd, for the integration
 * tests (the real agent is preload/).  It binds a real socket, asks for a
 * pinhole to it exactly as the agent does (the socket and a private reply
 * socket passed with SCM_RIGHTS), then serves echo on it.
 *
 *   dyper-client [-s SOCK | -i] open tcp|udp REMOTE RPORT|* LOCAL LPORT [options]
 *     --hold SECONDS     keep the socket open and echo (default 0: exit at once)
 *     --forge PORT       ask for PORT while passing the socket bound to LPORT
 *     --no-fd            do not pass the socket at all
 *     --lifetime MS      wished lifetime
 *     --close            close the pinhole (CLOSE request) before exiting
 *     --netns            bind the socket to the wildcard address in a new user
 *                        and network namespace (a child's) and pass that one
 *   dyper-client [-s SOCK] uids [--userns] [--hold S] tcp REMOTE LOCAL BASEPORT UID...
 *     one channel; one socket per UID on BASEPORT, BASEPORT+1, ...; each OPEN
 *     carries SCM_CREDENTIALS naming its UID (root, or root of a user
 *     namespace, may).  --userns: unshare(CLONE_NEWUSER) after connecting,
 *     print "userns PID" and wait (10 s at most) for someone to write our
 *     uid_map and gid_map.  Prints one reply line per UID, then
 *     "uids: N ok, N edquot, N other".
 *   dyper-client [-s SOCK] reuse N SECONDS tcp|udp REMOTE LOCAL PORT
 *     one channel; N times at most (and SECONDS at most): bind PORT, OPEN,
 *     close the socket; the next bind and OPEN follow at once.  Prints
 *     "reuse: N tries, N ok, N eaddrinuse, N other".
 *     --after FILE       connect and bind, print "waiting", then wait (60 s
 *                        at most) until FILE exists before asking: a channel
 *                        that was there before
 *     --extra-fds N      pass N more descriptors (of /dev/null) than dyperd
 *                        takes, so that they arrive cut short (MSG_CTRUNC)
 *     --again            then ask once more on the same channel, as is
 *     --exec PROG ARG... (last) ask without waiting for the reply, then
 *                        execv(PROG) at once, the socket inherited: a
 *                        program that asks and then becomes another
 *   -i: the channel dyper-wrap passed (DYPER_CHANNEL_FD), not a new one.
 *   dyper-client [-s SOCK] children N tcp REMOTE LOCAL BASEPORT
 *     N children share one channel; each opens a pinhole to its own port at
 *     the same moment; every reply must reach the child that asked.
 *   dyper-client [-s SOCK] stream SECONDS MAX tcp|udp REMOTE LOCAL LPORT [--hold S]
 *                                [--window N]
 *     one socket bound to LOCAL:LPORT, one channel: opens pinholes from
 *     REMOTE, remote port 1, 2, ... (a new one each), N requests in flight
 *     (default 32, at most 4096), until MAX (at most 65535) were answered or
 *     SECONDS passed; prints "started" after the first ok, then "stream:
 *     N ok, M failed" (and the first errors); then holds the socket, and
 *     with it the pinholes, for S seconds.
 *   dyper-client [-s SOCK] raw hex|badversion|badtype|short
 *     sends a malformed message and prints the reply.
 *   dyper-client [-s SOCK] channels N SECONDS
 *     opens N channels (at most 1024), then after a second counts those
 *     dyperd closed; holds the rest SECONDS (at most 600) or until killed.
 *   dyper-client [-s SOCK] flood SECONDS hello|open tcp REMOTE LOCAL LPORT
 *     sends HELLO, or OPEN passing a socket bound to LPORT, as fast as the
 *     channel takes them for SECONDS (at most 600), never reading a reply.
 *   dyper-client [-s SOCK | -i] ticket [--hold S]
 *     asks for the channel's resume ticket, prints "ticket ID SECRET" (hex),
 *     then holds the channel S seconds (or until killed)
 *   dyper-client [-s SOCK] resume ID SECRET [tcp REMOTE LOCAL LPORT] [--hold S]
 *     connects to the resume socket beside SOCK and presents the ticket;
 *     prints the reply; with a pinhole, then asks for it on the resumed
 *     channel (a socket bound to LOCAL:LPORT) and prints that reply too
 * Prints "ok ID LIFETIME" or "err ERRNO REASON"; exit 0 only for ok.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "dyperd/proto.h"

#define MAX_PASS 8	/* descriptors one message may pass here */

static const char *sock_path = DYPER_AGENT_SOCKET;
static bool inherited;	/* -i */

static int connect_dyperd(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (inherited) {
		const char *env = getenv(DYPER_CHANNEL_ENV);

		if (!env || (fd = atoi(env)) < 3) {
			fprintf(stderr, "dyper-client: -i: no %s\n", DYPER_CHANNEL_ENV);
			exit(3);
		}
		return fd;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "dyper-client: cannot connect to %s: %s\n", sock_path, strerror(errno));
		exit(3);
	}
	return fd;
}

/* Sends one message with @fds (and a new reply socket last if @reply_fd:
 * its other end in *@wait_fd, else -1) and credentials @cr (NULL: the
 * kernel's). */
static int send_msg(int ch, const struct ucred *cr, uint16_t type, const void *payload,
		    size_t plen, int *fds, int nfds, bool reply_fd, int *wait_fd, uint32_t id)
{
	char buf[DYPER_MSG_MAX];
	union {
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(MAX_PASS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int pair[2] = { -1, -1 }, all[MAX_PASS], n = 0, len;

	*wait_fd = -1;
	len = dyper_msg_encode(buf, sizeof(buf), type, reply_fd ? DYPER_F_REPLY_FD : 0, id,
			       payload, plen);
	if (len < 0)
		return len;
	if (nfds > MAX_PASS - 1)
		return -E2BIG;
	for (int i = 0; i < nfds; i++)
		all[n++] = fds[i];
	if (reply_fd) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
			return -errno;
		all[n++] = pair[1];
	}
	iov.iov_base = buf;
	iov.iov_len = (size_t)len;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_control = ctl.b;
	msg.msg_controllen = (n ? CMSG_SPACE((size_t)n * sizeof(int)) : 0) +
			     (cr ? CMSG_SPACE(sizeof(*cr)) : 0);
	if (n) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), all, (size_t)n * sizeof(int));
	}
	if (cr) {
		struct cmsghdr *c = (struct cmsghdr *)(ctl.b + (n ? CMSG_SPACE((size_t)n *
								       sizeof(int)) : 0));

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(*cr));
		memcpy(CMSG_DATA(c), cr, sizeof(*cr));
	}
	if (!msg.msg_controllen)
		msg.msg_control = NULL;
	if (sendmsg(ch, &msg, MSG_NOSIGNAL) < 0) {
		int e = -errno;

		if (reply_fd) {
			close(pair[0]);
			close(pair[1]);
		}
		return e;
	}
	if (reply_fd) {
		close(pair[1]);
		*wait_fd = pair[0];
	}
	return 0;
}

/* Sends one message with @fds (the reply socket last) and waits for the
 * reply on @reply_fd (or the channel if -1). */
static int transact_as(int ch, const struct ucred *cr, uint16_t type, const void *payload,
		       size_t plen, int *fds, int nfds, bool reply_fd, struct dyper_reply *rep,
		       uint32_t id)
{
	char rbuf[256];
	struct pollfd pfd;
	struct dyper_hdr h;
	const void *p;
	int wait_fd, err;
	ssize_t r;

	err = send_msg(ch, cr, type, payload, plen, fds, nfds, reply_fd, &wait_fd, id);
	if (err)
		return err;
	pfd.fd = wait_fd >= 0 ? wait_fd : ch;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1)
		return -ETIMEDOUT;
	r = recv(pfd.fd, rbuf, sizeof(rbuf), 0);
	if (wait_fd >= 0)
		close(wait_fd);
	if (r <= 0)
		return r ? -errno : -ECONNRESET;
	if (dyper_msg_decode(rbuf, (size_t)r, &h, &p) || h.type != DYPER_MSG_REPLY)
		return -EBADMSG;
	if (h.id != id)
		return -EPROTO;	/* the reply belongs to someone else */
	memcpy(rep, p, sizeof(*rep));
	return 0;
}

static int transact(int ch, uint16_t type, const void *payload, size_t plen, int *fds,
		    int nfds, bool reply_fd, struct dyper_reply *rep, uint32_t id)
{
	return transact_as(ch, NULL, type, payload, plen, fds, nfds, reply_fd, rep, id);
}

static int parse_addr(const char *s, int *family, uint8_t *out)
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	fprintf(stderr, "dyper-client: bad address \"%s\"\n", s);
	return -EINVAL;
}

static int bind_socket(int family, int proto, const uint8_t *addr, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, fd;

	fd = socket(family, proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    (proto == IPPROTO_TCP && listen(fd, 16))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* A socket bound to the wildcard address and @port in a new user and
 * network namespace: a forked child makes it and passes it back. */
static int bind_foreign(int family, int proto, uint16_t port)
{
	static const uint8_t any[16];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char c = 0;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm;
	int sv[2], fd = -EPROTO, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
			fprintf(stderr, "dyper-client: unshare: %s\n", strerror(errno));
			_exit(1);
		}
		fd = bind_socket(family, proto, any, port);
		if (fd < 0) {
			fprintf(stderr, "dyper-client: bind in the new namespace: %s\n",
				strerror(-fd));
			_exit(1);
		}
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		_exit(sendmsg(sv[1], &msg, 0) == 1 ? 0 : 1);
	}
	close(sv[1]);
	if (pid > 0 && recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) == 1 &&
	    (cm = CMSG_FIRSTHDR(&msg)) && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(sv[0]);
	if (pid < 0)
		return -errno;
	waitpid(pid, &st, 0);
	return fd;
}

/* Echo on @fd for @secs seconds (TCP: accept, echo one read). */
static void serve(int fd, int proto, int secs)
{
	time_t end = time(NULL) + secs;

	while (time(NULL) < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char buf[512];

		if (poll(&pfd, 1, 200) != 1)
			continue;
		if (proto == IPPROTO_TCP) {
			int c = accept(fd, NULL, NULL);
			ssize_t n;

			if (c < 0)
				continue;
			pfd.fd = c;
			if (poll(&pfd, 1, 2000) == 1 && (n = read(c, buf, sizeof(buf))) > 0 &&
			    write(c, buf, (size_t)n) < 0)
				perror("write");
			close(c);
		} else {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

			if (n > 0)
				sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
		}
	}
}

static int print_reply(int err, const struct dyper_reply *rep)
{
	if (err) {
		printf("err %d transport: %s\n", err, strerror(-err));
		return 1;
	}
	if (rep->status) {
		printf("err %d %s\n", rep->status, rep->reason);
		return 1;
	}
	printf("ok %u %u\n", rep->pinhole_id, rep->lifetime_ms);
	return 0;
}

static int cmd_open(int argc, char **argv)
{
	struct dyper_pinhole_req req = { 0 };
	struct dyper_reply rep;
	int family, fam2, hold = 0, fd, ch, err, rc, extra = 0, pass[MAX_PASS], npass = 0;
	bool no_fd = false, do_close = false, netns = false, again = false;
	unsigned long forge = 0;
	const char *after = NULL;
	char **exec_argv = NULL;

	if (argc < 5) {
		fprintf(stderr, "usage: open tcp|udp REMOTE RPORT|* LOCAL LPORT [options]\n");
		return 2;
	}
	req.proto = !strcmp(argv[0], "udp") ? IPPROTO_UDP : IPPROTO_TCP;
	if (parse_addr(argv[1], &family, req.remote) || parse_addr(argv[3], &fam2, req.local))
		return 2;
	req.family = (uint8_t)family;
	req.remote_port = strcmp(argv[2], "*") ? (uint16_t)atoi(argv[2]) : 0;
	req.local_port = (uint16_t)atoi(argv[4]);
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			hold = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--forge") && i + 1 < argc)
			forge = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--lifetime") && i + 1 < argc)
			req.lifetime_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--no-fd"))
			no_fd = true;
		else if (!strcmp(argv[i], "--close"))
			do_close = true;
		else if (!strcmp(argv[i], "--netns"))
			netns = true;
		else if (!strcmp(argv[i], "--after") && i + 1 < argc)
			after = argv[++i];
		else if (!strcmp(argv[i], "--extra-fds") && i + 1 < argc)
			extra = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--again"))
			again = true;
		else if (!strcmp(argv[i], "--exec") && i + 1 < argc) {
			exec_argv = argv + i + 1;
			break;
		} else {
			fprintf(stderr, "dyper-client: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	fd = netns ? bind_foreign(fam2, req.proto, req.local_port) :
		     bind_socket(fam2, req.proto, req.local, req.local_port);
	if (fd < 0) {
		fprintf(stderr, "dyper-client: bind: %s\n", strerror(-fd));
		return 3;
	}
	if (forge)
		req.local_port = (uint16_t)forge;
	ch = connect_dyperd();
	if (after) {
		printf("waiting\n");
		fflush(stdout);
	}
	for (int i = 0; after && access(after, F_OK) && i < 6000; i++)
		usleep(10000);
	if (exec_argv) {
		int ignored;

		/* the reply, if any, comes on the channel: nobody reads it */
		err = send_msg(ch, NULL, DYPER_MSG_OPEN, &req, sizeof(req), &fd, no_fd ? 0 : 1, false,
			       &ignored, 1);
		if (err) {
			fprintf(stderr, "dyper-client: send: %s\n", strerror(-err));
			return 3;
		}
		execv(exec_argv[0], exec_argv);
		fprintf(stderr, "dyper-client: %s: %s\n", exec_argv[0], strerror(errno));
		return 3;
	}
	if (!no_fd)
		pass[npass++] = fd;
	for (int i = 0; i < extra && npass < MAX_PASS - 1; i++)
		pass[npass++] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	err = transact(ch, DYPER_MSG_OPEN, &req, sizeof(req), pass, npass, true, &rep, 1);
	rc = print_reply(err, &rep);
	if (again) {
		err = transact(ch, DYPER_MSG_OPEN, &req, sizeof(req), &fd, no_fd ? 0 : 1, true,
			       &rep, 3);
		rc = print_reply(err, &rep);
	}
	fflush(stdout);
	if (hold)
		serve(fd, req.proto, hold);
	if (do_close) {
		err = transact(ch, DYPER_MSG_CLOSE, &req, sizeof(req), NULL, 0, true, &rep, 2);
		rc |= print_reply(err, &rep);
	}
	close(fd);
	return rc;
}

static int cmd_children(int argc, char **argv)
{
	struct dyper_pinhole_req req = { .proto = IPPROTO_TCP };
	int family, fam2, n, ch, failed = 0;
	pid_t *pids;
	int base;

	if (argc < 5)
		return 2;
	n = atoi(argv[0]);
	if (n < 1 || n > 512 || parse_addr(argv[2], &family, req.remote) ||
	    parse_addr(argv[3], &fam2, req.local))
		return 2;
	base = atoi(argv[4]);
	req.family = (uint8_t)family;
	ch = connect_dyperd();
	pids = calloc((size_t)n, sizeof(*pids));
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct dyper_reply rep;
			int fd, err;

			req.local_port = (uint16_t)(base + i);
			fd = bind_socket(fam2, IPPROTO_TCP, req.local, req.local_port);
			if (fd < 0)
				_exit(3);
			/* half of them take the reply on the shared channel would race:
			 * every child uses its own reply socket, as the agent does */
			err = transact(ch, DYPER_MSG_OPEN, &req, sizeof(req), &fd, 1, true, &rep,
				       (uint32_t)(1000 + i));
			_exit(err || rep.status ? 1 : 0);
		}
	}
	for (int i = 0; i < n; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	free(pids);
	printf("children: %d ok, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}

#define STREAM_WINDOW 32
/* a reply is under 256 bytes: this many fit dyperd's 4 MiB send buffer */
#define STREAM_WINDOW_MAX 4096

/* One OPEN for remote port @rport, sent without waiting; the reply comes
 * on the channel with id @rport. */
static int stream_send(int ch, struct dyper_pinhole_req *req, int fd, uint16_t rport)
{
	char buf[DYPER_MSG_MAX];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int len;

	req->remote_port = rport;
	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_OPEN, 0, rport, req, sizeof(*req));
	if (len < 0)
		return len;
	iov.iov_base = buf;
	iov.iov_len = (size_t)len;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(ch, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int cmd_stream(int argc, char **argv)
{
	struct dyper_pinhole_req req = { 0 };
	int secs, max, family, fam2, fd, ch, hold = 0, window = STREAM_WINDOW;
	int sent = 0, answered = 0, nok = 0, nfail = 0;
	time_t end;

	if (argc < 6) {
		fprintf(stderr, "usage: stream SECONDS MAX tcp|udp REMOTE LOCAL LPORT [--hold S] "
			"[--window N]\n");
		return 2;
	}
	secs = atoi(argv[0]);
	max = atoi(argv[1]);
	req.proto = !strcmp(argv[2], "udp") ? IPPROTO_UDP : IPPROTO_TCP;
	if (secs < 1 || secs > 60 || max < 1 || max > 65535 ||
	    parse_addr(argv[3], &family, req.remote) || parse_addr(argv[4], &fam2, req.local))
		return 2;
	req.family = (uint8_t)family;
	req.local_port = (uint16_t)atoi(argv[5]);
	for (int i = 6; i < argc; i += 2) {
		if (i + 1 < argc && !strcmp(argv[i], "--hold")) {
			hold = atoi(argv[i + 1]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--window")) {
			window = atoi(argv[i + 1]);
			if (window < 1 || window > STREAM_WINDOW_MAX)
				return 2;
		} else {
			return 2;
		}
	}
	fd = bind_socket(fam2, req.proto, req.local, req.local_port);
	if (fd < 0) {
		fprintf(stderr, "dyper-client: bind: %s\n", strerror(-fd));
		return 3;
	}
	ch = connect_dyperd();
	end = time(NULL) + secs;
	while (answered < sent || (sent < max && time(NULL) < end)) {
		struct pollfd pfd = { .fd = ch, .events = POLLIN };
		char rbuf[256];
		struct dyper_hdr h;
		const void *p;
		ssize_t r;

		while (sent < max && sent - answered < window && time(NULL) < end) {
			int err = stream_send(ch, &req, fd, (uint16_t)(sent + 1));

			if (err) {
				fprintf(stderr, "dyper-client: send: %s\n", strerror(-err));
				return 3;
			}
			sent++;
		}
		if (poll(&pfd, 1, 10000) != 1) {
			fprintf(stderr, "dyper-client: no reply for 10 s\n");
			break;
		}
		r = recv(ch, rbuf, sizeof(rbuf), 0);
		if (r <= 0 || dyper_msg_decode(rbuf, (size_t)r, &h, &p) || h.type != DYPER_MSG_REPLY) {
			fprintf(stderr, "dyper-client: bad reply or channel closed\n");
			break;
		}
		{
			const struct dyper_reply *rep = p;

			answered++;
			if (rep->status) {
				if (nfail++ < 5)
					printf("err %d %.*s (remote port %u)\n", rep->status,
					       DYPER_REASON_LEN, rep->reason, h.id);
			} else if (nok++ == 0) {
				printf("started\n");
				fflush(stdout);
			}
		}
	}
	printf("stream: %d ok, %d failed, %d unanswered\n", nok, nfail, sent - answered);
	fflush(stdout);
	if (hold)
		sleep((unsigned)hold);
	close(fd);
	close(ch);
	return nfail || sent != answered ? 1 : 0;
}

static int cmd_raw(const char *what)
{
	struct dyper_hdr h = { .version = DYPER_PROTO_VERSION, .type = DYPER_MSG_HELLO,
			       .len = sizeof(struct dyper_hello), .id = 7 };
	char buf[64] = { 0 }, rbuf[256];
	size_t len = sizeof(h) + sizeof(struct dyper_hello);
	struct dyper_hdr rh;
	const void *p;
	struct pollfd pfd;
	ssize_t r;
	int ch = connect_dyperd();

	if (!strcmp(what, "badversion"))
		h.version = 99;
	else if (!strcmp(what, "badtype"))
		h.type = 77;
	else if (!strcmp(what, "short"))
		len = 5;
	else if (strcmp(what, "hello"))
		return 2;
	memcpy(buf, &h, sizeof(h));
	if (send(ch, buf, len, 0) < 0)
		return 3;
	pfd.fd = ch;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1)
		return 3;
	r = recv(ch, rbuf, sizeof(rbuf), 0);
	if (r > 0 && !dyper_msg_decode(rbuf, (size_t)r, &rh, &p)) {
		const struct dyper_reply *rep = p;

		printf("reply %d %s\n", rep->status, rep->reason);
	}
	/* then dyperd must have closed a channel that spoke nonsense */
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 2000) == 1 && recv(ch, rbuf, sizeof(rbuf), 0) == 0)
		printf("closed\n");
	else
		printf("open\n");
	return 0;
}

/* Waits (10 s at most) until someone wrote our uid_map and gid_map. */
static int wait_mapped(void)
{
	for (int i = 0; i < 1000; i++) {
		char a[64] = "", b[64] = "";
		FILE *u = fopen("/proc/self/uid_map", "r"), *g = fopen("/proc/self/gid_map", "r");
		bool done = u && g && fgets(a, sizeof(a), u) && fgets(b, sizeof(b), g);

		if (u)
			fclose(u);
		if (g)
			fclose(g);
		if (done)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int cmd_uids(int argc, char **argv)
{
	struct dyper_pinhole_req req = { .proto = IPPROTO_TCP };
	int family, fam2, ch, i = 0, n, hold = 0, nok = 0, nquota = 0, nother = 0;
	bool userns = false;
	int *fds;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--userns"))
			userns = true;
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			hold = atoi(argv[++i]);
		else
			return 2;
	}
	argc -= i;
	argv += i;
	n = argc - 4;
	if (n < 1 || strcmp(argv[0], "tcp") || parse_addr(argv[1], &family, req.remote) ||
	    parse_addr(argv[2], &fam2, req.local))
		return 2;
	req.family = (uint8_t)family;
	fds = calloc((size_t)n, sizeof(*fds));
	if (!fds)
		return 3;
	for (int k = 0; k < n; k++) {
		fds[k] = bind_socket(fam2, IPPROTO_TCP, req.local, (uint16_t)(atoi(argv[3]) + k));
		if (fds[k] < 0) {
			fprintf(stderr, "dyper-client: bind: %s\n", strerror(-fds[k]));
			return 3;
		}
	}
	ch = connect_dyperd();
	if (userns) {
		if (unshare(CLONE_NEWUSER)) {
			fprintf(stderr, "dyper-client: unshare: %s\n", strerror(errno));
			return 3;
		}
		printf("userns %d\n", (int)getpid());
		fflush(stdout);
		if (wait_mapped()) {
			fprintf(stderr, "dyper-client: nobody wrote our uid_map and gid_map\n");
			return 3;
		}
	}
	for (int k = 0; k < n; k++) {
		struct ucred cr = { .pid = getpid(), .uid = (uid_t)strtoul(argv[4 + k], NULL, 10),
				    .gid = getgid() };
		struct dyper_reply rep;
		int err;

		req.local_port = (uint16_t)(atoi(argv[3]) + k);
		err = transact_as(ch, &cr, DYPER_MSG_OPEN, &req, sizeof(req), &fds[k], 1, true, &rep,
				  (uint32_t)(100 + k));
		printf("uid %u: ", cr.uid);
		if (!print_reply(err, &rep))
			nok++;
		else if (!err && rep.status == -EDQUOT)
			nquota++;
		else
			nother++;
	}
	printf("uids: %d ok, %d edquot, %d other\n", nok, nquota, nother);
	fflush(stdout);
	if (hold)
		sleep((unsigned)hold);
	for (int k = 0; k < n; k++)
		close(fds[k]);
	free(fds);
	return 0;
}

static int cmd_reuse(int argc, char **argv)
{
	struct dyper_pinhole_req req = { 0 };
	int family, fam2, ch, max, tries = 0, nok = 0, ninuse = 0, nother = 0;
	time_t end;

	if (argc != 6 || parse_addr(argv[3], &family, req.remote) ||
	    parse_addr(argv[4], &fam2, req.local))
		return 2;
	max = atoi(argv[0]);
	end = time(NULL) + atoi(argv[1]);
	req.proto = !strcmp(argv[2], "udp") ? IPPROTO_UDP : IPPROTO_TCP;
	req.family = (uint8_t)family;
	req.local_port = (uint16_t)atoi(argv[5]);
	ch = connect_dyperd();
	for (; tries < max && time(NULL) < end; tries++) {
		struct dyper_reply rep;
		int fd = bind_socket(fam2, req.proto, req.local, req.local_port), err;

		/* a refusal is sent before dyperd closes its copy of the socket,
		 * which keeps the port for a moment */
		for (int k = 0; fd == -EADDRINUSE && k < 1000; k++) {
			usleep(1000);
			fd = bind_socket(fam2, req.proto, req.local, req.local_port);
		}
		if (fd < 0) {
			fprintf(stderr, "dyper-client: bind: %s\n", strerror(-fd));
			return 3;
		}
		err = transact(ch, DYPER_MSG_OPEN, &req, sizeof(req), &fd, 1, true, &rep,
			       (uint32_t)tries + 1);
		if (!err && !rep.status)
			nok++;
		else if (!err && rep.status == -EADDRINUSE)
			ninuse++;
		else if (nother++ == 0)
			print_reply(err, &rep);
		close(fd);
	}
	printf("reuse: %d tries, %d ok, %d eaddrinuse, %d other\n", tries, nok, ninuse, nother);
	return 0;
}

/* Opens @n channels, counts those dyperd closes within a second, holds the
 * rest @secs seconds. */
static int cmd_channels(int n, int secs)
{
	struct timeval tv = { 2, 0 };
	int *fds, failed = 0, closed = 0;

	if (n < 1 || n > 1024 || secs < 0 || secs > 600)
		return 2;
	fds = calloc((size_t)n, sizeof(*fds));
	if (!fds)
		return 3;
	for (int i = 0; i < n; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		fds[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
		/* a full backlog blocks connect() for SO_SNDTIMEO at most */
		setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa))) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
			failed++;
		}
	}
	sleep(1);
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = { fds[i], POLLIN, 0 };
		char b;

		if (fds[i] >= 0 && poll(&pfd, 1, 0) == 1 && recv(fds[i], &b, 1, MSG_DONTWAIT) <= 0) {
			close(fds[i]);
			fds[i] = -1;
			closed++;
		}
	}
	printf("channels: %d tried, %d not connected, %d closed by dyperd, %d held\n", n, failed,
	       closed, n - failed - closed);
	fflush(stdout);
	sleep((unsigned)secs);
	free(fds);
	return 0;
}

/* Sends @type (HELLO, or OPEN of @req passing @sock) as fast as the channel
 * takes it for @secs seconds, never reading a reply. */
static int flood(int secs, uint16_t type, const struct dyper_pinhole_req *req, int sock)
{
	struct dyper_hello hello = { .agent_version = DYPER_PROTO_VERSION };
	char buf[DYPER_MSG_MAX];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	time_t end = time(NULL) + secs;
	unsigned long sent = 0;
	int ch = connect_dyperd(), len;

	if (secs < 1 || secs > 600)
		return 2;
	len = type == DYPER_MSG_HELLO ?
	      dyper_msg_encode(buf, sizeof(buf), type, 0, 1, &hello, sizeof(hello)) :
	      dyper_msg_encode(buf, sizeof(buf), type, 0, 1, req, sizeof(*req));
	if (len < 0)
		return 3;
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
	while (time(NULL) < end) {
		if (sendmsg(ch, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
			sent++;
		} else if (errno == EAGAIN) {
			struct pollfd pfd = { ch, POLLOUT, 0 };

			poll(&pfd, 1, 100);
		} else {
			break;
		}
	}
	printf("flood: %lu sent in %d s\n", sent, secs);
	return 0;
}

static int cmd_flood(int argc, char **argv)
{
	struct dyper_pinhole_req req = { .proto = IPPROTO_TCP };
	int family, fam2, fd;

	if (argc == 2 && !strcmp(argv[1], "hello"))
		return flood(atoi(argv[0]), DYPER_MSG_HELLO, NULL, -1);
	if (argc != 6 || strcmp(argv[1], "open") || strcmp(argv[2], "tcp") ||
	    parse_addr(argv[3], &family, req.remote) || parse_addr(argv[4], &fam2, req.local))
		return 2;
	req.family = (uint8_t)family;
	req.local_port = (uint16_t)atoi(argv[5]);
	fd = bind_socket(fam2, IPPROTO_TCP, req.local, req.local_port);
	if (fd < 0) {
		fprintf(stderr, "dyper-client: bind: %s\n", strerror(-fd));
		return 3;
	}
	return flood(atoi(argv[0]), DYPER_MSG_OPEN, &req, fd);
}

static int cmd_ticket(int argc, char **argv)
{
	char rbuf[256];
	struct dyper_hdr h;
	struct dyper_ticket t;
	struct pollfd pfd;
	const void *p;
	int ch = connect_dyperd(), wait_fd, err, hold = 0;
	ssize_t r;

	if (argc == 2 && !strcmp(argv[0], "--hold"))
		hold = atoi(argv[1]);
	err = send_msg(ch, NULL, DYPER_MSG_TICKET, NULL, 0, NULL, 0, true, &wait_fd, 7);
	if (err) {
		printf("err %d transport: %s\n", err, strerror(-err));
		return 1;
	}
	pfd = (struct pollfd){ .fd = wait_fd, .events = POLLIN };
	r = poll(&pfd, 1, 10000) == 1 ? recv(wait_fd, rbuf, sizeof(rbuf), 0) : -1;
	if (r <= 0 || dyper_msg_decode(rbuf, (size_t)r, &h, &p) || h.id != 7) {
		printf("err -71 no ticket\n");
		return 1;
	}
	if (h.type != DYPER_MSG_TICKET_REPLY) {
		printf("err %d %s\n", ((const struct dyper_reply *)p)->status,
		       ((const struct dyper_reply *)p)->reason);
		return 1;
	}
	memcpy(&t, p, sizeof(t));
	printf("ticket %016llx ", (unsigned long long)t.channel_id);
	for (size_t i = 0; i < sizeof(t.secret); i++)
		printf("%02x", t.secret[i]);
	printf("\n");
	fflush(stdout);
	for (int i = 0; i < hold * 10; i++)
		usleep(100000);
	return 0;
}

static int cmd_resume(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dyper_pinhole_req req = { .proto = IPPROTO_TCP };
	struct dyper_ticket t;
	struct dyper_reply rep;
	int ch, err, rc, fd = -1, family, fam2, hold = 0, i = 2;

	if (argc < 2 || strlen(argv[1]) != 2 * sizeof(t.secret)) {
		fprintf(stderr, "usage: resume ID SECRET [tcp REMOTE LOCAL LPORT] [--hold S]\n");
		return 2;
	}
	t.channel_id = strtoull(argv[0], NULL, 16);
	for (size_t k = 0; k < sizeof(t.secret); k++)
		sscanf(argv[1] + 2 * k, "%2hhx", &t.secret[k]);
	if (argc >= 6 && !strcmp(argv[2], "tcp")) {
		if (parse_addr(argv[3], &family, req.remote) || parse_addr(argv[4], &fam2, req.local))
			return 2;
		req.family = (uint8_t)family;
		req.local_port = (uint16_t)atoi(argv[5]);
		fd = bind_socket(fam2, req.proto, req.local, req.local_port);
		if (fd < 0) {
			fprintf(stderr, "dyper-client: bind: %s\n", strerror(-fd));
			return 3;
		}
		i = 6;
	}
	if (argc == i + 2 && !strcmp(argv[i], "--hold"))
		hold = atoi(argv[i + 1]);
	if (dyper_resume_path(sock_path, sa.sun_path, sizeof(sa.sun_path)))
		return 2;
	ch = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ch < 0 || connect(ch, (struct sockaddr *)&sa, sizeof(sa))) {
		printf("err %d cannot connect to %s\n", -errno, sa.sun_path);
		return 1;
	}
	err = transact(ch, DYPER_MSG_RESUME, &t, sizeof(t), NULL, 0, false, &rep, 5);
	rc = print_reply(err, &rep);
	if (!rc && fd >= 0) {
		err = transact(ch, DYPER_MSG_OPEN, &req, sizeof(req), &fd, 1, true, &rep, 6);
		rc = print_reply(err, &rep);
	}
	fflush(stdout);
	if (hold && fd >= 0)
		serve(fd, req.proto, hold);
	return rc;
}

int main(int argc, char **argv)
{
	int i = 1;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 2 && !strcmp(argv[1], "-s")) {
		sock_path = argv[2];
		i = 3;
	} else if (argc > 1 && !strcmp(argv[1], "-i")) {
		inherited = true;
		i = 2;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: dyper-client [-s SOCK | -i] open|children|uids|reuse|stream|raw|channels|flood ...\n");
		return 2;
	}
	if (!strcmp(argv[i], "open"))
		return cmd_open(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "children"))
		return cmd_children(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "uids"))
		return cmd_uids(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "reuse"))
		return cmd_reuse(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "stream"))
		return cmd_stream(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "raw") && i + 1 < argc)
		return cmd_raw(argv[i + 1]);
	if (!strcmp(argv[i], "channels") && i + 2 < argc)
		return cmd_channels(atoi(argv[i + 1]), atoi(argv[i + 2]));
	if (!strcmp(argv[i], "flood"))
		return cmd_flood(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "ticket"))
		return cmd_ticket(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "resume"))
		return cmd_resume(argc - i - 1, argv + i + 1);
	fprintf(stderr, "dyper-client: unknown command %s\n", argv[i]);
	return 2;
}
