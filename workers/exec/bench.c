/*
 * bench.c: make bench BENCH=exec (run by workers/exec/bench.sh, which
 * starts a real opsbot-queue, a plan stand-in and a real opsbot-exec).
 *
 * For N incidents, one after another: submit, wait (events) until its plan
 * awaits approval, then time from sending the approve request to receiving
 * the action.started event of its first step (the execute job was queued,
 * long-poll claimed, the step checked and its ledger row committed).  Then
 * wait for the execute result and take each step's overhead_us from it:
 * opsbot-exec's own time around a no-op process (begin request sent ->
 * process spawned, plus process exited -> finish committed).
 *
 * Prints one line:
 *   {"bench":"exec","approve_to_start_p50_ms":...,"approve_to_start_p99_ms":...,
 *    "step_overhead_p50_ms":...,"n":N,"steps":S}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "rpc.h"
#include "timeutil.h"
#include "wire.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(int64_t *us, int n, double p)
{
	if (n == 0)
		return 0;
	qsort(us, (size_t)n, sizeof(*us), cmp_i64);
	int i = (int)(p * (n - 1) + 0.5);
	return (double)us[i] / 1000.0;
}

/* Wait for event `name` of incident (and kind, for job.finished); the event or NULL. */
static cJSON *wait_event(struct rpc_sub *sub, int64_t incident, const char *name, const char *kind,
                         int64_t timeout_ms)
{
	int64_t until = time_mono_ms() + timeout_ms;
	while (time_mono_ms() < until) {
		cJSON *ev = NULL;
		if (rpc_sub_recv(sub, &ev, 200) < 0)
			continue;
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "data");
		if (json_int(ev, "incident", 0) == incident &&
		    !strcmp(json_str(ev, "name"), name) &&
		    (!kind || (json_str(d, "kind") && !strcmp(json_str(d, "kind"), kind))))
			return ev;
		cJSON_Delete(ev);
	}
	return NULL;
}

static cJSON *call(struct rpc *r, cJSON *req)
{
	cJSON *reply = NULL;
	char err[512];
	if (rpc_call(r, req, &reply, 10000, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "exec bench: %s\n", err);
		exit(1);
	}
	cJSON_Delete(req);
	return reply;
}

int main(int argc, char **argv)
{
	log_init("exec-bench");
	log_set_level(LOG_ERROR);
	if (argc != 4) {
		fprintf(stderr, "usage: exec_bench QUEUE_URL EVENTS_URL N\n");
		return 2;
	}
	int n = (int)strtol(argv[3], NULL, 10);
	if (n < 1 || n > 100000)
		n = 1;
	struct rpc *r;
	struct rpc_sub *sub;
	char err[512];
	if (rpc_open(&r, argv[1], err, sizeof(err)) < 0 ||
	    rpc_sub_open(&sub, argv[2], err, sizeof(err)) < 0) {
		fprintf(stderr, "exec bench: %s\n", err);
		return 1;
	}
	int64_t *start = calloc((size_t)n, sizeof(int64_t));
	int64_t *over = calloc((size_t)n * 8, sizeof(int64_t));
	int ns = 0, no = 0;
	for (int i = 0; i < n; i++) {
		cJSON *req = wire_new(WIRE_SUBMIT, 0);
		json_add_str(req, "what", "incident");
		cJSON *spec = json_new_object();
		json_add_str(spec, "title", "exec bench");
		json_add_str(spec, "service", "bench");
		json_add_str(spec, "severity", "low");
		json_add_str(spec, "source", "cli");
		json_add(req, "spec", spec);
		cJSON *rep = call(r, req);
		int64_t id = json_int(rep, "incident", 0);
		cJSON_Delete(rep);
		cJSON *ev = wait_event(sub, id, WIRE_EV_PLAN, NULL, 10000);
		if (!ev) {
			fprintf(stderr, "exec bench: incident %lld got no plan\n", (long long)id);
			return 1;
		}
		char hash[128];
		snprintf(hash, sizeof(hash), "%s",
		         json_str(cJSON_GetObjectItemCaseSensitive(
		                      cJSON_GetObjectItemCaseSensitive(ev, "data"), "plan"),
		                  "hash"));
		cJSON_Delete(ev);
		/* the stage change to awaiting_approval is committed with plan.proposed */
		req = wire_new(WIRE_APPROVE, id);
		json_add_str(req, "plan", hash);
		json_add_str(req, "user", "bench");
		json_add_str(req, "surface", "cli");
		json_add_str(req, "decision", "approve");
		int64_t t0 = time_mono_us();
		cJSON_Delete(call(r, req));
		ev = wait_event(sub, id, WIRE_EV_ACTION_STARTED, NULL, 10000);
		int64_t t1 = time_mono_us();
		if (!ev) {
			fprintf(stderr, "exec bench: incident %lld: no action.started\n",
			        (long long)id);
			return 1;
		}
		cJSON_Delete(ev);
		start[ns++] = t1 - t0;
		ev = wait_event(sub, id, WIRE_EV_FINDINGS, WIRE_JOB_EXECUTE, 10000);
		if (!ev) {
			fprintf(stderr, "exec bench: incident %lld: no execute result\n",
			        (long long)id);
			return 1;
		}
		const cJSON *st;
		cJSON_ArrayForEach(st,
		                   cJSON_GetObjectItemCaseSensitive(
		                       cJSON_GetObjectItemCaseSensitive(
		                           cJSON_GetObjectItemCaseSensitive(ev, "data"), "result"),
		                       "steps"))
		{
			if (no < n * 8 && cJSON_GetObjectItemCaseSensitive(st, "overhead_us"))
				over[no++] = json_int(st, "overhead_us", 0);
		}
		cJSON_Delete(ev);
	}
	printf("{\"bench\":\"exec\",\"approve_to_start_p50_ms\":%.2f,\"approve_to_start_p99_ms\":%."
	       "2f,\"step_overhead_p50_ms\":%.2f,\"n\":%d,\"steps\":%d}\n",
	       pct_ms(start, ns, 0.50), pct_ms(start, ns, 0.99), pct_ms(over, no, 0.50), ns, no);
	free(start);
	free(over);
	rpc_sub_close(sub);
	rpc_close(r);
	return 0;
}
