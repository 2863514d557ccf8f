// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for dyperd/policy: the matcher against a table of requests,
 * parser errors (position and quoted token), limits, loading, rule texts
 * and the program= glob against fnmatch(3).  Names used resolve on a fresh
 * Debian: users root (0), daemon (1), nobody (65534); groups root (0),
 * daemon (1), nogroup (65534). */

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "dyperd/policy.h"

/* --- requests written as text ------------------------------------------ */

/*
 * "PROTO REMOTE LOCAL [uid=N] [gids=A,B] [dlg=N] [prog=PATH] [exe=PATH] [t=MIN]",
 * REMOTE and LOCAL as 192.0.2.1:80 or [2001:db8::1]:80, port 0 = any.
 * Defaults: uid 1000, gids 1000, delegate gid 1 (daemon), no program,
 * minute 720 (noon).
 */
struct req_buf {
	struct policy_request r;
	uint32_t gids[8];
	char prog[256];
	char exe[256];
};

static void parse_endpoint(const char *s, uint8_t *family, uint8_t addr[16], uint16_t *port)
{
	char host[64];
	const char *colon;
	int af;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		assert_non_null(close);
		assert_true(close[1] == ':');
		snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
		colon = close + 1;
		af = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		assert_non_null(colon);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
		af = AF_INET;
	}
	memset(addr, 0, 16);
	assert_int_equal(inet_pton(af, host, addr), 1);
	if (*family)
		assert_int_equal(*family, af);
	*family = (uint8_t)af;
	*port = (uint16_t)atoi(colon + 1);
}

static void req_from(struct req_buf *b, const char *text)
{
	char copy[512], *save = NULL, *w;
	int i = 0;

	memset(b, 0, sizeof(*b));
	b->r.uid = 1000;
	b->gids[0] = 1000;
	b->r.gids = b->gids;
	b->r.n_gids = 1;
	b->r.delegate_gid = 1;
	b->r.minute_of_day = 720;
	snprintf(copy, sizeof(copy), "%s", text);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save), i++) {
		if (i == 0) {
			b->r.proto = strcmp(w, "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
		} else if (i == 1) {
			parse_endpoint(w, &b->r.family, b->r.remote, &b->r.remote_port);
		} else if (i == 2) {
			parse_endpoint(w, &b->r.family, b->r.local, &b->r.local_port);
		} else if (strncmp(w, "uid=", 4) == 0) {
			b->r.uid = (uint32_t)strtoul(w + 4, NULL, 10);
		} else if (strncmp(w, "gids=", 5) == 0) {
			char *g = w + 5;

			b->r.n_gids = 0;
			while (*g) {
				assert_true(b->r.n_gids < 8);
				b->gids[b->r.n_gids++] = (uint32_t)strtoul(g, &g, 10);
				if (*g == ',')
					g++;
			}
		} else if (strncmp(w, "dlg=", 4) == 0) {
			b->r.delegate_gid = (uint32_t)strtoul(w + 4, NULL, 10);
		} else if (strncmp(w, "prog=", 5) == 0) {
			snprintf(b->prog, sizeof(b->prog), "%s", w + 5);
			/* "%20" stands for a space, which the split above eats */
			for (char *c = strstr(b->prog, "%20"); c; c = strstr(c, "%20")) {
				*c = ' ';
				memmove(c + 1, c + 3, strlen(c + 3) + 1);
			}
			b->r.program = b->prog;
		} else if (strncmp(w, "exe=", 4) == 0) {
			snprintf(b->exe, sizeof(b->exe), "%s", w + 4);
			b->r.exe = b->exe;
		} else if (strncmp(w, "t=", 2) == 0) {
			b->r.minute_of_day = atoi(w + 2);
		} else {
			fail_msg("bad request word %s", w);
		}
	}
	assert_true(i >= 3);
}

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	char err[POLICY_ERR_LEN];
	int ret = policy_parse(&p, text, strlen(text), "t.pol", err, sizeof(err));

	if (ret)
		fail_msg("policy did not parse (%d): %s\n%s", ret, err, text);
	assert_non_null(p);
	return p;
}

/* --- the matcher table --------------------------------------------------- */

static const char P_CIDR[] =
	"allow daemon * tcp 192.0.2.0/24 * 198.51.100.7 40000-40100\n"
	"allow daemon * udp 2001:db8::/32 * 2001:db8:1::1 5000,5004-5006\n"
	"allow daemon * * 203.0.113.7 * * 21\n";

static const char P_FAMILY[] =
	"allow * * tcp 192.0.2.0/24 * * 7000\n"
	"allow * * tcp * * 2001:db8::/48 7001\n"
	"allow * * tcp 0.0.0.0/0 * * 7002\n"
	"allow * * tcp ::/0 * * 7003\n"
	"allow * * tcp ::ffff:192.0.2.0/120 * * 7004\n"
	"allow * * tcp 2001:db8::7 * 192.0.2.1,2001:db8::1 7005\n";

static const char P_DENY[] =
	"allow * * * * * * 1024-65535 lifetime=5m max=10\n"
	"deny * * * 192.0.2.66 * * *\n"
	"deny * * tcp * * * 6000-6063\n"
	"allow * * tcp 192.0.2.0/24 * * 6000 max=3\n";

static const char P_RPORT[] =
	"allow * * tcp * 20 * 1024-65535\n"
	"allow * * udp * 5060,10000-20000 * 5060\n"
	"allow * * tcp * * * 2811\n";

static const char P_USERS[] =
	"allow * root tcp * * * 100\n"
	"allow * 1,nobody tcp * * * 101\n"
	"allow * @nogroup tcp * * * 102\n"
	"allow * @0 tcp * * * 103\n"
	"deny * @daemon tcp * * * 100-103\n";

static const char P_DELEGATE[] =
	"allow daemon,nogroup * tcp * * * 200\n"
	"allow 0 * tcp * * * 201\n";

static const char P_PROGRAM[] =
	"allow * * tcp * * * 21,1024-65535 program=/usr/sbin/vsftpd\n"
	"allow * * tcp * * * 2811 program=/usr/sbin/globus-gridftp-server*\n"
	"allow * * tcp * * * 3000 program=/usr/bin/python3.[0-9]*\n"
	"deny * * tcp * * * 3000 program=*/evil\n"
	"allow * * tcp * * * 3001 program=/opt/[!x]?/bin/*d\n";

static const char P_TIME[] =
	"allow * * tcp * * * 300 time=08:00-18:00\n"
	"allow * * tcp * * * 301 time=22:00-06:00\n"
	"deny * * tcp * * * 300,301 time=12:00-13:00\n";

static const char P_LIMITS[] =
	"allow * * tcp * * * 400 max=5 lifetime=250ms\n"
	"allow * * tcp * * * 400-401 max=1000000 lifetime=2h\n"
	"allow * * tcp * * * 402 lifetime=1d\n"
	"allow * * tcp * * * 403 lifetime=90\n"
	"allow * * tcp * * * 404\n"
	"allow * * tcp * * * 405 lifetime=4294967295ms max=1\n";

static const char P_LAYOUT[] =
	"# Dyper policy\n"
	"\n"
	"   \t\n"
	"allow\t*  *  tcp * * * 500 # trailing comment\n"
	"#deny * * * * * * *\n"
	"  allow * * udp * * * 500";		/* no final newline */

struct match_case {
	const char *policy;
	const char *req;
	bool allowed;
	unsigned line;
	uint32_t max, lifetime_ms;
};

static const struct match_case match_cases[] = {
	/* IPv4 and IPv6 prefixes, lists and ranges */
	{ P_CIDR, "tcp 192.0.2.9:0 198.51.100.7:40000", true, 1, 0, 0 },
	{ P_CIDR, "tcp 192.0.2.9:0 198.51.100.7:40100", true, 1, 0, 0 },
	{ P_CIDR, "tcp 192.0.2.9:0 198.51.100.7:40101", false, 0, 0, 0 },
	{ P_CIDR, "tcp 192.0.3.1:0 198.51.100.7:40000", false, 0, 0, 0 },
	{ P_CIDR, "tcp 192.0.2.9:0 198.51.100.8:40000", false, 0, 0, 0 },
	{ P_CIDR, "udp 192.0.2.9:0 198.51.100.7:40000", false, 0, 0, 0 },
	{ P_CIDR, "udp [2001:db8:ffff::1]:0 [2001:db8:1::1]:5005", true, 2, 0, 0 },
	{ P_CIDR, "udp [2001:db9::1]:0 [2001:db8:1::1]:5005", false, 0, 0, 0 },
	{ P_CIDR, "udp [2001:db8::1]:0 [2001:db8:1::1]:5003", false, 0, 0, 0 },
	{ P_CIDR, "udp [2001:db8::1]:0 [2001:db8:1::1]:5000", true, 2, 0, 0 },
	{ P_CIDR, "udp [2001:db8::1]:0 [2001:db8:1::1]:5006", true, 2, 0, 0 },
	{ P_CIDR, "tcp 203.0.113.7:0 192.0.2.1:21", true, 3, 0, 0 },
	{ P_CIDR, "udp 203.0.113.7:0 192.0.2.1:21", true, 3, 0, 0 },
	{ P_CIDR, "tcp 203.0.113.7:0 192.0.2.1:21 dlg=65534", false, 0, 0, 0 },
	/* an IPv4 entry never matches IPv6, not even v4-mapped, nor the reverse */
	{ P_CIDR, "udp [::ffff:203.0.113.7]:0 [2001:db8::5]:21", false, 0, 0, 0 },
	{ P_FAMILY, "tcp [2001:db8::1]:0 [2001:db8::2]:7000", false, 0, 0, 0 },
	{ P_FAMILY, "tcp 192.0.2.1:0 198.51.100.1:7001", false, 0, 0, 0 },
	{ P_FAMILY, "tcp [2001:db8::1]:0 [2001:db8:0:1::2]:7001", true, 2, 0, 0 },
	{ P_FAMILY, "tcp [2001:db8::1]:0 [2001:db8:1::2]:7001", false, 0, 0, 0 },
	{ P_FAMILY, "tcp 198.51.100.1:0 203.0.113.1:7002", true, 3, 0, 0 },
	{ P_FAMILY, "tcp [2001:db8::1]:0 [2001:db8::2]:7002", false, 0, 0, 0 },
	{ P_FAMILY, "tcp [2001:db8::1]:0 [2001:db8::2]:7003", true, 4, 0, 0 },
	{ P_FAMILY, "tcp 192.0.2.1:0 203.0.113.1:7003", false, 0, 0, 0 },
	{ P_FAMILY, "tcp 192.0.2.1:0 203.0.113.1:7004", false, 0, 0, 0 },
	{ P_FAMILY, "tcp [::ffff:192.0.2.1]:0 [2001:db8::2]:7004", true, 5, 0, 0 },
	{ P_FAMILY, "tcp [2001:db8::7]:0 [2001:db8::1]:7005", true, 6, 0, 0 },
	{ P_FAMILY, "tcp [2001:db8::7]:0 [2001:db8::2]:7005", false, 0, 0, 0 },
	/* deny over allow, wherever it stands */
	{ P_DENY, "tcp 192.0.2.1:0 198.51.100.1:40000", true, 1, 10, 300000 },
	{ P_DENY, "tcp 192.0.2.66:0 198.51.100.1:40000", false, 2, 0, 0 },
	{ P_DENY, "tcp 192.0.2.1:0 198.51.100.1:6000", false, 3, 0, 0 },
	{ P_DENY, "udp 192.0.2.1:0 198.51.100.1:6000", true, 1, 10, 300000 },
	{ P_DENY, "tcp 192.0.2.1:0 198.51.100.1:80", false, 0, 0, 0 },
	{ P_DENY, "udp 192.0.2.66:53 198.51.100.1:53", false, 2, 0, 0 },
	/* a request for any remote port (0) only passes REMOTE-PORTS * */
	{ P_RPORT, "tcp 192.0.2.1:20 198.51.100.1:40000", true, 1, 0, 0 },
	{ P_RPORT, "tcp 192.0.2.1:0 198.51.100.1:40000", false, 0, 0, 0 },
	{ P_RPORT, "tcp 192.0.2.1:21 198.51.100.1:40000", false, 0, 0, 0 },
	{ P_RPORT, "udp 192.0.2.1:15000 198.51.100.1:5060", true, 2, 0, 0 },
	{ P_RPORT, "udp 192.0.2.1:0 198.51.100.1:5060", false, 0, 0, 0 },
	{ P_RPORT, "tcp 192.0.2.1:0 198.51.100.1:2811", true, 3, 0, 0 },
	{ P_RPORT, "tcp 192.0.2.1:65535 198.51.100.1:2811", true, 3, 0, 0 },
	/* users: names, uids, @group by name and gid, supplementary groups */
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:100 uid=0 gids=0", true, 1, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:100", false, 0, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:101 uid=65534 gids=65534", true, 2, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:101 uid=1 gids=1", false, 5, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:102 gids=1000,65534", true, 3, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:102 gids=100", false, 0, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:103 uid=5 gids=5,0", true, 4, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:100 uid=0 gids=0,1", false, 5, 0, 0 },
	{ P_USERS, "tcp 192.0.2.1:0 198.51.100.1:102 uid=65534 gids=", false, 0, 0, 0 },
	/* delegates */
	{ P_DELEGATE, "tcp 192.0.2.1:0 198.51.100.1:200 dlg=1", true, 1, 0, 0 },
	{ P_DELEGATE, "tcp 192.0.2.1:0 198.51.100.1:200 dlg=65534", true, 1, 0, 0 },
	{ P_DELEGATE, "tcp 192.0.2.1:0 198.51.100.1:200 dlg=0", false, 0, 0, 0 },
	{ P_DELEGATE, "tcp 192.0.2.1:0 198.51.100.1:201 dlg=0", true, 2, 0, 0 },
	{ P_DELEGATE, "tcp 192.0.2.1:0 198.51.100.1:201 dlg=1", false, 0, 0, 0 },
	/* program globs */
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:21 prog=/usr/sbin/vsftpd", true, 1, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:21 prog=/usr/sbin/vsftpd.bak", false, 0, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:21", false, 0, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:21 prog=/usr/sbin/vsftpd%20(deleted)", false, 0, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:2811 prog=/usr/sbin/globus-gridftp-server-6", true, 2, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:2811 prog=/usr/sbin/globus-gridftp-serve", false, 0, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3000 prog=/usr/bin/python3.11", true, 3, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3000 prog=/usr/bin/python3.x", false, 0, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3000 prog=/tmp/evil", false, 4, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3001 prog=/opt/ab/bin/sub/ftpd", true, 5, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3001 prog=/opt/xb/bin/ftpd", false, 0, 0, 0 },
	/* what the process runs now, when dyperd cannot vouch for it as its
	 * program (another than dyper-wrap started): deny rules only */
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:21 exe=/usr/sbin/vsftpd", false, 0, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3000 exe=/usr/bin/python3.11", false, 0, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3000 exe=/tmp/evil", false, 4, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3000 prog=/usr/bin/python3.11 exe=/tmp/evil",
	  false, 4, 0, 0 },
	{ P_PROGRAM, "tcp 192.0.2.1:0 198.51.100.1:3000 prog=/usr/bin/python3.11 "
	  "exe=/usr/bin/python3.11", true, 3, 0, 0 },
	/* time windows, end exclusive, one wrapping past midnight */
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:300 t=480", true, 1, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:300 t=1079", true, 1, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:300 t=1080", false, 0, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:300 t=479", false, 0, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:300 t=750", false, 3, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:301 t=1380", true, 2, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:301 t=0", true, 2, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:301 t=359", true, 2, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:301 t=360", false, 0, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:301 t=1319", false, 0, 0, 0 },
	{ P_TIME, "tcp 192.0.2.1:0 198.51.100.1:301 t=1439", true, 2, 0, 0 },
	/* max= and lifetime= come from the first matching allow */
	{ P_LIMITS, "tcp 192.0.2.1:0 198.51.100.1:400", true, 1, 5, 250 },
	{ P_LIMITS, "tcp 192.0.2.1:0 198.51.100.1:401", true, 2, 1000000, 7200000 },
	{ P_LIMITS, "tcp 192.0.2.1:0 198.51.100.1:402", true, 3, 0, 86400000 },
	{ P_LIMITS, "tcp 192.0.2.1:0 198.51.100.1:403", true, 4, 0, 90000 },
	{ P_LIMITS, "tcp 192.0.2.1:0 198.51.100.1:404", true, 5, 0, 0 },
	{ P_LIMITS, "tcp 192.0.2.1:0 198.51.100.1:405", true, 6, 1, 4294967295u },
	/* comments, blank lines, tabs: lines keep their numbers */
	{ P_LAYOUT, "tcp 192.0.2.1:0 198.51.100.1:500", true, 4, 0, 0 },
	{ P_LAYOUT, "udp 192.0.2.1:0 198.51.100.1:500", true, 6, 0, 0 },
	{ P_LAYOUT, "udp 192.0.2.1:0 198.51.100.1:501", false, 0, 0, 0 },
	{ "", "tcp 192.0.2.1:0 198.51.100.1:500", false, 0, 0, 0 },
	{ "# nothing but a comment\n", "tcp 192.0.2.1:0 198.51.100.1:500", false, 0, 0, 0 },
};

static void test_match_table(void **state)
{
	size_t n = sizeof(match_cases) / sizeof(match_cases[0]);

	assert_true(n >= 50);
	for (size_t i = 0; i < n; i++) {
		const struct match_case *c = &match_cases[i];
		struct policy *p = parse_ok(c->policy);
		struct policy_decision d;
		struct req_buf b;

		req_from(&b, c->req);
		memset(&d, 0xa5, sizeof(d));
		policy_check(p, &b.r, &d);
		if (d.allowed != c->allowed || d.line != c->line || d.max != c->max ||
		    d.lifetime_ms != c->lifetime_ms)
			fail_msg("case %zu \"%s\": got %s line %u max %u lifetime %u (%s), "
				 "want %s line %u max %u lifetime %u", i, c->req,
				 d.allowed ? "allowed" : "denied", d.line, d.max, d.lifetime_ms, d.why,
				 c->allowed ? "allowed" : "denied", c->line, c->max, c->lifetime_ms);
		/* the deciding rule matches on its own, and says so */
		if (c->line)
			assert_true(policy_line_matches(p, c->line, &b.r));
		policy_free(p);
	}
}

static void test_why(void **state)
{
	struct policy *p = parse_ok(P_DENY);
	struct policy_decision d;
	struct req_buf b;

	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:40000");
	policy_check(p, &b.r, &d);
	assert_string_equal(d.why, "allowed by t.pol:1");
	req_from(&b, "tcp 192.0.2.66:0 198.51.100.1:40000");
	policy_check(p, &b.r, &d);
	assert_string_equal(d.why, "denied by t.pol:2");
	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80");
	policy_check(p, &b.r, &d);
	assert_string_equal(d.why, "no allow rule matches");
	policy_free(p);
}

static void test_invalid_request(void **state)
{
	struct policy *p = parse_ok("allow * * * * * * *\n");
	struct policy_decision d;
	struct req_buf b;

	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80");
	policy_check(p, &b.r, &d);
	assert_true(d.allowed);

	b.r.family = AF_UNIX;
	policy_check(p, &b.r, &d);
	assert_false(d.allowed);
	assert_int_equal(d.line, 0);
	assert_string_equal(d.why, "invalid request: address family");
	assert_false(policy_line_matches(p, 1, &b.r));

	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80");
	b.r.proto = IPPROTO_SCTP;
	policy_check(p, &b.r, &d);
	assert_string_equal(d.why, "invalid request: protocol");

	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80 t=1440");
	policy_check(p, &b.r, &d);
	assert_false(d.allowed);
	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80 t=-1");
	policy_check(p, &b.r, &d);
	assert_false(d.allowed);
	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:0");
	policy_check(p, &b.r, &d);
	assert_false(d.allowed);
	assert_string_equal(d.why, "invalid request: local port 0");
	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80");
	b.r.gids = NULL;
	policy_check(p, &b.r, &d);
	assert_false(d.allowed);

	/* IPv4 lives in the first 4 bytes: what follows does not count */
	policy_free(p);
	p = parse_ok("allow * * tcp 192.0.2.1 * * 80\n");
	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80");
	memset(b.r.remote + 4, 0xff, 12);
	policy_check(p, &b.r, &d);
	assert_true(d.allowed);
	policy_free(p);

	/* no policy at all allows nothing */
	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:80");
	policy_check(NULL, &b.r, &d);
	assert_false(d.allowed);
}

/* --- parser errors ----------------------------------------------------------- */

struct err_case {
	const char *text;
	int ret;
	const char *msg;
};

static const struct err_case err_cases[] = {
	{ "permit * * tcp * * * 1", -EINVAL,
	  "t.pol:1: expected allow or deny, found \"permit\"" },
	{ "deny", -EINVAL,
	  "t.pol:1: expected DELEGATE (*, or group names and gids separated by commas), found end of line" },
	{ "allow * * tcp * * *", -EINVAL,
	  "t.pol:1: expected LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found end of line" },
	{ "# ok\nallow * * tcp * * * 1\nallow * * icmp * * * 1\n", -EINVAL,
	  "t.pol:3: expected PROTO (tcp, udp or *), found \"icmp\"" },
	{ "allow * * TCP * * * 1", -EINVAL,
	  "t.pol:1: expected PROTO (tcp, udp or *), found \"TCP\"" },
	{ "allow * * tcp 192.0.2.0/33 * * 1", -EINVAL,
	  "t.pol:1: expected a prefix length of at most 32, found \"192.0.2.0/33\"" },
	{ "allow * * tcp 2001:db8::/129 * * 1", -EINVAL,
	  "t.pol:1: expected a prefix length of at most 128, found \"2001:db8::/129\"" },
	{ "allow * * tcp 192.0.2.1/24 * * 1", -EINVAL,
	  "t.pol:1: expected a network address with no host bits (192.0.2.0/24), found \"192.0.2.1/24\"" },
	{ "allow * * tcp * * 2001:db8::1/32 1", -EINVAL,
	  "t.pol:1: expected a network address with no host bits (2001:db8::/32), found \"2001:db8::1/32\"" },
	{ "allow * * tcp 192.0.2.0/24,192.0.2.300 * * 1", -EINVAL,
	  "t.pol:1: expected REMOTE-ADDRS (*, or IPv4/IPv6 addresses and prefixes separated by commas), found \"192.0.2.300\"" },
	{ "allow * * tcp 192.0.2.0/ * * 1", -EINVAL,
	  "t.pol:1: expected REMOTE-ADDRS (*, or IPv4/IPv6 addresses and prefixes separated by commas), found \"192.0.2.0/\"" },
	{ "allow * * tcp fe80::1%eth0 * * 1", -EINVAL,
	  "t.pol:1: expected REMOTE-ADDRS (*, or IPv4/IPv6 addresses and prefixes separated by commas), found \"fe80::1%eth0\"" },
	{ "allow * * tcp * * 192.0.2.0/+8 1", -EINVAL,
	  "t.pol:1: expected LOCAL-ADDRS (*, or IPv4/IPv6 addresses and prefixes separated by commas), found \"192.0.2.0/+8\"" },
	{ "allow * * tcp * 0 * 1", -EINVAL,
	  "t.pol:1: expected REMOTE-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found \"0\"" },
	{ "allow * * tcp * * * 65536", -EINVAL,
	  "t.pol:1: expected LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found \"65536\"" },
	{ "allow * * tcp * * * 90-80", -EINVAL,
	  "t.pol:1: expected a port range a-b with a <= b, found \"90-80\"" },
	{ "allow * * tcp * * * 80,,81", -EINVAL,
	  "t.pol:1: expected LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found \"80,,81\"" },
	{ "allow * * tcp * * * 80,", -EINVAL,
	  "t.pol:1: expected LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found \"80,\"" },
	{ "allow * * tcp * * * 80,*", -EINVAL,
	  "t.pol:1: expected LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found \"*\"" },
	{ "allow * * tcp * * * 1-", -EINVAL,
	  "t.pol:1: expected LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found \"1-\"" },
	{ "allow * nosuchuser-dyper tcp * * * 1", -ENOENT,
	  "t.pol:1: unknown user \"nosuchuser-dyper\"" },
	{ "allow nosuchgroup-dyper * tcp * * * 1", -ENOENT,
	  "t.pol:1: unknown group \"nosuchgroup-dyper\"" },
	{ "allow * root,@nosuchgroup-dyper tcp * * * 1", -ENOENT,
	  "t.pol:1: unknown group \"nosuchgroup-dyper\"" },
	{ "allow * 4294967295 tcp * * * 1", -EINVAL,
	  "t.pol:1: expected USER (*, or user names, uids and @groups separated by commas), found \"4294967295\"" },
	{ "allow * @ tcp * * * 1", -EINVAL,
	  "t.pol:1: expected USER (*, or user names, uids and @groups separated by commas), found \"@\"" },
	{ "allow *,daemon * tcp * * * 1", -EINVAL,
	  "t.pol:1: expected DELEGATE (*, or group names and gids separated by commas), found \"*\"" },
	{ "allow * * tcp * * * 1 max=0", -EINVAL,
	  "t.pol:1: expected max=N with N from 1 to 1000000, found \"max=0\"" },
	{ "allow * * tcp * * * 1 max=1000001", -EINVAL,
	  "t.pol:1: expected max=N with N from 1 to 1000000, found \"max=1000001\"" },
	{ "allow * * tcp * * * 1 lifetime=0", -EINVAL,
	  "t.pol:1: expected lifetime=DURATION above 0 and below 49d (250ms, 30s, 5m, 2h, 1d or seconds), found \"lifetime=0\"" },
	{ "allow * * tcp * * * 1 lifetime=5x", -EINVAL,
	  "t.pol:1: expected lifetime=DURATION above 0 and below 49d (250ms, 30s, 5m, 2h, 1d or seconds), found \"lifetime=5x\"" },
	{ "allow * * tcp * * * 1 lifetime=50d", -EINVAL,
	  "t.pol:1: expected lifetime=DURATION above 0 and below 49d (250ms, 30s, 5m, 2h, 1d or seconds), found \"lifetime=50d\"" },
	{ "allow * * tcp * * * 1 lifetime=ms", -EINVAL,
	  "t.pol:1: expected lifetime=DURATION above 0 and below 49d (250ms, 30s, 5m, 2h, 1d or seconds), found \"lifetime=ms\"" },
	{ "allow * * tcp * * * 1 time=25:00-01:00", -EINVAL,
	  "t.pol:1: expected time=HH:MM-HH:MM, found \"time=25:00-01:00\"" },
	{ "allow * * tcp * * * 1 time=8:00-18:00", -EINVAL,
	  "t.pol:1: expected time=HH:MM-HH:MM, found \"time=8:00-18:00\"" },
	{ "allow * * tcp * * * 1 time=08:00-08:00", -EINVAL,
	  "t.pol:1: expected time=HH:MM-HH:MM with different start and end, found \"time=08:00-08:00\"" },
	{ "allow * * tcp * * * 1 foo=1", -EINVAL,
	  "t.pol:1: expected program=, max=, lifetime= or time=, found \"foo=1\"" },
	{ "allow * * tcp * * * 1 extra", -EINVAL,
	  "t.pol:1: expected program=, max=, lifetime= or time=, found \"extra\"" },
	{ "allow * * tcp * * * 1 max=1 max=2", -EINVAL,
	  "t.pol:1: expected max= at most once, found \"max=2\"" },
	{ "allow * * tcp * * * 1 max=1 lifetime=1 time=01:00-02:00 program=/x junk", -EINVAL,
	  "t.pol:1: expected end of line, found \"junk\"" },
	{ "allow * * tcp * * * 1 program=", -EINVAL,
	  "t.pol:1: expected a glob after program=, found \"program=\"" },
	{ "allow * * tcp * * * 1 program=vsftpd", -EINVAL,
	  "t.pol:1: expected an absolute path glob after program= (the executable, e.g. /usr/sbin/vsftpd), found \"program=vsftpd\"" },
	{ "allow * * tcp * * * 1 program=/usr/[abc", -EINVAL,
	  "t.pol:1: expected a glob with closed [...] sets, no [^...], [:class:] or reversed ranges, after program=, found \"program=/usr/[abc\"" },
	{ "allow * * tcp * * * 1 program=/usr/[[:alpha:]]", -EINVAL,
	  "t.pol:1: expected a glob with closed [...] sets, no [^...], [:class:] or reversed ranges, after program=, found \"program=/usr/[[:alpha:]]\"" },
	{ "allow * * tcp * * * 1 program=/x\\", -EINVAL,
	  "t.pol:1: expected a glob that does not end in a lone backslash after program=, found \"program=/x\\\\\"" },
	{ "allow * * tcp * * * 1\r\n", -EINVAL,
	  "t.pol:1: expected printable text, found \"\\x0d\"" },
	{ "allow * * tcp * * * \"1\"", -EINVAL,
	  "t.pol:1: expected LOCAL-PORTS (*, or ports and ranges a-b within 1-65535 separated by commas), found \"\\\"1\\\"\"" },
};

static void test_parse_errors(void **state)
{
	size_t n = sizeof(err_cases) / sizeof(err_cases[0]);

	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		struct policy *p = (struct policy *)&p;
		char err[POLICY_ERR_LEN] = "untouched";
		int ret = policy_parse(&p, err_cases[i].text, strlen(err_cases[i].text), "t.pol",
				       err, sizeof(err));

		if (ret != err_cases[i].ret || strcmp(err, err_cases[i].msg) != 0)
			fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, ret, err,
				 err_cases[i].ret, err_cases[i].msg);
		assert_null(p);
	}
}

static void test_parse_nul_and_long_line(void **state)
{
	static const char nul[] = "allow * * tcp * * * 1\nallow\0 * * tcp * * * 1\n";
	char err[POLICY_ERR_LEN];
	struct policy *p;
	char *big;

	assert_int_equal(policy_parse(&p, nul, sizeof(nul) - 1, "t.pol", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.pol:2: expected printable text, found \"\\x00\"");

	/* 4096 bytes is the longest line; 4097 is refused */
	big = malloc(8200);
	assert_non_null(big);
	memset(big, ' ', 8200);
	memcpy(big, "allow * * * * * * *", 19);
	big[4096] = '\n';
	assert_int_equal(policy_parse(&p, big, 4097, "t.pol", err, sizeof(err)), 0);
	assert_int_equal(policy_rule_count(p), 1);
	policy_free(p);
	big[4096] = ' ';
	big[4097] = '\n';
	assert_int_equal(policy_parse(&p, big, 4098, "t.pol", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.pol:1: expected a line of at most 4096 bytes, found 4097 bytes");
	free(big);

	/* long or binary tokens are quoted escaped and cut */
	{
		char line[200], want[POLICY_ERR_LEN];

		snprintf(line, sizeof(line), "allow * * %0100d * * * 1", 7);
		assert_int_equal(policy_parse(&p, line, strlen(line), "t.pol", err, sizeof(err)),
				 -EINVAL);
		snprintf(want, sizeof(want),
			 "t.pol:1: expected PROTO (tcp, udp or *), found \"%064d...\"", 0);
		assert_string_equal(err, want);
		assert_int_equal(policy_parse(&p, "allow * * \xff\xfe * * * 1", 20, "t.pol", err,
					      sizeof(err)), -EINVAL);
		assert_string_equal(err, "t.pol:1: expected PROTO (tcp, udp or *), found \"\\xff\\xfe\"");
	}
	assert_int_equal(policy_parse(&p, NULL, 0, "t.pol", err, sizeof(err)), 0);
	assert_int_equal(policy_rule_count(p), 0);
	policy_free(p);

	/* no buffer for the message is fine; a short one is cut, not overrun */
	assert_int_equal(policy_parse(&p, "deny", 4, NULL, NULL, 0), -EINVAL);
	assert_int_equal(policy_parse(&p, "deny", 4, NULL, err, 12), -EINVAL);
	assert_string_equal(err, "policy:1: e");
}

static void test_rule_limit(void **state)
{
	static const char line[] = "allow * * tcp * * * 1\n";
	size_t n = POLICY_MAX_RULES + 1, ll = sizeof(line) - 1;
	char *text = malloc(n * ll);
	char err[POLICY_ERR_LEN];
	struct policy *p;
	struct policy_decision d;
	struct req_buf b;

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * ll, line, ll);
	assert_int_equal(policy_parse(&p, text, (n - 1) * ll, "t.pol", err, sizeof(err)), 0);
	assert_int_equal(policy_rule_count(p), POLICY_MAX_RULES);
	req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:1");
	policy_check(p, &b.r, &d);
	assert_true(d.allowed);
	assert_int_equal(d.line, 1);
	assert_true(policy_line_matches(p, POLICY_MAX_RULES, &b.r));
	policy_free(p);
	assert_int_equal(policy_parse(&p, text, n * ll, "t.pol", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.pol:100001: expected at most 100000 rules, found more");
	assert_null(p);
	free(text);
}

/* --- rule text, line matches ---------------------------------------------------- */

static void test_rule_text(void **state)
{
	struct policy *p = parse_ok("# head\n"
				    "  allow\tdaemon   root,@nogroup tcp 192.0.2.0/24 * * 21,40000-40100 "
				    "program=/usr/sbin/vsftpd max=4 # why\n"
				    "deny * * * * * * *\n");
	char buf[256];

	assert_int_equal(policy_rule_count(p), 2);
	assert_int_equal(policy_rule_text(p, 2, buf, sizeof(buf)),
			 (int)strlen("allow daemon root,@nogroup tcp 192.0.2.0/24 * * 21,40000-40100 "
				     "program=/usr/sbin/vsftpd max=4"));
	assert_string_equal(buf, "allow daemon root,@nogroup tcp 192.0.2.0/24 * * 21,40000-40100 "
			    "program=/usr/sbin/vsftpd max=4");
	assert_int_equal(policy_rule_text(p, 3, buf, sizeof(buf)), 18);
	assert_string_equal(buf, "deny * * * * * * *");
	assert_int_equal(policy_rule_text(p, 1, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(policy_rule_text(p, 4, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(policy_rule_text(p, 0, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(policy_rule_text(p, 3, buf, 5), -ENOSPC);
	assert_string_equal(buf, "deny");
	assert_int_equal(policy_rule_text(p, 3, buf, 18), -ENOSPC);
	assert_int_equal(policy_rule_text(p, 3, buf, 19), 18);
	policy_free(p);
}

/* dyperd reads a requester's groups from /proc only when this says so */
static void test_uses_groups(void **state)
{
	struct policy *p = parse_ok("allow * root,daemon * * * * *\n"
				    "deny daemon * * * * * *\n");

	assert_false(policy_uses_groups(p));
	policy_free(p);
	p = parse_ok("allow * * * * * * *\n"
		     "deny * root,@nogroup * * * * *\n");
	assert_true(policy_uses_groups(p));
	policy_free(p);
	p = parse_ok("");
	assert_false(policy_uses_groups(p));
	policy_free(p);
	assert_false(policy_uses_groups(NULL));
}

static void test_line_matches(void **state)
{
	struct policy *p = parse_ok(P_DENY);
	struct req_buf b;

	/* each rule on its own, deny or allow alike, whatever the others say */
	req_from(&b, "tcp 192.0.2.66:0 198.51.100.1:6000");
	assert_true(policy_line_matches(p, 1, &b.r));
	assert_true(policy_line_matches(p, 2, &b.r));
	assert_true(policy_line_matches(p, 3, &b.r));
	assert_true(policy_line_matches(p, 4, &b.r));
	assert_false(policy_line_matches(p, 5, &b.r));
	assert_false(policy_line_matches(p, 0, &b.r));
	req_from(&b, "udp 192.0.3.1:0 198.51.100.1:6000");
	assert_true(policy_line_matches(p, 1, &b.r));
	assert_false(policy_line_matches(p, 2, &b.r));
	assert_false(policy_line_matches(p, 3, &b.r));
	assert_false(policy_line_matches(p, 4, &b.r));
	policy_free(p);
}

/* --- loading ------------------------------------------------------------------------ */

static void test_load(void **state)
{
	char dir[] = "/tmp/dyper-policy-XXXXXX";
	char path[64], err[POLICY_ERR_LEN], want[128];
	struct policy *p;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/policy", dir);

	assert_int_equal(policy_load(&p, path, err, sizeof(err)), -ENOENT);
	assert_null(p);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, P_USERS, strlen(P_USERS)), (ssize_t)strlen(P_USERS));
	assert_int_equal(write(fd, "allow * * udp x * * 1\n", 22), 22);
	close(fd);
	assert_int_equal(policy_load(&p, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:6: expected REMOTE-ADDRS", path);
	assert_memory_equal(err, want, strlen(want));

	assert_int_equal(truncate(path, (off_t)strlen(P_USERS)), 0);
	assert_int_equal(policy_load(&p, path, err, sizeof(err)), 0);
	assert_int_equal(policy_rule_count(p), 5);
	{
		struct policy_decision d;
		struct req_buf b;

		req_from(&b, "tcp 192.0.2.1:0 198.51.100.1:100 uid=0 gids=0");
		policy_check(p, &b.r, &d);
		snprintf(want, sizeof(want), "allowed by %s:1", path);
		assert_string_equal(d.why, want);
	}
	policy_free(p);

	/* over the size bound, without reading it */
	assert_int_equal(truncate(path, (off_t)POLICY_MAX_BYTES + 1), 0);
	assert_int_equal(policy_load(&p, path, err, sizeof(err)), -EFBIG);
	assert_null(p);

	assert_int_equal(policy_load(&p, dir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: expected a regular file", dir);
	assert_string_equal(err, want);

	unlink(path);
	rmdir(dir);
	policy_free(NULL);
}

/* --- program= globs ----------------------------------------------------------------- */

struct glob_case {
	const char *glob, *s;
	bool match;
};

static const struct glob_case glob_cases[] = {
	{ "/usr/sbin/vsftpd", "/usr/sbin/vsftpd", true },
	{ "/usr/sbin/vsftpd", "/usr/sbin/vsftp", false },
	{ "/usr/sbin/vsftpd", "/usr/sbin/vsftpdd", false },
	{ "*", "", true },
	{ "*", "/anything/at/all", true },
	{ "/usr/*", "/usr/lib/x/y", true },		/* no FNM_PATHNAME */
	{ "/usr/*/bin", "/usr/a/b/bin", true },
	{ "*/bin/*d", "/opt/bin/ftpd", true },
	{ "*/bin/*d", "/opt/bin/ftp", false },
	{ "/a*b*c*d", "/aXbYcZd", true },
	{ "/a*b*c*d", "/aXbYcZ", false },
	{ "/a*a*a*a*b", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
	{ "/???", "/abc", true },
	{ "/???", "/ab", false },
	{ "/[abc]", "/b", true },
	{ "/[abc]", "/d", false },
	{ "/[!abc]", "/d", true },
	{ "/[!abc]", "/a", false },
	{ "/[a-c]x", "/bx", true },
	{ "/[a-c]x", "/dx", false },
	{ "/[]]", "/]", true },
	{ "/[!]]", "/]", false },
	{ "/[a-]", "/-", true },
	{ "/[--0]", "/.", true },
	{ "/[\\]]", "/]", true },
	{ "/\\*", "/*", true },
	{ "/\\*", "/a", false },
	{ "/[*]", "/*", true },
	{ "/x[", "/x[", false },			/* refused glob: never matches */
	{ "/[z-a]", "/m", false },			/* refused glob */
	{ "/[^a]", "/b", false },			/* refused glob */
	{ "/usr/bin/python3.[0-9]*", "/usr/bin/python3.11", true },
	{ "/usr/bin/python3.[0-9]*", "/usr/bin/python3.", false },
};

static void test_glob(void **state)
{
	for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
		const struct glob_case *c = &glob_cases[i];
		bool got = policy_glob_match(c->glob, c->s);

		if (got != c->match)
			fail_msg("glob case %zu: \"%s\" vs \"%s\": got %d", i, c->glob, c->s, got);
	}
	assert_false(policy_glob_match(NULL, "/x"));
	assert_false(policy_glob_match("/x", NULL));
}

/* For globs the parser accepts, the matcher is fnmatch(3) without flags. */
static void test_glob_vs_fnmatch(void **state)
{
	static const char *const globs[] = {
		"/usr/*", "*d", "/[a-c]?", "/[!a-c]*", "*[]]*", "/\\[x\\]", "*/[!/]*",
		"/a*b?c", "/[--/]*", "*[x-z]", "/*.*", "*\\**",
	};
	static const char *const strs[] = {
		"", "/", "/usr", "/usr/", "/usr/x", "/ab", "/dd", "/a]", "/[x]", "/abxc",
		"/a/b", "/x.y", "/.", "/z", "/**", "/-", "/0", "\xff", "/\xe9",
	};

	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++)
		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
			bool want = fnmatch(globs[i], strs[k], 0) == 0;

			if (policy_glob_match(globs[i], strs[k]) != want)
				fail_msg("\"%s\" vs \"%s\": fnmatch says %d", globs[i], strs[k], want);
		}
}

/* --- speed -------------------------------------------------------------------------- */

/* A few hundred rules must cost microseconds per request.  The bound is
 * loose (sanitizer builds, busy machines); the figure is printed. */
static void test_speed(void **state)
{
	size_t cap = 1 << 16, o = 0, checks = 20000;
	char *text = malloc(cap);
	struct policy *p;
	struct policy_decision d;
	struct req_buf b;
	struct timespec t0, t1;
	double us;

	assert_non_null(text);
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(text + o, cap - o,
				      "allow daemon root,@nogroup tcp 192.0.%d.0/24,2001:db8:%x::/48 * "
				      "198.51.100.7 %d-%d program=/usr/sbin/x%d* max=3\n",
				      i % 256, i, 1024 + i, 2000 + i, i);
	o += (size_t)snprintf(text + o, cap - o, "allow * * tcp 203.0.113.0/24 * * 40000\n");
	p = parse_ok(text);
	req_from(&b, "tcp 203.0.113.9:0 198.51.100.7:40000 uid=0 gids=0,65534 prog=/usr/sbin/x1");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < checks; i++)
		policy_check(p, &b.r, &d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(d.allowed);
	assert_int_equal(d.line, 301);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
	     (double)checks;
	print_message("policy_check over 301 rules: %.2f us\n", us);
	assert_true(us < 100.0);
	policy_free(p);
	free(text);
}

/* --- the site flavour ---------------------------------------------------- */

static struct policy *parse_site(const char *text, int want, const char *want_err)
{
	struct policy *p = NULL;
	char err[POLICY_ERR_LEN] = "";
	int ret = policy_parse_as(&p, text, strlen(text), "site.pol", POLICY_SITE, err,
				  sizeof(err));

	if (ret != want || (want_err && strcmp(err, want_err) != 0))
		fail_msg("site policy: got %d \"%s\", want %d \"%s\"\n%s", ret, err, want,
			 want_err ? want_err : "", text);
	if (want)
		assert_null(p);
	return p;
}

/* Paper §4.2: a host's delegate opens pinholes to its own addresses only. */
static void test_site_match(void **state)
{
	static const char pol[] =
		"allow hostA * * * * 198.51.100.10,2001:db8:11::10 *\n"
		"allow hostB,host-c.example * tcp 203.0.113.0/24 * 198.51.100.20 1024-65535 lifetime=5m\n"
		"deny * * * 203.0.113.66 * * *\n";
	static const struct { const char *dlg, *req; bool allowed; unsigned line; } cases[] = {
		{ "hostA", "tcp 203.0.113.10:0 198.51.100.10:8080", true, 1 },
		{ "hostA", "udp [2001:db8:ee::10]:53 [2001:db8:11::10]:5000", true, 1 },
		{ "hostA", "tcp 203.0.113.10:0 198.51.100.20:8080", false, 0 },	/* hostB's */
		{ "hostB", "tcp 203.0.113.10:0 198.51.100.20:8080", true, 2 },
		{ "hostB", "tcp 203.0.113.10:0 198.51.100.10:8080", false, 0 },	/* hostA's */
		{ "host-c.example", "tcp 203.0.113.9:0 198.51.100.20:2000", true, 2 },
		{ "hostB", "udp 203.0.113.10:0 198.51.100.20:8080", false, 0 },
		{ "hostA", "tcp 203.0.113.66:0 198.51.100.10:8080", false, 3 },	/* deny */
		{ "hosta", "tcp 203.0.113.10:0 198.51.100.10:8080", false, 0 },	/* exact case */
		{ NULL, "tcp 203.0.113.10:0 198.51.100.10:8080", false, 0 },	/* no delegate */
	};
	struct policy *p = parse_site(pol, 0, NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_decision d;
		struct req_buf b;

		req_from(&b, cases[i].req);
		b.r.delegate = cases[i].dlg;
		policy_check(p, &b.r, &d);
		if (d.allowed != cases[i].allowed || d.line != cases[i].line)
			fail_msg("case %zu (%s %s): allowed %d line %u, want %d line %u (%s)", i,
				 cases[i].dlg ? cases[i].dlg : "-", cases[i].req, d.allowed, d.line,
				 cases[i].allowed, cases[i].line, d.why);
		if (i == 3)
			assert_int_equal(d.lifetime_ms, 300000);
	}
	policy_free(p);
}

static void test_site_errors(void **state)
{
	/* USER names a local user: refused in a site policy */
	parse_site("allow hostA root * * * * *\n", -EINVAL,
		   "site.pol:1: expected USER * (no user crosses the wire to a site), found \"root\"");
	parse_site("allow hostA @daemon * * * * *\n", -EINVAL,
		   "site.pol:1: expected USER * (no user crosses the wire to a site), found \"@daemon\"");
	parse_site("allow hostA * * * * * * program=/usr/sbin/vsftpd\n", -EINVAL,
		   "site.pol:1: expected lifetime= or time= (a site policy has no program= or max=), "
		   "found \"program=/usr/sbin/vsftpd\"");
	parse_site("allow hostA * * * * * * max=3\n", -EINVAL,
		   "site.pol:1: expected lifetime= or time= (a site policy has no program= or max=), "
		   "found \"max=3\"");
	parse_site("allow host_a * * * * * *\n", -EINVAL,
		   "site.pol:1: expected DELEGATE (*, or delegate names (hosts) separated by commas), "
		   "found \"host_a\"");
	parse_site("allow -host * * * * * *\n", -EINVAL, NULL);
	parse_site("allow hostA,,hostB * * * * * *\n", -EINVAL, NULL);
	/* 63 characters at most: what the router's element comment carries */
	policy_free(parse_site("allow a23456789012345678901234567890123456789012345678901234567890123 * * * * * *\n",
			       0, NULL));
	parse_site("allow a234567890123456789012345678901234567890123456789012345678901234 * * * * * *\n",
		   -EINVAL, NULL);
	/* a delegate that is a local group's name is just a name at a site */
	policy_free(parse_site("allow daemon,1 * * * * * * time=08:00-18:00\n", 0, NULL));
	/* ...and a host policy still resolves it as a group and refuses a name
	 * no group has */
	{
		struct policy *p = NULL;
		char err[POLICY_ERR_LEN];

		assert_int_equal(policy_parse(&p, "allow hostA * * * * * *\n", 24, "h.pol", err,
					      sizeof(err)), -ENOENT);
		assert_null(p);
	}
}

/* A site policy judges by name, never by the gid a host policy would use. */
static void test_site_not_gid(void **state)
{
	struct policy *p = parse_site("allow 1 * * * * * *\n", 0, NULL);
	struct policy_decision d;
	struct req_buf b;

	req_from(&b, "tcp 203.0.113.10:0 198.51.100.10:8080 dlg=1");
	b.r.delegate = "daemon";
	policy_check(p, &b.r, &d);
	assert_false(d.allowed);
	b.r.delegate = "1";
	policy_check(p, &b.r, &d);
	assert_true(d.allowed);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_why),
		cmocka_unit_test(test_invalid_request),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_nul_and_long_line),
		cmocka_unit_test(test_rule_limit),
		cmocka_unit_test(test_rule_text),
		cmocka_unit_test(test_uses_groups),
		cmocka_unit_test(test_line_matches),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_glob_vs_fnmatch),
		cmocka_unit_test(test_speed),
		cmocka_unit_test(test_site_match),
		cmocka_unit_test(test_site_errors),
		cmocka_unit_test(test_site_not_gid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
