/* json_test.c: strict parsing and field-naming getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static void test_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		const char *err;
	} cases[] = {
	    {"{\"a\":1}", 0, ""},
	    {"{\"a\":1}  \n", 0, ""},
	    {"{\"a\":1} x", -1, "trailing bytes"},
	    {"{\"a\":", -1, "invalid JSON"},
	    {"[1,2]", -1, "expected a JSON object"},
	    {"", -1, "invalid JSON"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = NULL;
		char err[128] = "";
		int rc = json_parse_object(cases[i].in, strlen(cases[i].in), &j, err, sizeof(err));
		if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
			fail_msg("case %zu: got rc=%d err=%s want rc=%d err~%s", i, rc, err,
			         cases[i].rc, cases[i].err);
		cJSON_Delete(j);
	}
}

static void test_getters_name_field(void **state)
{
	(void)state;
	const char *text =
	    "{\"s\":\"x\",\"i\":3,\"f\":1.5,\"b\":true,\"o\":{},\"a\":[],\"n\":null}";
	cJSON *j;
	char err[128];
	assert_int_equal(json_parse_object(text, strlen(text), &j, err, sizeof(err)), 0);
	const char *s;
	int64_t i;
	double d;
	int b;
	cJSON *o;
	assert_int_equal(json_get_str(j, "s", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "x");
	assert_int_equal(json_get_int(j, "i", &i, err, sizeof(err)), 0);
	assert_int_equal(i, 3);
	assert_int_equal(json_get_int(j, "f", &i, err, sizeof(err)), -1);
	assert_string_equal(err, "field 'f' must be a whole number");
	assert_int_equal(json_get_num(j, "f", &d, err, sizeof(err)), 0);
	assert_int_equal(json_get_bool(j, "b", &b, err, sizeof(err)), 0);
	assert_int_equal(json_get_str(j, "i", &s, err, sizeof(err)), -1);
	assert_string_equal(err, "field 'i' must be a string");
	assert_int_equal(json_get_obj(j, "missing", &o, err, sizeof(err)), -1);
	assert_string_equal(err, "field 'missing' is missing");
	assert_int_equal(json_get_str(j, "n", &s, err, sizeof(err)), -1);
	assert_string_equal(err, "field 'n' is missing");
	assert_int_equal(json_get_arr(j, "o", &o, err, sizeof(err)), -1);
	assert_string_equal(err, "field 'o' must be an array");
	assert_int_equal(json_int(j, "s", 42), 42);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_getters_name_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
