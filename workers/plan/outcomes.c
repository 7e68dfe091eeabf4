/* outcomes.c: the planner's SQLite memory of plans, executions and results (see outcomes.h). */
#include "outcomes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "json.h"
#include "log.h"
#include "mem.h"

struct outcomes {
	sqlite3 *db;
};

static const char *const outcomes_schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS arms(signature TEXT NOT NULL, action TEXT NOT NULL,"
    " runs INTEGER NOT NULL DEFAULT 0, wins INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(signature, action), CHECK(wins >= 0 AND wins <= runs));"
    "CREATE TABLE IF NOT EXISTS plans(incident INTEGER PRIMARY KEY, signature TEXT NOT NULL,"
    " steps TEXT NOT NULL, at_ms INTEGER NOT NULL, scored INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, action TEXT NOT NULL,"
    " target TEXT NOT NULL, incident INTEGER NOT NULL, at_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS runs_by_action ON runs(action, target, at_ms);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/* Create the folders above path (like mkdir -p of its dirname); -1 with errno. */
static int outcomes_mkdirs(const char *path)
{
	char dir[1024];
	if (str_copy(dir, sizeof(dir), path) < 0)
		return -1;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int outcomes_open(struct outcomes **out, const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	if (strcmp(path, ":memory:") != 0 && outcomes_mkdirs(path) < 0) {
		snprintf(err, errlen, "%s: cannot create its folder: %s", path, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(db, outcomes_schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: schema: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(db);
		return -1;
	}
	struct outcomes *o = xcalloc(1, sizeof(*o));
	o->db = db;
	*out = o;
	return 0;
}

void outcomes_close(struct outcomes *o)
{
	if (!o)
		return;
	sqlite3_close(o->db);
	free(o);
}

static sqlite3_stmt *outcomes_prep(struct outcomes *o, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warn("event=sqlite_prepare_failed error=%s", log_q(sqlite3_errmsg(o->db)));
		return NULL;
	}
	return st;
}

static int outcomes_step_done(struct outcomes *o, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warn("event=sqlite_step_failed error=%s", log_q(sqlite3_errmsg(o->db)));
		return -1;
	}
	return 0;
}

int outcomes_arms(struct outcomes *o, const char *signature, struct outcomes_arm **arms, size_t *n)
{
	*arms = NULL;
	*n = 0;
	sqlite3_stmt *st = outcomes_prep(
	    o, "SELECT action, runs, wins FROM arms WHERE signature = ? ORDER BY action");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, signature, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*arms = xrealloc(*arms, (*n + 1) * sizeof(**arms));
		struct outcomes_arm *a = &(*arms)[(*n)++];
		str_copy(a->action, sizeof(a->action), (const char *)sqlite3_column_text(st, 0));
		a->runs = sqlite3_column_int64(st, 1);
		a->wins = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int outcomes_record(struct outcomes *o, const char *signature, const char *action, int win)
{
	sqlite3_stmt *st = outcomes_prep(
	    o, "INSERT INTO arms(signature, action, runs, wins) VALUES(?, ?, 1, ?) "
	       "ON CONFLICT(signature, action) DO UPDATE SET runs = runs + 1, wins = wins + "
	       "excluded.wins");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, signature, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, win ? 1 : 0);
	return outcomes_step_done(o, st);
}

int outcomes_plan(struct outcomes *o, int64_t incident, const char *signature, const cJSON *steps,
                  int64_t at_ms)
{
	char *js = json_print(steps);
	sqlite3_stmt *st = outcomes_prep(
	    o, "INSERT INTO plans(incident, signature, steps, at_ms) VALUES(?, ?, ?, ?) "
	       "ON CONFLICT(incident) DO UPDATE SET signature = excluded.signature, "
	       "steps = excluded.steps, at_ms = excluded.at_ms, scored = 0");
	int rc = -1;
	if (st) {
		sqlite3_bind_int64(st, 1, incident);
		sqlite3_bind_text(st, 2, signature, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, js, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, at_ms);
		rc = outcomes_step_done(o, st);
	}
	free(js);
	return rc;
}

char *outcomes_target(const cJSON *params)
{
	struct buf b = {.max = 4096};
	const cJSON *p;
	cJSON_ArrayForEach(p, params)
	{
		if (!cJSON_IsString(p))
			continue;
		if (b.len)
			buf_append(&b, ",", 1);
		buf_appendf(&b, "%s=%s", p->string, p->valuestring);
	}
	return b.data ? b.data : xstrdup("");
}

int outcomes_ran(struct outcomes *o, const char *action, const char *target, int64_t incident,
                 int64_t at_ms)
{
	sqlite3_stmt *st =
	    outcomes_prep(o, "INSERT INTO runs(action, target, incident, at_ms) VALUES(?,?,?,?)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, incident);
	sqlite3_bind_int64(st, 4, at_ms);
	return outcomes_step_done(o, st);
}

/* The stored plan steps of an incident; caller frees with cJSON_Delete.  NULL if none. */
static cJSON *outcomes_plan_steps(struct outcomes *o, int64_t incident, char *sig, size_t siglen,
                                  int *scored)
{
	sqlite3_stmt *st =
	    outcomes_prep(o, "SELECT signature, steps, scored FROM plans WHERE incident = ?");
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, incident);
	cJSON *steps = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		str_copy(sig, siglen, (const char *)sqlite3_column_text(st, 0));
		steps = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
		*scored = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	return steps;
}

int outcomes_executed(struct outcomes *o, int64_t incident, const cJSON *steps, int64_t at_ms)
{
	char sig[256];
	int scored = 0;
	cJSON *plan = outcomes_plan_steps(o, incident, sig, sizeof(sig), &scored);
	int used[64] = {0};
	const cJSON *s;
	int rc = 0;
	sqlite3_exec(o->db, "BEGIN", NULL, NULL, NULL);
	cJSON_ArrayForEach(s, steps)
	{
		const char *action = json_str(s, "action");
		if (!action || !json_bool(s, "ok", 0))
			continue;
		/* the params come from the plan: the first unused step with this action */
		const cJSON *params = NULL;
		int k = 0;
		const cJSON *ps;
		cJSON_ArrayForEach(ps, plan)
		{
			if (k < 64 && !used[k] && json_str(ps, "action") &&
			    strcmp(json_str(ps, "action"), action) == 0) {
				used[k] = 1;
				params = cJSON_GetObjectItemCaseSensitive(ps, "params");
				break;
			}
			k++;
		}
		char *target = outcomes_target(params);
		if (outcomes_ran(o, action, target, incident, at_ms) < 0)
			rc = -1;
		free(target);
	}
	sqlite3_exec(o->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	cJSON_Delete(plan);
	return rc;
}

int outcomes_verified(struct outcomes *o, int64_t incident, int ok)
{
	char sig[256];
	int scored = 0;
	cJSON *plan = outcomes_plan_steps(o, incident, sig, sizeof(sig), &scored);
	if (!plan || scored) { /* invariant 2 */
		cJSON_Delete(plan);
		return 0;
	}
	int rc = 0;
	sqlite3_exec(o->db, "BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *st =
	    outcomes_prep(o, "SELECT DISTINCT action FROM runs WHERE incident = ? ORDER BY action");
	if (!st) {
		rc = -1;
	} else {
		sqlite3_bind_int64(st, 1, incident);
		char actions[16][64];
		int na = 0;
		while (sqlite3_step(st) == SQLITE_ROW && na < 16)
			str_copy(actions[na++], sizeof(actions[0]),
			         (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		for (int i = 0; i < na && rc == 0; i++)
			rc = outcomes_record(o, sig, actions[i], ok);
	}
	if (rc == 0) {
		st = outcomes_prep(o, "UPDATE plans SET scored = 1 WHERE incident = ?");
		if (st) {
			sqlite3_bind_int64(st, 1, incident);
			rc = outcomes_step_done(o, st);
		} else {
			rc = -1;
		}
	}
	sqlite3_exec(o->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	cJSON_Delete(plan);
	return rc;
}

int outcomes_last_run(struct outcomes *o, const char *action, const char *target, int64_t *last_ms)
{
	*last_ms = 0;
	sqlite3_stmt *st =
	    outcomes_prep(o, "SELECT max(at_ms) FROM runs WHERE action = ? AND target = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*last_ms = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int outcomes_runs_since(struct outcomes *o, const char *action, int64_t since_ms, int64_t *n)
{
	*n = 0;
	sqlite3_stmt *st =
	    outcomes_prep(o, "SELECT count(*) FROM runs WHERE action = ? AND at_ms >= ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since_ms);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int outcomes_cursor(struct outcomes *o, int64_t *seq)
{
	*seq = 0;
	sqlite3_stmt *st = outcomes_prep(o, "SELECT value FROM meta WHERE key = 'event_seq'");
	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int outcomes_set_cursor(struct outcomes *o, int64_t seq)
{
	/* invariant 3: max() keeps the cursor from moving back */
	sqlite3_stmt *st = outcomes_prep(
	    o, "INSERT INTO meta(key, value) VALUES('event_seq', ?) ON CONFLICT(key) DO UPDATE "
	       "SET value = max(value, excluded.value)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	return outcomes_step_done(o, st);
}
