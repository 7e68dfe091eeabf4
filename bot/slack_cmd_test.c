/*
 * slack_cmd_test.c: /incident parsing, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "slack.h"

static void test_parse_table(void **state)
{
	static const struct {
		const char *text;
		enum slack_cmd_kind kind;
		int64_t incident;
		const char *service, *severity, *summary, *err_has;
	} cases[] = {
	    {"", SLACK_CMD_HELP, 0, "", "", "", ""},
	    {"help", SLACK_CMD_HELP, 0, "", "", "", ""},
	    {"  HELP  ", SLACK_CMD_HELP, 0, "", "", "", ""},
	    {"list", SLACK_CMD_LIST, 0, "", "", "", ""},
	    {"list 3", SLACK_CMD_BAD, 0, "", "", "", "no arguments"},
	    {"status", SLACK_CMD_STATUS, 0, "", "", "", ""},
	    {"status 12", SLACK_CMD_STATUS, 12, "", "", "", ""},
	    {"status #7", SLACK_CMD_STATUS, 7, "", "", "", ""},
	    {"status x", SLACK_CMD_BAD, 0, "", "", "", "incident number"},
	    {"declare checkout p99 latency over 2s", SLACK_CMD_DECLARE, 0, "checkout", "high",
	     "p99 latency over 2s", ""},
	    {"declare api sev=critical 500s everywhere  ", SLACK_CMD_DECLARE, 0, "api", "critical",
	     "500s everywhere", ""},
	    {"declare api sev=LOW slow", SLACK_CMD_DECLARE, 0, "api", "low", "slow", ""},
	    {"declare api sev=bad x", SLACK_CMD_BAD, 0, "", "", "", "severity"},
	    {"declare checkout", SLACK_CMD_BAD, 0, "", "", "", "summary"},
	    {"declare", SLACK_CMD_BAD, 0, "", "", "", "service name"},
	    {"declare <b>x</b> boom", SLACK_CMD_BAD, 0, "", "", "", "service name"},
	    {"resolve 4 rolled back", SLACK_CMD_RESOLVE, 4, "", "", "rolled back", ""},
	    {"resolve #4", SLACK_CMD_RESOLVE, 4, "", "", "", ""},
	    {"resolve", SLACK_CMD_BAD, 0, "", "", "", "incident number"},
	    {"resolve 0", SLACK_CMD_BAD, 0, "", "", "", "incident number"},
	    {"resolve 99999999999999999999", SLACK_CMD_BAD, 0, "", "", "", "incident number"},
	    {"pause 3", SLACK_CMD_PAUSE, 3, "", "", "", ""},
	    {"pause 3 now", SLACK_CMD_BAD, 0, "", "", "", "only an incident number"},
	    {"resume 3", SLACK_CMD_RESUME, 3, "", "", "", ""},
	    {"reboot everything", SLACK_CMD_BAD, 0, "", "", "", "reboot"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct slack_cmd c;
		slack_cmd_parse(cases[i].text, &c);
		if (c.kind != cases[i].kind)
			fail_msg("'%s': kind got %d (%s), want %d", cases[i].text, c.kind, c.err,
			         cases[i].kind);
		if (c.kind == SLACK_CMD_BAD) {
			if (!strstr(c.err, cases[i].err_has))
				fail_msg("'%s': err got '%s', want it to mention '%s'",
				         cases[i].text, c.err, cases[i].err_has);
			continue;
		}
		if (c.incident != cases[i].incident)
			fail_msg("'%s': incident got %lld, want %lld", cases[i].text,
			         (long long)c.incident, (long long)cases[i].incident);
		if (c.kind == SLACK_CMD_DECLARE &&
		    (strcmp(c.service, cases[i].service) || strcmp(c.severity, cases[i].severity)))
			fail_msg("'%s': service/severity got %s/%s, want %s/%s", cases[i].text,
			         c.service, c.severity, cases[i].service, cases[i].severity);
		if ((c.kind == SLACK_CMD_DECLARE || c.kind == SLACK_CMD_RESOLVE) &&
		    strcmp(c.text, cases[i].summary))
			fail_msg("'%s': text got '%s', want '%s'", cases[i].text, c.text,
			         cases[i].summary);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
