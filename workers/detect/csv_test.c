/*
 * csv_test.c: reading long and wide metric CSVs, good and bad, from files
 * this test writes into a temporary directory.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "csv.h"

static char path[256];

static void write_file(const char *text)
{
	snprintf(path, sizeof path, "/tmp/opsbot-csv-test-%d.csv", (int)getpid());
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_time(void **state)
{
	(void)state;
	const struct {
		const char *in;
		int ok;
		int64_t want;
	} cases[] = {
	    {"2014-04-01 00:00:00", 1, 1396310400000LL},
	    {"2014-04-01 00:00:00.000000", 1, 1396310400000LL},
	    {"2014-04-01T00:00:00Z", 1, 1396310400000LL},
	    {"1652812675", 1, 1652812675000LL},
	    {"1652812675.5", 1, 1652812675500LL},
	    {"yesterday", 0, 0},
	    {"", 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t ms = 0;
		int rc = csv_parse_time(cases[i].in, &ms);
		if ((rc == 0) != cases[i].ok || (cases[i].ok && ms != cases[i].want))
			fail_msg("parse_time(%s): got rc %d ms %lld want ok=%d ms %lld",
			         cases[i].in, rc, (long long)ms, cases[i].ok,
			         (long long)cases[i].want);
	}
}

static void test_series(void **state)
{
	(void)state;
	const struct {
		const char *text;
		int ok;
		size_t n;
		const char *err_has;
	} cases[] = {
	    {"timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,2\n", 1, 2, NULL},
	    {"2014-04-01 00:00:00,1.5\r\n", 1, 1, NULL},
	    {"timestamp,value\n2014-04-01 00:00:00,\n", 1, 1, NULL},
	    {"timestamp,value\nnot a time,1\n", 0, 0, ":2: bad timestamp"},
	    {"timestamp,value\n2014-04-01 00:00:00\n", 0, 0, "want timestamp,value"},
	    /* Issue 11: quoted numbers are numbers; other text is an error. */
	    {"timestamp,value\n\"2014-04-01 00:00:00\",\"1.5\"\n", 1, 1, NULL},
	    {"timestamp,value\n2014-04-01 00:00:00, \" 2e3 \" \n", 1, 1, NULL},
	    {"timestamp,value\n2014-04-01 00:00:00,NaN\n2014-04-01 00:01:00,null\n", 1, 2, NULL},
	    {"timestamp,value\n2014-04-01 00:00:00,12abc\n", 0, 0,
	     ":2: value '12abc' is not a number"},
	    {"timestamp,value\n2014-04-01 00:00:00,inf\n", 0, 0, "is not a number"},
	    {"timestamp,value\n", 0, 0, "no timestamp,value rows"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_file(cases[i].text);
		struct csv_series s;
		char err[256] = "";
		int rc = csv_read_series(path, &s, err, sizeof err);
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu: got rc %d (%s) want ok=%d", i, rc, err, cases[i].ok);
		if (rc == 0) {
			if (s.n != cases[i].n)
				fail_msg("case %zu: rows got %zu want %zu", i, s.n, cases[i].n);
			csv_series_free(&s);
		} else if (!strstr(err, cases[i].err_has)) {
			fail_msg("case %zu: error got '%s' want it to contain '%s'", i, err,
			         cases[i].err_has);
		}
		unlink(path);
	}
	write_file("timestamp,value\n2014-04-01 00:00:00,\n2014-04-01 00:01:00,7\n");
	struct csv_series s;
	char err[256];
	assert_int_equal(csv_read_series(path, &s, err, sizeof err), 0);
	if (!isnan(s.v[0]) || s.v[1] != 7.0 || strcmp(s.ts_text[1], "2014-04-01 00:01:00") != 0)
		fail_msg("values got %g,%g '%s' want nan,7 and the text echoed", s.v[0], s.v[1],
		         s.ts_text[1]);
	csv_series_free(&s);
	write_file("timestamp,value\n\"2014-04-01 00:00:00\",\"42.25\"\n");
	assert_int_equal(csv_read_series(path, &s, err, sizeof err), 0);
	if (s.v[0] != 42.25)
		fail_msg("quoted value got %g want 42.25", s.v[0]);
	csv_series_free(&s);
	unlink(path);
}

/* Issue 11: out-of-order and repeated timestamps are counted and worded. */
static void test_order(void **state)
{
	(void)state;
	write_file("timestamp,value\n2014-04-01 00:05:00,1\n2014-04-01 00:00:00,2\n"
	           "2014-04-01 00:00:00,3\n2014-04-01 00:10:00,4\n");
	struct csv_series s;
	char err[256], w[512];
	assert_int_equal(csv_read_series(path, &s, err, sizeof err), 0);
	if (s.order.unsorted != 1 || s.order.first_unsorted != 3 || s.order.duplicate != 1 ||
	    s.order.first_duplicate != 4)
		fail_msg("order got unsorted=%zu@%zu duplicate=%zu@%zu want 1@3 1@4",
		         s.order.unsorted, s.order.first_unsorted, s.order.duplicate,
		         s.order.first_duplicate);
	assert_int_equal(csv_order_warning("f.csv", &s.order, w, sizeof w), 1);
	if (!strstr(w, "f.csv: 1 timestamp is earlier than the row before (first at line 3)") ||
	    !strstr(w, "1 repeated timestamp (first at line 4)"))
		fail_msg("warning got '%s'", w);
	csv_series_free(&s);
	write_file("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2\n");
	assert_int_equal(csv_read_series(path, &s, err, sizeof err), 0);
	assert_int_equal(csv_order_warning("f.csv", &s.order, w, sizeof w), 0);
	csv_series_free(&s);
	write_file("time,a_cpu\n2,1\n1,2\n");
	struct csv_table t;
	assert_int_equal(csv_read_table(path, &t, err, sizeof err), 0);
	assert_int_equal(t.order.unsorted, 1);
	csv_table_free(&t);
	unlink(path);
}

static void test_table(void **state)
{
	(void)state;
	write_file("time,a_cpu,b_mem\n1,1,2\n2,3,\n");
	struct csv_table t;
	char err[256] = "";
	assert_int_equal(csv_read_table(path, &t, err, sizeof err), 0);
	if (t.rows != 2 || t.cols != 2 || strcmp(t.names[1], "b_mem") != 0 || t.v[2] != 3.0 ||
	    !isnan(t.v[3]))
		fail_msg("table got rows=%zu cols=%zu want 2x2 with b_mem and a gap", t.rows,
		         t.cols);
	csv_table_free(&t);
	write_file("time,a_cpu,b_mem\n1,1\n");
	if (csv_read_table(path, &t, err, sizeof err) == 0 ||
	    !strstr(err, "2 columns, header has 3"))
		fail_msg("ragged row: error got '%s' want a column count mismatch", err);
	write_file("");
	if (csv_read_table(path, &t, err, sizeof err) == 0 || !strstr(err, "empty"))
		fail_msg("empty file: error got '%s' want 'empty'", err);
	/* Issue 11: quoted numbers parse; a text column is dropped and said;
	 * a file with no numeric column is an error. */
	write_file("time,pod,a_cpu,b_mem\n1,p-1,\"1.5\",2\n2,p-1,\"3\",4\n");
	assert_int_equal(csv_read_table(path, &t, err, sizeof err), 0);
	if (t.cols != 2 || strcmp(t.names[0], "a_cpu") != 0 || strcmp(t.names[1], "b_mem") != 0 ||
	    t.v[0] != 1.5 || t.v[1] != 2.0 || t.v[2] != 3.0 || t.v[3] != 4.0 || !t.note ||
	    !strstr(t.note, "column 'pod' dropped: not a number at line 2"))
		fail_msg("text column: got cols=%zu note='%s'", t.cols, t.note ? t.note : "");
	csv_table_free(&t);
	write_file("time,pod,host\n1,p-1,h\n");
	if (csv_read_table(path, &t, err, sizeof err) == 0 ||
	    !strstr(err, "no numeric metric columns"))
		fail_msg("no usable column: error got '%s'", err);
	write_file("time,a_cpu\n");
	if (csv_read_table(path, &t, err, sizeof err) == 0 || !strstr(err, "no rows"))
		fail_msg("header only: error got '%s'", err);
	unlink(path);
	if (csv_read_table("/nonexistent/x.csv", &t, err, sizeof err) == 0)
		fail_msg("missing file: got success want an error");
}

/* A random double: uniform bits of mantissa, exponent spread over the
 * ranges the formatters take fast paths for and beyond. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* csv_fmt_f6 / csv_fmt_g10 write exactly what printf writes. */
static void test_fmt(void **state)
{
	(void)state;
	const double fixed[] = {0.0,          -0.0,         1.0,
	                        0.5,          0.0078125,    0.9999995,
	                        0.9999994,    1e-4,         9.99999e-5,
	                        1234567890.5, 1234567891.5, 9999999999.5,
	                        99999.999995, 1e10,         123.456,
	                        -42.0,        0.1,          0.30000000000000004,
	                        2.5e-7,       1e9,          999999999.9999999,
	                        NAN,          INFINITY,     -INFINITY,
	                        5e-324};
	char a[CSV_FMT_MAX], b[CSV_FMT_MAX];
	for (size_t i = 0; i < 400000 + sizeof fixed / sizeof fixed[0]; i++) {
		double v;
		if (i < sizeof fixed / sizeof fixed[0]) {
			v = fixed[i];
		} else {
			uint64_t r = next_u64();
			switch (i % 4) {
			case 0: /* a score in [0,1] */
				v = (double)(r >> 11) / 9007199254740992.0;
				break;
			case 1: /* short decimals, as files carry them */
				v = (double)(int64_t)(r % 2000000001ull - 1000000000) /
				    (double)(1ull << (r >> 60)) / 1000.0;
				break;
			case 2: /* any magnitude from 1e-6 to 1e12 */
				v = (double)(r >> 11) / 9007199254740992.0 *
				    pow(10.0, (double)(int)((r >> 3) % 19) - 6.0);
				break;
			default: { /* any finite double */
				memcpy(&v, &r, sizeof v);
				if (!isfinite(v))
					v = 1.0;
			}
			}
		}
		size_t n = csv_fmt_g10(v, a);
		snprintf(b, sizeof b, "%.10g", v);
		if (strcmp(a, b) != 0 || n != strlen(b))
			fail_msg("g10(%a): got '%s' want '%s'", v, a, b);
		n = csv_fmt_f6(v, a);
		snprintf(b, sizeof b, "%.6f", v);
		if (strcmp(a, b) != 0 || n != strlen(b))
			fail_msg("f6(%a): got '%s' want '%s'", v, a, b);
	}
}

/* A big file (several read chunks, lines across chunk edges): every plain
 * decimal reads as strtod reads it, and every timestamp text comes back. */
static void test_big_file(void **state)
{
	(void)state;
	snprintf(path, sizeof path, "/tmp/opsbot-csv-test-%d.csv", (int)getpid());
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	enum { N = 300000 };
	char(*cell)[40] = calloc(N, sizeof *cell);
	assert_non_null(cell);
	fputs("timestamp,value\n", fp);
	for (size_t i = 0; i < N; i++) {
		uint64_t r = next_u64();
		int form = (int)(r % 5);
		r >>= 3;
		if (form == 0)
			snprintf(cell[i], sizeof cell[i], "%llu", (unsigned long long)(r % 100000));
		else if (form == 1)
			snprintf(cell[i], sizeof cell[i], "-%llu.%03llu",
			         (unsigned long long)(r % 1000),
			         (unsigned long long)(r / 1000 % 1000));
		else if (form == 2)
			snprintf(cell[i], sizeof cell[i], "%.17g",
			         (double)(r >> 11) / 9007199254740992.0 * 1e4);
		else if (form == 3)
			snprintf(cell[i], sizeof cell[i], "0.%019llu",
			         (unsigned long long)r % 10000000000000000000ull);
		else
			snprintf(cell[i], sizeof cell[i], "%.3e", (double)(r % 100000) / 7.0);
		int day = (int)(i / 1440), mi = (int)(i % 1440);
		fprintf(fp, "2014-%02d-%02d %02d:%02d:%02d,%s\n", 1 + day / 28 % 12, 1 + day % 28,
		        mi / 60, mi % 60, (int)(i % 60), cell[i]);
	}
	fclose(fp);
	struct csv_series s;
	char err[256];
	assert_int_equal(csv_read_series(path, &s, err, sizeof err), 0);
	assert_int_equal(s.n, N);
	for (size_t i = 0; i < N; i++) {
		double want = strtod(cell[i], NULL);
		if (memcmp(&s.v[i], &want, sizeof want) != 0)
			fail_msg("row %zu '%s': got %a want %a", i, cell[i], s.v[i], want);
		char ts[40];
		int day = (int)(i / 1440), mi = (int)(i % 1440);
		snprintf(ts, sizeof ts, "2014-%02d-%02d %02d:%02d:%02d", 1 + day / 28 % 12,
		         1 + day % 28, mi / 60, mi % 60, (int)(i % 60));
		int64_t ms;
		assert_int_equal(csv_parse_time(ts, &ms), 0);
		if (strcmp(s.ts_text[i], ts) != 0 || s.ts_ms[i] != ms)
			fail_msg("row %zu: got '%s' %lld want '%s' %lld", i, s.ts_text[i],
			         (long long)s.ts_ms[i], ts, (long long)ms);
	}
	csv_series_free(&s);
	free(cell);
	/* A line over the limit, and a NUL byte, are errors that say so. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("timestamp,value\n2014-04-01 00:00:00,", fp);
	for (size_t i = 0; i < CSV_MAX_LINE; i++)
		fputc('1', fp);
	fputs("\n", fp);
	fclose(fp);
	if (csv_read_series(path, &s, err, sizeof err) == 0 || !strstr(err, ":2: line too long"))
		fail_msg("long line: got '%s'", err);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fwrite("timestamp,value\n2014-04-01 00:00:00,1\0002\n", 1, 41, fp);
	fclose(fp);
	if (csv_read_series(path, &s, err, sizeof err) == 0 || !strstr(err, ":2: NUL byte"))
		fail_msg("NUL byte: got '%s'", err);
	/* The last line needs no newline; a day past the month's end rolls
	 * over as before. */
	write_file("timestamp,value\n2014-02-30 00:00:01,5");
	assert_int_equal(csv_read_series(path, &s, err, sizeof err), 0);
	int64_t ms;
	assert_int_equal(csv_parse_time("2014-03-02 00:00:01", &ms), 0);
	if (s.n != 1 || s.v[0] != 5.0 || s.ts_ms[0] != ms)
		fail_msg("no final newline: got n=%zu v=%g ms=%lld", s.n, s.n ? s.v[0] : 0.0,
		         (long long)(s.n ? s.ts_ms[0] : 0));
	csv_series_free(&s);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time),  cmocka_unit_test(test_series),
	    cmocka_unit_test(test_table), cmocka_unit_test(test_order),
	    cmocka_unit_test(test_fmt),   cmocka_unit_test(test_big_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
