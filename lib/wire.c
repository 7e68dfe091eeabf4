/*
 * wire.c: strict encoding and decoding of opsbot's wire messages (wire.h).
 *
 * Each message type has a table of its fields beyond the envelope: name,
 * JSON type, and whether it is required.  Decoding walks every member of the
 * object once: a member in neither the envelope nor the type's table is an
 * unknown field; then every required field must be present.  Nested objects
 * with a fixed shape (submit's spec and job, spec.surface) have tables too.
 * Replies and events carry type-specific payloads, so only their fixed
 * fields are checked (see the tables).
 */
#include "wire.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "severity.h"

enum wire_jtype { J_STR, J_INT, J_BOOL, J_OBJ, J_ARR, J_ANY };

struct wire_field {
	const char *name;
	enum wire_jtype type;
	int required;
	const char *const *words; /* J_STR: allowed values, NULL-terminated; NULL = any */
};

static const char *const w_what_submit[] = {"incident", "job", NULL};
#define w_severity severity_names /* lib/severity.h: the one table */
static const char *const w_source[] = {"slack", "discord", "alertmanager", "generic", "watch",
                                       "cli",   NULL};
static const char *const w_surface_kind[] = {"slack", "discord", NULL};
static const char *const w_decision[] = {"approve", "reject", NULL};
static const char *const w_action[] = {"ack",  "resolve", "pause",    "resume",
                                       "note", "retry",   "filtered", NULL};
static const char *const w_ledger_op[] = {"begin",  "restart", "finish", "ask",
                                          "decide", "list",    NULL};
static const char *const w_ledger_kind[] = {"action", "rollback", NULL};
static const char *const w_ledger_end[] = {"finished", "failed", NULL};
static const char *const w_ledger_decision[] = {"retry", "skip", "abort", NULL};
static const char *const w_query[] = {"incidents", "incident", "timeline", "jobs", "dead_letters",
                                      "stats",     "events",   "identity", NULL};

#define END                                                                                        \
	{                                                                                          \
		NULL, J_ANY, 0, NULL                                                               \
	}

static const struct wire_field f_submit[] = {
    {"what", J_STR, 1, w_what_submit}, {"key", J_STR, 0, NULL},  {"spec", J_OBJ, 0, NULL},
    {"job", J_OBJ, 0, NULL},           {"jobs", J_ARR, 0, NULL}, END};
static const struct wire_field f_claim[] = {
    {"kinds", J_ARR, 1, NULL},    {"worker", J_STR, 1, NULL}, {"wait_ms", J_INT, 1, NULL},
    {"lease_ms", J_INT, 0, NULL}, {"max", J_INT, 0, NULL},    END};
static const struct wire_field f_heartbeat[] = {
    {"job", J_INT, 1, NULL}, {"lease", J_STR, 1, NULL}, {"lease_ms", J_INT, 0, NULL}, END};
/* job, lease and result are required unless "jobs" (the batched form) is there. */
static const struct wire_field f_complete[] = {{"job", J_INT, 0, NULL},
                                               {"lease", J_STR, 0, NULL},
                                               {"result", J_OBJ, 0, NULL},
                                               {"jobs", J_ARR, 0, NULL},
                                               END};
static const struct wire_field f_complete_item[] = {
    {"job", J_INT, 1, NULL}, {"lease", J_STR, 1, NULL}, {"result", J_OBJ, 1, NULL}, END};
static const struct wire_field f_fail[] = {{"job", J_INT, 1, NULL},
                                           {"lease", J_STR, 1, NULL},
                                           {"error", J_STR, 1, NULL},
                                           {"retryable", J_BOOL, 0, NULL},
                                           END};
static const char *const w_surface[] = {"slack", "discord", "cli", NULL};
static const struct wire_field f_approve[] = {{"plan", J_STR, 1, NULL},
                                              {"user", J_STR, 1, NULL},
                                              {"surface", J_STR, 1, w_surface},
                                              {"decision", J_STR, 1, w_decision},
                                              {"key", J_STR, 0, NULL},
                                              {"reason", J_STR, 0, NULL},
                                              {"message_incident", J_INT, 0, NULL},
                                              END};
static const struct wire_field f_command[] = {
    {"action", J_STR, 1, w_action}, {"user", J_STR, 1, NULL},
    {"surface", J_STR, 1, NULL},    {"note", J_STR, 0, NULL},
    {"key", J_STR, 0, NULL},        {"job", J_INT, 0, NULL},
    {"alert", J_OBJ, 0, NULL},      END};
static const struct wire_field f_query[] = {{"what", J_STR, 1, w_query},
                                            {"since", J_INT, 0, NULL},
                                            {"limit", J_INT, 0, NULL},
                                            {"state", J_STR, 0, NULL},
                                            END};
/* ledger: which fields each op needs is checked in wire_check_ledger. */
static const struct wire_field f_ledger[] = {{"op", J_STR, 1, w_ledger_op},
                                             {"job", J_INT, 0, NULL},
                                             {"lease", J_STR, 0, NULL},
                                             {"step_key", J_STR, 0, NULL},
                                             {"step", J_INT, 0, NULL},
                                             {"action", J_STR, 0, NULL},
                                             {"params", J_OBJ, 0, NULL},
                                             {"argv", J_ARR, 0, NULL},
                                             {"kind", J_STR, 0, w_ledger_kind},
                                             {"plan", J_STR, 0, NULL},
                                             {"idempotent", J_BOOL, 0, NULL},
                                             {"target", J_STR, 0, NULL},
                                             {"cooldown_ms", J_INT, 0, NULL},
                                             {"rate_count", J_INT, 0, NULL},
                                             {"rate_window_ms", J_INT, 0, NULL},
                                             {"state", J_STR, 0, w_ledger_end},
                                             {"output", J_STR, 0, NULL},
                                             {"exit", J_INT, 0, NULL},
                                             {"ms", J_INT, 0, NULL},
                                             {"question", J_STR, 0, NULL},
                                             {"decision", J_STR, 0, w_ledger_decision},
                                             {"user", J_STR, 0, NULL},
                                             {"surface", J_STR, 0, NULL},
                                             {"key", J_STR, 0, NULL},
                                             {"limit", J_INT, 0, NULL},
                                             {"refuse", J_STR, 0, NULL},
                                             END};
/* Replies: ok is fixed; the rest depends on the request (wire.h). */
static const struct wire_field f_reply[] = {{"ok", J_BOOL, 1, NULL}, END};
static const struct wire_field f_event[] = {{"seq", J_INT, 1, NULL},
                                            {"name", J_STR, 1, NULL},
                                            {"at_ms", J_INT, 1, NULL},
                                            {"data", J_OBJ, 1, NULL},
                                            END};

/* Nested shapes. */
static const struct wire_field f_spec[] = {
    {"title", J_STR, 1, NULL},          {"service", J_STR, 1, NULL},
    {"severity", J_STR, 1, w_severity}, {"source", J_STR, 1, w_source},
    {"summary", J_STR, 0, NULL},        {"labels", J_OBJ, 0, NULL},
    {"surface", J_OBJ, 0, NULL},        END};
static const struct wire_field f_surface[] = {
    {"kind", J_STR, 1, w_surface_kind}, {"channel", J_STR, 0, NULL}, {"user", J_STR, 0, NULL},
    {"user_id", J_STR, 0, NULL},        {"thread", J_STR, 0, NULL},  END};
static const struct wire_field f_job[] = {{"kind", J_STR, 1, NULL}, {"input", J_OBJ, 0, NULL}, END};
static const struct wire_field f_job_item[] = {
    {"kind", J_STR, 1, NULL}, {"input", J_OBJ, 0, NULL}, {"key", J_STR, 0, NULL}, END};

static const struct {
	const char *name;
	const struct wire_field *fields;
	int open; /* extra members allowed (replies carry per-request results) */
} wire_types[WIRE_TYPE_COUNT] = {
    [WIRE_SUBMIT] = {"submit", f_submit, 0},
    [WIRE_CLAIM] = {"claim", f_claim, 0},
    [WIRE_HEARTBEAT] = {"heartbeat", f_heartbeat, 0},
    [WIRE_COMPLETE] = {"complete", f_complete, 0},
    [WIRE_FAIL] = {"fail", f_fail, 0},
    [WIRE_APPROVE] = {"approve", f_approve, 0},
    [WIRE_COMMAND] = {"command", f_command, 0},
    [WIRE_QUERY] = {"query", f_query, 0},
    [WIRE_REPLY] = {"reply", f_reply, 1},
    [WIRE_EVENT] = {"event", f_event, 0},
    [WIRE_LEDGER] = {"ledger", f_ledger, 0},
};

static const char *const envelope[] = {"v", "type", "id", "incident", "trace", NULL};

const char *wire_type_name(enum wire_type t)
{
	if ((int)t < 0 || t >= WIRE_TYPE_COUNT)
		return "unknown";
	return wire_types[t].name;
}

int wire_type_parse(const char *s, enum wire_type *out)
{
	for (int i = 0; s && i < WIRE_TYPE_COUNT; i++) {
		if (strcmp(s, wire_types[i].name) == 0) {
			*out = (enum wire_type)i;
			return 0;
		}
	}
	return -1;
}

static const char *wire_jtype_name(enum wire_jtype t)
{
	switch (t) {
	case J_STR:
		return "a string";
	case J_INT:
		return "a whole number";
	case J_BOOL:
		return "true or false";
	case J_OBJ:
		return "an object";
	case J_ARR:
		return "an array";
	case J_ANY:
		break;
	}
	return "a value";
}

static int wire_is_whole(const cJSON *v)
{
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
	       v->valuedouble == floor(v->valuedouble) &&
	       fabs(v->valuedouble) <= 9007199254740992.0;
}

static int wire_type_ok(const cJSON *v, enum wire_jtype t)
{
	switch (t) {
	case J_STR:
		return cJSON_IsString(v);
	case J_INT:
		return wire_is_whole(v);
	case J_BOOL:
		return cJSON_IsBool(v);
	case J_OBJ:
		return cJSON_IsObject(v);
	case J_ARR:
		return cJSON_IsArray(v);
	case J_ANY:
		break;
	}
	return 1;
}

static int wire_in(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/*
 * Check obj against a table.  prefix names the enclosing field ("spec.") so
 * the message says exactly where the problem is.  skip lists names handled
 * by the caller (the envelope).
 */
static int wire_check_fields(const cJSON *obj, const struct wire_field *fields, int open,
                             const char *const *skip, const char *prefix, char *err, size_t errlen)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, obj)
	{
		const char *k = m->string ? m->string : "";
		if (skip && wire_in(k, skip))
			continue;
		const struct wire_field *f = fields;
		while (f->name && strcmp(f->name, k) != 0)
			f++;
		if (!f->name) {
			if (open)
				continue;
			snprintf(err, errlen, "unknown field '%s%s'", prefix, k);
			return -1;
		}
		if (!wire_type_ok(m, f->type)) {
			snprintf(err, errlen, "field '%s%s' must be %s", prefix, k,
			         wire_jtype_name(f->type));
			return -1;
		}
		if (f->type == J_STR && f->words && !wire_in(m->valuestring, f->words)) {
			char list[256] = "";
			size_t n = 0;
			for (const char *const *w = f->words; *w && n < sizeof(list); w++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				                      n ? "|" : "", *w);
			snprintf(err, errlen, "field '%s%s' must be one of %s", prefix, k, list);
			return -1;
		}
	}
	/* Duplicate names: cJSON keeps both; the second would be silently ignored. */
	for (m = obj ? obj->child : NULL; m; m = m->next) {
		for (const cJSON *o = m->next; o; o = o->next) {
			if (m->string && o->string && strcmp(m->string, o->string) == 0) {
				snprintf(err, errlen, "field '%s%s' appears twice", prefix,
				         m->string);
				return -1;
			}
		}
	}
	for (const struct wire_field *f = fields; f->name; f++) {
		if (f->required && !cJSON_GetObjectItemCaseSensitive(obj, f->name)) {
			snprintf(err, errlen, "field '%s%s' is missing", prefix, f->name);
			return -1;
		}
	}
	return 0;
}

static int wire_check_lease_ms(const cJSON *root, char *err, size_t errlen)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "lease_ms");
	if (l && (l->valuedouble < 1 || l->valuedouble > WIRE_LEASE_MAX_MS)) {
		snprintf(err, errlen, "field 'lease_ms' must be 1 to %d", WIRE_LEASE_MAX_MS);
		return -1;
	}
	return 0;
}

/* complete: either job/lease/result, or jobs:[{job, lease, result}] with distinct jobs. */
static int wire_check_complete(const cJSON *root, char *err, size_t errlen)
{
	const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(root, "jobs");
	if (!jobs) {
		for (const struct wire_field *f = f_complete_item; f->name; f++) {
			if (!cJSON_GetObjectItemCaseSensitive(root, f->name)) {
				snprintf(err, errlen, "field '%s' is missing", f->name);
				return -1;
			}
		}
		return 0;
	}
	for (const struct wire_field *f = f_complete_item; f->name; f++) {
		if (cJSON_GetObjectItemCaseSensitive(root, f->name)) {
			snprintf(err, errlen, "field '%s' is not allowed beside 'jobs'", f->name);
			return -1;
		}
	}
	int n = cJSON_GetArraySize(jobs);
	if (n < 1 || n > WIRE_BATCH_MAX) {
		snprintf(err, errlen, "field 'jobs' must hold 1 to %d jobs", WIRE_BATCH_MAX);
		return -1;
	}
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, jobs)
	{
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "jobs[%d].", i++);
		if (!cJSON_IsObject(it)) {
			snprintf(err, errlen, "field 'jobs' must hold only objects");
			return -1;
		}
		if (wire_check_fields(it, f_complete_item, 0, NULL, prefix, err, errlen) < 0)
			return -1;
		/* n <= WIRE_BATCH_MAX, so this quadratic check stays small. */
		double id = cJSON_GetObjectItemCaseSensitive(it, "job")->valuedouble;
		for (const cJSON *o = jobs->child; o != it; o = o->next) {
			if (cJSON_GetObjectItemCaseSensitive(o, "job")->valuedouble == id) {
				snprintf(err, errlen, "field '%sjob' repeats job %.0f", prefix, id);
				return -1;
			}
		}
	}
	return 0;
}

/* A job's kind and an optional key, bounded; prefix names where ("job.", "jobs[3]."). */
static int wire_check_job(const cJSON *job, const struct wire_field *fields, const char *prefix,
                          char *err, size_t errlen)
{
	if (wire_check_fields(job, fields, 0, NULL, prefix, err, errlen) < 0)
		return -1;
	size_t n = strlen(json_str(job, "kind"));
	if (n == 0 || n > WIRE_KIND_MAX) {
		snprintf(err, errlen, "field '%skind' must be 1 to %d characters", prefix,
		         WIRE_KIND_MAX);
		return -1;
	}
	const char *key = json_str(job, "key");
	if (key && (!*key || strlen(key) > WIRE_KEY_MAX)) {
		snprintf(err, errlen, "field '%skey' must be 1 to %d characters", prefix,
		         WIRE_KEY_MAX);
		return -1;
	}
	return 0;
}

/* submit what:"job": one "job", or "jobs":[{kind, input, key}] (the batched form). */
static int wire_check_submit_jobs(const cJSON *root, char *err, size_t errlen)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(root, "job");
	const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(root, "jobs");
	if (cJSON_GetObjectItemCaseSensitive(root, "spec")) {
		snprintf(err, errlen, "field 'spec' is not allowed when what is job");
		return -1;
	}
	if (job && jobs) {
		snprintf(err, errlen, "field 'job' is not allowed beside 'jobs'");
		return -1;
	}
	if (job)
		return wire_check_job(job, f_job, "job.", err, errlen);
	if (!jobs) {
		snprintf(err, errlen, "field 'job' is missing (what is job)");
		return -1;
	}
	int n = cJSON_GetArraySize(jobs);
	if (n < 1 || n > WIRE_BATCH_MAX) {
		snprintf(err, errlen, "field 'jobs' must hold 1 to %d jobs", WIRE_BATCH_MAX);
		return -1;
	}
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, jobs)
	{
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "jobs[%d].", i++);
		if (!cJSON_IsObject(it)) {
			snprintf(err, errlen, "field 'jobs' must hold only objects");
			return -1;
		}
		if (wire_check_job(it, f_job_item, prefix, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* An optional bounded text field (a key): absent, or 1 to WIRE_KEY_MAX bytes. */
static int wire_check_keyfield(const cJSON *root, const char *name, char *err, size_t errlen)
{
	const char *v = json_str(root, name);
	if (v && (!*v || strlen(v) > WIRE_KEY_MAX)) {
		snprintf(err, errlen, "field '%s' must be 1 to %d characters", name, WIRE_KEY_MAX);
		return -1;
	}
	return 0;
}

/* ledger: the fields each op requires (wire.h). */
static int wire_check_ledger(const cJSON *root, char *err, size_t errlen)
{
	static const struct {
		const char *op;
		const char *need[9];
	} needs[] = {
	    {"begin", {"job", "lease", "step_key", "step", "action", "params", "argv", NULL}},
	    {"restart", {"job", "lease", "step_key", NULL}},
	    {"finish", {"job", "lease", "step_key", "state", NULL}},
	    {"ask", {"job", "lease", "step_key", NULL}},
	    {"decide", {"step_key", "decision", "user", "surface", NULL}},
	    {"list", {NULL}},
	};
	const char *op = json_str(root, "op");
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		if (strcmp(op, needs[i].op) != 0)
			continue;
		for (const char *const *f = needs[i].need; *f; f++) {
			if (!cJSON_GetObjectItemCaseSensitive(root, *f)) {
				snprintf(err, errlen, "field '%s' is missing (op is %s)", *f, op);
				return -1;
			}
		}
	}
	if (wire_check_keyfield(root, "step_key", err, errlen) < 0 ||
	    wire_check_keyfield(root, "key", err, errlen) < 0)
		return -1;
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(root, "argv");
	const cJSON *a;
	cJSON_ArrayForEach(a, argv)
	{
		if (!cJSON_IsString(a)) {
			snprintf(err, errlen, "field 'argv' must hold only strings");
			return -1;
		}
	}
	static const char *const nonneg[] = {"step",           "cooldown_ms", "rate_count",
	                                     "rate_window_ms", "ms",          NULL};
	for (const char *const *f = nonneg; *f; f++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, *f);
		if (v && v->valuedouble < 0) {
			snprintf(err, errlen, "field '%s' must not be negative", *f);
			return -1;
		}
	}
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "limit");
	if (l && (l->valuedouble < 1 || l->valuedouble > WIRE_QUERY_LIMIT_MAX)) {
		snprintf(err, errlen, "field 'limit' must be 1 to %d", WIRE_QUERY_LIMIT_MAX);
		return -1;
	}
	return 0;
}

/* approve and command: who (user, surface) and the key, bounded. */
static int wire_check_people(const cJSON *root, char *err, size_t errlen)
{
	const char *user = json_str(root, "user"), *surface = json_str(root, "surface");
	if (!user[0] || strlen(user) > WIRE_USER_MAX) {
		snprintf(err, errlen, "field 'user' must be 1 to %d characters", WIRE_USER_MAX);
		return -1;
	}
	if (!surface[0] || strlen(surface) > WIRE_KIND_MAX) {
		snprintf(err, errlen, "field 'surface' must be 1 to %d characters", WIRE_KIND_MAX);
		return -1;
	}
	return wire_check_keyfield(root, "key", err, errlen);
}

/* submit: an incident's spec, or a job (or a batch of jobs); a bounded key. */
static int wire_check_submit(const cJSON *root, char *err, size_t errlen)
{
	const char *what = json_str(root, "what");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(root, "job");
	if (strcmp(what, "incident") == 0) {
		if (!spec) {
			snprintf(err, errlen, "field 'spec' is missing (what is incident)");
			return -1;
		}
		if (job || cJSON_GetObjectItemCaseSensitive(root, "jobs")) {
			snprintf(err, errlen, "field '%s' is not allowed when what is incident",
			         job ? "job" : "jobs");
			return -1;
		}
		if (wire_check_fields(spec, f_spec, 0, NULL, "spec.", err, errlen) < 0)
			return -1;
		const cJSON *sf = cJSON_GetObjectItemCaseSensitive(spec, "surface");
		if (sf &&
		    wire_check_fields(sf, f_surface, 0, NULL, "spec.surface.", err, errlen) < 0)
			return -1;
	} else if (wire_check_submit_jobs(root, err, errlen) < 0) {
		return -1;
	}
	return wire_check_keyfield(root, "key", err, errlen);
}

/* claim: known kind names, a bounded wait and batch, a sane lease. */
static int wire_check_claim(const cJSON *root, char *err, size_t errlen)
{
	const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(root, "kinds");
	int n = cJSON_GetArraySize(kinds);
	if (n < 1 || n > WIRE_KINDS_MAX) {
		snprintf(err, errlen, "field 'kinds' must hold 1 to %d job kinds", WIRE_KINDS_MAX);
		return -1;
	}
	const cJSON *k;
	cJSON_ArrayForEach(k, kinds)
	{
		if (!cJSON_IsString(k) || !k->valuestring[0] ||
		    strlen(k->valuestring) > WIRE_KIND_MAX) {
			snprintf(err, errlen, "field 'kinds' must hold only job kind names");
			return -1;
		}
	}
	int64_t w = json_int(root, "wait_ms", -1);
	if (w < 0 || w > WIRE_WAIT_MAX_MS) {
		snprintf(err, errlen, "field 'wait_ms' must be 0 to %d", WIRE_WAIT_MAX_MS);
		return -1;
	}
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(root, "max");
	if (max && (max->valuedouble < 1 || max->valuedouble > WIRE_BATCH_MAX)) {
		snprintf(err, errlen, "field 'max' must be 1 to %d", WIRE_BATCH_MAX);
		return -1;
	}
	return wire_check_lease_ms(root, err, errlen);
}

/* approve: a plan hash, a bounded reason, the incident the message showed. */
static int wire_check_approve(const cJSON *root, char *err, size_t errlen)
{
	const char *plan = json_str(root, "plan");
	if (!plan[0] || strlen(plan) > WIRE_KEY_MAX) {
		snprintf(err, errlen, "field 'plan' must be 1 to %d characters", WIRE_KEY_MAX);
		return -1;
	}
	const char *reason = json_str(root, "reason");
	if (reason && strlen(reason) > WIRE_REASON_MAX) {
		snprintf(err, errlen, "field 'reason' must be at most %d characters",
		         WIRE_REASON_MAX);
		return -1;
	}
	if (json_int(root, "message_incident", 1) < 1) {
		snprintf(err, errlen, "field 'message_incident' must name an incident");
		return -1;
	}
	return wire_check_people(root, err, errlen);
}

/* query: a bounded limit, a since that is not negative. */
static int wire_check_query(const cJSON *root, char *err, size_t errlen)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "limit");
	if (l && (l->valuedouble < 1 || l->valuedouble > WIRE_QUERY_LIMIT_MAX)) {
		snprintf(err, errlen, "field 'limit' must be 1 to %d", WIRE_QUERY_LIMIT_MAX);
		return -1;
	}
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "since");
	if (s && s->valuedouble < 0) {
		snprintf(err, errlen, "field 'since' must not be negative");
		return -1;
	}
	return 0;
}

/* Rules across fields that a table cannot say. */
static int wire_check_type(const cJSON *root, enum wire_type t, char *err, size_t errlen)
{
	switch (t) {
	case WIRE_SUBMIT:
		return wire_check_submit(root, err, errlen);
	case WIRE_CLAIM:
		return wire_check_claim(root, err, errlen);
	case WIRE_COMPLETE:
		return wire_check_complete(root, err, errlen);
	case WIRE_HEARTBEAT:
		return wire_check_lease_ms(root, err, errlen);
	case WIRE_COMMAND:
		if (strcmp(json_str(root, "action"), "retry") == 0 &&
		    !cJSON_GetObjectItemCaseSensitive(root, "job")) {
			snprintf(err, errlen, "field 'job' is missing (action is retry)");
			return -1;
		}
		return wire_check_people(root, err, errlen);
	case WIRE_APPROVE:
		return wire_check_approve(root, err, errlen);
	case WIRE_QUERY:
		return wire_check_query(root, err, errlen);
	case WIRE_LEDGER:
		return wire_check_ledger(root, err, errlen);
	case WIRE_REPLY:
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ok"))) {
			if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "error"))) {
				snprintf(err, errlen, "field 'error' is missing (ok is false)");
				return -1;
			}
		}
		return 0;
	default:
		return 0;
	}
}

int wire_decode(const void *buf, size_t len, struct wire_msg *out, char *err, size_t errlen)
{
	cJSON *root = NULL;
	struct wire_msg m = {0};

	if (len > WIRE_MAX_BYTES) {
		snprintf(err, errlen, "message of %zu bytes is larger than the limit of %d", len,
		         WIRE_MAX_BYTES);
		return -1;
	}
	if (json_parse(buf, len, &root, err, errlen) < 0)
		return -1;
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "message must be a JSON object");
		goto bad;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
	if (!v) {
		snprintf(err, errlen, "field 'v' is missing");
		goto bad;
	}
	if (!wire_is_whole(v)) {
		snprintf(err, errlen, "field 'v' must be a whole number");
		goto bad;
	}
	if (v->valuedouble != WIRE_VERSION) { /* as a double: (int)2e10 is undefined */
		snprintf(err, errlen, "field 'v' is %.0f; this build speaks version %d",
		         v->valuedouble, WIRE_VERSION);
		goto bad;
	}
	m.v = WIRE_VERSION;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!type) {
		snprintf(err, errlen, "field 'type' is missing");
		goto bad;
	}
	if (!cJSON_IsString(type)) {
		snprintf(err, errlen, "field 'type' must be a string");
		goto bad;
	}
	if (wire_type_parse(type->valuestring, &m.type) < 0) {
		snprintf(err, errlen, "field 'type' names an unknown message type %s",
		         log_q(type->valuestring));
		goto bad;
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (!id) {
		snprintf(err, errlen, "field 'id' is missing");
		goto bad;
	}
	if (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) >= sizeof(m.id)) {
		snprintf(err, errlen, "field 'id' must be a string of 1 to %zu characters",
		         sizeof(m.id) - 1);
		goto bad;
	}
	str_copy(m.id, sizeof(m.id), id->valuestring);
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(root, "incident");
	if (inc && m.type == WIRE_REPLY && cJSON_IsObject(inc)) {
		/* query what:"incident" answers with the record in this place */
		m.incident = json_int(inc, "id", 0);
	} else if (inc) {
		if (!wire_is_whole(inc) || inc->valuedouble < 0) {
			snprintf(err, errlen, "field 'incident' must be a whole number >= 0");
			goto bad;
		}
		m.incident = (int64_t)inc->valuedouble;
	}
	const cJSON *trace = cJSON_GetObjectItemCaseSensitive(root, "trace");
	if (trace) {
		if (!cJSON_IsString(trace) || strlen(trace->valuestring) >= sizeof(m.trace)) {
			snprintf(err, errlen,
			         "field 'trace' must be a string of at most %zu characters",
			         sizeof(m.trace) - 1);
			goto bad;
		}
		str_copy(m.trace, sizeof(m.trace), trace->valuestring);
	}
	if (wire_check_fields(root, wire_types[m.type].fields, wire_types[m.type].open, envelope,
	                      "", err, errlen) < 0)
		goto bad;
	if (wire_check_type(root, m.type, err, errlen) < 0)
		goto bad;
	m.root = root;
	*out = m;
	return 0;
bad:
	cJSON_Delete(root);
	return -1;
}

void wire_msg_free(struct wire_msg *m)
{
	if (!m)
		return;
	cJSON_Delete(m->root);
	m->root = NULL;
}

static void wire_random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];
	static const char hex[] = "0123456789abcdef";
	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (getrandom(r, nbytes, GRND_NONBLOCK) != (ssize_t)nbytes) {
		/* Early boot without entropy: ids need to be unique, not secret. */
		uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)out;
		for (size_t i = 0; i < nbytes; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			r[i] = (unsigned char)x;
		}
	}
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

void wire_new_id(char *out, size_t len)
{
	static atomic_ullong counter;
	static char prefix[17];
	static atomic_int have_prefix;
	if (!atomic_load(&have_prefix)) {
		char p[17];
		wire_random_hex(p, 8);
		memcpy(prefix, p, sizeof(p));
		atomic_store(&have_prefix, 1);
	}
	unsigned long long n = atomic_fetch_add(&counter, 1) + 1;
	snprintf(out, len, "%.16s-%llu", prefix, n);
}

cJSON *wire_new(enum wire_type type, int64_t incident)
{
	char id[64], trace[33];
	wire_new_id(id, sizeof(id));
	wire_random_hex(trace, 16);
	cJSON *o = json_new_object();
	json_add_int(o, "v", WIRE_VERSION);
	json_add_str(o, "type", wire_type_name(type));
	json_add_str(o, "id", id);
	json_add_int(o, "incident", incident);
	json_add_str(o, "trace", trace);
	return o;
}

static cJSON *wire_reply_base(const struct wire_msg *req, int ok)
{
	cJSON *o = json_new_object();
	json_add_int(o, "v", WIRE_VERSION);
	json_add_str(o, "type", "reply");
	json_add_str(o, "id", req && req->id[0] ? req->id : "unknown");
	json_add_int(o, "incident", req ? req->incident : 0);
	json_add_str(o, "trace", req ? req->trace : "");
	json_add_bool(o, "ok", ok);
	return o;
}

cJSON *wire_reply_ok(const struct wire_msg *req)
{
	return wire_reply_base(req, 1);
}

cJSON *wire_reply_err(const struct wire_msg *req, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON *o = wire_reply_base(req, 0);
	json_add_str(o, "error", code);
	json_add_str(o, "message", msg);
	return o;
}
