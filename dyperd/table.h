/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dyperd's own record of the open pinholes: found by key (to refuse
 * duplicates and to close), by socket cookie (the kernel's destroy
 * notifications name the socket by its cookie), by id (dyperctl), and
 * counted per user (quotas).  The kernel's set is the truth it is
 * reconciled against.
 */
#ifndef DYPERD_TABLE_H
#define DYPERD_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "nft/enforcer.h"

enum ph_state {
	PH_PENDING,		/* add queued, not yet acknowledged by every enforcer */
	PH_OPEN,
	PH_CLOSING,		/* delete queued, not yet acknowledged by every enforcer */
};

struct ph_entry {
	struct pinhole ph;
	uint32_t id;
	uint32_t rule_line;	/* policy rule that granted it; 0: adopted after restart */
	uint64_t expires_ms;	/* monotonic; 0: no lifetime */
	uint64_t opened_ms;	/* monotonic, when every enforcer had it; 0: adopted */
	uint32_t next_key;	/* chains: entry index + 1, 0 ends */
	uint32_t next_cookie;
	bool used;
	bool oneshot;
	uint8_t seen;		/* reconcile: enforcers (bits) whose read-back holds it */
	uint8_t add_inflight;	/* enforcers (bits) its add is submitted to, unanswered */
	uint8_t state;		/* enum ph_state */
	uint64_t packets, bytes;	/* site: the devices' counts at the last audit */
};

struct ph_table {
	struct ph_entry *v;
	uint32_t cap;		/* slots in v ever used: in use or on the free list */
	uint32_t alloc;		/* slots allocated; those past cap never touched */
	uint32_t count;		/* used slots */
	uint32_t free_head;	/* index + 1 of a free slot, 0: none */
	uint32_t *by_key;	/* buckets: entry index + 1 */
	uint32_t *by_cookie;
	uint32_t nbuckets;	/* power of two */
	uint32_t next_id;
	uint32_t n_expiring;	/* entries with expires_ms */
	/* open pinholes per user (key uid) and per user and rule
	 * (key line << 32 | uid); open addressing, power-of-two size */
	struct uid_count { uint64_t key; uint32_t count; } *uids;
	uint32_t uid_cap;
};

int table_init(struct ph_table *t);
void table_free(struct ph_table *t);

/* Adds a copy of @ph; returns its entry index, or -ENOMEM.  The caller
 * makes sure the key is not in the table yet. */
int table_add(struct ph_table *t, const struct pinhole *ph, uint32_t rule_line,
	      uint64_t expires_ms);
void table_del(struct ph_table *t, uint32_t idx);

/* Entry index for @ph's key, or -1. */
int table_find(const struct ph_table *t, const struct pinhole *ph);
/* Entry index for dyperctl's @id, or -1 (a scan: admin use only). */
int table_find_id(const struct ph_table *t, uint32_t id);

/* Calls @fn for every entry serving the socket with @cookie; @fn may
 * delete the entry it is given.  Returns how many there were. */
unsigned table_each_cookie(struct ph_table *t, uint64_t cookie,
			   void (*fn)(struct ph_table *t, uint32_t idx, void *arg), void *arg);

uint32_t table_user_count(const struct ph_table *t, uint32_t uid);
/* Entry @idx now counts for @uid and policy rule @rule_line (0: none);
 * 0, or -ENOMEM with the entry unchanged. */
int table_set_owner(struct ph_table *t, uint32_t idx, uint32_t uid, uint32_t rule_line);
/* Open pinholes of @uid granted by the policy rule at @line. */
uint32_t table_rule_count(const struct ph_table *t, uint32_t uid, uint32_t line);

#endif
