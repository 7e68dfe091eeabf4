/*
 * discord_render.c: Discord message bodies from templates/discord/
 * (lib/template.h), rendered with Discord-markdown + JSON escaping.  The
 * contexts are the neutral steps and parents of bot/step.h: the templates
 * hold every word and the layout (embeds, buttons) of what Discord shows.
 * What C keeps is Discord's hard limits, so a long step never turns into a
 * refused post.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "step.h"
#include "template.h"

#define CONTENT_MAX      2000            /* characters of a message's content */
#define DESCRIPTION_MAX  4096            /* characters of an embed's description */
#define DISCORD_EPOCH_MS 1420070400000LL /* snowflake time 0 */

int discord_render_load(const char *dir, struct template_set **out, char *err, size_t errlen)
{
	static const char *const need[] = {"incident", "step",     "help",
	                                   "reply",    "why_text", "reject_modal"};

	return step_templates_load(dir, need, sizeof need / sizeof need[0], out, err, errlen);
}

/* Cut o[key] (a string) to max characters. */
static void clamp_field(cJSON *o, const char *key, size_t max)
{
	const char *s = json_str(o, key);
	if (!s || strlen(s) <= max)
		return;
	char *c = step_clamp(s, max);
	cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateString(c));
	free(c);
}

cJSON *discord_render(const struct template_set *ts, const char *name, const cJSON *ctx)
{
	struct buf out = {.max = TEMPLATE_MAX_OUTPUT};
	char err[256];
	cJSON *msg = NULL, *e;

	if (template_render(ts, name, ctx, TEMPLATE_ESC_DISCORD | TEMPLATE_ESC_JSON, &out, err,
	                    sizeof err) < 0 ||
	    json_parse_object(out.data ? out.data : "", out.len, &msg, err, sizeof err) < 0) {
		log_error("event=discord_template_failed template=%s error=%s", name, log_q(err));
		msg = NULL;
	}
	buf_free(&out);
	if (msg) {
		clamp_field(msg, "content", CONTENT_MAX);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(msg, "embeds"))
		    clamp_field(e, "description", DESCRIPTION_MAX);
	}
	return msg;
}

char *discord_md(const char *s, size_t max)
{
	char *c = step_clamp(s ? s : "?", max);
	struct buf b = {.max = 8 * max + 64};
	if (template_escape(c, TEMPLATE_ESC_DISCORD, &b) < 0 || !b.data) {
		buf_free(&b);
		return c;
	}
	free(c);
	return b.data;
}

/* Same message?  The nonce when Discord returns it, else the same content
 * (and first embed title) from a message made after since_ms. */
int discord_same_message(const cJSON *m, const cJSON *msg, int64_t since_ms)
{
	const char *nonce = json_str(msg, "nonce"), *mn = json_str(m, "nonce");
	const char *mid = json_str(m, "id");
	if (nonce && mn)
		return !strcmp(nonce, mn);
	if (!mid || (int64_t)((strtoull(mid, NULL, 10) >> 22) + DISCORD_EPOCH_MS) < since_ms)
		return 0;
	const char *c1 = json_str(msg, "content"), *c2 = json_str(m, "content");
	const cJSON *e1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(msg, "embeds"), 0);
	const cJSON *e2 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "embeds"), 0);
	const char *t1 = json_str(e1, "title"), *t2 = json_str(e2, "title");
	if (!c1 || !c2 || strcmp(c1, c2))
		return 0;
	if ((t1 != NULL) != (t2 != NULL) || (t1 && strcmp(t1, t2)))
		return 0;
	return *c1 || t1;
}
