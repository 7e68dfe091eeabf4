# queue/module.mk: opsbot-queue, its unit tests, and the queue benchmark.

# One source a line, so parallel additions merge cleanly.
QUEUE_CORE := \
	queue/handle.c \
	queue/store.c \
	queue/state.c \
	queue/migrate.c \
	queue/group.c \
	queue/retention.c \
	queue/outbox.c \
	queue/ledger.c
QUEUE_CORE_OBJS := $(QUEUE_CORE:%.c=$(B)/%.o)
QUEUE_OBJS := $(B)/queue/main.o $(QUEUE_CORE_OBJS)
ALL_OBJS += $(QUEUE_OBJS)

PROGRAMS += $(B)/bin/opsbot-queue
$(B)/bin/opsbot-queue: $(QUEUE_OBJS) $(LIB_A)
	$(call link,$(LIBS_SQLITE))

# Unit tests: the state machine alone, the store on a real file, and the
# handlers (transitions applied to a real store, invariants checked).
QUEUE_TESTS := state store handle
ALL_OBJS += $(QUEUE_TESTS:%=$(B)/queue/%_test.o)
UNIT_TESTS += $(QUEUE_TESTS:%=$(B)/tests/queue_%)
$(B)/tests/queue_%: $(B)/queue/%_test.o $(QUEUE_CORE_OBJS) $(LIB_A)
	$(call link,$(LIBS_SQLITE) $(LIBS_CMOCKA))

# Integration tests: real processes in a temporary directory.
INTEG_TESTS += tests/integration/queue_lifecycle.sh tests/integration/queue_lease.sh \
	tests/integration/queue_crash.sh tests/integration/queue_replay.sh \
	tests/integration/queue_contexts.sh tests/integration/storm_grouping.sh
INTEG_TESTS += tests/integration/queue_batch_crash.sh

# Benchmark: make bench BENCH=queue (see queue/bench.c for what it measures).
BENCHES += queue
ALL_OBJS += $(B)/queue/bench.o
$(B)/bench/queue_bench: $(B)/queue/bench.o $(LIB_A)
	$(call link,$(LIBS_SQLITE))
# The same workload against Redis (hiredis; scripts/deps.sh bench installs
# redis-server and libhiredis-dev).  Built only for the bench, and only when
# hiredis is there: bench.sh then reports no ratio.
HAVE_HIREDIS := $(shell test -f /usr/include/hiredis/hiredis.h && echo 1)
ALL_OBJS += $(B)/queue/redis_bench.o
$(B)/bench/redis_bench: $(B)/queue/redis_bench.o $(LIB_A)
	$(call link,-lhiredis -lpthread)
.PHONY: bench-queue
bench-queue: $(B)/bin/opsbot-queue $(B)/bench/queue_bench $(B)/bin/wirecat \
		$(if $(HAVE_HIREDIS),$(B)/bench/redis_bench)
	@bash queue/bench.sh $(B)
