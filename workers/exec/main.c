/*
 * NAME
 *   opsbot-exec -- run approved catalog actions, once, and prove they worked
 *
 * SYNOPSIS
 *   opsbot-exec [-c config/opsbot.conf]             worker: execute, verify, dryrun
 *   opsbot-exec [-c FILE] check                     load the catalog, say what is in it
 *   opsbot-exec [-c FILE] argv ACTION [PARAMS-JSON] the argv one step would run
 *   opsbot-exec [-c FILE] dryrun PLAN.json          the same for every step of a plan
 *
 * DESCRIPTION
 *   Claims `execute` jobs (an approved plan) and runs the steps in order:
 *   each step's parameters are checked again against config/actions.conf,
 *   a ledger row is committed in the queue before the process starts
 *   (cooldowns and rate limits are judged there) and its result after.  A
 *   step found started but not finished after a crash runs again only when
 *   the catalog marks the action idempotent; otherwise the queue holds the
 *   job and the incident's thread asks "step N may or may not have run:
 *   Retry / Skip / Abort" (event action.unknown; the answer is the ledger
 *   request op "decide", e.g. `opsbotctl step ID N retry`).
 *
 *   Claims `verify` jobs: the actions' own checks (catalog `verify`), then
 *   a re-check of the symptom by running `opsbot-detect analyze` (the detect
 *   worker's own code) on data up to now, retried every verify_interval for
 *   verify_window.  When that fails, rollbacks run as their own ledger
 *   steps and the incident goes back to planning (verify result
 *   replan:true) until max_rounds rounds were tried, then fails.
 *
 *   Claims `dryrun` jobs: the exact argv each step of the incident's plan
 *   would run now, or why it would be refused; nothing runs.
 *
 *   SIGHUP reads [exec] and the catalog again (between jobs); a catalog
 *   with an error is reported and the old one kept.
 *
 * TRUST
 *   Trusted: the config and config/actions.conf.  Untrusted: the whole job
 *   input, above all each step's action name and parameters, which may come
 *   from a language model: an unknown action, an unknown or badly typed
 *   parameter refuses the step before anything runs.  Actions run as argv
 *   (posix_spawn, never a shell) in their own process group with an
 *   environment of PATH plus the variables their catalog entry names, a
 *   working directory, a timeout (SIGTERM, then SIGKILL to the group) and
 *   bounded output.  Values of secret-looking variables (and of
 *   [exec] secrets) are redacted from output before it is stored or shown.
 *
 * MESSAGES
 *   in:  claim -> execute {incident, plan}, verify {incident, plan, execute},
 *        dryrun {plan?}
 *   out: ledger begin/restart/finish/ask/list, query what:"incident";
 *        complete: see lib/wire.h (execute, verify, dryrun)
 *
 * CONFIG ([exec])
 *   catalog         the action catalog (default config/actions.conf)
 *   workdir         actions' working directory (default ".")
 *   kill_grace      SIGTERM -> SIGKILL at a timeout (default 5s)
 *   output_max      bytes of a step's output kept (default 65536)
 *   verify_window   how long verification keeps trying (default 2m)
 *   verify_interval pause between tries (default 5s)
 *   settle          an anomaly that ended this long ago counts as over in the
 *                   symptom re-check (default 30s; a simulator running N
 *                   times real time wants 30s/N)
 *   recheck         run the symptom re-check (default yes)
 *   detect          the detector program (default opsbot-detect, next to us)
 *   max_rounds      execute rounds per incident before it fails (default 2)
 *   secrets         more variable names whose values are redacted
 *   call_timeout    one ledger call's timeout (default 5s)
 *   and the worker runtime keys of lib/worker.h (lease, claim_wait, stop_grace).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "defaults.h"
#include "exec.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "run.h"
#include "wire.h"
#include "worker.h"

/* Secrets opsbot itself reads (README "Configuration"); never in an action's output. */
static const char *const exec_known_secrets[] = {
    "SLACK_BOT_TOKEN",    "SLACK_APP_TOKEN",      "SLACK_SIGNING_SECRET", "DISCORD_BOT_TOKEN",
    "OPSBOT_LLM_API_KEY", "OPSBOT_SMTP_PASSWORD", "OPSBOT_HOOK_TOKEN",    NULL};

/* path is a bare program name: look next to our own binary. */
static void exec_find_program(const char *name, char *out, size_t len)
{
	out[0] = '\0';
	if (!*name)
		return;
	if (strchr(name, '/')) {
		if (!realpath(name, out))
			out[0] = '\0';
		return;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return;
	*slash = '\0';
	char *p = xasprintf("%s/%s", self, name);
	if (access(p, X_OK) == 0)
		str_copy(out, len, p);
	free(p);
}

/*
 * With neither catalog nor workdir set and no config/actions.conf here, the
 * checkout this binary was built in (BIN/../..) when it has one: the
 * catalog's scripts/actions/ paths are relative to it.  0 when found.
 */
static int exec_find_checkout(char *root, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(self, '/');
		if (!slash)
			return -1;
		*slash = '\0';
	}
	char *cat = xasprintf("%s/config/actions.conf", self);
	int ok = access(cat, R_OK) == 0;
	free(cat);
	if (!ok)
		return -1;
	str_copy(root, len, self);
	return 0;
}

int exec_init(struct config *cfg, void **state, char *err, size_t errlen)
{
	struct exec_state *s = xcalloc(1, sizeof(*s));
	const char *cat = config_str(cfg, "exec", "catalog", NULL);
	const char *wd = config_str(cfg, "exec", "workdir", NULL);
	char root[PATH_MAX], *cat_owned = NULL;
	if (!cat && !wd && access("config/actions.conf", R_OK) != 0 &&
	    exec_find_checkout(root, sizeof(root)) == 0) {
		cat = cat_owned = xasprintf("%s/config/actions.conf", root);
		wd = root;
		log_info("event=catalog_found path=%s reason=\"[exec] catalog and workdir are not "
		         "set and there is no config/actions.conf here\"",
		         log_q(cat));
	}
	if (!cat)
		cat = "config/actions.conf";
	if (!wd)
		wd = ".";
	const char *det = config_str(cfg, "exec", "detect", "opsbot-detect");
	str_copy(s->url, sizeof(s->url), config_str(cfg, "queue", "listen", DEF_QUEUE_URL));
	s->kill_grace_ms = config_duration_ms(cfg, "exec", "kill_grace", 5000);
	s->verify_window_ms = config_duration_ms(cfg, "exec", "verify_window", 120000);
	s->verify_interval_ms = config_duration_ms(cfg, "exec", "verify_interval", 5000);
	s->settle_ms = config_duration_ms(cfg, "exec", "settle", 30000);
	s->call_ms = config_duration_ms(cfg, "exec", "call_timeout", 5000);
	s->output_max = (size_t)config_int(cfg, "exec", "output_max", 65536, 1024, RUN_OUTPUT_MAX);
	s->recheck = config_bool(cfg, "exec", "recheck", 1);
	s->max_rounds = (int)config_int(cfg, "exec", "max_rounds", 2, 1, 10);
	const char *secrets[64];
	size_t ns = config_all(cfg, "exec", "secrets", secrets, 64);
	if (s->kill_grace_ms < 0 || s->verify_window_ms < 0 || s->verify_interval_ms < 10 ||
	    s->call_ms < 100 || s->settle_ms < 0) {
		snprintf(err, errlen,
		         "[exec] kill_grace, verify_window and settle must not be negative, "
		         "verify_interval at least 10ms, call_timeout at least 100ms");
		goto fail;
	}
	if (!realpath(wd, s->workdir)) {
		snprintf(err, errlen, "[exec] workdir %s: %s", wd, strerror(errno));
		goto fail;
	}
	if (!realpath(worker_config_path(), s->config))
		str_copy(s->config, sizeof(s->config), worker_config_path());
	exec_find_program(det, s->detect, sizeof(s->detect));
	if (s->recheck && !s->detect[0])
		log_warn("event=no_detector program=%s reason=\"not found; verification runs the "
		         "actions' own checks only\"",
		         log_q(det));
	if (catalog_load(cat, &s->cat, err, errlen) < 0)
		goto fail;
	free(cat_owned);
	cat_owned = NULL;
	/* Redaction: opsbot's own secrets, secret-looking names an action may see, [exec] secrets.
	 */
	for (const char *const *k = exec_known_secrets; *k; k++)
		run_add_secret_env(*k);
	for (size_t i = 0; i < s->cat->n; i++)
		for (size_t k = 0; k < s->cat->actions[i].nenv; k++)
			if (run_secret_name(s->cat->actions[i].env[k]))
				run_add_secret_env(s->cat->actions[i].env[k]);
	for (size_t i = 0; i < ns; i++) {
		size_t n;
		const char *p = secrets[i];
		while (*p) {
			while (*p == ',' || *p == ' ')
				p++;
			n = strcspn(p, ", ");
			if (n) {
				char *name = xstrndup(p, n);
				run_add_secret_env(name);
				free(name);
			}
			p += n;
		}
	}
	log_info("event=exec_config actions=%zu workdir=%s recheck=%d detect=%s max_rounds=%d",
	         s->cat->n, log_q(s->workdir), s->recheck && s->detect[0], log_q(s->detect),
	         s->max_rounds);
	*state = s;
	return 0;
fail:
	free(cat_owned);
	catalog_free(s->cat);
	free(s);
	return -1;
}

void exec_fini(void *state)
{
	struct exec_state *s = state;
	if (!s)
		return;
	if (s->rpc)
		rpc_close(s->rpc);
	catalog_free(s->cat);
	free(s);
}

/* SIGHUP: the catalog and [exec] read again; kept as they were when that fails. */
static int exec_reload(void *state, struct config *cfg, char *err, size_t errlen)
{
	void *fresh;
	if (exec_init(cfg, &fresh, err, errlen) < 0)
		return -1;
	struct exec_state *s = state, *n = fresh;
	struct rpc *rpc = strcmp(s->url, n->url) == 0 ? s->rpc : NULL;
	if (!rpc && s->rpc)
		rpc_close(s->rpc);
	catalog_free(s->cat);
	*s = *n;
	s->rpc = rpc;
	free(n);
	log_info("event=catalog_reloaded actions=%zu", s->cat->n);
	return 0;
}

static int exec_usage(void)
{
	fprintf(stderr, "usage: opsbot-exec [-c FILE]                      (the worker)\n"
	                "       opsbot-exec [-c FILE] check\n"
	                "       opsbot-exec [-c FILE] argv ACTION [PARAMS-JSON]\n"
	                "       opsbot-exec [-c FILE] dryrun PLAN.json\n");
	return 2;
}

static int exec_print(cJSON *o)
{
	char *t = cJSON_Print(o);
	if (t)
		puts(t);
	free(t);
	cJSON_Delete(o);
	return 0;
}

static int exec_command(int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "check") && strcmp(cmd, "argv") && strcmp(cmd, "dryrun"))
		return exec_usage();
	if ((!strcmp(cmd, "check") && argc != 1) ||
	    (!strcmp(cmd, "argv") && (argc < 2 || argc > 3)) ||
	    (!strcmp(cmd, "dryrun") && argc != 2))
		return exec_usage();
	if (!getenv("OPSBOT_LOG_LEVEL"))
		log_set_level(LOG_WARN); /* a command's output is its answer, not a log */
	struct config *cfg;
	char err[1024];
	if (config_load(worker_config_path(), &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-exec: %s\n", err);
		return 1;
	}
	void *st = NULL;
	if (exec_init(cfg, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-exec: %s\n", err);
		config_free(cfg);
		return 1;
	}
	struct exec_state *s = st;
	int rc = 0;
	if (!strcmp(cmd, "check")) {
		printf("%s: %zu actions\n", s->cat->file, s->cat->n);
	} else {
		cJSON *plan = NULL;
		if (!strcmp(cmd, "argv")) {
			cJSON *params = NULL;
			if (argc == 3 && json_parse_object(argv[2], strlen(argv[2]), &params, err,
			                                   sizeof(err)) < 0) {
				fprintf(stderr, "opsbot-exec: PARAMS-JSON: %s\n", err);
				rc = 2;
				goto out;
			}
			plan = json_new_object();
			cJSON *steps = json_new_array();
			cJSON *one = json_new_object();
			json_add_str(one, "action", argv[1]);
			json_add(one, "params", params ? params : json_new_object());
			cJSON_AddItemToArray(steps, one);
			json_add(plan, "steps", steps);
		} else {
			struct buf b = {.max = 1 << 20};
			if (buf_read_file(&b, argv[1], err, sizeof(err)) < 0 ||
			    json_parse_object(b.data, b.len, &plan, err, sizeof(err)) < 0) {
				fprintf(stderr, "opsbot-exec: %s\n", err);
				buf_free(&b);
				rc = 2;
				goto out;
			}
			buf_free(&b);
			cJSON *inner = cJSON_DetachItemFromObjectCaseSensitive(plan, "plan");
			if (inner) {
				cJSON_Delete(plan);
				plan = inner;
			}
		}
		cJSON *res = exec_dryrun_plan(s, plan);
		rc = json_bool(res, "ok", 0) ? 0 : 1;
		if (rc) {
			const cJSON *it;
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "steps"))
			{
				if (json_str(it, "error"))
					fprintf(stderr, "opsbot-exec: step %lld %s: %s\n",
					        (long long)json_int(it, "step", 0),
					        json_str(it, "action"), json_str(it, "error"));
			}
		}
		exec_print(res);
		cJSON_Delete(plan);
	}
out:
	exec_fini(s);
	config_free(cfg);
	return rc;
}

static const struct worker_spec exec_spec = {
    .name = "opsbot-exec",
    .section = "exec",
    .kinds = (const char *const[]){WIRE_JOB_EXECUTE, WIRE_JOB_VERIFY, WIRE_JOB_DRYRUN, NULL},
    .init = exec_init,
    .handle = exec_handle,
    .fini = exec_fini,
    .command = exec_command,
    .reload = exec_reload,
};

int main(int argc, char **argv)
{
	return worker_main(argc, argv, &exec_spec);
}
