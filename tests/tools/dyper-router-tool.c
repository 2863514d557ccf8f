// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyper-router-tool: drives a border router's table through the enforcer
 * interface (nft_router_new: submit, wait on the fd, dispatch), the way
 * the site controller does, for the kernel tests.  Run it only inside a
 * network namespace a test created.
 *
 *   dyper-router-tool [OPTIONS] setup|check|list|flush|destroy
 *   dyper-router-tool [OPTIONS] OP [OP...]          (one batch)
 *	OP: add|del tcp|udp REMOTE RPORT|* LOCAL LPORT
 *
 * A batch prints one line per op ("op N: add tcp ...: ok", "... not
 * applied", "... File exists") and then "batch: applied" or "batch:
 * failed: WHY".  list prints one line per pinhole with its owner comment.
 * Exit status: 0 done, 1 the job failed (or check found the table not
 * intact), 2 usage, 3 the table cannot be opened or the fd failed.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "nft/enforcer_if.h"
#include "tests/tools/common/parse.h"

#define WAIT_MS		10000	/* for one job's completion */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dyper-router-tool [OPTIONS] setup|check|list|flush|destroy\n"
		"       dyper-router-tool [OPTIONS] OP [OP...]   (one atomic batch)\n"
		"  OP: add|del tcp|udp REMOTE RPORT|* LOCAL LPORT\n"
		"options:\n"
		"  -t, --table NAME      table name (default " NFT_ENFORCER_TABLE_ROUTER ")\n"
		"  -i, --inside IFACE    an inside interface (repeatable; at least one)\n"
		"  -O, --open P/ADDR/PORT  always open PORT (tcp or udp) of internal host ADDR\n"
		"  -M, --mark MARK       OR MARK into admitted packets\n"
		"  -k, --mark-only       only mark (the site's own policy decides)\n"
		"  -o, --owner MODE      auto|on|off (default off: each run is a new process)\n"
		"  -p, --ping            let echo requests through\n"
		"  -d, --delegate NAME   delegate of added pinholes (default tool)\n"
		"  -c, --created T       their creation time (default now)\n"
		"  -T, --timeout MS      their timeout (default none)\n");
}

/* "tcp/198.51.100.10/22" */
static int parse_open(char *s, struct nft_open_port *o)
{
	char *addr = strchr(s, '/'), *port = addr ? strrchr(addr + 1, '/') : NULL;

	if (!addr || !port) {
		fprintf(stderr, "dyper-router-tool: bad open port \"%s\": expected PROTO/ADDR/PORT\n", s);
		return -EINVAL;
	}
	*addr++ = '\0';
	*port++ = '\0';
	return tool_parse_proto(s, &o->proto) ?: tool_parse_addr(addr, &o->family, &o->addr) ?:
	       tool_parse_port(port, &o->port, false);
}

/* argv[0..5]: add|del PROTO REMOTE RPORT LOCAL LPORT */
static int parse_op(char **argv, struct pinhole_op *op)
{
	if (!strcmp(argv[0], "add"))
		op->type = PINHOLE_ADD;
	else if (!strcmp(argv[0], "del"))
		op->type = PINHOLE_DEL;
	else {
		fprintf(stderr, "dyper-router-tool: unknown operation \"%s\"\n", argv[0]);
		return -EINVAL;
	}
	return tool_parse_pinhole(argv + 1, &op->ph);
}

struct result {
	bool done;
	int err;
	bool intact;
	char msg[600];
};

static void on_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	char s[PINHOLE_STR_LEN], owner[160] = "(not ours)";

	pinhole_format(&pe->ph, s, sizeof(s));
	if (pe->owner_known && pinhole_owner_format(&pe->ph.owner, owner, sizeof(owner)) < 0)
		snprintf(owner, sizeof(owner), "(owner too long)");
	printf("%s owner \"%s\" packets %" PRIu64 " bytes %" PRIu64, s, owner, pe->packets,
	       pe->bytes);
	if (pe->ph.timeout_ms)
		printf(" timeout %" PRIu32 " expires %" PRIu64, pe->ph.timeout_ms, pe->expires_ms);
	printf("\n");
}

static void on_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	struct result *r = arg;

	r->done = true;
	r->err = d->err;
	r->intact = d->intact;
	snprintf(r->msg, sizeof(r->msg), "%s", d->msg);
	for (size_t i = 0; i < d->job->n; i++) {
		const struct pinhole_op *op = &d->job->ops[i];
		char s[PINHOLE_STR_LEN];

		pinhole_format(&op->ph, s, sizeof(s));
		printf("op %zu: %s %s: %s\n", i + 1, op->type == PINHOLE_ADD ? "add" : "del", s,
		       !op->err ? "ok" : op->err == -ECANCELED ? "not applied" : strerror(-op->err));
	}
}

/* Submits @job and waits for its completion (bounded). */
static int run(struct enforcer *e, const struct enforcer_job *job, struct result *r)
{
	struct enforcer_sink sink = { on_entry, on_done, r };
	struct pollfd p = { .fd = enforcer_fd(e), .events = POLLIN };
	int err = enforcer_submit(e, job);

	if (err) {
		fprintf(stderr, "dyper-router-tool: submit: %s\n", strerror(-err));
		return 3;
	}
	while (!r->done) {
		int n = poll(&p, 1, WAIT_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "dyper-router-tool: no completion within %d ms\n", WAIT_MS);
			return 3;
		}
		err = enforcer_dispatch(e, &sink);
		if (err) {
			fprintf(stderr, "dyper-router-tool: dispatch: %s\n", strerror(-err));
			return 3;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "inside", required_argument, NULL, 'i' },
		{ "open", required_argument, NULL, 'O' },
		{ "mark", required_argument, NULL, 'M' },
		{ "mark-only", no_argument, NULL, 'k' },
		{ "owner", required_argument, NULL, 'o' },
		{ "ping", no_argument, NULL, 'p' },
		{ "delegate", required_argument, NULL, 'd' },
		{ "created", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const struct { const char *name; enum enforcer_job_type type; } cmds[] = {
		{ "setup", ENFORCER_SETUP }, { "check", ENFORCER_CHECK }, { "list", ENFORCER_READ },
		{ "flush", ENFORCER_FLUSH },
	};
	struct nft_enforcer_config cfg;
	struct enforcer_job job = { .type = ENFORCER_BATCH, .tag = 1 };
	struct pinhole_op *ops = NULL;
	struct nft_enforcer *nft = NULL;
	struct enforcer *e = NULL;
	struct result r = { 0 };
	const char *delegate = "tool";
	uint32_t created = (uint32_t)time(NULL), timeout = 0;
	int c, rc = 2, err;
	size_t n = 0;

	nft_enforcer_config_init_router(&cfg);
	cfg.owner = NFT_OWNER_OFF;
	while ((c = getopt_long(argc, argv, "t:i:O:M:ko:pd:c:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			cfg.table = optarg;
			break;
		case 'i':
			if (cfg.n_inside == NFT_ENFORCER_MAX_INSIDE ||
			    strlen(optarg) >= NFT_IFNAME_LEN) {
				fprintf(stderr, "dyper-router-tool: bad inside interface \"%s\"\n", optarg);
				return 2;
			}
			strcpy(cfg.inside[cfg.n_inside++], optarg);
			break;
		case 'O':
			if (cfg.n_open == NFT_ENFORCER_MAX_OPEN ||
			    parse_open(optarg, &cfg.open[cfg.n_open++]))
				return 2;
			break;
		case 'M':
			if (tool_parse_u32(optarg, UINT32_MAX, &cfg.mark))
				return 2;
			break;
		case 'k':
			cfg.mode = NFT_MODE_ROUTER_MARK;
			break;
		case 'o':
			if (!strcmp(optarg, "auto"))
				cfg.owner = NFT_OWNER_AUTO;
			else if (!strcmp(optarg, "on"))
				cfg.owner = NFT_OWNER_ON;
			else if (!strcmp(optarg, "off"))
				cfg.owner = NFT_OWNER_OFF;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'p':
			cfg.allow_ping = true;
			break;
		case 'd':
			delegate = optarg;
			break;
		case 'c':
			if (tool_parse_u32(optarg, UINT32_MAX, &created))
				return 2;
			break;
		case 'T':
			if (tool_parse_u32(optarg, UINT32_MAX, &timeout))
				return 2;
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
	if (strlen(delegate) >= PINHOLE_DELEGATE_LEN) {
		fprintf(stderr, "dyper-router-tool: delegate \"%s\" is too long\n", delegate);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[optind], cmds[i].name) && optind + 1 == argc)
			job.type = cmds[i].type;
	if (job.type == ENFORCER_BATCH && strcmp(argv[optind], "destroy")) {
		if ((argc - optind) % 6) {
			usage(stderr);
			return 2;
		}
		n = (size_t)(argc - optind) / 6;
		ops = calloc(n, sizeof(*ops));
		if (!ops)
			return 3;
		for (size_t i = 0; i < n; i++) {
			if (parse_op(argv + optind + 6 * i, &ops[i]))
				goto out;
			ops[i].ph.timeout_ms = timeout;
			ops[i].ph.owner.created = created;
			strcpy(ops[i].ph.owner.delegate, delegate);
		}
		job.ops = ops;
		job.n = n;
	}

	err = nft_enforcer_open(&nft, &cfg);
	if (err) {
		fprintf(stderr, "dyper-router-tool: %s\n", nft_enforcer_error(nft));
		nft_enforcer_free(nft);
		rc = 3;
		goto out;
	}
	if (!strcmp(argv[optind], "destroy")) {
		/* no job for it: the site never deletes its policy */
		rc = nft_enforcer_destroy(nft) ? 1 : 0;
		if (rc)
			fprintf(stderr, "dyper-router-tool: %s\n", nft_enforcer_error(nft));
		nft_enforcer_free(nft);
		goto out;
	}
	err = nft_router_new(&e, nft, 0);
	if (err) {
		fprintf(stderr, "dyper-router-tool: %s\n", strerror(-err));
		rc = 3;
		goto out;
	}
	rc = run(e, &job, &r);
	if (rc)
		goto out;
	rc = r.err ? 1 : 0;
	if (job.type == ENFORCER_CHECK) {
		printf("check: %s%s%s\n", r.intact ? "intact" : "not intact", r.intact ? "" : ": ",
		       r.intact ? "" : r.msg);
		rc = r.err || !r.intact;
	} else if (job.type == ENFORCER_BATCH) {
		printf("batch: %s%s\n", r.err ? "failed: " : "applied", r.err ? r.msg : "");
	} else if (r.err) {
		fprintf(stderr, "dyper-router-tool: %s: %s\n", argv[optind], r.msg);
	}
out:
	enforcer_free(e);
	free(ops);
	return rc;
}
