// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/wire — border mode's line grammar (see wire.h for the grammar).
 * The parser walks the line with a cursor bounded by its length: it never
 * reads past it and needs no terminator; every token is copied (bounded)
 * before a libc function reads it.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "remote/wire.h"

/* The errno names the two ends exchange: what a pinhole request can meet
 * on the way (policy, quota, enforcer, device, transport). */
static const struct {
	int err;
	const char *name;
} errno_names[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" },
	{ E2BIG, "E2BIG" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
	{ EINVAL, "EINVAL" }, { ENFILE, "ENFILE" }, { ENOSPC, "ENOSPC" },
	{ ERANGE, "ERANGE" }, { ENOSYS, "ENOSYS" }, { EBADMSG, "EBADMSG" },
	{ EPROTO, "EPROTO" }, { EOVERFLOW, "EOVERFLOW" }, { EMSGSIZE, "EMSGSIZE" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT" }, { EOPNOTSUPP, "EOPNOTSUPP" },
	{ EAFNOSUPPORT, "EAFNOSUPPORT" }, { EADDRNOTAVAIL, "EADDRNOTAVAIL" },
	{ ENETUNREACH, "ENETUNREACH" }, { ECONNABORTED, "ECONNABORTED" },
	{ ECONNRESET, "ECONNRESET" }, { ENOBUFS, "ENOBUFS" },
	{ ENOTCONN, "ENOTCONN" }, { ESHUTDOWN, "ESHUTDOWN" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { ECONNREFUSED, "ECONNREFUSED" },
	{ EHOSTUNREACH, "EHOSTUNREACH" }, { EALREADY, "EALREADY" },
	{ EDQUOT, "EDQUOT" }, { ECANCELED, "ECANCELED" }, { ENODEV, "ENODEV" },
	{ ENXIO, "ENXIO" }, { EROFS, "EROFS" }, { ESRCH, "ESRCH" },
	{ EHOSTDOWN, "EHOSTDOWN" }, { EPIPE, "EPIPE" }, { ENOTDIR, "ENOTDIR" },
	{ EKEYREJECTED, "EKEYREJECTED" },
};

const char *remote_errno_name(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	return NULL;
}

int remote_errno_from_name(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (strlen(errno_names[i].name) == len &&
		    !memcmp(errno_names[i].name, s, len))
			return errno_names[i].err;
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool remote_name_valid(const char *s, size_t len)
{
	size_t i;

	if (!len || len > REMOTE_WIRE_NAME_MAX || !is_alnum(s[0]))
		return false;
	for (i = 1; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static bool text_valid(const char *s, size_t len)
{
	size_t i;

	if (len > REMOTE_WIRE_TEXT_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

bool remote_msg_is_request(enum remote_msg_type type)
{
	switch (type) {
	case REMOTE_MSG_OPEN:
	case REMOTE_MSG_CLOSE:
	case REMOTE_MSG_RENEW:
	case REMOTE_MSG_SYNC_BEGIN:
	case REMOTE_MSG_HOLD:
	case REMOTE_MSG_SYNC_END:
	case REMOTE_MSG_PING:
		return true;
	default:
		return false;
	}
}

/* --- parsing ---------------------------------------------------------- */

struct cursor {
	const char *p, *end;
	int field;		/* 1-based number of the token last taken */
	char *why;
};

struct tok {
	const char *s;
	size_t len;
};

/* why: 'field N: expected WHAT, found "TOKEN"' (token shortened). */
static int fail(struct cursor *c, const struct tok *t, const char *what)
{
	if (!c->why)
		return -EINVAL;
	if (t)
		snprintf(c->why, REMOTE_WIRE_WHY_LEN, "field %d: expected %s, found \"%.*s%s\"",
			 c->field, what, (int)(t->len > 24 ? 24 : t->len), t->s,
			 t->len > 24 ? "..." : "");
	else
		snprintf(c->why, REMOTE_WIRE_WHY_LEN, "field %d: expected %s, found the end of the line",
			 c->field + 1, what);
	return -EINVAL;
}

/* Takes the next token; a separator must be one space with a token after. */
static int next(struct cursor *c, struct tok *t, const char *what)
{
	const char *q;

	if (c->p >= c->end)
		return fail(c, NULL, what);
	c->field++;
	q = memchr(c->p, ' ', (size_t)(c->end - c->p));
	t->s = c->p;
	t->len = (size_t)((q ? q : c->end) - c->p);
	if (!t->len)
		return fail(c, t, "one space between tokens");
	c->p = q ? q + 1 : c->end;
	if (q && c->p >= c->end)
		return fail(c, t, "no space at the end of the line");
	return 0;
}

static int end_of_line(struct cursor *c)
{
	struct tok t;

	if (c->p >= c->end)
		return 0;
	t.s = c->p;
	t.len = (size_t)(c->end - c->p);
	c->field++;
	return fail(c, &t, "the end of the line");
}

static bool tok_is(const struct tok *t, const char *word)
{
	return t->len == strlen(word) && !memcmp(t->s, word, t->len);
}

/* Decimal, no sign, no leading zero, at most @max. */
static bool tok_u64(const struct tok *t, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;
	size_t i;

	if (!t->len || t->len > 20 || (t->s[0] == '0' && t->len > 1))
		return false;
	for (i = 0; i < t->len; i++) {
		unsigned d;

		if (t->s[i] < '0' || t->s[i] > '9')
			return false;
		d = (unsigned)(t->s[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	if (n > max)
		return false;
	*v = n;
	return true;
}

static int take_u32(struct cursor *c, uint32_t min, uint32_t max, const char *what,
		    uint32_t *out)
{
	struct tok t;
	uint64_t v;
	int r;

	r = next(c, &t, what);
	if (r)
		return r;
	if (!tok_u64(&t, max, &v) || v < min)
		return fail(c, &t, what);
	*out = (uint32_t)v;
	return 0;
}

static int take_addr(struct cursor *c, uint8_t *family, union pinhole_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const union pinhole_addr zero;
	const char *what = "an IPv4 or IPv6 address";
	char buf[INET6_ADDRSTRLEN];
	struct tok t;
	int r;

	r = next(c, &t, what);
	if (r)
		return r;
	if (t.len >= sizeof(buf))
		return fail(c, &t, what);
	memcpy(buf, t.s, t.len);
	buf[t.len] = 0;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, &a->v4) == 1) {
		if (*family == AF_INET6)
			return fail(c, &t, "an IPv6 address (the other one is)");
		*family = AF_INET;
		if (!memcmp(a, &zero, sizeof(*a)))
			return fail(c, &t, "a specified address");
	} else if (inet_pton(AF_INET6, buf, &a->v6) == 1) {
		if (*family == AF_INET)
			return fail(c, &t, "an IPv4 address (the other one is)");
		*family = AF_INET6;
		if (!memcmp(a, &zero, sizeof(*a)))
			return fail(c, &t, "a specified address");
		if (!memcmp(a->raw, mapped, sizeof(mapped)))
			return fail(c, &t, "a plain IPv4 address, not v4-mapped IPv6");
	} else {
		return fail(c, &t, what);
	}
	return 0;
}

static int take_port(struct cursor *c, bool any_ok, uint16_t *port)
{
	const char *what = any_ok ? "a port 1..65535 or \"*\"" : "a port 1..65535";
	struct tok t;
	uint64_t v;
	int r;

	r = next(c, &t, what);
	if (r)
		return r;
	if (any_ok && tok_is(&t, "*")) {
		*port = 0;
		return 0;
	}
	if (!tok_u64(&t, 65535, &v) || !v)
		return fail(c, &t, what);
	*port = (uint16_t)v;
	return 0;
}

static int take_pinhole(struct cursor *c, struct pinhole *ph)
{
	const char *what = "\"tcp\" or \"udp\"";
	struct tok t;
	int r;

	r = next(c, &t, what);
	if (r)
		return r;
	if (tok_is(&t, "tcp"))
		ph->proto = IPPROTO_TCP;
	else if (tok_is(&t, "udp"))
		ph->proto = IPPROTO_UDP;
	else
		return fail(c, &t, what);
	ph->family = 0;
	r = take_addr(c, &ph->family, &ph->remote);
	if (!r)
		r = take_port(c, true, &ph->remote_port);
	if (!r)
		r = take_addr(c, &ph->family, &ph->local);
	if (!r)
		r = take_port(c, false, &ph->local_port);
	return r;
}

static int take_name(struct cursor *c, char *out)
{
	const char *what = "a name of [A-Za-z0-9.-]";
	struct tok t;
	int r;

	r = next(c, &t, what);
	if (r)
		return r;
	if (!remote_name_valid(t.s, t.len))
		return fail(c, &t, what);
	memcpy(out, t.s, t.len);
	out[t.len] = 0;
	return 0;
}

/* The rest of the line as free text (may contain spaces). */
static int take_text(struct cursor *c, char *out)
{
	struct tok t = { c->p, (size_t)(c->end - c->p) };

	if (!t.len || t.len > REMOTE_WIRE_TEXT_MAX) {
		c->field++;
		return fail(c, &t, "text of 1..200 characters");
	}
	memcpy(out, t.s, t.len);
	out[t.len] = 0;
	c->p = c->end;
	return 0;
}

/* "DYPER <version>", "DYPER <version> OK <name>", "DYPER ERR <text>" */
static int parse_greeting(struct cursor *c, struct remote_msg *m)
{
	struct tok t;
	int r;

	r = next(c, &t, "a version or \"ERR\"");
	if (r)
		return r;
	if (tok_is(&t, "ERR")) {
		m->type = REMOTE_MSG_REFUSE;
		return take_text(c, m->text);
	}
	{
		uint64_t v;

		if (!tok_u64(&t, REMOTE_WIRE_VERSION_MAX, &v) || !v)
			return fail(c, &t, "a version 1..999 or \"ERR\"");
		m->version = (uint32_t)v;
	}
	m->type = REMOTE_MSG_HELLO;
	if (c->p >= c->end)
		return 0;
	r = next(c, &t, "\"OK\"");
	if (r)
		return r;
	if (!tok_is(&t, "OK"))
		return fail(c, &t, "\"OK\" or the end of the line");
	m->type = REMOTE_MSG_WELCOME;
	return take_name(c, m->name);
}

static int parse_numbered(struct cursor *c, struct remote_msg *m, const struct tok *id)
{
	const char *what = "OPEN, CLOSE, RENEW, SYNC, HOLD, PING, OK or ERR";
	struct tok t;
	int r;

	r = next(c, &t, what);
	if (r)
		return r;
	if (tok_is(&t, "OPEN") || tok_is(&t, "HOLD")) {
		m->type = tok_is(&t, "OPEN") ? REMOTE_MSG_OPEN : REMOTE_MSG_HOLD;
		r = take_pinhole(c, &m->ph);
		if (!r)
			r = take_u32(c, 1, REMOTE_WIRE_LEASE_MAX, "a lease of 1..86400 seconds",
				     &m->lease_s);
	} else if (tok_is(&t, "CLOSE")) {
		m->type = REMOTE_MSG_CLOSE;
		r = take_pinhole(c, &m->ph);
	} else if (tok_is(&t, "RENEW")) {
		m->type = REMOTE_MSG_RENEW;
		r = take_u32(c, 1, REMOTE_WIRE_LEASE_MAX, "a lease of 1..86400 seconds",
			     &m->lease_s);
	} else if (tok_is(&t, "SYNC")) {
		r = next(c, &t, "\"BEGIN\" or \"END\"");
		if (r)
			return r;
		if (tok_is(&t, "BEGIN"))
			m->type = REMOTE_MSG_SYNC_BEGIN;
		else if (tok_is(&t, "END"))
			m->type = REMOTE_MSG_SYNC_END;
		else
			return fail(c, &t, "\"BEGIN\" or \"END\"");
	} else if (tok_is(&t, "PING")) {
		m->type = REMOTE_MSG_PING;
	} else if (tok_is(&t, "OK")) {
		m->type = REMOTE_MSG_OK;
	} else if (tok_is(&t, "ERR")) {
		m->type = REMOTE_MSG_ERR;
		r = next(c, &t, "an errno name");
		if (r)
			return r;
		m->err = remote_errno_from_name(t.s, t.len);
		if (!m->err)
			return fail(c, &t, "an errno name such as EACCES");
		if (c->p < c->end)
			r = take_text(c, m->text);
	} else {
		return fail(c, &t, what);
	}
	if (r)
		return r;
	/* id 0 only answers a line without a readable id */
	if (!m->id && m->type != REMOTE_MSG_ERR) {
		c->field = 1;
		return fail(c, id, "an id 1..18446744073709551615");
	}
	return 0;
}

int remote_wire_parse(const char *line, size_t len, struct remote_msg *m,
		      char why[REMOTE_WIRE_WHY_LEN])
{
	struct cursor c = { line, line + len, 0, why };
	struct tok t;
	size_t i;
	int r;

	memset(m, 0, sizeof(*m));
	if (why)
		why[0] = 0;
	if (len >= REMOTE_WIRE_LINE_MAX) {
		if (why)
			snprintf(why, REMOTE_WIRE_WHY_LEN, "line longer than %d bytes",
				 REMOTE_WIRE_LINE_MAX - 1);
		return -EMSGSIZE;
	}
	for (i = 0; i < len; i++) {
		if (line[i] < 0x20 || line[i] > 0x7e) {
			if (why)
				snprintf(why, REMOTE_WIRE_WHY_LEN,
					 "byte %zu: expected printable ASCII, found 0x%02x",
					 i + 1, (unsigned char)line[i]);
			return -EINVAL;
		}
	}
	r = next(&c, &t, "a request");
	if (r)
		goto out;
	if (tok_is(&t, "DYPER")) {
		r = parse_greeting(&c, m);
	} else if (tok_is(&t, "DELEGATE")) {
		m->type = REMOTE_MSG_DELEGATE;
		r = take_name(&c, m->name);
	} else if (tok_u64(&t, UINT64_MAX, &m->id)) {
		r = parse_numbered(&c, m, &t);
	} else {
		r = fail(&c, &t, "DYPER, DELEGATE or a request id");
	}
	if (!r)
		r = end_of_line(&c);
out:
	if (r) {
		uint64_t id = m->id;

		memset(m, 0, sizeof(*m));
		m->id = id;
	}
	return r;
}

/* --- formatting ------------------------------------------------------- */

static int format_pinhole(const struct pinhole *ph, char *buf, size_t len)
{
	char ra[INET6_ADDRSTRLEN], la[INET6_ADDRSTRLEN], rp[8];
	const char *proto;

	if (ph->proto == IPPROTO_TCP)
		proto = "tcp";
	else if (ph->proto == IPPROTO_UDP)
		proto = "udp";
	else
		return -EINVAL;
	if ((ph->family != AF_INET && ph->family != AF_INET6) || !ph->local_port ||
	    !inet_ntop(ph->family, &ph->remote, ra, sizeof(ra)) ||
	    !inet_ntop(ph->family, &ph->local, la, sizeof(la)))
		return -EINVAL;
	if (ph->remote_port)
		snprintf(rp, sizeof(rp), "%u", ph->remote_port);
	else
		strcpy(rp, "*");
	if ((size_t)snprintf(buf, len, "%s %s %s %s %u", proto, ra, rp, la, ph->local_port) >= len)
		return -ENOSPC;
	return 0;
}

static int format_line(const struct remote_msg *m, char *buf, size_t len)
{
	char ph[128];
	const char *en;
	int r;

	switch (m->type) {
	case REMOTE_MSG_HELLO:
		return snprintf(buf, len, "DYPER %u\n", m->version);
	case REMOTE_MSG_WELCOME:
		return snprintf(buf, len, "DYPER %u OK %s\n", m->version, m->name);
	case REMOTE_MSG_REFUSE:
		return snprintf(buf, len, "DYPER ERR %s\n", m->text);
	case REMOTE_MSG_DELEGATE:
		return snprintf(buf, len, "DELEGATE %s\n", m->name);
	case REMOTE_MSG_OPEN:
	case REMOTE_MSG_HOLD:
	case REMOTE_MSG_CLOSE:
		r = format_pinhole(&m->ph, ph, sizeof(ph));
		if (r)
			return r;
		if (m->type == REMOTE_MSG_CLOSE)
			return snprintf(buf, len, "%" PRIu64 " CLOSE %s\n", m->id, ph);
		return snprintf(buf, len, "%" PRIu64 " %s %s %u\n", m->id,
				m->type == REMOTE_MSG_OPEN ? "OPEN" : "HOLD", ph, m->lease_s);
	case REMOTE_MSG_RENEW:
		return snprintf(buf, len, "%" PRIu64 " RENEW %u\n", m->id, m->lease_s);
	case REMOTE_MSG_SYNC_BEGIN:
		return snprintf(buf, len, "%" PRIu64 " SYNC BEGIN\n", m->id);
	case REMOTE_MSG_SYNC_END:
		return snprintf(buf, len, "%" PRIu64 " SYNC END\n", m->id);
	case REMOTE_MSG_PING:
		return snprintf(buf, len, "%" PRIu64 " PING\n", m->id);
	case REMOTE_MSG_OK:
		return snprintf(buf, len, "%" PRIu64 " OK\n", m->id);
	case REMOTE_MSG_ERR:
		en = remote_errno_name(m->err);
		if (!en)
			return -EINVAL;
		return snprintf(buf, len, "%" PRIu64 " ERR %s%s%s\n", m->id, en,
				m->text[0] ? " " : "", m->text);
	}
	return -EINVAL;
}

int remote_wire_format(const struct remote_msg *m, char *buf, size_t len)
{
	struct remote_msg back;
	int n;

	/* the fields the grammar bounds, checked here so that a bad message
	 * is refused instead of written as a line the peer rejects */
	if ((m->type == REMOTE_MSG_HELLO || m->type == REMOTE_MSG_WELCOME) &&
	    (!m->version || m->version > REMOTE_WIRE_VERSION_MAX))
		return -EINVAL;
	if ((m->type == REMOTE_MSG_WELCOME || m->type == REMOTE_MSG_DELEGATE) &&
	    !remote_name_valid(m->name, strnlen(m->name, sizeof(m->name))))
		return -EINVAL;
	if ((m->type == REMOTE_MSG_REFUSE && !m->text[0]) ||
	    !text_valid(m->text, strnlen(m->text, sizeof(m->text))) ||
	    strnlen(m->text, sizeof(m->text)) == sizeof(m->text))
		return -EINVAL;
	n = format_line(m, buf, len);
	if (n < 0)
		return n;
	if ((size_t)n >= len)
		return -ENOSPC;
	if (n > REMOTE_WIRE_LINE_MAX)
		return -EINVAL;
	/* what we write must parse back as itself: addresses, ids, leases */
	if (remote_wire_parse(buf, (size_t)n - 1, &back, NULL))
		return -EINVAL;
	return n;
}
