/*
 * NAME
 *   redis_bench - queue_bench's workload against Redis, for a ratio in one run
 *
 * SYNOPSIS
 *   redis_bench SOCKET REDIS_PID [JOBS]
 *
 * DESCRIPTION
 *   The same job lifecycle as queue/bench.c, on a Redis server started by
 *   queue/bench.sh with appendonly yes and appendfsync always (every write
 *   is fsync'd before its reply, as opsbot-queue's sync = full):
 *
 *     submit    one script: INCR an id, HSET the ~200 B payload, LPUSH it on
 *               the ready list; 64 submits in flight on one pipelined
 *               connection, at most 64 jobs submitted but not yet claimed.
 *               RB_SUBMIT_BATCH=N (default 1) sends up to N payloads per
 *               script call instead (the Redis side of queue_bench's
 *               batched submit), still at most 64 jobs in flight
 *     claim     one script: LMPOP up to 16 ids, ZADD each to a lease set
 *               with its deadline, return ids and payloads; when the list is
 *               empty the lane blocks in BLMPOP (1 s) and leases what it got
 *     complete  one script for the batch: ZREM the leases, HDEL the payloads
 *
 *   4 workers x 16 lanes: each worker is a thread with one connection that
 *   pipelines its 16 lanes' claims, then their completes (as queue_bench's
 *   workers keep 16 NNG contexts busy on one socket), so both servers see 5
 *   connections and the same requests in flight.
 *
 *   Prints one JSON line with the figures queue_bench prints, under
 *   "bench":"redis".
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "timeutil.h"

#define WINDOW      64
#define BACKLOG_MAX 64
#define WORKERS     4
#define LANES       16
#define BATCH       16
#define BATCH_MAX   64

static const char *sock_path;
static long total;
static atomic_long submitted, claimed, completed, errors;
static double *submit_ms, *dispatch_ms;
static char sha_submit[41], sha_submit_many[41], sha_claim[41], sha_done[41];
static int submit_batch = 1; /* RB_SUBMIT_BATCH: payloads per submit call */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static const char *const script_submit = "local id = redis.call('INCR', 'q:id') "
                                         "redis.call('HSET', 'q:job', id, ARGV[1]) "
                                         "redis.call('LPUSH', 'q:ready', id) "
                                         "return id";
/* RB_SUBMIT_BATCH > 1: one script call submits every payload it is given. */
static const char *const script_submit_many = "for _, p in ipairs(ARGV) do "
                                              "local id = redis.call('INCR', 'q:id') "
                                              "redis.call('HSET', 'q:job', id, p) "
                                              "redis.call('LPUSH', 'q:ready', id) end "
                                              "return #ARGV";
static const char *const script_claim =
    "local got = ARGV[3] == '' and redis.call('LMPOP', 1, 'q:ready', 'RIGHT', 'COUNT', ARGV[1]) "
    "if ARGV[3] ~= '' then got = {'q:ready', cjson.decode(ARGV[3])} end "
    "if not got then return {} end "
    "local out = {} "
    "for _, id in ipairs(got[2]) do "
    "  redis.call('ZADD', 'q:leased', ARGV[2], id) "
    "  out[#out + 1] = id "
    "  out[#out + 1] = redis.call('HGET', 'q:job', id) "
    "end "
    "return out";
static const char *const script_done =
    "for _, id in ipairs(ARGV) do redis.call('ZREM', 'q:leased', id) "
    "redis.call('HDEL', 'q:job', id) end return #ARGV";

static redisContext *conn(void)
{
	redisContext *c = redisConnectUnix(sock_path);
	if (!c || c->err) {
		fprintf(stderr, "redis_bench: cannot connect to %s: %s\n", sock_path,
		        c ? c->errstr : "out of memory");
		exit(1);
	}
	return c;
}

static void load(redisContext *c, const char *script, char *sha)
{
	redisReply *r = redisCommand(c, "SCRIPT LOAD %s", script);
	if (!r || r->type != REDIS_REPLY_STRING) {
		fprintf(stderr, "redis_bench: SCRIPT LOAD failed: %s\n",
		        r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		exit(1);
	}
	snprintf(sha, 41, "%s", r->str);
	freeReplyObject(r);
}

static int64_t payload_t_us(const char *p)
{
	const char *t = strstr(p, "\"t_us\":");
	return t ? strtoll(t + 7, NULL, 10) : 0;
}

static void *producer(void *arg)
{
	(void)arg;
	redisContext *c = conn();
	static int64_t sent_at[WINDOW];
	static int sent_n[WINDOW]; /* jobs in each call in flight, in order */
	long sent = 0, answered = 0, calls = 0, calls_done = 0;
	static char payload[BATCH_MAX][256];
	while (answered < total) {
		/* Fill the window while the backlog allows. */
		while (sent < total && sent - answered < WINDOW) {
			if (atomic_load(&submitted) - atomic_load(&claimed) >= BACKLOG_MAX) {
				if (sent > answered)
					break; /* read a reply meanwhile */
				pthread_mutex_lock(&mu);
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_nsec += 1000000;
				if (until.tv_nsec >= 1000000000) {
					until.tv_sec++;
					until.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&cv, &mu, &until);
				pthread_mutex_unlock(&mu);
				continue;
			}
			long n = submit_batch, room = WINDOW - (sent - answered);
			long backlog =
			    BACKLOG_MAX - (atomic_load(&submitted) - atomic_load(&claimed));
			if (room < n)
				n = room;
			if (backlog < n)
				n = backlog;
			if (total - sent < n)
				n = total - sent;
			int64_t t0 = time_mono_us();
			const char *argv[3 + BATCH_MAX];
			size_t argl[3 + BATCH_MAX];
			int argc = 0;
			argv[argc] = "EVALSHA", argl[argc++] = 7;
			argv[argc] = submit_batch > 1 ? sha_submit_many : sha_submit,
			argl[argc++] = 40;
			argv[argc] = "0", argl[argc++] = 1;
			for (long k = 0; k < n; k++) {
				/* ~200 B, like queue_bench's submit message. */
				int len =
				    snprintf(payload[k], sizeof(payload[k]),
				             "{\"kind\":\"bench\",\"incident\":0,\"id\":\"s%ld\","
				             "\"input\":{\"t_us\":%" PRId64
				             "},\"pad\":\"................................."
				             "..............................."
				             "...............\"}",
				             sent + k, t0);
				argv[argc] = payload[k], argl[argc++] = (size_t)len;
			}
			redisAppendCommandArgv(c, argc, argv, argl);
			sent_at[calls % WINDOW] = t0;
			sent_n[calls % WINDOW] = (int)n;
			calls++;
			atomic_fetch_add(&submitted, n);
			sent += n;
		}
		redisReply *r;
		if (redisGetReply(c, (void **)&r) != REDIS_OK || !r ||
		    r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "redis_bench: submit failed: %s\n", r ? r->str : c->errstr);
			atomic_fetch_add(&errors, 1);
			exit(1);
		}
		freeReplyObject(r);
		double ms = (double)(time_mono_us() - sent_at[calls_done % WINDOW]) / 1000.0;
		for (int k = 0; k < sent_n[calls_done % WINDOW]; k++)
			submit_ms[answered++] = ms;
		calls_done++;
	}
	redisFree(c);
	return NULL;
}

/* Lease what a claim reply holds and complete it in one script; returns jobs done. */
static size_t take(redisReply *r, int64_t now, const char **argv, size_t *argl, int *argc)
{
	size_t n = r->elements / 2;
	for (size_t i = 0; i < n; i++) {
		long k = atomic_fetch_add(&claimed, 1);
		if (k < total)
			dispatch_ms[k] =
			    (double)(now - payload_t_us(r->element[2 * i + 1]->str)) / 1000.0;
		argv[*argc] = r->element[2 * i]->str;
		argl[(*argc)++] = r->element[2 * i]->len;
	}
	return n;
}

/*
 * One worker: one connection carrying LANES claims at once (pipelined, as
 * the queue's workers keep 16 contexts busy on one socket), then one
 * complete per lane that got jobs.  When every lane came back empty the
 * worker blocks in BLMPOP (100 ms) instead of spinning.
 */
static void *worker(void *arg)
{
	(void)arg;
	redisContext *c = conn();
	char deadline[32];
	while (atomic_load(&completed) < total) {
		snprintf(deadline, sizeof(deadline), "%" PRId64, time_now_ms() + 30000);
		for (int i = 0; i < LANES; i++)
			redisAppendCommand(c, "EVALSHA %s 0 %d %s %s", sha_claim, BATCH, deadline,
			                   "");
		redisReply *got[LANES];
		int busy = 0;
		for (int i = 0; i < LANES; i++) {
			if (redisGetReply(c, (void **)&got[i]) != REDIS_OK || !got[i] ||
			    got[i]->type != REDIS_REPLY_ARRAY) {
				fprintf(stderr, "redis_bench: claim failed: %s\n", c->errstr);
				exit(1);
			}
			busy += got[i]->elements > 0;
		}
		if (!busy) {
			for (int i = 0; i < LANES; i++)
				freeReplyObject(got[i]);
			redisReply *r =
			    redisCommand(c, "BLMPOP 0.1 1 q:ready RIGHT COUNT %d", BATCH);
			if (!r || r->type != REDIS_REPLY_ARRAY) {
				freeReplyObject(r);
				continue;
			}
			char ids[BATCH * 24] = "[";
			size_t len = 1;
			redisReply *list = r->element[1];
			for (size_t i = 0; i < list->elements; i++)
				len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s\"%s\"",
				                        i ? "," : "", list->element[i]->str);
			snprintf(ids + len, sizeof(ids) - len, "]");
			freeReplyObject(r);
			got[0] = redisCommand(c, "EVALSHA %s 0 %d %s %s", sha_claim, BATCH,
			                      deadline, ids);
			if (!got[0] || got[0]->type != REDIS_REPLY_ARRAY) {
				fprintf(stderr, "redis_bench: lease failed: %s\n", c->errstr);
				exit(1);
			}
			for (int i = 1; i < LANES; i++)
				got[i] = NULL;
		}
		int64_t now = time_mono_us();
		size_t want[LANES];
		int sent = 0;
		for (int i = 0; i < LANES; i++) {
			want[i] = 0;
			if (!got[i] || got[i]->elements == 0)
				continue;
			const char *argv[3 + BATCH];
			size_t argl[3 + BATCH];
			int argc = 0;
			argv[argc] = "EVALSHA", argl[argc++] = 7;
			argv[argc] = sha_done, argl[argc++] = 40;
			argv[argc] = "0", argl[argc++] = 1;
			want[sent] = take(got[i], now, argv, argl, &argc);
			redisAppendCommandArgv(c, argc, argv, argl);
			sent++;
		}
		pthread_cond_signal(&cv);
		for (int i = 0; i < LANES; i++)
			freeReplyObject(got[i]);
		for (int i = 0; i < sent; i++) {
			redisReply *d;
			if (redisGetReply(c, (void **)&d) != REDIS_OK || !d ||
			    d->type != REDIS_REPLY_INTEGER || (size_t)d->integer != want[i]) {
				fprintf(stderr, "redis_bench: complete failed\n");
				atomic_fetch_add(&errors, 1);
			} else {
				atomic_fetch_add(&completed, (long)want[i]);
			}
			freeReplyObject(d);
		}
	}
	redisFree(c);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
	return n > 0 ? v[(long)(p * (double)(n - 1) + 0.5)] : 0;
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

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: redis_bench SOCKET REDIS_PID [JOBS]\n");
		return 2;
	}
	sock_path = argv[1];
	total = argc > 3 ? strtol(argv[3], NULL, 10) : 50000;
	if (total < 1)
		return 2;
	submit_ms = calloc((size_t)total, sizeof(double));
	dispatch_ms = calloc((size_t)total, sizeof(double));
	if (!submit_ms || !dispatch_ms)
		return 1;
	redisContext *c = conn();
	if (getenv("RB_SUBMIT_BATCH"))
		submit_batch = (int)strtol(getenv("RB_SUBMIT_BATCH"), NULL, 10);
	if (submit_batch < 1 || submit_batch > BATCH_MAX) {
		fprintf(stderr, "redis_bench: RB_SUBMIT_BATCH 1..%d\n", BATCH_MAX);
		return 2;
	}
	load(c, script_submit, sha_submit);
	load(c, script_submit_many, sha_submit_many);
	load(c, script_claim, sha_claim);
	load(c, script_done, sha_done);
	redisFree(c);

	pthread_t prod, workers[WORKERS];
	int64_t start = time_mono_us();
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&workers[i], NULL, worker, NULL);
	pthread_create(&prod, NULL, producer, NULL);
	pthread_join(prod, NULL);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(workers[i], NULL);
	double secs = (double)(time_mono_us() - start) / 1e6;
	long done = atomic_load(&completed);
	long nc = atomic_load(&claimed) < total ? atomic_load(&claimed) : total;
	qsort(submit_ms, (size_t)total, sizeof(double), cmp_double);
	qsort(dispatch_ms, (size_t)nc, sizeof(double), cmp_double);
	printf("{\"bench\":\"redis\",\"jobs_per_s\":%.0f,\"submit_p50_ms\":%.3f,"
	       "\"submit_p99_ms\":%.3f,\"dispatch_p50_ms\":%.3f,\"dispatch_p99_ms\":%.3f,"
	       "\"rss_mb\":%.1f,\"submit_batch\":%d}\n",
	       (double)done / secs, pct(submit_ms, total, 0.5), pct(submit_ms, total, 0.99),
	       pct(dispatch_ms, nc, 0.5), pct(dispatch_ms, nc, 0.99), rss_mb(argv[2]),
	       submit_batch);
	/* As queue_bench does: the client's own CPU, since both share the cores with the server. */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "redis_bench: client cpu user=%.2fs sys=%.2fs ctxsw vol=%ld invol=%ld\n",
	        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_nvcsw,
	        ru.ru_nivcsw);
	free(submit_ms);
	free(dispatch_ms);
	return done >= total && atomic_load(&errors) == 0 ? 0 : 1;
}
