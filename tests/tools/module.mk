# tests/tools/module.mk: small programs the tests share.
#   wirecat: send one wire request to a URL and print the reply (or print events).

PROGRAMS += $(B)/bin/wirecat
ALL_OBJS += $(B)/tests/tools/wirecat.o
$(B)/bin/wirecat: $(B)/tests/tools/wirecat.o $(LIB_A)
	$(call link)
