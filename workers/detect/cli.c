/*
 * cli.c: the `score` and `rca` command-line modes of opsbot-detect.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "detector.h"
#include "json.h"
#include "mem.h"
#include "timeutil.h"

static const char cli_usage_text[] =
    "usage: opsbot-detect score [-p key=value,...] FILE.csv\n"
    "       opsbot-detect rca --normal N.csv --anomalous A.csv [--calls CALLS.csv]\n"
    "\n"
    "score  reads timestamp,value rows and writes timestamp,value,anomaly_score;\n"
    "       a score of 0.5 means the recent behaviour has a tail probability of\n"
    "       about 1e-5 under the series' own history (0.6: 1e-7.5).\n"
    "rca    ranks services by how far their metrics in the anomalous window\n"
    "       moved from the normal window (wide CSV: time,<service>_<metric>,...);\n"
    "       CALLS.csv lists caller,callee pairs, so latency seen in a caller is\n"
    "       credited to the callee it comes from.\n";

static int cli_usage(void)
{
	fputs(cli_usage_text, stderr);
	return 2;
}

static int cli_help(void)
{
	fputs(cli_usage_text, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cli_is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static void cli_warn_order(const char *path, const struct csv_order *o)
{
	char w[1024];
	if (csv_order_warning(path, o, w, sizeof w))
		fprintf(stderr, "opsbot-detect: warning: %s\n", w);
}

static void cli_warn_table(const char *path, const struct csv_table *t)
{
	cli_warn_order(path, &t->order);
	if (t->note)
		fprintf(stderr, "opsbot-detect: warning: %s\n", t->note);
}

static int cli_score(int argc, char **argv)
{
	struct detector_params p = DETECTOR_DEFAULTS;
	const char *file = NULL;
	char err[512];
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return cli_help();
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
			if (detector_params_parse(&p, argv[++i], err, sizeof err) < 0) {
				fprintf(stderr, "opsbot-detect: %s\n", err);
				return 2;
			}
		} else if (!file) {
			file = argv[i];
		} else {
			return cli_usage();
		}
	}
	if (!file)
		return cli_usage();
	struct csv_series s;
	if (csv_read_series(file, &s, err, sizeof err) < 0) {
		fprintf(stderr, "opsbot-detect: %s\n", err);
		return 1;
	}
	cli_warn_order(file, &s.order);
	size_t numbers = 0;
	for (size_t i = 0; i < s.n; i++)
		numbers += !isnan(s.v[i]);
	if (numbers == 0) {
		fprintf(stderr,
		        "opsbot-detect: %s: no numeric values in %zu rows (all empty or NaN)\n",
		        file, s.n);
		csv_series_free(&s);
		return 1;
	}
	struct detector *d = detector_new(&p);
	/* Rows go out through one buffer, numbers formatted by hand (printf per
	 * value was a third of the time); the bytes are what
	 * "%s,%.10g,%.6f\n" writes ("%s,,%.6f\n" for a gap). */
	enum { OUT_CAP = 1 << 20 };
	char *ob = xmalloc(OUT_CAP);
	size_t on = 0;
	int rc = fputs("timestamp,value,anomaly_score\n", stdout) < 0;
	for (size_t i = 0; i < s.n && !rc; i++) {
		double sc = detector_step(d, s.ts_ms[i], s.v[i], NULL);
		size_t tl = strlen(s.ts_text[i]);
		if (on + tl + 2 * CSV_FMT_MAX + 4 > OUT_CAP) {
			rc = fwrite(ob, 1, on, stdout) != on;
			on = 0;
		}
		if (tl + 2 * CSV_FMT_MAX + 4 > OUT_CAP) {
			/* A timestamp cell of a megabyte: not worth a path of its own. */
			rc |= printf("%s,", s.ts_text[i]) < 0;
		} else {
			memcpy(ob + on, s.ts_text[i], tl);
			on += tl;
			ob[on++] = ',';
		}
		if (!isnan(s.v[i]))
			on += csv_fmt_g10(s.v[i], ob + on);
		ob[on++] = ',';
		on += csv_fmt_f6(sc, ob + on);
		ob[on++] = '\n';
	}
	if (!rc && on)
		rc = fwrite(ob, 1, on, stdout) != on;
	free(ob);
	detector_free(d);
	csv_series_free(&s);
	return fflush(stdout) == 0 && !rc ? 0 : 1;
}

cJSON *cli_ranking_json(const struct rca_service *svc, size_t n, size_t max)
{
	cJSON *arr = json_new_array();
	for (size_t i = 0; i < n && i < max; i++) {
		cJSON *o = json_new_object();
		json_add_str(o, "service", svc[i].service);
		json_add_num(o, "score", round(svc[i].score * 1000.0) / 1000.0);
		json_add_num(o, "spreads", round(svc[i].z * 10.0) / 10.0);
		json_add_num(o, "confidence", round(svc[i].confidence * 1000.0) / 1000.0);
		json_add_str(o, "metric", svc[i].metric);
		json_add_str(o, "direction", svc[i].direction >= 0 ? "up" : "down");
		json_add_int(o, "onset_ms", svc[i].onset_ms);
		json_add_str(o, "rationale", svc[i].why);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Calls, one "caller,callee" a line (a "Source,Target" header is skipped). */
struct cli_calls {
	struct rca_edge *e;
	char (*name)[2][RCA_NAME_MAX];
	size_t n;
};

static int cli_read_calls(const char *path, struct cli_calls *c, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[1024];
	size_t lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof line, fp)) {
		lineno++;
		char *save = NULL;
		char *a = strtok_r(line, ", \t\r\n", &save);
		char *b = strtok_r(NULL, ", \t\r\n", &save);
		if (!a || a[0] == '#')
			continue;
		if (!b || strlen(a) >= RCA_NAME_MAX || strlen(b) >= RCA_NAME_MAX) {
			snprintf(err, errlen, "%s:%zu: want caller,callee", path, lineno);
			rc = -1;
			break;
		}
		if (lineno == 1 && strcasecmp(a, "source") == 0)
			continue;
		if (c->n == 4096) {
			snprintf(err, errlen, "%s: more than 4096 calls", path);
			rc = -1;
			break;
		}
		c->name = xrealloc(c->name, (c->n + 1) * sizeof *c->name);
		str_copy(c->name[c->n][0], RCA_NAME_MAX, a);
		str_copy(c->name[c->n][1], RCA_NAME_MAX, b);
		c->n++;
	}
	fclose(fp);
	c->e = xcalloc(c->n + 1, sizeof *c->e);
	for (size_t i = 0; i < c->n; i++)
		c->e[i] = (struct rca_edge){c->name[i][0], c->name[i][1]};
	return rc;
}

static int cli_rca(int argc, char **argv)
{
	const char *np = NULL, *ap = NULL, *cp = NULL;
	for (int i = 0; i < argc; i++)
		if (cli_is_help(argv[i]))
			return cli_help();
	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--normal") == 0)
			np = argv[i + 1];
		else if (strcmp(argv[i], "--anomalous") == 0)
			ap = argv[i + 1];
		else if (strcmp(argv[i], "--calls") == 0)
			cp = argv[i + 1];
		else
			return cli_usage();
	}
	if (!np || !ap || argc % 2)
		return cli_usage();
	char err[512];
	struct csv_table nt = {0}, at = {0};
	struct rca_service *svc = NULL;
	struct cli_calls calls = {0};
	size_t ns = 0;
	int rc = 1;
	if (csv_read_table(np, &nt, err, sizeof err) < 0 ||
	    csv_read_table(ap, &at, err, sizeof err) < 0 ||
	    (cp && cli_read_calls(cp, &calls, err, sizeof err) < 0)) {
		fprintf(stderr, "opsbot-detect: %s\n", err);
		goto out;
	}
	cli_warn_table(np, &nt);
	cli_warn_table(ap, &at);
	struct rca_opts ro = {.edges = calls.e, .nedges = calls.n};
	if (rca_rank_opts(&nt, &at, &ro, &svc, &ns, err, sizeof err) < 0) {
		fprintf(stderr, "opsbot-detect: %s\n", err);
		goto out;
	}
	cJSON *o = json_new_object();
	json_add(o, "ranking", cli_ranking_json(svc, ns, ns));
	char *text = json_print(o);
	printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	free(svc);
	free(calls.e);
	free(calls.name);
	csv_table_free(&nt);
	csv_table_free(&at);
	return rc;
}

int cli_main(int argc, char **argv)
{
	if (argc < 1)
		return cli_usage();
	if (cli_is_help(argv[0]))
		return cli_help();
	if (strcmp(argv[0], "score") == 0)
		return cli_score(argc - 1, argv + 1);
	if (strcmp(argv[0], "rca") == 0)
		return cli_rca(argc - 1, argv + 1);
	return cli_usage();
}
