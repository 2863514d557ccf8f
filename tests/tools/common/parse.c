// SPDX-License-Identifier: GPL-2.0-or-later
/* The test tools' command-line parsers; see parse.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "tests/tools/common/parse.h"

#define TOOL	program_invocation_short_name

int tool_parse_u32(const char *s, uint32_t max, uint32_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || x > max || *s == '-') {
		fprintf(stderr, "%s: bad number \"%s\"\n", TOOL, s);
		return -EINVAL;
	}
	*v = (uint32_t)x;
	return 0;
}

int tool_parse_port(const char *s, uint16_t *port, bool star_ok)
{
	uint32_t v;

	if (star_ok && !strcmp(s, "*")) {
		*port = 0;
		return 0;
	}
	if (tool_parse_u32(s, 65535, &v) || !v) {
		fprintf(stderr, "%s: bad port \"%s\": expected 1-65535%s\n", TOOL, s,
			star_ok ? " or *" : "");
		return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

int tool_parse_proto(const char *s, uint8_t *proto)
{
	if (!strcmp(s, "tcp")) {
		*proto = IPPROTO_TCP;
	} else if (!strcmp(s, "udp")) {
		*proto = IPPROTO_UDP;
	} else {
		fprintf(stderr, "%s: bad protocol \"%s\": expected tcp or udp\n", TOOL, s);
		return -EINVAL;
	}
	return 0;
}

int tool_parse_addr(const char *s, uint8_t *family, union pinhole_addr *a)
{
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, s, a->raw) != 1) {
		fprintf(stderr, "%s: bad address \"%s\"\n", TOOL, s);
		return -EINVAL;
	}
	*family = (uint8_t)fam;
	return 0;
}

int tool_parse_pinhole(char *const argv[], struct pinhole *ph)
{
	uint8_t rfam, lfam;

	if (tool_parse_proto(argv[0], &ph->proto) ||
	    tool_parse_addr(argv[1], &rfam, &ph->remote) ||
	    tool_parse_port(argv[2], &ph->remote_port, true) ||
	    tool_parse_addr(argv[3], &lfam, &ph->local) ||
	    tool_parse_port(argv[4], &ph->local_port, false))
		return -EINVAL;
	if (rfam != lfam) {
		fprintf(stderr, "%s: %s and %s: not one family\n", TOOL, argv[1], argv[3]);
		return -EINVAL;
	}
	ph->family = rfam;
	return 0;
}
