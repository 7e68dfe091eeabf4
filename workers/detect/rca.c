/*
 * rca.c: robust-scaling root-cause ranking (see rca.h).
 *
 * Scale.  A metric's normal spread is 1.4826 x its MAD over the normal rows,
 * floored at the largest of
 *   - rel x |median| (a metric must move by a material share of its own
 *     level: a database whose memory sits flat at a new level after a
 *     restart must not outrank a CPU hog; on rca-sockshop any rel from 1%
 *     to 20% ranks all 50 cases right, 0.1% ranked carts-cpu third in 3 of
 *     5 runs);
 *   - nb x the typical spread of the same family on the other services,
 *     relative to level (so a flat CPU column borrows the noise that CPU
 *     columns show elsewhere);
 *   - 1e-4 x the column's largest |value| in either window, and never 0
 *     (a metric flat at 0 that jumps reads as RCA_Z_MAX spreads, not 1e15).
 * With 3-5 normal rows the MAD alone is often 0; these floors are what keep
 * a one-step change on a flat metric from reading as 1e15 spreads.
 *
 * Votes.  Each metric family (the name after the service: "cpu",
 * "MemoryUsage(Mi)") hands out one vote, split between services in
 * proportion to their bounded z in it: a fault local to one service shows as
 * that service's column moving while its peers' stay put, and a symptom
 * shared by many services (propagated latency) is split thin.  A family
 * whose largest z is small votes little (weight m^2 / (m^2 + zh^2)).
 * Propagating families (latency, errors, load) weigh `prop`; with a call
 * graph, a caller's vote in such a family is halved when a service it calls
 * moved at least half as much in the same family.  Columns identical across
 * services (node-level metrics of co-located pods) and families named
 * "node..." vote nothing.  A service's score is the sum of its votes.
 *
 * Constants (rel 0.05, nb 0.5, prop 0.25, zh 2) were chosen with
 * workers/detect/bench/rca_sweep.sh by tuning on one data set and reading
 * the others (README, detection section), preferring settings that keep a
 * latency-only fault findable (prop > 0) and ignore a family where nothing
 * moved beyond noise (zh > 0) over the best in-sample Nezha figure, which
 * needs prop 0 and zh 0.
 *
 * Confidence: a logistic map of the top votes, the margin over the runner-up
 * and the number of services (rca_confidence).
 */
#include "rca.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

void rca_service_of(const char *metric, char *buf, size_t len)
{
	size_t n = strcspn(metric, "_");
	if (n >= len)
		n = len - 1;
	memcpy(buf, metric, n);
	buf[n] = '\0';
	if (n > 3 && strcmp(buf + n - 3, "-db") == 0)
		buf[n - 3] = '\0';
}

static const char *rca_family(const char *metric)
{
	const char *u = strchr(metric, '_');
	return u ? u + 1 : metric;
}

const char *rca_unit_of(const char *metric)
{
	const char *f = rca_family(metric);
	size_t n = strlen(f);
	static const struct {
		const char *suffix, *unit;
	} units[] = {{"(%)", "%"},      {"(s)", " s"},      {"(ms)", " ms"},
	             {"(Mi)", " MiB"},  {"(m)", "m"},       {"(Ops)", "/s"},
	             {"_percent", "%"}, {"_seconds", " s"}, {"_bytes", " B"}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		size_t k = strlen(units[i].suffix);
		if (n >= k && strcasecmp(f + n - k, units[i].suffix) == 0)
			return units[i].unit;
	}
	return "";
}

static int rca_contains(const char *s, const char *word)
{
	size_t k = strlen(word);
	for (; *s; s++)
		if (strncasecmp(s, word, k) == 0)
			return 1;
	return 0;
}

/* Metrics that move in callers when a callee is slow or failing. */
static int rca_propagates(const char *family)
{
	static const char *const words[] = {"lat", "success", "error", "fail",    "workload",
	                                    "lod", "qps",     "rps",   "request", "throughput"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (rca_contains(family, words[i]))
			return 1;
	return 0;
}

static int rca_dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double rca_q(const double *sorted, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;
	if (i + 1 >= n)
		return sorted[n - 1];
	double f = pos - (double)i;
	return sorted[i] * (1.0 - f) + sorted[i + 1] * f;
}

/* Median in place (sorts). */
static double rca_median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, rca_dbl_cmp);
	return rca_q(v, n, 0.5);
}

/* 1.4826 x MAD of sorted v around med (scratch: tmp, n values). */
static double rca_mad(const double *v, size_t n, double med, double *tmp)
{
	for (size_t i = 0; i < n; i++)
		tmp[i] = fabs(v[i] - med);
	return 1.4826 * rca_median(tmp, n);
}

int rca_series_score(double *normal, size_t nn, const double *anom, size_t na, double floor_,
                     double *score, int *direction, size_t *onset, size_t *peak, double *median)
{
	size_t m = 0;
	for (size_t i = 0; i < nn; i++)
		if (!isnan(normal[i]))
			normal[m++] = normal[i];
	if (m < 2 || na == 0)
		return -1;
	double med = rca_median(normal, m);
	double *tmp = xmalloc(m * sizeof *tmp);
	double scale = rca_mad(normal, m, med, tmp);
	free(tmp);
	double f = floor_;
	if (!(f > 0.0))
		f = 1e-12;
	if (scale < f)
		scale = f;
	double best = 0.0;
	int dir = 0;
	size_t first_big = (size_t)-1, at = 0;
	for (size_t r = 0; r < na; r++) {
		if (isnan(anom[r]))
			continue;
		double z = (anom[r] - med) / scale;
		if (fabs(z) > 3.0 && first_big == (size_t)-1)
			first_big = r;
		if (fabs(z) > best) {
			best = fabs(z);
			dir = z > 0 ? 1 : -1;
			at = r;
		}
	}
	*score = fmin(best, RCA_Z_MAX);
	*direction = dir;
	*onset = first_big == (size_t)-1 ? 0 : first_big;
	if (peak)
		*peak = at;
	if (median)
		*median = med;
	return 0;
}

/* Tunables (for the bench's sweeps only; see rca_tune in rca.h).  spread 1:
 * discount propagating families only when 2 or more services moved in them
 * (worse on Sock Shop: 0.40 AC@1). */
struct rca_params {
	double rel, nb, prop, zh, spread;
};
static const struct rca_params rca_defaults = {0.05, 0.5, 0.25, 2.0, 0.0};
static struct rca_params rca_p = {0.05, 0.5, 0.25, 2.0, 0.0};

void rca_tune_defaults(void)
{
	rca_p = rca_defaults;
}

int rca_tune(const char *key, double v)
{
	if (strcmp(key, "rel") == 0)
		rca_p.rel = v;
	else if (strcmp(key, "nb") == 0)
		rca_p.nb = v;
	else if (strcmp(key, "prop") == 0)
		rca_p.prop = v;
	else if (strcmp(key, "zh") == 0)
		rca_p.zh = v;
	else if (strcmp(key, "spread") == 0)
		rca_p.spread = v;
	else
		return -1;
	return 0;
}

struct rca_col {
	size_t nc, ac; /* column in normal, in anomalous */
	size_t svc;    /* index into the service list */
	const char *family;
	double med, sd; /* normal median and raw robust spread */
	size_t fam;     /* family index */
	int shared, prop;
	double z, vote;
	int dir;
	size_t onset, peak;
};

static int rca_same(const struct csv_table *t, size_t a, size_t b)
{
	int varies = 0;
	for (size_t r = 0; r < t->rows; r++) {
		double x = t->v[r * t->cols + a], y = t->v[r * t->cols + b];
		if (isnan(x) != isnan(y))
			return 0;
		if (isnan(x))
			continue;
		if (fabs(x - y) > 1e-9 * fmax(fabs(x), fabs(y)))
			return 0;
		if (r && x != t->v[(r - 1) * t->cols + a])
			varies = 1;
	}
	return varies;
}

static void rca_fmt_num(double v, char *buf, size_t len)
{
	double a = fabs(v);
	if (a >= 1e6 || (a > 0 && a < 1e-3))
		snprintf(buf, len, "%.3g", v);
	else if (a >= 100)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

/*
 * Chance that the top service is the cause: a logistic map of its votes s1,
 * its margin over the runner-up's s2 and the number of services n, fitted
 * on the bench's 98 cases (workers/detect/bench/rca_calib.py), then damped
 * by z^2 / (z^2 + 9) so that a top deviation within a few spreads is no
 * finding.  In sample, 51 cases read >= 0.8 and 98% of them were right.  Fitted with one data
 * set held out: OnlineBoutique 17 cases >= 0.8, 88% right; TrainTicket 6,
 * 33% right (its code faults barely show in metrics); Sock Shop none >= 0.8
 * though all were right (under-confident).  Read it as a ranking of cases
 * more than a promise on a system unlike these.
 */
static double rca_confidence(double s1, double s2, size_t n)
{
	double x = 1.410 + 1.631 * s1 + 0.878 * log((s1 + 0.05) / (s2 + 0.05)) -
	           1.386 * log(n < 2 ? 2.0 : (double)n);
	return 1.0 / (1.0 + exp(-x));
}

int rca_rank_opts(const struct csv_table *normal, const struct csv_table *anomalous,
                  const struct rca_opts *o, struct rca_service **out, size_t *n, char *err,
                  size_t errlen)
{
	if (normal->rows < 2 || anomalous->rows < 1) {
		snprintf(err, errlen,
		         "need at least 2 normal rows and 1 anomalous row (got %zu and %zu)",
		         normal->rows, anomalous->rows);
		return -1;
	}
	size_t nr = normal->rows, ar = anomalous->rows;
	struct rca_col *col = xcalloc(anomalous->cols + 1, sizeof *col);
	struct rca_service *svc = xcalloc(anomalous->cols + 1, sizeof *svc);
	size_t ncol = 0, ns = 0, common = 0;
	double *nv = xmalloc(nr * sizeof *nv), *tmp = xmalloc(nr * sizeof *tmp);
	double *av = xmalloc(ar * sizeof *av);

	/* 1. Columns in both tables, their service, family and normal spread. */
	for (size_t c = 0; c < anomalous->cols; c++) {
		const char *name = anomalous->names[c];
		/* Tables usually list columns in the same order: try that first. */
		size_t nc = normal->cols;
		if (c < normal->cols && strcmp(normal->names[c], name) == 0)
			nc = c;
		else
			for (size_t j = 0; j < normal->cols && nc == normal->cols; j++)
				if (strcmp(normal->names[j], name) == 0)
					nc = j;
		if (nc == normal->cols)
			continue;
		common++;
		size_t m = 0;
		for (size_t r = 0; r < nr; r++) {
			double x = normal->v[r * normal->cols + nc];
			if (!isnan(x))
				nv[m++] = x;
		}
		if (m < 2)
			continue;
		struct rca_col *k = &col[ncol++];
		k->nc = nc;
		k->ac = c;
		k->family = rca_family(name);
		k->prop = rca_propagates(k->family);
		k->med = rca_median(nv, m);
		k->sd = rca_mad(nv, m, k->med, tmp);
		char s[RCA_NAME_MAX];
		rca_service_of(name, s, sizeof s);
		size_t i = 0;
		while (i < ns && strcmp(svc[i].service, s) != 0)
			i++;
		if (i == ns)
			str_copy(svc[ns++].service, sizeof svc[0].service, s);
		k->svc = i;
		k->shared =
		    rca_contains(k->family, "node") && strncasecmp(k->family, "node", 4) == 0;
	}
	if (ncol == 0) {
		if (common == 0)
			snprintf(err, errlen,
			         "the normal and anomalous tables have no metric column in common");
		else
			snprintf(
			    err, errlen,
			    "no metric has 2 or more values in the normal window (%zu in common)",
			    common);
		free(col);
		free(svc);
		free(nv);
		free(tmp);
		free(av);
		return -1;
	}

	/* Families as small integers. */
	const char **fam = xcalloc(ncol + 1, sizeof *fam);
	size_t nfam = 0;
	for (size_t i = 0; i < ncol; i++) {
		size_t f = 0;
		while (f < nfam && strcmp(fam[f], col[i].family) != 0)
			f++;
		if (f == nfam)
			fam[nfam++] = col[i].family;
		col[i].fam = f;
	}

	/* 2. Columns shared by services (node-level metrics): identical values. */
	for (size_t i = 0; i < ncol; i++)
		for (size_t j = i + 1; j < ncol; j++) {
			if (col[i].svc == col[j].svc || col[i].fam != col[j].fam ||
			    (col[i].shared && col[j].shared))
				continue;
			if (rca_same(normal, col[i].nc, col[j].nc) ||
			    rca_same(anomalous, col[i].ac, col[j].ac))
				col[i].shared = col[j].shared = 1;
		}

	/*
	 * 3. Per family: the median spread of its columns
	 * (relative to level, and absolute); then each column's floor and score.
	 */
	double *frel = xcalloc(nfam + 1, sizeof *frel);
	double *fabs_ = xcalloc(nfam + 1, sizeof *fabs_);
	double *rs = xmalloc((ncol + 1) * sizeof *rs), *as = xmalloc((ncol + 1) * sizeof *as);
	for (size_t f = 0; f < nfam; f++) {
		size_t nrs = 0, nas = 0;
		for (size_t j = 0; j < ncol; j++) {
			if (col[j].fam != f)
				continue;
			if (col[j].sd <= 0.0)
				continue;
			as[nas++] = col[j].sd;
			if (fabs(col[j].med) > 0.0)
				rs[nrs++] = col[j].sd / fabs(col[j].med);
		}
		frel[f] = nrs ? rca_median(rs, nrs) : 0.0;
		fabs_[f] = nas ? rca_median(as, nas) : 0.0;
	}
	free(rs);
	free(as);
	for (size_t i = 0; i < ncol; i++) {
		size_t f = col[i].fam;
		double lvl = fabs(col[i].med);
		double span = 0.0; /* largest |value| of this column in either window */
		for (size_t r = 0; r < nr; r++) {
			nv[r] = normal->v[r * normal->cols + col[i].nc];
			if (!isnan(nv[r]))
				span = fmax(span, fabs(nv[r]));
		}
		for (size_t r = 0; r < ar; r++) {
			av[r] = anomalous->v[r * anomalous->cols + col[i].ac];
			if (!isnan(av[r]))
				span = fmax(span, fabs(av[r]));
		}
		double floor_ = 1e-4 * span;
		if (lvl > 0.0 && frel[f] > 0.0)
			floor_ = fmax(floor_, rca_p.nb * frel[f] * lvl);
		else
			floor_ = fmax(floor_, rca_p.nb * fabs_[f]);
		floor_ = fmax(floor_, rca_p.rel * lvl);
		if (rca_series_score(nv, nr, av, ar, floor_, &col[i].z, &col[i].dir, &col[i].onset,
		                     &col[i].peak, NULL) < 0)
			col[i].z = 0.0;
	}
	free(frel);
	free(fabs_);

	/*
	 * 4. Votes.  Each family hands out one vote, split between services in
	 * proportion to their deviation in it; propagating families weigh
	 * `prop`, and with a call graph a caller's share in a propagating family
	 * is passed to its callees' when one of them deviates at least half as
	 * much.  A service's evidence (for the rationale) is its column with the
	 * largest vote.
	 */
	long *pick = xmalloc((ns + 1) * sizeof *pick);
	double *pick_vote = xcalloc(ns + 1, sizeof *pick_vote);
	for (size_t i = 0; i < ns; i++)
		pick[i] = -1;
	double *ftot = xcalloc(nfam + 1, sizeof *ftot), *fmax_ = xcalloc(nfam + 1, sizeof *fmax_);
	size_t *fmoved = xcalloc(nfam + 1, sizeof *fmoved);
	for (size_t i = 0; i < ncol; i++)
		if (!col[i].shared) {
			ftot[col[i].fam] += col[i].z;
			fmax_[col[i].fam] = fmax(fmax_[col[i].fam], col[i].z);
			fmoved[col[i].fam] += col[i].z > 3.0;
		}
	for (size_t i = 0; i < ncol; i++) {
		struct rca_col *c = &col[i];
		/* A family where nothing moved beyond a few spreads votes little. */
		double m = fmax_[c->fam], h = rca_p.zh;
		double strength = h > 0.0 ? m * m / (m * m + h * h) : 1.0;
		c->vote = c->shared || ftot[c->fam] <= 0.0 ? 0.0 : strength * c->z / ftot[c->fam];
		/* Propagation shows as the same family moving in several services. */
		if (c->prop && (rca_p.spread == 0.0 || fmoved[c->fam] >= 2))
			c->vote *= rca_p.prop;
	}
	free(fmoved);
	free(ftot);
	free(fmax_);
	if (o && o->edges)
		for (size_t i = 0; i < ncol; i++) {
			struct rca_col *c = &col[i];
			if (c->shared || !c->prop || c->vote <= 0.0)
				continue;
			for (size_t j = 0; j < ncol; j++) {
				const struct rca_col *d = &col[j];
				if (d->shared || j == i || d->fam != c->fam || d->z < 0.5 * c->z)
					continue;
				int calls = 0;
				for (size_t e = 0; e < o->nedges && !calls; e++)
					calls =
					    strcmp(o->edges[e].from, svc[c->svc].service) == 0 &&
					    strcmp(o->edges[e].to, svc[d->svc].service) == 0;
				if (calls) {
					c->vote *= 0.5;
					break;
				}
			}
		}
	for (size_t i = 0; i < ncol; i++) {
		struct rca_col *k = &col[i];
		if (k->shared)
			continue;
		svc[k->svc].score += k->vote;
		if (pick[k->svc] < 0 || k->vote > pick_vote[k->svc] ||
		    (k->vote == pick_vote[k->svc] && k->z > col[pick[k->svc]].z)) {
			pick[k->svc] = (long)i;
			pick_vote[k->svc] = k->vote;
		}
	}
	free(pick_vote);

	/* 5. Order, confidence, rationale. */
	for (size_t i = 0; i < ns; i++) {
		struct rca_service *v = &svc[i];
		if (pick[i] < 0)
			continue;
		const struct rca_col *k = &col[pick[i]];
		str_copy(v->metric, sizeof v->metric, anomalous->names[k->ac]);
		v->direction = k->dir >= 0 ? 1 : -1;
		v->onset_ms = anomalous->ts_ms[k->onset];
		v->before = k->med;
		v->z = k->z;
		v->after = anomalous->v[k->peak * anomalous->cols + k->ac];
	}
	free(pick);
	for (size_t i = 1; i < ns; i++) {
		struct rca_service x = svc[i];
		size_t j = i;
		while (j > 0 && svc[j - 1].score < x.score) {
			svc[j] = svc[j - 1];
			j--;
		}
		svc[j] = x;
	}
	double rest = 0.0;
	for (size_t k = 1; k < ns; k++)
		rest += svc[k].score;
	for (size_t i = 0; i < ns; i++) {
		struct rca_service *v = &svc[i];
		if (i == 0) {
			/* Nothing beyond a few spreads: nothing to be confident about
			 * (the fit saw only real faults). */
			double g = v->z * v->z / (v->z * v->z + 9.0);
			v->confidence =
			    v->score > 0.0
			        ? g * rca_confidence(v->score, ns > 1 ? svc[1].score : 0.0, ns)
			        : 0.0;
		} else {
			/* The rest of the chance, shared in proportion to votes. */
			v->confidence =
			    rest > 0.0 ? (1.0 - svc[0].confidence) * v->score / rest : 0.0;
		}
		char b[32], a[32];
		rca_fmt_num(v->before, b, sizeof b);
		rca_fmt_num(v->after, a, sizeof a);
		const char *unit = rca_unit_of(v->metric);
		if (v->metric[0] == '\0')
			snprintf(v->why, sizeof v->why, "no metric of %s could be scored",
			         v->service);
		else if (v->z >= RCA_Z_MAX)
			snprintf(v->why, sizeof v->why,
			         "%s of %s %s from %s%s to %s%s (over %.0f spreads)",
			         rca_family(v->metric), v->service,
			         v->direction > 0 ? "rose" : "fell", b, unit, a, unit, RCA_Z_MAX);
		else if (v->z < 3.0)
			snprintf(
			    v->why, sizeof v->why,
			    "%s of %s stayed within its usual range (%s%s to %s%s, %.1f spreads)",
			    rca_family(v->metric), v->service, b, unit, a, unit, v->z);
		else
			snprintf(v->why, sizeof v->why,
			         "%s of %s %s from %s%s to %s%s (%.1f spreads)",
			         rca_family(v->metric), v->service,
			         v->direction > 0 ? "rose" : "fell", b, unit, a, unit, v->z);
	}
	free(col);
	free(fam);
	free(nv);
	free(tmp);
	free(av);
	*out = svc;
	*n = ns;
	return 0;
}

int rca_rank(const struct csv_table *normal, const struct csv_table *anomalous,
             struct rca_service **out, size_t *n, char *err, size_t errlen)
{
	return rca_rank_opts(normal, anomalous, NULL, out, n, err, errlen);
}
