# Makefile - builds xenshape: libxenshape (shared, static, pkg-config),
# the daemon, the CLI tools, the simulated host, the tests and benchmarks.
#
# configure detects dependencies into config.mk and config.h; this file
# chooses source files from them (hv_xen.c only when libxen-dev is there)
# and never needs an #ifdef in the code.  On a fresh Debian 12 machine,
# `make check` and `make demo` install what is missing first
# (tools/scripts/setup-deps.sh), then configure, build and run.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD := build
OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin
LIBDIR := $(BUILD)/lib
TESTBIN := $(BUILD)/tests

SONAME_MAJOR := 1
LIB_VERSION := 1.0.0

# config.mk comes from configure; making it installs dependencies first.
ifeq ($(filter deps distclean clean,$(MAKECMDGOALS)),)
include config.mk
endif

config.mk: configure.ac config.mk.in
	tools/scripts/setup-deps.sh
	autoreconf -fi
	./configure

.PHONY: deps
deps:
	tools/scripts/setup-deps.sh

WARN := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes \
        -Wshadow -Wno-unused-parameter
ifeq ($(CONFIG_WERROR),y)
WARN += -Werror
endif
OPT ?= -O2 -g
SAN ?=
BASE_CFLAGS := -std=gnu11 $(OPT) $(SAN) $(WARN) -fPIC -pthread \
	-D_GNU_SOURCE -include config.h -I. -Ilibxenshape/include -Ilibxenshape \
	$(XENTOOLLOG_CFLAGS) $(XXHASH_CFLAGS) $(URING_CFLAGS) $(XEN_CFLAGS)
# CPPFLAGS, CFLAGS and LDFLAGS from the environment come last, as
# dpkg-buildflags gives them to a package build (hardening).
CFLAGS_ALL = $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDLIBS_LIB := $(URING_LIBS) $(XXHASH_LIBS) $(XENTOOLLOG_LIBS) -lpthread -lm
ifeq ($(CONFIG_XEN),y)
LDLIBS_LIB += $(XEN_LIBS)
endif

# ---- libxenshape -------------------------------------------------------
LIB_SRCS := $(wildcard libxenshape/*.c libxenshape/*/*.c)
ifneq ($(CONFIG_XEN),y)
LIB_SRCS := $(filter-out libxenshape/hv/hv_xen.c libxenshape/kv/kv_xen.c,$(LIB_SRCS))
endif
LIB_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRCS))
LIB_A := $(LIBDIR)/libxenshape.a
LIB_SO := $(LIBDIR)/libxenshape.so.$(LIB_VERSION)
LIB_PC := $(LIBDIR)/xenshape.pc

$(OBJ)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS) libxenshape/libxenshape.map
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) -shared -Wl,-soname,libxenshape.so.$(SONAME_MAJOR) \
	    -Wl,--version-script=libxenshape/libxenshape.map -Wl,--no-undefined \
	    -o $@ $(LIB_OBJS) $(LDLIBS_LIB)
	ln -sf libxenshape.so.$(LIB_VERSION) $(LIBDIR)/libxenshape.so.$(SONAME_MAJOR)
	ln -sf libxenshape.so.$(SONAME_MAJOR) $(LIBDIR)/libxenshape.so

$(LIB_PC): libxenshape/xenshape.pc.in config.mk
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(LIB_VERSION)|g' $< > $@

# ---- programs: one directory under tools/ per program -------------------
# A directory under tools/ with C files directly in it is a program.
TOOL_DIRS := $(sort $(patsubst tools/%/,%,$(dir $(wildcard tools/*/*.c))))
PROGS := $(addprefix $(BIN)/,$(TOOL_DIRS))

# TOOL_OBJS_<name>: objects of other tools a program links too.
define tool_rule
$(BIN)/$(1): $(patsubst %.c,$(OBJ)/%.o,$(wildcard tools/$(1)/*.c)) \
	$(TOOL_OBJS_$(1)) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(SAN) $$(LDFLAGS) -pthread -o $$@ $$^ $$(LDLIBS_LIB)
endef
# The shaping benchmark drives the daemon's own shaping code.
TOOL_OBJS_bench := $(OBJ)/tools/xenshaped/shaping.o
$(foreach t,$(TOOL_DIRS),$(eval $(call tool_rule,$(t))))

# ---- tests: tests/check_<module>.c, each its own binary -----------------
TEST_SRCS := $(wildcard tests/check_*.c)
TEST_COMMON := $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))
TEST_COMMON_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(TEST_COMMON))
TESTS := $(patsubst tests/%.c,$(TESTBIN)/%,$(TEST_SRCS))

$(OBJ)/tests/%.o: CFLAGS += $(CHECK_CFLAGS)
$(TESTBIN)/%: $(OBJ)/tests/%.o $(TEST_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) -pthread -o $@ $^ $(CHECK_LIBS) $(LDLIBS_LIB)

# ---- generated from the xenstore schema ---------------------------------
# tools/scripts/gen-schema.awk (plain awk: mawk is enough) turns
# xenstore-schema/xenshape.schema into the key table compiled into
# libxenshape (schema_table.c and its X-macro header schema_keys.h), the
# cases of tests/check_schema.c (schema_cases.h), all under $(GEN), and
# docs/xenstore-paths.md.  That one is committed: `make schema-docs`
# rewrites it; check_schema (part of `make check`) and
# `make check-schema-docs` fail while it differs from what the schema says.
SCHEMA := xenstore-schema/xenshape.schema
GEN_SCHEMA := tools/scripts/gen-schema.awk
GEN := $(BUILD)/gen
GEN_HDRS := $(GEN)/schema_keys.h $(GEN)/schema_cases.h
GEN_OBJS := $(OBJ)/gen/schema_table.o
AWK ?= awk

BASE_CFLAGS += -I$(BUILD)
LIB_OBJS += $(GEN_OBJS)
$(LIB_A) $(LIB_SO): $(GEN_OBJS)

$(GEN)/schema_keys.h: GEN_MODE := keys
$(GEN)/schema_table.c: GEN_MODE := table
$(GEN)/schema_cases.h: GEN_MODE := cases
$(GEN)/xenstore-paths.md: GEN_MODE := doc
$(GEN)/schema_keys.h $(GEN)/schema_table.c $(GEN)/schema_cases.h \
$(GEN)/xenstore-paths.md: $(SCHEMA) $(GEN_SCHEMA)
	@mkdir -p $(dir $@)
	$(AWK) -v mode=$(GEN_MODE) -f $(GEN_SCHEMA) $(SCHEMA) > $@.tmp
	mv $@.tmp $@

$(GEN_OBJS): $(OBJ)/gen/%.o: $(GEN)/%.c $(GEN)/schema_keys.h config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# Any object may include a generated header: on a clean tree make them
# first; from then on the .d files say who includes what.
$(LIB_OBJS) $(TEST_COMMON_OBJS) $(patsubst %.c,$(OBJ)/%.o,$(TEST_SRCS)) \
$(patsubst %.c,$(OBJ)/%.o,$(wildcard tools/*/*.c)): | $(GEN_HDRS)

# check_schema compares the committed doc with the generated one.
$(OBJ)/tests/check_schema.o: CFLAGS += \
	-DXENSHAPE_TEST_SRCDIR='"$(CURDIR)"' \
	-DXENSHAPE_TEST_GENDIR='"$(abspath $(GEN))"'
$(TESTBIN)/check_schema: | $(GEN)/xenstore-paths.md

.PHONY: schema-docs check-schema-docs
schema-docs: $(GEN)/xenstore-paths.md
	cp $< docs/xenstore-paths.md

check-schema-docs: $(GEN)/xenstore-paths.md
	@cmp -s $< docs/xenstore-paths.md || { echo "docs/xenstore-paths.md" \
	    "differs from $(SCHEMA): run make schema-docs" >&2; exit 1; }

# ---- end of the generated block -----------------------------------------

# ---- man pages -------------------------------------------------------------
# Each generated from what it documents: xenshape(1) from the CLI's
# command table (xenshape --man), xenshaped(8) from the daemon's --help
# (tools/scripts/gen-daemon-man.sh), xenshape-xenstore(7) from the schema
# (gen-schema.awk, mode man).  tests/e2e-cli.sh lints all three with
# groff -ww.
MAN := $(BUILD)/man
MANPAGES := $(MAN)/xenshape.1 $(MAN)/xenshaped.8 $(MAN)/xenshape-xenstore.7

$(MAN)/xenshape.1: $(BIN)/xenshape
	@mkdir -p $(dir $@)
	$< --man > $@.tmp
	mv $@.tmp $@

$(MAN)/xenshaped.8: $(BIN)/xenshaped tools/scripts/gen-daemon-man.sh
	@mkdir -p $(dir $@)
	tools/scripts/gen-daemon-man.sh $< > $@.tmp
	mv $@.tmp $@

$(MAN)/xenshape-xenstore.7: $(SCHEMA) $(GEN_SCHEMA)
	@mkdir -p $(dir $@)
	$(AWK) -v mode=man -f $(GEN_SCHEMA) $(SCHEMA) > $@.tmp
	mv $@.tmp $@

.PHONY: all lib progs tests check check-xen demo bench-datapath bench-policy \
	bench-policy-bound bench-shaping clean distclean man
all: lib progs tests
lib: $(LIB_A) $(LIB_SO) $(LIB_PC)
progs: $(PROGS)
tests: $(TESTS)
man: $(MANPAGES)

# The default suite: every check binary, then the scripted end-to-end
# tests (crash test).  Timings are never asserted.
check: all
	tests/run-tests.sh $(TESTBIN)

# The demo draws its pictures with gnuplot (tools/scripts/report.sh).
demo: all
	tools/scripts/setup-deps.sh gnuplot-nox
	tools/scripts/demo.sh

# The daemon shaping a simulated host under domain churn for SOAK_SECONDS:
# no wrong frame, no descriptor leak, RSS growth bounded (tests/soak.sh).
SOAK_SECONDS ?= 60
.PHONY: soak
soak: all
	SOAK_SECONDS=$(SOAK_SECONDS) tests/soak.sh

# The real-Xen lane: a paging-enabled Xen 4.17 built from Debian's source
# package, booted under QEMU (TCG) with the daemon in Dom0.
check-xen: all
	tools/xen-lane/run.sh

bench-datapath: all
	$(BIN)/bench --datapath

# Consolidation, SLO and soaker scenarios on simulated hosts, each beside
# an unconstrained run (docs/bench-shaping.md).
bench-shaping: all
	$(BIN)/bench --shaping

# Every selection policy, both observation modes, every public trace.
bench-policy: all
	tools/scripts/bench-policy.sh

# How far the 1.15x OPT target lies below the best known policies
# (docs/page-selection.md, "On the 1.15 target").
bench-policy-bound: all
	tools/scripts/policy-bound.sh

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf config.mk config.h config.log config.status configure \
	    autom4te.cache config.h.in config.h.in~ aclocal.m4

# ---- install --------------------------------------------------------------
# `make install` (DESTDIR for a staging root, PREFIX from configure's
# --prefix): the library (shared with its SONAME links, static, header,
# pkg-config file), the daemon in sbin, the tools in bin, and the Dom0
# init files: the systemd unit, the sysv init script and
# /etc/default/xenshaped (kept if it exists: it is the operator's), and
# the man pages.
INSTALL ?= install
SYSTEMD_UNIT_DIR ?= /lib/systemd/system
INSTALL_TOOLS := $(filter-out xenshaped bench,$(TOOL_DIRS))

.PHONY: install
install: all man
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man7 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_UNIT_DIR) \
	    $(DESTDIR)/etc/init.d $(DESTDIR)/etc/default
	$(INSTALL) -m 644 $(LIB_SO) $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libxenshape.so.$(LIB_VERSION) \
	    $(DESTDIR)$(PREFIX)/lib/libxenshape.so.$(SONAME_MAJOR)
	ln -sf libxenshape.so.$(SONAME_MAJOR) $(DESTDIR)$(PREFIX)/lib/libxenshape.so
	$(INSTALL) -m 644 libxenshape/include/xenshape.h $(DESTDIR)$(PREFIX)/include/
	$(INSTALL) -m 644 $(LIB_PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	$(INSTALL) -m 755 $(BIN)/xenshaped $(DESTDIR)$(PREFIX)/sbin/
	$(INSTALL) -m 755 $(addprefix $(BIN)/,$(INSTALL_TOOLS)) \
	    $(DESTDIR)$(PREFIX)/bin/
	sed 's|/usr/sbin/xenshaped|$(PREFIX)/sbin/xenshaped|' \
	    tools/init/xenshaped.service > \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR)/xenshaped.service
	chmod 644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/xenshaped.service
	sed 's|^DAEMON=/usr/sbin/xenshaped|DAEMON=$(PREFIX)/sbin/xenshaped|' \
	    tools/init/xenshaped.init > $(DESTDIR)/etc/init.d/xenshaped
	chmod 755 $(DESTDIR)/etc/init.d/xenshaped
	[ -e $(DESTDIR)/etc/default/xenshaped ] || $(INSTALL) -m 644 \
	    tools/init/xenshaped.default $(DESTDIR)/etc/default/xenshaped
	$(INSTALL) -m 644 $(MAN)/xenshape.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	$(INSTALL) -m 644 $(MAN)/xenshape-xenstore.7 \
	    $(DESTDIR)$(PREFIX)/share/man/man7/
	$(INSTALL) -m 644 $(MAN)/xenshaped.8 $(DESTDIR)$(PREFIX)/share/man/man8/

# check-deb: the Debian packages (debian/, dh over `make install`) built
# from a copy of the tree with dpkg-buildpackage and checked unpacked
# (tests/e2e-deb.sh).  Not part of `make check`: it needs dpkg-dev and
# debhelper (installed by setup-deps.sh) and rebuilds everything.
.PHONY: check-deb
check-deb:
	tests/e2e-deb.sh

# ---- sanitizers, valgrind and fuzzing ------------------------------------
# check-asan: everything built with ASan and UBSan (nothing recovers) into
# build/asan, then the default suite on it: the check binaries, and the
# e2e scripts with the ASan-built daemon and simulated host.  A report
# from any process, even one the scripts do not wait for, fails it.
# check-valgrind: the check binaries built plainly (-O1 -g) into build/vg,
# each run under memcheck in one process (CK_FORK=no), so that a leak is
# attributed to the test that made it.  fuzz: every tests/fuzz/fuzz_*.c
# built with clang's libFuzzer (and ASan and UBSan) into build/fuzz, each
# run for FUZZ_SECONDS; a tests/fuzz/seed_<name>.c, if there is one,
# writes generated seeds into tests/fuzz/<name>/ first.  A target links
# the library, and any objects its own rule adds (fuzz_cli_args: the
# xenshape command's).  The extra tools each needs are installed by
# setup-deps.sh only when it runs.
# These build directories remember the flags they were built with, so
# that other flags rebuild them rather than mix objects.
ASAN_BUILD := build/asan
VG_BUILD := build/vg
FUZZ_BUILD := build/fuzz
ASAN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
SEED_SRCS := $(wildcard tests/fuzz/seed_*.c)

.PHONY: check-asan check-valgrind fuzz fuzz-targets FORCE
check-asan:
	$(MAKE) BUILD=$(ASAN_BUILD) SAN="$(ASAN_SAN)" OPT="-O1 -g" all
	tests/run-asan.sh $(ASAN_BUILD)

check-valgrind:
	tools/scripts/setup-deps.sh valgrind
	$(MAKE) BUILD=$(VG_BUILD) OPT="-O1 -g" tests
	tests/run-valgrind.sh $(VG_BUILD)/tests

fuzz:
	tools/scripts/setup-deps.sh clang libclang-rt-14-dev
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang CONFIG_WERROR=n OPT="-O1 -g" \
	    SAN="$(ASAN_SAN) -fsanitize=fuzzer-no-link" fuzz-targets
	tests/fuzz/run-fuzz.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

# Only meaningful inside the fuzz build (SAN with fuzzer-no-link).
fuzz-targets: $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS) \
	$(SEED_SRCS))
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(filter %.o,$^) \
	    $(LIB_A) $(LDLIBS_LIB)
# fuzz_cli_args runs the xenshape command's own parsing: every object of
# the command but main.o (libFuzzer brings main()).
$(BUILD)/fuzz/fuzz_cli_args: $(patsubst %.c,$(OBJ)/%.o,\
	$(filter-out tools/xenshape/main.c,$(wildcard tools/xenshape/*.c)))
$(BUILD)/fuzz/seed_%: tests/fuzz/seed_%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDLIBS_LIB)

ifneq ($(filter $(ASAN_BUILD) $(VG_BUILD) $(FUZZ_BUILD),$(BUILD)),)
# BASE_CFLAGS, not CFLAGS_ALL: a prerequisite inherits the target-specific
# CFLAGS of whichever object asks for it first.
FLAGS_STAMP := $(BUILD)/flags.stamp
$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(CC) $(BASE_CFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(BASE_CFLAGS)' > $@
$(LIB_OBJS) $(TEST_COMMON_OBJS) $(patsubst %.c,$(OBJ)/%.o,$(TEST_SRCS)) \
$(patsubst %.c,$(OBJ)/%.o,$(wildcard tools/*/*.c)): $(FLAGS_STAMP)
endif
# ---- end of the sanitizers, valgrind and fuzzing block -------------------

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# Local variables:
# mode: makefile
# End:
