/* backoff_test.c: the delay sequence, its cap and reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void test_sequence(void **state)
{
	(void)state;
	static const struct {
		int64_t min, max;
		int64_t want[6];
	} cases[] = {
	    {100, 1000, {100, 200, 400, 800, 1000, 1000}},
	    {1, 4, {1, 2, 4, 4, 4, 4}},
	    {0, 0, {1, 1, 1, 1, 1, 1}},                 /* floor of 1 ms */
	    {500, 100, {500, 500, 500, 500, 500, 500}}, /* cap below floor: floor wins */
	    {INT64_MAX / 2,
	     INT64_MAX,
	     {INT64_MAX / 2, INT64_MAX - 1, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct backoff b;
		backoff_init(&b, cases[i].min, cases[i].max);
		for (int k = 0; k < 6; k++) {
			int64_t got = backoff_next(&b);
			if (got != cases[i].want[k])
				fail_msg("case %zu step %d: got %lld want %lld", i, k,
				         (long long)got, (long long)cases[i].want[k]);
		}
	}
}

static void test_reset(void **state)
{
	(void)state;
	struct backoff b;
	backoff_init(&b, 10, 1000);
	backoff_next(&b);
	backoff_next(&b);
	backoff_reset(&b);
	int64_t got = backoff_next(&b);
	if (got != 10)
		fail_msg("after reset: got %lld want 10", (long long)got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequence),
	    cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
