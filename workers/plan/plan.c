/*
 * NAME
 *   opsbot-plan - propose a remediation plan made only of catalog actions
 *
 * SYNOPSIS
 *   opsbot-plan [-c FILE]                    the worker (claims "plan" jobs)
 *   opsbot-plan [-c FILE] check              load and check config, catalog, policy
 *   opsbot-plan [-c FILE] plan INPUT.json [--now ISO]   plan one input, print the result
 *   opsbot-plan [-c FILE] record SIGNATURE ACTION win|loss   teach the bandit by hand
 *   opsbot-plan [-c FILE] ran ACTION TARGET [--at ISO]       record a run (cooldowns)
 *   opsbot-plan [-c FILE] argv ACTION PARAMS-JSON  check params, print the action's argv
 *   opsbot-plan [-c FILE] bench N INPUT.json  time N plans, print one JSON line
 *
 * DESCRIPTION
 *   For each plan job ({incident, detect, retrieve}) it asks the LLM
 *   planner when [llm] base_url is set, else (or when that fails) the
 *   offline playbook planner; every proposal then passes the critic
 *   (catalog types, policy freezes, replica limits, cooldowns and rate
 *   limits), each step gets its risk from the catalog and its approval
 *   from the policy, and the plan is named and hashed.  A thread follows
 *   the queue's event log to learn which actions fixed which incident
 *   signatures (the bandit) and when actions last ran (cooldowns).
 *
 * TRUST
 *   Trusted: the config, config/actions.conf, config/policy.conf.
 *   Untrusted: the whole job input (alert text, labels, logs, passages) and
 *   every word the model answers; neither can add an action, change a
 *   parameter outside its catalog type, set a risk or skip an approval.
 *   The model key comes from OPSBOT_LLM_API_KEY and is never logged.
 *   A bad input fails that job (permanent) with the reason; never the process.
 *
 * MESSAGES
 *   in:  claim -> job {kind:"plan", input:{incident{...}, detect?, retrieve?, timeline?}}
 *   out: complete {plan:{id, hash, planner, signature, steps:[{action, params,
 *        risk, rationale, citations, approval, approvers?, distinct_approvers?,
 *        requester_may_approve?, approval_expiry_ms?}], notes}, needs_approval,
 *        summary, llm?}
 *   reads: query what:"events" (learning)
 *
 * CONFIG
 *   [plan] and [llm]: see planner.h and config/opsbot.conf; the worker
 *   runtime keys (lease, claim_wait, stop_grace) of lib/worker.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "defaults.h"
#include "json.h"
#include "learn.h"
#include "log.h"
#include "mem.h"
#include "planner.h"
#include "rpc.h"
#include "timeutil.h"
#include "wire.h"
#include "worker.h"

struct plan_state {
	struct planner *planner;
	struct learn *learn;
	char url[512];
	struct rpc *rpc; /* for the timeline; opened on first use */
};

/*
 * The incident's timeline from the queue (notes people wrote, stage
 * changes), for the LLM's prompt; NULL when the queue does not say.  The
 * plan job's input does not carry it (lib/wire.h).  Caller owns the array.
 */
static cJSON *plan_timeline(struct plan_state *s, int64_t incident)
{
	char err[512];
	if (!s->rpc && rpc_open(&s->rpc, s->url, err, sizeof(err)) < 0)
		return NULL;
	cJSON *req = wire_new(WIRE_QUERY, incident);
	json_add_str(req, "what", "timeline");
	cJSON *reply = NULL;
	int rc = rpc_call(s->rpc, req, &reply, 2000, 0, err, sizeof(err));
	cJSON_Delete(req);
	cJSON *items = NULL;
	if (rc == 0 && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(reply, "items")))
		items = json_dup(cJSON_GetObjectItemCaseSensitive(reply, "items"));
	else
		log_warn("event=timeline_unavailable incident=%lld error=%s", (long long)incident,
		         log_q(rc == 0 ? "no items" : err));
	cJSON_Delete(reply);
	return items;
}

static int plan_init(struct config *cfg, void **state, char *err, size_t errlen)
{
	struct plan_state *s = xcalloc(1, sizeof(*s));
	if (planner_new(&s->planner, cfg, err, errlen) < 0) {
		free(s);
		return -1;
	}
	/* the worker checks [plan]; [llm] is ours too */
	if (config_check(cfg, (const char *const[]){"llm", NULL}, err, errlen) < 0) {
		planner_free(s->planner);
		free(s);
		return -1;
	}
	const char *db = planner_db_path(s->planner);
	const char *url = config_str(cfg, "queue", "listen", DEF_QUEUE_URL);
	str_copy(s->url, sizeof(s->url), url);
	if (planner_learns(s->planner) && strcmp(db, ":memory:") != 0) {
		if (learn_start(&s->learn, url, db, planner_learn_interval_ms(s->planner), err,
		                errlen) < 0) {
			planner_free(s->planner);
			free(s);
			return -1;
		}
	}
	*state = s;
	return 0;
}

static int plan_handle(void *state, const struct worker_job *job, cJSON **result, char *err,
                       size_t errlen)
{
	struct plan_state *s = state;
	if (!job->input) {
		snprintf(err, errlen, "the plan job has no input");
		return WORKER_PERMANENT;
	}
	cJSON *input = NULL;
	if (planner_uses_llm(s->planner) && job->incident > 0 &&
	    !cJSON_GetObjectItemCaseSensitive(job->input, "timeline")) {
		cJSON *tl = plan_timeline(s, job->incident);
		if (tl) {
			input = json_dup(job->input);
			json_add(input, "timeline", tl);
		}
	}
	int rc =
	    planner_run(s->planner, input ? input : job->input, time_now_ms(), result, err, errlen);
	cJSON_Delete(input);
	if (rc < 0)
		return WORKER_PERMANENT;
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(*result, "plan");
	log_info("event=planned job=%lld incident=%lld planner=%s steps=%d needs_approval=%s "
	         "plan=%s",
	         (long long)job->id, (long long)job->incident, json_str(plan, "planner"),
	         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(plan, "steps")),
	         json_bool(*result, "needs_approval", 0) ? "yes" : "no", json_str(plan, "id"));
	return WORKER_OK;
}

/* SIGHUP: a new catalog, policy or [llm] takes effect between jobs; a bad one is refused. */
static int plan_reload(void *state, struct config *cfg, char *err, size_t errlen)
{
	struct plan_state *s = state;
	struct planner *np = NULL;
	if (planner_new(&np, cfg, err, errlen) < 0)
		return -1;
	/* the worker read its runtime keys already: any other unread key is a typo */
	if (config_check(cfg, (const char *const[]){"plan", "llm", NULL}, err, errlen) < 0) {
		planner_free(np);
		return -1;
	}
	planner_free(s->planner);
	s->planner = np;
	log_info("event=reloaded");
	return 0;
}

static void plan_fini(void *state)
{
	struct plan_state *s = state;
	if (!s)
		return;
	learn_stop(s->learn);
	if (s->rpc)
		rpc_close(s->rpc);
	planner_free(s->planner);
	free(s);
}

/* ---- command-line modes ------------------------------------------------- */

static int plan_read_file(const char *path, cJSON **out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "opsbot-plan: %s: cannot open\n", path);
		return -1;
	}
	struct buf b = {.max = WIRE_MAX_BYTES};
	char tmp[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_append(&b, tmp, n) < 0) {
			fprintf(stderr, "opsbot-plan: %s: larger than %d bytes\n", path,
			        WIRE_MAX_BYTES);
			rc = -1;
			break;
		}
	if (f != stdin)
		fclose(f);
	char err[256];
	if (rc == 0 && json_parse_object(b.data ? b.data : "", b.len, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-plan: %s: %s\n", path, err);
		rc = -1;
	}
	buf_free(&b);
	return rc;
}

static int plan_open(struct config **cfg, struct planner **p)
{
	char err[1024];
	if (config_load(worker_config_path(), cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-plan: %s\n", err);
		return -1;
	}
	if (planner_new(p, *cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-plan: %s\n", err);
		config_free(*cfg);
		return -1;
	}
	/* the worker's own runtime keys are allowed in [plan] too */
	config_duration_ms(*cfg, "plan", "lease", 0);
	config_duration_ms(*cfg, "plan", "claim_wait", 0);
	config_duration_ms(*cfg, "plan", "stop_grace", 0);
	if (config_check(*cfg, (const char *const[]){"plan", "llm", NULL}, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-plan: %s\n", err);
		planner_free(*p);
		config_free(*cfg);
		return -1;
	}
	return 0;
}

static int plan_time_arg(int argc, char **argv, const char *flag, int64_t *ms)
{
	*ms = time_now_ms();
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0 && time_parse_iso(argv[i + 1], ms) < 0) {
			fprintf(stderr, "opsbot-plan: %s %s: not an RFC 3339 time\n", flag,
			        argv[i + 1]);
			return -1;
		}
	return 0;
}

static int plan_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Check params against the catalog and print the action's argv, one element a line. */
static int plan_argv(const char *action, const char *params_json)
{
	struct config *cfg = NULL;
	struct planner *p = NULL;
	if (plan_open(&cfg, &p) < 0)
		return 1;
	int rc = 1;
	char err[512];
	struct catalog *cat = NULL;
	cJSON *params = NULL;
	if (catalog_load(config_str(cfg, "plan", "catalog", "config/actions.conf"), &cat, err,
	                 sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-plan: %s\n", err);
		goto out;
	}
	const struct catalog_action *a = catalog_find(cat, action);
	if (!a || a->run != CATALOG_RUN_ARGV) {
		fprintf(stderr, "opsbot-plan: %s is not a script action in the catalog\n", action);
		goto out;
	}
	if (json_parse_object(params_json, strlen(params_json), &params, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-plan: params: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < a->nparams; i++) {
		const struct catalog_param *cp = &a->params[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, cp->name);
		if (!v && cp->def) {
			json_add(params, cp->name, catalog_value_json(cp, cp->def));
			continue;
		}
		if (!v && cp->optional)
			continue;
		if (!v || catalog_check_value(cp, v, err, sizeof(err)) < 0) {
			fprintf(stderr, "opsbot-plan: %s\n",
			        v ? err : "a required parameter is missing");
			goto out;
		}
	}
	for (size_t i = 0; i < a->argc; i++) {
		/* an optional parameter with no value drops its whole argument */
		char *s = catalog_render(a->argv[i], params, err, sizeof(err));
		if (s)
			printf("%s\n", s);
		free(s);
	}
	rc = 0;
out:
	cJSON_Delete(params);
	catalog_free(cat);
	planner_free(p);
	config_free(cfg);
	return rc;
}

static int plan_command(int argc, char **argv)
{
	const char *cmd = argv[0];
	struct config *cfg = NULL;
	struct planner *p = NULL;
	int rc = 2;
	if (strcmp(cmd, "check") == 0 && argc == 1) {
		if (plan_open(&cfg, &p) < 0)
			return 1;
		printf("ok\n");
		rc = 0;
	} else if (strcmp(cmd, "plan") == 0 && (argc == 2 || argc == 4)) {
		int64_t now;
		cJSON *input = NULL, *result = NULL;
		if (plan_time_arg(argc, argv, "--now", &now) < 0 ||
		    plan_read_file(argv[1], &input) < 0)
			return 1;
		if (plan_open(&cfg, &p) < 0) {
			cJSON_Delete(input);
			return 1;
		}
		char err[512];
		if (planner_run(p, input, now, &result, err, sizeof(err)) < 0) {
			fprintf(stderr, "opsbot-plan: %s\n", err);
			rc = 1;
		} else {
			char *s = cJSON_Print(result);
			printf("%s\n", s);
			free(s);
			rc = 0;
		}
		cJSON_Delete(result);
		cJSON_Delete(input);
	} else if (strcmp(cmd, "record") == 0 && argc == 4 &&
	           (strcmp(argv[3], "win") == 0 || strcmp(argv[3], "loss") == 0)) {
		if (plan_open(&cfg, &p) < 0)
			return 1;
		struct outcomes *o = NULL;
		char err[512];
		if (outcomes_open(&o, planner_db_path(p), err, sizeof(err)) < 0 ||
		    outcomes_record(o, argv[1], argv[2], strcmp(argv[3], "win") == 0) < 0) {
			fprintf(stderr, "opsbot-plan: cannot record: %s\n", err);
			rc = 1;
		} else {
			rc = 0;
		}
		outcomes_close(o);
	} else if (strcmp(cmd, "ran") == 0 && (argc == 3 || argc == 5)) {
		int64_t at;
		if (plan_time_arg(argc, argv, "--at", &at) < 0 || plan_open(&cfg, &p) < 0)
			return 1;
		struct outcomes *o = NULL;
		char err[512] = "";
		if (outcomes_open(&o, planner_db_path(p), err, sizeof(err)) < 0 ||
		    outcomes_ran(o, argv[1], argv[2], 0, at) < 0) {
			fprintf(stderr, "opsbot-plan: cannot record: %s\n", err);
			rc = 1;
		} else {
			rc = 0;
		}
		outcomes_close(o);
	} else if (strcmp(cmd, "argv") == 0 && argc == 3) {
		rc = plan_argv(argv[1], argv[2]);
	} else if (strcmp(cmd, "bench") == 0 && argc == 3) {
		char *end;
		long n = strtol(argv[1], &end, 10);
		cJSON *input = NULL;
		if (*end || n < 1 || n > 1000000 || plan_read_file(argv[2], &input) < 0)
			return 2;
		if (plan_open(&cfg, &p) < 0) {
			cJSON_Delete(input);
			return 1;
		}
		double *total = xcalloc((size_t)n, sizeof(double));
		double *over = xcalloc((size_t)n, sizeof(double));
		rc = 0;
		for (long i = 0; i < n; i++) {
			cJSON *result = NULL;
			char err[512];
			int64_t t0 = time_mono_us();
			if (planner_run(p, input, time_now_ms(), &result, err, sizeof(err)) < 0) {
				fprintf(stderr, "opsbot-plan: %s\n", err);
				rc = 1;
				break;
			}
			total[i] = (double)(time_mono_us() - t0) / 1000.0;
			over[i] = planner_last_overhead_ms(p);
			cJSON_Delete(result);
		}
		if (rc == 0) {
			qsort(total, (size_t)n, sizeof(double), plan_cmp_double);
			qsort(over, (size_t)n, sizeof(double), plan_cmp_double);
			size_t i50 = (size_t)(n - 1) / 2, i99 = (size_t)ceil(0.99 * (double)n) - 1;
			printf("{\"n\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"overhead_p50_ms\":%."
			       "3f}\n",
			       n, total[i50], total[i99], over[i50]);
		}
		free(total);
		free(over);
		cJSON_Delete(input);
	} else {
		fprintf(stderr,
		        "usage: opsbot-plan [-c FILE] [check | plan INPUT.json [--now ISO] | "
		        "record SIGNATURE ACTION win|loss | ran ACTION TARGET [--at ISO] | "
		        "argv ACTION PARAMS-JSON | "
		        "bench N INPUT.json]\n");
		return 2;
	}
	planner_free(p);
	config_free(cfg);
	return rc;
}

static const struct worker_spec plan_spec = {
    .name = "opsbot-plan",
    .section = "plan",
    .kinds = (const char *const[]){WIRE_JOB_PLAN, NULL},
    .init = plan_init,
    .handle = plan_handle,
    .fini = plan_fini,
    .command = plan_command,
    .reload = plan_reload,
};

int main(int argc, char **argv)
{
	return worker_main(argc, argv, &plan_spec);
}
