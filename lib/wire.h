/*
 * wire.h: the one definition of every message opsbot's processes exchange.
 *
 * Transport: NNG.  Requests go REQ -> opsbot-queue's REP socket; events come
 * from its PUB socket.  Every message is one JSON object with an envelope:
 *
 *   {"v":1, "type":"<type>", "id":"<request id>", "incident":<int>,
 *    "trace":"<32 hex>", ...fields of the type...}
 *
 * `incident` is 0 when the message is about no incident.  Replies carry
 * type "reply", the request's id, and "ok":true with the fields below, or
 * "ok":false with "error":"<code>" and "message":"<one line for a person>".
 * Decoding is strict: a missing required field, a field of the wrong type,
 * an unknown field or an unknown type is an error that names the field.
 * In the envelope v, type and id are required; incident (default 0) and
 * trace (default "") may be left out.  A field name may appear once.
 * Replies may carry any result fields beside ok/error/message; ok:false
 * needs "error".  A reply's "incident" is the request's, except where the
 * result names one: submit puts the incident id there, and query
 * what:"incident" puts the whole record object there (its "id" is the
 * number).  Error codes: bad_request (decoding or a rule below),
 * not_found, lease_lost, wrong_state (the incident or job is not in a state
 * that allows the request), plan_changed, expired, forbidden (this peer or
 * person may not do that), wrong_incident, already_approved, unavailable
 * (the store failed; retry later with the same key).
 * Request ids: lib/rpc.c gives every submit, approve and command without a
 * "key" the key "rid:<request id>", so a request resent after the queue
 * died between COMMIT and reply is answered from the first one.
 * Limits: job kind 1..WIRE_KIND_MAX chars, key 1..WIRE_KEY_MAX chars,
 * claim kinds 1..WIRE_KINDS_MAX, claim max, submit jobs[] and complete
 * jobs[] 1..WIRE_BATCH_MAX, wait_ms 0..WIRE_WAIT_MAX_MS, lease_ms
 * 1..WIRE_LEASE_MAX_MS, query limit 1..WIRE_QUERY_LIMIT_MAX.
 * Bump WIRE_VERSION on any change to a message below that an existing
 * client sends or reads.  Optional additions that change nothing for a
 * client not using them keep the version (claim "max", submit and complete "jobs",
 * added after version 1 shipped: a queue older than them answers
 * bad_request "unknown field", so a client can fall back to single calls).
 *
 * Requests (fields beyond the envelope; * = required):
 *
 *   submit    *what:"incident"|"job", key:string (idempotency key: a repeated
 *             key returns the original id and creates nothing),
 *             spec:object (*for incident: *title, *service, *severity
 *               (critical|high|medium|low|info), *source (slack|discord|
 *               alertmanager|generic|watch|cli), summary, labels{}, surface
 *               {kind:"slack"|"discord", channel, user, user_id, thread}),
 *               user_id: the chat user id when `user` is a display label;
 *               the approval policy's requester rule uses user_id, else user
 *             job:object (*for job: *kind, input{}; attached to `incident`,
 *               which may be 0 for jobs about no incident)
 *             -> {incident, job?, created:bool, grouped?:true}
 *             (grouped: the incident joined a live one, queue/group.c)
 *             Batched submit (what:"job"): instead of job, "jobs":
 *             [{*kind, input{}, key:string}, ...] (1..WIRE_BATCH_MAX), all
 *             attached to `incident`, stored in one transaction
 *             -> {incident, results:[{job, created:bool}, ...]} in the same
 *             order.  An item's idempotency key is its own "key", else
 *             "<request key>/<index>" when the request has a key (so a
 *             resent batch creates nothing twice), else none.
 *             The queue adds spec.requester {account, via} (the local
 *             account that opened it, read from the socket) when there is no
 *             spec.surface; only the queue's own account may send
 *             spec.surface.
 *   claim     *kinds:[string], *worker:string, *wait_ms:int, lease_ms:int,
 *             max:int (1..WIRE_BATCH_MAX; optional, see below)
 *             -> {job: null | {id, kind, incident, attempt, lease, deadline_ms,
 *                 input{}}}   (long poll: waits up to wait_ms for a job)
 *             The oldest ready job of any listed kind is leased.  A caller's
 *             reply timeout must exceed wait_ms: a claim that times out
 *             client-side may still lease a job nobody reads; that job comes
 *             back when its lease expires (it counts as an attempt).
 *             Batched claim: with "max" the reply is instead
 *             {jobs:[job, ...]}: up to max of the oldest ready jobs, oldest
 *             first, each with its own lease; [] when wait_ms passed with
 *             none.  The long poll ends as soon as at least one is ready, so
 *             a batch may hold fewer than max.  Only a caller that will run
 *             (or heartbeat) every job it gets should ask for more than one.
 *   heartbeat *job:int, *lease:string, lease_ms:int -> {deadline_ms}
 *             error "lease_lost" when the lease expired or was taken over
 *   complete  *job:int, *lease:string, *result:object -> {duplicate:bool}
 *             a second complete for the same lease is harmless (duplicate)
 *             Batched complete: instead of job/lease/result, "jobs":
 *             [{*job, *lease, *result}, ...] (1..WIRE_BATCH_MAX, each job at
 *             most once) -> {results:[{job, ok:true, duplicate} | {job,
 *             ok:false, error, message}, ...]} in the same order.  Each item
 *             stands alone: one lease_lost or not_found refuses only that
 *             item.  A store failure refuses the whole request (unavailable).
 *   fail      *job:int, *lease:string, *error:string, retryable:bool
 *             -> {dead:bool, retry_at_ms}
 *   approve   *plan:string (plan hash shown on the button), *user:string,
 *             *surface:"slack"|"discord"|"cli", *decision:"approve"|"reject",
 *             key:string, reason:string (why, for a reject; up to
 *             WIRE_REASON_MAX), message_incident:int (the incident of the
 *             chat message the button was on, when the surface knows it;
 *             refused when it is not `incident`)
 *             -> {state, person, have, need, approvers:[person...]}
 *             The queue judges it against config/policy.conf: who the
 *             person is (slack/discord: the chat user id, accepted only
 *             from a peer running as the queue's own account, i.e.
 *             opsbot-bot; cli: the peer's local account read from the ipc://
 *             socket, never the "user" field), whether they may approve every
 *             step that needs approval, the requester rule, the rule's
 *             expiry, the plan hash, and whether they already decided.
 *             A refusal is ok:false with error forbidden | wrong_incident |
 *             already_approved | plan_changed | expired | wrong_state and a
 *             message for that person alone; it is also recorded as event
 *             approval.refused {user, surface, person, identity, decision,
 *             plan, error, reason}.  An accepted decision is recorded as
 *             approval.recorded {user, surface, person, identity ("slack
 *             U0ALICE01 = alice"), decision, plan, rule, have, need,
 *             approvers:[person...], reason}; "need" distinct people must
 *             approve before the plan runs, one reject ends it.
 *             plan.proposed carries what a plan needs, when it needs
 *             approval and a policy is loaded: approval {need, rules,
 *             requester_may_approve, expiry_ms, text ("2 people from
 *             sre-leads, not the requester")}.
 *   command   *action:"ack"|"resolve"|"pause"|"resume"|"note"|"retry"|
 *             "filtered", *user:string, *surface:string, note:string,
 *             key:string, job:int (*for retry: a dead-lettered job to run
 *             again), alert:object (filtered: {name, severity, service,
 *             status, reason} of an alert the intake did not open an
 *             incident for; incident 0, service account only; recorded as
 *             the event alert.filtered) -> {state}
 *   query     *what:"incidents"|"incident"|"timeline"|"jobs"|"dead_letters"|
 *             "stats"|"events"|"identity", since:int (events after this seq),
 *             limit:int, state:string -> {items:[...]} | {incident:{...}} |
 *             {stats:{...}} | {identity:{via, role, account, person}} (how the
 *             queue sees the caller: role service|local|remote)
 *   ledger    the action ledger (queue/ledger.c; added after version 1
 *             shipped, so an older queue answers bad_request "unknown type").
 *             *op, then per op (all about `incident`):
 *             begin:   *job, *lease (the execute/verify job held), *step_key
 *                      (1..WIRE_KEY_MAX), *step:int, *action, *params{},
 *                      *argv:[string], kind:"action"|"rollback", plan:string,
 *                      idempotent:bool, target:string, cooldown_ms:int,
 *                      rate_count:int, rate_window_ms:int, refuse:string
 *                      (the executor's own refusal, e.g. a failed type
 *                      check: the row is stored "refused" with it)
 *                      -> {created:bool, row:{...}}  A known step_key creates
 *                      nothing and returns the row as it is.  A new row is
 *                      committed as "started" before the reply, unless the
 *                      cooldown (same action and target) or the rate limit
 *                      (same action) says no: then it is stored "refused"
 *                      and the reply is ok with created:true, row.state
 *                      "refused" and row.output the reason.
 *             restart: *job, *lease, *step_key -> {row}  a started or
 *                      decided-retry row runs again (attempts + 1)
 *             finish:  *job, *lease, *step_key, *state:"finished"|"failed",
 *                      output:string, exit:int, ms:int -> {row}
 *             ask:     *job, *lease, *step_key, question:string -> {row}
 *                      a started row whose outcome is unknown (crash) becomes
 *                      "unknown", the job is held (no lease) and
 *                      action.unknown asks a person
 *             decide:  *step_key, *decision:"retry"|"skip"|"abort", *user,
 *                      *surface, key:string -> {row, state}  the answer,
 *                      judged like approve (who: a chat user only from the
 *                      queue's own account, cli as the peer's local account;
 *                      the person must be allowed to approve the action,
 *                      else forbidden);
 *                      retry/skip give the held job back, abort fails the
 *                      incident; a repeated key or a decided row changes
 *                      nothing (wrong_state names the first decision)
 *             list:    limit:int -> {items:[row, ...]} (incident 0: newest
 *                      rows of every incident)
 *             A row: {id, incident, job, step, step_key, kind, plan, action,
 *             params{}, argv[], target, state:"started"|"finished"|"failed"|
 *             "refused"|"unknown"|"skipped"|"aborted", idempotent, attempts,
 *             output, exit, started_ms, finished_ms, decision, decided_by}
 *
 * Events (PUB; also stored, so `query what:"events" since:N` replays them):
 *
 *   {"v":1,"type":"event","id":"<event id>","incident":N,"trace":"...",
 *    "seq":<int, strictly increasing>,"name":"<name>","at_ms":<int>,
 *    "data":{...}}
 *
 * Event names are the WIRE_EV_* strings below.  Jobs with incident 0
 * (standalone) publish only job.retry and job.dead.
 *
 * Job kinds and their payloads (input -> result):
 *
 *   detect    {incident} -> {anomalies:[{series, start_ms, end_ms, score,
 *             direction:"up"|"down"}], ranking:[{service, confidence,
 *             rationale}], summary}
 *   retrieve  {incident, detect} -> {passages:[{source, section, title,
 *             score, why, text}], summary}
 *   plan      {incident, detect, retrieve} -> {plan:{id, hash, planner,
 *             steps:[{action, params{}, risk, rationale, citations[],
 *             approval:"auto"|"required"}], notes[]}, needs_approval:bool,
 *             summary}
 *   execute   {incident, plan} -> {steps:[{action, ok, output}], summary}
 *             (opsbot-exec adds ok, job, and per step step, kind, state,
 *             params, argv, exit, started_ms, finished_ms, ms, overhead_us)
 *   verify    {incident, plan, execute} -> {ok:bool, summary}
 *             (opsbot-exec adds checks[], recheck{}, rollbacks[],
 *             verified:false when ok but nothing could check it, and
 *             replan:true when the incident should go back to planning)
 *   dryrun    {} -> {plan, steps:[{step, action, argv[] | error}], summary}
 *             (what execute would run now; runs nothing)
 *   report    {incident, timeline} -> {pdf, email, summary}
 *   index     {incident, timeline} -> {indexed:bool}
 *
 * Every result may carry "summary": one line a person reads in the thread.
 *
 * Ownership: cJSON trees returned by functions here belong to the caller
 * (cJSON_Delete); struct wire_msg owns its root until wire_msg_free().
 */
#ifndef OPSBOT_WIRE_H
#define OPSBOT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define WIRE_VERSION         1
#define WIRE_MAX_BYTES       (4 << 20) /* largest message any process accepts */
#define WIRE_KIND_MAX        32
#define WIRE_KEY_MAX         200
#define WIRE_KINDS_MAX       16
#define WIRE_WAIT_MAX_MS     300000
#define WIRE_LEASE_MAX_MS    3600000
#define WIRE_QUERY_LIMIT_MAX 10000
#define WIRE_BATCH_MAX       64   /* claim max, submit and complete jobs[] */
#define WIRE_USER_MAX        128  /* approve/command user */
#define WIRE_REASON_MAX      1000 /* approve reason */

enum wire_type {
	WIRE_SUBMIT,
	WIRE_CLAIM,
	WIRE_HEARTBEAT,
	WIRE_COMPLETE,
	WIRE_FAIL,
	WIRE_APPROVE,
	WIRE_COMMAND,
	WIRE_QUERY,
	WIRE_REPLY,
	WIRE_EVENT,
	WIRE_LEDGER, /* added after version 1 shipped; optional (see "ledger" above) */
	WIRE_TYPE_COUNT
};

/* Job kinds, defined once. */
#define WIRE_JOB_DETECT   "detect"
#define WIRE_JOB_RETRIEVE "retrieve"
#define WIRE_JOB_PLAN     "plan"
#define WIRE_JOB_EXECUTE  "execute"
#define WIRE_JOB_VERIFY   "verify"
#define WIRE_JOB_REPORT   "report"
#define WIRE_JOB_INDEX    "index"
#define WIRE_JOB_DRYRUN   "dryrun" /* standalone job of an incident; no stage */

/* Event names, defined once. */
#define WIRE_EV_OPENED           "incident.opened"   /* data: the incident record */
#define WIRE_EV_STAGE            "incident.stage"    /* data: {from, to, reason} */
#define WIRE_EV_UPDATED          "incident.updated"  /* data: {fields changed, e.g. alert update} */
#define WIRE_EV_FINDINGS         "job.finished"      /* data: {kind, result} */
#define WIRE_EV_PLAN             "plan.proposed"     /* data: {plan, needs_approval, approval?} */
#define WIRE_EV_APPROVAL         "approval.recorded" /* data: see approve above */
#define WIRE_EV_APPROVAL_REFUSED "approval.refused"  /* data: see approve above */
#define WIRE_EV_COMMAND          "command.recorded"  /* data: {user, surface, action, note} */
#define WIRE_EV_DEAD             "job.dead"          /* data: {job, kind, attempts, error} */
#define WIRE_EV_RETRY            "job.retry" /* data: {job, kind, attempt, error, retry_at_ms} */
#define WIRE_EV_RESOLVED         "incident.resolved" /* data: {by, note} */
#define WIRE_EV_ALERT_FILTERED   "alert.filtered"    /* incident 0; data: {surface, alert{...}} */
/* The action ledger (ledger request above; queue/ledger.c). */
#define WIRE_EV_ACTION_STARTED  "action.started"  /* data: ledger row, see "ledger" */
#define WIRE_EV_ACTION_FINISHED "action.finished" /* data: ledger row with state, exit, output */
#define WIRE_EV_ACTION_UNKNOWN  "action.unknown"  /* data: row + question, choices[] */
#define WIRE_EV_ACTION_DECIDED  "action.decided"  /* data: {step_key, step, decision, ...} */

/* Incident states (queue/state.c holds the machine). */
#define WIRE_ST_OPEN       "open"
#define WIRE_ST_DETECTING  "detecting"
#define WIRE_ST_RETRIEVING "retrieving"
#define WIRE_ST_PLANNING   "planning"
#define WIRE_ST_AWAITING   "awaiting_approval"
#define WIRE_ST_EXECUTING  "executing"
#define WIRE_ST_VERIFYING  "verifying"
#define WIRE_ST_RESOLVED   "resolved"
#define WIRE_ST_REJECTED   "rejected"
#define WIRE_ST_EXPIRED    "expired"
#define WIRE_ST_FAILED     "failed"
#define WIRE_ST_PAUSED     "paused"

struct wire_msg {
	int v;
	enum wire_type type;
	char id[64];
	int64_t incident;
	char trace[33];
	cJSON *root; /* the whole message; type fields are read from here */
};

const char *wire_type_name(enum wire_type t);
int wire_type_parse(const char *s, enum wire_type *out);

/*
 * Decode and validate buf[0..len).  On error returns -1 and writes a one-line
 * reason naming the field into err; out is then untouched.
 */
int wire_decode(const void *buf, size_t len, struct wire_msg *out, char *err, size_t errlen);
void wire_msg_free(struct wire_msg *m);

/* A new message with the envelope filled (fresh id and trace); caller owns it. */
cJSON *wire_new(enum wire_type type, int64_t incident);
/* A fresh request/event id into out (at least 40 bytes), unique per process run. */
void wire_new_id(char *out, size_t len);
/* A reply to req: ok:true, or ok:false with error code and message. */
cJSON *wire_reply_ok(const struct wire_msg *req);
cJSON *wire_reply_err(const struct wire_msg *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
