/*
 * form_test.c: form-urlencoded decoding, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"
#include "json.h"

static void test_form_table(void **s)
{
	static const struct {
		const char *in, *key, *want; /* want NULL: key absent */
	} cases[] = {
	    {"a=1&b=2", "b", "2"},
	    {"text=declare+checkout+p99", "text", "declare checkout p99"},
	    {"command=%2Fincident", "command", "/incident"},
	    {"x=%E2%9C%93", "x", "\xe2\x9c\x93"},
	    {"x=%zz%4", "x", "%zz%4"},
	    {"a=1&a=2", "a", "2"},
	    {"flag&b=1", "flag", ""},
	    {"=v&b=1", "", "v"},
	    {"a=1&&b=2", "b", "2"},
	    {"", "a", NULL},
	    {"payload=%7B%22type%22%3A%22block_actions%22%7D", "payload",
	     "{\"type\":\"block_actions\"}"},
	};
	(void)s;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *o = form_parse(cases[i].in, strlen(cases[i].in));
		const char *got = json_str(o, cases[i].key);
		if (!cases[i].want ? got != NULL : !got || strcmp(got, cases[i].want) != 0)
			fail_msg("'%s' [%s]: got %s, want %s", cases[i].in, cases[i].key,
			         got ? got : "(absent)",
			         cases[i].want ? cases[i].want : "(absent)");
		cJSON_Delete(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_form_table)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
