/*
 * nab_bench.c: `make bench BENCH=nab` -- opsbot's detector on the NAB subset
 * in ../shared/datasets/nab, scored with opsbot's own NAB scorer (nab.c).
 *
 * Usage: detect_nab DATASET_DIR
 * Every file is scored exactly as `opsbot-detect score FILE` does: the same
 * CSV reader and a fresh detector with the shipped defaults.
 *
 * Prints one JSON line:
 *   standard, low_fp, low_fn   in-sample: the defaults, one threshold per
 *                              profile swept over all 41 files (as NAB does);
 *   *_locv                     leave-one-category-out: for each of the 5
 *                              categories, the candidate configuration and
 *                              threshold that score best on the other 4 are
 *                              used to score it; the held-out raw scores are
 *                              summed and normalised over the corpus;
 *   points_per_s               detector points per second on one core, over
 *                              the NAB files (shorter than the baseline window);
 *   points_per_s_long          the same on a 200,000-point series (full windows).
 * When the data set is absent it prints {"bench":"nab","skipped":...}, exit 0.
 *
 * Candidates: the defaults plus the lines of OPSBOT_NAB_CANDIDATES (a file,
 * one "key=value,..." spec per line, '#' comments), default
 * workers/detect/bench/nab_candidates.txt when run by make.
 * OPSBOT_DETECT_PARAMS="key=value,..." overrides the defaults (for sweeps);
 * OPSBOT_NAB_VERBOSE=1 prints per-file scores and the per-fold choices.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "csv.h"
#include "detector.h"
#include "json.h"
#include "mem.h"
#include "nab.h"
#include "timeutil.h"

/* CPU time of this thread in microseconds: rates per core, not per share of
 * a busy machine. */
static int64_t cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define MAX_FILES 128
#define MAX_CANDS 64
#define MAX_CATS  16

static int bench_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct bench_data {
	size_t n;
	struct csv_series s;
	struct nab_window *win;
	size_t nwin;
	int cat;
};

/* Scores of every file under one configuration, as the CLI computes them. */
static void bench_run(const struct detector_params *p, struct bench_data *data, size_t nfiles,
                      struct nab_file *out, size_t *points, int64_t *busy_us)
{
	for (size_t i = 0; i < nfiles; i++) {
		const struct csv_series *s = &data[i].s;
		double *score = xmalloc((s->n + 1) * sizeof *score);
		int64_t t0 = cpu_us();
		struct detector *d = detector_new(p);
		for (size_t j = 0; j < s->n; j++)
			score[j] = detector_step(d, s->ts_ms[j], s->v[j], NULL);
		detector_free(d);
		if (busy_us)
			*busy_us += cpu_us() - t0;
		if (points)
			*points += s->n;
		out[i] = (struct nab_file){
		    .n = s->n, .score = score, .nwin = data[i].nwin, .win = data[i].win};
	}
}

/*
 * Points per second on a long series (200,000 points at 5-minute steps, a
 * daily cycle and noise), where every window is full: the NAB files are
 * shorter than the default baseline window, so their rate flatters.
 */
static double bench_long_rate(const struct detector_params *p)
{
	enum { LONG_N = 200000 };
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	double *v = xmalloc(LONG_N * sizeof *v);
	for (size_t i = 0; i < LONG_N; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		double u = (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
		v[i] = 100.0 + 20.0 * sin(2.0 * M_PI * (double)(i % 288) / 288.0) + 10.0 * u;
	}
	struct detector *d = detector_new(p);
	int64_t t0 = cpu_us();
	double sink = 0.0;
	for (size_t i = 0; i < LONG_N; i++)
		sink += detector_step(d, (int64_t)i * 300000, v[i], NULL);
	int64_t us = cpu_us() - t0;
	detector_free(d);
	free(v);
	return us > 0 && sink >= 0.0 ? (double)LONG_N * 1e6 / (double)us : 0.0;
}

static double bench_norm(double raw, size_t nwin, const struct nab_profile *p)
{
	double null_ = -p->fn * (double)nwin, perfect = p->tp * (double)nwin;
	return 100.0 * (raw - null_) / (perfect - null_);
}

/* The defaults (or OPSBOT_DETECT_PARAMS) and the lines of
 * OPSBOT_NAB_CANDIDATES; -1 after a message on stderr. */
static int bench_candidates(struct detector_params *cand, char **cand_spec, size_t *ncand)
{
	char err[512];
	*ncand = 0;
	cand[0] = DETECTOR_DEFAULTS;
	const char *spec = getenv("OPSBOT_DETECT_PARAMS");
	if (spec && detector_params_parse(&cand[0], spec, err, sizeof err) < 0) {
		fprintf(stderr, "detect_nab: %s\n", err);
		return -1;
	}
	cand_spec[(*ncand)++] = xstrdup(spec ? spec : "defaults");
	const char *cpath = getenv("OPSBOT_NAB_CANDIDATES");
	FILE *cf = cpath && *cpath ? fopen(cpath, "r") : NULL;
	if (cpath && *cpath && !cf) {
		fprintf(stderr, "detect_nab: %s: cannot open\n", cpath);
		return -1;
	}
	char line[1024];
	int rc = 0;
	while (cf && fgets(line, sizeof line, cf) && *ncand < MAX_CANDS) {
		line[strcspn(line, "#\r\n")] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		cand[*ncand] = cand[0];
		if (detector_params_parse(&cand[*ncand], line, err, sizeof err) < 0) {
			fprintf(stderr, "detect_nab: %s: %s\n", cpath, err);
			rc = -1;
			break;
		}
		cand_spec[(*ncand)++] = xstrdup(line);
	}
	if (cf)
		fclose(cf);
	return rc;
}

/* The corpus: files named by the label file, in a stable order. */
struct bench_corpus {
	cJSON *labels;
	char *names[MAX_FILES];
	size_t nfiles;
	struct bench_data *data;
	char cats[MAX_CATS][128];
	size_t ncats, total_win;
};

/* The category of a file: the directory its name starts with. */
static int bench_category(struct bench_corpus *c, const char *name)
{
	size_t cl = strcspn(name, "/");
	size_t k = 0;
	while (k < c->ncats && (strlen(c->cats[k]) != cl || strncmp(c->cats[k], name, cl) != 0))
		k++;
	if (k == c->ncats) {
		if (c->ncats == MAX_CATS) {
			fprintf(stderr, "detect_nab: more than %d categories\n", MAX_CATS);
			return -1;
		}
		snprintf(c->cats[c->ncats++], sizeof c->cats[0], "%.*s", (int)cl, name);
	}
	return (int)k;
}

/* A file's labelled windows as index ranges into its series. */
static int bench_windows(const cJSON *wins, const char *name, struct bench_data *d)
{
	const struct csv_series *s = &d->s;
	size_t nw = (size_t)cJSON_GetArraySize(wins);
	struct nab_window *win = xcalloc(nw + 1, sizeof *win);
	size_t k = 0;
	const cJSON *w;
	d->win = win;
	cJSON_ArrayForEach(w, wins)
	{
		int64_t a, b;
		if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != 2 ||
		    !cJSON_IsString(cJSON_GetArrayItem(w, 0)) ||
		    !cJSON_IsString(cJSON_GetArrayItem(w, 1)) ||
		    csv_parse_time(cJSON_GetArrayItem(w, 0)->valuestring, &a) < 0 ||
		    csv_parse_time(cJSON_GetArrayItem(w, 1)->valuestring, &b) < 0) {
			fprintf(stderr, "detect_nab: bad window in %s\n", name);
			return -1;
		}
		size_t l = 0;
		while (l < s->n && s->ts_ms[l] < a)
			l++;
		size_t r = l;
		while (r + 1 < s->n && s->ts_ms[r + 1] <= b)
			r++;
		if (l < s->n)
			win[k++] = (struct nab_window){l, r};
	}
	d->nwin = k;
	return 0;
}

/* Labels, series, categories and windows of every file under dir. */
static int bench_load(struct bench_corpus *c, const char *dir, const char *label_path)
{
	char err[512], path[4096];
	struct buf text = {0};
	if (buf_read_file(&text, label_path, err, sizeof err) < 0 ||
	    json_parse_object(text.data ? text.data : "", text.len, &c->labels, err, sizeof err) <
	        0) {
		fprintf(stderr, "detect_nab: %s: %s\n", label_path, err);
		buf_free(&text);
		return -1;
	}
	buf_free(&text);
	const cJSON *it;
	cJSON_ArrayForEach(it, c->labels)
	{
		if (c->nfiles < MAX_FILES)
			c->names[c->nfiles++] = it->string;
	}
	qsort(c->names, c->nfiles, sizeof c->names[0], bench_name_cmp);
	c->data = xcalloc(c->nfiles, sizeof *c->data);
	for (size_t i = 0; i < c->nfiles; i++) {
		snprintf(path, sizeof path, "%s/data/%s", dir, c->names[i]);
		if (csv_read_series(path, &c->data[i].s, err, sizeof err) < 0) {
			fprintf(stderr, "detect_nab: %s\n", err);
			return -1;
		}
		c->data[i].cat = bench_category(c, c->names[i]);
		const cJSON *wins = cJSON_GetObjectItemCaseSensitive(c->labels, c->names[i]);
		if (c->data[i].cat < 0 || bench_windows(wins, c->names[i], &c->data[i]) < 0)
			return -1;
		c->total_win += c->data[i].nwin;
	}
	return 0;
}

static void bench_corpus_free(struct bench_corpus *c)
{
	for (size_t i = 0; c->data && i < c->nfiles; i++) {
		free(c->data[i].win);
		csv_series_free(&c->data[i].s);
	}
	free(c->data);
	cJSON_Delete(c->labels);
}

/*
 * Leave one category out for one profile: for each category, the candidate
 * and threshold best on the others score it; returns the normalised sum.
 * files: ncand x nfiles scores.
 */
static double bench_locv(const struct bench_corpus *c, const struct nab_file *files, size_t ncand,
                         const struct nab_profile *prof, char *const *cand_spec, int verbose)
{
	struct nab_file *train = xcalloc(c->nfiles, sizeof *train);
	double raw = 0.0;
	for (size_t k = 0; k < c->ncats; k++) {
		double bs = -1e300, bt = 1.0;
		size_t bc = 0;
		for (size_t j = 0; j < ncand; j++) {
			size_t nt = 0;
			for (size_t i = 0; i < c->nfiles; i++)
				if (c->data[i].cat != (int)k)
					train[nt++] = files[j * c->nfiles + i];
			double t, s;
			if (nab_sweep(train, nt, prof, &t, &s) < 0)
				continue;
			if (s > bs) {
				bs = s;
				bt = t;
				bc = j;
			}
		}
		double held = 0.0;
		for (size_t i = 0; i < c->nfiles; i++)
			if (c->data[i].cat == (int)k)
				held += nab_score_file(&files[bc * c->nfiles + i], bt, prof);
		raw += held;
		if (verbose)
			fprintf(stderr,
			        "locv %s: held out %-22s candidate %zu (%s) theta %.4f "
			        "train %.1f held-out raw %.2f\n",
			        prof->name, c->cats[k], bc, cand_spec[bc], bt, bs, held);
	}
	free(train);
	return bench_norm(raw, c->total_win, prof);
}

/* OPSBOT_NAB_VERBOSE: each file's windows, detections and raw score. */
static void bench_per_file(const struct bench_corpus *c, const struct nab_file *files, double theta)
{
	for (size_t i = 0; i < c->nfiles; i++) {
		double s = nab_score_file(&files[i], theta, &NAB_STANDARD);
		size_t det = 0;
		for (size_t j = nab_probation(files[i].n); j < files[i].n; j++)
			det += files[i].score[j] >= theta;
		fprintf(stderr, "%-60s windows=%zu detections=%zu raw=%.3f\n", c->names[i],
		        files[i].nwin, det, s);
	}
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/datasets/nab";
	char path[4096];
	snprintf(path, sizeof path, "%s/labels/combined_windows.json", dir);
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("{\"bench\":\"nab\",\"skipped\":\"%s absent\"}\n", dir);
		return 0;
	}
	struct detector_params cand[MAX_CANDS];
	char *cand_spec[MAX_CANDS];
	size_t ncand = 0;
	if (bench_candidates(cand, cand_spec, &ncand) < 0)
		return 2;
	int verbose = getenv("OPSBOT_NAB_VERBOSE") != NULL;
	static struct bench_corpus corpus;
	struct bench_corpus *c = &corpus;
	if (bench_load(c, dir, path) < 0)
		return 2;

	/* Scores: candidate 0 (the defaults) is the one timed. */
	struct nab_file *files = xcalloc(ncand * c->nfiles, sizeof *files);
	size_t total_points = 0;
	int64_t busy_us = 0;
	for (size_t j = 0; j < ncand; j++)
		bench_run(&cand[j], c->data, c->nfiles, &files[j * c->nfiles],
		          j == 0 ? &total_points : NULL, j == 0 ? &busy_us : NULL);

	const struct nab_profile *prof[3] = {&NAB_STANDARD, &NAB_LOW_FP, &NAB_LOW_FN};
	double best[3], theta[3], locv[3];
	for (int p = 0; p < 3; p++) {
		if (nab_sweep(files, c->nfiles, prof[p], &theta[p], &best[p]) < 0) {
			fprintf(stderr, "detect_nab: no windows in the corpus\n");
			return 2;
		}
		locv[p] = bench_locv(c, files, ncand, prof[p], cand_spec, verbose);
	}
	if (verbose)
		bench_per_file(c, files, theta[0]);
	double pps = busy_us > 0 ? (double)total_points * 1e6 / (double)busy_us : 0.0;
	printf("{\"bench\":\"nab\",\"standard\":%.1f,\"low_fp\":%.1f,\"low_fn\":%.1f,"
	       "\"standard_locv\":%.1f,\"low_fp_locv\":%.1f,\"low_fn_locv\":%.1f,"
	       "\"threshold\":%.4f,\"threshold_low_fp\":%.4f,\"threshold_low_fn\":%.4f,"
	       "\"candidates\":%zu,\"points_per_s\":%.0f,\"points_per_s_long\":%.0f,"
	       "\"files\":%zu,\"points\":%zu}\n",
	       best[0], best[1], best[2], locv[0], locv[1], locv[2], theta[0], theta[1], theta[2],
	       ncand, pps, bench_long_rate(&cand[0]), c->nfiles, total_points);
	for (size_t i = 0; i < ncand * c->nfiles; i++)
		free((void *)files[i].score);
	for (size_t j = 0; j < ncand; j++)
		free(cand_spec[j]);
	free(files);
	bench_corpus_free(c);
	return 0;
}
