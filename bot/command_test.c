/*
 * command_test.c: /incident parsing, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "json.h"
#include "template.h"

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
	    {"list 3", CMD_BAD, 0, "", "", "", "list_args"},
	    {"status", CMD_STATUS, 0, "", "", "", ""},
	    {"status 12", CMD_STATUS, 12, "", "", "", ""},
	    {"status #7", CMD_STATUS, 7, "", "", "", ""},
	    {"status x", CMD_BAD, 0, "", "", "", "status_id"},
	    {"declare checkout p99 latency over 2s", CMD_DECLARE, 0, "checkout", "high",
	     "p99 latency over 2s", ""},
	    {"declare api sev=critical 500s everywhere  ", CMD_DECLARE, 0, "api", "critical",
	     "500s everywhere", ""},
	    {"declare api sev=LOW slow", CMD_DECLARE, 0, "api", "low", "slow", ""},
	    {"declare api sev=bad x", CMD_BAD, 0, "", "", "", "severity"},
	    {"declare checkout", CMD_BAD, 0, "", "", "", "declare_summary"},
	    {"declare", CMD_BAD, 0, "", "", "", "declare_service"},
	    {"declare <b>x</b> boom", CMD_BAD, 0, "", "", "", "declare_service"},
	    {"resolve 4 rolled back", CMD_RESOLVE, 4, "", "", "rolled back", ""},
	    {"resolve #4", CMD_RESOLVE, 4, "", "", "", ""},
	    {"resolve", CMD_BAD, 0, "", "", "", "need_id"},
	    {"resolve 0", CMD_BAD, 0, "", "", "", "need_id"},
	    {"resolve 99999999999999999999", CMD_BAD, 0, "", "", "", "need_id"},
	    {"pause 3", CMD_PAUSE, 3, "", "", "", ""},
	    {"pause 3 now", CMD_BAD, 0, "", "", "", "id_only"},
	    {"resume 3", CMD_RESUME, 3, "", "", "", ""},
	    {"reboot everything", CMD_BAD, 0, "", "", "", "unknown"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cmd c;
		cmd_parse_text(cases[i].text, &c);
		if (c.kind != cases[i].kind)
			fail_msg("'%s': kind got %d (%s), want %d", cases[i].text, c.kind, c.err,
			         cases[i].kind);
		if (c.kind == CMD_BAD) {
			if (strcmp(c.err, cases[i].err_has) != 0)
				fail_msg("'%s': err got '%s', want '%s'", cases[i].text, c.err,
				         cases[i].err_has);
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

static cJSON *parse(const char *t)
{
	cJSON *o = NULL;
	char err[128];
	if (json_parse(t, strlen(t), &o, err, sizeof err) < 0)
		fail_msg("fixture %s: %s", t, err);
	return o;
}

/* Discord's typed options give the same struct cmd as Slack's text. */
static void test_options_table(void **state)
{
	static const struct {
		const char *data;
		enum cmd_kind kind;
		int64_t incident;
		const char *title, *service, *severity, *text, *err_has;
	} cases[] = {
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"help\",\"type\":1}]}", CMD_HELP, 0,
	     "", "", "", "", ""},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"declare\",\"type\":1,\"options\":["
	     "{\"name\":\"title\",\"value\":\"db down\"}]}]}",
	     CMD_DECLARE, 0, "db down", "unknown", "medium", "", ""},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"declare\",\"type\":1,\"options\":["
	     "{\"name\":\"title\",\"value\":\"t\"},{\"name\":\"service\",\"value\":\"api\"},"
	     "{\"name\":\"severity\",\"value\":\"critical\"},{\"name\":\"summary\",\"value\":"
	     "\"more\"}]}]}",
	     CMD_DECLARE, 0, "t", "api", "critical", "more", ""},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"declare\",\"type\":1,\"options\":["
	     "{\"name\":\"title\",\"value\":\"t\"},{\"name\":\"severity\",\"value\":\"sev9\"}]}]}",
	     CMD_BAD, 0, "", "", "", "", "declare_options"},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"declare\",\"type\":1,\"options\":["
	     "{\"name\":\"title\",\"value\":\"\"}]}]}",
	     CMD_BAD, 0, "", "", "", "", "declare_options"},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"status\",\"type\":1,\"options\":["
	     "{\"name\":\"id\",\"value\":12}]}]}",
	     CMD_STATUS, 12, "", "", "", "", ""},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"resolve\",\"type\":1,\"options\":["
	     "{\"name\":\"id\",\"value\":4},{\"name\":\"note\",\"value\":\"fixed\"}]}]}",
	     CMD_RESOLVE, 4, "", "", "", "fixed", ""},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"pause\",\"type\":1,\"options\":["
	     "{\"name\":\"id\",\"value\":-3}]}]}",
	     CMD_BAD, 0, "", "", "", "", "need_id_option"},
	    {"{\"name\":\"incident\",\"options\":[{\"name\":\"reboot\",\"type\":1}]}", CMD_BAD, 0,
	     "", "", "", "", "unknown_sub"},
	    {"{\"name\":\"hello\",\"options\":[{\"name\":\"help\",\"type\":1}]}", CMD_BAD, 0, "",
	     "", "", "", "no_subcommand"},
	    {"{\"name\":\"incident\"}", CMD_BAD, 0, "", "", "", "", "no_subcommand"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *d = parse(cases[i].data);
		struct cmd c;
		cmd_parse_options(d, &c);
		if (c.kind != cases[i].kind)
			fail_msg("%s: kind got %d (%s), want %d", cases[i].data, c.kind, c.err,
			         cases[i].kind);
		if (c.kind == CMD_BAD && strcmp(c.err, cases[i].err_has) != 0)
			fail_msg("%s: err got '%s', want '%s'", cases[i].data, c.err,
			         cases[i].err_has);
		if (c.kind != CMD_BAD &&
		    (c.incident != cases[i].incident || strcmp(c.title, cases[i].title) ||
		     (c.kind == CMD_DECLARE && (strcmp(c.service, cases[i].service) ||
		                                strcmp(c.severity, cases[i].severity))) ||
		     strcmp(c.text, cases[i].text)))
			fail_msg("%s: got id=%lld title='%s' service='%s' sev='%s' text='%s'",
			         cases[i].data, (long long)c.incident, c.title, c.service,
			         c.severity, c.text);
		cJSON_Delete(d);
	}
}

/* One request builder for both surfaces. */
static void test_requests(void **state)
{
	struct cmd_origin o = {.surface = "slack", .channel = "C1", .user = "U1"};
	struct cmd c;
	cJSON *r;
	char *s;
	(void)state;
	cmd_parse_text("declare checkout sev=low p99 over 2s", &c);
	r = cmd_request(&c, &o, "k1");
	s = json_print(r);
	const char *want[] = {"\"type\":\"submit\"",       "\"key\":\"k1\"",
	                      "\"title\":\"p99 over 2s\"", "\"severity\":\"low\"",
	                      "\"source\":\"slack\"",      "\"channel\":\"C1\""};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(s, want[i]))
			fail_msg("declare request: got %s, want %s", s, want[i]);
	free(s);
	cJSON_Delete(r);
	cmd_parse_text("pause #3", &c);
	r = cmd_request(&c, &o, "k2");
	assert_string_equal(json_str(r, "type"), "command");
	assert_string_equal(json_str(r, "action"), "pause");
	assert_int_equal(json_int(r, "incident", 0), 3);
	cJSON_Delete(r);
	cmd_parse_text("help", &c);
	assert_null(cmd_request(&c, &o, "k3"));
}

static void test_buttons(void **state)
{
	static const struct {
		const char *action, *arg, *reason;
		const char *type, *has; /* NULL type: refused */
	} cases[] = {
	    {"approve", "h1", NULL, "approve", "\"decision\":\"approve\""},
	    {"reject", "h1", "too risky", "approve", "\"reason\":\"too risky\""},
	    {"reject", "", NULL, NULL, "button_no_plan"},
	    {"ack", "", NULL, "command", "\"action\":\"ack\""},
	    {"retry", "12", NULL, "command", "\"job\":12"},
	    {"retry", "x", NULL, NULL, "button_no_job"},
	    {"dryrun", "h1", NULL, "submit", "\"kind\":\"dryrun\""},
	    {"explode", "", NULL, NULL, "button_unknown"},
	    {"step_skip", "5/9/2", NULL, "ledger", "\"decision\":\"skip\""},
	    {"step_retry", "5/9/2", NULL, "ledger", "\"step_key\":\"5/9/2\""},
	    {"step_abort", "5/9/2", NULL, "ledger", "\"op\":\"decide\""},
	    {"step_skip", "", NULL, NULL, "button_no_step"},
	    {"step_explode", "5/9/2", NULL, NULL, "button_unknown"},
	};
	struct cmd_origin o = {.surface = "discord", .channel = "9", .user = "ann (42)"};
	int64_t id;
	char arg[64];
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *why = NULL;
		cJSON *r = cmd_button_request(cases[i].action, 5, cases[i].arg, cases[i].reason, &o,
		                              "key", &why);
		if (!cases[i].type) {
			if (r || !why || strcmp(why, cases[i].has) != 0)
				fail_msg("%s: got a request or why '%s', want refused with '%s'",
				         cases[i].action, why ? why : "", cases[i].has);
			continue;
		}
		char *s = r ? json_print(r) : NULL;
		if (!r || strcmp(json_str(r, "type"), cases[i].type) || !strstr(s, cases[i].has))
			fail_msg("%s: got %s, want type %s with %s", cases[i].action,
			         s ? s : "NULL", cases[i].type, cases[i].has);
		free(s);
		cJSON_Delete(r);
	}
	/* message_incident goes on approvals only, and only when known */
	{
		const char *why = NULL;
		cJSON *r = cmd_button_request("approve", 5, "h1", NULL, &o, "k", &why);
		cmd_set_message_incident(r, 0);
		assert_null(cJSON_GetObjectItemCaseSensitive(r, "message_incident"));
		cmd_set_message_incident(r, 4);
		cmd_set_message_incident(r, 3);
		assert_int_equal(json_int(r, "message_incident", 0), 3);
		cJSON_Delete(r);
		r = cmd_button_request("ack", 5, "", NULL, &o, "k", &why);
		cmd_set_message_incident(r, 4);
		assert_null(cJSON_GetObjectItemCaseSensitive(r, "message_incident"));
		cJSON_Delete(r);
		r = cmd_button_request("step_skip", 5, "5/9/2", NULL, &o, "k", &why);
		assert_string_equal(json_str(r, "user"), "ann (42)");
		cJSON_Delete(r);
		cmd_set_message_incident(NULL, 4);
	}
	assert_int_equal(cmd_button_value("12:abc:d", &id, arg, sizeof arg), 0);
	assert_int_equal(id, 12);
	assert_string_equal(arg, "abc:d");
	assert_int_equal(cmd_button_value("7", &id, arg, sizeof arg), 0);
	assert_string_equal(arg, "");
	assert_int_equal(cmd_button_value("x7", &id, arg, sizeof arg), -1);
	assert_int_equal(cmd_button_value("0", &id, arg, sizeof arg), -1);
	assert_int_equal(cmd_button_value("7x", &id, arg, sizeof arg), -1);
}

/*
 * Why a command was not understood, in each surface's words (the real
 * templates/<surface>/why_text.txt, run from the repository root): the
 * sentences the parser wrote itself before they moved to the templates.
 */
static void test_why_words(void **state)
{
	(void)state;
	static const struct {
		const char *surface, *input, *want;
	} cases[] = {
	    {"slack", "list 3", "`list` takes no arguments"},
	    {"slack", "status x", "`status` takes an incident number, like `/incident status 12`"},
	    {"slack", "status 1 2", "`status` takes at most one incident number"},
	    {"slack", "pause", "`pause` needs an incident number, like `/incident pause 12`"},
	    {"slack", "resume 3 now", "`pause` and `resume` take only an incident number"},
	    {"slack", "declare",
	     "`declare` needs a service name (letters, digits, - _ . /) and a summary, like "
	     "`/incident declare checkout p99 latency over 2s`"},
	    {"slack", "declare api sev=bad x", "severity must be one of "},
	    {"slack", "declare checkout", "`declare` needs a summary after the service name"},
	    {"slack", "reboot now", "I don't know the command `reboot`"},
	    {"discord", "{\"name\":\"incident\"}", "That command needs a subcommand."},
	    {"discord",
	     "{\"name\":\"incident\",\"options\":[{\"name\":\"declare\",\"type\":1,\"options\":[]}]"
	     "}",
	     "To declare an incident, give it a title (and optionally a service and one of the "
	     "listed severities)."},
	    {"discord", "{\"name\":\"incident\",\"options\":[{\"name\":\"reboot\",\"type\":1}]}",
	     "opsbot does not know that subcommand."},
	    {"discord", "{\"name\":\"incident\",\"options\":[{\"name\":\"pause\",\"type\":1}]}",
	     "That needs the incident number, e.g. `id:12`."},
	};
	static const struct {
		const char *code, *want;
	} buttons[] = {
	    {"button_unknown", "That button is not one opsbot understands; nothing was done."},
	    {"button_no_plan", "That approval button has no plan; nothing was done."},
	    {"button_no_step", "That button names no step; nothing was done."},
	    {"button_no_job", "That retry button names no job; nothing was done."},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct template_set *ts = NULL;
		char err[256], dir[64];
		snprintf(dir, sizeof dir, "templates/%s", cases[i].surface);
		if (template_set_load(dir, &ts, err, sizeof err) < 0)
			fail_msg("load %s (run from the repository root): %s", dir, err);
		struct cmd c;
		if (!strcmp(cases[i].surface, "slack")) {
			cmd_parse_text(cases[i].input, &c);
		} else {
			cJSON *d = parse(cases[i].input);
			cmd_parse_options(d, &c);
			cJSON_Delete(d);
		}
		assert_int_equal(c.kind, CMD_BAD);
		char *why = cmd_why(ts, &c);
		size_t wl = strlen(cases[i].want);
		int prefix = cases[i].want[wl - 1] == ' '; /* the severity list follows */
		if (prefix ? strncmp(why, cases[i].want, wl) != 0 : strcmp(why, cases[i].want) != 0)
			fail_msg("%s '%s':\n got  '%s'\n want '%s'", cases[i].surface,
			         cases[i].input, why, cases[i].want);
		free(why);
		template_set_free(ts);
	}
	/* a refused button, worded the same on both surfaces */
	for (int sfc = 0; sfc < 2; sfc++) {
		struct template_set *ts = NULL;
		char err[256];
		const char *dir = sfc ? "templates/discord" : "templates/slack";
		if (template_set_load(dir, &ts, err, sizeof err) < 0)
			fail_msg("load %s: %s", dir, err);
		for (size_t i = 0; i < sizeof buttons / sizeof buttons[0]; i++) {
			char *why = cmd_why_code(ts, buttons[i].code, NULL);
			if (strcmp(why, buttons[i].want) != 0)
				fail_msg("%s %s: got '%s'", dir, buttons[i].code, why);
			free(why);
		}
		template_set_free(ts);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table), cmocka_unit_test(test_options_table),
	    cmocka_unit_test(test_requests),    cmocka_unit_test(test_buttons),
	    cmocka_unit_test(test_why_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
