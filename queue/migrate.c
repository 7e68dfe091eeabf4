/*
 * migrate.c: the queue database's schema, as numbered migrations.
 *
 * PRAGMA user_version holds the number of the last migration applied.  At
 * start every later migration runs, each in its own transaction together
 * with the bump of user_version, so a crash leaves the schema at a whole
 * step.  A migration is never edited once released; change the schema by
 * appending one.  A database newer than this build is refused.
 */
#include "migrate.h"

#include <stdio.h>

#include "log.h"

static const struct {
	int version;
	const char *what;
	const char *sql;
} migrations[] = {
    {1, "incidents, jobs, events, idempotency keys",
     "CREATE TABLE incidents ("
     " id INTEGER PRIMARY KEY,"
     " state TEXT NOT NULL,"
     " prev_state TEXT," /* set while paused */
     " title TEXT NOT NULL, service TEXT NOT NULL,"
     " severity TEXT NOT NULL, source TEXT NOT NULL,"
     " spec TEXT NOT NULL,"                         /* the submitted spec, JSON */
     " results TEXT NOT NULL DEFAULT '{}',"         /* stage -> job result, JSON */
     " approval_deadline_ms INTEGER,"               /* set while awaiting_approval */
     " advance_pending INTEGER NOT NULL DEFAULT 0," /* stage job finished while paused */
     " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
     "CREATE INDEX incidents_state ON incidents(state, id);"
     "CREATE TABLE jobs ("
     " id INTEGER PRIMARY KEY,"
     " incident INTEGER NOT NULL,"
     " kind TEXT NOT NULL,"
     " state TEXT NOT NULL," /* ready|leased|held|done|dead|cancelled */
     " input TEXT NOT NULL,"
     " result TEXT,"
     " attempt INTEGER NOT NULL DEFAULT 0,"
     " max_attempts INTEGER NOT NULL,"
     " lease TEXT, worker TEXT,"
     " lease_deadline_ms INTEGER,"
     " ready_at_ms INTEGER NOT NULL,"
     " error TEXT,"
     " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
     "CREATE INDEX jobs_ready ON jobs(kind, ready_at_ms, id) WHERE state = 'ready';"
     "CREATE INDEX jobs_leased ON jobs(lease_deadline_ms) WHERE state = 'leased';"
     "CREATE INDEX jobs_incident ON jobs(incident, id);"
     "CREATE INDEX jobs_state ON jobs(state, id);"
     "CREATE TABLE events ("
     " seq INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: replay by seq is exact */
     " incident INTEGER NOT NULL,"
     " name TEXT NOT NULL,"
     " at_ms INTEGER NOT NULL,"
     " data TEXT NOT NULL);"
     "CREATE INDEX events_incident ON events(incident, seq);"
     "CREATE TABLE idempotency ("
     " key TEXT PRIMARY KEY,"
     " incident INTEGER NOT NULL, job INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL) WITHOUT ROWID;"},
    {2, "approvals and action ledger (filled by later issues)",
     "CREATE TABLE approvals ("
     " id INTEGER PRIMARY KEY,"
     " incident INTEGER NOT NULL, plan TEXT NOT NULL,"
     " user TEXT NOT NULL, surface TEXT NOT NULL, decision TEXT NOT NULL,"
     " at_ms INTEGER NOT NULL);"
     "CREATE INDEX approvals_incident ON approvals(incident, id);"
     "CREATE TABLE action_ledger ("
     " id INTEGER PRIMARY KEY,"
     " incident INTEGER NOT NULL,"
     " step_key TEXT NOT NULL UNIQUE," /* plan-step idempotency key */
     " action TEXT NOT NULL, params TEXT NOT NULL,"
     " state TEXT NOT NULL," /* started|finished|failed */
     " output TEXT,"
     " started_ms INTEGER, finished_ms INTEGER);"},
    {3, "action ledger: steps, argv, outcome and a person's decision (queue/ledger.c)",
     "ALTER TABLE action_ledger ADD COLUMN job INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE action_ledger ADD COLUMN step INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE action_ledger ADD COLUMN kind TEXT NOT NULL DEFAULT 'action';"
     "ALTER TABLE action_ledger ADD COLUMN plan TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE action_ledger ADD COLUMN argv TEXT NOT NULL DEFAULT '[]';"
     "ALTER TABLE action_ledger ADD COLUMN target TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE action_ledger ADD COLUMN idempotent INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE action_ledger ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;"
     "ALTER TABLE action_ledger ADD COLUMN exit_code INTEGER;"
     "ALTER TABLE action_ledger ADD COLUMN decision TEXT;"
     "ALTER TABLE action_ledger ADD COLUMN decided_by TEXT;"
     "ALTER TABLE action_ledger ADD COLUMN lease TEXT;" /* of the claim that started it */
     "CREATE INDEX action_ledger_incident ON action_ledger(incident, id);"
     "CREATE INDEX action_ledger_action ON action_ledger(action, started_ms);"},
    {4, "fewer index pages per commit: jobs and incidents keep the indexes their hot paths read",
     /* jobs_state was written 5 times in a job's life and incidents_state at every stage,
        both for admin lists (now read in id order); jobs of incident 0 (standalone) are
        never looked up by incident; the tick reads only incidents awaiting approval. */
     "DROP INDEX jobs_state;"
     "DROP INDEX incidents_state;"
     "CREATE INDEX incidents_awaiting ON incidents(approval_deadline_ms, id) "
     "WHERE state = 'awaiting_approval';"
     "DROP INDEX jobs_incident;"
     "CREATE INDEX jobs_incident ON jobs(incident, id) WHERE incident > 0;"
     "CREATE INDEX jobs_dead ON jobs(id) WHERE state = 'dead';"},
    {5, "idempotency keys remember the request that stored them (a resend is not a repeat)",
     /* NNG's REQ socket sends a request again by itself when its connection comes back;
        the same wire id then gets the first answer, not "already done". */
     "ALTER TABLE idempotency ADD COLUMN request TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE idempotency ADD COLUMN grouped INTEGER NOT NULL DEFAULT 0;"},
};

int migrate_latest(void)
{
	return migrations[sizeof(migrations) / sizeof(migrations[0]) - 1].version;
}

static int migrate_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int migrate_apply(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int have = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		have = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (have > migrate_latest()) {
		snprintf(err, errlen,
		         "database schema is version %d, newer than this build's %d; run a newer "
		         "opsbot-queue",
		         have, migrate_latest());
		return -1;
	}
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		if (migrations[i].version <= have)
			continue;
		char bump[64], e[512];
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", migrations[i].version);
		if (migrate_exec(db, "BEGIN IMMEDIATE", e, sizeof(e)) < 0 ||
		    migrate_exec(db, migrations[i].sql, e, sizeof(e)) < 0 ||
		    migrate_exec(db, bump, e, sizeof(e)) < 0 ||
		    migrate_exec(db, "COMMIT", e, sizeof(e)) < 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			snprintf(err, errlen, "migration %d (%s) failed: %s", migrations[i].version,
			         migrations[i].what, e);
			return -1;
		}
		log_info("event=migrated version=%d what=%s", migrations[i].version,
		         log_q(migrations[i].what));
	}
	return 0;
}
