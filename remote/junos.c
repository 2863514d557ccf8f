// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * remote/junos — Juniper JunOS as a device dialect (remote/device.h).  A
 * pinhole is one term "dyper-N" of a firewall filter the site configured
 * and applied, inserted before the site's final term (its deny):
 *
 *   set firewall family inet filter F term dyper-N from source-address R/32
 *       destination-address L/32 protocol tcp destination-port P
 *   set firewall family inet filter F term dyper-N then count dyper-N
 *   set firewall family inet filter F term dyper-N then accept
 *   insert firewall family inet filter F term dyper-N before term DENY
 *   delete firewall family inet filter F term dyper-N
 *
 * (family inet6: /128 and next-header.)  JunOS has transactions: a batch
 * is one "configure private" candidate, checked ("commit check"), then
 * "commit confirmed N" and "commit", so that a session lost between the
 * two rolls back by itself after N minutes.  A line the device refuses
 * abandons the candidate ("rollback 0"): the other ops are retried.  On a
 * reconnect, a commit confirmed of ours still pending is confirmed: it
 * passed commit check, and the reconnect proves the management path.
 * Packet counts come from "show firewall filter F".
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/device.h"

#define TERM_PREFIX	"dyper-"

static const char *const junos_setup[] = {
	"set cli screen-length 0", "set cli screen-width 1024", NULL,
};
static const char *const junos_errors[] = {
	"syntax error", "unknown command", "error:", "missing argument", "invalid value",
	"invalid ip address", "invalid prefix", NULL,
};

static const struct cli_dialect junos_cli = {
	.name = "junos",
	.setup = junos_setup,
	.errors = junos_errors,
	.keepalive = "show system uptime",
};

static const char *family_word(uint8_t family)
{
	return family == AF_INET6 ? "inet6" : "inet";
}

static const char *filter_of(const struct remote_device_config *c, uint8_t family)
{
	return family == AF_INET6 ? c->acl6 : c->acl;
}

/* An op's lines, from the pinhole's validated fields only; the first's index. */
static int op_lines(struct device_lines *l, const struct remote_device_config *c,
		    const struct device_op *op)
{
	const struct pinhole *ph = op->ph;
	const char *fw = family_word(ph->family), *f = filter_of(c, ph->family);
	bool v6 = ph->family == AF_INET6;
	char r[64], a[64], sport[24] = "";
	int first;

	if (op->type == PINHOLE_DEL)
		return device_lines_add(l, "delete firewall family %s filter %s term " TERM_PREFIX "%u",
					fw, f, op->id);
	device_addr(ph, true, r, sizeof(r));
	device_addr(ph, false, a, sizeof(a));
	if (ph->remote_port)
		snprintf(sport, sizeof(sport), " source-port %u", ph->remote_port);
	first = device_lines_add(l, "set firewall family %s filter %s term " TERM_PREFIX "%u from "
				 "source-address %s/%d destination-address %s/%d %s %s%s "
				 "destination-port %u", fw, f, op->id, r, v6 ? 128 : 32, a,
				 v6 ? 128 : 32, v6 ? "next-header" : "protocol", device_proto(ph),
				 sport, ph->local_port);
	if (first < 0)
		return first;
	if (device_lines_add(l, "set firewall family %s filter %s term " TERM_PREFIX "%u then count "
			     TERM_PREFIX "%u", fw, f, op->id, op->id) < 0 ||
	    device_lines_add(l, "set firewall family %s filter %s term " TERM_PREFIX "%u then accept",
			     fw, f, op->id) < 0 ||
	    device_lines_add(l, "insert firewall family %s filter %s term " TERM_PREFIX "%u before "
			     "term %s", fw, f, op->id, c->final_term) < 0)
		return -ENOMEM;
	return first;
}

static void set_all(struct device_op *ops, size_t n, int res)
{
	for (size_t i = 0; i < n; i++)
		ops[i].res = res;
}

/* Leaves the candidate without committing it. */
static int abandon(struct cli *cli)
{
	static const char *const lines[] = { "rollback 0", "exit" };

	return cli_run(cli, lines, 2, NULL, NULL, NULL);
}

static int junos_apply(struct device *d, struct device_op *ops, size_t n)
{
	const struct remote_device_config *c = device_config(d);
	struct cli *cli = device_cli(d);
	struct device_lines l = { 0 };
	char confirmed[48];
	int *first = calloc(n + 1, sizeof(*first)), *res = NULL, err = 0;
	bool refused = false;

	if (!first)
		return -ENOMEM;
	for (size_t i = 0; i < n && err >= 0; i++)
		err = first[i] = op_lines(&l, c, &ops[i]);
	first[n] = (int)l.n;
	if (err < 0)
		goto out;
	err = cli_run1(cli, "configure private", NULL);
	if (err == -EREMOTEIO) {
		/* e.g. someone holds the database exclusively: nothing applied */
		set_all(ops, n, -ECANCELED);
		err = cli_run1(cli, "exit", NULL);
		goto out;
	}
	if (err)
		goto out;
	err = device_lines_run(d, &l, &res);
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ops[i].res = -ECANCELED;
		for (int k = first[i]; k < first[i + 1]; k++)
			if (res[k]) {
				ops[i].res = -EREMOTEIO;
				refused = true;
			}
	}
	if (refused) {
		err = abandon(cli);
		goto out;
	}
	snprintf(confirmed, sizeof(confirmed), "commit confirmed %u", c->confirm_minutes);
	err = cli_run1(cli, "commit check", NULL);
	if (!err)
		err = cli_run1(cli, confirmed, NULL);
	if (err == -EREMOTEIO) {
		/* the candidate as a whole: no op can be blamed, none applied */
		set_all(ops, n, -EREMOTEIO);
		err = abandon(cli);
		goto out;
	}
	if (err) {
		set_all(ops, n, -EINPROGRESS);
		goto out;
	}
	err = cli_run1(cli, "commit", NULL);
	if (err) {
		/* active but not confirmed: the reconnect's recover confirms it */
		set_all(ops, n, -EINPROGRESS);
		cli_close(cli);
		err = -ECONNRESET;
		goto out;
	}
	set_all(ops, n, 0);
	err = cli_run1(cli, "exit", NULL);
	if (err == -EREMOTEIO)
		err = 0;
out:
	free(res);
	free(first);
	device_lines_free(&l);
	return err < 0 ? err : 0;
}

/* A term as "display set" lists it, statement by statement. */
struct term {
	char name[REMOTE_DEVICE_NAME_MAX + 1];
	struct device_entry e;
	bool src, dst, proto, dport, count, accept, other;
};

static struct term *term_get(struct term **v, size_t *n, size_t *cap, const char *name)
{
	for (size_t i = *n; i-- > 0;)
		if (!strcmp((*v)[i].name, name))
			return &(*v)[i];
	if (strlen(name) > REMOTE_DEVICE_NAME_MAX)
		return NULL;
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct term *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return NULL;
		*v = p;
		*cap = c;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	snprintf((*v)[*n].name, sizeof((*v)[*n].name), "%s", name);
	return &(*v)[(*n)++];
}

/* "R/32" (or /128): an address of one host. */
static bool host_prefix(uint8_t family, char *s, union pinhole_addr *a)
{
	char *slash = strchr(s, '/');

	if (!slash || strcmp(slash + 1, family == AF_INET6 ? "128" : "32"))
		return false;
	*slash = 0;
	return !device_parse_addr(family, s, a);
}

static void term_statement(struct term *t, uint8_t family, char **w, size_t nw)
{
	struct pinhole *ph = &t->e.ph;
	uint64_t v;

	if (nw == 3 && !strcmp(w[0], "from") && !strcmp(w[1], "source-address"))
		t->src = host_prefix(family, w[2], &ph->remote);
	else if (nw == 3 && !strcmp(w[0], "from") && !strcmp(w[1], "destination-address"))
		t->dst = host_prefix(family, w[2], &ph->local);
	else if (nw == 3 && !strcmp(w[0], "from") &&
		 !strcmp(w[1], family == AF_INET6 ? "next-header" : "protocol")) {
		t->proto = true;
		if (!strcmp(w[2], "tcp"))
			ph->proto = IPPROTO_TCP;
		else if (!strcmp(w[2], "udp"))
			ph->proto = IPPROTO_UDP;
		else
			t->other = true;
	} else if (nw == 3 && !strcmp(w[0], "from") && !strcmp(w[1], "destination-port") &&
		   !device_number(w[2], 65535, &v) && v) {
		t->dport = true;
		ph->local_port = (uint16_t)v;
	} else if (nw == 3 && !strcmp(w[0], "from") && !strcmp(w[1], "source-port") &&
		   !device_number(w[2], 65535, &v) && v) {
		ph->remote_port = (uint16_t)v;
	} else if (nw == 3 && !strcmp(w[0], "then") && !strcmp(w[1], "count") &&
		   !strcmp(w[2], t->name)) {
		t->count = true;
	} else if (nw == 2 && !strcmp(w[0], "then") && !strcmp(w[1], "accept")) {
		t->accept = true;
	} else if (nw == 2 && !strcmp(w[0], "then") &&
		   (!strcmp(w[1], "discard") || !strcmp(w[1], "reject"))) {
		t->e.deny = true;
		t->other = true;
	} else {
		t->other = true;
	}
}

static int learn_family(struct device *d, struct device_view *view, int f)
{
	const struct remote_device_config *c = device_config(d);
	uint8_t family = f ? AF_INET6 : AF_INET;
	const char *filter = filter_of(c, family);
	char cmd[160], prefix[128], empty[1] = "", *save = NULL;
	struct term *terms = NULL;
	size_t n = 0, cap = 0;
	struct cli_answer *a;
	int err;

	snprintf(cmd, sizeof(cmd), "show configuration firewall family %s filter %s | display set",
		 family_word(family), filter);
	snprintf(prefix, sizeof(prefix), "set firewall family %s filter %s term ",
		 family_word(family), filter);
	err = cli_run1(device_cli(d), cmd, &a);
	if (err)
		goto out;
	for (char *ln = strtok_r(a->text ? a->text : empty, "\n", &save); ln;
	     ln = strtok_r(NULL, "\n", &save)) {
		char *w[16];
		size_t nw;
		struct term *t;

		if (strncmp(ln, prefix, strlen(prefix)))
			continue;
		view->found[f] = true;
		nw = device_split(ln + strlen(prefix), w, 16);
		if (nw < 2)
			continue;
		t = term_get(&terms, &n, &cap, w[0]);
		if (!t) {
			err = -ENOMEM;
			goto out;
		}
		term_statement(t, family, w + 1, nw - 1);
	}
	/* a filter that does not exist has no counters to list (the device
	 * would refuse the show): the caller says it is missing */
	if (!view->found[f])
		goto out;
	/* the counters, by term name */
	snprintf(cmd, sizeof(cmd), "show firewall filter %s", filter);
	err = cli_run1(device_cli(d), cmd, &a);
	if (err)
		goto out;
	save = NULL;
	for (char *ln = strtok_r(a->text ? a->text : empty, "\n", &save); ln;
	     ln = strtok_r(NULL, "\n", &save)) {
		char *w[4];
		uint64_t bytes, packets;

		if (device_split(ln, w, 4) != 3 || device_number(w[1], UINT64_MAX, &bytes) ||
		    device_number(w[2], UINT64_MAX, &packets))
			continue;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(terms[i].name, w[0])) {
				terms[i].e.bytes = bytes;
				terms[i].e.packets = packets;
			}
	}
	for (size_t i = 0; i < n; i++) {
		struct term *t = &terms[i];
		uint64_t id;

		t->e.ph.family = family;
		/* a term named like ours keeps its number taken even when it is
		 * not ours (edited by hand): a "set" on it would merge into it */
		if (strncmp(t->name, TERM_PREFIX, strlen(TERM_PREFIX)) ||
		    device_number(t->name + strlen(TERM_PREFIX), UINT32_MAX, &id))
			id = 0;
		t->e.ours = id && t->src && t->dst && t->proto && t->dport && t->accept && !t->other;
		t->e.id = (uint32_t)id;
		err = device_view_add(view, &t->e);
		if (err)
			goto out;
	}
out:
	free(terms);
	return err;
}

static int junos_learn(struct device *d, struct device_view *view)
{
	return learn_family(d, view, 0) ?: learn_family(d, view, 1);
}

/* A "commit confirmed" of ours still waiting to be confirmed: confirm it. */
static int junos_recover(struct device *d)
{
	static const char *const confirm[] = { "configure private", "commit", "exit" };
	const struct remote_device_config *c = device_config(d);
	struct cli *cli = device_cli(d);
	struct cli_answer *a;
	char by[64], *nl;
	int err = cli_run1(cli, "show system commit", &a);

	if (err)
		return err;
	/* the newest commit is the first line: "0   DATE by USER via cli
	 * commit confirmed, rollback in 1mins" */
	nl = a->text ? strchr(a->text, '\n') : NULL;
	if (nl)
		*nl = 0;
	snprintf(by, sizeof(by), " by %s via ", c->user);
	if (!a->text || !strstr(a->text, by) || !strstr(a->text, "rollback in"))
		return 0;
	err = cli_run(cli, confirm, 3, NULL, NULL, NULL);
	return err;
}

const struct device_dialect device_junos = {
	.type = "junos",
	.batch_default = 4200,
	.cli = &junos_cli,
	.ids_below_deny = false,
	.apply = junos_apply,
	.learn = junos_learn,
	.recover = junos_recover,
};
