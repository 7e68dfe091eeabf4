/*
 * csv.h: metric series and tables read from CSV files.
 *
 * Two shapes:
 *   long  "timestamp,value" (one series), timestamps as RFC 3339,
 *         "YYYY-MM-DD HH:MM:SS" or Unix seconds;
 *   wide  "time,<metric>,<metric>,..." (one column per metric, e.g. the
 *         RCA data sets), time in Unix seconds or RFC 3339.
 * Value cells may be quoted ("12.5"); empty cells, NaN, null and NA read as
 * NaN (a gap).  Any other text is an error in a long file and drops its
 * column from a wide one (said in `note`); a wide file left with no metric
 * column is an error.  Timestamps out of order or repeated are counted in
 * `order` (csv_order_warning words it); rows stay in file order.  Files are
 * bounded: at most CSV_MAX_ROWS rows and CSV_MAX_COLS columns.
 *
 * Ownership: the caller frees results with csv_series_free / csv_table_free.
 */
#ifndef OPSBOT_DETECT_CSV_H
#define OPSBOT_DETECT_CSV_H

#include <stddef.h>
#include <stdint.h>

#define CSV_MAX_ROWS (10u * 1000 * 1000)
#define CSV_MAX_COLS 4096
#define CSV_MAX_LINE (1 << 20)

struct csv_order {
	size_t unsorted, duplicate;             /* rows earlier than / equal to the one before */
	size_t first_unsorted, first_duplicate; /* their first line numbers */
};

/* A warning about o in buf; returns 1 when there is one, else 0. */
int csv_order_warning(const char *path, const struct csv_order *o, char *buf, size_t len);

struct csv_series {
	struct csv_order order;
	size_t n;
	int64_t *ts_ms;
	double *v;
	char **ts_text; /* the timestamp cell as written (for echoing back) */
	char *ts_arena; /* where the ts_text strings live (one allocation) */
};

struct csv_table {
	size_t rows, cols; /* cols excludes the time column */
	char **names;      /* cols names */
	int64_t *ts_ms;    /* rows */
	double *v;         /* rows * cols, row-major */
	struct csv_order order;
	char *note; /* dropped columns, one line each; NULL when none */
};

/* Parse a timestamp cell into ms since the epoch; -1 when it is not one. */
int csv_parse_time(const char *s, int64_t *ms);

int csv_read_series(const char *path, struct csv_series *out, char *err, size_t errlen);
void csv_series_free(struct csv_series *s);

/*
 * Numbers written the way printf("%.6f") and printf("%.10g") write them,
 * byte for byte, without printf for the common range.  out holds at least
 * CSV_FMT_MAX bytes; the length written is returned.
 */
#define CSV_FMT_MAX 400
size_t csv_fmt_f6(double v, char *out);
size_t csv_fmt_g10(double v, char *out);

int csv_read_table(const char *path, struct csv_table *out, char *err, size_t errlen);
void csv_table_free(struct csv_table *t);

#endif
