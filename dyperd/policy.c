// SPDX-License-Identifier: GPL-2.0-or-later
/* dyperd's policy: a strict parser for the rule file and a matcher that
 * runs for every pinhole request.  Everything a check needs is decided at
 * parse time (names resolved, prefixes turned into masks, globs validated),
 * so that policy_check is a loop over flat arrays with no allocation. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "dyperd/policy.h"

#define POLICY_MAX_FIELDS	12	/* 8 fields and 4 options */
#define POLICY_NAME_MAX		256	/* longest user or group name we look up */
#define POLICY_NONE		UINT32_MAX

/* A slice of one of the policy's arrays.  n == 0 stands for "*": lists in
 * the text are never empty. */
struct policy_span {
	uint32_t off;
	uint32_t n;
};

struct policy_user {
	uint32_t id;
	uint32_t is_group;		/* id is a gid (@group) */
};

/* An address prefix as two 64-bit words of network-order bytes, already
 * masked, so that matching is two ANDs and two compares. */
struct policy_net {
	uint64_t addr[2];
	uint64_t mask[2];
	uint8_t family;
};

struct policy_ports {
	uint16_t lo, hi;
};

struct policy_rule {
	uint32_t line;
	uint8_t deny;
	uint8_t proto;			/* IPPROTO_TCP, IPPROTO_UDP, 0: any */
	uint16_t time_from, time_to;	/* minutes; equal (0, 0): no time= */
	uint32_t max;			/* 0: none */
	uint32_t lifetime_ms;		/* 0: none */
	uint32_t program;		/* offset in strs, POLICY_NONE: none */
	uint32_t text;			/* offset in strs */
	struct policy_span delegates, users, raddrs, rports, laddrs, lports;
};

struct policy {
	char *name;
	struct policy_rule *rules;
	size_t n_rules, cap_rules;
	uint32_t *gids;			/* DELEGATE entries */
	size_t n_gids, cap_gids;
	struct policy_user *users;
	size_t n_users, cap_users;
	bool uses_groups;		/* some users[] entry is a @group */
	bool uses_programs;		/* some rule has program= */
	bool site;			/* the site flavour: DELEGATE names in strs,
					 * their offsets in gids; USER only * */
	struct policy_net *nets;
	size_t n_nets, cap_nets;
	struct policy_ports *ports;
	size_t n_ports, cap_ports;
	char *strs;			/* NUL-terminated globs and rule texts */
	size_t n_strs, cap_strs;
};

/* --- small helpers ----------------------------------------------------- */

/* Makes room for @add more elements of @size bytes in *@base. */
static int reserve(void **base, size_t *cap, size_t used, size_t add, size_t size)
{
	size_t need, ncap;
	void *nb;

	if (add > SIZE_MAX - used)
		return -ENOMEM;
	need = used + add;
	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		return -ENOMEM;
	nb = realloc(*base, ncap * size);
	if (!nb)
		return -ENOMEM;
	*base = nb;
	*cap = ncap;
	return 0;
}

#define RESERVE(p, arr, add) \
	reserve((void **)&(p)->arr, &(p)->cap_##arr, (p)->n_##arr, (add), sizeof(*(p)->arr))

/* Strict decimal: one or more ASCII digits, value <= @max.  No sign, no
 * spaces, no locale (strtoul has all three). */
static bool parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Writes @s (@n bytes) into @dst for a message: quotes and backslashes
 * escaped, bytes outside printable ASCII as \xNN, cut with "..." after
 * QUOTE_MAX characters, so that no policy byte reaches a log raw and every
 * message fits POLICY_ERR_LEN. */
#define QUOTE_MAX 64

static void quote(char *dst, size_t len, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	if (len == 0)
		return;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[4];
		size_t k = 0;

		if (c == '"' || c == '\\') {
			tmp[k++] = '\\';
			tmp[k++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			tmp[k++] = '\\';
			tmp[k++] = 'x';
			tmp[k++] = hex[c >> 4];
			tmp[k++] = hex[c & 15];
		} else {
			tmp[k++] = (char)c;
		}
		if (o + k > QUOTE_MAX || o + k >= len)
			break;
		memcpy(dst + o, tmp, k);
		o += k;
	}
	if (i < n && o + 3 < len) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* strerror without locale or thread-safety worries. */
static const char *errstr(int e)
{
	const char *s = strerrordesc_np(e);

	return s ? s : "unknown error";
}

/* --- the program= glob --------------------------------------------------- */

/*
 * The bracket expression starting at @q ('['), with fnmatch's rules: '!'
 * negates, a ']' right after '[' or '[!' is literal, a-b is a range unless
 * '-' is last, '\' escapes.  Refused (NULL): unterminated, '[^' (its meaning
 * depends on POSIXLY_CORRECT in glibc), [: [= [. (classes need a locale),
 * reversed ranges.  Sets *@hit to whether byte @c is in the set; returns
 * the position after the closing ']'.
 */
static const char *glob_bracket(const char *q, unsigned char c, bool *hit)
{
	const unsigned char *s = (const unsigned char *)q + 1;
	bool neg = false, in = false, first = true;

	if (*s == '!') {
		neg = true;
		s++;
	} else if (*s == '^') {
		return NULL;
	}
	for (;;) {
		unsigned lo, hi;

		if (*s == '\0')
			return NULL;
		if (*s == ']' && !first)
			break;
		first = false;
		if (*s == '[' && (s[1] == ':' || s[1] == '=' || s[1] == '.'))
			return NULL;
		if (*s == '\\' && *++s == '\0')
			return NULL;
		lo = hi = *s++;
		if (s[0] == '-' && s[1] != ']' && s[1] != '\0') {
			s++;
			if (*s == '[' && (s[1] == ':' || s[1] == '=' || s[1] == '.'))
				return NULL;
			if (*s == '\\' && *++s == '\0')
				return NULL;
			hi = *s++;
			if (hi < lo)
				return NULL;
		}
		if (c >= lo && c <= hi)
			in = true;
	}
	*hit = in != neg;
	return (const char *)s + 1;
}

/* NULL when @g is a glob we accept, else what we expected instead. */
static const char *glob_check(const char *g)
{
	bool hit;

	if (g[0] != '/' && g[0] != '*')
		return "an absolute path glob after program= (the executable, e.g. /usr/sbin/vsftpd)";
	for (const char *q = g; *q; q++) {
		if (*q == '\\') {
			if (*++q == '\0')
				return "a glob that does not end in a lone backslash after program=";
		} else if (*q == '[') {
			const char *e = glob_bracket(q, 0, &hit);

			if (!e)
				return "a glob with closed [...] sets, no [^...], [:class:] or reversed ranges, after program=";
			q = e - 1;
		}
	}
	return NULL;
}

/* fnmatch(g, s, 0) for a glob glob_check() accepted.  One backtrack point
 * (the last '*') is enough when '*' also matches '/': linear space, time
 * O(|g| * |s|), where glibc's recursion is exponential in the stars. */
static bool glob_match(const char *g, const char *s)
{
	const char *star_g = NULL, *star_s = NULL;

	for (;;) {
		const char *next = NULL;
		bool ok;

		if (*g == '*') {
			while (*g == '*')
				g++;
			if (*g == '\0')
				return true;
			star_g = g;
			star_s = s;
			continue;
		}
		if (*s == '\0')
			return *g == '\0';
		if (*g == '\0') {
			ok = false;
		} else if (*g == '?') {
			ok = true;
			next = g + 1;
		} else if (*g == '[') {
			next = glob_bracket(g, (unsigned char)*s, &ok);
			if (!next)
				return false;
		} else if (*g == '\\') {
			ok = g[1] == *s;
			next = g + 2;
		} else {
			ok = *g == *s;
			next = g + 1;
		}
		if (ok) {
			g = next;
			s++;
		} else if (star_g) {
			g = star_g;
			s = ++star_s;
		} else {
			return false;
		}
	}
}

bool policy_glob_match(const char *glob, const char *s)
{
	return glob && s && !glob_check(glob) && glob_match(glob, s);
}

/* --- parser ---------------------------------------------------------------- */

struct tok {
	const char *s;
	size_t n;
};

struct parser {
	struct policy *p;
	bool site;
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
};

static int perr(struct parser *ps, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "NAME:LINE: " + the message; returns @ret. */
static int perr(struct parser *ps, int ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err || ps->errlen == 0)
		return ret;
	if (ps->line)
		n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->name, ps->line);
	else
		n = snprintf(ps->err, ps->errlen, "%s: ", ps->name);
	if (n < 0 || (size_t)n >= ps->errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

/* "expected WHAT, found "TOKEN"" (or "found end of line" without one). */
static int expected(struct parser *ps, const char *what, const char *s, size_t n)
{
	char q[QUOTE_MAX + 4];

	if (!s)
		return perr(ps, -EINVAL, "expected %s, found end of line", what);
	quote(q, sizeof(q), s, n);
	return perr(ps, -EINVAL, "expected %s, found \"%s\"", what, q);
}

/* Copies a token into a NUL-terminated buffer; false if it does not fit. */
static bool tok_cstr(char *dst, size_t len, const char *s, size_t n)
{
	if (n >= len)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool tok_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Appends a NUL-terminated copy of @s; its offset into *@off. */
static int add_str(struct policy *p, const char *s, size_t n, uint32_t *off)
{
	int ret = RESERVE(p, strs, n + 1);

	if (ret)
		return ret;
	memcpy(p->strs + p->n_strs, s, n);
	p->strs[p->n_strs + n] = '\0';
	*off = (uint32_t)p->n_strs;
	p->n_strs += n + 1;
	return 0;
}

/* getpwnam_r / getgrnam_r want a buffer; entries with many members need
 * more than sysconf suggests, so grow on ERANGE up to a bound. */
#define LOOKUP_BUF_MIN	4096
#define LOOKUP_BUF_MAX	(1u << 20)

/* 0 with *@id set, -ENOENT for an unknown name, or another -errno. */
static int lookup_id(const char *name, bool group, uint32_t *id)
{
	size_t len = LOOKUP_BUF_MIN;
	int ret;

	for (;;) {
		char *buf = malloc(len);
		struct passwd pw, *pwr = NULL;
		struct group gr, *grr = NULL;

		if (!buf)
			return -ENOMEM;
		if (group) {
			ret = getgrnam_r(name, &gr, buf, len, &grr);
			if (ret == 0 && grr)
				*id = (uint32_t)grr->gr_gid;
		} else {
			ret = getpwnam_r(name, &pw, buf, len, &pwr);
			if (ret == 0 && pwr)
				*id = (uint32_t)pwr->pw_uid;
		}
		free(buf);
		if (ret == ERANGE && len < LOOKUP_BUF_MAX) {
			len *= 2;
			continue;
		}
		if (ret == 0)
			return (group ? grr != NULL : pwr != NULL) ? 0 : -ENOENT;
		/* What getpwnam_r(3) lists as "not found". */
		if (ret == ENOENT || ret == ESRCH || ret == EBADF || ret == EPERM)
			return -ENOENT;
		return -ret;
	}
}

/* A user or group: numeric id (all digits; uid_t -1 refused) or a name
 * resolved now. */
static int parse_id(struct parser *ps, const char *s, size_t n, bool group,
		    const char *what, uint32_t *id)
{
	char name[POLICY_NAME_MAX + 1];
	char q[QUOTE_MAX + 4];
	uint64_t v;
	int ret;

	if (all_digits(s, n)) {
		if (!parse_uint(s, n, UINT32_MAX - 1, &v))
			return expected(ps, what, s, n);
		*id = (uint32_t)v;
		return 0;
	}
	if (n == 0 || !tok_cstr(name, sizeof(name), s, n) || strchr(name, '*'))
		return expected(ps, what, s, n);
	ret = lookup_id(name, group, id);
	if (ret == 0)
		return 0;
	quote(q, sizeof(q), s, n);
	if (ret == -ENOENT)
		return perr(ps, ret, "unknown %s \"%s\"", group ? "group" : "user", q);
	return perr(ps, ret, "cannot look up %s \"%s\": %s", group ? "group" : "user", q,
		    errstr(-ret));
}

typedef int (*item_fn)(struct parser *ps, const char *s, size_t n, const char *what);

/*
 * Splits a field at commas and hands each item to @fn, which appends to
 * one of the policy's arrays.  "*" alone means any (no items); "*" inside
 * a list, or an empty item, is an error quoting the whole field.
 */
static int parse_list(struct parser *ps, const struct tok *t, const char *what, item_fn fn)
{
	const char *s = t->s, *end = t->s + t->n;

	if (tok_is(t->s, t->n, "*"))
		return 0;
	for (;;) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		const char *e = c ? c : end;
		int ret;

		if (e == s)
			return expected(ps, what, t->s, t->n);
		ret = fn(ps, s, (size_t)(e - s), what);
		if (ret || !c)
			return ret;
		s = c + 1;
	}
}

/* A site's delegate: the host's name as dyper-remote(8) and the wire
 * grammar know it, 1 to 63 of A-Z a-z 0-9 . -, starting with a letter or
 * digit. */
static bool delegate_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > POLICY_DELEGATE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '-')))
			return false;
	}
	return true;
}

static int item_delegate(struct parser *ps, const char *s, size_t n, const char *what)
{
	struct policy *p = ps->p;
	uint32_t gid;
	int ret;

	if (ps->site) {
		if (!delegate_name_valid(s, n))
			return expected(ps, what, s, n);
		ret = add_str(p, s, n, &gid);
	} else {
		ret = parse_id(ps, s, n, true, what, &gid);
	}

	if (ret)
		return ret;
	if ((ret = RESERVE(p, gids, 1)))
		return ret;
	p->gids[p->n_gids++] = gid;
	return 0;
}

static int item_user(struct parser *ps, const char *s, size_t n, const char *what)
{
	struct policy *p = ps->p;
	struct policy_user u = { 0 };
	int ret;

	if (n > 0 && s[0] == '@') {
		if (n == 1)
			return expected(ps, what, s, n);
		u.is_group = 1;
		p->uses_groups = true;
		ret = parse_id(ps, s + 1, n - 1, true, what, &u.id);
	} else {
		ret = parse_id(ps, s, n, false, what, &u.id);
	}
	if (ret)
		return ret;
	if ((ret = RESERVE(p, users, 1)))
		return ret;
	p->users[p->n_users++] = u;
	return 0;
}

static void set_mask(uint8_t mask[16], unsigned plen)
{
	memset(mask, 0, 16);
	for (unsigned i = 0; i < plen / 8; i++)
		mask[i] = 0xff;
	if (plen % 8)
		mask[plen / 8] = (uint8_t)(0xff << (8 - plen % 8));
}

/*
 * An address or prefix.  Host bits set beyond the prefix are an error,
 * naming the network meant: "192.0.2.1/24" may be a typo for the host or
 * for the network, and a policy should not guess which.
 */
static int item_addr(struct parser *ps, const char *s, size_t n, const char *what)
{
	struct policy *p = ps->p;
	struct policy_net net = { 0 };
	char buf[INET6_ADDRSTRLEN + 8];
	uint8_t addr[16] = { 0 }, mask[16];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	unsigned bits;
	uint64_t plen;
	int family, ret;

	if (!tok_cstr(buf, sizeof(buf), s, alen))
		return expected(ps, what, s, n);
	family = memchr(buf, ':', alen) ? AF_INET6 : AF_INET;
	if (inet_pton(family, buf, addr) != 1)
		return expected(ps, what, s, n);
	bits = family == AF_INET ? 32 : 128;
	plen = bits;
	if (slash) {
		size_t pn = n - alen - 1;

		if (!parse_uint(slash + 1, pn, 999, &plen) || pn > 3)
			return expected(ps, what, s, n);
		if (plen > bits)
			return expected(ps, family == AF_INET ? "a prefix length of at most 32" :
					"a prefix length of at most 128", s, n);
	}
	set_mask(mask, (unsigned)plen);
	for (unsigned i = 0; i < 16; i++) {
		if (addr[i] & ~mask[i]) {
			char net_s[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN + 64];

			for (unsigned j = 0; j < 16; j++)
				addr[j] &= mask[j];
			inet_ntop(family, addr, net_s, sizeof(net_s));
			snprintf(want, sizeof(want), "a network address with no host bits (%s/%u)",
				 net_s, (unsigned)plen);
			return expected(ps, want, s, n);
		}
	}
	memcpy(net.addr, addr, 16);
	memcpy(net.mask, mask, 16);
	net.family = (uint8_t)family;
	if ((ret = RESERVE(p, nets, 1)))
		return ret;
	p->nets[p->n_nets++] = net;
	return 0;
}

static int item_ports(struct parser *ps, const char *s, size_t n, const char *what)
{
	struct policy *p = ps->p;
	const char *dash = memchr(s, '-', n);
	uint64_t lo, hi;
	int ret;

	if (dash) {
		size_t ln = (size_t)(dash - s);

		if (!parse_uint(s, ln, 65535, &lo) || !parse_uint(dash + 1, n - ln - 1, 65535, &hi) ||
		    lo == 0)
			return expected(ps, what, s, n);
		if (lo > hi)
			return expected(ps, "a port range a-b with a <= b", s, n);
	} else {
		if (!parse_uint(s, n, 65535, &lo) || lo == 0)
			return expected(ps, what, s, n);
		hi = lo;
	}
	if ((ret = RESERVE(p, ports, 1)))
		return ret;
	p->ports[p->n_ports].lo = (uint16_t)lo;
	p->ports[p->n_ports].hi = (uint16_t)hi;
	p->n_ports++;
	return 0;
}

/* Runs parse_list and records where its items landed. */
static int parse_span(struct parser *ps, const struct tok *t, const char *what, item_fn fn,
		      size_t *count, struct policy_span *sp)
{
	size_t before = *count;
	int ret = parse_list(ps, t, what, fn);

	if (ret)
		return ret;
	sp->off = (uint32_t)before;
	sp->n = (uint32_t)(*count - before);
	return 0;
}

/* 250ms, 30s, 5m, 2h, 1d or plain seconds; 1 ms .. UINT32_MAX ms. */
static bool parse_duration(const char *s, size_t n, uint32_t *ms)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
	};
	size_t digits = 0;
	uint64_t v, mult = 1000;

	while (digits < n && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (digits < n) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (tok_is(s + digits, n - digits, units[i].unit))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return false;
		mult = units[i].mult;
	}
	if (!parse_uint(s, digits, UINT32_MAX, &v) || v == 0 || v > UINT32_MAX / mult)
		return false;
	*ms = (uint32_t)(v * mult);
	return true;
}

/* HH:MM, exactly five characters. */
static bool parse_hhmm(const char *s, uint16_t *min)
{
	uint64_t h, m;

	if (s[2] != ':' || !parse_uint(s, 2, 23, &h) || !parse_uint(s + 3, 2, 59, &m))
		return false;
	*min = (uint16_t)(h * 60 + m);
	return true;
}

static int parse_option(struct parser *ps, struct policy_rule *ru, const struct tok *t,
			unsigned *seen)
{
	static const char *const keys[] = { "program", "max", "lifetime", "time" };
	const char *eq = memchr(t->s, '=', t->n);
	const char *v;
	size_t k, vn;
	char what[64];

	for (k = 0; eq && k < sizeof(keys) / sizeof(keys[0]); k++)
		if (tok_is(t->s, (size_t)(eq - t->s), keys[k]))
			break;
	if (!eq || k == sizeof(keys) / sizeof(keys[0]))
		return expected(ps, "program=, max=, lifetime= or time=", t->s, t->n);
	if (*seen & (1u << k)) {
		snprintf(what, sizeof(what), "%s= at most once", keys[k]);
		return expected(ps, what, t->s, t->n);
	}
	*seen |= 1u << k;
	/* a site judges hosts, not programs; its quota is per delegate
	 * (dyper.conf [site] max_per_delegate) */
	if (ps->site && k <= 1)
		return expected(ps, "lifetime= or time= (a site policy has no program= or max=)",
				t->s, t->n);
	v = eq + 1;
	vn = t->n - (size_t)(v - t->s);

	switch (k) {
	case 0: {	/* program= */
		char glob[POLICY_MAX_LINE + 1];
		const char *bad;

		if (vn == 0 || !tok_cstr(glob, sizeof(glob), v, vn))
			return expected(ps, "a glob after program=", t->s, t->n);
		bad = glob_check(glob);
		if (bad)
			return expected(ps, bad, t->s, t->n);
		ps->p->uses_programs = true;
		return add_str(ps->p, v, vn, &ru->program);
	}
	case 1: {	/* max= */
		uint64_t m;

		if (!parse_uint(v, vn, POLICY_MAX_PER_USER, &m) || m == 0)
			return expected(ps, "max=N with N from 1 to 1000000", t->s, t->n);
		ru->max = (uint32_t)m;
		return 0;
	}
	case 2:		/* lifetime= */
		if (!parse_duration(v, vn, &ru->lifetime_ms))
			return expected(ps, "lifetime=DURATION above 0 and below 49d (250ms, 30s, 5m, 2h, 1d or seconds)",
					t->s, t->n);
		return 0;
	default:	/* time= */
		if (vn != 11 || v[5] != '-' || !parse_hhmm(v, &ru->time_from) ||
		    !parse_hhmm(v + 6, &ru->time_to))
			return expected(ps, "time=HH:MM-HH:MM", t->s, t->n);
		if (ru->time_from == ru->time_to)
			return expected(ps, "time=HH:MM-HH:MM with different start and end", t->s, t->n);
		return 0;
	}
}

/* The site flavour's DELEGATE and USER. */
static const char *const site_what[3] = {
	NULL,
	"DELEGATE (*, or delegate names (hosts) separated by commas)",
	"USER * (no user crosses the wire to a site)",
};

static const char *const field_what[8] = {
	"allow or deny",
	"DELEGATE (*, or group names and gids separated by commas)",
	"USER (*, or user names, uids and @groups separated by commas)",
	"PROTO (tcp, udp or *)",
	"REMOTE-ADDRS (*, or IPv4/IPv6 addresses and prefixes separated by commas)",
	"REMOTE-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas)",
	"LOCAL-ADDRS (*, or IPv4/IPv6 addresses and prefixes separated by commas)",
	"LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas)",
};

static int parse_rule(struct parser *ps, const struct tok *t, size_t n)
{
	struct policy *p = ps->p;
	struct policy_rule ru = { .line = ps->line, .program = POLICY_NONE };
	unsigned seen = 0;
	int ret;

	if (n < 8)
		return expected(ps, field_what[n], NULL, 0);
	if (p->n_rules >= POLICY_MAX_RULES)
		return perr(ps, -EINVAL, "expected at most %u rules, found more", POLICY_MAX_RULES);

	if (tok_is(t[0].s, t[0].n, "allow"))
		ru.deny = 0;
	else if (tok_is(t[0].s, t[0].n, "deny"))
		ru.deny = 1;
	else
		return expected(ps, field_what[0], t[0].s, t[0].n);

	if (ps->site) {
		if ((ret = parse_span(ps, &t[1], site_what[1], item_delegate, &p->n_gids,
				      &ru.delegates)))
			return ret;
		if (!tok_is(t[2].s, t[2].n, "*"))
			return expected(ps, site_what[2], t[2].s, t[2].n);
	} else if ((ret = parse_span(ps, &t[1], field_what[1], item_delegate, &p->n_gids,
				     &ru.delegates)) ||
		   (ret = parse_span(ps, &t[2], field_what[2], item_user, &p->n_users,
				     &ru.users))) {
		return ret;
	}

	if (tok_is(t[3].s, t[3].n, "tcp"))
		ru.proto = IPPROTO_TCP;
	else if (tok_is(t[3].s, t[3].n, "udp"))
		ru.proto = IPPROTO_UDP;
	else if (!tok_is(t[3].s, t[3].n, "*"))
		return expected(ps, field_what[3], t[3].s, t[3].n);

	if ((ret = parse_span(ps, &t[4], field_what[4], item_addr, &p->n_nets, &ru.raddrs)) ||
	    (ret = parse_span(ps, &t[5], field_what[5], item_ports, &p->n_ports, &ru.rports)) ||
	    (ret = parse_span(ps, &t[6], field_what[6], item_addr, &p->n_nets, &ru.laddrs)) ||
	    (ret = parse_span(ps, &t[7], field_what[7], item_ports, &p->n_ports, &ru.lports)))
		return ret;

	for (size_t i = 8; i < n; i++)
		if ((ret = parse_option(ps, &ru, &t[i], &seen)))
			return ret;

	/* The rule's text as written, one space between fields, for dyperctl. */
	{
		char text[POLICY_MAX_LINE + 1];
		size_t o = 0;

		for (size_t i = 0; i < n; i++) {
			if (i)
				text[o++] = ' ';
			memcpy(text + o, t[i].s, t[i].n);
			o += t[i].n;
		}
		if ((ret = add_str(p, text, o, &ru.text)))
			return ret;
	}
	if ((ret = RESERVE(p, rules, 1)))
		return ret;
	p->rules[p->n_rules++] = ru;
	return 0;
}

static int parse_line(struct parser *ps, const char *line, size_t len)
{
	struct tok t[POLICY_MAX_FIELDS];
	size_t n = 0, i = 0;

	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)line[k];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return expected(ps, "printable text", line + k, 1);
	}
	while (i < len) {
		size_t start;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len || line[i] == '#')
			break;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (n == POLICY_MAX_FIELDS)
			return expected(ps, "end of line", line + start, i - start);
		t[n].s = line + start;
		t[n].n = i - start;
		n++;
	}
	if (n == 0)
		return 0;
	return parse_rule(ps, t, n);
}

static struct policy *policy_new(const char *name)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->name = strdup(name);
	if (!p->name) {
		free(p);
		return NULL;
	}
	return p;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->rules);
	free(p->gids);
	free(p->users);
	free(p->nets);
	free(p->ports);
	free(p->strs);
	free(p);
}

int policy_parse(struct policy **out, const char *text, size_t len, const char *name,
		 char *err, size_t errlen)
{
	return policy_parse_as(out, text, len, name, POLICY_HOST, err, errlen);
}

int policy_parse_as(struct policy **out, const char *text, size_t len, const char *name,
		    enum policy_flavour flavour, char *err, size_t errlen)
{
	struct parser ps = { .name = name ? name : "policy", .err = err, .errlen = errlen,
			     .site = flavour == POLICY_SITE };
	const char *pos, *end;
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!text) {
		if (len)
			return perr(&ps, -EINVAL, "no text");
		text = "";
	}
	pos = text;
	end = text + len;
	if (len > POLICY_MAX_BYTES)
		return perr(&ps, -EFBIG, "expected at most %u bytes, found %zu", POLICY_MAX_BYTES, len);
	ps.p = policy_new(ps.name);
	if (!ps.p)
		return perr(&ps, -ENOMEM, "out of memory");
	ps.p->site = ps.site;
	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t n = (size_t)((nl ? nl : end) - pos);

		ps.line++;
		if (n > POLICY_MAX_LINE) {
			ret = perr(&ps, -EINVAL, "expected a line of at most %u bytes, found %zu bytes",
				   POLICY_MAX_LINE, n);
			goto fail;
		}
		ret = parse_line(&ps, pos, n);
		if (ret) {
			if (ret == -ENOMEM)
				perr(&ps, ret, "out of memory");
			goto fail;
		}
		pos = nl ? nl + 1 : end;
	}
	*out = ps.p;
	return 0;
fail:
	policy_free(ps.p);
	return ret;
}

int policy_load(struct policy **out, const char *path, char *err, size_t errlen)
{
	return policy_load_as(out, path, POLICY_HOST, err, errlen);
}

int policy_load_as(struct policy **out, const char *path, enum policy_flavour flavour,
		   char *err, size_t errlen)
{
	struct parser ps = { .name = path, .err = err, .errlen = errlen };
	char *buf = NULL;
	size_t len = 0, cap;
	struct stat st;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		return perr(&ps, ret, "cannot open: %s", errstr(-ret));
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		perr(&ps, ret, "cannot stat: %s", errstr(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = perr(&ps, -EINVAL, "expected a regular file");
		goto out;
	}
	if (st.st_size > (off_t)POLICY_MAX_BYTES) {
		ret = perr(&ps, -EFBIG, "expected at most %u bytes, found %jd",
			   POLICY_MAX_BYTES, (intmax_t)st.st_size);
		goto out;
	}
	/* The size is a hint: the file may change while we read it. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		ret = perr(&ps, -ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *nb;

			if (cap > POLICY_MAX_BYTES) {
				ret = perr(&ps, -EFBIG, "expected at most %u bytes, found more",
					   POLICY_MAX_BYTES);
				goto out;
			}
			cap = cap * 2 > POLICY_MAX_BYTES + 1 ? POLICY_MAX_BYTES + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = perr(&ps, -ENOMEM, "out of memory");
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			perr(&ps, ret, "cannot read: %s", errstr(-ret));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	ret = policy_parse_as(out, buf, len, path, flavour, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

size_t policy_rule_count(const struct policy *p)
{
	return p ? p->n_rules : 0;
}

bool policy_uses_groups(const struct policy *p)
{
	return p && p->uses_groups;
}

bool policy_uses_programs(const struct policy *p)
{
	return p && p->uses_programs;
}

/* --- matcher -------------------------------------------------------------- */

/* The request, loaded once per check into the shapes the rules use. */
struct req_view {
	const struct policy_request *r;
	uint64_t remote[2], local[2];
};

static bool ports_match(const struct policy *p, struct policy_span sp, uint16_t port)
{
	const struct policy_ports *pr;

	if (sp.n == 0)
		return true;
	pr = p->ports + sp.off;	/* only now: with no items the array may be NULL */
	/* Ranges start at 1: a request for any remote port (0) matches only "*". */
	for (uint32_t i = 0; i < sp.n; i++)
		if (port >= pr[i].lo && port <= pr[i].hi)
			return true;
	return false;
}

static bool nets_match(const struct policy *p, struct policy_span sp, uint8_t family,
		       const uint64_t a[2])
{
	const struct policy_net *nt;

	if (sp.n == 0)
		return true;
	nt = p->nets + sp.off;
	for (uint32_t i = 0; i < sp.n; i++)
		if (nt[i].family == family && (a[0] & nt[i].mask[0]) == nt[i].addr[0] &&
		    (a[1] & nt[i].mask[1]) == nt[i].addr[1])
			return true;
	return false;
}

static bool gids_match(const struct policy *p, struct policy_span sp, uint32_t gid)
{
	const uint32_t *g;

	if (sp.n == 0)
		return true;
	g = p->gids + sp.off;
	for (uint32_t i = 0; i < sp.n; i++)
		if (g[i] == gid)
			return true;
	return false;
}

/* The site flavour: DELEGATE names against the delegate the request came as. */
static bool delegates_match(const struct policy *p, struct policy_span sp,
			    const struct policy_request *r)
{
	const uint32_t *off;

	if (!p->site)
		return gids_match(p, sp, r->delegate_gid);
	if (sp.n == 0)
		return true;
	if (!r->delegate)
		return false;
	off = p->gids + sp.off;
	for (uint32_t i = 0; i < sp.n; i++)
		if (strcmp(p->strs + off[i], r->delegate) == 0)
			return true;
	return false;
}

static bool users_match(const struct policy *p, struct policy_span sp,
			const struct policy_request *r)
{
	const struct policy_user *u;

	if (sp.n == 0)
		return true;
	u = p->users + sp.off;
	for (uint32_t i = 0; i < sp.n; i++) {
		if (!u[i].is_group) {
			if (u[i].id == r->uid)
				return true;
			continue;
		}
		for (size_t k = 0; k < r->n_gids; k++)
			if (r->gids[k] == u[i].id)
				return true;
	}
	return false;
}

static bool time_match(const struct policy_rule *ru, int minute)
{
	if (ru->time_from == ru->time_to)
		return true;
	if (ru->time_from < ru->time_to)
		return minute >= ru->time_from && minute < ru->time_to;
	return minute >= ru->time_from || minute < ru->time_to;	/* wraps past midnight */
}

/* An allow rule needs the program dyperd vouches for; a deny rule is also
 * met by what the process runs now (a launcher's program, say). */
static bool program_matches(const struct policy *p, const struct policy_rule *ru,
			    const struct policy_request *r)
{
	const char *glob = p->strs + ru->program;

	return (r->program && glob_match(glob, r->program)) ||
	       (ru->deny && r->exe && glob_match(glob, r->exe));
}

/* Cheapest tests first; the glob last. */
static bool rule_matches(const struct policy *p, const struct policy_rule *ru,
			 const struct req_view *v)
{
	const struct policy_request *r = v->r;

	return (ru->proto == 0 || ru->proto == r->proto) &&
	       ports_match(p, ru->lports, r->local_port) &&
	       ports_match(p, ru->rports, r->remote_port) &&
	       time_match(ru, r->minute_of_day) &&
	       delegates_match(p, ru->delegates, r) &&
	       users_match(p, ru->users, r) &&
	       nets_match(p, ru->laddrs, r->family, v->local) &&
	       nets_match(p, ru->raddrs, r->family, v->remote) &&
	       (ru->program == POLICY_NONE || program_matches(p, ru, r));
}

/* NULL when @r can be judged, else why not. */
static const char *request_invalid(const struct policy_request *r)
{
	if (r->family != AF_INET && r->family != AF_INET6)
		return "address family";
	if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return "protocol";
	if (r->local_port == 0)
		return "local port 0";
	if (r->minute_of_day < 0 || r->minute_of_day > 1439)
		return "minute of day";
	if (r->n_gids && !r->gids)
		return "group list";
	return NULL;
}

static void req_view_init(struct req_view *v, const struct policy_request *r)
{
	uint8_t remote[16], local[16];

	v->r = r;
	memcpy(remote, r->remote, 16);
	memcpy(local, r->local, 16);
	if (r->family == AF_INET) {
		/* Only the first 4 bytes are IPv4; ignore whatever follows. */
		memset(remote + 4, 0, 12);
		memset(local + 4, 0, 12);
	}
	memcpy(v->remote, remote, 16);
	memcpy(v->local, local, 16);
}

void policy_check(const struct policy *p, const struct policy_request *r,
		  struct policy_decision *d)
{
	const struct policy_rule *allow = NULL;
	const char *bad = request_invalid(r);
	struct req_view v;

	memset(d, 0, sizeof(*d));
	if (bad) {
		snprintf(d->why, sizeof(d->why), "invalid request: %s", bad);
		return;
	}
	req_view_init(&v, r);
	for (size_t i = 0; p && i < p->n_rules; i++) {
		const struct policy_rule *ru = &p->rules[i];

		if (!ru->deny && allow)
			continue;	/* the first allow decides; only denies matter now */
		if (!rule_matches(p, ru, &v))
			continue;
		if (ru->deny) {
			d->line = ru->line;
			snprintf(d->why, sizeof(d->why), "denied by %s:%u", p->name, ru->line);
			return;
		}
		allow = ru;
	}
	if (!allow) {
		snprintf(d->why, sizeof(d->why), "no allow rule matches");
		return;
	}
	d->allowed = true;
	d->line = allow->line;
	d->max = allow->max;
	d->lifetime_ms = allow->lifetime_ms;
	snprintf(d->why, sizeof(d->why), "allowed by %s:%u", p->name, allow->line);
}

/* Rules are stored in line order: binary search. */
static const struct policy_rule *find_rule(const struct policy *p, unsigned line)
{
	size_t lo = 0, hi = p ? p->n_rules : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->rules[mid].line == line)
			return &p->rules[mid];
		if (p->rules[mid].line < line)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool policy_line_matches(const struct policy *p, unsigned line, const struct policy_request *r)
{
	const struct policy_rule *ru = find_rule(p, line);
	struct req_view v;

	if (!ru || request_invalid(r))
		return false;
	req_view_init(&v, r);
	return rule_matches(p, ru, &v);
}

int policy_rule_text(const struct policy *p, unsigned line, char *buf, size_t len)
{
	const struct policy_rule *ru = find_rule(p, line);
	size_t n;

	if (!ru)
		return -ENOENT;
	n = strlen(p->strs + ru->text);
	if (n >= len) {
		if (len) {
			memcpy(buf, p->strs + ru->text, len - 1);
			buf[len - 1] = '\0';
		}
		return -ENOSPC;
	}
	memcpy(buf, p->strs + ru->text, n + 1);
	return (int)n;
}
