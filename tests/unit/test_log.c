// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for dyperd's log limiter (dyperd/log.c): the window logic, the
 * summaries it owes, and the bound on "deny" events in the JSON file. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dyperd/log.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A burst passes, the rest is counted; nothing is owed within the window. */
static void test_burst(void **state)
{
	struct log_limit l = { .what = "t" };
	uint32_t report;

	for (int i = 0; i < LOG_LIMIT_BURST; i++) {
		assert_true(log_limit_check(&l, 1000 + (uint64_t)i, &report));
		assert_int_equal(report, 0);
	}
	for (int i = 0; i < 1000; i++) {
		assert_false(log_limit_check(&l, 2000, &report));
		assert_int_equal(report, 0);
	}
	assert_int_equal(l.suppressed, 1000);
	/* the last moment of the window: still suppressed */
	assert_false(log_limit_check(&l, 1000 + LOG_LIMIT_WINDOW_MS - 1, &report));
	assert_int_equal(report, 0);
}

/* The first line of the next window passes and owes the count before it. */
static void test_next_window(void **state)
{
	struct log_limit l = { .what = "t" };
	uint32_t report;

	for (int i = 0; i < LOG_LIMIT_BURST + 7; i++)
		log_limit_check(&l, 5000, &report);
	assert_true(log_limit_check(&l, 5000 + LOG_LIMIT_WINDOW_MS, &report));
	assert_int_equal(report, 7);
	assert_int_equal(l.suppressed, 0);
	/* a fresh burst in the new window, then suppression again */
	for (int i = 1; i < LOG_LIMIT_BURST; i++)
		assert_true(log_limit_check(&l, 5001 + LOG_LIMIT_WINDOW_MS, &report));
	assert_false(log_limit_check(&l, 5001 + LOG_LIMIT_WINDOW_MS, &report));
	assert_int_equal(report, 0);
	/* a quiet window owes nothing */
	l.suppressed = 0;
	assert_true(log_limit_check(&l, 5000 + 3 * LOG_LIMIT_WINDOW_MS, &report));
	assert_int_equal(report, 0);
}

/* Time 0 (a clock just started) is a valid first moment. */
static void test_time_zero(void **state)
{
	struct log_limit l = { .what = "t" };
	uint32_t report;

	for (int i = 0; i < LOG_LIMIT_BURST; i++)
		assert_true(log_limit_check(&l, 0, &report));
	assert_false(log_limit_check(&l, 0, &report));
	assert_false(log_limit_check(&l, 1, &report));
	assert_true(log_limit_check(&l, LOG_LIMIT_WINDOW_MS + 1, &report));
	assert_int_equal(report, 2);
}

/* expire: owes the count once the window is over, and only then. */
static void test_expire(void **state)
{
	struct log_limit l = { .what = "t" };
	uint32_t report;

	for (int i = 0; i < LOG_LIMIT_BURST + 3; i++)
		log_limit_check(&l, 100, &report);
	log_limit_expire(&l, 100 + LOG_LIMIT_WINDOW_MS - 1, &report);
	assert_int_equal(report, 0);
	log_limit_expire(&l, 100 + LOG_LIMIT_WINDOW_MS, &report);
	assert_int_equal(report, 3);
	log_limit_expire(&l, 100 + 5 * LOG_LIMIT_WINDOW_MS, &report);
	assert_int_equal(report, 0);
	/* after the summary, a new window: a burst passes again */
	assert_true(log_limit_check(&l, 100 + LOG_LIMIT_WINDOW_MS + 1, &report));
	assert_int_equal(report, 0);
}

/* Counting saturates rather than wrapping to "0 suppressed". */
static void test_saturates(void **state)
{
	struct log_limit l = { .what = "t", .started = true, .start_ms = 1,
			       .n = LOG_LIMIT_BURST, .suppressed = UINT32_MAX - 1 };
	uint32_t report;

	assert_false(log_limit_check(&l, 2, &report));
	assert_false(log_limit_check(&l, 3, &report));
	assert_int_equal(l.suppressed, UINT32_MAX);
}

static size_t count_in(const char *path, const char *needle)
{
	char line[2048];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/*
 * The JSON file: "deny" events pass LOG_LIMIT_BURST per window, other events
 * all; log_limit_flush() writes one "suppressed" event with the count once
 * the window is over, and owes nothing after that.
 */
static void test_deny_events(void **state)
{
	char path[] = "/tmp/test_log.XXXXXX";
	const char *deny = "{\"event\":\"deny\"}\n", *open = "{\"event\":\"open\"}\n";
	char count[64];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	log_init(false, LOG_ERR);	/* summaries are notices: none to syslog */
	assert_int_equal(log_events_open(path), 0);
	for (int i = 0; i < 500; i++)
		log_event_line(true, deny, strlen(deny));
	for (int i = 0; i < 50; i++)
		log_event_line(false, open, strlen(open));
	assert_int_equal(count_in(path, "\"event\":\"deny\""), LOG_LIMIT_BURST);
	assert_int_equal(count_in(path, "\"event\":\"open\""), 50);
	assert_int_equal(count_in(path, "\"event\":\"suppressed\""), 0);

	assert_int_equal(log_limit_flush(mono_ms()), 0);	/* window not over */
	assert_int_equal(log_limit_flush(mono_ms() + LOG_LIMIT_WINDOW_MS), 1);
	snprintf(count, sizeof(count), "\"count\":%d,", 500 - LOG_LIMIT_BURST);
	assert_int_equal(count_in(path, "\"event\":\"suppressed\""), 1);
	assert_int_equal(count_in(path, count), 1);
	assert_int_equal(log_limit_flush(mono_ms() + 3 * LOG_LIMIT_WINDOW_MS), 0);
	assert_int_equal(log_events_open(""), 0);
	unlink(path);
}

/* Log lines: two call sites are limited apart; flush owes one summary each. */
static void test_call_sites(void **state)
{
	log_init(false, LOG_DEBUG);
	log_set_level(LOG_WARNING);
	for (int i = 0; i < 100; i++) {
		log_limited(LOG_DEBUG, "below the level", "not counted %d", i);
		log_limited(LOG_WARNING, "site a", "a %d", i);
		log_limited(LOG_WARNING, "site b", "b %d", i);
	}
	/* both owe (lines below the level are not even counted) */
	assert_int_equal(log_limit_flush(mono_ms() + LOG_LIMIT_WINDOW_MS), 2);
	assert_int_equal(log_limit_flush(mono_ms() + 2 * LOG_LIMIT_WINDOW_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_next_window),
		cmocka_unit_test(test_time_zero),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_saturates),
		cmocka_unit_test(test_deny_events),
		cmocka_unit_test(test_call_sites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
