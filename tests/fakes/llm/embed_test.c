/* embed_test.c: the fake embedding is deterministic, normalised and puts similar texts near. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "embed.h"

#define DIM 256

static double sim(const char *a, const char *b)
{
	float va[DIM], vb[DIM];
	embed_text(a, strlen(a), va, DIM);
	embed_text(b, strlen(b), vb, DIM);
	return embed_dot(va, vb, DIM);
}

static void test_norm_and_determinism(void **state)
{
	(void)state;
	static const char *const texts[] = {"a", "payments latency spike", "Disk FULL on /var",
	                                    "ÄÖÜ unicode words", "x y z 1 2 3"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		float a[DIM], b[DIM];
		embed_text(texts[i], strlen(texts[i]), a, DIM);
		embed_text(texts[i], strlen(texts[i]), b, DIM);
		double n = embed_dot(a, a, DIM);
		if (fabs(n - 1.0) > 1e-5)
			fail_msg("text %s: norm^2 got %f want 1", texts[i], n);
		if (memcmp(a, b, sizeof(a)) != 0)
			fail_msg("text %s: two runs differ", texts[i]);
	}
	float z[DIM];
	embed_text(" ,.; ", 5, z, DIM);
	for (int k = 0; k < DIM; k++)
		if (z[k] != 0.0f)
			fail_msg("no words: dim %d got %f want 0", k, (double)z[k]);
}

static void test_case_insensitive(void **state)
{
	(void)state;
	double s = sim("Database Failover", "database failover");
	if (s < 0.9999)
		fail_msg("case only: similarity got %f want 1", s);
}

/* query, a near text and a far text: near must score above far */
static void test_similar_texts_are_near(void **state)
{
	(void)state;
	static const struct {
		const char *q, *near, *far;
	} cases[] = {
	    {"checkout latency spike p99", "high latency on checkout service",
	     "disk full on log volume"},
	    {"database connection pool exhausted", "connection pool exhausted in database",
	     "certificate expired on ingress"},
	    {"certificate expiry", "certificates expiring soon", "queue consumers stuck"},
	    {"disk full", "free disk space when the disk is full", "restart payments api"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double n = sim(cases[i].q, cases[i].near), f = sim(cases[i].q, cases[i].far);
		if (!(n > f))
			fail_msg("case %zu %s: near %f not above far %f", i, cases[i].q, n, f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_norm_and_determinism),
	    cmocka_unit_test(test_case_insensitive),
	    cmocka_unit_test(test_similar_texts_are_near),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
