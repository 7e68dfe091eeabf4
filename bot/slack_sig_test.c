/*
 * slack_sig_test.c: v0 signature checks against Slack's published worked
 * example (reference/slack/http_mode/signing_test_vector.slash_command.json)
 * and the ways a request must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "slack_sig.h"

#define SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define TS     "1531420618"
#define BODY                                                                                       \
	"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="     \
	"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-" \
	"collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"         \
	"2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."           \
	"803a0bc887a14d10d2c447fce8b6703c"
#define SIG "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

static void test_compute_vector(void **state)
{
	char got[80];
	(void)state;
	assert_int_equal(slack_sig_compute(SECRET, TS, BODY, strlen(BODY), got, sizeof got), 0);
	if (strcmp(got, SIG) != 0)
		fail_msg("signature: got %s, want %s", got, SIG);
}

static void test_verify_table(void **state)
{
	static const struct {
		const char *name, *secret, *ts, *sig, *body;
		int64_t now;
		int want;
		const char *why; /* substring of the reason */
	} cases[] = {
	    {"valid", SECRET, TS, SIG, BODY, 1531420618, 0, ""},
	    {"valid 299 s later", SECRET, TS, SIG, BODY, 1531420618 + 299, 0, ""},
	    {"stale", SECRET, TS, SIG, BODY, 1531420618 + 301, -1, "window"},
	    {"future", SECRET, TS, SIG, BODY, 1531420618 - 301, -1, "window"},
	    {"body changed", SECRET, TS, SIG, BODY "x", 1531420618, -1, "mismatch"},
	    {"wrong secret", "other", TS, SIG, BODY, 1531420618, -1, "mismatch"},
	    {"sig truncated", SECRET, TS, "v0=a2114d57", BODY, 1531420618, -1, "mismatch"},
	    {"v1 prefix", SECRET, TS,
	     "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", BODY,
	     1531420618, -1, "mismatch"},
	    {"no ts", SECRET, "", SIG, BODY, 1531420618, -1, "missing"},
	    {"ts not a number", SECRET, "15314x", SIG, BODY, 1531420618, -1, "number"},
	    {"no secret", "", TS, SIG, BODY, 1531420618, -1, "secret"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[128] = "";
		int got =
		    slack_sig_verify(cases[i].secret, cases[i].ts, cases[i].sig, cases[i].body,
		                     strlen(cases[i].body), cases[i].now, err, sizeof err);
		if (got != cases[i].want)
			fail_msg("%s: got %d (%s), want %d", cases[i].name, got, err,
			         cases[i].want);
		if (!strstr(err, cases[i].why))
			fail_msg("%s: reason got '%s', want it to mention '%s'", cases[i].name, err,
			         cases[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compute_vector),
	    cmocka_unit_test(test_verify_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
