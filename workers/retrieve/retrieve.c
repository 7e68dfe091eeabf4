/*
 * NAME
 *   opsbot-retrieve - finds the runbook sections and past incidents that
 *   match an incident (retrieval for the planner and for people)
 *
 * SYNOPSIS
 *   opsbot-retrieve [-c FILE]                       worker: claims retrieve, index
 *   opsbot-retrieve [-c FILE] kb index              re-index changed runbooks
 *   opsbot-retrieve [-c FILE] kb search [--json] [--k N] [--mode M] [--service S] QUERY
 *   opsbot-retrieve [-c FILE] kb eval [--mode M] [--misses] FILE.tsv
 *   opsbot-retrieve [-c FILE] kb stats
 *   (opsbotctl passes "kb ..." through to these modes.)
 *
 * DESCRIPTION
 *   Owns var/knowledge.db: runbook sections from the knowledge folder and
 *   resolved incidents, searched by BM25 over title, symptoms, body and
 *   services with per-column weights, with synonym expansion from
 *   knowledge/synonyms.tsv, and, when an embeddings endpoint is configured,
 *   fused with vector search by reciprocal rank.
 *
 *   retrieve job: input {incident, detect}; result {passages:[{source,
 *   section, title, score, why, text}], summary}.
 *   index job: input {incident, timeline}; result {indexed:true}; the
 *   incident becomes memory (summary, root cause, actions, whether they
 *   worked).
 *
 * TRUST
 *   Runbooks are trusted text written by the team, but their front matter is
 *   checked strictly (bad files are reported with file:line and skipped;
 *   their previous version stays indexed).  Job inputs come through the queue
 *   and are checked field by field.  Answers from the embeddings endpoint are
 *   untrusted: a failure or malformed answer falls back to words alone.  The
 *   only secret is OPSBOT_LLM_API_KEY, from the environment.
 *
 * MESSAGES
 *   In: claim replies carrying retrieve and index jobs.  Out: complete or
 *   fail for each (lib/worker.c does the talking).
 *
 * CONFIG ([retrieve])
 *   db, knowledge, synonyms, stopwords, catalog, top_k, expand, expand_weight,
 *   per_source, common_share,
 *   weight_title, weight_symptoms, weight_body, weight_services,
 *   embed_url, embed_model, embed_timeout; plus the worker runtime keys
 *   lease, stop_grace, claim_wait.  See config/opsbot.conf.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "eval.h"
#include "expand.h"
#include "jobs.h"
#include "json.h"
#include "kb.h"
#include "log.h"
#include "mem.h"
#include "wire.h"
#include "worker.h"

#define RETRIEVE_MAX_CATALOG 256

struct retrieve {
	struct kb *kb;
	struct expand *expand;
	struct embed *embed; /* NULL: words only */
	char *knowledge;
	char *catalog_names[RETRIEVE_MAX_CATALOG + 1]; /* NULL-terminated; [0]==NULL: none */
	int top_k;
	int use_expand;
};

static void retrieve_free(struct retrieve *r)
{
	if (!r)
		return;
	kb_close(r->kb);
	expand_free(r->expand);
	embed_free(r->embed);
	free(r->knowledge);
	for (size_t i = 0; r->catalog_names[i]; i++)
		free(r->catalog_names[i]);
	free(r);
}

/*
 * The action catalog's names: sections "[action NAME]" of the catalog file,
 * or, when it has none of that form, every section name.  A missing file
 * means only the spelling of action names is checked.
 */
static int retrieve_load_catalog(struct retrieve *r, const char *path, char *err, size_t errlen)
{
	struct config *cat;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	fclose(f);
	if (config_load(path, &cat, err, errlen) < 0)
		return -1;
	const char *names[RETRIEVE_MAX_CATALOG];
	size_t n = config_sections_of(cat, "action", names, RETRIEVE_MAX_CATALOG);
	size_t k = 0;
	if (n > RETRIEVE_MAX_CATALOG)
		n = RETRIEVE_MAX_CATALOG;
	for (size_t i = 0; i < n; i++)
		r->catalog_names[k++] = xstrdup(names[i]);
	if (k == 0) {
		size_t ne;
		const struct config_entry *e = config_entries(cat, &ne);
		for (size_t i = 0; i < ne && k < RETRIEVE_MAX_CATALOG; i++) {
			int dup = 0;
			for (size_t j = 0; j < k && !dup; j++)
				dup = strcmp(r->catalog_names[j], e[i].section) == 0;
			if (!dup && e[i].section[0])
				r->catalog_names[k++] = xstrdup(e[i].section);
		}
	}
	r->catalog_names[k] = NULL;
	config_free(cat);
	return 0;
}

static const char *const *retrieve_catalog(const struct retrieve *r)
{
	return r->catalog_names[0] ? (const char *const *)r->catalog_names : NULL;
}

/* Read [retrieve] and open everything.  Shared by the worker and the commands. */
static int retrieve_setup(struct config *cfg, struct retrieve **out, char *err, size_t errlen)
{
	struct retrieve *r = xcalloc(1, sizeof(*r));
	const char *db = config_str(cfg, "retrieve", "db", "var/knowledge.db");
	const char *kn = config_str(cfg, "retrieve", "knowledge", "knowledge");
	const char *syn = config_str(cfg, "retrieve", "synonyms", "knowledge/synonyms.tsv");
	const char *stop = config_str(cfg, "retrieve", "stopwords", "knowledge/stopwords.txt");
	const char *catalog = config_str(cfg, "retrieve", "catalog", "config/actions.conf");
	r->top_k = (int)config_int(cfg, "retrieve", "top_k", 5, 1, KB_MAX_K);
	r->use_expand = config_bool(cfg, "retrieve", "expand", 1);
	struct kb_weights w = {
	    config_double(cfg, "retrieve", "weight_title", KB_WEIGHTS_DEFAULT.title, 0, 100),
	    config_double(cfg, "retrieve", "weight_symptoms", KB_WEIGHTS_DEFAULT.symptoms, 0, 100),
	    config_double(cfg, "retrieve", "weight_body", KB_WEIGHTS_DEFAULT.body, 0, 100),
	    config_double(cfg, "retrieve", "weight_services", KB_WEIGHTS_DEFAULT.services, 0, 100),
	};
	double xw = config_double(cfg, "retrieve", "expand_weight", KB_EXPAND_WEIGHT, 0, 1);
	int per = (int)config_int(cfg, "retrieve", "per_source", KB_PER_SOURCE, 1, KB_MAX_K);
	double common = config_double(cfg, "retrieve", "common_share", KB_COMMON_SHARE, 0.01, 1);
	const char *eurl = config_str(cfg, "retrieve", "embed_url", "");
	const char *emodel = config_str(cfg, "retrieve", "embed_model", "text-embedding-3-small");
	int64_t etimeout = config_duration_ms(cfg, "retrieve", "embed_timeout", 10000);
	/* Runtime keys of lib/worker, read here too so commands accept the same file. */
	config_duration_ms(cfg, "retrieve", "lease", 30000);
	config_duration_ms(cfg, "retrieve", "stop_grace", 10000);
	config_duration_ms(cfg, "retrieve", "claim_wait", 1000);
	if (config_check(cfg, (const char *const[]){"retrieve", NULL}, err, errlen) < 0)
		goto fail;
	r->knowledge = xstrdup(kn);
	if (kb_open(db, &r->kb, err, errlen) < 0)
		goto fail;
	kb_set_weights(r->kb, &w);
	kb_set_expand_weight(r->kb, xw);
	kb_set_per_source(r->kb, per);
	kb_set_common_share(r->kb, common);
	/* A missing word list means searching without it (warned); a malformed
	 * one is a configuration error with file and line. */
	if (*syn && access(syn, R_OK) < 0) {
		log_warn("event=no_synonyms path=%s error=%s note=\"searching without expansion\"",
		         log_q(syn), log_q(strerror(errno)));
		syn = "";
	}
	if (*stop && access(stop, R_OK) < 0) {
		log_warn("event=no_stopwords path=%s error=%s", log_q(stop),
		         log_q(strerror(errno)));
		stop = "";
	}
	if (expand_load(*syn ? syn : NULL, *stop ? stop : NULL, &r->expand, err, errlen) < 0)
		goto fail;
	if (retrieve_load_catalog(r, catalog, err, errlen) < 0)
		goto fail;
	if (*eurl)
		r->embed =
		    embed_new(eurl, emodel, config_secret("OPSBOT_LLM_API_KEY"), (long)etimeout);
	*out = r;
	return 0;
fail:
	retrieve_free(r);
	return -1;
}

static void retrieve_report(const char *msg, void *arg)
{
	(void)arg;
	log_warn("event=runbook_skipped error=%s", log_q(msg));
}

static int retrieve_index(struct retrieve *r, struct kb_index_stats *st, char *err, size_t errlen)
{
	int rc = kb_index_dir(r->kb, r->knowledge, retrieve_catalog(r), r->embed, st,
	                      retrieve_report, NULL, err, errlen);
	kb_warm(r->kb);
	log_info("event=kb_indexed scanned=%d changed=%d unchanged=%d removed=%d failed=%d "
	         "sections=%d embedded=%d",
	         st->scanned, st->changed, st->unchanged, st->removed, st->failed, st->sections,
	         st->embedded);
	return rc;
}

static int retrieve_flags(const struct retrieve *r)
{
	return (r->use_expand ? KB_EXPAND : 0) | (r->embed ? KB_DENSE : 0);
}

/* ---- worker ------------------------------------------------------------ */

static int retrieve_init(struct config *cfg, void **state, char *err, size_t errlen)
{
	struct retrieve *r;
	if (retrieve_setup(cfg, &r, err, errlen) < 0)
		return -1;
	struct kb_index_stats st;
	char ierr[512];
	/* A bad runbook or a down embeddings endpoint must not stop retrieval. */
	if (retrieve_index(r, &st, ierr, sizeof(ierr)) < 0)
		log_warn("event=kb_index_incomplete error=%s", log_q(ierr));
	*state = r;
	return 0;
}

static int retrieve_reload(void *state, struct config *cfg, char *err, size_t errlen)
{
	struct retrieve *r = state, *n;
	if (retrieve_setup(cfg, &n, err, errlen) < 0)
		return -1;
	/* Swap everything in place: the worker keeps the same state pointer. */
	struct retrieve old = *r;
	*r = *n;
	*n = old;
	retrieve_free(n);
	struct kb_index_stats st;
	char ierr[512];
	if (retrieve_index(r, &st, ierr, sizeof(ierr)) < 0)
		log_warn("event=kb_index_incomplete error=%s", log_q(ierr));
	return 0;
}

static void retrieve_fini(void *state)
{
	retrieve_free(state);
}

static cJSON *retrieve_passages(const struct kb_result *res)
{
	cJSON *arr = json_new_array();
	for (size_t i = 0; i < res->n; i++) {
		const struct kb_hit *h = &res->hits[i];
		cJSON *p = json_new_object();
		json_add_str(p, "source", h->source);
		json_add_str(p, "section", h->section);
		json_add_str(p, "title", h->title);
		json_add_num(p, "score", h->score);
		json_add_str(p, "why", h->why);
		json_add_str(p, "text", h->text);
		cJSON_AddItemToArray(arr, p);
	}
	return arr;
}

static int retrieve_job_retrieve(struct retrieve *r, const struct worker_job *job, cJSON **result,
                                 char *err, size_t errlen)
{
	struct buf q = {.max = JOBS_QUERY_MAX};
	char *service = NULL;
	if (jobs_query(job->input, &q, &service, err, errlen) < 0) {
		buf_free(&q);
		return WORKER_PERMANENT;
	}
	struct kb_result res;
	char serr[512];
	if (kb_search_for(r->kb, q.data, service, retrieve_flags(r), r->expand, r->embed,
	                  (size_t)r->top_k, &res, serr, sizeof(serr)) < 0) {
		snprintf(err, errlen, "%s", serr);
		buf_free(&q);
		free(service);
		return WORKER_RETRY;
	}
	if (serr[0])
		log_warn("event=vector_fallback incident=%lld job=%lld error=%s",
		         (long long)job->incident, (long long)job->id, log_q(serr));
	cJSON *out = json_new_object();
	json_add(out, "passages", retrieve_passages(&res));
	char summary[512];
	if (res.n == 0)
		snprintf(summary, sizeof(summary),
		         "No runbook or past incident matched; the plan will rest on detection "
		         "alone.");
	else
		snprintf(summary, sizeof(summary),
		         "Found %zu passage%s. Best: %s, section \"%s\" (%s).", res.n,
		         res.n == 1 ? "" : "s", res.hits[0].title, res.hits[0].section,
		         res.hits[0].source);
	json_add_str(out, "summary", summary);
	log_info("event=retrieved incident=%lld job=%lld hits=%zu dense=%d best=%s",
	         (long long)job->incident, (long long)job->id, res.n, res.dense_used,
	         log_q(res.n ? res.hits[0].source : ""));
	kb_result_free(&res);
	buf_free(&q);
	free(service);
	*result = out;
	return WORKER_OK;
}

static int retrieve_job_index(struct retrieve *r, const struct worker_job *job, cJSON **result,
                              char *err, size_t errlen)
{
	struct jobs_memory m;
	if (jobs_memory_from(job->input, job->incident, &m, err, errlen) < 0)
		return WORKER_PERMANENT;
	if (kb_put_incident(r->kb, &m.inc, err, errlen) < 0) {
		jobs_memory_free(&m);
		return WORKER_RETRY;
	}
	if (r->embed) {
		int n;
		char eerr[256];
		if (kb_embed_missing(r->kb, r->embed, &n, eerr, sizeof(eerr)) < 0)
			log_warn("event=embed_failed incident=%lld error=%s",
			         (long long)job->incident, log_q(eerr));
	}
	jobs_memory_free(&m);
	kb_warm(r->kb);
	cJSON *out = json_new_object();
	json_add_bool(out, "indexed", 1);
	json_add_str(out, "summary", "Saved this incident to memory for future searches.");
	*result = out;
	return WORKER_OK;
}

static int retrieve_handle(void *state, const struct worker_job *job, cJSON **result, char *err,
                           size_t errlen)
{
	struct retrieve *r = state;
	if (strcmp(job->kind, WIRE_JOB_RETRIEVE) == 0)
		return retrieve_job_retrieve(r, job, result, err, errlen);
	if (strcmp(job->kind, WIRE_JOB_INDEX) == 0)
		return retrieve_job_index(r, job, result, err, errlen);
	snprintf(err, errlen, "opsbot-retrieve does not handle job kind '%s'", job->kind);
	return WORKER_PERMANENT;
}

/* ---- command modes ----------------------------------------------------- */

static int retrieve_usage(void)
{
	fprintf(stderr, "usage: opsbot-retrieve [-c FILE] kb index\n"
	                "       opsbot-retrieve [-c FILE] kb search [--json] [--k N] "
	                "[--mode bm25|expand|hybrid] [--service S] QUERY\n"
	                "       opsbot-retrieve [-c FILE] kb eval [--mode M] [--misses] FILE.tsv\n"
	                "       opsbot-retrieve [-c FILE] kb stats\n");
	return 2;
}

static int retrieve_mode(const char *s, int *flags)
{
	if (strcmp(s, "bm25") == 0)
		*flags = 0;
	else if (strcmp(s, "expand") == 0)
		*flags = KB_EXPAND;
	else if (strcmp(s, "hybrid") == 0)
		*flags = KB_EXPAND | KB_DENSE;
	else
		return -1;
	return 0;
}

static int retrieve_cmd_search(struct retrieve *r, int argc, char **argv)
{
	int json = 0, flags = retrieve_flags(r);
	long k = r->top_k;
	const char *query = NULL, *service = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--k") == 0 && i + 1 < argc) {
			char *end;
			k = strtol(argv[++i], &end, 10);
			if (*end || k < 1 || k > KB_MAX_K) {
				fprintf(stderr, "opsbot-retrieve: --k wants 1..%d\n", KB_MAX_K);
				return 2;
			}
		} else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			if (retrieve_mode(argv[++i], &flags) < 0)
				return retrieve_usage();
		} else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
			service = argv[++i];
		} else if (!query) {
			query = argv[i];
		} else {
			return retrieve_usage();
		}
	}
	if (!query)
		return retrieve_usage();
	if ((flags & KB_DENSE) && !r->embed) {
		fprintf(stderr, "opsbot-retrieve: hybrid mode needs [retrieve] embed_url\n");
		return 2;
	}
	struct kb_result res;
	char err[512];
	if (kb_search_for(r->kb, query, service, flags, r->expand, r->embed, (size_t)k, &res, err,
	                  sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-retrieve: %s\n", err);
		return 1;
	}
	if (err[0])
		fprintf(stderr, "opsbot-retrieve: %s\n", err);
	if (json) {
		cJSON *o = json_new_object();
		json_add(o, "passages", retrieve_passages(&res));
		char *s = json_print(o);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else if (res.n == 0) {
		printf("No match. Try other words, or run 'kb index' if runbooks changed.\n");
	} else {
		for (size_t i = 0; i < res.n; i++)
			printf("%zu. %s#%s  (%.3f)\n   %s\n   %s\n", i + 1, res.hits[i].source,
			       res.hits[i].section, res.hits[i].score, res.hits[i].title,
			       res.hits[i].why);
	}
	kb_result_free(&res);
	return 0;
}

static void retrieve_print_miss(const struct eval_query *q, int rank, const struct kb_result *r,
                                void *arg)
{
	(void)arg;
	printf("miss rank=%d want=%s query=%s got=%s#%s\n", rank, q->answers[0], q->query,
	       r->n ? r->hits[0].source : "-", r->n ? r->hits[0].section : "-");
}

static int retrieve_cmd_eval(struct retrieve *r, int argc, char **argv)
{
	int flags = retrieve_flags(r), misses = 0;
	const char *path = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			if (retrieve_mode(argv[++i], &flags) < 0)
				return retrieve_usage();
		} else if (strcmp(argv[i], "--misses") == 0) {
			misses = 1;
		} else if (!path) {
			path = argv[i];
		} else {
			return retrieve_usage();
		}
	}
	if (!path)
		return retrieve_usage();
	struct eval_set set;
	struct eval_score sc;
	char err[512];
	if (eval_load(path, &set, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-retrieve: %s\n", err);
		return 1;
	}
	int rc = eval_run(r->kb, &set, flags, r->expand, r->embed, &sc,
	                  misses ? retrieve_print_miss : NULL, NULL, err, sizeof(err));
	eval_free(&set);
	if (rc < 0) {
		fprintf(stderr, "opsbot-retrieve: %s\n", err);
		return 1;
	}
	printf("{\"queries\":%zu,\"recall_at_1\":%.4f,\"recall_at_5\":%.4f,\"mrr\":%.4f}\n", sc.n,
	       sc.recall_at_1, sc.recall_at_5, sc.mrr);
	return 0;
}

static void retrieve_print_error(const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static int retrieve_command(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[0], "kb") != 0)
		return retrieve_usage();
	struct config *cfg;
	struct retrieve *r;
	char err[512];
	/* With no config file at the default path, every key takes its default. */
	FILE *probe = fopen(worker_config_path(), "r");
	int rc0 = probe || strcmp(worker_config_path(), WORKER_DEFAULT_CONFIG) != 0
	              ? config_load(worker_config_path(), &cfg, err, sizeof(err))
	              : config_parse("(defaults)", "", &cfg, err, sizeof(err));
	if (probe)
		fclose(probe);
	if (rc0 < 0) {
		fprintf(stderr, "opsbot-retrieve: %s\n", err);
		return 1;
	}
	if (retrieve_setup(cfg, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-retrieve: %s\n", err);
		config_free(cfg);
		return 1;
	}
	int rc;
	const char *cmd = argv[1];
	if (strcmp(cmd, "index") == 0 && argc == 2) {
		struct kb_index_stats st;
		rc = kb_index_dir(r->kb, r->knowledge, retrieve_catalog(r), r->embed, &st,
		                  retrieve_print_error, NULL, err, sizeof(err));
		printf("indexed %d files: %d changed, %d unchanged, %d removed, %d failed; "
		       "%d sections written, %d embedded\n",
		       st.scanned, st.changed, st.unchanged, st.removed, st.failed, st.sections,
		       st.embedded);
		if (rc < 0)
			fprintf(stderr, "opsbot-retrieve: %s\n", err);
		rc = rc < 0 ? 1 : 0;
	} else if (strcmp(cmd, "search") == 0) {
		rc = retrieve_cmd_search(r, argc - 2, argv + 2);
	} else if (strcmp(cmd, "eval") == 0) {
		rc = retrieve_cmd_eval(r, argc - 2, argv + 2);
	} else if (strcmp(cmd, "stats") == 0 && argc == 2) {
		int64_t docs = 0, secs = 0, incs = 0;
		rc = kb_counts(r->kb, &docs, &secs, &incs) < 0;
		printf(
		    "runbooks=%lld sections=%lld incidents=%lld expansion_rules=%zu vectors=%s\n",
		    (long long)docs, (long long)secs, (long long)incs, expand_rule_count(r->expand),
		    r->embed ? "on" : "off");
	} else {
		rc = retrieve_usage();
	}
	retrieve_free(r);
	config_free(cfg);
	return rc;
}

static const struct worker_spec retrieve_spec = {
    .name = "opsbot-retrieve",
    .section = "retrieve",
    .kinds = (const char *const[]){WIRE_JOB_RETRIEVE, WIRE_JOB_INDEX, NULL},
    .init = retrieve_init,
    .handle = retrieve_handle,
    .fini = retrieve_fini,
    .command = retrieve_command,
    .reload = retrieve_reload,
};

int main(int argc, char **argv)
{
	return worker_main(argc, argv, &retrieve_spec);
}
