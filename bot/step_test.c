/*
 * step_test.c: the neutral chat model: which facts and buttons each event
 * gives, the parent's buttons per state, the snapshot fold, and clamping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "step.h"

static cJSON *parse(const char *s)
{
	cJSON *o = NULL;
	char err[128];
	if (json_parse(s, strlen(s), &o, err, sizeof err) < 0)
		fail_msg("fixture %s: %s", s, err);
	return o;
}

/* The actions of a step's buttons, space separated. */
static void actions(const cJSON *step, char *out, size_t len)
{
	const cJSON *row, *b;
	out[0] = '\0';
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(step, "rows"))
	{
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(row, "buttons"))
		{
			if (out[0])
				strncat(out, " ", len - strlen(out) - 1);
			strncat(out, json_str(b, "action"), len - strlen(out) - 1);
		}
	}
}

static void test_event_kinds(void **state)
{
	static const struct {
		const char *event, *kind, *flag, *who, *text, *buttons;
	} cases[] = {
	    {"{\"name\":\"incident.opened\",\"incident\":1,\"data\":{\"summary\":\"s\",\"surface\":"
	     "{\"user\":\"U1\"}}}",
	     "opened", "is_opened", "U1", "s", ""},
	    {"{\"name\":\"incident.stage\",\"incident\":1,\"data\":{\"from\":\"open\",\"to\":"
	     "\"paused\"}}",
	     "stage", "st_paused", NULL, NULL, ""},
	    {"{\"name\":\"incident.stage\",\"incident\":1,\"data\":{\"to\":\"expired\"}}", "stage",
	     "st_closed", NULL, NULL, ""},
	    {"{\"name\":\"command.recorded\",\"incident\":1,\"data\":{\"action\":\"pause\","
	     "\"user\":\"U2\",\"note\":\"n\"}}",
	     "command", "act_pause", "U2", "n", ""},
	    {"{\"name\":\"command.recorded\",\"incident\":1,\"data\":{\"action\":\"zap\"}}",
	     "command", "act_other", NULL, NULL, ""},
	    {"{\"name\":\"job.finished\",\"incident\":1,\"data\":{\"kind\":\"verify\",\"result\":"
	     "{\"summary\":\"ok\"}}}",
	     "findings", "job_verify", NULL, "ok", ""},
	    {"{\"name\":\"job.finished\",\"incident\":1,\"data\":{\"kind\":\"weird\"}}", "findings",
	     "job_other", NULL, NULL, ""},
	    {"{\"name\":\"job.dead\",\"incident\":1,\"data\":{\"kind\":\"plan\",\"job\":7,"
	     "\"attempts\":3,\"error\":\"e\"}}",
	     "dead", "is_dead", NULL, "e", "retry"},
	    {"{\"name\":\"plan.proposed\",\"incident\":1,\"data\":{\"needs_approval\":true,"
	     "\"plan\":"
	     "{\"hash\":\"h\",\"steps\":[]}}}",
	     "plan", "is_plan", NULL, NULL, "approve reject dryrun"},
	    {"{\"name\":\"plan.proposed\",\"incident\":1,\"data\":{\"needs_approval\":false,"
	     "\"plan\":{\"hash\":\"h\"}}}",
	     "plan", "is_plan", NULL, NULL, ""},
	    {"{\"name\":\"approval.recorded\",\"incident\":1,\"data\":{\"decision\":\"reject\","
	     "\"user\":\"U3\"}}",
	     "approval", "is_approval", "U3", NULL, ""},
	    {"{\"name\":\"incident.updated\",\"incident\":1,\"data\":{\"severity\":\"low\"}}",
	     "updated", "has_fields", NULL, NULL, ""},
	    {"{\"name\":\"x.y\",\"incident\":1,\"data\":{}}", "other", "is_other", NULL, NULL, ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *ev = parse(cases[i].event), *st = step_event(ev, NULL, 100);
		char got[128];
		if (!st)
			fail_msg("%s: no step", cases[i].event);
		if (strcmp(json_str(st, "kind"), cases[i].kind))
			fail_msg("%s: kind got %s, want %s", cases[i].event, json_str(st, "kind"),
			         cases[i].kind);
		if (!json_bool(st, cases[i].flag, 0))
			fail_msg("%s: flag %s not set", cases[i].event, cases[i].flag);
		if ((json_str(st, "who") == NULL) != (cases[i].who == NULL) ||
		    (cases[i].who && strcmp(json_str(st, "who"), cases[i].who)))
			fail_msg("%s: who got %s, want %s", cases[i].event, json_str(st, "who"),
			         cases[i].who);
		if ((json_str(st, "text") == NULL) != (cases[i].text == NULL) ||
		    (cases[i].text && strcmp(json_str(st, "text"), cases[i].text)))
			fail_msg("%s: text got %s, want %s", cases[i].event, json_str(st, "text"),
			         cases[i].text);
		actions(st, got, sizeof got);
		if (strcmp(got, cases[i].buttons))
			fail_msg("%s: buttons got '%s', want '%s'", cases[i].event, got,
			         cases[i].buttons);
		cJSON_Delete(st);
		cJSON_Delete(ev);
	}
	/* not a thread step: no incident; a refused click (for the clicker only) */
	cJSON *ev = parse("{\"name\":\"incident.stage\",\"incident\":0}");
	assert_null(step_event(ev, NULL, 100));
	cJSON_Delete(ev);
	ev = parse("{\"name\":\"approval.refused\",\"incident\":3,\"data\":{\"user\":\"U1\"}}");
	assert_null(step_event(ev, NULL, 100));
	cJSON_Delete(ev);
}

static void test_parent_buttons(void **state)
{
	static const struct {
		const char *state, *sev, *buttons, *flag;
	} cases[] = {
	    {"open", "high", "ack pause resolve", "sev_high"},
	    {"paused", "low", "ack resume resolve", "st_paused"},
	    {"awaiting_approval", "bogus", "ack pause resolve", "sev_unknown"},
	    {"resolved", "critical", "", "final"},
	    {"failed", "info", "", "st_closed"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *snap = json_new_object(), *p;
		char got[128];
		json_add_str(snap, "state", cases[i].state);
		json_add_str(snap, "severity", cases[i].sev);
		json_add_str(snap, "title", "a title that is long");
		p = step_parent(5, snap, 9, 6, 100);
		actions(p, got, sizeof got);
		if (strcmp(got, cases[i].buttons))
			fail_msg("state %s: buttons got '%s', want '%s'", cases[i].state, got,
			         cases[i].buttons);
		if (!json_bool(p, cases[i].flag, 0))
			fail_msg("state %s: flag %s not set", cases[i].state, cases[i].flag);
		assert_string_equal(json_str(p, "title"), "a tit\xe2\x80\xa6");
		assert_int_equal(json_int(p, "rev", 0), 9);
		cJSON_Delete(p);
		cJSON_Delete(snap);
	}
}

static void test_plan_model(void **state)
{
	cJSON *data = parse(
	    "{\"needs_approval\":true,\"plan\":{\"hash\":\"h1\",\"steps\":["
	    "{\"action\":\"a\",\"risk\":\"low\",\"approval\":\"required\",\"approvers\":[\"dba\"],"
	    "\"distinct_approvers\":1},"
	    "{\"action\":\"b\",\"risk\":\"high\",\"approval\":\"required\",\"approvers\":[\"dba\","
	    "\"sre-leads\"],\"distinct_approvers\":2,\"requester_may_approve\":false,"
	    "\"citations\":[\"r.md\",{\"source\":\"s.md\",\"section\":\"Fix\"}]},"
	    "{\"action\":\"c\",\"approval\":\"auto\"}]}}");
	cJSON *appr = parse("[{\"user\":\"U1\",\"decision\":\"approve\"},{\"user\":\"U2\","
	                    "\"decision\":\"reject\"}]");
	cJSON *p = step_plan(3, data, appr, 1, 100);
	const cJSON *need = cJSON_GetObjectItemCaseSensitive(p, "need");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(p, "steps");
	const cJSON *b = cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "rows"), 0), "buttons"),
	    0);
	(void)state;
	assert_int_equal(json_int(need, "count", 0), 2);
	assert_true(json_bool(need, "not_requester", 0));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(need, "groups")), 2);
	assert_int_equal(json_int(p, "tally", -1), 1); /* rejects are not approvals */
	assert_true(json_bool(p, "high_risk", 0));
	/* approve asks for a confirmation when a step is high risk */
	assert_string_equal(json_str(b, "action"), "approve");
	assert_string_equal(json_str(b, "arg"), "h1");
	assert_true(json_bool(b, "confirm", 0));
	/* `more` marks every item but the last, which says false */
	assert_true(json_bool(cJSON_GetArrayItem(steps, 0), "more", 0));
	assert_false(json_bool(cJSON_GetArrayItem(steps, 2), "more", 1));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(steps, 2), "more"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
	                     cJSON_GetArrayItem(steps, 1), "citations")),
	                 2);
	cJSON_Delete(p);
	/* closed: no buttons, says so */
	p = step_plan(3, data, appr, 0, 100);
	assert_false(json_bool(p, "has_buttons", 1));
	assert_true(json_bool(p, "closed", 0));
	cJSON_Delete(p);
	cJSON_Delete(appr);
	cJSON_Delete(data);
}

static int apply(cJSON *snap, const char *ev)
{
	cJSON *e = parse(ev);
	int r = step_snapshot_apply(snap, e);
	cJSON_Delete(e);
	return r;
}

static void test_snapshot_fold(void **state)
{
	cJSON *snap = parse("{\"state\":\"open\",\"title\":\"t\"}");
	(void)state;
	assert_int_equal(apply(snap, "{\"name\":\"incident.stage\",\"data\":{\"from\":\"open\","
	                             "\"to\":\"planning\"}}"),
	                 STEP_REDRAW_PARENT | STEP_CHANGED);
	assert_string_equal(json_str(snap, "state"), "planning");
	assert_int_equal(apply(snap, "{\"name\":\"command.recorded\",\"data\":{\"action\":\"ack\","
	                             "\"user\":\"U9\"}}"),
	                 STEP_REDRAW_PARENT | STEP_CHANGED);
	assert_string_equal(json_str(snap, "acked_by"), "U9");
	assert_int_equal(apply(snap, "{\"name\":\"plan.proposed\",\"seq\":7,\"data\":{"
	                             "\"needs_approval\":true,\"plan\":{\"hash\":\"h\"}}}"),
	                 STEP_CHANGED);
	assert_int_equal(json_int(snap, "plan_seq", 0), 7);
	assert_true(json_bool(snap, "plan_open", 0));
	const char *ok = "{\"name\":\"approval.recorded\",\"data\":{\"decision\":\"approve\","
	                 "\"user\":\"U1\",\"plan\":\"h\"}}";
	assert_int_equal(apply(snap, ok), STEP_REDRAW_PLAN | STEP_CHANGED);
	/* the same decision replayed after a restart counts once */
	assert_int_equal(apply(snap, ok), 0);
	/* another plan's approval is not this one's */
	assert_int_equal(apply(snap, "{\"name\":\"approval.recorded\",\"data\":{\"decision\":"
	                             "\"approve\",\"user\":\"U2\",\"plan\":\"other\"}}"),
	                 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(snap, "approvals")),
	                 1);
	/* the queue's count of distinct people, when it gives one, is the tally */
	assert_int_equal(apply(snap, "{\"name\":\"approval.recorded\",\"data\":{\"decision\":"
	                             "\"approve\",\"user\":\"U3\",\"person\":\"carol\",\"plan\":"
	                             "\"h\",\"have\":1,\"need\":3}}"),
	                 STEP_REDRAW_PLAN | STEP_CHANGED);
	cJSON *pl = step_plan(1, cJSON_GetObjectItemCaseSensitive(snap, "plan"),
	                      cJSON_GetObjectItemCaseSensitive(snap, "approvals"), 1, 100);
	assert_int_equal(json_int(pl, "tally", -1), 1);
	assert_string_equal(
	    json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pl, "approved_by"), 1),
	             "person"),
	    "carol");
	cJSON_Delete(pl);
	/* leaving awaiting_approval takes the buttons off */
	assert_int_equal(apply(snap, "{\"name\":\"incident.stage\",\"data\":{\"from\":"
	                             "\"awaiting_approval\",\"to\":\"executing\"}}"),
	                 STEP_REDRAW_PARENT | STEP_REDRAW_PLAN | STEP_CHANGED);
	assert_false(json_bool(snap, "plan_open", 1));
	assert_int_equal(apply(snap, "{\"name\":\"incident.resolved\",\"data\":{\"by\":\"U4\","
	                             "\"note\":\"done\"}}"),
	                 STEP_REDRAW_PARENT | STEP_CHANGED);
	assert_string_equal(json_str(snap, "state"), "resolved");
	assert_string_equal(json_str(snap, "resolved_by"), "U4");
	assert_int_equal(apply(snap, "{\"name\":\"incident.updated\",\"data\":{\"severity\":"
	                             "\"low\"}}"),
	                 STEP_REDRAW_PARENT | STEP_CHANGED);
	assert_string_equal(json_str(snap, "severity"), "low");
	cJSON_Delete(snap);
}

static void test_clamp_table(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} cases[] = {
	    {"short", 10, "short"},
	    {"exactly10!", 10, "exactly10!"},
	    {"eleven chars", 10, "eleven ch\xe2\x80\xa6"},
	    {"ééééé", 3, "éé\xe2\x80\xa6"},
	    {"", 3, ""},
	    {NULL, 3, ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = step_clamp(cases[i].in, cases[i].max);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("clamp('%s', %zu): got '%s', want '%s'",
			         cases[i].in ? cases[i].in : "NULL", cases[i].max, got,
			         cases[i].want);
		free(got);
	}
}

/* The "may or may not have run" question: three buttons; once answered,
 * redrawn without them and with the answer. */
static void test_ask(void **state)
{
	cJSON *snap = json_new_object(), *ev, *st;
	int64_t seq = -1;
	char *s;
	(void)state;
	ev = cJSON_Parse("{\"name\":\"action.unknown\",\"incident\":4,\"seq\":17,\"data\":"
	                 "{\"step\":2,\"action\":\"restart\",\"step_key\":\"4/9/2\"}}");
	st = step_event(ev, snap, 500);
	s = json_print(st);
	if (!json_bool(st, "is_unknown", 0) || !strstr(s, "\"b_step_retry\":true") ||
	    !strstr(s, "\"b_step_skip\":true") || !strstr(s, "\"b_step_abort\":true") ||
	    !strstr(s, "\"arg\":\"4/9/2\""))
		fail_msg("unknown step: got %s", s);
	free(s);
	cJSON_Delete(st);
	assert_null(step_ask(4, snap, 500, &seq));
	assert_int_equal(step_snapshot_apply(snap, ev), STEP_CHANGED);
	assert_null(step_ask(4, snap, 500, &seq)); /* not answered yet */
	cJSON_Delete(ev);
	/* an answer about another step changes nothing */
	ev = cJSON_Parse("{\"name\":\"action.decided\",\"incident\":4,\"data\":{\"step\":1,"
	                 "\"step_key\":\"4/9/1\",\"decision\":\"skip\",\"user\":\"U1\"}}");
	assert_int_equal(step_snapshot_apply(snap, ev), 0);
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"name\":\"action.decided\",\"incident\":4,\"data\":{\"step\":2,"
	                 "\"step_key\":\"4/9/2\",\"decision\":\"skip\",\"user\":\"U1\","
	                 "\"person\":\"bob\"}}");
	st = step_event(ev, snap, 500);
	if (!json_bool(st, "is_decided", 0) || !json_bool(st, "dec_skip", 0) ||
	    json_bool(st, "has_buttons", 0))
		fail_msg("decided step: got %s", (s = json_print(st)));
	cJSON_Delete(st);
	assert_true(step_snapshot_apply(snap, ev) & STEP_REDRAW_ASK);
	assert_int_equal(step_snapshot_apply(snap, ev), 0); /* a replay redraws nothing */
	st = step_ask(4, snap, 500, &seq);
	assert_non_null(st);
	assert_int_equal(seq, 17);
	if (json_bool(st, "has_buttons", 1) || !json_bool(st, "answered", 0) ||
	    !json_bool(st, "answer_skip", 0) || strcmp(json_str(st, "answered_by"), "bob"))
		fail_msg("answered question: got %s", (s = json_print(st)));
	cJSON_Delete(st);
	cJSON_Delete(ev);
	cJSON_Delete(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_kinds), cmocka_unit_test(test_parent_buttons),
	    cmocka_unit_test(test_plan_model),  cmocka_unit_test(test_snapshot_fold),
	    cmocka_unit_test(test_clamp_table), cmocka_unit_test(test_ask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
