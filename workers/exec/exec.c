/*
 * exec.c: the execute, verify and dryrun jobs of opsbot-exec (see main.c).
 *
 * execute: for each plan step in order, check it again (catalog types,
 * then cooldown and rate limit in the queue's ledger), commit its ledger
 * row, run it (run.c), commit its result.  The first step that is refused
 * or fails stops the run; the job still completes (ok:false) so that
 * verification decides what happens next.  A row found "started" when the
 * job arrives means a crash in the middle of that step: it runs again only
 * when the catalog calls the action idempotent; otherwise the queue holds
 * the job and asks a person (ledger op ask), and the job is handed back.
 *
 * verify: the actions' own checks, then the symptom re-check (opsbot-detect
 * analyze on fresh data), tried every verify_interval for verify_window.
 * Not fixed: rollbacks run as their own ledger steps (newest first), then
 * the incident goes back to planning while rounds are left, else fails.
 *
 * dryrun: the argv every step would run now, or why it would be refused.
 */
#include "exec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "run.h"
#include "timeutil.h"
#include "wire.h"

extern char **environ;

#define EXEC_CALL_TRIES  6
#define EXEC_RESULT_OUT  2000 /* output bytes per step in a job result */
#define EXEC_RECHECK_OUT (1 << 20)

/* ---- talking to the queue ---- */

/*
 * One request (consumed) with retries on transport errors.  0 with *reply,
 * -2 when the queue refused (err "code: message", *reply set), -1 when it
 * never answered.
 */
static int exec_call(struct exec_state *s, cJSON *req, cJSON **reply, char *err, size_t errlen)
{
	struct backoff bo;
	backoff_init(&bo, 50, 1000);
	int rc = -1;
	*reply = NULL;
	for (int i = 0; i < EXEC_CALL_TRIES; i++) {
		if (!s->rpc && rpc_open(&s->rpc, s->url, err, errlen) < 0) {
			time_sleep_ms(backoff_next(&bo), NULL);
			continue;
		}
		rc = rpc_call(s->rpc, req, reply, (int)s->call_ms, 0, err, errlen);
		if (rc != -1)
			break;
		cJSON_Delete(*reply);
		*reply = NULL;
		log_warn("event=queue_call_failed type=%s error=%s", log_q(json_str(req, "type")),
		         log_q(err));
		time_sleep_ms(backoff_next(&bo), NULL);
	}
	cJSON_Delete(req);
	return rc;
}

static cJSON *exec_ledger_req(const struct worker_job *job, const char *op, const char *key)
{
	cJSON *r = wire_new(WIRE_LEDGER, job->incident);
	json_add_str(r, "op", op);
	json_add_int(r, "job", job->id);
	json_add_str(r, "lease", job->lease);
	json_add_str(r, "step_key", key);
	return r;
}

/* ---- one step ---- */

struct exec_step {
	int step;
	const char *kind; /* "action" | "rollback" */
	const struct catalog_action *a;
	const char *action; /* as the plan named it */
	const cJSON *params;
	const char *plan;
	char key[WIRE_KEY_MAX + 1];
};

/* The result entry of one step, for the job result. */
static cJSON *exec_step_json(const struct exec_step *st, const cJSON *row, int ran,
                             int64_t overhead_us)
{
	cJSON *o = json_new_object();
	json_add_int(o, "step", st->step);
	json_add_str(o, "kind", st->kind);
	json_add_str(o, "action", st->action);
	json_add_str(o, "step_key", st->key);
	const char *state = json_str(row, "state");
	json_add_str(o, "state", state ? state : "refused");
	json_add_bool(o, "ok", state && (!strcmp(state, "finished") || !strcmp(state, "skipped")));
	json_add_bool(o, "ran", ran);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(row, "params");
	json_add(o, "params", p ? json_dup(p) : json_dup(st->params));
	const cJSON *av = cJSON_GetObjectItemCaseSensitive(row, "argv");
	json_add(o, "argv", av ? json_dup(av) : json_new_array());
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(row, "exit");
	json_add(o, "exit", ex ? json_dup(ex) : cJSON_CreateNull());
	int64_t st_ms = json_int(row, "started_ms", 0), fin = json_int(row, "finished_ms", 0);
	json_add_int(o, "started_ms", st_ms);
	json_add_int(o, "finished_ms", fin);
	json_add_int(o, "ms", fin >= st_ms ? fin - st_ms : 0);
	if (overhead_us >= 0)
		json_add_int(o, "overhead_us", overhead_us);
	const char *out = json_str(row, "output");
	if (out && strlen(out) > EXEC_RESULT_OUT) {
		char *cut = xstrndup(out, EXEC_RESULT_OUT);
		char *t = xasprintf("%s [... cut]", cut);
		json_add_str(o, "output", t);
		free(t);
		free(cut);
	} else {
		json_add_str(o, "output", out ? out : "");
	}
	return o;
}

struct exec_spawn_clock {
	int64_t spawned_us;
};

static void exec_on_spawn(void *arg, pid_t pid)
{
	(void)pid;
	((struct exec_spawn_clock *)arg)->spawned_us = time_mono_us();
}

/* Run a built command and commit its finish.  0 with *row, -1 with err. */
static int exec_run_and_finish(struct exec_state *s, const struct worker_job *job,
                               const struct exec_step *st, const struct run_cmd *cmd,
                               int64_t t_begin_us, cJSON **row, int64_t *overhead_us, char *err,
                               size_t errlen)
{
	char **env = run_env(st->a);
	struct exec_spawn_clock clk = {0};
	struct run_opts o = {
	    .workdir = st->a->workdir ? st->a->workdir : s->workdir,
	    .timeout_ms = st->a->timeout_ms,
	    .kill_grace_ms = s->kill_grace_ms,
	    .max_output = s->output_max,
	    .on_spawn = exec_on_spawn,
	    .arg = &clk,
	};
	struct run_result r;
	log_info("event=step_start incident=%lld job=%lld step=%d kind=%s action=%s",
	         (long long)job->incident, (long long)job->id, st->step, st->kind, st->a->name);
	run_exec(cmd->argv, env, &o, &r);
	int64_t exited_us = time_mono_us();
	run_env_free(env);
	struct buf out = {.max = RUN_OUTPUT_MAX + 4096};
	if (!r.spawned)
		buf_appendf(&out, "%s", r.error);
	else
		buf_append(&out, r.output, strlen(r.output));
	if (r.dropped)
		buf_appendf(&out, "\n[... %zu more bytes of output were dropped]", r.dropped);
	if (r.timed_out)
		buf_appendf(&out,
		            "\n[timed out after %llds: the process group got SIGTERM, then "
		            "SIGKILL]",
		            (long long)(st->a->timeout_ms / 1000));
	int ok = r.spawned && !r.timed_out && !r.signaled && r.exit_code == 0;
	cJSON *req = exec_ledger_req(job, "finish", st->key);
	json_add_str(req, "state", ok ? "finished" : "failed");
	json_add_str(req, "output", out.data ? out.data : "");
	if (r.spawned)
		json_add_int(req, "exit", r.exit_code);
	json_add_int(req, "ms", r.ms);
	buf_free(&out);
	run_result_free(&r);
	cJSON *reply;
	int rc = exec_call(s, req, &reply, err, errlen);
	int64_t done_us = time_mono_us();
	if (rc == 0) {
		*row = cJSON_DetachItemFromObjectCaseSensitive(reply, "row");
		/* begin sent -> spawned, plus exited -> finish committed */
		if (clk.spawned_us)
			*overhead_us = (clk.spawned_us - t_begin_us) + (done_us - exited_us);
	}
	cJSON_Delete(reply);
	log_info("event=step_done incident=%lld job=%lld step=%d action=%s ok=%d",
	         (long long)job->incident, (long long)job->id, st->step, st->a->name, ok);
	return rc == 0 ? 0 : -1;
}

enum exec_outcome {
	EXEC_STEP_DONE = 0,  /* *row holds the final row (finished/failed/refused/skipped) */
	EXEC_STEP_WAIT = 1,  /* a person is asked; the job is held */
	EXEC_STEP_ERROR = -1 /* the queue did not answer; retry the job */
};

/*
 * Begin (or resume) one step and run it when the ledger says so.  *result
 * gets the step's entry for the job result.
 */
static enum exec_outcome exec_step(struct exec_state *s, const struct worker_job *job,
                                   struct exec_step *st, cJSON **result, char *err, size_t errlen)
{
	char why[400] = "";
	struct run_cmd cmd = {0};
	int built = 0;
	*result = NULL;
	if (!st->a)
		snprintf(why, sizeof(why), "refused: %s is not in the action catalog", st->action);
	else if (run_build(st->a, st->params, RUN_ACTION, &cmd, why, sizeof(why)) == 0)
		built = 1;
	cJSON *req = exec_ledger_req(job, "begin", st->key);
	json_add_int(req, "step", st->step);
	json_add_str(req, "action", st->action);
	json_add(req, "params",
	         built ? json_dup(cmd.params)
	               : (cJSON_IsObject(st->params) ? json_dup(st->params) : json_new_object()));
	json_add(req, "argv", built ? run_argv_json(&cmd) : json_new_array());
	json_add_str(req, "kind", st->kind);
	if (st->plan)
		json_add_str(req, "plan", st->plan);
	if (st->a) {
		json_add_bool(req, "idempotent", st->a->idempotent);
		char *target = run_target(built ? cmd.params : st->params);
		json_add_str(req, "target", target);
		free(target);
		json_add_int(req, "cooldown_ms", st->a->cooldown_ms);
		json_add_int(req, "rate_count", st->a->rate_count);
		json_add_int(req, "rate_window_ms", st->a->rate_window_ms);
	}
	if (!built) {
		char *full = xasprintf("%s%s", strncmp(why, "refused", 7) ? "refused: " : "", why);
		json_add_str(req, "refuse", full);
		free(full);
	}
	int64_t t_begin = time_mono_us();
	cJSON *reply;
	int rc = exec_call(s, req, &reply, err, errlen);
	if (rc != 0) {
		cJSON_Delete(reply);
		run_cmd_free(&cmd);
		return EXEC_STEP_ERROR;
	}
	int created = json_bool(reply, "created", 0);
	cJSON *row = cJSON_DetachItemFromObjectCaseSensitive(reply, "row");
	cJSON_Delete(reply);
	const char *state = json_str(row, "state");
	int ran = 0;
	int64_t overhead = -1;
	enum exec_outcome out = EXEC_STEP_DONE;
	if (!state) {
		snprintf(err, errlen, "the queue's ledger reply has no row state");
		out = EXEC_STEP_ERROR;
	} else if (created && !strcmp(state, "started")) {
		cJSON *fin = NULL;
		if (exec_run_and_finish(s, job, st, &cmd, t_begin, &fin, &overhead, err, errlen) <
		    0) {
			out = EXEC_STEP_ERROR; /* the row stays started: the retry will ask */
		} else {
			cJSON_Delete(row);
			row = fin;
			ran = 1;
		}
	} else if (!created && (!strcmp(state, "started") || !strcmp(state, "unknown"))) {
		const char *dec = json_str(row, "decision");
		int again = (!strcmp(state, "started") && st->a && st->a->idempotent) ||
		            (dec && !strcmp(dec, "retry"));
		if (again && built) {
			log_warn("event=step_resumed incident=%lld step=%d action=%s reason=%s",
			         (long long)job->incident, st->step, st->action,
			         dec ? "\"a person said retry\""
			             : "\"started before a crash; the action is idempotent\"");
			t_begin = time_mono_us();
			cJSON *r2 = exec_ledger_req(job, "restart", st->key);
			rc = exec_call(s, r2, &reply, err, errlen);
			cJSON_Delete(reply);
			cJSON *fin = NULL;
			if (rc != 0 || exec_run_and_finish(s, job, st, &cmd, t_begin, &fin,
			                                   &overhead, err, errlen) < 0) {
				out = EXEC_STEP_ERROR;
			} else {
				cJSON_Delete(row);
				row = fin;
				ran = 1;
			}
		} else {
			char q[300];
			snprintf(q, sizeof(q),
			         "step %d (%s) may or may not have run: Retry / Skip / Abort",
			         st->step, st->action);
			cJSON *r2 = exec_ledger_req(job, "ask", st->key);
			json_add_str(r2, "question", q);
			rc = exec_call(s, r2, &reply, err, errlen);
			cJSON_Delete(reply);
			if (rc != 0) {
				out = EXEC_STEP_ERROR;
			} else {
				snprintf(err, errlen,
				         "waiting for a person: %s (the job is held until then)",
				         q);
				out = EXEC_STEP_WAIT;
			}
		}
	}
	/* else: finished, failed, refused, skipped or aborted earlier: nothing runs again */
	if (out == EXEC_STEP_DONE)
		*result = exec_step_json(st, row, ran, overhead);
	cJSON_Delete(row);
	run_cmd_free(&cmd);
	return out;
}

/* ---- execute ---- */

static int exec_execute(struct exec_state *s, const struct worker_job *job, cJSON **result,
                        char *err, size_t errlen)
{
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(job->input, "plan");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(plan, "steps");
	if (!cJSON_IsArray(steps)) {
		snprintf(err, errlen, "the execute job has no plan with steps");
		return WORKER_PERMANENT;
	}
	const char *hash = json_str(plan, "hash");
	cJSON *out = json_new_array();
	int i = 0, ok = 1, ran = 0;
	struct buf sum = {.max = 2000};
	const cJSON *ps;
	cJSON_ArrayForEach(ps, steps)
	{
		i++;
		struct exec_step st = {.step = i, .kind = "action", .plan = hash};
		st.action = json_str(ps, "action");
		st.params = cJSON_GetObjectItemCaseSensitive(ps, "params");
		if (!st.action)
			st.action = "(none)";
		st.a = catalog_find(s->cat, st.action);
		snprintf(st.key, sizeof(st.key), "%lld/%lld/%d", (long long)job->incident,
		         (long long)job->id, i);
		cJSON *r = NULL;
		enum exec_outcome o = exec_step(s, job, &st, &r, err, errlen);
		if (o != EXEC_STEP_DONE) {
			cJSON_Delete(out);
			buf_free(&sum);
			return WORKER_RETRY; /* EXEC_STEP_WAIT: the fail is refused; the job is held
			                      */
		}
		const char *state = json_str(r, "state");
		ran += json_bool(r, "ran", 0);
		buf_appendf(&sum, "%s%d %s %s", sum.len ? "; " : "", i, st.action, state);
		if (!json_bool(r, "ok", 0)) {
			ok = 0;
			const char *o2 = json_str(r, "output");
			if (o2 && *o2) {
				char line[160];
				str_copy(line, sizeof(line), o2);
				line[strcspn(line, "\n")] = '\0';
				buf_appendf(&sum, " (%s)", line);
			}
		}
		cJSON_AddItemToArray(out, r);
		if (!ok)
			break; /* the steps after a failed one never start */
	}
	int n = cJSON_GetArraySize(steps);
	if (!ok && i < n)
		buf_appendf(&sum, "; steps %d-%d not started", i + 1, n);
	*result = json_new_object();
	json_add_bool(*result, "ok", ok);
	json_add_int(*result, "job", job->id);
	json_add(*result, "steps", out);
	char *line =
	    xasprintf("%s: %s", ok ? "all steps ran" : "stopped", sum.data ? sum.data : "no steps");
	json_add_str(*result, "summary", line);
	free(line);
	buf_free(&sum);
	log_info("event=execute_done incident=%lld job=%lld ok=%d steps=%d ran=%d",
	         (long long)job->incident, (long long)job->id, ok, i, ran);
	return WORKER_OK;
}

/* ---- verify ---- */

/* Run the verify command of a step once: 1 passed, 0 failed; *out gets its output. */
static int exec_check_once(struct exec_state *s, const struct catalog_action *a,
                           const struct run_cmd *cmd, char **out)
{
	char **env = run_env(a);
	struct run_opts o = {
	    .workdir = a->workdir ? a->workdir : s->workdir,
	    .timeout_ms = a->timeout_ms,
	    .kill_grace_ms = s->kill_grace_ms,
	    .max_output = 4096,
	};
	struct run_result r;
	run_exec(cmd->argv, env, &o, &r);
	run_env_free(env);
	int ok = r.spawned && !r.timed_out && r.exit_code == 0;
	*out = r.spawned ? xstrdup(r.output) : xstrdup(r.error);
	run_result_free(&r);
	return ok;
}

/*
 * The symptom re-check: opsbot-detect analyze on data up to now.  1 gone,
 * 0 still there, -1 not available (why says which).
 */
static int exec_recheck(struct exec_state *s, const char *service, int64_t since, char *why,
                        size_t whylen)
{
	if (!s->recheck || !s->detect[0]) {
		snprintf(why, whylen, "symptom re-check is off");
		return -1;
	}
	int64_t now = time_now_ms();
	char at[32];
	snprintf(at, sizeof(at), "%lld", (long long)now);
	char *argv[] = {s->detect,
	                (char *)"-c",
	                s->config,
	                (char *)"analyze",
	                (char *)"--service",
	                (char *)(service ? service : ""),
	                (char *)"--at",
	                at,
	                NULL};
	if (!service) {
		argv[4] = (char *)"--at";
		argv[5] = at;
		argv[6] = NULL;
	}
	struct run_opts o = {.timeout_ms = 60000,
	                     .kill_grace_ms = s->kill_grace_ms,
	                     .max_output = EXEC_RECHECK_OUT,
	                     .quiet_stderr = 1};
	struct run_result r;
	run_exec(argv, environ, &o, &r);
	int rc = -1;
	cJSON *res = NULL;
	char e[200];
	if (!r.spawned || r.exit_code != 0) {
		snprintf(why, whylen, "symptom re-check could not run (%s)",
		         r.spawned ? "opsbot-detect analyze failed" : r.error);
	} else if (json_parse_object(r.output, strlen(r.output), &res, e, sizeof(e)) < 0) {
		snprintf(why, whylen, "symptom re-check gave no result (%s)", e);
	} else if (json_int(res, "series", 0) <= 0) {
		snprintf(why, whylen, "symptom re-check had no metric data");
	} else {
		const cJSON *an;
		const char *still = NULL;
		cJSON_ArrayForEach(an, cJSON_GetObjectItemCaseSensitive(res, "anomalies"))
		{
			int64_t end = json_int(an, "end_ms", 0);
			if (end >= since && end >= now - s->settle_ms) {
				still = json_str(an, "series");
				break;
			}
		}
		if (still) {
			snprintf(why, whylen, "the detector still sees the anomaly in %s", still);
			rc = 0;
		} else {
			snprintf(why, whylen,
			         "the detector sees no anomaly after the fix (%lld "
			         "series)",
			         (long long)json_int(res, "series", 0));
			rc = 1;
		}
	}
	cJSON_Delete(res);
	run_result_free(&r);
	return rc;
}

/*
 * Rounds of execution this incident has had: the distinct execute jobs in
 * the ledger, counting the current one (exec_job) even when its plan had
 * no step, so the rounds stay bounded.
 */
static int exec_rounds(struct exec_state *s, int64_t incident, int64_t exec_job, char *err,
                       size_t errlen)
{
	cJSON *req = wire_new(WIRE_LEDGER, incident);
	json_add_str(req, "op", "list");
	json_add_int(req, "limit", 500);
	cJSON *reply;
	if (exec_call(s, req, &reply, err, errlen) != 0) {
		cJSON_Delete(reply);
		return -1;
	}
	int64_t seen[64];
	int n = 0;
	if (exec_job > 0)
		seen[n++] = exec_job;
	const cJSON *row;
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(reply, "items"))
	{
		const char *kind = json_str(row, "kind");
		if (!kind || strcmp(kind, "action") != 0)
			continue;
		int64_t j = json_int(row, "job", 0);
		int dup = 0;
		for (int k = 0; k < n; k++)
			dup |= seen[k] == j;
		if (!dup && n < 64)
			seen[n++] = j;
	}
	cJSON_Delete(reply);
	return n;
}

/* One verification (exec_verify), filled by the steps below. */
struct verify {
	const cJSON *steps; /* the execute result's steps */
	const char *service;
	int64_t since; /* the last step's end: the recheck looks after it */
	cJSON *checks, *recheck;
	char why[600];
	int fixed, verified;
};

/* One round: each finished step's check (its catalog verify); 1 when all pass. */
static int verify_checks(struct exec_state *s, struct verify *v)
{
	const cJSON *st;
	int all = 1;
	cJSON_Delete(v->checks);
	v->checks = json_new_array();
	cJSON_ArrayForEach(st, v->steps)
	{
		const char *name = json_str(st, "action");
		const struct catalog_action *a = catalog_find(s->cat, name);
		/* every finished step, also one a previous delivery ran */
		if (!a || !a->verify ||
		    strcmp(json_str(st, "state") ? json_str(st, "state") : "", "finished") != 0)
			continue;
		struct run_cmd cmd;
		char e[300];
		cJSON *c = json_new_object();
		json_add_int(c, "step", json_int(st, "step", 0));
		json_add_str(c, "action", name);
		if (run_build(a, cJSON_GetObjectItemCaseSensitive(st, "params"), RUN_VERIFY, &cmd,
		              e, sizeof(e)) < 0) {
			json_add_bool(c, "ok", 0);
			json_add_str(c, "output", e);
			all = 0;
		} else {
			char *o = NULL;
			int ok = exec_check_once(s, a, &cmd, &o);
			json_add(c, "argv", run_argv_json(&cmd));
			json_add_bool(c, "ok", ok);
			json_add_str(c, "output", o);
			if (!ok) {
				all = 0;
				snprintf(v->why, sizeof(v->why), "check of %s failed: %.200s", name,
				         o);
				v->why[strcspn(v->why, "\n")] = '\0';
			}
			free(o);
			run_cmd_free(&cmd);
		}
		cJSON_AddItemToArray(v->checks, c);
	}
	return all;
}

/* The alert's symptom after the checks: 1 gone, 0 still there, -1 unknown. */
static int verify_recheck(struct exec_state *s, struct verify *v, char *rwhy, size_t len)
{
	int sym = exec_recheck(s, v->service, v->since, rwhy, len);
	cJSON_Delete(v->recheck);
	v->recheck = json_new_object();
	json_add_str(v->recheck, "result",
	             sym == 1   ? "gone"
	             : sym == 0 ? "present"
	                        : "unavailable");
	json_add_str(v->recheck, "detail", rwhy);
	if (sym == 0)
		snprintf(v->why, sizeof(v->why), "%s", rwhy);
	return sym;
}

/* Checks and recheck, again every verify_interval until fixed or the window ends. */
static void verify_window(struct exec_state *s, struct verify *v)
{
	int64_t deadline = time_mono_ms() + s->verify_window_ms;
	for (int tries = 1;; tries++) {
		int all = verify_checks(s, v);
		int sym = -1;
		char rwhy[300] = "";
		if (all)
			sym = verify_recheck(s, v, rwhy, sizeof(rwhy));
		if (all && sym != 0) {
			int nchecks = cJSON_GetArraySize(v->checks);
			v->fixed = 1;
			if (nchecks == 0 && sym < 0)
				snprintf(v->why, sizeof(v->why),
				         "nothing could check the result: no step has a "
				         "check and %s",
				         rwhy);
			else
				snprintf(v->why, sizeof(v->why), "%d check(s) passed%s; %s",
				         nchecks, tries > 1 ? " (after retries)" : "", rwhy);
			v->verified = nchecks > 0 || sym == 1;
			return;
		}
		if (time_mono_ms() + s->verify_interval_ms > deadline)
			return;
		time_sleep_ms(s->verify_interval_ms, NULL);
	}
}

/*
 * Not fixed: undo what ran, newest first, each rollback its own ledger step
 * (into rollbacks; "action state, ..." into rb).  -1 when one could not be
 * done now (the job is retried).
 */
static int verify_rollback(struct exec_state *s, const struct worker_job *job, const cJSON *steps,
                           int64_t exec_job, cJSON *rollbacks, struct buf *rb, char *err,
                           size_t errlen)
{
	int n = cJSON_GetArraySize(steps);
	for (int k = n - 1; k >= 0; k--) {
		const cJSON *sx = cJSON_GetArrayItem(steps, k);
		const char *name = json_str(sx, "action");
		const struct catalog_action *a = catalog_find(s->cat, name);
		const char *state = json_str(sx, "state");
		if (!a || !a->rollback || !state ||
		    (strcmp(state, "finished") != 0 && strcmp(state, "failed") != 0))
			continue;
		struct exec_step rs = {.step = (int)json_int(sx, "step", k + 1),
		                       .kind = "rollback"};
		rs.a = catalog_find(s->cat, a->rollback);
		rs.action = a->rollback;
		cJSON *params =
		    rs.a ? run_rollback_params(rs.a, cJSON_GetObjectItemCaseSensitive(sx, "params"))
		         : json_new_object();
		rs.params = params;
		snprintf(rs.key, sizeof(rs.key), "%lld/%lld/%d/rollback", (long long)job->incident,
		         (long long)exec_job, rs.step);
		cJSON *r = NULL;
		enum exec_outcome o = exec_step(s, job, &rs, &r, err, errlen);
		cJSON_Delete(params);
		if (o != EXEC_STEP_DONE)
			return -1;
		buf_appendf(rb, "%s%s %s", rb->len ? ", " : "", rs.action, json_str(r, "state"));
		cJSON_AddItemToArray(rollbacks, r);
	}
	return 0;
}

/*
 * A verify job: did the executed plan fix the incident?  Checks each step's
 * result and the alert's symptom within the verify window; if not fixed,
 * rolls back what ran and asks for another plan (up to max_rounds) or hands
 * over to a person.
 */
static int exec_verify(struct exec_state *s, const struct worker_job *job, cJSON **result,
                       char *err, size_t errlen)
{
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(job->input, "execute");
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(job->input, "incident");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(ex, "steps");
	if (!cJSON_IsObject(ex) || !cJSON_IsArray(steps)) {
		snprintf(err, errlen, "the verify job has no execute result to verify");
		return WORKER_PERMANENT;
	}
	int64_t exec_job = json_int(ex, "job", 0);
	struct verify v = {.steps = steps,
	                   .service = json_str(inc, "service"),
	                   .checks = json_new_array(),
	                   .recheck = json_new_object()};
	const cJSON *st;
	cJSON_ArrayForEach(st, steps)
	{
		int64_t f = json_int(st, "finished_ms", 0);
		if (f > v.since)
			v.since = f;
	}
	if (!json_bool(ex, "ok", 0))
		snprintf(v.why, sizeof(v.why), "the actions did not all run: %s",
		         json_str(ex, "summary") ? json_str(ex, "summary") : "a step failed");
	else
		verify_window(s, &v);

	*result = json_new_object();
	json_add(*result, "checks", v.checks);
	json_add(*result, "recheck", v.recheck);
	cJSON *rollbacks = json_new_array();
	json_add(*result, "rollbacks", rollbacks);
	if (v.fixed) {
		json_add_bool(*result, "ok", 1);
		json_add_bool(*result, "verified", v.verified);
		json_add_str(*result, "summary", v.why);
		return WORKER_OK;
	}
	struct buf rb = {.max = 1000};
	int rounds = -1;
	if (verify_rollback(s, job, steps, exec_job, rollbacks, &rb, err, errlen) < 0 ||
	    (rounds = exec_rounds(s, job->incident, exec_job, err, errlen)) < 0) {
		buf_free(&rb);
		cJSON_Delete(*result);
		*result = NULL;
		return WORKER_RETRY;
	}
	char line[1200];
	const char *rbt = rb.data ? rb.data : "";
	if (rounds < s->max_rounds) {
		json_add_bool(*result, "replan", 1);
		snprintf(line, sizeof(line),
		         "not fixed after round %d of %d: %s%s%s; planning again with this result",
		         rounds, s->max_rounds, v.why, rb.len ? "; rolled back: " : "", rbt);
	} else {
		snprintf(line, sizeof(line),
		         "not fixed after %d round(s): %s%s%s; opsbot stops here, a person needs "
		         "to take over",
		         rounds, v.why, rb.len ? "; rolled back: " : "", rbt);
	}
	buf_free(&rb);
	json_add_bool(*result, "ok", 0);
	json_add_int(*result, "round", rounds);
	json_add_str(*result, "summary", line);
	return WORKER_OK;
}

/* ---- dry run ---- */

cJSON *exec_dryrun_plan(const struct exec_state *s, const cJSON *plan)
{
	cJSON *out = json_new_object();
	cJSON *steps = json_new_array();
	json_add_str(out, "plan", json_str(plan, "hash") ? json_str(plan, "hash") : "");
	struct buf sum = {.max = 4000};
	int i = 0, refused = 0;
	const cJSON *ps;
	cJSON_ArrayForEach(ps, cJSON_GetObjectItemCaseSensitive(plan, "steps"))
	{
		i++;
		const char *name = json_str(ps, "action");
		const struct catalog_action *a = catalog_find(s->cat, name);
		cJSON *o = json_new_object();
		json_add_int(o, "step", i);
		json_add_str(o, "action", name ? name : "");
		char e[400];
		struct run_cmd cmd;
		if (!a) {
			json_add_str(o, "error", "not in the action catalog");
			refused++;
		} else if (run_build(a, cJSON_GetObjectItemCaseSensitive(ps, "params"), RUN_ACTION,
		                     &cmd, e, sizeof(e)) < 0) {
			json_add_str(o, "error", e);
			refused++;
		} else {
			json_add(o, "argv", run_argv_json(&cmd));
			json_add_str(o, "workdir", a->workdir ? a->workdir : s->workdir);
			cJSON *env = json_new_array();
			for (size_t k = 0; k < a->nenv; k++)
				cJSON_AddItemToArray(env, cJSON_CreateString(a->env[k]));
			json_add(o, "env", env);
			json_add_int(o, "timeout_ms", a->timeout_ms);
			json_add_bool(o, "idempotent", a->idempotent);
			if (a->verify) {
				struct run_cmd v;
				if (run_build(a, cJSON_GetObjectItemCaseSensitive(ps, "params"),
				              RUN_VERIFY, &v, e, sizeof(e)) == 0) {
					json_add(o, "verify", run_argv_json(&v));
					run_cmd_free(&v);
				}
			}
			if (a->rollback)
				json_add_str(o, "rollback", a->rollback);
			buf_appendf(&sum, "%s%d:", sum.len ? "; " : "", i);
			for (size_t k = 0; k < cmd.argc; k++)
				buf_appendf(&sum, " %s", cmd.argv[k]);
			run_cmd_free(&cmd);
		}
		cJSON_AddItemToArray(steps, o);
	}
	json_add(out, "steps", steps);
	char *line = xasprintf("dry run, nothing was run: %s%s%s", sum.data ? "would run " : "",
	                       sum.data ? sum.data : "",
	                       refused ? " (some steps would be refused; see steps)" : "");
	json_add_str(out, "summary", line);
	json_add_bool(out, "ok", refused == 0);
	free(line);
	buf_free(&sum);
	return out;
}

static int exec_dryrun(struct exec_state *s, const struct worker_job *job, cJSON **result,
                       char *err, size_t errlen)
{
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(job->input, "plan");
	cJSON *fetched = NULL;
	if (!cJSON_IsObject(plan)) {
		if (job->incident <= 0) {
			snprintf(err, errlen, "a dry run needs an incident or a plan");
			return WORKER_PERMANENT;
		}
		cJSON *req = wire_new(WIRE_QUERY, job->incident);
		json_add_str(req, "what", "incident");
		cJSON *reply;
		int rc = exec_call(s, req, &reply, err, errlen);
		if (rc != 0) {
			cJSON_Delete(reply);
			return rc == -2 ? WORKER_PERMANENT : WORKER_RETRY;
		}
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(reply, "incident");
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(in, "results"), WIRE_JOB_PLAN);
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(pr, "plan");
		if (cJSON_IsObject(p))
			fetched = json_dup(p);
		cJSON_Delete(reply);
		if (!fetched) {
			snprintf(err, errlen, "incident %lld has no plan yet; nothing to dry-run",
			         (long long)job->incident);
			return WORKER_PERMANENT;
		}
		plan = fetched;
	}
	*result = exec_dryrun_plan(s, plan);
	json_add_int(*result, "job", job->id);
	cJSON_Delete(fetched);
	return WORKER_OK;
}

int exec_handle(void *state, const struct worker_job *job, cJSON **result, char *err, size_t errlen)
{
	struct exec_state *s = state;
	if (!strcmp(job->kind, WIRE_JOB_EXECUTE))
		return exec_execute(s, job, result, err, errlen);
	if (!strcmp(job->kind, WIRE_JOB_VERIFY))
		return exec_verify(s, job, result, err, errlen);
	if (!strcmp(job->kind, WIRE_JOB_DRYRUN))
		return exec_dryrun(s, job, result, err, errlen);
	snprintf(err, errlen, "opsbot-exec does not handle %s jobs", job->kind);
	return WORKER_PERMANENT;
}
