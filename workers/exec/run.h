/*
 * run.h: how opsbot-exec turns a catalog action into a process, and runs it.
 *
 * Building (run_build): the step's parameters are checked again against the
 * catalog (config/actions.conf): every name must be a declared parameter,
 * every value must pass its type (catalog_check_value: enum, int range,
 * whole-value pattern, no control characters, at most 256 bytes, no
 * leading '-'), required ones must be there, defaults fill the rest.  Then
 * each element of the argv template is rendered on its own: a value becomes
 * (part of) exactly one argument, whatever it holds.  Nothing is ever given
 * to a shell.
 *
 * Running (run_exec): posix_spawn of argv[0] (relative to the working
 * directory, or absolute for external actions) in a new process group,
 * stdin from /dev/null, stdout and stderr into one pipe, an environment of
 * only PATH (fixed, run_env) plus the variables the catalog entry names
 * that are set in opsbot-exec's own environment.  Output beyond max_output
 * bytes is read and dropped (the child never blocks on a full pipe).  At
 * the timeout the whole group gets SIGTERM, then SIGKILL after the grace;
 * when the program itself exits, whatever it left running in its group is
 * killed too, so no step outlives its ledger row.
 *
 * Ownership: every struct here owns its strings; free with the _free call.
 */
#ifndef OPSBOT_EXEC_RUN_H
#define OPSBOT_EXEC_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "catalog.h"

#define RUN_PATH       "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define RUN_OUTPUT_MAX (1 << 20) /* the most output_max may be */
#define RUN_ARGS_MAX   256

enum run_which { RUN_ACTION, RUN_VERIFY };

struct run_cmd {
	char **argv; /* NULL-terminated */
	size_t argc;
	cJSON *params; /* the checked parameters with defaults filled */
};

/*
 * Check params (a JSON object, may be NULL) against action a and render the
 * argv of its run (RUN_ACTION) or verify (RUN_VERIFY) template into *out.
 * 0, or -1 with a reason for a person in err (nothing is built then).
 */
int run_build(const struct catalog_action *a, const cJSON *params, enum run_which which,
              struct run_cmd *out, char *err, size_t errlen);
void run_cmd_free(struct run_cmd *c);
/* The argv as a JSON array of strings; caller owns it. */
cJSON *run_argv_json(const struct run_cmd *c);

/* The parameters of a rollback: those of rb taken from the step's params. */
cJSON *run_rollback_params(const struct catalog_action *rb, const cJSON *params);

/* "name=value,..." of the string parameters, in order: the cooldown target. */
char *run_target(const cJSON *params);

/*
 * The environment of an action: PATH=RUN_PATH, then NAME=value for every
 * name in a->env that getenv() finds.  NULL-terminated; free with run_env_free.
 */
char **run_env(const struct catalog_action *a);
void run_env_free(char **env);

struct run_opts {
	const char *workdir;   /* chdir before exec; NULL = current */
	int64_t timeout_ms;    /* > 0 */
	int64_t kill_grace_ms; /* SIGTERM -> SIGKILL */
	size_t max_output;     /* bytes kept */
	int quiet_stderr;      /* stderr to /dev/null instead of into the output */
	/* Called right after a successful spawn (e.g. to time it); may be NULL. */
	void (*on_spawn)(void *arg, pid_t pid);
	void *arg;
};

struct run_result {
	int spawned;   /* 0: could not start (error says why) */
	int exit_code; /* exit status, or 128+signal */
	int signaled;
	int timed_out;
	int64_t ms;      /* from spawn to exit */
	char *output;    /* NUL-terminated, redacted; never NULL after run_exec */
	size_t dropped;  /* output bytes beyond max_output */
	char error[256]; /* when !spawned */
};

/* Run argv with env under opts; fills *res (always; free with run_result_free). */
void run_exec(char *const *argv, char *const *env, const struct run_opts *opts,
              struct run_result *res);
void run_result_free(struct run_result *r);

/* Secrets: the values of these variables are redacted from every output. */
void run_add_secret_env(const char *name);
/* Redact registered secrets and token-looking words in s, in place. */
void run_redact(char *s);
/* Whether a variable name looks like it holds a secret (TOKEN, SECRET, PASSWORD, KEY...). */
int run_secret_name(const char *name);

#endif
