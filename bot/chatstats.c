/*
 * chatstats.c: chat API call counters (see chatstats.h).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "chatstats.h"
#include "mem.h"

struct row {
	char surface[16];
	char route[80];
	unsigned long long n[4]; /* calls, 429, 5xx, transport errors */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct row rows[CHATSTATS_MAX];
static int nrows;

/*
 * route with its variable path segments replaced, so no id or token reaches
 * a label: all digits (5 or more: snowflakes) -> ":id", longer than 24
 * characters (interaction and webhook tokens) -> ":token"; a query is cut.
 */
static void normalize(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	while (*in && *in != '?' && o + 1 < outlen) {
		size_t n = strcspn(in, "/?"), d = 0;
		const char *rep = NULL;
		while (d < n && isdigit((unsigned char)in[d]))
			d++;
		if (d == n && n >= 5)
			rep = ":id";
		else if (n > 24)
			rep = ":token";
		if (rep) {
			for (; *rep && o + 1 < outlen; rep++)
				out[o++] = *rep;
		} else {
			for (size_t i = 0; i < n && o + 1 < outlen; i++)
				out[o++] = in[i];
		}
		in += n;
		if (*in == '/' && o + 1 < outlen)
			out[o++] = *in++;
	}
	out[o] = '\0';
}

/* the row for (surface, route), created when there is room; mu held */
static struct row *row_get(const char *surface, const char *route, int create)
{
	for (int i = 0; i < nrows; i++)
		if (!strcmp(rows[i].surface, surface) && !strcmp(rows[i].route, route))
			return &rows[i];
	if (!create)
		return NULL;
	if (nrows == CHATSTATS_MAX) {
		/* the last row is kept for "other" */
		for (int i = 0; i < nrows; i++)
			if (!strcmp(rows[i].surface, surface) && !strcmp(rows[i].route, "other"))
				return &rows[i];
		return &rows[CHATSTATS_MAX - 1];
	}
	if (nrows == CHATSTATS_MAX - 1)
		route = "other";
	str_copy(rows[nrows].surface, sizeof rows[nrows].surface, surface);
	str_copy(rows[nrows].route, sizeof rows[nrows].route, route);
	return &rows[nrows++];
}

void chatstats_count(const char *surface, const char *route, long status)
{
	char r[80];
	struct row *w;

	normalize(route ? route : "?", r, sizeof r);
	pthread_mutex_lock(&mu);
	w = row_get(surface, r, 1);
	w->n[0]++;
	if (status == 429)
		w->n[1]++;
	else if (status >= 500 && status <= 599)
		w->n[2]++;
	else if (status == 0)
		w->n[3]++;
	pthread_mutex_unlock(&mu);
}

unsigned long long chatstats_get(const char *surface, const char *route, int which)
{
	unsigned long long v = 0;
	struct row *w;

	if (which < 0 || which > 3)
		return 0;
	pthread_mutex_lock(&mu);
	w = row_get(surface, route, 0);
	if (w)
		v = w->n[which];
	pthread_mutex_unlock(&mu);
	return v;
}

/* a label value: \ " and newline escaped */
static void label(struct buf *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_appendf(o, "\\%c", *s);
		else if (*s == '\n')
			buf_appendf(o, "\\n");
		else
			buf_append(o, s, 1);
	}
}

void chatstats_write(struct buf *out)
{
	static const struct {
		const char *name, *help;
	} fam[4] = {
	    {"opsbot_chat_api_calls_total", "Chat API HTTP calls by surface and method or route."},
	    {"opsbot_chat_api_ratelimited_total", "Chat API calls answered HTTP 429."},
	    {"opsbot_chat_api_server_errors_total", "Chat API calls answered HTTP 5xx."},
	    {"opsbot_chat_api_transport_errors_total",
	     "Chat API calls with no HTTP answer (connection error or timeout)."},
	};

	pthread_mutex_lock(&mu);
	for (int f = 0; nrows && f < 4; f++) {
		buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n", fam[f].name, fam[f].help,
		            fam[f].name);
		for (int i = 0; i < nrows; i++) {
			buf_appendf(out, "%s{surface=\"", fam[f].name);
			label(out, rows[i].surface);
			buf_appendf(out, "\",route=\"");
			label(out, rows[i].route);
			buf_appendf(out, "\"} %llu\n", rows[i].n[f]);
		}
	}
	pthread_mutex_unlock(&mu);
}
