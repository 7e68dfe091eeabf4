/*
 * exec.h: opsbot-exec's job handlers (exec.c) and the state they share.
 *
 * Ownership: exec_init's *state is freed by exec_fini; it owns the
 * catalog, its own connection to the queue and copies of every config
 * string it keeps (so a reload may free the config).
 */
#ifndef OPSBOT_EXEC_EXEC_H
#define OPSBOT_EXEC_EXEC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "config.h"
#include "worker.h"

struct rpc;

struct exec_state {
	struct catalog *cat;
	char url[512];
	char workdir[PATH_MAX]; /* absolute */
	char detect[PATH_MAX];  /* opsbot-detect, for the symptom re-check; "" = none */
	char config[PATH_MAX];  /* absolute path of our config, for opsbot-detect -c */
	int recheck;            /* run the symptom re-check */
	int64_t kill_grace_ms;
	int64_t verify_window_ms; /* how long verification keeps trying */
	int64_t verify_interval_ms;
	int64_t settle_ms; /* an anomaly that ended this long ago is over */
	int64_t call_ms;   /* one ledger call's timeout */
	size_t output_max;
	int max_rounds;  /* execute rounds per incident before it fails */
	struct rpc *rpc; /* to the queue, opened on first use */
};

int exec_init(struct config *cfg, void **state, char *err, size_t errlen);
void exec_fini(void *state);
int exec_handle(void *state, const struct worker_job *job, cJSON **result, char *err,
                size_t errlen);

/*
 * Dry run of a plan: for each step its checked argv (or why it would be
 * refused); runs nothing.  Caller owns the result.
 */
cJSON *exec_dryrun_plan(const struct exec_state *s, const cJSON *plan);

#endif
