# bot/chatstorm.mk: the Slack outbox in a storm (issue 16): per-channel
# senders, new parents first, coalesced updates, batched replies.
INTEG_TESTS += tests/integration/slack_storm_first.sh tests/integration/slack_storm_coalesce.sh \
	tests/integration/slack_storm_channels.sh tests/integration/slack_storm_batch.sh
