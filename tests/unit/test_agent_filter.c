// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The agent's copy of an application's seccomp filter (preload/filter.c):
 * it must judge each system call exactly as the kernel would, or the agent
 * gets the application killed.  The filters are built the way vsftpd's
 * seccompsandbox.c builds them (an architecture check, then for each
 * allowed call its number and optional argument checks, "kill" at the end).
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>

#include "preload/filter.h"

#define ARG(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#define LD(k) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (k))
#define RET(k) BPF_STMT(BPF_RET | BPF_K, (k))

/* vsftpd's post-login broker, cut short: read, close, and sendmsg with
 * flags 0; any other architecture or call is killed. */
static struct sock_filter broker[] = {
	LD(offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	RET(SECCOMP_RET_KILL),
	LD(offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0 /* read */, 0, 1),
	RET(SECCOMP_RET_ALLOW),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3 /* close */, 0, 1),
	RET(SECCOMP_RET_ALLOW),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 46 /* sendmsg */, 0, 4),
	LD(ARG(2)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
	RET(SECCOMP_RET_ALLOW),
	LD(offsetof(struct seccomp_data, nr)),
	RET(SECCOMP_RET_KILL),
};

static const struct sock_fprog broker_prog = {
	.len = sizeof(broker) / sizeof(broker[0]), .filter = broker,
};

static const uint64_t none[6];

static void test_run(void **state)
{
	uint64_t flags[6] = { 3, 0x1000, MSG_NOSIGNAL };

	(void)state;
	assert_int_equal(filter_run(&broker_prog, 0, AUDIT_ARCH_X86_64, none), SECCOMP_RET_ALLOW);
	assert_int_equal(filter_run(&broker_prog, 3, AUDIT_ARCH_X86_64, none), SECCOMP_RET_ALLOW);
	/* getsockopt: what killed vsftpd's broker before */
	assert_int_equal(filter_run(&broker_prog, 55, AUDIT_ARCH_X86_64, none), SECCOMP_RET_KILL);
	/* sendmsg: flags 0 only */
	assert_int_equal(filter_run(&broker_prog, 46, AUDIT_ARCH_X86_64, none), SECCOMP_RET_ALLOW);
	assert_int_equal(filter_run(&broker_prog, 46, AUDIT_ARCH_X86_64, flags), SECCOMP_RET_KILL);
	/* another architecture */
	assert_int_equal(filter_run(&broker_prog, 0, AUDIT_ARCH_I386, none), SECCOMP_RET_KILL);
}

/* Programs the kernel would never load are refused, not run off their end. */
static void test_malformed(void **state)
{
	struct sock_filter jump_out[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 5),
		RET(SECCOMP_RET_ALLOW),
	};
	struct sock_filter unaligned[] = { LD(2), RET(SECCOMP_RET_ALLOW) };
	struct sock_filter past_end[] = { LD(sizeof(struct seccomp_data)), RET(SECCOMP_RET_ALLOW) };
	struct sock_filter no_ret[] = { LD(0) };
	struct sock_filter by_zero[] = {
		BPF_STMT(BPF_LD | BPF_IMM, 7),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0),
		RET(SECCOMP_RET_ALLOW),
	};
	const struct sock_fprog progs[] = {
		{ 2, jump_out }, { 2, unaligned }, { 2, past_end }, { 1, no_ret }, { 3, by_zero },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		assert_int_not_equal(filter_run(&progs[i], 0, AUDIT_ARCH_X86_64, none) &
				     SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW);
}

/* Arithmetic, scratch memory and X, as libseccomp-made filters use them. */
static void test_alu(void **state)
{
	struct sock_filter f[] = {
		LD(offsetof(struct seccomp_data, nr)),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LDX | BPF_MEM, 3),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),	/* a = 2 * nr: 98 or 100 */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 100, 0, 1),
		RET(SECCOMP_RET_ERRNO | EPERM),
		RET(SECCOMP_RET_LOG),
	};
	const struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };

	(void)state;
	assert_int_equal(filter_run(&p, 49, AUDIT_ARCH_X86_64, none), SECCOMP_RET_LOG);
	assert_int_equal(filter_run(&p, 50, AUDIT_ARCH_X86_64, none), SECCOMP_RET_ERRNO | EPERM);
}

/* The process's filters: every one must allow; none recorded, all allowed. */
static void test_allows(void **state)
{
	uint64_t nosig[6] = { 3, 0, MSG_NOSIGNAL };

	(void)state;
	assert_false(filter_active());
	assert_true(filter_allows(55, none));
	assert_int_equal(filter_record(&broker_prog), 0);
	assert_true(filter_active());
#if defined(__x86_64__) && !defined(__ILP32__)
	assert_true(filter_allows(0, none));
	assert_true(filter_allows(46, none));
	assert_false(filter_allows(46, nosig));
	assert_false(filter_allows(55, none));
#else
	assert_false(filter_allows(0, none));	/* built for x86_64 only */
#endif
	filter_unrecord();
	assert_false(filter_active());
	assert_true(filter_allows(55, none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_alu),
		cmocka_unit_test(test_allows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
