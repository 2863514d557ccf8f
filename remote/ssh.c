// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/ssh — libssh client session for border mode (see ssh.h).  The
 * session runs in libssh's non-blocking mode: every libssh call below
 * returns SSH_AGAIN instead of waiting, and remote_ssh_step() calls it
 * again when the socket is ready or a deadline passes.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libssh/libssh.h>

#include "remote/ssh.h"

#define KEY_FILE_MAX	(64 * 1024)
#define IN_BUF		(8 * 1024)
#define WRITE_CHUNK	32768		/* the SSH channel's maximum packet */

struct remote_ssh {
	/* configuration (copies) */
	char *host, *user, *known_hosts, *command;
	uint16_t port;
	uint32_t connect_timeout_ms, keepalive_ms;
	size_t queue_max;
	ssh_key key;

	/* the session */
	enum remote_ssh_state state;
	ssh_session sess;
	ssh_channel chan;
	uint64_t deadline_ms;		/* end of the handshake */
	uint64_t last_rx_ms;		/* anything received (as step saw it) */
	bool rx;			/* received since step last looked */
	uint64_t ping_sent_ms;		/* 0: no keepalive PING out */
	uint64_t ping_id;
	char site[REMOTE_WIRE_NAME_MAX + 1];

	char *out;			/* queued bytes, not yet in libssh */
	size_t out_len, out_cap;
	char in[IN_BUF];
	size_t in_len;
	bool eof;			/* the channel or session ended */

	int err;
	char error[REMOTE_SSH_ERROR_LEN];
};

static void set_error(char *buf, const char *fmt, va_list ap)
{
	vsnprintf(buf, REMOTE_SSH_ERROR_LEN, fmt, ap);
}

static void why_printf(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_printf(char *why, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	va_start(ap, fmt);
	set_error(why, fmt, ap);
	va_end(ap);
}

static void drop_session(struct remote_ssh *s)
{
	if (s->chan) {
		ssh_channel_free(s->chan);
		s->chan = NULL;
	}
	if (s->sess) {
		ssh_disconnect(s->sess);
		ssh_free(s->sess);
		s->sess = NULL;
	}
}

/* Ends the session with @err and a reason; returns @err. */
static int fail(struct remote_ssh *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct remote_ssh *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(s->error, fmt, ap);
	va_end(ap);
	s->err = err;
	s->state = REMOTE_SSH_CLOSED;
	drop_session(s);
	s->out_len = 0;
	return err;
}

uint32_t remote_backoff_ms(unsigned attempt, uint32_t rnd)
{
	uint32_t step = REMOTE_BACKOFF_MIN_MS;

	while (attempt-- && step < REMOTE_BACKOFF_MAX_MS)
		step *= 2;
	if (step > REMOTE_BACKOFF_MAX_MS)
		step = REMOTE_BACKOFF_MAX_MS;
	return step / 2 + rnd % (step / 2 + 1);
}

/* Reads a secret file only if it is @owner's alone: a key or password
 * others can read (or replace) is not a secret, and a daemon must not use
 * it. */
int remote_private_file_read(const char *path, const char *what, uid_t owner, size_t max,
			     char **out, size_t *out_len, char *why)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, err = 0;

	*out = NULL;
	*out_len = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		why_printf(why, "%s file %s: %s%s", what, path, strerror(-err),
			   err == -ELOOP ? " (a symbolic link: name the file itself)" : "");
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		why_printf(why, "%s file %s: %s", what, path, strerror(-err));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EPERM;
		why_printf(why, "%s file %s is not a regular file", what, path);
		goto out;
	}
	if (st.st_uid != owner) {
		err = -EPERM;
		why_printf(why, "%s file %s is owned by uid %u, not by %s uid %u: "
			   "refusing it (chown %u %s)", what, path, (unsigned)st.st_uid,
			   owner == geteuid() ? "this process's" : "the daemon's",
			   (unsigned)owner, (unsigned)owner, path);
		goto out;
	}
	if (st.st_mode & 077) {
		err = -EPERM;
		why_printf(why, "%s file %s has mode %04o: group and others must have no access, "
			   "refusing it (chmod 600 %s)", what, path, (unsigned)(st.st_mode & 07777),
			   path);
		goto out;
	}
	if (st.st_size <= 0 || (size_t)st.st_size > max) {
		err = -EBADMSG;
		why_printf(why, "%s file %s: size %lld is not a %s's", what, path,
			   (long long)st.st_size, strcmp(what, "key") ? what : "private key");
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EBADMSG;
			why_printf(why, "%s file %s: reading: %s", what, path, strerror(-err));
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = 0;
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return err;
}

int remote_ssh_load_key(const char *path, uid_t owner, ssh_key *key, char *why)
{
	char *buf;
	size_t len;
	int err = remote_private_file_read(path, "key", owner, KEY_FILE_MAX, &buf, &len, why);

	if (err)
		return err;
	if (ssh_pki_import_privkey_base64(buf, NULL, NULL, NULL, key) != SSH_OK) {
		err = -EBADMSG;
		why_printf(why, "key file %s: not an unencrypted private key libssh can read", path);
	}
	explicit_bzero(buf, len);
	free(buf);
	return err;
}

void remote_ssh_free(struct remote_ssh *s)
{
	if (!s)
		return;
	drop_session(s);
	ssh_key_free(s->key);
	free(s->host);
	free(s->user);
	free(s->known_hosts);
	free(s->command);
	free(s->out);
	free(s);
}

int remote_ssh_new(struct remote_ssh **out, const struct remote_ssh_config *cfg, char *why)
{
	struct remote_ssh *s;
	const char *cmd = cfg->command ? cfg->command : REMOTE_SSH_COMMAND;
	int err, fd;

	*out = NULL;
	if (!cfg->host || !cfg->host[0] || !cfg->user || !cfg->user[0] || !cfg->key_file ||
	    !cfg->known_hosts || !cmd[0] || strpbrk(cmd, "\n\r")) {
		why_printf(why, "the site's host, user, key file and known_hosts file must all be set");
		return -EINVAL;
	}
	/* the pinned file must be there now: without it nothing can be trusted */
	fd = open(cfg->known_hosts, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		why_printf(why, "known_hosts file %s: %s (it must hold the site's pinned host key)",
			   cfg->known_hosts, strerror(-err));
		return err;
	}
	close(fd);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = strdup(cfg->host);
	s->user = strdup(cfg->user);
	s->known_hosts = strdup(cfg->known_hosts);
	s->command = strdup(cmd);
	if (!s->host || !s->user || !s->known_hosts || !s->command) {
		err = -ENOMEM;
		goto fail;
	}
	s->port = cfg->port ? cfg->port : 22;
	s->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
							: REMOTE_SSH_CONNECT_TIMEOUT_MS;
	s->keepalive_ms = cfg->keepalive_ms ? cfg->keepalive_ms : REMOTE_SSH_KEEPALIVE_MS;
	s->queue_max = cfg->queue_max ? cfg->queue_max : REMOTE_SSH_QUEUE_MAX;
	if (s->queue_max < REMOTE_WIRE_LINE_MAX)
		s->queue_max = REMOTE_WIRE_LINE_MAX;
	err = remote_ssh_load_key(cfg->key_file, cfg->key_uid_set ? cfg->key_uid : geteuid(),
				  &s->key, why);
	if (err)
		goto fail;
	snprintf(s->error, sizeof(s->error), "not started");
	*out = s;
	return 0;
fail:
	remote_ssh_free(s);
	return err;
}

enum remote_ssh_state remote_ssh_state(const struct remote_ssh *s)
{
	return s->state;
}

const char *remote_ssh_state_name(enum remote_ssh_state st)
{
	switch (st) {
	case REMOTE_SSH_CLOSED:
		return "closed";
	case REMOTE_SSH_CONNECTING:
		return "connecting";
	case REMOTE_SSH_AUTHENTICATING:
		return "authenticating";
	case REMOTE_SSH_OPENING:
		return "opening";
	case REMOTE_SSH_GREETING:
		return "greeting";
	case REMOTE_SSH_READY:
		return "ready";
	}
	return "?";
}

int remote_ssh_errno(const struct remote_ssh *s)
{
	return s->err;
}

const char *remote_ssh_error(const struct remote_ssh *s)
{
	return s->error;
}

const char *remote_ssh_site(const struct remote_ssh *s)
{
	return s->state == REMOTE_SSH_READY ? s->site : "";
}

int remote_ssh_fd(const struct remote_ssh *s)
{
	if (s->state == REMOTE_SSH_CLOSED || !s->sess)
		return -1;
	return ssh_get_fd(s->sess);
}

size_t remote_ssh_queued(const struct remote_ssh *s)
{
	return s->out_len;
}

short remote_ssh_events(const struct remote_ssh *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	short ev = POLLIN;
	int fd = remote_ssh_fd(s);

	if (fd < 0)
		return 0;
	/* until the TCP connect completes, writable is the news */
	if (s->state == REMOTE_SSH_CONNECTING && getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return POLLIN | POLLOUT;
	if (ssh_get_poll_flags(s->sess) & SSH_WRITE_PENDING)
		ev |= POLLOUT;
	if (s->out_len && s->chan && ssh_channel_window_size(s->chan) > 0)
		ev |= POLLOUT;
	return ev;
}

uint64_t remote_ssh_deadline(const struct remote_ssh *s)
{
	switch (s->state) {
	case REMOTE_SSH_CLOSED:
		return UINT64_MAX;
	case REMOTE_SSH_READY:
		if (s->ping_sent_ms)
			return s->ping_sent_ms + s->keepalive_ms;
		return s->last_rx_ms + s->keepalive_ms;
	default:
		return s->deadline_ms;
	}
}

static bool set_opt(struct remote_ssh *s, enum ssh_options_e o, const void *v)
{
	if (ssh_options_set(s->sess, o, v) == SSH_OK)
		return true;
	fail(s, -EINVAL, "libssh refused an option (%d): %s", (int)o, ssh_get_error(s->sess));
	return false;
}

void remote_ssh_close(struct remote_ssh *s)
{
	if (s->state != REMOTE_SSH_CLOSED)
		fail(s, -ECANCELED, "closed by the caller");
}

int remote_ssh_start(struct remote_ssh *s, uint64_t now_ms)
{
	unsigned int port = s->port;
	long timeout_s = (long)(s->connect_timeout_ms + 999) / 1000;
	bool no = false, yes = true;
	int one = 1;

	drop_session(s);
	s->in_len = 0;
	s->out_len = 0;
	s->eof = false;
	s->err = 0;
	s->site[0] = 0;
	s->ping_sent_ms = 0;
	s->error[0] = 0;
	s->deadline_ms = now_ms + s->connect_timeout_ms;
	s->state = REMOTE_SSH_CONNECTING;
	s->sess = ssh_new();
	if (!s->sess)
		return fail(s, -ENOMEM, "ssh_new failed");
	/* no ~/.ssh/config nor /etc/ssh/ssh_config: only what we set here */
	if (!set_opt(s, SSH_OPTIONS_PROCESS_CONFIG, &no) ||
	    !set_opt(s, SSH_OPTIONS_HOST, s->host) ||
	    !set_opt(s, SSH_OPTIONS_PORT, &port) ||
	    !set_opt(s, SSH_OPTIONS_USER, s->user) ||
	    !set_opt(s, SSH_OPTIONS_KNOWNHOSTS, s->known_hosts) ||
	    !set_opt(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, s->known_hosts) ||
	    !set_opt(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &yes) ||
	    !set_opt(s, SSH_OPTIONS_TIMEOUT, &timeout_s) ||
	    !set_opt(s, SSH_OPTIONS_NODELAY, &one))
		return s->err;
	ssh_set_blocking(s->sess, 0);
	return remote_ssh_step(s, now_ms);
}

static char *server_fingerprint(ssh_session sess)
{
	ssh_key srv = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;

	if (ssh_get_server_publickey(sess, &srv) == SSH_OK &&
	    ssh_get_publickey_hash(srv, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == SSH_OK)
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(srv);
	return fp;
}

int remote_ssh_verify_host(ssh_session sess, const char *host, unsigned port,
			   const char *known_hosts, char *why)
{
	enum ssh_known_hosts_e k = ssh_session_is_known_server(sess);
	char *fp;

	if (k == SSH_KNOWN_HOSTS_OK)
		return 0;
	fp = server_fingerprint(sess);
	switch (k) {
	case SSH_KNOWN_HOSTS_CHANGED:
		why_printf(why, "REFUSED: the host key of %s port %u CHANGED: it offers %s, but %s "
			   "pins another key; this may be an attack. Replace the pinned key only "
			   "after checking the new one with the site's admin",
			   host, port, fp ? fp : "?", known_hosts);
		break;
	case SSH_KNOWN_HOSTS_OTHER:
		why_printf(why, "REFUSED: %s port %u offers a host key of a type %s does not pin "
			   "for it (%s); this may be an attack. Pin the key only after checking it",
			   host, port, known_hosts, fp ? fp : "?");
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
		why_printf(why, "REFUSED: the host key of %s port %u (%s) is not pinned in %s; add "
			   "it (for host \"%s\", or \"[%s]:%u\" off port 22) only after checking "
			   "its fingerprint with the site's admin; Dyper never adds it itself",
			   host, port, fp ? fp : "?", known_hosts, host, host, port);
		break;
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		why_printf(why, "REFUSED: the pinned known_hosts file %s is gone; the host key of "
			   "%s port %u (%s) cannot be checked", known_hosts, host, port,
			   fp ? fp : "?");
		break;
	default:
		why_printf(why, "REFUSED: checking the host key of %s against %s: %s", host,
			   known_hosts, ssh_get_error(sess));
		break;
	}
	ssh_string_free_char(fp);
	return -EKEYREJECTED;
}

/* The site's host key against the pinned file, and nothing else. */
static int check_host_key(struct remote_ssh *s)
{
	char why[REMOTE_SSH_ERROR_LEN];
	int err = remote_ssh_verify_host(s->sess, s->host, s->port, s->known_hosts, why);

	return err ? fail(s, err, "%s", why) : 0;
}

/* Reads what the channel has into the input buffer (while it has room). */
static int pull(struct remote_ssh *s)
{
	int n;

	while (s->chan && !s->eof && s->in_len < sizeof(s->in)) {
		n = ssh_channel_read_nonblocking(s->chan, s->in + s->in_len,
						 (uint32_t)(sizeof(s->in) - s->in_len), 0);
		if (n > 0) {
			s->in_len += (size_t)n;
			s->rx = true;
			continue;
		}
		if (n == SSH_ERROR)
			return -ECONNRESET;
		if (n == SSH_EOF || ssh_channel_is_eof(s->chan) || ssh_channel_is_closed(s->chan) ||
		    !ssh_is_connected(s->sess))
			s->eof = true;
		break;
	}
	return 0;
}

/* Hands queued bytes to libssh as far as the channel window allows (so
 * that ssh_channel_write never has to wait for the window), then lets
 * libssh write what it can. */
static int push(struct remote_ssh *s)
{
	while (s->out_len) {
		uint32_t w = ssh_channel_window_size(s->chan);
		size_t n = s->out_len;
		int rc;

		if (!w)
			break;
		if (n > w)
			n = w;
		if (n > WRITE_CHUNK)
			n = WRITE_CHUNK;
		rc = ssh_channel_write(s->chan, s->out, (uint32_t)n);
		if (rc < 0)
			return -ECONNRESET;
		if (!rc)
			break;
		memmove(s->out, s->out + rc, s->out_len - (size_t)rc);
		s->out_len -= (size_t)rc;
	}
	if (ssh_blocking_flush(s->sess, 0) == SSH_ERROR)
		return -ECONNRESET;
	return 0;
}

static int queue(struct remote_ssh *s, const void *data, size_t len)
{
	if (len > s->queue_max - s->out_len)
		return -ENOBUFS;
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		char *p;

		while (cap < s->out_len + len)
			cap *= 2;
		if (cap > s->queue_max)
			cap = s->queue_max;
		p = realloc(s->out, cap);
		if (!p)
			return -ENOMEM;
		s->out = p;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
	return 0;
}

/* The greeting's answer: "DYPER 1 OK <site>" or "DYPER ERR <reason>". */
static int greeting(struct remote_ssh *s)
{
	char why[REMOTE_WIRE_WHY_LEN];
	struct remote_msg m;
	const char *nl = memchr(s->in, '\n', s->in_len);
	size_t len;

	if (!nl) {
		if (s->in_len >= REMOTE_WIRE_LINE_MAX)
			return fail(s, -EPROTO, "the site's greeting is not a line of the grammar");
		return 0;
	}
	len = (size_t)(nl - s->in);
	if (remote_wire_parse(s->in, len, &m, why)) {
		return fail(s, -EPROTO, "the site answered the greeting with \"%.*s\" (%s): is "
			    "authorized_keys forcing dyper-remote?", (int)(len > 80 ? 80 : len),
			    s->in, why);
	}
	memmove(s->in, nl + 1, s->in_len - len - 1);
	s->in_len -= len + 1;
	if (m.type == REMOTE_MSG_REFUSE)
		return fail(s, -ECONNREFUSED, "the site refused the session: %s", m.text);
	if (m.type != REMOTE_MSG_WELCOME || m.version != REMOTE_WIRE_VERSION)
		return fail(s, -EPROTO, "the site answered the greeting with a %s",
			    m.type == REMOTE_MSG_WELCOME ? "version we do not speak" : "non-greeting");
	memcpy(s->site, m.name, sizeof(s->site));
	s->state = REMOTE_SSH_READY;
	return 0;
}

static int step_handshake(struct remote_ssh *s, uint64_t now_ms)
{
	static const char hello[] = "DYPER 1\n";
	int rc;

	if (s->state == REMOTE_SSH_CONNECTING) {
		rc = ssh_connect(s->sess);
		if (rc == SSH_AGAIN)
			return 0;
		if (rc != SSH_OK)
			return fail(s, -ECONNREFUSED, "connecting to %s port %u: %s", s->host,
				    s->port, ssh_get_error(s->sess));
		rc = check_host_key(s);
		if (rc)
			return rc;
		s->state = REMOTE_SSH_AUTHENTICATING;
	}
	if (s->state == REMOTE_SSH_AUTHENTICATING) {
		rc = ssh_userauth_publickey(s->sess, NULL, s->key);
		if (rc == SSH_AUTH_AGAIN)
			return 0;
		if (rc != SSH_AUTH_SUCCESS)
			return fail(s, -EACCES, "%s port %u did not accept our key for user %s%s%s: "
				    "is its public key in that account's authorized_keys?",
				    s->host, s->port, s->user, rc == SSH_AUTH_ERROR ? ": " : "",
				    rc == SSH_AUTH_ERROR ? ssh_get_error(s->sess) : "");
		s->chan = ssh_channel_new(s->sess);
		if (!s->chan)
			return fail(s, -ENOMEM, "ssh_channel_new: %s", ssh_get_error(s->sess));
		s->state = REMOTE_SSH_OPENING;
	}
	if (s->state == REMOTE_SSH_OPENING) {
		if (!ssh_channel_is_open(s->chan)) {
			rc = ssh_channel_open_session(s->chan);
			if (rc == SSH_AGAIN)
				return 0;
			if (rc != SSH_OK)
				return fail(s, -ECONNRESET, "opening a channel: %s",
					    ssh_get_error(s->sess));
		}
		rc = ssh_channel_request_exec(s->chan, s->command);
		if (rc == SSH_AGAIN)
			return 0;
		if (rc != SSH_OK)
			return fail(s, -ECONNRESET, "running %s on the site: %s", s->command,
				    ssh_get_error(s->sess));
		s->state = REMOTE_SSH_GREETING;
		s->last_rx_ms = now_ms;
		s->rx = false;
		rc = queue(s, hello, sizeof(hello) - 1);
		if (rc)
			return fail(s, rc, "queueing the greeting");
	}
	return 0;
}

int remote_ssh_step(struct remote_ssh *s, uint64_t now_ms)
{
	int rc;

	if (s->state == REMOTE_SSH_CLOSED)
		return 0;
	if (s->state < REMOTE_SSH_GREETING) {
		rc = step_handshake(s, now_ms);
		if (rc)
			return rc;
	}
	if (s->state >= REMOTE_SSH_GREETING) {
		rc = push(s);
		if (!rc)
			rc = pull(s);
		if (rc)
			return fail(s, rc, "the session to %s port %u broke: %s", s->host, s->port,
				    ssh_get_error(s->sess));
		if (s->state == REMOTE_SSH_GREETING) {
			rc = greeting(s);
			if (rc)
				return rc;
		}
	}
	if (s->state != REMOTE_SSH_READY && s->state != REMOTE_SSH_CLOSED) {
		if (s->eof)
			return fail(s, -ECONNRESET, "the site ended the session during the %s",
				    remote_ssh_state_name(s->state));
		if (now_ms >= s->deadline_ms)
			return fail(s, -ETIMEDOUT, "no session with %s port %u within %u ms (stuck %s)",
				    s->host, s->port, s->connect_timeout_ms,
				    remote_ssh_state_name(s->state));
		return 0;
	}
	if (s->state != REMOTE_SSH_READY)
		return 0;
	/* lines still buffered are the caller's; the end shows once they are read */
	if (s->eof && !memchr(s->in, '\n', s->in_len))
		return fail(s, -ECONNRESET, "the site ended the session (%s port %u)", s->host,
			    s->port);
	if (s->rx) {
		s->rx = false;
		s->last_rx_ms = now_ms;
		s->ping_sent_ms = 0;
	}
	if (s->ping_sent_ms && now_ms >= s->ping_sent_ms + s->keepalive_ms)
		return fail(s, -ETIMEDOUT, "the site did not answer a keepalive in %u ms",
			    s->keepalive_ms);
	if (!s->ping_sent_ms && now_ms >= s->last_rx_ms + s->keepalive_ms) {
		struct remote_msg m = { .type = REMOTE_MSG_PING };
		char line[REMOTE_WIRE_LINE_MAX + 1];
		int n;

		m.id = REMOTE_WIRE_ID_TRANSPORT | ++s->ping_id;
		n = remote_wire_format(&m, line, sizeof(line));
		/* a full queue is news enough that the site is not reading */
		if (n > 0 && !queue(s, line, (size_t)n)) {
			s->ping_sent_ms = now_ms;
			rc = push(s);
			if (rc)
				return fail(s, rc, "sending a keepalive: %s", ssh_get_error(s->sess));
		}
	}
	return 0;
}

int remote_ssh_send_raw(struct remote_ssh *s, const void *data, size_t len)
{
	if (s->state != REMOTE_SSH_READY)
		return -ENOTCONN;
	return queue(s, data, len);
}

int remote_ssh_send(struct remote_ssh *s, const struct remote_msg *m)
{
	char line[REMOTE_WIRE_LINE_MAX + 1];
	int n;

	if (m->id & REMOTE_WIRE_ID_TRANSPORT)
		return -EINVAL;
	n = remote_wire_format(m, line, sizeof(line));
	if (n < 0)
		return n;
	return remote_ssh_send_raw(s, line, (size_t)n);
}

/* A reply to our own keepalive: "<id with the top bit> OK|ERR ..." */
static bool is_transport_reply(const char *line, size_t len)
{
	struct remote_msg m;

	return !remote_wire_parse(line, len, &m, NULL) &&
	       (m.type == REMOTE_MSG_OK || m.type == REMOTE_MSG_ERR) &&
	       (m.id & REMOTE_WIRE_ID_TRANSPORT);
}

int remote_ssh_recv_line(struct remote_ssh *s, char *buf, size_t len)
{
	for (;;) {
		const char *nl = memchr(s->in, '\n', s->in_len);
		size_t n;

		if (!nl) {
			if (s->in_len >= REMOTE_WIRE_LINE_MAX) {
				fail(s, -EMSGSIZE, "the site sent a line longer than %d bytes",
				     REMOTE_WIRE_LINE_MAX - 1);
				s->in_len = 0;
				return -ENOTCONN;
			}
			if (s->state == REMOTE_SSH_READY) {
				size_t before = s->in_len;

				if (pull(s) == 0 && s->in_len > before)
					continue;
			}
			return s->state == REMOTE_SSH_READY ? -EAGAIN : -ENOTCONN;
		}
		n = (size_t)(nl - s->in);
		if (n >= len)
			return -ENOSPC;
		memcpy(buf, s->in, n);
		buf[n] = 0;
		memmove(s->in, nl + 1, s->in_len - n - 1);
		s->in_len -= n + 1;
		if (is_transport_reply(buf, n))
			continue;
		return (int)n;
	}
}

int remote_ssh_recv(struct remote_ssh *s, struct remote_msg *m)
{
	char line[REMOTE_WIRE_LINE_MAX + 1], why[REMOTE_WIRE_WHY_LEN];
	int n;

	n = remote_ssh_recv_line(s, line, sizeof(line));
	if (n < 0)
		return n;
	if (remote_wire_parse(line, (size_t)n, m, why) ||
	    (m->type != REMOTE_MSG_OK && m->type != REMOTE_MSG_ERR)) {
		fail(s, -EPROTO, "the site sent \"%.80s\" (%s)", line,
		     why[0] ? why : "not a reply");
		s->in_len = 0;	/* nothing after a broken line is trusted */
		return -EPROTO;
	}
	return 0;
}
