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
 * on its own, so the answers are checked line by line, and after any
 * failure the device loop reads the ACLs back.  IOS does not keep
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

/* The names IOS shows instead of some port numbers. */
static const struct { const char *name; uint16_t port; } ios_ports[] = {
	{ "ftp-data", 20 }, { "ftp", 21 }, { "telnet", 23 }, { "smtp", 25 }, { "domain", 53 },
	{ "www", 80 }, { "pop3", 110 }, { "sunrpc", 111 }, { "ident", 113 }, { "nntp", 119 },
	{ "ntp", 123 }, { "snmp", 161 }, { "bgp", 179 }, { "ldap", 389 }, { "https", 443 },
	{ "syslog", 514 },
};

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	for (size_t i = 0; i < sizeof(ios_ports) / sizeof(ios_ports[0]); i++)
		if (!strcmp(s, ios_ports[i].name)) {
			*port = ios_ports[i].port;
			return 0;
		}
	if (device_number(s, 65535, &v) || !v)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* One op's line, from the pinhole's validated fields only. */
static int op_line(struct device_lines *l, const struct device_op *op)
{
	char r[64], a[64], rport[16] = "";
	bool v6 = op->ph->family == AF_INET6;

	if (op->type == PINHOLE_DEL)
		return device_lines_add(l, v6 ? "no sequence %u" : "no %u", op->id);
	device_addr(op->ph, true, r, sizeof(r));
	device_addr(op->ph, false, a, sizeof(a));
	if (op->ph->remote_port)
		snprintf(rport, sizeof(rport), " eq %u", op->ph->remote_port);
	return device_lines_add(l, "%s%u permit %s host %s%s host %s eq %u",
				v6 ? "sequence " : "", op->id, device_proto(op->ph), r, rport, a,
				op->ph->local_port);
}

static int ios_apply(struct device *d, struct device_op *ops, size_t n)
{
	const struct remote_device_config *c = device_config(d);
	struct device_lines l = { 0 };
	const char *const *p;
	int *line = calloc(n, sizeof(*line)), *res = NULL, err;

	if (!line)
		return -ENOMEM;
	err = device_lines_add(&l, "configure terminal");
	for (int f = 0; f < 2 && err >= 0; f++) {
		uint8_t fam = f ? AF_INET6 : AF_INET;
		bool any = false;

		for (size_t i = 0; i < n && err >= 0; i++) {
			if (ops[i].ph->family != fam)
				continue;
			if (!any) {
				err = f ? device_lines_add(&l, "ipv6 access-list %s", c->acl6)
					: device_lines_add(&l, "ip access-list extended %s", c->acl);
				any = true;
			}
			if (err >= 0)
				err = line[i] = op_line(&l, &ops[i]);
		}
		if (any && err >= 0)
			err = device_lines_add(&l, "exit");
	}
	if (err >= 0)
		err = device_lines_add(&l, "end");
	if (err < 0)
		goto out;
	res = calloc(l.n, sizeof(*res));
	p = device_lines_ptrs(&l);
	if (!res || !p) {
		err = -ENOMEM;
		goto out;
	}
	err = cli_run(device_cli(d), p, l.n, res, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		ops[i].res = res[line[i]];
	/* still in config mode after a bad line? "end" was answered: no */
out:
	free(res);
	free(line);
	device_lines_free(&l);
	return err < 0 ? err : 0;
}

/*
 * An entry's words after its sequence number (v4) or without "sequence S"
 * (v6): "permit tcp host R [eq P] host L eq P" is ours, anything else is
 * the site's.  "(N matches)" was taken off by the caller.
 */
static void parse_rule(char **t, size_t nt, struct device_entry *e)
{
	size_t i = 2;

	if (nt && !strcmp(t[0], "deny"))
		e->deny = true;
	if (nt < 7 || strcmp(t[0], "permit"))
		return;
	if (!strcmp(t[1], "tcp"))
		e->ph.proto = IPPROTO_TCP;
	else if (!strcmp(t[1], "udp"))
		e->ph.proto = IPPROTO_UDP;
	else
		return;
	if (strcmp(t[i++], "host") || device_parse_addr(e->ph.family, t[i++], &e->ph.remote))
		return;
	if (i + 1 < nt && !strcmp(t[i], "eq")) {
		if (parse_port(t[i + 1], &e->ph.remote_port))
			return;
		i += 2;
	}
	if (i + 4 != nt || strcmp(t[i], "host") ||
	    device_parse_addr(e->ph.family, t[i + 1], &e->ph.local) || strcmp(t[i + 2], "eq") ||
	    parse_port(t[i + 3], &e->ph.local_port))
		return;
	e->ours = true;
}

/* Takes "(N matches)" / "(1 match)" off the end: the count, or 0. */
static size_t take_matches(char **t, size_t nt, uint64_t *packets)
{
	for (size_t i = 0; i + 1 < nt; i++) {
		uint64_t v;
		size_t len = strlen(t[i]);

		if (t[i][0] != '(' || len < 2 || (strcmp(t[i + 1], "matches)") &&
						  strcmp(t[i + 1], "match)")))
			continue;
		if (!device_number(t[i] + 1, UINT64_MAX, &v))
			*packets = v;
		/* remove the two words */
		memmove(&t[i], &t[i + 2], (nt - i - 2) * sizeof(*t));
		return nt - 2;
	}
	return nt;
}

static int learn_family(struct device *d, struct device_view *view, int f)
{
	const struct remote_device_config *c = device_config(d);
	char cmd[96], header[96], empty[1] = "", *save = NULL;
	struct cli_answer *a;
	int err;

	snprintf(cmd, sizeof(cmd), f ? "show ipv6 access-list %s" : "show ip access-lists %s",
		 f ? c->acl6 : c->acl);
	snprintf(header, sizeof(header), f ? "IPv6 access list %s" : "Extended IP access list %s",
		 f ? c->acl6 : c->acl);
	err = cli_run1(device_cli(d), cmd, &a);
	if (err)
		return err;
	for (char *ln = strtok_r(a->text ? a->text : empty, "\n", &save); ln;
	     ln = strtok_r(NULL, "\n", &save)) {
		struct device_entry e = { .ph.family = f ? AF_INET6 : AF_INET };
		char *t[24];
		size_t nt;
		uint64_t seq;

		if (!strncmp(ln, header, strlen(header)) &&
		    (ln[strlen(header)] == 0 || ln[strlen(header)] == ' ')) {
			view->found[f] = true;
			continue;
		}
		nt = device_split(ln, t, 24);
		nt = take_matches(t, nt, &e.packets);
		if (!f) {
			if (nt < 2 || device_number(t[0], UINT32_MAX, &seq))
				continue;	/* a remark or an unknown line */
			e.id = (uint32_t)seq;
			parse_rule(t + 1, nt - 1, &e);
		} else {
			if (nt < 3 || strcmp(t[nt - 2], "sequence") ||
			    device_number(t[nt - 1], UINT32_MAX, &seq))
				continue;
			e.id = (uint32_t)seq;
			parse_rule(t, nt - 2, &e);
		}
		err = device_view_add(view, &e);
		if (err)
			return err;
	}
	return 0;
}

static int ios_learn(struct device *d, struct device_view *view)
{
	return learn_family(d, view, 0) ?: learn_family(d, view, 1);
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
