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
#include "dyperd/policy.h"

/* Keys a reload cannot apply: name the ones that changed. */
static void restart_keys(const struct dyper_config *o, const struct dyper_config *n,
			 char *buf, size_t len)
{
	const struct dyper_enforcer_conf *a = &o->enforcer, *b = &n->enforcer;
	struct { const char *name; bool changed; } keys[] = {
		{ "user", strcmp(o->user, n->user) },
		{ "group", strcmp(o->group, n->group) },
		{ "agent_socket", strcmp(o->agent_socket, n->agent_socket) },
		{ "control_socket", strcmp(o->control_socket, n->control_socket) },
		{ "queue_max", o->queue_max != n->queue_max },
		{ "table", strcmp(o->enforcer_table, n->enforcer_table) },
		{ "priority", a->priority != b->priority },
		{ "tcp_ports", a->n_tcp_ports != b->n_tcp_ports ||
			       memcmp(a->tcp_ports, b->tcp_ports, sizeof(a->tcp_ports)) },
		{ "udp_ports", a->n_udp_ports != b->n_udp_ports ||
			       memcmp(a->udp_ports, b->udp_ports, sizeof(a->udp_ports)) },
		{ "allow_ping", a->allow_ping != b->allow_ping },
		{ "counters", a->counters != b->counters },
		{ "max_pinholes", a->max_pinholes != b->max_pinholes },
		{ "log_rate", a->log_rate != b->log_rate },
		{ "owner", a->owner != b->owner },
		{ "mark", a->mark != b->mark },
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
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].changed && used + strlen(keys[i].name) + 3 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
						 keys[i].name);
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

/* Applies a parsed reload; 0, or the parse's error (nothing changed). */
static int reload_apply(struct dyperd *d, struct reload_job *j, char *msg, size_t len)
{
	char later[512], event_err[300];
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
	restart_keys(&d->cfg, nc, later, sizeof(later));
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
	d->cfg.site.max_connections = nc->site.max_connections;
	d->cfg.site.rate = nc->site.rate;
	d->cfg.site.burst = nc->site.burst;
	snprintf(msg, len, "reloaded: %zu %spolicy rules from %s%s%s%s",
		 policy_rule_count(d->policy), j->site ? "site " : "",
		 j->site ? nc->site.policy : nc->policy,
		 later[0] ? "; changed but applied only after a restart: " : "", later,
		 event_err[0] ? event_err : "");
	log_notice("%s", msg);
	return 0;
}

bool reload_finish(struct dyperd *d, uint64_t *ticket, int *rc, char *msg, size_t len)
{
	struct reload_job *j = &reload_job;
	uint64_t n;

	if (read(d->reload_fd, &n, sizeof(n)) != sizeof(n) || !d->reload_running)
		return false;
	if (j->threaded)
		pthread_join(j->thread, NULL);
	d->reload_running = false;
	*ticket = d->reload_started;
	*rc = reload_apply(d, j, msg, len);
	if (d->reload_again) {
		d->reload_again = false;
		reload_start(d);
	}
	return true;
}
