/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel's view of sockets (sock_diag): which sockets exist, and which
 * were just destroyed.  Sockets are named by their cookie (SO_COOKIE): the
 * destroy notifications carry it, while their inode is already 0.
 */
#ifndef DYPERD_DIAG_H
#define DYPERD_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A netlink socket subscribed to TCP and UDP, IPv4 and IPv6 socket
 * destruction.  Needs CAP_NET_ADMIN.  Returns the fd or -errno. */
int diag_destroy_open(void);

/* Reads every pending notification and calls @fn with each destroyed
 * socket's cookie.  -ENOBUFS when notifications were lost: the caller
 * must then compare against diag_live() instead. */
int diag_destroy_read(int fd, void (*fn)(uint64_t cookie, void *arg), void *arg);

/* The cookies of all TCP and UDP sockets in this network namespace, sorted. */
struct cookie_set {
	uint64_t *v;
	size_t n, cap;
};
int diag_live(struct cookie_set *out);
/* 1 if the socket with @cookie is still bound to @port (TCP or UDP
 * @proto) in this network namespace, 0 if not (closed: its destroy
 * notification may still be on its way), or -errno.  Cheap: the kernel
 * filters by port. */
int diag_socket_alive(uint8_t proto, uint16_t port, uint64_t cookie);
bool cookie_set_has(const struct cookie_set *s, uint64_t cookie);
void cookie_set_free(struct cookie_set *s);

#endif
