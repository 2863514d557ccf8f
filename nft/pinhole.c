// SPDX-License-Identifier: GPL-2.0-or-later
/* Pinholes as nftables set elements: keys, owner comments, validation. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "nft/enforcer.h"
#include "nft/internal.h"

/*
 * Key layout: every field of a concatenation takes a whole number of
 * 32-bit registers, so l4proto (1 byte) and ports (2 bytes) are padded to
 * 4 with zeroes; addresses and ports are in network byte order.
 */
static size_t put(uint8_t *key, size_t off, const void *v, size_t len)
{
	memcpy(key + off, v, len);
	return off + NFT_FIELD_LEN(len);
}

static size_t addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

const char *pinhole_set_name(uint8_t family, bool any_port)
{
	if (family == AF_INET)
		return any_port ? NFT_SET_PH4_ANY : NFT_SET_PH4;
	return any_port ? NFT_SET_PH6_ANY : NFT_SET_PH6;
}

size_t pinhole_key_len(uint8_t family, bool any_port)
{
	size_t a = NFT_FIELD_LEN(addr_len(family));

	return 2 * a + 4 /* l4proto */ + 4 /* dport */ + (any_port ? 0 : 4);
}

size_t pinhole_key(const struct pinhole *ph, uint8_t key[64], const char **set)
{
	bool any = ph->remote_port == 0;
	size_t alen = addr_len(ph->family), off = 0;
	uint16_t rport = htons(ph->remote_port), lport = htons(ph->local_port);

	memset(key, 0, 64);
	off = put(key, off, ph->remote.raw, alen);
	off = put(key, off, &ph->proto, 1);
	if (!any)
		off = put(key, off, &rport, 2);
	off = put(key, off, ph->local.raw, alen);
	off = put(key, off, &lport, 2);
	if (set)
		*set = pinhole_set_name(ph->family, any);
	return off;
}

int pinhole_from_key(const char *set, const uint8_t *key, size_t len,
		     struct pinhole *ph)
{
	static const struct { const char *name; uint8_t family; bool any; } sets[] = {
		{ NFT_SET_PH4, AF_INET, false }, { NFT_SET_PH4_ANY, AF_INET, true },
		{ NFT_SET_PH6, AF_INET6, false }, { NFT_SET_PH6_ANY, AF_INET6, true },
	};
	size_t i, alen, off = 0;
	uint16_t port;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (!strcmp(set, sets[i].name))
			break;
	if (i == sizeof(sets) / sizeof(sets[0]))
		return -EINVAL;
	if (len != pinhole_key_len(sets[i].family, sets[i].any))
		return -EINVAL;

	memset(ph, 0, sizeof(*ph));
	ph->family = sets[i].family;
	alen = addr_len(ph->family);
	memcpy(ph->remote.raw, key + off, alen);
	off += NFT_FIELD_LEN(alen);
	ph->proto = key[off];
	off += 4;
	if (!sets[i].any) {
		memcpy(&port, key + off, 2);
		ph->remote_port = ntohs(port);
		off += 4;
	}
	memcpy(ph->local.raw, key + off, alen);
	off += NFT_FIELD_LEN(alen);
	memcpy(&port, key + off, 2);
	ph->local_port = ntohs(port);
	return pinhole_validate(ph);
}

static bool addr_unspecified(const struct pinhole *ph)
{
	static const uint8_t zero[16];

	return !memcmp(ph->local.raw, zero, addr_len(ph->family));
}

/* A delegate names a host or an account: kept to characters that need no
 * quoting in a comment, a log line or the request grammar. */
static bool delegate_ok(const char *d)
{
	size_t n = strnlen(d, PINHOLE_DELEGATE_LEN);

	if (n == 0 || n == PINHOLE_DELEGATE_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
		      (d[i] >= '0' && d[i] <= '9') || strchr("._-@", d[i])))
			return false;
	return true;
}

/* A delegate's pinhole carries no process: fields the comment would drop
 * are refused rather than lost. */
static bool owner_ok(const struct pinhole_owner *o)
{
	if (!memchr(o->program, '\0', sizeof(o->program)))
		return false;
	if (!o->delegate[0])
		return true;
	return delegate_ok(o->delegate) && !o->uid && !o->pid && !o->sock_ino &&
	       !o->sock_cookie && !o->program[0];
}

int pinhole_validate(const struct pinhole *ph)
{
	if (ph->family != AF_INET && ph->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (ph->proto != IPPROTO_TCP && ph->proto != IPPROTO_UDP)
		return -EPROTONOSUPPORT;
	if (ph->local_port == 0 || addr_unspecified(ph))
		return -EINVAL;
	if (!owner_ok(&ph->owner))
		return -EINVAL;
	return 0;
}

bool pinhole_same_key(const struct pinhole *a, const struct pinhole *b)
{
	size_t alen;

	if (a->family != b->family || a->proto != b->proto ||
	    a->remote_port != b->remote_port || a->local_port != b->local_port)
		return false;
	alen = addr_len(a->family);
	return !memcmp(a->remote.raw, b->remote.raw, alen) &&
	       !memcmp(a->local.raw, b->local.raw, alen);
}

void pinhole_format(const struct pinhole *ph, char *buf, size_t len)
{
	char r[INET6_ADDRSTRLEN] = "?", l[INET6_ADDRSTRLEN] = "?", rp[8] = "*";
	const char *proto = ph->proto == IPPROTO_TCP ? "tcp" :
			    ph->proto == IPPROTO_UDP ? "udp" : "proto?";
	bool v6 = ph->family == AF_INET6;

	if (ph->family == AF_INET || v6) {
		inet_ntop(ph->family, ph->remote.raw, r, sizeof(r));
		inet_ntop(ph->family, ph->local.raw, l, sizeof(l));
	}
	if (ph->remote_port)
		snprintf(rp, sizeof(rp), "%u", ph->remote_port);
	snprintf(buf, len, v6 ? "%s [%s]:%s -> [%s]:%u" : "%s %s:%s -> %s:%u",
		 proto, r, rp, l, ph->local_port);
}

int pinhole_owner_format(const struct pinhole_owner *o, char *buf, size_t len)
{
	char prog[PINHOLE_PROGRAM_LEN];
	size_t i;
	int n;

	if (o->delegate[0]) {
		if (!owner_ok(o))
			return -EINVAL;
		n = snprintf(buf, len, "dlg %s t %" PRIu64, o->delegate, o->created);
		return n < 0 || (size_t)n >= len ? -ENOSPC : n;
	}
	/* The comment is shown by `nft list`: keep it printable. */
	for (i = 0; i < sizeof(prog) - 1 && o->program[i]; i++)
		prog[i] = (o->program[i] > 0x20 && o->program[i] < 0x7f) ? o->program[i] : '_';
	prog[i] = '\0';
	n = snprintf(buf, len, "uid %" PRIu32 " pid %" PRIu32 " ino %" PRIu64 " ck %" PRIu64
		     " t %" PRIu64 " %s", o->uid, o->pid, o->sock_ino, o->sock_cookie,
		     o->created, prog[0] ? prog : "-");
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* "dlg NAME t CREATED" in @buf, exactly: single spaces, nothing after. */
static int parse_delegate(const char *buf, struct pinhole_owner *o)
{
	const char *name = buf + 4, *sp = strchr(name, ' '), *num;
	char dlg[PINHOLE_DELEGATE_LEN];
	unsigned long long t;
	char *end;

	if (!sp || (size_t)(sp - name) >= sizeof(dlg) || strncmp(sp, " t ", 3))
		return -EINVAL;
	memcpy(dlg, name, (size_t)(sp - name));
	dlg[sp - name] = '\0';
	num = sp + 3;
	if (!delegate_ok(dlg) || *num < '0' || *num > '9')
		return -EINVAL;
	errno = 0;
	t = strtoull(num, &end, 10);
	if (errno || *end)
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	memcpy(o->delegate, dlg, strlen(dlg) + 1);
	o->created = t;
	return 0;
}

int pinhole_owner_parse(const char *s, size_t len, struct pinhole_owner *o)
{
	char buf[NFT_COMMENT_MAX + 1];
	uint32_t uid, pid;
	uint64_t ino, ck, t;
	int n = -1;
	size_t plen;

	if (len > NFT_COMMENT_MAX)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!strncmp(buf, "dlg ", 4))
		return parse_delegate(buf, o);
	if (sscanf(buf, "uid %" SCNu32 " pid %" SCNu32 " ino %" SCNu64 " ck %" SCNu64
		   " t %" SCNu64 " %n", &uid, &pid, &ino, &ck, &t, &n) != 5 || n < 0)
		return -EINVAL;
	plen = strlen(buf + n);
	if (plen == 0 || plen >= PINHOLE_PROGRAM_LEN || strchr(buf + n, ' '))
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	o->uid = uid;
	o->pid = pid;
	o->sock_ino = ino;
	o->sock_cookie = ck;
	o->created = t;
	if (strcmp(buf + n, "-"))
		memcpy(o->program, buf + n, plen);
	return 0;
}
