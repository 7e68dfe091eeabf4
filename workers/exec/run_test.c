/* run_test.c: argv building, type checks, environment, redaction, and real processes. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "run.h"

static const char *const test_catalog =
    "[action touch]\n"
    "description = d\n"
    "run = scripts/actions/touch.sh {name}\n"
    "param = name pattern [a-z][a-z0-9-]{0,39}\n"
    "risk = low\n"
    "idempotent = no\n"
    "verify = scripts/actions/check.sh --name={name}\n"
    "rollback = undo\n"
    "env = RUN_TEST_PLAIN, RUN_TEST_TOKEN, RUN_TEST_UNSET, PATH\n"
    "\n"
    "[action undo]\n"
    "description = d\n"
    "run = scripts/actions/undo.sh {name}\n"
    "param = name pattern [a-z][a-z0-9-]{0,39}\n"
    "risk = low\n"
    "idempotent = yes\n"
    "\n"
    "[action args]\n"
    "description = d\n"
    "run = scripts/actions/argv.sh {word} --count {n} {mode} --rev={rev}\n"
    "param = word pattern [A-Za-z0-9 ,._-]{1,60}\n"
    "param = n int 1..5\n"
    "param = mode default=a enum a,b\n"
    "param = rev optional int 1..100\n"
    "risk = low\n"
    "idempotent = yes\n"
    "\n"
    "[action kube]\n"
    "description = d\n"
    "run = /usr/bin/kubectl --namespace {ns} rollout restart deployment/{d}\n"
    "param = ns default=default pattern [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\n"
    "param = d pattern [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\n"
    "external = yes\n"
    "risk = medium\n"
    "idempotent = no\n";

static struct catalog *cat;

static int setup(void **state)
{
	(void)state;
	char err[512];
	if (catalog_parse("t.conf", test_catalog, &cat, err, sizeof(err)) < 0)
		fail_msg("test catalog: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	catalog_free(cat);
	return 0;
}

static char *argv_text(const struct run_cmd *c)
{
	cJSON *a = run_argv_json(c);
	char *t = json_print(a);
	cJSON_Delete(a);
	return t;
}

static void test_build_argv(void **state)
{
	(void)state;
	static const struct {
		const char *action, *params;
		enum run_which which;
		const char *want;
	} cases[] = {
	    {"touch", "{\"name\":\"alpha\"}", RUN_ACTION,
	     "[\"scripts/actions/touch.sh\",\"alpha\"]"},
	    {"touch", "{\"name\":\"alpha\"}", RUN_VERIFY,
	     "[\"scripts/actions/check.sh\",\"--name=alpha\"]"},
	    /* one value, one argument; defaults filled; an optional one left out */
	    {"args", "{\"word\":\"two words, one arg\",\"n\":3}", RUN_ACTION,
	     "[\"scripts/actions/argv.sh\",\"two words, one arg\",\"--count\",\"3\",\"a\"]"},
	    {"args", "{\"word\":\"w\",\"n\":5,\"mode\":\"b\",\"rev\":7}", RUN_ACTION,
	     "[\"scripts/actions/argv.sh\",\"w\",\"--count\",\"5\",\"b\",\"--rev=7\"]"},
	    {"kube", "{\"d\":\"checkout\"}", RUN_ACTION,
	     "[\"/usr/bin/kubectl\",\"--namespace\",\"default\",\"rollout\",\"restart\","
	     "\"deployment/checkout\"]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *p = cJSON_Parse(cases[i].params);
		struct run_cmd c;
		char err[300];
		if (run_build(catalog_find(cat, cases[i].action), p, cases[i].which, &c, err,
		              sizeof(err)) < 0)
			fail_msg("case %zu: got refusal '%s', want %s", i, err, cases[i].want);
		char *got = argv_text(&c);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got %s, want %s", i, got, cases[i].want);
		if (c.argv[c.argc] != NULL)
			fail_msg("case %zu: argv is not NULL-terminated", i);
		free(got);
		run_cmd_free(&c);
		cJSON_Delete(p);
	}
}

static void test_type_checks_refuse(void **state)
{
	(void)state;
	char long_value[400];
	memset(long_value, 'a', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	static const struct {
		const char *action, *key, *value; /* value as a JSON literal */
		const char *want;
	} cases[] = {
	    {"touch", "name", "\"; rm -rf /\"", "name does not match"},
	    {"touch", "name", "\"$(touch /tmp/x)\"", "name does not match"},
	    {"touch", "name", "\"`id`\"", "name does not match"},
	    {"touch", "name", "\"ok\\nrm -rf /\"", "control character"},
	    {"touch", "name", "\"-rf\"", "must not begin with '-'"},
	    {"touch", "name", "\"\"", "must be 1 to 256 bytes"},
	    {"touch", "name", "42", "name must be a string"},
	    {"touch", "name", "null", "needs parameter name"},
	    {"touch", "other", "\"x\"", "has no parameter \"other\""},
	    {"args", "word", "\"--help\"", "must not begin with '-'"},
	    {"args", "word", "\"a;b\"", "word does not match"},
	    {"args", "n", "\"3\"", "n must be a whole number"},
	    {"args", "n", "3.5", "n must be a whole number"},
	    {"args", "n", "6", "n must be from 1 to 5, not 6"},
	    {"args", "mode", "\"c\"", "mode must be one of"},
	    {"kube", "ns", "\"--all-namespaces\"", "must not begin with '-'"},
	    {"kube", "d", "\"a b\"", "d does not match"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *p = json_new_object();
		/* the other required parameters are good, so the one under test decides */
		if (!strcmp(cases[i].action, "touch") && strcmp(cases[i].key, "name"))
			json_add_str(p, "name", "ok");
		if (!strcmp(cases[i].action, "args")) {
			if (strcmp(cases[i].key, "word"))
				json_add_str(p, "word", "w");
			if (strcmp(cases[i].key, "n"))
				json_add_int(p, "n", 1);
		}
		if (!strcmp(cases[i].action, "kube") && strcmp(cases[i].key, "d"))
			json_add_str(p, "d", "web");
		cJSON *v = cJSON_Parse(cases[i].value);
		if (!cJSON_IsNull(v))
			json_add(p, cases[i].key, v);
		else
			cJSON_Delete(v);
		struct run_cmd c;
		char err[300] = "";
		if (run_build(catalog_find(cat, cases[i].action), p, RUN_ACTION, &c, err,
		              sizeof(err)) == 0) {
			char *got = argv_text(&c);
			fail_msg("case %zu (%s=%s): got argv %s, want refusal '%s'", i,
			         cases[i].key, cases[i].value, got, cases[i].want);
		}
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu (%s=%s): got '%s', want '%s'", i, cases[i].key,
			         cases[i].value, err, cases[i].want);
		cJSON_Delete(p);
	}
	/* overlong */
	cJSON *p = json_new_object();
	json_add_str(p, "name", long_value);
	struct run_cmd c;
	char err[300];
	assert_int_equal(run_build(catalog_find(cat, "touch"), p, RUN_ACTION, &c, err, sizeof(err)),
	                 -1);
	if (!strstr(err, "must be 1 to 256 bytes"))
		fail_msg("overlong: got '%s', want 'must be 1 to 256 bytes'", err);
	cJSON_Delete(p);
}

static void test_rollback_and_target(void **state)
{
	(void)state;
	cJSON *p = cJSON_Parse("{\"name\":\"db1\",\"n\":3,\"zone\":\"eu\"}");
	cJSON *rb = run_rollback_params(catalog_find(cat, "undo"), p);
	char *t = json_print(rb);
	assert_string_equal(t, "{\"name\":\"db1\"}");
	free(t);
	char *target = run_target(p);
	assert_string_equal(target, "name=db1,zone=eu");
	free(target);
	cJSON_Delete(rb);
	cJSON_Delete(p);
}

static void test_env_scrubbed(void **state)
{
	(void)state;
	setenv("RUN_TEST_PLAIN", "plain-value", 1);
	setenv("RUN_TEST_TOKEN", "tok-123456789", 1);
	setenv("RUN_TEST_OTHER", "never", 1);
	unsetenv("RUN_TEST_UNSET");
	char **env = run_env(catalog_find(cat, "touch"));
	const char *want[] = {"PATH=" RUN_PATH, "RUN_TEST_PLAIN=plain-value",
	                      "RUN_TEST_TOKEN=tok-123456789", NULL};
	size_t n = 0;
	for (; env[n]; n++) {
		if (!want[n] || strcmp(env[n], want[n]) != 0)
			fail_msg("env[%zu]: got %s, want %s", n, env[n],
			         want[n] ? want[n] : "(end)");
	}
	if (want[n])
		fail_msg("env: got %zu entries, want more (%s)", n, want[n]);
	run_env_free(env);
	assert_int_equal(run_secret_name("RUN_TEST_TOKEN"), 1);
	assert_int_equal(run_secret_name("DB_PASSWORD"), 1);
	assert_int_equal(run_secret_name("KUBECONFIG"), 0);
	assert_int_equal(run_secret_name("OPSBOT_SIM_STATE"), 0);
}

static void test_redact(void **state)
{
	(void)state;
	setenv("RUN_TEST_SECRET", "hunter2-very-secret", 1);
	run_add_secret_env("RUN_TEST_SECRET");
	char s[] = "login with hunter2-very-secret and xoxb-1234-5678-abcdefabcdef done";
	run_redact(s);
	if (strstr(s, "hunter2") || strstr(s, "xoxb-1234"))
		fail_msg("redact: got '%s', want no secret", s);
	if (!strstr(s, "[redacted]"))
		fail_msg("redact: got '%s', want [redacted]", s);
}

static struct run_opts opts(int64_t timeout_ms)
{
	return (struct run_opts){
	    .timeout_ms = timeout_ms, .kill_grace_ms = 200, .max_output = 4096};
}

static char *const env_min[] = {(char *)"PATH=" RUN_PATH, NULL};

static void test_exec_output_and_exit(void **state)
{
	(void)state;
	char *const argv[] = {(char *)"/bin/sh", (char *)"-c",
	                      (char *)"echo out; echo err >&2; echo \"$HOME|$PATH\"; exit 3", NULL};
	struct run_opts o = opts(5000);
	struct run_result r;
	run_exec(argv, env_min, &o, &r);
	assert_int_equal(r.spawned, 1);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.timed_out, 0);
	char want[256];
	snprintf(want, sizeof(want), "out\nerr\n|%s\n", RUN_PATH);
	if (strcmp(r.output, want) != 0)
		fail_msg("output: got '%s', want '%s'", r.output, want);
	run_result_free(&r);
}

static void test_exec_bounded(void **state)
{
	(void)state;
	char *const argv[] = {(char *)"/bin/sh", (char *)"-c",
	                      (char *)"head -c 200000 /dev/zero | tr '\\0' x", NULL};
	struct run_opts o = opts(10000);
	o.max_output = 1000;
	struct run_result r;
	run_exec(argv, env_min, &o, &r);
	assert_int_equal(r.exit_code, 0);
	if (strlen(r.output) != 1000 || r.dropped != 199000)
		fail_msg("bounded: got %zu bytes kept, %zu dropped; want 1000 and 199000",
		         strlen(r.output), r.dropped);
	run_result_free(&r);
}

static void test_exec_workdir_and_missing(void **state)
{
	(void)state;
	char *const argv[] = {(char *)"/bin/pwd", NULL};
	struct run_opts o = opts(5000);
	o.workdir = "/tmp";
	struct run_result r;
	run_exec(argv, env_min, &o, &r);
	assert_string_equal(r.output, "/tmp\n");
	run_result_free(&r);
	char *const bad[] = {(char *)"scripts/actions/does-not-exist.sh", NULL};
	run_exec(bad, env_min, &o, &r);
	assert_int_equal(r.spawned, 0);
	if (!strstr(r.error, "cannot start scripts/actions/does-not-exist.sh"))
		fail_msg("missing program: got '%s'", r.error);
	run_result_free(&r);
}

static int alive(pid_t p)
{
	if (kill(p, 0) != 0)
		return 0;
	char path[64], st[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(st, 1, sizeof(st) - 1, f);
	fclose(f);
	st[n] = '\0';
	const char *rp = strrchr(st, ')');
	return !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

/* Read a pid the child wrote into file (it may take a moment). */
static pid_t read_pid(const char *file)
{
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(file, "r");
		int p = 0;
		if (f) {
			if (fscanf(f, "%d", &p) != 1)
				p = 0;
			fclose(f);
		}
		if (p > 0)
			return (pid_t)p;
		usleep(10000);
	}
	return 0;
}

static void test_exec_timeout_kills_group(void **state)
{
	(void)state;
	char dir[] = "/tmp/run-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char script[600];
	/* The leader and a child both ignore SIGTERM: only SIGKILL of the group ends them. */
	snprintf(script, sizeof(script),
	         "trap '' TERM; sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' & "
	         "echo $! > %s/child; while :; do sleep 0.1; done",
	         dir);
	char *const argv[] = {(char *)"/bin/sh", (char *)"-c", script, NULL};
	struct run_opts o = opts(300);
	struct run_result r;
	run_exec(argv, env_min, &o, &r);
	char file[128];
	snprintf(file, sizeof(file), "%s/child", dir);
	pid_t child = read_pid(file);
	assert_int_equal(r.timed_out, 1);
	assert_int_equal(r.signaled, 1);
	assert_int_equal(r.exit_code, 128 + SIGKILL);
	if (child <= 0)
		fail_msg("the child never wrote its pid");
	for (int i = 0; i < 200 && alive(child); i++)
		usleep(10000);
	if (alive(child))
		fail_msg("child %d of the timed-out group is still alive", (int)child);
	run_result_free(&r);

	/* A leader that exits on SIGTERM, leaving a child that ignores it: killed too. */
	snprintf(script, sizeof(script),
	         "sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' & echo $! > %s/child2; "
	         "wait",
	         dir);
	run_exec(argv, env_min, &o, &r);
	snprintf(file, sizeof(file), "%s/child2", dir);
	child = read_pid(file);
	assert_int_equal(r.timed_out, 1);
	assert_int_equal(r.exit_code, 128 + SIGTERM);
	for (int i = 0; i < 200 && child > 0 && alive(child); i++)
		usleep(10000);
	if (child <= 0 || alive(child))
		fail_msg("the left-behind child %d is still alive", (int)child);
	run_result_free(&r);

	/* A program that exits at once but leaves a background child: the child is gone. */
	snprintf(script, sizeof(script), "sleep 60 & echo $! > %s/child3; echo bye", dir);
	o.timeout_ms = 5000;
	run_exec(argv, env_min, &o, &r);
	snprintf(file, sizeof(file), "%s/child3", dir);
	child = read_pid(file);
	assert_int_equal(r.timed_out, 0);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.output, "bye\n");
	for (int i = 0; i < 200 && child > 0 && alive(child); i++)
		usleep(10000);
	if (child <= 0 || alive(child))
		fail_msg("the background child %d outlived its step", (int)child);
	run_result_free(&r);
	char rm[160];
	snprintf(rm, sizeof(rm), "%s/child", dir);
	unlink(rm);
	snprintf(rm, sizeof(rm), "%s/child2", dir);
	unlink(rm);
	snprintf(rm, sizeof(rm), "%s/child3", dir);
	unlink(rm);
	rmdir(dir);
}

static void test_exec_no_shell(void **state)
{
	(void)state;
	/* printf prints its argument verbatim: nothing in it is interpreted. */
	char *const argv[] = {(char *)"/usr/bin/printf", (char *)"%s|",
	                      (char *)"$(echo pwned); `id` > /tmp/x", NULL};
	struct run_opts o = opts(5000);
	struct run_result r;
	run_exec(argv, env_min, &o, &r);
	assert_string_equal(r.output, "$(echo pwned); `id` > /tmp/x|");
	run_result_free(&r);
}

int main(void)
{
	log_init("run_test");
	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN); /* as in the worker: the child must get the default back */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_argv),
	    cmocka_unit_test(test_type_checks_refuse),
	    cmocka_unit_test(test_rollback_and_target),
	    cmocka_unit_test(test_env_scrubbed),
	    cmocka_unit_test(test_redact),
	    cmocka_unit_test(test_exec_output_and_exit),
	    cmocka_unit_test(test_exec_bounded),
	    cmocka_unit_test(test_exec_workdir_and_missing),
	    cmocka_unit_test(test_exec_timeout_kills_group),
	    cmocka_unit_test(test_exec_no_shell),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
