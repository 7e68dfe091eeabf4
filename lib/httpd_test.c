/* httpd_test.c: httpd_query_get, the query-string reader the stand-ins use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "httpd.h"

static void test_query_get(void **state)
{
	(void)state;
	static const struct {
		const char *query, *key;
		size_t outlen;
		int rc;
		const char *want; /* out after the call ("-" untouched) */
	} cases[] = {
	    {"v=10&encoding=json", "v", 16, 0, "10"},
	    {"v=10&encoding=json", "encoding", 16, 0, "json"},
	    {"limit=5&before=123", "before", 16, 0, "123"},
	    {"limit=5", "lim", 16, -1, "-"},       /* a prefix of a key is not the key */
	    {"xlimit=5", "limit", 16, -1, "-"},    /* nor is a key that ends with it */
	    {"a=1&&limit=7", "limit", 16, 0, "7"}, /* empty pairs are skipped */
	    {"limit=", "limit", 16, 0, ""},
	    {"limit", "limit", 16, -1, "-"},
	    {"around=123456789", "around", 4, 0, "123"}, /* cut to outlen-1 */
	    {"", "v", 16, -1, "-"},
	    {NULL, "v", 16, -1, "-"},
	    {"v=1&v=2", "v", 16, 0, "1"}, /* the first one counts */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[16] = "-";
		int rc = httpd_query_get(cases[i].query, cases[i].key, out, cases[i].outlen);
		if (rc != cases[i].rc || strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu (%s, %s): got rc=%d out=\"%s\", want rc=%d out=\"%s\"",
			         i, cases[i].query ? cases[i].query : "NULL", cases[i].key, rc, out,
			         cases[i].rc, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_get),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
