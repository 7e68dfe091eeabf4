/*
 * expand.h: query words and their expansion, from data files.
 *
 * A query is cut into words the way the index cuts text (runs of ASCII
 * letters and digits or non-ASCII bytes, lower-cased).  Stop words are
 * dropped.  A camel-case word (an alert name such as "HighErrorRate") also
 * gives its parts ("high", "error", "rate").  Each synonym rule (knowledge/synonyms.tsv: "typed
 * words<TAB> index words") whose typed words appear in a row adds its index words as extra terms,
 * remembering which typed word brought each one in, so a hit can say why it matched ("slow ->
 * latency").
 *
 * Ownership: a struct expand owns its rules until expand_free(); a struct
 * expand_query owns its strings until expand_query_free().
 */
#ifndef OPSBOT_RETRIEVE_EXPAND_H
#define OPSBOT_RETRIEVE_EXPAND_H

#include <stddef.h>

#include "mem.h"

#define EXPAND_MAX_QUERY 4096 /* bytes of query text looked at */
#define EXPAND_MAX_TERMS 64   /* typed terms kept */
#define EXPAND_MAX_EXTRA 64   /* expansion terms kept */
#define EXPAND_MAX_RULES 4096

struct expand;

struct expand_query {
	char *terms[EXPAND_MAX_TERMS]; /* typed words, unique, no stop words */
	size_t nterms;
	char *extra[EXPAND_MAX_EXTRA];     /* expansion words not among terms */
	const char *via[EXPAND_MAX_EXTRA]; /* the rule's typed words (owned by expand) */
	size_t nextra;
};

/*
 * Load rules from synonyms_path and stop words from stopwords_path (either
 * may be NULL: no rules / no stop words).  A bad line is an error
 * "file:line: what is wrong".
 */
int expand_load(const char *synonyms_path, const char *stopwords_path, struct expand **out,
                char *err, size_t errlen);
void expand_free(struct expand *e);
size_t expand_rule_count(const struct expand *e);

/*
 * Split query, drop stop words, and add rule expansions when with_rules;
 * e may be NULL (no stop words, no rules).
 */
void expand_query(const struct expand *e, const char *query, int with_rules,
                  struct expand_query *out);
void expand_query_free(struct expand_query *q);

/*
 * Append an FTS5 MATCH expression to out: every term quoted and joined by OR,
 * with the extra terms when with_extra.  Returns -1 when there is no term at
 * all (nothing to search for) or out is full.
 */
int expand_match(const struct expand_query *q, int with_extra, struct buf *out);

/*
 * Split text into lower-cased words; calls fn for each.  Used by the query
 * side and by the "why" explanation so both agree on what a word is.
 */
void expand_words(const char *text, size_t len, void (*fn)(const char *w, size_t n, void *arg),
                  void *arg);

#endif
