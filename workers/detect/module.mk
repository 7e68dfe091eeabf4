# workers/detect/module.mk: opsbot-detect, its unit tests and benchmarks.

DETECT_CORE := csv detector nab rca
DETECT_CORE_OBJS := $(DETECT_CORE:%=$(B)/workers/detect/%.o)
DETECT_OBJS := $(DETECT_CORE_OBJS)
ALL_OBJS += $(DETECT_CORE_OBJS)

DETECT_DATASETS ?= $(abspath ../shared/datasets)

$(B)/bench/detect_nab: $(B)/workers/detect/bench/nab_bench.o $(DETECT_CORE_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)
ALL_OBJS += $(B)/workers/detect/bench/nab_bench.o

.PHONY: bench-nab
bench-nab: $(B)/bench/detect_nab
	@$(B)/bench/detect_nab $(DETECT_DATASETS)/nab
BENCHES += nab

$(B)/workers/detect/%.o: CFLAGS += -Iworkers/detect

$(B)/bench/detect_rca: $(B)/workers/detect/bench/rca_bench.o $(DETECT_CORE_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)
ALL_OBJS += $(B)/workers/detect/bench/rca_bench.o

.PHONY: bench-rca
bench-rca: $(B)/bench/detect_rca
	@$(B)/bench/detect_rca $(DETECT_DATASETS)/rca-sockshop
BENCHES += rca
