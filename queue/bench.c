/*
 * NAME
 *   queue_bench - full job lifecycle through a running opsbot-queue
 *
 * SYNOPSIS
 *   queue_bench URL QUEUE_PID DBDIR [JOBS]
 *
 * DESCRIPTION
 *   One producer and 4 worker threads, each with its own REQ socket to URL
 *   (ipc:// in `make bench BENCH=queue`).  The producer submits JOBS
 *   standalone jobs (incident 0, kind "bench"), keeping up to 64 jobs in submits in
 *   flight and at most 64 jobs submitted but not yet claimed (so the producer
 *   cannot build an unbounded backlog that dispatch latency would measure); each worker runs 16
 * lanes (NNG contexts), each lane a loop of claim (long poll) then complete.  Every submit, claim
 * and complete reply comes after the queue's COMMIT (sync = full), so each counted job was durable
 * at every step; throughput comes from group commit, not from skipping fsync.  Lanes stand for the
 * concurrent jobs a worker process would run; the queue sees 5 clients.
 *
 *   Claims are batched (wire.h claim "max"): a lane claims up to QB_CLAIM_BATCH (default 16)
 *   jobs in one request and completes all it got in one batched complete.  QB_CLAIM_BATCH=1
 *   sends the single-job messages (no "max", one complete per job).
 *
 *   Submits are batched too (wire.h submit "jobs"), the way a Redis client pipelines: the
 *   producer keeps at most QB_WINDOW (64) jobs in submits not yet answered, and each submit
 *   carries as many of the free places as there are, up to QB_SUBMIT_BATCH (16), on one of
 *   2 * 64/16 contexts.  So a job costs about 3/16 requests.  Every job of a submit is
 *   committed before its reply, and submit latency is per job (its submit sent -> its reply).
 *   QB_SUBMIT_BATCH=1 sends one submit per job on 64 contexts (the flow before batching).
 *
 *   Tuning (environment): QB_WINDOW jobs in flight (64), QB_LANES lanes per worker (16),
 *   QB_CLAIM_BATCH (16), QB_SUBMIT_BATCH (16).  By Little's law submit_p50 is about
 *   QB_WINDOW / jobs_per_s while the producer is the bottleneck.
 *
 *   Prints one JSON line:
 *     jobs_per_s          JOBS / (first submit sent .. last complete replied)
 *     submit_p50/p99_ms   submit sent -> its reply
 *     dispatch_p50/p99_ms submit sent -> a worker holds the job (claim reply)
 *     rss_mb              the queue process's peak RSS (VmHWM)
 *     sqlite_commits_per_s raw single-row INSERT+COMMIT per second in DBDIR
 *                         (WAL, synchronous=FULL), measured in the same run
 *     claim_batch, submit_batch, lanes  the settings this run used
 *   On stderr: the client's own CPU and context switches (it shares the cores with the queue).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sqlite3.h>

#include "json.h"
#include "mem.h"
#include "timeutil.h"

#define MAX_WINDOW 256
#define WORKERS    4
#define MAX_LANES  64
/* QB_WINDOW, QB_LANES, QB_CLAIM_BATCH, QB_SUBMIT_BATCH override; 1 = the single-job messages. */
static int producer_window = 64, lanes = 16, claim_batch = 16, submit_batch = 16;
#define WIRE_BATCH   64 /* wire.h WIRE_BATCH_MAX */
#define RUN_LIMIT_MS 45000

enum phase { P_SEND, P_RECV };

struct bench;

struct lane {
	struct bench *b;
	struct lane *next_stalled;
	nng_ctx ctx;
	nng_aio *aio;
	int worker; /* -1 for the producer */
	int claiming;
	int batch; /* producer: jobs in the submit in flight */
	enum phase phase;
	int64_t t0_us;
	unsigned n;
};

struct bench {
	const char *url;
	long jobs;
	atomic_long submitted, submit_done, claimed, completed, errors;
	double *submit_ms, *dispatch_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int finished;
	int64_t end_us;
	struct lane *stalled; /* producer lanes waiting for the backlog to drain */
	long inflight;        /* jobs in submits not yet answered (under mu) */
};

/*
 * Submitted but not yet claimed jobs are capped, so the producer cannot run
 * ahead of the workers without bound; dispatch latency then measures the
 * queue, not an ever-growing backlog.
 */
#define BACKLOG_MAX 64

static void lane_send(struct lane *l, const char *body)
{
	nng_msg *m;
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, body, strlen(body)) != 0)
		abort();
	l->phase = P_SEND;
	nng_aio_set_msg(l->aio, m);
	nng_ctx_send(l->ctx, l->aio);
}

static void bench_finish(struct bench *b)
{
	pthread_mutex_lock(&b->mu);
	if (!b->finished) {
		b->finished = 1;
		b->end_us = time_mono_us();
	}
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/*
 * The next submit of a producer lane: as many jobs as the window (jobs in
 * submits not yet answered), the backlog and the batch size allow, in one
 * message; none -> the lane waits on the stalled list.
 */
static void producer_next(struct lane *l)
{
	struct bench *b = l->b;
	pthread_mutex_lock(&b->mu);
	long room = producer_window - b->inflight;
	long backlog = BACKLOG_MAX - (atomic_load(&b->submitted) - atomic_load(&b->claimed));
	long left = b->jobs - atomic_load(&b->submitted);
	long n = submit_batch;
	if (room < n)
		n = room;
	if (backlog < n)
		n = backlog;
	if (left < n)
		n = left;
	if (n <= 0) {
		if (left > 0) {
			l->next_stalled = b->stalled;
			b->stalled = l;
		}
		pthread_mutex_unlock(&b->mu);
		return;
	}
	long first = atomic_fetch_add(&b->submitted, n);
	b->inflight += n;
	pthread_mutex_unlock(&b->mu);
	l->t0_us = time_mono_us();
	l->batch = (int)n;
	char body[256 + WIRE_BATCH * 64];
	size_t len;
	if (submit_batch == 1) {
		len =
		    (size_t)snprintf(body, sizeof(body),
		                     "{\"v\":1,\"type\":\"submit\",\"id\":\"s%ld\",\"incident\":0,"
		                     "\"trace\":\"\",\"what\":\"job\",\"job\":{\"kind\":\"bench\","
		                     "\"input\":{\"t_us\":%" PRId64 "}}}",
		                     first, l->t0_us);
	} else {
		len =
		    (size_t)snprintf(body, sizeof(body),
		                     "{\"v\":1,\"type\":\"submit\",\"id\":\"s%ld\",\"incident\":0,"
		                     "\"trace\":\"\",\"what\":\"job\",\"jobs\":[",
		                     first);
		for (long i = 0; i < n; i++)
			len += (size_t)snprintf(body + len, sizeof(body) - len,
			                        "%s{\"kind\":\"bench\",\"input\":{\"t_us\":%" PRId64
			                        "}}",
			                        i ? "," : "", l->t0_us);
		len += (size_t)snprintf(body + len, sizeof(body) - len, "]}");
	}
	if (len >= sizeof(body))
		abort();
	lane_send(l, body);
}

/* Room for more submits: every stalled producer lane tries again. */
static void producer_wake(struct bench *b)
{
	pthread_mutex_lock(&b->mu);
	struct lane *p = b->stalled;
	b->stalled = NULL;
	pthread_mutex_unlock(&b->mu);
	while (p) {
		struct lane *n = p->next_stalled;
		producer_next(p);
		p = n;
	}
}

static void worker_claim(struct lane *l)
{
	char body[256], max[24] = "";
	l->claiming = 1;
	if (claim_batch > 1)
		snprintf(max, sizeof(max), ",\"max\":%d", claim_batch);
	snprintf(body, sizeof(body),
	         "{\"v\":1,\"type\":\"claim\",\"id\":\"c%d-%u\",\"incident\":0,\"trace\":\"\","
	         "\"kinds\":[\"bench\"],\"worker\":\"bench-%d\",\"wait_ms\":1000%s}",
	         l->worker, l->n++, l->worker, max);
	lane_send(l, body);
}

/* A job a lane now holds: dispatch latency, and room for one more submit. */
static void worker_got(struct lane *l, const cJSON *j, int64_t now)
{
	struct bench *b = l->b;
	long i = atomic_fetch_add(&b->claimed, 1);
	int64_t t_us = json_int(cJSON_GetObjectItem(j, "input"), "t_us", now);
	if (i < b->jobs)
		b->dispatch_ms[i] = (double)(now - t_us) / 1000.0;
}

/* The number of jobs a complete reply finished (all of them must be ok). */
static long completed_by(struct lane *l, const cJSON *r)
{
	const cJSON *res = cJSON_GetObjectItem(r, "results");
	if (!res)
		return 1;
	long n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, res)
	{
		if (!cJSON_IsTrue(cJSON_GetObjectItem(it, "ok"))) {
			atomic_fetch_add(&l->b->errors, 1);
			fprintf(stderr, "queue_bench: job %lld not completed: %s\n",
			        (long long)json_int(it, "job", 0), json_str(it, "error"));
		}
		n++;
	}
	return n;
}

static void lane_cb(void *arg)
{
	struct lane *l = arg;
	struct bench *b = l->b;
	int rv = nng_aio_result(l->aio);
	if (rv != 0) {
		if (l->phase == P_SEND) {
			nng_msg_free(nng_aio_get_msg(l->aio));
			nng_aio_set_msg(l->aio, NULL);
		}
		if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
			atomic_fetch_add(&b->errors, 1);
			fprintf(stderr, "queue_bench: %s\n", nng_strerror(rv));
		}
		return;
	}
	pthread_mutex_lock(&b->mu);
	int over = b->finished;
	pthread_mutex_unlock(&b->mu);
	if (over) {
		if (l->phase == P_RECV)
			nng_msg_free(nng_aio_get_msg(l->aio));
		nng_aio_set_msg(l->aio, NULL);
		return;
	}
	if (l->phase == P_SEND) {
		l->phase = P_RECV;
		nng_ctx_recv(l->ctx, l->aio);
		return;
	}
	nng_msg *m = nng_aio_get_msg(l->aio);
	nng_aio_set_msg(l->aio, NULL);
	int64_t now = time_mono_us();
	cJSON *r = cJSON_ParseWithLength(nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
	if (!r || !cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) {
		atomic_fetch_add(&b->errors, 1);
		char *t = r ? cJSON_PrintUnformatted(r) : NULL;
		fprintf(stderr, "queue_bench: bad reply %s\n", t ? t : "(unparsable)");
		free(t);
		cJSON_Delete(r);
		bench_finish(b);
		return;
	}
	if (l->worker < 0) {
		const cJSON *res = cJSON_GetObjectItem(r, "results");
		if (submit_batch > 1 && cJSON_GetArraySize(res) != l->batch) {
			atomic_fetch_add(&b->errors, 1);
			fprintf(stderr, "queue_bench: %d results for a batch of %d\n",
			        cJSON_GetArraySize(res), l->batch);
		}
		long i = atomic_fetch_add(&b->submit_done, l->batch);
		for (int k = 0; k < l->batch && i + k < b->jobs; k++)
			b->submit_ms[i + k] = (double)(now - l->t0_us) / 1000.0;
		pthread_mutex_lock(&b->mu);
		b->inflight -= l->batch;
		pthread_mutex_unlock(&b->mu);
		cJSON_Delete(r);
		producer_next(l);
		producer_wake(b);
		return;
	}
	if (l->claiming) {
		const cJSON *jobs = cJSON_GetObjectItem(r, "jobs");
		const cJSON *one = cJSON_GetObjectItem(r, "job");
		int n = claim_batch > 1 ? cJSON_GetArraySize(jobs) : cJSON_IsObject(one);
		if (n == 0) {
			cJSON_Delete(r);
			if (atomic_load(&b->completed) < b->jobs)
				worker_claim(l);
			return;
		}
		/* One complete for everything claimed: {"job":..,"lease":..} per job. */
		size_t cap = 256 + (size_t)n * 128;
		char *body = xmalloc(cap);
		size_t len =
		    (size_t)snprintf(body, cap,
		                     "{\"v\":1,\"type\":\"complete\",\"id\":\"d%d-%u\","
		                     "\"incident\":0,\"trace\":\"\"%s",
		                     l->worker, l->n++, claim_batch > 1 ? ",\"jobs\":[" : "");
		const cJSON *j = claim_batch > 1 ? jobs->child : one;
		for (int k = 0; k < n; k++, j = j->next) {
			worker_got(l, j, now);
			char lease[64];
			str_copy(lease, sizeof(lease), json_str(j, "lease"));
			len += (size_t)snprintf(
			    body + len, cap - len,
			    "%s%s\"job\":%" PRId64 ",\"lease\":\"%s\",\"result\":{}%s",
			    k ? "," : "", claim_batch > 1 ? "{" : ",", json_int(j, "id", 0), lease,
			    claim_batch > 1 ? "}" : "");
		}
		snprintf(body + len, cap - len, "%s}", claim_batch > 1 ? "]" : "");
		cJSON_Delete(r);
		producer_wake(b);
		l->claiming = 0;
		lane_send(l, body);
		free(body);
		return;
	}
	long n = completed_by(l, r);
	cJSON_Delete(r);
	if (atomic_fetch_add(&b->completed, n) + n >= b->jobs) {
		bench_finish(b);
		return;
	}
	worker_claim(l);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
	if (n <= 0)
		return 0;
	long i = (long)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static double rss_mb(const char *pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	FILE *f = fopen(path, "r");
	double kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = strtod(line + 6, NULL);
	if (f)
		fclose(f);
	return kb / 1024.0;
}

/* Raw single-row commits per second on the disk of dir, for one second. */
static double sqlite_commits(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/raw-commits.db", dir);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 0;
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(x)",
	             NULL, NULL, NULL);
	sqlite3_stmt *ins;
	sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?1)", -1, &ins, NULL);
	int64_t start = time_mono_us(), n = 0;
	while (time_mono_us() - start < 1000000) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_int64(ins, 1, n);
		sqlite3_step(ins);
		sqlite3_reset(ins);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		n++;
	}
	double secs = (double)(time_mono_us() - start) / 1e6;
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return (double)n / secs;
}

static nng_socket open_req(const char *url)
{
	nng_socket s;
	if (nng_req0_open(&s) != 0 || nng_dial(s, url, NULL, 0) != 0) {
		fprintf(stderr, "queue_bench: cannot dial %s\n", url);
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: queue_bench URL QUEUE_PID DBDIR [JOBS]\n");
		return 2;
	}
	struct bench b = {.url = argv[1], .jobs = argc > 4 ? strtol(argv[4], NULL, 10) : 100000};
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	b.submit_ms = xcalloc((size_t)b.jobs, sizeof(double));
	b.dispatch_ms = xcalloc((size_t)b.jobs, sizeof(double));

	double raw = sqlite_commits(argv[3]);

	nng_socket psock = open_req(b.url), wsock[WORKERS];
	static struct lane prod[MAX_WINDOW], work[WORKERS][MAX_LANES];
	int nprod;
	if (getenv("QB_WINDOW"))
		producer_window = (int)strtol(getenv("QB_WINDOW"), NULL, 10);
	if (getenv("QB_LANES"))
		lanes = (int)strtol(getenv("QB_LANES"), NULL, 10);
	if (getenv("QB_CLAIM_BATCH"))
		claim_batch = (int)strtol(getenv("QB_CLAIM_BATCH"), NULL, 10);
	if (getenv("QB_SUBMIT_BATCH"))
		submit_batch = (int)strtol(getenv("QB_SUBMIT_BATCH"), NULL, 10);
	if (claim_batch < 1 || claim_batch > WIRE_BATCH || submit_batch < 1 ||
	    submit_batch > WIRE_BATCH) {
		fprintf(stderr, "queue_bench: QB_CLAIM_BATCH and QB_SUBMIT_BATCH 1..64\n");
		return 2;
	}
	if (producer_window < 1 || producer_window > MAX_WINDOW || lanes < 1 || lanes > MAX_LANES) {
		fprintf(stderr, "queue_bench: QB_WINDOW 1..%d, QB_LANES 1..%d\n", MAX_WINDOW,
		        MAX_LANES);
		return 2;
	}
	for (int w = 0; w < WORKERS; w++) {
		wsock[w] = open_req(b.url);
		for (int i = 0; i < lanes; i++) {
			struct lane *l = &work[w][i];
			*l = (struct lane){.b = &b, .worker = w};
			nng_ctx_open(&l->ctx, wsock[w]);
			nng_aio_alloc(&l->aio, lane_cb, l);
		}
	}
	/* One context per job in the window, or (batched) twice the window's worth of batches. */
	nprod = submit_batch == 1 ? producer_window
	                          : 2 * ((producer_window + submit_batch - 1) / submit_batch);
	if (nprod > producer_window)
		nprod = producer_window;
	for (int i = 0; i < nprod; i++) {
		prod[i] = (struct lane){.b = &b, .worker = -1};
		nng_ctx_open(&prod[i].ctx, psock);
		nng_aio_alloc(&prod[i].aio, lane_cb, &prod[i]);
	}
	int64_t start = time_mono_us();
	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < lanes; i++)
			worker_claim(&work[w][i]);
	for (int i = 0; i < nprod; i++)
		producer_next(&prod[i]);

	pthread_mutex_lock(&b.mu);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RUN_LIMIT_MS / 1000;
	while (!b.finished)
		if (pthread_cond_timedwait(&b.cv, &b.mu, &until) != 0)
			break;
	int64_t end = b.finished ? b.end_us : time_mono_us();
	pthread_mutex_unlock(&b.mu);

	/* Stop every lane (waiting for running callbacks) before the sockets go. */
	pthread_mutex_lock(&b.mu);
	b.finished = 1;
	pthread_mutex_unlock(&b.mu);
	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < lanes; i++)
			nng_aio_stop(work[w][i].aio);
	for (int i = 0; i < nprod; i++)
		nng_aio_stop(prod[i].aio);
	nng_close(psock);
	for (int w = 0; w < WORKERS; w++)
		nng_close(wsock[w]);
	long done = atomic_load(&b.completed);
	long ns = atomic_load(&b.submit_done), nc = atomic_load(&b.claimed);
	if (ns > b.jobs)
		ns = b.jobs;
	if (nc > b.jobs)
		nc = b.jobs;
	qsort(b.submit_ms, (size_t)ns, sizeof(double), cmp_double);
	qsort(b.dispatch_ms, (size_t)nc, sizeof(double), cmp_double);
	double secs = (double)(end - start) / 1e6;
	printf(
	    "{\"bench\":\"queue\",\"jobs_per_s\":%.0f,\"submit_p50_ms\":%.3f,"
	    "\"submit_p99_ms\":%.3f,\"dispatch_p50_ms\":%.3f,\"dispatch_p99_ms\":%.3f,"
	    "\"rss_mb\":%.1f,\"sqlite_commits_per_s\":%.0f,\"claim_batch\":%d,\"submit_batch\":%d,"
	    "\"lanes\":%d}\n",
	    (double)done / secs, pct(b.submit_ms, ns, 0.5), pct(b.submit_ms, ns, 0.99),
	    pct(b.dispatch_ms, nc, 0.5), pct(b.dispatch_ms, nc, 0.99), rss_mb(argv[2]), raw,
	    claim_batch, submit_batch, lanes);
	fprintf(stderr, "queue_bench: %ld/%ld jobs completed in %.2f s, %ld errors\n", done, b.jobs,
	        secs, atomic_load(&b.errors));
	/* The clients share the 2 cores with the queue: say what they burnt. */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "queue_bench: client cpu user=%.2fs sys=%.2fs ctxsw vol=%ld invol=%ld\n",
	        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_nvcsw,
	        ru.ru_nivcsw);
	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < lanes; i++)
			nng_aio_free(work[w][i].aio);
	for (int i = 0; i < nprod; i++)
		nng_aio_free(prod[i].aio);
	free(b.submit_ms);
	free(b.dispatch_ms);
	return done == b.jobs && atomic_load(&b.errors) == 0 ? 0 : 1;
}
