/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * remote/forward — the site forwarder: a site controller as an enforcer
 * (nft/enforcer_if.h), for dyperd in border mode.  Every pinhole operation
 * the engine submits goes to the site as one line of the wire grammar
 * (remote/wire.h) over one persistent SSH session (remote/ssh.h); the
 * bookkeeping (ids, answers, leases, re-announcement, the unreachable
 * rule) is remote/book.h's.  A driver: it knows nothing of policy.
 *
 * Its pollable fd is an epoll set of its own holding the SSH socket (a new
 * one after each reconnect), a timerfd (handshake and request deadlines,
 * keepalive, lease renewal, reconnect backoff) and an eventfd (jobs that
 * completed without the network).  Nothing blocks: the session is driven
 * from enforcer_dispatch().  ENFORCER_SETUP starts the session (it
 * completes at once: adds submitted meanwhile wait for it, up to the
 * request timeout).  After a lost session it reconnects after
 * remote_backoff_ms(); while it is down, adds are answered by the
 * unreachable rule (book.h) and the session's error says why.
 */
#ifndef DYPER_REMOTE_FORWARD_H
#define DYPER_REMOTE_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "nft/enforcer_if.h"
#include "remote/book.h"
#include "remote/ssh.h"

#define REMOTE_FORWARD_BATCH		256	/* ops per batch it prefers */
#define REMOTE_FORWARD_INFLIGHT		64	/* batches in flight */
#define REMOTE_FORWARD_STATUS_LEN	512

struct remote_forward_config {
	struct remote_ssh_config ssh;
	struct remote_book_config book;
	/* where news goes (session up, down, refused host key): syslog
	 * priorities; NULL: nowhere */
	void (*log)(int prio, const char *msg, void *arg);
	void *log_arg;
};

/*
 * The forwarder as an enforcer named "site" (not connected yet).  Checks
 * the key file and the pinned known_hosts as remote_ssh_new() does:
 * -EPERM (key owner or mode), -ENOENT, -EACCES, -EBADMSG, -EINVAL, with
 * @why (REMOTE_SSH_ERROR_LEN) saying what to fix; -ENOMEM; or -errno of
 * epoll_create1/timerfd_create/eventfd.
 */
int remote_forward_new(struct enforcer **out, const struct remote_forward_config *cfg, char *why);

/* True if @e is a site forwarder. */
bool remote_forward_is(const struct enforcer *e);

/* What the site holds of @ph, as far as the forwarder knows (book.h). */
enum remote_site_state remote_forward_state(const struct enforcer *e, const struct pinhole *ph,
					    char *reason, size_t len);

/* The session in one line: "ready: site NAME at ADDR port N, ..." or
 * "unreachable: WHY; next attempt in N ms". */
void remote_forward_status(const struct enforcer *e, char *buf, size_t len);

/* True while the session is READY. */
bool remote_forward_ready(const struct enforcer *e);

#endif
