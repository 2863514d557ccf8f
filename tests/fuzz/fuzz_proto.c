// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer harness: the agent channel's decoder takes any datagram. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dyperd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dyper_hdr h;
	const void *p;
	char buf[DYPER_MSG_MAX];

	if (dyper_msg_decode(data, size, &h, &p))
		return 0;
	/* a decoded message is exactly one of ours: re-encoding gives it back */
	if (dyper_msg_encode(buf, sizeof(buf), h.type, h.flags, h.id, p, h.len) != (int)size ||
	    memcmp(buf, data, size))
		__builtin_trap();
	if (h.type == DYPER_MSG_OPEN || h.type == DYPER_MSG_CLOSE) {
		struct dyper_pinhole_req req;

		memcpy(&req, p, sizeof(req));
		dyper_req_validate(&req);
	}
	return 0;
}
