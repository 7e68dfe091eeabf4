# bot/approvalui.mk: end-to-end tests of the click side of approvals
# (cross-incident clicks, answering "step N may or may not have run").
INTEG_TESTS += tests/integration/approvalui_slack.sh
INTEG_TESTS += tests/integration/approvalui_exec_slack.sh
INTEG_TESTS += tests/integration/approvalui_discord.sh
INTEG_TESTS += tests/integration/approvalui_exec_discord.sh
