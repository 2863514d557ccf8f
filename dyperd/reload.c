// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reloading dyper.conf and the policy (SIGHUP, dyperctl reload), read and
 * parsed beside the event loop.  Used by the loop (dyperd.c) and by
 * dyperctl's socket (control.c); it calls neither: the loop hands the
 * outcome to control.c, so the arrows run one way.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dyperd/daemon.h"
#include "dyperd/log.h"
#include "dyperd/nftconf.h"
#include "dyperd/policy.h"

struct changed_key {
	const char *name;
	bool changed;
};

/* Names the keys of @keys that changed into @buf, comma-separated. */
static void changed_names(const struct changed_key *keys, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (keys[i].changed && used + strlen(keys[i].name) + 3 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
						 keys[i].name);
}

/*
 * Keys a reload cannot apply, named into @restart when they changed: the
 * sockets (bound once, before the privileges are dropped), user and group
 * (dropped to for good), queue_max (the wait queue is allocated once).
 * Into @table, the keys a running table cannot take: its name and the
 * kernel's fixed properties of the chain and sets (priority; counters, the
 * pinhole sets' per-element expressions) and of the table (owner, persist).  These need the table made anew (dyper.conf(5), NOTES):
 * a restart alone takes the old table over and refuses the difference.
 */
static void restart_keys(const struct dyper_config *o, const struct dyper_config *n,
			 char *restart, char *table, size_t len)
{
	const struct dyper_enforcer_conf *a = &o->enforcer, *b = &n->enforcer;
	const struct changed_key r[] = {
		{ "user", strcmp(o->user, n->user) },
		{ "group", strcmp(o->group, n->group) },
		{ "agent_socket", strcmp(o->agent_socket, n->agent_socket) },
		{ "control_socket", strcmp(o->control_socket, n->control_socket) },
		{ "queue_max", o->queue_max != n->queue_max },
		/* the site forwarder keeps its session: border mode is set at start */
		{ "[remote]", memcmp(&o->remote, &n->remote, sizeof(o->remote)) != 0 },
		/* [site]: the mode, the socket and the router's table */
		{ "[site] enable", o->site.enable != n->site.enable },
		{ "[site] socket", strcmp(o->site.socket, n->site.socket) },
		{ "[site] account", strcmp(o->site.account, n->site.account) },
		{ "[site] table", strcmp(o->site.table, n->site.table) },
		{ "[site] priority", o->site.priority != n->site.priority },
		{ "[site] mode", o->site.mode != n->site.mode },
		{ "[site] mark", o->site.mark != n->site.mark },
		{ "[site] inside", o->site.n_inside != n->site.n_inside ||
				   memcmp(o->site.inside, n->site.inside, sizeof(o->site.inside)) },
		{ "[site] open_ports", o->site.n_open != n->site.n_open ||
				       memcmp(o->site.open, n->site.open, sizeof(o->site.open)) },
		/* the devices' sessions and their threads are made at start */
		{ "[site] router", o->site.router != n->site.router },
		{ "[device] sections", o->n_devices != n->n_devices ||
				       memcmp(o->device, n->device, sizeof(o->device)) },
	};
	const struct changed_key t[] = {
		{ "table", strcmp(o->enforcer_table, n->enforcer_table) },
		{ "priority", a->priority != b->priority },
		{ "counters", a->counters != b->counters },
		{ "owner", a->owner != b->owner },
	};

	changed_names(r, sizeof(r) / sizeof(r[0]), restart, len);
	changed_names(t, sizeof(t) / sizeof(t[0]), table, len);
}

/* True when a table setting a reload applies changed. */
static bool table_changed(const struct dyper_enforcer_conf *a, const struct dyper_enforcer_conf *b)
{
	return a->n_tcp_ports != b->n_tcp_ports ||
	       memcmp(a->tcp_ports, b->tcp_ports, sizeof(a->tcp_ports)) ||
	       a->n_udp_ports != b->n_udp_ports ||
	       memcmp(a->udp_ports, b->udp_ports, sizeof(a->udp_ports)) ||
	       a->allow_ping != b->allow_ping || a->log_rate != b->log_rate || a->mark != b->mark ||
	       a->max_pinholes != b->max_pinholes;
}

/* The table settings a reload applies, from @from into @to. */
static void table_copy(struct dyper_enforcer_conf *to, const struct dyper_enforcer_conf *from)
{
	memcpy(to->tcp_ports, from->tcp_ports, sizeof(to->tcp_ports));
	to->n_tcp_ports = from->n_tcp_ports;
	memcpy(to->udp_ports, from->udp_ports, sizeof(to->udp_ports));
	to->n_udp_ports = from->n_udp_ports;
	to->allow_ping = from->allow_ping;
	to->log_rate = from->log_rate;
	to->mark = from->mark;
	to->max_pinholes = from->max_pinholes;
}

/*
 * A reload reads and parses dyper.conf and the policy in a thread of its
 * own, beside the event loop: a big policy (100,000 rules naming users are
 * seconds of user database lookups) or a slow file system must not stall
 * the agents.  The thread touches nothing but its job (the parsers keep no
 * shared state, name lookups are the _r kind, no logging) and ends by
 * writing to d->reload_fd; the loop then applies the result.  One job at
 * a time: requests while one runs are served by the next, which rereads
 * the files.  A job is static: one job may outlive dyperd's loop, when
 * dyperd stops while a reload is still reading.
 */
struct reload_job {
	char config_path[4096];
	int done_fd;
	bool site;		/* dyperd runs in site mode: the site policy */
	bool threaded;		/* a thread to join; else it ran in the loop */
	pthread_t thread;
	/* results */
	struct dyper_config nc;
	struct policy *np;
	int rc;
	bool policy_failed;	/* the configuration was fine */
	char err[1024];
	/* the table's new settings, in this host's table at the end */
	bool reconfiguring;	/* submitted: reload_finish() waits for it */
	struct dyper_config tc;	/* the running config with them */
	struct nft_enforcer_config nftcfg;	/* lent to the engine */
	int reconfig_err;
	char reconfig_msg[512];
	char msg[4096];		/* what the reload did besides */
};

static struct reload_job reload_job;

static void *reload_parse(void *arg)
{
	struct reload_job *j = arg;
	uint64_t one = 1;

	j->np = NULL;
	j->policy_failed = false;
	j->rc = dyper_config_load(&j->nc, j->config_path, true, j->err, sizeof(j->err));
	if (!j->rc) {
		j->rc = j->site ? policy_load_as(&j->np, j->nc.site.policy, POLICY_SITE, j->err,
						 sizeof(j->err)) :
			policy_load(&j->np, j->nc.policy, j->err, sizeof(j->err));
		j->policy_failed = j->rc != 0;
	}
	/* an eventfd write fails only on overflow, which one job cannot cause */
	if (write(j->done_fd, &one, sizeof(one)) != sizeof(one))
		abort();
	return NULL;
}

static void reload_start(struct dyperd *d)
{
	struct reload_job *j = &reload_job;
	int err;

	snprintf(j->config_path, sizeof(j->config_path), "%s", d->config_path);
	j->done_fd = d->reload_fd;
	j->site = d->site != NULL;
	d->reload_running = true;
	d->reload_started++;
	err = pthread_create(&j->thread, NULL, reload_parse, j);
	j->threaded = !err;
	if (err) {
		log_warn("reload: cannot start a thread (%s): reading in the event loop",
			 strerror(err));
		reload_parse(j);
	}
}

uint64_t reload_request(struct dyperd *d)
{
	if (!d->reload_running) {
		reload_start(d);
		return d->reload_started;
	}
	d->reload_again = true;
	return d->reload_started + 1;
}

/* The table's reconfiguration is over: 0, or its error (the policy and
 * the other keys are applied, the table kept its old settings). */
static int reload_table_done(struct dyperd *d, struct reload_job *j, char *msg, size_t len)
{
	const char *before = j->reconfiguring ? j->msg : msg;
	char done[4096];

	snprintf(done, sizeof(done), "%s", before);
	if (!j->reconfig_err) {
		table_copy(&d->cfg.enforcer, &j->tc.enforcer);
		snprintf(msg, len, "%s; table inet %s changed in one transaction, pinholes kept",
			 done, d->cfg.enforcer_table);
		log_notice("%s", msg);
	} else {
		snprintf(msg, len, "%s; but the table's new settings failed, its old ones stay: %s",
			 done, j->reconfig_msg);
		log_err("%s", msg);
	}
	j->reconfiguring = false;
	return j->reconfig_err;
}

/* The engine's answer to the table's reconfiguration: the loop ends the
 * reload through reload_finish(), woken by the same eventfd. */
static void reconfig_done(struct dyperd *d, int err, const char *msg, void *arg)
{
	struct reload_job *j = arg;
	uint64_t one = 1;

	j->reconfig_err = err;
	snprintf(j->reconfig_msg, sizeof(j->reconfig_msg), "%s", msg);
	if (write(d->reload_fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/*
 * Applies a parsed reload; 0, or the parse's error (nothing changed).
 * 1 when the table's new settings were handed to the engine: the reload
 * ends in reload_finish() once the transaction is answered.
 */
static int reload_apply(struct dyperd *d, struct reload_job *j, char *msg, size_t len)
{
	char later[512], table[512], event_err[300];
	struct dyper_config *nc = &j->nc;
	int rc;

	if (j->rc) {
		snprintf(msg, len, "reload failed, old %s kept: %s",
			 j->policy_failed ? "policy" : "configuration", j->err);
		log_err("%s", msg);
		return j->rc;
	}
	policy_free(d->policy);
	d->policy = j->np;
	j->np = NULL;
	restart_keys(&d->cfg, nc, later, table, sizeof(later));
	/* what applies at once; sockets, user, group and the table need a restart */
	d->cfg.capacity = nc->capacity;
	d->cfg.max_per_user = nc->max_per_user;
	d->cfg.queue_timeout_ms = nc->queue_timeout_ms;
	d->cfg.rate = nc->rate;
	d->cfg.burst = nc->burst;
	d->cfg.batch_max = nc->batch_max;
	d->cfg.default_lifetime_ms = nc->default_lifetime_ms;
	d->cfg.max_channels = nc->max_channels;
	d->cfg.max_channels_per_user = nc->max_channels_per_user;
	d->cfg.reconcile_ms = nc->reconcile_ms;
	d->cfg.tamper_check_ms = nc->tamper_check_ms;
	d->cfg.log_level = nc->log_level;
	d->cfg.on_exit = nc->on_exit;
	log_set_level(nc->log_level);
	event_err[0] = '\0';
	if (strcmp(nc->event_log, d->cfg.event_log)) {
		rc = log_events_open(nc->event_log);
		if (rc)
			snprintf(event_err, sizeof(event_err), "; cannot open the new event log: %s",
				 strerror(-rc));
		else
			snprintf(d->cfg.event_log, sizeof(d->cfg.event_log), "%s", nc->event_log);
	}
	snprintf(d->cfg.policy, sizeof(d->cfg.policy), "%s", nc->policy);
	/* [site]: what applies at once (the mode and the router's table do not) */
	snprintf(d->cfg.site.name, sizeof(d->cfg.site.name), "%s", nc->site.name);
	snprintf(d->cfg.site.policy, sizeof(d->cfg.site.policy), "%s", nc->site.policy);
	d->cfg.site.max_per_delegate = nc->site.max_per_delegate;
	d->cfg.site.max_lease_ms = nc->site.max_lease_ms;
	d->cfg.site.batch = nc->site.batch;
	d->cfg.site.audit_ms = nc->site.audit_ms;
	d->cfg.site.max_connections = nc->site.max_connections;
	d->cfg.site.rate = nc->site.rate;
	d->cfg.site.burst = nc->site.burst;
	snprintf(msg, len, "reloaded: %zu %spolicy rules from %s%s%s%s%s%s",
		 policy_rule_count(d->policy), j->site ? "site " : "",
		 j->site ? nc->site.policy : nc->policy,
		 later[0] ? "; changed but applied only after a restart: " : "", later,
		 table[0] ? "; changed but needing the table made anew (dyper.conf(5), NOTES): " :
		 "", table, event_err[0] ? event_err : "");
	/* a site runs no table of its own (its router's is set at start) */
	if (j->site || !table_changed(&d->cfg.enforcer, &nc->enforcer)) {
		log_notice("%s", msg);
		return 0;
	}
	/* the running table's fixed settings, with the new ones a reload applies */
	j->tc = d->cfg;
	table_copy(&j->tc.enforcer, &nc->enforcer);
	nftconf_from_config(&j->nftcfg, &j->tc);
	rc = engine_reconfigure(d, &j->nftcfg, reconfig_done, j);
	if (rc) {
		j->reconfig_err = rc;
		snprintf(j->reconfig_msg, sizeof(j->reconfig_msg), "%s", strerror(-rc));
		return reload_table_done(d, j, msg, len);
	}
	snprintf(j->msg, sizeof(j->msg), "%s", msg);
	j->reconfiguring = true;
	return 1;
}

bool reload_finish(struct dyperd *d, uint64_t *ticket, int *rc, char *msg, size_t len)
{
	struct reload_job *j = &reload_job;
	uint64_t n;

	if (read(d->reload_fd, &n, sizeof(n)) != sizeof(n) || !d->reload_running)
		return false;
	if (j->reconfiguring) {
		*rc = reload_table_done(d, j, msg, len);
	} else {
		if (j->threaded)
			pthread_join(j->thread, NULL);
		*rc = reload_apply(d, j, msg, len);
		if (*rc == 1)
			return false;	/* the table's transaction answers later */
	}
	d->reload_running = false;
	*ticket = d->reload_started;
	if (d->reload_again) {
		d->reload_again = false;
		reload_start(d);
	}
	return true;
}
