/*
 * ledger.c: the action ledger, the queue's record of every step opsbot-exec
 * runs (lib/wire.h "ledger"; the action_ledger table, migrations 2 and 3).
 *
 * A step's row is committed before its process is started and its outcome
 * after it ended, so a crash at any moment leaves one of:
 *
 *   (no row) --begin--> started --finish--> finished | failed
 *                |         |  \--restart (idempotent, or a person said retry)--> started
 *                |         '--ask (crash: outcome unknown)--> unknown
 *                '--begin refused (cooldown, rate limit)--> refused
 *   unknown --decide retry--> unknown+retry --restart--> started
 *   unknown --decide skip--> skipped        unknown --decide abort--> aborted
 *
 * Invariants:
 *   1. step_key is unique: one row per plan step (or rollback) of one
 *      execute job, so a job delivered twice finds its rows and never
 *      starts a finished step again.
 *   2. Only the holder of the job's lease may begin, restart, finish or ask;
 *      a worker whose lease was lost changes nothing.
 *   3. A row is "unknown" exactly while the job that owns it waits for a
 *      person: ask holds the job (no lease), decide gives it back (retry,
 *      skip) or cancels it and fails the incident (abort).
 *   4. A decision is recorded once; a repeated click changes nothing.
 *   5. Cooldowns and rate limits are judged here, in the same transaction
 *      that inserts the row, so two executors cannot both pass them.
 *      Rollbacks are exempt: they undo what opsbot just did.
 */
#include "ledger.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "catalog.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "policy.h"

#define LEDGER_COLS                                                                                \
	"id, incident, job, step, step_key, kind, plan, action, params, argv, target, state, "     \
	"idempotent, attempts, output, exit_code, started_ms, finished_ms, decision, decided_by"
#define LEDGER_EVENT_OUTPUT 1000 /* bytes of output an event carries (the row keeps all) */
#define LEDGER_LIST_MAX     500

#define TRY(x)                                                                                     \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			return HANDLE_STORE_ERR;                                                   \
	} while (0)

static sqlite3_stmt *ledger_prep(struct queue *q, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_sqlite(q->st), sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("event=ledger_sql_error error=%s",
		          log_q(sqlite3_errmsg(store_sqlite(q->st))));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Run a statement that returns no rows; finalizes it.  0 or -1. */
static int ledger_run(struct queue *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_error("event=ledger_sql_error error=%s",
		          log_q(sqlite3_errmsg(store_sqlite(q->st))));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void ledger_add_parsed(cJSON *o, const char *key, const char *text, int array)
{
	cJSON *v = text ? cJSON_Parse(text) : NULL;
	if (!v || (array ? !cJSON_IsArray(v) : !cJSON_IsObject(v))) {
		cJSON_Delete(v);
		v = array ? json_new_array() : json_new_object();
	}
	json_add(o, key, v);
}

static void ledger_add_text(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	if (t)
		json_add_str(o, key, t);
	else
		json_add(o, key, cJSON_CreateNull());
}

/* The row at st's current position as JSON (wire.h "A row"); caller owns it. */
static cJSON *ledger_row(sqlite3_stmt *st)
{
	cJSON *o = json_new_object();
	json_add_int(o, "id", sqlite3_column_int64(st, 0));
	json_add_int(o, "incident", sqlite3_column_int64(st, 1));
	json_add_int(o, "job", sqlite3_column_int64(st, 2));
	json_add_int(o, "step", sqlite3_column_int64(st, 3));
	ledger_add_text(o, "step_key", st, 4);
	ledger_add_text(o, "kind", st, 5);
	ledger_add_text(o, "plan", st, 6);
	ledger_add_text(o, "action", st, 7);
	ledger_add_parsed(o, "params", (const char *)sqlite3_column_text(st, 8), 0);
	ledger_add_parsed(o, "argv", (const char *)sqlite3_column_text(st, 9), 1);
	ledger_add_text(o, "target", st, 10);
	ledger_add_text(o, "state", st, 11);
	json_add_bool(o, "idempotent", sqlite3_column_int(st, 12));
	json_add_int(o, "attempts", sqlite3_column_int64(st, 13));
	ledger_add_text(o, "output", st, 14);
	if (sqlite3_column_type(st, 15) == SQLITE_NULL)
		json_add(o, "exit", cJSON_CreateNull());
	else
		json_add_int(o, "exit", sqlite3_column_int64(st, 15));
	json_add_int(o, "started_ms", sqlite3_column_int64(st, 16));
	json_add_int(o, "finished_ms", sqlite3_column_int64(st, 17));
	ledger_add_text(o, "decision", st, 18);
	ledger_add_text(o, "decided_by", st, 19);
	return o;
}

/* The row of step_key: 1 with *row (caller owns), 0 when none, -1 on a store error. */
static int ledger_get(struct queue *q, const char *step_key, cJSON **row)
{
	*row = NULL;
	sqlite3_stmt *st =
	    ledger_prep(q, "SELECT " LEDGER_COLS " FROM action_ledger WHERE step_key = ?1");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, step_key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int out = 0;
	if (rc == SQLITE_ROW) {
		*row = ledger_row(st);
		out = 1;
	} else if (rc != SQLITE_DONE) {
		out = -1;
	}
	sqlite3_finalize(st);
	return out;
}

/* A copy of row for an event, with the output cut to what a thread shows. */
static cJSON *ledger_event_data(const cJSON *row)
{
	cJSON *d = json_dup(row);
	const char *out = json_str(d, "output");
	if (out && strlen(out) > LEDGER_EVENT_OUTPUT) {
		char *cut = xstrndup(out, LEDGER_EVENT_OUTPUT);
		/* do not end inside a UTF-8 sequence */
		size_t n = strlen(cut);
		while (n > 0 && ((unsigned char)cut[n - 1] & 0xC0) == 0x80)
			n--;
		if (n > 0 && ((unsigned char)cut[n - 1] & 0xC0) == 0xC0)
			n--;
		cut[n] = '\0';
		char *t = xasprintf("%s [... cut; opsbotctl ledger %lld shows all]", cut,
		                    (long long)json_int(d, "incident", 0));
		cJSON_ReplaceItemInObjectCaseSensitive(d, "output", cJSON_CreateString(t));
		free(t);
		free(cut);
	}
	return d;
}

/* Invariant 2: 1 when m's job/lease is the job's current lease; else 0 with *reply. */
static int ledger_lease(struct queue *q, const struct wire_msg *m, struct store_job *j,
                        cJSON **reply)
{
	int64_t id = json_int(m->root, "job", 0);
	int rc = store_job_get(q->st, id, j);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		*reply = wire_reply_err(m, "not_found", "there is no job %lld", (long long)id);
		return 0;
	}
	if (strcmp(j->state, "leased") != 0 || strcmp(j->lease, json_str(m->root, "lease")) != 0) {
		*reply = wire_reply_err(m, "lease_lost",
		                        "job %lld is %s under another lease; nothing was recorded",
		                        (long long)j->id, j->state);
		store_job_clear(j);
		return 0;
	}
	if (j->incident != m->incident) {
		*reply = wire_reply_err(
		    m, "bad_request", "job %lld belongs to incident %lld, not %lld",
		    (long long)j->id, (long long)j->incident, (long long)m->incident);
		store_job_clear(j);
		return 0;
	}
	return 1;
}

static cJSON *ledger_reply_row(const struct wire_msg *m, cJSON *row)
{
	cJSON *r = wire_reply_ok(m);
	json_add(r, "row", row);
	return r;
}

/* Invariant 5: NULL when the step may start, else the reason (caller frees). */
static char *ledger_limits(struct queue *q, const struct wire_msg *m, int *err)
{
	const char *action = json_str(m->root, "action");
	const char *target = json_str(m->root, "target");
	int64_t cooldown = json_int(m->root, "cooldown_ms", 0);
	int64_t count = json_int(m->root, "rate_count", 0);
	int64_t window = json_int(m->root, "rate_window_ms", 0);
	*err = 0;
	if (cooldown > 0) {
		sqlite3_stmt *st = ledger_prep(
		    q,
		    "SELECT max(started_ms) FROM action_ledger WHERE action = ?1 AND target = ?2"
		    " AND kind = 'action' AND state IN ('started','finished','failed','unknown')");
		if (!st) {
			*err = 1;
			return NULL;
		}
		sqlite3_bind_text(st, 1, action, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, target ? target : "", -1, SQLITE_TRANSIENT);
		int64_t last = 0;
		if (sqlite3_step(st) == SQLITE_ROW)
			last = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (last > 0 && q->now - last < cooldown) {
			int64_t wait = (cooldown - (q->now - last) + 999) / 1000;
			return xasprintf(
			    "refused by the cooldown: %s last ran on %s %llds ago; the "
			    "catalog allows one run per %llds, so the next may start in "
			    "%llds",
			    action, target && *target ? target : "this target",
			    (long long)((q->now - last) / 1000), (long long)(cooldown / 1000),
			    (long long)wait);
		}
	}
	if (count > 0 && window > 0) {
		sqlite3_stmt *st = ledger_prep(
		    q,
		    "SELECT count(*) FROM action_ledger WHERE action = ?1 AND started_ms > ?2"
		    " AND kind = 'action' AND state IN ('started','finished','failed','unknown')");
		if (!st) {
			*err = 1;
			return NULL;
		}
		sqlite3_bind_text(st, 1, action, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, q->now - window);
		int64_t n = 0;
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (n >= count)
			return xasprintf(
			    "refused by the rate limit: %s ran %lld time(s) in the last "
			    "%llds and the catalog allows %lld",
			    action, (long long)n, (long long)(window / 1000), (long long)count);
	}
	return NULL;
}

static enum handle_rc ledger_begin(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	const char *key = json_str(m->root, "step_key");
	struct store_job j;
	int rc = ledger_lease(q, m, &j, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	store_job_clear(&j);
	cJSON *row;
	rc = ledger_get(q, key, &row);
	TRY(rc);
	if (rc == 1) { /* invariant 1: the job came back; the executor decides from the row */
		/* The same begin again under the same lease (a reply lost on the way) is
		 * this begin, not a crash. */
		int same = 0;
		sqlite3_stmt *st = ledger_prep(q, "SELECT lease = ?2 AND state = 'started' FROM"
		                                  " action_ledger WHERE step_key = ?1");
		if (!st) {
			cJSON_Delete(row);
			return HANDLE_STORE_ERR;
		}
		sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, json_str(m->root, "lease"), -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			same = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		*reply = ledger_reply_row(m, row);
		json_add_bool(*reply, "created", same);
		return HANDLE_REPLY;
	}
	const char *kind = json_str(m->root, "kind");
	int rollback = kind && !strcmp(kind, "rollback");
	int serr = 0;
	const char *own = json_str(m->root, "refuse");
	char *refused = own ? xstrdup(own) : rollback ? NULL : ledger_limits(q, m, &serr);
	if (serr)
		return HANDLE_STORE_ERR;
	char *params = json_print(cJSON_GetObjectItemCaseSensitive(m->root, "params"));
	char *argv = json_print(cJSON_GetObjectItemCaseSensitive(m->root, "argv"));
	sqlite3_stmt *st = ledger_prep(
	    q,
	    "INSERT INTO action_ledger(incident, job, step, step_key, kind, plan, action, params,"
	    " argv, target, state, idempotent, output, started_ms, finished_ms, lease)"
	    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)");
	if (!st) {
		free(params);
		free(argv);
		free(refused);
		return HANDLE_STORE_ERR;
	}
	sqlite3_bind_int64(st, 1, m->incident);
	sqlite3_bind_int64(st, 2, json_int(m->root, "job", 0));
	sqlite3_bind_int64(st, 3, json_int(m->root, "step", 0));
	sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, rollback ? "rollback" : "action", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, json_str(m->root, "plan") ? json_str(m->root, "plan") : "", -1,
	                  SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, json_str(m->root, "action"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, params, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 9, argv, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 10, json_str(m->root, "target") ? json_str(m->root, "target") : "",
	                  -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, refused ? "refused" : "started", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 12, json_bool(m->root, "idempotent", 0));
	if (refused)
		sqlite3_bind_text(st, 13, refused, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 13);
	sqlite3_bind_int64(st, 14, q->now);
	if (refused)
		sqlite3_bind_int64(st, 15, q->now);
	else
		sqlite3_bind_null(st, 15);
	sqlite3_bind_text(st, 16, json_str(m->root, "lease"), -1, SQLITE_TRANSIENT);
	free(params);
	free(argv);
	rc = ledger_run(q, st);
	if (rc == 0)
		rc = ledger_get(q, key, &row) == 1 ? 0 : -1;
	if (rc < 0) {
		free(refused);
		return HANDLE_STORE_ERR;
	}
	log_info("event=ledger_%s incident=%lld step_key=%s action=%s%s%s",
	         refused ? "refused" : "started", (long long)m->incident, log_q(key),
	         log_q(json_str(m->root, "action")), refused ? " reason=" : "",
	         refused ? log_q(refused) : "");
	free(refused);
	if (q_event(q, m->incident,
	            !strcmp(json_str(row, "state"), "refused") ? WIRE_EV_ACTION_FINISHED
	                                                       : WIRE_EV_ACTION_STARTED,
	            ledger_event_data(row)) < 0) {
		cJSON_Delete(row);
		return HANDLE_STORE_ERR;
	}
	*reply = ledger_reply_row(m, row);
	json_add_bool(*reply, "created", 1);
	return HANDLE_REPLY;
}

/* The row of a lease-holding request (restart, finish, ask): 1 with *row, 0 replied. */
static int ledger_owned_row(struct queue *q, const struct wire_msg *m, cJSON **row, cJSON **reply)
{
	struct store_job j;
	int rc = ledger_lease(q, m, &j, reply);
	if (rc <= 0)
		return rc;
	rc = ledger_get(q, json_str(m->root, "step_key"), row);
	if (rc == 1 && json_int(*row, "job", 0) != j.id) {
		*reply = wire_reply_err(m, "bad_request", "step %s belongs to job %lld, not %lld",
		                        json_str(m->root, "step_key"),
		                        (long long)json_int(*row, "job", 0), (long long)j.id);
		cJSON_Delete(*row);
		*row = NULL;
		rc = 0;
	} else if (rc == 0) {
		*reply = wire_reply_err(m, "not_found", "there is no ledger step %s",
		                        json_str(m->root, "step_key"));
	}
	store_job_clear(&j);
	return rc;
}

static enum handle_rc ledger_finish(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	cJSON *row;
	int rc = ledger_owned_row(q, m, &row, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	const char *state = json_str(m->root, "state");
	const char *cur = json_str(row, "state");
	if (strcmp(cur, "started") != 0) {
		if (!strcmp(cur, state)) { /* the same finish again: harmless */
			*reply = ledger_reply_row(m, row);
			json_add_bool(*reply, "duplicate", 1);
			return HANDLE_REPLY;
		}
		*reply = wire_reply_err(m, "wrong_state", "step %s is %s, not started",
		                        json_str(row, "step_key"), cur);
		cJSON_Delete(row);
		return HANDLE_REPLY;
	}
	cJSON_Delete(row);
	sqlite3_stmt *st =
	    ledger_prep(q, "UPDATE action_ledger SET state = ?2, output = ?3, exit_code = ?4,"
	                   " finished_ms = ?5 WHERE step_key = ?1");
	if (!st)
		return HANDLE_STORE_ERR;
	const char *key = json_str(m->root, "step_key");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
	const char *out = json_str(m->root, "output");
	sqlite3_bind_text(st, 3, out ? out : "", -1, SQLITE_TRANSIENT);
	if (cJSON_GetObjectItemCaseSensitive(m->root, "exit"))
		sqlite3_bind_int64(st, 4, json_int(m->root, "exit", 0));
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, q->now);
	TRY(ledger_run(q, st));
	TRY(ledger_get(q, key, &row) == 1 ? 0 : -1);
	cJSON *d = ledger_event_data(row);
	if (cJSON_GetObjectItemCaseSensitive(m->root, "ms"))
		json_add_int(d, "ms", json_int(m->root, "ms", 0));
	if (q_event(q, m->incident, WIRE_EV_ACTION_FINISHED, d) < 0) {
		cJSON_Delete(row);
		return HANDLE_STORE_ERR;
	}
	log_info("event=ledger_finished incident=%lld step_key=%s state=%s", (long long)m->incident,
	         log_q(key), state);
	*reply = ledger_reply_row(m, row);
	return HANDLE_REPLY;
}

static enum handle_rc ledger_restart(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	cJSON *row;
	int rc = ledger_owned_row(q, m, &row, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	const char *cur = json_str(row, "state");
	const char *dec = json_str(row, "decision");
	int ok =
	    !strcmp(cur, "started") || (!strcmp(cur, "unknown") && dec && !strcmp(dec, "retry"));
	if (!ok) {
		*reply = wire_reply_err(m, "wrong_state",
		                        "step %s is %s%s%s; only a started step or one a person "
		                        "said to retry runs again",
		                        json_str(row, "step_key"), cur, dec ? ", decided " : "",
		                        dec ? dec : "");
		cJSON_Delete(row);
		return HANDLE_REPLY;
	}
	cJSON_Delete(row);
	const char *key = json_str(m->root, "step_key");
	sqlite3_stmt *st =
	    ledger_prep(q, "UPDATE action_ledger SET state = 'started', attempts = attempts + 1,"
	                   " started_ms = ?2, finished_ms = NULL, exit_code = NULL, output = NULL,"
	                   " lease = ?3 WHERE step_key = ?1");
	if (!st)
		return HANDLE_STORE_ERR;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, q->now);
	sqlite3_bind_text(st, 3, json_str(m->root, "lease"), -1, SQLITE_TRANSIENT);
	TRY(ledger_run(q, st));
	TRY(ledger_get(q, key, &row) == 1 ? 0 : -1);
	if (q_event(q, m->incident, WIRE_EV_ACTION_STARTED, ledger_event_data(row)) < 0) {
		cJSON_Delete(row);
		return HANDLE_STORE_ERR;
	}
	log_info("event=ledger_restarted incident=%lld step_key=%s attempts=%lld",
	         (long long)m->incident, log_q(key), (long long)json_int(row, "attempts", 0));
	*reply = ledger_reply_row(m, row);
	return HANDLE_REPLY;
}

static enum handle_rc ledger_ask(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	cJSON *row;
	int rc = ledger_owned_row(q, m, &row, reply);
	TRY(rc);
	if (rc == 0)
		return HANDLE_REPLY;
	const char *cur = json_str(row, "state");
	int again = !strcmp(cur, "unknown") && !json_str(row, "decision");
	if (strcmp(cur, "started") != 0 && !again) {
		*reply = wire_reply_err(m, "wrong_state", "step %s is %s; there is nothing to ask",
		                        json_str(row, "step_key"), cur);
		cJSON_Delete(row);
		return HANDLE_REPLY;
	}
	const char *key = json_str(m->root, "step_key");
	int64_t job = json_int(row, "job", 0);
	cJSON_Delete(row);
	if (!again) {
		/* A new question: an earlier "retry" answered the previous crash. */
		sqlite3_stmt *st = ledger_prep(q, "UPDATE action_ledger SET state = 'unknown',"
		                                  " decision = NULL, decided_by = NULL"
		                                  " WHERE step_key = ?1");
		if (!st)
			return HANDLE_STORE_ERR;
		sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
		TRY(ledger_run(q, st));
	}
	/* invariant 3: the job waits without a lease until someone answers */
	TRY(store_job_set(q->st, job, "held", NULL,
	                  "waiting for a person: a step's outcome is "
	                  "unknown",
	                  -1, q->now));
	TRY(ledger_get(q, key, &row) == 1 ? 0 : -1);
	if (!again) {
		cJSON *d = ledger_event_data(row);
		char question[300];
		const char *qtext = json_str(m->root, "question");
		if (!qtext) {
			snprintf(question, sizeof(question),
			         "step %lld may or may not have run: Retry / Skip / Abort",
			         (long long)json_int(row, "step", 0));
			qtext = question;
		}
		json_add_str(d, "question", qtext);
		cJSON *ch = json_new_array();
		cJSON_AddItemToArray(ch, cJSON_CreateString("retry"));
		cJSON_AddItemToArray(ch, cJSON_CreateString("skip"));
		cJSON_AddItemToArray(ch, cJSON_CreateString("abort"));
		json_add(d, "choices", ch);
		if (q_event(q, m->incident, WIRE_EV_ACTION_UNKNOWN, d) < 0) {
			cJSON_Delete(row);
			return HANDLE_STORE_ERR;
		}
	}
	log_warn("event=ledger_unknown incident=%lld step_key=%s job=%lld reason=\"started before "
	         "a crash and not idempotent; waiting for a person\"",
	         (long long)m->incident, log_q(key), (long long)job);
	*reply = ledger_reply_row(m, row);
	return HANDLE_REPLY;
}

/*
 * Who answers, judged like an approval (queue/handle.c approver_of): a chat
 * user only through opsbot-bot (the queue's own account), "cli" as the
 * peer's local account whatever the user field says; the person must be in
 * the policy and allowed to approve `action`.  1 with person/user set, or 0
 * with why.
 */
static int ledger_who(const struct queue *q, const struct wire_msg *m, const char *action,
                      const char **user, const char **person, char *why, size_t whylen)
{
	const char *surface = json_str(m->root, "surface");
	const struct handle_peer *p = q->peer;
	int service = !p || p->kind == PEER_SERVICE;
	*user = json_str(m->root, "user");
	*person = NULL;
	if (strcmp(surface, "cli") != 0) {
		if (!service) {
			snprintf(
			    why, whylen,
			    "only opsbot-bot may answer for a %s user; opsbotctl answers as your "
			    "local account",
			    surface);
			return 0;
		}
	} else if (p) {
		if (!p->account[0]) {
			snprintf(why, whylen,
			         "the queue could not tell which local account sent this");
			return 0;
		}
		*user = p->account; /* the socket says who; the field is a claim */
	}
	if (!q->pol) {
		snprintf(why, whylen,
		         "no approval policy is loaded ([queue] policy), so nobody can answer");
		return 0;
	}
	const char *kind = strcmp(surface, "cli") ? surface : "unix";
	*person = policy_person_of(q->pol, kind, *user);
	if (!*person) {
		snprintf(why, whylen, "%s %s is not a person in the approval policy",
		         strcmp(surface, "cli") ? surface : "local account", *user);
		return 0;
	}
	struct policy_approval ap;
	const struct catalog_action *a = q->cat ? catalog_find(q->cat, action) : NULL;
	if (a)
		policy_approval_for(q->pol, a, &ap);
	else
		policy_default_approval(q->pol, &ap);
	char pwhy[300];
	if (!policy_person_may_approve(q->pol, &ap, action, *person, NULL, pwhy, sizeof(pwhy))) {
		snprintf(why, whylen, "%s may not answer for %s: %s", *person, action, pwhy);
		return 0;
	}
	return 1;
}

/*
 * A refused answer to "step N may or may not have run", recorded in the
 * incident's timeline as approval.refused with what:"step" (the clicker
 * alone is told; the PDF and opsbotctl show list it).  The reply is the
 * refusal (code, why); -1 when the store failed.
 */
static int ledger_refused(struct queue *q, const struct wire_msg *m, int64_t incident,
                          const cJSON *row, const char *person, const char *code, cJSON **reply,
                          const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static int ledger_refused(struct queue *q, const struct wire_msg *m, int64_t incident,
                          const cJSON *row, const char *person, const char *code, cJSON **reply,
                          const char *fmt, ...)
{
	char why[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	*reply = wire_reply_err(m, code, "%s", why);
	const struct handle_peer *p = q->peer;
	const char *surface = json_str(m->root, "surface"), *user = json_str(m->root, "user");
	if (!strcmp(surface, "cli") && p && p->kind != PEER_SERVICE && p->account[0])
		user = p->account; /* the socket says who; the field is a claim */
	char identity[300];
	snprintf(identity, sizeof(identity), "%s %s%s%s", surface, user, person ? " = " : "",
	         person ? person : "");
	cJSON *d = json_new_object();
	json_add_str(d, "what", "step");
	json_add_str(d, "step_key", json_str(m->root, "step_key"));
	if (row) {
		json_add_int(d, "step", json_int(row, "step", 0));
		json_add_str(d, "action", json_str(row, "action"));
	}
	json_add_str(d, "decision", json_str(m->root, "decision"));
	json_add_str(d, "user", user);
	json_add_str(d, "surface", surface);
	if (person)
		json_add_str(d, "person", person);
	else
		json_add(d, "person", cJSON_CreateNull());
	json_add_str(d, "identity", identity);
	json_add_str(d, "error", code);
	json_add_str(d, "reason", why);
	json_add_str(d, "via", p ? p->via : "internal");
	log_info("event=ledger_answer_refused incident=%lld identity=%s error=%s reason=%s",
	         (long long)incident, log_q(identity), code, log_q(why));
	return q_event(q, incident, WIRE_EV_APPROVAL_REFUSED, d);
}

/* One answer to "step N may or may not have run" as ledger_decide takes it. */
struct ledger_answer {
	const struct wire_msg *m;
	struct store_incident in;
	cJSON *row;                                      /* the step's ledger row (owned) */
	const char *key, *step_key, *decision, *surface; /* borrowed from m */
	const char *user;   /* the field, or for cli the socket's account */
	const char *person; /* NULL when not in the policy */
};

/* The steps below return 0 to go on, 1 when the answer was refused (*reply
 * set), or a negative store error. */
static int ledger_answered(int rc)
{
	return rc < 0 ? rc : 1;
}

/* A repeated key: the row as it stands, marked duplicate. */
static enum handle_rc ledger_decide_again(struct queue *q, const struct ledger_answer *a,
                                          cJSON **reply)
{
	cJSON *row = NULL;
	if (ledger_get(q, a->step_key, &row) < 0) {
		cJSON_Delete(row);
		return HANDLE_STORE_ERR;
	}
	*reply = wire_reply_ok(a->m);
	json_add(*reply, "row", row ? row : cJSON_CreateNull());
	json_add_str(*reply, "state", a->in.state);
	json_add_bool(*reply, "duplicate", 1);
	return HANDLE_REPLY;
}

/* The step is this incident's, its question is still open, and this person
 * may answer it (a->row, a->user, a->person filled). */
static int ledger_decide_check(struct queue *q, struct ledger_answer *a, cJSON **reply)
{
	const struct wire_msg *m = a->m;
	int64_t id = a->in.id;
	int rc = ledger_get(q, a->step_key, &a->row);
	if (rc < 0)
		return rc;
	/* A step of another incident is refused like a missing one: a button
	 * carries its incident, and a click on the wrong message changes nothing. */
	if (rc == 0 || json_int(a->row, "incident", 0) != id)
		return ledger_answered(ledger_refused(q, m, id, NULL, NULL, "not_found", reply,
		                                      "incident %lld has no ledger step %s",
		                                      (long long)id, a->step_key));
	const cJSON *row = a->row;
	const char *cur = json_str(row, "state");
	const char *prev = json_str(row, "decision");
	long long step = (long long)json_int(row, "step", 0);
	char nwhy[400];
	int may =
	    ledger_who(q, m, json_str(row, "action"), &a->user, &a->person, nwhy, sizeof(nwhy));
	if (prev)
		return ledger_answered(ledger_refused(
		    q, m, id, row, a->person, "wrong_state", reply,
		    "step %lld was already decided: %s by %s; nothing changed", step, prev,
		    json_str(row, "decided_by") ? json_str(row, "decided_by") : "someone"));
	if (strcmp(cur, "unknown") != 0)
		return ledger_answered(
		    ledger_refused(q, m, id, row, a->person, "wrong_state", reply,
		                   "step %lld is %s; there is no question to answer", step, cur));
	if (!may)
		return ledger_answered(ledger_refused(q, m, id, row, a->person, "forbidden", reply,
		                                      "%s; nothing was recorded", nwhy));
	return 0;
}

/* The row records the answer (retry: unknown again, skip: skipped, abort:
 * aborted) and who gave it; the timeline gets action.decided. */
static int ledger_decide_write(struct queue *q, const struct ledger_answer *a)
{
	const char *decision = a->decision;
	const char *newstate = !strcmp(decision, "retry")  ? "unknown"
	                       : !strcmp(decision, "skip") ? "skipped"
	                                                   : "aborted";
	char who[300];
	snprintf(who, sizeof(who), "%s (%s %s)", a->person, a->surface, a->user);
	sqlite3_stmt *st = ledger_prep(q, "UPDATE action_ledger SET state = ?2, decision = ?3,"
	                                  " decided_by = ?4, finished_ms = ?5 WHERE step_key = ?1");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, a->step_key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, newstate, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, decision, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, who, -1, SQLITE_TRANSIENT);
	if (strcmp(decision, "retry") != 0)
		sqlite3_bind_int64(st, 5, q->now);
	else
		sqlite3_bind_null(st, 5);
	int rc = ledger_run(q, st);
	if (rc < 0)
		return rc;
	cJSON *d = json_new_object();
	json_add_str(d, "step_key", a->step_key);
	json_add_int(d, "step", json_int(a->row, "step", 0));
	json_add_str(d, "action", json_str(a->row, "action"));
	json_add_str(d, "decision", decision);
	json_add_str(d, "user", a->user);
	json_add_str(d, "person", a->person);
	json_add_str(d, "surface", a->surface);
	return q_event(q, a->in.id, WIRE_EV_ACTION_DECIDED, d);
}

/* What the answer means for the held job and the incident: abort cancels
 * the job and fails the incident; retry or skip lets the job run on (a
 * paused incident's job waits for resume). */
static int ledger_decide_follow(struct queue *q, struct ledger_answer *a)
{
	int64_t job = json_int(a->row, "job", 0);
	struct store_job j;
	int have = store_job_get(q->st, job, &j);
	int rc = 0;
	if (have < 0)
		return -1;
	if (!strcmp(a->decision, "abort")) {
		char why[400];
		snprintf(
		    why, sizeof(why),
		    "aborted by %s: step %lld (%s) may or may not have run; nothing more runs, "
		    "check the target by hand",
		    a->person, (long long)json_int(a->row, "step", 0), json_str(a->row, "action"));
		if (have == 1 && !strcmp(j.state, "held"))
			rc = store_job_set(q->st, job, "cancelled", NULL, why, -1, q->now);
		enum state_id s;
		if (rc == 0 && state_parse(a->in.state, &s) == 0 && state_allowed(s, ST_FAILED) &&
		    s != ST_FAILED) {
			a->in.prev_state[0] = '\0';
			a->in.advance_pending = 0;
			rc = inc_move(q, &a->in, ST_FAILED, why);
			if (rc == 0)
				rc = inc_save(q, &a->in);
		}
	} else if (have == 1 && !strcmp(j.state, "held") &&
	           strcmp(a->in.state, WIRE_ST_PAUSED) != 0) {
		rc = store_job_set(q->st, job, "ready", NULL, NULL, q->now, q->now);
		queue_mark_ready(q, j.kind); /* wakes the executor's parked claim */
	}
	if (have == 1)
		store_job_clear(&j);
	return rc;
}

/* The reply: the row as it is now and the incident's state. */
static int ledger_decide_reply(struct queue *q, struct ledger_answer *a, cJSON **reply)
{
	log_info("event=ledger_decided incident=%lld step_key=%s decision=%s person=%s user=%s "
	         "surface=%s",
	         (long long)a->in.id, log_q(a->step_key), a->decision, log_q(a->person),
	         log_q(a->user), log_q(a->surface));
	cJSON_Delete(a->row);
	a->row = NULL;
	if (ledger_get(q, a->step_key, &a->row) < 0)
		return -1;
	*reply = wire_reply_ok(a->m);
	json_add(*reply, "row", a->row);
	json_add_str(*reply, "state", a->in.state);
	a->row = NULL;
	return 0;
}

static enum handle_rc ledger_decide(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	struct ledger_answer a = {
	    .m = m,
	    .key = json_str(m->root, "key"),
	    .step_key = json_str(m->root, "step_key"),
	    .decision = json_str(m->root, "decision"),
	    .user = json_str(m->root, "user"),
	    .surface = json_str(m->root, "surface"),
	};
	if (m->incident <= 0) {
		*reply = wire_reply_err(m, "bad_request", "field 'incident' must name an incident");
		return HANDLE_REPLY;
	}
	int rc = store_incident_get(q->st, m->incident, &a.in);
	TRY(rc);
	if (rc == 0) {
		*reply = wire_reply_err(m, "not_found", "there is no incident %lld",
		                        (long long)m->incident);
		return HANDLE_REPLY;
	}
	enum handle_rc out = HANDLE_REPLY;
	struct store_key k;
	if (a.key && (rc = store_key_get(q->st, a.key, m->id, &k)) != 0) {
		out = rc < 0 ? HANDLE_STORE_ERR : ledger_decide_again(q, &a, reply);
		goto done;
	}
	rc = ledger_decide_check(q, &a, reply);
	if (rc == 0)
		rc = ledger_decide_write(q, &a);
	if (rc == 0)
		rc = ledger_decide_follow(q, &a);
	if (rc == 0 && a.key)
		rc = store_key_put(q->st, a.key,
		                   &(struct store_key){.incident = a.in.id, .request = m->id},
		                   q->now);
	if (rc == 0)
		rc = ledger_decide_reply(q, &a, reply);
	if (rc < 0)
		out = HANDLE_STORE_ERR;
done:
	cJSON_Delete(a.row);
	store_incident_clear(&a.in);
	return out;
}

static enum handle_rc ledger_list(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	int64_t limit = json_int(m->root, "limit", 100);
	if (limit > LEDGER_LIST_MAX)
		limit = LEDGER_LIST_MAX;
	sqlite3_stmt *st = ledger_prep(
	    q, m->incident > 0 ? "SELECT " LEDGER_COLS " FROM action_ledger WHERE incident = ?1"
	                         " ORDER BY id LIMIT ?2"
	                       : "SELECT * FROM (SELECT " LEDGER_COLS " FROM action_ledger"
	                         " WHERE ?1 = 0 ORDER BY id DESC LIMIT ?2) ORDER BY id");
	if (!st)
		return HANDLE_STORE_ERR;
	sqlite3_bind_int64(st, 1, m->incident);
	sqlite3_bind_int64(st, 2, limit);
	cJSON *items = json_new_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cJSON_AddItemToArray(items, ledger_row(st));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cJSON_Delete(items);
		return HANDLE_STORE_ERR;
	}
	*reply = wire_reply_ok(m);
	json_add(*reply, "items", items);
	return HANDLE_REPLY;
}

int ledger_new_round(struct queue *q, int64_t incident)
{
	sqlite3_stmt *st =
	    ledger_prep(q, "UPDATE approvals SET decision = 'approve (earlier round)'"
	                   " WHERE incident = ?1 AND decision = 'approve'");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, incident);
	return ledger_run(q, st);
}

enum handle_rc ledger_handle(struct queue *q, const struct wire_msg *m, cJSON **reply)
{
	const char *op = json_str(m->root, "op");
	if (strcmp(op, "list") != 0 && m->incident <= 0) {
		*reply = wire_reply_err(m, "bad_request", "field 'incident' must name an incident");
		return HANDLE_REPLY;
	}
	if (!strcmp(op, "begin"))
		return ledger_begin(q, m, reply);
	if (!strcmp(op, "restart"))
		return ledger_restart(q, m, reply);
	if (!strcmp(op, "finish"))
		return ledger_finish(q, m, reply);
	if (!strcmp(op, "ask"))
		return ledger_ask(q, m, reply);
	if (!strcmp(op, "decide"))
		return ledger_decide(q, m, reply);
	return ledger_list(q, m, reply);
}
