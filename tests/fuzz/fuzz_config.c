// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for conf/: any bytes as dyper.conf text.  Besides the
 * sanitizers it checks what the parser promises: a valid config holds only
 * values in range and writes back to text that parses to the same config;
 * an error is one "fuzz:LINE: expected ..." line and leaves the struct as
 * it was.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)							\
	do {								\
		if (!(x)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #x);		\
			abort();					\
		}							\
	} while (0)

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool config_equal(const struct dyper_config *a, const struct dyper_config *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void check_ports(const uint16_t *ports, size_t n)
{
	CHECK(n <= DYPER_CONFIG_MAX_PORTS);
	for (size_t i = 0; i < n; i++) {
		CHECK(ports[i] != 0);
		for (size_t j = 0; j < i; j++)
			CHECK(ports[i] != ports[j]);
	}
	for (size_t i = n; i < DYPER_CONFIG_MAX_PORTS; i++)
		CHECK(ports[i] == 0);
}

static void check_valid(const struct dyper_config *c)
{
	CHECK(terminated(c->user, sizeof(c->user)) && c->user[0]);
	CHECK(terminated(c->group, sizeof(c->group)) && c->group[0]);
	CHECK(terminated(c->agent_socket, sizeof(c->agent_socket)) && c->agent_socket[0] == '/');
	CHECK(terminated(c->control_socket, sizeof(c->control_socket)) &&
	      c->control_socket[0] == '/');
	CHECK(strcmp(c->agent_socket, c->control_socket) != 0);
	CHECK(terminated(c->policy, sizeof(c->policy)) && c->policy[0] == '/');
	CHECK(terminated(c->event_log, sizeof(c->event_log)));
	CHECK(terminated(c->enforcer_table, sizeof(c->enforcer_table)) && c->enforcer_table[0]);
	CHECK(c->on_exit == DYPER_ON_EXIT_KEEP || c->on_exit == DYPER_ON_EXIT_FLUSH);
	CHECK(c->log_level >= 3 && c->log_level <= 7);
	CHECK(c->enforcer.priority >= -400 && c->enforcer.priority <= 400);
	check_ports(c->enforcer.tcp_ports, c->enforcer.n_tcp_ports);
	check_ports(c->enforcer.udp_ports, c->enforcer.n_udp_ports);
	CHECK(c->enforcer.max_pinholes >= 1 && c->enforcer.max_pinholes <= 16777216);
	CHECK(c->enforcer.log_rate <= 10000);
	CHECK(c->reconcile_ms >= 1000 && c->reconcile_ms <= 86400000);
	CHECK(c->tamper_check_ms >= 10 && c->tamper_check_ms <= 3600000);
	CHECK(c->capacity >= 1 && c->capacity <= 16777216);
	CHECK(c->max_per_user >= 1 && c->max_per_user <= 16777216);
	CHECK(c->queue_max <= 1048576);
	CHECK(c->queue_timeout_ms >= 1 && c->queue_timeout_ms <= 3600000);
	CHECK(c->rate >= 1 && c->rate <= 1000000);
	CHECK(c->burst >= 1 && c->burst <= 1000000);
	CHECK(c->batch_max >= 1 && c->batch_max <= 100000);
	CHECK(c->default_lifetime_ms <= 30u * 86400000u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dyper_config c, before, back;
	char err[1024], *text, *out = NULL;
	size_t out_len = 0;
	unsigned line;
	FILE *f;
	int ret, n = 0;

	if (size > 65536)
		return 0;	/* nothing new lies in a longer input */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	dyper_config_defaults(&c);
	c.rate = 4242;
	dyper_config_copy(&before, &c);
	memset(err, 0, sizeof(err));
	ret = dyper_config_parse(&c, text, "fuzz", err, sizeof(err));
	CHECK(terminated(err, sizeof(err)));
	if (ret) {
		CHECK(ret == -EINVAL || ret == -ENOMEM);
		CHECK(config_equal(&c, &before));
		if (ret == -EINVAL) {
			CHECK(sscanf(err, "fuzz:%u: %n", &line, &n) == 1 && n > 0 && line >= 1);
			CHECK(strstr(err, "expected") != NULL);
			CHECK(strchr(err, '\n') == NULL);
		}
		goto out;
	}
	check_valid(&c);

	/* What was read writes back to what reads the same. */
	f = open_memstream(&out, &out_len);
	CHECK(f != NULL);
	CHECK(dyper_config_write(&c, f) == 0);
	CHECK(fclose(f) == 0);
	ret = dyper_config_parse(&back, out, "written", err, sizeof(err));
	if (ret)
		fprintf(stderr, "%s\n%s", err, out);
	CHECK(ret == 0);
	CHECK(config_equal(&c, &back));
	free(out);
out:
	free(text);
	return 0;
}
