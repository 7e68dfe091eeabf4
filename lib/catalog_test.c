/* catalog_test.c: the action catalog loads the shipped file and names file:line on every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"
#include "json.h"

#define OK_ACTION                                                                                  \
	"[action a]\ndescription = d\nrun = scripts/actions/a.sh {x}\nparam = x int 1..5\n"        \
	"risk = low\nidempotent = yes\n"

static void test_shipped_catalog(void **state)
{
	(void)state;
	struct catalog *c = NULL;
	char err[512];
	if (catalog_load("config/actions.conf", &c, err, sizeof(err)) < 0)
		fail_msg("config/actions.conf: got error %s want ok", err);
	static const char *const need[] = {
	    "restart_service",   "scale_service",         "rollback_deploy",
	    "clear_cache",       "flush_queue_consumers", "rotate_certificate",
	    "failover_database", "kill_slow_queries",     "increase_connection_pool",
	    "drain_node",        "free_disk_space",       "limit_traffic",
	    "page_oncall",       "open_ticket",           "noop"};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!catalog_find(c, need[i]))
			fail_msg("action %s: got missing want present", need[i]);
	const struct catalog_action *a = catalog_find(c, "scale_service");
	if (a->risk != CATALOG_RISK_MEDIUM || a->argc != 3 || a->cooldown_ms != 600000 ||
	    a->rate_count != 6 || a->rate_window_ms != 3600000 || !a->idempotent)
		fail_msg("scale_service fields: got risk=%d argc=%zu cooldown=%lld rate=%d/%lld",
		         a->risk, a->argc, (long long)a->cooldown_ms, a->rate_count,
		         (long long)a->rate_window_ms);
	catalog_free(c);
}

static void test_errors_name_line(void **state)
{
	(void)state;
	static const struct {
		const char *name, *text, *want;
	} cases[] = {
	    {"no actions", "", "t.conf: no actions defined"},
	    {"syntax", "[action a\n", "t.conf:1: section header"},
	    {"other section", "[actions]\nx = 1\n", "t.conf:2: section [actions] is not an action"},
	    {"bad name", "[action Bad]\ndescription = d\n", "t.conf:2: action name"},
	    {"unknown key", "[action a]\ndescription = d\ncolour = red\n", "t.conf:3: unknown key"},
	    {"twice", "[action a]\ndescription = d\ndescription = e\n",
	     "t.conf:3: description given twice"},
	    {"empty value", "[action a]\ndescription =\n", "t.conf:2: description needs a value"},
	    {"no description",
	     "[action a]\nrun = scripts/actions/a.sh\nrisk = low\nidempotent = no\n",
	     "t.conf:2: action a needs a description"},
	    {"no run", "[action a]\ndescription = d\nrisk = low\nidempotent = no\n",
	     "t.conf:2: action a needs exactly one of run or http"},
	    {"run and http",
	     "[action a]\ndescription = d\nrun = scripts/actions/a.sh\nhttp = GET http://x/\n"
	     "risk = low\nidempotent = no\n",
	     "needs exactly one of run or http"},
	    {"no risk",
	     "[action a]\ndescription = d\nrun = scripts/actions/a.sh\nidempotent = no\n",
	     "t.conf:2: action a needs a risk"},
	    {"bad risk", "[action a]\nrisk = severe\n",
	     "t.conf:2: risk must be low, medium or high"},
	    {"no idempotent",
	     "[action a]\ndescription = d\nrun = scripts/actions/a.sh\nrisk = low\n",
	     "needs idempotent = yes or no"},
	    {"bad idempotent", "[action a]\nidempotent = maybe\n", "t.conf:2: idempotent must be"},
	    {"script outside",
	     "[action a]\ndescription = d\nrun = /bin/rm -rf /\nrisk = low\n"
	     "idempotent = no\n",
	     "t.conf:2: the program must be a script under scripts/actions/"},
	    {"dotdot",
	     "[action a]\ndescription = d\nrun = scripts/actions/../../bin/sh\nrisk = low\n"
	     "idempotent = no\n",
	     "must be a script under scripts/actions/"},
	    {"unknown placeholder",
	     "[action a]\ndescription = d\nrun = scripts/actions/a.sh {y}\n"
	     "risk = low\nidempotent = no\n",
	     "{y} is not a parameter of a"},
	    {"param type", "[action a]\nparam = x float 1..2\n",
	     "t.conf:2: parameter x: type must be"},
	    {"param no spec", "[action a]\nparam = x int\n",
	     "t.conf:2: parameter x: type \"int\" needs"},
	    {"param only name", "[action a]\nparam = x\n", "t.conf:2: parameter x needs a type"},
	    {"param name", "[action a]\nparam = X int 1..2\n", "t.conf:2: parameter name"},
	    {"param twice", "[action a]\nparam = x int 1..2\nparam = x int 1..3\n",
	     "t.conf:3: parameter x declared twice"},
	    {"int range", "[action a]\nparam = x int 5..1\n", "t.conf:2: int x needs a range"},
	    {"int words", "[action a]\nparam = x int one..two\n", "t.conf:2: int x needs a range"},
	    {"enum word", "[action a]\nparam = x enum a,b c;d\n", "t.conf:2: enum x: word"},
	    {"enum repeat", "[action a]\nparam = x enum a,b,a\n",
	     "t.conf:2: enum x: word a repeats"},
	    {"regex", "[action a]\nparam = x pattern [a-\n",
	     "t.conf:2: pattern x does not compile"},
	    {"bad default", "[action a]\nparam = x default=9 int 1..5\n",
	     "t.conf:2: default of x: x must be from 1 to 5"},
	    {"http method", "[action a]\nhttp = FETCH http://x/\n",
	     "t.conf:2: http needs METHOD URL"},
	    {"http url", "[action a]\nhttp = GET ftp://x/\n", "t.conf:2: http URL must start"},
	    {"body without http",
	     "[action a]\ndescription = d\nrun = scripts/actions/a.sh\n"
	     "body = {}\nrisk = low\nidempotent = no\n",
	     "body is only for http actions"},
	    {"cooldown", "[action a]\ncooldown = soon\n", "t.conf:2: cooldown must be a duration"},
	    {"timeout", "[action a]\ntimeout = 2d\n", "t.conf:2: timeout must be a duration"},
	    {"rate", "[action a]\nrate_limit = many\n",
	     "t.conf:2: rate_limit must be COUNT/DURATION"},
	    {"rollback unknown", OK_ACTION "rollback = b\n",
	     "t.conf:2: rollback of a names unknown"},
	    {"rollback self", OK_ACTION "rollback = a\n",
	     "t.conf:2: action a cannot roll back itself"},
	    {"rollback params",
	     OK_ACTION
	     "rollback = b\n[action b]\ndescription = d\n"
	     "run = scripts/actions/b.sh\nparam = y int 1..2\nrisk = low\nidempotent = no\n",
	     "rollback b needs parameter y"},
	    {"duplicate action",
	     OK_ACTION "[action b]\ndescription = x\n[action a]\ndescription = e\n",
	     "t.conf:10: action a is defined twice (first at line 2)"},
	    {"verify outside", OK_ACTION "verify = curl http://x\n",
	     "the program must be a script under scripts/actions/"},
	    {"secret in file", "[action a]\napi_key = abc\n",
	     "t.conf:2: api_key looks like a secret"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct catalog *c = NULL;
		char err[512] = "";
		int rc = catalog_parse("t.conf", cases[i].text, &c, err, sizeof(err));
		if (rc == 0) {
			catalog_free(c);
			fail_msg("case %s: got ok want error containing %s", cases[i].name,
			         cases[i].want);
		}
		if (!strstr(err, cases[i].want))
			fail_msg("case %s: got error '%s' want it to contain '%s'", cases[i].name,
			         err, cases[i].want);
	}
}

static void test_values(void **state)
{
	(void)state;
	struct catalog *c = NULL;
	char err[512];
	const char *text = "[action a]\ndescription = d\nrun = scripts/actions/a.sh {n} {e} {p}\n"
	                   "param = n int -3..7\nparam = e enum red,green\n"
	                   "param = p optional pattern [a-z]{1,4}\nrisk = high\nidempotent = no\n";
	if (catalog_parse("t.conf", text, &c, err, sizeof(err)) < 0)
		fail_msg("parse: got %s want ok", err);
	const struct catalog_action *a = catalog_find(c, "a");
	static const struct {
		const char *param, *json;
		int ok;
	} cases[] = {
	    {"n", "3", 1},        {"n", "-3", 1},         {"n", "8", 0},
	    {"n", "2.5", 0},      {"n", "\"3\"", 0},      {"n", "1e300", 0},
	    {"e", "\"red\"", 1},  {"e", "\"Red\"", 0},    {"e", "\"red \"", 0},
	    {"e", "1", 0},        {"p", "\"abcd\"", 1},   {"p", "\"abcde\"", 0},
	    {"p", "\"ab;c\"", 0}, {"p", "\"ab\\nc\"", 0}, {"p", "\"\"", 0},
	    {"p", "null", 0},     {"p", "[\"ab\"]", 0},   {"p", "\"ab\\u001bc\"", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *v = cJSON_Parse(cases[i].json);
		if (!v)
			fail_msg("case %zu: fixture %s does not parse", i, cases[i].json);
		int rc = catalog_check_value(catalog_param(a, cases[i].param), v, err, sizeof(err));
		cJSON_Delete(v);
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu %s=%s: got %s want %s", i, cases[i].param, cases[i].json,
			         rc == 0 ? "accepted" : err, cases[i].ok ? "accepted" : "refused");
	}
	cJSON *params = cJSON_Parse("{\"n\":5,\"e\":\"red\",\"p\":\"a b\"}");
	char *s = catalog_render("x={n} {e}/{p} {\"k\":1}", params, err, sizeof(err));
	if (!s || strcmp(s, "x=5 red/a b {\"k\":1}") != 0)
		fail_msg("render: got %s want x=5 red/a b {\"k\":1}", s ? s : err);
	free(s);
	s = catalog_render("{missing}", params, err, sizeof(err));
	if (s)
		fail_msg("render missing: got %s want error", s);
	cJSON_Delete(params);
	catalog_free(c);
}

static void test_http_action(void **state)
{
	(void)state;
	struct catalog *c = NULL;
	char err[512];
	const char *text = "[action notify]\ndescription = Post to the pager\n"
	                   "http = POST http://127.0.0.1:9000/hooks/{team}\n"
	                   "body = {\"team\":\"{team}\",\"level\":{level}}\n"
	                   "param = team enum sre,dba\nparam = level default=2 int 1..5\n"
	                   "risk = low\nidempotent = no\ntimeout = 5s\n";
	if (catalog_parse("t.conf", text, &c, err, sizeof(err)) < 0)
		fail_msg("http action: got %s want ok", err);
	const struct catalog_action *a = catalog_find(c, "notify");
	if (a->run != CATALOG_RUN_HTTP || strcmp(a->method, "POST") != 0 || !a->body ||
	    a->timeout_ms != 5000)
		fail_msg("http action fields: got run=%d method=%s timeout=%lld", a->run,
		         a->method ? a->method : "-", (long long)a->timeout_ms);
	cJSON *params = cJSON_Parse("{\"team\":\"dba\",\"level\":3}");
	char *body = catalog_render(a->body, params, err, sizeof(err));
	char *url = catalog_render(a->url, params, err, sizeof(err));
	if (!body || strcmp(body, "{\"team\":\"dba\",\"level\":3}") != 0 || !url ||
	    strcmp(url, "http://127.0.0.1:9000/hooks/dba") != 0)
		fail_msg("render: got body %s url %s", body ? body : err, url ? url : err);
	free(body);
	free(url);
	cJSON_Delete(params);
	catalog_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_catalog),
	    cmocka_unit_test(test_errors_name_line),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_http_action),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
