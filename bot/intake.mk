# bot/intake.mk: opsbot-bot's HTTP intake (alert webhooks, /metrics).
BOT_SRCS += bot/intake.c bot/alert.c

$(B)/tests/bot_alert: $(B)/bot/alert_test.o $(B)/bot/alert.o $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
ALL_OBJS += $(B)/bot/alert_test.o
UNIT_TESTS += $(B)/tests/bot_alert
INTEG_TESTS += tests/integration/intake_alertmanager.sh tests/integration/bot_http_hostile.sh \
	tests/integration/bot_config_errors.sh tests/integration/intake_refire.sh \
	tests/integration/master_watchdog.sh tests/integration/attack_http.sh
