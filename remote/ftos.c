// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/ftos — Force10 FTOS as a device dialect (remote/device.h), a
 * Cisco-style command line (remote/cisco.c).  A pinhole is one entry, by
 * sequence number, with a counter, of a named ACL the site configured and
 * bound, ending with its own deny:
 *
 *   ip access-list extended ACL          ipv6 access-list ACL6
 *    seq SEQ permit tcp host R host L eq P count
 *    no seq SEQ
 *
 * FTOS keeps the sequence numbers in its configuration (they survive a
 * reload).  Packet counts come from "show ip accounting access-list ACL"
 * ("(N packets)").
 */

#include "remote/device.h"

static const char *const ftos_setup[] = { "terminal length 0", NULL };
static const char *const ftos_errors[] = { "% Error", "% Invalid", "% Incomplete", NULL };

static const struct cli_dialect ftos_cli = {
	.name = "ftos",
	.setup = ftos_setup,
	.errors = ftos_errors,
	.keepalive = "show clock",
};

static const struct cisco_syntax ftos_syntax = {
	.configure = "configure",
	.acl4 = "ip access-list extended",
	.acl6 = "ipv6 access-list",
	.seq4 = "seq ",
	.seq6 = "seq ",
	.suffix = " count",
	.show4 = "show ip accounting access-list",
	.show6 = "show ipv6 accounting access-list",
	.header4 = "Extended Ingress IP access list",
	.header6 = "Ingress IPv6 access list",
	.lead4 = "seq",			/* " seq 10 permit ... count (N packets)" */
	.lead6 = "seq",
};

static int ftos_apply(struct device *d, struct device_op *ops, size_t n)
{
	return cisco_apply(d, &ftos_syntax, ops, n);
}

static int ftos_learn(struct device *d, struct device_view *view)
{
	return cisco_learn(d, &ftos_syntax, view);
}

static int ftos_save(struct device *d)
{
	return cli_run1(device_cli(d), "write memory", NULL);
}

const struct device_dialect device_ftos = {
	.type = "ftos",
	.batch_default = 1000,
	.cli = &ftos_cli,
	.ids_below_deny = true,
	.apply = ftos_apply,
	.learn = ftos_learn,
	.save = ftos_save,
};
