// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A read-only look at the whole ruleset: two dumps (all chains, all rules,
 * every family), then a walk from each input or ingress base chain along
 * its jumps to see whether and how it drops.  Only the rules that decide
 * (verdicts, jumps, verdict maps) are kept.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "nft/ruleset.h"

#define DUMP_BUF	(256 * 1024)
#define JUMP_DEPTH	16		/* NFT_JUMP_STACK_SIZE */
#define DUMP_TRIES	3

enum rule_kind { R_ACCEPT, R_DROP, R_REJECT, R_VMAP, R_JUMP, R_GOTO };
enum rule_cond { C_NONE, C_IIF, C_MARK, C_OTHER };

struct rule_rec {
	enum rule_kind kind;
	enum rule_cond cond;
	char iif[IFNAMSIZ];		/* C_IIF */
	uint32_t mark_mask, mark_value;	/* C_MARK: meta mark & mask == value */
	char target[NFT_RULESET_NAME_LEN];	/* R_JUMP, R_GOTO */
	uint64_t handle;
};

struct chain_rec {
	uint8_t family;
	bool base;
	uint32_t hook;
	int32_t prio;
	uint32_t policy;
	char table[NFT_RULESET_NAME_LEN];
	char name[NFT_RULESET_NAME_LEN];
	char dev[IFNAMSIZ];
	struct rule_rec *rules;
	size_t n_rules, cap_rules;
};

struct nft_ruleset {
	struct chain_rec *chains;
	size_t n, cap;
};

const char *nft_family_name(uint8_t family)
{
	switch (family) {
	case NFPROTO_IPV4:	return "ip";
	case NFPROTO_IPV6:	return "ip6";
	case NFPROTO_INET:	return "inet";
	case NFPROTO_NETDEV:	return "netdev";
	case NFPROTO_ARP:	return "arp";
	case NFPROTO_BRIDGE:	return "bridge";
	default:		return "unknown";
	}
}

struct nft_ruleset *nft_ruleset_new(void)
{
	return calloc(1, sizeof(struct nft_ruleset));
}

void nft_ruleset_free(struct nft_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		free(rs->chains[i].rules);
	free(rs->chains);
	free(rs);
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* @v, holding @n elements of @size bytes in room for *@cap, with room for
 * one more: @v itself or a larger copy; NULL (@v unchanged) on -ENOMEM. */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv;

	if (n < *cap)
		return v;
	nv = realloc(v, ncap * size);
	if (nv)
		*cap = ncap;
	return nv;
}

int nft_ruleset_add_chain(struct nft_ruleset *rs, const struct nftnl_chain *c)
{
	struct chain_rec *cr = grow(rs->chains, rs->n, &rs->cap, sizeof(*cr));

	if (!cr)
		return -ENOMEM;
	rs->chains = cr;
	cr = &rs->chains[rs->n++];
	memset(cr, 0, sizeof(*cr));
	cr->family = (uint8_t)nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	copy_str(cr->table, sizeof(cr->table), nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
	copy_str(cr->name, sizeof(cr->name), nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	cr->base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
	if (cr->base) {
		cr->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		cr->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		cr->policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ?
			     nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEV))
			copy_str(cr->dev, sizeof(cr->dev), nftnl_chain_get_str(c, NFTNL_CHAIN_DEV));
	}
	return 0;
}

static struct chain_rec *find_chain(const struct nft_ruleset *rs, uint8_t family,
				    const char *table, const char *name)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct chain_rec *cr = &rs->chains[i];

		if (cr->family == family && !strcmp(cr->table, table) && !strcmp(cr->name, name))
			return cr;
	}
	return NULL;
}

/* What one rule decides, and under which condition; false when it decides
 * nothing we follow (no verdict, or continue/return/queue). */
struct classify {
	struct rule_rec *rr;
	bool verdict;
	uint32_t iif_reg;		/* register holding meta iif/iifname, or 0 */
	uint32_t iif_key;
	uint32_t mark_reg;		/* register holding meta mark, or 0 */
	uint32_t mark_mask;		/* what a bitwise kept of it */
};

static void add_cond(struct classify *k, enum rule_cond c)
{
	if (k->rr->cond == C_NONE)
		k->rr->cond = c;
	else
		k->rr->cond = C_OTHER;
}

/* "meta mark [& MASK] == VALUE": loaded, perhaps masked, compared.  True
 * when @e is a step of that (recorded in @k). */
static bool mark_step(struct classify *k, struct nftnl_expr *e, const char *name,
		      uint32_t pending)
{
	uint32_t len = 0;
	const void *d;

	if (!strcmp(name, "meta") && nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG) &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == NFT_META_MARK) {
		k->mark_reg = nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG);
		k->mark_mask = UINT32_MAX;
		return true;
	}
	if (!pending || (!strcmp(name, "bitwise") ?
			 nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG) != pending :
			 strcmp(name, "cmp") || nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG) != pending))
		return false;
	if (!strcmp(name, "bitwise")) {
		const void *x = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &len);

		d = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
		if (!d || len != 4 || !x || *(const uint32_t *)x ||
		    nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG) != pending)
			return false;
		k->mark_mask = *(const uint32_t *)d;
		k->mark_reg = pending;
		return true;
	}
	d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
	if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ || !d || len != 4)
		return false;
	if (k->rr->cond == C_NONE) {
		k->rr->mark_mask = k->mark_mask;
		k->rr->mark_value = *(const uint32_t *)d;
	}
	add_cond(k, C_MARK);
	return true;
}

static int expr_cb(struct nftnl_expr *e, void *data)
{
	struct classify *k = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	uint32_t pending = k->iif_reg, mark_pending = k->mark_reg;

	k->iif_reg = 0;
	k->mark_reg = 0;
	if (!name || k->verdict)
		return MNL_CB_OK;
	if (!strcmp(name, "counter") || !strcmp(name, "log"))
		return MNL_CB_OK;
	if (mark_step(k, e, name, mark_pending))
		return MNL_CB_OK;
	if (!strcmp(name, "meta") && nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG)) {
		uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);

		if (key == NFT_META_IIFNAME || key == NFT_META_IIF) {
			k->iif_reg = nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG);
			k->iif_key = key;
			return MNL_CB_OK;	/* the cmp that follows decides */
		}
	} else if (!strcmp(name, "cmp") && pending &&
		   nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG) == pending &&
		   nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ) {
		uint32_t len = 0;
		const void *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		char ifname[IF_NAMESIZE] = "";

		if (k->iif_key == NFT_META_IIFNAME && d && len)
			memcpy(ifname, d, len < IFNAMSIZ - 1 ? len : IFNAMSIZ - 1);
		else if (k->iif_key == NFT_META_IIF && d && len == 4)
			if_indextoname(*(const uint32_t *)d, ifname);
		/* a wildcard "eth*" is compared on a prefix: not one interface */
		if (ifname[0] && len <= IFNAMSIZ && (k->iif_key == NFT_META_IIF ||
						     memchr(d, '\0', len))) {
			if (k->rr->cond == C_NONE)
				copy_str(k->rr->iif, sizeof(k->rr->iif), ifname);
			add_cond(k, C_IIF);
			return MNL_CB_OK;
		}
	} else if (!strcmp(name, "immediate") &&
		   nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
		   nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
		int32_t v = (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);

		k->verdict = true;
		switch (v) {
		case NF_ACCEPT:
			k->rr->kind = R_ACCEPT;
			return MNL_CB_OK;
		case NF_DROP:
			k->rr->kind = R_DROP;
			return MNL_CB_OK;
		case NFT_JUMP:
		case NFT_GOTO:
			k->rr->kind = v == NFT_JUMP ? R_JUMP : R_GOTO;
			copy_str(k->rr->target, sizeof(k->rr->target),
				 nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
			return MNL_CB_OK;
		default:
			k->verdict = false;	/* continue, return, queue */
			return -1;		/* stops nftnl_expr_foreach */
		}
	} else if (!strcmp(name, "reject")) {
		k->verdict = true;
		k->rr->kind = R_REJECT;
		return MNL_CB_OK;
	} else if (!strcmp(name, "lookup") && nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) &&
		   nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) == NFT_REG_VERDICT) {
		k->verdict = true;
		k->rr->kind = R_VMAP;
		add_cond(k, C_OTHER);
		return MNL_CB_OK;
	}
	add_cond(k, C_OTHER);
	return MNL_CB_OK;
}

int nft_ruleset_add_rule(struct nft_ruleset *rs, struct nftnl_rule *r)
{
	const char *table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	struct rule_rec rr = { .cond = C_NONE };
	struct classify k = { .rr = &rr };
	struct chain_rec *cr;
	struct rule_rec *v;

	if (!table || !chain)
		return 0;
	cr = find_chain(rs, (uint8_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), table, chain);
	if (!cr)
		return 0;
	nftnl_expr_foreach(r, expr_cb, &k);
	/* accepts matter only when they take everything, a whole interface,
	 * or marked packets */
	if (!k.verdict || (rr.kind == R_ACCEPT && rr.cond == C_OTHER))
		return 0;
	rr.handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	v = grow(cr->rules, cr->n_rules, &cr->cap_rules, sizeof(rr));
	if (!v)
		return -ENOMEM;
	cr->rules = v;
	cr->rules[cr->n_rules++] = rr;
	return 0;
}

/* --- the walk ---------------------------------------------------------------- */

enum walk_end { FALLS_THROUGH, ACCEPTS_ALL, DROPS_ALL };

static void note_drop(struct nft_input_chain *ic, enum nft_drops d, const struct chain_rec *cr,
		      const struct rule_rec *rr)
{
	if (d <= ic->drops)
		return;
	ic->drops = d;
	copy_str(ic->drop_chain, sizeof(ic->drop_chain), cr->name);
	ic->drop_handle = rr->handle;
	ic->drop_what = rr->kind == R_DROP ? "drop" : rr->kind == R_REJECT ? "reject" :
			"verdict map";
}

static void note_iif(struct nft_input_chain *ic, const char *iif)
{
	if (!ic->accept_iif[0] && strcmp(iif, "lo"))
		copy_str(ic->accept_iif, sizeof(ic->accept_iif), iif);
}

static void note_mark(struct nft_input_chain *ic, const struct rule_rec *rr)
{
	if (ic->accepts_mark || ic->drops != NFT_DROPS_NONE)
		return;
	ic->accepts_mark = true;
	ic->mark_mask = rr->mark_mask;
	ic->mark_value = rr->mark_value;
}

/*
 * Walks chain @cr as the kernel would for a packet reaching it, @cond when
 * only some packets get here.  Records drops in @ic; says how the chain
 * ends for a packet no rule of it singled out.
 */
static enum walk_end walk(const struct nft_ruleset *rs, const struct chain_rec *cr, bool cond,
			  int depth, struct nft_input_chain *ic)
{
	if (depth > JUMP_DEPTH)
		return FALLS_THROUGH;
	for (size_t i = 0; i < cr->n_rules; i++) {
		const struct rule_rec *rr = &cr->rules[i];
		bool some = cond || rr->cond != C_NONE;
		const struct chain_rec *to;
		enum walk_end end;

		switch (rr->kind) {
		case R_ACCEPT:
			if (rr->cond == C_IIF && !cond)
				note_iif(ic, rr->iif);
			if (rr->cond == C_MARK && !cond)
				note_mark(ic, rr);
			if (rr->cond == C_NONE)
				return ACCEPTS_ALL;
			break;
		case R_DROP:
		case R_REJECT:
			note_drop(ic, some ? NFT_DROPS_SOME : NFT_DROPS_ALL, cr, rr);
			if (rr->cond == C_NONE)
				return DROPS_ALL;
			break;
		case R_VMAP:
			note_drop(ic, NFT_DROPS_SOME, cr, rr);
			break;
		case R_JUMP:
		case R_GOTO:
			to = find_chain(rs, cr->family, cr->table, rr->target);
			if (!to)
				break;
			end = walk(rs, to, some, depth + 1, ic);
			if (end == ACCEPTS_ALL && rr->cond == C_IIF && !cond)
				note_iif(ic, rr->iif);
			if (rr->cond == C_NONE && (end != FALLS_THROUGH || rr->kind == R_GOTO))
				return end;
			break;
		}
	}
	return FALLS_THROUGH;
}

static bool is_input(const struct chain_rec *cr, bool *ingress)
{
	if (!cr->base)
		return false;
	switch (cr->family) {
	case NFPROTO_IPV4:
	case NFPROTO_IPV6:
		*ingress = false;
		return cr->hook == NF_INET_LOCAL_IN;
	case NFPROTO_INET:
		*ingress = cr->hook == NF_INET_INGRESS;
		return cr->hook == NF_INET_LOCAL_IN || *ingress;
	case NFPROTO_NETDEV:
		*ingress = true;
		return cr->hook == NF_NETDEV_INGRESS;
	default:
		return false;
	}
}

int nft_ruleset_input_chains(const struct nft_ruleset *rs, struct nft_input_chain **out,
			     size_t *n)
{
	struct nft_input_chain *v = NULL;
	size_t m = 0;
	bool ingress;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < rs->n; i++)
		m += is_input(&rs->chains[i], &ingress);
	if (!m)
		return 0;
	v = calloc(m, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		const struct chain_rec *cr = &rs->chains[i];
		struct nft_input_chain *ic = &v[*n];

		if (!is_input(cr, &ingress))
			continue;
		ic->family = cr->family;
		ic->ingress = ingress;
		ic->policy_drop = cr->policy == NF_DROP;
		ic->priority = cr->prio;
		copy_str(ic->table, sizeof(ic->table), cr->table);
		copy_str(ic->chain, sizeof(ic->chain), cr->name);
		copy_str(ic->device, sizeof(ic->device), cr->dev);
		walk(rs, cr, false, 0, ic);
		(*n)++;
	}
	*out = v;
	return 0;
}

/* --- the kernel ------------------------------------------------------------------ */

struct dump_ctx {
	struct nft_ruleset *rs;
	bool rules;
	int err;
	bool interrupted;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *dc = data;
	int err = -ENOMEM;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		dc->interrupted = true;
	if (dc->err)
		return MNL_CB_OK;
	if (dc->rules) {
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (r && nftnl_rule_nlmsg_parse(nlh, r) == 0)
			err = nft_ruleset_add_rule(dc->rs, r);
		else if (r)
			err = -EINVAL;
		nftnl_rule_free(r);
	} else {
		struct nftnl_chain *c = nftnl_chain_alloc();

		if (c && nftnl_chain_nlmsg_parse(nlh, c) == 0)
			err = nft_ruleset_add_chain(dc->rs, c);
		else if (c)
			err = -EINVAL;
		nftnl_chain_free(c);
	}
	dc->err = err;
	return MNL_CB_OK;
}

/* One dump of every chain or every rule, all families, into @dc. */
static int dump(struct mnl_socket *nl, char *buf, uint32_t seq, struct dump_ctx *dc)
{
	uint32_t portid = mnl_socket_get_portid(nl);
	struct nlmsghdr *nlh;
	ssize_t len;
	int ret;

	nlh = nftnl_nlmsg_build_hdr(buf, dc->rules ? NFT_MSG_GETRULE : NFT_MSG_GETCHAIN,
				    NFPROTO_UNSPEC, NLM_F_DUMP | NLM_F_ACK, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(nl, buf, DUMP_BUF);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)len, seq, portid, dump_cb, dc);
		if (ret < 0)
			return errno ? -errno : -EPROTO;
	} while (ret != MNL_CB_STOP);
	if (dc->err)
		return dc->err;
	return dc->interrupted ? -EAGAIN : 0;
}

int nft_input_chains(struct nft_input_chain **out, size_t *n, char *err, size_t errlen)
{
	struct mnl_socket *nl = NULL;
	struct nft_ruleset *rs = NULL;
	char *buf = malloc(DUMP_BUF);
	uint32_t seq = (uint32_t)time(NULL);
	int ret = -ENOMEM;

	*out = NULL;
	*n = 0;
	if (!buf)
		goto out;
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open a netfilter netlink socket: %s", strerror(errno));
		goto out;
	}
	for (int tries = 0; tries < DUMP_TRIES; tries++) {
		struct dump_ctx chains = { 0 }, rules = { .rules = true };

		nft_ruleset_free(rs);
		rs = nft_ruleset_new();
		if (!rs) {
			ret = -ENOMEM;
			goto out;
		}
		chains.rs = rules.rs = rs;
		ret = dump(nl, buf, seq++, &chains);
		if (!ret)
			ret = dump(nl, buf, seq++, &rules);
		if (ret != -EAGAIN)
			break;
	}
	if (ret) {
		snprintf(err, errlen, "cannot list the nftables ruleset: %s%s", strerror(-ret),
			 ret == -EPERM ? " (listing needs CAP_NET_ADMIN: run as root)" :
			 ret == -EAGAIN ? " (it kept changing: try again)" : "");
		goto out;
	}
	ret = nft_ruleset_input_chains(rs, out, n);
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	nft_ruleset_free(rs);
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return ret;
}
