/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the test tools' command lines share (tests/tools/common/: not a
 * program of its own, linked into each tool).  Each parser says what was
 * wrong on stderr, "TOOL: bad port \"x\"", and returns 0 or -EINVAL.
 */
#ifndef DYPER_TOOL_PARSE_H
#define DYPER_TOOL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "nft/enforcer.h"

/* A whole number up to @max, decimal, 0x hex or 0 octal; no sign. */
int tool_parse_u32(const char *s, uint32_t max, uint32_t *v);

/* A port 1-65535, or "*" (0: any) if @star_ok. */
int tool_parse_port(const char *s, uint16_t *port, bool star_ok);

/* "tcp" or "udp". */
int tool_parse_proto(const char *s, uint8_t *proto);

/* An IPv4 or IPv6 address; *@family says which. */
int tool_parse_addr(const char *s, uint8_t *family, union pinhole_addr *a);

/* argv[0..4]: PROTO REMOTE RPORT|* LOCAL LPORT, both addresses of one family. */
int tool_parse_pinhole(char *const argv[], struct pinhole *ph);

#endif
