/* outcomes_test.c: the planner's memory on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "learn.h"
#include "outcomes.h"

static char path[64];

static int setup(void **state)
{
	snprintf(path, sizeof(path), "/tmp/plan-outcomes-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		fail_msg("mkstemp");
	close(fd);
	struct outcomes *o = NULL;
	char err[256];
	if (outcomes_open(&o, path, err, sizeof(err)) < 0)
		fail_msg("open: %s", err);
	*state = o;
	return 0;
}

static int teardown(void **state)
{
	outcomes_close(*state);
	char p[80];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	return 0;
}

static void arm(struct outcomes *o, const char *sig, const char *action, int64_t *runs,
                int64_t *wins)
{
	struct outcomes_arm *arms;
	size_t n;
	*runs = *wins = 0;
	if (outcomes_arms(o, sig, &arms, &n) < 0)
		fail_msg("arms failed");
	for (size_t i = 0; i < n; i++)
		if (strcmp(arms[i].action, action) == 0) {
			*runs = arms[i].runs;
			*wins = arms[i].wins;
		}
	free(arms);
}

static cJSON *event(int64_t seq, const char *name, int64_t incident, const char *data)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
	         "{\"seq\":%lld,\"name\":\"%s\",\"incident\":%lld,\"at_ms\":%lld,\"data\":%s}",
	         (long long)seq, name, (long long)incident, (long long)(1000000 + seq), data);
	cJSON *e = cJSON_Parse(buf);
	if (!e)
		fail_msg("fixture %s", buf);
	return e;
}

static void test_events_teach(void **state)
{
	struct outcomes *o = *state;
	static const struct {
		const char *name, *data;
	} evs[] = {
	    {"plan.proposed",
	     "{\"plan\":{\"signature\":\"checkout/"
	     "latency\",\"steps\":[{\"action\":\"scale_service\","
	     "\"params\":{\"service\":\"checkout\",\"replicas\":8}},{\"action\":\"clear_cache\","
	     "\"params\":{\"service\":\"checkout\",\"cache\":\"all\"}}]},\"needs_approval\":true}"},
	    {"job.finished", "{\"kind\":\"execute\",\"result\":{\"steps\":[{\"action\":\"scale_"
	                     "service\",\"ok\":true},"
	                     "{\"action\":\"clear_cache\",\"ok\":false}]}}"},
	    {"job.finished", "{\"kind\":\"verify\",\"result\":{\"ok\":true}}"},
	    {"job.finished", "{\"kind\":\"verify\",\"result\":{\"ok\":false}}"}, /* counted once */
	    {"incident.stage", "{\"from\":\"a\",\"to\":\"b\"}"},                 /* ignored */
	    {"job.finished", "{\"kind\":\"execute\",\"result\":\"junk\"}"},      /* ignored */
	};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		cJSON *e = event((int64_t)i + 1, evs[i].name, 7, evs[i].data);
		if (learn_event(o, e) < 0)
			fail_msg("event %zu (%s) failed", i, evs[i].name);
		cJSON_Delete(e);
	}
	int64_t runs, wins;
	arm(o, "checkout/latency", "scale_service", &runs, &wins);
	if (runs != 1 || wins != 1)
		fail_msg("scale_service arm: got %lld/%lld want 1 win of 1", (long long)wins,
		         (long long)runs);
	arm(o, "checkout/latency", "clear_cache", &runs, &wins);
	if (runs != 0)
		fail_msg("clear_cache did not run (ok false): got %lld runs want 0",
		         (long long)runs);
	int64_t last;
	outcomes_last_run(o, "scale_service", "service=checkout", &last);
	if (last != 1000002)
		fail_msg("last run: got %lld want 1000002 (the execute event's time)",
		         (long long)last);
	int64_t n;
	outcomes_runs_since(o, "scale_service", 0, &n);
	if (n != 1)
		fail_msg("runs since 0: got %lld want 1", (long long)n);
	outcomes_runs_since(o, "scale_service", 1000003, &n);
	if (n != 0)
		fail_msg("runs since after: got %lld want 0", (long long)n);
}

static void test_cursor_and_target(void **state)
{
	struct outcomes *o = *state;
	int64_t seq;
	outcomes_cursor(o, &seq);
	if (seq != 0)
		fail_msg("fresh cursor: got %lld want 0", (long long)seq);
	outcomes_set_cursor(o, 40);
	outcomes_set_cursor(o, 12); /* never moves back */
	outcomes_cursor(o, &seq);
	if (seq != 40)
		fail_msg("cursor: got %lld want 40", (long long)seq);
	cJSON *p = cJSON_Parse("{\"service\":\"api\",\"replicas\":4,\"cache\":\"all\"}");
	char *t = outcomes_target(p);
	if (strcmp(t, "service=api,cache=all") != 0)
		fail_msg("target: got %s want service=api,cache=all", t);
	free(t);
	cJSON_Delete(p);
	t = outcomes_target(NULL);
	if (strcmp(t, "") != 0)
		fail_msg("target of nothing: got '%s' want ''", t);
	free(t);
	/* data survives a reopen */
	outcomes_record(o, "s", "noop", 1);
	struct outcomes *o2;
	char err[256];
	if (outcomes_open(&o2, path, err, sizeof(err)) < 0)
		fail_msg("reopen: %s", err);
	int64_t runs, wins;
	arm(o2, "s", "noop", &runs, &wins);
	outcomes_close(o2);
	if (runs != 1 || wins != 1)
		fail_msg("after reopen: got %lld/%lld want 1/1", (long long)wins, (long long)runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_events_teach, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cursor_and_target, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
