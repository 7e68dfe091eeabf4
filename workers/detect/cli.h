/*
 * cli.h: opsbot-detect's command-line modes (benchmarks and ad-hoc use).
 *
 *   opsbot-detect score [-p key=value,...] FILE.csv
 *       timestamp,value in; timestamp,value,anomaly_score out (stdout).
 *   opsbot-detect rca --normal N.csv --anomalous A.csv
 *       wide CSVs in; {"ranking":[{service, score, confidence, metric,
 *       direction, onset_ms, rationale}]} out.
 */
#ifndef OPSBOT_DETECT_CLI_H
#define OPSBOT_DETECT_CLI_H

#include <cjson/cJSON.h>

#include "rca.h"

/* Returns a process exit code: 0 ok, 2 usage, 1 failure. */
int cli_main(int argc, char **argv);

/* The JSON ranking for services (caller frees with cJSON_Delete). */
cJSON *cli_ranking_json(const struct rca_service *svc, size_t n, size_t max);

#endif
