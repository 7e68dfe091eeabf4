/*
 * inbox.c: declarations acked before the queue stored them (see inbox.h).
 */
#include "inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "mem.h"

enum { Q_PUT, Q_GET, Q_DONE, Q_TOLD, Q_PENDING, Q_PRUNE, Q_FULL, Q_NORMAL, Q_BEGIN, Q_COMMIT, Q_N };

static const char *const sql[Q_N] = {
    [Q_PUT] = "INSERT INTO pending(key, channel, user, request, at_ms) VALUES(?1,?2,?3,?4,?5)"
              " ON CONFLICT(key) DO NOTHING",
    [Q_GET] = "SELECT incident FROM pending WHERE key = ?1",
    [Q_DONE] = "UPDATE pending SET incident = ?2 WHERE key = ?1 AND incident = 0",
    [Q_TOLD] = "UPDATE pending SET told = 1 WHERE key = ?1",
    [Q_PENDING] = "SELECT key, channel, user, request, told FROM pending WHERE incident = 0"
                  " ORDER BY at_ms, key LIMIT ?1",
    [Q_PRUNE] = "DELETE FROM pending WHERE key IN (SELECT key FROM pending"
                " WHERE incident != 0 AND at_ms < ?1 LIMIT ?2)",
    /* A put must be on disk before its ack; the other writes need not be:
       losing them in a crash only sends a request again, which the queue
       answers once.  So only puts wait for an fsync. */
    [Q_FULL] = "PRAGMA synchronous=FULL",
    [Q_NORMAL] = "PRAGMA synchronous=NORMAL",
    [Q_BEGIN] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
};

/* Answers not written yet (inbox_done), written together by inbox_flush. */
#define DONE_MAX 256
struct done {
	char key[200];
	int64_t incident;
};

struct inbox {
	sqlite3 *db;
	sqlite3_stmt *st[Q_N];
	int sync; /* Q_FULL or Q_NORMAL: the connection's setting now */
	struct done done[DONE_MAX];
	int ndone;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS pending ("
                             " key TEXT PRIMARY KEY,"
                             " channel TEXT NOT NULL, user TEXT NOT NULL,"
                             " request TEXT NOT NULL," /* the queue request, sent as is */
                             " incident INTEGER NOT NULL DEFAULT 0,"
                             " told INTEGER NOT NULL DEFAULT 0,"
                             " at_ms INTEGER NOT NULL) WITHOUT ROWID;";
/* No index on pending rows: the caller scans for them only at start and
   after a send failed (inbox.h), and every index page is written again
   by each put and each answer. */

int inbox_open(const char *path, struct inbox **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	struct inbox *ib = xcalloc(1, sizeof *ib);
	ib->db = db;
	/* FULL: the row is on disk before the ack that relies on it leaves. */
	int ok = sqlite3_exec(db,
	                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                      "PRAGMA busy_timeout=2000;",
	                      NULL, NULL, NULL) == SQLITE_OK &&
	         sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK;
	for (int i = 0; ok && i < Q_N; i++)
		ok = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ib->st[i],
		                        NULL) == SQLITE_OK;
	if (!ok) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		inbox_close(ib);
		return -1;
	}
	ib->sync = Q_FULL;
	*out = ib;
	return 0;
}

void inbox_close(struct inbox *ib)
{
	if (!ib)
		return;
	if (ib->db)
		inbox_flush(ib);
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(ib->st[i]);
	sqlite3_close(ib->db);
	free(ib);
}

static int fail(struct inbox *ib, sqlite3_stmt *st, const char *what)
{
	log_error("event=inbox_failed what=%s error=%s", what, log_q(sqlite3_errmsg(ib->db)));
	sqlite3_reset(st);
	return -1;
}

/* Step a statement that returns no row; its changes, or -1. */
static int run(struct inbox *ib, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(ib, st, what);
	sqlite3_reset(st);
	return sqlite3_changes(ib->db);
}

static void bind_str(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

/* The durability of the next writes: Q_FULL or Q_NORMAL (no I/O). */
static int sync_mode(struct inbox *ib, int q)
{
	if (ib->sync == q)
		return 0;
	if (run(ib, ib->st[q], "synchronous") < 0)
		return -1;
	ib->sync = q;
	return 0;
}

int inbox_put(struct inbox *ib, const struct inbox_row *row, int64_t now_ms, int64_t *incident)
{
	sqlite3_stmt *st = ib->st[Q_PUT];
	*incident = 0;
	for (int i = 0; i < ib->ndone; i++)
		if (!strcmp(ib->done[i].key, row->key)) {
			*incident = ib->done[i].incident;
			return 1;
		}
	if (sync_mode(ib, Q_FULL) < 0)
		return -1;
	bind_str(st, 1, row->key);
	bind_str(st, 2, row->channel);
	bind_str(st, 3, row->user);
	bind_str(st, 4, row->request);
	sqlite3_bind_int64(st, 5, now_ms);
	int n = run(ib, st, "put");
	if (n != 0)
		return n < 0 ? -1 : 0;
	/* The key was there: a repeat. */
	st = ib->st[Q_GET];
	bind_str(st, 1, row->key);
	if (sqlite3_step(st) != SQLITE_ROW)
		return fail(ib, st, "get");
	*incident = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 1;
}

int inbox_done(struct inbox *ib, const char *key, int64_t incident)
{
	if (ib->ndone == DONE_MAX && inbox_flush(ib) < 0)
		return -1;
	struct done *d = &ib->done[ib->ndone++];
	snprintf(d->key, sizeof d->key, "%s", key);
	d->incident = incident > 0 ? incident : -1;
	return 0;
}

int inbox_flush(struct inbox *ib)
{
	if (ib->ndone == 0)
		return 0;
	if (sync_mode(ib, Q_NORMAL) < 0 || run(ib, ib->st[Q_BEGIN], "begin") < 0)
		return -1;
	sqlite3_stmt *st = ib->st[Q_DONE];
	for (int i = 0; i < ib->ndone; i++) {
		bind_str(st, 1, ib->done[i].key);
		sqlite3_bind_int64(st, 2, ib->done[i].incident);
		if (run(ib, st, "done") < 0) {
			sqlite3_exec(ib->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	if (run(ib, ib->st[Q_COMMIT], "commit") < 0) {
		sqlite3_exec(ib->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	ib->ndone = 0;
	return 0;
}

int inbox_told(struct inbox *ib, const char *key)
{
	sqlite3_stmt *st = ib->st[Q_TOLD];
	if (sync_mode(ib, Q_NORMAL) < 0)
		return -1;
	bind_str(st, 1, key);
	return run(ib, st, "told") < 0 ? -1 : 0;
}

int inbox_pending(struct inbox *ib, int max, void (*fn)(void *arg, const struct inbox_row *row),
                  void *arg)
{
	sqlite3_stmt *st = ib->st[Q_PENDING];
	int n = 0, rc;
	if (inbox_flush(ib) < 0) /* never resend what is answered */
		return -1;
	sqlite3_bind_int(st, 1, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct inbox_row r = {
		    .key = (const char *)sqlite3_column_text(st, 0),
		    .channel = (const char *)sqlite3_column_text(st, 1),
		    .user = (const char *)sqlite3_column_text(st, 2),
		    .request = (const char *)sqlite3_column_text(st, 3),
		    .told = sqlite3_column_int(st, 4),
		};
		fn(arg, &r);
		n++;
	}
	if (rc != SQLITE_DONE)
		return fail(ib, st, "pending");
	sqlite3_reset(st);
	return n;
}

int inbox_prune(struct inbox *ib, int64_t before_ms, int max)
{
	sqlite3_stmt *st = ib->st[Q_PRUNE];
	if (sync_mode(ib, Q_NORMAL) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int(st, 2, max);
	return run(ib, st, "prune");
}
