/*
 * slack_render.c: Slack messages from templates/slack/ (lib/template.h).
 *
 * A message `name` is two templates: `name` (name.json, the Block Kit array,
 * rendered with JSON-string + mrkdwn escaping) and `name_text` (the plain
 * `text` fallback, mrkdwn escaping).  The blocks must come out as a JSON
 * array; a template that renders anything else is an error, not a post.
 * The contexts are the neutral steps of bot/step.h: these templates hold
 * every word and the layout of what Slack shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "slack.h"
#include "step.h"
#include "template.h"

int slack_render_load(const char *dir, struct template_set **out, char *err, size_t errlen)
{
	static const char *const need[] = {"parent",     "parent_text", "step",
	                                   "step_text",  "help_text",   "reply_text",
	                                   "queue_down", "why_text",    "reject_modal"};

	return step_templates_load(dir, need, sizeof need / sizeof need[0], out, err, errlen);
}

int slack_render(const struct template_set *ts, const char *name, const cJSON *ctx, char **text,
                 char **blocks, char *err, size_t errlen)
{
	struct buf b = {.max = TEMPLATE_MAX_OUTPUT}, t = {.max = TEMPLATE_MAX_OUTPUT};
	char tname[96];
	cJSON *parsed = NULL;

	*text = *blocks = NULL;
	snprintf(tname, sizeof tname, "%s_text", name);
	if (template_render(ts, tname, ctx, TEMPLATE_ESC_MRKDWN, &t, err, errlen) < 0)
		goto fail;
	while (t.len && (t.data[t.len - 1] == '\n' || t.data[t.len - 1] == ' '))
		t.data[--t.len] = '\0';
	if (template_set_has(ts, name)) {
		if (template_render(ts, name, ctx, TEMPLATE_ESC_JSON | TEMPLATE_ESC_MRKDWN, &b, err,
		                    errlen) < 0)
			goto fail;
		if (json_parse(b.data ? b.data : "", b.len, &parsed, err, errlen) < 0)
			goto fail;
		if (!cJSON_IsArray(parsed)) {
			snprintf(err, errlen, "template '%s' must render a JSON array of blocks",
			         name);
			goto fail;
		}
		*blocks = json_print(parsed); /* compact */
		cJSON_Delete(parsed);
	}
	*text = t.data ? t.data : xstrdup("");
	buf_free(&b);
	return 0;
fail:
	cJSON_Delete(parsed);
	buf_free(&b);
	buf_free(&t);
	return -1;
}

char *slack_render_text(const struct template_set *ts, const char *name, const cJSON *ctx,
                        char *err, size_t errlen)
{
	struct buf t = {.max = TEMPLATE_MAX_OUTPUT};

	if (template_render(ts, name, ctx, TEMPLATE_ESC_MRKDWN, &t, err, errlen) < 0) {
		buf_free(&t);
		return NULL;
	}
	while (t.len && (t.data[t.len - 1] == '\n' || t.data[t.len - 1] == ' '))
		t.data[--t.len] = '\0';
	return t.data ? t.data : xstrdup("");
}

char *slack_render_reply(const struct template_set *ts, const cJSON *ctx, char *err, size_t errlen)
{
	char *t = slack_render_text(ts, "reply_text", ctx, err, errlen);
	if (t) {
		size_t lead = strspn(t, "\n "); /* one section a line: blank lines before it */
		memmove(t, t + lead, strlen(t + lead) + 1);
	}
	return t;
}
