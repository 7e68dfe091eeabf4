/*
 * csv.c: reading long (timestamp,value) and wide (time + metric columns)
 * CSV files into memory, with hard limits on rows, columns and line length.
 */
#include "csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "timeutil.h"

int csv_parse_time(const char *s, int64_t *ms)
{
	while (*s == ' ' || *s == '"')
		s++;
	char tmp[64];
	size_t n = strcspn(s, "\"\r\n");
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	double d = strtod(tmp, &end);
	/* finite and within int64 milliseconds, or the casts below are undefined */
	if (errno == 0 && end != tmp && *end == '\0' && strchr(tmp, '-') == NULL && isfinite(d) &&
	    d < 9e15) {
		/* Unix seconds (may carry a fraction); ms when it is too large for seconds. */
		*ms = d > 1e11 ? (int64_t)d : (int64_t)llround(d * 1000.0);
		return 0;
	}
	/* "YYYY-MM-DD HH:MM:SS.ffffff": drop a fraction timeutil does not take. */
	char *dot = strchr(tmp, '.');
	if (dot && strlen(tmp) >= 19 && !strchr(dot, 'Z') && !strchr(dot, '+'))
		*dot = '\0';
	int64_t v;
	if (time_parse_iso(tmp, &v) < 0)
		return -1;
	*ms = v;
	return 0;
}

static double csv_num(const char *s, size_t n)
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return NAN;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	double d = strtod(tmp, &end);
	while (*end == ' ' || *end == '"' || *end == '\r')
		end++;
	if (end == tmp || *end != '\0')
		return NAN;
	return d;
}

/* Split line (modified in place) at commas; returns the field count. */
static size_t csv_split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		if (n < max)
			f[n] = p;
		n++;
		char *c = strchr(p, ',');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	p = f[n <= max ? n - 1 : max - 1];
	p[strcspn(p, "\r\n")] = '\0';
	return n;
}

int csv_read_series(const char *path, struct csv_series *out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct csv_series s = {0};
	size_t cap = 0, lineno = 0;
	char *line = xmalloc(CSV_MAX_LINE);
	int rc = -1;
	while (fgets(line, CSV_MAX_LINE, fp)) {
		lineno++;
		char *f[3];
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%zu: line too long", path, lineno);
			goto out;
		}
		if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0')
			continue;
		size_t nf = csv_split(line, f, 3);
		int64_t ms;
		if (csv_parse_time(f[0], &ms) < 0) {
			if (lineno == 1)
				continue; /* header */
			snprintf(err, errlen, "%s:%zu: bad timestamp", path, lineno);
			goto out;
		}
		if (nf < 2) {
			snprintf(err, errlen, "%s:%zu: want timestamp,value", path, lineno);
			goto out;
		}
		if (s.n == CSV_MAX_ROWS) {
			snprintf(err, errlen, "%s: more than %u rows", path, CSV_MAX_ROWS);
			goto out;
		}
		if (s.n == cap) {
			cap = cap ? cap * 2 : 1024;
			s.ts_ms = xrealloc(s.ts_ms, cap * sizeof *s.ts_ms);
			s.v = xrealloc(s.v, cap * sizeof *s.v);
			s.ts_text = xrealloc(s.ts_text, cap * sizeof *s.ts_text);
		}
		s.ts_ms[s.n] = ms;
		s.v[s.n] = csv_num(f[1], strlen(f[1]));
		s.ts_text[s.n] = xstrdup(f[0]);
		s.n++;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	*out = s;
	memset(&s, 0, sizeof s);
	rc = 0;
out:
	csv_series_free(&s);
	free(line);
	fclose(fp);
	return rc;
}

void csv_series_free(struct csv_series *s)
{
	for (size_t i = 0; s->ts_text && i < s->n; i++)
		free(s->ts_text[i]);
	free(s->ts_text);
	free(s->ts_ms);
	free(s->v);
	memset(s, 0, sizeof *s);
}

int csv_read_table(const char *path, struct csv_table *out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct csv_table t = {0};
	char **f = xmalloc((CSV_MAX_COLS + 1) * sizeof *f);
	char *line = xmalloc(CSV_MAX_LINE);
	size_t cap = 0, lineno = 0;
	int rc = -1;
	while (fgets(line, CSV_MAX_LINE, fp)) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%zu: line too long", path, lineno);
			goto out;
		}
		if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0')
			continue;
		size_t nf = csv_split(line, f, CSV_MAX_COLS + 1);
		if (nf > CSV_MAX_COLS + 1) {
			snprintf(err, errlen, "%s:%zu: more than %d columns", path, lineno,
			         CSV_MAX_COLS);
			goto out;
		}
		if (!t.names) {
			if (nf < 2) {
				snprintf(err, errlen,
				         "%s:1: want time and at least one metric column", path);
				goto out;
			}
			t.cols = nf - 1;
			t.names = xcalloc(t.cols, sizeof *t.names);
			for (size_t c = 0; c < t.cols; c++)
				t.names[c] = xstrdup(f[c + 1]);
			continue;
		}
		if (nf != t.cols + 1) {
			snprintf(err, errlen, "%s:%zu: %zu columns, header has %zu", path, lineno,
			         nf, t.cols + 1);
			goto out;
		}
		int64_t ms;
		if (csv_parse_time(f[0], &ms) < 0) {
			snprintf(err, errlen, "%s:%zu: bad time", path, lineno);
			goto out;
		}
		if (t.rows == CSV_MAX_ROWS || (t.rows + 1) * t.cols > 64u * 1000 * 1000) {
			snprintf(err, errlen, "%s: too many rows", path);
			goto out;
		}
		if (t.rows == cap) {
			cap = cap ? cap * 2 : 256;
			t.ts_ms = xrealloc(t.ts_ms, cap * sizeof *t.ts_ms);
			t.v = xrealloc(t.v, cap * t.cols * sizeof *t.v);
		}
		t.ts_ms[t.rows] = ms;
		for (size_t c = 0; c < t.cols; c++)
			t.v[t.rows * t.cols + c] = csv_num(f[c + 1], strlen(f[c + 1]));
		t.rows++;
	}
	if (!t.names) {
		snprintf(err, errlen, "%s: empty file", path);
		goto out;
	}
	*out = t;
	memset(&t, 0, sizeof t);
	rc = 0;
out:
	csv_table_free(&t);
	free(line);
	free(f);
	fclose(fp);
	return rc;
}

void csv_table_free(struct csv_table *t)
{
	for (size_t c = 0; t->names && c < t->cols; c++)
		free(t->names[c]);
	free(t->names);
	free(t->ts_ms);
	free(t->v);
	memset(t, 0, sizeof *t);
}
