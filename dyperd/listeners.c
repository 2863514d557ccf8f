// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Listening sockets from /proc/net, judged against the control ports of a
 * table configuration.  /proc/net rather than sock_diag: it needs no
 * privilege, and it is the caller's network namespace either way.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "dyperd/listeners.h"

/* include/net/tcp_states.h */
#define STATE_CLOSE		0x07
#define STATE_LISTEN		0x0a

#define SSH_PORT	22

/*
 * The kernel prints each 32-bit word of the address as the hex of its
 * in-memory value (%08X of a __be32): reading it back into a u32 and
 * storing that gives the bytes in network order on this host.
 */
static int parse_addr(const char *hex, size_t len, uint8_t *addr)
{
	char word[9];

	if (len != 8 && len != 32)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 8) {
		uint32_t v;
		char *end;

		memcpy(word, hex + i, 8);
		word[8] = '\0';
		for (int k = 0; k < 8; k++)
			if (!isxdigit((unsigned char)word[k]))
				return -EINVAL;
		v = (uint32_t)strtoul(word, &end, 16);
		memcpy(addr + i / 2, &v, 4);
	}
	return 0;
}

int listener_parse(const char *line, int family, int proto, struct listener *l)
{
	char local[40], remote[40];
	unsigned int lport, rport, state;
	uint64_t ino;
	int n;

	memset(l, 0, sizeof(*l));
	while (*line == ' ')
		line++;
	if (!strncmp(line, "sl ", 3))
		return -ENOENT;			/* the header */
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	n = sscanf(line, "%*u: %39[0-9A-Fa-f]:%4x %39[0-9A-Fa-f]:%4x %2x %*x:%*x %*x:%*x %*x "
		   "%*u %*d %" SCNu64, local, &lport, remote, &rport, &state, &ino);
	if (n != 6 || strlen(local) != (family == AF_INET ? 8u : 32u) ||
	    strlen(local) != strlen(remote))
		return -EINVAL;
	if (proto == IPPROTO_TCP ? state != STATE_LISTEN :
	    state != STATE_CLOSE || rport != 0 || lport == 0)
		return -ENOENT;
	l->family = family;
	l->proto = proto;
	l->port = (uint16_t)lport;
	l->ino = ino;
	return parse_addr(local, strlen(local), l->addr);
}

bool listener_loopback(const struct listener *l)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (l->family == AF_INET)
		return l->addr[0] == 127;
	return !memcmp(l->addr, lo6, 16) || (!memcmp(l->addr, mapped, 12) && l->addr[12] == 127);
}

bool listener_dropped(const struct listener *l, const struct nft_enforcer_config *cfg)
{
	const uint16_t *ports = l->proto == IPPROTO_TCP ? cfg->tcp_ports : cfg->udp_ports;
	size_t n = l->proto == IPPROTO_TCP ? cfg->n_tcp_ports : cfg->n_udp_ports;

	if (listener_loopback(l))
		return false;
	for (size_t i = 0; i < n; i++)
		if (ports[i] == l->port)
			return false;
	return true;
}

/* Appends the listeners of one /proc/net file; a missing file (no IPv6) adds none. */
static int read_file(const char *path, int family, int proto, struct listener **ls, size_t *n,
		     size_t *cap)
{
	char line[512];
	FILE *f = fopen(path, "re");
	int err = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		struct listener l;

		if (listener_parse(line, family, proto, &l))
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 32;
			struct listener *p = realloc(*ls, c * sizeof(*p));

			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			*ls = p;
			*cap = c;
		}
		(*ls)[(*n)++] = l;
	}
out:
	fclose(f);
	return err;
}

/* The command of process @pid into @comm. */
static void read_comm(long pid, char *comm, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f || !fgets(comm, (int)len, f))
		snprintf(comm, len, "pid %u", (unsigned)pid);
	if (f)
		fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
}

/* Names the processes holding the sockets, one pass over /proc/PID/fd. */
static void find_owners(struct listener *ls, size_t n)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;

	if (!proc)
		return;
	while ((p = readdir(proc))) {
		char path[64], link[64], comm[LISTENER_COMM_LEN] = "";
		struct dirent *fd;
		char *end;
		long pid = strtol(p->d_name, &end, 10);
		DIR *fds;

		if (pid <= 0 || pid > INT32_MAX || *end)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;		/* gone, or not ours to see */
		while ((fd = readdir(fds))) {
			ssize_t len = readlinkat(dirfd(fds), fd->d_name, link, sizeof(link) - 1);
			uint64_t ino;

			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%" SCNu64 "]", &ino) != 1)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (ls[i].ino != ino || ls[i].comm[0])
					continue;
				if (!comm[0])
					read_comm(pid, comm, sizeof(comm));
				memcpy(ls[i].comm, comm, sizeof(comm));
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

int listeners_read(struct listener **out, size_t *n)
{
	static const struct { const char *path; int family, proto; } files[] = {
		{ "/proc/net/tcp", AF_INET, IPPROTO_TCP },
		{ "/proc/net/tcp6", AF_INET6, IPPROTO_TCP },
		{ "/proc/net/udp", AF_INET, IPPROTO_UDP },
		{ "/proc/net/udp6", AF_INET6, IPPROTO_UDP },
	};
	struct listener *ls = NULL;
	size_t cap = 0;
	int err = 0;

	*n = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !err; i++)
		err = read_file(files[i].path, files[i].family, files[i].proto, &ls, n, &cap);
	if (err) {
		free(ls);
		*n = 0;
		return err;
	}
	find_owners(ls, *n);
	*out = ls;
	return 0;
}

size_t listeners_dropped(struct listener *ls, size_t n, const struct nft_enforcer_config *cfg)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j;

		if (!listener_dropped(&ls[i], cfg))
			continue;
		for (j = 0; j < kept; j++)
			if (ls[j].proto == ls[i].proto && ls[j].port == ls[i].port)
				break;
		if (j < kept) {
			/* the same service on IPv4 and IPv6: keep a known owner */
			if (!ls[j].comm[0])
				memcpy(ls[j].comm, ls[i].comm, sizeof(ls[j].comm));
			continue;
		}
		ls[kept++] = ls[i];
	}
	return kept;
}

void listener_warning(const struct listener *l, char *buf, size_t len)
{
	const bool tcp = l->proto == IPPROTO_TCP;
	const bool ssh = (tcp && l->port == SSH_PORT) || !strcmp(l->comm, "sshd");
	char addr[INET6_ADDRSTRLEN] = "?";

	inet_ntop(l->family, l->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s port %u%s%s%s is listening (on %s%s%s), but Dyper's table drops "
		 "new connections to it from other hosts%s",
		 tcp ? "tcp" : "udp", l->port, l->comm[0] ? " (" : "", l->comm,
		 l->comm[0] ? ")" : "", l->family == AF_INET6 ? "[" : "", addr,
		 l->family == AF_INET6 ? "]" : "",
		 ssh ? ": SSH LOGINS WOULD BE CUT OFF, yours too if you are logged in over SSH" : "");
}
