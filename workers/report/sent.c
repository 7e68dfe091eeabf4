/*
 * sent.c: sent-mail markers in SQLite (sent.h).
 */
#include "sent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "mem.h"

struct sent {
	sqlite3 *db;
};

static int mkdirs_for(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

int sent_open(struct sent **out, const char *path, char *err, size_t errlen)
{
	struct sent *s = xcalloc(1, sizeof(*s));
	if (strcmp(path, ":memory:") != 0 && mkdirs_for(path) < 0) {
		snprintf(err, errlen, "cannot create the folder of %s: %s", path, strerror(errno));
		free(s);
		return -1;
	}
	char *msg = NULL;
	if (sqlite3_open(path, &s->db) != SQLITE_OK ||
	    sqlite3_exec(
	        s->db,
	        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;"
	        "CREATE TABLE IF NOT EXISTS sent (message_id TEXT PRIMARY KEY,"
	        " job INTEGER NOT NULL, rcpt TEXT NOT NULL, at_ms INTEGER NOT NULL)"
	        " WITHOUT ROWID;"
	        "CREATE TABLE IF NOT EXISTS schedule (period TEXT PRIMARY KEY,"
	        " next_from_ms INTEGER NOT NULL) WITHOUT ROWID;",
	        NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		sqlite3_close(s->db);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void sent_close(struct sent *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

int sent_get(struct sent *s, const char *message_id, int64_t *at_ms)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT at_ms FROM sent WHERE message_id = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int out = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
	if (out == 1 && at_ms)
		*at_ms = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return out;
}

int sent_put(struct sent *s, const char *message_id, int64_t job, const char *to, int64_t at_ms)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT OR IGNORE INTO sent(message_id, job, rcpt, at_ms) "
	                       "VALUES (?, ?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, job);
	sqlite3_bind_text(st, 3, to, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, at_ms);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int sent_sched_get(struct sent *s, const char *period, int64_t *next_from_ms)
{
	sqlite3_stmt *st;
	*next_from_ms = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT next_from_ms FROM schedule WHERE period = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, period, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int out = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
	if (out == 1)
		*next_from_ms = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return out;
}

int sent_sched_put(struct sent *s, const char *period, int64_t next_from_ms)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        s->db,
	        "INSERT INTO schedule(period, next_from_ms) VALUES (?, ?) "
	        "ON CONFLICT(period) DO UPDATE SET next_from_ms = excluded.next_from_ms",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, period, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, next_from_ms);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
