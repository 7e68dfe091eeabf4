/* discord_tpl_test.c: templates/discord render to valid Discord message JSON
 * with hostile input escaped (quotes, newlines, markdown, mentions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "mem.h"
#include "template.h"

/* Whether needle occurs in s without a backslash right before it. */
static int raw_in(const char *s, const char *needle)
{
	for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle))
		if (p == s || p[-1] != '\\')
			return 1;
	return 0;
}

static void test_templates(void **state)
{
	(void)state;
	struct template_set *ts = NULL;
	char err[256];
	if (template_set_load("templates/discord", &ts, err, sizeof err) < 0)
		fail_msg("load templates/discord (run from the repository root): %s", err);
	const char *hostile = "db \"down\"\n**bold** @everyone <@123> `x` _y_ ~z~ | > # -";
	struct {
		const char *tpl;
		const char *ctx;
		const char *path;   /* where the hostile text lands */
		const char *absent; /* must not appear raw in that text */
	} cases[] = {
	    {"incident",
	     "{\"incident\":7,\"title\":\"T\",\"summary\":\"S\",\"service\":\"svc\",\"severity\":"
	     "\"high\","
	     "\"state\":\"open\",\"source\":\"discord\",\"color\":15158332,\"final\":false}",
	     "title", "**bold**"},
	    {"incident",
	     "{\"incident\":7,\"title\":\"T\",\"service\":\"svc\",\"severity\":\"high\",\"state\":"
	     "\"resolved\","
	     "\"source\":\"cli\",\"color\":3066993,\"final\":true}",
	     "title", "@everyone"},
	    {"step", "{\"icon\":\"•\",\"headline\":\"H\",\"text\":\"T\"}", "headline", "@everyone"},
	    {"step", "{\"icon\":\"•\",\"headline\":\"H\"}", "text", "**bold**"},
	    {"help", "{\"why\":\"W\"}", "why", "**bold**"},
	    {"help", "{}", "why", "@everyone"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *ctx = NULL;
		if (json_parse_object(cases[i].ctx, strlen(cases[i].ctx), &ctx, err, sizeof err) <
		    0)
			fail_msg("case %zu ctx: %s", i, err);
		cJSON_DeleteItemFromObjectCaseSensitive(ctx, cases[i].path);
		json_add_str(ctx, cases[i].path, hostile);
		struct buf out = {.max = TEMPLATE_MAX_OUTPUT};
		if (template_render(ts, cases[i].tpl, ctx, TEMPLATE_ESC_DISCORD | TEMPLATE_ESC_JSON,
		                    &out, err, sizeof err) < 0)
			fail_msg("case %zu (%s): render: %s", i, cases[i].tpl, err);
		cJSON *msg = NULL;
		if (json_parse_object(out.data, out.len, &msg, err, sizeof err) < 0)
			fail_msg("case %zu (%s): not JSON (%s): %s", i, cases[i].tpl, err,
			         out.data);
		const char *content = json_str(msg, "content");
		const cJSON *embeds = cJSON_GetObjectItemCaseSensitive(msg, "embeds");
		const cJSON *e0 = cJSON_GetArrayItem(embeds, 0);
		const char *title = json_str(e0, "title");
		if (!content && !title)
			fail_msg("case %zu (%s): neither content nor an embed title", i,
			         cases[i].tpl);
		if (raw_in(content, cases[i].absent) || raw_in(title, cases[i].absent))
			fail_msg("case %zu (%s): got raw %s in the output, want it escaped: %s", i,
			         cases[i].tpl, cases[i].absent, out.data);
		if (content && strlen(content) > 2000)
			fail_msg("case %zu: content %zu bytes, want <= 2000", i, strlen(content));
		cJSON_Delete(msg);
		cJSON_Delete(ctx);
		buf_free(&out);
	}
	template_set_free(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_templates)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
