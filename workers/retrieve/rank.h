/*
 * rank.h: kbrank(), the FTS5 ranking function of the knowledge index.
 *
 *   SELECT rowid, kbrank(fts, w0, w1, w2, w3, n_typed, expand_weight, dfs) AS r
 *   FROM fts WHERE fts MATCH '"a" OR "b" OR "x"' ORDER BY r DESC
 *
 * BM25F: each column's term count is normalised by that column's own length
 * (k1 = 1.2, b = 0.75), weighted by the column weight, summed, then
 * saturated once per phrase; each phrase adds idf * that.  Phrases after
 * the first n_typed (the expansion words) count expand_weight times.
 * dfs (optional) is a blob of doubles, each phrase's document count in
 * phrase order when the caller already knows it (negative: not known);
 * otherwise kbrank counts it with one pass over the phrase's rows.
 *
 * Why not the built-in bm25(): it normalises by the whole row's length, so
 * among sections of one runbook (same title, same symptoms) the shortest
 * won whatever its text said; and it cannot weigh phrases differently, so
 * expansion needed a second query.
 */
#ifndef OPSBOT_RETRIEVE_RANK_H
#define OPSBOT_RETRIEVE_RANK_H

#include <sqlite3.h>

#define RANK_MAX_COLUMNS 8
#define RANK_MAX_PHRASES 256

/* Register kbrank on db's FTS5.  0, or -1 when FTS5 is not available. */
int rank_register(sqlite3 *db);

#endif
