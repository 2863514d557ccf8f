/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nft/ruleset.h — a read-only look at every nftables base chain of this
 * network namespace that sees incoming packets, and at what its rules can
 * do to them.  For `dyperctl doctor`: an accept in Dyper's table does not
 * override a drop in another table's chain on the same hook, so a foreign
 * drop silently closes every pinhole.  Knows netlink and nothing of policy.
 *
 * The verdicts are judged by the rules' form, not by traffic: a rule is
 * unconditional when it has no match before its verdict (only counter or
 * log); "iifname X" alone is remembered as an interface condition; any
 * other match makes it conditional.  Jumps and gotos are followed (at most
 * 16 deep, the kernel's own limit), a conditional jump making everything
 * below it conditional.  A verdict map may drop: it counts as a
 * conditional drop.
 */
#ifndef DYPER_NFT_RULESET_H
#define DYPER_NFT_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#define NFT_RULESET_NAME_LEN	256	/* NFT_NAME_MAXLEN */

enum nft_drops {
	NFT_DROPS_NONE,		/* no drop, reject or verdict map is reached */
	NFT_DROPS_SOME,		/* only behind a match: some packets */
	NFT_DROPS_ALL,		/* unconditionally, for every packet reaching it */
};

/* One base chain on the input hook (ip, ip6, inet) or on ingress (netdev,
 * inet). */
struct nft_input_chain {
	uint8_t family;			/* NFPROTO_IPV4, _IPV6, _INET, _NETDEV */
	bool ingress;			/* hook ingress, not input */
	bool policy_drop;
	int32_t priority;
	char table[NFT_RULESET_NAME_LEN];
	char chain[NFT_RULESET_NAME_LEN];
	char device[IFNAMSIZ];		/* ingress: its device, if one; else "" */
	enum nft_drops drops;		/* what its rules do, policy aside */
	/* the first rule that drops as badly as .drops says (NONE: unset) */
	char drop_chain[NFT_RULESET_NAME_LEN];	/* this chain or one it jumps to */
	uint64_t drop_handle;
	const char *drop_what;		/* "drop", "reject" or "verdict map" */
	/* an interface (other than lo) whose packets are all accepted before
	 * the drop: "iifname X accept", or a jump to a chain accepting all
	 * (firewalld's trusted zone); "" if none */
	char accept_iif[IFNAMSIZ];
	/* "meta mark & mark_mask == mark_value accept" (a plain "meta mark
	 * VALUE" has mask 0xffffffff) for every packet, before any drop: the
	 * first such rule */
	bool accepts_mark;
	uint32_t mark_mask, mark_value;
};

/*
 * Lists the input and ingress base chains of every table of every family
 * in the current network namespace, in the kernel's order.  Returns 0 with
 * *@out a malloc'd array of *@n chains (free() it; NULL when 0), or -errno:
 * -EPERM without CAP_NET_ADMIN, -EAGAIN when the ruleset kept changing
 * during the listing; then @err holds one line saying what failed.
 */
int nft_input_chains(struct nft_input_chain **out, size_t *n, char *err, size_t errlen);

/* "ip", "ip6", "inet", "netdev", "arp", "bridge" or "unknown". */
const char *nft_family_name(uint8_t family);

/* --- the analysis without a kernel, exposed for tests -------------------- */

struct nft_ruleset;
struct nftnl_chain;
struct nftnl_rule;

struct nft_ruleset *nft_ruleset_new(void);
void nft_ruleset_free(struct nft_ruleset *rs);
/* Adds a chain as the kernel dumps it; 0 or -ENOMEM. */
int nft_ruleset_add_chain(struct nft_ruleset *rs, const struct nftnl_chain *c);
/* Adds a rule; chains come first, rules in their chain's order.  A rule
 * of an unknown chain is ignored.  0 or -ENOMEM. */
int nft_ruleset_add_rule(struct nft_ruleset *rs, struct nftnl_rule *r);
/* The input chains of @rs, as nft_input_chains() returns them. */
int nft_ruleset_input_chains(const struct nft_ruleset *rs, struct nft_input_chain **out,
			     size_t *n);

#endif
