# tests/tools/runtime.mk: test-worker, a worker for integration tests only.

PROGRAMS += $(B)/bin/test-worker
ALL_OBJS += $(B)/tests/tools/test_worker.o
$(B)/bin/test-worker: $(B)/tests/tools/test_worker.o $(LIB_A)
	$(call link)
