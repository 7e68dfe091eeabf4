/* fake_discord_test.c: unit tests of fake-discord's REST and Gateway logic (no sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dgw.h"
#include "drest.h"
#include "dstate.h"
#include "json.h"
#include "mem.h"

#define TOKEN "unit-token"
#define UA    "DiscordBot (https://example.invalid, 1)"
#define AUTH  "Bot " TOKEN

static struct dstate st;

static int setup(void **state)
{
	(void)state;
	struct dconfig cfg = {.heartbeat_ms = 1000,
	                      .interaction_deadline_ms = 3000,
	                      .bucket_limit = 5,
	                      .bucket_window_ms = 60000,
	                      .global_limit = 1000};
	str_copy(cfg.token, sizeof cfg.token, TOKEN);
	str_copy(cfg.app_id, sizeof cfg.app_id, "111");
	str_copy(cfg.guild_id, sizeof cfg.guild_id, "222");
	dstate_init(&st, &cfg);
	str_copy(st.base_ws, sizeof st.base_ws, "ws://127.0.0.1:1");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dstate_free(&st);
	return 0;
}

static int callq(const char *method, const char *path, const char *query, const char *body,
                 cJSON **out, struct drest_resp *keep);

/* One request; returns status, body parsed into *out (may be NULL). */
static int call(const char *method, const char *path, const char *body, cJSON **out,
                struct drest_resp *keep)
{
	return callq(method, path, "", body, out, keep);
}

static int callq(const char *method, const char *path, const char *query, const char *body,
                 cJSON **out, struct drest_resp *keep)
{
	struct drest_req req = {.method = method,
	                        .path = path,
	                        .query = query,
	                        .authorization = AUTH,
	                        .user_agent = UA,
	                        .content_type = "application/json",
	                        .body = body ? body : "",
	                        .body_len = body ? strlen(body) : 0};
	struct drest_resp r;
	memset(&r, 0, sizeof r);
	drest_handle(&st, &req, &r);
	if (out) {
		*out = NULL;
		if (r.body.len) {
			char err[128];
			json_parse(r.body.data, r.body.len, out, err, sizeof err);
		}
	}
	int status = r.status;
	if (keep)
		*keep = r;
	else
		buf_free(&r.body);
	return status;
}

static int atoi_safe(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

static const char *ops_id(void)
{
	return dstate_chan_by_name(&st, "ops")->id;
}

/* Table: message bodies and the status and error code / error path they get. */
static void test_message_limits(void **state)
{
	(void)state;
	st.cfg.bucket_limit = 100; /* more cases than the bucket of 5 */
	char big[2100];
	memset(big, 'x', 2001);
	big[2001] = 0;
	char body_big[2200];
	snprintf(body_big, sizeof body_big, "{\"content\":\"%s\"}", big);
	struct buf rows = {0}, buttons = {0};
	buf_appendf(&rows, "{\"content\":\"x\",\"components\":[");
	buf_appendf(&buttons, "{\"content\":\"x\",\"components\":[{\"type\":1,\"components\":[");
	for (int i = 0; i < 6; i++) {
		buf_appendf(&rows,
		            "%s{\"type\":1,\"components\":[{\"type\":2,\"style\":1,\"label\":\"b\","
		            "\"custom_id\":\"c%d\"}]}",
		            i ? "," : "", i);
		buf_appendf(&buttons,
		            "%s{\"type\":2,\"style\":1,\"label\":\"b\",\"custom_id\":\"c%d\"}",
		            i ? "," : "", i);
	}
	buf_appendf(&rows, "]}");
	buf_appendf(&buttons, "]}]}");
	const char *six_rows = rows.data, *six_buttons = buttons.data;
	struct {
		const char *name;
		const char *body;
		int status;
		int code;
		const char *path; /* dotted path into errors that must exist */
	} cases[] = {
	    {"plain", "{\"content\":\"hello\"}", 200, 0, NULL},
	    {"empty", "{\"content\":\"\"}", 400, 50006, NULL},
	    {"too long", body_big, 400, 50035, "content"},
	    {"six rows", six_rows, 400, 50035, "components"},
	    {"six buttons", six_buttons, 400, 50035, "components.0.components"},
	    {"dup custom_id",
	     "{\"components\":[{\"type\":1,\"components\":[{\"type\":2,\"style\":1,\"label\":\"a\","
	     "\"custom_id\":\"x\"},{\"type\":2,\"style\":4,\"label\":\"b\",\"custom_id\":\"x\"}]}]"
	     "}",
	     400, 50035, "components.0.components.1.custom_id"},
	    {"embed ok", "{\"embeds\":[{\"title\":\"t\",\"description\":\"d\"}]}", 200, 0, NULL},
	    {"field without value", "{\"embeds\":[{\"fields\":[{\"name\":\"n\"}]}]}", 400, 50035,
	     "embeds.0.fields.0.value"},
	};
	char path[96];
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages", ops_id());
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *got = NULL;
		int status = call("POST", path, cases[i].body, &got, NULL);
		if (status != cases[i].status)
			fail_msg("%s: status got %d want %d", cases[i].name, status,
			         cases[i].status);
		if (cases[i].code && json_int(got, "code", -1) != cases[i].code)
			fail_msg("%s: code got %lld want %d", cases[i].name,
			         (long long)json_int(got, "code", -1), cases[i].code);
		if (cases[i].path) {
			const cJSON *node = cJSON_GetObjectItemCaseSensitive(got, "errors");
			char p[96];
			snprintf(p, sizeof p, "%s", cases[i].path);
			char *save = NULL;
			for (char *t = strtok_r(p, ".", &save); t && node;
			     t = strtok_r(NULL, ".", &save))
				node = cJSON_GetObjectItemCaseSensitive(node, t);
			if (!node || !cJSON_GetObjectItemCaseSensitive(node, "_errors"))
				fail_msg("%s: errors.%s._errors missing", cases[i].name,
				         cases[i].path);
		}
		cJSON_Delete(got);
	}
	buf_free(&rows);
	buf_free(&buttons);
}

static void test_threads(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages", ops_id());
	cJSON *m = NULL;
	assert_int_equal(call("POST", path, "{\"content\":\"incident\"}", &m, NULL), 200);
	const char *mid = json_str(m, "id");
	assert_non_null(mid);
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages/%s/threads", ops_id(), mid);
	cJSON *t = NULL;
	int s1 = call("POST", path, "{\"name\":\"incident 1\",\"auto_archive_duration\":1440}", &t,
	              NULL);
	if (s1 != 201)
		fail_msg("first thread: status got %d want 201", s1);
	if (strcmp(json_str(t, "id"), mid) != 0)
		fail_msg("thread id got %s want message id %s", json_str(t, "id"), mid);
	if (json_int(t, "type", 0) != 11)
		fail_msg("thread type got %lld want 11", (long long)json_int(t, "type", 0));
	cJSON *e = NULL;
	int s2 = call("POST", path, "{\"name\":\"again\"}", &e, NULL);
	if (s2 != 400 || json_int(e, "code", 0) != 160004)
		fail_msg("second thread: got %d/%lld want 400/160004", s2,
		         (long long)json_int(e, "code", 0));
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages", mid);
	cJSON *tm = NULL;
	assert_int_equal(call("POST", path, "{\"content\":\"step\"}", &tm, NULL), 200);
	if (strcmp(json_str(tm, "channel_id"), mid) != 0)
		fail_msg("thread message channel got %s want %s", json_str(tm, "channel_id"), mid);
	cJSON_Delete(m);
	cJSON_Delete(t);
	cJSON_Delete(e);
	cJSON_Delete(tm);
}

static void test_auth_and_rate_limit(void **state)
{
	(void)state;
	struct drest_req req = {.method = "GET",
	                        .path = "/api/v10/gateway/bot",
	                        .query = "",
	                        .authorization = "Bot wrong",
	                        .user_agent = UA};
	struct drest_resp r;
	memset(&r, 0, sizeof r);
	drest_handle(&st, &req, &r);
	if (r.status != 401)
		fail_msg("bad token: got %d want 401", r.status);
	buf_free(&r.body);
	/* bucket_limit is 5 in this setup: the sixth call in the window is a 429. */
	int statuses[6];
	for (int i = 0; i < 6; i++) {
		struct drest_resp k;
		statuses[i] = call("GET", "/api/v10/gateway/bot", NULL, NULL, &k);
		if (i == 5) {
			cJSON *b = NULL;
			char err[64];
			json_parse(k.body.data, k.body.len, &b, err, sizeof err);
			if (json_num(b, "retry_after", -1) <= 0 || json_bool(b, "global", 1) != 0)
				fail_msg("429 body got %s want retry_after>0 global false",
				         k.body.data);
			int has_bucket = 0;
			for (int h = 0; h < k.nheaders; h++)
				has_bucket |= strcmp(k.hname[h], "X-RateLimit-Bucket") == 0;
			if (!has_bucket)
				fail_msg("429 without X-RateLimit-Bucket");
			cJSON_Delete(b);
		}
		buf_free(&k.body);
	}
	for (int i = 0; i < 5; i++)
		if (statuses[i] != 200)
			fail_msg("call %d: got %d want 200", i, statuses[i]);
	if (statuses[5] != 429)
		fail_msg("call 6: got %d want 429", statuses[5]);
	/* Forced global 429. */
	st.force_global_n = 1;
	cJSON *g = NULL;
	char path[128];
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages", ops_id());
	int s = call("POST", path, "{\"content\":\"x\"}", &g, NULL);
	if (s != 429 || !json_bool(g, "global", 0))
		fail_msg("forced global: got %d global=%d want 429 true", s,
		         json_bool(g, "global", 0));
	cJSON_Delete(g);
}

/* Gateway: identify checks as a table of (payload, expected close code). */
static void test_identify_codes(void **state)
{
	(void)state;
	struct {
		const char *frame;
		int close;
	} cases[] = {
	    {"{\"op\":2,\"d\":{\"token\":\"nope\",\"intents\":1,\"properties\":{}}}", 4004},
	    {"{\"op\":2,\"d\":{\"token\":\"" TOKEN "\",\"intents\":134217728,\"properties\":{}}}",
	     4013},
	    {"{\"op\":2,\"d\":{\"token\":\"" TOKEN "\",\"intents\":32769,\"properties\":{}}}",
	     4014},
	    {"{\"op\":5,\"d\":null}", 4001},
	    {"not json", 4002},
	    {"{\"op\":3,\"d\":{}}", 4003},
	    {"{\"op\":2,\"d\":{\"token\":\"" TOKEN "\",\"intents\":1,\"properties\":{}}}", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dconn *c = dgw_open(&st, "v=10&encoding=json");
		dgw_on_text(&st, c, cases[i].frame, strlen(cases[i].frame));
		if (c->close_code != cases[i].close)
			fail_msg("case %zu (%s): close got %d want %d", i, cases[i].frame,
			         c->close_code, cases[i].close);
		dgw_closed(&st, c, 4000);
		dgw_conn_free(&st, c);
	}
	struct dconn *c = dgw_open(&st, "v=9&encoding=json");
	if (c->close_code != 4012)
		fail_msg("v=9: close got %d want 4012", c->close_code);
	dgw_conn_free(&st, c);
}

static int count_frames(struct dconn *c, const char *needle)
{
	int n = 0;
	for (struct dframe *f = c->out; f; f = f->next)
		n += strstr(f->text, needle) != NULL;
	return n;
}

static void test_resume_replay(void **state)
{
	(void)state;
	struct dconn *c = dgw_open(&st, "v=10&encoding=json");
	const char *id =
	    "{\"op\":2,\"d\":{\"token\":\"" TOKEN "\",\"intents\":513,\"properties\":{}}}";
	dgw_on_text(&st, c, id, strlen(id));
	struct dsess *s = c->sess;
	assert_non_null(s);
	if (count_frames(c, "\"READY\"") != 1 || count_frames(c, "\"GUILD_CREATE\"") != 1)
		fail_msg("after identify: want READY and GUILD_CREATE");
	int64_t seen = s->seq; /* the client saw everything so far */
	dgw_closed(&st, c, 0); /* dropped: no close frame */
	dgw_conn_free(&st, c);
	/* Two interactions while offline. */
	for (int i = 0; i < 2; i++) {
		struct drest_resp r;
		memset(&r, 0, sizeof r);
		struct drest_req q = {
		    .method = "POST",
		    .path = "/_fake/interactions",
		    .query = "",
		    .body = "{\"kind\":\"command\",\"options\":[{\"name\":\"help\",\"type\":1}]}"};
		q.body_len = strlen(q.body);
		drest_handle(&st, &q, &r);
		if (r.status != 200)
			fail_msg("inject %d: got %d (%s)", i, r.status, r.body.data);
		buf_free(&r.body);
	}
	struct dconn *c2 = dgw_open(&st, "v=10&encoding=json");
	char resume[256];
	snprintf(resume, sizeof resume,
	         "{\"op\":6,\"d\":{\"token\":\"%s\",\"session_id\":\"%s\",\"seq\":%lld}}", TOKEN,
	         s->id, (long long)seen);
	dgw_on_text(&st, c2, resume, strlen(resume));
	int got = count_frames(c2, "INTERACTION_CREATE");
	if (got != 2)
		fail_msg("replayed interactions got %d want 2", got);
	if (count_frames(c2, "\"RESUMED\"") != 1)
		fail_msg("RESUMED missing after replay");
	/* RESUMED comes after the replayed events. */
	if (!strstr(c2->out_last->text, "RESUMED"))
		fail_msg("last frame got %s want RESUMED", c2->out_last->text);
	/* A resume of an unknown session is op 9 d:false. */
	struct dconn *c3 = dgw_open(&st, "v=10&encoding=json");
	const char *bad =
	    "{\"op\":6,\"d\":{\"token\":\"" TOKEN "\",\"session_id\":\"nope\",\"seq\":1}}";
	dgw_on_text(&st, c3, bad, strlen(bad));
	if (count_frames(c3, "\"op\":9,\"d\":false") != 1)
		fail_msg("unknown session: want op 9 d:false, last frame %s", c3->out_last->text);
	dgw_conn_free(&st, c2);
	dgw_conn_free(&st, c3);
}

static void test_callback_rules(void **state)
{
	(void)state;
	struct dconn *c = dgw_open(&st, "v=10&encoding=json");
	const char *id =
	    "{\"op\":2,\"d\":{\"token\":\"" TOKEN "\",\"intents\":1,\"properties\":{}}}";
	dgw_on_text(&st, c, id, strlen(id));
	struct drest_resp r;
	memset(&r, 0, sizeof r);
	struct drest_req q = {.method = "POST",
	                      .path = "/_fake/interactions",
	                      .query = "",
	                      .body = "{\"kind\":\"command\"}"};
	q.body_len = strlen(q.body);
	drest_handle(&st, &q, &r);
	cJSON *o = NULL;
	char err[64];
	json_parse(r.body.data, r.body.len, &o, err, sizeof err);
	buf_free(&r.body);
	char path[256];
	snprintf(path, sizeof path, "/api/v10/interactions/%s/%s/callback", json_str(o, "id"),
	         json_str(o, "token"));
	struct {
		const char *body;
		int status;
		int code;
	} cases[] = {
	    {"{\"type\":6}", 400, 50035},                           /* component-only type */
	    {"{\"type\":4,\"data\":{\"content\":\"ok\"}}", 204, 0}, /* the answer */
	    {"{\"type\":4,\"data\":{\"content\":\"again\"}}", 400, 40060},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *got = NULL;
		int s = call("POST", path, cases[i].body, &got, NULL);
		if (s != cases[i].status ||
		    (cases[i].code && json_int(got, "code", 0) != cases[i].code))
			fail_msg("callback %zu: got %d/%lld want %d/%d", i, s,
			         (long long)json_int(got, "code", 0), cases[i].status,
			         cases[i].code);
		cJSON_Delete(got);
	}
	/* A late callback: make the interaction older than the deadline. */
	memset(&r, 0, sizeof r);
	drest_handle(&st, &q, &r);
	cJSON *o2 = NULL;
	json_parse(r.body.data, r.body.len, &o2, err, sizeof err);
	buf_free(&r.body);
	struct dinter *in = dstate_inter(&st, json_str(o2, "id"));
	in->created_us -= 3100000;
	snprintf(path, sizeof path, "/api/v10/interactions/%s/%s/callback", in->id, in->token);
	cJSON *late = NULL;
	int s = call("POST", path, "{\"type\":5}", &late, NULL);
	if (s != 404 || json_int(late, "code", 0) != 10062)
		fail_msg("late callback: got %d/%lld want 404/10062", s,
		         (long long)json_int(late, "code", 0));
	cJSON_Delete(late);
	cJSON_Delete(o);
	cJSON_Delete(o2);
	dgw_conn_free(&st, c);
}

/* Routes discord.js and bots use that the stand-in once answered 405/404. */
static void test_channel_routes(void **state)
{
	(void)state;
	st.cfg.bucket_limit = 1000;
	char path[160], ids[30][DSTATE_ID_LEN];
	cJSON *o = NULL;
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages", ops_id());
	for (int i = 0; i < 30; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"content\":\"m%d\"}", i);
		assert_int_equal(call("POST", path, body, &o, NULL), 200);
		str_copy(ids[i], sizeof ids[i], json_str(o, "id"));
		cJSON_Delete(o);
	}
	struct {
		const char *query;
		int status, count;
		int first, last; /* indexes into ids: newest first */
	} cases[] = {
	    {"", 200, 30, 29, 0},
	    {"limit=5", 200, 5, 29, 25},
	    {"limit=100", 200, 30, 29, 0},
	    {"limit=0", 400, 0, 0, 0},
	    {"limit=101", 400, 0, 0, 0},
	    {"limit=x", 400, 0, 0, 0},
	    {"before=ID10&limit=3", 200, 3, 9, 7},
	    {"after=ID10&limit=3", 200, 3, 13, 11},
	    {"after=ID27", 200, 2, 29, 28},
	    {"around=ID15&limit=5", 200, 5, 17, 13},
	    {"before=abc", 400, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char q[96];
		const char *at = strstr(cases[i].query, "ID");
		if (at) {
			int k = atoi_safe(at + 2);
			snprintf(q, sizeof q, "%.*s%s%s", (int)(at - cases[i].query),
			         cases[i].query, ids[k], at + 2 + strspn(at + 2, "0123456789"));
		} else {
			str_copy(q, sizeof q, cases[i].query);
		}
		int s = callq("GET", path, q, NULL, &o, NULL);
		if (s != cases[i].status)
			fail_msg("list %s: status %d want %d", cases[i].query, s, cases[i].status);
		if (s == 200) {
			int n = cJSON_GetArraySize(o);
			const char *f = json_str(cJSON_GetArrayItem(o, 0), "id");
			const char *l = json_str(cJSON_GetArrayItem(o, n - 1), "id");
			if (n != cases[i].count || strcmp(f, ids[cases[i].first]) != 0 ||
			    strcmp(l, ids[cases[i].last]) != 0)
				fail_msg("list %s: got %d messages", cases[i].query, n);
		}
		cJSON_Delete(o);
	}
	/* one channel, typing */
	snprintf(path, sizeof path, "/api/v10/channels/%s", ops_id());
	assert_int_equal(call("GET", path, NULL, &o, NULL), 200);
	assert_string_equal(json_str(o, "name"), "ops");
	cJSON_Delete(o);
	snprintf(path, sizeof path, "/api/v10/channels/%s/typing", ops_id());
	assert_int_equal(call("POST", path, NULL, NULL, NULL), 204);
	/* reactions: add (twice is fine), remove */
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages/%s/reactions/%%E2%%9C%%85/@me",
	         ops_id(), ids[3]);
	assert_int_equal(call("PUT", path, NULL, NULL, NULL), 204);
	assert_int_equal(call("PUT", path, NULL, NULL, NULL), 204);
	struct dmsg *m = dstate_msg(&st, ops_id(), ids[3]);
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(m->obj, "reactions");
	assert_int_equal(cJSON_GetArraySize(rs), 1);
	assert_string_equal(
	    json_str(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rs, 0), "emoji"), "name"),
	    "\xe2\x9c\x85");
	assert_int_equal(call("DELETE", path, NULL, NULL, NULL), 204);
	assert_null(cJSON_GetObjectItemCaseSensitive(m->obj, "reactions"));
	/* delete a message */
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages/%s", ops_id(), ids[4]);
	assert_int_equal(call("DELETE", path, NULL, NULL, NULL), 204);
	assert_int_equal(call("GET", path, NULL, &o, NULL), 404);
	assert_int_equal(json_int(o, "code", 0), 10008);
	cJSON_Delete(o);
	/* the application and users */
	assert_int_equal(call("GET", "/api/v10/applications/@me", NULL, &o, NULL), 200);
	assert_string_equal(json_str(o, "id"), "111");
	cJSON_Delete(o);
	assert_int_equal(call("GET", "/api/v10/users/@me", NULL, &o, NULL), 200);
	assert_true(json_bool(o, "bot", 0));
	cJSON_Delete(o);
	assert_int_equal(call("GET", "/api/v10/users/999", NULL, &o, NULL), 404);
	assert_int_equal(json_int(o, "code", 0), 10013);
	cJSON_Delete(o);
}

static cJSON *inject(const char *body)
{
	struct drest_resp r;
	memset(&r, 0, sizeof r);
	struct drest_req q = {
	    .method = "POST", .path = "/_fake/interactions", .query = "", .body = body};
	q.body_len = strlen(body);
	drest_handle(&st, &q, &r);
	cJSON *o = NULL;
	char err[64];
	if (r.status != 200)
		fail_msg("inject %s: %d %s", body, r.status, r.body.data);
	json_parse(r.body.data, r.body.len, &o, err, sizeof err);
	buf_free(&r.body);
	return o;
}

/* op 9 d:true: the connection is no longer logged in until it resumes. */
static void test_invalid_session_resumable(void **state)
{
	(void)state;
	struct dconn *c = dgw_open(&st, "v=10&encoding=json");
	const char *id =
	    "{\"op\":2,\"d\":{\"token\":\"" TOKEN "\",\"intents\":1,\"properties\":{}}}";
	dgw_on_text(&st, c, id, strlen(id));
	struct dsess *s = c->sess;
	assert_non_null(s);
	assert_int_equal(dgw_ctl_invalid_session(&st, 1), 0);
	assert_null(c->sess);
	assert_true(s->valid);
	const char *presence = "{\"op\":3,\"d\":{}}";
	struct dconn *c2 = dgw_open(&st, "v=10&encoding=json");
	char resume[256];
	snprintf(resume, sizeof resume,
	         "{\"op\":6,\"d\":{\"token\":\"%s\",\"session_id\":\"%s\",\"seq\":%lld}}", TOKEN,
	         s->id, (long long)s->seq);
	dgw_on_text(&st, c2, resume, strlen(resume));
	assert_ptr_equal(c2->sess, s);
	assert_int_equal(count_frames(c2, "\"RESUMED\""), 1);
	/* the old connection, not logged in, is refused anything but auth */
	dgw_on_text(&st, c, presence, strlen(presence));
	assert_int_equal(c->close_code, 4003);
	dgw_closed(&st, c, 4003);
	dgw_conn_free(&st, c);
	dgw_conn_free(&st, c2);
}

/* MODAL_SUBMIT interactions and what may answer them. */
static void test_modal_submit(void **state)
{
	(void)state;
	struct dconn *c = dgw_open(&st, "v=10&encoding=json");
	const char *id =
	    "{\"op\":2,\"d\":{\"token\":\"" TOKEN "\",\"intents\":1,\"properties\":{}}}";
	dgw_on_text(&st, c, id, strlen(id));
	cJSON *o = inject("{\"kind\":\"modal\",\"custom_id\":\"reject:7\","
	                  "\"values\":{\"reason\":\"too risky\"},\"user\":{\"id\":\"42\"}}");
	assert_int_equal(count_frames(c, "\"type\":5"), 1);
	assert_int_equal(count_frames(c, "\"value\":\"too risky\""), 1);
	char path[256];
	snprintf(path, sizeof path, "/api/v10/interactions/%s/%s/callback", json_str(o, "id"),
	         json_str(o, "token"));
	cJSON *got = NULL;
	const char *modal = "{\"type\":9,\"data\":{\"custom_id\":\"m\",\"title\":\"t\","
	                    "\"components\":[{\"type\":1,\"components\":[{\"type\":4,"
	                    "\"custom_id\":\"r\",\"label\":\"R\",\"style\":1}]}]}}";
	assert_int_equal(call("POST", path, modal, &got, NULL), 400);
	cJSON_Delete(got);
	assert_int_equal(call("POST", path, "{\"type\":6}", &got, NULL), 400);
	cJSON_Delete(got);
	assert_int_equal(
	    call("POST", path, "{\"type\":4,\"data\":{\"content\":\"noted\"}}", NULL, NULL), 204);
	/* the person who submitted is known to GET /users/{id} */
	assert_int_equal(call("GET", "/api/v10/users/42", NULL, &got, NULL), 200);
	cJSON_Delete(got);
	cJSON_Delete(o);
	/* a button's MODAL answer must be well formed */
	o = inject("{\"kind\":\"command\"}");
	snprintf(path, sizeof path, "/api/v10/interactions/%s/%s/callback", json_str(o, "id"),
	         json_str(o, "token"));
	assert_int_equal(call("POST", path, "{\"type\":9,\"data\":{\"title\":\"t\"}}", &got, NULL),
	                 400);
	cJSON_Delete(got);
	assert_int_equal(call("POST", path, modal, NULL, NULL), 204);
	cJSON_Delete(o);
	dgw_conn_free(&st, c);
}

/* ----------------------------------------------------------- file uploads */

/* One multipart request: status; body parsed into *out. */
static int call_mp(const char *path, const char *ctype, const struct buf *body, cJSON **out)
{
	struct drest_req req = {.method = "POST",
	                        .path = path,
	                        .query = "",
	                        .authorization = AUTH,
	                        .user_agent = UA,
	                        .content_type = ctype,
	                        .body = body->data ? body->data : "",
	                        .body_len = body->len};
	struct drest_resp r;
	memset(&r, 0, sizeof r);
	drest_handle(&st, &req, &r);
	*out = NULL;
	if (r.body.len) {
		char err[128];
		json_parse(r.body.data, r.body.len, out, err, sizeof err);
	}
	buf_free(&r.body);
	return r.status;
}

#define BND  "xYz-0penBoundary"
#define MPCT "multipart/form-data; boundary=" BND

static void mp_part(struct buf *b, const char *name, const char *filename, const char *ctype,
                    const void *data, size_t len)
{
	buf_appendf(b, "--" BND "\r\nContent-Disposition: form-data; name=\"%s\"", name);
	if (filename)
		buf_appendf(b, "; filename=\"%s\"", filename);
	buf_appendf(b, "\r\n");
	if (ctype)
		buf_appendf(b, "Content-Type: %s\r\n", ctype);
	buf_appendf(b, "\r\n");
	buf_append(b, data, len);
	buf_appendf(b, "\r\n");
}

static void mp_end(struct buf *b)
{
	buf_appendf(b, "--" BND "--\r\n");
}

/* Errors object has errors.<key>._errors (one level, key may hold dots as path). */
static int has_error_at(const cJSON *got, const char *a, const char *b)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(got, "errors");
	n = cJSON_GetObjectItemCaseSensitive(n, a);
	if (b)
		n = cJSON_GetObjectItemCaseSensitive(n, b);
	return cJSON_GetObjectItemCaseSensitive(n, "_errors") != NULL;
}

static void test_upload(void **state)
{
	(void)state;
	st.cfg.bucket_limit = 100;
	char path[96];
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages", ops_id());
	/* NULs, CRLFs and another boundary in the bytes must come back unchanged */
	static const char pdf[] = "%PDF-1.4\r\n--xYz-other\r\n\0\0binary\xff\r\n%%EOF";
	size_t pdflen = sizeof pdf - 1;
	const char *pj = "{\"content\":\"Summary of incident 7\",\"attachments\":[{\"id\":0,"
	                 "\"filename\":\"incident 7.pdf\",\"description\":\"summary\"}]}";
	struct buf b = {0};
	buf_appendf(&b, "preamble to ignore\r\n");
	mp_part(&b, "payload_json", NULL, "application/json", pj, strlen(pj));
	mp_part(&b, "files[0]", "x.pdf", "application/pdf", pdf, pdflen);
	mp_end(&b);
	cJSON *got = NULL;
	assert_int_equal(call_mp(path, MPCT, &b, &got), 200);
	assert_string_equal(json_str(got, "content"), "Summary of incident 7");
	const cJSON *atts = cJSON_GetObjectItemCaseSensitive(got, "attachments");
	assert_int_equal(cJSON_GetArraySize(atts), 1);
	const cJSON *a = cJSON_GetArrayItem(atts, 0);
	assert_string_equal(json_str(a, "filename"), "incident_7.pdf"); /* renamed, sanitised */
	assert_string_equal(json_str(a, "content_type"), "application/pdf");
	assert_string_equal(json_str(a, "description"), "summary");
	assert_int_equal(json_int(a, "size", -1), (int64_t)pdflen);
	char want_url[200];
	snprintf(want_url, sizeof want_url,
	         "http://127.0.0.1:1/_fake/attachments/%s/incident_7.pdf", json_str(a, "id"));
	assert_string_equal(json_str(a, "url"), want_url);
	/* the control API gives the bytes back, with or without the filename */
	char cpath[160];
	snprintf(cpath, sizeof cpath, "/_fake/attachments/%s", json_str(a, "id"));
	struct drest_resp keep;
	assert_int_equal(call("GET", cpath, NULL, NULL, &keep), 200);
	assert_int_equal(keep.body.len, pdflen);
	assert_memory_equal(keep.body.data, pdf, pdflen);
	buf_free(&keep.body);
	snprintf(cpath, sizeof cpath, "/_fake/attachments/%s/incident_7.pdf", json_str(a, "id"));
	assert_int_equal(call("GET", cpath, NULL, NULL, NULL), 200);
	snprintf(cpath, sizeof cpath, "/_fake/attachments/%s/other.pdf", json_str(a, "id"));
	assert_int_equal(call("GET", cpath, NULL, NULL, NULL), 404);
	assert_int_equal(call("GET", "/_fake/attachments/123", NULL, NULL, NULL), 404);
	/* the stored message (GET) carries the attachment too */
	char mpath[160];
	snprintf(mpath, sizeof mpath, "%s/%s", path, json_str(got, "id"));
	cJSON *m = NULL;
	assert_int_equal(call("GET", mpath, NULL, &m, NULL), 200);
	assert_int_equal(
	    json_int(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "attachments"), 0),
	             "size", -1),
	    (int64_t)pdflen);
	cJSON_Delete(m);
	cJSON_Delete(got);

	/* a file alone (no payload_json, no text) is a message; type guessed from the name */
	buf_reset(&b);
	mp_part(&b, "files[0]", "notes.txt", NULL, "hi", 2);
	mp_end(&b);
	assert_int_equal(call_mp(path, "multipart/form-data; boundary=\"" BND "\"", &b, &got), 200);
	a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(got, "attachments"), 0);
	assert_string_equal(json_str(a, "content_type"), "text/plain; charset=utf-8");
	assert_int_equal(json_int(a, "size", -1), 2);
	cJSON_Delete(got);
	buf_free(&b);
}

static void test_upload_limits(void **state)
{
	(void)state;
	st.cfg.bucket_limit = 100;
	char path[96];
	snprintf(path, sizeof path, "/api/v10/channels/%s/messages", ops_id());
	size_t max = 10u << 20;
	char *big = xcalloc(1, max + 1);
	struct buf b = {0};
	cJSON *got = NULL;
	/* exactly 10 MiB is accepted, one byte more is 413 / 40005 */
	mp_part(&b, "files[0]", "big.bin", "application/octet-stream", big, max);
	mp_end(&b);
	assert_int_equal(call_mp(path, MPCT, &b, &got), 200);
	assert_int_equal(
	    json_int(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(got, "attachments"), 0),
	             "size", -1),
	    (int64_t)max);
	cJSON_Delete(got);
	buf_reset(&b);
	mp_part(&b, "files[0]", "big.bin", "application/octet-stream", big, max + 1);
	mp_end(&b);
	assert_int_equal(call_mp(path, MPCT, &b, &got), 413);
	assert_int_equal(json_int(got, "code", 0), 40005);
	assert_string_equal(json_str(got, "message"), "Request entity too large");
	cJSON_Delete(got);
	free(big);

	/* eleven files: 50035 under files */
	buf_reset(&b);
	for (int i = 0; i < 11; i++) {
		char name[32];
		snprintf(name, sizeof name, "files[%d]", i);
		mp_part(&b, name, "f.txt", NULL, "x", 1);
	}
	mp_end(&b);
	assert_int_equal(call_mp(path, MPCT, &b, &got), 400);
	assert_int_equal(json_int(got, "code", 0), 50035);
	assert_true(has_error_at(got, "files", NULL));
	cJSON_Delete(got);

	/* malformed bodies: 50035 with the reason under _misc, nothing stored */
	struct dchan *ops = dstate_chan_by_name(&st, "ops");
	int before = ops->nmsgs;
	struct {
		const char *name, *ctype, *body;
		int status, code;
		const char *e1, *e2;
	} cases[] = {
	    {"no boundary", "multipart/form-data", "--" BND "--\r\n", 400, 50035, "_misc", NULL},
	    {"not closed", MPCT,
	     "--" BND "\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nhi", 400, 50035,
	     "_misc", NULL},
	    {"no boundary in body", MPCT, "just text", 400, 50035, "_misc", NULL},
	    {"part without name", MPCT,
	     "--" BND "\r\nContent-Disposition: form-data\r\n\r\nhi\r\n--" BND "--", 400, 50035,
	     "_misc", NULL},
	    {"part without headers", MPCT, "--" BND "\r\n\r\nhi\r\n--" BND "--", 400, 50035,
	     "_misc", NULL},
	    {"LF only", MPCT,
	     "--" BND "\nContent-Disposition: form-data; name=\"content\"\n\nhi\n--" BND "--", 400,
	     50035, "_misc", NULL},
	    {"bad payload_json", MPCT,
	     "--" BND
	     "\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{nope\r\n--" BND
	     "--",
	     400, 50109, NULL, NULL},
	    {"unknown attachment", MPCT,
	     "--" BND "\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n"
	     "{\"content\":\"x\",\"attachments\":[{\"id\":3}]}\r\n--" BND "--",
	     400, 50035, "attachments", "0"},
	    {"file without filename", MPCT,
	     "--" BND "\r\nContent-Disposition: form-data; name=\"files[0]\"\r\n\r\nx\r\n--" BND
	     "--",
	     400, 50035, "files[0]", NULL},
	    {"empty message", MPCT,
	     "--" BND "\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n"
	     "{\"content\":\"\"}\r\n--" BND "--",
	     400, 50006, NULL, NULL},
	    {"content part", MPCT,
	     "--" BND "\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nhello\r\n--" BND
	     "--",
	     200, 0, NULL, NULL},
	};
	int ok = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_reset(&b);
		buf_appendf(&b, "%s", cases[i].body);
		int status = call_mp(path, cases[i].ctype, &b, &got);
		if (status != cases[i].status)
			fail_msg("%s: status got %d want %d", cases[i].name, status,
			         cases[i].status);
		if (cases[i].code && json_int(got, "code", -1) != cases[i].code)
			fail_msg("%s: code got %lld want %d", cases[i].name,
			         (long long)json_int(got, "code", -1), cases[i].code);
		if (cases[i].e1 && !has_error_at(got, cases[i].e1, cases[i].e2))
			fail_msg("%s: errors.%s._errors missing", cases[i].name, cases[i].e1);
		ok += status == 200;
		cJSON_Delete(got);
	}
	assert_int_equal(ops->nmsgs, before + ok);

	/* control: a smaller per-file limit; 429s forced on file uploads only */
	st.file_max = 4;
	buf_reset(&b);
	mp_part(&b, "files[0]", "f.txt", NULL, "12345", 5);
	mp_end(&b);
	assert_int_equal(call_mp(path, MPCT, &b, &got), 413);
	cJSON_Delete(got);
	st.file_max = 0;
	st.force_route_n = 1;
	st.force_multipart = 1;
	assert_int_equal(call("POST", path, "{\"content\":\"json\"}", NULL, NULL), 200);
	assert_int_equal(call_mp(path, MPCT, &b, &got), 429);
	assert_true(json_num(got, "retry_after", -1) > 0);
	cJSON_Delete(got);
	assert_int_equal(call_mp(path, MPCT, &b, &got), 200);
	cJSON_Delete(got);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_message_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_and_rate_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identify_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callback_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_routes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_session_resumable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modal_submit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upload_limits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
