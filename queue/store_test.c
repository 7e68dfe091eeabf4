/* store_test.c: the SQLite store on a real file in a temporary directory. */
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

#include "json.h"
#include "migrate.h"
#include "store.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *s;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/opsbot-store-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/sub/dir/q.db", f->dir);
	char err[256];
	if (store_open(f->path, STORE_SYNC_FULL, &f->s, err, sizeof(err)) < 0)
		fail_msg("store_open: got %s, want success", err);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int64_t add_job(struct store *s, const char *kind, int64_t ready_at)
{
	int64_t id;
	assert_int_equal(store_job_insert(s, 0, kind, "ready", "{\"x\":1}", 3, ready_at, 100, &id),
	                 0);
	return id;
}

static void test_schema(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v != migrate_latest())
		fail_msg("user_version: got %d, want %d", v, migrate_latest());
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	static const char *const tables[] = {"incidents",   "jobs",      "events",
	                                     "idempotency", "approvals", "action_ledger"};
	for (size_t i = 0; i < 6; i++) {
		char q[128];
		snprintf(q, sizeof(q), "SELECT count(*) FROM %s", tables[i]);
		if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
			fail_msg("table %s: got %s, want it to exist", tables[i],
			         sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	/* A database from a newer build is refused, not damaged. */
	sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL);
	sqlite3_close(db);
	struct store *s2;
	char err[256] = "";
	if (store_open(f->path, STORE_SYNC_NORMAL, &s2, err, sizeof(err)) != -1 ||
	    !strstr(err, "newer than this build"))
		fail_msg("newer schema: got err=%s, want 'newer than this build'", err);
}

static void test_keys(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_key k = {0};
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_key_get(s, "k", "req-1", &k), 0);
	assert_int_equal(
	    store_key_put(s, "k", &(struct store_key){.incident = 4, .job = 9, .request = "req-1"},
	                  1),
	    0);
	/* Another request with the key is a repeat; the one that stored it, a resend. */
	assert_int_equal(store_key_get(s, "k", "req-2", &k), 1);
	if (k.incident != 4 || k.job != 9 || k.grouped)
		fail_msg("key: got %lld/%lld/%d, want 4/9/0", (long long)k.incident,
		         (long long)k.job, k.grouped);
	assert_int_equal(store_key_get(s, "k", "req-1", &k), 2);
	assert_int_equal(store_key_get(s, "k", NULL, &k), 1);
	assert_int_equal(store_key_put(s, "k", &(struct store_key){.incident = 5}, 1),
	                 -1); /* a key is stored once */
	/* A key stored without a request (rows from before migration 5) never matches one. */
	assert_int_equal(
	    store_key_put(s, "old", &(struct store_key){.incident = 6, .grouped = 1}, 1), 0);
	assert_int_equal(store_key_get(s, "old", "", &k), 1);
	if (k.incident != 6 || !k.grouped)
		fail_msg("old key: got %lld/%d, want 6/1", (long long)k.incident, k.grouped);
	assert_int_equal(store_commit(s), 0);
	/* A rolled-back key is gone. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_key_put(s, "gone", &(struct store_key){.incident = 1}, 1), 0);
	store_rollback(s);
	assert_int_equal(store_key_get(s, "gone", "req-1", &k), 0);
}

static void test_claim_order_and_leases(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	assert_int_equal(store_begin(s), 0);
	int64_t late = add_job(s, "detect", 500);
	int64_t early = add_job(s, "detect", 200);
	int64_t other = add_job(s, "plan", 100);
	int64_t future = add_job(s, "plan", 10000);
	static const struct {
		const char *kinds[2];
		int n;
		int64_t now;
		int want_rc;
		int64_t *want_id;
	} cases[] = {
	    {{"detect", NULL}, 1, 1000, 1, NULL},   /* early first */
	    {{"detect", NULL}, 1, 1000, 1, NULL},   /* then late */
	    {{"detect", NULL}, 1, 1000, 0, NULL},   /* none left */
	    {{"detect", "plan"}, 2, 1000, 1, NULL}, /* plan 'other' */
	    {{"plan", NULL}, 1, 1000, 0, NULL},     /* 'future' not yet */
	    {{"plan", NULL}, 1, 20000, 1, NULL},    /* now it is */
	};
	int64_t want[] = {early, late, 0, other, 0, future};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_job j = {0};
		char lease[16];
		snprintf(lease, sizeof(lease), "L%zu", i);
		int rc = store_job_claim(s, cases[i].kinds, cases[i].n, "w", lease,
		                         cases[i].now + 50, cases[i].now, &j);
		if (rc != cases[i].want_rc || (rc == 1 && j.id != want[i]))
			fail_msg("claim %zu: got rc=%d id=%lld, want rc=%d id=%lld", i, rc,
			         (long long)j.id, cases[i].want_rc, (long long)want[i]);
		if (rc == 1 &&
		    (strcmp(j.state, "leased") || strcmp(j.lease, lease) || j.attempt != 1 ||
		     j.lease_deadline_ms != cases[i].now + 50 || strcmp(j.input, "{\"x\":1}")))
			fail_msg(
			    "claim %zu: got state=%s lease=%s attempt=%d deadline=%lld input=%s", i,
			    j.state, j.lease, j.attempt, (long long)j.lease_deadline_ms, j.input);
		store_job_clear(&j);
	}
	/* Expired leases: 'early' and 'late' (deadline 1050) and 'other' at 1100. */
	int64_t ids[8];
	int n;
	assert_int_equal(store_job_expired(s, 1060, ids, 8, &n), 0);
	if (n != 3)
		fail_msg("expired at 1060: got %d, want 3", n);
	assert_int_equal(store_job_extend(s, early, 5000, 1060), 0);
	assert_int_equal(store_job_expired(s, 1060, ids, 8, &n), 0);
	if (n != 2)
		fail_msg("expired after extend: got %d, want 2", n);
	/* done keeps the lease (for duplicate completes) and stores the result. */
	assert_int_equal(store_job_set(s, early, "done", "{\"r\":2}", NULL, -1, 1100), 0);
	struct store_job j;
	assert_int_equal(store_job_get(s, early, &j), 1);
	if (strcmp(j.state, "done") || strcmp(j.lease, "L0") || strcmp(j.result, "{\"r\":2}"))
		fail_msg("done: got state=%s lease=%s result=%s", j.state, j.lease, j.result);
	store_job_clear(&j);
	/* dead, then re-armed: ready with attempt 0. */
	assert_int_equal(store_job_set(s, late, "dead", NULL, "boom", -1, 1100), 0);
	assert_int_equal(store_job_rearm(s, late, 1200), 0);
	assert_int_equal(store_job_get(s, late, &j), 1);
	if (strcmp(j.state, "ready") || j.attempt != 0 || strcmp(j.error, "boom"))
		fail_msg("rearm: got state=%s attempt=%d error=%s", j.state, j.attempt, j.error);
	store_job_clear(&j);
	assert_int_equal(store_job_get(s, 999, &j), 0);
	assert_int_equal(store_commit(s), 0);
}

/*
 * A batch claim: the oldest ready jobs of the kind (ready_at, then id) up to
 * max, none of another kind or not yet due; each under "<lease>.<id>", and
 * the rows in the store say what the claim returned (a complete with the
 * returned lease finds its job).
 */
static void test_claim_batch(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	assert_int_equal(store_begin(s), 0);
	int64_t b = add_job(s, "bench", 300), a = add_job(s, "bench", 200);
	int64_t c = add_job(s, "bench", 300), d = add_job(s, "bench", 400);
	add_job(s, "other", 100);
	int64_t later = add_job(s, "bench", 5000);
	struct store_job js[8];
	int n = store_job_claim_batch(s, "bench", 3, "w1", "C1", 1500, 1000, js);
	int64_t want[] = {a, b, c};
	if (n != 3)
		fail_msg("first claim: got %d jobs, want 3", n);
	for (int i = 0; i < n; i++) {
		char lease[32];
		snprintf(lease, sizeof(lease), "C1.%lld", (long long)want[i]);
		if (js[i].id != want[i] || strcmp(js[i].lease, lease) ||
		    strcmp(js[i].state, "leased") || strcmp(js[i].worker, "w1") ||
		    js[i].attempt != 1 || js[i].lease_deadline_ms != 1500 ||
		    strcmp(js[i].input, "{\"x\":1}") || strcmp(js[i].kind, "bench"))
			fail_msg("first claim [%d]: got id=%lld lease=%s state=%s worker=%s "
			         "attempt=%d deadline=%lld input=%s, want id=%lld lease=%s",
			         i, (long long)js[i].id, js[i].lease, js[i].state, js[i].worker,
			         js[i].attempt, (long long)js[i].lease_deadline_ms, js[i].input,
			         (long long)want[i], lease);
		struct store_job row;
		assert_int_equal(store_job_get(s, want[i], &row), 1);
		if (strcmp(row.state, "leased") || strcmp(row.lease, lease) ||
		    strcmp(row.worker, "w1") || row.attempt != 1 || row.lease_deadline_ms != 1500 ||
		    row.updated_ms != 1000)
			fail_msg("stored [%d]: got state=%s lease=%s worker=%s attempt=%d "
			         "deadline=%lld updated=%lld",
			         i, row.state, row.lease, row.worker, row.attempt,
			         (long long)row.lease_deadline_ms, (long long)row.updated_ms);
		store_job_clear(&row);
	}
	assert_int_equal(store_job_finish(s, b, js[1].lease, "{}", 1100), 1);
	assert_int_equal(store_job_finish(s, c, "C1.999", "{}", 1100), 0);
	for (int i = 0; i < n; i++)
		store_job_clear(&js[i]);
	/* Only d is left and due; 'later' is not yet, 'other' is another kind. */
	n = store_job_claim_batch(s, "bench", 8, "w2", "C2", 1600, 1100, js);
	if (n != 1 || js[0].id != d)
		fail_msg("second claim: got %d jobs (first %lld), want 1 (%lld)", n,
		         n > 0 ? (long long)js[0].id : 0LL, (long long)d);
	store_job_clear(&js[0]);
	assert_int_equal(store_job_claim_batch(s, "bench", 8, "w2", "C3", 1600, 1100, js), 0);
	n = store_job_claim_batch(s, "bench", 8, "w2", "C4", 6600, 6000, js);
	if (n != 1 || js[0].id != later)
		fail_msg("claim when due: got %d jobs, want 1 (%lld)", n, (long long)later);
	store_job_clear(&js[0]);
	assert_int_equal(store_commit(s), 0);
}

static void test_incidents_and_events(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	assert_int_equal(store_begin(s), 0);
	int64_t id, job;
	assert_int_equal(store_incident_insert(s, "open", "T", "api", "high", "cli",
	                                       "{\"title\":\"T\",\"labels\":{\"a\":\"b\"}}", 10,
	                                       &id),
	                 0);
	struct store_incident in;
	assert_int_equal(store_incident_get(s, id, &in), 1);
	snprintf(in.state, sizeof(in.state), "paused");
	snprintf(in.prev_state, sizeof(in.prev_state), "detecting");
	in.advance_pending = 1;
	assert_int_equal(store_incident_update(s, &in, 20), 0);
	store_incident_clear(&in);
	assert_int_equal(store_incident_get(s, id, &in), 1);
	if (strcmp(in.state, "paused") || strcmp(in.prev_state, "detecting") ||
	    !in.advance_pending || in.updated_ms != 20)
		fail_msg("update: got state=%s prev=%s pending=%d updated=%lld", in.state,
		         in.prev_state, in.advance_pending, (long long)in.updated_ms);
	cJSON *o = store_incident_json(&in);
	assert_string_equal(json_str(o, "paused_from"), "detecting");
	assert_string_equal(json_str(cJSON_GetObjectItem(o, "labels"), "a"), "b");
	cJSON_Delete(o);
	store_incident_clear(&in);

	assert_int_equal(store_job_insert(s, id, "detect", "ready", NULL, 5, 0, 10, &job), 0);
	int moved = 0;
	assert_int_equal(store_job_move_incident(s, id, "ready", "held", 30, &moved), 0);
	assert_int_equal(moved, 1);
	struct store_job j;
	assert_int_equal(store_job_current(s, id, &j), 1);
	assert_string_equal(j.state, "held");
	store_job_clear(&j);

	int64_t prev = 0;
	for (int i = 0; i < 5; i++) {
		int64_t seq;
		assert_int_equal(store_event_append(s, i % 2 ? id : 0, "x", "{\"i\":1}", 40, &seq),
		                 0);
		if (seq <= prev)
			fail_msg("event %d: got seq %lld after %lld, want strictly increasing", i,
			         (long long)seq, (long long)prev);
		prev = seq;
	}
	cJSON *items = cJSON_CreateArray();
	assert_int_equal(store_events(s, 0, prev - 3, 100, items), 0);
	assert_int_equal(cJSON_GetArraySize(items), 3);
	cJSON_Delete(items);
	items = cJSON_CreateArray();
	assert_int_equal(store_events(s, id, 0, 100, items), 0);
	assert_int_equal(cJSON_GetArraySize(items), 2);
	cJSON_Delete(items);

	cJSON *stats = cJSON_CreateObject();
	assert_int_equal(store_stats(s, stats), 0);
	cJSON *jobs = cJSON_GetObjectItem(stats, "jobs");
	assert_int_equal(json_int(cJSON_GetObjectItem(jobs, "detect"), "held", 0), 1);
	assert_int_equal(json_int(cJSON_GetObjectItem(stats, "incidents"), "paused", 0), 1);
	assert_int_equal(json_int(stats, "last_seq", 0), prev);
	cJSON_Delete(stats);
	assert_int_equal(store_commit(s), 0);

	/* Durable across close and reopen; seq keeps increasing. */
	store_close(s);
	char err[256];
	assert_int_equal(store_open(f->path, STORE_SYNC_FULL, &f->s, err, sizeof(err)), 0);
	s = f->s;
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_incident_get(s, id, &in), 1);
	store_incident_clear(&in);
	int64_t seq;
	assert_int_equal(store_event_append(s, 0, "y", NULL, 50, &seq), 0);
	if (seq != prev + 1)
		fail_msg("seq after reopen: got %lld, want %lld", (long long)seq,
		         (long long)prev + 1);
	assert_int_equal(store_commit(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_keys, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_claim_order_and_leases, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_claim_batch, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_incidents_and_events, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
