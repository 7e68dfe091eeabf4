/*
 * step.c: queue events and incident snapshots into surface-neutral steps
 * (see step.h).  No wording here: only which facts a message shows.
 */
#include "step.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "severity.h"
#include "template.h"
#include "wire.h"

#define BUTTONS_PER_ROW 5
#define PLAN_STEPS_MAX  10 /* a plan message stays within one chat message */

char *step_clamp(const char *s, size_t max)
{
	size_t chars = 0, i = 0;

	if (!s)
		return xstrdup("");
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (chars == max) {
				/* step back one character to make room for "…" */
				size_t cut = i;
				char *out;
				do
					cut--;
				while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80);
				out = xmalloc(cut + 4);
				memcpy(out, s, cut);
				memcpy(out + cut, "\xe2\x80\xa6", 4);
				return out;
			}
			chars++;
		}
	}
	return xstrdup(s);
}

int step_templates_load(const char *dir, const char *const *need, size_t n,
                        struct template_set **out, char *err, size_t errlen)
{
	if (template_set_load(dir, out, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!template_set_has(*out, need[i])) {
			snprintf(err, errlen, "%s: template '%s' is missing", dir, need[i]);
			template_set_free(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

int step_state_final(const char *st)
{
	return st && (!strcmp(st, WIRE_ST_RESOLVED) || !strcmp(st, WIRE_ST_REJECTED) ||
	              !strcmp(st, WIRE_ST_EXPIRED) || !strcmp(st, WIRE_ST_FAILED));
}

const char *step_state_bucket(const char *st)
{
	if (!st)
		return "unknown";
	if (!strcmp(st, WIRE_ST_RESOLVED))
		return "resolved";
	if (!strcmp(st, WIRE_ST_AWAITING))
		return "awaiting";
	if (!strcmp(st, WIRE_ST_PAUSED))
		return "paused";
	if (step_state_final(st))
		return "closed";
	return "active";
}

/* o[prefix_value] = true, for template sections; value cut to a sane name. */
static void flag(cJSON *o, const char *prefix, const char *value)
{
	char k[64];
	size_t n;
	snprintf(k, sizeof k, "%s_%s", prefix, value ? value : "");
	for (n = strlen(prefix) + 1; k[n]; n++)
		if (!isalnum((unsigned char)k[n]) && k[n] != '_')
			k[n] = '_';
	json_add_bool(o, k, 1);
}

static void add_str(cJSON *o, const char *key, const char *val)
{
	if (val && *val)
		json_add_str(o, key, val);
}

static void add_text(cJSON *o, const char *s, size_t max)
{
	if (s && *s) {
		char *t = step_clamp(s, max);
		json_add_str(o, "text", t);
		free(t);
	}
}

/* Mark every item of arr but the last with more:true, the last with
 * more:false (so a lookup does not find an outer item's `more`). */
static void mark_more(cJSON *arr)
{
	cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsObject(it))
			json_add_bool(it, "more", it->next != NULL);
	}
}

/* ---------------------------------------------------------------- buttons */

struct button {
	const char *action, *arg, *style; /* style: primary, danger, default */
	int confirm;
};

static void add_buttons(cJSON *o, int64_t incident, const struct button *bs, int n)
{
	cJSON *rows = json_new_array(), *row = NULL, *items = NULL;

	for (int i = 0; i < n; i++) {
		if (i % BUTTONS_PER_ROW == 0) {
			row = json_new_object();
			items = json_new_array();
			json_add(row, "buttons", items);
			cJSON_AddItemToArray(rows, row);
		}
		cJSON *b = json_new_object();
		json_add_int(b, "id", incident);
		json_add_str(b, "action", bs[i].action);
		flag(b, "b", bs[i].action);
		add_str(b, "arg", bs[i].arg);
		flag(b, "s", bs[i].style);
		if (bs[i].confirm)
			json_add_bool(b, "confirm", 1);
		cJSON_AddItemToArray(items, b);
	}
	cJSON_ArrayForEach(row, rows) mark_more(cJSON_GetObjectItemCaseSensitive(row, "buttons"));
	mark_more(rows);
	json_add_bool(o, "has_buttons", n > 0);
	json_add(o, "rows", rows);
}

/* ------------------------------------------------------------------- plan */

static int risk_high(const char *risk)
{
	return risk && (!strcmp(risk, "high") || !strcmp(risk, "critical"));
}

/* What approval the plan needs: the largest count and every group named. */
static cJSON *plan_need(const cJSON *steps)
{
	cJSON *need = json_new_object(), *groups = json_new_array();
	const cJSON *st, *g;
	int64_t count = 0;
	int not_requester = 0, required = 0;

	cJSON_ArrayForEach(st, steps)
	{
		const char *ap = json_str(st, "approval");
		if (!ap || strcmp(ap, "required"))
			continue;
		required = 1;
		int64_t d = json_int(st, "distinct_approvers", 1);
		if (d > count)
			count = d;
		if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st, "requester_may_approve")))
			not_requester = 1;
		cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(st, "approvers"))
		{
			int seen = 0;
			const cJSON *h;
			if (!cJSON_IsString(g) || cJSON_GetArraySize(groups) >= 8)
				continue;
			cJSON_ArrayForEach(h, groups) seen |=
			    !strcmp(json_str(h, "name"), g->valuestring);
			if (!seen) {
				cJSON *o = json_new_object();
				json_add_str(o, "name", g->valuestring);
				cJSON_AddItemToArray(groups, o);
			}
		}
	}
	if (!required) {
		cJSON_Delete(groups);
		cJSON_Delete(need);
		return NULL;
	}
	mark_more(groups);
	json_add_int(need, "count", count > 0 ? count : 1);
	json_add_bool(need, "has_groups", cJSON_GetArraySize(groups) > 0);
	json_add(need, "groups", groups);
	if (not_requester)
		json_add_bool(need, "not_requester", 1);
	return need;
}

cJSON *step_plan(int64_t incident, const cJSON *data, const cJSON *approvals, int open,
                 size_t text_max)
{
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "plan");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(plan, "steps"), *st, *c;
	const char *hash = json_str(plan, "hash");
	int needs = json_bool(data, "needs_approval", 0), high = 0, n = 0;
	int64_t have = -1, need_q = 0;
	cJSON *o = json_new_object(), *out = json_new_array(), *who = json_new_array();

	json_add_int(o, "id", incident);
	json_add_str(o, "event", WIRE_EV_PLAN);
	json_add_str(o, "kind", "plan");
	json_add_bool(o, "is_plan", 1);
	cJSON_ArrayForEach(st, steps)
	{
		if (n >= PLAN_STEPS_MAX)
			break;
		cJSON *s = json_new_object(), *cites = json_new_array();
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(st, "params");
		const char *risk = json_str(st, "risk");
		json_add_int(s, "n", ++n);
		json_add_str(s, "action", json_str(st, "action") ? json_str(st, "action") : "?");
		if (cJSON_IsObject(params) && params->child) {
			char *p = json_print(params), *pc = step_clamp(p, 120);
			json_add_str(s, "params", pc);
			free(p);
			free(pc);
		}
		add_str(s, "risk", risk);
		if (risk_high(risk)) {
			json_add_bool(s, "high_risk", 1);
			high = 1;
		}
		if (json_str(st, "rationale")) {
			char *r = step_clamp(json_str(st, "rationale"), 200);
			json_add_str(s, "rationale", r);
			free(r);
		}
		add_str(s, "approval", json_str(st, "approval"));
		if (json_str(st, "approval") && !strcmp(json_str(st, "approval"), "required"))
			json_add_bool(s, "required", 1);
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "citations"))
		{
			cJSON *ci = json_new_object();
			if (cJSON_IsString(c)) {
				json_add_str(ci, "source", c->valuestring);
			} else if (cJSON_IsObject(c)) {
				add_str(ci, "source", json_str(c, "source"));
				add_str(ci, "section", json_str(c, "section"));
			}
			if (ci->child && cJSON_GetArraySize(cites) < 3)
				cJSON_AddItemToArray(cites, ci);
			else
				cJSON_Delete(ci);
		}
		mark_more(cites);
		json_add_bool(s, "has_citations", cJSON_GetArraySize(cites) > 0);
		json_add(s, "citations", cites);
		cJSON_AddItemToArray(out, s);
	}
	mark_more(out);
	if (cJSON_GetArraySize(steps) > n)
		json_add_int(o, "steps_more", cJSON_GetArraySize(steps) - n);
	json_add_bool(o, "has_steps", n > 0);
	json_add(o, "steps", out);
	json_add_bool(o, "needs_approval", needs);
	add_str(o, "hash", hash);
	if (high)
		json_add_bool(o, "high_risk", 1);
	if (needs) {
		cJSON *need = plan_need(steps);
		if (need)
			json_add(o, "need", need);
	}
	cJSON_ArrayForEach(c, approvals)
	{
		const char *d = json_str(c, "decision");
		if (!d || strcmp(d, "approve") || !json_str(c, "user"))
			continue;
		cJSON *a = json_new_object();
		json_add_str(a, "user", json_str(c, "user"));
		add_str(a, "person", json_str(c, "person"));
		add_str(a, "surface", json_str(c, "surface"));
		cJSON_AddItemToArray(who, a);
		/* the queue's own count (distinct people) wins over ours */
		if (json_int(c, "need", 0) > 0) {
			have = json_int(c, "have", 0);
			need_q = json_int(c, "need", 0);
		}
	}
	json_add_int(o, "tally", have >= 0 ? have : cJSON_GetArraySize(who));
	if (need_q > 0 && cJSON_GetObjectItemCaseSensitive(o, "need")) {
		cJSON *need = cJSON_GetObjectItemCaseSensitive(o, "need");
		cJSON_ReplaceItemInObjectCaseSensitive(need, "count",
		                                       cJSON_CreateNumber((double)need_q));
	}
	mark_more(who);
	json_add_bool(o, "has_approved", cJSON_GetArraySize(who) > 0);
	json_add(o, "approved_by", who);
	if (!open && needs)
		json_add_bool(o, "closed", 1);
	add_text(o, json_str(data, "summary"), text_max);
	if (open && needs && hash) {
		struct button bs[] = {
		    {STEP_ACT_APPROVE, hash, "primary", high},
		    {STEP_ACT_REJECT, hash, "danger", 0},
		    {STEP_ACT_DRYRUN, hash, "default", 0},
		};
		add_buttons(o, incident, bs, 3);
	} else {
		add_buttons(o, incident, NULL, 0);
	}
	return o;
}

/* ------------------------------------------------------------------ steps */

static int job_known(const char *kind)
{
	static const char *const kinds[] = {WIRE_JOB_DETECT,  WIRE_JOB_RETRIEVE, WIRE_JOB_PLAN,
	                                    WIRE_JOB_EXECUTE, WIRE_JOB_VERIFY,   WIRE_JOB_REPORT,
	                                    WIRE_JOB_INDEX,   "dryrun",          NULL};
	for (int i = 0; kind && kinds[i]; i++)
		if (!strcmp(kind, kinds[i]))
			return 1;
	return 0;
}

/* Per event kind: the facts its step shows (o holds id and event). */
typedef void (*step_fill_fn)(cJSON *o, const cJSON *data, int64_t id, size_t text_max);

static void fill_opened(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	(void)id;
	add_str(o, "who", json_str(cJSON_GetObjectItemCaseSensitive(data, "surface"), "user"));
	add_str(o, "source", json_str(data, "source"));
	add_str(o, "severity", json_str(data, "severity"));
	add_str(o, "service", json_str(data, "service"));
	add_text(o, json_str(data, "summary"), text_max);
}

static void fill_stage(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	(void)id;
	add_str(o, "from", json_str(data, "from"));
	add_str(o, "to", json_str(data, "to"));
	flag(o, "st", step_state_bucket(json_str(data, "to")));
	add_text(o, json_str(data, "reason"), text_max);
}

static void fill_command(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	static const char *const known[] = {"ack",   "resolve", "pause", "resume",
	                                    "retry", "note",    NULL};
	const char *action = json_str(data, "action");
	int k = 0;
	(void)id;
	while (action && known[k] && strcmp(known[k], action))
		k++;
	add_str(o, "action", action);
	flag(o, "act", action && known[k] ? action : "other");
	add_str(o, "who", json_str(data, "user"));
	add_str(o, "surface", json_str(data, "surface"));
	add_text(o, json_str(data, "note"), text_max);
}

static void fill_resolved(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	(void)id;
	add_str(o, "who", json_str(data, "by"));
	add_text(o, json_str(data, "note"), text_max);
}

static void fill_findings(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	const char *job = json_str(data, "kind");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(data, "result");
	const char *sum =
	    json_str(res, "summary") ? json_str(res, "summary") : json_str(data, "summary");
	(void)id;
	if (job && *job) {
		char cap[WIRE_KIND_MAX + 1];
		str_copy(cap, sizeof cap, job);
		cap[0] = (char)toupper((unsigned char)cap[0]);
		json_add_str(o, "job", job);
		json_add_str(o, "job_cap", cap);
	}
	flag(o, "job", job_known(job) ? job : "other");
	add_text(o, sum, text_max);
}

static void fill_approval(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	const char *d = json_str(data, "decision");
	(void)id;
	add_str(o, "decision", d);
	json_add_bool(o, "approved", !(d && !strcmp(d, "reject")));
	add_str(o, "who", json_str(data, "user"));
	add_str(o, "person", json_str(data, "person")); /* policy's name, when known */
	add_str(o, "surface", json_str(data, "surface"));
	add_text(o, json_str(data, "reason"), text_max);
}

static void fill_dead(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	char job[32];
	add_str(o, "job", json_str(data, "kind"));
	json_add_int(o, "attempts", json_int(data, "attempts", 0));
	json_add_int(o, "job_id", json_int(data, "job", 0));
	add_text(o, json_str(data, "error"), text_max);
	snprintf(job, sizeof job, "%lld", (long long)json_int(data, "job", 0));
	if (json_int(data, "job", 0) > 0) {
		struct button b = {STEP_ACT_RETRY, job, "primary", 0};
		add_buttons(o, id, &b, 1);
	}
}

static void fill_retry(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	(void)id;
	add_str(o, "job", json_str(data, "kind"));
	json_add_int(o, "attempt", json_int(data, "attempt", 0));
	add_text(o, json_str(data, "error"), text_max);
}

static void fill_updated(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	cJSON *fields = json_new_array();
	const cJSON *f;
	(void)id;
	cJSON_ArrayForEach(f, data)
	{
		if (cJSON_IsString(f) && f->string) {
			cJSON *fo = json_new_object();
			char *v = step_clamp(f->valuestring, 300);
			json_add_str(fo, "name", f->string);
			json_add_str(fo, "value", v);
			free(v);
			cJSON_AddItemToArray(fields, fo);
		}
	}
	mark_more(fields);
	json_add_bool(o, "has_fields", cJSON_GetArraySize(fields) > 0);
	json_add(o, "fields", fields);
	add_text(o, json_str(data, "summary"), text_max);
}

/* "step N may or may not have run": the person answers Retry / Skip / Abort. */
static void fill_unknown(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	const char *key = json_str(data, "step_key");
	json_add_int(o, "step", json_int(data, "step", 0));
	add_str(o, "action", json_str(data, "action"));
	add_str(o, "step_key", key);
	add_text(o, json_str(data, "output"), text_max);
	if (key && *key) {
		struct button bs[] = {
		    {STEP_ACT_STEP_RETRY, key, "primary", 0},
		    {STEP_ACT_STEP_SKIP, key, "default", 0},
		    {STEP_ACT_STEP_ABORT, key, "danger", 1},
		};
		add_buttons(o, id, bs, 3);
	}
}

static void fill_decided(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	const char *d = json_str(data, "decision");
	static const char *const known[] = {"retry", "skip", "abort", NULL};
	int k = 0;
	(void)id;
	(void)text_max;
	json_add_int(o, "step", json_int(data, "step", 0));
	add_str(o, "action", json_str(data, "action"));
	add_str(o, "step_key", json_str(data, "step_key"));
	add_str(o, "decision", d);
	for (int i = 0; d && known[i]; i++)
		k |= !strcmp(d, known[i]);
	flag(o, "dec", k ? d : "other");
	add_str(o, "who", json_str(data, "user"));
	add_str(o, "person", json_str(data, "person"));
	add_str(o, "surface", json_str(data, "surface"));
}

static void fill_other(cJSON *o, const cJSON *data, int64_t id, size_t text_max)
{
	(void)id;
	json_add_str(o, "name", json_str(o, "event"));
	add_text(o, json_str(data, "summary"), text_max);
}

cJSON *step_ask(int64_t incident, const cJSON *snap, size_t text_max, int64_t *seq)
{
	const cJSON *ask = cJSON_GetObjectItemCaseSensitive(snap, "ask");
	const char *answer = json_str(ask, "answer");
	cJSON *ev, *o;

	*seq = json_int(ask, "seq", 0);
	if (!ask || *seq <= 0 || !answer)
		return NULL;
	ev = json_new_object();
	json_add_str(ev, "name", WIRE_EV_ACTION_UNKNOWN);
	json_add_int(ev, "incident", incident);
	json_add(ev, "data", json_dup(cJSON_GetObjectItemCaseSensitive(ask, "data")));
	o = step_event(ev, snap, text_max);
	cJSON_Delete(ev);
	if (!o)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(o, "rows");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "has_buttons");
	add_buttons(o, incident, NULL, 0);
	json_add_bool(o, "answered", 1);
	flag(o, "answer", answer);
	add_str(o, "answered_by", json_str(ask, "by"));
	return o;
}

cJSON *step_event(const cJSON *event, const cJSON *snap, size_t text_max)
{
	static const struct {
		const char *event, *kind;
		step_fill_fn fill;
	} kinds[] = {
	    {WIRE_EV_OPENED, "opened", fill_opened},
	    {WIRE_EV_STAGE, "stage", fill_stage},
	    {WIRE_EV_COMMAND, "command", fill_command},
	    {WIRE_EV_RESOLVED, "resolved", fill_resolved},
	    {WIRE_EV_FINDINGS, "findings", fill_findings},
	    {WIRE_EV_APPROVAL, "approval", fill_approval},
	    {WIRE_EV_DEAD, "dead", fill_dead},
	    {WIRE_EV_RETRY, "retry", fill_retry},
	    {WIRE_EV_UPDATED, "updated", fill_updated},
	    {WIRE_EV_ACTION_UNKNOWN, "unknown", fill_unknown},
	    {WIRE_EV_ACTION_DECIDED, "decided", fill_decided},
	};
	const char *name = json_str(event, "name"), *kind = "other";
	int64_t id = json_int(event, "incident", 0);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	step_fill_fn fill = fill_other;
	cJSON *o;

	(void)snap;
	/* a refused click is for the timeline and the clicker, not the thread */
	if (!name || id <= 0 || !strcmp(name, WIRE_EV_APPROVAL_REFUSED))
		return NULL;
	if (!strcmp(name, WIRE_EV_PLAN)) {
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "plan");
		return step_plan(id, data, NULL,
		                 json_bool(data, "needs_approval", 0) && json_str(plan, "hash"),
		                 text_max);
	}
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (!strcmp(name, kinds[i].event)) {
			kind = kinds[i].kind;
			fill = kinds[i].fill;
		}
	}
	o = json_new_object();
	json_add_int(o, "id", id);
	json_add_str(o, "event", name);
	fill(o, data, id, text_max);
	json_add_str(o, "kind", kind);
	flag(o, "is", kind);
	if (!cJSON_GetObjectItemCaseSensitive(o, "rows"))
		add_buttons(o, id, NULL, 0);
	return o;
}

/* ----------------------------------------------------------------- parent */

cJSON *step_parent(int64_t incident, const cJSON *snap, int64_t rev, size_t title_max,
                   size_t summary_max)
{
	const char *st = json_str(snap, "state");
	const char *sev = json_str(snap, "severity");
	cJSON *o = json_new_object();
	char *title = step_clamp(json_str(snap, "title"), title_max);
	int final = step_state_final(st), paused = st && !strcmp(st, WIRE_ST_PAUSED);

	json_add_int(o, "id", incident);
	json_add_str(o, "title", *title ? title : "(untitled)");
	free(title);
	json_add_str(o, "service", json_str(snap, "service") ? json_str(snap, "service") : "?");
	json_add_str(o, "severity", sev ? sev : "?");
	if (severity_rank(sev) >= 0)
		flag(o, "sev", sev);
	else
		flag(o, "sev", "unknown");
	json_add_str(o, "state", st ? st : WIRE_ST_OPEN);
	flag(o, "st", step_state_bucket(st ? st : WIRE_ST_OPEN));
	json_add_str(o, "source", json_str(snap, "source") ? json_str(snap, "source") : "?");
	if (json_str(snap, "summary") && *json_str(snap, "summary")) {
		char *s = step_clamp(json_str(snap, "summary"), summary_max);
		json_add_str(o, "summary", s);
		free(s);
	}
	add_str(o, "acked_by", json_str(snap, "acked_by"));
	add_str(o, "resolved_by", json_str(snap, "resolved_by"));
	add_str(o, "note", json_str(snap, "note"));
	json_add_bool(o, "open", !final);
	json_add_bool(o, "final", final);
	json_add_bool(o, "paused", paused);
	json_add_int(o, "rev", rev);
	if (!final) {
		struct button bs[] = {
		    {STEP_ACT_ACK, NULL, "default", 0},
		    {paused ? STEP_ACT_RESUME : STEP_ACT_PAUSE, NULL, "default", 0},
		    {STEP_ACT_RESOLVE, NULL, "danger", 1},
		};
		add_buttons(o, incident, bs, 3);
	} else {
		add_buttons(o, incident, NULL, 0);
	}
	return o;
}

/* --------------------------------------------------------------- snapshot */

static void set_str(cJSON *o, const char *key, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	if (val)
		json_add_str(o, key, val);
}

/* Take the pending plan's buttons away: decided, expired or moved on. */
static int plan_close(cJSON *snap)
{
	if (!json_bool(snap, "plan_open", 0))
		return 0;
	cJSON_DeleteItemFromObjectCaseSensitive(snap, "plan_open");
	json_add_bool(snap, "plan_open", 0);
	return STEP_REDRAW_PLAN;
}

int step_snapshot_apply(cJSON *snap, const cJSON *event)
{
	const char *name = json_str(event, "name");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	int r = 0;

	if (!name || !cJSON_IsObject(snap))
		return 0;
	if (!strcmp(name, WIRE_EV_STAGE)) {
		const char *to = json_str(data, "to"), *from = json_str(data, "from");
		if (to) {
			set_str(snap, "state", to);
			r |= STEP_REDRAW_PARENT;
		}
		if (from && !strcmp(from, WIRE_ST_AWAITING))
			r |= plan_close(snap);
	} else if (!strcmp(name, WIRE_EV_COMMAND)) {
		const char *action = json_str(data, "action");
		if (action && !strcmp(action, "ack")) {
			set_str(snap, "acked_by", json_str(data, "user"));
			r |= STEP_REDRAW_PARENT;
		}
	} else if (!strcmp(name, WIRE_EV_RESOLVED)) {
		set_str(snap, "state", WIRE_ST_RESOLVED);
		set_str(snap, "resolved_by", json_str(data, "by"));
		set_str(snap, "note", json_str(data, "note"));
		r |= STEP_REDRAW_PARENT | plan_close(snap);
	} else if (!strcmp(name, WIRE_EV_UPDATED)) {
		const cJSON *f;
		cJSON_ArrayForEach(f, data)
		{
			if (cJSON_IsString(f) && f->string && strncmp(f->string, "plan", 4)) {
				set_str(snap, f->string, f->valuestring);
				r |= STEP_REDRAW_PARENT;
			}
		}
	} else if (!strcmp(name, WIRE_EV_ACTION_UNKNOWN) && json_str(data, "step_key")) {
		/* the open question (one at a time: its job is held until answered) */
		cJSON *ask = json_new_object();
		json_add_int(ask, "seq", json_int(event, "seq", 0));
		json_add(ask, "data", json_dup(data));
		cJSON_DeleteItemFromObjectCaseSensitive(snap, "ask");
		json_add(snap, "ask", ask);
		r |= STEP_CHANGED;
	} else if (!strcmp(name, WIRE_EV_ACTION_DECIDED)) {
		cJSON *ask = cJSON_GetObjectItemCaseSensitive(snap, "ask");
		const char *k = json_str(cJSON_GetObjectItemCaseSensitive(ask, "data"), "step_key");
		const char *d = json_str(data, "decision");
		if (k && d && json_str(data, "step_key") &&
		    !strcmp(k, json_str(data, "step_key")) && !json_str(ask, "answer")) {
			const char *by = json_str(data, "person") ? json_str(data, "person")
			                                          : json_str(data, "user");
			json_add_str(ask, "answer", d);
			if (by)
				json_add_str(ask, "by", by);
			r |= STEP_REDRAW_ASK;
		}
	} else if (!strcmp(name, WIRE_EV_PLAN)) {
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "plan");
		cJSON_DeleteItemFromObjectCaseSensitive(snap, "plan");
		cJSON_DeleteItemFromObjectCaseSensitive(snap, "plan_seq");
		cJSON_DeleteItemFromObjectCaseSensitive(snap, "plan_open");
		cJSON_DeleteItemFromObjectCaseSensitive(snap, "approvals");
		json_add(snap, "plan", json_dup(data));
		json_add_int(snap, "plan_seq", json_int(event, "seq", 0));
		json_add_bool(snap, "plan_open",
		              json_bool(data, "needs_approval", 0) && json_str(plan, "hash"));
		json_add(snap, "approvals", json_new_array());
		r |= STEP_CHANGED;
	} else if (!strcmp(name, WIRE_EV_APPROVAL)) {
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(snap, "plan"), "plan");
		const char *hash = json_str(plan, "hash"), *h = json_str(data, "plan");
		cJSON *list = cJSON_GetObjectItemCaseSensitive(snap, "approvals");
		const cJSON *x;
		int seen = 0;
		cJSON_ArrayForEach(x, list)
		{
			/* the same decision replayed after a restart counts once */
			if (json_str(x, "user") && json_str(data, "user") &&
			    !strcmp(json_str(x, "user"), json_str(data, "user")) &&
			    json_str(x, "decision") && json_str(data, "decision") &&
			    !strcmp(json_str(x, "decision"), json_str(data, "decision")))
				seen = 1;
		}
		if (!seen && hash && h && !strcmp(hash, h) && cJSON_IsArray(list) &&
		    cJSON_GetArraySize(list) < 64) {
			cJSON *a = json_new_object();
			add_str(a, "user", json_str(data, "user"));
			add_str(a, "surface", json_str(data, "surface"));
			add_str(a, "decision", json_str(data, "decision"));
			add_str(a, "person", json_str(data, "person"));
			if (json_int(data, "need", 0) > 0) {
				json_add_int(a, "have", json_int(data, "have", 0));
				json_add_int(a, "need", json_int(data, "need", 0));
			}
			cJSON_AddItemToArray(list, a);
			r |= STEP_REDRAW_PLAN;
			if (json_str(data, "decision") &&
			    !strcmp(json_str(data, "decision"), "reject"))
				r |= plan_close(snap);
		}
	}
	return r ? r | STEP_CHANGED : 0;
}
