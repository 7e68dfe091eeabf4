/*
 * lane_test.c: a lane runs jobs in push order, one at a time with one
 * thread; keyed jobs run one at a time per key while other keys go on;
 * stop lets the running job end (its nap returns) and frees the
 * queued ones without running them.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lane.h"
#include "timeutil.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int order[64], n_order, running, max_running, freed;
static struct lane *napping_lane;

struct job {
	int id;
	int nap_ms; /* > 0: nap on napping_lane */
};

static int get(const int *v)
{
	pthread_mutex_lock(&mu);
	int x = *v;
	pthread_mutex_unlock(&mu);
	return x;
}

static void job_fn(void *arg, struct http_client *hc)
{
	struct job *j = arg;
	(void)hc;
	pthread_mutex_lock(&mu);
	if (++running > max_running)
		max_running = running;
	pthread_mutex_unlock(&mu);
	if (j->nap_ms)
		lane_nap(napping_lane, j->nap_ms);
	else
		time_sleep_ms(2, NULL);
	pthread_mutex_lock(&mu);
	running--;
	order[n_order++] = j->id;
	pthread_mutex_unlock(&mu);
	free(j);
}

static void job_free(void *arg)
{
	pthread_mutex_lock(&mu);
	freed++;
	pthread_mutex_unlock(&mu);
	free(arg);
}

static void push(struct lane *l, int id, int nap_ms)
{
	struct job *j = calloc(1, sizeof *j);
	j->id = id;
	j->nap_ms = nap_ms;
	lane_push(l, job_fn, job_free, j);
}

static void test_order(void **state)
{
	struct lane *l = lane_start("test", 1);
	int64_t until = time_mono_ms() + 5000;
	(void)state;
	n_order = max_running = freed = 0;
	for (int i = 0; i < 20; i++)
		push(l, i, 0);
	while (lane_pending(l) > 0 && time_mono_ms() < until)
		time_sleep_ms(1, NULL);
	assert_int_equal(lane_pending(l), 0);
	lane_stop(l);
	assert_int_equal(n_order, 20);
	for (int i = 0; i < 20; i++)
		if (order[i] != i)
			fail_msg("job %d ran at place %d (got %d)", i, i, order[i]);
	assert_int_equal(max_running, 1);
	assert_int_equal(freed, 0);
}

static void test_stop_frees_queued(void **state)
{
	struct lane *l = lane_start("test", 1);
	int64_t t0, until = time_mono_ms() + 5000;
	(void)state;
	n_order = max_running = freed = 0;
	napping_lane = l;
	push(l, 1, 60000); /* naps until stop */
	push(l, 2, 0);
	push(l, 3, 0);
	while (get(&running) == 0 && time_mono_ms() < until)
		time_sleep_ms(1, NULL);
	assert_int_equal(lane_pending(l), 3); /* one running, two queued */
	t0 = time_mono_ms();
	lane_stop(l);
	if (time_mono_ms() - t0 > 2000)
		fail_msg("stop took %lld ms: the nap did not end",
		         (long long)(time_mono_ms() - t0));
	assert_int_equal(n_order, 1);
	assert_int_equal(freed, 2);
}

static void test_parallel(void **state)
{
	struct lane *l = lane_start("test", 4);
	int64_t until = time_mono_ms() + 5000;
	(void)state;
	n_order = max_running = freed = 0;
	for (int i = 0; i < 40; i++)
		push(l, i, 0);
	while (lane_pending(l) > 0 && time_mono_ms() < until)
		time_sleep_ms(1, NULL);
	lane_stop(l);
	assert_int_equal(n_order, 40);
	assert_true(max_running >= 1 && max_running <= 4);
}

/* Keyed jobs: key "A"'s first job blocks until released. */
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open, a_running, a_overlap;

struct kjob {
	int id;
	char key;
};

static void kjob_fn(void *arg, struct http_client *hc)
{
	struct kjob *j = arg;
	(void)hc;
	pthread_mutex_lock(&mu);
	if (j->key == 'A' && a_running++)
		a_overlap = 1;
	if (j->id == 100)
		while (!gate_open)
			pthread_cond_wait(&gate_cv, &mu);
	pthread_mutex_unlock(&mu);
	time_sleep_ms(2, NULL);
	pthread_mutex_lock(&mu);
	if (j->key == 'A')
		a_running--;
	order[n_order++] = j->id;
	pthread_mutex_unlock(&mu);
	free(j);
}

static void kpush(struct lane *l, char key, int id)
{
	struct kjob *j = calloc(1, sizeof *j);
	char k[2] = {key, 0};
	j->id = id;
	j->key = key;
	lane_push_keyed(l, k, kjob_fn, free, j);
}

static void test_keyed(void **state)
{
	struct lane *l = lane_start("test", 3);
	int64_t until = time_mono_ms() + 5000;
	(void)state;
	n_order = max_running = freed = 0;
	gate_open = a_running = a_overlap = 0;
	kpush(l, 'A', 100); /* blocks */
	kpush(l, 'A', 101);
	kpush(l, 'A', 102);
	for (int i = 0; i < 10; i++)
		kpush(l, i % 2 ? 'B' : 'C', i);
	/* B and C finish while A is held; A's later jobs wait */
	while (get(&n_order) < 10 && time_mono_ms() < until)
		time_sleep_ms(1, NULL);
	assert_int_equal(get(&n_order), 10);
	assert_int_equal(lane_pending(l), 3);
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 10; i++)
		assert_true(order[i] < 10);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&mu);
	while (lane_pending(l) > 0 && time_mono_ms() < until)
		time_sleep_ms(1, NULL);
	lane_stop(l);
	assert_int_equal(n_order, 13);
	assert_int_equal(order[10], 100);
	assert_int_equal(order[11], 101);
	assert_int_equal(order[12], 102);
	assert_int_equal(a_overlap, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order), cmocka_unit_test(test_stop_frees_queued),
	    cmocka_unit_test(test_parallel), cmocka_unit_test(test_keyed)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
