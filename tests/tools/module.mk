# tests/tools/module.mk: helper programs for integration tests only.

TOOLS_OBJS := $(B)/tests/tools/test_worker.o
PROGRAMS += $(B)/bin/test-worker
ALL_OBJS += $(TOOLS_OBJS)

$(B)/bin/test-worker: $(B)/tests/tools/test_worker.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)
