// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for remote/ssh without a network: the reconnect backoff
 * (bounds, doubling, cap, jitter from its random input), and what
 * remote_ssh_new() refuses before any connection: a key file with group or
 * other bits, owned by another uid (as root only), a symbolic link, not a
 * key; a missing known_hosts file; missing fields.  A good 0600 key loads,
 * and a session that is not started is CLOSED with no fd. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <libssh/libssh.h>

#include "remote/ssh.h"

static char dir[] = "/tmp/test_remote_ssh.XXXXXX";
static char key[64], kh[64];

static void test_backoff(void **state)
{
	unsigned a;

	/* first retry: 250..500 ms */
	assert_int_equal(remote_backoff_ms(0, 0), 250);
	assert_int_equal(remote_backoff_ms(0, 250), 500);
	assert_int_equal(remote_backoff_ms(0, 251), 250);
	/* doubling */
	assert_int_equal(remote_backoff_ms(1, 0), 500);
	assert_int_equal(remote_backoff_ms(2, 1000), 2000);
	/* capped at 30 s, drawn from 15..30 s, for any attempt */
	for (a = 6; a < 100; a++) {
		assert_int_equal(remote_backoff_ms(a, 0), 15000);
		assert_int_equal(remote_backoff_ms(a, 15000), 30000);
		assert_true(remote_backoff_ms(a, UINT32_MAX) <= 30000);
	}
	assert_int_equal(remote_backoff_ms(UINT32_MAX, 7), 15007);
}

static int try_new(const char *keyfile, const char *known, char *why)
{
	struct remote_ssh_config cfg = {
		.host = "192.0.2.254", .user = "site", .key_file = keyfile, .known_hosts = known,
	};
	struct remote_ssh *s = NULL;
	int r;

	r = remote_ssh_new(&s, &cfg, why);
	if (!r) {
		assert_int_equal(remote_ssh_state(s), REMOTE_SSH_CLOSED);
		assert_int_equal(remote_ssh_fd(s), -1);
		assert_int_equal(remote_ssh_events(s), 0);
		assert_true(remote_ssh_deadline(s) == UINT64_MAX);
		assert_string_equal(remote_ssh_site(s), "");
		remote_ssh_free(s);
	} else {
		assert_null(s);
	}
	return r;
}

static int setup(void **state)
{
	ssh_key k = NULL;
	int fd;

	if (!mkdtemp(dir))
		return -1;
	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k) != SSH_OK ||
	    ssh_pki_export_privkey_file(k, NULL, NULL, NULL, key) != SSH_OK)
		return -1;
	ssh_key_free(k);
	chmod(key, 0600);
	fd = open(kh, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_good_key(void **state)
{
	char why[REMOTE_SSH_ERROR_LEN] = "";

	assert_int_equal(try_new(key, kh, why), 0);
}

static void test_key_modes(void **state)
{
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0601, 0610 };
	char why[REMOTE_SSH_ERROR_LEN], want[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(key, bad[i]), 0);
		assert_int_equal(try_new(key, kh, why), -EPERM);
		snprintf(want, sizeof(want), "key file %s has mode %04o: group and others must "
			 "have no access", key, (unsigned)bad[i]);
		if (strncmp(why, want, strlen(want)))
			fail_msg("mode %04o: \"%s\"", (unsigned)bad[i], why);
	}
	assert_int_equal(chmod(key, 0400), 0);
	assert_int_equal(try_new(key, kh, why), 0);
	assert_int_equal(chmod(key, 0600), 0);
}

static void test_key_owner(void **state)
{
	char why[REMOTE_SSH_ERROR_LEN];

	if (geteuid() != 0)
		skip();
	assert_int_equal(chown(key, 65534, 65534), 0);
	assert_int_equal(try_new(key, kh, why), -EPERM);
	assert_non_null(strstr(why, "is owned by uid 65534, not by this process's uid 0"));
	assert_int_equal(chown(key, 0, 0), 0);
}

static void test_key_other(void **state)
{
	char why[REMOTE_SSH_ERROR_LEN], link[80], junk[80];
	int fd;

	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(key, link), 0);
	assert_int_equal(try_new(link, kh, why), -ELOOP);
	assert_non_null(strstr(why, "symbolic link"));

	snprintf(junk, sizeof(junk), "%s/junk", dir);
	fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a key\n", 10), 10);
	close(fd);
	assert_int_equal(try_new(junk, kh, why), -EBADMSG);
	assert_int_equal(try_new(dir, kh, why), -EPERM);	/* a directory */
	assert_int_equal(try_new("/nonexistent/key", kh, why), -ENOENT);
}

static void test_config(void **state)
{
	struct remote_ssh_config cfg = { .host = "192.0.2.254", .key_file = key, .known_hosts = kh };
	struct remote_ssh *s;
	char why[REMOTE_SSH_ERROR_LEN];

	assert_int_equal(try_new(key, "/nonexistent/known_hosts", why), -ENOENT);
	assert_non_null(strstr(why, "pinned host key"));
	assert_int_equal(remote_ssh_new(&s, &cfg, why), -EINVAL);	/* no user */
	assert_null(s);
	cfg.user = "site";
	cfg.command = "dyper-remote\nrm -rf /";
	assert_int_equal(remote_ssh_new(&s, &cfg, why), -EINVAL);
	cfg.command = NULL;
	assert_int_equal(remote_ssh_new(&s, &cfg, why), 0);
	/* nothing to send to before READY */
	{
		struct remote_msg m = { .type = REMOTE_MSG_PING, .id = 1 };
		char line[REMOTE_WIRE_LINE_MAX];

		assert_int_equal(remote_ssh_send(s, &m), -ENOTCONN);
		m.id = REMOTE_WIRE_ID_TRANSPORT | 1;
		assert_int_equal(remote_ssh_send(s, &m), -EINVAL);
		assert_int_equal(remote_ssh_recv_line(s, line, sizeof(line)), -ENOTCONN);
	}
	remote_ssh_free(s);
	remote_ssh_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_good_key),
		cmocka_unit_test(test_key_modes),
		cmocka_unit_test(test_key_owner),
		cmocka_unit_test(test_key_other),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
