// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for dyperd's pure parts: the wire protocol, socket
 * verification (against real sockets on loopback, no root needed), and the
 * pinhole table. */

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "dyperd/proto.h"
#include "dyperd/table.h"
#include "dyperd/verify.h"

/* --- protocol ------------------------------------------------------------------ */

static struct dyper_pinhole_req req4(const char *remote, uint16_t rport, const char *local,
				     uint16_t lport, uint8_t proto)
{
	struct dyper_pinhole_req r = { .family = AF_INET, .proto = proto, .remote_port = rport,
				       .local_port = lport };

	inet_pton(AF_INET, remote, r.remote);
	inet_pton(AF_INET, local, r.local);
	return r;
}

static void test_proto_roundtrip(void **state)
{
	struct dyper_pinhole_req r = req4("192.0.2.1", 0, "203.0.113.1", 40000, IPPROTO_TCP), back;
	char buf[DYPER_MSG_MAX];
	struct dyper_hdr h;
	const void *p;
	int len;

	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_OPEN, DYPER_F_REPLY_FD, 42, &r, sizeof(r));
	assert_int_equal(len, sizeof(struct dyper_hdr) + sizeof(r));
	assert_int_equal(dyper_msg_decode(buf, (size_t)len, &h, &p), 0);
	assert_int_equal(h.type, DYPER_MSG_OPEN);
	assert_int_equal(h.flags, DYPER_F_REPLY_FD);
	assert_int_equal(h.id, 42);
	memcpy(&back, p, sizeof(back));
	assert_memory_equal(&back, &r, sizeof(r));
	assert_int_equal(dyper_req_validate(&back), 0);

	len = dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_BYE, 0, 1, NULL, 0);
	assert_int_equal(len, sizeof(struct dyper_hdr));
	assert_int_equal(dyper_msg_decode(buf, (size_t)len, &h, &p), 0);
	assert_int_equal(h.type, DYPER_MSG_BYE);
}

static void test_proto_encode_rejects(void **state)
{
	struct dyper_pinhole_req r = { 0 };
	char buf[DYPER_MSG_MAX];

	assert_int_equal(dyper_msg_encode(buf, sizeof(buf), 99, 0, 1, &r, sizeof(r)), -EINVAL);
	assert_int_equal(dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_OPEN, 0, 1, &r, 3), -EINVAL);
	assert_int_equal(dyper_msg_encode(buf, sizeof(buf), DYPER_MSG_OPEN, 0x8, 1, &r, sizeof(r)),
			 -EINVAL);
	assert_int_equal(dyper_msg_encode(buf, 10, DYPER_MSG_OPEN, 0, 1, &r, sizeof(r)), -ENOSPC);
}

/* Every way a datagram can be wrong, and what the decoder must say. */
static void test_proto_decode_malformed(void **state)
{
	struct dyper_pinhole_req r = req4("192.0.2.1", 0, "203.0.113.1", 1, IPPROTO_UDP);
	char good[DYPER_MSG_MAX + 8], bad[DYPER_MSG_MAX + 8];
	struct dyper_hdr h, *bh = (struct dyper_hdr *)bad;
	const void *p;
	int len = dyper_msg_encode(good, sizeof(good), DYPER_MSG_OPEN, 0, 5, &r, sizeof(r));

	for (size_t n = 0; n < (size_t)len; n++)	/* every truncation */
		assert_int_not_equal(dyper_msg_decode(good, n, &h, &p), 0);
	assert_int_equal(dyper_msg_decode(good, 0, &h, &p), -EBADMSG);
	assert_int_equal(dyper_msg_decode(good, (size_t)len + 1, &h, &p), -EBADMSG);

	memcpy(bad, good, (size_t)len);
	bh->version = 2;
	assert_int_equal(dyper_msg_decode(bad, (size_t)len, &h, &p), -EPROTONOSUPPORT);
	memcpy(bad, good, (size_t)len);
	bh->type = 77;
	assert_int_equal(dyper_msg_decode(bad, (size_t)len, &h, &p), -EOPNOTSUPP);
	memcpy(bad, good, (size_t)len);
	bh->len = (uint16_t)(sizeof(r) - 1);
	assert_int_equal(dyper_msg_decode(bad, (size_t)len, &h, &p), -EBADMSG);
	memcpy(bad, good, (size_t)len);
	bh->flags = 0x100;
	assert_int_equal(dyper_msg_decode(bad, (size_t)len, &h, &p), -EBADMSG);
	/* a BYE that carries a payload */
	memcpy(bad, good, (size_t)len);
	bh->type = DYPER_MSG_BYE;
	assert_int_equal(dyper_msg_decode(bad, (size_t)len, &h, &p), -EBADMSG);
}

static void test_proto_validate(void **state)
{
	struct dyper_pinhole_req r = req4("192.0.2.1", 0, "203.0.113.1", 1, IPPROTO_TCP), b;

	assert_int_equal(dyper_req_validate(&r), 0);
	b = r;
	b.family = AF_UNIX;
	assert_int_equal(dyper_req_validate(&b), -EAFNOSUPPORT);
	b = r;
	b.proto = IPPROTO_ICMP;
	assert_int_equal(dyper_req_validate(&b), -EPROTONOSUPPORT);
	b = r;
	b.local_port = 0;
	assert_int_equal(dyper_req_validate(&b), -EINVAL);
	b = r;
	b.flags = 0x40;
	assert_int_equal(dyper_req_validate(&b), -EINVAL);
	b = r;
	b.remote[9] = 1;	/* junk behind an IPv4 address */
	assert_int_equal(dyper_req_validate(&b), -EINVAL);
	b = r;
	b.flags = DYPER_REQ_ONESHOT;
	assert_int_equal(dyper_req_validate(&b), 0);
}

/* --- verification against real sockets ---------------------------------------- */

static int bound(int family, int type, const char *addr, uint16_t *port, bool v6only)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, type, 0), one = 1;

	assert_true(fd >= 0);
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ v6only }, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		len = sizeof(*s);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					  ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void test_verify_sockets(void **state)
{
	struct sock_facts f;
	struct dyper_pinhole_req r;
	char why[128];
	struct netns_id self;
	uint16_t port, port6;
	int fd = bound(AF_INET, SOCK_STREAM, "127.0.0.1", &port, false);
	int any6 = bound(AF_INET6, SOCK_DGRAM, "::", &port6, false);
	int pipefd[2];

	assert_int_equal(verify_netns_self(&self), 0);
	assert_int_equal(verify_read_socket(fd, &f), 0);
	assert_int_equal(f.family, AF_INET);
	assert_int_equal(f.proto, IPPROTO_TCP);
	assert_int_equal(f.port, port);
	assert_true(f.cookie != 0);
	assert_true(f.ino != 0);
	assert_int_equal(f.uid, getuid());

	r = req4("192.0.2.1", 0, "127.0.0.1", port, IPPROTO_TCP);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), 0);
	r.local_port = (uint16_t)(port + 1);		/* forged port */
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "another port"));
	r = req4("192.0.2.1", 0, "127.0.0.2", port, IPPROTO_TCP);	/* other address */
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);
	r = req4("192.0.2.1", 0, "127.0.0.1", port, IPPROTO_UDP);	/* other protocol */
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);

	/* a dual-stack UDP socket on :: takes IPv4 and IPv6 requests */
	assert_int_equal(verify_read_socket(any6, &f), 0);
	assert_false(f.v6only);
	r = req4("192.0.2.1", 53, "203.0.113.1", port6, IPPROTO_UDP);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), 0);
	r.family = AF_INET6;
	memset(r.local, 0, 16);
	inet_pton(AF_INET6, "2001:db8::1", r.local);
	inet_pton(AF_INET6, "2001:db8::99", r.remote);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), 0);
	f.v6only = true;	/* ... but not IPv4 when IPv6-only */
	r = req4("192.0.2.1", 53, "203.0.113.1", port6, IPPROTO_UDP);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);

	/* not a socket at all */
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(verify_read_socket(pipefd[0], &f), -ENOTSOCK);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	close(any6);
}

static void test_verify_unbound_and_mapped(void **state)
{
	struct sock_facts f;
	struct dyper_pinhole_req r;
	char why[128];
	struct netns_id self;
	uint16_t port;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), mapped, unix_fd;

	assert_int_equal(verify_netns_self(&self), 0);

	assert_int_equal(verify_read_socket(fd, &f), 0);
	assert_int_equal(f.port, 0);
	r = req4("192.0.2.1", 0, "203.0.113.1", 9, IPPROTO_UDP);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "not bound"));
	close(fd);

	mapped = bound(AF_INET6, SOCK_STREAM, "::ffff:127.0.0.1", &port, false);
	assert_int_equal(verify_read_socket(mapped, &f), 0);
	r = req4("192.0.2.1", 0, "127.0.0.1", port, IPPROTO_TCP);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), 0);
	r = req4("192.0.2.1", 0, "127.0.0.9", port, IPPROTO_TCP);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);
	close(mapped);

	unix_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(verify_read_socket(unix_fd, &f), -EAFNOSUPPORT);
	close(unix_fd);
}

/*
 * A TCP socket bound to 0.0.0.0:@port in a new user and network namespace
 * (what any user can make), from a child that passes it back; -1 where
 * this system allows no such namespace.
 */
static int foreign_socket(uint16_t port)
{
	int sv[2], fd = -1, st;
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &(char){ 0 }, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
			_exit(send(sv[1], "", 1, 0) < 0);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			_exit(1);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		_exit(sendmsg(sv[1], &msg, 0) < 0);
	}
	close(sv[1]);
	if (recvmsg(sv[0], &msg, 0) == 1 && CMSG_FIRSTHDR(&msg) &&
	    CMSG_FIRSTHDR(&msg)->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	close(sv[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	/* a child that could not unshare sends nothing and exits 0 */
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return fd;
}

static void test_verify_other_netns(void **state)
{
	struct dyper_pinhole_req r;
	struct netns_id self, by_inode = { 0 }, mine = { 0 };
	struct sock_facts f;
	char why[128];
	uint16_t port;
	int fd, here = bound(AF_INET, SOCK_STREAM, "0.0.0.0", &port, false);

	assert_int_equal(verify_netns_self(&self), 0);
	assert_true(self.cookie != 0);
	fd = foreign_socket(port);
	if (fd < 0) {
		close(here);
		skip();
	}
	/* the same port, and the request names it exactly: only where the
	 * socket lives differs */
	r = req4("192.0.2.1", 0, "203.0.113.1", port, IPPROTO_TCP);
	assert_int_equal(verify_read_socket(here, &f), 0);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), 0);
	assert_int_equal(verify_read_socket(fd, &f), 0);
	assert_true(f.netns.cookie != 0 && f.netns.cookie != self.cookie);
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "the socket lives in another network namespace");

	/* without SO_NETNS_COOKIE: the nsfs inodes (SIOCGSKNS needs
	 * CAP_NET_ADMIN, as dyperd holds it) */
	if (self.ino && verify_netns_inode(fd, &by_inode) == 0 &&
	    verify_netns_inode(here, &mine) == 0) {
		struct netns_id self_inode = { .dev = self.dev, .ino = self.ino };

		f.netns = by_inode;
		assert_int_equal(verify_request(&f, &r, &self_inode, why, sizeof(why)), -EPERM);
		assert_int_equal(verify_read_socket(here, &f), 0);
		f.netns = mine;
		assert_int_equal(verify_request(&f, &r, &self_inode, why, sizeof(why)), 0);
	}
	/* neither known: refused, never assumed to be ours */
	memset(&f.netns, 0, sizeof(f.netns));
	assert_int_equal(verify_request(&f, &r, &self, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "cannot tell"));
	close(fd);
	close(here);
}

/* --- the table ---------------------------------------------------------------------- */

static struct pinhole ph_n(uint32_t i, uint32_t uid, uint64_t cookie)
{
	struct pinhole ph = { .family = AF_INET, .proto = IPPROTO_TCP };

	ph.remote.v4.s_addr = htonl(0xc6336400u | (i & 0xff));
	ph.local.v4.s_addr = htonl(0xcb007101u);
	ph.remote_port = (uint16_t)(i >> 8);
	ph.local_port = (uint16_t)(1000 + (i % 50000));
	ph.owner.uid = uid;
	ph.owner.sock_cookie = cookie;
	return ph;
}

static unsigned seen_cb_count;

static void count_del_cb(struct ph_table *t, uint32_t idx, void *arg)
{
	seen_cb_count++;
	table_del(t, idx);
}

static void test_table_basic(void **state)
{
	struct ph_table t;
	struct pinhole a = ph_n(1, 1000, 7), b = ph_n(2, 1000, 7), c = ph_n(3, 2000, 9);
	int ia, ib, ic;

	assert_int_equal(table_init(&t), 0);
	ia = table_add(&t, &a, 3, 0);
	ib = table_add(&t, &b, 3, 500);
	ic = table_add(&t, &c, 0, 0);
	assert_true(ia >= 0 && ib >= 0 && ic >= 0);
	assert_int_equal(t.count, 3);
	assert_int_equal(t.n_expiring, 1);
	assert_int_equal(table_find(&t, &a), ia);
	assert_int_equal(table_find(&t, &c), ic);
	assert_int_equal(table_find_id(&t, t.v[ib].id), ib);
	assert_int_equal(table_user_count(&t, 1000), 2);
	assert_int_equal(table_user_count(&t, 2000), 1);
	assert_int_equal(table_rule_count(&t, 1000, 3), 2);
	assert_int_equal(table_rule_count(&t, 2000, 3), 0);

	/* the socket with cookie 7 goes: both its pinholes, nothing else */
	seen_cb_count = 0;
	assert_int_equal(table_each_cookie(&t, 7, count_del_cb, NULL), 2);
	assert_int_equal(seen_cb_count, 2);
	assert_int_equal(t.count, 1);
	assert_int_equal(table_find(&t, &a), -1);
	assert_int_equal(table_user_count(&t, 1000), 0);
	assert_int_equal(table_rule_count(&t, 1000, 3), 0);
	assert_int_equal(t.n_expiring, 0);
	assert_int_equal(table_find(&t, &c), ic);
	table_free(&t);
}

/* Many entries: indexes grow, deletes keep every other entry findable,
 * ids stay unique, counts stay exact. */
static void test_table_many(void **state)
{
	enum { N = 50000 };
	struct ph_table t;
	struct pinhole ph;

	assert_int_equal(table_init(&t), 0);
	for (uint32_t i = 0; i < N; i++) {
		ph = ph_n(i, 1000 + i % 10, i / 3);
		assert_true(table_add(&t, &ph, 1 + i % 4, 0) >= 0);
	}
	assert_int_equal(t.count, N);
	for (uint32_t i = 0; i < N; i += 2) {
		ph = ph_n(i, 0, 0);
		int idx = table_find(&t, &ph);

		assert_true(idx >= 0);
		table_del(&t, (uint32_t)idx);
	}
	assert_int_equal(t.count, N / 2);
	for (uint32_t i = 0; i < N; i++) {
		ph = ph_n(i, 0, 0);
		assert_int_equal(table_find(&t, &ph) >= 0, i % 2 == 1);
	}
	for (uint32_t u = 0; u < 10; u++)
		assert_int_equal(table_user_count(&t, 1000 + u), u % 2 ? N / 10 : 0);
	/* slots are reused, ids are not */
	ph = ph_n(0, 5, 1);
	int idx = table_add(&t, &ph, 0, 0);

	assert_true(idx >= 0);
	assert_int_equal(t.v[idx].id, N + 1);
	assert_true((uint32_t)idx < t.cap);
	table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_roundtrip),
		cmocka_unit_test(test_proto_encode_rejects),
		cmocka_unit_test(test_proto_decode_malformed),
		cmocka_unit_test(test_proto_validate),
		cmocka_unit_test(test_verify_sockets),
		cmocka_unit_test(test_verify_unbound_and_mapped),
		cmocka_unit_test(test_verify_other_netns),
		cmocka_unit_test(test_table_basic),
		cmocka_unit_test(test_table_many),
	};

	return cmocka_run_group_tests_name("dyperd", tests, NULL, NULL);
}
