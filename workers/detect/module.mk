# workers/detect/module.mk: opsbot-detect, its unit tests and benchmarks.

DETECT_CORE := csv detector nab rca cli source analyze episode
DETECT_CORE_OBJS := $(DETECT_CORE:%=$(B)/workers/detect/%.o)
ALL_OBJS += $(DETECT_CORE_OBJS)

# The worker loop (lib/worker.c) comes from the runtime branch; until it is in
# the tree opsbot-detect is built with its command-line modes only.
ifneq ($(wildcard lib/worker.c),)
DETECT_WORKER := job watch
else
DETECT_WORKER :=
$(B)/workers/detect/main.o: CFLAGS += -DDETECT_NO_WORKER
endif
DETECT_OBJS := $(DETECT_CORE_OBJS) $(DETECT_WORKER:%=$(B)/workers/detect/%.o) \
	$(B)/workers/detect/main.o
ALL_OBJS += $(DETECT_OBJS)

$(B)/bin/opsbot-detect: $(DETECT_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)
PROGRAMS += $(B)/bin/opsbot-detect

DETECT_DATASETS ?= $(abspath ../shared/datasets)

$(B)/bench/detect_nab: $(B)/workers/detect/bench/nab_bench.o $(DETECT_CORE_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)
ALL_OBJS += $(B)/workers/detect/bench/nab_bench.o

.PHONY: bench-nab
bench-nab: $(B)/bench/detect_nab
	@OPSBOT_NAB_CANDIDATES=$${OPSBOT_NAB_CANDIDATES-workers/detect/bench/nab_candidates.txt} $(B)/bench/detect_nab $(DETECT_DATASETS)/nab
BENCHES += nab

$(B)/workers/detect/%.o: CFLAGS += -Iworkers/detect

$(B)/bench/detect_rca: $(B)/workers/detect/bench/rca_bench.o $(DETECT_CORE_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)
ALL_OBJS += $(B)/workers/detect/bench/rca_bench.o

.PHONY: bench-rca
bench-rca: $(B)/bench/detect_rca
	@OPSBOT_RCA_CANDIDATES=$${OPSBOT_RCA_CANDIDATES-workers/detect/bench/rca_candidates.txt} $(B)/bench/detect_rca $(DETECT_DATASETS)
BENCHES += rca

# Unit tests: workers/detect/<name>_test.c -> $(B)/tests/detect_<name>.
DETECT_TESTS := $(patsubst workers/detect/%_test.c,%,$(wildcard workers/detect/*_test.c))
$(B)/tests/detect_%: $(B)/workers/detect/%_test.o $(DETECT_CORE_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS) $(LIBS_CMOCKA)
ALL_OBJS += $(DETECT_TESTS:%=$(B)/workers/detect/%_test.o)
UNIT_TESTS += $(DETECT_TESTS:%=$(B)/tests/detect_%)

INTEG_TESTS += tests/integration/detect_cli.sh tests/integration/detect_job.sh \
	tests/integration/detect_prometheus.sh tests/integration/detect_watch.sh

.PHONY: bench-score
bench-score: $(B)/bin/opsbot-detect
	@bash workers/detect/bench/score_speed.sh $(B)/bin
BENCHES += score
