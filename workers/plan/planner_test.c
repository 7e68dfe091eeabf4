/* planner_test.c: planner_run end to end on the checkout's catalog and
 * policy: the result's shape, the plan's hash and id, approval, and the
 * fallback to the playbook when the model cannot be reached. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "json.h"
#include "planner.h"

#define CONF_PLAYBOOK                                                                              \
	"[plan]\ncatalog = config/actions.conf\npolicy = config/policy.conf\ndb = :memory:\n"      \
	"planner = playbook\nlearn = no\n"
/* port 9 on loopback: nothing listens, the connection is refused at once */
#define CONF_LLM_DOWN                                                                              \
	"[plan]\ncatalog = config/actions.conf\npolicy = config/policy.conf\ndb = :memory:\n"      \
	"planner = llm\nlearn = no\n[llm]\nbase_url = http://127.0.0.1:9/v1\nmodel = m\n"          \
	"max_attempts = 1\ntimeout = 2s\n"

struct fx {
	struct config *cfg;
	struct planner *p;
};

static struct fx open_planner(const char *text)
{
	struct fx f = {0};
	char err[512] = "";
	if (config_parse("planner_test.conf", text, &f.cfg, err, sizeof(err)) < 0 ||
	    planner_new(&f.p, f.cfg, err, sizeof(err)) < 0)
		fail_msg("fixture: %s", err);
	return f;
}

static void close_planner(struct fx *f)
{
	planner_free(f->p);
	config_free(f->cfg);
}

static cJSON *input_of(int64_t id)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
	         "{\"incident\":{\"id\":%lld,\"title\":\"checkout latency high\","
	         "\"service\":\"checkout\",\"severity\":\"high\",\"labels\":{}},"
	         "\"detect\":{\"anomalies\":[{\"series\":\"checkout_latency_p95\",\"score\":0.9}],"
	         "\"ranking\":[{\"service\":\"checkout\",\"confidence\":0.8,\"rationale\":\"\"}]},"
	         "\"retrieve\":{\"passages\":[{\"source\":\"runbooks/r.md\",\"section\":\"Fix\","
	         "\"text\":\"Restart the checkout service.\"}]}}",
	         (long long)id);
	cJSON *j = cJSON_Parse(buf);
	if (!j)
		fail_msg("fixture: %s", buf);
	return j;
}

static cJSON *run(struct fx *f, int64_t id)
{
	cJSON *in = input_of(id), *res = NULL;
	char err[256] = "";
	int rc = planner_run(f->p, in, 1700000000000, &res, err, sizeof(err));
	cJSON_Delete(in);
	if (rc != 0 || !res)
		fail_msg("planner_run incident %lld: got rc=%d err=%s, want 0", (long long)id, rc,
		         err);
	return res;
}

/* The result as planner.h promises it; returns the plan. */
static const cJSON *check_shape(const cJSON *res, int64_t id, const char *want_planner)
{
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(res, "plan");
	const char *hash = json_str(plan, "hash"), *pid = json_str(plan, "id");
	char prefix[64];
	if (!cJSON_IsObject(plan) || !hash || !pid)
		fail_msg("result: got %s, want plan{id, hash}", json_print(res));
	if (strlen(hash) != 32 || strspn(hash, "0123456789abcdef") != 32)
		fail_msg("hash: got %s, want 32 hex digits", hash);
	int n = snprintf(prefix, sizeof(prefix), "plan-%lld-", (long long)id);
	if (strncmp(pid, prefix, (size_t)n) != 0 || strlen(pid) != (size_t)n + 12 ||
	    strncmp(pid + n, hash, 12) != 0)
		fail_msg("id: got %s, want %s + the hash's first 12 digits (%s)", pid, prefix,
		         hash);
	if (strcmp(json_str(plan, "planner"), want_planner) != 0)
		fail_msg("planner: got %s want %s", json_str(plan, "planner"), want_planner);
	if (!json_str(plan, "signature") || !json_str(plan, "signature")[0])
		fail_msg("signature: got none, want the incident's playbook signature");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(plan, "steps"), *s;
	if (cJSON_GetArraySize(steps) < 1)
		fail_msg("steps: got %d, want at least the fallback", cJSON_GetArraySize(steps));
	int needs = 0;
	cJSON_ArrayForEach(s, steps) needs |= strcmp(json_str(s, "approval"), "auto") != 0;
	if (json_bool(res, "needs_approval", -1) != needs)
		fail_msg("needs_approval: got %d want %d (from the steps' approval)",
		         json_bool(res, "needs_approval", -1), needs);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(plan, "notes")))
		fail_msg("notes: got none, want an array");
	if (!json_str(res, "summary") || !json_str(res, "summary")[0])
		fail_msg("summary: got none");
	return plan;
}

static void test_playbook_plan(void **state)
{
	(void)state;
	struct fx f = open_planner(CONF_PLAYBOOK);
	cJSON *a = run(&f, 41), *b = run(&f, 41), *c = run(&f, 42);
	const char *ha = json_str(check_shape(a, 41, "playbook"), "hash");
	const char *hb = json_str(check_shape(b, 41, "playbook"), "hash");
	const char *hc = json_str(check_shape(c, 42, "playbook"), "hash");
	if (strcmp(ha, hb) != 0)
		fail_msg("same input: got hashes %s and %s, want one", ha, hb);
	if (strcmp(ha, hc) == 0)
		fail_msg("another incident: got the same hash %s, want another", ha);
	if (cJSON_GetObjectItemCaseSensitive(a, "llm") || strstr(json_str(a, "summary"), "LLM"))
		fail_msg("playbook planner: got an LLM trace in %s", json_str(a, "summary"));
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
	close_planner(&f);
}

/* The model cannot be reached: the playbook plans, and the notes and the
 * summary say why. */
static void test_llm_down_falls_back(void **state)
{
	(void)state;
	struct fx f = open_planner(CONF_LLM_DOWN);
	cJSON *res = run(&f, 7);
	const cJSON *plan = check_shape(res, 7, "playbook");
	const char *sum = json_str(res, "summary");
	if (!strstr(sum, "(The LLM planner was not used: "))
		fail_msg("summary: got %s, want the reason the LLM planner was not used", sum);
	int said = 0;
	const cJSON *n;
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(plan, "notes")) said |=
	    strstr(n->valuestring, "The LLM planner failed") != NULL;
	if (!said)
		fail_msg("notes: got %s, want \"The LLM planner failed ...\"",
		         json_print(cJSON_GetObjectItemCaseSensitive(plan, "notes")));
	cJSON_Delete(res);
	close_planner(&f);
}

static void test_no_incident(void **state)
{
	(void)state;
	struct fx f = open_planner(CONF_PLAYBOOK);
	static const char *const bad[] = {"{}", "{\"incident\":3}", "{\"incident\":[]}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *in = cJSON_Parse(bad[i]), *res = NULL;
		char err[256] = "";
		int rc = planner_run(f.p, in, 0, &res, err, sizeof(err));
		if (rc != -1 || res || !strstr(err, "'incident'"))
			fail_msg("%s: got rc=%d err=%s, want -1 naming 'incident'", bad[i], rc,
			         err);
		cJSON_Delete(in);
	}
	close_planner(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_playbook_plan),
	    cmocka_unit_test(test_llm_down_falls_back),
	    cmocka_unit_test(test_no_incident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
