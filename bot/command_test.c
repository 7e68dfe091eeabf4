/*
 * command_test.c: /incident parsing, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"

static void test_parse_table(void **state)
{
	static const struct {
		const char *text;
		enum cmd_kind kind;
		int64_t incident;
		const char *service, *severity, *summary, *err_has;
	} cases[] = {
	    {"", CMD_HELP, 0, "", "", "", ""},
	    {"help", CMD_HELP, 0, "", "", "", ""},
	    {"  HELP  ", CMD_HELP, 0, "", "", "", ""},
	    {"list", CMD_LIST, 0, "", "", "", ""},
	    {"list 3", CMD_BAD, 0, "", "", "", "no arguments"},
	    {"status", CMD_STATUS, 0, "", "", "", ""},
	    {"status 12", CMD_STATUS, 12, "", "", "", ""},
	    {"status #7", CMD_STATUS, 7, "", "", "", ""},
	    {"status x", CMD_BAD, 0, "", "", "", "incident number"},
	    {"declare checkout p99 latency over 2s", CMD_DECLARE, 0, "checkout", "high",
	     "p99 latency over 2s", ""},
	    {"declare api sev=critical 500s everywhere  ", CMD_DECLARE, 0, "api", "critical",
	     "500s everywhere", ""},
	    {"declare api sev=LOW slow", CMD_DECLARE, 0, "api", "low", "slow", ""},
	    {"declare api sev=bad x", CMD_BAD, 0, "", "", "", "severity"},
	    {"declare checkout", CMD_BAD, 0, "", "", "", "summary"},
	    {"declare", CMD_BAD, 0, "", "", "", "service name"},
	    {"declare <b>x</b> boom", CMD_BAD, 0, "", "", "", "service name"},
	    {"resolve 4 rolled back", CMD_RESOLVE, 4, "", "", "rolled back", ""},
	    {"resolve #4", CMD_RESOLVE, 4, "", "", "", ""},
	    {"resolve", CMD_BAD, 0, "", "", "", "incident number"},
	    {"resolve 0", CMD_BAD, 0, "", "", "", "incident number"},
	    {"resolve 99999999999999999999", CMD_BAD, 0, "", "", "", "incident number"},
	    {"pause 3", CMD_PAUSE, 3, "", "", "", ""},
	    {"pause 3 now", CMD_BAD, 0, "", "", "", "only an incident number"},
	    {"resume 3", CMD_RESUME, 3, "", "", "", ""},
	    {"reboot everything", CMD_BAD, 0, "", "", "", "reboot"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cmd c;
		cmd_parse_text(cases[i].text, &c);
		if (c.kind != cases[i].kind)
			fail_msg("'%s': kind got %d (%s), want %d", cases[i].text, c.kind, c.err,
			         cases[i].kind);
		if (c.kind == CMD_BAD) {
			if (!strstr(c.err, cases[i].err_has))
				fail_msg("'%s': err got '%s', want it to mention '%s'",
				         cases[i].text, c.err, cases[i].err_has);
			continue;
		}
		if (c.incident != cases[i].incident)
			fail_msg("'%s': incident got %lld, want %lld", cases[i].text,
			         (long long)c.incident, (long long)cases[i].incident);
		if (c.kind == CMD_DECLARE &&
		    (strcmp(c.service, cases[i].service) || strcmp(c.severity, cases[i].severity)))
			fail_msg("'%s': service/severity got %s/%s, want %s/%s", cases[i].text,
			         c.service, c.severity, cases[i].service, cases[i].severity);
		if ((c.kind == CMD_DECLARE || c.kind == CMD_RESOLVE) &&
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
