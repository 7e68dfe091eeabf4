/*
 * slack_render_test.c: the Slack templates escape what users type: JSON
 * string escaping keeps the blocks valid JSON, mrkdwn escaping turns & < >
 * into entities (and nothing else), and long text is clamped by characters.
 * Runs against the real templates in templates/slack/.
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
#include "slack.h"
#include "step.h"
#include "template.h"

static struct template_set *load(void)
{
	struct template_set *ts = NULL;
	char err[256];
	const char *dir = getenv("OPSBOT_SRC") ? getenv("OPSBOT_SRC") : ".";
	char path[1024];
	snprintf(path, sizeof path, "%s/templates/slack", dir);
	if (slack_render_load(path, &ts, err, sizeof err) < 0)
		fail_msg("load %s: %s", path, err);
	return ts;
}

/* An incident snapshot as the surface keeps it. */
static cJSON *snap_new(const char *title, const char *summary, const char *state)
{
	cJSON *c = json_new_object();
	json_add_str(c, "title", title);
	json_add_str(c, "service", "check<out>");
	json_add_str(c, "severity", "high");
	json_add_str(c, "state", state);
	json_add_str(c, "source", "slack");
	json_add_str(c, "summary", summary);
	return c;
}

/* The parent's context through the neutral model, as slack.c builds it. */
static cJSON *parent_ctx(const char *title, const char *summary)
{
	cJSON *snap = snap_new(title, summary, "open");
	cJSON *c = step_parent(12, snap, 1, 120, 2000);
	cJSON_Delete(snap);
	return c;
}

/* the text of the first section block (mrkdwn) holding needle */
static const char *find_text(const cJSON *blocks, const char *needle)
{
	const cJSON *b, *f;
	cJSON_ArrayForEach(b, blocks)
	{
		const char *t = json_str(cJSON_GetObjectItemCaseSensitive(b, "text"), "text");
		if (t && strstr(t, needle))
			return t;
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(b, "fields"))
		{
			if (json_str(f, "text") && strstr(json_str(f, "text"), needle))
				return json_str(f, "text");
		}
	}
	return NULL;
}

static void test_escaping_table(void **state)
{
	static const struct {
		const char *summary;
		const char *want; /* what the section text must contain */
	} cases[] = {
	    {"plain words", "plain words"},
	    {"a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"},
	    {"<!channel> wake up", "&lt;!channel&gt; wake up"},
	    {"<@U123|bob> did it", "&lt;@U123|bob&gt; did it"},
	    {"quote \" and backslash \\ stay", "quote \" and backslash \\ stay"},
	    {"new\nline\ttab", "new\nline\ttab"},
	    {"*bold* _it_ ~s~ `c`", "*bold* _it_ ~s~ `c`"},
	    {"ünïcödé ✓", "ünïcödé ✓"},
	};
	struct template_set *ts = load();
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *ctx = parent_ctx("title", cases[i].summary), *blocks = NULL;
		char *text = NULL, *bl = NULL, err[256];
		if (slack_render(ts, "parent", ctx, &text, &bl, err, sizeof err) < 0)
			fail_msg("summary '%s': render failed: %s", cases[i].summary, err);
		if (json_parse(bl, strlen(bl), &blocks, err, sizeof err) < 0)
			fail_msg("summary '%s': blocks are not JSON (%s): %s", cases[i].summary,
			         err, bl);
		if (!find_text(blocks, cases[i].want))
			fail_msg("summary '%s': got blocks %s, want a text containing '%s'",
			         cases[i].summary, bl, cases[i].want);
		/* the service field is escaped too */
		if (!find_text(blocks, "check&lt;out&gt;"))
			fail_msg("service not escaped: %s", bl);
		cJSON_Delete(blocks);
		cJSON_Delete(ctx);
		free(text);
		free(bl);
	}
	template_set_free(ts);
}

static void test_text_fallback(void **state)
{
	struct template_set *ts = load();
	cJSON *ctx = parent_ctx("DB <down> & out", "x");
	char *text = NULL, *bl = NULL, err[256];
	const char *want = "#12 DB &lt;down&gt; &amp; out (high, check&lt;out&gt;): open";
	(void)state;
	cJSON *snap = snap_new("DB <down> & out", "x", "open");
	json_add_str(snap, "acked_by", "U0BOB");
	cJSON_Delete(ctx);
	ctx = step_parent(12, snap, 1, 120, 2000);
	assert_int_equal(slack_render(ts, "parent", ctx, &text, &bl, err, sizeof err), 0);
	if (strncmp(text, want, strlen(want)) != 0 || !strstr(text, "<@U0BOB>"))
		fail_msg("text: got '%s', want it to start with '%s' and mention <@U0BOB>", text,
		         want);
	if (!strstr(bl, "opsbot_ack") || !strstr(bl, "Acknowledged by <@U0BOB>"))
		fail_msg("blocks: got %s, want the ack button and who acknowledged", bl);
	free(text);
	free(bl);
	/* resolved: no buttons */
	cJSON_ReplaceItemInObjectCaseSensitive(snap, "state", cJSON_CreateString("resolved"));
	cJSON_Delete(ctx);
	ctx = step_parent(12, snap, 2, 120, 2000);
	assert_int_equal(slack_render(ts, "parent", ctx, &text, &bl, err, sizeof err), 0);
	if (strstr(bl, "opsbot_ack"))
		fail_msg("resolved parent: got buttons in %s, want none", bl);
	free(text);
	free(bl);
	cJSON_Delete(snap);
	cJSON_Delete(ctx);
	template_set_free(ts);
}

/* Render the thread step of one event; the blocks parsed, the text kept. */
static cJSON *render_step(struct template_set *ts, const char *event_json, char **text)
{
	cJSON *ev = NULL, *step, *blocks = NULL;
	char *bl = NULL, err[256];
	if (json_parse(event_json, strlen(event_json), &ev, err, sizeof err) < 0)
		fail_msg("fixture %s: %s", event_json, err);
	step = step_event(ev, NULL, 2000);
	if (!step)
		fail_msg("event %s: no step", event_json);
	if (slack_render(ts, "step", step, text, &bl, err, sizeof err) < 0)
		fail_msg("event %s: render failed: %s", event_json, err);
	if (json_parse(bl, strlen(bl), &blocks, err, sizeof err) < 0 || !cJSON_IsArray(blocks))
		fail_msg("event %s: blocks are not a JSON array (%s): %s", event_json, err, bl);
	free(bl);
	cJSON_Delete(step);
	cJSON_Delete(ev);
	return blocks;
}

/* The words of every step kind, as Slack showed them before the model. */
static void test_step_words(void **state)
{
	static const struct {
		const char *event, *want_text, *want_blocks;
	} cases[] = {
	    {"{\"name\":\"incident.opened\",\"incident\":3,\"data\":{\"summary\":\"p99 up\","
	     "\"surface\":{\"user\":\"U1\"}}}",
	     "Incident opened by <@U1>: p99 up",
	     ":rotating_light: *Incident opened* by <@U1>\np99 up"},
	    {"{\"name\":\"incident.stage\",\"incident\":3,\"data\":{\"from\":\"open\",\"to\":"
	     "\"awaiting_approval\",\"reason\":\"plan ready\"}}",
	     "State: open → awaiting_approval: plan ready", ":raised_hand: *State: open"},
	    {"{\"name\":\"command.recorded\",\"incident\":3,\"data\":{\"action\":\"ack\","
	     "\"user\":\"U0BOB\"}}",
	     "Acknowledged by <@U0BOB>", ":eyes: *Acknowledged*"},
	    {"{\"name\":\"job.finished\",\"incident\":3,\"data\":{\"kind\":\"detect\","
	     "\"result\":{\"summary\":\"payment <slow>\"}}}",
	     "Detect finished: payment &lt;slow&gt;", ":mag: *Detect finished*"},
	    {"{\"name\":\"job.dead\",\"incident\":3,\"data\":{\"kind\":\"plan\",\"attempts\":5,"
	     "\"job\":9,\"error\":\"boom\"}}",
	     "plan failed after 5 attempts: boom", "`opsbotctl retry 9`"},
	    {"{\"name\":\"job.retry\",\"incident\":3,\"data\":{\"kind\":\"plan\",\"attempt\":2}}",
	     "plan will be retried (attempt 2)", ":hourglass:"},
	    {"{\"name\":\"approval.recorded\",\"incident\":3,\"data\":{\"decision\":\"reject\","
	     "\"user\":\"U2\"}}",
	     "Plan rejected by <@U2>", ":no_entry:"},
	    {"{\"name\":\"incident.resolved\",\"incident\":3,\"data\":{\"by\":\"U3\",\"note\":"
	     "\"rolled back\"}}",
	     "Resolved by <@U3>: rolled back", ":white_check_mark: *Resolved*"},
	    {"{\"name\":\"incident.updated\",\"incident\":3,\"data\":{\"severity\":\"critical\"}}",
	     "Incident updated: severity: critical", ":pencil2:"},
	    {"{\"name\":\"something.new\",\"incident\":3,\"data\":{\"summary\":\"hi\"}}",
	     "something.new: hi", ":information_source:"},
	    {"{\"name\":\"action.unknown\",\"incident\":3,\"data\":{\"step\":2,\"action\":"
	     "\"restart\",\"step_key\":\"3/7/2\",\"question\":\"q\"}}",
	     "Step 2 (restart) may or may not have run\nopsbot stopped before it learned",
	     "\"action_id\":\"opsbot_step_skip\",\"value\":\"3:3/7/2\""},
	    {"{\"name\":\"action.decided\",\"incident\":3,\"data\":{\"step\":2,\"action\":"
	     "\"restart\",\"step_key\":\"3/7/2\",\"decision\":\"skip\",\"user\":\"U0BOB\"}}",
	     "Step 2 (restart): Skip chosen by <@U0BOB>\nopsbot goes on without it.",
	     ":ballot_box_with_check: *Step 2 (restart): Skip chosen* by <@U0BOB>"},
	};
	struct template_set *ts = load();
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = NULL;
		cJSON *blocks = render_step(ts, cases[i].event, &text);
		char *bl = json_print(blocks);
		if (strncmp(text, cases[i].want_text, strlen(cases[i].want_text)))
			fail_msg("event %s: text got '%s', want it to start with '%s'",
			         cases[i].event, text, cases[i].want_text);
		if (!strstr(bl, cases[i].want_blocks) && !find_text(blocks, cases[i].want_blocks))
			fail_msg("event %s: blocks got %s, want '%s'", cases[i].event, bl,
			         cases[i].want_blocks);
		free(bl);
		free(text);
		cJSON_Delete(blocks);
	}
	template_set_free(ts);
}

/* The plan message: steps, what approval is needed, and the three buttons. */
static void test_plan_buttons(void **state)
{
	static const char plan[] =
	    "{\"name\":\"plan.proposed\",\"incident\":4,\"data\":{\"needs_approval\":true,"
	    "\"plan\":{\"hash\":\"h-1\",\"steps\":[{\"action\":\"restart_service\",\"params\":"
	    "{\"service\":\"payment\"},\"risk\":\"high\",\"rationale\":\"leak <fix>\",\"approval\":"
	    "\"required\",\"approvers\":[\"sre-leads\"],\"distinct_approvers\":2,"
	    "\"requester_may_approve\":false,\"citations\":[{\"source\":\"payment.md\","
	    "\"section\":\"Restart\"}]},{\"action\":\"scale\",\"risk\":\"low\",\"approval\":"
	    "\"auto\"}]}}}";
	struct template_set *ts = load();
	char *text = NULL;
	cJSON *blocks = render_step(ts, plan, &text), *b, *e;
	char *bl = json_print(blocks);
	const char *want[] = {"restart_service", "payment.md § Restart", "leak &lt;fix&gt;",
	                      "2 of sre-leads, not the requester", "Approved so far: 0"};
	int buttons = 0, confirm = 0;
	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(bl, want[i]))
			fail_msg("plan blocks: got %s, want '%s'", bl, want[i]);
	cJSON_ArrayForEach(b, blocks)
	{
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(b, "elements"))
		{
			const char *aid = json_str(e, "action_id");
			if (!aid)
				continue;
			buttons++;
			if (strcmp(json_str(e, "value"), "4:h-1"))
				fail_msg("button %s: value got %s, want 4:h-1", aid,
				         json_str(e, "value"));
			if (!strcmp(aid, "opsbot_approve") &&
			    cJSON_GetObjectItemCaseSensitive(e, "confirm"))
				confirm = 1;
		}
	}
	if (buttons != 3 || !confirm)
		fail_msg("plan: got %d buttons (confirm on approve: %d), want 3 with a confirm",
		         buttons, confirm);
	if (!strstr(text, "1. restart_service (risk high, required)"))
		fail_msg("plan text: got '%s'", text);
	free(bl);
	free(text);
	cJSON_Delete(blocks);

	/* decided: redrawn with who approved and without buttons */
	cJSON *ev = NULL, *appr = cJSON_Parse("[{\"user\":\"U0BOB\",\"decision\":\"approve\"}]");
	char err[128], *t2 = NULL, *b2 = NULL;
	json_parse(plan, strlen(plan), &ev, err, sizeof err);
	cJSON *ctx = step_plan(4, cJSON_GetObjectItemCaseSensitive(ev, "data"), appr, 0, 2000);
	assert_int_equal(slack_render(ts, "step", ctx, &t2, &b2, err, sizeof err), 0);
	if (strstr(b2, "opsbot_approve") || !strstr(b2, "Approved so far: 1 by <@U0BOB>"))
		fail_msg("decided plan: got %s, want no buttons and the tally", b2);
	free(t2);
	free(b2);
	cJSON_Delete(ctx);
	cJSON_Delete(appr);
	cJSON_Delete(ev);
	template_set_free(ts);
}

/*
 * Replies to one person (templates/slack/reply_text), word for word as the
 * C code wrote them before the wording moved to the template.
 */
static void test_reply_words(void **state)
{
	(void)state;
	static const struct {
		const char *ctx, *want;
	} cases[] = {
	    {"{\"queue_down\":true}",
	     "opsbot could not reach its queue, so nothing was done. Try again in a minute; if it "
	     "keeps failing, ask an admin to check that opsbot-queue is running."},
	    {"{\"declared\":true,\"id\":7,\"service\":\"check<out>\",\"severity\":\"high\"}",
	     "Declared incident #7 (check&lt;out&gt;, high). Its message and thread are in this "
	     "channel; every step will be posted there."},
	    {"{\"already\":true,\"id\":7}", "This was already declared as incident #7."},
	    {"{\"declaring\":true,\"service\":\"check<out>\",\"severity\":\"high\"}",
	     "Declaring an incident on check&lt;out&gt; (high). Its message, with the incident "
	     "number, appears in this channel in a moment; every step will be posted in its "
	     "thread."},
	    {"{\"queue_wait\":true}",
	     "opsbot's queue is not answering yet. Your declaration is saved: opsbot sends it "
	     "again "
	     "every few seconds, and the incident's message appears in this channel once the queue "
	     "is back. Nothing else to do; if it takes more than a few minutes, ask an admin to "
	     "check opsbot-queue."},
	    {"{\"done\":true,\"id\":7,\"verb\":\"resolve\",\"state\":\"resolved\"}",
	     "Done: resolve incident #7. It is now resolved."},
	    {"{\"refused\":true,\"declare\":true,\"why\":\"bad severity\"}",
	     "Could not declare the incident: bad severity"},
	    {"{\"refused\":true,\"show\":true,\"id\":9,\"why\":\"no such incident\"}",
	     "Could not show incident #9: no such incident"},
	    {"{\"refused\":true,\"by_verb\":true,\"verb\":\"pause\",\"id\":9,\"why\":\"it is "
	     "resolved\"}",
	     "Could not pause incident #9: it is resolved"},
	    {"{\"status\":true,\"id\":3,\"title\":\"a <b>\",\"severity\":\"high\",\"service\":"
	     "\"api\",\"state\":\"open\",\"summary\":\"5xx & more\"}",
	     "• #3 *a &lt;b&gt;* (high, api): open\n> 5xx &amp; more"},
	    {"{\"list\":true,\"items\":[]}", "No open incidents."},
	    {"{\"list\":true,\"items\":[{\"id\":1,\"title\":\"a\",\"severity\":\"high\","
	     "\"service\":"
	     "\"s\",\"state\":\"open\"},{\"id\":2,\"title\":\"b\",\"severity\":\"low\",\"service\":"
	     "\"t\",\"state\":\"detecting\"}],\"others\":3}",
	     "• #1 *a* (high, s): open\n• #2 *b* (low, t): detecting\n…and 3 more; `opsbotctl "
	     "incidents` lists them all."},
	    {"{\"click_refused\":true,\"is_ack\":true,\"id\":4,\"why\":\"already acknowledged\"}",
	     "Could not acknowledge incident #4: already acknowledged"},
	    {"{\"click_refused\":true,\"is_dryrun\":true,\"id\":4,\"why\":\"no plan\"}",
	     "Could not dry-run the plan of incident #4: no plan"},
	    {"{\"click_refused\":true,\"is_other\":true,\"action\":\"approve\",\"id\":4,\"down\":"
	     "true}",
	     "Could not approve incident #4: opsbot could not reach its queue, so nothing was "
	     "done. Try again in a minute; if it keeps failing, ask an admin to check that "
	     "opsbot-queue is running."},
	    {"{\"answer_refused\":true,\"id\":4,\"why\":\"not an approver\"}",
	     "Your answer for incident #4 was not taken: not an approver"},
	};
	struct template_set *ts = load();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[256];
		cJSON *ctx = cJSON_Parse(cases[i].ctx);
		assert_non_null(ctx);
		char *got = slack_render_reply(ts, ctx, err, sizeof err);
		if (!got)
			fail_msg("%s: %s", cases[i].ctx, err);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s:\n got  '%s'\n want '%s'", cases[i].ctx, got, cases[i].want);
		free(got);
		cJSON_Delete(ctx);
	}
	template_set_free(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping_table), cmocka_unit_test(test_text_fallback),
	    cmocka_unit_test(test_step_words),     cmocka_unit_test(test_plan_buttons),
	    cmocka_unit_test(test_reply_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
