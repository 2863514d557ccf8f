/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dyperd's policy: the site's allow/deny rules every pinhole request is
 * checked against (paper §4.2, extended).  A request is allowed when at
 * least one allow rule matches it and no deny rule does.  Authorization
 * lives here alone; this module does no I/O beyond reading the policy file
 * and resolving user and group names while parsing.
 *
 * The policy file (/etc/dyper/policy), one rule per line; a token starting
 * with '#' starts a comment that runs to the end of the line; blank lines
 * are ignored; fields are separated by spaces or tabs:
 *
 *   allow|deny DELEGATE USER PROTO REMOTE-ADDRS REMOTE-PORTS LOCAL-ADDRS LOCAL-PORTS
 *              [program=GLOB] [max=N] [lifetime=DURATION] [time=HH:MM-HH:MM]
 *
 *   DELEGATE      * | comma list of group names or gids: the group of the
 *                 channel the request arrived on (the wrapper's group)
 *   USER          * | comma list of user names, uids, @group or @gid (any
 *                 user whose primary or supplementary groups hold it)
 *   PROTO         tcp | udp | *
 *   *-ADDRS       * | comma list of IPv4/IPv6 addresses or prefixes.  An IPv4
 *                 entry never matches an IPv6 request nor the reverse (an
 *                 IPv4-mapped entry ::ffff:a.b.c.d is IPv6); only * matches
 *                 both.  A prefix with host bits set (192.0.2.1/24) is an
 *                 error, not silently masked: it is ambiguous whether the
 *                 host or the network was meant.
 *   *-PORTS       * | comma list of ports or ranges a-b, 1..65535, a <= b.
 *                 A request for any remote port (0) matches only a
 *                 REMOTE-PORTS of *.
 *   program=GLOB  the requester's program (policy_request.program; a deny
 *                 rule also its .exe) matches GLOB:
 *                 fnmatch(3) without flags ('*' and '?' also match '/'),
 *                 [set], [!set], ranges and \-escapes; [:class:] and the
 *                 like are refused.  GLOB must start with '/' or '*'.  A
 *                 request without a program never matches such a rule.
 *   max=N         at most N open pinholes per user under this rule,
 *                 1..1000000; reported here, counted by dyperd.
 *   lifetime=DUR  longest lifetime this rule grants: 250ms, 30s, 5m, 2h, 1d
 *                 or plain seconds; more than 0, less than 2^32 ms.
 *   time=A-B      matches only from A (inclusive) to B (exclusive) local
 *                 time, HH:MM each; may wrap past midnight (22:00-06:00);
 *                 A != B.
 *
 * Names are resolved when the policy is parsed; an unknown name is an
 * error.  A token of digits only is a uid or gid, never a name.  Lines are at most POLICY_MAX_LINE bytes, files at most
 * POLICY_MAX_BYTES, policies at most POLICY_MAX_RULES rules.
 */
#ifndef DYPER_POLICY_H
#define DYPER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_PATH_DEFAULT	"/etc/dyper/policy"
#define POLICY_MAX_LINE		4096
#define POLICY_MAX_RULES	100000
#define POLICY_MAX_BYTES	(16u << 20)
#define POLICY_MAX_PER_USER	1000000		/* largest max= */
#define POLICY_DELEGATE_MAX	63		/* a site delegate's name: what an element
						 * comment of the router carries */
#define POLICY_ERR_LEN		512		/* room for any message whose name is
						 * under 256 bytes; longer ones are cut */

struct policy;				/* opaque, immutable after parsing */

/*
 * Parses @len bytes of policy text (need not be NUL-terminated).  @name
 * names the text in messages ("NAME:LINE: ..."; NULL: "policy").  On
 * success *@out is a new policy to release with policy_free().  On failure
 * *@out is NULL and @err (if @errlen > 0) holds
 * "NAME:LINE: expected ..., found "TOKEN"" or "NAME:LINE: unknown user "x"".
 * Returns 0, -EINVAL (bad text), -ENOENT (unknown user or group), -EFBIG
 * (over POLICY_MAX_BYTES), -ENOMEM, or the -errno of a failed name lookup.
 */
int policy_parse(struct policy **out, const char *text, size_t len,
		 const char *name, char *err, size_t errlen);

/*
 * Reads the file at @path (at most POLICY_MAX_BYTES) and parses it with
 * @path as its name.  Errors as policy_parse(), plus the -errno of open or
 * read ("PATH: cannot open: No such file or directory").
 */
int policy_load(struct policy **out, const char *path, char *err, size_t errlen);

/*
 * The site controller's flavour (dyperd in site mode, dyper.conf [site]):
 * the same language, judged for hosts rather than local users.  DELEGATE
 * is * or a comma list of delegate names, the host names that
 * dyper-remote(8) passes (1 to POLICY_DELEGATE_MAX of A-Z a-z 0-9 . -,
 * starting with a letter or digit), matched against
 * policy_request.delegate; USER must be * (no user crosses the wire);
 * program= and max= are refused (a site knows no programs; its quota is
 * per delegate).  So paper §4.2's `allow host1 * * * * 198.51.100.7 *`
 * lets host1 open pinholes to itself only.
 */
enum policy_flavour {
	POLICY_HOST,
	POLICY_SITE,
};

/* policy_parse() and policy_load() for @flavour (they are POLICY_HOST). */
int policy_parse_as(struct policy **out, const char *text, size_t len, const char *name,
		    enum policy_flavour flavour, char *err, size_t errlen);
int policy_load_as(struct policy **out, const char *path, enum policy_flavour flavour,
		   char *err, size_t errlen);

/* Releases @p.  NULL is fine. */
void policy_free(struct policy *p);

/* Number of rules (comment and blank lines do not count). */
size_t policy_rule_count(const struct policy *p);

/* True when some rule names a @group in USER: only then can a decision
 * depend on policy_request.gids, which costs dyperd a read of /proc. */
bool policy_uses_groups(const struct policy *p);

/* True when some rule has program=: only then must the requester's
 * executable be read for every request. */
bool policy_uses_programs(const struct policy *p);

/* One request, as dyperd has verified it with the kernel. */
struct policy_request {
	uint32_t delegate_gid;		/* group of the channel */
	const char *delegate;		/* site flavour: the host that asked */
	uint32_t uid;			/* requester */
	const uint32_t *gids;		/* its primary and supplementary groups */
	size_t n_gids;
	const char *program;		/* the requester's program, or NULL: for
					 * allow and deny rules (dyperd: see channel.c) */
	const char *exe;		/* what it runs now (/proc/PID/exe), or
					 * NULL: for deny rules too, which match
					 * either */
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t remote_port;		/* host order; 0: any remote port */
	uint16_t local_port;		/* host order */
	uint8_t remote[16];		/* network order, IPv4 in the first 4 bytes */
	uint8_t local[16];
	int minute_of_day;		/* local time, 0..1439, the caller's clock */
};

#define POLICY_WHY_LEN 160

struct policy_decision {
	bool allowed;
	unsigned line;			/* the deciding rule: the first matching deny
					 * when denied by one, the first matching allow
					 * when allowed; 0 when no rule decided */
	uint32_t max;			/* max= of the deciding allow, 0: no limit */
	uint32_t lifetime_ms;		/* lifetime= of the deciding allow, 0: none */
	char why[POLICY_WHY_LEN];	/* "allowed by NAME:3", "denied by NAME:7",
					 * "no allow rule matches", "invalid request: ..." */
};

/*
 * Decides @r against @p into @d.  Never allocates, never fails: a request
 * with a family, protocol or minute out of range is denied (line 0, why
 * "invalid request: ...").  Costs one pass over the rules, stopping at the
 * first matching deny.
 */
void policy_check(const struct policy *p, const struct policy_request *r,
		  struct policy_decision *d);

/* True when the rule on line @line exists and matches @r by itself
 * (allow or deny alike): dyperd's count for max= of that rule. */
bool policy_line_matches(const struct policy *p, unsigned line,
			 const struct policy_request *r);

/*
 * Writes the rule on line @line as it was written, fields joined by one
 * space, comment dropped, NUL-terminated.  Returns its length, -ENOENT
 * when no rule is on that line, or -ENOSPC (then @buf holds a truncated
 * copy if @len > 0).
 */
int policy_rule_text(const struct policy *p, unsigned line, char *buf, size_t len);

/*
 * The program= matcher, exposed for tests: for a glob policy_parse accepts
 * after program=, fnmatch(@glob, @s, 0) in the C locale; any other glob
 * never matches.  Time O(strlen(glob) * strlen(s)), no allocation, no
 * recursion (glibc's fnmatch is exponential in the number of '*').
 */
bool policy_glob_match(const char *glob, const char *s);

#endif
