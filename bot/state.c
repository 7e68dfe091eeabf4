/*
 * state.c: opsbot-bot's SQLite state (see state.h for what it holds and its
 * invariants).  Schema migrations are numbered through PRAGMA user_version.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "state.h"
#include "timeutil.h"

struct state {
	sqlite3 *db;
};

static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE surface_seq (surface TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
    "CREATE TABLE posted (surface TEXT NOT NULL, key TEXT NOT NULL, ref TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL, PRIMARY KEY (surface, key));"
    "CREATE TABLE threads (surface TEXT NOT NULL, incident INTEGER NOT NULL,"
    " channel TEXT NOT NULL, parent TEXT NOT NULL, PRIMARY KEY (surface, incident));",
    /* 2 */
    "CREATE TABLE kv (surface TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (surface, key));",
};

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = 0;
	char *msg = NULL;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	for (int v = version; v < (int)(sizeof migrations / sizeof migrations[0]); v++) {
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "migration %d: %s", v + 1, msg ? msg : "?");
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return -1;
}

/*
 * Two threads of opsbot-bot write this file (the loop and the Slack sender).
 * SQLite's default busy wait sleeps in steps of up to 100 ms, which shows
 * as 100 ms stalls of the loop; writes here take microseconds, so retry
 * often at first and back off only when the lock stays held.
 */
static int busy_wait(void *arg, int tries)
{
	(void)arg;
	if (tries < 200)
		usleep(100);
	else if (tries < 5000)
		usleep(1000);
	else
		return 0; /* about 5 s: give up, the caller logs it */
	return 1;
}

int state_open(const char *path, struct state **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_handler(db, busy_wait, NULL);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL,
	                 NULL) != SQLITE_OK ||
	    migrate(db, err, errlen) < 0) {
		if (!*err)
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	*out = xcalloc(1, sizeof **out);
	(*out)->db = db;
	return 0;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

/* Prepare sql and bind text/int64 args described by fmt ('s' or 'i'). */
static sqlite3_stmt *prep(struct state *st, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s;
	va_list ap;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_error("event=state_sql error=%s", log_q(sqlite3_errmsg(st->db)));
		return NULL;
	}
	va_start(ap, fmt);
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 's')
			sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	return s;
}

static int exec_done(struct state *st, sqlite3_stmt *s)
{
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		log_error("event=state_write error=%s", log_q(sqlite3_errmsg(st->db)));
		return -1;
	}
	return 0;
}

int state_seq_get(struct state *st, const char *surface, int64_t *seq)
{
	sqlite3_stmt *s = prep(st, "SELECT seq FROM surface_seq WHERE surface=?", "s", surface);
	int rc;

	if (!s)
		return -1;
	*seq = 0;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int state_seq_set(struct state *st, const char *surface, int64_t seq)
{
	return exec_done(st, prep(st,
	                          "INSERT INTO surface_seq(surface, seq) VALUES(?, ?) "
	                          "ON CONFLICT(surface) DO UPDATE SET seq=max(seq, excluded.seq)",
	                          "si", surface, seq));
}

int state_posted_get(struct state *st, const char *surface, const char *key, char *ref,
                     size_t reflen)
{
	sqlite3_stmt *s =
	    prep(st, "SELECT ref FROM posted WHERE surface=? AND key=?", "ss", surface, key);
	int rc, found = 0;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = 1;
		if (ref)
			str_copy(ref, reflen, (const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return found;
}

int state_posted_put(struct state *st, const char *surface, const char *key, const char *ref)
{
	return exec_done(st, prep(st,
	                          "INSERT OR IGNORE INTO posted(surface, key, ref, at_ms) "
	                          "VALUES(?, ?, ?, ?)",
	                          "sssi", surface, key, ref ? ref : "", time_now_ms()));
}

int state_thread_get(struct state *st, const char *surface, int64_t incident, char *channel,
                     size_t chlen, char *parent, size_t plen)
{
	sqlite3_stmt *s =
	    prep(st, "SELECT channel, parent FROM threads WHERE surface=? AND incident=?", "si",
	         surface, incident);
	int rc, found = 0;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = 1;
		str_copy(channel, chlen, (const char *)sqlite3_column_text(s, 0));
		str_copy(parent, plen, (const char *)sqlite3_column_text(s, 1));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return found;
}

int state_thread_put(struct state *st, const char *surface, int64_t incident, const char *channel,
                     const char *parent)
{
	return exec_done(st, prep(st,
	                          "INSERT INTO threads(surface, incident, channel, parent) "
	                          "VALUES(?, ?, ?, ?) ON CONFLICT(surface, incident) DO UPDATE "
	                          "SET channel=excluded.channel, parent=excluded.parent",
	                          "siss", surface, incident, channel, parent));
}

int state_thread_find(struct state *st, const char *surface, const char *channel,
                      const char *parent, int64_t *incident)
{
	sqlite3_stmt *s;
	int rc, found = 0;

	*incident = 0;
	if (!parent || !*parent)
		return 0;
	s = channel ? prep(st,
	                   "SELECT incident FROM threads WHERE surface=? AND parent=? AND "
	                   "channel=? ORDER BY incident DESC LIMIT 1",
	                   "sss", surface, parent, channel)
	            : prep(st,
	                   "SELECT incident FROM threads WHERE surface=? AND parent=? "
	                   "ORDER BY incident DESC LIMIT 1",
	                   "ss", surface, parent);
	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = 1;
		*incident = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return found;
}

int state_kv_get(struct state *st, const char *surface, const char *key, char **val)
{
	sqlite3_stmt *s =
	    prep(st, "SELECT value FROM kv WHERE surface=? AND key=?", "ss", surface, key);
	int rc, found = 0;

	*val = NULL;
	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = 1;
		*val = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return found;
}

int state_kv_put(struct state *st, const char *surface, const char *key, const char *val)
{
	return exec_done(st, prep(st,
	                          "INSERT INTO kv(surface, key, value) VALUES(?, ?, ?) "
	                          "ON CONFLICT(surface, key) DO UPDATE SET value=excluded.value",
	                          "sss", surface, key, val));
}

/* Intents are kv rows "intent:<key>": the key range below, so the primary
 * key's index finds them without a scan. */
#define INTENT_FROM "intent:"
#define INTENT_TO   "intent;" /* ':' + 1 */

int state_prune(struct state *st, int64_t now_ms, int64_t keep_ms, int max)
{
	/* each in parentheses: one element of several joined literals */
	static const char *const sql[] = {
	    /* an intent whose post is recorded */
	    ("DELETE FROM kv WHERE rowid IN (SELECT kv.rowid FROM kv JOIN posted p ON"
	     " p.surface = kv.surface AND p.key = substr(kv.key, 8)"
	     " WHERE kv.key >= '" INTENT_FROM "' AND kv.key < '" INTENT_TO "' LIMIT ?1)"),
	    /* an old intent never posted (a value that is not JSON counts as old) */
	    ("DELETE FROM kv WHERE rowid IN (SELECT rowid FROM kv"
	     " WHERE key >= '" INTENT_FROM "' AND key < '" INTENT_TO "'"
	     " AND coalesce(CASE WHEN json_valid(value) THEN json_extract(value, '$.at_ms') END,"
	     " 0) < ?2 LIMIT ?1)"),
	    /* old posted rows */
	    ("DELETE FROM posted WHERE rowid IN (SELECT rowid FROM posted WHERE at_ms < ?2"
	     " LIMIT ?1)"),
	};
	int total = 0;

	if (keep_ms <= 0 || max <= 0)
		return 0;
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL) != SQLITE_OK) {
			log_error("event=state_sql error=%s", log_q(sqlite3_errmsg(st->db)));
			return -1;
		}
		sqlite3_bind_int(s, 1, max);
		sqlite3_bind_int64(s, 2, now_ms - keep_ms);
		if (sqlite3_step(s) != SQLITE_DONE) {
			log_error("event=state_prune_failed error=%s",
			          log_q(sqlite3_errmsg(st->db)));
			sqlite3_finalize(s);
			return -1;
		}
		total += sqlite3_changes(st->db);
		sqlite3_finalize(s);
	}
	return total;
}

int state_post_rows(struct state *st, int64_t *intents, int64_t *posted)
{
	sqlite3_stmt *s = prep(st,
	                       "SELECT (SELECT count(*) FROM kv WHERE key >= '" INTENT_FROM
	                       "' AND key < '" INTENT_TO "'), (SELECT count(*) FROM posted)",
	                       "");
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*intents = sqlite3_column_int64(s, 0);
		*posted = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int state_loop_mode(struct state *st)
{
	return sqlite3_exec(st->db, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}

int state_checkpoint(struct state *st)
{
	return sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) ==
	               SQLITE_OK
	           ? 0
	           : -1;
}

int state_kv_get_json(struct state *st, const char *surface, const char *key, cJSON **out)
{
	char *val = NULL, err[64];
	int rc = state_kv_get(st, surface, key, &val);

	*out = NULL;
	if (rc == 1 && json_parse_object(val, strlen(val), out, err, sizeof err) < 0)
		rc = 0; /* a broken value reads as absent */
	free(val);
	return rc;
}

int state_kv_put_json(struct state *st, const char *surface, const char *key, const cJSON *val)
{
	char *text = json_print(val);
	int rc = state_kv_put(st, surface, key, text);
	free(text);
	return rc;
}
