/* json_test.c: strict parsing and field-naming getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* A random value for the print test: every type, awkward numbers and strings. */
static cJSON *random_value(unsigned *seed, int depth)
{
	static const double nums[] = {0,
	                              -0.0,
	                              1,
	                              -1,
	                              0.1,
	                              1.5,
	                              -2.25,
	                              1e15,
	                              1e15 - 1,
	                              -1e15 + 1,
	                              1e16,
	                              123456789012345678.0,
	                              2147483647,
	                              2147483648.0,
	                              -2147483648.0,
	                              1733212345678,
	                              3.141592653589793,
	                              1e-7,
	                              -1e-300,
	                              1e300,
	                              0.30000000000000004,
	                              NAN,
	                              INFINITY};
	static const char *const strs[] = {"",
	                                   "plain",
	                                   "quote\" back\\slash",
	                                   "tab\tnl\ncr\r",
	                                   "\x01\x1f ctl",
	                                   "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93",
	                                   "\x7f del",
	                                   "b\bf\f"};
	int kind = depth > 3 ? (int)(rand_r(seed) % 5) : (int)(rand_r(seed) % 7);
	switch (kind) {
	case 0:
		return cJSON_CreateNull();
	case 1:
		return cJSON_CreateBool(rand_r(seed) & 1);
	case 2: {
		unsigned r = (unsigned)rand_r(seed);
		double d = r % 3 == 0 ? nums[r % (sizeof(nums) / sizeof(nums[0]))]
		           : r % 3 == 1
		               ? (double)((int64_t)rand_r(seed) * rand_r(seed) - (1LL << 40))
		               : (double)rand_r(seed) / (double)(rand_r(seed) + 1);
		return cJSON_CreateNumber(d);
	}
	case 3:
	case 4:
		return cJSON_CreateString(strs[rand_r(seed) % (sizeof(strs) / sizeof(strs[0]))]);
	case 5: {
		cJSON *a = cJSON_CreateArray();
		for (int i = (int)(rand_r(seed) % 4); i > 0; i--)
			cJSON_AddItemToArray(a, random_value(seed, depth + 1));
		return a;
	}
	default: {
		cJSON *o = cJSON_CreateObject();
		for (int i = (int)(rand_r(seed) % 4); i > 0; i--) {
			char key[16];
			snprintf(key, sizeof(key), i == 1 ? "k\"%d" : "k%d", i);
			cJSON_AddItemToObject(o, key, random_value(seed, depth + 1));
		}
		return o;
	}
	}
}

/* json_print writes exactly what cJSON_PrintUnformatted writes, only faster. */
static void test_print_matches_cjson(void **state)
{
	(void)state;
	unsigned seed = 12345;
	for (int i = 0; i < 2000; i++) {
		cJSON *v = random_value(&seed, 0);
		char *want = cJSON_PrintUnformatted(v);
		char *got = json_print(v);
		assert_string_equal(got, want);
		free(want);
		free(got);
		cJSON_Delete(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_getters_name_field),
	    cmocka_unit_test(test_print_matches_cjson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
