/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nft/ internals shared by its files and its unit tests; not for dyperd. */
#ifndef DYPER_NFT_INTERNAL_H
#define DYPER_NFT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer.h"

#define NFT_SET_PH4		"pinholes4"
#define NFT_SET_PH4_ANY		"pinholes4_any"
#define NFT_SET_PH6		"pinholes6"
#define NFT_SET_PH6_ANY		"pinholes6_any"
#define NFT_SET_CTL_TCP		"control_tcp"
#define NFT_SET_CTL_UDP		"control_udp"
#define NFT_SET_ICMP		"icmp_ok"
#define NFT_SET_ICMP6		"icmpv6_ok"
#define NFT_SET_INSIDE		"inside"
#define NFT_SET_OPEN4		"open4"
#define NFT_SET_OPEN6		"open6"
#define NFT_CHAIN_INPUT		"input"
#define NFT_CHAIN_FORWARD	"forward"
#define NFT_TABLE_COMMENT	"dyper: managed by dyperd, change it through dyperctl"
#define NFT_LOG_PREFIX		"dyper drop: "
#define NFT_LOG_PREFIX_ROUTER	"dyper site drop: "
#define NFT_COMMENT_MAX		127	/* kernel keeps up to 128 bytes with NUL */

/* Not in every distribution's headers yet (kernel 6.9). */
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST	0x4
#endif

#define NFT_FIELD_LEN(n)	(((n) + 3) & ~(size_t)3)

/* A growable buffer of netlink messages forming one batch. */
struct nlbuf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for one more message of at most @need bytes. */
int nlbuf_reserve(struct nlbuf *b, size_t need);
/* The free tail, where the next message is built. */
static inline char *nlbuf_tail(struct nlbuf *b) { return b->data + b->len; }
void nlbuf_free(struct nlbuf *b);

const char *pinhole_set_name(uint8_t family, bool any_port);
size_t pinhole_key_len(uint8_t family, bool any_port);

/*
 * Appends to @b the messages that create or converge the table described
 * by @cfg with table flags @flags; seq numbers are taken from *@seq on.
 * Does not add batch begin/end.  Returns 0 or -ENOMEM.
 */
int nft_build_setup(struct nlbuf *b, const struct nft_enforcer_config *cfg,
		    uint32_t flags, uint32_t *seq);

/* Bytes of one pinhole element, and of one message carrying many. */
#define NFT_ELEM_MAX		256
#define NFT_ELEMS_MSG_MAX	(60 * 1024)

struct nlattr;
struct nlmsghdr;
/*
 * Several pinholes of one set and one kind (add or delete) in one
 * message: begin (reserves the whole message in @b), put while not full,
 * end.  begin returns NULL on -ENOMEM.
 */
struct nlmsghdr *nft_elems_begin(struct nlbuf *b, const char *table, const char *set,
				 enum pinhole_op_type type, uint16_t nlflags, uint32_t seq,
				 struct nlattr **list);
bool nft_elems_full(const struct nlmsghdr *nlh);
int nft_elems_put(struct nlmsghdr *nlh, const struct pinhole_op *op);
void nft_elems_end(struct nlbuf *b, struct nlmsghdr *nlh, struct nlattr *list);

/* One pinhole in a message of its own (NFT_MSG_NEWSETELEM or DELSETELEM). */
int nft_build_pinhole(struct nlbuf *b, const char *table,
		      const struct pinhole_op *op, uint16_t nlflags, uint32_t seq);

/*
 * The rules setup builds, as one text line each (the expressions as
 * libnftnl prints them), so that a dumped chain can be compared with it.
 * Returns the number of rules, or -errno; *@out is malloc'd lines.
 */
int nft_expected_rules(const struct nft_enforcer_config *cfg, char ***out);
void nft_free_lines(char **lines, int n);

struct nftnl_rule;
/* The text of @r's expressions, as nft_expected_rules() makes it. */
char *nft_rule_text(const struct nftnl_rule *r);

/* ICMP (@v6 false) or ICMPv6 types accepted; echo-request only with @ping. */
size_t nft_icmp_types(bool v6, bool ping, const uint8_t **types);

struct nlmsghdr;
/* An NLMSG_ERROR reply: returns its error (0 for an ack, else -errno), the
 * sequence number it answers, and the kernel's extended-ack text or NULL. */
int nft_parse_err(const struct nlmsghdr *nlh, uint32_t *seq, const char **msg);

/* --- what each mode builds (rules.c) ----------------------------------- */

#define NFT_MAX_SETS		9
#define NFT_STATIC_KEYS_MAX	(NFT_ENFORCER_MAX_OPEN * 24)	/* the largest static set */

/* The base chain of @c's mode: its name, hook and policy. */
const char *nft_chain_name(const struct nft_enforcer_config *c);
uint32_t nft_chain_hook(const struct nft_enforcer_config *c);
uint32_t nft_chain_policy(const struct nft_enforcer_config *c);
/* The chain the other hook's mode would have: a table holding it was made
 * for that mode. */
const char *nft_chain_other(const struct nft_enforcer_config *c);

/* The names of the sets setup creates for @c's mode, NULL-terminated into
 * @names; returns how many. */
size_t nft_mode_sets(const struct nft_enforcer_config *c, const char *names[NFT_MAX_SETS + 1]);

/*
 * The keys setup puts into static set @set of @c (control ports, ICMP
 * types, inside interfaces, open ports): into @keys (NFT_STATIC_KEYS_MAX
 * bytes), each *@klen bytes.  Returns how many, or -ENOENT when @set is
 * not a static set of @c's mode.
 */
int nft_static_keys(const struct nft_enforcer_config *c, const char *set, uint8_t *keys,
		    size_t *klen);
/* What a static set holds, in words, for messages. */
const char *nft_static_what(const char *set);

#endif
