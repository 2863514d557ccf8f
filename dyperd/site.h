/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dyperd in site mode: the site controller (paper §4: the authorization
 * server and the execution server) behind dyper-remote(8).  Hosts in border
 * mode reach it over SSH; sshd runs dyper-remote as the site account, which
 * connects to the site socket and says "DELEGATE <host>" first.  The site
 * believes that line only from the account's uid (SO_PEERCRED), authorizes
 * every OPEN and HOLD with the site policy (policy.h, POLICY_SITE), keeps
 * per-delegate quotas and leases, and executes through the router's table
 * (nft_router_new) in batches.  The kernel is the record: each element's
 * comment names its delegate, and a restarted site adopts what it finds.
 */
#ifndef DYPERD_SITE_H
#define DYPERD_SITE_H

#include <stdbool.h>
#include <stdio.h>

struct dyperd;
struct site;
struct site_conn;

/*
 * Opens the router's table (set up, or converged to the config), reads it
 * back and adopts the delegates' pinholes with a grace lease of max_lease,
 * dropping entries that name no delegate or that the site policy no longer
 * allows; then listens on the site socket.  Runs before the event loop and
 * waits for the router (bounded).  0, or -errno after logging why.
 */
int site_start(struct dyperd *d);
/* Adds the site's descriptors to d->epfd. */
int site_watch(struct dyperd *d);
void site_accept(struct dyperd *d);
void site_conn_event(struct dyperd *d, struct site_conn *c, unsigned events);
void site_enforcer_ready(struct dyperd *d);
/* End of a loop iteration: what was asked for goes to the router in batches. */
void site_commit(struct dyperd *d);
/* Timer: leases, rate limits, integrity checks. */
void site_tick(struct dyperd *d);
/* Closes the connections and the router's socket; the table stays. */
void site_stop(struct dyperd *d);

/* dyperctl: the site's pinholes (delegate, lease left) and counters. */
void site_list(const struct dyperd *d, FILE *f, bool json);
void site_stats(const struct dyperd *d, FILE *f, bool json);

#endif
