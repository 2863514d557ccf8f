/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dyperd's logging: syslog (and so the journal), stderr in the foreground,
 * and optional JSON event lines for auditing who opened what. */
#ifndef DYPERD_LOG_H
#define DYPERD_LOG_H

#include <stdbool.h>
#include <syslog.h>

#include "nft/enforcer.h"

/* @to_stderr: foreground mode; @level: the most verbose syslog level kept. */
void log_init(bool to_stderr, int level);
void log_set_level(int level);
/* Opens (appends to) the JSON event file; "" closes it.  0 or -errno. */
int log_events_open(const char *path);

__attribute__((format(printf, 2, 3)))
void log_msg(int level, const char *fmt, ...);
/* Whether a message at @level would be written: spares formatting its
 * arguments on hot paths. */
bool log_enabled(int level);

/* One audit event: "open", "close", "deny", "stale", "expire", "repair".
 * @ph may be NULL (repair); @reason is free text. */
void log_event(const char *event, const struct pinhole *ph, unsigned id, const char *reason);

/* @s as the body of a JSON string into @out (@cap > 0 bytes, always
 * terminated), escaping what JSON requires; what does not fit is left
 * out.  Returns the length written.  Used by dyperctl too. */
size_t json_escape(char *out, size_t cap, const char *s);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
