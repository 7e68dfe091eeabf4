/*
 * NAME
 *   opsbot-detect -- anomaly detection and root-cause ranking on metrics
 *
 * SYNOPSIS
 *   opsbot-detect [-c config/opsbot.conf]          worker: claims `detect` jobs
 *   opsbot-detect [-c FILE] watch                  watch mode: opens incidents
 *   opsbot-detect score [-p key=value,...] FILE.csv
 *   opsbot-detect rca --normal N.csv --anomalous A.csv
 *
 * DESCRIPTION
 *   As a worker it claims `detect` jobs from opsbot-queue.  For the
 *   incident's service(s) and time it fetches a window of every configured
 *   metric source, scores each series with the streaming detector
 *   (detector.c: robust level, EWMA, daily season, CUSUM, combined), and
 *   returns the anomalies (series, span, score, direction) and a ranking of
 *   services (rank.c) with confidence and a one-line rationale.
 *
 *   The command-line modes need no queue: `score` writes
 *   timestamp,value,anomaly_score for a timestamp,value CSV; `rca` ranks
 *   the services of a wide CSV's anomalous window against a normal one.
 *   They are what `make bench BENCH=nab` and `BENCH=rca` measure.
 *
 * TRUST
 *   Metric values and job input are untrusted: sizes are bounded (csv.h,
 *   source.h), bad input fails the job with a reason, never the process.
 *   No secrets; a Prometheus behind auth is out of scope for now.
 *
 * MESSAGES
 *   in:  claim -> job {kind:"detect", input:{incident:{service, title,
 *        labels, created_ms...}}}; the window ends at labels.at (RFC 3339)
 *        when present, else at created_ms
 *   out: complete {anomalies:[{series, start_ms, end_ms, score, direction}],
 *        ranking:[{service, confidence, rationale}], summary}
 *
 * CONFIG ([detect], [source NAME], [services]; see config/opsbot.conf)
 *   detect.window      how much history a job fetches (default 1h)
 *   detect.step        resolution asked of sources (default 15s)
 *   detect.threshold   score at which a point counts as anomalous (0.9)
 *   detect.params      detector parameter overrides, "key=value,..."
 *   source NAME.type   prometheus | scrape | csv | jsonl
 *   source NAME.url / .path / .query / .service / .symptom
 *   services.NAME      "a, b": the services NAME depends on
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#ifndef DETECT_NO_WORKER
#include "job.h"
#include "wire.h"
#include "worker.h"

static const struct worker_spec detect_spec = {
    .name = "opsbot-detect",
    .section = "detect",
    .kinds = (const char *const[]){WIRE_JOB_DETECT, NULL},
    .init = job_init,
    .handle = job_handle,
    .fini = job_fini,
    .command = job_command,
};
#endif

int main(int argc, char **argv)
{
	log_init("opsbot-detect");
	if (argc > 1 && (strcmp(argv[1], "score") == 0 || strcmp(argv[1], "rca") == 0))
		return cli_main(argc - 1, argv + 1);
#ifndef DETECT_NO_WORKER
	return worker_main(argc, argv, &detect_spec);
#else
	fprintf(stderr, "opsbot-detect: this build has no worker loop (lib/worker.c is not in "
	                "the tree yet); only `score` and `rca` are available\n");
	return 2;
#endif
}
