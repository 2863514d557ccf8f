// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libdyper-preload.so: the interposition agent (paper §3.2).  A guest in
 * someone else's process: it observes socket calls, asks dyperd for a
 * pinhole when an auxiliary port is bound, and otherwise stays out of the
 * way (no output unless DYPER_DEBUG, errno preserved, no allocation or
 * locks on paths a signal handler can reach, re-entry guarded).
 *
 * What it infers:
 *  - the control port: a bind to a non-loopback address while no control
 *    peer is known (a server's listening port);
 *  - the control peer: whoever a control connection talks to.  A thread's
 *    current peer is set by accept() on a control port, by connect() (the
 *    first outbound connection makes a client), by a datagram received on
 *    a control port, and by every read from a control connection: the
 *    command that leads to an auxiliary bind is read just before it, so
 *    multiplexed servers keep their concurrency (no one-socket-per-poll
 *    limit as in the paper) and threads need no hand-off beyond
 *    pthread_create();
 *  - an auxiliary port: any later bind to a non-loopback address; its
 *    pinhole admits the current peer (any remote port) to it;
 *  - ports prepared before the peer is known (a SIP user agent's media
 *    ports, iperf's dual-test listener): control ports that become
 *    auxiliary ("adopted") when the process acquires its control peer in
 *    a way no incidental lookup does: see take_control_peer().
 * Closing needs no bookkeeping across processes: dyperd closes a pinhole
 * when the kernel destroys its socket, i.e. after the last close() in any
 * process, exit, exec or crash; fork, dup and SCM_RIGHTS hand-offs are
 * exact by construction.  The agent itself closes early only one-shot
 * pinholes (DYPER_ONESHOT=1: a TCP auxiliary listener's pinhole is closed
 * once it has accepted its connection; conntrack carries the flow).
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "dyperd/proto.h"
#include "preload/filter.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's fortified entry points: declared only when _FORTIFY_SOURCE is on,
 * called by every program built with it (most of Debian). */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *sa, socklen_t *len);
#define MAX_FD 65536		/* sockets above are not tracked: no pinholes */
#define REPLY_TIMEOUT_MS 30000	/* default; dyperd may queue a request (queue_timeout) */
#define RETRY_MS 50		/* before the one retry of a request dyperd could not serve */

enum fd_kind {
	FD_NONE,
	FD_CONTROL_PORT,	/* a bound port with no peer known: a server's */
	FD_CONTROL_CONN,	/* a connection to a control peer */
	FD_AUX,			/* a socket with a pinhole */
};

struct addr {
	uint8_t family;		/* AF_INET or AF_INET6; 0: none */
	uint8_t a[16];		/* network order; IPv4 in the first 4 bytes */
};

struct peer {
	struct addr remote;
	struct addr local;	/* our address on that connection */
};

struct fdinfo {
	uint8_t kind;
	uint8_t named;				/* FD_CONTROL_PORT: bound to a port the program chose */
	uint8_t adopted;			/* FD_AUX: a control port adopted for a peer */
	struct peer peer;			/* FD_CONTROL_CONN */
	struct dyper_pinhole_req req;		/* FD_AUX */
};

static struct fdinfo fds[MAX_FD];
static int channel = -1;
static bool debug, deny_warn, oneshot;
static int reply_timeout_ms = REPLY_TIMEOUT_MS;
static bool server_role;		/* a control port has seen a peer */
static struct peer client_peer;		/* the client's control channel */
static bool udp_contacted;		/* a datagram from an unnamed socket had its pinhole */
static __thread struct peer t_peer;	/* this thread's current control peer */
static __thread int in_agent;		/* re-entry guard */
static uint32_t next_id;
static bool sealed;			/* channel made close-on-exec */
static int max_port_fd = -1;		/* highest FD_CONTROL_PORT so far */
/* Under a seccomp filter of the application's own (filter.h): */
static int filt_reply[2] = { -1, -1 };	/* the reply socket, made before the filter */
static pid_t filt_pid;			/* getpid() may be refused */
static uint8_t filt_proto[MAX_FD];	/* protocol of sockets made under the filter */

/* --- the real functions --------------------------------------------------------- */

static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_read_chk)(int, void *, size_t, size_t);
static ssize_t (*real_recv_chk)(int, void *, size_t, size_t, int);
static ssize_t (*real_recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *,
				    socklen_t *);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_close_range)(unsigned int, unsigned int, int);
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_socket)(int, int, int);
static int (*real_prctl)(int, unsigned long, unsigned long, unsigned long, unsigned long);

static pthread_once_t resolved = PTHREAD_ONCE_INIT;
static bool resolved_all;	/* set (release) when resolve_all() is done */

static void resolve_all(void)
{
#define R(name) real_##name = dlsym(RTLD_NEXT, #name)
	R(bind); R(connect); R(accept); R(accept4); R(sendto); R(sendmsg);
	R(recvfrom); R(recvmsg); R(recv); R(read); R(close); R(dup); R(dup2); R(dup3);
	R(fcntl); R(close_range); R(pthread_create); R(execve); R(execvpe); R(socket);
	real_prctl = (int (*)(int, unsigned long, unsigned long, unsigned long, unsigned long))
		     dlsym(RTLD_NEXT, "prctl");
#undef R
	real_read_chk = dlsym(RTLD_NEXT, "__read_chk");
	real_recv_chk = dlsym(RTLD_NEXT, "__recv_chk");
	real_recvfrom_chk = dlsym(RTLD_NEXT, "__recvfrom_chk");
	__atomic_store_n(&resolved_all, true, __ATOMIC_RELEASE);
}

/* Every interposed call starts here: one load once resolved, not a call
 * into libc's pthread_once(). */
static inline void resolve(void)
{
	if (__builtin_expect(!__atomic_load_n(&resolved_all, __ATOMIC_ACQUIRE), 0))
		pthread_once(&resolved, resolve_all);
}

/* May the agent make system call @nr with these arguments without getting
 * the application killed by its own seccomp filter?  (Always, without one.) */
static bool may(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		uint64_t a5)
{
	const uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };

	return !filter_active() || filter_allows(nr, args);
}

#define MAY(nr, ...) may(nr, __VA_ARGS__)
#define P(x) ((uint64_t)(uintptr_t)(x))

/* fstat(@fd) into @st, if the application's seccomp filter lets it through:
 * false if it fails or is forbidden. */
static bool fd_stat(int fd, struct stat *st)
{
#ifdef SYS_fstat
	return MAY(SYS_fstat, (uint64_t)fd, P(st), 0, 0, 0, 0) && syscall(SYS_fstat, fd, st) == 0;
#else
	return MAY(SYS_newfstatat, (uint64_t)fd, P(""), P(st), AT_EMPTY_PATH, 0, 0) &&
	       syscall(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH) == 0;
#endif
}

/* Is descriptor 2 somewhere a person reads, not a socket?  Servers started
 * by inetd, and vsftpd's sessions (which dup2 the client's connection over
 * 0, 1 and 2), would send our line to the client. */
static bool stderr_readable(void)
{
	struct stat st;

	return fd_stat(2, &st) && !S_ISSOCK(st.st_mode);
}

/* One line on stderr: only for DYPER_DEBUG, or what DYPER_ON_DENY=warn asks,
 * or when the application's seccomp filter leaves the agent unable to ask
 * for a pinhole. */
__attribute__((format(printf, 2, 3)))
static void say(bool on, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, e = errno;

	if (!on || !stderr_readable())
		return;
	n = snprintf(buf, sizeof(buf), "dyper-agent[%d]: ",
		     filter_active() ? (int)filt_pid : getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (MAY(SYS_write, 2, P(buf), (uint64_t)n, 0, 0, 0) && write(2, buf, (size_t)n) < 0)
		(void)0;
	errno = e;
}

/* --- addresses ------------------------------------------------------------------ */

static bool to_addr(const struct sockaddr *sa, socklen_t len, struct addr *a, uint16_t *port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(a, 0, sizeof(*a));
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;

		a->family = AF_INET;
		memcpy(a->a, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;

		/* a v4-mapped peer is an IPv4 peer */
		if (!memcmp(&s->sin6_addr, mapped, 12)) {
			a->family = AF_INET;
			memcpy(a->a, (const uint8_t *)&s->sin6_addr + 12, 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->a, &s->sin6_addr, 16);
		}
		*port = ntohs(s->sin6_port);
		return true;
	}
	return false;
}

static bool is_zero(const struct addr *a)
{
	for (int i = 0; i < (a->family == AF_INET ? 4 : 16); i++)
		if (a->a[i])
			return false;
	return true;
}

static bool is_loopback(const struct addr *a)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	return a->family == AF_INET ? a->a[0] == 127 : !memcmp(a->a, lo6, 16);
}

static bool sock_name(int fd, bool peer, struct addr *a, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!MAY(peer ? SYS_getpeername : SYS_getsockname, (uint64_t)fd, P(&ss), P(&len), 0, 0, 0))
		return false;
	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len))
		return false;
	return to_addr((struct sockaddr *)&ss, len, a, port);
}

static int sock_int(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (!MAY(SYS_getsockopt, (uint64_t)fd, SOL_SOCKET, (uint64_t)opt, P(&v), P(&len), 0))
		return -1;
	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) ? -1 : v;
}

static int sock_int6(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (!MAY(SYS_getsockopt, (uint64_t)fd, IPPROTO_IPV6, (uint64_t)opt, P(&v), P(&len), 0))
		return -1;
	return getsockopt(fd, IPPROTO_IPV6, opt, &v, &len) ? -1 : v;
}

/* Is @a the remote host of the pinhole @req? */
static bool same_host(const struct addr *a, const struct dyper_pinhole_req *req)
{
	return a->family == req->family && !memcmp(a->a, req->remote, a->family == AF_INET ? 4 : 16);
}

/* The address this host sends from towards @remote (no packet is sent). */
static bool local_towards(const struct addr *remote, struct addr *local)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	uint16_t port;
	int s, ok;

	if (remote->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(9);
		memcpy(&sin->sin_addr, remote->a, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9);
		memcpy(&sin6->sin6_addr, remote->a, 16);
		len = sizeof(*sin6);
	}
	if (!MAY(SYS_socket, remote->family, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0, 0, 0))
		return false;
	s = real_socket(remote->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return false;
	ok = MAY(SYS_connect, (uint64_t)s, P(&ss), len, 0, 0, 0) &&
	     real_connect(s, (struct sockaddr *)&ss, len) == 0 && sock_name(s, false, local, &port);
	real_close(s);
	return ok;
}

static struct fdinfo *info(int fd)
{
	return fd >= 0 && fd < MAX_FD ? &fds[fd] : NULL;
}

/* --- talking to dyperd ---------------------------------------------------------- */

/* Room for the descriptors a request passes: the socket and the reply socket. */
union req_ctl {
	char b[CMSG_SPACE(2 * sizeof(int))];
	struct cmsghdr align;
};

/* @msg (with @iov and @ctl) carries @buf and passes @sock (or -1) and @reply. */
static void req_msg(struct msghdr *msg, struct iovec *iov, union req_ctl *ctl, char *buf,
		    int len, int sock, int reply)
{
	int all[2], n = 0;
	struct cmsghdr *c;

	if (sock >= 0)
		all[n++] = sock;
	all[n++] = reply;
	iov->iov_base = buf;
	iov->iov_len = (size_t)len;
	*msg = (struct msghdr){ .msg_iov = iov, .msg_iovlen = 1, .msg_control = ctl->b,
				.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)) };
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(c), all, (size_t)n * sizeof(int));
}

/* Decodes dyperd's answer to request @id into @rep: its status, -EPROTO
 * for garbage, 1 for an answer to an earlier request. */
static int reply_decode(const char *rbuf, ssize_t r, uint32_t id, struct dyper_reply *rep)
{
	struct dyper_hdr h;
	const void *p;

	if (r <= 0 || dyper_msg_decode(rbuf, (size_t)r, &h, &p) || h.type != DYPER_MSG_REPLY)
		return -EPROTO;
	if (h.id != id)
		return 1;
	memcpy(rep, p, sizeof(*rep));
	rep->reason[sizeof(rep->reason) - 1] = '\0';
	return rep->status;
}

enum filt_wait { FW_NONE, FW_POLL, FW_PPOLL, FW_SELECT };

/* Waits up to @ms for @fd to become readable with @how: >0 ready, 0 timeout, -errno. */
static int filt_wait(enum filt_wait how, int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	long r = -1;

	switch (how) {
#ifdef SYS_poll
	case FW_POLL:
		r = syscall(SYS_poll, &pfd, 1, ms);
		break;
#endif
	case FW_PPOLL:
		r = syscall(SYS_ppoll, &pfd, 1, &ts, NULL, sizeof(sigset_t));
		break;
#ifdef SYS_select
	case FW_SELECT: {
		struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
		fd_set set;

		FD_ZERO(&set);
		FD_SET(fd, &set);
		r = syscall(SYS_select, fd + 1, &set, NULL, NULL, &tv);
		break;
	}
#endif
	default:
		errno = ENOSYS;
		break;
	}
	return r < 0 ? -errno : (int)r;
}

/* How this process's filter lets the agent wait for @fd (with placeholders
 * standing in for the pointers: filters judge numbers, not memory). */
static enum filt_wait filt_wait_how(int fd)
{
#ifdef SYS_poll
	if (MAY(SYS_poll, P(&fd), 1, (uint64_t)reply_timeout_ms, 0, 0, 0))
		return FW_POLL;
#endif
	if (MAY(SYS_ppoll, P(&fd), 1, P(&fd), 0, sizeof(sigset_t), 0))
		return FW_PPOLL;
#ifdef SYS_select
	if (fd < FD_SETSIZE && MAY(SYS_select, (uint64_t)fd + 1, P(&fd), 0, 0, P(&fd), 0))
		return FW_SELECT;
#endif
	return FW_NONE;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* the vDSO: no system call */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * ask() in a process under its own seccomp filter (vsftpd's privileged
 * broker after login: it allows read, write, select, close and sendmsg
 * with flags 0, and kills on anything else).  Only calls the filter lets
 * through; the reply socket is the one made before the filter went on
 * (on_seccomp()), kept and reused, and answers to earlier requests are
 * skipped by id.  When the filter leaves no way, nothing is sent: -EPERM,
 * and one line on stderr says which call it forbids.
 */
static int ask_filtered(uint16_t type, const struct dyper_pinhole_req *req, int sock, bool wait,
			struct dyper_reply *rep)
{
	char buf[DYPER_MSG_MAX], rbuf[sizeof(struct dyper_hdr) + sizeof(struct dyper_reply)];
	uint32_t id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	const char *refused = NULL;
	enum filt_wait how = FW_NONE;
	int len, flags = MSG_NOSIGNAL, r = 0, rfd = filt_reply[0];
	union req_ctl ctl;
	struct msghdr msg;
	struct iovec iov;
	bool use_read;
	int64_t end;

	len = dyper_msg_encode(buf, sizeof(buf), type, DYPER_F_REPLY_FD, id, req, sizeof(*req));
	if (len < 0)
		return len;
	if (rfd < 0) {
		refused = "socketpair";
	} else {
		req_msg(&msg, &iov, &ctl, buf, len, sock, filt_reply[1]);
		if (!MAY(SYS_sendmsg, (uint64_t)channel, P(&msg), MSG_NOSIGNAL, 0, 0, 0))
			flags = 0;	/* SIGPIPE only if dyperd is gone */
		use_read = !MAY(SYS_recvfrom, (uint64_t)rfd, P(rbuf), sizeof(rbuf), 0, 0, 0);
		if (!MAY(SYS_sendmsg, (uint64_t)channel, P(&msg), (uint64_t)flags, 0, 0, 0))
			refused = "sendmsg";
		else if (wait && (how = filt_wait_how(rfd)) == FW_NONE)
			refused = "poll, ppoll and select";
		else if (wait && use_read && !MAY(SYS_read, (uint64_t)rfd, P(rbuf), sizeof(rbuf), 0, 0, 0))
			refused = "recvfrom and read";
	}
	if (refused) {
		say(true, "this program's own seccomp filter forbids %s: Dyper cannot ask for a "
		    "pinhole to port %u (vsftpd: seccomp_sandbox=NO; see dyper-wrap(1))", refused,
		    req->local_port);
		return -EPERM;
	}
	while ((r = (int)syscall(SYS_sendmsg, channel, &msg, flags)) < 0)
		if (errno != EINTR)
			return -errno;
	if (!wait)
		return 0;
	for (end = mono_ms() + reply_timeout_ms;;) {
		int64_t left = end - mono_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		r = filt_wait(how, rfd, (int)left);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return r ? r : -ETIMEDOUT;
		n = use_read ? syscall(SYS_read, rfd, rbuf, sizeof(rbuf)) :
			       syscall(SYS_recvfrom, rfd, rbuf, sizeof(rbuf), 0, NULL, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return -EAGAIN;	/* closed unanswered, as in ask() */
		r = reply_decode(rbuf, n, id, rep);
		if (r != 1)
			return r;
	}
}

/*
 * Sends one request, passing @sock (or -1) and a private reply socket, so
 * that the answer reaches exactly this thread of this process even when
 * the channel is shared after fork.  With @wait false the reply socket is
 * closed at once (fire and forget).  Returns the reply's status.
 */
static int ask(uint16_t type, const struct dyper_pinhole_req *req, int sock, bool wait,
	       struct dyper_reply *rep)
{
	char buf[DYPER_MSG_MAX], rbuf[sizeof(struct dyper_hdr) + sizeof(struct dyper_reply)];
	union req_ctl ctl;
	struct iovec iov;
	struct msghdr msg;
	int pair[2], len, err = 0;
	uint32_t id;

	if (filter_active())
		return ask_filtered(type, req, sock, wait, rep);
	id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
		return -errno;
	len = dyper_msg_encode(buf, sizeof(buf), type, DYPER_F_REPLY_FD, id, req, sizeof(*req));
	if (len < 0) {
		err = len;
		goto out;
	}
	req_msg(&msg, &iov, &ctl, buf, len, sock, pair[1]);
	while (real_sendmsg(channel, &msg, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR) {
			err = -errno;
			goto out;
		}
	}
	real_close(pair[1]);
	pair[1] = -1;
	if (!wait)
		goto out;
	for (;;) {
		struct pollfd pfd = { .fd = pair[0], .events = POLLIN };
		ssize_t r;
		int pr = poll(&pfd, 1, reply_timeout_ms);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			err = pr ? -errno : -ETIMEDOUT;
			break;
		}
		r = real_recv(pair[0], rbuf, sizeof(rbuf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			/* the reply socket closed unanswered: dyperd dropped the
			 * request (over the channel's rate limit, or short of
			 * descriptors), or is gone */
			err = -EAGAIN;
			break;
		}
		err = reply_decode(rbuf, r, id, rep);
		if (err == 1)
			err = -EPROTO;	/* a private socket: no one else's answer */
		break;
	}
out:
	real_close(pair[0]);
	if (pair[1] >= 0)
		real_close(pair[1]);
	return err;
}

/* --- resuming: the channel outlives dyperd -------------------------------------- */

/*
 * The channel's ticket (dyperd/resume.c): asked for at start, kept in this
 * process's memory only (never the environment), inherited by fork.  A
 * program it execs gets none (the channel is sealed off), except the same
 * program re-executing itself, whose agent asks again on the inherited
 * channel.  With it, a channel whose dyperd is gone (restart, upgrade,
 * crash) is replaced by a connection to the new dyperd's resume socket
 * under the same descriptor number, with the old identity.
 */
static struct dyper_ticket ticket;
static bool have_ticket;
static char resume_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char agent_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

#define TICKET_WAIT_MS 5000	/* dyperd answers at once; a hung one is not waited for */

/* One wait for @fd readable, up to @ms, EINTR retried: >0, 0 timeout, <0. */
static int wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end = mono_ms() + ms;
	int r;

	while ((r = poll(&pfd, 1, (int)(end - mono_ms() > 0 ? end - mono_ms() : 0))) < 0 &&
	       errno == EINTR)
		;
	return r;
}

static void ticket_get(void)
{
	char buf[sizeof(struct dyper_hdr)], rbuf[sizeof(struct dyper_hdr) + sizeof(struct dyper_ticket)];
	struct sockaddr_un sa = { 0 };
	socklen_t salen = sizeof(sa) - 1;	/* room for a NUL the kernel may leave out */
	uint32_t id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	int pair[2], len;
	union req_ctl ctl;
	struct msghdr msg;
	struct dyper_hdr h;
	struct iovec iov;
	const void *p;
	ssize_t r;

	/* the resume socket lies beside the socket the wrapper connected to */
	if (getpeername(channel, (struct sockaddr *)&sa, &salen) || sa.sun_family != AF_UNIX ||
	    !sa.sun_path[0] || dyper_resume_path(sa.sun_path, resume_path, sizeof(resume_path)))
		return;
	memcpy(agent_path, sa.sun_path, sizeof(agent_path));
	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_TICKET, DYPER_F_REPLY_FD, id, &id, 0);
	if (len < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
		return;
	req_msg(&msg, &iov, &ctl, buf, len, -1, pair[1]);
	r = real_sendmsg(channel, &msg, MSG_NOSIGNAL);
	real_close(pair[1]);
	if (r >= 0 && wait_readable(pair[0], TICKET_WAIT_MS) > 0) {
		r = real_recv(pair[0], rbuf, sizeof(rbuf), 0);
		if (r > 0 && !dyper_msg_decode(rbuf, (size_t)r, &h, &p) &&
		    h.type == DYPER_MSG_TICKET_REPLY && h.id == id) {
			memcpy(&ticket, p, sizeof(ticket));
			have_ticket = true;
		}
		explicit_bzero(rbuf, sizeof(rbuf));
	}
	real_close(pair[0]);
	say(debug, "channel %s a resume ticket", have_ticket ? "has" : "has no");
}

/* True when the channel's dyperd is gone (its end closed). */
static bool channel_dead(void)
{
	struct pollfd pfd = { .fd = channel, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

/*
 * Replaces the dead channel by a resumed one, trying to connect until
 * @wait_ms passed (a restarted dyperd may still be starting); 0, or
 * -errno (the channel stays as it was).  Not under a seccomp filter: it
 * needs socket() and connect(), which such filters forbid.
 */
static int channel_resume(int wait_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX }, asa;
	char buf[sizeof(struct dyper_hdr) + sizeof(struct dyper_ticket)];
	char rbuf[sizeof(struct dyper_hdr) + sizeof(struct dyper_reply)];
	uint32_t id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	struct dyper_reply rep = { .status = 0 };
	struct ucred was, now;
	int64_t end = mono_ms() + wait_ms;
	int fd, err, len;
	ssize_t r;

	if (!have_ticket || filter_active())
		return -ENOTCONN;
	if (getsockopt(channel, SOL_SOCKET, SO_PEERCRED, &was, &(socklen_t){ sizeof(was) }))
		return -errno;
	memcpy(sa.sun_path, resume_path, sizeof(sa.sun_path));
	for (int k = 0;; k++) {
		struct timespec ts = { 0, RETRY_MS * 1000000L };
		/* the path, else (a chroot) the abstract name: in turn */
		bool abstract = k & 1;
		socklen_t salen = abstract ? dyper_resume_abstract(agent_path, &asa) : sizeof(sa);

		fd = real_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!real_connect(fd, (struct sockaddr *)(abstract ? &asa : &sa), salen)) {
			/* anyone may hold the abstract name: only dyperd's uid is
			 * told the ticket */
			if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &now, &(socklen_t){ sizeof(now) }) &&
			    now.uid == was.uid)
				break;
			real_close(fd);
			return -EPERM;
		}
		err = -errno;
		real_close(fd);
		if ((err != -ENOENT && err != -ECONNREFUSED && err != -EAGAIN) || mono_ms() >= end)
			return err;
		if (abstract)
			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
	}
	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_RESUME, 0, id, &ticket, sizeof(ticket));
	err = len < 0 ? len : real_sendto(fd, buf, (size_t)len, MSG_NOSIGNAL, NULL, 0) < 0 ? -errno : 0;
	explicit_bzero(buf, sizeof(buf));
	if (!err) {
		r = wait_readable(fd, TICKET_WAIT_MS);
		err = r < 0 ? -errno : !r ? -ETIMEDOUT : 0;
	}
	if (!err) {
		r = real_recv(fd, rbuf, sizeof(rbuf), 0);
		err = reply_decode(rbuf, r, id, &rep);
		if (err == 1)
			err = -EPROTO;
	}
	/* the same number: whoever holds the channel's descriptor has the new one */
	if (!err && real_dup3(fd, channel, sealed ? O_CLOEXEC : 0) < 0)
		err = -errno;
	real_close(fd);
	say(debug, "channel resumed: %s", err ? strerror(-err) : "ok");
	return err;
}

/* The peer an auxiliary socket is meant for, in this thread. */
static const struct peer *current_peer(void)
{
	if (t_peer.remote.family)
		return &t_peer;
	if (client_peer.remote.family)
		return &client_peer;
	return NULL;
}

/* Asks for a pinhole admitting @p to the (bound) socket @fd; @bound_sa
 * (or NULL) is what it was bound to, in case getsockname() is forbidden. */
static int open_pinhole(int fd, int proto, const struct peer *p, const struct sockaddr *bound_sa,
			socklen_t bound_len)
{
	struct dyper_pinhole_req req = { .family = p->remote.family, .proto = (uint8_t)proto };
	struct fdinfo *fi = info(fd);
	struct dyper_reply rep = { .status = 0 };
	struct addr bound;
	uint16_t port;
	int err;

	if (!fi)
		return 0;
	if (!sock_name(fd, false, &bound, &port) &&
	    (!filter_active() || !to_addr(bound_sa, bound_len, &bound, &port)))
		return 0;
	if (!port) {
		/* under a filter that forbids getsockname(): most likely an
		 * outbound data connection (vsftpd's active mode) */
		say(debug && filter_active(), "fd %d: port 0 under a seccomp filter that hides "
		    "the port: no pinhole", fd);
		return 0;
	}
	memcpy(req.remote, p->remote.a, 16);
	req.local_port = port;
	if (bound.family == p->remote.family && !is_zero(&bound)) {
		memcpy(req.local, bound.a, 16);
	} else if (p->local.family == p->remote.family && !is_zero(&p->local)) {
		memcpy(req.local, p->local.a, 16);
	} else {
		struct addr via;

		if (!local_towards(&p->remote, &via))
			return 0;
		memcpy(req.local, via.a, 16);
	}
	if (oneshot && proto == IPPROTO_TCP)
		req.flags = DYPER_REQ_ONESHOT;
	err = ask(DYPER_MSG_OPEN, &req, fd, true, &rep);
	if (err == -EAGAIN || err == -EMFILE || err == -EPIPE || err == -ECONNRESET ||
	    err == -ENOTCONN) {
		/* dyperd could not serve it just now: once more, a little later
		 * (an open is idempotent for the same socket); if dyperd is
		 * gone, once the channel is resumed with the next one, waiting
		 * for it as long as for an answer */
		struct timespec ts = { 0, RETRY_MS * 1000000L };

		if (have_ticket && channel_dead())
			channel_resume(reply_timeout_ms);
		else
			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
		err = ask(DYPER_MSG_OPEN, &req, fd, true, &rep);
	}
	if (err) {
		say(debug, "pinhole for fd %d port %u refused: %s (%s)", fd, port, strerror(-err),
		    rep.reason);
		return err;
	}
	fi->kind = FD_AUX;
	fi->adopted = 0;
	fi->req = req;
	say(debug, "pinhole %u open: fd %d port %u", rep.pinhole_id, fd, port);
	return 0;
}

/*
 * An adopted port was reached by a host other than the one it was adopted
 * for.  Only a port the site opens to everyone can be (a least-privilege
 * table drops the rest): it is a server's control port after all.  Its
 * pinhole goes, and it is a control port again, so that the server's
 * inference (the peer from each accept or datagram) is what it would have
 * been without the adoption.
 */
static void unadopt(int fd)
{
	struct dyper_reply rep;

	ask(DYPER_MSG_CLOSE, &fds[fd].req, -1, false, &rep);
	fds[fd].kind = FD_CONTROL_PORT;
	fds[fd].adopted = 0;
	say(debug, "fd %d: reached by another host: a control port after all", fd);
}

static int sock_proto(int fd)
{
	int p = sock_int(fd, SO_PROTOCOL);

	if (p < 0 && filter_active() && fd >= 0 && fd < MAX_FD)
		p = filt_proto[fd];	/* the filter forbids asking: socket() said */

	return p == IPPROTO_TCP || p == IPPROTO_UDP ? p : -1;
}

/* --- a refused bind leaves the socket unbound ------------------------------------- */

/*
 * What a program may set on a socket before bind() and a fresh socket
 * must carry too: unbind() copies each, as raw bytes, where it differs
 * from a fresh socket's.
 */
static const struct {
	int level, name;
} kept_opts[] = {
	{ SOL_SOCKET, SO_REUSEADDR }, { SOL_SOCKET, SO_REUSEPORT }, { SOL_SOCKET, SO_KEEPALIVE },
	{ SOL_SOCKET, SO_BROADCAST }, { SOL_SOCKET, SO_OOBINLINE }, { SOL_SOCKET, SO_DONTROUTE },
	{ SOL_SOCKET, SO_PRIORITY }, { SOL_SOCKET, SO_RCVBUF }, { SOL_SOCKET, SO_SNDBUF },
	{ SOL_SOCKET, SO_RCVLOWAT }, { SOL_SOCKET, SO_RCVTIMEO }, { SOL_SOCKET, SO_SNDTIMEO },
	{ SOL_SOCKET, SO_LINGER }, { SOL_SOCKET, SO_MARK }, { SOL_SOCKET, SO_BINDTODEVICE },
	{ SOL_SOCKET, SO_TIMESTAMP }, { SOL_SOCKET, SO_TIMESTAMPNS }, { SOL_SOCKET, SO_PASSCRED },
	{ IPPROTO_IP, IP_TOS }, { IPPROTO_IP, IP_TTL }, { IPPROTO_IP, IP_FREEBIND },
	{ IPPROTO_IP, IP_TRANSPARENT }, { IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT },
	{ IPPROTO_IP, IP_PKTINFO }, { IPPROTO_IP, IP_RECVTOS }, { IPPROTO_IP, IP_RECVTTL },
	{ IPPROTO_IP, IP_RECVERR }, { IPPROTO_IP, IP_MTU_DISCOVER }, { IPPROTO_IP, IP_MULTICAST_TTL },
	{ IPPROTO_IP, IP_MULTICAST_LOOP }, { IPPROTO_IP, IP_MULTICAST_ALL },
	{ IPPROTO_IPV6, IPV6_V6ONLY }, { IPPROTO_IPV6, IPV6_UNICAST_HOPS },
	{ IPPROTO_IPV6, IPV6_TCLASS }, { IPPROTO_IPV6, IPV6_RECVPKTINFO },
	{ IPPROTO_IPV6, IPV6_RECVTCLASS }, { IPPROTO_IPV6, IPV6_RECVHOPLIMIT },
	{ IPPROTO_IPV6, IPV6_RECVERR }, { IPPROTO_IPV6, IPV6_MTU_DISCOVER },
	{ IPPROTO_IPV6, IPV6_MULTICAST_HOPS }, { IPPROTO_IPV6, IPV6_MULTICAST_LOOP },
	{ IPPROTO_IPV6, IPV6_FREEBIND }, { IPPROTO_IPV6, IPV6_TRANSPARENT },
	{ IPPROTO_TCP, TCP_NODELAY }, { IPPROTO_TCP, TCP_MAXSEG }, { IPPROTO_TCP, TCP_CORK },
	{ IPPROTO_TCP, TCP_KEEPIDLE }, { IPPROTO_TCP, TCP_KEEPINTVL }, { IPPROTO_TCP, TCP_KEEPCNT },
	{ IPPROTO_TCP, TCP_SYNCNT }, { IPPROTO_TCP, TCP_LINGER2 }, { IPPROTO_TCP, TCP_DEFER_ACCEPT },
	{ IPPROTO_TCP, TCP_WINDOW_CLAMP }, { IPPROTO_TCP, TCP_CONGESTION },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT }, { IPPROTO_TCP, TCP_FASTOPEN },
	{ IPPROTO_TCP, TCP_FASTOPEN_CONNECT }, { IPPROTO_TCP, TCP_NOTSENT_LOWAT },
	{ IPPROTO_UDP, UDP_CORK }, { IPPROTO_UDP, UDP_SEGMENT }, { IPPROTO_UDP, UDP_GRO },
};

static void copy_opt(int from, int to, int level, int name)
{
	unsigned char a[64], b[64];
	socklen_t la = sizeof(a), lb = sizeof(b);

	if (getsockopt(from, level, name, a, &la) || getsockopt(to, level, name, b, &lb) ||
	    (la == lb && !memcmp(a, b, la)))
		return;
	if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF) && la == sizeof(int)) {
		int v;

		/* the kernel reports twice what was set */
		memcpy(&v, a, sizeof(v));
		v /= 2;
		memcpy(a, &v, sizeof(v));
	}
	if (setsockopt(to, level, name, a, la))
		say(debug, "cannot carry socket option %d/%d over: %s", level, name, strerror(errno));
}

/*
 * A refused bind must leave the socket as it was, unbound, so that the
 * program can bind it elsewhere, as EACCES from bind() promises.  The
 * kernel cannot unbind a TCP or UDP socket: a fresh socket of the same
 * domain, type and protocol, with the same file status flags, signal owner
 * and the options of kept_opts, takes the descriptor's place (dup3 swaps
 * it in one step: the descriptor is never closed or another file
 * meanwhile).  Only system calls: async-signal-safe, no lock.  @st is the
 * socket as bind() had it: if another thread has closed the descriptor and
 * it now names something else, it is left alone.  The old socket, and its
 * port, are released with its last reference: a copy the program made
 * with dup() or fork() keeps it bound.  Under the application's own
 * seccomp filter (filter.h) nothing is tried, @st may not even be known:
 * the dozens of calls this takes would have to pass it, one forbidden
 * call kills the program, and a bound socket is the lesser harm.  Returns
 * 0 or -errno.
 */
static int unbind(int fd, const struct stat *st)
{
	int domain, type, proto, fl, fdfl, s, err = 0;
	struct f_owner_ex owner;
	struct stat now;

	if (filter_active()) {
		say(debug, "fd %d stays bound: under a seccomp filter", fd);
		return -EPERM;
	}
	domain = sock_int(fd, SO_DOMAIN);
	type = sock_int(fd, SO_TYPE);
	proto = sock_int(fd, SO_PROTOCOL);
	fl = real_fcntl(fd, F_GETFL);
	fdfl = real_fcntl(fd, F_GETFD);
	if (domain < 0 || type < 0 || proto < 0 || fl < 0 || fdfl < 0)
		return -EBADF;
	s = real_socket(domain, type | SOCK_CLOEXEC, proto);
	if (s < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(kept_opts) / sizeof(kept_opts[0]); i++)
		copy_opt(fd, s, kept_opts[i].level, kept_opts[i].name);
	if (real_fcntl(s, F_SETFL, fl) ||
	    (fl & O_ASYNC && (real_fcntl(fd, F_GETOWN_EX, &owner) ||
			      real_fcntl(s, F_SETOWN_EX, &owner) ||
			      real_fcntl(s, F_SETSIG, real_fcntl(fd, F_GETSIG)))))
		err = -errno;
	else if (fstat(fd, &now) || now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		err = -ESTALE;
	else if (real_dup3(s, fd, fdfl & FD_CLOEXEC ? O_CLOEXEC : 0) < 0)
		err = -errno;
	real_close(s);
	if (err)
		say(debug, "fd %d stays bound: %s", fd, strerror(-err));
	else
		memset(&fds[fd], 0, sizeof(fds[fd]));
	return err;
}

/* --- the observations ---------------------------------------------------------- */

/*
 * From the first socket call on, the channel is close-on-exec: a shell
 * escape or helper the application runs later does not inherit it (paper
 * §4.1).  Before that, an exec is a launcher handing over to the real
 * program.  dyperd's verification and program= rules are what bound the
 * channel's power either way.
 */
static inline void seal(void)
{
	if (!sealed && MAY(SYS_fcntl, (uint64_t)channel, F_SETFD, FD_CLOEXEC, 0, 0, 0)) {
		sealed = true;
		real_fcntl(channel, F_SETFD, FD_CLOEXEC);
	}
}

static int on_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fdinfo *fi = info(fd);
	const struct peer *p;
	struct addr a;
	uint16_t port;
	int proto;

	seal();

	if (!fi || !to_addr(sa, len, &a, &port) || is_loopback(&a))
		return 0;
	proto = sock_proto(fd);
	if (proto < 0)
		return 0;
	p = current_peer();
	if (!p) {
		/* no one to admit yet: a control port */
		fi->kind = FD_CONTROL_PORT;
		fi->named = port != 0;
		fi->adopted = 0;
		if (fd > max_port_fd)
			max_port_fd = fd;
		say(debug, "fd %d: control port %u", fd, port);
		return 0;
	}
	return open_pinhole(fd, proto, p, sa, len);
}

static void set_peer(struct peer *p, const struct addr *remote, const struct addr *local)
{
	p->remote = *remote;
	if (local && local->family == remote->family)
		p->local = *local;
	else
		memset(&p->local, 0, sizeof(p->local));
}

static void on_accept(int lfd, int fd)
{
	struct fdinfo *li = info(lfd), *fi = info(fd);
	struct addr remote, local;
	uint16_t port;

	seal();
	/* a server forks its sessions after accept(): they inherit a live
	 * channel only if it is resumed here, and may be unable to later
	 * (a seccomp filter).  One poll, no wait: dyperd may be down. */
	if (have_ticket && !filter_active() && channel_dead())
		channel_resume(0);

	if (!li || !fi)
		return;
	memset(fi, 0, sizeof(*fi));
	if (li->kind == FD_AUX && li->adopted && sock_name(fd, true, &remote, &port) &&
	    !is_loopback(&remote) && !same_host(&remote, &li->req))
		unadopt(lfd);
	if (li->kind == FD_CONTROL_PORT) {
		if (!sock_name(fd, true, &remote, &port) || is_loopback(&remote))
			return;
		sock_name(fd, false, &local, &port);
		server_role = true;
		fi->kind = FD_CONTROL_CONN;
		set_peer(&fi->peer, &remote, &local);
		t_peer = fi->peer;
		say(debug, "fd %d: control connection accepted", fd);
	} else if (li->kind == FD_AUX && oneshot && li->req.proto == IPPROTO_TCP) {
		struct dyper_reply rep;

		/* the flow is established: conntrack carries it, no pinhole needed */
		ask(DYPER_MSG_CLOSE, &li->req, -1, false, &rep);
		li->kind = FD_NONE;
		say(debug, "fd %d: one-shot pinhole closed", lfd);
	}
}

/*
 * A port prepared before the peer was known is adopted as auxiliary for
 * @p: a pinhole for @p, and the mark that lets unadopt() undo it.  A
 * socket that cannot carry @p's family is left alone.
 */
static void adopt(int fd, const struct peer *p)
{
	struct addr bound;
	uint16_t port;
	int proto = sock_proto(fd);

	if (proto < 0 || !sock_name(fd, false, &bound, &port))
		return;
	if (bound.family != p->remote.family &&
	    (bound.family == AF_INET || !is_zero(&bound) || sock_int6(fd, IPV6_V6ONLY) == 1))
		return;
	if (open_pinhole(fd, proto, p, NULL, 0) == 0) {
		fds[fd].adopted = 1;
		say(debug, "fd %d: prepared port %u adopted as auxiliary for the control peer",
		    fd, port);
	}
}

/*
 * Adopts the control ports that have not been reached yet, except @except
 * (the control socket itself).  @only_port >= 0: only TCP listeners on
 * that port number (iperf's dual test listens on the port it contacts).
 */
static void adopt_ports(int except, int only_port, const struct peer *p)
{
	for (int fd = 0; fd <= max_port_fd; fd++) {
		struct addr bound;
		uint16_t port;

		if (fd == except || fds[fd].kind != FD_CONTROL_PORT)
			continue;
		if (only_port >= 0 &&
		    (sock_int(fd, SO_ACCEPTCONN) != 1 || sock_proto(fd) != IPPROTO_TCP ||
		     !sock_name(fd, false, &bound, &port) || port != only_port))
			continue;
		adopt(fd, p);
	}
}

/*
 * The process acquires its control peer: it has served no one (no server
 * role) and has no control peer yet, and now contacts the external host
 * @remote (on port @rport) through @fd.  The rule for the ports it bound
 * before (control ports nothing has reached yet):
 *  - if @fd is one of them, bound to a port the program chose (@named),
 *    the program talks to @remote from its own port: a peer-to-peer
 *    protocol's signalling socket (SIP).  Every other such port was
 *    prepared for this peer (media ports) and is adopted;
 *  - otherwise (a TCP connect from a new socket) only TCP listeners on
 *    port @rport are adopted: the process listens for the very service it
 *    contacts, and its peer connects back (iperf's dual test).
 * A lookup (resolver, directory, syslog, database) always goes out from a
 * socket of its own that the program did not bind to a chosen port, to a
 * service other than the program's: it adopts nothing.  Safety net:
 * unadopt().
 */
static void take_control_peer(int fd, bool named, const struct peer *p, uint16_t rport)
{
	client_peer = *p;
	t_peer = client_peer;
	say(debug, "fd %d: client control channel", fd);
	adopt_ports(fd, named ? -1 : rport, &client_peer);
}

/* The peer @remote as seen from a socket bound to @local. */
static void peer_of(struct peer *p, const struct addr *remote, const struct addr *local)
{
	set_peer(p, remote, local);
	if (local->family != remote->family || is_zero(local))
		local_towards(remote, &p->local);
}

/*
 * A UDP socket the program bound to a port it chose talks first to
 * @remote: its signalling socket.  It gets a pinhole for @remote first
 * (requests may come from any of its ports); only then is @remote the
 * control peer.  Returns that pinhole's status.
 */
static int signalling(int fd, const struct addr *remote, uint16_t rport, const struct addr *local)
{
	struct peer p;
	int err;

	peer_of(&p, remote, local);
	err = open_pinhole(fd, IPPROTO_UDP, &p, NULL, 0);
	if (err && !deny_warn)
		return err;
	take_control_peer(fd, true, &p, rport);
	return err;
}

/* The first outbound connection from an unconnected state is a client's
 * control channel. */
static void on_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fdinfo *fi = info(fd);
	struct addr remote, local;
	uint16_t rport, port;
	bool named;
	int proto;

	seal();

	if (!fi || !to_addr(sa, len, &remote, &rport) || is_loopback(&remote) ||
	    is_zero(&remote))
		return;
	proto = sock_proto(fd);
	named = fi->kind == FD_CONTROL_PORT && fi->named;
	if (proto == IPPROTO_UDP) {
		/* a connected UDP socket: only the program's own port counts (a
		 * resolver connects a socket of its own) */
		if (named && !server_role && !client_peer.remote.family &&
		    sock_name(fd, false, &local, &port))
			signalling(fd, &remote, rport, &local);
		return;
	}
	if (proto != IPPROTO_TCP)
		return;
	sock_name(fd, false, &local, &port);
	fi->kind = FD_CONTROL_CONN;
	fi->named = 0;
	set_peer(&fi->peer, &remote, &local);
	t_peer = fi->peer;
	if (!server_role && !client_peer.remote.family)
		take_control_peer(fd, named, &fi->peer, rport);
}

/*
 * A datagram leaving an unconnected UDP socket while the process has
 * neither served anyone nor a control peer:
 *  - from a port the program bound itself (a SIP user agent's signalling
 *    socket): the destination is the control peer (take_control_peer());
 *  - from any other socket, the first time: the answers may come from any
 *    port of that host (TFTP answers from a new one), so the socket needs a
 *    pinhole before the datagram leaves.  The host does not become the
 *    control peer: a resolver's query looks just the same.
 */
static int on_sendto(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fdinfo *fi = info(fd);
	struct addr remote, local;
	struct stat st;
	struct peer p;
	uint16_t rport, port;
	int err;

	seal();

	if (!fi || fi->kind == FD_AUX || server_role || client_peer.remote.family)
		return 0;
	if (!to_addr(sa, len, &remote, &rport) || is_loopback(&remote) || is_zero(&remote))
		return 0;
	if (sock_proto(fd) != IPPROTO_UDP)
		return 0;
	if (!sock_name(fd, false, &local, &port))
		return 0;
	if (fi->kind == FD_CONTROL_PORT && fi->named)
		return signalling(fd, &remote, rport, &local);
	if (udp_contacted)
		return 0;
	if (!port) {
		struct sockaddr_storage any = { .ss_family = sock_int(fd, SO_DOMAIN) };
		socklen_t alen = any.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
							     sizeof(struct sockaddr_in);

		/* bind it now, as the kernel would on send, to know the port */
		if ((!fd_stat(fd, &st) && !filter_active()) ||
		    !MAY(SYS_bind, (uint64_t)fd, P(&any), alen, 0, 0, 0) ||
		    real_bind(fd, (struct sockaddr *)&any, alen))
			return 0;
	}
	set_peer(&p, &remote, NULL);
	local_towards(&remote, &p.local);
	say(debug, "fd %d: first datagram of a UDP client", fd);
	err = open_pinhole(fd, IPPROTO_UDP, &p, NULL, 0);
	if (err && !port && !deny_warn)
		unbind(fd, &st);	/* as it was: the datagram does not leave */
	if (!err)
		udp_contacted = true;
	return err;
}

/* Something was read from @fd: a control connection's command, or a
 * datagram to a control port (whose sender becomes the peer). */
static inline void on_read(int fd, const struct sockaddr *from, socklen_t len)
{
	struct fdinfo *fi = info(fd);

	if (!fi)
		return;
	if (fi->kind == FD_CONTROL_CONN) {
		t_peer = fi->peer;
		return;
	}
	if (fi->kind == FD_AUX && fi->adopted && from) {
		struct addr remote;
		uint16_t port;

		if (!to_addr(from, len, &remote, &port) || is_loopback(&remote) ||
		    same_host(&remote, &fi->req))
			return;
		unadopt(fd);
	}
	if (fi->kind == FD_CONTROL_PORT && from) {
		struct addr remote, local;
		uint16_t port;

		if (!to_addr(from, len, &remote, &port) || is_loopback(&remote))
			return;
		server_role = true;
		if (!sock_name(fd, false, &local, &port) || is_zero(&local) ||
		    local.family != remote.family)
			local_towards(&remote, &local);
		set_peer(&t_peer, &remote, &local);
	}
}

static void copy_info(int from, int to)
{
	struct fdinfo *a = info(from), *b = info(to);

	if (b)
		*b = a ? *a : (struct fdinfo){ 0 };
}

/* --- the interposed functions ---------------------------------------------------- */

#define GUARDED() (channel < 0 || in_agent)

EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct stat st;
	int ret, e, err;

	resolve();
	ret = real_bind(fd, sa, len);
	if (ret || GUARDED() || fd < 0 || fd >= MAX_FD)
		return ret;
	e = errno;
	in_agent++;
	/* under a seccomp filter fstat() may be forbidden: then unbind() does
	 * not need @st */
	err = fd_stat(fd, &st) || filter_active() ? on_bind(fd, sa, len) : 0;
	if (err && !deny_warn)
		unbind(fd, &st);
	in_agent--;
	if (err && deny_warn)
		say(true, "no pinhole for fd %d: %s (DYPER_ON_DENY=warn: bind succeeds)", fd,
		    strerror(-err));
	if (err && !deny_warn) {
		errno = EACCES;
		return -1;
	}
	errno = e;
	return 0;
}

EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int ret, e;

	resolve();
	ret = real_connect(fd, sa, len);
	if (GUARDED() || (ret && errno != EINPROGRESS))
		return ret;
	e = errno;
	in_agent++;
	on_connect(fd, sa, len);
	in_agent--;
	errno = e;
	return ret;
}

/* After accept: classify the new descriptor; errno as accept left it. */
static int accepted(int lfd, int fd)
{
	int e;

	if (fd < 0 || GUARDED())
		return fd;
	e = errno;
	in_agent++;
	on_accept(lfd, fd);
	in_agent--;
	errno = e;
	return fd;
}

EXPORT int accept4(int lfd, struct sockaddr *sa, socklen_t *len, int flags)
{
	resolve();
	return accepted(lfd, real_accept4(lfd, sa, len, flags));
}

EXPORT int accept(int lfd, struct sockaddr *sa, socklen_t *len)
{
	resolve();
	return accepted(lfd, real_accept(lfd, sa, len));
}

static int before_send(int fd, const struct sockaddr *sa, socklen_t len)
{
	int err;

	if (!sa || GUARDED())
		return 0;
	in_agent++;
	err = on_sendto(fd, sa, len);
	in_agent--;
	return err && !deny_warn ? -EACCES : 0;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa,
		      socklen_t len)
{
	int e, err;

	resolve();
	e = errno;
	err = before_send(fd, sa, len);
	if (err) {
		errno = -err;
		return -1;
	}
	errno = e;
	return real_sendto(fd, buf, n, flags, sa, len);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	int e, err;

	resolve();
	e = errno;
	err = msg ? before_send(fd, msg->msg_name, msg->msg_namelen) : 0;
	if (err) {
		errno = -err;
		return -1;
	}
	errno = e;
	return real_sendmsg(fd, msg, flags);
}

/* Reads: cheap unless @fd is a control socket (one array lookup, before
 * the guard's thread-local, which costs a call into ld.so). */
static inline void after_read(int fd, ssize_t n, const struct sockaddr *from, socklen_t len)
{
	int e;

	if (n < 0 || fd < 0 || fd >= MAX_FD || fds[fd].kind == FD_NONE ||
	    (fds[fd].kind == FD_AUX && !fds[fd].adopted) || GUARDED())
		return;
	e = errno;
	in_agent++;
	on_read(fd, from, len);
	in_agent--;
	errno = e;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ssize_t r;

	resolve();
	r = real_read(fd, buf, n);
	after_read(fd, r, NULL, 0);
	return r;
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	ssize_t r;

	resolve();
	r = real_read_chk(fd, buf, n, buflen);
	after_read(fd, r, NULL, 0);
	return r;
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t r;

	resolve();
	r = real_recv(fd, buf, n, flags);
	after_read(fd, r, NULL, 0);
	return r;
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	ssize_t r;

	resolve();
	r = real_recv_chk(fd, buf, n, buflen, flags);
	after_read(fd, r, NULL, 0);
	return r;
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
			socklen_t *len)
{
	struct sockaddr_storage own;
	socklen_t own_len = sizeof(own);
	ssize_t r;

	resolve();
	/* a control port's sender matters even if the caller does not ask */
	if (!sa && fd >= 0 && fd < MAX_FD &&
	    (fds[fd].kind == FD_CONTROL_PORT || (fds[fd].kind == FD_AUX && fds[fd].adopted))) {
		r = real_recvfrom(fd, buf, n, flags, (struct sockaddr *)&own, &own_len);
		after_read(fd, r, (struct sockaddr *)&own, own_len);
		return r;
	}
	r = real_recvfrom(fd, buf, n, flags, sa, len);
	after_read(fd, r, sa, len ? *len : 0);
	return r;
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			      struct sockaddr *sa, socklen_t *len)
{
	ssize_t r;

	resolve();
	r = real_recvfrom_chk(fd, buf, n, buflen, flags, sa, len);
	after_read(fd, r, sa, len ? *len : 0);
	return r;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r;

	resolve();
	r = real_recvmsg(fd, msg, flags);
	after_read(fd, r, msg ? msg->msg_name : NULL, msg && msg->msg_name ? msg->msg_namelen : 0);
	return r;
}

/* --- descriptors: keep the table in step, and the channel alive ----------------- */

/* The application may close or overwrite every descriptor it did not open
 * (daemons do): the channel moves out of the way and survives. */
static void move_channel(void)
{
	int fd = real_fcntl(channel, F_DUPFD_CLOEXEC, 64);

	if (fd >= 0) {
		real_close(channel);
		channel = fd;
	}
}

EXPORT int close(int fd)
{
	resolve();
	if (fd >= 0 && (fd == channel || fd == filt_reply[0] || fd == filt_reply[1]) && !in_agent)
		return 0;	/* ours: it stays, and the app sees a successful close */
	if (fd >= 0 && fd < MAX_FD) {
		fds[fd].kind = FD_NONE;
		filt_proto[fd] = 0;
	}
	return real_close(fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int ret;

	resolve();
	if (channel >= 0 && !(flags & CLOSE_RANGE_CLOEXEC) &&
	    (unsigned int)channel >= first && (unsigned int)channel <= last) {
		ret = (unsigned int)channel > first ?
		      real_close_range(first, (unsigned int)channel - 1, flags) : 0;
		if (ret == 0 && (unsigned int)channel < last)
			ret = real_close_range((unsigned int)channel + 1, last, flags);
	} else {
		ret = real_close_range(first, last, flags);
	}
	if (ret == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
		for (unsigned int fd = first; fd <= last && fd < MAX_FD; fd++)
			if ((int)fd != channel)
				fds[fd].kind = FD_NONE;
	return ret;
}

/* glibc's closefrom() calls the close_range system call directly. */
EXPORT void closefrom(int lowfd)
{
	if (lowfd < 0)
		lowfd = 0;
	if (close_range((unsigned int)lowfd, ~0U, 0))
		for (int fd = lowfd; fd < MAX_FD; fd++)
			close(fd);
}

EXPORT int dup(int old)
{
	int fd;

	resolve();
	fd = real_dup(old);
	if (fd >= 0)
		copy_info(old, fd);
	return fd;
}

EXPORT int dup2(int old, int new)
{
	int fd;

	resolve();
	if (new == channel && new != old && channel >= 0)
		move_channel();
	fd = real_dup2(old, new);
	if (fd >= 0 && old != new)
		copy_info(old, fd);
	return fd;
}

EXPORT int dup3(int old, int new, int flags)
{
	int fd;

	resolve();
	if (new == channel && new != old && channel >= 0)
		move_channel();
	fd = real_dup3(old, new, flags);
	if (fd >= 0)
		copy_info(old, fd);
	return fd;
}

static int fcntl_common(int fd, int cmd, va_list ap)
{
	void *arg = va_arg(ap, void *);	/* int and pointer args alike on Linux ABIs */
	int ret;

	resolve();
	ret = real_fcntl(fd, cmd, arg);
	if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		copy_info(fd, ret);
	return ret;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int ret;

	va_start(ap, cmd);
	ret = fcntl_common(fd, cmd, ap);
	va_end(ap);
	return ret;
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	int ret;

	va_start(ap, cmd);
	ret = fcntl_common(fd, cmd, ap);
	va_end(ap);
	return ret;
}

/* --- seccomp: an application that sandboxes itself ------------------------------ */

/*
 * The application installs a seccomp filter (vsftpd: seccomp_sandbox=YES,
 * in its privileged broker after each login).  From now on a system call
 * the filter does not list kills it, so the agent keeps a copy of the
 * filter and asks it before each call of its own (filter.h); and since
 * such filters seldom allow socketpair(), the reply socket for every later
 * request is made now, while everything is still allowed.
 */
static void on_seccomp(const struct sock_fprog *prog)
{
	if (channel < 0)
		return;
	seal();		/* fcntl() may be forbidden from now on */
	filt_pid = getpid();
	filter_record(prog);
	if (filt_reply[0] < 0 &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, filt_reply) == 0) {
		/* out of the way of descriptors the application counts on */
		for (int i = 0; i < 2; i++) {
			int fd = real_fcntl(filt_reply[i], F_DUPFD_CLOEXEC, 64);

			if (fd >= 0) {
				real_close(filt_reply[i]);
				filt_reply[i] = fd;
			}
		}
	}
	say(debug, "seccomp filter of %u instructions installed: the agent follows it",
	    prog ? prog->len : 0);
}

EXPORT int prctl(int option, ...)
{
	unsigned long a2, a3, a4, a5;
	bool filt;
	va_list ap;
	int ret, e;

	va_start(ap, option);
	a2 = va_arg(ap, unsigned long);
	a3 = va_arg(ap, unsigned long);
	a4 = va_arg(ap, unsigned long);
	a5 = va_arg(ap, unsigned long);
	va_end(ap);
	resolve();
	filt = option == PR_SET_SECCOMP && channel >= 0 &&
	       (a2 == SECCOMP_MODE_FILTER || a2 == SECCOMP_MODE_STRICT);
	if (filt) {
		in_agent++;
		/* strict mode allows read, write and exit only: nothing for us */
		on_seccomp(a2 == SECCOMP_MODE_FILTER ? (const struct sock_fprog *)a3 : NULL);
		in_agent--;
	}
	ret = real_prctl(option, a2, a3, a4, a5);
	if (ret && filt) {
		e = errno;
		filter_unrecord();
		errno = e;
	}
	return ret;
}

/* Under a filter, getsockopt(SO_PROTOCOL) is seldom allowed: the protocol
 * of each socket made from then on is noted here. */
EXPORT int socket(int domain, int type, int protocol)
{
	int fd;

	resolve();
	fd = real_socket(domain, type, protocol);
	if (fd >= 0 && fd < MAX_FD && filter_active() && (domain == AF_INET || domain == AF_INET6)) {
		int t = type & 0xf;

		filt_proto[fd] = (uint8_t)(protocol ? protocol : t == SOCK_STREAM ? IPPROTO_TCP :
					   t == SOCK_DGRAM ? IPPROTO_UDP : 0);
	}
	return fd;
}

/* A child after fork() shares the reply socket with its parent: answers
 * could reach the wrong process.  It gets its own if its filter allows. */
static void filt_atfork_child(void)
{
	int pair[2] = { -1, -1 };

	if (filt_reply[0] < 0)
		return;
	if (MAY(SYS_getpid, 0, 0, 0, 0, 0, 0))
		filt_pid = getpid();
	if (MAY(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, P(pair), 0, 0) &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
		pair[0] = pair[1] = -1;
	if (MAY(SYS_close, (uint64_t)filt_reply[0], 0, 0, 0, 0, 0)) {
		real_close(filt_reply[0]);
		real_close(filt_reply[1]);
	}
	filt_reply[0] = pair[0];
	filt_reply[1] = pair[1];
}

/* --- threads: a new thread starts with its creator's control peer --------------- */

struct start {
	void *(*fn)(void *);
	void *arg;
	struct peer peer;
};

static void *thread_start(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	t_peer = s.peer;
	return s.fn(s.arg);
}

EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			  void *arg)
{
	struct start *s;
	int ret;

	resolve();
	if (channel < 0 || !t_peer.remote.family)
		return real_pthread_create(t, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return real_pthread_create(t, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	s->peer = t_peer;
	ret = real_pthread_create(t, attr, thread_start, s);
	if (ret)
		free(s);
	return ret;
}

/* --- exec: a program re-executing itself keeps the channel ------------------------ */

/* Is @path (searched in PATH when @search and it has no slash) the very
 * program running now? */
static bool same_program(const char *path, bool search)
{
	struct stat self, st;
	const char *dirs, *e;
	char buf[4096];

	if (!path || stat("/proc/self/exe", &self))
		return false;
	if (!search || strchr(path, '/'))
		return !stat(path, &st) && st.st_dev == self.st_dev && st.st_ino == self.st_ino;
	dirs = getenv("PATH");
	for (dirs = dirs ? dirs : "/bin:/usr/bin"; ; dirs = e + 1) {
		size_t n;

		e = strchrnul(dirs, ':');
		n = (size_t)(e - dirs);
		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? dirs : ".", path) <
		    (int)sizeof(buf) && !stat(buf, &st))
			return st.st_dev == self.st_dev && st.st_ino == self.st_ino;
		if (!*e)
			return false;
	}
}

/*
 * Daemons that fork and exec themselves for each session (GridFTP's
 * server) must keep the channel: the new image finds its control
 * connection among the inherited sockets (rebuild()).  Anything else the
 * program execs stays sealed off.  Returns whether the channel was opened
 * up; the environment names its current number.
 */
static bool before_exec(const char *path, bool search)
{
	char n[16];

	if (channel < 0 || !sealed || !same_program(path, search))
		return false;
	snprintf(n, sizeof(n), "%d", channel);
	setenv(DYPER_CHANNEL_ENV, n, 1);
	real_fcntl(channel, F_SETFD, 0);
	say(debug, "exec of this same program: the channel goes along");
	return true;
}

static void after_exec_failed(bool opened)
{
	if (opened)
		real_fcntl(channel, F_SETFD, FD_CLOEXEC);
}

/*
 * Every exec: @envp NULL means the process's own environment, read after
 * before_exec() (whose setenv may move it); a caller's own environment
 * gets the channel's variable added if it lacks it.
 */
static int exec_env(const char *path, char *const argv[], char *const envp[], bool search)
{
	bool opened = before_exec(path, search), have = false;
	size_t n = 0;
	int r, e;

	if (!envp)
		envp = environ;
	for (; envp && envp[n]; n++)
		have |= !strncmp(envp[n], DYPER_CHANNEL_ENV "=", sizeof(DYPER_CHANNEL_ENV));
	if (opened && !have && n < 4096) {
		char *env2[n + 2], var[sizeof(DYPER_CHANNEL_ENV) + 16];

		snprintf(var, sizeof(var), "%s=%d", DYPER_CHANNEL_ENV, channel);
		for (size_t i = 0; i < n; i++)
			env2[i] = envp[i];
		env2[n] = var;
		env2[n + 1] = NULL;
		r = search ? real_execvpe(path, argv, env2) : real_execve(path, argv, env2);
	} else {
		r = search ? real_execvpe(path, argv, envp) : real_execve(path, argv, envp);
	}
	e = errno;
	after_exec_failed(opened);
	errno = e;
	return r;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	resolve();
	return exec_env(path, argv, envp ? envp : (char *const[]){ NULL }, false);
}

EXPORT int execv(const char *path, char *const argv[])
{
	resolve();
	return exec_env(path, argv, NULL, false);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	resolve();
	return exec_env(file, argv, NULL, true);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	resolve();
	return exec_env(file, argv, envp, true);
}

/*
 * After an exec that kept the channel, the sockets inherited tell what was
 * going on: a connection to an external peer is a control connection (its
 * peer becomes the current one), a listener on an external address a
 * control port.
 */
static void rebuild(void)
{
	for (int fd = 0; fd < 1024; fd++) {
		struct addr remote, local;
		uint16_t port;
		struct stat st;
		int proto;

		if (fd == channel || fstat(fd, &st) || !S_ISSOCK(st.st_mode))
			continue;
		proto = sock_proto(fd);
		if (proto < 0 || !sock_name(fd, false, &local, &port) || is_loopback(&local))
			continue;
		if (sock_int(fd, SO_ACCEPTCONN) == 1) {
			fds[fd].kind = FD_CONTROL_PORT;
			fds[fd].named = 1;
			if (fd > max_port_fd)
				max_port_fd = fd;
		} else if (proto == IPPROTO_TCP && sock_name(fd, true, &remote, &port) &&
			   !is_loopback(&remote)) {
			fds[fd].kind = FD_CONTROL_CONN;
			set_peer(&fds[fd].peer, &remote, &local);
			if (!t_peer.remote.family)
				t_peer = fds[fd].peer;
			server_role = true;
			say(debug, "fd %d: inherited control connection", fd);
		}
	}
}

/* --- start ---------------------------------------------------------------------- */

__attribute__((constructor))
static void agent_init(void)
{
	const char *env = getenv(DYPER_CHANNEL_ENV), *v;
	char *end;
	long fd;

	resolve();
	v = getenv("DYPER_DEBUG");
	debug = v && *v && strcmp(v, "0");
	v = getenv("DYPER_ON_DENY");
	deny_warn = v && !strcmp(v, "warn");
	v = getenv("DYPER_ONESHOT");
	oneshot = v && !strcmp(v, "1");
	v = getenv("DYPER_TIMEOUT_MS");
	if (v) {
		long t = strtol(v, &end, 10);

		if (!*end && t > 0 && t <= 3600000)
			reply_timeout_ms = (int)t;
	}
	if (!env)
		return;
	fd = strtol(env, &end, 10);
	if (*end || fd < 0 || fd >= MAX_FD)
		return;
	if (sock_int((int)fd, SO_DOMAIN) != AF_UNIX || sock_int((int)fd, SO_TYPE) != SOCK_SEQPACKET) {
		say(debug, "%s=%s is not a channel to dyperd: inactive", DYPER_CHANNEL_ENV, env);
		return;
	}
	/* Sealed close-on-exec at the first socket call (see seal()): until
	 * then an exec hands it on, so that wrapper scripts and launchers
	 * that exec the real program keep working. */
	channel = (int)fd;
	pthread_atfork(NULL, NULL, filt_atfork_child);
	say(debug, "active on channel fd %d", channel);
	ticket_get();
	rebuild();
}
