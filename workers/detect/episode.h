/*
 * episode.h: hysteresis and dedupe for watch mode -- one incident per
 * service and episode, not one per anomalous point.
 *
 * Per service:
 *
 *   quiet --(open_points consecutive scores >= open_at)--> active  [open]
 *   active --(close_points consecutive scores < close_at)--> quiet [close]
 *
 * close_at <= open_at, so a score hovering at the line does not flap.  An
 * episode is named by its service and the time of the score that started
 * it; that name is the idempotency key of the incident it opens, so a
 * restarted watcher that sees the same episode again opens nothing new.
 *
 * Invariants: at most one active episode per service; `run` counts only
 * consecutive points on the side that would change the state.
 */
#ifndef OPSBOT_DETECT_EPISODE_H
#define OPSBOT_DETECT_EPISODE_H

#include <stddef.h>
#include <stdint.h>

#define EPISODE_MAX_SERVICES 256

struct episode_cfg {
	double open_at, close_at;
	int open_points, close_points;
};

enum episode_event { EPISODE_NONE, EPISODE_OPEN, EPISODE_CLOSE };

struct episode_state {
	struct episode_cfg cfg;
	size_t n;
	struct {
		char service[128];
		int active;
		int run;
		int64_t first_ms; /* time of the first point of the current run */
		int64_t start_ms; /* episode start (key) while active */
		double peak;
		char series[256]; /* the series with the peak score */
	} svc[EPISODE_MAX_SERVICES];
};

void episode_init(struct episode_state *e, const struct episode_cfg *cfg);

/*
 * One service's score at ts (the max over its series at that poll).  Returns
 * what changed; *start_ms is the episode's start for OPEN and CLOSE.
 * Services past EPISODE_MAX_SERVICES are ignored (EPISODE_NONE).
 */
enum episode_event episode_observe(struct episode_state *e, const char *service, int64_t ts,
                                   double score, const char *series, int64_t *start_ms);

/* The idempotency key of an episode, e.g. "watch:checkout:1763700000000". */
void episode_key(const char *service, int64_t start_ms, char *buf, size_t len);

#endif
