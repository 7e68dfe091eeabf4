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
	char err[512];
	struct detector_params cand[MAX_CANDS];
	char *cand_spec[MAX_CANDS];
	size_t ncand = 0;
	cand[0] = DETECTOR_DEFAULTS;
	const char *spec = getenv("OPSBOT_DETECT_PARAMS");
	if (spec && detector_params_parse(&cand[0], spec, err, sizeof err) < 0) {
		fprintf(stderr, "detect_nab: %s\n", err);
		return 2;
	}
	cand_spec[ncand++] = xstrdup(spec ? spec : "defaults");
	const char *cpath = getenv("OPSBOT_NAB_CANDIDATES");
	FILE *cf = cpath && *cpath ? fopen(cpath, "r") : NULL;
	if (cpath && *cpath && !cf) {
		fprintf(stderr, "detect_nab: %s: cannot open\n", cpath);
		return 2;
	}
	char line[1024];
	while (cf && fgets(line, sizeof line, cf) && ncand < MAX_CANDS) {
		line[strcspn(line, "#\r\n")] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		cand[ncand] = cand[0];
		if (detector_params_parse(&cand[ncand], line, err, sizeof err) < 0) {
			fprintf(stderr, "detect_nab: %s: %s\n", cpath, err);
			return 2;
		}
		cand_spec[ncand++] = xstrdup(line);
	}
	if (cf)
		fclose(cf);
	int verbose = getenv("OPSBOT_NAB_VERBOSE") != NULL;

	struct buf text = {0};
	cJSON *labels;
	if (buf_read_file(&text, path, err, sizeof err) < 0 ||
	    json_parse_object(text.data ? text.data : "", text.len, &labels, err, sizeof err) < 0) {
		fprintf(stderr, "detect_nab: %s: %s\n", path, err);
		return 2;
	}
	buf_free(&text);

	/* Files in a stable order: every key of the label file. */
	char *names[MAX_FILES];
	size_t nfiles = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, labels)
	{
		if (nfiles < MAX_FILES)
			names[nfiles++] = it->string;
	}
	qsort(names, nfiles, sizeof names[0], bench_name_cmp);

	char cats[MAX_CATS][128];
	size_t ncats = 0, total_win = 0;
	struct bench_data *data = xcalloc(nfiles, sizeof *data);
	for (size_t i = 0; i < nfiles; i++) {
		snprintf(path, sizeof path, "%s/data/%s", dir, names[i]);
		struct csv_series *s = &data[i].s;
		if (csv_read_series(path, s, err, sizeof err) < 0) {
			fprintf(stderr, "detect_nab: %s\n", err);
			return 2;
		}
		size_t cl = strcspn(names[i], "/");
		size_t c = 0;
		while (c < ncats && (strlen(cats[c]) != cl || strncmp(cats[c], names[i], cl) != 0))
			c++;
		if (c == ncats) {
			if (ncats == MAX_CATS) {
				fprintf(stderr, "detect_nab: more than %d categories\n", MAX_CATS);
				return 2;
			}
			snprintf(cats[ncats++], sizeof cats[0], "%.*s", (int)cl, names[i]);
		}
		data[i].cat = (int)c;

		const cJSON *wins = cJSON_GetObjectItemCaseSensitive(labels, names[i]);
		size_t nw = (size_t)cJSON_GetArraySize(wins);
		struct nab_window *win = xcalloc(nw + 1, sizeof *win);
		size_t k = 0;
		const cJSON *w;
		cJSON_ArrayForEach(w, wins)
		{
			int64_t a, b;
			if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != 2 ||
			    !cJSON_IsString(cJSON_GetArrayItem(w, 0)) ||
			    !cJSON_IsString(cJSON_GetArrayItem(w, 1)) ||
			    csv_parse_time(cJSON_GetArrayItem(w, 0)->valuestring, &a) < 0 ||
			    csv_parse_time(cJSON_GetArrayItem(w, 1)->valuestring, &b) < 0) {
				fprintf(stderr, "detect_nab: bad window in %s\n", names[i]);
				return 2;
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
		data[i].win = win;
		data[i].nwin = k;
		total_win += k;
	}

	/* Scores: candidate 0 (the defaults) is the one timed. */
	struct nab_file *files = xcalloc(ncand * nfiles, sizeof *files);
	size_t total_points = 0;
	int64_t busy_us = 0;
	for (size_t c = 0; c < ncand; c++)
		bench_run(&cand[c], data, nfiles, &files[c * nfiles], c == 0 ? &total_points : NULL,
		          c == 0 ? &busy_us : NULL);

	const struct nab_profile *prof[3] = {&NAB_STANDARD, &NAB_LOW_FP, &NAB_LOW_FN};
	double best[3], theta[3], locv[3];
	struct nab_file *train = xcalloc(nfiles, sizeof *train);
	for (int p = 0; p < 3; p++) {
		if (nab_sweep(files, nfiles, prof[p], &theta[p], &best[p]) < 0) {
			fprintf(stderr, "detect_nab: no windows in the corpus\n");
			return 2;
		}
		/* Leave one category out: choose on the rest, score the one left. */
		double raw = 0.0;
		for (size_t k = 0; k < ncats; k++) {
			double bs = -1e300, bt = 1.0;
			size_t bc = 0;
			for (size_t c = 0; c < ncand; c++) {
				size_t nt = 0;
				for (size_t i = 0; i < nfiles; i++)
					if (data[i].cat != (int)k)
						train[nt++] = files[c * nfiles + i];
				double t, s;
				if (nab_sweep(train, nt, prof[p], &t, &s) < 0)
					continue;
				if (s > bs) {
					bs = s;
					bt = t;
					bc = c;
				}
			}
			double held = 0.0;
			for (size_t i = 0; i < nfiles; i++)
				if (data[i].cat == (int)k)
					held +=
					    nab_score_file(&files[bc * nfiles + i], bt, prof[p]);
			raw += held;
			if (verbose)
				fprintf(stderr,
				        "locv %s: held out %-22s candidate %zu (%s) theta %.4f "
				        "train %.1f held-out raw %.2f\n",
				        prof[p]->name, cats[k], bc, cand_spec[bc], bt, bs, held);
		}
		locv[p] = bench_norm(raw, total_win, prof[p]);
	}
	if (verbose) {
		for (size_t i = 0; i < nfiles; i++) {
			double s = nab_score_file(&files[i], theta[0], &NAB_STANDARD);
			size_t det = 0;
			for (size_t j = nab_probation(files[i].n); j < files[i].n; j++)
				det += files[i].score[j] >= theta[0];
			fprintf(stderr, "%-60s windows=%zu detections=%zu raw=%.3f\n", names[i],
			        files[i].nwin, det, s);
		}
	}
	double pps = busy_us > 0 ? (double)total_points * 1e6 / (double)busy_us : 0.0;
	printf("{\"bench\":\"nab\",\"standard\":%.1f,\"low_fp\":%.1f,\"low_fn\":%.1f,"
	       "\"standard_locv\":%.1f,\"low_fp_locv\":%.1f,\"low_fn_locv\":%.1f,"
	       "\"threshold\":%.4f,\"threshold_low_fp\":%.4f,\"threshold_low_fn\":%.4f,"
	       "\"candidates\":%zu,\"points_per_s\":%.0f,\"points_per_s_long\":%.0f,"
	       "\"files\":%zu,\"points\":%zu}\n",
	       best[0], best[1], best[2], locv[0], locv[1], locv[2], theta[0], theta[1], theta[2],
	       ncand, pps, bench_long_rate(&cand[0]), nfiles, total_points);
	for (size_t i = 0; i < ncand * nfiles; i++)
		free((void *)files[i].score);
	for (size_t i = 0; i < nfiles; i++) {
		free(data[i].win);
		csv_series_free(&data[i].s);
	}
	for (size_t c = 0; c < ncand; c++)
		free(cand_spec[c]);
	free(train);
	free(files);
	free(data);
	cJSON_Delete(labels);
	return 0;
}
