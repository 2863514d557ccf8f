/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dyperd's logging: syslog (and so the journal), stderr in the foreground,
 * and optional JSON event lines for auditing who opened what. */
#ifndef DYPERD_LOG_H
#define DYPERD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "nft/enforcer.h"

/* @to_stderr: foreground mode; @level: the most verbose syslog level kept. */
void log_init(bool to_stderr, int level);
void log_set_level(int level);
/* Opens (appends to) the JSON event file; "" closes it.  0 or -errno. */
int log_events_open(const char *path);

__attribute__((format(printf, 2, 3)))
void log_msg(int level, const char *fmt, ...);
/* Whether a message at @level would be written: spares formatting its
 * arguments on hot paths. */
bool log_enabled(int level);

/* Whether an event_log is open: spares formatting the line. */
bool log_events_enabled(void);
/* Appends one JSON event line of @n bytes (events.c formats it).  @deny
 * lines, which any user of the wrapper can provoke at will, pass under a
 * log_limit: what is left out is recorded as one event "suppressed"
 * saying how many. */
void log_event_line(bool deny, const char *line, size_t n);

/*
 * The one number parser of the control socket's arguments (control.c,
 * watch's filters): decimal digits only (no sign, blank, base prefix or
 * trailing junk), at most @max.  0, -EINVAL or -ERANGE.
 */
int parse_u32(const char *s, uint32_t max, uint32_t *out);

/* @s as the body of a JSON string into @out (@cap > 0 bytes, always
 * terminated), escaping what JSON requires; what does not fit is left
 * out.  Returns the length written.  Used by dyperctl too. */
size_t json_escape(char *out, size_t cap, const char *s);

/*
 * A bound on one kind of repeated line (one call site, or one kind of JSON
 * event), so that what an unprivileged user can provoke at will (denials,
 * lost replies, refused connections) cannot flood the journal or the disk:
 * at most LOG_LIMIT_BURST lines per LOG_LIMIT_WINDOW_MS; the lines left
 * out are counted and announced by one "N similar messages suppressed
 * (WHAT)" line, written before the next line that passes, or by
 * log_limit_flush() from the timer once the window is over.
 */
#define LOG_LIMIT_BURST		20
#define LOG_LIMIT_WINDOW_MS	10000

struct log_limit {
	const char *what;	/* names the kind in the summary line */
	int level;		/* of the summary line */
	bool event;		/* the summary is a JSON event, not a log line */
	bool listed;		/* on the list log_limit_flush() walks */
	bool started;		/* a window has begun */
	uint64_t start_ms;	/* the current window's start */
	uint32_t n;		/* lines passed in it */
	uint32_t suppressed;	/* lines left out, not yet announced */
	struct log_limit *next;
};

/*
 * Pure: whether a line of @l's kind may be written at @now_ms, counting it
 * either way.  *@report is set to the number of earlier lines left out that
 * must be announced now (before the line, if it passes), else 0.
 */
bool log_limit_check(struct log_limit *l, uint64_t now_ms, uint32_t *report);

/*
 * Pure: *@report is set to the lines @l left out in a window that is over
 * at @now_ms (then a new window starts), else 0.
 */
void log_limit_expire(struct log_limit *l, uint64_t now_ms, uint32_t *report);

/* Counts a line of @l's kind (static storage); true if it may be
 * written, after the summary of what was left out is. */
bool log_limit_pass(struct log_limit *l);

/* log_msg() under the limit @l (static storage, one per call site). */
__attribute__((format(printf, 3, 4)))
void log_msg_limited(struct log_limit *l, int level, const char *fmt, ...);

/* Announces what every limit left out in a window now over; from the
 * timer.  Returns the number of summaries written. */
unsigned log_limit_flush(uint64_t now_ms);

/* A log line limited per call site; @what names it in the summary. */
#define log_limited(level, what_, ...) do {					\
	static struct log_limit log_limit_here_ = { .what = (what_) };		\
	log_msg_limited(&log_limit_here_, (level), __VA_ARGS__);		\
} while (0)

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

/* CLOCK_MONOTONIC in nanoseconds and in milliseconds: dyperd's clock. */
uint64_t now_ns(void);
uint64_t now_ms(void);

#endif
