/*
 * kb.h: the knowledge index (var/knowledge.db): runbook sections and past
 * incidents, searched with SQLite FTS5 (BM25 with column weights), optional
 * query expansion, optional dense vectors, fused by reciprocal rank.
 *
 * Invariants:
 *  1. Every row of `sections` has exactly one row in `fts` with the same
 *     rowid, and belongs to exactly one row of `docs`.
 *  2. A document is replaced in one transaction: a search sees the old
 *     sections or the new ones, never a mix (WAL: readers keep their
 *     snapshot while the indexer writes).
 *  3. sections.embedding is NULL or dim float32 values of a unit vector made
 *     by the model named in meta 'embed_model'; a model change clears them.
 *  4. Among incidents of the same signature, one whose actions worked is
 *     ranked above one whose actions failed.
 *
 * Ownership: struct kb is freed with kb_close(); hits' strings belong to the
 * struct kb_result until kb_result_free().
 */
#ifndef OPSBOT_RETRIEVE_KB_H
#define OPSBOT_RETRIEVE_KB_H

#include <stddef.h>
#include <stdint.h>

#include "embed.h"
#include "expand.h"
#include "runbook.h"

#define KB_SCHEMA_VERSION 1
#define KB_MAX_K          50   /* results one search may return */
#define KB_CANDIDATES     50   /* per ranker, before fusion */
#define KB_RRF_K          60   /* reciprocal rank fusion constant */
#define KB_HIT_TEXT       600  /* bytes of section text in a hit */
#define KB_EXPAND_WEIGHT  0.4  /* default weight of expansion words */
#define KB_PER_SOURCE     2    /* default hits per document in one result */
#define KB_COMMON_SHARE   0.03 /* default: words in more sections than this are skipped */
#define KB_COMMON_FLOOR   1000 /* ...but a word in fewer sections than this never is */

/* Search flags. */
#define KB_EXPAND 1 /* add synonym terms */
#define KB_DENSE  2 /* fuse with vector search (needs an embedder) */

struct kb;

struct kb_weights {
	double title, symptoms, body, services;
};
extern const struct kb_weights KB_WEIGHTS_DEFAULT;

int kb_open(const char *path, struct kb **out, char *err, size_t errlen);
void kb_close(struct kb *kb);
void kb_set_weights(struct kb *kb, const struct kb_weights *w);
/* Weight of expansion words against typed words (0..1). */
void kb_set_expand_weight(struct kb *kb, double w);
/* At most n sections of one document in a result (n >= 1). */
void kb_set_per_source(struct kb *kb, int n);
/* Words found in more than this share of sections are not searched (0..1]. */
void kb_set_common_share(struct kb *kb, double share);
/* Load the caches a search needs now (after indexing), not in the next search. */
void kb_warm(struct kb *kb);
/* Keep every section's column lengths in memory for ranking (default on). */
void kb_set_size_cache(struct kb *kb, int on);
/* Wait this long for a lock held by another process (default 5 s). */
void kb_set_busy_timeout(struct kb *kb, int ms);

struct kb_index_stats {
	int scanned, changed, unchanged, removed, failed;
	int sections; /* sections written */
	int embedded; /* sections given a vector */
};

/*
 * Index every *.md under dir (recursively, README.md excepted): only files
 * whose size, mtime or content changed are parsed again; files that are gone
 * are removed.  A file that fails to parse keeps its previous version in the
 * index and is reported through report(msg, arg) as "file:line: why".
 * emb may be NULL (no vectors).  Returns 0 when every file indexed, -1 when
 * some failed or on a database error (err says which).
 */
int kb_index_dir(struct kb *kb, const char *dir, const char *const *catalog, struct embed *emb,
                 struct kb_index_stats *st, void (*report)(const char *msg, void *arg), void *arg,
                 char *err, size_t errlen);

/* Batching for bulk loads (the benchmark): kb_put_* inside begin/commit. */
int kb_begin(struct kb *kb, char *err, size_t errlen);
int kb_commit(struct kb *kb, char *err, size_t errlen);
/* Replace the document `source` by runbook rb (no embedding). */
int kb_put_runbook(struct kb *kb, const char *source, const struct runbook *rb, int64_t mtime,
                   int64_t size, uint64_t hash, char *err, size_t errlen);

/* Give vectors to every section that has none (or was made by another model). */
int kb_embed_missing(struct kb *kb, struct embed *emb, int *embedded, char *err, size_t errlen);

/* A resolved incident as memory. */
struct kb_incident {
	int64_t id;
	const char *service;
	const char *title;
	const char *signature; /* kb_signature() of service and alert */
	const char *summary;
	const char *root_cause;
	const char *actions; /* "restart_service (worked); scale_service (failed)" */
	int worked;          /* 1 worked, 0 failed, -1 unknown */
	int64_t resolved_ms;
};
/* Replace incident memory inc->id (call kb_embed_missing afterwards for vectors). */
int kb_put_incident(struct kb *kb, const struct kb_incident *inc, char *err, size_t errlen);

/*
 * The signature of an incident: lower-case service, '/', then the alert
 * name or title with digits dropped and runs of other non-letters folded to
 * one space ("checkout/p latency over s").  Two occurrences of the same
 * problem share it.
 */
void kb_signature(const char *service, const char *alert_or_title, char *out, size_t outlen);

struct kb_hit {
	char *source;  /* "runbooks/high-latency.md" or "incident:42" */
	char *section; /* "Checks", or "Incident" */
	char *title;
	char *kind;   /* "runbook" | "incident" */
	char *why;    /* "matched latency, p99; slow -> latency" */
	char *text;   /* up to KB_HIT_TEXT bytes of the section */
	double score; /* higher is better; scale depends on the mode */
	int64_t incident;
	int worked; /* incidents: 1, 0, -1 */
	char *signature;
	int64_t id;             /* section row */
	int lex_rank, vec_rank; /* 1-based rank in each list, 0 when absent */
};

struct kb_result {
	struct kb_hit *hits;
	size_t n;
	int dense_used; /* 1 when vectors took part */
};

/*
 * Search for up to k hits (k <= KB_MAX_K).  e (expansion) and emb (vectors)
 * may be NULL; flags say which to use.  A query with no searchable word gives
 * zero hits, not an error.  Returns 0, or -1 with err on a database error.
 * When the embedder fails, the search falls back to words alone and says so
 * in err while still returning 0 (err is then non-empty).
 */
int kb_search(struct kb *kb, const char *query, int flags, const struct expand *e,
              struct embed *emb, size_t k, struct kb_result *out, char *err, size_t errlen);
/*
 * The same, for an incident of `service` (may be NULL): the service name is
 * matched against the services column only (runbook front matter, past
 * incidents' service), with the weight of an expansion word.
 */
int kb_search_for(struct kb *kb, const char *query, const char *service, int flags,
                  const struct expand *e, struct embed *emb, size_t k, struct kb_result *out,
                  char *err, size_t errlen);
void kb_result_free(struct kb_result *r);

/* Counts for status lines. */
int kb_counts(struct kb *kb, int64_t *docs, int64_t *sections, int64_t *incidents);

#endif
