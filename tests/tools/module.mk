# tests/tools/module.mk: helper programs for integration tests only.

TOOLS_OBJS := $(B)/tests/tools/test_worker.o
PROGRAMS += $(B)/bin/test-worker
ALL_OBJS += $(TOOLS_OBJS)

$(B)/bin/test-worker: $(B)/tests/tools/test_worker.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)

PROGRAMS += $(B)/bin/test-rpc
ALL_OBJS += $(B)/tests/tools/test_rpc.o
$(B)/bin/test-rpc: $(B)/tests/tools/test_rpc.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)
