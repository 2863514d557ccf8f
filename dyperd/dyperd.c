// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyperd: Dyper's per-host controller.  Starts as root, creates its
 * sockets and the enforcer table, recovers the pinholes the kernel still
 * holds, drops to an unprivileged user keeping only CAP_NET_ADMIN (nftables,
 * sock_diag) and CAP_SYS_PTRACE (/proc/PID/exe of other users' processes),
 * then serves agents and dyperctl from one epoll loop.  It may also start
 * as that user already holding the two (systemd's User= with
 * AmbientCapabilities=, as dyperd.service does): then there is no id to switch.
 */

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "dyperd/border.h"
#include "dyperd/daemon.h"
#include "dyperd/diag.h"
#include "dyperd/listeners.h"
#include "dyperd/log.h"
#include "dyperd/nftconf.h"
#include "dyperd/site.h"

#define TICK_MS 100

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dyperd [OPTIONS]\n"
		"Dyper's controller: opens pinholes for applications started with dyper-wrap.\n\n"
		"  -c, --config FILE   configuration (default %s)\n"
		"  -f, --foreground    log to stderr as well as syslog (dyperd never forks:\n"
		"                      under systemd, Type=notify: it says READY=1)\n"
		"  -d, --debug         like -f, with debug logging\n"
		"      --check-config  check the configuration and the policy, then exit\n"
		"      --remove-table  delete the table (once dyperd is stopped for good), then exit\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this help\n\n"
		"Signals: TERM/INT stop (on_exit = keep|flush), HUP reloads dyper.conf and the\n"
		"policy (dyperctl reload does the same and reports errors).\n"
		"See dyperd(8), dyper.conf(5), dyper-policy(5).\n", DYPER_CONFIG_PATH);
}

static void notify_status(const char *also, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_ev(struct dyperd *d, int fd, struct ev_tag *tag, enum ev_kind kind)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	tag->kind = kind;
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Creates the directory of a socket path if it is missing (e.g. /run/dyper). */
static void make_socket_dir(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		log_warn("cannot create %s: %s", dir, strerror(errno));
}

/*
 * 0 if dyperd holds CAP_NET_ADMIN and CAP_SYS_PTRACE (effective and
 * permitted) and no other capability; ambient ones count as others only if
 * @ambient is false.
 */
static int caps_only_ours(bool ambient)
{
	capng_get_caps_process();
	for (unsigned int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		const int ours = cap == CAP_NET_ADMIN || cap == CAP_SYS_PTRACE;

		if (capng_have_capability(CAPNG_EFFECTIVE, cap) != ours ||
		    capng_have_capability(CAPNG_PERMITTED, cap) != ours ||
		    (!ours && capng_have_capability(CAPNG_INHERITABLE, cap)) ||
		    (!ambient && capng_have_capability(CAPNG_AMBIENT, cap)))
			return -EPERM;
	}
	return 0;
}

/* libcap-ng's state: our two capabilities only, to apply. */
static void want_ours(void)
{
	capng_clear(CAPNG_SELECT_BOTH);
	capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN,
		      CAP_SYS_PTRACE, -1);
}

/*
 * Switches to @uid/@gid keeping only the capabilities named above, then
 * proves it: ids all changed, root not regainable, no other capability.
 * Started already as @uid/@gid (the caller checked), nothing is switched,
 * and capset() is called only if more than ours is held, so that a unit's
 * system call filter may forbid it.  The bounding set then stays as it was
 * (clearing it needs CAP_SETPCAP), which grants nothing: dyperd execs
 * nothing, and sets no_new_privs below.
 */
static int drop_privileges(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int rc = 0;

	if (geteuid() != 0) {
		if (caps_only_ours(true)) {
			want_ours();
			rc = capng_apply(CAPNG_SELECT_CAPS);
		}
		/* ambient capabilities would pass to anything exec'd */
		if (!rc && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
			rc = -errno;
	} else {
		want_ours();
		if (uid == 0)
			rc = capng_apply(CAPNG_SELECT_BOTH);
		else
			rc = capng_change_id((int)uid, (int)gid,
					     CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	}
	if (rc) {
		log_err("cannot drop privileges (error %d)", rc);
		return -EPERM;
	}
	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid) {
		log_err("privilege drop did not take: uids %u/%u/%u gids %u/%u/%u", ru, eu, su,
			rg, eg, sg);
		return -EPERM;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_err("privilege drop did not take: root can be regained");
		return -EPERM;
	}
	if (caps_only_ours(false)) {
		log_err("privilege drop did not take: unexpected capabilities");
		return -EPERM;
	}
	/* nothing we exec (we exec nothing) may gain privileges */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

/*
 * Started without root: only as @pw with the same real, effective and saved
 * uid and one gid throughout (systemd's User= and Group=), holding the two
 * capabilities.  Sets *@gid to that gid.
 */
static int check_start_ids(const struct passwd *pw, gid_t *gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	bool net, ptrace;

	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg))
		return -errno;
	if (ru != pw->pw_uid || eu != pw->pw_uid || su != pw->pw_uid) {
		log_err("must start as root, or as user \"%s\" (uid %u) holding CAP_NET_ADMIN "
			"and CAP_SYS_PTRACE; running as uid %u", pw->pw_name, pw->pw_uid, eu);
		return -EPERM;
	}
	if (rg != eg || eg != sg) {
		log_err("started as \"%s\" with mixed gids %u/%u/%u: start with one group",
			pw->pw_name, rg, eg, sg);
		return -EPERM;
	}
	capng_get_caps_process();
	net = capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN);
	ptrace = capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_PTRACE);
	if (!net || !ptrace) {
		log_err("started as \"%s\" without %s%s%s: give it CAP_NET_ADMIN and "
			"CAP_SYS_PTRACE (AmbientCapabilities= and CapabilityBoundingSet= in "
			"dyperd.service; a container must grant them too), or start dyperd as root",
			pw->pw_name, net ? "" : "CAP_NET_ADMIN", !net && !ptrace ? " and " : "",
			ptrace ? "" : "CAP_SYS_PTRACE");
		return -EPERM;
	}
	*gid = eg;
	return 0;
}

/*
 * Tells a service manager how dyperd is doing (sd_notify(3)'s protocol:
 * one datagram to $NOTIFY_SOCKET), so that under Type=notify the units
 * ordered after dyperd.service, wrapped applications, start only once the
 * agent socket listens.  Nothing without $NOTIFY_SOCKET.
 */
static void notify_manager(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	int fd;

	if (!len || (path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';		/* an abstract address */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warn("cannot tell the service manager %s: %s", state, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * For --check-config: the services listening in this network namespace
 * right now that the table would cut off (sshd above all), on stderr.
 * Warnings only: a port may be closed on purpose.
 */
static void warn_cut_off(const struct dyperd *d)
{
	struct nft_enforcer_config nftcfg;
	struct listener *ls = NULL;
	char msg[512];
	size_t n, bad;
	int err = listeners_read(&ls, &n);

	if (err) {
		fprintf(stderr, "dyperd: warning: cannot list the listening sockets (/proc/net): "
			"%s: not checked whether the table would cut off a service\n",
			strerror(-err));
		return;
	}
	nftconf_from_config(&nftcfg, &d->cfg);
	bad = listeners_dropped(ls, n, &nftcfg);
	for (size_t i = 0; i < bad; i++) {
		listener_warning(&ls[i], msg, sizeof(msg));
		fprintf(stderr, "dyperd: WARNING: %s\ndyperd:   if other hosts must reach it, add "
			"%u to %s in %s\n", msg, ls[i].port,
			ls[i].proto == IPPROTO_TCP ? "tcp_ports" : "udp_ports", d->config_path);
	}
	free(ls);
}

/* STATUS= for `systemctl status`: one line, what dyperd is doing or did last. */
__attribute__((format(printf, 2, 3)))
static void notify_status(const char *also, const char *fmt, ...)
{
	char state[1024];
	int n = snprintf(state, sizeof(state), "%s%sSTATUS=", also ? also : "", also ? "\n" : "");
	va_list ap;

	if (n < 0 || (size_t)n >= sizeof(state))
		return;
	va_start(ap, fmt);
	vsnprintf(state + n, sizeof(state) - (size_t)n, fmt, ap);
	va_end(ap);
	for (char *p = state + n; *p; p++)
		if (*p == '\n')
			*p = ' ';
	notify_manager(state);
}

/* True when a dyperd answers on the control socket of @cfg. */
static bool dyperd_running(const struct dyper_config *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->control_socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/*
 * --remove-table: what package removal and `make uninstall` run once the
 * service is stopped, to leave the host as it was.  Only the configured
 * table, only if Dyper made it, never under a running dyperd (which would
 * rebuild it, or own it).  0 (also when there is none) or 1.
 */
static int remove_table(const struct dyperd *d)
{
	const char *t = d->cfg.enforcer_table;
	struct nft_enforcer_config nftcfg;
	struct nft_enforcer *e = NULL;
	int rc;

	if (dyperd_running(&d->cfg)) {
		fprintf(stderr, "dyperd: a dyperd answers on %s: stop it first (systemctl stop "
			"dyperd); table inet %s left in place\n", d->cfg.control_socket, t);
		return 1;
	}
	nftconf_from_config(&nftcfg, &d->cfg);
	rc = nft_enforcer_open(&e, &nftcfg);
	if (!rc)
		rc = nft_enforcer_destroy(e);
	if (rc == -ENOENT)
		printf("dyperd: no table inet %s: nothing to remove\n", t);
	else if (rc)
		fprintf(stderr, "dyperd: %s\n", e ? nft_enforcer_error(e) : strerror(-rc));
	else
		printf("dyperd: table inet %s removed: Dyper no longer filters inbound traffic "
		       "here\n", t);
	nft_enforcer_free(e);
	return rc && rc != -ENOENT ? 1 : 0;
}

static void on_destroyed(uint64_t cookie, void *arg)
{
	engine_socket_gone(arg, cookie);
}

static void handle_signal(struct dyperd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			int err;

			/* logrotate moved the event log away: write to a new one */
			if (d->cfg.event_log[0] && (err = log_events_open(d->cfg.event_log)))
				log_err("cannot reopen the event log %s: %s", d->cfg.event_log,
					strerror(-err));
			reload_request(d);
		} else {
			log_notice("signal %u: stopping", si.ssi_signo);
			notify_status("STOPPING=1", "stopping (signal %u, on_exit = %s)", si.ssi_signo,
				      d->cfg.on_exit == DYPER_ON_EXIT_FLUSH ? "flush" : "keep");
			d->running = false;
		}
	}
}

static int loop(struct dyperd *d)
{
	struct epoll_event evs[64];

	d->running = true;
	while (d->running) {
		int n = epoll_wait(d->epfd, evs, 64, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct ev_tag *tag = evs[i].data.ptr;
			uint64_t ticks;

			switch (tag->kind) {
			case EV_SIGNAL:
				handle_signal(d);
				break;
			case EV_RELOAD: {
				char msg[5120];	/* a policy path, the keys and the error */
				uint64_t ticket;
				int rc;

				if (reload_finish(d, &ticket, &rc, msg, sizeof(msg))) {
					notify_status(NULL, "%s", msg);
					control_reload_done(d, ticket, rc, msg);
				}
				break;
			}
			case EV_TIMER:
				if (read(d->timerfd, &ticks, sizeof(ticks)) > 0) {
					if (d->site) {
						site_tick(d);
					} else {
						engine_tick(d);
						channel_tick(d);
					}
					control_tick(d);
					log_limit_flush(now_ms());
				}
				break;
			case EV_SITE_LISTEN:
				site_accept(d);
				break;
			case EV_SITE_CONN:
				/* the connection may be freed here: nothing after it */
				site_conn_event(d, (struct site_conn *)tag, evs[i].events);
				break;
			case EV_SITE_ENFORCER:
				site_enforcer_ready(d);
				break;
			case EV_AGENT_LISTEN:
				channel_accept(d);
				break;
			case EV_RESUME_LISTEN:
				channel_accept_resume(d, tag);
				break;
			case EV_AGENT:
				/* the channel may be freed here: nothing after it */
				channel_readable(d, (struct channel *)tag);
				break;
			case EV_CONTROL_LISTEN:
				control_accept(d);
				break;
			case EV_CONTROL:
				control_event(d, (struct control_conn *)tag, evs[i].events);
				break;
			case EV_ENFORCER:
				engine_enforcer_ready(d, (struct enf_slot *)tag);
				break;
			case EV_DIAG:
				if (diag_destroy_read(d->diag_fd, on_destroyed, d) == -ENOBUFS) {
					log_warn("socket notifications were lost: reconciling");
					d->need_reconcile = true;
				}
				break;
			}
		}
		/* everything this iteration asked for: one transaction */
		if (d->site)
			site_commit(d);
		else
			engine_commit(d);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "remove-table", no_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct dyperd dd;
	struct dyperd *d = &dd;
	bool explicit_config = false, check_only = false, remove_only = false, debug = false;
	struct itimerspec its = { { 0, TICK_MS * 1000000 }, { 0, TICK_MS * 1000000 } };
	struct nft_enforcer_config nftcfg;
	struct nft_enforcer *nft;
	struct enforcer *local;
	struct passwd *pw;
	struct group *gr;
	struct rlimit rl;
	struct stat st;
	sigset_t mask;
	gid_t gid;
	char err[1024];
	int c, rc;

	snprintf(d->config_path, sizeof(d->config_path), "%s", DYPER_CONFIG_PATH);
	while ((c = getopt_long(argc, argv, "c:fdVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			snprintf(d->config_path, sizeof(d->config_path), "%s", optarg);
			explicit_config = true;
			break;
		case 'f':
			d->foreground = true;
			break;
		case 'd':
			d->foreground = debug = true;
			break;
		case 'C':
			check_only = true;
			break;
		case 'R':
			remove_only = true;
			break;
		case 'V':
			printf("dyperd %s\n", DYPER_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dyperd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	rc = dyper_config_load(&d->cfg, d->config_path, !explicit_config, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "dyperd: %s\n", err);
		return 1;
	}
	if (remove_only)
		return remove_table(d);
	/* site mode judges hosts with the site policy; a host its users */
	rc = d->cfg.site.enable ?
	     policy_load_as(&d->policy, d->cfg.site.policy, POLICY_SITE, err, sizeof(err)) :
	     policy_load(&d->policy, d->cfg.policy, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "dyperd: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration OK\n%s: %zu rules OK%s\n", d->config_path,
		       d->cfg.site.enable ? d->cfg.site.policy : d->cfg.policy,
		       policy_rule_count(d->policy), d->cfg.site.enable ? " (site policy)" : "");
		policy_free(d->policy);
		if (border_enabled(&d->cfg)) {
			struct passwd *kp = getpwnam(d->cfg.user);
			char why[REMOTE_SSH_ERROR_LEN];
			struct enforcer *site;

			/* the key as dyperd would load it: its user's, 0600 */
			rc = border_forwarder_new(&site, &d->cfg, kp ? kp->pw_uid : geteuid(), why);
			if (rc) {
				fprintf(stderr, "dyperd: [remote]: %s: dyperd would not start\n", why);
				return 1;
			}
			enforcer_free(site);
			printf("[remote]: key %s and pinned host keys %s OK (site %s port %u, "
			       "on_unreachable = %s)\n", d->cfg.remote.key, d->cfg.remote.known_hosts,
			       d->cfg.remote.host, (unsigned)d->cfg.remote.port,
			       d->cfg.remote.on_unreachable == DYPER_UNREACHABLE_LOCAL ? "local" : "fail");
		}
		if (!d->cfg.site.enable)
			warn_cut_off(d);
		return 0;
	}
	log_init(d->foreground, debug ? LOG_DEBUG : d->cfg.log_level);
	pw = getpwnam(d->cfg.user);
	gr = getgrnam(d->cfg.group);
	if (!pw) {
		log_err("user \"%s\" does not exist: create it (useradd --system --no-create-home "
			"--shell /usr/sbin/nologin %s) or set user= in %s", d->cfg.user, d->cfg.user,
			d->config_path);
		return 1;
	}
	gid = pw->pw_gid;
	if (geteuid() != 0 && check_start_ids(pw, &gid))
		return 1;
	if (!gr) {
		log_err("group \"%s\" does not exist: create it (groupadd --system %s) or set "
			"group= in %s", d->cfg.group, d->cfg.group, d->config_path);
		return 1;
	}
	if (d->cfg.event_log[0] && (rc = log_events_open(d->cfg.event_log))) {
		log_err("cannot open the event log %s: %s", d->cfg.event_log, strerror(-rc));
		return 1;
	}
	if (events_init(d)) {
		log_err("out of memory for the event history");
		return 1;
	}
	/* channels and waiting requests hold descriptors: allow many, and size
	 * the channel caps to what the limit leaves */
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		log_err("getrlimit: %s", strerror(errno));
		return 1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (channel_fd_budget(d, rl.rlim_cur == RLIM_INFINITY ? 1048576 : (unsigned long)rl.rlim_cur))
		return 1;

	d->agent_lfd = d->control_lfd = d->diag_fd = d->sigfd = d->timerfd = d->reload_fd = -1;
	d->resume_lfd = d->resume_alfd = d->resume_state_fd = -1;
	/* given up on EMFILE to refuse a connection rather than spin */
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (d->cfg.site.enable) {
		/* site mode: the router's table, no agents, no local table */
		make_socket_dir(d->cfg.site.socket);
		if (d->cfg.n_devices)
			notify_status(NULL, "reaching %zu border devices", d->cfg.n_devices);
		else
			notify_status(NULL, "setting up table inet %s on the router",
				      d->cfg.site.table);
		if (site_start(d))
			return 1;
		goto sockets;
	}
	nftconf_from_config(&nftcfg, &d->cfg);
	rc = nft_enforcer_open(&nft, &nftcfg);
	if (rc) {
		log_err("%s", nft ? nft_enforcer_error(nft) : strerror(-rc));
		return 1;
	}
	/* one enforcer for now: this host's table (batch size: batch_max) */
	rc = nft_local_new(&local, nft, 0);
	if (!rc)
		rc = engine_add_enforcer(d, local);
	if (rc) {
		log_err("cannot set up the enforcer: %s", strerror(-rc));
		return 1;
	}
	/* border mode: the site as a second enforcer; a bind waits for both */
	if (border_enabled(&d->cfg)) {
		char why[REMOTE_SSH_ERROR_LEN] = "";
		struct enforcer *site;

		/* the key is read now, as root, but must be the daemon user's */
		rc = border_forwarder_new(&site, &d->cfg, pw->pw_uid, why);
		if (!rc)
			rc = engine_add_enforcer(d, site);
		if (rc) {
			log_err("border mode ([remote] in %s): %s", d->config_path,
				why[0] ? why : strerror(-rc));
			return 1;
		}
		log_notice("border mode: pinholes are forwarded to the site at %s port %u as %s "
			   "(on_unreachable = %s)", d->cfg.remote.host, (unsigned)d->cfg.remote.port,
			   d->cfg.remote.user,
			   d->cfg.remote.on_unreachable == DYPER_UNREACHABLE_LOCAL ? "local" : "fail");
	}
	d->diag_fd = diag_destroy_open();
	if (d->diag_fd < 0) {
		log_err("cannot subscribe to socket destroy notifications (sock_diag): %s",
			strerror(-d->diag_fd));
		return 1;
	}
	rc = verify_netns_self(&d->netns);
	if (rc) {
		log_err("cannot tell which network namespace dyperd runs in (SO_NETNS_COOKIE, "
			"SIOCGSKNS, /proc/self/ns/net): %s", strerror(-rc));
		return 1;
	}
	if (stat("/proc/self/ns/user", &st)) {
		log_err("cannot tell which user namespace dyperd runs in (/proc/self/ns/user): %s",
			strerror(errno));
		return 1;
	}
	d->userns_dev = st.st_dev;
	d->userns_ino = st.st_ino;
	notify_status(NULL, "setting up table inet %s", d->cfg.enforcer_table);
	rc = engine_start(d);
	if (rc)
		return 1;
	make_socket_dir(d->cfg.agent_socket);
	if (channel_listen(d) || resume_open(d))
		return 1;
sockets:
	make_socket_dir(d->cfg.control_socket);
	if (control_listen(d))
		return 1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->reload_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->sigfd < 0 || d->timerfd < 0 || d->epfd < 0 || d->reload_fd < 0 ||
	    timerfd_settime(d->timerfd, 0, &its, NULL) ||
	    add_ev(d, d->sigfd, &d->sig_tag, EV_SIGNAL) ||
	    add_ev(d, d->timerfd, &d->timer_tag, EV_TIMER) ||
	    add_ev(d, d->reload_fd, &d->reload_tag, EV_RELOAD) ||
	    add_ev(d, d->control_lfd, &d->control_tag, EV_CONTROL_LISTEN) ||
	    (d->site ? site_watch(d) :
	     add_ev(d, d->agent_lfd, &d->agent_tag, EV_AGENT_LISTEN) ||
	     add_ev(d, d->resume_lfd, &d->resume_tag, EV_RESUME_LISTEN) ||
	     (d->resume_alfd >= 0 && add_ev(d, d->resume_alfd, &d->resume_atag, EV_RESUME_LISTEN)) ||
	     add_ev(d, d->diag_fd, &d->diag_tag, EV_DIAG))) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < d->n_slots; i++) {
		if (add_ev(d, enforcer_fd(d->slots[i].e), &d->slots[i].tag, EV_ENFORCER)) {
			log_err("cannot set up the event loop: %s", strerror(errno));
			return 1;
		}
	}
	if (drop_privileges(pw->pw_uid, gid))
		return 1;
	if (d->site) {
		char what[128];

		if (d->cfg.n_devices)
			snprintf(what, sizeof(what), "%zu border device%s%s", d->cfg.n_devices,
				 d->cfg.n_devices == 1 ? "" : "s", dyper_config_site_router(&d->cfg) ?
				 " and the router's table" : "");
		else
			snprintf(what, sizeof(what), "table inet %.64s on the router", d->cfg.site.table);
		log_notice("dyperd %s ready in site mode \"%s\": dyper-remote on %s (account %s), "
			   "dyperctl on %s; %s; %zu site policy rules",
			   DYPER_VERSION, d->cfg.site.name, d->cfg.site.socket, d->cfg.site.account,
			   d->cfg.control_socket, what, policy_rule_count(d->policy));
		notify_status("READY=1", "running in site mode: %s, %zu site policy rules", what,
			      policy_rule_count(d->policy));
		rc = loop(d);
		site_stop(d);
		policy_free(d->policy);
		return rc ? 1 : 0;
	}
	log_notice("dyperd %s ready: agents on %s (group %s), dyperctl on %s; running as %s "
		   "with CAP_NET_ADMIN and CAP_SYS_PTRACE only; %zu policy rules",
		   DYPER_VERSION, d->cfg.agent_socket, d->cfg.group, d->cfg.control_socket,
		   d->cfg.user, policy_rule_count(d->policy));
	notify_status("READY=1", "running: table inet %s, %u pinholes, %zu policy rules",
		      d->cfg.enforcer_table, d->table.count, policy_rule_count(d->policy));

	rc = loop(d);
	/* a reload still reading (a hung file system) is not waited for: its
	 * job is static, the thread ends with the process */
	if (d->reload_running)
		log_notice("stopping: a reload still reading its files is abandoned");
	engine_stop(d);
	resume_free(d);
	events_free(d);
	policy_free(d->policy);
	return rc ? 1 : 0;
}
