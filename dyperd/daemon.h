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
#include "dyperd/events.h"
#include "dyperd/metrics.h"
#include "dyperd/policy.h"
#include "dyperd/proto.h"
#include "dyperd/table.h"
#include "dyperd/verify.h"
#include "nft/enforcer.h"
#include "dyperd/log.h"		/* now_ms, now_ns */
#include "nft/enforcer_if.h"

/* What an epoll event belongs to. */
enum ev_kind { EV_SIGNAL, EV_TIMER, EV_AGENT_LISTEN, EV_RESUME_LISTEN, EV_AGENT, EV_CONTROL_LISTEN,
	       EV_CONTROL, EV_DIAG, EV_ENFORCER, EV_RELOAD,
	       EV_SITE_LISTEN, EV_SITE_CONN, EV_SITE_ENFORCER };

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
	/* program= rules (channel.c): what dyper-wrap's HELLO declared */
	bool served;		/* a message was handled: too late to declare */
	bool wrapped;		/* declared: program= holds to program_fd alone */
	int program_fd;		/* the file the program runs as, pinned; -1: none */
	dev_t program_dev;
	ino_t program_ino;
	char *program;		/* its path when declared, NULL: none */
	double tokens;		/* rate limit bucket */
	uint64_t refill_ns;
	bool paused;		/* out of tokens: not read until they refill */
	/* resume.c: a channel that may outlive dyperd */
	struct resume_rec *rec;	/* its record once a ticket was issued; NULL: none */
	bool resuming;		/* on the resume socket, no ticket shown yet */
	uint64_t resume_deadline_ms;	/* closed unless resumed by then */
	struct channel *next;
};

#define RESUME_PIDS		4
#define RESUME_PROGRAM_LEN	1024

/* What a restarted dyperd needs to resume a channel (resume.c). */
struct resume_rec {
	uint64_t id;
	uint8_t secret[DYPER_SECRET_LEN];
	uint32_t uid, gid;		/* SO_PEERCRED at the channel's connect */
	bool wrapped;
	uint64_t program_dev, program_ino;
	char program[RESUME_PROGRAM_LEN];	/* "": none declared */
	uint32_t pids[RESUME_PIDS];	/* processes that held it, newest first */
	uint64_t starts[RESUME_PIDS];	/* and their start times */
	uint32_t slot;			/* in the state file */
	uint32_t live;			/* connections with this identity */
	struct resume_rec *next;
};

/* Where a reply goes: a reply socket the requester passed, or the channel. */
struct reply_to {
	int fd;			/* owned; -1 if none */
	struct channel *ch;	/* NULL once the channel is gone */
	uint32_t msg_id;
	uint64_t t_start_ns;	/* for latency statistics */
};

enum op_origin {
	OP_AGENT,		/* an agent's open or close: it gets the reply */
	OP_INTERNAL,		/* dyperd's own: stale, expired, repair */
	OP_ADMIN,		/* dyperctl close: its callback gets the outcome */
	OP_ROLLBACK,		/* undoes an add that another enforcer refused */
};

#define ENGINE_MAX_ENFORCERS 8	/* bits in the masks below and in struct ph_entry */

struct dyperd;

/*
 * One pinhole operation on its way through the enforcers it targets.  It
 * finishes (the table changes, the requester is answered) once every one
 * of them has answered; until then it sits in their queues or batches.
 */
struct pending {
	struct pinhole_op op;
	uint64_t seq;		/* order of creation: queues stay in this order */
	uint32_t idx;		/* table entry, or UINT32_MAX */
	uint32_t id;		/* that entry's id: its slot may be reused meanwhile */
	enum op_origin origin;
	struct reply_to reply;
	const char *reason;	/* internal deletes: "stale", "expired", "admin" */
	void (*admin_done)(struct dyperd *d, int err, const char *msg, void *arg);
	void *admin_arg;	/* NULL once the admin's connection is gone */
	uint8_t targets;	/* enforcers (bits) it goes to */
	uint8_t waiting;	/* of those, still to answer */
	uint8_t failed;		/* answered with an error */
	uint8_t succeeded;	/* answered: done */
	uint8_t repaired;	/* a repair was tried for it there */
	int err;		/* the first error, and its text (owned) */
	char *why;
	struct pending *prev, *next;	/* every unfinished operation */
};

struct engine_batch;

/* The engine's side of one enforcer (ev_tag first: the event loop's tag). */
struct enf_slot {
	struct ev_tag tag;
	struct enforcer *e;	/* owned */
	unsigned bit;		/* 1 << its index */
	struct pending **queue;	/* not yet submitted, in seq order */
	size_t q_head, q_len, q_cap;
	unsigned inflight;	/* batches submitted, not yet answered */
	bool read_want;		/* a reconcile read-back waits for no batch in flight */
	bool read_busy;		/* it is in flight: batches wait */
	bool setup_want;	/* a repair: the structure is set up again first */
	bool setup_busy, check_busy, flush_busy;
	int last_err;		/* of the last setup, adopt read or flush */
	char msg[256];
};

/* A read-back for dyperctl (counters): its callbacks, until the answer. */
struct engine_reader {
	void (*entry)(struct dyperd *d, const struct pinhole_entry *pe, void *arg);
	void (*done)(struct dyperd *d, int err, const char *msg, void *arg);
	void *arg;		/* NULL once the requester is gone */
	struct engine_reader *next;
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
	/* a command waiting for an enforcer's answer (list, show, close) */
	bool busy;
	bool json;		/* of the answer (reload, list, show) */
	bool show;		/* show only_id, not list */
	uint32_t only_id;
	uint64_t *packets, *bytes;	/* list: counters by table entry */
	uint32_t n_counters;
	struct event_watch *watch;	/* dyperctl watch: streaming events */
	bool watch_out;		/* its socket was full: EPOLLOUT armed */
	struct control_conn *next;
};

#define LAT_RING 4096

struct stats {
	uint64_t requests, opens, closes, denials, refusals, errors;
	uint64_t stale, expired, repairs, batches, batch_ops, batch_max;
	uint64_t queued, queue_timeouts, rate_limited;
	uint64_t channels_refused;	/* connections over max_channels[_per_user] */
	uint64_t fds_lost;		/* requests whose passed descriptors we could not take */
	uint32_t lat_us[LAT_RING];
	uint32_t lat_n;
};

/* Agent channels open per uid (SO_PEERCRED at connect). */
struct uid_channels {
	uid_t uid;
	uint32_t n;
	struct uid_channels *next;
};

#define UID_BUCKETS 256

struct site;

struct dyperd {
	struct dyper_config cfg;
	struct site *site;		/* site mode (site.h); NULL on a host */
	char config_path[4096];
	struct policy *policy;
	struct enf_slot slots[ENGINE_MAX_ENFORCERS];
	unsigned n_slots;
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
	uint32_t n_channels, n_paused;
	uint32_t channel_room;		/* most channels RLIMIT_NOFILE leaves room for */
	struct uid_channels *uid_channels[UID_BUCKETS];
	struct control_conn *controls;
	unsigned n_controls;
	int spare_fd;			/* /dev/null, given up to refuse a connection on EMFILE */
	uint64_t agent_rearm_ms, control_rearm_ms;	/* listener paused until; 0: armed */
	int resume_lfd, resume_alfd;	/* resume.c: the resume socket, its abstract twin */
	struct ev_tag resume_tag, resume_atag;
	uint64_t resume_rearm_ms, resume_arearm_ms;
	int resume_state_fd;		/* the channels' state file */
	struct resume_rec *resume_recs;
	uint32_t resume_n;
	uint64_t resume_check_ms;

	struct pending *ops;		/* unfinished operations, newest first */
	size_t n_ops;
	uint64_t op_seq;
	struct engine_reader *readers;
	unsigned reconciling;		/* read-backs in flight */
	uint64_t answers;		/* completions seen: progress of a commit */
	bool reconcile_now;		/* after a repair: a full reconcile at once */
	unsigned adopted, dropped;	/* recovery at start */
	struct waiting *waiting;	/* FIFO ring */
	size_t wait_head, n_waiting;

	uint64_t next_reconcile_ms;
	uint64_t next_tamper_ms;
	bool need_reconcile;	/* destroy notifications were lost, or tampering */
	bool running;
	bool foreground;
	struct stats st;
	struct metrics metrics;
	struct events events;		/* journal, watchers, history (events.c) */
};

/*
 * engine.c: the pinhole engine, over any number of enforcers
 * (nft/enforcer_if.h).  Requests change dyperd's table at once and queue an
 * operation per enforcer; engine_commit() hands the queues to the enforcers
 * in batches, and an operation finishes, with the requester's reply, when
 * every enforcer has answered.  Nothing here waits for an enforcer but
 * engine_start() and engine_stop(), outside the event loop.
 */
int engine_init(struct dyperd *d);		/* table and wait queue */
/* Takes ownership of @e (freed by engine_stop, also on failure here). */
int engine_add_enforcer(struct dyperd *d, struct enforcer *e);
int engine_start(struct dyperd *d);		/* init, set up, recover from the enforcers */
void engine_commit(struct dyperd *d);		/* end of a loop iteration: submit, collect */
void engine_enforcer_ready(struct dyperd *d, struct enf_slot *s);	/* its fd is readable */
void engine_tick(struct dyperd *d);		/* timer: expiry, queue, tamper, reconcile */
void engine_socket_gone(struct dyperd *d, uint64_t cookie);
int engine_reconcile(struct dyperd *d);
/* Closes pinhole @id for dyperctl: 0 when queued, and @done gets the
 * outcome later (never from inside this call); 1 when nothing is left to
 * do, -ENOENT or -ENOMEM: @why says. */
int engine_close_id(struct dyperd *d, uint32_t id, char *why, size_t len,
		    void (*done)(struct dyperd *d, int err, const char *msg, void *arg), void *arg);
/* Reads back the pinholes of the first enforcer (counters for dyperctl
 * list): @entry for each, then @done.  0 or -ENOMEM. */
int engine_read(struct dyperd *d, void (*entry)(struct dyperd *d, const struct pinhole_entry *pe,
						  void *arg),
		void (*done)(struct dyperd *d, int err, const char *msg, void *arg), void *arg);
/* Converges this host's table (the first enforcer) to @cfg, borrowed until
 * @done gets the outcome (never from inside this call): one transaction,
 * pinholes kept (ENFORCER_RECONFIG).  0 or -errno (not submitted). */
int engine_reconfigure(struct dyperd *d, const struct nft_enforcer_config *cfg,
		       void (*done)(struct dyperd *d, int err, const char *msg, void *arg),
		       void *arg);
/* @arg (a dyperctl connection) is gone: none of its callbacks will run. */
void engine_forget_arg(struct dyperd *d, void *arg);
/* True when nobody else can change the first enforcer's pinholes. */
bool engine_exclusive(const struct dyperd *d);
void engine_stop(struct dyperd *d);		/* on_exit keep|flush, frees the enforcers */
/* Queues an agent's open or close; replies come once the enforcers answered. */
void engine_request_open(struct dyperd *d, const struct pinhole *ph, uint32_t rule_line,
			 uint32_t lifetime_ms, bool oneshot, struct reply_to *reply);
void engine_request_close(struct dyperd *d, const struct pinhole *ph, uid_t uid,
			  struct reply_to *reply);
/* Sends a reply and releases its reply socket. */
void reply_send(struct dyperd *d, struct reply_to *r, int status, uint32_t id,
		uint32_t lifetime_ms, const char *reason);
/* Forget a channel in every pending reply (it is closing). */
void engine_forget_channel(struct dyperd *d, struct channel *ch);

/* channel.c: the agent channel (accepting agents, reading their requests) */
int channel_listen(struct dyperd *d);
/* Sets d->channel_room from the descriptor limit @nofile, keeping a
 * reserve for everything else; 0, or -EMFILE if @nofile is too small. */
int channel_fd_budget(struct dyperd *d, unsigned long nofile);
void channel_accept(struct dyperd *d);
/* accept() on listener @lfd failed with @err (EMFILE, ENFILE, ...): refuses
 * the connection at the head of its queue with the spare descriptor and
 * stops watching @lfd until channel_tick() re-arms it after a short delay,
 * instead of spinning on a listener that stays readable. */
void listener_backoff(struct dyperd *d, int lfd, struct ev_tag *tag, uint64_t *rearm_ms,
		      int err, const char *what);
/* Timer: re-arms paused listeners, resumes channels whose tokens refilled. */
void channel_tick(struct dyperd *d);
void channel_readable(struct dyperd *d, struct channel *ch);
void channel_close(struct dyperd *d, struct channel *ch);
/* A resume socket (@tag: d->resume_tag or d->resume_atag) is readable. */
void channel_accept_resume(struct dyperd *d, struct ev_tag *tag);

/*
 * resume.c: channels that outlive dyperd.  resume_open() (before the
 * privilege drop) opens the state file beside the agent socket, keeps the
 * records whose processes still run and listens on the resume socket.
 * resume_ticket() issues @ch's ticket (drawn once per channel) to process
 * @pid; resume_claim() gives a connection on the resume socket the
 * identity its ticket stands for, or -EACCES with @why.  0 or -errno.
 */
int resume_open(struct dyperd *d);
int resume_ticket(struct dyperd *d, struct channel *ch, uint32_t pid, struct dyper_ticket *t);
int resume_claim(struct dyperd *d, struct channel *ch, const struct ucred *cr,
		 const struct dyper_ticket *t, char *why, size_t len);
void resume_mark_pending(struct channel *ch);	/* accepted on the resume socket */
void resume_channel_closed(struct dyperd *d, struct channel *ch);
void resume_tick(struct dyperd *d);	/* timer: idle resume connections, dead records */
void resume_free(struct dyperd *d);	/* at exit: the records stay in the file */

/* control.c: dyperctl's socket */
int control_listen(struct dyperd *d);
void control_accept(struct dyperd *d);
void control_event(struct dyperd *d, struct control_conn *c, uint32_t events);
/* timer: closes the connections that sent no command line in time */
void control_tick(struct dyperd *d);

/* control.c: answers the connections that wait for reload number @ticket */
void control_reload_done(struct dyperd *d, uint64_t ticket, int err, const char *msg);

/* reload.c: asks for a reload of dyper.conf and the policy, read and parsed
 * beside the loop.  Returns the number of the reload that will carry it
 * out: reload_finish() hands that number back once it is applied or
 * refused. */
uint64_t reload_request(struct dyperd *d);
/* reload.c: d->reload_fd is readable.  True when a reload is over: then
 * *@ticket is its number, *@rc 0 or its error, @msg what it did (for the
 * log and dyperctl); the next one asked for meanwhile is started. */
bool reload_finish(struct dyperd *d, uint64_t *ticket, int *rc, char *msg, size_t len);

#endif
