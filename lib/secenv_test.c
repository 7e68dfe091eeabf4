/* secenv_test.c: each daemon sees only its own secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secenv.h"

static int has(char **env, const char *entry)
{
	for (size_t i = 0; env[i]; i++)
		if (strcmp(env[i], entry) == 0)
			return 1;
	return 0;
}

static void test_table(void **state)
{
	(void)state;
	char *env[] = {"PATH=/usr/bin",
	               "SLACK_BOT_TOKEN=xoxb-1",
	               "DISCORD_BOT_TOKEN=d",
	               "OPSBOT_LLM_API_KEY=k",
	               "OPSBOT_SMTP_PASSWORD=p",
	               "OPSBOT_LOG_LEVEL=info",
	               "SLACK_BOT_TOKENX=not-a-secret",
	               NULL};
	char **bot = secenv_for("/opt/opsbot/bin/opsbot-bot", env);
	assert_true(has(bot, "SLACK_BOT_TOKEN=xoxb-1") && has(bot, "DISCORD_BOT_TOKEN=d"));
	assert_false(has(bot, "OPSBOT_LLM_API_KEY=k") || has(bot, "OPSBOT_SMTP_PASSWORD=p"));
	assert_true(has(bot, "PATH=/usr/bin") && has(bot, "OPSBOT_LOG_LEVEL=info"));
	free(bot);
	char **plan = secenv_for("opsbot-plan", env);
	assert_true(has(plan, "OPSBOT_LLM_API_KEY=k"));
	assert_false(has(plan, "SLACK_BOT_TOKEN=xoxb-1") || has(plan, "DISCORD_BOT_TOKEN=d"));
	free(plan);
	char **q = secenv_for("/x/opsbot-queue", env);
	for (size_t i = 0; q[i]; i++)
		assert_true(strstr(q[i], "TOKEN=") == NULL || strstr(q[i], "TOKENX=") != NULL);
	assert_false(has(q, "OPSBOT_LLM_API_KEY=k") || has(q, "OPSBOT_SMTP_PASSWORD=p"));
	assert_true(has(q, "SLACK_BOT_TOKENX=not-a-secret"));
	free(q);
	/* A program named like a daemon in another folder is still told by its file name. */
	assert_false(secenv_allowed("/tmp/opsbot-bot/evil", "SLACK_BOT_TOKEN"));
	assert_true(secenv_allowed("/x/opsbot-report", "OPSBOT_SMTP_PASSWORD"));
	assert_false(secenv_allowed("/x/opsbot-exec", "OPSBOT_SMTP_PASSWORD"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_table)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
