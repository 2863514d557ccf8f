// SPDX-License-Identifier: GPL-2.0-or-later
/* dyper.conf: a strict INI parser on top of inih, and its writer. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <ini.h>

#include "conf/config.h"

_Static_assert(DYPER_CONFIG_SOCKET_LEN == sizeof(((struct sockaddr_un *)0)->sun_path),
	       "socket paths must fit sun_path");
/* Enum fields are written through int-sized stores. */
_Static_assert(sizeof(enum dyper_on_exit) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dyper_owner_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dyper_on_unreachable) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dyper_site_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dyper_site_router) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dyper_device_type) == sizeof(int), "enum size");

#define CONFIG_FILE_MAX	(1 << 20)	/* a config is a page or two */
#define CONFIG_LINE_MAX	197		/* inih's usual 200-byte buffer less 3 */
#define QUOTE_SHOWN	120		/* bytes of a bad token shown in a message */
#define QUOTE_LEN	(QUOTE_SHOWN * 4 + 8)
#define MSG_LEN		1024
#define MS_PER_S	1000u
#define MS_PER_M	(60u * MS_PER_S)
#define MS_PER_H	(60u * MS_PER_M)
#define MS_PER_D	(24u * MS_PER_H)

enum section {
	S_DAEMON,
	S_ENFORCER,
	S_LIMITS,
	S_REMOTE,
	S_SITE,
	S_DEVICE,	/* [device NAME], repeated: keys relative to a device */
	S_COUNT,
};

static const char *const section_names[S_COUNT] = {
	[S_DAEMON] = "daemon",
	[S_ENFORCER] = "enforcer",
	[S_LIMITS] = "limits",
	[S_REMOTE] = "remote",
	[S_SITE] = "site",
	[S_DEVICE] = "device NAME",
};

#define DEVICE_PREFIX	"device "	/* of the section name inih hands over */

enum key_type {
	T_NAME,		/* user or group name */
	T_SOCKET,	/* absolute path that fits sun_path */
	T_PATH,		/* absolute path */
	T_PATH_OPT,	/* absolute path, or empty for none */
	T_TABLE,	/* nftables identifier */
	T_ON_EXIT,
	T_LOG_LEVEL,
	T_OWNER,
	T_BOOL,
	T_INT32,
	T_UINT32,
	T_MARK,		/* uint32_t, 0x hexadecimal or decimal */
	T_DURATION,	/* stored as uint32_t milliseconds */
	T_PORTS,	/* uint16_t[DYPER_CONFIG_MAX_PORTS] + size_t count */
	T_ADDR_OPT,	/* numeric IPv4 or IPv6 address, or empty for none */
	T_UNREACHABLE,
	T_SITE_NAME,	/* the wire grammar's name: [A-Za-z0-9.-], alnum first */
	T_ACCOUNT,	/* a user name or a uid */
	T_SITE_MODE,
	T_IFNAMES,	/* char[DYPER_SITE_MAX_INSIDE][IFNAMSIZ] + size_t count */
	T_OPEN_PORTS,	/* struct dyper_open_port[] + size_t count */
	T_ROUTER,	/* auto | yes | no */
	T_DEVICE_TYPE,
	T_IDENT,	/* goes into a device's CLI: [A-Za-z0-9_.-], alnum first, <= max */
	T_IDENT_OPT,	/* the same, or empty */
	T_DURATION_OPT,	/* 0 (the default), or min..max */
	T_PREFIXES,	/* struct dyper_prefix[] + size_t count */
};

struct conf_key {
	enum section sec;
	const char *name;
	enum key_type type;
	size_t off;		/* of the value in struct dyper_config */
	size_t size;		/* of a string buffer; T_PORTS: offset of the count */
	int64_t min, max;	/* numbers; durations in ms */
};

#define FIELD(f)	offsetof(struct dyper_config, f), sizeof(((struct dyper_config *)0)->f)
#define DFIELD(f)	offsetof(struct dyper_device_conf, f), \
			sizeof(((struct dyper_device_conf *)0)->f)
#define DEVICE_IDENT_MAX	(DYPER_DEVICE_IDENT_LEN - 1)
#define DEVICE_ID_MAX		2147483646
#define DEVICE_IDS_MAX		(1u << 24)	/* identities one device may use */
#define DEVICE_FIRST_ID		1		/* the driver's defaults */
#define DEVICE_LAST_ID		999999
#define PORTS(p)	offsetof(struct dyper_config, enforcer.p##_ports), \
			offsetof(struct dyper_config, enforcer.n_##p##_ports)

/* In the order of the shipped dyper.conf, which dyper_config_write() follows. */
static const struct conf_key keys[] = {
	{ S_DAEMON, "user", T_NAME, FIELD(user), 0, 0 },
	{ S_DAEMON, "group", T_NAME, FIELD(group), 0, 0 },
	{ S_DAEMON, "agent_socket", T_SOCKET, FIELD(agent_socket), 0, 0 },
	{ S_DAEMON, "control_socket", T_SOCKET, FIELD(control_socket), 0, 0 },
	{ S_DAEMON, "policy", T_PATH, FIELD(policy), 0, 0 },
	{ S_DAEMON, "on_exit", T_ON_EXIT, FIELD(on_exit), 0, 0 },
	{ S_DAEMON, "log_level", T_LOG_LEVEL, FIELD(log_level), 0, 0 },
	{ S_DAEMON, "event_log", T_PATH_OPT, FIELD(event_log), 0, 0 },

	{ S_ENFORCER, "table", T_TABLE, FIELD(enforcer_table), 0, 0 },
	{ S_ENFORCER, "priority", T_INT32, FIELD(enforcer.priority), -400, 400 },
	{ S_ENFORCER, "tcp_ports", T_PORTS, PORTS(tcp), 1, 65535 },
	{ S_ENFORCER, "udp_ports", T_PORTS, PORTS(udp), 1, 65535 },
	{ S_ENFORCER, "allow_ping", T_BOOL, FIELD(enforcer.allow_ping), 0, 0 },
	{ S_ENFORCER, "counters", T_BOOL, FIELD(enforcer.counters), 0, 0 },
	{ S_ENFORCER, "max_pinholes", T_UINT32, FIELD(enforcer.max_pinholes), 1, 16777216 },
	{ S_ENFORCER, "log_rate", T_UINT32, FIELD(enforcer.log_rate), 0, 10000 },
	{ S_ENFORCER, "owner", T_OWNER, FIELD(enforcer.owner), 0, 0 },
	{ S_ENFORCER, "mark", T_MARK, FIELD(enforcer.mark), 0, UINT32_MAX },
	{ S_ENFORCER, "reconcile_interval", T_DURATION, FIELD(reconcile_ms),
	  MS_PER_S, MS_PER_D },
	{ S_ENFORCER, "tamper_check_interval", T_DURATION, FIELD(tamper_check_ms),
	  10, MS_PER_H },

	{ S_LIMITS, "capacity", T_UINT32, FIELD(capacity), 1, 16777216 },
	{ S_LIMITS, "max_per_user", T_UINT32, FIELD(max_per_user), 1, 16777216 },
	{ S_LIMITS, "queue_max", T_UINT32, FIELD(queue_max), 0, 1048576 },
	{ S_LIMITS, "queue_timeout", T_DURATION, FIELD(queue_timeout_ms), 1, MS_PER_H },
	{ S_LIMITS, "rate", T_UINT32, FIELD(rate), 1, 1000000 },
	{ S_LIMITS, "burst", T_UINT32, FIELD(burst), 1, 1000000 },
	{ S_LIMITS, "batch_max", T_UINT32, FIELD(batch_max), 1, 100000 },
	/* Pinhole timeouts travel as uint32_t milliseconds: 30 days is well inside. */
	{ S_LIMITS, "default_lifetime", T_DURATION, FIELD(default_lifetime_ms),
	  0, 30 * (int64_t)MS_PER_D },
	/* each channel is a descriptor of dyperd's: RLIMIT_NOFILE caps them
	 * further at start (dyperd.8) */
	{ S_LIMITS, "max_channels", T_UINT32, FIELD(max_channels), 1, 1048576 },
	{ S_LIMITS, "max_channels_per_user", T_UINT32, FIELD(max_channels_per_user), 1, 1048576 },

	/* an address: a name would be resolved inside dyperd's event loop */
	{ S_REMOTE, "host", T_ADDR_OPT, FIELD(remote.host), 0, 0 },
	{ S_REMOTE, "port", T_UINT32, FIELD(remote.port), 1, 65535 },
	{ S_REMOTE, "user", T_NAME, FIELD(remote.user), 0, 0 },
	{ S_REMOTE, "key", T_PATH, FIELD(remote.key), 0, 0 },
	{ S_REMOTE, "known_hosts", T_PATH, FIELD(remote.known_hosts), 0, 0 },
	{ S_REMOTE, "connect_timeout", T_DURATION, FIELD(remote.connect_timeout_ms),
	  100, 5 * MS_PER_M },
	{ S_REMOTE, "request_timeout", T_DURATION, FIELD(remote.request_timeout_ms),
	  10, 5 * MS_PER_M },
	{ S_REMOTE, "keepalive_interval", T_DURATION, FIELD(remote.keepalive_ms),
	  100, MS_PER_H },
	/* the wire's lease is whole seconds, at most REMOTE_WIRE_LEASE_MAX */
	{ S_REMOTE, "lease", T_DURATION, FIELD(remote.lease_ms), 3 * MS_PER_S, MS_PER_D },
	{ S_REMOTE, "on_unreachable", T_UNREACHABLE, FIELD(remote.on_unreachable), 0, 0 },
	{ S_SITE, "enable", T_BOOL, FIELD(site.enable), 0, 0 },
	{ S_SITE, "router", T_ROUTER, FIELD(site.router), 0, 0 },
	{ S_SITE, "name", T_SITE_NAME, FIELD(site.name), 0, 0 },
	{ S_SITE, "socket", T_SOCKET, FIELD(site.socket), 0, 0 },
	{ S_SITE, "account", T_ACCOUNT, FIELD(site.account), 0, 0 },
	{ S_SITE, "policy", T_PATH, FIELD(site.policy), 0, 0 },
	{ S_SITE, "max_per_delegate", T_UINT32, FIELD(site.max_per_delegate), 1, 16777216 },
	/* the wire's lease bound (remote/wire.h REMOTE_WIRE_LEASE_MAX) */
	{ S_SITE, "max_lease", T_DURATION, FIELD(site.max_lease_ms), MS_PER_S, MS_PER_D },
	{ S_SITE, "batch", T_UINT32, FIELD(site.batch), 1, 100000 },
	{ S_SITE, "audit_interval", T_DURATION, FIELD(site.audit_ms), MS_PER_S, MS_PER_D },
	{ S_SITE, "max_connections", T_UINT32, FIELD(site.max_connections), 1, 65536 },
	{ S_SITE, "rate", T_UINT32, FIELD(site.rate), 1, 1000000 },
	{ S_SITE, "burst", T_UINT32, FIELD(site.burst), 1, 1000000 },
	{ S_SITE, "table", T_TABLE, FIELD(site.table), 0, 0 },
	{ S_SITE, "priority", T_INT32, FIELD(site.priority), -400, 400 },
	{ S_SITE, "mode", T_SITE_MODE, FIELD(site.mode), 0, 0 },
	{ S_SITE, "mark", T_MARK, FIELD(site.mark), 0, UINT32_MAX },
	{ S_SITE, "inside", T_IFNAMES, offsetof(struct dyper_config, site.inside),
	  offsetof(struct dyper_config, site.n_inside), 0, 0 },
	{ S_SITE, "open_ports", T_OPEN_PORTS, offsetof(struct dyper_config, site.open),
	  offsetof(struct dyper_config, site.n_open), 1, 65535 },

	/* [device NAME]: offsets in struct dyper_device_conf (device_key()) */
	{ S_DEVICE, "type", T_DEVICE_TYPE, DFIELD(type), 0, 0 },
	{ S_DEVICE, "address", T_ADDR_OPT, DFIELD(address), 0, 0 },
	{ S_DEVICE, "port", T_UINT32, DFIELD(port), 1, 65535 },
	/* names the driver puts into command lines: its REMOTE_DEVICE_NAME_MAX */
	{ S_DEVICE, "user", T_IDENT, DFIELD(user), 1, DEVICE_IDENT_MAX },
	{ S_DEVICE, "key", T_PATH_OPT, DFIELD(key), 0, 0 },
	{ S_DEVICE, "password_file", T_PATH_OPT, DFIELD(password_file), 0, 0 },
	{ S_DEVICE, "known_hosts", T_PATH_OPT, DFIELD(known_hosts), 0, 0 },
	{ S_DEVICE, "acl", T_IDENT, DFIELD(acl), 1, DEVICE_IDENT_MAX },
	{ S_DEVICE, "acl6", T_IDENT_OPT, DFIELD(acl6), 1, DEVICE_IDENT_MAX },
	{ S_DEVICE, "final_term", T_IDENT_OPT, DFIELD(final_term), 1, DEVICE_IDENT_MAX },
	/* the driver's bounds: IOS sequence numbers, at most 2^24 of them */
	{ S_DEVICE, "first_id", T_UINT32, DFIELD(first_id), 0, DEVICE_ID_MAX },
	{ S_DEVICE, "last_id", T_UINT32, DFIELD(last_id), 0, DEVICE_ID_MAX },
	{ S_DEVICE, "batch", T_UINT32, DFIELD(batch), 0, 100000 },
	/* the driver counts it in whole seconds */
	{ S_DEVICE, "save_interval", T_DURATION_OPT, DFIELD(save_interval_ms),
	  10 * MS_PER_S, MS_PER_D },
	{ S_DEVICE, "timeout", T_DURATION_OPT, DFIELD(timeout_ms), MS_PER_S, 10 * MS_PER_M },
	{ S_DEVICE, "keepalive", T_DURATION_OPT, DFIELD(keepalive_ms), MS_PER_S, MS_PER_H },
	/* JunOS's commit confirmed takes 1 to 65535 minutes */
	{ S_DEVICE, "confirm_minutes", T_UINT32, DFIELD(confirm_minutes), 0, 65535 },
	{ S_DEVICE, "lag", T_DURATION, DFIELD(lag_ms), 100, 5 * MS_PER_M },
	{ S_DEVICE, "guards", T_PREFIXES, offsetof(struct dyper_device_conf, guards),
	  offsetof(struct dyper_device_conf, n_guards), 0, 0 },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

struct word {
	const char *name;
	int value;
};

static const struct word on_exit_words[] = {
	{ "keep", DYPER_ON_EXIT_KEEP },
	{ "flush", DYPER_ON_EXIT_FLUSH },
	{ NULL, 0 },
};

static const struct word log_level_words[] = {
	{ "err", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
	{ NULL, 0 },
};

static const struct word unreachable_words[] = {
	{ "fail", DYPER_UNREACHABLE_FAIL },
	{ "local", DYPER_UNREACHABLE_LOCAL },
	{ NULL, 0 },
};

static const struct word site_mode_words[] = {
	{ "policy", DYPER_SITE_POLICY },
	{ "mark", DYPER_SITE_MARK },
	{ NULL, 0 },
};

static const struct word router_words[] = {
	{ "auto", DYPER_SITE_ROUTER_AUTO },
	{ "yes", DYPER_SITE_ROUTER_YES },
	{ "no", DYPER_SITE_ROUTER_NO },
	{ NULL, 0 },
};

static const struct word device_type_words[] = {
	{ "ios", DYPER_DEVICE_IOS },
	{ "ftos", DYPER_DEVICE_FTOS },
	{ "ironware", DYPER_DEVICE_IRONWARE },
	{ "junos", DYPER_DEVICE_JUNOS },
	{ NULL, 0 },
};

static const struct word bool_words[] = {
	{ "yes", 1 }, { "no", 0 },
	{ "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 },
	{ "1", 1 }, { "0", 0 },
	{ NULL, 0 },
};

/* State of one parse, shared by the line reader and the key handler. */
struct parse {
	struct dyper_config cfg;	/* built here, copied out on success */
	const char *text;
	size_t len;
	size_t pos;			/* start of the next line */
	unsigned lineno;		/* of the line inih works on */
	unsigned seen[N_KEYS];		/* line of each key, 0 if absent */
	unsigned dev_line[DYPER_MAX_DEVICES];	/* of each [device NAME] header */
	unsigned dev_seen[DYPER_MAX_DEVICES][N_KEYS];	/* as seen[], per device */
	const char *key;		/* key being parsed, for messages */
	unsigned err_line;		/* first error found by us, 0 if none */
	char msg[MSG_LEN];
	char quoted[3][QUOTE_LEN];	/* ring for q() */
	unsigned next_quote;
};

/* --- small helpers -------------------------------------------------------- */

/* The characters inih trims (isspace in the C locale), without locale. */
static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char ascii_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Case-insensitive in ASCII only, whatever the locale. */
static bool word_eq(const char *a, const char *b)
{
	while (*a && ascii_lower(*a) == ascii_lower(*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

static const struct word *word_find(const struct word *w, const char *s)
{
	for (; w->name; w++)
		if (word_eq(w->name, s))
			return w;
	return NULL;
}

static const char *word_name(const struct word *w, int value)
{
	for (; w->name; w++)
		if (w->value == value)
			return w->name;
	return NULL;
}

/*
 * @s (@n bytes) in double quotes, with quotes, backslashes and anything
 * not printable ASCII escaped so that a message stays one clean line; cut
 * after QUOTE_SHOWN bytes.  Valid until two more calls.
 */
static const char *qn(struct parse *p, const char *s, size_t n)
{
	char *buf = p->quoted[p->next_quote++ % 3];
	size_t o = 0;

	buf[o++] = '"';
	for (size_t i = 0; i < n && i < QUOTE_SHOWN; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			o += (size_t)snprintf(buf + o, QUOTE_LEN - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o++] = '"';
	if (n > QUOTE_SHOWN) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static const char *q(struct parse *p, const char *s)
{
	return qn(p, s, strlen(s));
}

/*
 * Records the first error, at the current line, prefixed by the key being
 * parsed.  Returns 0, inih's "handler failed".
 */
__attribute__((format(printf, 2, 3)))
static int fail(struct parse *p, const char *fmt, ...)
{
	size_t o = 0;
	va_list ap;

	if (p->err_line)
		return 0;
	p->err_line = p->lineno ? p->lineno : 1;
	if (p->key)
		o = (size_t)snprintf(p->msg, sizeof(p->msg), "%s: ", p->key);
	va_start(ap, fmt);
	vsnprintf(p->msg + o, sizeof(p->msg) - o, fmt, ap);
	va_end(ap);
	return 0;
}

__attribute__((format(printf, 3, 4)))
static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void *field(struct dyper_config *c, const struct conf_key *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct dyper_config *c, const struct conf_key *k)
{
	return (const char *)c + k->off;
}

/* Decimal digits only, at most @max; -EINVAL for anything else, -ERANGE. */
static int parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* "250ms", "5s", "2m", "1h", "1d"; a plain number is seconds (as in the policy). */
static int parse_duration(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", MS_PER_S }, { "ms", 1 }, { "s", MS_PER_S }, { "m", MS_PER_M },
		{ "h", MS_PER_H }, { "d", MS_PER_D },
	};
	size_t n = 0;
	uint64_t v;
	int err;

	while (is_digit(s[n]))
		n++;
	/* 10^10 days still fit in 64 bits as milliseconds. */
	err = parse_decimal(s, n, 10000000000ull, &v);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s + n, units[i].unit) == 0) {
			*ms = v * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

static void format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "0");
	else if (ms % MS_PER_D == 0)
		snprintf(buf, len, "%" PRIu64 "d", ms / MS_PER_D);
	else if (ms % MS_PER_H == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / MS_PER_H);
	else if (ms % MS_PER_M == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / MS_PER_M);
	else if (ms % MS_PER_S == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / MS_PER_S);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* --- values --------------------------------------------------------------- */

static int check_length(struct parse *p, const struct conf_key *k, const char *v)
{
	size_t n = strlen(v);

	if (n >= k->size)
		return fail(p, "expected at most %zu characters, found %zu in %s",
			    k->size - 1, n, q(p, v));
	return 1;
}

static int set_string(struct parse *p, const struct conf_key *k, const char *v)
{
	if (!check_length(p, k, v))
		return 0;
	/* Zero the tail too, so that equal configs are equal bytes. */
	memset(field(&p->cfg, k), 0, k->size);
	memcpy(field(&p->cfg, k), v, strlen(v));
	return 1;
}

static int parse_name(struct parse *p, const struct conf_key *k, const char *v)
{
	bool ok = is_alpha(v[0]) || v[0] == '_';

	for (size_t i = 1; ok && v[i]; i++)
		ok = is_alpha(v[i]) || is_digit(v[i]) || v[i] == '_' || v[i] == '.' || v[i] == '-';
	if (!ok)
		return fail(p, "expected a user or group name (a letter or \"_\", then "
			    "letters, digits, \".\", \"_\" or \"-\"), found %s", q(p, v));
	return set_string(p, k, v);
}

/* Blanks are refused so that "path # comment" is an error, not a path. */
static int parse_path(struct parse *p, const struct conf_key *k, const char *v)
{
	if (v[0] == '\0' && k->type == T_PATH_OPT)
		return set_string(p, k, v);
	if (v[0] != '/')
		return fail(p, "expected an absolute path%s, found %s",
			    k->type == T_PATH_OPT ? " or nothing" : "", q(p, v));
	for (const char *s = v; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return fail(p, "expected a path without blanks or control "
				    "characters, found %s", q(p, v));
	return set_string(p, k, v);
}

/* The site's address as inet_pton(3) reads it.  Not a name: resolving
 * one blocks the event loop for as long as the resolver takes. */
static int parse_addr(struct parse *p, const struct conf_key *k, const char *v)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (v[0] && inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
		return fail(p, "expected an IPv4 or IPv6 address (not a host name: resolving "
			    "one would block dyperd), or nothing, found %s", q(p, v));
	return set_string(p, k, v);
}

/* nft's identifiers, less "/" which would be confusing in messages. */
static int parse_table(struct parse *p, const struct conf_key *k, const char *v)
{
	bool ok = is_alpha(v[0]);

	for (size_t i = 1; ok && v[i]; i++)
		ok = is_alpha(v[i]) || is_digit(v[i]) || v[i] == '_' || v[i] == '.' || v[i] == '-';
	if (!ok)
		return fail(p, "expected a table name (a letter, then letters, digits, "
			    "\".\", \"_\" or \"-\"), found %s", q(p, v));
	return set_string(p, k, v);
}

static int parse_word(struct parse *p, const struct conf_key *k, const char *v,
		      const struct word *words, const char *expected)
{
	const struct word *w = word_find(words, v);

	if (!w)
		return fail(p, "expected %s, found %s", expected, q(p, v));
	*(int *)field(&p->cfg, k) = w->value;
	return 1;
}

static int parse_owner(struct parse *p, const struct conf_key *k, const char *v)
{
	const struct word *w = word_find(bool_words, v);
	enum dyper_owner_mode mode;

	if (word_eq(v, "auto"))
		mode = DYPER_OWNER_AUTO;
	else if (w)
		mode = w->value ? DYPER_OWNER_ON : DYPER_OWNER_OFF;
	else
		return fail(p, "expected auto, yes or no, found %s", q(p, v));
	*(enum dyper_owner_mode *)field(&p->cfg, k) = mode;
	return 1;
}

static int parse_bool(struct parse *p, const struct conf_key *k, const char *v)
{
	const struct word *w = word_find(bool_words, v);

	if (!w)
		return fail(p, "expected yes or no (or true/false, on/off, 1/0), found %s",
			    q(p, v));
	*(bool *)field(&p->cfg, k) = w->value;
	return 1;
}

static int parse_number(struct parse *p, const struct conf_key *k, const char *v)
{
	bool neg = v[0] == '-' && k->min < 0;
	const char *digits = neg ? v + 1 : v;
	uint64_t mag;
	int64_t n;

	if (parse_decimal(digits, strlen(digits), (uint64_t)INT64_MAX, &mag) ||
	    (n = neg ? -(int64_t)mag : (int64_t)mag) < k->min || n > k->max)
		return fail(p, "expected a number from %" PRId64 " to %" PRId64 ", found %s",
			    k->min, k->max, q(p, v));
	if (k->type == T_INT32)
		*(int32_t *)field(&p->cfg, k) = (int32_t)n;
	else
		*(uint32_t *)field(&p->cfg, k) = (uint32_t)n;
	return 1;
}

/* A packet mark: "0x10" (1 to 8 hex digits) or decimal, as nft writes marks. */
static int parse_mark(struct parse *p, const struct conf_key *k, const char *v)
{
	uint64_t mark = 0;
	size_t n = strlen(v);
	int err = 0;

	if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X') && n <= 10) {
		for (size_t i = 2; i < n && !err; i++) {
			const char *hex = "0123456789abcdef";
			const char *d = strchr(hex, v[i] | 0x20);

			if (!d || !*d)
				err = -EINVAL;
			else
				mark = mark * 16 + (uint64_t)(d - hex);
		}
	} else {
		err = parse_decimal(v, n, UINT32_MAX, &mark);
	}
	if (err)
		return fail(p, "expected a packet mark, 0 (none) or a 32-bit number such as "
			    "0x10, found %s", q(p, v));
	*(uint32_t *)field(&p->cfg, k) = (uint32_t)mark;
	return 1;
}

static int parse_duration_key(struct parse *p, const struct conf_key *k, const char *v)
{
	bool opt = k->type == T_DURATION_OPT;
	char lo[32], hi[32];
	uint64_t ms;

	if (parse_duration(v, &ms) || (ms < (uint64_t)k->min && !(opt && ms == 0)) ||
	    ms > (uint64_t)k->max) {
		format_duration((uint64_t)k->min, lo, sizeof(lo));
		format_duration((uint64_t)k->max, hi, sizeof(hi));
		return fail(p, "expected %sa duration from %s to %s such as 250ms, 5s, 2m, 1h "
			    "or 1d (a plain number is seconds), found %s",
			    opt ? "0 (the default) or " : "", lo, hi, q(p, v));
	}
	*(uint32_t *)field(&p->cfg, k) = (uint32_t)ms;
	return 1;
}

/* "21, 22,2811": ports 1..65535, each once; an empty value is no ports. */
static int parse_ports(struct parse *p, const struct conf_key *k, const char *v)
{
	uint16_t *ports = field(&p->cfg, k);
	size_t *count = (size_t *)((char *)&p->cfg + k->size);
	uint16_t list[DYPER_CONFIG_MAX_PORTS];
	size_t n = 0;

	for (const char *s = v; *v; ) {
		const char *end = strchr(s, ',');
		const char *a = s, *b = end ? end : s + strlen(s);
		uint64_t port;

		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		if (a == b)
			return fail(p, "expected a port number before and after each "
				    "comma, found %s", q(p, v));
		if (parse_decimal(a, (size_t)(b - a), (uint64_t)k->max, &port) ||
		    port < (uint64_t)k->min)
			return fail(p, "expected port numbers from 1 to 65535, found %s",
				    qn(p, a, (size_t)(b - a)));
		for (size_t i = 0; i < n; i++)
			if (list[i] == port)
				return fail(p, "expected each port once, found %s twice",
					    qn(p, a, (size_t)(b - a)));
		if (n == DYPER_CONFIG_MAX_PORTS)
			return fail(p, "expected at most %d ports, found more in %s",
				    DYPER_CONFIG_MAX_PORTS, q(p, v));
		list[n++] = (uint16_t)port;
		if (!end)
			break;
		s = end + 1;
	}
	memset(ports, 0, sizeof(list));
	memcpy(ports, list, n * sizeof(list[0]));
	*count = n;
	return 1;
}

/* A site's name as the wire grammar has it (remote/wire.h), which conf/,
 * a leaf, checks on its own: 1 to 64 of A-Z a-z 0-9 . -, alnum first. */
static int parse_site_name(struct parse *p, const struct conf_key *k, const char *v)
{
	bool ok = is_alpha(v[0]) || is_digit(v[0]);

	for (size_t i = 1; ok && v[i]; i++)
		ok = is_alpha(v[i]) || is_digit(v[i]) || v[i] == '.' || v[i] == '-';
	if (!ok || strlen(v) >= k->size)
		return fail(p, "expected a name of 1 to %zu letters, digits, \".\" or \"-\" "
			    "starting with a letter or digit, found %s", k->size - 1, q(p, v));
	return set_string(p, k, v);
}

/* A user name, or a uid (digits only; never -1). */
static int parse_account(struct parse *p, const struct conf_key *k, const char *v)
{
	uint64_t uid;

	if (is_digit(v[0])) {
		if (parse_decimal(v, strlen(v), UINT32_MAX - 1, &uid))
			return fail(p, "expected a user name or a uid from 0 to %u, found %s",
				    UINT32_MAX - 1, q(p, v));
		return set_string(p, k, v);
	}
	return parse_name(p, k, v);
}

/* Splits @v at commas into trimmed items for @fn; an empty value is none. */
static int each_item(struct parse *p, const char *v, int (*fn)(struct parse *p,
			const char *s, size_t n, void *arg), void *arg)
{
	for (const char *s = v; *v; ) {
		const char *end = strchr(s, ',');
		const char *a = s, *b = end ? end : s + strlen(s);

		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		if (a == b)
			return fail(p, "expected an item before and after each comma, found %s",
				    q(p, v));
		if (!fn(p, a, (size_t)(b - a), arg))
			return 0;
		if (!end)
			break;
		s = end + 1;
	}
	return 1;
}

struct ifnames {
	char (*names)[DYPER_IFNAME_LEN];
	size_t n;
};

/* An interface name as the kernel takes it: 1..15 bytes, no "/", blank or ":". */
static int ifname_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct ifnames *l = arg;

	if (n >= DYPER_IFNAME_LEN || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return fail(p, "expected an interface name of 1 to %d characters, found %s",
			    DYPER_IFNAME_LEN - 1, qn(p, s, n));
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '"' || (unsigned char)s[i] <= ' ' ||
		    (unsigned char)s[i] >= 0x7f)
			return fail(p, "expected an interface name without \"/\", \":\", quotes "
				    "or blanks, found %s", qn(p, s, n));
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->names[i]) == n && memcmp(l->names[i], s, n) == 0)
			return fail(p, "expected each interface once, found %s twice", qn(p, s, n));
	if (l->n == DYPER_SITE_MAX_INSIDE)
		return fail(p, "expected at most %d interfaces", DYPER_SITE_MAX_INSIDE);
	memcpy(l->names[l->n], s, n);
	l->names[l->n++][n] = '\0';
	return 1;
}

static int parse_ifnames(struct parse *p, const struct conf_key *k, const char *v)
{
	char names[DYPER_SITE_MAX_INSIDE][DYPER_IFNAME_LEN];
	struct ifnames l = { names, 0 };

	memset(names, 0, sizeof(names));
	if (!each_item(p, v, ifname_item, &l))
		return 0;
	memcpy(field(&p->cfg, k), names, sizeof(names));
	*(size_t *)((char *)&p->cfg + k->size) = l.n;
	return 1;
}

struct open_ports {
	struct dyper_open_port *v;
	size_t n;
};

/* "tcp/198.51.100.10/22" or "udp/2001:db8::10/53". */
static int open_port_item(struct parse *p, const char *s, size_t n, void *arg)
{
	static const char expect[] = "expected PROTO/ADDRESS/PORT such as tcp/198.51.100.10/22 "
				     "(tcp or udp, an IPv4 or IPv6 address, a port 1-65535), found %s";
	struct open_ports *l = arg;
	struct dyper_open_port o = { 0 };
	const char *s1 = memchr(s, '/', n), *s2;
	char addr[INET6_ADDRSTRLEN];
	uint64_t port;

	if (!s1 || !(s2 = memchr(s1 + 1, '/', n - (size_t)(s1 + 1 - s))))
		return fail(p, expect, qn(p, s, n));
	if (s1 - s == 3 && memcmp(s, "tcp", 3) == 0)
		o.proto = IPPROTO_TCP;
	else if (s1 - s == 3 && memcmp(s, "udp", 3) == 0)
		o.proto = IPPROTO_UDP;
	else
		return fail(p, expect, qn(p, s, n));
	if ((size_t)(s2 - s1 - 1) >= sizeof(addr))
		return fail(p, expect, qn(p, s, n));
	memcpy(addr, s1 + 1, (size_t)(s2 - s1 - 1));
	addr[s2 - s1 - 1] = '\0';
	if (inet_pton(AF_INET, addr, o.addr) == 1)
		o.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, o.addr) == 1)
		o.family = AF_INET6;
	else
		return fail(p, expect, qn(p, s, n));
	if (parse_decimal(s2 + 1, n - (size_t)(s2 + 1 - s), 65535, &port) || port == 0)
		return fail(p, expect, qn(p, s, n));
	o.port = (uint16_t)port;
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(&l->v[i], &o, sizeof(o)) == 0)
			return fail(p, "expected each open port once, found %s twice", qn(p, s, n));
	if (l->n == DYPER_SITE_MAX_OPEN)
		return fail(p, "expected at most %d open ports", DYPER_SITE_MAX_OPEN);
	l->v[l->n++] = o;
	return 1;
}

static int parse_open_ports(struct parse *p, const struct conf_key *k, const char *v)
{
	struct dyper_open_port v2[DYPER_SITE_MAX_OPEN];
	struct open_ports l = { v2, 0 };

	memset(v2, 0, sizeof(v2));
	if (!each_item(p, v, open_port_item, &l))
		return 0;
	memcpy(field(&p->cfg, k), v2, sizeof(v2));
	*(size_t *)((char *)&p->cfg + k->size) = l.n;
	return 1;
}

/* A name a device driver puts into its command lines (an account, ACL,
 * filter or term): kept to characters no CLI reads specially. */
static int parse_ident(struct parse *p, const struct conf_key *k, const char *v)
{
	size_t n = strlen(v);
	bool ok = is_alpha(v[0]) || is_digit(v[0]);

	if (n == 0 && k->type == T_IDENT_OPT)
		return set_string(p, k, v);
	for (size_t i = 1; ok && i < n; i++)
		ok = is_alpha(v[i]) || is_digit(v[i]) || v[i] == '_' || v[i] == '.' || v[i] == '-';
	if (!ok || n > (size_t)k->max)
		return fail(p, "expected a name of 1 to %" PRId64 " letters, digits, \".\", \"_\" "
			    "or \"-\" starting with a letter or digit (it goes into the device's "
			    "command lines)%s, found %s", k->max,
			    k->type == T_IDENT_OPT ? ", or nothing" : "", q(p, v));
	return set_string(p, k, v);
}

struct prefixes {
	struct dyper_prefix *v;
	size_t n;
};

/* "198.51.100.0/24", "2001:db8:1::/48", or an address alone (one host). */
static int prefix_one(struct parse *p, const char *s, size_t n, struct prefixes *l)
{
	static const char expect[] = "expected an address prefix such as 198.51.100.0/24 or "
				     "2001:db8:1::/48 (or an address alone), found %s";
	struct dyper_prefix x = { 0 };
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	char addr[INET6_ADDRSTRLEN];
	uint64_t len;

	if (alen >= sizeof(addr))
		return fail(p, expect, qn(p, s, n));
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, x.addr) == 1)
		x.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, x.addr) == 1)
		x.family = AF_INET6;
	else
		return fail(p, expect, qn(p, s, n));
	len = x.family == AF_INET ? 32 : 128;
	if (slash && parse_decimal(slash + 1, n - alen - 1, len, &len))
		return fail(p, "expected a prefix length from 0 to %u, found %s",
			    x.family == AF_INET ? 32u : 128u, qn(p, s, n));
	x.len = (uint8_t)len;
	/* a guard with host bits is most likely a typo for another network */
	for (unsigned bit = x.len; bit < (x.family == AF_INET ? 32u : 128u); bit++)
		if (x.addr[bit / 8] & (0x80 >> (bit % 8)))
			return fail(p, "expected a prefix without host bits (such as "
				    "198.51.100.0/24, not 198.51.100.7/24), found %s", qn(p, s, n));
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(&l->v[i], &x, sizeof(x)) == 0)
			return fail(p, "expected each guard once, found %s twice", qn(p, s, n));
	if (l->n == DYPER_DEVICE_MAX_GUARDS)
		return fail(p, "expected at most %d guards, found more", DYPER_DEVICE_MAX_GUARDS);
	l->v[l->n++] = x;
	return 1;
}

/* One comma-separated item: prefixes separated by blanks. */
static int prefix_item(struct parse *p, const char *s, size_t n, void *arg)
{
	size_t i = 0, start;

	while (i < n) {
		start = i;
		while (i < n && !is_space(s[i]))
			i++;
		if (!prefix_one(p, s + start, i - start, arg))
			return 0;
		while (i < n && is_space(s[i]))
			i++;
	}
	return 1;
}

static int parse_prefixes(struct parse *p, const struct conf_key *k, const char *v)
{
	struct dyper_prefix v2[DYPER_DEVICE_MAX_GUARDS];
	struct prefixes l = { v2, 0 };

	memset(v2, 0, sizeof(v2));
	if (!each_item(p, v, prefix_item, &l))
		return 0;
	memcpy(field(&p->cfg, k), v2, sizeof(v2));
	*(size_t *)((char *)&p->cfg + k->size) = l.n;
	return 1;
}

static int parse_value(struct parse *p, const struct conf_key *k, const char *v)
{
	switch (k->type) {
	case T_NAME:
		return parse_name(p, k, v);
	case T_SOCKET:
	case T_PATH:
	case T_PATH_OPT:
		return parse_path(p, k, v);
	case T_TABLE:
		return parse_table(p, k, v);
	case T_ON_EXIT:
		return parse_word(p, k, v, on_exit_words, "keep or flush");
	case T_LOG_LEVEL:
		return parse_word(p, k, v, log_level_words,
				  "err, warning, notice, info or debug");
	case T_OWNER:
		return parse_owner(p, k, v);
	case T_BOOL:
		return parse_bool(p, k, v);
	case T_INT32:
	case T_UINT32:
		return parse_number(p, k, v);
	case T_MARK:
		return parse_mark(p, k, v);
	case T_DURATION:
	case T_DURATION_OPT:
		return parse_duration_key(p, k, v);
	case T_PORTS:
		return parse_ports(p, k, v);
	case T_ADDR_OPT:
		return parse_addr(p, k, v);
	case T_UNREACHABLE:
		return parse_word(p, k, v, unreachable_words, "fail or local");
	case T_SITE_NAME:
		return parse_site_name(p, k, v);
	case T_ACCOUNT:
		return parse_account(p, k, v);
	case T_SITE_MODE:
		return parse_word(p, k, v, site_mode_words, "policy or mark");
	case T_IFNAMES:
		return parse_ifnames(p, k, v);
	case T_OPEN_PORTS:
		return parse_open_ports(p, k, v);
	case T_ROUTER:
		return parse_word(p, k, v, router_words, "auto, yes or no");
	case T_DEVICE_TYPE:
		return parse_word(p, k, v, device_type_words,
				  "a device type: ios, ftos, ironware or junos");
	case T_IDENT:
	case T_IDENT_OPT:
		return parse_ident(p, k, v);
	case T_PREFIXES:
		return parse_prefixes(p, k, v);
	}
	return fail(p, "expected a known key type, found %d", (int)k->type);
}

/* --- inih glue ------------------------------------------------------------ */

static int section_find(const char *s, size_t n)
{
	size_t dn = strlen(DEVICE_PREFIX);

	if (n >= dn && memcmp(s, DEVICE_PREFIX, dn) == 0)
		return S_DEVICE;
	for (int i = 0; i < S_DEVICE; i++)
		if (strlen(section_names[i]) == n && memcmp(section_names[i], s, n) == 0)
			return i;
	return -1;
}

static void section_list(char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < S_COUNT && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s[%s]",
				      i == 0 ? "" : i == S_COUNT - 1 ? " or " : ", ",
				      section_names[i]);
}

/* The index of device @name (@n bytes), or -1. */
static int device_find(const struct parse *p, const char *name, size_t n)
{
	for (size_t i = 0; i < p->cfg.n_devices; i++)
		if (strlen(p->cfg.device[i].name) == n && memcmp(p->cfg.device[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

static void device_defaults(struct dyper_device_conf *d)
{
	memset(d, 0, sizeof(*d));
	d->type = DYPER_DEVICE_IOS;
	d->port = 22;
	d->lag_ms = 2 * MS_PER_S;
}

/*
 * A [device NAME] header (@s, @n bytes, between the brackets): registered
 * here, as the header is read, so that a section without keys is still a
 * device (which then lacks its required keys).
 */
static void device_header(struct parse *p, const char *s, size_t n)
{
	const char *name = s + strlen(DEVICE_PREFIX);
	size_t len = n - strlen(DEVICE_PREFIX);
	bool ok = len > 0 && len < DYPER_DEVICE_NAME_LEN && (is_alpha(name[0]) || is_digit(name[0]));
	struct dyper_device_conf *d;
	int i;

	for (size_t j = 1; ok && j < len; j++)
		ok = is_alpha(name[j]) || is_digit(name[j]) || name[j] == '_' || name[j] == '.' ||
		     name[j] == '-';
	if (!ok) {
		fail(p, "expected [device NAME], NAME 1 to %d letters, digits, \".\", \"_\" or "
		     "\"-\" starting with a letter or digit, found %s", DYPER_DEVICE_NAME_LEN - 1,
		     qn(p, s - 1, n + 2));
		return;
	}
	i = device_find(p, name, len);
	if (i >= 0) {
		fail(p, "expected each device once, found %s again (first on line %u)",
		     qn(p, s - 1, n + 2), p->dev_line[i]);
		return;
	}
	if (p->cfg.n_devices == DYPER_MAX_DEVICES) {
		fail(p, "expected at most %d [device NAME] sections, found %s, one more",
		     DYPER_MAX_DEVICES, qn(p, s - 1, n + 2));
		return;
	}
	d = &p->cfg.device[p->cfg.n_devices];
	device_defaults(d);
	memcpy(d->name, name, len);
	p->dev_line[p->cfg.n_devices++] = p->lineno;
}

/* @k of device @i: its offsets moved into p->cfg.device[i]. */
static struct conf_key device_key(const struct conf_key *k, size_t i)
{
	struct conf_key dk = *k;
	size_t base = offsetof(struct dyper_config, device) + i * sizeof(struct dyper_device_conf);

	dk.off += base;
	if (k->type == T_PREFIXES)
		dk.size += base;	/* the offset of the count */
	return dk;
}

/*
 * inih ignores what follows "]" and never shows the handler a section
 * without keys; check header lines here, as inih finds the name: up to
 * "]" or an inline comment.
 */
static void check_section_line(struct parse *p, const char *line)
{
	const char *end = line + 1, *rest;
	bool was_space = false;
	char names[96];

	while (*end && *end != ']' && !(was_space && *end == ';')) {
		was_space = is_space(*end);
		end++;
	}
	if (*end != ']')
		return;		/* inih reports the missing "]" */
	rest = end + 1;
	while (is_space(*rest))
		rest++;
	if (*rest && *rest != ';') {
		fail(p, "expected nothing after \"]\" but a \";\" comment, found %s",
		     qn(p, rest, strcspn(rest, "\r")));
		return;
	}
	if (section_find(line + 1, (size_t)(end - line - 1)) == S_DEVICE) {
		device_header(p, line + 1, (size_t)(end - line - 1));
	} else if (section_find(line + 1, (size_t)(end - line - 1)) < 0) {
		section_list(names, sizeof(names));
		fail(p, "expected a section %s, found %s", names,
		     qn(p, line, (size_t)(end - line + 1)));
	}
}

/*
 * inih's reader: hands over one line at a time, so that p->lineno is the
 * line inih works on when it calls the handler.  Leading blanks are
 * dropped (inih would take an indented line for the continuation of the
 * previous value); a line too long for inih's buffer stops the parse
 * instead of being split; so does a NUL byte.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *line = p->text + p->pos, *nl;
	size_t len, skip = 0;
	int line_max = num - 3;		/* room for "\r\n\0", as inih's fgets would want */

	if (p->err_line || p->pos >= p->len)
		return NULL;
	if (num < 4) {
		fail(p, "expected inih with a line buffer, found one of %d bytes", num);
		return NULL;
	}
	nl = memchr(line, '\n', p->len - p->pos);
	len = nl ? (size_t)(nl - line) : p->len - p->pos;
	p->pos += len + (nl ? 1 : 0);
	p->lineno++;

	if (memchr(line, '\0', len)) {
		fail(p, "expected text, found a NUL byte");
		return NULL;
	}
	if (len > (size_t)line_max) {
		fail(p, "expected a line of at most %d characters, found %zu", line_max, len);
		return NULL;
	}
	if (p->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		skip = 3;	/* UTF-8 byte order mark */
	while (skip < len && is_space(line[skip]))
		skip++;
	memcpy(str, line + skip, len - skip);
	str[len - skip] = '\0';
	if (str[0] == '[')
		check_section_line(p, str);
	return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct conf_key k;
	unsigned *seen;
	char list[512];
	size_t o = 0;
	int sec, found = -1, ok, dev = -1;

	if (p->err_line)
		return 1;	/* only the first error is reported */
	if (!section[0])
		return fail(p, "expected a section header such as [daemon] before the "
			    "first key, found key %s", q(p, name));
	sec = section_find(section, strlen(section));
	if (sec == S_DEVICE)
		dev = device_find(p, section + strlen(DEVICE_PREFIX),
				  strlen(section) - strlen(DEVICE_PREFIX));
	/* the header line has failed already; this is a backstop */
	if (sec < 0 || (sec == S_DEVICE && dev < 0))
		return fail(p, "expected a known section before key %s", q(p, name));
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].sec == (enum section)sec && strcmp(keys[i].name, name) == 0)
			found = (int)i;
	if (found < 0) {
		list[0] = '\0';
		for (size_t i = 0; i < N_KEYS && o < sizeof(list); i++)
			if (keys[i].sec == (enum section)sec)
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
						      o ? ", " : "", keys[i].name);
		return fail(p, "expected a key of [%s] (%s), found %s", section, list,
			    q(p, name));
	}
	seen = dev >= 0 ? p->dev_seen[dev] : p->seen;
	if (seen[found])
		return fail(p, "expected each key once, found %s again (first on line %u)",
			    q(p, name), seen[found]);
	seen[found] = p->lineno;
	k = dev >= 0 ? device_key(&keys[found], (size_t)dev) : keys[found];
	p->key = keys[found].name;
	ok = parse_value(p, &k, value);
	p->key = NULL;
	return ok;
}

/* Index of one of this file's own key names. */
static size_t key_index(const char *name)
{
	size_t i = 0;

	while (i < N_KEYS - 1 && strcmp(keys[i].name, name) != 0)
		i++;
	return i;
}

static size_t key_index_in(enum section sec, const char *name);

/* Blames [site] key @name (its line, or the last line when it is absent). */
__attribute__((format(printf, 3, 4)))
static void fail_key(struct parse *p, const char *name, const char *fmt, ...)
{
	/* by section: "mark" and "burst" are keys of other sections too */
	size_t k = key_index_in(S_SITE, name);
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->seen[k])
		p->lineno = p->seen[k];
	p->key = keys[k].name;
	fail(p, "%s", msg);
	p->key = NULL;
}

/* Index of key @name of section @sec. */
static size_t key_index_in(enum section sec, const char *name)
{
	size_t i = 0;

	while (i < N_KEYS - 1 && !(keys[i].sec == sec && strcmp(keys[i].name, name) == 0))
		i++;
	return i;
}

/* Blames key @name of device @i: its line, or the device's header line. */
__attribute__((format(printf, 4, 5)))
static void fail_device(struct parse *p, size_t i, const char *name, const char *fmt, ...)
{
	size_t k = key_index_in(S_DEVICE, name);
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->lineno = p->dev_seen[i][k] ? p->dev_seen[i][k] : p->dev_line[i];
	p->key = keys[k].name;
	fail(p, "%s", msg);
	p->key = NULL;
}

/* What one [device NAME] needs, and its keys between them. */
static void check_device(struct parse *p, size_t i)
{
	struct dyper_device_conf *d = &p->cfg.device[i];
	bool junos = d->type == DYPER_DEVICE_JUNOS;
	uint32_t first = d->first_id ? d->first_id : DEVICE_FIRST_ID;
	uint32_t last = d->last_id ? d->last_id : DEVICE_LAST_ID;
	const char *dn = d->name;

	if (!p->dev_seen[i][key_index_in(S_DEVICE, "type")])
		fail_device(p, i, "type", "expected a type (ios, ftos, ironware or junos) in "
			    "[device %s], found none", dn);
	else if (!d->address[0])
		fail_device(p, i, "address", "expected the device's IPv4 or IPv6 address in "
			    "[device %s], found none", dn);
	else if (!d->user[0])
		fail_device(p, i, "user", "expected the device account's name in [device %s], "
			    "found none", dn);
	else if (!d->key[0] && !d->password_file[0])
		fail_device(p, i, "key", "expected key (preferred) or password_file in "
			    "[device %s], found none", dn);
	else if (d->key[0] && d->password_file[0])
		fail_device(p, i, "password_file", "expected key or password_file, not both, "
			    "found %s", q(p, d->password_file));
	else if (!d->known_hosts[0])
		fail_device(p, i, "known_hosts", "expected the device's pinned host key (a "
			    "known_hosts file) in [device %s], found none", dn);
	else if (!d->acl[0])
		fail_device(p, i, "acl", "expected the ACL or filter name in [device %s], "
			    "found none", dn);
	else if (!junos && d->final_term[0])
		fail_device(p, i, "final_term", "expected final_term only with type = junos, "
			    "found %s", q(p, d->final_term));
	else if (!junos && d->confirm_minutes)
		fail_device(p, i, "confirm_minutes", "expected confirm_minutes only with "
			    "type = junos, found %u", d->confirm_minutes);
	else if (first > last)
		fail_device(p, i, d->first_id ? "first_id" : "last_id", "expected first_id (%u) "
			    "<= last_id (%u), found %u", first, last, d->first_id ? first : last);
	else if (last - first >= DEVICE_IDS_MAX)
		fail_device(p, i, "last_id", "expected at most %u identities (first_id %u), "
			    "found %u", DEVICE_IDS_MAX, first, last);
	else if (d->save_interval_ms % MS_PER_S)
		fail_device(p, i, "save_interval", "expected whole seconds, found %ums",
			    d->save_interval_ms);
	if (p->err_line)
		return;
	/* the defaults, spelled out: what the driver will use, and what -t shows */
	if (!d->acl6[0])
		memcpy(d->acl6, d->acl, sizeof(d->acl6));
	if (junos && !d->final_term[0])
		snprintf(d->final_term, sizeof(d->final_term), "deny");
}

/* Devices are the site controller's; a site drives a router, devices or both. */
static void check_devices(struct parse *p)
{
	const struct dyper_config *c = &p->cfg;

	if (c->n_devices && !c->site.enable) {
		p->lineno = p->dev_line[0];
		fail(p, "expected [device NAME] sections only with [site] enable = yes (the site "
		     "controller drives the devices), found [device %s] without it",
		     c->device[0].name);
		return;
	}
	if (c->site.enable && c->site.router == DYPER_SITE_ROUTER_NO && !c->n_devices) {
		fail_key(p, "router", "expected [device NAME] sections with router = no (the site "
			 "would enforce nothing), found none");
		return;
	}
	for (size_t i = 0; i < c->n_devices && !p->err_line; i++)
		check_device(p, i);
}

/* A site controller needs what its router table cannot do without. */
static void check_site(struct parse *p)
{
	const struct dyper_site_conf *s = &p->cfg.site;
	bool router = dyper_config_site_router(&p->cfg);

	if (!s->enable)
		return;
	if (router && s->n_inside == 0)
		fail_key(p, "inside", "expected the router's inside interfaces (at least one) "
			 "with enable = yes, found none");
	else if (router && s->mode == DYPER_SITE_MARK && s->mark == 0)
		fail_key(p, "mark", "expected a mark other than 0 with mode = mark, found none");
	else if (strcmp(s->socket, p->cfg.control_socket) == 0)
		fail_key(p, "socket", "expected a path other than control_socket's, found %s",
			 q(p, s->socket));
	else if (s->burst < s->rate)
		fail_key(p, "burst", "expected a burst of at least rate (%u), found %u",
			 s->rate, s->burst);
}

/* Checks between keys, once every key is known. */
static void check_config(struct parse *p)
{
	size_t a = key_index("agent_socket"), c = key_index("control_socket");
	size_t l = key_index("lease");

	if (strcmp(p->cfg.agent_socket, p->cfg.control_socket) == 0) {
		/* Blame the later of the two lines. */
		bool ctl_later = p->seen[c] >= p->seen[a];

		p->lineno = ctl_later ? p->seen[c] : p->seen[a];
		p->key = keys[ctl_later ? c : a].name;
		fail(p, "expected a path other than %s's, found %s for both",
		     ctl_later ? "agent_socket" : "control_socket",
		     q(p, p->cfg.agent_socket));
		p->key = NULL;
	}
	if (!p->err_line && p->cfg.remote.lease_ms % MS_PER_S) {
		char v[32];

		format_duration(p->cfg.remote.lease_ms, v, sizeof(v));
		p->lineno = p->seen[l];
		p->key = keys[l].name;
		fail(p, "expected whole seconds (the site counts leases in seconds), found %s",
		     q(p, v));
		p->key = NULL;
	}
	/* a site controller forwards to nobody: it is the far end */
	if (!p->err_line && p->cfg.site.enable && p->cfg.remote.host[0]) {
		size_t h = key_index("host");

		p->lineno = p->seen[h];
		p->key = keys[h].name;
		fail(p, "expected no site to forward to when [site] enable = yes (site mode is "
		     "the far end of border mode), found %s", q(p, p->cfg.remote.host));
		p->key = NULL;
	}
	if (!p->err_line)
		check_devices(p);
	if (!p->err_line)
		check_site(p);
}

/* Line @n of the text, without its leading and trailing blanks. */
static const char *line_at(const struct parse *p, unsigned n, size_t *len)
{
	const char *s = p->text, *end = p->text + p->len, *nl;

	for (unsigned i = 1; i < n && s < end; i++) {
		nl = memchr(s, '\n', (size_t)(end - s));
		s = nl ? nl + 1 : end;
	}
	nl = memchr(s, '\n', (size_t)(end - s));
	*len = nl ? (size_t)(nl - s) : (size_t)(end - s);
	if (n == 1 && *len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		*len -= 3;
	}
	while (*len && is_space(*s)) {
		s++;
		(*len)--;
	}
	while (*len && is_space(s[*len - 1]))
		(*len)--;
	return s;
}

static int parse_text(struct dyper_config *c, const char *text, size_t len,
		      const char *name, char *err, size_t errlen)
{
	struct parse *p;
	const char *line;
	size_t n;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p) {
		set_error(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	dyper_config_defaults(&p->cfg);
	p->text = text;
	p->len = len;

	ret = ini_parse_stream(read_line, p, on_key, p);
	if (ret == -2) {
		set_error(err, errlen, "%s: out of memory", name);
		ret = -ENOMEM;
		goto out;
	}
	if (ret > 0 && (!p->err_line || (unsigned)ret < p->err_line)) {
		/* A line inih could not split into a section or a key. */
		p->err_line = 0;
		p->lineno = (unsigned)ret;
		line = line_at(p, p->lineno, &n);
		if (line[0] == '[')
			fail(p, "expected a section header like [daemon], found %s",
			     qn(p, line, n));
		else
			fail(p, "expected \"key = value\", a [section] or a comment, "
			     "found %s", qn(p, line, n));
	}
	if (!p->err_line)
		check_config(p);
	if (p->err_line) {
		set_error(err, errlen, "%s:%u: %s", name, p->err_line, p->msg);
		ret = -EINVAL;
		goto out;
	}
	dyper_config_copy(c, &p->cfg);
	ret = 0;
out:
	free(p);
	return ret;
}

/* --- public --------------------------------------------------------------- */

void dyper_config_defaults(struct dyper_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->user, "dyper");
	strcpy(c->group, "dyper");
	strcpy(c->agent_socket, "/run/dyper/agent.sock");
	strcpy(c->control_socket, "/run/dyper/control.sock");
	strcpy(c->policy, "/etc/dyper/policy");
	c->on_exit = DYPER_ON_EXIT_KEEP;
	c->log_level = LOG_INFO;

	/* nft/'s own defaults (nft_enforcer_config_init; test_config checks) */
	strcpy(c->enforcer_table, DYPER_CONFIG_TABLE_DEFAULT);
	c->enforcer.priority = 0;
	c->enforcer.allow_ping = false;
	c->enforcer.counters = true;
	c->enforcer.max_pinholes = DYPER_CONFIG_MAX_PINHOLES;
	c->enforcer.log_rate = 5;
	c->enforcer.owner = DYPER_OWNER_AUTO;
	c->enforcer.mark = 0;
	c->reconcile_ms = 10 * MS_PER_S;
	c->tamper_check_ms = 250;

	c->capacity = 65536;
	c->max_per_user = 1024;
	c->queue_max = 4096;
	c->queue_timeout_ms = 5 * MS_PER_S;
	c->rate = 1000;
	c->burst = 2000;
	c->batch_max = 10000;
	c->default_lifetime_ms = 0;
	c->max_channels = 4096;
	c->max_channels_per_user = 256;

	c->remote.host[0] = '\0';
	c->remote.port = 22;
	strcpy(c->remote.user, "dyper");
	strcpy(c->remote.key, "/etc/dyper/remote_key");
	strcpy(c->remote.known_hosts, "/etc/dyper/remote_known_hosts");
	c->remote.connect_timeout_ms = 10 * MS_PER_S;
	c->remote.request_timeout_ms = 5 * MS_PER_S;
	c->remote.keepalive_ms = 15 * MS_PER_S;
	c->remote.lease_ms = 5 * MS_PER_M;
	c->remote.on_unreachable = DYPER_UNREACHABLE_FAIL;
	c->site.enable = false;
	strcpy(c->site.name, "site");
	strcpy(c->site.socket, "/run/dyper/site.sock");
	strcpy(c->site.account, "dyper-site");
	strcpy(c->site.policy, "/etc/dyper/site-policy");
	c->site.max_per_delegate = 4096;
	c->site.max_lease_ms = 10 * MS_PER_M;
	c->site.batch = 200;
	c->site.audit_ms = MS_PER_M;
	c->site.max_connections = 256;
	c->site.rate = 10000;
	c->site.burst = 20000;
	strcpy(c->site.table, "dyper_site");
	c->site.priority = 0;
	c->site.mode = DYPER_SITE_POLICY;
	c->site.mark = 0;
}

bool dyper_config_site_router(const struct dyper_config *c)
{
	switch (c->site.router) {
	case DYPER_SITE_ROUTER_YES:
		return true;
	case DYPER_SITE_ROUTER_NO:
		return false;
	case DYPER_SITE_ROUTER_AUTO:
		break;
	}
	return c->n_devices == 0;
}

void dyper_config_copy(struct dyper_config *dst, const struct dyper_config *src)
{
	if (dst == src)
		return;
	memcpy(dst, src, sizeof(*dst));
}

int dyper_config_parse(struct dyper_config *c, const char *text, const char *name,
		       char *err, size_t errlen)
{
	if (!name)
		name = "<string>";
	if (!text) {
		set_error(err, errlen, "%s: no text", name);
		return -EINVAL;
	}
	return parse_text(c, text, strlen(text), name, err, errlen);
}

int dyper_config_load(struct dyper_config *c, const char *path, bool missing_ok,
		      char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	ssize_t r;
	int fd, ret;

	/* O_NONBLOCK: a FIFO put in the file's place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT && missing_ok) {
			dyper_config_defaults(c);
			return 0;
		}
		set_error(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		set_error(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_error(err, errlen, "%s: expected a regular file, found file type 0%o",
			  path, (unsigned)(st.st_mode & S_IFMT));
		ret = -EINVAL;
		goto out;
	}
	/* This file decides what the firewall lets in. */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		set_error(err, errlen, "%s: expected a file only its owner can write, found "
			  "mode 0%03o (chmod go-w %s)", path, (unsigned)(st.st_mode & 07777),
			  path);
		ret = -EPERM;
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		set_error(err, errlen, "%s: expected a file owned by root or uid %u, found "
			  "uid %u", path, (unsigned)geteuid(), (unsigned)st.st_uid);
		ret = -EPERM;
		goto out;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		set_error(err, errlen, "%s: expected at most %d bytes, found %jd", path,
			  CONFIG_FILE_MAX, (intmax_t)st.st_size);
		ret = -EFBIG;
		goto out;
	}
	/* Read to EOF rather than st_size: the file may change under us. */
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		set_error(err, errlen, "%s: out of memory", path);
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		r = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			set_error(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CONFIG_FILE_MAX) {
			set_error(err, errlen, "%s: expected at most %d bytes, found more",
				  path, CONFIG_FILE_MAX);
			ret = -EFBIG;
			goto out;
		}
	}
	ret = parse_text(c, buf, len, path, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

/* --- writer --------------------------------------------------------------- */

static void format_value(const struct dyper_config *c, const struct conf_key *k,
			 char *buf, size_t len)
{
	const void *f = cfield(c, k);
	const char *name;
	size_t o = 0;

	switch (k->type) {
	case T_NAME:
	case T_SOCKET:
	case T_PATH:
	case T_PATH_OPT:
	case T_TABLE:
	case T_ADDR_OPT:
	case T_SITE_NAME:
	case T_ACCOUNT:
		snprintf(buf, len, "%.*s", (int)k->size, (const char *)f);
		break;
	case T_IDENT:
	case T_IDENT_OPT:
		snprintf(buf, len, "%.*s", (int)k->size, (const char *)f);
		break;
	case T_SITE_MODE:
	case T_ROUTER:
	case T_DEVICE_TYPE:
		name = word_name(k->type == T_SITE_MODE ? site_mode_words :
				 k->type == T_ROUTER ? router_words : device_type_words,
				 *(const int *)f);
		snprintf(buf, len, "%s", name ? name : "?");
		break;
	case T_PREFIXES: {
		const struct dyper_prefix *px = f;
		size_t n = *(const size_t *)((const char *)c + k->size);
		char a[INET6_ADDRSTRLEN];

		buf[0] = '\0';
		for (size_t i = 0; i < n && i < DYPER_DEVICE_MAX_GUARDS && o < len; i++) {
			if (!inet_ntop(px[i].family, px[i].addr, a, sizeof(a)))
				snprintf(a, sizeof(a), "?");
			o += (size_t)snprintf(buf + o, len - o, "%s%s/%u", i ? " " : "", a,
					      (unsigned)px[i].len);
		}
		break;
	}
	case T_IFNAMES: {
		const char (*names)[DYPER_IFNAME_LEN] = f;
		size_t n = *(const size_t *)((const char *)c + k->size);

		buf[0] = '\0';
		for (size_t i = 0; i < n && i < DYPER_SITE_MAX_INSIDE && o < len; i++)
			o += (size_t)snprintf(buf + o, len - o, "%s%.*s", i ? "," : "",
					      DYPER_IFNAME_LEN, names[i]);
		break;
	}
	case T_OPEN_PORTS: {
		const struct dyper_open_port *op = f;
		size_t n = *(const size_t *)((const char *)c + k->size);
		char a[INET6_ADDRSTRLEN];

		buf[0] = '\0';
		for (size_t i = 0; i < n && i < DYPER_SITE_MAX_OPEN && o < len; i++) {
			if (!inet_ntop(op[i].family, op[i].addr, a, sizeof(a)))
				snprintf(a, sizeof(a), "?");
			o += (size_t)snprintf(buf + o, len - o, "%s%s/%s/%u", i ? "," : "",
					      op[i].proto == IPPROTO_UDP ? "udp" : "tcp", a,
					      (unsigned)op[i].port);
		}
		break;
	}
	case T_ON_EXIT:
	case T_LOG_LEVEL:
	case T_UNREACHABLE:
		name = word_name(k->type == T_ON_EXIT ? on_exit_words :
				 k->type == T_LOG_LEVEL ? log_level_words : unreachable_words,
				 *(const int *)f);
		/* An out-of-range value shows as a number, which will not parse back. */
		if (name)
			snprintf(buf, len, "%s", name);
		else
			snprintf(buf, len, "%d", *(const int *)f);
		break;
	case T_OWNER:
		switch (*(const enum dyper_owner_mode *)f) {
		case DYPER_OWNER_AUTO:
			snprintf(buf, len, "auto");
			break;
		case DYPER_OWNER_ON:
			snprintf(buf, len, "yes");
			break;
		case DYPER_OWNER_OFF:
			snprintf(buf, len, "no");
			break;
		default:
			snprintf(buf, len, "%d", *(const int *)f);
		}
		break;
	case T_BOOL:
		snprintf(buf, len, "%s", *(const bool *)f ? "yes" : "no");
		break;
	case T_INT32:
		snprintf(buf, len, "%" PRId32, *(const int32_t *)f);
		break;
	case T_UINT32:
		snprintf(buf, len, "%" PRIu32, *(const uint32_t *)f);
		break;
	case T_MARK:
		snprintf(buf, len, "%#" PRIx32, *(const uint32_t *)f);
		break;
	case T_DURATION:
	case T_DURATION_OPT:
		format_duration(*(const uint32_t *)f, buf, len);
		break;
	case T_PORTS: {
		const uint16_t *ports = f;
		size_t n = *(const size_t *)((const char *)c + k->size);

		buf[0] = '\0';
		for (size_t i = 0; i < n && i < DYPER_CONFIG_MAX_PORTS && o < len; i++)
			o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? "," : "",
					      (unsigned)ports[i]);
		break;
	}
	}
}

static void write_key(const struct dyper_config *c, const struct conf_key *k, FILE *f)
{
	char value[DYPER_CONFIG_PATH_LEN + 64];

	format_value(c, k, value, sizeof(value));
	/* Any value that parsed fits one line, written tightly. */
	if (strlen(k->name) + 3 + strlen(value) > CONFIG_LINE_MAX)
		fprintf(f, "%s=%s\n", k->name, value);
	else
		fprintf(f, "%s =%s%s\n", k->name, value[0] ? " " : "", value);
}

int dyper_config_write(const struct dyper_config *c, FILE *f)
{
	int sec = -1;

	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].sec == S_DEVICE)
			continue;
		if ((int)keys[i].sec != sec) {
			sec = (int)keys[i].sec;
			fprintf(f, "%s[%s]\n", i ? "\n" : "", section_names[sec]);
		}
		write_key(c, &keys[i], f);
	}
	for (size_t d = 0; d < c->n_devices && d < DYPER_MAX_DEVICES; d++) {
		fprintf(f, "\n[%s%.*s]\n", DEVICE_PREFIX, DYPER_DEVICE_NAME_LEN, c->device[d].name);
		for (size_t i = 0; i < N_KEYS; i++) {
			struct conf_key k;

			if (keys[i].sec != S_DEVICE)
				continue;
			k = device_key(&keys[i], d);
			write_key(c, &k, f);
		}
	}
	return fflush(f) || ferror(f) ? -EIO : 0;
}
