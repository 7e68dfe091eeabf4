/*
 * discord_render_test.c: templates/discord render the neutral steps
 * (bot/step.h) into valid Discord message JSON: the words Discord showed
 * before the model, hostile input escaped (quotes, newlines, markdown,
 * mentions), buttons with their custom_ids, the content limit kept, and
 * the reject modal.  Runs against the real templates (repository root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discord.h"
#include "json.h"
#include "mem.h"
#include "step.h"
#include "template.h"

static const char hostile[] = "db \"down\"\n**bold** @everyone <@123> `x` _y_ ~z~ | > # -";

/* Whether needle occurs in s without a backslash right before it. */
static int raw_in(const char *s, const char *needle)
{
	for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle))
		if (p == s || p[-1] != '\\')
			return 1;
	return 0;
}

static struct template_set *load(void)
{
	struct template_set *ts = NULL;
	char err[256];
	if (discord_render_load("templates/discord", &ts, err, sizeof err) < 0)
		fail_msg("load templates/discord (run from the repository root): %s", err);
	return ts;
}

static cJSON *parse(const char *s)
{
	cJSON *o = NULL;
	char err[128];
	if (json_parse(s, strlen(s), &o, err, sizeof err) < 0)
		fail_msg("fixture %s: %s", s, err);
	return o;
}

/* Every custom_id of msg's components, space separated. */
static void custom_ids(const cJSON *msg, char *out, size_t len)
{
	const cJSON *row, *b;
	out[0] = '\0';
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(msg, "components"))
	{
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(row, "components"))
		{
			if (out[0])
				strncat(out, " ", len - strlen(out) - 1);
			strncat(out, json_str(b, "custom_id"), len - strlen(out) - 1);
		}
	}
}

static void test_step_words(void **state)
{
	static const struct {
		const char *event, *content, *ids;
	} cases[] = {
	    {"{\"name\":\"incident.opened\",\"incident\":2,\"data\":{\"source\":\"discord\","
	     "\"summary\":\"S\",\"surface\":{\"user\":\"ann (42)\"}}}",
	     "🚨 **Incident opened by ann \\(42\\) (source: discord)**\nS", ""},
	    {"{\"name\":\"incident.stage\",\"incident\":2,\"data\":{\"from\":\"awaiting_approval\","
	     "\"to\":\"executing\"}}",
	     "➡️ **State: awaiting\\_approval → executing**", ""},
	    {"{\"name\":\"approval.recorded\",\"incident\":2,\"data\":{\"decision\":\"approve\","
	     "\"user\":\"carol (88)\",\"surface\":\"discord\"}}",
	     "✅ **approve by carol \\(88\\) (discord)**", ""},
	    {"{\"name\":\"job.dead\",\"incident\":2,\"data\":{\"kind\":\"plan\",\"attempts\":3,"
	     "\"job\":11}}",
	     "❌ **plan failed after 3 attempts; it will not run again by itself**",
	     "ob:2:retry:11"},
	    {"{\"name\":\"plan.proposed\",\"incident\":2,\"data\":{\"needs_approval\":true,"
	     "\"plan\":"
	     "{\"hash\":\"h-test-1\",\"steps\":[{\"action\":\"restart\",\"params\":{\"service\":"
	     "\"checkout\"},\"risk\":\"low\",\"rationale\":\"r\",\"approval\":\"required\"}]}}}",
	     "📋 **Plan proposed: approval needed**\n1. restart {\"service\":\"checkout\"} (low): r",
	     "ob:2:approve:h-test-1 ob:2:reject:h-test-1 ob:2:dryrun:h-test-1"},
	    {"{\"name\":\"action.unknown\",\"incident\":2,\"data\":{\"step\":1,\"action\":"
	     "\"restart\",\"step_key\":\"2/5/1\"}}",
	     "❓ **Step 1 (restart) may or may not have run**\nopsbot stopped before",
	     "ob:2:step_retry:2/5/1 ob:2:step_skip:2/5/1 ob:2:step_abort:2/5/1"},
	    {"{\"name\":\"action.decided\",\"incident\":2,\"data\":{\"step\":1,\"action\":"
	     "\"restart\",\"step_key\":\"2/5/1\",\"decision\":\"abort\",\"user\":\"42\","
	     "\"person\":\"bob\"}}",
	     "☑️ **bob chose Abort for step 1 (restart)**\nNothing more runs", ""},
	};
	struct template_set *ts = load();
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *ev = parse(cases[i].event), *st = step_event(ev, NULL, DISCORD_TEXT_MAX);
		cJSON *msg = discord_render(ts, "step", st);
		char ids[512];
		if (!msg)
			fail_msg("%s: render failed", cases[i].event);
		if (strncmp(json_str(msg, "content"), cases[i].content, strlen(cases[i].content)))
			fail_msg("%s: content got '%s', want it to start with '%s'", cases[i].event,
			         json_str(msg, "content"), cases[i].content);
		custom_ids(msg, ids, sizeof ids);
		if (strcmp(ids, cases[i].ids))
			fail_msg("%s: custom_ids got '%s', want '%s'", cases[i].event, ids,
			         cases[i].ids);
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(msg, "components")))
			fail_msg("%s: components must always be sent (an edit takes buttons off)",
			         cases[i].event);
		cJSON_Delete(msg);
		cJSON_Delete(st);
		cJSON_Delete(ev);
	}
	template_set_free(ts);
}

static void test_hostile_escaped(void **state)
{
	struct template_set *ts = load();
	cJSON *snap = json_new_object(), *p, *msg, *ev, *st;
	(void)state;
	/* the parent: title and summary come from whoever declared it */
	json_add_str(snap, "title", hostile);
	json_add_str(snap, "summary", hostile);
	json_add_str(snap, "state", "open");
	json_add_str(snap, "severity", "high");
	p = step_parent(7, snap, 1, DISCORD_TITLE_MAX, DISCORD_SUMMARY_MAX);
	msg = discord_render(ts, "incident", p);
	assert_non_null(msg);
	const cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(msg, "embeds"), 0);
	const char *bad[] = {"**bold**", "@everyone", "`x`"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (raw_in(json_str(e0, "title"), bad[i]) ||
		    raw_in(json_str(e0, "description"), bad[i]))
			fail_msg("parent: got raw %s in %s", bad[i], json_str(e0, "title"));
	assert_int_equal(json_int(e0, "color", 0), 15105570); /* high */
	char ids[256];
	custom_ids(msg, ids, sizeof ids);
	assert_string_equal(ids, "ob:7:ack ob:7:pause ob:7:resolve");
	cJSON_Delete(msg);
	cJSON_Delete(p);
	cJSON_Delete(snap);
	/* a step whose text is hostile and far over the content limit */
	cJSON *data = json_new_object();
	struct buf big = {.max = 20000};
	for (int i = 0; i < 100; i++)
		buf_appendf(&big, "%s", hostile);
	json_add_str(data, "summary", big.data);
	ev = json_new_object();
	json_add_str(ev, "name", "incident.opened");
	json_add_int(ev, "incident", 7);
	json_add(ev, "data", data);
	st = step_event(ev, NULL, 5000);
	msg = discord_render(ts, "step", st);
	assert_non_null(msg);
	if (raw_in(json_str(msg, "content"), "@everyone"))
		fail_msg("step: got a raw @everyone");
	if (strlen(json_str(msg, "content")) > 4 * 2000)
		fail_msg("step: content of %zu bytes", strlen(json_str(msg, "content")));
	cJSON_Delete(msg);
	cJSON_Delete(st);
	cJSON_Delete(ev);
	buf_free(&big);
	template_set_free(ts);
}

static void test_modal_and_help(void **state)
{
	struct template_set *ts = load();
	cJSON *ctx = json_new_object(), *m;
	(void)state;
	json_add_int(ctx, "id", 3);
	json_add_str(ctx, "hash", "h-1");
	m = discord_render(ts, "reject_modal", ctx);
	assert_non_null(m);
	assert_string_equal(json_str(m, "custom_id"), "obr:3:h-1");
	const cJSON *input = cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "components"), 0),
	        "components"),
	    0);
	assert_int_equal(json_int(input, "type", 0), 4);
	assert_string_equal(json_str(input, "custom_id"), "reason");
	cJSON_Delete(m);
	cJSON_Delete(ctx);
	ctx = json_new_object();
	json_add_str(ctx, "why", hostile);
	m = discord_render(ts, "help", ctx);
	assert_non_null(m);
	if (raw_in(json_str(m, "content"), "**bold**") ||
	    !strstr(json_str(m, "content"), "/incident"))
		fail_msg("help: got %s", json_str(m, "content"));
	cJSON_Delete(m);
	cJSON_Delete(ctx);
	template_set_free(ts);
}

/* Finding a post again after a crash: by nonce, else by content and time. */
static void test_same_message(void **state)
{
	/* snowflake 1577983915728044037 was made at 1796291083033 ms (Unix) */
	static const struct {
		const char *m, *msg;
		int64_t since_ms;
		int want;
	} cases[] = {
	    {"{\"id\":\"1577983915728044037\",\"nonce\":\"obe7\",\"content\":\"x\"}",
	     "{\"nonce\":\"obe7\",\"content\":\"y\"}", 0, 1},
	    {"{\"id\":\"1577983915728044037\",\"nonce\":\"obe8\",\"content\":\"x\"}",
	     "{\"nonce\":\"obe7\",\"content\":\"x\"}", 0, 0},
	    /* no nonce in the listing (Discord's GET): the same content, made after */
	    {"{\"id\":\"1577983915728044037\",\"content\":\"step 1\"}",
	     "{\"nonce\":\"obe7\",\"content\":\"step 1\"}", 1796291083000, 1},
	    {"{\"id\":\"1577983915728044037\",\"content\":\"step 1\"}",
	     "{\"nonce\":\"obe7\",\"content\":\"step 1\"}", 1796291084000, 0},
	    {"{\"id\":\"1577983915728044037\",\"content\":\"step 2\"}",
	     "{\"nonce\":\"obe7\",\"content\":\"step 1\"}", 0, 0},
	    {"{\"id\":\"1577983915728044037\",\"content\":\"\",\"embeds\":[{\"title\":\"Incident "
	     "#2: a\"}]}",
	     "{\"content\":\"\",\"embeds\":[{\"title\":\"Incident #2: a\"}]}", 0, 1},
	    {"{\"id\":\"1577983915728044037\",\"content\":\"\",\"embeds\":[{\"title\":\"Incident "
	     "#3: a\"}]}",
	     "{\"content\":\"\",\"embeds\":[{\"title\":\"Incident #2: a\"}]}", 0, 0},
	    {"{\"id\":\"1577983915728044037\",\"content\":\"\"}", "{\"content\":\"\"}", 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *m = parse(cases[i].m), *msg = parse(cases[i].msg);
		int got = discord_same_message(m, msg, cases[i].since_ms);
		if (got != cases[i].want)
			fail_msg("case %zu (%s vs %s): got %d, want %d", i, cases[i].m,
			         cases[i].msg, got, cases[i].want);
		cJSON_Delete(m);
		cJSON_Delete(msg);
	}
}

/*
 * Replies to one person (templates/discord/reply.json), word for word as
 * the C code wrote them before the wording moved to the template.
 */
static void test_reply_words(void **state)
{
	(void)state;
	static const struct {
		const char *ctx, *want;
	} cases[] = {
	    {"{\"declared\":true,\"id\":7}",
	     "Incident #7 is open. Its message and thread are in this channel; opsbot posts every "
	     "step there."},
	    {"{\"already\":true,\"id\":7}",
	     "Incident #7 was already open. Its message and thread are in this channel; opsbot "
	     "posts every step there."},
	    {"{\"status\":true,\"id\":1,\"title\":\"checkout 5xx *now*\",\"state\":\"detecting\","
	     "\"severity\":\"high\",\"service\":\"checkout\"}",
	     "Incident #1: checkout 5xx \\*now\\* — state detecting, severity high, service "
	     "checkout."},
	    {"{\"list\":true,\"items\":[]}", "No open incidents."},
	    {"{\"list\":true,\"items\":[{\"id\":1,\"title\":\"a\",\"state\":\"open\",\"more\":true}"
	     ","
	     "{\"id\":2,\"title\":\"b\",\"state\":\"awaiting_approval\"}]}",
	     "#1 a (open)\n#2 b (awaiting_approval)"},
	    {"{\"done\":true,\"what\":\"resolve\"}",
	     "Done: resolve recorded. The incident's thread shows it."},
	    {"{\"failed\":true,\"refused\":true,\"why\":\"carol is not an approver\"}",
	     "opsbot could not do that: carol is not an approver. Nothing was changed; try again "
	     "in a moment."},
	    {"{\"failed\":true,\"refused\":false,\"why\":\"the queue did not answer\"}",
	     "opsbot could not do that: the queue did not answer. Nothing was changed; try again "
	     "in a moment (opsbot is retrying its connection)."},
	};
	struct template_set *ts = load();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *ctx = parse(cases[i].ctx);
		cJSON *m = discord_render(ts, "reply", ctx);
		assert_non_null(m);
		const char *got = json_str(m, "content");
		assert_non_null(got);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s:\n got  '%s'\n want '%s'", cases[i].ctx, got, cases[i].want);
		cJSON_Delete(m);
		cJSON_Delete(ctx);
	}
	template_set_free(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_step_words), cmocka_unit_test(test_hostile_escaped),
	    cmocka_unit_test(test_modal_and_help), cmocka_unit_test(test_same_message),
	    cmocka_unit_test(test_reply_words)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
