// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The seccomp filters of the process, kept so that the agent never makes
 * a system call that would get the application killed (see filter.h).
 * The agent learns a filter when the application installs it through
 * prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER); filters are inherited by
 * fork() together with this copy.  Each is run here as the kernel runs it
 * (classic BPF over struct seccomp_data, the instructions the kernel's
 * seccomp_check_filter() admits); anything else counts as a refusal.
 * No allocation: the copies live in a static table.
 */

#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "preload/filter.h"

#if defined(__x86_64__) && !defined(__ILP32__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__) && !defined(__AARCH64EB__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#else
#define NATIVE_ARCH 0		/* unknown: every call counts as refused */
#endif

#define MAX_FILTERS 8

static struct sock_filter insns[MAX_FILTERS][BPF_MAXINSNS];
static unsigned short lens[MAX_FILTERS];
static int n_filters;
static bool overflow;		/* a filter could not be kept: refuse everything */

int filter_record(const struct sock_fprog *prog)
{
	if (!prog || !prog->filter || prog->len == 0 || prog->len > BPF_MAXINSNS ||
	    n_filters >= MAX_FILTERS) {
		overflow = true;
		return -E2BIG;
	}
	memcpy(insns[n_filters], prog->filter, prog->len * sizeof(struct sock_filter));
	lens[n_filters++] = prog->len;
	return 0;
}

void filter_unrecord(void)
{
	if (n_filters > 0)
		n_filters--;
	else
		overflow = false;
}

bool filter_active(void)
{
	return n_filters > 0 || overflow;
}

static uint32_t data_word(const struct seccomp_data *d, uint32_t k)
{
	uint32_t w;

	memcpy(&w, (const char *)d + k, sizeof(w));
	return w;
}

uint32_t filter_run(const struct sock_fprog *prog, long nr, uint32_t arch,
		    const uint64_t args[6])
{
	struct seccomp_data d = { .nr = (int)nr, .arch = arch };
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	const uint32_t kill = SECCOMP_RET_KILL_PROCESS;

	memcpy(d.args, args, sizeof(d.args));
	for (unsigned int pc = 0; pc < prog->len; pc++) {
		const struct sock_filter *f = &prog->filter[pc];
		uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k;
		unsigned int off;

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k >= sizeof(d) || k % 4)
				return kill;
			a = data_word(&d, k);
			continue;
		case BPF_LD | BPF_W | BPF_LEN:
			a = sizeof(d);
			continue;
		case BPF_LDX | BPF_W | BPF_LEN:
			x = sizeof(d);
			continue;
		case BPF_LD | BPF_IMM:
			a = k;
			continue;
		case BPF_LDX | BPF_IMM:
			x = k;
			continue;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return kill;
			if (f->code == (BPF_LD | BPF_MEM))
				a = mem[k];
			else if (f->code == (BPF_LDX | BPF_MEM))
				x = mem[k];
			else
				mem[k] = f->code == BPF_ST ? a : x;
			continue;
		case BPF_MISC | BPF_TAX:
			x = a;
			continue;
		case BPF_MISC | BPF_TXA:
			a = x;
			continue;
		case BPF_RET | BPF_K:
			return k;
		case BPF_RET | BPF_A:
			return a;
		case BPF_JMP | BPF_JA:
			if (k >= prog->len - pc - 1)
				return kill;
			pc += k;
			continue;
		}
		switch (BPF_CLASS(f->code)) {
		case BPF_ALU:
			switch (BPF_OP(f->code)) {
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_MUL: a *= src; break;
			case BPF_DIV: if (!src) return 0; a /= src; break;
			case BPF_MOD: if (!src) return 0; a %= src; break;
			case BPF_OR: a |= src; break;
			case BPF_AND: a &= src; break;
			case BPF_XOR: a ^= src; break;
			case BPF_LSH: a = src < 32 ? a << src : 0; break;
			case BPF_RSH: a = src < 32 ? a >> src : 0; break;
			case BPF_NEG: a = -a; break;
			default: return kill;
			}
			continue;
		case BPF_JMP: {
			bool t;

			switch (BPF_OP(f->code)) {
			case BPF_JEQ: t = a == src; break;
			case BPF_JGT: t = a > src; break;
			case BPF_JGE: t = a >= src; break;
			case BPF_JSET: t = (a & src) != 0; break;
			default: return kill;
			}
			off = t ? f->jt : f->jf;
			if (off >= prog->len - pc - 1)
				return kill;
			pc += off;
			continue;
		}
		default:
			return kill;
		}
	}
	return kill;		/* fell off the end: the kernel never loads such a filter */
}

bool filter_allows(long nr, const uint64_t args[6])
{
	if (overflow || (n_filters && !NATIVE_ARCH))
		return false;
	for (int i = 0; i < n_filters; i++) {
		struct sock_fprog p = { .len = lens[i], .filter = insns[i] };
		uint32_t act = filter_run(&p, nr, NATIVE_ARCH, args) & SECCOMP_RET_ACTION_FULL;

		if (act != SECCOMP_RET_ALLOW && act != SECCOMP_RET_LOG)
			return false;
	}
	return true;
}
