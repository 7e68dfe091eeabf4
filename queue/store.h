/*
 * store.h: the queue's durable storage, behind one interface.
 *
 * Today SQLite (store.c, WAL, one writer); the interface speaks in incidents,
 * jobs, events and keys, never SQL, so a networked database can take its
 * place (DESIGN.md "Scale").  Every call except open/close/begin/commit/
 * rollback runs inside the caller's transaction: the queue groups many
 * requests into one transaction and replies only after store_commit().
 *
 * Errors: functions return 0 (or 1 for "found"), and -1 when the store
 * failed; the message is then in store_errmsg() and the caller rolls back.
 *
 * Ownership: char * fields of returned structs are malloc'd and freed by
 * store_incident_clear()/store_job_clear(); cJSON trees appended to the
 * caller's arrays belong to the caller's tree.
 */
#ifndef OPSBOT_QUEUE_STORE_H
#define OPSBOT_QUEUE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct store;

struct store_incident {
	int64_t id;
	char state[24];
	char prev_state[24]; /* "" unless paused */
	char *title, *service, *severity, *source;
	char *spec;                   /* JSON object text */
	char *results;                /* JSON object text: stage -> result */
	int64_t approval_deadline_ms; /* 0 when not awaiting */
	int advance_pending;
	int64_t created_ms, updated_ms;
};

struct store_job {
	int64_t id;
	int64_t incident;
	char kind[40];
	char state[12]; /* ready|leased|held|done|dead|cancelled */
	char *input;    /* JSON object text */
	char *result;   /* JSON object text or NULL */
	char *error;    /* last failure or NULL */
	char lease[64];
	char worker[64];
	int attempt, max_attempts;
	int64_t lease_deadline_ms, ready_at_ms;
	int64_t created_ms, updated_ms;
};

enum store_sync { STORE_SYNC_FULL, STORE_SYNC_NORMAL };

int store_open(const char *path, enum store_sync sync, struct store **out, char *err,
               size_t errlen);
void store_close(struct store *s);
const char *store_errmsg(struct store *s);

int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/*
 * Idempotency keys.  A key records what the request that first carried it
 * stored (incident, job, whether the incident was grouped into one already
 * open) and that request's wire id, so the same request sent again (NNG's REQ
 * resends it by itself after a reconnect) can be told from a repeat.
 */
struct store_key {
	int64_t incident, job;
	int grouped;
	const char *request; /* the wire id; put only */
};
/* 0 when key is unknown; 1 and *out when a different request stored it;
   2 and *out when `request` did (a resend). */
int store_key_get(struct store *s, const char *key, const char *request, struct store_key *out);
int store_key_put(struct store *s, const char *key, const struct store_key *k, int64_t now);

/* Incidents. */
int store_incident_insert(struct store *s, const char *state, const char *title,
                          const char *service, const char *severity, const char *source,
                          const char *spec, int64_t now, int64_t *id);
/* 1 and *out filled, 0 when there is no such incident. */
int store_incident_get(struct store *s, int64_t id, struct store_incident *out);
/* Write state, prev_state, results, approval_deadline_ms, advance_pending of in. */
int store_incident_update(struct store *s, const struct store_incident *in, int64_t now);
void store_incident_clear(struct store_incident *in);
/* The record as JSON (spec fields flattened in); caller owns it. */
cJSON *store_incident_json(const struct store_incident *in);
/* Incidents awaiting approval whose deadline passed, up to max ids. */
int store_incident_expired(struct store *s, int64_t now, int64_t *ids, int max, int *n);

/* Jobs. */
int store_job_insert(struct store *s, int64_t incident, const char *kind, const char *state,
                     const char *input, int max_attempts, int64_t ready_at, int64_t now,
                     int64_t *id);
int store_job_get(struct store *s, int64_t id, struct store_job *out);
/*
 * Lease the oldest ready job of one of kinds (ready_at_ms <= now): 1 and
 * *out (after the update), 0 when none.
 */
int store_job_claim(struct store *s, const char *const *kinds, int nkinds, const char *worker,
                    const char *lease, int64_t deadline, int64_t now, struct store_job *out);
/*
 * Lease up to max of the oldest ready jobs of one kind (one SELECT, then an
 * UPDATE by id each), each under "<lease>.<job id>"; fills out[0..n) oldest
 * first (store_job_clear each).  Returns n (0 when none is ready) or -1.
 */
int store_job_claim_batch(struct store *s, const char *kind, int max, const char *worker,
                          const char *lease, int64_t deadline, int64_t now, struct store_job *out);
/*
 * Mark job id done with result when it is a standalone job (incident 0)
 * leased under lease: 1; 0 when it is not (the caller takes the general
 * path); -1 on a store failure.
 */
int store_job_finish(struct store *s, int64_t id, const char *lease, const char *result,
                     int64_t now);
int store_job_extend(struct store *s, int64_t id, int64_t deadline, int64_t now);
/* Set state (and result/error/ready_at when not NULL / >= 0); lease is kept. */
int store_job_set(struct store *s, int64_t id, const char *state, const char *result,
                  const char *error, int64_t ready_at, int64_t now);
/* Re-arm a dead job: ready now, attempt 0. */
int store_job_rearm(struct store *s, int64_t id, int64_t now);
/* Move every job of incident in state from to state to; *n how many. */
int store_job_move_incident(struct store *s, int64_t incident, const char *from, const char *to,
                            int64_t now, int *n);
/* Leased jobs whose deadline passed, up to max ids. */
int store_job_expired(struct store *s, int64_t now, int64_t *ids, int max, int *n);
/* The newest job of incident that is not done/cancelled; 1, or 0 when none. */
int store_job_current(struct store *s, int64_t incident, struct store_job *out);
void store_job_clear(struct store_job *j);
/* The job as JSON; caller owns it.  with_payload adds input/result. */
cJSON *store_job_json(const struct store_job *j, int with_payload);

/* Events: append one (its seq out) and read them back. */
int store_event_append(struct store *s, int64_t incident, const char *name, const char *data,
                       int64_t now, int64_t *seq);
/*
 * Append events with seq > since (of one incident when incident > 0) to
 * items as {seq, incident, name, at_ms, data}, at most limit.
 */
int store_events(struct store *s, int64_t incident, int64_t since, int limit, cJSON *items);

/* Approvals (the table later issues extend). */
int store_approval_insert(struct store *s, int64_t incident, const char *plan, const char *user,
                          const char *surface, const char *decision, int64_t now);
/* The decisions on one plan of incident, oldest first: {user, surface, decision, at_ms}. */
int store_approvals_list(struct store *s, int64_t incident, const char *plan, cJSON *items);

/* The SQLite connection, for queue/ledger.c's own statements (same transaction). */
struct sqlite3;
struct sqlite3 *store_sqlite(struct store *s);

/* Listings for query; state NULL means any. */
int store_incidents_list(struct store *s, const char *state, int limit, cJSON *items);
int store_jobs_list(struct store *s, const char *state, int limit, cJSON *items);
/* {jobs:{kind:{state:n}}, leases, dead_letters, incidents:{state:n}, events} into stats. */
int store_stats(struct store *s, cJSON *stats);

/* Grouping (queue/group.c): live incidents, newest first. */
struct store_live {
	int64_t id;
	char service[128];
	int64_t created_ms;
};
/*
 * Incidents not resolved, rejected, expired or failed that were created at
 * or after since_ms, newest first, at most max of them.
 */
int store_incidents_live_since(struct store *s, int64_t since_ms, struct store_live *out, int max,
                               int *n);
/* Replace an incident's spec (JSON object text). */
int store_incident_set_spec(struct store *s, int64_t id, const char *spec, int64_t now);

/* Retention (queue/retention.c): how many rows one prune removed. */
struct store_pruned {
	int64_t jobs, events, keys;
};
/*
 * Delete, each older than its cut-off (ms since the epoch, by last update):
 * finished jobs (done, cancelled), events of no incident (a standalone
 * job's retries), and idempotency keys.  Incidents, their timelines,
 * approvals, the ledger and dead-lettered jobs stay.  At most limit rows of
 * each per call, so one call never holds the writer for long.
 */
int store_prune(struct store *s, int64_t jobs_before, int64_t events_before, int64_t keys_before,
                int limit, struct store_pruned *out);

#endif
