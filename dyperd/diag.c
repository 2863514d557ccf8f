// SPDX-License-Identifier: GPL-2.0-or-later
/* sock_diag: socket destroy notifications and live-socket dumps. */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <libmnl/libmnl.h>

#include "dyperd/diag.h"

static uint64_t msg_cookie(const struct inet_diag_msg *m)
{
	return (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
}

int diag_destroy_open(void)
{
	static const int groups[] = { SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET_UDP_DESTROY,
				      SKNLGRP_INET6_TCP_DESTROY, SKNLGRP_INET6_UDP_DESTROY };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, rcv = 8 * 1024 * 1024, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(int)))
			goto fail;
	/* a burst of closes must not overflow into lost notifications */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int diag_destroy_read(int fd, void (*fn)(uint64_t cookie, void *arg), void *arg)
{
	char buf[32768];
	bool lost = false;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				lost = true;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				continue;
			fn(msg_cookie(NLMSG_DATA(h)), arg);
		}
	}
	return lost ? -ENOBUFS : 0;
}

static int cookie_push(struct cookie_set *s, uint64_t c)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = c;
	return 0;
}

/* Adds the cookies of @family/@proto sockets to @s; @port: only those
 * bound to it (a filter the kernel runs), 0: all. */
static int dump_one(int fd, uint8_t family, uint8_t proto, uint16_t port, struct cookie_set *s)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
		struct nlattr bc_attr;
		struct inet_diag_bc_op bc[2];	/* source port == @port */
	} msg = {
		.nlh = { .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.req = { .sdiag_family = family, .sdiag_protocol = proto,
			 .idiag_states = ~0u },
		.bc_attr = { .nla_len = NLA_HDRLEN + sizeof(msg.bc),
			     .nla_type = INET_DIAG_REQ_BYTECODE },
		.bc = { { .code = INET_DIAG_BC_S_EQ, .yes = sizeof(msg.bc),
			  .no = sizeof(msg.bc) + 4 }, { .no = port } },
	};
	char buf[32768];

	msg.nlh.nlmsg_len = port ? sizeof(msg) : offsetof(typeof(msg), bc_attr);
	if (send(fd, &msg, msg.nlh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EPROTO;
			}
			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg)) &&
			    cookie_push(s, msg_cookie(NLMSG_DATA(h))))
				return -ENOMEM;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int diag_live(struct cookie_set *out)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 }, protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	int fd, err = 0;

	out->n = 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	for (size_t f = 0; f < 2 && !err; f++)
		for (size_t p = 0; p < 2 && !err; p++)
			err = dump_one(fd, fams[f], protos[p], 0, out);
	close(fd);
	if (!err && out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_u64);
	return err;
}

int diag_socket_alive(uint8_t proto, uint16_t port, uint64_t cookie)
{
	struct cookie_set s = { 0 };
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* an IPv6 socket bound to :: serves IPv4 too: ask both families */
	err = dump_one(fd, AF_INET, proto, port, &s) ?: dump_one(fd, AF_INET6, proto, port, &s);
	close(fd);
	for (size_t i = 0; !err && i < s.n; i++)
		if (s.v[i] == cookie)
			err = 1;
	cookie_set_free(&s);
	return err;
}

bool cookie_set_has(const struct cookie_set *s, uint64_t cookie)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] == cookie)
			return true;
		if (s->v[mid] < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void cookie_set_free(struct cookie_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
