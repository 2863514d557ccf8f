// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Events (events.h): one record per decision, sent to the journal with
 * fields, the JSON event_log, the watchers, and the history.  Nothing here
 * blocks: the journal's socket is a datagram socket journald drains, a
 * watcher that does not read loses events (counted), never dyperd's time.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "dyperd/daemon.h"
#include "dyperd/events.h"
#include "dyperd/log.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define JOURNAL_FIELDS 24

static const char *const type_names[EVENT_N] = { "open", "close", "deny", "stale", "repair" };

/* journalctl MESSAGE_ID=..., fixed for good: dyperd(8) lists them. */
static const char *const message_ids[EVENT_N] = {
	"a2eebdf1e8714d14b9ff5758a2769208",	/* open */
	"f0618783541a4495b500e683387074c8",	/* close */
	"a8f0a78ca4fc4624b115fda6ef812722",	/* deny */
	"ee1da8cee8bf4f5aa0aed7b0f5a64d03",	/* stale */
	"d8adc1a3f3c9427ebcb87ca8fe0fb7cf",	/* repair */
};

static const int priorities[EVENT_N] = { LOG_INFO, LOG_INFO, LOG_NOTICE, LOG_INFO, LOG_WARNING };

static const char *const cause_names[CLOSE_N] = {
	"socket-closed", "one-shot", "owner", "lifetime", "admin", "stale", "lease-lapsed",
};

const char *event_type_name(enum event_type t)
{
	return t < EVENT_N ? type_names[t] : "?";
}

const char *close_cause_name(enum close_cause c)
{
	return c < CLOSE_N ? cause_names[c] : "?";
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int ring_init(struct event_ring *r, uint32_t cap)
{
	r->v = calloc(cap, sizeof(*r->v));
	r->cap = cap;
	r->n = r->head = 0;
	return r->v ? 0 : -ENOMEM;
}

static void ring_push(struct event_ring *r, const struct event *ev)
{
	if (!r->v)
		return;
	if (r->n < r->cap) {
		r->v[(r->head + r->n++) % r->cap] = *ev;
	} else {
		r->v[r->head] = *ev;
		r->head = (r->head + 1) % r->cap;
	}
}

/* The @i-th newest (0: the newest), or NULL. */
static const struct event *ring_newest(const struct event_ring *r, uint32_t i)
{
	return i < r->n ? &r->v[(r->head + r->n - 1 - i) % r->cap] : NULL;
}

int events_init(struct dyperd *d)
{
	struct events *e = &d->events;

	if (e->closes.v)
		return 0;
	e->journal = access(JOURNAL_SOCKET, F_OK) == 0;
	if (ring_init(&e->closes, EVENT_HISTORY) || ring_init(&e->denials, EVENT_DENIALS)) {
		events_free(d);
		return -ENOMEM;
	}
	return 0;
}

void events_free(struct dyperd *d)
{
	struct events *e = &d->events;

	while (e->watchers)
		event_watch_del(d, e->watchers);
	free(e->closes.v);
	free(e->denials.v);
	memset(&e->closes, 0, sizeof(e->closes));
	memset(&e->denials, 0, sizeof(e->denials));
}

void event_init(struct event *ev, enum event_type type, const struct pinhole *ph, uint32_t id,
		uint32_t line, const char *reason)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	if (ph) {
		ev->has_ph = true;
		ev->ph = *ph;
	}
	ev->id = id;
	ev->rule_line = line;
	snprintf(ev->reason, sizeof(ev->reason), "%s", reason ? reason : "");
}

/* --- formats ------------------------------------------------------------------ */

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

static void addrs(const struct pinhole *ph, char *r, char *l)
{
	inet_ntop(ph->family, ph->remote.raw, r, INET6_ADDRSTRLEN);
	inet_ntop(ph->family, ph->local.raw, l, INET6_ADDRSTRLEN);
}

/* One event as one JSON object, without a newline. */
static void event_json(FILE *f, const struct event *ev)
{
	char r[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN], esc[EVENT_REASON_LEN * 6 + 1];

	fprintf(f, "{\"schema\":1,\"time\":%" PRIu64 ".%03u,\"event\":\"%s\"", ev->time_ms / 1000,
		(unsigned)(ev->time_ms % 1000), event_type_name(ev->type));
	if (ev->id)
		fprintf(f, ",\"id\":%" PRIu32, ev->id);
	else
		fputs(",\"id\":null", f);
	if (ev->has_ph) {
		addrs(&ev->ph, r, l);
		json_escape(esc, sizeof(esc), ev->ph.owner.program);
		fprintf(f, ",\"uid\":%" PRIu32 ",\"pid\":%" PRIu32 ",\"program\":\"%s\",\"proto\":\"%s\","
			"\"remote\":\"%s\"", ev->ph.owner.uid, ev->ph.owner.pid, esc,
			proto_name(ev->ph.proto), r);
		if (ev->ph.remote_port)
			fprintf(f, ",\"remote_port\":%u", ev->ph.remote_port);
		else
			fputs(",\"remote_port\":null", f);
		fprintf(f, ",\"local\":\"%s\",\"local_port\":%u", l, ev->ph.local_port);
	}
	if (ev->rule_line)
		fprintf(f, ",\"rule_line\":%" PRIu32, ev->rule_line);
	if (ev->type == EVENT_CLOSE || ev->type == EVENT_STALE) {
		fprintf(f, ",\"cause\":\"%s\"", close_cause_name(ev->cause));
		if (ev->has_duration)
			fprintf(f, ",\"duration_ms\":%" PRIu64, ev->duration_ms);
		else
			fputs(",\"duration_ms\":null", f);
		if (ev->has_counters)
			fprintf(f, ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64, ev->packets, ev->bytes);
		else
			fputs(",\"packets\":null,\"bytes\":null", f);
	}
	json_escape(esc, sizeof(esc), ev->reason);
	fprintf(f, ",\"reason\":\"%s\"}", esc);
}

/* "open tcp 198.51.100.7:* -> 192.0.2.1:2121 id 5 uid 1000 pid 42 (vsftpd)"
 * and the rest of the human line, without time or newline; @pad aligns
 * the lines of a stream. */
static void event_text(FILE *f, const struct event *ev, bool pad)
{
	char what[PINHOLE_STR_LEN];

	fprintf(f, pad ? "%-6s" : "%s", event_type_name(ev->type));
	if (ev->has_ph) {
		pinhole_format(&ev->ph, what, sizeof(what));
		fprintf(f, " %s", what);
		if (ev->id)
			fprintf(f, " id %" PRIu32, ev->id);
		fprintf(f, " uid %" PRIu32 " pid %" PRIu32 " (%s)", ev->ph.owner.uid, ev->ph.owner.pid,
			ev->ph.owner.program[0] ? ev->ph.owner.program : "-");
	}
	if (ev->type == EVENT_CLOSE || ev->type == EVENT_STALE) {
		if (ev->has_duration)
			fprintf(f, " after %" PRIu64 " ms", ev->duration_ms);
		if (ev->has_counters)
			fprintf(f, ", %" PRIu64 " packets %" PRIu64 " bytes", ev->packets, ev->bytes);
		fprintf(f, ": %s (%s)", close_cause_name(ev->cause), ev->reason);
	} else {
		fprintf(f, ": %s", ev->reason);
		if (ev->rule_line)
			fprintf(f, " (policy line %" PRIu32 ")", ev->rule_line);
	}
}

static void put_time(FILE *f, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[32];

	localtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(f, "%s.%03u", s, (unsigned)(ms % 1000));
}

void event_format(FILE *f, const struct event *ev, bool json)
{
	if (json) {
		event_json(f, ev);
	} else {
		put_time(f, ev->time_ms);
		fputc(' ', f);
		event_text(f, ev, true);
	}
	fputc('\n', f);
}

/* --- journal -------------------------------------------------------------------- */

struct jfields {
	struct iovec iov[JOURNAL_FIELDS];
	char buf[JOURNAL_FIELDS][EVENT_REASON_LEN + 96];
	int n;
};

__attribute__((format(printf, 2, 3)))
static void jf(struct jfields *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->n == JOURNAL_FIELDS)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->buf[j->n], sizeof(j->buf[j->n]), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(j->buf[j->n]))
		n = (int)sizeof(j->buf[j->n]) - 1;
	j->iov[j->n].iov_base = j->buf[j->n];
	j->iov[j->n].iov_len = (size_t)n;
	j->n++;
}

/*
 * The journal entry of @ev: MESSAGE for humans, DYPER_* fields for
 * journalctl's matches.  Without a journal, one syslog line with the same
 * facts as KEY=VALUE pairs.
 */
static void event_journal(struct dyperd *d, const struct event *ev)
{
	static struct log_limit deny_limit = { .what = "deny events (journal)" };
	char text[512], r[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN];
	int prio = priorities[ev->type];
	struct jfields j;
	FILE *f;

	if (!log_enabled(prio))
		return;
	/* denials are what any user of the wrapper provokes at will */
	deny_limit.level = prio;
	if (ev->type == EVENT_DENY && !log_limit_pass(&deny_limit))
		return;
	f = fmemopen(text, sizeof(text), "w");
	if (!f)
		return;
	event_text(f, ev, false);
	fputc('\0', f);
	fclose(f);
	text[sizeof(text) - 1] = '\0';
	if (!d->events.journal) {
		if (ev->has_ph) {
			addrs(&ev->ph, r, l);
			log_msg(prio, "%s [DYPER_EVENT=%s DYPER_PINHOLE_ID=%" PRIu32 " DYPER_UID=%" PRIu32
				" DYPER_REMOTE=%s DYPER_LOCAL_PORT=%u]", text, event_type_name(ev->type),
				ev->id, ev->ph.owner.uid, r, ev->ph.local_port);
		} else {
			log_msg(prio, "%s [DYPER_EVENT=%s]", text, event_type_name(ev->type));
		}
		return;
	}
	j.n = 0;
	jf(&j, "MESSAGE=%s", text);
	jf(&j, "MESSAGE_ID=%s", message_ids[ev->type]);
	jf(&j, "PRIORITY=%d", prio);
	jf(&j, "SYSLOG_IDENTIFIER=dyperd");
	jf(&j, "DYPER_EVENT=%s", event_type_name(ev->type));
	jf(&j, "DYPER_REASON=%s", ev->reason);
	if (ev->id)
		jf(&j, "DYPER_PINHOLE_ID=%" PRIu32, ev->id);
	if (ev->rule_line)
		jf(&j, "DYPER_RULE_LINE=%" PRIu32, ev->rule_line);
	if (ev->has_ph) {
		addrs(&ev->ph, r, l);
		jf(&j, "DYPER_UID=%" PRIu32, ev->ph.owner.uid);
		jf(&j, "DYPER_PID=%" PRIu32, ev->ph.owner.pid);
		jf(&j, "DYPER_PROGRAM=%s", ev->ph.owner.program);
		jf(&j, "DYPER_PROTO=%s", proto_name(ev->ph.proto));
		jf(&j, "DYPER_REMOTE=%s", r);
		if (ev->ph.remote_port)
			jf(&j, "DYPER_REMOTE_PORT=%u", ev->ph.remote_port);
		jf(&j, "DYPER_LOCAL=%s", l);
		jf(&j, "DYPER_LOCAL_PORT=%u", ev->ph.local_port);
	}
	if (ev->type == EVENT_CLOSE || ev->type == EVENT_STALE) {
		jf(&j, "DYPER_CAUSE=%s", close_cause_name(ev->cause));
		if (ev->has_duration)
			jf(&j, "DYPER_DURATION_MS=%" PRIu64, ev->duration_ms);
		if (ev->has_counters) {
			jf(&j, "DYPER_PACKETS=%" PRIu64, ev->packets);
			jf(&j, "DYPER_BYTES=%" PRIu64, ev->bytes);
		}
	}
	int err = sd_journal_sendv(j.iov, j.n);

	if (err < 0)
		log_limited(LOG_WARNING, "journal errors", "cannot send an event to the journal: %s",
			    strerror(-err));
}

/* --- watchers ------------------------------------------------------------------- */

static bool watch_append(struct event_watch *w, const char *s, size_t n)
{
	if (w->off && w->off == w->len)
		w->off = w->len = 0;
	if (w->len + n > EVENT_WATCH_BUF && w->off) {
		memmove(w->buf, w->buf + w->off, w->len - w->off);
		w->len -= w->off;
		w->off = 0;
	}
	if (w->len + n > EVENT_WATCH_BUF)
		return false;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	return true;
}

/* The "N events dropped" line owed, once there is room again. */
static void watch_announce(struct event_watch *w)
{
	char line[160];
	int n;

	/* once dropping, until half the buffer is free: one summary for a
	 * burst, not one per event that happens to fit */
	if (!w->dropped || w->len - w->off > EVENT_WATCH_BUF / 2)
		return;
	if (w->json)
		n = snprintf(line, sizeof(line), "{\"schema\":1,\"event\":\"dropped\",\"count\":%" PRIu64
			     "}\n", w->dropped);
	else
		n = snprintf(line, sizeof(line), "%" PRIu64 " events dropped (this watcher reads too "
			     "slowly)\n", w->dropped);
	if (n > 0 && watch_append(w, line, (size_t)n))
		w->dropped = 0;
}

void event_watch_sent(struct event_watch *w, size_t n)
{
	w->off += n;
	if (w->off >= w->len)
		w->off = w->len = 0;
	watch_announce(w);
}

struct event_watch *event_watch_add(struct dyperd *d, const struct event_filter *f, bool json,
				    void (*wake)(struct dyperd *d, void *arg), void *arg)
{
	struct event_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->buf = malloc(EVENT_WATCH_BUF);
	if (!w->buf) {
		free(w);
		return NULL;
	}
	w->f = *f;
	w->json = json;
	w->wake = wake;
	w->arg = arg;
	w->next = d->events.watchers;
	d->events.watchers = w;
	return w;
}

void event_watch_del(struct dyperd *d, struct event_watch *w)
{
	for (struct event_watch **p = &d->events.watchers; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	free(w->buf);
	free(w);
}

static void watch_push(struct dyperd *d, const struct event *ev)
{
	char text[2048], json[2048];
	size_t tlen = 0, jlen = 0;

	for (struct event_watch *w = d->events.watchers, *next; w; w = next) {
		size_t *len = w->json ? &jlen : &tlen;
		char *s = w->json ? json : text;

		next = w->next;
		if (!event_filter_match(&w->f, ev))
			continue;
		if (!*len) {
			FILE *f = fmemopen(s, sizeof(text), "w");

			if (!f)
				continue;
			event_format(f, ev, w->json);
			*len = (size_t)ftell(f);
			fclose(f);
			if (*len >= sizeof(text) - 1)
				continue;	/* cut off: never happens at these sizes */
		}
		watch_announce(w);
		if (w->dropped || !watch_append(w, s, *len)) {
			w->dropped++;
			d->events.dropped++;
			continue;
		}
		/* may free w (its peer is gone): next was taken first */
		w->wake(d, w->arg);
	}
}

/* --- filters --------------------------------------------------------------------- */

/* "open,close": known names separated by single commas, no empty item. */
static int parse_types(const char *s, unsigned *types)
{
	*types = 0;
	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		unsigned i;

		for (i = 0; i < EVENT_N; i++)
			if (len == strlen(type_names[i]) && !strncmp(s, type_names[i], len))
				break;
		if (i == EVENT_N)
			return -EINVAL;
		*types |= 1u << i;
		if (!end)
			return 0;
		s = end + 1;
	}
}

int event_filter_parse(struct event_filter *f, char **argv, int argc, char *err, size_t len)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint32_t n = 0;
		int bad = 0;

		if (!v) {
			snprintf(err, len, "watch: expected --uid, --program, --remote, --port or "
				 "--event with a value, found \"%s\"", opt);
			return -EINVAL;
		}
		if (!strcmp(opt, "--uid")) {
			bad = parse_u32(v, UINT32_MAX - 1, &f->uid);
			f->has_uid = true;
		} else if (!strcmp(opt, "--program")) {
			bad = strlen(v) >= sizeof(f->program) ? -EINVAL : 0;
			if (!bad)
				strcpy(f->program, v);
		} else if (!strcmp(opt, "--remote")) {
			if (inet_pton(AF_INET, v, f->remote) == 1)
				f->family = AF_INET;
			else if (inet_pton(AF_INET6, v, f->remote) == 1)
				f->family = AF_INET6;
			else
				bad = -EINVAL;
		} else if (!strcmp(opt, "--port")) {
			bad = parse_u32(v, 65535, &n) ?: n ? 0 : -EINVAL;
			f->port = (uint16_t)n;
		} else if (!strcmp(opt, "--event")) {
			bad = parse_types(v, &f->types);
		} else {
			snprintf(err, len, "watch: unknown option \"%s\" (--uid, --program, --remote, "
				 "--port, --event)", opt);
			return -EINVAL;
		}
		if (bad) {
			snprintf(err, len, "watch: %s: expected %s, found \"%s\"", opt,
				 !strcmp(opt, "--uid") ? "a numeric uid" :
				 !strcmp(opt, "--program") ? "a glob of at most 63 characters" :
				 !strcmp(opt, "--remote") ? "an IPv4 or IPv6 address" :
				 !strcmp(opt, "--port") ? "a port (1 to 65535)" :
				 "event types: open, close, deny, stale, repair, separated by commas", v);
			return -EINVAL;
		}
		i++;
	}
	return 0;
}

bool event_filter_match(const struct event_filter *f, const struct event *ev)
{
	if (f->types && !(f->types & (1u << ev->type)))
		return false;
	if (!f->has_uid && !f->program[0] && !f->family && !f->port)
		return true;
	/* an event about no pinhole (a repair of the table) has nothing to match */
	if (!ev->has_ph)
		return false;
	if (f->has_uid && ev->ph.owner.uid != f->uid)
		return false;
	if (f->program[0] && fnmatch(f->program, ev->ph.owner.program, 0))
		return false;
	if (f->family && (ev->ph.family != f->family ||
			  memcmp(ev->ph.remote.raw, f->remote, f->family == AF_INET ? 4 : 16)))
		return false;
	if (f->port && ev->ph.local_port != f->port && ev->ph.remote_port != f->port)
		return false;
	return true;
}

/* --- emitting -------------------------------------------------------------------- */

void events_emit(struct dyperd *d, struct event *ev)
{
	char line[2048];
	FILE *f;

	ev->time_ms = wall_ms();
	d->events.counts[ev->type]++;
	if ((ev->type == EVENT_CLOSE || ev->type == EVENT_STALE) && ev->cause < CLOSE_N)
		d->events.by_cause[ev->cause]++;
	event_journal(d, ev);
	if (log_events_enabled()) {
		f = fmemopen(line, sizeof(line), "w");
		if (f) {
			event_json(f, ev);
			fputc('\n', f);
			long n = ftell(f);

			fclose(f);
			if (n > 0 && (size_t)n < sizeof(line))
				log_event_line(ev->type == EVENT_DENY, line, (size_t)n);
		}
	}
	if (ev->type == EVENT_CLOSE || ev->type == EVENT_STALE)
		ring_push(&d->events.closes, ev);
	else if (ev->type == EVENT_DENY)
		ring_push(&d->events.denials, ev);
	watch_push(d, ev);
}

/* --- history and explain ------------------------------------------------------- */

void events_put_recent(const struct dyperd *d, FILE *f, bool json)
{
	const struct event_ring *r = &d->events.closes;

	if (json)
		fputc('[', f);
	for (uint32_t i = 0; i < r->n; i++) {
		const struct event *ev = &r->v[(r->head + i) % r->cap];

		if (json) {
			if (i)
				fputc(',', f);
			event_json(f, ev);
		} else {
			event_format(f, ev, false);
		}
	}
	if (json)
		fputs("]\n", f);
	else
		fprintf(f, "%u recently closed pinhole%s (at most %u kept)\n", r->n,
			r->n == 1 ? "" : "s", r->cap);
}

static bool same_addr(uint8_t family, const union pinhole_addr *a, const union pinhole_addr *b)
{
	return !memcmp(a->raw, b->raw, family == AF_INET ? 4 : 16);
}

/* @ph (a pinhole, or an event's) is for @pkt's local side and protocol. */
static bool same_service(const struct pinhole *ph, const struct pinhole *pkt)
{
	return ph->family == pkt->family && ph->proto == pkt->proto &&
	       ph->local_port == pkt->local_port && same_addr(pkt->family, &ph->local, &pkt->local);
}

/* @ph admits @pkt's remote side (a pkt port of 0: any). */
static bool admits_remote(const struct pinhole *ph, const struct pinhole *pkt)
{
	return same_addr(pkt->family, &ph->remote, &pkt->remote) &&
	       (!ph->remote_port || !pkt->remote_port || ph->remote_port == pkt->remote_port);
}

static void explain_out(FILE *f, bool json, bool accept, const char *why, const char *msg,
			const struct event *ev)
{
	char esc[1024];

	if (!json) {
		fprintf(f, "%s: %s\n", accept ? "accepted" : "dropped", msg);
		if (ev) {
			fputs("event: ", f);
			event_format(f, ev, false);
		}
		return;
	}
	json_escape(esc, sizeof(esc), msg);
	fprintf(f, "{\"schema\":1,\"verdict\":\"%s\",\"why\":\"%s\",\"message\":\"%s\",\"event\":",
		accept ? "accept" : "drop", why, esc);
	if (ev)
		event_json(f, ev);
	else
		fputs("null", f);
	fputs("}\n", f);
}

void events_explain(const struct dyperd *d, FILE *f, bool json, const struct pinhole *pkt)
{
	const struct dyper_enforcer_conf *c = &d->cfg.enforcer;
	const uint16_t *ports = pkt->proto == IPPROTO_TCP ? c->tcp_ports : c->udp_ports;
	size_t nports = pkt->proto == IPPROTO_TCP ? c->n_tcp_ports : c->n_udp_ports;
	const struct ph_entry *other = NULL;
	struct event ev;
	char msg[512], r[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN];
	uint64_t now = now_ms();

	for (size_t i = 0; i < nports; i++) {
		if (ports[i] == pkt->local_port) {
			snprintf(msg, sizeof(msg), "port %u/%s is a control port, always open "
				 "(dyper.conf [enforcer] %s_ports)", pkt->local_port,
				 proto_name(pkt->proto), proto_name(pkt->proto));
			explain_out(f, json, true, "control-port", msg, NULL);
			return;
		}
	}
	for (uint32_t i = 0; i < d->table.cap; i++) {
		const struct ph_entry *e = &d->table.v[i];

		if (!e->used || !same_service(&e->ph, pkt))
			continue;
		if (!admits_remote(&e->ph, pkt)) {
			other = other ? other : e;
			continue;
		}
		event_init(&ev, EVENT_OPEN, &e->ph, e->id, e->rule_line, "open now");
		ev.time_ms = e->ph.owner.created * 1000;
		if (e->state == PH_PENDING) {
			snprintf(msg, sizeof(msg), "pinhole %u is being opened (not yet in every "
				 "enforcer)", e->id);
			explain_out(f, json, false, "opening", msg, &ev);
		} else if (e->expires_ms && e->expires_ms <= now) {
			snprintf(msg, sizeof(msg), "pinhole %u has expired (its lifetime is over; "
				 "the kernel timed it out)", e->id);
			explain_out(f, json, false, "expired", msg, &ev);
		} else {
			int n = snprintf(msg, sizeof(msg), "pinhole %u for this host, opened for uid "
					 "%u pid %u (%s)%s", e->id, e->ph.owner.uid, e->ph.owner.pid,
					 e->ph.owner.program,
					 e->state == PH_CLOSING ? ", closing now" : "");

			if (e->expires_ms && n > 0 && (size_t)n < sizeof(msg))
				snprintf(msg + n, sizeof(msg) - (size_t)n, ", expires in %llu s",
					 (unsigned long long)((e->expires_ms - now) / 1000));
			explain_out(f, json, true, "pinhole", msg, &ev);
		}
		return;
	}
	/* nothing admits it: what happened to it lately? */
	for (uint32_t i = 0; i < d->events.closes.n; i++) {
		const struct event *h = ring_newest(&d->events.closes, i);

		if (!same_service(&h->ph, pkt) || !admits_remote(&h->ph, pkt))
			continue;
		snprintf(msg, sizeof(msg), "no pinhole: pinhole %u %s (%s)", h->id,
			 h->cause == CLOSE_LIFETIME ? "expired" : "was closed", h->reason);
		explain_out(f, json, false, h->cause == CLOSE_LIFETIME ? "expired" : "closed", msg, h);
		return;
	}
	for (uint32_t i = 0; i < d->events.denials.n; i++) {
		const struct event *h = ring_newest(&d->events.denials, i);

		if (!same_service(&h->ph, pkt) || !admits_remote(&h->ph, pkt))
			continue;
		snprintf(msg, sizeof(msg), "no pinhole: the request for it was denied (%s)", h->reason);
		explain_out(f, json, false, "denied", msg, h);
		return;
	}
	if (other) {
		addrs(&other->ph, r, l);
		event_init(&ev, EVENT_OPEN, &other->ph, other->id, other->rule_line, "open now");
		ev.time_ms = other->ph.owner.created * 1000;
		if (other->ph.remote_port)
			snprintf(msg, sizeof(msg), "no pinhole for this host: pinhole %u admits %s "
				 "port %u to this port", other->id, r, other->ph.remote_port);
		else
			snprintf(msg, sizeof(msg), "no pinhole for this host: pinhole %u admits %s "
				 "(any port) to this port", other->id, r);
		explain_out(f, json, false, "other-host", msg, &ev);
		return;
	}
	explain_out(f, json, false, "nothing",
		    "nothing opens it: no control port, no pinhole, no recent pinhole or denial "
		    "(connections already established pass all the same)", NULL);
}
