/*
 * source.h: where opsbot-detect gets metric windows from.
 *
 * One [source NAME] section per source:
 *   type = prometheus   url = base URL; query = PromQL (repeatable); the
 *                       range API /api/v1/query_range at `step`
 *   type = scrape       url = a Prometheus text exposition endpoint; each
 *                       poll adds one point per series (watch mode keeps
 *                       the history; a job sees what watch has gathered)
 *   type = csv          path = wide CSV: time + one column per metric
 *   type = jsonl        path = one JSON object per line: "time" (or
 *                       "timestamp") + one numeric field per metric
 * Common keys: service (the service every series of this source belongs to;
 * otherwise the `service_label` label for Prometheus data, default
 * "service" then "job", or the metric name's prefix before '_' for files),
 * symptom = yes (its series are the user-facing symptom RCA correlates
 * with).
 *
 * Limits: SOURCE_MAX_SERIES series per fetch, SOURCE_MAX_POINTS points per
 * series, response bodies per lib/http.h's default (8 MiB).
 *
 * Ownership: a source_set and the series it returns are freed with
 * source_set_free / source_series_free.
 */
#ifndef OPSBOT_DETECT_SOURCE_H
#define OPSBOT_DETECT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SOURCE_MAX_SERIES 2000
#define SOURCE_MAX_POINTS 100000
#define SOURCE_NAME_MAX   256

enum source_type { SOURCE_PROMETHEUS, SOURCE_SCRAPE, SOURCE_CSV, SOURCE_JSONL };

struct source_series {
	char name[SOURCE_NAME_MAX];
	char service[128];
	int symptom;
	size_t n, cap;
	int64_t *ts_ms;
	double *v;
};

struct source_list {
	size_t n;
	struct source_series *s;
};

struct source_set;

/* Read every [source NAME] section; -1 with "file:line: ..." in err. */
int source_set_load(struct config *cfg, struct source_set **out, char *err, size_t errlen);
void source_set_free(struct source_set *set);
size_t source_set_count(const struct source_set *set);

/*
 * Every series of every source with points in [from_ms, to_ms], appended to
 * out.  A source that fails is skipped with a warning and counted in
 * *failed; returns 0, or -1 when every source failed (err says the first).
 */
int source_fetch(struct source_set *set, int64_t from_ms, int64_t to_ms, int64_t step_ms,
                 struct source_list *out, int *failed, char *err, size_t errlen);

/* Scrape sources only: take one sample of each series now (watch mode). */
int source_scrape(struct source_set *set, int64_t now_ms, char *err, size_t errlen);

void source_list_free(struct source_list *l);

/* Parsers, exposed for unit tests.  Each appends to out. */
int source_parse_prometheus(const char *body, size_t len, const char *service_label,
                            const char *service, int symptom, struct source_list *out, char *err,
                            size_t errlen);
int source_parse_exposition(const char *body, int64_t now_ms, const char *service_label,
                            const char *service, int symptom, struct source_list *out, char *err,
                            size_t errlen);
int source_parse_jsonl(const char *body, size_t len, const char *service, int symptom,
                       struct source_list *out, char *err, size_t errlen);

#endif
