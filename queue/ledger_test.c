/*
 * ledger_test.c: the action ledger's rules (queue/ledger.c invariants 1-5)
 * on a real store, request by request, each in its own transaction.
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

#include "catalog.h"
#include "handle.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "policy.h"
#include "state.h"
#include "wire.h"

/* Who may answer "may or may not have run" is judged against a policy. */
static const char *const test_catalog =
    "[action touch]\ndescription = d\nrun = scripts/actions/touch.sh {name}\n"
    "param = name pattern [a-z][a-z0-9-]{0,39}\nrisk = low\nidempotent = no\n";
static const char *const test_policy =
    "[policy]\napprovers = sre\ndistinct_approvers = 1\nrequester_may_approve = yes\n"
    "approval_expiry = 30m\ntimezone = UTC\n"
    "[person bob]\nslack = U0BOB\n[person carol]\ndiscord = 200000000000000003\n"
    "[person eve]\nslack = U0EVE\n"
    "[group sre]\nmembers = bob, carol\n";

struct lfx {
	char dir[64], path[128];
	struct queue q;
	struct catalog *cat;
	struct policy *pol;
	cJSON *last;
	cJSON *events; /* names of events published by the last request */
};

static int lfx_setup(void **state)
{
	log_set_level(LOG_ERROR);
	struct lfx *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/exec-ledger-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/q.db", f->dir);
	char err[256];
	if (store_open(f->path, STORE_SYNC_NORMAL, &f->q.st, err, sizeof(err)) < 0)
		fail_msg("store_open: %s", err);
	/* Only execute and verify: a new incident goes straight to executing. */
	f->q.conf = (struct queue_conf){.lease_ms = 1000,
	                                .retry_base_ms = 100,
	                                .approval_expiry_ms = 5000,
	                                .max_attempts = 5,
	                                .stages = (1u << STAGE_EXECUTE) | (1u << STAGE_VERIFY)};
	f->q.outbox = cJSON_CreateArray();
	f->q.now = f->q.started_ms = 1000000;
	if (catalog_parse("t.conf", test_catalog, &f->cat, err, sizeof(err)) < 0 ||
	    policy_parse("p.conf", test_policy, f->cat, &f->pol, err, sizeof(err)) < 0)
		fail_msg("test catalog/policy: %s", err);
	f->q.cat = f->cat;
	f->q.pol = f->pol;
	*state = f;
	return 0;
}

static int lfx_teardown(void **state)
{
	struct lfx *f = *state;
	store_close(f->q.st);
	policy_free(f->pol);
	catalog_free(f->cat);
	cJSON_Delete(f->q.outbox);
	cJSON_Delete(f->last);
	cJSON_Delete(f->events);
	char p[160];
	snprintf(p, sizeof(p), "%s/q.db", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/q.db-wal", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/q.db-shm", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static cJSON *call(struct lfx *f, int64_t incident, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cJSON *call(struct lfx *f, int64_t incident, const char *fmt, ...)
{
	char body[3000], msg[3300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "{\"v\":1,\"id\":\"t\",\"incident\":%lld,%s}",
	         (long long)incident, body);
	struct wire_msg m;
	char err[256];
	if (wire_decode(msg, strlen(msg), &m, err, sizeof(err)) < 0)
		fail_msg("test request %s: %s", msg, err);
	assert_int_equal(store_begin(f->q.st), 0);
	cJSON *reply = NULL;
	enum handle_rc rc = handle_request(&f->q, &m, &reply);
	if (rc == HANDLE_STORE_ERR)
		fail_msg("request %s: store error %s", msg, store_errmsg(f->q.st));
	assert_int_equal(store_commit(f->q.st), 0);
	wire_msg_free(&m);
	/* As a client reads it: printed and parsed again (raw parts become JSON). */
	char *text = json_print(reply);
	cJSON_Delete(reply);
	reply = cJSON_Parse(text);
	if (!reply)
		fail_msg("request %s: the reply does not parse: %s", msg, text);
	free(text);
	cJSON_Delete(f->events);
	f->events = json_new_array();
	const cJSON *e;
	cJSON_ArrayForEach(e, f->q.outbox)
	    cJSON_AddItemToArray(f->events, cJSON_CreateString(json_str(e, "name")));
	cJSON_Delete(f->q.outbox);
	f->q.outbox = cJSON_CreateArray();
	cJSON_Delete(f->last);
	f->last = reply;
	return reply;
}

static void want_ok(struct lfx *f, const char *what)
{
	if (!json_bool(f->last, "ok", 0))
		fail_msg("%s: got %s: %s, want ok", what, json_str(f->last, "error"),
		         json_str(f->last, "message"));
}

static void want_err(struct lfx *f, const char *code, const char *text, const char *what)
{
	const char *got = json_str(f->last, "error");
	if (json_bool(f->last, "ok", 1) || !got || strcmp(got, code) != 0)
		fail_msg("%s: got error %s, want %s", what, got ? got : "(none: ok)", code);
	if (text && !strstr(json_str(f->last, "message"), text))
		fail_msg("%s: got message '%s', want '%s'", what, json_str(f->last, "message"),
		         text);
}

static const char *row_state(struct lfx *f)
{
	return json_str(cJSON_GetObjectItemCaseSensitive(f->last, "row"), "state");
}

static int published(struct lfx *f, const char *name)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, f->events) if (!strcmp(e->valuestring, name)) return 1;
	return 0;
}

/* A new incident in executing and its execute job claimed: *job and lease. */
static int64_t incident_claimed(struct lfx *f, int64_t *job, char *lease, size_t len)
{
	call(f, 0,
	     "\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"title\":\"t\","
	     "\"service\":\"checkout\",\"severity\":\"high\",\"source\":\"cli\"}");
	want_ok(f, "submit");
	int64_t id = json_int(f->last, "incident", 0);
	call(f, 0, "\"type\":\"claim\",\"kinds\":[\"execute\"],\"worker\":\"w\",\"wait_ms\":0");
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(f->last, "job");
	if (!cJSON_IsObject(j))
		fail_msg("claim: got no execute job");
	*job = json_int(j, "id", 0);
	str_copy(lease, len, json_str(j, "lease"));
	return id;
}

#define BEGIN(f, inc, job, lease, key, extra)                                                      \
	call(f, inc,                                                                               \
	     "\"type\":\"ledger\",\"op\":\"begin\",\"job\":%lld,\"lease\":\"%s\","                 \
	     "\"step_key\":\"%s\",\"step\":1,\"action\":\"touch\",\"params\":{\"name\":\"a\"},"    \
	     "\"argv\":[\"scripts/actions/touch.sh\",\"a\"]%s",                                    \
	     (long long)(job), lease, key, extra)

static void test_lease_and_duplicates(void **state)
{
	struct lfx *f = *state;
	int64_t job;
	char lease[64];
	int64_t id = incident_claimed(f, &job, lease, sizeof(lease));
	BEGIN(f, id, job, "not-the-lease", "k1", "");
	want_err(f, "lease_lost", "nothing was recorded", "begin with a wrong lease");
	BEGIN(f, id, job + 100, lease, "k1", "");
	want_err(f, "not_found", NULL, "begin for a missing job");
	BEGIN(f, id + 1, job, lease, "k1", "");
	want_err(f, "bad_request", "belongs to incident", "begin naming another incident");

	BEGIN(f, id, job, lease, "k1", ",\"target\":\"name=a\"");
	want_ok(f, "begin");
	assert_true(json_bool(f->last, "created", 0));
	assert_string_equal(row_state(f), "started");
	assert_true(published(f, WIRE_EV_ACTION_STARTED));
	/* The same begin again under the same lease (a lost reply) is the same begin. */
	BEGIN(f, id, job, lease, "k1", ",\"target\":\"name=a\"");
	assert_true(json_bool(f->last, "created", 0));
	assert_int_equal(cJSON_GetArraySize(f->events), 0);

	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"finish\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":"
	     "\"k1\",\"state\":\"finished\",\"output\":\"done\",\"exit\":0,\"ms\":5",
	     (long long)job, lease);
	want_ok(f, "finish");
	assert_string_equal(row_state(f), "finished");
	assert_true(published(f, WIRE_EV_ACTION_FINISHED));
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"finish\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":"
	     "\"k1\",\"state\":\"finished\"",
	     (long long)job, lease);
	assert_true(json_bool(f->last, "duplicate", 0));
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"finish\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":"
	     "\"k1\",\"state\":\"failed\"",
	     (long long)job, lease);
	want_err(f, "wrong_state", "not started", "finish a finished step as failed");
	/* A finished step never starts again, whoever asks. */
	BEGIN(f, id, job, lease, "k1", "");
	assert_false(json_bool(f->last, "created", 1));
	assert_string_equal(row_state(f), "finished");
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"restart\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":"
	     "\"k1\"",
	     (long long)job, lease);
	want_err(f, "wrong_state", "only a started step", "restart a finished step");
}

static void test_cooldown_and_rate(void **state)
{
	struct lfx *f = *state;
	int64_t job;
	char lease[64];
	int64_t id = incident_claimed(f, &job, lease, sizeof(lease));
	const char *cool = ",\"target\":\"name=a\",\"cooldown_ms\":60000";
	BEGIN(f, id, job, lease, "c1", cool);
	assert_string_equal(row_state(f), "started");
	f->q.now += 1000;
	BEGIN(f, id, job, lease, "c2", cool);
	assert_true(json_bool(f->last, "created", 0));
	assert_string_equal(row_state(f), "refused");
	const char *why = json_str(cJSON_GetObjectItemCaseSensitive(f->last, "row"), "output");
	if (!strstr(why, "refused by the cooldown: touch last ran on name=a 1s ago"))
		fail_msg("cooldown reason: got '%s'", why);
	assert_true(published(f, WIRE_EV_ACTION_FINISHED));
	/* another target is not held back; a rollback is never held back */
	BEGIN(f, id, job, lease, "c3", ",\"target\":\"name=b\",\"cooldown_ms\":60000");
	assert_string_equal(row_state(f), "started");
	BEGIN(f, id, job, lease, "c4",
	      ",\"target\":\"name=a\",\"cooldown_ms\":60000,\"kind\":\"rollback\"");
	assert_string_equal(row_state(f), "started");
	/* the window passes */
	f->q.now += 60000;
	BEGIN(f, id, job, lease, "c5", cool);
	if (strcmp(row_state(f), "started") != 0)
		fail_msg("after the cooldown: got %s (%s), want started", row_state(f),
		         json_str(cJSON_GetObjectItemCaseSensitive(f->last, "row"), "output"));
	/* rate limit across targets: 3 action runs of touch in the last 2 minutes (c1, c3, c5) */
	BEGIN(f, id, job, lease, "r1",
	      ",\"target\":\"name=z\",\"rate_count\":3,\"rate_window_ms\":120000");
	assert_string_equal(row_state(f), "refused");
	why = json_str(cJSON_GetObjectItemCaseSensitive(f->last, "row"), "output");
	if (!strstr(why, "refused by the rate limit: touch ran 3 time(s)"))
		fail_msg("rate reason: got '%s'", why);
	/* the executor's own refusal is stored as given */
	BEGIN(f, id, job, lease, "r2", ",\"refuse\":\"refused: name does not match\"");
	assert_string_equal(row_state(f), "refused");
	assert_string_equal(json_str(cJSON_GetObjectItemCaseSensitive(f->last, "row"), "output"),
	                    "refused: name does not match");
}

static void test_ask_and_decide(void **state)
{
	struct lfx *f = *state;
	int64_t job;
	char lease[64];
	int64_t id = incident_claimed(f, &job, lease, sizeof(lease));
	BEGIN(f, id, job, lease, "a1", "");
	/* a crash: the lease expires and the job is claimed again */
	f->q.now += 5000;
	assert_int_equal(store_begin(f->q.st), 0);
	assert_int_equal(handle_timers(&f->q), 0);
	assert_int_equal(store_commit(f->q.st), 0);
	cJSON_Delete(f->q.outbox);
	f->q.outbox = cJSON_CreateArray();
	call(f, 0, "\"type\":\"claim\",\"kinds\":[\"execute\"],\"worker\":\"w2\",\"wait_ms\":0");
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(f->last, "job");
	assert_int_equal(json_int(j, "id", 0), job);
	char lease2[64];
	str_copy(lease2, sizeof(lease2), json_str(j, "lease"));
	BEGIN(f, id, job, lease2, "a1", "");
	assert_false(json_bool(f->last, "created", 1));
	assert_string_equal(row_state(f), "started");
	/* the old lease can no longer finish it */
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"finish\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":"
	     "\"a1\",\"state\":\"finished\"",
	     (long long)job, lease);
	want_err(f, "lease_lost", NULL, "finish under the lost lease");
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"ask\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":\"a1\"",
	     (long long)job, lease2);
	want_ok(f, "ask");
	assert_string_equal(row_state(f), "unknown");
	assert_true(published(f, WIRE_EV_ACTION_UNKNOWN));
	struct store_job sj;
	assert_int_equal(store_job_get(f->q.st, job, &sj), 1);
	assert_string_equal(sj.state, "held");
	store_job_clear(&sj);
	/* nobody claims a held job */
	call(f, 0, "\"type\":\"claim\",\"kinds\":[\"execute\"],\"worker\":\"w3\",\"wait_ms\":0");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(f->last, "job")));

#define DECIDE                                                                                     \
	"\"type\":\"ledger\",\"op\":\"decide\",\"step_key\":\"a1\",\"decision\":\"%s\","           \
	"\"user\":\"U0BOB\",\"surface\":\"slack\"%s"
	char buf[400];
	snprintf(buf, sizeof(buf), DECIDE, "skip", "");
	call(f, id + 7, "%s", buf);
	want_err(f, "not_found", NULL, "decide through another incident");
	/* someone the policy does not know, or who may not approve, changes nothing */
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"decide\",\"step_key\":\"a1\",\"decision\":\"skip\","
	     "\"user\":\"U0MALLORY\",\"surface\":\"slack\"");
	want_err(f, "forbidden", "slack U0MALLORY is not a person in the approval policy",
	         "decide by a stranger");
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"decide\",\"step_key\":\"a1\",\"decision\":\"skip\","
	     "\"user\":\"U0EVE\",\"surface\":\"slack\"");
	want_err(f, "forbidden", "eve may not answer for touch", "decide by a non-approver");
	snprintf(buf, sizeof(buf), DECIDE, "retry", ",\"key\":\"click-1\"");
	call(f, id, "%s", buf);
	want_ok(f, "decide retry");
	assert_true(published(f, WIRE_EV_ACTION_DECIDED));
	assert_int_equal(store_job_get(f->q.st, job, &sj), 1);
	assert_string_equal(sj.state, "ready");
	store_job_clear(&sj);
	call(f, id, "%s", buf);
	assert_true(json_bool(f->last, "duplicate", 0));
	assert_int_equal(cJSON_GetArraySize(f->events), 0);
	snprintf(buf, sizeof(buf), DECIDE, "abort", "");
	call(f, id, "%s", buf);
	want_err(f, "wrong_state", "already decided: retry by bob (slack U0BOB)",
	         "a second decision");
	/* retry lets the new holder run it again */
	call(f, 0, "\"type\":\"claim\",\"kinds\":[\"execute\"],\"worker\":\"w3\",\"wait_ms\":0");
	char lease3[64];
	str_copy(lease3, sizeof(lease3),
	         json_str(cJSON_GetObjectItemCaseSensitive(f->last, "job"), "lease"));
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"restart\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":"
	     "\"a1\"",
	     (long long)job, lease3);
	want_ok(f, "restart after retry");
	assert_string_equal(row_state(f), "started");
	assert_int_equal(json_int(cJSON_GetObjectItemCaseSensitive(f->last, "row"), "attempts", 0),
	                 2);

	/* a crash during the retried run asks again, as a new question */
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"ask\",\"job\":%lld,\"lease\":\"%s\",\"step_key\":\"a1\"",
	     (long long)job, lease3);
	want_ok(f, "ask again after a retry");
	assert_string_equal(row_state(f), "unknown");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(f->last, "row"), "decision")));
	assert_true(published(f, WIRE_EV_ACTION_UNKNOWN));
	/* abort: the incident fails and its job is cancelled */
	BEGIN(f, id, job, lease3, "a2", "");
	want_err(f, "lease_lost", NULL, "begin while the job is held");
	call(f, id,
	     "\"type\":\"ledger\",\"op\":\"decide\",\"step_key\":\"a1\",\"decision\":\"abort\","
	     "\"user\":\"200000000000000003\",\"surface\":\"discord\"");
	want_ok(f, "abort");
	assert_string_equal(json_str(f->last, "state"), "failed");
	assert_string_equal(row_state(f), "aborted");
	assert_int_equal(store_job_get(f->q.st, job, &sj), 1);
	assert_string_equal(sj.state, "cancelled");
	store_job_clear(&sj);
	call(f, id, "\"type\":\"ledger\",\"op\":\"list\"");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f->last, "items")), 1);
}

static void test_verifying_to_planning(void **state)
{
	struct lfx *f = *state;
	f->q.conf.stages |= 1u << STAGE_PLAN;
	int64_t job;
	char lease[64];
	call(f, 0,
	     "\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"title\":\"t\","
	     "\"service\":\"checkout\",\"severity\":\"high\",\"source\":\"cli\"}");
	int64_t id = json_int(f->last, "incident", 0);
	/* an approval of this round, which must not count in the next one */
	assert_int_equal(store_begin(f->q.st), 0);
	assert_int_equal(store_approval_insert(f->q.st, id, "h", "U0BOB", "slack", "approve", 1),
	                 0);
	assert_int_equal(store_commit(f->q.st), 0);
	const char *kinds[] = {"plan", "execute", "verify"};
	const char *results[] = {
	    "{\"plan\":{\"hash\":\"h\",\"steps\":[]},\"needs_approval\":false}",
	    "{\"ok\":true,\"steps\":[]}",
	    "{\"ok\":false,\"replan\":true,\"summary\":\"still broken\"}"};
	for (int i = 0; i < 3; i++) {
		call(f, 0, "\"type\":\"claim\",\"kinds\":[\"%s\"],\"worker\":\"w\",\"wait_ms\":0",
		     kinds[i]);
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(f->last, "job");
		if (!cJSON_IsObject(j))
			fail_msg("claim %s: got none", kinds[i]);
		job = json_int(j, "id", 0);
		str_copy(lease, sizeof(lease), json_str(j, "lease"));
		call(f, 0, "\"type\":\"complete\",\"job\":%lld,\"lease\":\"%s\",\"result\":%s",
		     (long long)job, lease, results[i]);
		want_ok(f, kinds[i]);
	}
	struct store_incident in;
	assert_int_equal(store_incident_get(f->q.st, id, &in), 1);
	assert_string_equal(in.state, "planning");
	store_incident_clear(&in);
	cJSON *appr = json_new_array();
	assert_int_equal(store_approvals_list(f->q.st, id, "h", appr), 0);
	assert_string_equal(json_str(cJSON_GetArrayItem(appr, 0), "decision"),
	                    "approve (earlier round)");
	cJSON_Delete(appr);
	/* the new plan job carries what verification learned */
	call(f, 0, "\"type\":\"claim\",\"kinds\":[\"plan\"],\"worker\":\"w\",\"wait_ms\":0");
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(f->last, "job"), "input");
	assert_string_equal(json_str(cJSON_GetObjectItemCaseSensitive(input, "verify"), "summary"),
	                    "still broken");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lease_and_duplicates, lfx_setup, lfx_teardown),
	    cmocka_unit_test_setup_teardown(test_cooldown_and_rate, lfx_setup, lfx_teardown),
	    cmocka_unit_test_setup_teardown(test_ask_and_decide, lfx_setup, lfx_teardown),
	    cmocka_unit_test_setup_teardown(test_verifying_to_planning, lfx_setup, lfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
