/*
 * nab_bench.c: `make bench BENCH=nab` -- opsbot's detector on the NAB subset
 * in ../shared/datasets/nab, scored with opsbot's own NAB scorer (nab.c).
 *
 * Usage: detect_nab DATASET_DIR
 * Prints one JSON line: standard, low-FP and low-FN scores with the
 * threshold each profile chose (swept over the corpus: tuned in-sample, as
 * NAB does), and detector points per second on one core.  When the data set
 * is absent it prints {"bench":"nab","skipped":...} and exits 0.
 * OPSBOT_DETECT_PARAMS="key=value,..." overrides detector parameters (for
 * tuning); OPSBOT_NAB_VERBOSE=1 prints per-file scores to stderr.
 * For a held-out check: OPSBOT_NAB_SUBSET=odd|even scores every other file
 * (in name order), and OPSBOT_NAB_THETA=x scores at that threshold instead
 * of sweeping (the threshold chosen on the other half).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "csv.h"
#include "detector.h"
#include "json.h"
#include "mem.h"
#include "nab.h"
#include "timeutil.h"

#define MAX_FILES 128

static char *bench_slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return NULL;
	struct buf b = {0};
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0)
		if (buf_append(&b, tmp, n) < 0)
			break;
	fclose(fp);
	*len = b.len;
	return b.data ? b.data : xstrdup("");
}

static int bench_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
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
	struct detector_params params = DETECTOR_DEFAULTS;
	const char *spec = getenv("OPSBOT_DETECT_PARAMS");
	char err[512];
	if (spec && detector_params_parse(&params, spec, err, sizeof err) < 0) {
		fprintf(stderr, "detect_nab: %s\n", err);
		return 2;
	}
	int verbose = getenv("OPSBOT_NAB_VERBOSE") != NULL;
	size_t len;
	char *text = bench_slurp(path, &len);
	cJSON *labels;
	if (!text || json_parse_object(text, len, &labels, err, sizeof err) < 0) {
		fprintf(stderr, "detect_nab: %s: %s\n", path, text ? err : "unreadable");
		return 2;
	}
	free(text);

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
	const char *subset = getenv("OPSBOT_NAB_SUBSET");
	if (subset && (strcmp(subset, "odd") == 0 || strcmp(subset, "even") == 0)) {
		size_t keep = 0, want = strcmp(subset, "odd") == 0;
		for (size_t i = 0; i < nfiles; i++)
			if (i % 2 == want)
				names[keep++] = names[i];
		nfiles = keep;
	}

	struct nab_file *files = xcalloc(nfiles, sizeof *files);
	struct detector *d = detector_new(&params);
	size_t total_points = 0;
	int64_t busy_us = 0;
	for (size_t i = 0; i < nfiles; i++) {
		snprintf(path, sizeof path, "%s/data/%s", dir, names[i]);
		struct csv_series s;
		if (csv_read_series(path, &s, err, sizeof err) < 0) {
			fprintf(stderr, "detect_nab: %s\n", err);
			return 2;
		}
		double *score = xmalloc((s.n + 1) * sizeof *score);
		detector_reset(d);
		int64_t t0 = time_mono_us();
		for (size_t j = 0; j < s.n; j++)
			score[j] = detector_step(d, s.ts_ms[j], s.v[j], NULL);
		busy_us += time_mono_us() - t0;
		total_points += s.n;

		const cJSON *wins = cJSON_GetObjectItemCaseSensitive(labels, names[i]);
		size_t nw = (size_t)cJSON_GetArraySize(wins);
		struct nab_window *win = xcalloc(nw + 1, sizeof *win);
		size_t k = 0;
		const cJSON *w;
		cJSON_ArrayForEach(w, wins)
		{
			int64_t a, b;
			if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != 2 ||
			    csv_parse_time(cJSON_GetArrayItem(w, 0)->valuestring, &a) < 0 ||
			    csv_parse_time(cJSON_GetArrayItem(w, 1)->valuestring, &b) < 0) {
				fprintf(stderr, "detect_nab: bad window in %s\n", names[i]);
				return 2;
			}
			size_t l = 0;
			while (l < s.n && s.ts_ms[l] < a)
				l++;
			size_t r = l;
			while (r + 1 < s.n && s.ts_ms[r + 1] <= b)
				r++;
			if (l < s.n)
				win[k++] = (struct nab_window){l, r};
		}
		files[i] = (struct nab_file){.n = s.n, .score = score, .nwin = k, .win = win};
		csv_series_free(&s);
	}

	const struct nab_profile *prof[3] = {&NAB_STANDARD, &NAB_LOW_FP, &NAB_LOW_FN};
	double best[3], theta[3];
	for (int p = 0; p < 3; p++)
		if (nab_sweep(files, nfiles, prof[p], &theta[p], &best[p]) < 0) {
			fprintf(stderr, "detect_nab: no windows in the corpus\n");
			return 2;
		}
	const char *fixed = getenv("OPSBOT_NAB_THETA");
	if (fixed) {
		char *end;
		double t = strtod(fixed, &end);
		for (int p = 0; *end == '\0' && end != fixed && p < 3; p++) {
			theta[p] = t;
			best[p] = nab_score(files, nfiles, t, prof[p]);
		}
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
	       "\"threshold\":%.4f,\"threshold_low_fp\":%.4f,\"threshold_low_fn\":%.4f,"
	       "\"points_per_s\":%.0f,\"files\":%zu,\"points\":%zu,\"tuned\":\"in-sample\"}\n",
	       best[0], best[1], best[2], theta[0], theta[1], theta[2], pps, nfiles, total_points);
	for (size_t i = 0; i < nfiles; i++) {
		free((void *)files[i].score);
		free((void *)files[i].win);
	}
	free(files);
	detector_free(d);
	cJSON_Delete(labels);
	return 0;
}
