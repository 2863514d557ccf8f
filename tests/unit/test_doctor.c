// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for dyperd/doctor.c: its judgments of the wrapper, the agent,
 * another table's input chain and the policy, without the system. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "dyperd/doctor.h"
#include "dyperd/policy.h"
#include "nft/ruleset.h"

#define GID 4242

static struct stat file(mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | mode;
	st.st_uid = uid;
	st.st_gid = gid;
	return st;
}

/* A judgment: FAIL with @words in @why, or OK when @words is NULL. */
static void judged(enum doctor_status s, const char *why, const char *words)
{
	if (!words) {
		assert_int_equal(s, DOCTOR_OK);
		return;
	}
	assert_int_equal(s, DOCTOR_FAIL);
	if (!strstr(why, words))
		fail_msg("\"%s\" does not say \"%s\"", why, words);
}

static void wrapper(struct stat st, const char *words)
{
	char why[256] = "";

	judged(doctor_judge_wrapper(&st, GID, why, sizeof(why)), why, words);
}

static void test_wrapper(void **state)
{
	struct stat dir = file(02755, 0, GID);

	wrapper(file(02755, 0, GID), NULL);
	wrapper(file(02711, 0, GID), NULL);
	wrapper(file(00755, 0, GID), "not set-group-ID (mode 0755)");
	wrapper(file(02755, 1000, GID), "owned by uid 1000, not root");
	wrapper(file(02775, 0, GID), "writable by others than root (mode 2775)");
	wrapper(file(02757, 0, GID), "writable by others");
	wrapper(file(02755, 0, GID + 1), "not to the agent socket's group (gid 4242)");
	wrapper(file(02750, 0, GID), "not executable by others (mode 2750)");
	dir.st_mode = S_IFDIR | 02755;
	wrapper(dir, "not a regular file");
}

static void agent(struct stat st, const char *words)
{
	char why[256] = "";

	judged(doctor_judge_agent(&st, why, sizeof(why)), why, words);
}

static void test_agent(void **state)
{
	agent(file(0644, 0, 0), NULL);
	agent(file(0755, 0, 0), NULL);
	agent(file(0640, 0, 0), "not readable by all (mode 0640)");
	agent(file(0664, 0, 0), "writable by others than its owner (mode 0664)");
	agent(file(0644, 1000, 0), "owned by uid 1000, not root");
}

static void test_chain(void **state)
{
	struct nft_input_chain ic;

	memset(&ic, 0, sizeof(ic));
	assert_int_equal(doctor_judge_chain(&ic, 0, 0), DOCTOR_OK);
	ic.drops = NFT_DROPS_SOME;
	assert_int_equal(doctor_judge_chain(&ic, 0, 0), DOCTOR_WARN);
	ic.drops = NFT_DROPS_ALL;
	assert_int_equal(doctor_judge_chain(&ic, 0, 0), DOCTOR_FAIL);
	strcpy(ic.accept_iif, "eth0");
	assert_int_equal(doctor_judge_chain(&ic, 0, 0), DOCTOR_WARN);
	ic.accept_iif[0] = '\0';
	ic.drops = NFT_DROPS_NONE;
	ic.policy_drop = true;
	assert_int_equal(doctor_judge_chain(&ic, 0, 0), DOCTOR_FAIL);

	/* a chain that accepts Dyper's mark before its drop */
	ic.priority = 10;
	ic.accepts_mark = true;
	ic.mark_mask = 0x10;
	ic.mark_value = 0x10;
	assert_int_equal(doctor_judge_chain(&ic, 0, 0), DOCTOR_FAIL);	/* Dyper marks nothing */
	assert_int_equal(doctor_judge_chain(&ic, 0x20, 0), DOCTOR_FAIL);	/* other bits */
	assert_int_equal(doctor_judge_chain(&ic, 0x10, 0), DOCTOR_OK);
	assert_int_equal(doctor_judge_chain(&ic, 0x30, 0), DOCTOR_OK);	/* includes 0x10 */
	assert_int_equal(doctor_judge_chain(&ic, 0x10, 10), DOCTOR_WARN);	/* not after us */
	assert_int_equal(doctor_judge_chain(&ic, 0x10, 20), DOCTOR_WARN);
	ic.ingress = true;
	assert_int_equal(doctor_judge_chain(&ic, 0x10, -10), DOCTOR_WARN);
	ic.ingress = false;
	ic.mark_mask = UINT32_MAX;	/* "meta mark 0x10": only that exact mark */
	assert_true(doctor_takes_mark(&ic, 0x10));
	assert_false(doctor_takes_mark(&ic, 0x30));
}

/* @text judged as a policy: @want, @allows allow rules, @words in the
 * reason unless OK. */
static void policy(const char *text, enum doctor_status want, size_t allows, const char *words)
{
	struct policy *p = NULL;
	char err[POLICY_ERR_LEN], why[256] = "";
	size_t n = 99;

	if (policy_parse(&p, text, strlen(text), "t", err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(doctor_judge_policy(p, &n, why, sizeof(why)), want);
	assert_int_equal(n, allows);
	if (words && !strstr(why, words))
		fail_msg("\"%s\" does not say \"%s\"", why, words);
	policy_free(p);
}

static void test_policy(void **state)
{
	policy("allow * * * * * * *\n", DOCTOR_OK, 1, NULL);
	policy("# only comments\n\ndeny * * tcp * * * 22\n\nallow * * udp * * * *\n"
	       "allow * * tcp * * * 1024-65535\n", DOCTOR_OK, 2, NULL);
	policy("", DOCTOR_WARN, 0, "no rules at all: every request will be refused");
	policy("deny * * tcp * * * *\n", DOCTOR_WARN, 0, "no allow rule");
	policy("allow * * * * * * *\n\n# x\ndeny * * * * * * *   # everything\n", DOCTOR_WARN, 1,
	       "line 4 denies every request");
	/* a deny for everything at some time only is not a deny for everything */
	policy("allow * * * * * * *\ndeny * * * * * * * time=22:00-06:00\n", DOCTOR_OK, 1, NULL);
}

/* Border mode: the key file dyperd's user alone may read; the site's
 * pinned host key found as OpenSSH writes it. */
static void test_remote(void **state)
{
	static const char kh[] =
		"# pinned by hand\n"
		"@revoked 198.51.100.9 ssh-ed25519 AAAA\n"
		"198.51.100.7,site.example ssh-ed25519 AAAAC3Nz\n"
		"[2001:db8::1]:2222 ssh-ed25519 AAAAC3Nz\n"
		"198.51.100.8\n";
	struct stat st;
	char why[256];

	(void)state;
	st = file(0600, 65534, 0);
	judged(doctor_judge_remote_key(&st, 65534, why, sizeof(why)), why, NULL);
	st = file(0640, 65534, 0);
	judged(doctor_judge_remote_key(&st, 65534, why, sizeof(why)), why,
	       "mode 0640: group and others must have no access");
	st = file(0600, 0, 0);
	judged(doctor_judge_remote_key(&st, 65534, why, sizeof(why)), why,
	       "owned by uid 0, not by dyperd's user (uid 65534)");
	st.st_mode = S_IFDIR | 0700;
	judged(doctor_judge_remote_key(&st, 0, why, sizeof(why)), why, "not a regular file");

	assert_true(doctor_known_host(kh, strlen(kh), "198.51.100.7", 22));
	assert_true(doctor_known_host(kh, strlen(kh), "2001:db8::1", 2222));
	assert_false(doctor_known_host(kh, strlen(kh), "2001:db8::1", 22));
	assert_false(doctor_known_host(kh, strlen(kh), "198.51.100.7", 2222));
	assert_false(doctor_known_host(kh, strlen(kh), "198.51.100.70", 22));
	assert_false(doctor_known_host(kh, strlen(kh), "198.51.100.9", 22));	/* revoked */
	assert_false(doctor_known_host(kh, strlen(kh), "198.51.100.8", 22));	/* no key */
	assert_false(doctor_known_host(kh, 10, "198.51.100.7", 22));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrapper),
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_remote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
