# workers/exec/module.mk: opsbot-exec (run approved actions, verify them),
# its unit tests, integration tests and benchmark.

EXEC_CORE_OBJS := $(B)/workers/exec/run.o $(B)/workers/exec/exec.o
EXEC_OBJS := $(EXEC_CORE_OBJS) $(B)/workers/exec/main.o
ALL_OBJS += $(EXEC_OBJS)

PROGRAMS += $(B)/bin/opsbot-exec
$(B)/bin/opsbot-exec: $(EXEC_OBJS) $(LIB_A)
	$(call link)

$(B)/workers/exec/%.o: CFLAGS += -Iworkers/exec

# Unit tests: workers/exec/<name>_test.c -> $(B)/tests/exec_<name>.
EXEC_TESTS := $(patsubst workers/exec/%_test.c,%,$(wildcard workers/exec/*_test.c))
$(B)/tests/exec_%: $(B)/workers/exec/%_test.o $(EXEC_CORE_OBJS) $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
ALL_OBJS += $(EXEC_TESTS:%=$(B)/workers/exec/%_test.o)
UNIT_TESTS += $(EXEC_TESTS:%=$(B)/tests/exec_%)

# Integration tests: real queue, real opsbot-exec, real action processes.
INTEG_TESTS += tests/integration/exec_e2e.sh tests/integration/exec_crash.sh \
	tests/integration/exec_safety.sh tests/integration/exec_verify.sh \
	tests/integration/exec_catalog.sh tests/integration/exec_learn.sh

# The queue's ledger (queue/ledger.c) has its unit test beside it; it is
# built by queue/module.mk's pattern rule and listed here (exec owns it).
ALL_OBJS += $(B)/queue/ledger_test.o
UNIT_TESTS += $(B)/tests/queue_ledger

# Benchmark: make bench BENCH=exec (approve -> first step started; per-step overhead).
BENCHES += exec
ALL_OBJS += $(B)/workers/exec/bench.o
$(B)/bin/exec_bench: $(B)/workers/exec/bench.o $(LIB_A)
	$(call link)
.PHONY: bench-exec
bench-exec: $(B)/bin/opsbot-queue $(B)/bin/opsbot-exec $(B)/bin/test-worker $(B)/bin/wirecat \
	$(B)/bin/exec_bench
	@bash workers/exec/bench.sh $(B)
