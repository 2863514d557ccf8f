// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table as netlink messages: table, base chain, static sets, pinhole
 * sets and the least-privilege input rules.  Pure message building; the
 * kernel is talked to in enforcer.c.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nft/internal.h"

/* nftables' datatype ids, as `nft` shows them (concatenations: 6 bits each). */
enum {
	DT_IPADDR = 7,
	DT_IP6ADDR = 8,
	DT_INET_PROTO = 12,
	DT_INET_SERVICE = 13,
	DT_ICMP_TYPE = 14,
	DT_ICMP6_TYPE = 29,
	DT_IFNAME = 41,
	DT_BITS = 6,
};

/* conntrack state bits as the ct expression reports them */
#define CT_INVALID	1u
#define CT_ESTABLISHED	2u
#define CT_RELATED	4u

/* Which modes a rule or set belongs to. */
#define M_HOST		(1u << NFT_MODE_HOST)
#define M_ROUTER	(1u << NFT_MODE_ROUTER)
#define M_MARK		(1u << NFT_MODE_ROUTER_MARK)
#define M_POLICY	(M_HOST | M_ROUTER)	/* the modes whose table is the policy */
#define M_ALL		(M_HOST | M_ROUTER | M_MARK)

static bool in_mode(unsigned modes, const struct nft_enforcer_config *c)
{
	return (unsigned)c->mode <= NFT_MODE_ROUTER_MARK && (modes & (1u << c->mode));
}

static bool forward(const struct nft_enforcer_config *c)
{
	return c->mode != NFT_MODE_HOST;
}

const char *nft_chain_name(const struct nft_enforcer_config *c)
{
	return forward(c) ? NFT_CHAIN_FORWARD : NFT_CHAIN_INPUT;
}

const char *nft_chain_other(const struct nft_enforcer_config *c)
{
	return forward(c) ? NFT_CHAIN_INPUT : NFT_CHAIN_FORWARD;
}

uint32_t nft_chain_hook(const struct nft_enforcer_config *c)
{
	return forward(c) ? NF_INET_FORWARD : NF_INET_LOCAL_IN;
}

uint32_t nft_chain_policy(const struct nft_enforcer_config *c)
{
	return c->mode == NFT_MODE_ROUTER_MARK ? NF_ACCEPT : NF_DROP;
}

/* Largest single message we build: a rule or a set with 64 ports. */
#define MSG_MAX 8192

int nlbuf_reserve(struct nlbuf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->len + need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap < b->len + need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	/* libmnl before 1.0.5 leaves attribute padding unwritten: zeroed
	 * here, no byte of a batch sent to the kernel is uninitialised */
	memset(p + b->cap, 0, cap - b->cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

void nlbuf_free(struct nlbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void nlbuf_commit(struct nlbuf *b, const struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* --- rule expressions ----------------------------------------------------- */

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static int e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return add_expr(r, e);
}

static int e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

static int e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off,
		     uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return add_expr(r, e);
}

static int e_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	}
	return add_expr(r, e);
}

/* reg1 = (reg1 & @mask) ^ @xor, on 32 bits. */
static int e_bitwise(struct nftnl_rule *r, uint32_t mask, uint32_t xor)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, sizeof(xor));
	}
	return add_expr(r, e);
}

static int e_ct_state_any(struct nftnl_rule *r, uint32_t bits)
{
	struct nftnl_expr *ct = nftnl_expr_alloc("ct");
	uint32_t zero = 0;

	if (ct) {
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	if (add_expr(r, ct))
		return -ENOMEM;
	return e_bitwise(r, bits, 0) ?: e_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

static int e_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	return add_expr(r, e);
}

static int e_simple(struct nftnl_rule *r, const char *name)
{
	return add_expr(r, nftnl_expr_alloc(name));
}

/* meta mark set meta mark | @mark: the bits of other users of the mark stay. */
static int e_mark_or(struct nftnl_rule *r, uint32_t mark)
{
	struct nftnl_expr *e;
	int err = e_meta(r, NFT_META_MARK, NFT_REG_1) ?: e_bitwise(r, ~mark, mark);

	if (err)
		return err;
	e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	}
	return add_expr(r, e);
}

/* Accepts what Dyper decided to admit, marking it first when configured. */
static int e_admit(struct nftnl_rule *r, const struct nft_enforcer_config *c)
{
	return (c->mark ? e_mark_or(r, c->mark) : 0) ?: e_verdict(r, NF_ACCEPT);
}

static int match_nfproto(struct nftnl_rule *r, uint8_t nfproto)
{
	if (e_meta(r, NFT_META_NFPROTO, NFT_REG_1))
		return -ENOMEM;
	return e_cmp(r, NFT_CMP_EQ, &nfproto, 1);
}

static int match_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	if (e_meta(r, NFT_META_L4PROTO, NFT_REG_1))
		return -ENOMEM;
	return e_cmp(r, NFT_CMP_EQ, &proto, 1);
}

/* --- the rules, in order ---------------------------------------------------- */

typedef int (*rule_fn)(struct nftnl_rule *r, const struct nft_enforcer_config *cfg,
		       int arg);

static int r_ct_ok(struct nftnl_rule *r, const struct nft_enforcer_config *c, int a)
{
	return e_ct_state_any(r, CT_ESTABLISHED | CT_RELATED) ?: e_verdict(r, NF_ACCEPT);
}

static int r_ct_invalid(struct nftnl_rule *r, const struct nft_enforcer_config *c, int a)
{
	return e_ct_state_any(r, CT_INVALID) ?: e_verdict(r, NF_DROP);
}

static int r_loopback(struct nftnl_rule *r, const struct nft_enforcer_config *c, int a)
{
	uint32_t lo = 1;	/* the loopback device is ifindex 1 in every netns */

	return e_meta(r, NFT_META_IIF, NFT_REG_1) ?: e_cmp(r, NFT_CMP_EQ, &lo, sizeof(lo)) ?:
	       e_verdict(r, NF_ACCEPT);
}

/* The site's own hosts open connections out freely. */
static int r_inside(struct nftnl_rule *r, const struct nft_enforcer_config *c, int a)
{
	return e_meta(r, NFT_META_IIFNAME, NFT_REG_1) ?: e_lookup(r, NFT_REG_1, NFT_SET_INSIDE) ?:
	       e_verdict(r, NF_ACCEPT);
}

static int r_icmp(struct nftnl_rule *r, const struct nft_enforcer_config *c, int v6)
{
	return match_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) ?:
	       match_l4proto(r, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) ?:
	       e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1) ?:
	       e_lookup(r, NFT_REG_1, v6 ? NFT_SET_ICMP6 : NFT_SET_ICMP) ?:
	       e_verdict(r, NF_ACCEPT);
}

static int r_control(struct nftnl_rule *r, const struct nft_enforcer_config *c, int proto)
{
	return match_l4proto(r, (uint8_t)proto) ?:
	       e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1) ?:
	       e_lookup(r, NFT_REG_1, proto == IPPROTO_TCP ? NFT_SET_CTL_TCP : NFT_SET_CTL_UDP) ?:
	       e_admit(r, c);
}

/*
 * 32-bit register @i in the encoding the kernel dumps: one that starts a
 * 128-bit register is reported as that register, so build it that way too
 * and a dumped rule compares equal to the built one.
 */
static uint32_t reg32(uint32_t i)
{
	return i % 4 ? NFT_REG32_00 + i : NFT_REG_1 + i / 4;
}

/* arg: bit 0 = IPv6, bit 1 = any remote port.  Mirrors pinhole_key(). */
static int r_pinholes(struct nftnl_rule *r, const struct nft_enforcer_config *c, int arg)
{
	bool v6 = arg & 1, any = arg & 2;
	uint32_t alen = v6 ? 16 : 4, reg = 0;
	uint32_t saddr = v6 ? 8 : 12, daddr = v6 ? 24 : 16;
	int err;

	err = match_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) ?:
	      e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, saddr, alen, reg32(reg));
	reg += alen / 4;
	err = err ?: e_meta(r, NFT_META_L4PROTO, reg32(reg++));
	if (!any)
		err = err ?: e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, reg32(reg++));
	err = err ?: e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, daddr, alen, reg32(reg));
	reg += alen / 4;
	err = err ?: e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(reg));
	return err ?: e_lookup(r, reg32(0), pinhole_set_name(v6 ? AF_INET6 : AF_INET, any)) ?:
	       e_admit(r, c);
}

/* An always-open port of an internal host: daddr . l4proto . dport,
 * mirrored by open_key(). */
static int r_open(struct nftnl_rule *r, const struct nft_enforcer_config *c, int v6)
{
	uint32_t alen = v6 ? 16 : 4, reg = alen / 4;

	return match_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) ?:
	       e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, alen, reg32(0)) ?:
	       e_meta(r, NFT_META_L4PROTO, reg32(reg)) ?:
	       e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(reg + 1)) ?:
	       e_lookup(r, reg32(0), v6 ? NFT_SET_OPEN6 : NFT_SET_OPEN4) ?:
	       e_admit(r, c);
}

static int r_log(struct nftnl_rule *r, const struct nft_enforcer_config *c, int a)
{
	struct nftnl_expr *lim = nftnl_expr_alloc("limit"), *log;

	if (lim) {
		nftnl_expr_set_u64(lim, NFTNL_EXPR_LIMIT_RATE, c->log_rate);
		nftnl_expr_set_u64(lim, NFTNL_EXPR_LIMIT_UNIT, 1);
		nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_BURST, 5);
		nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	}
	if (add_expr(r, lim))
		return -ENOMEM;
	log = nftnl_expr_alloc("log");
	if (log) {
		nftnl_expr_set_str(log, NFTNL_EXPR_LOG_PREFIX,
				   c->log_prefix ? c->log_prefix :
				   forward(c) ? NFT_LOG_PREFIX_ROUTER : NFT_LOG_PREFIX);
		nftnl_expr_set_u32(log, NFTNL_EXPR_LOG_LEVEL, 4);	/* warning */
	}
	return add_expr(r, log);
}

static int r_drop(struct nftnl_rule *r, const struct nft_enforcer_config *c, int a)
{
	return e_simple(r, "counter") ?: e_verdict(r, NF_DROP);
}

/* The rules of every mode, in order; a mode takes those marked for it.
 * Mark mode decides nothing itself: no conntrack, interface, ICMP, log or
 * drop rule, only the marks of what Dyper admits. */
static const struct rule_def {
	rule_fn fn;
	int arg;
	unsigned modes;
} rule_defs[] = {
	{ r_ct_ok, 0, M_POLICY },
	{ r_ct_invalid, 0, M_POLICY },
	{ r_loopback, 0, M_HOST },
	{ r_inside, 0, M_ROUTER },
	{ r_icmp, 0, M_POLICY },
	{ r_icmp, 1, M_POLICY },
	{ r_control, IPPROTO_TCP, M_HOST },
	{ r_control, IPPROTO_UDP, M_HOST },
	{ r_open, 0, M_ROUTER | M_MARK },
	{ r_open, 1, M_ROUTER | M_MARK },
	{ r_pinholes, 0, M_ALL },
	{ r_pinholes, 2, M_ALL },
	{ r_pinholes, 1, M_ALL },
	{ r_pinholes, 3, M_ALL },
	{ r_log, 0, M_POLICY },
	{ r_drop, 0, M_POLICY },
};
#define N_RULES (sizeof(rule_defs) / sizeof(rule_defs[0]))

static bool rule_wanted(const struct rule_def *d, const struct nft_enforcer_config *c)
{
	if (!in_mode(d->modes, c))
		return false;
	if (d->fn == r_log)
		return c->log_rate > 0;
	return true;
}

static const char *table_name(const struct nft_enforcer_config *c)
{
	return c->table ? c->table : NFT_ENFORCER_TABLE_DEFAULT;
}

static struct nftnl_rule *rule_new(const struct nft_enforcer_config *c,
				   const struct rule_def *d)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table_name(c));
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, nft_chain_name(c));
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (d->fn(r, c, d->arg)) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* --- sets ------------------------------------------------------------------ */

struct set_def {
	const char *name;
	uint32_t key_type;
	uint32_t key_len;
	bool pinholes;
	unsigned modes;
};

static uint32_t concat(const uint32_t *types, int n)
{
	uint32_t t = 0;

	for (int i = 0; i < n; i++)
		t = (t << DT_BITS) | types[i];
	return t;
}

static void pinhole_set_def(struct set_def *d, bool v6, bool any)
{
	uint32_t a = v6 ? DT_IP6ADDR : DT_IPADDR;
	uint32_t exact[] = { a, DT_INET_PROTO, DT_INET_SERVICE, a, DT_INET_SERVICE };
	uint32_t anyp[] = { a, DT_INET_PROTO, a, DT_INET_SERVICE };

	d->name = pinhole_set_name(v6 ? AF_INET6 : AF_INET, any);
	d->key_type = any ? concat(anyp, 4) : concat(exact, 5);
	d->key_len = (uint32_t)pinhole_key_len(v6 ? AF_INET6 : AF_INET, any);
	d->pinholes = true;
	d->modes = M_ALL;
}

/* Every set of every mode, in the order setup creates them; the sets of
 * @c's mode into @d, returns how many. */
static size_t mode_set_defs(const struct nft_enforcer_config *c, struct set_def d[NFT_MAX_SETS])
{
	static const uint32_t open4[] = { DT_IPADDR, DT_INET_PROTO, DT_INET_SERVICE };
	static const uint32_t open6[] = { DT_IP6ADDR, DT_INET_PROTO, DT_INET_SERVICE };
	struct set_def all[12] = {
		{ NFT_SET_CTL_TCP, DT_INET_SERVICE, 2, false, M_HOST },
		{ NFT_SET_CTL_UDP, DT_INET_SERVICE, 2, false, M_HOST },
		{ NFT_SET_INSIDE, DT_IFNAME, NFT_IFNAME_LEN, false, M_ROUTER },
		{ NFT_SET_OPEN4, concat(open4, 3), 12, false, M_ROUTER | M_MARK },
		{ NFT_SET_OPEN6, concat(open6, 3), 24, false, M_ROUTER | M_MARK },
		{ NFT_SET_ICMP, DT_ICMP_TYPE, 1, false, M_POLICY },
		{ NFT_SET_ICMP6, DT_ICMP6_TYPE, 1, false, M_POLICY },
	};
	size_t n = 0;

	pinhole_set_def(&all[7], false, false);
	pinhole_set_def(&all[8], false, true);
	pinhole_set_def(&all[9], true, false);
	pinhole_set_def(&all[10], true, true);
	for (size_t i = 0; all[i].name; i++)
		if (in_mode(all[i].modes, c) && n < NFT_MAX_SETS)
			d[n++] = all[i];
	return n;
}

size_t nft_mode_sets(const struct nft_enforcer_config *c, const char *names[NFT_MAX_SETS + 1])
{
	struct set_def d[NFT_MAX_SETS];
	size_t n = mode_set_defs(c, d);

	for (size_t i = 0; i < n; i++)
		names[i] = d[i].name;
	names[n] = NULL;
	return n;
}

static struct nftnl_set *set_new(const struct nft_enforcer_config *c,
				 const struct set_def *d, uint32_t id)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_expr *ctr;

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table_name(c));
	nftnl_set_set_str(s, NFTNL_SET_NAME, d->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	if (d->pinholes) {
		/* Timeouts make the kernel pick its resizable hash; counters are
		 * cloned per element from the set's template (per-CPU memory). */
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS,
				  NFT_SET_TIMEOUT | (c->counters ? NFT_SET_EXPR : 0));
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE,
				  c->max_pinholes ? c->max_pinholes : NFT_ENFORCER_MAX_PINHOLES);
		if (c->counters) {
			ctr = nftnl_expr_alloc("counter");
			if (!ctr) {
				nftnl_set_free(s);
				return NULL;
			}
			nftnl_set_add_expr(s, ctr);
		}
	} else {
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	}
	if (d->key_type == DT_IFNAME) {
		/* interface names are strings, which nft reads in host byte
		 * order only when told: without it `nft list` shows "" */
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(16);

		if (!ud || !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1 /* host */)) {
			if (ud)
				nftnl_udata_buf_free(ud);
			nftnl_set_free(s);
			return NULL;
		}
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return s;
}

/* Static set contents: (key bytes, length) pairs. */
static int put_static_elems(struct nlbuf *b, const struct nft_enforcer_config *c,
			    const char *set, const uint8_t *keys, size_t klen,
			    size_t n, uint32_t *seq)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;

	if (n == 0)
		return 0;
	if (nlbuf_reserve(b, MSG_MAX))
		return -ENOMEM;
	s = nftnl_set_alloc();
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table_name(c));
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();

		if (!e) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, keys + i * klen, (uint32_t)klen);
		nftnl_set_elem_add(s, e);
	}
	nlh = nftnl_nlmsg_build_hdr(nlbuf_tail(b), NFT_MSG_NEWSETELEM, NFPROTO_INET,
				    NLM_F_CREATE | NLM_F_ACK, (*seq)++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nlbuf_commit(b, nlh);
	nftnl_set_free(s);
	return 0;
}

/* ICMP types let in without a connection: errors, and for IPv6 neighbour
 * and router discovery and multicast listener queries, without which the
 * link itself stops working. */
static const uint8_t icmp_types[] = { 3 /* dest-unreach */, 11 /* time-exceeded */,
				      12 /* parameter-problem */, 8 /* echo-request */ };
static const uint8_t icmp6_types[] = { 1, 2, 3, 4, 130, 134, 135, 136, 128 /* echo */ };

size_t nft_icmp_types(bool v6, bool ping, const uint8_t **types)
{
	*types = v6 ? icmp6_types : icmp_types;
	/* echo-request comes last in both lists */
	return (v6 ? sizeof(icmp6_types) : sizeof(icmp_types)) - !ping;
}

static size_t port_keys(const uint16_t *ports, size_t n, uint8_t *keys)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t p = htons(ports[i]);

		memcpy(keys + 2 * i, &p, 2);
	}
	return n;
}

/* daddr . l4proto . dport, each field padded to 32 bits; mirrors r_open(). */
static size_t open_keys(const struct nft_enforcer_config *c, uint8_t family, uint8_t *keys,
			size_t *klen)
{
	size_t alen = family == AF_INET ? 4 : 16, n = 0;

	*klen = alen + 8;
	for (size_t i = 0; i < c->n_open && i < NFT_ENFORCER_MAX_OPEN; i++) {
		const struct nft_open_port *o = &c->open[i];
		uint8_t *k = keys + n * *klen;
		uint16_t p = htons(o->port);

		if (o->family != family)
			continue;
		memset(k, 0, *klen);
		memcpy(k, o->addr.raw, alen);
		k[alen] = o->proto;
		memcpy(k + alen + 4, &p, 2);
		n++;
	}
	return n;
}

int nft_static_keys(const struct nft_enforcer_config *c, const char *set, uint8_t *keys,
		    size_t *klen)
{
	struct set_def d[NFT_MAX_SETS];
	size_t n = mode_set_defs(c, d), i;
	const uint8_t *types;

	for (i = 0; i < n; i++)
		if (!d[i].pinholes && !strcmp(d[i].name, set))
			break;
	if (i == n)
		return -ENOENT;
	*klen = d[i].key_len;
	if (!strcmp(set, NFT_SET_CTL_TCP) || !strcmp(set, NFT_SET_CTL_UDP)) {
		bool tcp = !strcmp(set, NFT_SET_CTL_TCP);
		size_t np = tcp ? c->n_tcp_ports : c->n_udp_ports;

		if (np > NFT_ENFORCER_MAX_PORTS)
			return -E2BIG;
		return (int)port_keys(tcp ? c->tcp_ports : c->udp_ports, np, keys);
	}
	if (!strcmp(set, NFT_SET_ICMP) || !strcmp(set, NFT_SET_ICMP6)) {
		n = nft_icmp_types(!strcmp(set, NFT_SET_ICMP6), c->allow_ping, &types);
		memcpy(keys, types, n);
		return (int)n;
	}
	if (!strcmp(set, NFT_SET_INSIDE)) {
		if (c->n_inside > NFT_ENFORCER_MAX_INSIDE)
			return -E2BIG;
		memset(keys, 0, c->n_inside * NFT_IFNAME_LEN);
		for (i = 0; i < c->n_inside; i++)
			memcpy(keys + i * NFT_IFNAME_LEN, c->inside[i],
			       strnlen(c->inside[i], NFT_IFNAME_LEN - 1));
		return (int)c->n_inside;
	}
	return (int)open_keys(c, !strcmp(set, NFT_SET_OPEN4) ? AF_INET : AF_INET6, keys, klen);
}

const char *nft_static_what(const char *set)
{
	if (!strcmp(set, NFT_SET_CTL_TCP) || !strcmp(set, NFT_SET_CTL_UDP))
		return "the static control ports";
	if (!strcmp(set, NFT_SET_ICMP) || !strcmp(set, NFT_SET_ICMP6))
		return "the accepted ICMP types";
	if (!strcmp(set, NFT_SET_INSIDE))
		return "the inside interfaces";
	return "the always-open ports";
}

/* --- the whole table -------------------------------------------------------- */

int nft_build_setup(struct nlbuf *b, const struct nft_enforcer_config *c,
		    uint32_t flags, uint32_t *seq)
{
	const char *table = table_name(c);
	struct nftnl_udata_buf *ud = NULL;
	struct nftnl_table *t = NULL;
	struct nftnl_chain *ch = NULL;
	struct nlmsghdr *nlh;
	struct set_def defs[NFT_MAX_SETS];
	size_t n_sets = mode_set_defs(c, defs);
	uint8_t *keys = malloc(NFT_STATIC_KEYS_MAX);
	int err = -ENOMEM;

	if (!keys)
		goto out;

	/* table */
	if (nlbuf_reserve(b, MSG_MAX))
		goto out;
	t = nftnl_table_alloc();
	ud = nftnl_udata_buf_alloc(NFT_COMMENT_MAX + 3);
	if (!t || !ud || !nftnl_udata_put_strz(ud, NFTNL_UDATA_TABLE_COMMENT, NFT_TABLE_COMMENT))
		goto out;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud),
			     nftnl_udata_buf_len(ud));
	nlh = nftnl_table_nlmsg_build_hdr(nlbuf_tail(b), NFT_MSG_NEWTABLE, NFPROTO_INET,
					  NLM_F_CREATE | NLM_F_ACK, (*seq)++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nlbuf_commit(b, nlh);

	/* sets: created if missing, pinholes kept; static ones refilled */
	for (uint32_t i = 0; i < n_sets; i++) {
		struct nftnl_set *s = set_new(c, &defs[i], i + 1);

		if (!s || nlbuf_reserve(b, 3 * MSG_MAX)) {
			nftnl_set_free(s);
			goto out;
		}
		nlh = nftnl_set_nlmsg_build_hdr(nlbuf_tail(b), NFT_MSG_NEWSET, NFPROTO_INET,
						NLM_F_CREATE | NLM_F_ACK, (*seq)++);
		nftnl_set_nlmsg_build_payload(nlh, s);
		nlbuf_commit(b, nlh);
		if (!defs[i].pinholes) {
			/* DELSETELEM without elements flushes the set */
			nlh = nftnl_nlmsg_build_hdr(nlbuf_tail(b), NFT_MSG_DELSETELEM,
						    NFPROTO_INET, NLM_F_ACK, (*seq)++);
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			nlbuf_commit(b, nlh);
		}
		nftnl_set_free(s);
	}
	for (size_t i = 0; i < n_sets; i++) {
		size_t klen;
		int n;

		if (defs[i].pinholes)
			continue;
		n = nft_static_keys(c, defs[i].name, keys, &klen);
		err = n < 0 ? n : put_static_elems(b, c, defs[i].name, keys, klen, (size_t)n, seq);
		if (err)
			goto out;
	}
	err = -ENOMEM;

	/* base chain, then its rules replaced in the same transaction */
	ch = nftnl_chain_alloc();
	if (!ch || nlbuf_reserve(b, 2 * MSG_MAX))
		goto out;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, nft_chain_name(c));
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, nft_chain_hook(c));
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->priority);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, nft_chain_policy(c));
	nlh = nftnl_chain_nlmsg_build_hdr(nlbuf_tail(b), NFT_MSG_NEWCHAIN, NFPROTO_INET,
					  NLM_F_CREATE | NLM_F_ACK, (*seq)++);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nlbuf_commit(b, nlh);

	{
		struct nftnl_rule *flush = nftnl_rule_alloc();

		if (!flush)
			goto out;
		nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(flush, NFTNL_RULE_CHAIN, nft_chain_name(c));
		nlh = nftnl_rule_nlmsg_build_hdr(nlbuf_tail(b), NFT_MSG_DELRULE, NFPROTO_INET,
						 NLM_F_ACK, (*seq)++);
		nftnl_rule_nlmsg_build_payload(nlh, flush);
		nlbuf_commit(b, nlh);
		nftnl_rule_free(flush);
	}
	for (size_t i = 0; i < N_RULES; i++) {
		struct nftnl_rule *r;

		if (!rule_wanted(&rule_defs[i], c))
			continue;
		r = rule_new(c, &rule_defs[i]);
		if (!r || nlbuf_reserve(b, MSG_MAX)) {
			nftnl_rule_free(r);
			goto out;
		}
		nlh = nftnl_rule_nlmsg_build_hdr(nlbuf_tail(b), NFT_MSG_NEWRULE, NFPROTO_INET,
						 NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
						 (*seq)++);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nlbuf_commit(b, nlh);
		nftnl_rule_free(r);
	}
	err = 0;
out:
	free(keys);
	if (ch)
		nftnl_chain_free(ch);
	if (t)
		nftnl_table_free(t);
	if (ud)
		nftnl_udata_buf_free(ud);
	return err;
}

/* --- pinhole elements ---------------------------------------------------------- */

struct nlmsghdr *nft_elems_begin(struct nlbuf *b, const char *table, const char *set,
				 enum pinhole_op_type type, uint16_t nlflags, uint32_t seq,
				 struct nlattr **list)
{
	struct nlmsghdr *nlh;

	/* the whole message is reserved now: elements are appended in place */
	if (nlbuf_reserve(b, NFT_ELEMS_MSG_MAX))
		return NULL;
	nlh = nftnl_nlmsg_build_hdr(nlbuf_tail(b),
				    type == PINHOLE_ADD ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
				    NFPROTO_INET, nlflags, seq);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	*list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	return nlh;
}

bool nft_elems_full(const struct nlmsghdr *nlh)
{
	/* nested attribute lengths are 16 bits: stay well below */
	return nlh->nlmsg_len + NFT_ELEM_MAX > NFT_ELEMS_MSG_MAX;
}

int nft_elems_put(struct nlmsghdr *nlh, const struct pinhole_op *op)
{
	uint8_t key[64], ud[2 + NFT_COMMENT_MAX + 1];
	struct nlattr *elem, *k;
	size_t klen;
	int clen = 0;

	klen = pinhole_key(&op->ph, key, NULL);
	if (op->type == PINHOLE_ADD) {
		/* nftnl_udata TLV: type, length, value (the comment with its NUL) */
		clen = pinhole_owner_format(&op->ph.owner, (char *)ud + 2, sizeof(ud) - 2);
		if (clen < 0)
			return clen;
		ud[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
		ud[1] = (uint8_t)(clen + 1);
	}
	elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, klen, key);
	mnl_attr_nest_end(nlh, k);
	if (op->type == PINHOLE_ADD) {
		if (op->ph.timeout_ms)
			mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(op->ph.timeout_ms));
		mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, (size_t)clen + 3, ud);
	}
	mnl_attr_nest_end(nlh, elem);
	return 0;
}

void nft_elems_end(struct nlbuf *b, struct nlmsghdr *nlh, struct nlattr *list)
{
	mnl_attr_nest_end(nlh, list);
	nlbuf_commit(b, nlh);
}

int nft_build_pinhole(struct nlbuf *b, const char *table, const struct pinhole_op *op,
		      uint16_t nlflags, uint32_t seq)
{
	struct nlattr *list;
	struct nlmsghdr *nlh;
	const char *set;
	uint8_t key[64];
	int err;

	pinhole_key(&op->ph, key, &set);
	nlh = nft_elems_begin(b, table, set, op->type, nlflags, seq, &list);
	if (!nlh)
		return -ENOMEM;
	err = nft_elems_put(nlh, op);
	if (err)
		return err;
	nft_elems_end(b, nlh, list);
	return 0;
}

/* --- expected rules as text, for nft_enforcer_check() --------------------- */

char *nft_rule_text(const struct nftnl_rule *r)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	size_t cap = 1024, len = 0;
	char *s = malloc(cap);

	if (!it || !s) {
		free(s);
		s = NULL;
		goto out;
	}
	s[0] = '\0';
	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
		char one[512];
		int n;

		/* counters count: compare what they are, not what they hold */
		if (!strcmp(name, "counter"))
			n = snprintf(one, sizeof(one), "[counter]");
		else {
			n = snprintf(one, sizeof(one), "[%s ", name);
			if (n > 0 && (size_t)n < sizeof(one))
				n += nftnl_expr_snprintf(one + n, sizeof(one) - (size_t)n, e,
							 NFTNL_OUTPUT_DEFAULT, 0);
			if (n > 0 && (size_t)n < sizeof(one) - 1) {
				one[n++] = ']';
				one[n] = '\0';
			}
		}
		if (n < 0 || (size_t)n >= sizeof(one))
			n = (int)strlen(one);
		if (len + (size_t)n + 1 > cap) {
			char *p = realloc(s, cap * 2 + (size_t)n);

			if (!p) {
				free(s);
				s = NULL;
				goto out;
			}
			s = p;
			cap = cap * 2 + (size_t)n;
		}
		memcpy(s + len, one, (size_t)n + 1);
		len += (size_t)n;
	}
out:
	if (it)
		nftnl_expr_iter_destroy(it);
	return s;
}

int nft_expected_rules(const struct nft_enforcer_config *c, char ***out)
{
	char **lines = calloc(N_RULES, sizeof(*lines));
	int n = 0;

	if (!lines)
		return -ENOMEM;
	for (size_t i = 0; i < N_RULES; i++) {
		struct nftnl_rule *r;

		if (!rule_wanted(&rule_defs[i], c))
			continue;
		r = rule_new(c, &rule_defs[i]);
		lines[n] = r ? nft_rule_text(r) : NULL;
		if (r)
			nftnl_rule_free(r);
		if (!lines[n]) {
			nft_free_lines(lines, n);
			return -ENOMEM;
		}
		n++;
	}
	*out = lines;
	return n;
}

void nft_free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}
