/*
 * job.h: the `detect` job handler and opsbot-detect's commands, on top of
 * lib/worker.h.  Configuration is read once into a job_state (no pointers
 * into the config are kept, so a reload may free it).
 *
 * Ownership: job_init's *state is freed by job_fini.
 */
#ifndef OPSBOT_DETECT_JOB_H
#define OPSBOT_DETECT_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "analyze.h"
#include "config.h"
#include "detector.h"
#include "episode.h"
#include "source.h"
#include "worker.h"

struct job_state {
	struct source_set *src;
	struct analyze_graph graph;
	struct detector_params params;
	double threshold;
	double min_z;
	int64_t window_ms, lead_ms, after_ms, step_ms;
	size_t max_anomalies;
	/* watch mode */
	int64_t watch_interval_ms;
	long watch_warmup;
	struct detector_params watch_params;
	struct episode_cfg episode;
	char severity[16];
	char queue_url[512];
};

int job_init(struct config *cfg, void **state, char *err, size_t errlen);
int job_handle(void *state, const struct worker_job *job, cJSON **result, char *err, size_t errlen);
void job_fini(void *state);
/* "watch", "analyze", and the cli modes; argv[0] is the command. */
int job_command(int argc, char **argv);

/*
 * The analysis a detect job returns, for an incident of `service` opened at
 * at_ms (service may be NULL).  0 with *result, or -1 with err when every
 * source failed.
 */
int job_analyze(struct job_state *st, const char *service, int64_t at_ms, cJSON **result, char *err,
                size_t errlen);

#endif
