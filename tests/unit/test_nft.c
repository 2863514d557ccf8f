// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for nft/: keys, owner comments, message building, error replies.
 * No kernel involved: messages are parsed back with libnftnl and libmnl. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <cmocka.h>

#include "nft/internal.h"

static struct pinhole mk(int family, uint8_t proto, const char *r, uint16_t rport,
			 const char *l, uint16_t lport)
{
	struct pinhole ph;

	memset(&ph, 0, sizeof(ph));
	ph.family = (uint8_t)family;
	ph.proto = proto;
	assert_int_equal(inet_pton(family, r, ph.remote.raw), 1);
	assert_int_equal(inet_pton(family, l, ph.local.raw), 1);
	ph.remote_port = rport;
	ph.local_port = lport;
	return ph;
}

/* --- keys ------------------------------------------------------------------ */

static void test_key_roundtrip(void **state)
{
	struct pinhole cases[] = {
		mk(AF_INET, IPPROTO_TCP, "192.0.2.10", 0, "203.0.113.1", 40000),
		mk(AF_INET, IPPROTO_UDP, "192.0.2.10", 69, "203.0.113.1", 1),
		mk(AF_INET6, IPPROTO_TCP, "2001:db8::10", 0, "2001:db8:1::1", 65535),
		mk(AF_INET6, IPPROTO_UDP, "2001:db8::ffff:1", 5060, "2001:db8::2", 5061),
	};
	const char *want_set[] = { NFT_SET_PH4_ANY, NFT_SET_PH4, NFT_SET_PH6_ANY, NFT_SET_PH6 };
	size_t want_len[] = { 16, 20, 40, 44 };

	for (size_t i = 0; i < 4; i++) {
		uint8_t key[64];
		const char *set;
		struct pinhole back;
		size_t len = pinhole_key(&cases[i], key, &set);

		assert_int_equal(len, want_len[i]);
		assert_string_equal(set, want_set[i]);
		assert_int_equal(pinhole_from_key(set, key, len, &back), 0);
		assert_true(pinhole_same_key(&cases[i], &back));
	}
}

static void test_key_layout(void **state)
{
	/* 192.0.2.10 . tcp . 5555 . 203.0.113.1 . 40000, fields padded to 4 bytes */
	struct pinhole ph = mk(AF_INET, IPPROTO_TCP, "192.0.2.10", 5555, "203.0.113.1", 40000);
	const uint8_t want[20] = { 192, 0, 2, 10, 6, 0, 0, 0, 0x15, 0xb3, 0, 0,
				   203, 0, 113, 1, 0x9c, 0x40, 0, 0 };
	uint8_t key[64];

	assert_int_equal(pinhole_key(&ph, key, NULL), 20);
	assert_memory_equal(key, want, 20);
}

static void test_key_rejects(void **state)
{
	struct pinhole ph = mk(AF_INET, IPPROTO_TCP, "192.0.2.10", 0, "203.0.113.1", 1);
	uint8_t key[64];
	size_t len = pinhole_key(&ph, key, NULL);
	struct pinhole back;

	assert_int_equal(pinhole_from_key("nosuchset", key, len, &back), -EINVAL);
	assert_int_equal(pinhole_from_key(NFT_SET_PH4, key, len, &back), -EINVAL);
	assert_int_equal(pinhole_from_key(NFT_SET_PH4_ANY, key, len - 4, &back), -EINVAL);
	key[4] = IPPROTO_ICMP;	/* not a protocol we write */
	assert_int_equal(pinhole_from_key(NFT_SET_PH4_ANY, key, len, &back), -EPROTONOSUPPORT);
	key[4] = IPPROTO_TCP;
	key[12] = key[13] = 0;	/* local port 0 */
	assert_int_equal(pinhole_from_key(NFT_SET_PH4_ANY, key, len, &back), -EINVAL);
}

static void test_validate(void **state)
{
	struct pinhole ph = mk(AF_INET6, IPPROTO_UDP, "2001:db8::1", 0, "2001:db8::2", 7);

	assert_int_equal(pinhole_validate(&ph), 0);
	ph.family = AF_UNIX;
	assert_int_equal(pinhole_validate(&ph), -EAFNOSUPPORT);
	ph.family = AF_INET6;
	ph.proto = IPPROTO_SCTP;
	assert_int_equal(pinhole_validate(&ph), -EPROTONOSUPPORT);
	ph.proto = IPPROTO_UDP;
	ph.local_port = 0;
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
	ph.local_port = 7;
	memset(&ph.local, 0, sizeof(ph.local));
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
	ph = mk(AF_INET, IPPROTO_TCP, "192.0.2.1", 0, "0.0.0.0", 7);
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
	ph = mk(AF_INET, IPPROTO_TCP, "192.0.2.1", 0, "203.0.113.9", 7);
	memset(ph.owner.program, 'x', sizeof(ph.owner.program));
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
}

static void test_same_key(void **state)
{
	struct pinhole a = mk(AF_INET, IPPROTO_TCP, "192.0.2.1", 0, "203.0.113.9", 7);
	struct pinhole b = a;

	b.owner.pid = 99;
	b.timeout_ms = 5;
	assert_true(pinhole_same_key(&a, &b));
	b.remote_port = 1;
	assert_false(pinhole_same_key(&a, &b));
	b = a;
	b.proto = IPPROTO_UDP;
	assert_false(pinhole_same_key(&a, &b));
	b = a;
	b.local.raw[3] ^= 1;
	assert_false(pinhole_same_key(&a, &b));
}

static void test_format(void **state)
{
	struct pinhole a = mk(AF_INET, IPPROTO_TCP, "192.0.2.1", 0, "203.0.113.9", 7);
	struct pinhole b = mk(AF_INET6, IPPROTO_UDP, "2001:db8::1", 53, "2001:db8::2", 5353);
	char s[PINHOLE_STR_LEN];

	pinhole_format(&a, s, sizeof(s));
	assert_string_equal(s, "tcp 192.0.2.1:* -> 203.0.113.9:7");
	pinhole_format(&b, s, sizeof(s));
	assert_string_equal(s, "udp [2001:db8::1]:53 -> [2001:db8::2]:5353");
}

/* --- owner comments ------------------------------------------------------------ */

static void test_owner_roundtrip(void **state)
{
	struct pinhole_owner o = { .uid = 1000, .pid = 4242, .sock_ino = 123456789012ULL,
				   .sock_cookie = 77, .created = 1763800000, .program = "vsftpd" }, back;
	char buf[NFT_COMMENT_MAX + 1];
	int n = pinhole_owner_format(&o, buf, sizeof(buf));

	assert_true(n > 0);
	assert_string_equal(buf, "uid 1000 pid 4242 ino 123456789012 ck 77 t 1763800000 vsftpd");
	assert_int_equal(pinhole_owner_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&o, &back, sizeof(o));
}

static void test_owner_extremes(void **state)
{
	struct pinhole_owner o = { UINT32_MAX, UINT32_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
				   "fifteen-chars..", "" }, back;
	struct pinhole_owner odd = { 1, 2, 3, 5, 4, "a b\tc\x01", "" };
	struct pinhole_owner none = { 1, 2, 3, 5, 4, "", "" };
	char buf[NFT_COMMENT_MAX + 1];
	int n;

	n = pinhole_owner_format(&o, buf, sizeof(buf));
	assert_true(n > 0 && n <= NFT_COMMENT_MAX);
	assert_int_equal(pinhole_owner_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&o, &back, sizeof(o));

	/* unprintable program names are made printable, never break parsing */
	n = pinhole_owner_format(&odd, buf, sizeof(buf));
	assert_string_equal(buf, "uid 1 pid 2 ino 3 ck 5 t 4 a_b_c_");
	assert_int_equal(pinhole_owner_parse(buf, (size_t)n, &back), 0);
	assert_string_equal(back.program, "a_b_c_");

	n = pinhole_owner_format(&none, buf, sizeof(buf));
	assert_int_equal(pinhole_owner_parse(buf, (size_t)n, &back), 0);
	assert_string_equal(back.program, "");

	assert_int_equal(pinhole_owner_format(&o, buf, 10), -ENOSPC);
}

static void test_owner_rejects(void **state)
{
	static const char *bad[] = {
		"", "hello", "uid 1 pid 2", "uid 1 pid 2 ino 3 ck 5 t 4", "uid 1 pid 2 ino 3 ck 5 t 4 ",
		"uid x pid 2 ino 3 ck 5 t 4 p", "uid 1 pid 2 ino 3 ck 5 t 4 two words",
		"uid 1 pid 2 ino 3 ck 5 t 4 sixteen-chars-xx",
		"pid 2 uid 1 ino 3 ck 5 t 4 p", "uid 1 pid 2 ino 3 t 4 p",
	};
	struct pinhole_owner o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pinhole_owner_parse(bad[i], strlen(bad[i]), &o), -EINVAL);
	/* longer than any comment the kernel keeps */
	char big[300];

	memset(big, 'u', sizeof(big));
	assert_int_equal(pinhole_owner_parse(big, sizeof(big), &o), -EINVAL);
}

/* A site's pinhole names its delegate; the host form is untouched by it. */
static void test_owner_delegate(void **state)
{
	struct pinhole_owner o = { .created = 1763800000, .delegate = "hostA" }, back;
	struct pinhole_owner host = { .uid = 1000, .pid = 4242, .sock_ino = 9, .sock_cookie = 8,
				      .created = 1763800000, .program = "vsftpd" };
	struct pinhole_owner longest = { .created = UINT64_MAX };
	char buf[NFT_COMMENT_MAX + 1];
	int n;

	n = pinhole_owner_format(&o, buf, sizeof(buf));
	assert_string_equal(buf, "dlg hostA t 1763800000");
	assert_int_equal(n, (int)strlen(buf));
	memset(&back, 0x55, sizeof(back));
	assert_int_equal(pinhole_owner_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&o, &back, sizeof(o));

	/* the longest delegate and time still fit in a comment */
	memset(longest.delegate, 'a', PINHOLE_DELEGATE_LEN - 1);
	longest.delegate[7] = '.';
	longest.delegate[8] = '@';
	longest.delegate[9] = '_';
	longest.delegate[10] = '-';
	n = pinhole_owner_format(&longest, buf, sizeof(buf));
	assert_true(n > 0 && n <= NFT_COMMENT_MAX);
	assert_int_equal(pinhole_owner_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&longest, &back, sizeof(longest));

	/* the host form is as before, and parses with no delegate */
	n = pinhole_owner_format(&host, buf, sizeof(buf));
	assert_string_equal(buf, "uid 1000 pid 4242 ino 9 ck 8 t 1763800000 vsftpd");
	assert_int_equal(pinhole_owner_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&host, &back, sizeof(host));
	assert_string_equal(back.delegate, "");

	/* what the comment cannot carry is refused, never mangled or lost */
	strcpy(o.delegate, "host A");
	assert_int_equal(pinhole_owner_format(&o, buf, sizeof(buf)), -EINVAL);
	strcpy(o.delegate, "hostA\"");
	assert_int_equal(pinhole_owner_format(&o, buf, sizeof(buf)), -EINVAL);
	strcpy(o.delegate, "hostA");
	o.pid = 1;
	assert_int_equal(pinhole_owner_format(&o, buf, sizeof(buf)), -EINVAL);
	o.pid = 0;
	assert_int_equal(pinhole_owner_format(&o, buf, 10), -ENOSPC);
}

static void test_owner_delegate_rejects(void **state)
{
	static const char *bad[] = {
		"dlg", "dlg ", "dlg hostA", "dlg hostA t", "dlg hostA t ", "dlg hostA t x",
		"dlg hostA t 12 ", "dlg hostA t 12x", "dlg  hostA t 12", "dlg hostA  t 12",
		"dlg hostA t -1", "dlg hostA t +1", "dlg hostA t 99999999999999999999999",
		"dlg host/A t 12", "dlg hostA x 12", "dlg t 12",
		"dlg aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa t 1",
	};
	struct pinhole_owner o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pinhole_owner_parse(bad[i], strlen(bad[i]), &o) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_validate_delegate(void **state)
{
	struct pinhole ph = mk(AF_INET, IPPROTO_TCP, "203.0.113.10", 0, "198.51.100.10", 8080);

	strcpy(ph.owner.delegate, "hostA");
	assert_int_equal(pinhole_validate(&ph), 0);
	ph.owner.uid = 1000;		/* a delegate's pinhole has no process */
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
	ph.owner.uid = 0;
	strcpy(ph.owner.program, "x");
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
	ph.owner.program[0] = '\0';
	strcpy(ph.owner.delegate, "a b");
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
	memset(ph.owner.delegate, 'a', sizeof(ph.owner.delegate));	/* unterminated */
	assert_int_equal(pinhole_validate(&ph), -EINVAL);
}

/* --- message building --------------------------------------------------------- */

static void test_build_pinhole_add(void **state)
{
	struct pinhole_op op = { .type = PINHOLE_ADD };
	struct nlbuf b = { 0 };
	struct nlmsghdr *nlh;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *el;
	const void *data;
	uint8_t key[64];
	uint32_t len;
	size_t klen;

	op.ph = mk(AF_INET6, IPPROTO_TCP, "2001:db8::10", 5555, "2001:db8::1", 40001);
	op.ph.timeout_ms = 30000;
	op.ph.owner = (struct pinhole_owner){ .uid = 1000, .pid = 7, .sock_ino = 8,
					      .sock_cookie = 10, .created = 9, .program = "lftp" };
	assert_int_equal(nft_build_pinhole(&b, "dyper", &op, NLM_F_CREATE | NLM_F_EXCL, 77), 0);

	nlh = (struct nlmsghdr *)b.data;
	assert_int_equal(b.len, NLMSG_ALIGN(nlh->nlmsg_len));
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM);
	assert_int_equal(nlh->nlmsg_seq, 77);
	assert_int_equal(nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL), NLM_F_CREATE | NLM_F_EXCL);

	assert_non_null(s);
	assert_true(nftnl_set_elems_nlmsg_parse(nlh, s) >= 0);
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_TABLE), "dyper");
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), NFT_SET_PH6);
	it = nftnl_set_elems_iter_create(s);
	el = nftnl_set_elems_iter_next(it);
	assert_non_null(el);
	klen = pinhole_key(&op.ph, key, NULL);
	data = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &len);
	assert_int_equal(len, klen);
	assert_memory_equal(data, key, klen);
	assert_int_equal(nftnl_set_elem_get_u64(el, NFTNL_SET_ELEM_TIMEOUT), 30000);
	data = nftnl_set_elem_get(el, NFTNL_SET_ELEM_USERDATA, &len);
	assert_non_null(data);
	assert_int_equal(((const uint8_t *)data)[0], NFTNL_UDATA_SET_ELEM_COMMENT);
	assert_string_equal((const char *)data + 2, "uid 1000 pid 7 ino 8 ck 10 t 9 lftp");
	assert_int_equal(((const uint8_t *)data)[1], strlen("uid 1000 pid 7 ino 8 ck 10 t 9 lftp") + 1);
	assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	nlbuf_free(&b);
}

static void test_build_pinhole_del(void **state)
{
	struct pinhole_op op = { .type = PINHOLE_DEL };
	struct nlbuf b = { 0 };
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *el;
	struct nlmsghdr *nlh;

	op.ph = mk(AF_INET, IPPROTO_UDP, "198.51.100.7", 0, "203.0.113.1", 69);
	op.ph.timeout_ms = 5;	/* ignored for deletes */
	assert_int_equal(nft_build_pinhole(&b, "t", &op, 0, 1), 0);
	nlh = (struct nlmsghdr *)b.data;
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM);
	assert_true(nftnl_set_elems_nlmsg_parse(nlh, s) >= 0);
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), NFT_SET_PH4_ANY);
	it = nftnl_set_elems_iter_create(s);
	el = nftnl_set_elems_iter_next(it);
	assert_non_null(el);
	assert_false(nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_TIMEOUT));
	assert_false(nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_USERDATA));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	nlbuf_free(&b);
}

static void test_build_many_grows(void **state)
{
	struct pinhole_op op = { .type = PINHOLE_ADD };
	struct nlbuf b = { 0 };
	size_t n = 0;
	struct nlmsghdr *nlh;
	int left;

	op.ph = mk(AF_INET, IPPROTO_TCP, "192.0.2.1", 0, "203.0.113.1", 1);
	for (uint32_t i = 0; i < 5000; i++) {
		op.ph.local_port = (uint16_t)(1 + i);
		assert_int_equal(nft_build_pinhole(&b, "dyper", &op, NLM_F_CREATE, i), 0);
	}
	left = (int)b.len;
	for (nlh = (struct nlmsghdr *)b.data; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		assert_int_equal(nlh->nlmsg_seq, n);
		n++;
	}
	assert_int_equal(n, 5000);
	assert_int_equal(left, 0);
	nlbuf_free(&b);
}

/* Walks a setup batch and counts message types; checks the table's flags
 * and comment and the base chain. */
static void test_build_setup(void **state)
{
	struct nft_enforcer_config cfg;
	struct nlbuf b = { 0 };
	struct nlmsghdr *nlh;
	uint32_t seq = 100;
	int left, tables = 0, sets = 0, flushes = 0, chains = 0, rules = 0, elems = 0;

	nft_enforcer_config_init(&cfg);
	cfg.tcp_ports[0] = 22;
	cfg.tcp_ports[1] = 2811;
	cfg.n_tcp_ports = 2;
	assert_int_equal(nft_build_setup(&b, &cfg, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, &seq), 0);
	left = (int)b.len;
	for (nlh = (struct nlmsghdr *)b.data; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		switch (nlh->nlmsg_type & 0xff) {
		case NFT_MSG_NEWTABLE: {
			struct nftnl_table *t = nftnl_table_alloc();
			const char *ud;
			uint32_t len;

			assert_true(nftnl_table_nlmsg_parse(nlh, t) >= 0);
			assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "dyper");
			assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS),
					 NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
			ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
			assert_string_equal(ud + 2, NFT_TABLE_COMMENT);
			nftnl_table_free(t);
			tables++;
			break;
		}
		case NFT_MSG_NEWSET: {
			struct nftnl_set *s = nftnl_set_alloc();

			assert_true(nftnl_set_nlmsg_parse(nlh, s) >= 0);
			if (!strncmp(nftnl_set_get_str(s, NFTNL_SET_NAME), "pinholes", 8)) {
				assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_TIMEOUT,
						 NFT_SET_TIMEOUT);
				assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE),
						 NFT_ENFORCER_MAX_PINHOLES);
			}
			nftnl_set_free(s);
			sets++;
			break;
		}
		case NFT_MSG_DELSETELEM:
			flushes++;
			break;
		case NFT_MSG_NEWSETELEM:
			elems++;
			break;
		case NFT_MSG_NEWCHAIN: {
			struct nftnl_chain *c = nftnl_chain_alloc();

			assert_true(nftnl_chain_nlmsg_parse(nlh, c) >= 0);
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_LOCAL_IN);
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_DROP);
			nftnl_chain_free(c);
			chains++;
			break;
		}
		case NFT_MSG_DELRULE:
			assert_int_equal(chains, 1);	/* flushed after the chain exists */
			assert_int_equal(rules, 0);	/* and before the new rules */
			flushes++;
			break;
		case NFT_MSG_NEWRULE:
			rules++;
			break;
		default:
			fail_msg("unexpected message type %u", nlh->nlmsg_type);
		}
	}
	assert_int_equal(tables, 1);
	assert_int_equal(sets, 8);
	assert_int_equal(flushes, 4 + 1);	/* static sets refilled, chain flushed */
	assert_int_equal(elems, 3);		/* tcp ports, icmp, icmpv6 (no udp ports) */
	assert_int_equal(chains, 1);
	assert_int_equal(rules, 13);
	assert_int_equal(seq, 100 + 1 + 8 + 4 + 3 + 1 + 1 + 13);
	nlbuf_free(&b);
}

static void test_expected_rules(void **state)
{
	struct nft_enforcer_config cfg;
	char **lines;
	int n;

	nft_enforcer_config_init(&cfg);
	n = nft_expected_rules(&cfg, &lines);
	assert_int_equal(n, 13);
	assert_non_null(strstr(lines[0], "[ct load state"));
	assert_non_null(strstr(lines[7], "set pinholes4 "));
	assert_non_null(strstr(lines[12], "[counter]"));
	nft_free_lines(lines, n);

	cfg.log_rate = 0;	/* no log rule */
	n = nft_expected_rules(&cfg, &lines);
	assert_int_equal(n, 12);
	nft_free_lines(lines, n);
}

/* The router's table: hook forward, its own sets; mark mode decides
 * nothing but marks. */
static void test_build_setup_router(void **state)
{
	struct nft_enforcer_config cfg;
	struct nlbuf b = { 0 };
	struct nlmsghdr *nlh;
	uint32_t seq = 1;
	int left, rules = 0, sets = 0;
	bool inside = false;
	char **lines;
	int n;

	nft_enforcer_config_init_router(&cfg);
	strcpy(cfg.inside[0], "int0");
	cfg.n_inside = 1;
	cfg.open[0] = (struct nft_open_port){ .family = AF_INET, .proto = IPPROTO_TCP, .port = 22 };
	inet_pton(AF_INET, "198.51.100.10", &cfg.open[0].addr);
	cfg.n_open = 1;
	assert_string_equal(cfg.table, "dyper_site");
	assert_int_equal(nft_build_setup(&b, &cfg, 0, &seq), 0);
	left = (int)b.len;
	for (nlh = (struct nlmsghdr *)b.data; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		switch (nlh->nlmsg_type & 0xff) {
		case NFT_MSG_NEWSET: {
			struct nftnl_set *s = nftnl_set_alloc();
			const char *name;

			assert_true(nftnl_set_nlmsg_parse(nlh, s) >= 0);
			name = nftnl_set_get_str(s, NFTNL_SET_NAME);
			assert_true(strcmp(name, NFT_SET_CTL_TCP) && strcmp(name, NFT_SET_CTL_UDP));
			inside |= !strcmp(name, NFT_SET_INSIDE);
			nftnl_set_free(s);
			sets++;
			break;
		}
		case NFT_MSG_NEWCHAIN: {
			struct nftnl_chain *c = nftnl_chain_alloc();

			assert_true(nftnl_chain_nlmsg_parse(nlh, c) >= 0);
			assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "forward");
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_FORWARD);
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_DROP);
			nftnl_chain_free(c);
			break;
		}
		case NFT_MSG_NEWRULE:
			rules++;
			break;
		}
	}
	assert_true(inside);
	assert_int_equal(sets, 9);	/* inside, open4/6, icmp x2, pinholes x4 */
	assert_int_equal(rules, 13);
	nlbuf_free(&b);
	n = nft_expected_rules(&cfg, &lines);
	assert_int_equal(n, 13);
	assert_non_null(strstr(lines[2], "set inside"));
	assert_non_null(strstr(lines[5], "set open4"));
	assert_non_null(strstr(lines[11], "[log"));
	nft_free_lines(lines, n);

	cfg.mode = NFT_MODE_ROUTER_MARK;
	cfg.mark = 0x10;
	n = nft_expected_rules(&cfg, &lines);
	assert_int_equal(n, 6);		/* open x2, pinholes x4: marks only */
	for (int i = 0; i < n; i++) {
		assert_null(strstr(lines[i], "drop"));
		assert_non_null(strstr(lines[i], "[meta set mark"));
	}
	nft_free_lines(lines, n);
}

/* --- error replies -------------------------------------------------------------- */

static size_t mk_err(char *buf, int error, uint32_t seq, const char *text)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *me;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | (text ? NLM_F_ACK_TLVS : 0);
	me = mnl_nlmsg_put_extra_header(nlh, sizeof(*me));
	me->error = error;
	me->msg.nlmsg_seq = seq;
	me->msg.nlmsg_len = 64;	/* the request's length; not echoed (capped) */
	if (text)
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, text);
	return nlh->nlmsg_len;
}

static void test_parse_err(void **state)
{
	char buf[512];
	const char *msg;
	uint32_t seq;

	mk_err(buf, -EEXIST, 4242, "Could not process rule");
	assert_int_equal(nft_parse_err((struct nlmsghdr *)buf, &seq, &msg), -EEXIST);
	assert_int_equal(seq, 4242);
	assert_string_equal(msg, "Could not process rule");

	mk_err(buf, 0, 7, NULL);
	assert_int_equal(nft_parse_err((struct nlmsghdr *)buf, &seq, &msg), 0);
	assert_int_equal(seq, 7);
	assert_null(msg);
}

static void test_config_defaults(void **state)
{
	struct nft_enforcer_config cfg;

	nft_enforcer_config_init(&cfg);
	assert_string_equal(cfg.table, "dyper");
	assert_int_equal(cfg.max_pinholes, NFT_ENFORCER_MAX_PINHOLES);
	assert_int_equal(cfg.owner, NFT_OWNER_AUTO);
	assert_false(cfg.allow_ping);
	assert_int_equal(cfg.n_tcp_ports, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_key_layout),
		cmocka_unit_test(test_key_rejects),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_same_key),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_owner_roundtrip),
		cmocka_unit_test(test_owner_extremes),
		cmocka_unit_test(test_owner_rejects),
		cmocka_unit_test(test_owner_delegate),
		cmocka_unit_test(test_owner_delegate_rejects),
		cmocka_unit_test(test_validate_delegate),
		cmocka_unit_test(test_build_pinhole_add),
		cmocka_unit_test(test_build_pinhole_del),
		cmocka_unit_test(test_build_many_grows),
		cmocka_unit_test(test_build_setup),
		cmocka_unit_test(test_expected_rules),
		cmocka_unit_test(test_build_setup_router),
		cmocka_unit_test(test_parse_err),
		cmocka_unit_test(test_config_defaults),
	};

	return cmocka_run_group_tests_name("nft", tests, NULL, NULL);
}
