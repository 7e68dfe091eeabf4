/*
 * nab.h: the Numenta Anomaly Benchmark's scoring rule, implemented from its
 * description in ../shared/datasets/README.md.
 *
 * Per file: the first P = min(floor(0.15 N), 750) rows are probation (their
 * detections are ignored).  A detection is a row with score >= theta.  The
 * first detection in a window [L,R] (w = R-L+1) earns
 * A_TP * sigma(-(R-i+1)/w) / sigma(-1); a window with none costs -A_FN; a
 * detection outside every window costs -A_FP, or A_FP * sigma(|i-R'|/(w'-1))
 * after an earlier window [L',R'].  sigma(x) = 2/(1+exp(5x)) - 1, and -1 for
 * x > 3.  The corpus total S is normalised to 100 (S-null)/(perfect-null),
 * null = -A_FN * windows, perfect = A_TP * windows.
 *
 * nab_sweep() picks the theta with the best normalised score over the whole
 * corpus (in-sample, as NAB does) in O(N log N) by lowering theta through the
 * distinct score values and updating the total incrementally.
 */
#ifndef OPSBOT_DETECT_NAB_H
#define OPSBOT_DETECT_NAB_H

#include <stddef.h>

struct nab_profile {
	const char *name;
	double tp, fp, fn;
};

extern const struct nab_profile NAB_STANDARD, NAB_LOW_FP, NAB_LOW_FN;

struct nab_window {
	size_t l, r; /* inclusive row indices */
};

struct nab_file {
	size_t n;
	const double *score; /* n detector scores in [0,1] */
	size_t nwin;
	const struct nab_window *win; /* sorted, disjoint */
};

size_t nab_probation(size_t n);
double nab_sigmoid(double x);

/* Raw (unnormalised) score of one file at threshold theta. */
double nab_score_file(const struct nab_file *f, double theta, const struct nab_profile *p);

/* Normalised corpus score at theta. */
double nab_score(const struct nab_file *files, size_t nfiles, double theta,
                 const struct nab_profile *p);

/*
 * Best normalised score over every distinct score value as theta; writes the
 * threshold and score.  Returns 0, or -1 when the corpus has no windows.
 */
int nab_sweep(const struct nab_file *files, size_t nfiles, const struct nab_profile *p,
              double *theta, double *best);

#endif
