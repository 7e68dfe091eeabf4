# lib/module.mk: libopsbot.a, the code several processes share.
# Every lib/<name>.c is part of the library; lib/<name>_test.c is its cmocka
# test, built as $(B)/tests/lib_<name>.  Nothing to list by hand.

LIB_SRCS := $(filter-out %_test.c,$(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
LIB_A := $(B)/libopsbot.a
ALL_OBJS += $(LIB_OBJS)

# Every program links the library and these; add more per program
# ($(LIBS_LWS), $(LIBS_SQLITE), $(LIBS_PANGO), $(LIBS_ESMTP)).
LIB_LDLIBS := $(LIBS_CJSON) $(LIBS_NNG) $(LIBS_CURL) $(LIBS_SSL) $(LIBS_M)

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

LIB_TESTS := $(patsubst lib/%_test.c,%,$(wildcard lib/*_test.c))

$(B)/tests/lib_%: $(B)/lib/%_test.o $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
ALL_OBJS += $(LIB_TESTS:%=$(B)/lib/%_test.o)
UNIT_TESTS += $(LIB_TESTS:%=$(B)/tests/lib_%)

# wsq.c and httpd.c use libwebsockets.
$(B)/tests/lib_wsq: $(B)/lib/wsq_test.o $(LIB_A)
	$(call link,$(LIBS_LWS) $(LIBS_CMOCKA))
$(B)/tests/lib_httpd: $(B)/lib/httpd_test.o $(LIB_A)
	$(call link,$(LIBS_LWS) $(LIBS_CMOCKA))
