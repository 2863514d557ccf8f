/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unseen.h: programs Dyper's agent cannot see (wrap/unseen.c).  The agent
 * is an LD_PRELOAD library: it sees a program's socket calls only when the
 * dynamic loader runs and the program calls the C library for them.
 */
#ifndef DYPER_WRAP_UNSEEN_H
#define DYPER_WRAP_UNSEEN_H

#include <stddef.h>

enum unseen_kind {
	UNSEEN_NO = 0,		/* a dynamically linked program, or not ELF: the agent loads */
	UNSEEN_STATIC,		/* ELF without PT_INTERP: no dynamic loader, no preload */
	UNSEEN_GO,		/* a Go program (Go build ID note): raw system calls */
};

/*
 * Reads the ELF file open on @fd (bounded reads: the header, at most
 * UNSEEN_MAX_PHDRS program headers, notes up to UNSEEN_MAX_NOTES bytes)
 * and says whether the agent can see it.  Returns an enum unseen_kind, or
 * -errno when @fd cannot be read (the caller then knows nothing).  A file
 * that is not ELF (a script) or is truncated counts as UNSEEN_NO.
 */
int unseen_elf(int fd);

#define UNSEEN_MAX_PHDRS 256
#define UNSEEN_MAX_NOTES (64 * 1024)

#endif
