# tests/fuzz/fuzz.mk: libFuzzer targets (make fuzz) and the ThreadSanitizer
# run (make check-tsan).  Both build with Debian's clang in their own
# build directories, so they never mix with build/ or build-asan/.
#
#   make fuzz [FUZZ_TIME=60] [FUZZ_TARGETS="wire alert"]
#       builds build-fuzz/fuzz/<target> with ASan+UBSan+libFuzzer and runs
#       each for FUZZ_TIME seconds on a copy of tests/fuzz/corpus/<target>/
#       (new inputs go to build-fuzz/corpus/, crashes to build-fuzz/crashes/);
#       prints one line per target with its execution count; fails on the
#       first crash, leak or sanitizer report.
#   make check-tsan
#       builds the tree with -fsanitize=thread into build-tsan/ and runs the
#       threaded parts: the unit tests in TSAN_UNIT and the integration
#       tests in TSAN_INTEG (bot loop + RPC threads + lanes, queue, worker
#       runtime).  A race report fails the test (halt_on_error).

FUZZ_TARGETS ?= wire alert slack discord httpd config csv template
FUZZ_TIME ?= 60

ifeq ($(FUZZ),1)
CFLAGS += -fsanitize=fuzzer-no-link
endif
ifeq ($(TSAN),1)
CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=thread
LDFLAGS += -fsanitize=thread
endif

# libFuzzer supplies main(); every target links with the top Makefile's link.
$(B)/fuzz/%: LDFLAGS += -fsanitize=fuzzer
FUZZ_OBJ = $(B)/tests/fuzz/fuzz_$*.o
ALL_OBJS += $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%.o)

$(B)/fuzz/wire $(B)/fuzz/config $(B)/fuzz/template: $(B)/fuzz/%: $(B)/tests/fuzz/fuzz_%.o $(LIB_A)
	$(call link)
$(B)/fuzz/alert: $(B)/tests/fuzz/fuzz_alert.o $(B)/bot/alert.o $(LIB_A)
	$(call link)
$(B)/fuzz/slack: $(B)/tests/fuzz/fuzz_slack.o $(B)/bot/form.o $(B)/bot/command.o \
		$(B)/bot/step.o $(B)/bot/slack_sig.o $(LIB_A)
	$(call link)
$(B)/fuzz/discord: $(B)/tests/fuzz/fuzz_discord.o $(B)/bot/command.o $(B)/bot/step.o \
		$(B)/bot/discord_sig.o $(B)/bot/discord_rest.o \
		$(B)/bot/discord_gw.o $(B)/bot/chatstats.o $(LIB_A)
	$(call link,$(LIBS_LWS))
$(B)/fuzz/httpd: $(B)/tests/fuzz/fuzz_httpd.o $(LIB_A)
	$(call link,$(LIBS_LWS))
$(B)/fuzz/csv: $(B)/tests/fuzz/fuzz_csv.o $(B)/workers/detect/csv.o $(LIB_A)
	$(call link)

.PHONY: fuzz fuzz-build fuzz-run check-tsan tsan-run
fuzz:
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang SAN=1 FUZZ=1 fuzz-run

fuzz-build: $(FUZZ_TARGETS:%=$(B)/fuzz/%)

fuzz-run: fuzz-build
	@B=$(B) FUZZ_TIME=$(FUZZ_TIME) bash tests/fuzz/run.sh $(FUZZ_TARGETS)

TSAN_UNIT := lib_worker lib_rpc lib_log queue_handle queue_store bot_state
TSAN_INTEG := tests/integration/bot_httpd.sh tests/integration/bot_http_hostile.sh \
	tests/integration/worker_stop.sh tests/integration/queue_lifecycle.sh \
	tests/integration/slack_declare.sh tests/integration/discord_e2e.sh \
	tests/integration/intake_alertmanager.sh

check-tsan:
	@$(MAKE) --no-print-directory B=build-tsan CC=clang TSAN=1 tsan-run

tsan-run: $$(PROGRAMS) $(TSAN_UNIT:%=$(B)/tests/%)
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(abspath tests/fuzz/tsan.supp) $(TSAN_OPTIONS)" \
		OPSBOT_BIN=$(abspath $(B)/bin) OPSBOT_BUILD=$(abspath $(B)) TEST_JOBS=$${TEST_JOBS:-3} \
		bash scripts/run-tests.sh $(TSAN_UNIT:%=$(B)/tests/%) $(TSAN_INTEG)
