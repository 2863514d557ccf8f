// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of dyperd/events.c and metrics.c: watch's filter parser
 * (strict, quoting the bad token) and matcher, the JSON of an event (null
 * where there is no value), a watcher's bounded buffer (every event
 * delivered or counted as dropped, the count announced in-stream), the
 * history ring, the histograms' cumulative buckets.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dyperd/daemon.h"
#include "dyperd/events.h"
#include "dyperd/log.h"
#include "dyperd/metrics.h"

static struct pinhole sample(uint16_t lport, uint32_t uid, const char *prog)
{
	struct pinhole ph = { .family = AF_INET, .proto = IPPROTO_TCP, .local_port = lport };

	inet_pton(AF_INET, "198.51.100.7", ph.remote.raw);
	inet_pton(AF_INET, "192.0.2.1", ph.local.raw);
	ph.owner.uid = uid;
	ph.owner.pid = 42;
	snprintf(ph.owner.program, sizeof(ph.owner.program), "%s", prog);
	return ph;
}

static int parse(struct event_filter *f, char *err, const char *line)
{
	char buf[256], *argv[16], *save = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 16; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	err[0] = '\0';
	return event_filter_parse(f, argv, argc, err, 256);
}

static void test_filter_parse(void **state)
{
	struct event_filter f;
	char err[256];

	assert_int_equal(parse(&f, err, "--uid 1000 --program vsftp* --remote 2001:db8::1 "
			       "--port 21 --event open,close"), 0);
	assert_true(f.has_uid);
	assert_int_equal(f.uid, 1000);
	assert_string_equal(f.program, "vsftp*");
	assert_int_equal(f.family, AF_INET6);
	assert_int_equal(f.port, 21);
	assert_int_equal(f.types, (1u << EVENT_OPEN) | (1u << EVENT_CLOSE));
	assert_int_equal(parse(&f, err, ""), 0);
	assert_int_equal(f.types, 0);

	assert_int_equal(parse(&f, err, "--uid -1"), -EINVAL);
	assert_non_null(strstr(err, "\"-1\""));
	assert_int_equal(parse(&f, err, "--uid 4294967295"), -EINVAL);	/* no user */
	assert_int_equal(parse(&f, err, "--port 0"), -EINVAL);
	assert_int_equal(parse(&f, err, "--port 65536"), -EINVAL);
	assert_int_equal(parse(&f, err, "--port 21x"), -EINVAL);
	assert_non_null(strstr(err, "\"21x\""));
	assert_int_equal(parse(&f, err, "--remote 198.51.100"), -EINVAL);
	assert_int_equal(parse(&f, err, "--event open,,"), -EINVAL);	/* no empty item */
	assert_int_equal(parse(&f, err, "--event open,"), -EINVAL);
	assert_int_equal(parse(&f, err, "--event ,"), -EINVAL);
	assert_int_equal(parse(&f, err, "--event open,expire"), -EINVAL);
	assert_non_null(strstr(err, "\"open,expire\""));
	assert_int_equal(parse(&f, err, "--uid"), -EINVAL);	/* no value */
	assert_int_equal(parse(&f, err, "--verbose 1"), -EINVAL);
	assert_non_null(strstr(err, "\"--verbose\""));
}

static void test_filter_match(void **state)
{
	struct pinhole ph = sample(21, 1000, "vsftpd");
	struct event ev, repair;
	struct event_filter f;
	char err[256];

	event_init(&ev, EVENT_OPEN, &ph, 3, 2, "granted");
	event_init(&repair, EVENT_REPAIR, NULL, 0, 0, "table restored");
	assert_int_equal(parse(&f, err, ""), 0);
	assert_true(event_filter_match(&f, &ev));
	assert_true(event_filter_match(&f, &repair));
	assert_int_equal(parse(&f, err, "--uid 1000 --program vs* --remote 198.51.100.7 --port 21"), 0);
	assert_true(event_filter_match(&f, &ev));
	/* a repair of the whole table has no owner or address to match */
	assert_false(event_filter_match(&f, &repair));
	assert_int_equal(parse(&f, err, "--uid 1001"), 0);
	assert_false(event_filter_match(&f, &ev));
	assert_int_equal(parse(&f, err, "--program ftp"), 0);
	assert_false(event_filter_match(&f, &ev));
	assert_int_equal(parse(&f, err, "--remote 198.51.100.8"), 0);
	assert_false(event_filter_match(&f, &ev));
	assert_int_equal(parse(&f, err, "--remote ::ffff:198.51.100.7"), 0);
	assert_false(event_filter_match(&f, &ev));	/* another family */
	assert_int_equal(parse(&f, err, "--port 22"), 0);
	assert_false(event_filter_match(&f, &ev));
	assert_int_equal(parse(&f, err, "--event close,deny"), 0);
	assert_false(event_filter_match(&f, &ev));
	assert_int_equal(parse(&f, err, "--event repair"), 0);
	assert_true(event_filter_match(&f, &repair));
}

static char *format(const struct event *ev, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	event_format(f, ev, json);
	fclose(f);
	return buf;
}

static void test_json(void **state)
{
	struct pinhole ph = sample(40000, 1000, "a\"b");
	struct event ev;
	char *s;

	event_init(&ev, EVENT_DENY, &ph, 0, 7, "denied by policy:7");
	ev.time_ms = 1795374251742ull;
	s = format(&ev, true);
	assert_string_equal(s, "{\"schema\":1,\"time\":1795374251.742,\"event\":\"deny\",\"id\":null,"
			    "\"uid\":1000,\"pid\":42,\"program\":\"a\\\"b\",\"proto\":\"tcp\","
			    "\"remote\":\"198.51.100.7\",\"remote_port\":null,\"local\":\"192.0.2.1\","
			    "\"local_port\":40000,\"rule_line\":7,\"reason\":\"denied by policy:7\"}\n");
	free(s);

	ph.remote_port = 2121;
	event_init(&ev, EVENT_CLOSE, &ph, 9, 0, "its socket was closed");
	ev.time_ms = 5;
	ev.cause = CLOSE_SOCKET;
	ev.has_duration = true;
	ev.duration_ms = 4;
	s = format(&ev, true);
	assert_non_null(strstr(s, "\"time\":0.005,"));
	assert_non_null(strstr(s, "\"id\":9,"));
	assert_non_null(strstr(s, "\"remote_port\":2121,"));
	assert_null(strstr(s, "rule_line"));		/* unknown: left out */
	assert_non_null(strstr(s, "\"cause\":\"socket-closed\",\"duration_ms\":4,"
			       "\"packets\":null,\"bytes\":null,"));
	free(s);
	s = format(&ev, false);
	assert_non_null(strstr(s, " close  tcp 198.51.100.7:2121 -> 192.0.2.1:40000 id 9 uid 1000 "
			       "pid 42 (a\"b) after 4 ms: socket-closed (its socket was closed)\n"));
	free(s);
}

static unsigned wakes;

static void wake(struct dyperd *d, void *arg)
{
	wakes++;
}

static unsigned count(const char *s, size_t len, const char *needle)
{
	unsigned n = 0;

	for (const char *p = s; p < s + len && (p = memmem(p, (size_t)(s + len - p), needle,
							     strlen(needle))); p++)
		n++;
	return n;
}

static void test_watch_bounded(void **state)
{
	static struct dyperd d;
	struct pinhole ph = sample(21, 1000, "vsftpd");
	struct event_filter all = { 0 };
	struct event_watch *w;
	struct event ev;
	unsigned got = 0, lost = 0, n = 0;
	char *p;

	log_init(false, LOG_ERR);	/* the events' syslog lines: not here */
	assert_int_equal(events_init(&d), 0);
	w = event_watch_add(&d, &all, true, wake, NULL);
	assert_non_null(w);
	/* nobody reads: the buffer fills, then events are counted as dropped */
	for (n = 0; n < 5000; n++) {
		event_init(&ev, EVENT_OPEN, &ph, n + 1, 1, "granted");
		events_emit(&d, &ev);
	}
	assert_true(w->len <= EVENT_WATCH_BUF);
	assert_true(w->dropped > 0);
	assert_int_equal(d.events.dropped, w->dropped);
	got = count(w->buf, w->len, "\"event\":\"open\"");
	assert_int_equal(got + w->dropped, n);
	/* the reader takes a little: still dropping (hysteresis), no summary */
	event_watch_sent(w, 100);
	assert_int_equal(count(w->buf + w->off, w->len - w->off, "dropped"), 0);
	/* it takes everything: the summary comes first, then new events */
	lost = (unsigned)w->dropped;
	event_watch_sent(w, w->len - w->off);
	assert_int_equal(w->dropped, 0);
	p = strndup(w->buf + w->off, w->len - w->off);
	assert_non_null(p);
	assert_true(strstr(p, "{\"schema\":1,\"event\":\"dropped\",\"count\":") == p);
	assert_int_equal(atoi(p + strlen("{\"schema\":1,\"event\":\"dropped\",\"count\":")), lost);
	free(p);
	events_emit(&d, &ev);
	assert_int_equal(count(w->buf + w->off, w->len - w->off, "\"event\":\"open\""), 1);
	assert_true(wakes > 0);
	events_free(&d);
	assert_null(d.events.watchers);
}

static void test_history(void **state)
{
	static struct dyperd d;
	struct pinhole ph = sample(21, 1000, "vsftpd");
	struct event ev;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	log_init(false, LOG_ERR);
	assert_int_equal(events_init(&d), 0);
	for (unsigned i = 1; i <= EVENT_HISTORY + 100; i++) {
		event_init(&ev, i % 2 ? EVENT_CLOSE : EVENT_OPEN, &ph, i, 1, "x");
		events_emit(&d, &ev);
	}
	/* only the closes, the newest EVENT_HISTORY of them */
	assert_int_equal(d.events.closes.n, (EVENT_HISTORY + 100 + 1) / 2);
	for (unsigned i = 1; i <= EVENT_HISTORY + 100; i++) {
		event_init(&ev, EVENT_STALE, &ph, 100000 + i, 1, "stale");
		events_emit(&d, &ev);
	}
	assert_int_equal(d.events.closes.n, EVENT_HISTORY);
	f = open_memstream(&buf, &len);
	events_put_recent(&d, f, true);
	fclose(f);
	/* oldest first: the first kept is 100000 + 101 */
	assert_non_null(strstr(buf, "[{\"schema\":1,"));
	assert_true(strstr(buf, "\"id\":100101,") < strstr(buf, "\"id\":101124,"));
	assert_null(strstr(buf, "\"id\":100100,"));
	assert_int_equal(d.events.counts[EVENT_STALE], EVENT_HISTORY + 100);
	assert_int_equal(d.events.by_cause[CLOSE_SOCKET], (EVENT_HISTORY + 100 + 1) / 2 +
			 EVENT_HISTORY + 100);
	free(buf);
	events_free(&d);
}

static void test_histogram(void **state)
{
	struct histogram h = { 0 };

	histogram_observe(&h, 40000);		/* 40 us */
	histogram_observe(&h, 2000000);		/* 2 ms */
	histogram_observe(&h, 10000000000ull);	/* 10 s: only +Inf */
	assert_int_equal(h.count, 3);
	assert_int_equal(h.le[0], 1);			/* 50 us */
	assert_int_equal(h.le[4], 1);			/* 1 ms */
	assert_int_equal(h.le[5], 2);			/* 2.5 ms */
	assert_int_equal(h.le[METRICS_BUCKETS - 1], 2);	/* 5 s */
	assert_int_equal(h.sum_ns, 10002040000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_parse),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_watch_bounded),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_histogram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
