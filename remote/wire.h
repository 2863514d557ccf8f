/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * remote/wire — the line grammar between a host's dyperd and the site
 * (border mode), spoken over one SSH exec channel through dyper-remote(8)
 * to the site controller.  Leaf code: it knows pinholes and text, nothing
 * of policy.  Both ends parse with remote_wire_parse() and write with
 * remote_wire_format(), so what one writes the other accepts.
 *
 * Version 1.  Every line is printable ASCII (0x20..0x7e) ending in "\n",
 * at most REMOTE_WIRE_LINE_MAX bytes with the newline; tokens are separated
 * by exactly one space; nothing before the first or after the last.
 *
 *   client (host) -> site                site -> client
 *   DYPER <version>                      DYPER <version> OK <site-name>
 *                                        DYPER ERR <reason>
 *   <id> OPEN <pinhole> <lease>          <id> OK
 *   <id> CLOSE <pinhole>                 <id> ERR <ERRNO-NAME> [<text>]
 *   <id> RENEW <lease>
 *   <id> SYNC BEGIN
 *   <id> HOLD <pinhole> <lease>
 *   <id> SYNC END
 *   <id> PING
 *
 *   dyper-remote -> site controller only (first line on its socket):
 *   DELEGATE <name>
 *
 * <pinhole> is "tcp|udp <remote-addr> <remote-port|*> <local-addr>
 * <local-port>": addresses as inet_pton(3) reads them (both of one family,
 * neither unspecified, no v4-mapped IPv6: a v4 pinhole is written as v4),
 * always written back by inet_ntop(3) (canonical), so a relay that
 * re-formats what it parsed passes on one spelling only.  Ports 1..65535,
 * "*" = any remote port.  <lease> seconds 1..REMOTE_WIRE_LEASE_MAX.
 * Numbers are decimal, no sign, no leading zero (except "0" itself), no
 * overflow.  <id> is a uint64 the client chooses, unique among its
 * requests in flight; 0 is never a request's: a reply "0 ERR ..." answers
 * a line whose id could not be read.  Ids with the top bit set
 * (REMOTE_WIRE_ID_TRANSPORT) belong to the transport (remote/ssh.c's
 * keepalive PINGs), the rest to its caller.  Replies come in any order.
 *
 * RENEW renews every pinhole the delegate holds; SYNC BEGIN, HOLD..., SYNC
 * END re-announce after a reconnect what the host holds, and the site
 * converges to exactly that set.  <name> (site name, delegate) is 1 to
 * REMOTE_WIRE_NAME_MAX of [A-Za-z0-9.-], starting with a letter or digit.
 * <text> and <reason> are free printable text, at most REMOTE_WIRE_TEXT_MAX.
 * <ERRNO-NAME> is an errno's symbolic name (EACCES, EEXIST, EDQUOT,
 * ETIMEDOUT...), see remote_errno_name().
 */
#ifndef DYPER_REMOTE_WIRE_H
#define DYPER_REMOTE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer.h"

#define REMOTE_WIRE_VERSION		1
#define REMOTE_WIRE_LINE_MAX		512	/* bytes, with the "\n" */
#define REMOTE_WIRE_NAME_MAX		64
#define REMOTE_WIRE_TEXT_MAX		200
#define REMOTE_WIRE_LEASE_MAX		86400	/* seconds */
#define REMOTE_WIRE_VERSION_MAX		999
#define REMOTE_WIRE_ID_TRANSPORT	(UINT64_C(1) << 63)
#define REMOTE_WIRE_WHY_LEN		96	/* enough for a parse error */

enum remote_msg_type {
	REMOTE_MSG_HELLO = 1,	/* DYPER <version> */
	REMOTE_MSG_WELCOME,	/* DYPER <version> OK <name> */
	REMOTE_MSG_REFUSE,	/* DYPER ERR <text> */
	REMOTE_MSG_DELEGATE,	/* DELEGATE <name> */
	REMOTE_MSG_OPEN,	/* <id> OPEN <ph> <lease> */
	REMOTE_MSG_CLOSE,	/* <id> CLOSE <ph> */
	REMOTE_MSG_RENEW,	/* <id> RENEW <lease> */
	REMOTE_MSG_SYNC_BEGIN,	/* <id> SYNC BEGIN */
	REMOTE_MSG_HOLD,	/* <id> HOLD <ph> <lease> */
	REMOTE_MSG_SYNC_END,	/* <id> SYNC END */
	REMOTE_MSG_PING,	/* <id> PING */
	REMOTE_MSG_OK,		/* <id> OK */
	REMOTE_MSG_ERR,		/* <id> ERR <ERRNO-NAME> [<text>] */
};

/*
 * One line, parsed.  Fields a type does not use are zero.  ph carries
 * family, proto, addresses and ports only (timeout and owner zero): the
 * lease is its own field.
 */
struct remote_msg {
	enum remote_msg_type type;
	uint64_t id;
	struct pinhole ph;		/* OPEN, CLOSE, HOLD */
	uint32_t lease_s;		/* OPEN, HOLD, RENEW */
	uint32_t version;		/* HELLO, WELCOME */
	int err;			/* ERR: a positive errno */
	char name[REMOTE_WIRE_NAME_MAX + 1];	/* WELCOME, DELEGATE */
	char text[REMOTE_WIRE_TEXT_MAX + 1];	/* ERR (may be ""), REFUSE */
};

/*
 * Parses one line of @len bytes at @line, without its "\n" (a "\n" or
 * "\r" inside is an error); never reads past @len, needs no terminator.
 * Returns 0, or -EMSGSIZE when @len >= REMOTE_WIRE_LINE_MAX, -EINVAL for
 * anything else that is not exactly one line of the grammar.  On error
 * m->id holds the request id if it was read (else 0), so that the reply
 * can name it, and @why (if not NULL) says what was expected and quotes
 * what was found: 'field 3: expected "tcp" or "udp", found "icmp"'.
 */
int remote_wire_parse(const char *line, size_t len, struct remote_msg *m,
		      char why[REMOTE_WIRE_WHY_LEN]);

/*
 * Writes @m as one line with its "\n" into @buf, NUL-terminated.  Returns
 * the line's length (with "\n", without the NUL), -ENOSPC if @len is too
 * small (REMOTE_WIRE_LINE_MAX + 1 always fits), -EINVAL if @m is not
 * something remote_wire_parse() would accept (bad type, family, port,
 * lease, name, text, id 0 in a request, an errno without a name).
 */
int remote_wire_format(const struct remote_msg *m, char *buf, size_t len);

/* Types a client sends after its HELLO: OPEN CLOSE RENEW SYNC_* HOLD PING. */
bool remote_msg_is_request(enum remote_msg_type type);

/* "EACCES" for EACCES (positive), NULL for an errno without a name here. */
const char *remote_errno_name(int err);
/* EACCES for "EACCES" (exactly @len bytes), 0 if unknown. */
int remote_errno_from_name(const char *s, size_t len);

/* True for a site or delegate name as the grammar defines it. */
bool remote_name_valid(const char *s, size_t len);

#endif
