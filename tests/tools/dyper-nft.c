// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyper-nft: drives the nft/ enforcer library from the shell, for the
 * kernel tests.  Run it only inside a network namespace a test created.
 *
 *   dyper-nft [OPTIONS] setup|check|list|flush|destroy|gen
 *   dyper-nft [OPTIONS] add|del tcp|udp REMOTE RPORT|* LOCAL LPORT [TIMEOUT_MS]
 *   dyper-nft [OPTIONS] bulk N      (adds N distinct IPv4 pinholes in one batch)
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "nft/enforcer.h"
#include "tests/tools/common/parse.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dyper-nft [OPTIONS] COMMAND [ARGS]\n"
		"commands:\n"
		"  setup | check | list | flush | destroy | gen\n"
		"  add|del tcp|udp REMOTE RPORT|* LOCAL LPORT [TIMEOUT_MS]\n"
		"  bulk N            add N distinct IPv4 pinholes in one transaction\n"
		"options:\n"
		"  -t, --table NAME  table name (default dyper)\n"
		"  -T, --tcp PORT    static control port, tcp (repeatable)\n"
		"  -U, --udp PORT    static control port, udp (repeatable)\n"
		"  -m, --max N       pinholes per set\n"
		"  -o, --owner MODE  auto|on|off\n"
		"  -p, --ping        accept echo requests\n"
		"  -M, --mark MARK   OR MARK into the packet mark of admitted packets\n"
		"      --uid N --pid N --prog NAME   owner of added pinholes\n");
}

/* argv: PROTO REMOTE RPORT|* LOCAL LPORT [TIMEOUT_MS] */
static int parse_pinhole(char **argv, int argc, struct pinhole *ph)
{
	if (argc < 5) {
		usage(stderr);
		return -EINVAL;
	}
	if (tool_parse_pinhole(argv, ph))
		return -EINVAL;
	if (argc > 5)
		ph->timeout_ms = (uint32_t)strtoul(argv[5], NULL, 10);
	return 0;
}

static int print_entry(const struct pinhole_entry *pe, void *arg)
{
	char s[PINHOLE_STR_LEN];

	pinhole_format(&pe->ph, s, sizeof(s));
	printf("%s", s);
	if (pe->owner_known)
		printf(" uid %" PRIu32 " pid %" PRIu32 " prog %s", pe->ph.owner.uid,
		       pe->ph.owner.pid, pe->ph.owner.program);
	printf(" packets %" PRIu64 " bytes %" PRIu64, pe->packets, pe->bytes);
	if (pe->ph.timeout_ms)
		printf(" timeout %" PRIu32 " expires %" PRIu64, pe->ph.timeout_ms, pe->expires_ms);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "tcp", required_argument, NULL, 'T' },
		{ "udp", required_argument, NULL, 'U' },
		{ "max", required_argument, NULL, 'm' },
		{ "owner", required_argument, NULL, 'o' },
		{ "ping", no_argument, NULL, 'p' },
		{ "mark", required_argument, NULL, 'M' },
		{ "uid", required_argument, NULL, 1 },
		{ "pid", required_argument, NULL, 2 },
		{ "prog", required_argument, NULL, 3 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct nft_enforcer_config cfg;
	struct pinhole_owner owner = { .uid = 0, .pid = 0, .program = "dyper-nft" };
	struct nft_enforcer *e;
	const char *cmd;
	int c, err;

	nft_enforcer_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "t:T:U:m:o:pM:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			cfg.table = optarg;
			break;
		case 'T':
		case 'U': {
			uint16_t p;

			if (tool_parse_port(optarg, &p, false))
				return 2;
			if (c == 'T' && cfg.n_tcp_ports < NFT_ENFORCER_MAX_PORTS)
				cfg.tcp_ports[cfg.n_tcp_ports++] = p;
			else if (c == 'U' && cfg.n_udp_ports < NFT_ENFORCER_MAX_PORTS)
				cfg.udp_ports[cfg.n_udp_ports++] = p;
			break;
		}
		case 'm':
			cfg.max_pinholes = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			cfg.owner = !strcmp(optarg, "on") ? NFT_OWNER_ON :
				    !strcmp(optarg, "off") ? NFT_OWNER_OFF : NFT_OWNER_AUTO;
			break;
		case 'p':
			cfg.allow_ping = true;
			break;
		case 'M':
			cfg.mark = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 1:
			owner.uid = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 2:
			owner.pid = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 3:
			snprintf(owner.program, sizeof(owner.program), "%s", optarg);
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
	cmd = argv[optind];
	err = nft_enforcer_open(&e, &cfg);
	if (err) {
		fprintf(stderr, "dyper-nft: %s\n", nft_enforcer_error(e));
		nft_enforcer_free(e);
		return 1;
	}
	if (!strcmp(cmd, "setup")) {
		err = nft_enforcer_setup(e);
		if (!err)
			printf("owner %s\n", nft_enforcer_owned(e) ? "yes" : "no");
	} else if (!strcmp(cmd, "check")) {
		bool intact;

		err = nft_enforcer_check(e, &intact);
		if (!err && !intact) {
			printf("changed: %s\n", nft_enforcer_error(e));
			err = 3;
		} else if (!err)
			printf("intact\n");
	} else if (!strcmp(cmd, "list")) {
		err = nft_enforcer_dump(e, print_entry, NULL);
	} else if (!strcmp(cmd, "flush")) {
		err = nft_enforcer_flush(e);
	} else if (!strcmp(cmd, "destroy")) {
		err = nft_enforcer_destroy(e);
	} else if (!strcmp(cmd, "gen")) {
		uint32_t gen;

		err = nft_enforcer_generation(e, &gen);
		if (!err)
			printf("%" PRIu32 "\n", gen);
	} else if (!strcmp(cmd, "add") || !strcmp(cmd, "del")) {
		struct pinhole_op op = { .type = cmd[0] == 'a' ? PINHOLE_ADD : PINHOLE_DEL };

		op.ph.owner = owner;
		err = parse_pinhole(argv + optind + 1, argc - optind - 1, &op.ph);
		if (err)
			goto out_usage;
		err = nft_enforcer_commit(e, &op, 1);
	} else if (!strcmp(cmd, "bulk") && optind + 1 < argc) {
		size_t n = strtoul(argv[optind + 1], NULL, 10);
		struct pinhole_op *ops = calloc(n ? n : 1, sizeof(*ops));

		if (!ops) {
			err = -ENOMEM;
		} else {
			for (size_t i = 0; i < n; i++) {
				struct pinhole *ph = &ops[i].ph;

				ops[i].type = PINHOLE_ADD;
				ph->family = AF_INET;
				ph->proto = IPPROTO_TCP;
				ph->remote.v4.s_addr = htonl(0xc6336400u | (uint32_t)((i >> 16) & 0xff)); /* 198.51.100.x */
				ph->local.v4.s_addr = htonl(0xcb007101u);	/* 203.0.113.1 */
				ph->remote_port = (uint16_t)(1 + (i & 0x7fff));
				ph->local_port = (uint16_t)(1024 + ((i >> 15) & 1));
				ph->owner = owner;
			}
			err = nft_enforcer_commit(e, ops, n);
			free(ops);
		}
	} else {
		fprintf(stderr, "dyper-nft: unknown command \"%s\"\n", cmd);
		goto out_usage;
	}
	if (err < 0)
		fprintf(stderr, "dyper-nft: %s: %s\n", cmd, nft_enforcer_error(e));
	nft_enforcer_free(e);
	return err < 0 ? 1 : err;
out_usage:
	nft_enforcer_free(e);
	return 2;
}
