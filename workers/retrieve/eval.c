/*
 * eval.c: scoring retrieval against the labelled set.
 */
#include "eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

int eval_load(const char *path, struct eval_set *set, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	memset(set, 0, sizeof(*set));
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	char line[2048];
	int lineno = 0;
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t n = strlen(line);
		if (n && line[n - 1] != '\n' && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		char *tab = strchr(line, '\t');
		if (!tab || tab == line || !tab[1]) {
			snprintf(err, errlen, "%s:%d: expected 'query<TAB>answers'", path, lineno);
			goto fail;
		}
		*tab = '\0';
		if (set->n == EVAL_MAX_QUERIES) {
			snprintf(err, errlen, "%s:%d: more than %d queries", path, lineno,
			         EVAL_MAX_QUERIES);
			goto fail;
		}
		if (set->n == cap) {
			cap = cap ? cap * 2 : 256;
			set->q = xrealloc(set->q, cap * sizeof(*set->q));
		}
		struct eval_query *q = &set->q[set->n++];
		memset(q, 0, sizeof(*q));
		q->query = xstrdup(line);
		char *save = NULL;
		for (char *a = strtok_r(tab + 1, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			if (q->nanswers == EVAL_MAX_ANSWERS) {
				snprintf(err, errlen, "%s:%d: more than %d answers", path, lineno,
				         EVAL_MAX_ANSWERS);
				goto fail;
			}
			q->answers[q->nanswers++] = xstrdup(a);
		}
	}
	fclose(f);
	if (!set->n) {
		snprintf(err, errlen, "%s: no queries", path);
		eval_free(set);
		return -1;
	}
	return 0;
fail:
	fclose(f);
	eval_free(set);
	return -1;
}

void eval_free(struct eval_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->q[i].query);
		for (size_t j = 0; j < set->q[i].nanswers; j++)
			free(set->q[i].answers[j]);
	}
	free(set->q);
	memset(set, 0, sizeof(*set));
}

int eval_hit_answers(const struct eval_query *q, const struct kb_hit *h)
{
	/* The runbook name is the source's last path part without ".md". */
	const char *base = strrchr(h->source, '/');
	base = base ? base + 1 : h->source;
	size_t bn = strlen(base);
	if (bn > 3 && strcmp(base + bn - 3, ".md") == 0)
		bn -= 3;
	for (size_t i = 0; i < q->nanswers; i++) {
		const char *a = q->answers[i];
		const char *hash = strchr(a, '#');
		size_t an = hash ? (size_t)(hash - a) : strlen(a);
		if (an != bn || memcmp(a, base, bn) != 0)
			continue;
		if (!hash || strcmp(hash + 1, h->section) == 0)
			return 1;
	}
	return 0;
}

int eval_run(struct kb *kb, const struct eval_set *set, int flags, const struct expand *e,
             struct embed *emb, struct eval_score *out,
             void (*miss)(const struct eval_query *q, int rank, const struct kb_result *r,
                          void *arg),
             void *arg, char *err, size_t errlen)
{
	double r1 = 0, r5 = 0, mrr = 0;
	for (size_t i = 0; i < set->n; i++) {
		struct kb_result r;
		if (kb_search(kb, set->q[i].query, flags, e, emb, EVAL_DEPTH, &r, err, errlen) < 0)
			return -1;
		int rank = 0;
		for (size_t j = 0; j < r.n && !rank; j++)
			if (eval_hit_answers(&set->q[i], &r.hits[j]))
				rank = (int)j + 1;
		if (rank == 1)
			r1++;
		if (rank && rank <= 5)
			r5++;
		if (rank)
			mrr += 1.0 / rank;
		if (rank != 1 && miss)
			miss(&set->q[i], rank, &r, arg);
		kb_result_free(&r);
	}
	out->n = set->n;
	out->recall_at_1 = r1 / (double)set->n;
	out->recall_at_5 = r5 / (double)set->n;
	out->mrr = mrr / (double)set->n;
	return 0;
}
