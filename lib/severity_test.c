/* severity_test.c: the severity table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "severity.h"

static void test_canon(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"critical", "critical"}, {"HIGH", "high"}, {"Medium", "medium"}, {"low", "low"},
	    {"info", "info"},         {"sev1", NULL},   {"", NULL},           {NULL, NULL}};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = severity_canon(cases[i].in);
		if ((got == NULL) != (cases[i].want == NULL) || (got && strcmp(got, cases[i].want)))
			fail_msg("severity_canon(%s): got %s, want %s",
			         cases[i].in ? cases[i].in : "NULL", got ? got : "NULL",
			         cases[i].want ? cases[i].want : "NULL");
	}
}

static void test_rank_and_list(void **state)
{
	char list[128] = "";
	(void)state;
	assert_int_equal(severity_rank("critical"), 0);
	assert_int_equal(severity_rank("info"), 4);
	assert_int_equal(severity_rank("High"), -1);
	assert_int_equal(severity_rank(NULL), -1);
	/* the text for people names exactly the table, in order */
	for (int i = 0; severity_names[i]; i++) {
		if (i)
			strncat(list, ", ", sizeof list - strlen(list) - 1);
		strncat(list, severity_names[i], sizeof list - strlen(list) - 1);
	}
	assert_string_equal(severity_list(), list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_canon),
	                                   cmocka_unit_test(test_rank_and_list)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
