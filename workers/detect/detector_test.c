/*
 * detector_test.c: each detector component on synthetic series with known
 * anomalies (generated here from a fixed-seed generator), the combined
 * score, the streaming property and parameter parsing.
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

#include "detector.h"

#define STEP_MS 300000 /* 5 minutes: 288 points a day */
#define N       4000

/* xorshift64* and Box-Muller: the same noise on every machine. */
static uint64_t rng_state;
static double rng_uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double rng_normal(void)
{
	double u = rng_uniform(), v = rng_uniform();
	return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

enum shape { SPIKE_UP, DIP_DOWN, LEVEL_SHIFT, SMALL_SHIFT, SEASON_BREAK, NONE };

/* A series of N points with one anomaly starting at `at` (none for NONE). */
static void gen(enum shape sh, size_t at, double *v)
{
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < N; i++) {
		double x = 100.0 + rng_normal();
		if (sh == SEASON_BREAK)
			x += 20.0 * sin(2.0 * M_PI * (double)i / 288.0);
		switch (sh) {
		case SPIKE_UP:
			x += i == at ? 12.0 : 0.0;
			break;
		case DIP_DOWN:
			x -= i == at ? 12.0 : 0.0;
			break;
		case LEVEL_SHIFT:
			x += i >= at ? 8.0 : 0.0;
			break;
		case SMALL_SHIFT:
			x += i >= at ? 1.5 : 0.0;
			break;
		case SEASON_BREAK:
			/* The daily wave stops: the series holds its mean. */
			if (i >= at)
				x = 100.0 + rng_normal();
			break;
		case NONE:
			break;
		}
		v[i] = x;
	}
}

struct run {
	double score[N];
	struct detector_parts parts[N];
};

static void run(const struct detector_params *p, const double *v, struct run *r)
{
	struct detector *d = detector_new(p);
	for (size_t i = 0; i < N; i++)
		r->score[i] = detector_step(d, (int64_t)i * STEP_MS, v[i], &r->parts[i]);
	detector_free(d);
}

static double max_in(const double *s, size_t from, size_t to)
{
	double m = 0.0;
	for (size_t i = from; i < to; i++)
		m = fmax(m, s[i]);
	return m;
}

/* Components, each on the anomaly it is for: the z value it reports at (or
 * within `within` points after) the anomaly, against its largest z before. */
static void test_components(void **state)
{
	(void)state;
	const struct {
		const char *name;
		enum shape shape;
		size_t within;
		size_t off; /* offsetof the z in detector_parts */
		double min_z;
		int direction;
	} cases[] = {
	    {"level sees a spike", SPIKE_UP, 1, offsetof(struct detector_parts, level), 8.0, 1},
	    {"level sees a dip", DIP_DOWN, 1, offsetof(struct detector_parts, level), 8.0, -1},
	    {"ewma sees a spike", SPIKE_UP, 1, offsetof(struct detector_parts, ewma), 8.0, 1},
	    {"cusum sees a small shift", SMALL_SHIFT, 60, offsetof(struct detector_parts, change),
	     1.0, 0},
	    {"season sees a missing wave", SEASON_BREAK, 80,
	     offsetof(struct detector_parts, season), 6.0, 0},
	};
	static double v[N];
	static struct run r;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		size_t at = 3000;
		gen(cases[c].shape, at, v);
		struct detector_params p = DETECTOR_DEFAULTS;
		run(&p, v, &r);
		double before = 0.0, after = 0.0;
		int dir = 0;
		for (size_t i = 1500; i < at + cases[c].within; i++) {
			double z = *(const double *)(const void *)((const char *)&r.parts[i] +
			                                           cases[c].off);
			if (i < at) {
				before = fmax(before, z);
			} else if (z > after) {
				after = z;
				dir = r.parts[i].direction;
			}
		}
		if (after < cases[c].min_z)
			fail_msg("%s: z after the anomaly got %.2f want >= %.2f", cases[c].name,
			         after, cases[c].min_z);
		if (after <= before)
			fail_msg("%s: z after got %.2f want above the largest before (%.2f)",
			         cases[c].name, after, before);
		if (cases[c].direction && dir != cases[c].direction)
			fail_msg("%s: direction got %d want %d", cases[c].name, dir,
			         cases[c].direction);
	}
	/* The small shift is below what one point shows: level alone stays low. */
	gen(SMALL_SHIFT, 3000, v);
	struct detector_params p = DETECTOR_DEFAULTS;
	run(&p, v, &r);
	double lv = 0.0;
	for (size_t i = 3000; i < 3003; i++)
		lv = fmax(lv, r.parts[i].level);
	if (lv > 4.0)
		fail_msg("small shift: level z got %.2f want < 4 (a job for CUSUM)", lv);
}

/* The combined score with the tuned defaults: each anomaly is detected at
 * DETECTOR_THRESHOLD soon after it starts; clean noise raises few alarms. */
static void test_combined(void **state)
{
	(void)state;
	const struct {
		const char *name;
		enum shape shape;
		size_t within;
	} cases[] = {
	    {"spike", SPIKE_UP, 1},
	    {"dip", DIP_DOWN, 1},
	    {"level shift", LEVEL_SHIFT, 5},
	    {"missing daily wave", SEASON_BREAK, 150},
	};
	static double v[N];
	static struct run r;
	struct detector_params p = DETECTOR_DEFAULTS;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		gen(cases[c].shape, 3000, v);
		run(&p, v, &r);
		double hit = max_in(r.score, 3000, 3000 + cases[c].within);
		if (hit < DETECTOR_THRESHOLD)
			fail_msg("%s: best score within %zu points got %.3f want >= %.3f",
			         cases[c].name, cases[c].within, hit, DETECTOR_THRESHOLD);
		for (size_t i = 0; i < N; i++)
			if (r.score[i] < 0.0 || r.score[i] > 1.0)
				fail_msg("%s: score[%zu] got %.3f want in [0,1]", cases[c].name, i,
				         r.score[i]);
	}
	gen(NONE, 0, v);
	run(&p, v, &r);
	size_t alarms = 0;
	for (size_t i = 600; i < N; i++)
		alarms += r.score[i] >= DETECTOR_THRESHOLD;
	if (alarms > 2)
		fail_msg("clean noise: alarms got %zu want <= 2 in %d points", alarms, N - 600);
}

/* A point's score depends only on the points before it. */
static void test_streaming(void **state)
{
	(void)state;
	static double a[N], b[N];
	static struct run ra, rb;
	gen(SPIKE_UP, 3000, a);
	memcpy(b, a, sizeof a);
	for (size_t i = 2000; i < N; i++)
		b[i] = -b[i] * 3.0; /* a different future */
	struct detector_params p = DETECTOR_DEFAULTS;
	run(&p, a, &ra);
	run(&p, b, &rb);
	for (size_t i = 0; i < 2000; i++)
		if (ra.score[i] != rb.score[i])
			fail_msg("score[%zu] changed with the future: got %.6f want %.6f", i,
			         rb.score[i], ra.score[i]);
}

/*
 * Issue 15: detector_reset must restore everything detector_new set up,
 * season included (a series with irregular sampling switches the seasonal
 * part off for that series only), so reuse scores exactly as a new one.
 */
static void test_reset(void **state)
{
	(void)state;
	static double v[N], fresh[N], reused[N];
	gen(SEASON_BREAK, 3000, v);
	struct detector_params p = DETECTOR_DEFAULTS;
	struct detector *d = detector_new(&p);
	for (size_t i = 0; i < N; i++)
		fresh[i] = detector_step(d, (int64_t)i * STEP_MS, v[i], NULL);
	detector_reset(d);
	/* Irregular steps: 5 min, then 7 min, ... */
	for (size_t i = 0; i < 500; i++)
		detector_step(d, (int64_t)i * (i % 2 ? 420000 : 300000), v[i], NULL);
	detector_reset(d);
	for (size_t i = 0; i < N; i++)
		reused[i] = detector_step(d, (int64_t)i * STEP_MS, v[i], NULL);
	detector_free(d);
	for (size_t i = 0; i < N; i++)
		if (fresh[i] != reused[i])
			fail_msg("score[%zu] after reset got %.6f want %.6f (as a new detector)", i,
			         reused[i], fresh[i]);
}

/* Likelihood scores are tail probabilities on a fixed, invertible scale. */
static void test_probability_scale(void **state)
{
	(void)state;
	const double ps[] = {1e-3, 1e-5, 1e-7, 1e-10, 1e-30};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
		double s = detector_p_to_score(ps[i]);
		double back = detector_score_to_p(s);
		if (!(s > 0.0 && s < 1.0) || fabs(log10(back) - log10(ps[i])) > 1e-9)
			fail_msg("p %g -> score %.6f -> p %g", ps[i], s, back);
	}
	if (fabs(detector_p_to_score(1e-5) - 0.5) > 1e-12)
		fail_msg("p 1e-5 should read 0.5, got %.6f", detector_p_to_score(1e-5));
	/* Monotone and unsaturated far out in the tail (z 40 and 60 differ). */
	double prev = 0.0;
	for (double z = 0.5; z <= 60.0; z += 0.5) {
		double s = detector_tail_score(z);
		if (!(s > prev && s < 1.0))
			fail_msg("tail_score(%.1f) = %.9f not above %.9f", z, s, prev);
		prev = s;
	}
	if (fabs(detector_tail_score(3.0) - detector_p_to_score(detector_tail_p(3.0))) > 1e-12)
		fail_msg("tail_score(3) disagrees with p_to_score(tail_p(3))");
}

static void test_gaps_and_flat(void **state)
{
	(void)state;
	struct detector_params p = DETECTOR_DEFAULTS;
	struct detector *d = detector_new(&p);
	for (int i = 0; i < 3000; i++) {
		double s = detector_step(d, (int64_t)i * 60000, i % 100 == 0 ? NAN : 5.0, NULL);
		if (s != 0.0)
			fail_msg("flat series with gaps, point %d: got %.3f want 0", i, s);
	}
	double s = detector_step(d, 3000LL * 60000, 50.0, NULL);
	if (s < DETECTOR_THRESHOLD)
		fail_msg("jump after a flat line: got %.3f want >= %.3f", s, DETECTOR_THRESHOLD);
	detector_free(d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Quantile q of n sorted values, interpolated as the detector does. */
static double ref_q(const double *s, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;
	double f = pos - (double)i;
	return i + 1 >= n ? s[n - 1] : s[i] * (1.0 - f) + s[i + 1] * f;
}

/* The level z of v against the last w values, from a plain sorted copy. */
static double ref_level(const double *hist, size_t n, double v)
{
	double *s = malloc(n * sizeof *s);
	assert_non_null(s);
	memcpy(s, hist, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_double);
	double med = ref_q(s, n, 0.5);
	double sc = (ref_q(s, n, 0.75) - ref_q(s, n, 0.25)) / 1.349;
	double fl = 1e-3 * fabs(med) + 0.01 * (s[n - 1] - s[0]) + 1e-9;
	free(s);
	return fabs((v - med) / (sc < fl ? fl : sc));
}

/* One value of each hard shape for the blocked sorted windows: trends
 * (every value lands in the same block), ties, signed zeros, flats. */
static double window_shape(int shape, size_t i)
{
	switch (shape) {
	case 0:
		return rng_normal();
	case 1:
		return (double)i;
	case 2:
		return -(double)i * 0.5;
	case 3:
		return (double)(rng_state % 4);
	case 4:
		return (rng_state & 1) ? 0.0 : -0.0;
	case 5:
		return i < 700 ? 5.0 : i % 2 ? 1e300 : -1e300;
	default:
		return i % 500 < 250 ? (double)(i % 500) : rng_normal();
	}
}

/* The blocked sorted windows hold exactly the last `window` values in
 * order after every point, and the level z read from them matches a plain
 * sorted copy bit for bit. */
static void test_windows(void **state)
{
	(void)state;
	static const int windows[] = {8, 129, 1000};
	for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
		for (int shape = 0; shape < 7; shape++) {
			struct detector_params p = DETECTOR_DEFAULTS;
			p.window = windows[wi];
			p.tail_n = shape == 0 ? 300 : 0;
			struct detector *d = detector_new(&p);
			size_t w = (size_t)p.window, n = 3000;
			double *hist = malloc(n * sizeof *hist);
			assert_non_null(hist);
			rng_state = 0x243f6a8885a308d3ULL + (uint64_t)shape;
			for (size_t i = 0; i < n; i++) {
				rng_uniform();
				double v = window_shape(shape, i);
				struct detector_parts pt;
				detector_step(d, (int64_t)i * STEP_MS, v, &pt);
				size_t have = i < w ? i : w;
				if (i >= (size_t)p.min_points && have >= 8) {
					double want = ref_level(hist + i - have, have, v);
					if (!(pt.level == want))
						fail_msg(
						    "window %zu shape %d point %zu: level %.17g, "
						    "want %.17g",
						    w, shape, i, pt.level, want);
				}
				hist[i] = v;
				if ((i % 7 == 0 || i + 1 == n) && detector_check(d) != 0)
					fail_msg(
					    "window %zu shape %d: windows broken after point %zu",
					    w, shape, i);
			}
			free(hist);
			detector_free(d);
		}
	}
}

static void test_params(void **state)
{
	(void)state;
	const struct {
		const char *spec;
		int ok;
	} cases[] = {
	    {"window=256,z_half=4", 1},
	    {"holdoff=10", 1},
	    {"window=abc", 0},
	    {"nosuch=1", 0},
	    {"window", 0},
	    {"window=1.5", 0},
	    {"z_half=inf", 0},
	    {"", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct detector_params p = DETECTOR_DEFAULTS;
		char err[256] = "";
		int rc = detector_params_parse(&p, cases[i].spec, err, sizeof err);
		if ((rc == 0) != cases[i].ok)
			fail_msg("parse '%s': got rc %d (%s) want %s", cases[i].spec, rc, err,
			         cases[i].ok ? "ok" : "error");
	}
	struct detector_params p = DETECTOR_DEFAULTS;
	assert_int_equal(detector_params_parse(&p, "window=256,z_half=4", NULL, 0), 0);
	if (p.window != 256 || p.z_half != 4.0)
		fail_msg("parsed values: got window=%d z_half=%g want 256 and 4", p.window,
		         p.z_half);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_components), cmocka_unit_test(test_combined),
	    cmocka_unit_test(test_streaming),  cmocka_unit_test(test_gaps_and_flat),
	    cmocka_unit_test(test_params),     cmocka_unit_test(test_windows),
	    cmocka_unit_test(test_reset),      cmocka_unit_test(test_probability_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
