/*
 * csv.h: metric series and tables read from CSV files.
 *
 * Two shapes:
 *   long  "timestamp,value" (one series), timestamps as RFC 3339,
 *         "YYYY-MM-DD HH:MM:SS" or Unix seconds;
 *   wide  "time,<metric>,<metric>,..." (one column per metric, e.g. the
 *         RCA data sets), time in Unix seconds or RFC 3339.
 * Empty cells and non-numbers read as NaN (a gap, not an error).  Files are
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

struct csv_series {
	size_t n;
	int64_t *ts_ms;
	double *v;
	char **ts_text; /* the timestamp cell as written (for echoing back) */
};

struct csv_table {
	size_t rows, cols; /* cols excludes the time column */
	char **names;      /* cols names */
	int64_t *ts_ms;    /* rows */
	double *v;         /* rows * cols, row-major */
};

/* Parse a timestamp cell into ms since the epoch; -1 when it is not one. */
int csv_parse_time(const char *s, int64_t *ms);

int csv_read_series(const char *path, struct csv_series *out, char *err, size_t errlen);
void csv_series_free(struct csv_series *s);

int csv_read_table(const char *path, struct csv_table *out, char *err, size_t errlen);
void csv_table_free(struct csv_table *t);

#endif
