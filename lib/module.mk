# lib/module.mk: libopsbot.a, the code several processes share.
# Add a module by listing its .c here; its test goes beside it as <name>_test.c
# and is listed in LIB_TESTS.

LIB_SRCS := lib/mem.c lib/log.c lib/config.c lib/json.c lib/timeutil.c
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
LIB_A := $(B)/libopsbot.a
ALL_OBJS += $(LIB_OBJS)

# Every program links this and these system libraries; add more per program.
LIB_LDLIBS := $(LIBS_CJSON) $(LIBS_NNG) $(LIBS_M)

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

LIB_TESTS := config log json timeutil

# A cmocka test binary from lib/<name>_test.c.
$(B)/tests/lib_%: $(B)/lib/%_test.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS) $(LIBS_CMOCKA)
ALL_OBJS += $(LIB_TESTS:%=$(B)/lib/%_test.o)
UNIT_TESTS += $(LIB_TESTS:%=$(B)/tests/lib_%)
