# Dyper — top-level build.  `make help` lists the targets.
# Honours CC, CFLAGS, CPPFLAGS, LDFLAGS, PREFIX, DESTDIR; V=1 shows commands;
# SANITIZE=address,undefined builds everything with those sanitizers.

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
DESTDIR ?=
PKG_CONFIG ?= pkg-config
B       ?= build

# Libraries (pkg-config names); `make deps` installs what is missing.
PKGS      := libnftnl libmnl
TEST_PKGS := cmocka

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
            -fPIC -fno-strict-overflow -fno-delete-null-pointer-checks
override CFLAGS   += -std=gnu11 $(WARN) $(HARDEN) -MMD -MP
override CPPFLAGS += -D_GNU_SOURCE -I.
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

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
KTEST_SRC  := $(wildcard tests/kernel/test_*.c)
KTEST_BIN  := $(KTEST_SRC:tests/kernel/%.c=$(B)/tests/kernel/%)
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%)
BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(B)/tests/bench/%)

.PHONY: all help deps check-deps check test-bins unit-check kernel-check bench clean
all: check-deps
	$(Q)$(MAKE) --no-print-directory $(NFT_LIB) $(TOOL_BIN)

help:
	@echo "make            build"
	@echo "make check      unit tests, then kernel tests in throwaway network namespaces (root)"
	@echo "make bench      benchmarks (root; network namespaces only)"
	@echo "make deps       install build and test dependencies (root; apt-get or dnf)"
	@echo "options: V=1 SANITIZE=address,undefined SKIP_KERNEL=1 PREFIX= DESTDIR="

# Install what is missing (libraries pkg-config cannot find, or the nft, ip and
# unshare commands the tests use); targets that need the flags re-run make.
TOOLS := nft ip unshare
check-deps:
	$(Q)missing=; PATH="$$PATH:/usr/sbin:/sbin"; \
	for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	$(PKG_CONFIG) --exists $(PKGS) $(TEST_PKGS) 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then $(MAKE) --no-print-directory deps; fi

deps:
	$(Q)scripts/deps.sh

# Keep objects between runs.
.SECONDARY:

# --- build rules -----------------------------------------------------------
$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

$(NFT_LIB): $(NFT_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(TEST_LIBS)

$(B)/tests/kernel/%: $(B)/tests/kernel/%.o $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(TEST_LIBS)

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(NFT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) -lm

# --- tests -----------------------------------------------------------------
# Sub-make so that flags found after `make deps` are read.
check: check-deps
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)B=$(B) SKIP_KERNEL=$(SKIP_KERNEL) tests/check.sh all

test-bins: $(NFT_LIB) $(UNIT_BIN) $(KTEST_BIN) $(TOOL_BIN)

unit-check: $(UNIT_BIN)
	$(Q)B=$(B) tests/check.sh unit

kernel-check: $(KTEST_BIN) $(TOOL_BIN)
	$(Q)B=$(B) SKIP_KERNEL=$(SKIP_KERNEL) tests/check.sh kernel

bench: check-deps $(BENCH_BIN) $(TOOL_BIN)
	$(Q)B=$(B) tests/run-bench.sh $(BENCH_BIN)

clean:
	$(Q)rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
