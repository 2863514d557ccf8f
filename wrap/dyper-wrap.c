// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyper-wrap: runs a program with Dyper's agent preloaded and an
 * authenticated channel to dyperd (the paper's §4.1, "Local
 * Authentication", with a setgid wrapper instead of a setuid one).
 *
 * Installed setgid to the group of dyperd's agent socket, it
 *   1. connects to the agent socket while it holds that group (dyperd takes
 *      the group from SO_PEERCRED: it is the request's delegate) and sends
 *      a HELLO to prove that dyperd answers and speaks our protocol; the
 *      HELLO carries the file PROGRAM will run as, which dyperd holds
 *      program= rules to (the user controls nothing on the channel yet);
 *   2. drops the group for good (real, effective and saved gid), and every
 *      capability unless the caller is root, and verifies the drop;
 *   3. execs PROGRAM with the caller's environment minus LD_* and whatever
 *      else glibc's secure mode drops, plus LD_PRELOAD = the agent alone and
 *      DYPER_CHANNEL_FD = the channel, which stays open across the exec
 *      (the agent marks it close-on-exec again at startup).
 *
 * The wrapper group is raised only for connect() and for reading the
 * default configuration; what the caller names (-c FILE, -p PATH,
 * PROGRAM) is opened with the caller's own groups.  Nothing is read from
 * the environment.  Root callers keep root's privileges: root-started
 * servers (vsftpd) must still bind port 21, chroot and drop to their user.
 * Only root may name another agent (-p): it runs inside PROGRAM, and would
 * ask in PROGRAM's name.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cap-ng.h>

#include "conf/config.h"
#include "dyperd/proto.h"

#ifndef DYPER_PRELOAD_PATH
#error "DYPER_PRELOAD_PATH must be defined (the Makefile passes $(LIBDIR)/dyper/libdyper-preload.so)"
#endif

/* Exit statuses of dyper-wrap itself; otherwise PROGRAM's own. */
#define EXIT_WRAP	1	/* usage, dyperd unreachable, failed drop, ... */
#define EXIT_NOEXEC	126	/* PROGRAM found but not executable */
#define EXIT_NOTFOUND	127	/* PROGRAM not found */

#define HELLO_TIMEOUT_MS 5000

static bool quiet;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dyper-wrap [OPTIONS] PROGRAM [ARGS...]\n"
		"Runs PROGRAM with Dyper's agent preloaded and a channel to dyperd, so that\n"
		"dyperd opens pinholes in the firewall for the ports PROGRAM needs.\n\n"
		"  -c, --config FILE   dyper.conf to take agent_socket from (default %s;\n"
		"                      if that is missing: %s)\n"
		"  -s, --socket PATH   dyperd's agent socket (the configuration is not read)\n"
		"  -p, --preload PATH  the agent library (default %s; root only)\n"
		"  -q, --quiet         print no warnings (errors are still printed)\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this help\n\n"
		"Options end at PROGRAM: what follows it is PROGRAM's.  dyper-wrap must be\n"
		"installed setgid to the agent socket's group (group = in dyper.conf, \"dyper\"\n"
		"by default); it drops that group, and every capability unless run by root,\n"
		"before it runs PROGRAM.\n\n"
		"Exit status: PROGRAM's own; 1 if dyper-wrap failed (usage, dyperd unreachable,\n"
		"privilege drop), 126 if PROGRAM could not be executed, 127 if it was not found.\n",
		DYPER_CONFIG_PATH, DYPER_AGENT_SOCKET, DYPER_PRELOAD_PATH);
}

__attribute__((format(printf, 1, 2)))
static noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fputs("dyper-wrap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_WRAP);
}

__attribute__((format(printf, 1, 2)))
static void warn(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fputs("dyper-wrap: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Descriptors 0-2 open, so that the channel can never become PROGRAM's
 * stdin, stdout or stderr. */
static void std_fds_open(void)
{
	for (int fd = 0; fd < 3; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		nfd = open("/dev/null", O_RDWR | O_NOCTTY);
		if (nfd != fd)
			exit(EXIT_WRAP);	/* stderr may be the one missing: say nothing */
	}
}

static void set_egid(gid_t gid)
{
	if (setegid(gid) || getegid() != gid)
		die("cannot switch to effective gid %u: %s", (unsigned)gid, strerror(errno));
}

/* An absolute path to an existing regular file, usable in LD_PRELOAD
 * (which ld.so splits at blanks and colons). */
static void check_agent(const char *path)
{
	struct stat st;

	if (path[0] != '/')
		die("agent library %s: expected an absolute path", path);
	if (strlen(path) >= PATH_MAX)
		die("agent library path too long (%zu bytes)", strlen(path));
	if (strpbrk(path, " \t\n:"))
		die("agent library %s: the path must not contain blanks or ':' (LD_PRELOAD "
		    "splits there)", path);
	if (stat(path, &st)) {
		int err = errno;

		die("agent library %s: %s%s", path, strerror(err),
		    err == ENOENT ? " (is Dyper's agent installed? see -p)" : "");
	}
	if (!S_ISREG(st.st_mode))
		die("agent library %s: expected a regular file", path);
}

/* The connected channel (close-on-exec for now), or -errno. */
static int channel_connect(const char *path, gid_t wgid, gid_t rgid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1, fd, err = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("agent socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	/* the kernel then attaches our credentials to every message even if
	 * dyperd has not yet set SO_PASSCRED on its end: it needs them */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		die("SO_PASSCRED: %s", strerror(errno));
	set_egid(wgid);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		err = -errno;
	set_egid(rgid);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Sends a HELLO on @fd, declaring @progfd (-1: none) the program of the
 * channel, and waits (bounded) for dyperd's reply.  Returns the reply's
 * status (0 or -errno from dyperd), -ETIMEDOUT, -ECONNRESET, -EBADMSG, or
 * -EPROTONOSUPPORT with *@peer_version set to what dyperd speaks (0 if it
 * only refused ours).  @reason gets dyperd's text.
 */
static int channel_hello(int fd, int progfd, unsigned *peer_version, char *reason,
			 size_t rlen)
{
	const struct dyper_hello hello = { .agent_version = DYPER_PROTO_VERSION,
					   .flags = DYPER_HELLO_PROGRAM };
	char out[DYPER_MSG_MAX], in[sizeof(struct dyper_hdr) + sizeof(struct dyper_reply) + 1];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	const uint32_t id = (uint32_t)getpid();
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t deadline = now_ms() + HELLO_TIMEOUT_MS;
	struct iovec iov = { .iov_base = out };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct dyper_reply rep;
	struct dyper_hdr h;
	const void *payload;
	ssize_t n;
	int len, err;

	*peer_version = 0;
	reason[0] = '\0';
	len = dyper_msg_encode(out, sizeof(out), DYPER_MSG_HELLO, 0, id, &hello, sizeof(hello));
	if (len < 0)
		return len;
	iov.iov_len = (size_t)len;
	if (progfd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &progfd, sizeof(int));
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	for (;;) {
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		break;
	}
	err = dyper_msg_decode(in, (size_t)n, &h, &payload);
	if (err == -EPROTONOSUPPORT) {
		*peer_version = h.version;
		return err;
	}
	if (err || h.type != DYPER_MSG_REPLY || h.id != id)
		return -EBADMSG;
	memcpy(&rep, payload, sizeof(rep));
	rep.reason[sizeof(rep.reason) - 1] = '\0';
	snprintf(reason, rlen, "%s", rep.reason);
	return rep.status > 0 ? -EBADMSG : rep.status;
}

/* Does the user @uid belong to group @gid (group database)? */
static bool user_in_group(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);
	gid_t stack[64], *list = stack;
	int n = 64;
	bool found = false;

	if (!pw)
		return false;
	if (pw->pw_gid == gid)
		return true;
	if (getgrouplist(pw->pw_name, pw->pw_gid, list, &n) < 0) {
		long max = sysconf(_SC_NGROUPS_MAX);

		if (n <= 0 || (max > 0 && n > max) || !(list = calloc((size_t)n, sizeof(*list))))
			return false;
		if (getgrouplist(pw->pw_name, pw->pw_gid, list, &n) < 0)
			n = 0;
	}
	for (int i = 0; i < n && !found; i++)
		found = list[i] == gid;
	if (list != stack)
		free(list);
	return found;
}

/*
 * The supplementary groups are the caller's own and normally stay as they
 * are; but if they hold the wrapper group and the user is not a member of
 * it, that group goes too (only root can do this: for others it is fatal).
 */
static void drop_foreign_wrapper_group(uid_t uid, gid_t rgid, gid_t wgid)
{
	long max = sysconf(_SC_NGROUPS_MAX);
	int n = getgroups(0, NULL), k = 0;
	bool holds = false;
	gid_t *g;

	if (wgid == rgid)
		return;		/* not setgid: nothing of ours to drop */
	if (n < 0 || (max > 0 && n > max))
		die("getgroups: %s", n < 0 ? strerror(errno) : "too many groups");
	if (n == 0)
		return;
	g = calloc((size_t)n, sizeof(*g));
	if (!g)
		die("out of memory");
	n = getgroups(n, g);
	if (n < 0)
		die("getgroups: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		holds |= g[i] == wgid;
	if (holds && !user_in_group(uid, wgid)) {
		for (int i = 0; i < n; i++)
			if (g[i] != wgid)
				g[k++] = g[i];
		if (setgroups((size_t)k, g))
			die("the supplementary groups hold the wrapper group %u, which uid %u is "
			    "not a member of, and it cannot be dropped: %s", (unsigned)wgid,
			    (unsigned)uid, strerror(errno));
	}
	free(g);
}

/*
 * Every capability gone: effective, permitted, inheritable, ambient.  The
 * bounding set stays: dropping it needs CAP_SETPCAP, which a user never
 * has (capng_apply(CAPNG_SELECT_BOTH) fails for every non-root caller),
 * and it only limits what a later exec of a file-capability program may
 * gain, which the user can do without us.
 */
static void drop_capabilities(void)
{
	const capng_select_t sel = (capng_select_t)(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT);
	const capng_type_t types[] = { CAPNG_EFFECTIVE, CAPNG_PERMITTED, CAPNG_INHERITABLE,
				       CAPNG_AMBIENT };
	int rc;

	capng_clear(sel);
	rc = capng_apply(sel);
	if (rc)
		die("cannot drop capabilities (libcap-ng error %d)", rc);
	/* verify against the kernel, not libcap-ng's copy */
	if (capng_get_caps_process())
		die("cannot read the capabilities back: %s", strerror(errno));
	if (capng_have_capabilities(sel) != CAPNG_NONE ||
	    capng_have_permitted_capabilities() != CAPNG_NONE)
		die("capability drop did not take");
	for (unsigned int cap = 0; cap < 64; cap++)
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			if (capng_have_capability(types[t], cap))
				die("capability drop did not take: %s still held",
				    capng_capability_to_name(cap) ?: "?");
}

/* Drops the wrapper group (and for non-root callers every capability)
 * permanently, and proves it. */
static void drop_privileges(uid_t uid, gid_t rgid, gid_t wgid)
{
	gid_t r, e, s;

	if (setresgid(rgid, rgid, rgid))
		die("cannot drop the wrapper group: setresgid: %s", strerror(errno));
	if (getresgid(&r, &e, &s))
		die("getresgid: %s", strerror(errno));
	if (r != rgid || e != rgid || s != rgid)
		die("group drop did not take: gids %u/%u/%u, expected %u", (unsigned)r,
		    (unsigned)e, (unsigned)s, (unsigned)rgid);
	drop_foreign_wrapper_group(uid, rgid, wgid);
	if (uid == 0)
		return;		/* root keeps root's privileges (and could regain any group) */
	drop_capabilities();
	if (wgid != rgid && setegid(wgid) == 0)
		die("group drop did not take: the wrapper group %u can be regained", (unsigned)wgid);
}

static bool env_unsafe(const char *entry)
{
	/* glibc's UNSECURE_ENVVARS (sysdeps/generic/unsecvars.h) besides LD_*,
	 * its tunables, and a channel the caller may have set */
	static const char *const names[] = {
		"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN",
		"LOCPATH", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR",
		"TZDIR", DYPER_CHANNEL_ENV,
	};
	static const char *const prefixes[] = { "LD_", "MALLOC_" };
	const char *eq = strchr(entry, '=');
	size_t len;

	if (!eq || eq == entry)
		return true;	/* not NAME=VALUE */
	len = (size_t)(eq - entry);
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(entry, prefixes[i], strlen(prefixes[i])))
			return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(entry, names[i], len))
			return true;
	return false;
}

/* PROGRAM's environment: ours without the unsafe variables, plus the
 * agent and the channel. */
static char **env_build(const char *agent, int channel)
{
	static char preload[sizeof("LD_PRELOAD=") + PATH_MAX];
	static char chan[sizeof(DYPER_CHANNEL_ENV "=") + 12];
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		if (!env_unsafe(environ[i]))
			env[k++] = environ[i];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", agent);
	snprintf(chan, sizeof(chan), "%s=%d", DYPER_CHANNEL_ENV, channel);
	env[k++] = preload;
	env[k++] = chan;
	env[k] = NULL;
	return env;
}

/* The first file named @prog in a directory of PATH, into @buf; with
 * @exec only a regular file the caller may execute: where execvp(3) finds
 * it. */
static bool path_find(const char *prog, bool exec, char *buf, size_t len)
{
	const char *p = getenv("PATH") ?: "/bin:/usr/bin", *end;
	struct stat st;

	for (; ; p = end + 1) {
		int dlen;

		end = strchrnul(p, ':');
		dlen = (int)(end - p);
		if (snprintf(buf, len, "%.*s%s%s", dlen, p, dlen ? "/" : "", prog) < (int)len &&
		    stat(buf, &st) == 0 && (!exec || (S_ISREG(st.st_mode) && !access(buf, X_OK))))
			return true;
		if (!*end)
			return false;
	}
}

/* Is there a file named @prog in a directory of PATH?  (execvp reports
 * EACCES when some directory of PATH is not searchable, even if @prog is
 * in none of them.) */
static bool in_path(const char *prog)
{
	char path[PATH_MAX];

	return path_find(prog, false, path, sizeof(path));
}

#define SCRIPT_DEPTH	4	/* the kernel's BINPRM_MAX_RECURSION: #! within #! */
#define SCRIPT_LINE	256	/* the kernel's BINPRM_BUF_SIZE: what it reads of a #! line */

/*
 * The file the kernel will run for PROGRAM, opened O_PATH with the
 * caller's own rights: PROGRAM found as execvp(3) finds it, or for a
 * script the interpreter its #! line names, followed as the kernel follows
 * it.  dyperd grants program= rules only to processes running this very
 * file (dyper-policy(5)).  -1 if none can be told: then no program= rule
 * matches on the channel, and exec reports a missing PROGRAM.  A file
 * replaced between here and the exec fails the same way, never the other.
 */
static int program_open(const char *prog)
{
	char path[PATH_MAX], line[SCRIPT_LINE + 1];

	if (strchr(prog, '/') ? snprintf(path, sizeof(path), "%s", prog) >= (int)sizeof(path)
			      : !path_find(prog, true, path, sizeof(path)))
		return -1;
	for (int depth = 0; depth <= SCRIPT_DEPTH; depth++) {
		char *interp, self[32];
		struct stat st;
		ssize_t got = -1;
		size_t n;
		int fd, rfd;

		fd = open(path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			close(fd);
			return -1;
		}
		/* the same inode for reading; one the caller cannot read is
		 * no script (an interpreter could not read it either) */
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		rfd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (rfd >= 0) {
			got = pread(rfd, line, SCRIPT_LINE, 0);
			close(rfd);
		}
		if (got < 2 || line[0] != '#' || line[1] != '!')
			return fd;
		close(fd);
		line[got] = '\0';
		interp = line + 2 + strspn(line + 2, " \t");
		n = strcspn(interp, " \t\n");
		/* no interpreter, or one the kernel would find cut off */
		if (n == 0 || (!interp[n] && got == SCRIPT_LINE))
			return -1;
		interp[n] = '\0';
		snprintf(path, sizeof(path), "%s", interp);
	}
	return -1;
}

/* Where the agent socket is: -s, else the configuration's agent_socket. */
static void socket_path(const char *config, char *buf, size_t len, gid_t wgid, gid_t rgid)
{
	static struct dyper_config cfg;
	char err[1024];
	int rc;

	/* a file the caller names is read with the caller's groups only;
	 * the default one (a fixed root-owned path) with the wrapper's */
	if (!config)
		set_egid(wgid);
	rc = dyper_config_load(&cfg, config ? config : DYPER_CONFIG_PATH, !config, err,
			       sizeof(err));
	if (!config)
		set_egid(rgid);
	if (rc)
		die("%s", err);
	snprintf(buf, len, "%s", cfg.agent_socket);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "preload", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *config = NULL, *sock = NULL, *agent = DYPER_PRELOAD_PATH, *prog;
	bool agent_named = false;
	char sock_buf[DYPER_CONFIG_SOCKET_LEN], reason[DYPER_REASON_LEN];
	const uid_t uid = getuid();
	gid_t rgid, wgid, sgid;
	unsigned peer_version;
	int c, fd, progfd, err, flags;
	char **env;

	std_fds_open();
	if (getresgid(&rgid, &wgid, &sgid))
		die("getresgid: %s", strerror(errno));
	/* the wrapper group is raised again only where it is needed */
	set_egid(rgid);

	while ((c = getopt_long(argc, argv, "+c:s:p:qVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'p':
			agent = optarg;
			agent_named = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'V':
			printf("dyper-wrap %s (agent protocol %d)\n", DYPER_VERSION,
			       DYPER_PROTO_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_WRAP;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "dyper-wrap: PROGRAM missing\n");
		usage(stderr);
		return EXIT_WRAP;
	}
	prog = argv[optind];

	/* the agent runs inside PROGRAM: another one would ask in PROGRAM's
	 * name, and dyperd cannot tell */
	if (agent_named && uid != 0)
		die("only root may choose the agent library (-p): it runs inside %s and could ask "
		    "dyperd for pinholes in that program's name; leave -p out (the agent is %s)",
		    prog, DYPER_PRELOAD_PATH);
	check_agent(agent);
	if (!sock) {
		socket_path(config, sock_buf, sizeof(sock_buf), wgid, rgid);
		sock = sock_buf;
	}

	fd = channel_connect(sock, wgid, rgid);
	if (fd == -ENOENT)
		die("dyperd is not running: no agent socket at %s (systemctl start dyperd)", sock);
	if (fd == -ECONNREFUSED)
		die("dyperd is not running: nothing listens on the agent socket %s (systemctl "
		    "start dyperd)", sock);
	if (fd == -EACCES && wgid == rgid)
		die("dyper-wrap cannot reach dyperd: it must be installed setgid to the agent "
		    "socket's group (chgrp dyper dyper-wrap; chmod 2711 dyper-wrap)");
	if (fd == -EACCES)
		die("dyper-wrap cannot reach dyperd: %s is not open to dyper-wrap's group %u: it "
		    "must be installed setgid to the agent socket's group (group = in dyper.conf; "
		    "chgrp GROUP dyper-wrap; chmod 2711 dyper-wrap)", sock, (unsigned)wgid);
	if (fd < 0)
		die("cannot connect to dyperd at %s: %s", sock, strerror(-fd));

	/* with the caller's rights, as the exec will look it up */
	progfd = program_open(prog);
	err = channel_hello(fd, progfd, &peer_version, reason, sizeof(reason));
	if (progfd >= 0)
		close(progfd);
	if (err == -EPROTONOSUPPORT && peer_version)
		die("dyperd at %s speaks agent protocol version %u, dyper-wrap %s version %d: "
		    "install matching versions of dyperd and dyper-wrap, then restart dyperd",
		    sock, peer_version, DYPER_VERSION, DYPER_PROTO_VERSION);
	if (err == -EPROTONOSUPPORT)
		die("dyperd at %s does not speak agent protocol version %d (dyper-wrap %s): "
		    "install matching versions of dyperd and dyper-wrap, then restart dyperd",
		    sock, DYPER_PROTO_VERSION, DYPER_VERSION);
	if (err == -ETIMEDOUT)
		die("dyperd at %s did not answer within %d s (journalctl -u dyperd)", sock,
		    HELLO_TIMEOUT_MS / 1000);
	if (err == -ECONNRESET)
		die("dyperd at %s closed the channel before answering (journalctl -u dyperd)", sock);
	if (err == -EBADMSG)
		die("dyperd at %s sent a malformed answer", sock);
	if (err)
		die("dyperd at %s refused the channel: %s%s%s", sock, strerror(-err),
		    reason[0] ? ": " : "", reason);
	/* the same protocol, another release: most likely an upgrade that
	 * has not restarted dyperd yet */
	if (!strncmp(reason, "dyperd ", 7) && strcmp(reason, "dyperd " DYPER_VERSION))
		warn("%s answers, this is dyper-wrap %s: restart dyperd after an upgrade", reason,
		     DYPER_VERSION);
	/* dyperd now sets SO_PASSCRED on its end: ours is no longer needed */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){ 0 }, sizeof(int)))
		die("SO_PASSCRED: %s", strerror(errno));

	drop_privileges(uid, rgid, wgid);

	env = env_build(agent, fd);
	flags = fcntl(fd, F_GETFD);
	if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC))
		die("cannot pass the channel on: %s", strerror(errno));
	environ = env;
	execvp(prog, argv + optind);
	err = errno;
	if (!strchr(prog, '/') && (err == ENOENT || (err == EACCES && !in_path(prog)))) {
		fprintf(stderr, "dyper-wrap: %s: command not found\n", prog);
		return EXIT_NOTFOUND;
	}
	fprintf(stderr, "dyper-wrap: %s: %s\n", prog, strerror(err));
	return err == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
