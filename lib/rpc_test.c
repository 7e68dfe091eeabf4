/* rpc_test.c: rpc calls and the subscriber against real NNG REP and PUB sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "mem.h"
#include "rpc.h"
#include "wire.h"

/*
 * The test server answers by the request id's prefix:
 *   ok-*      ok:true, echoing "n"
 *   err-*     ok:false error not_found
 *   drop1-*   says nothing the first time it sees an id, then ok:true
 *   garbage-* a reply that is not JSON
 *   wrongid-* ok:true under another id
 *   key-*     ok:true with the request's "key" (or none) echoed
 */
struct server {
	nng_socket sock;
	pthread_t thread;
	char url[128];
	int seen_drop; /* times a drop1 request arrived */
	char drop_ids[2][64];
};

static void *server_run(void *arg)
{
	struct server *s = arg;
	for (;;) {
		nng_msg *msg;
		if (nng_recvmsg(s->sock, &msg, 0) != 0)
			return NULL;
		cJSON *req = NULL;
		char err[128];
		if (json_parse(nng_msg_body(msg), nng_msg_len(msg), &req, err, sizeof(err)) < 0) {
			nng_msg_free(msg);
			continue;
		}
		const char *id = json_str(req, "id");
		struct wire_msg m = {.v = 1};
		str_copy(m.id, sizeof(m.id), id);
		cJSON *rep = NULL;
		if (strncmp(id, "drop1-", 6) == 0) {
			if (s->seen_drop < 2)
				str_copy(s->drop_ids[s->seen_drop], sizeof(s->drop_ids[0]), id);
			if (s->seen_drop++ == 0) {
				nng_msg_free(msg);
				cJSON_Delete(req);
				continue;
			}
			rep = wire_reply_ok(&m);
		} else if (strncmp(id, "err-", 4) == 0) {
			rep = wire_reply_err(&m, "not_found", "no incident %d", 9);
		} else if (strncmp(id, "key-", 4) == 0) {
			rep = wire_reply_ok(&m);
			if (json_str(req, "key"))
				json_add_str(rep, "key", json_str(req, "key"));
		} else if (strncmp(id, "wrongid-", 8) == 0) {
			str_copy(m.id, sizeof(m.id), "someone-else");
			rep = wire_reply_ok(&m);
		} else {
			rep = wire_reply_ok(&m);
			json_add_int(rep, "n", json_int(req, "n", -1));
		}
		char *body = strncmp(id, "garbage-", 8) == 0 ? xstrdup("<html>") : json_print(rep);
		nng_msg_clear(msg);
		nng_msg_append(msg, body, strlen(body));
		free(body);
		cJSON_Delete(rep);
		cJSON_Delete(req);
		if (nng_sendmsg(s->sock, msg, 0) != 0)
			nng_msg_free(msg);
	}
}

static int server_setup(void **state)
{
	struct server *s = xcalloc(1, sizeof(*s));
	snprintf(s->url, sizeof(s->url), "ipc:///tmp/opsbot-rpc-test-%d.ipc", (int)getpid());
	assert_int_equal(nng_rep0_open(&s->sock), 0);
	assert_int_equal(nng_listen(s->sock, s->url, NULL, 0), 0);
	pthread_create(&s->thread, NULL, server_run, s);
	*state = s;
	return 0;
}

static int server_teardown(void **state)
{
	struct server *s = *state;
	nng_close(s->sock);
	pthread_join(s->thread, NULL);
	free(s);
	return 0;
}

static cJSON *req_with_id(const char *id, int n)
{
	cJSON *q = wire_new(WIRE_QUERY, 0);
	cJSON_ReplaceItemInObject(q, "id", cJSON_CreateString(id));
	json_add_str(q, "what", "stats");
	json_add_int(q, "n", n);
	return q;
}

static void test_calls(void **state)
{
	struct server *s = *state;
	struct rpc *r;
	char err[256] = "";
	assert_int_equal(rpc_open(&r, s->url, err, sizeof(err)), 0);
	static const struct {
		const char *id;
		int timeout_ms, retries;
		int want_rc;
		const char *want_err; /* substring; "" when rc is 0 */
	} cases[] = {
	    {"ok-1", 2000, 0, 0, ""},
	    {"err-1", 2000, 0, -2, "not_found: no incident 9"},
	    {"drop1-1", 500, 4, 0, ""}, /* first attempt unanswered */
	    {"garbage-1", 2000, 0, -1, "bad reply"},
	    {"wrongid-1", 2000, 0, -1, "answers another request"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *q = req_with_id(cases[i].id, (int)i);
		cJSON *rep = NULL;
		err[0] = '\0';
		int rc =
		    rpc_call(r, q, &rep, cases[i].timeout_ms, cases[i].retries, err, sizeof(err));
		if (rc != cases[i].want_rc || !strstr(err, cases[i].want_err))
			fail_msg("case %s: got rc=%d err=%s, want rc=%d err containing %s",
			         cases[i].id, rc, err, cases[i].want_rc, cases[i].want_err);
		if (rc == 0 && strncmp(cases[i].id, "ok-", 3) == 0 &&
		    json_int(rep, "n", -1) != (int64_t)i)
			fail_msg("case %s: got n=%lld, want %zu", cases[i].id,
			         (long long)json_int(rep, "n", -1), i);
		if (rc == -2 && !rep)
			fail_msg("case %s: got no reply with ok:false, want the reply",
			         cases[i].id);
		cJSON_Delete(rep);
		cJSON_Delete(q);
	}
	/* The resend carried the same id as the first attempt. */
	if (s->seen_drop < 2 || strcmp(s->drop_ids[0], s->drop_ids[1]) != 0)
		fail_msg("resend: got %d attempts ids %s/%s, want at least 2 with one id",
		         s->seen_drop, s->drop_ids[0], s->drop_ids[1]);
	rpc_close(r);
}

/* Requests that change something get "rid:<id>" as their key unless they have one. */
static void test_keys(void **state)
{
	struct server *s = *state;
	struct rpc *r;
	char err[256] = "";
	assert_int_equal(rpc_open(&r, s->url, err, sizeof(err)), 0);
	static const struct {
		enum wire_type type;
		const char *key, *want;
	} cases[] = {
	    {WIRE_SUBMIT, NULL, "rid:key-0"},  {WIRE_APPROVE, NULL, "rid:key-1"},
	    {WIRE_COMMAND, NULL, "rid:key-2"}, {WIRE_SUBMIT, "mine", "mine"},
	    {WIRE_QUERY, NULL, NULL},          {WIRE_CLAIM, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *q = wire_new(cases[i].type, 0);
		char id[32];
		snprintf(id, sizeof(id), "key-%zu", i);
		cJSON_ReplaceItemInObject(q, "id", cJSON_CreateString(id));
		if (cases[i].key)
			json_add_str(q, "key", cases[i].key);
		cJSON *rep = NULL;
		assert_int_equal(rpc_call(r, q, &rep, 2000, 0, err, sizeof(err)), 0);
		const char *got = json_str(rep, "key");
		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got && strcmp(got, cases[i].want) != 0))
			fail_msg("%s: got key %s, want %s", wire_type_name(cases[i].type),
			         got ? got : "(none)", cases[i].want ? cases[i].want : "(none)");
		/* The caller's request is not changed. */
		assert_int_equal(cJSON_GetObjectItem(q, "key") != NULL, cases[i].key != NULL);
		cJSON_Delete(rep);
		cJSON_Delete(q);
	}
	rpc_close(r);
}

static void test_no_server(void **state)
{
	(void)state;
	struct rpc *r;
	char err[256] = "";
	assert_int_equal(rpc_open(&r, "ipc:///tmp/opsbot-rpc-test-nobody.ipc", err, sizeof(err)),
	                 0);
	cJSON *q = req_with_id("ok-x", 0), *rep = NULL;
	int rc = rpc_call(r, q, &rep, 100, 1, err, sizeof(err));
	if (rc != -1 || !strstr(err, "after 2 attempt(s)"))
		fail_msg("no server: got rc=%d err=%s, want -1 after 2 attempt(s)", rc, err);
	assert_null(rep);
	cJSON_Delete(q);
	rpc_close(r);
	assert_int_equal(rpc_open(&r, "bogus://x", err, sizeof(err)), -1);
}

struct caller {
	struct rpc *r;
	int base, bad;
};

static void *caller_run(void *arg)
{
	struct caller *c = arg;
	for (int i = 0; i < 50; i++) {
		char id[32];
		snprintf(id, sizeof(id), "ok-%d-%d", c->base, i);
		cJSON *q = req_with_id(id, c->base + i), *rep = NULL;
		char err[256];
		if (rpc_call(c->r, q, &rep, 5000, 0, err, sizeof(err)) != 0 ||
		    json_int(rep, "n", -1) != c->base + i)
			c->bad++;
		cJSON_Delete(rep);
		cJSON_Delete(q);
	}
	return NULL;
}

static void test_threads_share_handle(void **state)
{
	struct server *s = *state;
	struct rpc *r;
	char err[256];
	assert_int_equal(rpc_open(&r, s->url, err, sizeof(err)), 0);
	pthread_t t[4];
	struct caller c[4];
	for (int i = 0; i < 4; i++) {
		c[i] = (struct caller){.r = r, .base = i * 1000};
		pthread_create(&t[i], NULL, caller_run, &c[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (c[i].bad)
			fail_msg("thread %d: got %d wrong replies, want 0", i, c[i].bad);
	}
	rpc_close(r);
}

/* Asynchronous calls: done() runs once per call, on NNG's thread, with its own outcome. */
struct async_seen {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	pthread_t caller;
	int inline_calls; /* done() ran on the thread that called rpc_start */
};

struct async_one {
	struct async_seen *seen;
	struct rpc_async *a;
	int calls;
};

static void async_done(struct rpc_async *a, void *arg)
{
	struct async_one *o = arg;
	struct async_seen *sn = o->seen;
	(void)a;
	pthread_mutex_lock(&sn->mu);
	o->calls++;
	sn->done++;
	if (pthread_equal(pthread_self(), sn->caller))
		sn->inline_calls++;
	pthread_cond_broadcast(&sn->cv);
	pthread_mutex_unlock(&sn->mu);
}

#define NASYNC 40

static void test_async(void **state)
{
	struct server *s = *state;
	struct rpc *r;
	char err[256] = "";
	struct async_seen sn = {.mu = PTHREAD_MUTEX_INITIALIZER,
	                        .cv = PTHREAD_COND_INITIALIZER,
	                        .caller = pthread_self()};
	struct async_one one[NASYNC] = {{0}};
	assert_int_equal(rpc_open(&r, s->url, err, sizeof(err)), 0);
	/* every call in flight at once on one handle; the refused ones by their id */
	for (int i = 0; i < NASYNC; i++) {
		char id[32];
		snprintf(id, sizeof(id), "%s-a%d", i % 4 == 3 ? "err" : "ok", i);
		cJSON *q = req_with_id(id, i);
		one[i].seen = &sn;
		one[i].a = rpc_start(r, q, 5000, 0, async_done, &one[i]);
		cJSON_Delete(q); /* rpc_start keeps its own copy of the bytes */
		if (!rpc_async_running(one[i].a))
			fail_msg("call %d: not sent, want it in flight", i);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&sn.mu);
	while (sn.done < NASYNC && pthread_cond_timedwait(&sn.cv, &sn.mu, &until) == 0)
		;
	pthread_mutex_unlock(&sn.mu);
	if (sn.done != NASYNC)
		fail_msg("async: got %d calls done in 10 s, want %d", sn.done, NASYNC);
	assert_int_equal(sn.inline_calls, 0);
	for (int i = 0; i < NASYNC; i++) {
		cJSON *rep = NULL;
		int rc = rpc_async_result(one[i].a, &rep, err, sizeof(err));
		if (one[i].calls != 1)
			fail_msg("call %d: done ran %d times, want once", i, one[i].calls);
		if (i % 4 == 3) {
			if (rc != -2 || !rep || !strstr(err, "not_found"))
				fail_msg("call %d: got rc=%d err=%s, want -2 not_found", i, rc,
				         err);
		} else if (rc != 0 || json_int(rep, "n", -1) != i) {
			fail_msg("call %d: got rc=%d n=%lld err=%s, want 0 and n=%d", i, rc,
			         (long long)json_int(rep, "n", -1), err, i);
		}
		cJSON_Delete(rep);
		rpc_async_free(one[i].a);
	}
	rpc_close(r);
}

/* A call that cannot be sent is over at once; one freed in flight never calls done. */
static void test_async_not_sent_and_freed(void **state)
{
	(void)state;
	struct rpc *r;
	char err[256] = "";
	struct async_seen sn = {.mu = PTHREAD_MUTEX_INITIALIZER,
	                        .cv = PTHREAD_COND_INITIALIZER,
	                        .caller = pthread_self()};
	struct async_one big = {.seen = &sn}, held = {.seen = &sn};
	assert_int_equal(rpc_open(&r, "ipc:///tmp/opsbot-rpc-test-nobody.ipc", err, sizeof(err)),
	                 0);

	cJSON *q = req_with_id("ok-big", 0), *rep = NULL;
	char *huge = xmalloc(WIRE_MAX_BYTES + 2);
	memset(huge, 'x', WIRE_MAX_BYTES + 1);
	huge[WIRE_MAX_BYTES + 1] = '\0';
	json_add_str(q, "blob", huge);
	free(huge);
	big.a = rpc_start(r, q, 1000, 0, async_done, &big);
	cJSON_Delete(q);
	assert_int_equal(rpc_async_running(big.a), 0);
	assert_int_equal(rpc_async_result(big.a, &rep, err, sizeof(err)), -1);
	assert_null(rep);
	if (!strstr(err, "larger than the limit"))
		fail_msg("too big: got err=%s, want 'larger than the limit'", err);
	rpc_async_free(big.a);

	/* nobody listens: the request waits for a peer until freed */
	q = req_with_id("ok-held", 0);
	held.a = rpc_start(r, q, 60000, 3, async_done, &held);
	cJSON_Delete(q);
	assert_int_equal(rpc_async_running(held.a), 1);
	rpc_async_free(held.a);
	pthread_mutex_lock(&sn.mu);
	int done = sn.done;
	pthread_mutex_unlock(&sn.mu);
	if (done != 0)
		fail_msg("not sent or freed: done ran %d times, want never", done);
	rpc_close(r);
}

static void test_subscriber(void **state)
{
	(void)state;
	char url[128], err[256];
	snprintf(url, sizeof(url), "ipc:///tmp/opsbot-rpc-test-pub-%d.ipc", (int)getpid());
	nng_socket pub;
	assert_int_equal(nng_pub0_open(&pub), 0);
	assert_int_equal(nng_listen(pub, url, NULL, 0), 0);
	struct rpc_sub *s;
	assert_int_equal(rpc_sub_open(&s, url, err, sizeof(err)), 0);
	int fd = rpc_sub_fd(s);
	if (fd < 0)
		fail_msg("sub fd: got %d, want a descriptor", fd);

	/* PUB drops until the subscriber's pipe is up: publish until one arrives. */
	cJSON *ev = NULL;
	for (int seq = 1; seq <= 200 && !ev; seq++) {
		char body[160];
		snprintf(body, sizeof(body),
		         "{\"v\":1,\"type\":\"event\",\"id\":\"e%d\",\"incident\":1,\"seq\":%d,"
		         "\"name\":\"incident.opened\",\"at_ms\":1,\"data\":{}}",
		         seq, seq);
		assert_int_equal(nng_send(pub, body, strlen(body), 0), 0);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20) == 1)
			assert_int_equal(rpc_sub_recv(s, &ev, 1000), 0);
	}
	if (!ev)
		fail_msg("subscriber: got no event after 200 publishes, want one");
	assert_string_equal(json_str(ev, "name"), "incident.opened");
	cJSON_Delete(ev);
	/* Drain anything in flight, then a bad message is skipped, a good one read. */
	while (rpc_sub_recv(s, &ev, 0) == 0)
		cJSON_Delete(ev);
	assert_int_equal(nng_send(pub, "junk", 4, 0), 0);
	const char *good = "{\"v\":1,\"type\":\"event\",\"id\":\"x\",\"seq\":999,\"name\":\"n\","
	                   "\"at_ms\":1,\"data\":{}}";
	assert_int_equal(nng_send(pub, (void *)good, strlen(good), 0), 0);
	/* Earlier publishes may still be on their way: skip those, by name. */
	for (;;) {
		if (rpc_sub_recv(s, &ev, 2000) != 0)
			fail_msg("after junk: got no event, want seq 999");
		const char *name = json_str(ev, "name");
		if (!name || strcmp(name, "incident.opened") != 0)
			break;
		cJSON_Delete(ev);
	}
	assert_int_equal(json_int(ev, "seq", 0), 999);
	cJSON_Delete(ev);
	assert_int_equal(rpc_sub_recv(s, &ev, 50), -1);
	rpc_sub_close(s);
	nng_close(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_calls, server_setup, server_teardown),
	    cmocka_unit_test_setup_teardown(test_keys, server_setup, server_teardown),
	    cmocka_unit_test(test_no_server),
	    cmocka_unit_test_setup_teardown(test_threads_share_handle, server_setup,
	                                    server_teardown),
	    cmocka_unit_test_setup_teardown(test_async, server_setup, server_teardown),
	    cmocka_unit_test(test_async_not_sent_and_freed),
	    cmocka_unit_test(test_subscriber),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
