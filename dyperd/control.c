// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyperctl's socket: AF_UNIX SOCK_STREAM, mode 0600, root only (checked
 * again with SO_PEERCRED).  One command line in, the answer out, then the
 * connection closes.  The answer's first line is "OK" or "ERR"; the rest
 * is text or, with -j, JSON.  dyperctl only prints it.  A connection
 * that has not sent a complete command line CONTROL_TIMEOUT_MS after it
 * connected is answered with an error and closed: an idle client must not
 * hold a descriptor of dyperd's for good.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <inttypes.h>
#include <stdarg.h>
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
#include "dyperd/site.h"
#include "remote/forward.h"

#define OUT_MAX (256u * 1024 * 1024)	/* a list of a few million pinholes */
#define CHECK_MAX_GROUPS 256
#define CONTROL_TIMEOUT_MS 5000	/* to send a complete command line */
#define MAX_ARGS 32
#define MAX_CONTROL_CONNS 16	/* dyperctl asks one thing at a time */
#define MAX_WATCHERS 8		/* of those, streaming events: room stays for commands */

int control_listen(struct dyperd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg.control_socket;
	struct stat st;
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket: remove it or change control_socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16) ? -errno : 0;
	umask(old);
	if (err) {
		log_err("cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	d->control_lfd = fd;
	return 0;
}

static void conn_free(struct dyperd *d, struct control_conn *c)
{
	struct control_conn **p;

	for (p = &d->controls; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	engine_forget_arg(d, c);
	if (c->watch)
		event_watch_del(d, c->watch);
	free(c->packets);
	free(c->bytes);
	free(c->out);
	free(c);
	d->n_controls--;
}

void control_accept(struct dyperd *d)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct control_conn *c;
		struct ucred cr;
		socklen_t len = sizeof(cr);
		int fd = accept4(d->control_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				listener_backoff(d, d->control_lfd, &d->control_tag,
						 &d->control_rearm_ms, errno, "control");
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || cr.uid != 0) {
			log_limited(LOG_WARNING, "refused control connections",
				    "control connection from uid %u refused: root only", cr.uid);
			close(fd);
			continue;
		}
		if (d->n_controls >= MAX_CONTROL_CONNS) {
			log_limited(LOG_WARNING, "refused control connections",
				    "control connection refused: %u already open", d->n_controls);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->tag.kind = EV_CONTROL;
		c->fd = fd;
		c->deadline_ms = now_ms() + CONTROL_TIMEOUT_MS;
		ev.data.ptr = c;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = d->controls;
		d->controls = c;
		d->n_controls++;
	}
}

/* --- output ------------------------------------------------------------------ */

struct out {
	char *s;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->s ? o->s + o->len : NULL, o->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0 || o->oom)
			return;
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap : 4096;

		while (cap < o->len + (size_t)n + 1)
			cap *= 2;
		char *p = cap > OUT_MAX ? NULL : realloc(o->s, cap);

		if (!p) {
			o->oom = true;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
}

/* A JSON string literal of @s (no control characters in what we print,
 * but program names come from users). */
static void put_json_str(struct out *o, const char *s)
{
	char esc[8192];

	json_escape(esc, sizeof(esc), s);
	put(o, "\"%s\"", esc);
}

/* A JSON number, or null where there is none. */
static void put_num(struct out *o, bool has, long long v)
{
	if (has)
		put(o, "%lld", v);
	else
		put(o, "null");
}

static const char *state_name(uint8_t s)
{
	return s == PH_PENDING ? "opening" : s == PH_CLOSING ? "closing" : "open";
}

/* --- list and show -------------------------------------------------------------- */

/* The site forwarder in border mode, else NULL. */
static const struct enforcer *forwarder_of(const struct dyperd *d)
{
	for (unsigned i = 0; i < d->n_slots; i++)
		if (remote_forward_is(d->slots[i].e))
			return d->slots[i].e;
	return NULL;
}

/* " site: STATE[ (REASON)]" for a pinhole, in border mode ("" else). */
static void put_site_state(struct out *o, const struct dyperd *d, const struct ph_entry *e,
			   bool json)
{
	const struct enforcer *site = forwarder_of(d);
	char why[REMOTE_BOOK_REASON_LEN];
	enum remote_site_state st;

	if (!site)
		return;
	st = remote_forward_state(site, &e->ph, why, sizeof(why));
	if (json) {
		put(o, ",\"site\":\"%s\",\"site_reason\":", remote_site_state_name(st));
		if (why[0])
			put_json_str(o, why);
		else
			put(o, "null");	/* JSON: no stand-in values (dyperctl(8)) */
		return;
	}
	put(o, " site: %s%s%s%s", remote_site_state_name(st), why[0] ? " (" : "", why,
	    why[0] ? ")" : "");
}

static void counters_cb(struct dyperd *d, const struct pinhole_entry *pe, void *arg)
{
	struct control_conn *c = arg;
	int idx = table_find(&d->table, &pe->ph);

	if (idx >= 0 && (uint32_t)idx < c->n_counters) {
		c->packets[idx] = pe->packets;
		c->bytes[idx] = pe->bytes;
	}
}

static void put_entry(struct out *o, struct dyperd *d, const struct ph_entry *e,
		      uint64_t packets, uint64_t bytes, bool json, bool first)
{
	char r[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN], rs[64], ls[64], exp[32];
	uint64_t now = now_ms();
	time_t wall = time(NULL);
	uint64_t age = (uint64_t)wall > e->ph.owner.created ? (uint64_t)wall - e->ph.owner.created : 0;
	long long left = e->expires_ms ? (long long)(e->expires_ms - now) / 1000 : -1;
	const char *proto = e->ph.proto == IPPROTO_TCP ? "tcp" : "udp";

	inet_ntop(e->ph.family, e->ph.remote.raw, r, sizeof(r));
	inet_ntop(e->ph.family, e->ph.local.raw, l, sizeof(l));
	if (json) {
		/* null, not a sentinel: any remote port, no lifetime, no rule (adopted) */
		put(o, "%s{\"schema\":1,\"id\":%u,\"state\":\"%s\",\"proto\":\"%s\","
		    "\"remote\":\"%s\",\"remote_port\":", first ? "" : ",", e->id,
		    state_name(e->state), proto, r);
		put_num(o, e->ph.remote_port != 0, e->ph.remote_port);
		put(o, ",\"local\":\"%s\",\"local_port\":%u,\"uid\":%" PRIu32 ",\"pid\":%" PRIu32
		    ",\"program\":", l, e->ph.local_port, e->ph.owner.uid, e->ph.owner.pid);
		put_json_str(o, e->ph.owner.program);
		put(o, ",\"socket_inode\":%" PRIu64 ",\"age_s\":%" PRIu64 ",\"expires_s\":",
		    e->ph.owner.sock_ino, age);
		put_num(o, left >= 0, left);
		put(o, ",\"rule_line\":");
		put_num(o, e->rule_line != 0, e->rule_line);
		put(o, ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64, packets, bytes);
		put_site_state(o, d, e, true);
		put(o, "}");
		return;
	}
	snprintf(rs, sizeof(rs), e->ph.family == AF_INET6 ? "[%s]:%s" : "%s:%s", r,
		 e->ph.remote_port ? "" : "*");
	if (e->ph.remote_port)
		snprintf(rs + strlen(rs), sizeof(rs) - strlen(rs), "%u", e->ph.remote_port);
	snprintf(ls, sizeof(ls), e->ph.family == AF_INET6 ? "[%s]:%u" : "%s:%u", l,
		 e->ph.local_port);
	if (left >= 0)
		snprintf(exp, sizeof(exp), "%llds", left);
	else
		snprintf(exp, sizeof(exp), "-");
	put(o, "%-6u %-5s %-28s %-28s %-6" PRIu32 " %-7" PRIu32 " %-15s %6" PRIu64 "s %8s %9" PRIu64
	    " %11" PRIu64 "%s", e->id, proto, rs, ls, e->ph.owner.uid, e->ph.owner.pid,
	    e->ph.owner.program[0] ? e->ph.owner.program : "-", age, exp, packets, bytes,
	    e->state == PH_OPEN ? "" : e->state == PH_CLOSING ? " (closing)" : " (opening)");
	put_site_state(o, d, e, false);
	put(o, "\n");
}

/* The answer to list or show, once the counters came back (or not). */
static int cmd_list(struct dyperd *d, struct out *o, struct control_conn *c)
{
	bool first = true, json = c->json;

	if (c->show) {
		int idx = table_find_id(&d->table, c->only_id);

		if (idx < 0)
			return -ENOENT;
		put_entry(o, d, &d->table.v[idx], (uint32_t)idx < c->n_counters ? c->packets[idx] : 0,
			  (uint32_t)idx < c->n_counters ? c->bytes[idx] : 0, json, true);
		if (json)
			put(o, "\n");
		return 0;
	}
	if (json)
		put(o, "[");
	else
		put(o, "%-6s %-5s %-28s %-28s %-6s %-7s %-15s %7s %8s %9s %11s\n", "ID", "PROTO",
		    "REMOTE", "LOCAL", "UID", "PID", "PROGRAM", "AGE", "EXPIRES", "PACKETS", "BYTES");
	for (uint32_t i = 0; i < d->table.cap; i++) {
		if (!d->table.v[i].used)
			continue;
		put_entry(o, d, &d->table.v[i], i < c->n_counters ? c->packets[i] : 0,
			  i < c->n_counters ? c->bytes[i] : 0, json, first);
		first = false;
	}
	if (json)
		put(o, "]\n");
	else
		put(o, "%u pinhole%s\n", d->table.count, d->table.count == 1 ? "" : "s");
	return 0;
}

/* --- stats ---------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void cmd_stats(struct dyperd *d, struct out *o, bool json)
{
	const struct stats *st = &d->st;
	uint32_t n = st->lat_n < LAT_RING ? st->lat_n : LAT_RING, lat[LAT_RING];
	uint32_t p50 = 0, p99 = 0;
	double mean = st->batches ? (double)st->batch_ops / (double)st->batches : 0;
	const struct enforcer *site = forwarder_of(d);
	char site_status[REMOTE_FORWARD_STATUS_LEN] = "";

	if (site)
		remote_forward_status(site, site_status, sizeof(site_status));
	memcpy(lat, st->lat_us, n * sizeof(*lat));
	qsort(lat, n, sizeof(*lat), cmp_u32);
	if (n) {
		p50 = lat[(n - 1) / 2];
		p99 = lat[(size_t)((n - 1) * 0.99)];
	}
#define STATS_FIELDS(X) \
	X("pinholes", (uint64_t)d->table.count) X("capacity", (uint64_t)d->cfg.capacity) \
	X("waiting", (uint64_t)d->n_waiting) X("requests", st->requests) \
	X("opened", st->opens) X("closed", st->closes) X("denied", st->denials) \
	X("refused", st->refusals) X("errors", st->errors) X("stale", st->stale) \
	X("expired", st->expired) X("repairs", st->repairs) X("queued", st->queued) \
	X("queue_timeouts", st->queue_timeouts) X("rate_limited", st->rate_limited) \
	X("channels", (uint64_t)d->n_channels) X("channels_refused", st->channels_refused) \
	X("fds_lost", st->fds_lost) \
	X("batches", st->batches) X("batch_max", st->batch_max) \
	X("latency_p50_us", (uint64_t)p50) X("latency_p99_us", (uint64_t)p99)
	if (json) {
		put(o, "{\"schema\":1");
#define J(name, v) put(o, ",\"%s\":%" PRIu64, name, (uint64_t)(v));
		STATS_FIELDS(J)
		put(o, ",\"batch_mean\":%.2f,\"table_owned\":%s", mean,
		    engine_exclusive(d) ? "true" : "false");
		if (site) {
			put(o, ",\"site\":");
			put_json_str(o, site_status);
		}
		put(o, "}\n");
	} else {
#define T(name, v) put(o, "%-16s %" PRIu64 "\n", name, (uint64_t)(v));
		STATS_FIELDS(T)
		put(o, "%-16s %.2f\n%-16s %s\n", "batch_mean", mean, "table_owned",
		    engine_exclusive(d) ? "yes" : "no");
		if (site)
			put(o, "%-16s %s\n", "site", site_status);
	}
}

/* --- arguments ----------------------------------------------------------------------- */

/* parse_u32(), or an error that quotes the token: "CMD: expected WHAT
 * (MIN to MAX), found "TOKEN"". */
static int arg_u32(struct out *o, const char *cmd, const char *what, const char *s,
		   uint32_t min, uint32_t max, uint32_t *out)
{
	char q[256];
	int err = parse_u32(s, max, out);

	if (!err && *out >= min)
		return 0;
	json_escape(q, sizeof(q), s);
	put(o, "%s: expected %s (%" PRIu32 " to %" PRIu32 "), found \"%s\"\n", cmd, what, min, max,
	    q);
	return -EINVAL;
}

/* --- check ------------------------------------------------------------------------- */

static int parse_addr(const char *s, uint8_t *family, uint8_t *out)
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int parse_port(struct out *o, const char *s, uint16_t *port, bool star)
{
	uint32_t v;

	if (star && !strcmp(s, "*")) {
		*port = 0;
		return 0;
	}
	if (arg_u32(o, "check", star ? "a port or *" : "a port", s, 1, 65535, &v))
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* check UID tcp|udp REMOTE RPORT|* LOCAL LPORT [program=PATH] [delegate=GID] */
static int cmd_check(struct dyperd *d, struct out *o, bool json, char **argv, int argc)
{
	struct policy_request r = { .delegate_gid = 0 };
	uint32_t groups[CHECK_MAX_GROUPS];
	struct policy_decision dec;
	uint8_t fam2;
	uint32_t gid;
	char rule[1024] = "";

	if (argc < 6) {
		put(o, "usage: check UID tcp|udp REMOTE RPORT|* LOCAL LPORT [program=PATH] [delegate=GID]\n"
		    "(the delegate defaults to the configured group; the user's groups come from the\n"
		    "user database)\n");
		return -EINVAL;
	}
	/* (uid_t)-1 is no user: chown(2)'s "unchanged" */
	if (arg_u32(o, "check", "a numeric UID", argv[0], 0, UINT32_MAX - 1, &r.uid))
		return -EINVAL;
	if (!strcmp(argv[1], "tcp"))
		r.proto = IPPROTO_TCP;
	else if (!strcmp(argv[1], "udp"))
		r.proto = IPPROTO_UDP;
	else {
		put(o, "check: expected tcp or udp, found \"%s\"\n", argv[1]);
		return -EINVAL;
	}
	if (parse_addr(argv[2], &r.family, r.remote) || parse_addr(argv[4], &fam2, r.local) ||
	    fam2 != r.family) {
		put(o, "check: expected two addresses of one family, found \"%s\" and \"%s\"\n",
		    argv[2], argv[4]);
		return -EINVAL;
	}
	if (parse_port(o, argv[3], &r.remote_port, true) ||
	    parse_port(o, argv[5], &r.local_port, false))
		return -EINVAL;
	/* as an agent of this user, started through the wrapper, would ask */
	{
		struct group *gr = getgrnam(d->cfg.group);

		gid = gr ? gr->gr_gid : 0;
	}
	for (int i = 6; i < argc; i++) {
		if (!strncmp(argv[i], "program=", 8)) {
			r.program = argv[i] + 8;
		} else if (!strncmp(argv[i], "delegate=", 9)) {
			if (arg_u32(o, "check", "delegate=GID, a numeric gid", argv[i] + 9, 0,
				    UINT32_MAX - 1, &gid))
				return -EINVAL;
		} else {
			put(o, "check: unknown option \"%s\"\n", argv[i]);
			return -EINVAL;
		}
	}
	r.delegate_gid = gid;
	/* the user's groups from the user database, for @group rules */
	{
		struct passwd *pw = getpwuid(r.uid);
		int ng = CHECK_MAX_GROUPS;

		if (pw && getgrouplist(pw->pw_name, pw->pw_gid, (gid_t *)groups, &ng) >= 0)
			r.n_gids = (size_t)ng;
		else
			groups[r.n_gids++] = pw ? pw->pw_gid : r.uid;
		r.gids = groups;
	}
	{
		time_t t = time(NULL);
		struct tm tm;

		localtime_r(&t, &tm);
		r.minute_of_day = tm.tm_hour * 60 + tm.tm_min;
	}
	policy_check(d->policy, &r, &dec);
	if (dec.line)
		policy_rule_text(d->policy, dec.line, rule, sizeof(rule));
	if (json) {
		put(o, "{\"schema\":1,\"allowed\":%s,\"line\":%u,\"max\":%u,\"lifetime_ms\":%u,\"why\":",
		    dec.allowed ? "true" : "false", dec.line, dec.max, dec.lifetime_ms);
		put_json_str(o, dec.why);
		put(o, ",\"rule\":");
		put_json_str(o, rule);
		put(o, "}\n");
	} else {
		put(o, "%s: %s\n", dec.allowed ? "allowed" : "denied", dec.why);
		if (dec.line)
			put(o, "rule %u: %s\n", dec.line, rule);
	}
	return 0;
}

/* --- dispatch -------------------------------------------------------------------------- */

/* With -j, an error whose text is not JSON yet becomes
 * {"schema":1,"error":TEXT}: tools parse every answer. */
static void error_json(struct control_conn *c, struct out *o, int err)
{
	struct out j = { 0 };

	if (!err || !c->json || o->oom || (o->len && o->s[0] == '{'))
		return;
	while (o->len && o->s[o->len - 1] == '\n')
		o->s[--o->len] = '\0';
	put(&j, "{\"schema\":1,\"error\":");
	put_json_str(&j, o->len ? o->s : "failed");
	put(&j, "}\n");
	free(o->s);
	*o = j;
}

/* Makes "OK" or "ERR" and @o's text the answer of @c; frees @o's text. */
static void answer(struct control_conn *c, struct out *o, int err)
{
	const char *head;
	size_t hlen, blen;
	char *all;

	error_json(c, o, err);
	head = o->oom ? "ERR\nout of memory\n" : err ? "ERR\n" : "OK\n";
	hlen = strlen(head);
	blen = o->oom ? 0 : o->len;
	all = malloc(hlen + blen + 1);

	if (all) {
		memcpy(all, head, hlen);
		if (blen)
			memcpy(all + hlen, o->s, blen);
	}
	free(o->s);
	o->s = NULL;
	c->out = all;
	c->out_len = all ? hlen + blen : 0;
	c->out_off = 0;
}

static void flush_out(struct dyperd *d, struct control_conn *c);

static void put_closed(struct out *o, bool json, int err, const char *msg)
{
	if (json) {
		put(o, "{\"schema\":1,\"closed\":%s,\"message\":", err ? "false" : "true");
		put_json_str(o, msg);
		put(o, "}\n");
	} else {
		put(o, "%s\n", msg);
	}
}

/* The enforcer answered a command of @c's: answer dyperctl (@c may be freed). */
static void finish_later(struct dyperd *d, struct control_conn *c, struct out *o, int err)
{
	c->busy = false;
	answer(c, o, err);
	if (!c->out) {
		conn_free(d, c);
		return;
	}
	flush_out(d, c);
}

static void close_done(struct dyperd *d, int err, const char *msg, void *arg)
{
	struct out o = { 0 };
	struct control_conn *c = arg;

	put_closed(&o, c->json, err, msg);
	finish_later(d, c, &o, err);
}

static void list_done(struct dyperd *d, int err, const char *msg, void *arg)
{
	struct out o = { 0 };
	struct control_conn *c = arg;

	if (err)
		log_warn("list: no counters: %s", msg);
	err = cmd_list(d, &o, c);
	if (err == -ENOENT)
		put(&o, "no pinhole with id %" PRIu32 "\n", c->only_id);
	finish_later(d, c, &o, err);
}

/* list and show: the counters come from the enforcer, the answer after them. */
static int start_list(struct dyperd *d, struct control_conn *c)
{
	uint32_t n = d->table.cap ? d->table.cap : 1;
	int err;

	c->packets = calloc(n, sizeof(uint64_t));
	c->bytes = calloc(n, sizeof(uint64_t));
	if (!c->packets || !c->bytes)
		return -ENOMEM;
	c->n_counters = n;
	err = engine_read(d, counters_cb, list_done, c);
	if (err)
		log_warn("list: no counters: %s", strerror(-err));
	return err;
}

/* --- events: recent, prometheus, explain, watch ---------------------------------- */

/*
 * What @fn (events.c) writes to a stream, or (@fn NULL) the Prometheus
 * text of metrics.c, appended to @o.  @pkt: explain's packet.
 */
static void put_stream(struct out *o, void (*fn)(const struct dyperd *d, FILE *f, bool json),
		       const struct dyperd *d, bool json, const struct pinhole *pkt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		o->oom = true;
		return;
	}
	if (pkt)
		events_explain(d, f, json, pkt);
	else if (fn)
		fn(d, f, json);
	else
		metrics_prometheus(d, f);
	if (fclose(f) || !buf)
		o->oom = true;
	else if (len)
		put(o, "%s", buf);
	free(buf);
}

/* explain REMOTE [RPORT] LOCAL LPORT tcp|udp */
static int cmd_explain(struct dyperd *d, struct out *o, bool json, char **argv, int argc)
{
	struct pinhole pkt = { 0 };
	uint8_t fam2;
	int i = 0;

	if (argc != 4 && argc != 5) {
		put(o, "usage: explain REMOTE [RPORT] LOCAL LPORT tcp|udp\n");
		return -EINVAL;
	}
	if (!strcmp(argv[argc - 1], "tcp"))
		pkt.proto = IPPROTO_TCP;
	else if (!strcmp(argv[argc - 1], "udp"))
		pkt.proto = IPPROTO_UDP;
	else {
		put(o, "explain: expected tcp or udp, found \"%s\"\n", argv[argc - 1]);
		return -EINVAL;
	}
	if (parse_addr(argv[i++], &pkt.family, pkt.remote.raw) ||
	    (argc == 5 && parse_port(o, argv[i++], &pkt.remote_port, false)) ||
	    parse_addr(argv[i++], &fam2, pkt.local.raw) || fam2 != pkt.family) {
		if (!o->len)
			put(o, "explain: expected two addresses of one family, found \"%s\" and "
			    "\"%s\"\n", argv[0], argv[argc - 3]);
		return -EINVAL;
	}
	if (parse_port(o, argv[i], &pkt.local_port, false))
		return -EINVAL;
	put_stream(o, NULL, d, json, &pkt);
	return 0;
}

static void watch_arm(struct dyperd *d, struct control_conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

	if (c->watch_out != out && !epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		c->watch_out = out;
}

/* Sends what @c's watcher holds, as much as the socket takes (@c may be freed). */
static void watch_send(struct dyperd *d, struct control_conn *c)
{
	struct event_watch *w = c->watch;

	while (w->off < w->len) {
		ssize_t n = send(c->fd, w->buf + w->off, w->len - w->off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				watch_arm(d, c, true);
				return;
			}
			conn_free(d, c);
			return;
		}
		event_watch_sent(w, (size_t)n);
	}
	watch_arm(d, c, false);
}

/* An event was queued for @arg's watcher: send it now, unless the socket
 * is full (then EPOLLOUT will). */
static void watch_wake(struct dyperd *d, void *arg)
{
	struct control_conn *c = arg;

	if (!c->watch_out)
		watch_send(d, c);
}

/* watch [FILTERS]: 0 when @c streams events from now on, else -errno
 * with the reason in @o. */
static int start_watch(struct dyperd *d, struct control_conn *c, struct out *o, bool json,
		       char **argv, int argc)
{
	struct event_filter f;
	unsigned n = 0;
	char why[256];

	if (event_filter_parse(&f, argv, argc, why, sizeof(why))) {
		put(o, "%s\n", why);
		return -EINVAL;
	}
	for (struct event_watch *w = d->events.watchers; w; w = w->next)
		n++;
	if (n >= MAX_WATCHERS) {
		put(o, "watch: %u watchers already (at most %d)\n", n, MAX_WATCHERS);
		return -EBUSY;
	}
	c->watch = event_watch_add(d, &f, json, watch_wake, c);
	if (!c->watch) {
		put(o, "out of memory\n");
		return -ENOMEM;
	}
	/* the answer's first line, then the events as they come */
	memcpy(c->watch->buf, "OK\n", 3);
	c->watch->len = 3;
	c->watch_out = false;
	watch_arm(d, c, true);	/* sent from the loop: @c must outlive run() */
	return 0;
}

/* Runs @line: the answer in c->out, or later if c->busy. */
static void run(struct dyperd *d, struct control_conn *c, char *line)
{
	struct out o = { 0 };
	char *argv[MAX_ARGS], *save = NULL, *tok;
	int argc = 0, err = 0;
	bool json = false;
	char msg[512];
	uint32_t id;

	for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(tok, "-j") || !strcmp(tok, "--json"))
			json = true;
		else if (argc < MAX_ARGS)
			argv[argc++] = tok;
		else
			err = -E2BIG;
	}
	c->json = json;
	if (err) {
		put(&o, "more than %d arguments\n", MAX_ARGS);
	} else if (argc == 0) {
		err = -EINVAL;
		put(&o, "no command\n");
	} else if (!strcmp(argv[0], "watch")) {
		if (!start_watch(d, c, &o, json, argv + 1, argc - 1)) {
			free(o.s);
			return;
		}
		err = -EINVAL;
	} else if (!strcmp(argv[0], "list") && argc == 2 && !strcmp(argv[1], "--recent")) {
		put_stream(&o, events_put_recent, d, json, NULL);
	} else if (!strcmp(argv[0], "stats") && argc == 2 && !strcmp(argv[1], "--prometheus")) {
		put_stream(&o, NULL, d, false, NULL);
	} else if (!strcmp(argv[0], "explain")) {
		err = cmd_explain(d, &o, json, argv + 1, argc - 1);
	} else if (d->site && (!strcmp(argv[0], "list") || !strcmp(argv[0], "stats"))) {
		/* from the site's own record, at once */
		put_stream(&o, !strcmp(argv[0], "stats") ? site_stats : site_list, d, json, NULL);
	} else if (d->site && (!strcmp(argv[0], "show") || !strcmp(argv[0], "close") ||
			       !strcmp(argv[0], "check"))) {
		err = -EOPNOTSUPP;
		put(&o, "%s: not in site mode (list, stats, reload)\n", argv[0]);
	} else if (!strcmp(argv[0], "list") || (!strcmp(argv[0], "show") && argc == 2)) {
		c->json = json;
		c->show = argc == 2;
		c->only_id = 0;
		if (c->show)
			err = arg_u32(&o, "show", "a pinhole id", argv[1], 1, UINT32_MAX, &c->only_id);
		if (!err) {
			if (!start_list(d, c))
				goto later;
			/* without counters, at once */
			err = cmd_list(d, &o, c);
			if (err == -ENOENT)
				put(&o, "no pinhole with id %" PRIu32 "\n", c->only_id);
		}
	} else if (!strcmp(argv[0], "close") && argc == 2) {
		c->json = json;
		err = arg_u32(&o, "close", "a pinhole id", argv[1], 1, UINT32_MAX, &id);
		if (!err) {
			err = engine_close_id(d, id, msg, sizeof(msg), close_done, c);
			if (err == 0)
				goto later;
			if (err > 0)
				err = 0;
			put_closed(&o, json, err, msg);
		}
	} else if (!strcmp(argv[0], "stats")) {
		cmd_stats(d, &o, json);
	} else if (!strcmp(argv[0], "reload")) {
		/* answered by control_reload_done() once it is done */
		c->reload_ticket = reload_request(d);
		c->json = json;
		free(o.s);
		return;
	} else if (!strcmp(argv[0], "check")) {
		err = cmd_check(d, &o, json, argv + 1, argc - 1);
	} else {
		err = -EINVAL;
		put(&o, "unknown command \"%s\" (list [--recent], show ID, close ID, stats "
		    "[--prometheus], reload, check, explain, watch)\n", argv[0]);
	}
	answer(c, &o, err);
	return;
later:
	c->busy = true;
	free(o.s);
}

static void flush_out(struct dyperd *d, struct control_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

				epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
				return;
			}
			break;
		}
		c->out_off += (size_t)n;
	}
	conn_free(d, c);
}

/* Answers @c with an error of its own (not a command's) and closes it. */
__attribute__((format(printf, 3, 4)))
static void refuse(struct dyperd *d, struct control_conn *c, const char *fmt, ...)
{
	struct out o = { 0 };
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	put(&o, "%s\n", text);
	answer(c, &o, -EINVAL);
	flush_out(d, c);
}

void control_event(struct dyperd *d, struct control_conn *c, uint32_t events)
{
	char *nl;
	size_t old = c->in_len;
	ssize_t n;

	if (c->watch) {
		char junk[256];

		if (events & EPOLLOUT) {
			watch_send(d, c);
			return;
		}
		/* a watcher only listens: what it sends is ignored, its going away ends it */
		n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			conn_free(d, c);
		return;
	}
	if (c->out) {
		flush_out(d, c);
		return;
	}
	if (c->busy || c->reload_ticket) {
		/* a command is running: only its client's going away matters */
		char junk[256];

		n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			conn_free(d, c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		conn_free(d, c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	nl = memchr(c->in + old, '\n', (size_t)n);
	/* the line would end at the NUL, and its newline never be found */
	if (memchr(c->in + old, '\0', (size_t)((nl ? nl : c->in + c->in_len) - (c->in + old)))) {
		refuse(d, c, "the command line holds a NUL byte");
		return;
	}
	if (!nl) {
		if (c->in_len == sizeof(c->in) - 1)
			refuse(d, c, "expected a command line of at most %zu bytes", sizeof(c->in) - 2);
		return;
	}
	*nl = '\0';
	run(d, c, c->in);
	if (c->busy || c->reload_ticket || c->watch)
		return;
	if (!c->out) {
		conn_free(d, c);
		return;
	}
	flush_out(d, c);
}

void control_reload_done(struct dyperd *d, uint64_t ticket, int err, const char *msg)
{
	struct control_conn *c = d->controls, *next;

	for (; c; c = next) {
		struct out o = { 0 };

		next = c->next;
		if (c->reload_ticket != ticket)
			continue;
		if (c->json) {
			put(&o, "{\"schema\":1,\"reloaded\":%s,\"message\":", err ? "false" : "true");
			put_json_str(&o, msg);
			put(&o, "}\n");
		} else {
			put(&o, "%s\n", msg);
		}
		c->reload_ticket = 0;
		answer(c, &o, err);
		flush_out(d, c);
	}
}

void control_tick(struct dyperd *d)
{
	uint64_t now = now_ms();
	struct control_conn *c = d->controls, *next;

	for (; c; c = next) {
		next = c->next;
		/* only those still to send their command: an answer being sent
		 * goes at the pace its reader takes it */
		if (!c->out && !c->busy && !c->reload_ticket && !c->watch && now >= c->deadline_ms)
			refuse(d, c, "no complete command line within %d s: closed",
			       CONTROL_TIMEOUT_MS / 1000);
	}
}
