/* discord_upload_test.c: the multipart body of a Discord file upload, read back
 * with fake-discord's strict reader; header injection and boundary choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bot/discord_upload.h"
#include "json.h"
#include "mem.h"
#include "tests/fakes/discord/dform.h"

static void test_round_trip(void **state)
{
	(void)state;
	static const char data[] = "%PDF-1.7\r\n\0\x01\xff--not-ours\r\n%%EOF\n";
	size_t len = sizeof data - 1;
	char boundary[64];
	discord_upload_boundary(data, len, boundary, sizeof boundary);
	cJSON *payload = json_new_object();
	json_add_str(payload, "content", "Summary of incident 3 \"quoted\"\nline two");
	struct buf b = {0};
	assert_int_equal(discord_multipart(&b, boundary, payload, "incident-3.pdf",
	                                   "application/pdf", data, len),
	                 0);
	char ct[128], err[160];
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);
	struct dform f;
	if (dform_parse(ct, b.data, b.len, &f, err, sizeof err) < 0)
		fail_msg("parse: %s", err);
	assert_int_equal(f.nparts, 2);
	const struct dform_part *pj = dform_get(&f, "payload_json");
	assert_non_null(pj);
	assert_string_equal(pj->ctype, "application/json");
	cJSON *back = NULL;
	assert_int_equal(json_parse_object(pj->data, pj->len, &back, err, sizeof err), 0);
	assert_string_equal(json_str(back, "content"), json_str(payload, "content"));
	cJSON_Delete(back);
	const struct dform_part *fp = dform_get(&f, "files[0]");
	assert_non_null(fp);
	assert_int_equal(dform_file_index(fp->name), 0);
	assert_string_equal(fp->filename, "incident-3.pdf");
	assert_string_equal(fp->ctype, "application/pdf");
	assert_int_equal(fp->len, len);
	assert_memory_equal(fp->data, data, len);
	cJSON_Delete(payload);
	buf_free(&b);
}

static void test_refuses_header_injection(void **state)
{
	(void)state;
	cJSON *payload = json_new_object();
	struct buf b = {0};
	assert_int_equal(
	    discord_multipart(&b, "bnd", payload, "a\".pdf", "application/pdf", "x", 1), -1);
	assert_int_equal(
	    discord_multipart(&b, "bnd", payload, "a.pdf\r\nX-Evil: 1", "application/pdf", "x", 1),
	    -1);
	assert_int_equal(discord_multipart(&b, "bnd", payload, "a.pdf", "text/plain\r\n", "x", 1),
	                 -1);
	cJSON_Delete(payload);
	buf_free(&b);
}

static void test_boundary_not_in_data(void **state)
{
	(void)state;
	char first[64], again[64];
	srand(7);
	discord_upload_boundary("", 0, first, sizeof first);
	/* data that holds exactly the boundary the same random start would pick */
	char data[256];
	snprintf(data, sizeof data, "xx%syy", first);
	srand(7);
	discord_upload_boundary(data, strlen(data), again, sizeof again);
	assert_string_not_equal(first, again);
	assert_null(memmem(data, strlen(data), again, strlen(again)));
	assert_true(strlen(again) <= 70); /* RFC 2046 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refuses_header_injection),
	    cmocka_unit_test(test_boundary_not_in_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
