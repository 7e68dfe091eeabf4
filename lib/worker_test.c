/* worker_test.c: argument splitting and claim-reply parsing of the worker loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "worker.h"

static void test_parse_args(void **state)
{
	(void)state;
	static const struct {
		const char *argv[6];
		int rc;
		const char *config;
		int help, cmd_argc;
		const char *cmd0;
	} cases[] = {
	    {{"w", NULL}, 0, WORKER_DEFAULT_CONFIG, 0, 0, NULL},
	    {{"w", "-c", "x.conf", NULL}, 0, "x.conf", 0, 0, NULL},
	    {{"w", "-c", "x.conf", "score", "f.csv", NULL}, 0, "x.conf", 0, 2, "score"},
	    {{"w", "kb", "search", NULL}, 0, WORKER_DEFAULT_CONFIG, 0, 2, "kb"},
	    {{"w", "--help", NULL}, 0, WORKER_DEFAULT_CONFIG, 1, 0, NULL},
	    {{"w", "--", "-x", NULL}, 0, WORKER_DEFAULT_CONFIG, 0, 1, "-x"},
	    {{"w", "-c", NULL}, -1, NULL, 0, 0, NULL},
	    {{"w", "--bogus", NULL}, -1, NULL, 0, 0, NULL},
	    /* options after the command belong to the command */
	    {{"w", "kb", "-c", "y", NULL}, 0, WORKER_DEFAULT_CONFIG, 0, 3, "kb"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int argc = 0;
		while (cases[i].argv[argc])
			argc++;
		struct worker_args a;
		char err[128] = "";
		int rc = worker_parse_args(argc, (char **)cases[i].argv, &a, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc got %d want %d (err %s)", i, rc, cases[i].rc, err);
		if (rc < 0) {
			if (err[0] == '\0')
				fail_msg("case %zu: error without a message", i);
			continue;
		}
		if (strcmp(a.config, cases[i].config) != 0)
			fail_msg("case %zu: config got %s want %s", i, a.config, cases[i].config);
		if (a.help != cases[i].help || a.cmd_argc != cases[i].cmd_argc)
			fail_msg("case %zu: help/cmd_argc got %d/%d want %d/%d", i, a.help,
			         a.cmd_argc, cases[i].help, cases[i].cmd_argc);
		if (cases[i].cmd0 && strcmp(a.cmd_argv[0], cases[i].cmd0) != 0)
			fail_msg("case %zu: cmd_argv[0] got %s want %s", i, a.cmd_argv[0],
			         cases[i].cmd0);
	}
}

static void test_parse_claim(void **state)
{
	(void)state;
	static const struct {
		const char *reply;
		int rc;
		const char *err_has; /* for rc -1: the field the error names */
		int64_t id, incident;
		int attempt;
		const char *lease;
	} cases[] = {
	    {"{\"ok\":true,\"job\":null}", 1, NULL, 0, 0, 0, NULL},
	    {"{\"ok\":true,\"job\":{\"id\":7,\"kind\":\"detect\",\"incident\":3,\"attempt\":2,"
	     "\"lease\":\"L1\",\"deadline_ms\":5,\"input\":{\"a\":1}}}",
	     0, NULL, 7, 3, 2, "L1"},
	    {"{\"ok\":true,\"job\":{\"id\":8,\"kind\":\"index\",\"attempt\":1,\"lease\":\"x\"}}", 0,
	     NULL, 8, 0, 1, "x"},
	    {"{\"ok\":true}", -1, "'job'", 0, 0, 0, NULL},
	    {"{\"ok\":true,\"job\":5}", -1, "'job'", 0, 0, 0, NULL},
	    {"{\"job\":{\"kind\":\"detect\",\"attempt\":1,\"lease\":\"x\"}}", -1, "'id'", 0, 0, 0,
	     NULL},
	    {"{\"job\":{\"id\":1,\"attempt\":1,\"lease\":\"x\"}}", -1, "'kind'", 0, 0, 0, NULL},
	    {"{\"job\":{\"id\":1,\"kind\":\"k\",\"lease\":\"x\"}}", -1, "'attempt'", 0, 0, 0, NULL},
	    {"{\"job\":{\"id\":1,\"kind\":\"k\",\"attempt\":1}}", -1, "'lease'", 0, 0, 0, NULL},
	    {"{\"job\":{\"id\":1,\"kind\":\"k\",\"attempt\":1,\"lease\":\"\"}}", -1, "'lease'", 0,
	     0, 0, NULL},
	    {"{\"job\":{\"id\":0,\"kind\":\"k\",\"attempt\":1,\"lease\":\"x\"}}", -1, "'id'", 0, 0,
	     0, NULL},
	    {"{\"job\":{\"id\":1,\"kind\":\"k\",\"attempt\":0,\"lease\":\"x\"}}", -1, "'attempt'",
	     0, 0, 0, NULL},
	    {"{\"job\":{\"id\":1,\"kind\":\"k\",\"attempt\":1,\"lease\":\"x\",\"incident\":\"3\"}}",
	     -1, "'incident'", 0, 0, 0, NULL},
	    {"{\"job\":{\"id\":1,\"kind\":\"k\",\"attempt\":1,\"lease\":\"x\",\"input\":[1]}}", -1,
	     "'input'", 0, 0, 0, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *r = cJSON_Parse(cases[i].reply);
		if (!r)
			fail_msg("case %zu: fixture does not parse", i);
		struct worker_job job;
		char lease[WORKER_LEASE_MAX], err[256] = "";
		int rc = worker_parse_claim(r, &job, lease, sizeof(lease), err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc got %d want %d (err %s)", i, rc, cases[i].rc, err);
		if (rc < 0 && !strstr(err, cases[i].err_has))
			fail_msg("case %zu: err got \"%s\" want it to name %s", i, err,
			         cases[i].err_has);
		if (rc == 0) {
			if (job.id != cases[i].id || job.incident != cases[i].incident ||
			    job.attempt != cases[i].attempt || strcmp(lease, cases[i].lease) != 0)
				fail_msg("case %zu: got id=%lld incident=%lld attempt=%d lease=%s "
				         "want %lld %lld %d %s",
				         i, (long long)job.id, (long long)job.incident, job.attempt,
				         lease, (long long)cases[i].id,
				         (long long)cases[i].incident, cases[i].attempt,
				         cases[i].lease);
		}
		cJSON_Delete(r);
	}
}

static void test_lease_too_long(void **state)
{
	(void)state;
	char reply[600];
	char big[400];
	memset(big, 'L', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(reply, sizeof(reply),
	         "{\"job\":{\"id\":1,\"kind\":\"k\",\"attempt\":1,\"lease\":\"%s\"}}", big);
	cJSON *r = cJSON_Parse(reply);
	struct worker_job job;
	char lease[WORKER_LEASE_MAX], err[256] = "";
	int rc = worker_parse_claim(r, &job, lease, sizeof(lease), err, sizeof(err));
	if (rc != -1 || !strstr(err, "'lease'"))
		fail_msg("oversized lease: got rc=%d err=%s want -1 naming 'lease'", rc, err);
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_args),
	    cmocka_unit_test(test_parse_claim),
	    cmocka_unit_test(test_lease_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
