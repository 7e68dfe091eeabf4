/*
 * handle.c: the queue's request handlers and the incident state machine
 * applied to the store.
 *
 * Each handler checks everything it can before it writes, so a refused
 * request changes nothing - except a refused approve, which is recorded in
 * the incident's timeline (approval.refused) so the audit shows who tried
 * what.  handle_request first checks what the request's peer may ask
 * (peer_refusal); h_approve then judges the decision against the policy
 * (approver_of, plan_judge, approved_by).  A store failure returns HANDLE_STORE_ERR and
 * the main loop rolls back the whole batch.  Transitions go through
 * inc_move(), which asserts state_allowed() (state.c invariant 1) and
 * writes the incident.stage event.
 */
#include "handle.h"
#include "group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "mem.h"
#include "outbox.h"
#include "policy.h"
#include "state.h"

#define TRY(x)                                                                                     \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			return HANDLE_STORE_ERR;                                                   \
	} while (0)

#define MAX_EXPIRED  256
#define TIMELINE_MAX 1000
#define RETRY_CAP_MS (3600 * 1000)

/* ---- events ---- */

/* Store an event and queue it for publishing after COMMIT.  Takes data. */
int q_event(struct queue *q, int64_t incident, const char *name, cJSON *data)
{
	char *text = json_print(data);
	int64_t seq;
	int rc = store_event_append(q->st, incident, name, text, q->now, &seq);
	free(text);
	if (rc < 0) {
		cJSON_Delete(data);
		return -1;
	}
	char id[32];
	snprintf(id, sizeof(id), "ev-%lld", (long long)seq);
	cJSON *e = json_new_object();
	json_add_int(e, "v", WIRE_VERSION);
	json_add_str(e, "type", "event");
	json_add_str(e, "id", id);
	json_add_int(e, "incident", incident);
	json_add_str(e, "trace", "");
	json_add_int(e, "seq", seq);
	json_add_str(e, "name", name);
	json_add_int(e, "at_ms", q->now);
	json_add(e, "data", data);
	cJSON_AddItemToArray(q->outbox, e);
	log_debug("event=publish_queued name=%s incident=%lld seq=%lld", name, (long long)incident,
	          (long long)seq);
	return 0;
}

/* ---- incidents ---- */

static enum state_id inc_state(const struct store_incident *in)
{
	enum state_id s;
	LOG_ASSERT(state_parse(in->state, &s) == 0);
	return s;
}

static cJSON *inc_results(const struct store_incident *in)
{
	cJSON *r = NULL;
	char err[64];
	if (!in->results ||
	    json_parse_object(in->results, strlen(in->results), &r, err, sizeof(err)) < 0)
		r = json_new_object();
	return r;
}

static void inc_set_results(struct store_incident *in, const cJSON *r)
{
	free(in->results);
	in->results = json_print(r);
}

static int inc_enqueue(struct queue *q, const struct store_incident *in, enum stage_id g);

/*
 * One transition: checks the machine, writes the stage event, updates in
 * (not saved).  Entering failed, rejected or expired queues a report job as
 * resolved does (inc_resolved), so every ending gets its summary, mail and
 * chat upload; the report reads the ending and its reason from this event.
 */
int inc_move(struct queue *q, struct store_incident *in, enum state_id to, const char *reason)
{
	enum state_id from = inc_state(in);
	if (!state_allowed(from, to))
		log_error("event=bad_transition incident=%lld from=%s to=%s", (long long)in->id,
		          state_name(from), state_name(to));
	LOG_ASSERT(state_allowed(from, to)); /* state.c invariant 1 */
	cJSON *d = json_new_object();
	json_add_str(d, "from", state_name(from));
	json_add_str(d, "to", state_name(to));
	json_add_str(d, "reason", reason);
	str_copy(in->state, sizeof(in->state), state_name(to));
	if (to != ST_AWAITING)
		in->approval_deadline_ms = 0;
	log_info("event=transition incident=%lld from=%s to=%s reason=%s", (long long)in->id,
	         state_name(from), state_name(to), log_q(reason));
	if (q_event(q, in->id, WIRE_EV_STAGE, d) < 0)
		return -1;
	if ((to == ST_FAILED || to == ST_REJECTED || to == ST_EXPIRED) &&
	    (q->conf.stages & (1u << STAGE_REPORT)))
		return inc_enqueue(q, in, STAGE_REPORT);
	return 0;
}

int inc_save(struct queue *q, struct store_incident *in)
{
	int paused = !strcmp(in->state, WIRE_ST_PAUSED);
	LOG_ASSERT(paused == (in->prev_state[0] != '\0')); /* invariant 4 */
	LOG_ASSERT(strcmp(in->state, WIRE_ST_AWAITING) ||
	           in->approval_deadline_ms); /* invariant 5 */
	return store_incident_update(q->st, in, q->now);
}

static cJSON *inc_timeline(struct queue *q, int64_t id)
{
	cJSON *items = json_new_array();
	if (store_events(q->st, id, 0, TIMELINE_MAX, items) < 0) {
		cJSON_Delete(items);
		return NULL;
	}
	return items;
}

static cJSON *result_of(const cJSON *results, const char *stage)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(results, stage);
	return r ? json_dup(r) : cJSON_CreateNull();
}

/* The input of stage g's job: what wire.h says each kind needs. */
static cJSON *inc_input(struct queue *q, const struct store_incident *in, enum stage_id g)
{
	cJSON *input = json_new_object();
	cJSON *results = inc_results(in);
	json_add(input, "incident", store_incident_json(in));
	switch (g) {
	case STAGE_DETECT:
		break;
	case STAGE_RETRIEVE:
		json_add(input, "detect", result_of(results, WIRE_JOB_DETECT));
		break;
	case STAGE_PLAN:
		json_add(input, "detect", result_of(results, WIRE_JOB_DETECT));
		json_add(input, "retrieve", result_of(results, WIRE_JOB_RETRIEVE));
		if (cJSON_GetObjectItemCaseSensitive(results, WIRE_JOB_VERIFY)) /* a replan */
			json_add(input, "verify", result_of(results, WIRE_JOB_VERIFY));
		break;
	case STAGE_EXECUTE:
	case STAGE_VERIFY: {
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(results, WIRE_JOB_PLAN);
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(pr, "plan");
		json_add(input, "plan", plan ? json_dup(plan) : cJSON_CreateNull());
		if (g == STAGE_VERIFY)
			json_add(input, "execute", result_of(results, WIRE_JOB_EXECUTE));
		break;
	}
	case STAGE_REPORT:
	case STAGE_INDEX: {
		cJSON *t = inc_timeline(q, in->id);
		json_add(input, "timeline", t ? t : json_new_array());
		break;
	}
	case STAGE_COUNT:
		break;
	}
	cJSON_Delete(results);
	return input;
}

static int inc_enqueue(struct queue *q, const struct store_incident *in, enum stage_id g)
{
	cJSON *input = inc_input(q, in, g);
	char *text = json_print(input);
	cJSON_Delete(input);
	int64_t job;
	int rc = store_job_insert(q->st, in->id, state_stage_name(g), "ready", text,
	                          q->conf.max_attempts, q->now, q->now, &job);
	free(text);
	if (rc == 0) {
		queue_mark_ready(q, state_stage_name(g));
		log_info("event=enqueue incident=%lld job=%lld kind=%s", (long long)in->id,
		         (long long)job, state_stage_name(g));
	}
	return rc;
}

/* After resolved: report and index jobs when enabled (they change no state). */
static int inc_resolved(struct queue *q, struct store_incident *in, const char *by,
                        const char *note)
{
	cJSON *d = json_new_object();
	json_add_str(d, "by", by);
	json_add_str(d, "note", note);
	if (q_event(q, in->id, WIRE_EV_RESOLVED, d) < 0)
		return -1;
	if (store_job_move_incident(q->st, in->id, "ready", "cancelled", q->now, NULL) < 0 ||
	    store_job_move_incident(q->st, in->id, "held", "cancelled", q->now, NULL) < 0)
		return -1;
	static const enum stage_id after[] = {STAGE_REPORT, STAGE_INDEX};
	for (size_t i = 0; i < 2; i++) {
		if (q->conf.stages & (1u << after[i])) {
			if (inc_enqueue(q, in, after[i]) < 0)
				return -1;
		} else {
			cJSON *u = json_new_object();
			json_add_str(u, "stage", state_stage_name(after[i]));
			json_add_str(u, "reason", "skipped: stage not enabled");
			if (q_event(q, in->id, WIRE_EV_UPDATED, u) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- approvals: the policy applied to a plan ---- */

static const struct handle_peer peer_internal = {PEER_SERVICE, -1, "", "internal"};

static const struct handle_peer *peer_of(const struct queue *q)
{
	return q->peer ? q->peer : &peer_internal;
}

/* The plan object of an incident's plan result; NULL when there is none.  Borrowed from r. */
static const cJSON *plan_of(const cJSON *results)
{
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(results, WIRE_JOB_PLAN);
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(pr, "plan");
	return cJSON_IsObject(plan) ? plan : NULL;
}

/* What a plan needs, summed over the steps that need approval. */
struct plan_need {
	int need;          /* distinct people */
	int requester_may; /* 0 when any rule forbids the requester */
	int64_t expiry_ms; /* the shortest rule's */
	char rule[120];    /* the rule(s) that decided, for people */
	int steps;         /* steps needing approval */
};

/*
 * Judge person (NULL: only sum up the rules) against every step of plan
 * that needs approval.  requester: the person who opened the incident, or
 * NULL.  1: allowed (or summed), 0: refused with why, -1: the plan names an
 * action the catalog does not have (why says which).
 */
static int plan_judge(const struct queue *q, const cJSON *plan, const char *person,
                      const char *requester, struct plan_need *pn, char *why, size_t whylen)
{
	*pn = (struct plan_need){.need = 0, .requester_may = 1, .expiry_ms = 0};
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(plan, "steps");
	const cJSON *st;
	int i = 0;
	struct policy_approval ap;
	cJSON_ArrayForEach(st, steps)
	{
		i++;
		const char *action = json_str(st, "action");
		const struct catalog_action *a = action ? catalog_find(q->cat, action) : NULL;
		if (!a) {
			snprintf(why, whylen,
			         "step %d names action %s, which is not in the action catalog; "
			         "nobody can approve this plan",
			         i, action ? action : "(none)");
			return -1;
		}
		policy_approval_for(q->pol, a, &ap);
		const char *asked = json_str(st, "approval");
		if (!ap.required && !(asked && !strcmp(asked, "required")))
			continue;
		pn->steps++;
		if (ap.distinct > pn->need)
			pn->need = ap.distinct;
		if (!ap.requester_may_approve)
			pn->requester_may = 0;
		if (!pn->expiry_ms || ap.expiry_ms < pn->expiry_ms)
			pn->expiry_ms = ap.expiry_ms;
		if (!strstr(pn->rule, ap.rule)) {
			size_t n = strlen(pn->rule);
			snprintf(pn->rule + n, sizeof(pn->rule) - n, "%s%s", n ? ", " : "",
			         ap.rule);
		}
		if (person && !policy_person_may_approve(q->pol, &ap, a->name, person, requester,
		                                         why, whylen))
			return 0;
	}
	if (pn->steps == 0) {
		/* needs_approval with no step asking: the [policy] defaults decide. */
		policy_default_approval(q->pol, &ap);
		pn->need = ap.distinct;
		pn->requester_may = ap.requester_may_approve;
		pn->expiry_ms = ap.expiry_ms;
		snprintf(pn->rule, sizeof(pn->rule), "%s", ap.rule);
		if (person && !policy_person_may_approve(q->pol, &ap, "this plan", person,
		                                         requester, why, whylen))
			return 0;
	}
	return 1;
}

/* 1 and why when a change freeze covers a step of plan now, else 0. */
static int plan_frozen(const struct queue *q, const cJSON *plan, char *why, size_t whylen)
{
	if (!q->pol || !q->cat)
		return 0;
	const cJSON *st;
	int i = 0;
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(plan, "steps"))
	{
		i++;
		const char *action = json_str(st, "action");
		const struct catalog_action *a = action ? catalog_find(q->cat, action) : NULL;
		struct policy_freeze_hit hit;
		if (!a || !policy_frozen(q->pol, a, q->now, &hit))
			continue;
		char ends[40];
		time_t t = (time_t)(hit.ends_ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(ends, sizeof(ends), "%Y-%m-%d %H:%M UTC", &tm);
		size_t rl = strlen(hit.reason);
		snprintf(why, whylen,
		         "change freeze %s covers step %d (%s) until %s: %s%s Nothing was "
		         "recorded; approve again after the freeze ends, or reject the plan",
		         hit.name, i, a->name, ends, hit.reason,
		         rl && hit.reason[rl - 1] == '.' ? "" : ".");
		return 1;
	}
	return 0;
}

/*
 * What approval a plan needs, for people and surfaces (plan.proposed
 * "approval"): {need, rules, requester_may_approve, expiry_ms, text}, text
 * like "2 people from sre-leads, not the requester".  NULL without a policy.
 */
static cJSON *approval_summary(const struct queue *q, const cJSON *plan)
{
	if (!q->pol || !q->cat || !plan)
		return NULL;
	struct plan_need pn;
	char why[300];
	if (plan_judge(q, plan, NULL, NULL, &pn, why, sizeof(why)) != 1) {
		cJSON *o = json_new_object();
		json_add_str(o, "text", why);
		return o;
	}
	struct buf who = {.max = 2048};
	char seen[8][120];
	int nseen = 0;
	const cJSON *st;
	struct policy_approval ap;
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(plan, "steps"))
	{
		const struct catalog_action *a = catalog_find(q->cat, json_str(st, "action"));
		const char *asked = json_str(st, "approval");
		policy_approval_for(q->pol, a, &ap);
		if (!ap.required && !(asked && !strcmp(asked, "required")))
			continue;
		int dup = 0;
		for (int i = 0; i < nseen && !dup; i++)
			dup = !strcmp(seen[i], ap.rule);
		if (dup || nseen == 8)
			continue;
		str_copy(seen[nseen++], sizeof(seen[0]), ap.rule);
		buf_appendf(&who, "%s", who.len ? ", and also in " : "");
		for (int i = 0; ap.approvers && ap.approvers[i]; i++)
			buf_appendf(&who, "%s%s", i ? " or " : "", ap.approvers[i]);
	}
	if (!pn.steps) {
		policy_default_approval(q->pol, &ap);
		for (int i = 0; ap.approvers && ap.approvers[i]; i++)
			buf_appendf(&who, "%s%s", i ? " or " : "", ap.approvers[i]);
	}
	cJSON *o = json_new_object();
	json_add_int(o, "need", pn.need);
	json_add_str(o, "rules", pn.rule);
	json_add_bool(o, "requester_may_approve", pn.requester_may);
	json_add_int(o, "expiry_ms", pn.expiry_ms);
	char text[2300];
	snprintf(text, sizeof(text), "%d %s from %s%s", pn.need, pn.need == 1 ? "person" : "people",
	         who.data ? who.data : "", pn.requester_may ? "" : ", not the requester");
	json_add_str(o, "text", text);
	buf_free(&who);
	return o;
}

/* How long the incident's plan may wait: the shortest rule's expiry (else [pipeline]'s). */
static int64_t approval_expiry(const struct queue *q, const struct store_incident *in)
{
	if (!q->pol || !q->cat)
		return q->conf.approval_expiry_ms;
	cJSON *results = inc_results(in);
	const cJSON *plan = plan_of(results);
	struct plan_need pn;
	char why[200];
	int64_t ms = q->conf.approval_expiry_ms;
	if (plan && plan_judge(q, plan, NULL, NULL, &pn, why, sizeof(why)) == 1 && pn.expiry_ms > 0)
		ms = pn.expiry_ms;
	cJSON_Delete(results);
	return ms;
}

/* The person who opened the incident (spec.surface.user or spec.requester), or NULL. */
static const char *requester_of(const struct queue *q, const struct store_incident *in)
{
	cJSON *spec = NULL;
	char err[64];
	const char *who = NULL;
	if (!in->spec || json_parse_object(in->spec, strlen(in->spec), &spec, err, sizeof(err)) < 0)
		return NULL;
	const cJSON *sf = cJSON_GetObjectItemCaseSensitive(spec, "surface");
	const cJSON *rq = cJSON_GetObjectItemCaseSensitive(spec, "requester");
	const char *uid = json_str(sf, "user_id") ? json_str(sf, "user_id") : json_str(sf, "user");
	if (json_str(sf, "kind") && uid)
		who = policy_person_of(q->pol, json_str(sf, "kind"), uid);
	else if (json_str(rq, "account"))
		who = policy_person_of(q->pol, "unix", json_str(rq, "account"));
	cJSON_Delete(spec);
	return who; /* points into the policy, which outlives the request */
}

/* Who is deciding: the identity a request carries, checked against its peer. */
struct approver {
	const char *surface; /* slack | discord | cli */
	const char *user;    /* chat user id, or the local account for cli */
	const char *person;  /* NULL when not in the policy */
	char identity[200];  /* "slack U0ALICE = alice" */
};

/* 1 with *w filled; 0 with why when this peer may not decide as anyone. */
static int approver_of(const struct queue *q, const struct wire_msg *m, struct approver *w,
                       char *why, size_t whylen)
{
	const struct handle_peer *p = peer_of(q);
	w->surface = json_str(m->root, "surface");
	w->user = json_str(m->root, "user");
	w->person = NULL;
	snprintf(w->identity, sizeof(w->identity), "%s %s (unchecked)", w->surface, w->user);
	if (strcmp(w->surface, "cli") != 0) {
		if (p->kind != PEER_SERVICE) {
			snprintf(why, whylen,
			         "only opsbot-bot (running as the queue's own account) may act for "
			         "a %s user; opsbotctl acts as your local account",
			         w->surface);
			return 0;
		}
	} else {
		if (p->kind == PEER_REMOTE) {
			snprintf(
			    why, whylen,
			    "decisions over %s are not accepted: a certificate says which host "
			    "connects, not which person; approve in chat or with opsbotctl on "
			    "the queue's host",
			    p->via);
			return 0;
		}
		if (!p->account[0]) {
			snprintf(why, whylen,
			         "the queue could not tell which local account sent this");
			return 0;
		}
		w->user = p->account; /* the socket says who; the "user" field is a claim */
	}
	const char *kind = strcmp(w->surface, "cli") ? w->surface : "unix";
	w->person = q->pol ? policy_person_of(q->pol, kind, w->user) : NULL;
	snprintf(w->identity, sizeof(w->identity), "%s %s %s%s",
	         strcmp(w->surface, "cli") ? w->surface : "local account", w->user,
	         w->person ? "= " : "(not in policy)", w->person ? w->person : "");
	if (!q->pol) {
		snprintf(why, whylen,
		         "no approval policy is loaded ([queue] policy), so nobody can approve; "
		         "nothing was recorded as a decision");
		return 0;
	}
	if (!w->person) {
		snprintf(why, whylen,
		         "%s %s is not a person in the approval policy; ask an admin to add it "
		         "to a [person] in policy.conf (%s = %s)",
		         strcmp(w->surface, "cli") ? w->surface : "local account", w->user, kind,
		         w->user);
		return 0;
	}
	return 1;
}

/* Record a refused decision in the timeline and answer code/why to the person. */
static int approval_refused(struct queue *q, const struct wire_msg *m, int64_t incident,
                            const struct approver *w, const char *code, const char *why,
                            cJSON **reply)
{
	*reply = wire_reply_err(m, code, "%s", why);
	cJSON *d = json_new_object();
	json_add_str(d, "user", w->user);
	json_add_str(d, "surface", w->surface);
	if (w->person)
		json_add_str(d, "person", w->person);
	else
		json_add(d, "person", cJSON_CreateNull());
	json_add_str(d, "identity", w->identity);
	json_add_str(d, "decision", json_str(m->root, "decision"));
	json_add_str(d, "plan", json_str(m->root, "plan"));
	json_add_str(d, "error", code);
	json_add_str(d, "reason", why);
	json_add_str(d, "via", peer_of(q)->via);
	log_info("event=approval_refused incident=%lld identity=%s error=%s reason=%s",
	         (long long)incident, log_q(w->identity), code, log_q(why));
	return q_event(q, incident, WIRE_EV_APPROVAL_REFUSED, d);
}

/* Walk a state_advance path: skipped stages pass through, the last step is entered. */
static int inc_follow(struct queue *q, struct store_incident *in, const struct state_path *p,
                      const char *reason)
{
	for (int i = 0; i < p->n; i++) {
		enum state_id to = p->steps[i];
		const char *why = p->skipped[i] ? "skipped: stage not enabled" : reason;
		char buf[200];
		if (to == ST_RESOLVED && i > 0 && p->skipped[i - 1]) {
			snprintf(buf, sizeof(buf), "no enabled stage left; not verified");
			why = buf;
		}
		if (inc_move(q, in, to, why) < 0)
			return -1;
		if (p->skipped[i])
			continue;
		int g = state_stage_of(to);
		if (g >= 0 && inc_enqueue(q, in, (enum stage_id)g) < 0)
			return -1;
		if (to == ST_AWAITING)
			in->approval_deadline_ms = q->now + approval_expiry(q, in);
		if (to == ST_RESOLVED && inc_resolved(q, in, "opsbot", why) < 0)
			return -1;
	}
	return 0;
}

/* The work of the incident's current state is done (its result is in results). */
static int inc_advance(struct queue *q, struct store_incident *in)
{
	enum state_id s = inc_state(in);
	cJSON *results = inc_results(in);
	int rc;
	if (s == ST_VERIFYING) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(results, WIRE_JOB_VERIFY);
		const char *summary = json_str(v, "summary");
		char why[300];
		if (json_bool(v, "ok", 0)) {
			/* opsbot-exec says verified:false when it had nothing to check with */
			snprintf(why, sizeof(why), "%s%s%s",
			         json_bool(v, "verified", 1) ? "verified" : "not verified",
			         summary ? ": " : "", summary ? summary : "");
			rc = inc_move(q, in, ST_RESOLVED, why);
			if (rc == 0)
				rc = inc_resolved(q, in, "opsbot", why);
		} else if (json_bool(v, "replan", 0) && (q->conf.stages & (1u << STAGE_PLAN))) {
			/* opsbot-exec: not fixed, rounds left; plan again with what was learned */
			snprintf(why, sizeof(why), "not fixed; planning again%s%s",
			         summary ? ": " : "", summary ? summary : "");
			rc = inc_move(q, in, ST_PLANNING, why);
			if (rc == 0)
				rc = ledger_new_round(q,
				                      in->id); /* old approvals do not carry over */
			if (rc == 0)
				rc = inc_enqueue(q, in, STAGE_PLAN);
		} else {
			snprintf(why, sizeof(why), "verification failed%s%s", summary ? ": " : "",
			         summary ? summary : "");
			rc = inc_move(q, in, ST_FAILED, why);
		}
	} else {
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(results, WIRE_JOB_PLAN);
		int needs = s == ST_PLANNING && json_bool(pr, "needs_approval", 0);
		struct state_path p;
		char why[64];
		int g = state_stage_of(s);
		snprintf(why, sizeof(why), "%s finished",
		         g >= 0 ? state_stage_name((enum stage_id)g) : state_name(s));
		if (s == ST_OPEN)
			snprintf(why, sizeof(why), "incident opened");
		state_advance(s, q->conf.stages, needs, &p);
		rc = inc_follow(q, in, &p, s == ST_AWAITING ? "approved" : why);
	}
	cJSON_Delete(results);
	return rc;
}

/* ---- jobs ---- */

/* "held" when the job's incident is paused, else "ready". */
static int job_ready_state(struct queue *q, int64_t incident, const char **state)
{
	*state = "ready";
	if (!incident)
		return 0;
	struct store_incident in;
	int rc = store_incident_get(q->st, incident, &in);
	if (rc < 0)
		return -1;
	if (rc == 1 && !strcmp(in.state, WIRE_ST_PAUSED))
		*state = "held";
	if (rc == 1)
		store_incident_clear(&in);
	return 0;
}

/* A stage job of a live incident went dead: the incident fails, saying why. */
static int job_dead_effect(struct queue *q, const struct store_job *j, const char *error)
{
	cJSON *d = json_new_object();
	json_add_int(d, "job", j->id);
	json_add_str(d, "kind", j->kind);
	json_add_int(d, "attempts", j->attempt);
	json_add_str(d, "error", error);
	if (q_event(q, j->incident, WIRE_EV_DEAD, d) < 0)
		return -1;
	log_warn("event=dead_letter job=%lld incident=%lld kind=%s attempts=%d error=%s",
	         (long long)j->id, (long long)j->incident, j->kind, j->attempt, log_q(error));
	if (!j->incident)
		return 0;
	struct store_incident in;
	int rc = store_incident_get(q->st, j->incident, &in);
	if (rc <= 0)
		return rc;
	enum stage_id g;
	int live = state_stage_parse(j->kind, &g) == 0 && state_of_stage(g) >= 0 &&
	           (!strcmp(in.state, state_name((enum state_id)state_of_stage(g))) ||
	            (!strcmp(in.state, WIRE_ST_PAUSED) &&
	             !strcmp(in.prev_state, state_name((enum state_id)state_of_stage(g)))));
	if (live) {
		char why[400];
		snprintf(why, sizeof(why), "%s job %lld dead-lettered after %d attempt(s): %s",
		         j->kind, (long long)j->id, j->attempt, error);
		in.prev_state[0] = '\0';
		in.advance_pending = 0;
		rc = inc_move(q, &in, ST_FAILED, why);
		if (rc == 0)
			rc = inc_save(q, &in);
	}
	store_incident_clear(&in);
	return rc < 0 ? -1 : 0;
}

/* A job finished: store its result on the incident and advance when it is the current stage. */
static int job_done_effect(struct queue *q, const struct store_job *j, const cJSON *result)
{
	struct store_incident in;
	int rc = store_incident_get(q->st, j->incident, &in);
	if (rc <= 0)
		return rc;
	cJSON *results = inc_results(&in);
	cJSON_DeleteItemFromObjectCaseSensitive(results, j->kind);
	json_add(results, j->kind, json_dup(result));
	inc_set_results(&in, results);
	cJSON_Delete(results);

	cJSON *d = json_new_object();
	json_add_int(d, "job", j->id);
	json_add_str(d, "kind", j->kind);
	json_add(d, "result", json_dup(result));
	rc = q_event(q, in.id, WIRE_EV_FINDINGS, d);
	if (rc == 0 && !strcmp(j->kind, WIRE_JOB_PLAN)) {
		cJSON *p = json_new_object();
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(result, "plan");
		json_add(p, "plan", plan ? json_dup(plan) : cJSON_CreateNull());
		json_add_bool(p, "needs_approval", json_bool(result, "needs_approval", 0));
		cJSON *ap = json_bool(result, "needs_approval", 0) && cJSON_IsObject(plan)
		                ? approval_summary(q, plan)
		                : NULL;
		if (ap)
			json_add(p, "approval", ap);
		rc = q_event(q, in.id, WIRE_EV_PLAN, p);
	}
	enum stage_id g;
	if (rc == 0 && state_stage_parse(j->kind, &g) == 0 && state_of_stage(g) >= 0) {
		const char *stage_state = state_name((enum state_id)state_of_stage(g));
		if (!strcmp(in.state, stage_state))
			rc = inc_advance(q, &in);
		else if (!strcmp(in.state, WIRE_ST_PAUSED) && !strcmp(in.prev_state, stage_state))
			in.advance_pending = 1; /* resume advances */
	}
	if (rc == 0)
		rc = inc_save(q, &in);
	store_incident_clear(&in);
	return rc;
}

/* ---- requests ---- */

/* Set a reply field, replacing the envelope's when the result names it (incident). */
static void reply_set(cJSON *reply, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(reply, key))
		cJSON_ReplaceItemInObjectCaseSensitive(reply, key, v);
	else
		json_add(reply, key, v);
}

static cJSON *reply_store_err(const struct wire_msg *m)
{
	return wire_reply_err(m, "unavailable", "the queue could not store this; retry shortly");
}

/* One job of a submit, unless its key is known; sets *job and *created. */
static int submit_job(struct queue *q, const struct wire_msg *m, int64_t inc_id, const char *state,
                      const cJSON *it, const char *key, int64_t *job, int *created)
{
	const char *kind = json_str(it, "kind");
	*created = 0;
	if (key) {
		struct store_key k;
		int rc = store_key_get(q->st, key, m->id, &k);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			*job = k.job;
			*created = rc == 2; /* this request's own resend */
			return 0;
		}
	}
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(it, "input");
	char *text = input ? json_print(input) : NULL;
	int rc =
	    store_job_insert(q->st, inc_id, kind, state, text,
	                     outbox_max_attempts(kind, q->conf.max_attempts), q->now, q->now, job);
	free(text);
	if (rc < 0 || (key && store_key_put(q->st, key,
	                                    &(struct store_key){
	                                        .incident = inc_id, .job = *job, .request = m->id},
	                                    q->now) < 0))
		return -1;
	queue_mark_ready(q, kind);
	*created = 1;
	return 0;
}

/*
 * Batched submit (wire.h): every job of "jobs" attached to the request's
 * incident, in one transaction, one result each in order.
 */
static enum handle_rc h_submit_jobs(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	int64_t inc_id = m->incident;
	if (inc_id) {
		struct store_incident in;
		int rc = store_incident_get(q->st, inc_id, &in);
		TRY(rc);
		if (rc == 0) {
			*reply = wire_reply_err(m, "not_found",
			                        "there is no incident %lld; submit the jobs with "
			                        "incident 0 or an existing incident",
			                        (long long)inc_id);
			return HANDLE_REPLY;
		}
		store_incident_clear(&in);
	}
	const char *state;
	TRY(job_ready_state(q, inc_id, &state));
	const char *rkey = json_str(m->root, "key");
	cJSON *results = json_new_array();
	const cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(m->root, "jobs"))
	{
		char derived[WIRE_KEY_MAX + 16];
		const char *key = json_str(it, "key");
		if (!key && rkey) {
			snprintf(derived, sizeof(derived), "%s/%d", rkey, i);
			key = derived;
		}
		i++;
		int64_t job;
		int created;
		if (submit_job(q, m, inc_id, state, it, key, &job, &created) < 0) {
			cJSON_Delete(results);
			return HANDLE_STORE_ERR;
		}
		cJSON *o = json_new_object();
		json_add_int(o, "job", job);
		json_add_bool(o, "created", created);
		cJSON_AddItemToArray(results, o);
	}
	*reply = wire_reply_ok(m);
	json_add(*reply, "results", results);
	return HANDLE_REPLY;
}

static enum handle_rc h_submit(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	const cJSON *r = m->root;
	if (cJSON_GetObjectItemCaseSensitive(r, "jobs"))
		return h_submit_jobs(q, m, reply);
	const char *key = json_str(r, "key");
	int64_t inc_id = 0, job_id = 0;
	if (key) {
		struct store_key k;
		int rc = store_key_get(q->st, key, m->id, &k);
		TRY(rc);
		if (rc > 0) {
			/* A repeat says created 0; this request's own resend gets its first answer.
			 */
			*reply = wire_reply_ok(m);
			reply_set(*reply, "incident", cJSON_CreateNumber((double)k.incident));
			if (k.job)
				json_add_int(*reply, "job", k.job);
			json_add_bool(*reply, "created", rc == 2 && !k.grouped);
			if (rc == 2 && k.grouped)
				json_add_bool(*reply, "grouped", 1);
			return HANDLE_REPLY;
		}
	}
	if (!strcmp(json_str(r, "what"), "incident")) {
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(r, "spec");
		int64_t into;
		int grc = group_find(q, spec, &into);
		TRY(grc);
		if (grc == 1) {
			TRY(group_attach(q, into, spec));
			if (key)
				TRY(store_key_put(q->st, key,
				                  &(struct store_key){.incident = into,
				                                      .grouped = 1,
				                                      .request = m->id},
				                  q->now));
			*reply = wire_reply_ok(m);
			reply_set(*reply, "incident", cJSON_CreateNumber((double)into));
			json_add_bool(*reply, "created", 0);
			json_add_bool(*reply, "grouped", 1);
			return HANDLE_REPLY;
		}
		cJSON *kept = json_dup(spec);
		const struct handle_peer *p = peer_of(q);
		if (p->account[0] && !cJSON_GetObjectItemCaseSensitive(spec, "surface")) {
			/* Who opened it, from the socket: the requester rule needs it. */
			cJSON *rq = json_new_object();
			json_add_str(rq, "account", p->account);
			json_add_str(rq, "via", p->via);
			json_add(kept, "requester", rq);
		}
		char *text = json_print(kept);
		cJSON_Delete(kept);
		int rc = store_incident_insert(
		    q->st, WIRE_ST_OPEN, json_str(spec, "title"), json_str(spec, "service"),
		    json_str(spec, "severity"), json_str(spec, "source"), text, q->now, &inc_id);
		free(text);
		TRY(rc);
		struct store_incident in;
		TRY(store_incident_get(q->st, inc_id, &in));
		rc = q_event(q, inc_id, WIRE_EV_OPENED, store_incident_json(&in));
		log_info("event=incident_opened incident=%lld service=%s severity=%s source=%s",
		         (long long)inc_id, log_q(in.service), in.severity, in.source);
		if (rc == 0)
			rc = inc_advance(q, &in);
		if (rc == 0)
			rc = inc_save(q, &in);
		store_incident_clear(&in);
		TRY(rc);
	} else {
		const cJSON *job = cJSON_GetObjectItemCaseSensitive(r, "job");
		const cJSON *input = cJSON_GetObjectItemCaseSensitive(job, "input");
		inc_id = m->incident;
		if (inc_id) {
			struct store_incident in;
			int rc = store_incident_get(q->st, inc_id, &in);
			TRY(rc);
			if (rc == 0) {
				*reply = wire_reply_err(m, "not_found",
				                        "there is no incident %lld; submit the job "
				                        "with incident 0 or an existing incident",
				                        (long long)inc_id);
				return HANDLE_REPLY;
			}
			store_incident_clear(&in);
		}
		const char *state;
		TRY(job_ready_state(q, inc_id, &state));
		char *text = input ? json_print(input) : NULL;
		int rc = store_job_insert(
		    q->st, inc_id, json_str(job, "kind"), state, text,
		    outbox_max_attempts(json_str(job, "kind"), q->conf.max_attempts), q->now,
		    q->now, &job_id);
		free(text);
		TRY(rc);
		queue_mark_ready(q, json_str(job, "kind"));
	}
	if (key)
		TRY(store_key_put(
		    q->st, key,
		    &(struct store_key){.incident = inc_id, .job = job_id, .request = m->id},
		    q->now));
	*reply = wire_reply_ok(m);
	reply_set(*reply, "incident", cJSON_CreateNumber((double)inc_id));
	if (job_id)
		json_add_int(*reply, "job", job_id);
	json_add_bool(*reply, "created", 1);
	return HANDLE_REPLY;
}

/* The reply object of one leased job (wire.h claim); caller owns it. */
static cJSON *claim_job_json(const struct store_job *j)
{
	cJSON *o = json_new_object();
	json_add_int(o, "id", j->id);
	json_add_str(o, "kind", j->kind);
	json_add_int(o, "incident", j->incident);
	json_add_int(o, "attempt", j->attempt);
	json_add_str(o, "lease", j->lease);
	json_add_int(o, "deadline_ms", j->lease_deadline_ms);
	/* The stored text is what json_print wrote at submit: an object, sent as it is. */
	json_add(o, "input", cJSON_CreateRaw(j->input && j->input[0] == '{' ? j->input : "{}"));
	log_debug("event=claim job=%lld incident=%lld kind=%s attempt=%d worker=%s",
	          (long long)j->id, (long long)j->incident, j->kind, j->attempt, log_q(j->worker));
	return o;
}

/*
 * One claim: leases up to "max" jobs (1 without it).  With max the reply is
 * {jobs:[...]}, else {job}.  HANDLE_PARK when none is ready and wait_ms > 0.
 */
enum handle_rc handle_claim_try(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(m->root, "kinds");
	const char *names[WIRE_KINDS_MAX];
	int n = 0;
	const cJSON *k;
	cJSON_ArrayForEach(k, kinds)
	{
		if (n < WIRE_KINDS_MAX)
			names[n++] = k->valuestring;
	}
	int64_t lease_ms = json_int(m->root, "lease_ms", q->conf.lease_ms);
	const cJSON *maxf = cJSON_GetObjectItemCaseSensitive(m->root, "max");
	int max = maxf ? (int)maxf->valuedouble : 1;
	const char *worker = json_str(m->root, "worker");
	cJSON *jobs = NULL;
	int got = 0;
	if (n == 1) {
		/* One kind (every batched claimer): a SELECT, then an UPDATE per job. */
		struct store_job js[WIRE_BATCH_MAX];
		char lease[48];
		wire_new_id(lease, sizeof(lease));
		got = store_job_claim_batch(q->st, names[0], max, worker, lease, q->now + lease_ms,
		                            q->now, js);
		if (got < 0)
			return HANDLE_STORE_ERR;
		for (int i = 0; i < got; i++) {
			if (!jobs)
				jobs = json_new_array();
			cJSON_AddItemToArray(jobs, claim_job_json(&js[i]));
			store_job_clear(&js[i]);
		}
		max = 0; /* the loop below is for several kinds */
	}
	for (; got < max; got++) {
		char lease[48];
		wire_new_id(lease, sizeof(lease));
		struct store_job j;
		int rc =
		    store_job_claim(q->st, names, n, worker, lease, q->now + lease_ms, q->now, &j);
		if (rc < 0) {
			cJSON_Delete(jobs);
			return HANDLE_STORE_ERR;
		}
		if (rc == 0)
			break;
		if (!jobs)
			jobs = json_new_array();
		cJSON_AddItemToArray(jobs, claim_job_json(&j));
		store_job_clear(&j);
	}
	if (got == 0 && json_int(m->root, "wait_ms", 0) > 0)
		return HANDLE_PARK;
	*reply = wire_reply_ok(m);
	if (maxf) {
		json_add(*reply, "jobs", jobs ? jobs : json_new_array());
	} else {
		cJSON *one = jobs ? cJSON_DetachItemFromArray(jobs, 0) : NULL;
		cJSON_Delete(jobs);
		json_add(*reply, "job", one ? one : cJSON_CreateNull());
	}
	return HANDLE_REPLY;
}

void queue_mark_ready(struct queue *q, const char *kind)
{
	if (!kind || q->ready.all)
		goto all;
	for (int i = 0; i < q->ready.n; i++)
		if (!strcmp(q->ready.kind[i], kind))
			return;
	if (q->ready.n < (int)(sizeof(q->ready.kind) / sizeof(q->ready.kind[0])) &&
	    str_copy(q->ready.kind[q->ready.n], sizeof(q->ready.kind[0]), kind) == 0) {
		q->ready.n++;
		return;
	}
all:
	q->ready.all = 1;
}

int queue_ready_for(const struct queue *q, const cJSON *kinds)
{
	if (q->ready.all)
		return 1;
	const cJSON *k;
	cJSON_ArrayForEach(k, kinds)
	{
		for (int i = 0; i < q->ready.n; i++)
			if (cJSON_IsString(k) && !strcmp(q->ready.kind[i], k->valuestring))
				return 1;
	}
	return 0;
}

/* A parked claim whose wait_ms passed: the empty answer of its form. */
cJSON *handle_claim_none(const struct wire_msg *m)
{
	cJSON *r = wire_reply_ok(m);
	if (cJSON_GetObjectItemCaseSensitive(m->root, "max"))
		json_add(r, "jobs", json_new_array());
	else
		json_add(r, "job", cJSON_CreateNull());
	return r;
}

/* Load the job a lease-carrying request names; 1 found, 0 replied not_found. */
static int leased_job(struct queue *q, const struct wire_msg *m, struct store_job *j, cJSON **reply)
{
	int64_t id = json_int(m->root, "job", 0);
	int rc = store_job_get(q->st, id, j);
	if (rc == 0)
		*reply = wire_reply_err(m, "not_found", "there is no job %lld", (long long)id);
	return rc;
}

static int lease_held(const struct store_job *j, const struct wire_msg *m)
{
	return !strcmp(j->state, "leased") && !strcmp(j->lease, json_str(m->root, "lease"));
}

static cJSON *reply_lease_lost(const struct wire_msg *m, const struct store_job *j)
{
	return wire_reply_err(m, "lease_lost",
	                      "job %lld is %s under another lease; your lease expired, so this "
	                      "result was not stored",
	                      (long long)j->id, j->state);
}

static enum handle_rc h_heartbeat(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	struct store_job j;
	int rc = leased_job(q, m, &j, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	if (!lease_held(&j, m)) {
		*reply = reply_lease_lost(m, &j);
	} else {
		int64_t deadline = q->now + json_int(m->root, "lease_ms", q->conf.lease_ms);
		if (store_job_extend(q->st, j.id, deadline, q->now) < 0) {
			store_job_clear(&j);
			return HANDLE_STORE_ERR;
		}
		*reply = wire_reply_ok(m);
		json_add_int(*reply, "deadline_ms", deadline);
	}
	store_job_clear(&j);
	return HANDLE_REPLY;
}

/*
 * Complete one job.  0 with *refusal NULL when stored (or *duplicate), 0 with
 * *refusal set to {error, message} when refused, -1 on a store failure.
 */
static int complete_one(struct queue *q, const struct wire_msg *m, int64_t id, const char *lease,
                        const cJSON *result, int *duplicate, cJSON **refusal)
{
	struct store_job j;
	*duplicate = 0;
	*refusal = NULL;
	char *text = json_print(result);
	int rc = store_job_finish(q->st, id, lease, text, q->now);
	if (rc != 0) {
		/* A standalone job under this lease: done, nothing else moves. */
		free(text);
		log_debug("event=complete job=%lld incident=0", (long long)id);
		return rc < 0 ? -1 : 0;
	}
	rc = store_job_get(q->st, id, &j);
	if (rc < 0) {
		free(text);
		return -1;
	}
	if (rc == 0) {
		free(text);
		*refusal = wire_reply_err(m, "not_found", "there is no job %lld", (long long)id);
		return 0;
	}
	if (!strcmp(j.state, "leased") && !strcmp(j.lease, lease)) {
		rc = store_job_set(q->st, j.id, "done", text, NULL, -1, q->now);
		free(text);
		if (rc == 0 && j.incident)
			rc = job_done_effect(q, &j, result);
		log_debug("event=complete job=%lld incident=%lld kind=%s", (long long)j.id,
		          (long long)j.incident, j.kind);
		store_job_clear(&j);
		return rc < 0 ? -1 : 0;
	}
	free(text);
	if (!strcmp(j.state, "done") && !strcmp(j.lease, lease))
		*duplicate = 1;
	else
		*refusal = reply_lease_lost(m, &j);
	store_job_clear(&j);
	return 0;
}

static enum handle_rc h_complete(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(m->root, "jobs");
	int dup;
	cJSON *refusal;
	if (!jobs) {
		TRY(complete_one(q, m, json_int(m->root, "job", 0), json_str(m->root, "lease"),
		                 cJSON_GetObjectItemCaseSensitive(m->root, "result"), &dup,
		                 &refusal));
		if (refusal) {
			*reply = refusal;
		} else {
			*reply = wire_reply_ok(m);
			json_add_bool(*reply, "duplicate", dup);
		}
		return HANDLE_REPLY;
	}
	cJSON *results = json_new_array();
	const cJSON *it;
	cJSON_ArrayForEach(it, jobs)
	{
		int64_t id = json_int(it, "job", 0);
		if (complete_one(q, m, id, json_str(it, "lease"),
		                 cJSON_GetObjectItemCaseSensitive(it, "result"), &dup,
		                 &refusal) < 0) {
			cJSON_Delete(results);
			return HANDLE_STORE_ERR;
		}
		cJSON *o = json_new_object();
		json_add_int(o, "job", id);
		if (refusal) {
			json_add_bool(o, "ok", 0);
			json_add_str(o, "error", json_str(refusal, "error"));
			json_add_str(o, "message", json_str(refusal, "message"));
			cJSON_Delete(refusal);
		} else {
			json_add_bool(o, "ok", 1);
			json_add_bool(o, "duplicate", dup);
		}
		cJSON_AddItemToArray(results, o);
	}
	*reply = wire_reply_ok(m);
	json_add(*reply, "results", results);
	return HANDLE_REPLY;
}

static int64_t retry_delay(int64_t base_ms, int attempt)
{
	int64_t d = base_ms;
	for (int i = 1; i < attempt && d < RETRY_CAP_MS; i++)
		d *= 2;
	return d < RETRY_CAP_MS ? d : RETRY_CAP_MS;
}

/* Retry later, or dead-letter: shared by fail and lease expiry. */
/* Retry later (after retry_base_ms doubling; at once when base_ms is 0) or dead-letter. */
static int job_retry_or_dead(struct queue *q, struct store_job *j, const char *error, int retryable,
                             int64_t base_ms, int *dead, int64_t *retry_at)
{
	*dead = !retryable || j->attempt >= j->max_attempts;
	*retry_at = 0;
	if (*dead) {
		if (store_job_set(q->st, j->id, "dead", NULL, error, -1, q->now) < 0)
			return -1;
		return job_dead_effect(q, j, error);
	}
	const char *state;
	if (job_ready_state(q, j->incident, &state) < 0)
		return -1;
	*retry_at = q->now + retry_delay(base_ms, j->attempt);
	if (store_job_set(q->st, j->id, state, NULL, error, *retry_at, q->now) < 0)
		return -1;
	queue_mark_ready(q, j->kind);
	cJSON *d = json_new_object();
	json_add_int(d, "job", j->id);
	json_add_str(d, "kind", j->kind);
	json_add_int(d, "attempt", j->attempt);
	json_add_str(d, "error", error);
	json_add_int(d, "retry_at_ms", *retry_at);
	log_info("event=retry job=%lld incident=%lld kind=%s attempt=%d error=%s", (long long)j->id,
	         (long long)j->incident, j->kind, j->attempt, log_q(error));
	return q_event(q, j->incident, WIRE_EV_RETRY, d);
}

static enum handle_rc h_fail(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	struct store_job j;
	int rc = leased_job(q, m, &j, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	if (!lease_held(&j, m)) {
		*reply = reply_lease_lost(m, &j);
		store_job_clear(&j);
		return HANDLE_REPLY;
	}
	int dead;
	int64_t retry_at;
	rc =
	    job_retry_or_dead(q, &j, json_str(m->root, "error"), json_bool(m->root, "retryable", 1),
	                      q->conf.retry_base_ms, &dead, &retry_at);
	store_job_clear(&j);
	TRY(rc);
	*reply = wire_reply_ok(m);
	json_add_bool(*reply, "dead", dead);
	json_add_int(*reply, "retry_at_ms", retry_at);
	return HANDLE_REPLY;
}

/*
 * The incident a request names (approve, command).  1 with *in loaded; 0
 * with *reply set when the request is refused before any write.
 */
static int named_incident(struct queue *q, const struct wire_msg *m, struct store_incident *in,
                          cJSON **reply)
{
	if (m->incident <= 0) {
		*reply = wire_reply_err(m, "bad_request", "field 'incident' must name an incident");
		return 0;
	}
	int rc = store_incident_get(q->st, m->incident, in);
	if (rc == 0)
		*reply = wire_reply_err(m, "not_found", "there is no incident %lld",
		                        (long long)m->incident);
	return rc;
}

/*
 * A known key: reply with the incident's state and do nothing (marked
 * duplicate unless it is this request's own resend).  1 when it was known.
 */
static int seen_key(struct queue *q, const struct wire_msg *m, const struct store_incident *in,
                    cJSON **reply)
{
	const char *key = json_str(m->root, "key");
	struct store_key k;
	if (!key)
		return 0;
	int rc = store_key_get(q->st, key, m->id, &k);
	if (rc > 0) {
		*reply = wire_reply_ok(m);
		json_add_str(*reply, "state", in ? in->state : "");
		if (rc == 1)
			json_add_bool(*reply, "duplicate", 1);
	}
	return rc < 0 ? -1 : rc > 0;
}

static enum handle_rc reply_state(struct queue *q, const struct wire_msg *m,
                                  struct store_incident *in, cJSON **reply)
{
	const char *key = json_str(m->root, "key");
	if (key && store_key_put(q->st, key,
	                         &(struct store_key){.incident = in ? in->id : 0, .request = m->id},
	                         q->now) < 0)
		return HANDLE_STORE_ERR;
	*reply = wire_reply_ok(m);
	json_add_str(*reply, "state", in ? in->state : "");
	return HANDLE_REPLY;
}

/* Distinct people who approved plan `hash` of incident so far, into names (borrowed). */
static int approved_by(struct queue *q, int64_t incident, const char *hash, const char **names,
                       int max, int *n)
{
	cJSON *rows = json_new_array();
	*n = 0;
	if (store_approvals_list(q->st, incident, hash, rows) < 0) {
		cJSON_Delete(rows);
		return -1;
	}
	const cJSON *r;
	cJSON_ArrayForEach(r, rows)
	{
		if (strcmp(json_str(r, "decision"), "approve") != 0)
			continue;
		const char *sf = json_str(r, "surface");
		const char *who =
		    policy_person_of(q->pol, strcmp(sf, "cli") ? sf : "unix", json_str(r, "user"));
		int seen = !who;
		for (int i = 0; i < *n && !seen; i++)
			seen = !strcmp(names[i], who);
		if (!seen && *n < max)
			names[(*n)++] = who;
	}
	cJSON_Delete(rows);
	return 0;
}

/* A repeated request's reply gets the tally as it stands (have, need, approvers).  1, or -1. */
static int approval_tally(struct queue *q, const struct store_incident *in, const char *hash,
                          cJSON *reply)
{
	const char *names[64];
	int have;
	if (approved_by(q, in->id, hash, names, 64, &have) < 0)
		return -1;
	cJSON *results = inc_results(in);
	const cJSON *plan = plan_of(results);
	struct plan_need pn = {0};
	char why[200];
	if (plan)
		plan_judge(q, plan, NULL, NULL, &pn, why, sizeof(why));
	cJSON_Delete(results);
	cJSON *people = json_new_array();
	for (int i = 0; i < have; i++)
		cJSON_AddItemToArray(people, cJSON_CreateString(names[i]));
	json_add_int(reply, "have", have);
	json_add_int(reply, "need", pn.need);
	json_add(reply, "approvers", people);
	return 1;
}

/* One approve/reject request as h_approve judges and records it. */
struct approval {
	const struct wire_msg *m;
	struct store_incident in;
	struct approver w;
	const char *decision, *hash, *note; /* borrowed from m */
	int approve;                        /* decision is approve (else reject) */
	struct plan_need pn;
	const char *names[64]; /* distinct approvers so far (borrowed), this one last */
	int have;
	char why[600];
};

/* The steps below return 0 to go on, 1 when the request was answered (a
 * refusal: *reply is set), or a negative store error. */
static int approval_refuse(struct queue *q, struct approval *a, const char *code, cJSON **reply)
{
	int rc = approval_refused(q, a->m, a->in.id, &a->w, code, a->why, reply);
	return rc < 0 ? rc : 1;
}

/* Who decides, on which incident's message, and whether it still awaits a
 * decision (past its deadline it expires now). */
static int approval_check_who_when(struct queue *q, struct approval *a, cJSON **reply)
{
	const struct store_incident *in = &a->in;
	if (!approver_of(q, a->m, &a->w, a->why, sizeof(a->why)))
		return approval_refuse(q, a, "forbidden", reply);
	int64_t mi = json_int(a->m->root, "message_incident", 0);
	if (mi && mi != in->id) {
		snprintf(a->why, sizeof(a->why),
		         "that button belongs to incident %lld but was pressed on the message of "
		         "incident %lld; nothing was recorded",
		         (long long)in->id, (long long)mi);
		return approval_refuse(q, a, "wrong_incident", reply);
	}
	if (!strcmp(in->state, WIRE_ST_EXPIRED)) {
		snprintf(a->why, sizeof(a->why),
		         "the approval window for incident %lld has closed; nothing will run",
		         (long long)in->id);
		return approval_refuse(q, a, "expired", reply);
	}
	if (strcmp(in->state, WIRE_ST_AWAITING) != 0) {
		snprintf(a->why, sizeof(a->why),
		         "incident %lld is %s, not awaiting approval; nothing was recorded",
		         (long long)in->id, in->state);
		return approval_refuse(q, a, "wrong_state", reply);
	}
	if (q->now >= in->approval_deadline_ms) {
		int rc =
		    inc_move(q, &a->in, ST_EXPIRED, "no decision before the approval deadline");
		if (rc == 0)
			rc = inc_save(q, &a->in);
		if (rc < 0)
			return rc;
		snprintf(a->why, sizeof(a->why),
		         "the approval for incident %lld expired; nothing will run",
		         (long long)in->id);
		return approval_refuse(q, a, "expired", reply);
	}
	return 0;
}

/* The plan decided on is the one stored, no freeze window covers it (for an
 * approve), and the policy lets this person decide it (a->pn: how many). */
static int approval_check_plan(struct queue *q, struct approval *a, cJSON **reply)
{
	cJSON *results = inc_results(&a->in);
	const cJSON *plan = plan_of(results);
	const char *stored = json_str(plan, "hash");
	const char *code = NULL;
	if (!stored || strcmp(stored, a->hash) != 0) {
		snprintf(a->why, sizeof(a->why),
		         "the plan changed since it was shown; look at the new plan and decide "
		         "again");
		code = "plan_changed";
	} else if (a->approve && plan_frozen(q, plan, a->why, sizeof(a->why))) {
		/* the plan was made before the window began; reject is never held back */
		code = "frozen";
	} else {
		/* Reject stops things, so the requester rule does not hold it back. */
		const char *requester = a->approve ? requester_of(q, &a->in) : NULL;
		if (plan_judge(q, plan, a->w.person, requester, &a->pn, a->why, sizeof(a->why)) !=
		    1)
			code = "forbidden";
	}
	cJSON_Delete(results);
	return code ? approval_refuse(q, a, code, reply) : 0;
}

/* One person approves a plan once; the approvers so far, this one added. */
static int approval_check_once(struct queue *q, struct approval *a, cJSON **reply)
{
	int rc = approved_by(q, a->in.id, a->hash, a->names, 63, &a->have);
	if (rc < 0)
		return rc;
	for (int i = 0; a->approve && i < a->have; i++) {
		if (!strcmp(a->names[i], a->w.person)) {
			snprintf(a->why, sizeof(a->why),
			         "%s already approved this plan; it needs %d different people "
			         "(%d so far)",
			         a->w.person, a->pn.need, a->have);
			return approval_refuse(q, a, "already_approved", reply);
		}
	}
	if (a->approve)
		a->names[a->have++] = a->w.person;
	return 0;
}

/* The decision's row and its timeline event (people: the approvers, kept). */
static int approval_record(struct queue *q, const struct approval *a, const cJSON *people)
{
	const struct approver *w = &a->w;
	int rc = store_approval_insert(q->st, a->in.id, a->hash, w->user, w->surface, a->decision,
	                               q->now);
	if (rc == 0) {
		cJSON *d = json_new_object();
		json_add_str(d, "user", w->user);
		json_add_str(d, "surface", w->surface);
		json_add_str(d, "person", w->person);
		json_add_str(d, "identity", w->identity);
		json_add_str(d, "decision", a->decision);
		json_add_str(d, "plan", a->hash);
		json_add_str(d, "rule", a->pn.rule);
		json_add_int(d, "have", a->have);
		json_add_int(d, "need", a->pn.need);
		json_add(d, "approvers", json_dup(people));
		json_add_str(d, "via", peer_of(q)->via);
		if (a->note)
			json_add_str(d, "reason", a->note);
		rc = q_event(q, a->in.id, WIRE_EV_APPROVAL, d);
	}
	log_info("event=approval incident=%lld identity=%s decision=%s have=%d need=%d",
	         (long long)a->in.id, log_q(w->identity), a->decision, a->have, a->pn.need);
	return rc;
}

/* Enough approvals move the incident on (naming who approved); a reject
 * ends it; an approval short of the rule leaves it waiting. */
static int approval_apply(struct queue *q, struct approval *a)
{
	if (a->approve && a->have >= a->pn.need) {
		struct state_path p;
		char list[300] = "";
		for (int i = 0; i < a->have; i++) {
			size_t n = strlen(list);
			snprintf(list + n, sizeof(list) - n, "%s%s",
			         i == 0             ? ""
			         : i + 1 == a->have ? " and "
			                            : ", ",
			         a->names[i]);
		}
		snprintf(a->why, sizeof(a->why), "approved by %s (%d of %d, %s)", list, a->have,
		         a->pn.need, a->pn.rule);
		state_advance(ST_AWAITING, q->conf.stages, 0, &p);
		return inc_follow(q, &a->in, &p, a->why);
	}
	if (!a->approve) {
		snprintf(a->why, sizeof(a->why), "rejected by %s%s%s", a->w.person,
		         a->note ? ": " : "", a->note ? a->note : "");
		return inc_move(q, &a->in, ST_REJECTED, a->why);
	}
	return 0;
}

static enum handle_rc h_approve(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	struct approval a = {.m = m};
	int rc = named_incident(q, m, &a.in, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	enum handle_rc out = HANDLE_REPLY;
	cJSON *people = NULL;
	rc = seen_key(q, m, &a.in, reply);
	if (rc == 1 && q->pol)
		rc = approval_tally(q, &a.in, json_str(m->root, "plan"), *reply);
	if (rc != 0)
		goto out;
	a.decision = json_str(m->root, "decision");
	a.hash = json_str(m->root, "plan");
	a.note = json_str(m->root, "reason");
	a.approve = !strcmp(a.decision, "approve");
	if ((rc = approval_check_who_when(q, &a, reply)) != 0 ||
	    (rc = approval_check_plan(q, &a, reply)) != 0 ||
	    (rc = approval_check_once(q, &a, reply)) != 0)
		goto out;
	people = json_new_array();
	for (int i = 0; i < a.have; i++)
		cJSON_AddItemToArray(people, cJSON_CreateString(a.names[i]));
	rc = approval_record(q, &a, people);
	if (rc == 0)
		rc = approval_apply(q, &a);
	if (rc == 0)
		rc = inc_save(q, &a.in);
	if (rc == 0) {
		out = reply_state(q, m, &a.in, reply);
		if (out == HANDLE_REPLY) {
			json_add_str(*reply, "person", a.w.person);
			json_add_int(*reply, "have", a.have);
			json_add_int(*reply, "need", a.pn.need);
			json_add(*reply, "approvers", people);
			people = NULL;
		}
	}
out:
	cJSON_Delete(people);
	store_incident_clear(&a.in);
	return rc < 0 ? HANDLE_STORE_ERR : out;
}

/*
 * The user a command is recorded under: a person's local account is who the
 * socket says; the service account is trusted to name the user (as it does
 * for chat users).
 */
static const char *cmd_user(const struct queue *q, const struct wire_msg *m)
{
	const struct handle_peer *p = peer_of(q);
	if (p->kind != PEER_SERVICE && p->account[0])
		return p->account;
	return json_str(m->root, "user");
}

static int cmd_recorded(struct queue *q, const struct wire_msg *m, int64_t incident)
{
	cJSON *d = json_new_object();
	json_add_str(d, "user", cmd_user(q, m));
	json_add_str(d, "surface", json_str(m->root, "surface"));
	json_add_str(d, "action", json_str(m->root, "action"));
	json_add_str(d, "note", json_str(m->root, "note"));
	if (cJSON_GetObjectItemCaseSensitive(m->root, "job"))
		json_add_int(d, "job", json_int(m->root, "job", 0));
	return q_event(q, incident, WIRE_EV_COMMAND, d);
}

static enum handle_rc cmd_retry(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	struct store_job j;
	int64_t id = json_int(m->root, "job", 0);
	int rc = store_job_get(q->st, id, &j);
	TRY(rc);
	if (rc == 0) {
		*reply = wire_reply_err(m, "not_found", "there is no job %lld", (long long)id);
		return HANDLE_REPLY;
	}
	if (strcmp(j.state, "dead") != 0) {
		*reply = wire_reply_err(m, "wrong_state", "job %lld is %s, not dead-lettered",
		                        (long long)j.id, j.state);
		store_job_clear(&j);
		return HANDLE_REPLY;
	}
	struct store_incident in = {0};
	int have = 0;
	if (j.incident) {
		have = store_incident_get(q->st, j.incident, &in);
		if (have < 0) {
			store_job_clear(&j);
			return HANDLE_STORE_ERR;
		}
	}
	enum stage_id g;
	const char *user = cmd_user(q, m);
	char why[200];
	snprintf(why, sizeof(why), "retry of job %lld by %s", (long long)j.id, user);
	rc = store_job_rearm(q->st, j.id, q->now);
	if (rc == 0 && have && !strcmp(in.state, WIRE_ST_PAUSED))
		rc = store_job_set(q->st, j.id, "held", NULL, NULL, -1, q->now);
	queue_mark_ready(q, j.kind);
	if (rc == 0)
		rc = cmd_recorded(q, m, j.incident);
	if (rc == 0 && have && !strcmp(in.state, WIRE_ST_FAILED) &&
	    state_stage_parse(j.kind, &g) == 0 && state_of_stage(g) >= 0) {
		rc = inc_move(q, &in, (enum state_id)state_of_stage(g), why);
		if (rc == 0)
			rc = inc_save(q, &in);
	}
	log_info("event=retry_by_hand job=%lld incident=%lld user=%s", (long long)j.id,
	         (long long)j.incident, log_q(user));
	enum handle_rc out = HANDLE_STORE_ERR;
	if (rc == 0)
		out = reply_state(q, m, have ? &in : NULL, reply);
	store_job_clear(&j);
	if (have)
		store_incident_clear(&in);
	return out;
}

/*
 * An alert the intake filtered out (below [hooks] min_severity, or an
 * ignored alert name): an event of incident 0 for the digests, no incident.
 */
static enum handle_rc cmd_filtered(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	if (peer_of(q)->kind != PEER_SERVICE || m->incident != 0 ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m->root, "alert"))) {
		*reply =
		    wire_reply_err(m, "bad_request",
		                   "filtered alerts come from opsbot-bot's intake, with incident "
		                   "0 and an alert object");
		return HANDLE_REPLY;
	}
	int rc = seen_key(q, m, NULL, reply);
	TRY(rc);
	if (rc)
		return HANDLE_REPLY;
	cJSON *d = json_new_object();
	json_add_str(d, "surface", json_str(m->root, "surface"));
	json_add(d, "alert", json_dup(cJSON_GetObjectItemCaseSensitive(m->root, "alert")));
	TRY(q_event(q, 0, WIRE_EV_ALERT_FILTERED, d));
	return reply_state(q, m, NULL, reply);
}

static enum handle_rc h_command(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	const char *action = json_str(m->root, "action");
	if (!strcmp(action, "filtered"))
		return cmd_filtered(q, m, reply);
	if (!strcmp(action, "retry")) {
		int rc = seen_key(q, m, NULL, reply);
		TRY(rc);
		return rc ? HANDLE_REPLY : cmd_retry(q, m, reply);
	}
	struct store_incident in;
	int rc = named_incident(q, m, &in, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	enum handle_rc out = HANDLE_REPLY;
	rc = seen_key(q, m, &in, reply);
	if (rc != 0)
		goto out;
	enum state_id s = inc_state(&in);
	const char *user = cmd_user(q, m);
	const char *note = json_str(m->root, "note");
	char why[400];
	if (!strcmp(action, "ack") || !strcmp(action, "note")) {
		rc = cmd_recorded(q, m, in.id);
	} else if (!strcmp(action, "resolve")) {
		if (state_terminal(s)) {
			*reply = wire_reply_err(m, "wrong_state", "incident %lld is already %s",
			                        (long long)in.id, in.state);
			goto out;
		}
		snprintf(why, sizeof(why), "resolved by hand by %s%s%s", user, note ? ": " : "",
		         note ? note : "");
		in.prev_state[0] = '\0';
		in.advance_pending = 0;
		rc = cmd_recorded(q, m, in.id);
		if (rc == 0)
			rc = inc_move(q, &in, ST_RESOLVED, why);
		if (rc == 0)
			rc = inc_resolved(q, &in, user, note ? note : "");
	} else if (!strcmp(action, "pause")) {
		if (state_terminal(s) || s == ST_PAUSED || s == ST_FAILED) {
			*reply =
			    wire_reply_err(m, "wrong_state",
			                   "incident %lld is %s; only a running incident can be "
			                   "paused",
			                   (long long)in.id, in.state);
			goto out;
		}
		snprintf(why, sizeof(why), "paused by %s", user);
		str_copy(in.prev_state, sizeof(in.prev_state), in.state);
		int64_t deadline = in.approval_deadline_ms;
		rc = cmd_recorded(q, m, in.id);
		if (rc == 0)
			rc = inc_move(q, &in, ST_PAUSED, why);
		in.approval_deadline_ms = deadline; /* kept for the resume */
		if (rc == 0)
			rc = store_job_move_incident(q->st, in.id, "ready", "held", q->now, NULL);
	} else if (!strcmp(action, "resume")) {
		enum state_id back;
		if (s != ST_PAUSED || state_parse(in.prev_state, &back) < 0) {
			*reply = wire_reply_err(m, "wrong_state", "incident %lld is %s, not paused",
			                        (long long)in.id, in.state);
			goto out;
		}
		snprintf(why, sizeof(why), "resumed by %s", user);
		int64_t deadline = in.approval_deadline_ms;
		rc = cmd_recorded(q, m, in.id);
		if (rc == 0)
			rc = inc_move(q, &in, back, why);
		in.prev_state[0] = '\0';
		if (back == ST_AWAITING)
			in.approval_deadline_ms = deadline;
		if (rc == 0)
			rc = store_job_move_incident(q->st, in.id, "held", "ready", q->now, NULL);
		queue_mark_ready(q, NULL);
		if (rc == 0 && in.advance_pending) {
			in.advance_pending = 0;
			rc = inc_advance(q, &in);
		}
	}
	if (rc == 0)
		rc = inc_save(q, &in);
	if (rc == 0)
		out = reply_state(q, m, &in, reply);
out:
	store_incident_clear(&in);
	return rc < 0 ? HANDLE_STORE_ERR : out;
}

/* Events as the whole wire messages the PUB socket sent. */
static void as_event_messages(cJSON *items)
{
	cJSON *e;
	cJSON_ArrayForEach(e, items)
	{
		char id[32];
		snprintf(id, sizeof(id), "ev-%lld", (long long)json_int(e, "seq", 0));
		cJSON_AddItemToObject(e, "v", cJSON_CreateNumber(WIRE_VERSION));
		cJSON_AddItemToObject(e, "type", cJSON_CreateString("event"));
		cJSON_AddItemToObject(e, "id", cJSON_CreateString(id));
		cJSON_AddItemToObject(e, "trace", cJSON_CreateString(""));
	}
}

static enum handle_rc h_query(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	const char *what = json_str(m->root, "what");
	const char *state = json_str(m->root, "state");
	int limit = (int)json_int(m->root, "limit", 0);
	int64_t since = json_int(m->root, "since", 0);
	cJSON *r = wire_reply_ok(m);
	int rc = 0;
	if (!strcmp(what, "incidents")) {
		enum state_id s;
		if (state && state_parse(state, &s) < 0) {
			cJSON_Delete(r);
			*reply = wire_reply_err(m, "bad_request",
			                        "field 'state' names no incident state");
			return HANDLE_REPLY;
		}
		cJSON *items = json_new_array();
		json_add(r, "items", items);
		rc = store_incidents_list(q->st, state, limit ? limit : 50, items);
	} else if (!strcmp(what, "jobs") || !strcmp(what, "dead_letters")) {
		static const char *const js[] = {"ready", "leased",    "held", "done",
		                                 "dead",  "cancelled", NULL};
		if (!strcmp(what, "dead_letters"))
			state = "dead";
		int ok = !state;
		for (int i = 0; state && js[i]; i++)
			ok |= !strcmp(state, js[i]);
		if (!ok) {
			cJSON_Delete(r);
			*reply = wire_reply_err(m, "bad_request",
			                        "field 'state' must be one of "
			                        "ready|leased|held|done|dead|cancelled");
			return HANDLE_REPLY;
		}
		cJSON *items = json_new_array();
		json_add(r, "items", items);
		rc = store_jobs_list(q->st, state, limit ? limit : 50, items);
	} else if (!strcmp(what, "incident") || !strcmp(what, "timeline")) {
		struct store_incident in;
		rc = named_incident(q, m, &in, reply);
		if (rc <= 0) {
			cJSON_Delete(r);
			return rc < 0 ? HANDLE_STORE_ERR : HANDLE_REPLY;
		}
		if (!strcmp(what, "incident")) {
			cJSON *o = store_incident_json(&in);
			json_add(o, "results", inc_results(&in));
			struct store_job j;
			int have = store_job_current(q->st, in.id, &j);
			if (have == 1) {
				json_add(o, "job", store_job_json(&j, 0));
				store_job_clear(&j);
			} else {
				json_add(o, "job", cJSON_CreateNull());
			}
			reply_set(r, "incident", o);
			rc = have < 0 ? -1 : 0;
		} else {
			cJSON *items = json_new_array();
			json_add(r, "items", items);
			rc = store_events(q->st, in.id, since, limit ? limit : TIMELINE_MAX, items);
			as_event_messages(items);
		}
		store_incident_clear(&in);
	} else if (!strcmp(what, "events")) {
		cJSON *items = json_new_array();
		json_add(r, "items", items);
		rc = store_events(q->st, 0, since, limit ? limit : 1000, items);
		as_event_messages(items);
	} else if (!strcmp(what, "identity")) {
		const struct handle_peer *p = peer_of(q);
		static const char *const roles[] = {"service", "local", "remote"};
		cJSON *o = json_new_object();
		json_add_str(o, "via", p->via);
		json_add_str(o, "role", roles[p->kind]);
		json_add_str(o, "account", p->account);
		const char *person =
		    q->pol && p->account[0] ? policy_person_of(q->pol, "unix", p->account) : NULL;
		json_add(o, "person", person ? cJSON_CreateString(person) : cJSON_CreateNull());
		json_add_bool(o, "policy_loaded", q->pol != NULL);
		json_add(r, "identity", o);
	} else { /* stats */
		cJSON *s = json_new_object();
		json_add(r, "stats", s);
		rc = store_stats(q->st, s);
		json_add_int(s, "commits", (int64_t)q->commits);
		json_add_int(s, "requests", (int64_t)q->requests);
		json_add_int(s, "rollbacks", (int64_t)q->rollbacks);
		json_add_int(s, "parked_claims", q->parked);
		cJSON *pr = json_new_object();
		json_add_int(pr, "jobs", (int64_t)q->pruned_jobs);
		json_add_int(pr, "events", (int64_t)q->pruned_events);
		json_add_int(pr, "keys", (int64_t)q->pruned_keys);
		json_add(s, "pruned", pr);
		json_add_int(s, "uptime_ms", q->now - q->started_ms);
	}
	if (rc < 0) {
		cJSON_Delete(r);
		return HANDLE_STORE_ERR;
	}
	*reply = r;
	return HANDLE_REPLY;
}

/*
 * What each kind of peer may ask (handle.h).  NULL when allowed, else why
 * not.  approve judges its peer itself, so that a refusal is recorded.
 */
static const char *peer_refusal(const struct handle_peer *p, const struct wire_msg *m)
{
	if (p->kind == PEER_SERVICE)
		return NULL;
	const char *surface = json_str(m->root, "surface");
	switch (m->type) {
	case WIRE_QUERY:
	case WIRE_APPROVE:
		return NULL;
	case WIRE_SUBMIT: {
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(m->root, "spec");
		if (cJSON_GetObjectItemCaseSensitive(spec, "surface"))
			return "only opsbot-bot may open an incident for a chat user "
			       "(spec.surface)";
		if (p->kind == PEER_LOCAL && strcmp(json_str(m->root, "what"), "incident") != 0)
			return "a local account may open incidents, not queue jobs";
		return NULL;
	}
	case WIRE_COMMAND:
		if (p->kind == PEER_REMOTE)
			return "commands are not accepted over the network; use chat or opsbotctl "
			       "on "
			       "the queue's host";
		if (strcmp(surface, "cli") != 0)
			return "only opsbot-bot may act for a chat user; opsbotctl acts as your "
			       "local "
			       "account";
		return NULL;
	case WIRE_CLAIM:
	case WIRE_HEARTBEAT:
	case WIRE_COMPLETE:
	case WIRE_FAIL:
		if (p->kind == PEER_REMOTE)
			return NULL;
		return "workers run as the queue's own account; a person's account may not take "
		       "jobs";
	case WIRE_LEDGER: /* queue/ledger.c: who may decide is judged there */
		if (!strcmp(json_str(m->root, "op"), "list"))
			return NULL;
		if (!strcmp(json_str(m->root, "op"), "decide"))
			return p->kind == PEER_REMOTE
			           ? "answers are not accepted over the network; "
			             "use chat or opsbotctl on the queue's host"
			           : NULL;
		if (p->kind == PEER_REMOTE)
			return NULL;
		return "the ledger is written by opsbot-exec, which runs as the queue's own "
		       "account";
	case WIRE_REPLY:
	case WIRE_EVENT:
	case WIRE_TYPE_COUNT:
		break;
	}
	return NULL; /* answered as bad_request below */
}

enum handle_rc handle_request(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	enum handle_rc rc;
	*reply = NULL;
	const char *refused = peer_refusal(peer_of(q), m);
	if (refused) {
		log_info("event=peer_refused via=%s account=%s type=%s reason=%s", peer_of(q)->via,
		         log_q(peer_of(q)->account), wire_type_name(m->type), log_q(refused));
		*reply = wire_reply_err(m, "forbidden", "%s", refused);
		return HANDLE_REPLY;
	}
	switch (m->type) {
	case WIRE_SUBMIT:
		rc = h_submit(q, m, reply);
		break;
	case WIRE_CLAIM:
		rc = handle_claim_try(q, m, reply);
		break;
	case WIRE_HEARTBEAT:
		rc = h_heartbeat(q, m, reply);
		break;
	case WIRE_COMPLETE:
		rc = h_complete(q, m, reply);
		break;
	case WIRE_FAIL:
		rc = h_fail(q, m, reply);
		break;
	case WIRE_APPROVE:
		rc = h_approve(q, m, reply);
		break;
	case WIRE_COMMAND:
		rc = h_command(q, m, reply);
		break;
	case WIRE_QUERY:
		rc = h_query(q, m, reply);
		break;
	case WIRE_LEDGER: /* queue/ledger.c */
		rc = ledger_handle(q, m, reply);
		break;
	case WIRE_REPLY:
	case WIRE_EVENT:
	default:
		*reply =
		    wire_reply_err(m, "bad_request", "the queue takes requests, not %s messages",
		                   wire_type_name(m->type));
		return HANDLE_REPLY;
	}
	if (rc == HANDLE_STORE_ERR) {
		cJSON_Delete(*reply);
		*reply = reply_store_err(m);
	}
	return rc;
}

int handle_timers(struct queue *q)
{
	int64_t ids[MAX_EXPIRED];
	int n;
	TRY(store_job_expired(q->st, q->now, ids, MAX_EXPIRED, &n));
	for (int i = 0; i < n; i++) {
		struct store_job j;
		int rc = store_job_get(q->st, ids[i], &j);
		TRY(rc);
		if (rc == 0)
			continue;
		char why[160];
		snprintf(why, sizeof(why), "lease expired: worker %s did not finish in time",
		         j.worker);
		int dead;
		int64_t at;
		/* An expired lease is retried at once: the worker is gone, not the job bad. */
		rc = job_retry_or_dead(q, &j, why, 1, 0, &dead, &at);
		store_job_clear(&j);
		TRY(rc);
	}
	TRY(store_incident_expired(q->st, q->now, ids, MAX_EXPIRED, &n));
	for (int i = 0; i < n; i++) {
		struct store_incident in;
		int rc = store_incident_get(q->st, ids[i], &in);
		TRY(rc);
		if (rc == 0)
			continue;
		rc = inc_move(q, &in, ST_EXPIRED, "no decision before the approval deadline");
		if (rc == 0)
			rc = inc_save(q, &in);
		store_incident_clear(&in);
		TRY(rc);
	}
	return 0;
}

int handle_event(struct queue *q, int64_t incident, const char *name, cJSON *data)
{
	return q_event(q, incident, name, data);
}
