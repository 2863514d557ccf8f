# Dyper — top-level build.  `make help` lists the targets.
# Honours CC, CFLAGS, CPPFLAGS, LDFLAGS, PREFIX, DESTDIR; V=1 shows commands;
# SANITIZE=address,undefined builds everything with those sanitizers.

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
DESTDIR ?=
# Install layout (`make install`, dyper.spec).  The config directory stays
# /etc whatever the prefix: dyperd and dyper-wrap look there by default.
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
SYSCONFDIR  ?= /etc
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
PKG_CONFIG ?= pkg-config
B       ?= build
VERSION := 0.1.0

# Libraries (pkg-config names); `make deps` installs what is missing.
PKGS      := libnftnl libmnl inih libcap-ng libssh libsystemd
TEST_PKGS := cmocka

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
            -fPIC -fno-strict-overflow -fno-delete-null-pointer-checks
override CFLAGS   += -std=gnu11 $(WARN) $(HARDEN) -MMD -MP
override CPPFLAGS += -D_GNU_SOURCE -I. -DDYPER_VERSION=\"$(VERSION)\"
override LDFLAGS  += -Wl,-z,relro,-z,now -Wl,--as-needed -pie
ifneq ($(SANITIZE),)
override CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -U_FORTIFY_SOURCE
override LDFLAGS += -fsanitize=$(SANITIZE)
B := build-san
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

have_pkgs = $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo yes)
ifeq ($(call have_pkgs,$(PKGS)),yes)
LIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
LIB_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))
endif
ifeq ($(call have_pkgs,$(TEST_PKGS)),yes)
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS   := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))
endif

# --- sources -------------------------------------------------------------
NFT_SRC  := $(wildcard nft/*.c)
NFT_OBJ  := $(NFT_SRC:%.c=$(B)/%.o)
NFT_LIB  := $(B)/libdyper-nft.a
CONF_SRC := $(wildcard conf/*.c)
CONF_OBJ := $(CONF_SRC:%.c=$(B)/%.o)
CONF_LIB := $(B)/libdyper-conf.a
# remote/: border mode's transport (wire grammar, libssh client); leaf code
# that knows pinholes and nothing of policy.  dyper-remote.c is a program.
REMOTE_SRC := $(filter-out remote/dyper-remote.c,$(wildcard remote/*.c))
REMOTE_OBJ := $(REMOTE_SRC:%.c=$(B)/%.o)
REMOTE_LIB := $(B)/libdyper-remote.a
# dyperd's modules that tests link; the daemon's event loop and the two
# programs' main files go only into the programs.
# The engine is not among them: it drives enforcers through their interface
# alone, and tests/unit/test_engine links it with a fake one.
DAEMON_SRC := dyperd/dyperd.c dyperd/channel.c dyperd/control.c dyperd/reload.c dyperd/resume.c \
	      dyperd/site.c
# dyperctl's own: its main and doctor (which reads the system, never dyperd's).
CTL_SRC  := dyperd/dyperctl.c dyperd/doctor.c
CORE_SRC := $(filter-out $(DAEMON_SRC) $(CTL_SRC),$(wildcard dyperd/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
CORE_LIB := $(B)/libdyper-core.a

DYPERD   := $(B)/bin/dyperd
DYPERCTL := $(B)/bin/dyperctl
WRAP     := $(B)/bin/dyper-wrap
REMOTE   := $(B)/bin/dyper-remote
PROGS    := $(DYPERD) $(DYPERCTL) $(WRAP) $(REMOTE)
# Where dyper-wrap finds the agent unless told otherwise (-p), and where
# `dyperctl doctor` looks for the agent and the wrapper.
PRELOAD_PATH := $(LIBDIR)/dyper/libdyper-preload.so
WRAP_PATH    := $(BINDIR)/dyper-wrap
PRELOAD  := $(B)/lib/libdyper-preload.so

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
KTEST_SRC  := $(wildcard tests/kernel/test_*.c)
KTEST_BIN  := $(KTEST_SRC:tests/kernel/%.c=$(B)/tests/kernel/%)
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%)
# test fixtures (tests/fixtures/): stand-ins for devices, built for the
# tests and the benchmarks only, never installed
FIXTURE_SRC := $(wildcard tests/fixtures/*.c)
FIXTURE_BIN := $(FIXTURE_SRC:tests/fixtures/%.c=$(B)/tests/fixtures/%)
BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(B)/tests/bench/%)

.PHONY: all help deps build-deps check-deps check test-bins unit-check kernel-check bench fuzz clean \
	install uninstall dist rpm deb demo demo-border
# Building needs only the build dependencies (build-deps says which are
# missing); the test tools are check's and bench's (check-deps).
all: build-deps
	$(Q)$(MAKE) --no-print-directory $(NFT_LIB) $(CONF_LIB) $(CORE_LIB) $(REMOTE_LIB) $(PROGS) \
		$(PRELOAD) $(TOOL_BIN)

help:
	@echo "make            build (needs only the build dependencies: says which are missing)"
	@echo "make check      unit tests, then kernel tests in throwaway network namespaces (root;"
	@echo "                installs the missing test tools, as make deps)"
	@echo "make bench      benchmarks (root; network namespaces only)"
	@echo "make demo       a guided tour: passive FTP through Dyper between two namespaces (root)"
	@echo "make demo-border  the same through a border router: border mode, host and site (root)"
	@echo "make fuzz       every tests/fuzz/fuzz_*.c harness, FUZZ_SECONDS (30) each (clang)"
	@echo "make deps       install build and test dependencies (root; apt-get or dnf)"
	@echo "make install    install under PREFIX (/usr/local), config in /etc/dyper (never overwritten)"
	@echo "make uninstall  remove what install laid out; config files you changed are kept"
	@echo "make dist       $(B)/dyper-$(VERSION).tar.gz of the tracked source"
	@echo "make rpm        build the RPM from that tarball into $(B)/rpm (rpmbuild)"
	@echo "make deb        build the Debian package into $(B)/deb (dpkg-deb, dpkg-shlibdeps)"
	@echo "options: V=1 SANITIZE=address,undefined SKIP_KERNEL=1 PREFIX= LIBDIR= DESTDIR="

# What building needs: a compiler and pkg-config's libraries.  Says which
# are missing and how to get them; installs nothing (needs no root).
build-deps:
	$(Q)missing=; \
	command -v $(CC) >/dev/null 2>&1 || missing="$$missing $(CC)"; \
	if ! command -v $(PKG_CONFIG) >/dev/null 2>&1; then missing="$$missing $(PKG_CONFIG)"; \
	else for p in $(PKGS); do $(PKG_CONFIG) --exists $$p 2>/dev/null || missing="$$missing $$p"; done; fi; \
	if [ -n "$$missing" ]; then \
		echo "make: cannot build, missing:$$missing" >&2; \
		echo "make: install them with 'sudo make deps' (build and test dependencies), or by hand:" \
			"Debian/Ubuntu: apt-get install build-essential pkg-config libnftnl-dev libmnl-dev" \
			"libinih-dev libcap-ng-dev libssh-dev libsystemd-dev; Fedora/RHEL: dnf install gcc make" \
			"pkgconf-pkg-config libnftnl-devel libmnl-devel inih-devel libcap-ng-devel libssh-devel" \
			"systemd-devel" >&2; \
		exit 1; \
	fi

# Install what is missing (libraries pkg-config cannot find, or the nft, ip and
# unshare commands the tests use) for check, bench and demo; targets that need
# the flags re-run make.
TOOLS := nft ip unshare setpriv python3 man groff valgrind useradd chpasswd \
	 vsftpd lftp curl wget tftp in.tftpd iperf openssl globus-gridftp-server globus-url-copy sipp \
	 sshd ssh-keygen jq
# pure-ftpd conflicts with vsftpd in Debian (both are ftp-server): its
# package is unpacked here instead, for tests/e2e/apps.sh
PUREFTPD := $(B)/deps/pure-ftpd/usr/sbin/pure-ftpd
check-deps:
	$(Q)missing=; PATH="$$PATH:/usr/sbin:/sbin"; \
	for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	command -v pure-ftpd >/dev/null 2>&1 || [ -x $(PUREFTPD) ] || missing=1; \
	python3 -c 'import prometheus_client' 2>/dev/null || \
		/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || missing=1; \
	$(PKG_CONFIG) --exists $(PKGS) $(TEST_PKGS) 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then $(MAKE) --no-print-directory deps; fi

deps:
	$(Q)DEPS_DIR=$(B)/deps scripts/deps.sh

# Keep objects between runs.
.SECONDARY:

# --- programs ----------------------------------------------------------------
# -pthread: a reload reads and parses in a thread of its own; site mode
# (dyperd/site.c) speaks remote/'s wire grammar
$(DYPERD): $(DAEMON_SRC:%.c=$(B)/%.o) $(CORE_LIB) $(REMOTE_LIB) $(CONF_LIB) $(NFT_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(LIB_LIBS)

# The agent: a guest in other programs, exporting only what it interposes.
# Never sanitized: an ASan runtime cannot be preloaded into programs built
# without it (the unit tests and fuzzers cover its protocol code).
PRELOAD_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))
PRELOAD_SRC := preload/agent.c preload/filter.c dyperd/proto.c
$(PRELOAD): $(PRELOAD_SRC) dyperd/proto.h preload/filter.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(PRELOAD_CFLAGS) -fvisibility=hidden -shared -Wl,-z,defs \
		-Wl,-z,relro,-z,now -o $@ $(PRELOAD_SRC) -ldl -lpthread

# dyperctl: a client of dyperd, and for doctor a reader of the config, the
# policy and the nftables ruleset.
$(DYPERCTL): $(CTL_SRC:%.c=$(B)/%.o) $(CORE_LIB) $(CONF_LIB) $(REMOTE_LIB) $(NFT_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(B)/dyperd/doctor.o $(B)/dyperd/dyperctl.o: override CPPFLAGS += \
	-DDYPER_PRELOAD_PATH=\"$(PRELOAD_PATH)\" -DDYPER_WRAP_PATH=\"$(WRAP_PATH)\"
# the unit test of doctor's judgments: doctor.o before the libraries it uses
$(B)/tests/unit/test_doctor: $(B)/tests/unit/test_doctor.o $(B)/dyperd/doctor.o \
		$(CORE_LIB) $(CONF_LIB) $(REMOTE_LIB) $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(TEST_LIBS)

# the unit test of the agent's copy of seccomp filters
$(B)/tests/unit/test_agent_filter: $(B)/tests/unit/test_agent_filter.o $(B)/preload/filter.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

# dyper-wrap: wrap/ with the wire protocol alone: no config reader runs in
# the setgid program; libcap-ng from LIB_LIBS (--as-needed keeps only that).
$(WRAP): $(B)/wrap/dyper-wrap.o $(B)/wrap/unseen.o $(B)/dyperd/proto.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(B)/wrap/dyper-wrap.o: override CPPFLAGS += -DDYPER_PRELOAD_PATH=\"$(PRELOAD_PATH)\"

# For the tests that run dyper-wrap as an unprivileged user, who may not
# choose the agent (-p is root's): the same wrapper with a stand-in agent,
# an empty library in the build tree, as its own.
STANDIN      := $(B)/tests/tools/libdyper-standin.so
STANDIN_WRAP := $(B)/tests/tools/dyper-wrap-standin
$(STANDIN):
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(PRELOAD_CFLAGS) -shared -fPIC -o $@ -x c /dev/null

$(STANDIN_WRAP): $(B)/tests/tools/dyper-wrap-standin.o $(B)/wrap/unseen.o $(B)/dyperd/proto.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(B)/tests/tools/dyper-wrap-standin.o: wrap/dyper-wrap.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $< (stand-in agent)")
	$(Q)$(CC) $(CPPFLAGS) -DDYPER_PRELOAD_PATH=\"$(abspath $(STANDIN))\" $(CFLAGS) \
		$(LIB_CFLAGS) -c -o $@ $<

# dyper-remote: the site's restricted command (sshd runs it for a host's
# key); only the wire grammar, no libssh, no config.
$(REMOTE): $(B)/remote/dyper-remote.o $(REMOTE_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# --- build rules -----------------------------------------------------------
$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

$(NFT_LIB): $(NFT_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(CORE_LIB): $(CORE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(CONF_LIB): $(CONF_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(REMOTE_LIB): $(REMOTE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# the engine's unit test, with the fake enforcer (tests/unit/, never installed)
$(B)/tests/unit/test_engine: $(B)/tests/unit/test_engine.o $(B)/tests/unit/fake_enforcer.o \
		$(CORE_LIB) $(CONF_LIB) $(REMOTE_LIB) $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(TEST_LIBS)

# the fan-out's unit test, with fake members
$(B)/tests/unit/test_fanout: $(B)/tests/unit/test_fanout.o $(B)/tests/unit/fake_enforcer.o \
		$(REMOTE_LIB) $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(TEST_LIBS)

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(CORE_LIB) $(REMOTE_LIB) $(CONF_LIB) $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(TEST_LIBS)

$(B)/tests/kernel/%: $(B)/tests/kernel/%.o $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(TEST_LIBS)

# tests/tools/common/: what the tools share, linked into each
$(B)/tests/tools/%: $(B)/tests/tools/%.o $(B)/tests/tools/common/parse.o $(CORE_LIB) \
		$(REMOTE_LIB) $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(LIB_LIBS)

$(B)/tests/fixtures/%: $(B)/tests/fixtures/%.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# Only the benchmarks themselves: tests/bench/util/ is their shared code.
$(BENCH_BIN): $(B)/tests/bench/%: $(B)/tests/bench/%.o $(B)/tests/bench/util/bench.o \
		$(CORE_LIB) $(REMOTE_LIB) $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(LIB_LIBS) -lm

# --- tests -----------------------------------------------------------------
# Sub-make so that flags found after `make deps` are read.
check: check-deps
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)B=$(B) SKIP_KERNEL=$(SKIP_KERNEL) tests/check.sh all

test-bins: $(NFT_LIB) $(CONF_LIB) $(REMOTE_LIB) $(PROGS) $(PRELOAD) $(UNIT_BIN) $(KTEST_BIN) $(TOOL_BIN) \
	$(STANDIN) $(STANDIN_WRAP) $(FIXTURE_BIN)

unit-check: $(UNIT_BIN)
	$(Q)B=$(B) tests/check.sh unit

kernel-check: $(KTEST_BIN) $(TOOL_BIN) $(STANDIN) $(STANDIN_WRAP) $(FIXTURE_BIN)
	$(Q)B=$(B) SKIP_KERNEL=$(SKIP_KERNEL) tests/check.sh kernel

bench: check-deps
	$(Q)$(MAKE) --no-print-directory $(BENCH_BIN) $(TOOL_BIN) $(FIXTURE_BIN) $(PROGS) $(PRELOAD)
	$(Q)B=$(B) tests/run-bench.sh $(BENCH_BIN)
	$(Q)B=$(B) tests/bench/border_latency.sh
	$(Q)B=$(B) E2E_BENCH=1 tests/e2e/apps.sh

# A guided tour for newcomers (scripts/demo.sh), in two network namespaces of
# its own; root is checked first, before anything is installed or built.
demo:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make demo: the demo creates network namespaces: run it as: sudo make demo" >&2; exit 1; fi
	$(Q)$(MAKE) --no-print-directory check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)B=$(B) scripts/demo.sh

# The same download through a border router (scripts/demo-border.sh): dyperd
# on the internal host in border mode, sshd and the site controller on the
# router, in three network namespaces.
demo-border:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make demo-border: the demo creates network namespaces: run it as: sudo make demo-border" >&2; exit 1; fi
	$(Q)$(MAKE) --no-print-directory check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)B=$(B) scripts/demo-border.sh

# --- install and packaging ---------------------------------------------------
# `make install` lays out what dyper.spec packages; with PREFIX=/usr and
# LIBDIR set to rpm's %{_libdir}, the same paths.  It never overwrites a
# config file in SYSCONFDIR/dyper.  dyper-wrap is installed 2711 (others may
# run it, not read it) and group dyper, which only root can give and only
# once the group exists (systemd-sysusers makes it from dyper.sysusers); a
# DESTDIR install never uses this machine's group; installing as root to
# this machine creates user and group first, as the RPM does.  Otherwise it is
# installed 0711 without the setgid bit, and make says what root must run.
# `make uninstall` removes every file install laid out, except a config
# file that differs from the shipped one: the admin's edits stay, like
# rpm's %config(noreplace) (make says which files it kept).  Run as root
# without DESTDIR, it first stops and disables the unit it installed (if
# systemd runs it) and removes Dyper's table from the kernel
# (dyperd --remove-table: only the configured table, only if Dyper made it
# and no dyperd runs), as removing the package does.
DOCDIR   ?= $(PREFIX)/share/doc/dyper
LICENSEDIR ?= $(PREFIX)/share/licenses/dyper
INSTALL  ?= install
RPMBUILD ?= rpmbuild
# Without an rpm database that knows the build dependencies (rpmbuild on
# Debian), they cannot be checked: --nodeps.
RPMBUILD_FLAGS ?= $(shell rpm -q rpm >/dev/null 2>&1 || echo --nodeps)
DIST     := $(B)/dyper-$(VERSION).tar.gz
RPM_TOP  := $(abspath $(B)/rpm)
UNIT     := $(B)/conf/dyperd.service
CONFIGS  := conf/dyper.conf conf/policy
# logrotate's snippet for the event log: a config file too (kept when changed)
LOGROTATE := conf/dyper.logrotate
MANPAGES := $(wildcard doc/*.1 doc/*.5 doc/*.7 doc/*.8)
# Every path install lays out, for uninstall (configs separately).
INSTALLED := $(SBINDIR)/dyperd $(SBINDIR)/dyperctl $(BINDIR)/dyper-wrap $(BINDIR)/dyper-remote \
	$(LIBDIR)/dyper/libdyper-preload.so $(UNITDIR)/dyperd.service \
	$(SYSUSERSDIR)/dyper.conf $(TMPFILESDIR)/dyper.conf $(DOCDIR)/README.md \
	$(LICENSEDIR)/LICENSE \
	$(foreach m,$(MANPAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

.PHONY: programs FORCE
# What install needs, without `all`'s check for the test tools (rpmbuild).
programs: $(PROGS) $(PRELOAD) $(UNIT)

# The install paths compiled into the programs and the unit: rewritten
# (and so rebuilding those) only when they change.
PATHS := $(B)/install-paths
$(PATHS): FORCE
	@mkdir -p $(@D)
	@echo "$(SBINDIR) $(PRELOAD_PATH) $(WRAP_PATH)" | cmp -s - $@ || \
		echo "$(SBINDIR) $(PRELOAD_PATH) $(WRAP_PATH)" >$@
FORCE:
$(B)/wrap/dyper-wrap.o $(B)/dyperd/doctor.o $(B)/dyperd/dyperctl.o: $(PATHS)

$(UNIT): conf/dyperd.service.in $(PATHS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@

install: programs
	$(Q)set -e; d='$(DESTDIR)'; \
	$(INSTALL) -d $$d$(SBINDIR) $$d$(BINDIR) $$d$(LIBDIR)/dyper $$d$(UNITDIR) \
		$$d$(SYSUSERSDIR) $$d$(TMPFILESDIR) $$d$(SYSCONFDIR)/dyper $$d$(DOCDIR) \
		$$d$(LICENSEDIR) $$d$(LOGROTATEDIR); \
	$(INSTALL) -m 0755 $(DYPERD) $(DYPERCTL) $$d$(SBINDIR)/; \
	$(INSTALL) -m 0755 $(REMOTE) $$d$(BINDIR)/; \
	$(INSTALL) -m 0755 $(PRELOAD) $$d$(LIBDIR)/dyper/; \
	$(INSTALL) -m 0644 $(UNIT) $$d$(UNITDIR)/dyperd.service; \
	$(INSTALL) -m 0644 conf/dyper.sysusers $$d$(SYSUSERSDIR)/dyper.conf; \
	$(INSTALL) -m 0644 conf/dyper.tmpfiles $$d$(TMPFILESDIR)/dyper.conf; \
	$(INSTALL) -m 0644 README.md $$d$(DOCDIR)/; \
	$(INSTALL) -m 0644 LICENSE $$d$(LICENSEDIR)/; \
	for m in $(MANPAGES); do \
		s=$${m##*.}; $(INSTALL) -d $$d$(MANDIR)/man$$s; \
		$(INSTALL) -m 0644 $$m $$d$(MANDIR)/man$$s/; \
	done; \
	for c in $(CONFIGS) $(LOGROTATE); do \
		t=$$d$(SYSCONFDIR)/dyper/$${c#conf/}; \
		[ $$c = $(LOGROTATE) ] && t=$$d$(LOGROTATEDIR)/dyper; \
		if [ ! -e $$t ]; then $(INSTALL) -m 0644 $$c $$t; \
		elif ! cmp -s $$c $$t; then echo "make install: kept $$t (yours differs from $$c)"; fi; \
	done; \
	if [ -z "$$d" ] && [ "$$(id -u)" = 0 ] && ! getent group dyper >/dev/null && \
		command -v systemd-sysusers >/dev/null; then \
		echo "make install: creating the dyper user and group: systemd-sysusers $(SYSUSERSDIR)/dyper.conf"; \
		systemd-sysusers $(SYSUSERSDIR)/dyper.conf; \
	fi; \
	if [ -z "$$d" ] && [ "$$(id -u)" = 0 ] && getent group dyper >/dev/null; then \
		$(INSTALL) -m 2711 -o root -g dyper $(WRAP) $(BINDIR)/dyper-wrap; \
	else \
		$(INSTALL) -m 0711 $(WRAP) $$d$(BINDIR)/dyper-wrap; \
		echo "make install: dyper-wrap is not setgid dyper yet: as root, once group dyper exists" \
			"(systemd-sysusers), run: chgrp dyper $(BINDIR)/dyper-wrap && chmod 2711 $(BINDIR)/dyper-wrap"; \
	fi

uninstall:
	$(Q)d='$(DESTDIR)'; \
	if [ -z "$$d" ] && [ "$$(id -u)" = 0 ]; then \
		if [ -d /run/systemd/system ] && [ "$$(systemctl show -P FragmentPath dyperd.service \
			2>/dev/null)" = "$(UNITDIR)/dyperd.service" ]; then \
			echo "make uninstall: systemctl disable --now dyperd.service"; \
			systemctl disable --now dyperd.service; \
		fi; \
		c=$(SYSCONFDIR)/dyper/dyper.conf; \
		if [ -x $(SBINDIR)/dyperd ]; then \
			if [ -e $$c ]; then $(SBINDIR)/dyperd --remove-table -c $$c; \
			else $(SBINDIR)/dyperd --remove-table; fi || \
			echo "make uninstall: Dyper's table is still in the kernel; once dyperd" \
				"is stopped: nft delete table inet TABLE (table = in $$c)" >&2; \
		fi; \
	fi; \
	for f in $(INSTALLED); do rm -f $$d$$f; done; \
	for c in $(CONFIGS) $(LOGROTATE); do \
		t=$$d$(SYSCONFDIR)/dyper/$${c#conf/}; \
		[ $$c = $(LOGROTATE) ] && t=$$d$(LOGROTATEDIR)/dyper; \
		if cmp -s $$c $$t; then rm -f $$t; \
		elif [ -e $$t ]; then echo "make uninstall: kept $$t (it differs from $$c)"; fi; \
	done; \
	rmdir $$d$(LIBDIR)/dyper $$d$(DOCDIR) $$d$(LICENSEDIR) 2>/dev/null; \
	rmdir $$d$(SYSCONFDIR)/dyper 2>/dev/null; :

# The tracked files (git ls-files, with their working-tree contents; new
# files count once added), or outside git every file but the build
# directories; reproducible: names sorted, owner root, dates of the last commit.
dist:
	@mkdir -p $(B)
	@$(if $(Q),echo "  DIST    $(DIST)")
	$(Q)set -e; mtime=@$$(stat -c %Y Makefile); \
	ingit=$$([ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] && echo 1 || :); \
	[ -z "$$ingit" ] || mtime=@$$(git log -1 --format=%ct); \
	if [ -n "$$ingit" ]; then git ls-files -z; \
	else find . \( -name .git -o -name 'build*' -o -path './$(B)' \) -prune -o -type f -printf '%P\0'; fi | \
		xargs -0 -r sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		tar --null -T - --sort=name --mtime=$$mtime --owner=0 --group=0 --numeric-owner \
			--transform 's,^,dyper-$(VERSION)/,' -cf - | gzip -n >$(DIST).tmp; \
	mv $(DIST).tmp $(DIST)

# The RPM, built by rpmbuild from the spec and the sources in dist's
# tarball, into $(B)/rpm/RPMS and SRPMS.
rpm: dist
	$(Q)command -v $(RPMBUILD) >/dev/null || { echo "make rpm: $(RPMBUILD) is missing" \
		"(apt-get install rpm, or dnf install rpm-build)" >&2; exit 1; }
	$(Q)rm -rf $(RPM_TOP) && mkdir -p $(RPM_TOP)/SOURCES $(RPM_TOP)/SPECS
	$(Q)cp $(DIST) $(RPM_TOP)/SOURCES/
	$(Q)tar -xzOf $(DIST) dyper-$(VERSION)/dyper.spec >$(RPM_TOP)/SPECS/dyper.spec || \
		{ echo "make rpm: $(DIST) has no dyper.spec (is it tracked? git add it)" >&2; exit 1; }
	$(Q)tar -xzOf $(DIST) dyper-$(VERSION)/conf/dyper.sysusers >$(RPM_TOP)/SOURCES/dyper.sysusers
	$(Q)$(RPMBUILD) -ba $(RPMBUILD_FLAGS) --define "_topdir $(RPM_TOP)" \
		$(if $(Q),--quiet) $(RPM_TOP)/SPECS/dyper.spec

# The Debian package, from this tree: `make install` into a staging root
# ($(B)/deb/debian/dyper, where dpkg-shlibdeps expects it)
# with Debian's paths (the agent in /usr/lib/MULTIARCH/dyper, compiled into
# dyper-wrap), man pages compressed, binaries stripped, the library
# dependencies from dpkg-shlibdeps, and conf/deb/'s control file and
# maintainer scripts, which do what dyper.spec's scriptlets do.
# dpkg-deb --root-owner-group: no root needed; dyper-wrap gets its group
# and mode 2711 in postinst (dpkg-statoverride), once the group exists.
DEB_TOP       := $(abspath $(B)/deb)
DEB_ARCH       = $(shell dpkg --print-architecture)
DEB_MULTIARCH  = $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch)
HOMEPAGE      := $(shell sed -n "s/^URL: *//p" dyper.spec)
DEB_MAKE       = $(MAKE) --no-print-directory B=$(DEB_TOP)/build PREFIX=/usr \
	LIBDIR=/usr/lib/$(DEB_MULTIARCH) SYSCONFDIR=/etc
deb:
	$(Q)for t in dpkg-deb dpkg-shlibdeps; do command -v $$t >/dev/null || { echo "make deb:" \
		"$$t is missing (apt-get install dpkg-dev)" >&2; exit 1; }; done
	$(Q)rm -rf $(DEB_TOP)/debian $(DEB_TOP)/*.deb && mkdir -p $(DEB_TOP)/debian
	$(Q)$(DEB_MAKE) programs
	$(Q)$(DEB_MAKE) DESTDIR=$(DEB_TOP)/debian/dyper install >$(DEB_TOP)/install.log
	@$(if $(Q),echo "  DEB     $(DEB_TOP)/dyper_$(VERSION)-1_$(DEB_ARCH).deb")
	$(Q)set -e; r=debian/dyper; cd $(DEB_TOP); \
	gzip -9n $$r/usr/share/man/man*/*; \
	$(INSTALL) -m 0644 $(CURDIR)/conf/deb/copyright $$r/usr/share/doc/dyper/copyright; \
	bins="$$r/usr/sbin/dyperd $$r/usr/sbin/dyperctl $$r/usr/bin/dyper-wrap \
		$$r/usr/lib/$(DEB_MULTIARCH)/dyper/libdyper-preload.so"; \
	strip --strip-unneeded --remove-section=.comment --remove-section=.note $$bins; \
	mkdir -m 0755 $$r/DEBIAN; \
	printf 'Source: dyper\n\nPackage: dyper\nArchitecture: any\n' >debian/control; \
	deps=$$(dpkg-shlibdeps -O $$(for b in $$bins; do printf ' -e%s' $$b; done) | \
		sed -n 's/^shlibs:Depends=//p'); \
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' -e "s|@DEPENDS@|$$deps|" \
		-e "s|@SIZE@|$$(du -sk --apparent-size $$r | cut -f1)|" -e 's|@URL@|$(HOMEPAGE)|' \
		$(CURDIR)/conf/deb/control.in >$$r/DEBIAN/control; \
	$(INSTALL) -m 0644 $(CURDIR)/conf/deb/conffiles $$r/DEBIAN/; \
	$(INSTALL) -m 0755 $(CURDIR)/conf/deb/postinst $(CURDIR)/conf/deb/prerm \
		$(CURDIR)/conf/deb/postrm $$r/DEBIAN/; \
	dpkg-deb --root-owner-group -Zxz --build $$r dyper_$(VERSION)-1_$(DEB_ARCH).deb >/dev/null

# --- fuzzing ----------------------------------------------------------------
# Each harness tests/fuzz/fuzz_NAME.c is built by clang with libFuzzer and
# the sanitizers, together with the sources it tests (FUZZ_SRC_fuzz_NAME, and
# libraries FUZZ_LIBS_fuzz_NAME), then run for FUZZ_SECONDS from the seeds
# in tests/fuzz/corpus/NAME/ with tests/fuzz/NAME.dict if there is one.
# What it learns stays in $(B)/fuzz/corpus/NAME/, crashes in $(B)/fuzz/NAME-*.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS  := -std=gnu11 -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer -D_GNU_SOURCE -I.
FUZZ_HARNESS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_HARNESS:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_SRC_fuzz_policy := dyperd/policy.c
FUZZ_SRC_fuzz_config := conf/config.c
FUZZ_LIBS_fuzz_config := $(shell $(PKG_CONFIG) --libs inih 2>/dev/null)
FUZZ_SRC_fuzz_proto  := dyperd/proto.c
FUZZ_SRC_fuzz_wire   := remote/wire.c

.SECONDEXPANSION:
$(B)/fuzz/%: tests/fuzz/%.c $$(FUZZ_SRC_$$*) $(wildcard dyperd/*.h conf/*.h remote/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIBS_$*)

fuzz: $(FUZZ_BIN)
	$(Q)set -e; for f in $(FUZZ_BIN); do \
		n=$${f##*/fuzz_}; seeds=; dict=; \
		[ -d tests/fuzz/corpus/$$n ] && seeds=tests/fuzz/corpus/$$n; \
		[ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
		mkdir -p $(B)/fuzz/corpus/$$n; \
		echo "  FUZZ    $$n ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(B)/fuzz/$$n- $$dict \
			$(B)/fuzz/corpus/$$n $$seeds; \
	done

clean:
	$(Q)rm -rf build build-san

# (not the booted root of tests/pkg/systemd.sh, whose rc2.d and such are directories)
-include $(shell find $(B) -path $(B)/systemd-root -prune -o -name '*.d' -type f -print 2>/dev/null)
