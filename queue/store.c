/*
 * store.c: the queue store on SQLite (store.h).
 *
 * Invariants:
 *   1. One connection, used by one thread (the queue's main loop); SQLite is
 *      opened with SQLITE_OPEN_NOMUTEX because nothing else touches it.
 *   2. WAL mode; synchronous FULL by default, so a COMMIT that returned is on
 *      disk before any reply goes out.
 *   3. Every statement is prepared once at open and reset after each use, so
 *      no statement holds a read snapshot across transactions.
 *   4. Event seq comes from an AUTOINCREMENT key: strictly increasing, never
 *      reused even after rows are deleted.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"

enum {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_KEY_GET,
	Q_KEY_PUT,
	Q_INC_INSERT,
	Q_INC_GET,
	Q_INC_UPDATE,
	Q_INC_EXPIRED,
	Q_JOB_INSERT,
	Q_JOB_GET,
	Q_JOB_READY,
	Q_JOB_LEASE,
	Q_JOB_READY_BATCH,
	Q_JOB_LEASE_ID,
	Q_JOB_FINISH,
	Q_JOB_EXTEND,
	Q_JOB_SET,
	Q_JOB_REARM,
	Q_JOB_MOVE,
	Q_JOB_EXPIRED,
	Q_JOB_CURRENT,
	Q_EV_APPEND,
	Q_EV_ALL,
	Q_EV_INC,
	Q_APPROVAL,
	Q_APPROVAL_LIST,
	Q_INC_LIST,
	Q_INC_LIST_STATE,
	Q_JOB_LIST,
	Q_JOB_LIST_STATE,
	Q_JOB_LIST_DEAD,
	Q_STATS_JOBS,
	Q_STATS_INC,
	Q_STATS_EV,
	Q_COUNT
};

#define JOB_COLS                                                                                   \
	"id, incident, kind, state, input, result, error, lease, worker, attempt, "                \
	"max_attempts, lease_deadline_ms, ready_at_ms, created_ms, updated_ms"
#define INC_COLS                                                                                   \
	"id, state, prev_state, title, service, severity, source, spec, results, "                 \
	"approval_deadline_ms, advance_pending, created_ms, updated_ms"

static const char *const sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_KEY_GET] = "SELECT incident, job, grouped, request = ?2 FROM idempotency WHERE key = ?1",
    [Q_KEY_PUT] = "INSERT INTO idempotency(key, incident, job, created_ms, request, grouped) "
                  "VALUES(?1,?2,?3,?4,?5,?6)",
    [Q_INC_INSERT] = "INSERT INTO incidents(state, title, service, severity, source, spec, "
                     "created_ms, updated_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?7)",
    [Q_INC_GET] = "SELECT " INC_COLS " FROM incidents WHERE id = ?1",
    [Q_INC_UPDATE] = "UPDATE incidents SET state=?2, prev_state=?3, results=?4, "
                     "approval_deadline_ms=?5, advance_pending=?6, updated_ms=?7 WHERE id=?1",
    [Q_INC_EXPIRED] = "SELECT id FROM incidents WHERE state='awaiting_approval' AND "
                      "approval_deadline_ms <= ?1 ORDER BY id LIMIT ?2",
    [Q_JOB_INSERT] = "INSERT INTO jobs(incident, kind, state, input, max_attempts, ready_at_ms, "
                     "created_ms, updated_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?7)",
    [Q_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [Q_JOB_READY] = "SELECT id, ready_at_ms FROM jobs WHERE state='ready' AND kind=?1 AND "
                    "ready_at_ms <= ?2 ORDER BY ready_at_ms, id LIMIT 1",
    [Q_JOB_LEASE] = "UPDATE jobs SET state='leased', attempt=attempt+1, lease=?2, worker=?3, "
                    "lease_deadline_ms=?4, updated_ms=?5 WHERE id=?1 RETURNING " JOB_COLS,
    /* A batch claim: up to ?3 of the oldest ready jobs of kind ?1 (jobs_ready), read whole,
       then each leased by its id.  One UPDATE ... WHERE id IN (...) RETURNING did it in one
       statement but made SQLite build two temporary b-trees per claim (the IN list and the
       RETURNING rows), which cost more than the plain updates. */
    [Q_JOB_READY_BATCH] = "SELECT " JOB_COLS " FROM jobs WHERE state='ready' AND kind=?1 AND "
                          "ready_at_ms <= ?2 ORDER BY ready_at_ms, id LIMIT ?3",
    [Q_JOB_LEASE_ID] = "UPDATE jobs SET state='leased', attempt=attempt+1, lease=?2, worker=?3, "
                       "lease_deadline_ms=?4, updated_ms=?5 WHERE id=?1",
    /* complete's common case in one statement: a standalone job leased under this lease (no
       RETURNING: SQLite builds a temporary table for it, which cost more than the update). */
    [Q_JOB_FINISH] = "UPDATE jobs SET state='done', result=?3, updated_ms=?4 WHERE id=?1 AND "
                     "state='leased' AND lease=?2 AND incident=0",
    [Q_JOB_EXTEND] = "UPDATE jobs SET lease_deadline_ms=?2, updated_ms=?3 WHERE id=?1",
    [Q_JOB_SET] = "UPDATE jobs SET state=?2, result=coalesce(?3, result), "
                  "error=coalesce(?4, error), ready_at_ms=CASE WHEN ?5 >= 0 THEN ?5 ELSE "
                  "ready_at_ms END, updated_ms=?6 WHERE id=?1",
    [Q_JOB_REARM] = "UPDATE jobs SET state='ready', attempt=0, ready_at_ms=?2, updated_ms=?2 "
                    "WHERE id=?1",
    /* "incident > 0" lets the partial index jobs_incident serve it (migration 4). */
    [Q_JOB_MOVE] = "UPDATE jobs SET state=?3, updated_ms=?4 WHERE incident=?1 AND incident > 0 "
                   "AND state=?2",
    [Q_JOB_EXPIRED] = "SELECT id FROM jobs WHERE state='leased' AND lease_deadline_ms <= ?1 "
                      "ORDER BY lease_deadline_ms LIMIT ?2",
    [Q_JOB_CURRENT] = "SELECT " JOB_COLS " FROM jobs WHERE incident=?1 AND incident > 0 AND "
                      "state NOT IN "
                      "('done','cancelled') ORDER BY id DESC LIMIT 1",
    [Q_EV_APPEND] = "INSERT INTO events(incident, name, at_ms, data) VALUES(?1,?2,?3,?4)",
    [Q_EV_ALL] = "SELECT seq, incident, name, at_ms, data FROM events WHERE seq > ?1 "
                 "ORDER BY seq LIMIT ?2",
    [Q_EV_INC] = "SELECT seq, incident, name, at_ms, data FROM events WHERE incident = ?3 AND "
                 "seq > ?1 ORDER BY seq LIMIT ?2",
    [Q_APPROVAL] = "INSERT INTO approvals(incident, plan, user, surface, decision, at_ms) "
                   "VALUES(?1,?2,?3,?4,?5,?6)",
    [Q_APPROVAL_LIST] = "SELECT user, surface, decision, at_ms FROM approvals WHERE incident = ?1 "
                        "AND plan = ?2 ORDER BY id",
    [Q_INC_LIST] = "SELECT " INC_COLS " FROM incidents ORDER BY id DESC LIMIT ?1",
    [Q_INC_LIST_STATE] = "SELECT " INC_COLS " FROM incidents WHERE state = ?2 "
                         "ORDER BY id DESC LIMIT ?1",
    [Q_JOB_LIST] = "SELECT " JOB_COLS " FROM jobs ORDER BY id DESC LIMIT ?1",
    [Q_JOB_LIST_STATE] = "SELECT " JOB_COLS " FROM jobs WHERE state = ?2 "
                         "ORDER BY id DESC LIMIT ?1",
    [Q_JOB_LIST_DEAD] = "SELECT " JOB_COLS " FROM jobs WHERE state = 'dead' "
                        "ORDER BY id DESC LIMIT ?1",
    [Q_STATS_JOBS] = "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state",
    [Q_STATS_INC] = "SELECT state, count(*) FROM incidents GROUP BY state",
    [Q_STATS_EV] = "SELECT coalesce(max(seq), 0) FROM events",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	char err[512];
};

const char *store_errmsg(struct store *s)
{
	return s->err;
}

static int store_fail(struct store *s, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what, sqlite3_errmsg(s->db));
	log_error("event=store_error what=%s error=%s", what, log_q(sqlite3_errmsg(s->db)));
	return -1;
}

/* The prepared statement i, reset and with bindings cleared. */
static sqlite3_stmt *stmt(struct store *s, int i)
{
	sqlite3_stmt *st = s->q[i];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Run a statement that returns no rows. */
static int run(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_fail(s, what);
	return 0;
}

static int mkdir_parents(const char *path)
{
	char dir[1024];
	if (str_copy(dir, sizeof(dir), path) < 0)
		return -1;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

int store_open(const char *path, enum store_sync sync, struct store **out, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	char e[512];
	if (mkdir_parents(path) < 0) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", path,
		         strerror(errno));
		free(s);
		return -1;
	}
	if (sqlite3_open_v2(path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto bad;
	}
	sqlite3_busy_timeout(s->db, 5000);
	const char *pragmas = sync == STORE_SYNC_FULL
	                          ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
	char *msg = NULL;
	if (sqlite3_exec(s->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set WAL mode on %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		goto bad;
	}
	sqlite3_exec(s->db, "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;", NULL, NULL, NULL);
	if (migrate_apply(s->db, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s: %s", path, e);
		goto bad;
	}
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
		                       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: cannot prepare statement %d: %s", path, i,
			         sqlite3_errmsg(s->db));
			goto bad;
		}
	}
	*out = s;
	return 0;
bad:
	store_close(s);
	return -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close(s->db);
	free(s);
}

struct sqlite3 *store_sqlite(struct store *s)
{
	return s->db;
}

int store_begin(struct store *s)
{
	return run(s, stmt(s, Q_BEGIN), "begin");
}

int store_commit(struct store *s)
{
	return run(s, stmt(s, Q_COMMIT), "commit");
}

void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		run(s, stmt(s, Q_ROLLBACK), "rollback");
}

int store_key_get(struct store *s, const char *key, const char *request, struct store_key *out)
{
	sqlite3_stmt *st = stmt(s, Q_KEY_GET);
	bind_text(st, 1, key);
	bind_text(st, 2, request ? request : "");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = (struct store_key){.incident = sqlite3_column_int64(st, 0),
		                          .job = sqlite3_column_int64(st, 1),
		                          .grouped = sqlite3_column_int(st, 2)};
		/* Rows from before migration 5 have request '': never a resend. */
		int same = request && request[0] && sqlite3_column_int(st, 3) == 1;
		sqlite3_reset(st);
		return same ? 2 : 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "key_get");
}

int store_key_put(struct store *s, const char *key, const struct store_key *k, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_KEY_PUT);
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, k->incident);
	sqlite3_bind_int64(st, 3, k->job);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, k->request ? k->request : "");
	sqlite3_bind_int(st, 6, k->grouped);
	return run(s, st, "key_put");
}

int store_incident_insert(struct store *s, const char *state, const char *title,
                          const char *service, const char *severity, const char *source,
                          const char *spec, int64_t now, int64_t *id)
{
	sqlite3_stmt *st = stmt(s, Q_INC_INSERT);
	bind_text(st, 1, state);
	bind_text(st, 2, title);
	bind_text(st, 3, service);
	bind_text(st, 4, severity);
	bind_text(st, 5, source);
	bind_text(st, 6, spec);
	sqlite3_bind_int64(st, 7, now);
	if (run(s, st, "incident_insert") < 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	str_copy(dst, len, t ? (const char *)t : "");
}

static void incident_row(sqlite3_stmt *st, struct store_incident *in)
{
	memset(in, 0, sizeof(*in));
	in->id = sqlite3_column_int64(st, 0);
	col_copy(st, 1, in->state, sizeof(in->state));
	col_copy(st, 2, in->prev_state, sizeof(in->prev_state));
	in->title = col_dup(st, 3);
	in->service = col_dup(st, 4);
	in->severity = col_dup(st, 5);
	in->source = col_dup(st, 6);
	in->spec = col_dup(st, 7);
	in->results = col_dup(st, 8);
	in->approval_deadline_ms = sqlite3_column_int64(st, 9);
	in->advance_pending = sqlite3_column_int(st, 10);
	in->created_ms = sqlite3_column_int64(st, 11);
	in->updated_ms = sqlite3_column_int64(st, 12);
}

int store_incident_get(struct store *s, int64_t id, struct store_incident *out)
{
	sqlite3_stmt *st = stmt(s, Q_INC_GET);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		incident_row(st, out);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "incident_get");
}

int store_incident_update(struct store *s, const struct store_incident *in, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_INC_UPDATE);
	sqlite3_bind_int64(st, 1, in->id);
	bind_text(st, 2, in->state);
	bind_text(st, 3, in->prev_state[0] ? in->prev_state : NULL);
	bind_text(st, 4, in->results ? in->results : "{}");
	if (in->approval_deadline_ms)
		sqlite3_bind_int64(st, 5, in->approval_deadline_ms);
	sqlite3_bind_int(st, 6, in->advance_pending);
	sqlite3_bind_int64(st, 7, now);
	return run(s, st, "incident_update");
}

void store_incident_clear(struct store_incident *in)
{
	free(in->title);
	free(in->service);
	free(in->severity);
	free(in->source);
	free(in->spec);
	free(in->results);
	memset(in, 0, sizeof(*in));
}

cJSON *store_incident_json(const struct store_incident *in)
{
	cJSON *o = NULL;
	char err[64];
	if (!in->spec || json_parse_object(in->spec, strlen(in->spec), &o, err, sizeof(err)) < 0)
		o = json_new_object();
	/* The envelope-level facts go first in a person's reading order. */
	cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "state");
	json_add_int(o, "id", in->id);
	json_add_str(o, "state", in->state);
	if (in->prev_state[0])
		json_add_str(o, "paused_from", in->prev_state);
	if (in->approval_deadline_ms)
		json_add_int(o, "approval_deadline_ms", in->approval_deadline_ms);
	json_add_int(o, "created_ms", in->created_ms);
	json_add_int(o, "updated_ms", in->updated_ms);
	return o;
}

static int ids_query(struct store *s, int q, int64_t now, int64_t *ids, int max, int *n,
                     const char *what)
{
	sqlite3_stmt *st = stmt(s, q);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, max);
	int rc;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_fail(s, what);
}

int store_incident_expired(struct store *s, int64_t now, int64_t *ids, int max, int *n)
{
	return ids_query(s, Q_INC_EXPIRED, now, ids, max, n, "incident_expired");
}

int store_job_insert(struct store *s, int64_t incident, const char *kind, const char *state,
                     const char *input, int max_attempts, int64_t ready_at, int64_t now,
                     int64_t *id)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_INSERT);
	sqlite3_bind_int64(st, 1, incident);
	bind_text(st, 2, kind);
	bind_text(st, 3, state);
	bind_text(st, 4, input ? input : "{}");
	sqlite3_bind_int(st, 5, max_attempts);
	sqlite3_bind_int64(st, 6, ready_at);
	sqlite3_bind_int64(st, 7, now);
	if (run(s, st, "job_insert") < 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static void job_row(sqlite3_stmt *st, struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	j->incident = sqlite3_column_int64(st, 1);
	col_copy(st, 2, j->kind, sizeof(j->kind));
	col_copy(st, 3, j->state, sizeof(j->state));
	j->input = col_dup(st, 4);
	j->result = col_dup(st, 5);
	j->error = col_dup(st, 6);
	col_copy(st, 7, j->lease, sizeof(j->lease));
	col_copy(st, 8, j->worker, sizeof(j->worker));
	j->attempt = sqlite3_column_int(st, 9);
	j->max_attempts = sqlite3_column_int(st, 10);
	j->lease_deadline_ms = sqlite3_column_int64(st, 11);
	j->ready_at_ms = sqlite3_column_int64(st, 12);
	j->created_ms = sqlite3_column_int64(st, 13);
	j->updated_ms = sqlite3_column_int64(st, 14);
}

int store_job_get(struct store *s, int64_t id, struct store_job *out)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_GET);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		job_row(st, out);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "job_get");
}

int store_job_claim(struct store *s, const char *const *kinds, int nkinds, const char *worker,
                    const char *lease, int64_t deadline, int64_t now, struct store_job *out)
{
	int64_t best = 0, best_at = 0;
	for (int i = 0; i < nkinds; i++) {
		sqlite3_stmt *st = stmt(s, Q_JOB_READY);
		bind_text(st, 1, kinds[i]);
		sqlite3_bind_int64(st, 2, now);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(st, 0), at = sqlite3_column_int64(st, 1);
			if (!best || at < best_at || (at == best_at && id < best))
				best = id, best_at = at;
		} else if (rc != SQLITE_DONE) {
			sqlite3_reset(st);
			return store_fail(s, "job_ready");
		}
		sqlite3_reset(st);
	}
	if (!best)
		return 0;
	sqlite3_stmt *st = stmt(s, Q_JOB_LEASE);
	sqlite3_bind_int64(st, 1, best);
	bind_text(st, 2, lease);
	bind_text(st, 3, worker);
	sqlite3_bind_int64(st, 4, deadline);
	sqlite3_bind_int64(st, 5, now);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_fail(s, "job_lease");
	}
	job_row(st, out);
	/* RETURNING: the UPDATE completes when stepped to the end. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_job_clear(out);
		return store_fail(s, "job_lease");
	}
	return 1;
}

int store_job_claim_batch(struct store *s, const char *kind, int max, const char *worker,
                          const char *lease, int64_t deadline, int64_t now, struct store_job *out)
{
	/* Read first (oldest first, as the reply lists them), then update: no cursor is open on
	   the index while its rows change. */
	sqlite3_stmt *st = stmt(s, Q_JOB_READY_BATCH);
	bind_text(st, 1, kind);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, max);
	int n = 0, rc = SQLITE_DONE;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		job_row(st, &out[n++]);
	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE; /* max rows read; the rest stay ready */
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		goto bad;
	for (int i = 0; i < n; i++) {
		struct store_job *j = &out[i];
		char jl[128];
		snprintf(jl, sizeof(jl), "%s.%lld", lease, (long long)j->id);
		st = stmt(s, Q_JOB_LEASE_ID);
		sqlite3_bind_int64(st, 1, j->id);
		bind_text(st, 2, jl);
		bind_text(st, 3, worker);
		sqlite3_bind_int64(st, 4, deadline);
		sqlite3_bind_int64(st, 5, now);
		if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
			sqlite3_reset(st);
			goto bad;
		}
		sqlite3_reset(st);
		/* The row as the UPDATE left it. */
		str_copy(j->state, sizeof(j->state), "leased");
		j->attempt++;
		str_copy(j->lease, sizeof(j->lease), jl);
		str_copy(j->worker, sizeof(j->worker), worker);
		j->lease_deadline_ms = deadline;
		j->updated_ms = now;
	}
	return n;
bad:
	while (n > 0)
		store_job_clear(&out[--n]);
	return store_fail(s, "job_lease_batch");
}

int store_job_finish(struct store *s, int64_t id, const char *lease, const char *result,
                     int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_FINISH);
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, lease);
	bind_text(st, 3, result);
	sqlite3_bind_int64(st, 4, now);
	if (run(s, st, "job_finish") < 0)
		return -1;
	return sqlite3_changes(s->db) == 1;
}

int store_job_extend(struct store *s, int64_t id, int64_t deadline, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_EXTEND);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, deadline);
	sqlite3_bind_int64(st, 3, now);
	return run(s, st, "job_extend");
}

int store_job_set(struct store *s, int64_t id, const char *state, const char *result,
                  const char *error, int64_t ready_at, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_SET);
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, state);
	bind_text(st, 3, result);
	bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, ready_at);
	sqlite3_bind_int64(st, 6, now);
	return run(s, st, "job_set");
}

int store_job_rearm(struct store *s, int64_t id, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_REARM);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return run(s, st, "job_rearm");
}

int store_job_move_incident(struct store *s, int64_t incident, const char *from, const char *to,
                            int64_t now, int *n)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_MOVE);
	sqlite3_bind_int64(st, 1, incident);
	bind_text(st, 2, from);
	bind_text(st, 3, to);
	sqlite3_bind_int64(st, 4, now);
	if (run(s, st, "job_move") < 0)
		return -1;
	if (n)
		*n = sqlite3_changes(s->db);
	return 0;
}

int store_job_expired(struct store *s, int64_t now, int64_t *ids, int max, int *n)
{
	return ids_query(s, Q_JOB_EXPIRED, now, ids, max, n, "job_expired");
}

int store_job_current(struct store *s, int64_t incident, struct store_job *out)
{
	sqlite3_stmt *st = stmt(s, Q_JOB_CURRENT);
	sqlite3_bind_int64(st, 1, incident);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		job_row(st, out);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "job_current");
}

void store_job_clear(struct store_job *j)
{
	free(j->input);
	free(j->result);
	free(j->error);
	memset(j, 0, sizeof(*j));
}

static void add_parsed(cJSON *o, const char *key, const char *text)
{
	cJSON *v = NULL;
	char err[64];
	if (text && json_parse(text, strlen(text), &v, err, sizeof(err)) == 0)
		json_add(o, key, v);
	else
		json_add(o, key, cJSON_CreateNull());
}

cJSON *store_job_json(const struct store_job *j, int with_payload)
{
	cJSON *o = json_new_object();
	json_add_int(o, "id", j->id);
	json_add_int(o, "incident", j->incident);
	json_add_str(o, "kind", j->kind);
	json_add_str(o, "state", j->state);
	json_add_int(o, "attempt", j->attempt);
	json_add_int(o, "max_attempts", j->max_attempts);
	if (j->worker[0])
		json_add_str(o, "worker", j->worker);
	if (!strcmp(j->state, "leased"))
		json_add_int(o, "deadline_ms", j->lease_deadline_ms);
	json_add_int(o, "ready_at_ms", j->ready_at_ms);
	if (j->error)
		json_add_str(o, "error", j->error);
	json_add_int(o, "created_ms", j->created_ms);
	json_add_int(o, "updated_ms", j->updated_ms);
	if (with_payload) {
		add_parsed(o, "input", j->input);
		add_parsed(o, "result", j->result);
	}
	return o;
}

int store_event_append(struct store *s, int64_t incident, const char *name, const char *data,
                       int64_t now, int64_t *seq)
{
	sqlite3_stmt *st = stmt(s, Q_EV_APPEND);
	sqlite3_bind_int64(st, 1, incident);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, data ? data : "{}");
	if (run(s, st, "event_append") < 0)
		return -1;
	*seq = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_events(struct store *s, int64_t incident, int64_t since, int limit, cJSON *items)
{
	sqlite3_stmt *st = stmt(s, incident > 0 ? Q_EV_INC : Q_EV_ALL);
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int(st, 2, limit);
	if (incident > 0)
		sqlite3_bind_int64(st, 3, incident);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *e = json_new_object();
		json_add_int(e, "seq", sqlite3_column_int64(st, 0));
		json_add_int(e, "incident", sqlite3_column_int64(st, 1));
		json_add_str(e, "name", (const char *)sqlite3_column_text(st, 2));
		json_add_int(e, "at_ms", sqlite3_column_int64(st, 3));
		add_parsed(e, "data", (const char *)sqlite3_column_text(st, 4));
		cJSON_AddItemToArray(items, e);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "events");
}

int store_approval_insert(struct store *s, int64_t incident, const char *plan, const char *user,
                          const char *surface, const char *decision, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_APPROVAL);
	sqlite3_bind_int64(st, 1, incident);
	bind_text(st, 2, plan);
	bind_text(st, 3, user);
	bind_text(st, 4, surface);
	bind_text(st, 5, decision);
	sqlite3_bind_int64(st, 6, now);
	return run(s, st, "approval_insert");
}

int store_approvals_list(struct store *s, int64_t incident, const char *plan, cJSON *items)
{
	sqlite3_stmt *st = stmt(s, Q_APPROVAL_LIST);
	sqlite3_bind_int64(st, 1, incident);
	bind_text(st, 2, plan);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *o = json_new_object();
		json_add_str(o, "user", (const char *)sqlite3_column_text(st, 0));
		json_add_str(o, "surface", (const char *)sqlite3_column_text(st, 1));
		json_add_str(o, "decision", (const char *)sqlite3_column_text(st, 2));
		json_add_int(o, "at_ms", sqlite3_column_int64(st, 3));
		cJSON_AddItemToArray(items, o);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "approvals_list");
}

int store_incidents_list(struct store *s, const char *state, int limit, cJSON *items)
{
	sqlite3_stmt *st = stmt(s, state ? Q_INC_LIST_STATE : Q_INC_LIST);
	sqlite3_bind_int(st, 1, limit);
	if (state)
		bind_text(st, 2, state);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_incident in;
		incident_row(st, &in);
		cJSON_AddItemToArray(items, store_incident_json(&in));
		store_incident_clear(&in);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "incidents_list");
}

int store_jobs_list(struct store *s, const char *state, int limit, cJSON *items)
{
	/* Dead letters through their own index (jobs_dead); other states are read in id order. */
	int dead = state && !strcmp(state, "dead");
	sqlite3_stmt *st = stmt(s, dead ? Q_JOB_LIST_DEAD : state ? Q_JOB_LIST_STATE : Q_JOB_LIST);
	sqlite3_bind_int(st, 1, limit);
	if (state && !dead)
		bind_text(st, 2, state);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_job j;
		job_row(st, &j);
		cJSON_AddItemToArray(items, store_job_json(&j, 0));
		store_job_clear(&j);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "jobs_list");
}

int store_stats(struct store *s, cJSON *stats)
{
	cJSON *jobs = json_new_object(), *inc = json_new_object();
	json_add(stats, "jobs", jobs);
	json_add(stats, "incidents", inc);
	int64_t leases = 0, dead = 0;
	sqlite3_stmt *st = stmt(s, Q_STATS_JOBS);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		const char *state = (const char *)sqlite3_column_text(st, 1);
		int64_t n = sqlite3_column_int64(st, 2);
		cJSON *k = cJSON_GetObjectItemCaseSensitive(jobs, kind);
		if (!k) {
			k = json_new_object();
			json_add(jobs, kind, k);
		}
		json_add_int(k, state, n);
		if (!strcmp(state, "leased"))
			leases += n;
		else if (!strcmp(state, "dead"))
			dead += n;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, "stats_jobs");
	json_add_int(stats, "leases", leases);
	json_add_int(stats, "dead_letters", dead);
	st = stmt(s, Q_STATS_INC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_add_int(inc, (const char *)sqlite3_column_text(st, 0),
		             sqlite3_column_int64(st, 1));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, "stats_incidents");
	st = stmt(s, Q_STATS_EV);
	if (sqlite3_step(st) == SQLITE_ROW)
		json_add_int(stats, "last_seq", sqlite3_column_int64(st, 0));
	sqlite3_reset(st);
	return 0;
}

/* One-off statements (not on the hot path): prepared per call. */
static sqlite3_stmt *prepare(struct store *s, const char *q)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK) {
		store_fail(s, "prepare");
		return NULL;
	}
	return st;
}

int store_incidents_live_since(struct store *s, int64_t since_ms, struct store_live *out, int max,
                               int *n)
{
	/* By rowid, newest first, stopping at the first one older than since_ms. */
	sqlite3_stmt *st = prepare(s, "SELECT id, service, state, created_ms FROM incidents "
	                              "ORDER BY id DESC");
	if (!st)
		return -1;
	*n = 0;
	int rc;
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t created = sqlite3_column_int64(st, 3);
		if (created < since_ms)
			break;
		const char *state = (const char *)sqlite3_column_text(st, 2);
		if (!state || !strcmp(state, "resolved") || !strcmp(state, "rejected") ||
		    !strcmp(state, "expired") || !strcmp(state, "failed"))
			continue;
		struct store_live *l = &out[(*n)++];
		l->id = sqlite3_column_int64(st, 0);
		col_copy(st, 1, l->service, sizeof(l->service));
		l->created_ms = created;
	}
	rc = sqlite3_errcode(s->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, "incidents_live");
	return 0;
}

int store_incident_set_spec(struct store *s, int64_t id, const char *spec, int64_t now)
{
	sqlite3_stmt *st = prepare(s, "UPDATE incidents SET spec=?2, updated_ms=?3 WHERE id=?1");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, spec);
	sqlite3_bind_int64(st, 3, now);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "incident_set_spec");
}

static int prune_one(struct store *s, const char *q, int64_t before, int limit, int64_t *n)
{
	sqlite3_stmt *st = prepare(s, q);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, limit);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, "prune");
	*n = sqlite3_changes64(s->db);
	return 0;
}

int store_prune(struct store *s, int64_t jobs_before, int64_t events_before, int64_t keys_before,
                int limit, struct store_pruned *out)
{
	memset(out, 0, sizeof(*out));
	if (jobs_before > 0 &&
	    prune_one(s,
	              "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN "
	              "('done','cancelled') AND updated_ms < ?1 ORDER BY id LIMIT ?2)",
	              jobs_before, limit, &out->jobs) < 0)
		return -1;
	if (events_before > 0 &&
	    prune_one(s,
	              "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE incident = 0 "
	              "AND at_ms < ?1 ORDER BY seq LIMIT ?2)",
	              events_before, limit, &out->events) < 0)
		return -1;
	if (keys_before > 0 &&
	    prune_one(s,
	              "DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency "
	              "WHERE created_ms < ?1 LIMIT ?2)",
	              keys_before, limit, &out->keys) < 0)
		return -1;
	return 0;
}
