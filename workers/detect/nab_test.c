/*
 * nab_test.c: the NAB scorer on a case small enough to score by hand.
 *
 * 20 rows, probation floor(0.15*20) = 3 rows.  Windows [10,13] (w = 4) and
 * [17,18].  Detections (score 1) at rows 1, 5, 11, 12, 15:
 *   row 1   in probation: ignored
 *   row 5   before any window: -A_FP = -0.11
 *   row 11  first in [10,13]: sigma(-(13-11+1)/4)/sigma(-1)
 *             = sigma(-0.75)/sigma(-1) = 0.954045/0.986614 = 0.966989
 *   row 12  second in the window: 0
 *   row 15  after [10,13]: A_FP * sigma(|15-13|/(4-1)) = 0.11 * -0.931110
 *             = -0.102422
 *   [17,18] never detected: -A_FN = -1
 * S = -0.11 + 0.966989 - 0.102422 - 1 = -0.245433
 * standard: 100 (S + 2)/(2 + 2) = 43.864; low-FN (A_FN = 2):
 *   S = -1.245433, 100 (S + 4)/(2 + 4) = 45.909.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "nab.h"

static const struct nab_window hand_win[] = {{10, 13}, {17, 18}};

static void hand_scores(double *s)
{
	for (int i = 0; i < 20; i++)
		s[i] = 0.0;
	s[1] = s[5] = s[11] = s[12] = s[15] = 1.0;
}

static void check_close(const char *what, double got, double want, double tol)
{
	if (fabs(got - want) > tol)
		fail_msg("%s: got %.6f want %.6f", what, got, want);
}

static void test_sigmoid(void **state)
{
	(void)state;
	const struct {
		double x, want;
	} cases[] = {
	    {0.0, 0.0}, {-1.0, 0.986614}, {-0.75, 0.954045}, {3.5, -1.0}, {2.0 / 3, -0.931110}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "sigma(%g)", cases[i].x);
		check_close(what, nab_sigmoid(cases[i].x), cases[i].want, 1e-6);
	}
}

static void test_probation(void **state)
{
	(void)state;
	const size_t cases[][2] = {{20, 3}, {100, 15}, {4000, 600}, {10000, 750}, {0, 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (nab_probation(cases[i][0]) != cases[i][1])
			fail_msg("probation(%zu): got %zu want %zu", cases[i][0],
			         nab_probation(cases[i][0]), cases[i][1]);
}

static void test_hand_case(void **state)
{
	(void)state;
	double s[20];
	hand_scores(s);
	struct nab_file f = {.n = 20, .score = s, .nwin = 2, .win = hand_win};
	check_close("raw standard", nab_score_file(&f, 0.5, &NAB_STANDARD), -0.245433, 1e-5);
	check_close("standard", nab_score(&f, 1, 0.5, &NAB_STANDARD), 43.864, 1e-3);
	check_close("low_fn", nab_score(&f, 1, 0.5, &NAB_LOW_FN), 45.909, 1e-3);
	/* Nothing detected scores 0, a perfect detector 100. */
	check_close("null", nab_score(&f, 1, 2.0, &NAB_STANDARD), 0.0, 1e-9);
	double p[20] = {0};
	p[10] = p[17] = 1.0;
	struct nab_file perfect = {.n = 20, .score = p, .nwin = 2, .win = hand_win};
	check_close("perfect", nab_score(&perfect, 1, 0.5, &NAB_STANDARD), 100.0, 1e-9);
}

static void test_sweep(void **state)
{
	(void)state;
	/* Graded scores: theta 0.8 keeps rows 11 and 17 (both windows, early-ish);
	 * a lower theta adds the false positive at row 5 (0.6). */
	double s[20] = {0};
	s[5] = 0.6;
	s[11] = 0.9;
	s[17] = 0.8;
	s[12] = 0.3;
	struct nab_file f = {.n = 20, .score = s, .nwin = 2, .win = hand_win};
	double theta, best;
	assert_int_equal(nab_sweep(&f, 1, &NAB_STANDARD, &theta, &best), 0);
	check_close("theta", theta, 0.8, 1e-12);
	check_close("best = direct", best, nab_score(&f, 1, theta, &NAB_STANDARD), 1e-9);
	/* Every other distinct value scores no better. */
	const double others[] = {0.9, 0.6, 0.3, 0.0};
	for (size_t i = 0; i < 4; i++)
		if (nab_score(&f, 1, others[i], &NAB_STANDARD) > best + 1e-9)
			fail_msg("theta %.1f beats the sweep: got %.4f > %.4f", others[i],
			         nab_score(&f, 1, others[i], &NAB_STANDARD), best);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sigmoid),
	    cmocka_unit_test(test_probation),
	    cmocka_unit_test(test_hand_case),
	    cmocka_unit_test(test_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
