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
 * "YYYY-MM-DD HH:MM:SS" rows of one file mostly share their day: the day's
 * start is parsed once (by csv_parse_time, so the result is the same) and
 * the time of day added.
 */
struct csv_tcache {
	char day[10];
	int64_t day_ms;
	int valid;
};

static int csv_2dig(const char *p, int *v)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*v = (p[0] - '0') * 10 + (p[1] - '0');
	return 0;
}

static int csv_time_cached(const char *s, int64_t *ms, struct csv_tcache *c)
{
	int h, mi, se;
	if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
	    s[16] != ':' || csv_2dig(s + 11, &h) || csv_2dig(s + 14, &mi) ||
	    csv_2dig(s + 17, &se) || h > 23 || mi > 59 || se > 60)
		return csv_parse_time(s, ms);
	if (!c->valid || memcmp(c->day, s, 10) != 0) {
		char day[20];
		memcpy(day, s, 10);
		memcpy(day + 10, " 00:00:00", 10);
		if (csv_parse_time(day, &c->day_ms) < 0) {
			c->valid = 0;
			return -1;
		}
		memcpy(c->day, s, 10);
		c->valid = 1;
	}
	*ms = c->day_ms + ((int64_t)h * 3600 + mi * 60 + se) * 1000;
	return 0;
}

/*
 * The common cell, a plain decimal ("-12.375", "42"), without strtod: at
 * most 19 digits whose value is below 2^53 and at most 22 after the point
 * give the same double as strtod (an exact integer divided by an exact power
 * of ten, rounded once).  Returns 1 with *out set, 0 when the cell needs the
 * general parser.
 */
static const double csv_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int csv_num_fast(const char *s, double *out)
{
	const char *p = s;
	int neg = 0;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	uint64_t m = 0;
	int digits = 0, frac = 0;
	const char *start = p;
	while (*p >= '0' && *p <= '9' && digits < 19) {
		m = m * 10 + (uint64_t)(*p++ - '0');
		digits++;
	}
	if (p == start)
		return 0;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9' && digits < 19) {
			m = m * 10 + (uint64_t)(*p++ - '0');
			digits++;
			frac++;
		}
		if (p[-1] == '.')
			return 0; /* "12." : let strtod judge */
	}
	if (*p != '\0' || m > (1ull << 53) || frac > 22)
		return 0;
	double d = (double)m / csv_pow10[frac];
	*out = neg ? -d : d;
	return 1;
}

/*
 * A value cell: a number, optionally quoted and padded ("12.5", " 3 ").
 * Empty, "NaN", "null" and "NA" are a gap (NaN, returns 0); anything else
 * returns -1.
 */
static int csv_num(const char *s, double *out)
{
	if (csv_num_fast(s, out))
		return 0;
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

/*
 * Lines from a file through one big buffer (fgets per line was most of the
 * time on large files).  A line is handed out NUL-terminated without its
 * '\n'; lines longer than CSV_MAX_LINE - 2 characters are an error.
 */
struct csv_lines {
	FILE *fp;
	char *buf;
	size_t cap, pos, end;
	int eof;
};

#define CSV_READ_CHUNK (4u << 20)

/* The error for a csv_lines_next result below 0. */
static void csv_lines_err(int rc, const char *path, size_t lineno, char *err, size_t errlen)
{
	if (rc == -1)
		snprintf(err, errlen, "%s:%zu: line too long", path, lineno);
	else if (rc == -3)
		snprintf(err, errlen, "%s:%zu: NUL byte in the line", path, lineno);
	else
		snprintf(err, errlen, "%s: read error", path);
}

static void csv_lines_open(struct csv_lines *r, FILE *fp)
{
	r->fp = fp;
	r->cap = CSV_READ_CHUNK + CSV_MAX_LINE + 1;
	r->buf = xmalloc(r->cap);
	r->pos = r->end = 0;
	r->eof = 0;
}

/* 1 with *line, 0 at the end, -1 on a line too long, -2 on a read error,
 * -3 on a NUL byte in the line. */
static int csv_lines_next(struct csv_lines *r, char **line)
{
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->end - r->pos);
		if (nl) {
			*nl = '\0';
			*line = r->buf + r->pos;
			r->pos = (size_t)(nl - r->buf) + 1;
			if ((size_t)(nl - *line) + 1 >= CSV_MAX_LINE)
				return -1;
			return memchr(*line, '\0', (size_t)(nl - *line)) ? -3 : 1;
		}
		if (r->end - r->pos >= CSV_MAX_LINE - 1)
			return -1;
		if (r->eof) {
			if (r->pos == r->end)
				return 0;
			r->buf[r->end] = '\0';
			*line = r->buf + r->pos;
			size_t len = r->end - r->pos;
			r->pos = r->end;
			return memchr(*line, '\0', len) ? -3 : 1;
		}
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->pos = 0;
		size_t got = fread(r->buf + r->end, 1, r->cap - 1 - r->end, r->fp);
		r->end += got;
		if (got == 0) {
			if (ferror(r->fp))
				return -2;
			r->eof = 1;
		}
	}
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
	size_t cap = 0, lineno = 0, tlen = 0, tcap = 0;
	size_t *toff = NULL; /* where each row's timestamp text starts in s.ts_arena */
	struct csv_lines rd;
	struct csv_tcache tc = {0};
	csv_lines_open(&rd, fp);
	char *line;
	int rc = -1, lr;
	while ((lr = csv_lines_next(&rd, &line)) != 0) {
		lineno++;
		char *f[3];
		if (lr < 0) {
			csv_lines_err(lr, path, lineno, err, errlen);
			goto out;
		}
		if (line[0] == '\r' || line[0] == '\0')
			continue;
		size_t nf = csv_split(line, f, 3);
		int64_t ms;
		if (csv_time_cached(f[0], &ms, &tc) < 0) {
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
			toff = xrealloc(toff, cap * sizeof *toff);
		}
		double v;
		if (csv_num(f[1], &v) < 0) {
			snprintf(err, errlen, "%s:%zu: value '%.40s' is not a number", path, lineno,
			         f[1]);
			goto out;
		}
		if (s.n)
			csv_order_note(s.ts_ms[s.n - 1], ms, lineno, &s.order);
		size_t k = strlen(f[0]) + 1;
		if (tlen + k > tcap) {
			tcap = tcap ? tcap * 2 : 1 << 16;
			while (tlen + k > tcap)
				tcap *= 2;
			s.ts_arena = xrealloc(s.ts_arena, tcap);
		}
		memcpy(s.ts_arena + tlen, f[0], k);
		toff[s.n] = tlen;
		tlen += k;
		s.ts_ms[s.n] = ms;
		s.v[s.n] = v;
		s.n++;
	}
	if (s.n == 0) {
		snprintf(err, errlen, "%s: no timestamp,value rows", path);
		goto out;
	}
	s.ts_text = xmalloc(s.n * sizeof *s.ts_text);
	for (size_t i = 0; i < s.n; i++)
		s.ts_text[i] = s.ts_arena + toff[i];
	*out = s;
	memset(&s, 0, sizeof s);
	rc = 0;
out:
	csv_series_free(&s);
	free(toff);
	free(rd.buf);
	fclose(fp);
	return rc;
}

void csv_series_free(struct csv_series *s)
{
	free(s->ts_text);
	free(s->ts_arena);
	free(s->ts_ms);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* csv_read_table's state while it reads. */
struct csv_table_rd {
	struct csv_table t;
	size_t *bad, *bad_line; /* per column: non-numbers seen, the first line */
	size_t cap;
	struct csv_tcache tc;
	const char *path;
	char *err;
	size_t errlen;
};

/* The header: time first, then at least one metric column. */
static int csv_table_header(struct csv_table_rd *r, char **f, size_t nf)
{
	if (nf < 2) {
		snprintf(r->err, r->errlen, "%s:1: want time and at least one metric column",
		         r->path);
		return -1;
	}
	r->t.cols = nf - 1;
	r->t.names = xcalloc(r->t.cols, sizeof *r->t.names);
	r->bad = xcalloc(r->t.cols, sizeof *r->bad);
	r->bad_line = xcalloc(r->t.cols, sizeof *r->bad_line);
	for (size_t c = 0; c < r->t.cols; c++)
		r->t.names[c] = xstrdup(f[c + 1]);
	return 0;
}

/* One data row; a cell that is not a number is counted against its column. */
static int csv_table_row(struct csv_table_rd *r, char **f, size_t nf, size_t lineno)
{
	struct csv_table *t = &r->t;
	if (nf != t->cols + 1) {
		snprintf(r->err, r->errlen, "%s:%zu: %zu columns, header has %zu", r->path, lineno,
		         nf, t->cols + 1);
		return -1;
	}
	int64_t ms;
	if (csv_time_cached(f[0], &ms, &r->tc) < 0) {
		snprintf(r->err, r->errlen, "%s:%zu: bad time", r->path, lineno);
		return -1;
	}
	if (t->rows == CSV_MAX_ROWS || (t->rows + 1) * t->cols > 64u * 1000 * 1000) {
		snprintf(r->err, r->errlen, "%s: too many rows", r->path);
		return -1;
	}
	if (t->rows == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		t->ts_ms = xrealloc(t->ts_ms, r->cap * sizeof *t->ts_ms);
		t->v = xrealloc(t->v, r->cap * t->cols * sizeof *t->v);
	}
	if (t->rows)
		csv_order_note(t->ts_ms[t->rows - 1], ms, lineno, &t->order);
	t->ts_ms[t->rows] = ms;
	for (size_t c = 0; c < t->cols; c++) {
		double v;
		if (csv_num(f[c + 1], &v) < 0) {
			if (!r->bad[c]++)
				r->bad_line[c] = lineno;
		}
		t->v[t->rows * t->cols + c] = v;
	}
	t->rows++;
	return 0;
}

/* A column with text in it is not a metric: drop it, and say so in t.note. */
static int csv_table_drop_text(struct csv_table_rd *r)
{
	struct csv_table *t = &r->t;
	size_t keep = 0;
	struct buf note = {0};
	for (size_t c = 0; c < t->cols; c++) {
		if (r->bad[c]) {
			buf_appendf(&note, "%s%s: column '%.60s' dropped: not a number at line %zu",
			            note.len ? "\n" : "", r->path, t->names[c], r->bad_line[c]);
			free(t->names[c]);
			continue;
		}
		for (size_t row = 0; row < t->rows; row++)
			t->v[row * t->cols + keep] = t->v[row * t->cols + c];
		t->names[keep++] = t->names[c];
	}
	if (keep == 0) {
		snprintf(r->err, r->errlen, "%s: no numeric metric columns (%s)", r->path,
		         note.data ? note.data : "none");
		buf_free(&note);
		for (size_t c = 0; c < t->cols; c++)
			t->names[c] = NULL;
		return -1;
	}
	if (keep < t->cols) {
		/* Repack rows to the new width (row-major, in place, front to back). */
		for (size_t row = 0; row < t->rows; row++)
			for (size_t c = 0; c < keep; c++)
				t->v[row * keep + c] = t->v[row * t->cols + c];
		for (size_t c = keep; c < t->cols; c++)
			t->names[c] = NULL;
		t->cols = keep;
	}
	t->note = note.data;
	return 0;
}

/* Every line through csv_table_header / csv_table_row. */
static int csv_table_lines(struct csv_table_rd *r, FILE *fp, char **f, struct csv_lines *rd)
{
	char *line;
	size_t lineno = 0;
	int lr;
	csv_lines_open(rd, fp);
	while ((lr = csv_lines_next(rd, &line)) != 0) {
		lineno++;
		if (lr < 0) {
			csv_lines_err(lr, r->path, lineno, r->err, r->errlen);
			return -1;
		}
		if (line[0] == '\r' || line[0] == '\0')
			continue;
		size_t nf = csv_split(line, f, CSV_MAX_COLS + 1);
		if (nf > CSV_MAX_COLS + 1) {
			snprintf(r->err, r->errlen, "%s:%zu: more than %d columns", r->path, lineno,
			         CSV_MAX_COLS);
			return -1;
		}
		if (!r->t.names ? csv_table_header(r, f, nf) < 0
		                : csv_table_row(r, f, nf, lineno) < 0)
			return -1;
	}
	if (!r->t.names) {
		snprintf(r->err, r->errlen, "%s: empty file", r->path);
		return -1;
	}
	if (r->t.rows == 0) {
		snprintf(r->err, r->errlen, "%s: a header but no rows", r->path);
		return -1;
	}
	return 0;
}

int csv_read_table(const char *path, struct csv_table *out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct csv_table_rd r = {.path = path, .err = err, .errlen = errlen};
	char **f = xmalloc((CSV_MAX_COLS + 1) * sizeof *f);
	struct csv_lines rd = {0};
	int rc = -1;
	if (csv_table_lines(&r, fp, f, &rd) == 0 && csv_table_drop_text(&r) == 0) {
		*out = r.t;
		memset(&r.t, 0, sizeof r.t);
		rc = 0;
	}
	csv_table_free(&r.t);
	free(r.bad);
	free(r.bad_line);
	free(rd.buf);
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

/*
 * x rounded to the nearest integer, halfway cases to even, exactly as
 * printf rounds the decimal expansion of x * scale: scale is a power of ten
 * that is exact in a double (<= 1e22) and x * scale below 2^52.  The
 * product is rounded when it is formed; fma gives the sign of the exact
 * x * scale - (k + 0.5), so the decision is the exact one.
 */
static uint64_t csv_round_scaled(double x, double scale)
{
	double k = floor(x * scale);
	double d = fma(x, scale, -(k + 0.5));
	uint64_t n = (uint64_t)k;
	if (d > 0.0 || (d == 0.0 && (n & 1)))
		n++;
	return n;
}

size_t csv_fmt_f6(double v, char *out)
{
	if (!(v >= 0.0 && v < 1e9) || (v == 0.0 && signbit(v)))
		return (size_t)snprintf(out, CSV_FMT_MAX, "%.6f", v);
	uint64_t n = csv_round_scaled(v, 1e6);
	uint64_t ip = n / 1000000, fp = n % 1000000;
	char tmp[24];
	size_t k = 0;
	do {
		tmp[k++] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip);
	size_t len = 0;
	while (k)
		out[len++] = tmp[--k];
	out[len++] = '.';
	for (int i = 5; i >= 0; i--) {
		out[len + (size_t)i] = (char)('0' + fp % 10);
		fp /= 10;
	}
	len += 6;
	out[len] = '\0';
	return len;
}

size_t csv_fmt_g10(double v, char *out)
{
	double a = fabs(v);
	if (!(a >= 1e-4 && a < 1e10)) {
		if (v == 0.0) {
			/* "0" or "-0", as printf writes them. */
			size_t len = 0;
			if (signbit(v))
				out[len++] = '-';
			out[len++] = '0';
			out[len] = '\0';
			return len;
		}
		return (size_t)snprintf(out, CSV_FMT_MAX, "%.10g", v);
	}
	/* The decimal exponent X of v rounded to 10 significant digits: the e
	 * for which v * 10^(9-e), rounded, has 10 digits. */
	int e = (int)floor(log10(a));
	uint64_t n = 0;
	for (int tries = 0; tries < 4; tries++) {
		if (e < -4 || e > 9)
			return (size_t)snprintf(out, CSV_FMT_MAX, "%.10g", v);
		n = csv_round_scaled(a, csv_pow10[9 - e]);
		if (n < 1000000000ull)
			e--;
		else if (n >= 10000000000ull)
			e++;
		else
			break;
	}
	if (n < 1000000000ull || n >= 10000000000ull)
		return (size_t)snprintf(out, CSV_FMT_MAX, "%.10g", v);
	char d[10];
	for (int i = 9; i >= 0; i--) {
		d[i] = (char)('0' + n % 10);
		n /= 10;
	}
	int last = 9; /* last significant digit kept: trailing zeros go */
	while (last > 0 && d[last] == '0' && last > e)
		last--;
	size_t len = 0;
	if (v < 0)
		out[len++] = '-';
	if (e >= 0) {
		for (int i = 0; i <= e; i++)
			out[len++] = d[i];
		if (last > e) {
			out[len++] = '.';
			for (int i = e + 1; i <= last; i++)
				out[len++] = d[i];
		}
	} else {
		out[len++] = '0';
		out[len++] = '.';
		for (int i = 0; i < -e - 1; i++)
			out[len++] = '0';
		for (int i = 0; i <= last; i++)
			out[len++] = d[i];
	}
	out[len] = '\0';
	return len;
}
