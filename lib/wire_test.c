/* wire_test.c: strict decoding of every message type, and every way to get one wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "mem.h"
#include "wire.h"

#define ENV "\"v\":1,\"id\":\"r1\",\"incident\":7,\"trace\":\"abc\","

static const struct {
	const char *json;
	enum wire_type type;
} good[] = {
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\",\"key\":\"k1\",\"spec\":{\"title\":\"t\","
     "\"service\":\"api\",\"severity\":\"high\",\"source\":\"cli\",\"summary\":\"s\",\"labels\":{},"
     "\"surface\":{\"kind\":\"slack\",\"channel\":\"C1\",\"user\":\"U1\",\"thread\":\"1.2\"}}}",
     WIRE_SUBMIT},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"detect\",\"input\":{}}}",
     WIRE_SUBMIT},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"key\":\"k\",\"jobs\":[{\"kind\":\"a\"},"
     "{\"kind\":\"b\",\"input\":{\"n\":1},\"key\":\"own\"}]}",
     WIRE_SUBMIT},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"detect\",\"plan\"],\"worker\":\"w1\",\"wait_ms\":100,"
     "\"lease_ms\":500}",
     WIRE_CLAIM},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"detect\"],\"worker\":\"w1\",\"wait_ms\":0,"
     "\"max\":64}",
     WIRE_CLAIM},
    {"{" ENV "\"type\":\"complete\",\"jobs\":[{\"job\":3,\"lease\":\"l\",\"result\":{}},"
     "{\"job\":4,\"lease\":\"m\",\"result\":{\"a\":1}}]}",
     WIRE_COMPLETE},
    {"{" ENV "\"type\":\"heartbeat\",\"job\":3,\"lease\":\"l\"}", WIRE_HEARTBEAT},
    {"{" ENV "\"type\":\"complete\",\"job\":3,\"lease\":\"l\",\"result\":{\"a\":1}}",
     WIRE_COMPLETE},
    {"{" ENV "\"type\":\"fail\",\"job\":3,\"lease\":\"l\",\"error\":\"boom\",\"retryable\":false}",
     WIRE_FAIL},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"user\":\"U\",\"surface\":\"slack\","
     "\"decision\":\"reject\",\"key\":\"x\"}",
     WIRE_APPROVE},
    {"{" ENV
     "\"type\":\"command\",\"action\":\"retry\",\"user\":\"U\",\"surface\":\"cli\",\"job\":4}",
     WIRE_COMMAND},
    {"{" ENV "\"type\":\"query\",\"what\":\"events\",\"since\":0,\"limit\":10}", WIRE_QUERY},
    {"{" ENV "\"type\":\"reply\",\"ok\":true,\"job\":null,\"anything\":[1]}", WIRE_REPLY},
    {"{" ENV "\"type\":\"reply\",\"ok\":false,\"error\":\"not_found\",\"message\":\"m\"}",
     WIRE_REPLY},
    {"{" ENV "\"type\":\"event\",\"seq\":1,\"name\":\"incident.opened\",\"at_ms\":5,\"data\":{}}",
     WIRE_EVENT},
    /* query what:"incident" replies with the record where the envelope's number is */
    {"{\"v\":1,\"id\":\"r1\",\"type\":\"reply\",\"ok\":true,\"incident\":{\"id\":3}}", WIRE_REPLY},
    /* incident and trace may be left out */
    {"{\"v\":1,\"id\":\"r\",\"type\":\"query\",\"what\":\"stats\"}", WIRE_QUERY},
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct wire_msg m;
		char err[256] = "";
		int rc = wire_decode(good[i].json, strlen(good[i].json), &m, err, sizeof(err));
		if (rc != 0)
			fail_msg("good case %zu: got rc=%d err=%s, want 0", i, rc, err);
		if (m.type != good[i].type)
			fail_msg("good case %zu: got type %s, want %s", i, wire_type_name(m.type),
			         wire_type_name(good[i].type));
		if (strcmp(m.id, "r1") != 0 && strcmp(m.id, "r") != 0)
			fail_msg("good case %zu: got id %s, want r1", i, m.id);
		wire_msg_free(&m);
	}
}

#define SPEC "\"spec\":{\"title\":\"t\",\"service\":\"a\",\"severity\":\"low\",\"source\":\"cli\""
static const struct {
	const char *json;
	const char *want; /* substring of the error */
} bad[] = {
    {"", "invalid JSON"},
    {"not json", "invalid JSON"},
    {"{\"v\":1", "invalid JSON"},
    {"{} x", "trailing bytes"},
    {"[1,2]", "must be a JSON object"},
    {"\"str\"", "must be a JSON object"},
    {"{\"type\":\"query\",\"id\":\"r\",\"what\":\"stats\"}", "field 'v' is missing"},
    {"{\"v\":\"1\",\"type\":\"query\",\"id\":\"r\",\"what\":\"stats\"}", "field 'v' must be"},
    {"{\"v\":2,\"type\":\"query\",\"id\":\"r\",\"what\":\"stats\"}", "field 'v' is 2"},
    {"{\"v\":1.5,\"type\":\"query\",\"id\":\"r\",\"what\":\"stats\"}", "field 'v' must be"},
    {"{\"v\":1,\"id\":\"r\",\"what\":\"stats\"}", "field 'type' is missing"},
    {"{\"v\":1,\"type\":3,\"id\":\"r\"}", "field 'type' must be a string"},
    {"{\"v\":1,\"type\":\"launch\",\"id\":\"r\"}", "unknown message type \"launch\""},
    {"{\"v\":1,\"type\":\"query\",\"what\":\"stats\"}", "field 'id' is missing"},
    {"{\"v\":1,\"type\":\"query\",\"id\":5,\"what\":\"stats\"}", "field 'id' must be a string"},
    {"{\"v\":1,\"type\":\"query\",\"id\":\"\",\"what\":\"stats\"}", "field 'id' must be a string"},
    {"{\"v\":1,\"type\":\"query\",\"id\":\"r\",\"incident\":\"7\",\"what\":\"stats\"}",
     "field 'incident' must be"},
    {"{\"v\":1,\"type\":\"query\",\"id\":\"r\",\"incident\":-1,\"what\":\"stats\"}",
     "field 'incident' must be"},
    {"{\"v\":1,\"type\":\"query\",\"id\":\"r\",\"trace\":1,\"what\":\"stats\"}",
     "field 'trace' must be"},
    /* submit */
    {"{" ENV "\"type\":\"submit\"}", "field 'what' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"thing\"}", "field 'what' must be one of incident|job"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\"}", "field 'spec' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\"}", "field 'job' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\",\"spec\":[]}",
     "field 'spec' must be an object"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"service\":\"a\",\"severity\":"
     "\"low\",\"source\":\"cli\"}}",
     "field 'spec.title' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"title\":\"t\",\"severity\":"
     "\"low\",\"source\":\"cli\"}}",
     "field 'spec.service' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"title\":\"t\",\"service\":"
     "\"a\",\"source\":\"cli\"}}",
     "field 'spec.severity' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"title\":\"t\",\"service\":"
     "\"a\",\"severity\":\"low\"}}",
     "field 'spec.source' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"title\":\"t\",\"service\":"
     "\"a\",\"severity\":\"awful\",\"source\":\"cli\"}}",
     "field 'spec.severity' must be one of"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\"," SPEC ",\"title2\":1}}",
     "unknown field 'spec.title2'"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\"," SPEC ",\"labels\":[]}}",
     "field 'spec.labels' must be an object"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\"," SPEC ",\"surface\":{\"channel\":\"C\"}}}",
     "field 'spec.surface.kind' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\"," SPEC "},\"job\":{\"kind\":\"x\"}}",
     "field 'job' is not allowed"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"job\":{}}", "field 'job.kind' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"\"}}",
     "field 'job.kind' must be 1"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"d\",\"input\":3}}",
     "field 'job.input' must be an object"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"d\"},\"key\":\"\"}",
     "field 'key' must be 1"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"d\"},\"key\":7}",
     "field 'key' must be a string"},
    /* batched submit */
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"jobs\":[]}", "field 'jobs' must hold 1 to 64"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"jobs\":{}}", "field 'jobs' must be an array"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"jobs\":[3]}", "field 'jobs' must hold only"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"jobs\":[{\"kind\":\"a\"},{}]}",
     "field 'jobs[1].kind' is missing"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"jobs\":[{\"kind\":\"a\",\"x\":1}]}",
     "unknown field 'jobs[0].x'"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"jobs\":[{\"kind\":\"a\",\"key\":\"\"}]}",
     "field 'jobs[0].key' must be 1"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"jobs\":[{\"kind\":\"\"}]}",
     "field 'jobs[0].kind' must be 1"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"job\",\"job\":{\"kind\":\"a\"},"
     "\"jobs\":[{\"kind\":\"a\"}]}",
     "field 'job' is not allowed beside 'jobs'"},
    {"{" ENV "\"type\":\"submit\",\"what\":\"incident\"," SPEC "},\"jobs\":[{\"kind\":\"a\"}]}",
     "field 'jobs' is not allowed"},
    /* claim */
    {"{" ENV "\"type\":\"claim\",\"worker\":\"w\",\"wait_ms\":1}", "field 'kinds' is missing"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"wait_ms\":1}", "field 'worker' is missing"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"worker\":\"w\"}",
     "field 'wait_ms' is missing"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":\"a\",\"worker\":\"w\",\"wait_ms\":1}",
     "field 'kinds' must be an array"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[],\"worker\":\"w\",\"wait_ms\":1}",
     "field 'kinds' must hold 1"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[1],\"worker\":\"w\",\"wait_ms\":1}",
     "field 'kinds' must hold only"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"worker\":\"w\",\"wait_ms\":1.5}",
     "field 'wait_ms' must be a whole number"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"worker\":\"w\",\"wait_ms\":-1}",
     "field 'wait_ms' must be 0 to"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"worker\":\"w\",\"wait_ms\":1,\"lease_ms\":0}",
     "field 'lease_ms' must be 1 to"},
    /* heartbeat, complete, fail */
    {"{" ENV "\"type\":\"heartbeat\",\"lease\":\"l\"}", "field 'job' is missing"},
    {"{" ENV "\"type\":\"heartbeat\",\"job\":1}", "field 'lease' is missing"},
    {"{" ENV "\"type\":\"heartbeat\",\"job\":\"1\",\"lease\":\"l\"}",
     "field 'job' must be a whole"},
    {"{" ENV "\"type\":\"complete\",\"job\":1,\"lease\":\"l\"}", "field 'result' is missing"},
    {"{" ENV "\"type\":\"complete\",\"job\":1,\"lease\":\"l\",\"result\":\"ok\"}",
     "field 'result' must be an object"},
    {"{" ENV "\"type\":\"complete\",\"job\":1,\"lease\":\"l\",\"result\":{},\"extra\":1}",
     "unknown field 'extra'"},
    /* batched claim and complete */
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"worker\":\"w\",\"wait_ms\":1,\"max\":0}",
     "field 'max' must be 1 to 64"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"worker\":\"w\",\"wait_ms\":1,\"max\":65}",
     "field 'max' must be 1 to 64"},
    {"{" ENV "\"type\":\"claim\",\"kinds\":[\"a\"],\"worker\":\"w\",\"wait_ms\":1,\"max\":2.5}",
     "field 'max' must be a whole"},
    {"{" ENV "\"type\":\"complete\",\"jobs\":[]}", "field 'jobs' must hold 1 to 64 jobs"},
    {"{" ENV "\"type\":\"complete\",\"jobs\":[3]}", "field 'jobs' must hold only objects"},
    {"{" ENV "\"type\":\"complete\",\"jobs\":[{\"job\":3,\"lease\":\"l\"}]}",
     "field 'jobs[0].result' is missing"},
    {"{" ENV "\"type\":\"complete\",\"jobs\":[{\"job\":3,\"lease\":\"l\",\"result\":{},"
     "\"x\":1}]}",
     "unknown field 'jobs[0].x'"},
    {"{" ENV "\"type\":\"complete\",\"jobs\":[{\"job\":3,\"lease\":\"l\",\"result\":{}},"
     "{\"job\":3,\"lease\":\"m\",\"result\":{}}]}",
     "field 'jobs[1].job' repeats job 3"},
    {"{" ENV "\"type\":\"complete\",\"job\":3,\"jobs\":[{\"job\":3,\"lease\":\"l\","
     "\"result\":{}}]}",
     "field 'job' is not allowed beside 'jobs'"},
    {"{" ENV "\"type\":\"complete\",\"lease\":\"l\",\"result\":{}}", "field 'job' is missing"},
    {"{" ENV "\"type\":\"fail\",\"job\":1,\"lease\":\"l\"}", "field 'error' is missing"},
    {"{" ENV "\"type\":\"fail\",\"job\":1,\"lease\":\"l\",\"error\":\"e\",\"retryable\":1}",
     "field 'retryable' must be true or false"},
    /* approve, command, query */
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"user\":\"U\",\"surface\":\"irc\","
     "\"decision\":\"approve\"}",
     "field 'surface' must be one of slack|discord|cli"},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"user\":\"U\",\"surface\":\"slack\","
     "\"decision\":\"approve\",\"message_incident\":0}",
     "field 'message_incident' must name an incident"},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"\",\"user\":\"U\",\"surface\":\"slack\","
     "\"decision\":\"approve\"}",
     "field 'plan' must be 1 to"},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"user\":\"\",\"surface\":\"slack\","
     "\"decision\":\"approve\"}",
     "field 'user' must be 1 to"},
    {"{" ENV "\"type\":\"command\",\"action\":\"ack\",\"user\":\"U\",\"surface\":\"s\","
     "\"key\":\"\"}",
     "field 'key' must be 1 to"},
    {"{" ENV "\"type\":\"approve\",\"user\":\"U\",\"surface\":\"slack\",\"decision\":\"approve\"}",
     "field 'plan' is missing"},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"surface\":\"slack\",\"decision\":\"approve\"}",
     "field 'user' is missing"},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"user\":\"U\",\"decision\":\"approve\"}",
     "field 'surface' is missing"},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"user\":\"U\",\"surface\":\"slack\"}",
     "field 'decision' is missing"},
    {"{" ENV "\"type\":\"approve\",\"plan\":\"h\",\"user\":\"U\",\"surface\":\"slack\","
     "\"decision\":\"maybe\"}",
     "field 'decision' must be one of approve|reject"},
    {"{" ENV "\"type\":\"command\",\"user\":\"U\",\"surface\":\"s\"}", "field 'action' is missing"},
    {"{" ENV "\"type\":\"command\",\"action\":\"reboot\",\"user\":\"U\",\"surface\":\"s\"}",
     "field 'action' must be one of"},
    {"{" ENV "\"type\":\"command\",\"action\":\"retry\",\"user\":\"U\",\"surface\":\"s\"}",
     "field 'job' is missing (action is retry)"},
    {"{" ENV "\"type\":\"query\"}", "field 'what' is missing"},
    {"{" ENV "\"type\":\"query\",\"what\":\"secrets\"}", "field 'what' must be one of"},
    {"{" ENV "\"type\":\"query\",\"what\":\"events\",\"since\":-3}", "field 'since' must not"},
    {"{" ENV "\"type\":\"query\",\"what\":\"events\",\"limit\":0}", "field 'limit' must be 1"},
    {"{" ENV "\"type\":\"query\",\"what\":\"events\",\"what\":\"stats\"}",
     "field 'what' appears twice"},
    /* reply, event */
    {"{" ENV "\"type\":\"reply\"}", "field 'ok' is missing"},
    {"{" ENV "\"type\":\"reply\",\"ok\":false}", "field 'error' is missing"},
    {"{" ENV "\"type\":\"event\",\"seq\":1,\"name\":\"x\",\"at_ms\":1}", "field 'data' is missing"},
    {"{" ENV "\"type\":\"event\",\"seq\":1,\"name\":\"x\",\"at_ms\":1,\"data\":{},\"more\":1}",
     "unknown field 'more'"},
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wire_msg m = {.id = "untouched"};
		char err[256] = "";
		int rc = wire_decode(bad[i].json, strlen(bad[i].json), &m, err, sizeof(err));
		if (rc != -1 || strstr(err, bad[i].want) == NULL)
			fail_msg("bad case %zu %s: got rc=%d err=%s, want error containing %s", i,
			         bad[i].json, rc, err, bad[i].want);
		if (strcmp(m.id, "untouched") != 0 || m.root != NULL)
			fail_msg("bad case %zu: got out modified, want untouched", i);
	}
}

static void test_oversized(void **state)
{
	(void)state;
	size_t n = WIRE_MAX_BYTES + 1;
	char *big = xmalloc(n);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	struct wire_msg m;
	char err[256] = "";
	int rc = wire_decode(big, n, &m, err, sizeof(err));
	free(big);
	if (rc != -1 || !strstr(err, "larger than the limit"))
		fail_msg("oversized: got rc=%d err=%s, want 'larger than the limit'", rc, err);
}

static void test_new_and_replies(void **state)
{
	(void)state;
	cJSON *q = wire_new(WIRE_QUERY, 12);
	json_add_str(q, "what", "stats");
	char *s = json_print(q);
	struct wire_msg m;
	char err[256] = "";
	if (wire_decode(s, strlen(s), &m, err, sizeof(err)) != 0)
		fail_msg("wire_new output: got err=%s, want it to decode", err);
	assert_int_equal(m.incident, 12);
	assert_int_equal(strlen(m.trace), 32);
	free(s);

	cJSON *other = wire_new(WIRE_QUERY, 0);
	if (strcmp(json_str(q, "id"), json_str(other, "id")) == 0)
		fail_msg("two wire_new ids: got both %s, want distinct", json_str(q, "id"));

	cJSON *r = wire_reply_err(&m, "not_found", "no incident %d", 12);
	s = json_print(r);
	struct wire_msg rm;
	if (wire_decode(s, strlen(s), &rm, err, sizeof(err)) != 0)
		fail_msg("reply_err: got err=%s, want it to decode", err);
	assert_string_equal(rm.id, m.id);
	assert_string_equal(json_str(rm.root, "error"), "not_found");
	assert_string_equal(json_str(rm.root, "message"), "no incident 12");
	free(s);
	wire_msg_free(&rm);
	cJSON_Delete(r);

	r = wire_reply_ok(&m);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
	assert_string_equal(json_str(r, "trace"), m.trace);
	cJSON_Delete(r);
	cJSON_Delete(q);
	cJSON_Delete(other);
	wire_msg_free(&m);
}

static void test_type_names(void **state)
{
	(void)state;
	for (int i = 0; i < WIRE_TYPE_COUNT; i++) {
		enum wire_type t;
		if (wire_type_parse(wire_type_name((enum wire_type)i), &t) != 0 || (int)t != i)
			fail_msg("type %d: got no round trip of %s, want %d", i,
			         wire_type_name((enum wire_type)i), i);
	}
	enum wire_type t;
	assert_int_equal(wire_type_parse("nope", &t), -1);
	assert_string_equal(wire_type_name(WIRE_TYPE_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),       cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_oversized),  cmocka_unit_test(test_new_and_replies),
	    cmocka_unit_test(test_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
