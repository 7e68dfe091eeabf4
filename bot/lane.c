/* lane.c: worker threads running queued jobs in push order (see lane.h). */
#include "lane.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fifo.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "timeutil.h"

#define LANE_MAX_THREADS 16 /* [slack] senders allows 16 */

#define LANE_KEY_MAX 64

struct job {
	lane_job_fn fn;
	lane_free_fn free_fn;
	void *arg;
	char key[LANE_KEY_MAX]; /* "" = no key */
	struct job *next;
};

struct lane {
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* a job was pushed, or stop */
	pthread_cond_t stopcv; /* stop, for jobs napping in lane_nap */
	struct job *head, *tail;
	size_t queued, running;
	int quit;
	pthread_t th[LANE_MAX_THREADS];
	char running_key[LANE_MAX_THREADS][LANE_KEY_MAX]; /* per thread, "" idle */
	int nth;
	char name[32];
};

/* Whether a thread runs a job of key now (l->mu held). */
static int key_running(const struct lane *l, const char *key)
{
	for (int i = 0; i < l->nth; i++)
		if (l->running_key[i][0] && !strcmp(l->running_key[i], key))
			return 1;
	return 0;
}

/*
 * The first queued job that may start: unkeyed, or its key not running
 * (invariant 4); it is unlinked.  NULL when none may (l->mu held).
 */
static struct job *take(struct lane *l)
{
	struct job *prev = NULL;
	for (struct job *j = l->head; j; prev = j, j = j->next) {
		if (j->key[0] && key_running(l, j->key))
			continue;
		if (prev)
			prev->next = j->next;
		else
			l->head = j->next;
		if (l->tail == j)
			l->tail = prev;
		j->next = NULL;
		return j;
	}
	return NULL;
}

struct lane_thread {
	struct lane *l;
	int i;
};

static void *lane_main(void *p)
{
	struct lane_thread *lt = p;
	struct lane *l = lt->l;
	int me = lt->i;
	struct http_client *hc = http_client_new();
	free(lt);
	for (;;) {
		struct job *j = NULL;
		pthread_mutex_lock(&l->mu);
		while (!l->quit && !(j = take(l)))
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->quit) {
			if (j) /* back to the head: lane_stop frees it */
				FIFO_PUSH_FRONT(l->head, l->tail, j);
			pthread_mutex_unlock(&l->mu);
			break;
		}
		l->queued--;
		l->running++;
		memcpy(l->running_key[me], j->key, LANE_KEY_MAX);
		pthread_mutex_unlock(&l->mu);
		j->fn(j->arg, hc);
		pthread_mutex_lock(&l->mu);
		l->running--;
		if (j->key[0]) {
			l->running_key[me][0] = '\0';
			/* a job of this key may wait behind it: wake every idle thread */
			pthread_cond_broadcast(&l->cv);
		}
		pthread_mutex_unlock(&l->mu);
		free(j);
	}
	http_client_free(hc);
	return NULL;
}

struct lane *lane_start(const char *name, int nthreads)
{
	struct lane *l = xcalloc(1, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_cond_init(&l->stopcv, NULL);
	str_copy(l->name, sizeof l->name, name);
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > LANE_MAX_THREADS)
		nthreads = LANE_MAX_THREADS;
	l->nth = nthreads; /* before any thread reads running_key[] */
	for (int i = 0; i < nthreads; i++) {
		struct lane_thread *lt = xcalloc(1, sizeof *lt);
		lt->l = l;
		lt->i = i;
		if (pthread_create(&l->th[i], NULL, lane_main, lt) != 0)
			log_fatal("event=thread_create_failed lane=%s", name);
	}
	return l;
}

void lane_push_keyed(struct lane *l, const char *key, lane_job_fn fn, lane_free_fn free_fn,
                     void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->fn = fn;
	j->free_fn = free_fn;
	j->arg = arg;
	if (key)
		str_copy(j->key, sizeof j->key, key); /* a longer key is cut: still one key */
	pthread_mutex_lock(&l->mu);
	FIFO_PUSH(l->head, l->tail, j);
	l->queued++;
	/* keyed: the one idle thread a signal wakes may find the key busy */
	if (j->key[0])
		pthread_cond_broadcast(&l->cv);
	else
		pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void lane_push(struct lane *l, lane_job_fn fn, lane_free_fn free_fn, void *arg)
{
	lane_push_keyed(l, NULL, fn, free_fn, arg);
}

size_t lane_pending(struct lane *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->queued + l->running;
	pthread_mutex_unlock(&l->mu);
	return n;
}

int lane_stopping(struct lane *l)
{
	pthread_mutex_lock(&l->mu);
	int q = l->quit;
	pthread_mutex_unlock(&l->mu);
	return q;
}

int lane_nap(struct lane *l, int64_t ms)
{
	struct timespec ts = time_deadline(ms);
	int quit;

	pthread_mutex_lock(&l->mu);
	while (!l->quit && pthread_cond_timedwait(&l->stopcv, &l->mu, &ts) == 0)
		;
	quit = l->quit;
	pthread_mutex_unlock(&l->mu);
	return quit;
}

void lane_stop(struct lane *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->quit = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_cond_broadcast(&l->stopcv);
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < l->nth; i++)
		pthread_join(l->th[i], NULL);
	for (struct job *j = l->head, *n; j; j = n) {
		n = j->next;
		if (j->free_fn)
			j->free_fn(j->arg);
		free(j);
	}
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->stopcv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
