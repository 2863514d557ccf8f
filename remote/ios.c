// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/ios — Cisco IOS as a device dialect (remote/device.h).  A pinhole
 * is one entry, by sequence number, of a named ACL the site configured and
 * bound, ending with its own deny:
 *
 *   ip access-list extended ACL         ipv6 access-list ACL6
 *    SEQ permit tcp host R host L eq P   sequence SEQ permit tcp host R host L eq P
 *    no SEQ                              no sequence SEQ
 *
 * IOS has no transaction: each line is applied as it is read and answered
 * on its own (remote/cisco.c), and after any failure the device loop
 * reads the ACLs back.  IOS does not keep
 * sequence numbers across a reload (it renumbers 10, 20, ...): the
 * session ends then, and the driver learns them again on reconnect; when
 * the numbers below the deny run out, "ip access-list resequence" spreads
 * the ACL out again (remote/device.c, make_room).
 * Packet counts come from "show ip access-lists ACL" ("(N matches)").
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/device.h"

static const char *const ios_setup[] = { "terminal length 0", "terminal width 512", NULL };
static const char *const ios_errors[] = {
	"% Invalid input detected", "% Incomplete command", "% Ambiguous command",
	"% Duplicate sequence number", "% Unknown command", "% Error", "% Access list",
	"%Error", NULL,
};

static const struct cli_dialect ios_cli = {
	.name = "ios",
	.setup = ios_setup,
	.errors = ios_errors,
	.keepalive = "show clock",
};

static const struct cisco_syntax ios_syntax = {
	.configure = "configure terminal",
	.acl4 = "ip access-list extended",
	.acl6 = "ipv6 access-list",
	.seq4 = "",
	.seq6 = "sequence ",
	.suffix = "",
	.show4 = "show ip access-lists",
	.show6 = "show ipv6 access-list",
	.header4 = "Extended IP access list",
	.header6 = "IPv6 access list",
	.lead4 = "",			/* "10 permit ..." */
	.lead6 = NULL,			/* "permit ... sequence 10" */
};

static int ios_apply(struct device *d, struct device_op *ops, size_t n)
{
	return cisco_apply(d, &ios_syntax, ops, n);
}

static int ios_learn(struct device *d, struct device_view *view)
{
	return cisco_learn(d, &ios_syntax, view);
}

static int ios_resequence(struct device *d, int f, uint32_t first, uint32_t step)
{
	const struct remote_device_config *c = device_config(d);
	char line[96];
	const char *lines[] = { "configure terminal", line, "end" };
	size_t failed;
	int err;

	snprintf(line, sizeof(line), f ? "ipv6 access-list resequence %s %u %u"
				       : "ip access-list resequence %s %u %u",
		 f ? c->acl6 : c->acl, first, step);
	err = cli_run(device_cli(d), lines, 3, NULL, &failed, NULL);
	return err ? err : failed ? -EREMOTEIO : 0;
}

static int ios_save(struct device *d)
{
	return cli_run1(device_cli(d), "write memory", NULL);
}

const struct device_dialect device_ios = {
	.type = "ios",
	.batch_default = 300,
	.cli = &ios_cli,
	.ids_below_deny = true,
	.apply = ios_apply,
	.learn = ios_learn,
	.save = ios_save,
	.resequence = ios_resequence,
};
