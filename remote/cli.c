// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/cli — a device's command line over SSH (see cli.h).  libssh in
 * its blocking mode, every read bounded by a timeout: the callers run in a
 * device's own thread, so waiting here stalls nobody else.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "remote/cli.h"
#include "remote/ssh.h"

#define PASSWORD_MAX	1024
#define PROMPT_MAX	128
#define READ_CHUNK	16384
/*
 * libssh's own default ciphers, AES-GCM moved before ChaCha20-Poly1305:
 * the same set (nothing weaker is offered), but with OpenSSL 3 libssh sets
 * ChaCha20 and Poly1305 up afresh for every packet, which took a fifth of
 * this process's CPU time per answer line; the devices with an AES engine
 * (or AES instructions) also spend less on GCM.
 */
#define CIPHERS		"aes256-gcm@openssh.com,aes128-gcm@openssh.com," \
			"chacha20-poly1305@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"

struct cli {
	char *host, *user, *known_hosts;
	uint16_t port;
	uint32_t timeout_ms, connect_timeout_ms;
	unsigned window;
	ssh_key key;			/* or */
	char *password;
	const struct cli_dialect *d;

	ssh_session sess;
	ssh_channel chan;
	char base[PROMPT_MAX];		/* prompt's base name, "" until learned */
	char prompt[PROMPT_MAX];	/* the last prompt seen */

	uint64_t line_ns;		/* the device's time per line, averaged */

	char *in;			/* received, '\r' and NUL removed */
	size_t in_len, in_cap;
	struct cli_answer answer;
	bool answer_full;

	char error[CLI_ERROR_LEN];
};

static void set_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

/*
 * With @pending lines queued at the device, sleeps before reading so that
 * one wakeup takes several answers instead of one each: the device, not
 * this thread, is the limit, and every wakeup costs this thread more than
 * the answers it reads (a context switch, a read, an acknowledgement).
 * While lines remain to be sent, it waits for half of them, and the half
 * still queued keeps the device busy meanwhile; once all are sent
 * (@all_sent), for all but the last, whose arrival the read then waits
 * for: the device has nothing more to do, so the wait costs it nothing.
 * At most 20 ms.  Returns whether it slept.
 */
static bool coalesce(const struct cli *c, size_t pending, bool all_sent)
{
	struct timespec ts;
	uint64_t ns;

	if (pending < (all_sent ? 2 : 4) || !c->line_ns)
		return false;
	ns = c->line_ns * (all_sent ? pending - 1 : pending / 2);
	if (ns > 20000000)
		ns = 20000000;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ns;
	nanosleep(&ts, NULL);
	return true;
}

void cli_close(struct cli *c)
{
	if (c->chan) {
		ssh_channel_free(c->chan);
		c->chan = NULL;
	}
	if (c->sess) {
		ssh_disconnect(c->sess);
		ssh_free(c->sess);
		c->sess = NULL;
	}
	c->in_len = 0;
	c->prompt[0] = 0;
}

void cli_free(struct cli *c)
{
	if (!c)
		return;
	cli_close(c);
	ssh_key_free(c->key);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->host);
	free(c->user);
	free(c->known_hosts);
	free(c->in);
	free(c->answer.text);
	free(c);
}

static int load_password(struct cli *c, const char *path, char *why)
{
	char *buf;
	size_t len;
	int err = remote_private_file_read(path, "password", geteuid(), PASSWORD_MAX, &buf, &len,
					   why);

	if (err)
		return err;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	if (!len || strpbrk(buf, "\n\r")) {
		if (why)
			snprintf(why, CLI_ERROR_LEN, "password file %s: expected one line", path);
		explicit_bzero(buf, len);
		free(buf);
		return -EBADMSG;
	}
	c->password = buf;
	return 0;
}

int cli_new(struct cli **out, const struct cli_config *cfg, const struct cli_dialect *d,
	    char *why)
{
	struct cli *c;
	int err;

	*out = NULL;
	if (!cfg->host || !cfg->host[0] || !cfg->user || !cfg->user[0] || !cfg->known_hosts ||
	    (!cfg->key_file && !cfg->password_file)) {
		if (why)
			snprintf(why, CLI_ERROR_LEN, "a device needs an address, a user, a pinned "
				 "known_hosts file and a key file (or a password file)");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->d = d;
	c->host = strdup(cfg->host);
	c->user = strdup(cfg->user);
	c->known_hosts = strdup(cfg->known_hosts);
	if (!c->host || !c->user || !c->known_hosts) {
		err = -ENOMEM;
		goto fail;
	}
	c->port = cfg->port ? cfg->port : 22;
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : CLI_TIMEOUT_MS;
	c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
							: CLI_CONNECT_TIMEOUT_MS;
	c->window = cfg->window ? cfg->window : CLI_WINDOW;
	if (c->window > CLI_WINDOW_MAX)
		c->window = CLI_WINDOW_MAX;
	if (cfg->key_file)
		err = remote_ssh_load_key(cfg->key_file, geteuid(), &c->key, why);
	else
		err = load_password(c, cfg->password_file, why);
	if (err)
		goto fail;
	set_error(c, "not connected");
	*out = c;
	return 0;
fail:
	cli_free(c);
	return err;
}

bool cli_is_open(const struct cli *c)
{
	return c->chan != NULL;
}

const char *cli_prompt(const struct cli *c)
{
	return c->prompt;
}

const char *cli_error(const struct cli *c)
{
	return c->error;
}

/* Ends the session with @err; returns it. */
static int broken(struct cli *c, int err, const char *what)
{
	set_error(c, "%s port %u: %s%s%s", c->host, c->port, what,
		  c->sess ? ": " : "", c->sess ? ssh_get_error(c->sess) : "");
	cli_close(c);
	return err;
}

/* Reads what arrives within @ms into the input buffer.  0 (something or
 * nothing came), -ECONNRESET (the session ended). */
static int fill(struct cli *c, uint32_t ms)
{
	char buf[READ_CHUNK];
	int n;

	if (!c->chan)
		return -ENOTCONN;
	n = ssh_channel_read_timeout(c->chan, buf, sizeof(buf), 0, (int)ms);
	if (n == SSH_ERROR)
		return broken(c, -ECONNRESET, "the session broke");
	if (n == 0 && (ssh_channel_is_eof(c->chan) || ssh_channel_is_closed(c->chan)))
		return broken(c, -ECONNRESET, "the device ended the session");
	if (n <= 0)
		return 0;
	if (c->in_len + (size_t)n + 1 > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
		char *p;

		while (cap < c->in_len + (size_t)n + 1)
			cap *= 2;
		p = realloc(c->in, cap);
		if (!p)
			return broken(c, -ENOMEM, "out of memory");
		c->in = p;
		c->in_cap = cap;
	}
	/* a pty sends "\r\n"; some devices pad with NULs */
	for (int i = 0; i < n; i++)
		if (buf[i] != '\r' && buf[i] != '\0')
			c->in[c->in_len++] = buf[i];
	c->in[c->in_len] = 0;
	return 0;
}

static bool base_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-' || ch == '@';
}

/*
 * Length of the prompt that @s (of @len bytes) begins with, 0 if none:
 * base "(mode)"? [>#] " "?.  With @base NULL any base of base_char()s is
 * taken (while learning it) and its length returned through @base_len.
 */
static size_t prompt_len(const char *s, size_t len, const char *base, size_t *base_len)
{
	size_t i = 0;

	if (base) {
		size_t bl = strlen(base);

		if (!bl || len < bl || memcmp(s, base, bl))
			return 0;
		i = bl;
	} else {
		while (i < len && base_char(s[i]))
			i++;
		if (!i || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
			    (s[0] >= '0' && s[0] <= '9')))
			return 0;
		if (base_len)
			*base_len = i;
	}
	if (i < len && s[i] == '(') {
		while (i < len && s[i] != ')' && s[i] != ' ')
			i++;
		if (i == len || s[i] != ')')
			return 0;
		i++;
	}
	if (i == len || (s[i] != '>' && s[i] != '#'))
		return 0;
	i++;
	if (i < len && s[i] == ' ')
		i++;
	return i;
}

static void set_prompt(struct cli *c, const char *s, size_t len)
{
	while (len && s[len - 1] == ' ')
		len--;
	if (len >= sizeof(c->prompt))
		len = sizeof(c->prompt) - 1;
	memcpy(c->prompt, s, len);
	c->prompt[len] = 0;
}

/* The text after the last newline of the input (an unfinished line). */
static const char *tail(const struct cli *c, size_t *len)
{
	const char *nl = c->in_len ? memrchr(c->in, '\n', c->in_len) : NULL;
	const char *t = nl ? nl + 1 : c->in;

	*len = c->in_len - (size_t)(t - c->in);
	return t;
}

/* Waits for the first prompt and learns its base name. */
static int first_prompt(struct cli *c)
{
	uint64_t deadline = now_ms() + c->connect_timeout_ms;

	for (;;) {
		size_t len, bl = 0, pl;
		const char *t = tail(c, &len);
		uint64_t now;
		int err;

		pl = len ? prompt_len(t, len, NULL, &bl) : 0;
		if (pl && pl == len && bl < sizeof(c->base)) {
			memcpy(c->base, t, bl);
			c->base[bl] = 0;
			set_prompt(c, t, len);
			/* the banner before it is of no interest; the prompt stays */
			memmove(c->in, t, len);
			c->in_len = len;
			c->in[len] = 0;
			return 0;
		}
		now = now_ms();
		if (now >= deadline) {
			set_error(c, "%s port %u: no prompt recognised within %u ms (last: \"%.60s\")",
				  c->host, c->port, c->connect_timeout_ms, t);
			cli_close(c);
			return -EPROTO;
		}
		err = fill(c, (uint32_t)(deadline - now));
		if (err)
			return err;
	}
}

int cli_open(struct cli *c)
{
	unsigned int port = c->port;
	long timeout_s = (long)(c->connect_timeout_ms + 999) / 1000;
	bool no = false, yes = true;
	char why[CLI_ERROR_LEN];
	int one = 1, rc, err;

	cli_close(c);
	c->base[0] = 0;
	c->sess = ssh_new();
	if (!c->sess)
		return broken(c, -ENOMEM, "ssh_new failed");
	/* no ~/.ssh/config nor /etc/ssh/ssh_config: only what we set here */
	if (ssh_options_set(c->sess, SSH_OPTIONS_PROCESS_CONFIG, &no) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_HOST, c->host) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_PORT, &port) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_USER, c->user) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_KNOWNHOSTS, c->known_hosts) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, c->known_hosts) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_STRICTHOSTKEYCHECK, &yes) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_TIMEOUT, &timeout_s) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_NODELAY, &one) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_CIPHERS_C_S, CIPHERS) ||
	    ssh_options_set(c->sess, SSH_OPTIONS_CIPHERS_S_C, CIPHERS))
		return broken(c, -EINVAL, "libssh refused an option");
	if (ssh_connect(c->sess) != SSH_OK)
		return broken(c, -ECONNREFUSED, "connecting");
	err = remote_ssh_verify_host(c->sess, c->host, c->port, c->known_hosts, why);
	if (err) {
		cli_close(c);
		set_error(c, "%s", why);
		return err;
	}
	if (c->key)
		rc = ssh_userauth_publickey(c->sess, NULL, c->key);
	else
		rc = ssh_userauth_password(c->sess, NULL, c->password);
	if (rc != SSH_AUTH_SUCCESS)
		return broken(c, -EACCES, c->key ? "the device did not accept our key"
						 : "the device did not accept the password");
	c->chan = ssh_channel_new(c->sess);
	if (!c->chan)
		return broken(c, -ENOMEM, "ssh_channel_new");
	/* wide, so that the device never wraps an echoed line */
	if (ssh_channel_open_session(c->chan) != SSH_OK ||
	    ssh_channel_request_pty_size(c->chan, "vt100", 511, 24) != SSH_OK ||
	    ssh_channel_request_shell(c->chan) != SSH_OK)
		return broken(c, -ECONNRESET, "opening a shell");
	err = first_prompt(c);
	if (err)
		return err;
	for (const char *const *l = c->d->setup; l && *l; l++) {
		err = cli_run1(c, *l, NULL);
		if (err) {
			if (err == -EREMOTEIO)
				cli_close(c);
			return err;
		}
	}
	return 0;
}

static bool is_error_line(const struct cli *c, const char *s)
{
	while (*s == ' ')
		s++;
	for (const char *const *p = c->d->errors; p && *p; p++)
		if (!strncmp(s, *p, strlen(*p)))
			return true;
	return false;
}

static void answer_add(struct cli *c, const char *s, size_t len)
{
	struct cli_answer *a = &c->answer;

	if (a->len + len + 2 > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		char *p;

		while (cap < a->len + len + 2)
			cap *= 2;
		if (cap > CLI_ANSWER_MAX || !(p = realloc(a->text, cap))) {
			c->answer_full = true;
			return;
		}
		a->text = p;
		a->cap = cap;
	}
	memcpy(a->text + a->len, s, len);
	a->len += len;
	a->text[a->len++] = '\n';
	a->text[a->len] = 0;
}

static int check_lines(struct cli *c, const char *const *lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(lines[i], CLI_LINE_MAX + 1);

		if (len > CLI_LINE_MAX) {
			set_error(c, "a command line longer than %d bytes", CLI_LINE_MAX);
			return -EINVAL;
		}
		for (size_t j = 0; j < len; j++) {
			unsigned char ch = (unsigned char)lines[i][j];

			/* '?' asks the device for help instead of running the line */
			if (ch < 0x20 || ch >= 0x7f || ch == '?') {
				set_error(c, "a command line with a control character or '?'");
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Sends lines [from, to) in one write: one SSH packet, not one per line. */
static int send_lines(struct cli *c, const char *const *lines, size_t from, size_t to)
{
	char buf[CLI_WINDOW_MAX * (CLI_LINE_MAX + 1)];
	size_t len = 0;

	for (size_t i = from; i < to; i++) {
		size_t n = strlen(lines[i]);

		memcpy(buf + len, lines[i], n);
		len += n;
		buf[len++] = '\n';
	}
	if (ssh_channel_write(c->chan, buf, (uint32_t)len) != (int)len)
		return broken(c, -ECONNRESET, "sending commands");
	return 0;
}

int cli_run(struct cli *c, const char *const *lines, size_t n, int *results,
	    size_t *n_failed, struct cli_answer **answer)
{
	size_t sent = 0, next = 0;	/* lines sent; the next whose echo is awaited */
	size_t pos = 0, failed = 0;	/* input consumed */
	bool cur = false;		/* line next-1's answer is being read */
	uint64_t wait_ns = 0;		/* the last wait for answers began */
	size_t wait_next = 0, wait_pending = 0;	/* next and lines in flight then */
	bool wait_all = false;		/* it slept for all in flight but one */
	uint64_t deadline = now_ms() + c->timeout_ms;
	int err = 0;

	if (n_failed)
		*n_failed = 0;
	c->answer.len = 0;
	if (c->answer.text)
		c->answer.text[0] = 0;
	c->answer_full = false;
	if (answer)
		*answer = &c->answer;
	/* unknown until answered */
	for (size_t i = 0; results && i < n; i++)
		results[i] = -EINPROGRESS;
	if (!c->chan)
		return -ENOTCONN;
	err = check_lines(c, lines, n);
	if (err)
		return err;
	for (;;) {
		const char *nl;

		/* refill the window once half of it is answered */
		if (sent < n && sent - next <= c->window / 2) {
			size_t to = next + c->window < n ? next + c->window : n;

			err = send_lines(c, lines, sent, to);
			if (err)
				goto broke;
			sent = to;
		}
		/* complete lines: an echo after a prompt starts the next answer */
		while ((nl = memchr(c->in + pos, '\n', c->in_len - pos))) {
			char *s = c->in + pos;
			size_t len = (size_t)(nl - s), pl = prompt_len(s, len, c->base, NULL);

			*(char *)nl = 0;
			pos += len + 1;
			if (pl && next < sent && !strcmp(s + pl, lines[next])) {
				set_prompt(c, s, pl);
				if (next && results && results[next - 1] == -EINPROGRESS)
					results[next - 1] = 0;	/* answered up to this prompt */
				next++;
				cur = true;
				deadline = now_ms() + c->timeout_ms;
				continue;
			}
			if (!cur)
				continue;	/* before the first echo: not ours */
			if (is_error_line(c, s)) {
				if (results)
					results[next - 1] = -EREMOTEIO;
				if (!failed++)
					set_error(c, "%s: \"%s\": %s", c->prompt, lines[next - 1], s);
			}
			if (answer)
				answer_add(c, s, len);
		}
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
		c->in[c->in_len] = 0;
		pos = 0;
		/* the device's pace: answers per time waited, while it was never
		 * short of lines (if all came, it may have idled: no measure),
		 * or after sleeping for all but one (all came: it was slower than
		 * the device; the measure, an upper bound, brings it down) */
		if (wait_ns && next > wait_next && (next - wait_next < wait_pending || wait_all)) {
			uint64_t per = (now_ns() - wait_ns) / (next - wait_next);

			c->line_ns = c->line_ns ? (7 * c->line_ns + per) / 8 : per;
		}
		wait_ns = 0;
		if (next == n) {
			size_t len, pl;
			const char *t = tail(c, &len);

			pl = prompt_len(t, len, c->base, NULL);
			if (pl && pl == len) {
				set_prompt(c, t, len);
				if (n && results && results[n - 1] == -EINPROGRESS)
					results[n - 1] = 0;
				break;		/* answered; the prompt stays for the next run */
			}
		}
		/* never wait for answers with too little in flight: refill first */
		if (sent < n && sent - next <= c->window / 2)
			continue;
		{
			uint64_t now = now_ms();
			size_t before = c->in_len;

			if (now >= deadline) {
				err = broken(c, -ETIMEDOUT, "no answer in time");
				set_error(c, "%s port %u: no answer to \"%s\" within %u ms (line %zu "
					  "of %zu, %zu sent)", c->host, c->port,
					  next ? lines[next - 1] : lines[0], c->timeout_ms, next, n,
					  sent);
				goto broke;
			}
			wait_ns = now_ns();
			wait_next = next;
			wait_pending = sent - next;
			wait_all = coalesce(c, sent - next, sent == n) && sent == n;
			err = fill(c, (uint32_t)(deadline - now));
			if (err)
				goto broke;
			/* a device that keeps talking is still working on it */
			if (c->in_len > before)
				deadline = now_ms() + c->timeout_ms;
		}
	}
	if (n_failed)
		*n_failed = failed;
	if (c->answer_full) {
		set_error(c, "an answer longer than %u bytes", CLI_ANSWER_MAX);
		return -EMSGSIZE;
	}
	return 0;
broke:
	/* the line being answered, and all after it, stay unknown */
	if (n_failed)
		*n_failed = failed;
	return err;
}

int cli_run1(struct cli *c, const char *line, struct cli_answer **answer)
{
	size_t failed;
	int err = cli_run(c, &line, 1, NULL, &failed, answer);

	if (!err && failed)
		err = -EREMOTEIO;
	return err;
}

int cli_keepalive(struct cli *c)
{
	return c->d->keepalive ? cli_run1(c, c->d->keepalive, NULL) : 0;
}
