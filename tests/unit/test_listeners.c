// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of dyperd/listeners.c: /proc/net lines parsed (in this host's
 * byte order, as the kernel prints them), loopback told apart, a listener
 * judged against tcp_ports/udp_ports, duplicates merged, the warning's
 * words for SSH; and the live /proc/net of the test's own sockets.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "dyperd/listeners.h"

/* A /proc/net line for @addr (text) : @port, state @st, remote port @rport,
 * inode @ino, as the kernel prints it on this host. */
static const char *line(int family, const char *addr, unsigned port, unsigned st,
			unsigned rport, unsigned ino)
{
	static char buf[512];
	uint8_t a[16] = { 0 };
	char hex[33] = "", rhex[33] = "";
	size_t words = family == AF_INET ? 1 : 4;

	assert_int_equal(inet_pton(family, addr, a), 1);
	for (size_t i = 0; i < words; i++) {
		uint32_t v;

		memcpy(&v, a + 4 * i, 4);
		sprintf(hex + 8 * i, "%08X", v);
		sprintf(rhex + 8 * i, "%08X", 0u);
	}
	snprintf(buf, sizeof(buf), "   3: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 "
		 "00000000     0        0 %u 1 0000000000000000 100 0 0 10 0\n", hex, port, rhex,
		 rport, st, ino);
	return buf;
}

static struct listener parsed(int family, int proto, const char *text)
{
	struct listener l;

	assert_int_equal(listener_parse(text, family, proto, &l), 0);
	return l;
}

static void test_parse(void **state)
{
	struct listener l;

	l = parsed(AF_INET, IPPROTO_TCP, line(AF_INET, "0.0.0.0", 22, 0x0a, 0, 4711));
	assert_int_equal(l.family, AF_INET);
	assert_int_equal(l.proto, IPPROTO_TCP);
	assert_int_equal(l.port, 22);
	assert_int_equal(l.ino, 4711);
	assert_false(listener_loopback(&l));

	l = parsed(AF_INET, IPPROTO_TCP, line(AF_INET, "192.0.2.1", 8080, 0x0a, 0, 1));
	assert_memory_equal(l.addr, "\xc0\x00\x02\x01", 4);
	l = parsed(AF_INET6, IPPROTO_TCP, line(AF_INET6, "2001:db8::1", 443, 0x0a, 0, 2));
	assert_memory_equal(l.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	assert_int_equal(l.port, 443);

	/* not listening: an established TCP connection, a connected UDP socket */
	assert_int_equal(listener_parse(line(AF_INET, "192.0.2.1", 22, 0x01, 50000, 3),
					AF_INET, IPPROTO_TCP, &l), -ENOENT);
	assert_int_equal(listener_parse(line(AF_INET, "192.0.2.1", 5060, 0x01, 5060, 3),
					AF_INET, IPPROTO_UDP, &l), -ENOENT);
	l = parsed(AF_INET, IPPROTO_UDP, line(AF_INET, "0.0.0.0", 5060, 0x07, 0, 5));
	assert_int_equal(l.proto, IPPROTO_UDP);
	assert_int_equal(l.port, 5060);

	assert_int_equal(listener_parse("  sl  local_address rem_address   st tx_queue rx_queue "
					"tr tm->when retrnsmt   uid  timeout inode\n", AF_INET,
					IPPROTO_TCP, &l), -ENOENT);
	/* an IPv6 line read as IPv4, junk, a cut line */
	assert_int_equal(listener_parse(line(AF_INET6, "::", 22, 0x0a, 0, 1), AF_INET,
					IPPROTO_TCP, &l), -EINVAL);
	assert_int_equal(listener_parse("   0: 0000000G:0016 00000000:0000 0A\n", AF_INET,
					IPPROTO_TCP, &l), -EINVAL);
	assert_int_equal(listener_parse("   0: 00000000:0016 00000000:0000 0A\n", AF_INET,
					IPPROTO_TCP, &l), -EINVAL);
}

static void test_loopback(void **state)
{
	static const struct { int family; const char *addr; bool lo; } cases[] = {
		{ AF_INET, "127.0.0.1", true }, { AF_INET, "127.0.0.53", true },
		{ AF_INET, "0.0.0.0", false }, { AF_INET, "192.0.2.1", false },
		{ AF_INET6, "::1", true }, { AF_INET6, "::ffff:127.0.0.1", true },
		{ AF_INET6, "::", false }, { AF_INET6, "::ffff:192.0.2.1", false },
		{ AF_INET6, "2001:db8::1", false }, { AF_INET6, "fe80::1", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct listener l = parsed(cases[i].family, IPPROTO_TCP,
					   line(cases[i].family, cases[i].addr, 80, 0x0a, 0, 1));

		if (listener_loopback(&l) != cases[i].lo)
			fail_msg("%s: loopback %d, want %d", cases[i].addr, !cases[i].lo,
				 cases[i].lo);
	}
}

static void test_dropped(void **state)
{
	struct nft_enforcer_config cfg;
	struct listener ssh = parsed(AF_INET, IPPROTO_TCP, line(AF_INET, "0.0.0.0", 22, 0x0a, 0, 1));
	struct listener sip = parsed(AF_INET, IPPROTO_UDP, line(AF_INET, "0.0.0.0", 5060, 0x07, 0, 2));
	struct listener cups = parsed(AF_INET, IPPROTO_TCP,
				      line(AF_INET, "127.0.0.1", 631, 0x0a, 0, 3));

	nft_enforcer_config_init(&cfg);
	assert_true(listener_dropped(&ssh, &cfg));
	assert_true(listener_dropped(&sip, &cfg));
	assert_false(listener_dropped(&cups, &cfg));	/* loopback: the table accepts lo */

	/* a UDP port does not open TCP, nor a TCP port UDP */
	cfg.udp_ports[cfg.n_udp_ports++] = 22;
	cfg.tcp_ports[cfg.n_tcp_ports++] = 5060;
	assert_true(listener_dropped(&ssh, &cfg));
	assert_true(listener_dropped(&sip, &cfg));
	cfg.tcp_ports[cfg.n_tcp_ports++] = 21;
	cfg.tcp_ports[cfg.n_tcp_ports++] = 22;
	cfg.udp_ports[cfg.n_udp_ports++] = 5060;
	assert_false(listener_dropped(&ssh, &cfg));
	assert_false(listener_dropped(&sip, &cfg));
}

static void test_merge_and_words(void **state)
{
	struct nft_enforcer_config cfg;
	struct listener ls[5];
	char msg[512];

	nft_enforcer_config_init(&cfg);
	cfg.tcp_ports[cfg.n_tcp_ports++] = 21;
	ls[0] = parsed(AF_INET, IPPROTO_TCP, line(AF_INET, "0.0.0.0", 22, 0x0a, 0, 1));
	ls[1] = parsed(AF_INET, IPPROTO_TCP, line(AF_INET, "0.0.0.0", 21, 0x0a, 0, 2));
	ls[2] = parsed(AF_INET6, IPPROTO_TCP, line(AF_INET6, "::", 22, 0x0a, 0, 3));
	ls[3] = parsed(AF_INET, IPPROTO_UDP, line(AF_INET, "0.0.0.0", 22, 0x07, 0, 4));
	ls[4] = parsed(AF_INET6, IPPROTO_TCP, line(AF_INET6, "::1", 2024, 0x0a, 0, 5));
	strcpy(ls[2].comm, "sshd");	/* only the IPv6 one's owner is known */

	/* tcp 22 once (owner kept), udp 22; 21 open, 2024 loopback */
	assert_int_equal(listeners_dropped(ls, 5, &cfg), 2);
	assert_int_equal(ls[0].proto, IPPROTO_TCP);
	assert_int_equal(ls[0].port, 22);
	assert_string_equal(ls[0].comm, "sshd");
	assert_int_equal(ls[1].proto, IPPROTO_UDP);

	listener_warning(&ls[0], msg, sizeof(msg));
	assert_non_null(strstr(msg, "tcp port 22 (sshd) is listening (on 0.0.0.0)"));
	assert_non_null(strstr(msg, "SSH LOGINS WOULD BE CUT OFF"));
	/* sshd on another port is SSH too; another program on 2222 is not */
	ls[0].port = 2222;
	listener_warning(&ls[0], msg, sizeof(msg));
	assert_non_null(strstr(msg, "SSH LOGINS WOULD BE CUT OFF"));
	strcpy(ls[0].comm, "python3");
	listener_warning(&ls[0], msg, sizeof(msg));
	assert_null(strstr(msg, "SSH"));
	listener_warning(&ls[2], msg, sizeof(msg));	/* (the IPv6 one, unmerged copy) */
	assert_non_null(strstr(msg, "on [::]"));
}

/* A socket of this process bound to @addr, listening (TCP) or not (UDP);
 * its port in *@port. */
static int bound(int family, int type, const char *addr, uint16_t *port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) :
			sizeof(struct sockaddr_in6);
	int fd = socket(family, type, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(family, addr, family == AF_INET ?
				   (void *)&((struct sockaddr_in *)&ss)->sin_addr :
				   (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		      ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static const struct listener *find(const struct listener *ls, size_t n, int proto, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (ls[i].proto == proto && ls[i].port == port)
			return &ls[i];
	return NULL;
}

/* The kernel's own /proc/net: this process's sockets, found and owned. */
static void test_live(void **state)
{
	struct nft_enforcer_config cfg;
	struct listener *ls = NULL;
	const struct listener *l;
	uint16_t tcp, udp, lo;
	size_t n;
	int fds[3];

	assert_int_equal(prctl(PR_SET_NAME, "dyper-lstn-test"), 0);
	fds[0] = bound(AF_INET, SOCK_STREAM, "0.0.0.0", &tcp);
	fds[1] = bound(AF_INET, SOCK_DGRAM, "0.0.0.0", &udp);
	fds[2] = bound(AF_INET, SOCK_STREAM, "127.0.0.1", &lo);
	assert_int_equal(listeners_read(&ls, &n), 0);
	l = find(ls, n, IPPROTO_TCP, tcp);
	assert_non_null(l);
	assert_string_equal(l->comm, "dyper-lstn-test");
	assert_non_null(find(ls, n, IPPROTO_UDP, udp));
	assert_non_null(find(ls, n, IPPROTO_TCP, lo));

	nft_enforcer_config_init(&cfg);
	cfg.tcp_ports[cfg.n_tcp_ports++] = tcp;
	n = listeners_dropped(ls, n, &cfg);
	assert_null(find(ls, n, IPPROTO_TCP, tcp));	/* a control port */
	assert_null(find(ls, n, IPPROTO_TCP, lo));	/* loopback */
	assert_non_null(find(ls, n, IPPROTO_UDP, udp));
	free(ls);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_merge_and_words),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
