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
#include <strings.h>

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

/*
 * A value cell: a number, optionally quoted and padded ("12.5", " 3 ").
 * Empty, "NaN", "null" and "NA" are a gap (NaN, returns 0); anything else
 * returns -1.
 */
static int csv_num(const char *s, double *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
		while (n && *s == ' ') {
			s++;
			n--;
		}
		while (n && s[n - 1] == ' ')
			n--;
	}
	*out = NAN;
	if (n == 0)
		return 0;
	char tmp[64];
	if (n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (strcasecmp(tmp, "nan") == 0 || strcasecmp(tmp, "null") == 0 ||
	    strcasecmp(tmp, "na") == 0)
		return 0;
	char *end;
	errno = 0;
	double d = strtod(tmp, &end);
	if (end == tmp || *end != '\0' || isinf(d) || isnan(d))
		return -1;
	*out = d;
	return 0;
}

/* Note out-of-order and repeated timestamps (count, first line of each). */
static void csv_order_note(int64_t prev, int64_t ms, size_t lineno, struct csv_order *o)
{
	if (ms < prev) {
		if (o->unsorted++ == 0)
			o->first_unsorted = lineno;
	} else if (ms == prev) {
		if (o->duplicate++ == 0)
			o->first_duplicate = lineno;
	}
}

int csv_order_warning(const char *path, const struct csv_order *o, char *buf, size_t len)
{
	if (!o->unsorted && !o->duplicate)
		return 0;
	size_t n = 0;
	buf[0] = '\0';
	if (o->unsorted)
		n += (size_t)snprintf(buf, len,
		                      "%s: %zu timestamp%s earlier than the row before (first at "
		                      "line %zu); rows are used in file order",
		                      path, o->unsorted, o->unsorted == 1 ? " is" : "s are",
		                      o->first_unsorted);
	if (o->duplicate && n < len)
		snprintf(buf + n, len - n,
		         "%s%s: %zu repeated timestamp%s (first at line %zu); each row is kept",
		         n ? "\n" : "", path, o->duplicate, o->duplicate == 1 ? "" : "s",
		         o->first_duplicate);
	return 1;
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
		double v;
		if (csv_num(f[1], &v) < 0) {
			snprintf(err, errlen, "%s:%zu: value '%.40s' is not a number", path, lineno,
			         f[1]);
			goto out;
		}
		if (s.n)
			csv_order_note(s.ts_ms[s.n - 1], ms, lineno, &s.order);
		s.ts_ms[s.n] = ms;
		s.v[s.n] = v;
		s.ts_text[s.n] = xstrdup(f[0]);
		s.n++;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if (s.n == 0) {
		snprintf(err, errlen, "%s: no timestamp,value rows", path);
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
	size_t *bad = NULL, *bad_line = NULL;
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
			bad = xcalloc(t.cols, sizeof *bad);
			bad_line = xcalloc(t.cols, sizeof *bad_line);
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
		if (t.rows)
			csv_order_note(t.ts_ms[t.rows - 1], ms, lineno, &t.order);
		t.ts_ms[t.rows] = ms;
		for (size_t c = 0; c < t.cols; c++) {
			double v;
			if (csv_num(f[c + 1], &v) < 0) {
				if (!bad[c]++)
					bad_line[c] = lineno;
			}
			t.v[t.rows * t.cols + c] = v;
		}
		t.rows++;
	}
	if (!t.names) {
		snprintf(err, errlen, "%s: empty file", path);
		goto out;
	}
	if (t.rows == 0) {
		snprintf(err, errlen, "%s: a header but no rows", path);
		goto out;
	}
	/* A column with text in it is not a metric: drop it, and say so. */
	size_t keep = 0;
	struct buf note = {0};
	for (size_t c = 0; c < t.cols; c++) {
		if (bad[c]) {
			buf_appendf(&note, "%s%s: column '%.60s' dropped: not a number at line %zu",
			            note.len ? "\n" : "", path, t.names[c], bad_line[c]);
			free(t.names[c]);
			continue;
		}
		for (size_t r = 0; r < t.rows; r++)
			t.v[r * t.cols + keep] = t.v[r * t.cols + c];
		t.names[keep++] = t.names[c];
	}
	if (keep == 0) {
		snprintf(err, errlen, "%s: no numeric metric columns (%s)", path,
		         note.data ? note.data : "none");
		buf_free(&note);
		for (size_t c = 0; c < t.cols; c++)
			t.names[c] = NULL;
		goto out;
	}
	if (keep < t.cols) {
		/* Repack rows to the new width (row-major, in place, front to back). */
		for (size_t r = 0; r < t.rows; r++)
			for (size_t c = 0; c < keep; c++)
				t.v[r * keep + c] = t.v[r * t.cols + c];
		for (size_t c = keep; c < t.cols; c++)
			t.names[c] = NULL;
		t.cols = keep;
	}
	t.note = note.data;
	*out = t;
	memset(&t, 0, sizeof t);
	rc = 0;
out:
	csv_table_free(&t);
	free(bad);
	free(bad_line);
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
	free(t->note);
	free(t->ts_ms);
	free(t->v);
	memset(t, 0, sizeof *t);
}
