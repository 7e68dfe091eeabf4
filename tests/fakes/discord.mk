# tests/fakes/discord.mk: fake-discord, the local Discord stand-in, and the
# small clients its tests and the chat_discord bench drive.

FAKE_DISCORD_LIB_SRCS := tests/fakes/discord/dstate.c tests/fakes/discord/dgw.c \
	tests/fakes/discord/dform.c \
	tests/fakes/discord/drest.c
FAKE_DISCORD_LIB_OBJS := $(FAKE_DISCORD_LIB_SRCS:%.c=$(B)/%.o)
FAKE_DISCORD_OBJS := $(FAKE_DISCORD_LIB_OBJS) $(B)/tests/fakes/discord/main.o

$(B)/bin/fake-discord: $(FAKE_DISCORD_OBJS) $(LIB_A)
	$(call link,$(LIBS_LWS))

$(B)/tests/fake_discord_test: $(B)/tests/fakes/discord/fake_discord_test.o \
		$(FAKE_DISCORD_LIB_OBJS) $(LIB_A)
	$(call link,$(LIBS_LWS) $(LIBS_CMOCKA))

PROGRAMS += $(B)/bin/fake-discord
UNIT_TESTS += $(B)/tests/fake_discord_test
INTEG_TESTS += tests/fakes/discord/fake_discord_test.sh
ALL_OBJS += $(FAKE_DISCORD_OBJS) $(B)/tests/fakes/discord/fake_discord_test.o

# gwprobe: a line-oriented websocket client the fake's integration test drives.
$(B)/bin/gwprobe: $(B)/tests/fakes/discord/gwprobe.o $(LIB_A)
	$(call link,$(LIBS_LWS))
PROGRAMS += $(B)/bin/gwprobe
ALL_OBJS += $(B)/tests/fakes/discord/gwprobe.o

# dbench: the chat_discord benchmark's driver (bot/discord_bench.sh).
$(B)/bin/dbench: $(B)/tests/fakes/discord/dbench.o $(LIB_A)
	$(call link)
PROGRAMS += $(B)/bin/dbench
ALL_OBJS += $(B)/tests/fakes/discord/dbench.o

# The bot's Gateway client when resume_gateway_url is unreachable (issue 11):
# uses fake-discord's resume_url control.
INTEG_TESTS += tests/integration/discord_resume_fallback.sh
