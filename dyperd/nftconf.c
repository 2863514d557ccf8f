// SPDX-License-Identifier: GPL-2.0-or-later
/* dyper.conf's [enforcer] section into nft/'s configuration (nftconf.h). */

#include <stdio.h>
#include <string.h>

#include "dyperd/nftconf.h"

_Static_assert(DYPER_CONFIG_MAX_PORTS <= NFT_ENFORCER_MAX_PORTS, "ports must fit nft/'s arrays");

static enum nft_owner_mode owner_mode(enum dyper_owner_mode m)
{
	switch (m) {
	case DYPER_OWNER_ON:
		return NFT_OWNER_ON;
	case DYPER_OWNER_OFF:
		return NFT_OWNER_OFF;
	case DYPER_OWNER_AUTO:
	default:
		return NFT_OWNER_AUTO;
	}
}

void nftconf_from_config(struct nft_enforcer_config *out, const struct dyper_config *c)
{
	/* the kernel's NF_LOG_PREFIXLEN; copied by nft_enforcer_open() */
	static char prefix[128];

	const struct dyper_enforcer_conf *e = &c->enforcer;

	nft_enforcer_config_init(out);
	out->table = c->enforcer_table;
	out->priority = e->priority;
	memcpy(out->tcp_ports, e->tcp_ports, e->n_tcp_ports * sizeof(e->tcp_ports[0]));
	out->n_tcp_ports = e->n_tcp_ports;
	memcpy(out->udp_ports, e->udp_ports, e->n_udp_ports * sizeof(e->udp_ports[0]));
	out->n_udp_ports = e->n_udp_ports;
	out->allow_ping = e->allow_ping;
	out->counters = e->counters;
	out->max_pinholes = e->max_pinholes;
	out->log_rate = e->log_rate;
	out->owner = owner_mode(e->owner);
	out->mark = e->mark;
	/* the kernel's drop lines name the table and why, for dyperctl
	 * explain: "dyper drop [inet dyper] no pinhole: IN=... SRC=...";
	 * a table name of more than 80 characters is cut there */
	snprintf(prefix, sizeof(prefix), "dyper drop [inet %.80s] no pinhole: ", c->enforcer_table);
	out->log_prefix = prefix;
}

void nftconf_router_from_config(struct nft_enforcer_config *out, const struct dyper_config *c)
{
	const struct dyper_site_conf *s = &c->site;

	nft_enforcer_config_init_router(out);
	out->table = s->table;
	out->priority = s->priority;
	out->mode = s->mode == DYPER_SITE_MARK ? NFT_MODE_ROUTER_MARK : NFT_MODE_ROUTER;
	out->mark = s->mark;
	out->counters = c->enforcer.counters;
	out->max_pinholes = c->enforcer.max_pinholes;
	out->log_rate = c->enforcer.log_rate;
	out->owner = owner_mode(c->enforcer.owner);
	for (size_t i = 0; i < s->n_inside && i < NFT_ENFORCER_MAX_INSIDE; i++)
		snprintf(out->inside[out->n_inside++], NFT_IFNAME_LEN, "%s", s->inside[i]);
	for (size_t i = 0; i < s->n_open && i < NFT_ENFORCER_MAX_OPEN; i++) {
		struct nft_open_port *o = &out->open[out->n_open++];

		o->family = s->open[i].family;
		o->proto = s->open[i].proto;
		o->port = s->open[i].port;
		memcpy(o->addr.raw, s->open[i].addr, sizeof(o->addr.raw));
	}
}
