/*
 * worker.h: the claim / heartbeat / complete loop every worker shares.
 *
 * A worker's own file is its handler and a short main:
 *
 *   static const struct worker_spec spec = {
 *       .name = "opsbot-detect", .section = "detect",
 *       .kinds = (const char *const[]){WIRE_JOB_DETECT, NULL},
 *       .init = detect_init, .handle = detect_handle, .fini = detect_fini,
 *   };
 *   int main(int argc, char **argv) { return worker_main(argc, argv, &spec); }
 *
 * worker_main parses "-c FILE" (default config/opsbot.conf), reads [queue]
 * listen, calls init, then loops: claim (long poll), heartbeat from a second
 * thread while the handler runs, complete or fail.  SIGTERM finishes the
 * current job and exits; SIGHUP calls reload when set.  Arguments after the
 * options that are not "-c FILE" go to spec->command when set (a worker's
 * command-line modes, e.g. "opsbot-detect score FILE.csv").
 */
#ifndef OPSBOT_WORKER_H
#define OPSBOT_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"

struct worker_job {
	int64_t id;
	int64_t incident;
	const char *kind;
	int attempt; /* 1 on first delivery */
	const cJSON *input;
};

enum worker_status {
	WORKER_OK = 0,
	WORKER_RETRY = -1,    /* fail, retryable: the queue retries with backoff */
	WORKER_PERMANENT = -2 /* fail, not retryable: dead-letter now */
};

struct worker_spec {
	const char *name;         /* program name for logs */
	const char *section;      /* its config section, checked for unknown keys */
	const char *const *kinds; /* NULL-terminated job kinds it claims */
	/* Read config; *state is passed to every other call.  Return 0 or -1 with err. */
	int (*init)(struct config *cfg, void **state, char *err, size_t errlen);
	/* Handle one job: WORKER_OK with *result set (caller frees), or a failure with err. */
	int (*handle)(void *state, const struct worker_job *job, cJSON **result, char *err,
	              size_t errlen);
	void (*fini)(void *state);
	/* Optional: command-line modes; returns the process exit code. */
	int (*command)(int argc, char **argv);
};

int worker_main(int argc, char **argv, const struct worker_spec *spec);

#endif
