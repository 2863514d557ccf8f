// SPDX-License-Identifier: GPL-2.0-or-later
/* Logging for dyperd: syslog, stderr in the foreground, JSON event lines. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "dyperd/log.h"

/* The monotonic clock every module of dyperd (and the limiter below) uses;
 * declared in daemon.h.  Here, at the bottom, so that no module needs a
 * higher one for the time. */
uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000u;
}

static bool log_stderr;
static int log_level = LOG_INFO;
static int event_fd = -1;
static struct log_limit *limits_owing;	/* limits with lines left out */
static struct log_limit deny_events = { .what = "deny events", .event = true };

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void log_init(bool to_stderr, int level)
{
	log_stderr = to_stderr;
	log_level = level;
	openlog("dyperd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	log_level = level;
}

int log_events_open(const char *path)
{
	int fd = -1;

	if (path && path[0]) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0)
			return -errno;
	}
	if (event_fd >= 0)
		close(event_fd);
	event_fd = fd;
	return 0;
}

bool log_enabled(int level)
{
	return level <= log_level;
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };
	char buf[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	syslog(level, "%s", buf);
	if (log_stderr)
		fprintf(stderr, "dyperd: %s: %s\n", names[level & 7], buf);
}

/* --- repeated lines --------------------------------------------------------- */

bool log_limit_check(struct log_limit *l, uint64_t now_ms, uint32_t *report)
{
	*report = 0;
	if (!l->started || now_ms - l->start_ms >= LOG_LIMIT_WINDOW_MS) {
		*report = l->suppressed;
		l->suppressed = 0;
		l->started = true;
		l->start_ms = now_ms;
		l->n = 0;
	}
	if (l->n < LOG_LIMIT_BURST) {
		l->n++;
		return true;
	}
	if (l->suppressed < UINT32_MAX)
		l->suppressed++;
	return false;
}

void log_limit_expire(struct log_limit *l, uint64_t now_ms, uint32_t *report)
{
	*report = 0;
	if (l->suppressed && now_ms - l->start_ms >= LOG_LIMIT_WINDOW_MS) {
		*report = l->suppressed;
		l->suppressed = 0;
		l->start_ms = now_ms;
		l->n = 0;
	}
}

static void event_line(const char *line, int n, size_t cap);

static void announce(const struct log_limit *l, uint32_t count)
{
	char line[256];
	struct timespec ts;
	int n;

	if (!l->event) {
		log_msg(l->level, "%u similar messages suppressed (%s)", count, l->what);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line),
		     "{\"time\":%lld.%03ld,\"event\":\"suppressed\",\"count\":%u,"
		     "\"reason\":\"%u %s left out (at most %u in %u s)\"}\n",
		     (long long)ts.tv_sec, ts.tv_nsec / 1000000, count, count, l->what,
		     LOG_LIMIT_BURST, LOG_LIMIT_WINDOW_MS / 1000);
	event_line(line, n, sizeof(line));
}

/* Counts @l's line; true if it may be written (after any summary owed). */
static bool limit_pass(struct log_limit *l)
{
	uint32_t report;
	bool pass = log_limit_check(l, mono_ms(), &report);

	if (report)
		announce(l, report);
	if (!pass && !l->listed) {
		l->listed = true;
		l->next = limits_owing;
		limits_owing = l;
	}
	return pass;
}

void log_msg_limited(struct log_limit *l, int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > log_level)
		return;
	l->level = level;
	if (!limit_pass(l))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(level, "%s", buf);
}

unsigned log_limit_flush(uint64_t now_ms)
{
	struct log_limit **p = &limits_owing;
	unsigned written = 0;

	while (*p) {
		struct log_limit *l = *p;
		uint32_t report;

		log_limit_expire(l, now_ms, &report);
		if (report) {
			announce(l, report);
			written++;
		}
		if (l->suppressed) {
			p = &l->next;
		} else {
			*p = l->next;
			l->listed = false;
		}
	}
	return written;
}

int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

bool log_events_enabled(void)
{
	return event_fd >= 0;
}

void log_event_line(bool deny, const char *line, size_t n)
{
	if (event_fd < 0 || (deny && !limit_pass(&deny_events)))
		return;
	event_line(line, (int)n, n + 1);
}

bool log_limit_pass(struct log_limit *l)
{
	return limit_pass(l);
}

/* Appends one event line: @n is snprintf's result into @cap bytes. */
static void event_line(const char *line, int n, size_t cap)
{
	if (event_fd >= 0 && n > 0 && (size_t)n < cap &&
	    write(event_fd, line, (size_t)n) < 0)
		log_limited(LOG_WARNING, "event log write errors", "cannot write the event log: %s",
			    strerror(errno));
}
