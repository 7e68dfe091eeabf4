/*
 * state_test.c: bot.db on a real file: a surface's seq never goes down, a
 * posted key keeps its first ref, threads are replaced, kv round-trips, and
 * all of it survives closing and reopening (a restart).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"

static char path[64];

static struct state *open_db(void)
{
	struct state *st = NULL;
	char err[256];
	if (state_open(path, &st, err, sizeof err) < 0)
		fail_msg("state_open %s: %s", path, err);
	return st;
}

static int setup(void **s)
{
	int fd;
	(void)s;
	snprintf(path, sizeof path, "/tmp/opsbot-state-test.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(path);
	return 0;
}

static int teardown(void **s)
{
	char p[80];
	(void)s;
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	return 0;
}

static void test_seq(void **s)
{
	static const struct {
		int64_t set, want;
	} steps[] = {{5, 5}, {3, 5}, {9, 9}, {9, 9}, {0, 9}};
	struct state *st = open_db();
	int64_t got = -1;
	(void)s;
	if (state_seq_get(st, "slack", &got) != 0 || got != 0)
		fail_msg("fresh seq: got rc/seq %lld, want 0 (never stored)", (long long)got);
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		assert_int_equal(state_seq_set(st, "slack", steps[i].set), 0);
		if (state_seq_get(st, "slack", &got) != 1 || got != steps[i].want)
			fail_msg("after set %lld: got %lld, want %lld", (long long)steps[i].set,
			         (long long)got, (long long)steps[i].want);
	}
	state_seq_get(st, "discord", &got);
	if (got != 0)
		fail_msg("other surface: got %lld, want 0", (long long)got);
	state_close(st);
	st = open_db();
	if (state_seq_get(st, "slack", &got) != 1 || got != 9)
		fail_msg("after reopen: got %lld, want 9", (long long)got);
	state_close(st);
}

static void test_posted_threads_kv(void **s)
{
	struct state *st = open_db();
	char ref[64] = "", ch[64], parent[64];
	char *val = NULL;
	(void)s;
	assert_int_equal(state_posted_get(st, "slack", "ev-1", ref, sizeof ref), 0);
	assert_int_equal(state_posted_put(st, "slack", "ev-1", "111.1"), 0);
	assert_int_equal(state_posted_put(st, "slack", "ev-1", "222.2"), 0);
	assert_int_equal(state_posted_get(st, "slack", "ev-1", ref, sizeof ref), 1);
	if (strcmp(ref, "111.1") != 0)
		fail_msg("posted ref: got %s, want the first (111.1)", ref);
	assert_int_equal(state_posted_get(st, "discord", "ev-1", NULL, 0), 0);

	assert_int_equal(state_thread_get(st, "slack", 7, ch, sizeof ch, parent, sizeof parent), 0);
	assert_int_equal(state_thread_put(st, "slack", 7, "C1", "1.1"), 0);
	assert_int_equal(state_thread_put(st, "slack", 7, "C2", "2.2"), 0);
	state_close(st);
	st = open_db();
	assert_int_equal(state_thread_get(st, "slack", 7, ch, sizeof ch, parent, sizeof parent), 1);
	if (strcmp(ch, "C2") || strcmp(parent, "2.2"))
		fail_msg("thread: got %s/%s, want C2/2.2", ch, parent);

	assert_int_equal(state_kv_get(st, "slack", "inc:7", &val), 0);
	assert_int_equal(state_kv_put(st, "slack", "inc:7", "{\"a\":1}"), 0);
	assert_int_equal(state_kv_put(st, "slack", "inc:7", "{\"a\":2}"), 0);
	assert_int_equal(state_kv_get(st, "slack", "inc:7", &val), 1);
	if (strcmp(val, "{\"a\":2}") != 0)
		fail_msg("kv: got %s, want {\"a\":2}", val);
	free(val);
	assert_int_equal(state_loop_mode(st), 0);
	assert_int_equal(state_checkpoint(st), 0);
	state_close(st);
}

/* A click's message (or the thread it is in) leads back to its incident. */
static void test_thread_find(void **s)
{
	struct state *st = open_db();
	int64_t id = -1;
	(void)s;
	assert_int_equal(state_thread_find(st, "slack", "C1", "5.5", &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(state_thread_put(st, "slack", 4, "C1", "5.5"), 0);
	assert_int_equal(state_thread_put(st, "slack", 9, "C1", "6.6"), 0);
	assert_int_equal(state_thread_put(st, "discord", 4, "D1", "777"), 0);
	assert_int_equal(state_thread_find(st, "slack", "C1", "5.5", &id), 1);
	assert_int_equal(id, 4);
	assert_int_equal(state_thread_find(st, "slack", NULL, "6.6", &id), 1);
	assert_int_equal(id, 9);
	/* another channel, another surface, an empty ref: not known */
	assert_int_equal(state_thread_find(st, "slack", "C2", "5.5", &id), 0);
	assert_int_equal(state_thread_find(st, "slack", NULL, "777", &id), 0);
	assert_int_equal(state_thread_find(st, "discord", NULL, "777", &id), 1);
	assert_int_equal(id, 4);
	assert_int_equal(state_thread_find(st, "discord", NULL, "", &id), 0);
	assert_int_equal(state_thread_find(st, "discord", NULL, NULL, &id), 0);
	/* a hostile ref is only a value */
	assert_int_equal(state_thread_find(st, "slack", NULL, "' OR 1=1 --", &id), 0);
	state_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_seq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_posted_threads_kv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thread_find, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
