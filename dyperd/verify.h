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

struct sock_facts {
	int family;		/* AF_INET / AF_INET6 */
	int proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	bool v6only;
	uint8_t addr[16];	/* bound address, network order */
	uint16_t port;		/* bound port, host order; 0: not bound */
	uint64_t ino;
	uint64_t cookie;
	uint32_t uid;		/* who created the socket */
};

/* Reads @fd's facts from the kernel.  -ENOTSOCK, -EAFNOSUPPORT (not
 * IPv4/IPv6), -EPROTONOSUPPORT (not TCP/UDP), or -errno. */
int verify_read_socket(int fd, struct sock_facts *f);

/* 0 if @req names the socket @f describes; -EPERM with the reason in @why. */
int verify_request(const struct sock_facts *f, const struct dyper_pinhole_req *req,
		   char *why, size_t len);

#endif
