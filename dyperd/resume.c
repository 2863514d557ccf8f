// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Resumable channels: a wrapped program's channel outlives dyperd (a
 * restart, an upgrade, a crash, under systemd or any other supervisor).
 *
 * Why: a channel is a connection to one dyperd process.  A program that
 * dyper-wrap started holds it, but no longer holds the wrapper's group, so
 * it cannot connect to the agent socket again once that dyperd is gone.
 *
 * How: on the agent's TICKET request dyperd draws a random id and a 256-bit
 * secret (getrandom) for the channel and records, in a state file next to
 * the agent socket, the identity the channel was given: the uid of its
 * creator (SO_PEERCRED), the delegate group the wrapper held, whether
 * dyper-wrap declared a program and which file (path, device, inode), and
 * the processes that hold it (pid and start time).  The agent keeps the
 * ticket in its memory only, never in the environment.  When dyperd is
 * back, the agent connects to the resume socket (DYPER_RESUME_NAME, mode
 * 0666: any user may reach it) and presents the ticket as its first and
 * only message; dyperd restores exactly the recorded identity on that
 * connection.
 *
 * Security: a resume grants nothing the wrapper did not grant.  The secret
 * is as strong as the channel descriptor it stands for, and known only to
 * processes that held that descriptor (and to dyperd); the resumer's uid
 * (SO_PEERCRED) must be the recorded one, so another user gets nothing
 * even with a stolen ticket (root's channel: or a process of the tree of
 * one that held it, whose requests are charged to their own uids); program= rules still hold per request to the
 * recorded file (device and inode of /proc/PID/exe), pinned again from the
 * resumer's own executable when it runs that file, else never matched; a
 * resumed channel cannot declare a program again (HELLO comes too late);
 * a wrong ticket closes the connection, and unauthenticated connections
 * count against the per-user channel caps and are closed after
 * RESUME_WAIT_MS.  A record lives while its channel is connected or one
 * of its recorded processes runs (same start time; checked at start, when
 * its last connection closes and every RESUME_CHECK_MS): a ticket does not
 * outlive every process that held the channel.
 *
 * The state file: fixed-size slots, each written with one pwrite() and
 * carrying a checksum, so that a crash mid-write loses at most that one
 * record; mode 0600, dyperd's user's; at most max_channels slots.  It holds
 * the secrets themselves: only dyperd's user (and root) can read it, who
 * control dyperd anyway.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "dyperd/daemon.h"
#include "dyperd/log.h"

#define RESUME_MAGIC	0x44595052u	/* "DYPR" */
#define RESUME_VERSION	1
#define RESUME_WAIT_MS	5000		/* for an unauthenticated connection's RESUME */
#define RESUME_CHECK_MS	10000		/* liveness of detached records */
#define STATE_NAME	"channels"

/* One slot of the state file (host byte order: it never leaves the host). */
struct resume_slot {
	uint32_t magic, version;
	uint64_t id;
	uint8_t secret[DYPER_SECRET_LEN];
	uint32_t uid, gid;
	uint32_t wrapped;
	uint32_t pids[RESUME_PIDS];
	uint64_t starts[RESUME_PIDS];
	uint64_t program_dev, program_ino;
	char program[RESUME_PROGRAM_LEN];
	uint64_t check;
};

static uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

/* Start time of @pid (clock ticks since boot, /proc/PID/stat field 22),
 * and its parent into @ppid if not NULL; 0 when it is gone. */
static uint64_t proc_stat(uint32_t pid, uint32_t *ppid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* comm may hold anything */
	if (!p)
		return 0;
	/* ") S ppid ...": field 3 is the state */
	for (field = 2; *p && field < 22; p++) {
		if (*p == ' ')
			field++;
		if (field == 4 && *p == ' ' && ppid)
			*ppid = (uint32_t)strtoul(p + 1, NULL, 10);
	}
	return strtoull(p, NULL, 10);
}

static uint64_t start_time(uint32_t pid)
{
	return proc_stat(pid, NULL);
}

static bool rec_has(const struct resume_rec *r, uint32_t pid, uint64_t start)
{
	for (int i = 0; i < RESUME_PIDS; i++)
		if (r->pids[i] == pid && r->starts[i] == start)
			return true;
	return false;
}

/* True when @pid is, or descends from, a process that held the channel. */
static bool rec_descends(const struct resume_rec *r, uint32_t pid)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		uint32_t ppid = 0;
		uint64_t st = proc_stat(pid, &ppid);

		if (!st)
			return false;
		if (rec_has(r, pid, st))
			return true;
		pid = ppid;
	}
	return false;
}

static bool rec_alive(const struct resume_rec *r)
{
	for (int i = 0; i < RESUME_PIDS; i++)
		if (r->pids[i] && start_time(r->pids[i]) == r->starts[i])
			return true;
	return false;
}

/* Remembers @pid among the record's holders (the most recent RESUME_PIDS). */
static void rec_add_pid(struct resume_rec *r, uint32_t pid)
{
	uint64_t st = start_time(pid);

	if (!pid || !st)
		return;
	if (rec_has(r, pid, st))
		return;
	memmove(r->pids + 1, r->pids, (RESUME_PIDS - 1) * sizeof(r->pids[0]));
	memmove(r->starts + 1, r->starts, (RESUME_PIDS - 1) * sizeof(r->starts[0]));
	r->pids[0] = pid;
	r->starts[0] = st;
}

static int slot_write(struct dyperd *d, const struct resume_rec *r, bool clear)
{
	struct resume_slot s;
	ssize_t n;

	memset(&s, 0, sizeof(s));
	if (!clear) {
		s.magic = RESUME_MAGIC;
		s.version = RESUME_VERSION;
		s.id = r->id;
		memcpy(s.secret, r->secret, sizeof(s.secret));
		s.uid = r->uid;
		s.gid = r->gid;
		s.wrapped = r->wrapped;
		memcpy(s.pids, r->pids, sizeof(s.pids));
		memcpy(s.starts, r->starts, sizeof(s.starts));
		s.program_dev = r->program_dev;
		s.program_ino = r->program_ino;
		memcpy(s.program, r->program, sizeof(s.program));
		s.check = fnv1a(&s, offsetof(struct resume_slot, check));
	}
	n = pwrite(d->resume_state_fd, &s, sizeof(s), (off_t)r->slot * (off_t)sizeof(s));
	if (n == (ssize_t)sizeof(s))
		return 0;
	log_limited(LOG_WARNING, "resume state", "cannot write the channel state file: %s: "
		    "a channel may not survive a restart", n < 0 ? strerror(errno) : "short write");
	return n < 0 ? -errno : -EIO;
}

static void rec_free(struct dyperd *d, struct resume_rec *r)
{
	struct resume_rec **p = &d->resume_recs;

	while (*p && *p != r)
		p = &(*p)->next;
	if (*p)
		*p = r->next;
	if (d->resume_state_fd >= 0)
		slot_write(d, r, true);
	explicit_bzero(r->secret, sizeof(r->secret));
	free(r);
	d->resume_n--;
}

/* The lowest free slot, or -ENOSPC beyond max_channels. */
static int free_slot(const struct dyperd *d, uint32_t *slot)
{
	for (uint32_t i = 0; i < d->cfg.max_channels; i++) {
		bool used = false;

		for (const struct resume_rec *r = d->resume_recs; r && !used; r = r->next)
			used = r->slot == i;
		if (!used) {
			*slot = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Reads the state file: records of processes still running are kept,
 * detached until resumed; the others' slots are cleared. */
static void state_load(struct dyperd *d)
{
	struct resume_slot s;
	uint32_t kept = 0, dropped = 0;

	for (uint32_t i = 0; i < d->cfg.max_channels; i++) {
		ssize_t n = pread(d->resume_state_fd, &s, sizeof(s), (off_t)i * (off_t)sizeof(s));
		struct resume_rec *r;

		if (n != (ssize_t)sizeof(s))
			break;
		if (s.magic != RESUME_MAGIC)
			continue;
		r = calloc(1, sizeof(*r));
		if (!r)
			break;
		r->slot = i;
		if (s.version != RESUME_VERSION || s.check != fnv1a(&s, offsetof(struct resume_slot, check))) {
			dropped++;
			slot_write(d, r, true);
			free(r);
			continue;
		}
		r->id = s.id;
		memcpy(r->secret, s.secret, sizeof(r->secret));
		r->uid = s.uid;
		r->gid = s.gid;
		r->wrapped = s.wrapped != 0;
		memcpy(r->pids, s.pids, sizeof(r->pids));
		memcpy(r->starts, s.starts, sizeof(r->starts));
		r->program_dev = s.program_dev;
		r->program_ino = s.program_ino;
		memcpy(r->program, s.program, sizeof(r->program));
		r->program[sizeof(r->program) - 1] = '\0';
		r->next = d->resume_recs;
		d->resume_recs = r;
		d->resume_n++;
		if (rec_alive(r)) {
			kept++;
		} else {
			dropped++;
			rec_free(d, r);
		}
	}
	explicit_bzero(&s, sizeof(s));
	if (kept || dropped)
		log_notice("channels of the previous dyperd: %u may resume, %u dropped (their "
			   "programs are gone)", kept, dropped);
}

/* The path of @name in the agent socket's directory. */
static int beside_agent(const struct dyperd *d, const char *name, char *buf, size_t len)
{
	const char *a = d->cfg.agent_socket, *slash = strrchr(a, '/');
	int dir = slash ? (int)(slash - a) + 1 : 0;
	int n = snprintf(buf, len, "%.*s%s", dir, a, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A listening resume socket at @sa; the fd or -errno. */
static int resume_listen(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	/* credentials on every message, as on the agent socket */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int)) ||
	    bind(fd, (const struct sockaddr *)sa, len) || listen(fd, 256)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int resume_open(struct dyperd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char state[PATH_MAX];
	struct stat st;
	mode_t old;
	int fd, err;

	d->resume_lfd = d->resume_alfd = d->resume_state_fd = -1;
	if (beside_agent(d, STATE_NAME, state, sizeof(state)) ||
	    dyper_resume_path(d->cfg.agent_socket, sa.sun_path, sizeof(sa.sun_path))) {
		log_err("agent_socket %s: path too long for the resume socket beside it",
			d->cfg.agent_socket);
		return -ENAMETOOLONG;
	}
	/* opened before the privileges go: the directory may be root's */
	d->resume_state_fd = open(state, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->resume_state_fd < 0 || fstat(d->resume_state_fd, &st) || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) || (st.st_uid != geteuid() && st.st_uid != 0)) {
		log_err("cannot use %s for the channels' state (a regular file, mode 0600, ours): "
			"%s", state, d->resume_state_fd < 0 ? strerror(errno) : "wrong type, mode "
			"or owner");
		return -EPERM;
	}
	state_load(d);

	if (lstat(sa.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket: remove it", sa.sun_path);
			return -EEXIST;
		}
		unlink(sa.sun_path);
	}
	old = umask(0);
	fd = resume_listen(&sa, sizeof(sa));
	umask(old);
	/* anyone may connect: a ticket is the only way in */
	err = fd < 0 ? fd : chmod(sa.sun_path, 0666) ? -errno : 0;
	if (err) {
		log_err("cannot listen on %s: %s", sa.sun_path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	d->resume_lfd = fd;
	/* best effort: a name anyone could have taken first (the agent
	 * checks who answers there) */
	fd = resume_listen(&sa, dyper_resume_abstract(d->cfg.agent_socket, &sa));
	if (fd < 0)
		log_warn("cannot listen on the abstract resume socket @%s: %s: chrooted programs "
			 "cannot resume their channels", sa.sun_path + 1, strerror(-fd));
	d->resume_alfd = fd;
	return 0;
}

int resume_ticket(struct dyperd *d, struct channel *ch, uint32_t pid, struct dyper_ticket *t)
{
	struct resume_rec *r = ch->rec;
	int err;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		err = free_slot(d, &r->slot);
		if (!err && (getrandom(&r->id, sizeof(r->id), 0) != sizeof(r->id) ||
			     getrandom(r->secret, sizeof(r->secret), 0) != sizeof(r->secret)))
			err = -EAGAIN;
		if (err) {
			free(r);
			return err;
		}
		r->uid = ch->peer_uid;
		r->gid = ch->delegate_gid;
		r->wrapped = ch->wrapped;
		r->program_dev = ch->program_dev;
		r->program_ino = ch->program_ino;
		/* a longer path is not recorded: program= then fails closed */
		if (ch->program && strlen(ch->program) < sizeof(r->program))
			strcpy(r->program, ch->program);
		rec_add_pid(r, (uint32_t)ch->peer_pid);
		r->live = 1;
		r->next = d->resume_recs;
		d->resume_recs = r;
		d->resume_n++;
		ch->rec = r;
	}
	rec_add_pid(r, pid);
	err = slot_write(d, r, false);
	if (err)
		return err;
	t->channel_id = r->id;
	memcpy(t->secret, r->secret, sizeof(t->secret));
	return 0;
}

static bool in_userns(const struct dyperd *d, pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	return pid > 0 && !stat(path, &st) && st.st_dev == d->userns_dev &&
	       st.st_ino == d->userns_ino;
}

static bool secret_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < DYPER_SECRET_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

int resume_claim(struct dyperd *d, struct channel *ch, const struct ucred *cr,
		 const struct dyper_ticket *t, char *why, size_t len)
{
	struct resume_rec *r = d->resume_recs;
	char path[64];
	struct stat st;

	while (r && r->id != t->channel_id)
		r = r->next;
	if (!r || !secret_equal(r->secret, t->secret)) {
		snprintf(why, len, "no channel with that ticket");
		return -EACCES;
	}
	/*
	 * The connection's uid, from the kernel at connect: a ticket is no
	 * use to another user.  Root's channel is the exception its sessions
	 * need (vsftpd's run as the user who logged in, and held the channel
	 * as such): another uid, of our user namespace, in the process tree
	 * of a process that held it, where each request is charged to its
	 * own uid (charged_uid) as before.
	 */
	if (ch->peer_uid != r->uid &&
	    (r->uid != 0 || !rec_descends(r, (uint32_t)cr->pid) || !in_userns(d, cr->pid))) {
		snprintf(why, len, "the channel belongs to uid %u", r->uid);
		return -EACCES;
	}
	ch->resuming = false;
	ch->served = true;	/* too late to declare a program */
	ch->delegate_gid = r->gid;
	ch->wrapped = r->wrapped;
	if (r->program[0]) {
		ch->program = strdup(r->program);
		ch->program_dev = r->program_dev;
		ch->program_ino = r->program_ino;
		/* pinned again from a process that runs that very file */
		snprintf(path, sizeof(path), "/proc/%d/exe", cr->pid);
		if (ch->program && !stat(path, &st) && st.st_dev == r->program_dev &&
		    st.st_ino == r->program_ino)
			ch->program_fd = open(path, O_PATH | O_CLOEXEC);
	}
	rec_add_pid(r, (uint32_t)cr->pid);
	slot_write(d, r, false);
	r->live++;
	ch->rec = r;
	log_info("channel %llu resumes channel %016llx of uid %u (pid %d)%s%s",
		 (unsigned long long)ch->serial, (unsigned long long)r->id, r->uid, cr->pid,
		 ch->program ? ": program " : "", ch->program ? ch->program : "");
	return 0;
}

void resume_channel_closed(struct dyperd *d, struct channel *ch)
{
	struct resume_rec *r = ch->rec;

	ch->rec = NULL;
	/* every connection closed, and no process that held one runs:
	 * nothing to resume.  One that runs may hold a copy of a dead
	 * connection and the ticket with it (a child forked before a restart). */
	if (r && --r->live == 0 && !rec_alive(r))
		rec_free(d, r);
}

void resume_tick(struct dyperd *d)
{
	uint64_t now = now_ms();
	struct resume_rec *r, *rn;

	if (now < d->resume_check_ms)
		return;
	d->resume_check_ms = now + RESUME_CHECK_MS;
	for (r = d->resume_recs; r; r = rn) {
		rn = r->next;
		if (!r->live && !rec_alive(r))
			rec_free(d, r);
	}
}

void resume_mark_pending(struct channel *ch)
{
	ch->resuming = true;
	ch->resume_deadline_ms = now_ms() + RESUME_WAIT_MS;
}

void resume_free(struct dyperd *d)
{
	while (d->resume_recs) {
		struct resume_rec *r = d->resume_recs;

		d->resume_recs = r->next;
		explicit_bzero(r->secret, sizeof(r->secret));
		free(r);
	}
	if (d->resume_state_fd >= 0)
		close(d->resume_state_fd);
	d->resume_state_fd = -1;
}
