/*
 * analyze.c: anomalies and root-cause ranking for one window (analyze.h).
 *
 * The combination weights are deliberately plain and visible in the
 * rationale: combined = log1p(strength) * (1 + 0.5 |r|) * early * graph,
 * with early = 1.25 when the service deviated no later than the symptom
 * (0.8 when later), graph = 1.3 on the symptom's dependency path, 0.7 off
 * it (1 for the symptom service itself).  Without a configured graph the
 * direction is learned from the points before the split: when a service's
 * step-to-step changes lead the symptom's by 1-5 steps (lagged |r| >= 0.3
 * and 0.15 above the other direction) graph = 1.15, when they follow 0.87.
 */
#include "analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "rca.h"
#include "timeutil.h"

int analyze_graph_add(struct analyze_graph *g, const char *name, const char *deps)
{
	if (g->n == ANALYZE_MAX_SERVICES)
		return -1;
	size_t i = g->n++;
	str_copy(g->svc[i].name, sizeof g->svc[i].name, name);
	g->svc[i].ndep = 0;
	char *copy = xstrdup(deps), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (g->svc[i].ndep == ANALYZE_MAX_DEPS) {
			rc = -1;
			break;
		}
		str_copy(g->svc[i].dep[g->svc[i].ndep++], 128, t);
	}
	free(copy);
	return rc;
}

static int analyze_graph_find(const struct analyze_graph *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->svc[i].name, name) == 0)
			return (int)i;
	return -1;
}

int analyze_graph_reaches(const struct analyze_graph *g, const char *from, const char *to)
{
	/* Breadth-first over at most ANALYZE_MAX_SERVICES nodes. */
	int queue[ANALYZE_MAX_SERVICES], seen[ANALYZE_MAX_SERVICES] = {0};
	size_t head = 0, tail = 0;
	int s = analyze_graph_find(g, from);
	if (s < 0)
		return 0;
	queue[tail++] = s;
	seen[s] = 1;
	while (head < tail) {
		int u = queue[head++];
		for (size_t k = 0; k < g->svc[u].ndep; k++) {
			if (strcmp(g->svc[u].dep[k], to) == 0)
				return 1;
			int v = analyze_graph_find(g, g->svc[u].dep[k]);
			if (v >= 0 && !seen[v] && tail < ANALYZE_MAX_SERVICES) {
				seen[v] = 1;
				queue[tail++] = v;
			}
		}
	}
	return 0;
}

struct analyze_anom {
	size_t series;
	int64_t start, end;
	double score;
	int direction;
};

struct analyze_svc {
	char name[128];
	size_t best; /* series index of the strongest deviation */
	double strength;
	int direction;
	int64_t onset;
	double r, early, graph, combined, confidence;
	double before, peak; /* baseline median before the split, value at the peak */
	int lead;            /* learned: +steps its changes lead the symptom's, -steps follow */
	double lead_r;
};

static int analyze_dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of the series' values before the split (NaN when none). */
static double analyze_baseline(const struct source_series *s, int64_t split)
{
	double *v = xmalloc((s->n + 1) * sizeof *v);
	size_t m = 0;
	for (size_t k = 0; k < s->n && s->ts_ms[k] < split; k++)
		if (!isnan(s->v[k]))
			v[m++] = s->v[k];
	double med = NAN;
	if (m) {
		qsort(v, m, sizeof *v, analyze_dbl_cmp);
		med = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
	}
	free(v);
	return med;
}

/* A number people read: 3 significant digits, no exponent for everyday sizes. */
static void analyze_num(double v, char *buf, size_t len)
{
	double a = fabs(v);
	if (isnan(v))
		snprintf(buf, len, "?");
	else if (a >= 1e6 || (a > 0 && a < 1e-3))
		snprintf(buf, len, "%.3g", v);
	else if (a >= 100)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

static int analyze_anom_cmp(const void *a, const void *b)
{
	const struct analyze_anom *x = a, *y = b;
	return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

static int analyze_svc_cmp(const void *a, const void *b)
{
	const struct analyze_svc *x = a, *y = b;
	return x->combined < y->combined ? 1 : x->combined > y->combined ? -1 : 0;
}

/* Pearson r over points with equal timestamps (series from one source share steps). */
static double analyze_corr(const struct source_series *a, const struct source_series *b)
{
	double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
	size_t n = 0, j = 0;
	for (size_t i = 0; i < a->n; i++) {
		while (j < b->n && b->ts_ms[j] < a->ts_ms[i])
			j++;
		if (j == b->n)
			break;
		if (b->ts_ms[j] != a->ts_ms[i] || isnan(a->v[i]) || isnan(b->v[j]))
			continue;
		double x = a->v[i], y = b->v[j];
		sx += x;
		sy += y;
		sxx += x * x;
		syy += y * y;
		sxy += x * y;
		n++;
	}
	if (n < 3)
		return 0.0;
	double cov = sxy - sx * sy / (double)n;
	double vx = sxx - sx * sx / (double)n, vy = syy - sy * sy / (double)n;
	if (vx <= 1e-12 || vy <= 1e-12)
		return 0.0;
	return cov / sqrt(vx * vy);
}

/*
 * Which of two series moves first in normal operation: lagged correlation of
 * their step-to-step changes over the points before the split, at lags 1..5
 * either way.  Returns +lag when a's changes lead b's (a is upstream: a
 * likely callee whose slowness reaches b), -lag when they follow, 0 when
 * neither direction is clearly stronger; *r gets the winning |r|.
 */
#define ANALYZE_MAX_LAG 5
static int analyze_lead(const struct source_series *a, const struct source_series *b, int64_t split,
                        double *r)
{
	*r = 0.0;
	/* Aligned changes (series from one source share timestamps). */
	size_t cap = a->n < b->n ? a->n : b->n;
	if (cap < 3)
		return 0;
	double *da = xmalloc(cap * sizeof *da), *db = xmalloc(cap * sizeof *db);
	size_t n = 0, j = 0;
	double pa = NAN, pb = NAN;
	for (size_t i = 0; i < a->n && a->ts_ms[i] < split; i++) {
		while (j < b->n && b->ts_ms[j] < a->ts_ms[i])
			j++;
		if (j == b->n)
			break;
		if (b->ts_ms[j] != a->ts_ms[i])
			continue;
		double x = a->v[i], y = b->v[j];
		if (!isnan(x) && !isnan(y) && !isnan(pa) && !isnan(pb) && n < cap) {
			da[n] = x - pa;
			db[n] = y - pb;
			n++;
		}
		pa = x;
		pb = y;
	}
	int best_lag = 0;
	double best[2] = {0.0, 0.0}; /* [0]: a leads, [1]: a follows */
	int at[2] = {0, 0};
	for (int lag = 1; lag <= ANALYZE_MAX_LAG && n > 30 + (size_t)lag; lag++)
		for (int dir = 0; dir < 2; dir++) {
			const double *x = dir == 0 ? da : db, *y = dir == 0 ? db : da;
			size_t m = n - (size_t)lag;
			double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
			for (size_t t = 0; t < m; t++) {
				double u = x[t], w = y[t + (size_t)lag];
				sx += u;
				sy += w;
				sxx += u * u;
				syy += w * w;
				sxy += u * w;
			}
			double vx = sxx - sx * sx / (double)m, vy = syy - sy * sy / (double)m;
			if (vx <= 1e-12 || vy <= 1e-12)
				continue;
			double c = fabs((sxy - sx * sy / (double)m) / sqrt(vx * vy));
			if (c > best[dir]) {
				best[dir] = c;
				at[dir] = lag;
			}
		}
	free(da);
	free(db);
	/* A direction counts when it is clearly stronger and not noise. */
	if (best[0] >= 0.3 && best[0] > best[1] + 0.15) {
		best_lag = at[0];
		*r = best[0];
	} else if (best[1] >= 0.3 && best[1] > best[0] + 0.15) {
		best_lag = -at[1];
		*r = best[1];
	}
	return best_lag;
}

static void analyze_hhmm(int64_t ms, char *buf, size_t len)
{
	char iso[40];
	time_fmt_iso(ms, iso, sizeof iso);
	/* "2026-11-21T04:50:00.123Z" -> "04:50:00 UTC" */
	snprintf(buf, len, "%.8s UTC", strlen(iso) >= 19 ? iso + 11 : iso);
}

static void analyze_span(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms < 0 ? -ms : ms;
	if (s < 120000)
		snprintf(buf, len, "%lld s", (long long)(s / 1000));
	else if (s < 7200000)
		snprintf(buf, len, "%lld min", (long long)(s / 60000));
	else
		snprintf(buf, len, "%lld h", (long long)(s / 3600000));
}

/* analyze_run's working state: the anomaly spans found, the services seen
 * with their strongest series, and the two symptom candidates. */
struct analyze_state {
	struct analyze_anom *an;
	size_t nan, capan;
	struct analyze_svc *sv;
	size_t nsv;
	long sym_flag, sym_svc; /* series indices */
	double sym_flag_z, sym_svc_z;
	/* After analyze_combine: the symptom series (-1: none), when it
	 * started to deviate (-1: unknown) and its service. */
	long symptom;
	int64_t symptom_onset;
	const char *symptom_svc;
};

/* One series' deviation after the split: the strongest bounded z, its
 * direction and value, and when z first passed 3 (-1: never). */
struct analyze_dev {
	double z;
	int dir;
	int64_t onset;
	double peak;
};

static void analyze_push_anom(struct analyze_state *st, const struct analyze_anom *a)
{
	if (st->nan == st->capan) {
		st->capan = st->capan ? st->capan * 2 : 16;
		st->an = xrealloc(st->an, st->capan * sizeof *st->an);
	}
	st->an[st->nan++] = *a;
}

/* Step 1: stream series i through the detector, collect its anomaly spans
 * around the incident and measure its deviation after the split. */
static struct analyze_dev analyze_scan(struct analyze_state *st, struct detector *d,
                                       const struct source_series *s, size_t i, int64_t split,
                                       const struct analyze_opts *o)
{
	detector_reset(d);
	struct analyze_anom cur = {0};
	int open = 0;
	/* Warm-up as NAB's probation: the detector was tuned not to be
	 * trusted over the first min(15%, 750) points. */
	size_t warm = (size_t)(0.15 * (double)s->n);
	if (warm > 750)
		warm = 750;
	struct analyze_dev dv = {-1.0, 0, -1, NAN};
	for (size_t k = 0; k < s->n; k++) {
		struct detector_parts pt;
		double sc = detector_step(d, s->ts_ms[k], s->v[k], &pt);
		if (s->ts_ms[k] >= split) {
			/* Strength: the baseline z (seasonal when a season is known),
			 * bounded so that a flat baseline cannot read as 1e15. */
			double zk = fmin(pt.season > 0.0 ? pt.season : pt.level, RCA_Z_MAX);
			if (zk > dv.z) {
				dv.z = zk;
				dv.dir = pt.direction;
				dv.peak = s->v[k];
			}
			if (zk > 3.0 && dv.onset < 0)
				dv.onset = s->ts_ms[k];
		}
		/* Anomalies are reported around the incident: from the split on,
		 * and never during warm-up; what came before is the baseline. */
		if (k < warm || s->ts_ms[k] < split)
			continue;
		double zb = pt.season > 0.0 ? pt.season : pt.level;
		if (!open && sc >= o->threshold && zb >= o->min_z) {
			cur = (struct analyze_anom){i, s->ts_ms[k], s->ts_ms[k], sc, pt.direction};
			open = 1;
		} else if (open && (pt.level >= 3.0 || sc >= o->threshold)) {
			cur.end = s->ts_ms[k];
			cur.score = fmax(cur.score, sc);
		} else if (open) {
			open = 0;
			analyze_push_anom(st, &cur);
		}
	}
	if (open)
		analyze_push_anom(st, &cur);
	return dv;
}

/* Step 2: keep series i as a symptom candidate (the strongest flagged
 * series, else the strongest of the incident's own service) and as its
 * service's strongest series. */
static void analyze_note(struct analyze_state *st, const struct source_series *s, size_t i,
                         const struct analyze_dev *dv, int64_t split, const struct analyze_opts *o)
{
	double z = dv->z;
	if (s->symptom && z > st->sym_flag_z) {
		st->sym_flag = (long)i;
		st->sym_flag_z = z;
	} else if (!s->symptom && o->service && strcmp(s->service, o->service) == 0 &&
	           z > st->sym_svc_z) {
		st->sym_svc = (long)i;
		st->sym_svc_z = z;
	}
	struct analyze_svc *sv = st->sv;
	size_t k = 0;
	while (k < st->nsv && strcmp(sv[k].name, s->service) != 0)
		k++;
	if (k == st->nsv) {
		str_copy(sv[k].name, sizeof sv[k].name, s->service);
		sv[k].strength = -1.0;
		st->nsv++;
	}
	if (z > sv[k].strength) {
		sv[k].strength = z;
		sv[k].best = i;
		sv[k].direction = dv->dir;
		sv[k].onset = dv->onset;
		sv[k].peak = dv->peak;
		sv[k].before = analyze_baseline(s, split);
	}
}

/* Step 3: pick the symptom, weigh each service (correlation with the
 * symptom, timing, dependency direction), rank them and share out the
 * confidence over the top five. */
static void analyze_combine(struct analyze_state *st, const struct source_list *l,
                            const struct analyze_opts *o, int64_t split)
{
	struct analyze_svc *sv = st->sv;
	size_t nsv = st->nsv;
	long symptom = st->sym_flag >= 0 ? st->sym_flag : st->sym_svc;
	int64_t symptom_onset = -1;
	const char *symptom_svc = o->service;
	if (symptom >= 0) {
		for (size_t k = 0; k < nsv; k++)
			if (sv[k].best == (size_t)symptom)
				symptom_onset = sv[k].onset;
		if (!symptom_svc)
			symptom_svc = l->s[symptom].service;
	}
	for (size_t k = 0; k < nsv; k++) {
		struct analyze_svc *v = &sv[k];
		v->r = symptom >= 0 && v->best != (size_t)symptom
		           ? fabs(analyze_corr(&l->s[v->best], &l->s[symptom]))
		           : 0.0;
		v->early = v->onset < 0 || symptom_onset < 0 ? 1.0
		           : v->onset <= symptom_onset       ? 1.25
		                                             : 0.8;
		v->graph = 1.0;
		v->lead = 0;
		if (o->graph && o->graph->n && symptom_svc && strcmp(v->name, symptom_svc) != 0) {
			v->graph =
			    analyze_graph_reaches(o->graph, symptom_svc, v->name) ? 1.3 : 0.7;
		} else if (symptom >= 0 && v->best != (size_t)symptom && symptom_svc &&
		           strcmp(v->name, symptom_svc) != 0) {
			/* No call graph: learn the direction from normal operation. */
			v->lead = analyze_lead(&l->s[v->best], &l->s[symptom], split, &v->lead_r);
			v->graph = v->lead > 0 ? 1.15 : v->lead < 0 ? 0.87 : 1.0;
		}
		v->combined =
		    log1p(fmax(v->strength, 0.0)) * (1.0 + 0.5 * v->r) * v->early * v->graph;
	}
	if (nsv)
		qsort(sv, nsv, sizeof *sv, analyze_svc_cmp);
	double sum = 0.0;
	for (size_t k = 0; k < nsv && k < 5; k++)
		sum += sv[k].combined;
	for (size_t k = 0; k < nsv; k++)
		sv[k].confidence = sum > 0 ? sv[k].combined / sum : 0.0;
	st->symptom = symptom;
	st->symptom_onset = symptom_onset;
	st->symptom_svc = symptom_svc;
}

/* Step 4a: the strongest anomaly spans, at most o->max_anomalies. */
static cJSON *analyze_anomalies_json(struct analyze_state *st, const struct source_list *l,
                                     const struct analyze_opts *o)
{
	struct analyze_anom *an = st->an;
	cJSON *arr = json_new_array();
	if (st->nan) /* qsort(NULL, 0) is undefined behaviour */
		qsort(an, st->nan, sizeof *an, analyze_anom_cmp);
	for (size_t k = 0; k < st->nan && k < o->max_anomalies; k++) {
		cJSON *a = json_new_object();
		json_add_str(a, "series", l->s[an[k].series].name);
		json_add_str(a, "service", l->s[an[k].series].service);
		json_add_int(a, "start_ms", an[k].start);
		json_add_int(a, "end_ms", an[k].end);
		json_add_num(a, "score", round(an[k].score * 1000.0) / 1000.0);
		json_add_str(a, "direction", an[k].direction >= 0 ? "up" : "down");
		cJSON_AddItemToArray(arr, a);
	}
	return arr;
}

/* Step 4b: one service's rationale: what its metric did and when, how that
 * relates to the symptom, and which way the dependency points. */
static void analyze_why(const struct analyze_state *st, const struct source_list *l,
                        const struct analyze_svc *v, char *why, size_t whylen)
{
	long symptom = st->symptom;
	int64_t symptom_onset = st->symptom_onset;
	const char *symptom_svc = st->symptom_svc;
	char when[32], lead[32];
	analyze_hhmm(v->onset, when, sizeof when);
	analyze_span(symptom_onset - v->onset, lead, sizeof lead);
	int n;
	const char *unit = rca_unit_of(l->s[v->best].name);
	char b[32], a[32], spreads[40];
	analyze_num(v->before, b, sizeof b);
	analyze_num(v->peak, a, sizeof a);
	if (v->strength >= RCA_Z_MAX)
		snprintf(spreads, sizeof spreads, "over %.0f spreads", RCA_Z_MAX);
	else
		snprintf(spreads, sizeof spreads, "%.1f spreads", v->strength);
	if (v->onset < 0)
		n = snprintf(why, whylen, "%s stayed within its usual range (%s)",
		             l->s[v->best].name, spreads);
	else
		n = snprintf(why, whylen, "%s %s from %s%s to %s%s (%s) at %s", l->s[v->best].name,
		             v->direction >= 0 ? "rose" : "fell", b, unit, a, unit, spreads, when);
	if (symptom >= 0 && v->best != (size_t)symptom && v->onset >= 0 && symptom_onset >= 0 &&
	    n > 0 && (size_t)n < whylen) {
		if (v->onset == symptom_onset)
			n += snprintf(why + n, whylen - (size_t)n,
			              ", at the same time as the symptom (%s)", l->s[symptom].name);
		else
			n += snprintf(why + n, whylen - (size_t)n, ", %s %s the symptom (%s)", lead,
			              v->onset < symptom_onset ? "before" : "after",
			              l->s[symptom].name);
	}
	if (symptom >= 0 && v->best != (size_t)symptom && n > 0 && (size_t)n < whylen)
		n += snprintf(why + n, whylen - (size_t)n, "; r=%.2f with it", v->r);
	if (v->lead != 0 && n > 0 && (size_t)n < whylen)
		snprintf(why + n, whylen - (size_t)n,
		         "; before the incident its changes %s the symptom's by %d step%s "
		         "(lagged r=%.2f)",
		         v->lead > 0 ? "led" : "followed", abs(v->lead),
		         abs(v->lead) == 1 ? "" : "s", v->lead_r);
	else if (v->graph > 1.0 && n > 0 && (size_t)n < whylen)
		snprintf(why + n, whylen - (size_t)n, "; %s depends on it", symptom_svc);
	else if (v->graph < 1.0 && n > 0 && (size_t)n < whylen)
		snprintf(why + n, whylen - (size_t)n, "; not on %s's dependency path", symptom_svc);
}

/* Step 4c: the top ten services with their rationale; top gets the first
 * one's line for the summary (left empty when there is none). */
static cJSON *analyze_ranking_json(const struct analyze_state *st, const struct source_list *l,
                                   char *top, size_t toplen)
{
	cJSON *arr = json_new_array();
	for (size_t k = 0; k < st->nsv && k < 10; k++) {
		const struct analyze_svc *v = &st->sv[k];
		char why[600];
		analyze_why(st, l, v, why, sizeof why);
		cJSON *r = json_new_object();
		json_add_str(r, "service", v->name);
		json_add_num(r, "confidence", round(v->confidence * 1000.0) / 1000.0);
		json_add_str(r, "rationale", why);
		json_add_str(r, "metric", l->s[v->best].name);
		json_add_num(r, "score", round(v->strength * 100.0) / 100.0);
		cJSON_AddItemToArray(arr, r);
		if (k == 0)
			snprintf(top, toplen, "%s (confidence %.2f): %s", v->name, v->confidence,
			         why);
	}
	return arr;
}

int analyze_run(const struct source_list *l, const struct analyze_opts *o, cJSON **result,
                char *err, size_t errlen)
{
	if (l->n == 0) {
		snprintf(err, errlen, "no metric series in the window");
		return -1;
	}
	struct analyze_state st = {
	    .sv = xcalloc(l->n, sizeof *st.sv),
	    .sym_flag = -1,
	    .sym_svc = -1,
	    .sym_flag_z = -1.0,
	    .sym_svc_z = -1.0,
	};
	int64_t split = o->incident_ms - o->lead_ms;
	struct detector *d = detector_new(&o->params);
	for (size_t i = 0; i < l->n; i++) {
		struct analyze_dev dv = analyze_scan(&st, d, &l->s[i], i, split, o);
		if (dv.z < 0.0)
			continue; /* no points after the split */
		analyze_note(&st, &l->s[i], i, &dv, split, o);
	}
	detector_free(d);
	analyze_combine(&st, l, o, split);

	cJSON *res = json_new_object();
	json_add(res, "anomalies", analyze_anomalies_json(&st, l, o));
	char top[800] = "";
	json_add(res, "ranking", analyze_ranking_json(&st, l, top, sizeof top));
	json_add_int(res, "series", (int64_t)l->n);
	char summary[1000];
	snprintf(summary, sizeof summary, "%zu anomal%s in %zu series. Most likely cause: %s",
	         st.nan, st.nan == 1 ? "y" : "ies", l->n, st.nsv ? top : "none found");
	json_add_str(res, "summary", summary);
	free(st.an);
	free(st.sv);
	*result = res;
	return 0;
}
