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

static bool log_stderr;
static int log_level = LOG_INFO;
static int event_fd = -1;

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

void log_event(const char *event, const struct pinhole *ph, unsigned id, const char *reason)
{
	char line[1024], esc[300], prog[64], r[INET6_ADDRSTRLEN] = "", l[INET6_ADDRSTRLEN] = "";
	struct timespec ts;
	int n;

	if (event_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_escape(esc, sizeof(esc), reason ? reason : "");
	if (!ph) {
		n = snprintf(line, sizeof(line),
			     "{\"time\":%lld.%03ld,\"event\":\"%s\",\"reason\":\"%s\"}\n",
			     (long long)ts.tv_sec, ts.tv_nsec / 1000000, event, esc);
	} else {
		inet_ntop(ph->family, ph->remote.raw, r, sizeof(r));
		inet_ntop(ph->family, ph->local.raw, l, sizeof(l));
		json_escape(prog, sizeof(prog), ph->owner.program);
		n = snprintf(line, sizeof(line),
			     "{\"time\":%lld.%03ld,\"event\":\"%s\",\"id\":%u,\"uid\":%" PRIu32
			     ",\"pid\":%" PRIu32 ",\"program\":\"%s\",\"proto\":\"%s\","
			     "\"remote\":\"%s\",\"remote_port\":%u,\"local\":\"%s\",\"local_port\":%u,"
			     "\"reason\":\"%s\"}\n",
			     (long long)ts.tv_sec, ts.tv_nsec / 1000000, event, id, ph->owner.uid,
			     ph->owner.pid, prog, ph->proto == IPPROTO_TCP ? "tcp" : "udp", r,
			     ph->remote_port, l, ph->local_port, esc);
	}
	if (n > 0 && (size_t)n < sizeof(line) && write(event_fd, line, (size_t)n) < 0)
		log_warn("cannot write the event log: %s", strerror(errno));
}
