// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dyperctl doctor`: every check prints one line, "ok", "warning" or
 * "FAIL", what it found in plain words, and for anything not ok a line
 * "fix:" with a command to run.  Checks go on after a failure: the admin
 * gets the whole list at once.  Failures are what stops Dyper from
 * working; warnings what may, depending on things doctor cannot see.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/netfilter.h>

#include "conf/config.h"
#include "dyperd/border.h"
#include "dyperd/devconf.h"
#include "dyperd/doctor.h"
#include "dyperd/listeners.h"
#include "dyperd/log.h"
#include "dyperd/nftconf.h"
#include "dyperd/policy.h"
#include "nft/enforcer.h"
#include "nft/ruleset.h"
#include "remote/device.h"

/* room for two paths and the words around them */
#define MSG_LEN		(2 * DYPER_CONFIG_PATH_LEN + 1024)
#define ANSWER_TIMEOUT_S 5
/* when even root cannot read nftables */
#define NFT_FIX		"modprobe nf_tables; dyperd(8) says which kernel Dyper needs"

struct doctor {
	FILE *out;
	bool json;
	unsigned n[3];			/* per enum doctor_status */
	const struct doctor_opts *o;
	struct dyper_config cfg;
	bool cfg_ok;
	bool dyperd_up;
	char site_status[512];		/* border mode: dyperd's word on its session */
	char stats[8192];		/* dyperd's stats, as it answered them */
};

static const char *const status_word[] = { "ok", "warning", "FAIL" };

/* A JSON string literal of @s on @f. */
static void json_str(FILE *f, const char *s)
{
	static char esc[6 * MSG_LEN + 1];	/* one thread: dyperctl */

	json_escape(esc, sizeof(esc), s);
	fprintf(f, "\"%s\"", esc);
}

/*
 * One result: @check names it, the message says what was found, @fix (NULL
 * for ok) what to do.  @fix is printed as given: a command, or words.
 */
__attribute__((format(printf, 5, 6)))
static void report(struct doctor *d, enum doctor_status st, const char *check, const char *fix,
		   const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->json) {
		fprintf(d->out, "%s{\"check\":", d->n[0] + d->n[1] + d->n[2] ? "," : "");
		json_str(d->out, check);
		fprintf(d->out, ",\"status\":\"%s\",\"message\":", st == DOCTOR_OK ? "ok" :
			st == DOCTOR_WARN ? "warning" : "fail");
		json_str(d->out, msg);
		fputs(",\"fix\":", d->out);
		if (fix)
			json_str(d->out, fix);
		else
			fputs("null", d->out);
		fputc('}', d->out);
	} else {
		fprintf(d->out, "%-8s %s: %s\n", status_word[st], check, msg);
		if (fix)
			fprintf(d->out, "%-8s fix: %s\n", "", fix);
	}
	d->n[st]++;
}

/* --- judgments -------------------------------------------------------------- */

enum doctor_status doctor_judge_wrapper(const struct stat *st, gid_t gid, char *why, size_t len)
{
	struct group *gr;

	if (!S_ISREG(st->st_mode))
		snprintf(why, len, "not a regular file");
	else if (st->st_uid != 0)
		snprintf(why, len, "owned by uid %u, not root", (unsigned)st->st_uid);
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		snprintf(why, len, "writable by others than root (mode %04o): anyone could "
			 "replace what runs with the agent socket's group", st->st_mode & 07777);
	else if (!(st->st_mode & S_ISGID))
		snprintf(why, len, "not set-group-ID (mode %04o): it cannot reach dyperd's "
			 "agent socket", st->st_mode & 07777);
	else if (st->st_gid != gid)
		snprintf(why, len, "set-group-ID to %s (gid %u), not to the agent socket's group "
			 "(gid %u)", (gr = getgrgid(st->st_gid)) ? gr->gr_name : "another group",
			 (unsigned)st->st_gid, (unsigned)gid);
	else if (!(st->st_mode & S_IXOTH))
		snprintf(why, len, "not executable by others (mode %04o)", st->st_mode & 07777);
	else
		return DOCTOR_OK;
	return DOCTOR_FAIL;
}

enum doctor_status doctor_judge_agent(const struct stat *st, char *why, size_t len)
{
	if (!S_ISREG(st->st_mode))
		snprintf(why, len, "not a regular file");
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		snprintf(why, len, "writable by others than its owner (mode %04o): it is loaded "
			 "into every wrapped program", st->st_mode & 07777);
	else if (st->st_uid != 0)
		snprintf(why, len, "owned by uid %u, not root: it is loaded into every wrapped "
			 "program", (unsigned)st->st_uid);
	else if (!(st->st_mode & S_IROTH))
		snprintf(why, len, "not readable by all (mode %04o): programs run through the "
			 "wrapper cannot load it", st->st_mode & 07777);
	else
		return DOCTOR_OK;
	return DOCTOR_FAIL;
}

bool doctor_takes_mark(const struct nft_input_chain *ic, uint32_t mark)
{
	if (!mark || !ic->accepts_mark || !ic->mark_mask)
		return false;
	/* "meta mark & 0x10 == 0x10", or "meta mark 0x10" when 0x10 is ours */
	return (mark & ic->mark_mask) == ic->mark_value &&
	       (!(ic->mark_mask & ~mark) || ic->mark_value == mark);
}

enum doctor_status doctor_judge_chain(const struct nft_input_chain *ic, uint32_t mark,
				      int32_t priority)
{
	if (ic->drops != NFT_DROPS_NONE || ic->policy_drop) {
		if (doctor_takes_mark(ic, mark))
			return ic->ingress || ic->priority <= priority ? DOCTOR_WARN : DOCTOR_OK;
	}
	if (ic->policy_drop || ic->drops == NFT_DROPS_ALL)
		return ic->accept_iif[0] ? DOCTOR_WARN : DOCTOR_FAIL;
	return ic->drops == NFT_DROPS_SOME ? DOCTOR_WARN : DOCTOR_OK;
}

enum doctor_status doctor_judge_policy(const struct policy *p, size_t *allows, char *why,
				       size_t len)
{
	size_t rules = policy_rule_count(p), seen = 0;
	unsigned deny_all = 0;
	char text[POLICY_MAX_LINE];

	*allows = 0;
	/* rules sit on their lines, found by binary search: one pass */
	for (unsigned line = 1; seen < rules && line < UINT32_MAX; line++) {
		if (policy_rule_text(p, line, text, sizeof(text)) == -ENOENT)
			continue;
		seen++;
		if (!strncmp(text, "allow ", 6))
			(*allows)++;
		else if (!deny_all && !strcmp(text, "deny * * * * * * *"))
			deny_all = line;
	}
	if (deny_all)
		snprintf(why, len, "line %u denies every request (deny * * * * * * *): every "
			 "request will be refused", deny_all);
	else if (!*allows)
		snprintf(why, len, "%s: every request will be refused",
			 rules ? "no allow rule" : "no rules at all");
	else
		return DOCTOR_OK;
	return DOCTOR_WARN;
}

/* --- checks ------------------------------------------------------------------- */

static void check_root(struct doctor *d)
{
	if (geteuid() == 0)
		report(d, DOCTOR_OK, "root", NULL, "running as root");
	else
		report(d, DOCTOR_FAIL, "root", "sudo dyperctl doctor",
		       "not running as root: listing nftables needs CAP_NET_ADMIN and "
		       "dyperd's control socket is root's, so several checks below cannot tell");
}

static void check_config(struct doctor *d)
{
	char err[MSG_LEN], fix[MSG_LEN];
	struct stat st;
	int ret;

	ret = dyper_config_load(&d->cfg, d->o->config, !d->o->config_given, err, sizeof(err));
	d->cfg_ok = ret == 0;
	if (ret) {
		dyper_config_defaults(&d->cfg);
		snprintf(fix, sizeof(fix), "correct it (see dyper.conf(5)), then check it with "
			 "dyperd --check-config -c %s; the checks below use the defaults",
			 d->o->config);
		report(d, DOCTOR_FAIL, "config", fix, "%s", err);
	} else if (stat(d->o->config, &st) && errno == ENOENT) {
		report(d, DOCTOR_OK, "config", NULL, "no %s: dyperd uses the defaults",
		       d->o->config);
	} else {
		report(d, DOCTOR_OK, "config", NULL, "%s parses", d->o->config);
	}
}

int doctor_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Asks dyperd for its stats; 0 with the number of pinholes, or -errno
 * (-EPROTO: it answered something else, -ECONNRESET: no answer). */
static int ask_stats(const char *path, unsigned long *pinholes, char *site, size_t site_len,
		     char *all, size_t all_len)
{
	struct timeval tv = { .tv_sec = ANSWER_TIMEOUT_S };
	char buf[8192], *p;
	size_t len = 0;
	ssize_t n;
	int fd = doctor_connect(path), err = 0;

	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, "stats\n", 6) != 6) {
		err = -errno;
		goto out;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if (!len) {
		err = -ECONNRESET;
		goto out;
	}
	if (strncmp(buf, "OK\n", 3)) {
		err = -EPROTO;
		goto out;
	}
	snprintf(all, all_len, "%s", buf);
	p = strstr(buf, "\npinholes ");
	*pinholes = p ? strtoul(p + 10, NULL, 10) : 0;
	/* border mode: "site  <the session in words>" */
	p = strstr(buf, "\nsite ");
	if (p && site_len) {
		p += 6;
		while (*p == ' ')
			p++;
		snprintf(site, site_len, "%.*s", (int)strcspn(p, "\n"), p);
	}
out:
	close(fd);
	return err;
}

static void check_dyperd(struct doctor *d)
{
	const char *sock = d->o->socket ? d->o->socket : d->cfg.control_socket;
	unsigned long pinholes = 0;
	int err = ask_stats(sock, &pinholes, d->site_status, sizeof(d->site_status), d->stats,
			    sizeof(d->stats));

	d->dyperd_up = err == 0;
	if (!err)
		report(d, DOCTOR_OK, "dyperd", NULL, "running: answers on %s, %lu pinholes open",
		       sock, pinholes);
	else if (err == -ENOENT || err == -ECONNREFUSED)
		report(d, DOCTOR_FAIL, "dyperd",
		       "systemctl start dyperd; if it does not stay up, journalctl -u dyperd "
		       "says why", "not running: nothing listens on %s (%s)", sock, strerror(-err));
	else if (err == -EACCES || (err == -ECONNRESET && geteuid() != 0))
		report(d, DOCTOR_FAIL, "dyperd", "sudo dyperctl doctor",
		       "cannot tell whether it runs: %s is root's", sock);
	else if (err == -EAGAIN)
		report(d, DOCTOR_FAIL, "dyperd", "journalctl -u dyperd; systemctl restart dyperd",
		       "hangs: no answer on %s within %d s", sock, ANSWER_TIMEOUT_S);
	else
		report(d, DOCTOR_FAIL, "dyperd", "journalctl -u dyperd; systemctl restart dyperd",
		       "does not answer properly on %s: %s", sock,
		       err == -EPROTO ? "unexpected answer" : strerror(-err));
}

static bool is_ours(const struct doctor *d, const struct nft_input_chain *ic)
{
	return ic->family == NFPROTO_INET && !ic->ingress && !strcmp(ic->table, d->cfg.enforcer_table);
}

static void check_table(struct doctor *d, const struct nft_input_chain *chains, size_t n,
			bool listed)
{
	const char *t = d->cfg.enforcer_table;
	struct nft_enforcer_config nftcfg;
	struct nft_enforcer *e = NULL;
	bool intact = false, present = false;
	char fix[MSG_LEN];
	int err;

	nftconf_from_config(&nftcfg, &d->cfg);
	err = nft_enforcer_open(&e, &nftcfg);
	if (!err)
		err = nft_enforcer_check(e, &intact);
	if (err) {
		report(d, DOCTOR_FAIL, "table", geteuid() ? "sudo dyperctl doctor" : NFT_FIX,
		       "cannot read table inet %s: %s", t, nft_enforcer_error(e));
		goto out;
	}
	if (intact) {
		report(d, DOCTOR_OK, "table", NULL, "table inet %s is in place: chain input, "
		       "policy drop, the rules and sets dyperd builds", t);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		present |= is_ours(d, &chains[i]);
	if (listed && !present)
		snprintf(fix, sizeof(fix), "%s: dyperd creates the table when it starts",
			 d->dyperd_up ? "systemctl restart dyperd" : "systemctl start dyperd");
	else
		snprintf(fix, sizeof(fix), "systemctl restart dyperd: it rebuilds its table "
			 "(keeping the pinholes); if it refuses a table it did not make, "
			 "delete that one: nft delete table inet %s", t);
	report(d, DOCTOR_FAIL, "table", fix, "%s%s", nft_enforcer_error(e),
	       listed && !present ? ": every incoming packet Dyper should decide on is left "
	       "to the other tables" : "");
out:
	nft_enforcer_free(e);
}

static void chain_name(const struct nft_input_chain *ic, char *buf, size_t len)
{
	snprintf(buf, len, "table %s %s, chain %s (hook %s%s%s, priority %d)",
		 nft_family_name(ic->family), ic->table, ic->chain,
		 ic->ingress ? "ingress" : "input", ic->device[0] ? ", device " : "", ic->device,
		 ic->priority);
}

/* The mark to suggest: the configured one, or 0x10. */
static uint32_t fix_mark(const struct doctor *d)
{
	return d->cfg.enforcer.mark ? d->cfg.enforcer.mark : 0x10;
}

static void report_chain(struct doctor *d, const struct nft_input_chain *ic,
			 enum doctor_status st)
{
	const char *fam = nft_family_name(ic->family);
	char name[3 * NFT_RULESET_NAME_LEN], what[NFT_RULESET_NAME_LEN + 128];
	char decide[4 * NFT_RULESET_NAME_LEN], fix[MSG_LEN];

	chain_name(ic, name, sizeof(name));
	if (doctor_takes_mark(ic, d->cfg.enforcer.mark)) {
		if (ic->ingress)
			report(d, st, "chains", "accept Dyper's traffic in an input chain instead: "
			       "ingress comes before any input chain", "%s: accepts Dyper's mark "
			       "%#" PRIx32 ", but ingress runs before Dyper's chain has set it", name,
			       d->cfg.enforcer.mark);
		else if (ic->priority > d->cfg.enforcer.priority)
			report(d, st, "chains", NULL, "%s: drops, but first accepts what Dyper "
			       "admitted (mark %#" PRIx32 ")", name, d->cfg.enforcer.mark);
		else
			report(d, st, "chains", "set priority in dyper.conf below that chain's, "
			       "then restart dyperd", "%s: accepts Dyper's mark %#" PRIx32 ", but "
			       "runs before Dyper's chain (priority %" PRId32 ") has set it", name,
			       d->cfg.enforcer.mark, d->cfg.enforcer.priority);
		return;
	}
	if (ic->policy_drop)
		snprintf(what, sizeof(what), "its policy drop");
	else
		snprintf(what, sizeof(what), "a %s rule (handle %llu%s%s)", ic->drop_what,
			 (unsigned long long)ic->drop_handle,
			 strcmp(ic->drop_chain, ic->chain) ? ", in chain " : "",
			 strcmp(ic->drop_chain, ic->chain) ? ic->drop_chain : "");
	/* how to hand the decision to Dyper's table */
	if (ic->policy_drop)
		snprintf(decide, sizeof(decide), "nft 'chain %s %s %s { policy accept; }'",
			 fam, ic->table, ic->chain);
	else
		snprintf(decide, sizeof(decide), "nft delete rule %s %s %s handle %llu",
			 fam, ic->table, ic->drop_chain, (unsigned long long)ic->drop_handle);

	if (ic->family == NFPROTO_INET && !strcmp(ic->table, "firewalld"))
		snprintf(fix, sizeof(fix), "put the interfaces Dyper serves in firewalld's trusted "
			 "zone (firewall-cmd --permanent --zone=trusted --change-interface=IFACE; "
			 "firewall-cmd --reload), so that Dyper's table decides, or stop firewalld "
			 "(systemctl disable --now firewalld)");
	else if (st == DOCTOR_WARN && !ic->accept_iif[0])
		snprintf(fix, sizeof(fix), "make sure it does not match what Dyper opens: "
			 "nft -a list chain %s %s %s", fam, ic->table, ic->drop_chain);
	else
		snprintf(fix, sizeof(fix), "%s%s%slet Dyper's table decide: %s, and move the "
			 "ports that chain opens into tcp_ports/udp_ports of dyper.conf; or keep "
			 "that chain and accept there what Dyper admits: set mark = %#" PRIx32
			 " in dyper.conf, a priority below %" PRId32 ", and put 'meta mark & "
			 "%#" PRIx32 " == %#" PRIx32 " accept' before its drop",
			 ic->accept_iif[0] ? "if Dyper serves interfaces other than " : "",
			 ic->accept_iif, ic->accept_iif[0] ? ", " : "", decide, fix_mark(d),
			 ic->priority, fix_mark(d), fix_mark(d));

	if (st == DOCTOR_FAIL)
		report(d, st, "chains", fix, "%s: %s drops every packet the chain has not "
		       "accepted by then: Dyper's accept does not override it, pinholes let nothing "
		       "in", name, what);
	else if (ic->accept_iif[0])
		report(d, st, "chains", fix, "%s: %s drops every packet the chain has not accepted "
		       "by then, but it accepts everything arriving on %s: pinholes work on %s only",
		       name, what, ic->accept_iif, ic->accept_iif);
	else
		report(d, st, "chains", fix, "%s: %s drops some packets: Dyper's accept does not "
		       "override it", name, what);
}

static void check_chains(struct doctor *d, const struct nft_input_chain *chains, size_t n)
{
	size_t others = 0, bad = 0;

	for (size_t i = 0; i < n; i++) {
		enum doctor_status st;

		if (is_ours(d, &chains[i]))
			continue;
		others++;
		st = doctor_judge_chain(&chains[i], d->cfg.enforcer.mark,
					d->cfg.enforcer.priority);
		if (st != DOCTOR_OK || doctor_takes_mark(&chains[i], d->cfg.enforcer.mark)) {
			report_chain(d, &chains[i], st);
			bad++;
		}
	}
	if (!bad)
		report(d, DOCTOR_OK, "chains", NULL, others ? "%zu other input chain%s, none drops" :
		       "no other table filters incoming packets", others, others == 1 ? "" : "s");
}

/* Legacy iptables tables are not in the nftables ruleset. */
static void check_iptables(struct doctor *d)
{
	static const char *const files[] = { "/proc/net/ip_tables_names",
					     "/proc/net/ip6_tables_names" };
	char line[64];
	bool legacy[2] = { false, false };

	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "re");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			legacy[i] |= !strcmp(line, "filter\n");
		fclose(f);
	}
	if (legacy[0] || legacy[1])
		report(d, DOCTOR_WARN, "iptables", "iptables-legacy -S INPUT; ip6tables-legacy "
		       "-S INPUT: its INPUT chain must accept what Dyper should decide "
		       "(iptables-legacy -P INPUT ACCEPT, and remove its DROP and REJECT rules)",
		       "legacy iptables has a filter table here (%s%s%s): nftables cannot see its "
		       "rules, which may drop what Dyper accepts", legacy[0] ? "IPv4" : "",
		       legacy[0] && legacy[1] ? ", " : "", legacy[1] ? "IPv6" : "");
	else
		report(d, DOCTOR_OK, "iptables", NULL, "no legacy iptables filter table");
}

static void check_group(struct doctor *d, gid_t *gid)
{
	struct group *gr = getgrnam(d->cfg.group);
	struct passwd *pw = getpwnam(d->cfg.user);
	char fix[256];

	*gid = gr ? gr->gr_gid : (gid_t)-1;
	if (gr) {
		report(d, DOCTOR_OK, "group", NULL, "group %s exists (gid %u)", d->cfg.group,
		       (unsigned)gr->gr_gid);
	} else {
		snprintf(fix, sizeof(fix), "groupadd --system %s", d->cfg.group);
		report(d, DOCTOR_FAIL, "group", fix, "group %s (group = in dyper.conf) does not "
		       "exist: dyperd does not start", d->cfg.group);
	}
	if (pw) {
		report(d, DOCTOR_OK, "user", NULL, "user %s exists", d->cfg.user);
	} else {
		snprintf(fix, sizeof(fix), "useradd --system --no-create-home --shell "
			 "/usr/sbin/nologin %s", d->cfg.user);
		report(d, DOCTOR_FAIL, "user", fix, "user %s (user = in dyper.conf) does not "
		       "exist: dyperd does not start", d->cfg.user);
	}
}

static void check_wrapper(struct doctor *d, gid_t gid)
{
	const char *path = d->o->wrapper ? d->o->wrapper : DYPER_WRAP_PATH;
	char why[256], fix[MSG_LEN];
	struct stat st;

	if (stat(path, &st)) {
		report(d, DOCTOR_FAIL, "wrapper", "install Dyper (make install), or name the "
		       "wrapper with dyperctl doctor --wrapper PATH", "%s: %s", path,
		       strerror(errno));
		return;
	}
	if (gid == (gid_t)-1) {
		report(d, DOCTOR_WARN, "wrapper", "create the group first (see \"group\")",
		       "%s: cannot judge it without the group %s", path, d->cfg.group);
		return;
	}
	if (doctor_judge_wrapper(&st, gid, why, sizeof(why)) == DOCTOR_OK) {
		report(d, DOCTOR_OK, "wrapper", NULL, "%s is set-group-ID %s", path, d->cfg.group);
		return;
	}
	snprintf(fix, sizeof(fix), "chown root:%s %s; chmod 2711 %s", d->cfg.group, path, path);
	report(d, DOCTOR_FAIL, "wrapper", fix, "%s is %s", path, why);
}

static void check_agent(struct doctor *d)
{
	const char *path = d->o->agent ? d->o->agent : DYPER_PRELOAD_PATH;
	char why[256], fix[MSG_LEN];
	struct stat st;

	if (stat(path, &st)) {
		report(d, DOCTOR_FAIL, "agent", "install Dyper (make install), or name the agent "
		       "with dyperctl doctor --agent PATH (and dyper-wrap -p PATH)", "%s: %s: "
		       "dyper-wrap cannot preload it", path, strerror(errno));
		return;
	}
	if (doctor_judge_agent(&st, why, sizeof(why)) == DOCTOR_OK) {
		report(d, DOCTOR_OK, "agent", NULL, "%s is in place", path);
		return;
	}
	snprintf(fix, sizeof(fix), "chown root:root %s; chmod 644 %s", path, path);
	report(d, DOCTOR_FAIL, "agent", fix, "%s is %s", path, why);
}

static void check_policy(struct doctor *d)
{
	bool site = d->cfg_ok && d->cfg.site.enable;
	const char *path = site ? d->cfg.site.policy : d->cfg.policy;
	struct policy *p = NULL;
	char err[POLICY_ERR_LEN], why[256], fix[MSG_LEN];
	size_t allows;

	if (policy_load_as(&p, path, site ? POLICY_SITE : POLICY_HOST, err, sizeof(err))) {
		snprintf(fix, sizeof(fix), "correct it (see dyper-policy(5)), then check it with "
			 "dyperd --check-config -c %s", d->o->config);
		report(d, DOCTOR_FAIL, "policy", fix, "%s: dyperd does not start or reload with it",
		       err);
		return;
	}
	if (doctor_judge_policy(p, &allows, why, sizeof(why)) == DOCTOR_OK) {
		report(d, DOCTOR_OK, "policy", NULL, "%s: %zu rules, %zu allow", path,
		       policy_rule_count(p), allows);
	} else {
		snprintf(fix, sizeof(fix), "add allow rules to %s (see dyper-policy(5)), then "
			 "dyperctl reload", path);
		report(d, DOCTOR_WARN, "policy", fix, "%s: %s", path, why);
	}
	policy_free(p);
}

/* Services listening now that the table cuts off: the admin's sshd above all. */
static void check_listeners(struct doctor *d)
{
	struct nft_enforcer_config nftcfg;
	struct listener *ls = NULL;
	char msg[MSG_LEN], fix[MSG_LEN];
	size_t n, bad;
	int err = listeners_read(&ls, &n);

	if (err) {
		report(d, DOCTOR_WARN, "listeners", "check by hand: ss -tuln",
		       "cannot list the listening sockets (/proc/net): %s", strerror(-err));
		return;
	}
	nftconf_from_config(&nftcfg, &d->cfg);
	bad = listeners_dropped(ls, n, &nftcfg);
	for (size_t i = 0; i < bad; i++) {
		listener_warning(&ls[i], msg, sizeof(msg));
		snprintf(fix, sizeof(fix), "if other hosts must reach it: %s = %u (comma-separated "
			 "with the others) in [enforcer] of %s, then systemctl reload dyperd",
			 ls[i].proto == IPPROTO_TCP ? "tcp_ports" : "udp_ports", ls[i].port,
			 d->o->config);
		report(d, DOCTOR_WARN, "listeners", fix, "%s", msg);
	}
	if (!bad)
		report(d, DOCTOR_OK, "listeners", NULL, "%zu listening sockets: each is loopback "
		       "only or on a control port", n);
	free(ls);
}

/* --- border mode ------------------------------------------------------------------ */

enum doctor_status doctor_judge_remote_key(const struct stat *st, uid_t uid, char *why,
					   size_t len)
{
	if (!S_ISREG(st->st_mode))
		snprintf(why, len, "not a regular file");
	else if (st->st_uid != uid)
		snprintf(why, len, "owned by uid %u, not by dyperd's user (uid %u)",
			 (unsigned)st->st_uid, (unsigned)uid);
	else if (st->st_mode & 077)
		snprintf(why, len, "mode %04o: group and others must have no access",
			 (unsigned)(st->st_mode & 07777));
	else
		return DOCTOR_OK;
	return DOCTOR_FAIL;
}

bool doctor_known_host(const char *text, size_t len, const char *host, unsigned port)
{
	char want[DYPER_CONFIG_ADDR_LEN + 16];
	size_t wl;

	if (port == 22)
		snprintf(want, sizeof(want), "%s", host);
	else
		snprintf(want, sizeof(want), "[%s]:%u", host, port);
	wl = strlen(want);
	for (size_t i = 0; i < len;) {
		const char *line = text + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i, f = 0;

		i += n + 1;
		/* "@cert-authority" and "@revoked" lines pin no key of their own */
		if (!n || line[0] == '#' || line[0] == '@')
			continue;
		while (f < n && line[f] != ' ' && line[f] != '\t')
			f++;
		for (size_t a = 0; a < f;) {
			size_t b = a;

			while (b < f && line[b] != ',')
				b++;
			if (b - a == wl && !memcmp(line + a, want, wl) && f < n)
				return true;
			a = b + 1;
		}
	}
	return false;
}

/* One session to the site, as dyperd makes it, waited for at most the
 * connect timeout: 0 READY (the site's name in @site), or -errno with @why. */
static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int try_site(struct remote_ssh *s, uint32_t timeout_ms, char *site, size_t len)
{
	uint64_t now = mono_ms(), end = now + timeout_ms + 1000;

	if (remote_ssh_start(s, now))
		return remote_ssh_errno(s);
	for (;;) {
		struct pollfd pfd = { .fd = remote_ssh_fd(s), .events = remote_ssh_events(s) };

		if (remote_ssh_state(s) == REMOTE_SSH_READY) {
			snprintf(site, len, "%s", remote_ssh_site(s));
			return 0;
		}
		if (remote_ssh_state(s) == REMOTE_SSH_CLOSED)
			return remote_ssh_errno(s) ? remote_ssh_errno(s) : -ECONNRESET;
		now = mono_ms();
		if (now >= end)
			return -ETIMEDOUT;
		poll(&pfd, 1, 50);
		remote_ssh_step(s, mono_ms());
	}
}

static void check_remote(struct doctor *d)
{
	const struct dyper_remote_conf *r = &d->cfg.remote;
	struct passwd *pw = getpwnam(d->cfg.user);
	uid_t uid = pw ? pw->pw_uid : 0;
	char why[MSG_LEN], fix[MSG_LEN], site[REMOTE_WIRE_NAME_MAX + 1];
	struct remote_forward_config fc;
	struct remote_ssh *s = NULL;
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	if (!d->cfg_ok || !border_enabled(&d->cfg))
		return;
	/* the key: dyperd's user's alone, or dyperd does not start */
	if (stat(r->key, &st)) {
		snprintf(fix, sizeof(fix), "make a key for this host (ssh-keygen -t ed25519 -N '' "
			 "-f %s), chown %s %s, and put its .pub line, with command=\"dyper-remote "
			 "--delegate HOST\",restrict, into the site account's authorized_keys",
			 r->key, d->cfg.user, r->key);
		report(d, DOCTOR_FAIL, "remote-key", fix, "%s: %s: dyperd does not start", r->key,
		       strerror(errno));
	} else if (doctor_judge_remote_key(&st, uid, why, sizeof(why)) != DOCTOR_OK) {
		snprintf(fix, sizeof(fix), "chown %s %s; chmod 600 %s", d->cfg.user, r->key, r->key);
		report(d, DOCTOR_FAIL, "remote-key", fix, "%s is %s: dyperd does not start", r->key,
		       why);
	} else {
		report(d, DOCTOR_OK, "remote-key", NULL, "%s is %s's, mode %04o", r->key,
		       d->cfg.user, (unsigned)(st.st_mode & 07777));
	}
	/* the pinned host key: without it every session is refused */
	f = fopen(r->known_hosts, "re");
	err = f ? 0 : errno;
	if (f) {
		char buf[4096];
		size_t n;

		text = malloc(1 << 20);
		while (text && (n = fread(buf, 1, sizeof(buf), f)) > 0 && len + n <= (1 << 20)) {
			memcpy(text + len, buf, n);
			len += n;
		}
		fclose(f);
	}
	if (r->port == 22)
		snprintf(why, sizeof(why), "%s", r->host);
	else
		snprintf(why, sizeof(why), "[%s]:%u", r->host, (unsigned)r->port);
	snprintf(fix, sizeof(fix), "ask the site's admin for its host key (ssh-keygen -lf "
		 "/etc/ssh/ssh_host_ed25519_key.pub shows its fingerprint there) and add the line "
		 "\"%.64s KEYTYPE KEY\" to %s; never take it from the network unchecked", why,
		 r->known_hosts);
	if (!f)
		report(d, DOCTOR_FAIL, "remote-hostkey", fix, "%s: %s: dyperd does not start",
		       r->known_hosts, strerror(err));
	else if (!text || !doctor_known_host(text, len, r->host, r->port))
		report(d, DOCTOR_FAIL, "remote-hostkey", fix, "%s has no key for %s port %u: every "
		       "session to the site is refused", r->known_hosts, r->host, r->port);
	else
		report(d, DOCTOR_OK, "remote-hostkey", NULL, "%s pins a key for %s port %u",
		       r->known_hosts, r->host, r->port);
	free(text);
	/* dyperd's own session, if it runs: a second one as the same delegate
	 * would replace it at the site */
	if (d->dyperd_up && d->site_status[0]) {
		if (!strncmp(d->site_status, "ready: ", 7))
			report(d, DOCTOR_OK, "remote-site", NULL, "dyperd's session: %s",
			       d->site_status);
		else
			report(d, DOCTOR_FAIL, "remote-site", !strstr(d->site_status, "REFUSED") ?
			       "check that the site's sshd listens there and that dyper-remote and "
			       "the site controller run (dyper-remote(8)); journalctl -u dyperd" :
			       "compare the site's host key with its admin; replace the pinned one "
			       "only after that", "dyperd's session: %s", d->site_status);
		return;
	}
	/* a session, as dyperd makes it: needs the key, so root's */
	if (geteuid() != 0) {
		report(d, DOCTOR_WARN, "remote-site", "sudo dyperctl doctor",
		       "not root: cannot read the key to try a session with the site");
		return;
	}
	border_forward_config(&fc, &d->cfg, uid);
	err = remote_ssh_new(&s, &fc.ssh, why);
	if (!err)
		err = try_site(s, r->connect_timeout_ms, site, sizeof(site));
	if (err) {
		if (s)
			snprintf(why, sizeof(why), "%s", remote_ssh_error(s));
		snprintf(fix, sizeof(fix), "%s", err == -EKEYREJECTED ? "compare the site's host "
			 "key with its admin; replace the pinned one only after that" :
			 err == -EACCES ? "put this host's public key into the site account's "
			 "authorized_keys with command=\"dyper-remote --delegate HOST\",restrict" :
			 "check that the site's sshd listens there and that dyper-remote and the "
			 "site controller run (dyper-remote(8))");
		report(d, DOCTOR_FAIL, "remote-site", fix, "no session with %s port %u as %s: %s",
		       r->host, r->port, r->user, why);
	} else {
		report(d, DOCTOR_OK, "remote-site", NULL, "session with %s port %u as %s: site "
		       "\"%s\" answered the greeting", r->host, r->port, r->user, site);
	}
	remote_ssh_free(s);
}

/* --- [device NAME]: the site's border devices ------------------------------ */

#define DEVICE_REACH_MS	3000	/* a TCP handshake on a site's own network */
#define DEVICE_SLACK_MS	5000	/* beyond the commands' own timeouts */

/* A TCP connection to @addr port @port within @timeout_ms: 0 or -errno
 * (-ETIMEDOUT when nothing answered). */
static int tcp_reach(const char *addr, unsigned port, uint32_t timeout_ms)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len, elen = sizeof(int);
	struct pollfd pfd;
	int fd, err = 0, soerr = 0;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		goto out;
	if (errno != EINPROGRESS) {
		err = -errno;
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		err = poll(&pfd, 1, (int)timeout_ms);
	while (err < 0 && errno == EINTR);
	if (err == 0) {
		err = -ETIMEDOUT;
	} else if (err < 0) {
		err = -errno;
	} else {
		err = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) ? -errno : -soerr;
	}
out:
	close(fd);
	return err;
}

struct setup_wait {
	bool done;
	int err;
	char msg[CLI_ERROR_LEN];
};

static void setup_done(struct enforcer *e, const struct enforcer_done *dn, void *arg)
{
	struct setup_wait *w = arg;

	w->done = true;
	w->err = dn->err;
	snprintf(w->msg, sizeof(w->msg), "%s", dn->msg ? dn->msg : "");
}

/* SETUP on @e, as the site controller runs it first, waited for at most
 * @wait_ms: the job's err and msg in @w; -ETIMEDOUT when it did not end. */
static void run_setup(struct enforcer *e, uint32_t wait_ms, struct setup_wait *w)
{
	struct enforcer_job job = { .type = ENFORCER_SETUP };
	struct enforcer_sink sink = { .done = setup_done, .arg = w };
	uint64_t end = mono_ms() + wait_ms, now;
	int err = enforcer_submit(e, &job);

	if (err) {
		w->err = err;
		snprintf(w->msg, sizeof(w->msg), "the driver refused the job: %s", strerror(-err));
		return;
	}
	while (!w->done && (now = mono_ms()) < end) {
		struct pollfd pfd = { .fd = enforcer_fd(e), .events = POLLIN };

		if (poll(&pfd, 1, (int)(end - now)) < 0 && errno != EINTR)
			break;
		err = enforcer_dispatch(e, &sink);
		if (err) {
			w->err = err;
			snprintf(w->msg, sizeof(w->msg), "%s", strerror(-err));
			return;
		}
	}
	if (!w->done) {
		w->err = -ETIMEDOUT;
		snprintf(w->msg, sizeof(w->msg), "no answer within %u s", wait_ms / 1000);
	}
}

/* reach, login (SSH, the pinned host key, a CLI prompt), acl (the ACL or
 * filter exists and ends with the site's deny): one line each. */
/* The running site's line for @dc ("device NAME STATE queued ..."), as
 * a check: true if there was one. */
static bool device_from_site(struct doctor *d, const struct dyper_device_conf *dc)
{
	char key[DYPER_DEVICE_NAME_LEN + 16], check[DYPER_DEVICE_NAME_LEN + 16], fix[MSG_LEN];
	const char *p;
	int len;

	if (!d->dyperd_up)
		return false;
	snprintf(key, sizeof(key), "\ndevice %s ", dc->name);
	p = strstr(d->stats, key);
	if (!p)
		return false;
	p += strlen(key);
	while (*p == ' ')
		p++;
	len = (int)strcspn(p, "\n");
	snprintf(check, sizeof(check), "device-%s-site", dc->name);
	if (!strncmp(p, "up ", 3) || !strncmp(p, "behind ", 7)) {
		report(d, DOCTOR_OK, check, NULL, "the site's session: %.*s", len, p);
	} else {
		snprintf(fix, sizeof(fix), "journalctl -u dyperd says why; stop dyperd and run "
			 "dyperctl doctor again to log in to %s alone; dyper-devices(7) lists what "
			 "%s needs", dc->name, devconf_type_name(dc->type));
		report(d, DOCTOR_FAIL, check, fix, "the site's session: %.*s", len, p);
	}
	return true;
}

static void check_device(struct doctor *d, const struct dyper_device_conf *dc)
{
	char check[DYPER_DEVICE_NAME_LEN + 16], why[CLI_ERROR_LEN], fix[MSG_LEN];
	const char *type = devconf_type_name(dc->type);
	struct remote_device_config rc;
	struct setup_wait w = { 0 };
	struct enforcer *e = NULL;
	uint32_t timeout;
	int err;

	snprintf(check, sizeof(check), "device-%s-reach", dc->name);
	err = tcp_reach(dc->address, dc->port, DEVICE_REACH_MS);
	if (err) {
		snprintf(fix, sizeof(fix), "check address and port in [device %s], that the %s "
			 "device's SSH server runs there (dyper-devices(7)) and that nothing between "
			 "here and it drops TCP port %u", dc->name, type, dc->port);
		report(d, DOCTOR_FAIL, check, fix, "%s (%s) port %u: %s: the site cannot drive it",
		       dc->name, dc->address, dc->port,
		       err == -ETIMEDOUT ? "no answer within 3 s" : strerror(-err));
		return;		/* login and ACL cannot be told */
	}
	report(d, DOCTOR_OK, check, NULL, "%s (%s) port %u accepts TCP connections", dc->name,
	       dc->address, dc->port);
	/* the running site's own word on it, rather than a second login
	 * beside its session (a device has few vty lines) */
	if (device_from_site(d, dc))
		return;

	snprintf(check, sizeof(check), "device-%s-login", dc->name);
	if (geteuid() != 0) {
		report(d, DOCTOR_WARN, check, "sudo dyperctl doctor",
		       "not root: cannot read %s's credentials to log in", dc->name);
		return;
	}
	devconf_to_remote(&rc, dc);
	rc.connect_tries = 1;		/* an answer now, not the daemon's retries */
	err = remote_device_new(&e, &rc, why);
	if (err) {
		snprintf(fix, sizeof(fix), "correct [device %s] (key or password_file must be "
			 "root's, mode 0600; see dyper.conf(5))", dc->name);
		report(d, DOCTOR_FAIL, check, fix, "%s", why);
		return;
	}
	timeout = dc->timeout_ms ? dc->timeout_ms : CLI_TIMEOUT_MS;
	/* connecting, then the listing: a command timeout each, at most */
	run_setup(e, 2 * timeout + DEVICE_SLACK_MS, &w);
	enforcer_free(e);

	/* -EREMOTEIO: a command answered with an error, so the session is up */
	if (w.err == 0 || w.err == -ENOENT || w.err == -EREMOTEIO) {
		report(d, DOCTOR_OK, check, NULL, "%s: logged in as %s with %s, host key as pinned "
		       "in %s", dc->name, dc->user, dc->key[0] ? dc->key : dc->password_file,
		       dc->known_hosts);
	} else {
		if (w.err == -EKEYREJECTED)
			snprintf(fix, sizeof(fix), "check the device's host key fingerprint with "
				 "its admin, then pin it in %s (as \"%s\", or \"[%s]:%u\" off "
				 "port 22); never replace a pinned key unchecked", dc->known_hosts,
				 dc->address, dc->address, dc->port);
		else if (w.err == -EACCES)
			snprintf(fix, sizeof(fix), "give the device account %s the public key of "
				 "%s (or the password in password_file), as dyper-devices(7) says "
				 "for %s", dc->user, dc->key[0] ? dc->key : "the key", type);
		else
			snprintf(fix, sizeof(fix), "check type = %s and that the account %s gets "
				 "a command prompt with the rights dyper-devices(7) lists",
				 type, dc->user);
		report(d, DOCTOR_FAIL, check, fix, "%s", w.msg);	/* it names the device */
		return;
	}

	snprintf(check, sizeof(check), "device-%s-acl", dc->name);
	if (w.err == -ENOENT || w.err == -EREMOTEIO) {
		/* a device may also answer a show of a filter it lacks with an error */
		snprintf(fix, sizeof(fix), "configure the %s%s%s on the device, ending with the "
			 "site's own deny, and bind it, as dyper-devices(7) says for %s%s",
			 dc->type == DYPER_DEVICE_JUNOS ? "filter " : "ACL ", dc->acl,
			 strcmp(dc->acl, dc->acl6) ? " (and its IPv6 one)" : "", type,
			 w.err == -EREMOTEIO ? "; if it is there, give the account the right to "
			 "run the show commands listed there" : "");
		report(d, DOCTOR_FAIL, check, fix, "%s", w.msg);
	} else {
		report(d, DOCTOR_OK, check, NULL, "%s: %s %s%s%s ends with the site's deny",
		       dc->name, dc->type == DYPER_DEVICE_JUNOS ? "filter" : "ACL", dc->acl,
		       strcmp(dc->acl, dc->acl6) ? " / " : "",
		       strcmp(dc->acl, dc->acl6) ? dc->acl6 : "");
	}
}

static void check_devices(struct doctor *d)
{
	if (!d->cfg_ok || !d->cfg.site.enable)
		return;
	for (size_t i = 0; i < d->cfg.n_devices; i++)
		check_device(d, &d->cfg.device[i]);
}

int doctor_run(const struct doctor_opts *o, FILE *out)
{
	static struct doctor dd;
	struct doctor *d = &dd;
	struct nft_input_chain *chains = NULL;
	char err[MSG_LEN];
	size_t n = 0;
	gid_t gid;
	int ret;

	memset(d, 0, sizeof(*d));
	d->out = out;
	d->json = o->json;
	d->o = o;
	if (d->json)
		fputs("{\"checks\":[", out);
	check_root(d);
	check_config(d);
	check_dyperd(d);
	if (d->cfg_ok && d->cfg.site.enable) {
		/* a site controller has no host table, agents or host policy */
		check_policy(d);
		check_devices(d);
		goto summary;
	}
	ret = nft_input_chains(&chains, &n, err, sizeof(err));
	check_table(d, chains, n, ret == 0);
	if (ret)
		report(d, DOCTOR_FAIL, "chains", geteuid() ? "sudo dyperctl doctor" : NFT_FIX,
		       "%s", err);
	else
		check_chains(d, chains, n);
	free(chains);
	check_iptables(d);
	check_listeners(d);
	check_group(d, &gid);
	check_wrapper(d, gid);
	check_agent(d);
	check_policy(d);
	check_remote(d);
summary:
	if (d->json)
		fprintf(out, "],\"ok\":%u,\"warnings\":%u,\"failures\":%u}\n",
			d->n[DOCTOR_OK], d->n[DOCTOR_WARN], d->n[DOCTOR_FAIL]);
	else
		fprintf(out, "summary: %u ok, %u warning%s, %u FAIL%s\n", d->n[DOCTOR_OK],
			d->n[DOCTOR_WARN], d->n[DOCTOR_WARN] == 1 ? "" : "s", d->n[DOCTOR_FAIL],
			d->n[DOCTOR_FAIL] ? ": Dyper cannot work as configured" : "");
	return d->n[DOCTOR_FAIL] ? 1 : 0;
}
