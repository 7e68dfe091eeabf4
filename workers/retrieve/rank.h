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
#include <stddef.h>
#include <stdint.h>

#define RANK_MAX_COLUMNS 8
#define RANK_MAX_PHRASES 256
#define RANK_SIZES_MAX   (4u << 20) /* rowids the size cache covers */

/*
 * Column lengths of every row, held in memory: FTS5 would otherwise read
 * its docsize table once per matching row, which is over half the cost
 * of a search on a large index.  Loaded from the FTS5 table's docsize
 * shadow table (a varint per column); rows it does not cover (or when it
 * is off) fall back to xColumnSize.  The caller reloads it whenever the
 * database changed, inside the read transaction the search runs in, so it
 * always matches the rows the search sees.
 */
struct rank_sizes {
	int enabled;
	int ncol;
	uint16_t *len;     /* ncol per rowid, saturating at 65535 */
	unsigned char *ok; /* 1 when the rowid's lengths are known */
	size_t n;          /* rowids covered: 0..n-1 */
};

/* Register kbrank on db's FTS5; sizes may be NULL.  0, or -1 without FTS5. */
int rank_register(sqlite3 *db, struct rank_sizes *sizes);
/* (Re)load sizes from table `<fts>_docsize`.  0, or -1 (then sizes is empty). */
int rank_sizes_load(struct rank_sizes *sizes, sqlite3 *db, const char *fts, int ncol);
void rank_sizes_free(struct rank_sizes *sizes);

#endif
