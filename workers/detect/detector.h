/*
 * detector.h: streaming anomaly detection for one metric series.
 *
 * Each point is scored only from the points before it, then added to the
 * state.  The detector runs four cheap components side by side and combines
 * them:
 *   level    robust z of the value against the median and inter-quartile
 *            range of the last `window` points (median/MAD-like, but O(1)
 *            to read from a sorted window);
 *   ewma     z against an exponentially weighted mean and variance;
 *   season   robust z of the seasonal difference x[t] - x[t-P] (P points
 *            per day, found from the sampling step) against its own window;
 *   change   two-sided CUSUM of the level z, for shifts too small for one
 *            point to show.
 * The combined z becomes a score in [0,1]; after a score crosses the
 * `holdoff_level`, the next `holdoff` points are damped so that one episode
 * reads as one detection, not a burst (holdoff_level 0: a score stands only
 * when it beats every score of the last `holdoff` points).
 *
 * Cost: per point, a search and a move inside one block of at most 128
 * values of each sorted window (about 0.3 us a point with full 4096-point
 * windows), no allocation after the first few points.  Ownership:
 * detector_free releases what detector_new made.
 */
#ifndef OPSBOT_DETECT_DETECTOR_H
#define OPSBOT_DETECT_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

struct detector_params {
	int window;        /* points in the level baseline (>= 8) */
	int min_points;    /* points before anything is scored */
	double ewma_alpha; /* weight of the newest point in the EWMA */
	int season;        /* points per season; 0 = from timestamps (daily), -1 = off */
	double cusum_k;    /* CUSUM slack, in z units */
	double cusum_h;    /* CUSUM decision interval, in z units */
	double w_level, w_ewma, w_season, w_change; /* component weights (0 = off) */
	double z_half;                              /* combined z that maps to score 0.5 */
	double holdoff_level;                       /* score that starts a hold-off */
	int holdoff;                                /* points damped after it (0 = no hold-off) */
	double holdoff_damp;                        /* factor applied to scores during hold-off */
	double record_decay; /* >0: score z against the decaying max z seen (per point) */
	double z_floor;      /* smallest max z the record mode divides by */
	int lik_short;       /* >0: likelihood mode, raw scores averaged over this many */
	double lik_alpha;    /* EWMA weight of the long-run statistics in likelihood mode */
	int ens;        /* 1: also a likelihood of the level z alone; the more surprising stands */
	int lik_log;    /* 1: the likelihood reads log1p(z / z_half), not z / (z + z_half) */
	int tail_n;     /* >0 (with lik_short > 0): tail probability from the last
	                   tail_n raw scores (empirical, exponential beyond tail_q) */
	double tail_q;  /* share of those raw scores that forms the fitted tail */
	int short_n;    /* points in the short mean (0 = off) */
	double w_short; /* weight of the short-mean z */
};

/* Defaults chosen by `make bench BENCH=nab` (see README: in-sample and
 * leave-one-category-out figures). */
extern const struct detector_params DETECTOR_DEFAULTS;
/*
 * The score threshold NAB's standard profile chose for the defaults on the
 * 41-file subset (the same in 4 of the 5 leave-one-category-out folds):
 * a tail probability of about 2.5e-7 per point.
 */
#define DETECTOR_THRESHOLD   0.5691
#define DETECTOR_THRESHOLD_P 2.5e-7

/* What each component said about the last point (for explanations). */
struct detector_parts {
	double level, ewma, season, change, shortz; /* z values, >= 0 */
	double z;                                   /* combined */
	int direction;                              /* +1 above baseline, -1 below, 0 none */
};

struct detector;

/*
 * Likelihood mode scores are tail probabilities: with L = -log10(p),
 * score = L / (L + 5), where p is the Gaussian upper-tail probability of the
 * recent raw score against its long-run distribution.  So a score of 0.5
 * means p = 1e-5, 0.6 means 1e-7.5, 2/3 means 1e-10; the map is monotone
 * and never saturates.  detector_tail_p(z) is that p for a z;
 * detector_p_to_score / detector_score_to_p convert between the two (for a
 * threshold given as a probability).
 */
double detector_tail_p(double z);
double detector_tail_score(double z);
double detector_p_to_score(double p);
double detector_score_to_p(double s);

/* A new detector; caller frees with detector_free. */
struct detector *detector_new(const struct detector_params *p);
void detector_free(struct detector *d);
void detector_reset(struct detector *d);

/*
 * Score (ts_ms, v) from the points before it, then learn it.  Returns the
 * anomaly score in [0,1]; parts (may be NULL) gets the components.  A NaN
 * value scores 0 and is not learnt.
 */
double detector_step(struct detector *d, int64_t ts_ms, double v, struct detector_parts *parts);

/*
 * For tests: 0 when every window holds exactly its values in order and its
 * block bookkeeping adds up, -1 otherwise.  Slow (sorts a copy).
 */
int detector_check(const struct detector *d);

/* Set one parameter by name from text; -1 when the key or value is bad. */
int detector_param_set(struct detector_params *p, const char *key, const char *val);
/* "key=value,key=value" (for the bench and the [detect] config key). */
int detector_params_parse(struct detector_params *p, const char *spec, char *err, size_t errlen);
/* The parameter names, NULL-terminated (static storage). */
const char *const *detector_param_names(void);

#endif
