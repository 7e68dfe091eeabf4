/*
 * analyze_test.c: ranking signals on series built here -- a cause that
 * moves before the symptom, a victim that moves after it, a quiet service,
 * the dependency graph tipping a tie, and without a graph the direction
 * learned from lagged correlation before the incident.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze.h"
#include "json.h"
#include "mem.h"

#define N    240
#define STEP 15000
#ifndef JUMP_VICTIM
#define JUMP_VICTIM 36.0
#endif

static uint64_t rng = 88172645463325252ULL;
static double noise(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng >> 11) / 9007199254740992.0 - 0.5) * 2.0;
}

/* A series of N points; from point `at` (never when at < 0) it moves by jump. */
static void add(struct source_list *l, const char *name, const char *service, int symptom, int at,
                double jump)
{
	l->s = xrealloc(l->s, (l->n + 1) * sizeof *l->s);
	struct source_series *s = &l->s[l->n++];
	memset(s, 0, sizeof *s);
	str_copy(s->name, sizeof s->name, name);
	str_copy(s->service, sizeof s->service, service);
	s->symptom = symptom;
	s->n = s->cap = N;
	s->ts_ms = xmalloc(N * sizeof *s->ts_ms);
	s->v = xmalloc(N * sizeof *s->v);
	for (int i = 0; i < N; i++) {
		s->ts_ms[i] = 1000000000000LL + (int64_t)i * STEP;
		s->v[i] = 50.0 + noise() + (at >= 0 && i >= at ? jump : 0.0);
	}
}

static cJSON *run(const struct source_list *l, const struct analyze_graph *g)
{
	struct analyze_opts o = {
	    .params = DETECTOR_DEFAULTS,
	    .threshold = DETECTOR_THRESHOLD,
	    .min_z = 5.0,
	    .incident_ms = 1000000000000LL + 200LL * STEP,
	    .lead_ms = 40LL * STEP, /* split at point 160 */
	    .service = "checkout",
	    .graph = g,
	    .max_anomalies = 50,
	};
	cJSON *res = NULL;
	char err[200];
	if (analyze_run(l, &o, &res, err, sizeof err) < 0)
		fail_msg("analyze_run: got error '%s' want success", err);
	return res;
}

static const char *rank_of(const cJSON *res, int k, const char *field)
{
	return json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "ranking"), k),
	                field);
}

static void test_cause_before_victim(void **state)
{
	(void)state;
	struct source_list l = {0};
	add(&l, "checkout_latency", "checkout", 1, 185, 30.0);
	add(&l, "payment_cpu", "payment", 0, 175, 30.0);   /* first: the cause */
	add(&l, "email_queue", "email", 0, 195, 30.0);     /* after: a victim */
	add(&l, "catalogue_cpu", "catalogue", 0, -1, 0.0); /* quiet */
	cJSON *res = run(&l, NULL);
	if (strcmp(rank_of(res, 0, "service"), "payment") != 0)
		fail_msg("top: got %s want payment (%s)", rank_of(res, 0, "service"),
		         rank_of(res, 0, "rationale"));
	const char *why = rank_of(res, 0, "rationale");
	if (!strstr(why, "before the symptom") || !strstr(why, "payment_cpu rose"))
		fail_msg("rationale got '%s' want 'payment_cpu rose' and 'before the symptom'",
		         why);
	const cJSON *a;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(res, "anomalies"))
	{
		if (strcmp(json_str(a, "service"), "catalogue") == 0)
			fail_msg("quiet catalogue got an anomaly (score %.3f)",
			         json_num(a, "score", 0));
		if (json_int(a, "start_ms", 0) < 1000000000000LL + 160LL * STEP)
			fail_msg("anomaly on %s starts before the split", json_str(a, "series"));
	}
	cJSON_Delete(res);
	source_list_free(&l);
}

static void test_graph(void **state)
{
	(void)state;
	/* Two equal suspects at the same time; the graph says checkout calls db. */
	struct source_list l = {0};
	add(&l, "checkout_latency", "checkout", 1, 185, 30.0);
	add(&l, "db_cpu", "db", 0, 175, 30.0);
	add(&l, "batch_cpu", "batch", 0, 175, 30.0);
	struct analyze_graph *g = xcalloc(1, sizeof *g);
	assert_int_equal(analyze_graph_add(g, "checkout", "api, cache"), 0);
	assert_int_equal(analyze_graph_add(g, "api", "db"), 0);
	if (!analyze_graph_reaches(g, "checkout", "db") ||
	    analyze_graph_reaches(g, "checkout", "batch"))
		fail_msg("graph: checkout->db must be reachable and checkout->batch not");
	cJSON *res = run(&l, g);
	if (strcmp(rank_of(res, 0, "service"), "db") != 0)
		fail_msg("top with graph: got %s want db", rank_of(res, 0, "service"));
	if (!strstr(rank_of(res, 0, "rationale"), "checkout depends on it"))
		fail_msg("rationale got '%s' want the dependency named",
		         rank_of(res, 0, "rationale"));
	cJSON_Delete(res);
	free(g);
	source_list_free(&l);
}

/*
 * No call graph: the direction is learned from normal operation.  db's
 * fluctuations reach checkout 2 steps later, and checkout's reach queue 2
 * steps after that; at the incident all three jump at once, queue the most.
 * The lagged correlation before the split must put db first and say why.
 */
static void test_learned_direction(void **state)
{
	(void)state;
	double c[N], sy[N], w[N];
	double x = 0.0;
	for (int i = 0; i < N; i++) {
		x = 0.7 * x + noise();
		c[i] = x;
	}
	for (int i = 0; i < N; i++)
		sy[i] = (i >= 2 ? c[i - 2] : 0.0) + 0.3 * noise();
	for (int i = 0; i < N; i++)
		w[i] = (i >= 2 ? sy[i - 2] : 0.0) + 0.3 * noise();
	struct source_list l = {0};
	add(&l, "queue_depth", "queue", 0, -1, 0.0);
	add(&l, "db_cpu", "db", 0, -1, 0.0);
	add(&l, "checkout_latency", "checkout", 1, -1, 0.0);
	for (int i = 0; i < N; i++) {
		l.s[0].v[i] = 50.0 + w[i] + (i >= 180 ? JUMP_VICTIM : 0.0);
		l.s[1].v[i] = 50.0 + c[i] + (i >= 180 ? 30.0 : 0.0);
		l.s[2].v[i] = 50.0 + sy[i] + (i >= 180 ? 30.0 : 0.0);
	}
	cJSON *res = run(&l, NULL);
	if (strcmp(rank_of(res, 0, "service"), "db") != 0)
		fail_msg("top without a graph: got %s (%s) want db (%s)",
		         rank_of(res, 0, "service"), rank_of(res, 0, "rationale"),
		         rank_of(res, 1, "rationale"));
	if (!strstr(rank_of(res, 0, "rationale"), "led the symptom's by 2 steps"))
		fail_msg("rationale got '%s' want the learned lead named",
		         rank_of(res, 0, "rationale"));
	cJSON_Delete(res);
	source_list_free(&l);
}

static void test_empty(void **state)
{
	(void)state;
	struct source_list l = {0};
	struct analyze_opts o = {.params = DETECTOR_DEFAULTS, .threshold = 0.5};
	cJSON *res = NULL;
	char err[200] = "";
	assert_int_equal(analyze_run(&l, &o, &res, err, sizeof err), -1);
	if (!strstr(err, "no metric series"))
		fail_msg("empty: error got '%s'", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cause_before_victim),
	    cmocka_unit_test(test_graph),
	    cmocka_unit_test(test_learned_direction),
	    cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
