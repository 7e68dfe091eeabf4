/*
 * rca.h: root-cause ranking of services from a normal and an anomalous
 * window of the same metrics.
 *
 * Each metric is scaled robustly on the normal window (median, IQR) and
 * scored by its largest deviation in the anomalous window (in the spirit of
 * BARO/NSigma); a service's score is the best of its metrics.  A metric
 * name maps to its service as the part before the first '_', without a
 * trailing "-db" ("carts-db_cpu" -> carts).
 *
 * Ownership: rca_rank's *out array is the caller's (free()).
 */
#ifndef OPSBOT_DETECT_RCA_H
#define OPSBOT_DETECT_RCA_H

#include <stddef.h>
#include <stdint.h>

#include "csv.h"

#define RCA_NAME_MAX 128

struct rca_service {
	char service[RCA_NAME_MAX];
	char metric[RCA_NAME_MAX]; /* the metric that scored highest */
	double score;              /* robust z of that metric */
	int direction;             /* +1 rose, -1 fell */
	int64_t onset_ms;          /* first anomalous row with z above 3, or the first row */
	double confidence;         /* share of the top score, in [0,1] */
};

/* The service a metric belongs to, into buf. */
void rca_service_of(const char *metric, char *buf, size_t len);

/*
 * Rank services, best first.  Columns are matched by name; a metric absent
 * from normal is skipped.  Returns 0 with *out and *n set, or -1 with err.
 */
int rca_rank(const struct csv_table *normal, const struct csv_table *anomalous,
             struct rca_service **out, size_t *n, char *err, size_t errlen);

/*
 * One metric: robust z of its largest deviation in anom[0..na) against
 * normal[0..nn) (sorted in place; NaNs dropped).  *onset is the index of the
 * first |z| > 3 (0 when none).  -1 when normal has fewer than 2 values.
 */
int rca_series_score(double *normal, size_t nn, const double *anom, size_t na, double *score,
                     int *direction, size_t *onset);

#endif
