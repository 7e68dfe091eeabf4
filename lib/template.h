/*
 * template.h: a small logic-less renderer (a mustache subset) for everything
 * people read: Slack Block Kit JSON, Discord message JSON, email HTML and
 * text, PDF section text.
 *
 * Tags:
 *   {{name}}          value, escaped for the target
 *   {{{name}}}, {{&name}}  value without the format escape (still JSON-escaped
 *                     when the target is JSON, so the output stays valid)
 *   {{#name}}..{{/name}}   section: false/null/""/0/[]/missing render nothing;
 *                     an array renders once per item with the item on top of
 *                     the context; an object is pushed; anything else renders
 *                     once
 *   {{^name}}..{{/name}}   inverted section: renders when the section would not
 *   {{>name}}         partial: another template of the same set
 *   {{!comment}}      nothing
 * Names are looked up from the innermost context outwards; "a.b" walks into
 * objects; "." is the current item.  Numbers print as integers when whole.
 *
 * Escaping is chosen per render as flags, applied format first, then JSON:
 *   TEMPLATE_ESC_MRKDWN  Slack mrkdwn: & < > only
 *   TEMPLATE_ESC_DISCORD Discord markdown: \ * _ ~ ` | > # - and @ (mentions)
 *   TEMPLATE_ESC_HTML    & < > " '
 *   TEMPLATE_ESC_JSON    the value sits inside a JSON string literal
 *
 * Ownership: a template_set owns its texts until template_set_free(); output
 * goes to the caller's struct buf.
 */
#ifndef OPSBOT_TEMPLATE_H
#define OPSBOT_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "mem.h"

enum {
	TEMPLATE_ESC_NONE = 0,
	TEMPLATE_ESC_JSON = 1 << 0,
	TEMPLATE_ESC_MRKDWN = 1 << 1,
	TEMPLATE_ESC_DISCORD = 1 << 2,
	TEMPLATE_ESC_HTML = 1 << 3,
};

#define TEMPLATE_MAX_DEPTH  16         /* nested sections and partials */
#define TEMPLATE_MAX_OUTPUT (1u << 20) /* bytes one render may produce */

struct template_set;

/*
 * Load every regular file of dir as a template named by its file name
 * without extension ("incident.json" -> "incident").  Templates are checked
 * for balanced sections at load time: an error names file and line.
 */
int template_set_load(const char *dir, struct template_set **out, char *err, size_t errlen);
/* An empty set to add texts to (tests, built-in defaults). */
struct template_set *template_set_new(void);
/* Add (or replace) a template; copies text.  Checks it like the loader. */
int template_set_add(struct template_set *ts, const char *name, const char *text, char *err,
                     size_t errlen);
void template_set_free(struct template_set *ts);
int template_set_has(const struct template_set *ts, const char *name);

/* Render template `name` with ctx into out (appended).  0, or -1 with err. */
int template_render(const struct template_set *ts, const char *name, const cJSON *ctx, unsigned esc,
                    struct buf *out, char *err, size_t errlen);
/* Render a template text directly (partials come from ts, which may be NULL). */
int template_render_text(const struct template_set *ts, const char *text, const cJSON *ctx,
                         unsigned esc, struct buf *out, char *err, size_t errlen);

/* Escape one value for the given flags, appended to out. */
int template_escape(const char *s, unsigned esc, struct buf *out);

#endif
