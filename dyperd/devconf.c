// SPDX-License-Identifier: GPL-2.0-or-later
/* [device NAME] (conf/) as remote/device.h's struct remote_device_config. */

#include <string.h>

#include "dyperd/devconf.h"

const char *devconf_type_name(enum dyper_device_type t)
{
	switch (t) {
	case DYPER_DEVICE_IOS:
		return "ios";
	case DYPER_DEVICE_FTOS:
		return "ftos";
	case DYPER_DEVICE_IRONWARE:
		return "ironware";
	case DYPER_DEVICE_JUNOS:
		return "junos";
	}
	return "?";
}

static const char *opt(const char *s)
{
	return s[0] ? s : NULL;
}

void devconf_to_remote(struct remote_device_config *out, const struct dyper_device_conf *in)
{
	memset(out, 0, sizeof(*out));
	out->name = in->name;
	out->type = devconf_type_name(in->type);
	out->address = in->address;
	out->port = (uint16_t)in->port;
	out->user = in->user;
	out->key_file = opt(in->key);
	out->password_file = opt(in->password_file);
	out->known_hosts = in->known_hosts;
	out->acl = in->acl;
	out->acl6 = opt(in->acl6);
	out->final_term = opt(in->final_term);
	/* both bounds: the driver checks first <= last on what it is given,
	 * before its own defaults, so "first_id = 5" alone must arrive whole */
	out->first_id = in->first_id ? in->first_id : REMOTE_DEVICE_FIRST_ID;
	out->last_id = in->last_id ? in->last_id : REMOTE_DEVICE_LAST_ID;
	out->batch_size = in->batch;
	out->save_interval_s = in->save_interval_ms / 1000;
	out->timeout_ms = in->timeout_ms;
	out->keepalive_ms = in->keepalive_ms;
	out->confirm_minutes = in->confirm_minutes;
}
