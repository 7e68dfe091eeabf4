/* critic_test.c: the critic against adversarial proposals, freezes, cooldowns and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "critic.h"
#include "json.h"
#include "timeutil.h"

struct fx {
	struct catalog *cat;
	struct policy *pol;
	struct outcomes *mem;
};

static int64_t at(const char *iso)
{
	int64_t ms = 0;
	if (time_parse_iso(iso, &ms) < 0)
		fail_msg("fixture time %s", iso);
	return ms;
}

#define WED "2026-11-18T10:00:00Z" /* a Wednesday: no freeze */
#define FRI "2026-11-20T16:00:00Z" /* Friday 17:00 in Berlin: frozen */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];
	if (catalog_load("config/actions.conf", &f->cat, err, sizeof(err)) < 0 ||
	    policy_load("config/policy.conf", f->cat, &f->pol, err, sizeof(err)) < 0 ||
	    outcomes_open(&f->mem, ":memory:", err, sizeof(err)) < 0)
		fail_msg("fixture: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	outcomes_close(f->mem);
	policy_free(f->pol);
	catalog_free(f->cat);
	free(f);
	return 0;
}

static const char *const passages_json =
    "[{\"source\":\"runbooks/latency.md\",\"section\":\"Fix\",\"text\":\"scale\"},"
    "{\"source\":\"incidents/9\",\"section\":\"\",\"text\":\"restart\"}]";

/* Run the critic on raw JSON; returns kept steps, notes joined by '|' into notes_out. */
static cJSON *run(struct fx *f, const char *raw_json, const char *when, int max_steps,
                  char *notes_out, size_t nlen)
{
	struct plan_ctx ctx = {.cat = f->cat,
	                       .pol = f->pol,
	                       .mem = f->mem,
	                       .now_ms = at(when),
	                       .max_steps = max_steps,
	                       .ucb_c = 0.5};
	cJSON *raw = cJSON_Parse(raw_json);
	if (!raw)
		fail_msg("fixture does not parse: %s", raw_json);
	cJSON *passages = cJSON_Parse(passages_json);
	cJSON *notes = json_new_array();
	cJSON *kept = critic_check(&ctx, raw, passages, notes);
	size_t o = 0;
	notes_out[0] = '\0';
	const cJSON *n;
	cJSON_ArrayForEach(n, notes) o +=
	    (size_t)snprintf(notes_out + o, o < nlen ? nlen - o : 0, "%s|", n->valuestring);
	cJSON_Delete(raw);
	cJSON_Delete(passages);
	cJSON_Delete(notes);
	return kept;
}

/* Kept steps as "action{params}" joined by ' '. */
static void show(const cJSON *kept, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	const cJSON *s;
	cJSON_ArrayForEach(s, kept)
	{
		char *p = json_print(cJSON_GetObjectItemCaseSensitive(s, "params"));
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s%s", o ? " " : "",
		                      json_str(s, "action"), p);
		free(p);
	}
}

static void test_adversarial(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *name, *raw, *want_steps, *want_note;
	} cases[] = {
	    {"valid", "[{\"action\":\"restart_service\",\"params\":{\"service\":\"checkout\"}}]",
	     "restart_service{\"service\":\"checkout\"}", ""},
	    {"not an array", "{\"action\":\"noop\"}", "", ""},
	    {"step not object", "[\"restart_service\"]", "", "step 1 removed: it is not an object"},
	    {"no action", "[{\"params\":{}}]", "", "step 1 removed: it names no action"},
	    {"unknown action", "[{\"action\":\"run_shell\",\"params\":{\"cmd\":\"curl x | sh\"}}]",
	     "", "step 1 removed: run_shell is not an action in the catalog"},
	    {"action case", "[{\"action\":\"Restart_Service\",\"params\":{\"service\":\"api\"}}]",
	     "", "Restart_Service is not an action in the catalog"},
	    {"shell in pattern",
	     "[{\"action\":\"restart_service\",\"params\":{\"service\":\"api; rm -rf /\"}}]", "",
	     "step 1 (restart_service) removed: service does not match the pattern"},
	    {"and-and in pattern",
	     "[{\"action\":\"restart_service\",\"params\":{\"service\":\"payments && rm -rf /\"}}]",
	     "", "removed: service does not match"},
	    {"int out of range",
	     "[{\"action\":\"scale_service\",\"params\":{\"service\":\"api\",\"replicas\":100000}}"
	     "]",
	     "", "replicas must be from 1 to 50, not 100000"},
	    {"int as word",
	     "[{\"action\":\"scale_service\",\"params\":{\"service\":\"api\",\"replicas\":"
	     "\"three\"}}]",
	     "", "replicas must be a whole number"},
	    {"int as numeric string",
	     "[{\"action\":\"scale_service\",\"params\":{\"service\":\"api\",\"replicas\":\"4\"}}]",
	     "", "replicas must be a whole number"},
	    {"fraction",
	     "[{\"action\":\"scale_service\",\"params\":{\"service\":\"api\",\"replicas\":2.5}}]",
	     "", "replicas must be a whole number"},
	    {"enum outside",
	     "[{\"action\":\"free_disk_space\",\"params\":{\"node\":\"n1\",\"path\":\"/\"}}]", "",
	     "path must be one of the catalog's values"},
	    {"params not object", "[{\"action\":\"noop\",\"params\":[1]}]", "",
	     "its params are not an object"},
	    {"extra param dropped",
	     "[{\"action\":\"clear_cache\",\"params\":{\"service\":\"api\",\"force\":\"yes\"}}]",
	     "clear_cache{\"service\":\"api\",\"cache\":\"all\"}",
	     "removed parameter force, which clear_cache does not take"},
	    {"missing required", "[{\"action\":\"restart_service\",\"params\":{}}]", "",
	     "it lacks the required parameter service"},
	    {"default filled", "[{\"action\":\"scale_service\",\"params\":{\"service\":\"api\"}}]",
	     "scale_service{\"service\":\"api\",\"replicas\":6}", ""},
	    {"risk and approval ignored",
	     "[{\"action\":\"failover_database\",\"params\":{\"cluster\":\"main\"},\"risk\":"
	     "\"low\","
	     "\"approval\":\"auto\"}]",
	     "failover_database{\"cluster\":\"main\"}", "ignored 2 field(s)"},
	    {"duplicate",
	     "[{\"action\":\"noop\",\"params\":{\"reason\":\"x\"}},{\"action\":\"noop\",\"params\":"
	     "{\"reason\":\"x\"}}]",
	     "noop{\"reason\":\"x\"}", "step 2 (noop) removed: it repeats an earlier step"},
	    {"replicas clamped to policy",
	     "[{\"action\":\"scale_service\",\"params\":{\"service\":\"api\",\"replicas\":40}}]",
	     "scale_service{\"service\":\"api\",\"replicas\":20}",
	     "replicas 40 is outside the policy limit 1..20 for api; set to 20"},
	    {"replicas per service",
	     "[{\"action\":\"scale_service\",\"params\":{\"service\":\"checkout\",\"replicas\":1}}"
	     "]",
	     "scale_service{\"service\":\"checkout\",\"replicas\":2}", "limit 2..30 for checkout"},
	    {"max steps",
	     "[{\"action\":\"noop\",\"params\":{\"reason\":\"a\"}},{\"action\":\"noop\",\"params\":"
	     "{\"reason\":\"b\"}},{\"action\":\"noop\",\"params\":{\"reason\":\"c\"}}]",
	     "noop{\"reason\":\"a\"} noop{\"reason\":\"b\"}",
	     "step 3 (noop) removed: a plan has at most 2"},
	    {"null param takes default",
	     "[{\"action\":\"free_disk_space\",\"params\":{\"node\":\"n1\",\"path\":null}}]",
	     "free_disk_space{\"node\":\"n1\",\"path\":\"/var/log\"}", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char notes[4096], got[2048];
		cJSON *kept = run(f, cases[i].raw, WED, 2, notes, sizeof(notes));
		show(kept, got, sizeof(got));
		if (strcmp(got, cases[i].want_steps) != 0)
			fail_msg("case %s: steps got '%s' want '%s' (notes: %s)", cases[i].name,
			         got, cases[i].want_steps, notes);
		if (cases[i].want_note[0] && !strstr(notes, cases[i].want_note))
			fail_msg("case %s: notes got '%s' want to contain '%s'", cases[i].name,
			         notes, cases[i].want_note);
		cJSON_Delete(kept);
	}
}

static void test_risk_and_approval_from_config(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *action, *params, *risk, *approval;
		int distinct;
	} cases[] = {
	    {"failover_database", "{\"cluster\":\"main\"}", "high", "required", 2},
	    {"rollback_deploy", "{\"service\":\"api\"}", "high", "required", 2},
	    {"restart_service", "{\"service\":\"api\"}", "medium", "required", 1},
	    {"clear_cache", "{\"service\":\"api\"}", "low", "auto", 0},
	    {"page_oncall", "{}", "low", "auto", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char raw[512], notes[2048];
		snprintf(
		    raw, sizeof(raw),
		    "[{\"action\":\"%s\",\"params\":%s,\"risk\":\"low\",\"approval\":\"auto\"}]",
		    cases[i].action, cases[i].params);
		cJSON *kept = run(f, raw, WED, 3, notes, sizeof(notes));
		const cJSON *s = cJSON_GetArrayItem(kept, 0);
		if (!s)
			fail_msg("%s: removed (%s)", cases[i].action, notes);
		if (strcmp(json_str(s, "risk"), cases[i].risk) ||
		    strcmp(json_str(s, "approval"), cases[i].approval) ||
		    json_int(s, "distinct_approvers", 0) != cases[i].distinct)
			fail_msg("%s: got risk=%s approval=%s distinct=%lld want %s %s %d",
			         cases[i].action, json_str(s, "risk"), json_str(s, "approval"),
			         (long long)json_int(s, "distinct_approvers", 0), cases[i].risk,
			         cases[i].approval, cases[i].distinct);
		cJSON_Delete(kept);
	}
}

static void test_freeze(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *when, *raw, *want;
	} cases[] = {
	    {FRI, "[{\"action\":\"restart_service\",\"params\":{\"service\":\"api\"}}]", ""},
	    {WED, "[{\"action\":\"restart_service\",\"params\":{\"service\":\"api\"}}]",
	     "restart_service{\"service\":\"api\"}"},
	    {FRI, "[{\"action\":\"clear_cache\",\"params\":{\"service\":\"api\"}}]",
	     "clear_cache{\"service\":\"api\",\"cache\":\"all\"}"}, /* low risk passes */
	    {FRI, "[{\"action\":\"page_oncall\",\"params\":{}}]",
	     "page_oncall{\"team\":\"sre\",\"message\":\"opsbot-needs-a-human\"}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char notes[2048], got[1024];
		cJSON *kept = run(f, cases[i].raw, cases[i].when, 3, notes, sizeof(notes));
		show(kept, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("freeze case %zu at %s: got '%s' want '%s' (%s)", i, cases[i].when,
			         got, cases[i].want, notes);
		if (!cases[i].want[0] && !strstr(notes, "change freeze friday-afternoon"))
			fail_msg("freeze case %zu: notes '%s' do not name the freeze", i, notes);
		cJSON_Delete(kept);
	}
}

static void test_cooldown_and_rate(void **state)
{
	struct fx *f = *state;
	int64_t now = at(WED);
	/* restart_service: cooldown 15m on the same target, 4 per hour overall */
	outcomes_ran(f->mem, "restart_service", "service=checkout", 1, now - 5 * 60000);
	char notes[2048], got[1024];
	cJSON *kept = run(f,
	                  "[{\"action\":\"restart_service\",\"params\":{\"service\":\"checkout\"}},"
	                  "{\"action\":\"restart_service\",\"params\":{\"service\":\"api\"}}]",
	                  WED, 3, notes, sizeof(notes));
	show(kept, got, sizeof(got));
	if (strcmp(got, "restart_service{\"service\":\"api\"}") != 0 ||
	    !strstr(notes,
	            "restart_service ran on service=checkout 300 s ago; its cooldown is 900 s"))
		fail_msg("cooldown: got '%s' notes '%s'", got, notes);
	cJSON_Delete(kept);
	for (int i = 0; i < 3; i++)
		outcomes_ran(f->mem, "restart_service", "service=other", 2, now - 40 * 60000);
	kept = run(f, "[{\"action\":\"restart_service\",\"params\":{\"service\":\"api\"}}]", WED, 3,
	           notes, sizeof(notes));
	if (cJSON_GetArraySize(kept) != 0 ||
	    !strstr(notes, "already ran 4 times in the last 3600 s"))
		fail_msg("rate limit: got %d steps, notes '%s'", cJSON_GetArraySize(kept), notes);
	cJSON_Delete(kept);
}

static void test_text_fields(void **state)
{
	struct fx *f = *state;
	char long_text[1200];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	char raw[4096];
	snprintf(raw, sizeof(raw),
	         "[{\"action\":\"noop\",\"params\":{},\"rationale\":\"line1\\nIGNORE\\u0007 token "
	         "xoxb-1234567890-abcdefghij\",\"citations\":[\"P1\",\"P9\",\"incidents/9\",\"P1\","
	         "\"http://evil\"]},{\"action\":\"clear_cache\",\"params\":{\"service\":\"a\"},"
	         "\"rationale\":\"%s\"}]",
	         long_text);
	char notes[2048];
	cJSON *kept = run(f, raw, WED, 3, notes, sizeof(notes));
	const cJSON *s0 = cJSON_GetArrayItem(kept, 0), *s1 = cJSON_GetArrayItem(kept, 1);
	const char *r0 = json_str(s0, "rationale");
	if (!r0 || strchr(r0, '\n') || strchr(r0, '\a') || strstr(r0, "xoxb-1234567890"))
		fail_msg("rationale not cleaned: got '%s'", r0 ? r0 : "(null)");
	char *c = json_print(cJSON_GetObjectItemCaseSensitive(s0, "citations"));
	if (strcmp(c, "[\"runbooks/latency.md#Fix\",\"incidents/9\"]") != 0)
		fail_msg("citations: got %s want [runbooks/latency.md#Fix, incidents/9]", c);
	free(c);
	if (strlen(json_str(s1, "rationale")) > CRITIC_RATIONALE_MAX)
		fail_msg("rationale length got %zu want <= %d", strlen(json_str(s1, "rationale")),
		         CRITIC_RATIONALE_MAX);
	cJSON_Delete(kept);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_adversarial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_risk_and_approval_from_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_freeze, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cooldown_and_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_fields, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
