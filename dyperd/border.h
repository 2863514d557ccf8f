/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Border mode on the host (dyperd(8)): the [remote] section of dyper.conf
 * made into the site forwarder (remote/forward.h), the second enforcer
 * beside this host's table.  Shared by dyperd, `dyperd --check-config`
 * and `dyperctl doctor`, so that all three judge the setup alike.
 */
#ifndef DYPERD_BORDER_H
#define DYPERD_BORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/config.h"
#include "nft/enforcer_if.h"
#include "remote/forward.h"

/* True when [remote] names a site. */
bool border_enabled(const struct dyper_config *c);

/* The forwarder's config from @c; the key must belong to @key_uid.
 * Borrows @c's strings. */
void border_forward_config(struct remote_forward_config *fc, const struct dyper_config *c,
			   uid_t key_uid);

/*
 * The site forwarder for @c (not connected yet: ENFORCER_SETUP starts
 * it), logging through dyperd's log.  0, or -errno with @why
 * (REMOTE_SSH_ERROR_LEN) saying what to fix: -EPERM for a key file not
 * owned by @key_uid or readable by others, -ENOENT for a missing key or
 * known_hosts file, -EBADMSG for a file that holds no usable key.
 */
int border_forwarder_new(struct enforcer **out, const struct dyper_config *c, uid_t key_uid,
			 char *why);

#endif
