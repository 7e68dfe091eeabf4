/*
 * rca.h: root-cause ranking of services from a normal and an anomalous
 * window of the same metrics.
 *
 * A metric name maps to its service as the part before the first '_',
 * without a trailing "-db" ("carts-db_cpu" -> carts); the rest is the
 * metric's family ("cpu", "CpuUsageRate(%)").  Each metric is scaled
 * robustly on the normal window and scored by its largest deviation in the
 * anomalous window (in the spirit of BARO/NSigma), with these guards for
 * short, coarse windows (3-5 rows a side is normal at one sample a minute):
 *   - the scale is never below a floor taken from the metric's own level
 *     and from the spread of the same family on the other services, so a
 *     metric that sat flat does not turn a small step into 1e15 spreads;
 *   - deviations are bounded (RCA_Z_MAX) and services compared on them;
 *   - a column identical to another service's column of the same family
 *     (node-level metrics shared by co-located pods) says nothing about
 *     which service is at fault and is left out;
 *   - services are ranked by votes: each metric family splits one vote
 *     between services in proportion to their deviation, so what one
 *     service alone shows outweighs what many show together;
 *   - latency, error and load metrics propagate to callers: they weigh less,
 *     and a caller's share is halved when a service it calls
 *     (rca_opts.edges) moved as well.
 * Confidence is the estimated chance that the top service is right (see
 * rca.c for how it was calibrated and how far that transfers).
 *
 * Ownership: rca_rank's *out array is the caller's (free()).
 */
#ifndef OPSBOT_DETECT_RCA_H
#define OPSBOT_DETECT_RCA_H

#include <stddef.h>
#include <stdint.h>

#include "csv.h"

#define RCA_NAME_MAX 128
#define RCA_Z_MAX    1000.0

struct rca_service {
	char service[RCA_NAME_MAX];
	char metric[RCA_NAME_MAX]; /* the metric that scored highest */
	double score;  /* votes: sum over metric families of its share of the family's deviation */
	double z;      /* the metric's bounded robust z, in spreads (<= RCA_Z_MAX) */
	int direction; /* +1 rose, -1 fell */
	int64_t onset_ms;     /* first anomalous row beyond 3 spreads, or the first row */
	double before, after; /* normal median, and the anomalous value at the peak */
	double confidence;    /* estimated chance this service is the cause, [0,1] */
	char why[320];        /* a sentence for people */
};

/* A call: service `from` calls service `to`. */
struct rca_edge {
	const char *from, *to;
};

struct rca_opts {
	const struct rca_edge *edges; /* may be NULL */
	size_t nedges;
};

/* The service a metric belongs to, into buf. */
void rca_service_of(const char *metric, char *buf, size_t len);

/*
 * Rank services, best first.  Columns are matched by name; a metric absent
 * from normal is skipped.  Returns 0 with *out and *n set, or -1 with err
 * (too few rows, or no metric column in common that has values).
 */
int rca_rank(const struct csv_table *normal, const struct csv_table *anomalous,
             struct rca_service **out, size_t *n, char *err, size_t errlen);
int rca_rank_opts(const struct csv_table *normal, const struct csv_table *anomalous,
                  const struct rca_opts *o, struct rca_service **out, size_t *n, char *err,
                  size_t errlen);

/*
 * One metric: robust z of its largest deviation in anom[0..na) against
 * normal[0..nn) (sorted in place; NaNs dropped), with the scale floored at
 * `floor_` (1e-12 when it is not positive).  *onset is the index of the
 * first |z| > 3 (0 when none), *peak the index of the largest.  -1 when
 * normal has fewer than 2 values or anom none.
 */
int rca_series_score(double *normal, size_t nn, const double *anom, size_t na, double floor_,
                     double *score, int *direction, size_t *onset, size_t *peak, double *median);

/*
 * Change a ranking constant for a sweep (rca_bench: OPSBOT_RCA_PARAMS):
 * rel (floor share of the level), nb (share of the family's spread), prop
 * (weight of propagating families), zh (z at which a family votes half),
 * spread (see rca.c).  -1 for an unknown key.  Not for
 * production use: it changes process-wide state.
 */
int rca_tune(const char *key, double v);
/* Back to the shipped constants. */
void rca_tune_defaults(void);

/* "CpuUsageRate(%)" -> "%", "MemoryUsage(Mi)" -> " MiB", "...(s)" -> " s"; "" if unknown. */
const char *rca_unit_of(const char *metric);

#endif
