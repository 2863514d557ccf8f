// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/cisco — what the Cisco-style command lines share (IOS, FTOS, IronWare):
 * a named ACL entered from configuration mode, entries by sequence number,
 * the ACL listed with one entry a line and its match count.  The dialects
 * (remote/ios.c, remote/ftos.c, remote/ironware.c) give their words in a
 * struct cisco_syntax.
 *
 * No transaction: each line takes effect as it is read and is answered on
 * its own, so each op's result is its line's answer; after any failure
 * remote/device.c reads the ACL back and reconciles.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/device.h"

/* The names Cisco-style listings show instead of some port numbers. */
static const struct { const char *name; uint16_t port; } port_names[] = {
	{ "ftp-data", 20 }, { "ftp", 21 }, { "telnet", 23 }, { "smtp", 25 }, { "domain", 53 },
	{ "www", 80 }, { "http", 80 }, { "pop3", 110 }, { "sunrpc", 111 }, { "ident", 113 }, { "nntp", 119 },
	{ "ntp", 123 }, { "snmp", 161 }, { "bgp", 179 }, { "ldap", 389 }, { "https", 443 },
	{ "syslog", 514 },
};

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	for (size_t i = 0; i < sizeof(port_names) / sizeof(port_names[0]); i++)
		if (!strcmp(s, port_names[i].name)) {
			*port = port_names[i].port;
			return 0;
		}
	if (device_number(s, 65535, &v) || !v)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* One op's line, from the pinhole's validated fields only. */
static int op_line(const struct cisco_syntax *k, struct device_lines *l,
		   const struct device_op *op)
{
	char r[64], a[64], rport[16] = "", seq[32];
	bool v6 = op->ph->family == AF_INET6;

	if (op->type == PINHOLE_DEL)
		return device_lines_add(l, "no %s%u", v6 ? k->seq6 : k->seq4, op->id);
	device_addr(op->ph, true, r, sizeof(r));
	device_addr(op->ph, false, a, sizeof(a));
	if (op->ph->remote_port)
		snprintf(rport, sizeof(rport), " eq %u", op->ph->remote_port);
	snprintf(seq, sizeof(seq), "%s%u", v6 ? k->seq6 : k->seq4, op->id);
	return device_lines_add(l, "%s permit %s host %s%s host %s eq %u%s", seq,
				device_proto(op->ph), r, rport, a, op->ph->local_port, k->suffix);
}

int cisco_apply(struct device *d, const struct cisco_syntax *k, struct device_op *ops, size_t n)
{
	const struct remote_device_config *c = device_config(d);
	struct device_lines l = { 0 };
	int *line = calloc(n, sizeof(*line)), *res = NULL, err;
	int rebind[2] = { -1, -1 };	/* each family's rebind line */

	if (!line)
		return -ENOMEM;
	err = device_lines_add(&l, "%s", k->configure);
	for (int f = 0; f < 2 && err >= 0; f++) {
		uint8_t fam = f ? AF_INET6 : AF_INET;
		const char *rb = f ? k->rebind6 : k->rebind4;
		bool any = false;

		for (size_t i = 0; i < n && err >= 0; i++) {
			if (ops[i].ph->family != fam)
				continue;
			if (!any) {
				err = device_lines_add(&l, "%s %s", f ? k->acl6 : k->acl4,
						       f ? c->acl6 : c->acl);
				any = true;
			}
			if (err >= 0)
				err = line[i] = op_line(k, &l, &ops[i]);
		}
		if (any && err >= 0)
			err = device_lines_add(&l, "exit");
		if (any && rb && err >= 0)
			err = rebind[f] = device_lines_add(&l, "%s %s", rb, f ? c->acl6 : c->acl);
	}
	/* whatever failed before, "end" leaves configuration mode */
	if (err >= 0)
		err = device_lines_add(&l, "end");
	if (err < 0)
		goto out;
	err = device_lines_run(d, &l, &res);
	for (size_t i = 0; res && err != -ENOMEM && i < n; i++) {
		int f = ops[i].ph->family == AF_INET6;

		ops[i].res = res[line[i]];
		/* in the configuration but maybe not in the hardware: unknown */
		if (rebind[f] >= 0 && res[rebind[f]] && !ops[i].res)
			ops[i].res = -EINPROGRESS;
	}
	/* the reconnect's recover rebinds before anything else is done */
	for (int f = 0; f < 2 && res && err != -ENOMEM; f++)
		if (rebind[f] >= 0 && res[rebind[f]] && cli_is_open(device_cli(d))) {
			cli_close(device_cli(d));
			err = err ? err : -EREMOTEIO;
		}
out:
	free(res);
	free(line);
	device_lines_free(&l);
	return err < 0 ? err : 0;
}

/*
 * An entry's rule words: "permit tcp host R [eq P] host L eq P" (then the
 * dialect's suffix words, e.g. "count") is ours, anything else the site's.
 */
static void parse_rule(const struct cisco_syntax *k, char **t, size_t nt,
		       struct device_entry *e)
{
	size_t i = 2, sfx = k->suffix[0] ? 1 : 0;

	if (nt && !strcmp(t[0], "deny"))
		e->deny = true;
	if (sfx) {
		if (!nt || strcmp(t[nt - 1], k->suffix + 1))
			return;
		nt--;
	}
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

/* Takes the count ("(N matches)", "(1 match)", "(N packets)") off: the
 * words left. */
static size_t take_count(char **t, size_t nt, uint64_t *packets)
{
	for (size_t i = 0; i + 1 < nt; i++) {
		uint64_t v;

		if (t[i][0] != '(' || !t[i][1] || (strcmp(t[i + 1], "matches)") &&
						  strcmp(t[i + 1], "match)") &&
						  strcmp(t[i + 1], "packets)")))
			continue;
		if (!device_number(t[i] + 1, UINT64_MAX, &v))
			*packets = v;
		memmove(&t[i], &t[i + 2], (nt - i - 2) * sizeof(*t));
		return nt - 2;
	}
	return nt;
}

/* "Hit count: (1 sec) N (1 min) N (5 min) N (accum) N": true, *@packets
 * the accumulated count (the others are rates over a window). */
static bool take_hits(char **t, size_t nt, uint64_t *packets)
{
	uint64_t v;

	if (nt < 4 || strcmp(t[0], "Hit") || strcmp(t[1], "count:"))
		return false;
	for (size_t i = 2; i + 1 < nt; i++)
		if (!strcmp(t[i], "(accum)") && !device_number(t[i + 1], UINT64_MAX, &v))
			*packets = v;
	return true;
}

static int learn_family(struct device *d, const struct cisco_syntax *k,
			struct device_view *view, int f)
{
	const struct remote_device_config *c = device_config(d);
	const char *lead = f ? k->lead6 : k->lead4;
	char cmd[96], header[96], empty[1] = "", *save = NULL;
	struct cli_answer *a;
	size_t mine = view->n;		/* this listing's first entry */
	int err;

	snprintf(cmd, sizeof(cmd), "%s %s", f ? k->show6 : k->show4, f ? c->acl6 : c->acl);
	snprintf(header, sizeof(header), "%s %s", f ? k->header6 : k->header4,
		 f ? c->acl6 : c->acl);
	err = cli_run1(device_cli(d), cmd, &a);
	if (err)
		return err;
	for (char *ln = strtok_r(a->text ? a->text : empty, "\n", &save); ln;
	     ln = strtok_r(NULL, "\n", &save)) {
		struct device_entry e = { .ph.family = f ? AF_INET6 : AF_INET };
		char *t[24];
		size_t nt, w;
		uint64_t seq;

		if (!strncmp(ln, header, strlen(header)) &&
		    (ln[strlen(header)] == 0 || ln[strlen(header)] == ' ')) {
			view->found[f] = true;
			continue;
		}
		nt = take_count(t, device_split(ln, t, 24), &e.packets);
		if (k->hits && take_hits(t, nt, &e.packets)) {
			/* the count of the entry listed just before */
			if (view->n > mine)
				view->v[view->n - 1].packets = e.packets;
			continue;
		}
		if (k->colon) {
			/* "N: [sequence N ]rule..." */
			size_t len = nt ? strlen(t[0]) : 0;

			w = 1;
			if (len < 2 || t[0][len - 1] != ':')
				continue;
			t[0][len - 1] = 0;
			if (device_number(t[0], UINT32_MAX, &seq))
				continue;
			if (nt >= 3 && !strcmp(t[1], "sequence"))
				w = 3;	/* a user-given number, the same */
			if (nt < w + 1)
				continue;
			e.id = (uint32_t)seq;
			parse_rule(k, t + w, nt - w, &e);
		} else if (lead) {
			/* "[seq] N rule..." */
			w = lead[0] ? 1 : 0;
			if (nt < w + 2 || (w && strcmp(t[0], lead)) ||
			    device_number(t[w], UINT32_MAX, &seq))
				continue;	/* a remark or an unknown line */
			e.id = (uint32_t)seq;
			parse_rule(k, t + w + 1, nt - w - 1, &e);
		} else {
			/* "rule... sequence N" */
			if (nt < 3 || strcmp(t[nt - 2], "sequence") ||
			    device_number(t[nt - 1], UINT32_MAX, &seq))
				continue;
			e.id = (uint32_t)seq;
			parse_rule(k, t, nt - 2, &e);
		}
		err = device_view_add(view, &e);
		if (err)
			return err;
	}
	return 0;
}

int cisco_learn(struct device *d, const struct cisco_syntax *k, struct device_view *view)
{
	return learn_family(d, k, view, 0) ?: learn_family(d, k, view, 1);
}
