/*
 * state_test.c: bot.db on a real file: a surface's seq never goes down, a
 * posted key keeps its first ref, threads are replaced, kv round-trips, and
 * all of it survives closing and reopening (a restart); pruning keeps the
 * per-post rows bounded in a steady stream of posts and keeps what
 * exactly-once still needs.
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
#include <sqlite3.h>

#include "state.h"
#include "timeutil.h"

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

#define DAY_MS (24LL * 3600 * 1000)

/* Make every posted row and intent of this file a day older (the clock
 * moving on by a day), through a second connection. */
static void age_one_day(void)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db,
	                              "UPDATE posted SET at_ms = at_ms - 86400000;"
	                              "UPDATE kv SET value = json_set(value, '$.at_ms',"
	                              " json_extract(value, '$.at_ms') - 86400000)"
	                              " WHERE key LIKE 'intent:%' AND json_valid(value)",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
}

/*
 * Thirty days of 200 posts a day (each: intent, then posted), 20 of them a
 * day refused for good (intent, never posted), pruned daily with a 3-day
 * keep: the per-post rows level off instead of growing 200 a day.  An
 * intent whose post is not recorded and is recent stays (a crash-window
 * post must still be looked for); a posted key's intent goes at once.
 */
static void test_prune_bounded(void **s)
{
	struct state *st = open_db();
	int64_t intents = 0, posted = 0, peak_posted = 0, peak_intents = 0;
	char key[64], ikey[80], val[96];
	(void)s;
	for (int day = 0; day < 30; day++) {
		for (int i = 0; i < 200; i++) {
			snprintf(key, sizeof key, "ev-%d-%d-step", day, i);
			snprintf(ikey, sizeof ikey, "intent:%s", key);
			snprintf(val, sizeof val, "{\"channel\":\"C1\",\"at_ms\":%lld}",
			         (long long)time_now_ms());
			assert_int_equal(state_kv_put(st, day % 2 ? "slack" : "discord", ikey, val),
			                 0);
			if (i >= 20)
				assert_int_equal(
				    state_posted_put(st, day % 2 ? "slack" : "discord", key, "1.0"),
				    0);
		}
		assert_true(state_prune(st, time_now_ms(), 3 * DAY_MS, 100000) >= 180);
		assert_int_equal(state_post_rows(st, &intents, &posted), 0);
		if (posted > peak_posted)
			peak_posted = posted;
		if (intents > peak_intents)
			peak_intents = intents;
		/* today's refused posts keep their intents; posted ones lose theirs */
		snprintf(ikey, sizeof ikey, "intent:ev-%d-5-step", day);
		char *v = NULL;
		assert_int_equal(state_kv_get(st, day % 2 ? "slack" : "discord", ikey, &v), 1);
		free(v);
		snprintf(ikey, sizeof ikey, "intent:ev-%d-50-step", day);
		assert_int_equal(state_kv_get(st, day % 2 ? "slack" : "discord", ikey, &v), 0);
		snprintf(key, sizeof key, "ev-%d-50-step", day);
		assert_int_equal(state_posted_get(st, day % 2 ? "slack" : "discord", key, NULL, 0),
		                 1);
		age_one_day();
	}
	/* at most the last 4 days' worth (keep 3 days + today) */
	assert_true(peak_posted <= 4 * 180);
	assert_true(peak_intents <= 4 * 20);
	assert_true(posted >= 3 * 180); /* and it does keep what is recent */
	/* other kv rows are not intents and stay */
	assert_int_equal(state_kv_put(st, "slack", "inc:7", "{}"), 0);
	assert_int_equal(state_kv_put(st, "slack", "intent", "x"), 0);
	state_prune(st, time_now_ms() + 100 * DAY_MS, DAY_MS, 100000);
	char *v = NULL;
	assert_int_equal(state_kv_get(st, "slack", "inc:7", &v), 1);
	free(v);
	assert_int_equal(state_kv_get(st, "slack", "intent", &v), 1);
	free(v);
	assert_int_equal(state_post_rows(st, &intents, &posted), 0);
	assert_int_equal(intents, 0);
	assert_int_equal(posted, 0);
	state_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_seq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_posted_threads_kv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thread_find, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
