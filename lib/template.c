/* template.c: the logic-less renderer; see template.h for the tag set. */
#include "template.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define TEMPLATE_MAX_FILE (256 * 1024)
#define TEMPLATE_MAX_NAME 128

struct template
{
	char *name;
	char *text;
};

struct template_set {
	struct template *t;
	size_t n;
};

struct tctx {
	const struct template_set *ts;
	const cJSON *stack[TEMPLATE_MAX_DEPTH * 2 + 2];
	int top;
	unsigned esc;
	struct buf *out;
	char *err;
	size_t errlen;
	int depth;
};

struct template_set *template_set_new(void)
{
	return xcalloc(1, sizeof(struct template_set));
}

void template_set_free(struct template_set *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++) {
		free(ts->t[i].name);
		free(ts->t[i].text);
	}
	free(ts->t);
	free(ts);
}

static const char *template_find(const struct template_set *ts, const char *name)
{
	for (size_t i = 0; ts && i < ts->n; i++)
		if (strcmp(ts->t[i].name, name) == 0)
			return ts->t[i].text;
	return NULL;
}

int template_set_has(const struct template_set *ts, const char *name)
{
	return template_find(ts, name) != NULL;
}

static int template_line_of(const char *text, const char *at)
{
	int line = 1;
	for (const char *p = text; p < at; p++)
		if (*p == '\n')
			line++;
	return line;
}

/*
 * Parse one tag starting at p ("{{").  Sets *kind ('v' value, 'r' raw, '#',
 * '^', '/', '>', '!'), the name span, and *end just past the tag.  -1 when the
 * tag is not closed.
 */
static int template_tag(const char *p, char *kind, const char **name, size_t *namelen,
                        const char **end)
{
	const char *s = p + 2;
	const char *close_tag = "}}";
	*kind = 'v';
	if (*s == '{') {
		*kind = 'r';
		close_tag = "}}}";
		s++;
	} else if (*s == '&' || *s == '#' || *s == '^' || *s == '/' || *s == '>' || *s == '!') {
		*kind = *s == '&' ? 'r' : *s;
		s++;
	}
	const char *e = strstr(s, close_tag);
	if (!e)
		return -1;
	const char *a = s, *b = e;
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	*name = a;
	*namelen = (size_t)(b - a);
	*end = e + strlen(close_tag);
	return 0;
}

/* Find the {{/name}} that closes a section opened before p; nesting aware. */
static const char *template_close(const char *p, const char *name, size_t namelen,
                                  const char **after)
{
	int level = 1;
	while ((p = strstr(p, "{{")) != NULL) {
		char kind;
		const char *n, *end;
		size_t nl;
		if (template_tag(p, &kind, &n, &nl, &end) < 0)
			return NULL;
		if ((kind == '#' || kind == '^') && nl == namelen && memcmp(n, name, nl) == 0)
			level++;
		else if (kind == '/' && nl == namelen && memcmp(n, name, nl) == 0 && --level == 0) {
			*after = end;
			return p;
		}
		p = end;
	}
	return NULL;
}

/* Check tags are closed and sections balanced; error names the line. */
static int template_check(const char *name, const char *text, char *err, size_t errlen)
{
	const char *open[TEMPLATE_MAX_DEPTH];
	size_t openlen[TEMPLATE_MAX_DEPTH];
	const char *openat[TEMPLATE_MAX_DEPTH];
	int depth = 0;
	const char *p = text;
	while ((p = strstr(p, "{{")) != NULL) {
		char kind;
		const char *n, *end;
		size_t nl;
		if (template_tag(p, &kind, &n, &nl, &end) < 0) {
			snprintf(err, errlen, "%s:%d: tag is not closed", name,
			         template_line_of(text, p));
			return -1;
		}
		if (nl == 0 && kind != '!') {
			snprintf(err, errlen, "%s:%d: empty tag", name, template_line_of(text, p));
			return -1;
		}
		if (kind == '#' || kind == '^') {
			if (depth == TEMPLATE_MAX_DEPTH) {
				snprintf(err, errlen, "%s:%d: sections nested deeper than %d", name,
				         template_line_of(text, p), TEMPLATE_MAX_DEPTH);
				return -1;
			}
			open[depth] = n;
			openlen[depth] = nl;
			openat[depth] = p;
			depth++;
		} else if (kind == '/') {
			if (depth == 0 || openlen[depth - 1] != nl ||
			    memcmp(open[depth - 1], n, nl) != 0) {
				snprintf(err, errlen,
				         "%s:%d: {{/%.*s}} does not close the open section", name,
				         template_line_of(text, p), (int)nl, n);
				return -1;
			}
			depth--;
		}
		p = end;
	}
	if (depth) {
		snprintf(err, errlen, "%s:%d: section {{#%.*s}} is never closed", name,
		         template_line_of(text, openat[depth - 1]), (int)openlen[depth - 1],
		         open[depth - 1]);
		return -1;
	}
	return 0;
}

int template_set_add(struct template_set *ts, const char *name, const char *text, char *err,
                     size_t errlen)
{
	if (template_check(name, text, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < ts->n; i++) {
		if (strcmp(ts->t[i].name, name) == 0) {
			free(ts->t[i].text);
			ts->t[i].text = xstrdup(text);
			return 0;
		}
	}
	ts->t = xrealloc(ts->t, (ts->n + 1) * sizeof(*ts->t));
	ts->t[ts->n].name = xstrdup(name);
	ts->t[ts->n].text = xstrdup(text);
	ts->n++;
	return 0;
}

int template_set_load(const char *dir, struct template_set **out, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: cannot open template folder: %s", dir, strerror(errno));
		return -1;
	}
	struct template_set *ts = template_set_new();
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		char name[TEMPLATE_MAX_NAME];
		str_copy(name, sizeof(name), de->d_name);
		char *dot = strchr(name, '.');
		if (dot)
			*dot = '\0';
		struct buf text = {.max = TEMPLATE_MAX_FILE};
		rc = buf_read_file(&text, path, err, errlen);
		if (rc == 0)
			rc = template_set_add(ts, name, text.data, err, errlen);
		if (rc < 0 && strncmp(err, name, strlen(name)) == 0) {
			/* name the file, not just the template */
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s/%s%s", dir, de->d_name, err + strlen(name));
			snprintf(err, errlen, "%s", tmp);
		}
		buf_free(&text);
		free(path);
		if (rc < 0)
			break;
	}
	closedir(d);
	if (rc < 0) {
		template_set_free(ts);
		return -1;
	}
	*out = ts;
	return 0;
}

static int template_put(struct buf *out, const char *s, size_t n)
{
	if (out->len + n > TEMPLATE_MAX_OUTPUT)
		return -1;
	return buf_append(out, s, n);
}

static int template_escape_format(const char *s, unsigned esc, struct buf *out)
{
	for (const char *p = s; *p; p++) {
		const char *rep = NULL;
		char one[3] = {0};
		if (esc & (TEMPLATE_ESC_HTML | TEMPLATE_ESC_MRKDWN)) {
			/* Slack mrkdwn escapes & < > only; HTML adds the quotes. */
			int html = (esc & TEMPLATE_ESC_HTML) != 0;
			switch (*p) {
			case '&':
				rep = "&amp;";
				break;
			case '<':
				rep = "&lt;";
				break;
			case '>':
				rep = "&gt;";
				break;
			case '"':
				rep = html ? "&quot;" : NULL;
				break;
			case '\'':
				rep = html ? "&#39;" : NULL;
				break;
			}
		} else if (esc & TEMPLATE_ESC_DISCORD) {
			if (strchr("\\*_~`|>#-[]()", *p) || (*p == '@')) {
				one[0] = '\\';
				one[1] = *p;
				rep = one;
			}
		}
		if (rep) {
			if (buf_append(out, rep, strlen(rep)) < 0)
				return -1;
		} else if (buf_append(out, p, 1) < 0) {
			return -1;
		}
	}
	return 0;
}

static int template_escape_json(const char *s, struct buf *out)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;
		switch (*p) {
		case '"':
			rc = buf_append(out, "\\\"", 2);
			break;
		case '\\':
			rc = buf_append(out, "\\\\", 2);
			break;
		case '\n':
			rc = buf_append(out, "\\n", 2);
			break;
		case '\r':
			rc = buf_append(out, "\\r", 2);
			break;
		case '\t':
			rc = buf_append(out, "\\t", 2);
			break;
		default:
			if (*p < 0x20)
				rc = buf_appendf(out, "\\u%04x", *p);
			else
				rc = buf_append(out, p, 1);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

int template_escape(const char *s, unsigned esc, struct buf *out)
{
	if (!(esc & (TEMPLATE_ESC_HTML | TEMPLATE_ESC_MRKDWN | TEMPLATE_ESC_DISCORD))) {
		if (esc & TEMPLATE_ESC_JSON)
			return template_escape_json(s, out);
		return buf_append(out, s, strlen(s));
	}
	if (!(esc & TEMPLATE_ESC_JSON))
		return template_escape_format(s, esc, out);
	struct buf tmp = {0};
	int rc = template_escape_format(s, esc, &tmp);
	if (rc == 0)
		rc = template_escape_json(tmp.data ? tmp.data : "", out);
	buf_free(&tmp);
	return rc;
}

/* Look a dotted name up from the innermost context outwards. */
static const cJSON *template_lookup(const struct tctx *c, const char *name, size_t len)
{
	if (len == 1 && name[0] == '.')
		return c->stack[c->top];
	char key[TEMPLATE_MAX_NAME];
	const char *dot = memchr(name, '.', len);
	size_t first = dot ? (size_t)(dot - name) : len;
	if (first >= sizeof(key))
		return NULL;
	memcpy(key, name, first);
	key[first] = '\0';
	const cJSON *v = NULL;
	for (int i = c->top; i >= 0 && !v; i--)
		if (cJSON_IsObject(c->stack[i]))
			v = cJSON_GetObjectItemCaseSensitive(c->stack[i], key);
	while (v && dot) {
		const char *rest = dot + 1;
		size_t restlen = len - (size_t)(rest - name);
		dot = memchr(rest, '.', restlen);
		size_t part = dot ? (size_t)(dot - rest) : restlen;
		if (part >= sizeof(key))
			return NULL;
		memcpy(key, rest, part);
		key[part] = '\0';
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key) : NULL;
	}
	return v;
}

static int template_truthy(const cJSON *v)
{
	if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return 0;
	if (cJSON_IsString(v))
		return v->valuestring[0] != '\0';
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	if (cJSON_IsArray(v))
		return cJSON_GetArraySize(v) > 0;
	return 1;
}

static int template_value(struct tctx *c, const cJSON *v, int raw)
{
	char num[64];
	const char *s = NULL;
	if (cJSON_IsString(v)) {
		s = v->valuestring;
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 1e15)
			snprintf(num, sizeof(num), "%lld", (long long)d);
		else
			snprintf(num, sizeof(num), "%g", d);
		s = num;
	} else if (cJSON_IsBool(v)) {
		s = cJSON_IsTrue(v) ? "true" : "false";
	} else {
		return 0; /* null, missing, objects and arrays print nothing */
	}
	unsigned esc = raw ? (c->esc & TEMPLATE_ESC_JSON) : c->esc;
	size_t before = c->out->len;
	if (template_escape(s, esc, c->out) < 0 || c->out->len > TEMPLATE_MAX_OUTPUT) {
		c->out->len = before;
		snprintf(c->err, c->errlen, "output larger than %u bytes", TEMPLATE_MAX_OUTPUT);
		return -1;
	}
	return 0;
}

static int template_run(struct tctx *c, const char *p, const char *stop);

static int template_section(struct tctx *c, const cJSON *v, int inverted, const char *body,
                            const char *body_end)
{
	int truth = template_truthy(v);
	if (inverted)
		return truth ? 0 : template_run(c, body, body_end);
	if (!truth)
		return 0;
	if (c->top + 1 >= (int)(sizeof(c->stack) / sizeof(c->stack[0]))) {
		snprintf(c->err, c->errlen, "sections nested too deep");
		return -1;
	}
	if (cJSON_IsArray(v)) {
		const cJSON *item;
		cJSON_ArrayForEach(item, v)
		{
			c->stack[++c->top] = item;
			int rc = template_run(c, body, body_end);
			c->top--;
			if (rc < 0)
				return -1;
		}
		return 0;
	}
	c->stack[++c->top] = v;
	int rc = template_run(c, body, body_end);
	c->top--;
	return rc;
}

static int template_run(struct tctx *c, const char *p, const char *stop)
{
	while (p < stop) {
		const char *tag = strstr(p, "{{");
		if (!tag || tag >= stop) {
			if (template_put(c->out, p, (size_t)(stop - p)) < 0)
				goto too_big;
			return 0;
		}
		if (template_put(c->out, p, (size_t)(tag - p)) < 0)
			goto too_big;
		char kind;
		const char *name, *end;
		size_t nl;
		if (template_tag(tag, &kind, &name, &nl, &end) < 0) {
			snprintf(c->err, c->errlen, "tag is not closed");
			return -1;
		}
		switch (kind) {
		case '!':
			break;
		case 'v':
		case 'r':
			if (template_value(c, template_lookup(c, name, nl), kind == 'r') < 0)
				return -1;
			break;
		case '#':
		case '^': {
			const char *after;
			const char *close = template_close(end, name, nl, &after);
			if (!close) {
				snprintf(c->err, c->errlen, "section %.*s is never closed", (int)nl,
				         name);
				return -1;
			}
			if (template_section(c, template_lookup(c, name, nl), kind == '^', end,
			                     close) < 0)
				return -1;
			end = after;
			break;
		}
		case '/':
			snprintf(c->err, c->errlen, "unexpected {{/%.*s}}", (int)nl, name);
			return -1;
		case '>': {
			char pname[TEMPLATE_MAX_NAME];
			if (nl >= sizeof(pname)) {
				snprintf(c->err, c->errlen, "partial name too long");
				return -1;
			}
			memcpy(pname, name, nl);
			pname[nl] = '\0';
			const char *text = template_find(c->ts, pname);
			if (!text) {
				snprintf(c->err, c->errlen, "partial %s not found", pname);
				return -1;
			}
			if (++c->depth > TEMPLATE_MAX_DEPTH) {
				snprintf(c->err, c->errlen, "partials nested deeper than %d",
				         TEMPLATE_MAX_DEPTH);
				return -1;
			}
			int rc = template_run(c, text, text + strlen(text));
			c->depth--;
			if (rc < 0)
				return -1;
			break;
		}
		}
		p = end;
	}
	return 0;
too_big:
	snprintf(c->err, c->errlen, "output larger than %u bytes", TEMPLATE_MAX_OUTPUT);
	return -1;
}

int template_render_text(const struct template_set *ts, const char *text, const cJSON *ctx,
                         unsigned esc, struct buf *out, char *err, size_t errlen)
{
	struct tctx c = {.ts = ts, .top = 0, .esc = esc, .out = out, .err = err, .errlen = errlen};
	c.stack[0] = ctx;
	size_t before = out->len;
	int rc = template_run(&c, text, text + strlen(text));
	if (rc < 0) {
		out->len = before; /* nothing half-written */
		if (out->data)
			out->data[before] = '\0';
	}
	return rc;
}

int template_render(const struct template_set *ts, const char *name, const cJSON *ctx, unsigned esc,
                    struct buf *out, char *err, size_t errlen)
{
	const char *text = template_find(ts, name);
	if (!text) {
		snprintf(err, errlen, "template %s not found", name);
		return -1;
	}
	return template_render_text(ts, text, ctx, esc, out, err, errlen);
}
