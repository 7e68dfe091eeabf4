/* playbook.c: findings and runbooks to catalog actions, ranked by a bandit (see playbook.h). */
#include "playbook.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bandit.h"
#include "critic.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define PLAYBOOK_TEXT_MAX (64 << 10)

struct playbook_cand {
	const struct catalog_action *a;
	int words;
	double runbook;
	double prior, score;
	int64_t runs, wins;
	char cite[8][300];
	int ncite;
};

static int playbook_has_word(const char *text, const char *word);
static int playbook_has_word_ci(const char *text, const char *word);

static void playbook_add_text(struct buf *b, const char *s)
{
	if (!s || !*s)
		return;
	size_t room = b->max > b->len + 2 ? b->max - b->len - 2 : 0;
	size_t n = strlen(s);
	if (n > room)
		n = room;
	buf_append(b, " ", 1);
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)s[i]);
		buf_append(b, &c, 1);
	}
}

/* Whether service from calls to (directly or through others) in [services]. */
static int playbook_calls(const struct plan_ctx *ctx, const char *from, const char *to)
{
	const char *seen[PLAN_MAX_EDGES + 1];
	int n = 0, head = 0;
	seen[n++] = from;
	while (head < n) {
		const char *u = seen[head++];
		for (int e = 0; ctx && e < ctx->nedges; e++) {
			if (strcmp(ctx->edges[e].caller, u) != 0)
				continue;
			const char *v = ctx->edges[e].callee;
			if (!strcmp(v, to))
				return 1;
			int dup = 0;
			for (int k = 0; k < n; k++)
				dup |= !strcmp(seen[k], v);
			if (!dup && n < PLAN_MAX_EDGES + 1)
				seen[n++] = v;
		}
	}
	return 0;
}

/*
 * The service the findings point at: the top of the ranking when it is
 * confident, or when the incident's service calls it ([services]): an alert
 * names where the symptom showed, and symptoms travel up from a dependency.
 * Else the incident's service.
 */
static const char *playbook_suspect(const struct plan_ctx *ctx, const cJSON *input)
{
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(input, "incident");
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(input, "detect");
	const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(det, "ranking"), 0);
	const char *ts = json_str(top, "service"), *is = json_str(inc, "service");
	double conf = json_num(top, "confidence", 0);
	if (ts && conf >= 0.5)
		return ts;
	if (ts && is && conf >= 0.15 && playbook_calls(ctx, is, ts))
		return ts;
	return is;
}

/*
 * The text findings and the alert give, lower-cased.  Of the detector's
 * findings only those about the suspected service count (when it has
 * any): another service's rising request rate or latency is a symptom of
 * the cause, and acting on it (clearing a cache that is fine, shedding a
 * healthy service's traffic) does not fix anything.
 */
static void playbook_text(const struct plan_ctx *ctx, const cJSON *input, struct buf *b)
{
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(input, "incident");
	playbook_add_text(b, json_str(inc, "title"));
	playbook_add_text(b, json_str(inc, "summary"));
	playbook_add_text(b, json_str(inc, "alert"));
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(inc, "labels");
	playbook_add_text(b, json_str(labels, "alertname"));
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(input, "detect");
	playbook_add_text(b, json_str(det, "summary"));
	const char *suspect = playbook_suspect(ctx, input);
	const cJSON *x;
	int own = 0;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(det, "anomalies")) own |=
	    suspect && json_str(x, "service") && !strcmp(json_str(x, "service"), suspect);
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(det, "anomalies"))
	{
		const char *sv = json_str(x, "service");
		if (!own || (sv && !strcmp(sv, suspect)))
			playbook_add_text(b, json_str(x, "series"));
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(det, "ranking"))
	{
		const char *sv = json_str(x, "service");
		if (!suspect || (sv && !strcmp(sv, suspect)))
			playbook_add_text(b, json_str(x, "rationale"));
	}
}

/* Actions the last round ran without fixing it (a replan's verify result). */
static int playbook_tried(const cJSON *input, const char *action)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(input, "verify");
	if (!cJSON_IsObject(v))
		return 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "checks"))
	{
		const char *a = json_str(c, "action");
		if (a && !strcmp(a, action))
			return 1;
	}
	const char *sum = json_str(v, "summary");
	return sum && playbook_has_word_ci(sum, action);
}

/* '_' joins words only when the word looked for has one (action names); in
 * metric names such as checkout_latency_p99 it separates them. */
static int playbook_wordch(char c, int underscore)
{
	return isalnum((unsigned char)c) || (underscore && c == '_');
}

/* Whether word (lower case) occurs in text as a whole word. */
static int playbook_has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	if (n == 0)
		return 0;
	int u = strchr(word, '_') != NULL;
	for (const char *p = text; (p = strstr(p, word)) != NULL; p++) {
		if ((p == text || !playbook_wordch(p[-1], u)) && !playbook_wordch(p[n], u))
			return 1;
	}
	return 0;
}

static int playbook_has_word_ci(const char *text, const char *word)
{
	char *low = xstrdup(text);
	for (char *c = low; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	int r = playbook_has_word(low, word);
	free(low);
	return r;
}

void playbook_signature(const cJSON *input, char *out, size_t outlen)
{
	static const struct {
		const char *signal;
		const char *words[8];
	} classes[] = {
	    {"certificate", {"certificate", "tls", "ssl", "x509", "expiry", NULL}},
	    {"disk", {"disk", "filesystem", "inode", "inodes", "space", NULL}},
	    {"deploy", {"deploy", "deployment", "release", "rollout", "regression", NULL}},
	    {"database", {"database", "replication", "query", "queries", "db", "pool", NULL}},
	    {"queue", {"queue", "backlog", "lag", "consumer", "consumers", NULL}},
	    {"memory", {"memory", "oom", "leak", "heap", NULL}},
	    {"errors", {"error", "errors", "5xx", "crash", "exception", "unhealthy", NULL}},
	    {"latency", {"latency", "slow", "p99", "p95", "duration", NULL}},
	    {"saturation", {"cpu", "saturation", "load", "throttling", NULL}},
	    {"traffic", {"traffic", "requests", "surge", "ddos", NULL}},
	};
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(input, "incident");
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(input, "detect");
	const char *svc = json_str(inc, "service");
	const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(det, "ranking"), 0);
	if (json_str(top, "service") && json_num(top, "confidence", 0) >= 0.5)
		svc = json_str(top, "service");
	struct buf b = {.max = PLAYBOOK_TEXT_MAX};
	/* the signal comes from the findings first, then the alert text */
	const cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(det, "anomalies"))
	    playbook_add_text(&b, json_str(x, "series"));
	playbook_add_text(&b, json_str(inc, "title"));
	const char *signal = "other";
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]) && b.data; i++)
		for (int k = 0; classes[i].words[k]; k++)
			if (playbook_has_word(b.data, classes[i].words[k])) {
				signal = classes[i].signal;
				goto found;
			}
found:;
	char s[64];
	critic_clean_line(svc ? svc : "unknown", s, sizeof(s));
	for (char *c = s; *c; c++)
		if (*c == '/' || *c == ' ')
			*c = '_';
	snprintf(out, outlen, "%s/%s", s, signal);
	buf_free(&b);
}

/* A value for parameter p from the incident, or NULL (then the default applies). */
static const char *playbook_param_source(const struct plan_ctx *ctx, const struct catalog_param *p,
                                         const cJSON *input, char *tmp, size_t tmplen)
{
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(input, "incident");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(inc, "labels");
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(input, "detect");
	const char *name = p->name;
	(void)det;
	if (strcmp(name, "service") == 0) {
		const char *sv = playbook_suspect(ctx, input);
		return sv ? sv : json_str(labels, "service");
	}
	if (json_str(labels, name))
		return json_str(labels, name);
	if (strcmp(name, "node") == 0 && json_str(labels, "instance")) {
		str_copy(tmp, tmplen, json_str(labels, "instance"));
		char *colon = strchr(tmp, ':');
		if (colon)
			*colon = '\0';
		return tmp;
	}
	if (strcmp(name, "cluster") == 0)
		return json_str(labels, "db") ? json_str(labels, "db") : json_str(inc, "service");
	if (strcmp(name, "domain") == 0)
		return json_str(labels, "host");
	if (strcmp(name, "title") == 0 || strcmp(name, "message") == 0) {
		/* the title, kept to characters such patterns usually allow */
		const char *t = json_str(inc, "title");
		if (!t)
			return NULL;
		size_t o = 0;
		for (const char *c = t; *c && o + 1 < tmplen && o < 120; c++)
			tmp[o++] =
			    (isalnum((unsigned char)*c) || strchr(" ,.:()_-", *c)) ? *c : ' ';
		tmp[o] = '\0';
		return tmp;
	}
	return NULL;
}

/* Params for a candidate; NULL with why when a required one cannot be filled. */
static cJSON *playbook_params(const struct plan_ctx *ctx, const struct catalog_action *a,
                              const cJSON *input, char *why, size_t whylen)
{
	cJSON *params = json_new_object();
	for (size_t i = 0; i < a->nparams; i++) {
		const struct catalog_param *p = &a->params[i];
		char tmp[256], err[300];
		const char *v = playbook_param_source(ctx, p, input, tmp, sizeof(tmp));
		if (v && catalog_check_text(p, v, err, sizeof(err)) == 0) {
			json_add(params, p->name, catalog_value_json(p, v));
			continue;
		}
		if (p->def) {
			json_add(params, p->name, catalog_value_json(p, p->def));
			continue;
		}
		if (p->optional)
			continue;
		if (v)
			snprintf(why, whylen, "the incident's value for %s does not fit: %s",
			         p->name, err);
		else
			snprintf(why, whylen, "nothing in the incident says which %s", p->name);
		cJSON_Delete(params);
		return NULL;
	}
	return params;
}

static int playbook_cmp(const void *a, const void *b)
{
	const struct playbook_cand *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->a->name, y->a->name); /* deterministic ties */
}

/* The findings' words: how many of each action's match words they hold. */
static void playbook_match_words(const struct plan_ctx *ctx, const cJSON *input,
                                 struct playbook_cand *cand)
{
	const struct catalog *cat = ctx->cat;
	struct buf text = {.max = PLAYBOOK_TEXT_MAX};
	playbook_text(ctx, input, &text);
	for (size_t i = 0; i < cat->n; i++) {
		cand[i].a = &cat->actions[i];
		for (size_t k = 0; text.data && k < cat->actions[i].nmatch; k++)
			if (playbook_has_word(text.data, cat->actions[i].match[k]))
				cand[i].words++;
	}
	buf_free(&text);
}

/* Runbook suggestions: a passage that names an action votes for it (by its
 * rank, less from sections that are not a fix) and is cited. */
static void playbook_runbook_votes(const struct catalog *cat, const cJSON *input,
                                   struct playbook_cand *cand)
{
	const cJSON *passages = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(input, "retrieve"), "passages");
	int rank = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, (cJSON_IsArray(passages) ? passages : NULL))
	{
		rank++;
		const char *t = json_str(p, "text");
		if (!t || rank > 20)
			continue;
		char ref[300];
		critic_passage_ref(p, ref, sizeof(ref));
		/* a runbook's escalation or rollback advice is not its fix, and
		 * neither is the list of actions its overview mentions */
		double w = 1.0 / rank;
		const char *sec = json_str(p, "section");
		if (sec && (playbook_has_word_ci(sec, "escalate") ||
		            playbook_has_word_ci(sec, "escalation") ||
		            playbook_has_word_ci(sec, "rollback") ||
		            playbook_has_word_ci(sec, "overview") ||
		            playbook_has_word_ci(sec, "what you see") ||
		            playbook_has_word_ci(sec, "symptoms")))
			w *= 0.3;
		for (size_t i = 0; i < cat->n; i++) {
			if (!playbook_has_word_ci(t, cat->actions[i].name))
				continue;
			cand[i].runbook += w;
			if (cand[i].ncite < 8)
				snprintf(cand[i].cite[cand[i].ncite++], sizeof(cand[i].cite[0]),
				         "%s", ref);
		}
	}
}

/* Whether a candidate with some support may stand; a note says why not. */
static int playbook_admit(const cJSON *input, const struct playbook_cand *c, cJSON *notes)
{
	char line[300];
	/* An action that takes something away (it has a rollback: shedding
	 * traffic, draining a node) needs the findings to point at it; a
	 * runbook's mention alone is not enough. */
	if (c->words == 0 && c->a->rollback)
		snprintf(line, sizeof(line),
		         "playbook left out %s: only a runbook suggests it, and it takes "
		         "capacity away",
		         c->a->name);
	/* A replan: what the last round ran did not fix it. */
	else if (playbook_tried(input, c->a->name))
		snprintf(line, sizeof(line),
		         "playbook left out %s: the last round ran it and the problem stayed",
		         c->a->name);
	else
		return 1;
	cJSON_AddItemToArray(notes, cJSON_CreateString(line));
	return 0;
}

/* The bandit over the signature's history: the candidates that stand,
 * scored and sorted best first at the front of cand.  Returns how many. */
static size_t playbook_rank(const struct plan_ctx *ctx, const cJSON *input, const char *signature,
                            struct playbook_cand *cand, cJSON *notes)
{
	struct outcomes_arm *arms = NULL;
	size_t narms = 0, ncand = 0;
	int64_t total = 0;
	if (ctx->mem && outcomes_arms(ctx->mem, signature, &arms, &narms) < 0)
		cJSON_AddItemToArray(notes, cJSON_CreateString("the planner's memory could not be "
		                                               "read; ranked without history"));
	for (size_t k = 0; k < narms; k++)
		total += arms[k].runs;
	for (size_t i = 0; i < ctx->cat->n; i++) {
		struct playbook_cand *c = &cand[i];
		for (size_t k = 0; k < narms; k++)
			if (strcmp(arms[k].action, c->a->name) == 0) {
				c->runs = arms[k].runs;
				c->wins = arms[k].wins;
			}
		if (c->words == 0 && c->runbook == 0)
			continue;
		if (!playbook_admit(input, c, notes))
			continue;
		c->prior = 1.0 - exp(-(0.5 * c->words + c->runbook));
		c->score = bandit_score(c->prior, c->runs, c->wins, total, ctx->ucb_c);
		cand[ncand++] = *c;
	}
	free(arms);
	qsort(cand, ncand, sizeof(*cand), playbook_cmp);
	return ncand;
}

/* One step for a ranked candidate, with its rationale and citations; NULL
 * (and a note) when its parameters cannot be filled. */
static cJSON *playbook_step(const struct plan_ctx *ctx, const struct playbook_cand *c,
                            const cJSON *input, const char *signature, cJSON *notes)
{
	char why[400];
	cJSON *params = playbook_params(ctx, c->a, input, why, sizeof(why));
	if (!params) {
		char line[512];
		snprintf(line, sizeof(line), "playbook skipped %s: %s", c->a->name, why);
		cJSON_AddItemToArray(notes, cJSON_CreateString(line));
		return NULL;
	}
	cJSON *step = json_new_object();
	json_add_str(step, "action", c->a->name);
	json_add(step, "params", params);
	char rat[CRITIC_RATIONALE_MAX];
	if (c->runs > 0)
		snprintf(rat, sizeof(rat), "%s; fixed %lld of %lld past %s incidents (score %.2f)",
		         c->ncite ? "suggested by the runbook" : "matches the findings",
		         (long long)c->wins, (long long)c->runs, signature, c->score);
	else
		snprintf(rat, sizeof(rat), "%s%s%s (score %.2f, no history yet for %s)",
		         c->words ? "matches the findings" : "",
		         c->words && c->ncite ? " and " : "",
		         c->ncite ? "suggested by the runbook" : "", c->score, signature);
	json_add_str(step, "rationale", rat);
	cJSON *cites = json_new_array();
	for (int k = 0; k < c->ncite; k++)
		cJSON_AddItemToArray(cites, cJSON_CreateString(c->cite[k]));
	json_add(step, "citations", cites);
	return step;
}

/* Nothing matched: the default step (when it can be filled) and a note. */
static void playbook_fallback(const struct plan_ctx *ctx, const cJSON *input, cJSON *steps,
                              cJSON *notes)
{
	const struct catalog_action *fa = catalog_find(ctx->cat, ctx->fallback_action);
	char why[400];
	cJSON *params = fa ? playbook_params(ctx, fa, input, why, sizeof(why)) : NULL;
	if (params) {
		cJSON *step = json_new_object();
		json_add_str(step, "action", fa->name);
		json_add(step, "params", params);
		json_add_str(step, "rationale",
		             "no playbook matched these findings; a person should look");
		json_add(step, "citations", json_new_array());
		cJSON_AddItemToArray(steps, step);
	}
	cJSON_AddItemToArray(notes, cJSON_CreateString("no catalog action matched the findings or "
	                                               "runbooks; fell back to the default step"));
}

cJSON *playbook_propose(const struct plan_ctx *ctx, const cJSON *input, const char *signature,
                        cJSON *notes)
{
	struct playbook_cand *cand = xcalloc(ctx->cat->n + 1, sizeof(*cand));
	playbook_match_words(ctx, input, cand);
	playbook_runbook_votes(ctx->cat, input, cand);
	size_t ncand = playbook_rank(ctx, input, signature, cand, notes);
	cJSON *steps = json_new_array();
	int max = ctx->max_steps > 0 ? ctx->max_steps : 3;
	for (size_t i = 0; i < ncand && cJSON_GetArraySize(steps) < max; i++) {
		cJSON *step = playbook_step(ctx, &cand[i], input, signature, notes);
		if (step)
			cJSON_AddItemToArray(steps, step);
	}
	if (cJSON_GetArraySize(steps) == 0 && ctx->fallback_action)
		playbook_fallback(ctx, input, steps, notes);
	free(cand);
	return steps;
}

/* ---- verification coverage ---- */

#define PLAYBOOK_WATCH_ACTION "watch_service"

static int playbook_covered(const struct plan_ctx *ctx, const cJSON *steps, const char *svc)
{
	const cJSON *st;
	cJSON_ArrayForEach(st, steps)
	{
		const struct catalog_action *a = catalog_find(ctx->cat, json_str(st, "action"));
		const char *s = json_str(cJSON_GetObjectItemCaseSensitive(st, "params"), "service");
		if (a && a->verify && s && !strcmp(s, svc))
			return 1;
	}
	return 0;
}

static void playbook_add_service(char (*list)[64], int *n, int max, const char *svc)
{
	if (!svc || !*svc || strlen(svc) >= 64)
		return;
	for (int i = 0; i < *n; i++)
		if (!strcmp(list[i], svc))
			return;
	if (*n < max)
		snprintf(list[(*n)++], 64, "%s", svc);
}

cJSON *playbook_watch_steps(const struct plan_ctx *ctx, const cJSON *input, const cJSON *steps)
{
	cJSON *out = json_new_array();
	const struct catalog_action *w = catalog_find(ctx->cat, PLAYBOOK_WATCH_ACTION);
	if (!w)
		return out;
	const char *suspect = playbook_suspect(ctx, input);
	/* only when a step acts on the suspected service, and a graph or the
	 * grouped alerts say who else the incident touches */
	char svc[PLAN_MAX_STEPS][64];
	int n = 0;
	if (suspect)
		playbook_add_service(svc, &n, PLAN_MAX_STEPS, suspect);
	for (int depth = 0; depth < 4; depth++) /* callers, and their callers */
		for (int e = 0; e < ctx->nedges; e++)
			for (int i = 0; i < n; i++)
				if (!strcmp(ctx->edges[e].callee, svc[i]))
					playbook_add_service(svc, &n, PLAN_MAX_STEPS,
					                     ctx->edges[e].caller);
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(input, "incident");
	const cJSON *a;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(
	                          cJSON_GetObjectItemCaseSensitive(inc, "grouped"), "alerts"))
	    playbook_add_service(svc, &n, PLAN_MAX_STEPS, json_str(a, "service"));
	/* Without a [services] graph and grouped alerts, the plan's own checks
	 * stand; with one, the suspect is checked too when no step checks it (a
	 * plan of a page and a ticket must not pass verification untested). */
	if (n <= 1 && ctx->nedges == 0)
		return out;
	for (int i = 0; i < n; i++) {
		if (playbook_covered(ctx, steps, svc[i]))
			continue;
		cJSON *params = json_new_object();
		json_add_str(params, "service", svc[i]);
		cJSON *step = json_new_object();
		json_add_str(step, "action", w->name);
		json_add(step, "params", params);
		char rat[CRITIC_RATIONALE_MAX];
		snprintf(rat, sizeof(rat),
		         "%s %s; verification waits until it meets its objectives again",
		         i == 0 ? "the suspected service" : "the incident also touches", svc[i]);
		json_add_str(step, "rationale", rat);
		json_add(step, "citations", json_new_array());
		cJSON_AddItemToArray(out, step);
	}
	return out;
}
