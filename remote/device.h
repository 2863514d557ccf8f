/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * remote/device — a border device (Cisco IOS, Force10 FTOS, Foundry IronWare,
 * Juniper JunOS) as an
 * enforcer (nft/enforcer_if.h), driven through its command line over SSH
 * (remote/cli.h).  One pinhole is one ACL entry (IOS: a sequence number in
 * a named ACL; JunOS: a term of a filter) permitting the remote host to
 * the internal host and port; the ACL, its final deny and its binding to
 * an interface are the site's own configuration, and the driver places
 * its entries before that deny.
 *
 * Threading: each device has a worker thread that owns the SSH session;
 * submit() queues a job for it and dispatch() delivers what it completed,
 * announced on an eventfd.  Neither waits for the device.  enforcer_free()
 * waits for the command in progress (at most the command timeout).
 *
 * Truth is the device: the driver's table of entries (identity -> pinhole)
 * is learned from the device's own listing whenever a session is opened,
 * after any failure in a batch, and on every READ and CHECK; it never
 * guesses which lines of a failed batch took.  Identities (IOS sequence
 * numbers, JunOS term numbers) come from [first_id, last_id], next-fit,
 * on IOS also below the ACL's final deny, and are reused once their entry
 * is gone from the device.
 *
 * What each job does:
 *   BATCH  ops in order, per op err: 0, -EEXIST (add of one held), -ENOENT
 *          (delete of one not held), -ENFILE (no identity left), -EINVAL
 *          (not a pinhole a device ACL can hold), -EREMOTEIO (the device
 *          refused the line, twice), -ECANCELED (not applied: the device
 *          could not be reached; the job's err says why).
 *   READ   every entry of ours with its packet count (the site's own
 *          entries are not reported).
 *   CHECK  intact: the ACL/filter exists and ends with a deny that is not
 *          ours; changed: the listing differs from the driver's table.
 *   SETUP  connects and checks as CHECK does (-ENOENT when the ACL or its
 *          final deny is missing: the site must configure it first).
 *   FLUSH  deletes every entry of ours.
 */
#ifndef DYPER_REMOTE_DEVICE_H
#define DYPER_REMOTE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer_if.h"
#include "remote/cli.h"

#define REMOTE_DEVICE_NAME_MAX		31	/* an ACL, filter or term name */
#define REMOTE_DEVICE_FIRST_ID		1
#define REMOTE_DEVICE_LAST_ID		999999
#define REMOTE_DEVICE_KEEPALIVE_MS	60000	/* IOS's exec-timeout is 10 min */
#define REMOTE_DEVICE_CONNECT_TRIES	4	/* per job, with backoff between */
#define REMOTE_DEVICE_CONFIRM_MIN	1	/* JunOS commit confirmed N */
#define REMOTE_DEVICE_ROUNDS		3	/* apply, reconcile, apply again */

/* What the site controller reads from a [device NAME] section. */
struct remote_device_config {
	const char *name;		/* for logs: "edge1" */
	const char *type;		/* "ios", "ftos", "ironware", "junos" */
	const char *address;		/* an IP address (no DNS from a daemon thread) */
	uint16_t port;			/* 0: 22 */
	const char *user;
	const char *key_file;		/* preferred */
	const char *password_file;	/* else: root-only, one line */
	const char *known_hosts;	/* the device's pinned host key */
	const char *acl;		/* IOS ACL / JunOS family inet filter */
	const char *acl6;		/* IPv6 ACL / family inet6 filter; NULL: acl */
	const char *final_term;		/* JunOS: the site's deny term; NULL: "deny" */
	uint32_t first_id, last_id;	/* 0: REMOTE_DEVICE_FIRST_ID / _LAST_ID */
	size_t batch_size;		/* ops per device transaction; 0: the type's */
	uint32_t save_interval_s;	/* save to startup config at most this often
					 * after changes; 0: never */
	uint32_t timeout_ms;		/* one command's answer; 0: CLI_TIMEOUT_MS */
	uint32_t keepalive_ms;		/* idle keepalive; 0: REMOTE_DEVICE_KEEPALIVE_MS */
	uint32_t confirm_minutes;	/* JunOS; 0: REMOTE_DEVICE_CONFIRM_MIN */
	unsigned connect_tries;		/* 0: REMOTE_DEVICE_CONNECT_TRIES */
	unsigned window;		/* CLI lines in flight; 0: CLI_WINDOW */
};

/*
 * A device as an enforcer named cfg->name.  Checks the config (types,
 * names, ranges) and loads the secrets; does not connect (SETUP does, or
 * the first job).  Returns 0, or -EINVAL / -EPERM / -ENOENT / -ENOMEM with
 * @why (CLI_ERROR_LEN) saying what to fix; *@out is NULL then.
 */
int remote_device_new(struct enforcer **out, const struct remote_device_config *cfg, char *why);

/* The paper's best batch size for @type (IOS 300, FTOS 1000, IronWare
 * 5000, JunOS 4200); 0 for an unknown type. */
size_t remote_device_batch_default(const char *type);

/* --- for the dialects (remote/ios.c, remote/junos.c) ------------------------ */

struct device;

/* One op of a batch, planned: its entry's identity; the dialect sets res:
 * 0 applied, -EREMOTEIO the device refused it, -ECANCELED not applied
 * (the device's transaction was abandoned), -EINPROGRESS unknown. */
struct device_op {
	enum pinhole_op_type type;
	const struct pinhole *ph;
	uint32_t id;
	int res;
};

/* One entry as the device lists it, in the device's order. */
struct device_entry {
	uint32_t id;			/* sequence number, or term number (ours) */
	bool ours;			/* parsed as one of the driver's entries */
	bool deny;			/* the site's: denies (or discards) */
	struct pinhole ph;		/* if ours; ph.family always */
	uint64_t packets, bytes;
};

struct device_view {
	struct device_entry *v;
	size_t n, cap;
	bool found[2];			/* [0] v4, [1] v6: the ACL/filter exists */
	const struct device_entry *last[2];	/* set by the driver after learn */
};

int device_view_add(struct device_view *view, const struct device_entry *e);

struct device_dialect {
	const char *type;
	size_t batch_default;
	const struct cli_dialect *cli;
	bool ids_below_deny;		/* identities order the entries (IOS) */
	/* Applies @n planned ops (one family or both), setting each res. 0, or
	 * the session's -errno (then unanswered ops are -EINPROGRESS). */
	int (*apply)(struct device *d, struct device_op *ops, size_t n);
	/* Lists both families' ACLs into @view. */
	int (*learn)(struct device *d, struct device_view *view);
	/* After a reconnect, before learning (JunOS: confirm our pending
	 * commit confirmed); NULL: nothing. */
	int (*recover)(struct device *d);
	/* Saves the running config (IOS "write memory"); NULL: nothing. */
	int (*save)(struct device *d);
	/* Renumbers family @f's ACL @first, @first + @step, ... in its order
	 * (IOS "ip access-list resequence"); NULL: identities do not order. */
	int (*resequence)(struct device *d, int f, uint32_t first, uint32_t step);
};

extern const struct device_dialect device_ios, device_ftos, device_ironware, device_junos;

/* The words of a Cisco-style dialect (remote/cisco.c; IOS, FTOS, IronWare). */
struct cisco_syntax {
	const char *configure;		/* enters configuration mode */
	const char *acl4, *acl6;	/* enters the ACL (then its name) */
	const char *seq4, *seq6;	/* before an entry's number: "", "sequence ", "seq " */
	const char *suffix;		/* after an entry: "" or " count" */
	const char *show4, *show6;	/* lists the ACL with counts (then its name) */
	const char *header4, *header6;	/* the listing's first line (then the name) */
	const char *lead4, *lead6;	/* listed as "[LEAD] N rule" ("" no lead),
					 * or NULL: "rule sequence N" */
	bool colon;			/* listed as "N: [sequence N ]rule" (IronWare) */
	bool hits;			/* the count on the line after the entry:
					 * "Hit count: ... (accum) N" (IronWare) */
	/* After the entries, in configuration mode, so that the change reaches
	 * the hardware (then the ACL's name; NULL: none).  An op counts as
	 * applied only once this line is answered cleanly: else its result is
	 * unknown and the session is closed, so that the reconnect's recover
	 * (see ironware.c) runs it again before anything else. */
	const char *rebind4, *rebind6;
};
int cisco_apply(struct device *d, const struct cisco_syntax *k, struct device_op *ops, size_t n);
int cisco_learn(struct device *d, const struct cisco_syntax *k, struct device_view *view);

struct cli *device_cli(struct device *d);
const struct remote_device_config *device_config(const struct device *d);

/* Lines for a CLI run, built from validated fields only. */
struct device_lines {
	char *buf;			/* NUL-separated */
	size_t len, cap;
	size_t *off;
	const char **ptr;		/* device_lines_ptrs() */
	size_t n, ncap;
};
__attribute__((format(printf, 2, 3)))
int device_lines_add(struct device_lines *l, const char *fmt, ...);
const char *const *device_lines_ptrs(struct device_lines *l);
void device_lines_reset(struct device_lines *l);
/* Runs the lines through the device's session (cli_run); *@res gets each
 * line's result (malloc'd, the caller frees it, also on failure). */
int device_lines_run(struct device *d, struct device_lines *l, int **res);
void device_lines_free(struct device_lines *l);

/* "192.0.2.1" / "2001:db8::1" of @ph's remote or local address. */
void device_addr(const struct pinhole *ph, bool remote, char *buf, size_t len);
const char *device_proto(const struct pinhole *ph);
/* Splits @s in place at spaces into at most @max tokens; their number. */
size_t device_split(char *s, char **tok, size_t max);
/* A decimal number without sign or junk, at most @max: 0 or -EINVAL. */
int device_number(const char *s, uint64_t max, uint64_t *v);
/* Parses an address of @family (any case): 0 or -EINVAL. */
int device_parse_addr(uint8_t family, const char *s, union pinhole_addr *a);

#endif
