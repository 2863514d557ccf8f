/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dyperd's decisions as events: every open, close, deny, stale and repair
 * goes to the journal with fields (or to syslog where no journal runs), to
 * the JSON event_log, to the `dyperctl watch` streams, and closes and
 * denials into a bounded history (`dyperctl list --recent`, explain).
 */
#ifndef DYPERD_EVENTS_H
#define DYPERD_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nft/enforcer.h"

struct dyperd;

enum event_type { EVENT_OPEN, EVENT_CLOSE, EVENT_DENY, EVENT_STALE, EVENT_REPAIR, EVENT_N };

/* Why a pinhole closed: the cause field of a close event. */
enum close_cause {
	CLOSE_SOCKET,		/* its socket was closed */
	CLOSE_ONESHOT,		/* one-shot: closed after its first connection */
	CLOSE_OWNER,		/* its owner asked */
	CLOSE_LIFETIME,		/* its lifetime ran out */
	CLOSE_ADMIN,		/* dyperctl close */
	CLOSE_STALE,		/* its socket was found gone */
	CLOSE_LEASE,		/* a site's lease lapsed */
	CLOSE_N
};

#define EVENT_REASON_LEN 192
#define EVENT_HISTORY 1024	/* closes kept for list --recent */
#define EVENT_DENIALS 256	/* denials kept for explain */
#define EVENT_WATCH_BUF (256u * 1024)	/* bytes a watcher may lag behind */

struct event {
	enum event_type type;
	uint64_t time_ms;	/* wall clock, ms since the epoch */
	bool has_ph;		/* repair events of the whole table have none */
	struct pinhole ph;
	uint32_t id;		/* pinhole id; 0: none (deny) */
	uint32_t rule_line;	/* policy line that granted it; 0: unknown */
	bool has_duration;
	uint64_t duration_ms;	/* close, stale: how long it was open */
	bool has_counters;
	uint64_t packets, bytes;	/* at close, where the enforcer said */
	enum close_cause cause;	/* close, stale */
	char reason[EVENT_REASON_LEN];
};

/* What a watcher wants: every field set narrows it. */
struct event_filter {
	unsigned types;		/* bits of enum event_type; 0: all */
	bool has_uid;
	uint32_t uid;
	char program[64];	/* fnmatch(3) glob; "": any */
	uint8_t family;		/* 0: any remote */
	uint8_t remote[16];
	uint16_t port;		/* local or remote port; 0: any */
};

/* A `dyperctl watch` connection's stream: events.c fills @buf, up to
 * EVENT_WATCH_BUF bytes; what does not fit is counted in @dropped and
 * announced in-stream once there is room.  @wake (control.c) sends. */
struct event_watch {
	struct event_filter f;
	bool json;
	char *buf;
	size_t len, off;
	uint64_t dropped;
	void (*wake)(struct dyperd *d, void *arg);
	void *arg;
	struct event_watch *next;
};

struct event_ring {
	struct event *v;
	uint32_t cap, n, head;	/* head: the oldest */
};

struct events {
	struct event_ring closes, denials;
	struct event_watch *watchers;
	bool journal;		/* journald's socket was there at start */
	uint64_t dropped;	/* by slow watchers, in all */
	uint64_t counts[EVENT_N];	/* every event emitted, by type (metrics.c) */
	uint64_t by_cause[CLOSE_N];	/* close and stale events by cause */
};

/* 0 or -ENOMEM.  Looks once whether the journal runs. */
int events_init(struct dyperd *d);
void events_free(struct dyperd *d);

/* Records @ev everywhere (time_ms is set here). */
void events_emit(struct dyperd *d, struct event *ev);

/* An event about pinhole @ph (@id, @line), with @reason; the caller sets
 * the rest and emits it. */
void event_init(struct event *ev, enum event_type type, const struct pinhole *ph, uint32_t id,
		uint32_t line, const char *reason);

const char *event_type_name(enum event_type t);
const char *close_cause_name(enum close_cause c);

/* One event as a line: JSON (schema 1) or text, "\n" terminated. */
void event_format(FILE *f, const struct event *ev, bool json);

/*
 * Parses watch's filter arguments (@argv[0..@argc)): --uid U, --program
 * GLOB, --remote ADDR, --port P, --event TYPE[,TYPE...].  0, or -EINVAL
 * with @err saying which token was wrong.
 */
int event_filter_parse(struct event_filter *f, char **argv, int argc, char *err, size_t len);
bool event_filter_match(const struct event_filter *f, const struct event *ev);

/* Adds a watcher (owned by events.c until event_watch_del). NULL on ENOMEM. */
struct event_watch *event_watch_add(struct dyperd *d, const struct event_filter *f, bool json,
				    void (*wake)(struct dyperd *d, void *arg), void *arg);
void event_watch_del(struct dyperd *d, struct event_watch *w);
/* @n bytes of @w's buffer were sent: makes room, announces drops. */
void event_watch_sent(struct event_watch *w, size_t n);

/* Recent closes, oldest first: list --recent. */
void events_put_recent(const struct dyperd *d, FILE *f, bool json);

/*
 * explain: what the table does now with a packet from @remote port @rport
 * (0: any) to @local port @lport, @proto; with the matching pinhole,
 * recent close or denial.  Human text or one JSON object.
 */
void events_explain(const struct dyperd *d, FILE *f, bool json, const struct pinhole *pkt);

#endif
