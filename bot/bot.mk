# bot/bot.mk: opsbot-bot, the chat front-ends and HTTP intake.
#
# Other fragments add their sources with `BOT_SRCS += bot/discord.c`; the
# link rule reads $$(BOT_OBJS) after every fragment is in.

BOT_SRCS += bot/main.c bot/bot.c bot/state.c bot/form.c \
	bot/slack.c bot/slack_in.c bot/slack_web.c bot/slack_socket.c bot/slack_render.c bot/slack_sig.c \
	bot/chatstats.c bot/lane.c bot/step.c bot/command.c bot/inbox.c
BOT_OBJS = $(BOT_SRCS:%.c=$(B)/%.o)
ALL_OBJS += $(BOT_SRCS:%.c=$(B)/%.o)  # others add their own objects too

PROGRAMS += $(B)/bin/opsbot-bot

$(B)/bin/opsbot-bot: $$(BOT_OBJS) $(LIB_A)
	$(call link,$(LIBS_LWS) $(LIBS_SQLITE) -lpthread)

INTEG_TESTS += tests/integration/bot_httpd.sh

# Unit tests of bot modules: bot/<x>_test.c links bot/<x>.o and the library.
BOT_TESTS := slack_sig command slack_render state form chatstats step lane inbox
# the command parser clamps titles, the renderers render steps
$(B)/tests/bot_command: $(B)/bot/step.o
$(B)/tests/bot_slack_render: $(B)/bot/step.o

# discord_rest.c counts its calls (chatstats.h)
$(B)/tests/discord_rest_test: $(B)/bot/chatstats.o
$(B)/tests/bot_%: $(B)/bot/%_test.o $(B)/bot/%.o $(LIB_A)
	$(call link,$(LIBS_SQLITE) $(LIBS_CMOCKA))
ALL_OBJS += $(BOT_TESTS:%=$(B)/bot/%_test.o)
UNIT_TESTS += $(BOT_TESTS:%=$(B)/tests/bot_%)
INTEG_TESTS += tests/integration/fake_slack_api.sh tests/integration/slack_declare.sh tests/integration/slack_faults.sh \
	tests/integration/slack_restart.sh tests/integration/slack_crash_window.sh \
	tests/integration/slack_http.sh \
	tests/integration/slack_fatal.sh tests/integration/slack_commands.sh tests/integration/slack_approval.sh
# ack: a slash command's ack names only incidents the queue committed (SIGKILL mid-stream)
INTEG_TESTS += tests/integration/slack_ack_durable.sh

BENCHES += chat_slack
.PHONY: bench-chat_slack
bench-chat_slack: $(B)/bin/fake-slack $(B)/bin/opsbot-bot $(B)/bin/opsbot-queue
	@OPSBOT_BIN=$(abspath $(B)/bin) bash tests/bench/chat_slack.sh

# Header dependencies of every bot/ object, also those other fragments add to
# BOT_SRCS after this file was read.
-include $(wildcard $(B)/bot/*.d)
