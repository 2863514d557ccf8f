/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Verification against kernel truth: the agent passes the socket itself
 * (SCM_RIGHTS); dyperd reads what the kernel says about it and checks that
 * the request names exactly that socket's protocol, port and address.
 */
#ifndef DYPERD_VERIFY_H
#define DYPERD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dyperd/proto.h"

/*
 * A network namespace as the kernel names it: its cookie (SO_NETNS_COOKIE,
 * Linux 5.14+), else its nsfs inode (SIOCGSKNS).  Zero: not known.
 */
struct netns_id {
	uint64_t cookie;
	uint64_t dev, ino;
};

struct sock_facts {
	int family;		/* AF_INET / AF_INET6 */
	int proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	bool v6only;
	uint8_t addr[16];	/* bound address, network order */
	uint16_t port;		/* bound port, host order; 0: not bound */
	uint64_t ino;
	uint64_t cookie;
	uint32_t uid;		/* who created the socket */
	struct netns_id netns;	/* where it lives; zero if the kernel would not say */
};

/* dyperd's own network namespace, both ways of naming it where the kernel
 * has them (SIOCGSKNS needs CAP_NET_ADMIN: call before dropping it).
 * -errno if neither can be read. */
int verify_netns_self(struct netns_id *self);

/* The network namespace of socket @fd by its nsfs inode (SIOCGSKNS):
 * what verify_read_socket falls back to without SO_NETNS_COOKIE. */
int verify_netns_inode(int fd, struct netns_id *ns);

/* True only if @a and @b are known to be the same network namespace. */
bool verify_same_netns(const struct netns_id *a, const struct netns_id *b);

/* Reads @fd's facts from the kernel.  -ENOTSOCK, -EAFNOSUPPORT (not
 * IPv4/IPv6), -EPROTONOSUPPORT (not TCP/UDP), or -errno. */
int verify_read_socket(int fd, struct sock_facts *f);

/* 0 if @req names the socket @f describes and that socket lives in
 * network namespace @self (dyperd's: the one its pinholes open); -EPERM
 * with the reason in @why. */
int verify_request(const struct sock_facts *f, const struct dyper_pinhole_req *req,
		   const struct netns_id *self, char *why, size_t len);

#endif
