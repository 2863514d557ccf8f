// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for remote/wire: every message type round trips (parse, then
 * format gives the same line), canonical re-formatting of addresses, each
 * rejection class with its errno and the field it names, the parser's
 * bounds (it is given lines cut out of a larger buffer and must not read
 * past them), the formatter's refusals, errno names both ways. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "remote/wire.h"

static int parse(const char *line, struct remote_msg *m, char *why)
{
	return remote_wire_parse(line, strlen(line), m, why);
}

/* parse, format, compare with the line; and parse the formatted line back
 * into the same struct */
static void round_trip(const char *line)
{
	char why[REMOTE_WIRE_WHY_LEN], buf[REMOTE_WIRE_LINE_MAX + 1], want[REMOTE_WIRE_LINE_MAX + 2];
	struct remote_msg m, back;
	int n;

	if (parse(line, &m, why))
		fail_msg("\"%s\" did not parse: %s", line, why);
	n = remote_wire_format(&m, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%s\n", line);
	if (n < 0)
		fail_msg("\"%s\": format failed: %s", line, strerror(-n));
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(remote_wire_parse(buf, (size_t)n - 1, &back, NULL), 0);
	assert_memory_equal(&m, &back, sizeof(m));
}

static void test_round_trips(void **state)
{
	static const char *const lines[] = {
		"DYPER 1",
		"DYPER 2",
		"DYPER 999",
		"DYPER 1 OK site-1.example.org",
		"DYPER ERR version 2 not supported",
		"DELEGATE hostA",
		"DELEGATE h",
		"1 OPEN tcp 198.51.100.7 * 192.0.2.1 40000 60",
		"18446744073709551615 OPEN udp 198.51.100.7 53 192.0.2.1 1 86400",
		"7 OPEN tcp 2001:db8::7 65535 2001:db8:1::1 21 1",
		"2 CLOSE tcp 198.51.100.7 * 192.0.2.1 40000",
		"3 CLOSE udp 2001:db8::7 5060 2001:db8::1 6000",
		"4 RENEW 120",
		"5 SYNC BEGIN",
		"6 HOLD tcp 203.0.113.9 * 192.0.2.1 40001 300",
		"7 SYNC END",
		"8 PING",
		"9 OK",
		"9 ERR EACCES no rule allows it for delegate hostA",
		"10 ERR EEXIST",
		"11 ERR EDQUOT quota of 100 pinholes reached",
		"12 ERR ETIMEDOUT device did not answer",
		"0 ERR EINVAL field 1: expected a request id",
		"9223372036854775808 PING",
	};
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		round_trip(lines[i]);
}

static void test_fields(void **state)
{
	struct remote_msg m;
	char why[REMOTE_WIRE_WHY_LEN];
	uint8_t a[16];

	assert_int_equal(parse("42 OPEN udp 2001:db8::7 5060 2001:db8::1 6000 30", &m, why), 0);
	assert_int_equal(m.type, REMOTE_MSG_OPEN);
	assert_true(m.id == 42);
	assert_int_equal(m.ph.family, AF_INET6);
	assert_int_equal(m.ph.proto, IPPROTO_UDP);
	assert_int_equal(m.ph.remote_port, 5060);
	assert_int_equal(m.ph.local_port, 6000);
	assert_int_equal(m.lease_s, 30);
	inet_pton(AF_INET6, "2001:db8::7", a);
	assert_memory_equal(m.ph.remote.raw, a, 16);
	inet_pton(AF_INET6, "2001:db8::1", a);
	assert_memory_equal(m.ph.local.raw, a, 16);
	assert_int_equal(m.ph.timeout_ms, 0);

	assert_int_equal(parse("43 OPEN tcp 198.51.100.7 * 192.0.2.1 40000 60", &m, why), 0);
	assert_int_equal(m.ph.family, AF_INET);
	assert_int_equal(m.ph.remote_port, 0);
	assert_int_equal(m.ph.remote.v4.s_addr, inet_addr("198.51.100.7"));
	assert_int_equal(m.ph.local.v4.s_addr, inet_addr("192.0.2.1"));

	assert_int_equal(parse("44 ERR EDQUOT  two  spaces inside the text ", &m, why), 0);
	assert_int_equal(m.err, EDQUOT);
	assert_string_equal(m.text, " two  spaces inside the text ");

	assert_int_equal(parse("DYPER 1 OK site", &m, why), 0);
	assert_int_equal(m.type, REMOTE_MSG_WELCOME);
	assert_int_equal(m.version, 1);
	assert_string_equal(m.name, "site");
}

/* Non-canonical IPv6 spellings parse and are written back canonical. */
static void test_canonical(void **state)
{
	char buf[REMOTE_WIRE_LINE_MAX + 1];
	struct remote_msg m;

	assert_int_equal(parse("1 OPEN tcp 2001:DB8:0:0::7 * 2001:db8:0000::1 80 5", &m, NULL), 0);
	assert_true(remote_wire_format(&m, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "1 OPEN tcp 2001:db8::7 * 2001:db8::1 80 5\n");
}

struct bad {
	const char *line;
	int err;
	const char *why;	/* a part of the explanation */
};

static void test_rejects(void **state)
{
	static const struct bad bad[] = {
		/* empty, spacing */
		{ "", -EINVAL, "expected a request" },
		{ " 1 PING", -EINVAL, "one space" },
		{ "1  PING", -EINVAL, "one space" },
		{ "1 PING ", -EINVAL, "no space at the end" },
		{ "1\tPING", -EINVAL, "printable" },
		{ "1 PING\r", -EINVAL, "printable" },
		{ "1 PING\n", -EINVAL, "printable" },
		{ "1 PI\x80NG", -EINVAL, "printable" },
		/* trailing garbage */
		{ "1 PING x", -EINVAL, "end of the line" },
		{ "1 OK 2", -EINVAL, "end of the line" },
		{ "1 OPEN tcp 198.51.100.7 * 192.0.2.1 40000 60 x", -EINVAL, "end of the line" },
		{ "DYPER 1 OK site extra", -EINVAL, "end of the line" },
		{ "DELEGATE a b", -EINVAL, "end of the line" },
		{ "1 SYNC END now", -EINVAL, "end of the line" },
		/* unknown words, case */
		{ "1 ping", -EINVAL, "OPEN, CLOSE" },
		{ "1 SYNC MIDDLE", -EINVAL, "\"BEGIN\" or \"END\"" },
		{ "dyper 1", -EINVAL, "DYPER, DELEGATE" },
		{ "HELLO", -EINVAL, "DYPER, DELEGATE" },
		{ "1 OPEN icmp 198.51.100.7 * 192.0.2.1 40000 60", -EINVAL, "\"tcp\" or \"udp\"" },
		{ "1 OPEN TCP 198.51.100.7 * 192.0.2.1 40000 60", -EINVAL, "\"tcp\" or \"udp\"" },
		/* numbers: sign, leading zero, overflow, range */
		{ "+1 PING", -EINVAL, "DYPER, DELEGATE or a request id" },
		{ "-1 PING", -EINVAL, "request id" },
		{ "01 PING", -EINVAL, "request id" },
		{ "18446744073709551616 PING", -EINVAL, "request id" },
		{ "0 PING", -EINVAL, "an id 1.." },
		{ "0 OK", -EINVAL, "an id 1.." },
		{ "1 RENEW 0", -EINVAL, "lease" },
		{ "1 RENEW 86401", -EINVAL, "lease" },
		{ "1 RENEW 060", -EINVAL, "lease" },
		{ "1 RENEW", -EINVAL, "found the end of the line" },
		{ "1 OPEN tcp 198.51.100.7 * 192.0.2.1 40000 0", -EINVAL, "lease" },
		{ "1 OPEN tcp 198.51.100.7 * 192.0.2.1 40000", -EINVAL, "lease" },
		{ "1 OPEN tcp 198.51.100.7 * 192.0.2.1 0 60", -EINVAL, "port 1..65535" },
		{ "1 OPEN tcp 198.51.100.7 * 192.0.2.1 65536 60", -EINVAL, "port 1..65535" },
		{ "1 OPEN tcp 198.51.100.7 0 192.0.2.1 80 60", -EINVAL, "or \"*\"" },
		{ "1 OPEN tcp 198.51.100.7 080 192.0.2.1 80 60", -EINVAL, "or \"*\"" },
		{ "1 OPEN tcp 198.51.100.7 * 192.0.2.1 * 60", -EINVAL, "port 1..65535" },
		{ "DYPER 0", -EINVAL, "version" },
		{ "DYPER 1000", -EINVAL, "version" },
		{ "DYPER", -EINVAL, "version" },
		/* addresses */
		{ "1 OPEN tcp 198.51.100 * 192.0.2.1 80 60", -EINVAL, "address" },
		{ "1 OPEN tcp 198.51.100.07 * 192.0.2.1 80 60", -EINVAL, "address" },
		{ "1 OPEN tcp 198.51.100.256 * 192.0.2.1 80 60", -EINVAL, "address" },
		{ "1 OPEN tcp host.example * 192.0.2.1 80 60", -EINVAL, "address" },
		{ "1 OPEN tcp 0.0.0.0 * 192.0.2.1 80 60", -EINVAL, "specified" },
		{ "1 OPEN tcp 2001:db8::7 * :: 80 60", -EINVAL, "specified" },
		{ "1 OPEN tcp 198.51.100.7 * 2001:db8::1 80 60", -EINVAL, "IPv4 address" },
		{ "1 OPEN tcp 2001:db8::7 * 192.0.2.1 80 60", -EINVAL, "IPv6 address" },
		{ "1 OPEN tcp ::ffff:198.51.100.7 * ::ffff:192.0.2.1 80 60", -EINVAL, "v4-mapped" },
		{ "1 OPEN tcp [2001:db8::7] * 2001:db8::1 80 60", -EINVAL, "address" },
		{ "1 OPEN tcp 2001:db8::7%eth0 * 2001:db8::1 80 60", -EINVAL, "address" },
		/* names, errnos, text */
		{ "DELEGATE", -EINVAL, "name" },
		{ "DELEGATE -x", -EINVAL, "name" },
		{ "DELEGATE a/b", -EINVAL, "name" },
		{ "DELEGATE a_b", -EINVAL, "name" },
		{ "DELEGATE aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  -EINVAL, "name" },
		{ "DYPER 1 OK", -EINVAL, "name" },
		{ "DYPER 1 NO site", -EINVAL, "\"OK\"" },
		{ "DYPER ERR", -EINVAL, "text" },
		{ "1 ERR", -EINVAL, "errno name" },
		{ "1 ERR EWHATEVER no such errno", -EINVAL, "errno name" },
		{ "1 ERR eacces", -EINVAL, "errno name" },
		{ "1 ERR EACCES ", -EINVAL, "no space at the end" },
	};
	char why[REMOTE_WIRE_WHY_LEN];
	struct remote_msg m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i].line, &m, why);

		if (r != bad[i].err)
			fail_msg("\"%s\": got %d (%s), want %d", bad[i].line, r, why, bad[i].err);
		if (!strstr(why, bad[i].why))
			fail_msg("\"%s\": why \"%s\" lacks \"%s\"", bad[i].line, why, bad[i].why);
		assert_int_equal(m.type, 0);
	}
}

/* A rejected line keeps its id when the id was read: the reply names it. */
static void test_reject_keeps_id(void **state)
{
	struct remote_msg m;

	assert_int_equal(parse("77 OPEN tcp 198.51.100.7 * 192.0.2.1 0 60", &m, NULL), -EINVAL);
	assert_true(m.id == 77);
	assert_int_equal(parse("x7 PING", &m, NULL), -EINVAL);
	assert_true(m.id == 0);
}

/* Length limit; the quoted token is bounded. */
static void test_too_long(void **state)
{
	char line[REMOTE_WIRE_LINE_MAX + 8], why[REMOTE_WIRE_WHY_LEN];
	struct remote_msg m;
	int n;

	n = snprintf(line, sizeof(line), "1 ERR EIO ");
	memset(line + n, 'x', sizeof(line) - (size_t)n - 1);
	line[sizeof(line) - 1] = 0;
	assert_int_equal(remote_wire_parse(line, REMOTE_WIRE_LINE_MAX, &m, why), -EMSGSIZE);
	assert_non_null(strstr(why, "longer than 511"));
	/* 511 bytes: a length the grammar allows, but the text is over its bound */
	assert_int_equal(remote_wire_parse(line, REMOTE_WIRE_LINE_MAX - 1, &m, why), -EINVAL);
	assert_non_null(strstr(why, "text of 1..200"));
	/* exactly REMOTE_WIRE_TEXT_MAX of text is fine */
	assert_int_equal(remote_wire_parse(line, (size_t)n + REMOTE_WIRE_TEXT_MAX, &m, why), 0);
	assert_int_equal(strlen(m.text), REMOTE_WIRE_TEXT_MAX);
	/* the longest token quoted in a reason stays within why's size */
	assert_int_equal(parse("DELEGATE bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/",
			       &m, why), -EINVAL);
	assert_true(strlen(why) < REMOTE_WIRE_WHY_LEN);
	assert_non_null(strstr(why, "...\""));
}

/*
 * The parser is given a line right at the end of a readable page, with an
 * inaccessible page after it: reading one byte too far faults.  Every
 * prefix of a few lines, so every "ran out in the middle of a token" case.
 */
static void test_never_reads_past(void **state)
{
	static const char *const lines[] = {
		"1 OPEN tcp 198.51.100.7 * 192.0.2.1 40000 60",
		"1 OPEN udp 2001:db8::7 5060 2001:db8::1 6000 30",
		"2 ERR EACCES not yours",
		"DYPER 1 OK site",
		"DELEGATE hostA",
		"3 SYNC BEGIN",
	};
	long pg = sysconf(_SC_PAGESIZE);
	char *map;
	size_t i, k;

	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t len = strlen(lines[i]);

		for (k = 0; k <= len; k++) {
			char *at = map + pg - k;
			struct remote_msg m;
			char why[REMOTE_WIRE_WHY_LEN];
			int r;

			memcpy(at, lines[i], k);
			r = remote_wire_parse(at, k, &m, why);
			/* only the whole line, or a prefix that is itself a line */
			if (k == len)
				assert_int_equal(r, 0);
		}
	}
	munmap(map, (size_t)pg * 2);
}

static void test_format_refuses(void **state)
{
	char buf[REMOTE_WIRE_LINE_MAX + 1];
	struct remote_msg m;

	memset(&m, 0, sizeof(m));
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);	/* no type */
	m.type = REMOTE_MSG_PING;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);	/* id 0 */
	m.id = 1;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), 7);
	assert_int_equal(remote_wire_format(&m, buf, 7), -ENOSPC);
	m.type = REMOTE_MSG_ERR;
	m.err = 9999;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);	/* nameless errno */
	m.err = EACCES;
	strcpy(m.text, "bad\nline");
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.text[0] = 0;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), (int)strlen("1 ERR EACCES\n"));

	memset(&m, 0, sizeof(m));
	assert_int_equal(parse("1 OPEN tcp 198.51.100.7 * 192.0.2.1 40000 60", &m, NULL), 0);
	m.lease_s = 0;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.lease_s = 60;
	m.ph.local_port = 0;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.ph.local_port = 80;
	m.ph.proto = IPPROTO_SCTP;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.ph.proto = IPPROTO_TCP;
	m.ph.local.v4.s_addr = 0;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);

	memset(&m, 0, sizeof(m));
	m.type = REMOTE_MSG_DELEGATE;
	strcpy(m.name, "a b");
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);
	m.type = REMOTE_MSG_REFUSE;
	m.name[0] = 0;
	assert_int_equal(remote_wire_format(&m, buf, sizeof(buf)), -EINVAL);	/* no reason */
}

static void test_errno_names(void **state)
{
	static const int errs[] = { EACCES, EEXIST, EDQUOT, ETIMEDOUT, ENOENT, EPERM,
				    ENFILE, EINVAL, EPROTO, ECONNRESET };
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const char *n = remote_errno_name(errs[i]);

		assert_non_null(n);
		assert_int_equal(remote_errno_from_name(n, strlen(n)), errs[i]);
	}
	assert_string_equal(remote_errno_name(EDQUOT), "EDQUOT");
	assert_null(remote_errno_name(0));
	assert_null(remote_errno_name(-EACCES));
	assert_int_equal(remote_errno_from_name("EACCESS", 7), 0);
	assert_int_equal(remote_errno_from_name("EACCES", 5), 0);
	assert_true(remote_msg_is_request(REMOTE_MSG_HOLD));
	assert_false(remote_msg_is_request(REMOTE_MSG_DELEGATE));
	assert_false(remote_msg_is_request(REMOTE_MSG_HELLO));
	assert_false(remote_msg_is_request(REMOTE_MSG_OK));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_reject_keeps_id),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_never_reads_past),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_errno_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
