# tests/fakes/slack.mk: fake-slack, the local Slack stand-in (also the
# demo's workspace).  It shares lib/httpd.c with opsbot-bot.

FAKE_SLACK_SRCS := $(wildcard tests/fakes/slack/*.c)
FAKE_SLACK_OBJS := $(FAKE_SLACK_SRCS:%.c=$(B)/%.o) $(B)/bot/form.o
ALL_OBJS += $(FAKE_SLACK_SRCS:%.c=$(B)/%.o)
PROGRAMS += $(B)/bin/fake-slack

$(B)/bin/fake-slack: $(FAKE_SLACK_OBJS) $(LIB_A)
	$(call link,$(LIBS_LWS))

# fake-slack against Slack's documented behaviour (the points the official
# SDKs caught); the SDKs themselves run in tests/sdk.
INTEG_TESTS += tests/fakes/slack/fake_slack_test.sh
