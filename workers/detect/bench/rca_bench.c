/*
 * rca_bench.c: `make bench BENCH=rca` -- opsbot's root-cause ranking on
 * ../shared/datasets/rca-sockshop and ../shared/datasets/rca-nezha, beside an
 * NSigma baseline computed here on the same cases.
 *
 * Usage: detect_rca DATASETS_DIR
 * Sock Shop: <service>-<fault>/<run>/normal.csv and anomalous.csv, the true
 * cause is <service>.  Nezha: <day>/metric/<pod>_metric.csv (one row a minute
 * per pod) and <day>/<day>-fault_list.json; a case is one injection, normal
 * = the 5 minutes before it (not before the previous fault's 4 minutes
 * after), anomalous = the 4 minutes from it; the cause is the pod's service.
 * When faults come back to back (fewer than 3 clean minutes), the normal
 * window is the 5 minutes before the previous fault instead.
 * The OnlineBoutique day's metric/dependency.csv is the call graph when
 * OPSBOT_RCA_GRAPH=1 (off by default: the ranker must do without one).
 *
 * One JSON line: per data set AC@1, AC@3, AC@5, Avg@5 for opsbot and for
 * NSigma (max |x - mean| / sd over the anomalous rows, sd 0 read as 1, as
 * RCAEval's implementation does), the accuracy of the cases whose top
 * confidence is >= 0.8 (and how many), and the time to rank a synthetic
 * 40 services x 20 metrics x 10 rows case.  Data sets that are absent are
 * skipped; when all are, a "skipped" line, exit 0.
 * OPSBOT_RCA_VERBOSE=1: one line per case on stderr.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "csv.h"
#include "json.h"
#include "mem.h"
#include "rca.h"
#include "timeutil.h"

/* CPU time of this thread in microseconds: rates per core, not per share of
 * a busy machine. */
static int64_t cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

enum { DS_SOCK, DS_OB, DS_TT, NDS };
static const char *ds_name[NDS] = {"sockshop", "nezha_ob", "nezha_tt"};

struct tally {
	double hit[5], base[5];
	int cases;
	int conf_n, conf_hit; /* cases with top confidence >= 0.8 */
	int bucket[5][2];     /* confidence buckets [0,.2) .. [.8,1]: cases, hits */
	char type[8][32];     /* fault types seen, and per type: cases, hits at 1 */
	int type_n[8], type_hit[8], ntypes;
};

static struct tally tally[NDS];
static int verbose;
static struct rca_opts *day_opts[NDS];

/* NSigma: per metric max |x - mean| / sd over the anomalous rows. */
static void nsigma_rank(const struct csv_table *nt, const struct csv_table *at,
                        char (*svc)[RCA_NAME_MAX], double *score, size_t *ns)
{
	*ns = 0;
	for (size_t c = 0; c < at->cols; c++) {
		size_t nc = 0;
		while (nc < nt->cols && strcmp(nt->names[nc], at->names[c]) != 0)
			nc++;
		if (nc == nt->cols)
			continue;
		double s = 0, ss = 0;
		size_t m = 0;
		for (size_t r = 0; r < nt->rows; r++) {
			double x = nt->v[r * nt->cols + nc];
			if (isnan(x))
				continue;
			s += x;
			ss += x * x;
			m++;
		}
		if (m < 2)
			continue;
		double mean = s / (double)m, var = ss / (double)m - mean * mean;
		double sd = var > 1e-24 ? sqrt(var) : 1.0;
		double best = 0;
		for (size_t r = 0; r < at->rows; r++) {
			double x = at->v[r * at->cols + c];
			if (!isnan(x) && fabs(x - mean) / sd > best)
				best = fabs(x - mean) / sd;
		}
		char name[RCA_NAME_MAX];
		rca_service_of(at->names[c], name, sizeof name);
		size_t k = 0;
		while (k < *ns && strcmp(svc[k], name) != 0)
			k++;
		if (k == *ns) {
			str_copy(svc[k], RCA_NAME_MAX, name);
			score[k] = best;
			(*ns)++;
		} else if (best > score[k]) {
			score[k] = best;
		}
	}
}

/* A case, kept so that every candidate setting ranks the same tables. */
struct rcase {
	int ds;
	char label[300], truth[RCA_NAME_MAX], type[32];
	struct csv_table nt, at;
	const struct rca_opts *o;
	size_t base_rank; /* NSigma's rank of the truth (0 = first) */
};
static struct rcase *cases;
static size_t ncases;

static size_t nsigma_case(const struct csv_table *nt, const struct csv_table *at, const char *truth)
{
	size_t cap = at->cols + 1, nb;
	char(*bs)[RCA_NAME_MAX] = xcalloc(cap, sizeof *bs);
	double *bsc = xcalloc(cap, sizeof *bsc);
	nsigma_rank(nt, at, bs, bsc, &nb);
	size_t truth_i = 0;
	while (truth_i < nb && strcmp(bs[truth_i], truth) != 0)
		truth_i++;
	size_t brank = 0; /* services scoring strictly higher, then earlier ties */
	for (size_t k = 0; k < nb && truth_i < nb; k++)
		if (bsc[k] > bsc[truth_i] || (bsc[k] == bsc[truth_i] && k < truth_i))
			brank++;
	if (truth_i == nb)
		brank = nb;
	free(bs);
	free(bsc);
	return brank;
}

/* Takes ownership of the tables. */
static void add_case(int ds, const char *label, struct csv_table *nt, struct csv_table *at,
                     const struct rca_opts *o, const char *truth, const char *type)
{
	cases = xrealloc(cases, (ncases + 1) * sizeof *cases);
	struct rcase *c = &cases[ncases++];
	memset(c, 0, sizeof *c);
	c->ds = ds;
	str_copy(c->label, sizeof c->label, label);
	str_copy(c->truth, sizeof c->truth, truth);
	str_copy(c->type, sizeof c->type, type);
	c->nt = *nt;
	c->at = *at;
	c->o = o;
	c->base_rank = nsigma_case(nt, at, truth);
	memset(nt, 0, sizeof *nt);
	memset(at, 0, sizeof *at);
}

/* Rank one case with the current setting: the truth's rank (0 = first), and
 * the top confidence.  With t, tally it (and say it when verbose). */
static size_t run_case(const struct rcase *c, struct tally *t, double *confp)
{
	struct rca_service *svc;
	size_t ns;
	char err[512];
	if (rca_rank_opts(&c->nt, &c->at, c->o, &svc, &ns, err, sizeof err) < 0) {
		fprintf(stderr, "detect_rca: %s: %s\n", c->label, err);
		ns = 0;
		svc = NULL;
	}
	size_t rank = 0;
	while (rank < ns && strcmp(svc[rank].service, c->truth) != 0)
		rank++;
	double conf = ns ? svc[0].confidence : 0.0;
	if (confp)
		*confp = conf;
	if (!t) {
		free(svc);
		return rank;
	}
	for (size_t k = 0; k < 5; k++) {
		t->hit[k] += rank <= k;
		t->base[k] += c->base_rank <= k;
	}
	t->cases++;
	int b = (int)(conf * 5.0);
	b = b < 0 ? 0 : b > 4 ? 4 : b;
	t->bucket[b][0]++;
	t->bucket[b][1] += rank == 0;
	int ty = 0;
	while (ty < t->ntypes && strcmp(t->type[ty], c->type) != 0)
		ty++;
	if (ty == t->ntypes && ty < 8)
		str_copy(t->type[t->ntypes++], sizeof t->type[0], c->type);
	if (ty < 8) {
		t->type_n[ty]++;
		t->type_hit[ty] += rank == 0;
	}
	if (conf >= 0.8) {
		t->conf_n++;
		t->conf_hit += rank == 0;
	}
	double total = 0.0;
	for (size_t k = 0; k < ns; k++)
		total += svc[k].score;
	if (verbose)
		fprintf(stderr,
		        "%-10s %-40s truth=%-22s rank=%-3zu nsigma=%-3zu conf=%.2f s1=%.4f s2=%.4f "
		        "sum=%.4f n=%zu top=%s (%s)\n",
		        ds_name[c->ds], c->label, c->truth, rank + 1, c->base_rank + 1, conf,
		        ns ? svc[0].score : 0.0, ns > 1 ? svc[1].score : 0.0, total, ns,
		        ns ? svc[0].service : "-", ns ? svc[0].why : "-");
	free(svc);
	return rank;
}

static int run_sockshop(const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		char *dash = strrchr(de->d_name, '-');
		if (de->d_name[0] == '.' || !dash)
			continue;
		char truth[RCA_NAME_MAX];
		snprintf(truth, sizeof truth, "%.*s", (int)(dash - de->d_name), de->d_name);
		for (int run = 1; run <= 99; run++) {
			char np[8600], ap[8600], err[512], label[300];
			snprintf(np, sizeof np, "%s/%s/%d/normal.csv", dir, de->d_name, run);
			snprintf(ap, sizeof ap, "%s/%s/%d/anomalous.csv", dir, de->d_name, run);
			struct stat st;
			if (stat(np, &st) != 0)
				break;
			struct csv_table nt, at;
			if (csv_read_table(np, &nt, err, sizeof err) < 0 ||
			    csv_read_table(ap, &at, err, sizeof err) < 0) {
				fprintf(stderr, "detect_rca: %s\n", err);
				exit(2);
			}
			snprintf(label, sizeof label, "%s/%d", de->d_name, run);
			add_case(DS_SOCK, label, &nt, &at, NULL, truth, dash + 1);
		}
	}
	closedir(dp);
	return 1;
}

/* One pod's metric file: rows of (time, values). */
struct pod {
	char svc[RCA_NAME_MAX];
	size_t n;
	int64_t *ts;
	double *v; /* n * nm */
};

struct day {
	size_t nm;
	char **metric;
	struct pod *pod;
	size_t npod;
};

static void service_of_pod(const char *pod, char *buf, size_t len)
{
	str_copy(buf, len, pod);
	for (int k = 0; k < 2; k++) {
		char *d = strrchr(buf, '-');
		if (d)
			*d = '\0';
	}
}

static int load_pod(const char *path, struct day *d)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	char *line = xmalloc(1 << 16);
	struct pod p = {0};
	size_t cap = 0;
	int first = 1;
	while (fgets(line, 1 << 16, fp)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *f[64];
		size_t nf = 0;
		for (char *s = line; nf < 64;) {
			f[nf++] = s;
			char *c = strchr(s, ',');
			if (!c)
				break;
			*c = '\0';
			s = c + 1;
		}
		if (first) {
			first = 0;
			if (nf < 4 || strcmp(f[2], "PodName") != 0)
				break;
			if (!d->metric) {
				d->nm = nf - 3;
				d->metric = xcalloc(d->nm, sizeof *d->metric);
				for (size_t i = 0; i < d->nm; i++)
					d->metric[i] = xstrdup(f[i + 3]);
			} else if (nf - 3 != d->nm) {
				break;
			}
			continue;
		}
		if (nf != d->nm + 3 || strlen(f[0]) < 19)
			continue;
		char t[20];
		memcpy(t, f[0], 19);
		t[19] = '\0';
		int64_t ms;
		if (csv_parse_time(t, &ms) < 0)
			continue;
		if (p.n == 0)
			service_of_pod(f[2], p.svc, sizeof p.svc);
		if (p.n == cap) {
			cap = cap ? cap * 2 : 1024;
			p.ts = xrealloc(p.ts, cap * sizeof *p.ts);
			p.v = xrealloc(p.v, cap * d->nm * sizeof *p.v);
		}
		p.ts[p.n] = ms;
		for (size_t i = 0; i < d->nm; i++)
			p.v[p.n * d->nm + i] = strtod(f[i + 3], NULL);
		p.n++;
	}
	free(line);
	fclose(fp);
	if (p.n == 0) {
		free(p.ts);
		free(p.v);
		return -1;
	}
	d->pod = xrealloc(d->pod, (d->npod + 1) * sizeof *d->pod);
	d->pod[d->npod++] = p;
	return 0;
}

/* A table of every pod's metrics at minutes [from, to) relative to t0. */
static void build_table(const struct day *d, int64_t t0, int from, int to, int64_t not_before,
                        struct csv_table *t)
{
	size_t rows = (size_t)(to - from), cols = d->npod * d->nm;
	memset(t, 0, sizeof *t);
	t->cols = cols;
	t->names = xcalloc(cols, sizeof *t->names);
	t->ts_ms = xcalloc(rows, sizeof *t->ts_ms);
	t->v = xmalloc(rows * cols * sizeof *t->v);
	for (size_t p = 0; p < d->npod; p++)
		for (size_t m = 0; m < d->nm; m++) {
			char name[300];
			snprintf(name, sizeof name, "%s_%s", d->pod[p].svc, d->metric[m]);
			t->names[p * d->nm + m] = xstrdup(name);
		}
	for (int b = from; b < to; b++) {
		int64_t lo = t0 + (int64_t)b * 60000, hi = lo + 60000;
		if (lo < not_before)
			continue;
		size_t r = t->rows++;
		t->ts_ms[r] = lo;
		for (size_t p = 0; p < d->npod; p++) {
			const struct pod *pd = &d->pod[p];
			size_t i = 0;
			while (i < pd->n && pd->ts[i] < lo)
				i++;
			int ok = i < pd->n && pd->ts[i] < hi;
			for (size_t m = 0; m < d->nm; m++)
				t->v[r * cols + p * d->nm + m] = ok ? pd->v[i * d->nm + m] : NAN;
		}
	}
}

/* Every pod's metric file of a day, in a stable pod order; 0 when the day
 * has no metric directory. */
static int nezha_load_pods(const char *dir, const char *dayname, struct day *d)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s/metric", dir, dayname);
	DIR *dp = opendir(path);
	if (!dp)
		return 0;
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0;
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name);
		if (l > 11 && strcmp(de->d_name + l - 11, "_metric.csv") == 0) {
			names = xrealloc(names, (nn + 1) * sizeof *names);
			names[nn++] = xstrdup(de->d_name);
		}
	}
	closedir(dp);
	for (size_t i = 1; i < nn; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *x = names[j];
			names[j] = names[j - 1];
			names[j - 1] = x;
		}
	for (size_t i = 0; i < nn; i++) {
		snprintf(path, sizeof path, "%s/%s/metric/%s", dir, dayname, names[i]);
		load_pod(path, d);
		free(names[i]);
	}
	free(names);
	return 1;
}

static void day_free(struct day *d)
{
	for (size_t p = 0; p < d->npod; p++) {
		free(d->pod[p].ts);
		free(d->pod[p].v);
	}
	free(d->pod);
	for (size_t m = 0; m < d->nm; m++)
		free(d->metric[m]);
	free(d->metric);
}

/* The ranking options of a day, with its call graph (caller -> callee) when
 * OPSBOT_RCA_GRAPH is set; kept for the program's life. */
static struct rca_opts *nezha_opts(const char *dir, const char *dayname)
{
	struct rca_opts *o = xcalloc(1, sizeof *o);
	struct rca_edge *edges = NULL;
	size_t ne = 0;
	char line[1024], path[4096];
	snprintf(path, sizeof path, "%s/%s/metric/dependency.csv", dir, dayname);
	FILE *gf = getenv("OPSBOT_RCA_GRAPH") ? fopen(path, "r") : NULL;
	while (gf && fgets(line, sizeof line, gf) && ne < 512) {
		char *a = strtok(line, ",\r\n"), *b = strtok(NULL, ",\r\n");
		if (!a || !b || strcmp(a, "Source") == 0)
			continue;
		edges = xrealloc(edges, (ne + 1) * sizeof *edges);
		edges[ne] = (struct rca_edge){xstrdup(a), xstrdup(b)};
		ne++;
	}
	if (gf)
		fclose(gf);
	o->edges = edges;
	o->nedges = ne;
	return o;
}

/* One injection from the fault list. */
struct fault {
	int64_t t;
	char pod[RCA_NAME_MAX], type[64];
};

/* Every injection of a day, in time order; exits on a bad fault list. */
static struct fault *nezha_faults(const char *dir, const char *dayname, size_t *nfp)
{
	char path[4096], err[512];
	snprintf(path, sizeof path, "%s/%s/%s-fault_list.json", dir, dayname, dayname);
	struct buf text = {0};
	cJSON *faults = NULL;
	if (buf_read_file(&text, path, err, sizeof err) < 0 ||
	    json_parse_object(text.data ? text.data : "", text.len, &faults, err, sizeof err) < 0) {
		fprintf(stderr, "detect_rca: %s\n", err);
		exit(2);
	}
	buf_free(&text);
	struct fault *fl = NULL;
	size_t nf = 0;
	const cJSON *hour, *f;
	cJSON_ArrayForEach(hour, faults)
	{
		cJSON_ArrayForEach(f, hour)
		{
			const cJSON *it = cJSON_GetObjectItem(f, "inject_time");
			const cJSON *pod = cJSON_GetObjectItem(f, "inject_pod");
			const cJSON *ty = cJSON_GetObjectItem(f, "inject_type");
			int64_t ms;
			if (!cJSON_IsString(it) || !cJSON_IsString(pod) ||
			    csv_parse_time(it->valuestring, &ms) < 0)
				continue;
			fl = xrealloc(fl, (nf + 1) * sizeof *fl);
			fl[nf].t = ms;
			str_copy(fl[nf].pod, RCA_NAME_MAX, pod->valuestring);
			str_copy(fl[nf].type, 64, cJSON_IsString(ty) ? ty->valuestring : "?");
			nf++;
		}
	}
	cJSON_Delete(faults);
	for (size_t i = 1; i < nf; i++)
		for (size_t j = i; j > 0 && fl[j - 1].t > fl[j].t; j--) {
			struct fault x = fl[j];
			fl[j] = fl[j - 1];
			fl[j - 1] = x;
		}
	*nfp = nf;
	return fl;
}

/* Fault i's case: 5 minutes of normal before it, 4 anomalous after. */
static void nezha_case(const struct day *d, const struct fault *fl, size_t i,
                       const struct rca_opts *o, int ds)
{
	int64_t not_before = i ? fl[i - 1].t + 4 * 60000 : 0;
	struct csv_table nt, at;
	build_table(d, fl[i].t, -5, 0, not_before, &nt);
	if (nt.rows < 3 && i > 0) {
		/* Faults back to back: the 5 minutes before the previous one
		 * (and after the one before that) are the cleanest normal. */
		csv_table_free(&nt);
		int64_t nb2 = i > 1 ? fl[i - 2].t + 4 * 60000 : 0;
		int64_t back = (fl[i].t - fl[i - 1].t + 59999) / 60000;
		build_table(d, fl[i].t, -5 - (int)back, -(int)back, nb2, &nt);
	}
	build_table(d, fl[i].t, 0, 4, 0, &at);
	char truth[RCA_NAME_MAX], label[300], iso[40];
	service_of_pod(fl[i].pod, truth, sizeof truth);
	time_fmt_iso(fl[i].t, iso, sizeof iso);
	snprintf(label, sizeof label, "%.19s %s", iso, fl[i].type);
	if (nt.rows >= 2 && at.rows >= 1)
		add_case(ds, label, &nt, &at, o, truth, fl[i].type);
	else
		fprintf(stderr, "detect_rca: %s %s: skipped, %zu normal and %zu anomalous rows\n",
		        ds_name[ds], label, nt.rows, at.rows);
	csv_table_free(&nt);
	csv_table_free(&at);
}

static int run_nezha_day(const char *dir, const char *dayname, int ds)
{
	struct day d = {0};
	if (!nezha_load_pods(dir, dayname, &d))
		return 0;
	struct rca_opts *o = nezha_opts(dir, dayname);
	day_opts[ds] = o;
	size_t nf = 0;
	struct fault *fl = nezha_faults(dir, dayname, &nf);
	for (size_t i = 0; i < nf; i++)
		nezha_case(&d, fl, i, o, ds);
	free(fl);
	day_free(&d);
	return 1;
}

/* Median time to rank 40 services x 20 metrics x 10 rows (5 normal, 5 anomalous). */
static double speed_ms(void)
{
	enum { S = 40, M = 20, R = 5 };
	struct csv_table t[2];
	uint64_t x = 88172645463325252ULL;
	for (int k = 0; k < 2; k++) {
		memset(&t[k], 0, sizeof t[k]);
		t[k].rows = R;
		t[k].cols = S * M;
		t[k].names = xcalloc(S * M, sizeof(char *));
		t[k].ts_ms = xcalloc(R, sizeof(int64_t));
		t[k].v = xmalloc(R * S * M * sizeof(double));
		t[k].note = NULL;
		for (size_t c = 0; c < S * M; c++) {
			char name[64];
			snprintf(name, sizeof name, "svc%02zu_metric%02zu", c / M, c % M);
			t[k].names[c] = xstrdup(name);
		}
		for (size_t r = 0; r < R; r++) {
			t[k].ts_ms[r] = (int64_t)(k * R + r) * 60000;
			for (size_t c = 0; c < S * M; c++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				double v = 100.0 + (double)(x % 1000) / 100.0;
				if (k == 1 && c == 7 * M + 3)
					v *= 3.0;
				t[k].v[r * S * M + c] = v;
			}
		}
	}
	double best = 1e9;
	for (int rep = 0; rep < 21; rep++) {
		int64_t t0 = cpu_us();
		struct rca_service *svc;
		size_t ns;
		char err[256];
		if (rca_rank(&t[0], &t[1], &svc, &ns, err, sizeof err) == 0)
			free(svc);
		double ms = (double)(cpu_us() - t0) / 1000.0;
		best = ms < best ? ms : best;
	}
	csv_table_free(&t[0]);
	csv_table_free(&t[1]);
	return best;
}

/* Candidate settings for the cross-validation: one per line, "key=v,..."
 * over the shipped defaults; the first is the shipped setting itself. */
static char **cand;
static size_t ncand;

static void load_candidates(void)
{
	cand = xcalloc(1, sizeof *cand);
	cand[ncand++] = xstrdup("");
	const char *path = getenv("OPSBOT_RCA_CANDIDATES");
	FILE *fp = path && *path ? fopen(path, "r") : NULL;
	if (path && *path && !fp) {
		fprintf(stderr, "detect_rca: cannot open %s\n", path);
		exit(2);
	}
	char line[512];
	while (fp && fgets(line, sizeof line, fp)) {
		line[strcspn(line, "#\r\n")] = '\0';
		if (!line[strspn(line, " \t")])
			continue;
		cand = xrealloc(cand, (ncand + 1) * sizeof *cand);
		cand[ncand++] = xstrdup(line);
	}
	if (fp)
		fclose(fp);
}

/* Defaults, then OPSBOT_RCA_PARAMS, then the candidate. */
static int apply_params(const char *spec)
{
	rca_tune_defaults();
	const char *specs[2] = {getenv("OPSBOT_RCA_PARAMS"), spec};
	for (int i = 0; i < 2; i++) {
		if (!specs[i] || !*specs[i])
			continue;
		char *copy = xstrdup(specs[i]), *save = NULL;
		for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			char *eq = strchr(t, '=');
			if (!eq || (*eq = '\0', rca_tune(t, strtod(eq + 1, NULL))) < 0) {
				fprintf(stderr, "detect_rca: bad setting '%s'\n", t);
				free(copy);
				return -1;
			}
		}
		free(copy);
	}
	return 0;
}

/* Out of sample: for each data set, the candidate with the best mean
 * AC@1 (AC@3 breaking ties, then the earlier candidate) over the other data
 * sets, scored on this one. */
struct cv {
	double hit[5];
	int cases, conf_n, conf_hit;
	size_t pick;
};
static struct cv cvres[NDS];

static void cross_validate(const int *have)
{
	size_t *rank = xmalloc(ncand * ncases * sizeof *rank);
	double *conf = xmalloc(ncand * ncases * sizeof *conf);
	for (size_t k = 0; k < ncand; k++) {
		if (apply_params(cand[k]) < 0)
			exit(2);
		for (size_t i = 0; i < ncases; i++)
			rank[k * ncases + i] = run_case(&cases[i], NULL, &conf[k * ncases + i]);
	}
	apply_params("");
	for (int h = 0; h < NDS; h++) {
		if (!have[h])
			continue;
		double best = -1.0;
		for (size_t k = 0; k < ncand; k++) {
			double sum = 0.0;
			for (int ds = 0; ds < NDS; ds++) {
				if (ds == h || !tally[ds].cases)
					continue;
				double a1 = 0, a3 = 0;
				for (size_t i = 0; i < ncases; i++)
					if (cases[i].ds == ds) {
						a1 += rank[k * ncases + i] == 0;
						a3 += rank[k * ncases + i] <= 2;
					}
				sum += (a1 + 0.01 * a3) / tally[ds].cases;
			}
			if (sum > best + 1e-12) {
				best = sum;
				cvres[h].pick = k;
			}
		}
		size_t k = cvres[h].pick;
		for (size_t i = 0; i < ncases; i++) {
			if (cases[i].ds != h)
				continue;
			size_t r = rank[k * ncases + i];
			for (int j = 0; j < 5; j++)
				cvres[h].hit[j] += r <= (size_t)j;
			cvres[h].cases++;
			if (conf[k * ncases + i] >= 0.8) {
				cvres[h].conf_n++;
				cvres[h].conf_hit += r == 0;
			}
		}
	}
	free(rank);
	free(conf);
}

static void print_ds(int ds)
{
	const struct tally *t = &tally[ds];
	const struct cv *v = &cvres[ds];
	double n = t->cases ? t->cases : 1, avg = 0, bavg = 0, cavg = 0;
	for (int k = 0; k < 5; k++) {
		avg += t->hit[k] / n / 5.0;
		bavg += t->base[k] / n / 5.0;
		cavg += v->hit[k] / n / 5.0;
	}
	printf(
	    ",\"%s\":{\"cases\":%d,\"ac1\":%.2f,\"ac3\":%.2f,\"ac5\":%.2f,\"avg5\":%.2f,"
	    "\"ac1_cv\":%.2f,\"ac3_cv\":%.2f,\"ac5_cv\":%.2f,\"avg5_cv\":%.2f,\"cv_pick\":%zu,"
	    "\"nsigma_ac1\":%.2f,\"nsigma_ac3\":%.2f,\"nsigma_ac5\":%.2f,\"nsigma_avg5\":%.2f,"
	    "\"conf08_cases\":%d,\"conf08_ac1\":%.2f,\"conf08_cases_cv\":%d,\"conf08_ac1_cv\":%.2f,"
	    "\"ac1_by_fault\":{",
	    ds_name[ds], t->cases, t->hit[0] / n, t->hit[2] / n, t->hit[4] / n, avg, v->hit[0] / n,
	    v->hit[2] / n, v->hit[4] / n, cavg, v->pick, t->base[0] / n, t->base[2] / n,
	    t->base[4] / n, bavg, t->conf_n, t->conf_n ? (double)t->conf_hit / t->conf_n : 0.0,
	    v->conf_n, v->conf_n ? (double)v->conf_hit / v->conf_n : 0.0);
	for (int k = 0; k < t->ntypes; k++)
		printf("%s\"%s\":[%d,%.2f]", k ? "," : "", t->type[k], t->type_n[k],
		       (double)t->type_hit[k] / t->type_n[k]);
	printf("}}");
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/datasets";
	verbose = getenv("OPSBOT_RCA_VERBOSE") != NULL;
	load_candidates();
	if (apply_params("") < 0)
		return 2;
	char path[4096];
	int have[NDS] = {0};
	int64_t t0 = cpu_us();
	snprintf(path, sizeof path, "%s/rca-sockshop", dir);
	have[DS_SOCK] = run_sockshop(path);
	snprintf(path, sizeof path, "%s/rca-nezha", dir);
	have[DS_OB] = run_nezha_day(path, "2022-08-22", DS_OB);
	have[DS_TT] = run_nezha_day(path, "2023-01-29", DS_TT);
	if (!have[DS_SOCK] && !have[DS_OB] && !have[DS_TT]) {
		printf("{\"bench\":\"rca\",\"skipped\":\"%s/rca-sockshop and rca-nezha absent\"}\n",
		       dir);
		return 0;
	}
	/* In sample: the shipped setting on every case. */
	for (size_t i = 0; i < ncases; i++)
		run_case(&cases[i], &tally[cases[i].ds], NULL);
	int64_t total_ms = (cpu_us() - t0) / 1000;
	cross_validate(have);
	printf("{\"bench\":\"rca\",\"candidates\":%zu", ncand);
	for (int ds = 0; ds < NDS; ds++)
		if (have[ds])
			print_ds(ds);
	/* Calibration over every case: accuracy per top-confidence bucket. */
	int cn = 0, ch = 0;
	printf(",\"calibration\":{");
	for (int b = 0; b < 5; b++) {
		int n = 0, h = 0;
		for (int ds = 0; ds < NDS; ds++) {
			n += tally[ds].bucket[b][0];
			h += tally[ds].bucket[b][1];
		}
		printf("%s\"%.1f-%.1f\":[%d,%.2f]", b ? "," : "", b / 5.0, (b + 1) / 5.0, n,
		       n ? (double)h / n : 0.0);
	}
	for (int ds = 0; ds < NDS; ds++) {
		cn += tally[ds].conf_n;
		ch += tally[ds].conf_hit;
	}
	printf("},\"conf08_cases\":%d,\"conf08_ac1\":%.2f,\"rank_40x20x10_ms\":%.3f,\"ms\":%lld}\n",
	       cn, cn ? (double)ch / cn : 0.0, speed_ms(), (long long)total_ms);
	for (size_t i = 0; i < ncases; i++) {
		csv_table_free(&cases[i].nt);
		csv_table_free(&cases[i].at);
	}
	free(cases);
	for (size_t k = 0; k < ncand; k++)
		free(cand[k]);
	free(cand);
	for (int ds = 0; ds < NDS; ds++)
		if (day_opts[ds]) {
			for (size_t e = 0; e < day_opts[ds]->nedges; e++) {
				free((char *)day_opts[ds]->edges[e].from);
				free((char *)day_opts[ds]->edges[e].to);
			}
			free((struct rca_edge *)day_opts[ds]->edges);
			free(day_opts[ds]);
		}
	return 0;
}
