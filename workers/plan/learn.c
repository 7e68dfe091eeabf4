/* learn.c: outcomes from the queue's event log into the planner's memory (see learn.h). */
#include "learn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "timeutil.h"
#include "wire.h"

#define LEARN_BATCH 200

int learn_event(struct outcomes *o, const cJSON *event)
{
	const char *name = json_str(event, "name");
	int64_t incident = json_int(event, "incident", 0);
	int64_t at = json_int(event, "at_ms", time_now_ms());
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	if (!name || incident <= 0 || !cJSON_IsObject(data))
		return 0;
	if (strcmp(name, WIRE_EV_PLAN) == 0) {
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "plan");
		const char *sig = json_str(plan, "signature");
		const cJSON *steps = cJSON_GetObjectItemCaseSensitive(plan, "steps");
		if (!sig || !cJSON_IsArray(steps))
			return 0;
		return outcomes_plan(o, incident, sig, steps, at);
	}
	if (strcmp(name, WIRE_EV_FINDINGS) != 0)
		return 0;
	const char *kind = json_str(data, "kind");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (!kind || !cJSON_IsObject(result))
		return 0;
	if (strcmp(kind, WIRE_JOB_EXECUTE) == 0) {
		const cJSON *steps = cJSON_GetObjectItemCaseSensitive(result, "steps");
		return cJSON_IsArray(steps) ? outcomes_executed(o, incident, steps, at) : 0;
	}
	if (strcmp(kind, WIRE_JOB_VERIFY) == 0) {
		const cJSON *ok = cJSON_GetObjectItemCaseSensitive(result, "ok");
		return cJSON_IsBool(ok) ? outcomes_verified(o, incident, cJSON_IsTrue(ok)) : 0;
	}
	if (strcmp(kind, WIRE_JOB_PLAN) == 0) {
		/* the plan result itself, in case plan.proposed carries less */
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(result, "plan");
		const char *sig = json_str(plan, "signature");
		const cJSON *steps = cJSON_GetObjectItemCaseSensitive(plan, "steps");
		if (sig && cJSON_IsArray(steps))
			return outcomes_plan(o, incident, sig, steps, at);
	}
	return 0;
}

struct learn {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	char url[512];
	int64_t interval_ms;
	struct outcomes *mem;
	struct rpc *rpc;
};

/* One round: fetch events after the cursor and apply them.  Returns how many. */
static int learn_round(struct learn *l)
{
	if (!l->rpc) {
		char err[256];
		if (rpc_open(&l->rpc, l->url, err, sizeof(err)) < 0)
			return -1;
	}
	int64_t since = 0;
	outcomes_cursor(l->mem, &since);
	cJSON *req = wire_new(WIRE_QUERY, 0);
	json_add_str(req, "what", "events");
	json_add_int(req, "since", since);
	json_add_int(req, "limit", LEARN_BATCH);
	cJSON *reply = NULL;
	char err[512];
	int rc = rpc_call(l->rpc, req, &reply, 1000, 0, err, sizeof(err));
	cJSON_Delete(req);
	if (rc < 0) {
		log_debug("event=learn_query_failed error=%s", log_q(err));
		cJSON_Delete(reply);
		return -1;
	}
	int n = 0;
	int64_t last = since;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(reply, "items"))
	{
		int64_t seq = json_int(e, "seq", 0);
		if (seq <= last)
			continue;
		if (learn_event(l->mem, e) < 0) {
			log_warn("event=learn_failed seq=%lld", (long long)seq);
			break; /* try this event again next round */
		}
		last = seq;
		n++;
	}
	if (last > since)
		outcomes_set_cursor(l->mem, last);
	cJSON_Delete(reply);
	return n;
}

static void *learn_main(void *arg)
{
	struct learn *l = arg;
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		pthread_mutex_unlock(&l->mu);
		int n = learn_round(l);
		if (n > 0)
			log_debug("event=learned events=%d", n);
		pthread_mutex_lock(&l->mu);
		if (n == LEARN_BATCH || l->stop)
			continue; /* more waiting: go again at once */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (l->interval_ms % 1000) * 1000000;
		ts.tv_sec += l->interval_ms / 1000 + ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int learn_start(struct learn **out, const char *url, const char *db_path, int64_t interval_ms,
                char *err, size_t errlen)
{
	struct learn *l = xcalloc(1, sizeof(*l));
	if (outcomes_open(&l->mem, db_path, err, errlen) < 0) {
		free(l);
		return -1;
	}
	str_copy(l->url, sizeof(l->url), url);
	l->interval_ms = interval_ms;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (pthread_create(&l->thread, NULL, learn_main, l) != 0) {
		snprintf(err, errlen, "cannot start the learning thread");
		outcomes_close(l->mem);
		free(l);
		return -1;
	}
	*out = l;
	return 0;
}

void learn_stop(struct learn *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	if (l->rpc)
		rpc_close(l->rpc);
	outcomes_close(l->mem);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}
