/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `dyperctl doctor`: looks at the live system, not through dyperd, and
 * says in plain words what keeps Dyper from working and what to do about
 * it: dyperd not running, its table missing or changed, another base chain
 * on the input hook dropping what the pinholes accept, legacy iptables,
 * the wrapper without its set-group-ID bit, the agent missing, a policy
 * that refuses everything; in border mode the key file, the pinned site
 * host key and (as root) a session to the site; on a site controller, each
 * [device NAME]: reachable, logged in with its pinned host key, its ACL in
 * place with the site's final deny.  Part of dyperctl only (not of dyperd).
 */
#ifndef DYPERD_DOCTOR_H
#define DYPERD_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

struct nft_input_chain;
struct policy;

/* Installed paths (Makefile: BINDIR, LIBDIR), overridable per run. */
#ifndef DYPER_WRAP_PATH
#define DYPER_WRAP_PATH		"/usr/local/bin/dyper-wrap"
#endif
#ifndef DYPER_PRELOAD_PATH
#define DYPER_PRELOAD_PATH	"/usr/local/lib/dyper/libdyper-preload.so"
#endif

struct doctor_opts {
	const char *config;	/* dyper.conf */
	bool config_given;	/* -c: a missing file is an error, not the defaults */
	const char *wrapper;	/* NULL: DYPER_WRAP_PATH */
	const char *agent;	/* NULL: DYPER_PRELOAD_PATH */
	const char *socket;	/* dyperd's control socket; NULL: the config's */
	bool json;
};

enum doctor_status {
	DOCTOR_OK,
	DOCTOR_WARN,
	DOCTOR_FAIL,
};

/*
 * Runs every check, printing one line each (and what to do), then a
 * summary, to @out; with @o->json one JSON object instead.  Returns 0 when
 * no check failed (warnings allowed), 1 otherwise.
 */
int doctor_run(const struct doctor_opts *o, FILE *out);

/* Connects to dyperd's control socket at @path (shared with dyperctl's
 * other commands).  Returns the descriptor, or -errno (-ENAMETOOLONG for
 * a path too long for a socket address). */
int doctor_connect(const char *path);

/* --- the judgments, without the system, exposed for tests -------------- */

/*
 * The wrapper as stat(2) saw it, for agent socket group @gid: OK, or FAIL
 * with @why saying what is wrong ("not set-group-ID", ...).
 */
enum doctor_status doctor_judge_wrapper(const struct stat *st, gid_t gid, char *why,
					size_t len);

/* The agent library: a regular file all may read and only root may write. */
enum doctor_status doctor_judge_agent(const struct stat *st, char *why, size_t len);

/* Whether @ic accepts, before any drop, every packet whose mark has the
 * bits of @mark set (dyper.conf's mark; 0: never). */
bool doctor_takes_mark(const struct nft_input_chain *ic, uint32_t mark);

/*
 * Another table's input chain @ic, beside Dyper's chain of hook priority
 * @priority that marks what it admits with @mark (0: no mark): FAIL when
 * it drops every packet that reaches it (policy drop, or an unconditional
 * drop or reject), WARN when it drops only some, or all but those of one
 * interface; OK otherwise, and when it accepts Dyper's mark after Dyper's
 * chain has set it (WARN when it would look before: same or lower
 * priority, or ingress).
 */
enum doctor_status doctor_judge_chain(const struct nft_input_chain *ic, uint32_t mark,
				      int32_t priority);

/*
 * The policy @p: OK with at least one allow rule and no deny rule for
 * every request ("deny * * * * * * *" without options); WARN otherwise,
 * @why saying which.  *@allows gets the number of allow rules.
 */
enum doctor_status doctor_judge_policy(const struct policy *p, size_t *allows, char *why,
				       size_t len);

/*
 * Border mode's key file as stat(2) saw it, for dyperd's user @uid: OK, or
 * FAIL with @why (not a regular file, another owner, group/other access).
 */
enum doctor_status doctor_judge_remote_key(const struct stat *st, uid_t uid, char *why,
					   size_t len);

/* True when the known_hosts text @text (@len bytes) has a line for the
 * site @host on @port, as "host" (port 22) or "[host]:port", among the
 * comma-separated names of its first field (hashed names are not read). */
bool doctor_known_host(const char *text, size_t len, const char *host, unsigned port);

#endif
