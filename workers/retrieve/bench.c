/*
 * NAME
 *   opsbot-retrieve-bench - the "retrieval" benchmark (make bench BENCH=retrieval)
 *
 * SYNOPSIS
 *   opsbot-retrieve-bench --knowledge DIR --queries FILE.tsv
 *                         [--fake-llm PATH] [--sections N] [--repeat N]
 *                         [--keep FILE.db]  (keep the generated corpus there)
 *
 * DESCRIPTION
 *   1. Quality: indexes the knowledge folder into a temporary database and
 *      scores the labelled queries with BM25 alone, with expansion, and
 *      (when --fake-llm is given) hybrid with the local LLM stand-in's
 *      /v1/embeddings.  recall@1, recall@5 and MRR for each.
 *   2. Speed: a generated corpus of N sections (default 100,000): the real
 *      runbooks plus synthetic runbooks whose words are drawn, Zipf-like,
 *      from the runbooks' own vocabulary and made-up service names, so
 *      common words are common and queries touch many rows.  Every labelled
 *      query is searched --repeat times (default 3) with the best words-only
 *      configuration; p50 and p99 of each search's wall time.
 *   Prints one JSON line: the best configuration's figures in the main keys,
 *   the others in extra keys.  Reads no shared dataset.
 *
 * TRUST
 *   Its own files only; the stand-in runs on 127.0.0.1 and is stopped on exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eval.h"
#include "expand.h"
#include "kb.h"
#include "log.h"
#include "mem.h"
#include "runbook.h"

#define BENCH_SEC_PER_DOC 5

struct bench_vocab {
	char **w;
	size_t n, cap;
	double *cum; /* cumulative Zipf weights */
};

static uint64_t bench_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t bench_rand(void)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return bench_rng;
}

static double bench_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double bench_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The 1-minute load average, so a reader can judge a noisy wall-time figure. */
static double bench_load(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static int bench_cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int bench_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void bench_vocab_add(const char *w, size_t n, void *arg)
{
	struct bench_vocab *v = arg;
	if (n < 2)
		return;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 1024;
		v->w = xrealloc(v->w, v->cap * sizeof(*v->w));
	}
	v->w[v->n++] = xstrndup(w, n);
}

/* Words of every file in the knowledge folder's runbooks/ plus made-up names. */
static void bench_vocab_build(struct bench_vocab *v, const char *knowledge)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "cat '%s'/*/*.md 2>/dev/null", knowledge);
	FILE *p = popen(cmd, "r");
	struct buf all = {.max = 16 << 20};
	char chunk[8192];
	size_t n;
	while (p && (n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_append(&all, chunk, n);
	if (p)
		pclose(p);
	expand_words(all.data ? all.data : "", all.len, bench_vocab_add, v);
	buf_free(&all);
	/* Unique, then shuffled so frequency rank is unrelated to meaning. */
	qsort(v->w, v->n, sizeof(*v->w), bench_cmp_str);
	size_t j = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (j && strcmp(v->w[j - 1], v->w[i]) == 0) {
			free(v->w[i]);
			continue;
		}
		v->w[j++] = v->w[i];
	}
	v->n = j;
	for (int i = 0; i < 3000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "svc%04d", i);
		bench_vocab_add(name, strlen(name), v);
	}
	for (size_t i = v->n - 1; i > 0; i--) {
		size_t k = bench_rand() % (i + 1);
		char *t = v->w[i];
		v->w[i] = v->w[k];
		v->w[k] = t;
	}
	v->cum = xmalloc(v->n * sizeof(double));
	double s = 0;
	for (size_t i = 0; i < v->n; i++) {
		s += 1.0 / (double)(i + 1);
		v->cum[i] = s;
	}
}

static const char *bench_word(const struct bench_vocab *v)
{
	double x = (double)(bench_rand() % 1000000007ULL) / 1000000007.0 * v->cum[v->n - 1];
	size_t lo = 0, hi = v->n - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->cum[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return v->w[lo];
}

static char *bench_text(const struct bench_vocab *v, int words, const char *sep)
{
	struct buf b = {0};
	for (int i = 0; i < words; i++)
		buf_appendf(&b, "%s%s", i ? sep : "", bench_word(v));
	return b.data;
}

static int bench_fill(struct kb *kb, const struct bench_vocab *v, long target, long have)
{
	static const char *names[BENCH_SEC_PER_DOC] = {"Overview", "What you see", "Checks", "Fix",
	                                               "Rollback"};
	char err[512];
	long docs = (target - have + BENCH_SEC_PER_DOC - 1) / BENCH_SEC_PER_DOC;
	if (kb_begin(kb, err, sizeof(err)) < 0)
		goto fail;
	for (long d = 0; d < docs; d++) {
		struct runbook rb = {0};
		struct runbook_section secs[BENCH_SEC_PER_DOC];
		rb.title = bench_text(v, 4 + (int)(bench_rand() % 4), " ");
		rb.symptoms = bench_text(v, 8 + (int)(bench_rand() % 6), ", ");
		rb.services = bench_text(v, 1, "");
		rb.sections = secs;
		rb.nsections = BENCH_SEC_PER_DOC;
		for (int s = 0; s < BENCH_SEC_PER_DOC; s++) {
			secs[s].name = (char *)names[s];
			secs[s].text = bench_text(v, 40 + (int)(bench_rand() % 60), " ");
			secs[s].line = 1 + s * 10;
		}
		char source[64];
		snprintf(source, sizeof(source), "synthetic/doc%06ld.md", d);
		int rc = kb_put_runbook(kb, source, &rb, 0, 0, (uint64_t)d, err, sizeof(err));
		free(rb.title);
		free(rb.symptoms);
		free(rb.services);
		for (int s = 0; s < BENCH_SEC_PER_DOC; s++)
			free(secs[s].text);
		if (rc < 0)
			goto fail;
		if (d % 2000 == 1999 &&
		    (kb_commit(kb, err, sizeof(err)) < 0 || kb_begin(kb, err, sizeof(err)) < 0))
			goto fail;
	}
	if (kb_commit(kb, err, sizeof(err)) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "bench: %s\n", err);
	return -1;
}

static pid_t bench_fake_pid = 0;

static void bench_stop_fake(void)
{
	if (bench_fake_pid > 0) {
		kill(bench_fake_pid, SIGTERM);
		waitpid(bench_fake_pid, NULL, 0);
		bench_fake_pid = 0;
	}
}

/* Start the stand-in; its port is written to portfile.  0 and *port, or -1. */
static int bench_start_fake(const char *path, const char *dir, int *port)
{
	char portfile[512];
	snprintf(portfile, sizeof(portfile), "%s/fake-llm.port", dir);
	fflush(stdout); /* a child must not inherit unwritten output */
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(path, path, "-p", portfile, "-d", "256", (char *)NULL);
		_exit(127);
	}
	bench_fake_pid = pid;
	double end = bench_now_ms() + 10000;
	while (bench_now_ms() < end) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			int ok = fscanf(f, "%d", port) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			bench_fake_pid = 0;
			return -1;
		}
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Search every query repeat times with flags; percentiles of wall time in ms. */
static int bench_latency(struct kb *kb, const struct eval_set *set, const struct expand *ex,
                         int flags, long repeat, double *p50, double *p99, double *pmax,
                         double *cpu50, double *cpu99, size_t *count)
{
	size_t nt = set->n * (size_t)repeat, k = 0;
	double *lat = xmalloc(nt * sizeof(double));
	double *cpu = xmalloc(nt * sizeof(double));
	char err[512];
	for (long r = 0; r < repeat; r++)
		for (size_t i = 0; i < set->n; i++) {
			struct kb_result res;
			double a = bench_now_ms(), b = bench_cpu_ms();
			if (kb_search(kb, set->q[i].query, flags, ex, NULL, 5, &res, err,
			              sizeof(err)) < 0) {
				fprintf(stderr, "bench: %s\n", err);
				free(lat);
				free(cpu);
				return -1;
			}
			cpu[k] = bench_cpu_ms() - b;
			lat[k++] = bench_now_ms() - a;
			kb_result_free(&res);
		}
	qsort(lat, k, sizeof(double), bench_cmp_dbl);
	*p50 = lat[k / 2];
	*p99 = lat[(size_t)((double)k * 0.99)];
	*pmax = lat[k - 1];
	qsort(cpu, k, sizeof(double), bench_cmp_dbl);
	*cpu50 = cpu[k / 2];
	*cpu99 = cpu[(size_t)((double)k * 0.99)];
	if (count)
		*count = k;
	free(lat);
	free(cpu);
	return 0;
}

static void bench_print_score(const char *name, const struct eval_score *s)
{
	printf(",\"%s_recall_at_1\":%.4f,\"%s_recall_at_5\":%.4f,\"%s_mrr\":%.4f", name,
	       s->recall_at_1, name, s->recall_at_5, name, s->mrr);
}

struct bench_opts {
	const char *knowledge, *queries, *fake, *keep;
	long sections, repeat;
};

static void bench_args(int argc, char **argv, struct bench_opts *o)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		char *end;
		if (strcmp(argv[i], "--knowledge") == 0)
			o->knowledge = argv[i + 1];
		else if (strcmp(argv[i], "--queries") == 0)
			o->queries = argv[i + 1];
		else if (strcmp(argv[i], "--fake-llm") == 0)
			o->fake = argv[i + 1];
		else if (strcmp(argv[i], "--sections") == 0)
			o->sections = strtol(argv[i + 1], &end, 10);
		else if (strcmp(argv[i], "--keep") == 0)
			o->keep = argv[i + 1];
		else if (strcmp(argv[i], "--repeat") == 0)
			o->repeat = strtol(argv[i + 1], &end, 10);
	}
}

/* Quality on the real knowledge base: bm25, expansion, hybrid (when the
 * embeddings stand-in runs), and the best of them. */
struct bench_quality {
	struct eval_score bm25, exp, hyb;
	int hybrid;
	const struct eval_score *best;
	const char *best_name;
	int speed_flags; /* the words-only best; vectors need a real model to pay off */
};

/* Hybrid search through the embeddings stand-in; 1 when it ran. */
static int bench_hybrid(const struct bench_opts *o, const char *dir, struct kb *kb,
                        const struct eval_set *set, const struct expand *ex, struct eval_score *out)
{
	char url[64], err[1024] = "";
	int port = 0, n, ok = 0;
	if (!o->fake || bench_start_fake(o->fake, dir, &port) != 0)
		return 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
	struct embed *emb = embed_new(url, "fake-embed", NULL, 10000);
	if (kb_embed_missing(kb, emb, &n, err, sizeof(err)) == 0 &&
	    eval_run(kb, set, KB_EXPAND | KB_DENSE, ex, emb, out, NULL, NULL, err, sizeof(err)) ==
	        0 &&
	    !err[0])
		ok = 1;
	else
		fprintf(stderr, "bench: hybrid skipped: %s\n", err);
	bench_stop_fake();
	embed_free(emb);
	return ok;
}

static int bench_quality(const struct bench_opts *o, const char *dir, const struct eval_set *set,
                         const struct expand *ex, struct bench_quality *q)
{
	char err[1024], path[600];
	struct kb *kb = NULL;
	struct kb_index_stats st;
	snprintf(path, sizeof(path), "%s/small.db", dir);
	if (kb_open(path, &kb, err, sizeof(err)) < 0 ||
	    kb_index_dir(kb, o->knowledge, NULL, NULL, &st, NULL, NULL, err, sizeof(err)) < 0 ||
	    eval_run(kb, set, 0, ex, NULL, &q->bm25, NULL, NULL, err, sizeof(err)) < 0 ||
	    eval_run(kb, set, KB_EXPAND, ex, NULL, &q->exp, NULL, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		kb_close(kb);
		return -1;
	}
	q->hybrid = bench_hybrid(o, dir, kb, set, ex, &q->hyb);
	kb_close(kb);
	/* best configuration by MRR (then recall@5) */
	q->best = &q->bm25;
	q->best_name = "bm25";
	if (q->exp.mrr > q->best->mrr ||
	    (q->exp.mrr == q->best->mrr && q->exp.recall_at_5 > q->best->recall_at_5)) {
		q->best = &q->exp;
		q->best_name = "expand";
	}
	if (q->hybrid && q->hyb.mrr > q->best->mrr) {
		q->best = &q->hyb;
		q->best_name = "hybrid";
	}
	q->speed_flags = q->best == &q->bm25 ? 0 : KB_EXPAND;
	return 0;
}

/* Speed on a generated corpus of o->sections sections. */
struct bench_speed {
	int64_t secs;
	double build_s;
	double p50, p99, pmax, c50, c99; /* the best configuration */
	size_t k;                        /* searches timed */
	double o50, o99, omax, oc50, oc99;
	int other_flags; /* the other words-only configuration */
	struct eval_score big;
};

static int bench_speed(const struct bench_opts *o, const char *dir, const struct eval_set *set,
                       const struct expand *ex, int flags, struct bench_speed *sp)
{
	char err[1024], path[600];
	struct kb *kb = NULL;
	struct kb_index_stats st;
	struct bench_vocab v = {0};
	int64_t docs, incs;
	int rc = -1;
	if (o->keep)
		snprintf(path, sizeof(path), "%s", o->keep);
	else
		snprintf(path, sizeof(path), "%s/big.db", dir);
	double t0 = bench_now_ms();
	if (kb_open(path, &kb, err, sizeof(err)) < 0 ||
	    kb_index_dir(kb, o->knowledge, NULL, NULL, &st, NULL, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		goto out;
	}
	bench_vocab_build(&v, o->knowledge);
	kb_counts(kb, &docs, &sp->secs, &incs);
	if (bench_fill(kb, &v, o->sections, (long)sp->secs) < 0)
		goto out;
	kb_counts(kb, &docs, &sp->secs, &incs);
	sp->build_s = (bench_now_ms() - t0) / 1e3;
	sp->other_flags = flags ? 0 : KB_EXPAND;
	if (bench_latency(kb, set, ex, flags, o->repeat, &sp->p50, &sp->p99, &sp->pmax, &sp->c50,
	                  &sp->c99, &sp->k) < 0 ||
	    bench_latency(kb, set, ex, sp->other_flags, 1, &sp->o50, &sp->o99, &sp->omax, &sp->oc50,
	                  &sp->oc99, NULL) < 0)
		goto out;
	if (eval_run(kb, set, flags, ex, NULL, &sp->big, NULL, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < v.n; i++)
		free(v.w[i]);
	free(v.w);
	free(v.cum);
	kb_close(kb);
	return rc;
}

/* The one JSON line. */
static void bench_print(const struct bench_quality *q, const struct bench_speed *sp,
                        const struct eval_set *set)
{
	printf("{\"bench\":\"retrieval\",\"recall_at_1\":%.4f,\"recall_at_5\":%.4f,\"mrr\":%.4f,"
	       "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"sections\":%lld,\"config\":\"%s\","
	       "\"queries\":%zu",
	       q->best->recall_at_1, q->best->recall_at_5, q->best->mrr, sp->p50, sp->p99,
	       (long long)sp->secs, q->best_name, set->n);
	bench_print_score("bm25", &q->bm25);
	bench_print_score("expand", &q->exp);
	if (q->hybrid)
		bench_print_score("hybrid", &q->hyb);
	else
		printf(",\"hybrid\":\"skipped: no embeddings stand-in\"");
	const char *on = sp->other_flags ? "expand" : "bm25";
	printf(",\"max_ms\":%.3f,\"searches\":%zu,\"cpu_p50_ms\":%.3f,\"cpu_p99_ms\":%.3f,"
	       "\"%s_p50_ms\":%.3f,\"%s_p99_ms\":%.3f,\"%s_cpu_p99_ms\":%.3f,"
	       "\"recall_at_5_at_%lld\":%.4f,\"build_s\":%.1f,\"load1\":%.2f}\n",
	       sp->pmax, sp->k, sp->c50, sp->c99, on, sp->o50, on, sp->o99, on, sp->oc99,
	       (long long)sp->secs, sp->big.recall_at_5, sp->build_s, bench_load());
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.knowledge = "knowledge",
	                       .queries = "tests/data/retrieval_queries.tsv",
	                       .sections = 100000,
	                       .repeat = 3};
	bench_args(argc, argv, &o);
	log_init("opsbot-retrieve-bench");
	log_set_level(LOG_WARN);
	char dir[] = "/tmp/opsbot-bench-retrieval.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char err[1024], syn[600], stop[600];
	struct expand *ex = NULL;
	struct eval_set set;
	snprintf(syn, sizeof(syn), "%s/synonyms.tsv", o.knowledge);
	snprintf(stop, sizeof(stop), "%s/stopwords.txt", o.knowledge);
	if (expand_load(syn, stop, &ex, err, sizeof(err)) < 0 ||
	    eval_load(o.queries, &set, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	struct bench_quality q = {0};
	struct bench_speed sp = {0};
	int ret = 1;
	if (bench_quality(&o, dir, &set, ex, &q) == 0 &&
	    bench_speed(&o, dir, &set, ex, q.speed_flags, &sp) == 0) {
		bench_print(&q, &sp, &set);
		ret = 0;
	}
	bench_stop_fake();
	expand_free(ex);
	eval_free(&set);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	return ret;
}
