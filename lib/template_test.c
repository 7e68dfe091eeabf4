/* template_test.c: rendering and escaping for every target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "template.h"

static const char *CTX = "{\"title\":\"DB <down> & out\",\"n\":3,\"ratio\":0.5,\"ok\":true,"
                         "\"empty\":\"\",\"none\":null,\"who\":{\"name\":\"Ana\"},"
                         "\"steps\":[{\"a\":\"restart\"},{\"a\":\"scale\"}],\"nosteps\":[],"
                         "\"quote\":\"say \\\"hi\\\"\\n*now*\",\"at\":\"@everyone\"}";

static void test_render_table(void **state)
{
	(void)state;
	static const struct {
		const char *tmpl;
		unsigned esc;
		const char *want;
	} cases[] = {
	    {"{{title}}", TEMPLATE_ESC_NONE, "DB <down> & out"},
	    {"{{title}}", TEMPLATE_ESC_MRKDWN, "DB &lt;down&gt; &amp; out"},
	    {"{{title}}", TEMPLATE_ESC_HTML, "DB &lt;down&gt; &amp; out"},
	    {"{{{title}}}", TEMPLATE_ESC_HTML, "DB <down> & out"},
	    {"{{&title}}", TEMPLATE_ESC_MRKDWN, "DB <down> & out"},
	    {"\"{{quote}}\"", TEMPLATE_ESC_JSON, "\"say \\\"hi\\\"\\n*now*\""},
	    {"\"{{quote}}\"", TEMPLATE_ESC_JSON | TEMPLATE_ESC_MRKDWN,
	     "\"say \\\"hi\\\"\\n*now*\""},
	    {"{{quote}}", TEMPLATE_ESC_DISCORD, "say \"hi\"\n\\*now\\*"},
	    {"{{at}}", TEMPLATE_ESC_DISCORD, "\\@everyone"},
	    {"{{{quote}}}", TEMPLATE_ESC_JSON | TEMPLATE_ESC_DISCORD, "say \\\"hi\\\"\\n*now*"},
	    {"n={{n}} r={{ratio}} ok={{ok}}", TEMPLATE_ESC_NONE, "n=3 r=0.5 ok=true"},
	    {"[{{missing}}][{{none}}]", TEMPLATE_ESC_NONE, "[][]"},
	    {"{{#steps}}<{{a}}>{{/steps}}", TEMPLATE_ESC_NONE, "<restart><scale>"},
	    {"{{#nosteps}}x{{/nosteps}}{{^nosteps}}none{{/nosteps}}", 0, "none"},
	    {"{{#empty}}x{{/empty}}{{^empty}}blank{{/empty}}", 0, "blank"},
	    {"{{#who}}{{name}} {{title}}{{/who}}", 0, "Ana DB <down> & out"},
	    {"{{who.name}}", 0, "Ana"},
	    {"{{#ok}}yes{{/ok}}", 0, "yes"},
	    {"a{{! note }}b", 0, "ab"},
	    {"{{#steps}}{{#ok}}{{a}}{{/ok}}{{/steps}}", 0, "restartscale"},
	    {"{{#steps}}{{.}}{{/steps}}|{{#nosteps}}{{.}}{{/nosteps}}", 0, "|"},
	};
	cJSON *ctx;
	char err[256];
	assert_int_equal(json_parse_object(CTX, strlen(CTX), &ctx, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = {0};
		int rc = template_render_text(NULL, cases[i].tmpl, ctx, cases[i].esc, &out, err,
		                              sizeof(err));
		const char *got = out.data ? out.data : "";
		if (rc != 0 || strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu %s: got rc=%d %s (err %s), want %s", i, cases[i].tmpl,
			         rc, got, rc ? err : "", cases[i].want);
		buf_free(&out);
	}
	cJSON_Delete(ctx);
}

static void test_partials_and_json_validity(void **state)
{
	(void)state;
	struct template_set *ts = template_set_new();
	char err[256];
	assert_int_equal(template_set_add(ts, "field",
	                                  "{\"type\":\"mrkdwn\",\"text\":\"*{{k}}*: {{v}}\"}", err,
	                                  sizeof(err)),
	                 0);
	assert_int_equal(
	    template_set_add(ts, "msg",
	                     "{\"blocks\":[{{#fields}}{{>field}}{{^last}},{{/last}}{{/fields}}]}",
	                     err, sizeof(err)),
	    0);
	const char *ctxs = "{\"fields\":[{\"k\":\"svc\",\"v\":\"a\\\"<b>\"},"
	                   "{\"k\":\"sev\",\"v\":\"high\",\"last\":true}]}";
	cJSON *ctx;
	assert_int_equal(json_parse_object(ctxs, strlen(ctxs), &ctx, err, sizeof(err)), 0);
	struct buf out = {0};
	assert_int_equal(template_render(ts, "msg", ctx, TEMPLATE_ESC_JSON | TEMPLATE_ESC_MRKDWN,
	                                 &out, err, sizeof(err)),
	                 0);
	cJSON *parsed;
	if (json_parse_object(out.data, out.len, &parsed, err, sizeof(err)) != 0)
		fail_msg("rendered output is not JSON: %s (%s)", out.data, err);
	const cJSON *b0 = cJSON_GetArrayItem(cJSON_GetObjectItem(parsed, "blocks"), 0);
	assert_string_equal(json_str(b0, "text"), "*svc*: a\"&lt;b&gt;");
	cJSON_Delete(parsed);
	cJSON_Delete(ctx);
	buf_free(&out);
	template_set_free(ts);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *tmpl;
		const char *want;
	} cases[] = {
	    {"line1\n{{#a}}x", "t:2: section {{#a}} is never closed"},
	    {"{{#a}}x{{/b}}", "t:1: {{/b}} does not close the open section"},
	    {"ok\n\n{{name", "t:3: tag is not closed"},
	    {"{{}}", "t:1: empty tag"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct template_set *ts = template_set_new();
		char err[256] = "";
		int rc = template_set_add(ts, "t", cases[i].tmpl, err, sizeof(err));
		if (rc != -1 || strcmp(err, cases[i].want) != 0)
			fail_msg("case %zu: got rc=%d err=%s want %s", i, rc, err, cases[i].want);
		template_set_free(ts);
	}
	struct buf out = {0};
	char err[256];
	cJSON *ctx = json_new_object();
	assert_int_equal(template_render_text(NULL, "a{{>nope}}", ctx, 0, &out, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "partial nope not found");
	assert_true(out.len == 0); /* nothing half-written */
	/* A partial that includes itself stops at the depth limit. */
	struct template_set *ts = template_set_new();
	assert_int_equal(template_set_add(ts, "loop", "x{{>loop}}", err, sizeof(err)), 0);
	assert_int_equal(template_render(ts, "loop", ctx, 0, &out, err, sizeof(err)), -1);
	template_set_free(ts);
	cJSON_Delete(ctx);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_table),
	    cmocka_unit_test(test_partials_and_json_validity),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
