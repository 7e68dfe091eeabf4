/*
 * rca_test.c: root-cause ranking on synthetic Sock-Shop-like tables built
 * here: one service's metric goes wrong, the others keep their noise, and a
 * database's memory sits at a new flat level (the trap the 5% floor is for).
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

#include "mem.h"
#include "rca.h"

static const char *names[] = {"front-end_cpu", "carts_cpu",   "carts-db_mem", "orders_cpu",
                              "orders_mem",    "payment_cpu", "user_lat_90"};
#define COLS (sizeof names / sizeof names[0])
#define ROWS 120

static void table(struct csv_table *t, int anomalous, const char *bad, double factor)
{
	memset(t, 0, sizeof *t);
	t->rows = ROWS;
	t->cols = COLS;
	t->names = xcalloc(COLS, sizeof *t->names);
	t->ts_ms = xcalloc(ROWS, sizeof *t->ts_ms);
	t->v = xcalloc(ROWS * COLS, sizeof *t->v);
	for (size_t c = 0; c < COLS; c++)
		t->names[c] = xstrdup(names[c]);
	for (size_t r = 0; r < ROWS; r++) {
		t->ts_ms[r] = (int64_t)(anomalous ? 1000 + r : r) * 1000;
		for (size_t c = 0; c < COLS; c++) {
			double base = 10.0 + (double)c, wiggle = 0.3 * sin((double)(r * (c + 3)));
			double v = base + wiggle;
			if (strcmp(names[c], "carts-db_mem") == 0)
				v = (anomalous ? 2.5e8 : 2.6e8) + 1e5 * wiggle; /* restarted db */
			if (anomalous && bad && strcmp(names[c], bad) == 0 && r >= 20)
				v = base * factor + wiggle;
			t->v[r * COLS + c] = v;
		}
	}
}

static void test_rank(void **state)
{
	(void)state;
	const struct {
		const char *bad_metric;
		double factor;
		const char *want;
		int direction;
	} cases[] = {
	    {"orders_cpu", 8.0, "orders", 1},       {"payment_cpu", 5.0, "payment", 1},
	    {"orders_mem", 3.0, "orders", 1},       {"user_lat_90", 0.2, "user", -1},
	    {"front-end_cpu", 6.0, "front-end", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct csv_table n, a;
		table(&n, 0, NULL, 1.0);
		table(&a, 1, cases[i].bad_metric, cases[i].factor);
		struct rca_service *svc;
		size_t ns;
		char err[256];
		assert_int_equal(rca_rank(&n, &a, &svc, &ns, err, sizeof err), 0);
		if (ns != 5)
			fail_msg("%s: services got %zu want 5", cases[i].bad_metric, ns);
		if (strcmp(svc[0].service, cases[i].want) != 0)
			fail_msg("%s: top got %s (%s %.1f) want %s", cases[i].bad_metric,
			         svc[0].service, svc[0].metric, svc[0].score, cases[i].want);
		if (strcmp(svc[0].metric, cases[i].bad_metric) != 0 ||
		    svc[0].direction != cases[i].direction)
			fail_msg("%s: top metric got %s dir %d want %s dir %d", cases[i].bad_metric,
			         svc[0].metric, svc[0].direction, cases[i].bad_metric,
			         cases[i].direction);
		if (svc[0].onset_ms != 1020 * 1000)
			fail_msg("%s: onset got %lld want %d", cases[i].bad_metric,
			         (long long)svc[0].onset_ms, 1020 * 1000);
		if (!(svc[0].confidence > 0.5 && svc[0].confidence <= 1.0))
			fail_msg("%s: confidence got %.3f want in (0.5, 1]", cases[i].bad_metric,
			         svc[0].confidence);
		for (size_t k = 1; k < ns; k++)
			if (svc[k].score > svc[k - 1].score)
				fail_msg("%s: not sorted at %zu", cases[i].bad_metric, k);
		free(svc);
		csv_table_free(&n);
		csv_table_free(&a);
	}
}

static void test_service_of(void **state)
{
	(void)state;
	const char *cases[][2] = {{"carts-db_mem", "carts"},
	                          {"queue-master_cpu", "queue-master"},
	                          {"front-end_cpu", "front-end"},
	                          {"catalogue_lat_99", "catalogue"},
	                          {"plain", "plain"},
	                          {"-db_x", "-db"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char got[64];
		rca_service_of(cases[i][0], got, sizeof got);
		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("service_of(%s): got %s want %s", cases[i][0], got, cases[i][1]);
	}
}

static void test_too_short(void **state)
{
	(void)state;
	struct csv_table n = {0}, a = {0};
	struct rca_service *svc = NULL;
	size_t ns = 0;
	char err[256] = "";
	assert_int_equal(rca_rank(&n, &a, &svc, &ns, err, sizeof err), -1);
	if (strstr(err, "normal") == NULL)
		fail_msg("error got '%s' want it to name the normal window", err);
}

/* A wide table from rows of values (cols names, rows x cols values). */
static void mk(struct csv_table *t, const char *const *nm, size_t cols, const double *v,
               size_t rows, int64_t t0)
{
	memset(t, 0, sizeof *t);
	t->rows = rows;
	t->cols = cols;
	t->names = xcalloc(cols, sizeof *t->names);
	for (size_t c = 0; c < cols; c++)
		t->names[c] = xstrdup(nm[c]);
	t->ts_ms = xcalloc(rows, sizeof *t->ts_ms);
	t->v = xmalloc(rows * cols * sizeof *t->v);
	for (size_t r = 0; r < rows; r++)
		t->ts_ms[r] = (t0 + (int64_t)r) * 60000;
	memcpy(t->v, v, rows * cols * sizeof *t->v);
}

/*
 * Issue 15: a metric whose normal spread is zero.  With 1e-9 as the floor a
 * step read as ~1e10 spreads and outranked everything; now the floor comes
 * from its neighbours (the same family on other services) or, alone, from
 * its own scale, and spreads are bounded.
 */
static void test_zero_spread(void **state)
{
	(void)state;
	const char *nm[] = {"a_cpu(%)", "b_cpu(%)", "c_cpu(%)", "c_mem"};
	const double nv[] = {10, 0,   30, 500, 12, 0,   33, 510, 11, 0,
	                     29, 505, 9,  0,   31, 495, 10, 0,   30, 500};
	const double av[] = {11, 40, 31, 500, 10, 42, 30, 502, 12, 41, 32, 501};
	struct csv_table n, a;
	mk(&n, nm, 4, nv, 5, 0);
	mk(&a, nm, 4, av, 3, 5);
	struct rca_service *svc;
	size_t ns;
	char err[256];
	assert_int_equal(rca_rank(&n, &a, &svc, &ns, err, sizeof err), 0);
	if (strcmp(svc[0].service, "b") != 0)
		fail_msg("top got %s want b", svc[0].service);
	/* Neighbours a and c spread by ~1.48 (MAD): half of that is b's floor. */
	if (!(svc[0].z > 20.0 && svc[0].z < 100.0))
		fail_msg("b spreads got %g want a neighbour-floored 20..100", svc[0].z);
	if (strcmp(svc[0].why, "cpu(%) of b rose from 0% to 42% (56.7 spreads)") != 0)
		fail_msg("rationale got '%s'", svc[0].why);
	free(svc);
	csv_table_free(&n);
	csv_table_free(&a);

	/* Alone in its family: bounded at RCA_Z_MAX and said so. */
	const char *nm1[] = {"b_cpu(%)"};
	const double nv1[] = {0, 0, 0, 0, 0}, av1[] = {40, 42, 41};
	mk(&n, nm1, 1, nv1, 5, 0);
	mk(&a, nm1, 1, av1, 3, 5);
	assert_int_equal(rca_rank(&n, &a, &svc, &ns, err, sizeof err), 0);
	if (svc[0].z != RCA_Z_MAX || !strstr(svc[0].why, "(over 1000 spreads)"))
		fail_msg("alone: z %g why '%s'", svc[0].z, svc[0].why);
	free(svc);
	csv_table_free(&n);
	csv_table_free(&a);
}

/*
 * Issue 15: confidence must mean something -- near-certain only for a clear
 * single outlier, not for a tie, and 0 when nothing moved.
 */
static void test_confidence(void **state)
{
	(void)state;
	const char *nm[] = {"a_cpu", "b_cpu", "c_cpu", "d_cpu"};
	const double nv[] = {10, 30, 30, 20, 11, 33, 29, 21, 9,  29,
	                     31, 19, 10, 30, 30, 20, 10, 31, 30, 20};
	const double clear[] = {10, 95, 30, 20, 11, 99, 29, 21, 10, 97, 31, 20};
	const double tie[] = {30, 90, 30, 20, 33, 99, 29, 21, 29, 87, 31, 20};
	const double none[] = {10, 30, 30, 20, 11, 31, 30, 20, 10, 30, 29, 20};
	const double same[] = {10, 30, 30, 20, 10, 30, 30, 20, 10, 30, 30, 20};
	const double *cases[] = {clear, tie, none, same};
	/* A wiggle within the usual range is no finding; no change at all is 0. */
	const double lo[] = {0.8, 0.0, 0.0, 0.0}, hi[] = {1.0, 0.8, 0.3, 0.0};
	for (size_t k = 0; k < 4; k++) {
		struct csv_table n, a;
		mk(&n, nm, 4, nv, 5, 0);
		mk(&a, nm, 4, cases[k], 3, 5);
		struct rca_service *svc;
		size_t ns;
		char err[256];
		assert_int_equal(rca_rank(&n, &a, &svc, &ns, err, sizeof err), 0);
		if (!(svc[0].confidence >= lo[k] && svc[0].confidence <= hi[k]))
			fail_msg("case %zu: top %s confidence %.3f want in [%.1f, %.1f]", k,
			         svc[0].service, svc[0].confidence, lo[k], hi[k]);
		double sum = 0.0;
		for (size_t i = 0; i < ns; i++)
			sum += svc[i].confidence;
		if (sum > 1.0 + 1e-9)
			fail_msg("case %zu: confidences sum to %.3f", k, sum);
		free(svc);
		csv_table_free(&n);
		csv_table_free(&a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rank),       cmocka_unit_test(test_service_of),
	    cmocka_unit_test(test_too_short),  cmocka_unit_test(test_zero_spread),
	    cmocka_unit_test(test_confidence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
