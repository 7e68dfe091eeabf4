/*
 * runbook.c: front matter and section splitting for Markdown runbooks.
 *
 * The parser is line-based and strict about the front matter (it is what
 * the planner trusts: action names) and lenient about the Markdown body
 * (any text is fine; only "## " lines split sections).  Fenced code blocks
 * are respected, so a "## " inside ``` does not start a section.
 */
#include "runbook.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static void runbook_err(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void runbook_err(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%d: %s", path, line, msg);
}

/* Trimmed copy of s[0..n); caller frees. */
static char *runbook_trim_dup(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static int runbook_action_ok(const char *name)
{
	if (!*name)
		return 0;
	for (const char *p = name; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

static int runbook_in_catalog(const char *name, const char *const *catalog)
{
	for (; *catalog; catalog++)
		if (strcmp(*catalog, name) == 0)
			return 1;
	return 0;
}

static int runbook_split_actions(const char *path, int line, const char *value,
                                 const char *const *catalog, struct runbook *rb, char *err,
                                 size_t errlen)
{
	const char *p = value;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *name = runbook_trim_dup(p, n);
		if (!runbook_action_ok(name)) {
			runbook_err(err, errlen, path, line,
			            "action '%s' is not a catalog name (lower case, digits, _)",
			            name);
			free(name);
			return -1;
		}
		if (catalog && !runbook_in_catalog(name, catalog)) {
			runbook_err(err, errlen, path, line,
			            "action '%s' is not in the action catalog", name);
			free(name);
			return -1;
		}
		if (rb->nactions == RUNBOOK_MAX_ACTIONS) {
			runbook_err(err, errlen, path, line, "more than %d actions",
			            RUNBOOK_MAX_ACTIONS);
			free(name);
			return -1;
		}
		rb->actions[rb->nactions++] = name;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void runbook_add_section(struct runbook *rb, size_t *cap, const char *name, size_t namelen,
                                int line)
{
	if (rb->nsections == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		rb->sections = xrealloc(rb->sections, *cap * sizeof(*rb->sections));
	}
	struct runbook_section *s = &rb->sections[rb->nsections++];
	s->name = runbook_trim_dup(name, namelen);
	s->text = NULL;
	s->line = line;
}

/* Is text blank (only white space)? */
static int runbook_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Which front matter keys were seen (each may appear once). */
struct runbook_seen {
	int title, sym, act, svc;
};

/* One front matter line l (trimmed, the caller frees it): "key: value". */
static int runbook_front_key(const char *path, int line, char *l, const char *const *catalog,
                             struct runbook *rb, struct runbook_seen *sn, char *err, size_t errlen)
{
	char *colon = strchr(l, ':');
	if (!colon) {
		runbook_err(err, errlen, path, line, "expected 'key: value', got '%.60s'", l);
		return -1;
	}
	*colon = '\0';
	char *key = runbook_trim_dup(l, strlen(l));
	char *val = runbook_trim_dup(colon + 1, strlen(colon + 1));
	int *seen = NULL;
	if (strcmp(key, "title") == 0)
		seen = &sn->title;
	else if (strcmp(key, "symptoms") == 0)
		seen = &sn->sym;
	else if (strcmp(key, "actions") == 0)
		seen = &sn->act;
	else if (strcmp(key, "services") == 0)
		seen = &sn->svc;
	int rc = 0;
	if (!seen) {
		runbook_err(err, errlen, path, line,
		            "unknown key '%s' (known: title, services, symptoms, actions)", key);
		rc = -1;
	} else if (*seen) {
		runbook_err(err, errlen, path, line, "key '%s' appears twice", key);
		rc = -1;
	} else if (!*val) {
		runbook_err(err, errlen, path, line, "key '%s' has no value", key);
		rc = -1;
	}
	if (rc == 0) {
		*seen = 1;
		if (seen == &sn->title)
			rb->title = xstrdup(val);
		else if (seen == &sn->sym)
			rb->symptoms = xstrdup(val);
		else if (seen == &sn->svc)
			rb->services = xstrdup(val);
		else
			rc = runbook_split_actions(path, line, val, catalog, rb, err, errlen);
	}
	free(key);
	free(val);
	return rc;
}

/*
 * The front matter: '---' on the first line, "key: value" lines, '---'.
 * *pp and *line move past it.
 */
static int runbook_front_matter(const char *path, const char **pp, const char *end, int *line,
                                const char *const *catalog, struct runbook *rb, char *err,
                                size_t errlen)
{
	const char *p = *pp;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t first = nl ? (size_t)(nl - p) : (size_t)(end - p);
	if (first > 0 && p[first - 1] == '\r')
		first--;
	if (first != 3 || memcmp(p, "---", 3) != 0) {
		runbook_err(err, errlen, path, 1,
		            "a runbook must start with a front matter block ('---' on the first "
		            "line)");
		return -1;
	}
	p = nl ? nl + 1 : end;
	(*line)++;
	int closed = 0;
	struct runbook_seen sn = {0};
	while (p < end && !closed) {
		nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *l = runbook_trim_dup(p, n);
		int rc = 0;
		if (strcmp(l, "---") == 0)
			closed = 1;
		else if (*l && l[0] != '#')
			rc = runbook_front_key(path, *line, l, catalog, rb, &sn, err, errlen);
		free(l);
		if (rc < 0)
			return -1;
		p = nl ? nl + 1 : end;
		(*line)++;
	}
	*pp = p;
	if (!closed) {
		runbook_err(err, errlen, path, 1,
		            "front matter opened here is never closed with '---'");
		return -1;
	}
	if (!sn.title || !sn.sym || !sn.act) {
		runbook_err(err, errlen, path, 1, "front matter lacks required key '%s'",
		            !sn.title ? "title"
		            : !sn.sym ? "symptoms"
		                      : "actions");
		return -1;
	}
	if (!rb->services)
		rb->services = xstrdup("any");
	return 0;
}

/* The body from p (at line): sections split at "## " outside code fences. */
static int runbook_body(const char *path, const char *p, const char *end, int line,
                        struct runbook *rb, char *err, size_t errlen)
{
	size_t cap = 0;
	int fence = 0, fence_line = 0;
	const char *sec_start = p;
	runbook_add_section(rb, &cap, "Overview", 8, line);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = nl ? nl + 1 : end;
		if (n >= 3 && memcmp(p, "```", 3) == 0) {
			fence = !fence;
			fence_line = line;
		}
		if (!fence && n > 3 && memcmp(p, "## ", 3) == 0) {
			struct runbook_section *cur = &rb->sections[rb->nsections - 1];
			cur->text = runbook_trim_dup(sec_start, (size_t)(p - sec_start));
			if (rb->nsections == RUNBOOK_MAX_SECTIONS) {
				runbook_err(err, errlen, path, line, "more than %d sections",
				            RUNBOOK_MAX_SECTIONS);
				return -1;
			}
			size_t hn = n - 3;
			if (hn > 0 && p[3 + hn - 1] == '\r')
				hn--;
			if (runbook_blank(p + 3, hn)) {
				runbook_err(err, errlen, path, line, "section heading is empty");
				return -1;
			}
			runbook_add_section(rb, &cap, p + 3, hn, line);
			sec_start = next;
		}
		p = next;
		line++;
	}
	if (fence) {
		runbook_err(err, errlen, path, fence_line,
		            "code fence ``` opened here is never closed");
		return -1;
	}
	rb->sections[rb->nsections - 1].text =
	    runbook_trim_dup(sec_start, (size_t)(end - sec_start));
	/* An empty overview (the file starts with a heading) is not a section. */
	if (rb->nsections > 1 && rb->sections[0].text[0] == '\0') {
		free(rb->sections[0].name);
		free(rb->sections[0].text);
		memmove(&rb->sections[0], &rb->sections[1],
		        (rb->nsections - 1) * sizeof(*rb->sections));
		rb->nsections--;
	}
	return 0;
}

int runbook_parse(const char *path, const char *text, size_t len, const char *const *catalog,
                  struct runbook *out, char *err, size_t errlen)
{
	struct runbook rb = {0};
	int line = 1;
	const char *p = text, *end = text + len;

	if (len > RUNBOOK_MAX_BYTES) {
		runbook_err(err, errlen, path, 1, "file is larger than %d bytes",
		            RUNBOOK_MAX_BYTES);
		return -1;
	}
	if (memchr(text, '\0', len)) {
		runbook_err(err, errlen, path, 1, "file contains a NUL byte (not text)");
		return -1;
	}
	if (runbook_front_matter(path, &p, end, &line, catalog, &rb, err, errlen) < 0 ||
	    runbook_body(path, p, end, line, &rb, err, errlen) < 0) {
		runbook_free(&rb);
		return -1;
	}
	*out = rb;
	return 0;
}

void runbook_free(struct runbook *rb)
{
	free(rb->title);
	free(rb->services);
	free(rb->symptoms);
	for (size_t i = 0; i < rb->nactions; i++)
		free(rb->actions[i]);
	for (size_t i = 0; i < rb->nsections; i++) {
		free(rb->sections[i].name);
		free(rb->sections[i].text);
	}
	free(rb->sections);
	memset(rb, 0, sizeof(*rb));
}
