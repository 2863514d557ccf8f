// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyperctl: dyperd's admin command.  A thin client: it sends one command
 * line over dyperd's root-only control socket and prints the answer.
 */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "dyperd/proto.h"

static const struct command {
	const char *name;
	const char *args;
	int min_args, max_args;
	const char *help;
} commands[] = {
	{ "list", "", 0, 0, "every pinhole: id, 5-tuple, owner uid/pid/program, age, expiry, "
			     "packets and bytes" },
	{ "show", "ID", 1, 1, "one pinhole" },
	{ "close", "ID", 1, 1, "close a pinhole now" },
	{ "stats", "", 0, 0, "counts of pinholes, requests, denials, batches, and the "
			      "request latency (p50/p99)" },
	{ "reload", "", 0, 0, "re-read dyper.conf and the policy; a bad policy is refused and "
			       "the old one kept" },
	{ "check", "UID tcp|udp REMOTE RPORT|* LOCAL LPORT [program=PATH] [delegate=GID]", 6, 8,
	  "would this request be allowed, and by which policy rule?" },
	{ NULL }
};

static void usage(FILE *f)
{
	fprintf(f, "usage: dyperctl [-j] [-s SOCKET] COMMAND [ARGS]\n\n"
		   "  -j, --json         JSON output\n"
		   "  -s, --socket PATH  dyperd's control socket (default %s)\n"
		   "  -h, --help         this help; COMMAND --help for one command\n\ncommands:\n",
		DYPER_CONTROL_SOCKET);
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-7s %s\n", c->name, c->args);
	fprintf(f, "\nExit status: 0 done, 1 refused or failed, 2 usage, 3 dyperd unreachable.\n"
		   "See dyperctl(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = DYPER_CONTROL_SOCKET;
	const struct command *cmd;
	char line[4096], buf[65536];
	bool json = false, first = true, err = false;
	size_t len = 0;
	ssize_t n;
	int c, fd, nargs;

	while ((c = getopt_long(argc, argv, "+js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
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
			printf("usage: dyperctl [-j] %s %s\n%s\n", cmd->name, cmd->args, cmd->help);
			return 0;
		}
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			json = true;
			nargs--;
		}
	}
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "usage: dyperctl [-j] %s %s\n", cmd->name, cmd->args);
		return 2;
	}
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

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dyperctl: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

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
		fwrite(p, 1, m, err ? stderr : stdout);
	}
	close(fd);
	if (first) {
		fprintf(stderr, "dyperctl: dyperd closed the connection without answering "
			"(the control socket is for root only)\n");
		return 3;
	}
	return err ? 1 : 0;
}
