/* utf8_test.c: the entrance rule -- NUL refused, invalid bytes repaired with
 * U+FFFD (one per maximal subpart), cuts only between characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define R UTF8_REPLACEMENT

static void expect_clean(const char *in, size_t len, const char *want)
{
	char *out = NULL, err[128];
	size_t n = 0;
	assert_int_equal(utf8_clean(in, len, &out, &n, err, sizeof err), 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	assert_true(utf8_valid(out, n));
	free(out);
}

static void test_valid(void **state)
{
	(void)state;
	assert_true(utf8_valid("plain", 5));
	assert_true(utf8_valid("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\xA5", 14));
	assert_false(utf8_valid("a\0b", 3));
	assert_false(utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
	assert_false(utf8_valid("\xED\xA0\x80", 3));     /* surrogate D800 */
	assert_false(utf8_valid("\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(utf8_valid("\xE2\x82", 2));         /* truncated */
	assert_false(utf8_valid("\x80", 1));             /* stray continuation */
}

static void test_repair(void **state)
{
	(void)state;
	expect_clean("ok", 2, "ok");
	expect_clean("a\x80z", 3, "a" R "z");
	expect_clean("a\xE2\x82z", 4, "a" R "z"); /* one broken char -> one U+FFFD */
	expect_clean("\xC0\xAF", 2, R R);
	expect_clean("\xED\xA0\x80", 3, R R R);
	expect_clean("\xF0\x9F\x94", 3, R); /* truncated emoji at the end */
	expect_clean("\xFF\xFE", 2, R R);
}

static void test_nul_refused(void **state)
{
	(void)state;
	char *out = NULL, err[128] = "";
	size_t n;
	assert_int_equal(utf8_clean("ab\0cd", 5, &out, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "NUL"));
	assert_null(out);
	const char *j = "{\"title\":\"a\\u0000b\"}";
	assert_int_equal(utf8_clean_json(j, strlen(j), &out, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "\\u0000"));
	/* an escaped backslash followed by u0000 is text, not a NUL */
	j = "{\"t\":\"a\\\\u0000\"}";
	assert_int_equal(utf8_clean_json(j, strlen(j), &out, &n, err, sizeof err), 0);
	free(out);
}

static void test_cut_on_boundary(void **state)
{
	(void)state;
	const char *s = "\xC3\xA9\xC3\xA9\xC3\xA9"; /* ééé, 6 bytes */
	assert_int_equal(utf8_prefix(s, 6, 5), 4);
	assert_int_equal(utf8_prefix(s, 6, 6), 6);
	assert_int_equal(utf8_prefix(s, 6, 1), 0);
	char dst[8];
	/* 8 bytes: 4 for text + "…" (3) + NUL */
	assert_int_equal(utf8_copy(dst, sizeof dst, "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"), 1);
	assert_string_equal(dst, "\xE2\x82\xAC\xE2\x80\xA6");
	assert_true(utf8_valid(dst, strlen(dst)));
	assert_int_equal(utf8_copy(dst, sizeof dst, "short"), 0);
	assert_string_equal(dst, "short");
	assert_int_equal(utf8_copy(dst, sizeof dst, "a\x80"), 0);
	assert_string_equal(dst, "a" R);
}

static void test_repair_inplace(void **state)
{
	(void)state;
	char s[16] = "a\x80z";
	assert_int_equal(utf8_repair_inplace(s, sizeof s), 1);
	assert_string_equal(s, "a" R "z");
	char t[4] = "a\x80z";
	assert_int_equal(utf8_repair_inplace(t, sizeof t), 1);
	assert_string_equal(t, "a?z");
}

static void test_json(void **state)
{
	(void)state;
	cJSON *o = NULL;
	char err[128];
	const char *j = "{\"t\":\"a\xff\"}";
	assert_int_equal(utf8_parse_json(j, strlen(j), &o, err, sizeof err), 0);
	assert_string_equal(cJSON_GetObjectItem(o, "t")->valuestring, "a" R);
	cJSON_Delete(o);
	j = "{\"t\":\"\\u0000\"}";
	assert_int_equal(utf8_parse_json(j, strlen(j), &o, err, sizeof err), -1);
	/* a tree built from decoded text */
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "title", "x\xc3");
	cJSON_AddItemToObject(o, "labels", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItem(o, "labels"), "k\x80", "ok");
	assert_int_equal(utf8_repair_json(o), 2);
	assert_string_equal(cJSON_GetObjectItem(o, "title")->valuestring, "x" R);
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "labels"), "k" R));
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),          cmocka_unit_test(test_repair),
	    cmocka_unit_test(test_nul_refused),    cmocka_unit_test(test_cut_on_boundary),
	    cmocka_unit_test(test_repair_inplace), cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
