// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for dyperd/policy: the input is a policy text.  When
 * it parses, the harness checks what must hold for any policy:
 *  - every rule's text parses again, alone, into a rule that matches the
 *    same requests (the text dyperctl shows is the rule that decides);
 *  - policy_check agrees with a plain reference built on
 *    policy_line_matches: the first matching deny decides, else the first
 *    matching allow, and max=/lifetime= come from that allow;
 *  - program= globs the parser accepts match exactly as fnmatch(3) does.
 * When it does not parse, the message names the input and a line.
 */

#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dyperd/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Always on, whatever NDEBUG says; calls inside must still run. */
#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

#define N_REQ		16
#define MAX_ROUNDTRIP	32
#define TEXT_LEN	(POLICY_MAX_LINE + 1)

/* Rule texts of the policy under test, by line. */
struct rule_ref {
	unsigned line;
	bool deny;
	struct policy *alone;	/* the rule's text parsed by itself, or NULL */
};

static const char *const programs[] = {
	NULL, "/usr/sbin/vsftpd", "/usr/bin/python3.11", "/opt/x/bin/ftpd", "/",
	"/usr/sbin/globus-gridftp-server", "/usr/sbin/vsftpd (deleted)", "",
};
static const uint32_t ids[] = { 0, 1, 1000, 65534, 4294967294u, 7 };
static const uint16_t rports[] = { 0, 20, 21, 1024, 5060, 40000, 65535, 1 };
static const uint16_t lports[] = { 1, 21, 22, 1024, 2811, 5060, 40000, 65535 };
static const int minutes[] = { 0, 359, 360, 480, 720, 1079, 1080, 1439 };
static const uint8_t v4[][4] = {
	{ 192, 0, 2, 1 }, { 192, 0, 2, 255 }, { 198, 51, 100, 7 }, { 203, 0, 113, 9 },
	{ 10, 0, 0, 1 }, { 0, 0, 0, 0 }, { 255, 255, 255, 255 }, { 192, 0, 3, 0 },
};
static const uint8_t v6[][16] = {
	{ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
	{ 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 0x10 },
	{ 0x20, 0x01, 0x0d, 0xb9, [15] = 1 },
	{ [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 },
	{ 0xfe, 0x80, [15] = 1 },
	{ [15] = 1 },
	{ 0 },
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff },
};

#define PICK(arr, h) ((arr)[(h) % (sizeof(arr) / sizeof((arr)[0]))])

struct req_buf {
	struct policy_request r;
	uint32_t gids[3];
};

/* splitmix64: a different, reproducible request mix for every input. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void make_requests(struct req_buf *rb, const uint8_t *data, size_t size)
{
	uint64_t seed = 1469598103934665603ull;

	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211ull;
	for (int i = 0; i < N_REQ; i++) {
		struct policy_request *r = &rb[i].r;
		uint64_t h = mix(&seed);

		memset(&rb[i], 0, sizeof(rb[i]));
		r->family = (h & 1) ? AF_INET6 : AF_INET;
		r->proto = (h & 2) ? IPPROTO_UDP : IPPROTO_TCP;
		h >>= 2;
		if (r->family == AF_INET) {
			memcpy(r->remote, PICK(v4, h), 4);
			memcpy(r->local, PICK(v4, h >> 3), 4);
		} else {
			memcpy(r->remote, PICK(v6, h), 16);
			memcpy(r->local, PICK(v6, h >> 3), 16);
		}
		h = mix(&seed);
		r->remote_port = PICK(rports, h);
		r->local_port = PICK(lports, h >> 3);
		r->uid = PICK(ids, h >> 6);
		r->delegate_gid = PICK(ids, h >> 9);
		rb[i].gids[0] = PICK(ids, h >> 12);
		rb[i].gids[1] = PICK(ids, h >> 15);
		r->gids = rb[i].gids;
		r->n_gids = (h >> 18) % 3;
		r->program = PICK(programs, h >> 20);
		r->minute_of_day = PICK(minutes, h >> 23);
	}
}

/* A string the glob likely matches: wildcards filled in the plainest way. */
static void glob_instance(const char *g, char *out, size_t len)
{
	size_t o = 0;

	while (*g && o + 1 < len) {
		if (*g == '*') {
			g++;
		} else if (*g == '?') {
			out[o++] = 'q';
			g++;
		} else if (*g == '\\' && g[1]) {
			out[o++] = g[1];
			g += 2;
		} else if (*g == '[') {
			const char *e = g + 1;

			if (*e == '!')
				e++;
			out[o++] = *e == '\\' && e[1] ? e[1] : *e;
			e++;
			while (*e && *e != ']')
				e++;
			g = *e ? e + 1 : e;
		} else {
			out[o++] = *g++;
		}
	}
	out[o] = '\0';
}

/* The bounds keep glibc's recursion on '*' (exponential) affordable. */
static void glob_vs_fnmatch(const char *glob, const char *s)
{
	size_t stars = 0;

	for (const char *c = glob; *c; c++)
		stars += *c == '*';
	if (stars > 3 || strlen(s) > 64 || strlen(glob) > 256)
		return;
	if (policy_glob_match(glob, s) != (fnmatch(glob, s, 0) == 0)) {
		fprintf(stderr, "glob \"%s\" vs \"%s\": fnmatch disagrees\n", glob, s);
		abort();
	}
}

/* Checks a glob the parser accepted (it comes from a parsed rule). */
static void check_glob(const char *glob)
{
	static const char *const subjects[] = {
		"", "/", "/usr/sbin/vsftpd", "/usr/bin/python3.11", "/a]", "/[x]", "/-",
		"/*", "/\\", "/\xff", "/usr/sbin/vsftpd (deleted)",
	};
	char inst[300];

	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
		glob_vs_fnmatch(glob, subjects[i]);
	glob_vs_fnmatch(glob, glob);
	glob_instance(glob, inst, sizeof(inst));
	glob_vs_fnmatch(glob, inst);
	if (strlen(inst) > 1) {
		inst[strlen(inst) - 1] = '\0';
		glob_vs_fnmatch(glob, inst);
	}
}

/* The program= value of a rule text, if any, into @out. */
static bool rule_glob(const char *text, char *out, size_t len)
{
	const char *g = strstr(text, " program=");
	size_t n;

	if (!g)
		return false;
	g += strlen(" program=");
	n = strcspn(g, " ");
	if (n >= len)
		return false;
	memcpy(out, g, n);
	out[n] = '\0';
	return true;
}

static void check_policy(struct policy *p, const uint8_t *data, size_t size)
{
	static struct rule_ref refs[POLICY_MAX_RULES];
	static char text[TEXT_LEN], again[TEXT_LEN];
	struct req_buf rb[N_REQ];
	size_t n_refs = 0, lines = 1;
	char err[POLICY_ERR_LEN];

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	/* Every rule has a text; nothing else has. */
	for (unsigned line = 1; line <= lines; line++) {
		int n = policy_rule_text(p, line, text, sizeof(text));

		if (n == -ENOENT)
			continue;
		CHECK(n >= 0 && (size_t)n == strlen(text));
		CHECK(strncmp(text, "allow ", 6) == 0 || strncmp(text, "deny ", 5) == 0);
		refs[n_refs].line = line;
		refs[n_refs].deny = text[0] == 'd';
		refs[n_refs].alone = NULL;
		if (n_refs < MAX_ROUNDTRIP) {
			struct policy *alone;
			char glob[TEXT_LEN];

			if (policy_parse(&alone, text, (size_t)n, "again", err, sizeof(err)) != 0) {
				fprintf(stderr, "rule text \"%s\" does not parse: %s\n", text, err);
				abort();
			}
			CHECK(policy_rule_count(alone) == 1);
			CHECK(policy_rule_text(alone, 1, again, sizeof(again)) == n);
			CHECK(strcmp(text, again) == 0);
			refs[n_refs].alone = alone;
			if (rule_glob(text, glob, sizeof(glob)))
				check_glob(glob);
		}
		n_refs++;
	}
	CHECK(n_refs == policy_rule_count(p));

	make_requests(rb, data, size);
	for (int i = 0; i < N_REQ; i++) {
		const struct policy_request *r = &rb[i].r;
		const struct rule_ref *deny = NULL, *allow = NULL;
		struct policy_decision d;

		for (size_t k = 0; k < n_refs; k++) {
			bool m = policy_line_matches(p, refs[k].line, r);

			if (refs[k].alone)
				CHECK(m == policy_line_matches(refs[k].alone, 1, r));
			if (m && refs[k].deny && !deny)
				deny = &refs[k];
			if (m && !refs[k].deny && !allow)
				allow = &refs[k];
		}
		policy_check(p, r, &d);
		CHECK(memchr(d.why, '\0', sizeof(d.why)));
		if (deny) {
			CHECK(!d.allowed && d.line == deny->line);
		} else if (allow) {
			CHECK(d.allowed && d.line == allow->line);
			if (allow->alone) {
				struct policy_decision d1;

				policy_check(allow->alone, r, &d1);
				CHECK(d1.allowed && d1.line == 1);
				CHECK(d1.max == d.max && d1.lifetime_ms == d.lifetime_ms);
			}
		} else {
			CHECK(!d.allowed && d.line == 0);
		}
		if (!d.allowed)
			CHECK(d.max == 0 && d.lifetime_ms == 0);
	}

	for (size_t k = 0; k < n_refs; k++)
		policy_free(refs[k].alone);
}

/*
 * The site flavour of the same text: a clean failure, or a policy whose
 * decisions never depend on a user (USER is * there) and that only a
 * named delegate (or *) matches.
 */
static void check_site(const uint8_t *data, size_t size)
{
	static const char *const delegates[] = { "hostA", "host-b.example", "1", NULL };
	struct policy *p = (struct policy *)&p;
	struct req_buf rb[N_REQ];
	char err[POLICY_ERR_LEN];
	int ret;

	memset(err, 'x', sizeof(err));
	ret = policy_parse_as(&p, (const char *)data, size, "site", POLICY_SITE, err, sizeof(err));
	if (ret) {
		CHECK(ret < 0 && p == NULL);
		CHECK(memchr(err, '\0', sizeof(err)));
		CHECK(strncmp(err, "site:", 5) == 0);
		return;
	}
	CHECK(!policy_uses_programs(p) && !policy_uses_groups(p));
	make_requests(rb, data, size);
	for (int k = 0; k < N_REQ; k++) {
		struct policy_request *r = &rb[k].r;
		struct policy_decision d1, d2;

		r->delegate = delegates[k % 4];
		policy_check(p, r, &d1);
		r->uid ^= 12345;	/* no user crosses the wire: the same decision */
		r->n_gids = 0;
		r->program = NULL;
		policy_check(p, r, &d2);
		CHECK(d1.allowed == d2.allowed && d1.line == d2.line);
	}
	policy_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = (struct policy *)&p;
	char err[POLICY_ERR_LEN];
	int ret;

	check_site(data, size);

	memset(err, 'x', sizeof(err));
	ret = policy_parse(&p, (const char *)data, size, "fuzz", err, sizeof(err));
	if (ret) {
		CHECK(ret < 0 && p == NULL);
		CHECK(memchr(err, '\0', sizeof(err)));
		CHECK(strncmp(err, "fuzz:", 5) == 0);
		return 0;
	}
	check_policy(p, data, size);
	policy_free(p);
	return 0;
}
