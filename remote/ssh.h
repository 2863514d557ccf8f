/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * remote/ssh — the host's side of border mode's transport: one libssh
 * client session to the site's sshd, one exec channel (the site's
 * authorized_keys forces dyper-remote(8) whatever we ask; we ask for
 * "dyper-remote"), and over it lines of the wire grammar (remote/wire.h).
 * Leaf code: it moves lines, it knows nothing of policy or pinhole state.
 *
 * The caller drives a state machine from its event loop:
 *
 *   remote_ssh_start()  CONNECTING -> AUTHENTICATING -> OPENING -> GREETING -> READY
 *                           \______________ any error or timeout ______________/--> CLOSED
 *
 *   loop: poll remote_ssh_fd() for remote_ssh_events(), with a timeout
 *         that ends at remote_ssh_deadline(); then remote_ssh_step(), then
 *         remote_ssh_recv() (or _recv_line) until -EAGAIN.  When the state
 *         is CLOSED, read remote_ssh_error(), and call remote_ssh_start()
 *         again after remote_backoff_ms(attempt++, random) (reset attempt
 *         once READY).  The fd changes with each start: re-register it.
 *
 * Security: the site's host key must be in the pinned known_hosts file
 * (cfg.known_hosts, as "host" or "[host]:port"); it is also given to libssh
 * as the global file, so no system file is consulted, the file is never
 * written, and an unknown or changed key ends the session with
 * -EKEYREJECTED and a message that says which.  OpenSSH config files are
 * not read (a ProxyCommand in someone's ~/.ssh/config must not run).  The
 * private key file must be a regular file owned by the effective uid (or
 * cfg.key_uid) with no group/other permission bits, else remote_ssh_new()
 * refuses (-EPERM).
 *
 * Keepalive: at the wire layer, not libssh's.  When nothing has been
 * received for keepalive_ms, the session sends "<id> PING" with an id from
 * the transport's range (REMOTE_WIRE_ID_TRANSPORT bit set, so the caller's
 * ids never collide); its reply is swallowed.  If nothing at all arrives
 * within another keepalive_ms, the session is CLOSED with -ETIMEDOUT.
 * A PING crosses sshd, dyper-remote and the site controller, so this proves
 * the whole path alive, which an SSH-level keepalive would not.
 *
 * Blocking: every function is non-blocking except remote_ssh_start(),
 * which resolves cfg.host with getaddrinfo(3) (use an address to avoid
 * DNS; with a name it blocks as long as the resolver takes), and the
 * local file reads of remote_ssh_new() (key) and of the host key check
 * (known_hosts).  Signing the auth request costs one private-key
 * operation (well under a millisecond for ed25519).  No function waits
 * for the network.
 *
 * Errors: 0 / -errno; remote_ssh_error() holds the last failure in words.
 */
#ifndef DYPER_REMOTE_SSH_H
#define DYPER_REMOTE_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "remote/wire.h"

/* libssh's ssh_key and ssh_session, without its header (whose legacy
 * names, channel_close among them, would clash with dyperd's) */
struct ssh_key_struct;
struct ssh_session_struct;

#define REMOTE_SSH_COMMAND		"dyper-remote"
#define REMOTE_SSH_CONNECT_TIMEOUT_MS	10000
#define REMOTE_SSH_KEEPALIVE_MS		15000
#define REMOTE_SSH_QUEUE_MAX		(1024 * 1024)
#define REMOTE_SSH_ERROR_LEN		384
#define REMOTE_BACKOFF_MIN_MS		500
#define REMOTE_BACKOFF_MAX_MS		30000

struct remote_ssh_config {
	const char *host;		/* address (or name: see Blocking) */
	uint16_t port;			/* 0: 22 */
	const char *user;		/* the site account (remote delegate) */
	const char *key_file;		/* private key, 0600, ours */
	bool key_uid_set;		/* the key must be key_uid's, not the effective
					 * uid's (a daemon loading it before it drops
					 * to its own user) */
	uid_t key_uid;
	const char *known_hosts;	/* the pinned site host key(s) */
	const char *command;		/* NULL: REMOTE_SSH_COMMAND */
	uint32_t connect_timeout_ms;	/* start to READY; 0: default */
	uint32_t keepalive_ms;		/* 0: default */
	size_t queue_max;		/* bytes of unsent lines; 0: default */
};

enum remote_ssh_state {
	REMOTE_SSH_CLOSED,		/* also before the first start */
	REMOTE_SSH_CONNECTING,		/* TCP, key exchange, host key check */
	REMOTE_SSH_AUTHENTICATING,
	REMOTE_SSH_OPENING,		/* channel and exec request */
	REMOTE_SSH_GREETING,		/* "DYPER 1" sent, awaiting the answer */
	REMOTE_SSH_READY,
};

struct remote_ssh;

/*
 * Checks @cfg and loads the key (see Security); copies what it keeps.
 * -EINVAL (missing field, bad command), -EPERM (key file owner or mode),
 * -ENOENT/-EACCES (key or known_hosts unreadable), -EBADMSG (not a key).
 * On failure *@out is NULL and @why (if not NULL, REMOTE_SSH_ERROR_LEN)
 * says what to fix.
 */
int remote_ssh_new(struct remote_ssh **out, const struct remote_ssh_config *cfg, char *why);
/* Closes the session if open.  NULL is fine. */
void remote_ssh_free(struct remote_ssh *s);

/* Drops any session and begins a new one (CONNECTING); @now_ms is a
 * CLOCK_MONOTONIC time in ms, as for every function below.  Data queued
 * and not yet sent, and lines not yet read, are discarded.  -errno (and
 * state CLOSED) if it could not even begin. */
int remote_ssh_start(struct remote_ssh *s, uint64_t now_ms);
/* Ends the session now (state CLOSED, error "closed by the caller"). */
void remote_ssh_close(struct remote_ssh *s);

/* Makes progress: handshake, sending, receiving, keepalive and timeouts.
 * Returns 0, or the -errno that just closed the session. */
int remote_ssh_step(struct remote_ssh *s, uint64_t now_ms);

enum remote_ssh_state remote_ssh_state(const struct remote_ssh *s);
const char *remote_ssh_state_name(enum remote_ssh_state st);
/* The socket to poll, -1 when CLOSED. */
int remote_ssh_fd(const struct remote_ssh *s);
/* POLLIN and/or POLLOUT. */
short remote_ssh_events(const struct remote_ssh *s);
/* When remote_ssh_step() must run even without fd events (ms,
 * CLOCK_MONOTONIC); UINT64_MAX if never. */
uint64_t remote_ssh_deadline(const struct remote_ssh *s);
/* The -errno that closed the session (0 if none yet) and its text. */
int remote_ssh_errno(const struct remote_ssh *s);
const char *remote_ssh_error(const struct remote_ssh *s);
/* The site's name from its greeting ("" before READY). */
const char *remote_ssh_site(const struct remote_ssh *s);

/*
 * Queues @m as one line (remote_wire_format).  Only when READY:
 * -ENOTCONN otherwise; -ENOBUFS when the queue would exceed queue_max
 * (nothing queued: try again after the queue drains); -EINVAL for a
 * message the grammar rejects, or an id in the transport's range.
 */
int remote_ssh_send(struct remote_ssh *s, const struct remote_msg *m);
/* Queues @len raw bytes as they are (tests use it to send bad lines). */
int remote_ssh_send_raw(struct remote_ssh *s, const void *data, size_t len);
/* Bytes queued and not yet handed to libssh. */
size_t remote_ssh_queued(const struct remote_ssh *s);

/*
 * The next complete line from the site, without its "\n", NUL-terminated
 * in @buf (at least REMOTE_WIRE_LINE_MAX bytes): its length, -EAGAIN if
 * none is complete yet, -ENOTCONN if CLOSED and nothing is left.  Replies
 * to the transport's own PINGs never show.  A line longer than the grammar
 * allows closes the session (-EMSGSIZE).
 */
int remote_ssh_recv_line(struct remote_ssh *s, char *buf, size_t len);
/* The same, parsed: 0, -EAGAIN, -ENOTCONN, or -EPROTO for a line that is
 * not an OK/ERR reply (the session is closed: the site broke the grammar). */
int remote_ssh_recv(struct remote_ssh *s, struct remote_msg *m);

/*
 * Delay before reconnect attempt @attempt (0 for the first retry): the
 * step doubles from REMOTE_BACKOFF_MIN_MS up to REMOTE_BACKOFF_MAX_MS,
 * and the delay is drawn from its upper half by @rnd (e.g. random()):
 * step/2 + rnd % (step/2 + 1), so that many hosts cut off at once do not
 * return in step.
 */
uint32_t remote_backoff_ms(unsigned attempt, uint32_t rnd);

/*
 * Shared with the device CLI sessions (remote/cli.c).
 *
 * remote_private_file_read: reads a secret (@what: "key", "password") of
 * at most @max bytes into *@out (malloc'd, NUL-terminated; the caller
 * explicit_bzero()s and frees it) only if @path is a regular file (not a
 * symbolic link) owned by @owner with no group/other bits:
 * -EPERM otherwise, -EBADMSG for an empty or oversized file, -errno of
 * open/read; @why (REMOTE_SSH_ERROR_LEN, may be NULL) says what to fix.
 * remote_ssh_load_key: the same for an unencrypted private key.
 * remote_ssh_verify_host: @sess's server key against the pinned file
 * (which the session must have been given as its only known_hosts): 0, or
 * -EKEYREJECTED with @why saying whether it is unknown or CHANGED.
 */
int remote_private_file_read(const char *path, const char *what, uid_t owner, size_t max,
			     char **out, size_t *out_len, char *why);
int remote_ssh_load_key(const char *path, uid_t owner, struct ssh_key_struct **key, char *why);
int remote_ssh_verify_host(struct ssh_session_struct *sess, const char *host, unsigned port,
			   const char *known_hosts, char *why);

#endif
