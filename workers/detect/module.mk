# workers/detect/module.mk: opsbot-detect, its unit tests and benchmarks.

DETECT_CORE := csv detector nab rca cli source analyze episode
DETECT_CORE_OBJS := $(DETECT_CORE:%=$(B)/workers/detect/%.o)
ALL_OBJS += $(DETECT_CORE_OBJS)

# job and watch: the worker modes (lib/worker.c).
DETECT_OBJS := $(DETECT_CORE_OBJS) $(B)/workers/detect/job.o $(B)/workers/detect/watch.o \
	$(B)/workers/detect/main.o
ALL_OBJS += $(DETECT_OBJS)

$(B)/bin/opsbot-detect: $(DETECT_OBJS) $(LIB_A)
	$(call link)
PROGRAMS += $(B)/bin/opsbot-detect

DETECT_DATASETS ?= $(abspath ../shared/datasets)

$(B)/bench/detect_nab: $(B)/workers/detect/bench/nab_bench.o $(DETECT_CORE_OBJS) $(LIB_A)
	$(call link)
ALL_OBJS += $(B)/workers/detect/bench/nab_bench.o

.PHONY: bench-nab
bench-nab: $(B)/bench/detect_nab
	@OPSBOT_NAB_CANDIDATES=$${OPSBOT_NAB_CANDIDATES-workers/detect/bench/nab_candidates.txt} $(B)/bench/detect_nab $(DETECT_DATASETS)/nab
BENCHES += nab

$(B)/workers/detect/%.o: CFLAGS += -Iworkers/detect

$(B)/bench/detect_rca: $(B)/workers/detect/bench/rca_bench.o $(DETECT_CORE_OBJS) $(LIB_A)
	$(call link)
ALL_OBJS += $(B)/workers/detect/bench/rca_bench.o

.PHONY: bench-rca
bench-rca: $(B)/bench/detect_rca
	@OPSBOT_RCA_CANDIDATES=$${OPSBOT_RCA_CANDIDATES-workers/detect/bench/rca_candidates.txt} $(B)/bench/detect_rca $(DETECT_DATASETS)
BENCHES += rca

# Unit tests: workers/detect/<name>_test.c -> $(B)/tests/detect_<name>.
DETECT_TESTS := $(patsubst workers/detect/%_test.c,%,$(wildcard workers/detect/*_test.c))
$(B)/tests/detect_%: $(B)/workers/detect/%_test.o $(DETECT_CORE_OBJS) $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
ALL_OBJS += $(DETECT_TESTS:%=$(B)/workers/detect/%_test.o)
UNIT_TESTS += $(DETECT_TESTS:%=$(B)/tests/detect_%)

INTEG_TESTS += tests/integration/detect_cli.sh tests/integration/detect_job.sh \
	tests/integration/detect_prometheus.sh tests/integration/detect_watch.sh

.PHONY: bench-score
bench-score: $(B)/bin/opsbot-detect
	@bash workers/detect/bench/score_speed.sh $(B)/bin
BENCHES += score
