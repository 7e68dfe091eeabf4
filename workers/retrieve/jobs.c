/*
 * jobs.c: turning job inputs from the queue into a query and into incident
 * memory.  Only reads; every field is optional except the incident itself.
 */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"

static void jobs_add(struct buf *q, const char *s)
{
	if (!s || !*s)
		return;
	/* Keep what fits; a long alert text is cut, not refused. */
	size_t room = q->max > q->len + 2 ? q->max - q->len - 2 : 0;
	size_t n = strlen(s);
	if (n > room)
		n = room;
	if (n == 0)
		return;
	if (q->len)
		buf_append(q, " ", 1);
	buf_append(q, s, n);
}

static int jobs_incident(const cJSON *input, const cJSON **inc, char *err, size_t errlen)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(input, "incident");
	if (!cJSON_IsObject(i)) {
		snprintf(err, errlen, "field 'incident' must be the incident record (an object)");
		return -1;
	}
	*inc = i;
	return 0;
}

int jobs_query(const cJSON *input, struct buf *q, char **service, char *err, size_t errlen)
{
	const cJSON *inc;
	if (!cJSON_IsObject(input)) {
		snprintf(err, errlen, "job input must be an object");
		return -1;
	}
	if (jobs_incident(input, &inc, err, errlen) < 0)
		return -1;
	if (!q->max)
		q->max = JOBS_QUERY_MAX;
	jobs_add(q, json_str(inc, "title"));
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(inc, "labels");
	jobs_add(q, json_str(labels, "alertname"));
	jobs_add(q, json_str(inc, "summary"));
	jobs_add(q, json_str(inc, "alert"));
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(input, "detect");
	if (cJSON_IsObject(det)) {
		jobs_add(q, json_str(det, "summary"));
		const cJSON *rank = cJSON_GetObjectItemCaseSensitive(det, "ranking");
		const cJSON *r;
		int n = 0;
		cJSON_ArrayForEach(r, (cJSON_IsArray(rank) ? rank : NULL))
		{
			if (n++ == 2)
				break;
			jobs_add(q, json_str(r, "rationale"));
		}
	}
	const char *svc = json_str(inc, "service");
	if (service)
		*service = svc ? xstrdup(svc) : NULL;
	if (!q->len) {
		snprintf(err, errlen, "incident has no title, summary or alert text to search for");
		return -1;
	}
	return 0;
}

/* The result object of the last job.finished event of a kind, or NULL. */
static const cJSON *jobs_last_result(const cJSON *timeline, const char *kind)
{
	const cJSON *ev, *found = NULL;
	cJSON_ArrayForEach(ev, (cJSON_IsArray(timeline) ? timeline : NULL))
	{
		const char *name = json_str(ev, "name");
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
		if (!name || strcmp(name, "job.finished") != 0 || !cJSON_IsObject(data))
			continue;
		const char *k = json_str(data, "kind");
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(data, "result");
		if (k && strcmp(k, kind) == 0 && cJSON_IsObject(res))
			found = res;
	}
	return found;
}

int jobs_memory_from(const cJSON *input, int64_t incident_id, struct jobs_memory *m, char *err,
                     size_t errlen)
{
	const cJSON *inc;
	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(input)) {
		snprintf(err, errlen, "job input must be an object");
		return -1;
	}
	if (jobs_incident(input, &inc, err, errlen) < 0)
		return -1;
	int64_t id = json_int(inc, "id", incident_id);
	if (id <= 0) {
		snprintf(err, errlen, "field 'incident.id' is missing and the job has no incident");
		return -1;
	}
	const char *title = json_str(inc, "title");
	if (!title || !*title) {
		snprintf(err, errlen, "field 'incident.title' is missing");
		return -1;
	}
	const cJSON *timeline = cJSON_GetObjectItemCaseSensitive(input, "timeline");
	if (timeline && !cJSON_IsArray(timeline)) {
		snprintf(err, errlen, "field 'timeline' must be an array");
		return -1;
	}
	m->title = xstrdup(title);
	const char *svc = json_str(inc, "service");
	m->service = xstrdup(svc ? svc : "any");
	const char *sum = json_str(inc, "summary");
	m->summary = xstrdup(sum ? sum : title);

	/* Root cause: explicit, else the detector's best-ranked rationale. */
	const char *rc = json_str(input, "root_cause");
	const cJSON *det = jobs_last_result(timeline, "detect");
	if (!rc && det) {
		const cJSON *rank = cJSON_GetObjectItemCaseSensitive(det, "ranking");
		const cJSON *first = cJSON_IsArray(rank) ? cJSON_GetArrayItem(rank, 0) : NULL;
		rc = json_str(first, "rationale");
		if (!rc)
			rc = json_str(det, "summary");
	}
	m->root_cause = xstrdup(rc ? rc : "");

	/* Actions and outcome: execute steps, then the verify verdict. */
	struct buf acts = {.max = 8192};
	int any_failed = 0, any = 0;
	const cJSON *ex = jobs_last_result(timeline, "execute");
	const cJSON *steps = ex ? cJSON_GetObjectItemCaseSensitive(ex, "steps") : NULL;
	const cJSON *s;
	cJSON_ArrayForEach(s, (cJSON_IsArray(steps) ? steps : NULL))
	{
		const char *a = json_str(s, "action");
		if (!a)
			continue;
		int ok = json_bool(s, "ok", 0);
		any = 1;
		if (!ok)
			any_failed = 1;
		buf_appendf(&acts, "%s%s (%s)", acts.len ? "; " : "", a, ok ? "ran" : "failed");
	}
	m->actions = acts.data ? acts.data : xstrdup("");
	int worked = -1;
	const cJSON *ver = jobs_last_result(timeline, "verify");
	if (ver && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(ver, "ok")))
		worked = json_bool(ver, "ok", 0);
	else if (any)
		worked = any_failed ? 0 : -1;
	if (any_failed)
		worked = 0;
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(input, "worked");
	if (cJSON_IsBool(w))
		worked = cJSON_IsTrue(w);

	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(inc, "labels");
	const char *alert = json_str(labels, "alertname");
	kb_signature(m->service, alert ? alert : title, m->signature, sizeof(m->signature));

	m->inc = (struct kb_incident){.id = id,
	                              .service = m->service,
	                              .title = m->title,
	                              .signature = m->signature,
	                              .summary = m->summary,
	                              .root_cause = m->root_cause,
	                              .actions = m->actions,
	                              .worked = worked,
	                              .resolved_ms = json_int(inc, "resolved_ms", 0)};
	return 0;
}

void jobs_memory_free(struct jobs_memory *m)
{
	free(m->title);
	free(m->service);
	free(m->summary);
	free(m->root_cause);
	free(m->actions);
	memset(m, 0, sizeof(*m));
}
