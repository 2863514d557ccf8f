// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for conf/: dyper.conf parsing, messages, files, writer. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "conf/config.h"
#include "dyperd/devconf.h"
#include "dyperd/nftconf.h"

#define ERR_LEN 1024

static bool config_equal(const struct dyper_config *a, const struct dyper_config *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* dyperd hands nft/ this config's own table name. */
static void assert_table_ok(const struct dyper_config *c)
{
	struct nft_enforcer_config nft;

	nftconf_from_config(&nft, c);
	assert_ptr_equal(nft.table, c->enforcer_table);
}

/* Parses @text, which must be valid; returns the config (static storage). */
static struct dyper_config *parse_ok(const char *text)
{
	static struct dyper_config c;
	char err[ERR_LEN] = "";
	int ret = dyper_config_parse(&c, text, "t.conf", err, sizeof(err));

	if (ret)
		fail_msg("parse of <<%s>> failed: %d %s", text, ret, err);
	assert_table_ok(&c);
	return &c;
}

/* @text must fail with -EINVAL at @line, the message quoting @token. */
static void parse_bad(const char *text, unsigned line, const char *token)
{
	struct dyper_config c, before;
	char err[ERR_LEN] = "", prefix[32], found[256];
	int ret;

	dyper_config_defaults(&c);
	c.rate = 4242;		/* must survive a failed parse */
	dyper_config_copy(&before, &c);
	ret = dyper_config_parse(&c, text, "t.conf", err, sizeof(err));
	if (ret != -EINVAL)
		fail_msg("<<%s>>: expected -EINVAL, got %d (%s)", text, ret, err);
	snprintf(prefix, sizeof(prefix), "t.conf:%u: ", line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("<<%s>>: expected prefix \"%s\", got \"%s\"", text, prefix, err);
	snprintf(found, sizeof(found), "found %s", token);
	if (!strstr(err, "expected") || !strstr(err, found))
		fail_msg("<<%s>>: expected \"expected ... %s\" in \"%s\"", text, found, err);
	assert_true(config_equal(&c, &before));
	assert_table_ok(&c);
}

/* --- defaults ----------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct dyper_config c;
	struct nft_enforcer_config nft, conv;

	memset(&c, 0xa5, sizeof(c));
	dyper_config_defaults(&c);
	assert_string_equal(c.user, "dyper");
	assert_string_equal(c.group, "dyper");
	assert_string_equal(c.agent_socket, "/run/dyper/agent.sock");
	assert_string_equal(c.control_socket, "/run/dyper/control.sock");
	assert_string_equal(c.policy, "/etc/dyper/policy");
	assert_int_equal(c.on_exit, DYPER_ON_EXIT_KEEP);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_string_equal(c.event_log, "");
	assert_table_ok(&c);
	assert_string_equal(c.enforcer_table, "dyper");
	assert_int_equal(c.reconcile_ms, 10000);
	assert_int_equal(c.tamper_check_ms, 250);
	assert_int_equal(c.capacity, 65536);
	assert_int_equal(c.max_per_user, 1024);
	assert_int_equal(c.queue_max, 4096);
	assert_int_equal(c.queue_timeout_ms, 5000);
	assert_int_equal(c.rate, 1000);
	assert_int_equal(c.burst, 2000);
	assert_int_equal(c.batch_max, 10000);
	assert_int_equal(c.default_lifetime_ms, 0);
	assert_int_equal(c.max_channels, 4096);
	assert_int_equal(c.max_channels_per_user, 256);
	assert_string_equal(c.remote.host, "");
	assert_int_equal(c.remote.port, 22);
	assert_string_equal(c.remote.user, "dyper");
	assert_string_equal(c.remote.key, "/etc/dyper/remote_key");
	assert_string_equal(c.remote.known_hosts, "/etc/dyper/remote_known_hosts");
	assert_int_equal(c.remote.connect_timeout_ms, 10000);
	assert_int_equal(c.remote.request_timeout_ms, 5000);
	assert_int_equal(c.remote.keepalive_ms, 15000);
	assert_int_equal(c.remote.lease_ms, 300000);
	assert_int_equal(c.remote.on_unreachable, DYPER_UNREACHABLE_FAIL);

	/* The enforcer part, as dyperd hands it to nft/, must agree with
	 * nft/'s own defaults. */
	nft_enforcer_config_init(&nft);
	nftconf_from_config(&conv, &c);
	assert_string_equal(conv.table, nft.table);
	assert_int_equal(conv.priority, nft.priority);
	assert_int_equal(conv.n_tcp_ports, nft.n_tcp_ports);
	assert_int_equal(conv.n_udp_ports, nft.n_udp_ports);
	assert_int_equal(conv.allow_ping, nft.allow_ping);
	assert_int_equal(conv.counters, nft.counters);
	assert_int_equal(conv.max_pinholes, nft.max_pinholes);
	assert_int_equal(conv.log_rate, nft.log_rate);
	/* but the drop lines name the table and the reason (dyperctl explain) */
	assert_string_equal(conv.log_prefix, "dyper drop [inet dyper] no pinhole: ");
	assert_int_equal(conv.owner, nft.owner);
	assert_int_equal(conv.mark, nft.mark);
}

static void test_empty(void **state)
{
	static const char *const texts[] = {
		"",
		"\n\n\n",
		"; nothing here\n# nor here\n",
		"[daemon]\n[enforcer]\n[limits]\n",
		"[daemon] ; a comment\n   \n\t\n",
		"\xef\xbb\xbf[daemon]\n",
		"[limits]",			/* no final newline */
	};
	struct dyper_config def;

	dyper_config_defaults(&def);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_true(config_equal(parse_ok(texts[i]), &def));
}

/* --- a complete file ------------------------------------------------------ */

static const char full_text[] =
	"# every key, none at its default\n"
	"[daemon]\n"
	"user = dyperd\n"
	"group = ftp-users\n"
	"agent_socket = /run/dyper2/agent\n"
	"control_socket = /run/dyper2/control\n"
	"policy = /etc/dyper/site.policy\n"
	"on_exit = flush\n"
	"log_level = debug\n"
	"event_log = /var/log/dyper/events.json\n"
	"\n"
	"[enforcer]\n"
	"table = dyper_test\n"
	"priority = -150\n"
	"tcp_ports = 21, 22,2811 ,  5060\n"
	"udp_ports = 69\n"
	"allow_ping = yes\n"
	"max_pinholes = 200000\n"
	"log_rate = 0\n"
	"owner = no\n"
	"reconcile_interval = 2m\n"
	"tamper_check_interval = 100ms\n"
	"\n"
	"[limits]\n"
	"capacity = 100000\n"
	"max_per_user = 50\n"
	"queue_max = 0\n"
	"queue_timeout = 2s\n"
	"rate = 10\n"
	"burst = 20\n"
	"batch_max = 100000\n"
	"default_lifetime = 1h\n"
	"max_channels = 1048576\n"
	"max_channels_per_user = 1\n"
	"\n"
	"[remote]\n"
	"host = 2001:db8::1\n"
	"port = 2222\n"
	"user = host-a\n"
	"key = /etc/dyper/site.key\n"
	"known_hosts = /etc/dyper/site.pin\n"
	"connect_timeout = 3s\n"
	"request_timeout = 750ms\n"
	"keepalive_interval = 1m\n"
	"lease = 90s\n"
	"on_unreachable = local\n";

static void check_full(const struct dyper_config *c)
{
	assert_string_equal(c->user, "dyperd");
	assert_string_equal(c->group, "ftp-users");
	assert_string_equal(c->agent_socket, "/run/dyper2/agent");
	assert_string_equal(c->control_socket, "/run/dyper2/control");
	assert_string_equal(c->policy, "/etc/dyper/site.policy");
	assert_int_equal(c->on_exit, DYPER_ON_EXIT_FLUSH);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_string_equal(c->event_log, "/var/log/dyper/events.json");
	assert_table_ok(c);
	assert_string_equal(c->enforcer_table, "dyper_test");
	assert_int_equal(c->enforcer.priority, -150);
	assert_int_equal(c->enforcer.n_tcp_ports, 4);
	assert_int_equal(c->enforcer.tcp_ports[0], 21);
	assert_int_equal(c->enforcer.tcp_ports[1], 22);
	assert_int_equal(c->enforcer.tcp_ports[2], 2811);
	assert_int_equal(c->enforcer.tcp_ports[3], 5060);
	assert_int_equal(c->enforcer.tcp_ports[4], 0);
	assert_int_equal(c->enforcer.n_udp_ports, 1);
	assert_int_equal(c->enforcer.udp_ports[0], 69);
	assert_true(c->enforcer.allow_ping);
	assert_int_equal(c->enforcer.max_pinholes, 200000);
	assert_int_equal(c->enforcer.log_rate, 0);
	assert_int_equal(c->enforcer.owner, DYPER_OWNER_OFF);
	assert_int_equal(c->reconcile_ms, 120000);
	assert_int_equal(c->tamper_check_ms, 100);
	assert_int_equal(c->capacity, 100000);
	assert_int_equal(c->max_per_user, 50);
	assert_int_equal(c->queue_max, 0);
	assert_int_equal(c->queue_timeout_ms, 2000);
	assert_int_equal(c->rate, 10);
	assert_int_equal(c->burst, 20);
	assert_int_equal(c->batch_max, 100000);
	assert_int_equal(c->default_lifetime_ms, 3600000);
	assert_int_equal(c->max_channels, 1048576);
	assert_int_equal(c->max_channels_per_user, 1);
	assert_string_equal(c->remote.host, "2001:db8::1");
	assert_int_equal(c->remote.port, 2222);
	assert_string_equal(c->remote.user, "host-a");
	assert_string_equal(c->remote.key, "/etc/dyper/site.key");
	assert_string_equal(c->remote.known_hosts, "/etc/dyper/site.pin");
	assert_int_equal(c->remote.connect_timeout_ms, 3000);
	assert_int_equal(c->remote.request_timeout_ms, 750);
	assert_int_equal(c->remote.keepalive_ms, 60000);
	assert_int_equal(c->remote.lease_ms, 90000);
	assert_int_equal(c->remote.on_unreachable, DYPER_UNREACHABLE_LOCAL);
}

/* Writes @c, parses it back and compares. */
static void roundtrip(const struct dyper_config *c)
{
	struct dyper_config back;
	char *text = NULL, err[ERR_LEN] = "";
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(dyper_config_write(c, f), 0);
	assert_int_equal(fclose(f), 0);
	if (dyper_config_parse(&back, text, "written", err, sizeof(err)))
		fail_msg("written config does not parse: %s\n%s", err, text);
	assert_true(config_equal(&back, c));
	assert_table_ok(&back);
	free(text);
}

static void test_full(void **state)
{
	struct dyper_config c, d;

	dyper_config_copy(&c, parse_ok(full_text));
	check_full(&c);
	roundtrip(&c);
	dyper_config_defaults(&d);
	roundtrip(&d);
}

/* The shipped file: as is, the defaults but for tcp_ports = 22 (SSH stays
 * reachable); every "; key = value" line uncommented, still the same, and
 * every key is there. */
static void test_shipped_file(void **state)
{
	struct dyper_config def, c;
	char err[ERR_LEN] = "", line[512], *text;
	size_t len = 0, keys = 0;
	FILE *f = fopen("conf/dyper.conf", "r");

	if (!f)
		fail_msg("conf/dyper.conf: %s (run from the top of the tree)", strerror(errno));
	dyper_config_defaults(&def);
	assert_int_equal(def.enforcer.n_tcp_ports, 0);
	def.enforcer.tcp_ports[0] = 22;
	def.enforcer.n_tcp_ports = 1;
	assert_int_equal(dyper_config_load(&c, "conf/dyper.conf", false, err, sizeof(err)), 0);
	assert_true(config_equal(&c, &def));

	text = calloc(1, 65536);
	assert_non_null(text);
	while (fgets(line, sizeof(line), f)) {
		const char *s = line;

		if (line[0] == ';' && line[1] == ' ' && line[2] >= 'a' && line[2] <= 'z' &&
		    strstr(line, " =")) {
			s = line + 2;
			keys++;
		}
		assert_true(len + strlen(s) < 65536);
		memcpy(text + len, s, strlen(s));
		len += strlen(s);
	}
	fclose(f);
	if (dyper_config_parse(&c, text, "conf/dyper.conf uncommented", err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(config_equal(&c, &def));
	/* every key, each once (else a duplicate error): 57 commented, tcp_ports set;
	 * [device NAME]'s example is "#"-commented: a device needs enable = yes */
	assert_int_equal(keys, 58);
	free(text);
}

/* The shipped [device NAME] example, uncommented under enable = yes. */
static void test_shipped_device(void **state)
{
	char line[512], *text;
	size_t len = 0;
	bool in = false;
	FILE *f = fopen("conf/dyper.conf", "r");
	const struct dyper_config *c;

	if (!f)
		fail_msg("conf/dyper.conf: %s (run from the top of the tree)", strerror(errno));
	text = calloc(1, 65536);
	assert_non_null(text);
	len = (size_t)snprintf(text, 65536, "[site]\nenable = yes\n");
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "#[device ", 9))
			in = true;
		if (!in || line[0] != '#')
			continue;
		assert_true(len + strlen(line) < 65536);
		memcpy(text + len, line + 1, strlen(line) - 1);
		len += strlen(line) - 1;
	}
	fclose(f);
	assert_true(in);
	c = parse_ok(text);
	assert_int_equal(c->n_devices, 1);
	assert_string_equal(c->device[0].name, "edge1");
	assert_string_equal(c->device[0].acl6, "DYPER-IN6");
	assert_int_equal(c->device[0].n_guards, 2);
	assert_int_equal(c->device[0].lag_ms, 2000);
	free(text);
}

/* --- value syntax --------------------------------------------------------- */

static void test_inline_comment(void **state)
{
	assert_int_equal(parse_ok("[limits]\nrate = 7 ; seven\n")->rate, 7);
	assert_int_equal(parse_ok("[limits] ; limits\nrate=8\t; eight\n")->rate, 8);
	assert_int_equal(parse_ok("[limits]\nrate: 9\n")->rate, 9);
	assert_string_equal(parse_ok("[daemon]\nevent_log = /var/log/d.json ; json\n")->event_log,
			    "/var/log/d.json");
	parse_bad("[limits]\nrate = 7;x\n", 2, "\"7;x\"");
	parse_bad("[limits]\nrate = 7 # seven\n", 2, "\"7 # seven\"");
}

static void test_booleans(void **state)
{
	static const struct { const char *v; bool b; } ok[] = {
		{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
		{ "on", true }, { "off", false }, { "1", true }, { "0", false },
		{ "YES", true }, { "Off", false }, { "True", true },
	};
	static const char *const bad[] = { "maybe", "2", "yess", "y", "n", "", "01", "tru" };
	char text[128], tok[32];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[enforcer]\nallow_ping = %s\n", ok[i].v);
		assert_int_equal(parse_ok(text)->enforcer.allow_ping, ok[i].b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[enforcer]\n\nallow_ping = %s\n", bad[i]);
		snprintf(tok, sizeof(tok), "\"%s\"", bad[i]);
		parse_bad(text, 3, tok);
	}
}

static void test_words(void **state)
{
	static const struct { const char *v; int level; } levels[] = {
		{ "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG }, { "DEBUG", LOG_DEBUG },
	};
	char text[128];

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\nlog_level = %s\n", levels[i].v);
		assert_int_equal(parse_ok(text)->log_level, levels[i].level);
	}
	assert_int_equal(parse_ok("[daemon]\non_exit = keep\n")->on_exit, DYPER_ON_EXIT_KEEP);
	assert_int_equal(parse_ok("[daemon]\non_exit = Flush\n")->on_exit, DYPER_ON_EXIT_FLUSH);
	assert_int_equal(parse_ok("[enforcer]\nowner = auto\n")->enforcer.owner, DYPER_OWNER_AUTO);
	assert_int_equal(parse_ok("[enforcer]\nowner = yes\n")->enforcer.owner, DYPER_OWNER_ON);
	assert_int_equal(parse_ok("[enforcer]\nowner = on\n")->enforcer.owner, DYPER_OWNER_ON);
	assert_int_equal(parse_ok("[enforcer]\nowner = false\n")->enforcer.owner, DYPER_OWNER_OFF);
	parse_bad("[daemon]\nlog_level = warn\n", 2, "\"warn\"");
	parse_bad("[enforcer]\nowner = automatic\n", 2, "\"automatic\"");
}

static void test_durations(void **state)
{
	static const struct { const char *key, *v; uint32_t ms; size_t off; } ok[] = {
#define D(k, v, ms, f) { k, v, ms, offsetof(struct dyper_config, f) }
		D("queue_timeout", "250ms", 250, queue_timeout_ms),
		D("queue_timeout", "1ms", 1, queue_timeout_ms),
		D("queue_timeout", "5s", 5000, queue_timeout_ms),
		D("queue_timeout", "2m", 120000, queue_timeout_ms),
		D("queue_timeout", "1h", 3600000, queue_timeout_ms),
		D("queue_timeout", "7", 7000, queue_timeout_ms),
		D("queue_timeout", "0007s", 7000, queue_timeout_ms),
		D("default_lifetime", "0", 0, default_lifetime_ms),
		D("default_lifetime", "0s", 0, default_lifetime_ms),
		D("default_lifetime", "30d", 30u * 86400000u, default_lifetime_ms),
		D("default_lifetime", "720h", 720u * 3600000u, default_lifetime_ms),
#undef D
	};
	static const struct { const char *key, *v; } bad[] = {
		{ "queue_timeout", "0" },		/* below 1ms */
		{ "queue_timeout", "3601s" },		/* above 1h */
		{ "queue_timeout", "5 s" },
		{ "queue_timeout", "1.5s" },
		{ "queue_timeout", "-1s" },
		{ "queue_timeout", "5S" },
		{ "queue_timeout", "s" },
		{ "queue_timeout", "1w" },
		{ "queue_timeout", "5sec" },
		{ "queue_timeout", "99999999999999999999s" },
		{ "default_lifetime", "31d" },
		{ "default_lifetime", "18446744073709551616" },
		{ "default_lifetime", "10000000000d" },
	};
	char text[128], tok[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct dyper_config *c;

		snprintf(text, sizeof(text), "[limits]\n%s = %s\n", ok[i].key, ok[i].v);
		c = parse_ok(text);
		assert_int_equal(*(uint32_t *)((char *)c + ok[i].off), ok[i].ms);
		roundtrip(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[limits]\n%s = %s\n", bad[i].key, bad[i].v);
		snprintf(tok, sizeof(tok), "\"%s\"", bad[i].v);
		parse_bad(text, 2, tok);
	}
	/* The message gives the range in the same syntax. */
	{
		struct dyper_config c;
		char err[ERR_LEN];

		assert_int_equal(dyper_config_parse(&c, "[enforcer]\ntamper_check_interval = 2h\n",
						    "t.conf", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "from 10ms to 1h"));
	}
}

/* [remote]: an address, never a name; whole-second leases; fail|local. */
static void test_remote(void **state)
{
	static const char *const addrs[] = { "198.51.100.1", "2001:db8::7", "::1", "" };
	static const struct { const char *text, *token; } bad[] = {
		{ "[remote]\nhost = site.example.org\n", "\"site.example.org\"" },
		{ "[remote]\nhost = 198.51.100.1:22\n", "\"198.51.100.1:22\"" },
		{ "[remote]\nhost = 198.51.100.256\n", "\"198.51.100.256\"" },
		{ "[remote]\nhost = [2001:db8::1]\n", "\"[2001:db8::1]\"" },
		{ "[remote]\nport = 0\n", "\"0\"" },
		{ "[remote]\nport = 65536\n", "\"65536\"" },
		{ "[remote]\nuser = -x\n", "\"-x\"" },
		{ "[remote]\nkey = id_ed25519\n", "\"id_ed25519\"" },
		{ "[remote]\nknown_hosts =\n", "\"\"" },
		{ "[remote]\nconnect_timeout = 50ms\n", "\"50ms\"" },
		{ "[remote]\nrequest_timeout = 6m\n", "\"6m\"" },
		{ "[remote]\nlease = 2s\n", "\"2s\"" },
		{ "[remote]\nlease = 2d\n", "\"2d\"" },
		{ "[remote]\nlease = 4500ms\n", "\"4500ms\"" },
		{ "[remote]\non_unreachable = ignore\n", "\"ignore\"" },
		{ "[remote]\nsite = 198.51.100.1\n", "\"site\"" },
	};
	char text[128];
	struct dyper_config *c;

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		snprintf(text, sizeof(text), "[remote]\nhost = %s\n", addrs[i]);
		c = parse_ok(text);
		assert_string_equal(c->remote.host, addrs[i]);
		roundtrip(c);
	}
	c = parse_ok("[remote]\non_unreachable = LOCAL\nlease = 3s\n");
	assert_int_equal(c->remote.on_unreachable, DYPER_UNREACHABLE_LOCAL);
	assert_int_equal(c->remote.lease_ms, 3000);
	roundtrip(c);
	assert_int_equal(parse_ok("[remote]\non_unreachable = fail\n")->remote.on_unreachable,
			 DYPER_UNREACHABLE_FAIL);
	assert_int_equal(parse_ok("[remote]\nlease = 1d\n")->remote.lease_ms, 86400000);
	/* [remote]'s user is not [daemon]'s */
	c = parse_ok("[daemon]\nuser = dyperd\n[remote]\nuser = hostA\n");
	assert_string_equal(c->user, "dyperd");
	assert_string_equal(c->remote.user, "hostA");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i].text, 2, bad[i].token);
	{
		struct dyper_config d;
		char err[ERR_LEN];

		assert_int_equal(dyper_config_parse(&d, "[remote]\nhost = site.example\n",
						    "t.conf", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "not a host name"));
		assert_int_equal(dyper_config_parse(&d, "[remote]\n\nlease = 4500ms\n",
						    "t.conf", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "t.conf:3: lease: expected whole seconds"));
		assert_int_equal(dyper_config_parse(&d, "[site]\nenable = yes\ninside = int0\n"
						    "[remote]\nhost = 198.51.100.1\n", "t.conf", err,
						    sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "t.conf:5: host: expected no site to forward to"));
	}
}

static void test_numbers(void **state)
{
	assert_int_equal(parse_ok("[enforcer]\npriority = -400\n")->enforcer.priority, -400);
	assert_int_equal(parse_ok("[enforcer]\npriority = 400\n")->enforcer.priority, 400);
	assert_int_equal(parse_ok("[enforcer]\npriority = -0\n")->enforcer.priority, 0);
	assert_int_equal(parse_ok("[enforcer]\nmax_pinholes = 16777216\n")->enforcer.max_pinholes,
			 16777216);
	assert_int_equal(parse_ok("[enforcer]\nlog_rate = 10000\n")->enforcer.log_rate, 10000);
	assert_int_equal(parse_ok("[limits]\nqueue_max = 0\n")->queue_max, 0);
	assert_int_equal(parse_ok("[limits]\ncapacity = 010\n")->capacity, 10);	/* not octal */
	parse_bad("[limits]\nmax_per_user = -1\n", 2, "\"-1\"");
	parse_bad("[limits]\nrate = 1e3\n", 2, "\"1e3\"");
	parse_bad("[limits]\nrate = 1 000\n", 2, "\"1 000\"");
	parse_bad("[enforcer]\npriority = --1\n", 2, "\"--1\"");
	parse_bad("[enforcer]\npriority = -\n", 2, "\"-\"");
}

static void test_mark(void **state)
{
	assert_int_equal(parse_ok("[enforcer]\nmark = 0\n")->enforcer.mark, 0);
	assert_int_equal(parse_ok("[enforcer]\nmark = 0x10\n")->enforcer.mark, 0x10);
	assert_int_equal(parse_ok("[enforcer]\nmark = 0XdeadBEEF\n")->enforcer.mark,
			 0xdeadbeef);
	assert_int_equal(parse_ok("[enforcer]\nmark = 4294967295\n")->enforcer.mark,
			 0xffffffff);
	assert_int_equal(parse_ok("[enforcer]\nmark = 010\n")->enforcer.mark, 10);
	roundtrip(parse_ok("[enforcer]\nmark = 0xdeadbeef\n"));
}

static void test_ports(void **state)
{
	char text[512];
	size_t o;
	struct dyper_config *c;

	c = parse_ok("[enforcer]\ntcp_ports =\nudp_ports = 5060\n");
	assert_int_equal(c->enforcer.n_tcp_ports, 0);
	assert_int_equal(c->enforcer.n_udp_ports, 1);
	assert_int_equal(c->enforcer.udp_ports[0], 5060);
	c = parse_ok("[enforcer]\ntcp_ports = 1,65535\n");
	assert_int_equal(c->enforcer.n_tcp_ports, 2);
	assert_int_equal(c->enforcer.tcp_ports[1], 65535);

	/* 64 ports fit (short ones, to stay within one line)... */
	o = (size_t)snprintf(text, sizeof(text), "[enforcer]\ntcp_ports=");
	for (int i = 1; i <= DYPER_CONFIG_MAX_PORTS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%d", i > 1 ? "," : "", i);
	snprintf(text + o, sizeof(text) - o, "\n");
	c = parse_ok(text);
	assert_int_equal(c->enforcer.n_tcp_ports, DYPER_CONFIG_MAX_PORTS);
	for (int i = 0; i < DYPER_CONFIG_MAX_PORTS; i++)
		assert_int_equal(c->enforcer.tcp_ports[i], i + 1);
	roundtrip(c);
	/* ...65 do not. */
	snprintf(text + o, sizeof(text) - o, ",65\n");
	parse_bad(text, 2, "more in \"1,2,3");

	parse_bad("[enforcer]\ntcp_ports = 22, 0\n", 2, "\"0\"");
	parse_bad("[enforcer]\ntcp_ports = 22,,80\n", 2, "\"22,,80\"");
	parse_bad("[enforcer]\ntcp_ports = 22,\n", 2, "\"22,\"");
	parse_bad("[enforcer]\ntcp_ports = ,22\n", 2, "\",22\"");
	parse_bad("[enforcer]\nudp_ports = 53, 53\n", 2, "\"53\" twice");
	parse_bad("[enforcer]\nudp_ports = 65536\n", 2, "\"65536\"");
	parse_bad("[enforcer]\ntcp_ports = 21-23\n", 2, "\"21-23\"");
	parse_bad("[enforcer]\ntcp_ports = 21 22\n", 2, "\"21 22\"");
	parse_bad("[enforcer]\ntcp_ports = ssh\n", 2, "\"ssh\"");
}

static void test_strings(void **state)
{
	char text[512], tok[300], name[64];

	/* A name of 63 characters fits, 64 do not: never truncated. */
	memset(name, 'u', 63);
	name[63] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nuser = %s\n", name);
	assert_string_equal(parse_ok(text)->user, name);
	snprintf(text, sizeof(text), "[daemon]\nuser = %su\n", name);
	snprintf(tok, sizeof(tok), "64 in \"%su\"", name);
	parse_bad(text, 2, tok);

	/* A socket path of 107 characters fits sun_path, 108 do not. */
	memset(tok, 'a', sizeof(tok));
	tok[0] = '/';
	tok[107] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nagent_socket = %s\n", tok);
	assert_string_equal(parse_ok(text)->agent_socket, tok);
	tok[107] = 'a';
	tok[108] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nagent_socket = %s\n", tok);
	parse_bad(text, 2, "108 in \"/aaaa");

	assert_string_equal(parse_ok("[daemon]\nuser = _dyper-1.x\n")->user, "_dyper-1.x");
	assert_string_equal(parse_ok("[daemon]\nevent_log =\n")->event_log, "");
	assert_string_equal(parse_ok("[enforcer]\ntable = d.y-p_r9\n")->enforcer_table, "d.y-p_r9");
}

/* --- errors ------------------------------------------------------------------ */

static void test_errors(void **state)
{
	static const struct { const char *text; unsigned line; const char *token; } cases[] = {
		{ "user = dyper\n", 1, "key \"user\"" },
		{ "; c\n[daemon]\n[foo]\nuser = x\n", 3, "\"[foo]\"" },
		{ "\n\n[ daemon ]\n", 3, "\"[ daemon ]\"" },
		{ "[]\n", 1, "\"[]\"" },
		{ "[limits] junk\n", 1, "\"junk\"" },
		{ "[limits\nrate = 1\n", 1, "\"[limits\"" },
		{ "\xef\xbb\xbf[limits\n", 1, "\"[limits\"" },
		{ "[daemon]\nusr = x\n", 2, "\"usr\"" },
		{ "[daemon]\nUser = x\n", 2, "\"User\"" },
		{ "[daemon]\nrate = 5\n", 2, "\"rate\"" },
		{ "[daemon]\nuser = a\n\nuser = b\n", 4, "\"user\" again (first on line 2)" },
		{ "[limits]\nrate = 1\n[daemon]\nuser = a\n[limits]\nrate = 2\n", 6, "\"rate\" again" },
		{ "[daemon]\nuser = 9lives\n", 2, "\"9lives\"" },
		{ "[daemon]\ngroup = ftp users\n", 2, "\"ftp users\"" },
		{ "[daemon]\nagent_socket = run/a.sock\n", 2, "\"run/a.sock\"" },
		{ "[daemon]\npolicy = /etc/dyper/my policy\n", 2, "\"/etc/dyper/my policy\"" },
		{ "[daemon]\npolicy =\n", 2, "\"\"" },
		{ "[daemon]\non_exit = destroy\n", 2, "\"destroy\"" },
		{ "[daemon]\nlog_level = verbose\n", 2, "\"verbose\"" },
		{ "[daemon]\nlog_level = \"info\"\n", 2, "\"\\\"info\\\"\"" },
		{ "[daemon]\nevent_log = events.json\n", 2, "\"events.json\"" },
		{ "[daemon]\ncontrol_socket = /run/dyper/agent.sock\n", 2, "\"/run/dyper/agent.sock\"" },
		{ "[daemon]\ncontrol_socket = /x\nagent_socket = /x\n", 3, "\"/x\"" },
		{ "[enforcer]\ntable = 1dyper\n", 2, "\"1dyper\"" },
		{ "[enforcer]\ntable = dy/per\n", 2, "\"dy/per\"" },
		{ "[enforcer]\npriority = 401\n", 2, "\"401\"" },
		{ "[enforcer]\npriority = -401\n", 2, "\"-401\"" },
		{ "[enforcer]\nallow_ping = maybe\n", 2, "\"maybe\"" },
		{ "[enforcer]\nmax_pinholes = 0\n", 2, "\"0\"" },
		{ "[enforcer]\nmax_pinholes = 16777217\n", 2, "\"16777217\"" },
		{ "[enforcer]\nlog_rate = 5x\n", 2, "\"5x\"" },
		{ "[enforcer]\nlog_rate = 10001\n", 2, "\"10001\"" },
		{ "[enforcer]\nowner = sometimes\n", 2, "\"sometimes\"" },
		{ "[enforcer]\nmark = 0x\n", 2, "\"0x\"" },
		{ "[enforcer]\nmark = 0x100000000\n", 2, "\"0x100000000\"" },
		{ "[enforcer]\nmark = 4294967296\n", 2, "\"4294967296\"" },
		{ "[enforcer]\nmark = 0x1g\n", 2, "\"0x1g\"" },
		{ "[enforcer]\nmark = -1\n", 2, "\"-1\"" },
		{ "[enforcer]\nmark = 0x-1\n", 2, "\"0x-1\"" },
		{ "[enforcer]\nreconcile_interval = 500ms\n", 2, "\"500ms\"" },
		{ "[enforcer]\ntamper_check_interval = 5 s\n", 2, "\"5 s\"" },
		{ "[limits]\ncapacity = 0x100\n", 2, "\"0x100\"" },
		{ "[limits]\ncapacity = 16777217\n", 2, "\"16777217\"" },
		{ "[limits]\nrate = +5\n", 2, "\"+5\"" },
		{ "[limits]\nrate = 0\n", 2, "\"0\"" },
		{ "[limits]\nburst = 99999999999999999999999\n", 2, "\"99999999999999999999999\"" },
		{ "[limits]\nqueue_max = 1048577\n", 2, "\"1048577\"" },
		{ "[limits]\nqueue_timeout = 0\n", 2, "\"0\"" },
		{ "[limits]\ndefault_lifetime = 31d\n", 2, "\"31d\"" },
		{ "[limits]\nbatch_max = 100001\n", 2, "\"100001\"" },
		{ "[limits]\nmax_channels = 0\n", 2, "\"0\"" },
		{ "[limits]\nmax_channels = 1048577\n", 2, "\"1048577\"" },
		{ "[limits]\nmax_channels_per_user = 0\n", 2, "\"0\"" },
		{ "[limits]\nmax_channels_per_user = 1048577\n", 2, "\"1048577\"" },
		{ "[limits]\nmax_channels_per_user = 5x\n", 2, "\"5x\"" },
		{ "[limits]\nrate =\n", 2, "\"\"" },
		{ "[limits]\nrate\n", 2, "\"rate\"" },
		{ "[limits]\n  = 5\n", 2, "\"\"" },
		/* The first error wins, whoever finds it. */
		{ "[limits]\nrate = 0\nburst = 0\n", 2, "\"0\"" },
		{ "[limits]\ngarbage\nrate = 0\n", 2, "\"garbage\"" },
		{ "[limits]\nrate = 0\ngarbage\n", 2, "\"0\"" },
		{ "[bad]\ngarbage\n", 1, "\"[bad]\"" },
		/* Messages stay one clean line: control bytes are escaped. */
		{ "[daemon]\nuser = a\x01\x1b[31mb\n", 2, "\"a\\x01\\x1b[31mb\"" },
		{ "[daemon]\nuser = d\xc3\xa9\n", 2, "\"d\\xc3\\xa9\"" },
		{ "[daemon]\nuser = a\rb\n", 2, "\"a\\x0db\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].text, cases[i].line, cases[i].token);
}

static void test_error_text(void **state)
{
	struct dyper_config c;
	char err[ERR_LEN], small[12];

	/* The whole message, once, to pin the format down. */
	assert_int_equal(dyper_config_parse(&c, "[limits]\nrate = 0\n", "/etc/dyper/dyper.conf",
					    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/etc/dyper/dyper.conf:2: rate: expected a number from 1 "
			    "to 1000000, found \"0\"");
	assert_int_equal(dyper_config_parse(&c, "[daemon]\nfoo = 1\n", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "<string>:2: expected a key of [daemon] (user, group, "
			    "agent_socket, control_socket, policy, on_exit, log_level, "
			    "event_log), found \"foo\"");
	assert_int_equal(dyper_config_parse(&c, "[x]\n", "f", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:1: expected a section [daemon], [enforcer], [limits], "
			    "[remote], [site] or [device NAME], found \"[x]\"");

	/* Small or absent buffers are fine. */
	assert_int_equal(dyper_config_parse(&c, "[x]\n", "f", small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "f:1: expect");
	assert_int_equal(dyper_config_parse(&c, "[x]\n", "f", NULL, 0), -EINVAL);
	assert_int_equal(dyper_config_parse(&c, NULL, "f", err, sizeof(err)), -EINVAL);

	/* A long bad token is cut in the message. */
	{
		char text[256];

		snprintf(text, sizeof(text), "[limits]\nrate = %0150d\n", 7);
		assert_int_equal(dyper_config_parse(&c, text, "f", err, sizeof(err)), 0);
		snprintf(text, sizeof(text), "[limits]\nrate = x%0150d\n", 7);
		assert_int_equal(dyper_config_parse(&c, text, "f", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "0000\"..."));
		assert_true(strlen(err) < 200);
	}
}

static void test_lines(void **state)
{
	char text[512];
	struct dyper_config *c;

	/* CRLF, indentation, tabs. */
	c = parse_ok("[daemon]\r\nuser = crlf\r\n\r\n  [limits]\r\n\trate = 3\r\n    burst = 4\n");
	assert_string_equal(c->user, "crlf");
	assert_int_equal(c->rate, 3);
	assert_int_equal(c->burst, 4);

	/* A section may be opened again; its keys still count once. */
	c = parse_ok("[limits]\nrate = 5\n[daemon]\nuser = a\n[limits]\nburst = 6\n");
	assert_int_equal(c->rate, 5);
	assert_int_equal(c->burst, 6);

	/* 197 characters fit; 198 are an error, not silently split. */
	snprintf(text, sizeof(text), "[daemon]\nevent_log = /%0184d\n", 0);
	assert_int_equal(strlen(strchr(text, '\n') + 1), 197 + 1);
	assert_int_equal(strlen(parse_ok(text)->event_log), 185);
	snprintf(text, sizeof(text), "[daemon]\n\nevent_log = /%0185d\n[limits]\nrate = 0\n", 0);
	parse_bad(text, 3, "198");
	/* The writer keeps such a line within the limit. */
	snprintf(text, sizeof(text), "[daemon]\nevent_log=/%0186d\n", 0);
	assert_int_equal(strlen(strchr(text, '\n') + 1), 197 + 1);
	roundtrip(parse_ok(text));
	snprintf(text, sizeof(text), "[daemon]\n;%0300d\n", 0);
	parse_bad(text, 2, "301");
}

static void test_enforcer_struct(void **state)
{
	struct dyper_config a, b;

	dyper_config_copy(&a, parse_ok(full_text));
	assert_table_ok(&a);
	assert_string_equal(a.enforcer_table, "dyper_test");

	/* A copy points at its own buffer, not at the original's. */
	dyper_config_copy(&b, &a);
	assert_table_ok(&b);
	memset(&a, 0, sizeof(a));
	assert_string_equal(b.enforcer_table, "dyper_test");
	assert_int_equal(b.enforcer.n_tcp_ports, 4);
	dyper_config_copy(&b, &b);
	assert_table_ok(&b);

	/* Parsing over a used struct leaves no trace of it. */
	assert_int_equal(dyper_config_parse(&b, "[enforcer]\ntable = t\n", "t", NULL, 0), 0);
	assert_table_ok(&b);
	assert_string_equal(b.enforcer_table, "t");
	assert_int_equal(b.enforcer.n_tcp_ports, 0);
	assert_int_equal(b.enforcer.tcp_ports[0], 0);
	assert_string_equal(b.user, "dyper");
}

/* --- files ------------------------------------------------------------------- */

static char *write_temp(const char *data, size_t len, mode_t mode)
{
	char *path = strdup("/tmp/dyper-test-conf-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void test_load(void **state)
{
	struct dyper_config c, def;
	char err[ERR_LEN], want[256];
	char *path;

	dyper_config_defaults(&def);

	path = write_temp(full_text, strlen(full_text), 0600);
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), 0);
	check_full(&c);
	unlink(path);

	/* Missing: an error, or the defaults when that is fine. */
	c.rate = 1;
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: ", path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	assert_int_equal(c.rate, 1);
	assert_int_equal(dyper_config_load(&c, path, true, err, sizeof(err)), 0);
	assert_true(config_equal(&c, &def));
	assert_table_ok(&c);
	free(path);

	/* Errors carry the path and the line. */
	path = write_temp("[daemon]\n\n[limits]\nrate = fast\n",
			  strlen("[daemon]\n\n[limits]\nrate = fast\n"), 0640);
	assert_int_equal(dyper_config_load(&c, path, true, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: rate: expected a number from 1 to 1000000, "
		 "found \"fast\"", path);
	assert_string_equal(err, want);
	unlink(path);
	free(path);

	/* A NUL byte is not text. */
	path = write_temp("[limits]\nrate = 5\0\n", 19, 0600);
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: expected text, found a NUL byte", path);
	assert_string_equal(err, want);
	unlink(path);
	free(path);

	/* Only its owner may write it. */
	path = write_temp("", 0, 0620);
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode 0620"));
	unlink(path);
	free(path);
	path = write_temp("", 0, 0606);
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), -EPERM);
	unlink(path);
	free(path);

	/* Not a regular file. */
	assert_int_equal(dyper_config_load(&c, "/tmp", false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/tmp: expected a regular file"));

	/* An empty file: the defaults. */
	path = write_temp("", 0, 0644);
	c.rate = 1;
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), 0);
	assert_true(config_equal(&c, &def));
	unlink(path);
	free(path);
}

static void test_load_big(void **state)
{
	struct dyper_config c;
	char err[ERR_LEN];
	size_t len = (1 << 20) + 1;
	char *data = malloc(len), *path;

	assert_non_null(data);
	memset(data, '\n', len);
	path = write_temp(data, len, 0600);
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "expected at most 1048576 bytes"));
	unlink(path);
	free(path);
	/* Exactly the limit is fine. */
	path = write_temp(data, len - 1, 0600);
	assert_int_equal(dyper_config_load(&c, path, false, err, sizeof(err)), 0);
	unlink(path);
	free(path);
	free(data);
}

/* --- [site] ---------------------------------------------------------------- */

static const char site_text[] =
	"[site]\n"
	"enable = yes\n"
	"name = border-1.example\n"
	"socket = /run/dyper/s.sock\n"
	"account = 4242\n"
	"policy = /etc/dyper/hosts.policy\n"
	"max_per_delegate = 7\n"
	"max_lease = 90s\n"
	"batch = 1000\n"
	"max_connections = 3\n"
	"rate = 5\n"
	"burst = 9\n"
	"table = border\n"
	"priority = -10\n"
	"mode = mark\n"
	"mark = 0x20\n"
	"inside = int0, vlan.12\n"
	"open_ports = tcp/198.51.100.10/22, udp/2001:db8:11::10/53\n";

static void test_site(void **state)
{
	struct dyper_config c, def;

	dyper_config_defaults(&def);
	assert_false(def.site.enable);
	assert_string_equal(def.site.name, "site");
	assert_string_equal(def.site.socket, "/run/dyper/site.sock");
	assert_string_equal(def.site.account, "dyper-site");
	assert_int_equal(def.site.batch, 200);
	assert_int_equal(def.site.max_lease_ms, 600000);
	dyper_config_copy(&c, parse_ok(site_text));
	assert_true(c.site.enable);
	assert_string_equal(c.site.name, "border-1.example");
	assert_string_equal(c.site.socket, "/run/dyper/s.sock");
	assert_string_equal(c.site.account, "4242");
	assert_string_equal(c.site.policy, "/etc/dyper/hosts.policy");
	assert_int_equal(c.site.max_per_delegate, 7);
	assert_int_equal(c.site.max_lease_ms, 90000);
	assert_int_equal(c.site.batch, 1000);
	assert_int_equal(c.site.max_connections, 3);
	assert_int_equal(c.site.rate, 5);
	assert_int_equal(c.site.burst, 9);
	assert_string_equal(c.site.table, "border");
	assert_int_equal(c.site.priority, -10);
	assert_int_equal(c.site.mode, DYPER_SITE_MARK);
	assert_int_equal(c.site.mark, 0x20);
	assert_int_equal(c.site.n_inside, 2);
	assert_string_equal(c.site.inside[0], "int0");
	assert_string_equal(c.site.inside[1], "vlan.12");
	assert_int_equal(c.site.n_open, 2);
	assert_int_equal(c.site.open[0].proto, IPPROTO_TCP);
	assert_int_equal(c.site.open[0].family, AF_INET);
	assert_int_equal(c.site.open[0].port, 22);
	assert_memory_equal(c.site.open[0].addr, "\xc6\x33\x64\x0a", 4);
	assert_int_equal(c.site.open[1].proto, IPPROTO_UDP);
	assert_int_equal(c.site.open[1].family, AF_INET6);
	assert_int_equal(c.site.open[1].port, 53);
	roundtrip(&c);
	/* an account by name; no open ports */
	assert_string_equal(parse_ok("[site]\naccount = dyper-remote\nopen_ports =\n")->site.account,
			    "dyper-remote");
	assert_int_equal(parse_ok("[site]\nopen_ports =\n")->site.n_open, 0);
}

static void test_site_errors(void **state)
{
	static const struct { const char *text; unsigned line; const char *token; } cases[] = {
		{ "[site]\nname = -site\n", 2, "\"-site\"" },
		{ "[site]\nname = my_site\n", 2, "\"my_site\"" },
		{ "[site]\naccount = 12x\n", 2, "\"12x\"" },
		{ "[site]\naccount = 4294967295\n", 2, "\"4294967295\"" },
		{ "[site]\naccount = a b\n", 2, "\"a b\"" },
		{ "[site]\nmax_lease = 0\n", 2, "\"0\"" },
		{ "[site]\nmax_lease = 2d\n", 2, "\"2d\"" },
		{ "[site]\nbatch = 0\n", 2, "\"0\"" },
		{ "[site]\nmode = router\n", 2, "\"router\"" },
		{ "[site]\ninside = int0,,int1\n", 2, "\"int0,,int1\"" },
		{ "[site]\ninside = int0,int0\n", 2, "\"int0\" twice" },
		{ "[site]\ninside = a234567890123456\n", 2, "\"a234567890123456\"" },
		{ "[site]\ninside = eth/0\n", 2, "\"eth/0\"" },
		{ "[site]\nopen_ports = tcp/198.51.100.10\n", 2, "\"tcp/198.51.100.10\"" },
		{ "[site]\nopen_ports = icmp/198.51.100.10/1\n", 2, "\"icmp/198.51.100.10/1\"" },
		{ "[site]\nopen_ports = tcp/198.51.100.300/22\n", 2, "\"tcp/198.51.100.300/22\"" },
		{ "[site]\nopen_ports = tcp/198.51.100.10/0\n", 2, "\"tcp/198.51.100.10/0\"" },
		{ "[site]\nopen_ports = tcp/198.51.100.10/22x\n", 2, "\"tcp/198.51.100.10/22x\"" },
		{ "[site]\nopen_ports = tcp/::1/22,tcp/::1/22\n", 2, "\"tcp/::1/22\" twice" },
		/* between keys: enable needs inside; mark mode a mark */
		{ "[site]\nenable = yes\n", 2, "none" },
		{ "[site]\nenable = yes\ninside = int0\nmode = mark\n", 4, "none" },
		{ "[site]\nenable = yes\ninside = int0\nsocket = /run/dyper/control.sock\n", 4,
		  "\"/run/dyper/control.sock\"" },
		{ "[site]\nenable = yes\ninside = int0\nrate = 10\nburst = 5\n", 5, "5" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].text, cases[i].line, cases[i].token);
	/* disabled, the same keys need nothing else */
	assert_false(parse_ok("[site]\nmode = mark\n")->site.enable);
}

/* --- [device NAME] and [site] router ------------------------------------- */

#define SITE_ON "[site]\nenable = yes\n"
/* one complete device: what check_device requires */
#define DEV(name) "[device " name "]\ntype = ios\naddress = 192.0.2.1\nuser = dyper\n" \
	"key = /etc/dyper/devices/" name ".key\nknown_hosts = /etc/dyper/devices/known_hosts\n" \
	"acl = DYPER-IN\n"

static const char devices_text[] =
	"[site]\n"
	"enable = yes\n"
	"\n"
	"[device edge1]\n"
	"type = ios\n"
	"address = 192.0.2.1\n"
	"port = 2222\n"
	"user = dyper\n"
	"key = /etc/dyper/devices/edge1.key\n"
	"known_hosts = /etc/dyper/devices/known_hosts\n"
	"acl = DYPER-IN\n"
	"acl6 = DYPER-IN6\n"
	"first_id = 100\n"
	"last_id = 9999\n"
	"batch = 300\n"
	"save_interval = 10m\n"
	"timeout = 20s\n"
	"keepalive = 2m\n"
	"lag = 2s\n"
	"guards = 198.51.100.0/24 2001:db8:1::/48, 203.0.113.7\n"
	"\n"
	"[device core.v6-1]  ; a comment\n"
	"type = JunOS\n"
	"address = 2001:db8::2\n"
	"user = dyper-site\n"
	"password_file = /etc/dyper/devices/core.pw\n"
	"known_hosts = /etc/dyper/devices/known_hosts\n"
	"acl = DYPER-IN\n"
	"confirm_minutes = 3\n";

static void test_devices(void **state)
{
	struct dyper_config c, def;
	const struct dyper_device_conf *d;

	dyper_config_defaults(&def);
	assert_int_equal(def.n_devices, 0);
	assert_int_equal(def.site.router, DYPER_SITE_ROUTER_AUTO);
	assert_true(dyper_config_site_router(&def));

	dyper_config_copy(&c, parse_ok(devices_text));
	assert_int_equal(c.n_devices, 2);
	d = &c.device[0];
	assert_string_equal(d->name, "edge1");
	assert_int_equal(d->type, DYPER_DEVICE_IOS);
	assert_string_equal(d->address, "192.0.2.1");
	assert_int_equal(d->port, 2222);
	assert_string_equal(d->user, "dyper");
	assert_string_equal(d->key, "/etc/dyper/devices/edge1.key");
	assert_string_equal(d->password_file, "");
	assert_string_equal(d->known_hosts, "/etc/dyper/devices/known_hosts");
	assert_string_equal(d->acl, "DYPER-IN");
	assert_string_equal(d->acl6, "DYPER-IN6");
	assert_string_equal(d->final_term, "");
	assert_int_equal(d->first_id, 100);
	assert_int_equal(d->last_id, 9999);
	assert_int_equal(d->batch, 300);
	assert_int_equal(d->save_interval_ms, 600000);
	assert_int_equal(d->timeout_ms, 20000);
	assert_int_equal(d->keepalive_ms, 120000);
	assert_int_equal(d->confirm_minutes, 0);
	assert_int_equal(d->lag_ms, 2000);
	assert_int_equal(d->n_guards, 3);
	assert_int_equal(d->guards[0].family, AF_INET);
	assert_int_equal(d->guards[0].len, 24);
	assert_memory_equal(d->guards[0].addr, "\xc6\x33\x64\x00", 4);
	assert_int_equal(d->guards[1].family, AF_INET6);
	assert_int_equal(d->guards[1].len, 48);
	assert_memory_equal(d->guards[1].addr, "\x20\x01\x0d\xb8\x00\x01\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(d->guards[2].len, 32);	/* an address alone: one host */
	assert_memory_equal(d->guards[2].addr, "\xcb\x00\x71\x07", 4);
	/* the second one: defaults, spelled out */
	d = &c.device[1];
	assert_string_equal(d->name, "core.v6-1");
	assert_int_equal(d->type, DYPER_DEVICE_JUNOS);
	assert_int_equal(d->port, 22);
	assert_string_equal(d->key, "");
	assert_string_equal(d->password_file, "/etc/dyper/devices/core.pw");
	assert_string_equal(d->acl6, "DYPER-IN");
	assert_string_equal(d->final_term, "deny");
	assert_int_equal(d->first_id, 0);
	assert_int_equal(d->last_id, 0);
	assert_int_equal(d->batch, 0);
	assert_int_equal(d->save_interval_ms, 0);
	assert_int_equal(d->timeout_ms, 0);
	assert_int_equal(d->keepalive_ms, 0);
	assert_int_equal(d->confirm_minutes, 3);
	assert_int_equal(d->lag_ms, 2000);
	assert_int_equal(d->n_guards, 0);
	/* with devices and no [site] inside, auto is no router */
	assert_int_equal(c.site.router, DYPER_SITE_ROUTER_AUTO);
	assert_false(dyper_config_site_router(&c));
	roundtrip(&c);

	/* every type, in the file's order */
	c = *parse_ok(SITE_ON DEV("a") "[device b]\ntype = ftos\naddress = 192.0.2.2\nuser = u\n"
		      "key = /k\nknown_hosts = /h\nacl = A\n[device c]\ntype = ironware\n"
		      "address = 192.0.2.3\nuser = u\nkey = /k\nknown_hosts = /h\nacl = A\n");
	assert_int_equal(c.n_devices, 3);
	assert_int_equal(c.device[1].type, DYPER_DEVICE_FTOS);
	assert_int_equal(c.device[2].type, DYPER_DEVICE_IRONWARE);
	assert_string_equal(c.device[2].name, "c");
	roundtrip(&c);

	/* router = yes with devices: both, and then inside is required again */
	c = *parse_ok(SITE_ON "router = yes\ninside = int0\n" DEV("e"));
	assert_int_equal(c.site.router, DYPER_SITE_ROUTER_YES);
	assert_true(dyper_config_site_router(&c));
	roundtrip(&c);
	c = *parse_ok(SITE_ON "router = no\nmode = mark\n" DEV("e"));
	assert_false(dyper_config_site_router(&c));
	/* router = auto without devices is the router alone, as before */
	c = *parse_ok(SITE_ON "router = auto\ninside = int0\n");
	assert_true(dyper_config_site_router(&c));

	/* sixteen devices are fine */
	{
		char text[16384];
		size_t o = (size_t)snprintf(text, sizeof(text), SITE_ON);

		for (int i = 0; i < DYPER_MAX_DEVICES; i++) {
			char name[8];

			snprintf(name, sizeof(name), "d%d", i);
			o += (size_t)snprintf(text + o, sizeof(text) - o, "[device %s]\ntype = ftos\n"
					      "address = 192.0.2.%d\nuser = u\nkey = /k\n"
					      "known_hosts = /h\nacl = A\n", name, i + 1);
		}
		c = *parse_ok(text);
		assert_int_equal(c.n_devices, DYPER_MAX_DEVICES);
		assert_string_equal(c.device[15].name, "d15");
		roundtrip(&c);
		/* a seventeenth is not: 16 sections of 7 lines after 2 */
		snprintf(text + o, sizeof(text) - o, "[device d16]\ntype = ios\n");
		parse_bad(text, 2 + 16 * 7 + 1, "\"[device d16]\"");
	}
}

static void test_device_errors(void **state)
{
	static const struct { const char *text; unsigned line; const char *token; } cases[] = {
		/* headers */
		{ SITE_ON "[device]\ntype = ios\n", 3, "\"[device]\"" },
		{ SITE_ON "[device ]\n", 3, "\"[device ]\"" },
		{ SITE_ON "[device  e]\n", 3, "\"[device  e]\"" },
		{ SITE_ON "[device -e]\n", 3, "\"[device -e]\"" },
		{ SITE_ON "[device e/1]\n", 3, "\"[device e/1]\"" },
		{ SITE_ON "[device a23456789012345678901234567890123]\n", 3,
		  "\"[device a23456789012345678901234567890123]\"" },
		{ SITE_ON "[devices e]\n", 3, "\"[devices e]\"" },
		{ SITE_ON DEV("e") "[device e]\n", 10, "\"[device e]\" again (first on line 3)" },
		/* each key, strictly */
		{ SITE_ON "[device e]\ntype = nxos\n", 4, "\"nxos\"" },
		{ SITE_ON "[device e]\naddress = edge1.example\n", 4, "\"edge1.example\"" },
		{ SITE_ON "[device e]\naddress = 192.0.2.0/24\n", 4, "\"192.0.2.0/24\"" },
		{ SITE_ON "[device e]\nport = 0\n", 4, "\"0\"" },
		{ SITE_ON "[device e]\nport = 65536\n", 4, "\"65536\"" },
		{ SITE_ON "[device e]\nuser = -u\n", 4, "\"-u\"" },
		{ SITE_ON "[device e]\nuser = a b\n", 4, "\"a b\"" },
		{ SITE_ON "[device e]\nuser = a2345678901234567890123456789012\n", 4,
		  "\"a2345678901234567890123456789012\"" },
		{ SITE_ON "[device e]\nkey = relative.key\n", 4, "\"relative.key\"" },
		{ SITE_ON "[device e]\npassword_file = pw\n", 4, "\"pw\"" },
		{ SITE_ON "[device e]\nknown_hosts = ~/.ssh/known_hosts\n", 4,
		  "\"~/.ssh/known_hosts\"" },
		{ SITE_ON "[device e]\nacl = DYPER IN\n", 4, "\"DYPER IN\"" },
		{ SITE_ON "[device e]\nacl =\n", 4, "\"\"" },
		{ SITE_ON "[device e]\nacl6 = in;6\n", 4, "\"in;6\"" },
		{ SITE_ON "[device e]\nfinal_term = \"deny\"\n", 4, "\"\\\"deny\\\"\"" },
		{ SITE_ON "[device e]\nfirst_id = -1\n", 4, "\"-1\"" },
		{ SITE_ON "[device e]\nlast_id = 2147483647\n", 4, "\"2147483647\"" },
		{ SITE_ON "[device e]\nbatch = 100001\n", 4, "\"100001\"" },
		{ SITE_ON "[device e]\nsave_interval = 5s\n", 4, "\"5s\"" },
		{ SITE_ON "[device e]\nsave_interval = 2d\n", 4, "\"2d\"" },
		{ SITE_ON "[device e]\ntimeout = 500ms\n", 4, "\"500ms\"" },
		{ SITE_ON "[device e]\nkeepalive = 2h\n", 4, "\"2h\"" },
		{ SITE_ON "[device e]\nconfirm_minutes = 65536\n", 4, "\"65536\"" },
		{ SITE_ON "[device e]\nlag = 0\n", 4, "\"0\"" },
		{ SITE_ON "[device e]\nlag = 6m\n", 4, "\"6m\"" },
		{ SITE_ON "[device e]\nguards = 198.51.100.7/24\n", 4, "\"198.51.100.7/24\"" },
		{ SITE_ON "[device e]\nguards = 2001:db8:1::1/48\n", 4, "\"2001:db8:1::1/48\"" },
		{ SITE_ON "[device e]\nguards = 198.51.100.0/33\n", 4, "\"198.51.100.0/33\"" },
		{ SITE_ON "[device e]\nguards = 198.51.100.0/\n", 4, "\"198.51.100.0/\"" },
		{ SITE_ON "[device e]\nguards = 198.51.100.0/24x\n", 4, "\"198.51.100.0/24x\"" },
		{ SITE_ON "[device e]\nguards = example.net/24\n", 4, "\"example.net/24\"" },
		{ SITE_ON "[device e]\nguards = 192.0.2.0/24,,198.51.100.0/24\n", 4,
		  "\"192.0.2.0/24,,198.51.100.0/24\"" },
		{ SITE_ON "[device e]\nguards = 192.0.2.0/24 192.0.2.0/24\n", 4,
		  "\"192.0.2.0/24\" twice" },
		{ SITE_ON "[device e]\nguards = 2001:db8:0::/32 2001:db8::/32\n", 4,
		  "\"2001:db8::/32\" twice" },
		{ SITE_ON "[device e]\nguards = 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 "
		  "192.0.2.5 192.0.2.6 192.0.2.7 192.0.2.8 192.0.2.9 192.0.2.10 192.0.2.11 "
		  "192.0.2.12 192.0.2.13 192.0.2.14 192.0.2.15 192.0.2.16 192.0.2.17\n", 4, "more" },
		{ SITE_ON "[device e]\nvrf = x\n", 4, "\"vrf\"" },
		{ SITE_ON "[device e]\ntype = ios\ntype = ftos\n", 5,
		  "\"type\" again (first on line 4)" },
		/* required keys: blamed on the header when absent */
		{ SITE_ON "[device e]\n", 3, "none" },
		{ SITE_ON "[device e]\naddress = 192.0.2.1\n", 3, "none" },
		{ SITE_ON "[device e]\ntype = ios\n", 3, "none" },
		{ SITE_ON "[device e]\ntype = ios\naddress = 192.0.2.1\n", 3, "none" },
		{ SITE_ON "[device e]\ntype = ios\naddress = 192.0.2.1\nuser = u\n", 3, "none" },
		{ SITE_ON "[device e]\ntype = ios\naddress = 192.0.2.1\nuser = u\nkey = /k\n", 3,
		  "none" },
		{ SITE_ON "[device e]\ntype = ios\naddress = 192.0.2.1\nuser = u\nkey = /k\n"
		  "known_hosts = /h\n", 3, "none" },
		{ SITE_ON DEV("e") "password_file = /pw\n", 10, "\"/pw\"" },
		/* between keys */
		{ SITE_ON DEV("e") "final_term = deny\n", 10, "\"deny\"" },
		{ SITE_ON DEV("e") "confirm_minutes = 2\n", 10, "2" },
		{ SITE_ON DEV("e") "first_id = 2000\nlast_id = 1000\n", 10, "2000" },
		{ SITE_ON DEV("e") "first_id = 1000000\n", 10, "1000000" },
		{ SITE_ON DEV("e") "first_id = 1\nlast_id = 16777217\n", 11, "16777217" },
		{ SITE_ON DEV("e") "save_interval = 10500ms\n", 10, "10500ms" },
		/* devices are the site controller's */
		{ DEV("e"), 1, "[device e] without it" },
		{ "[site]\nenable = no\n" DEV("e"), 3, "[device e] without it" },
		{ SITE_ON "router = no\ninside = int0\n", 3, "none" },
		{ SITE_ON "router = maybe\n", 3, "\"maybe\"" },
		/* with the router on, its keys are required again */
		{ SITE_ON "router = yes\n" DEV("e"), 10, "none" },
		{ SITE_ON "router = no\ninside = int0\nrate = 10\nburst = 5\n" DEV("e"), 6, "5" },
	};
	struct dyper_config c;
	char err[ERR_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].text, cases[i].line, cases[i].token);

	/* the whole message, where the text matters */
	assert_int_equal(dyper_config_parse(&c, SITE_ON "[device e]\ntype = nxos\n", "f", err,
					    sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:4: type: expected a device type: ios, ftos, ironware or "
			    "junos, found \"nxos\"");
	assert_int_equal(dyper_config_parse(&c, SITE_ON "[device e]\n", "f", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "f:3: type: expected a type (ios, ftos, ironware or junos) in "
			    "[device e], found none");
	assert_int_equal(dyper_config_parse(&c, SITE_ON "[device e]\nfoo = 1\n", "f", err,
					    sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:4: expected a key of [device e] (type, address, port, user, "
			    "key, password_file, known_hosts, acl, acl6, final_term, first_id, "
			    "last_id, batch, save_interval, timeout, keepalive, confirm_minutes, "
			    "lag, guards), found \"foo\"");
	assert_int_equal(dyper_config_parse(&c, SITE_ON "[device e]\nguards = 198.51.100.7/24\n",
					    "f", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "guards: expected a prefix without host bits"));
}

/* dyperd/devconf: what the driver gets from a [device NAME] section. */
static void test_devconf(void **state)
{
	struct remote_device_config r;
	struct dyper_config c;
	struct enforcer *e = NULL;
	char why[CLI_ERROR_LEN] = "";
	int err;

	assert_string_equal(devconf_type_name(DYPER_DEVICE_IOS), "ios");
	assert_string_equal(devconf_type_name(DYPER_DEVICE_FTOS), "ftos");
	assert_string_equal(devconf_type_name(DYPER_DEVICE_IRONWARE), "ironware");
	assert_string_equal(devconf_type_name(DYPER_DEVICE_JUNOS), "junos");
	assert_string_equal(devconf_type_name((enum dyper_device_type)42), "?");

	dyper_config_copy(&c, parse_ok(devices_text));
	devconf_to_remote(&r, &c.device[0]);
	assert_ptr_equal(r.name, c.device[0].name);
	assert_string_equal(r.type, "ios");
	assert_string_equal(r.address, "192.0.2.1");
	assert_int_equal(r.port, 2222);
	assert_string_equal(r.user, "dyper");
	assert_string_equal(r.key_file, "/etc/dyper/devices/edge1.key");
	assert_null(r.password_file);
	assert_string_equal(r.known_hosts, "/etc/dyper/devices/known_hosts");
	assert_string_equal(r.acl, "DYPER-IN");
	assert_string_equal(r.acl6, "DYPER-IN6");
	assert_null(r.final_term);
	assert_int_equal(r.first_id, 100);
	assert_int_equal(r.last_id, 9999);
	assert_int_equal(r.batch_size, 300);
	assert_int_equal(r.save_interval_s, 600);
	assert_int_equal(r.timeout_ms, 20000);
	assert_int_equal(r.keepalive_ms, 120000);
	assert_int_equal(r.confirm_minutes, 0);
	assert_int_equal(r.connect_tries, 0);
	assert_int_equal(r.window, 0);

	devconf_to_remote(&r, &c.device[1]);
	assert_string_equal(r.type, "junos");
	assert_null(r.key_file);
	assert_string_equal(r.password_file, "/etc/dyper/devices/core.pw");
	assert_string_equal(r.acl6, "DYPER-IN");
	assert_string_equal(r.final_term, "deny");
	assert_int_equal(r.first_id, REMOTE_DEVICE_FIRST_ID);
	assert_int_equal(r.last_id, REMOTE_DEVICE_LAST_ID);
	assert_int_equal(r.port, 22);
	assert_int_equal(r.batch_size, 0);
	assert_int_equal(r.save_interval_s, 0);
	assert_int_equal(r.confirm_minutes, 3);

	/* every config the parser takes passes the driver's own checks: with
	 * first_id alone, the driver must get both bounds (it checks first <=
	 * last before its defaults); it then fails only at the missing key */
	dyper_config_copy(&c, parse_ok(SITE_ON DEV("e") "first_id = 5000\n"));
	devconf_to_remote(&r, &c.device[0]);
	err = remote_device_new(&e, &r, why);
	assert_null(e);
	if (err == -EINVAL)
		fail_msg("the driver refused a parsed config: %s", why);
	assert_int_equal(err, -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devconf),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_device_errors),
		cmocka_unit_test(test_site),
		cmocka_unit_test(test_site_errors),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_shipped_file),
		cmocka_unit_test(test_shipped_device),
		cmocka_unit_test(test_inline_comment),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_remote),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_mark),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_enforcer_struct),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
