/* log_test.c: redaction of secrets and tokens, and value quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void test_redact(void **state)
{
	(void)state;
	log_add_secret("hunter2-password");
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"token=xoxb-1234-5678-abcdefgh ok", "token=[redacted] ok"},
	    {"app xapp-1-A111-222-ffff end", "app [redacted] end"},
	    {"Authorization: Bot MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XV",
	     "Authorization: Bot [redacted]"},
	    {"Authorization: Bearer sk-abcdefghijklmnop", "Authorization: Bearer [redacted]"},
	    {"pw=hunter2-password!", "pw=[redacted]!"},
	    {"nothing secret here", "nothing secret here"},
	    {"Bot ok", "Bot ok"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		log_redact(buf);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i, buf, cases[i].want);
	}
}

static void test_quote(void **state)
{
	(void)state;
	assert_string_equal(log_q("a b"), "\"a b\"");
	assert_string_equal(log_q("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
	assert_string_equal(log_q(NULL), "\"\"");
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *q = log_q(big);
	assert_true(strlen(q) < 215);
	assert_non_null(strstr(q, "...\""));
}

static void test_levels(void **state)
{
	(void)state;
	enum log_level l;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("loud", &l), -1);
}

int main(void)
{
	log_init("log_test");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redact),
	    cmocka_unit_test(test_quote),
	    cmocka_unit_test(test_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
