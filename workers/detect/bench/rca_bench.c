/*
 * rca_bench.c: `make bench BENCH=rca` -- opsbot's root-cause ranking on the
 * Sock Shop cases in ../shared/datasets/rca-sockshop.
 *
 * Usage: detect_rca DATASET_DIR
 * Each case folder <service>-<fault>/<run>/ holds normal.csv and
 * anomalous.csv; the true root cause is <service>.  Prints AC@1, AC@3 and
 * Avg@5 (mean of AC@1..AC@5) per fault type as one JSON line, or a
 * "skipped" line (exit 0) when the data set is absent.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "rca.h"
#include "timeutil.h"

enum { FAULT_CPU, FAULT_MEM, FAULTS };

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/datasets/rca-sockshop";
	DIR *dp = opendir(dir);
	if (!dp) {
		printf("{\"bench\":\"rca\",\"skipped\":\"%s absent\"}\n", dir);
		return 0;
	}
	int verbose = getenv("OPSBOT_RCA_VERBOSE") != NULL;
	double hits[FAULTS][5] = {{0}};
	int cases[FAULTS] = {0};
	int64_t t0 = time_mono_us();
	struct dirent *de;
	while ((de = readdir(dp))) {
		char *dash = strrchr(de->d_name, '-');
		if (de->d_name[0] == '.' || !dash)
			continue;
		int fault = strcmp(dash + 1, "cpu") == 0   ? FAULT_CPU
		            : strcmp(dash + 1, "mem") == 0 ? FAULT_MEM
		                                           : -1;
		if (fault < 0)
			continue;
		char truth[RCA_NAME_MAX];
		snprintf(truth, sizeof truth, "%.*s", (int)(dash - de->d_name), de->d_name);
		for (int run = 1; run <= 99; run++) {
			char np[4096], ap[4096], err[512];
			snprintf(np, sizeof np, "%s/%s/%d/normal.csv", dir, de->d_name, run);
			snprintf(ap, sizeof ap, "%s/%s/%d/anomalous.csv", dir, de->d_name, run);
			struct stat st;
			if (stat(np, &st) != 0)
				break;
			struct csv_table nt, at;
			if (csv_read_table(np, &nt, err, sizeof err) < 0 ||
			    csv_read_table(ap, &at, err, sizeof err) < 0) {
				fprintf(stderr, "detect_rca: %s\n", err);
				return 2;
			}
			struct rca_service *svc;
			size_t ns;
			if (rca_rank(&nt, &at, &svc, &ns, err, sizeof err) < 0) {
				fprintf(stderr, "detect_rca: %s/%d: %s\n", de->d_name, run, err);
				return 2;
			}
			size_t rank = 0;
			while (rank < ns && strcmp(svc[rank].service, truth) != 0)
				rank++;
			for (size_t k = 0; k < 5; k++)
				hits[fault][k] += rank <= k;
			cases[fault]++;
			if (verbose)
				fprintf(stderr, "%s/%d rank=%zu top=%s (%s z=%.1f)\n", de->d_name,
				        run, rank + 1, ns ? svc[0].service : "-",
				        ns ? svc[0].metric : "-", ns ? svc[0].score : 0.0);
			free(svc);
			csv_table_free(&nt);
			csv_table_free(&at);
		}
	}
	closedir(dp);
	double ac1[FAULTS], ac3[FAULTS], avg5[FAULTS];
	for (int f = 0; f < FAULTS; f++) {
		double n = cases[f] ? cases[f] : 1;
		ac1[f] = hits[f][0] / n;
		ac3[f] = hits[f][2] / n;
		avg5[f] = 0.0;
		for (int k = 0; k < 5; k++)
			avg5[f] += hits[f][k] / n / 5.0;
	}
	printf("{\"bench\":\"rca\",\"cpu_ac1\":%.2f,\"cpu_ac3\":%.2f,\"cpu_avg5\":%.2f,"
	       "\"mem_ac1\":%.2f,\"mem_ac3\":%.2f,\"mem_avg5\":%.2f,\"cases\":%d,\"ms\":%lld}\n",
	       ac1[0], ac3[0], avg5[0], ac1[1], ac3[1], avg5[1], cases[0] + cases[1],
	       (long long)((time_mono_us() - t0) / 1000));
	return 0;
}
