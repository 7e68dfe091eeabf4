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
 * Runtime keys in the worker's own section (all optional):
 *   lease = 30s        lease asked for on each claim; extended every third of it
 *   stop_grace = 10s   on SIGTERM, how long the current job may still run before
 *                      it is handed back (fail, retryable) and the worker exits
 *   claim_wait = 1s    long-poll length; also how fast an idle worker notices SIGTERM
 *
 * The queue being unreachable is never fatal: every call is retried with
 * backoff (100 ms doubling to 5 s) and logged.  Exit codes: 0 after SIGTERM
 * or SIGINT, 1 for bad configuration or a failing init, 2 for bad usage.
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
	const char *lease; /* the claim's lease id (for requests that prove holding it) */
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
	/* Optional: command-line modes; returns the process exit code.  argv[0] is
	 * the first argument after the options (e.g. "score"); the config path is
	 * worker_config_path(). */
	int (*command)(int argc, char **argv);
	/* Optional: on SIGHUP (between jobs) with the freshly loaded config.  Return
	 * 0 to switch to it (the old config is freed afterwards, so state must not
	 * keep pointers into it), or -1 with err to keep running on the old one. */
	int (*reload)(void *state, struct config *cfg, char *err, size_t errlen);
};

int worker_main(int argc, char **argv, const struct worker_spec *spec);

/* The -c path worker_main was given (or the default); valid during worker_main. */
const char *worker_config_path(void);

/* Parts of worker_main exposed for unit tests. */
#define WORKER_DEFAULT_CONFIG "config/opsbot.conf"
#define WORKER_LEASE_MAX      256 /* bytes of a lease id, with the NUL */

struct worker_args {
	const char *config; /* -c FILE, or WORKER_DEFAULT_CONFIG */
	int help;           /* -h or --help */
	int cmd_argc;       /* arguments left for spec->command (0 = run the loop) */
	char **cmd_argv;    /* points into argv */
};
/* Split argv into options and command arguments; -1 with err on bad usage. */
int worker_parse_args(int argc, char **argv, struct worker_args *out, char *err, size_t errlen);

/*
 * Read the "job" of a claim reply.  Returns 1 when it is null (nothing to do),
 * 0 with *job filled (its pointers point into reply) and the lease id copied
 * into lease, or -1 with err naming the bad field.
 */
int worker_parse_claim(const cJSON *reply, struct worker_job *job, char *lease, size_t leaselen,
                       char *err, size_t errlen);

#endif
