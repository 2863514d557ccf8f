// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/ironware — Foundry/Brocade IronWare (NetIron, MLX) as a device
 * dialect (remote/device.h), a Cisco-style command line (remote/cisco.c).
 * A pinhole is one entry, by a sequence number the driver gives, of a named
 * ACL the site configured and bound, ending with its own deny:
 *
 *   ip access-list extended ACL          ipv6 access-list ACL6
 *    sequence SEQ permit tcp host R host L eq P
 *    no sequence SEQ
 *   ip rebind-acl ACL                    ipv6 rebind-acl ACL6
 *
 * On NetIron a change to a bound ACL reaches the hardware (the CAM) only
 * with "ip rebind-acl": it ends every batch, in the same run, and an op
 * counts as applied only once that line is answered cleanly (remote/cisco.c).
 * When it is not (refused, or the session broke first), the session is
 * closed and the reconnect's recover rebinds both ACLs before the driver
 * learns anything: what the device lists is then what its hardware does.
 *
 * A user-given sequence number is kept in the configuration (listed as
 * "N: sequence N permit ..."), so the identities survive a reload.  ACL
 * accounting (global "enable-acl-counter" on NetIron XMR/MLX) is the
 * site's configuration; the counts come from "show access-list accounting"
 * ("Hit count: ... (accum) N" after each entry).
 */

#include <errno.h>
#include <stdio.h>

#include "remote/device.h"

static const char *const ironware_setup[] = { "skip-page-display", NULL };
static const char *const ironware_errors[] = {
	"Invalid input", "Error", "Incomplete command", "Type ? for a list", NULL,
};

static const struct cli_dialect ironware_cli = {
	.name = "ironware",
	.setup = ironware_setup,
	.errors = ironware_errors,
	.keepalive = "show clock",
};

static const struct cisco_syntax ironware_syntax = {
	.configure = "configure terminal",
	.acl4 = "ip access-list extended",
	.acl6 = "ipv6 access-list",
	.seq4 = "sequence ",
	.seq6 = "sequence ",
	.suffix = "",
	.show4 = "show access-list accounting name",
	.show6 = "show ipv6 access-list accounting name",
	.header4 = "Extended IP access list",
	.header6 = "IPv6 access list",
	.lead4 = "",
	.lead6 = "",
	.colon = true,
	.hits = true,
	.rebind4 = "ip rebind-acl",
	.rebind6 = "ipv6 rebind-acl",
};

static int ironware_apply(struct device *d, struct device_op *ops, size_t n)
{
	return cisco_apply(d, &ironware_syntax, ops, n);
}

static int ironware_learn(struct device *d, struct device_view *view)
{
	return cisco_learn(d, &ironware_syntax, view);
}

/*
 * After a reconnect: a batch cut short may have left lines in the
 * configuration that the hardware does not have yet.  Rebinding both ACLs
 * is harmless when nothing is pending.  On failure the session is closed,
 * so that the next attempt reconnects and recovers again.
 */
static int ironware_recover(struct device *d)
{
	const struct remote_device_config *c = device_config(d);
	char l4[96], l6[96];
	const char *lines[] = { "configure terminal", l4, l6, "end" };
	size_t failed;
	int err;

	snprintf(l4, sizeof(l4), "%s %s", ironware_syntax.rebind4, c->acl);
	snprintf(l6, sizeof(l6), "%s %s", ironware_syntax.rebind6, c->acl6);
	err = cli_run(device_cli(d), lines, 4, NULL, &failed, NULL);
	if (!err && failed)
		err = -EREMOTEIO;
	if (err)
		cli_close(device_cli(d));
	return err;
}

static int ironware_save(struct device *d)
{
	return cli_run1(device_cli(d), "write memory", NULL);
}

const struct device_dialect device_ironware = {
	.type = "ironware",
	.batch_default = 5000,
	.cli = &ironware_cli,
	.ids_below_deny = true,
	.apply = ironware_apply,
	.learn = ironware_learn,
	.recover = ironware_recover,
	.save = ironware_save,
};
