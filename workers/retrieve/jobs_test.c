/* jobs_test.c: query text and incident memory from job inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs.h"
#include "json.h"

static cJSON *parse(const char *s)
{
	cJSON *j;
	char err[256];
	if (json_parse(s, strlen(s), &j, err, sizeof(err)) < 0)
		fail_msg("fixture JSON: %s", err);
	return j;
}

static void test_query(void **state)
{
	(void)state;
	static const struct {
		const char *input;
		int rc;
		const char *want; /* query text, or a substring of the error */
		const char *service;
	} cases[] = {
	    {"{\"incident\":{\"title\":\"p99 over 2s\",\"service\":\"checkout\","
	     "\"labels\":{\"alertname\":\"HighLatency\"},\"summary\":\"slow pages\"},"
	     "\"detect\":{\"summary\":\"latency up 4x\",\"ranking\":[{\"rationale\":\"db slow\"},"
	     "{\"rationale\":\"cache cold\"},{\"rationale\":\"third is dropped\"}]}}",
	     0, "p99 over 2s HighLatency slow pages latency up 4x db slow cache cold", "checkout"},
	    {"{\"incident\":{\"title\":\"disk full\"}}", 0, "disk full", NULL},
	    {"{\"incident\":{\"title\":\"t\"},\"detect\":\"not an object\"}", 0, "t", NULL},
	    {"{\"incident\":{\"service\":\"x\"}}", -1, "no title, summary or alert text", NULL},
	    {"{\"incident\":42}", -1, "field 'incident' must be the incident record", NULL},
	    {"{}", -1, "field 'incident'", NULL},
	    {"[]", -1, "job input must be an object", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *in = parse(cases[i].input);
		struct buf q = {.max = JOBS_QUERY_MAX};
		char *svc = NULL, err[256] = "";
		int rc = jobs_query(in, &q, &svc, err, sizeof(err));
		const char *got = rc == 0 ? (q.data ? q.data : "") : err;
		int ok = rc == cases[i].rc &&
		         (rc == 0 ? strcmp(got, cases[i].want) == 0
		                  : strstr(got, cases[i].want) != NULL) &&
		         (rc != 0 || (cases[i].service ? svc && strcmp(svc, cases[i].service) == 0
		                                       : svc == NULL));
		if (!ok)
			fail_msg("case %zu: got rc=%d '%s' service=%s; want rc=%d '%s' service=%s",
			         i, rc, got, svc ? svc : "-", cases[i].rc, cases[i].want,
			         cases[i].service ? cases[i].service : "-");
		free(svc);
		buf_free(&q);
		cJSON_Delete(in);
	}
	/* A huge alert text is cut to the maximum, not refused. */
	struct buf big = {0};
	buf_appendf(&big, "{\"incident\":{\"title\":\"");
	for (int i = 0; i < 5000; i++)
		buf_append(&big, "word ", 5);
	buf_appendf(&big, "\"}}");
	cJSON *in = parse(big.data);
	struct buf q = {.max = JOBS_QUERY_MAX};
	char err[256];
	assert_int_equal(jobs_query(in, &q, NULL, err, sizeof(err)), 0);
	assert_true(q.len > 0 && q.len < JOBS_QUERY_MAX);
	buf_free(&q);
	buf_free(&big);
	cJSON_Delete(in);
}

#define EV_DETECT                                                                                  \
	"{\"name\":\"job.finished\",\"data\":{\"kind\":\"detect\",\"result\":{\"summary\":\"s\","  \
	"\"ranking\":[{\"service\":\"db\",\"rationale\":\"db connections maxed\"}]}}}"
#define EV_EXEC(ok)                                                                                \
	"{\"name\":\"job.finished\",\"data\":{\"kind\":\"execute\",\"result\":{\"steps\":["        \
	"{\"action\":\"increase_connection_pool\",\"ok\":true},{\"action\":\"restart_service\","   \
	"\"ok\":" ok "}]}}}"
#define EV_VERIFY(ok)                                                                              \
	"{\"name\":\"job.finished\",\"data\":{\"kind\":\"verify\",\"result\":{\"ok\":" ok "}}}"

static void test_memory(void **state)
{
	(void)state;
	static const struct {
		const char *input;
		int64_t job_incident;
		int rc;
		int worked;
		const char *root_cause, *actions, *signature; /* or error substring in root_cause */
	} cases[] = {
	    {"{\"incident\":{\"id\":7,\"title\":\"Too many connections\",\"service\":\"orders\","
	     "\"labels\":{\"alertname\":\"PgConnHigh\"}},\"timeline\":[" EV_DETECT
	     "," EV_EXEC("true") "," EV_VERIFY("true") "]}",
	     0, 0, 1, "db connections maxed",
	     "increase_connection_pool (ran); restart_service (ran)", "orders/pgconnhigh"},
	    {"{\"incident\":{\"id\":8,\"title\":\"Too many connections\",\"service\":\"orders\"},"
	     "\"timeline\":[" EV_EXEC("true") "," EV_VERIFY("false") "]}",
	     0, 0, 0, "", "increase_connection_pool (ran); restart_service (ran)",
	     "orders/too many connections"},
	    {"{\"incident\":{\"title\":\"x\"},\"timeline\":[" EV_EXEC("false") "]}", 9, 0, 0, "",
	     "increase_connection_pool (ran); restart_service (failed)", "any/x"},
	    {"{\"incident\":{\"title\":\"x\"},\"timeline\":[]}", 9, 0, -1, "", "", "any/x"},
	    {"{\"incident\":{\"title\":\"x\"},\"root_cause\":\"given\",\"worked\":true}", 9, 0, 1,
	     "given", "", "any/x"},
	    {"{\"incident\":{\"title\":\"x\"}}", 0, -1, 0, "field 'incident.id'", NULL, NULL},
	    {"{\"incident\":{\"id\":3}}", 0, -1, 0, "field 'incident.title'", NULL, NULL},
	    {"{\"incident\":{\"id\":3,\"title\":\"t\"},\"timeline\":{}}", 0, -1, 0,
	     "field 'timeline' must be an array", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *in = parse(cases[i].input);
		struct jobs_memory m;
		char err[256] = "";
		int rc = jobs_memory_from(in, cases[i].job_incident, &m, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: got rc=%d err=%s, want rc=%d", i, rc, err, cases[i].rc);
		if (rc < 0) {
			if (!strstr(err, cases[i].root_cause))
				fail_msg("case %zu: got err=%s, want %s", i, err,
				         cases[i].root_cause);
		} else {
			if (m.inc.worked != cases[i].worked ||
			    strcmp(m.inc.root_cause, cases[i].root_cause) != 0 ||
			    strcmp(m.inc.actions, cases[i].actions) != 0 ||
			    strcmp(m.inc.signature, cases[i].signature) != 0)
				fail_msg(
				    "case %zu: got worked=%d root='%s' actions='%s' sig='%s'; want "
				    "%d '%s' '%s' '%s'",
				    i, m.inc.worked, m.inc.root_cause, m.inc.actions,
				    m.inc.signature, cases[i].worked, cases[i].root_cause,
				    cases[i].actions, cases[i].signature);
			jobs_memory_free(&m);
		}
		cJSON_Delete(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query),
	    cmocka_unit_test(test_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
