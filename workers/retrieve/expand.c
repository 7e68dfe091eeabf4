/*
 * expand.c: query splitting, stop words and synonym expansion.
 *
 * Rules are data (knowledge/synonyms.tsv); this file only knows how to read
 * and apply them.  A rule's typed side may be several words ("out of
 * memory"); it matches those words in a row in the query, before stop words
 * are removed, so phrases survive.
 */
#include "expand.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define EXPAND_RULE_WORDS 8
#define EXPAND_LINE_MAX   1024

struct expand_rule {
	char *typed; /* the words as written, for "why" */
	char *from[EXPAND_RULE_WORDS];
	size_t nfrom;
	char *to[EXPAND_RULE_WORDS];
	size_t nto;
};

struct expand {
	struct expand_rule *rules;
	size_t nrules;
	char **stop;
	size_t nstop;
};

struct expand_words_acc {
	char **w;
	size_t n, max;
};

static int expand_is_word_byte(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

void expand_words(const char *text, size_t len, void (*fn)(const char *w, size_t n, void *arg),
                  void *arg)
{
	char word[64];
	size_t i = 0;
	while (i < len) {
		while (i < len && !expand_is_word_byte((unsigned char)text[i]))
			i++;
		size_t n = 0;
		while (i < len && expand_is_word_byte((unsigned char)text[i])) {
			if (n < sizeof(word) - 1)
				word[n++] = (char)tolower((unsigned char)text[i]);
			i++;
		}
		if (n > 0) {
			word[n] = '\0';
			fn(word, n, arg);
		}
	}
}

/*
 * Like expand_words, and a word written in camel case ("HighErrorRate",
 * "CPUThrottlingHigh", "TargetDown": alert names) is followed by its parts
 * ("high", "error", "rate"), since runbooks spell them as words.
 */
static void expand_query_words(const char *text, size_t len,
                               void (*fn)(const char *w, size_t n, void *arg), void *arg)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && !expand_is_word_byte((unsigned char)text[i]))
			i++;
		size_t start = i;
		while (i < len && expand_is_word_byte((unsigned char)text[i]))
			i++;
		if (i == start)
			continue;
		expand_words(text + start, i - start, fn, arg);
		/* Part boundaries: aB, 9B, and the B of ABc. */
		size_t cuts[32], nc = 0;
		for (size_t j = start + 1; j < i && nc < 31; j++) {
			unsigned char p = (unsigned char)text[j - 1], c = (unsigned char)text[j];
			unsigned char nx = j + 1 < i ? (unsigned char)text[j + 1] : 0;
			if (((islower(p) || isdigit(p)) && isupper(c)) ||
			    (isupper(p) && isupper(c) && islower(nx)))
				cuts[nc++] = j;
		}
		if (nc == 0)
			continue;
		size_t from = start;
		for (size_t k = 0; k <= nc; k++) {
			size_t to = k < nc ? cuts[k] : i;
			expand_words(text + from, to - from, fn, arg);
			from = to;
		}
	}
}

static void expand_acc_add(const char *w, size_t n, void *arg)
{
	struct expand_words_acc *a = arg;
	if (a->n < a->max)
		a->w[a->n++] = xstrndup(w, n);
}

static void expand_rule_free(struct expand_rule *r)
{
	free(r->typed);
	for (size_t i = 0; i < r->nfrom; i++)
		free(r->from[i]);
	for (size_t i = 0; i < r->nto; i++)
		free(r->to[i]);
}

void expand_free(struct expand *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nrules; i++)
		expand_rule_free(&e->rules[i]);
	free(e->rules);
	for (size_t i = 0; i < e->nstop; i++)
		free(e->stop[i]);
	free(e->stop);
	free(e);
}

size_t expand_rule_count(const struct expand *e)
{
	return e ? e->nrules : 0;
}

/* Read one line into line (without newline); 1 when read, 0 at EOF, -1 too long. */
static int expand_getline(FILE *f, char *line, size_t max)
{
	if (!fgets(line, (int)max, f))
		return 0;
	size_t n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	else if (!feof(f))
		return -1;
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	return 1;
}

static int expand_load_rules(struct expand *e, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	char line[EXPAND_LINE_MAX];
	size_t cap = 0;
	int lineno = 0, rc, ret = -1;
	while ((rc = expand_getline(f, line, sizeof(line))) != 0) {
		lineno++;
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
			         EXPAND_LINE_MAX - 1);
			goto out;
		}
		const char *s = line;
		while (*s == ' ')
			s++;
		if (!*s || *s == '#')
			continue;
		char *tab = strchr(line, '\t');
		if (!tab) {
			snprintf(err, errlen,
			         "%s:%d: expected 'typed words<TAB>index words', found no tab",
			         path, lineno);
			goto out;
		}
		*tab = '\0';
		struct expand_rule r = {0};
		struct expand_words_acc from = {r.from, 0, EXPAND_RULE_WORDS};
		struct expand_words_acc to = {r.to, 0, EXPAND_RULE_WORDS};
		expand_words(line, strlen(line), expand_acc_add, &from);
		expand_words(tab + 1, strlen(tab + 1), expand_acc_add, &to);
		r.nfrom = from.n;
		r.nto = to.n;
		if (r.nfrom == 0 || r.nto == 0) {
			expand_rule_free(&r);
			snprintf(err, errlen, "%s:%d: both sides of the tab need at least one word",
			         path, lineno);
			goto out;
		}
		if (e->nrules == EXPAND_MAX_RULES) {
			expand_rule_free(&r);
			snprintf(err, errlen, "%s:%d: more than %d rules", path, lineno,
			         EXPAND_MAX_RULES);
			goto out;
		}
		r.typed = xstrdup(line);
		if (e->nrules == cap) {
			cap = cap ? cap * 2 : 64;
			e->rules = xrealloc(e->rules, cap * sizeof(*e->rules));
		}
		e->rules[e->nrules++] = r;
	}
	ret = 0;
out:
	fclose(f);
	return ret;
}

static int expand_load_stop(struct expand *e, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	char line[EXPAND_LINE_MAX];
	size_t cap = 0;
	int lineno = 0, rc;
	while ((rc = expand_getline(f, line, sizeof(line))) != 0) {
		lineno++;
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
			         EXPAND_LINE_MAX - 1);
			fclose(f);
			return -1;
		}
		if (line[0] == '#')
			continue;
		char *w[EXPAND_LINE_MAX / 2];
		struct expand_words_acc acc = {w, 0, EXPAND_LINE_MAX / 2};
		expand_words(line, strlen(line), expand_acc_add, &acc);
		for (size_t i = 0; i < acc.n; i++) {
			if (e->nstop == cap) {
				cap = cap ? cap * 2 : 64;
				e->stop = xrealloc(e->stop, cap * sizeof(*e->stop));
			}
			e->stop[e->nstop++] = w[i];
		}
	}
	fclose(f);
	return 0;
}

int expand_load(const char *synonyms_path, const char *stopwords_path, struct expand **out,
                char *err, size_t errlen)
{
	struct expand *e = xcalloc(1, sizeof(*e));
	if ((synonyms_path && expand_load_rules(e, synonyms_path, err, errlen) < 0) ||
	    (stopwords_path && expand_load_stop(e, stopwords_path, err, errlen) < 0)) {
		expand_free(e);
		return -1;
	}
	*out = e;
	return 0;
}

static int expand_has(char *const *list, size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], w) == 0)
			return 1;
	return 0;
}

void expand_query(const struct expand *e, const char *query, int with_rules,
                  struct expand_query *out)
{
	char *words[EXPAND_MAX_TERMS * 2];
	struct expand_words_acc acc = {words, 0, EXPAND_MAX_TERMS * 2};
	size_t qlen = strnlen(query, EXPAND_MAX_QUERY);

	memset(out, 0, sizeof(*out));
	expand_query_words(query, qlen, expand_acc_add, &acc);
	/* Rules first, over the words in order (stop words included, for phrases). */
	for (size_t r = 0; e && with_rules && r < e->nrules; r++) {
		const struct expand_rule *rule = &e->rules[r];
		int hit = 0;
		for (size_t i = 0; !hit && i + rule->nfrom <= acc.n; i++) {
			size_t k = 0;
			while (k < rule->nfrom && strcmp(words[i + k], rule->from[k]) == 0)
				k++;
			hit = k == rule->nfrom;
		}
		if (!hit)
			continue;
		for (size_t t = 0; t < rule->nto; t++) {
			if (out->nextra == EXPAND_MAX_EXTRA)
				break;
			if (expand_has(out->extra, out->nextra, rule->to[t]))
				continue;
			out->via[out->nextra] = rule->typed;
			out->extra[out->nextra++] = xstrdup(rule->to[t]);
		}
	}
	for (size_t i = 0; i < acc.n; i++) {
		int keep = acc.w[i][1] != '\0' && out->nterms < EXPAND_MAX_TERMS &&
		           !(e && expand_has(e->stop, e->nstop, acc.w[i])) &&
		           !expand_has(out->terms, out->nterms, acc.w[i]);
		if (keep)
			out->terms[out->nterms++] = acc.w[i];
		else
			free(acc.w[i]);
	}
	/* An extra word the person typed anyway is a plain term. */
	size_t j = 0;
	for (size_t i = 0; i < out->nextra; i++) {
		if (expand_has(out->terms, out->nterms, out->extra[i])) {
			free(out->extra[i]);
			continue;
		}
		out->via[j] = out->via[i];
		out->extra[j++] = out->extra[i];
	}
	out->nextra = j;
}

void expand_query_free(struct expand_query *q)
{
	for (size_t i = 0; i < q->nterms; i++)
		free(q->terms[i]);
	for (size_t i = 0; i < q->nextra; i++)
		free(q->extra[i]);
	memset(q, 0, sizeof(*q));
}

int expand_match(const struct expand_query *q, int with_extra, struct buf *out)
{
	size_t n = 0;
	for (size_t i = 0; i < q->nterms + (with_extra ? q->nextra : 0); i++) {
		const char *w = i < q->nterms ? q->terms[i] : q->extra[i - q->nterms];
		/* Words hold no quote (they are letters and digits only). */
		if (buf_appendf(out, "%s\"%s\"", n ? " OR " : "", w) < 0)
			return -1;
		n++;
	}
	return n ? 0 : -1;
}
