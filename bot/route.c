/* route.c: incidents to channels by service and severity (see route.h). */
#include "route.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"
#include "severity.h"

#define ROUTE_PATTERNS 32
#define ROUTE_MAX      256

struct route {
	char channel[101];
	char *patterns[ROUTE_PATTERNS];
	int npat;
	int max_rank; /* -1: any severity; else the least severe rank allowed */
};

struct route_table {
	struct route r[ROUTE_MAX];
	size_t n;
};

struct route_table *route_new(void)
{
	return xcalloc(1, sizeof(struct route_table));
}

static void route_clear(struct route *r)
{
	for (int i = 0; i < r->npat; i++)
		free(r->patterns[i]);
	r->npat = 0;
}

int route_add(struct route_table *t, const char *line, char *err, size_t errlen)
{
	struct route r;
	char word[128];
	const char *p = line;
	int nword = 0;

	memset(&r, 0, sizeof r);
	r.max_rank = -1;
	if (t->n >= ROUTE_MAX) {
		snprintf(err, errlen, "more than %d routes", ROUTE_MAX);
		return -1;
	}
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t");
		if (!n)
			break;
		if (n >= sizeof word) {
			snprintf(err, errlen, "'%.20s...' is too long", p);
			goto bad;
		}
		memcpy(word, p, n);
		word[n] = '\0';
		p += n;
		if (nword++ == 0) {
			if (str_copy(r.channel, sizeof r.channel, word) < 0) {
				snprintf(err, errlen, "channel '%s' is too long", word);
				goto bad;
			}
		} else if (!strncmp(word, "severity>=", 10)) {
			const char *s = severity_canon(word + 10);
			if (!s) {
				snprintf(err, errlen, "'%s': severity is one of %s", word,
				         severity_list());
				goto bad;
			}
			r.max_rank = severity_rank(s);
		} else if (r.npat < ROUTE_PATTERNS) {
			r.patterns[r.npat++] = xstrdup(word);
		} else {
			snprintf(err, errlen, "more than %d service patterns on one route",
			         ROUTE_PATTERNS);
			goto bad;
		}
	}
	if (!r.channel[0] || !r.npat) {
		snprintf(err, errlen, "want: route = CHANNEL SERVICE-PATTERN... [severity>=LEVEL]");
		goto bad;
	}
	t->r[t->n++] = r;
	return 0;
bad:
	route_clear(&r);
	return -1;
}

struct route_table *route_load(struct config *cfg, const char *section)
{
	struct route_table *t = route_new();
	const char *vals[ROUTE_MAX + 1];
	size_t n = config_all(cfg, section, "route", vals, ROUTE_MAX + 1);
	char err[200];

	if (n > ROUTE_MAX) {
		config_error(cfg, section, "route", "more than %d routes", ROUTE_MAX);
		n = ROUTE_MAX;
	}
	for (size_t i = 0; i < n; i++)
		if (route_add(t, vals[i], err, sizeof err) < 0)
			config_error(cfg, section, "route", "route = %s: %s", vals[i], err);
	return t;
}

const char *route_pick(const struct route_table *t, const char *service, const char *severity)
{
	int rank = severity_rank(severity_canon(severity));

	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		const struct route *r = &t->r[i];
		if (r->max_rank >= 0 && (rank < 0 || rank > r->max_rank))
			continue;
		for (int k = 0; k < r->npat; k++)
			if (!strcmp(r->patterns[k], "*") ||
			    (service && fnmatch(r->patterns[k], service, 0) == 0))
				return r->channel;
	}
	return NULL;
}

size_t route_count(const struct route_table *t)
{
	return t ? t->n : 0;
}

const char *route_channel(const struct route_table *t, size_t i)
{
	return t->r[i].channel;
}

void route_free(struct route_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		route_clear(&t->r[i]);
	free(t);
}
