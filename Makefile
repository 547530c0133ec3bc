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
CFLAGS_ALL = $(BASE_CFLAGS) $(CFLAGS)
LDLIBS_LIB := $(URING_LIBS) $(XXHASH_LIBS) $(XENTOOLLOG_LIBS) -lpthread -lm
ifeq ($(CONFIG_XEN),y)
LDLIBS_LIB += $(XEN_LIBS)
endif

# ---- libxenshape -------------------------------------------------------
LIB_SRCS := $(wildcard libxenshape/*.c libxenshape/*/*.c)
ifneq ($(CONFIG_XEN),y)
LIB_SRCS := $(filter-out libxenshape/hv/hv_xen.c,$(LIB_SRCS))
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
	$(CC) $(SAN) -shared -Wl,-soname,libxenshape.so.$(SONAME_MAJOR) \
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

define tool_rule
$(BIN)/$(1): $(patsubst %.c,$(OBJ)/%.o,$(wildcard tools/$(1)/*.c)) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(SAN) -pthread -o $$@ $$^ $$(LDLIBS_LIB)
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call tool_rule,$(t))))

# ---- tests: tests/check_<module>.c, each its own binary -----------------
TEST_SRCS := $(wildcard tests/check_*.c)
TEST_COMMON := $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))
TEST_COMMON_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(TEST_COMMON))
TESTS := $(patsubst tests/%.c,$(TESTBIN)/%,$(TEST_SRCS))

$(OBJ)/tests/%.o: CFLAGS += $(CHECK_CFLAGS)
$(TESTBIN)/%: $(OBJ)/tests/%.o $(TEST_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -pthread -o $@ $^ $(CHECK_LIBS) $(LDLIBS_LIB)

.PHONY: all lib progs tests check check-xen demo bench-datapath bench-policy \
	clean distclean
all: lib progs tests
lib: $(LIB_A) $(LIB_SO) $(LIB_PC)
progs: $(PROGS)
tests: $(TESTS)

# The default suite: every check binary, then the scripted end-to-end
# tests (crash test).  Timings are never asserted.
check: all
	tests/run-tests.sh $(TESTBIN)

demo: all
	tools/scripts/demo.sh

# The real-Xen lane: a paging-enabled Xen 4.17 built from Debian's source
# package, booted under QEMU (TCG) with the daemon in Dom0.
check-xen: all
	tools/xen-lane/run.sh

bench-datapath: all
	$(BIN)/bench --datapath

# Every selection policy, both observation modes, every public trace.
bench-policy: all
	tools/scripts/bench-policy.sh

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf config.mk config.h config.log config.status configure \
	    autom4te.cache config.h.in config.h.in~ aclocal.m4

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# Local variables:
# mode: makefile
# End:
