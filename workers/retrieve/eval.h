/*
 * eval.h: the labelled query set and the recall / MRR it scores.
 *
 * File format (tests/data/retrieval_queries.tsv): "query<TAB>answers", '#'
 * comments; answers are comma-separated "runbook" (any section of
 * runbooks/<runbook>.md answers) or "runbook#Section" (only that section).
 *
 * Ownership: struct eval_set owns its strings until eval_free().
 */
#ifndef OPSBOT_RETRIEVE_EVAL_H
#define OPSBOT_RETRIEVE_EVAL_H

#include <stddef.h>

#include "kb.h"

#define EVAL_MAX_QUERIES 10000
#define EVAL_MAX_ANSWERS 8
#define EVAL_DEPTH       10 /* ranks looked at for MRR */

struct eval_query {
	char *query;
	char *answers[EVAL_MAX_ANSWERS];
	size_t nanswers;
};

struct eval_set {
	struct eval_query *q;
	size_t n;
};

struct eval_score {
	size_t n;
	double recall_at_1, recall_at_5, mrr;
};

/* Load a set; -1 with "file:line: why" in err. */
int eval_load(const char *path, struct eval_set *set, char *err, size_t errlen);
void eval_free(struct eval_set *set);

/* Does hit h answer query q? */
int eval_hit_answers(const struct eval_query *q, const struct kb_hit *h);

/*
 * Run every query with the given search flags; miss(q, rank, result, arg) is
 * called for each query not answered at rank 1 (rank 0 = not in the top
 * EVAL_DEPTH), when miss is set.  -1 with err on a search error.
 */
int eval_run(struct kb *kb, const struct eval_set *set, int flags, const struct expand *e,
             struct embed *emb, struct eval_score *out,
             void (*miss)(const struct eval_query *q, int rank, const struct kb_result *r,
                          void *arg),
             void *arg, char *err, size_t errlen);

#endif
