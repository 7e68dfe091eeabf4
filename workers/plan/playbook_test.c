/* playbook_test.c: signatures, candidates from findings and runbooks, the bandit's ranking. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bandit.h"
#include "json.h"
#include "playbook.h"

struct fx {
	struct catalog *cat;
	struct outcomes *mem;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];
	if (catalog_load("config/actions.conf", &f->cat, err, sizeof(err)) < 0 ||
	    outcomes_open(&f->mem, ":memory:", err, sizeof(err)) < 0)
		fail_msg("fixture: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	outcomes_close(f->mem);
	catalog_free(f->cat);
	free(f);
	return 0;
}

static cJSON *input_of(const char *title, const char *series, const char *labels,
                       const char *passage_text)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
	         "{\"incident\":{\"id\":1,\"title\":\"%s\",\"service\":\"checkout\",\"labels\":%s},"
	         "\"detect\":{\"anomalies\":[{\"series\":\"%s\",\"score\":0.9}],\"ranking\":"
	         "[{\"service\":\"checkout\",\"confidence\":0.8,\"rationale\":\"\"}]},"
	         "\"retrieve\":{\"passages\":[{\"source\":\"runbooks/r.md\",\"section\":\"Fix\","
	         "\"text\":\"%s\"}]}}",
	         title, labels, series, passage_text);
	cJSON *j = cJSON_Parse(buf);
	if (!j)
		fail_msg("fixture: %s", buf);
	return j;
}

/* The proposal as "a b c" (actions in order). */
static void propose(struct fx *f, const cJSON *input, const char *sig, char *out, size_t len,
                    char *notes_out, size_t nlen)
{
	struct plan_ctx ctx = {.cat = f->cat,
	                       .mem = f->mem,
	                       .max_steps = 3,
	                       .ucb_c = 0.5,
	                       .fallback_action = "page_oncall"};
	cJSON *notes = json_new_array();
	cJSON *steps = playbook_propose(&ctx, input, sig, notes);
	size_t o = 0;
	out[0] = '\0';
	const cJSON *s;
	cJSON_ArrayForEach(s, steps) o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s",
	                                                   o ? " " : "", json_str(s, "action"));
	o = 0;
	notes_out[0] = '\0';
	cJSON_ArrayForEach(s, notes) o +=
	    (size_t)snprintf(notes_out + o, o < nlen ? nlen - o : 0, "%s|", s->valuestring);
	cJSON_Delete(steps);
	cJSON_Delete(notes);
}

static void test_signature(void **state)
{
	(void)state;
	static const struct {
		const char *title, *series, *want;
	} cases[] = {
	    {"checkout slow", "checkout_latency_p99", "checkout/latency"},
	    {"disk almost full", "node_filesystem_avail", "checkout/disk"},
	    {"errors after release", "http_5xx_rate", "checkout/deploy"},
	    {"something odd", "weird_metric", "checkout/other"},
	    {"page from the watch", "checkout_latency_p99", "checkout/latency"},
	    {"page from the watch", "node_filesystem_avail_bytes", "checkout/disk"},
	    {"no signal words", "http_requests_total", "checkout/traffic"},
	    {"tls certificate expiry soon", "probe_ssl_earliest_cert_expiry",
	     "checkout/certificate"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *in = input_of(cases[i].title, cases[i].series, "{}", "");
		char sig[128];
		playbook_signature(in, sig, sizeof(sig));
		if (strcmp(sig, cases[i].want) != 0)
			fail_msg("signature of %s/%s: got %s want %s", cases[i].title,
			         cases[i].series, sig, cases[i].want);
		cJSON_Delete(in);
	}
}

static void test_candidates(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *name, *title, *series, *labels, *passage, *want, *want_note;
	} cases[] = {
	    {"latency", "checkout p99 latency high", "checkout_latency_p99", "{}", "",
	     "scale_service", ""},
	    {"metric name only", "checkout page", "checkout_latency_p99", "{}", "", "scale_service",
	     ""},
	    {"action name needs the underscore", "checkout odd", "weird", "{}",
	     "do not clear the cache; scale it", "page_oncall", ""},
	    {"runbook names action", "checkout odd", "weird", "{}",
	     "Run clear_cache, then restart_service if needed.", "clear_cache restart_service", ""},
	    {"both", "checkout latency", "checkout_latency_p99", "{}",
	     "use scale_service or clear_cache", "scale_service clear_cache", ""},
	    {"nothing matches", "checkout odd", "weird", "{}", "", "page_oncall",
	     "no catalog action matched"},
	    {"node from label", "disk full", "node_filesystem_avail",
	     "{\"instance\":\"web-3:9100\"}", "", "free_disk_space", ""},
	    {"node missing", "disk full", "node_filesystem_avail", "{}", "", "page_oncall",
	     "playbook skipped free_disk_space: nothing in the incident says which node"},
	    {"bad label value", "disk full", "node_filesystem_avail", "{\"node\":\"web 3; rm\"}",
	     "", "page_oncall",
	     "skipped free_disk_space: the incident's value for node does not fit"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *in =
		    input_of(cases[i].title, cases[i].series, cases[i].labels, cases[i].passage);
		char got[512], notes[2048];
		propose(f, in, "t/x", got, sizeof(got), notes, sizeof(notes));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %s: got '%s' want '%s' (notes %s)", cases[i].name, got,
			         cases[i].want, notes);
		if (cases[i].want_note[0] && !strstr(notes, cases[i].want_note))
			fail_msg("case %s: notes '%s' want '%s'", cases[i].name, notes,
			         cases[i].want_note);
		cJSON_Delete(in);
	}
}

static void test_escalation_weighs_less(void **state)
{
	struct fx *f = *state;
	/* the first passage is only escalation advice; the second holds the fix */
	cJSON *in = cJSON_Parse(
	    "{\"incident\":{\"id\":1,\"title\":\"checkout odd\",\"service\":\"checkout\"},"
	    "\"retrieve\":{\"passages\":["
	    "{\"source\":\"runbooks/a.md\",\"section\":\"Escalate\",\"text\":\"then page_oncall\"},"
	    "{\"source\":\"runbooks/a.md\",\"section\":\"Fix\",\"text\":\"run clear_cache\"}]}}");
	char got[512], notes[1024];
	propose(f, in, "checkout/other", got, sizeof(got), notes, sizeof(notes));
	if (strcmp(got, "clear_cache page_oncall") != 0)
		fail_msg("escalation: got '%s' want 'clear_cache page_oncall'", got);
	cJSON_Delete(in);
}

static void test_bandit_learns(void **state)
{
	struct fx *f = *state;
	cJSON *in = input_of("checkout latency", "checkout_latency_p99", "{}",
	                     "use scale_service or clear_cache");
	char got[512], notes[1024];
	propose(f, in, "checkout/latency", got, sizeof(got), notes, sizeof(notes));
	if (strcmp(got, "scale_service clear_cache") != 0)
		fail_msg("before learning: got '%s' want 'scale_service clear_cache'", got);
	/* scaling kept failing for this signature, clearing the cache kept working */
	for (int i = 0; i < 6; i++) {
		outcomes_record(f->mem, "checkout/latency", "scale_service", 0);
		outcomes_record(f->mem, "checkout/latency", "clear_cache", 1);
	}
	propose(f, in, "checkout/latency", got, sizeof(got), notes, sizeof(notes));
	if (strcmp(got, "clear_cache scale_service") != 0)
		fail_msg("after learning: got '%s' want 'clear_cache scale_service'", got);
	/* another signature is unaffected */
	propose(f, in, "payments/latency", got, sizeof(got), notes, sizeof(notes));
	if (strcmp(got, "scale_service clear_cache") != 0)
		fail_msg("other signature: got '%s' want 'scale_service clear_cache'", got);
	/* deterministic: the same input twice gives the same plan */
	char again[512];
	propose(f, in, "checkout/latency", got, sizeof(got), notes, sizeof(notes));
	propose(f, in, "checkout/latency", again, sizeof(again), notes, sizeof(notes));
	if (strcmp(got, again) != 0)
		fail_msg("not deterministic: '%s' then '%s'", got, again);
	cJSON_Delete(in);
}

/* What sheds traffic needs the findings to ask for it; a replan drops what failed;
 * findings about other services do not nominate actions. */
static void test_root_cause_first(void **state)
{
	struct fx *f = *state;
	char got[512], notes[2048];
	/* a runbook's overview suggests limit_traffic: left out; the fix section's
	 * restart_service stays */
	cJSON *in = cJSON_Parse(
	    "{\"incident\":{\"id\":1,\"title\":\"db odd\",\"service\":\"db\"},"
	    "\"retrieve\":{\"passages\":["
	    "{\"source\":\"runbooks/a.md\",\"section\":\"Overview\",\"text\":\"limit_traffic\"},"
	    "{\"source\":\"runbooks/a.md\",\"section\":\"Fix\",\"text\":\"restart_service\"}]}}");
	propose(f, in, "db/other", got, sizeof(got), notes, sizeof(notes));
	if (strcmp(got, "restart_service") != 0 ||
	    !strstr(notes, "playbook left out limit_traffic"))
		fail_msg("runbook-only limit_traffic: got '%s' (notes %s)", got, notes);
	cJSON_Delete(in);
	/* the findings name traffic: then it may */
	in = input_of("checkout traffic surge", "checkout_requests", "{}", "");
	propose(f, in, "checkout/traffic", got, sizeof(got), notes, sizeof(notes));
	if (!strstr(got, "limit_traffic"))
		fail_msg("traffic in the findings: got '%s'", got);
	cJSON_Delete(in);
	/* a replan: the last round ran scale_service and it did not help */
	in = input_of("checkout latency", "checkout_latency_p99", "{}", "use restart_service");
	cJSON *v = cJSON_Parse("{\"ok\":false,\"summary\":\"not fixed after round 1 of 2\","
	                       "\"checks\":[{\"action\":\"scale_service\",\"ok\":false}]}");
	cJSON_AddItemToObject(in, "verify", v);
	propose(f, in, "checkout/latency", got, sizeof(got), notes, sizeof(notes));
	if (strstr(got, "scale_service") || !strstr(got, "restart_service"))
		fail_msg("replan: got '%s' (notes %s)", got, notes);
	cJSON_Delete(in);
	/* another service's cache metric does not nominate clear_cache for db */
	in = cJSON_Parse(
	    "{\"incident\":{\"id\":1,\"title\":\"Anomaly on db\",\"service\":\"db\"},"
	    "\"detect\":{\"anomalies\":[{\"series\":\"db_latency_p95_ms\",\"service\":\"db\"},"
	    "{\"series\":\"cache_hit_ratio\",\"service\":\"cache\"}],"
	    "\"ranking\":[{\"service\":\"db\",\"confidence\":0.9,\"rationale\":\"db slow\"},"
	    "{\"service\":\"cache\",\"confidence\":0.1,\"rationale\":\"cache_hit_ratio fell\"}]}}");
	propose(f, in, "db/latency", got, sizeof(got), notes, sizeof(notes));
	if (strstr(got, "clear_cache") || !strstr(got, "scale_service"))
		fail_msg("other service's findings: got '%s'", got);
	cJSON_Delete(in);
}

/* Verification covers the services that call the suspected one, and grouped alerts. */
static void test_watch_steps(void **state)
{
	struct fx *f = *state;
	static const struct plan_edge edges[] = {
	    {"frontend", "api"}, {"api", "db"}, {"api", "cache"}};
	struct plan_ctx ctx = {.cat = f->cat, .max_steps = 3, .edges = edges, .nedges = 3};
	cJSON *in =
	    cJSON_Parse("{\"incident\":{\"id\":1,\"title\":\"db\",\"service\":\"db\","
	                "\"grouped\":{\"count\":2,\"alerts\":[{\"service\":\"payment\"}]}}}");
	cJSON *steps = cJSON_Parse("[{\"action\":\"restart_service\",\"params\":{\"service\":"
	                           "\"db\"}},{\"action\":\"restart_service\",\"params\":{"
	                           "\"service\":\"api\"}}]");
	cJSON *w = playbook_watch_steps(&ctx, in, steps);
	char got[512] = "";
	size_t o = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, w) o += (size_t)snprintf(
	    got + o, sizeof(got) - o, "%s%s:%s", o ? " " : "", json_str(s, "action"),
	    json_str(cJSON_GetObjectItemCaseSensitive(s, "params"), "service"));
	/* db and api have a checked step already; frontend calls db through api;
	 * payment's alert was grouped in; cache is a sibling, not affected */
	if (strcmp(got, "watch_service:frontend watch_service:payment") != 0)
		fail_msg("watch steps: got '%s'", got);
	cJSON_Delete(w);
	cJSON_Delete(steps);
	/* a graph, a plan that checks nothing: the suspect itself is watched */
	steps = cJSON_Parse("[{\"action\":\"page_oncall\",\"params\":{}}]");
	w = playbook_watch_steps(&ctx, in, steps);
	s = cJSON_GetArrayItem(w, 0);
	if (!s || strcmp(json_str(cJSON_GetObjectItemCaseSensitive(s, "params"), "service"), "db"))
		fail_msg("suspect not watched: %d steps", cJSON_GetArraySize(w));
	cJSON_Delete(w);
	cJSON_Delete(steps);
	/* no graph, no grouped alerts: nothing to add */
	ctx.nedges = 0;
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(in, "incident"), "grouped");
	steps = cJSON_Parse("[{\"action\":\"clear_cache\",\"params\":{\"service\":\"db\"}}]");
	w = playbook_watch_steps(&ctx, in, steps);
	assert_int_equal(cJSON_GetArraySize(w), 0);
	cJSON_Delete(w);
	cJSON_Delete(steps);
	cJSON_Delete(in);
}

/* The alert is on frontend; the ranking's top (weak) is api, which frontend calls. */
static void test_suspect_downstream(void **state)
{
	struct fx *f = *state;
	static const struct plan_edge edges[] = {{"frontend", "api"}};
	struct plan_ctx ctx = {.cat = f->cat, .mem = f->mem, .max_steps = 1, .ucb_c = 0.5};
	cJSON *in = cJSON_Parse(
	    "{\"incident\":{\"id\":1,\"title\":\"Anomaly on frontend\",\"service\":\"frontend\"},"
	    "\"detect\":{\"anomalies\":[{\"series\":\"api_latency_p95_ms\",\"service\":\"api\"}],"
	    "\"ranking\":[{\"service\":\"api\",\"confidence\":0.23,\"rationale\":\"api_latency_p95_"
	    "ms "
	    "rose\"}]}}");
	for (int graph = 0; graph < 2; graph++) {
		ctx.edges = graph ? edges : NULL;
		ctx.nedges = graph ? 1 : 0;
		cJSON *notes = json_new_array();
		cJSON *steps = playbook_propose(&ctx, in, "x/latency", notes);
		const char *svc = json_str(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(steps, 0), "params"),
		    "service");
		const char *want = graph ? "api" : "frontend";
		if (!svc || strcmp(svc, want) != 0)
			fail_msg("graph %d: step on %s, want %s", graph, svc ? svc : "(none)",
			         want);
		cJSON_Delete(steps);
		cJSON_Delete(notes);
	}
	cJSON_Delete(in);
}

static void test_bandit_score(void **state)
{
	(void)state;
	const struct { /* not static: clang wants constant static initializers */
		double prior;
		int64_t runs, wins, total;
		double c, want;
	} cases[] = {
	    {0.6, 0, 0, 0, 0.5, 0.6},                   /* no history: the prior */
	    {0.6, 0, 0, 10, 0.0, 0.6},                  /* no exploration */
	    {0.0, 8, 8, 8, 0.0, 0.8},                   /* (8 + 0) / (8 + 2) */
	    {1.0, 2, 0, 2, 0.0, 0.5},                   /* (0 + 2) / (2 + 2) */
	    {0.5, 0, 0, 9, 1.0, 0.5 + sqrt(log(10.0))}, /* untried arm's bonus */
	    {0.5, 3, 5, 3, 0.0, (3 + 1.0) / 5.0},       /* wins capped at runs */
	    {2.0, 0, 0, 0, 0.0, 1.0},                   /* prior capped at 1 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = bandit_score(cases[i].prior, cases[i].runs, cases[i].wins,
		                          cases[i].total, cases[i].c);
		if (fabs(got - cases[i].want) > 1e-9)
			fail_msg("case %zu: got %.6f want %.6f", i, got, cases[i].want);
	}
	/* same mean (0.5), fewer runs: the larger score */
	double few = bandit_score(0.5, 2, 1, 20, 0.5), many = bandit_score(0.5, 18, 9, 20, 0.5);
	if (!(few > many))
		fail_msg("less tried arm: got %.4f, want above the often tried arm's %.4f", few,
		         many);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signature),
	    cmocka_unit_test_setup_teardown(test_candidates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bandit_learns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escalation_weighs_less, setup, teardown),
	    cmocka_unit_test(test_bandit_score),
	    cmocka_unit_test_setup_teardown(test_root_cause_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_steps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suspect_downstream, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
