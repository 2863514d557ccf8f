/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A [device NAME] section of dyper.conf (conf/, which knows nothing of
 * remote/) as remote/device.h's own configuration: the one place the two
 * meet, above both, as dyperd/nftconf.h is for nft/.
 */
#ifndef DYPERD_DEVCONF_H
#define DYPERD_DEVCONF_H

#include "conf/config.h"
#include "remote/device.h"

/* Fills @out from @in.  Its strings point into @in, which must outlive
 * every use of @out (remote_device_new() copies what it keeps).  Empty
 * optional strings become NULL (the driver's default); the identity range
 * is given whole (the driver's defaults for a 0 bound); password_file is
 * only a path: remote_device_new() reads it and checks it is root's. */
void devconf_to_remote(struct remote_device_config *out, const struct dyper_device_conf *in);

/* "ios", "ftos", "ironware" or "junos" (the config's and the driver's
 * word); "?" for a value outside the enum. */
const char *devconf_type_name(enum dyper_device_type t);

#endif
