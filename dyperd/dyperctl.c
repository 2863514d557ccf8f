// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyperctl: dyperd's admin command.  A thin client: it sends one command
 * line over dyperd's root-only control socket and prints the answer.  One
 * command is local: doctor (dyperd/doctor.c) looks at the system itself.
 */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "dyperd/doctor.h"
#include "dyperd/log.h"
#include "dyperd/proto.h"

static const struct command {
	const char *name;
	const char *args;
	int min_args, max_args;
	const char *help;
	bool local;			/* not sent to dyperd */
} commands[] = {
	{ "list", "[--recent]", 0, 1, "every pinhole: id, 5-tuple, owner uid/pid/program, age, "
				       "expiry, packets and bytes;\n"
	  "with --recent, the recently closed ones: when, after how long, why", false },
	{ "show", "ID", 1, 1, "one pinhole", false },
	{ "close", "ID", 1, 1, "close a pinhole now", false },
	{ "stats", "[--prometheus]", 0, 1, "counts of pinholes, requests, denials, batches, and "
					    "the request latency (p50/p99);\n"
	  "with --prometheus, counters and latency histograms in Prometheus' text format", false },
	{ "watch", "[--uid U] [--program GLOB] [--remote ADDR] [--port P] [--event TYPE,...]", 0, 10,
	  "a live stream of events (open, close, deny, stale, repair) until interrupted", false },
	{ "explain", "REMOTE [RPORT] LOCAL LPORT tcp|udp", 4, 5,
	  "what the table would do with such a packet now, and why", false },
	{ "reload", "", 0, 0, "re-read dyper.conf and the policy; a bad policy is refused and "
			       "the old one kept", false },
	{ "check", "UID tcp|udp REMOTE RPORT|* LOCAL LPORT [program=PATH] [delegate=GID]", 6, 8,
	  "would this request be allowed, and by which policy rule?", false },
	{ "doctor", "[--wrapper PATH] [--agent PATH]", 0, 4,
	  "check the live system (dyperd, its table, other firewalls, the wrapper, the agent,\n"
	  "the policy) and say what is wrong and what to do; runs without dyperd.\n"
	  "  --wrapper PATH  the wrapper to check (default " DYPER_WRAP_PATH ")\n"
	  "  --agent PATH    the agent to check (default " DYPER_PRELOAD_PATH ")\n"
	  "Exit status 0 when no check failed (warnings allowed), 1 otherwise.", true },
	{ NULL }
};

static void usage(FILE *f)
{
	fprintf(f, "usage: dyperctl [-j] [-c CONFIG] [-s SOCKET] COMMAND [ARGS]\n\n"
		   "  -j, --json         JSON output\n"
		   "  -c, --config PATH  dyper.conf to read (default %s): doctor's settings,\n"
		   "                     and the control socket unless -s is given\n"
		   "  -s, --socket PATH  dyperd's control socket (default %s)\n"
		   "  -h, --help         this help; COMMAND --help for one command\n\ncommands:\n",
		DYPER_CONFIG_PATH, DYPER_CONTROL_SOCKET);
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->args);
	fprintf(f, "\nExit status: 0 done, 1 refused or failed (doctor: a check failed), 2 usage,\n"
		   "3 dyperd unreachable.  See dyperctl(8).\n");
}

static void command_usage(FILE *f, const struct command *cmd)
{
	fprintf(f, "usage: dyperctl [-j] %s %s\n", cmd->name, cmd->args);
}

/* doctor [-j] [--wrapper PATH] [--agent PATH], the arguments after "doctor"
 * in @argv[0..@argc). */
static int doctor(const struct command *cmd, int argc, char **argv, struct doctor_opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--wrapper") ? &o->wrapper :
				   !strcmp(argv[i], "--agent") ? &o->agent : NULL;

		if (dst && i + 1 < argc) {
			*dst = argv[++i];
		} else if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			o->json = true;
		} else {
			fprintf(stderr, "dyperctl: doctor: unexpected argument \"%s\"\n", argv[i]);
			command_usage(stderr, cmd);
			return 2;
		}
	}
	return doctor_run(o, stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct dyper_config cfg;
	struct doctor_opts dopts = { .config = DYPER_CONFIG_PATH };
	const char *path = NULL;
	const struct command *cmd;
	char line[4096], buf[65536], cerr[1024];
	bool json = false, first = true, err = false;
	size_t len = 0;
	ssize_t n;
	int c, fd, nargs;

	while ((c = getopt_long(argc, argv, "+jc:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'c':
			dopts.config = optarg;
			dopts.config_given = true;
			break;
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (cmd = commands; cmd->name && strcmp(cmd->name, argv[optind]); cmd++)
		;
	if (!cmd->name) {
		fprintf(stderr, "dyperctl: unknown command \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	nargs = argc - optind - 1;
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			command_usage(stdout, cmd);
			printf("%s\n", cmd->help);
			return 0;
		}
		if (cmd->local)
			continue;
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			json = true;
			nargs--;
		}
	}
	if (cmd->local) {
		dopts.json = json;
		dopts.socket = path;
		return doctor(cmd, nargs, argv + optind + 1, &dopts);
	}
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		command_usage(stderr, cmd);
		return 2;
	}
	/* with -c, the control socket set there (dyperd's own) */
	if (!path && dopts.config_given) {
		if (dyper_config_load(&cfg, dopts.config, false, cerr, sizeof(cerr))) {
			fprintf(stderr, "dyperctl: %s\n", cerr);
			return 1;
		}
		path = cfg.control_socket;
	}
	if (!path)
		path = DYPER_CONTROL_SOCKET;
	len = (size_t)snprintf(line, sizeof(line), "%s%s", cmd->name, json ? " -j" : "");
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			continue;
		if (strpbrk(argv[i], " \t\n")) {
			fprintf(stderr, "dyperctl: argument \"%s\" must not contain blanks\n", argv[i]);
			return 2;
		}
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", argv[i]);
		if (len >= sizeof(line) - 2) {
			fprintf(stderr, "dyperctl: command too long\n");
			return 2;
		}
	}
	line[len++] = '\n';

	fd = doctor_connect(path);
	if (fd == -ENAMETOOLONG) {
		fprintf(stderr, "dyperctl: socket path too long\n");
		return 2;
	}
	if (fd < 0) {
		int e = -fd;

		if (json) {
			char esc[1024];

			json_escape(esc, sizeof(esc), path);
			printf("{\"schema\":1,\"error\":\"cannot reach dyperd at %s: %s\"}\n",
			       esc, strerror(e));
		}
		fprintf(stderr, "dyperctl: cannot reach dyperd at %s: %s\n", path, strerror(e));
		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "dyperctl: is dyperd running? (systemctl status dyperd)\n");
		else if (e == EACCES)
			fprintf(stderr, "dyperctl: the control socket is for root: use sudo\n");
		return 3;
	}
	if (write(fd, line, len) != (ssize_t)len) {
		fprintf(stderr, "dyperctl: cannot send the command: %s\n", strerror(errno));
		return 3;
	}
	/* first line OK or ERR, then what to print */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		char *p = buf;
		size_t m = (size_t)n;

		if (first) {
			char *nl = memchr(buf, '\n', m);

			if (!nl) {
				fprintf(stderr, "dyperctl: unexpected answer from dyperd\n");
				return 3;
			}
			err = strncmp(buf, "OK", 2) != 0;
			m -= (size_t)(nl + 1 - buf);
			p = nl + 1;
			first = false;
		}
		/* with -j an error is a JSON object too: on stdout, for tools */
		fwrite(p, 1, m, err && !json ? stderr : stdout);
		/* watch streams: each event as it comes, also into a pipe */
		fflush(stdout);
	}
	close(fd);
	if (first) {
		fprintf(stderr, "dyperctl: dyperd closed the connection without answering "
			"(the control socket is for root only)\n");
		return 3;
	}
	return err ? 1 : 0;
}
