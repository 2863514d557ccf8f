// SPDX-License-Identifier: GPL-2.0-or-later
/* dyperd's pinhole table: a slab of entries with chained hash indexes. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dyperd/table.h"

static uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t h)
{
	/* FNV-1a: keys are fixed-layout, short, and not attacker-chosen in
	 * bulk (every one needs a verified socket and a policy pass). */
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static uint32_t key_hash(const struct pinhole *ph)
{
	uint8_t key[64];
	size_t len = pinhole_key(ph, key, NULL);

	return (uint32_t)hash_bytes(key, len, 0xcbf29ce484222325ULL ^ ph->family);
}

static uint32_t cookie_hash(uint64_t c)
{
	c ^= c >> 33;
	c *= 0xff51afd7ed558ccdULL;
	c ^= c >> 33;
	return (uint32_t)c;
}

int table_init(struct ph_table *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 1024;
	t->uid_cap = 64;
	t->next_id = 1;
	t->by_key = calloc(t->nbuckets, sizeof(*t->by_key));
	t->by_cookie = calloc(t->nbuckets, sizeof(*t->by_cookie));
	t->uids = calloc(t->uid_cap, sizeof(*t->uids));
	if (!t->by_key || !t->by_cookie || !t->uids) {
		table_free(t);
		return -ENOMEM;
	}
	return 0;
}

void table_free(struct ph_table *t)
{
	free(t->v);
	free(t->by_key);
	free(t->by_cookie);
	free(t->uids);
	memset(t, 0, sizeof(*t));
}

static void link_entry(struct ph_table *t, uint32_t idx)
{
	struct ph_entry *e = &t->v[idx];
	uint32_t kb = key_hash(&e->ph) & (t->nbuckets - 1);
	uint32_t cb = cookie_hash(e->ph.owner.sock_cookie) & (t->nbuckets - 1);

	e->next_key = t->by_key[kb];
	t->by_key[kb] = idx + 1;
	e->next_cookie = t->by_cookie[cb];
	t->by_cookie[cb] = idx + 1;
}

/* Rehash into twice the buckets when chains get long. */
static int grow_buckets(struct ph_table *t)
{
	uint32_t n = t->nbuckets * 2, *k = calloc(n, sizeof(*k)), *c = calloc(n, sizeof(*c));

	if (!k || !c) {
		free(k);
		free(c);
		return -ENOMEM;
	}
	free(t->by_key);
	free(t->by_cookie);
	t->by_key = k;
	t->by_cookie = c;
	t->nbuckets = n;
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->v[i].used)
			link_entry(t, i);
	return 0;
}

static struct uid_count *uid_slot(const struct ph_table *t, uint64_t key)
{
	uint32_t mask = t->uid_cap - 1, i = cookie_hash(key) & mask;

	while (t->uids[i].count && t->uids[i].key != key)
		i = (i + 1) & mask;
	return &t->uids[i];
}

static int uid_add(struct ph_table *t, uint64_t key, int delta)
{
	struct uid_count *s;
	uint32_t used = 0;

	if (delta > 0) {
		for (uint32_t i = 0; i < t->uid_cap; i++)
			used += t->uids[i].count != 0;
		if (2 * (used + 1) > t->uid_cap) {
			struct uid_count *old = t->uids;
			uint32_t oldcap = t->uid_cap;

			t->uids = calloc(oldcap * 2, sizeof(*t->uids));
			if (!t->uids) {
				t->uids = old;
				return -ENOMEM;
			}
			t->uid_cap = oldcap * 2;
			for (uint32_t i = 0; i < oldcap; i++)
				if (old[i].count)
					*uid_slot(t, old[i].key) = old[i];
			free(old);
		}
	}
	s = uid_slot(t, key);
	if (delta < 0) {
		uint32_t mask = t->uid_cap - 1, i, j;

		if (--s->count)
			return 0;
		/* backward-shift delete keeps probe chains unbroken */
		i = (uint32_t)(s - t->uids);
		for (j = (i + 1) & mask; t->uids[j].count; j = (j + 1) & mask) {
			uint32_t home = cookie_hash(t->uids[j].key) & mask;

			if (((j - home) & mask) >= ((j - i) & mask)) {
				t->uids[i] = t->uids[j];
				t->uids[j].count = 0;
				i = j;
			}
		}
		return 0;
	}
	s->key = key;
	s->count++;
	return 0;
}

static uint64_t rule_key(uint32_t uid, uint32_t line)
{
	return (uint64_t)line << 32 | uid;
}

uint32_t table_user_count(const struct ph_table *t, uint32_t uid)
{
	return uid_slot(t, uid)->count;
}

uint32_t table_rule_count(const struct ph_table *t, uint32_t uid, uint32_t line)
{
	return uid_slot(t, rule_key(uid, line))->count;
}

int table_add(struct ph_table *t, const struct pinhole *ph, uint32_t rule_line,
	      uint64_t expires_ms)
{
	struct ph_entry *e;
	uint32_t idx;

	if (!t->free_head) {
		/* Slots come into use one at a time: what the doubling reserves
		 * stays untouched, so resident memory follows the pinholes. */
		if (t->cap == t->alloc) {
			uint32_t nalloc = t->alloc ? t->alloc * 2 : 256;
			struct ph_entry *v = realloc(t->v, nalloc * sizeof(*v));

			if (!v)
				return -ENOMEM;
			t->v = v;
			t->alloc = nalloc;
		}
		t->v[t->cap].used = false;
		t->v[t->cap].next_key = 0;	/* free list reuses next_key */
		t->free_head = ++t->cap;
	}
	if (t->count >= 2 * t->nbuckets && grow_buckets(t))	/* chains of ~1.5 */
		return -ENOMEM;
	if (uid_add(t, ph->owner.uid, 1))
		return -ENOMEM;
	if (rule_line && uid_add(t, rule_key(ph->owner.uid, rule_line), 1)) {
		uid_add(t, ph->owner.uid, -1);
		return -ENOMEM;
	}
	idx = t->free_head - 1;
	e = &t->v[idx];
	t->free_head = e->next_key;
	memset(e, 0, sizeof(*e));
	e->ph = *ph;
	e->id = t->next_id++;
	if (!t->next_id)
		t->next_id = 1;
	e->rule_line = rule_line;
	e->expires_ms = expires_ms;
	e->used = true;
	t->n_expiring += expires_ms != 0;
	t->count++;
	link_entry(t, idx);
	return (int)idx;
}

int table_set_owner(struct ph_table *t, uint32_t idx, uint32_t uid, uint32_t rule_line)
{
	struct ph_entry *e = &t->v[idx];

	/* the new counts first: on -ENOMEM nothing changed */
	if (uid_add(t, uid, 1))
		return -ENOMEM;
	if (rule_line && uid_add(t, rule_key(uid, rule_line), 1)) {
		uid_add(t, uid, -1);
		return -ENOMEM;
	}
	uid_add(t, e->ph.owner.uid, -1);
	if (e->rule_line)
		uid_add(t, rule_key(e->ph.owner.uid, e->rule_line), -1);
	e->ph.owner.uid = uid;
	e->rule_line = rule_line;
	return 0;
}

static void unlink_chain(uint32_t *head, struct ph_table *t, uint32_t idx, bool by_key)
{
	uint32_t *p = head;

	while (*p) {
		struct ph_entry *e = &t->v[*p - 1];
		uint32_t *next = by_key ? &e->next_key : &e->next_cookie;

		if (*p - 1 == idx) {
			*p = *next;
			return;
		}
		p = next;
	}
}

void table_del(struct ph_table *t, uint32_t idx)
{
	struct ph_entry *e = &t->v[idx];

	if (!e->used)
		return;
	unlink_chain(&t->by_key[key_hash(&e->ph) & (t->nbuckets - 1)], t, idx, true);
	unlink_chain(&t->by_cookie[cookie_hash(e->ph.owner.sock_cookie) & (t->nbuckets - 1)],
		     t, idx, false);
	uid_add(t, e->ph.owner.uid, -1);
	if (e->rule_line)
		uid_add(t, rule_key(e->ph.owner.uid, e->rule_line), -1);
	t->n_expiring -= e->expires_ms != 0;
	t->count--;
	e->used = false;
	e->next_key = t->free_head;
	t->free_head = idx + 1;
}

int table_find(const struct ph_table *t, const struct pinhole *ph)
{
	uint32_t i = t->by_key[key_hash(ph) & (t->nbuckets - 1)];

	for (; i; i = t->v[i - 1].next_key)
		if (pinhole_same_key(&t->v[i - 1].ph, ph))
			return (int)(i - 1);
	return -1;
}

int table_find_id(const struct ph_table *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->v[i].used && t->v[i].id == id)
			return (int)i;
	return -1;
}

unsigned table_each_cookie(struct ph_table *t, uint64_t cookie,
			   void (*fn)(struct ph_table *t, uint32_t idx, void *arg), void *arg)
{
	uint32_t i = t->by_cookie[cookie_hash(cookie) & (t->nbuckets - 1)];
	unsigned n = 0;

	while (i) {
		uint32_t idx = i - 1, next = t->v[idx].next_cookie;

		if (t->v[idx].ph.owner.sock_cookie == cookie) {
			n++;
			fn(t, idx, arg);
		}
		i = next;
	}
	return n;
}
