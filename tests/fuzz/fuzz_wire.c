// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer harness: border mode's line parser takes any bytes.  What it
 * accepts must format, and the formatted line must parse back to the same
 * message and format to the same line (one canonical spelling). */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "remote/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[REMOTE_WIRE_WHY_LEN], a[REMOTE_WIRE_LINE_MAX + 1], b[REMOTE_WIRE_LINE_MAX + 1];
	struct remote_msg m, back;
	int n, n2, r;

	r = remote_wire_parse((const char *)data, size, &m, why);
	if (memchr(why, 0, sizeof(why)) == NULL)
		__builtin_trap();
	if (r) {
		if (m.type != 0 || (r != -EINVAL && r != -EMSGSIZE))
			__builtin_trap();
		return 0;
	}
	n = remote_wire_format(&m, a, sizeof(a));
	if (n <= 0 || (size_t)n > REMOTE_WIRE_LINE_MAX || a[n - 1] != '\n')
		__builtin_trap();
	if (remote_wire_parse(a, (size_t)n - 1, &back, NULL) || memcmp(&m, &back, sizeof(m)))
		__builtin_trap();
	n2 = remote_wire_format(&back, b, sizeof(b));
	if (n2 != n || memcmp(a, b, (size_t)n))
		__builtin_trap();
	return 0;
}
