// SPDX-License-Identifier: GPL-2.0-or-later
/* Border mode on the host: [remote] into the site forwarder (border.h). */

#include <string.h>
#include <syslog.h>

#include "dyperd/border.h"
#include "dyperd/log.h"

bool border_enabled(const struct dyper_config *c)
{
	return c->remote.host[0] != '\0';
}

void border_forward_config(struct remote_forward_config *fc, const struct dyper_config *c,
			   uid_t key_uid)
{
	const struct dyper_remote_conf *r = &c->remote;

	memset(fc, 0, sizeof(*fc));
	fc->ssh.host = r->host;
	fc->ssh.port = (uint16_t)r->port;
	fc->ssh.user = r->user;
	fc->ssh.key_file = r->key;
	fc->ssh.key_uid_set = true;
	fc->ssh.key_uid = key_uid;
	fc->ssh.known_hosts = r->known_hosts;
	fc->ssh.connect_timeout_ms = r->connect_timeout_ms;
	fc->ssh.keepalive_ms = r->keepalive_ms;
	fc->book.request_timeout_ms = r->request_timeout_ms;
	fc->book.lease_s = r->lease_ms / 1000;
	fc->book.local = r->on_unreachable == DYPER_UNREACHABLE_LOCAL;
}

static void border_log(int prio, const char *msg, void *arg)
{
	(void)arg;
	log_msg(prio, "%s", msg);
}

int border_forwarder_new(struct enforcer **out, const struct dyper_config *c, uid_t key_uid,
			 char *why)
{
	struct remote_forward_config fc;

	border_forward_config(&fc, c, key_uid);
	fc.log = border_log;
	return remote_forward_new(out, &fc, why);
}
