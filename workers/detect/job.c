/*
 * job.c: the `detect` job -- fetch windows, score, rank -- and the
 * commands of opsbot-detect that need its configuration.
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "csv.h"
#include "defaults.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "severity.h"
#include "timeutil.h"
#include "watch.h"

#define job_severities severity_names /* lib/severity.h: the one table */

int job_init(struct config *cfg, void **state, char *err, size_t errlen)
{
	struct job_state *st = xcalloc(1, sizeof *st);
	st->params = DETECTOR_DEFAULTS;
	const char *spec = config_str(cfg, "detect", "params", NULL);
	char perr[256];
	if (spec && detector_params_parse(&st->params, spec, perr, sizeof perr) < 0)
		config_error(cfg, "detect", "params", "%s", perr);
	st->threshold = config_double(cfg, "detect", "threshold", DETECTOR_THRESHOLD, 0.0, 1.0);
	/* The same threshold as a probability: a point is anomalous when its
	 * recent behaviour is this unlikely under the series' own history. */
	if (config_str(cfg, "detect", "threshold_p", NULL))
		st->threshold = detector_p_to_score(
		    config_double(cfg, "detect", "threshold_p", DETECTOR_THRESHOLD_P, 1e-300, 0.5));
	st->min_z = config_double(cfg, "detect", "min_z", 5.0, 0.0, 1000.0);
	st->window_ms = config_duration_ms(cfg, "detect", "window", 3600000);
	st->lead_ms = config_duration_ms(cfg, "detect", "lead", 600000);
	st->after_ms = config_duration_ms(cfg, "detect", "after", 300000);
	st->step_ms = config_duration_ms(cfg, "detect", "step", 15000);
	st->max_anomalies = (size_t)config_int(cfg, "detect", "max_anomalies", 50, 1, 1000);
	st->watch_interval_ms = config_duration_ms(cfg, "detect", "watch_interval", 30000);
	/* Watch mode scores differently from NAB's one-alarm-per-window rule:
	 * the episode machine is its hold-off, so the detector must keep scoring
	 * high while a deviation lasts, and must score a repeat as high as the
	 * first time (no likelihood mode, whose long-run statistics learn an
	 * outage as normal).  A combined z of 5 maps to 0.5. */
	st->watch_params = st->params;
	detector_params_parse(&st->watch_params, "lik_short=0,holdoff=0,z_half=5", NULL, 0);
	/* Watch keeps one detector per series (up to SOURCE_MAX_SERIES) for the
	 * life of the process: unless params chose a window, keep its baseline
	 * at 2048 points (about 64 KB a series) rather than the NAB default. */
	if (st->params.window == DETECTOR_DEFAULTS.window)
		st->watch_params.window = 2048;
	const char *wspec = config_str(cfg, "detect", "watch_params", NULL);
	if (wspec && detector_params_parse(&st->watch_params, wspec, perr, sizeof perr) < 0)
		config_error(cfg, "detect", "watch_params", "%s", perr);
	st->watch_warmup = (long)config_int(cfg, "detect", "watch_warmup", 60, 0, 1000000);
	st->episode.open_at = config_double(cfg, "detect", "watch_open_at", 0.75, 0.0, 1.0);
	st->episode.close_at = config_double(cfg, "detect", "watch_close_at", 0.5, 0.0, 1.0);
	st->episode.open_points = (int)config_int(cfg, "detect", "watch_open_points", 2, 1, 100);
	st->episode.close_points =
	    (int)config_int(cfg, "detect", "watch_close_points", 10, 1, 10000);
	int sev = config_enum(cfg, "detect", "watch_severity", job_severities, 2);
	str_copy(st->severity, sizeof st->severity, job_severities[sev < 0 ? 2 : sev]);
	str_copy(st->queue_url, sizeof st->queue_url,
	         config_str(cfg, "queue", "listen", DEF_QUEUE_URL));

	/* [services]: NAME = deps, the dependency graph. */
	size_t ne;
	const struct config_entry *e = config_entries(cfg, &ne);
	for (size_t i = 0; i < ne; i++) {
		if (strcmp(e[i].section, "services") != 0)
			continue;
		const char *deps = config_str(cfg, "services", e[i].key, "");
		if (analyze_graph_add(&st->graph, e[i].key, deps) < 0)
			config_error(cfg, "services", e[i].key, "more than %d services or %d deps",
			             ANALYZE_MAX_SERVICES, ANALYZE_MAX_DEPS);
	}
	if (source_set_load(cfg, &st->src, err, errlen) < 0 ||
	    config_check(cfg, (const char *const[]){"source *", "services", NULL}, err, errlen) <
	        0) {
		job_fini(st);
		return -1;
	}
	log_info("event=detect_config sources=%zu services=%zu threshold=%.4f window_ms=%lld",
	         source_set_count(st->src), st->graph.n, st->threshold, (long long)st->window_ms);
	*state = st;
	return 0;
}

void job_fini(void *state)
{
	struct job_state *st = state;
	if (!st)
		return;
	source_set_free(st->src);
	free(st);
}

int job_analyze(struct job_state *st, const char *service, int64_t at_ms, cJSON **result, char *err,
                size_t errlen)
{
	struct source_list l = {0};
	int failed = 0;
	int64_t from = at_ms - st->window_ms, to = at_ms + st->after_ms;
	if (source_fetch(st->src, from, to, st->step_ms, &l, &failed, err, errlen) < 0) {
		source_list_free(&l);
		return -1;
	}
	struct analyze_opts o = {
	    .params = st->params,
	    .threshold = st->threshold,
	    .min_z = st->min_z,
	    .incident_ms = at_ms,
	    .lead_ms = st->lead_ms,
	    .service = service,
	    .graph = &st->graph,
	    .max_anomalies = st->max_anomalies,
	};
	char aerr[256];
	if (analyze_run(&l, &o, result, aerr, sizeof aerr) < 0) {
		/* No data is a finding, not a failure: say so and let the pipeline go on. */
		cJSON *r = json_new_object();
		json_add(r, "anomalies", json_new_array());
		json_add(r, "ranking", json_new_array());
		json_add_int(r, "series", 0);
		char s[400];
		if (source_set_count(st->src) == 0)
			snprintf(
			    s, sizeof s,
			    "No metric sources are configured, so detection was skipped. Add a "
			    "[source NAME] section to opsbot.conf to enable it.");
		else
			snprintf(
			    s, sizeof s,
			    "No metric data for %s in the window before the incident (%d of %zu "
			    "sources failed); detection was skipped.",
			    service ? service : "this incident", failed, source_set_count(st->src));
		json_add_str(r, "summary", s);
		*result = r;
	}
	if (failed)
		json_add_int(*result, "sources_failed", failed);
	source_list_free(&l);
	return 0;
}

int job_handle(void *state, const struct worker_job *job, cJSON **result, char *err, size_t errlen)
{
	struct job_state *st = state;
	const cJSON *in = job->input;
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(in, "incident");
	if (!cJSON_IsObject(inc))
		inc = in;
	const char *service = json_str(inc, "service");
	/* When: labels.at (RFC 3339; e.g. an alert's startsAt or a KPI day),
	 * else when the incident was opened, else now. */
	int64_t at = json_int(inc, "created_ms", 0);
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(inc, "labels");
	const char *at_text = json_str(labels, "at");
	int64_t at_label;
	if (at_text && csv_parse_time(at_text, &at_label) == 0)
		at = at_label;
	if (at <= 0)
		at = time_now_ms();
	int64_t t0 = time_mono_ms();
	if (job_analyze(st, service, at, result, err, errlen) < 0)
		return WORKER_RETRY; /* every source failed: they may come back */
	log_info("event=detect_done job=%lld incident=%lld service=%s series=%lld ms=%lld",
	         (long long)job->id, (long long)job->incident, log_q(service ? service : ""),
	         (long long)json_int(*result, "series", 0), (long long)(time_mono_ms() - t0));
	return WORKER_OK;
}

static int job_usage(void)
{
	fprintf(stderr, "usage: opsbot-detect [-c FILE] analyze [--service S] [--at TIME]\n"
	                "       opsbot-detect [-c FILE] watch [--dry-run] [--polls N]\n"
	                "       opsbot-detect score [-p key=value,...] FILE.csv\n"
	                "       opsbot-detect rca --normal N.csv --anomalous A.csv\n");
	return 2;
}

int job_command(int argc, char **argv)
{
	if (argc < 1)
		return job_usage();
	if (strcmp(argv[0], "score") == 0 || strcmp(argv[0], "rca") == 0)
		return cli_main(argc, argv);
	int watch = strcmp(argv[0], "watch") == 0;
	if (!watch && strcmp(argv[0], "analyze") != 0)
		return job_usage();
	const char *service = NULL;
	int64_t at = time_now_ms();
	int dry = 0;
	long polls = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
			service = argv[++i];
		} else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
			if (csv_parse_time(argv[++i], &at) < 0) {
				fprintf(stderr, "opsbot-detect: --at %s: not a time\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			dry = 1;
		} else if (strcmp(argv[i], "--polls") == 0 && i + 1 < argc) {
			char *end;
			polls = strtol(argv[++i], &end, 10);
			if (*end || polls < 0)
				return job_usage();
		} else {
			return job_usage();
		}
	}
	struct config *cfg;
	char err[1024];
	if (config_load(worker_config_path(), &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "opsbot-detect: %s\n", err);
		return 1;
	}
	void *state = NULL;
	int rc = 1;
	if (job_init(cfg, &state, err, sizeof err) < 0) {
		fprintf(stderr, "opsbot-detect: %s\n", err);
		goto out;
	}
	if (watch) {
		rc = watch_run(state, dry, polls);
		goto out;
	}
	cJSON *res;
	if (job_analyze(state, service, at, &res, err, sizeof err) < 0) {
		fprintf(stderr, "opsbot-detect: %s\n", err);
		goto out;
	}
	char *text = json_print(res);
	printf("%s\n", text);
	free(text);
	cJSON_Delete(res);
	rc = 0;
out:
	job_fini(state);
	config_free(cfg);
	return rc;
}
