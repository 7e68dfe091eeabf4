/*
 * inbox_test.c: the inbox on a real file: a put is there after a reopen
 * (a restart), a repeat of a key is told apart and keeps its first request,
 * done rows leave the pending list and answer with their incident (at once,
 * before the batched write, and after a restart), and pruning takes only
 * old done rows.
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

#include "inbox.h"

static char dir[64], path[128];

static struct inbox *open_ib(void)
{
	struct inbox *ib = NULL;
	char err[256];
	if (inbox_open(path, &ib, err, sizeof err) < 0)
		fail_msg("inbox_open %s: %s", path, err);
	return ib;
}

static int setup(void **s)
{
	(void)s;
	snprintf(dir, sizeof dir, "/tmp/opsbot-inbox-test.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/inbox.db", dir);
	return 0;
}

static int teardown(void **s)
{
	char cmd[128];
	(void)s;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct seen {
	int n;
	char keys[8][32], requests[8][64];
	int told[8];
};

static void collect(void *arg, const struct inbox_row *r)
{
	struct seen *s = arg;
	if (s->n < 8) {
		snprintf(s->keys[s->n], sizeof s->keys[0], "%s", r->key);
		snprintf(s->requests[s->n], sizeof s->requests[0], "%s", r->request);
		s->told[s->n] = r->told;
	}
	s->n++;
}

static void put(struct inbox *ib, const char *key, const char *req, int64_t at, int want,
                int64_t want_incident)
{
	struct inbox_row r = {.key = key, .channel = "C1", .user = "U1", .request = req};
	int64_t inc = 99;
	int rc = inbox_put(ib, &r, at, &inc);
	if (rc != want || inc != want_incident)
		fail_msg("put %s: got rc %d incident %lld, want %d and %lld", key, rc,
		         (long long)inc, want, (long long)want_incident);
}

static void test_put_done_restart(void **state)
{
	(void)state;
	struct inbox *ib = open_ib();
	put(ib, "k1", "{\"n\":1}", 1000, 0, 0);
	put(ib, "k2", "{\"n\":2}", 2000, 0, 0);
	put(ib, "k3", "{\"n\":3}", 3000, 0, 0);
	/* A repeat while pending: known, not done, the first request kept. */
	put(ib, "k1", "{\"n\":\"other\"}", 4000, 1, 0);
	assert_int_equal(inbox_told(ib, "k2"), 0);
	inbox_close(ib);

	/* After a restart everything pending is there, oldest first. */
	ib = open_ib();
	struct seen s = {0};
	assert_int_equal(inbox_pending(ib, 10, collect, &s), 3);
	assert_string_equal(s.keys[0], "k1");
	assert_string_equal(s.requests[0], "{\"n\":1}");
	assert_string_equal(s.keys[2], "k3");
	assert_int_equal(s.told[0], 0);
	assert_int_equal(s.told[1], 1);
	/* max bounds one pass */
	memset(&s, 0, sizeof s);
	assert_int_equal(inbox_pending(ib, 2, collect, &s), 2);

	/* Done: off the pending list; a repeat answers with the incident. */
	assert_int_equal(inbox_done(ib, "k1", 7), 0);
	assert_int_equal(inbox_done(ib, "k3", -5), 0); /* refused: stored as -1 */
	put(ib, "k1", "{}", 5000, 1, 7);
	put(ib, "k3", "{}", 5000, 1, -1);
	/* A row is done once: a late second answer changes nothing. */
	assert_int_equal(inbox_done(ib, "k1", 8), 0);
	put(ib, "k1", "{}", 5000, 1, 7);
	memset(&s, 0, sizeof s);
	assert_int_equal(inbox_pending(ib, 10, collect, &s), 1);
	assert_string_equal(s.keys[0], "k2");

	/* Pruning takes done rows older than the cut only, never pending ones. */
	assert_int_equal(inbox_prune(ib, 2500, 100), 1);  /* k1 (at 1000, done) */
	assert_int_equal(inbox_prune(ib, 10000, 100), 1); /* k3; k2 is pending */
	put(ib, "k1", "{\"n\":\"again\"}", 6000, 0, 0);   /* pruned: a new row */
	memset(&s, 0, sizeof s);
	assert_int_equal(inbox_pending(ib, 10, collect, &s), 2);

	/* Answers are kept in memory and written by a flush, or at close. */
	assert_int_equal(inbox_done(ib, "k2", 11), 0);
	assert_int_equal(inbox_flush(ib), 0);
	assert_int_equal(inbox_done(ib, "k1", 12), 0);
	inbox_close(ib);
	ib = open_ib();
	put(ib, "k2", "{}", 7000, 1, 11);
	put(ib, "k1", "{}", 7000, 1, 12);
	memset(&s, 0, sizeof s);
	assert_int_equal(inbox_pending(ib, 10, collect, &s), 0);
	inbox_close(ib);
}

static void test_bad_path(void **state)
{
	(void)state;
	struct inbox *ib = NULL;
	char err[256] = "";
	assert_int_equal(inbox_open("/nonexistent-dir/x/inbox.db", &ib, err, sizeof err), -1);
	assert_null(ib);
	assert_non_null(strstr(err, "inbox.db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_done_restart, setup, teardown),
	    cmocka_unit_test(test_bad_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
