/*
 * analyze.h: from a window of metric series to what a detect job returns.
 *
 * Every series is scored point by point with the streaming detector over the
 * whole window; runs of points at or above the threshold from the split on
 * (incident time minus `lead`) become anomalies (series, span, score,
 * direction).  A run must also start at least `min_z` robust deviations
 * from its baseline: the score is relative to the series' own history, and
 * on a short quiet window it can rank plain noise first.  Services are then ranked for root cause
 * by four signals: strength     robust z of each series' largest deviation after the split
 *                (incident time minus `lead`) against the points before it;
 *   earliness    a service whose deviation starts before the symptom's is
 *                more likely a cause than a victim;
 *   correlation  |Pearson r| between the service's strongest series and the
 *                user-facing symptom series (source `symptom = yes`, or the
 *                incident's own service);
 *   graph        services the symptom's service depends on ([services])
 *                are favoured; services off that path are discounted;
 *                without [services], a service whose changes led the
 *                symptom's before the incident (lagged correlation) is
 *                favoured and one whose changes followed is discounted.
 * Confidence is a service's share of the top five combined scores.
 *
 * Ownership: *result belongs to the caller (cJSON_Delete).
 */
#ifndef OPSBOT_DETECT_ANALYZE_H
#define OPSBOT_DETECT_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "detector.h"
#include "source.h"

#define ANALYZE_MAX_SERVICES 256
#define ANALYZE_MAX_DEPS     32

/* Dependency graph: edges from a service to the services it calls. */
struct analyze_graph {
	size_t n;
	struct {
		char name[128];
		char dep[ANALYZE_MAX_DEPS][128];
		size_t ndep;
	} svc[ANALYZE_MAX_SERVICES];
};

struct analyze_opts {
	struct detector_params params;
	double threshold;                  /* score that makes a point anomalous */
	double min_z;                      /* ...when also this far from its baseline */
	int64_t incident_ms;               /* when the incident was opened */
	int64_t lead_ms;                   /* split = incident_ms - lead_ms */
	const char *service;               /* the incident's (symptom) service; may be NULL */
	const struct analyze_graph *graph; /* may be NULL */
	size_t max_anomalies;              /* longest anomalies list returned */
};

/* Parse "a, b, c" as the deps of name; -1 when a limit is passed. */
int analyze_graph_add(struct analyze_graph *g, const char *name, const char *deps);
/* Whether `from` depends on `to`, directly or through others. */
int analyze_graph_reaches(const struct analyze_graph *g, const char *from, const char *to);

/*
 * {anomalies:[{series, service, start_ms, end_ms, score, direction}],
 *  ranking:[{service, confidence, rationale, metric, score}], summary,
 *  series:<count>}.  Returns 0, or -1 with err when there is nothing to
 *  analyse.
 */
int analyze_run(const struct source_list *l, const struct analyze_opts *o, cJSON **result,
                char *err, size_t errlen);

#endif
