/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The services listening right now, and which of them Dyper's table would
 * cut off: `dyperd --check-config` and `dyperctl doctor` warn before an
 * admin locks out the sshd they are logged in through.  Read from
 * /proc/net/{tcp,tcp6,udp,udp6} of the caller's network namespace (the one
 * a dyperd started there would filter), owners from /proc/PID/fd.
 */
#ifndef DYPERD_LISTENERS_H
#define DYPERD_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/enforcer.h"

#define LISTENER_COMM_LEN	16	/* TASK_COMM_LEN */

/* A listening TCP socket, or an unconnected UDP socket bound to a port. */
struct listener {
	int family;			/* AF_INET or AF_INET6 */
	int proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t addr[16];		/* bound address, network order (IPv4: 4 bytes) */
	uint16_t port;
	uint64_t ino;			/* the socket's inode */
	char comm[LISTENER_COMM_LEN];	/* a process holding it; "" unknown */
};

/*
 * One line of /proc/net/tcp (@family AF_INET, @proto IPPROTO_TCP), tcp6,
 * udp or udp6 into @l (comm left empty).  0 for a listening TCP socket or
 * an unconnected UDP one; -ENOENT for any other socket and for the header
 * line; -EINVAL for a line that does not parse.
 */
int listener_parse(const char *line, int family, int proto, struct listener *l);

/* True when @l is bound to a loopback address only (127/8, ::1, ::ffff:127/104). */
bool listener_loopback(const struct listener *l);

/*
 * True when a table built from @cfg drops new connections from other hosts
 * to @l: it listens beyond loopback on a port that is not one of the
 * control ports (tcp_ports, udp_ports).
 */
bool listener_dropped(const struct listener *l, const struct nft_enforcer_config *cfg);

/*
 * Every listener of the caller's network namespace, with owners where the
 * caller may see them (root: all).  *@out (free() it) gets *@n entries.
 * 0, or -errno from /proc.
 */
int listeners_read(struct listener **out, size_t *n);

/*
 * Those of @ls[@n] that @cfg's table would cut off, one per protocol and
 * port, moved to the front of @ls.  Returns how many.
 */
size_t listeners_dropped(struct listener *ls, size_t n, const struct nft_enforcer_config *cfg);

/*
 * One sentence on @l, a dropped listener, for an admin: what listens and
 * that the table would drop it (for SSH: that logins would be cut off).
 */
void listener_warning(const struct listener *l, char *buf, size_t len);

#endif
