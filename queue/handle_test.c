/*
 * handle_test.c: the state machine applied to a real store, scenario by
 * scenario, with the invariants of state.c checked after every step.
 *
 * A scenario is a list of steps in a tiny language:
 *   stages WORDS        [pipeline] stages for this scenario (before submit)
 *   submit              a new incident (key "k1")
 *   claim KIND          claim a job of KIND (must get one); remembers id and lease
 *   noclaim KIND        a claim of KIND finds nothing
 *   complete JSON       complete the remembered job with result JSON
 *   complete_old JSON   complete with the lease before the last claim
 *   work KIND JSON      claim KIND then complete with JSON
 *   fail retry|final    fail the remembered job (retryable or not)
 *   cmd ACTION          command on the incident (retry uses the remembered job)
 *   approve HASH DEC    approve or reject plan HASH (as slack user U2)
 *   as SURF USER HASH DEC [MSGINC]  decide as USER on SURF (slack|discord|cli),
 *                       the button clicked on the message of incident MSGINC
 *   askey KEY SURF USER HASH DEC    the same with idempotency key KEY
 *   peer service|remote|local ACCOUNT   who sends the following requests
 *   tryclaim KIND       a claim whose reply the next step checks
 *   submit_by SURF USER a new incident opened by a chat user
 *   submit_labelled SURF ID  the same, "user" a display label, "user_id" the id
 *   nopolicy            the queue has no approval policy from here on
 *   have N              the last reply counted N distinct approvers
 *   evdata NAME TEXT    an event NAME of the incident holds TEXT in its data
 *   time MS             the clock moves MS forward, then timers run
 *   clock MS            the clock moves MS forward (timers do not run)
 *   state S             the incident is in state S
 *   err CODE            the last reply was ok:false with error CODE
 *   ok                  the last reply was ok:true
 *   jobs KIND STATE N   the incident has N jobs of KIND in STATE
 *   event NAME          the incident's timeline holds an event NAME
 *   reason TEXT         some incident.stage reason contains TEXT
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

#include "catalog.h"
#include "group.h"
#include "handle.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "policy.h"
#include "retention.h"
#include "state.h"
#include "wire.h"

struct fx {
	char dir[64], path[128];
	struct queue q;
	sqlite3 *ro; /* a second connection that checks what was committed */
	int64_t incident, job, old_job;
	char lease[64], old_lease[64];
	cJSON *last;
	struct catalog *cat;
	struct policy *pol;
	struct handle_peer peer;
	int calls;          /* each request gets its own wire id, t1, t2, ... */
	const char *resend; /* when set, the next call reuses this wire id */
};

static const char *const test_catalog =
    "[action low1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = low\nidempotent = yes\n"
    "[action med1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = medium\n"
    "idempotent = yes\n"
    "[action high1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = high\n"
    "idempotent = no\n"
    "[action frz1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = medium\n"
    "idempotent = yes\n";

/* ops approve by default (one is enough); high risk needs two leads, not the requester. */
static const char *const test_policy =
    "[policy]\nauto_risk = low\napprovers = ops\ndistinct_approvers = 1\n"
    "requester_may_approve = yes\napproval_expiry = 5s\n"
    "[person p2]\nslack = U2\n"
    "[person al]\nslack = UAL\ndiscord = 100001\nunix = alice\n"
    "[person bo]\nslack = UBO\nunix = bob\n"
    "[person cy]\ndiscord = 100003\n"
    "[person dd]\nslack = UDD\n"
    "[group ops]\nmembers = p2, al, bo, cy, dd\n"
    "[group leads]\nmembers = al, bo, cy\n"
    "[approval high]\napprovers = leads\ndistinct_approvers = 2\n"
    "requester_may_approve = no\napproval_expiry = 2s\n"
    /* the clock starts at 1970-01-01T00:16:40Z, a Thursday */
    "[freeze thu]\ndays = thu\nhours = 00:00-00:30\nactions = frz1\n"
    "reason = No changes to frz1 early on Thursdays.\n";

static int fx_setup(void **state)
{
	log_set_level(LOG_WARN);
	struct fx *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/opsbot-handle-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/q.db", f->dir);
	char err[256];
	if (store_open(f->path, STORE_SYNC_NORMAL, &f->q.st, err, sizeof(err)) < 0)
		fail_msg("store_open: %s", err);
	f->q.conf = (struct queue_conf){.lease_ms = 1000,
	                                .retry_base_ms = 100,
	                                .approval_expiry_ms = 5000,
	                                .max_attempts = 2,
	                                .stages = STAGE_ALL};
	f->q.outbox = cJSON_CreateArray();
	f->q.now = f->q.started_ms = 1000000;
	if (catalog_parse("actions.conf", test_catalog, &f->cat, err, sizeof(err)) < 0 ||
	    policy_parse("policy.conf", test_policy, f->cat, &f->pol, err, sizeof(err)) < 0)
		fail_msg("test policy: %s", err);
	f->q.cat = f->cat;
	f->q.pol = f->pol;
	f->peer = (struct handle_peer){.kind = PEER_SERVICE, .uid = 0, .via = "ipc"};
	f->q.peer = &f->peer;
	sqlite3_open_v2(f->path, &f->ro, SQLITE_OPEN_READONLY, NULL);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	sqlite3_close(f->ro);
	store_close(f->q.st);
	cJSON_Delete(f->q.outbox);
	cJSON_Delete(f->last);
	policy_free(f->pol);
	catalog_free(f->cat);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* One request in its own transaction, as the main loop would run it. */
__attribute__((format(printf, 3, 4))) static cJSON *call(struct fx *f, int64_t incident,
                                                         const char *fmt, ...)
{
	char body[2048], msg[2300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	char id[32];
	snprintf(id, sizeof(id), "t%d", ++f->calls);
	snprintf(msg, sizeof(msg), "{\"v\":1,\"id\":\"%s\",\"incident\":%lld,%s}",
	         f->resend ? f->resend : id, (long long)incident, body);
	f->resend = NULL;
	struct wire_msg m;
	char err[256];
	if (wire_decode(msg, strlen(msg), &m, err, sizeof(err)) < 0)
		fail_msg("test request %s: %s", msg, err);
	assert_int_equal(store_begin(f->q.st), 0);
	cJSON *reply = NULL;
	enum handle_rc rc = handle_request(&f->q, &m, &reply);
	if (rc == HANDLE_PARK) {
		reply = wire_reply_ok(&m);
		json_add(reply, "job", cJSON_CreateNull());
	}
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
	cJSON_Delete(f->q.outbox);
	f->q.outbox = cJSON_CreateArray();
	cJSON_Delete(f->last);
	f->last = reply;
	return reply;
}

__attribute__((format(printf, 2, 3))) static int64_t ro_int(struct fx *f, const char *sql, ...)
{
	char q[512];
	va_list ap;
	va_start(ap, sql);
	vsnprintf(q, sizeof(q), sql, ap);
	va_end(ap);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(f->ro, q, -1, &st, NULL) != SQLITE_OK)
		fail_msg("check query %s: %s", q, sqlite3_errmsg(f->ro));
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

/* The invariants of state.c, read from what was committed. */
static void check_invariants(struct fx *f, const char *where)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(f->ro,
	                   "SELECT id, state, coalesce(prev_state,''), approval_deadline_ms, "
	                   "results FROM incidents",
	                   -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *s = (const char *)sqlite3_column_text(st, 1);
		const char *prev = (const char *)sqlite3_column_text(st, 2);
		int has_deadline = sqlite3_column_type(st, 3) != SQLITE_NULL;
		const char *results = (const char *)sqlite3_column_text(st, 4);
		enum state_id sid;
		assert_int_equal(state_parse(s, &sid), 0);
		/* 3: a working state has exactly one live job of its stage. */
		if (state_working(sid)) {
			const char *kind = state_stage_name((enum stage_id)state_stage_of(sid));
			int64_t n =
			    ro_int(f,
			           "SELECT count(*) FROM jobs WHERE incident=%lld AND kind='%s' "
			           "AND state IN ('ready','leased')",
			           (long long)id, kind);
			if (n != 1)
				fail_msg("%s: incident %lld in %s has %lld live %s jobs, want 1",
				         where, (long long)id, s, (long long)n, kind);
		}
		/* 4: paused <=> prev_state, and prev_state is a running state. */
		enum state_id ps;
		int paused = sid == ST_PAUSED;
		if (paused != (prev[0] != 0) ||
		    (paused && (state_parse(prev, &ps) < 0 || state_terminal(ps) ||
		                ps == ST_PAUSED || ps == ST_FAILED)))
			fail_msg("%s: incident %lld state=%s prev_state=%s breaks invariant 4",
			         where, (long long)id, s, prev);
		/* 5: awaiting <=> deadline and a plan. */
		if (sid == ST_AWAITING && (!has_deadline || !strstr(results, "\"plan\"")))
			fail_msg("%s: incident %lld awaiting without deadline or plan", where,
			         (long long)id);
		if (!has_deadline !=
		    !(sid == ST_AWAITING || (paused && !strcmp(prev, "awaiting_approval"))))
			fail_msg("%s: incident %lld state=%s deadline=%d breaks invariant 5", where,
			         (long long)id, s, has_deadline);
		/* 2: nothing of the pipeline waits on a terminal incident. */
		if (state_terminal(sid)) {
			int64_t n =
			    ro_int(f,
			           "SELECT count(*) FROM jobs WHERE incident=%lld AND state IN "
			           "('ready','held') AND kind NOT IN ('report','index')",
			           (long long)id);
			if (n)
				fail_msg("%s: terminal incident %lld has %lld waiting stage jobs",
				         where, (long long)id, (long long)n);
		}
		/* 1: the stage events chain from open to the current state, each allowed. */
		sqlite3_stmt *ev;
		char q[160];
		snprintf(q, sizeof(q),
		         "SELECT data FROM events WHERE incident=%lld AND name='incident.stage' "
		         "ORDER BY seq",
		         (long long)id);
		sqlite3_prepare_v2(f->ro, q, -1, &ev, NULL);
		enum state_id at = ST_OPEN;
		while (sqlite3_step(ev) == SQLITE_ROW) {
			cJSON *d = cJSON_Parse((const char *)sqlite3_column_text(ev, 0));
			enum state_id from, to;
			assert_int_equal(state_parse(json_str(d, "from"), &from), 0);
			assert_int_equal(state_parse(json_str(d, "to"), &to), 0);
			if (from != at || !state_allowed(from, to))
				fail_msg(
				    "%s: incident %lld event %s->%s after %s breaks invariant 1",
				    where, (long long)id, state_name(from), state_name(to),
				    state_name(at));
			at = to;
			cJSON_Delete(d);
		}
		sqlite3_finalize(ev);
		if (at != sid)
			fail_msg("%s: incident %lld timeline ends at %s, state is %s", where,
			         (long long)id, state_name(at), s);
	}
	sqlite3_finalize(st);
}

static const char *reply_error(const cJSON *r)
{
	return json_bool(r, "ok", 0) ? "" : json_str(r, "error");
}

static void step(struct fx *f, const char *line, const char *name, int n)
{
	char where[200];
	snprintf(where, sizeof(where), "%s step %d \"%s\"", name, n, line);
	char word[32] = "", a[64] = "", b[64] = "";
	const char *rest = "";
	sscanf(line, "%31s", word);
	rest = line + strlen(word);
	while (*rest == ' ')
		rest++;
	sscanf(rest, "%63s %63s", a, b);
	cJSON *r;
	if (!strcmp(word, "stages")) {
		f->q.conf.stages = 0;
		for (const char *p = rest; *p;) {
			char w[32];
			int used;
			if (sscanf(p, "%31s%n", w, &used) != 1)
				break;
			enum stage_id g;
			assert_int_equal(state_stage_parse(w, &g), 0);
			f->q.conf.stages |= 1u << g;
			p += used;
		}
	} else if (!strcmp(word, "submit")) {
		r = call(
		    f, 0,
		    "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"k1\",\"spec\":{\"title\":"
		    "\"T\",\"service\":\"api\",\"severity\":\"high\",\"source\":\"cli\"}");
		f->incident = json_int(r, "incident", 0);
	} else if (!strcmp(word, "claim") || !strcmp(word, "noclaim") || !strcmp(word, "work")) {
		r = call(f, 0,
		         "\"type\":\"claim\",\"kinds\":[\"%s\"],\"worker\":\"w\",\"wait_ms\":0", a);
		cJSON *j = cJSON_GetObjectItem(r, "job");
		if (!strcmp(word, "noclaim")) {
			if (!cJSON_IsNull(j))
				fail_msg("%s: got job %lld, want none", where,
				         (long long)json_int(j, "id", 0));
			return;
		}
		if (!cJSON_IsObject(j))
			fail_msg("%s: got no job, want one", where);
		f->old_job = f->job;
		snprintf(f->old_lease, sizeof(f->old_lease), "%s", f->lease);
		f->job = json_int(j, "id", 0);
		snprintf(f->lease, sizeof(f->lease), "%s", json_str(j, "lease"));
		if (!strcmp(word, "work")) {
			const char *res = strchr(rest, ' ');
			call(f, 0,
			     "\"type\":\"complete\",\"job\":%lld,\"lease\":\"%s\",\"result\":%s",
			     (long long)f->job, f->lease, res ? res + 1 : "{}");
			if (!json_bool(f->last, "ok", 0))
				fail_msg("%s: complete got error %s", where, reply_error(f->last));
		}
	} else if (!strcmp(word, "complete") || !strcmp(word, "complete_old")) {
		int old = !strcmp(word, "complete_old");
		call(f, 0, "\"type\":\"complete\",\"job\":%lld,\"lease\":\"%s\",\"result\":%s",
		     (long long)(old ? f->old_job : f->job), old ? f->old_lease : f->lease,
		     *rest ? rest : "{}");
	} else if (!strcmp(word, "fail")) {
		call(f, 0,
		     "\"type\":\"fail\",\"job\":%lld,\"lease\":\"%s\",\"error\":\"boom\","
		     "\"retryable\":%s",
		     (long long)f->job, f->lease, !strcmp(a, "retry") ? "true" : "false");
	} else if (!strcmp(word, "cmd")) {
		call(f, f->incident,
		     "\"type\":\"command\",\"action\":\"%s\",\"user\":\"U1\",\"surface\":\"cli\","
		     "\"note\":\"n\",\"job\":%lld",
		     a, (long long)f->job);
	} else if (!strcmp(word, "approve")) {
		call(f, f->incident,
		     "\"type\":\"approve\",\"plan\":\"%s\",\"user\":\"U2\",\"surface\":\"slack\","
		     "\"decision\":\"%s\"",
		     a, b);
	} else if (!strcmp(word, "as") || !strcmp(word, "askey")) {
		char sf[16] = "", user[64] = "", hash[64] = "", dec[16] = "", key[64] = "";
		long long mi = 0;
		if (!strcmp(word, "askey"))
			sscanf(rest, "%63s %15s %63s %63s %15s", key, sf, user, hash, dec);
		else
			sscanf(rest, "%15s %63s %63s %15s %lld", sf, user, hash, dec, &mi);
		char extra[128] = "";
		if (mi)
			snprintf(extra, sizeof(extra), ",\"message_incident\":%lld", mi);
		if (key[0])
			snprintf(extra, sizeof(extra), ",\"key\":\"%s\"", key);
		call(f, f->incident,
		     "\"type\":\"approve\",\"plan\":\"%s\",\"user\":\"%s\",\"surface\":\"%s\","
		     "\"decision\":\"%s\"%s",
		     hash, user, sf, dec, extra);
	} else if (!strcmp(word, "tryclaim")) {
		call(f, 0, "\"type\":\"claim\",\"kinds\":[\"%s\"],\"worker\":\"w\",\"wait_ms\":0",
		     a);
	} else if (!strcmp(word, "peer")) {
		f->peer.kind = !strcmp(a, "service")  ? PEER_SERVICE
		               : !strcmp(a, "remote") ? PEER_REMOTE
		                                      : PEER_LOCAL;
		snprintf(f->peer.account, sizeof(f->peer.account), "%s", b);
		snprintf(f->peer.via, sizeof(f->peer.via), "%s",
		         f->peer.kind == PEER_REMOTE ? "tls+tcp" : "ipc");
	} else if (!strcmp(word, "submit_by")) {
		r = call(f, 0,
		         "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"k-%s\",\"spec\":{"
		         "\"title\":\"T\",\"service\":\"api\",\"severity\":\"high\",\"source\":"
		         "\"%s\",\"surface\":{\"kind\":\"%s\",\"user\":\"%s\"}}",
		         b, a, a, b);
		f->incident = json_int(r, "incident", 0);
	} else if (!strcmp(word, "submit_labelled")) {
		r = call(f, 0,
		         "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"k-%s\",\"spec\":{"
		         "\"title\":\"T\",\"service\":\"api\",\"severity\":\"high\",\"source\":"
		         "\"%s\",\"surface\":{\"kind\":\"%s\",\"user\":\"someone (%s)\","
		         "\"user_id\":\"%s\"}}",
		         b, a, a, b, b);
		f->incident = json_int(r, "incident", 0);
	} else if (!strcmp(word, "evdata")) {
		const char *text = strchr(rest, ' ');
		int64_t got =
		    ro_int(f,
		           "SELECT count(*) FROM events WHERE incident=%lld AND name='%s' "
		           "AND data LIKE '%%%s%%'",
		           (long long)f->incident, a, text ? text + 1 : "");
		if (got < 1)
			fail_msg("%s: no %s event holds \"%s\"", where, a, text ? text + 1 : "");
	} else if (!strcmp(word, "nopolicy")) {
		f->q.pol = NULL;
		f->q.cat = NULL;
	} else if (!strcmp(word, "have")) {
		if (json_int(f->last, "have", -1) != strtol(a, NULL, 10))
			fail_msg("%s: got have=%lld (%s), want %s", where,
			         (long long)json_int(f->last, "have", -1), json_print(f->last), a);
	} else if (!strcmp(word, "time")) {
		f->q.now += strtol(a, NULL, 10);
		assert_int_equal(store_begin(f->q.st), 0);
		assert_int_equal(handle_timers(&f->q), 0);
		assert_int_equal(store_commit(f->q.st), 0);
	} else if (!strcmp(word, "clock")) {
		f->q.now += strtol(a, NULL, 10); /* time passes, timers do not run yet */
	} else if (!strcmp(word, "state")) {
		int64_t got = ro_int(f, "SELECT state = '%s' FROM incidents WHERE id=%lld", a,
		                     (long long)f->incident);
		if (got != 1) {
			cJSON *r2 =
			    call(f, f->incident, "\"type\":\"query\",\"what\":\"incident\"");
			fail_msg("%s: got state %s, want %s", where,
			         json_str(cJSON_GetObjectItem(r2, "incident"), "state"), a);
		}
	} else if (!strcmp(word, "err")) {
		if (!f->last || strcmp(reply_error(f->last), a) != 0)
			fail_msg("%s: got error \"%s\" (%s), want %s", where, reply_error(f->last),
			         json_str(f->last, "message"), a);
	} else if (!strcmp(word, "ok")) {
		if (!json_bool(f->last, "ok", 0))
			fail_msg("%s: got error %s (%s), want ok", where, reply_error(f->last),
			         json_str(f->last, "message"));
	} else if (!strcmp(word, "jobs")) {
		char c[16] = "";
		sscanf(rest, "%63s %63s %15s", a, b, c);
		int64_t got =
		    ro_int(f,
		           "SELECT count(*) FROM jobs WHERE incident=%lld AND kind='%s' AND "
		           "state='%s'",
		           (long long)f->incident, a, b);
		if (got != strtol(c, NULL, 10))
			fail_msg("%s: got %lld jobs, want %s", where, (long long)got, c);
	} else if (!strcmp(word, "event") || !strcmp(word, "reason")) {
		int ev = !strcmp(word, "event");
		int64_t got =
		    ro_int(f,
		           ev ? "SELECT count(*) FROM events WHERE incident=%lld AND name='%s'"
		              : "SELECT count(*) FROM events WHERE incident=%lld AND "
		                "name='incident.stage' AND data LIKE '%%%s%%'",
		           (long long)f->incident, ev ? a : rest);
		if (got < 1)
			fail_msg("%s: got no such event, want one", where);
	} else {
		fail_msg("%s: unknown step", where);
	}
	check_invariants(f, where);
}

#define PLAN_AUTO "{\"plan\":{\"id\":\"p\",\"hash\":\"h1\",\"steps\":[]},\"needs_approval\":false}"
#define PLAN_HIGH                                                                                  \
	"{\"plan\":{\"id\":\"p\",\"hash\":\"h1\",\"steps\":[{\"action\":\"low1\"},{\"action\":"    \
	"\"high1\",\"approval\":\"required\"}]},\"needs_approval\":true}"
#define PLAN_MED                                                                                   \
	"{\"plan\":{\"id\":\"p\",\"hash\":\"h1\",\"steps\":[{\"action\":\"med1\"}]},"              \
	"\"needs_approval\":true}"
#define PLAN_FROZEN                                                                                \
	"{\"plan\":{\"id\":\"p\",\"hash\":\"h1\",\"steps\":[{\"action\":\"low1\"},{\"action\":"    \
	"\"frz1\"}]},\"needs_approval\":true}"
#define PLAN_BOGUS                                                                                 \
	"{\"plan\":{\"id\":\"p\",\"hash\":\"h1\",\"steps\":[{\"action\":\"rm_rf\"}]},"             \
	"\"needs_approval\":true}"
#define PLAN_ASK    "{\"plan\":{\"id\":\"p\",\"hash\":\"h1\",\"steps\":[]},\"needs_approval\":true}"
#define TO_PLANNING "submit", "work detect {}", "work retrieve {}", "state planning"

static const struct scenario {
	const char *name;
	const char *steps[24];
} scenarios[] = {
    {"happy path",
     {"submit", "state detecting", "event incident.opened", "work detect {\"summary\":\"d\"}",
      "state retrieving", "work retrieve {}", "state planning", "work plan " PLAN_AUTO,
      "state executing", "event plan.proposed", "work execute {}", "state verifying",
      "work verify {\"ok\":true}", "state resolved", "event incident.resolved",
      "jobs report ready 1", "jobs index ready 1", NULL}},
    {"approval",
     {TO_PLANNING, "work plan " PLAN_ASK, "state awaiting_approval", "approve h0 approve",
      "err plan_changed", "state awaiting_approval", "approve h1 approve", "ok", "state executing",
      "event approval.recorded", "approve h1 approve", "err wrong_state", NULL}},
    {"reject", {TO_PLANNING, "work plan " PLAN_ASK, "approve h1 reject", "state rejected", NULL}},
    {"approval expires by the clock",
     {TO_PLANNING, "work plan " PLAN_ASK, "time 4000", "state awaiting_approval", "time 2000",
      "state expired", "approve h1 approve", "err expired", "event approval.refused", NULL}},
    {"two people: one person on two surfaces counts once",
     {TO_PLANNING, "work plan " PLAN_HIGH, "state awaiting_approval", "as slack UAL h1 approve",
      "ok", "have 1", "state awaiting_approval", "as discord 100001 h1 approve",
      "err already_approved", "event approval.refused", "state awaiting_approval",
      "as slack UBO h1 approve", "ok", "have 2", "state executing", "reason approved by al and bo",
      NULL}},
    {"plan.proposed says what approval the plan needs",
     {TO_PLANNING, "work plan " PLAN_HIGH,
      "evdata plan.proposed 2 people from leads, not the requester", NULL}},
    {"the requester may not approve, on any surface",
     {"submit_by slack UAL", "work detect {}", "work retrieve {}", "work plan " PLAN_HIGH,
      "as discord 100001 h1 approve", "err forbidden", "as slack UBO h1 approve", "ok",
      "as discord 100003 h1 approve", "ok", "state executing", NULL}},
    {"people outside the rule are refused, approve and reject alike",
     {TO_PLANNING, "work plan " PLAN_HIGH, "as slack UZZ h1 approve", "err forbidden",
      "as slack UDD h1 approve", "err forbidden", "as slack UDD h1 reject", "err forbidden",
      "as slack UZZ h1 reject", "err forbidden", "state awaiting_approval",
      "event approval.refused", NULL}},
    {"the requester named by user_id (Discord labels its user field)",
     {"submit_labelled discord 100001", "work detect {}", "work retrieve {}",
      "work plan " PLAN_HIGH, "as slack UAL h1 approve", "err forbidden",
      "as discord 100001 h1 approve", "err forbidden", NULL}},
    {"the requester may reject what they may not approve",
     {"submit_by slack UAL", "work detect {}", "work retrieve {}", "work plan " PLAN_HIGH,
      "as slack UAL h1 reject", "ok", "state rejected", "reason rejected by al", NULL}},
    {"each rule's expiry: high risk gets 2s, not the default 5s",
     {TO_PLANNING, "work plan " PLAN_HIGH, "time 1500", "state awaiting_approval", "time 600",
      "state expired", NULL}},
    {"medium risk: one of ops, the default rule's 5s",
     {TO_PLANNING, "work plan " PLAN_MED, "time 4000", "as slack UDD h1 approve", "ok", "have 1",
      "state executing", NULL}},
    {"a stale plan hash is refused and recorded",
     {TO_PLANNING, "work plan " PLAN_HIGH, "as slack UAL h0 approve", "err plan_changed",
      "event approval.refused", "state awaiting_approval", NULL}},
    {"a button of this incident pressed on another incident's message",
     {TO_PLANNING, "work plan " PLAN_HIGH, "as slack UAL h1 approve 99", "err wrong_incident",
      "as slack UAL h1 approve 1", "ok", "have 1", NULL}},
    {"the same click delivered twice counts once",
     {TO_PLANNING, "work plan " PLAN_HIGH, "askey click-1 slack UAL h1 approve", "ok", "have 1",
      "askey click-1 slack UAL h1 approve", "ok", "state awaiting_approval",
      "askey click-2 slack UBO h1 approve", "ok", "have 2", "state executing", NULL}},
    {"a plan naming an action outside the catalog cannot be approved",
     {TO_PLANNING, "work plan " PLAN_BOGUS, "as slack UAL h1 approve", "err forbidden",
      "state awaiting_approval", NULL}},
    {"no policy loaded: nobody approves",
     {TO_PLANNING, "work plan " PLAN_ASK, "nopolicy", "approve h1 approve", "err forbidden",
      "state awaiting_approval", NULL}},
    {"opsbotctl: the socket's account decides, not the user field",
     {TO_PLANNING, "work plan " PLAN_HIGH, "peer local alice", "as cli bob h1 approve", "ok",
      "have 1", "peer local mallory", "as cli alice h1 approve", "err forbidden", "peer local bob",
      "as slack UAL h1 approve", "err forbidden", "as cli x h1 approve", "ok", "state executing",
      NULL}},
    {"a remote peer runs jobs but decides nothing",
     {TO_PLANNING, "work plan " PLAN_HIGH, "peer remote", "as cli alice h1 approve",
      "err forbidden", "cmd ack", "err forbidden", "tryclaim execute", "ok", "peer local alice",
      "tryclaim execute", "err forbidden", "cmd ack", "ok", NULL}},
    {"a remote worker runs a job",
     {"submit", "peer remote", "work detect {}", "state retrieving", NULL}},
    {"approval after the deadline",
     {TO_PLANNING, "work plan " PLAN_ASK, "clock 6000", "state awaiting_approval",
      "approve h1 approve", "err expired", "state expired", "jobs execute ready 0", NULL}},
    {"verify fails",
     {TO_PLANNING, "work plan " PLAN_AUTO, "work execute {}", "work verify {\"ok\":false}",
      "state failed", "reason verification failed", NULL}},
    {"only detect retrieve plan",
     {"stages detect retrieve plan", TO_PLANNING, "work plan " PLAN_AUTO, "state resolved",
      "reason skipped: stage not enabled", "reason not verified", "jobs report ready 0",
      "event incident.updated", NULL}},
    {"detect not enabled",
     {"stages retrieve plan execute verify", "submit", "state retrieving",
      "reason skipped: stage not enabled", "noclaim detect", NULL}},
    {"pause holds jobs, resume releases",
     {"submit", "cmd pause", "state paused", "noclaim detect", "jobs detect held 1", "cmd pause",
      "err wrong_state", "cmd resume", "state detecting", "work detect {}", "state retrieving",
      "cmd resume", "err wrong_state", NULL}},
    {"complete while paused advances on resume",
     {"submit", "claim detect", "cmd pause", "complete {}", "ok", "state paused", "cmd resume",
      "state retrieving", NULL}},
    {"pause while awaiting keeps the deadline",
     {TO_PLANNING, "work plan " PLAN_ASK, "cmd pause", "time 9000", "state paused", "cmd resume",
      "state awaiting_approval", "time 100", "state expired", NULL}},
    {"final failure dead-letters and fails the incident; retry re-queues",
     {"submit", "claim detect", "fail final", "ok", "state failed", "event job.dead",
      "reason dead-lettered", "jobs detect dead 1", "cmd retry", "ok", "state detecting",
      "work detect {}", "state retrieving", NULL}},
    {"retryable failure backs off, then max_attempts",
     {"submit", "claim detect", "fail retry", "ok", "state detecting", "event job.retry",
      "noclaim detect", "time 100", "claim detect", "fail retry", "state failed",
      "jobs detect dead 1", NULL}},
    {"lease expiry re-delivers; the old lease is refused",
     {"submit", "claim detect", "time 1500", "claim detect", "complete_old {}", "err lease_lost",
      "state detecting", "complete {}", "ok", "complete {}", "ok", "state retrieving", NULL}},
    {"lease expiry counts as an attempt",
     {"submit", "claim detect", "time 1500", "claim detect", "time 1500", "state failed",
      "reason lease expired", NULL}},
    {"a change freeze that began after planning refuses the approval, not the reject",
     {TO_PLANNING, "work plan " PLAN_FROZEN, "state awaiting_approval", "as slack UDD h1 approve",
      "err frozen", "state awaiting_approval",
      "evdata approval.refused change freeze thu covers step 2 (frz1) until 1970-01-01 00:30 "
      "UTC: No changes to frz1 early on Thursdays. Nothing was recorded",
      "jobs execute ready 0", "as slack UDD h1 reject", "ok", "state rejected", NULL}},
    {"every ending queues a report: rejected",
     {TO_PLANNING, "work plan " PLAN_ASK, "approve h1 reject", "state rejected",
      "jobs report ready 1", NULL}},
    {"every ending queues a report: expired",
     {TO_PLANNING, "work plan " PLAN_ASK, "time 6000", "state expired", "jobs report ready 1",
      NULL}},
    {"every ending queues a report: failed, and again when resolved after",
     {TO_PLANNING, "work plan " PLAN_AUTO, "work execute {}", "work verify {\"ok\":false}",
      "state failed", "jobs report ready 1", "cmd resolve", "state resolved",
      "jobs report cancelled 1", "jobs report ready 1", NULL}},
    {"resolve by hand",
     {"submit", "cmd ack", "ok", "event command.recorded", "cmd resolve", "state resolved",
      "jobs detect cancelled 1", "jobs report ready 1", "cmd resolve", "err wrong_state",
      "cmd pause", "err wrong_state", NULL}},
    {"resolve a failed incident",
     {"submit", "claim detect", "fail final", "state failed", "cmd pause", "err wrong_state",
      "cmd resolve", "state resolved", NULL}},
    {"retry of a job that is not dead",
     {"submit", "claim detect", "cmd retry", "err wrong_state", NULL}},
};

static void test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		void *fs;
		fx_setup(&fs);
		struct fx *f = fs;
		for (int k = 0; scenarios[i].steps[k]; k++)
			step(f, scenarios[i].steps[k], scenarios[i].name, k);
		fx_teardown(&fs);
	}
}

static void test_submit_and_standalone_jobs(void **state)
{
	struct fx *f = *state;
	cJSON *r =
	    call(f, 0,
	         "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"same\",\"spec\":{\"title\":"
	         "\"T\",\"service\":\"api\",\"severity\":\"low\",\"source\":\"cli\"}");
	int64_t first = json_int(r, "incident", 0);
	assert_true(json_bool(r, "created", 0));
	r = call(f, 0,
	         "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"same\",\"spec\":{\"title\":"
	         "\"T\",\"service\":\"api\",\"severity\":\"low\",\"source\":\"cli\"}");
	if (json_int(r, "incident", 0) != first || json_bool(r, "created", 1))
		fail_msg("repeated key: got incident %lld created=%d, want %lld created=0",
		         (long long)json_int(r, "incident", 0), json_bool(r, "created", 1),
		         (long long)first);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM incidents"), 1);
	/* The first request sent again with its own wire id (NNG's REQ resends it after a
	   reconnect when the reply was lost): answered as the first time, nothing new. */
	f->resend = "t1";
	r = call(f, 0,
	         "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"same\",\"spec\":{\"title\":"
	         "\"T\",\"service\":\"api\",\"severity\":\"low\",\"source\":\"cli\"}");
	if (json_int(r, "incident", 0) != first || !json_bool(r, "created", 0))
		fail_msg("resent request: got incident %lld created=%d, want %lld created=1",
		         (long long)json_int(r, "incident", 0), json_bool(r, "created", 0),
		         (long long)first);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM incidents"), 1);

	r = call(f, 0,
	         "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"bench\",\"input\":{"
	         "\"n\":1}}");
	int64_t job = json_int(r, "job", 0);
	assert_true(job > 0);
	r = call(f, 0, "\"type\":\"claim\",\"kinds\":[\"bench\"],\"worker\":\"w\",\"wait_ms\":0");
	cJSON *j = cJSON_GetObjectItem(r, "job");
	assert_int_equal(json_int(j, "id", 0), job);
	assert_int_equal(json_int(cJSON_GetObjectItem(j, "input"), "n", 0), 1);
	char lease[64];
	snprintf(lease, sizeof(lease), "%s", json_str(j, "lease"));
	r = call(f, 0, "\"type\":\"heartbeat\",\"job\":%lld,\"lease\":\"%s\",\"lease_ms\":5000",
	         (long long)job, lease);
	assert_int_equal(json_int(r, "deadline_ms", 0), f->q.now + 5000);
	r = call(f, 0, "\"type\":\"complete\",\"job\":%lld,\"lease\":\"%s\",\"result\":{}",
	         (long long)job, lease);
	assert_true(json_bool(r, "ok", 0));
	r = call(f, 0, "\"type\":\"heartbeat\",\"job\":%lld,\"lease\":\"%s\"", (long long)job,
	         lease);
	assert_string_equal(reply_error(r), "lease_lost");
	r = call(f, 0, "\"type\":\"complete\",\"job\":999,\"lease\":\"x\",\"result\":{}");
	assert_string_equal(reply_error(r), "not_found");
	r = call(f, 7, "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"x\"}");
	assert_string_equal(reply_error(r), "not_found");
	r = call(f, 0, "\"type\":\"command\",\"action\":\"ack\",\"user\":\"u\",\"surface\":\"s\"");
	assert_string_equal(reply_error(r), "bad_request");
	r = call(f, 0, "\"type\":\"query\",\"what\":\"incidents\",\"state\":\"nope\"");
	assert_string_equal(reply_error(r), "bad_request");
	r = call(f, 0, "\"type\":\"query\",\"what\":\"stats\"");
	cJSON *s = cJSON_GetObjectItem(r, "stats");
	assert_int_equal(
	    json_int(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "jobs"), "bench"), "done", 0), 1);
	r = call(f, 0, "\"type\":\"query\",\"what\":\"events\",\"since\":1,\"limit\":5");
	cJSON *items = cJSON_GetObjectItem(r, "items");
	assert_int_equal(cJSON_GetArraySize(items),
	                 1); /* opened is seq 1; standalone jobs add none */
	assert_int_equal(json_int(cJSON_GetArrayItem(items, 0), "seq", 0), 2);
	assert_string_equal(json_str(cJSON_GetArrayItem(items, 0), "type"), "event");
	check_invariants(f, "standalone");
}

/* Batched submit (jobs[]): one result per job in order; keys make a resend create nothing. */
static void test_batched_submit(void **state)
{
	struct fx *f = *state;
	const char *batch = "\"type\":\"submit\",\"what\":\"job\",\"key\":\"rk\",\"jobs\":["
	                    "{\"kind\":\"b\",\"input\":{\"n\":0}},{\"kind\":\"c\"},"
	                    "{\"kind\":\"b\",\"key\":\"own\",\"input\":{\"n\":2}}]";
	cJSON *r = call(f, 0, "%s", batch);
	cJSON *res = cJSON_GetObjectItem(r, "results");
	if (!json_bool(r, "ok", 0) || cJSON_GetArraySize(res) != 3)
		fail_msg("batched submit: got %s, want ok with 3 results", json_print(r));
	int64_t ids[3];
	for (int i = 0; i < 3; i++) {
		cJSON *it = cJSON_GetArrayItem(res, i);
		ids[i] = json_int(it, "job", 0);
		if (ids[i] <= 0 || !json_bool(it, "created", 0) || (i && ids[i] <= ids[i - 1]))
			fail_msg("result %d: got %s, want a new job id in submit order", i,
			         json_print(it));
	}
	assert_int_equal(ro_int(f, "SELECT count(*) FROM jobs WHERE state='ready'"), 3);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM idempotency WHERE key IN "
	                           "('rk/0','rk/1','own')"),
	                 3);
	/* The same keys in a new request (the caller retried): the same ids, created:false. */
	char first_id[32];
	snprintf(first_id, sizeof(first_id), "t%d", f->calls);
	r = call(f, 0, "%s", batch);
	res = cJSON_GetObjectItem(r, "results");
	for (int i = 0; i < 3; i++) {
		cJSON *it = cJSON_GetArrayItem(res, i);
		if (json_int(it, "job", 0) != ids[i] || json_bool(it, "created", 1))
			fail_msg("retried result %d: got %s, want job %lld created:false", i,
			         json_print(it), (long long)ids[i]);
	}
	/* The first request itself again (a resend after a lost reply): its first answer. */
	f->resend = first_id;
	r = call(f, 0, "%s", batch);
	res = cJSON_GetObjectItem(r, "results");
	for (int i = 0; i < 3; i++) {
		cJSON *it = cJSON_GetArrayItem(res, i);
		if (json_int(it, "job", 0) != ids[i] || !json_bool(it, "created", 0))
			fail_msg("resent result %d: got %s, want job %lld created:true", i,
			         json_print(it), (long long)ids[i]);
	}
	assert_int_equal(ro_int(f, "SELECT count(*) FROM jobs"), 3);
	/* Each job is a job like any other: the input arrives with the claim. */
	r = call(f, 0,
	         "\"type\":\"claim\",\"kinds\":[\"b\"],\"worker\":\"w\",\"wait_ms\":0,\"max\":8");
	cJSON *jobs = cJSON_GetObjectItem(r, "jobs");
	assert_int_equal(cJSON_GetArraySize(jobs), 2);
	assert_int_equal(json_int(cJSON_GetArrayItem(jobs, 0), "id", 0), ids[0]);
	assert_int_equal(
	    json_int(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 1), "input"), "n", 0), 2);
	/* Jobs of an unknown incident: refused, nothing stored. */
	r = call(f, 9, "\"type\":\"submit\",\"what\":\"job\",\"jobs\":[{\"kind\":\"b\"}]");
	assert_string_equal(reply_error(r), "not_found");
	assert_int_equal(ro_int(f, "SELECT count(*) FROM jobs"), 3);
	check_invariants(f, "batched submit");
}

/* Batched claim (max) and complete (jobs[]): each item stands alone. */
static void test_batched_claim_and_complete(void **state)
{
	struct fx *f = *state;
	int64_t ids[3];
	for (int i = 0; i < 3; i++) {
		cJSON *r =
		    call(f, 0, "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"b\"}");
		ids[i] = json_int(r, "job", 0);
	}
	cJSON *r = call(f, 0,
	                "\"type\":\"claim\",\"kinds\":[\"b\"],\"worker\":\"w\",\"wait_ms\":0,"
	                "\"max\":2");
	cJSON *jobs = cJSON_GetObjectItem(r, "jobs");
	if (cJSON_GetArraySize(jobs) != 2 || cJSON_GetObjectItem(r, "job"))
		fail_msg("claim max 2 of 3: got %d jobs (job field %s), want 2 and no job field",
		         cJSON_GetArraySize(jobs),
		         cJSON_GetObjectItem(r, "job") ? "set" : "absent");
	char lease[2][64];
	for (int i = 0; i < 2; i++) {
		cJSON *j = cJSON_GetArrayItem(jobs, i);
		if (json_int(j, "id", 0) != ids[i])
			fail_msg("claimed job %d: got id %lld, want %lld (oldest first)", i,
			         (long long)json_int(j, "id", 0), (long long)ids[i]);
		snprintf(lease[i], sizeof(lease[i]), "%s", json_str(j, "lease"));
	}
	if (!strcmp(lease[0], lease[1]))
		fail_msg("two jobs got the same lease %s", lease[0]);
	/* Complete both in one request, with one stale lease and one unknown job. */
	r = call(
	    f, 0,
	    "\"type\":\"complete\",\"jobs\":[{\"job\":%lld,\"lease\":\"%s\",\"result\":{\"n\":1}},"
	    "{\"job\":%lld,\"lease\":\"stale\",\"result\":{}},"
	    "{\"job\":999,\"lease\":\"x\",\"result\":{}}]",
	    (long long)ids[0], lease[0], (long long)ids[1]);
	cJSON *res = cJSON_GetObjectItem(r, "results");
	static const struct {
		int ok;
		const char *error;
	} want[] = {{1, NULL}, {0, "lease_lost"}, {0, "not_found"}};
	if (!json_bool(r, "ok", 0) || cJSON_GetArraySize(res) != 3)
		fail_msg("batched complete: got ok=%d with %d results, want ok=1 with 3",
		         json_bool(r, "ok", 0), cJSON_GetArraySize(res));
	for (int i = 0; i < 3; i++) {
		cJSON *it = cJSON_GetArrayItem(res, i);
		const char *e = json_str(it, "error");
		if (json_bool(it, "ok", 0) != want[i].ok ||
		    (want[i].error && (!e || strcmp(e, want[i].error))))
			fail_msg("result %d: got ok=%d error=%s, want ok=%d error=%s", i,
			         json_bool(it, "ok", 0), e ? e : "(none)", want[i].ok,
			         want[i].error ? want[i].error : "(none)");
	}
	assert_int_equal(ro_int(f, "SELECT count(*) FROM jobs WHERE state='done'"), 1);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM jobs WHERE state='leased'"), 1);
	/* The same complete again is a duplicate; the second job's real lease completes it. */
	r = call(f, 0,
	         "\"type\":\"complete\",\"jobs\":[{\"job\":%lld,\"lease\":\"%s\",\"result\":{}},"
	         "{\"job\":%lld,\"lease\":\"%s\",\"result\":{}}]",
	         (long long)ids[0], lease[0], (long long)ids[1], lease[1]);
	res = cJSON_GetObjectItem(r, "results");
	if (!json_bool(cJSON_GetArrayItem(res, 0), "duplicate", 0) ||
	    !json_bool(cJSON_GetArrayItem(res, 1), "ok", 0) ||
	    json_bool(cJSON_GetArrayItem(res, 1), "duplicate", 1))
		fail_msg("second batch: got %s, want duplicate then ok", json_print(res));
	/* max larger than what is ready: the one left; then an empty list, not null. */
	r = call(f, 0,
	         "\"type\":\"claim\",\"kinds\":[\"b\"],\"worker\":\"w\",\"wait_ms\":0,"
	         "\"max\":64");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "jobs")), 1);
	r = call(f, 0,
	         "\"type\":\"claim\",\"kinds\":[\"b\"],\"worker\":\"w\",\"wait_ms\":0,"
	         "\"max\":64");
	if (!cJSON_IsArray(cJSON_GetObjectItem(r, "jobs")) ||
	    cJSON_GetArraySize(cJSON_GetObjectItem(r, "jobs")) != 0)
		fail_msg("claim with nothing ready: got %s, want jobs:[]", json_print(r));
	struct wire_msg m = {0};
	assert_int_equal(
	    wire_decode("{\"v\":1,\"type\":\"claim\",\"id\":\"p\",\"kinds\":[\"b\"],"
	                "\"worker\":\"w\",\"wait_ms\":5,\"max\":3}",
	                strlen("{\"v\":1,\"type\":\"claim\",\"id\":\"p\",\"kinds\":[\"b\"],"
	                       "\"worker\":\"w\",\"wait_ms\":5,\"max\":3}"),
	                &m, (char[64]){0}, 64),
	    0);
	cJSON *none = handle_claim_none(&m);
	if (!cJSON_IsArray(cJSON_GetObjectItem(none, "jobs")) || cJSON_GetObjectItem(none, "job"))
		fail_msg("parked batched claim timing out: got %s, want jobs:[]", json_print(none));
	cJSON_Delete(none);
	wire_msg_free(&m);
	check_invariants(f, "batched");
}

/* An alert incident on service with an optional Alertmanager group key; the reply's incident. */
static int64_t submit_alert(struct fx *f, const char *key, const char *service, const char *gk,
                            const char *source)
{
	char labels[128] = "";
	if (gk)
		snprintf(labels, sizeof(labels), ",\"labels\":{\"group_key\":\"%s\"}", gk);
	cJSON *r = call(f, 0,
	                "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"%s\",\"spec\":{"
	                "\"title\":\"%s is slow\",\"service\":\"%s\",\"severity\":\"high\","
	                "\"source\":\"%s\"%s}",
	                key, service, service, source, labels);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
	return json_int(r, "incident", 0);
}

/* Alerts on one service, one Alertmanager group or a neighbour in [services] join one incident. */
static void test_grouping(void **state)
{
	struct fx *f = *state;
	char bad[64];
	f->q.conf.group.window_ms = 600000;
	assert_int_equal(
	    group_sources_parse("alertmanager, watch", &f->q.conf.group.sources, bad, sizeof(bad)),
	    0);
	assert_int_equal(
	    group_sources_parse("alertmanager slak", &f->q.conf.group.sources, bad, sizeof(bad)),
	    -1);
	assert_string_equal(bad, "slak");
	assert_int_equal(
	    group_sources_parse("alertmanager watch", &f->q.conf.group.sources, bad, sizeof(bad)),
	    0);
	assert_int_equal(group_edge_add(&f->q.conf.group, "checkout", "payment"), 0);
	assert_true(group_related(&f->q.conf.group, "payment", "checkout"));
	assert_false(group_related(&f->q.conf.group, "payment", "catalogue"));

	int64_t a = submit_alert(f, "am:1", "checkout", "g1", "alertmanager");
	assert_true(a > 0);
	/* Same service: joins, not a new incident. */
	int64_t b = submit_alert(f, "am:2", "checkout", NULL, "alertmanager");
	assert_int_equal(b, a);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(f->last, "grouped")));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(f->last, "created")));
	/* That request resent with its own wire id: the same answer, grouped. */
	char grouped_id[32];
	snprintf(grouped_id, sizeof(grouped_id), "t%d", f->calls);
	f->resend = grouped_id;
	assert_int_equal(submit_alert(f, "am:2", "checkout", NULL, "alertmanager"), a);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(f->last, "grouped")));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(f->last, "created")));
	/* A dependency of it (from [services]): joins. */
	assert_int_equal(submit_alert(f, "am:3", "payment", NULL, "watch"), a);
	/* The same group key on another service: joins. */
	assert_int_equal(submit_alert(f, "am:4", "catalogue", "g1", "alertmanager"), a);
	/* Unrelated service and group: a new incident. */
	int64_t c = submit_alert(f, "am:5", "search", "g2", "alertmanager");
	assert_true(c != a && c > 0);
	/* A person's declaration is not grouped (slack is not in group_sources). */
	int64_t d = submit_alert(f, "sl:1", "checkout", NULL, "slack");
	assert_true(d != a && d != c);
	/* A retry of a grouped notification answers with the incident it joined, nothing new. */
	assert_int_equal(submit_alert(f, "am:2", "checkout", NULL, "alertmanager"), a);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM incidents"), 3);
	/* The count and the alerts are on the incident, and the thread got one update each. */
	assert_int_equal(ro_int(f,
	                        "SELECT json_extract(spec, '$.grouped.count') FROM incidents "
	                        "WHERE id=%lld",
	                        (long long)a),
	                 4);
	assert_int_equal(ro_int(f,
	                        "SELECT json_array_length(spec, '$.grouped.alerts') FROM incidents "
	                        "WHERE id=%lld",
	                        (long long)a),
	                 3);
	assert_int_equal(ro_int(f,
	                        "SELECT count(*) FROM events WHERE incident=%lld AND "
	                        "name='incident.updated' AND data LIKE '%%grouped into%%'",
	                        (long long)a),
	                 3);
	/* After the window a related alert opens its own incident. */
	f->q.now += 600001;
	int64_t e = submit_alert(f, "am:6", "checkout", NULL, "alertmanager");
	assert_true(e != a && e > d);
	/* Grouping off: every alert opens its own incident. */
	f->q.conf.group.window_ms = 0;
	int64_t g = submit_alert(f, "am:7", "checkout", NULL, "alertmanager");
	assert_true(g > e);
	check_invariants(f, "grouping");
}

/* Old finished jobs, standalone events and keys go; incidents and timelines stay. */
static void test_retention(void **state)
{
	struct fx *f = *state;
	f->q.conf.retain = (struct retain_conf){
	    .jobs_ms = 1000, .events_ms = 1000, .keys_ms = 5000, .interval_ms = 100};
	int64_t inc = submit_alert(f, "k-inc", "checkout", NULL, "cli");
	for (int i = 0; i < 3; i++) {
		cJSON *r = call(f, 0,
		                "\"type\":\"submit\",\"what\":\"job\",\"key\":\"j%d\","
		                "\"job\":{\"kind\":\"bench\",\"input\":{}}",
		                i);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
		r = call(f, 0,
		         "\"type\":\"claim\",\"kinds\":[\"bench\"],\"worker\":\"w\",\"wait_ms\":0");
		const cJSON *j = cJSON_GetObjectItem(r, "job");
		int64_t id = json_int(j, "id", 0);
		char lease[64];
		str_copy(lease, sizeof(lease), json_str(j, "lease"));
		r = call(f, 0,
		         "\"type\":\"fail\",\"job\":%lld,\"lease\":\"%s\",\"error\":\"x\","
		         "\"retryable\":false",
		         (long long)id, lease);
		(void)r;
	}
	int64_t jobs = ro_int(f, "SELECT count(*) FROM jobs");
	int64_t inc_events =
	    ro_int(f, "SELECT count(*) FROM events WHERE incident=%lld", (long long)inc);
	assert_true(ro_int(f, "SELECT count(*) FROM events WHERE incident=0") > 0);
	/* Mark the standalone jobs finished, as a worker's complete would. */
	sqlite3 *rw;
	sqlite3_open(f->path, &rw);
	sqlite3_exec(rw, "UPDATE jobs SET state='done' WHERE incident=0", NULL, NULL, NULL);
	sqlite3_close(rw);

	/* Not yet old enough: nothing goes. */
	f->q.now += 500;
	assert_int_equal(store_begin(f->q.st), 0);
	assert_int_equal(retention_run(&f->q), 0);
	assert_int_equal(store_commit(f->q.st), 0);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM jobs"), jobs);

	f->q.now += 1000;
	f->q.next_prune_ms = 0;
	assert_int_equal(store_begin(f->q.st), 0);
	assert_int_equal(retention_run(&f->q), 0);
	assert_int_equal(store_commit(f->q.st), 0);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM jobs WHERE incident=0"), 0);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM events WHERE incident=0"), 0);
	/* The incident, its jobs and its whole timeline stay; keys are younger than 5 s. */
	assert_int_equal(ro_int(f, "SELECT count(*) FROM incidents"), 1);
	assert_int_equal(
	    ro_int(f, "SELECT count(*) FROM events WHERE incident=%lld", (long long)inc),
	    inc_events);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM idempotency"), 4);
	assert_int_equal((int64_t)f->q.pruned_jobs, 3);

	f->q.now += 5000;
	f->q.next_prune_ms = 0;
	assert_int_equal(store_begin(f->q.st), 0);
	assert_int_equal(retention_run(&f->q), 0);
	assert_int_equal(store_commit(f->q.st), 0);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM idempotency"), 0);
	check_invariants(f, "retention");
}

/* A filtered alert (bot/intake.c): an event of incident 0, once per key; service only. */
static void test_filtered_alert(void **state)
{
	struct fx *f = *state;
	const char *req = "\"type\":\"command\",\"action\":\"filtered\",\"user\":\"generic\","
	                  "\"surface\":\"generic\",\"key\":\"c1:filtered\",\"note\":\"below\","
	                  "\"alert\":{\"name\":\"Cache slow\",\"severity\":\"low\"}";
	cJSON *r = call(f, 0, "%s", req);
	assert_true(json_bool(r, "ok", 0));
	r = call(f, 0, "%s", req); /* Alertmanager's retry */
	assert_true(json_bool(r, "ok", 0));
	assert_int_equal(ro_int(f, "SELECT count(*) FROM events WHERE incident=0 AND "
	                           "name='alert.filtered' AND data LIKE '%%Cache slow%%'"),
	                 1);
	assert_int_equal(ro_int(f, "SELECT count(*) FROM incidents"), 0);
	f->peer.kind = PEER_LOCAL; /* opsbotctl may not make one up */
	snprintf(f->peer.account, sizeof(f->peer.account), "alice");
	r = call(f, 0,
	         "\"type\":\"command\",\"action\":\"filtered\",\"user\":\"x\","
	         "\"surface\":\"cli\",\"alert\":{\"name\":\"fake\"}");
	assert_false(json_bool(r, "ok", 1));
	assert_int_equal(ro_int(f, "SELECT count(*) FROM events WHERE name='alert.filtered'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scenarios),
	    cmocka_unit_test_setup_teardown(test_submit_and_standalone_jobs, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_batched_claim_and_complete, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_batched_submit, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_grouping, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_retention, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_filtered_alert, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
