/* report_test.c: facts from an incident, missing data said plainly, PDFs that render. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "json.h"
#include "mem.h"
#include "report.h"

static cJSON *load(const char *name)
{
	char path[256], err[200];
	snprintf(path, sizeof(path), "tests/data/report/%s", name);
	struct buf b = {0};
	assert_int_equal(buf_read_file(&b, path, err, sizeof(err)), 0);
	cJSON *j = NULL;
	assert_int_equal(json_parse_object(b.data, b.len, &j, err, sizeof(err)), 0);
	buf_free(&b);
	return j;
}

static void test_duration(void **state)
{
	(void)state;
	char b[32];
	report_duration(850, b, sizeof(b));
	assert_string_equal(b, "850 ms");
	report_duration(20000, b, sizeof(b));
	assert_string_equal(b, "20.0 s");
	report_duration(660000, b, sizeof(b));
	assert_string_equal(b, "11 min 0 s");
	report_duration(3 * 3600000 + 120000, b, sizeof(b));
	assert_string_equal(b, "3 h 2 min");
	report_duration(-5, b, sizeof(b));
	assert_string_equal(b, "0 ms");
}

static void test_facts_resolved(void **state)
{
	(void)state;
	cJSON *in = load("incident.json");
	cJSON *f = report_facts(in, 1764755100000LL);
	assert_string_equal(json_str(f, "state"), "resolved");
	assert_false(json_bool(f, "open", 1));
	assert_string_equal(json_str(f, "time_to_detect"), "20.0 s");
	assert_string_equal(json_str(f, "time_to_resolve"), "11 min 0 s");
	assert_string_equal(json_str(f, "cause"), "payment");
	assert_string_equal(json_str(f, "cause_confidence"), "71%");
	assert_string_equal(json_str(f, "approved_by"), "U0BOB (Bob Müller)");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(f, "actions")), 2);
	assert_non_null(strstr(json_str(f, "verified"), "verified: checkout p99"));
	assert_non_null(strstr(json_str(f, "llm"), "2841 prompt"));
	cJSON_Delete(f);
	cJSON_Delete(in);
}

static void test_facts_missing(void **state)
{
	(void)state;
	/* nothing but an id: every field says what is missing, nothing crashes */
	cJSON *in = NULL;
	char err[100];
	assert_int_equal(json_parse_object("{\"incident\":{\"id\":7,\"state\":\"planning\"}}", 41,
	                                   &in, err, sizeof(err)),
	                 0);
	cJSON *f = report_facts(in, 1);
	assert_true(json_bool(f, "open", 0));
	assert_string_equal(json_str(f, "actions_none"), "no action has run yet");
	assert_string_equal(json_str(f, "verified"), "not verified yet");
	assert_string_equal(json_str(f, "time_to_resolve"), "");
	char path[] = "/tmp/report_test_XXXXXX.pdf";
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	close(fd);
	int pages = 0;
	assert_int_equal(report_incident_pdf(in, DOC_LETTER, path, 1, &pages, err, sizeof(err)), 0);
	assert_true(pages >= 1);
	unlink(path);
	cJSON_Delete(f);
	cJSON_Delete(in);
	/* hostile shapes: wrong types everywhere */
	const char *bad =
	    "{\"incident\":{\"id\":\"x\",\"results\":[1],\"title\":5},\"timeline\":{},"
	    "\"metrics\":[{\"points\":[[\"a\",1],[1],null,[2,\"b\"]]}]}";
	assert_int_equal(json_parse_object(bad, strlen(bad), &in, err, sizeof(err)), 0);
	fd = mkstemps(path, 4);
	close(fd);
	assert_int_equal(report_incident_pdf(in, DOC_A4, path, 1, &pages, err, sizeof(err)), 0);
	unlink(path);
	cJSON_Delete(in);
	/* a 200 kB title and a 1 MB summary are trimmed: a few pages, not hundreds */
	char *big = xmalloc(1 << 20);
	memset(big, 'w', (1 << 20) - 1);
	for (size_t i = 50; i < (1 << 20) - 1; i += 50)
		big[i] = ' ';
	big[(1 << 20) - 1] = '\0';
	in = json_new_object();
	cJSON *inc = json_new_object();
	json_add_int(inc, "id", 9);
	big[200000] = '\0';
	json_add_str(inc, "title", big);
	big[200000] = 'w';
	json_add_str(inc, "summary", big);
	json_add(in, "incident", inc);
	cJSON *tl = json_new_array(), *e = json_new_object(), *d = json_new_object(),
	      *r = json_new_object();
	json_add_str(e, "name", "job.finished");
	json_add_str(d, "kind", "verify");
	json_add_str(r, "summary", big);
	json_add(d, "result", r);
	json_add(e, "data", d);
	cJSON_AddItemToArray(tl, e);
	json_add(in, "timeline", tl);
	fd = mkstemps(path, 4);
	close(fd);
	assert_int_equal(report_incident_pdf(in, DOC_A4, path, 1, &pages, err, sizeof(err)), 0);
	assert_true(pages <= 8);
	unlink(path);
	cJSON_Delete(in);
	free(big);
}

static void test_pdf_pages(void **state)
{
	(void)state;
	cJSON *in = load("incident.json");
	char path[] = "/tmp/report_test_XXXXXX.pdf", err[200];
	int fd = mkstemps(path, 4);
	close(fd);
	int a4 = 0, letter = 0;
	assert_int_equal(
	    report_incident_pdf(in, DOC_A4, path, 1764755100000LL, &a4, err, sizeof(err)), 0);
	assert_int_equal(
	    report_incident_pdf(in, DOC_LETTER, path, 1764755100000LL, &letter, err, sizeof(err)),
	    0);
	assert_true(a4 >= 2);
	assert_true(letter >= 2);
	/* 400 more events: more pages, every one numbered by the two-pass layout */
	cJSON *tl = cJSON_GetObjectItem(in, "timeline");
	for (int i = 0; i < 400; i++) {
		cJSON *e = json_new_object();
		json_add_int(e, "seq", 100 + i);
		json_add_str(e, "name", "command.recorded");
		json_add_int(e, "at_ms", 1764754200000LL + i * 1000);
		cJSON *d = json_new_object();
		json_add_str(d, "user", "U1");
		json_add_str(d, "surface", "slack");
		json_add_str(d, "action", "note");
		json_add_str(d, "note",
		             "a note that is long enough to wrap once or twice in the "
		             "detail column of the timeline table, with ünïcödé");
		json_add(e, "data", d);
		cJSON_AddItemToArray(tl, e);
	}
	int more = 0;
	assert_int_equal(
	    report_incident_pdf(in, DOC_A4, path, 1764755100000LL, &more, err, sizeof(err)), 0);
	assert_true(more > a4 + 5);
	unlink(path);
	cJSON_Delete(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_facts_resolved),
	    cmocka_unit_test(test_facts_missing),
	    cmocka_unit_test(test_pdf_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
