/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * remote/cli — a network device's command line over SSH (libssh): an
 * interactive shell on a pty, the way an admin types, for the border
 * device drivers (remote/device.c and one dialect per vendor).  Leaf code:
 * it moves command lines and recognises prompts and error messages; it
 * knows nothing of ACLs or pinholes.
 *
 * Blocking, with a bound on every wait: each call returns within the
 * command timeout (or the connect timeout), so the caller runs it in a
 * thread of its own (remote/device.c runs one per device).
 *
 * Prompts: the first prompt after login gives the device's base name (the
 * text before an optional "(mode)" and the final '>' or '#': "Router" of
 * "Router#", "dyper@mx1" of "dyper@mx1> "); afterwards a prompt is that
 * base, an optional "(mode)", then '>' or '#' and an optional space.  A
 * command is answered when the device has echoed it after a prompt, and
 * the answer ends at the next prompt.  Every line of an answer is checked
 * against the dialect's error patterns.
 *
 * Pipelining: cli_run() sends up to @window lines before their answers
 * come back (the device reads typed-ahead lines from its pty as a paste),
 * and still matches each answer to its line by the echo.
 *
 * Security: the device's host key must be pinned in cfg.known_hosts (no
 * other file is read or ever written); the key file, or failing that the
 * password file, must be ours alone (remote_private_file_read).  No
 * OpenSSH config file is read.  Lines handed to cli_run() must not hold
 * control characters (-EINVAL): the drivers build them from validated
 * fields only.
 *
 * Errors: 0 / -errno; cli_error() says what happened in words.
 */
#ifndef DYPER_REMOTE_CLI_H
#define DYPER_REMOTE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_LINE_MAX		512	/* one command line, without the newline */
#define CLI_ERROR_LEN		384
#define CLI_TIMEOUT_MS		30000	/* one command's answer */
#define CLI_CONNECT_TIMEOUT_MS	15000
#define CLI_WINDOW		32	/* lines sent ahead of their answers */
#define CLI_WINDOW_MAX		64
#define CLI_ANSWER_MAX		(16u << 20)	/* bytes of one answer kept */

/* A vendor's command-line manners. */
struct cli_dialect {
	const char *name;			/* "ios" */
	const char *const *setup;		/* after login: paging off, width */
	const char *const *errors;		/* an answer line holding one of these
						 * (after leading spaces) is an error */
	const char *keepalive;			/* harmless command resetting the
						 * device's idle exec-timeout */
};

struct cli_config {
	const char *host;			/* an address */
	uint16_t port;				/* 0: 22 */
	const char *user;
	const char *key_file;			/* preferred; else password_file */
	const char *password_file;		/* root-only, one line */
	const char *known_hosts;		/* pinned host key(s) */
	uint32_t timeout_ms;			/* per command; 0: CLI_TIMEOUT_MS */
	uint32_t connect_timeout_ms;		/* 0: CLI_CONNECT_TIMEOUT_MS */
	unsigned window;			/* 0: CLI_WINDOW; at most CLI_WINDOW_MAX */
};

/* What came back for a run: the answers' text (echo and prompts removed),
 * lines separated by '\n', NUL-terminated.  Owned by the session, valid
 * until its next call. */
struct cli_answer {
	char *text;
	size_t len, cap;
};

struct cli;

/* Checks @cfg, loads the key or the password (see Security).  -EINVAL
 * (missing field), -EPERM (a secret file not ours alone), -ENOENT ...;
 * @why (CLI_ERROR_LEN) says what to fix.  Does not connect. */
int cli_new(struct cli **out, const struct cli_config *cfg, const struct cli_dialect *d,
	    char *why);
/* Closes the session if open.  NULL is fine. */
void cli_free(struct cli *c);

/* Connects, checks the host key, authenticates, opens a shell on a pty,
 * waits for the first prompt and runs the dialect's setup lines.  Any
 * session open before is dropped first.  -EKEYREJECTED (host key),
 * -EACCES (authentication), -ECONNREFUSED, -ETIMEDOUT, -EPROTO (no prompt
 * recognised), -EREMOTEIO (a setup line failed). */
int cli_open(struct cli *c);
/* Drops the session (no goodbye). */
void cli_close(struct cli *c);
bool cli_is_open(const struct cli *c);
/* The last prompt seen ("Router(config-ext-nacl)#"), "" if none. */
const char *cli_prompt(const struct cli *c);

/*
 * Sends @n lines and reads every answer.  @results (n ints, may be NULL)
 * gets 0 for a line answered cleanly, -EREMOTEIO for one whose answer
 * matched an error pattern, and -EINPROGRESS for one whose answer never
 * came (the session broke: it may or may not have taken effect; also
 * every line when nothing could be sent).  With
 * @answer, the answers' text is returned there.  Returns 0 when every line
 * was answered (even with errors: see @results and *@n_failed), or the
 * -errno that ended the session (-ECONNRESET, -ETIMEDOUT; then it is
 * closed), -ENOTCONN if it was not open, -EINVAL for a line with control
 * characters or longer than CLI_LINE_MAX (nothing sent).
 */
int cli_run(struct cli *c, const char *const *lines, size_t n, int *results,
	    size_t *n_failed, struct cli_answer **answer);
/* One line; its answer (if @answer). 0, -EREMOTEIO (error pattern) or as cli_run. */
int cli_run1(struct cli *c, const char *line, struct cli_answer **answer);
/* The dialect's keepalive command (when the session has been idle). */
int cli_keepalive(struct cli *c);

/* The last failure in words (a device error: the line and its answer). */
const char *cli_error(const struct cli *c);

#endif
