// SPDX-License-Identifier: GPL-2.0-or-later
/* Verify a pinhole request against the socket the requester passed. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <linux/sockios.h>

#include "dyperd/verify.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif

static int getint(int fd, int level, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	return getsockopt(fd, level, opt, v, &len) ? -errno : 0;
}

static int netns_cookie(int fd, struct netns_id *ns)
{
	socklen_t len = sizeof(ns->cookie);

	return getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &ns->cookie, &len) ? -errno : 0;
}

int verify_netns_inode(int fd, struct netns_id *ns)
{
	struct stat st;
	int nsfd = ioctl(fd, SIOCGSKNS), err = 0;

	if (nsfd < 0)
		return -errno;
	if (fstat(nsfd, &st))
		err = -errno;
	close(nsfd);
	if (err)
		return err;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	return 0;
}

int verify_netns_self(struct netns_id *self)
{
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	memset(self, 0, sizeof(*self));
	if (fd < 0)
		return -errno;
	err = netns_cookie(fd, self);
	if (verify_netns_inode(fd, self) && stat("/proc/self/ns/net", &st) == 0) {
		self->dev = st.st_dev;
		self->ino = st.st_ino;
	}
	close(fd);
	return err && !self->ino ? err : 0;
}

bool verify_same_netns(const struct netns_id *a, const struct netns_id *b)
{
	if (a->cookie && b->cookie)
		return a->cookie == b->cookie;
	return a->ino && b->ino && a->dev == b->dev && a->ino == b->ino;
}

int verify_read_socket(int fd, struct sock_facts *f)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), clen = sizeof(f->cookie);
	struct stat st;
	int type, v, err;

	memset(f, 0, sizeof(*f));
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	f->ino = st.st_ino;
	f->uid = st.st_uid;
	/* every call is a syscall on dyperd's hot path: the family comes
	 * with the address */
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	f->family = ss.ss_family;
	if (f->family != AF_INET && f->family != AF_INET6)
		return -EAFNOSUPPORT;
	err = getint(fd, SOL_SOCKET, SO_PROTOCOL, &f->proto) ?:
	      getint(fd, SOL_SOCKET, SO_TYPE, &type);
	if (err)
		return err;
	if (!((f->proto == IPPROTO_TCP && type == SOCK_STREAM) ||
	      (f->proto == IPPROTO_UDP && type == SOCK_DGRAM)))
		return -EPROTONOSUPPORT;
	if (f->family == AF_INET6 && getint(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v) == 0)
		f->v6only = v;
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &f->cookie, &clen))
		return -errno;
	/* a kernel without the netns cookie: its nsfs inode; neither leaves
	 * f->netns zero, which verify_request refuses */
	if (netns_cookie(fd, &f->netns))
		verify_netns_inode(fd, &f->netns);
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		memcpy(f->addr, &sin->sin_addr, 4);
		f->port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

		memcpy(f->addr, &sin6->sin6_addr, 16);
		f->port = ntohs(sin6->sin6_port);
	}
	return 0;
}

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool v4mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pfx, 12);
}

int verify_request(const struct sock_facts *f, const struct dyper_pinhole_req *req,
		   const struct netns_id *self, char *why, size_t len)
{
	const char *bad = NULL;

	/* A socket of another network namespace (any user can make one with
	 * unshare -Urn) holds a port there, not here: a pinhole for it would
	 * open dyperd's port to whatever listens on it in dyperd's namespace. */
	if (!verify_same_netns(&f->netns, self))
		bad = f->netns.cookie || f->netns.ino ?
		      "the socket lives in another network namespace" :
		      "cannot tell which network namespace the socket lives in";
	else if (f->proto != req->proto)
		bad = "the socket's protocol differs from the request's";
	else if (f->port == 0)
		bad = "the socket is not bound to a port";
	else if (f->port != req->local_port)
		bad = "the socket is bound to another port";
	else if (f->family == AF_INET) {
		if (req->family != AF_INET)
			bad = "an IPv4 socket cannot receive IPv6";
		else if (!zero(f->addr, 4) && memcmp(f->addr, req->local, 4))
			bad = "the socket is bound to another address";
	} else if (v4mapped(f->addr)) {
		if (req->family != AF_INET || memcmp(f->addr + 12, req->local, 4))
			bad = "the socket is bound to another (v4-mapped) address";
	} else if (zero(f->addr, 16)) {
		/* bound to ::, it receives IPv4 too unless IPV6_V6ONLY */
		if (req->family == AF_INET && f->v6only)
			bad = "the socket is IPv6-only";
	} else if (req->family != AF_INET6 || memcmp(f->addr, req->local, 16)) {
		bad = "the socket is bound to another address";
	}
	if (bad) {
		snprintf(why, len, "%s", bad);
		return -EPERM;
	}
	return 0;
}
