/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dyperd's state and the parts of its event loop.  One process, one
 * thread, one epoll loop; requests that arrive in the same iteration are
 * committed to the kernel in one netlink transaction.
 */
#ifndef DYPERD_DAEMON_H
#define DYPERD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/config.h"
#include "dyperd/policy.h"
#include "dyperd/proto.h"
#include "dyperd/table.h"
#include "dyperd/verify.h"
#include "nft/enforcer.h"

/* What an epoll event belongs to. */
enum ev_kind { EV_SIGNAL, EV_TIMER, EV_AGENT_LISTEN, EV_AGENT, EV_CONTROL_LISTEN,
	       EV_CONTROL, EV_DIAG, EV_RELOAD };

struct ev_tag {
	enum ev_kind kind;
};

/* An agent channel: one connection to the agent socket, possibly shared
 * by many processes after fork. */
struct channel {
	struct ev_tag tag;
	int fd;
	uint64_t serial;	/* unique, never reused */
	pid_t peer_pid;		/* SO_PEERCRED at connect: the wrapper */
	uid_t peer_uid;
	gid_t delegate_gid;	/* the wrapper's group: the delegate */
	pid_t name_pid;		/* the last requester's pid and program name: */
	char name[PINHOLE_PROGRAM_LEN];	/* a label only, re-read when policy needs it */
	/* program= rules (agent.c): what dyper-wrap's HELLO declared */
	bool served;		/* a message was handled: too late to declare */
	bool wrapped;		/* declared: program= holds to program_fd alone */
	int program_fd;		/* the file the program runs as, pinned; -1: none */
	dev_t program_dev;
	ino_t program_ino;
	char *program;		/* its path when declared, NULL: none */
	double tokens;		/* rate limit bucket */
	uint64_t refill_ns;
	struct channel *next;
};

/* Where a reply goes: a reply socket the requester passed, or the channel. */
struct reply_to {
	int fd;			/* owned; -1 if none */
	struct channel *ch;	/* NULL once the channel is gone */
	uint32_t msg_id;
	uint64_t t_start_ns;	/* for latency statistics */
};

enum op_origin { OP_AGENT, OP_INTERNAL };

/* One kernel operation waiting for the end of this loop iteration. */
struct pending {
	struct pinhole_op op;
	uint32_t idx;		/* table entry */
	enum op_origin origin;
	struct reply_to reply;
	const char *reason;	/* internal deletes: "stale", "expired", "admin" */
};

/* A request waiting for capacity (paper §5.1: queue when the enforcer is full). */
struct waiting {
	struct pinhole ph;
	uint32_t rule_line;
	uint64_t expires_ms;	/* the pinhole's lifetime end, relative to grant */
	uint32_t lifetime_ms;
	uint64_t deadline_ms;
	bool oneshot;
	struct reply_to reply;
};

struct control_conn {
	struct ev_tag tag;
	int fd;
	char in[4096];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	uint64_t deadline_ms;	/* for a complete command line (now_ms) */
	uint64_t reload_ticket;	/* waits for this reload's end; 0: none */
	bool json;		/* of the reload's answer */
	struct control_conn *next;
};

#define LAT_RING 4096

struct stats {
	uint64_t requests, opens, closes, denials, refusals, errors;
	uint64_t stale, expired, repairs, batches, batch_ops, batch_max;
	uint64_t queued, queue_timeouts, rate_limited;
	uint32_t lat_us[LAT_RING];
	uint32_t lat_n;
};

struct dyperd {
	struct dyper_config cfg;
	char config_path[4096];
	struct policy *policy;
	struct nft_enforcer *enf;
	struct ph_table table;
	struct netns_id netns;		/* ours: passed sockets must live in it */
	uint64_t userns_dev, userns_ino;	/* our user namespace (/proc/self/ns/user) */

	int epfd, sigfd, timerfd, agent_lfd, control_lfd, diag_fd;
	struct ev_tag sig_tag, timer_tag, agent_tag, control_tag, diag_tag;
	int reload_fd;		/* eventfd: the reload thread is done */
	struct ev_tag reload_tag;
	uint64_t reload_started;	/* reloads started, numbered from 1 */
	bool reload_running;
	bool reload_again;	/* asked for while one ran: run another */
	struct channel *channels;
	uint64_t channel_serial;
	struct control_conn *controls;

	struct pending *pending;
	size_t n_pending, cap_pending;
	struct waiting *waiting;	/* FIFO ring */
	size_t wait_head, n_waiting;

	uint64_t next_reconcile_ms;
	uint64_t next_tamper_ms;
	bool need_reconcile;	/* destroy notifications were lost, or tampering */
	bool running;
	bool foreground;
	struct stats st;
};

/* Monotonic clock. */
uint64_t now_ms(void);
uint64_t now_ns(void);

/* engine.c: the pinhole engine */
int engine_start(struct dyperd *d);		/* setup table, recover from kernel */
void engine_commit(struct dyperd *d);		/* end of a loop iteration */
void engine_tick(struct dyperd *d);		/* timer: expiry, queue, tamper, reconcile */
void engine_socket_gone(struct dyperd *d, uint64_t cookie);
int engine_reconcile(struct dyperd *d);
int engine_close_id(struct dyperd *d, uint32_t id, char *why, size_t len);
void engine_stop(struct dyperd *d);		/* on_exit keep|flush */
/* Queues an agent's open or close; replies come after the commit. */
void engine_request_open(struct dyperd *d, const struct pinhole *ph, uint32_t rule_line,
			 uint32_t lifetime_ms, bool oneshot, struct reply_to *reply);
void engine_request_close(struct dyperd *d, const struct pinhole *ph, uid_t uid,
			  struct reply_to *reply);
/* Sends a reply and releases its reply socket. */
void reply_send(struct dyperd *d, struct reply_to *r, int status, uint32_t id,
		uint32_t lifetime_ms, const char *reason);
/* Forget a channel in every pending reply (it is closing). */
void engine_forget_channel(struct dyperd *d, struct channel *ch);

/* agent.c: the agent channel */
int agent_listen(struct dyperd *d);
void agent_accept(struct dyperd *d);
void agent_readable(struct dyperd *d, struct channel *ch);
void agent_close(struct dyperd *d, struct channel *ch);

/* control.c: dyperctl's socket */
int control_listen(struct dyperd *d);
void control_accept(struct dyperd *d);
void control_event(struct dyperd *d, struct control_conn *c, uint32_t events);
/* timer: closes the connections that sent no command line in time */
void control_tick(struct dyperd *d);

/* control.c: answers the connections that wait for reload number @ticket */
void control_reload_done(struct dyperd *d, uint64_t ticket, int err, const char *msg);

/* dyperd.c: asks for a reload of dyper.conf and the policy, read and parsed
 * beside the loop.  Returns the number of the reload that will carry it
 * out: control_reload_done() is called with it once that one is applied
 * or refused. */
uint64_t dyperd_reload_request(struct dyperd *d);

#endif
