// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The agent channel: AF_UNIX SOCK_SEQPACKET, reachable by the wrapper's
 * group only.  Identity comes from the kernel: SO_PEERCRED at connect (the
 * wrapper's group is the delegate) and SCM_CREDENTIALS on every message
 * (the process asking, after any fork or setuid).  Every OPEN carries the
 * socket itself, which is checked against the request before the policy
 * is asked.  dyper-wrap's HELLO, sent before the user holds the channel,
 * names the file its program runs as: program= rules hold to that file.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "dyperd/daemon.h"
#include "dyperd/log.h"
#include "dyperd/verify.h"

#define MAX_FDS		4	/* a request passes at most the socket and a reply socket */
#define MSGS_PER_WAKE	64	/* fairness between channels */
#define MAX_GROUPS	256

/*
 * Gives the new agent socket @path to root and group @gid.  Started
 * without root (as user= with the group of the unit's Group=) the socket
 * stays ours and changes group only if it lacks @gid, which we must then
 * be a member of.
 */
static int agent_socket_owner(struct dyperd *d, const char *path, gid_t gid)
{
	struct stat st;

	if (geteuid() == 0)
		return chown(path, 0, gid) ? -errno : 0;
	if (stat(path, &st))
		return -errno;
	if (st.st_gid != gid && chown(path, (uid_t)-1, gid)) {
		log_err("cannot give %s to group \"%s\": %s; start dyperd with that group "
			"(Group= in dyperd.service) or as root", path, d->cfg.group,
			strerror(errno));
		return -EPERM;
	}
	return 0;
}

int channel_listen(struct dyperd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg.agent_socket;
	struct group *gr = getgrnam(d->cfg.group);
	struct stat st;
	mode_t old;
	int fd, err;

	if (!gr) {
		log_err("group \"%s\" does not exist: create it (groupadd --system %s) or set "
			"group= in %s", d->cfg.group, d->cfg.group, d->config_path);
		return -ENOENT;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("agent_socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* a stale socket from a previous run; never remove anything else */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket: remove it or change agent_socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Inherited by every accepted channel: a message sent between our
	 * accept() and a setsockopt() there would carry no credentials, and
	 * be read as pid 0, uid and gid 65534. */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int))) {
		err = -errno;
		close(fd);
		return err;
	}
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err)
		err = agent_socket_owner(d, path, gr->gr_gid);
	if (!err && chmod(path, 0660))
		err = -errno;
	if (!err && listen(fd, 256))
		err = -errno;
	if (err) {
		log_err("cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	d->agent_lfd = fd;
	return 0;
}

/*
 * Descriptors kept back from channels: the listeners, epoll, the timer and
 * signal fds, the enforcer's netlink sockets, sock_diag, syslog, the event
 * log, the spare, control connections, what one batch of messages passes
 * (RX_BATCH * MAX_FDS) and the reply sockets of requests in flight.  A
 * quarter of the limit, within these bounds.
 */
#define FD_RESERVE_MIN	32
#define FD_RESERVE_MAX	512
#define NOFILE_MIN	64
#define ACCEPT_BACKOFF_MS 100	/* a listener rests this long after EMFILE */

int channel_fd_budget(struct dyperd *d, unsigned long nofile)
{
	unsigned long reserve = nofile / 4;

	if (nofile < NOFILE_MIN) {
		log_err("the descriptor limit (RLIMIT_NOFILE) is %lu: dyperd needs at least %d "
			"(LimitNOFILE= in dyperd.service)", nofile, NOFILE_MIN);
		return -EMFILE;
	}
	reserve = reserve < FD_RESERVE_MIN ? FD_RESERVE_MIN :
		  reserve > FD_RESERVE_MAX ? FD_RESERVE_MAX : reserve;
	d->channel_room = nofile - reserve > UINT32_MAX ? UINT32_MAX :
			  (uint32_t)(nofile - reserve);
	if (d->cfg.max_channels > d->channel_room)
		log_warn("max_channels = %u does not fit the descriptor limit (RLIMIT_NOFILE %lu, "
			 "%lu kept for the rest): at most %u agent channels", d->cfg.max_channels,
			 nofile, reserve, d->channel_room);
	return 0;
}

static uint32_t channel_cap(const struct dyperd *d)
{
	return d->cfg.max_channels < d->channel_room ? d->cfg.max_channels : d->channel_room;
}

static struct uid_channels **uid_slot(struct dyperd *d, uid_t uid)
{
	struct uid_channels **p = &d->uid_channels[uid % UID_BUCKETS];

	while (*p && (*p)->uid != uid)
		p = &(*p)->next;
	return p;
}

/* Counts a channel of @uid in; -EUSERS over a cap (@why says which). */
static int channel_admit(struct dyperd *d, uid_t uid, char *why, size_t len)
{
	struct uid_channels **p = uid_slot(d, uid);

	if (d->n_channels >= channel_cap(d)) {
		snprintf(why, len, "all %u channels in use (max_channels)", channel_cap(d));
		return -EUSERS;
	}
	if (*p && (*p)->n >= d->cfg.max_channels_per_user) {
		snprintf(why, len, "uid %u holds %u channels (max_channels_per_user)", uid,
			 (*p)->n);
		return -EUSERS;
	}
	if (!*p) {
		*p = calloc(1, sizeof(**p));
		if (!*p) {
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
		(*p)->uid = uid;
	}
	(*p)->n++;
	d->n_channels++;
	return 0;
}

static void channel_release(struct dyperd *d, uid_t uid)
{
	struct uid_channels **p = uid_slot(d, uid), *u = *p;

	d->n_channels--;
	if (u && --u->n == 0) {
		*p = u->next;
		free(u);
	}
}

void listener_backoff(struct dyperd *d, int lfd, struct ev_tag *tag, uint64_t *rearm_ms,
		      int err, const char *what)
{
	struct epoll_event ev = { .events = 0, .data.ptr = tag };

	/* the classic way out of EMFILE: our spare descriptor makes room to
	 * take the connection at the head of the queue and close it, so that
	 * its client learns at once rather than waiting */
	if (d->spare_fd >= 0 && (err == EMFILE || err == ENFILE)) {
		int fd;

		close(d->spare_fd);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, lfd, &ev);
	*rearm_ms = now_ms() + ACCEPT_BACKOFF_MS;
	log_limited(LOG_WARNING, "accept failures", "accept on the %s socket: %s: not accepting "
		    "for %d ms", what, strerror(err), ACCEPT_BACKOFF_MS);
}

/* Connections on the agent socket, or (@resume) on a resume socket, where
 * the only request is a RESUME. */
static void accept_channels(struct dyperd *d, int lfd, struct ev_tag *tag, uint64_t *rearm_ms,
			    bool resume)
{
	for (;;) {
		struct ucred cr;
		socklen_t len = sizeof(cr);
		struct epoll_event ev = { .events = EPOLLIN };
		struct channel *ch;
		int one = 1, sndbuf = 4 * 1024 * 1024, fd;
		char why[96];

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				listener_backoff(d, lfd, tag, rearm_ms, errno,
						 resume ? "resume" : "agent");
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
			log_limited(LOG_WARNING, "agent channel failures",
				    "cannot set up an agent channel: %s", strerror(errno));
			close(fd);
			continue;
		}
		/* over a cap: accepted only to be closed, so that the client
		 * learns at once and the backlog does not fill */
		if (channel_admit(d, cr.uid, why, sizeof(why))) {
			d->st.channels_refused++;
			log_limited(LOG_WARNING, "refused agent connections",
				    "agent connection from pid %d uid %u refused: %s", cr.pid, cr.uid,
				    why);
			close(fd);
			continue;
		}
		/* room for the replies to many pipelined requests (each reply
		 * costs a whole skb of the send buffer) */
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		ch = calloc(1, sizeof(*ch));
		if (!ch || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
			log_limited(LOG_WARNING, "agent channel failures",
				    "cannot set up an agent channel: %s", strerror(errno));
			channel_release(d, cr.uid);
			free(ch);
			close(fd);
			continue;
		}
		ch->tag.kind = EV_AGENT;
		ch->fd = fd;
		ch->program_fd = -1;
		ch->serial = ++d->channel_serial;
		ch->peer_pid = cr.pid;
		ch->peer_uid = cr.uid;
		ch->delegate_gid = cr.gid;
		ch->tokens = d->cfg.burst;
		ch->refill_ns = now_ns();
		if (resume)
			resume_mark_pending(ch);
		ev.data.ptr = ch;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			log_limited(LOG_WARNING, "agent channel failures", "epoll: %s",
				    strerror(errno));
			channel_release(d, cr.uid);
			free(ch);
			close(fd);
			continue;
		}
		ch->next = d->channels;
		d->channels = ch;
		log_debug("channel %llu from pid %d uid %u gid %u%s", (unsigned long long)ch->serial,
			  cr.pid, cr.uid, cr.gid, resume ? " (resume socket)" : "");
	}
}

void channel_accept(struct dyperd *d)
{
	accept_channels(d, d->agent_lfd, &d->agent_tag, &d->agent_rearm_ms, false);
}

void channel_accept_resume(struct dyperd *d, struct ev_tag *tag)
{
	if (tag == &d->resume_atag)
		accept_channels(d, d->resume_alfd, tag, &d->resume_arearm_ms, true);
	else
		accept_channels(d, d->resume_lfd, tag, &d->resume_rearm_ms, true);
}

void channel_close(struct dyperd *d, struct channel *ch)
{
	struct channel **p;

	for (p = &d->channels; *p; p = &(*p)->next) {
		if (*p == ch) {
			*p = ch->next;
			break;
		}
	}
	engine_forget_channel(d, ch);
	resume_channel_closed(d, ch);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, ch->fd, NULL);
	close(ch->fd);
	if (ch->program_fd >= 0)
		close(ch->program_fd);
	free(ch->program);
	channel_release(d, ch->peer_uid);
	if (ch->paused)
		d->n_paused--;
	log_debug("channel %llu closed", (unsigned long long)ch->serial);
	free(ch);
}

static void refill(struct dyperd *d, struct channel *ch)
{
	uint64_t now = now_ns();

	ch->tokens += (double)(now - ch->refill_ns) * d->cfg.rate / 1e9;
	if (ch->tokens > d->cfg.burst)
		ch->tokens = d->cfg.burst;
	ch->refill_ns = now;
}

/*
 * A channel out of tokens is not read until they refill (channel_tick): what
 * it sends meanwhile waits in the kernel, whose socket buffer then blocks
 * the sender, so a flood costs dyperd no more than the rate it allows.
 */
static void channel_pause(struct dyperd *d, struct channel *ch)
{
	struct epoll_event ev = { .events = 0, .data.ptr = ch };

	if (ch->paused)
		return;
	ch->paused = true;
	d->n_paused++;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, ch->fd, &ev);
}

static void rearm(struct dyperd *d, int lfd, struct ev_tag *tag, uint64_t *rearm_ms,
		  uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	if (*rearm_ms && now >= *rearm_ms && !epoll_ctl(d->epfd, EPOLL_CTL_MOD, lfd, &ev))
		*rearm_ms = 0;
}

void channel_tick(struct dyperd *d)
{
	uint64_t now = now_ms();

	rearm(d, d->agent_lfd, &d->agent_tag, &d->agent_rearm_ms, now);
	rearm(d, d->control_lfd, &d->control_tag, &d->control_rearm_ms, now);
	rearm(d, d->resume_lfd, &d->resume_tag, &d->resume_rearm_ms, now);
	if (d->resume_alfd >= 0)
		rearm(d, d->resume_alfd, &d->resume_atag, &d->resume_arearm_ms, now);
	/* a channel that did not prove itself in time is closed */
	for (struct channel *ch = d->channels, *next; ch; ch = next) {
		next = ch->next;
		if (ch->resuming && now >= ch->resume_deadline_ms)
			channel_close(d, ch);
	}
	resume_tick(d);
	if (!d->n_paused)
		return;
	for (struct channel *ch = d->channels; ch; ch = ch->next) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ch };

		if (!ch->paused)
			continue;
		refill(d, ch);
		if (ch->tokens >= 1 && !epoll_ctl(d->epfd, EPOLL_CTL_MOD, ch->fd, &ev)) {
			ch->paused = false;
			d->n_paused--;
		}
	}
}

static bool rate_ok(struct dyperd *d, struct channel *ch)
{
	refill(d, ch);
	if (ch->tokens < 1)
		return false;
	ch->tokens -= 1;
	return true;
}

/* The requester's executable; "" if it cannot be read (process gone). */
static void read_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/*
 * dyper-wrap's HELLO, the first message on every channel it makes, names
 * the file its program will run as (the first passed descriptor; none if
 * it could not tell).  The wrapper sends it before it execs, so before the
 * user holds the channel: program= rules on the channel then hold to that
 * file alone.  Takes the descriptor.
 */
static void channel_declare(struct channel *ch, const struct dyper_hello *hello, int *fds,
			    int nfds)
{
	char self[32], path[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (!(hello->flags & DYPER_HELLO_PROGRAM))
		return;
	ch->wrapped = true;
	if (nfds < 1 || fstat(fds[0], &st) || !S_ISREG(st.st_mode))
		return;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fds[0]);
	n = readlink(self, path, sizeof(path) - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	ch->program = strdup(path);
	if (!ch->program)
		return;
	/* pinned: its inode number cannot go to another file meanwhile */
	ch->program_fd = fds[0];
	fds[0] = -1;
	ch->program_dev = st.st_dev;
	ch->program_ino = st.st_ino;
	log_debug("channel %llu: program %s", (unsigned long long)ch->serial, ch->program);
}

/*
 * The program a request from @pid has for program= rules, or NULL; @exe is
 * what /proc/PID/exe said just before.  On a channel dyper-wrap made, the
 * file it declared, and only while @pid runs that very file (its inode):
 * whatever the requester does before it asks or after, nothing makes
 * another executable pass -- not an exec right after asking, not an exec of
 * the named program with an agent of one's own, not prctl(PR_SET_MM_EXE_FILE).
 * On a channel a member of the socket's group connected itself, @exe: the
 * member is trusted as the wrapper is.
 */
static const char *request_program(const struct channel *ch, pid_t pid, const char *exe)
{
	char path[64];
	struct stat st;

	if (!ch->wrapped)
		return exe[0] ? exe : NULL;
	if (ch->program_fd < 0)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st) || st.st_dev != ch->program_dev || st.st_ino != ch->program_ino)
		return NULL;
	return ch->program;
}

/* Primary and supplementary groups of @pid, from /proc (for @group rules). */
static size_t read_groups(pid_t pid, gid_t primary, uint32_t *gids, size_t max)
{
	char path[64], buf[8192], *p;
	size_t n = 0;
	ssize_t len;
	int fd;

	gids[n++] = primary;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return n;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return n;
	buf[len] = '\0';
	p = strstr(buf, "\nGroups:");
	if (!p)
		return n;
	p += 8;
	while (n < max) {
		char *end;
		unsigned long g = strtoul(p, &end, 10);

		if (end == p)
			break;
		gids[n++] = (uint32_t)g;
		p = end;
	}
	return n;
}

static void req_to_pinhole(const struct dyper_pinhole_req *req, struct pinhole *ph)
{
	memset(ph, 0, sizeof(*ph));
	ph->family = req->family;
	ph->proto = req->proto;
	ph->remote_port = req->remote_port;
	ph->local_port = req->local_port;
	memcpy(ph->remote.raw, req->remote, 16);
	memcpy(ph->local.raw, req->local, 16);
}

static int minute_of_day(void)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_hour * 60 + tm.tm_min;
}

static uint32_t min_nonzero(uint32_t a, uint32_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* @ph as text for a log line: formatted on first use only, as most
 * requests write no line. */
static const char *what_str(const struct pinhole *ph, char *what)
{
	if (!what[0])
		pinhole_format(ph, what, PINHOLE_STR_LEN);
	return what;
}

/* True if process @pid runs in dyperd's user namespace; false if not,
 * or if that cannot be read (the process is gone). */
static bool in_our_userns(const struct dyperd *d, pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	return pid > 0 && stat(path, &st) == 0 && st.st_dev == d->userns_dev &&
	       st.st_ino == d->userns_ino;
}

/*
 * The uid a request on @ch is charged to: quotas count it, and CLOSE may
 * close only its pinholes.  That is who opened the channel (the user who
 * ran the wrapper: SO_PEERCRED), whatever uid the message's credentials
 * name: in a user namespace with a subordinate range (newuidmap) a user
 * can send as many uids as the range holds, each a stranger to the others.
 * On a channel root opened it is the requesting process's uid (a server
 * root started that switches to its users, as vsftpd does), and a process
 * of another user namespace there gets -EPERM: its uid is none of them.
 */
static int charged_uid(const struct dyperd *d, const struct channel *ch,
		       const struct ucred *cr, uid_t *uid)
{
	if (ch->peer_uid != 0) {
		*uid = ch->peer_uid;
		return 0;
	}
	if (!in_our_userns(d, cr->pid))
		return -EPERM;
	*uid = cr->uid;
	return 0;
}

/* A denial's event: @ph as asked for, by @cr, charged to @charged. */
static void deny_event(struct dyperd *d, const struct pinhole *ph, const struct ucred *cr,
		       uid_t charged, uint32_t line, const char *why)
{
	struct event ev;

	event_init(&ev, EVENT_DENY, ph, 0, line, why);
	ev.ph.owner.uid = charged;
	ev.ph.owner.pid = (uint32_t)cr->pid;
	events_emit(d, &ev);
}

static void handle_open(struct dyperd *d, struct channel *ch, const struct ucred *cr,
			uid_t charged, const struct dyper_pinhole_req *req, int sockfd,
			struct reply_to *reply)
{
	struct policy_request pr = { 0 };
	struct policy_decision dec;
	struct sock_facts f;
	struct pinhole ph;
	char why[160], exe[4096], what[PINHOLE_STR_LEN] = "";
	uint32_t gids[MAX_GROUPS], lifetime;
	const char *base;
	int err;

	req_to_pinhole(req, &ph);
	if (sockfd < 0) {
		reply_send(d, reply, -EBADF, 0, 0, "an open request must pass its socket");
		return;
	}
	err = verify_read_socket(sockfd, &f);
	if (!err)
		err = verify_request(&f, req, &d->netns, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "the passed descriptor is not a TCP/UDP socket");
	if (err) {
		d->st.denials++;
		log_limited(LOG_WARNING, "refused requests", "refused %s for pid %d uid %u: %s",
			    what_str(&ph, what), cr->pid, cr->uid, why);
		deny_event(d, &ph, cr, charged, 0, why);
		reply_send(d, reply, -EPERM, 0, 0, why);
		return;
	}
	/* The executable decides only through program= rules; otherwise it is
	 * a label for logs and the kernel comment, and one readlink per
	 * process and channel is enough. */
	if (policy_uses_programs(d->policy) || ch->name_pid != cr->pid) {
		read_exe(cr->pid, exe, sizeof(exe));
		base = strrchr(exe, '/');
		base = base ? base + 1 : exe;
		memset(ch->name, 0, sizeof(ch->name));
		memcpy(ch->name, base, strnlen(base, sizeof(ch->name) - 1));
		ch->name_pid = cr->pid;
	} else {
		exe[0] = '\0';
		base = ch->name;
	}
	ph.owner.uid = charged;
	ph.owner.pid = (uint32_t)cr->pid;
	ph.owner.sock_ino = f.ino;
	ph.owner.sock_cookie = f.cookie;
	ph.owner.created = (uint64_t)time(NULL);
	/* the kernel's comm is as short: keep the start of the name */
	memcpy(ph.owner.program, base, strnlen(base, sizeof(ph.owner.program) - 1));

	pr.delegate_gid = ch->delegate_gid;
	pr.uid = cr->uid;
	pr.gids = gids;
	/* /proc/PID/status costs as much as the rest of an open: read the
	 * supplementary groups only when a rule can look at them */
	if (policy_uses_groups(d->policy)) {
		pr.n_gids = read_groups(cr->pid, cr->gid, gids, MAX_GROUPS);
	} else {
		gids[0] = cr->gid;
		pr.n_gids = 1;
	}
	if (exe[0]) {
		pr.exe = exe;
		pr.program = request_program(ch, cr->pid, exe);
	}
	pr.family = req->family;
	pr.proto = req->proto;
	memcpy(pr.remote, req->remote, 16);
	memcpy(pr.local, req->local, 16);
	pr.remote_port = req->remote_port;
	pr.local_port = req->local_port;
	pr.minute_of_day = minute_of_day();
	policy_check(d->policy, &pr, &dec);
	if (!dec.allowed) {
		d->st.denials++;
		log_limited(LOG_NOTICE, "denied requests", "denied %s for pid %d uid %u (%s): %s",
			    what_str(&ph, what), cr->pid, cr->uid, exe[0] ? exe : base, dec.why);
		if (pr.exe && !pr.program && ch->wrapped)
			log_limited(LOG_INFO, "denied requests (program)",
				    "pid %d runs %s, not %s that dyper-wrap started for channel %llu: "
				    "no program= rule can allow it", cr->pid, exe,
				    ch->program ? ch->program : "a program",
				    (unsigned long long)ch->serial);
		deny_event(d, &ph, cr, charged, dec.line, dec.why);
		reply_send(d, reply, -EACCES, 0, 0, dec.why);
		return;
	}
	if (table_user_count(&d->table, charged) >= d->cfg.max_per_user) {
		snprintf(why, sizeof(why), "user %u already holds %u pinholes (max_per_user)",
			 charged, d->cfg.max_per_user);
		d->st.denials++;
		log_limited(LOG_NOTICE, "denied requests (quota)", "denied %s: %s",
			    what_str(&ph, what), why);
		deny_event(d, &ph, cr, charged, 0, why);
		reply_send(d, reply, -EDQUOT, 0, 0, why);
		return;
	}
	if (dec.max && table_rule_count(&d->table, charged, dec.line) >= dec.max) {
		snprintf(why, sizeof(why), "user %u holds %u pinholes under policy line %u (max=%u)",
			 charged, dec.max, dec.line, dec.max);
		d->st.denials++;
		log_limited(LOG_NOTICE, "denied requests (quota)", "denied %s: %s",
			    what_str(&ph, what), why);
		deny_event(d, &ph, cr, charged, 0, why);
		reply_send(d, reply, -EDQUOT, 0, 0, why);
		return;
	}
	/* the rule's lifetime= caps the wish; default_lifetime only stands in
	 * for a rule that sets none (dyper.conf) */
	lifetime = min_nonzero(req->lifetime_ms,
			       dec.lifetime_ms ? dec.lifetime_ms : d->cfg.default_lifetime_ms);
	if (log_enabled(LOG_INFO))
		log_info("open %s for pid %d uid %u (%s), charged to uid %u: %s",
			 what_str(&ph, what), cr->pid, cr->uid, base, charged, dec.why);
	engine_request_open(d, &ph, dec.line, lifetime, req->flags & DYPER_REQ_ONESHOT, reply);
}

/* The channel's resume ticket, to the process that asked (its reply socket). */
static void ticket_send(struct dyperd *d, struct channel *ch, const struct ucred *cr,
			struct reply_to *reply)
{
	char buf[sizeof(struct dyper_hdr) + sizeof(struct dyper_ticket)];
	struct dyper_ticket t;
	int fd = reply->fd >= 0 ? reply->fd : ch->fd, len, err;

	err = resume_ticket(d, ch, (uint32_t)cr->pid, &t);
	if (err) {
		reply_send(d, reply, err, 0, 0, "no ticket: this channel cannot be resumed");
		return;
	}
	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_TICKET_REPLY, 0, reply->msg_id, &t,
			       sizeof(t));
	if (len > 0 && send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_limited(LOG_DEBUG, "lost replies", "ticket lost: %s", strerror(errno));
	explicit_bzero(&t, sizeof(t));
	explicit_bzero(buf, sizeof(buf));
}

static void handle_message(struct dyperd *d, struct channel *ch, const struct ucred *cr,
			   const char *buf, size_t len, int *fds, int nfds, bool fds_lost,
			   bool *close_channel)
{
	struct reply_to reply = { .fd = -1, .ch = ch, .t_start_ns = now_ns() };
	const struct dyper_pinhole_req *req;
	struct dyper_hdr h = { 0 };
	const bool first = !ch->served;
	const void *payload;
	struct dyper_ticket ticket;
	char why[96];
	uid_t charged;
	int err;

	ch->served = true;
	d->st.requests++;
	memcpy(&h, buf, len < sizeof(h) ? len : sizeof(h));
	reply.msg_id = h.id;
	err = dyper_msg_decode(buf, len, &h, &payload);
	if (!err && (h.flags & DYPER_F_REPLY_FD) && !fds_lost) {
		if (nfds == 0) {
			err = -EBADMSG;
		} else {
			reply.fd = fds[--nfds];
			fds[nfds] = -1;
		}
	}
	/* on the resume socket a ticket comes first, and nothing else */
	if (!err && ch->resuming && h.type != DYPER_MSG_RESUME)
		err = -EOPNOTSUPP;
	if (err) {
		/* a peer that speaks something else is not served further */
		log_limited(LOG_WARNING, "bad messages", "channel %llu (pid %d): bad message (%s): "
			    "closing it", (unsigned long long)ch->serial, cr->pid, strerror(-err));
		reply_send(d, &reply, err, 0, 0,
			   err == -EPROTONOSUPPORT ? "unsupported protocol version" :
			   err == -EOPNOTSUPP ? "unknown message type" : "malformed message");
		*close_channel = true;
		return;
	}
	if (!rate_ok(d, ch)) {
		/* dropped unanswered: answering (and logging) every message of
		 * a flood is what made it cost; a reply socket closes unanswered */
		d->st.rate_limited++;
		channel_pause(d, ch);
		goto out;
	}
	if (fds_lost) {
		/* our shortage (EMFILE) or a sender passing too many: never a
		 * reason to close the channel.  With a reply socket, that went
		 * too, and its owner sees it close unanswered. */
		d->st.fds_lost++;
		log_limited(LOG_WARNING, "requests whose descriptors were lost",
			    "channel %llu (pid %d uid %u): the descriptors passed with request %u "
			    "were lost (dyperd is short of descriptors, or more than %d were "
			    "passed): not served", (unsigned long long)ch->serial, cr->pid, cr->uid,
			    h.id, MAX_FDS);
		if (!(h.flags & DYPER_F_REPLY_FD))
			reply_send(d, &reply, -EMFILE, 0, 0,
				   "dyperd could not receive the passed descriptors; retry");
		goto out;
	}
	switch (h.type) {
	case DYPER_MSG_HELLO:
		if (first)
			channel_declare(ch, payload, fds, nfds);
		reply_send(d, &reply, 0, 0, 0, "dyperd " DYPER_VERSION);
		break;
	case DYPER_MSG_BYE:
		reply_send(d, &reply, 0, 0, 0, "bye");
		*close_channel = true;
		break;
	case DYPER_MSG_TICKET:
		ticket_send(d, ch, cr, &reply);
		break;
	case DYPER_MSG_RESUME:
		if (!ch->resuming) {
			reply_send(d, &reply, -EINVAL, 0, 0, "resume on the resume socket");
			break;
		}
		/* the payload follows a 12-byte header: copied to be aligned */
		memcpy(&ticket, payload, sizeof(ticket));
		err = resume_claim(d, ch, cr, &ticket, why, sizeof(why));
		explicit_bzero(&ticket, sizeof(ticket));
		if (err) {
			d->st.denials++;
			log_limited(LOG_WARNING, "refused resumes", "refused to resume a channel for "
				    "pid %d uid %u: %s", cr->pid, ch->peer_uid, why);
			*close_channel = true;
		}
		reply_send(d, &reply, err, 0, 0, err ? why : "resumed");
		break;
	case DYPER_MSG_OPEN:
	case DYPER_MSG_CLOSE:
		req = payload;
		err = dyper_req_validate(req);
		if (!err && req->family == AF_INET && !memcmp(req->local, "\0\0\0\0", 4))
			err = -EINVAL;
		if (err) {
			reply_send(d, &reply, err, 0, 0, "invalid request fields");
			break;
		}
		if (charged_uid(d, ch, cr, &charged)) {
			d->st.denials++;
			log_warn("refused a request of pid %d uid %u on root's channel %llu: it runs "
				 "in another user namespace", cr->pid, cr->uid,
				 (unsigned long long)ch->serial);
			reply_send(d, &reply, -EPERM, 0, 0,
				   "a process of another user namespace cannot ask on root's channel");
			break;
		}
		if (h.type == DYPER_MSG_OPEN) {
			handle_open(d, ch, cr, charged, req, nfds ? fds[0] : -1, &reply);
		} else {
			struct pinhole ph;

			req_to_pinhole(req, &ph);
			engine_request_close(d, &ph, charged, &reply);
		}
		break;
	default:
		reply_send(d, &reply, -EOPNOTSUPP, 0, 0, "not a request");
		break;
	}
out:
	if (reply.fd >= 0)
		close(reply.fd);
}

/*
 * Takes the credentials and descriptors out of @msg: 0; -EMFILE if the
 * descriptors were cut short (MSG_CTRUNC: dyperd had no room for them, or
 * more were passed than it takes); -EBADMSG if it is not a well-formed
 * message of ours (no credentials, or cut short itself).
 */
static int take_cmsgs(struct msghdr *msg, struct ucred *cr, int *fds, int *nfds)
{
	bool have_cr = false;

	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(*cr))) {
			memcpy(cr, CMSG_DATA(c), sizeof(*cr));
			have_cr = true;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*nfds < MAX_FDS)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
	}
	if (!have_cr || (msg->msg_flags & MSG_TRUNC))
		return -EBADMSG;
	return msg->msg_flags & MSG_CTRUNC ? -EMFILE : 0;
}

#define RX_BATCH 16

/* One received datagram and its ancillary data; static: one thread. */
static struct rx {
	char buf[DYPER_MSG_MAX + 1];
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
} rx[RX_BATCH];

void channel_readable(struct dyperd *d, struct channel *ch)
{
	struct mmsghdr mm[RX_BATCH];

	/* recvmmsg: a short batch means drained, without one more call that
	 * only says EAGAIN */
	for (int round = 0; round < MSGS_PER_WAKE / RX_BATCH; round++) {
		int n;

		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < RX_BATCH; i++) {
			rx[i].iov.iov_base = rx[i].buf;
			rx[i].iov.iov_len = sizeof(rx[i].buf);
			mm[i].msg_hdr.msg_iov = &rx[i].iov;
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = rx[i].ctl.buf;
			mm[i].msg_hdr.msg_controllen = sizeof(rx[i].ctl.buf);
		}
		n = recvmmsg(ch->fd, mm, RX_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			channel_close(d, ch);
			return;
		}
		for (int i = 0; i < n; i++) {
			struct ucred cr = { .pid = 0 };
			bool close_channel = mm[i].msg_len == 0;	/* end of file */
			int fds[MAX_FDS], nfds, err;

			err = take_cmsgs(&mm[i].msg_hdr, &cr, fds, &nfds);
			if (err == -EBADMSG && !close_channel) {
				log_limited(LOG_WARNING, "bad messages", "channel %llu: message "
					    "without credentials or truncated: closing it",
					    (unsigned long long)ch->serial);
				close_channel = true;
			} else if (!close_channel) {
				handle_message(d, ch, &cr, rx[i].buf, mm[i].msg_len, fds, nfds,
					       err == -EMFILE, &close_channel);
			}
			for (int k = 0; k < nfds; k++)
				if (fds[k] >= 0)
					close(fds[k]);
			if (close_channel) {
				/* what came after it is not served: release its descriptors */
				for (int j = i + 1; j < n; j++) {
					struct ucred ignored;

					take_cmsgs(&mm[j].msg_hdr, &ignored, fds, &nfds);
					for (int k = 0; k < nfds; k++)
						close(fds[k]);
				}
				channel_close(d, ch);
				return;
			}
		}
		/* a paused channel is read again once its tokens refill */
		if (n < RX_BATCH || ch->paused)
			return;
	}
}
