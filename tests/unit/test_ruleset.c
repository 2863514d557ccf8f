// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for nft/ruleset.c: which input chains drop what, judged from
 * chains and rules built in memory with libnftnl, as the kernel dumps them. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <cmocka.h>

#include "nft/ruleset.h"

static struct nft_ruleset *rs;
static uint64_t next_handle;

static int setup(void **state)
{
	rs = nft_ruleset_new();
	next_handle = 1;
	return rs ? 0 : -1;
}

static int teardown(void **state)
{
	nft_ruleset_free(rs);
	rs = NULL;
	return 0;
}

/* A chain of table "t"; @hook < 0: a regular chain. */
static void chain(uint8_t family, const char *name, int hook, int32_t prio, uint32_t policy,
		  const char *dev)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	assert_non_null(c);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "t");
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
		if (dev)
			nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, dev);
	}
	assert_int_equal(nft_ruleset_add_chain(rs, c), 0);
	nftnl_chain_free(c);
}

static struct nftnl_expr *expr(const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	assert_non_null(e);
	return e;
}

/* The match "iifname @ifname" into @r. */
static void match_iif(struct nftnl_rule *r, const char *ifname)
{
	struct nftnl_expr *e = expr("meta");
	char name[IFNAMSIZ] = "";

	strncpy(name, ifname, sizeof(name) - 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_IIFNAME);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e = expr("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, name, sizeof(name));
	nftnl_rule_add_expr(r, e);
}

/* Some other match ("tcp dport 22", in spirit). */
static void match_other(struct nftnl_rule *r)
{
	struct nftnl_expr *e = expr("payload");
	uint16_t port = htons(22);

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_rule_add_expr(r, e);
	e = expr("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &port, sizeof(port));
	nftnl_rule_add_expr(r, e);
}

/* The match "meta mark & @mask == @value" ("meta mark @value" for a full
 * mask, as nft encodes it) into @r. */
static uint32_t mark_mask, mark_value;

static void match_mark(struct nftnl_rule *r)
{
	struct nftnl_expr *e = expr("meta");
	uint32_t zero = 0;

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	if (mark_mask != UINT32_MAX) {
		e = expr("bitwise");
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mark_mask, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
		nftnl_rule_add_expr(r, e);
	}
	e = expr("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &mark_value, 4);
	nftnl_rule_add_expr(r, e);
}

enum match { ALWAYS, IIF, OTHER, MARK };
enum action { ACCEPT, DROP, REJECT, JUMP, GOTO, VMAP };

/* A rule of chain @in: [counter] match action; returns its handle. */
static uint64_t rule(uint8_t family, const char *in, enum match m, const char *ifname,
		     enum action a, const char *target)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;
	uint64_t h = next_handle++;

	assert_non_null(r);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, in);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, h);
	nftnl_rule_add_expr(r, expr("counter"));
	if (m == IIF)
		match_iif(r, ifname);
	else if (m == OTHER)
		match_other(r);
	else if (m == MARK)
		match_mark(r);
	if (a == REJECT) {
		nftnl_rule_add_expr(r, expr("reject"));
	} else if (a == VMAP) {
		e = expr("lookup");
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, "ports");
		nftnl_rule_add_expr(r, e);
	} else {
		e = expr("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT,
				   a == ACCEPT ? NF_ACCEPT : a == DROP ? NF_DROP :
				   a == JUMP ? (uint32_t)NFT_JUMP : (uint32_t)NFT_GOTO);
		if (target)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, target);
		nftnl_rule_add_expr(r, e);
	}
	assert_int_equal(nft_ruleset_add_rule(rs, r), 0);
	nftnl_rule_free(r);
	return h;
}

/* The one input chain of the ruleset (static storage). */
static struct nft_input_chain *only(void)
{
	static struct nft_input_chain one;
	struct nft_input_chain *v;
	size_t n;

	assert_int_equal(nft_ruleset_input_chains(rs, &v, &n), 0);
	assert_int_equal(n, 1);
	one = v[0];
	free(v);
	return &one;
}

static void test_which_chains(void **state)
{
	struct nft_input_chain *v;
	size_t n;

	chain(NFPROTO_IPV4, "fwd", NF_INET_FORWARD, 0, NF_DROP, NULL);
	chain(NFPROTO_INET, "pre", NF_INET_PRE_ROUTING, 0, NF_DROP, NULL);
	chain(NFPROTO_INET, "regular", -1, 0, 0, NULL);
	chain(NFPROTO_ARP, "arpin", 0, 0, NF_DROP, NULL);
	assert_int_equal(nft_ruleset_input_chains(rs, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);

	chain(NFPROTO_IPV6, "in6", NF_INET_LOCAL_IN, -5, NF_DROP, NULL);
	chain(NFPROTO_NETDEV, "ing", NF_NETDEV_INGRESS, 0, NF_ACCEPT, "eth0");
	chain(NFPROTO_INET, "ing2", NF_INET_INGRESS, 0, NF_ACCEPT, "eth1");
	assert_int_equal(nft_ruleset_input_chains(rs, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].chain, "in6");
	assert_string_equal(v[0].table, "t");
	assert_int_equal(v[0].priority, -5);
	assert_true(v[0].policy_drop);
	assert_false(v[0].ingress);
	assert_int_equal(v[0].drops, NFT_DROPS_NONE);
	assert_string_equal(v[1].chain, "ing");
	assert_true(v[1].ingress);
	assert_string_equal(v[1].device, "eth0");
	assert_false(v[1].policy_drop);
	assert_true(v[2].ingress);
	assert_string_equal(nft_family_name(v[0].family), "ip6");
	assert_string_equal(nft_family_name(v[1].family), "netdev");
	free(v);
}

static void test_conditional_drop(void **state)
{
	uint64_t h;

	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 10, NF_ACCEPT, NULL);
	rule(NFPROTO_INET, "in", OTHER, NULL, ACCEPT, NULL);
	h = rule(NFPROTO_INET, "in", OTHER, NULL, DROP, NULL);
	assert_int_equal(only()->drops, NFT_DROPS_SOME);
	assert_int_equal(only()->drop_handle, h);
	assert_string_equal(only()->drop_what, "drop");
	assert_string_equal(only()->drop_chain, "in");
	assert_false(only()->policy_drop);
}

static void test_unconditional_reject(void **state)
{
	uint64_t h;

	chain(NFPROTO_IPV4, "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT, NULL);
	rule(NFPROTO_IPV4, "in", OTHER, NULL, DROP, NULL);
	rule(NFPROTO_IPV4, "in", OTHER, NULL, ACCEPT, NULL);
	h = rule(NFPROTO_IPV4, "in", ALWAYS, NULL, REJECT, NULL);
	/* the worst one is reported, not the first */
	assert_int_equal(only()->drops, NFT_DROPS_ALL);
	assert_int_equal(only()->drop_handle, h);
	assert_string_equal(only()->drop_what, "reject");
	assert_string_equal(only()->accept_iif, "");
}

static void test_jumps(void **state)
{
	uint64_t h;

	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT, NULL);
	chain(NFPROTO_INET, "sub", -1, 0, 0, NULL);
	h = rule(NFPROTO_INET, "sub", ALWAYS, NULL, DROP, NULL);
	rule(NFPROTO_INET, "in", OTHER, NULL, JUMP, "sub");
	/* behind a conditional jump, an unconditional drop drops some */
	assert_int_equal(only()->drops, NFT_DROPS_SOME);
	assert_string_equal(only()->drop_chain, "sub");
	assert_int_equal(only()->drop_handle, h);
	rule(NFPROTO_INET, "in", ALWAYS, NULL, JUMP, "sub");
	assert_int_equal(only()->drops, NFT_DROPS_ALL);
	assert_string_equal(only()->drop_chain, "sub");
}

static void test_goto_and_accept_end_the_walk(void **state)
{
	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT, NULL);
	chain(NFPROTO_INET, "empty", -1, 0, 0, NULL);
	rule(NFPROTO_INET, "in", ALWAYS, NULL, GOTO, "empty");
	rule(NFPROTO_INET, "in", ALWAYS, NULL, DROP, NULL);
	/* a goto does not come back: the drop is never reached */
	assert_int_equal(only()->drops, NFT_DROPS_NONE);
	teardown(state);
	setup(state);
	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT, NULL);
	rule(NFPROTO_INET, "in", ALWAYS, NULL, ACCEPT, NULL);
	rule(NFPROTO_INET, "in", ALWAYS, NULL, DROP, NULL);
	assert_int_equal(only()->drops, NFT_DROPS_NONE);
}

static void test_interface_accepted(void **state)
{
	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 0, NF_DROP, NULL);
	chain(NFPROTO_INET, "trusted", -1, 0, 0, NULL);
	rule(NFPROTO_INET, "trusted", ALWAYS, NULL, ACCEPT, NULL);
	rule(NFPROTO_INET, "in", IIF, "lo", ACCEPT, NULL);
	assert_string_equal(only()->accept_iif, "");	/* lo does not count */
	rule(NFPROTO_INET, "in", IIF, "eth7", GOTO, "trusted");
	rule(NFPROTO_INET, "in", IIF, "eth8", ACCEPT, NULL);
	assert_true(only()->policy_drop);
	assert_string_equal(only()->accept_iif, "eth7");
}

static void test_mark_accepted(void **state)
{
	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 10, NF_DROP, NULL);
	rule(NFPROTO_INET, "in", OTHER, NULL, ACCEPT, NULL);
	mark_mask = 0x10;
	mark_value = 0x10;
	rule(NFPROTO_INET, "in", MARK, NULL, ACCEPT, NULL);
	mark_mask = UINT32_MAX;
	mark_value = 0x20;
	rule(NFPROTO_INET, "in", MARK, NULL, ACCEPT, NULL);	/* the first one counts */
	assert_true(only()->accepts_mark);
	assert_int_equal(only()->mark_mask, 0x10);
	assert_int_equal(only()->mark_value, 0x10);
	teardown(state);
	setup(state);

	/* after a drop, too late; a mark match that drops is just a drop */
	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 10, NF_ACCEPT, NULL);
	rule(NFPROTO_INET, "in", MARK, NULL, DROP, NULL);
	rule(NFPROTO_INET, "in", MARK, NULL, ACCEPT, NULL);
	assert_false(only()->accepts_mark);
	assert_int_equal(only()->drops, NFT_DROPS_SOME);
	teardown(state);
	setup(state);

	/* plain "meta mark 0x20 accept" */
	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 10, NF_DROP, NULL);
	rule(NFPROTO_INET, "in", MARK, NULL, ACCEPT, NULL);
	assert_true(only()->accepts_mark);
	assert_int_equal(only()->mark_mask, UINT32_MAX);
	assert_int_equal(only()->mark_value, 0x20);
}

static void test_verdict_map(void **state)
{
	uint64_t h;

	chain(NFPROTO_IPV6, "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT, NULL);
	h = rule(NFPROTO_IPV6, "in", ALWAYS, NULL, VMAP, NULL);
	assert_int_equal(only()->drops, NFT_DROPS_SOME);
	assert_int_equal(only()->drop_handle, h);
	assert_string_equal(only()->drop_what, "verdict map");
}

static void test_other_family_same_name(void **state)
{
	/* chain names are per family and table: ip's "sub" is not inet's */
	chain(NFPROTO_INET, "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT, NULL);
	chain(NFPROTO_IPV4, "sub", -1, 0, 0, NULL);
	rule(NFPROTO_IPV4, "sub", ALWAYS, NULL, DROP, NULL);
	rule(NFPROTO_INET, "in", ALWAYS, NULL, JUMP, "sub");
	rule(NFPROTO_INET, "nochain", ALWAYS, NULL, DROP, NULL);
	assert_int_equal(only()->drops, NFT_DROPS_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_which_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conditional_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unconditional_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jumps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_goto_and_accept_end_the_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interface_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verdict_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_family_same_name, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
