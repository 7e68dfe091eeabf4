# Makefile: the one build for opsbot (non-recursive).
#
# Each folder adds its sources, programs, tests and benchmarks in a module.mk
# fragment included below; -MMD -MP keeps header dependencies exact, so a
# change to lib/wire.h rebuilds exactly what includes it and make -j works
# across folders.
#
# Public targets (they install missing Debian packages first):
#   make            build everything into $(B)/
#   make test       build, then run every unit, integration and e2e test
#   make check-asan the same suite under AddressSanitizer + UBSan (build-asan/)
#   make demo       play one incident end to end on the local stand-ins
#   make bench      run every benchmark (BENCH=name runs one)
#   make lint       clang-format check and banned-function check
#   make fuzz       libFuzzer targets, FUZZ_TIME seconds each (tests/fuzz/fuzz.mk)
#   make check-tsan the threaded parts under ThreadSanitizer (build-tsan/)

PUBLIC_TARGETS := all test check-asan check-tsan fuzz demo bench lint

ifndef OPSBOT_INNER
.PHONY: $(PUBLIC_TARGETS) clean
$(PUBLIC_TARGETS):
	@bash scripts/deps.sh $(if $(filter bench,$@),bench)
	@$(MAKE) --no-print-directory OPSBOT_INNER=1 $@
clean:
	rm -rf build build-asan build-tsan build-fuzz build-clang
# Any other target (make unit, make build/bin/opsbot-queue, make bench-queue)
# goes straight to the build graph, without the package check.
.DEFAULT:
	@$(MAKE) --no-print-directory OPSBOT_INNER=1 $@
else

B ?= build
SAN ?=
CC ?= cc
Q ?= @

CFLAGS := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -g -O2 -MMD -MP -I. -Ilib
LDFLAGS :=
ifeq ($(SAN),1)
CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Libraries, found once per make run (packages are installed before this runs).
PC_CFLAGS := $(shell pkg-config --cflags libwebsockets libcurl sqlite3 pangocairo cmocka 2>/dev/null)
CFLAGS += $(PC_CFLAGS)
LIBS_CJSON := -lcjson
LIBS_NNG := -lnng -lpthread
LIBS_SQLITE := $(shell pkg-config --libs sqlite3)
LIBS_CURL := $(shell pkg-config --libs libcurl)
LIBS_LWS := $(shell pkg-config --libs libwebsockets)
LIBS_ESMTP := $(shell pkg-config --libs libesmtp-1.0 2>/dev/null || echo -lesmtp)
LIBS_PANGO := $(shell pkg-config --libs pangocairo)
LIBS_SSL := -lcrypto
LIBS_CMOCKA := $(shell pkg-config --libs cmocka)
LIBS_M := -lm

# The one link recipe.  A rule names what it links as prerequisites (objects,
# then $(LIB_A)) and only the libraries beyond $(LIB_LDLIBS):
#     $(B)/bin/x: $(X_OBJS) $(LIB_A)
#     	$(call link,$(LIBS_SQLITE))
# The library goes last even when other fragments add prerequisites later.
define link
@mkdir -p $(@D)
$(Q)$(CC) $(LDFLAGS) -o $@ $(filter-out $(LIB_A),$^) $(LIB_A) $(LIB_LDLIBS) $(1)
endef

# Filled by the module.mk fragments.
PROGRAMS :=      # $(B)/bin/<name>
UNIT_TESTS :=    # $(B)/tests/<name>: cmocka binaries
INTEG_TESTS :=   # scripts run by scripts/run-tests.sh, in order
BENCHES :=       # names: make bench-<name> prints one JSON line
ALL_OBJS :=

all: programs
programs:

# Fragments: lib first, then every other *.mk one or two folders down, so a
# new module is a new file and parallel work never edits the same list.
# Program link rules may name objects added by later fragments: write
# prerequisites as $$(VAR) (second expansion happens after all are read).
.SECONDEXPANSION:
include lib/module.mk
include $(sort $(filter-out lib/module.mk,$(wildcard */*.mk */*/*.mk */*/*/*.mk)))

programs: $(PROGRAMS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

.PHONY: all programs test check-asan demo bench lint unit

unit: $(UNIT_TESTS)

# A sanitizer build is about twice as heavy: fewer tests at a time.
test: $(PROGRAMS) $(UNIT_TESTS)
	@OPSBOT_BIN=$(abspath $(B)/bin) OPSBOT_BUILD=$(abspath $(B)) \
		TEST_JOBS=$${TEST_JOBS:-$(if $(SAN),4,8)} \
		bash scripts/run-tests.sh $(UNIT_TESTS) $(INTEG_TESTS)

check-asan:
	@$(MAKE) --no-print-directory B=build-asan SAN=1 test

demo: $(PROGRAMS)
	@OPSBOT_BIN=$(abspath $(B)/bin) bash scripts/demo.sh

BENCH ?= $(BENCHES)
bench: $(PROGRAMS) $(addprefix bench-,$(BENCH))

lint:
	@bash scripts/lint.sh

.SECONDARY:

-include $(ALL_OBJS:.o=.d)

endif
