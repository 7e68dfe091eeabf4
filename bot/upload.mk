# bot/upload.mk: the summary-PDF upload into chat threads (bot/upload.c), part of opsbot-bot.
BOT_SRCS += bot/upload.c bot/discord_upload.c

# The PDF into a Discord thread end to end (fake-discord + queue + report + bot).
INTEG_TESTS += tests/integration/upload_discord.sh

# The multipart body, read back with fake-discord's strict reader.
$(B)/tests/bot_discord_upload: $(B)/bot/discord_upload_test.o $(B)/bot/discord_upload.o $(B)/bot/discord_rest.o \
		$(B)/bot/chatstats.o $(B)/tests/fakes/discord/dform.o $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
ALL_OBJS += $(B)/bot/discord_upload_test.o
UNIT_TESTS += $(B)/tests/bot_discord_upload

# Shared Discord rate limits: the REST client and the upload in one process
# against fake-discord (a probe program for that test only).
PROGRAMS += $(B)/bin/discord-share-probe
ALL_OBJS += $(B)/bot/discord_share_probe.o
$(B)/bin/discord-share-probe: $(B)/bot/discord_share_probe.o $(B)/bot/discord_rest.o \
		$(B)/bot/discord_upload.o $(B)/bot/chatstats.o $(LIB_A)
	$(call link)
INTEG_TESTS += tests/integration/discord_share_limits.sh
# Issue 12 leftover: change freezes are judged again at approval time.
INTEG_TESTS += tests/integration/approval_freeze.sh
