/* lane.c: worker threads running queued jobs in push order (see lane.h). */
#include "lane.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "mem.h"

#define LANE_MAX_THREADS 8

struct job {
	lane_job_fn fn;
	lane_free_fn free_fn;
	void *arg;
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
	int nth;
	char name[32];
};

static void *lane_main(void *p)
{
	struct lane *l = p;
	struct http_client *hc = http_client_new();
	for (;;) {
		pthread_mutex_lock(&l->mu);
		while (!l->head && !l->quit)
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->quit) {
			pthread_mutex_unlock(&l->mu);
			break;
		}
		struct job *j = l->head;
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->queued--;
		l->running++;
		pthread_mutex_unlock(&l->mu);
		j->fn(j->arg, hc);
		free(j);
		pthread_mutex_lock(&l->mu);
		l->running--;
		pthread_mutex_unlock(&l->mu);
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
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&l->th[i], NULL, lane_main, l) != 0)
			log_fatal("event=thread_create_failed lane=%s", name);
		l->nth++;
	}
	return l;
}

void lane_push(struct lane *l, lane_job_fn fn, lane_free_fn free_fn, void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->fn = fn;
	j->free_fn = free_fn;
	j->arg = arg;
	pthread_mutex_lock(&l->mu);
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->queued++;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
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
	struct timespec ts;
	int quit;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
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
