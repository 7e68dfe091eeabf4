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

static cJSON *parent_ctx(const char *title, const char *summary)
{
	cJSON *c = json_new_object();
	json_add_int(c, "id", 12);
	json_add_str(c, "title", title);
	json_add_str(c, "service", "check<out>");
	json_add_str(c, "severity", "high");
	json_add_str(c, "state", "open");
	json_add_str(c, "source", "slack");
	json_add_str(c, "summary", summary);
	json_add_str(c, "sev_icon", ":large_orange_circle:");
	json_add_str(c, "state_icon", ":new:");
	json_add_bool(c, "open", 1);
	json_add_int(c, "rev", 1);
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
	json_add_str(ctx, "acked_by", "U0BOB");
	assert_int_equal(slack_render(ts, "parent", ctx, &text, &bl, err, sizeof err), 0);
	if (strncmp(text, want, strlen(want)) != 0 || !strstr(text, "<@U0BOB>"))
		fail_msg("text: got '%s', want it to start with '%s' and mention <@U0BOB>", text,
		         want);
	if (!strstr(bl, "opsbot_ack") || !strstr(bl, "Acknowledged by <@U0BOB>"))
		fail_msg("blocks: got %s, want the ack button and who acknowledged", bl);
	free(text);
	free(bl);
	/* resolved: no buttons */
	cJSON_ReplaceItemInObjectCaseSensitive(ctx, "open", cJSON_CreateFalse());
	assert_int_equal(slack_render(ts, "parent", ctx, &text, &bl, err, sizeof err), 0);
	if (strstr(bl, "opsbot_ack"))
		fail_msg("resolved parent: got buttons in %s, want none", bl);
	free(text);
	free(bl);
	cJSON_Delete(ctx);
	template_set_free(ts);
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
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = slack_clamp(cases[i].in, cases[i].max);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("clamp('%s', %zu): got '%s', want '%s'", cases[i].in, cases[i].max,
			         got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping_table),
	    cmocka_unit_test(test_text_fallback),
	    cmocka_unit_test(test_clamp_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
