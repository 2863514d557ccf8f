// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dyper-device-tool: drives one border device driver (remote/device.h:
 * remote_device_new, then submit, wait on the fd, dispatch) the way the
 * site controller does, for the kernel tests against tests/fixtures/devsim.
 * One session for the whole run: the script on stdin, one command a line:
 *
 *   add|del tcp|udp REMOTE RPORT|* LOCAL LPORT   an op of the next batch
 *   gen add|del N tcp|udp REMOTE LOCAL PORT      N ops, local ports PORT...
 *   commit        submit the batch; "op N: add tcp ...: ok|<strerror>|not
 *                 applied", then "batch: ok" or "batch: failed: WHY"
 *   read          "entry tcp R:* -> L:P packets N" each, then "read: N entries"
 *   check|setup|flush   "check: intact|NOT intact (WHY), changed|unchanged"
 *   pause NAME    touches DIR/NAME.paused, waits (60 s at most) for DIR/NAME.go
 *   # ...         a comment
 *
 * Exit: 0 every job completed (whatever its ops' errors), 1 a job failed,
 * 2 usage, 3 the driver could not be made or its fd failed.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "remote/device.h"

#define WAIT_MS		180000	/* one job, reconnects included */
#define MAX_OPS		100000

static const char *sync_dir = ".";

struct result {
	bool done;
	int err;
	bool intact, changed;
	size_t entries;
	char msg[CLI_ERROR_LEN];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dyper-device-tool --type ios|ftos|ironware|junos --address ADDR --user NAME\n"
		"         (--key FILE | --password-file FILE) --known-hosts FILE --acl NAME\n"
		"         [--acl6 NAME] [--final-term NAME] [--port P] [--batch N]\n"
		"         [--timeout-ms MS] [--tries N] [--first-id N] [--last-id N]\n"
		"         [--confirm-min N] [--window N] [--save-s S] [--keepalive-ms MS]\n"
		"         [--sync-dir DIR] < SCRIPT\n");
}

static int parse_addr(const char *s, uint8_t *family, union pinhole_addr *a)
{
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, s, a->raw) != 1)
		return -EINVAL;
	*family = (uint8_t)fam;
	return 0;
}

static int parse_port(const char *s, uint16_t *p, bool star_ok)
{
	char *end;
	unsigned long v;

	if (star_ok && !strcmp(s, "*")) {
		*p = 0;
		return 0;
	}
	v = strtoul(s, &end, 10);
	if (*end || !v || v > 65535)
		return -EINVAL;
	*p = (uint16_t)v;
	return 0;
}

static int parse_op(char **w, struct pinhole_op *op)
{
	uint8_t rf, lf;

	memset(op, 0, sizeof(*op));
	if (!strcmp(w[0], "add"))
		op->type = PINHOLE_ADD;
	else if (!strcmp(w[0], "del"))
		op->type = PINHOLE_DEL;
	else
		return -EINVAL;
	if (!strcmp(w[1], "tcp"))
		op->ph.proto = IPPROTO_TCP;
	else if (!strcmp(w[1], "udp"))
		op->ph.proto = IPPROTO_UDP;
	else
		return -EINVAL;
	if (parse_addr(w[2], &rf, &op->ph.remote) || parse_port(w[3], &op->ph.remote_port, true) ||
	    parse_addr(w[4], &lf, &op->ph.local) || parse_port(w[5], &op->ph.local_port, false) ||
	    rf != lf)
		return -EINVAL;
	op->ph.family = rf;
	snprintf(op->ph.owner.delegate, sizeof(op->ph.owner.delegate), "tool");
	return 0;
}

static void on_entry(struct enforcer *e, uint64_t tag, const struct pinhole_entry *pe, void *arg)
{
	struct result *r = arg;
	char s[PINHOLE_STR_LEN];

	pinhole_format(&pe->ph, s, sizeof(s));
	printf("entry %s packets %" PRIu64 "\n", s, pe->packets);
	r->entries++;
}

static void on_done(struct enforcer *e, const struct enforcer_done *d, void *arg)
{
	struct result *r = arg;

	r->done = true;
	r->err = d->err;
	r->intact = d->intact;
	r->changed = d->changed;
	snprintf(r->msg, sizeof(r->msg), "%s", d->msg ? d->msg : "");
	for (size_t i = 0; i < d->job->n; i++) {
		const struct pinhole_op *op = &d->job->ops[i];
		char s[PINHOLE_STR_LEN];

		pinhole_format(&op->ph, s, sizeof(s));
		printf("op %zu: %s %s: %s\n", i + 1, op->type == PINHOLE_ADD ? "add" : "del", s,
		       !op->err ? "ok" : op->err == -ECANCELED ? "not applied" : strerror(-op->err));
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Submits @job and waits for its completion (bounded): 0, 1 (job failed), 3. */
static int run(struct enforcer *e, struct enforcer_job *job, struct result *r)
{
	struct enforcer_sink sink = { on_entry, on_done, r };
	struct pollfd p = { .fd = enforcer_fd(e), .events = POLLIN };
	uint64_t end = now_ms() + WAIT_MS;
	int err;

	memset(r, 0, sizeof(*r));
	err = enforcer_submit(e, job);
	if (err) {
		fprintf(stderr, "dyper-device-tool: submit: %s\n", strerror(-err));
		return 3;
	}
	while (!r->done) {
		if (now_ms() >= end) {
			fprintf(stderr, "dyper-device-tool: no completion within %d ms\n", WAIT_MS);
			return 3;
		}
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return 3;
		err = enforcer_dispatch(e, &sink);
		if (err) {
			fprintf(stderr, "dyper-device-tool: dispatch: %s\n", strerror(-err));
			return 3;
		}
	}
	return r->err ? 1 : 0;
}

static int pause_for(const char *name)
{
	char p[4096], go[4096];
	FILE *f;
	uint64_t end = now_ms() + 60000;

	snprintf(p, sizeof(p), "%s/%s.paused", sync_dir, name);
	snprintf(go, sizeof(go), "%s/%s.go", sync_dir, name);
	f = fopen(p, "w");
	if (!f)
		return -errno;
	fclose(f);
	fflush(stdout);
	while (access(go, F_OK)) {
		if (now_ms() >= end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", 1, NULL, 't' }, { "address", 1, NULL, 'a' }, { "port", 1, NULL, 'p' },
		{ "user", 1, NULL, 'u' }, { "key", 1, NULL, 'k' }, { "password-file", 1, NULL, 'P' },
		{ "known-hosts", 1, NULL, 'K' }, { "acl", 1, NULL, 'A' }, { "acl6", 1, NULL, '6' },
		{ "final-term", 1, NULL, 'F' }, { "batch", 1, NULL, 'b' },
		{ "timeout-ms", 1, NULL, 'T' }, { "tries", 1, NULL, 'r' },
		{ "first-id", 1, NULL, 'f' }, { "last-id", 1, NULL, 'l' },
		{ "confirm-min", 1, NULL, 'c' }, { "window", 1, NULL, 'w' },
		{ "save-s", 1, NULL, 's' }, { "keepalive-ms", 1, NULL, 'L' }, { "sync-dir", 1, NULL, 'S' }, { "help", 0, NULL, 'h' },
		{ 0 },
	};
	struct remote_device_config cfg = { .name = "dev" };
	struct pinhole_op *ops = calloc(MAX_OPS, sizeof(*ops));
	struct enforcer *e;
	char why[CLI_ERROR_LEN] = "", line[1024];
	size_t n = 0, lineno = 0;
	int c, rc = 0, err;

	if (!ops)
		return 3;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': cfg.type = optarg; break;
		case 'a': cfg.address = optarg; break;
		case 'p': cfg.port = (uint16_t)atoi(optarg); break;
		case 'u': cfg.user = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'P': cfg.password_file = optarg; break;
		case 'K': cfg.known_hosts = optarg; break;
		case 'A': cfg.acl = optarg; break;
		case '6': cfg.acl6 = optarg; break;
		case 'F': cfg.final_term = optarg; break;
		case 'b': cfg.batch_size = (size_t)atol(optarg); break;
		case 'T': cfg.timeout_ms = (uint32_t)atol(optarg); break;
		case 'r': cfg.connect_tries = (unsigned)atoi(optarg); break;
		case 'f': cfg.first_id = (uint32_t)atol(optarg); break;
		case 'l': cfg.last_id = (uint32_t)atol(optarg); break;
		case 'c': cfg.confirm_minutes = (uint32_t)atol(optarg); break;
		case 'w': cfg.window = (unsigned)atoi(optarg); break;
		case 's': cfg.save_interval_s = (uint32_t)atol(optarg); break;
		case 'L': cfg.keepalive_ms = (uint32_t)atol(optarg); break;
		case 'S': sync_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	err = remote_device_new(&e, &cfg, why);
	if (err) {
		printf("refused %s %s\n", strerror(-err), why);
		free(ops);
		return 3;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *w[12], *save = NULL;
		size_t nw = 0;
		struct enforcer_job job = { 0 };
		struct result r;
		int jr;

		lineno++;
		line[strcspn(line, "\n")] = 0;
		for (char *t = strtok_r(line, " ", &save); t && nw < 12; t = strtok_r(NULL, " ", &save))
			w[nw++] = t;
		if (!nw || w[0][0] == '#')
			continue;
		if (nw == 6 && (!strcmp(w[0], "add") || !strcmp(w[0], "del")) && n < MAX_OPS) {
			if (parse_op(w, &ops[n])) {
				fprintf(stderr, "dyper-device-tool: line %zu: bad op\n", lineno);
				rc = 2;
				break;
			}
			n++;
			continue;
		}
		if (nw == 7 && !strcmp(w[0], "gen")) {
			unsigned long k = strtoul(w[2], NULL, 10), port = strtoul(w[6], NULL, 10);
			char *ow[6] = { w[1], w[3], w[4], "*", w[5], NULL };
			char pbuf[8];

			for (unsigned long i = 0; i < k && n < MAX_OPS; i++) {
				snprintf(pbuf, sizeof(pbuf), "%lu", port + i);
				ow[5] = pbuf;
				if (parse_op(ow, &ops[n])) {
					fprintf(stderr, "dyper-device-tool: line %zu: bad gen\n", lineno);
					rc = 2;
					goto out;
				}
				n++;
			}
			continue;
		}
		if (nw == 2 && !strcmp(w[0], "pause")) {
			if (pause_for(w[1])) {
				fprintf(stderr, "dyper-device-tool: pause %s: nobody said go\n", w[1]);
				rc = 3;
				break;
			}
			continue;
		}
		if (!strcmp(w[0], "commit")) {
			job.type = ENFORCER_BATCH;
			job.ops = ops;
			job.n = n;
		} else if (!strcmp(w[0], "read")) {
			job.type = ENFORCER_READ;
		} else if (!strcmp(w[0], "check")) {
			job.type = ENFORCER_CHECK;
		} else if (!strcmp(w[0], "setup")) {
			job.type = ENFORCER_SETUP;
		} else if (!strcmp(w[0], "flush")) {
			job.type = ENFORCER_FLUSH;
		} else {
			fprintf(stderr, "dyper-device-tool: line %zu: unknown \"%s\"\n", lineno, w[0]);
			rc = 2;
			break;
		}
		jr = run(e, &job, &r);
		if (jr == 3) {
			rc = 3;
			break;
		}
		if (jr)
			rc = 1;
		switch (job.type) {
		case ENFORCER_BATCH:
			if (r.err)
				printf("batch: failed: %s\n", r.msg);
			else
				printf("batch: ok\n");
			n = 0;
			break;
		case ENFORCER_READ:
			if (r.err)
				printf("read: failed: %s\n", r.msg);
			else
				printf("read: %zu entries\n", r.entries);
			break;
		case ENFORCER_FLUSH:
			printf("flush: %s%s\n", r.err ? "failed: " : "ok", r.err ? r.msg : "");
			break;
		default:
			if (r.err)
				printf("%s: failed: %s\n", w[0], r.msg);
			else
				printf("%s: %s%s%s%s, %s\n", w[0], r.intact ? "intact" : "NOT intact",
				       r.intact ? "" : " (", r.intact ? "" : r.msg, r.intact ? "" : ")",
				       r.changed ? "changed" : "unchanged");
		}
	}
out:
	enforcer_free(e);
	free(ops);
	return rc;
}
