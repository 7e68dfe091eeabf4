# bot/discord.mk: the Discord surface of opsbot-bot (Gateway + REST + HTTP
# interactions) and its unit tests.

BOT_SRCS += bot/discord_sig.c

$(B)/tests/discord_sig_test: $(B)/bot/discord_sig_test.o $(B)/bot/discord_sig.o $(LIB_A)
	$(call link,$(LIBS_CMOCKA))

UNIT_TESTS += $(B)/tests/discord_sig_test
ALL_OBJS += $(B)/bot/discord_sig_test.o

BOT_SRCS += bot/discord.c bot/discord_in.c bot/discord_post.c bot/discord_render.c bot/discord_gw.c \
	bot/discord_rest.c

INTEG_TESTS += tests/integration/discord_e2e.sh
INTEG_TESTS += tests/integration/discord_faults.sh
INTEG_TESTS += tests/integration/discord_http.sh

$(B)/tests/discord_rest_test: $(B)/bot/discord_rest_test.o $(B)/bot/discord_rest.o \
		$(B)/bot/discord_gw.o $(LIB_A)
	$(call link,$(LIBS_LWS) $(LIBS_CMOCKA) -lpthread)
UNIT_TESTS += $(B)/tests/discord_rest_test
ALL_OBJS += $(B)/bot/discord_rest_test.o

BENCHES += chat_discord
.PHONY: bench-chat_discord
bench-chat_discord: $(B)/bin/fake-discord $(B)/bin/dbench $(B)/bin/opsbot-bot $(B)/bin/opsbot-queue
	@OPSBOT_BIN=$(abspath $(B)/bin) bash bot/discord_bench.sh
INTEG_TESTS += tests/integration/discord_restart.sh
INTEG_TESTS += tests/integration/discord_approval.sh tests/integration/discord_crash_window.sh

$(B)/tests/discord_render_test: $(B)/bot/discord_render_test.o $(B)/bot/discord_render.o \
		$(B)/bot/step.o $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
UNIT_TESTS += $(B)/tests/discord_render_test
ALL_OBJS += $(B)/bot/discord_render_test.o
