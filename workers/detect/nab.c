/*
 * nab.c: NAB scoring (see nab.h for the rule).
 *
 * The sweep relies on two facts: a row's contribution as a false positive
 * depends only on its position, and a window's contribution depends only on
 * its earliest detected row, whose value only grows as theta falls.  So rows
 * sorted by score, taken in descending groups of equal score, update the
 * total in O(1) each.
 */
#include "nab.h"

#include <math.h>
#include <stdlib.h>

#include "mem.h"

const struct nab_profile NAB_STANDARD = {"standard", 1.0, 0.11, 1.0};
const struct nab_profile NAB_LOW_FP = {"reward_low_FP_rate", 1.0, 0.22, 1.0};
const struct nab_profile NAB_LOW_FN = {"reward_low_FN_rate", 1.0, 0.11, 2.0};

size_t nab_probation(size_t n)
{
	size_t p = (size_t)floor(0.15 * (double)n);
	return p < 750 ? p : 750;
}

double nab_sigmoid(double x)
{
	if (x > 3.0)
		return -1.0;
	return 2.0 / (1.0 + exp(5.0 * x)) - 1.0;
}

/* What a detection at row i is worth; *win gets the window index or -1. */
static double nab_row_value(const struct nab_file *f, size_t i, const struct nab_profile *p,
                            long *win)
{
	*win = -1;
	long prev = -1;
	for (size_t k = 0; k < f->nwin; k++) {
		const struct nab_window *w = &f->win[k];
		if (i >= w->l && i <= w->r) {
			double width = (double)(w->r - w->l + 1);
			*win = (long)k;
			return p->tp * nab_sigmoid(-(double)(w->r - i + 1) / width) /
			       nab_sigmoid(-1.0);
		}
		if (w->r < i)
			prev = (long)k;
	}
	if (prev < 0)
		return -p->fp;
	const struct nab_window *w = &f->win[prev];
	double wm1 = (double)(w->r - w->l); /* w' - 1 */
	if (wm1 < 1.0)
		wm1 = 1.0;
	return p->fp * nab_sigmoid(fabs((double)i - (double)w->r) / wm1);
}

double nab_score_file(const struct nab_file *f, double theta, const struct nab_profile *p)
{
	double s = 0.0;
	size_t start = nab_probation(f->n);
	char *hit = xcalloc(f->nwin + 1, 1);
	for (size_t i = start; i < f->n; i++) {
		if (!(f->score[i] >= theta))
			continue;
		long w;
		double v = nab_row_value(f, i, p, &w);
		if (w < 0) {
			s += v;
		} else if (!hit[w]) {
			hit[w] = 1;
			s += v;
		}
	}
	for (size_t k = 0; k < f->nwin; k++)
		if (!hit[k])
			s -= p->fn;
	free(hit);
	return s;
}

static size_t nab_windows(const struct nab_file *files, size_t nfiles)
{
	size_t w = 0;
	for (size_t i = 0; i < nfiles; i++)
		w += files[i].nwin;
	return w;
}

static double nab_normalise(double s, size_t nwin, const struct nab_profile *p)
{
	double perfect = p->tp * (double)nwin, null = -p->fn * (double)nwin;
	return 100.0 * (s - null) / (perfect - null);
}

double nab_score(const struct nab_file *files, size_t nfiles, double theta,
                 const struct nab_profile *p)
{
	double s = 0.0;
	for (size_t i = 0; i < nfiles; i++)
		s += nab_score_file(&files[i], theta, p);
	return nab_normalise(s, nab_windows(files, nfiles), p);
}

struct nab_row {
	double score;
	double value;
	long win; /* global window index, or -1 for a false positive */
	size_t pos;
};

static int nab_row_cmp(const void *a, const void *b)
{
	const struct nab_row *x = a, *y = b;
	return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

int nab_sweep(const struct nab_file *files, size_t nfiles, const struct nab_profile *p,
              double *theta, double *best)
{
	size_t nwin = nab_windows(files, nfiles), nrows = 0;
	if (nwin == 0)
		return -1;
	for (size_t i = 0; i < nfiles; i++)
		nrows += files[i].n - nab_probation(files[i].n);
	struct nab_row *rows = xmalloc((nrows + 1) * sizeof *rows);
	size_t *first = xmalloc(nwin * sizeof *first); /* earliest detected row, or SIZE_MAX */
	double *wval = xmalloc(nwin * sizeof *wval);
	size_t r = 0, wbase = 0;
	for (size_t i = 0; i < nfiles; i++) {
		const struct nab_file *f = &files[i];
		for (size_t j = nab_probation(f->n); j < f->n; j++) {
			long w;
			rows[r].value = nab_row_value(f, j, p, &w);
			rows[r].win = w < 0 ? -1 : (long)wbase + w;
			rows[r].score = isnan(f->score[j]) ? 0.0 : f->score[j];
			rows[r].pos = j;
			r++;
		}
		wbase += f->nwin;
	}
	for (size_t k = 0; k < nwin; k++) {
		first[k] = (size_t)-1;
		wval[k] = -p->fn;
	}
	qsort(rows, nrows, sizeof *rows, nab_row_cmp);
	/* theta above every score: nothing detected. */
	double s = -p->fn * (double)nwin;
	double best_s = s, best_t = nrows ? rows[0].score + 1e-9 : 1.0;
	for (size_t i = 0; i < nrows;) {
		double t = rows[i].score;
		for (; i < nrows && rows[i].score == t; i++) {
			if (rows[i].win < 0) {
				s += rows[i].value;
			} else if (rows[i].pos < first[rows[i].win]) {
				long k = rows[i].win;
				s += rows[i].value - wval[k];
				wval[k] = rows[i].value;
				first[k] = rows[i].pos;
			}
		}
		if (s > best_s) {
			best_s = s;
			best_t = t;
		}
	}
	*theta = best_t;
	*best = nab_normalise(best_s, nwin, p);
	free(rows);
	free(first);
	free(wval);
	return 0;
}
