/* discord_lane.c: one thread running queued jobs in order (see discord_lane.h). */
#include "discord_lane.h"

#include <pthread.h>
#include <stdlib.h>

#include "http.h"
#include "log.h"
#include "mem.h"

struct job {
	discord_job_fn fn;
	discord_job_free free_fn;
	void *arg;
	struct job *next;
};

struct discord_lane {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	size_t n;
	int quit;
	pthread_t th;
	char name[32];
};

static void *lane_main(void *p)
{
	struct discord_lane *l = p;
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
		l->n--;
		pthread_mutex_unlock(&l->mu);
		j->fn(j->arg, hc);
		free(j);
	}
	http_client_free(hc);
	return NULL;
}

struct discord_lane *discord_lane_start(const char *name)
{
	struct discord_lane *l = xcalloc(1, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	str_copy(l->name, sizeof l->name, name);
	if (pthread_create(&l->th, NULL, lane_main, l) != 0)
		log_fatal("event=thread_create_failed lane=%s", name);
	return l;
}

void discord_lane_push(struct discord_lane *l, discord_job_fn fn, discord_job_free free_fn,
                       void *arg)
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
	l->n++;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

size_t discord_lane_pending(struct discord_lane *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

void discord_lane_stop(struct discord_lane *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->quit = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->th, NULL);
	for (struct job *j = l->head, *n; j; j = n) {
		n = j->next;
		if (j->free_fn)
			j->free_fn(j->arg);
		free(j);
	}
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
