# bot/runtime.mk: the master (opsbot) and the admin CLI (opsbotctl).

MASTER_SRCS := bot/master.c bot/daemons.c
MASTER_OBJS := $(MASTER_SRCS:%.c=$(B)/%.o)
PROGRAMS += $(B)/bin/opsbot
ALL_OBJS += $(MASTER_OBJS)

$(B)/bin/opsbot: $(MASTER_OBJS) $(LIB_A)
	$(call link)

$(B)/tests/bot_daemons: $(B)/bot/daemons_test.o $(B)/bot/daemons.o $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
UNIT_TESTS += $(B)/tests/bot_daemons
ALL_OBJS += $(B)/bot/daemons_test.o

CTL_OBJS := $(B)/bot/opsbotctl.o
PROGRAMS += $(B)/bin/opsbotctl
ALL_OBJS += $(CTL_OBJS)

$(B)/bin/opsbotctl: $(CTL_OBJS) $(LIB_A)
	$(call link)
