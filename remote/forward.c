// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The site forwarder (forward.h): remote/book's bookkeeping over
 * remote/ssh's session, behind the enforcer interface.  Everything here is
 * plumbing: watching the right descriptor, arming one timer for the
 * earliest deadline, and telling the book what the session did.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include "remote/forward.h"

struct fwd {
	struct remote_ssh *ssh;
	struct remote_book *book;
	void (*log)(int prio, const char *msg, void *arg);
	void *log_arg;
	char where[96];			/* "198.51.100.1 port 22" */
	uint32_t lease_s;

	int epfd, tfd, efd;
	int reg_fd;			/* the SSH socket as registered; -1: none */
	uint32_t reg_ev;
	bool signalled;			/* efd written, not yet read */

	bool started;			/* SETUP came: keep a session up */
	enum remote_ssh_state last;	/* as the last pump left it */
	bool was_ready;			/* the session that ended had been READY */
	bool book_timeout;		/* we closed it: a request went unanswered */
	uint64_t retry_at;		/* next start; 0: none due */
	unsigned attempt;
	char error[REMOTE_SSH_ERROR_LEN + 64];
};

static const struct enforcer_ops fwd_ops;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void say(struct fwd *f, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct fwd *f, int prio, const char *fmt, ...)
{
	char msg[REMOTE_SSH_ERROR_LEN + 160];
	va_list ap;

	if (!f->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->log(prio, msg, f->log_arg);
}

static void signal_done(struct fwd *f)
{
	uint64_t one = 1;

	if (f->signalled)
		return;
	/* fails only when the counter would overflow: readable then anyway */
	if (write(f->efd, &one, sizeof(one)) == sizeof(one) || errno == EAGAIN)
		f->signalled = true;
}

/* The session ended (or could not start): tell the book, plan the retry. */
static void session_down(struct fwd *f, uint64_t now)
{
	int err = remote_ssh_errno(f->ssh);
	uint32_t wait;

	f->was_ready = f->last == REMOTE_SSH_READY;
	/* a refused host key is an attack or a mistake: never quiet */
	say(f, err == -EKEYREJECTED ? LOG_ERR : f->was_ready ? LOG_WARNING : LOG_NOTICE,
	    "site %s: %s", f->where, remote_ssh_error(f->ssh));
	snprintf(f->error, sizeof(f->error), "%s", remote_ssh_error(f->ssh));
	remote_book_link_down(f->book, f->book_timeout ? -ETIMEDOUT : -EHOSTUNREACH,
			      remote_ssh_error(f->ssh), now);
	f->book_timeout = false;
	/* a session that worked is tried again soon; a site that refuses
	 * or does not answer, ever less often */
	if (f->was_ready)
		f->attempt = 0;
	wait = remote_backoff_ms(f->attempt++, (uint32_t)random());
	f->retry_at = now + wait;
	f->last = REMOTE_SSH_CLOSED;
}

static void session_start(struct fwd *f, uint64_t now)
{
	f->retry_at = 0;
	/* adds wait for the first session, and for one replacing a session
	 * that worked; after a failure they are answered at once */
	remote_book_link_connecting(f->book, f->attempt == 0 || f->was_ready);
	f->last = REMOTE_SSH_CONNECTING;
	if (remote_ssh_start(f->ssh, now) || remote_ssh_state(f->ssh) == REMOTE_SSH_CLOSED)
		session_down(f, now);
}

/* Moves lines both ways while READY. */
static void exchange(struct fwd *f, uint64_t now)
{
	struct remote_msg m;
	char why[256];
	int rc;

	while ((rc = remote_ssh_recv(f->ssh, &m)) == 0)
		if (remote_book_reply(f->book, &m, now))
			say(f, LOG_DEBUG, "site %s: an answer to request %llu, which is not "
			    "in flight (late, after a timeout)", f->where, (unsigned long long)m.id);
	if (remote_ssh_state(f->ssh) != REMOTE_SSH_READY)
		return;
	if (remote_book_tick(f->book, now, why, sizeof(why)) == -ETIMEDOUT) {
		/* a site that lets a request go unanswered is not trusted with
		 * the next: a new session, and a SYNC, set things straight */
		f->book_timeout = true;
		remote_ssh_close(f->ssh);
		snprintf(f->error, sizeof(f->error), "%s", why);
		say(f, LOG_WARNING, "site %s: %s; reconnecting", f->where, why);
		return;
	}
	while (remote_book_next(f->book, &m) == 0) {
		rc = remote_ssh_send(f->ssh, &m);
		if (rc == -ENOBUFS)
			break;		/* the rest when the queue drains */
		if (rc)
			say(f, LOG_ERR, "site %s: cannot send request %llu: %s", f->where,
			    (unsigned long long)m.id, strerror(-rc));
		remote_book_sent(f->book, now);
	}
	remote_ssh_step(f->ssh, now);
}

/* Runs the session and the book up to @now. */
static void pump(struct fwd *f, uint64_t now)
{
	char why[256];

	if (!f->started)
		return;
	if (remote_ssh_state(f->ssh) == REMOTE_SSH_CLOSED) {
		if (f->last != REMOTE_SSH_CLOSED)
			session_down(f, now);
		if (f->retry_at && now >= f->retry_at)
			session_start(f, now);
	} else {
		remote_ssh_step(f->ssh, now);
	}
	if (remote_ssh_state(f->ssh) == REMOTE_SSH_READY && f->last != REMOTE_SSH_READY) {
		f->last = REMOTE_SSH_READY;
		f->attempt = 0;
		f->error[0] = 0;
		say(f, LOG_NOTICE, "site %s: session ready (site \"%s\"); announcing this host's "
		    "pinholes", f->where, remote_ssh_site(f->ssh));
		remote_book_link_ready(f->book, remote_ssh_site(f->ssh), now);
	}
	if (remote_ssh_state(f->ssh) == REMOTE_SSH_READY)
		exchange(f, now);
	if (remote_ssh_state(f->ssh) == REMOTE_SSH_CLOSED && f->last != REMOTE_SSH_CLOSED)
		session_down(f, now);
	/* waiting adds time out also while no session is up */
	if (remote_ssh_state(f->ssh) != REMOTE_SSH_READY)
		remote_book_tick(f->book, now, why, sizeof(why));
	if (remote_book_has_done(f->book))
		signal_done(f);
}

/* Watches the current SSH socket for what the session wants, and arms the
 * timer for the earliest deadline. */
static void rearm(struct fwd *f)
{
	int fd = remote_ssh_fd(f->ssh);
	short want = fd >= 0 ? remote_ssh_events(f->ssh) : 0;
	uint32_t ev = (want & POLLIN ? EPOLLIN : 0) | (want & POLLOUT ? EPOLLOUT : 0);
	struct epoll_event e = { .events = ev, .data.fd = fd };
	uint64_t t = remote_book_deadline(f->book), s = remote_ssh_deadline(f->ssh);
	struct itimerspec its = { 0 };

	if (fd != f->reg_fd) {
		/* the old socket may be closed already (then it left the set) */
		if (f->reg_fd >= 0)
			epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->reg_fd, NULL);
		f->reg_fd = -1;
		if (fd >= 0 && (!epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &e) ||
				(errno == EEXIST && !epoll_ctl(f->epfd, EPOLL_CTL_MOD, fd, &e)))) {
			f->reg_fd = fd;
			f->reg_ev = ev;
		}
	} else if (fd >= 0 && ev != f->reg_ev) {
		/* the same number may be a new socket: then it must be added */
		if (!epoll_ctl(f->epfd, EPOLL_CTL_MOD, fd, &e) ||
		    (errno == ENOENT && !epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &e)))
			f->reg_ev = ev;
	}
	if (f->started && s < t)
		t = s;
	if (f->retry_at && f->retry_at < t)
		t = f->retry_at;
	if (t != UINT64_MAX) {
		if (!t)
			t = 1;	/* now: an all-zero value would disarm */
		its.it_value.tv_sec = (time_t)(t / 1000);
		its.it_value.tv_nsec = (long)(t % 1000) * 1000000;
	}
	timerfd_settime(f->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int fwd_submit(void *state, const struct enforcer_job *job)
{
	struct fwd *f = state;
	int err = remote_book_submit(f->book, job, mono_ms());

	if (err)
		return err;
	if (job->type == ENFORCER_SETUP && !f->started) {
		f->started = true;
		f->retry_at = 1;	/* the session starts at the next dispatch */
	}
	/* dispatch sends it (and delivers what completed at once) */
	signal_done(f);
	return 0;
}

static int fwd_dispatch(void *state, struct enforcer *e, const struct enforcer_sink *sink)
{
	struct fwd *f = state;
	uint64_t buf, now;

	if (f->signalled) {
		if (read(f->efd, &buf, sizeof(buf)) < 0 && errno != EAGAIN)
			return -errno;
		f->signalled = false;
	}
	if (read(f->tfd, &buf, sizeof(buf)) < 0 && errno != EAGAIN)
		return -errno;
	now = mono_ms();
	pump(f, now);
	if (remote_book_deliver(f->book, e, sink)) {
		/* the sink may have submitted more: send it now, not a tick later */
		pump(f, mono_ms());
	}
	if (remote_book_has_done(f->book))
		signal_done(f);
	rearm(f);
	return 0;
}

static int fwd_fd(const void *state)
{
	return ((const struct fwd *)state)->epfd;
}

static bool fwd_exclusive(const void *state)
{
	(void)state;
	return true;	/* only this host's engine tells the book anything */
}

static const char *fwd_error(const void *state)
{
	const struct fwd *f = state;

	return f->error[0] ? f->error : remote_ssh_error(f->ssh);
}

static void fwd_free(void *state)
{
	struct fwd *f = state;

	if (!f)
		return;
	remote_ssh_free(f->ssh);
	remote_book_free(f->book);
	if (f->epfd >= 0)
		close(f->epfd);
	if (f->tfd >= 0)
		close(f->tfd);
	if (f->efd >= 0)
		close(f->efd);
	free(f);
}

static const struct enforcer_ops fwd_ops = {
	.submit = fwd_submit,
	.dispatch = fwd_dispatch,
	.fd = fwd_fd,
	.exclusive = fwd_exclusive,
	.error = fwd_error,
	.free = fwd_free,
};

int remote_forward_new(struct enforcer **out, const struct remote_forward_config *cfg, char *why)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct fwd *f;
	int err;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->epfd = f->tfd = f->efd = f->reg_fd = -1;
	f->log = cfg->log;
	f->log_arg = cfg->log_arg;
	f->lease_s = cfg->book.lease_s;
	snprintf(f->where, sizeof(f->where), "%s port %u", cfg->ssh.host ? cfg->ssh.host : "?",
		 cfg->ssh.port ? cfg->ssh.port : 22);
	err = remote_ssh_new(&f->ssh, &cfg->ssh, why);
	if (err)
		goto fail;
	err = remote_book_new(&f->book, &cfg->book);
	if (err) {
		if (why)
			snprintf(why, REMOTE_SSH_ERROR_LEN, "lease %u s: expected 1 to %d",
				 cfg->book.lease_s, REMOTE_WIRE_LEASE_MAX);
		goto fail;
	}
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->epfd < 0 || f->tfd < 0 || f->efd < 0) {
		err = -errno;
		goto fail;
	}
	ev.data.fd = f->tfd;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->tfd, &ev)) {
		err = -errno;
		goto fail;
	}
	ev.data.fd = f->efd;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->efd, &ev)) {
		err = -errno;
		goto fail;
	}
	snprintf(f->error, sizeof(f->error), "not started");
	*out = enforcer_new(&fwd_ops, f, "site", REMOTE_FORWARD_BATCH, REMOTE_FORWARD_INFLIGHT);
	return *out ? 0 : -ENOMEM;
fail:
	fwd_free(f);
	return err;
}

bool remote_forward_is(const struct enforcer *e)
{
	return e && e->ops == &fwd_ops;
}

enum remote_site_state remote_forward_state(const struct enforcer *e, const struct pinhole *ph,
					    char *reason, size_t len)
{
	if (!remote_forward_is(e)) {
		if (reason && len)
			reason[0] = 0;
		return REMOTE_SITE_NONE;
	}
	return remote_book_state(((const struct fwd *)e->state)->book, ph, reason, len);
}

bool remote_forward_ready(const struct enforcer *e)
{
	return remote_forward_is(e) &&
	       remote_ssh_state(((const struct fwd *)e->state)->ssh) == REMOTE_SSH_READY;
}

void remote_forward_status(const struct enforcer *e, char *buf, size_t len)
{
	const struct fwd *f;
	struct remote_book_stats st;
	enum remote_ssh_state s;
	uint64_t now = mono_ms();

	if (!remote_forward_is(e)) {
		snprintf(buf, len, "not a site forwarder");
		return;
	}
	f = e->state;
	s = remote_ssh_state(f->ssh);
	remote_book_stats(f->book, &st);
	if (s == REMOTE_SSH_READY)
		snprintf(buf, len, "ready: site \"%s\" at %s; %zu pinholes held, %zu requests "
			 "in flight, lease %u s", remote_ssh_site(f->ssh), f->where, st.pinholes,
			 st.inflight, f->lease_s);
	else if (s != REMOTE_SSH_CLOSED)
		snprintf(buf, len, "%s: %s", remote_ssh_state_name(s), f->where);
	else if (!f->started)
		snprintf(buf, len, "not started: %s", f->where);
	else
		snprintf(buf, len, "unreachable: %s: %s; next attempt in %llu ms", f->where,
			 fwd_error(f), (unsigned long long)(f->retry_at > now ? f->retry_at - now : 0));
}
