/*
 * model_test.c: the simulated system's behaviour -- fault effects, their
 * travel along dependencies, remediation (right actions fix after a delay,
 * wrong ones do not), determinism, and the exposition format.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"

static void run(struct sim_model *m, int seconds)
{
	for (int i = 0; i < seconds; i++)
		sim_step(m);
}

static int healthy(const struct sim_model *m, int s)
{
	char why[256];
	return sim_healthy(m, (enum sim_service)s, why, sizeof why);
}

static int all_healthy(const struct sim_model *m)
{
	for (int s = 0; s < SIM_NSERVICES; s++)
		if (!healthy(m, s))
			return 0;
	return 1;
}

static void inject(struct sim_model *m, const char *kind, const char *service)
{
	char err[200];
	int id = sim_fault_inject(m, (enum sim_fault_kind)sim_fault_parse(kind),
	                          service ? sim_service_parse(service) : -1, 0.8, err, sizeof err);
	if (id <= 0)
		fail_msg("inject %s on %s: %s", kind, service ? service : "(default)", err);
}

static int act(struct sim_model *m, const char *action, const char *service, int arg)
{
	char msg[200], err[200];
	int d = sim_action(m, (enum sim_action_kind)sim_action_parse(action),
	                   sim_service_parse(service), arg, msg, sizeof msg, err, sizeof err);
	if (d < 0)
		fail_msg("action %s %s: %s", action, service, err);
	return d;
}

static void test_healthy_at_rest(void **st)
{
	(void)st;
	struct sim_model m;
	sim_init(&m, 1);
	for (int t = 0; t < 1800; t++) {
		sim_step(&m);
		for (int s = 0; s < SIM_NSERVICES; s++)
			if (!healthy(&m, s)) {
				char why[256];
				sim_healthy(&m, (enum sim_service)s, why, sizeof why);
				fail_msg("tick %d: %s unhealthy with no fault: %s", t,
				         sim_service_name(s), why);
			}
	}
}

/* Each fault makes its own service (or, for the cache, its users) unhealthy
 * and the symptom reaches the frontend, within 90 simulated seconds. */
static void test_fault_effects(void **st)
{
	(void)st;
	static const struct {
		const char *kind, *service, *sick[4];
	} cases[] = {
	    {"cpu_hog", "api", {"api", "frontend"}},
	    {"memory_leak", "api", {"api", "frontend"}},
	    {"latency", "api", {"api", "frontend"}},
	    {"error_spike", "api", {"api", "frontend"}},
	    {"cache_failure", NULL, {"db", "api", "frontend"}},
	    {"db_conn_exhaustion", NULL, {"db", "api", "frontend"}},
	    {"bad_deploy", "api", {"api", "frontend"}},
	    {"traffic_surge", NULL, {"api", "frontend"}},
	    {"cpu_hog", "db", {"db"}},
	    {"error_spike", "payment", {"payment", "api", "frontend"}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sim_model m;
		sim_init(&m, 42);
		run(&m, 60);
		inject(&m, cases[i].kind, cases[i].service);
		run(&m, 90);
		for (int k = 0; k < 4 && cases[i].sick[k]; k++)
			if (healthy(&m, sim_service_parse(cases[i].sick[k])))
				fail_msg("%s on %s: %s got healthy want unhealthy", cases[i].kind,
				         cases[i].service ? cases[i].service : "default",
				         cases[i].sick[k]);
		/* leaves that nothing broke stay healthy */
		if (strcmp(cases[i].kind, "cache_failure") &&
		    strcmp(cases[i].kind, "traffic_surge") &&
		    (!cases[i].service || strcmp(cases[i].service, "payment")))
			if (!healthy(&m, SIM_PAYMENT))
				fail_msg("%s: payment got unhealthy want healthy", cases[i].kind);
	}
}

/* A db fault shows up first at db, then in api's latency, then frontend's. */
static void test_propagation_order(void **st)
{
	(void)st;
	struct sim_model m;
	sim_init(&m, 3);
	run(&m, 60);
	double base[SIM_NSERVICES];
	for (int s = 0; s < SIM_NSERVICES; s++)
		base[s] = m.smooth[s].p95_ms;
	inject(&m, "cpu_hog", "db");
	int first[SIM_NSERVICES] = {0};
	for (int t = 1; t <= 60; t++) {
		sim_step(&m);
		for (int s = 0; s < SIM_NSERVICES; s++)
			if (!first[s] && m.smooth[s].p95_ms > base[s] + 20.0)
				first[s] = t;
	}
	assert_true(first[SIM_DB] > 0);
	assert_true(first[SIM_API] > 0);
	assert_true(first[SIM_FRONTEND] > 0);
	if (!(first[SIM_DB] <= first[SIM_API] && first[SIM_API] <= first[SIM_FRONTEND]))
		fail_msg("order db %d api %d frontend %d: want db <= api <= frontend",
		         first[SIM_DB], first[SIM_API], first[SIM_FRONTEND]);
	assert_int_equal(first[SIM_CACHE], 0);
	assert_int_equal(first[SIM_PAYMENT], 0);
}

struct fix_case {
	const char *kind, *service;
	const char *action, *target;
	int arg;
};

/* Right actions: every service healthy within 120 s of the action, but not
 * before the action's delay has passed (effects take time to show). */
static void test_right_actions(void **st)
{
	(void)st;
	static const struct fix_case cases[] = {
	    {"cpu_hog", "api", "restart", "api", 0},
	    {"memory_leak", "api", "restart", "api", 0},
	    {"latency", "api", "restart", "api", 0},
	    {"error_spike", "api", "restart", "api", 0},
	    {"cache_failure", NULL, "clear_cache", "cache", 0},
	    {"cache_failure", NULL, "restart", "cache", 0},
	    {"db_conn_exhaustion", NULL, "restart", "db", 0},
	    {"db_conn_exhaustion", NULL, "restart", "api", 0},
	    {"bad_deploy", "api", "rollback", "api", 0},
	    {"traffic_surge", NULL, "scale", "api", 8},
	    {"traffic_surge", NULL, "limit_traffic", "frontend", 50},
	    {"cpu_hog", "db", "restart", "db", 0},
	    {"error_spike", "payment", "restart", "payment", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct fix_case *c = &cases[i];
		struct sim_model m;
		sim_init(&m, 100 + i);
		run(&m, 60);
		inject(&m, c->kind, c->service);
		run(&m, 90);
		int delay = act(&m, c->action, c->target, c->arg);
		assert_true(delay >= 1);
		for (int t = 0; t < delay - 1; t++) {
			sim_step(&m);
			if (all_healthy(&m))
				fail_msg(
				    "%s -> %s %s: healthy %d s after asking, before its %d s delay",
				    c->kind, c->action, c->target, t + 1, delay);
		}
		int t = delay - 1;
		while (t < 120 && !all_healthy(&m)) {
			sim_step(&m);
			t++;
		}
		if (!all_healthy(&m)) {
			char why[256];
			sim_healthy(&m, SIM_FRONTEND, why, sizeof why);
			fail_msg("%s -> %s %s: still unhealthy after 120 s (frontend: %s)", c->kind,
			         c->action, c->target, why);
		}
		/* the event log has the way down and the way back */
		char down[64], up[64];
		snprintf(down, sizeof down, "frontend unhealthy");
		snprintf(up, sizeof up, "frontend healthy again");
		int seen_down = 0, seen_up = 0;
		for (int e = 0; e < m.nevents; e++) {
			seen_down |= strncmp(m.events[e].text, down, strlen(down)) == 0;
			seen_up |= strncmp(m.events[e].text, up, strlen(up)) == 0;
		}
		if (!seen_down || !seen_up || !m.svc[SIM_FRONTEND].healthy)
			fail_msg("%s -> %s %s: events down %d up %d", c->kind, c->action, c->target,
			         seen_down, seen_up);
		/* and it stays fixed */
		run(&m, 300);
		if (!all_healthy(&m))
			fail_msg("%s -> %s %s: unhealthy again 300 s later", c->kind, c->action,
			         c->target);
	}
}

/* Wrong actions: 180 s later the frontend is still unhealthy. */
static void test_wrong_actions(void **st)
{
	(void)st;
	static const struct fix_case cases[] = {
	    {"cpu_hog", "api", "clear_cache", "api", 0},
	    {"memory_leak", "api", "scale", "api", 6},
	    {"latency", "api", "rollback", "api", 0},
	    {"error_spike", "api", "scale", "api", 6},
	    {"cache_failure", NULL, "restart", "api", 0},
	    {"db_conn_exhaustion", NULL, "clear_cache", "cache", 0},
	    {"db_conn_exhaustion", NULL, "scale", "api", 6},
	    {"bad_deploy", "api", "restart", "api", 0},
	    {"traffic_surge", NULL, "restart", "api", 0},
	    {"traffic_surge", NULL, "rollback", "api", 0},
	    {"error_spike", "api", "restart", "db", 0},
	    {"traffic_surge", NULL, "limit_traffic", "api", 50},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct fix_case *c = &cases[i];
		struct sim_model m;
		sim_init(&m, 200 + i);
		run(&m, 60);
		inject(&m, c->kind, c->service);
		run(&m, 90);
		act(&m, c->action, c->target, c->arg);
		run(&m, 180);
		if (all_healthy(&m))
			fail_msg("%s -> %s %s: got healthy, want no recovery from a wrong action",
			         c->kind, c->action, c->target);
	}
}

/* Killing the leaked sessions helps for a while; the leak fills the pool again. */
static void test_temporary_relief(void **st)
{
	(void)st;
	struct sim_model m;
	sim_init(&m, 9);
	run(&m, 60);
	inject(&m, "db_conn_exhaustion", NULL);
	run(&m, 90);
	assert_false(healthy(&m, SIM_DB));
	act(&m, "kill_queries", "db", 0);
	int ok_at = 0;
	for (int t = 1; t <= 60 && !ok_at; t++) {
		sim_step(&m);
		if (healthy(&m, SIM_DB))
			ok_at = t;
	}
	assert_true(ok_at > 0);
	run(&m, 120);
	assert_false(healthy(&m, SIM_DB));
	/* a failover of the db is the same: new sessions, same leak */
	act(&m, "failover", "db", 0);
	for (ok_at = 0; ok_at < 60 && !healthy(&m, SIM_DB);)
		ok_at++, sim_step(&m);
	assert_true(ok_at < 60);
	run(&m, 120);
	assert_false(healthy(&m, SIM_DB));
}

/* Wrong actions can hurt a little: restarting the single db replica fails
 * api's requests while it runs; flushing a healthy cache slows the db. */
static void test_actions_hurt(void **st)
{
	(void)st;
	struct sim_model m;
	sim_init(&m, 5);
	run(&m, 60);
	double api_err = m.smooth[SIM_API].err;
	int d = act(&m, "restart", "db", 0);
	double worst = 0;
	for (int t = 0; t < d; t++) {
		sim_step(&m);
		worst = fmax(worst, m.smooth[SIM_API].err);
	}
	if (!(worst > api_err + 0.05))
		fail_msg("db restart: api errors peaked at %.3f, want above %.3f", worst,
		         api_err + 0.05);
	run(&m, 60);
	assert_true(all_healthy(&m));

	double db_p95 = m.smooth[SIM_DB].p95_ms, peak = 0;
	act(&m, "clear_cache", "cache", 0);
	for (int t = 0; t < 30; t++) {
		sim_step(&m);
		peak = fmax(peak, m.smooth[SIM_DB].p95_ms);
	}
	if (!(peak > db_p95 * 1.5))
		fail_msg("flushing a warm cache: db p95 peaked at %.1f ms, want above %.1f", peak,
		         db_p95 * 1.5);
	run(&m, 200);
	assert_true(m.hit > 0.85);
	assert_true(all_healthy(&m));

	/* shedding db queries fails api requests; lifting the limit heals it */
	act(&m, "limit_traffic", "db", 70);
	run(&m, 30);
	if (!(m.smooth[SIM_API].err > 0.03))
		fail_msg("db limited to 70%%: api errors %.3f, want above 0.03",
		         m.smooth[SIM_API].err);
	act(&m, "unlimit_traffic", "db", 0);
	run(&m, 30);
	assert_true(all_healthy(&m));
}

/* A restart takes one replica away while it runs; scaling adds capacity
 * only once the new replicas are up. */
static void test_action_timing(void **st)
{
	(void)st;
	struct sim_model m;
	sim_init(&m, 11);
	run(&m, 60);
	int d = act(&m, "scale", "api", 6);
	assert_int_equal(d, 20);
	run(&m, d - 1);
	assert_int_equal(m.svc[SIM_API].replicas, 3);
	sim_step(&m);
	assert_int_equal(m.svc[SIM_API].replicas, 6);
	char msg[200], err[200];
	assert_true(sim_action(&m, SIM_A_RESTART, SIM_API, 0, msg, sizeof msg, err, sizeof err) >
	            0);
	assert_int_equal(
	    sim_action(&m, SIM_A_RESTART, SIM_API, 0, msg, sizeof msg, err, sizeof err), -1);
	assert_non_null(strstr(err, "restarting already"));
}

static void test_determinism(void **st)
{
	(void)st;
	struct sim_model *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b),
	                 *c = calloc(1, sizeof *c);
	sim_init(a, 77);
	sim_init(b, 77);
	sim_init(c, 78);
	for (int t = 0; t < 600; t++) {
		if (t == 100) {
			inject(a, "cache_failure", NULL);
			inject(b, "cache_failure", NULL);
			inject(c, "cache_failure", NULL);
		}
		if (t == 250) {
			act(a, "clear_cache", "cache", 0);
			act(b, "clear_cache", "cache", 0);
			act(c, "clear_cache", "cache", 0);
		}
		sim_step(a);
		sim_step(b);
		sim_step(c);
		if (memcmp(a, b, sizeof *a) != 0)
			fail_msg("same seed and commands diverged at tick %d", t + 1);
	}
	struct buf ba = {0}, bb = {0}, bc = {0};
	sim_render_metrics(a, &ba);
	sim_render_metrics(b, &bb);
	sim_render_metrics(c, &bc);
	assert_string_equal(ba.data, bb.data);
	if (strcmp(ba.data, bc.data) == 0)
		fail_msg("seeds 77 and 78 gave the same metrics");
	/* the seed changes the noise, not the story: both recovered */
	assert_true(all_healthy(a) && all_healthy(c));
	buf_free(&ba);
	buf_free(&bb);
	buf_free(&bc);
	free(a);
	free(b);
	free(c);
}

static void test_bad_requests(void **st)
{
	(void)st;
	struct sim_model m;
	char err[200], msg[200];
	sim_init(&m, 1);
	struct sim_model before = m;
	assert_int_equal(sim_fault_inject(&m, SIM_F_CPU_HOG, SIM_API, 0.0, err, sizeof err), -1);
	assert_int_equal(sim_fault_inject(&m, SIM_F_CPU_HOG, SIM_API, 1.5, err, sizeof err), -1);
	assert_int_equal(sim_fault_inject(&m, SIM_F_CPU_HOG, SIM_API, NAN, err, sizeof err), -1);
	assert_int_equal(sim_fault_inject(&m, SIM_F_CACHE_FAILURE, SIM_DB, 0.5, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "cache only"));
	assert_int_equal(
	    sim_fault_inject(&m, (enum sim_fault_kind)99, SIM_DB, 0.5, err, sizeof err), -1);
	assert_int_equal(sim_action(&m, SIM_A_SCALE, SIM_API, 0, msg, sizeof msg, err, sizeof err),
	                 -1);
	assert_int_equal(sim_action(&m, SIM_A_SCALE, SIM_API, 51, msg, sizeof msg, err, sizeof err),
	                 -1);
	assert_int_equal(
	    sim_action(&m, SIM_A_LIMIT_TRAFFIC, SIM_API, 5, msg, sizeof msg, err, sizeof err), -1);
	assert_int_equal(
	    sim_action(&m, SIM_A_CLEAR_CACHE, SIM_PAYMENT, 0, msg, sizeof msg, err, sizeof err),
	    -1);
	assert_int_equal(sim_action(&m, SIM_A_POOL, SIM_DB, 5, msg, sizeof msg, err, sizeof err),
	                 -1);
	assert_int_equal(sim_action(&m, SIM_A_RESTART, 99, 0, msg, sizeof msg, err, sizeof err),
	                 -1);
	assert_int_equal(
	    sim_action(&m, SIM_A_KILL_QUERIES, SIM_API, 0, msg, sizeof msg, err, sizeof err), -1);
	assert_memory_equal(&m, &before, sizeof m);
	/* one fault of a kind per service at a time */
	assert_true(sim_fault_inject(&m, SIM_F_CPU_HOG, SIM_API, 0.5, err, sizeof err) > 0);
	assert_int_equal(sim_fault_inject(&m, SIM_F_CPU_HOG, SIM_API, 0.5, err, sizeof err), -1);
	/* the table is bounded; ended faults make room */
	sim_fault_clear_all(&m);
	for (int i = 0; i < 40; i++) {
		assert_true(sim_fault_inject(&m, SIM_F_LATENCY, SIM_PAYMENT, 0.5, err, sizeof err) >
		            0);
		sim_fault_clear_all(&m);
	}
	assert_true(m.nfaults <= SIM_MAX_FAULTS);
	assert_int_equal(sim_service_parse("nope"), -1);
	assert_int_equal(sim_fault_parse(NULL), -1);
	assert_int_equal(sim_action_parse("rollback"), SIM_A_ROLLBACK);
}

/* Every sample has HELP and TYPE before it, a service label, and a finite
 * value; values stay in range under the worst faults. */
static void test_exposition(void **st)
{
	(void)st;
	struct sim_model m;
	sim_init(&m, 1);
	run(&m, 30);
	for (int k = 0; k < SIM_NFAULTS; k++)
		inject(&m, sim_fault_name(k), NULL);
	run(&m, 600);
	struct buf b = {0};
	assert_int_equal(sim_render_metrics(&m, &b), 0);
	char *save = NULL, *text = strdup(b.data);
	char typed[64] = "";
	int samples = 0;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "# HELP ", 7) == 0)
			continue;
		if (strncmp(l, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(l + 7, "%63s", typed), 1);
			assert_non_null(strstr(l, " gauge"));
			continue;
		}
		char name[64], svc[32];
		double v;
		if (sscanf(l, "%63[a-z0-9_]{service=\"%31[a-z]\"} %lf", name, svc, &v) != 3)
			fail_msg("sample line does not parse: %s", l);
		assert_string_equal(name, typed);
		assert_true(sim_service_parse(svc) >= 0);
		if (!isfinite(v) || v < 0)
			fail_msg("%s: value %g", l, v);
		if (strstr(name, "ratio") && v > 1.0)
			fail_msg("%s: a ratio above 1", l);
		samples++;
	}
	assert_int_equal(samples, 5 * SIM_NSERVICES + 2);
	free(text);
	buf_free(&b);
	b = (struct buf){0};
	sim_render_csv_header(&b);
	assert_non_null(strstr(b.data, "time,frontend_latency_p95_ms,"));
	assert_non_null(strstr(b.data, ",payment_deploy_version\n"));
	/* a row has as many columns as the header; a deploy shows in its version */
	int cols = 0;
	for (const char *c = b.data; *c; c++)
		cols += *c == ',';
	buf_free(&b);
	cJSON *j = sim_state_json(&m);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "services")), SIM_NSERVICES);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "faults")), SIM_NFAULTS);
	cJSON_Delete(j);
	char err[100];
	assert_true(sim_fault_inject(&m, SIM_F_BAD_DEPLOY, SIM_PAYMENT, 0.5, err, sizeof err) > 0);
	b = (struct buf){0};
	sim_render_csv_row(&m, "2026-01-01T00:00:00Z", &b);
	int rcols = 0;
	for (const char *c = b.data; *c; c++)
		rcols += *c == ',';
	assert_int_equal(rcols, cols);
	assert_non_null(strstr(b.data, ",4\n"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_healthy_at_rest),   cmocka_unit_test(test_fault_effects),
	    cmocka_unit_test(test_propagation_order), cmocka_unit_test(test_right_actions),
	    cmocka_unit_test(test_wrong_actions),     cmocka_unit_test(test_temporary_relief),
	    cmocka_unit_test(test_actions_hurt),      cmocka_unit_test(test_action_timing),
	    cmocka_unit_test(test_determinism),       cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_exposition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
