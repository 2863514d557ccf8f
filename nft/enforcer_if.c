// SPDX-License-Identifier: GPL-2.0-or-later
/* The enforcer interface's one piece of shared code: wrapping an
 * implementation (enforcer_if.h). */

#include <stdlib.h>
#include <string.h>

#include "nft/enforcer_if.h"

struct enforcer *enforcer_new(const struct enforcer_ops *ops, void *state, const char *name,
			      size_t batch_pref, unsigned max_inflight)
{
	struct enforcer *e = calloc(1, sizeof(*e));

	if (!e) {
		ops->free(state);
		return NULL;
	}
	e->ops = ops;
	e->state = state;
	strncpy(e->name, name, sizeof(e->name) - 1);
	e->batch_pref = batch_pref;
	e->max_inflight = max_inflight ? max_inflight : 1;
	return e;
}

void enforcer_free(struct enforcer *e)
{
	if (!e)
		return;
	e->ops->free(e->state);
	free(e);
}
