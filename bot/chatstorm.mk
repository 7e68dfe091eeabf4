# bot/chatstorm.mk: the Slack outbox in a storm (issue 16): per-channel
# senders, new parents first, coalesced updates, batched replies.
INTEG_TESTS += tests/integration/slack_storm_first.sh tests/integration/slack_storm_coalesce.sh \
	tests/integration/slack_storm_channels.sh tests/integration/slack_storm_batch.sh

# Routing of new incidents to team channels ([slack]/[discord] route lines).
BOT_SRCS += bot/route.c
UNIT_TESTS += $(B)/tests/bot_route
ALL_OBJS += $(B)/bot/route_test.o
# Discord posts per channel: a 429 on one channel holds no other.
INTEG_TESTS += tests/integration/discord_storm_channels.sh
# Slack: routing to a team channel and the storm summary at Slack's limits.
INTEG_TESTS += tests/integration/slack_storm_summary.sh
