// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Programs the agent cannot see, told from their ELF program headers before
 * dyper-wrap execs them (see unseen.h).  Only the program headers are
 * trusted: section headers may be stripped, the program headers are what
 * the kernel itself reads at exec.
 *  - no PT_INTERP: the kernel starts the program without ld.so, so nothing
 *    reads LD_PRELOAD (static, and static-pie, executables);
 *  - a PT_NOTE with the Go toolchain's build ID note (owner "Go", type 4):
 *    Go's runtime makes its socket calls as raw system calls, even when
 *    the binary is linked dynamically for cgo.
 * Not detectable here: programs that make raw system calls some other way
 * (their own assembly, io_uring), gccgo binaries, and a program that is a
 * script whose interpreter execs such a program later.
 */

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wrap/unseen.h"

#define GO_NOTE_BUILDID 4	/* the Go linker's ELF note type for its build ID */

/* Exactly @len bytes at @off, or -errno (-EIO at end of file). */
static int read_at(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

/* Does the note area @buf (@len bytes) hold Go's build ID note? */
static bool has_go_note(const unsigned char *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr n;	/* Elf32_Nhdr has the same layout */
		size_t name, desc;

		memcpy(&n, buf + off, sizeof(n));
		off += sizeof(n);
		name = ((size_t)n.n_namesz + 3) & ~(size_t)3;
		desc = ((size_t)n.n_descsz + 3) & ~(size_t)3;
		if (name > len - off || desc > len - off - name)
			return false;
		if (n.n_type == GO_NOTE_BUILDID && n.n_namesz == 3 && !memcmp(buf + off, "Go", 3))
			return true;
		off += name + desc;
	}
	return false;
}

int unseen_elf(int fd)
{
	unsigned char ident[EI_NIDENT], *notes = NULL;
	bool is64, interp = false, go = false;
	size_t phentsize, phnum, notes_left = UNSEEN_MAX_NOTES;
	off_t phoff;
	int err;

	err = read_at(fd, ident, sizeof(ident), 0);
	if (err)
		return err == -EIO ? UNSEEN_NO : err;
	if (memcmp(ident, ELFMAG, SELFMAG) ||
	    (ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64))
		return UNSEEN_NO;
	/* another byte order is not a program this machine runs natively */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (ident[EI_DATA] != ELFDATA2LSB)
		return UNSEEN_NO;
#else
	if (ident[EI_DATA] != ELFDATA2MSB)
		return UNSEEN_NO;
#endif
	is64 = ident[EI_CLASS] == ELFCLASS64;
	if (is64) {
		Elf64_Ehdr e;

		err = read_at(fd, &e, sizeof(e), 0);
		if (err)
			return err == -EIO ? UNSEEN_NO : err;
		if (e.e_type != ET_EXEC && e.e_type != ET_DYN)
			return UNSEEN_NO;
		phoff = (off_t)e.e_phoff;
		phentsize = e.e_phentsize;
		phnum = e.e_phnum;
	} else {
		Elf32_Ehdr e;

		err = read_at(fd, &e, sizeof(e), 0);
		if (err)
			return err == -EIO ? UNSEEN_NO : err;
		if (e.e_type != ET_EXEC && e.e_type != ET_DYN)
			return UNSEEN_NO;
		phoff = (off_t)e.e_phoff;
		phentsize = e.e_phentsize;
		phnum = e.e_phnum;
	}
	/* a shared library (ET_DYN) without program headers, PN_XNUM, or
	 * headers of another size: not something we can judge */
	if (phnum == 0 || phnum > UNSEEN_MAX_PHDRS || phoff < 0 ||
	    phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return UNSEEN_NO;
	for (size_t i = 0; i < phnum && !go; i++) {
		uint64_t type, off, size;

		if (is64) {
			Elf64_Phdr p;

			err = read_at(fd, &p, sizeof(p), phoff + (off_t)(i * phentsize));
			type = p.p_type, off = p.p_offset, size = p.p_filesz;
		} else {
			Elf32_Phdr p;

			err = read_at(fd, &p, sizeof(p), phoff + (off_t)(i * phentsize));
			type = p.p_type, off = p.p_offset, size = p.p_filesz;
		}
		if (err)
			goto out;
		if (type == PT_INTERP)
			interp = true;
		if (type != PT_NOTE || size == 0 || size > notes_left || off > INT64_MAX)
			continue;
		notes_left -= size;
		free(notes);
		notes = malloc(size);
		if (!notes) {
			err = -ENOMEM;
			goto out;
		}
		err = read_at(fd, notes, size, (off_t)off);
		if (err)
			goto out;
		go = has_go_note(notes, size);
	}
out:
	free(notes);
	if (err && err != -EIO)
		return err;
	if (err)
		return UNSEEN_NO;	/* truncated: the kernel will refuse it anyway */
	if (go)
		return UNSEEN_GO;
	return interp ? UNSEEN_NO : UNSEEN_STATIC;
}
