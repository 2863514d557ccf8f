/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The [enforcer] section of dyper.conf (conf/, which knows nothing of nft/)
 * as nft/'s own configuration: the one place the two meet, above both.
 */
#ifndef DYPERD_NFTCONF_H
#define DYPERD_NFTCONF_H

#include "conf/config.h"
#include "nft/enforcer.h"

/* Fills @out from @c.  @out->table points into @c, @out->log_prefix into
 * a static buffer (the next call rewrites it): both must outlive every use
 * of @out (nft_enforcer_open() copies what it keeps). */
void nftconf_from_config(struct nft_enforcer_config *out, const struct dyper_config *c);

/* The same for site mode: the router's table from [site] (table, priority,
 * mode, mark, inside, open_ports) and [enforcer]'s counters, max_pinholes,
 * log_rate and owner; never [enforcer]'s control ports, which a router's
 * table refuses (it opens ports per internal host: open_ports). */
void nftconf_router_from_config(struct nft_enforcer_config *out, const struct dyper_config *c);

#endif
