/*
 * rank.c: kbrank(), BM25F with per-column normalisation and phrase weights.
 *
 * Per query (kept as FTS5 auxdata): row count, average length of each
 * column, and each phrase's idf (rows holding it, counted once with
 * xQueryPhrase).  Per row: term counts per (phrase, column) from xInst and
 * the row's column lengths.
 */
#include "rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RANK_K1 1.2
#define RANK_B  0.75

struct rank_query {
	int nphrase, ncol;
	double avg[RANK_MAX_COLUMNS];
	double *idf; /* nphrase */
	double *tf;  /* nphrase * ncol, scratch for one row */
};

static void rank_query_free(void *p)
{
	struct rank_query *q = p;
	if (!q)
		return;
	free(q->idf);
	free(q->tf);
	free(q);
}

static int rank_count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *arg)
{
	(void)api;
	(void)fts;
	(*(sqlite3_int64 *)arg)++;
	return SQLITE_OK;
}

/*
 * dfs, when not NULL, holds ndf document counts (double) in phrase order,
 * known from the vocabulary already; a negative one is counted here.
 */
static int rank_query_new(const Fts5ExtensionApi *api, Fts5Context *fts, const double *dfs, int ndf,
                          struct rank_query **out)
{
	struct rank_query *q = calloc(1, sizeof(*q));
	if (!q)
		return SQLITE_NOMEM;
	q->nphrase = api->xPhraseCount(fts);
	q->ncol = api->xColumnCount(fts);
	if (q->ncol > RANK_MAX_COLUMNS || q->nphrase > RANK_MAX_PHRASES) {
		rank_query_free(q);
		return SQLITE_RANGE;
	}
	q->idf = calloc((size_t)(q->nphrase ? q->nphrase : 1), sizeof(double));
	q->tf = calloc((size_t)(q->nphrase ? q->nphrase : 1) * (size_t)q->ncol, sizeof(double));
	if (!q->idf || !q->tf) {
		rank_query_free(q);
		return SQLITE_NOMEM;
	}
	sqlite3_int64 rows = 0;
	int rc = api->xRowCount(fts, &rows);
	for (int c = 0; rc == SQLITE_OK && c < q->ncol; c++) {
		sqlite3_int64 tot = 0;
		rc = api->xColumnTotalSize(fts, c, &tot);
		q->avg[c] = rows > 0 ? (double)tot / (double)rows : 1.0;
		if (q->avg[c] <= 0)
			q->avg[c] = 1.0;
	}
	for (int p = 0; rc == SQLITE_OK && p < q->nphrase; p++) {
		sqlite3_int64 n = 0;
		if (dfs && p < ndf && dfs[p] >= 0)
			n = (sqlite3_int64)dfs[p]; /* saves a pass over the phrase's rows */
		else
			rc = api->xQueryPhrase(fts, p, &n, rank_count_row);
		/* Same floor as FTS5's bm25: a word in most rows still counts a little. */
		double idf = log(((double)rows - (double)n + 0.5) / ((double)n + 0.5));
		q->idf[p] = idf > 1e-6 ? idf : 1e-6;
	}
	if (rc != SQLITE_OK) {
		rank_query_free(q);
		return rc;
	}
	*out = q;
	return SQLITE_OK;
}

static void rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                    sqlite3_value **val)
{
	struct rank_query *q = api->xGetAuxdata(fts, 0);
	int rc = SQLITE_OK;
	if (!q) {
		int ncol = api->xColumnCount(fts);
		const double *dfs = NULL;
		int ndf = 0;
		if (nval > ncol + 2 && sqlite3_value_type(val[ncol + 2]) == SQLITE_BLOB) {
			dfs = sqlite3_value_blob(val[ncol + 2]);
			ndf = sqlite3_value_bytes(val[ncol + 2]) / (int)sizeof(double);
		}
		rc = rank_query_new(api, fts, dfs, ndf, &q);
		if (rc == SQLITE_OK)
			rc = api->xSetAuxdata(fts, q, rank_query_free);
		if (rc != SQLITE_OK) {
			sqlite3_result_error_code(ctx, rc);
			return;
		}
	}
	double w[RANK_MAX_COLUMNS];
	for (int c = 0; c < q->ncol; c++)
		w[c] = c < nval ? sqlite3_value_double(val[c]) : 1.0;
	int ntyped = nval > q->ncol ? sqlite3_value_int(val[q->ncol]) : q->nphrase;
	double xw = nval > q->ncol + 1 ? sqlite3_value_double(val[q->ncol + 1]) : 1.0;

	memset(q->tf, 0, (size_t)q->nphrase * (size_t)q->ncol * sizeof(double));
	int ninst = 0;
	rc = api->xInstCount(fts, &ninst);
	for (int i = 0; rc == SQLITE_OK && i < ninst; i++) {
		int p, c, off;
		rc = api->xInst(fts, i, &p, &c, &off);
		if (rc == SQLITE_OK && p >= 0 && p < q->nphrase && c >= 0 && c < q->ncol)
			q->tf[p * q->ncol + c] += 1.0;
	}
	double norm[RANK_MAX_COLUMNS];
	const struct rank_sizes *sz = api->xUserData(fts);
	sqlite3_int64 row = api->xRowid(fts);
	int cached = sz && sz->enabled && sz->ncol == q->ncol && row >= 0 && (size_t)row < sz->n &&
	             sz->ok[row];
	for (int c = 0; rc == SQLITE_OK && c < q->ncol; c++) {
		int len = 0;
		if (cached)
			len = sz->len[(size_t)row * (size_t)sz->ncol + (size_t)c];
		else
			rc = api->xColumnSize(fts, c, &len);
		norm[c] = 1.0 - RANK_B + RANK_B * (double)len / q->avg[c];
	}
	if (rc != SQLITE_OK) {
		sqlite3_result_error_code(ctx, rc);
		return;
	}
	double score = 0;
	for (int p = 0; p < q->nphrase; p++) {
		double t = 0;
		for (int c = 0; c < q->ncol; c++)
			t += w[c] * q->tf[p * q->ncol + c] / norm[c];
		if (t <= 0)
			continue;
		double s = q->idf[p] * t * (RANK_K1 + 1.0) / (t + RANK_K1);
		score += p < ntyped ? s : xw * s;
	}
	sqlite3_result_double(ctx, score);
}

int rank_register(sqlite3 *db, struct rank_sizes *sizes)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (!api || api->iVersion < 2)
		return -1;
	return api->xCreateFunction(api, "kbrank", sizes, rank_fn, NULL) == SQLITE_OK ? 0 : -1;
}

void rank_sizes_free(struct rank_sizes *sizes)
{
	free(sizes->len);
	free(sizes->ok);
	sizes->len = NULL;
	sizes->ok = NULL;
	sizes->n = 0;
}

/* SQLite's varint (as FTS5 writes them); bytes used, or 0 when truncated. */
static int rank_varint(const unsigned char *p, int n, uint32_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < n && i < 9; i++) {
		if (i == 8) {
			v = (v << 8) | p[i];
			*out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			return 9;
		}
		v = (v << 7) | (p[i] & 0x7f);
		if (!(p[i] & 0x80)) {
			*out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			return i + 1;
		}
	}
	return 0;
}

int rank_sizes_load(struct rank_sizes *sizes, sqlite3 *db, const char *fts, int ncol)
{
	rank_sizes_free(sizes);
	sizes->ncol = ncol;
	if (ncol <= 0 || ncol > RANK_MAX_COLUMNS)
		return -1;
	sqlite3_stmt *st;
	char *sql = sqlite3_mprintf("SELECT max(id) FROM \"%w_docsize\"", fts);
	if (!sql)
		return -1;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return -1;
	sqlite3_int64 max = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (max < 0)
		return -1;
	size_t n = (size_t)max + 1 < RANK_SIZES_MAX ? (size_t)max + 1 : RANK_SIZES_MAX;
	sizes->len = calloc(n * (size_t)ncol, sizeof(uint16_t));
	sizes->ok = calloc(n, 1);
	if (!sizes->len || !sizes->ok) {
		rank_sizes_free(sizes);
		return -1;
	}
	sizes->n = n;
	sql =
	    sqlite3_mprintf("SELECT id, sz FROM \"%w_docsize\" WHERE id < %lld", fts, (long long)n);
	if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		rank_sizes_free(sizes);
		return -1;
	}
	sqlite3_free(sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		const unsigned char *b = sqlite3_column_blob(st, 1);
		int bn = sqlite3_column_bytes(st, 1), off = 0, c;
		if (id < 0 || (size_t)id >= n)
			continue;
		for (c = 0; c < ncol; c++) {
			uint32_t v;
			int used = rank_varint(b + off, bn - off, &v);
			if (!used)
				break; /* not the layout we expect: leave this row to FTS5 */
			off += used;
			sizes->len[(size_t)id * (size_t)ncol + (size_t)c] =
			    (uint16_t)(v > 65535 ? 65535 : v);
		}
		sizes->ok[id] = c == ncol;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rank_sizes_free(sizes);
		return -1;
	}
	return 0;
}
